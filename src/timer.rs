//! ngx.timer.at / ngx.timer.every: callbacks run in their own entry thread
//! on a fake request, with `premature` set when the worker shuts down.
use core::ffi::c_void;

use nginx_sys::{ngx_event_t, ngx_msec_t, NGX_LOG_ALERT};

use crate::conf::MainConf;
use crate::http::RequestCtx;
use crate::lua::ctx::LuaCtx;
use crate::lua::phase::Phase;
use crate::lua::sched::{self, Outcome};
use crate::nginx::conf::HttpConfs;
use crate::nginx::fake::{FakeConnection, Origin};
use crate::nginx::global::Worker;
use crate::nginx::log;
use crate::nginx::process;
use crate::nginx::timer::TimerEvent;

pub use crate::lua::vm::{TIMERS, TIMER_RUN};

/// A pending timer: boxed, so its event stays in place while armed; the
/// nginx event's data points back at the box.
struct Timer {
    ev: TimerEvent,
    id: f64,
    every: ngx_msec_t,
    confs: HttpConfs,
    origin: Origin,
    premature: bool,
}

#[derive(Default)]
struct State {
    pending: Vec<*mut Timer>,
    running: usize,
    /// An idle fake connection: nginx "closes" idle connections when it
    /// starts a graceful shutdown, which is our cue to run pending timers
    /// prematurely.
    watcher: Option<FakeConnection>,
    /// Records of timers that ran, for the next ones (a malloc/free pair
    /// less per timer).
    #[allow(clippy::vec_box)]
    spare: Vec<Box<Timer>>,
}

const SPARE_TIMERS: usize = 64;

static STATE: Worker<State> = Worker::new();

/// Runs `f` on the worker's timer state (not re-entered: `f` never runs
/// Lua code or nginx handlers).
fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> R {
    STATE.with(f)
}

/// The worker exits: its timer bookkeeping goes (the timers themselves
/// were run prematurely or dropped with their events).
pub fn on_exit() {
    drop(STATE.take());
}

pub fn pending_count() -> usize {
    with_state(|st| st.pending.len())
}

pub fn running_count() -> usize {
    with_state(|st| st.running)
}

/// Creates a timer for callback `id`, running under `confs`. Errors are
/// upstream's texts.
pub fn add(
    id: f64,
    delay: ngx_msec_t,
    every: ngx_msec_t,
    confs: HttpConfs,
    origin: &Origin,
) -> Result<(), &'static str> {
    // A worker that is shutting down still takes zero-delay timers (a
    // premature callback's clean-up work), as upstream: they fire normally
    // and, not being cancelable, keep the worker until they have run.
    let exiting = process::exiting();
    if exiting && delay > 0 {
        return Err("process exiting");
    }
    let mcf = MainConf::of_confs(confs);
    with_state(|st| {
        if st.pending.len() >= mcf.max_pending_timers {
            return Err("too many pending timers");
        }
        // Once exiting, nginx has closed its idle connections: a new
        // watcher would never be told to abort anything.
        if st.watcher.is_none() && !exiting {
            crate::debug!(log::Log::cycle(), "lua creating fake watcher connection");
            let c = FakeConnection::new().ok_or("no memory")?;
            c.watch_shutdown(abort_pending);
            st.watcher = Some(c);
        }
        let timer = Timer {
            ev: TimerEvent::new(),
            id,
            every,
            confs,
            origin: *origin,
            premature: false,
        };
        let t = Box::into_raw(match st.spare.pop() {
            // The old record's event fired or was cancelled: unarmed.
            Some(mut b) => {
                *b = timer;
                b
            }
            None => Box::new(timer),
        });
        // SAFETY: the event lives in the leaked box, which only `fire` or
        // `abort_pending` take back (the latter cancels the timer first);
        // its data is that box; the cycle's log outlives the worker's timers.
        unsafe { (*t).ev.arm(delay, fire, t as *mut c_void, log::cycle_log()) };
        st.pending.push(t);
        Ok(())
    })
}

unsafe extern "C" fn fire(ev: *mut ngx_event_t) {
    crate::nginx::panic::guard((), || {
        // SAFETY: the event's data is the Timer box leaked in add(), still
        // pending (abort_pending takes the others back and cancels them).
        let t = unsafe { Box::from_raw(TimerEvent::data_of(ev) as *mut Timer) };
        with_state(|st| st.pending.retain(|&p| !core::ptr::eq(p, &*t)));
        run(t);
    })
}

fn run(t: Box<Timer>) {
    run_callback(&t);
    with_state(|st| {
        if st.spare.len() < SPARE_TIMERS {
            st.spare.push(t);
        }
    });
}

fn run_callback(t: &Timer) {
    crate::debug!(log::Log::cycle(), "lua ngx.timer expired");
    let mcf = MainConf::of_confs(t.confs);
    let Some(vm) = mcf.vm.as_ref() else {
        return;
    };
    let main = vm.main_state();
    if t.every > 0 && !t.premature && !process::exiting() {
        if let Err(e) = add(t.id, t.every, t.every, t.confs, &t.origin) {
            log::cycle(
                NGX_LOG_ALERT,
                format!(
                    "failed to create the next timer of delay {} ms: {e}",
                    t.every
                )
                .as_bytes(),
            );
        }
    }
    if with_state(|st| st.running) >= mcf.max_running_timers {
        let (source, line) = main
            .registry_function_origin(TIMERS, t.id)
            .unwrap_or_else(|| (b"(unknown)".to_vec(), -1));
        log::cycle(
            NGX_LOG_ALERT,
            format!(
                "lua failed to run timer with function defined at {}:{}: {} lua_max_running_timers are not enough",
                String::from_utf8_lossy(&source),
                line,
                mcf.max_running_timers
            )
            .as_bytes(),
        );
        main.registry_table_unset(TIMERS, t.id);
        return;
    }
    let Some(c) = FakeConnection::new() else {
        main.registry_table_unset(TIMERS, t.id);
        return;
    };
    c.set_origin(&t.origin);
    let ctx = match c.request(t.confs) {
        // SAFETY: the fake request is alive until its connection closes,
        // which only after_resume does once the callback's threads are done.
        Some(r) => unsafe { RequestCtx::get_or_create(r.as_ptr()) },
        None => None,
    };
    let Some(ctx) = ctx else {
        c.close();
        main.registry_table_unset(TIMERS, t.id);
        return;
    };
    with_state(|st| st.running += 1);
    let (id, premature, every) = (t.id, t.premature, t.every > 0);
    let run_key = vm.slot_key(TIMER_RUN);
    // SAFETY: ctx is the fake request's live context.
    let outcome = unsafe {
        sched::start_with(ctx, Phase::Timer, after_resume, |co| {
            co.push_registry(run_key);
            co.push_number(id);
            co.push_bool(premature);
            co.push_bool(every);
            Ok(3)
        })
    };
    after_resume(ctx, outcome);
}

/// Ends the timer's fake request once its threads are done.
pub fn after_resume(ctx: &mut LuaCtx, outcome: Outcome) {
    if outcome == Outcome::Yielded {
        return;
    }
    with_state(|st| st.running = st.running.saturating_sub(1));
    // SAFETY: a timer's context belongs to the fake request run() made.
    // Closing the connection destroys the pool, whose cleanup frees ctx:
    // nothing touches ctx afterwards.
    unsafe { ctx.req().fake_connection() }.close();
}

unsafe extern "C" fn abort_pending(ev: *mut ngx_event_t) {
    crate::nginx::panic::guard((), || {
        // SAFETY: the watcher's read event (watch_shutdown).
        let c = unsafe { FakeConnection::of_event(ev) };
        crate::debug!(log::Log::cycle(), "lua abort pending timers");
        if !c.closing() {
            return;
        }
        let pending = with_state(|st| {
            // The state's handle is this connection, closed below.
            st.watcher = None;
            core::mem::take(&mut st.pending)
        });
        c.unwatch();
        c.close();
        crate::debug!(
            log::Log::cycle(),
            "lua found {} pending timers to be aborted prematurely",
            pending.len()
        );
        for p in pending {
            // SAFETY: a pending timer's box (see add); dropping its event
            // below (run consumes it) takes it out of the timer tree.
            let mut t = unsafe { Box::from_raw(p) };
            t.ev.cancel();
            t.premature = true;
            run(t);
        }
    })
}

//! The coroutine scheduler: runs handler chunks in entry coroutines,
//! suspends them on the yield protocol and resumes them from nginx events.
use core::ffi::c_int;
use core::ptr;

use nginx_sys::*;

use super::cfunction::State;
pub use super::ctx::Outcome;
use super::ctx::{CoCtx, CoState, LuaCtx};
use super::handler::Handler;
use super::observe::{self, Event};
use super::phase::Phase;
use super::raw::*;
use super::vm::{pcall_over_handler, push_traceback};
use super::Global;
use crate::nginx::log::{log_error, Log, Ptr};
use crate::nginx::timer::{EventHandler, TimerEvent};

/// What the FFI layer sees as "the running Lua code": the request (if any)
/// and the phase. Set around every entry into Lua.
#[derive(Clone, Copy)]
pub struct Current {
    pub ctx: *mut LuaCtx,
    pub phase: Phase,
    /// The scheduled thread running (null in synchronous handlers).
    pub co: *mut CoCtx,
}

impl Current {
    /// The running request's runtime context, if a request runs.
    pub fn lua_ctx(&self) -> Option<&'static mut LuaCtx> {
        // SAFETY: CURRENT only holds a ctx while Lua runs for that request
        // (Enter restores the previous value when the call returns), and a
        // request's context lives as long as its request.
        unsafe { self.ctx.as_mut() }
    }

    /// The scheduled thread that runs (None in synchronous handlers).
    pub fn thread(&self) -> Option<&'static mut CoCtx> {
        // SAFETY: CURRENT holds a thread only while it runs (run_one's
        // Enter), and thread records live until their handler ends, after
        // the thread stopped running.
        unsafe { self.co.as_mut() }
    }
}

static CURRENT: Global<Current> = Global::new(Current {
    ctx: ptr::null_mut(),
    phase: Phase::Init,
    co: ptr::null_mut(),
});

pub fn current() -> Current {
    CURRENT.get()
}

/// Sets the current context for its lifetime, restoring the previous one
/// (filters run Lua while a content handler's Lua is mid-call).
pub struct Enter(Current);

impl Enter {
    pub fn new(ctx: *mut LuaCtx, phase: Phase) -> Enter {
        Self::with_co(ctx, phase, ptr::null_mut())
    }

    pub fn with_co(ctx: *mut LuaCtx, phase: Phase, co: *mut CoCtx) -> Enter {
        let prev = CURRENT.get();
        CURRENT.set(Current { ctx, phase, co });
        Enter(prev)
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        CURRENT.set(self.0);
    }
}

/// Runs a synchronous handler (filters, log, init phases) in the main thread.
///
/// # Safety
/// `ctx` is the live request context or null outside requests.
pub unsafe fn run_sync(
    ctx: *mut LuaCtx,
    L: *mut lua_State,
    h: &Handler,
    cache: bool,
) -> Result<(), String> {
    // SAFETY: the caller's context, null or live.
    let env = match (cache, unsafe { ctx.as_mut() }) {
        (false, Some(c)) => c.fresh_env(),
        _ => None,
    };
    let _cur = Enter::new(ctx, h.phase);
    observe::note(ctx, h.phase, Event::Run);
    let step = observe::step();
    // SAFETY: valid state; a request's context points at its VM (which
    // outlives requests) and its live request; outside requests there is
    // no request (file paths with variables are only allowed in request
    // phases).
    let r = unsafe {
        match ctx.as_ref() {
            Some(c) => (*c.vm).push_traceback(L),
            None => push_traceback(L),
        }
        let pushed = match ctx.as_mut() {
            Some(c) => h.push_in(&mut *c.vm, L, c.r, cache),
            None => h.push(L, ptr::null_mut(), cache),
        };
        match pushed {
            Err(e) => {
                lua_pop(L, 1);
                Err(e.into())
            }
            Ok(()) => {
                if let Some(env) = env {
                    set_fresh_env(L, env, false);
                }
                pcall_over_handler(L)
            }
        }
    };
    step.end(ctx, h.phase);
    if r.is_err() {
        observe::note(ctx, h.phase, Event::Error);
    }
    r
}

fn err_kind(rc: c_int) -> &'static str {
    match rc {
        LUA_ERRRUN => "runtime error",
        LUA_ERRSYNTAX => "syntax error",
        LUA_ERRMEM => "[lua] memory allocation error",
        LUA_ERRERR => "error handler error",
        _ => "unknown error",
    }
}

/// Creates the entry thread for `h` and runs it.
///
/// # Safety
/// `ctx` is the live request context.
pub unsafe fn start(
    ctx: &mut LuaCtx,
    h: &Handler,
    cache: bool,
    on_outcome: fn(&mut LuaCtx, Outcome),
) -> Outcome {
    let r = ctx.r;
    let vm = ctx.vm;
    let env = if cache { None } else { ctx.fresh_env() };
    let mut status = None;
    // SAFETY: ctx is live (the contract); the closure only pushes the
    // handler's chunk onto the coroutine start_with made for it; the VM
    // lives in the main conf, which outlives requests.
    let outcome = unsafe {
        start_with(ctx, h.phase, on_outcome, |co| {
            h.push_in(&mut *vm, co.as_ptr(), r, cache)
                .map(|()| {
                    if let Some(env) = env {
                        set_fresh_env(co.as_ptr(), env, true);
                    }
                    0
                })
                .map_err(|e| {
                    status = e.status;
                    e.msg
                })
        })
    };
    // A handler file that cannot be read ends the request with upstream's
    // status for it (404 for a missing file).
    match status {
        Some(s) => Outcome::Exit(s as isize),
        None => outcome,
    }
}

/// `lua_code_cache off`: gives the freshly compiled function on top of `L`
/// the request's own globals (registry ref `env`), and, for an entry
/// coroutine, makes them the thread's globals too, so code it loads
/// (`loadstring`, modules) sees them. (A recycled coroutine gets the VM's
/// globals back in `Vm::new_thread`.)
///
/// # Safety
/// `L` is a live state of the VM holding `env`, with a function on top.
pub unsafe fn set_fresh_env(L: *mut lua_State, env: c_int, thread: bool) {
    // SAFETY: see the contract; the env is a table, so setfenv succeeds.
    unsafe {
        lua_rawgeti_(L, LUA_REGISTRYINDEX, env);
        if thread {
            lua_pushvalue(L, -1);
            lua_replace(L, LUA_GLOBALSINDEX);
        }
        lua_setfenv(L, -2);
    }
}

/// Creates an entry thread, lets `push` put its function and arguments on
/// the coroutine's stack (returning the argument count), and runs it.
/// `on_outcome` is what happens with the handler's state when an event
/// later resumes one of its threads.
///
/// # Safety
/// `ctx` is the live request context.
pub unsafe fn start_with(
    ctx: &mut LuaCtx,
    phase: Phase,
    on_outcome: fn(&mut LuaCtx, Outcome),
    push: impl FnOnce(State) -> Result<c_int, String>,
) -> Outcome {
    // SAFETY: ctx is live (the contract) and its VM's state is the main
    // state; the coroutine new_thread hands out is anchored by co_ref until
    // its record releases it (or right here when push fails); run_one gets
    // the record just boxed into ctx.threads, which is not running.
    unsafe {
        let L = ctx.vm().state();
        ctx.release_threads();
        ctx.exit_code = None;
        ctx.waiting = false;
        ctx.phase = phase;
        ctx.on_outcome = on_outcome;
        observe::note(ctx, phase, Event::Run);
        let (co, co_ref, reused) = ctx.vm().new_thread();
        if reused {
            // Upstream's trace of its thread cache, which its tests grep.
            crate::debug!(
                ctx.req().log_handle(),
                "lua reusing cached lua thread {} (ref {co_ref})",
                Ptr::of(co)
            );
        }
        let nargs = match push(State::from_raw(co)) {
            Ok(n) => n,
            Err(e) => {
                observe::note(ctx, phase, Event::Error);
                luaL_unref(L, LUA_REGISTRYINDEX, co_ref);
                log_error(NGX_LOG_ERR, (*(*ctx.r).connection).log, e.as_bytes());
                return Outcome::Error;
            }
        };
        let mut t = CoCtx::new(co, co_ref, ctx, ptr::null_mut());
        let entry: *mut CoCtx = &mut *t;
        ctx.threads.push(t);
        ctx.entry = entry;
        run_one(entry, nargs);
        overall(&mut *(ctx as *mut LuaCtx))
    }
}

/// Resumes a suspended thread with `nargs` values already on its stack,
/// then tells how the handler as a whole stands.
///
/// # Safety
/// `t` is a live, suspended thread of `t.ctx`.
pub unsafe fn resume(t: *mut CoCtx, nargs: c_int) -> Outcome {
    // SAFETY: t is suspended; its ctx outlives it.
    unsafe {
        let ctx = (*t).ctx;
        (*t).waiting = false;
        run_one(t, nargs);
        overall(&mut *ctx)
    }
}

/// The handler's state after a thread ran: `ngx.exit` anywhere or an
/// entry-thread error ends everything; otherwise it is done when no thread
/// is left running or suspended.
pub fn overall(ctx: &mut LuaCtx) -> Outcome {
    if let Some(code) = ctx.exit_code {
        ctx.release_threads();
        return Outcome::Exit(code);
    }
    if ctx.entry_failed {
        ctx.release_threads();
        return Outcome::Error;
    }
    if ctx.threads.iter().any(|t| t.alive()) {
        return Outcome::Yielded;
    }
    ctx.release_threads();
    Outcome::Done
}

/// The coroutines a thread's traceback shows: the user coroutines whose
/// error `coroutine.wrap` passed up to it (innermost first), its own, then
/// those of the live threads that spawned it.
fn traceback_chain(t: &CoCtx) -> Vec<*mut lua_State> {
    // SAFETY: the thread just failed (not running, its error on top) and
    // its ctx's VM is live while the thread is.
    let mut cos = unsafe { wrap_failures((*(*t.ctx).vm).state(), t.co) };
    cos.push(t.co);
    let mut p = t.parent;
    // SAFETY: a thread's parent records are live records of the same ctx
    // (records are released only when the handler ends).
    while let Some(pt) = unsafe { p.as_ref() } {
        if !pt.alive() {
            break;
        }
        cos.push(pt.co);
        p = pt.parent;
    }
    cos
}

/// Logs the error at the top of `co` (the failed thread) as upstream does,
/// with the traceback of every coroutine in `cos`.
unsafe fn log_thread_error(
    ctx: &mut LuaCtx,
    co: *mut lua_State,
    cos: &[*mut lua_State],
    rc: c_int,
    entry: bool,
) {
    // SAFETY: co holds its error value on top; all are live coroutines
    // that are not running.
    unsafe {
        let msg: &[u8] = match lua_type(co, -1) {
            LUA_TSTRING | LUA_TNUMBER => to_bytes(co, -1).unwrap_or(b""),
            _ => b"unknown reason",
        };
        let who = if entry { "entry" } else { "user" };
        let mut line = format!("lua {who} thread aborted: {}: ", err_kind(rc)).into_bytes();
        line.extend_from_slice(msg);
        line.push(b'\n');
        line.extend_from_slice(&thread_traceback(cos));
        log_error(NGX_LOG_ERR, (*(*ctx.r).connection).log, &line);
    }
}

/// Runs one thread until it yields, returns or fails, and does the
/// bookkeeping: suspension, zombie results, waking a waiting parent.
///
/// Takes a raw pointer: while the coroutine runs, Lua code (spawn, wait,
/// kill) reaches the same thread and context through CURRENT, so no Rust
/// reference to them is held across `lua_resume`.
///
/// The outermost call for a context then runs the threads posted
/// meanwhile, oldest first, as upstream's scheduler does before it goes
/// back to nginx (see [`LuaCtx::post`]).
///
/// # Safety
/// `tp` is a live thread of its ctx, not currently running.
pub unsafe fn run_one(tp: *mut CoCtx, nargs: c_int) {
    // SAFETY: the contract; the context outlives its threads' runs, and
    // is reached through the raw pointer only, as in run_thread.
    unsafe {
        let ctxp = (*tp).ctx;
        (*ctxp).depth += 1;
        run_thread(tp, nargs);
        (*ctxp).depth -= 1;
        if (*ctxp).depth == 0 && !(*ctxp).first_posted().is_null() {
            run_posted(ctxp);
        }
    }
}

/// Runs the posted threads in turn until none is left; a thread posted
/// while they run (it spawned one, or yielded) takes its turn after them.
/// Out of line: most runs post nothing.
#[inline(never)]
unsafe fn run_posted(ctxp: *mut LuaCtx) {
    // SAFETY: ctxp is the live context of the outermost run_one; posted
    // records are live records of its threads (release_threads empties the
    // list before it recycles them).
    unsafe {
        // One level deeper, so the runs below leave the list to this loop
        // instead of recursing once per posted thread.
        (*ctxp).depth += 1;
        while let Some(t) = (*ctxp).pop_posted() {
            if (*ctxp).exit_code.is_some() || (*ctxp).entry_failed {
                (*ctxp).clear_posted();
                break;
            }
            // Killed, or ended meanwhile: nothing to resume.
            if (*t).state == CoState::Suspended {
                run_thread(t, 0);
            }
        }
        (*ctxp).depth -= 1;
    }
}

/// One resume of `tp` and its bookkeeping (see [`run_one`]).
///
/// # Safety
/// As [`run_one`].
unsafe fn run_thread(tp: *mut CoCtx, nargs: c_int) {
    // SAFETY: tp is a live record that is not running (the contract) and its
    // ctx outlives it; no Rust reference to either is held across
    // lua_resume (Lua code reaches them through CURRENT), they are
    // re-borrowed once it returned; co is the record's coroutine.
    unsafe {
        let (co, ctxp) = ((*tp).co, (*tp).ctx);
        (*tp).state = CoState::Running;
        (*tp).yielded = false;
        let phase = (*ctxp).phase;
        let timed = observe::step();
        let rc = {
            let _cur = Enter::with_co(ctxp, phase, tp);
            // Dropped before _cur: a limit's log line names this request.
            let _step = super::limits::step(co);
            lua_resume_(co, nargs)
        };
        timed.end(ctxp, phase);
        let t = &mut *tp;
        let ctx = &mut *ctxp;
        match rc {
            LUA_YIELD => {
                lua_settop(co, 0);
                t.state = CoState::Suspended;
                if ctx.exit_code.is_some() {
                    return;
                }
                if ctx.waiting {
                    ctx.waiting = false;
                    t.waiting = true;
                    ctx.event_waiter = t;
                }
                if !t.waiting && !t.in_wait && !t.posted {
                    t.yielded = true;
                    if ctx.first_posted().is_null() {
                        // A plain coroutine.yield() with nothing posted:
                        // give other events a turn and continue on the
                        // next loop iteration. (Upstream continues at once,
                        // so a yielding loop there never lets nginx run.)
                        arm_sleep(t, 0);
                    } else {
                        // Behind the posted threads, as upstream's.
                        ctx.post(t);
                    }
                }
            }
            0 => {
                if t.is_entry() {
                    t.state = CoState::Dead;
                    // It just returned from lua_resume: reusable.
                    if (*(*t.ctx).vm).recycle_thread(co, t.co_ref) {
                        crate::debug!(
                            ctx.req().log_handle(),
                            "lua caching unused lua thread {} (ref {})",
                            Ptr::of(co),
                            t.co_ref
                        );
                        t.co_ref = LUA_NOREF;
                    }
                    t.release();
                } else {
                    // Results for ngx.thread.wait: true, ...
                    lua_pushboolean(co, 1);
                    lua_insert(co, 1);
                    finish_light(tp);
                }
            }
            _ => {
                observe::note(ctxp, phase, Event::Error);
                let cos = traceback_chain(t);
                log_thread_error(ctx, t.co, &cos, rc, t.is_entry());
                if t.is_entry() {
                    ctx.entry_failed = true;
                    t.state = CoState::Dead;
                    t.release();
                } else {
                    // Results for ngx.thread.wait: false, err. Upstream
                    // hands over the bottom of the failed coroutine's
                    // stack, which for `error(msg)` is msg as given,
                    // without the position `error` added.
                    let top = lua_gettop(co);
                    lua_pushboolean(co, 0);
                    if rc != LUA_ERRRUN || !push_error_arg(co) {
                        lua_pushvalue(co, top);
                    }
                    for _ in 0..top {
                        lua_remove(co, 1);
                    }
                    finish_light(tp);
                }
            }
        }
    }
}

/// A light thread returned: hand its results to a waiting parent, or keep
/// it as a zombie until the parent waits or the handler ends.
unsafe fn finish_light(tp: *mut CoCtx) {
    // SAFETY: tp and the waiter are live threads of the same ctx; the
    // waiter is suspended in ngx.thread.wait.
    unsafe {
        let t = &mut *tp;
        t.state = CoState::Zombie;
        t.cancel_events();
        let waiter = t.waited_by;
        if waiter.is_null() {
            return;
        }
        let ctx = &mut *t.ctx;
        for other in ctx.threads.iter_mut() {
            if other.waited_by == waiter {
                other.waited_by = ptr::null_mut();
            }
        }
        (*waiter).in_wait = false;
        let n = take_results(t, (*waiter).co);
        if ctx.exit_code.is_none() && !ctx.entry_failed {
            run_one(waiter, n);
        }
    }
}

/// Moves a zombie's results onto `to`'s stack and marks it collected.
///
/// # Safety
/// `t` is a zombie; `to` a valid state with room for its values.
pub unsafe fn take_results(t: &mut CoCtx, to: *mut lua_State) -> c_int {
    // SAFETY: a zombie's results are the only values on its own stack
    // (run_one left them there); `to` has room (the contract) and belongs to
    // the same VM, as lua_xmove requires.
    unsafe {
        let n = lua_gettop(t.co);
        if n > 0 {
            lua_xmove(t.co, to, n);
        }
        t.state = CoState::Dead;
        t.release();
        n
    }
}

unsafe extern "C" fn sleep_handler(ev: *mut ngx_event_t) {
    crate::nginx::panic::guard((), || {
        // SAFETY: the event's data is the CoCtx that armed it (arm_wakeup);
        // a thread record cancels its timer before it goes away
        // (release_threads' cancel_events), so it is alive here, and
        // suspended: that is what the timer is armed for.
        unsafe {
            let t = TimerEvent::data_of(ev) as *mut CoCtx;
            let log = Log::from_raw((*ev).log);
            if log.debugs() {
                let r = (*(*t).ctx).req();
                crate::debug!(
                    log,
                    "lua sleep timer expired: \"{}?{}\"",
                    String::from_utf8_lossy(r.uri()),
                    String::from_utf8_lossy(r.args())
                );
            }
            resume_from_event(t)
        }
    })
}

/// Arms the thread's wake-up timer (`ngx.sleep`, plain yields).
pub fn arm_sleep(t: &mut CoCtx, ms: ngx_msec_t) {
    arm_wakeup(t, ms, sleep_handler);
}

/// Arms the thread's wake-up timer with a feature's handler (a semaphore's
/// timeout), which nginx calls with the event whose `data` is the thread's
/// `CoCtx`.
pub fn arm_wakeup(t: &mut CoCtx, ms: ngx_msec_t, handler: EventHandler) {
    let data = t as *mut CoCtx as *mut core::ffi::c_void;
    // SAFETY: threads are boxed and never leave their box, so the event
    // stays in place, and the record cancels it before it is freed; `data`
    // is that record, as both handlers expect; the request's connection
    // log (the thread's context lives in the request) outlives the thread.
    unsafe {
        let log = (*t.ctx).req().log();
        t.sleep_ev.arm(ms, handler, data, log);
    }
    t.waiting = true;
}

/// Resumes the thread that waits on a request-level event (body read,
/// flush) and lets the handler's owner act on the outcome.
pub fn resume_entry(ctx: &mut LuaCtx) {
    let t = if ctx.event_waiter.is_null() {
        ctx.entry
    } else {
        ctx.event_waiter
    };
    ctx.event_waiter = ptr::null_mut();
    if !t.is_null() {
        // SAFETY: the waiter is a live thread of ctx (release_threads clears
        // event_waiter before threads go away).
        unsafe { resume_thread(t, 0) };
    }
}

/// Resumes `t` from one of its own nginx events (its timer, a socket, a
/// semaphore), then runs the connection's posted subrequests as nginx's own
/// event handlers do. A timer's fake request has none, and may already be
/// freed by the resumption.
///
/// # Safety
/// `t` is a suspended thread of a live request context.
pub unsafe fn resume_from_event(t: *mut CoCtx) {
    // SAFETY: the caller's contract.
    unsafe { resume_from_event_with(t, 0) }
}

/// [`resume_from_event`] with `nargs` values already pushed onto the
/// thread's stack: what the suspended call returns (the C API's
/// `ngx_http_lua_co_ctx_resume_helper`).
///
/// # Safety
/// As [`resume_from_event`].
pub unsafe fn resume_from_event_with(t: *mut CoCtx, nargs: c_int) {
    // SAFETY: see above; the connection and phase are read before resuming.
    unsafe {
        let ctx = (*t).ctx;
        let r = (*ctx).r;
        let c = (*r).connection;
        let timer = (*ctx).phase.fake_request();
        if !timer {
            // Log lines name the request that runs (a subrequest, or the
            // parent woken after its subrequests), as nginx's own handlers
            // do.
            let lctx = (*(*c).log).data as *mut ngx_http_log_ctx_t;
            if !lctx.is_null() {
                (*lctx).current_request = r;
            }
        }
        resume_thread(t, nargs);
        if !timer {
            ngx_http_run_posted_requests(c);
        }
    }
}

/// Resumes a suspended thread and hands the handler's state to its owner's
/// continuation.
///
/// # Safety
/// `t` is a suspended thread of a live request context.
pub unsafe fn resume_thread(t: *mut CoCtx, nargs: c_int) {
    // SAFETY: t's ctx outlives it; t is suspended (the caller got it from
    // an armed event). The owner is read first: finishing the handler
    // frees the thread records.
    unsafe {
        let ctx = &mut *(*t).ctx;
        let outcome = resume(t, nargs);
        (ctx.on_outcome)(ctx, outcome);
    }
}

/// `lua_max_memory` and `lua_max_run_time` report through the scheduler,
/// which knows the running phase and request: registered when a limit is
/// configured.
pub fn register_limit_reports() {
    super::limits::set_reporters(super::limits::Reporters {
        refusal: report_refusal,
        hook: run_time_hook,
    });
}

#[cold]
fn report_refusal(r: super::limits::Refusal) {
    let cur = current();
    let msg = format!(
        "lua_max_memory {} bytes reached in {}: an allocation of {} bytes was refused, the Lua VM \
         holds {} bytes",
        r.limit,
        cur.phase.context_name(),
        r.size,
        r.used
    );
    let log = cur
        .lua_ctx()
        .map_or_else(crate::nginx::log::cycle_log, |c| c.req().log());
    // SAFETY: the running request's log (its context is current) or the
    // cycle's.
    unsafe { log_error(NGX_LOG_ERR, log, msg.as_bytes()) };
}

super::cfunction::lua_hook! {
    /// Raises in a step that overran `lua_max_run_time`.
    fn run_time_hook(L) {
        // SAFETY: the state LuaJIT called the hook with.
        match unsafe { super::limits::overrun(L.as_ptr()) } {
            Some(ms) => Err(super::cfunction::Raise::InHook(
                format!("ran longer than lua_max_run_time ({ms} ms) without yielding").into_bytes(),
            )),
            None => Ok(0),
        }
    }
}

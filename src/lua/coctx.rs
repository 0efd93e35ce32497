//! One scheduled Lua thread: a handler's entry coroutine or a light thread
//! (`ngx.thread.spawn`).
use core::ffi::c_int;
use core::ptr;

use nginx_sys::*;

use super::ctx::RequestCtx;
use super::raw::*;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CoState {
    /// The `ngx.on_abort` thread: created, started only if the client
    /// aborts; it does not keep the handler alive.
    Unstarted,
    /// Created or running right now.
    Running,
    /// Yielded to the scheduler; an event (or a waited-on thread) resumes it.
    Suspended,
    /// A light thread that finished; its results (`true, ...` or
    /// `false, err`) stay on its stack until the parent waits for them.
    Zombie,
    /// Finished and collected, or killed.
    Dead,
}

pub struct CoCtx {
    pub co: *mut lua_State,
    pub co_ref: c_int,
    pub ctx: *mut RequestCtx,
    /// The spawning thread; null for the entry thread.
    pub parent: *mut CoCtx,
    pub state: CoState,
    /// Suspended on an nginx event (as opposed to a plain yield).
    pub waiting: bool,
    /// Timer of ngx.sleep (and of "resume on the next loop").
    pub sleep_ev: ngx_event_t,
    /// The parent blocked in ngx.thread.wait on this thread.
    pub waited_by: *mut CoCtx,
    /// The thread itself called ngx.thread.wait.
    pub in_wait: bool,
    /// The semaphore this thread waits on, and whether it got it.
    pub sema: *mut crate::lua::sema::Sema,
    pub sema_ok: bool,
    /// The `ngx.location.capture*` this thread waits for, or whose results
    /// it has yet to collect (the group lives in the request pool).
    pub capture: *mut crate::phase::subrequest::Group,
    /// The cosocket this thread waits on (killing the thread abandons the
    /// operation).
    pub socket: *mut crate::cosocket::tcp::Tcp,
}

impl CoCtx {
    pub fn new(
        co: *mut lua_State,
        co_ref: c_int,
        ctx: *mut RequestCtx,
        parent: *mut CoCtx,
    ) -> Box<CoCtx> {
        Box::new(CoCtx {
            co,
            co_ref,
            ctx,
            parent,
            state: CoState::Running,
            waiting: false,
            // SAFETY: an all-zero ngx_event_t is nginx's "unarmed" event.
            sleep_ev: unsafe { core::mem::zeroed() },
            waited_by: ptr::null_mut(),
            in_wait: false,
            sema: ptr::null_mut(),
            sema_ok: false,
            capture: ptr::null_mut(),
            socket: ptr::null_mut(),
        })
    }

    pub fn is_entry(&self) -> bool {
        self.parent.is_null()
    }

    pub fn alive(&self) -> bool {
        matches!(self.state, CoState::Running | CoState::Suspended)
    }

    /// Cancels whatever the thread waits on (timers, posted events).
    pub fn cancel_events(&mut self) {
        // SAFETY: the event is embedded in this struct; deleting a set timer
        // or a posted event is always allowed in the worker.
        unsafe {
            if self.sleep_ev.timer_set() != 0 {
                ngx_del_timer(&mut self.sleep_ev);
            }
            if self.sleep_ev.posted() != 0 {
                ngx_delete_posted_event(&mut self.sleep_ev);
            }
            if let Some(s) = self.sema.as_mut() {
                s.forget(self);
            }
            let sock = core::mem::replace(&mut self.socket, ptr::null_mut());
            if let Some(s) = sock.as_mut() {
                s.abort_wait(self);
            }
        }
        self.sema = ptr::null_mut();
        self.capture = ptr::null_mut();
        self.waiting = false;
    }

    /// Drops the registry anchor so Lua can collect the coroutine.
    pub fn release(&mut self) {
        if self.co_ref != LUA_NOREF {
            // SAFETY: the ref was made in the registry of the VM of our
            // ctx, which outlives its threads.
            unsafe { luaL_unref((*(*self.ctx).vm).state(), LUA_REGISTRYINDEX, self.co_ref) };
            self.co_ref = LUA_NOREF;
        }
    }
}

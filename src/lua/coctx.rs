//! One scheduled Lua thread: a handler's entry coroutine or a light thread
//! (`ngx.thread.spawn`).
use core::ffi::{c_int, c_void};
use core::ptr;

use nginx_sys::*;

use super::ctx::LuaCtx;
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

/// What a suspended thread waits on, registered by the feature that armed
/// the wait (a socket, a semaphore, a capture), as upstream's coroutine
/// context holds a cleanup handler and its data. The runtime knows no
/// feature type: it only calls `cancel` when the thread goes away.
#[derive(Clone, Copy)]
pub struct Wait {
    pub data: *mut c_void,
    /// Abandons the wait. With `force` false (`ngx.thread.kill`) the
    /// feature may refuse with upstream's reason; with `force` true (the
    /// handler or the request ends) it must let go.
    pub cancel: WaitCancel,
}

pub struct CoCtx {
    pub co: *mut lua_State,
    pub co_ref: c_int,
    pub ctx: *mut LuaCtx,
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
    /// What the thread waits on, if a feature registered it.
    pub wait: Option<Wait>,
    /// What the event that ended the wait reported, for the thread to read
    /// when it runs again (feature-defined: a semaphore sets 1 when the
    /// thread got a resource).
    pub wait_result: c_int,
}

impl CoCtx {
    pub fn new(
        co: *mut lua_State,
        co_ref: c_int,
        ctx: *mut LuaCtx,
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
            wait: None,
            wait_result: 0,
        })
    }

    pub fn is_entry(&self) -> bool {
        self.parent.is_null()
    }

    pub fn alive(&self) -> bool {
        matches!(self.state, CoState::Running | CoState::Suspended)
    }

    /// Registers what the thread now waits on; the feature resumes it
    /// through `sched::resume_from_event` and clears the slot first.
    pub fn wait_on(&mut self, data: *mut c_void, cancel: WaitCancel) {
        self.wait = Some(Wait { data, cancel });
        self.waiting = true;
    }

    /// The data of the wait registered with `cancel`, if that is what the
    /// thread waits on (a feature recognises its own waits by their cancel
    /// function).
    pub fn waiting_on(&self, cancel: WaitCancel) -> Option<*mut c_void> {
        match self.wait {
            Some(w) if w.cancel as usize == cancel as usize => Some(w.data),
            _ => None,
        }
    }

    /// Asks the feature to abandon the wait (`ngx.thread.kill`); its reason
    /// when it refuses.
    pub fn try_cancel_wait(&mut self) -> Result<(), &'static core::ffi::CStr> {
        if let Some(w) = self.wait {
            // SAFETY: the feature registered data and cancel together; the
            // wait is still pending (features clear the slot when it ends).
            unsafe { (w.cancel)(w.data, self, false)? };
            self.wait = None;
        }
        Ok(())
    }

    /// Cancels whatever the thread waits on (timers, posted events, the
    /// feature's wait).
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
        }
        if let Some(w) = self.wait.take() {
            // SAFETY: as in try_cancel_wait; forced, so it cannot refuse.
            let _ = unsafe { (w.cancel)(w.data, self, true) };
        }
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

pub type WaitCancel = unsafe fn(
    data: *mut c_void,
    t: *mut CoCtx,
    force: bool,
) -> Result<(), &'static core::ffi::CStr>;

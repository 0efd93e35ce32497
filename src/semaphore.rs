//! ngx.semaphore: a counter with a FIFO of threads waiting on it, shared by
//! every request and timer of the worker.
use core::ffi::c_void;
use std::collections::VecDeque;

use nginx_sys::*;

use crate::lua::ctx::{CoCtx, WaitKind};
use crate::lua::sched::{arm_sleep, arm_wakeup, resume_from_event};
use crate::nginx::timer::TimerEvent;

pub struct Sema {
    /// Available resources.
    count: i64,
    waiters: VecDeque<*mut CoCtx>,
}

/// What a woken waiter finds in its `wait_result`.
pub const GOT_IT: i32 = 1;

impl Sema {
    pub fn new(n: i64) -> Sema {
        Sema {
            count: n,
            waiters: VecDeque::new(),
        }
    }

    /// Resources, or minus the number of waiters when there are some.
    pub fn count(&self) -> i64 {
        if self.waiters.is_empty() {
            self.count
        } else {
            -(self.waiters.len() as i64)
        }
    }

    /// Takes a resource if one is free and nobody waits ahead of us.
    pub fn try_take(&mut self) -> bool {
        if self.count > 0 && self.waiters.is_empty() {
            self.count -= 1;
            true
        } else {
            false
        }
    }

    /// Queues `t` until a post or `ms` pass.
    pub fn enqueue(&mut self, t: &mut CoCtx, ms: ngx_msec_t) {
        t.wait_result = 0;
        self.waiters.push_back(t);
        arm_wakeup(t, ms, timeout_handler);
        t.wait_on(self as *mut Sema as *mut c_void, &WAIT);
    }

    /// Adds `n` resources and hands them to waiters in arrival order; they
    /// resume on the next event-loop turn, not inside this call.
    pub fn post(&mut self, n: i64) {
        self.count += n;
        while self.count > 0 {
            let Some(t) = self.waiters.pop_front() else {
                break;
            };
            self.count -= 1;
            // SAFETY: queued threads are live: their wait's cancel removes
            // them from the queue before they go away.
            unsafe {
                (*t).wait = None;
                (*t).wait_result = GOT_IT;
                arm_sleep(&mut *t, 0);
            }
        }
    }

    /// Drops a thread that stops waiting (killed, request gone).
    fn forget(&mut self, t: *const CoCtx) {
        self.waiters.retain(|&w| !core::ptr::eq(w, t));
    }
}

impl Drop for Sema {
    fn drop(&mut self) {
        for &t in &self.waiters {
            // SAFETY: see post(); the threads just lose their semaphore and
            // time out as if nobody posted.
            unsafe { (*t).wait = None };
        }
    }
}

static WAIT: WaitKind = WaitKind { cancel };

/// The waiting thread goes away: it leaves the queue.
unsafe fn cancel(
    data: *mut c_void,
    t: *mut CoCtx,
    _force: bool,
) -> Result<(), &'static core::ffi::CStr> {
    // SAFETY: data is the semaphore the thread queued on (enqueue); a
    // semaphore clears its waiters' slots before it is dropped.
    unsafe { (*(data as *mut Sema)).forget(t) };
    Ok(())
}

unsafe extern "C" fn timeout_handler(ev: *mut ngx_event_t) {
    crate::nginx::panic::guard((), || {
        // SAFETY: the event's data is the waiting CoCtx (arm_wakeup), alive
        // while its timer is armed (a record cancels it before it goes
        // away); its wait, while set, names the live semaphore it queued on
        // (a semaphore clears its waiters' slots before it is dropped).
        unsafe {
            let t = TimerEvent::data_of(ev) as *mut CoCtx;
            if let Some(w) = (*t).wait.take() {
                (*(w.data as *mut Sema)).forget(t);
            }
            (*t).wait_result = 0;
            resume_from_event(t);
        }
    })
}

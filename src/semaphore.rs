//! ngx.semaphore: a counter with a FIFO of threads waiting on it, shared by
//! every request and timer of the worker.
use core::ffi::c_void;
use std::collections::VecDeque;

use nginx_sys::*;

use crate::lua::ctx::{CoCtx, WaitKind};
use crate::lua::sched::{arm_wakeup, resume_from_event};
use crate::nginx::timer::TimerEvent;

pub struct Sema {
    /// Available resources.
    count: i64,
    waiters: VecDeque<*mut CoCtx>,
    /// Waiters a post handed a resource to, not resumed yet: one that goes
    /// away first (killed, request gone) gives the resource back.
    woken: Vec<*mut CoCtx>,
}

/// What a woken waiter finds in its `wait_result`.
pub const GOT_IT: i32 = 1;

impl Sema {
    pub fn new(n: i64) -> Sema {
        Sema {
            count: n,
            waiters: VecDeque::new(),
            woken: Vec::new(),
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

    /// Takes a resource if one is free and nobody waits ahead of us. A
    /// waiter a post handed a resource to but that has not resumed yet
    /// still counts as ahead: upstream hands resources over only on the
    /// next event-loop turn, so until then its queue is not empty.
    pub fn try_take(&mut self) -> bool {
        if self.count > 0 && self.waiters.is_empty() && self.woken.is_empty() {
            self.count -= 1;
            true
        } else {
            false
        }
    }

    /// Whether resources a post handed over wait for their threads to
    /// resume (upstream's "event posted").
    pub fn handing_over(&self) -> bool {
        !self.woken.is_empty()
    }

    /// Queues `t` until a post or `ms` pass.
    pub fn enqueue(&mut self, t: &mut CoCtx, ms: ngx_msec_t) {
        t.wait_result = 0;
        self.waiters.push_back(t);
        arm_wakeup(t, ms, timeout_handler);
        t.wait_on(self as *mut Sema as *mut c_void, &WAIT);
        // Resources left while others were being handed theirs go to the
        // queue in order, this thread included.
        if self.count > 0 {
            self.post(0);
        }
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
            // them from the queue before they go away; the same holds for
            // the hand-over wait set here.
            unsafe {
                (*t).wait_result = GOT_IT;
                arm_wakeup(&mut *t, 0, woken_handler);
                (*t).wait_on(self as *mut Sema as *mut c_void, &WOKEN);
            }
            self.woken.push(t);
        }
    }

    /// Drops a thread that stops waiting (killed, request gone).
    fn forget(&mut self, t: *const CoCtx) {
        self.waiters.retain(|&w| !core::ptr::eq(w, t));
    }
}

impl Drop for Sema {
    fn drop(&mut self) {
        for &t in self.waiters.iter().chain(self.woken.iter()) {
            // SAFETY: see post(); waiting threads just lose their semaphore
            // and time out as if nobody posted, woken ones keep what they
            // were given.
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
    crate::debug!(
        crate::nginx::log::Log::cycle(),
        "http lua semaphore cleanup"
    );
    // SAFETY: data is the semaphore the thread queued on (enqueue); a
    // semaphore clears its waiters' slots before it is dropped.
    unsafe { (*(data as *mut Sema)).forget(t) };
    Ok(())
}

static WOKEN: WaitKind = WaitKind {
    cancel: cancel_woken,
};

/// A thread a post handed a resource to goes away before it resumed: the
/// resource goes back (to the next waiter, if any), as upstream's cleanup.
unsafe fn cancel_woken(
    data: *mut c_void,
    t: *mut CoCtx,
    _force: bool,
) -> Result<(), &'static core::ffi::CStr> {
    // SAFETY: data is the semaphore that woke the thread (post); a
    // semaphore clears its woken threads' slots before it is dropped.
    unsafe {
        let sema = &mut *(data as *mut Sema);
        sema.woken.retain(|&w| !core::ptr::eq(w, t));
        (*t).wait_result = 0;
        sema.post(1);
    }
    Ok(())
}

/// The turn a post scheduled: the woken thread resumes with its resource.
unsafe extern "C" fn woken_handler(ev: *mut ngx_event_t) {
    crate::nginx::panic::guard((), || {
        // SAFETY: as in timeout_handler: the data is the live woken CoCtx,
        // and its wait, while set, names the live semaphore that woke it.
        unsafe {
            let t = TimerEvent::data_of(ev) as *mut CoCtx;
            if let Some(w) = (*t).wait.take() {
                (*(w.data as *mut Sema))
                    .woken
                    .retain(|&x| !core::ptr::eq(x, t));
            }
            resume_from_event(t);
        }
    })
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

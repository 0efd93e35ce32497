//! [`TimerEvent`]: an nginx event the module owns and uses only as a timer
//! (`ngx.sleep`, a semaphore's timeout, `ngx.timer.at`), embedded in the
//! Rust value its handler works on.
//!
//! nginx's timer tree links the event itself, so an armed event must stay
//! where it is: it lives in a `Box` that is not moved, and the handle
//! leaves the tree (and the posted queue) when it is dropped, so a freed
//! value can never fire.
use core::ffi::c_void;

use nginx_sys::*;

/// What nginx calls when the timer fires (with the event; its `data` is
/// what [`TimerEvent::arm`] was given).
pub type EventHandler = unsafe extern "C" fn(*mut ngx_event_t);

#[repr(transparent)]
pub struct TimerEvent(ngx_event_t);

impl Default for TimerEvent {
    #[inline]
    fn default() -> Self {
        Self::new()
    }
}

impl TimerEvent {
    /// An unarmed event.
    #[inline]
    pub fn new() -> TimerEvent {
        // SAFETY: an all-zero ngx_event_t is nginx's idle event (no timer,
        // not posted, no handler); nginx's own modules calloc theirs.
        TimerEvent(unsafe { core::mem::zeroed() })
    }

    /// Arms (or re-arms) the timer: after `ms`, nginx calls `handler` with
    /// the event, whose `data` is `data`. Lines nginx logs about the event
    /// go to `log`.
    ///
    /// # Safety
    /// The event stays at its address until it fires, is cancelled or is
    /// dropped, `data` is what `handler` expects until then, and `log` is a
    /// live log (a connection's or the cycle's) as long.
    #[inline]
    pub unsafe fn arm(
        &mut self,
        ms: ngx_msec_t,
        handler: EventHandler,
        data: *mut c_void,
        log: *mut ngx_log_t,
    ) {
        let ev = &mut self.0;
        ev.handler = Some(handler);
        ev.data = data;
        ev.log = log;
        // SAFETY: the caller keeps the event in place while it is in the
        // tree; ngx_add_timer moves an armed event to its new key.
        unsafe { ngx_add_timer(ev, ms) };
    }

    /// Lets nginx's graceful shutdown go on while the timer is pending (a
    /// worker waits only for timers that are not cancelable).
    #[inline]
    pub fn set_cancelable(&mut self) {
        self.0.set_cancelable(1);
    }

    /// Whether the timer is pending.
    #[inline]
    pub fn is_armed(&self) -> bool {
        self.0.timer_set() != 0
    }

    /// Takes the event out of the timer tree and the posted queue.
    #[inline]
    pub fn cancel(&mut self) {
        let ev = &mut self.0;
        if ev.timer_set() != 0 {
            // SAFETY: timer_set: the event is linked in nginx's timer tree,
            // at this address (see arm).
            unsafe { ngx_del_timer(ev) };
        }
        if ev.posted() != 0 {
            // SAFETY: posted: the event is linked in a posted queue.
            unsafe { ngx_delete_posted_event(ev) };
        }
    }

    /// The `data` the event that fired was armed with.
    ///
    /// # Safety
    /// `ev` is the event nginx passed to the handler.
    #[inline]
    pub unsafe fn data_of(ev: *mut ngx_event_t) -> *mut c_void {
        // SAFETY: the caller's event, alive while its handler runs.
        unsafe { (*ev).data }
    }
}

impl Drop for TimerEvent {
    fn drop(&mut self) {
        self.cancel();
    }
}

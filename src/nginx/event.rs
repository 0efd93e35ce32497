//! nginx events: [`EventRef`], a handle on an event nginx owns (a
//! connection's read or write event), and [`Event`], an event of our own
//! for a timer or a turn on the posted queue, whose handler is a method of
//! the object that armed it ([`OnEvent`]).
//!
//! nginx links an armed event into its timer tree and its posted queue by
//! address, so an event must not move while armed: [`Event`] keeps its
//! `ngx_event_t` in a box of its own (made on first use, so an object that
//! never arms one pays nothing) and disarms it when dropped.
use core::ffi::c_void;
use core::ptr::{self, NonNull};

use nginx_sys::*;

use super::log;
use super::panic::guard;

/// A handle on a live nginx event.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct EventRef(NonNull<ngx_event_t>);

impl EventRef {
    /// # Safety
    /// `ev` is a live event, and the handle (and its copies) are only used
    /// while it is.
    #[inline]
    pub unsafe fn from_raw(ev: *mut ngx_event_t) -> Option<EventRef> {
        NonNull::new(ev).map(EventRef)
    }

    #[inline]
    pub fn as_ptr(self) -> *mut ngx_event_t {
        self.0.as_ptr()
    }

    /// The event's fields, for one read.
    #[inline]
    fn get(&self) -> &ngx_event_t {
        // SAFETY: the handle's invariant (from_raw): the event is alive; the
        // borrow ends with the caller's expression, before nginx code runs.
        unsafe { self.0.as_ref() }
    }

    /// The event's fields, for one write.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    fn get_mut(&self) -> &mut ngx_event_t {
        // SAFETY: as get(); the worker is single-threaded and no other Rust
        // reference to the event is held across calls.
        unsafe { &mut *self.0.as_ptr() }
    }

    #[inline]
    pub fn timedout(self) -> bool {
        self.get().timedout() != 0
    }

    /// Whether the event fired for its timer; the flag is cleared, so the
    /// next wait starts afresh.
    #[inline]
    pub fn take_timedout(self) -> bool {
        let ev = self.get_mut();
        let t = ev.timedout() != 0;
        if t {
            ev.set_timedout(0);
        }
        t
    }

    #[inline]
    pub fn timer_set(self) -> bool {
        self.get().timer_set() != 0
    }

    /// Arms (or moves, nginx's lazy way) the event's timer.
    #[inline]
    pub fn add_timer(self, ms: ngx_msec_t) {
        // SAFETY: a live event (handle invariant).
        unsafe { ngx_add_timer(self.as_ptr(), ms) }
    }

    /// Disarms the timer, if set.
    #[inline]
    pub fn del_timer(self) {
        if self.timer_set() {
            // SAFETY: a live event whose timer is in the tree.
            unsafe { ngx_del_timer(self.as_ptr()) }
        }
    }

    /// Arms the timer for exactly `ms` from now (an earlier timer goes,
    /// even one nginx's lazy re-arming would keep).
    #[inline]
    pub fn reset_timer(self, ms: ngx_msec_t) {
        self.del_timer();
        self.add_timer(ms);
    }

    #[inline]
    pub fn posted(self) -> bool {
        self.get().posted() != 0
    }

    /// Queues the event for the next turn of the event loop.
    #[inline]
    pub fn post(self) {
        // SAFETY: a live event; nginx's posted queue of the worker.
        unsafe { ngx_post_event(self.as_ptr(), ptr::addr_of_mut!(ngx_posted_events)) }
    }

    /// Takes the event off the posted queue, if it is on it.
    #[inline]
    pub fn delete_posted(self) {
        if self.posted() {
            // SAFETY: a live event linked into a posted queue.
            unsafe { ngx_delete_posted_event(self.as_ptr()) }
        }
    }

    /// The event is readable or writable now.
    #[inline]
    pub fn ready(self) -> bool {
        self.get().ready() != 0
    }

    /// The peer closed its side (or is about to: a pending EOF).
    #[inline]
    pub fn eof(self) -> bool {
        let ev = self.get();
        ev.eof() != 0 || ev.pending_eof() != 0
    }

    #[inline]
    pub fn error(self) -> bool {
        self.get().error() != 0
    }

    /// `ngx_handle_read_event`: (re)registers a read event with the event
    /// method; false when that failed.
    #[inline]
    pub fn handle_read(self) -> bool {
        // SAFETY: a live read event of a live connection.
        unsafe { ngx_handle_read_event(self.as_ptr(), 0) == NGX_OK as ngx_int_t }
    }

    /// `ngx_handle_write_event`, as [`EventRef::handle_read`].
    #[inline]
    pub fn handle_write(self) -> bool {
        // SAFETY: a live write event of a live connection.
        unsafe { ngx_handle_write_event(self.as_ptr(), 0) == NGX_OK as ngx_int_t }
    }

    /// The event's log, as a handle.
    #[inline]
    pub fn log(self) -> log::Log {
        // SAFETY: an event's log is its connection's or the cycle's, which
        // outlive the event's use.
        unsafe { log::Log::from_raw(self.get().log) }
    }

    #[inline]
    pub(super) fn set_log(self, log: *mut ngx_log_t) {
        self.get_mut().log = log;
    }

    #[inline]
    pub(super) fn set_handler(self, h: ngx_event_handler_pt) {
        self.get_mut().handler = h;
    }
}

/// What an object that arms an [`Event`] does when it fires (its timer
/// expired, or its posted turn came).
pub trait OnEvent {
    fn on_event(&mut self, ev: EventRef);
}

/// An event of our own: a timer or a posted turn.
#[derive(Default)]
pub struct Event(Option<Box<ngx_event_t>>);

impl Event {
    pub const fn new() -> Event {
        Event(None)
    }

    /// The event, made (unarmed) on first use.
    fn handle_mut(&mut self) -> EventRef {
        let ev = self.0.get_or_insert_with(|| {
            // SAFETY: an all-zero ngx_event_t is nginx's unarmed event.
            Box::new(unsafe { core::mem::zeroed() })
        });
        EventRef(NonNull::from(&mut **ev))
    }

    /// A handle on the event, once it was made.
    #[inline]
    fn current(&self) -> Option<EventRef> {
        self.0.as_deref().map(|ev| EventRef(NonNull::from(ev)))
    }

    /// Makes `target.on_event` the event's handler; `log` is where nginx
    /// logs about the event.
    ///
    /// # Safety
    /// `target` stays valid at its address until the event is disarmed
    /// ([`Event::cancel`], or dropping the `Event`).
    pub unsafe fn set_handler<T: OnEvent>(&mut self, target: *mut T, log: *mut ngx_log_t) {
        let ev = self.handle_mut();
        let e = ev.get_mut();
        e.handler = Some(fire::<T>);
        e.data = target as *mut c_void;
        e.log = log;
    }

    /// A handle others may keep (a queue of waiters posts it).
    ///
    /// # Safety
    /// The handle is not used after this `Event` is dropped.
    pub unsafe fn handle(&mut self) -> EventRef {
        self.handle_mut()
    }

    pub fn add_timer(&mut self, ms: ngx_msec_t) {
        self.handle_mut().add_timer(ms);
    }

    pub fn timer_set(&self) -> bool {
        self.current().is_some_and(EventRef::timer_set)
    }

    pub fn posted(&self) -> bool {
        self.current().is_some_and(EventRef::posted)
    }

    /// Disarms the event: its timer and its posted turn go.
    pub fn cancel(&mut self) {
        if let Some(ev) = self.current() {
            ev.del_timer();
            ev.delete_posted();
        }
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        self.cancel();
    }
}

unsafe extern "C" fn fire<T: OnEvent>(ev: *mut ngx_event_t) {
    guard((), || {
        // SAFETY: nginx calls an event's handler with the live event; its
        // data is the target of Event::set_handler, valid while the event
        // is armed (that function's contract).
        unsafe {
            let t = &mut *((*ev).data as *mut T);
            t.on_event(EventRef(NonNull::new_unchecked(ev)));
        }
    })
}

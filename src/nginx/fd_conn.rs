//! [`FdConn`]: an nginx connection over a file descriptor that is not a
//! socket (a pipe), so its readiness comes from nginx's event loop like a
//! socket's: nginx's epoll/kqueue modules only need an fd. The owner reads
//! and writes the fd itself (`c->recv` would call `recv(2)`, which pipes
//! refuse).
use core::ffi::c_void;
use core::ptr::NonNull;

use nginx_sys::*;

/// An event handler nginx calls with the connection's read or write event.
pub type Handler = unsafe extern "C" fn(*mut ngx_event_t);

/// A connection taken from the cycle's pool for `fd`, closed (fd
/// included) by [`FdConn::close`].
#[derive(Debug)]
pub struct FdConn(NonNull<ngx_connection_t>);

impl FdConn {
    /// Takes a connection slot for `fd` with `data` and the two handlers;
    /// None when nginx has no free connection (it logs why).
    pub fn new(fd: i32, data: *mut c_void, on_read: Handler, on_write: Handler) -> Option<FdConn> {
        // SAFETY: the worker's cycle; the connection and its events are
        // nginx's until ngx_free_connection/ngx_close_connection.
        unsafe {
            let log = (*ngx_cycle).log;
            let c = NonNull::new(ngx_get_connection(fd, log))?;
            let cp = c.as_ptr();
            (*cp).data = data;
            (*cp).log = log;
            for (ev, h) in [((*cp).read, on_read), ((*cp).write, on_write)] {
                (*ev).handler = Some(h);
                (*ev).log = log;
            }
            // A pipe end is writable or readable at once for all nginx
            // knows; the first attempt finds out.
            (*(*cp).write).set_ready(1);
            Some(FdConn(c))
        }
    }

    /// The connection's data pointer, from one of its events.
    ///
    /// # Safety
    /// `ev` is the read or write event of a connection made by [`FdConn::new`].
    pub unsafe fn data_of(ev: *mut ngx_event_t) -> *mut c_void {
        // SAFETY: nginx sets an event's data to its connection.
        unsafe { (*((*ev).data as *mut ngx_connection_t)).data }
    }

    pub fn fd(&self) -> i32 {
        // SAFETY: the connection is ours until close().
        unsafe { (*self.0.as_ptr()).fd }
    }

    fn event(&self, write: bool) -> *mut ngx_event_t {
        // SAFETY: as fd().
        unsafe {
            let c = self.0.as_ptr();
            if write {
                (*c).write
            } else {
                (*c).read
            }
        }
    }

    /// Whether the last wake-up (or a timer) says the operation timed out;
    /// clears the flag.
    pub fn take_timedout(&self, write: bool) -> bool {
        let ev = self.event(write);
        // SAFETY: our connection's event.
        unsafe {
            let t = (*ev).timedout() != 0;
            (*ev).set_timedout(0);
            t
        }
    }

    /// Waits for the fd to be readable (or writable): registers the event
    /// with nginx and arms its timer (`ms` 0: no timer). False when the
    /// event could not be added.
    pub fn arm(&self, write: bool, ms: u32) -> bool {
        let ev = self.event(write);
        // SAFETY: our connection's event; nginx's event API.
        unsafe {
            (*ev).set_ready(0);
            let rc = if write {
                ngx_handle_write_event(ev, 0)
            } else {
                ngx_handle_read_event(ev, 0)
            };
            if rc != NGX_OK as ngx_int_t {
                return false;
            }
            if (*ev).timer_set() != 0 {
                ngx_del_timer(ev);
            }
            if ms > 0 {
                ngx_add_timer(ev, ms as ngx_msec_t);
            }
        }
        true
    }

    /// Stops waiting: deletes the event's timer and a posted wake-up.
    pub fn disarm(&self, write: bool) {
        let ev = self.event(write);
        // SAFETY: our connection's event.
        unsafe {
            if (*ev).timer_set() != 0 {
                ngx_del_timer(ev);
            }
            if (*ev).posted() != 0 {
                ngx_delete_posted_event(ev);
            }
        }
    }

    /// Closes the fd and gives the connection back (events and timers
    /// removed).
    pub fn close(self) {
        // SAFETY: our connection; ngx_close_connection deletes its events
        // and timers, closes the fd and frees the slot.
        unsafe {
            self.disarm(false);
            self.disarm(true);
            ngx_close_connection(self.0.as_ptr());
        }
    }
}

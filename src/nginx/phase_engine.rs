//! A request in nginx's phase engine, as a Lua handler that suspends and
//! resumes it sees it: who gets the request's read and write events, the
//! client connection's state (unsent data, a client that went away), and
//! the connection's posted subrequests.
use core::ptr::NonNull;

use nginx_sys::*;

use super::request::{Request, OK};
use super::sock::{peek, Peek};

/// What [`Request::check_client`] found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Client {
    Connected,
    /// The connection had already failed.
    Failed,
    /// The client closed it (found now).
    Closed,
}

impl Request {
    #[inline]
    fn conn(self) -> *mut ngx_connection_t {
        self.connection()
    }

    /// Write events do nothing (while Lua runs or waits, they belong to
    /// whatever it waits on).
    #[inline]
    pub fn ignore_write_events(self) {
        self.set_write_handler(Some(ngx_http_request_empty_handler));
    }

    /// Write events run the phase engine again (nginx's default while
    /// the phases run).
    #[inline]
    pub fn write_events_run_phases(self) {
        self.set_write_handler(Some(ngx_http_core_run_phases));
    }

    /// Read events are ignored (the client's data stays in the socket).
    #[inline]
    pub fn block_reads(self) {
        self.set_read_handler(Some(ngx_http_block_reading));
    }

    /// Whether the URI changed since nginx last looked for a location
    /// (`find_config` clears it).
    #[inline]
    pub fn uri_changed(self) -> bool {
        // SAFETY: a flag of the live request.
        unsafe { (*self.as_ptr()).uri_changed() != 0 }
    }

    // ---- the client connection ---------------------------------------------

    /// Whether the connection still holds output it could not send yet.
    #[inline]
    pub fn client_buffered(self) -> bool {
        // SAFETY: a live request has a live connection.
        unsafe { (*self.conn()).buffered() != 0 }
    }

    /// The connection's `buffered` flags and whether its write event is
    /// delayed by `limit_rate` (for upstream's debug line).
    #[inline]
    pub fn write_state(self) -> (u32, bool) {
        // SAFETY: a live request has a live connection and write event.
        unsafe {
            let c = self.conn();
            ((*c).buffered(), (*(*c).write).delayed() != 0)
        }
    }

    /// Asks for a write event once the client can take more, with the
    /// location's `send_timeout` when none is pending (`send_lowat` as
    /// nginx's own writers do). False when the event could not be armed.
    #[inline]
    pub fn wait_writable(self) -> bool {
        let clcf = self.core_loc_conf();
        // `send_lowat` is `size_t` or `ssize_t` depending on the version.
        #[allow(clippy::unnecessary_cast)]
        let lowat = clcf.send_lowat as usize;
        // SAFETY: the live request's connection and its write event, which
        // lives as long as the connection; nginx's event API.
        unsafe {
            let wev = (*self.conn()).write;
            if (*wev).ready() == 0 && (*wev).timer_set() == 0 {
                ngx_add_timer(wev, clcf.send_timeout);
            }
            ngx_handle_write_event(wev, lowat) == OK
        }
    }

    /// Whether the write event fired for its timer: the flag moves from
    /// the event to the connection, as nginx's writers do.
    #[inline]
    pub fn take_write_timeout(self) -> bool {
        // SAFETY: the live request's connection and its write event.
        unsafe {
            let c = self.conn();
            let wev = (*c).write;
            if (*wev).timedout() == 0 {
                return false;
            }
            (*wev).set_timedout(0);
            (*c).set_timedout(1);
            true
        }
    }

    /// Drops the write event's `send_timeout` timer, if any. A delayed
    /// event's timer is `limit_rate`'s: the write filter sends nothing
    /// more until it fires, so it stays.
    #[inline]
    pub fn stop_write_timer(self) {
        // SAFETY: the live request's connection and its write event; a set
        // timer is in nginx's timer tree.
        unsafe {
            let wev = (*self.conn()).write;
            if (*wev).timer_set() != 0 && (*wev).delayed() == 0 {
                ngx_del_timer(wev);
            }
        }
    }

    /// Whether the client closed its side of the connection, peeking so
    /// that pipelined data stays. A client found gone has its read event
    /// marked (eof, and error for a socket error). With level-triggered
    /// event methods (poll, select), which would report the same pending
    /// data for ever, reading is blocked as nginx does.
    #[inline]
    pub fn check_client(self) -> Client {
        let c = self.conn();
        // SAFETY: the live request's connection and its read event.
        unsafe {
            if (*c).error() != 0 {
                return Client::Failed;
            }
            let rev = (*c).read;
            let state = peek((*c).fd);
            if (ngx_event_flags & NGX_USE_LEVEL_EVENT as ngx_uint_t) != 0 && (*rev).active() != 0 {
                ngx_http_block_reading(self.as_ptr());
            }
            if matches!(state, Peek::Data | Peek::WouldBlock) {
                return Client::Connected;
            }
            (*rev).set_eof(1);
            if state == Peek::Error {
                (*rev).set_error(1);
            }
        }
        Client::Closed
    }

    /// The connection's posted subrequests, to run after something that
    /// may end this request (a resumed handler).
    #[inline]
    pub fn posted_requests(self) -> PostedRequests {
        PostedRequests(NonNull::new(self.conn()).expect("a request has a connection"))
    }
}

/// The posted subrequests of a client connection. Usable after the
/// request it came from ended: connections are slots of the cycle's array,
/// and a closed one is marked `destroyed`, which nginx checks first.
pub struct PostedRequests(NonNull<ngx_connection_t>);

impl PostedRequests {
    /// Runs them, as nginx's own event handlers do after theirs.
    #[inline]
    pub fn run(self) {
        // SAFETY: a slot of the cycle's connection array (see the type);
        // nginx's own request event handlers make this call the same way.
        unsafe { ngx_http_run_posted_requests(self.0.as_ptr()) }
    }
}

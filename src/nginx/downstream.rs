//! [`Downstream`]: a request's client side as a byte stream, for code that
//! reads the request body itself or takes over the connection
//! (`ngx.req.socket`): the body's accounting in `r->request_body`, the
//! bytes nginx read ahead with the header, `Expect: 100-continue`, and
//! handing an unread rest back to nginx's discarding.
use core::ptr;

use nginx_sys::*;

use super::connection::Connection;
use super::panic::guard;
use super::request::{Request, OK};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Downstream(Request);

impl Downstream {
    pub fn of(r: Request) -> Downstream {
        Downstream(r)
    }

    pub fn request(self) -> Request {
        self.0
    }

    /// The request's fields, for one read.
    fn get(&self) -> &ngx_http_request_t {
        // SAFETY: a Request handle is a live request; the borrow ends with
        // the caller's expression.
        unsafe { &*self.0.as_ptr() }
    }

    /// The request's fields, for one write.
    #[allow(clippy::mut_from_ref)]
    fn get_mut(&self) -> &mut ngx_http_request_t {
        // SAFETY: as get(); single-threaded worker, no other Rust reference
        // to the request is held across calls.
        unsafe { &mut *self.0.as_ptr() }
    }

    pub fn connection(self) -> Connection {
        Connection::of_request(self.0)
    }

    /// The request came over HTTP/2 (its body is not a byte stream of
    /// the connection).
    pub fn is_http2(self) -> bool {
        !self.get().stream.is_null()
    }

    /// The body is chunked (`Transfer-Encoding: chunked`).
    pub fn chunked(self) -> bool {
        self.get().headers_in.chunked() != 0
    }

    /// nginx is discarding the body.
    pub fn discarding(self) -> bool {
        self.get().discard_body() != 0
    }

    /// `Content-Length`, or -1 without one.
    pub fn content_length(self) -> off_t {
        self.get().headers_in.content_length_n
    }

    /// The bytes of body left to read, when someone reads (or read) it:
    /// `None` when no reader claimed the body.
    pub fn body_rest(self) -> Option<off_t> {
        let rb = self.get().request_body;
        // SAFETY: the request's body record lives in its pool.
        (!rb.is_null()).then(|| unsafe { (*rb).rest })
    }

    /// Claims the body for a reader of our own: an empty body record with
    /// `rest` bytes to come keeps nginx's readers away. False without
    /// memory.
    pub fn claim_body(self, rest: off_t) -> bool {
        let Some(p) = self
            .0
            .alloc(core::mem::size_of::<ngx_http_request_body_t>())
        else {
            return false;
        };
        let rb = p.as_ptr() as *mut ngx_http_request_body_t;
        // SAFETY: fresh pool memory the size of the record; all zeroes is
        // nginx's empty record (ngx_pcalloc's result).
        unsafe {
            ptr::write_bytes(rb, 0, 1);
            (*rb).rest = rest;
        }
        self.get_mut().request_body = rb;
        true
    }

    /// Counts `n` body bytes read by our reader.
    pub fn consume_body(self, n: usize) {
        let r = self.get_mut();
        r.request_length += n as off_t;
        if !r.request_body.is_null() {
            // SAFETY: the request's body record lives in its pool.
            unsafe { (*r.request_body).rest -= n as off_t };
        }
    }

    /// Moves at most `max` bytes that nginx read past the header into
    /// `buf`; how many.
    pub fn take_read_ahead(self, buf: &mut Vec<u8>, max: usize) -> usize {
        let hin = self.get().header_in;
        if hin.is_null() || max == 0 {
            return 0;
        }
        // SAFETY: the header buffer's pos..last are bytes read from the
        // client, in memory of the connection or the request pool.
        unsafe {
            let avail = (*hin).last.offset_from((*hin).pos) as usize;
            let n = avail.min(max);
            if n > 0 {
                buf.extend_from_slice(core::slice::from_raw_parts((*hin).pos, n));
                (*hin).pos = (*hin).pos.add(n);
            }
            n
        }
    }

    /// Answers `Expect: 100-continue` before the body is read, as nginx's
    /// own body reader does; false when the answer could not go out.
    pub fn answer_expect(self) -> bool {
        let r = self.get_mut();
        let e = r.headers_in.expect;
        if r.expect_tested() != 0
            || e.is_null()
            || r.http_version < NGX_HTTP_VERSION_11 as ngx_uint_t
        {
            return true;
        }
        r.set_expect_tested(1);
        // SAFETY: a header of the request, its value in the request pool.
        let v = unsafe { super::request::str_bytes(&(*e).value) };
        if !v.eq_ignore_ascii_case(b"100-continue") {
            return true;
        }
        let msg = b"HTTP/1.1 100 Continue\r\n\r\n";
        // Such a small packet goes out at once, as nginx assumes too.
        self.connection().send(msg) == msg.len() as isize
    }

    /// The connection is no longer HTTP after this request: no keepalive,
    /// and a lingering close so the client reads what was sent.
    pub fn end_http(self) {
        let r = self.get_mut();
        r.set_keepalive(0);
        r.set_lingering_close(1);
    }

    /// The response of the request is complete while a reader of ours left
    /// part of the body unread: nginx's discarding takes over the rest, as
    /// for a body nobody read. Left in place, the unread bytes would be
    /// parsed as the next request on a keepalive connection.
    pub fn discard_unread(self) {
        let r = self.get_mut();
        let rb = r.request_body;
        // SAFETY: the request's body record lives in its pool.
        if r.main != self.0.as_ptr() || rb.is_null() || unsafe { (*rb).rest } <= 0 {
            return;
        }
        if r.reading_body() != 0 {
            return;
        }
        // SAFETY: as above.
        let rest = unsafe { (*rb).rest };
        r.headers_in.content_length_n = rest;
        // SAFETY: as above.
        unsafe { (*rb).rest = 0 };
        r.request_body = ptr::null_mut();
        // SAFETY: nginx's body API on the live main request, whose body
        // nobody reads any more.
        if unsafe { ngx_http_discard_request_body(self.0.as_ptr()) } != OK {
            self.get_mut().set_keepalive(0);
        }
    }
}

/// Code that handles a request's read or write events
/// (`r->read_event_handler`, `r->write_event_handler`).
pub trait OnRequestEvent {
    fn on_event(r: Request);
}

/// The request event handler that runs `H::on_event`.
pub fn handler<H: OnRequestEvent>() -> ngx_http_event_handler_pt {
    Some(request_event::<H>)
}

/// nginx's handler that stops reading the client (and watches for it
/// closing the connection, where the event method tells).
pub fn block_reading() -> ngx_http_event_handler_pt {
    Some(ngx_http_block_reading)
}

/// nginx's handler that ignores the event.
pub fn empty_handler() -> ngx_http_event_handler_pt {
    Some(ngx_http_request_empty_handler)
}

impl Downstream {
    /// Stops reading the client now, as nginx's `ngx_http_block_reading`.
    pub fn block_reading(self) {
        // SAFETY: nginx's handler, called with the live request.
        unsafe { ngx_http_block_reading(self.0.as_ptr()) }
    }
}

unsafe extern "C" fn request_event<H: OnRequestEvent>(r: *mut ngx_http_request_t) {
    guard((), || {
        // SAFETY: nginx calls a request's event handlers with the live
        // request.
        if let Some(r) = unsafe { Request::from_raw(r) } {
            H::on_event(r);
        }
    })
}

//! `ngx.req.socket()`: request sockets on the client connection. The body
//! socket reads the request body (pre-read bytes first, never past
//! `Content-Length`); the raw socket (`ngx.req.socket(true)`) reads and
//! writes the connection itself once nginx stopped sending.
//!
//! The connection stays nginx's: its events reach us through the request's
//! read/write event handlers, which this module points at the request's
//! socket while an operation waits.
use core::ptr;

use nginx_sys::*;

use super::tcp::{Kind, Tcp};
use crate::http::RequestCtx;

/// What `recv` returns when the client went away before the body ended.
pub const CLIENT_ABORTED: isize = -100;

/// Creates the request socket of `ctx`'s request, or says why not (the
/// `nil, err` texts of upstream).
///
/// # Safety
/// `ctx` is the running request's live context.
pub unsafe fn open(ctx: &mut RequestCtx, raw: bool) -> Result<*mut Tcp, &'static str> {
    let r = ctx.r;
    // SAFETY: the live main request and its connection.
    unsafe {
        let c = (*r).connection;
        if !raw && (*r).headers_in.chunked() != 0 {
            return Err("chunked request bodies not supported yet");
        }
        if raw {
            let rb = (*r).request_body;
            if !rb.is_null() {
                if (*rb).rest > 0 {
                    return Err("pending request body reading in some other thread");
                }
            } else {
                // Keeps other body readers away from the connection.
                let rb = ngx_pcalloc((*r).pool, core::mem::size_of::<ngx_http_request_body_t>())
                    as *mut ngx_http_request_body_t;
                if rb.is_null() {
                    return Err("no memory");
                }
                (*r).request_body = rb;
            }
            if (*c).buffered() & NGX_HTTP_LOWLEVEL_BUFFERED != 0 {
                return Err("pending data to write");
            }
            // nginx must not send a response header of its own any more.
            (*r).set_header_sent(1);
            if ctx.output.raw_socket {
                return Err("duplicate call");
            }
            ctx.output.raw_socket = true;
            (*r).set_keepalive(0);
            (*r).set_lingering_close(1);
        } else {
            if !(*r).request_body.is_null() {
                return Err("request body already exists");
            }
            if (*r).discard_body() != 0 {
                return Err("request body discarded");
            }
            if (*r).headers_in.content_length_n <= 0 {
                return Err("no body");
            }
            if !test_expect(r) {
                return Err("test expect failed");
            }
            let rb = ngx_pcalloc((*r).pool, core::mem::size_of::<ngx_http_request_body_t>())
                as *mut ngx_http_request_body_t;
            if rb.is_null() {
                return Err("no memory");
            }
            (*rb).rest = (*r).headers_in.content_length_n;
            (*r).request_body = rb;
        }
        let mut s = Tcp::new(&mut ctx.lua);
        s.kind = if raw { Kind::Raw } else { Kind::Body };
        s.c = c;
        let s = Box::into_raw(s);
        (*s).attach();
        // client_header/body_timeout no longer apply; our own do.
        if (*(*c).read).timer_set() != 0 {
            ngx_del_timer((*c).read);
        }
        if raw && (*(*c).write).timer_set() != 0 {
            ngx_del_timer((*c).write);
        }
        Ok(s)
    }
}

/// Answers `Expect: 100-continue` before the body is read, as nginx's own
/// body reader does.
unsafe fn test_expect(r: *mut ngx_http_request_t) -> bool {
    // SAFETY: the live request and its connection.
    unsafe {
        let e = (*r).headers_in.expect;
        if (*r).expect_tested() != 0
            || e.is_null()
            || (*r).http_version < NGX_HTTP_VERSION_11 as ngx_uint_t
        {
            return true;
        }
        (*r).set_expect_tested(1);
        let v = core::slice::from_raw_parts((*e).value.data, (*e).value.len);
        if !v.eq_ignore_ascii_case(b"100-continue") {
            return true;
        }
        let msg = b"HTTP/1.1 100 Continue\r\n\r\n";
        let c = (*r).connection;
        let Some(send) = (*c).send else {
            return false;
        };
        // Such a small packet goes out at once, as nginx assumes too.
        send(c, msg.as_ptr() as *mut u8, msg.len()) == msg.len() as isize
    }
}

/// The response of `r` is complete while a body socket left part of the
/// body unread: nginx's discarding takes over the rest, as for a body
/// nobody read. Left in place, the unread bytes would be parsed as the next
/// request on a keepalive connection (upstream's socket buffer usually
/// swallows a small body whole, so the pipelined request stays intact).
///
/// # Safety
/// `r` is a live request; no Lua code reads its body socket any more.
pub unsafe fn discard_unread(r: *mut ngx_http_request_t) {
    // SAFETY: live request; nginx's documented body API. A body socket's
    // `ngx_http_request_body_t` is the only one with bytes left while
    // nginx's own reader is not running.
    unsafe {
        let rb = (*r).request_body;
        if r != (*r).main || rb.is_null() || (*rb).rest <= 0 || (*r).reading_body() != 0 {
            return;
        }
        (*r).headers_in.content_length_n = (*rb).rest;
        (*rb).rest = 0;
        (*r).request_body = ptr::null_mut();
        if ngx_http_discard_request_body(r) != NGX_OK as ngx_int_t {
            (*r).set_keepalive(0);
        }
    }
}

fn request(s: &Tcp) -> *mut ngx_http_request_t {
    // SAFETY: a request socket only reads and writes while its request lives.
    unsafe { s.ctx.as_ref().map_or(ptr::null_mut(), |ctx| ctx.r) }
}

/// Reads at most `want` bytes for a request socket: bytes nginx already
/// read past the header first, then the connection; a body socket stops at
/// the end of the body (0, as at end of file).
///
/// # Safety
/// `buf` holds `want` bytes; `s` is a connected request socket.
pub unsafe fn recv(s: &mut Tcp, buf: *mut u8, want: usize) -> isize {
    let r = request(s);
    // SAFETY: the live request, its header buffer and connection.
    unsafe {
        let mut want = want;
        let rb = (*r).request_body;
        let body = s.kind == Kind::Body;
        if body {
            // Null once discard_unread() handed the rest to nginx.
            if rb.is_null() || (*rb).rest <= 0 {
                return 0;
            }
            want = want.min((*rb).rest as usize);
        }
        let hin = (*r).header_in;
        let preread = if hin.is_null() {
            0
        } else {
            (*hin).last.offset_from((*hin).pos) as usize
        };
        let n = if preread > 0 {
            let n = want.min(preread);
            ptr::copy_nonoverlapping((*hin).pos, buf, n);
            (*hin).pos = (*hin).pos.add(n);
            n as isize
        } else {
            let c = s.c;
            let Some(recv) = (*c).recv else {
                return NGX_ERROR as isize;
            };
            let n = recv(c, buf, want);
            if n == 0 && (body || crate::conf::loc_conf(r).check_client_abort.unwrap_or(false)) {
                return CLIENT_ABORTED;
            }
            n
        };
        if body && n > 0 {
            (*r).request_length += n as off_t;
            (*rb).rest -= n as off_t;
        }
        n
    }
}

/// While a request socket's read waits, the request's read events are its.
///
/// # Safety
/// `s` is a request socket of a live request.
pub unsafe fn watch_reads(s: &mut Tcp) {
    let r = request(s);
    // SAFETY: live request.
    unsafe {
        let cur = (*r).read_event_handler;
        if cur.map(|f| f as usize) != Some(read_handler as *const () as usize) {
            s.saved_read_handler = cur;
        }
        (*r).read_event_handler = Some(read_handler);
    }
}

/// Gives the request's read events back to whoever had them (the
/// client-abort watcher when it is on).
///
/// # Safety
/// `s` is a request socket of a live request.
pub unsafe fn unwatch_reads(s: &mut Tcp) {
    let r = request(s);
    if r.is_null() {
        return;
    }
    // SAFETY: live request.
    unsafe {
        (*r).read_event_handler = s.saved_read_handler.take().or(Some(ngx_http_block_reading));
    }
}

/// A raw socket's send waits for the client connection to drain.
///
/// # Safety
/// `s` is a raw request socket of a live request.
pub unsafe fn wait_writable(s: &mut Tcp) {
    let r = request(s);
    // SAFETY: live request.
    unsafe { (*r).write_event_handler = Some(write_handler) };
}

/// # Safety
/// `s` is a raw request socket of a live request.
pub unsafe fn done_writing(s: &mut Tcp) {
    let r = request(s);
    // SAFETY: live request.
    unsafe { (*r).write_event_handler = Some(ngx_http_request_empty_handler) };
}

/// A request socket lets go of the client connection (end of the body, an
/// error, the request's end): our timers and handlers go, the connection
/// stays nginx's.
///
/// # Safety
/// `s` is a connected request socket.
pub unsafe fn finish_reading(s: &mut Tcp) {
    let r = request(s);
    // SAFETY: the client connection outlives the request's cleanups.
    unsafe {
        let c = s.c;
        if (*(*c).read).timer_set() != 0 {
            ngx_del_timer((*c).read);
        }
        if s.kind == Kind::Raw && (*(*c).write).timer_set() != 0 {
            ngx_del_timer((*c).write);
        }
        if r.is_null() {
            return;
        }
        if s.busy_writing() {
            done_writing(s);
        }
        unwatch_reads(s);
    }
}

unsafe fn socket_of(r: *mut ngx_http_request_t) -> Option<&'static mut Tcp> {
    // SAFETY: the request's context owns the pointer to its live socket
    // (the socket's end clears it).
    unsafe {
        let ctx = RequestCtx::get(r)?;
        let s = Tcp::of_request(ctx)?;
        s.connected().then_some(s)
    }
}

unsafe extern "C" fn read_handler(r: *mut ngx_http_request_t) {
    // SAFETY: nginx calls the request's read handler with a live request.
    unsafe {
        match socket_of(r) {
            Some(s) => s.on_readable((*(*r).connection).read),
            None => ngx_http_block_reading(r),
        }
    }
}

unsafe extern "C" fn write_handler(r: *mut ngx_http_request_t) {
    // SAFETY: nginx calls the request's write handler with a live request.
    unsafe {
        match socket_of(r) {
            Some(s) => s.on_writable((*(*r).connection).write),
            None => (*r).write_event_handler = Some(ngx_http_request_empty_handler),
        }
    }
}

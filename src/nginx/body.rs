//! The client request body: reading it with nginx's body reader (and a
//! post handler of the caller's), discarding it, and what Lua reads of
//! it: the bytes in memory, the temp file. Replacing it: `body_set.rs`.
use core::marker::PhantomData;

use nginx_sys::*;

use super::panic::guard;
use super::request::{str_bytes, Rc, Request};

/// What runs when nginx has read a request body for
/// [`Request::read_client_body`].
pub trait BodyReader {
    /// Called from nginx's post handler: at once, inside
    /// `read_client_body`, when the body was already there, otherwise
    /// from the event that completed it. The read holds a reference on
    /// the main request that the reader drops or hands on. True when it
    /// ran Lua code from the event: the connection's posted subrequests
    /// run afterwards, as after nginx's own event handlers (the request
    /// may be gone by then).
    fn done(r: Request) -> bool;
}

unsafe extern "C" fn post_handler<H: BodyReader>(r: *mut ngx_http_request_t) {
    guard((), || {
        // SAFETY: nginx calls a body's post handler with the live request
        // whose body it read.
        let Some(r) = (unsafe { Request::from_raw(r) }) else {
            return;
        };
        let c = r.connection();
        if H::done(r) {
            // SAFETY: nginx's connections live in the cycle's connection
            // array; one closed meanwhile is marked destroyed, which
            // ngx_http_run_posted_requests checks first (nginx's own
            // request event handlers rely on it the same way).
            unsafe { ngx_http_run_posted_requests(c) }
        }
    })
}

impl Request {
    /// Starts reading the client body, kept as Lua's body APIs expect it:
    /// in one buffer, or in a temp file that stays until the request ends
    /// and is deleted then. nginx's status: `OK` (read; `H::done` has
    /// run), `AGAIN` (`H::done` runs when it is), else `ERROR` or an HTTP
    /// status (413, 400, ...) to end the request with.
    pub fn read_client_body<H: BodyReader>(self) -> Rc {
        // SAFETY: the live request, in a phase handler (nginx's body
        // reader needs the connection it reads from, which a live request
        // has).
        unsafe {
            let r = self.as_ptr();
            (*r).set_request_body_in_single_buf(1);
            (*r).set_request_body_in_persistent_file(1);
            (*r).set_request_body_in_clean_file(1);
            ngx_http_read_client_request_body(r, Some(post_handler::<H>))
        }
    }

    /// Reads and drops the client body (`ngx_http_discard_request_body`).
    pub fn discard_client_body(self) -> Rc {
        // SAFETY: the live request; nginx decides from its own fields
        // whether there is anything to discard.
        unsafe { ngx_http_discard_request_body(self.as_ptr()) }
    }

    /// Runs the request's content handler and returns its status, as
    /// nginx's content phase does (for a handler that waited for the body
    /// before it could run); `DECLINED` without one.
    pub fn run_content_handler(self) -> Rc {
        // SAFETY: nginx sets content_handler from the location's handler
        // when it finds the location; it takes the live request.
        unsafe {
            match (*self.as_ptr()).content_handler {
                Some(h) => h(self.as_ptr()),
                None => NGX_DECLINED as Rc,
            }
        }
    }

    /// nginx is discarding the body (or has): there is none to read.
    pub fn discarding_client_body(self) -> bool {
        // SAFETY: a field of the live request.
        unsafe { (*self.as_ptr()).discard_body() != 0 }
    }

    /// The body was read (or one was set), even if empty.
    pub fn has_client_body(self) -> bool {
        // SAFETY: a field of the live request.
        unsafe { !(*self.as_ptr()).request_body.is_null() }
    }

    /// The request body nginx read or Lua set, for one read.
    fn request_body(&self) -> Option<&ngx_http_request_body_t> {
        // SAFETY: null or the body record in the request pool; the borrow
        // of the handle ends before nginx runs again.
        unsafe { (*self.as_ptr()).request_body.as_ref() }
    }

    /// The name of the temp file the body is in, if it is in one.
    pub fn client_body_file(&self) -> Option<&[u8]> {
        let rb = self.request_body()?;
        // SAFETY: a body's temp file record lives in the request pool.
        let tf = unsafe { rb.temp_file.as_ref() }?;
        Some(str_bytes(&tf.file.name))
    }

    /// The body's total length when it is all in memory; `None` when there
    /// is none, it is empty, or part of it is in a temp file.
    pub fn client_body_len(self) -> Option<usize> {
        if self.discarding_client_body() {
            return None;
        }
        let rb = self.request_body()?;
        if !rb.temp_file.is_null() {
            return None;
        }
        let mut n = 0usize;
        for b in Bufs::of(rb) {
            if b.in_file() != 0 && b.memory() == 0 && b.temporary() == 0 {
                return None;
            }
            n += buf_bytes(b).len();
        }
        // An empty body reads as nil, as upstream.
        (n > 0).then_some(n)
    }

    /// Copies the in-memory body (see [`Request::client_body_len`]) into
    /// `buf`, as much as fits; returns the length copied.
    pub fn copy_client_body(self, buf: &mut [u8]) -> usize {
        let Some(rb) = self.request_body() else {
            return 0;
        };
        let mut n = 0usize;
        for b in Bufs::of(rb) {
            let src = buf_bytes(b);
            let len = src.len().min(buf.len() - n);
            buf[n..n + len].copy_from_slice(&src[..len]);
            n += len;
        }
        n
    }
}

/// The buffers of a request body's chain.
struct Bufs<'a>(*mut ngx_chain_t, PhantomData<&'a ngx_http_request_body_t>);

impl<'a> Bufs<'a> {
    fn of(rb: &'a ngx_http_request_body_t) -> Bufs<'a> {
        Bufs(rb.bufs, PhantomData)
    }
}

impl<'a> Iterator for Bufs<'a> {
    type Item = &'a ngx_buf_t;

    fn next(&mut self) -> Option<&'a ngx_buf_t> {
        // SAFETY: a request body's chain: links and buffers in the request
        // pool, each link with a buffer, unchanged while the body is
        // borrowed.
        unsafe {
            let cl = self.0.as_ref()?;
            self.0 = cl.next;
            cl.buf.as_ref()
        }
    }
}

/// The bytes of a memory buffer between `pos` and `last`.
fn buf_bytes(b: &ngx_buf_t) -> &[u8] {
    if b.pos.is_null() || b.last <= b.pos {
        return &[];
    }
    // SAFETY: a buffer's pos..last lies in its memory.
    unsafe { core::slice::from_raw_parts(b.pos, b.last.offset_from(b.pos) as usize) }
}

//! `ngx.req.socket()`: request sockets on the client connection. The body
//! socket reads the request body (pre-read bytes first, never past
//! `Content-Length`); the raw socket (`ngx.req.socket(true)`) reads and
//! writes the connection itself once nginx stopped sending.
//!
//! The connection stays nginx's: its events reach us through the request's
//! read/write event handlers, which this module points at the request's
//! socket while an operation waits.
use super::tcp::{Kind, Tcp, CLIENT_ABORTED};
use crate::conf::LocConf;
use crate::http::RequestCtx;
use crate::nginx::connection::Connection;
use crate::nginx::downstream::{self, Downstream, OnRequestEvent};
use crate::nginx::request::{Request, ERROR};

/// Creates the request socket of `ctx`'s request (the caller attaches it
/// where it stays), or says why not (the `nil, err` texts of upstream).
pub fn open(ctx: &mut RequestCtx, raw: bool) -> Result<Tcp, &'static str> {
    let r = ctx.req();
    let d = Downstream::of(r);
    let c = d.connection();
    if !raw && d.chunked() {
        return Err("chunked request bodies not supported yet");
    }
    if raw {
        match d.body_rest() {
            Some(rest) if rest > 0 => {
                return Err("pending request body reading in some other thread");
            }
            Some(_) => {}
            // Keeps other body readers away from the connection.
            None if !d.claim_body(0) => return Err("no memory"),
            None => {}
        }
        if c.lowlevel_buffered() {
            return Err("pending data to write");
        }
        // Output held back for an HTTP/1.0 response's length would be
        // lost once the connection is Lua's.
        if ctx.output.buffering {
            return Err("http 1.0 buffering");
        }
        // nginx must not send a response header of its own any more.
        r.set_header_sent();
        if ctx.output.raw_socket {
            return Err("duplicate call");
        }
        ctx.output.raw_socket = true;
        d.end_http();
    } else {
        if d.body_rest().is_some() {
            return Err("request body already exists");
        }
        if d.discarding() {
            return Err("request body discarded");
        }
        if d.content_length() <= 0 {
            return Err("no body");
        }
        if !d.answer_expect() {
            return Err("test expect failed");
        }
        if !d.claim_body(d.content_length()) {
            return Err("no memory");
        }
    }
    let mut s = Tcp::new(&mut ctx.lua);
    s.kind = if raw { Kind::Raw } else { Kind::Body };
    s.c = Some(c);
    // client_header/body_timeout no longer apply; our own do.
    c.read().del_timer();
    if raw {
        c.write().del_timer();
    }
    Ok(s)
}

/// The response of `r` is complete while a body socket left part of the
/// body unread: nginx's discarding takes over the rest, as for a body
/// nobody read. Left in place, the unread bytes would be parsed as the next
/// request on a keepalive connection (upstream's socket buffer usually
/// swallows a small body whole, so the pipelined request stays intact).
///
/// # Safety
/// `r` is a live request; no Lua code reads its body socket any more.
pub unsafe fn discard_unread(r: *mut nginx_sys::ngx_http_request_t) {
    // SAFETY: the caller's contract.
    if let Some(r) = unsafe { Request::from_raw(r) } {
        Downstream::of(r).discard_unread();
    }
}

/// Whether two request event handlers are the same function.
fn same(a: nginx_sys::ngx_http_event_handler_pt, b: nginx_sys::ngx_http_event_handler_pt) -> bool {
    a.map(|f| f as usize) == b.map(|f| f as usize)
}

impl Tcp {
    /// Reads at most `want` bytes for a request socket of `r` into `buf`:
    /// bytes nginx already read past the header first, then the
    /// connection; a body socket stops at the end of the body (0, as at
    /// end of file).
    pub(super) fn recv_client(
        r: Option<Request>,
        c: Connection,
        kind: Kind,
        buf: &mut Vec<u8>,
        want: usize,
    ) -> isize {
        let Some(r) = r else {
            return ERROR;
        };
        let d = Downstream::of(r);
        let body = kind == Kind::Body;
        let mut want = want;
        if body {
            // None once discard_unread() handed the rest to nginx.
            match d.body_rest() {
                Some(rest) if rest > 0 => want = want.min(rest as usize),
                _ => return 0,
            }
        }
        let n = match d.take_read_ahead(buf, want) {
            0 => {
                let n = c.recv_append(buf, want);
                if n == 0 && (body || LocConf::of(r).check_client_abort.unwrap_or(false)) {
                    return CLIENT_ABORTED;
                }
                n
            }
            n => n as isize,
        };
        if body && n > 0 {
            d.consume_body(n as usize);
        }
        n
    }

    /// While a request socket's read waits, the request's read events are
    /// its.
    pub(super) fn watch_reads(&mut self) {
        let Some(r) = self.request() else {
            return;
        };
        let h = &mut self.req_handlers;
        let cur = r.read_handler();
        if h.ours_read.is_none() || !same(cur, h.ours_read) {
            h.saved_read = cur;
        }
        h.ours_read = downstream::handler::<SocketReads>();
        r.set_read_handler(h.ours_read);
    }

    /// Gives the request's read events back to whoever had them (the
    /// client-abort watcher when it is on).
    pub(super) fn unwatch_reads(&mut self) {
        let Some(r) = self.request() else {
            return;
        };
        let h = &mut self.req_handlers;
        // Only while we hold them: a second call (the body's end after a
        // read that already gave them back) would take them from the
        // client-abort watcher.
        if h.ours_read.take().is_none() {
            return;
        }
        r.set_read_handler(h.saved_read.take().or(downstream::block_reading()));
    }

    /// A raw socket's send waits for the client connection to drain.
    pub(super) fn wait_writable(&mut self) {
        if let Some(r) = self.request() {
            r.set_write_handler(downstream::handler::<SocketWrites>());
        }
    }

    pub(super) fn done_writing(&mut self) {
        if let Some(r) = self.request() {
            r.set_write_handler(downstream::empty_handler());
        }
    }

    /// A request socket lets go of the client connection `c` (end of the
    /// body, an error, the request's end): our timers and handlers go, the
    /// connection stays nginx's.
    pub(super) fn finish_reading(&mut self, c: Connection) {
        c.read().del_timer();
        if self.kind == Kind::Raw {
            c.write().del_timer();
        }
        if self.request().is_none() {
            return;
        }
        if self.busy_writing() {
            self.done_writing();
        }
        self.unwatch_reads();
    }
}

/// The request socket of `r`, while connected.
fn socket_of(r: Request) -> Option<&'static mut Tcp> {
    // SAFETY: a Request handle is a live request; its context (if any)
    // lives in its pool.
    let ctx = unsafe { RequestCtx::get(r.as_ptr()) }?;
    Tcp::of_request(ctx)
}

/// The request's read events while a request socket's read waits.
struct SocketReads;

impl OnRequestEvent for SocketReads {
    fn on_event(r: Request) {
        match socket_of(r) {
            Some(s) => s.on_readable(Connection::of_request(r).read()),
            None => Downstream::of(r).block_reading(),
        }
    }
}

/// The request's write events while a raw socket's send waits.
struct SocketWrites;

impl OnRequestEvent for SocketWrites {
    fn on_event(r: Request) {
        match socket_of(r) {
            Some(s) => s.on_writable(Connection::of_request(r).write()),
            None => r.set_write_handler(downstream::empty_handler()),
        }
    }
}

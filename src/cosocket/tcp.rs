//! ngx.socket.tcp: the socket object, send, receive, close, keepalive.
//! Connecting is in `connect.rs`, TLS in `ssl.rs`, the request sockets of
//! `ngx.req.socket` in `req.rs`.
use core::ffi::c_void;
use core::ptr;

use nginx_sys::*;

use super::pool::{self, Pool};
use super::receive_until::{self, Step as Until};
use crate::lua::coctx::CoCtx;
use crate::lua::ctx::RequestCtx;
use crate::nginx::log;
use crate::nginx::sock::errno;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RecvMode {
    Line,
    All,
    Size(usize),
    Any(usize),
    /// receiveuntil: data before `until_pat`, at most `size` bytes a call
    /// when `size > 0`.
    Until {
        size: usize,
        inclusive: bool,
    },
}

#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub(super) enum Pending {
    None,
    /// Waiting in a full pool's queue (`backlog`).
    Queued,
    Resolve,
    Connect,
    Handshake,
    Send,
}

/// What the socket is connected to.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum Kind {
    /// A connection of our own (ngx.socket.tcp/udp).
    Upstream,
    /// `ngx.req.socket()`: reads the request body from the client.
    Body,
    /// `ngx.req.socket(true)`: the client connection itself.
    Raw,
}

/// Outcome of an operation, read by the Lua side (`ngx_lua_ffi_socket_tcp_result`).
pub struct Done {
    pub ok: bool,
    pub err: String,
    /// Received data, or the partial data of a failed receive.
    pub data: Vec<u8>,
    pub sent: usize,
    /// receiveuntil saw its pattern.
    pub found: bool,
    /// The OpenSSL verify result of a failed handshake (0: none).
    pub ssl_code: i64,
}

impl Done {
    pub fn ok() -> Done {
        Done {
            ok: true,
            err: String::new(),
            data: Vec::new(),
            sent: 0,
            found: false,
            ssl_code: 0,
        }
    }
}

pub struct Tcp {
    pub c: *mut ngx_connection_t,
    pub ctx: *mut RequestCtx,
    pub kind: Kind,
    pub connect_timeout: ngx_msec_t,
    pub send_timeout: ngx_msec_t,
    pub read_timeout: ngx_msec_t,
    pub log_errors: bool,
    pub default_pool_size: usize,
    pub keepalive_timeout: ngx_msec_t,
    pub(super) buf: Vec<u8>,
    pub(super) pos: usize,
    send_buf: Vec<u8>,
    send_off: usize,
    pub(super) reader: *mut CoCtx,
    pub(super) writer: *mut CoCtx,
    /// The write-side operation under way (connect steps, send).
    pub(super) pending: Pending,
    /// The receive under way (reads and writes may wait at the same time).
    pub(super) recv_mode: Option<RecvMode>,
    pub done: Done,
    pub key: Vec<u8>,
    pub reused: u32,
    /// The pool whose connection count includes this socket (null: none).
    pub(super) pool: *mut Pool,
    pub(super) peer_name: Vec<u8>,
    pub(super) sockaddr: Vec<u8>,
    pub(super) name: ngx_str_t,
    /// The host and port as given to connect (queued connects, logs).
    pub(super) target_host: Vec<u8>,
    pub(super) target_port: u16,
    pub until_pat: Vec<u8>,
    until_found: bool,
    /// A datagram socket (ngx.socket.udp): one receive is one datagram.
    pub udp: bool,
    pub(super) resolve_name: Vec<u8>,
    pub(super) resolve_port: u16,
    pub(super) rctx: *mut ngx_resolver_ctx_t,
    pub(super) in_resolve_call: bool,
    /// bind(): local address for the next connect.
    pub(super) local_sa: Vec<u8>,
    pub(super) local: ngx_addr_t,
    pub(super) pc: ngx_peer_connection_t,
    /// The queued connect's timer, and its turn (posted).
    pub(super) queue_ev: ngx_event_t,
    /// sslhandshake: the server name to check, verification on, whether
    /// the session is wanted, and the session it produced.
    pub(super) ssl_name: Vec<u8>,
    pub(super) ssl_verify: bool,
    pub(super) ssl_want_session: bool,
    pub ssl_session: *mut SSL_SESSION,
}

/// What a call did: finished now, or the caller must yield.
pub enum Step {
    Now,
    Wait,
}

pub(super) fn errno_str(err: i32) -> String {
    // SAFETY: strerror returns a static (thread-local) C string.
    let s = unsafe { core::ffi::CStr::from_ptr(libc::strerror(err)) };
    // LuaSocket style, as upstream: "connection refused".
    s.to_string_lossy().to_lowercase()
}

impl Tcp {
    pub fn new(ctx: &mut RequestCtx) -> Box<Tcp> {
        // SAFETY: ctx is the creating request's live context; its location
        // conf carries the socket defaults.
        let lcf = unsafe { crate::conf::loc_conf(ctx.r) };
        Box::new(Tcp {
            c: ptr::null_mut(),
            ctx,
            kind: Kind::Upstream,
            connect_timeout: lcf.socket_connect_timeout(),
            send_timeout: lcf.socket_send_timeout(),
            read_timeout: lcf.socket_read_timeout(),
            log_errors: lcf.socket_log_errors(),
            default_pool_size: lcf.socket_pool_size(),
            keepalive_timeout: lcf.socket_keepalive_timeout(),
            buf: Vec::new(),
            pos: 0,
            send_buf: Vec::new(),
            send_off: 0,
            reader: ptr::null_mut(),
            writer: ptr::null_mut(),
            pending: Pending::None,
            recv_mode: None,
            done: Done::ok(),
            key: Vec::new(),
            reused: 0,
            pool: ptr::null_mut(),
            peer_name: Vec::new(),
            sockaddr: Vec::new(),
            name: ngx_str_t {
                len: 0,
                data: ptr::null_mut(),
            },
            target_host: Vec::new(),
            target_port: 0,
            until_pat: Vec::new(),
            until_found: false,
            udp: false,
            resolve_name: Vec::new(),
            resolve_port: 0,
            rctx: ptr::null_mut(),
            in_resolve_call: false,
            local_sa: Vec::new(),
            // SAFETY: an all-zero ngx_addr_t is "no address".
            local: unsafe { core::mem::zeroed() },
            // SAFETY: an all-zero peer connection is its initial state.
            pc: unsafe { core::mem::zeroed() },
            // SAFETY: an all-zero event is nginx's "unarmed" event.
            queue_ev: unsafe { core::mem::zeroed() },
            ssl_name: Vec::new(),
            ssl_verify: false,
            ssl_want_session: false,
            ssl_session: ptr::null_mut(),
        })
    }

    pub fn connected(&self) -> bool {
        !self.c.is_null()
    }

    pub fn busy_connecting(&self) -> bool {
        matches!(
            self.pending,
            Pending::Queued | Pending::Resolve | Pending::Connect | Pending::Handshake
        )
    }

    pub fn busy_reading(&self) -> bool {
        !self.reader.is_null()
    }

    pub fn busy_writing(&self) -> bool {
        !self.writer.is_null()
    }

    pub fn downstream(&self) -> bool {
        self.kind != Kind::Upstream
    }

    pub(super) fn request_log(&self) -> *mut ngx_log_t {
        // SAFETY: ctx (when set) is the live owner request.
        unsafe {
            match self.ctx.as_ref() {
                Some(ctx) => (*(*ctx.r).connection).log,
                None => log::cycle_log(),
            }
        }
    }

    pub(super) fn fail(&mut self, err: impl Into<String>, partial: Vec<u8>) {
        self.done = Done {
            ok: false,
            err: err.into(),
            data: partial,
            sent: 0,
            found: false,
            ssl_code: 0,
        };
    }

    /// Registers this socket with its request so the request's end closes
    /// it and forgets the request (the socket itself lives as long as its
    /// Lua object).
    pub fn attach(&mut self) {
        // SAFETY: ctx is the live owner request.
        if let Some(ctx) = unsafe { self.ctx.as_mut() } {
            let me: *mut Tcp = self;
            if !ctx.sockets.contains(&me) {
                ctx.sockets.push(me);
            }
        }
    }

    fn detach(&mut self) {
        // SAFETY: as in attach.
        if let Some(ctx) = unsafe { self.ctx.as_mut() } {
            let me: *mut Tcp = self;
            ctx.sockets.retain(|&s| s != me);
            if ctx.downstream == me {
                ctx.downstream = ptr::null_mut();
            }
        }
    }

    /// Closes the connection (not pooled) and gives back its pool slot. A
    /// thread waiting on it stays recorded, so the handler that noticed the
    /// failure can wake it. A request socket only lets go of the client
    /// connection.
    pub(super) fn close_conn(&mut self) {
        if !self.c.is_null() {
            if self.downstream() {
                // SAFETY: the live client connection; only our timers go.
                unsafe { super::req::finish_reading(self) };
            } else {
                // SAFETY: our connection; nginx removes its events and timers.
                unsafe { pool::close_connection(self.c) };
            }
            self.c = ptr::null_mut();
        }
        if !self.pool.is_null() {
            let p = core::mem::replace(&mut self.pool, ptr::null_mut());
            // SAFETY: we held one of its slots, so it is alive.
            unsafe { pool::release(p) };
        }
        self.buf.clear();
        self.pos = 0;
    }

    /// `close()` from Lua, a killed waiting thread, or the request's end:
    /// whatever is under way is abandoned and nobody waits any more.
    pub fn close(&mut self) {
        // SAFETY: the queue event, resolver context and pool are ours.
        unsafe {
            match self.pending {
                Pending::Queued => {
                    if let Some(p) = self.pool.as_mut() {
                        pool::dequeue(p, self);
                    }
                }
                Pending::Resolve if !self.rctx.is_null() => {
                    ngx_resolve_name_done(self.rctx);
                    self.rctx = ptr::null_mut();
                }
                _ => {}
            }
            if self.queue_ev.timer_set() != 0 {
                ngx_del_timer(&mut self.queue_ev);
            }
            if self.queue_ev.posted() != 0 {
                ngx_delete_posted_event(&mut self.queue_ev);
            }
        }
        self.close_conn();
        for t in [self.reader, self.writer] {
            // SAFETY: a recorded waiter is a live thread (see wake()).
            if let Some(t) = unsafe { t.as_mut() } {
                t.socket = ptr::null_mut();
            }
        }
        self.reader = ptr::null_mut();
        self.writer = ptr::null_mut();
        self.pending = Pending::None;
        self.recv_mode = None;
        self.free_session();
    }

    /// The request ended: close and forget it.
    pub fn orphan(&mut self) {
        self.close();
        self.ctx = ptr::null_mut();
    }

    /// A thread waiting on this socket was killed: abandon what it waited
    /// for, as upstream's coroutine cleanup does.
    pub fn abort_wait(&mut self, t: *mut CoCtx) {
        if self.reader == t || self.writer == t {
            self.close();
        }
    }

    /// Points the connection's events at this socket.
    pub(super) fn adopt(&mut self) {
        // SAFETY: our live connection.
        unsafe {
            let c = self.c;
            (*c).data = self as *mut Tcp as *mut c_void;
            (*(*c).read).handler = Some(read_handler);
            (*(*c).write).handler = Some(write_handler);
            let log = self.request_log();
            (*c).log = log;
            (*(*c).read).log = log;
            (*(*c).write).log = log;
            if !(*c).pool.is_null() {
                (*(*c).pool).log = log;
            }
        }
    }

    /// Sends `data`, waiting if the socket buffer is full.
    pub fn send(&mut self, data: &[u8], me: *mut CoCtx) -> Step {
        self.send_buf.clear();
        self.send_buf.extend_from_slice(data);
        self.send_off = 0;
        match self.try_send() {
            Some(()) => Step::Now,
            None => {
                self.pending = Pending::Send;
                self.writer = me;
                // SAFETY: our live connection (or the client's).
                unsafe {
                    let wev = (*self.c).write;
                    if (*wev).timer_set() == 0 {
                        ngx_add_timer(wev, self.send_timeout);
                    }
                    if self.kind == Kind::Raw {
                        super::req::wait_writable(self);
                    }
                    if ngx_handle_write_event(wev, 0) != NGX_OK as isize {
                        self.writer = ptr::null_mut();
                        self.pending = Pending::None;
                        self.close_conn();
                        self.fail("failed to arm the write event", Vec::new());
                        return Step::Now;
                    }
                }
                Step::Wait
            }
        }
    }

    /// Writes what is left; `Some` when done (ok or failed), `None` to wait.
    fn try_send(&mut self) -> Option<()> {
        // SAFETY: our live connection; send() writes at most len bytes.
        unsafe {
            let c = self.c;
            while self.send_off < self.send_buf.len() {
                let rest = &self.send_buf[self.send_off..];
                let Some(send) = (*c).send else {
                    break;
                };
                let n = send(c, rest.as_ptr() as *mut u8, rest.len());
                if n > 0 {
                    self.send_off += n as usize;
                    continue;
                }
                if n == NGX_AGAIN as isize {
                    return None;
                }
                let e = errno();
                self.close_conn();
                self.fail(
                    if e != 0 {
                        errno_str(e)
                    } else {
                        "closed".into()
                    },
                    Vec::new(),
                );
                return Some(());
            }
        }
        self.done = Done {
            sent: self.send_buf.len(),
            ..Done::ok()
        };
        Some(())
    }

    /// Receives per `mode`, waiting if not enough data arrived yet.
    pub fn receive(&mut self, mode: RecvMode, me: *mut CoCtx) -> Step {
        if self.downstream() {
            // SAFETY: a request socket of the live request.
            unsafe { super::req::watch_reads(self) };
        }
        match self.try_recv(mode) {
            Some(()) => {
                if self.downstream() {
                    // SAFETY: as above.
                    unsafe { super::req::unwatch_reads(self) };
                }
                Step::Now
            }
            None => {
                self.recv_mode = Some(mode);
                self.reader = me;
                // SAFETY: our live connection.
                unsafe {
                    let rev = (*self.c).read;
                    if (*rev).timer_set() != 0 {
                        ngx_del_timer(rev);
                    }
                    ngx_add_timer(rev, self.read_timeout);
                    if ngx_handle_read_event(rev, 0) != NGX_OK as isize {
                        self.reader = ptr::null_mut();
                        self.recv_mode = None;
                        self.close_conn();
                        self.fail("failed to arm the read event", Vec::new());
                        return Step::Now;
                    }
                }
                Step::Wait
            }
        }
    }

    pub(super) fn take(&mut self, n: usize, skip: usize) -> Vec<u8> {
        let out = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n + skip;
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        out
    }

    /// Answers from the buffer if it can.
    fn answer_from_buffer(&mut self, mode: RecvMode, eof: bool) -> Option<Vec<u8>> {
        let n_avail = self.buf.len() - self.pos;
        match mode {
            RecvMode::Line => {
                let i = self.buf[self.pos..].iter().position(|&b| b == b'\n')?;
                let mut line = self.take(i, 1);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                Some(line)
            }
            RecvMode::Size(n) => (n_avail >= n).then(|| self.take(n, 0)),
            RecvMode::Any(max) => (n_avail > 0).then(|| self.take(n_avail.min(max), 0)),
            RecvMode::All => eof.then(|| self.take(n_avail, 0)),
            RecvMode::Until { size, inclusive } => {
                let plen = self.until_pat.len();
                match receive_until::step(&self.buf[self.pos..], &self.until_pat, size) {
                    Until::Found(i) => {
                        self.until_found = true;
                        Some(if inclusive {
                            self.take(i + plen, 0)
                        } else {
                            self.take(i, plen)
                        })
                    }
                    Until::Chunk(n) => Some(self.take(n, 0)),
                    Until::Wait => None,
                }
            }
        }
    }

    /// Reads until `mode` is satisfied; `Some` when done, `None` to wait.
    pub(super) fn try_recv(&mut self, mode: RecvMode) -> Option<()> {
        self.until_found = false;
        if self.udp {
            return self.try_recv_datagram(mode);
        }
        if let RecvMode::Size(0) = mode {
            self.done = Done::ok();
            return Some(());
        }
        loop {
            if let Some(data) = self.answer_from_buffer(mode, false) {
                self.done = Done {
                    data,
                    found: self.until_found,
                    ..Done::ok()
                };
                return Some(());
            }
            if self.pos > 0 && self.pos * 2 > self.buf.len() {
                self.buf.drain(..self.pos);
                self.pos = 0;
            }
            let want = match mode {
                RecvMode::Size(n) => (n - (self.buf.len() - self.pos)).clamp(1, 1 << 16),
                _ => 4096,
            };
            self.buf.reserve(want);
            let len = self.buf.len();
            // SAFETY: the read writes at most `want` bytes into reserved space.
            let n = unsafe {
                if self.downstream() {
                    let at = self.buf.as_mut_ptr().add(len);
                    super::req::recv(self, at, want)
                } else {
                    let c = self.c;
                    let Some(recv) = (*c).recv else {
                        return Some(());
                    };
                    recv(c, self.buf.as_mut_ptr().add(len), want)
                }
            };
            if n > 0 {
                // SAFETY: the read initialised n bytes past len.
                unsafe { self.buf.set_len(len + n as usize) };
                continue;
            }
            if n == NGX_AGAIN as isize {
                return None;
            }
            if n == 0 {
                if mode == RecvMode::All {
                    let data = self.answer_from_buffer(mode, true).unwrap_or_default();
                    self.done = Done {
                        data,
                        found: self.until_found,
                        ..Done::ok()
                    };
                    self.close_conn();
                    return Some(());
                }
                let partial = self.take(self.buf.len() - self.pos, 0);
                self.close_conn();
                self.fail("closed", partial);
                return Some(());
            }
            let e = if n == super::req::CLIENT_ABORTED {
                None
            } else {
                Some(errno())
            };
            let partial = self.take(self.buf.len() - self.pos, 0);
            self.close_conn();
            self.fail(
                match e {
                    None => "client aborted".into(),
                    Some(0) => "closed".into(),
                    Some(e) => errno_str(e),
                },
                partial,
            );
            return Some(());
        }
    }

    /// Puts the connection into the keepalive pool. `Err(Some(n))`: no pool
    /// exists and `n` is not a valid size for one (a Lua argument error).
    pub fn set_keepalive(
        &mut self,
        timeout: Option<ngx_msec_t>,
        size: Option<i64>,
    ) -> Result<(), Result<&'static str, i64>> {
        if self.c.is_null() {
            return Err(Ok("closed"));
        }
        // SAFETY: our live connection.
        let (eof, bad) = unsafe {
            let c = self.c;
            let (rev, wev) = ((*c).read, (*c).write);
            (
                (*rev).eof() != 0 || (*rev).pending_eof() != 0,
                (*rev).error() != 0 || (*wev).error() != 0 || (*wev).timedout() != 0,
            )
        };
        if eof {
            return Err(Ok("closed"));
        }
        if self.busy_connecting() {
            return Err(Ok("socket busy connecting"));
        }
        if self.busy_reading() {
            return Err(Ok("socket busy reading"));
        }
        if self.busy_writing() {
            return Err(Ok("socket busy writing"));
        }
        if self.pos < self.buf.len() {
            return Err(Ok("unread data in buffer"));
        }
        if bad {
            return Err(Ok("invalid connection"));
        }
        if self.downstream() {
            return Err(Ok("not supported for downstream sockets"));
        }
        let c = self.c;
        let counted = !self.pool.is_null();
        // SAFETY: the connection is ours and goes to the pool; the pool
        // takes over our slot.
        let r = unsafe {
            pool::put(
                &self.key,
                c,
                self.reused,
                counted,
                timeout.unwrap_or(self.keepalive_timeout),
                size,
                self.default_pool_size,
                self.request_log(),
            )
        };
        match r {
            Ok(()) => {
                self.c = ptr::null_mut();
                self.pool = ptr::null_mut();
                self.close_conn();
                Ok(())
            }
            Err(pool::PutError::BadSize(n)) => Err(Err(n)),
            Err(pool::PutError::Dubious) => {
                self.c = ptr::null_mut();
                self.pool = ptr::null_mut();
                self.close_conn();
                Err(Ok("connection in dubious state"))
            }
        }
    }

    /// Resumes the thread waiting as reader or writer.
    pub(super) fn wake(&mut self, reader: bool) {
        let t = if reader {
            self.recv_mode = None;
            core::mem::replace(&mut self.reader, ptr::null_mut())
        } else {
            self.pending = Pending::None;
            core::mem::replace(&mut self.writer, ptr::null_mut())
        };
        // SAFETY: the waiting thread is live (its request's end orphans this
        // socket first, clearing reader/writer; killing it closes us).
        unsafe {
            let Some(tr) = t.as_mut() else {
                return;
            };
            tr.socket = ptr::null_mut();
            crate::phase::resume_from_event(t)
        };
    }

    /// One datagram of at most `Any(size)` bytes.
    fn try_recv_datagram(&mut self, mode: RecvMode) -> Option<()> {
        // No datagram is larger; a NaN or huge size from Lua arrives as
        // 2^63 and must not become the allocation size.
        let size = match mode {
            RecvMode::Any(n) => n.min(65536),
            _ => 65536,
        };
        let mut data = vec![0u8; size];
        // SAFETY: our connected datagram socket; recv writes at most size.
        let n = unsafe {
            let c = self.c;
            let Some(recv) = (*c).recv else {
                return Some(());
            };
            recv(c, data.as_mut_ptr(), size)
        };
        if n >= 0 {
            data.truncate(n as usize);
            self.done = Done { data, ..Done::ok() };
            return Some(());
        }
        if n == NGX_AGAIN as isize {
            return None;
        }
        let e = errno();
        self.fail(
            if e != 0 {
                errno_str(e)
            } else {
                "closed".into()
            },
            Vec::new(),
        );
        Some(())
    }

    /// A read event (or its timeout) for a waiting receive.
    pub(super) unsafe fn on_readable(&mut self, rev: *mut ngx_event_t) {
        let Some(mode) = self.recv_mode else {
            return;
        };
        // SAFETY: the live connection's read event.
        unsafe {
            if (*rev).timedout() != 0 {
                (*rev).set_timedout(0);
                if self.log_errors {
                    let msg: &[u8] = if self.udp {
                        b"lua udp socket read timed out"
                    } else {
                        b"lua tcp socket read timed out"
                    };
                    log::log_error(NGX_LOG_ERR, (*rev).log, msg);
                }
                let partial = self.take(self.buf.len() - self.pos, 0);
                if self.downstream() {
                    super::req::unwatch_reads(self);
                }
                self.fail("timeout", partial);
                self.wake(true);
                return;
            }
            if self.try_recv(mode).is_none() {
                if ngx_handle_read_event(rev, 0) != NGX_OK as isize {
                    self.close_conn();
                    self.fail("failed to arm the read event", Vec::new());
                    self.wake(true);
                }
                return;
            }
            if !self.c.is_null() && (*rev).timer_set() != 0 {
                ngx_del_timer(rev);
            }
            if self.downstream() {
                super::req::unwatch_reads(self);
            }
            self.wake(true);
        }
    }

    /// A write event (or its timeout) for a waiting send.
    pub(super) unsafe fn on_writable(&mut self, wev: *mut ngx_event_t) {
        if self.pending != Pending::Send {
            return;
        }
        // SAFETY: the live connection's write event.
        unsafe {
            if (*wev).timedout() != 0 {
                (*wev).set_timedout(0);
                if self.log_errors {
                    log::log_error(NGX_LOG_ERR, (*wev).log, b"lua tcp socket write timed out");
                }
                self.close_conn();
                self.fail("timeout", Vec::new());
                self.wake(false);
                return;
            }
            if self.try_send().is_none() {
                if ngx_handle_write_event(wev, 0) != NGX_OK as isize {
                    self.close_conn();
                    self.fail("failed to arm the write event", Vec::new());
                    self.wake(false);
                }
                return;
            }
            if !self.c.is_null() && (*wev).timer_set() != 0 {
                ngx_del_timer(wev);
            }
            if self.kind == Kind::Raw {
                super::req::done_writing(self);
            }
            self.wake(false);
        }
    }
}

impl Drop for Tcp {
    fn drop(&mut self) {
        self.detach();
        self.close();
    }
}

unsafe extern "C" fn read_handler(rev: *mut ngx_event_t) {
    // SAFETY: the connection's data is the Tcp that adopted it.
    unsafe {
        let c = (*rev).data as *mut ngx_connection_t;
        let s = &mut *((*c).data as *mut Tcp);
        s.on_readable(rev);
    }
}

pub(super) unsafe extern "C" fn write_handler(wev: *mut ngx_event_t) {
    // SAFETY: the connection's data is the Tcp that adopted it.
    unsafe {
        let c = (*wev).data as *mut ngx_connection_t;
        let s = &mut *((*c).data as *mut Tcp);
        match s.pending {
            Pending::Connect => {
                s.connect_finished();
                s.wake(false);
            }
            Pending::Send => s.on_writable(wev),
            _ => {}
        }
    }
}

impl Tcp {
    /// `bind(address, port?)`: the local address of the next connection.
    pub fn bind(&mut self, address: &[u8], port: u16) -> Result<(), String> {
        match super::addr::parse(address, Some(port)) {
            Ok(peer @ super::addr::Peer::Inet(_)) => {
                self.local_sa = super::addr::sockaddr(&peer).0;
                Ok(())
            }
            _ => Err("bad address".into()),
        }
    }

    /// `setoption(name, value)` on the connected socket.
    pub fn set_option(&mut self, name: &[u8], value: i32) -> Result<(), String> {
        if self.c.is_null() {
            return Err("closed".into());
        }
        let (level, opt) = match name {
            b"keepalive" => (libc::SOL_SOCKET, libc::SO_KEEPALIVE),
            b"reuseaddr" => (libc::SOL_SOCKET, libc::SO_REUSEADDR),
            b"tcp-nodelay" => (libc::IPPROTO_TCP, libc::TCP_NODELAY),
            b"sndbuf" => (libc::SOL_SOCKET, libc::SO_SNDBUF),
            b"rcvbuf" => (libc::SOL_SOCKET, libc::SO_RCVBUF),
            _ => {
                return Err(format!(
                    "unsupported option {}",
                    String::from_utf8_lossy(name)
                ))
            }
        };
        // SAFETY: a connected socket's fd; the option value is a C int.
        let rc = unsafe {
            libc::setsockopt(
                (*self.c).fd,
                level,
                opt,
                &value as *const i32 as *const c_void,
                core::mem::size_of::<i32>() as libc::socklen_t,
            )
        };
        if rc == -1 {
            return Err(errno_str(errno()));
        }
        Ok(())
    }
}

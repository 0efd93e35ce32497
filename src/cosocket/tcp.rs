//! ngx.socket.tcp: connect, send, receive, close, keepalive.
use core::ffi::c_void;
use core::ptr;

use nginx_sys::*;

use super::addr::{self, Peer};
use super::pool;
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

#[derive(PartialEq, Eq)]
enum Pending {
    None,
    Resolve,
    Connect,
    Send,
    Recv(RecvMode),
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
}

pub struct Tcp {
    pub c: *mut ngx_connection_t,
    pub ctx: *mut RequestCtx,
    pub connect_timeout: ngx_msec_t,
    pub send_timeout: ngx_msec_t,
    pub read_timeout: ngx_msec_t,
    pub log_errors: bool,
    pub pool_size: usize,
    pub keepalive_timeout: ngx_msec_t,
    buf: Vec<u8>,
    pos: usize,
    send_buf: Vec<u8>,
    send_off: usize,
    reader: *mut CoCtx,
    writer: *mut CoCtx,
    pending: Pending,
    pub done: Done,
    pub key: Vec<u8>,
    pub reused: u32,
    peer_name: Vec<u8>,
    sockaddr: Vec<u8>,
    name: ngx_str_t,
    pub until_pat: Vec<u8>,
    until_found: bool,
    /// A datagram socket (ngx.socket.udp): one receive is one datagram.
    pub udp: bool,
    resolve_name: Vec<u8>,
    resolve_port: u16,
    in_resolve_call: bool,
    /// bind(): local address for the next connect.
    local_sa: Vec<u8>,
    local: ngx_addr_t,
    pc: ngx_peer_connection_t,
}

/// What a call did: finished now, or the caller must yield.
pub enum Step {
    Now,
    Wait,
}

fn errno_str(err: i32) -> String {
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
            connect_timeout: lcf.socket_connect_timeout(),
            send_timeout: lcf.socket_send_timeout(),
            read_timeout: lcf.socket_read_timeout(),
            log_errors: lcf.socket_log_errors(),
            pool_size: lcf.socket_pool_size(),
            keepalive_timeout: lcf.socket_keepalive_timeout(),
            buf: Vec::new(),
            pos: 0,
            send_buf: Vec::new(),
            send_off: 0,
            reader: ptr::null_mut(),
            writer: ptr::null_mut(),
            pending: Pending::None,
            done: Done {
                ok: true,
                err: String::new(),
                data: Vec::new(),
                sent: 0,
                found: false,
            },
            key: Vec::new(),
            reused: 0,
            peer_name: Vec::new(),
            sockaddr: Vec::new(),
            name: ngx_str_t {
                len: 0,
                data: ptr::null_mut(),
            },
            until_pat: Vec::new(),
            until_found: false,
            udp: false,
            resolve_name: Vec::new(),
            resolve_port: 0,
            in_resolve_call: false,
            local_sa: Vec::new(),
            // SAFETY: an all-zero ngx_addr_t is "no address".
            local: unsafe { core::mem::zeroed() },
            // SAFETY: an all-zero peer connection is its initial state.
            pc: unsafe { core::mem::zeroed() },
        })
    }

    pub fn connected(&self) -> bool {
        !self.c.is_null()
    }

    pub fn busy_reading(&self) -> bool {
        !self.reader.is_null()
    }

    pub fn busy_writing(&self) -> bool {
        !self.writer.is_null()
    }

    fn request_log(&self) -> *mut ngx_log_t {
        // SAFETY: ctx (when set) is the live owner request.
        unsafe {
            match self.ctx.as_ref() {
                Some(ctx) => (*(*ctx.r).connection).log,
                None => log::cycle_log(),
            }
        }
    }

    fn fail(&mut self, err: impl Into<String>, partial: Vec<u8>) {
        self.done = Done {
            ok: false,
            err: err.into(),
            data: partial,
            sent: 0,
            found: false,
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
        }
    }

    /// Closes the connection (not pooled). A thread waiting on it stays
    /// recorded, so the handler that noticed the failure can wake it.
    fn close_conn(&mut self) {
        if !self.c.is_null() {
            // SAFETY: our connection; nginx removes its events and timers.
            unsafe { ngx_close_connection(self.c) };
            self.c = ptr::null_mut();
        }
        self.buf.clear();
        self.pos = 0;
    }

    /// `close()` from Lua, or the request's end: nobody waits any more.
    pub fn close(&mut self) {
        self.close_conn();
        self.reader = ptr::null_mut();
        self.writer = ptr::null_mut();
        self.pending = Pending::None;
    }

    /// The request ended: close and forget it.
    pub fn orphan(&mut self) {
        self.close();
        self.ctx = ptr::null_mut();
    }

    /// Starts connecting to `host` (`port` for IP hosts). `pool` overrides
    /// the keepalive pool name.
    pub fn connect(
        &mut self,
        host: &[u8],
        port: Option<u16>,
        pool: Option<&[u8]>,
        me: *mut CoCtx,
    ) -> Step {
        self.close();
        let peer = match addr::parse(host, port) {
            Ok(p) => p,
            Err(true) => return self.resolve(host, port.unwrap_or(0), pool, me),
            Err(false) => {
                self.fail("bad address", Vec::new());
                return Step::Now;
            }
        };
        self.peer_name = match (&peer, port) {
            (Peer::Inet(a), _) => a.to_string().into_bytes(),
            (Peer::Unix(_), _) => host.to_vec(),
        };
        self.key = match pool {
            Some(p) => p.to_vec(),
            None => match &peer {
                Peer::Inet(a) => format!("{}:{}", a.ip(), a.port()).into_bytes(),
                Peer::Unix(_) => host.to_vec(),
            },
        };
        if self.take_pooled() {
            return Step::Now;
        }
        self.reused = 0;
        let (sa, _) = addr::sockaddr(&peer);
        self.sockaddr = sa;
        self.connect_sockaddr(me)
    }

    /// Connects to `self.sockaddr` (the peer connection is set up here).
    fn connect_sockaddr(&mut self, me: *mut CoCtx) -> Step {
        let len = self.sockaddr.len() as u32;
        self.name = ngx_str_t {
            len: self.peer_name.len(),
            data: self.peer_name.as_mut_ptr(),
        };
        // SAFETY: the peer connection points at our own buffers, which live
        // as long as the Tcp; ngx_event_connect_peer takes a socket and a
        // connection slot.
        unsafe {
            self.pc = core::mem::zeroed();
            self.pc.sockaddr = self.sockaddr.as_mut_ptr() as *mut sockaddr;
            self.pc.socklen = len;
            self.pc.name = &mut self.name;
            self.pc.get = Some(ngx_event_get_peer);
            if self.udp {
                self.pc.type_ = libc::SOCK_DGRAM;
            }
            if !self.local_sa.is_empty() {
                self.local.sockaddr = self.local_sa.as_mut_ptr() as *mut sockaddr;
                self.local.socklen = self.local_sa.len() as socklen_t;
                self.pc.local = &mut self.local;
            }
            self.pc.log = self.request_log();
            self.pc
                .set_log_error(ngx_connection_log_error_e_NGX_ERROR_ERR as _);
            let rc = ngx_event_connect_peer(&mut self.pc);
            if rc == NGX_ERROR as isize || rc == NGX_BUSY as isize || rc == NGX_DECLINED as isize {
                let e = errno();
                if !self.pc.connection.is_null() {
                    ngx_close_connection(self.pc.connection);
                }
                self.fail(
                    if e != 0 {
                        errno_str(e)
                    } else {
                        "failed to connect".into()
                    },
                    Vec::new(),
                );
                return Step::Now;
            }
            self.c = self.pc.connection;
            self.adopt();
            if rc == NGX_OK as isize {
                self.done = Done {
                    ok: true,
                    err: String::new(),
                    data: Vec::new(),
                    sent: 0,
                    found: false,
                };
                return Step::Now;
            }
            // NGX_AGAIN: the write event tells when the connect finished.
            ngx_add_timer((*self.c).write, self.connect_timeout);
        }
        self.pending = Pending::Connect;
        self.writer = me;
        Step::Wait
    }

    /// Reuses an idle connection of this socket's pool, if there is one.
    fn take_pooled(&mut self) -> bool {
        if self.udp {
            return false;
        }
        let Some((c, reused)) = pool::take(&self.key) else {
            return false;
        };
        self.c = c;
        self.reused = reused + 1;
        self.adopt();
        self.done = Done {
            ok: true,
            err: String::new(),
            data: Vec::new(),
            sent: 0,
            found: false,
        };
        true
    }

    /// Resolves `host` with the location's `resolver`, then connects.
    fn resolve(&mut self, host: &[u8], port: u16, pool: Option<&[u8]>, me: *mut CoCtx) -> Step {
        self.resolve_name = host.to_vec();
        self.resolve_port = port;
        self.peer_name = format!("{}:{port}", String::from_utf8_lossy(host)).into_bytes();
        self.key = match pool {
            Some(p) => p.to_vec(),
            None => self.peer_name.clone(),
        };
        if self.take_pooled() {
            return Step::Now;
        }
        // SAFETY: the request's core loc conf holds the resolver; the
        // resolver context's name points at our buffer, which outlives it.
        unsafe {
            let Some(ctx) = self.ctx.as_ref() else {
                self.fail("no request", Vec::new());
                return Step::Now;
            };
            let clcf = *(*ctx.r).loc_conf.add(ngx_http_core_module.ctx_index)
                as *mut ngx_http_core_loc_conf_t;
            let mut temp: ngx_resolver_ctx_t = core::mem::zeroed();
            temp.name = ngx_str_t {
                len: self.resolve_name.len(),
                data: self.resolve_name.as_mut_ptr(),
            };
            let rctx = ngx_resolve_start((*clcf).resolver, &mut temp);
            if rctx.is_null() {
                self.fail("failed to start the resolver", Vec::new());
                return Step::Now;
            }
            if rctx as isize == -1 {
                self.fail(
                    format!(
                        "no resolver defined to resolve \"{}\"",
                        String::from_utf8_lossy(host)
                    ),
                    Vec::new(),
                );
                return Step::Now;
            }
            (*rctx).name = ngx_str_t {
                len: self.resolve_name.len(),
                data: self.resolve_name.as_mut_ptr(),
            };
            (*rctx).handler = Some(resolved);
            (*rctx).data = self as *mut Tcp as *mut c_void;
            (*rctx).timeout = (*clcf).resolver_timeout;
            self.pending = Pending::Resolve;
            self.writer = me;
            self.in_resolve_call = true;
            let rc = ngx_resolve_name(rctx);
            self.in_resolve_call = false;
            if rc != NGX_OK as isize {
                self.pending = Pending::None;
                self.writer = ptr::null_mut();
                self.fail("failed to resolve", Vec::new());
                return Step::Now;
            }
        }
        match self.pending {
            // Resolved from the cache and connected (or failed) at once.
            Pending::None => {
                self.writer = ptr::null_mut();
                Step::Now
            }
            _ => Step::Wait,
        }
    }

    /// Points the connection's events at this socket.
    fn adopt(&mut self) {
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
        }
    }

    fn connect_finished(&mut self) {
        // SAFETY: our live connection, its socket just became writable.
        unsafe {
            let c = self.c;
            let wev = (*c).write;
            if (*wev).timedout() != 0 {
                if self.log_errors {
                    log::log_error(
                        NGX_LOG_ERR,
                        (*c).log,
                        format!(
                            "lua tcp socket connect timed out, when connecting to {}",
                            String::from_utf8_lossy(&self.peer_name)
                        )
                        .as_bytes(),
                    );
                }
                self.close_conn();
                self.fail("timeout", Vec::new());
                return;
            }
            if (*wev).timer_set() != 0 {
                ngx_del_timer(wev);
            }
            let mut err: libc::c_int = 0;
            let mut len = core::mem::size_of::<libc::c_int>() as libc::socklen_t;
            if libc::getsockopt(
                (*c).fd,
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                &mut err as *mut _ as *mut c_void,
                &mut len,
            ) == -1
            {
                err = errno();
            }
            if err != 0 {
                if self.log_errors {
                    log::log_error(
                        NGX_LOG_ERR,
                        (*c).log,
                        format!(
                            "lua tcp socket connect() failed ({}), when connecting to {}",
                            errno_str(err),
                            String::from_utf8_lossy(&self.peer_name)
                        )
                        .as_bytes(),
                    );
                }
                self.close_conn();
                self.fail(errno_str(err), Vec::new());
                return;
            }
        }
        self.done = Done {
            ok: true,
            err: String::new(),
            data: Vec::new(),
            sent: 0,
            found: false,
        };
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
                // SAFETY: our live connection.
                unsafe {
                    let wev = (*self.c).write;
                    if (*wev).timer_set() == 0 {
                        ngx_add_timer(wev, self.send_timeout);
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
            ok: true,
            err: String::new(),
            data: Vec::new(),
            sent: self.send_buf.len(),
            found: false,
        };
        Some(())
    }

    /// Receives per `mode`, waiting if not enough data arrived yet.
    pub fn receive(&mut self, mode: RecvMode, me: *mut CoCtx) -> Step {
        match self.try_recv(mode) {
            Some(()) => Step::Now,
            None => {
                self.pending = Pending::Recv(mode);
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
                        self.pending = Pending::None;
                        self.close_conn();
                        self.fail("failed to arm the read event", Vec::new());
                        return Step::Now;
                    }
                }
                Step::Wait
            }
        }
    }

    fn take(&mut self, n: usize, skip: usize) -> Vec<u8> {
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
                let avail = &self.buf[self.pos..];
                let pat = &self.until_pat;
                let plen = pat.len();
                match find(avail, pat) {
                    Some(i) if size == 0 || i <= size => {
                        self.until_found = true;
                        let out = if inclusive {
                            self.take(i + plen, 0)
                        } else {
                            self.take(i, plen)
                        };
                        Some(out)
                    }
                    Some(_) => Some(self.take(size, 0)),
                    None => {
                        // Keep back a tail that could start the pattern.
                        let keep = (1..plen.min(avail.len() + 1))
                            .rev()
                            .find(|&k| avail.ends_with(&pat[..k]))
                            .unwrap_or(0);
                        let safe = avail.len() - keep;
                        (size > 0 && safe >= size).then(|| self.take(size, 0))
                    }
                }
            }
        }
    }

    /// Reads until `mode` is satisfied; `Some` when done, `None` to wait.
    fn try_recv(&mut self, mode: RecvMode) -> Option<()> {
        self.until_found = false;
        if self.udp {
            return self.try_recv_datagram(mode);
        }
        if let RecvMode::Size(0) = mode {
            self.done = Done {
                ok: true,
                err: String::new(),
                data: Vec::new(),
                sent: 0,
                found: false,
            };
            return Some(());
        }
        loop {
            if let Some(data) = self.answer_from_buffer(mode, false) {
                self.done = Done {
                    ok: true,
                    err: String::new(),
                    data,
                    sent: 0,
                    found: self.until_found,
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
            // SAFETY: recv writes at most `want` bytes into reserved space.
            let n = unsafe {
                let c = self.c;
                let Some(recv) = (*c).recv else {
                    return Some(());
                };
                recv(c, self.buf.as_mut_ptr().add(len), want)
            };
            if n > 0 {
                // SAFETY: recv initialised n bytes past len.
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
                        ok: true,
                        err: String::new(),
                        data,
                        sent: 0,
                        found: self.until_found,
                    };
                    self.close_conn();
                    return Some(());
                }
                let partial = self.take(self.buf.len() - self.pos, 0);
                self.close_conn();
                self.fail("closed", partial);
                return Some(());
            }
            let e = errno();
            let partial = self.take(self.buf.len() - self.pos, 0);
            self.close_conn();
            self.fail(
                if e != 0 {
                    errno_str(e)
                } else {
                    "closed".into()
                },
                partial,
            );
            return Some(());
        }
    }

    /// Puts the connection into the keepalive pool.
    pub fn set_keepalive(
        &mut self,
        timeout: Option<ngx_msec_t>,
        size: Option<usize>,
    ) -> Result<(), &'static str> {
        if self.c.is_null() {
            return Err("closed");
        }
        if self.busy_reading() {
            return Err("socket busy reading");
        }
        if self.busy_writing() {
            return Err("socket busy writing");
        }
        if self.pos < self.buf.len() {
            return Err("unread data in buffer");
        }
        let c = self.c;
        self.c = ptr::null_mut();
        // SAFETY: the connection is ours and we just let go of it.
        unsafe {
            pool::put(
                self.key.clone(),
                c,
                self.reused,
                timeout.unwrap_or(self.keepalive_timeout),
                size.unwrap_or(self.pool_size),
            )
        };
        Ok(())
    }

    /// Resumes the thread waiting in `slot` (reader or writer).
    fn wake(&mut self, reader: bool) {
        let t = if reader {
            core::mem::replace(&mut self.reader, ptr::null_mut())
        } else {
            core::mem::replace(&mut self.writer, ptr::null_mut())
        };
        self.pending = Pending::None;
        if t.is_null() {
            return;
        }
        // SAFETY: the waiting thread is live (its request's end orphans this
        // socket first, clearing reader/writer).
        unsafe { crate::phase::resume_from_event(t) };
    }
}

impl Tcp {
    /// One datagram of at most `Any(size)` bytes.
    fn try_recv_datagram(&mut self, mode: RecvMode) -> Option<()> {
        let size = match mode {
            RecvMode::Any(n) => n,
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
            self.done = Done {
                ok: true,
                err: String::new(),
                data,
                sent: 0,
                found: false,
            };
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
}

unsafe extern "C" fn resolved(rctx: *mut ngx_resolver_ctx_t) {
    // SAFETY: data is the Tcp that started the resolution; it waits for
    // this handler (its owner request ending would have to drop the Lua
    // object, which the waiting thread still references).
    unsafe {
        let s = &mut *((*rctx).data as *mut Tcp);
        let me = s.writer;
        let state = (*rctx).state;
        if state != 0 {
            let why = core::ffi::CStr::from_ptr(ngx_resolver_strerror(state))
                .to_string_lossy()
                .into_owned();
            ngx_resolve_name_done(rctx);
            s.fail(
                format!(
                    "{} could not be resolved ({state}: {why})",
                    String::from_utf8_lossy(&s.resolve_name)
                ),
                Vec::new(),
            );
            s.pending = Pending::None;
            if !s.in_resolve_call {
                s.wake(false);
            }
            return;
        }
        let n = (*rctx).naddrs;
        let pick = if n > 1 {
            (ngx_random() as usize) % n
        } else {
            0
        };
        let a = &*(*rctx).addrs.add(pick);
        s.sockaddr =
            core::slice::from_raw_parts(a.sockaddr as *const u8, a.socklen as usize).to_vec();
        ngx_inet_set_port(s.sockaddr.as_mut_ptr() as *mut sockaddr, s.resolve_port);
        ngx_resolve_name_done(rctx);
        s.pending = Pending::None;
        match s.connect_sockaddr(me) {
            Step::Wait => {}
            Step::Now => {
                if !s.in_resolve_call {
                    s.wake(false);
                }
            }
        }
    }
}

/// First index of `pat` in `hay`.
fn find(hay: &[u8], pat: &[u8]) -> Option<usize> {
    if pat.is_empty() || hay.len() < pat.len() {
        return None;
    }
    hay.windows(pat.len()).position(|w| w == pat)
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
        let Pending::Recv(mode) = s.pending else {
            return;
        };
        if (*rev).timedout() != 0 {
            (*rev).set_timedout(0);
            if s.log_errors {
                let msg: &[u8] = if s.udp {
                    b"lua udp socket read timed out"
                } else {
                    b"lua tcp socket read timed out"
                };
                log::log_error(NGX_LOG_ERR, (*c).log, msg);
            }
            let partial = s.take(s.buf.len() - s.pos, 0);
            s.fail("timeout", partial);
            s.wake(true);
            return;
        }
        if s.try_recv(mode).is_none() {
            if ngx_handle_read_event(rev, 0) != NGX_OK as isize {
                s.close_conn();
                s.fail("failed to arm the read event", Vec::new());
                s.wake(true);
            }
            return;
        }
        if !s.c.is_null() && (*rev).timer_set() != 0 {
            ngx_del_timer(rev);
        }
        s.wake(true);
    }
}

unsafe extern "C" fn write_handler(wev: *mut ngx_event_t) {
    // SAFETY: the connection's data is the Tcp that adopted it.
    unsafe {
        let c = (*wev).data as *mut ngx_connection_t;
        let s = &mut *((*c).data as *mut Tcp);
        match s.pending {
            Pending::Connect => {
                s.connect_finished();
                s.wake(false);
            }
            Pending::Send => {
                if (*wev).timedout() != 0 {
                    (*wev).set_timedout(0);
                    if s.log_errors {
                        log::log_error(NGX_LOG_ERR, (*c).log, b"lua tcp socket write timed out");
                    }
                    s.close_conn();
                    s.fail("timeout", Vec::new());
                    s.wake(false);
                    return;
                }
                if s.try_send().is_none() {
                    if ngx_handle_write_event(wev, 0) != NGX_OK as isize {
                        s.close_conn();
                        s.fail("failed to arm the write event", Vec::new());
                        s.wake(false);
                    }
                    return;
                }
                if !s.c.is_null() && (*wev).timer_set() != 0 {
                    ngx_del_timer(wev);
                }
                s.wake(false);
            }
            _ => {}
        }
    }
}

impl Tcp {
    /// `bind(address)`: the local IP address of the next connection.
    pub fn bind(&mut self, address: &[u8]) -> Result<(), String> {
        match addr::parse(address, Some(0)) {
            Ok(peer @ Peer::Inet(_)) => {
                self.local_sa = addr::sockaddr(&peer).0;
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

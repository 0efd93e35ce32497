//! Connecting a cosocket: the keepalive pool (reuse, `pool_size`, the
//! `backlog` queue), nginx's resolver for host names, the TCP connect.
use core::ffi::c_void;
use core::ptr;

use nginx_sys::*;

use super::addr::{self, Peer};
use super::pool::{self, Admit};
use super::tcp::{errno_str, Done, Pending, Step, Tcp};
use crate::lua::coctx::CoCtx;
use crate::nginx::log;
use crate::nginx::sock::errno;

/// The pool options of `connect`.
#[derive(Clone, Copy, Default)]
pub struct PoolOpts {
    pub size: Option<usize>,
    pub backlog: Option<usize>,
}

impl Tcp {
    /// Starts connecting to `host` (`port` for IP hosts and host names).
    /// `pool` overrides the keepalive pool name.
    pub fn connect(
        &mut self,
        host: &[u8],
        port: Option<u16>,
        pool: Option<&[u8]>,
        opts: PoolOpts,
        me: *mut CoCtx,
    ) -> Step {
        self.close();
        if host.is_empty() {
            // Taken for a host name, "" would reach the connect step with
            // no address at all. upstream's ngx_parse_url error.
            self.fail("failed to parse host name \"\": no host", Vec::new());
            return Step::Now;
        }
        self.target_host = host.to_vec();
        self.target_port = port.unwrap_or(0);
        let peer = match addr::parse(host, port) {
            Ok(p) => Some(p),
            Err(true) => None,
            Err(false) => {
                self.fail("bad address", Vec::new());
                return Step::Now;
            }
        };
        self.key = match (pool, &peer) {
            (Some(p), _) => p.to_vec(),
            (None, Some(Peer::Unix(_))) => host.to_vec(),
            (None, _) => {
                format!("{}:{}", String::from_utf8_lossy(host), self.target_port).into_bytes()
            }
        };
        match &peer {
            Some(p) => {
                self.peer_name = match p {
                    Peer::Inet(a) => a.to_string().into_bytes(),
                    Peer::Unix(_) => host.to_vec(),
                };
                self.sockaddr = addr::sockaddr(p).0;
                self.resolve_name.clear();
            }
            None => {
                self.peer_name = self.key_for_host();
                self.sockaddr.clear();
                self.resolve_name = host.to_vec();
                self.resolve_port = self.target_port;
            }
        }
        let mut p = if self.udp {
            ptr::null_mut()
        } else {
            pool::find(&self.key)
        };
        if p.is_null() && !self.udp {
            let size = opts.size.or(opts.backlog.map(|_| self.default_pool_size));
            if let Some(n) = size {
                // SAFETY: the request's (or the cycle's) live log.
                p = unsafe { pool::create(&self.key, n, opts.backlog, self.request_log()) };
            }
        }
        self.start(p, me, false)
    }

    fn key_for_host(&self) -> Vec<u8> {
        format!(
            "{}:{}",
            String::from_utf8_lossy(&self.target_host),
            self.target_port
        )
        .into_bytes()
    }

    /// Goes through the pool (reuse, queue) and then resolves or connects.
    /// `resuming`: a queued connect whose turn came.
    fn start(&mut self, p: *mut pool::Pool, me: *mut CoCtx, resuming: bool) -> Step {
        // SAFETY: p is null or a live pool of this worker.
        if let Some(pool) = unsafe { p.as_mut() } {
            let me_s: *mut Tcp = self;
            match pool.admit(me_s, resuming) {
                Admit::Reuse(c, reused) => {
                    self.pool = p;
                    self.c = c;
                    self.reused = reused + 1;
                    self.adopt();
                    self.done = Done::ok();
                    return Step::Now;
                }
                Admit::Connect => self.pool = p,
                Admit::Queued => {
                    self.pool = p;
                    self.pending = Pending::Queued;
                    self.writer = me;
                    // SAFETY: the event lives in this boxed socket; close()
                    // cancels it.
                    unsafe {
                        log::log_error(
                            NGX_LOG_DEBUG,
                            self.request_log(),
                            format!(
                                "lua tcp socket queue connect operation for connection pool \"{}\"",
                                String::from_utf8_lossy(pool.key())
                            )
                            .as_bytes(),
                        );
                        let data = self as *mut Tcp as *mut c_void;
                        let ev = &mut self.queue_ev;
                        ev.handler = Some(queue_handler);
                        ev.data = data;
                        ev.log = log::cycle_log();
                        ngx_add_timer(ev, self.connect_timeout);
                    }
                    return Step::Wait;
                }
                Admit::TooMany => {
                    self.fail("too many waiting connect operations", Vec::new());
                    return Step::Now;
                }
            }
        }
        self.reused = 0;
        if self.resolve_name.is_empty() {
            self.connect_sockaddr(me)
        } else {
            self.resolve(me)
        }
    }

    /// Lets a queued connect run on the next event-loop turn.
    pub fn post_queue_turn(&mut self) {
        // SAFETY: the event lives in this boxed socket; close() cancels it.
        unsafe {
            let ev = &mut self.queue_ev;
            if ev.timer_set() != 0 {
                ngx_del_timer(ev);
            }
            ngx_post_event(ev, ptr::addr_of_mut!(ngx_posted_events));
        }
    }

    /// A failed connect: the failure, and the pool slot given back.
    fn connect_failed(&mut self, err: impl Into<String>) {
        self.close_conn();
        self.fail(err, Vec::new());
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
                self.connect_failed(if e != 0 {
                    errno_str(e)
                } else {
                    "failed to connect".into()
                });
                return Step::Now;
            }
            self.c = self.pc.connection;
            // TLS needs a pool of the connection's own (it outlives the
            // request when pooled).
            (*self.c).pool = ngx_create_pool(128, self.request_log());
            if (*self.c).pool.is_null() {
                self.connect_failed("no memory");
                return Step::Now;
            }
            self.adopt();
            if rc == NGX_OK as isize {
                self.done = Done::ok();
                return Step::Now;
            }
            // NGX_AGAIN: the write event tells when the connect finished.
            ngx_add_timer((*self.c).write, self.connect_timeout);
        }
        self.pending = Pending::Connect;
        self.writer = me;
        Step::Wait
    }

    /// Resolves `resolve_name` with the location's `resolver`, then connects.
    fn resolve(&mut self, me: *mut CoCtx) -> Step {
        // SAFETY: the request's core loc conf holds the resolver; the
        // resolver context's name points at our buffer, which outlives it.
        unsafe {
            let Some(ctx) = self.ctx.as_ref() else {
                self.connect_failed("no request");
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
                self.connect_failed("failed to start the resolver");
                return Step::Now;
            }
            if rctx as isize == -1 {
                let msg = format!(
                    "no resolver defined to resolve \"{}\"",
                    String::from_utf8_lossy(&self.resolve_name)
                );
                self.connect_failed(msg);
                return Step::Now;
            }
            (*rctx).name = ngx_str_t {
                len: self.resolve_name.len(),
                data: self.resolve_name.as_mut_ptr(),
            };
            (*rctx).handler = Some(resolved);
            (*rctx).data = self as *mut Tcp as *mut c_void;
            (*rctx).timeout = (*clcf).resolver_timeout;
            self.rctx = rctx;
            self.pending = Pending::Resolve;
            self.writer = me;
            self.in_resolve_call = true;
            let rc = ngx_resolve_name(rctx);
            self.in_resolve_call = false;
            if rc != NGX_OK as isize {
                self.rctx = ptr::null_mut();
                self.pending = Pending::None;
                self.writer = ptr::null_mut();
                let msg = format!(
                    "{} could not be resolved",
                    String::from_utf8_lossy(&self.resolve_name)
                );
                self.connect_failed(msg);
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

    /// The write event of a pending connect fired (or timed out).
    pub(super) fn connect_finished(&mut self) {
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
                self.connect_failed("timeout");
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
                self.connect_failed(errno_str(err));
                return;
            }
        }
        self.done = Done::ok();
    }
}

unsafe extern "C" fn resolved(rctx: *mut ngx_resolver_ctx_t) {
    // SAFETY: data is the Tcp that started the resolution; close() ends a
    // pending resolution, so the socket is alive here.
    unsafe {
        let s = &mut *((*rctx).data as *mut Tcp);
        s.rctx = ptr::null_mut();
        let me = s.writer;
        let state = (*rctx).state;
        if state != 0 {
            let why = core::ffi::CStr::from_ptr(ngx_resolver_strerror(state))
                .to_string_lossy()
                .into_owned();
            ngx_resolve_name_done(rctx);
            let msg = format!(
                "{} could not be resolved ({state}: {why})",
                String::from_utf8_lossy(&s.resolve_name)
            );
            s.connect_failed(msg);
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

/// A queued connect's turn came (posted) or its wait timed out (timer).
unsafe extern "C" fn queue_handler(ev: *mut ngx_event_t) {
    // SAFETY: data is the queued socket; close() cancels this event.
    unsafe {
        let s = &mut *((*ev).data as *mut Tcp);
        if s.pending != Pending::Queued {
            return;
        }
        let p = s.pool;
        pool::dequeue(&mut *p, s);
        let me = s.writer;
        s.pending = Pending::None;
        if (*ev).timedout() != 0 {
            (*ev).set_timedout(0);
            if s.log_errors {
                log::log_error(
                    NGX_LOG_ERR,
                    s.request_log(),
                    format!(
                        "lua tcp socket queued connect timed out, when trying to connect to {}:{}",
                        String::from_utf8_lossy(&s.target_host),
                        s.target_port
                    )
                    .as_bytes(),
                );
            }
            s.connect_failed("timeout");
            s.wake(false);
            return;
        }
        // The queued operation's slot is taken again by the connect itself.
        s.pool = ptr::null_mut();
        (*p).forfeit();
        match s.start(p, me, true) {
            Step::Now => s.wake(false),
            Step::Wait => s.writer = me,
        }
    }
}

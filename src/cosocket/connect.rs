//! Connecting a cosocket: the keepalive pool (reuse, `pool_size`, the
//! `backlog` queue), nginx's resolver for host names, the TCP connect.
use std::io::Write;

use nginx_sys::{NGX_LOG_ALERT, NGX_LOG_DEBUG, NGX_LOG_ERR};

use super::addr::{self, Peer};
use super::pool::{self, Admit, Sizing};
use super::tcp::{errno_str, Pending, Step, Target, Tcp};
use crate::lua::ctx::CoCtx;
use crate::nginx::connection::LogOf;
use crate::nginx::event::{EventRef, OnEvent};
use crate::nginx::peer::{self, Connect};
use crate::nginx::resolver::{Answer, OnResolved, Resolver, StartError};

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
        let log = self.log_of().log();
        if !self.udp {
            crate::debug!(
                log,
                "lua tcp socket connect timeout: {}",
                self.timeouts.connect
            );
        }
        if self.ever_connected() {
            // Upstream's traces of a connect on a socket object that
            // connected before.
            if self.c.is_some() {
                let what = if self.udp { "udp" } else { "tcp" };
                crate::debug!(log, "lua {what} socket reconnect without shutting down");
            }
            crate::debug!(log, "lua reuse socket upstream ctx");
        }
        self.close();
        let t = &mut self.target;
        t.host.clear();
        t.host.extend_from_slice(host);
        t.port = port.unwrap_or(0);
        t.given_port = port;
        // The host is parsed once the pool admitted a connect (see
        // `parse_host`): a connection the pool has needs only the key,
        // which is the one `parse_url` would lead to.
        t.bad_host = None;
        t.peer = None;
        t.key.clear();
        match pool {
            Some(p) => t.key.extend_from_slice(p),
            None if port.is_none() || addr::is_unix_path(host) => t.key.extend_from_slice(host),
            None => push_host_port(&mut t.key, host, t.port),
        }
        let admit = if self.udp {
            Admit::Connect(None)
        } else {
            let create = opts
                .size
                .or(opts.backlog.map(|_| self.default_pool_size))
                .map(|size| Sizing {
                    size,
                    backlog: opts.backlog,
                });
            let log = self.log_of();
            pool::admit(&self.target.key, create, log, || self.connecting.waiter())
        };
        self.start(admit, me)
    }

    /// Goes on from the pool's verdict (reuse, queue) and then resolves or
    /// connects.
    fn start(&mut self, admit: Admit, me: *mut CoCtx) -> Step {
        match admit {
            Admit::Reuse(c, reused, slot) => {
                self.connecting.slot = Some(slot);
                self.c = Some(c);
                self.read_closed = false;
                self.write_closed = false;
                self.connecting.reused = reused + 1;
                self.adopt(c);
                self.done.set_ok();
                return Step::Now;
            }
            Admit::Connect(slot) => self.connecting.slot = slot,
            Admit::Queued(slot) => {
                let log = self.log_of();
                if log.logs(NGX_LOG_DEBUG) {
                    log.write(
                        NGX_LOG_DEBUG,
                        format!(
                            "lua tcp socket queue connect operation for connection pool \"{}\"",
                            String::from_utf8_lossy(slot.key())
                        )
                        .as_bytes(),
                    );
                }
                self.connecting.slot = Some(slot);
                self.pending = Pending::Queued;
                self.writer = me;
                let target: *mut Tcp = self;
                // SAFETY: the event lives in this boxed socket and close()
                // (which Drop calls) cancels it.
                unsafe {
                    self.connecting
                        .queue_ev
                        .set_handler(target, LogOf::Cycle.raw())
                };
                self.connecting.queue_ev.add_timer(self.timeouts.connect);
                return Step::Wait;
            }
            Admit::TooMany => {
                self.fail("too many waiting connect operations", Vec::new());
                return Step::Now;
            }
        }
        self.connecting.reused = 0;
        self.target.parse_host();
        if let Some(e) = self.target.bad_host.take() {
            self.connect_failed(e);
            return Step::Now;
        }
        self.target.address();
        if self.target.resolve_name.is_empty() {
            self.connect_sockaddr(me)
        } else {
            self.resolve(me)
        }
    }

    /// A failed connect: the failure, and the pool slot given back.
    fn connect_failed(&mut self, err: impl Into<String>) {
        self.close_conn();
        self.fail(err, Vec::new());
    }

    /// Connects to `target.sockaddr`.
    fn connect_sockaddr(&mut self, me: *mut CoCtx) -> Step {
        let t = &self.target;
        let local_name = addr::ntop(&t.local);
        let mut local = (!t.local.is_empty()).then_some((&t.local[..], local_name.as_bytes()));
        // A unix datagram socket gets an address of its own (Linux's
        // autobind: a bare family), as upstream's, so the peer can answer.
        let autobind = (libc::AF_UNIX as u16).to_ne_bytes();
        if self.udp && local.is_none() && addr::is_unix_sockaddr(&t.sockaddr) {
            crate::debug!(self.log_of().log(), "datagram unix domain socket autobind");
            local = Some((&autobind[..], b""));
        }
        let peer = peer::Peer {
            sockaddr: &t.sockaddr,
            name: &t.name,
            local,
            datagram: self.udp,
            log: self.log_of(),
        };
        let (c, in_progress) = match peer.connect() {
            Connect::Failed(e) => {
                self.connect_failed(if e != 0 {
                    errno_str(e)
                } else {
                    "failed to connect".into()
                });
                return Step::Now;
            }
            Connect::Done(c) => (c, false),
            Connect::InProgress(c) => (c, true),
        };
        self.c = Some(c);
        self.read_closed = false;
        self.write_closed = false;
        // TLS needs a pool of the connection's own (it outlives the
        // request when pooled).
        if !c.create_pool(128, self.log_of()) {
            self.connect_failed("no memory");
            return Step::Now;
        }
        self.adopt(c);
        if !in_progress {
            self.done.set_ok();
            return Step::Now;
        }
        // The write event tells when the connect finished.
        c.write().add_timer(self.timeouts.connect);
        self.pending = Pending::Connect;
        self.writer = me;
        Step::Wait
    }

    /// Resolves `target.resolve_name` with the location's `resolver`, then
    /// connects.
    fn resolve(&mut self, me: *mut CoCtx) -> Step {
        let Some(r) = self.request() else {
            self.connect_failed("no request");
            return Step::Now;
        };
        self.pending = Pending::Resolve;
        self.writer = me;
        let target: *mut Tcp = self;
        // SAFETY: the socket is boxed and its name buffer is not touched
        // while the resolution runs; close() (which connect() and Drop
        // call) cancels a pending resolution.
        let started = unsafe { Resolver::of(r).resolve(&self.target.resolve_name, target) };
        let failed = match started {
            Ok(Some(resolving)) => {
                self.connecting.resolving = Some(resolving);
                return Step::Wait;
            }
            // Answered from the cache: connected (or failed) at once, or
            // connecting.
            Ok(None) => {
                return match self.pending {
                    Pending::None => {
                        self.writer = core::ptr::null_mut();
                        Step::Now
                    }
                    _ => Step::Wait,
                };
            }
            Err(e) => e,
        };
        self.pending = Pending::None;
        self.writer = core::ptr::null_mut();
        let name = String::from_utf8_lossy(&self.target.resolve_name).into_owned();
        self.connect_failed(match failed {
            StartError::Start => "failed to start the resolver".to_owned(),
            StartError::NoResolver => format!("no resolver defined to resolve \"{name}\""),
            StartError::Resolve => format!("{name} could not be resolved"),
        });
        Step::Now
    }

    /// The write event of a pending connect fired (or timed out).
    pub(super) fn connect_finished(&mut self) {
        let Some(c) = self.c else {
            return;
        };
        let wev = c.write();
        if wev.timedout() {
            if self.log_errors {
                c.log().write(
                    NGX_LOG_ERR,
                    format!(
                        "lua tcp socket connect timed out{}",
                        self.target.upstream_ctx()
                    )
                    .as_bytes(),
                );
            }
            self.connect_failed("timeout");
            return;
        }
        wev.del_timer();
        let err = c.so_error();
        if err != 0 {
            if self.log_errors {
                // As nginx's ngx_connection_error, which upstream calls:
                // the errno and its text, `error` for a peer that is down
                // or unreachable, `alert` for anything stranger.
                let level = match err {
                    libc::ECONNRESET
                    | libc::EPIPE
                    | libc::ENOTCONN
                    | libc::ETIMEDOUT
                    | libc::ECONNREFUSED
                    | libc::ENETDOWN
                    | libc::ENETUNREACH
                    | libc::EHOSTDOWN
                    | libc::EHOSTUNREACH => NGX_LOG_ERR,
                    _ => NGX_LOG_ALERT,
                };
                c.log().write(
                    level,
                    format!(
                        "connect() failed ({err}: {}){}",
                        std::io::Error::from_raw_os_error(err)
                            .to_string()
                            .split(" (os error")
                            .next()
                            .unwrap_or_default(),
                        self.target.upstream_ctx()
                    )
                    .as_bytes(),
                );
            }
            self.connect_failed(errno_str(err));
            return;
        }
        self.done.set_ok();
    }
}

impl Target {
    /// Parses the host as upstream's `ngx_parse_url` would: the peer's
    /// address, or a host name (`peer` stays `None`), or why it does not
    /// parse (`bad_host`, reported as the connect's failure).
    fn parse_host(&mut self) {
        self.bad_host = None;
        self.peer = match addr::parse_url(&self.host, self.given_port) {
            Ok(p) => p,
            Err(why) => {
                let host = String::from_utf8_lossy(&self.host);
                self.bad_host = Some(format!("failed to parse host name \"{host}\": {why}"));
                None
            }
        };
    }

    /// What upstream's peer log adds to a connect's error line:
    /// ", upstream: HOST:PORT(ADDRESS)" (the host as given, the address
    /// once known, without its port; a `unix:` host has no port).
    fn upstream_ctx(&self) -> String {
        let mut s = String::from(", upstream: ");
        s.push_str(&String::from_utf8_lossy(&self.host));
        if !matches!(self.peer, Some(Peer::Unix(_))) {
            let _ = core::fmt::Write::write_fmt(&mut s, format_args!(":{}", self.port));
        }
        let a = addr::ntop(&self.sockaddr);
        if !a.is_empty() {
            s.push('(');
            s.push_str(&a);
            s.push(')');
        }
        s
    }

    /// The peer's name for logs and its socket address, or the host name
    /// to resolve.
    fn address(&mut self) {
        self.name.clear();
        match &self.peer {
            Some(Peer::Inet(a)) => {
                // SocketAddr's Display: "127.0.0.1:80", "[::1]:80".
                let _ = write!(&mut self.name, "{a}");
            }
            Some(Peer::Unix(_)) => self.name.extend_from_slice(&self.host),
            None => push_host_port(&mut self.name, &self.host, self.port),
        }
        match &self.peer {
            Some(p) => {
                self.sockaddr = addr::sockaddr(p);
                self.resolve_name.clear();
            }
            None => {
                self.sockaddr.clear();
                self.resolve_name.clear();
                self.resolve_name.extend_from_slice(&self.host);
                self.resolve_port = self.port;
            }
        }
    }
}

/// Appends `host:port` (a pool key, a peer name), the host as text.
fn push_host_port(out: &mut Vec<u8>, host: &[u8], port: u16) {
    if host.is_ascii() {
        out.extend_from_slice(host);
    } else {
        out.extend_from_slice(String::from_utf8_lossy(host).as_bytes());
    }
    out.push(b':');
    let mut digits = [0u8; 5];
    let mut n = port;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

impl OnResolved for Tcp {
    fn on_resolved(&mut self, answer: Answer, at_once: bool) {
        self.connecting.resolving = None;
        let me = self.writer;
        match answer {
            Answer::Failed { state, why } => {
                let msg = format!(
                    "{} could not be resolved ({state}: {why})",
                    String::from_utf8_lossy(&self.target.resolve_name)
                );
                self.connect_failed(msg);
                self.pending = Pending::None;
                if !at_once {
                    self.wake(false);
                }
            }
            Answer::Addr(mut sa) => {
                addr::set_port(&mut sa, self.target.resolve_port);
                self.target.sockaddr = sa;
                self.pending = Pending::None;
                if let Step::Now = self.connect_sockaddr(me) {
                    if !at_once {
                        self.wake(false);
                    }
                }
            }
        }
    }
}

/// A queued connect's turn came (posted) or its wait timed out (timer).
impl OnEvent for Tcp {
    fn on_event(&mut self, ev: EventRef) {
        if self.pending != Pending::Queued {
            return;
        }
        let Some(slot) = self.connecting.slot.take() else {
            return;
        };
        slot.dequeue(ev);
        let me = self.writer;
        self.pending = Pending::None;
        if ev.take_timedout() {
            if self.log_errors {
                self.log_of().write(
                    NGX_LOG_ERR,
                    format!(
                        "lua tcp socket queued connect timed out, when trying to connect to {}:{}",
                        String::from_utf8_lossy(&self.target.host),
                        self.target.port
                    )
                    .as_bytes(),
                );
            }
            // The operation never held a connection: nothing frees up.
            slot.release_queued(false);
            self.connect_failed("timeout");
            self.wake(false);
            return;
        }
        match self.start(slot.readmit(self.log_of()), me) {
            Step::Now => self.wake(false),
            Step::Wait => self.writer = me,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::push_host_port;

    #[test]
    fn host_port_as_format_wrote_it() {
        for (host, port) in [
            (&b"a.example"[..], 0u16),
            (b"h", 7),
            (b"h", 80),
            (b"x", 65535),
        ] {
            let mut out = b"old".to_vec();
            push_host_port(&mut out, host, port);
            let want = format!("old{}:{}", String::from_utf8_lossy(host), port);
            assert_eq!(out, want.as_bytes());
        }
        let mut out = Vec::new();
        push_host_port(&mut out, b"\xffx", 1);
        assert_eq!(out, "\u{fffd}x:1".as_bytes());
    }
}

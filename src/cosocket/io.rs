//! Sending and receiving on a cosocket: the data of a send, the receive
//! patterns over the receive buffer (`recv.rs`), datagrams, and the
//! connection's events that end a wait.
use core::ptr;

use nginx_sys::NGX_LOG_ERR;

use super::recv::RecvMode;
use super::tcp::{errno_str, Done, Kind, Pending, Step, Tcp, CLIENT_ABORTED};
use crate::lua::ctx::CoCtx;
use crate::nginx::connection::{ConnHandler, Connection};
use crate::nginx::event::EventRef;
use crate::nginx::request::AGAIN;
use crate::nginx::sock::errno;

impl Tcp {
    /// Sends `data`, waiting if the socket buffer is full. What the socket
    /// takes at once goes straight from `data`; only a rest that must wait
    /// is copied.
    pub fn send(&mut self, data: &[u8], me: *mut CoCtx) -> Step {
        let Some(c) = self.c else {
            self.fail("closed", Vec::new());
            return Step::Now;
        };
        if !self.udp {
            crate::debug!(
                self.log_of().log(),
                "lua tcp socket send timeout: {}",
                self.timeouts.send
            );
        }
        if self.kind == Kind::Upstream && !self.udp && !self.nodelay() {
            return Step::Now;
        }
        let mut off = 0;
        match write_out(c, data, &mut off) {
            Ok(true) => {
                self.sent(data.len());
                return Step::Now;
            }
            Ok(false) => {}
            Err(e) => {
                self.send_failed(e);
                return Step::Now;
            }
        }
        // The rest goes out from a copy, which TLS must be told of.
        c.tls_allow_moving_write_buffer();
        self.tx.clear();
        self.tx.extend_from_slice(data);
        self.tx_off = off;
        self.pending = Pending::Send;
        self.writer = me;
        let wev = c.write();
        if !wev.timer_set() {
            wev.add_timer(self.timeouts.send);
        }
        if self.kind == Kind::Raw {
            self.wait_writable();
        }
        if !wev.handle_write() {
            self.writer = ptr::null_mut();
            self.pending = Pending::None;
            self.close_conn();
            self.fail("failed to arm the write event", Vec::new());
            return Step::Now;
        }
        Step::Wait
    }

    /// TCP_NODELAY for the connection before its first send when the
    /// location has `tcp_nodelay on` (nginx's default), as upstream does,
    /// mimicking nginx's upstream module; false (the send's outcome set)
    /// when `setsockopt` failed.
    fn nodelay(&mut self) -> bool {
        let Some(c) = self.c else {
            return true;
        };
        if !self
            .request()
            .is_some_and(|r| r.core_loc_conf().tcp_nodelay != 0)
        {
            return true;
        }
        match c.enable_nodelay() {
            None => true,
            Some(Ok(())) => {
                crate::debug!(c.log(), "lua socket tcp_nodelay");
                true
            }
            Some(Err(e)) => {
                if self.log_errors {
                    c.log().write(
                        NGX_LOG_ERR,
                        format!("setsockopt(TCP_NODELAY) failed ({e}: {})", sys_text(e)).as_bytes(),
                    );
                }
                self.fail("setsocketopt tcp_nodelay failed", Vec::new());
                false
            }
        }
    }

    /// Writes what is left of a send that waited; `Some` when done (ok or
    /// failed), `None` to wait again.
    fn try_send(&mut self) -> Option<()> {
        let Some(c) = self.c else {
            self.fail("closed", Vec::new());
            return Some(());
        };
        let mut off = self.tx_off;
        let r = write_out(c, &self.tx, &mut off);
        self.tx_off = off;
        match r {
            Ok(true) => self.sent(self.tx.len()),
            Ok(false) => return None,
            Err(e) => self.send_failed(e),
        }
        Some(())
    }

    fn sent(&mut self, n: usize) {
        self.done.set_ok();
        self.done.sent = n;
    }

    /// Whether the buffer answers `mode` (`eof`: the stream ended); the
    /// answer becomes the outcome, in the outcome's own buffer.
    fn answered(&mut self, mode: RecvMode, eof: bool) -> bool {
        let mut data = core::mem::take(&mut self.done.data);
        if !self.rx.answer_into(mode, eof, &mut data) {
            self.done.data = data;
            return false;
        }
        self.done.set_ok();
        self.done.data = data;
        self.done.found = self.rx.until_found;
        true
    }

    /// A send failed with errno `e`: the connection goes.
    fn send_failed(&mut self, e: i32) {
        self.shut_write();
        self.fail(
            if e != 0 {
                errno_str(e)
            } else {
                "closed".into()
            },
            Vec::new(),
        );
    }

    /// Upstream's error line for a send or receive (`op`) refused with
    /// "closed", under `lua_socket_log_errors`: the socket's and its
    /// connection's addresses, and for TCP the kind of the last failure
    /// (upstream's `ft_type` bits: 1 error, 2 timeout, 4 closed) and
    /// whether the peer closed.
    pub fn log_closed_use(&self, op: &str) {
        if !self.log_errors {
            return;
        }
        let u = self as *const Tcp as usize;
        let c = self.c.map_or(0, |c| c.as_ptr() as usize);
        let msg = if self.udp {
            format!("attempt to {op} data on a closed socket: u:{u:016X}, c:{c:016X}")
        } else {
            let ft = match (self.done.ok, self.done.err.as_str()) {
                (true, _) | (false, "") => 0,
                (false, "timeout") => 2,
                (false, "closed") => 4,
                _ => 1,
            };
            let eof = u8::from(ft == 4);
            format!("attempt to {op} data on a closed socket: u:{u:016X}, c:{c:016X}, ft:{ft} eof:{eof}")
        };
        self.log_of().write(NGX_LOG_ERR, msg.as_bytes());
    }

    /// The receiveuntil iterator `owner` (lua-lib's number for it) with
    /// pattern `pat` receives next.
    pub fn set_until(&mut self, owner: u64, pat: &[u8]) {
        self.rx.set_until(owner, pat);
    }

    /// Receives per `mode`, waiting if not enough data arrived yet.
    pub fn receive(&mut self, mode: RecvMode, me: *mut CoCtx) -> Step {
        let log = self.log_of().log();
        if log.debugs() {
            // Upstream's traces of a receive.
            if self.udp {
                let size = match mode {
                    RecvMode::Any(n) => n.min(65536),
                    _ => 65536,
                };
                crate::debug!(log, "lua udp socket read timeout: {}", self.timeouts.read);
                crate::debug!(log, "lua udp socket receive buffer size: {size}");
            } else {
                if let RecvMode::Any(n) = mode {
                    crate::debug!(
                        log,
                        "lua tcp socket calling receiveany() method to read at most {n} bytes"
                    );
                }
                crate::debug!(log, "lua tcp socket read timeout: {}", self.timeouts.read);
            }
        }
        self.rx.start(mode);
        if self.downstream() {
            self.watch_reads();
        }
        if self.try_recv(mode).is_some() {
            if self.downstream() {
                self.unwatch_reads();
            }
            return Step::Now;
        }
        self.recv_mode = Some(mode);
        self.reader = me;
        let Some(c) = self.c else {
            return Step::Wait;
        };
        let rev = c.read();
        rev.reset_timer(self.timeouts.read);
        if !rev.handle_read() {
            self.reader = ptr::null_mut();
            self.recv_mode = None;
            self.close_conn();
            self.fail("failed to arm the read event", Vec::new());
            return Step::Now;
        }
        Step::Wait
    }

    /// Reads until `mode` is satisfied; `Some` when done, `None` to wait.
    pub(super) fn try_recv(&mut self, mode: RecvMode) -> Option<()> {
        self.rx.until_found = false;
        if self.udp {
            return self.try_recv_datagram(mode);
        }
        if let RecvMode::Size(0) = mode {
            self.done.set_ok();
            return Some(());
        }
        loop {
            if let RecvMode::Any(_) = mode {
                if self.rx.pending() > 0 {
                    crate::debug!(self.log_of().log(), "lua tcp socket read any");
                }
            }
            if self.answered(mode, false) {
                return Some(());
            }
            let Some(c) = self.c else {
                if self.body_read_all && mode == RecvMode::All {
                    self.done = Done::ok();
                } else {
                    self.fail("closed", Vec::new());
                }
                return Some(());
            };
            let kind = self.kind;
            let req = if kind == Kind::Upstream {
                None
            } else {
                self.request()
            };
            let (buf, want) = self.rx.space(mode);
            let n = match kind {
                Kind::Upstream => c.recv_append(buf, want),
                kind => Self::recv_client(req, c, kind, buf, want),
            };
            if n > 0 {
                continue;
            }
            if n == AGAIN {
                return None;
            }
            if n == 0 {
                if mode == RecvMode::All {
                    self.answered(mode, true);
                    // A complete answer: our own connection stays open,
                    // as upstream's (close() gives 1). A request socket
                    // is done with the client's body.
                    if self.downstream() {
                        self.body_read_all = kind == Kind::Body;
                        self.close_conn();
                    }
                    return Some(());
                }
                let partial = self.rx.take_partial(mode);
                self.shut_read();
                self.fail("closed", partial);
                return Some(());
            }
            let e = if n == CLIENT_ABORTED {
                None
            } else {
                Some(errno())
            };
            let partial = self.rx.take_partial(mode);
            self.shut_read();
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

    /// One datagram of at most `Any(size)` bytes.
    fn try_recv_datagram(&mut self, mode: RecvMode) -> Option<()> {
        // No datagram is larger; a NaN or huge size from Lua arrives as
        // 2^63 and must not become the allocation size.
        let size = match mode {
            RecvMode::Any(n) => n.min(65536),
            _ => 65536,
        };
        let Some(c) = self.c else {
            self.fail("closed", Vec::new());
            return Some(());
        };
        let mut data = vec![0u8; size];
        let n = c.recv(&mut data);
        if n >= 0 {
            data.truncate(n as usize);
            self.done = Done { data, ..Done::ok() };
            return Some(());
        }
        if n == AGAIN {
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
    pub(super) fn on_readable(&mut self, rev: EventRef) {
        let Some(mode) = self.recv_mode else {
            return;
        };
        if rev.take_timedout() {
            if self.log_errors {
                let msg: &[u8] = if self.udp {
                    b"lua udp socket read timed out"
                } else {
                    b"lua tcp socket read timed out"
                };
                rev.log().write(NGX_LOG_ERR, msg);
            }
            let partial = self.rx.take_partial(mode);
            if self.downstream() {
                self.unwatch_reads();
            }
            self.fail("timeout", partial);
            self.wake(true);
            return;
        }
        if self.try_recv(mode).is_none() {
            if !rev.handle_read() {
                self.close_conn();
                self.fail("failed to arm the read event", Vec::new());
                self.wake(true);
            }
            return;
        }
        if self.c.is_some() {
            rev.del_timer();
        }
        if self.downstream() {
            self.unwatch_reads();
        }
        self.wake(true);
    }

    /// A write event (or its timeout) for a waiting send.
    pub(super) fn on_writable(&mut self, wev: EventRef) {
        if self.pending != Pending::Send {
            return;
        }
        if wev.take_timedout() {
            if self.log_errors {
                wev.log()
                    .write(NGX_LOG_ERR, b"lua tcp socket write timed out");
            }
            self.shut_write();
            self.fail("timeout", Vec::new());
            self.wake(false);
            return;
        }
        if self.try_send().is_none() {
            if !wev.handle_write() {
                self.close_conn();
                self.fail("failed to arm the write event", Vec::new());
                self.wake(false);
            }
            return;
        }
        if self.c.is_some() {
            wev.del_timer();
        }
        if self.kind == Kind::Raw {
            self.done_writing();
        }
        self.wake(false);
    }
}

impl ConnHandler for Tcp {
    fn on_read(&mut self, _c: Connection, ev: EventRef) {
        self.on_readable(ev);
    }

    fn on_write(&mut self, _c: Connection, ev: EventRef) {
        match self.pending {
            Pending::Connect => {
                self.connect_finished();
                self.wake(false);
            }
            Pending::Send => self.on_writable(ev),
            _ => {}
        }
    }
}

/// The system's text for errno `e`, as nginx writes it after the number.
fn sys_text(e: i32) -> String {
    let s = std::io::Error::from_raw_os_error(e).to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// Writes `data[*off..]` as far as the socket takes it, advancing `off`:
/// `Ok(true)` all out, `Ok(false)` the socket is full, `Err(errno)` failed.
fn write_out(c: Connection, data: &[u8], off: &mut usize) -> Result<bool, i32> {
    while *off < data.len() {
        let n = c.send(&data[*off..]);
        if n > 0 {
            *off += n as usize;
            continue;
        }
        if n == AGAIN {
            return Ok(false);
        }
        return Err(errno());
    }
    Ok(true)
}

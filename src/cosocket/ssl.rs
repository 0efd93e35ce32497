//! `tcpsock:sslhandshake`: TLS on a connected cosocket through nginx's
//! OpenSSL wrappers (`nginx::ssl`): server name, verification, session
//! reuse.
use core::ffi::{c_void, CStr};
use core::ptr::NonNull;

use nginx_sys::{NGX_LOG_DEBUG, NGX_LOG_ERR, NGX_SSL_BUFFER, NGX_SSL_CLIENT, SSL_SESSION};

use super::tcp::{Done, Pending, Tcp};
use crate::conf::LocConf;
use crate::lua::ctx::CoCtx;
use crate::nginx::connection::Connection;
use crate::nginx::request::AGAIN;
use crate::nginx::ssl::{OnHandshake, Session};
use crate::nginx::ssl_server::{CertChain, PKey};

/// What `sslhandshake` asks for.
pub struct HandshakeOpts<'a> {
    /// A session to resume (the caller's).
    pub sess: Option<&'a SSL_SESSION>,
    /// Hand the new session to the caller.
    pub want_session: bool,
    pub server_name: Option<&'a [u8]>,
    pub verify: bool,
    /// Ask for OCSP stapling.
    pub ocsp: bool,
    /// `setclientcert`'s chain and key.
    pub client: Option<(&'a CertChain, &'a PKey)>,
}

/// How a handshake request ended at once.
pub enum Handshake {
    /// Done: the session is kept if one was wanted.
    Ok,
    /// The connection was already TLS and a session was passed: the caller
    /// returns that session.
    AlreadyDone,
    Wait,
    Err,
}

impl Tcp {
    /// Starts the TLS handshake.
    pub fn ssl_handshake(&mut self, opts: HandshakeOpts, me: *mut CoCtx) -> Handshake {
        let HandshakeOpts {
            sess,
            want_session,
            server_name,
            verify,
            ocsp,
            client,
        } = opts;
        self.tls.session = None;
        let Some(c) = self.c else {
            self.fail("closed", Vec::new());
            return Handshake::Err;
        };
        if c.tls_handshaked() {
            if sess.is_some() {
                return Handshake::AlreadyDone;
            }
            self.tls.want_session = want_session;
            self.save_session(c);
            self.done = Done::ok();
            return Handshake::Ok;
        }
        let Some(r) = self.request() else {
            self.fail("no request", Vec::new());
            return Handshake::Err;
        };
        let Some(ssl) = LocConf::of(r).ssl.ssl else {
            self.fail("failed to create ssl connection", Vec::new());
            return Handshake::Err;
        };
        if !c.tls_create(ssl, NGX_SSL_BUFFER | NGX_SSL_CLIENT) {
            self.fail("failed to create ssl connection", Vec::new());
            return Handshake::Err;
        }
        c.disable_sendfile();
        if let Some(s) = sess {
            if !c.tls_set_session(s) {
                self.fail("ssl set session failed", Vec::new());
                return Handshake::Err;
            }
            let p: *const SSL_SESSION = s;
            c.log().write(
                NGX_LOG_DEBUG,
                format!("lua ssl set session: {p:p}").as_bytes(),
            );
        }
        if let Some((chain, key)) = client {
            if let Err(e) = c.tls_use_client_cert(chain, key) {
                self.fail(e, Vec::new());
                return Handshake::Err;
            }
        }
        self.tls.want_session = want_session;
        self.tls.name.clear();
        if let Some(name) = server_name.filter(|n| !n.is_empty()) {
            self.tls.name.extend_from_slice(name);
            self.tls.name.push(0);
            c.log().write(
                NGX_LOG_DEBUG,
                format!("lua ssl server name: \"{}\"", String::from_utf8_lossy(name)).as_bytes(),
            );
            // A name with a NUL inside is cut there, as C reads it.
            let sent =
                CStr::from_bytes_until_nul(&self.tls.name).is_ok_and(|n| c.tls_set_server_name(n));
            if !sent {
                self.fail("SSL_set_tlsext_host_name failed", Vec::new());
                return Handshake::Err;
            }
            self.tls.name.pop();
        }
        self.tls.verify = verify;
        if let Some(store) = self.tls.store.take() {
            // SAFETY: settrustedstore's store, which the socket object
            // in Lua keeps alive while it is set (tls.store's contract).
            if !unsafe { c.tls_set_verify_store(store) } {
                self.fail("SSL_set1_verify_cert_store() failed", Vec::new());
                return Handshake::Err;
            }
        }
        if ocsp {
            c.tls_request_ocsp();
        }
        // SAFETY: the connection's data is this socket (adopted when it
        // connected or came from the pool), boxed, and close() ends the
        // connection before the socket goes.
        let rc = unsafe { c.tls_handshake::<Tcp>() };
        if rc == AGAIN {
            c.write().del_timer();
            c.read().add_timer(self.timeouts.connect);
            self.pending = Pending::Handshake;
            self.writer = me;
            return Handshake::Wait;
        }
        self.handshake_finished();
        if self.done.ok {
            Handshake::Ok
        } else {
            Handshake::Err
        }
    }

    /// Checks the finished (or failed, or timed out) handshake and records
    /// the outcome; a failure closes the connection, as upstream.
    fn handshake_finished(&mut self) {
        let Some(c) = self.c else {
            return;
        };
        // The handshake took the connection's event handlers.
        self.adopt(c);
        let rev = c.read();
        if rev.take_timedout() {
            return self.handshake_failed("timeout", 0);
        }
        rev.del_timer();
        if !c.tls_handshaked() {
            return self.handshake_failed("handshake failed", 0);
        }
        if self.tls.verify {
            if let Err((rc, why)) = c.tls_verify_result() {
                if self.log_errors {
                    c.log().write(
                        NGX_LOG_ERR,
                        format!("lua ssl certificate verify error: ({rc}: {why})").as_bytes(),
                    );
                }
                return self.handshake_failed(&why, rc);
            }
            if !self.tls.name.is_empty() && !c.tls_check_host(&self.tls.name) {
                if self.log_errors {
                    c.log().write(
                        NGX_LOG_ERR,
                        format!(
                            "lua ssl certificate does not match host \"{}\"",
                            String::from_utf8_lossy(&self.tls.name)
                        )
                        .as_bytes(),
                    );
                }
                return self.handshake_failed("certificate host mismatch", 0);
            }
        }
        self.save_session(c);
        self.done = Done::ok();
    }

    fn handshake_failed(&mut self, err: &str, code: i64) {
        self.close_conn();
        self.fail(err, Vec::new());
        self.done.ssl_code = code;
    }

    /// Keeps the connection's session for the caller, if it wants one.
    fn save_session(&mut self, c: Connection) {
        if !self.tls.want_session {
            return;
        }
        let s = c.tls_session();
        if let Some(s) = &s {
            c.log().write(
                NGX_LOG_DEBUG,
                format!("lua ssl save session: {:p}", s.as_ptr()).as_bytes(),
            );
        }
        self.tls.session = s;
    }

    /// `settrustedstore`: the store (null: none) for the next handshake.
    /// The caller keeps it alive until then or until the next call.
    pub fn set_trusted_store(&mut self, store: *mut c_void) -> Result<(), &'static str> {
        if self.c.is_some_and(|c| c.tls_handshaked()) {
            return Err(
                "ssl handshake already done; trusted store cannot be changed on an \
                        established TLS connection",
            );
        }
        self.tls.store = NonNull::new(store);
        Ok(())
    }

    /// The live connection, unless both halves failed ("closed").
    fn open_conn(&self) -> Result<Connection, &'static str> {
        match self.c {
            Some(c) if !self.both_closed() => Ok(c),
            _ => Err("closed"),
        }
    }

    /// `getsslpointer`: the connection's OpenSSL `SSL` object.
    pub fn ssl_pointer(&self) -> Result<NonNull<c_void>, &'static str> {
        self.open_conn()?.tls_ssl_ptr().ok_or("no ssl connection")
    }

    /// `getsslctx`: the `SSL_CTX` of the connection's TLS.
    pub fn ssl_ctx(&self) -> Result<NonNull<c_void>, &'static str> {
        self.open_conn()?.tls_ctx_ptr().ok_or("no ssl context")
    }

    /// `getsslsession`: the connection's session now, if resumable.
    pub fn ssl_session(&self) -> Result<Session, &'static str> {
        self.open_conn()?.tls_resumable_session()
    }

    /// Hands the handshake's session to the caller.
    pub fn take_session(&mut self) -> Option<Session> {
        self.tls.session.take()
    }
}

impl OnHandshake for Tcp {
    /// A handshake that had to wait is over.
    fn on_handshake(&mut self, _c: Connection) {
        if self.pending != Pending::Handshake {
            return;
        }
        self.handshake_finished();
        self.wake(false);
    }
}

//! `tcpsock:sslhandshake`: TLS on a connected cosocket through nginx's
//! OpenSSL wrappers (`ngx_ssl_create_connection`, `ngx_ssl_handshake` with
//! `c->ssl->handler`), server name, verification, session reuse.
use core::ffi::{c_void, CStr};
use core::ptr;

use nginx_sys::*;

use super::tcp::{Done, Pending, Tcp};
use crate::lua::coctx::CoCtx;
use crate::nginx::log;

/// How a handshake request ended at once.
pub enum Handshake {
    /// Done: `ssl_session` holds the session if one was wanted.
    Ok,
    /// The connection was already TLS and a session was passed: the caller
    /// returns that session.
    AlreadyDone,
    Wait,
    Err,
}

impl Tcp {
    /// Starts the TLS handshake. `sess`: a session to resume (owned by the
    /// caller); `want_session`: hand the new session to the caller.
    ///
    /// # Safety
    /// The socket is connected; `sess` is null or a live session.
    pub unsafe fn ssl_handshake(
        &mut self,
        sess: *mut SSL_SESSION,
        want_session: bool,
        server_name: Option<&[u8]>,
        verify: bool,
        ocsp: bool,
        me: *mut CoCtx,
    ) -> Handshake {
        self.free_session();
        // SAFETY: our live connection; the request (and so its location
        // conf with the TLS context) is alive while its Lua code runs.
        unsafe {
            let c = self.c;
            if !(*c).ssl.is_null() && (*(*c).ssl).handshaked() != 0 {
                if !sess.is_null() {
                    return Handshake::AlreadyDone;
                }
                self.ssl_want_session = want_session;
                self.save_session();
                self.done = Done::ok();
                return Handshake::Ok;
            }
            let Some(ctx) = self.ctx.as_ref() else {
                self.fail("no request", Vec::new());
                return Handshake::Err;
            };
            let Some(ssl) = crate::conf::loc_conf(ctx.r).ssl.ssl else {
                self.fail("failed to create ssl connection", Vec::new());
                return Handshake::Err;
            };
            if ngx_ssl_create_connection(
                ssl.as_ptr(),
                c,
                (NGX_SSL_BUFFER | NGX_SSL_CLIENT) as ngx_uint_t,
            ) != NGX_OK as ngx_int_t
            {
                self.fail("failed to create ssl connection", Vec::new());
                return Handshake::Err;
            }
            let conn = (*(*c).ssl).connection;
            (*c).set_sendfile(0);
            if !sess.is_null() {
                if ngx_ssl_set_session(c, sess) != NGX_OK as ngx_int_t {
                    self.fail("ssl set session failed", Vec::new());
                    return Handshake::Err;
                }
                log::log_error(
                    NGX_LOG_DEBUG,
                    (*c).log,
                    format!("lua ssl set session: {sess:p}").as_bytes(),
                );
            }
            self.ssl_want_session = want_session;
            self.ssl_name.clear();
            if let Some(name) = server_name.filter(|n| !n.is_empty()) {
                self.ssl_name.extend_from_slice(name);
                self.ssl_name.push(0);
                log::log_error(
                    NGX_LOG_DEBUG,
                    (*c).log,
                    format!("lua ssl server name: \"{}\"", String::from_utf8_lossy(name))
                        .as_bytes(),
                );
                // SSL_set_tlsext_host_name is a macro over SSL_ctrl.
                if SSL_ctrl(
                    conn,
                    SSL_CTRL_SET_TLSEXT_HOSTNAME as _,
                    TLSEXT_NAMETYPE_host_name as _,
                    self.ssl_name.as_mut_ptr() as *mut c_void,
                ) == 0
                {
                    // Left in the thread's queue, OpenSSL's reason would
                    // surface as nginx's "ignoring stale global SSL error"
                    // [alert] at the next handshake of any connection.
                    ERR_clear_error();
                    self.fail("SSL_set_tlsext_host_name failed", Vec::new());
                    return Handshake::Err;
                }
                self.ssl_name.pop();
            }
            self.ssl_verify = verify;
            if ocsp {
                // SSL_set_tlsext_status_type, a macro over SSL_ctrl too.
                SSL_ctrl(
                    conn,
                    SSL_CTRL_SET_TLSEXT_STATUS_REQ_TYPE as _,
                    TLSEXT_STATUSTYPE_ocsp as _,
                    ptr::null_mut(),
                );
            }
            let rc = ngx_ssl_handshake(c);
            if rc == NGX_AGAIN as ngx_int_t {
                if (*(*c).write).timer_set() != 0 {
                    ngx_del_timer((*c).write);
                }
                ngx_add_timer((*c).read, self.connect_timeout);
                (*(*c).ssl).handler = Some(handshake_handler);
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
    }

    /// Checks the finished (or failed, or timed out) handshake and records
    /// the outcome; a failure closes the connection, as upstream.
    fn handshake_finished(&mut self) {
        // SAFETY: our live connection with its TLS state.
        unsafe {
            let c = self.c;
            self.adopt();
            if (*(*c).read).timedout() != 0 {
                (*(*c).read).set_timedout(0);
                return self.handshake_failed("timeout", 0);
            }
            if (*(*c).read).timer_set() != 0 {
                ngx_del_timer((*c).read);
            }
            if (*(*c).ssl).handshaked() == 0 {
                return self.handshake_failed("handshake failed", 0);
            }
            if self.ssl_verify {
                let rc = SSL_get_verify_result((*(*c).ssl).connection);
                if rc != X509_V_OK as _ {
                    let why = CStr::from_ptr(X509_verify_cert_error_string(rc))
                        .to_string_lossy()
                        .into_owned();
                    if self.log_errors {
                        log::log_error(
                            NGX_LOG_ERR,
                            (*c).log,
                            format!("lua ssl certificate verify error: ({rc}: {why})").as_bytes(),
                        );
                    }
                    return self.handshake_failed(&why, rc as i64);
                }
                if !self.ssl_name.is_empty() {
                    let mut name = ngx_str_t {
                        len: self.ssl_name.len(),
                        data: self.ssl_name.as_mut_ptr(),
                    };
                    if ngx_ssl_check_host(c, &mut name) != NGX_OK as ngx_int_t {
                        if self.log_errors {
                            log::log_error(
                                NGX_LOG_ERR,
                                (*c).log,
                                format!(
                                    "lua ssl certificate does not match host \"{}\"",
                                    String::from_utf8_lossy(&self.ssl_name)
                                )
                                .as_bytes(),
                            );
                        }
                        return self.handshake_failed("certificate host mismatch", 0);
                    }
                }
            }
            self.save_session();
            self.done = Done::ok();
        }
    }

    fn handshake_failed(&mut self, err: &str, code: i64) {
        self.close_conn();
        self.fail(err, Vec::new());
        self.done.ssl_code = code;
    }

    /// Keeps the connection's session for the caller, if it wants one.
    fn save_session(&mut self) {
        if !self.ssl_want_session {
            return;
        }
        // SAFETY: a TLS connection; ngx_ssl_get_session returns a reference
        // the caller must free (ngx_lua_ffi_ssl_free_session).
        unsafe {
            let s = ngx_ssl_get_session(self.c);
            self.ssl_session = s;
            if !s.is_null() {
                log::log_error(
                    NGX_LOG_DEBUG,
                    (*self.c).log,
                    format!("lua ssl save session: {s:p}").as_bytes(),
                );
            }
        }
    }

    /// Hands the handshake's session to the caller (who frees it).
    pub fn take_session(&mut self) -> *mut SSL_SESSION {
        core::mem::replace(&mut self.ssl_session, ptr::null_mut())
    }

    /// Frees a session nobody collected.
    pub(super) fn free_session(&mut self) {
        let s = self.take_session();
        if !s.is_null() {
            // SAFETY: our reference from ngx_ssl_get_session.
            unsafe { free_session(s) };
        }
    }
}

/// Drops one reference to a session (`ngx_ssl_free_session`).
///
/// # Safety
/// `s` is a session reference the caller owns.
pub unsafe fn free_session(s: *mut SSL_SESSION) {
    // SAFETY: see above.
    unsafe {
        log::log_error(
            NGX_LOG_DEBUG,
            log::cycle_log(),
            format!("lua ssl free session: {s:p}").as_bytes(),
        );
        SSL_SESSION_free(s);
    }
}

/// nginx calls this when a handshake that had to wait is over.
unsafe extern "C" fn handshake_handler(c: *mut ngx_connection_t) {
    // SAFETY: the connection's data is the Tcp that started the handshake
    // (ngx_ssl_handshake keeps c->data).
    unsafe {
        let s = &mut *((*c).data as *mut Tcp);
        if s.pending != Pending::Handshake {
            return;
        }
        s.handshake_finished();
        s.wake(false);
    }
}

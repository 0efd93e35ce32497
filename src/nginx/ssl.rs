//! TLS on a connection through nginx's OpenSSL wrappers
//! (`ngx_ssl_create_connection`, `ngx_ssl_handshake`, sessions, host
//! checks, shutdown), as methods of [`Connection`], and [`Session`], an
//! owned reference to a TLS session.
use core::ffi::{c_void, CStr};
use core::ptr::NonNull;

use nginx_sys::*;

use super::connection::Connection;
use super::log;
use super::panic::guard;
use super::request::{Rc, OK};
use super::ssl_server::{CertChain, PKey};

/// One reference to an OpenSSL session (sessions count their references);
/// dropping it gives the reference back. `repr(transparent)`, so an
/// `Option<Session>` crosses the FFI as a nullable `SSL_SESSION *`.
#[repr(transparent)]
#[derive(Debug)]
pub struct Session(NonNull<SSL_SESSION>);

impl Session {
    pub fn as_ptr(&self) -> *mut SSL_SESSION {
        self.0.as_ptr()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let p = self.as_ptr();
        log::cycle(
            NGX_LOG_DEBUG,
            format!("lua ssl free session: {p:p}").as_bytes(),
        );
        // SAFETY: the reference this value owns, given back once.
        unsafe { SSL_SESSION_free(p) };
    }
}

/// What the owner of a connection does when a handshake that had to wait
/// is over (done, failed or timed out: the connection says which).
pub trait OnHandshake {
    fn on_handshake(&mut self, c: Connection);
}

impl Connection {
    /// The connection's TLS state, if it has one.
    #[inline]
    fn tls_state(self) -> Option<NonNull<ngx_ssl_connection_t>> {
        // SAFETY: a live connection (handle invariant); c->ssl is null or
        // its TLS state, which lives in the connection's pool.
        NonNull::new(unsafe { (*self.as_ptr()).ssl })
    }

    /// OpenSSL's object of the connection's TLS state.
    #[inline]
    fn ssl_object(self) -> Option<*mut SSL> {
        // SAFETY: as tls_state; connection is OpenSSL's SSL object.
        self.tls_state()
            .map(|s| unsafe { (*s.as_ptr()).connection })
    }

    /// Whether the connection speaks TLS.
    #[inline]
    pub fn is_tls(self) -> bool {
        self.tls_state().is_some()
    }

    /// Whether its TLS handshake is complete.
    #[inline]
    pub fn tls_handshaked(self) -> bool {
        // SAFETY: as tls_state.
        self.tls_state()
            .is_some_and(|s| unsafe { (*s.as_ptr()).handshaked() } != 0)
    }

    /// Puts TLS on the connection with the context `ssl` (`flags`:
    /// `NGX_SSL_CLIENT`, `NGX_SSL_BUFFER`, ...); false when that failed.
    pub fn tls_create(self, ssl: NonNull<ngx_ssl_t>, flags: u32) -> bool {
        // SAFETY: a TLS context of the configuration (it outlives the
        // connection) and a live connection with a pool of its own.
        let rc = unsafe { ngx_ssl_create_connection(ssl.as_ptr(), self.as_ptr(), flags as _) };
        rc == OK
    }

    /// Offers `session` for resumption in the coming handshake.
    pub fn tls_set_session(self, session: &SSL_SESSION) -> bool {
        // SAFETY: a TLS connection; OpenSSL takes its own reference to the
        // session (the pointer is only declared mutable).
        let rc = unsafe {
            ngx_ssl_set_session(
                self.as_ptr(),
                session as *const SSL_SESSION as *mut SSL_SESSION,
            )
        };
        rc == OK
    }

    /// Sends `name` as the server name (SNI).
    pub fn tls_set_server_name(self, name: &CStr) -> bool {
        let Some(ssl) = self.ssl_object() else {
            return false;
        };
        // SAFETY: SSL_set_tlsext_host_name, a macro over SSL_ctrl, copies
        // the NUL-terminated name.
        let ok = unsafe {
            SSL_ctrl(
                ssl,
                SSL_CTRL_SET_TLSEXT_HOSTNAME as _,
                TLSEXT_NAMETYPE_host_name as _,
                name.as_ptr() as *mut c_void,
            ) != 0
        };
        if !ok {
            // Left in the thread's queue, OpenSSL's reason would surface
            // as nginx's "ignoring stale global SSL error" [alert] at the
            // next handshake of any connection.
            // SAFETY: clears this thread's OpenSSL error queue.
            unsafe { ERR_clear_error() };
        }
        ok
    }

    /// Presents `chain` (leaf first, then intermediates) and `key` as the
    /// client certificate in the coming handshake; the SSL object takes
    /// its own references. The error is upstream's text for the step that
    /// failed (a key that does not match the leaf fails at the key).
    pub fn tls_use_client_cert(self, chain: &CertChain, key: &PKey) -> Result<(), &'static str> {
        let Some(ssl) = self.ssl_object() else {
            return Err("ssl set client certificate failed");
        };
        let fail = |e| {
            // SAFETY: clears this thread's OpenSSL error queue, so the
            // reason is not reported as stale by the next handshake.
            unsafe { ERR_clear_error() };
            Err(e)
        };
        if chain.len() < 1 {
            return fail("invalid client certificate chain");
        }
        let leaf = chain.get(0);
        if leaf.is_null() {
            return fail("ssl fetch client certificate from chain failed");
        }
        // SAFETY: the connection's SSL object and a live certificate;
        // SSL_use_certificate takes its own reference.
        if unsafe { SSL_use_certificate(ssl, leaf) } == 0 {
            return fail("ssl set client certificate failed");
        }
        for i in 1..chain.len() {
            let x = chain.get(i);
            if x.is_null() {
                return fail("ssl fetch client intermediate certificate from chain failed");
            }
            // SAFETY: SSL_add1_chain_cert, a macro over SSL_ctrl whose
            // "1" form takes its own reference to the certificate.
            if unsafe { SSL_ctrl(ssl, SSL_CTRL_CHAIN_CERT as _, 1, x as *mut c_void) } == 0 {
                return fail("ssl set client intermediate certificate failed");
            }
        }
        // SAFETY: a live key; SSL_use_PrivateKey takes its own reference
        // and checks it against the certificate set above.
        if unsafe { SSL_use_PrivateKey(ssl, key.as_ptr()) } == 0 {
            return fail("ssl set client private key failed");
        }
        Ok(())
    }

    /// Verifies the peer of the coming handshake against `store` instead
    /// of the context's trusted certificates.
    ///
    /// # Safety
    /// `store` is a live `X509_STORE` (OpenSSL takes its own reference).
    pub unsafe fn tls_set_verify_store(self, store: NonNull<c_void>) -> bool {
        let Some(ssl) = self.ssl_object() else {
            return false;
        };
        // SAFETY: SSL_set1_verify_cert_store, a macro over SSL_ctrl whose
        // "1" form up-references the caller's live store.
        let ok =
            unsafe { SSL_ctrl(ssl, SSL_CTRL_SET_VERIFY_CERT_STORE as _, 1, store.as_ptr()) != 0 };
        if !ok {
            // SAFETY: this thread's OpenSSL error queue.
            unsafe { ERR_clear_error() };
        }
        ok
    }

    /// The connection's OpenSSL `SSL` object, for lua-lib's callers to
    /// use through their own FFI (`getsslpointer`).
    pub fn tls_ssl_ptr(self) -> Option<NonNull<c_void>> {
        self.ssl_object()
            .and_then(|p| NonNull::new(p as *mut c_void))
    }

    /// The `SSL_CTX` the connection's TLS came from (`getsslctx`).
    pub fn tls_ctx_ptr(self) -> Option<NonNull<c_void>> {
        // SAFETY: as tls_state; session_ctx is the context
        // ngx_ssl_create_connection took the connection from.
        self.tls_state()
            .and_then(|s| NonNull::new(unsafe { (*s.as_ptr()).session_ctx } as *mut c_void))
    }

    /// The connection's current session if it can be resumed
    /// (`getsslsession`: later than the handshake, a TLS 1.3 server's
    /// ticket has usually arrived); else upstream's reason.
    pub fn tls_resumable_session(self) -> Result<Session, &'static str> {
        if !self.is_tls() {
            return Err("no session");
        }
        let s = self.tls_session().ok_or("no session")?;
        // SAFETY: a session we hold a reference to.
        if unsafe { SSL_SESSION_is_resumable(s.as_ptr()) } == 0 {
            return Err("not resumable");
        }
        Ok(s)
    }

    /// Lets a write that had to wait be retried from another address:
    /// OpenSSL otherwise wants the retry to pass the very same buffer
    /// ("bad write retry"), and a cosocket's first try writes from the
    /// caller's string while the retry writes from its own copy.
    pub fn tls_allow_moving_write_buffer(self) {
        if let Some(ssl) = self.ssl_object() {
            // SAFETY: SSL_set_mode, a macro over SSL_ctrl, on the
            // connection's SSL object; it only adds a mode bit.
            unsafe {
                SSL_ctrl(
                    ssl,
                    SSL_CTRL_MODE as _,
                    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER as _,
                    core::ptr::null_mut(),
                );
            }
        }
    }

    /// Asks the server for its OCSP status (stapling).
    pub fn tls_request_ocsp(self) {
        if let Some(ssl) = self.ssl_object() {
            // SAFETY: SSL_set_tlsext_status_type, a macro over SSL_ctrl, on
            // the connection's SSL object.
            unsafe {
                SSL_ctrl(
                    ssl,
                    SSL_CTRL_SET_TLSEXT_STATUS_REQ_TYPE as _,
                    TLSEXT_STATUSTYPE_ocsp as _,
                    core::ptr::null_mut(),
                );
            }
        }
    }

    /// Runs the handshake as far as it goes now: `NGX_OK` done,
    /// `NGX_AGAIN` waiting (then nginx drives it on the connection's
    /// events and calls `T::on_handshake` at the end), else failed.
    ///
    /// # Safety
    /// The connection's data is a `T` that stays valid at its address
    /// while the handshake waits (a `T` given to `set_handler`).
    pub unsafe fn tls_handshake<T: OnHandshake>(self) -> Rc {
        // SAFETY: a live connection with TLS (tls_create).
        let rc = unsafe { ngx_ssl_handshake(self.as_ptr()) };
        if rc == super::request::AGAIN {
            if let Some(s) = self.tls_state() {
                // SAFETY: the connection's TLS state.
                unsafe { (*s.as_ptr()).handler = Some(handshaked::<T>) };
            }
        }
        rc
    }

    /// OpenSSL's verdict on the peer's certificate chain: its code and
    /// text when it failed.
    pub fn tls_verify_result(self) -> Result<(), (i64, String)> {
        let Some(ssl) = self.ssl_object() else {
            return Ok(());
        };
        // SAFETY: the connection's SSL object after its handshake.
        let rc = unsafe { SSL_get_verify_result(ssl) };
        if rc == X509_V_OK as _ {
            return Ok(());
        }
        // SAFETY: X509_verify_cert_error_string returns a static string.
        let why = unsafe { CStr::from_ptr(X509_verify_cert_error_string(rc)) }
            .to_string_lossy()
            .into_owned();
        Err((rc as i64, why))
    }

    /// Whether the peer's certificate names `host`.
    pub fn tls_check_host(self, host: &[u8]) -> bool {
        let mut name = ngx_str_t {
            len: host.len(),
            data: host.as_ptr() as *mut u8,
        };
        // SAFETY: a TLS connection after its handshake; nginx only reads
        // the name.
        unsafe { ngx_ssl_check_host(self.as_ptr(), &mut name) == OK }
    }

    /// A reference to the connection's session (for resumption later).
    pub fn tls_session(self) -> Option<Session> {
        // SAFETY: a TLS connection; ngx_ssl_get_session returns a new
        // reference (or null), which the Session owns.
        NonNull::new(unsafe { ngx_ssl_get_session(self.as_ptr()) }).map(Session)
    }

    /// Ends TLS without the close_notify exchange (the socket is about to
    /// close), as nginx's upstream module does on errors.
    pub fn tls_shutdown_quietly(self) {
        if let Some(s) = self.tls_state() {
            // SAFETY: the connection's TLS state; ngx_ssl_shutdown frees it.
            unsafe {
                (*s.as_ptr()).set_no_wait_shutdown(1);
                (*s.as_ptr()).set_no_send_shutdown(1);
                ngx_ssl_shutdown(self.as_ptr());
            }
        }
    }
}

unsafe extern "C" fn handshaked<T: OnHandshake>(c: *mut ngx_connection_t) {
    guard((), || {
        // SAFETY: nginx calls the handshake handler with the live
        // connection, whose data is the T of tls_handshake's contract.
        unsafe {
            let t = &mut *((*c).data as *mut T);
            let c = Connection::from_raw(c).expect("nginx passes its connection");
            t.on_handshake(c);
        }
    })
}

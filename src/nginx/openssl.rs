//! Small owned OpenSSL objects shared by the TLS wrappers (server
//! handshakes, sessions, OCSP): each file above uses them, none of them
//! uses those files.
use core::ffi::{c_int, c_void};
use core::ptr::{self, NonNull};

use nginx_sys::*;

/// A memory BIO reading `data` (which must outlive it).
pub(super) struct MemBio(*mut BIO);

impl MemBio {
    pub(super) fn new(data: &[u8]) -> Option<MemBio> {
        // SAFETY: a read-only memory BIO over the caller's bytes.
        let b = unsafe { BIO_new_mem_buf(data.as_ptr() as *const c_void, data.len() as c_int) };
        (!b.is_null()).then_some(MemBio(b))
    }

    pub(super) fn raw(&self) -> *mut BIO {
        self.0
    }

    pub(super) fn eof(&self) -> bool {
        // SAFETY: BIO_eof is BIO_ctrl(BIO_CTRL_EOF) on our BIO.
        unsafe { BIO_ctrl(self.0, BIO_CTRL_EOF as c_int, 0, ptr::null_mut()) != 0 }
    }
}

impl Drop for MemBio {
    fn drop(&mut self) {
        // SAFETY: our BIO.
        unsafe { BIO_free(self.0) };
    }
}

/// An owned session.
pub struct Session(NonNull<SSL_SESSION>);

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: our reference.
        unsafe { SSL_SESSION_free(self.0.as_ptr()) }
    }
}

impl Session {
    pub(super) fn raw(&self) -> *mut SSL_SESSION {
        self.0.as_ptr()
    }

    /// A session from its DER form (`set_serialized_session`).
    pub fn from_der(der: &[u8]) -> Option<Session> {
        let mut p = der.as_ptr();
        // SAFETY: OpenSSL reads at most der.len() bytes from p and returns
        // a new session or null.
        let s = unsafe { d2i_SSL_SESSION(ptr::null_mut(), &mut p, der.len() as _) };
        if s.is_null() {
            // SAFETY: this thread's error queue.
            unsafe { ERR_clear_error() };
        }
        NonNull::new(s).map(Session)
    }
}

/// A copy of `data` in OpenSSL's heap, for an object that takes it
/// (`SSL_set_tlsext_status_ocsp_resp`).
pub(super) fn openssl_copy(data: &[u8]) -> Option<*mut u8> {
    // SAFETY: a new block of data.len() bytes (at least one, as malloc(0)
    // may give null), filled from data.
    unsafe {
        let p = CRYPTO_malloc(data.len().max(1), c"openssl.rs".as_ptr(), 0) as *mut u8;
        if p.is_null() {
            return None;
        }
        ptr::copy_nonoverlapping(data.as_ptr(), p, data.len());
        Some(p)
    }
}

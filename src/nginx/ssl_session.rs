//! OpenSSL's server session cache callbacks for
//! `ssl_session_fetch_by_lua*` and `ssl_session_store_by_lua*`, and the
//! sessions `ngx.ssl.session` hands out.
//!
//! Stock OpenSSL gives a session lookup callback no way to pause
//! (OpenResty patches it for `SSL_magic_pending_session_ptr()`), so the
//! fetch handler runs on the probe of `ssl_server`: the probe's lookup
//! records the id the client offered and answers "none"; when the probe
//! stops, the handler runs (and may yield) before nginx's handshake; then a
//! new probe and the real handshake get the session it set. The store
//! callback runs on the real handshake and cannot yield (as upstream), so
//! its handler runs there and then.
use core::ffi::{c_int, c_uchar, c_uint};
use core::ptr;

use nginx_sys::*;

use super::conf::{Conf, HttpConfs};
use super::global::Global;
use super::log::Log;
use super::openssl::Session;
use super::panic::guard;
use super::ssl_server::{install, pending_of, probe_pending, Fetch, Tls};

/// What runs `ssl_session_store_by_lua*` for connection `c` (whose TLS
/// state is `sc`) under the conf arrays of its server.
pub type StoreFn = fn(c: *mut ngx_connection_t, confs: HttpConfs, sc: *mut ngx_ssl_connection_t);

static STORE: Global<Option<StoreFn>> = Global::new(None);
/// The SSL object and the session the store handler runs for (null
/// pointers outside it; the handler cannot yield).
static STORING: Global<(*mut SSL, *mut SSL_SESSION)> =
    Global::new((ptr::null_mut(), ptr::null_mut()));

/// nginx's `NGX_SSL_MAX_SESSION_SIZE`: the largest serialized session
/// `set_serialized_session` takes, as upstream.
pub const MAX_SESSION_SIZE: usize = 4096;

/// The DER form of session `s`.
///
/// # Safety
/// `s` is a live session.
unsafe fn to_der(s: *const SSL_SESSION) -> Option<Vec<u8>> {
    // SAFETY: the caller's contract; i2d with a null output gives the
    // length, then writes that much at the pointer.
    unsafe {
        let n = i2d_SSL_SESSION(s, ptr::null_mut());
        if n <= 0 {
            ERR_clear_error();
            return None;
        }
        let mut out = vec![0u8; n as usize];
        let mut p = out.as_mut_ptr();
        if i2d_SSL_SESSION(s, &mut p) != n {
            ERR_clear_error();
            return None;
        }
        Some(out)
    }
}

/// Installs the session callbacks on the TLS context of every server for
/// which `fetch` (lookup) or `store` says yes; whether a lookup was
/// installed (the probe is then needed). None: a server without TLS
/// (logged).
pub fn install_session_cbs(
    cf: Conf,
    fetch: impl Fn(HttpConfs) -> bool,
    store: impl Fn(HttpConfs) -> bool,
) -> Option<bool> {
    let any = install(
        cf,
        fetch,
        |ctx| {
            // SAFETY: a server's live TLS context; this replaces nginx's own
            // shared cache lookup (ssl_session_cache shared:...), as upstream.
            unsafe { SSL_CTX_sess_set_get_cb(ctx, Some(get_cb)) }
        },
        true,
    )?;
    super::ssl_server::KEEP_HELLO.set(any);
    install(
        cf,
        store,
        |ctx| {
            // SAFETY: as above, for the new-session callback.
            unsafe { SSL_CTX_sess_set_new_cb(ctx, Some(new_cb)) }
        },
        true,
    )?;
    Some(any)
}

/// `f` runs the store handler from now on.
pub fn set_store(f: StoreFn) {
    STORE.set(Some(f));
}

/// `ssl` negotiated TLS 1.3 or later: upstream's handlers skip those
/// (debug-logged as upstream does).
///
/// # Safety
/// `ssl` is live; `c` null or its connection.
unsafe fn tls13(ssl: *mut SSL, c: *mut ngx_connection_t, what: &str) -> bool {
    // SAFETY: the caller's contract.
    let v = unsafe { SSL_version(ssl) };
    if v < TLS1_3_VERSION as c_int {
        return false;
    }
    if !c.is_null() {
        // SAFETY: a live connection's log.
        let log = unsafe { Log::from_raw((*c).log) };
        crate::debug!(log, "{what}: skipped since TLS version >= 1.3 ({v:x})");
    }
    true
}

unsafe extern "C" fn get_cb(
    ssl: *mut SSL,
    id: *const c_uchar,
    len: c_int,
    copy: *mut c_int,
) -> *mut SSL_SESSION {
    guard(ptr::null_mut(), || {
        // SAFETY: OpenSSL calls it with the SSL object in handshake, the
        // offered id (len bytes) and its copy flag; nginx's slot holds the
        // client connection of both nginx's objects and our probes.
        unsafe {
            let c = SSL_get_ex_data(ssl, ngx_ssl_connection_index) as *mut ngx_connection_t;
            if tls13(ssl, c, "ssl_session_fetch_by_lua*") {
                return ptr::null_mut();
            }
            let p = match probe_pending(ssl) {
                Some(p) => p,
                None if c.is_null() => return ptr::null_mut(),
                None => match pending_of(c) {
                    Some(p) => p,
                    None => return ptr::null_mut(),
                },
            };
            match p.fetch.get() {
                Fetch::Done => match p.session.borrow().as_ref() {
                    Some(s) => {
                        // OpenSSL takes its own reference.
                        *copy = 1;
                        s.raw()
                    }
                    None => ptr::null_mut(),
                },
                Fetch::No | Fetch::Due => {
                    if probe_pending(ssl).is_some() && !id.is_null() && len > 0 {
                        *p.sess_id.borrow_mut() =
                            core::slice::from_raw_parts(id, len as usize).to_vec();
                        p.fetch.set(Fetch::Due);
                    }
                    ptr::null_mut()
                }
            }
        }
    })
}

unsafe extern "C" fn new_cb(ssl: *mut SSL, sess: *mut SSL_SESSION) -> c_int {
    // 0: OpenSSL keeps its reference to the session (nginx's practice).
    guard(0, || {
        if probe_pending(ssl).is_some() {
            return 0;
        }
        // SAFETY: OpenSSL calls it with the SSL object that made the
        // session; nginx's slot holds its client connection, whose data is
        // the http connection during the handshake.
        unsafe {
            let c = SSL_get_ex_data(ssl, ngx_ssl_connection_index) as *mut ngx_connection_t;
            if c.is_null() || tls13(ssl, c, "ssl_session_store_by_lua*") {
                return 0;
            }
            let Some(store) = STORE.get() else {
                return 0;
            };
            let hc = (*c).data as *mut ngx_http_connection_t;
            if hc.is_null() || (*hc).conf_ctx.is_null() {
                return 0;
            }
            let ctx = (*hc).conf_ctx;
            let confs = HttpConfs {
                main: (*ctx).main_conf,
                srv: (*ctx).srv_conf,
                loc: (*ctx).loc_conf,
            };
            let prev = STORING.get();
            STORING.set((ssl, sess));
            store(c, confs, (*c).ssl);
            STORING.set(prev);
        }
        0
    })
}

/// Where a running handler's session lives, for `ngx.ssl.session`.
enum Ctx {
    Fetch(&'static super::ssl_server::Pending),
    Store(*mut SSL_SESSION),
}

fn ctx_of(t: Tls) -> Option<Ctx> {
    let ssl = t.as_raw() as *mut SSL;
    if let Some(p) = probe_pending(ssl) {
        if p.fetch.get() != Fetch::No {
            return Some(Ctx::Fetch(p));
        }
        return None;
    }
    let (s, sess) = STORING.get();
    (s == ssl && !sess.is_null()).then_some(Ctx::Store(sess))
}

/// Upstream's texts for a handshake without a session context.
pub const NO_CTX: &str = "bad lua context";

/// The session id of the running fetch or store handler, raw.
pub fn session_id(t: Tls) -> Result<Vec<u8>, &'static str> {
    let id = match ctx_of(t).ok_or(NO_CTX)? {
        Ctx::Fetch(p) => p.sess_id.borrow().clone(),
        Ctx::Store(s) => {
            let mut n: c_uint = 0;
            // SAFETY: the session being stored, alive during the handler;
            // the id points into it and is copied at once.
            unsafe {
                let p = SSL_SESSION_get_id(s, &mut n);
                if p.is_null() {
                    Vec::new()
                } else {
                    core::slice::from_raw_parts(p, n as usize).to_vec()
                }
            }
        }
    };
    if id.is_empty() {
        return Err("uninitialized session id len in lua context");
    }
    Ok(id)
}

/// The serialized session: the one being stored, or the one the fetch
/// handler set.
pub fn serialized(t: Tls) -> Result<Vec<u8>, &'static str> {
    let der = match ctx_of(t).ok_or(NO_CTX)? {
        Ctx::Fetch(p) => match p.session.borrow().as_ref() {
            // SAFETY: our live session.
            Some(s) => unsafe { to_der(s.raw()) },
            None => return Err("bad session in lua context"),
        },
        // SAFETY: the session being stored, alive during the handler.
        Ctx::Store(s) => unsafe { to_der(s) },
    };
    der.ok_or("i2d_SSL_SESSION() failed")
}

/// Gives the fetch handler's session to the handshake.
pub fn set_serialized(t: Tls, der: &[u8]) -> Result<(), &'static str> {
    if der.is_empty() || der.len() > MAX_SESSION_SIZE {
        return Err("invalid session length");
    }
    let s = Session::from_der(der).ok_or("failed to de-serialize session")?;
    match ctx_of(t).ok_or(NO_CTX)? {
        Ctx::Fetch(p) => {
            *p.session.borrow_mut() = Some(s);
            Ok(())
        }
        Ctx::Store(_) => Err(NO_CTX),
    }
}

//! The TLS object of a request's upstream connection
//! (`ngx.ssl.get_upstream_ssl_pointer`).
use core::ffi::c_void;

use nginx_sys::SSL_session_reused;

use super::request::Request;

/// The `SSL *` of `r`'s upstream connection, or upstream's text for why
/// there is none.
pub fn upstream_ssl(r: Request) -> Result<*mut c_void, &'static str> {
    // SAFETY: a live request; its upstream (null or live while the request
    // is), the upstream's peer connection (null once closed or kept alive
    // in a pool) and that connection's TLS state (null without TLS).
    unsafe {
        let u = (*r.as_ptr()).upstream;
        if u.is_null() {
            return Err("bad upstream");
        }
        let c = (*u).peer.connection;
        if c.is_null() {
            return Err("bad peer connection");
        }
        let sc = (*c).ssl;
        if sc.is_null() || (*sc).connection.is_null() {
            return Err("not ssl connection");
        }
        Ok((*sc).connection as *mut c_void)
    }
}

/// Whether the handshake of `ssl` resumed a session.
///
/// # Safety
/// `ssl` is a live `SSL *` (as upstream's `ssl_session_reused(ssl)`
/// assumes of the pointer it is given).
pub unsafe fn session_reused(ssl: *mut c_void) -> bool {
    // SAFETY: the caller's contract.
    unsafe { SSL_session_reused(ssl as *const _) != 0 }
}

// --- proxy_ssl_certificate_by_lua* and proxy_ssl_verify_by_lua* ---
//
// Both run inside OpenSSL's callbacks of the upstream handshake, to
// completion: stock nginx's handshake cannot be paused there (see
// docs/design.md, "Upstream TLS handlers").

use core::ffi::c_int;
use core::ptr;

use nginx_sys::*;

use super::conf::Conf;
use super::global::Global;
use super::panic::guard;
use super::ssl_server::{CertChain, PKey};

/// Which of the two handlers a callback runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ProxyHook {
    Cert,
    Verify,
}

/// Runs the `hook` handler of request `r` (whose upstream connection is
/// in handshake): None when `r`'s location has none, else whether the
/// handshake goes on.
pub type ProxyRunFn = fn(r: Request, hook: ProxyHook) -> Option<bool>;

static PROXY_RUN: Global<Option<ProxyRunFn>> = Global::new(None);
/// The SSL object and the verification context the running handler
/// serves (null outside it: the handlers cannot yield).
static PROXY_CUR: Global<(*mut SSL, *mut X509_STORE_CTX)> =
    Global::new((ptr::null_mut(), ptr::null_mut()));

/// `f` runs the handlers from now on.
pub fn set_proxy_runner(f: ProxyRunFn) {
    PROXY_RUN.set(Some(f));
}

/// The context index of the module called `name` in the cycle being
/// configured.
fn module_ctx_index(cf: Conf, name: &[u8]) -> Option<usize> {
    // SAFETY: during configuration the cycle's module array is complete
    // (ngx_cycle_modules ran before the configuration is parsed) and every
    // module has its name.
    unsafe {
        let cycle = (*cf.as_ptr()).cycle;
        let mods = (*cycle).modules;
        for i in 0..(*cycle).modules_n {
            let m = *mods.add(i);
            if !(*m).name.is_null() && core::ffi::CStr::from_ptr((*m).name).to_bytes() == name {
                return Some((*m).ctx_index);
            }
        }
        None
    }
}

/// The proxy module's TLS context of the location being merged, if it
/// has one (`proxy_pass https://...` there).
fn proxy_ssl_ctx(cf: Conf) -> *mut SSL_CTX {
    let Some(idx) = module_ctx_index(cf, b"ngx_http_proxy_module") else {
        return ptr::null_mut();
    };
    // SAFETY: while loc confs merge, cf->ctx is the location's conf
    // context, whose proxy conf (merged before ours: the proxy module is
    // built in, ours is loaded after it) starts with its
    // ngx_http_upstream_conf_t, as upstream relies on too; its ngx_ssl_t is
    // null or in conf memory.
    unsafe {
        let ctx = (*cf.as_ptr()).ctx as *mut ngx_http_conf_ctx_t;
        let ucf = *(*ctx).loc_conf.add(idx) as *mut ngx_http_upstream_conf_t;
        if ucf.is_null() || (*ucf).ssl.is_null() {
            return ptr::null_mut();
        }
        (*(*ucf).ssl).ctx as *mut SSL_CTX
    }
}

/// Installs the `hook` callback on the TLS context of the proxy module in
/// the location being merged. False when the location proxies without
/// TLS (nginx has no context to install on).
pub fn install_proxy_cb(cf: Conf, hook: ProxyHook) -> bool {
    let ctx = proxy_ssl_ctx(cf);
    if ctx.is_null() {
        return false;
    }
    // SAFETY: the live context of the proxy module. nginx sets neither
    // callback on it (its own verify callback is SSL_CTX_set_verify's,
    // which this one calls through X509_verify_cert); the context may be
    // shared with locations without the handler, for which the callbacks
    // do what OpenSSL does without them.
    unsafe {
        match hook {
            ProxyHook::Cert => SSL_CTX_set_cert_cb(ctx, Some(cert_cb), ptr::null_mut()),
            ProxyHook::Verify => {
                SSL_CTX_set_cert_verify_callback(ctx, Some(verify_cb), ptr::null_mut())
            }
        }
    }
    true
}

/// The request whose upstream connection `ssl` is.
///
/// # Safety
/// `ssl` is the live SSL object of an nginx connection in handshake.
unsafe fn request_of(ssl: *mut SSL) -> Option<Request> {
    // SAFETY: the contract; nginx keeps the connection in the SSL object's
    // ex data, and an upstream connection's data is its request
    // (ngx_http_upstream_connect).
    unsafe {
        let c = SSL_get_ex_data(ssl, ngx_ssl_connection_index) as *mut ngx_connection_t;
        if c.is_null() {
            return None;
        }
        Request::from_raw((*c).data as *mut ngx_http_request_t)
    }
}

/// Runs `hook` for `ssl` with `store` as the verification context.
fn run(ssl: *mut SSL, store: *mut X509_STORE_CTX, hook: ProxyHook) -> Option<bool> {
    let f = PROXY_RUN.get()?;
    // SAFETY: OpenSSL calls back with the SSL object in handshake.
    let r = unsafe { request_of(ssl) }?;
    let prev = PROXY_CUR.get();
    PROXY_CUR.set((ssl, store));
    let res = f(r, hook);
    PROXY_CUR.set(prev);
    res
}

unsafe extern "C" fn cert_cb(ssl: *mut SSL, _arg: *mut c_void) -> c_int {
    guard(0, || match run(ssl, ptr::null_mut(), ProxyHook::Cert) {
        None | Some(true) => 1,
        Some(false) => 0,
    })
}

unsafe extern "C" fn verify_cb(store: *mut X509_STORE_CTX, _arg: *mut c_void) -> c_int {
    guard(0, || {
        // SAFETY: OpenSSL's verification context of a handshake carries
        // its SSL object at this index.
        let ssl = unsafe { X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()) }
            as *mut SSL;
        match run(ssl, store, ProxyHook::Verify) {
            // SAFETY: the live context OpenSSL handed in; what OpenSSL
            // does without a callback.
            None => unsafe { X509_verify_cert(store) },
            Some(ok) => c_int::from(ok),
        }
    })
}

/// OpenSSL's own chain verification for the running verify handler
/// (skipped with `lua_upstream_skip_openssl_default_verify on`).
pub fn proxy_default_verify() -> bool {
    let (_, store) = PROXY_CUR.get();
    // SAFETY: set only while the verify callback runs, with its live
    // context.
    !store.is_null() && unsafe { X509_verify_cert(store) } > 0
}

/// The SSL object of `r`'s upstream connection, with upstream's errors
/// for the `ngx.ssl.proxysslcert` functions.
fn proxy_ssl(r: Request) -> Result<*mut SSL, &'static str> {
    // SAFETY: a live request; its upstream (null or live), its peer
    // connection (null once closed) and that connection's TLS state.
    unsafe {
        let u = (*r.as_ptr()).upstream;
        if u.is_null() {
            return Err("bad request");
        }
        let c = (*u).peer.connection;
        if c.is_null() || (*c).ssl.is_null() {
            return Err("bad upstream connection");
        }
        let ssl = (*(*c).ssl).connection;
        if ssl.is_null() {
            return Err("bad ssl conn");
        }
        Ok(ssl)
    }
}

fn clear_openssl_errors() {
    // SAFETY: this thread's error queue.
    unsafe { ERR_clear_error() };
}

/// `proxysslcert.clear_certs`.
pub fn proxy_clear_certs(r: Request) -> Result<(), &'static str> {
    let ssl = proxy_ssl(r)?;
    // SAFETY: the live SSL object of the upstream connection.
    unsafe { SSL_certs_clear(ssl) };
    Ok(())
}

/// `proxysslcert.set_der_cert` / `set_cert`: the leaf and its chain.
pub fn proxy_set_cert(r: Request, chain: &CertChain) -> Result<(), &'static str> {
    let ssl = proxy_ssl(r)?;
    let n = chain.len();
    if n == 0 {
        return Err("invalid certificate chain");
    }
    // SAFETY: the live SSL object; OpenSSL takes its own references
    // (SSL_use_certificate, the add1 chain control).
    unsafe {
        if SSL_use_certificate(ssl, chain.get(0)) == 0 {
            clear_openssl_errors();
            return Err("SSL_use_certificate() failed");
        }
        for i in 1..n {
            if SSL_ctrl(
                ssl,
                SSL_CTRL_CHAIN_CERT as c_int,
                1,
                chain.get(i) as *mut c_void,
            ) == 0
            {
                clear_openssl_errors();
                return Err("SSL_add1_chain_cert() failed");
            }
        }
    }
    Ok(())
}

/// `proxysslcert.set_der_priv_key` / `set_priv_key`.
pub fn proxy_set_key(r: Request, key: &PKey) -> Result<(), &'static str> {
    let ssl = proxy_ssl(r)?;
    // SAFETY: the live SSL object; OpenSSL takes a reference.
    if unsafe { SSL_use_PrivateKey(ssl, key.as_ptr()) } == 0 {
        clear_openssl_errors();
        return Err("SSL_use_PrivateKey() failed");
    }
    Ok(())
}

/// The verification context of the running verify handler for `r`, with
/// upstream's errors.
fn verify_store(r: Request) -> Result<*mut X509_STORE_CTX, &'static str> {
    let ssl = proxy_ssl(r)?;
    let (cur, store) = PROXY_CUR.get();
    if cur != ssl || store.is_null() {
        return Err("bad lua context");
    }
    Ok(store)
}

/// `proxysslverify.set_verify_result`.
pub fn proxy_set_verify_result(r: Request, v: c_int) -> Result<(), &'static str> {
    let store = verify_store(r)?;
    // SAFETY: the live context of the running verify callback.
    unsafe { X509_STORE_CTX_set_error(store, v) };
    Ok(())
}

/// `proxysslverify.get_verify_result`.
pub fn proxy_get_verify_result(r: Request) -> Result<c_int, &'static str> {
    let store = verify_store(r)?;
    // SAFETY: as above.
    Ok(unsafe { X509_STORE_CTX_get_error(store) })
}

/// `proxysslverify.get_verify_cert`: a new reference to the upstream's
/// certificate, for [`free_cert`].
pub fn proxy_get_verify_cert(r: Request) -> Result<*mut c_void, &'static str> {
    let store = verify_store(r)?;
    // SAFETY: as above; the certificate lives with the context and the
    // reference taken here keeps it for the caller.
    unsafe {
        let x = X509_STORE_CTX_get0_cert(store);
        if x.is_null() || X509_up_ref(x) == 0 {
            return Err("get verify result failed");
        }
        Ok(x as *mut c_void)
    }
}

/// Drops a reference [`proxy_get_verify_cert`] handed out.
///
/// # Safety
/// `x` is null or such a reference, not used afterwards.
pub unsafe fn free_cert(x: *mut c_void) {
    if !x.is_null() {
        // SAFETY: the caller's contract.
        unsafe { X509_free(x as *mut X509) };
    }
}

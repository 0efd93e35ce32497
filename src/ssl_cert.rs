//! `ssl_client_hello_by_lua*`, `ssl_session_fetch_by_lua*` and
//! `ssl_certificate_by_lua*`: the handlers run for a TLS connection before
//! nginx's handshake, in a fake request over the connection's probe (see
//! `nginx::ssl_server`), and may yield; their verdicts and settings are
//! then applied by the real handshake. `ssl_session_store_by_lua*` runs
//! inside the real handshake and cannot yield, as upstream.
//! `proxy_ssl_certificate_by_lua*` and `proxy_ssl_verify_by_lua*` run
//! inside the upstream handshake for the proxied request and cannot
//! yield on stock nginx.
use core::ffi::c_void;

use nginx_sys::{ngx_connection_t, ngx_ssl_connection_t, NGX_ERROR, NGX_LOG_ERR};

use crate::conf::LocConf;
use crate::http::RequestCtx;
use crate::lua::ctx::LuaCtx;
use crate::lua::sched::{self, Outcome};
use crate::nginx::conf::HttpConfs;
use crate::nginx::fake::FakeConnection;
use crate::nginx::request::Request;
use crate::nginx::ssl_server::{self, Kind, Start};
use crate::nginx::ssl_upstream::{self, ProxyHook};

/// Continue (true) or fail the handshake, once the handler is over
/// (None while it waits). As upstream, `ngx.exit(ngx.ERROR)` and error
/// statuses fail it; a Lua error too.
fn verdict(outcome: Outcome) -> Option<bool> {
    match outcome {
        Outcome::Yielded => None,
        Outcome::Done => Some(true),
        Outcome::Error => Some(false),
        Outcome::Exit(code) => Some(code != NGX_ERROR as isize && code < 300),
    }
}

/// Whether the server `confs` has a `kind` handler (`ssl_server`'s
/// [`ssl_server::HasFn`]).
pub fn has(confs: HttpConfs, kind: Kind) -> bool {
    let lcf = LocConf::of_confs(confs);
    match kind {
        Kind::ClientHello => lcf.ssl_client_hello.is_some(),
        Kind::Cert => lcf.ssl_cert.is_some(),
        Kind::SessFetch => lcf.ssl_sess_fetch.is_some(),
        Kind::SessStore => lcf.ssl_sess_store.is_some(),
    }
}

/// Starts the `kind` handler of the server `confs` for client connection
/// `c` (`ssl_server`'s [`ssl_server::StartFn`]).
pub fn start(
    c: *mut ngx_connection_t,
    confs: HttpConfs,
    probe: *mut ngx_ssl_connection_t,
    kind: Kind,
) -> Start {
    let Some(fc) = FakeConnection::new() else {
        return Start::Done(false);
    };
    fc.lend_tls(c, probe, kind);
    let close = |fc: FakeConnection| {
        fc.unlend_tls();
        fc.close();
    };
    let Some(r) = fc.request(confs) else {
        close(fc);
        return Start::Done(false);
    };
    let lcf = LocConf::of(r);
    let handler = match kind {
        Kind::ClientHello => &lcf.ssl_client_hello,
        Kind::Cert => &lcf.ssl_cert,
        Kind::SessFetch => &lcf.ssl_sess_fetch,
        Kind::SessStore => &lcf.ssl_sess_store,
    };
    let Some(h) = handler.clone() else {
        close(fc);
        return Start::Done(true);
    };
    // SAFETY: the fake request lives until its connection closes, which
    // only happens below, in after_resume or in abort.
    let Some(ctx) = (unsafe { RequestCtx::get_or_create(r.as_ptr()) }) else {
        close(fc);
        return Start::Done(false);
    };
    // SAFETY: ctx is the fake request's live context.
    let outcome = unsafe { sched::start(ctx, &h, lcf.code_cache(), after_resume) };
    match verdict(outcome) {
        Some(ok) => {
            close(fc);
            Start::Done(ok)
        }
        None => Start::Pending(r.as_ptr() as *mut c_void, abort),
    }
}

/// The handler resumed from an event: when it is over, the handshake
/// goes on and the fake request closes.
fn after_resume(ctx: &mut LuaCtx, outcome: Outcome) {
    let Some(ok) = verdict(outcome) else {
        return;
    };
    // SAFETY: the context of a fake request start() made; closing its
    // connection frees ctx, which nothing touches afterwards.
    let fc = unsafe { ctx.req().fake_connection() };
    let client = fc.tls_client();
    fc.unlend_tls();
    fc.close();
    if !client.is_null() {
        // SAFETY: the client connection start() was given; its record
        // aborts this job (closing the fake request, so no resumption
        // reaches here) before the connection goes.
        unsafe { ssl_server::finish(client, ok) };
    }
}

/// The client connection went away while the handler waited.
fn abort(job: *mut c_void) {
    // SAFETY: the fake request start() left running (the job), still
    // open: only this or after_resume closes it, and after_resume's
    // finish() makes the job done first.
    unsafe {
        if let Some(r) = Request::from_raw(job as *mut _) {
            let fc = r.fake_connection();
            fc.unlend_tls();
            fc.close();
        }
    }
}

/// Runs `ssl_session_store_by_lua*` for connection `c` (whose TLS state is
/// `sc`), at once: the handler cannot yield, and whatever it does the
/// handshake goes on, as upstream (`ssl_session`'s [`StoreFn`]).
///
/// [`StoreFn`]: crate::nginx::ssl_session::StoreFn
pub fn store(c: *mut ngx_connection_t, confs: HttpConfs, sc: *mut ngx_ssl_connection_t) {
    let Some(fc) = FakeConnection::new() else {
        return;
    };
    fc.lend_tls(c, sc, Kind::SessStore);
    if let Some(r) = fc.request(confs) {
        let lcf = LocConf::of(r);
        if let Some(h) = lcf.ssl_sess_store.clone() {
            // SAFETY: the fake request lives until its connection closes
            // below.
            if let Some(ctx) = unsafe { RequestCtx::get_or_create(r.as_ptr()) } {
                if let Err(e) = ctx.run_sync(&h, lcf.code_cache()) {
                    r.log_error(
                        NGX_LOG_ERR,
                        format!("failed to run session_store_by_lua*: {e}").as_bytes(),
                    );
                }
            }
        }
    }
    fc.unlend_tls();
    fc.close();
}

/// Nothing resumes a proxy TLS handler: it cannot yield.
struct NoResume;

impl crate::http::ctx::AfterResume for NoResume {
    fn after_resume(_ctx: &mut RequestCtx, _outcome: Outcome) {}
}

/// Runs `proxy_ssl_certificate_by_lua*` or `proxy_ssl_verify_by_lua*` for
/// request `r`, whose upstream connection is in handshake, inside
/// OpenSSL's callback (`ssl_upstream`'s [`ProxyRunFn`]): in an entry
/// thread (so `ngx.exit` ends it), in a phase where nothing may yield.
///
/// [`ProxyRunFn`]: crate::nginx::ssl_upstream::ProxyRunFn
pub fn proxy(r: Request, hook: ProxyHook) -> Option<bool> {
    let lcf = LocConf::of(r);
    let h = match hook {
        ProxyHook::Cert => lcf.proxy_ssl_cert.clone(),
        ProxyHook::Verify => lcf.proxy_ssl_verify.clone(),
    }?;
    if hook == ProxyHook::Verify
        && !lcf.upstream_skip_default_verify.unwrap_or(false)
        && !ssl_upstream::proxy_default_verify()
    {
        return Some(false);
    }
    // SAFETY: the live request of the upstream connection in handshake.
    let Some(ctx) = (unsafe { RequestCtx::get_or_create(r.as_ptr()) }) else {
        return Some(false);
    };
    // The request's own handler state (its phases ran before the upstream
    // connected, and run again after): kept aside while this one runs.
    let saved = (ctx.lua.phase, ctx.lua.on_outcome, ctx.lua.exit_code.take());
    let outcome = ctx.start::<NoResume>(&h, lcf.code_cache());
    if outcome == Outcome::Yielded {
        // Unreachable in practice (every yielding API refuses these
        // phases); whatever waits is cancelled, and the handshake fails.
        ctx.lua.release_threads();
    }
    (ctx.lua.phase, ctx.lua.on_outcome, ctx.lua.exit_code) = saved;
    Some(verdict(outcome).unwrap_or(false))
}

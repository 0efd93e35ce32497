//! Server-side TLS handshakes of nginx's http servers, for
//! `ssl_certificate_by_lua*`, on stock nginx.
//!
//! OpenSSL lets a certificate callback pause a handshake (it returns -1
//! and `SSL_do_handshake` reports `SSL_ERROR_WANT_X509_LOOKUP`), but stock
//! nginx's `ngx_ssl_handshake` takes that for a failure and closes the
//! connection (OpenResty patches nginx for it). So the handler's Lua code
//! runs *before* nginx starts the handshake: we take the first read
//! handler of every http connection on a TLS address
//! ([`wrap_listenings`]), peek at the ClientHello without consuming it, and
//! feed a copy to a *probe*: an `SSL` object of the server's context over
//! memory BIOs, on which nginx's own SNI callback picks the virtual server
//! and our certificate callback stops the probe (returning -1 is fine
//! there: the probe is ours). The Lua handler then runs against the probe
//! (`ngx.ssl` sees the client's server name, version, randoms) and may
//! yield for as long as it likes, since nginx has not begun. Its
//! certificate and key settings are applied to the probe (so errors such
//! as a key that does not match show at once) and recorded
//! ([`Op`]); when it is done, nginx's own handler runs the real handshake,
//! whose certificate callback replays the record and answers with the
//! handler's verdict.
//!
//! When only the certificate handler can run and the hello cannot resume
//! a session, the probe is skipped ([`start_light`]): nginx's SNI callback
//! picks the server on a scratch object of the worker, and the handler's
//! certificates and keys are checked on that object; a call that needs
//! the handshake's own state makes the probe then.
use core::cell::{Cell, RefCell};
use core::ffi::{c_int, c_void};
use core::ptr::{self, NonNull};

use nginx_sys::*;

use super::conf::{Conf, HttpConfs};
use super::cycle::Cycle;
use super::event::EventRef;
use super::global::{Global, Worker};
use super::log;
use super::openssl::{openssl_copy, MemBio, Session};
use super::panic::guard;

mod checked;

/// What the feature does at the probe's pause: start the handler of the
/// virtual server `confs` for the TLS connection `c`, whose probe's
/// connection state is `probe`.
pub type StartFn = fn(
    c: *mut ngx_connection_t,
    confs: HttpConfs,
    probe: *mut ngx_ssl_connection_t,
    kind: Kind,
) -> Start;

/// Which handler the probe stopped for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// `ssl_client_hello_by_lua*` (the default server's, before SNI).
    ClientHello,
    /// `ssl_certificate_by_lua*` (the server the name chose).
    Cert,
    /// `ssl_session_fetch_by_lua*` (before SNI, as the client hello's).
    SessFetch,
    /// `ssl_session_store_by_lua*` (on the real handshake, never pending).
    SessStore,
}

/// The handler's state after its first run.
pub enum Start {
    /// Finished: continue (true) or fail the handshake (false).
    Done(bool),
    /// Suspended: [`finish`] comes later; `abort(job)` is called instead if
    /// the connection goes first.
    Pending(*mut c_void, fn(*mut c_void)),
}

/// Whether the server `confs` has a handler of kind `kind`.
pub type HasFn = fn(confs: HttpConfs, kind: Kind) -> bool;

static START: Global<Option<StartFn>> = Global::new(None);
static HAS: Global<Option<HasFn>> = Global::new(None);
/// The worker's scratch `SSL` of the probe-less path: nginx's SNI
/// callback picks the virtual server on it, and the handler's
/// certificates and keys are checked on it (see [`start_light`]).
static SCRATCH: Global<*mut SSL> = Global::new(ptr::null_mut());
/// The record whose settings the scratch object holds.
static SCRATCH_OWNER: Global<*const Pending> = Global::new(ptr::null());
/// nginx's `ngx_http_ssl_handshake` (static in nginx: learnt from the
/// first connection's read handler).
static NGX_HANDSHAKE: Global<ngx_event_handler_pt> = Global::new(None);
/// Our `SSL` ex_data slot: a probe's [`Pending`].
static PROBE_INDEX: Global<c_int> = Global::new(-1);

/// Whether a session lookup handler is configured: the probe then keeps
/// a copy of the ClientHello for a second probe.
pub(super) static KEEP_HELLO: Global<bool> = Global::new(false);

/// Most ClientHellos are a few hundred bytes; one that does not fit is
/// left to nginx (and the handler then cannot run: logged).
const PEEK_MAX: usize = 32 * 1024;

/// A setting of the handler, replayed on the real handshake.
pub enum Op {
    ClearCerts,
    Cert(CertChain),
    Key(PKey),
    /// `SSL_OP_NO_*` bits to clear, then to set (`set_protocols`).
    Protocols(u64, u64),
    /// `verify_client`: depth, the CAs named to the client (and trusted),
    /// more trusted certificates.
    Verify(c_int, Option<CertChain>, Option<CertChain>),
    /// `ngx.ocsp.set_ocsp_status_resp`: the DER response to staple.
    OcspResp(Vec<u8>),
}

#[derive(Clone, Copy)]
enum Stage {
    /// Waiting for the whole ClientHello.
    Fresh,
    /// The handler runs; its job and how to abort it.
    Running(*mut c_void, fn(*mut c_void)),
    /// A client hello handler said yes: the probe goes on.
    Next,
    /// The handlers are done (or none applies): the verdict.
    Done(bool),
}

/// Where `ssl_session_fetch_by_lua*` stands on a connection.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Fetch {
    /// The probe has not asked for a session.
    No,
    /// The probe asked (the id is recorded): the handler is due.
    Due,
    /// The handler ran; its session (if any) is in `Pending::session`.
    Done,
}

/// Per connection, owned by a cleanup of its pool. Our OpenSSL callbacks
/// and the Lua handler (through `ngx.ssl`) reach it while the functions
/// that drive the probe hold it too: every field is a cell, and only
/// shared references to it exist.
pub(super) struct Pending {
    stage: Cell<Stage>,
    probe: Cell<*mut SSL>,
    /// State of the probe as our callbacks saw it in its last run.
    hello_reached: Cell<bool>,
    cert_reached: Cell<bool>,
    /// The client hello handler said yes: the probe's callback lets the
    /// hello through.
    hello_done: Cell<bool>,
    /// The handler that runs (Running) or that failed (Done(false)).
    kind: Cell<Kind>,
    /// The probe's own connection state (in the client's pool).
    sc: Cell<*mut ngx_ssl_connection_t>,
    /// The client's conf before any SNI callback changed it.
    default_ctx: Cell<*mut ngx_http_conf_ctx_t>,
    ops: RefCell<Vec<Op>>,
    /// The ClientHello the probe was fed, for a new probe once the fetch
    /// handler gave its session.
    hello: RefCell<Vec<u8>>,
    /// A new probe is due before the next drive.
    reprobe: Cell<bool>,
    pub(super) fetch: Cell<Fetch>,
    /// The session id the client offered (fetch handler).
    pub(super) sess_id: RefCell<Vec<u8>>,
    /// The session the fetch handler set (owned).
    pub(super) session: RefCell<Option<Session>>,
    /// The handler runs without a probe (its `c->ssl` is the scratch
    /// object) until a call needs one.
    light: Cell<bool>,
    /// The client's SNI name (probe-less path).
    sni: RefCell<Option<Vec<u8>>>,
    /// The TLS context of the server the name chose (probe-less path).
    chosen_ctx: Cell<*mut SSL_CTX>,
    /// `clear_certs` came first (probe-less path): the state the
    /// certificate and key checks start from is known (empty).
    cleared: Cell<bool>,
    /// Every setting since `clear_certs` was of objects Lua keeps (not
    /// parsed for the call), so later handshakes may set them again.
    kept: Cell<bool>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.abort();
        self.free_probe();
        if ptr::eq(SCRATCH_OWNER.get(), self) {
            SCRATCH_OWNER.set(ptr::null());
        }
    }
}

impl Pending {
    /// Stops a running handler (its verdict: fail).
    fn abort(&self) {
        if let Stage::Running(job, abort) = self.stage.get() {
            self.stage.set(Stage::Done(false));
            abort(job);
        }
    }

    /// The fetch handler is over. With a session, a new probe must find
    /// out whether it resumes; without one, the probe goes on as it is (its
    /// lookup already answered "none", as the real one will).
    fn fetch_done(&self) {
        self.fetch.set(Fetch::Done);
        self.reprobe.set(self.session.borrow().is_some());
    }

    fn free_probe(&self) {
        // Only a probe made again needs the hello: none is made after this.
        drop(self.hello.take());
        let probe = self.probe.replace(ptr::null_mut());
        if !probe.is_null() {
            // SAFETY: the probe this record made and owns; nothing else
            // keeps it (the fake connection that lent it is closed first).
            unsafe { SSL_free(probe) };
        }
    }
}

/// Installs the certificate callback on the TLS context of every server
/// for which `wants` says yes; true when there was one. Logs and fails for
/// a server without TLS (None).
pub fn install_cert_cb(cf: Conf, wants: impl Fn(HttpConfs) -> bool) -> Option<bool> {
    install(
        cf,
        wants,
        |ctx| {
            // SAFETY: a server's live TLS context.
            unsafe { SSL_CTX_set_cert_cb(ctx, Some(cert_cb), ptr::null_mut()) }
        },
        false,
    )
}

/// The certificate callback's argument on a context where it only stops
/// probes (no `ssl_certificate_by_lua*` there): a probe then stops before
/// the handshake's key exchange, which is the costly part of what a probe
/// would otherwise do, and the real handshake's call goes on.
static STOP_ONLY: u8 = 0;

fn stop_only_arg() -> *mut c_void {
    &STOP_ONLY as *const u8 as *mut c_void
}

/// Installs the stop-only certificate callback on the servers `wants`
/// names that have no certificate callback of their own: neither
/// `ssl_certificate_by_lua*` (the caller leaves those out) nor nginx's
/// for `ssl_certificate` with variables.
pub fn install_probe_stop(cf: Conf, wants: impl Fn(HttpConfs) -> bool) -> Option<bool> {
    let wants = |confs: HttpConfs| {
        // SAFETY: a server's conf arrays after merging; the ssl module's
        // slot holds its srv conf (null without it).
        let variable = unsafe {
            let sscf =
                *confs.srv.add(ngx_http_ssl_module.ctx_index) as *const ngx_http_ssl_srv_conf_t;
            sscf.as_ref()
                .is_some_and(|c| !c.certificate_values.is_null())
        };
        !variable && wants(confs)
    };
    install(
        cf,
        wants,
        |ctx| {
            // SAFETY: a server's live TLS context without a certificate
            // callback (see above).
            unsafe { SSL_CTX_set_cert_cb(ctx, Some(cert_cb), stop_only_arg()) }
        },
        true,
    )
}

/// Installs the client hello callback as [`install_cert_cb`] does the
/// certificate callback.
pub fn install_client_hello_cb(cf: Conf, wants: impl Fn(HttpConfs) -> bool) -> Option<bool> {
    install(
        cf,
        wants,
        |ctx| {
            // SAFETY: a server's live TLS context.
            unsafe { SSL_CTX_set_client_hello_cb(ctx, Some(hello_cb), ptr::null_mut()) }
        },
        false,
    )
}

/// `plain_ok`: a server without TLS is left alone rather than refused
/// (the http-level session directives, which every server inherits).
pub(super) fn install(
    cf: Conf,
    wants: impl Fn(HttpConfs) -> bool,
    set: impl Fn(*mut SSL_CTX),
    plain_ok: bool,
) -> Option<bool> {
    let cmcf = cf.core_main_conf();
    let mut any = false;
    // SAFETY: after the http block is parsed and merged (postconfiguration)
    // the core main conf lists every server's core srv conf, whose ctx holds
    // the server's conf arrays; the ssl module's slot holds its srv conf.
    unsafe {
        let servers = &(*cmcf).servers;
        let list = core::slice::from_raw_parts(
            servers.elts as *const *mut ngx_http_core_srv_conf_t,
            servers.nelts,
        );
        for &cscf in list {
            let ctx = (*cscf).ctx;
            let confs = HttpConfs {
                main: (*ctx).main_conf,
                srv: (*ctx).srv_conf,
                loc: (*ctx).loc_conf,
            };
            if !wants(confs) {
                continue;
            }
            let sscf =
                *(*ctx).srv_conf.add(ngx_http_ssl_module.ctx_index) as *mut ngx_http_ssl_srv_conf_t;
            if sscf.is_null() || (*sscf).ssl.ctx.is_null() {
                if plain_ok {
                    continue;
                }
                cf.log(NGX_LOG_EMERG, "no ssl configured for the server");
                return None;
            }
            set((*sscf).ssl.ctx as *mut SSL_CTX);
            any = true;
        }
        if any && PROBE_INDEX.get() < 0 {
            let i = CRYPTO_get_ex_new_index(
                CRYPTO_EX_INDEX_SSL as c_int,
                0,
                ptr::null_mut(),
                None,
                None,
                None,
            );
            if i < 0 {
                cf.log(NGX_LOG_EMERG, "SSL_get_ex_new_index() failed");
                return None;
            }
            PROBE_INDEX.set(i);
        }
    }
    Some(any)
}

/// The record of a probe (None for nginx's own `SSL` objects).
pub(super) fn probe_pending(ssl: *mut SSL) -> Option<&'static Pending> {
    if PROBE_INDEX.get() < 0 {
        return None;
    }
    // SAFETY: our slot of a live SSL object holds a probe's record or
    // null; the record outlives its probe (it frees it).
    unsafe { (SSL_get_ex_data(ssl, PROBE_INDEX.get()) as *const Pending).as_ref() }
}

/// Makes our [`init_connection`] the handler of the cycle's http
/// listening sockets, and `start` what runs the handlers.
pub fn wrap_listenings(cycle: Cycle, start: StartFn, has: HasFn) {
    START.set(Some(start));
    HAS.set(Some(has));
    let c = cycle.as_ptr();
    // SAFETY: the cycle's listening array, complete at init_module time.
    unsafe {
        let ls = &(*c).listening;
        let list = core::slice::from_raw_parts_mut(ls.elts as *mut ngx_listening_t, ls.nelts);
        for l in list {
            if l.handler.map(|f| f as usize) == Some(ngx_http_init_connection as *const () as usize)
            {
                l.handler = Some(init_connection);
            }
        }
    }
}

unsafe extern "C" fn init_connection(c: *mut ngx_connection_t) {
    guard((), || {
        // SAFETY: nginx calls a listening handler with the connection it
        // accepted; nginx's own handler takes it from here. A read event
        // that is ready at once (deferred accept) would run nginx's TLS
        // handler inside it, so readiness is held back and replayed.
        unsafe {
            let rev = (*c).read;
            let ready = (*rev).ready();
            (*rev).set_ready(0);
            ngx_http_init_connection(c);
            if (*c).destroyed() != 0 || (*c).fd == -1 || (*c).read.is_null() {
                return;
            }
            let hc = (*c).data as *mut ngx_http_connection_t;
            let tls = !hc.is_null() && (*hc).ssl() != 0;
            if tls {
                NGX_HANDSHAKE.set((*rev).handler);
                (*rev).handler = Some(pre_handshake);
            }
            if ready != 0 {
                (*rev).set_ready(1);
                if let Some(h) = (*rev).handler {
                    h(rev);
                }
            }
        }
    })
}

/// The record of `c`, if it has one: the data of its pool cleanup.
pub(super) fn pending_of(c: *mut ngx_connection_t) -> Option<&'static Pending> {
    // SAFETY: a live connection's pool and its cleanup list; ours are
    // recognised by their handler and hold a boxed Pending.
    unsafe {
        let pool = (*c).pool;
        if pool.is_null() {
            return None;
        }
        let mut cln = (*pool).cleanup;
        while !cln.is_null() {
            if (*cln).handler.map(|f| f as usize) == Some(drop_pending as *const () as usize) {
                return ((*cln).data as *const Pending).as_ref();
            }
            cln = (*cln).next;
        }
        None
    }
}

fn new_pending(c: *mut ngx_connection_t) -> Option<&'static Pending> {
    // SAFETY: a cleanup of the live connection's pool owning the box.
    unsafe {
        let cln = ngx_pool_cleanup_add((*c).pool, 0);
        if cln.is_null() {
            return None;
        }
        let p = Box::into_raw(Box::new(Pending {
            stage: Cell::new(Stage::Fresh),
            probe: Cell::new(ptr::null_mut()),
            hello_reached: Cell::new(false),
            cert_reached: Cell::new(false),
            hello_done: Cell::new(false),
            kind: Cell::new(Kind::Cert),
            sc: Cell::new(ptr::null_mut()),
            default_ctx: Cell::new(ptr::null_mut()),
            ops: RefCell::new(Vec::new()),
            hello: RefCell::new(Vec::new()),
            reprobe: Cell::new(false),
            fetch: Cell::new(Fetch::No),
            sess_id: RefCell::new(Vec::new()),
            session: RefCell::new(None),
            light: Cell::new(false),
            sni: RefCell::new(None),
            chosen_ctx: Cell::new(ptr::null_mut()),
            cleared: Cell::new(false),
            kept: Cell::new(true),
        }));
        (*cln).handler = Some(drop_pending);
        (*cln).data = p as *mut c_void;
        Some(&*p)
    }
}

unsafe extern "C" fn drop_pending(data: *mut c_void) {
    guard((), || {
        // SAFETY: the box new_pending leaked, freed once with the pool.
        drop(unsafe { Box::from_raw(data as *mut Pending) });
    })
}

/// nginx's handler, with the connection as it is.
fn delegate(rev: *mut ngx_event_t) {
    if let Some(h) = NGX_HANDSHAKE.get() {
        // SAFETY: nginx's TLS handler of this connection's read event.
        unsafe {
            (*rev).handler = Some(h);
            h(rev);
        }
    }
}

/// Our first read handler of a TLS connection.
unsafe extern "C" fn pre_handshake(rev: *mut ngx_event_t) {
    guard((), || {
        // SAFETY: nginx calls it with the read event of the live
        // connection init_connection prepared.
        let c = unsafe { (*rev).data as *mut ngx_connection_t };
        // SAFETY: as above.
        let (timedout, close, pp) = unsafe {
            let hc = (*c).data as *mut ngx_http_connection_t;
            (
                (*rev).timedout() != 0,
                (*c).close() != 0,
                (*hc).proxy_protocol() != 0,
            )
        };
        let pending = pending_of(c);
        if timedout || close {
            // nginx closes the connection; its pool cleanup aborts a
            // running handler.
            return delegate(rev);
        }
        if let Some(p) = pending {
            match p.stage.get() {
                Stage::Done(_) => {
                    // The handler's fake request is closed by now.
                    p.free_probe();
                    return delegate(rev);
                }
                Stage::Next => return advance(c, p, rev),
                Stage::Running(..) => {
                    if peer_gone(rev) {
                        // The client left while the handler runs: stop it.
                        p.abort();
                        return delegate(rev);
                    }
                    return;
                }
                Stage::Fresh => {}
            }
        }

        // Not zeroed: clearing 32 KiB was a tenth of what a handshake
        // costs us (scripts/bench --icount tls-handshake); only the bytes
        // recv wrote are ever read.
        let mut peek = PeekBuf::lend();
        let buf = &mut peek.0;
        // SAFETY: the connection's socket; the data stays for nginx. recv
        // writes at most PEEK_MAX bytes into the capacity.
        let n = unsafe {
            libc::recv(
                (*c).fd,
                buf.as_mut_ptr() as *mut c_void,
                PEEK_MAX,
                libc::MSG_PEEK,
            )
        };
        if n > 0 {
            // SAFETY: recv initialised the first n bytes.
            unsafe { buf.set_len(n as usize) };
        }
        let again =
            n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock;
        if again {
            return wait_for_more(rev);
        }
        if n <= 0 {
            return delegate(rev);
        }
        let n = n as usize;
        // Behind the PROXY protocol the hello follows its header, which
        // nginx's handler reads (and so consumes) itself.
        let skip = if pp {
            match crate::codec::tls::proxy_header_len(&buf[..n]) {
                Some(Ok(k)) if k < n => k,
                Some(Ok(_)) | None => return wait_for_more(rev),
                Some(Err(())) => return delegate(rev),
            }
        } else {
            0
        };
        let buf = &buf[skip..n];
        let n = buf.len();
        if buf[0] != 0x16 {
            return delegate(rev);
        }
        match crate::codec::tls::client_hello_end(&buf[..n]) {
            Some(Ok(_)) => {}
            Some(Err(())) => return delegate(rev),
            None if n + skip == PEEK_MAX => return delegate(rev),
            // More of the hello is on its way.
            None => return wait_for_more(rev),
        }
        let p = match pending {
            Some(p) => p,
            None => match new_pending(c) {
                Some(p) => p,
                None => return delegate(rev),
            },
        };
        if KEEP_HELLO.get() {
            *p.hello.borrow_mut() = buf[..n].to_vec();
        }
        if let Some(done) = start_light(c, p, &buf[..n], rev) {
            return done;
        }
        if !make_probe(c, p, &buf[..n]) {
            p.free_probe();
            p.stage.set(Stage::Done(true));
            return delegate(rev);
        }
        advance(c, p, rev)
    })
}

/// The worker's peek buffer (PEEK_MAX bytes of capacity), lent to one
/// [`pre_handshake`] at a time: allocating and freeing 32 KiB for each
/// connection cost about 500 instructions (and a trim of the heap now
/// and then). A handler that somehow reached another connection's
/// [`pre_handshake`] while the buffer is lent would get a new one.
static PEEK_BUF: Worker<Vec<u8>> = Worker::new();

struct PeekBuf(Vec<u8>);

impl PeekBuf {
    fn lend() -> PeekBuf {
        let mut v = PEEK_BUF.with(core::mem::take);
        v.clear();
        v.reserve(PEEK_MAX);
        PeekBuf(v)
    }
}

impl Drop for PeekBuf {
    fn drop(&mut self) {
        let v = core::mem::take(&mut self.0);
        PEEK_BUF.with(|b| *b = v);
    }
}

/// Waits for the next read event (the rest of the ClientHello).
fn wait_for_more(rev: *mut ngx_event_t) {
    // SAFETY: the live read event, re-armed for it (nginx's timer of the
    // connection, client_header_timeout, still runs).
    unsafe {
        (*rev).set_ready(0);
        if ngx_handle_read_event(rev, 0) != NGX_OK as ngx_int_t {
            delegate(rev);
        }
    }
}

/// Runs the probe to its next stop and the handler it stopped for, until
/// one waits or the handshake can go to nginx.
fn advance(c: *mut ngx_connection_t, p: &Pending, rev: *mut ngx_event_t) {
    let Some(start) = START.get() else {
        return delegate(rev);
    };
    loop {
        if p.reprobe.replace(false) {
            // The fetch handler gave a session to a probe that went on
            // without one: a fresh probe sees it as the real handshake
            // will, and so whether it resumes (then there is no
            // certificate callback, as upstream).
            let hello = p.hello.take();
            p.free_probe();
            if !make_probe(c, p, &hello) {
                p.free_probe();
                p.stage.set(Stage::Done(true));
                return delegate(rev);
            }
        }
        let Some((kind, confs)) = drive_probe(c, p) else {
            p.stage.set(Stage::Done(true));
            p.free_probe();
            return delegate(rev);
        };
        p.kind.set(kind);
        match start(c, confs, p.sc.get(), kind) {
            Start::Done(true) if kind == Kind::ClientHello => p.hello_done.set(true),
            // The fetch handler's verdict does not stop the handshake.
            Start::Done(_) if kind == Kind::SessFetch => p.fetch_done(),
            Start::Done(ok) => {
                p.stage.set(Stage::Done(ok));
                p.free_probe();
                return delegate(rev);
            }
            Start::Pending(job, abort) => return wait_handler(p, rev, job, abort),
        }
    }
}

/// The handler waits: the hello stays unread until it is done.
fn wait_handler(p: &Pending, rev: *mut ngx_event_t, job: *mut c_void, abort: fn(*mut c_void)) {
    p.stage.set(Stage::Running(job, abort));
    if peer_gone(rev) {
        // The client left before the handler began (its EOF came with
        // the hello): no later event will say so.
        p.abort();
        return delegate(rev);
    }
    // SAFETY: the live connection's read event: with a level-triggered
    // event method it would fire again and again for the unread hello.
    unsafe {
        if ngx_event_flags & NGX_USE_CLEAR_EVENT as ngx_uint_t == 0 {
            if let Some(del) = ngx_event_actions.del {
                // nginx's NGX_READ_EVENT on Linux builds.
                del(rev, (libc::EPOLLIN | libc::EPOLLRDHUP) as ngx_int_t, 0);
            }
        }
    }
}

fn confs_of(ctx: *mut ngx_http_conf_ctx_t) -> HttpConfs {
    // SAFETY: a server's live conf context.
    unsafe {
        HttpConfs {
            main: (*ctx).main_conf,
            srv: (*ctx).srv_conf,
            loc: (*ctx).loc_conf,
        }
    }
}

/// The TLS context of the server `ctx` (null without TLS).
fn ssl_ctx_of(ctx: *mut ngx_http_conf_ctx_t) -> *mut SSL_CTX {
    // SAFETY: a server's live conf arrays; the ssl module's slot holds its
    // srv conf (null in a server without it).
    unsafe {
        let sscf =
            *(*ctx).srv_conf.add(ngx_http_ssl_module.ctx_index) as *const ngx_http_ssl_srv_conf_t;
        sscf.as_ref()
            .map_or(ptr::null_mut(), |c| c.ssl.ctx as *mut SSL_CTX)
    }
}

/// The probe-less path (None: it does not apply, the probe runs).
///
/// The probe costs a second processing of the ClientHello by OpenSSL
/// (cipher list, key shares), an `SSL_new`/`SSL_free` and a second
/// setting of every certificate and key: together about a twelfth of a
/// full handshake. When only `ssl_certificate_by_lua*` can run (no
/// client hello handler on the default server, no session fetch handler)
/// and the hello cannot resume a session (the certificate callback then
/// runs in the real handshake for sure), the probe is not needed for the
/// usual handler: the server is chosen by nginx's own SNI callback run on
/// a scratch object of the worker ([`choose_server`]), the name comes from
/// our parse of the hello, and certificates and keys are checked on the
/// scratch object (so a key that does not match fails at the call, as
/// upstream) and recorded. A call that needs the handshake's own state
/// (versions, randoms, `get_req_ssl_pointer`, `verify_client`, OCSP, or
/// a certificate set without `clear_certs` first) makes the probe then
/// ([`light_probe`]).
fn start_light(
    c: *mut ngx_connection_t,
    p: &Pending,
    hello: &[u8],
    rev: *mut ngx_event_t,
) -> Option<()> {
    use crate::codec::tls;
    let (start, has) = (START.get()?, HAS.get()?);
    if KEEP_HELLO.get() {
        return None;
    }
    // SAFETY: the live http connection: its conf context is the default
    // server's (SNI has not run).
    let default_ctx = unsafe { (*((*c).data as *mut ngx_http_connection_t)).conf_ctx };
    let default_ssl = ssl_ctx_of(default_ctx);
    if default_ssl.is_null()
        || has(confs_of(default_ctx), Kind::ClientHello)
        || !full_handshake(hello, default_ssl)
    {
        return None;
    }
    let sni = match tls::client_hello_ext(hello, 0) {
        Ok(None) => None,
        Ok(Some(body)) => match tls::sni_host_name(body) {
            // What OpenSSL accepts (else the probe finds out).
            Some(n) if !n.is_empty() && n.len() <= 255 && !n.contains(&0) => Some(n.to_vec()),
            _ => return None,
        },
        Err(_) => return None,
    };
    let Some((chosen, chosen_ssl)) = choose_server(c, p, default_ssl, sni.as_deref()).ok()? else {
        // nginx refuses the name (reject_handshake): its handshake says so.
        p.stage.set(Stage::Done(true));
        delegate(rev);
        return Some(());
    };
    let confs = confs_of(chosen);
    if !has(confs, Kind::Cert) {
        p.stage.set(Stage::Done(true));
        delegate(rev);
        return Some(());
    }
    *p.hello.borrow_mut() = hello.to_vec();
    *p.sni.borrow_mut() = sni;
    p.chosen_ctx.set(chosen_ssl);
    p.light.set(true);
    p.kind.set(Kind::Cert);
    match start(c, confs, p.sc.get(), Kind::Cert) {
        Start::Done(ok) => {
            p.stage.set(Stage::Done(ok));
            p.free_probe();
            delegate(rev);
        }
        Start::Pending(job, abort) => wait_handler(p, rev, job, abort),
    }
    Some(())
}

/// Whether the hello makes a full handshake, so that OpenSSL calls the
/// certificate callback: no TLS 1.3 pre-shared key, and, unless TLS 1.3
/// is negotiated (the default server's protocols decide: OpenSSL picks the
/// version before SNI), no session id or ticket to resume.
fn full_handshake(hello: &[u8], default_ssl: *mut SSL_CTX) -> bool {
    use crate::codec::tls;
    if tls::client_hello_ext(hello, 41) != Ok(None) {
        return false;
    }
    let tls13 = match tls::client_hello_ext(hello, 43) {
        Ok(Some(v)) => v.len() > 1 && v[1..].chunks_exact(2).any(|w| w == [3, 4]),
        Ok(None) => false,
        Err(_) => return false,
    };
    // SAFETY: the default server's live TLS context. 1 << 29 is OpenSSL
    // 3's SSL_OP_NO_TLSv1_3 (a macro bindgen cannot expand).
    let server13 = unsafe {
        SSL_CTX_get_options(default_ssl) & (1 << 29) == 0 && {
            let max = SSL_CTX_ctrl(
                default_ssl,
                SSL_CTRL_GET_MAX_PROTO_VERSION as c_int,
                0,
                ptr::null_mut(),
            );
            max == 0 || max >= TLS1_3_VERSION as _
        }
    };
    if tls13 && server13 {
        return true;
    }
    let ticket = match tls::client_hello_ext(hello, 35) {
        Ok(t) => t.is_some_and(|t| !t.is_empty()),
        Err(_) => return false,
    };
    !ticket && tls::client_hello_session_id(hello).is_ok_and(|id| id.is_empty())
}

/// The worker's scratch object (made on first use, from `ctx`).
fn scratch(ctx: *mut SSL_CTX) -> Option<*mut SSL> {
    let s = SCRATCH.get();
    if !s.is_null() {
        return Some(s);
    }
    // SAFETY: a new SSL object of a live context, in the server role, with
    // an empty session (nginx's SNI callback reads the session's name);
    // owned by SCRATCH until on_exit.
    unsafe {
        let s = SSL_new(ctx);
        if s.is_null() {
            ERR_clear_error();
            return None;
        }
        SSL_set_accept_state(s);
        let sess = SSL_SESSION_new();
        if sess.is_null() || SSL_set_session(s, sess) == 0 {
            SSL_SESSION_free(sess);
            SSL_free(s);
            ERR_clear_error();
            return None;
        }
        SSL_SESSION_free(sess);
        SCRATCH.set(s);
        Some(s)
    }
}

/// Frees the scratch object (the worker's exit).
pub fn on_exit() {
    let s = SCRATCH.get();
    SCRATCH.set(ptr::null_mut());
    SCRATCH_OWNER.set(ptr::null());
    checked::on_exit();
    drop(PEEK_BUF.take());
    if !s.is_null() {
        // SAFETY: ours; lent connections are closed by now.
        unsafe { SSL_free(s) };
    }
}

/// Picks the virtual server for the SNI `name` as nginx's handshake will:
/// nginx's SNI callback (public) runs on the scratch object, which holds
/// the name, while the connection's `c->ssl` is the record's TLS state
/// (whose object is the scratch one from then on). What the callback
/// changes on the connection is put back. Ok(None): nginx refuses the
/// name; Err: the probe must do it.
#[allow(clippy::type_complexity)]
fn choose_server(
    c: *mut ngx_connection_t,
    p: &Pending,
    default_ssl: *mut SSL_CTX,
    name: Option<&[u8]>,
) -> Result<Option<(*mut ngx_http_conf_ctx_t, *mut SSL_CTX)>, ()> {
    let s = scratch(default_ssl).ok_or(())?;
    let cname = name.map(|n| {
        let mut v = n.to_vec();
        v.push(0);
        v
    });
    // The callback may change the object's context and so its
    // certificates: whoever uses them next sets them again.
    SCRATCH_OWNER.set(ptr::null());
    // SAFETY: the live http connection and the scratch object; the state
    // is in the client's pool; everything the callback changes on the
    // connection is restored before returning.
    unsafe {
        if SSL_set_SSL_CTX(s, default_ssl).is_null()
            || SSL_ctrl(
                s,
                SSL_CTRL_SET_TLSEXT_HOSTNAME as c_int,
                TLSEXT_NAMETYPE_host_name as _,
                cname
                    .as_ref()
                    .map_or(ptr::null_mut(), |v| v.as_ptr() as *mut c_void),
            ) == 0
        {
            ERR_clear_error();
            return Err(());
        }
        let mut sc = p.sc.get();
        if sc.is_null() {
            sc = ngx_pcalloc((*c).pool, core::mem::size_of::<ngx_ssl_connection_t>())
                as *mut ngx_ssl_connection_t;
            if sc.is_null() {
                return Err(());
            }
            p.sc.set(sc);
        }
        (*sc).connection = s;
        (*sc).session_ctx = default_ssl as *mut _;
        if SSL_set_ex_data(s, ngx_ssl_connection_index, c as *mut c_void) == 0 {
            ERR_clear_error();
            return Err(());
        }
        let hc = (*c).data as *mut ngx_http_connection_t;
        let default_ctx = (*hc).conf_ctx;
        let saved_log = *(*c).log;
        let saved_name = (*hc).ssl_servername;
        let saved_ssl = (*c).ssl;
        (*c).ssl = sc;
        let mut ad: c_int = 0;
        let rc = ngx_http_ssl_servername(s, &mut ad, ptr::null_mut());
        (*c).ssl = saved_ssl;
        let chosen = (*hc).conf_ctx;
        (*hc).conf_ctx = default_ctx;
        (*hc).ssl_servername = saved_name;
        *(*c).log = saved_log;
        SSL_set_ex_data(s, ngx_ssl_connection_index, ptr::null_mut());
        // Clearing an empty queue costs four times a look at it (about
        // 840 instructions against 200), and the callback rarely leaves
        // an error.
        if ERR_peek_error() != 0 {
            ERR_clear_error();
        }
        if rc != SSL_TLSEXT_ERR_OK as c_int {
            return Ok(None);
        }
        let mut chosen_ssl = ssl_ctx_of(chosen);
        if chosen_ssl.is_null() {
            chosen_ssl = default_ssl;
        }
        Ok(Some((chosen, chosen_ssl)))
    }
}

/// The record of a probe-less handler whose fake connection `fc` holds
/// the TLS state `sc`, and the client connection.
///
/// # Safety
/// `fc` is a live connection whose `c->ssl` (`sc`) has the scratch object.
unsafe fn light_of(
    fc: *mut ngx_connection_t,
    sc: *mut ngx_ssl_connection_t,
) -> Option<(&'static Pending, *mut ngx_connection_t)> {
    // SAFETY: the caller's contract: only lent fake connections carry the
    // scratch object, and lend_tls put the client connection in their
    // log's data.
    let client = unsafe { (*(*fc).log).data as *mut ngx_connection_t };
    if client.is_null() {
        return None;
    }
    let p = pending_of(client)?;
    (p.light.get() && p.sc.get() == sc).then_some((p, client))
}

/// Makes the probe of a probe-less handler, now that a call needs it: fed
/// the same hello, it stops at the certificate callback, and what the
/// handler set so far is applied to it.
fn light_probe(p: &Pending, client: *mut ngx_connection_t) -> Option<Tls> {
    let hello = p.hello.borrow().clone();
    p.light.set(false);
    let sc = p.sc.get();
    let fail = || {
        p.free_probe();
        // SAFETY: the record's TLS state, still lent: it keeps an object.
        unsafe { (*sc).connection = SCRATCH.get() };
        p.light.set(true);
        None
    };
    if !make_probe(client, p, &hello) {
        return fail();
    }
    match drive_probe(client, p) {
        Some((Kind::Cert, _)) => {}
        _ => return fail(),
    }
    let t = Tls(NonNull::new(p.probe.get())?);
    for op in p.ops.borrow().iter() {
        // Each was checked when it was made.
        let _ = t.apply(op);
    }
    Some(t)
}

/// The settings from the last `clear_certs` on.
fn since_clear(ops: &[Op]) -> &[Op] {
    let at = ops
        .iter()
        .rposition(|op| matches!(op, Op::ClearCerts))
        .unwrap_or(0);
    &ops[at..]
}

/// The scratch object no longer holds `p`'s settings (they changed
/// without it): the next check on it puts them there again.
fn disown_scratch(p: &Pending) {
    if ptr::eq(SCRATCH_OWNER.get(), p) {
        SCRATCH_OWNER.set(ptr::null());
    }
}

/// Puts the handler's certificates and keys so far on the scratch object
/// unless it holds them already.
fn sync_scratch(p: &Pending) -> Option<Tls> {
    let s = NonNull::new(SCRATCH.get())?;
    let t = Tls(s);
    if !ptr::eq(SCRATCH_OWNER.get(), p) {
        // SAFETY: the scratch object and the chosen server's live context.
        unsafe {
            if SSL_set_SSL_CTX(s.as_ptr(), p.chosen_ctx.get()).is_null() {
                ERR_clear_error();
                return None;
            }
            SSL_certs_clear(s.as_ptr());
        }
        for op in p.ops.borrow().iter() {
            let _ = t.apply(op);
        }
        SCRATCH_OWNER.set(p);
    }
    Some(t)
}

/// What `ngx.ssl`'s certificate calls act on: the handshake's TLS object
/// (the probe, or a request's connection), or the record of a handler
/// that runs without a probe.
pub struct Handshake(Hs);

enum Hs {
    Tls(Tls),
    Light(&'static Pending, *mut ngx_connection_t),
}

impl Handshake {
    pub fn of_request(r: super::request::Request) -> Option<Handshake> {
        // SAFETY: a live request's connection; c->ssl is null or its TLS
        // state, whose object is the scratch one only when lent to a
        // probe-less handler.
        unsafe {
            let c = r.connection();
            let sc = (*c).ssl;
            if sc.is_null() {
                return None;
            }
            let ssl = (*sc).connection;
            if !ssl.is_null() && ssl == SCRATCH.get() {
                return light_of(c, sc).map(|(p, client)| Handshake(Hs::Light(p, client)));
            }
            Tls::of_connection(c).map(|t| Handshake(Hs::Tls(t)))
        }
    }

    /// The TLS object (a probe-less handler's probe is made now).
    fn tls(&self) -> Option<Tls> {
        match self.0 {
            Hs::Tls(t) => Some(t),
            Hs::Light(p, client) => light_probe(p, client),
        }
    }

    pub fn clear_certs(&self) {
        match self.0 {
            Hs::Light(p, _) => {
                // Nothing to check: the scratch object gets the settings
                // when a later one must be checked on it.
                disown_scratch(p);
                p.ops.borrow_mut().push(Op::ClearCerts);
                p.cleared.set(true);
                p.kept.set(true);
            }
            Hs::Tls(t) => t.clear_certs(),
        }
    }

    /// `op` checked on the scratch object (unless it accepted the same
    /// settings before) and recorded, when the state it applies to is
    /// known; else on the probe. `kept`: its objects are Lua's, which may
    /// set them again on later handshakes (the settings are then worth
    /// remembering); not those parsed for the call (`set_der_cert`).
    fn light_op(
        &self,
        kept: bool,
        op: impl FnOnce() -> Result<Op, &'static str>,
    ) -> Option<Result<(), &'static str>> {
        let Hs::Light(p, _) = self.0 else {
            return None;
        };
        if !p.cleared.get() {
            return None;
        }
        let op = match op() {
            Ok(op) => op,
            Err(e) => return Some(Err(e)),
        };
        let ctx = p.chosen_ctx.get();
        let known = {
            let ops = p.ops.borrow();
            checked::known(ctx, since_clear(&ops), &op)
        };
        if known {
            disown_scratch(p);
            p.kept.set(kept && p.kept.get());
            p.ops.borrow_mut().push(op);
            return Some(Ok(()));
        }
        let Some(t) = sync_scratch(p) else {
            return Some(Err("no memory"));
        };
        if let Err(e) = t.apply(&op) {
            return Some(Err(e));
        }
        let mut ops = p.ops.borrow_mut();
        if kept && p.kept.get() {
            checked::remember(ctx, since_clear(&ops), &op);
        }
        p.kept.set(kept && p.kept.get());
        ops.push(op);
        Some(Ok(()))
    }

    /// `kept`: see [`Handshake::light_op`].
    pub fn set_cert(&self, chain: &CertChain, kept: bool) -> Result<(), &'static str> {
        if let Some(r) = self.light_op(kept, || chain.dup().map(Op::Cert).ok_or("no memory")) {
            return r;
        }
        self.tls().ok_or("no ssl connection")?.set_cert(chain)
    }

    /// `kept`: see [`Handshake::light_op`].
    pub fn set_key(&self, key: &PKey, kept: bool) -> Result<(), &'static str> {
        if let Some(r) = self.light_op(kept, || Ok(Op::Key(key.dup()))) {
            return r;
        }
        self.tls().ok_or("no ssl connection")?.set_key(key)
    }

    pub fn server_name(&self) -> Option<Vec<u8>> {
        match self.0 {
            Hs::Light(p, _) => p.sni.borrow().clone(),
            Hs::Tls(t) => t.server_name(),
        }
    }

    pub fn raw_addr(&self, peer: bool) -> Option<(c_int, Vec<u8>)> {
        match self.0 {
            Hs::Light(_, c) => raw_addr(c, peer),
            Hs::Tls(t) => raw_addr(t.client()?, peer),
        }
    }

    pub fn server_port(&self) -> Option<u16> {
        match self.0 {
            Hs::Light(_, c) => server_port(c),
            Hs::Tls(t) => server_port(t.client()?),
        }
    }
}

/// Whether the peer of the read event's connection closed (or is about
/// to: a pending EOF).
fn peer_gone(rev: *mut ngx_event_t) -> bool {
    // SAFETY: callers pass a live event.
    unsafe { (*rev).eof() != 0 || (*rev).pending_eof() != 0 || (*rev).error() != 0 }
}

/// Makes the probe: an SSL object of the connection's default server
/// over memory BIOs holding a copy of `hello`.
fn make_probe(c: *mut ngx_connection_t, p: &Pending, hello: &[u8]) -> bool {
    // SAFETY: the live http connection and its conf; the probe is a new
    // SSL object of the default server's context (SSL_free frees it and
    // its BIOs); its connection state lives in the client's pool.
    unsafe {
        let hc = (*c).data as *mut ngx_http_connection_t;
        let conf_ctx = (*hc).conf_ctx;
        let sscf = *(*conf_ctx).srv_conf.add(ngx_http_ssl_module.ctx_index)
            as *mut ngx_http_ssl_srv_conf_t;
        if sscf.is_null() || (*sscf).ssl.ctx.is_null() {
            return false;
        }
        let ssl = SSL_new((*sscf).ssl.ctx as *mut SSL_CTX);
        if ssl.is_null() {
            ERR_clear_error();
            return false;
        }
        p.probe.set(ssl);
        let rbio = BIO_new(BIO_s_mem());
        let wbio = BIO_new(BIO_s_mem());
        if rbio.is_null() || wbio.is_null() {
            BIO_free(rbio);
            BIO_free(wbio);
            return false;
        }
        BIO_write(rbio, hello.as_ptr() as *const c_void, hello.len() as c_int);
        SSL_set_bio(ssl, rbio, wbio);
        SSL_set_accept_state(ssl);
        if SSL_set_ex_data(ssl, ngx_ssl_connection_index, c as *mut c_void) == 0
            || SSL_set_ex_data(ssl, PROBE_INDEX.get(), p as *const Pending as *mut c_void) == 0
        {
            ERR_clear_error();
            return false;
        }
        // A second probe (after the fetch handler) reuses the first's.
        let mut sc = p.sc.get();
        if sc.is_null() {
            sc = ngx_pcalloc((*c).pool, core::mem::size_of::<ngx_ssl_connection_t>())
                as *mut ngx_ssl_connection_t;
        }
        if sc.is_null() {
            return false;
        }
        (*sc).connection = ssl;
        (*sc).buffer_size = (*sscf).ssl.buffer_size;
        // nginx's session cache callbacks find the cache through it (as
        // ngx_ssl_create_connection sets it).
        (*sc).session_ctx = (*sscf).ssl.ctx;
        p.sc.set(sc);
        p.default_ctx.set(conf_ctx);
        true
    }
}

/// Runs the probe's handshake to its next stop: Some when one of our
/// callbacks stopped it (which handler, the conf arrays it runs under).
fn drive_probe(c: *mut ngx_connection_t, p: &Pending) -> Option<(Kind, HttpConfs)> {
    // SAFETY: the live http connection and the probe make_probe made;
    // nginx's SNI callback reads c->ssl, so the probe's state stands there
    // during SSL_do_handshake, and what that callback changes on the
    // connection (server conf, log, server name) is put back, so nginx's
    // real handshake starts as it would have.
    unsafe {
        let hc = (*c).data as *mut ngx_http_connection_t;
        let saved_log = *(*c).log;
        let saved_name = (*hc).ssl_servername;
        let saved_ssl = (*c).ssl;
        (*c).ssl = p.sc.get();
        p.hello_reached.set(false);
        p.cert_reached.set(false);
        SSL_do_handshake(p.probe.get());
        (*c).ssl = saved_ssl;
        ERR_clear_error();
        let chosen = (*hc).conf_ctx;
        (*hc).conf_ctx = p.default_ctx.get();
        (*hc).ssl_servername = saved_name;
        *(*c).log = saved_log;
        let (kind, ctx) = if p.hello_reached.get() {
            (Kind::ClientHello, p.default_ctx.get())
        } else if p.fetch.get() == Fetch::Due {
            // Session lookup comes before SNI: the default server's conf,
            // as upstream (the directive is http-level anyway).
            (Kind::SessFetch, p.default_ctx.get())
        } else if p.cert_reached.get() {
            (Kind::Cert, chosen)
        } else {
            return None;
        };
        Some((
            kind,
            HttpConfs {
                main: (*ctx).main_conf,
                srv: (*ctx).srv_conf,
                loc: (*ctx).loc_conf,
            },
        ))
    }
}

/// The handler of connection `c` finished: `ok` continues the handshake,
/// which nginx now runs.
///
/// # Safety
/// `c` is the live connection given to the [`StartFn`] that returned
/// [`Start::Pending`] (its record aborts the job when it goes, so a job
/// that finishes has a live connection).
pub unsafe fn finish(c: *mut ngx_connection_t, ok: bool) {
    let Some(p) = pending_of(c) else {
        return;
    };
    if !matches!(p.stage.get(), Stage::Running(..)) {
        return;
    }
    p.stage.set(if ok && p.kind.get() == Kind::ClientHello {
        p.hello_done.set(true);
        Stage::Next
    } else if p.kind.get() == Kind::SessFetch {
        p.fetch_done();
        Stage::Next
    } else {
        Stage::Done(ok)
    });
    // SAFETY: the live connection (its record is alive, so its pool is);
    // its read handler is still ours and runs nginx's handshake next turn.
    unsafe {
        let rev = (*c).read;
        let ev = EventRef::from_raw(rev).expect("a connection has a read event");
        ev.post();
    }
    // The probe is freed on that turn: the fake request that lent it to
    // Lua closes after this call returns.
}

unsafe extern "C" fn cert_cb(ssl: *mut SSL, arg: *mut c_void) -> c_int {
    guard(0, || {
        let stop_only = arg == stop_only_arg();
        // SAFETY: OpenSSL calls it with the SSL object in handshake; a
        // probe carries its Pending in our slot; any other is nginx's, whose
        // connection is in nginx's slot.
        unsafe {
            let probe = SSL_get_ex_data(ssl, PROBE_INDEX.get()) as *const Pending;
            if let Some(p) = probe.as_ref() {
                if !stop_only {
                    p.cert_reached.set(true);
                }
                return -1;
            }
            if stop_only {
                return 1;
            }
            let c = SSL_get_ex_data(ssl, ngx_ssl_connection_index) as *mut ngx_connection_t;
            if c.is_null() {
                return 0;
            }
            match pending_of(c) {
                Some(p) => match p.stage.get() {
                    Stage::Done(ok) => {
                        let tls = Tls(NonNull::new_unchecked(ssl));
                        let ops = p.ops.borrow();
                        if !tls.replay_cert_ops(&ops) {
                            ERR_clear_error();
                            return 0;
                        }
                        c_int::from(ok)
                    }
                    _ => 0,
                },
                None => {
                    log::log_error(
                        NGX_LOG_ALERT,
                        (*c).log,
                        b"ssl_certificate_by_lua*: the handler could not run before the handshake (a ClientHello over 32 KiB)",
                    );
                    0
                }
            }
        }
    })
}

// SSL_CLIENT_HELLO_ERROR, _SUCCESS, _RETRY.
const ERROR: c_int = 0;
const SUCCESS: c_int = 1;
const RETRY: c_int = -1;

unsafe extern "C" fn hello_cb(ssl: *mut SSL, al: *mut c_int, _arg: *mut c_void) -> c_int {
    guard(ERROR, || {
        // SAFETY: as cert_cb; `al` is OpenSSL's alert slot.
        unsafe {
            let probe = SSL_get_ex_data(ssl, PROBE_INDEX.get()) as *const Pending;
            if let Some(p) = probe.as_ref() {
                if p.hello_done.get() {
                    // A second probe: the handler's protocols, as the
                    // real handshake will have them.
                    let tls = Tls(NonNull::new_unchecked(ssl));
                    let ops = p.ops.borrow();
                    for op in ops.iter().filter(|op| matches!(op, Op::Protocols(..))) {
                        let _ = tls.apply(op);
                    }
                    return SUCCESS;
                }
                p.hello_reached.set(true);
                return RETRY;
            }
            let c = SSL_get_ex_data(ssl, ngx_ssl_connection_index) as *mut ngx_connection_t;
            let verdict = match pending_of(c) {
                Some(p) => match p.stage.get() {
                    Stage::Done(false) if p.kind.get() == Kind::ClientHello => false,
                    Stage::Done(_) => {
                        let tls = Tls(NonNull::new_unchecked(ssl));
                        let ops = p.ops.borrow();
                        for op in ops.iter().filter(|op| matches!(op, Op::Protocols(..))) {
                            let _ = tls.apply(op);
                        }
                        true
                    }
                    _ => false,
                },
                None => {
                    if !c.is_null() {
                        log::log_error(
                            NGX_LOG_ALERT,
                            (*c).log,
                            b"ssl_client_hello_by_lua*: the handler could not run before the handshake (a ClientHello over 32 KiB)",
                        );
                    }
                    false
                }
            };
            if verdict {
                SUCCESS
            } else {
                if !al.is_null() {
                    *al = SSL_AD_INTERNAL_ERROR as c_int;
                }
                ERROR
            }
        }
    })
}

/// A TLS connection's OpenSSL object: the probe in `ssl_certificate_by_lua*`,
/// the client's connection in requests.
#[derive(Clone, Copy)]
pub struct Tls(NonNull<SSL>);

/// An owned certificate chain (`STACK_OF(X509)`), leaf first.
pub struct CertChain(NonNull<stack_st_X509>);

/// An owned private key.
pub struct PKey(NonNull<EVP_PKEY>);

impl Drop for CertChain {
    fn drop(&mut self) {
        // SAFETY: the stack and one reference to each certificate are ours.
        unsafe { OPENSSL_sk_pop_free(self.0.as_ptr() as *mut OPENSSL_STACK, Some(free_x509)) }
    }
}

unsafe extern "C" fn free_name(p: *mut c_void) {
    guard((), || {
        // SAFETY: an element of a name stack.
        unsafe { X509_NAME_free(p as *mut X509_NAME) }
    })
}

/// The status callback of a context whose handshakes staple what
/// `set_ocsp_status_resp` gave (the response is already on the object).
unsafe extern "C" fn status_ok(_ssl: *mut SSL, _arg: *mut c_void) -> c_int {
    guard(SSL_TLSEXT_ERR_OK as c_int, || SSL_TLSEXT_ERR_OK as c_int)
}

/// OpenSSL's passphrase callback for [`PKey::from_pem_with`]: `u` is
/// its `Option<&[u8]>`.
unsafe extern "C" fn passphrase_cb(
    buf: *mut core::ffi::c_char,
    size: c_int,
    _rwflag: c_int,
    u: *mut c_void,
) -> c_int {
    guard(-1, || {
        // SAFETY: from_pem_with passes its live Option; OpenSSL's buffer
        // holds `size` bytes.
        unsafe {
            let Some(pass) = *(u as *const Option<&[u8]>) else {
                return -1;
            };
            if pass.len() > size.max(0) as usize {
                return -1;
            }
            ptr::copy_nonoverlapping(pass.as_ptr(), buf as *mut u8, pass.len());
            pass.len() as c_int
        }
    })
}

/// RFC 8701's GREASE values: 0x0A0A, 0x1A1A, ... 0xFAFA.
fn is_grease(id: u16) -> bool {
    id & 0x0f0f == 0x0a0a && id >> 8 == id & 0xff
}

/// As nginx's own verify callback: the handshake goes on whatever the
/// verdict, which `$ssl_client_verify` reports.
unsafe extern "C" fn accept_any(_ok: c_int, _store: *mut X509_STORE_CTX) -> c_int {
    guard(1, || 1)
}

unsafe extern "C" fn free_x509(p: *mut c_void) {
    guard((), || {
        // SAFETY: an element of a certificate stack.
        unsafe { X509_free(p as *mut X509) }
    })
}

impl Drop for PKey {
    fn drop(&mut self) {
        // SAFETY: our reference.
        unsafe { EVP_PKEY_free(self.0.as_ptr()) }
    }
}

fn clear_errors() {
    // SAFETY: this thread's OpenSSL error queue.
    unsafe { ERR_clear_error() };
}

/// Whether the newest error of this thread's queue is PEM's "no start
/// line" (what reading past the last PEM block reports).
fn pem_no_start_line() -> bool {
    // SAFETY: reads this thread's OpenSSL error queue.
    let e = unsafe { ERR_peek_last_error() } as u64;
    // OpenSSL 3's ERR_GET_LIB and ERR_GET_REASON (macros); bit 31 marks a
    // system error, whose library is ERR_LIB_SYS.
    e & (1 << 31) == 0
        && (e >> ERR_LIB_OFFSET) & ERR_LIB_MASK as u64 == ERR_LIB_PEM as u64
        && e & ERR_REASON_MASK as u64 == PEM_R_NO_START_LINE as u64
}

impl CertChain {
    fn empty() -> Option<CertChain> {
        // SAFETY: a new empty stack.
        NonNull::new(unsafe { OPENSSL_sk_new_null() } as *mut stack_st_X509).map(CertChain)
    }

    /// Takes `x` (one reference).
    fn push(&mut self, x: *mut X509) -> bool {
        // SAFETY: our stack; on failure the reference is dropped.
        unsafe {
            if OPENSSL_sk_push(self.0.as_ptr() as *mut OPENSSL_STACK, x as *const c_void) == 0 {
                X509_free(x);
                return false;
            }
        }
        true
    }

    pub(super) fn len(&self) -> usize {
        // SAFETY: our stack.
        unsafe { OPENSSL_sk_num(self.0.as_ptr() as *const OPENSSL_STACK).max(0) as usize }
    }

    pub(super) fn get(&self, i: usize) -> *mut X509 {
        // SAFETY: our stack, i < len.
        unsafe {
            OPENSSL_sk_value(self.0.as_ptr() as *const OPENSSL_STACK, i as c_int) as *mut X509
        }
    }

    /// Certificates in PEM, leaf first (`parse_pem_cert`).
    pub fn from_pem(pem: &[u8]) -> Result<CertChain, &'static str> {
        let bio = MemBio::new(pem).ok_or("BIO_new_mem_buf() failed")?;
        let mut chain = CertChain::empty().ok_or("sk_X509_new_null() failed")?;
        // SAFETY: PEM reading from our BIO; each certificate is a new
        // reference the stack takes.
        unsafe {
            let x = PEM_read_bio_X509_AUX(bio.raw(), ptr::null_mut(), None, ptr::null_mut());
            if x.is_null() {
                clear_errors();
                return Err("PEM_read_bio_X509_AUX() failed");
            }
            if !chain.push(x) {
                return Err("sk_X509_push() failed");
            }
            loop {
                let x = PEM_read_bio_X509(bio.raw(), ptr::null_mut(), None, ptr::null_mut());
                if x.is_null() {
                    // The end of the input is a "no start line" error;
                    // anything else is a bad certificate, as upstream.
                    let end = pem_no_start_line();
                    clear_errors();
                    if end {
                        break;
                    }
                    return Err("PEM_read_bio_X509() failed");
                }
                if !chain.push(x) {
                    return Err("sk_X509_push() failed");
                }
            }
        }
        Ok(chain)
    }

    /// Certificates in DER, back to back (`parse_der_cert`, `set_der_cert`);
    /// `rest_err`: upstream's text when a later one is bad.
    pub fn from_der(der: &[u8], rest_err: &'static str) -> Result<CertChain, &'static str> {
        let bio = MemBio::new(der).ok_or("BIO_new_mem_buf() failed")?;
        let mut chain = CertChain::empty().ok_or("sk_X509_new_null() failed")?;
        loop {
            // SAFETY: DER reading from our BIO; a new reference.
            let x = unsafe { d2i_X509_bio(bio.raw(), ptr::null_mut()) };
            if x.is_null() {
                clear_errors();
                return Err(if chain.len() == 0 {
                    "d2i_X509_bio() failed"
                } else {
                    rest_err
                });
            }
            if !chain.push(x) {
                return Err("sk_X509_push() failed");
            }
            if bio.eof() {
                break;
            }
        }
        Ok(chain)
    }

    /// The first certificate of a PEM text as DER (`cert_pem_to_der`):
    /// all of them, back to back, as upstream.
    pub fn pem_to_der(pem: &[u8]) -> Result<Vec<u8>, &'static str> {
        let chain = Self::from_pem(pem)?;
        let mut out = Vec::new();
        for i in 0..chain.len() {
            // SAFETY: i2d_X509 with a null output reports the length, then
            // writes exactly that much at the pointer, which it advances.
            unsafe {
                let x = chain.get(i);
                let n = i2d_X509(x, ptr::null_mut());
                if n <= 0 {
                    clear_errors();
                    return Err("i2d_X509() failed");
                }
                let at = out.len();
                out.resize(at + n as usize, 0);
                let mut p = out.as_mut_ptr().add(at);
                if i2d_X509(x, &mut p) != n {
                    clear_errors();
                    return Err("i2d_X509() failed");
                }
            }
        }
        Ok(out)
    }

    /// A new owner of the same certificates (up-referenced).
    pub fn dup_ref(&self) -> Option<CertChain> {
        self.dup()
    }

    /// A new owner of the same certificates (up-referenced).
    fn dup(&self) -> Option<CertChain> {
        // SAFETY: X509_chain_up_ref copies the stack, taking a reference to
        // each certificate.
        NonNull::new(unsafe { X509_chain_up_ref(self.0.as_ptr()) }).map(CertChain)
    }

    /// For lua-lib (an `ffi.gc` cdata freed by [`CertChain::from_raw`]).
    pub fn into_raw(self) -> *mut c_void {
        let p = self.0.as_ptr() as *mut c_void;
        core::mem::forget(self);
        p
    }

    /// # Safety
    /// `p` came from [`CertChain::into_raw`] and is given back once.
    pub unsafe fn from_raw(p: *mut c_void) -> Option<CertChain> {
        NonNull::new(p as *mut stack_st_X509).map(CertChain)
    }
}

impl CertChain {
    /// The chain behind a pointer lua-lib owns, borrowed (never freed).
    ///
    /// # Safety
    /// `p` came from [`CertChain::into_raw`] and stays alive while the
    /// result is used.
    pub unsafe fn borrowed(p: *mut c_void) -> Option<core::mem::ManuallyDrop<CertChain>> {
        NonNull::new(p as *mut stack_st_X509).map(|p| core::mem::ManuallyDrop::new(CertChain(p)))
    }
}

/// Runs `f` on the chain behind a pointer lua-lib owns, without taking it.
///
/// # Safety
/// `p` came from [`CertChain::into_raw`] and is alive.
pub unsafe fn with_chain<R>(p: *mut c_void, f: impl FnOnce(&CertChain) -> R) -> Option<R> {
    let chain = core::mem::ManuallyDrop::new(CertChain(NonNull::new(p as *mut stack_st_X509)?));
    Some(f(&chain))
}

/// Runs `f` on the key behind a pointer lua-lib owns, without taking it.
///
/// # Safety
/// `p` came from [`PKey::into_raw`] and is alive.
pub unsafe fn with_key<R>(p: *mut c_void, f: impl FnOnce(&PKey) -> R) -> Option<R> {
    let key = core::mem::ManuallyDrop::new(PKey(NonNull::new(p as *mut EVP_PKEY)?));
    Some(f(&key))
}

impl PKey {
    /// As [`CertChain::borrowed`], for a key from [`PKey::into_raw`].
    ///
    /// # Safety
    /// As [`CertChain::borrowed`].
    pub unsafe fn borrowed(p: *mut c_void) -> Option<core::mem::ManuallyDrop<PKey>> {
        NonNull::new(p as *mut EVP_PKEY).map(|p| core::mem::ManuallyDrop::new(PKey(p)))
    }

    pub(super) fn as_ptr(&self) -> *mut EVP_PKEY {
        self.0.as_ptr()
    }

    pub fn from_pem(pem: &[u8]) -> Result<PKey, &'static str> {
        Self::from_pem_with(pem, None)
    }

    /// A PEM key, decrypted with `passphrase` if it is encrypted (without
    /// one, an encrypted key fails: OpenSSL's default would prompt on the
    /// terminal).
    pub fn from_pem_with(pem: &[u8], passphrase: Option<&[u8]>) -> Result<PKey, &'static str> {
        let bio = MemBio::new(pem).ok_or("BIO_new_mem_buf() failed")?;
        let mut pass = passphrase;
        // SAFETY: PEM reading from our BIO; a new key. The callback gets
        // `pass`, which outlives the call.
        let k = unsafe {
            PEM_read_bio_PrivateKey(
                bio.raw(),
                ptr::null_mut(),
                Some(passphrase_cb),
                &mut pass as *mut Option<&[u8]> as *mut c_void,
            )
        };
        NonNull::new(k).map(PKey).ok_or_else(|| {
            clear_errors();
            "PEM_read_bio_PrivateKey() failed"
        })
    }

    pub fn from_der(der: &[u8]) -> Result<PKey, &'static str> {
        let bio = MemBio::new(der).ok_or("BIO_new_mem_buf() failed")?;
        // SAFETY: DER reading from our BIO; a new key.
        let k = unsafe { d2i_PrivateKey_bio(bio.raw(), ptr::null_mut()) };
        NonNull::new(k).map(PKey).ok_or_else(|| {
            clear_errors();
            "d2i_PrivateKey_bio() failed"
        })
    }

    pub fn to_der(&self) -> Result<Vec<u8>, &'static str> {
        // SAFETY: as i2d_X509 in pem_to_der.
        unsafe {
            let n = i2d_PrivateKey(self.0.as_ptr(), ptr::null_mut());
            if n <= 0 {
                clear_errors();
                return Err("i2d_PrivateKey() failed");
            }
            let mut out = vec![0u8; n as usize];
            let mut p = out.as_mut_ptr();
            if i2d_PrivateKey(self.0.as_ptr(), &mut p) != n {
                clear_errors();
                return Err("i2d_PrivateKey() failed");
            }
            Ok(out)
        }
    }

    fn dup(&self) -> PKey {
        // SAFETY: one more reference to the key.
        unsafe { EVP_PKEY_up_ref(self.0.as_ptr()) };
        PKey(self.0)
    }

    pub fn into_raw(self) -> *mut c_void {
        let p = self.0.as_ptr() as *mut c_void;
        core::mem::forget(self);
        p
    }

    /// # Safety
    /// `p` came from [`PKey::into_raw`] and is given back once.
    pub unsafe fn from_raw(p: *mut c_void) -> Option<PKey> {
        NonNull::new(p as *mut EVP_PKEY).map(PKey)
    }
}

impl Tls {
    /// The OpenSSL object of the request's connection (the probe lent to
    /// an `ssl_certificate_by_lua*` handler's fake request).
    pub fn of_request(r: super::request::Request) -> Option<Tls> {
        // SAFETY: a live request's connection.
        unsafe { Self::of_connection(r.connection()) }
    }

    /// The OpenSSL object of a connection with TLS (`c->ssl`).
    ///
    /// # Safety
    /// `c` is a live connection.
    pub unsafe fn of_connection(c: *mut ngx_connection_t) -> Option<Tls> {
        // SAFETY: the caller's contract; c->ssl is null or its TLS state.
        unsafe {
            let sc = (*c).ssl;
            if sc.is_null() {
                return None;
            }
            let ssl = (*sc).connection;
            if !ssl.is_null() && ssl == SCRATCH.get() {
                // A probe-less handler: a call that needs the handshake's
                // own state.
                let (p, client) = light_of(c, sc)?;
                return light_probe(p, client);
            }
            NonNull::new(ssl).map(Tls)
        }
    }

    fn ptr(self) -> *mut SSL {
        self.0.as_ptr()
    }

    /// The client's connection (nginx's slot of the object).
    fn client(self) -> Option<*mut ngx_connection_t> {
        // SAFETY: nginx stores the connection of each of its SSL objects
        // (and we of each probe) there.
        let c = unsafe { SSL_get_ex_data(self.ptr(), ngx_ssl_connection_index) };
        (!c.is_null()).then_some(c as *mut ngx_connection_t)
    }

    /// Records `op` when this is a probe, for the real handshake.
    fn record(self, op: impl FnOnce() -> Option<Op>) {
        if PROBE_INDEX.get() < 0 {
            return;
        }
        // SAFETY: our slot holds a probe's Pending (or null).
        let p = unsafe { SSL_get_ex_data(self.ptr(), PROBE_INDEX.get()) } as *const Pending;
        // SAFETY: a probe's record outlives the probe (it frees it).
        if let Some(p) = unsafe { p.as_ref() } {
            if let Some(op) = op() {
                p.ops.borrow_mut().push(op);
            }
        }
    }

    fn apply(self, op: &Op) -> Result<(), &'static str> {
        match op {
            Op::ClearCerts => {
                // SAFETY: the live SSL object.
                unsafe { SSL_certs_clear(self.ptr()) };
                Ok(())
            }
            Op::Cert(chain) => {
                let n = chain.len();
                if n == 0 {
                    return Err("no certificate");
                }
                // SAFETY: the live SSL object; OpenSSL takes its own
                // references (SSL_use_certificate, add1 chain).
                unsafe {
                    if SSL_use_certificate(self.ptr(), chain.get(0)) == 0 {
                        clear_errors();
                        return Err("SSL_use_certificate() failed");
                    }
                    for i in 1..n {
                        if SSL_ctrl(
                            self.ptr(),
                            SSL_CTRL_CHAIN_CERT as c_int,
                            1,
                            chain.get(i) as *mut c_void,
                        ) == 0
                        {
                            clear_errors();
                            return Err("SSL_add1_chain_cert() failed");
                        }
                    }
                }
                Ok(())
            }
            Op::Protocols(clear, set) => {
                // SAFETY: the live SSL object's option bits.
                unsafe {
                    SSL_clear_options(self.ptr(), *clear as _);
                    SSL_set_options(self.ptr(), *set as _);
                }
                Ok(())
            }
            Op::Verify(depth, client, trusted) => self.apply_verify(*depth, client, trusted),
            Op::OcspResp(resp) => self.apply_ocsp_resp(resp),
            Op::Key(key) => {
                // SAFETY: the live SSL object; OpenSSL takes a reference.
                if unsafe { SSL_use_PrivateKey(self.ptr(), key.0.as_ptr()) } == 0 {
                    clear_errors();
                    return Err("SSL_use_PrivateKey() failed");
                }
                Ok(())
            }
        }
    }

    /// The handler's settings but its protocols (applied at the client
    /// hello), on the real handshake: false when one fails.
    ///
    /// The usual handler's `clear_certs`, `set_cert`, `set_priv_key` go in
    /// one `SSL_use_cert_and_key`: each of `SSL_use_certificate` and
    /// `SSL_use_PrivateKey` looks the key's type up by name in OpenSSL 3
    /// (about 12,000 instructions each, a third of the whole setting), and
    /// that call does it once. The result is the same: the certificate,
    /// its chain and the key in the type's slot, which becomes the current
    /// one, and nothing in the others. The pair was accepted in this order
    /// on the scratch object or the probe already; if OpenSSL disagrees
    /// now, the settings are made one by one as before.
    fn replay_cert_ops(self, ops: &[Op]) -> bool {
        let mut cert_ops = ops.iter().filter(|op| !matches!(op, Op::Protocols(..)));
        if let (Some(Op::ClearCerts), Some(Op::Cert(chain)), Some(Op::Key(key)), None) = (
            cert_ops.next(),
            cert_ops.next(),
            cert_ops.next(),
            cert_ops.next(),
        ) {
            // SAFETY: the live SSL object.
            unsafe { SSL_certs_clear(self.ptr()) };
            if self.use_cert_and_key(chain, key) {
                return true;
            }
            clear_errors();
        }
        ops.iter()
            .filter(|op| !matches!(op, Op::Protocols(..)))
            .all(|op| self.apply(op).is_ok())
    }

    /// `SSL_use_cert_and_key` of `chain` (leaf first) and `key`.
    fn use_cert_and_key(self, chain: &CertChain, key: &PKey) -> bool {
        let n = chain.len();
        if n == 0 {
            return false;
        }
        // SAFETY: the live SSL object and objects we hold; OpenSSL takes
        // its own references (the chain's stack is copied), so the stack
        // of the intermediates is ours to free, without their references.
        unsafe {
            let mut rest: *mut OPENSSL_STACK = ptr::null_mut();
            if n > 1 {
                rest = OPENSSL_sk_new_reserve(None, (n - 1) as c_int);
                if rest.is_null() {
                    return false;
                }
                for i in 1..n {
                    if OPENSSL_sk_push(rest, chain.get(i) as *const c_void) == 0 {
                        OPENSSL_sk_free(rest);
                        return false;
                    }
                }
            }
            let rc = SSL_use_cert_and_key(
                self.ptr(),
                chain.get(0),
                key.as_ptr(),
                rest as *mut stack_st_X509,
                1,
            );
            OPENSSL_sk_free(rest);
            rc == 1
        }
    }

    /// Allows exactly the protocols of nginx's mask (`NGX_SSL_TLSv1_2 |
    /// ...`), as `ssl_protocols` would (`set_protocols`).
    pub fn set_protocols(self, mask: u32) {
        // OpenSSL 3's SSL_OP_NO_* (macros bindgen cannot expand; SSLv2's
        // is 0 there).
        let all: [(u32, u64); 5] = [
            (NGX_SSL_SSLv3, 1 << 25),
            (NGX_SSL_TLSv1, 1 << 26),
            (NGX_SSL_TLSv1_2, 1 << 27),
            (NGX_SSL_TLSv1_1, 1 << 28),
            (NGX_SSL_TLSv1_3, 1 << 29),
        ];
        let clear = all.iter().fold(0, |m, (_, no)| m | no);
        let set = all
            .iter()
            .filter(|(p, _)| mask & *p == 0)
            .fold(0, |m, (_, no)| m | no);
        let op = Op::Protocols(clear, set);
        let _ = self.apply(&op);
        self.record(|| Some(op));
    }

    /// The ClientHello's extension `typ` (while the client hello handler
    /// runs).
    pub fn client_hello_ext(self, typ: u32) -> Option<Vec<u8>> {
        let mut out: *const u8 = ptr::null();
        let mut len = 0usize;
        // SAFETY: OpenSSL points into the ClientHello it keeps while the
        // probe waits in its callback (the caller copies at once).
        unsafe {
            if SSL_client_hello_get0_ext(self.ptr(), typ, &mut out, &mut len) == 0 || out.is_null()
            {
                return None;
            }
            Some(core::slice::from_raw_parts(out, len).to_vec())
        }
    }

    /// The ClientHello's extension types, in order.
    pub fn client_hello_ext_present(self) -> Option<Vec<c_int>> {
        let mut out: *mut c_int = ptr::null_mut();
        let mut len = 0usize;
        // SAFETY: OpenSSL allocates the array, freed here after the copy.
        unsafe {
            if SSL_client_hello_get1_extensions_present(self.ptr(), &mut out, &mut len) == 0 {
                return None;
            }
            let v = if out.is_null() {
                Vec::new()
            } else {
                core::slice::from_raw_parts(out, len).to_vec()
            };
            CRYPTO_free(out as *mut c_void, c"ssl_server.rs".as_ptr(), 0);
            Some(v)
        }
    }

    /// The ClientHello's cipher suites (raw, two bytes each).
    pub fn client_hello_ciphers(self) -> Option<Vec<u8>> {
        let mut out: *const u8 = ptr::null();
        // SAFETY: as client_hello_ext.
        unsafe {
            let n = SSL_client_hello_get0_ciphers(self.ptr(), &mut out);
            if n == 0 || out.is_null() {
                return None;
            }
            Some(core::slice::from_raw_parts(out, n).to_vec())
        }
    }

    /// Asks for a client certificate (`verify_client`); `depth` < 0: the
    /// server's `ssl_verify_depth` (`r`'s).
    pub fn verify_client(
        self,
        r: super::request::Request,
        depth: c_int,
        client: Option<&CertChain>,
        trusted: Option<&CertChain>,
    ) -> Result<(), &'static str> {
        let depth = if depth < 0 {
            // SAFETY: the ssl module's slot of the request's srv conf
            // array holds its srv conf (null in a server without it).
            unsafe {
                let srv = (*r.as_ptr()).srv_conf;
                let sscf =
                    *srv.add(ngx_http_ssl_module.ctx_index) as *const ngx_http_ssl_srv_conf_t;
                sscf.as_ref().map_or(1, |c| c.verify_depth as c_int)
            }
        } else {
            depth
        };
        let dup = |c: Option<&CertChain>| match c {
            Some(c) => c.dup().map(Some).ok_or("no memory"),
            None => Ok(None),
        };
        let op = Op::Verify(depth, dup(client)?, dup(trusted)?);
        self.apply(&op)?;
        self.record(|| Some(op));
        Ok(())
    }

    fn apply_verify(
        self,
        depth: c_int,
        client: &Option<CertChain>,
        trusted: &Option<CertChain>,
    ) -> Result<(), &'static str> {
        // SAFETY: the live SSL object; the store and the name list are new
        // objects handed to it (set0/set: it owns them), freed here when
        // something fails before that.
        unsafe {
            SSL_set_verify(self.ptr(), SSL_VERIFY_PEER as c_int, Some(accept_any));
            SSL_set_verify_depth(self.ptr(), depth);
            if client.is_none() && trusted.is_none() {
                return Ok(());
            }
            let store = X509_STORE_new();
            if store.is_null() {
                return Err("X509_STORE_new() failed");
            }
            if let Some(chain) = client {
                let names = OPENSSL_sk_new_null();
                if names.is_null() {
                    X509_STORE_free(store);
                    return Err("sk_X509_NAME_new_null() failed");
                }
                for i in 0..chain.len() {
                    let x = chain.get(i);
                    let name = X509_NAME_dup(X509_get_subject_name(x));
                    if name.is_null() || OPENSSL_sk_push(names, name as *const c_void) == 0 {
                        X509_NAME_free(name);
                        OPENSSL_sk_pop_free(names, Some(free_name));
                        X509_STORE_free(store);
                        clear_errors();
                        return Err("sk_X509_NAME_push() failed");
                    }
                    if X509_STORE_add_cert(store, x) == 0 {
                        OPENSSL_sk_pop_free(names, Some(free_name));
                        X509_STORE_free(store);
                        clear_errors();
                        return Err("X509_STORE_add_cert() failed");
                    }
                }
                SSL_set_client_CA_list(self.ptr(), names as *mut stack_st_X509_NAME);
            }
            if let Some(chain) = trusted {
                for i in 0..chain.len() {
                    if X509_STORE_add_cert(store, chain.get(i)) == 0 {
                        X509_STORE_free(store);
                        clear_errors();
                        return Err("X509_STORE_add_cert() failed");
                    }
                }
            }
            if SSL_ctrl(
                self.ptr(),
                SSL_CTRL_SET_VERIFY_CERT_STORE as c_int,
                0,
                store as *mut c_void,
            ) == 0
            {
                X509_STORE_free(store);
                clear_errors();
                return Err("SSL_set0_verify_cert_store() failed");
            }
        }
        Ok(())
    }

    /// Whether the client asked for the certificate's status (OCSP
    /// stapling) in its hello.
    fn status_requested(self) -> bool {
        // SAFETY: SSL_get_tlsext_status_type, a macro over SSL_ctrl on the
        // live SSL object.
        unsafe {
            SSL_ctrl(
                self.ptr(),
                SSL_CTRL_GET_TLSEXT_STATUS_REQ_TYPE as c_int,
                0,
                ptr::null_mut(),
            ) != -1
        }
    }

    /// Staples `resp` (DER) to the handshake (`set_ocsp_status_resp`):
    /// false when the client did not ask for a status, and then nothing
    /// is sent.
    pub fn set_ocsp_status_resp(self, resp: &[u8]) -> Result<bool, &'static str> {
        if !self.status_requested() {
            return Ok(false);
        }
        let op = Op::OcspResp(resp.to_vec());
        self.apply(&op)?;
        self.record(|| Some(op));
        Ok(true)
    }

    fn apply_ocsp_resp(self, resp: &[u8]) -> Result<(), &'static str> {
        let p = openssl_copy(resp).ok_or("OPENSSL_malloc() failed")?;
        // SAFETY: the live SSL object and its context. OpenSSL only sends
        // a response when the context has a status callback that accepts
        // it, hence the empty one (which replaces nginx's `ssl_stapling`
        // callback of that server, as upstream). The object takes the
        // block on success only.
        unsafe {
            let ctx = SSL_get_SSL_CTX(self.ptr());
            let cb: unsafe extern "C" fn(*mut SSL, *mut c_void) -> c_int = status_ok;
            SSL_CTX_callback_ctrl(
                ctx,
                SSL_CTRL_SET_TLSEXT_STATUS_REQ_CB as c_int,
                // SAFETY: OpenSSL stores the callback as a generic
                // function pointer and calls it with its own signature,
                // which is status_ok's.
                Some(core::mem::transmute::<
                    unsafe extern "C" fn(*mut SSL, *mut c_void) -> c_int,
                    unsafe extern "C" fn(),
                >(cb)),
            );
            if SSL_ctrl(
                self.ptr(),
                SSL_CTRL_SET_TLSEXT_STATUS_REQ_OCSP_RESP as c_int,
                resp.len() as _,
                p as *mut c_void,
            ) != 1
            {
                CRYPTO_free(p as *mut c_void, c"ssl_server.rs".as_ptr(), 0);
                clear_errors();
                return Err("SSL_set_tlsext_status_ocsp_resp() failed");
            }
        }
        Ok(())
    }

    pub fn clear_certs(self) {
        let _ = self.apply(&Op::ClearCerts);
        self.record(|| Some(Op::ClearCerts));
    }

    pub fn set_cert(self, chain: &CertChain) -> Result<(), &'static str> {
        let op = Op::Cert(chain.dup().ok_or("no memory")?);
        self.apply(&op)?;
        self.record(|| Some(op));
        Ok(())
    }

    pub fn set_key(self, key: &PKey) -> Result<(), &'static str> {
        let op = Op::Key(key.dup());
        self.apply(&op)?;
        self.record(|| Some(op));
        Ok(())
    }

    /// The SNI name the client sent.
    pub fn server_name(self) -> Option<Vec<u8>> {
        // SAFETY: SSL_get_servername returns null or a C string the object
        // owns; copied at once.
        unsafe {
            let s = SSL_get_servername(self.ptr(), TLSEXT_NAMETYPE_host_name as c_int);
            (!s.is_null()).then(|| core::ffi::CStr::from_ptr(s).to_bytes().to_vec())
        }
    }

    /// The protocol version (`TLS1_2_VERSION`, ...).
    pub fn version(self) -> c_int {
        // SAFETY: the live SSL object.
        unsafe { SSL_version(self.ptr()) }
    }

    /// Client (true) or server random into `out`; the full length.
    pub fn random(self, client: bool, out: &mut [u8]) -> usize {
        // SAFETY: OpenSSL copies at most out.len() bytes; with length 0 it
        // returns the full length.
        unsafe {
            if client {
                SSL_get_client_random(self.ptr(), out.as_mut_ptr(), out.len())
            } else {
                SSL_get_server_random(self.ptr(), out.as_mut_ptr(), out.len())
            }
        }
    }

    /// The session's master key into `out`; the full length (0 without a
    /// session).
    pub fn master_key(self, out: &mut [u8]) -> usize {
        // SAFETY: as random; the session is the object's own.
        unsafe {
            let s = SSL_get_session(self.ptr());
            if s.is_null() {
                return 0;
            }
            SSL_SESSION_get_master_key(s, out.as_mut_ptr(), out.len())
        }
    }

    pub fn session_reused(self) -> bool {
        // SAFETY: the live SSL object.
        unsafe { SSL_session_reused(self.ptr()) != 0 }
    }

    /// RFC 5705 keying material.
    pub fn export_keying_material(
        self,
        out: &mut [u8],
        label: &[u8],
        context: Option<&[u8]>,
    ) -> bool {
        let (cp, cl, use_ctx) = match context {
            Some(c) => (c.as_ptr(), c.len(), 1),
            None => (ptr::null(), 0, 0),
        };
        // SAFETY: OpenSSL writes out.len() bytes; label and context are
        // read for their lengths.
        let rc = unsafe {
            SSL_export_keying_material(
                self.ptr(),
                out.as_mut_ptr(),
                out.len(),
                label.as_ptr() as *const core::ffi::c_char,
                label.len(),
                cp,
                cl,
                use_ctx,
            )
        };
        self.check_export("SSL_export_keying_material", rc)
    }

    /// TLS 1.3 keying material from the early exporter secret, which a
    /// server only has when it accepted 0-RTT data.
    pub fn export_keying_material_early(
        self,
        out: &mut [u8],
        label: &[u8],
        context: &[u8],
    ) -> bool {
        // SAFETY: as export_keying_material.
        let rc = unsafe {
            SSL_export_keying_material_early(
                self.ptr(),
                out.as_mut_ptr(),
                out.len(),
                label.as_ptr() as *const core::ffi::c_char,
                label.len(),
                context.as_ptr(),
                context.len(),
            )
        };
        self.check_export("SSL_export_keying_material_early", rc)
    }

    /// An exporter's result: a failure is logged at `info` with OpenSSL's
    /// reason, as upstream.
    fn check_export(self, what: &str, rc: c_int) -> bool {
        if rc == 1 {
            return true;
        }
        let mut buf = [0u8; 256];
        // SAFETY: this thread's error queue; the text is NUL-terminated
        // within the buffer.
        let reason = unsafe {
            ERR_error_string_n(ERR_get_error(), buf.as_mut_ptr() as *mut _, buf.len());
            core::ffi::CStr::from_ptr(buf.as_ptr() as *const _)
                .to_string_lossy()
                .into_owned()
        };
        clear_errors();
        if let Some(c) = self.client() {
            // SAFETY: the live connection of the object and its log.
            unsafe {
                log::log_error(
                    NGX_LOG_INFO,
                    (*c).log,
                    format!("{what} rc: {rc}, error: {reason}").as_bytes(),
                )
            };
        }
        false
    }

    /// The ciphers both the client offered and the server accepts, in the
    /// server's order; GREASE values left out when `filter_grease`.
    pub fn shared_ciphers(self, filter_grease: bool) -> Vec<u16> {
        let mut out = Vec::new();
        // SAFETY: the live SSL object; the supported list is a new stack
        // (its ciphers are OpenSSL's static ones), freed here; the
        // client's list is the object's own.
        unsafe {
            let sk = SSL_get1_supported_ciphers(self.ptr());
            let ck = SSL_get_client_ciphers(self.ptr());
            let ids = |st: *mut stack_st_SSL_CIPHER| -> Vec<u16> {
                if st.is_null() {
                    return Vec::new();
                }
                let n = OPENSSL_sk_num(st as *const OPENSSL_STACK).max(0);
                (0..n)
                    .map(|i| {
                        let c = OPENSSL_sk_value(st as *const OPENSSL_STACK, i);
                        SSL_CIPHER_get_protocol_id(c as *const SSL_CIPHER)
                    })
                    .collect()
            };
            let server = ids(sk);
            let client = ids(ck);
            if !sk.is_null() {
                OPENSSL_sk_free(sk as *mut OPENSSL_STACK);
            }
            for id in server {
                if filter_grease && is_grease(id) {
                    continue;
                }
                if client.contains(&id) {
                    out.push(id);
                }
            }
        }
        out
    }

    /// The raw address of the client (`peer`) or of the server, as a
    /// sockaddr's bytes, with its family.
    pub fn raw_addr(self, peer: bool) -> Option<(c_int, Vec<u8>)> {
        raw_addr(self.client()?, peer)
    }

    /// The server's port.
    pub fn server_port(self) -> Option<u16> {
        server_port(self.client()?)
    }

    pub fn as_raw(self) -> *mut c_void {
        self.ptr() as *mut c_void
    }
}

/// The raw address of the client (`peer`) or of the server, as a
/// sockaddr's bytes, with its family.
fn raw_addr(c: *mut ngx_connection_t, peer: bool) -> Option<(c_int, Vec<u8>)> {
    // SAFETY: a live client connection; local_sockaddr is
    // filled by ngx_connection_local_sockaddr when still null.
    unsafe {
        let sa = if peer {
            (*c).sockaddr
        } else {
            if ngx_connection_local_sockaddr(c, ptr::null_mut(), 0) != NGX_OK as ngx_int_t {
                return None;
            }
            (*c).local_sockaddr
        };
        if sa.is_null() {
            return None;
        }
        let fam = (*sa).sa_family as c_int;
        let bytes = match fam as u32 {
            AF_INET => {
                let s = sa as *const sockaddr_in;
                (*s).sin_addr.s_addr.to_ne_bytes().to_vec()
            }
            AF_INET6 => {
                let s = sa as *const sockaddr_in6;
                (*s).sin6_addr.__in6_u.__u6_addr8.to_vec()
            }
            AF_UNIX => {
                let s = sa as *const sockaddr_un;
                let p = (*s).sun_path.as_ptr();
                core::ffi::CStr::from_ptr(p).to_bytes().to_vec()
            }
            _ => return None,
        };
        Some((fam, bytes))
    }
}

/// The server's port.
fn server_port(c: *mut ngx_connection_t) -> Option<u16> {
    // SAFETY: as raw_addr.
    unsafe {
        if ngx_connection_local_sockaddr(c, ptr::null_mut(), 0) != NGX_OK as ngx_int_t {
            return None;
        }
        let sa = (*c).local_sockaddr;
        match (*sa).sa_family as u32 {
            AF_INET => Some(u16::from_be((*(sa as *const sockaddr_in)).sin_port)),
            AF_INET6 => Some(u16::from_be((*(sa as *const sockaddr_in6)).sin6_port)),
            _ => Some(0),
        }
    }
}

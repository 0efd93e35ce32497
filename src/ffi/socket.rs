//! ngx.socket.tcp/udp and ngx.req.socket through FFI. Operations that must
//! wait return FFI_AGAIN; the Lua side yields and then reads the outcome
//! with `..._result`. A socket is the `Tcp` lua-lib holds (`ffi.gc` frees
//! it), passed back to every call.
use core::ffi::{c_int, c_void};
use core::ptr::NonNull;

use nginx_sys::{ngx_msec_t, SSL_SESSION};

use super::*;
use crate::conf::LocConf;
use crate::cosocket::connect::PoolOpts;
use crate::cosocket::recv::RecvMode;
use crate::cosocket::req;
use crate::cosocket::ssl::{Handshake, HandshakeOpts};
use crate::cosocket::tcp::{Done, Kind, Step, Tcp};
use crate::lua::ctx::CoCtx;
use crate::nginx::downstream::Downstream;
use crate::nginx::ssl::Session;
use crate::nginx::ssl_server::{CertChain, PKey};

const SOCKET_PHASES: u32 = crate::lua::phase::YIELDABLE;
const REQ_SOCKET_PHASES: u32 = crate::lua::phase::HANDLER_PHASES;

/// The running thread, once `s` serves the running request.
fn owner(s: &mut Tcp, err: &mut ErrOut) -> Result<*mut CoCtx, c_int> {
    let ctx = running(SOCKET_PHASES, err)?;
    if !s.claim(&mut ctx.lua) {
        err.set(b"bad request");
        return Err(FFI_DECLINED);
    }
    Ok(current().co)
}

/// The FFI status of an operation; a waiting thread is marked so the
/// scheduler keeps it suspended until the socket's event handler resumes it.
fn step(s: &mut Tcp, st: Step, err: &mut ErrOut) -> c_int {
    match st {
        Step::Wait => {
            s.wait_for();
            FFI_AGAIN
        }
        Step::Now if s.done.ok => FFI_OK,
        Step::Now => {
            err.set(s.done.err.as_bytes());
            FFI_ERROR
        }
    }
}

/// Records a refusal as the operation's outcome, so its result carries no
/// data of an earlier operation.
fn refuse(s: &mut Tcp, e: &[u8], err: &mut ErrOut) -> c_int {
    s.done = Done {
        ok: false,
        err: String::from_utf8_lossy(e).into_owned(),
        ..Done::ok()
    };
    err.set(e);
    FFI_ERROR
}

/// Upstream's refusals before an operation starts: a closed socket, or
/// another thread already connecting, reading or writing it.
fn refusal(s: &Tcp, need_connected: bool, reading: bool, writing: bool) -> Option<&'static [u8]> {
    // A half that failed refuses its own operations (both halves for the
    // TLS handshake, which needs both), as upstream's read/write_closed.
    let half_closed = match (reading, writing) {
        (true, false) => s.read_closed(),
        (false, true) => s.write_closed(),
        _ => s.both_closed(),
    };
    if need_connected && (!s.connected() || half_closed) {
        Some(b"closed")
    } else if s.busy_connecting() {
        Some(b"socket busy connecting")
    } else if reading && s.busy_reading() {
        Some(b"socket busy reading")
    } else if writing && s.busy_writing() {
        Some(b"socket busy writing")
    } else {
        None
    }
}

export! {
    fn ngx_lua_ffi_socket_tcp_new(err: *mut u8, errlen: *mut usize) -> *mut Tcp {
        let mut err = err_out!(err, errlen);
        match running(SOCKET_PHASES, &mut err) {
            Ok(ctx) => {
                let mut s = Tcp::new(&mut ctx.lua);
                s.attach();
                Box::into_raw(s)
            }
            Err(_) => core::ptr::null_mut(),
        }
    }
}

export! {
    fn ngx_lua_ffi_socket_tcp_gc(s: *mut Tcp) {
        // The VM closes after nginx tore down the cycle at process exit:
        // nothing of nginx may be touched then.
        if !crate::phase::exit_worker::process_exiting() {
            drop(lua_box!(s));
        }
    }
}

export! {
    #[allow(clippy::too_many_arguments)]
    fn ngx_lua_ffi_socket_tcp_connect(
        s: &mut Tcp,
        host: *const u8,
        host_len: usize,
        port: c_int,
        pool: *const u8,
        pool_len: usize,
        pool_size: c_int,
        backlog: c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let me = match owner(s, &mut err) {
            Ok(me) => me,
            Err(rc) => return rc,
        };
        if let Some(e) = refusal(s, false, true, true) {
            return refuse(s, e, &mut err);
        }
        if s.downstream() {
            err.set(b"attempt to re-connect a request socket");
            return FFI_DECLINED;
        }
        let pool = (!pool.is_null()).then(|| lua_bytes!(pool, pool_len));
        let port = (0..=65535).contains(&port).then_some(port as u16);
        let opts = PoolOpts {
            size: (pool_size > 0).then_some(pool_size as usize),
            backlog: (backlog >= 0).then_some(backlog as usize),
        };
        let st = s.connect(lua_bytes!(host, host_len), port, pool, opts, me);
        step(s, st, &mut err)
    }
}

export! {
    fn ngx_lua_ffi_socket_tcp_send(
        s: &mut Tcp,
        data: *const u8,
        len: usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let me = match owner(s, &mut err) {
            Ok(me) => me,
            Err(rc) => return rc,
        };
        if let Some(e) = refusal(s, true, false, true) {
            return refuse(s, e, &mut err);
        }
        if s.kind == Kind::Body {
            err.set(b"attempt to write to request sockets");
            return FFI_DECLINED;
        }
        let st = s.send(lua_bytes!(data, len), me);
        step(s, st, &mut err)
    }
}

export! {
    /// `mode`: 0 line, 1 all, 2 exactly `n` bytes, 3 at most `n` bytes,
    /// 4 until `pat` (at most `n` bytes a call when n > 0; `inclusive`).
    #[allow(clippy::too_many_arguments)]
    fn ngx_lua_ffi_socket_tcp_receive(
        s: &mut Tcp,
        mode: c_int,
        n: usize,
        pat: *const u8,
        pat_len: usize,
        inclusive: c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let me = match owner(s, &mut err) {
            Ok(me) => me,
            Err(rc) => return rc,
        };
        // `*a` again on a body socket that read the whole body: "".
        let at_body_end = s.at_body_end(mode == 1);
        if let Some(e) = refusal(s, !at_body_end, true, false) {
            return refuse(s, e, &mut err);
        }
        let mode = match mode {
            0 => RecvMode::Line,
            1 => RecvMode::All,
            2 => RecvMode::Size(n),
            3 => RecvMode::Any(n),
            _ => {
                s.set_until(lua_bytes!(pat, pat_len));
                RecvMode::Until {
                    size: n,
                    inclusive: inclusive != 0,
                }
            }
        };
        let st = s.receive(mode, me);
        step(s, st, &mut err)
    }
}

export! {
    /// The outcome of the last operation: FFI_OK with data (received bytes)
    /// and `sent`, or FFI_ERROR with the error text and partial data. Both
    /// point into the socket (no length limit) and stay until its next
    /// operation.
    #[allow(clippy::too_many_arguments)]
    fn ngx_lua_ffi_socket_tcp_result(
        s: &mut Tcp,
        data: &mut *const u8,
        len: &mut usize,
        sent: &mut usize,
        found: &mut c_int,
        err: &mut *const u8,
        errlen: &mut usize,
    ) -> c_int {
        let d = &s.done;
        *data = d.data.as_ptr();
        *len = d.data.len();
        *sent = d.sent;
        *found = d.found as c_int;
        *err = d.err.as_ptr();
        *errlen = d.err.len();
        if d.ok {
            FFI_OK
        } else {
            FFI_ERROR
        }
    }
}

export! {
    fn ngx_lua_ffi_socket_tcp_close(s: &mut Tcp) -> c_int {
        if !s.connected() || s.both_closed() {
            return FFI_ERROR;
        }
        if s.busy_connecting() || s.busy_reading() || s.busy_writing() {
            return FFI_BUSY;
        }
        if s.downstream() {
            return FFI_DECLINED;
        }
        s.close();
        FFI_OK
    }
}

export! {
    /// Negative values keep the current timeout; 0 means the location's
    /// `lua_socket_*_timeout`, as upstream.
    fn ngx_lua_ffi_socket_tcp_settimeouts(s: &mut Tcp, connect: f64, send: f64, read: f64) {
        let lcf = s.request().map(LocConf::of);
        let pick = |v: f64, cur: ngx_msec_t, conf: fn(&LocConf) -> ngx_msec_t| {
            if v > 0.0 {
                v as ngx_msec_t
            } else if v == 0.0 {
                lcf.map_or(cur, conf)
            } else {
                cur
            }
        };
        let t = &mut s.timeouts;
        t.connect = pick(connect, t.connect, LocConf::socket_connect_timeout);
        t.send = pick(send, t.send, LocConf::socket_send_timeout);
        t.read = pick(read, t.read, LocConf::socket_read_timeout);
    }
}

export! {
    /// `has_size == 0` (or a negative timeout) uses the configured default.
    /// `FFI_DECLINED`: a bad pool size for a new pool (a Lua argument error).
    fn ngx_lua_ffi_socket_tcp_setkeepalive(
        s: &mut Tcp,
        timeout: f64,
        has_size: c_int,
        size: f64,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let t = (timeout >= 0.0).then_some(timeout as ngx_msec_t);
        let n = (has_size != 0).then_some(size as i64);
        match s.set_keepalive(t, n) {
            Ok(()) => FFI_OK,
            Err(Ok(e)) => {
                err.set(e.as_bytes());
                FFI_ERROR
            }
            Err(Err(n)) => {
                err.set_fmt(format_args!("bad \"pool_size\" option value: {n}"));
                FFI_DECLINED
            }
        }
    }
}

export! {
    /// How often the connection came from a pool; -1 when closed.
    fn ngx_lua_ffi_socket_tcp_getreusedtimes(s: &mut Tcp) -> c_int {
        s.reused().map_or(-1, |n| n as c_int)
    }
}

export! {
    fn ngx_lua_ffi_socket_tcp_setoption(
        s: &mut Tcp,
        name: *const u8,
        name_len: usize,
        value: c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        if !s.ever_connected() {
            return FFI_DECLINED;
        }
        match s.set_option(lua_bytes!(name, name_len), value) {
            Ok(()) => FFI_OK,
            Err(e) => {
                err.set(e.as_bytes());
                FFI_ERROR
            }
        }
    }
}

export! {
    /// getoption: `*value` is the option's value. `FFI_DECLINED`: the
    /// socket never connected (lua-lib raises upstream's error).
    fn ngx_lua_ffi_socket_tcp_getoption(
        s: &mut Tcp,
        name: *const u8,
        name_len: usize,
        value: &mut c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        if !s.ever_connected() {
            return FFI_DECLINED;
        }
        match s.get_option(lua_bytes!(name, name_len)) {
            Ok(v) => {
                *value = v;
                FFI_OK
            }
            Err(e) => {
                err.set(e.as_bytes());
                FFI_ERROR
            }
        }
    }
}

export! {
    /// getfd: the connection's descriptor, or -1 with the reason.
    /// `FFI_DECLINED`: the socket never connected.
    fn ngx_lua_ffi_socket_tcp_getfd(
        s: &mut Tcp,
        fd: &mut c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        if !s.ever_connected() {
            return FFI_DECLINED;
        }
        match s.fd() {
            Ok(n) => {
                *fd = n;
                FFI_OK
            }
            Err(e) => {
                err.set(e.as_bytes());
                FFI_ERROR
            }
        }
    }
}

export! {
    /// Makes a fresh socket a datagram socket (ngx.socket.udp).
    fn ngx_lua_ffi_socket_set_udp(s: &mut Tcp) {
        s.udp = true;
    }
}

export! {
    fn ngx_lua_ffi_socket_tcp_bind(
        s: &mut Tcp,
        addr: *const u8,
        len: usize,
        port: c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        match s.bind(lua_bytes!(addr, len), port as u16) {
            Ok(()) => FFI_OK,
            Err(e) => {
                err.set(e.as_bytes());
                FFI_ERROR
            }
        }
    }
}

export! {
    /// `sslhandshake`: `FFI_OK` (done: collect the session with
    /// `..._sslhandshake_result`), `FFI_DONE` (already TLS: the caller
    /// returns the session it passed), `FFI_AGAIN` (yield, then collect),
    /// or `FFI_ERROR` with the reason. `sess` stays the caller's.
    #[allow(clippy::too_many_arguments)]
    fn ngx_lua_ffi_socket_tcp_sslhandshake(
        s: &mut Tcp,
        sess: Option<&SSL_SESSION>,
        want_session: c_int,
        name: *const u8,
        name_len: usize,
        verify: c_int,
        ocsp: c_int,
        cert: *mut c_void,
        pkey: *mut c_void,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let me = match owner(s, &mut err) {
            Ok(me) => me,
            Err(rc) => return rc,
        };
        if let Some(e) = refusal(s, true, true, true) {
            return refuse(s, e, &mut err);
        }
        if s.downstream() {
            return refuse(s, b"not supported for downstream sockets", &mut err);
        }
        let name = (!name.is_null()).then(|| lua_bytes!(name, name_len));
        // SAFETY: lua-lib's contract: null, or the cdata of ngx.ssl's
        // parse_*_cert and parse_*_priv_key (set together by
        // setclientcert), which the socket object keeps alive.
        let (chain, key) = unsafe { (CertChain::borrowed(cert), PKey::borrowed(pkey)) };
        let client = match (&chain, &key) {
            (Some(c), Some(k)) => Some((&**c, &**k)),
            _ => None,
        };
        let opts = HandshakeOpts {
            sess,
            want_session: want_session != 0,
            server_name: name,
            verify: verify != 0,
            ocsp: ocsp != 0,
            client,
        };
        match s.ssl_handshake(opts, me) {
            Handshake::Ok => FFI_OK,
            Handshake::AlreadyDone => FFI_DONE,
            Handshake::Wait => step(s, Step::Wait, &mut err),
            Handshake::Err => step(s, Step::Now, &mut err),
        }
    }
}

export! {
    /// The outcome of a handshake: `FFI_OK` and the session (null when none
    /// was wanted or made; the caller owns it), or `FFI_ERROR` with the
    /// reason and OpenSSL's verify code (0 when the failure was not a
    /// verification).
    fn ngx_lua_ffi_socket_tcp_sslhandshake_result(
        s: &mut Tcp,
        sess: *mut Option<Session>,
        code: &mut c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        *code = s.done.ssl_code as c_int;
        if !s.done.ok {
            out!(sess, None);
            err.set(s.done.err.as_bytes());
            return FFI_ERROR;
        }
        // The slot may hold a session handed out before (Lua owns it): it
        // is overwritten, not dropped.
        out!(sess, s.take_session());
        FFI_OK
    }
}

export! {
    /// `settrustedstore`: the `X509_STORE` (null: none) for the next
    /// handshake; lua-lib keeps the cdata alive with the socket object.
    fn ngx_lua_ffi_socket_tcp_settrustedstore(
        s: &mut Tcp,
        store: *mut c_void,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        if let Err(rc) = owner(s, &mut err) {
            return rc;
        }
        if !s.connected() || s.read_closed() || s.write_closed() {
            err.set(b"closed");
            return FFI_ERROR;
        }
        match s.set_trusted_store(store) {
            Ok(()) => FFI_OK,
            Err(e) => {
                err.set(e.as_bytes());
                FFI_ERROR
            }
        }
    }
}

/// A pointer answer of the getssl* calls.
fn ptr_out(r: Result<NonNull<c_void>, &str>, out: *mut *mut c_void, err: &mut ErrOut) -> c_int {
    match r {
        Ok(p) => {
            out!(out, p.as_ptr());
            FFI_OK
        }
        Err(e) => {
            out!(out, core::ptr::null_mut());
            err.set(e.as_bytes());
            FFI_ERROR
        }
    }
}

export! {
    /// `getsslpointer`: the connection's `SSL *`.
    fn ngx_lua_ffi_socket_tcp_getsslpointer(
        s: &mut Tcp,
        out: *mut *mut c_void,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        ptr_out(s.ssl_pointer(), out, &mut err)
    }
}

export! {
    /// `getsslctx`: the `SSL_CTX *` of the connection's TLS.
    fn ngx_lua_ffi_socket_tcp_getsslctx(
        s: &mut Tcp,
        out: *mut *mut c_void,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        ptr_out(s.ssl_ctx(), out, &mut err)
    }
}

export! {
    /// `getsslsession`: a new reference to the connection's session, for
    /// lua-lib to own (freed by `ngx_lua_ffi_ssl_free_session`).
    fn ngx_lua_ffi_socket_tcp_getsslsession(
        s: &mut Tcp,
        sess: *mut Option<Session>,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        match s.ssl_session() {
            Ok(v) => {
                out!(sess, Some(v));
                FFI_OK
            }
            Err(e) => {
                out!(sess, None);
                err.set(e.as_bytes());
                FFI_ERROR
            }
        }
    }
}

export! {
    /// Gives back a session lua-lib owned (its `ffi.gc` finalizer).
    fn ngx_lua_ffi_ssl_free_session(sess: Option<Session>) {
        drop(sess);
    }
}

export! {
    /// `ngx.req.socket(raw)`: `FFI_OK` with the socket in `out`,
    /// `FFI_ERROR` with the reason (`nil, err`), or
    /// `FFI_DECLINED`/`FFI_NO_REQ` with an error to raise.
    fn ngx_lua_ffi_req_socket(
        raw: c_int,
        out: &mut *mut Tcp,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        *out = core::ptr::null_mut();
        let ctx = running!(context: REQ_SOCKET_PHASES, err);
        let r = ctx.req();
        if !r.is_main() {
            err.set(b"attempt to read the request body in a subrequest");
            return FFI_DECLINED;
        }
        if Downstream::of(r).is_http2() {
            err.set(b"http v2 not supported yet");
            return FFI_DECLINED;
        }
        match req::open(ctx, raw != 0) {
            Ok(s) => {
                *out = s;
                FFI_OK
            }
            Err(e) => {
                err.set(e.as_bytes());
                FFI_ERROR
            }
        }
    }
}

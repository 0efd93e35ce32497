//! ngx.socket.tcp/udp and ngx.req.socket through FFI. Operations that must
//! wait return FFI_AGAIN; the Lua side yields and then reads the outcome
//! with `..._result`. A socket is the [`Handle`] in its Lua object's
//! anchor, whose address lua-lib passes to every call.
use core::ffi::{c_int, c_void};
use core::ptr::NonNull;

use nginx_sys::{ngx_msec_t, SSL_SESSION};

use super::*;
use crate::conf::LocConf;
use crate::cosocket::connect::PoolOpts;
use crate::cosocket::recv::RecvMode;
use crate::cosocket::req;
use crate::cosocket::ssl::{Handshake, HandshakeOpts};
use crate::cosocket::tcp::{self, Done, Handle, Kind, Step, Tcp};
use crate::lua::cfunction::{lua_cfunction, Raise, State};
use crate::lua::ctx::CoCtx;
use crate::lua::vm::SOCKET_ANCHOR_MT;
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

/// Whether the running request is another than the one `s` serves:
/// upstream's "bad request" for close and setkeepalive, which, unlike
/// connect and I/O, never take a socket over. (A socket whose request
/// ended is closed, and answers "closed" before this is asked.)
fn foreign(s: &Tcp) -> bool {
    let cur = current().ctx;
    !s.ctx.is_null() && !cur.is_null() && !core::ptr::eq(s.ctx, cur)
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
        refused: true,
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

/// `connect`: `FFI_OK`/`FFI_ERROR` (the outcome in `s.done`),
/// `FFI_AGAIN`, or `FFI_NO_REQ`/`FFI_DECLINED` with an error to raise.
fn connect_op(
    s: &mut Tcp,
    host: &[u8],
    port: c_int,
    pool: Option<&[u8]>,
    opts: PoolOpts,
    err: &mut ErrOut,
) -> c_int {
    let me = match owner(s, err) {
        Ok(me) => me,
        Err(rc) => return rc,
    };
    if let Some(e) = refusal(s, false, true, true) {
        return refuse(s, e, err);
    }
    if s.downstream() {
        err.set(b"attempt to re-connect a request socket");
        return FFI_DECLINED;
    }
    let port = (0..=65535).contains(&port).then_some(port as u16);
    let st = s.connect(host, port, pool, opts, me);
    step(s, st, err)
}

/// `send`: as [`connect_op`].
fn send_op(s: &mut Tcp, data: &[u8], err: &mut ErrOut) -> c_int {
    let me = match owner(s, err) {
        Ok(me) => me,
        Err(rc) => return rc,
    };
    if let Some(e) = refusal(s, true, false, true) {
        if e == b"closed" {
            s.log_closed_use("send");
        }
        return refuse(s, e, err);
    }
    if s.kind == Kind::Body {
        err.set(b"attempt to write to request sockets");
        return FFI_DECLINED;
    }
    let st = s.send(data, me);
    step(s, st, err)
}

/// `receive` in `mode`: as [`connect_op`].
fn receive_op(s: &mut Tcp, mode: RecvMode, err: &mut ErrOut) -> c_int {
    let me = match owner(s, err) {
        Ok(me) => me,
        Err(rc) => return rc,
    };
    // `*a` again on a body socket that read the whole body: "".
    let was_at_body_end = s.at_body_end(true);
    let at_body_end = s.at_body_end(mode == RecvMode::All);
    if was_at_body_end && !at_body_end {
        // Any other read there is upstream's read that finds the body's
        // end: it fails with "closed" and "" as partial data, and only
        // the reads after it are refused (and logged).
        s.done = Done {
            ok: false,
            err: "closed".into(),
            ..Done::ok()
        };
        err.set(b"closed");
        return FFI_ERROR;
    }
    if let Some(e) = refusal(s, !at_body_end, true, false) {
        // receiveuntil's iterator says "closed" without a word, as
        // upstream's.
        if e == b"closed" && !matches!(mode, RecvMode::Until { .. }) {
            s.log_closed_use("receive");
        }
        return refuse(s, e, err);
    }
    let st = s.receive(mode, me);
    step(s, st, err)
}

export! {
    /// `mode`: 0 line, 1 all, 2 exactly `n` bytes, 3 at most `n` bytes,
    /// 4 until `pat` (at most `n` bytes a call when n > 0; `inclusive`)
    /// for the receiveuntil iterator numbered `iter` (from 1).
    #[allow(clippy::too_many_arguments)]
    fn ngx_lua_ffi_socket_tcp_receive(
        s: &mut Handle,
        mode: c_int,
        n: usize,
        pat: *const u8,
        pat_len: usize,
        inclusive: c_int,
        iter: u64,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let s = s.tcp();
        let mut err = err_out!(err, errlen);
        let mode = match recv_mode(mode, n) {
            Some(m) => m,
            None => {
                // The pattern is only taken once the socket may receive.
                if let Err(rc) = owner(s, &mut err) {
                    return rc;
                }
                if let Some(e) = refusal(s, true, true, false) {
                    return refuse(s, e, &mut err);
                }
                let pat = lua_bytes!(pat, pat_len);
                if pat.is_empty() || iter == 0 {
                    return refuse(s, b"pattern is empty", &mut err);
                }
                s.set_until(iter, pat);
                RecvMode::Until {
                    size: n,
                    inclusive: inclusive != 0,
                }
            }
        };
        receive_op(s, mode, &mut err)
    }
}

export! {
    /// The outcome of the last operation: FFI_OK with data (received bytes)
    /// and `sent`, or FFI_ERROR with the error text and partial data
    /// (`*found` -1: refused, no partial data). Both
    /// point into the socket (no length limit) and stay until its next
    /// operation.
    #[allow(clippy::too_many_arguments)]
    fn ngx_lua_ffi_socket_tcp_result(
        s: &mut Handle,
        data: &mut *const u8,
        len: &mut usize,
        sent: &mut usize,
        found: &mut c_int,
        err: &mut *const u8,
        errlen: &mut usize,
    ) -> c_int {
        let s = s.tcp();
        let d = &s.done;
        *data = d.data.as_ptr();
        *len = d.data.len();
        *sent = d.sent;
        // -1: refused before it started (no partial data to return).
        *found = if d.refused { -1 } else { c_int::from(d.found) };
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
    fn ngx_lua_ffi_socket_tcp_close(s: &mut Handle, err: *mut u8, errlen: *mut usize) -> c_int {
        let s = s.tcp();
        let mut err = err_out!(err, errlen);
        // Upstream's order: "closed", then another request's socket, then
        // which operation keeps it busy.
        if !s.connected() || s.both_closed() {
            err.set(b"closed");
            return FFI_ERROR;
        }
        if foreign(s) {
            err.set(b"bad request");
            return FFI_BAD_CONTEXT;
        }
        if let Some(e) = refusal(s, true, true, true) {
            err.set(e);
            return FFI_ERROR;
        }
        if s.downstream() {
            return FFI_DECLINED;
        }
        s.close();
        FFI_OK
    }
}

/// `settimeout(s)`: negative values keep the current timeout; 0 means
/// the location's `lua_socket_*_timeout`, as upstream.
fn set_timeouts(s: &mut Tcp, connect: f64, send: f64, read: f64) {
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

export! {
    /// How often the connection came from a pool; -1 when closed.
    fn ngx_lua_ffi_socket_tcp_getreusedtimes(s: &mut Handle) -> c_int {
        let s = s.tcp();
        s.reused().map_or(-1, |n| n as c_int)
    }
}

export! {
    fn ngx_lua_ffi_socket_tcp_setoption(
        s: &mut Handle,
        name: *const u8,
        name_len: usize,
        value: c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let s = s.tcp();
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
        s: &mut Handle,
        name: *const u8,
        name_len: usize,
        value: &mut c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let s = s.tcp();
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
        s: &mut Handle,
        fd: &mut c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let s = s.tcp();
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
    fn ngx_lua_ffi_socket_tcp_bind(
        s: &mut Handle,
        addr: *const u8,
        len: usize,
        port: c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let s = s.tcp();
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
        s: &mut Handle,
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
        let s = s.tcp();
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
        s: &mut Handle,
        sess: *mut Option<Session>,
        code: &mut c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let s = s.tcp();
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
        s: &mut Handle,
        store: *mut c_void,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let s = s.tcp();
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
        s: &mut Handle,
        out: *mut *mut c_void,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let s = s.tcp();
        let mut err = err_out!(err, errlen);
        ptr_out(s.ssl_pointer(), out, &mut err)
    }
}

export! {
    /// `getsslctx`: the `SSL_CTX *` of the connection's TLS.
    fn ngx_lua_ffi_socket_tcp_getsslctx(
        s: &mut Handle,
        out: *mut *mut c_void,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let s = s.tcp();
        let mut err = err_out!(err, errlen);
        ptr_out(s.ssl_ctx(), out, &mut err)
    }
}

export! {
    /// `getsslsession`: a new reference to the connection's session, for
    /// lua-lib to own (freed by `ngx_lua_ffi_ssl_free_session`).
    fn ngx_lua_ffi_socket_tcp_getsslsession(
        s: &mut Handle,
        sess: *mut Option<Session>,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let s = s.tcp();
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

/// The receive modes of lua-lib's numbers: 0 line, 1 all, 2 exactly `n`
/// bytes, 3 at most `n` bytes; `None` for 4, until a pattern.
fn recv_mode(mode: c_int, n: usize) -> Option<RecvMode> {
    Some(match mode {
        0 => RecvMode::Line,
        1 => RecvMode::All,
        2 => RecvMode::Size(n),
        3 => RecvMode::Any(n),
        _ => return None,
    })
}

// The hot socket methods as C functions: handler chunks run interpreted,
// and the interpreter's FFI calls convert every argument through the C
// type machinery (about 300 instructions a call, a fifth of what the
// cosocket benchmark added to nginx). The socket comes as the light
// userdata handle lua-lib keeps beside its cdata; a call that must wait
// returns false, and after the yield `result` gives what the call would
// have returned.

/// What `result` returns for: a connect (1), a send (the bytes sent), a
/// receive (the data; on failure, the partial data too).
const OUT_CONNECT: c_int = 0;
const OUT_SEND: c_int = 1;
const OUT_RECEIVE: c_int = 2;

fn socket_at(L: State, idx: c_int) -> Result<&'static mut Tcp, Raise> {
    lua_handle!(L, idx, Handle)
        .map(Handle::tcp)
        .ok_or_else(|| Raise::MessageUp(b"bad argument #1 (cosocket object expected)".to_vec()))
}

/// Pushes the outcome of the last operation as lua-lib returns it.
fn push_outcome(L: State, s: &Tcp, kind: c_int) -> c_int {
    let d = &s.done;
    if d.ok {
        match kind {
            OUT_SEND => L.push_number(d.sent as f64),
            OUT_RECEIVE => L.push_str(&d.data),
            _ => L.push_int(1),
        }
        return 1;
    }
    L.push_nil();
    L.push_str(d.err.as_bytes());
    // A receive that failed returns what it got, "" too, as upstream's;
    // one refused before it started does not.
    if kind == OUT_RECEIVE && !d.refused {
        L.push_str(&d.data);
        return 3;
    }
    2
}

/// The results of an operation that returned `rc`.
fn answer(L: State, s: &Tcp, rc: c_int, err: &ErrBuf, kind: c_int) -> Result<c_int, Raise> {
    match rc {
        FFI_AGAIN => {
            L.push_bool(false);
            Ok(1)
        }
        FFI_NO_REQ | FFI_DECLINED => Err(Raise::MessageUp(err.text().to_vec())),
        _ => Ok(push_outcome(L, s, kind)),
    }
}

cfunction! {
    /// `new(udp)`: a socket for the running request, as its handle.
    fn new(L) {
        let mut e = ErrBuf::new();
        let Ok(ctx) = e.run(|err| running(SOCKET_PHASES, err)) else {
            return Err(Raise::MessageUp(e.text().to_vec()));
        };
        let mut s = Tcp::new(&mut ctx.lua);
        s.udp = L.truthy(1);
        Ok(push_socket(L, s))
    }
}

/// Pushes the anchor of the socket `s` (a userdata holding its
/// [`Handle`], whose collection frees it) and its handle (the handle's
/// address), and attaches it to its request. The socket's record is
/// outside the userdata: a small userdata keeps the GC's cycles as rare
/// as they were (its size counts towards the next cycle, and each cycle
/// sweeps every string), and a pooled request then costs fewer
/// instructions than with the socket in Lua's heap; the record goes back
/// to a spare list when the request ends (see `Handle`).
fn push_socket(L: State, s: Tcp) -> c_int {
    let t = tcp::record(s);
    let h = L.push_anchor(Handle::new(t), gc, SOCKET_ANCHOR_MT);
    // SAFETY: the record just made, which only the handle refers to;
    // single-threaded, nothing else borrows it now.
    unsafe { &mut *t.as_ptr() }.tie(h);
    L.push_light(h.cast());
    2
}

lua_cfunction! {
    /// The `__gc` of a socket's anchor: the Lua object is gone. The VM
    /// closes after nginx tore down the cycle at process exit: nothing of
    /// nginx may be touched then, so the socket is only forgotten.
    fn gc(L) {
        let Some(h) = L.anchor_at::<Handle>(1, SOCKET_ANCHOR_MT) else {
            return Ok(0);
        };
        if !crate::phase::exit_worker::process_exiting() {
            // SAFETY: the payload of a live anchor (its __gc runs before
            // LuaJIT frees it), a Handle written by push_socket.
            unsafe { &mut *h.as_ptr() }.collect();
        }
        Ok(0)
    }
}

cfunction! {
    /// `connect(handle, host, port, pool, pool_size, backlog)`: a port
    /// outside 0..65535 means none (a `unix:` host); pool_size and
    /// backlog below 1 and 0, the defaults.
    fn connect(L) {
        let s = socket_at(L, 1)?;
        let host = L.str_at(2).unwrap_or_default();
        let port = L.to_number(3) as c_int;
        let pool = L.str_at(4);
        let (size, backlog) = (L.to_number(5) as c_int, L.to_number(6) as c_int);
        let opts = PoolOpts {
            size: (size > 0).then_some(size as usize),
            backlog: (backlog >= 0).then_some(backlog as usize),
        };
        let mut e = ErrBuf::new();
        let rc = e.run(|err| connect_op(s, host, port, pool, opts, err));
        answer(L, s, rc, &e, OUT_CONNECT)
    }
}

cfunction! {
    /// `send(handle, data)`.
    fn send(L) {
        let s = socket_at(L, 1)?;
        let data = L.str_at(2).unwrap_or_default();
        let mut e = ErrBuf::new();
        let rc = e.run(|err| send_op(s, data, err));
        answer(L, s, rc, &e, OUT_SEND)
    }
}

cfunction! {
    /// `receive(handle, mode, n)`: modes 0 to 3 (see [`recv_mode`]).
    fn receive(L) {
        let s = socket_at(L, 1)?;
        let n = L.to_number(3) as usize;
        let mode = recv_mode(L.to_number(2) as c_int, n).unwrap_or(RecvMode::Line);
        let mut e = ErrBuf::new();
        let rc = e.run(|err| receive_op(s, mode, err));
        answer(L, s, rc, &e, OUT_RECEIVE)
    }
}

cfunction! {
    /// `settimeouts(handle, connect, send, read)` (see [`set_timeouts`]).
    fn settimeouts(L) {
        let s = socket_at(L, 1)?;
        set_timeouts(s, L.to_number(2), L.to_number(3), L.to_number(4));
        Ok(0)
    }
}

cfunction! {
    /// `result(handle, kind)`: after the yield of an operation, what it
    /// returns (`OUT_*`).
    fn result(L) {
        let s = socket_at(L, 1)?;
        let kind = L.to_number(2) as c_int;
        Ok(push_outcome(L, s, kind))
    }
}

cfunction! {
    /// `setkeepalive(handle, timeout, has_size, size)`: a negative timeout,
    /// or no size, uses the configured default.
    fn setkeepalive(L) {
        let s = socket_at(L, 1)?;
        let timeout = L.to_number(2);
        let t = (timeout >= 0.0).then_some(timeout as ngx_msec_t);
        let n = L.truthy(3).then(|| L.to_number(4) as i64);
        if s.connected() && !s.read_closed() && !s.write_closed() && foreign(s) {
            return Err(Raise::MessageUp(b"bad request".to_vec()));
        }
        match s.set_keepalive(t, n) {
            Ok(()) => {
                L.push_int(1);
                Ok(1)
            }
            Err(Ok(e)) => {
                L.push_nil();
                L.push_str(e.as_bytes());
                Ok(2)
            }
            Err(Err(n)) => Err(Raise::MessageUp(
                format!("bad argument #3 to '?' (bad \"pool_size\" option value: {n})").into_bytes(),
            )),
        }
    }
}

cfunction! {
    /// `ngx.req.socket(raw)`: the handle of the request socket, or nil and
    /// the reason; raises outside a request handler, in a subrequest and
    /// for HTTP/2.
    fn req_socket(L) {
        let raw = L.truthy(1);
        let mut e = ErrBuf::new();
        let Ok(ctx) = e.run(|err| running_in_context(REQ_SOCKET_PHASES, err)) else {
            return Err(Raise::MessageUp(e.text().to_vec()));
        };
        let r = ctx.req();
        if !r.is_main() {
            return Err(Raise::MessageUp(
                b"attempt to read the request body in a subrequest".to_vec(),
            ));
        }
        if Downstream::of(r).is_http2() {
            return Err(Raise::MessageUp(b"http v2 not supported yet".to_vec()));
        }
        match req::open(ctx, raw) {
            Ok(s) => Ok(push_socket(L, s)),
            Err(e) => {
                L.push_nil();
                L.push_str(e.as_bytes());
                Ok(2)
            }
        }
    }
}

/// Installed into `package.loaded["ngx_lua.socket"]` for lua-lib.
pub const CFUNCS: &[(&core::ffi::CStr, crate::lua::raw::lua_CFunction)] = &[
    (c"new", new),
    (c"connect", connect),
    (c"send", send),
    (c"receive", receive),
    (c"result", result),
    (c"setkeepalive", setkeepalive),
    (c"settimeouts", settimeouts),
    (c"req_socket", req_socket),
];

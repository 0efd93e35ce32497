//! ngx.socket.tcp through FFI. Operations that must wait return FFI_AGAIN;
//! the Lua side yields and then reads the outcome with `..._result`.
use core::ffi::c_int;

use super::*;
use crate::cosocket::connect::PoolOpts;
use crate::cosocket::ssl::Handshake;
use crate::cosocket::tcp::{Kind, RecvMode, Step, Tcp};
use crate::lua::ctx::CoCtx;

const SOCKET_PHASES: u32 = crate::lua::phase::YIELDABLE;

/// The running thread, if `s` belongs to the running request.
unsafe fn owner(
    s: *mut Tcp,
    err: *mut u8,
    errlen: *mut usize,
) -> Result<(&'static mut Tcp, *mut CoCtx), c_int> {
    // SAFETY: s is a live socket owned by its Lua object; CURRENT holds the
    // running request and thread.
    unsafe {
        let ctx = request_in(SOCKET_PHASES, err, errlen)?;
        let s = &mut *s;
        let ctx: *mut crate::lua::ctx::LuaCtx = &mut ctx.lua;
        if !core::ptr::eq(s.ctx, ctx) && !s.ctx.is_null() {
            set_err(err, errlen, b"bad request");
            return Err(FFI_DECLINED);
        }
        if s.ctx.is_null() {
            // A socket kept across requests (module-level) now serves this one.
            s.ctx = ctx;
            s.attach();
        }
        Ok((s, current().co))
    }
}

/// The FFI status of an operation; a waiting thread is marked so the
/// scheduler keeps it suspended until the socket's event handler resumes it.
unsafe fn step(s: &mut Tcp, st: Step, me: *mut CoCtx, err: *mut u8, errlen: *mut usize) -> c_int {
    match st {
        Step::Wait => {
            // SAFETY: `me` is the running thread (see owner()).
            unsafe { s.wait_for(&mut *me) };
            FFI_AGAIN
        }
        Step::Now if s.done.ok => FFI_OK,
        Step::Now => {
            // SAFETY: the caller's error buffer.
            unsafe { set_err(err, errlen, s.done.err.as_bytes()) };
            FFI_ERROR
        }
    }
}

/// Records a refusal as the operation's outcome, so its result carries no
/// data of an earlier operation.
unsafe fn refuse(s: &mut Tcp, e: &[u8], err: *mut u8, errlen: *mut usize) -> c_int {
    s.done = crate::cosocket::tcp::Done {
        ok: false,
        err: String::from_utf8_lossy(e).into_owned(),
        ..crate::cosocket::tcp::Done::ok()
    };
    // SAFETY: the caller's error buffer.
    unsafe { set_err(err, errlen, e) };
    FFI_ERROR
}

/// Upstream's refusals before an operation starts: a closed socket, or
/// another thread already connecting, reading or writing it.
fn refusal(s: &Tcp, need_connected: bool, reading: bool, writing: bool) -> Option<&'static [u8]> {
    if need_connected && !s.connected() {
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

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_socket_tcp_new(err: *mut u8, errlen: *mut usize) -> *mut Tcp {
    guard(core::ptr::null_mut(), || {
        // SAFETY: the caller's error buffer.
        match unsafe { request_in(SOCKET_PHASES, err, errlen) } {
            Ok(ctx) => {
                let s = Box::into_raw(Tcp::new(&mut ctx.lua));
                // SAFETY: just allocated.
                unsafe { (*s).attach() };
                s
            }
            Err(_) => core::ptr::null_mut(),
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_socket_tcp_gc(s: *mut Tcp) {
    // The VM closes after nginx tore down the cycle at process exit.
    if !s.is_null() && !crate::phase::exit_worker::process_exiting() {
        // SAFETY: from ngx_lua_ffi_socket_tcp_new; ffi.gc calls this once.
        guard((), || drop(unsafe { Box::from_raw(s) }));
    }
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_socket_tcp_connect(
    s: *mut Tcp,
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
    guard(FFI_ERROR, || {
        // SAFETY: see owner(); host/pool are Lua strings.
        unsafe {
            let (s, me) = match owner(s, err, errlen) {
                Ok(v) => v,
                Err(rc) => return rc,
            };
            if let Some(e) = refusal(s, false, true, true) {
                return refuse(s, e, err, errlen);
            }
            if s.downstream() {
                set_err(err, errlen, b"attempt to re-connect a request socket");
                return FFI_DECLINED;
            }
            let host = core::slice::from_raw_parts(host, host_len);
            let pool = (!pool.is_null()).then(|| core::slice::from_raw_parts(pool, pool_len));
            let port = (0..=65535).contains(&port).then_some(port as u16);
            let opts = PoolOpts {
                size: (pool_size > 0).then_some(pool_size as usize),
                backlog: (backlog >= 0).then_some(backlog as usize),
            };
            let st = s.connect(host, port, pool, opts, me);
            step(s, st, me, err, errlen)
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_socket_tcp_send(
    s: *mut Tcp,
    data: *const u8,
    len: usize,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        // SAFETY: see owner(); data is a Lua string.
        unsafe {
            let (s, me) = match owner(s, err, errlen) {
                Ok(v) => v,
                Err(rc) => return rc,
            };
            if let Some(e) = refusal(s, true, false, true) {
                return refuse(s, e, err, errlen);
            }
            if s.kind == Kind::Body {
                set_err(err, errlen, b"attempt to write to request sockets");
                return FFI_DECLINED;
            }
            let data = if len == 0 {
                &[][..]
            } else {
                core::slice::from_raw_parts(data, len)
            };
            let st = s.send(data, me);
            step(s, st, me, err, errlen)
        }
    })
}

/// `mode`: 0 line, 1 all, 2 exactly `n` bytes, 3 at most `n` bytes,
/// 4 until `pat` (at most `n` bytes a call when n > 0; `inclusive`).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn ngx_lua_ffi_socket_tcp_receive(
    s: *mut Tcp,
    mode: c_int,
    n: usize,
    pat: *const u8,
    pat_len: usize,
    inclusive: c_int,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        // SAFETY: see owner().
        unsafe {
            let (s, me) = match owner(s, err, errlen) {
                Ok(v) => v,
                Err(rc) => return rc,
            };
            if let Some(e) = refusal(s, true, true, false) {
                return refuse(s, e, err, errlen);
            }
            let mode = match mode {
                0 => RecvMode::Line,
                1 => RecvMode::All,
                2 => RecvMode::Size(n),
                3 => RecvMode::Any(n),
                _ => {
                    s.rx.until_pat.clear();
                    s.rx.until_pat
                        .extend_from_slice(core::slice::from_raw_parts(pat, pat_len));
                    RecvMode::Until {
                        size: n,
                        inclusive: inclusive != 0,
                    }
                }
            };
            let st = s.receive(mode, me);
            step(s, st, me, err, errlen)
        }
    })
}

/// The outcome of the last operation: FFI_OK with data (received bytes)
/// and `sent`, or FFI_ERROR with the error text and partial data. Both
/// point into the socket (no length limit) and stay until its next
/// operation.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn ngx_lua_ffi_socket_tcp_result(
    s: *mut Tcp,
    data: *mut *const u8,
    len: *mut usize,
    sent: *mut usize,
    found: *mut c_int,
    err: *mut *const u8,
    errlen: *mut usize,
) -> c_int {
    // SAFETY: a live socket; out parameters from the Lua side.
    unsafe {
        let s = &mut *s;
        *data = s.done.data.as_ptr();
        *len = s.done.data.len();
        *sent = s.done.sent;
        *found = s.done.found as c_int;
        *err = s.done.err.as_ptr();
        *errlen = s.done.err.len();
        if s.done.ok {
            FFI_OK
        } else {
            FFI_ERROR
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_socket_tcp_close(s: *mut Tcp) -> c_int {
    // SAFETY: a live socket.
    unsafe {
        let s = &mut *s;
        if !s.connected() {
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

/// Negative values keep the current timeout; 0 means the location's
/// `lua_socket_*_timeout`, as upstream.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_socket_tcp_settimeouts(
    s: *mut Tcp,
    connect: f64,
    send: f64,
    read: f64,
) {
    // SAFETY: a live socket; its request (when set) is alive.
    let s = unsafe { &mut *s };
    let lcf = unsafe { s.ctx.as_ref().map(|ctx| crate::conf::loc_conf(ctx.r)) };
    let pick = |v: f64,
                cur: nginx_sys::ngx_msec_t,
                conf: fn(&crate::conf::LocConf) -> nginx_sys::ngx_msec_t| {
        if v > 0.0 {
            v as nginx_sys::ngx_msec_t
        } else if v == 0.0 {
            lcf.map_or(cur, conf)
        } else {
            cur
        }
    };
    s.connect_timeout = pick(connect, s.connect_timeout, |c| c.socket_connect_timeout());
    s.send_timeout = pick(send, s.send_timeout, |c| c.socket_send_timeout());
    s.read_timeout = pick(read, s.read_timeout, |c| c.socket_read_timeout());
}

/// `has_size == 0` (or a negative timeout) uses the configured default.
/// `FFI_DECLINED`: a bad pool size for a new pool (a Lua argument error).
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_socket_tcp_setkeepalive(
    s: *mut Tcp,
    timeout: f64,
    has_size: c_int,
    size: f64,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        // SAFETY: a live socket; the caller's error buffer.
        unsafe {
            let s = &mut *s;
            let t = (timeout >= 0.0).then_some(timeout as nginx_sys::ngx_msec_t);
            let n = (has_size != 0).then_some(size as i64);
            match s.set_keepalive(t, n) {
                Ok(()) => FFI_OK,
                Err(Ok(e)) => {
                    set_err(err, errlen, e.as_bytes());
                    FFI_ERROR
                }
                Err(Err(n)) => {
                    let msg = format!("bad \"pool_size\" option value: {n}");
                    set_err(err, errlen, msg.as_bytes());
                    FFI_DECLINED
                }
            }
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_socket_tcp_getreusedtimes(s: *mut Tcp) -> c_int {
    // SAFETY: a live socket.
    let s = unsafe { &*s };
    if s.connected() {
        s.reused as c_int
    } else {
        -1
    }
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_socket_tcp_setoption(
    s: *mut Tcp,
    name: *const u8,
    name_len: usize,
    value: c_int,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        // SAFETY: a live socket; name is a Lua string; the caller's buffer.
        unsafe {
            let s = &mut *s;
            match s.set_option(core::slice::from_raw_parts(name, name_len), value) {
                Ok(()) => FFI_OK,
                Err(e) => {
                    set_err(err, errlen, e.as_bytes());
                    FFI_ERROR
                }
            }
        }
    })
}

/// Makes a fresh socket a datagram socket (ngx.socket.udp).
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_socket_set_udp(s: *mut Tcp) {
    // SAFETY: a live socket, not yet connected.
    unsafe { (*s).udp = true };
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_socket_tcp_bind(
    s: *mut Tcp,
    addr: *const u8,
    len: usize,
    port: c_int,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        // SAFETY: a live socket; addr is a Lua string; the caller's buffer.
        unsafe {
            match (*s).bind(core::slice::from_raw_parts(addr, len), port as u16) {
                Ok(()) => FFI_OK,
                Err(e) => {
                    set_err(err, errlen, e.as_bytes());
                    FFI_ERROR
                }
            }
        }
    })
}

/// `sslhandshake`: `FFI_OK` (done: collect the session with
/// `..._sslhandshake_result`), `FFI_DONE` (already TLS: the caller returns
/// the session it passed), `FFI_AGAIN` (yield, then collect), or
/// `FFI_ERROR` with the reason.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn ngx_lua_ffi_socket_tcp_sslhandshake(
    s: *mut Tcp,
    sess: *mut nginx_sys::SSL_SESSION,
    want_session: c_int,
    name: *const u8,
    name_len: usize,
    verify: c_int,
    ocsp: c_int,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        // SAFETY: see owner(); name is a Lua string or null.
        unsafe {
            let (s, me) = match owner(s, err, errlen) {
                Ok(v) => v,
                Err(rc) => return rc,
            };
            if let Some(e) = refusal(s, true, true, true) {
                return refuse(s, e, err, errlen);
            }
            if s.downstream() {
                return refuse(s, b"not supported for downstream sockets", err, errlen);
            }
            let name = (!name.is_null()).then(|| core::slice::from_raw_parts(name, name_len));
            match s.ssl_handshake(sess, want_session != 0, name, verify != 0, ocsp != 0, me) {
                Handshake::Ok => FFI_OK,
                Handshake::AlreadyDone => FFI_DONE,
                Handshake::Wait => step(s, Step::Wait, me, err, errlen),
                Handshake::Err => step(s, Step::Now, me, err, errlen),
            }
        }
    })
}

/// The outcome of a handshake: `FFI_OK` and the session (null when none
/// was wanted or made; the caller frees it), or `FFI_ERROR` with the reason
/// and OpenSSL's verify code (0 when the failure was not a verification).
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_socket_tcp_sslhandshake_result(
    s: *mut Tcp,
    sess: *mut *mut nginx_sys::SSL_SESSION,
    code: *mut c_int,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    // SAFETY: a live socket; out parameters from the Lua side.
    unsafe {
        let s = &mut *s;
        *code = s.done.ssl_code as c_int;
        *sess = core::ptr::null_mut();
        if !s.done.ok {
            set_err(err, errlen, s.done.err.as_bytes());
            return FFI_ERROR;
        }
        *sess = s.take_session();
        FFI_OK
    }
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_ssl_free_session(sess: *mut nginx_sys::SSL_SESSION) {
    if !sess.is_null() {
        // SAFETY: a session reference the Lua side owned (ffi.gc).
        guard((), || unsafe { crate::cosocket::ssl::free_session(sess) });
    }
}

const REQ_SOCKET_PHASES: u32 = crate::lua::phase::HANDLER_PHASES;

/// `ngx.req.socket(raw)`: `FFI_OK` with the socket in `out`, `FFI_ERROR`
/// with the reason (`nil, err`), or `FFI_DECLINED`/`FFI_NO_REQ` with an
/// error to raise.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_req_socket(
    raw: c_int,
    out: *mut *mut Tcp,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        // SAFETY: the caller's buffers; the running request.
        unsafe {
            *out = core::ptr::null_mut();
            let ctx = match request_in(REQ_SOCKET_PHASES, err, errlen) {
                Ok(c) => c,
                Err(rc) => return rc,
            };
            let r = ctx.r;
            if r != (*r).main {
                set_err(
                    err,
                    errlen,
                    b"attempt to read the request body in a subrequest",
                );
                return FFI_DECLINED;
            }
            if !(*r).stream.is_null() {
                set_err(err, errlen, b"http v2 not supported yet");
                return FFI_DECLINED;
            }
            match crate::cosocket::req::open(ctx, raw != 0) {
                Ok(s) => {
                    *out = s;
                    FFI_OK
                }
                Err(e) => {
                    set_err(err, errlen, e.as_bytes());
                    FFI_ERROR
                }
            }
        }
    })
}

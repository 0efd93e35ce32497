//! Functions exported to lua-lib through LuaJIT FFI (`ngx_lua_ffi_*`).
//!
//! Contract (lua-resty-core's shape): plain C types in and out, an integer
//! status, a caller-owned error buffer, no Lua stack access, no yield, no
//! unwinding. The few functions that must run Lua filters (output) are
//! classic `lua_CFunction`s instead, in `output.rs`. Functions are
//! declared with `export!` and read lua-lib's pointers through the
//! conversions of `abi.rs`; they call the features and the nginx wrappers
//! and map results to statuses and upstream's error texts.
#[macro_use]
pub mod abi;

/// The running request's context in one of the `allowed` phases, or
/// return its refusal status (the text is in `$err`, an `ErrOut`).
macro_rules! running {
    ($allowed:expr, $err:expr) => {
        match $crate::ffi::running($allowed, &mut $err) {
            Ok(c) => c,
            Err(rc) => return rc,
        }
    };
    // An API upstream guards with a context check: in a timer it says
    // "in the context of ngx.timer" (see `refusal`).
    (context: $allowed:expr, $err:expr) => {
        match $crate::ffi::running_in_context($allowed, &mut $err) {
            Ok(c) => c,
            Err(rc) => return rc,
        }
    };
    // An API whose lua-lib side reads `FFI_DECLINED` as a result (nil,
    // nothing done): on a timer's fake request, where upstream raises,
    // the refusal comes back as an error instead.
    (raise_in_timer: $allowed:expr, $err:expr) => {
        match $crate::ffi::running($allowed, &mut $err) {
            Ok(c) => c,
            Err(rc)
                if rc == $crate::ffi::FFI_DECLINED
                    && $crate::lua::sched::current().phase == $crate::lua::phase::Phase::Timer =>
            {
                return $crate::ffi::FFI_ERROR
            }
            Err(rc) => return rc,
        }
    };
}
/// An object this crate handed to lua-lib (from `Box::into_raw`, or one
/// that lives as long as the cycle, like a shared dict zone), passed back
/// by the Lua value that holds it: `Option<&T>`, None for null.
macro_rules! lua_ref {
    ($p:expr) => {
        // SAFETY: lua-lib's contract (see ffi/abi.rs): the pointer is one
        // this crate gave out, and the Lua value passing it keeps the object
        // alive for the call.
        unsafe { $p.as_ref() }
    };
}
/// `lua_ref!` for an object the call changes: `Option<&mut T>` (one FFI
/// call runs at a time, and none keeps the reference).
macro_rules! lua_mut {
    ($p:expr) => {
        // SAFETY: as lua_ref!.
        unsafe { $p.as_mut() }
    };
}
/// Frees a block [`malloc_copy`] handed to lua-lib, which gives it back
/// once through the area's `*_free` export.
macro_rules! lua_free {
    ($p:expr) => {
        // SAFETY: lua-lib's contract (see ffi/abi.rs): the pointer is null
        // or a block malloc_copy returned, freed once.
        unsafe { libc::free($p as *mut core::ffi::c_void) }
    };
}

pub mod balancer;
pub mod base;
pub mod base64;
pub mod c_api;
pub mod config;
pub mod coroutine;
pub mod ctx;
pub mod errlog;
pub mod exec;
pub mod exit;
pub mod hash;
pub mod log;
pub mod metrics;
pub mod misc;
pub mod ndk;
pub mod ocsp;
pub mod output;
pub mod param;
pub mod phase;
pub mod pipe;
pub mod process;
pub mod regex;
pub mod request;
pub mod response;
pub mod semaphore;
pub mod shdict;
pub mod socket;
pub mod ssl;
pub mod ssl_session;
pub mod ssl_upstream;
pub mod string;
pub mod subrequest;
pub mod thread;
pub mod time;
pub mod timer;
pub mod uri;
pub mod var;
pub mod worker;
pub mod worker_thread;

use core::ffi::c_int;

use crate::http::RequestCtx;
pub use crate::lua::phase::{Phase, REQUEST_PHASES};
use crate::lua::sched::current;
use crate::nginx::log::log_error;
use crate::nginx::request::Request;
pub use abi::{ErrBuf, ErrOut};

/// The C-function modules lua-lib wraps: output functions that run
/// filters, thread functions that move values between coroutines,
/// `ngx.arg`'s metamethods (run by interpreted handler chunks).
pub const PRELOAD: &[crate::lua::vm::Preload] = &[
    (c"ngx_lua.output", output::CFUNCS),
    (c"ngx_lua.arg", param::CFUNCS),
    (c"ngx_lua.var", var::CFUNCS),
    (c"ngx_lua.socket", socket::CFUNCS),
    (c"ngx_lua.timer", timer::CFUNCS),
    (c"ngx_lua.ssl", ssl::CFUNCS),
    (c"ngx_lua.thread", thread::CFUNCS),
    (c"ngx_lua.worker_thread", worker_thread::CFUNCS),
];

pub use crate::nginx::panic::guard;

/// A string handed between Lua and Rust.
#[repr(C)]
pub struct FfiStr {
    pub data: *const u8,
    pub len: usize,
}

/// A key/value pair handed to Lua; `value_len < 0` means a bare key (true).
///
/// The lengths are `int`, as in lua-resty-core's structs: LuaJIT boxes
/// every 64-bit integer it reads from a cdata field into a new cdata
/// object, which in interpreted code is one allocation per field read.
/// Everything listed here comes from header buffers, query strings and
/// in-memory bodies whose total length already fits an `int`.
#[repr(C)]
pub struct FfiKv {
    pub key: *const u8,
    pub key_len: c_int,
    pub value: *const u8,
    pub value_len: c_int,
}

impl FfiKv {
    pub fn new(key: *const u8, key_len: usize, value: *const u8, value_len: usize) -> Self {
        FfiKv {
            key,
            key_len: clamp_len(key_len),
            value,
            value_len: clamp_len(value_len),
        }
    }

    /// A key without `=value`, which Lua sees as `true`.
    pub fn bare(key: *const u8, key_len: usize) -> Self {
        FfiKv {
            key,
            key_len: clamp_len(key_len),
            value: core::ptr::null(),
            value_len: -1,
        }
    }
}

fn clamp_len(n: usize) -> c_int {
    c_int::try_from(n).unwrap_or(c_int::MAX)
}

pub const FFI_OK: c_int = 0;
pub const FFI_ERROR: c_int = -1;
pub const FFI_AGAIN: c_int = -2;
pub const FFI_BUSY: c_int = -3;
pub const FFI_DONE: c_int = -4;
pub const FFI_DECLINED: c_int = -5;
pub const FFI_NO_REQ: c_int = -100;
pub const FFI_BAD_CONTEXT: c_int = -101;

/// Copies `msg` into the caller's error buffer (`*errlen` is its size on
/// entry and the message length on return).
///
/// # Safety
/// `err`/`errlen` are null or the Lua side's buffer and its size.
pub unsafe fn set_err(err: *mut u8, errlen: *mut usize, msg: &[u8]) {
    if err.is_null() || errlen.is_null() {
        return;
    }
    // SAFETY: the Lua side passes a buffer of *errlen bytes.
    unsafe {
        let n = msg.len().min(*errlen);
        core::ptr::copy_nonoverlapping(msg.as_ptr(), err, n);
        *errlen = n;
    }
}

/// The running request in one of the `allowed` phases, or the status to
/// return (with the upstream error text in `err`).
///
/// # Safety
/// `err`/`errlen` are null or the FFI caller's error buffer and its size.
pub unsafe fn request_in(
    allowed: u32,
    err: *mut u8,
    errlen: *mut usize,
) -> Result<&'static mut RequestCtx, c_int> {
    let cur = current();
    // SAFETY: CURRENT only holds a ctx while Lua runs for that request,
    // and every request's LuaCtx is part of its RequestCtx.
    let Some(ctx) = (unsafe { RequestCtx::from_lua(cur.ctx) }) else {
        // SAFETY: the caller's error buffer / the cycle log.
        unsafe { set_err(err, errlen, no_request(cur.phase).to_bytes()) };
        return Err(FFI_NO_REQ);
    };
    if allowed & cur.phase.bit() == 0 {
        // SAFETY: the caller's error buffer / the cycle log.
        unsafe { set_err(err, errlen, disabled(cur.phase).as_bytes()) };
        return Err(FFI_DECLINED);
    }
    Ok(ctx)
}

/// The running request in one of the `allowed` phases, or the status to
/// return (with upstream's error text in `err`).
#[inline]
pub fn running(allowed: u32, err: &mut abi::ErrOut) -> Result<&'static mut RequestCtx, c_int> {
    running_as(allowed, err, false)
}

/// `running` for an API upstream guards with a context check (output,
/// exec, captures, reading the body, the request socket): its refusal
/// names the phase, timers included.
pub fn running_in_context(
    allowed: u32,
    err: &mut abi::ErrOut,
) -> Result<&'static mut RequestCtx, c_int> {
    running_as(allowed, err, true)
}

#[inline(always)]
fn running_as(
    allowed: u32,
    err: &mut abi::ErrOut,
    context_checked: bool,
) -> Result<&'static mut RequestCtx, c_int> {
    let cur = current();
    // SAFETY: CURRENT only holds a ctx while Lua runs for that request,
    // and every request's LuaCtx is part of its RequestCtx.
    let Some(ctx) = (unsafe { RequestCtx::from_lua(cur.ctx) }) else {
        err.set(no_request(cur.phase).to_bytes());
        return Err(FFI_NO_REQ);
    };
    if allowed & cur.phase.bit() == 0 {
        if context_checked {
            err.set(disabled(cur.phase).as_bytes());
        } else {
            err.set(refusal(cur.phase).as_bytes());
        }
        return Err(FFI_DECLINED);
    }
    Ok(ctx)
}

/// True (after logging upstream's error line) when the response header of
/// `r` is already out, so `what` can no longer be set.
pub fn header_sent_already(r: Request, what: &str) -> bool {
    if !r.header_sent() {
        return false;
    }
    // SAFETY: the live request's connection log.
    unsafe {
        log_error(
            nginx_sys::NGX_LOG_ERR,
            r.log(),
            format!("attempt to set {what} after sending out response headers").as_bytes(),
        )
    };
    true
}

/// Copies `parts`, back to back, into a `malloc`ed block for lua-lib, which
/// reads it and frees it with the area's `*_free` export (`lua_free!`):
/// values too long for its scratch buffers. Null when out of memory.
pub fn malloc_copy(parts: &[&[u8]]) -> *mut u8 {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    // SAFETY: malloc of at least one byte; null is handled below.
    let p = unsafe { libc::malloc(len.max(1)) } as *mut u8;
    if p.is_null() {
        return p;
    }
    let mut at = 0;
    for part in parts {
        // SAFETY: the block has room for every part, in order.
        unsafe { core::ptr::copy_nonoverlapping(part.as_ptr(), p.add(at), part.len()) };
        at += part.len();
    }
    p
}

/// Upstream's refusal to end the handler while a capture waits.
pub const PENDING_SUBREQUESTS: &[u8] = b"attempt to abort with pending subrequests";

pub fn disabled(phase: Phase) -> String {
    format!("API disabled in the context of {}", phase.context_name())
}

/// The refusal of a request API that upstream does not guard by context
/// but refuses on a fake request: a timer's callback runs on one, so
/// there it says "in the current context" (what upstream's tests grep
/// for); elsewhere it names the phase as [`disabled`] does.
pub fn refusal(phase: Phase) -> std::borrow::Cow<'static, str> {
    if phase == Phase::Timer {
        std::borrow::Cow::Borrowed(CURRENT_CONTEXT)
    } else {
        std::borrow::Cow::Owned(disabled(phase))
    }
}

/// Upstream's refusal on a fake request.
pub const CURRENT_CONTEXT: &str = "API disabled in the current context";

/// What a request API says outside a request: upstream runs
/// `init_worker_by_lua*` and `exit_worker_by_lua*` on a fake request, whose
/// request APIs refuse in [`CURRENT_CONTEXT`]'s words; elsewhere there is
/// no request.
pub fn no_request(phase: Phase) -> &'static core::ffi::CStr {
    if phase.worker_hook() {
        c"API disabled in the current context"
    } else {
        c"no request found"
    }
}

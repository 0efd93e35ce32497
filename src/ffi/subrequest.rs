//! ngx.location.capture / capture_multi: start the subrequests of a
//! capture (the Lua side has checked and encoded the options), then hand
//! their captured responses to the woken thread.
use core::ffi::c_int;
use core::ptr;

use nginx_sys::*;

use super::abi::bytes;
use super::*;
use crate::nginx::headers_in::for_each_elt;
use crate::subrequest::{self, Group, Spec};

/// Upstream refuses captures in `server_rewrite_by_lua*` and
/// `precontent_by_lua*` too.
const CAPTURE_PHASES: u32 = Phase::Rewrite.bit() | Phase::Access.bit() | Phase::Content.bit();

const SHARE_ALL_VARS: c_int = 1;
const COPY_ALL_VARS: c_int = 2;
const ALWAYS_FORWARD_BODY: c_int = 4;
const HAS_BODY: c_int = 8;
const WANTS_CTX: c_int = 16;

/// One subrequest of a capture, as the Lua side describes it.
#[repr(C)]
pub struct SubreqSpec {
    pub uri: *const u8,
    pub uri_len: usize,
    pub args: *const u8,
    pub args_len: usize,
    pub body: *const u8,
    pub body_len: usize,
    pub method: c_int,
    pub flags: c_int,
    /// `nvars` name/value pairs (2 * nvars strings).
    pub vars: *const FfiStr,
    pub nvars: c_int,
    pub headers: *const FfiStr,
    pub nheaders: c_int,
    /// Out: the subrequest's `ngx.ctx` slot, for the `ctx` option.
    pub ctx_ref: c_int,
}

/// A captured response, read by the thread after it was woken.
#[repr(C)]
pub struct SubreqResult {
    pub status: c_int,
    pub truncated: c_int,
    pub body: *const u8,
    pub body_len: usize,
    /// Elements of the subrequest's response header list.
    pub nheaders: c_int,
    pub content_type: *const u8,
    pub content_type_len: usize,
    /// `Content-Length` known only as a number (-1: none); 64-bit `off_t`
    /// on the targets (`int64_t` on the Lua side).
    pub content_length: off_t,
    pub location: *const u8,
    pub location_len: usize,
    /// 0, or the length of the `Last-Modified` value written to the
    /// caller's buffer.
    pub last_modified_len: usize,
}

/// Whether the running code may capture: `FFI_OK`, or the error text.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_subreq_check(err: *mut u8, errlen: *mut usize) -> c_int {
    guard(FFI_ERROR, || {
        // SAFETY: the caller's error buffer size.
        let size = unsafe { *errlen };
        match unsafe { request_in(CAPTURE_PHASES, err, errlen) } {
            Ok(_) => FFI_OK,
            Err(FFI_NO_REQ) => {
                // Upstream's wording for this API.
                // SAFETY: the caller's error buffer, reset to its size.
                unsafe {
                    *errlen = size;
                    set_err(err, errlen, b"no request object found");
                }
                FFI_ERROR
            }
            Err(rc) => rc,
        }
    })
}

/// Key/value pairs of `2 * n` strings.
unsafe fn pairs<'a>(p: *const FfiStr, n: c_int) -> Vec<(&'a [u8], &'a [u8])> {
    // SAFETY: the Lua side passes 2 * n strings that outlive the call.
    unsafe {
        (0..n.max(0) as usize)
            .map(|i| {
                let (k, v) = (&*p.add(2 * i), &*p.add(2 * i + 1));
                (bytes(k.data, k.len), bytes(v.data, v.len))
            })
            .collect()
    }
}

/// Starts the `n` subrequests of a capture. `FFI_AGAIN`: the calling
/// thread must yield; it is resumed once all of them have ended.
/// `FFI_ERROR` with the text to raise; subrequests created before the
/// failure still run (as upstream), but nobody waits for them.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_subreq_capture(
    specs: *mut SubreqSpec,
    n: c_int,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let ctx = request_in!(CAPTURE_PHASES, err, errlen);
        let fail = |msg: &[u8]| {
            // SAFETY: the caller's error buffer.
            unsafe { set_err(err, errlen, msg) };
            FFI_ERROR
        };
        // SAFETY: CURRENT.co is the running scheduled thread.
        let Some(t) = (unsafe { current().co.as_mut() }) else {
            return fail(b"no co ctx found");
        };
        if n <= 0 {
            return fail(b"at least one subrequest should be specified");
        }
        let r = ctx.r;
        // SAFETY: live request; the group lives in its pool.
        let Some(g) = (unsafe { Group::create(r, ctx, n as usize) }) else {
            return fail(b"no memory");
        };
        for i in 0..n as usize {
            // SAFETY: specs holds n entries whose strings outlive the call.
            let s = unsafe { &mut *specs.add(i) };
            let spec = Spec {
                uri: lua_bytes!(s.uri, s.uri_len),
                args: lua_bytes!(s.args, s.args_len),
                method: s.method.max(0) as ngx_uint_t,
                body: (s.flags & HAS_BODY != 0).then(|| lua_bytes!(s.body, s.body_len)),
                share_all_vars: s.flags & SHARE_ALL_VARS != 0,
                copy_all_vars: s.flags & COPY_ALL_VARS != 0,
                always_forward_body: s.flags & ALWAYS_FORWARD_BODY != 0,
                // SAFETY: as above.
                vars: unsafe { pairs(s.vars, s.nvars) },
                headers: unsafe { pairs(s.headers, s.nheaders) },
            };
            // SAFETY: g is alive (request pool); r is the running request.
            let sr = match unsafe { subrequest::issue(r, &spec, &mut (&mut *g).subs[i]) } {
                Ok(sr) => sr,
                Err(msg) => return fail(msg.as_bytes()),
            };
            // SAFETY: as above.
            unsafe { (*g).pending += 1 };
            if s.flags & WANTS_CTX != 0 {
                // SAFETY: sr is a live request of the same configuration.
                match unsafe { RequestCtx::get_or_create(sr) } {
                    Some(sctx) => {
                        if sctx.ctx_ref <= 0 {
                            sctx.ctx_ref = sctx.vm().ctx_ref_new();
                        }
                        s.ctx_ref = sctx.ctx_ref;
                    }
                    None => return fail(b"no memory"),
                }
            }
        }
        // SAFETY: as above.
        unsafe { (*g).counted = true };
        ctx.phases.pending_captures += 1;
        t.wait_on(g as *mut core::ffi::c_void, subrequest::cancel_capture);
        FFI_AGAIN
    })
}

/// The capture of the running thread whose results are ready.
fn ready_group() -> Option<&'static mut Group> {
    // SAFETY: CURRENT.co is the running thread; its group lives in the
    // request pool.
    unsafe {
        let t = current().co.as_mut()?;
        let g = (t.waiting_on(subrequest::cancel_capture)? as *mut Group).as_mut()?;
        (g.pending == 0).then_some(g)
    }
}

/// The response of subrequest `i` (0-based) of the capture the running
/// thread was woken for. `lm_buf` receives `Last-Modified` when nginx only
/// has it as a time (29 bytes).
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_subreq_result(
    i: c_int,
    out: *mut SubreqResult,
    lm_buf: *mut u8,
) -> c_int {
    guard(FFI_ERROR, || {
        let Some(g) = ready_group() else {
            return FFI_ERROR;
        };
        let Some(s) = g.subs.get(i.max(0) as usize) else {
            return FFI_ERROR;
        };
        let sr = s.sr;
        if sr.is_null() {
            return FFI_ERROR;
        }
        // SAFETY: the subrequest lives in the request pool; out and lm_buf
        // are the Lua side's.
        unsafe {
            let ho = &(*sr).headers_out;
            let mut nheaders = 0;
            for_each_elt(&ho.headers as *const _ as *mut _, |h| {
                if (*h).hash != 0 {
                    nheaders += 1;
                }
            });
            let (location, location_len) = match ho.location.as_ref() {
                Some(l) if l.value.len > 0 => (l.value.data as *const u8, l.value.len),
                _ => (ptr::null(), 0),
            };
            // A time nginx has not turned into a header yet (static files);
            // only statuses that may carry one keep it.
            let mut lm_time = ho.last_modified_time;
            let ok_status = [200, 206, 304, 204].contains(&ho.status);
            if lm_time != -1 && !ok_status {
                lm_time = -1;
            }
            let last_modified_len = if lm_time != -1 && ho.last_modified.is_null() {
                ngx_http_time(lm_buf, lm_time).offset_from(lm_buf) as usize
            } else {
                0
            };
            *out = SubreqResult {
                status: s.status as c_int,
                truncated: s.truncated as c_int,
                body: s.body.as_ptr(),
                body_len: s.body.len(),
                nheaders,
                content_type: ho.content_type.data,
                content_type_len: ho.content_type.len,
                content_length: if ho.content_length.is_null() {
                    ho.content_length_n
                } else {
                    -1
                },
                location,
                location_len,
                last_modified_len,
            };
        }
        FFI_OK
    })
}

/// Fills `out` with up to `max` response headers of subrequest `i`, in
/// order; returns how many.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_subreq_headers(
    i: c_int,
    out: *mut FfiKv,
    max: c_int,
) -> c_int {
    guard(FFI_ERROR, || {
        let Some(g) = ready_group() else {
            return FFI_ERROR;
        };
        let Some(s) = g.subs.get(i.max(0) as usize) else {
            return FFI_ERROR;
        };
        if s.sr.is_null() {
            return FFI_ERROR;
        }
        let mut n = 0usize;
        // SAFETY: as in ngx_lua_ffi_subreq_result; out holds max entries.
        unsafe {
            for_each_elt(&mut (*s.sr).headers_out.headers, |h| {
                if (*h).hash == 0 || n >= max.max(0) as usize {
                    return;
                }
                *out.add(n) =
                    FfiKv::new((*h).key.data, (*h).key.len, (*h).value.data, (*h).value.len);
                n += 1;
            });
        }
        n as c_int
    })
}

/// The thread has its results: free the captured bodies.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_subreq_finish() -> c_int {
    guard(FFI_ERROR, || {
        // SAFETY: as in ready_group.
        let Some(t) = (unsafe { current().co.as_mut() }) else {
            return FFI_ERROR;
        };
        if let Some(g) = t.waiting_on(subrequest::cancel_capture) {
            // SAFETY: the group lives in the request pool.
            unsafe { (*(g as *mut Group)).release_bodies() };
            t.wait = None;
        }
        FFI_OK
    })
}

//! ngx.location.capture / capture_multi: start the subrequests of a
//! capture (the Lua side has checked and encoded the options), then hand
//! their captured responses to the woken thread.
use core::ffi::c_int;

use nginx_sys::*;

use super::*;
use crate::nginx::subrequest as sub;
use crate::subrequest::{self, Group, Spec};

/// Upstream refuses captures in `server_rewrite_by_lua*` and
/// `precontent_by_lua*` too.
const CAPTURE_PHASES: u32 = Phase::Rewrite.bit() | Phase::Access.bit() | Phase::Content.bit();

const SHARE_ALL_VARS: c_int = 1;
const COPY_ALL_VARS: c_int = 2;
const ALWAYS_FORWARD_BODY: c_int = 4;
const HAS_BODY: c_int = 8;
const WANTS_CTX: c_int = 16;

/// The size of the Lua side's `Last-Modified` buffer (`lm_buf`).
const LM_BUF: usize = 32;

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

export! {
    /// Whether the running code may capture: `FFI_OK`, or the error text.
    fn ngx_lua_ffi_subreq_check(err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        let phase = current().phase;
        if phase.worker_hook() {
            // Upstream runs these on a fake request: the context refusal.
            err.set(disabled(phase).as_bytes());
            return FFI_ERROR;
        }
        if current().lua_ctx().is_none() {
            // Upstream's wording for this API.
            err.set(b"no request object found");
            return FFI_ERROR;
        }
        match running_in_context(CAPTURE_PHASES, &mut err) {
            Ok(_) => FFI_OK,
            Err(rc) => rc,
        }
    }
}

/// Key/value pairs of `2 * n` strings.
fn pairs<'a>(p: *const FfiStr, n: c_int) -> Vec<(&'a [u8], &'a [u8])> {
    lua_slice!(p, 2 * n.max(0) as usize)
        .chunks_exact(2)
        .map(|kv| {
            (
                lua_bytes!(kv[0].data, kv[0].len),
                lua_bytes!(kv[1].data, kv[1].len),
            )
        })
        .collect()
}

export! {
    /// Starts the `n` subrequests of a capture. `FFI_AGAIN`: the calling
    /// thread must yield; it is resumed once all of them have ended.
    /// `FFI_ERROR` with the text to raise; subrequests created before the
    /// failure still run (as upstream), but nobody waits for them.
    fn ngx_lua_ffi_subreq_capture(
        specs: *mut SubreqSpec,
        n: c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let ctx = running!(context: CAPTURE_PHASES, err);
        let Some(t) = current().thread() else {
            err.set(b"no co ctx found");
            return FFI_ERROR;
        };
        if n <= 0 {
            err.set(b"at least one subrequest should be specified");
            return FFI_ERROR;
        }
        let r = ctx.req();
        let Some(g) = Group::create(r, &mut *ctx, n as usize) else {
            err.set(b"no memory");
            return FFI_ERROR;
        };
        for (s, sub) in lua_buf!(specs, n as usize).iter_mut().zip(g.subs.iter_mut()) {
            let spec = Spec {
                uri: lua_bytes!(s.uri, s.uri_len),
                args: lua_bytes!(s.args, s.args_len),
                method: s.method.max(0) as ngx_uint_t,
                body: (s.flags & HAS_BODY != 0).then(|| lua_bytes!(s.body, s.body_len)),
                share_all_vars: s.flags & SHARE_ALL_VARS != 0,
                copy_all_vars: s.flags & COPY_ALL_VARS != 0,
                always_forward_body: s.flags & ALWAYS_FORWARD_BODY != 0,
                vars: pairs(s.vars, s.nvars),
                headers: pairs(s.headers, s.nheaders),
            };
            let sr = match subrequest::issue(r, &spec, sub) {
                Ok(sr) => sr,
                Err(msg) => {
                    err.set(msg.as_bytes());
                    return FFI_ERROR;
                }
            };
            g.pending += 1;
            if s.flags & WANTS_CTX != 0 {
                let Some(slot) = subrequest::ctx_slot(sr) else {
                    err.set(b"no memory");
                    return FFI_ERROR;
                };
                s.ctx_ref = slot;
            }
        }
        g.counted = true;
        ctx.phases.pending_captures += 1;
        g.wait(t);
        FFI_AGAIN
    }
}

/// The capture of the running thread whose results are ready.
fn ready_group() -> Option<&'static mut Group> {
    Group::waited_by(current().thread()?).filter(|g| g.pending == 0)
}

export! {
    /// The response of subrequest `i` (0-based) of the capture the running
    /// thread was woken for. `lm_buf` receives `Last-Modified` when nginx
    /// only has it as a time (29 bytes).
    fn ngx_lua_ffi_subreq_result(i: c_int, out: *mut SubreqResult, lm_buf: *mut u8) -> c_int {
        let Some(g) = ready_group() else {
            return FFI_ERROR;
        };
        let Some(s) = g.subs.get(i.max(0) as usize) else {
            return FFI_ERROR;
        };
        let Some(sr) = s.sr else {
            return FFI_ERROR;
        };
        let meta = sub::response_meta(&sr);
        let mut nheaders = 0;
        sub::response_headers(&sr, |_, _| nheaders += 1);
        // A time nginx has not turned into a header yet (static files);
        // only statuses that may carry one keep it.
        let ok_status = [200, 206, 304, 204].contains(&meta.status);
        let last_modified_len = if meta.last_modified_time != -1 && ok_status {
            let mut text = [0u8; crate::nginx::time::HTTP_TIME_MAX];
            let n = crate::nginx::time::http_time(meta.last_modified_time, false, &mut text);
            let buf = lua_buf!(lm_buf, LM_BUF);
            let n = n.min(buf.len());
            buf[..n].copy_from_slice(&text[..n]);
            n
        } else {
            0
        };
        out!(
            out,
            SubreqResult {
                status: s.status as c_int,
                truncated: s.truncated as c_int,
                body: s.body.as_ptr(),
                body_len: s.body.len(),
                nheaders,
                content_type: meta.content_type.as_ptr(),
                content_type_len: meta.content_type.len(),
                content_length: meta.content_length,
                location: meta.location.as_ptr(),
                location_len: meta.location.len(),
                last_modified_len,
            }
        );
        FFI_OK
    }
}

export! {
    /// Fills `out` with up to `max` response headers of subrequest `i`, in
    /// order; returns how many.
    fn ngx_lua_ffi_subreq_headers(i: c_int, out: *mut FfiKv, max: c_int) -> c_int {
        let Some(g) = ready_group() else {
            return FFI_ERROR;
        };
        let Some(sr) = g.subs.get(i.max(0) as usize).and_then(|s| s.sr) else {
            return FFI_ERROR;
        };
        let out = lua_buf!(out, max.max(0) as usize);
        let mut n = 0usize;
        sub::response_headers(&sr, |k, v| {
            if let Some(slot) = out.get_mut(n) {
                *slot = FfiKv::new(k.as_ptr(), k.len(), v.as_ptr(), v.len());
                n += 1;
            }
        });
        n as c_int
    }
}

export! {
    /// The thread has its results: free the captured bodies.
    fn ngx_lua_ffi_subreq_finish() -> c_int {
        let Some(t) = current().thread() else {
            return FFI_ERROR;
        };
        if let Some(g) = Group::waited_by(t) {
            g.release_bodies();
            t.wait = None;
        }
        FFI_OK
    }
}

//! ngx.req request body: read_body (waits), discard_body, get_body_data,
//! get_body_file, get_post_args. Replacing it: `body_set.rs`.
use core::ffi::c_int;
use core::ptr;

use nginx_sys::*;

use super::parse_args_into;
use crate::ffi::*;

const READ_PHASES: u32 = crate::lua::phase::HANDLER_PHASES;

/// Called by nginx once the whole body is read; resumes a waiting
/// `ngx.req.read_body`.
unsafe extern "C" fn body_read(r: *mut ngx_http_request_t) {
    // SAFETY: nginx calls the post handler with the live request; its ctx
    // (if any) is alive until the request pool goes.
    unsafe {
        let Some(ctx) = RequestCtx::get(r) else {
            return;
        };
        if !ctx.body.reading {
            return;
        }
        ctx.body.reading = false;
        ctx.waiting = false;
        let c = (*r).connection;
        crate::lua::sched::resume_entry(ctx);
        ngx_http_run_posted_requests(c);
    }
}

/// `ngx.req.read_body()`: `FFI_OK` when the body is there (or there is
/// none), `FFI_AGAIN` when the Lua side must yield until it is read,
/// `FFI_DONE` when reading failed with an HTTP status the handler ends
/// with (413, 400, ...).
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_req_read_body(err: *mut u8, errlen: *mut usize) -> c_int {
    guard(FFI_ERROR, || {
        let ctx = request_in!(READ_PHASES, err, errlen);
        let r = ctx.r;
        // SAFETY: live request; nginx's documented body API.
        unsafe {
            if r != (*r).main || !(*r).request_body.is_null() || (*r).discard_body() != 0 {
                return FFI_OK;
            }
            (*r).set_request_body_in_single_buf(1);
            (*r).set_request_body_in_persistent_file(1);
            (*r).set_request_body_in_clean_file(1);
            let rc = ngx_http_read_client_request_body(r, Some(body_read));
            if rc >= NGX_HTTP_SPECIAL_RESPONSE as ngx_int_t {
                ctx.exit_code = Some(rc as isize);
                return FFI_DONE;
            }
            // nginx took a reference for the read; the handler's own
            // suspension keeps the request alive instead.
            (*(*r).main).set_count((*(*r).main).count() - 1);
            if rc == NGX_AGAIN as ngx_int_t {
                ctx.body.reading = true;
                ctx.waiting = true;
                return FFI_AGAIN;
            }
            if rc != NGX_OK as ngx_int_t {
                set_err(err, errlen, b"failed to read request body");
                return FFI_ERROR;
            }
        }
        FFI_OK
    })
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_req_discard_body(err: *mut u8, errlen: *mut usize) -> c_int {
    guard(FFI_ERROR, || {
        let ctx = request_in!(READ_PHASES, err, errlen);
        // SAFETY: live request.
        if unsafe { ngx_http_discard_request_body(ctx.r) } != NGX_OK as ngx_int_t {
            // SAFETY: the caller's error buffer.
            unsafe { set_err(err, errlen, b"failed to discard request body") };
            return FFI_ERROR;
        }
        FFI_OK
    })
}

/// The in-memory body: total length, or `None` when there is no (or an
/// empty) body or part of it is in a temp file.
unsafe fn body_len(r: *mut ngx_http_request_t) -> Option<usize> {
    // SAFETY: live request; the body chain belongs to it.
    unsafe {
        let rb = (*r).request_body;
        if rb.is_null()
            || (*rb).bufs.is_null()
            || !(*rb).temp_file.is_null()
            || (*r).discard_body() != 0
        {
            return None;
        }
        let mut n = 0usize;
        let mut cl = (*rb).bufs;
        while !cl.is_null() {
            let b = (*cl).buf;
            if (*b).in_file() != 0 && (*b).memory() == 0 && (*b).temporary() == 0 {
                return None;
            }
            n += (*b).last.offset_from((*b).pos) as usize;
            cl = (*cl).next;
        }
        // An empty body reads as nil, as upstream.
        (n > 0).then_some(n)
    }
}

unsafe fn copy_body(r: *mut ngx_http_request_t, buf: *mut u8, size: usize) -> usize {
    // SAFETY: see body_len; buf holds size bytes.
    unsafe {
        let mut n = 0usize;
        let mut cl = (*(*r).request_body).bufs;
        while !cl.is_null() {
            let b = (*cl).buf;
            let len = ((*b).last.offset_from((*b).pos) as usize).min(size - n);
            ptr::copy_nonoverlapping((*b).pos, buf.add(n), len);
            n += len;
            cl = (*cl).next;
        }
        n
    }
}

/// Reading or replacing the body is not tied to a phase upstream (only
/// timers, which have no client, are refused).
pub(super) const DATA_PHASES: u32 = REQUEST_PHASES;

/// Length of `ngx.req.get_body_data()`, `FFI_DECLINED` for nil.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_req_get_body_len(err: *mut u8, errlen: *mut usize) -> c_int {
    guard(FFI_ERROR, || {
        let ctx = request_in!(DATA_PHASES, err, errlen);
        // SAFETY: live request.
        match unsafe { body_len(ctx.r) } {
            Some(n) => n as c_int,
            None => FFI_DECLINED,
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_req_copy_body(
    buf: *mut u8,
    size: usize,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let ctx = request_in!(DATA_PHASES, err, errlen);
        // SAFETY: live request; buf holds size bytes.
        unsafe {
            if body_len(ctx.r).is_none() {
                return FFI_DECLINED;
            }
            copy_body(ctx.r, buf, size) as c_int
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_req_get_body_file(
    name: *mut *const u8,
    len: *mut usize,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let ctx = request_in!(DATA_PHASES, err, errlen);
        // SAFETY: live request; the temp file name lives in its pool.
        unsafe {
            let rb = (*ctx.r).request_body;
            if rb.is_null() || (*rb).temp_file.is_null() {
                return FFI_DECLINED;
            }
            let f = &(*(*rb).temp_file).file.name;
            *name = f.data;
            *len = f.len;
        }
        FFI_OK
    })
}

const POST_ARGS_PHASES: u32 =
    READ_PHASES | Phase::HeaderFilter.bit() | Phase::BodyFilter.bit() | Phase::Log.bit();

/// Length of the form body `ngx.req.get_post_args` parses (0 for none);
/// `FFI_DECLINED` with the reason when the body is in a temp file (a
/// `nil, err` result, as upstream).
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_req_get_post_args_len(
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let ctx = request_in!(POST_ARGS_PHASES, err, errlen);
        let r = ctx.r;
        // SAFETY: live request.
        unsafe {
            if (*r).discard_body() != 0 {
                return 0;
            }
            let rb = (*r).request_body;
            if rb.is_null() {
                set_err(
                    err,
                    errlen,
                    b"no request body found; maybe you should turn on lua_need_request_body?",
                );
                return FFI_ERROR;
            }
            if !(*rb).temp_file.is_null() {
                set_err(err, errlen, b"request body in temp file not supported");
                return FFI_DECLINED;
            }
            body_len(r).unwrap_or(0) as c_int
        }
    })
}

/// Parses the body (copied into `buf`, sized by the call above) into
/// `out`.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_req_get_post_args(
    buf: *mut u8,
    size: usize,
    out: *mut FfiKv,
    max: c_int,
    truncated: *mut c_int,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let ctx = request_in!(POST_ARGS_PHASES, err, errlen);
        // SAFETY: live request; buf holds size bytes.
        unsafe {
            let n = copy_body(ctx.r, buf, size);
            let (n, cut) = parse_args_into(
                core::slice::from_raw_parts_mut(buf, n),
                core::slice::from_raw_parts_mut(out, size + 1),
                max,
            );
            *truncated = cut as c_int;
            n
        }
    })
}

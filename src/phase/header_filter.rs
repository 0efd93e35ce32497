//! `header_filter_by_lua*`.
use nginx_sys::*;

use crate::conf::loc_conf;
use crate::http::RequestCtx;
use crate::lua::sched;
use crate::lua::Global;
use crate::nginx::log::log_error;

static NEXT: Global<ngx_http_output_header_filter_pt> = Global::new(None);

/// Puts our filter at the top of the header filter chain.
pub fn install() {
    // SAFETY: called from postconfiguration, when filter chains are built.
    unsafe {
        NEXT.set(ngx_http_top_header_filter);
        ngx_http_top_header_filter = Some(filter);
    }
}

unsafe fn next(r: *mut ngx_http_request_t) -> ngx_int_t {
    match NEXT.get() {
        // SAFETY: the saved next filter of the chain.
        Some(f) => unsafe { f(r) },
        None => NGX_OK as ngx_int_t,
    }
}

unsafe extern "C" fn filter(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: filters get a live request.
    unsafe {
        let lcf = loc_conf(r);
        if lcf.body_filter.is_some() {
            // The body filter must see buffers in memory. Content-Length
            // stays: upstream leaves it to the user to clear it (in a
            // header filter) when the body filter changes the length, and
            // keeping it saves the chunked framing and its extra write.
            (*r).set_filter_need_in_memory(1);
        }
        let Some(h) = lcf.header_filter.clone() else {
            return next(r);
        };
        let Some(ctx) = RequestCtx::get_or_create(r) else {
            return next(r);
        };
        let saved = ctx.exit_code.take();
        let L = ctx.vm().state();
        let res = sched::run_sync(&mut ctx.lua, L, &h, lcf.code_cache());
        let exit = core::mem::replace(&mut ctx.exit_code, saved);
        if let Err(e) = res {
            log_error(
                NGX_LOG_ERR,
                (*(*r).connection).log,
                format!("failed to run header_filter_by_lua*: {e}").as_bytes(),
            );
            return NGX_ERROR as ngx_int_t;
        }
        // The special response of a header-filter ngx.exit passes through
        // this filter again; the same exit then lets it through.
        if let Some(code) = exit.filter(|&c| Some(c) != ctx.phases.header_filter_exit) {
            ctx.phases.header_filter_exit = Some(code);
            if code == NGX_ERROR as isize {
                return NGX_ERROR as ngx_int_t;
            }
            let rc = ngx_http_filter_finalize_request(r, crate::nginx::module::as_ptr(), code);
            if rc == NGX_ERROR as isize || rc == NGX_AGAIN as isize {
                return rc;
            }
            return NGX_OK as ngx_int_t;
        }
        next(r)
    }
}

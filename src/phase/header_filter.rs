//! `header_filter_by_lua*`.
use nginx_sys::{ngx_http_request_t, ngx_int_t, NGX_LOG_ERR};

use crate::conf::LocConf;
use crate::http::RequestCtx;
use crate::nginx::filter::NextHeaderFilter;
use crate::nginx::panic::guard;
use crate::nginx::request::{Rc, Request, AGAIN, ERROR, OK};

static NEXT: NextHeaderFilter = NextHeaderFilter::new();

/// Puts our filter at the top of the header filter chain.
pub fn install() {
    NEXT.install(filter);
}

unsafe extern "C" fn filter(r: *mut ngx_http_request_t) -> ngx_int_t {
    guard(ERROR, || {
        // SAFETY: nginx calls header filters with a live request.
        match unsafe { Request::from_raw(r) } {
            Some(r) => header_filter(r),
            None => ERROR,
        }
    })
}

#[inline]
fn header_filter(r: Request) -> Rc {
    r.trace_hook("header filter for user lua code", false);
    let lcf = LocConf::of(r);
    if lcf.body_filter.is_some() {
        // The body filter must see buffers in memory. Content-Length stays:
        // upstream leaves it to the user to clear it (in a header filter)
        // when the body filter changes the length, and keeping it saves the
        // chunked framing and its extra write.
        r.set_filter_need_in_memory();
    }
    let Some(h) = lcf.header_filter.clone() else {
        return NEXT.call(r);
    };
    let Some(ctx) = RequestCtx::of_or_create(r) else {
        return NEXT.call(r);
    };
    let saved = ctx.exit_code.take();
    let res = ctx.run_sync(&h, lcf.code_cache());
    let exit = core::mem::replace(&mut ctx.exit_code, saved);
    if let Err(e) = res {
        r.log_error(
            NGX_LOG_ERR,
            format!("failed to run header_filter_by_lua*: {e}").as_bytes(),
        );
        return ERROR;
    }
    // The special response of a header-filter ngx.exit passes through this
    // filter again; the same exit then lets it through.
    if let Some(code) = exit.filter(|&c| Some(c) != ctx.phases.header_filter_exit) {
        ctx.phases.header_filter_exit = Some(code);
        if code == ERROR {
            return ERROR;
        }
        let rc = r.filter_finalize(code);
        if rc == ERROR || rc == AGAIN {
            return rc;
        }
        return OK;
    }
    NEXT.call(r)
}

//! `ngx.flush(true)`: suspend the handler until nginx wrote out everything
//! it buffered for the client.
use nginx_sys::*;

use crate::http::RequestCtx;
use crate::nginx::log;

/// `send_lowat` is `size_t` or `ssize_t` depending on the nginx version.
#[allow(clippy::unnecessary_cast)]
fn send_lowat(clcf: *mut ngx_http_core_loc_conf_t) -> usize {
    // SAFETY: a live location conf.
    unsafe { (*clcf).send_lowat as usize }
}

fn clcf(r: *mut ngx_http_request_t) -> *mut ngx_http_core_loc_conf_t {
    // SAFETY: every request carries the core module's loc conf.
    unsafe { *(*r).loc_conf.add(ngx_http_core_module.ctx_index) as *mut ngx_http_core_loc_conf_t }
}

/// Arms the wait if the connection still holds unsent data; returns
/// whether the caller must yield.
pub fn arm_wait(ctx: &mut RequestCtx) -> bool {
    let r = ctx.r;
    // SAFETY: live request and connection; the write event belongs to the
    // connection and our handler only runs while the request is alive
    // (nginx resets it when the request ends).
    unsafe {
        let c = (*r).connection;
        if (*c).buffered() == 0 {
            return false;
        }
        let wev = (*c).write;
        let clcf = clcf(r);
        if (*wev).ready() == 0 && (*wev).timer_set() == 0 {
            ngx_add_timer(wev, (*clcf).send_timeout);
        }
        if ngx_handle_write_event(wev, send_lowat(clcf)) != NGX_OK as isize {
            return false;
        }
        log::log_error(
            NGX_LOG_DEBUG,
            (*c).log,
            b"lua flush: waiting for the send buffer to drain",
        );
        (*r).write_event_handler = Some(write_handler);
        ctx.output.flush_error = None;
        ctx.waiting = true;
        true
    }
}

unsafe extern "C" fn write_handler(r: *mut ngx_http_request_t) {
    // SAFETY: nginx calls the request's write handler with a live request;
    // the ctx exists because arm_wait installed this handler.
    unsafe {
        let Some(ctx) = RequestCtx::get(r) else {
            return;
        };
        if ctx.event_waiter.is_null() {
            return;
        }
        let c = (*r).connection;
        let wev = (*c).write;
        if (*wev).timedout() != 0 {
            (*wev).set_timedout(0);
            (*c).set_timedout(1);
            ctx.output.flush_error = Some(c"timeout");
        } else {
            let rc = ngx_http_output_filter(r, core::ptr::null_mut());
            if rc == NGX_ERROR as isize {
                ctx.output.flush_error = Some(c"nginx output filter error");
            } else if (*c).buffered() != 0 {
                let clcf = clcf(r);
                if (*wev).ready() == 0 && (*wev).timer_set() == 0 {
                    ngx_add_timer(wev, (*clcf).send_timeout);
                }
                if ngx_handle_write_event(wev, send_lowat(clcf)) != NGX_OK as isize {
                    ctx.output.flush_error = Some(c"nginx output filter error");
                } else {
                    return;
                }
            }
        }
        if (*wev).timer_set() != 0 {
            ngx_del_timer(wev);
        }
        (*r).write_event_handler = Some(ngx_http_request_empty_handler);
        crate::lua::sched::resume_entry(ctx);
    }
}

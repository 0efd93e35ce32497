//! `ngx.flush(true)`: suspend the handler until nginx wrote out everything
//! it buffered for the client.
use nginx_sys::{ngx_http_request_t, NGX_LOG_DEBUG};

use crate::http::RequestCtx;
use crate::nginx::panic::guard;
use crate::nginx::request::{Request, ERROR};

/// Arms the wait if the connection still holds unsent data; returns
/// whether the caller must yield.
pub fn arm_wait(ctx: &mut RequestCtx) -> bool {
    let r = ctx.req();
    if !r.client_buffered() || !r.wait_writable() {
        return false;
    }
    if r.logs(NGX_LOG_DEBUG) {
        let (buffered, delayed) = r.write_state();
        r.log_error(
            NGX_LOG_DEBUG,
            format!(
                "lua flush requires waiting: buffered 0x{buffered:x}, delayed:{}",
                delayed as u8
            )
            .as_bytes(),
        );
    }
    // Our handler only runs while the request is alive: nginx replaces it
    // when the request ends.
    r.set_write_handler(Some(write_handler));
    ctx.output.flush_error = None;
    ctx.waiting = true;
    true
}

unsafe extern "C" fn write_handler(r: *mut ngx_http_request_t) {
    guard((), || {
        // SAFETY: nginx calls the request's write handler with a live
        // request.
        if let Some(r) = unsafe { Request::from_raw(r) } {
            on_writable(r);
        }
    })
}

fn on_writable(r: Request) {
    // The ctx exists: arm_wait installed this handler.
    let Some(ctx) = RequestCtx::of(r) else {
        return;
    };
    if ctx.event_waiter.is_null() {
        return;
    }
    if r.take_write_timeout() {
        ctx.output.flush_error = Some(c"timeout");
    } else if r.output_filter(None) == ERROR {
        ctx.output.flush_error = Some(c"nginx output filter error");
    } else if r.client_buffered() {
        if r.wait_writable() {
            return;
        }
        ctx.output.flush_error = Some(c"nginx output filter error");
    }
    r.stop_write_timer();
    r.ignore_write_events();
    crate::lua::sched::resume_entry(ctx);
}

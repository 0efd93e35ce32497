//! `body_filter_by_lua*`: `ngx.arg[1]` is the chunk, `ngx.arg[2]` eof.
use nginx_sys::*;

use crate::conf::loc_conf;
use crate::http::RequestCtx;
use crate::lua::sched;
use crate::lua::Global;
use crate::nginx::log::log_error;

static NEXT: Global<ngx_http_output_body_filter_pt> = Global::new(None);

/// Puts our filter at the top of the body filter chain.
pub fn install() {
    // SAFETY: called from postconfiguration, when filter chains are built.
    unsafe {
        NEXT.set(ngx_http_top_body_filter);
        ngx_http_top_body_filter = Some(filter);
    }
}

unsafe fn next(r: *mut ngx_http_request_t, cl: *mut ngx_chain_t) -> ngx_int_t {
    match NEXT.get() {
        // SAFETY: the saved next filter of the chain.
        Some(f) => unsafe { f(r, cl) },
        None => NGX_OK as ngx_int_t,
    }
}

/// Marks every buffer of `cl` consumed, so its owner may reuse it.
unsafe fn consume(mut cl: *mut ngx_chain_t) {
    // SAFETY: a valid chain of valid buffers.
    unsafe {
        while !cl.is_null() {
            let b = (*cl).buf;
            (*b).pos = (*b).last;
            if (*b).in_file() != 0 {
                (*b).file_pos = (*b).file_last;
            }
            cl = (*cl).next;
        }
    }
}

unsafe extern "C" fn filter(r: *mut ngx_http_request_t, input: *mut ngx_chain_t) -> ngx_int_t {
    // SAFETY: filters get a live request and a valid chain.
    unsafe {
        let lcf = loc_conf(r);
        let Some(h) = lcf.body_filter.clone() else {
            return next(r, input);
        };
        if input.is_null() {
            return next(r, input);
        }
        let Some(ctx) = RequestCtx::get_or_create(r) else {
            return next(r, input);
        };
        if ctx.arg.done {
            consume(input);
            return NGX_OK as ngx_int_t;
        }
        ctx.arg.chunk.clear();
        let mut eof = false;
        let mut flush = false;
        let mut cl = input;
        while !cl.is_null() {
            let b = (*cl).buf;
            if (*b).in_file() == 0 && !(*b).pos.is_null() && (*b).last > (*b).pos {
                let n = (*b).last.offset_from((*b).pos) as usize;
                ctx.arg
                    .chunk
                    .extend_from_slice(core::slice::from_raw_parts((*b).pos, n));
            }
            if (*b).last_buf() != 0 || (*b).last_in_chain() != 0 {
                eof = true;
            }
            if (*b).flush() != 0 {
                flush = true;
            }
            cl = (*cl).next;
        }
        ctx.arg.eof = eof;
        ctx.arg.chunk_set = false;
        ctx.arg.eof_set = false;
        let L = ctx.vm().state();
        let saved = ctx.exit_code.take();
        let res = sched::run_sync(&mut ctx.lua, L, &h, lcf.code_cache());
        ctx.exit_code = saved;
        if let Err(e) = res {
            log_error(
                NGX_LOG_ERR,
                (*(*r).connection).log,
                format!("failed to run body_filter_by_lua*: {e}").as_bytes(),
            );
            return NGX_ERROR as ngx_int_t;
        }
        if !ctx.arg.chunk_set && !ctx.arg.eof_set {
            return next(r, input);
        }
        let new_eof = ctx.arg.eof;
        if ctx.arg.eof_set && new_eof {
            ctx.arg.done = true;
        }
        consume(input);
        let len = ctx.arg.chunk.len();
        if len == 0 && !new_eof && !flush {
            return NGX_OK as ngx_int_t;
        }
        // Data goes into a reusable output buffer (see output::get_buf);
        // an empty special buffer (flush, last) holds no memory.
        let out = if len == 0 {
            let b = ngx_pcalloc((*r).pool, core::mem::size_of::<ngx_buf_t>()) as *mut ngx_buf_t;
            let out = ngx_alloc_chain_link((*r).pool);
            if !out.is_null() {
                (*out).buf = b;
            }
            out
        } else {
            let out = super::output::get_buf(ctx, len);
            if !out.is_null() {
                let b = (*out).buf;
                core::ptr::copy_nonoverlapping(ctx.arg.chunk.as_ptr(), (*b).last, len);
                (*b).last = (*b).last.add(len);
            }
            out
        };
        if out.is_null() || (*out).buf.is_null() {
            return NGX_ERROR as ngx_int_t;
        }
        let b = (*out).buf;
        if new_eof {
            if (*r).main == r {
                (*b).set_last_buf(1);
            } else {
                (*b).set_last_in_chain(1);
            }
        }
        if flush {
            (*b).set_flush(1);
        }
        if len == 0 && !new_eof {
            (*b).set_sync(1);
        }
        (*out).next = core::ptr::null_mut();
        let rc = next(r, out);
        if len > 0 && rc != NGX_ERROR as ngx_int_t {
            super::output::update_chains(ctx, out);
        }
        rc
    }
}

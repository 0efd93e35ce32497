//! `body_filter_by_lua*`: `ngx.arg[1]` is the chunk, `ngx.arg[2]` eof.
use nginx_sys::{ngx_chain_t, ngx_http_request_t, ngx_int_t, NGX_LOG_ERR};

use crate::conf::LocConf;
use crate::http::RequestCtx;
use crate::nginx::chain::Chain;
use crate::nginx::filter::NextBodyFilter;
use crate::nginx::panic::guard;
use crate::nginx::request::{Rc, Request, ERROR, OK};

static NEXT: NextBodyFilter = NextBodyFilter::new();

/// Puts our filter at the top of the body filter chain.
pub fn install() {
    NEXT.install(filter);
}

unsafe extern "C" fn filter(r: *mut ngx_http_request_t, input: *mut ngx_chain_t) -> ngx_int_t {
    guard(ERROR, || {
        // SAFETY: nginx calls body filters with a live request and a chain
        // (or null) whose links stay alive for the call.
        let (r, input) = unsafe { (Request::from_raw(r), Chain::from_raw(input)) };
        match r {
            Some(r) => body_filter(r, input),
            None => ERROR,
        }
    })
}

#[inline]
fn body_filter(r: Request, input: Option<Chain>) -> Rc {
    let lcf = LocConf::of(r);
    let Some(h) = lcf.body_filter.clone() else {
        return NEXT.call(r, input);
    };
    let Some(input) = input else {
        return NEXT.call(r, None);
    };
    let Some(ctx) = RequestCtx::of_or_create(r) else {
        return NEXT.call(r, Some(input));
    };
    if ctx.arg.done {
        input.iter().for_each(Chain::consume);
        return OK;
    }
    ctx.arg.chunk.clear();
    let mut eof = false;
    let mut flush = false;
    for cl in input.iter() {
        ctx.arg.chunk.extend_from_slice(cl.data());
        eof |= cl.is_last();
        flush |= cl.is_flush();
    }
    ctx.arg.eof = eof;
    ctx.arg.chunk_set = false;
    ctx.arg.eof_set = false;
    let saved = ctx.exit_code.take();
    let res = ctx.run_sync(&h, lcf.code_cache());
    ctx.exit_code = saved;
    if let Err(e) = res {
        r.log_error(
            NGX_LOG_ERR,
            format!("failed to run body_filter_by_lua*: {e}").as_bytes(),
        );
        return ERROR;
    }
    if !ctx.arg.chunk_set && !ctx.arg.eof_set {
        return NEXT.call(r, Some(input));
    }
    let new_eof = ctx.arg.eof;
    if ctx.arg.eof_set && new_eof {
        ctx.arg.done = true;
    }
    input.iter().for_each(Chain::consume);
    let len = ctx.arg.chunk.len();
    if len == 0 && !new_eof && !flush {
        return OK;
    }
    // Data goes into a reusable output buffer (see output::get_buf); an
    // empty special buffer (flush, last) holds no memory.
    let out = if len == 0 {
        r.special_buf()
    } else {
        super::output::get_buf(ctx, len).inspect(|out| {
            out.fill(|room| {
                let n = len.min(room.len());
                room[..n].copy_from_slice(&ctx.arg.chunk[..n]);
                n
            })
        })
    };
    let Some(out) = out else {
        return ERROR;
    };
    if new_eof {
        out.set_last(r.is_main());
    }
    if flush {
        out.set_flush();
    }
    if len == 0 && !new_eof {
        out.set_sync();
    }
    out.set_next(None);
    let rc = NEXT.call(r, Some(out));
    if len > 0 && rc != ERROR {
        super::output::update_chains(ctx, out);
    }
    rc
}

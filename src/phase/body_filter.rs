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
    r.trace_hook("body filter for user lua code", false);
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
    let mut eof = false;
    let mut flush = false;
    for cl in input.iter() {
        eof |= cl.is_last();
        flush |= cl.is_flush();
    }
    // Lua reads the chunk from the input chain itself (BodyArg::chunk).
    ctx.arg.begin(input, eof);
    let saved = ctx.exit_code.take();
    let res = ctx.run_sync(&h, lcf.code_cache());
    ctx.exit_code = saved;
    ctx.arg.end();
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
    let out = if ctx.arg.chunk_set {
        ctx.arg.out.take()
    } else {
        // Only the eof flag changed: the input's data goes out in a
        // buffer of ours with the new flags.
        match copy_input(ctx, input) {
            Ok(out) => out,
            Err(()) => return ERROR,
        }
    };
    input.iter().for_each(Chain::consume);
    let len = out.map_or(0, |o| o.data().len());
    if len == 0 && !new_eof && !flush {
        return OK;
    }
    // An empty special buffer (flush, last) holds no memory.
    let out = match out {
        Some(o) if len > 0 => Some(o),
        _ => r.special_buf(),
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

/// The input's data in a reusable output buffer (see output::get_buf);
/// `None` when there is none. `Err`: no memory.
fn copy_input(ctx: &mut RequestCtx, input: Chain) -> Result<Option<Chain>, ()> {
    let len: usize = input.iter().map(|cl| cl.data().len()).sum();
    if len == 0 {
        return Ok(None);
    }
    let out = super::output::get_buf(ctx, len).ok_or(())?;
    out.fill(|room| {
        let mut n = 0;
        for cl in input.iter() {
            let d = cl.data();
            let k = d.len().min(room.len() - n);
            room[n..n + k].copy_from_slice(&d[..k]);
            n += k;
        }
        n
    });
    Ok(Some(out))
}

/// `ngx.arg[1] = v` with the `len` bytes `write` puts in place: kept in a
/// buffer of ours until the filter passes it on. A value equal to the
/// input (`ngx.arg[1] = ngx.arg[1]`, an empty last buffer set to "")
/// changes nothing and copies nothing. False: no memory.
pub fn set_chunk(
    ctx: &mut RequestCtx,
    value: Option<&[u8]>,
    len: usize,
    write: impl FnOnce(&mut [u8]) -> usize,
) -> bool {
    if !ctx.arg.chunk_set && value.is_some_and(|v| ctx.arg.is_input(v)) {
        return true;
    }
    ctx.arg.chunk_set = true;
    ctx.arg.out = None;
    if len == 0 {
        return true;
    }
    let Some(out) = super::output::get_buf(ctx, len) else {
        return false;
    };
    out.fill(write);
    ctx.arg.out = Some(out);
    true
}

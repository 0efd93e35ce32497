//! ngx.say, ngx.print, ngx.flush, ngx.eof, ngx.send_headers.
//!
//! These are `lua_CFunction`s rather than FFI functions: sending output
//! runs the header and body filters, which may run Lua code
//! (`header_filter_by_lua*`), and LuaJIT forbids re-entering the VM from a
//! C function called through FFI. Declared with `cfunction!`: errors are
//! reported as a `Raise`, raised once the Rust body is done.
use core::ffi::{c_int, CStr};

use crate::http::RequestCtx;
use crate::lua::cfunction::{Raise, State};
use crate::lua::phase::HANDLER_PHASES;
use crate::lua::raw::lua_CFunction;
use crate::lua::sched::current;
use crate::phase::output::{self, failed};

/// The current request in an output phase, or the error to raise, at the
/// user's call site as upstream's `luaL_error` puts it: the caller of this
/// C function, or its caller's caller when lua-lib wraps it (`wrapped`).
fn output_ctx(wrapped: bool) -> Result<&'static mut RequestCtx, Raise> {
    let phase = current().phase;
    let ctx = RequestCtx::running();
    if ctx.is_none() && !phase.worker_hook() {
        return Err(Raise::Error(c"no request object found"));
    }
    if HANDLER_PHASES & phase.bit() == 0 {
        if wrapped {
            return Err(Raise::MessageUp(super::disabled(phase).into_bytes()));
        }
        return Err(Raise::DisabledHere(phase));
    }
    ctx.ok_or(Raise::Error(c"no request object found"))
}

/// The usual failure return, `nil, msg`.
fn fail(L: State, msg: &CStr) -> Result<c_int, Raise> {
    L.push_nil();
    L.push_str(msg.to_bytes());
    Ok(2)
}

/// The usual success return, 1.
fn done(L: State) -> Result<c_int, Raise> {
    L.push_int(1);
    Ok(1)
}

fn print(L: State, newline: bool) -> Result<c_int, Raise> {
    let ctx = output_ctx(false)?;
    if ctx.output.raw_socket {
        return fail(L, c"raw request socket acquired");
    }
    let r = ctx.req();
    if r.header_only() {
        return fail(L, c"header only");
    }
    if ctx.output.eof_sent {
        return fail(L, c"seen eof");
    }
    let nargs = L.top();
    // One string or integer argument, the usual `ngx.say("...")` or
    // `ngx.say(n)`: one pass.
    let mut buf = [0; 16];
    let single = if nargs == 1 {
        L.print_text(1, &mut buf)
    } else {
        None
    };
    let mut size = usize::from(newline);
    match single {
        Some(s) => size += s.len(),
        None => {
            for i in 1..=nargs {
                size += L.print_len(i, i)?;
            }
        }
    }
    if size == 0 {
        if failed(output::send_header_if_needed(ctx)) {
            return fail(L, c"nginx output filter error");
        }
        return done(L);
    }
    let Some(cl) = output::get_buf(ctx, size) else {
        return Err(Raise::Error(c"no memory"));
    };
    ctx.output.seen_body_data = true;
    cl.fill(|room| {
        let mut n = 0;
        match single {
            Some(s) => {
                n = s.len().min(room.len());
                room[..n].copy_from_slice(&s[..n]);
            }
            None => {
                for i in 1..=nargs {
                    n += L.print_write(i, &mut room[n..]);
                }
            }
        }
        if newline && n < room.len() {
            room[n] = b'\n';
            n += 1;
        }
        n
    });
    if failed(output::send_chain(ctx, cl)) {
        return fail(L, c"nginx output filter error");
    }
    done(L)
}

cfunction! {
    fn say(L) { print(L, true) }
}

cfunction! {
    fn print_(L) { print(L, false) }
}

cfunction! {
    /// `flush(wait)`: returns 1 (done), -2 (wait armed: the Lua wrapper
    /// yields until the send buffer drained), or nil + error.
    fn flush(L) {
        let ctx = output_ctx(true)?;
        // A subrequest does not own the connection's write events (its
        // output is captured or postponed): it never waits, as upstream.
        let wait = L.truthy(1) && ctx.req().is_main();
        if ctx.output.raw_socket {
            return fail(L, c"raw request socket acquired");
        }
        if ctx.output.eof_sent {
            return fail(L, c"seen eof");
        }
        if ctx.req().header_only() {
            return fail(L, c"header only");
        }
        if ctx.output.buffering {
            // lua_http10_buffering holds everything until the end.
            crate::debug!(
                ctx.req().log_handle(),
                "lua http 1.0 buffering makes ngx.flush() a no-op"
            );
            return fail(L, c"buffering");
        }
        // Before the header went out a flush would send it, and the status
        // could no longer change.
        if !ctx.req().header_sent() || (!ctx.output.seen_body_data && !wait) {
            return fail(L, c"nothing to flush");
        }
        if output::send_flush(ctx) == crate::nginx::request::ERROR {
            return fail(L, c"nginx output filter error");
        }
        if wait && crate::phase::flush::arm_wait(ctx) {
            L.push_int(-2);
            return Ok(1);
        }
        done(L)
    }
}

cfunction! {
    /// Result of the last waiting flush: 1, or nil + error.
    fn flush_result(L) {
        let ctx = output_ctx(true)?;
        match ctx.output.flush_error.take() {
            None => done(L),
            Some(e) => fail(L, e),
        }
    }
}

cfunction! {
    fn eof(L) {
        let ctx = output_ctx(false)?;
        if L.top() != 0 {
            return Err(Raise::Error(c"no argument is expected"));
        }
        if ctx.output.raw_socket {
            return fail(L, c"raw request socket acquired");
        }
        if ctx.output.eof_sent {
            return fail(L, c"seen eof");
        }
        if failed(output::send_eof(ctx)) {
            return fail(L, c"nginx output filter error");
        }
        done(L)
    }
}

cfunction! {
    fn send_headers(L) {
        let ctx = output_ctx(false)?;
        if ctx.req().header_sent() {
            return fail(L, c"header already sent");
        }
        if failed(output::send_header_if_needed(ctx)) {
            return fail(L, c"nginx output filter error");
        }
        done(L)
    }
}

/// Installed into `package.loaded["ngx_lua.output"]` for lua-lib.
pub const CFUNCS: &[(&CStr, lua_CFunction)] = &[
    (c"say", say),
    (c"print", print_),
    (c"flush", flush),
    (c"flush_result", flush_result),
    (c"eof", eof),
    (c"send_headers", send_headers),
];

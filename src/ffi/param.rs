//! ngx.arg: set_by_lua's arguments, a body filter's chunk and eof flag.
//!
//! `ngx.arg`'s `__index` and `__newindex` are C functions rather than Lua
//! functions calling FFI: they run on every access from handler chunks,
//! which LuaJIT interprets (a chunk is a vararg function), and an FFI call
//! from the interpreter converts every argument and boxes every pointer it
//! reads back. The body filter's chunk goes from nginx's buffer to a Lua
//! string and from the Lua string to an output buffer, with no copy in
//! between (body-filter benchmark: see docs/design.md).
use core::ffi::CStr;

use crate::http::RequestCtx;
use crate::lua::cfunction::Raise;
use crate::lua::phase::Phase;
use crate::lua::raw::lua_CFunction;
use crate::lua::sched::current;
use crate::phase::body_filter;

cfunction! {
    /// `ngx.arg[i]`: in `set_by_lua*` the directive's `i`th argument (nil
    /// past the last or for an empty one); in a body filter `[1]` the
    /// chunk and `[2]` the eof flag; an error elsewhere.
    fn index(L) {
        let cur = current();
        let ctx = RequestCtx::running();
        match (ctx, cur.phase) {
            (Some(ctx), Phase::Set) => {
                // `tonumber(i) or 0`, then the C int of upstream's API.
                let i = L.to_number(2) as i32;
                match usize::try_from(i).ok().and_then(|i| ctx.phases.set_arg(i)) {
                    Some(a) => L.push_str(a),
                    None => L.push_nil(),
                }
                Ok(1)
            }
            (Some(ctx), Phase::BodyFilter) => {
                match L.number_at(2) {
                    Some(1.0) => ctx.arg.with_chunk(|c| L.push_str(c)),
                    Some(2.0) => L.push_bool(ctx.arg.eof),
                    _ => L.push_nil(),
                }
                Ok(1)
            }
            // Neither set_by_lua* nor a body filter: ngx.arg means nothing.
            _ if cur.phase == Phase::Init => Err(Raise::Error(c"no request found")),
            _ => Err(Raise::Error(c"API disabled in the current context")),
        }
    }
}

cfunction! {
    /// `ngx.arg[i] = v` in a body filter: `[1]` replaces the chunk (a
    /// string, number, boolean, nil or array table of those), `[2]` the
    /// eof flag (`true` drops what follows). Ignored in `init_by_lua*`, an
    /// error in any other context, as upstream.
    fn newindex(L) {
        let cur = current();
        let Some(ctx) = RequestCtx::running() else {
            // init_worker_by_lua* and exit_worker_by_lua* run with a fake
            // request upstream, so there it is the usual refusal.
            if cur.phase.worker_hook() {
                return Err(Raise::DisabledHere(cur.phase));
            }
            return Ok(0);
        };
        if cur.phase != Phase::BodyFilter {
            return Err(Raise::DisabledHere(cur.phase));
        }
        match L.number_at(2) {
            Some(1.0) => {
                let done = match L.str_at(3) {
                    Some(s) => body_filter::set_chunk(ctx, Some(s), s.len(), |out| {
                        let n = s.len().min(out.len());
                        out[..n].copy_from_slice(&s[..n]);
                        n
                    }),
                    None => {
                        let len = L.arg_len(3)?;
                        body_filter::set_chunk(ctx, None, len, |out| L.arg_write(3, out))
                    }
                };
                if !done {
                    return Err(Raise::Error(c"no memory"));
                }
            }
            Some(2.0) => {
                ctx.arg.eof = L.truthy(3);
                ctx.arg.eof_set = true;
            }
            _ => return Err(Raise::BadIndex(2)),
        }
        Ok(0)
    }
}

/// Installed into `package.loaded["ngx_lua.arg"]` for lua-lib.
pub const CFUNCS: &[(&CStr, lua_CFunction)] = &[(c"index", index), (c"newindex", newindex)];

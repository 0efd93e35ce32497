//! ngx.arg: set_by_lua's arguments, a body filter's chunk and eof flag.
use core::ffi::c_int;

use super::*;

export! {
    /// `ngx.arg[idx]` of the running `set_by_lua*`: `FFI_OK` with the
    /// value, `FFI_DECLINED` for nil (out of range or empty, as upstream),
    /// `FFI_ERROR` in another phase.
    fn ngx_lua_ffi_set_arg_get(idx: c_int, data: &mut *const u8, len: &mut usize) -> c_int {
        let ctx = match running(Phase::Set.bit(), &mut ErrOut::none()) {
            Ok(c) => c,
            // FFI_DECLINED means nil here: another phase is an error.
            Err(FFI_DECLINED) => return FFI_ERROR,
            Err(rc) => return rc,
        };
        let Some(a) = usize::try_from(idx)
            .ok()
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| ctx.phases.set_args.get(i))
        else {
            return FFI_DECLINED;
        };
        if a.len == 0 {
            return FFI_DECLINED;
        }
        // The value lives in the request pool.
        *data = a.data;
        *len = a.len;
        FFI_OK
    }
}

export! {
    /// `ngx.arg[1]` / `ngx.arg[2]` of the running body filter; returns the
    /// eof flag or an error status.
    fn ngx_lua_ffi_body_arg_get(data: &mut *const u8, len: &mut usize) -> c_int {
        let mut none = ErrOut::none();
        let ctx = running!(Phase::BodyFilter.bit(), none);
        *data = ctx.arg.chunk.as_ptr();
        *len = ctx.arg.chunk.len();
        ctx.arg.eof as c_int
    }
}

export! {
    /// `ngx.arg[which] = ...` in a body filter (`which` 0 only checks the
    /// phase). `FFI_NO_REQ` in `init_by_lua*`, where upstream ignores the
    /// assignment; `FFI_DECLINED` with upstream's error text in other
    /// phases (`init_worker_by_lua*` and `exit_worker_by_lua*` included,
    /// which run with a fake request upstream).
    fn ngx_lua_ffi_body_arg_set(
        which: c_int,
        data: *const u8,
        len: usize,
        eof: c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let cur = current();
        if cur.ctx.is_null() && matches!(cur.phase, Phase::InitWorker | Phase::ExitWorker) {
            err.set(disabled(cur.phase).as_bytes());
            return FFI_DECLINED;
        }
        let ctx = running!(Phase::BodyFilter.bit(), err);
        if which == 0 {
            return FFI_OK;
        }
        if which == 1 {
            ctx.arg.chunk.clear();
            ctx.arg.chunk.extend_from_slice(lua_bytes!(data, len));
            ctx.arg.chunk_set = true;
        } else {
            ctx.arg.eof = eof != 0;
            ctx.arg.eof_set = true;
        }
        FFI_OK
    }
}

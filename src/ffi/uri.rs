//! ngx.escape_uri, ngx.unescape_uri, ngx.decode_args over `codec::uri` and
//! `codec::args`; each writes into a caller-owned buffer the Lua side
//! sized (with `ngx_lua_ffi_uri_escaped_length` where the size depends on
//! the content).
use core::ffi::c_int;

use crate::codec::{args, uri};

export! {
    fn ngx_lua_ffi_uri_escaped_length(src: *const u8, len: usize, kind: c_int) -> usize {
        uri::escaped_len(lua_bytes!(src, len), (kind as usize).min(uri::ESCAPE_MAIL_AUTH))
    }
}

export! {
    /// `dst` holds `dlen` bytes, the `ngx_lua_ffi_uri_escaped_length` of
    /// `src`; returns the length written. A short buffer makes `escape`
    /// panic, which the guard turns into 0.
    fn ngx_lua_ffi_escape_uri(
        src: *const u8,
        len: usize,
        dst: *mut u8,
        dlen: usize,
        kind: c_int,
    ) -> usize {
        let kind = (kind as usize).min(uri::ESCAPE_MAIL_AUTH);
        uri::escape(lua_bytes!(src, len), lua_buf!(dst, dlen), kind)
    }
}

export! {
    /// `dst` holds `len` bytes.
    fn ngx_lua_ffi_unescape_uri(src: *const u8, len: usize, dst: *mut u8) -> usize {
        uri::unescape(lua_bytes!(src, len), lua_buf!(dst, len))
    }
}

export! {
    /// How many pairs `ngx_lua_ffi_decode_args` may report for `src`.
    fn ngx_lua_ffi_args_max_pairs(src: *const u8, len: usize) -> usize {
        args::max_pairs(lua_bytes!(src, len))
    }
}

export! {
    /// Splits a query string: unescaped text goes to `dst` (`len` bytes)
    /// and each pair to `pairs` as four offsets into `dst` (key start, key
    /// end, value start, value end; value start `SIZE_MAX` for a bare key),
    /// at most `cap` pairs. `*n` receives the count; returns 1 when `max`
    /// truncated.
    fn ngx_lua_ffi_decode_args(
        src: *const u8,
        len: usize,
        dst: *mut u8,
        pairs: *mut usize,
        cap: usize,
        max: c_int,
        n: &mut usize,
    ) -> c_int {
        let out = lua_buf!(pairs, cap.saturating_mul(4));
        let mut count = 0usize;
        let truncated = args::decode(
            lua_bytes!(src, len),
            lua_buf!(dst, len),
            max.max(0) as usize,
            |((ks, ke), v)| {
                if count < cap {
                    let (vs, ve) = v.unwrap_or((usize::MAX, 0));
                    out[4 * count..4 * count + 4].copy_from_slice(&[ks, ke, vs, ve]);
                    count += 1;
                }
            },
        );
        *n = count;
        truncated as c_int
    }
}

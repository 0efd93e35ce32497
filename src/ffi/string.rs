//! ngx.escape_uri, ngx.unescape_uri, ngx.decode_args, base64, hashes and
//! ngx.quote_sql_str: thin exports over the pure `codec` modules. Each
//! writes into a caller-owned buffer sized by the Lua side (with the
//! matching `*_len` export where the size depends on the content).
use core::ffi::c_int;

use super::guard;
use crate::codec::{args, base64, hash, sql, uri};

/// The bytes of a Lua string (or of a caller buffer), empty for len 0.
///
/// # Safety
/// `p` points at `len` readable bytes when `len > 0`.
unsafe fn input<'a>(p: *const u8, len: usize) -> &'a [u8] {
    if len == 0 {
        &[]
    } else {
        // SAFETY: see above.
        unsafe { core::slice::from_raw_parts(p, len) }
    }
}

/// # Safety
/// `p` points at `len` writable bytes when `len > 0`.
unsafe fn output<'a>(p: *mut u8, len: usize) -> &'a mut [u8] {
    if len == 0 {
        &mut []
    } else {
        // SAFETY: see above.
        unsafe { core::slice::from_raw_parts_mut(p, len) }
    }
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_uri_escaped_length(
    src: *const u8,
    len: usize,
    kind: c_int,
) -> usize {
    guard(0, || {
        // SAFETY: a Lua string.
        let s = unsafe { input(src, len) };
        uri::escaped_len(s, (kind as usize).min(uri::ESCAPE_MAIL_AUTH))
    })
}

/// `dst` holds `dlen` bytes, the `ngx_lua_ffi_uri_escaped_length` of
/// `src`; returns the length written.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_escape_uri(
    src: *const u8,
    len: usize,
    dst: *mut u8,
    dlen: usize,
    kind: c_int,
) -> usize {
    guard(0, || {
        let kind = (kind as usize).min(uri::ESCAPE_MAIL_AUTH);
        // SAFETY: a Lua string and the caller's buffer of dlen bytes (a
        // short one makes `escape` panic, caught by the guard).
        let (s, d) = unsafe { (input(src, len), output(dst, dlen)) };
        uri::escape(s, d, kind)
    })
}

/// `dst` holds `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_unescape_uri(
    src: *const u8,
    len: usize,
    dst: *mut u8,
) -> usize {
    guard(0, || {
        // SAFETY: a Lua string and a buffer of len bytes.
        let (s, d) = unsafe { (input(src, len), output(dst, len)) };
        uri::unescape(s, d)
    })
}

/// How many pairs `ngx_lua_ffi_decode_args` may report for `src`.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_args_max_pairs(src: *const u8, len: usize) -> usize {
    // SAFETY: a Lua string.
    guard(0, || args::max_pairs(unsafe { input(src, len) }))
}

/// Splits a query string: unescaped text goes to `dst` (`len` bytes) and
/// each pair to `pairs` as four offsets into `dst` (key start, key end,
/// value start, value end; value start `SIZE_MAX` for a bare key), at most
/// `cap` pairs. `*n` receives the count; returns 1 when `max` truncated.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_decode_args(
    src: *const u8,
    len: usize,
    dst: *mut u8,
    pairs: *mut usize,
    cap: usize,
    max: c_int,
    n: *mut usize,
) -> c_int {
    guard(-1, || {
        // SAFETY: a Lua string and a buffer of len bytes.
        let (s, d) = unsafe { (input(src, len), output(dst, len)) };
        // SAFETY: the caller passes room for 4 * cap offsets.
        let out = unsafe {
            if cap == 0 {
                &mut [][..]
            } else {
                core::slice::from_raw_parts_mut(pairs, 4 * cap)
            }
        };
        let mut count = 0usize;
        let truncated = args::decode(s, d, max.max(0) as usize, |((ks, ke), v)| {
            if count < cap {
                let (vs, ve) = v.unwrap_or((usize::MAX, 0));
                out[4 * count..4 * count + 4].copy_from_slice(&[ks, ke, vs, ve]);
                count += 1;
            }
        });
        // SAFETY: caller's out parameter.
        unsafe { *n = count };
        truncated as c_int
    })
}

/// `dst` holds the encoded length the Lua side computed.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_encode_base64(
    src: *const u8,
    len: usize,
    dst: *mut u8,
    no_padding: c_int,
    url: c_int,
) -> usize {
    guard(0, || {
        let pad = no_padding == 0 && url == 0;
        // SAFETY: a Lua string and a buffer of the encoded length.
        let (s, d) = unsafe { (input(src, len), output(dst, base64::encoded_len(len, pad))) };
        if url != 0 {
            base64::encode_url(s, d)
        } else {
            base64::encode(s, d, pad)
        }
    })
}

/// kind 0: standard, 1: URL-safe, 2: MIME (lenient). `dst` holds
/// `(len + 3) / 4 * 3` bytes. Returns 1 and `*dlen`, or 0 for bad input.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_decode_base64(
    kind: c_int,
    src: *const u8,
    len: usize,
    dst: *mut u8,
    dlen: *mut usize,
) -> c_int {
    guard(0, || {
        // SAFETY: a Lua string and a buffer of the decoded length.
        let (s, d) = unsafe { (input(src, len), output(dst, base64::decoded_len(len))) };
        let r = match kind {
            0 => base64::decode(s, d),
            1 => base64::decode_url(s, d),
            _ => base64::decode_mime(s, d),
        };
        match r {
            Some(n) => {
                // SAFETY: caller's out parameter.
                unsafe { *dlen = n };
                1
            }
            None => 0,
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_crc32(src: *const u8, len: usize) -> u32 {
    // SAFETY: a Lua string.
    guard(0, || hash::crc32(unsafe { input(src, len) }))
}

/// MD5 of `src` into `dst`: 16 raw bytes, or 32 hex digits when `hex`.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_md5(src: *const u8, len: usize, dst: *mut u8, hex: c_int) {
    guard((), || {
        // SAFETY: a Lua string.
        let digest = hash::md5(unsafe { input(src, len) });
        if hex != 0 {
            // SAFETY: the Lua side passes 32 bytes for hex output.
            hash::hex_into(&digest, unsafe { output(dst, 32) });
        } else {
            // SAFETY: 16 bytes for raw output.
            unsafe { output(dst, 16) }.copy_from_slice(&digest);
        }
    })
}

/// SHA-1 of `src` (or HMAC-SHA1 with `key` when `key` is not NULL) into the
/// 20 bytes at `dst`.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_sha1(
    key: *const u8,
    klen: usize,
    src: *const u8,
    len: usize,
    dst: *mut u8,
) {
    guard((), || {
        // SAFETY: Lua strings and a 20-byte buffer.
        let (s, d) = unsafe { (input(src, len), output(dst, 20)) };
        let digest = if key.is_null() {
            hash::sha1(s)
        } else {
            // SAFETY: a Lua string.
            hash::hmac_sha1(unsafe { input(key, klen) }, s)
        };
        d.copy_from_slice(&digest);
    })
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_quote_sql_str_len(src: *const u8, len: usize) -> usize {
    // SAFETY: a Lua string.
    guard(0, || sql::quoted_len(unsafe { input(src, len) }))
}

/// `dst` holds `ngx_lua_ffi_quote_sql_str_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_quote_sql_str(
    src: *const u8,
    len: usize,
    dst: *mut u8,
) -> usize {
    guard(0, || {
        // SAFETY: a Lua string and the quoted length.
        let s = unsafe { input(src, len) };
        let d = unsafe { output(dst, sql::quoted_len(s)) };
        sql::quote(s, d)
    })
}

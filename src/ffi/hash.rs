//! ngx.crc32_short/long, ngx.md5(_bin), ngx.sha1_bin, ngx.hmac_sha1 over
//! `codec::hash`, into caller-owned buffers.
use core::ffi::c_int;

use crate::codec::hash;

export! {
    fn ngx_lua_ffi_crc32(src: *const u8, len: usize) -> u32 {
        hash::crc32(lua_bytes!(src, len))
    }
}

export! {
    /// MD5 of `src` into `dst`: 16 raw bytes, or 32 hex digits when `hex`.
    fn ngx_lua_ffi_md5(src: *const u8, len: usize, dst: *mut u8, hex: c_int) {
        let digest = hash::md5(lua_bytes!(src, len));
        if hex != 0 {
            hash::hex_into(&digest, lua_buf!(dst, 32));
        } else {
            lua_buf!(dst, 16).copy_from_slice(&digest);
        }
    }
}

export! {
    /// SHA-1 of `src` (or HMAC-SHA1 with `key` when `key` is not NULL) into
    /// the 20 bytes at `dst`.
    fn ngx_lua_ffi_sha1(key: *const u8, klen: usize, src: *const u8, len: usize, dst: *mut u8) {
        let s = lua_bytes!(src, len);
        let digest = if key.is_null() {
            hash::sha1(s)
        } else {
            hash::hmac_sha1(lua_bytes!(key, klen), s)
        };
        lua_buf!(dst, 20).copy_from_slice(&digest);
    }
}

//! ngx.encode_base64, ngx.decode_base64(mime) and ngx.base64's URL forms
//! over `codec::base64`, into caller-owned buffers.
use core::ffi::c_int;

use super::{FFI_ERROR, FFI_OK};
use crate::codec::base64;

export! {
    /// `dst` holds the encoded length the Lua side computed.
    fn ngx_lua_ffi_encode_base64(
        src: *const u8,
        len: usize,
        dst: *mut u8,
        no_padding: c_int,
        url: c_int,
    ) -> usize {
        let pad = no_padding == 0 && url == 0;
        let (s, d) = (lua_bytes!(src, len), lua_buf!(dst, base64::encoded_len(len, pad)));
        if url != 0 {
            base64::encode_url(s, d)
        } else {
            base64::encode(s, d, pad)
        }
    }
}

export! {
    /// kind 0: standard, 1: URL-safe, 2: MIME (lenient). `dst` holds
    /// `(len + 3) / 4 * 3` bytes. `FFI_OK` and `*dlen`, or `FFI_ERROR` for
    /// bad input.
    fn ngx_lua_ffi_decode_base64(
        kind: c_int,
        src: *const u8,
        len: usize,
        dst: *mut u8,
        dlen: &mut usize,
    ) -> c_int {
        let (s, d) = (lua_bytes!(src, len), lua_buf!(dst, base64::decoded_len(len)));
        let r = match kind {
            0 => base64::decode(s, d),
            1 => base64::decode_url(s, d),
            _ => base64::decode_mime(s, d),
        };
        match r {
            Some(n) => {
                *dlen = n;
                FFI_OK
            }
            None => FFI_ERROR,
        }
    }
}

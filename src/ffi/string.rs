//! ngx.quote_sql_str over `codec::sql`; resty.core.utils.
use crate::codec::sql;

export! {
    fn ngx_lua_ffi_quote_sql_str_len(src: *const u8, len: usize) -> usize {
        sql::quoted_len(lua_bytes!(src, len))
    }
}

export! {
    /// `dst` holds `ngx_lua_ffi_quote_sql_str_len` bytes.
    fn ngx_lua_ffi_quote_sql_str(src: *const u8, len: usize, dst: *mut u8) -> usize {
        let s = lua_bytes!(src, len);
        sql::quote(s, lua_buf!(dst, sql::quoted_len(s)))
    }
}

export! {
    /// resty.core.utils' str_replace_char: every `find` byte of `buf`
    /// becomes `replace`, in place.
    fn ngx_lua_ffi_str_replace_char(buf: *mut u8, len: usize, find: u8, replace: u8) {
        for b in lua_buf!(buf, len).iter_mut() {
            if *b == find {
                *b = replace;
            }
        }
    }
}

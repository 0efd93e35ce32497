//! ngx.req request body replacement: set_body_data, set_body_file,
//! init_body/append_body/finish_body (spilling to a temp file as nginx
//! does while reading a large body); the work is the body wrappers'
//! (`nginx::body_set`).
use core::ffi::c_int;

use super::body::DATA_PHASES;
use crate::ffi::*;
use crate::nginx::body_set::BodyError;

/// The status of a body change, with upstream's text for a failure
/// (`path`: the file `set_body_file` was given).
fn status(res: Result<(), BodyError>, err: &mut ErrOut, path: &[u8]) -> c_int {
    let Err(e) = res else {
        return FFI_OK;
    };
    let shown = || String::from_utf8_lossy(path);
    match e {
        BodyError::NotRead => err.set(b"request body not read yet"),
        BodyError::Discarded => err.set(b"request body already discarded asynchronously"),
        BodyError::NotInitialized => err.set(b"request_body not initialized"),
        BodyError::NoMemory => err.set(b"no memory"),
        BodyError::WriteFailed => err.set(b"fail to write file"),
        BodyError::Stat => err.set_fmt(format_args!("stat() \"{}\" failed", shown())),
        BodyError::Open => err.set_fmt(format_args!("open() \"{}\" failed", shown())),
        BodyError::Header(msg) => err.set(msg),
    }
    FFI_ERROR
}

export! {
    /// `ngx.req.set_body_data(data)`: replaces the (read) body with `data`
    /// and updates `Content-Length`.
    fn ngx_lua_ffi_req_set_body_data(
        data: *const u8,
        len: usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let r = running!(DATA_PHASES, err).req();
        status(r.set_client_body_data(lua_bytes!(data, len)), &mut err, b"")
    }
}

export! {
    /// `ngx.req.set_body_file(path, auto_clean)`: the body becomes the
    /// file's content; with `auto_clean` the file is deleted when the
    /// request ends.
    fn ngx_lua_ffi_req_set_body_file(
        path: *const u8,
        path_len: usize,
        clean: c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let r = running!(DATA_PHASES, err).req();
        let path = lua_bytes!(path, path_len);
        status(r.set_client_body_file(path, clean != 0), &mut err, path)
    }
}

export! {
    /// `ngx.req.init_body(size)`: starts a new, empty body; `size` < 0
    /// means `client_body_buffer_size`, 0 writes everything straight to a
    /// file.
    fn ngx_lua_ffi_req_init_body(size: isize, err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        let r = running!(DATA_PHASES, err).req();
        let size = usize::try_from(size).ok();
        status(r.init_client_body(size), &mut err, b"")
    }
}

export! {
    /// `ngx.req.append_body(data)`: appends to the body `init_body`
    /// started, spilling the buffer to the temp file whenever it fills up.
    fn ngx_lua_ffi_req_append_body(
        data: *const u8,
        len: usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let r = running!(DATA_PHASES, err).req();
        status(r.append_client_body(lua_bytes!(data, len)), &mut err, b"")
    }
}

export! {
    /// `ngx.req.finish_body()`: ends the body `init_body` started (the rest
    /// of the buffer goes to the temp file if one was started) and sets
    /// Content-Length.
    fn ngx_lua_ffi_req_finish_body(err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        let r = running!(DATA_PHASES, err).req();
        status(r.finish_client_body(), &mut err, b"")
    }
}

//! ngx.req request body replacement: set_body_data, set_body_file,
//! init_body/append_body/finish_body (spilling to a temp file as nginx
//! does while reading a large body).
use core::ffi::c_int;
use core::ptr;

use nginx_sys::*;

use super::body::DATA_PHASES;
use crate::ffi::*;
use crate::nginx::str::{bytes, pool_str};

/// nginx's `ngx_calloc_buf` (a macro).
///
/// # Safety
/// `pool` is a live pool.
unsafe fn calloc_buf(pool: *mut ngx_pool_t) -> *mut ngx_buf_t {
    // SAFETY: see above.
    unsafe { ngx_pcalloc(pool, core::mem::size_of::<ngx_buf_t>()) as *mut ngx_buf_t }
}

/// The request body to replace, or the upstream error text.
///
/// # Safety
/// `r` is a live request.
unsafe fn body_to_replace(
    r: *mut ngx_http_request_t,
) -> Result<*mut ngx_http_request_body_t, &'static [u8]> {
    // SAFETY: live request.
    unsafe {
        if (*r).discard_body() != 0 {
            return Err(b"request body already discarded asynchronously");
        }
        let rb = (*r).request_body;
        if rb.is_null() {
            return Err(b"request body not read yet");
        }
        Ok(rb)
    }
}

/// Runs (and disarms) the pool cleanup that owns `fd`: closes it, and
/// deletes the file when it was a clean temp file.
///
/// # Safety
/// `r` is a live request.
unsafe fn release_file(r: *mut ngx_http_request_t, fd: ngx_fd_t) {
    // SAFETY: the pool's cleanup list; file cleanups carry an
    // ngx_pool_cleanup_file_t.
    unsafe {
        let close = ngx_pool_cleanup_file as *const () as usize;
        let delete = ngx_pool_delete_file as *const () as usize;
        let mut c = (*(*r).pool).cleanup;
        while !c.is_null() {
            if let Some(h) = (*c).handler {
                let h_addr = h as *const () as usize;
                if (h_addr == close || h_addr == delete)
                    && (*((*c).data as *mut ngx_pool_cleanup_file_t)).fd == fd
                {
                    h((*c).data);
                    (*c).handler = None;
                    return;
                }
            }
            c = (*c).next;
        }
    }
}

/// Drops the current temp file of the body (if open), as a replaced body
/// no longer needs it.
///
/// # Safety
/// `r` is a live request and `rb` its body.
unsafe fn drop_temp_file(r: *mut ngx_http_request_t, rb: *mut ngx_http_request_body_t) {
    // SAFETY: see above.
    unsafe {
        let tf = (*rb).temp_file;
        if !tf.is_null() && (*tf).file.fd != NGX_INVALID_FILE {
            release_file(r, (*tf).file.fd);
            ptr::write_bytes(tf, 0, 1);
            (*tf).file.fd = NGX_INVALID_FILE;
        }
    }
}

/// Sets the request's Content-Length to `n` (the parsed length and the
/// header proxy_pass forwards).
///
/// # Safety
/// `r` is a live request.
unsafe fn set_content_length(r: *mut ngx_http_request_t, n: off_t) -> Result<(), &'static [u8]> {
    // SAFETY: live request.
    match unsafe { crate::nginx::request::Request::from_raw(r) } {
        Some(r) => r.set_content_length_in(n),
        None => Err(b"no request found"),
    }
}

/// Runs `f` for the current request in a body-changing phase, turning
/// its error text into `FFI_ERROR`.
fn with_body(
    err: *mut u8,
    errlen: *mut usize,
    f: impl FnOnce(*mut ngx_http_request_t) -> Result<(), &'static [u8]>,
) -> c_int {
    guard(FFI_ERROR, || {
        let ctx = request_in!(DATA_PHASES, err, errlen);
        match f(ctx.r) {
            Ok(()) => FFI_OK,
            Err(msg) => {
                // SAFETY: the caller's error buffer.
                unsafe { set_err(err, errlen, msg) };
                FFI_ERROR
            }
        }
    })
}

/// `ngx.req.set_body_data(data)`: replaces the (read) body with `data` and
/// updates `Content-Length`.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_req_set_body_data(
    data: *const u8,
    len: usize,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    with_body(err, errlen, |r| {
        // SAFETY: live request; the new buffer and chain live in its pool.
        unsafe {
            let rb = body_to_replace(r)?;
            drop_temp_file(r, rb);
            (*rb).temp_file = ptr::null_mut();
            if len == 0 {
                (*rb).bufs = ptr::null_mut();
                (*rb).buf = ptr::null_mut();
            } else {
                let pool = (*r).pool;
                let b = ngx_create_temp_buf(pool, len);
                let cl = ngx_alloc_chain_link(pool);
                if b.is_null() || cl.is_null() {
                    return Err(b"no memory");
                }
                ptr::copy_nonoverlapping(data, (*b).pos, len);
                (*b).last = (*b).pos.add(len);
                (*b).set_last_buf(1);
                (*cl).buf = b;
                (*cl).next = ptr::null_mut();
                (*rb).bufs = cl;
                (*rb).buf = b;
            }
            set_content_length(r, len as off_t)
        }
    })
}

/// `ngx.req.set_body_file(path, auto_clean)`: the body becomes the file's
/// content; with `auto_clean` the file is deleted when the request ends.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_req_set_body_file(
    path: *const u8,
    path_len: usize,
    clean: c_int,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let ctx = request_in!(DATA_PHASES, err, errlen);
        // SAFETY: live request; the Lua string holds path_len bytes.
        match unsafe { set_body_file(ctx.r, bytes(path, path_len), clean != 0) } {
            Ok(()) => FFI_OK,
            Err(msg) => {
                // SAFETY: the caller's error buffer.
                unsafe { set_err(err, errlen, msg.as_bytes()) };
                FFI_ERROR
            }
        }
    })
}

unsafe fn set_body_file(
    r: *mut ngx_http_request_t,
    path: &[u8],
    clean: bool,
) -> Result<(), String> {
    let fail = |m: &[u8]| String::from_utf8_lossy(m).into_owned();
    // SAFETY: live request; every buffer, file record and cleanup lives in
    // its pool.
    unsafe {
        let rb = body_to_replace(r).map_err(fail)?;
        let name = pool_str(r, path).ok_or_else(|| fail(b"no memory"))?;
        let pool = (*r).pool;
        let b = if (*rb).bufs.is_null() {
            let cl = ngx_alloc_chain_link(pool);
            let b = calloc_buf(pool);
            if cl.is_null() || b.is_null() {
                return Err(fail(b"no memory"));
            }
            (*cl).buf = b;
            (*cl).next = ptr::null_mut();
            (*rb).bufs = cl;
            b
        } else {
            (*(*rb).bufs).next = ptr::null_mut();
            let b = (*(*rb).bufs).buf;
            ptr::write_bytes(b, 0, 1);
            b
        };
        (*rb).buf = ptr::null_mut();
        (*b).set_last_in_chain(1);

        let tf = if (*rb).temp_file.is_null() {
            let tf =
                ngx_pcalloc(pool, core::mem::size_of::<ngx_temp_file_t>()) as *mut ngx_temp_file_t;
            if tf.is_null() {
                return Err(fail(b"no memory"));
            }
            (*tf).file.fd = NGX_INVALID_FILE;
            (*rb).temp_file = tf;
            tf
        } else {
            drop_temp_file(r, rb);
            (*rb).temp_file
        };

        let shown = || String::from_utf8_lossy(path).into_owned();
        let cname = name.data as *const core::ffi::c_char;
        let mut st: libc::stat = core::mem::zeroed();
        if libc::stat(cname, &mut st) != 0 {
            return Err(format!("stat() \"{}\" failed", shown()));
        }
        let fd = libc::open(cname, libc::O_RDONLY | libc::O_NONBLOCK);
        if fd < 0 {
            return Err(format!("open() \"{}\" failed", shown()));
        }
        if libc::fstat(fd, &mut st) != 0 || (st.st_mode & libc::S_IFMT) == libc::S_IFDIR {
            libc::close(fd);
            return Err(format!("open() \"{}\" failed", shown()));
        }
        let log = (*(*r).connection).log;
        (*tf).file.fd = fd;
        (*tf).file.name = name;
        (*tf).file.log = log;
        (*tf).file.set_directio(0);
        let size = st.st_size as off_t;

        if size == 0 {
            if clean && libc::unlink(cname) != 0 {
                let e = crate::nginx::sock::errno();
                if e != libc::ENOENT {
                    crate::nginx::log::log_error(
                        NGX_LOG_CRIT,
                        log,
                        format!("unlink() \"{}\" failed ({e})", shown()).as_bytes(),
                    );
                }
            }
            libc::close(fd);
            (*tf).file.fd = NGX_INVALID_FILE;
            (*rb).bufs = ptr::null_mut();
            (*rb).buf = ptr::null_mut();
            return set_content_length(r, 0).map_err(fail);
        }

        // The request pool closes the file (and deletes it with
        // auto_clean) when the request ends.
        let cln = ngx_pool_cleanup_add(pool, core::mem::size_of::<ngx_pool_cleanup_file_t>());
        if cln.is_null() {
            libc::close(fd);
            (*tf).file.fd = NGX_INVALID_FILE;
            return Err(fail(b"no memory"));
        }
        (*cln).handler = Some(if clean {
            ngx_pool_delete_file
        } else {
            ngx_pool_cleanup_file
        });
        let cf = (*cln).data as *mut ngx_pool_cleanup_file_t;
        (*cf).fd = fd;
        (*cf).name = name.data;
        (*cf).log = (*pool).log;

        (*b).file = &mut (*tf).file;
        (*b).file_pos = 0;
        (*b).file_last = size;
        (*b).set_in_file(1);
        set_content_length(r, size).map_err(fail)
    }
}

/// Writes `chain` to the body's temp file (creating it in
/// `client_body_temp_path` first, with nginx's own warning), as nginx
/// does while reading a large body.
///
/// # Safety
/// `r` is a live request with a request body; `chain` is null (create
/// the file only) or a valid chain.
unsafe fn write_to_temp_file(
    r: *mut ngx_http_request_t,
    chain: *mut ngx_chain_t,
) -> Result<(), &'static [u8]> {
    const WRITE_FAILED: &[u8] = b"fail to write file";
    // SAFETY: see above; the temp file record lives in the request pool.
    unsafe {
        let rb = (*r).request_body;
        if (*rb).temp_file.is_null() {
            let tf = ngx_pcalloc((*r).pool, core::mem::size_of::<ngx_temp_file_t>())
                as *mut ngx_temp_file_t;
            if tf.is_null() {
                return Err(WRITE_FAILED);
            }
            let clcf =
                *(*r).loc_conf.add(ngx_http_core_module.ctx_index) as *mut ngx_http_core_loc_conf_t;
            (*tf).file.fd = NGX_INVALID_FILE;
            (*tf).file.log = (*(*r).connection).log;
            (*tf).path = (*clcf).client_body_temp_path;
            (*tf).pool = (*r).pool;
            (*tf).warn =
                c"a client request body is buffered to a temporary file".as_ptr() as *mut _;
            (*tf).set_log_level((*r).request_body_file_log_level());
            (*tf).set_persistent(1);
            (*tf).set_clean(1);
            if (*r).request_body_file_group_access() != 0 {
                (*tf).access = 0o660;
            }
            (*rb).temp_file = tf;
            if chain.is_null() {
                if ngx_create_temp_file(
                    &mut (*tf).file,
                    (*tf).path,
                    (*tf).pool,
                    (*tf).persistent() as ngx_uint_t,
                    (*tf).clean() as ngx_uint_t,
                    (*tf).access,
                ) != NGX_OK as ngx_int_t
                {
                    return Err(WRITE_FAILED);
                }
                return Ok(());
            }
        }
        let n = ngx_write_chain_to_temp_file((*rb).temp_file, chain);
        if n == NGX_ERROR as isize {
            return Err(WRITE_FAILED);
        }
        (*(*rb).temp_file).offset += n as off_t;
        Ok(())
    }
}

/// `ngx.req.init_body(size)`: starts a new, empty body; `size` < 0 means
/// `client_body_buffer_size`, 0 writes everything straight to a file.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_req_init_body(
    size: isize,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    with_body(err, errlen, |r| {
        // SAFETY: live request; the new buffer lives in its pool.
        unsafe {
            let rb = body_to_replace(r)?;
            let size = if size < 0 {
                let clcf = *(*r).loc_conf.add(ngx_http_core_module.ctx_index)
                    as *mut ngx_http_core_loc_conf_t;
                (*clcf).client_body_buffer_size
            } else {
                size as usize
            };
            if size == 0 {
                (*r).set_request_body_in_file_only(1);
            }
            drop_temp_file(r, rb);
            (*rb).temp_file = ptr::null_mut();
            (*r).set_request_body_in_clean_file(1);
            (*r).headers_in.content_length_n = 0;
            let b = ngx_create_temp_buf((*r).pool, size);
            let cl = ngx_alloc_chain_link((*r).pool);
            if b.is_null() || cl.is_null() {
                return Err(b"no memory");
            }
            (*cl).buf = b;
            (*cl).next = ptr::null_mut();
            (*rb).buf = b;
            (*rb).bufs = cl;
            Ok(())
        }
    })
}

/// The body `init_body` started, or upstream's error text.
///
/// # Safety
/// `r` is a live request.
unsafe fn initialized_body(
    r: *mut ngx_http_request_t,
) -> Result<*mut ngx_http_request_body_t, &'static [u8]> {
    // SAFETY: live request.
    unsafe {
        let rb = (*r).request_body;
        if rb.is_null() || (*rb).buf.is_null() || (*rb).bufs.is_null() {
            return Err(b"request_body not initialized");
        }
        Ok(rb)
    }
}

/// `ngx.req.append_body(data)`: appends to the body `init_body` started,
/// spilling the buffer to the temp file whenever it fills up.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_req_append_body(
    data: *const u8,
    len: usize,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    with_body(err, errlen, |r| {
        let data = bytes(data, len);
        // SAFETY: live request; the buffer and temp file are its body's.
        unsafe {
            let rb = initialized_body(r)?;
            if (*r).request_body_in_file_only() != 0 {
                // Straight to the file, through a buffer over the Lua
                // string (written before this call returns).
                let mut b: ngx_buf_t = core::mem::zeroed();
                b.start = data.as_ptr() as *mut u8;
                b.pos = b.start;
                b.last = b.start.add(data.len());
                b.end = b.last;
                b.set_temporary(1);
                let mut cl = ngx_chain_t {
                    buf: &mut b,
                    next: ptr::null_mut(),
                };
                write_to_temp_file(r, &mut cl)?;
                (*r).headers_in.content_length_n += data.len() as off_t;
                return Ok(());
            }
            let buf = (*rb).buf;
            let mut rest = data;
            while !rest.is_empty() {
                if (*buf).last == (*buf).end {
                    write_to_temp_file(r, (*rb).bufs)?;
                    (*buf).last = (*buf).start;
                }
                let room = (*buf).end.offset_from((*buf).last) as usize;
                let n = room.min(rest.len());
                ptr::copy_nonoverlapping(rest.as_ptr(), (*buf).last, n);
                (*buf).last = (*buf).last.add(n);
                rest = &rest[n..];
                (*r).headers_in.content_length_n += n as off_t;
            }
            Ok(())
        }
    })
}

/// `ngx.req.finish_body()`: ends the body `init_body` started (the rest
/// of the buffer goes to the temp file if one was started) and sets
/// Content-Length.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_req_finish_body(err: *mut u8, errlen: *mut usize) -> c_int {
    with_body(err, errlen, |r| {
        // SAFETY: live request; the new buffer lives in its pool.
        unsafe {
            let rb = initialized_body(r)?;
            let tf = (*rb).temp_file;
            if !tf.is_null() {
                write_to_temp_file(r, (*rb).bufs)?;
                let b = calloc_buf((*r).pool);
                if b.is_null() {
                    return Err(b"no memory");
                }
                (*b).set_in_file(1);
                (*b).file_pos = 0;
                (*b).file_last = (*tf).file.offset;
                (*b).file = &mut (*tf).file;
                let first = (*rb).bufs;
                if (*first).next.is_null() {
                    (*first).buf = b;
                } else {
                    (*(*first).next).buf = b;
                }
            }
            set_content_length(r, (*r).headers_in.content_length_n)
        }
    })
}

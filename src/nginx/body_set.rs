//! Replacing the client request body: with bytes, with a file, or with a
//! body built piecewise in a buffer that spills into a temp file in
//! `client_body_temp_path`, as nginx does while reading a large body.
//! Content-Length follows through the request-header setter, so nginx's
//! parsed `headers_in` fields stay in step.
use core::ffi::c_char;
use core::ptr;

use nginx_sys::*;

use super::request::Request;

/// Why the body could not be replaced.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BodyError {
    /// There is no body to replace: it was not read.
    NotRead,
    /// nginx is discarding it.
    Discarded,
    /// `append_body`/`finish_body` without `init_body`.
    NotInitialized,
    NoMemory,
    /// Writing the temp file failed (nginx logged why).
    WriteFailed,
    /// `stat()` of the new body file failed.
    Stat,
    /// Opening the new body file failed, or it is a directory.
    Open,
    /// Content-Length could not follow (the header setter's text).
    Header(&'static [u8]),
}

impl Request {
    /// The body to replace.
    fn body_to_replace(self) -> Result<*mut ngx_http_request_body_t, BodyError> {
        if self.discarding_client_body() {
            return Err(BodyError::Discarded);
        }
        // SAFETY: a field of the live request.
        let rb = unsafe { (*self.as_ptr()).request_body };
        if rb.is_null() {
            return Err(BodyError::NotRead);
        }
        Ok(rb)
    }

    /// The body `init_client_body` started.
    fn initialized_body(self) -> Result<*mut ngx_http_request_body_t, BodyError> {
        // SAFETY: a field of the live request, and the body record it
        // points at in the request pool.
        unsafe {
            let rb = (*self.as_ptr()).request_body;
            if rb.is_null() || (*rb).buf.is_null() || (*rb).bufs.is_null() {
                return Err(BodyError::NotInitialized);
            }
            Ok(rb)
        }
    }

    /// A new chain link in the request pool, holding `b`.
    fn body_link(self, b: *mut ngx_buf_t) -> Result<*mut ngx_chain_t, BodyError> {
        // SAFETY: the live request's pool; the link is fully written.
        unsafe {
            let cl = ngx_alloc_chain_link(self.pool());
            if b.is_null() || cl.is_null() {
                return Err(BodyError::NoMemory);
            }
            (*cl).buf = b;
            (*cl).next = ptr::null_mut();
            Ok(cl)
        }
    }

    /// A memory buffer of `size` bytes in the request pool (null on
    /// failure, which `body_link` reports).
    fn body_buf(self, size: usize) -> *mut ngx_buf_t {
        // SAFETY: the live request's pool.
        unsafe { ngx_create_temp_buf(self.pool(), size) }
    }

    /// Runs (and disarms) the request pool cleanup that owns `fd`: closes
    /// it, and deletes the file when it was a clean temp file.
    fn release_file(self, fd: ngx_fd_t) {
        let close = ngx_pool_cleanup_file as *const () as usize;
        let delete = ngx_pool_delete_file as *const () as usize;
        // SAFETY: the request pool's cleanup list; the two file handlers
        // are only registered with an ngx_pool_cleanup_file_t as data.
        unsafe {
            let mut c = (*self.pool()).cleanup;
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

    /// Drops the body's current temp file (if open): a replaced body no
    /// longer needs it.
    fn drop_temp_file(self, rb: *mut ngx_http_request_body_t) {
        // SAFETY: the request's body record and its temp file record, in
        // the request pool.
        unsafe {
            let tf = (*rb).temp_file;
            if !tf.is_null() && (*tf).file.fd != NGX_INVALID_FILE {
                self.release_file((*tf).file.fd);
                ptr::write_bytes(tf, 0, 1);
                (*tf).file.fd = NGX_INVALID_FILE;
            }
        }
    }

    /// `ngx.req.set_body_data`: the body becomes `data` (none when empty),
    /// with its Content-Length.
    pub fn set_client_body_data(self, data: &[u8]) -> Result<(), BodyError> {
        let rb = self.body_to_replace()?;
        self.drop_temp_file(rb);
        // SAFETY: the request's body record.
        unsafe { (*rb).temp_file = ptr::null_mut() };
        let (bufs, buf) = if data.is_empty() {
            (ptr::null_mut(), ptr::null_mut())
        } else {
            let b = self.body_buf(data.len());
            let cl = self.body_link(b)?;
            // SAFETY: a new buffer of data.len() bytes.
            unsafe {
                ptr::copy_nonoverlapping(data.as_ptr(), (*b).pos, data.len());
                (*b).last = (*b).pos.add(data.len());
                (*b).set_last_buf(1);
            }
            (cl, b)
        };
        // SAFETY: the request's body record.
        unsafe {
            (*rb).bufs = bufs;
            (*rb).buf = buf;
        }
        self.set_content_length_in(data.len() as off_t)
            .map_err(BodyError::Header)
    }

    /// `ngx.req.set_body_file`: the body becomes the file at `path`; with
    /// `clean` the file is deleted when the request ends.
    pub fn set_client_body_file(self, path: &[u8], clean: bool) -> Result<(), BodyError> {
        let rb = self.body_to_replace()?;
        let name = self.pool_cstr(path).ok_or(BodyError::NoMemory)?;
        // The body becomes one file buffer, reusing the first link.
        // SAFETY: the request's body record, its chain and temp file
        // record, in the request pool.
        let (b, tf) = unsafe {
            let b = if (*rb).bufs.is_null() {
                let b =
                    ngx_pcalloc(self.pool(), core::mem::size_of::<ngx_buf_t>()) as *mut ngx_buf_t;
                (*rb).bufs = self.body_link(b)?;
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
                let tf = ngx_pcalloc(self.pool(), core::mem::size_of::<ngx_temp_file_t>())
                    as *mut ngx_temp_file_t;
                if tf.is_null() {
                    return Err(BodyError::NoMemory);
                }
                (*tf).file.fd = NGX_INVALID_FILE;
                (*rb).temp_file = tf;
                tf
            } else {
                self.drop_temp_file(rb);
                (*rb).temp_file
            };
            (b, tf)
        };

        let cname = name.data as *const c_char;
        let (fd, size) = open_file(cname)?;
        let log = self.log();
        // SAFETY: the temp file record in the request pool.
        unsafe {
            (*tf).file.fd = fd;
            (*tf).file.name = name;
            (*tf).file.log = log;
            (*tf).file.set_directio(0);
        }

        if size == 0 {
            if clean {
                unlink(self, cname, path);
            }
            // SAFETY: fd is the descriptor open_file opened; the body
            // record and temp file record are the request's.
            unsafe {
                libc::close(fd);
                (*tf).file.fd = NGX_INVALID_FILE;
                (*rb).bufs = ptr::null_mut();
                (*rb).buf = ptr::null_mut();
            }
            return self.set_content_length_in(0).map_err(BodyError::Header);
        }

        // The request pool closes the file (and deletes it with `clean`)
        // when the request ends.
        // SAFETY: a cleanup record of the live request's pool, with room
        // for the ngx_pool_cleanup_file_t its handler reads; the name is
        // NUL-terminated in the same pool.
        unsafe {
            let cln =
                ngx_pool_cleanup_add(self.pool(), core::mem::size_of::<ngx_pool_cleanup_file_t>());
            if cln.is_null() {
                libc::close(fd);
                (*tf).file.fd = NGX_INVALID_FILE;
                return Err(BodyError::NoMemory);
            }
            (*cln).handler = Some(if clean {
                ngx_pool_delete_file
            } else {
                ngx_pool_cleanup_file
            });
            let cf = (*cln).data as *mut ngx_pool_cleanup_file_t;
            (*cf).fd = fd;
            (*cf).name = name.data;
            (*cf).log = (*self.pool()).log;

            (*b).file = ptr::addr_of_mut!((*tf).file);
            (*b).file_pos = 0;
            (*b).file_last = size;
            (*b).set_in_file(1);
        }
        self.set_content_length_in(size).map_err(BodyError::Header)
    }

    /// Writes `chain` to the body's temp file (creating it in
    /// `client_body_temp_path` first, with nginx's own warning), as nginx
    /// does while reading a large body. A null chain only creates the
    /// file. The request has a body (`initialized_body`).
    fn write_body_to_temp_file(self, chain: *mut ngx_chain_t) -> Result<(), BodyError> {
        let clcf = self.core_loc_conf();
        let (temp_path, log) = (clcf.client_body_temp_path, self.log());
        // SAFETY: the request's body record and the temp file record made
        // here, in the request pool; `chain` is null or a chain of the
        // body's (or of a buffer the caller keeps alive for the call).
        unsafe {
            let r = self.as_ptr();
            let rb = (*r).request_body;
            if (*rb).temp_file.is_null() {
                let tf = ngx_pcalloc(self.pool(), core::mem::size_of::<ngx_temp_file_t>())
                    as *mut ngx_temp_file_t;
                if tf.is_null() {
                    return Err(BodyError::WriteFailed);
                }
                (*tf).file.fd = NGX_INVALID_FILE;
                (*tf).file.log = log;
                (*tf).path = temp_path;
                (*tf).pool = self.pool();
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
                        return Err(BodyError::WriteFailed);
                    }
                    return Ok(());
                }
            }
            let n = ngx_write_chain_to_temp_file((*rb).temp_file, chain);
            if n == NGX_ERROR as isize {
                return Err(BodyError::WriteFailed);
            }
            (*(*rb).temp_file).offset += n as off_t;
        }
        Ok(())
    }

    /// `ngx.req.init_body`: starts a new, empty body in a buffer of
    /// `size` bytes (`None`: `client_body_buffer_size`); 0 writes
    /// everything straight to a temp file.
    pub fn init_client_body(self, size: Option<usize>) -> Result<(), BodyError> {
        let rb = self.body_to_replace()?;
        let size = size.unwrap_or(self.core_loc_conf().client_body_buffer_size);
        // SAFETY: fields of the live request.
        unsafe {
            let r = self.as_ptr();
            if size == 0 {
                (*r).set_request_body_in_file_only(1);
            }
            self.drop_temp_file(rb);
            (*rb).temp_file = ptr::null_mut();
            (*r).set_request_body_in_clean_file(1);
        }
        self.set_content_length_in_n(0);
        let b = self.body_buf(size);
        let cl = self.body_link(b)?;
        // SAFETY: the request's body record.
        unsafe {
            (*rb).buf = b;
            (*rb).bufs = cl;
        }
        Ok(())
    }

    /// `ngx.req.append_body`: appends to the body `init_client_body`
    /// started, spilling the buffer to the temp file whenever it fills.
    pub fn append_client_body(self, data: &[u8]) -> Result<(), BodyError> {
        let rb = self.initialized_body()?;
        // SAFETY: a field of the live request.
        if unsafe { (*self.as_ptr()).request_body_in_file_only() } != 0 {
            // Straight to the file, through a buffer over `data` (written
            // before this call returns; nginx only reads it).
            // SAFETY: an all-zero ngx_buf_t is a valid empty buffer.
            let mut b: ngx_buf_t = unsafe { core::mem::zeroed() };
            b.start = data.as_ptr() as *mut u8;
            b.pos = b.start;
            b.last = b.start.wrapping_add(data.len());
            b.end = b.last;
            b.set_temporary(1);
            let mut cl = ngx_chain_t {
                buf: &mut b,
                next: ptr::null_mut(),
            };
            self.write_body_to_temp_file(&mut cl)?;
            self.set_content_length_in_n(self.content_length_in() + data.len() as off_t);
            return Ok(());
        }
        // SAFETY: the body record's memory buffer, which init_client_body
        // made in the request pool: start..end is its memory.
        unsafe {
            let buf = (*rb).buf;
            let mut rest = data;
            while !rest.is_empty() {
                if (*buf).last == (*buf).end {
                    self.write_body_to_temp_file((*rb).bufs)?;
                    (*buf).last = (*buf).start;
                }
                let room = (*buf).end.offset_from((*buf).last) as usize;
                let n = room.min(rest.len());
                ptr::copy_nonoverlapping(rest.as_ptr(), (*buf).last, n);
                (*buf).last = (*buf).last.add(n);
                rest = &rest[n..];
                self.set_content_length_in_n(self.content_length_in() + n as off_t);
            }
        }
        Ok(())
    }

    /// `ngx.req.finish_body`: ends the body `init_client_body` started
    /// (the rest of the buffer goes to the temp file if one was started)
    /// and sets Content-Length.
    pub fn finish_client_body(self) -> Result<(), BodyError> {
        let rb = self.initialized_body()?;
        // SAFETY: the request's body record, its chain and temp file, in
        // the request pool.
        unsafe {
            let tf = (*rb).temp_file;
            if !tf.is_null() {
                self.write_body_to_temp_file((*rb).bufs)?;
                let b =
                    ngx_pcalloc(self.pool(), core::mem::size_of::<ngx_buf_t>()) as *mut ngx_buf_t;
                if b.is_null() {
                    return Err(BodyError::NoMemory);
                }
                (*b).set_in_file(1);
                (*b).file_pos = 0;
                (*b).file_last = (*tf).file.offset;
                (*b).file = ptr::addr_of_mut!((*tf).file);
                let first = (*rb).bufs;
                if (*first).next.is_null() {
                    (*first).buf = b;
                } else {
                    (*(*first).next).buf = b;
                }
            }
        }
        self.set_content_length_in(self.content_length_in())
            .map_err(BodyError::Header)
    }
}

/// Opens the file named by `path` (NUL-terminated) for reading: its
/// descriptor and size.
fn open_file(path: *const c_char) -> Result<(ngx_fd_t, off_t), BodyError> {
    // SAFETY: `path` is a NUL-terminated name in the request pool; `st`
    // is written by stat/fstat; the descriptor is closed on failure.
    unsafe {
        let mut st: libc::stat = core::mem::zeroed();
        if libc::stat(path, &mut st) != 0 {
            return Err(BodyError::Stat);
        }
        let fd = libc::open(path, libc::O_RDONLY | libc::O_NONBLOCK);
        if fd < 0 {
            return Err(BodyError::Open);
        }
        if libc::fstat(fd, &mut st) != 0 || (st.st_mode & libc::S_IFMT) == libc::S_IFDIR {
            libc::close(fd);
            return Err(BodyError::Open);
        }
        Ok((fd, st.st_size as off_t))
    }
}

/// Deletes an empty body file given with `auto_clean` at once (there is
/// no file buffer whose cleanup would), logging a failure as nginx does.
fn unlink(r: Request, path: *const c_char, shown: &[u8]) {
    // SAFETY: `path` is a NUL-terminated name in the request pool.
    if unsafe { libc::unlink(path) } == 0 {
        return;
    }
    let e = super::sock::errno();
    if e != libc::ENOENT {
        r.log_error(
            NGX_LOG_CRIT,
            format!(
                "unlink() \"{}\" failed ({e})",
                String::from_utf8_lossy(shown)
            )
            .as_bytes(),
        );
    }
}

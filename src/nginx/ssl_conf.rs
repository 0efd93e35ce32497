//! [`SslCtx`]: a client TLS context (`ngx_ssl_t`) built at configuration
//! time with nginx's own helpers, as `lua_ssl_*` (and upstream's
//! `proxy_ssl_*`) build theirs. It lives in the configuration pool, whose
//! cleanup frees the OpenSSL context, so it outlives every request of the
//! configuration.
use core::ffi::{c_char, c_int, c_void};
use core::ptr::{self, NonNull};

use nginx_sys::*;

use super::conf::Conf;
use super::global::Global;
use super::panic::guard;

/// Our `SSL_CTX` ex_data slot: the key log file of `lua_ssl_key_log`.
static KEY_LOG_INDEX: Global<c_int> = Global::new(-1);

#[derive(Clone, Copy)]
pub struct SslCtx(NonNull<ngx_ssl_t>);

impl SslCtx {
    /// A context for the `protocols` mask (`NGX_SSL_TLSv1_2 | ...`); None
    /// when nginx or OpenSSL failed (and logged why).
    pub fn create(cf: Conf, protocols: ngx_uint_t) -> Option<SslCtx> {
        let pool = cf.pool().as_ptr();
        // SAFETY: a zeroed ngx_ssl_t in the live conf pool, filled by
        // ngx_ssl_create; the pool cleanup registered right after frees its
        // OpenSSL context with the pool (ngx_ssl_cleanup_ctx's argument is
        // the ngx_ssl_t).
        unsafe {
            let ssl = ngx_pcalloc(pool, core::mem::size_of::<ngx_ssl_t>()) as *mut ngx_ssl_t;
            let ssl = NonNull::new(ssl)?;
            (*ssl.as_ptr()).log = cf.raw_log();
            if ngx_ssl_create(ssl.as_ptr(), protocols, ptr::null_mut()) != NGX_OK as ngx_int_t {
                return None;
            }
            let cln = ngx_pool_cleanup_add(pool, 0);
            if cln.is_null() {
                ngx_ssl_cleanup_ctx(ssl.as_ptr() as *mut c_void);
                return None;
            }
            (*cln).handler = Some(ngx_ssl_cleanup_ctx);
            (*cln).data = ssl.as_ptr() as *mut c_void;
            Some(SslCtx(ssl))
        }
    }

    pub fn as_non_null(self) -> NonNull<ngx_ssl_t> {
        self.0
    }

    fn ptr(self) -> *mut ngx_ssl_t {
        self.0.as_ptr()
    }

    /// `SSL_CTX_set_cipher_list`; `ciphers` is NUL-terminated.
    pub fn set_ciphers(self, cf: Conf, ciphers: &[u8]) -> bool {
        assert_eq!(ciphers.last(), Some(&0), "a C string");
        // SAFETY: the context's live SSL_CTX; a NUL-terminated list.
        let ok = unsafe {
            SSL_CTX_set_cipher_list((*self.ptr()).ctx, ciphers.as_ptr() as *const c_char)
        };
        if ok == 0 {
            // SAFETY: nginx's OpenSSL error logger; "%s" reads the C string.
            unsafe {
                ngx_ssl_error(
                    NGX_LOG_EMERG as ngx_uint_t,
                    cf.raw_log(),
                    0,
                    c"SSL_CTX_set_cipher_list(\"%s\") failed".as_ptr() as *mut c_char,
                    ciphers.as_ptr(),
                )
            };
            return false;
        }
        true
    }

    /// The client certificates and their keys (paths, in order).
    pub fn certificates(self, cf: Conf, certs: &[Vec<u8>], keys: &[Vec<u8>]) -> bool {
        let (Some(ca), Some(ka)) = (str_array(cf, certs), str_array(cf, keys)) else {
            return false;
        };
        // SAFETY: the live conf and context; arrays of NUL-terminated
        // strings in the conf pool.
        unsafe {
            ngx_ssl_certificates(cf.as_ptr(), self.ptr(), ca, ka, ptr::null_mut())
                == NGX_OK as ngx_int_t
        }
    }

    /// The CA file that verifies peers, and the verification depth.
    pub fn trusted_certificate(self, cf: Conf, path: &[u8], depth: ngx_uint_t) -> bool {
        let Some(mut s) = cf.pool_cstr(path) else {
            return false;
        };
        // SAFETY: the live conf and context; a C string in the conf pool.
        unsafe {
            ngx_ssl_trusted_certificate(cf.as_ptr(), self.ptr(), &mut s, depth as ngx_int_t)
                == NGX_OK as ngx_int_t
        }
    }

    /// The CRL file (empty: none).
    pub fn crl(self, cf: Conf, path: &[u8]) -> bool {
        let Some(mut s) = cf.pool_cstr(path) else {
            return false;
        };
        // SAFETY: as trusted_certificate.
        unsafe { ngx_ssl_crl(cf.as_ptr(), self.ptr(), &mut s) == NGX_OK as ngx_int_t }
    }

    /// `lua_ssl_key_log`: the key material of the context's connections
    /// goes to `path` in the SSLKEYLOGFILE format, through a file nginx
    /// opens (and reopens on USR1) with its other logs.
    pub fn key_log(self, cf: Conf, path: &[u8]) -> bool {
        let mut name = ngx_str_t {
            len: path.len(),
            data: path.as_ptr() as *mut u8,
        };
        // SAFETY: the live conf and context; nginx copies the name into
        // the cycle's list of open files (opened before workers start);
        // the ex_data slot is ours and holds that file, which lives as
        // long as the cycle, as the context does.
        unsafe {
            if KEY_LOG_INDEX.get() < 0 {
                let i = CRYPTO_get_ex_new_index(
                    CRYPTO_EX_INDEX_SSL_CTX as c_int,
                    0,
                    ptr::null_mut(),
                    None,
                    None,
                    None,
                );
                if i < 0 {
                    return false;
                }
                KEY_LOG_INDEX.set(i);
            }
            let file = ngx_conf_open_file(cf.cycle().as_ptr(), &mut name);
            if file.is_null() {
                return false;
            }
            let ctx = (*self.ptr()).ctx as *mut SSL_CTX;
            if SSL_CTX_set_ex_data(ctx, KEY_LOG_INDEX.get(), file as *mut c_void) == 0 {
                return false;
            }
            SSL_CTX_set_keylog_callback(ctx, Some(key_log_line));
        }
        true
    }

    /// OpenSSL configuration commands (`SSL_CONF_cmd`), name and value.
    pub fn conf_commands(self, cf: Conf, cmds: &[(Vec<u8>, Vec<u8>)]) -> bool {
        let pool = cf.pool().as_ptr();
        // SAFETY: an nginx array of ngx_keyval_t in the live conf pool, each
        // pushed element written before use.
        unsafe {
            let a = ngx_array_create(
                pool,
                cmds.len().max(1),
                core::mem::size_of::<ngx_keyval_t>(),
            );
            if a.is_null() {
                return false;
            }
            for (k, v) in cmds {
                let kv = ngx_array_push(a) as *mut ngx_keyval_t;
                let (Some(key), Some(value), false) =
                    (cf.pool_cstr(k), cf.pool_cstr(v), kv.is_null())
                else {
                    return false;
                };
                kv.write(ngx_keyval_t { key, value });
            }
            ngx_ssl_conf_commands(cf.as_ptr(), self.ptr(), a) == NGX_OK as ngx_int_t
        }
    }
}

/// An nginx array of NUL-terminated copies of `items`, in the conf pool.
fn str_array(cf: Conf, items: &[Vec<u8>]) -> Option<*mut ngx_array_t> {
    let pool = cf.pool().as_ptr();
    // SAFETY: nginx's array API on the live conf pool; each pushed element
    // is written before the array is used.
    unsafe {
        let a = ngx_array_create(pool, items.len().max(1), core::mem::size_of::<ngx_str_t>());
        if a.is_null() {
            return None;
        }
        for it in items {
            let s = ngx_array_push(a) as *mut ngx_str_t;
            if s.is_null() {
                return None;
            }
            s.write(cf.pool_cstr(it)?);
        }
        Some(a)
    }
}

/// Appends one key log line (OpenSSL gives it without its newline).
unsafe extern "C" fn key_log_line(ssl: *const SSL, line: *const c_char) {
    guard((), || {
        // SAFETY: OpenSSL's live SSL object and NUL-terminated line; our
        // slot of its context holds the open file key_log set.
        unsafe {
            let ctx = SSL_get_SSL_CTX(ssl);
            let file = SSL_CTX_get_ex_data(ctx, KEY_LOG_INDEX.get()) as *const ngx_open_file_t;
            if file.is_null() || (*file).fd == -1 {
                return;
            }
            let mut l = core::ffi::CStr::from_ptr(line).to_bytes().to_vec();
            l.push(b'\n');
            // One write per line: with O_APPEND, lines from several
            // workers do not interleave.
            libc::write((*file).fd, l.as_ptr() as *const c_void, l.len());
        }
    })
}

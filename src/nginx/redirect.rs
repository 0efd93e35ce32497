//! Redirects: the internal redirect of `ngx.exec` (to a URI or a named
//! location) and the `Location` header of `ngx.redirect`.
use core::ptr;

use nginx_sys::*;

use super::request::{str_bytes, Rc, Request};

impl Request {
    /// `ngx.exec`'s target: `uri` copied into the request pool and split
    /// at its `?` by nginx, which refuses unsafe URIs (`None`; also when
    /// out of memory); `args` is appended to the query string it carried.
    /// Returns the URI and query string, in the request pool.
    pub fn exec_target(self, uri: &[u8], args: &[u8]) -> Result<(ngx_str_t, ngx_str_t), ExecError> {
        let mut u = self.pool_cstr(uri).ok_or(ExecError::NoMemory)?;
        let mut a = ngx_str_t::empty();
        let mut flags = NGX_HTTP_LOG_UNSAFE as ngx_uint_t;
        // SAFETY: the live request; u is a pool string nginx may cut and
        // point `a` into.
        if unsafe { ngx_http_parse_unsafe_uri(self.as_ptr(), &mut u, &mut a, &mut flags) }
            != NGX_OK as ngx_int_t
        {
            return Err(ExecError::Unsafe);
        }
        if !args.is_empty() {
            let mut joined = str_bytes(&a).to_vec();
            if !joined.is_empty() {
                joined.push(b'&');
            }
            joined.extend_from_slice(args);
            a = self.pool_cstr(&joined).ok_or(ExecError::NoMemory)?;
        }
        Ok((u, a))
    }

    /// Redirects the request internally to `uri` (a named location when
    /// it starts with `@`) with query string `args`: nginx runs the new
    /// location's phases at once, resets every module's context and
    /// takes a request reference the caller drops.
    pub fn exec(self, uri: &[u8], args: &[u8]) {
        self.set_write_handler(Some(ngx_http_core_run_phases));
        // nginx keeps the strings as the request's URI and arguments.
        let a = if args.is_empty() {
            Some(ngx_str_t::empty())
        } else {
            self.pool_cstr(args)
        };
        let (Some(mut u), Some(mut a)) = (self.pool_cstr(uri), a) else {
            // As nginx's own failing redirect: a reference for the caller
            // to drop, and a 500.
            self.hold();
            self.finalize(NGX_HTTP_INTERNAL_SERVER_ERROR as Rc);
            return;
        };
        // SAFETY: the live request; both strings live in its pool.
        unsafe {
            if uri.first() == Some(&b'@') {
                ngx_http_named_location(self.as_ptr(), &mut u);
            } else {
                ngx_http_internal_redirect(self.as_ptr(), &mut u, &mut a);
            }
        }
    }

    /// Adds `Location: uri` to the response headers for `ngx.redirect`,
    /// replacing the one nginx knows of. A relative URI is left out of
    /// `headers_out.location` (as upstream), so nginx's header filter
    /// does not make it absolute. False when out of memory.
    pub fn add_redirect_location(self, uri: &[u8]) -> bool {
        let Some(v) = self.pool_cstr(uri) else {
            return false;
        };
        // SAFETY: the live request's response header list (initialised
        // before any handler runs); ngx_list_push returns room for one
        // element in the request pool, which is fully written; the names
        // are static.
        unsafe {
            let ho = ptr::addr_of_mut!((*self.as_ptr()).headers_out);
            let h = ngx_list_push(ptr::addr_of_mut!((*ho).headers)) as *mut ngx_table_elt_t;
            if h.is_null() {
                return false;
            }
            ptr::write_bytes(h, 0, 1);
            (*h).hash = 1;
            (*h).key = ngx_str_t {
                len: 8,
                data: c"Location".as_ptr() as *mut u8,
            };
            (*h).lowcase_key = c"location".as_ptr() as *mut u8;
            (*h).value = v;
            if let Some(old) = (*ho).location.as_mut() {
                old.hash = 0;
                (*ho).location = ptr::null_mut();
            }
            if uri.first() != Some(&b'/') {
                (*ho).location = h;
            }
        }
        true
    }
}

/// Why `ngx.exec`'s target was refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExecError {
    NoMemory,
    Unsafe,
}

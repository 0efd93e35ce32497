//! The request's URI and query string, as `ngx.req.set_uri` and
//! `ngx.req.set_uri_args` change them.
use nginx_sys::*;

use super::request::Request;

impl Request {
    /// Sets the query string (copied into the request pool); a proxied
    /// request line is rebuilt from it.
    pub fn set_args(self, args: &[u8]) -> bool {
        let Some(s) = self.pool_cstr(args) else {
            return false;
        };
        // SAFETY: fields of the live request; the copy lives in its pool.
        unsafe {
            (*self.as_ptr()).args = s;
            (*self.as_ptr()).set_valid_unparsed_uri(0);
        }
        true
    }

    /// Sets the URI (copied into the request pool), which makes the
    /// request internal, and recomputes `$exten`. [`Request::jump_uri`]
    /// or [`Request::keep_location`] says what happens to the location.
    pub fn set_uri(self, uri: &[u8]) -> bool {
        let Some(s) = self.pool_cstr(uri) else {
            return false;
        };
        // SAFETY: fields of the live request; the copy lives in its pool,
        // where ngx_http_set_exten points the extension.
        unsafe {
            let r = self.as_ptr();
            (*r).uri = s;
            (*r).set_internal(1);
            (*r).set_valid_unparsed_uri(0);
            ngx_http_set_exten(r);
        }
        true
    }

    /// After [`Request::set_uri`]: nginx looks up the location for the
    /// new URI once the rewrite phase ends.
    pub fn jump_uri(self) {
        // SAFETY: a field of the live request.
        unsafe { (*self.as_ptr()).set_uri_changed(1) }
    }

    /// After [`Request::set_uri`]: the request stays in its location.
    pub fn keep_location(self) {
        // SAFETY: fields of the live request.
        unsafe {
            (*self.as_ptr()).set_valid_location(0);
            (*self.as_ptr()).set_uri_changed(0);
        }
    }
}

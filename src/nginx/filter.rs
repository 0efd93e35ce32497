//! nginx's output path: our places in the header and body filter chains,
//! and the calls that send a response through them (header, chains,
//! special buffers, a filter's own error response).
use core::cell::UnsafeCell;

use nginx_sys::*;

use super::chain::Chain;
use super::module;
use super::request::{Rc, Request, OK};

pub type HeaderFilterFn = unsafe extern "C" fn(*mut ngx_http_request_t) -> ngx_int_t;
pub type BodyFilterFn =
    unsafe extern "C" fn(*mut ngx_http_request_t, *mut ngx_chain_t) -> ngx_int_t;

/// The header filter below ours in nginx's chain.
pub struct NextHeaderFilter(UnsafeCell<ngx_http_output_header_filter_pt>);

// SAFETY: written once while nginx builds its filter chains and only read
// afterwards, on nginx's single event-loop thread.
unsafe impl Sync for NextHeaderFilter {}

impl Default for NextHeaderFilter {
    #[inline]
    fn default() -> Self {
        Self::new()
    }
}

impl NextHeaderFilter {
    pub const fn new() -> Self {
        NextHeaderFilter(UnsafeCell::new(None))
    }

    /// Puts `f` at the top of nginx's header filter chain, remembering the
    /// filter it goes before. Called from postconfiguration.
    #[inline]
    pub fn install(&self, f: HeaderFilterFn) {
        // SAFETY: nginx builds its filter chains while reading the
        // configuration, on one thread; the top is a plain function pointer
        // it reads when a response starts.
        unsafe {
            *self.0.get() = ngx_http_top_header_filter;
            ngx_http_top_header_filter = Some(f);
        }
    }

    /// Passes the header on to the next filter.
    #[inline]
    pub fn call(&self, r: Request) -> Rc {
        // SAFETY: see the Sync impl.
        let next = unsafe { *self.0.get() };
        match next {
            // SAFETY: nginx's next header filter takes any live request.
            Some(f) => unsafe { f(r.as_ptr()) },
            None => OK,
        }
    }
}

/// The body filter below ours in nginx's chain.
pub struct NextBodyFilter(UnsafeCell<ngx_http_output_body_filter_pt>);

// SAFETY: as NextHeaderFilter.
unsafe impl Sync for NextBodyFilter {}

impl Default for NextBodyFilter {
    #[inline]
    fn default() -> Self {
        Self::new()
    }
}

impl NextBodyFilter {
    pub const fn new() -> Self {
        NextBodyFilter(UnsafeCell::new(None))
    }

    /// Puts `f` at the top of nginx's body filter chain, remembering the
    /// filter it goes before. Called from postconfiguration.
    #[inline]
    pub fn install(&self, f: BodyFilterFn) {
        // SAFETY: as NextHeaderFilter::install.
        unsafe {
            *self.0.get() = ngx_http_top_body_filter;
            ngx_http_top_body_filter = Some(f);
        }
    }

    /// Passes `cl` on to the next filter.
    #[inline]
    pub fn call(&self, r: Request, cl: Option<Chain>) -> Rc {
        let cl = cl.map_or(core::ptr::null_mut(), Chain::as_ptr);
        // SAFETY: see the Sync impl.
        let next = unsafe { *self.0.get() };
        match next {
            // SAFETY: nginx's next body filter takes any live request with
            // a chain of live links (Chain's invariant) or null.
            Some(f) => unsafe { f(r.as_ptr(), cl) },
            None => OK,
        }
    }
}

impl Request {
    /// `ngx_http_send_header`: runs the header filters.
    #[inline]
    pub fn send_header(self) -> Rc {
        // SAFETY: nginx's header API on the live request.
        unsafe { ngx_http_send_header(self.as_ptr()) }
    }

    /// `ngx_http_output_filter`: runs the body filters on `cl` (`None`:
    /// write out what they still hold).
    #[inline]
    pub fn output_filter(self, cl: Option<Chain>) -> Rc {
        let cl = cl.map_or(core::ptr::null_mut(), Chain::as_ptr);
        // SAFETY: nginx's output API on the live request and a chain of
        // live links (Chain's invariant).
        unsafe { ngx_http_output_filter(self.as_ptr(), cl) }
    }

    /// Sends the last buffer: for a subrequest nginx makes it a
    /// `last_in_chain` buffer, which tells a capture (or SSI) that the
    /// subrequest's body is complete.
    #[inline]
    pub fn send_last(self) -> Rc {
        // SAFETY: nginx's output API on the live request.
        unsafe { ngx_http_send_special(self.as_ptr(), NGX_HTTP_LAST as ngx_uint_t) }
    }

    /// Sends a flush buffer.
    #[inline]
    pub fn send_flush_buf(self) -> Rc {
        // SAFETY: nginx's output API on the live request.
        unsafe { ngx_http_send_special(self.as_ptr(), NGX_HTTP_FLUSH as ngx_uint_t) }
    }

    /// From a header filter: replaces the response with nginx's special
    /// response for `status` (`ngx_http_filter_finalize_request`).
    #[inline]
    pub fn filter_finalize(self, status: Rc) -> Rc {
        // SAFETY: called from our header filter with its live request.
        unsafe { ngx_http_filter_finalize_request(self.as_ptr(), module::as_ptr(), status) }
    }

    /// Asks the filters before ours for the body in memory buffers.
    #[inline]
    pub fn set_filter_need_in_memory(self) {
        // SAFETY: a flag of the live request, read by the copy filter.
        unsafe { (*self.as_ptr()).set_filter_need_in_memory(1) }
    }

    /// A response that ends without the client body having been read:
    /// discards it, or its bytes would be parsed as the next request on a
    /// keepalive connection. False when that failed.
    #[inline]
    pub fn discard_unread_body(self) -> bool {
        let r = self.as_ptr();
        // SAFETY: fields of the live request; nginx's documented body API,
        // for a main request whose body nobody read (request_body unset).
        unsafe {
            !(*r).request_body.is_null()
                || !self.is_main()
                || ngx_http_discard_request_body(r) == NGX_OK as ngx_int_t
        }
    }
}

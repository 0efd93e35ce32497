//! The response headers (`r->headers_out`): nginx's list of header
//! elements and the built-in fields its header filter reads instead of
//! (or besides) the list, kept in step the way upstream does.
//!
//! Setting a header follows upstream's table of nginx's output headers:
//! the ones nginx's header filter reads from a `headers_out` field
//! (Server, Location, Last-Modified, ...) keep that field pointing at
//! their element, Cache-Control and Link (and WWW-Authenticate since nginx
//! 1.23) keep nginx's list of values, Content-Type and Content-Length go
//! to their dedicated fields, and every other header replaces its elements
//! in the list in place. An element whose `hash` is 0 is cleared: nginx's
//! header filter skips it.
//!
//! Elements and the strings they point at live in the request pool, so
//! the `&[u8]` this file hands out stay valid while the request lives;
//! callers use them within one call (nginx may rewrite the list between
//! calls).
use core::ptr;

use nginx_sys::*;

use super::request::{str_bytes, Request};
use crate::codec::text;

/// A response header name being set: its (escaped) name and lower-case
/// copy in the request pool, and the hash nginx's filters use to tell live
/// elements from cleared ones (never 0).
pub struct OutKey {
    name: ngx_str_t,
    lower: ngx_str_t,
    hash: ngx_uint_t,
}

impl OutKey {
    pub fn lower(&self) -> &[u8] {
        str_bytes(&self.lower)
    }
}

/// A response header value in the request pool; empty clears the header.
#[derive(Clone, Copy)]
pub struct OutValue(ngx_str_t);

impl OutValue {
    pub const EMPTY: OutValue = OutValue(ngx_str_t {
        len: 0,
        data: ptr::null_mut(),
    });

    fn bytes(&self) -> &[u8] {
        str_bytes(&self.0)
    }
}

/// The `headers_out` field of a header nginx keeps several values of: a
/// chain through `next` (nginx >= 1.23; before, WWW-Authenticate has a
/// single-element field that nginx's header filter does not read, so it is
/// set as a plain list header there) ...
#[cfg(ngx_lua_nginx_ge_1_25)]
type MultiField = *mut *mut ngx_table_elt_t;
/// ... or an array of element pointers (before).
#[cfg(not(ngx_lua_nginx_ge_1_25))]
type MultiField = *mut ngx_array_t;

impl Request {
    #[inline]
    fn headers_out(self) -> *mut ngx_http_headers_out_t {
        // SAFETY: a field of the live request (the handle's invariant);
        // only its address is taken.
        unsafe { ptr::addr_of_mut!((*self.as_ptr()).headers_out) }
    }

    /// Copies an (escaped) header name into the request pool, with its
    /// lower-case form and hash.
    pub fn out_key(self, name: &[u8]) -> Option<OutKey> {
        let key = self.pool_cstr(name)?;
        let lower = self.pool_cstr(name)?;
        // SAFETY: `lower` was just allocated for `name.len()` bytes (plus
        // the NUL) and nothing else refers to it yet: lowering the pool
        // copy costs no heap allocation per call.
        let hash = unsafe {
            core::slice::from_raw_parts_mut(lower.data, lower.len).make_ascii_lowercase();
            ngx_hash_key(lower.data, lower.len)
        };
        Some(OutKey {
            name: key,
            lower,
            hash: hash.max(1),
        })
    }

    /// Copies a header value into the request pool (NUL-terminated, as
    /// nginx's values are).
    #[inline]
    pub fn out_value(self, v: &[u8]) -> Option<OutValue> {
        self.pool_cstr(v).map(OutValue)
    }

    /// Sets one value of a response header (empty: clear it); with
    /// `no_override` it is added beside the existing ones.
    pub fn set_out_header(
        self,
        key: &OutKey,
        value: OutValue,
        no_override: bool,
    ) -> Result<(), &'static [u8]> {
        let ho = self.headers_out();
        // SAFETY: the live request's headers_out; value lives in its pool;
        // the fields written are the ones nginx's header filter reads.
        unsafe {
            match key.lower() {
                b"content-type" => {
                    // nginx matches types (gzip_types, ...) on the part
                    // before any parameters.
                    let v = value.bytes();
                    (*ho).content_type_len = v.iter().position(|&c| c == b';').unwrap_or(v.len());
                    (*ho).content_type = value.0;
                    (*ho).content_type_hash = 0;
                    (*ho).content_type_lowcase = ptr::null_mut();
                    // A Content-Type element in the list would be sent too.
                    self.set_generic(key, OutValue::EMPTY, no_override, None, true)
                }
                b"content-length" => {
                    (*ho).content_length_n = if value.0.len == 0 {
                        -1
                    } else {
                        text::parse_off(value.bytes()).ok_or(&b"failed to set header"[..])?
                    };
                    self.set_single(&mut (*ho).content_length, key, value, no_override)
                }
                b"last-modified" => {
                    (*ho).last_modified_time = if value.0.len == 0 {
                        -1
                    } else {
                        super::time::parse_http_time(value.bytes()) as time_t
                    };
                    self.set_single(&mut (*ho).last_modified, key, value, no_override)
                }
                b"location" => {
                    self.set_single(&mut (*ho).location, key, value, no_override)?;
                    // As upstream, a relative Location stays out of the
                    // field so nginx's header filter does not make it
                    // absolute.
                    let h = (*ho).location;
                    if !h.is_null() && str_bytes(&(*h).value).first() == Some(&b'/') {
                        (*ho).location = ptr::null_mut();
                    }
                    Ok(())
                }
                lower => {
                    if let Some(slot) = self.single_slot(lower) {
                        self.set_single(slot, key, value, no_override)
                    } else if let Some(field) = self.multi_field(lower) {
                        self.set_multi(field, key, value, no_override)
                    } else {
                        self.set_generic(key, value, no_override, None, false)
                    }
                }
            }
        }
    }

    /// The `headers_out` field of a header nginx keeps one element of.
    fn single_slot(self, lower: &[u8]) -> Option<*mut *mut ngx_table_elt_t> {
        let h = self.headers_out();
        // SAFETY: addresses of fields of the live request's headers_out.
        unsafe {
            Some(match lower {
                b"server" => ptr::addr_of_mut!((*h).server),
                b"date" => ptr::addr_of_mut!((*h).date),
                b"content-encoding" => ptr::addr_of_mut!((*h).content_encoding),
                b"refresh" => ptr::addr_of_mut!((*h).refresh),
                b"content-range" => ptr::addr_of_mut!((*h).content_range),
                b"accept-ranges" => ptr::addr_of_mut!((*h).accept_ranges),
                b"expires" => ptr::addr_of_mut!((*h).expires),
                b"etag" | b"e-tag" => ptr::addr_of_mut!((*h).etag),
                _ => return None,
            })
        }
    }

    fn multi_field(self, lower: &[u8]) -> Option<MultiField> {
        let h = self.headers_out();
        // SAFETY: addresses of fields of the live request's headers_out.
        unsafe {
            Some(match lower {
                b"cache-control" => ptr::addr_of_mut!((*h).cache_control),
                b"link" => ptr::addr_of_mut!((*h).link),
                #[cfg(ngx_lua_nginx_ge_1_25)]
                b"www-authenticate" => ptr::addr_of_mut!((*h).www_authenticate),
                _ => return None,
            })
        }
    }

    /// Visits the live (hash != 0) elements of the response header list.
    fn each_out_elt(self, mut f: impl FnMut(*mut ngx_table_elt_t)) {
        // SAFETY: nginx's list of parts of ngx_table_elt_t in the live
        // request's pool; each part holds nelts initialized elements.
        unsafe {
            let mut part: *mut ngx_list_part_t =
                ptr::addr_of_mut!((*self.headers_out()).headers.part);
            while !part.is_null() {
                let elts = (*part).elts as *mut ngx_table_elt_t;
                for i in 0..(*part).nelts {
                    let e = elts.add(i);
                    if (*e).hash != 0 {
                        f(e);
                    }
                }
                part = (*part).next;
            }
        }
    }

    /// Appends a list element (cleared, hash 0, when `value` is empty:
    /// some built-in slots still need one).
    fn push_out_elt(
        self,
        key: &OutKey,
        value: OutValue,
    ) -> Result<*mut ngx_table_elt_t, &'static [u8]> {
        // SAFETY: ngx_list_push on the live request's list returns room for
        // one element in its pool, which is initialized here.
        unsafe {
            let e = ngx_list_push(ptr::addr_of_mut!((*self.headers_out()).headers))
                as *mut ngx_table_elt_t;
            if e.is_null() {
                return Err(b"no memory");
            }
            ptr::write_bytes(e, 0, 1);
            (*e).hash = if value.0.len == 0 { 0 } else { key.hash };
            (*e).key = key.name;
            (*e).value = value.0;
            (*e).lowcase_key = key.lower.data;
            Ok(e)
        }
    }

    /// A header without a field of its own. Overriding: the first live
    /// element of that name takes the value (or all are cleared), in
    /// place; otherwise (or with `no_override`) a new element is appended.
    /// `slot` receives the element holding the value.
    fn set_generic(
        self,
        key: &OutKey,
        value: OutValue,
        no_override: bool,
        slot: Option<*mut *mut ngx_table_elt_t>,
        no_create: bool,
    ) -> Result<(), &'static [u8]> {
        if !no_override {
            let mut matched = false;
            self.each_out_elt(|e| {
                // SAFETY: a live element of the list (each_out_elt); slot
                // is a headers_out field of the same request.
                unsafe {
                    if !str_bytes(&(*e).key).eq_ignore_ascii_case(key.lower()) {
                        return;
                    }
                    if value.0.len == 0 || matched {
                        (*e).value.len = 0;
                        (*e).hash = 0;
                    } else {
                        (*e).value = value.0;
                        (*e).hash = key.hash;
                        if let Some(s) = slot {
                            *s = e;
                        }
                    }
                }
                matched = true;
            });
            if matched || (no_create && value.0.len == 0) {
                return Ok(());
            }
        }
        let e = self.push_out_elt(key, value)?;
        if let Some(s) = slot {
            // SAFETY: a headers_out field of the live request.
            unsafe { *s = e };
        }
        Ok(())
    }

    /// A header nginx keeps one element of in `*slot`.
    fn set_single(
        self,
        slot: *mut *mut ngx_table_elt_t,
        key: &OutKey,
        value: OutValue,
        no_override: bool,
    ) -> Result<(), &'static [u8]> {
        // SAFETY: slot is a headers_out field of the live request, null or
        // pointing at an element of its list.
        unsafe {
            let h = *slot;
            if h.is_null() {
                return self.set_generic(key, value, no_override, Some(slot), false);
            }
            if value.0.len == 0 {
                (*h).hash = 0;
                (*h).value = value.0;
            } else {
                (*h).hash = key.hash;
                (*h).key = key.name;
                (*h).value = value.0;
            }
        }
        Ok(())
    }

    /// A header nginx keeps several values of (Cache-Control, Link, ...):
    /// with `no_override` the value fills a cleared entry or is added;
    /// otherwise it replaces the first value and clears the others.
    #[cfg(ngx_lua_nginx_ge_1_25)]
    fn set_multi(
        self,
        field: MultiField,
        key: &OutKey,
        value: OutValue,
        no_override: bool,
    ) -> Result<(), &'static [u8]> {
        // SAFETY: field is a headers_out chain of the live request: null or
        // elements of its list linked through `next`.
        unsafe {
            if no_override {
                let mut h = *field;
                while !h.is_null() {
                    if (*h).hash == 0 {
                        (*h).value = value.0;
                        (*h).hash = key.hash;
                        return Ok(());
                    }
                    h = (*h).next;
                }
            } else if !(*field).is_null() {
                let first = *field;
                let mut h = (*first).next;
                while !h.is_null() {
                    (*h).hash = 0;
                    (*h).value.len = 0;
                    h = (*h).next;
                }
                (*first).value = value.0;
                (*first).hash = if value.0.len == 0 { 0 } else { key.hash };
                return Ok(());
            } else {
                // Elements nginx did not chain (copied from an upstream).
                let mut matched = false;
                self.each_out_elt(|e| {
                    if !str_bytes(&(*e).key).eq_ignore_ascii_case(key.lower()) {
                        return;
                    }
                    if matched || value.0.len == 0 {
                        (*e).hash = 0;
                        (*e).value.len = 0;
                    } else {
                        (*e).value = value.0;
                        (*e).hash = key.hash;
                        (*e).next = ptr::null_mut();
                        *field = e;
                    }
                    matched = true;
                });
                if matched {
                    return Ok(());
                }
            }
            let mut tail = field;
            while !(*tail).is_null() {
                tail = ptr::addr_of_mut!((**tail).next);
            }
            *tail = self.push_out_elt(key, value)?;
        }
        Ok(())
    }

    #[cfg(not(ngx_lua_nginx_ge_1_25))]
    fn set_multi(
        self,
        field: MultiField,
        key: &OutKey,
        value: OutValue,
        no_override: bool,
    ) -> Result<(), &'static [u8]> {
        // SAFETY: field is a headers_out array of pointers to elements of
        // the live request's list (unset: elts null), grown in its pool;
        // ngx_array_init is a static inline function in C, done here.
        unsafe {
            let pa = field;
            if (*pa).elts.is_null() {
                let size = core::mem::size_of::<*mut ngx_table_elt_t>();
                (*pa).elts = ngx_palloc(self.pool(), 2 * size);
                if (*pa).elts.is_null() {
                    return Err(b"no memory");
                }
                (*pa).nelts = 0;
                (*pa).size = size;
                (*pa).nalloc = 2;
                (*pa).pool = self.pool();
            }
            let elts = |pa: *mut ngx_array_t| {
                core::slice::from_raw_parts((*pa).elts as *const *mut ngx_table_elt_t, (*pa).nelts)
            };
            if no_override {
                for &h in elts(pa) {
                    if (*h).hash == 0 {
                        (*h).value = value.0;
                        (*h).hash = key.hash;
                        return Ok(());
                    }
                }
            } else if (*pa).nelts > 0 {
                let all = elts(pa);
                for &h in &all[1..] {
                    (*h).hash = 0;
                    (*h).value.len = 0;
                }
                (*all[0]).value = value.0;
                (*all[0]).hash = if value.0.len == 0 { 0 } else { key.hash };
                return Ok(());
            } else {
                // Elements nginx did not record (copied from an upstream).
                let mut matched = false;
                let mut failed = false;
                self.each_out_elt(|e| {
                    if !str_bytes(&(*e).key).eq_ignore_ascii_case(key.lower()) {
                        return;
                    }
                    if matched || value.0.len == 0 {
                        (*e).hash = 0;
                        (*e).value.len = 0;
                    } else {
                        (*e).value = value.0;
                        (*e).hash = key.hash;
                        let ph = ngx_array_push(pa) as *mut *mut ngx_table_elt_t;
                        if ph.is_null() {
                            failed = true;
                        } else {
                            *ph = e;
                        }
                    }
                    matched = true;
                });
                if failed {
                    return Err(b"no memory");
                }
                if matched {
                    return Ok(());
                }
            }
            let ph = ngx_array_push(pa) as *mut *mut ngx_table_elt_t;
            if ph.is_null() {
                return Err(b"no memory");
            }
            *ph = self.push_out_elt(key, value)?;
        }
        Ok(())
    }

    // ---- reading -----------------------------------------------------------

    /// Visits the live response header elements: name as set (elements
    /// from other modules may have no lower-case key at all) and value.
    pub fn each_out_header(&self, mut f: impl FnMut(&[u8], &[u8])) {
        self.each_out_elt(|e| {
            // SAFETY: a live element of the list; its strings live in the
            // request pool (or nginx's configuration).
            let e = unsafe { &*e };
            f(str_bytes(&e.key), str_bytes(&e.value))
        });
    }

    /// How many elements the response header list has, cleared ones too
    /// (upstream counts them against `ngx.resp.get_headers`' limit).
    pub fn out_header_slots(self) -> usize {
        let mut total = 0;
        // SAFETY: nginx's list of parts in the live request's pool.
        unsafe {
            let mut part: *const ngx_list_part_t =
                ptr::addr_of!((*self.headers_out()).headers.part);
            while !part.is_null() {
                total += (*part).nelts;
                part = (*part).next;
            }
        }
        total
    }

    /// The Content-Type nginx will send (empty: none yet).
    #[inline]
    pub fn content_type(&self) -> &[u8] {
        // SAFETY: a field of the live request; the string lives in its pool
        // or in nginx's configuration.
        str_bytes(unsafe { &(*self.headers_out()).content_type })
    }

    /// `content_length_n`: the body length nginx announces (-1: unknown).
    #[inline]
    pub fn content_length_n(self) -> i64 {
        // SAFETY: a field of the live request.
        unsafe { (*self.headers_out()).content_length_n }
    }

    /// The Content-Length nginx's header filter writes from
    /// `content_length_n`, when no element of its own carries one.
    #[inline]
    pub fn computed_content_length(self) -> Option<i64> {
        // SAFETY: fields of the live request.
        let (elt, n) = unsafe {
            let ho = self.headers_out();
            ((*ho).content_length, (*ho).content_length_n)
        };
        (elt.is_null() && n >= 0).then_some(n)
    }

    /// Announces a body of `n` bytes, dropping a Content-Length element
    /// set earlier (nginx's header filter then writes `n`).
    pub fn set_content_length(self, n: i64) {
        // SAFETY: fields of the live request; the element, if any, is in
        // its list.
        unsafe {
            let ho = self.headers_out();
            (*ho).content_length_n = n;
            if !(*ho).content_length.is_null() {
                (*(*ho).content_length).hash = 0;
                (*ho).content_length = ptr::null_mut();
            }
        }
    }

    /// The Last-Modified time nginx will send (-1: none).
    #[allow(clippy::unnecessary_cast)]
    #[inline]
    pub fn last_modified_time(self) -> i64 {
        // SAFETY: a field of the live request.
        unsafe { (*self.headers_out()).last_modified_time as i64 }
    }

    /// Whether the connection is kept alive after this response.
    #[inline]
    pub fn keepalive(self) -> bool {
        // SAFETY: a field of the live request.
        unsafe { (*self.as_ptr()).keepalive() != 0 }
    }

    /// Whether the response body goes out chunked.
    #[inline]
    pub fn chunked(self) -> bool {
        // SAFETY: a field of the live request.
        unsafe { (*self.as_ptr()).chunked() != 0 }
    }

    /// nginx's `default_type` (or the type of the URI's extension) as the
    /// Content-Type; false when out of memory.
    pub fn set_default_content_type(self) -> bool {
        // SAFETY: nginx's own helper on the live request.
        unsafe { ngx_http_set_content_type(self.as_ptr()) == NGX_OK as ngx_int_t }
    }
}

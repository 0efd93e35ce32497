//! The request's header list (`r->headers_in`): reading its elements,
//! adding, replacing and removing them while keeping nginx's parsed
//! fields (`host`, `content_length_n`, `user_agent`, ...) in step, and
//! giving a subrequest a list of its own.
use core::marker::PhantomData;
use core::ptr;

use nginx_sys::*;

use super::request::{str_bytes, Request};
use crate::codec::text;

/// The elements of a header list as raw pointers, for the code here that
/// relinks or stores them.
struct RawElts {
    part: *mut ngx_list_part_t,
    i: usize,
}

impl RawElts {
    /// # Safety
    /// `list` is an nginx list of `ngx_table_elt_t` (initialised, or
    /// zeroed as in a request nginx gave up on before reading its header),
    /// and it is not changed while the iterator is used.
    unsafe fn new(list: *mut ngx_list_t) -> RawElts {
        RawElts {
            // SAFETY: see above; the first part is inside the list.
            part: unsafe { ptr::addr_of_mut!((*list).part) },
            i: 0,
        }
    }
}

impl Iterator for RawElts {
    type Item = *mut ngx_table_elt_t;

    #[inline]
    fn next(&mut self) -> Option<*mut ngx_table_elt_t> {
        while !self.part.is_null() {
            // SAFETY: new's contract: each part holds `nelts` elements in
            // `elts` and links to the next part or null.
            unsafe {
                let part = &*self.part;
                if self.i < part.nelts {
                    self.i += 1;
                    return Some((part.elts as *mut ngx_table_elt_t).add(self.i - 1));
                }
                self.part = part.next;
            }
            self.i = 0;
        }
        None
    }
}

/// One element of a header list, for as long as the list is not changed.
#[derive(Clone, Copy)]
pub struct Header<'a>(&'a ngx_table_elt_t);

impl<'a> Header<'a> {
    #[inline]
    pub fn key(self) -> &'a [u8] {
        str_bytes(&self.0.key)
    }

    /// The lower-cased name nginx keeps beside the name (the name itself
    /// for an element made without one).
    #[inline]
    pub fn lowcase_key(self) -> &'a [u8] {
        if self.0.lowcase_key.is_null() {
            return self.key();
        }
        // SAFETY: an element's lowcase_key holds key.len bytes, in the same
        // pool as the key.
        unsafe { core::slice::from_raw_parts(self.0.lowcase_key, self.0.key.len) }
    }

    #[inline]
    pub fn value(self) -> &'a [u8] {
        str_bytes(&self.0.value)
    }
}

/// The elements of a header list, in order.
pub struct Headers<'a>(RawElts, PhantomData<&'a ngx_list_t>);

impl<'a> Iterator for Headers<'a> {
    type Item = Header<'a>;

    #[inline]
    fn next(&mut self) -> Option<Header<'a>> {
        // SAFETY: the elements live in the request pool, and the borrow of
        // the request handle that made the iterator keeps the list as is.
        self.0.next().map(|h| Header(unsafe { &*h }))
    }
}

/// Visits every element of a header list.
///
/// # Safety
/// `list` is an nginx list of `ngx_table_elt_t`.
pub unsafe fn for_each_elt(list: *mut ngx_list_t, f: impl FnMut(*mut ngx_table_elt_t)) {
    // SAFETY: the caller's contract.
    unsafe { RawElts::new(list) }.for_each(f)
}

/// Multi-valued `headers_in` fields that are arrays before nginx 1.23.
#[cfg_attr(ngx_lua_nginx_ge_1_25, allow(dead_code))]
fn is_array_field(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"cookie") || name.eq_ignore_ascii_case(b"x-forwarded-for")
}

/// The entries of nginx's `ngx_http_headers_in` table: a header name and
/// the offset of its field in `ngx_http_headers_in_t`.
fn headers_in_table() -> impl Iterator<Item = (&'static [u8], ngx_uint_t)> {
    let table = ptr::addr_of!(ngx_http_headers_in) as *const ngx_http_header_t;
    (0..)
        // SAFETY: nginx's static table ends with an entry whose name is
        // empty; the iteration stops there.
        .map(move |i| unsafe { &*table.add(i) })
        .take_while(|e| e.name.len != 0)
        .map(|e| {
            // SAFETY: the names are static strings of nginx's binary.
            let name = unsafe { core::slice::from_raw_parts(e.name.data, e.name.len) };
            (name, e.offset)
        })
}

/// The `ngx_http_headers_in` entry of a header name (any case): nginx's
/// own hash of that table (built lower-cased at configuration time), or
/// a walk over the table for a name longer than the lookup buffer.
fn header_in_entry(r: Request, name: &[u8]) -> Option<(&'static [u8], ngx_uint_t)> {
    let mut lower = [0u8; 32];
    if name.len() > lower.len() {
        return headers_in_table().find(|(n, _)| n.eq_ignore_ascii_case(name));
    }
    // SAFETY: `lower` has room for name.len() bytes; the core main conf of
    // a live request holds the headers_in hash nginx built from its
    // ngx_http_headers_in table, whose values are that table's entries
    // (static, names in nginx's binary).
    unsafe {
        let hash = ngx_hash_strlow(lower.as_mut_ptr(), name.as_ptr() as *mut u8, name.len());
        let cmcf = r.core_main_conf();
        let e = ngx_hash_find(
            &mut (*cmcf).headers_in_hash,
            hash,
            lower.as_mut_ptr(),
            name.len(),
        ) as *const ngx_http_header_t;
        let e = e.as_ref()?;
        Some((
            core::slice::from_raw_parts(e.name.data, e.name.len),
            e.offset,
        ))
    }
}

/// One field of `headers_in` being synced with the header list.
#[derive(Clone, Copy)]
struct FieldIn {
    offset: ngx_uint_t,
    /// An `ngx_array_t` of element pointers (nginx < 1.23's multi headers).
    #[cfg_attr(ngx_lua_nginx_ge_1_25, allow(dead_code))]
    array: bool,
}

impl FieldIn {
    fn new(name: &'static [u8], offset: ngx_uint_t) -> FieldIn {
        FieldIn {
            offset,
            array: cfg!(not(ngx_lua_nginx_ge_1_25)) && is_array_field(name),
        }
    }
}

/// The last element given to each field in one sync, for appending to a
/// field's `next` chain (nginx ≥ 1.23) without walking it: a handful of
/// fields at most in practice; one past the capacity walks its chain.
#[cfg(ngx_lua_nginx_ge_1_25)]
struct Lasts {
    n: usize,
    slots: [(ngx_uint_t, *mut ngx_table_elt_t); 16],
}

impl Request {
    /// The request's header elements, as the client sent them and Lua
    /// changed them (the list must not be changed while they are read).
    #[inline]
    pub fn headers_in(&self) -> Headers<'_> {
        // SAFETY: a live request's header list: nginx initialises it
        // before any handler runs (a request it rejected while reading the
        // header has it zeroed, which reads as empty).
        Headers(
            unsafe { RawElts::new(ptr::addr_of_mut!((*self.as_ptr()).headers_in.headers)) },
            PhantomData,
        )
    }

    /// The header list, for the writers below.
    fn headers_in_list(self) -> *mut ngx_list_t {
        // SAFETY: a field of the live request.
        unsafe { ptr::addr_of_mut!((*self.as_ptr()).headers_in.headers) }
    }

    /// Whether nginx set up the header list and can take new headers: a
    /// 400 Bad Request (an error_page target) never got one.
    fn headers_in_ready(self) -> bool {
        // SAFETY: fields of the live request.
        unsafe { !(*self.as_ptr()).headers_in.headers.last.is_null() && self.status() != 400 }
    }

    /// Appends an element to the header list, zeroed, then filled by
    /// `fill`; false when out of memory.
    fn push_header_in(self, fill: impl FnOnce(&mut ngx_table_elt_t)) -> bool {
        // SAFETY: an initialised list of the live request (headers_in_ready
        // or copy_headers_in_from made it); ngx_list_push returns room for
        // one element in the request pool, which a zeroed element is valid
        // for, and nothing else refers to it yet.
        unsafe {
            let h = ngx_list_push(self.headers_in_list()) as *mut ngx_table_elt_t;
            if h.is_null() {
                return false;
            }
            ptr::write_bytes(h, 0, 1);
            fill(&mut *h);
        }
        true
    }

    /// Removes the elements whose name is `lower` (case-insensitive);
    /// true if there were any.
    fn remove_header_in(self, lower: &[u8]) -> bool {
        let mut removed = false;
        // SAFETY: a field of the live request.
        let mut part = unsafe { ptr::addr_of_mut!((*self.headers_in_list()).part) };
        while !part.is_null() {
            // SAFETY: the list's parts hold nelts elements each; shifting
            // the rest of a part down keeps it consistent, and list->last
            // still points at the last part.
            unsafe {
                let elts = (*part).elts as *mut ngx_table_elt_t;
                let mut i = 0;
                while i < (*part).nelts {
                    if str_bytes(&(*elts.add(i)).key).eq_ignore_ascii_case(lower) {
                        ptr::copy(elts.add(i + 1), elts.add(i), (*part).nelts - i - 1);
                        (*part).nelts -= 1;
                        removed = true;
                    } else {
                        i += 1;
                    }
                }
                part = (*part).next;
            }
        }
        removed
    }

    /// Points nginx's parsed `headers_in` fields (found through nginx's
    /// own `ngx_http_headers_in` table) at the current elements: the field
    /// of `only`, or all of them after elements were removed or copied
    /// (removal shifts the elements that follow, so every field may be
    /// stale).
    fn sync_fields_in(self, only: Option<&[u8]>) {
        // Each element is looked up in nginx's hash of the table, and only
        // the fields that hold something are emptied first (a subrequest
        // copies its parent's headers and syncs them all: a walk over the
        // table per element cost about 2,000 instructions a subrequest).
        let only = match only {
            Some(name) => match header_in_entry(self, name) {
                Some((n, offset)) => {
                    let f = FieldIn::new(n, offset);
                    self.reset_field_in(f);
                    Some((name, f))
                }
                None => return,
            },
            None => {
                let mut e = ptr::addr_of!(ngx_http_headers_in) as *const ngx_http_header_t;
                // SAFETY: nginx's static table ends with an entry whose
                // name is empty; `offset` is that of a pointer field of
                // ngx_http_headers_in_t or (the array fields of nginx <
                // 1.23) of an ngx_array_t, whose first word is its `elts`
                // pointer; the names are static strings of nginx's binary.
                unsafe {
                    while (*e).name.len != 0 {
                        let offset = (*e).offset;
                        if !(*(self.field_in(offset) as *const *const u8)).is_null() {
                            let name = core::slice::from_raw_parts((*e).name.data, (*e).name.len);
                            self.reset_field_in(FieldIn::new(name, offset));
                        }
                        e = e.add(1);
                    }
                }
                None
            }
        };
        #[cfg(ngx_lua_nginx_ge_1_25)]
        let mut lasts = Lasts {
            n: 0,
            slots: [(0, ptr::null_mut()); 16],
        };
        // SAFETY: the request's header list, which add_to_field_in does
        // not change (it only links elements).
        for h in unsafe { RawElts::new(self.headers_in_list()) } {
            // SAFETY: the list yields live elements of the request pool.
            let key = str_bytes(unsafe { &(*h).key });
            let field = match only {
                Some((name, f)) => name.eq_ignore_ascii_case(key).then_some(f),
                None => header_in_entry(self, key).map(|(n, offset)| FieldIn::new(n, offset)),
            };
            if let Some(f) = field {
                self.add_to_field_in(
                    f,
                    h,
                    #[cfg(ngx_lua_nginx_ge_1_25)]
                    &mut lasts,
                );
            }
        }
    }

    /// The address of the field at `offset` in the request's `headers_in`.
    fn field_in(self, offset: ngx_uint_t) -> *mut u8 {
        // SAFETY: a field of the live request; `offset` comes from nginx's
        // ngx_http_headers_in table, so it lies inside ngx_http_headers_in_t.
        unsafe { (ptr::addr_of_mut!((*self.as_ptr()).headers_in) as *mut u8).add(offset) }
    }

    /// Empties the field: no element (or an empty array).
    fn reset_field_in(self, f: FieldIn) {
        // SAFETY: `offset` comes from nginx's ngx_http_headers_in table, so
        // it is the offset of a `ngx_table_elt_t *` field of
        // ngx_http_headers_in_t (for nginx < 1.23's multi headers, an
        // `ngx_array_t` of such pointers, in the request pool or zeroed).
        unsafe {
            let field = self.field_in(f.offset);
            #[cfg(not(ngx_lua_nginx_ge_1_25))]
            if f.array {
                (*(field as *mut ngx_array_t)).nelts = 0;
                return;
            }
            *(field as *mut *mut ngx_table_elt_t) = ptr::null_mut();
        }
    }

    /// Adds element `h` (named as the field) to the field: the first one
    /// is the field's; later ones join its array (nginx < 1.23's multi
    /// headers) or its `next` chain (nginx ≥ 1.23).
    fn add_to_field_in(
        self,
        f: FieldIn,
        h: *mut ngx_table_elt_t,
        #[cfg(ngx_lua_nginx_ge_1_25)] lasts: &mut Lasts,
    ) {
        // SAFETY: as reset_field_in; `h` is a live element of the
        // request's header list.
        unsafe {
            let field = self.field_in(f.offset);
            #[cfg(not(ngx_lua_nginx_ge_1_25))]
            if f.array {
                let arr = field as *mut ngx_array_t;
                if (*arr).elts.is_null() {
                    // A zeroed array (a subrequest's, or never used);
                    // ngx_array_init is a static inline function in C.
                    let size = core::mem::size_of::<*mut ngx_table_elt_t>();
                    (*arr).elts = ngx_palloc(self.pool(), 2 * size);
                    (*arr).nelts = 0;
                    (*arr).size = size;
                    (*arr).nalloc = if (*arr).elts.is_null() { 0 } else { 2 };
                    (*arr).pool = self.pool();
                }
                if (*arr).nalloc == 0 {
                    return;
                }
                let slot = ngx_array_push(arr) as *mut *mut ngx_table_elt_t;
                if !slot.is_null() {
                    *slot = h;
                }
                return;
            }
            let first = field as *mut *mut ngx_table_elt_t;
            #[cfg(ngx_lua_nginx_ge_1_25)]
            {
                (*h).next = ptr::null_mut();
                if !(*first).is_null() {
                    let slots = &mut lasts.slots[..lasts.n];
                    let last = match slots.iter_mut().find(|s| s.0 == f.offset) {
                        Some(s) => core::mem::replace(&mut s.1, h),
                        None => {
                            // Past the capacity: the chain's end.
                            let mut e = *first;
                            while !(*e).next.is_null() {
                                e = (*e).next;
                            }
                            e
                        }
                    };
                    (*last).next = h;
                    return;
                }
                if lasts.n < lasts.slots.len() {
                    lasts.slots[lasts.n] = (f.offset, h);
                    lasts.n += 1;
                }
            }
            if (*first).is_null() {
                *first = h;
            }
        }
    }

    /// Effects of a request header on nginx's derived request fields.
    fn header_in_effects(self, lower: &[u8], value: Option<&[u8]>) {
        // SAFETY: the live request's parsed header, written before nginx
        // runs again.
        let hi = unsafe { &mut (*self.as_ptr()).headers_in };
        match lower {
            b"connection" => {
                // As nginx parses it: the tokens anywhere in the value.
                let v = value.unwrap_or(b"").to_ascii_lowercase();
                let has = |n: &[u8]| v.windows(n.len()).any(|w| w == n);
                let t = if has(b"close") {
                    hi.keep_alive_n = -1;
                    NGX_HTTP_CONNECTION_CLOSE
                } else if has(b"keep-alive") {
                    NGX_HTTP_CONNECTION_KEEP_ALIVE
                } else {
                    0
                };
                hi.set_connection_type(t as _);
            }
            b"content-length" => {
                hi.content_length_n = value.and_then(text::parse_off).unwrap_or(-1);
            }
            b"user-agent" => {
                let ua = value.unwrap_or(b"");
                let has = |n: &[u8]| ua.windows(n.len()).any(|w| w == n);
                let msie = has(b"MSIE ");
                hi.set_msie(msie as u32);
                hi.set_msie6(
                    (msie && ua.windows(6).any(|w| w == b"MSIE 5" || w == b"MSIE 6")) as u32,
                );
                hi.set_opera(has(b"Opera") as u32);
                hi.set_gecko(has(b"Gecko/") as u32);
                hi.set_chrome(has(b"Chrome/") as u32);
                hi.set_safari((has(b"Safari/") && has(b"Mac OS X")) as u32);
                hi.set_konqueror(has(b"Konqueror") as u32);
            }
            _ => {}
        }
    }

    /// Gives this subrequest of `parent` a header list of its own: nginx's
    /// subrequest is a shallow copy of the parent's `headers_in`, so a
    /// header set in the subrequest would land in the parent's list. The
    /// parent's elements are copied (without `Content-Length` when
    /// `drop_length`), then nginx's parsed fields are pointed at the
    /// copies. False when `parent` is not this request's parent, or on
    /// allocation failure.
    pub fn copy_headers_in_from(self, parent: Request, drop_length: bool) -> bool {
        if self.parent() != Some(parent) {
            return false;
        }
        let list = self.headers_in_list();
        // SAFETY: the subrequest's own header list, initialised in its pool
        // (which is the parent's: a subrequest shares it); the parent's
        // elements are copied by value and their strings live in that pool
        // or in the connection's header buffers, which outlive both.
        unsafe {
            if ngx_list_init(
                list,
                self.pool(),
                20,
                core::mem::size_of::<ngx_table_elt_t>(),
            ) != NGX_OK as ngx_int_t
            {
                return false;
            }
            // The array fields of nginx < 1.23 must not share the parent's
            // array memory either: add_to_field_in allocates new ones.
            #[cfg(not(ngx_lua_nginx_ge_1_25))]
            {
                (*self.as_ptr()).headers_in.cookies = core::mem::zeroed();
                (*self.as_ptr()).headers_in.x_forwarded_for = core::mem::zeroed();
            }
        }
        for h in parent.headers_in() {
            if drop_length && h.key().eq_ignore_ascii_case(b"content-length") {
                continue;
            }
            if !self.push_header_in(|c| *c = *h.0) {
                return false;
            }
        }
        self.sync_fields_in(None);
        true
    }

    /// Adds a `Content-Length: n` element to the request headers.
    pub fn push_content_length_in(self, n: usize) -> bool {
        let Some(v) = self.pool_cstr(n.to_string().as_bytes()) else {
            return false;
        };
        let pushed = self.push_header_in(|h| {
            h.key = ngx_str_t {
                len: 14,
                data: c"Content-Length".as_ptr() as *mut u8,
            };
            h.lowcase_key = c"content-length".as_ptr() as *mut u8;
            // SAFETY: lowcase_key points at key.len bytes (a static string).
            h.hash = unsafe { ngx_hash_key(h.lowcase_key, h.key.len) };
            h.value = v;
        });
        if !pushed {
            return false;
        }
        self.sync_fields_in(Some(b"content-length"));
        self.set_content_length_in_n(n as off_t);
        true
    }

    /// The body length nginx reads and forwards (`-1`: none given).
    pub fn content_length_in(self) -> off_t {
        // SAFETY: a field of the live request.
        unsafe { (*self.as_ptr()).headers_in.content_length_n }
    }

    /// Sets the parsed body length alone (the header follows with
    /// [`Request::set_content_length_in`]).
    pub fn set_content_length_in_n(self, n: off_t) {
        // SAFETY: a field of the live request.
        unsafe { (*self.as_ptr()).headers_in.content_length_n = n }
    }

    /// Sets the request's Content-Length to `n`: the parsed length, and
    /// the header proxy_pass forwards.
    pub fn set_content_length_in(self, n: off_t) -> Result<(), &'static [u8]> {
        self.set_content_length_in_n(n);
        let digits = n.to_string();
        // SAFETY: a field of the live request; the element it points at
        // (if any) lives in the request pool.
        let h = unsafe { (*self.as_ptr()).headers_in.content_length };
        // SAFETY: as above.
        if let Some(h) = unsafe { h.as_mut() } {
            h.value = self.pool_cstr(digits.as_bytes()).ok_or(&b"no memory"[..])?;
            return Ok(());
        }
        self.set_header_in(
            b"Content-Length",
            core::iter::once(digits.as_bytes()),
            true,
            None,
        )
        .map_err(|_| &b"failed to reset the Content-Length input header"[..])
    }

    /// Sets (appends, with `replace` false) or clears (no values) a
    /// request header, escaping its name and values, and keeps nginx's
    /// parsed `headers_in` fields in step. `host_var` is `$host`'s index,
    /// whose cached value a new Host makes stale.
    pub fn set_header_in<'a>(
        self,
        key: &[u8],
        values: impl ExactSizeIterator<Item = &'a [u8]>,
        replace: bool,
        host_var: Option<usize>,
    ) -> Result<(), &'static [u8]> {
        if !self.headers_in_ready() {
            // Upstream ignores the call too.
            return Ok(());
        }
        let name = text::escape_header(key, true);
        let lower = name.to_ascii_lowercase();
        let values: Vec<&[u8]> = values.collect();
        let nvals = values.len();
        // nginx's idea of the host ($host, server lookup) comes from the
        // first value, which must be a valid host (upstream refuses others).
        let server = match (&lower[..], values.first()) {
            (b"host", Some(v)) if !v.is_empty() => {
                let escaped = text::escape_header(v, false);
                match text::validate_host(&escaped) {
                    Some(h) => Some(h),
                    None => return Err(b"failed to set header"),
                }
            }
            _ => None,
        };
        // nginx reads the body by content_length_n: a value it cannot parse
        // (upstream refuses it) would leave the body to be parsed as the
        // next request on the connection.
        if lower == b"content-length"
            && values
                .iter()
                .any(|v| !v.is_empty() && text::parse_off(v).is_none())
        {
            return Err(b"failed to set header");
        }
        let removed = (replace || nvals == 0) && self.remove_header_in(&lower);
        let mut first: Option<ngx_str_t> = None;
        for v in values {
            let value = text::escape_header(v, false);
            let (Some(k), Some(lk), Some(val)) = (
                self.pool_cstr(&name),
                self.pool_cstr(&lower),
                self.pool_cstr(&value),
            ) else {
                return Err(b"no memory");
            };
            let pushed = self.push_header_in(|h| {
                // SAFETY: lk holds lk.len bytes in the request pool.
                h.hash = unsafe { ngx_hash_key(lk.data, lk.len) };
                h.key = k;
                h.lowcase_key = lk.data;
                h.value = val;
            });
            if !pushed {
                return Err(b"no memory");
            }
            first.get_or_insert(val);
        }
        self.sync_fields_in(if removed { None } else { Some(&lower) });
        // The derived fields follow the first remaining value.
        let cur = match &first {
            Some(v) => Some(str_bytes(v)),
            None if !replace => self
                .headers_in()
                .find(|h| h.key().eq_ignore_ascii_case(&lower))
                .map(|h| h.value()),
            None => None,
        };
        self.header_in_effects(&lower, cur);
        if lower == b"host" {
            self.set_server(server.as_deref(), host_var)?;
        }
        Ok(())
    }

    /// `headers_in.server` after Host changed, and a fresh `$host` (nginx
    /// caches indexed variables per request).
    fn set_server(self, host: Option<&[u8]>, host_var: Option<usize>) -> Result<(), &'static [u8]> {
        let server = match host {
            Some(h) => self.pool_cstr(h).ok_or(&b"no memory"[..])?,
            None => ngx_str_t::empty(),
        };
        // SAFETY: fields of the live request; the index was taken at
        // configuration time, so r->variables has that slot.
        unsafe {
            (*self.as_ptr()).headers_in.server = server;
            if let Some(i) = host_var {
                let v = (*self.as_ptr()).variables.add(i);
                (*v).set_valid(0);
                (*v).set_not_found(0);
            }
        }
        Ok(())
    }
}

//! What `ngx.location.capture*` needs of nginx's subrequests: creating one
//! (`ngx_http_subrequest`) and giving it its own body, method and
//! variables; recognising it again by its post-subrequest handler; turning
//! an error status into an empty response; reading its response; and the
//! capture filters' chain work (installing them, draining buffers).
//!
//! Every function works on a live request through a [`Request`] handle
//! (see `request.rs`): a subrequest lives in its main request's pool, as
//! long as the main request, and everything it points at (its header
//! lists, body buffers, the strings of both) is in that pool or in the
//! configuration.
use core::ffi::c_void;
use core::ptr::{self, NonNull};

use nginx_sys::*;

use super::request::{str_bytes, Rc, Request, ERROR, OK};

/// What nginx calls when one of our subrequests is finalized.
pub type PostSubrequest =
    unsafe extern "C" fn(*mut ngx_http_request_t, *mut c_void, ngx_int_t) -> ngx_int_t;

/// A subrequest's response as nginx keeps it outside the header list.
pub struct ResponseMeta<'a> {
    pub status: ngx_uint_t,
    pub content_type: &'a [u8],
    /// The numeric Content-Length when no header element carries it (-1:
    /// none).
    pub content_length: off_t,
    pub location: &'a [u8],
    /// A Last-Modified time not yet turned into a header (-1: none).
    pub last_modified_time: time_t,
}

fn fields(r: &Request) -> &ngx_http_request_t {
    // SAFETY: the handle's invariant (the request is alive); the borrow
    // ends with the caller's expression.
    unsafe { &*r.as_ptr() }
}

#[allow(clippy::mut_from_ref)]
fn fields_mut(r: &Request) -> &mut ngx_http_request_t {
    // SAFETY: as fields(); the worker is single-threaded and no other Rust
    // reference to the request is held across calls.
    unsafe { &mut *r.as_ptr() }
}

/// The `data` of the request's post-subrequest record when its handler
/// is `handler` (a subrequest created with it keeps that record across
/// `ngx.exec` and `ngx.req.set_uri` jumps, which reset module contexts).
pub fn post_subrequest_data(r: Request, handler: PostSubrequest) -> Option<NonNull<c_void>> {
    if r.is_main() {
        return None;
    }
    // SAFETY: post_subrequest is null or a record in the parent's pool
    // (ours: in a capture group that lives as long).
    let ps = unsafe { fields(&r).post_subrequest.as_ref() }?;
    let ours = handler as usize;
    (ps.handler.map(|f| f as usize) == Some(ours)).then_some(())?;
    NonNull::new(ps.data)
}

/// How many more subrequests nginx lets this request create (its
/// recursion budget; 0: none).
pub fn subrequests_left(r: Request) -> u32 {
    fields(&r).subrequests()
}

/// `ngx_http_parse_unsafe_uri`: checks `uri` (a pool string) and splits
/// off its query string; None when unsafe.
pub fn parse_unsafe_uri(r: Request, uri: &mut ngx_str_t) -> Option<ngx_str_t> {
    let mut args = ngx_str_t {
        len: 0,
        data: ptr::null_mut(),
    };
    let mut flags: ngx_uint_t = 0;
    // SAFETY: a live request; uri and args are strings in its pool.
    let rc = unsafe { ngx_http_parse_unsafe_uri(r.as_ptr(), uri, &mut args, &mut flags) };
    (rc == OK).then_some(args)
}

/// Creates a background subrequest of `uri?args` whose finalization
/// calls `psr`. It is posted to run, holds a reference on the main
/// request, and does not take over the connection's output.
///
/// # Safety
/// `psr` stays where it is as long as the request pool (nginx keeps a
/// pointer to it in the subrequest).
pub unsafe fn create(
    r: Request,
    uri: &mut ngx_str_t,
    args: &mut ngx_str_t,
    psr: &mut ngx_http_post_subrequest_t,
) -> Result<Request, Rc> {
    let mut sr: *mut ngx_http_request_t = ptr::null_mut();
    // SAFETY: a live request; strings in its pool; psr outlives the
    // subrequest (the caller's contract).
    let rc = unsafe {
        ngx_http_subrequest(
            r.as_ptr(),
            uri,
            args,
            &mut sr,
            psr,
            NGX_HTTP_SUBREQUEST_BACKGROUND as ngx_uint_t,
        )
    };
    // SAFETY: the subrequest nginx just made, in the main request's pool.
    match unsafe { Request::from_raw(sr) } {
        Some(sr) if rc == OK => Ok(sr),
        _ => Err(rc),
    }
}

/// Takes a subrequest that has not run back: off its main request's
/// posted list, dropping the reference it held.
pub fn cancel(r: Request) {
    let mr = r.main();
    // SAFETY: the main request's posted list, records in its pool.
    unsafe {
        let mut p: *mut *mut ngx_http_posted_request_t = &mut (*mr.as_ptr()).posted_requests;
        while !(*p).is_null() {
            if (**p).request == r.as_ptr() {
                *p = (**p).next;
                break;
            }
            p = &mut (**p).next;
        }
    }
    r.release();
}

/// The parent's client header buffer (nginx's copy of a request shares
/// it; variables read from it).
pub fn share_header_buffer(r: Request, from: Request) {
    fields_mut(&r).header_in = fields(&from).header_in;
}

pub fn chunked_in(r: Request) -> bool {
    fields(&r).headers_in.chunked() != 0
}

pub fn set_chunked_in(r: Request, on: bool) {
    fields_mut(&r).headers_in.set_chunked(on as _);
}

/// Gives the request a body of its own: `data` in one memory buffer
/// (an empty body has none); false when out of memory.
pub fn set_body(r: Request, data: &[u8]) -> bool {
    let pool = r.pool();
    // SAFETY: allocations from the live request's pool, written before
    // the body record is attached.
    unsafe {
        let rb = ngx_pcalloc(pool, core::mem::size_of::<ngx_http_request_body_t>())
            as *mut ngx_http_request_body_t;
        if rb.is_null() {
            return false;
        }
        if !data.is_empty() {
            let b = ngx_create_temp_buf(pool, data.len());
            let cl = ngx_alloc_chain_link(pool);
            if b.is_null() || cl.is_null() {
                return false;
            }
            ptr::copy_nonoverlapping(data.as_ptr(), (*b).last, data.len());
            (*b).last = (*b).last.add(data.len());
            (*cl).buf = b;
            (*cl).next = ptr::null_mut();
            (*rb).bufs = cl;
            (*rb).buf = b;
        }
        fields_mut(&r).request_body = rb;
    }
    true
}

/// Leaves the request without a body.
pub fn drop_body(r: Request) {
    fields_mut(&r).request_body = ptr::null_mut();
}

/// The body (shared with the parent) is in a temp file that our body
/// reader kept (persistent and clean), rather than one nginx may
/// delete; None without a file.
pub fn body_file_kept(r: Request) -> Option<bool> {
    // SAFETY: the body record and its temp file are in the request pool.
    unsafe {
        let rb = fields(&r).request_body.as_ref()?;
        let tf = rb.temp_file.as_ref()?;
        Some(tf.persistent() != 0 && tf.clean() != 0)
    }
}

/// Gives the request its own copy of the body record and of its temp
/// file record, so its reads do not move the parent's offsets.
pub fn own_body_file(r: Request) -> bool {
    let pool = r.pool();
    // SAFETY: the body record and its temp file (see body_file_kept)
    // are copied into fresh pool memory of their own size.
    unsafe {
        let old = fields(&r).request_body;
        if old.is_null() || (*old).temp_file.is_null() {
            return false;
        }
        let body = ngx_palloc(pool, core::mem::size_of::<ngx_http_request_body_t>())
            as *mut ngx_http_request_body_t;
        let file =
            ngx_palloc(pool, core::mem::size_of::<ngx_temp_file_t>()) as *mut ngx_temp_file_t;
        if body.is_null() || file.is_null() {
            return false;
        }
        ptr::copy_nonoverlapping(old, body, 1);
        ptr::copy_nonoverlapping((*old).temp_file, file, 1);
        (*body).temp_file = file;
        fields_mut(&r).request_body = body;
    }
    true
}

/// The length of the request body's buffers (memory and file), None
/// without a body.
pub fn body_len(r: Request) -> Option<usize> {
    // SAFETY: the body record and its chain are in the request pool.
    unsafe {
        let rb = fields(&r).request_body.as_ref()?;
        let mut len = 0usize;
        let mut cl = rb.bufs;
        while let Some(link) = cl.as_ref() {
            let b = &*link.buf;
            len += if b.in_file() != 0 && b.temporary() == 0 && b.memory() == 0 {
                (b.file_last - b.file_pos) as usize
            } else {
                b.last.offset_from(b.pos) as usize
            };
            cl = link.next;
        }
        Some(len)
    }
}

/// Gives the request a variables array of its own: a copy of `from`'s
/// values, or empty ones (not yet evaluated); false when out of memory.
pub fn own_variables(r: Request, from: Option<Request>) -> bool {
    // SAFETY: the core main conf (configuration) says how many
    // variables there are; the arrays of both requests have that many
    // entries, in their pools.
    unsafe {
        let n = (*r.core_main_conf()).variables.nelts;
        let size = n * core::mem::size_of::<ngx_http_variable_value_t>();
        let vars = match from {
            Some(from) => {
                let p = ngx_palloc(r.pool(), size.max(1)) as *mut ngx_http_variable_value_t;
                if !p.is_null() && size > 0 {
                    ptr::copy_nonoverlapping(fields(&from).variables, p, n);
                }
                p
            }
            None => ngx_pcalloc(r.pool(), size.max(1)) as *mut ngx_http_variable_value_t,
        };
        if vars.is_null() {
            return false;
        }
        fields_mut(&r).variables = vars;
    }
    true
}

/// Ends a subrequest's response the way nginx's special response for
/// `rc` would, but empty: the status is kept as `err_status`, the
/// entity headers go, and the header is "sent" (to the capture filter).
pub fn empty_special_response(r: Request, rc: Rc) -> Rc {
    let f = fields_mut(&r);
    f.err_status = rc as ngx_uint_t;
    f.set_expect_tested(1);
    let ho = &mut f.headers_out;
    ho.content_type.len = 0;
    ho.content_length_n = 0;
    ho.last_modified_time = -1;
    // SAFETY: the header elements are null or in the request's list;
    // a zero hash is how nginx marks an element deleted.
    unsafe {
        if let Some(h) = ho.accept_ranges.as_mut() {
            h.hash = 0;
        }
        if let Some(h) = ho.last_modified.as_mut() {
            h.hash = 0;
        }
    }
    ho.accept_ranges = ptr::null_mut();
    ho.last_modified = ptr::null_mut();
    if r.header_sent() {
        return OK;
    }
    // SAFETY: a live request whose header has not been sent.
    if unsafe { ngx_http_send_header(r.as_ptr()) } == ERROR {
        return ERROR;
    }
    OK
}

/// The response's Content-Length as a number (-1: unknown).
pub fn content_length_out(r: Request) -> off_t {
    fields(&r).headers_out.content_length_n
}

/// Asks the filters above for in-memory buffers (file buffers are read).
pub fn need_in_memory(r: Request) {
    fields_mut(&r).set_filter_need_in_memory(1);
}

pub fn set_header_only(r: Request) {
    fields_mut(&r).set_header_only(1);
}

/// The response of a finished subrequest.
pub fn response_meta(r: &Request) -> ResponseMeta<'_> {
    let ho = &fields(r).headers_out;
    // SAFETY: location is null or an element of the request's header list.
    let location = unsafe { ho.location.as_ref() }.map_or(&[][..], |l| str_bytes(&l.value));
    ResponseMeta {
        status: ho.status,
        content_type: str_bytes(&ho.content_type),
        content_length: if ho.content_length.is_null() {
            ho.content_length_n
        } else {
            -1
        },
        location,
        last_modified_time: if ho.last_modified.is_null() {
            ho.last_modified_time
        } else {
            -1
        },
    }
}

/// Calls `f` with each live header (name, value) of the response, in
/// order.
pub fn response_headers(r: &Request, mut f: impl FnMut(&[u8], &[u8])) {
    // SAFETY: nginx's list of ngx_table_elt_t parts in the request pool;
    // each part holds nelts initialised elements.
    unsafe {
        let mut part: *const ngx_list_part_t = &fields(r).headers_out.headers.part;
        while let Some(p) = part.as_ref() {
            let elts = p.elts as *const ngx_table_elt_t;
            for i in 0..p.nelts {
                let h = &*elts.add(i);
                if h.hash != 0 {
                    f(str_bytes(&h.key), str_bytes(&h.value));
                }
            }
            part = p.next;
        }
    }
}

/// A chain of buffers a body filter received.
pub struct Chain(*mut ngx_chain_t);

impl Chain {
    /// # Safety
    /// `cl` is the chain nginx passed to the running body filter.
    pub unsafe fn from_raw(cl: *mut ngx_chain_t) -> Chain {
        Chain(cl)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_null()
    }

    /// Calls `f` with each buffer's in-memory bytes (empty for file
    /// buffers) and whether it ends the response, then marks it consumed,
    /// so its producer can reuse it.
    pub fn drain(self, mut f: impl FnMut(&[u8], bool)) {
        let mut cl = self.0;
        // SAFETY: a filter's chain: links and buffers live at least until
        // the filter returns; pos..last are the buffer's unread bytes.
        unsafe {
            while let Some(link) = cl.as_ref() {
                let b = &mut *link.buf;
                let in_memory = b.temporary() != 0 || b.memory() != 0 || b.mmap() != 0;
                let data = if in_memory && b.last > b.pos {
                    core::slice::from_raw_parts(b.pos, b.last.offset_from(b.pos) as usize)
                } else {
                    &[]
                };
                f(data, b.last_buf() != 0 || b.last_in_chain() != 0);
                b.pos = b.last;
                if b.in_file() != 0 {
                    b.file_pos = b.file_last;
                }
                cl = link.next;
            }
        }
    }
}

/// Puts `header` and `body` at the top of nginx's output filter chains;
/// returns the filters they must call next. Only while the configuration
/// is read (postconfiguration), when nginx builds the chains.
pub fn install_filters(
    header: ngx_http_output_header_filter_pt,
    body: ngx_http_output_body_filter_pt,
) -> (
    ngx_http_output_header_filter_pt,
    ngx_http_output_body_filter_pt,
) {
    // SAFETY: nginx's filter chain heads, written only by postconfiguration
    // hooks, on the thread that reads the configuration.
    unsafe {
        let next = (ngx_http_top_header_filter, ngx_http_top_body_filter);
        ngx_http_top_header_filter = header;
        ngx_http_top_body_filter = body;
        next
    }
}

//! `ngx.location.capture*`: subrequests whose response is captured in
//! memory and handed back to the Lua thread that issued them.
//!
//! The thread's capture is a [`Group`] (one [`Sub`] per subrequest) owned
//! by the request pool, so a subrequest that outlives its issuer (killed by
//! `ngx.exit(ngx.ERROR)`, an error in another thread) still finds valid
//! memory. Subrequests are nginx's own (`ngx_http_subrequest`), created as
//! "background" ones: they are not chained into the parent's postponed
//! output and do not take over `c->data`, so they run side by side and each
//! one drops its own request reference when it ends. Our post-subrequest
//! handler records the status, and when the last one of a group ends it
//! wakes the waiting thread on the next event-loop turn; the thread then
//! reads the results through `src/ffi/subrequest.rs`.
use core::ffi::c_void;
use core::ptr;

use nginx_sys::*;

use crate::http::RequestCtx;
use crate::lua::ctx::{CoCtx, CoState};
use crate::lua::sched::arm_sleep;
use crate::lua::Global;
use crate::nginx::log::log_error;
use crate::nginx::request::Request;
use crate::nginx::variables::SetVarError;

/// One `capture_multi` call.
pub struct Group {
    /// The issuing request's context; freed by a pool cleanup, like us.
    pub ctx: *mut RequestCtx,
    /// Subrequests still running.
    pub pending: usize,
    /// The group counts in `ctx.phases.pending_captures` (the call succeeded).
    pub counted: bool,
    /// Fixed length: subrequests point at their element.
    pub subs: Box<[Sub]>,
}

/// One captured subrequest.
pub struct Sub {
    pub group: *mut Group,
    /// `sr->post_subrequest` points here.
    pub psr: ngx_http_post_subrequest_t,
    pub sr: *mut ngx_http_request_t,
    pub status: ngx_int_t,
    /// The post-subrequest handler ran: the response is complete.
    pub done: bool,
    /// The body ended with a last buffer.
    pub seen_last: bool,
    /// It had not when the subrequest ended (an upstream failed mid-body).
    pub truncated: bool,
    pub body: Vec<u8>,
}

unsafe extern "C" fn drop_group(data: *mut c_void) {
    // SAFETY: data is the Box leaked in Group::create; the pool runs each
    // cleanup once.
    drop(unsafe { Box::from_raw(data as *mut Group) });
}

impl Group {
    /// A group of `n` empty records owned by `r`'s pool (shared with all
    /// its subrequests).
    ///
    /// # Safety
    /// `r` is a live request and `ctx` its context.
    pub unsafe fn create(
        r: *mut ngx_http_request_t,
        ctx: *mut RequestCtx,
        n: usize,
    ) -> Option<*mut Group> {
        // SAFETY: live request pool; the cleanup owns the Box.
        unsafe {
            let cln = ngx_pool_cleanup_add((*r).pool, 0);
            if cln.is_null() {
                return None;
            }
            let subs = (0..n)
                .map(|_| Sub {
                    group: ptr::null_mut(),
                    psr: ngx_http_post_subrequest_t {
                        handler: Some(post_subrequest),
                        data: ptr::null_mut(),
                    },
                    sr: ptr::null_mut(),
                    status: 0,
                    done: false,
                    seen_last: false,
                    truncated: false,
                    body: Vec::new(),
                })
                .collect();
            let g = Box::into_raw(Box::new(Group {
                ctx,
                pending: 0,
                counted: false,
                subs,
            }));
            for s in (*g).subs.iter_mut() {
                s.group = g;
                s.psr.data = s as *mut Sub as *mut c_void;
            }
            (*cln).handler = Some(drop_group);
            (*cln).data = g as *mut c_void;
            Some(g)
        }
    }

    /// Frees the captured bodies once the thread has read them.
    pub fn release_bodies(&mut self) {
        for s in self.subs.iter_mut() {
            s.body = Vec::new();
        }
    }
}

/// The capture record of `r` if it is a subrequest we created.
fn captured(r: *mut ngx_http_request_t) -> Option<&'static mut Sub> {
    // SAFETY: a live request; post_subrequest is nginx's or ours, and ours
    // always carries a Sub that lives as long as the request pool.
    unsafe {
        if (*r).main == r {
            return None;
        }
        let ps = (*r).post_subrequest;
        let ours = post_subrequest as *const () as usize;
        if ps.is_null() || (*ps).handler.map(|f| f as usize) != Some(ours) {
            return None;
        }
        ((*ps).data as *mut Sub).as_mut()
    }
}

/// The wait of a thread for its capture (registered until the thread
/// has read the results). It cannot be killed while subrequests run, as
/// upstream.
pub unsafe fn cancel_capture(
    data: *mut c_void,
    _t: *mut CoCtx,
    force: bool,
) -> Result<(), &'static core::ffi::CStr> {
    // SAFETY: a group lives as long as the request pool, so as its threads.
    let g = unsafe { &mut *(data as *mut Group) };
    if !force && g.pending > 0 {
        return Err(c"pending subrequests");
    }
    g.release_bodies();
    Ok(())
}

/// Runs (first) when nginx finalizes one of our subrequests: records its
/// status and, for the last one of its group, wakes the waiting thread.
/// Error statuses become an empty captured response (as nginx's special
/// response would have been), so they do not end the main request.
unsafe extern "C" fn post_subrequest(
    r: *mut ngx_http_request_t,
    data: *mut c_void,
    mut rc: ngx_int_t,
) -> ngx_int_t {
    // SAFETY: data is our Sub (see Group::create); r is the live subrequest.
    unsafe {
        let s = &mut *(data as *mut Sub);
        if s.done {
            return NGX_OK as ngx_int_t;
        }
        s.done = true;
        let mut status = (*r).headers_out.status as ngx_int_t;
        if status == 0 {
            if rc == NGX_OK as ngx_int_t {
                rc = NGX_HTTP_OK as ngx_int_t;
            }
            if rc == NGX_ERROR as ngx_int_t {
                rc = NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
            }
            if rc >= 100 {
                status = rc;
            }
        }
        s.status = status;
        s.truncated = !s.seen_last;
        let g = &mut *s.group;
        g.pending -= 1;
        if g.pending == 0 && g.counted {
            g.counted = false;
            let ctx = &mut *g.ctx;
            ctx.phases.pending_captures -= 1;
            let gp: *mut Group = g;
            if let Some(t) = ctx.threads.iter_mut().find(|t| {
                t.waiting_on(cancel_capture) == Some(gp as *mut c_void)
                    && t.state == CoState::Suspended
            }) {
                // Not from inside nginx's finalization of the subrequest:
                // the thread runs on the next turn of the event loop.
                arm_sleep(t, 0);
            }
        }
        let special = rc >= NGX_HTTP_SPECIAL_RESPONSE as ngx_int_t
            && rc != NGX_HTTP_CLOSE as ngx_int_t
            && rc != NGX_HTTP_REQUEST_TIME_OUT as ngx_int_t
            && rc != NGX_HTTP_CLIENT_CLOSED_REQUEST as ngx_int_t;
        if rc == NGX_ERROR as ngx_int_t
            || rc == NGX_HTTP_CREATED as ngx_int_t
            || rc == NGX_HTTP_NO_CONTENT as ngx_int_t
            || special
        {
            if rc > NGX_OK as ngx_int_t {
                let ho = &mut (*r).headers_out;
                (*r).err_status = rc as ngx_uint_t;
                (*r).set_expect_tested(1);
                ho.content_type.len = 0;
                ho.content_length_n = 0;
                if !ho.accept_ranges.is_null() {
                    (*ho.accept_ranges).hash = 0;
                    ho.accept_ranges = ptr::null_mut();
                }
                ho.last_modified_time = -1;
                if !ho.last_modified.is_null() {
                    (*ho.last_modified).hash = 0;
                    ho.last_modified = ptr::null_mut();
                }
                if (*r).header_sent() == 0 && ngx_http_send_header(r) == NGX_ERROR as ngx_int_t {
                    return NGX_ERROR as ngx_int_t;
                }
            }
            return NGX_OK as ngx_int_t;
        }
        rc
    }
}

/// Takes `sr` back after a failed setup: it was posted last, and holds a
/// reference on the main request.
///
/// # Safety
/// `sr` was just created by `ngx_http_subrequest` and has not run.
pub unsafe fn cancel(sr: *mut ngx_http_request_t) {
    // SAFETY: the main request's posted list, in its pool.
    unsafe {
        let mr = (*sr).main;
        let mut p: *mut *mut ngx_http_posted_request_t = &mut (*mr).posted_requests;
        while !(*p).is_null() {
            if (**p).request == sr {
                *p = (**p).next;
                break;
            }
            p = &mut (**p).next;
        }
        (*mr).set_count((*mr).count() - 1);
    }
}

/// Logs at `level` on the connection of `r`.
pub unsafe fn log(r: *mut ngx_http_request_t, level: u32, msg: &[u8]) {
    // SAFETY: a live request's connection log.
    unsafe { log_error(level, (*(*r).connection).log, msg) }
}

// ---- capture filters ------------------------------------------------------

/// The most a subrequest's Content-Length makes us reserve up front.
const MAX_RESERVE: usize = 16 << 20;

static NEXT_HEADER: Global<ngx_http_output_header_filter_pt> = Global::new(None);
static NEXT_BODY: Global<ngx_http_output_body_filter_pt> = Global::new(None);

/// Puts the capture filters at the top of nginx's chains; installed before
/// the `*_filter_by_lua` ones, so those still see a subrequest's response.
pub fn install() {
    // SAFETY: called from postconfiguration, when filter chains are built.
    unsafe {
        NEXT_HEADER.set(ngx_http_top_header_filter);
        ngx_http_top_header_filter = Some(header_filter);
        NEXT_BODY.set(ngx_http_top_body_filter);
        ngx_http_top_body_filter = Some(body_filter);
    }
}

/// A captured subrequest's header goes no further (nothing is sent to the
/// client); its body must reach us in memory.
unsafe extern "C" fn header_filter(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: filters get a live request.
    unsafe {
        let Some(s) = captured(r) else {
            return match NEXT_HEADER.get() {
                Some(f) => f(r),
                None => NGX_OK as ngx_int_t,
            };
        };
        // An announced length sizes the body buffer once (bounded: the
        // length comes from an upstream).
        let n = (*r).headers_out.content_length_n;
        if n > 0 && !s.done {
            s.body.reserve((n as usize).min(MAX_RESERVE));
        }
        (*r).set_filter_need_in_memory(1);
        (*r).set_header_sent(1);
        if (*r).method == NGX_HTTP_HEAD as ngx_uint_t {
            (*r).set_header_only(1);
        }
        NGX_OK as ngx_int_t
    }
}

/// Appends a captured subrequest's body to its record and consumes the
/// buffers, so their producer (upstream, copy filter) can reuse them.
unsafe extern "C" fn body_filter(r: *mut ngx_http_request_t, input: *mut ngx_chain_t) -> ngx_int_t {
    // SAFETY: filters get a live request and a valid chain.
    unsafe {
        let s = match captured(r) {
            Some(s) if !input.is_null() => s,
            _ => {
                return match NEXT_BODY.get() {
                    Some(f) => f(r, input),
                    None => NGX_OK as ngx_int_t,
                }
            }
        };
        // After the post-subrequest handler ran (an error page nginx sends
        // for an emulated special response) nothing more is captured.
        let keep = !s.done;
        let mut cl = input;
        while !cl.is_null() {
            let b = (*cl).buf;
            let in_memory = (*b).temporary() != 0 || (*b).memory() != 0 || (*b).mmap() != 0;
            if keep && in_memory && (*b).last > (*b).pos {
                let n = (*b).last.offset_from((*b).pos) as usize;
                s.body
                    .extend_from_slice(core::slice::from_raw_parts((*b).pos, n));
            }
            if keep && ((*b).last_buf() != 0 || (*b).last_in_chain() != 0) {
                s.seen_last = true;
            }
            (*b).pos = (*b).last;
            if (*b).in_file() != 0 {
                (*b).file_pos = (*b).file_last;
            }
            cl = (*cl).next;
        }
        NGX_OK as ngx_int_t
    }
}

// ---- creating subrequests -------------------------------------------------

/// What one subrequest of a capture asks for (options already checked and
/// encoded by the Lua side).
pub struct Spec<'a> {
    pub uri: &'a [u8],
    /// Extra query arguments, appended to those in `uri`.
    pub args: &'a [u8],
    pub method: ngx_uint_t,
    pub body: Option<&'a [u8]>,
    pub share_all_vars: bool,
    pub copy_all_vars: bool,
    pub always_forward_body: bool,
    pub vars: Vec<(&'a [u8], &'a [u8])>,
    pub headers: Vec<(&'a [u8], &'a [u8])>,
}

/// nginx's method names carry the space that follows them on a request
/// line (modules that print `method_name` may copy it).
const METHODS: &[(u32, &[u8])] = &[
    (NGX_HTTP_GET, b"GET \0"),
    (NGX_HTTP_HEAD, b"HEAD \0"),
    (NGX_HTTP_POST, b"POST \0"),
    (NGX_HTTP_PUT, b"PUT \0"),
    (NGX_HTTP_DELETE, b"DELETE \0"),
    (NGX_HTTP_MKCOL, b"MKCOL \0"),
    (NGX_HTTP_COPY, b"COPY \0"),
    (NGX_HTTP_MOVE, b"MOVE \0"),
    (NGX_HTTP_OPTIONS, b"OPTIONS \0"),
    (NGX_HTTP_PROPFIND, b"PROPFIND \0"),
    (NGX_HTTP_PROPPATCH, b"PROPPATCH \0"),
    (NGX_HTTP_LOCK, b"LOCK \0"),
    (NGX_HTTP_UNLOCK, b"UNLOCK \0"),
    (NGX_HTTP_PATCH, b"PATCH \0"),
    (NGX_HTTP_TRACE, b"TRACE \0"),
];

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Copies `s` into the request pool.
unsafe fn pool_copy(r: *mut ngx_http_request_t, s: &[u8]) -> Option<ngx_str_t> {
    // SAFETY: a live request pool.
    unsafe {
        let p = ngx_pnalloc((*r).pool, s.len().max(1)) as *mut u8;
        if p.is_null() {
            return None;
        }
        ptr::copy_nonoverlapping(s.as_ptr(), p, s.len());
        Some(ngx_str_t {
            len: s.len(),
            data: p,
        })
    }
}

/// Creates the subrequest `sub` of `r` stands for. `Err` is the text the
/// Lua caller raises (the failure itself is logged where nginx would).
///
/// # Safety
/// `r` is the live request running the calling Lua code; `sub` belongs
/// to a group in its pool.
pub unsafe fn issue(
    r: *mut ngx_http_request_t,
    spec: &Spec,
    sub: &mut Sub,
) -> Result<*mut ngx_http_request_t, String> {
    // SAFETY: r is live; every string handed to nginx is in its pool.
    unsafe {
        let nomem = || "no memory".to_string();
        let mut uri = pool_copy(r, spec.uri).ok_or_else(nomem)?;
        let mut args = ngx_str_t {
            len: 0,
            data: ptr::null_mut(),
        };
        let mut flags: ngx_uint_t = 0;
        if ngx_http_parse_unsafe_uri(r, &mut uri, &mut args, &mut flags) != NGX_OK as ngx_int_t {
            return Err(format!("unsafe uri in argument #1: {}", show(spec.uri)));
        }
        if !spec.args.is_empty() {
            let mut joined = Vec::with_capacity(args.len + 1 + spec.args.len());
            if args.len > 0 {
                joined.extend_from_slice(core::slice::from_raw_parts(args.data, args.len));
                joined.push(b'&');
            }
            joined.extend_from_slice(spec.args);
            args = pool_copy(r, &joined).ok_or_else(nomem)?;
        }
        if (*r).subrequests() == 0 {
            log(
                r,
                NGX_LOG_ERR,
                format!(
                    "lua subrequests cycle while processing \"{}\"",
                    show(core::slice::from_raw_parts(uri.data, uri.len))
                )
                .as_bytes(),
            );
            return Err(format!(
                "failed to issue subrequest: {}",
                NGX_ERROR as ngx_int_t
            ));
        }
        let mut sr: *mut ngx_http_request_t = ptr::null_mut();
        let rc = ngx_http_subrequest(
            r,
            &mut uri,
            &mut args,
            &mut sr,
            &mut sub.psr,
            NGX_HTTP_SUBREQUEST_BACKGROUND as ngx_uint_t,
        );
        if rc != NGX_OK as ngx_int_t || sr.is_null() {
            return Err(format!("failed to issue subrequest: {rc}"));
        }
        if (*(*(*r).connection).log).log_level >= NGX_LOG_DEBUG as ngx_uint_t {
            log(
                r,
                NGX_LOG_DEBUG,
                format!(
                    "lua http subrequest \"{}?{}\"",
                    show(core::slice::from_raw_parts(uri.data, uri.len)),
                    show(args.as_bytes())
                )
                .as_bytes(),
            );
        }
        sub.sr = sr;
        if let Err(rc) = adjust(sr, r, spec) {
            cancel(sr);
            sub.sr = ptr::null_mut();
            return Err(format!("failed to adjust the subrequest: {rc}"));
        }
        Ok(sr)
    }
}

/// The request body, headers, method and variables of a new subrequest.
unsafe fn adjust(
    sr: *mut ngx_http_request_t,
    r: *mut ngx_http_request_t,
    spec: &Spec,
) -> Result<(), ngx_int_t> {
    const ERR: ngx_int_t = NGX_ERROR as ngx_int_t;
    // SAFETY: sr was just created from the live r; both share r's pool.
    unsafe {
        let pool = (*sr).pool;
        (*sr).header_in = (*r).header_in;
        // Whether the parent's Content-Length header describes the body the
        // subrequest gets; otherwise it is left out (and recomputed when
        // there is a body).
        let mut own_length = false;
        let is_post_put =
            spec.method == NGX_HTTP_PUT as ngx_uint_t || spec.method == NGX_HTTP_POST as ngx_uint_t;
        if let Some(data) = spec.body {
            let rb = ngx_pcalloc(pool, core::mem::size_of::<ngx_http_request_body_t>())
                as *mut ngx_http_request_body_t;
            if rb.is_null() {
                return Err(ERR);
            }
            if !data.is_empty() {
                let b = ngx_create_temp_buf(pool, data.len());
                let cl = ngx_alloc_chain_link(pool);
                if b.is_null() || cl.is_null() {
                    return Err(ERR);
                }
                ptr::copy_nonoverlapping(data.as_ptr(), (*b).last, data.len());
                (*b).last = (*b).last.add(data.len());
                (*cl).buf = b;
                (*cl).next = ptr::null_mut();
                (*rb).bufs = cl;
                (*rb).buf = b;
            }
            (*sr).request_body = rb;
        } else if !spec.always_forward_body && !is_post_put && (*r).headers_in.content_length_n > 0
        {
            (*sr).request_body = ptr::null_mut();
        } else {
            own_length = (*r).headers_in.chunked() == 0;
            let rb = (*sr).request_body;
            if !rb.is_null() && !(*rb).temp_file.is_null() {
                own_length_file_body(sr)?;
            }
        }
        let (Some(sreq), Some(preq)) = (Request::from_raw(sr), Request::from_raw(r)) else {
            return Err(ERR);
        };
        if !sreq.copy_headers_in_from(preq, !own_length) {
            return Err(ERR);
        }
        (*sr).headers_in.set_chunked(0);
        if !own_length {
            (*sr).headers_in.content_length_n = -1;
            let rb = (*sr).request_body;
            if !rb.is_null() {
                let mut len = 0usize;
                let mut cl = (*rb).bufs;
                while !cl.is_null() {
                    let b = (*cl).buf;
                    len += if (*b).in_file() != 0 && (*b).temporary() == 0 && (*b).memory() == 0 {
                        ((*b).file_last - (*b).file_pos) as usize
                    } else {
                        (*b).last.offset_from((*b).pos) as usize
                    };
                    cl = (*cl).next;
                }
                if !sreq.push_content_length_in(len) {
                    return Err(ERR);
                }
            }
        }
        for (k, v) in &spec.headers {
            if sreq
                .set_header_in(k, core::iter::once(*v), true, None)
                .is_err()
            {
                return Err(ERR);
            }
        }

        let Some(&(_, name)) = METHODS
            .iter()
            .find(|(m, _)| *m as ngx_uint_t == spec.method)
        else {
            log(
                r,
                NGX_LOG_ERR,
                format!("unsupported HTTP method: {}", spec.method).as_bytes(),
            );
            return Err(ERR);
        };
        (*sr).method = spec.method;
        (*sr).method_name = ngx_str_t {
            len: name.len() - 2,
            data: name.as_ptr() as *mut u8,
        };

        let cmcf =
            *(*sr).main_conf.add(ngx_http_core_module.ctx_index) as *mut ngx_http_core_main_conf_t;
        if !spec.share_all_vars {
            let size = (*cmcf).variables.nelts * core::mem::size_of::<ngx_http_variable_value_t>();
            let vars = if spec.copy_all_vars {
                let p = ngx_palloc(pool, size.max(1)) as *mut ngx_http_variable_value_t;
                if !p.is_null() && size > 0 {
                    ptr::copy_nonoverlapping((*r).variables as *const u8, p as *mut u8, size);
                }
                p
            } else {
                ngx_pcalloc(pool, size.max(1)) as *mut ngx_http_variable_value_t
            };
            if vars.is_null() {
                return Err(ERR);
            }
            (*sr).variables = vars;
        }
        for (k, v) in &spec.vars {
            set_var(sr, k, v)?;
        }
        Ok(())
    }
}

/// A forwarded body in a temp file gets its own copy of the file record, so
/// the subrequest's reads do not move the parent's offsets.
unsafe fn own_length_file_body(sr: *mut ngx_http_request_t) -> Result<(), ngx_int_t> {
    // SAFETY: sr's request body (the parent's) and its temp file are in the
    // request pool.
    unsafe {
        let pool = (*sr).pool;
        let old = (*sr).request_body;
        let tf = (*old).temp_file;
        if (*tf).persistent() == 0 || (*tf).clean() == 0 {
            log(sr, NGX_LOG_ERR, b"the request body was not read by ngx_lua");
            return Err(NGX_ERROR as ngx_int_t);
        }
        let body = ngx_palloc(pool, core::mem::size_of::<ngx_http_request_body_t>())
            as *mut ngx_http_request_body_t;
        let file =
            ngx_palloc(pool, core::mem::size_of::<ngx_temp_file_t>()) as *mut ngx_temp_file_t;
        if body.is_null() || file.is_null() {
            return Err(NGX_ERROR as ngx_int_t);
        }
        ptr::copy_nonoverlapping(old, body, 1);
        ptr::copy_nonoverlapping(tf, file, 1);
        (*body).temp_file = file;
        (*sr).request_body = body;
        Ok(())
    }
}

/// The `vars` option: sets `$name` in the subrequest, with upstream's
/// texts when it cannot.
unsafe fn set_var(sr: *mut ngx_http_request_t, name: &[u8], value: &[u8]) -> Result<(), ngx_int_t> {
    // SAFETY: sr is a live subrequest.
    let r = unsafe { Request::from_raw(sr) }.ok_or(NGX_ERROR as ngx_int_t)?;
    let mut lowcase = name.to_vec();
    let res = r.set_variable(name, &mut lowcase, Some(value));
    let shown = show(&lowcase);
    let (msg, rc) = match res {
        Ok(()) => return Ok(()),
        Err(SetVarError::NoMemory) => return Err(NGX_ERROR as ngx_int_t),
        Err(SetVarError::NotChangeable) => (
            format!("variable \"{shown}\" not changeable"),
            NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t,
        ),
        Err(SetVarError::NotFound | SetVarError::NotAssignable) => (
            format!(
                "variable \"{shown}\" cannot be assigned a value (maybe you forgot to define it first?) "
            ),
            NGX_ERROR as ngx_int_t,
        ),
    };
    // SAFETY: as above.
    unsafe { log(sr, NGX_LOG_ERR, msg.as_bytes()) };
    Err(rc)
}

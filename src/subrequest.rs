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
use crate::lua::ctx::{CoCtx, CoState, WaitKind};
use crate::lua::sched::arm_sleep;
use crate::lua::Global;
use crate::nginx::request::{Request, ERROR, OK};
use crate::nginx::subrequest::{self as sub, Chain};
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
    pub sr: Option<Request>,
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
    crate::nginx::panic::guard((), || {
        // SAFETY: data is the Box leaked in Group::create; the pool runs
        // each cleanup once.
        drop(unsafe { Box::from_raw(data as *mut Group) });
    })
}

impl Group {
    /// A group of `n` empty records owned by `r`'s pool (shared with all
    /// its subrequests); `ctx` is `r`'s context.
    pub fn create(r: Request, ctx: *mut RequestCtx, n: usize) -> Option<&'static mut Group> {
        let subs = (0..n)
            .map(|_| Sub {
                group: ptr::null_mut(),
                psr: ngx_http_post_subrequest_t {
                    handler: Some(post_subrequest),
                    data: ptr::null_mut(),
                },
                sr: None,
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
        // SAFETY: g is the Box just leaked; its records point back at it
        // and at themselves (they never move: a boxed slice of a box).
        unsafe {
            for s in (*g).subs.iter_mut() {
                s.group = g;
                s.psr.data = s as *mut Sub as *mut c_void;
            }
        }
        if !r.on_cleanup(drop_group, g as *mut c_void) {
            // SAFETY: not handed out: the Box is still ours.
            drop(unsafe { Box::from_raw(g) });
            return None;
        }
        // SAFETY: the request pool owns the group from now on, and frees it
        // only when the request (and every thread that could use it) ends.
        Some(unsafe { &mut *g })
    }

    /// Makes `t` wait for the group's subrequests (a wait `ngx.thread.kill`
    /// cannot cancel while they run).
    pub fn wait(&mut self, t: &mut CoCtx) {
        t.wait_on(self as *mut Group as *mut c_void, &WAIT);
    }

    /// The capture `t` waits for, if it waits for one.
    pub fn waited_by(t: &CoCtx) -> Option<&'static mut Group> {
        let g = t.waiting_on(&WAIT)? as *mut Group;
        // SAFETY: a capture wait's data is its group (wait), which lives in
        // the request pool as long as the thread's request.
        unsafe { g.as_mut() }
    }

    /// Frees the captured bodies once the thread has read them.
    pub fn release_bodies(&mut self) {
        for s in self.subs.iter_mut() {
            s.body = Vec::new();
        }
    }
}

/// The capture record of `r` if it is a subrequest we created.
fn captured(r: Request) -> Option<&'static mut Sub> {
    let data = sub::post_subrequest_data(r, post_subrequest)?;
    // SAFETY: our handler's data is always a Sub (Group::create), in a
    // group the request pool owns, so it lives as long as the request.
    Some(unsafe { &mut *(data.as_ptr() as *mut Sub) })
}

static WAIT: WaitKind = WaitKind {
    cancel: cancel_capture,
};

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
    rc: ngx_int_t,
) -> ngx_int_t {
    crate::nginx::panic::guard(ERROR, || {
        // SAFETY: nginx passes the live subrequest and the data of its psr:
        // our Sub (Group::create), owned by the request pool.
        let (r, s) = unsafe { (Request::from_raw(r), &mut *(data as *mut Sub)) };
        match r {
            Some(r) => finished(r, s, rc),
            None => ERROR,
        }
    })
}

fn finished(r: Request, s: &mut Sub, mut rc: ngx_int_t) -> ngx_int_t {
    if s.done {
        return OK;
    }
    s.done = true;
    let mut status = r.status() as ngx_int_t;
    if status == 0 {
        if rc == OK {
            rc = NGX_HTTP_OK as ngx_int_t;
        }
        if rc == ERROR {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
        }
        if rc >= 100 {
            status = rc;
        }
    }
    s.status = status;
    s.truncated = !s.seen_last;
    // SAFETY: a Sub's group is the Box that holds it (Group::create).
    let g = unsafe { &mut *s.group };
    g.pending -= 1;
    if g.pending == 0 && g.counted {
        g.counted = false;
        // SAFETY: the issuing request's context lives in its pool, which
        // also owns the group, so it is alive while the group is.
        let ctx = unsafe { &mut *g.ctx };
        ctx.phases.pending_captures -= 1;
        let gp: *mut Group = g;
        if let Some(t) = ctx.threads.iter_mut().find(|t| {
            t.waiting_on(&WAIT) == Some(gp as *mut c_void) && t.state == CoState::Suspended
        }) {
            // Not from inside nginx's finalization of the subrequest: the
            // thread runs on the next turn of the event loop.
            arm_sleep(t, 0);
        }
    }
    let special = rc >= NGX_HTTP_SPECIAL_RESPONSE as ngx_int_t
        && rc != NGX_HTTP_CLOSE as ngx_int_t
        && rc != NGX_HTTP_REQUEST_TIME_OUT as ngx_int_t
        && rc != NGX_HTTP_CLIENT_CLOSED_REQUEST as ngx_int_t;
    if rc == ERROR
        || rc == NGX_HTTP_CREATED as ngx_int_t
        || rc == NGX_HTTP_NO_CONTENT as ngx_int_t
        || special
    {
        if rc > OK {
            return sub::empty_special_response(r, rc);
        }
        return OK;
    }
    rc
}

/// Takes `sr` back after a failed setup: it was posted last, and holds a
/// reference on the main request.
pub fn cancel(sr: Request) {
    sub::cancel(sr);
}

// ---- capture filters ------------------------------------------------------

/// The most a subrequest's Content-Length makes us reserve up front.
const MAX_RESERVE: usize = 16 << 20;

static NEXT_HEADER: Global<ngx_http_output_header_filter_pt> = Global::new(None);
static NEXT_BODY: Global<ngx_http_output_body_filter_pt> = Global::new(None);

/// Puts the capture filters at the top of nginx's chains; installed before
/// the `*_filter_by_lua` ones, so those still see a subrequest's response.
/// Called from postconfiguration.
pub fn install() {
    let (header, body) = sub::install_filters(Some(header_filter), Some(body_filter));
    NEXT_HEADER.set(header);
    NEXT_BODY.set(body);
}

/// A captured subrequest's header goes no further (nothing is sent to the
/// client); its body must reach us in memory.
unsafe extern "C" fn header_filter(r: *mut ngx_http_request_t) -> ngx_int_t {
    crate::nginx::panic::guard(ERROR, || {
        // SAFETY: nginx runs filters with a live request.
        let Some(rq) = (unsafe { Request::from_raw(r) }) else {
            return ERROR;
        };
        rq.trace_hook("capture header filter", false);
        let Some(s) = captured(rq) else {
            return match NEXT_HEADER.get() {
                // SAFETY: the next filter of nginx's chain, with the
                // request nginx gave us.
                Some(f) => unsafe { f(r) },
                None => OK,
            };
        };
        // An announced length sizes the body buffer once (bounded: the
        // length comes from an upstream).
        let n = sub::content_length_out(rq);
        if n > 0 && !s.done {
            s.body.reserve((n as usize).min(MAX_RESERVE));
        }
        sub::need_in_memory(rq);
        rq.set_header_sent();
        if rq.method() == NGX_HTTP_HEAD as ngx_uint_t {
            sub::set_header_only(rq);
        }
        OK
    })
}

/// Appends a captured subrequest's body to its record and consumes the
/// buffers, so their producer (upstream, copy filter) can reuse them.
unsafe extern "C" fn body_filter(r: *mut ngx_http_request_t, input: *mut ngx_chain_t) -> ngx_int_t {
    crate::nginx::panic::guard(ERROR, || {
        // SAFETY: nginx runs filters with a live request and its chain.
        let (rq, chain) = unsafe { (Request::from_raw(r), Chain::from_raw(input)) };
        if let Some(rq) = rq {
            rq.trace_hook("capture body filter", false);
        }
        let s = match rq.and_then(captured) {
            Some(s) if !chain.is_empty() => s,
            _ => {
                return match NEXT_BODY.get() {
                    // SAFETY: the next filter of nginx's chain, with what
                    // nginx gave us.
                    Some(f) => unsafe { f(r, input) },
                    None => OK,
                };
            }
        };
        // After the post-subrequest handler ran (an error page nginx sends
        // for an emulated special response) nothing more is captured.
        let keep = !s.done;
        chain.drain(|data, last| {
            if keep {
                s.body.extend_from_slice(data);
                s.seen_last |= last;
            }
        });
        OK
    })
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

/// Creates the subrequest `sub` of `r` stands for. `Err` is the text the
/// Lua caller raises (the failure itself is logged where nginx would).
pub fn issue(r: Request, spec: &Spec, s: &mut Sub) -> Result<Request, String> {
    let nomem = || "no memory".to_string();
    let mut uri = r.pool_str(spec.uri).ok_or_else(nomem)?;
    let Some(mut args) = sub::parse_unsafe_uri(r, &mut uri) else {
        return Err(format!("unsafe uri in argument #1: {}", show(spec.uri)));
    };
    let shown_uri = show(uri.as_bytes());
    if !spec.args.is_empty() {
        let mut joined = Vec::with_capacity(args.len + 1 + spec.args.len());
        if args.len > 0 {
            joined.extend_from_slice(args.as_bytes());
            joined.push(b'&');
        }
        joined.extend_from_slice(spec.args);
        args = r.pool_str(&joined).ok_or_else(nomem)?;
    }
    if sub::subrequests_left(r) == 0 {
        r.log_error(
            NGX_LOG_ERR,
            format!("lua subrequests cycle while processing \"{shown_uri}\"").as_bytes(),
        );
        return Err(format!("failed to issue subrequest: {ERROR}"));
    }
    // SAFETY: the record's psr lives in its group, which the request pool
    // owns, and does not move (a boxed slice).
    let sr = unsafe { sub::create(r, &mut uri, &mut args, &mut s.psr) }
        .map_err(|rc| format!("failed to issue subrequest: {rc}"))?;
    if r.logs(NGX_LOG_DEBUG) {
        let shown_args = show(args.as_bytes());
        r.log_error(
            NGX_LOG_DEBUG,
            format!("lua http subrequest \"{shown_uri}?{shown_args}\"").as_bytes(),
        );
    }
    s.sr = Some(sr);
    if let Err(rc) = adjust(sr, r, spec) {
        cancel(sr);
        s.sr = None;
        return Err(format!("failed to adjust the subrequest: {rc}"));
    }
    Ok(sr)
}

/// The `ngx.ctx` slot of subrequest `sr`, created with its context (the
/// `ctx` option); None when out of memory.
pub fn ctx_slot(sr: Request) -> Option<core::ffi::c_int> {
    // SAFETY: sr is a live request of the running configuration, whose VM
    // exists.
    let sctx = unsafe { RequestCtx::get_or_create(sr.as_ptr()) }?;
    if sctx.ctx_ref <= 0 {
        sctx.ctx_ref = sctx.vm().ctx_ref_new();
    }
    Some(sctx.ctx_ref)
}

/// The request body, headers, method and variables of a new subrequest.
fn adjust(sr: Request, r: Request, spec: &Spec) -> Result<(), ngx_int_t> {
    sub::share_header_buffer(sr, r);
    // Whether the parent's Content-Length header describes the body the
    // subrequest gets; otherwise it is left out (and recomputed when there
    // is a body).
    let mut own_length = false;
    let is_post_put =
        spec.method == NGX_HTTP_PUT as ngx_uint_t || spec.method == NGX_HTTP_POST as ngx_uint_t;
    if let Some(data) = spec.body {
        if !sub::set_body(sr, data) {
            return Err(ERROR);
        }
    } else if !spec.always_forward_body && !is_post_put && r.content_length_in() > 0 {
        sub::drop_body(sr);
    } else {
        own_length = !sub::chunked_in(r);
        // A forwarded body in a temp file gets its own copy of the file
        // record, so the subrequest's reads do not move the parent's
        // offsets; only a file our body reader kept can be reread.
        match sub::body_file_kept(sr) {
            Some(false) => {
                sr.log_error(NGX_LOG_ERR, b"the request body was not read by ngx_lua");
                return Err(ERROR);
            }
            Some(true) if !sub::own_body_file(sr) => return Err(ERROR),
            _ => {}
        }
    }
    if !sr.copy_headers_in_from(r, !own_length) {
        return Err(ERROR);
    }
    sub::set_chunked_in(sr, false);
    if !own_length {
        sr.set_content_length_in_n(-1);
        if let Some(len) = sub::body_len(sr) {
            if !sr.push_content_length_in(len) {
                return Err(ERROR);
            }
        }
    }
    for (k, v) in &spec.headers {
        if sr
            .set_header_in(k, core::iter::once(*v), true, None)
            .is_err()
        {
            return Err(ERROR);
        }
    }

    let Some(&(_, name)) = METHODS
        .iter()
        .find(|(m, _)| *m as ngx_uint_t == spec.method)
    else {
        r.log_error(
            NGX_LOG_ERR,
            format!("unsupported HTTP method: {}", spec.method).as_bytes(),
        );
        return Err(ERROR);
    };
    // The name without " \0", the bytes after it staying in place.
    sr.set_method(spec.method, &name[..name.len() - 2]);

    if !spec.share_all_vars && !sub::own_variables(sr, spec.copy_all_vars.then_some(r)) {
        return Err(ERROR);
    }
    for (k, v) in &spec.vars {
        set_var(sr, k, v)?;
    }
    Ok(())
}

/// The `vars` option: sets `$name` in the subrequest, with upstream's
/// texts when it cannot.
fn set_var(sr: Request, name: &[u8], value: &[u8]) -> Result<(), ngx_int_t> {
    let mut lowcase = name.to_vec();
    let res = sr.set_variable(name, &mut lowcase, Some(value));
    let shown = show(&lowcase);
    let (msg, rc) = match res {
        Ok(()) => return Ok(()),
        Err(SetVarError::NoMemory) => return Err(ERROR),
        Err(SetVarError::NotChangeable) => (
            format!("variable \"{shown}\" not changeable"),
            NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t,
        ),
        Err(SetVarError::NotFound | SetVarError::NotAssignable) => (
            format!(
                "variable \"{shown}\" cannot be assigned a value (maybe you forgot to define it first?) "
            ),
            ERROR,
        ),
    };
    sr.log_error(NGX_LOG_ERR, msg.as_bytes());
    Err(rc)
}

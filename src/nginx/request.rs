//! [`Request`]: a handle on a live nginx request, with the reads and
//! writes the rest of the crate needs as safe methods.
//!
//! nginx hands requests around as raw pointers and mutates them from C at
//! any time, so the handle holds no Rust reference into the request: every
//! method reads or writes through the pointer for the duration of the call.
//! The one invariant — the request is alive while the handle is used — is
//! established where a handle is made ([`Request::from_raw`]): nginx's own
//! callbacks, and the request context, which lives in the request's pool.
//! Areas of the request with more to them have their own files
//! (`headers_in.rs`, `body.rs`, `variables.rs`, ...), each adding an
//! `impl Request` block.
use core::ffi::c_void;
use core::ptr::{self, NonNull};

use nginx_sys::*;

use super::module;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Request(NonNull<ngx_http_request_t>);

/// nginx's "ok", "error", "again", ... as the wrappers return them.
pub type Rc = ngx_int_t;

pub const OK: Rc = NGX_OK as Rc;
pub const ERROR: Rc = NGX_ERROR as Rc;
pub const AGAIN: Rc = NGX_AGAIN as Rc;
pub const DONE: Rc = NGX_DONE as Rc;
pub const DECLINED: Rc = NGX_DECLINED as Rc;

impl Request {
    /// # Safety
    /// `r` is null or a live request, and the handle (and its copies) are
    /// only used while it is alive.
    pub unsafe fn from_raw(r: *mut ngx_http_request_t) -> Option<Request> {
        NonNull::new(r).map(Request)
    }

    pub fn as_ptr(self) -> *mut ngx_http_request_t {
        self.0.as_ptr()
    }

    /// The request's fields, for one read.
    fn get(&self) -> &ngx_http_request_t {
        // SAFETY: the handle's invariant (from_raw): the request is alive;
        // the borrow ends with the caller's expression, before nginx code
        // can run and change it.
        unsafe { self.0.as_ref() }
    }

    /// The request's fields, for one write.
    #[allow(clippy::mut_from_ref)]
    fn get_mut(&self) -> &mut ngx_http_request_t {
        // SAFETY: as get(); the worker is single-threaded and no other
        // Rust reference to the request is held across calls.
        unsafe { &mut *self.0.as_ptr() }
    }

    // ---- identity ---------------------------------------------------------

    pub fn main(self) -> Request {
        // SAFETY: a live request's main request outlives it.
        Request(unsafe { NonNull::new_unchecked(self.get().main) })
    }

    pub fn is_main(self) -> bool {
        self.get().main == self.as_ptr()
    }

    pub fn parent(self) -> Option<Request> {
        // SAFETY: a subrequest's parent outlives it.
        unsafe { Request::from_raw(self.get().parent) }
    }

    pub fn is_internal(self) -> bool {
        self.get().internal() != 0
    }

    pub fn connection(self) -> *mut ngx_connection_t {
        self.get().connection
    }

    /// The connection's log (it names the request in each line).
    pub fn log(self) -> *mut ngx_log_t {
        // SAFETY: a live request has a live connection with a log.
        unsafe { (*self.get().connection).log }
    }

    /// Writes `msg` to the request's log at `level` (nginx adds the
    /// client, server and request fields).
    pub fn log_error(self, level: u32, msg: &[u8]) {
        // SAFETY: the connection's log is live while the request is.
        unsafe { super::log::log_error(level, self.log(), msg) }
    }

    /// The request's log, as a handle.
    pub fn log_handle(self) -> super::log::Log {
        // SAFETY: the connection's log lives as long as the request.
        unsafe { super::log::Log::from_raw(self.log()) }
    }

    /// Upstream's debug line at the top of each of its phase handlers and
    /// filters: `lua <what>, uri:"/t" c:1` with the main request's count
    /// (handlers), `lua <what>, uri "/t"` without it (filters). Upstream's
    /// tests grep them to see which of its hooks nginx runs. Inlined down
    /// to the level check (a few loads and a comparison): an out-of-line
    /// call per hook cost hello about 115 instructions a request.
    #[inline(always)]
    pub fn trace_hook(self, what: &str, count: bool) {
        if self.logs(NGX_LOG_DEBUG) {
            self.write_trace_hook(what, count);
        }
    }

    #[cold]
    #[inline(never)]
    fn write_trace_hook(self, what: &str, count: bool) {
        let log = self.log_handle();
        let uri = String::from_utf8_lossy(self.uri());
        if count {
            let c = self.main().get().count();
            log.write_debug(format_args!("lua {what}, uri:\"{uri}\" c:{c}"));
        } else {
            log.write_debug(format_args!("lua {what}, uri \"{uri}\""));
        }
    }

    /// Whether the request's log takes messages of `level` (to skip
    /// formatting debug lines nobody reads).
    pub fn logs(self, level: u32) -> bool {
        // SAFETY: as log_error.
        unsafe { (*self.log()).log_level >= level as ngx_uint_t }
    }

    pub fn pool(self) -> *mut ngx_pool_t {
        self.get().pool
    }

    /// Allocates `len` bytes (at least one) from the request pool.
    pub fn alloc(self, len: usize) -> Option<NonNull<u8>> {
        // SAFETY: the live request's pool.
        NonNull::new(unsafe { ngx_pnalloc(self.pool(), len.max(1)) } as *mut u8)
    }

    /// Copies `s` into the request pool as an nginx string.
    pub fn pool_str(self, s: &[u8]) -> Option<ngx_str_t> {
        let p = self.alloc(s.len())?;
        // SAFETY: p has room for s.len() bytes.
        unsafe { ptr::copy_nonoverlapping(s.as_ptr(), p.as_ptr(), s.len()) };
        Some(ngx_str_t {
            len: s.len(),
            data: p.as_ptr(),
        })
    }

    /// Copies `s` into the request pool, NUL-terminated (as nginx's header
    /// values are).
    pub fn pool_cstr(self, s: &[u8]) -> Option<ngx_str_t> {
        let p = self.alloc(s.len() + 1)?;
        // SAFETY: p has room for s.len() + 1 bytes.
        unsafe {
            ptr::copy_nonoverlapping(s.as_ptr(), p.as_ptr(), s.len());
            *p.as_ptr().add(s.len()) = 0;
        }
        Some(ngx_str_t {
            len: s.len(),
            data: p.as_ptr(),
        })
    }

    /// Registers `handler(data)` to run when the request pool goes away.
    pub fn on_cleanup(self, handler: unsafe extern "C" fn(*mut c_void), data: *mut c_void) -> bool {
        // SAFETY: the live request's pool.
        let cln = unsafe { ngx_pool_cleanup_add(self.pool(), 0) };
        if cln.is_null() {
            return false;
        }
        // SAFETY: a cleanup record just added to the pool.
        unsafe {
            (*cln).handler = Some(handler);
            (*cln).data = data;
        }
        true
    }

    // ---- module slots -----------------------------------------------------

    /// This module's per-request context slot.
    pub fn module_ctx(self) -> *mut c_void {
        // SAFETY: r->ctx has one slot per http module.
        unsafe { *self.get().ctx.add(module::ctx_index()) }
    }

    pub fn set_module_ctx(self, ctx: *mut c_void) {
        // SAFETY: as module_ctx.
        unsafe { *self.get().ctx.add(module::ctx_index()) = ctx }
    }

    /// This module's location configuration for the request.
    pub fn loc_conf<T>(self) -> *mut T {
        // SAFETY: r->loc_conf has one slot per http module.
        unsafe { *self.get().loc_conf.add(module::ctx_index()) as *mut T }
    }

    /// This module's main configuration for the request.
    pub fn main_conf<T>(self) -> *mut T {
        // SAFETY: r->main_conf has one slot per http module.
        unsafe { *self.get().main_conf.add(module::ctx_index()) as *mut T }
    }

    /// nginx core's location configuration (resolver, timeouts, limits).
    pub fn core_loc_conf(&self) -> &ngx_http_core_loc_conf_t {
        // SAFETY: every request has the core module's loc conf, which lives
        // as long as the configuration (longer than the request).
        unsafe {
            &*(*self.get().loc_conf.add(ngx_http_core_module.ctx_index)
                as *const ngx_http_core_loc_conf_t)
        }
    }

    /// The name of the location the request runs in (`/t`, `@named`, a
    /// regex's source; empty before one was found).
    pub fn location_name(&self) -> &[u8] {
        str_bytes(&self.core_loc_conf().name)
    }

    /// nginx core's main configuration (variables, phases).
    pub fn core_main_conf(self) -> *mut ngx_http_core_main_conf_t {
        // SAFETY: as core_loc_conf.
        unsafe {
            *self.get().main_conf.add(ngx_http_core_module.ctx_index)
                as *mut ngx_http_core_main_conf_t
        }
    }

    // ---- request line -----------------------------------------------------

    pub fn method(self) -> ngx_uint_t {
        self.get().method
    }

    pub fn method_name(&self) -> &[u8] {
        str_bytes(&self.get().method_name)
    }

    /// Sets the method and its name (a static string).
    pub fn set_method(self, id: ngx_uint_t, name: &'static [u8]) {
        let r = self.get_mut();
        r.method = id;
        r.method_name = ngx_str_t {
            len: name.len(),
            data: name.as_ptr() as *mut u8,
        };
    }

    pub fn http_version(self) -> ngx_uint_t {
        self.get().http_version
    }

    pub fn uri(&self) -> &[u8] {
        str_bytes(&self.get().uri)
    }

    pub fn args(&self) -> &[u8] {
        str_bytes(&self.get().args)
    }

    pub fn start_time(self) -> (i64, i64) {
        let r = self.get();
        (r.start_sec, r.start_msec as i64)
    }

    // ---- response state ---------------------------------------------------

    pub fn header_sent(self) -> bool {
        self.get().header_sent() != 0
    }

    pub fn set_header_sent(self) {
        self.get_mut().set_header_sent(1);
    }

    pub fn header_only(self) -> bool {
        self.get().header_only() != 0
    }

    pub fn set_header_only(self) {
        self.get_mut().set_header_only(1);
    }

    pub fn status(self) -> ngx_uint_t {
        self.get().headers_out.status
    }

    pub fn set_status(self, status: ngx_uint_t) {
        self.get_mut().headers_out.status = status;
    }

    /// The status of an error page nginx is producing (0: none).
    pub fn err_status(self) -> ngx_uint_t {
        self.get().err_status
    }

    /// Drops a status line set for the previous status.
    pub fn clear_status_line(self) {
        self.get_mut().headers_out.status_line.len = 0;
    }

    /// Sends `line` ("ddd Reason") as the status line. Static, so it
    /// outlives the request without a pool copy.
    pub fn set_static_status_line(self, line: &'static [u8]) {
        let out = &mut self.get_mut().headers_out;
        out.status_line.len = line.len();
        out.status_line.data = line.as_ptr() as *mut u8;
    }

    // ---- request lifetime -------------------------------------------------

    /// Keeps the main request alive across a wait (dropped by a later
    /// `finalize(DONE)`).
    pub fn hold(self) {
        let main = self.main();
        let m = main.get_mut();
        m.set_count(m.count() + 1);
    }

    /// Drops a reference taken by [`Request::hold`] or by nginx's body
    /// reader, without finalizing.
    pub fn release(self) {
        let main = self.main();
        let m = main.get_mut();
        m.set_count(m.count() - 1);
    }

    pub fn finalize(self, rc: Rc) {
        // SAFETY: nginx's finalization of a live request; the handle must
        // not be used afterwards unless the caller holds a reference.
        unsafe { ngx_http_finalize_request(self.as_ptr(), rc) }
    }

    /// Runs the phase engine from where the request stands.
    pub fn run_phases(self) {
        // SAFETY: a live request whose phase handler index is valid.
        unsafe { ngx_http_core_run_phases(self.as_ptr()) }
    }

    /// Runs the subrequests posted on the request's connection.
    pub fn run_posted(self) {
        // SAFETY: the request's live connection.
        unsafe { ngx_http_run_posted_requests(self.connection()) }
    }

    pub fn set_read_handler(self, h: ngx_http_event_handler_pt) {
        self.get_mut().read_event_handler = h;
    }

    pub fn read_handler(self) -> ngx_http_event_handler_pt {
        self.get().read_event_handler
    }

    pub fn set_write_handler(self, h: ngx_http_event_handler_pt) {
        self.get_mut().write_event_handler = h;
    }

    /// Makes log lines of the connection name this request (a subrequest,
    /// or the parent woken after its subrequests), as nginx's own handlers
    /// do before they run one.
    pub fn make_current(self) {
        // SAFETY: an http connection's log data is its ngx_http_log_ctx_t.
        unsafe {
            let lctx = (*self.log()).data as *mut ngx_http_log_ctx_t;
            if !lctx.is_null() {
                (*lctx).current_request = self.as_ptr();
            }
        }
    }
}

/// The bytes of an nginx string of a request (they live at least as long
/// as the request, so as long as a handle is used).
pub(super) fn str_bytes(s: &ngx_str_t) -> &[u8] {
    if s.len == 0 || s.data.is_null() {
        &[]
    } else {
        // SAFETY: nginx strings point at len bytes, which live in the
        // request pool or the configuration.
        unsafe { core::slice::from_raw_parts(s.data, s.len) }
    }
}

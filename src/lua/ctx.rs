//! Per-request state, owned by the request pool.
use core::ffi::{c_int, c_void};
use core::ptr;

use nginx_sys::*;

use super::coctx::{CoCtx, CoState};
use super::vm::Vm;
use crate::phase::Phase;

/// How a server rewrite/rewrite/access/precontent handler that finished
/// after a yield hands its result back to nginx's phase engine (which re-enters the handler).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PhaseState {
    Idle,
    Running,
    Done(isize),
}

/// `ngx.arg` of the running body filter.
#[derive(Default)]
pub struct BodyArg {
    pub chunk: Vec<u8>,
    pub eof: bool,
    pub chunk_set: bool,
    pub eof_set: bool,
}

pub struct RequestCtx {
    pub r: *mut ngx_http_request_t,
    pub vm: *mut Vm,
    /// Phase of the entry coroutine (or of the synchronous handler).
    pub phase: Phase,
    /// The scheduled threads of the running phase handler: the entry
    /// thread and light threads. Boxed, so their addresses are stable.
    pub threads: Vec<Box<CoCtx>>,
    pub entry: *mut CoCtx,
    /// The thread suspended on a request-level event (body read, flush).
    pub event_waiter: *mut CoCtx,
    pub entry_failed: bool,
    /// Cosockets of this request, closed when it ends.
    pub sockets: Vec<*mut crate::cosocket::tcp::Tcp>,
    pub exit_code: Option<isize>,
    /// Status of the last `ngx.exit` in the header filter.
    pub header_filter_exit: Option<isize>,
    /// Set by an API that armed a request-level event for the running
    /// thread; the scheduler moves it to that thread when it yields.
    pub waiting: bool,
    pub eof_sent: bool,
    /// Error of a `ngx.flush(true)` that waited.
    pub flush_error: Option<&'static core::ffi::CStr>,
    pub server_rewrite: PhaseState,
    pub rewrite: PhaseState,
    pub access: PhaseState,
    pub precontent: PhaseState,
    pub content_started: bool,
    pub ctx_ref: c_int,
    pub body: BodyArg,
    /// A body filter saw `ngx.arg[2] = true`: later data is dropped.
    pub body_done: bool,
    /// `ngx.req.set_uri(uri, true)` ended the rewrite handler: the next
    /// rewrite pass (after nginx found the new location) starts afresh.
    pub uri_jump: bool,
    /// `ngx.exec`/`ngx.redirect` recorded by the API (issue 4); the phase
    /// code acts on it when the coroutine has ended.
    pub exec: Option<crate::phase::exec::Exec>,
    /// `ngx.req.read_body` waits for the client body.
    pub reading_body: bool,
    /// `ngx.location.capture*` calls whose subrequests are still running;
    /// while there are any, the handler may not end the request normally.
    pub pending_captures: u32,
    /// `ngx.arg` of the running `set_by_lua*` (request-pool strings).
    pub set_args: Vec<ngx_str_t>,
    /// Lua set (or cleared) Content-Type: no default type is added.
    pub mime_set: bool,
    /// `lua_http10_buffering`: output of an HTTP/1.0 request is held in
    /// `out` until the end, so Content-Length can be sent.
    pub buffering: bool,
    pub out: *mut ngx_chain_t,
    /// Output buffers (`ngx.say`/`ngx.print`) nginx finished with, kept for
    /// reuse, and those still on their way out (`ngx_chain_update_chains`).
    pub free_bufs: *mut ngx_chain_t,
    pub busy_bufs: *mut ngx_chain_t,
    /// `lua_need_request_body`: the body was read / is being read for a
    /// handler that returned `NGX_DONE` to wait for it.
    pub read_body_done: bool,
    pub waiting_more_body: bool,
    /// The request socket (`ngx.req.socket`) whose reads and writes the
    /// request's read/write event handlers serve.
    pub downstream: *mut crate::cosocket::tcp::Tcp,
    /// `ngx.req.socket(true)` was acquired: nginx sends no more output.
    pub raw_socket: bool,
}

// ngx_palloc aligns to NGX_ALIGNMENT (a word); the context is written there.
const _: () = assert!(core::mem::align_of::<RequestCtx>() <= core::mem::size_of::<usize>());

unsafe extern "C" fn cleanup(data: *mut c_void) {
    // SAFETY: data is the context written into the cleanup's own pool
    // memory in get_or_create; the pool runs each cleanup exactly once,
    // before it frees its memory.
    unsafe { ptr::drop_in_place(data as *mut RequestCtx) };
}

impl Drop for RequestCtx {
    fn drop(&mut self) {
        // SAFETY: the event, the VM and the request pool are still alive
        // while the pool's cleanups run; removing a pending timer here is
        // what keeps nginx from firing into freed memory.
        unsafe {
            for s in core::mem::take(&mut self.sockets) {
                (*s).orphan();
            }
            self.release_threads();
            if let Some(vm) = self.vm.as_mut() {
                if self.ctx_ref > 0 {
                    vm.ctx_ref_free(self.ctx_ref);
                }
            }
        }
    }
}

impl RequestCtx {
    /// The request's context, if one was created.
    ///
    /// # Safety
    /// `r` must be a live request.
    pub unsafe fn get(r: *mut ngx_http_request_t) -> Option<&'static mut RequestCtx> {
        // SAFETY: r->ctx has a slot per http module.
        unsafe { (*(*r).ctx.add(crate::module().ctx_index) as *mut RequestCtx).as_mut() }
    }

    /// The request's context, created on first use with a pool cleanup
    /// that drops it (and all it armed) when the request ends.
    ///
    /// # Safety
    /// `r` must be a live request of a cycle whose VM exists.
    pub unsafe fn get_or_create(r: *mut ngx_http_request_t) -> Option<&'static mut RequestCtx> {
        // SAFETY: see get; the cleanup owns the context.
        unsafe {
            if let Some(ctx) = Self::get(r) {
                return Some(ctx);
            }
            let mcf = crate::conf::main_conf(r);
            let vm: *mut Vm = mcf.vm.as_mut()?;
            // The context lives in the request pool, next to the cleanup
            // that drops it: no malloc/free pair per request.
            let cln = ngx_pool_cleanup_add((*r).pool, core::mem::size_of::<RequestCtx>());
            if cln.is_null() {
                return None;
            }
            let ctx = (*cln).data as *mut RequestCtx;
            ctx.write(RequestCtx {
                r,
                vm,
                phase: Phase::Rewrite,
                threads: Vec::new(),
                entry: ptr::null_mut(),
                event_waiter: ptr::null_mut(),
                entry_failed: false,
                sockets: Vec::new(),
                exit_code: None,
                header_filter_exit: None,
                waiting: false,
                eof_sent: false,
                flush_error: None,
                server_rewrite: PhaseState::Idle,
                rewrite: PhaseState::Idle,
                access: PhaseState::Idle,
                precontent: PhaseState::Idle,
                content_started: false,
                ctx_ref: 0,
                body: BodyArg::default(),
                body_done: false,
                uri_jump: false,
                exec: None,
                reading_body: false,
                pending_captures: 0,
                set_args: Vec::new(),
                mime_set: false,
                buffering: false,
                out: ptr::null_mut(),
                free_bufs: ptr::null_mut(),
                busy_bufs: ptr::null_mut(),
                read_body_done: false,
                waiting_more_body: false,
                downstream: ptr::null_mut(),
                raw_socket: false,
            });
            (*cln).handler = Some(cleanup);
            *(*r).ctx.add(crate::module().ctx_index) = ctx as *mut c_void;
            Some(&mut *ctx)
        }
    }

    pub fn vm(&mut self) -> &mut Vm {
        // SAFETY: the VM lives in the main conf, which outlives requests.
        unsafe { &mut *self.vm }
    }

    /// Cancels and unanchors every thread of the previous (or finished)
    /// handler.
    pub fn release_threads(&mut self) {
        for t in self.threads.iter_mut() {
            t.cancel_events();
            t.release();
            t.state = CoState::Dead;
        }
        self.threads.clear();
        self.entry = ptr::null_mut();
        self.event_waiter = ptr::null_mut();
        self.entry_failed = false;
    }
}

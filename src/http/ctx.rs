//! A request's context: the runtime's part ([`LuaCtx`]: VM, phase,
//! threads) plus what the phase handlers, filters, output and body APIs
//! keep per request, grouped by concern. It lives in the request pool and
//! a pool cleanup drops it, cancelling everything it armed, so nothing
//! fires into a freed request.
use core::ffi::c_void;
use core::ops::{Deref, DerefMut};
use core::ptr;

use nginx_sys::*;

use crate::conf;
use crate::lua::ctx::LuaCtx;

/// How a server rewrite/rewrite/access/precontent handler that finished
/// after a yield hands its result back to nginx's phase engine (which
/// re-enters the handler).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PhaseState {
    Idle,
    Running,
    Done(isize),
}

/// Where the phase handlers stand.
pub struct Phases {
    pub server_rewrite: PhaseState,
    pub rewrite: PhaseState,
    pub access: PhaseState,
    pub precontent: PhaseState,
    pub content_started: bool,
    /// `ngx.req.set_uri(uri, true)` ended the rewrite handler: the next
    /// rewrite pass (after nginx found the new location) starts afresh.
    pub uri_jump: bool,
    /// Status of the last `ngx.exit` in the header filter.
    pub header_filter_exit: Option<isize>,
    /// `ngx.exec`/`ngx.redirect` recorded by the API; the phase code acts
    /// on it when the coroutine has ended.
    pub exec: Option<Exec>,
    /// `ngx.location.capture*` calls whose subrequests are still running;
    /// while there are any, the handler may not end the request normally.
    pub pending_captures: u32,
    /// `ngx.arg` of the running `set_by_lua*` (request-pool strings).
    pub set_args: Vec<ngx_str_t>,
}

/// Target of `ngx.exec`, in the request pool.
pub struct Exec {
    pub uri: ngx_str_t,
    pub args: ngx_str_t,
}

/// The response as Lua produced it.
pub struct Output {
    pub eof_sent: bool,
    /// Error of a `ngx.flush(true)` that waited.
    pub flush_error: Option<&'static core::ffi::CStr>,
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
    /// `ngx.req.socket(true)` was acquired: nginx sends no more output.
    pub raw_socket: bool,
}

/// Reading the request body for Lua.
#[derive(Default)]
pub struct Body {
    /// `ngx.req.read_body` waits for the client body.
    pub reading: bool,
    /// `lua_need_request_body`: the body was read / is being read for a
    /// handler that returned `NGX_DONE` to wait for it.
    pub read_done: bool,
    pub waiting_more: bool,
}

/// `ngx.arg` of the running body filter.
#[derive(Default)]
pub struct BodyArg {
    pub chunk: Vec<u8>,
    pub eof: bool,
    pub chunk_set: bool,
    pub eof_set: bool,
    /// A body filter saw `ngx.arg[2] = true`: later data is dropped.
    pub done: bool,
}

/// `repr(C)` with the runtime's part first: the runtime hands out
/// `*mut LuaCtx` (the running request), and [`RequestCtx::from_lua`] gets
/// back to the whole context from it.
#[repr(C)]
pub struct RequestCtx {
    pub lua: LuaCtx,
    pub phases: Phases,
    pub output: Output,
    pub body: Body,
    pub arg: BodyArg,
}

// ngx_palloc aligns to NGX_ALIGNMENT (a word); the context is written there.
const _: () = assert!(core::mem::align_of::<RequestCtx>() <= core::mem::size_of::<usize>());

impl Deref for RequestCtx {
    type Target = LuaCtx;
    fn deref(&self) -> &LuaCtx {
        &self.lua
    }
}

impl DerefMut for RequestCtx {
    fn deref_mut(&mut self) -> &mut LuaCtx {
        &mut self.lua
    }
}

unsafe extern "C" fn cleanup(data: *mut c_void) {
    // SAFETY: data is the context written into the cleanup's own pool
    // memory in get_or_create; the pool runs each cleanup exactly once,
    // before it frees its memory.
    unsafe { ptr::drop_in_place(data as *mut RequestCtx) };
}

impl RequestCtx {
    /// The whole context of the runtime's part `l`.
    ///
    /// # Safety
    /// `l` is null or the `lua` field of a live `RequestCtx` (every
    /// `LuaCtx` of a request is made by [`RequestCtx::get_or_create`]).
    pub unsafe fn from_lua(l: *mut LuaCtx) -> Option<&'static mut RequestCtx> {
        // SAFETY: repr(C) puts `lua` at offset 0.
        unsafe { (l as *mut RequestCtx).as_mut() }
    }

    /// The request's context, if one was created.
    ///
    /// # Safety
    /// `r` must be a live request.
    pub unsafe fn get(r: *mut ngx_http_request_t) -> Option<&'static mut RequestCtx> {
        // SAFETY: r->ctx has a slot per http module; ours holds a context
        // made by get_or_create or null.
        unsafe { (*(*r).ctx.add(crate::nginx::module::ctx_index()) as *mut RequestCtx).as_mut() }
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
            let mcf = conf::main_conf(r);
            let vm: *mut crate::lua::vm::Vm = mcf.vm.as_mut()?;
            // The context lives in the request pool, next to the cleanup
            // that drops it: no malloc/free pair per request.
            let cln = ngx_pool_cleanup_add((*r).pool, core::mem::size_of::<RequestCtx>());
            if cln.is_null() {
                return None;
            }
            let ctx = (*cln).data as *mut RequestCtx;
            ctx.write(RequestCtx {
                lua: LuaCtx::new(r, vm),
                phases: Phases {
                    server_rewrite: PhaseState::Idle,
                    rewrite: PhaseState::Idle,
                    access: PhaseState::Idle,
                    precontent: PhaseState::Idle,
                    content_started: false,
                    uri_jump: false,
                    header_filter_exit: None,
                    exec: None,
                    pending_captures: 0,
                    set_args: Vec::new(),
                },
                output: Output {
                    eof_sent: false,
                    flush_error: None,
                    mime_set: false,
                    buffering: false,
                    out: ptr::null_mut(),
                    free_bufs: ptr::null_mut(),
                    busy_bufs: ptr::null_mut(),
                    raw_socket: false,
                },
                body: Body::default(),
                arg: BodyArg::default(),
            });
            (*cln).handler = Some(cleanup);
            *(*r).ctx.add(crate::nginx::module::ctx_index()) = ctx as *mut c_void;
            Some(&mut *ctx)
        }
    }
}

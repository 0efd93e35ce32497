//! A request's context: the runtime's part ([`LuaCtx`]: VM, phase,
//! threads) plus what the phase handlers, filters, output and body APIs
//! keep per request, grouped by concern. It lives in the request pool and
//! a pool cleanup drops it, cancelling everything it armed, so nothing
//! fires into a freed request.
use core::ops::{Deref, DerefMut};

use nginx_sys::*;

use crate::conf;
use crate::lua::ctx::{LuaCtx, Outcome};
use crate::lua::handler::Handler;
use crate::lua::sched::{self, current};
use crate::nginx::chain::{Chain, HeldChain, OutBufs};
use crate::nginx::global::Worker;
use crate::nginx::request::Request;

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
    /// A `set_uri` jump ended the handler: as upstream, which starts the
    /// request's Lua context afresh there, `ngx.ctx` is dropped once the
    /// handler is over (its table may not be touched from inside the FFI
    /// call).
    pub jump_drops_ctx: bool,
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

impl Phases {
    /// `ngx.arg[i]` of the running `set_by_lua*` (from 1); `None` past the
    /// last argument or for an empty one.
    pub fn set_arg(&self, i: usize) -> Option<&[u8]> {
        let a = self.set_args.get(i.checked_sub(1)?)?;
        if a.len == 0 || a.data.is_null() {
            return None;
        }
        // SAFETY: set_by_lua* fills set_args with its evaluated arguments,
        // strings of the request pool, for the time its chunk runs.
        Some(unsafe { core::slice::from_raw_parts(a.data, a.len) })
    }
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
    /// `held` until the end, so Content-Length can be sent.
    pub buffering: bool,
    pub held: HeldChain,
    /// Output buffers (`ngx.say`/`ngx.print`, body filters) nginx finished
    /// with, kept for reuse, and those still on their way out.
    pub bufs: OutBufs,
    /// `ngx.req.socket(true)` was acquired: nginx sends no more output.
    pub raw_socket: bool,
    /// `ngx.say`/`ngx.print` sent body bytes: until then `ngx.flush()`
    /// (not waiting) has nothing to flush, as upstream's.
    pub seen_body_data: bool,
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

/// `ngx.arg` of the running body filter. The chunk is not copied out of
/// nginx's buffers: Lua reads it from the input chain, and a chunk Lua
/// sets goes straight into an output buffer of ours.
#[derive(Default)]
pub struct BodyArg {
    /// The chain the filter was called with, while its Lua code runs.
    pub input: Option<Chain>,
    /// The chunk Lua set (`chunk_set`), in a buffer of ours; `None` for
    /// an empty one.
    pub out: Option<Chain>,
    /// The input's only link with data, when Lua read it.
    link: Option<Chain>,
    pub eof: bool,
    pub chunk_set: bool,
    pub eof_set: bool,
    /// A body filter saw `ngx.arg[2] = true`: later data is dropped.
    pub done: bool,
}

impl BodyArg {
    /// Before the filter's Lua code runs on `input`.
    pub fn begin(&mut self, input: Chain, eof: bool) {
        self.input = Some(input);
        self.link = None;
        self.out = None;
        self.eof = eof;
        self.chunk_set = false;
        self.eof_set = false;
    }

    /// After it ran: the input's links are nginx's again.
    pub fn end(&mut self) {
        self.input = None;
        self.link = None;
    }

    /// Runs `f` on `ngx.arg[1]` as Lua sees it now: what it set, or the
    /// input.
    pub fn with_chunk<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> R {
        if self.chunk_set {
            return f(self.out.as_ref().map_or(&[], Chain::data));
        }
        let Some(input) = self.input else {
            return f(&[]);
        };
        match data_link(input) {
            Ok(link) => {
                // The usual case (a proxied chunk often comes with an
                // empty last buffer): Lua's string is made from nginx's
                // buffer.
                self.link = link;
                f(self.link.as_ref().map_or(&[], Chain::data))
            }
            Err(total) => JOINED.with(|j| {
                j.clear();
                j.reserve(total);
                for cl in input.iter() {
                    j.extend_from_slice(cl.data());
                }
                let r = f(j);
                if j.capacity() > JOINED_KEEP {
                    *j = Vec::new();
                }
                r
            }),
        }
    }

    /// Whether `data` is the input's data, so that setting it changes
    /// nothing (checked when at most one buffer of the input holds data,
    /// the usual case).
    pub fn is_input(&self, data: &[u8]) -> bool {
        let Some(input) = self.input else {
            return data.is_empty();
        };
        if input.iter().any(Chain::in_file) {
            return false;
        }
        match data_link(input) {
            Ok(Some(link)) => link.data() == data,
            Ok(None) => data.is_empty(),
            Err(_) => false,
        }
    }
}

/// The input of a body filter joined, when it spans several buffers and
/// Lua reads it: one buffer per worker, not one per request.
static JOINED: Worker<Vec<u8>> = Worker::new();

/// The worker exits: the join buffer is freed.
pub fn on_exit() {
    drop(JOINED.take());
}

/// The size up to which [`JOINED`] keeps its memory between uses.
const JOINED_KEEP: usize = 64 * 1024;

/// The one link of `input` that holds data (`None`: no data at all), or
/// the total length when several do.
fn data_link(input: Chain) -> Result<Option<Chain>, usize> {
    let mut link = None;
    let mut total = 0;
    let mut several = false;
    for cl in input.iter() {
        let len = cl.data().len();
        if len > 0 {
            several |= link.is_some();
            link = Some(cl);
            total += len;
        }
    }
    if several {
        Err(total)
    } else {
        Ok(link)
    }
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

impl RequestCtx {
    /// The whole context of the runtime's part `l`.
    ///
    /// # Safety
    /// `l` is null or the `lua` field of a live `RequestCtx` (every
    /// `LuaCtx` of a request is made by [`RequestCtx::of_or_create`]).
    pub unsafe fn from_lua(l: *mut LuaCtx) -> Option<&'static mut RequestCtx> {
        // SAFETY: repr(C) puts `lua` at offset 0.
        unsafe { (l as *mut RequestCtx).as_mut() }
    }

    /// The context of the request whose Lua code runs now (the one the
    /// scheduler entered), if any.
    #[inline]
    pub fn running() -> Option<&'static mut RequestCtx> {
        // SAFETY: the scheduler's current context is null or the LuaCtx of
        // a live request, and every request's LuaCtx is the first field of
        // its RequestCtx (of_or_create makes them; nothing else does).
        unsafe { Self::from_lua(current().ctx) }
    }

    /// The request's context, if one was created.
    #[inline]
    pub fn of(r: Request) -> Option<&'static mut RequestCtx> {
        // SAFETY: our context slot is null (nginx zeroes it, also on an
        // internal redirect) or holds the RequestCtx of_or_create moved
        // into the request's pool, alive as long as the request.
        unsafe { (r.module_ctx() as *mut RequestCtx).as_mut() }
    }

    /// The request's context, created on first use in the request pool,
    /// whose cleanup drops it (and all it armed) when the request ends.
    /// `None`: no memory, or no VM (a cycle without Lua).
    pub fn of_or_create(r: Request) -> Option<&'static mut RequestCtx> {
        if let Some(ctx) = Self::of(r) {
            return Some(ctx);
        }
        let vm: *mut crate::lua::vm::Vm = conf::MainConf::of(r).vm.as_mut()?;
        let ctx = r.set_pool_ctx(|| RequestCtx {
            lua: LuaCtx::new(r.as_ptr(), vm),
            phases: Phases {
                server_rewrite: PhaseState::Idle,
                rewrite: PhaseState::Idle,
                access: PhaseState::Idle,
                precontent: PhaseState::Idle,
                content_started: false,
                uri_jump: false,
                jump_drops_ctx: false,
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
                held: HeldChain::default(),
                bufs: OutBufs::default(),
                raw_socket: false,
                seen_body_data: false,
            },
            body: Body::default(),
            arg: BodyArg::default(),
        })?;
        // SAFETY: just moved into the request pool, which keeps it until
        // the request ends; the slot is the only other way to it.
        Some(unsafe { &mut *ctx.as_ptr() })
    }

    /// The request's context, if one was created.
    ///
    /// # Safety
    /// `r` must be a live request.
    pub unsafe fn get(r: *mut ngx_http_request_t) -> Option<&'static mut RequestCtx> {
        // SAFETY: the caller's promise.
        Self::of(unsafe { Request::from_raw(r) }?)
    }

    /// [`RequestCtx::of_or_create`] for a raw request.
    ///
    /// # Safety
    /// `r` must be a live request.
    pub unsafe fn get_or_create(r: *mut ngx_http_request_t) -> Option<&'static mut RequestCtx> {
        // SAFETY: the caller's promise.
        Self::of_or_create(unsafe { Request::from_raw(r) }?)
    }

    /// Runs a synchronous handler (filters, log) for this request.
    pub fn run_sync(&mut self, h: &Handler, cache: bool) -> Result<(), String> {
        let L = self.vm().state();
        // SAFETY: this request's live context and its cycle's main state.
        unsafe { sched::run_sync(&mut self.lua, L, h, cache) }
    }

    /// Starts `h` in a new entry thread of this request (see
    /// `sched::start`); `A` acts on the handler's state whenever an event
    /// resumes one of its threads.
    pub fn start<A: AfterResume>(&mut self, h: &Handler, cache: bool) -> Outcome {
        // SAFETY: this request's live context.
        unsafe { sched::start(&mut self.lua, h, cache, continuation::<A>) }
    }
}

/// What the code that started a request's entry thread does with the
/// handler's state after an event resumed one of its threads (a phase
/// ends the request, or hands a status to nginx's phase engine).
pub trait AfterResume {
    fn after_resume(ctx: &mut RequestCtx, outcome: Outcome);
}

/// The runtime's continuation for [`RequestCtx::start`].
fn continuation<A: AfterResume>(l: &mut LuaCtx, outcome: Outcome) {
    // SAFETY: only RequestCtx::start installs this continuation, on the
    // LuaCtx embedded in a RequestCtx.
    if let Some(ctx) = unsafe { RequestCtx::from_lua(l) } {
        A::after_resume(ctx, outcome);
    }
}

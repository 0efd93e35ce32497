//! The runtime's part of a request's state: its VM, the phase whose Lua
//! code runs, the scheduled threads of that code ([`CoCtx`]: the entry
//! coroutine and light threads, each with its wait slot), and what they
//! attached to the request. The HTTP features keep the rest of their per-request
//! state in a larger struct that embeds this one (`http::RequestCtx`);
//! the runtime never creates one itself.
use core::ffi::{c_int, c_void};
use core::mem::ManuallyDrop;
use core::ptr;

use nginx_sys::*;

use super::phase::Phase;
use super::raw::*;
use super::vm::Vm;
use crate::nginx::global::Worker;
use crate::nginx::log::Log;
use crate::nginx::request::Request;
use crate::nginx::timer::TimerEvent;

/// Something a feature tied to the request (a cosocket, say): its kind's
/// `end` runs when the request ends, unless the feature detached it first.
struct Attachment {
    data: *mut c_void,
    kind: &'static AttachKind,
}

/// A feature's kind of attachment, declared as a `static`: a feature finds
/// its own attachments by the static's address. Statics have one address
/// each; functions do not (LLVM folds identical bodies into one, which
/// once handed a request's cosocket out as its request socket).
pub struct AttachKind {
    pub end: unsafe fn(*mut c_void),
}

pub struct LuaCtx {
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
    pub exit_code: Option<isize>,
    /// Set by an API that armed a request-level event for the running
    /// thread; the scheduler moves it to that thread when it yields.
    pub waiting: bool,
    /// The `ngx.ctx` table's slot (0: none yet).
    pub ctx_ref: c_int,
    /// `lua_code_cache off`: the registry ref of the request's own globals
    /// (0: none yet; see [`LuaCtx::fresh_env`]).
    pub fresh_env: c_int,
    /// What the code that started the entry thread does with the
    /// handler's state after an event resumed one of its threads (the
    /// phase's continuation, or the timer's).
    pub on_outcome: fn(&mut LuaCtx, Outcome),
    attachments: Vec<Attachment>,
    /// Threads that run, oldest first, once the running one stops
    /// (upstream's posted threads): a thread that spawned one, until the
    /// new thread first yields, and a thread that yielded while others
    /// were posted. A list through [`CoCtx::posted_next`]: no allocation.
    posted_head: *mut CoCtx,
    posted_tail: *mut CoCtx,
    /// How deeply `sched::run_one` is nested for this context: the
    /// outermost call runs the posted threads.
    pub depth: u32,
}

fn no_continuation(_: &mut LuaCtx, _: Outcome) {}

/// Thread records and thread lists of finished handlers, kept for the next
/// ones: otherwise every handler run allocates a record and its request a
/// list, two malloc/free pairs (about 350 instructions of the 4,800 the
/// hello benchmark adds to nginx). Bounded, so a burst of light threads
/// does not stay allocated.
// Boxed: running code holds pointers to a thread's record, so records
// must not move when a list grows.
#[allow(clippy::vec_box)]
#[derive(Default)]
struct Spare {
    records: Vec<Box<CoCtx>>,
    lists: Vec<Vec<Box<CoCtx>>>,
    /// Attachment lists (a request with a cosocket has one).
    attachments: Vec<Vec<Attachment>>,
}

const SPARE_RECORDS: usize = 256;
const SPARE_LISTS: usize = 64;

static SPARE: Worker<Spare> = Worker::new();

/// The worker exits: the spare records and lists are freed.
pub fn on_exit() {
    drop(SPARE.take());
}

/// An empty thread list, with room from an earlier request when there is
/// one.
#[allow(clippy::vec_box)]
#[inline]
fn spare_list() -> Vec<Box<CoCtx>> {
    SPARE.with(|s| s.lists.pop()).unwrap_or_default()
}

/// Keeps the (emptied) list of a finished request for the next one.
#[allow(clippy::vec_box)]
fn keep_list(mut list: Vec<Box<CoCtx>>) {
    list.clear();
    if list.capacity() == 0 {
        return;
    }
    SPARE.with(|s| {
        if s.lists.len() < SPARE_LISTS {
            s.lists.push(list);
        }
    })
}

impl LuaCtx {
    /// Inlined: the request context embedding this one is then written
    /// straight into its pool memory instead of built on the stack and
    /// copied (360 bytes).
    #[inline]
    pub fn new(r: *mut ngx_http_request_t, vm: *mut Vm) -> LuaCtx {
        LuaCtx {
            r,
            vm,
            phase: Phase::Rewrite,
            threads: spare_list(),
            entry: ptr::null_mut(),
            event_waiter: ptr::null_mut(),
            entry_failed: false,
            exit_code: None,
            waiting: false,
            ctx_ref: 0,
            fresh_env: 0,
            on_outcome: no_continuation,
            attachments: Vec::new(),
            posted_head: ptr::null_mut(),
            posted_tail: ptr::null_mut(),
            depth: 0,
        }
    }

    /// Appends `t`, a thread record of this context, to the posted
    /// threads.
    pub fn post(&mut self, t: &mut CoCtx) {
        t.posted = true;
        t.posted_next = ptr::null_mut();
        let t: *mut CoCtx = t;
        // SAFETY: the tail is a live record of self.threads (boxed, kept
        // until release_threads, which empties this list first), and not t.
        match unsafe { self.posted_tail.as_mut() } {
            Some(tail) => tail.posted_next = t,
            None => self.posted_head = t,
        }
        self.posted_tail = t;
    }

    /// The oldest posted thread.
    #[inline]
    pub fn first_posted(&self) -> *mut CoCtx {
        self.posted_head
    }

    /// Takes the oldest posted thread off the list.
    pub fn pop_posted(&mut self) -> Option<*mut CoCtx> {
        // SAFETY: as in post.
        let h = unsafe { self.posted_head.as_mut() }?;
        self.posted_head = h.posted_next;
        if self.posted_head.is_null() {
            self.posted_tail = ptr::null_mut();
        }
        h.posted = false;
        h.posted_next = ptr::null_mut();
        Some(h)
    }

    /// Forgets every posted thread (the handler ended).
    pub fn clear_posted(&mut self) {
        while self.pop_posted().is_some() {}
    }

    /// With `lua_code_cache off`, the registry ref of the request's own
    /// globals, made by lua-lib's `new_env` on first use and shared by its
    /// phases (upstream gives such a request a VM of its own); None when
    /// it could not be made.
    pub fn fresh_env(&mut self) -> Option<c_int> {
        if self.fresh_env > 0 {
            return Some(self.fresh_env);
        }
        let L = self.vm().state();
        // SAFETY: the VM's main state, between Lua calls of this request;
        // every lookup is of a plain table checked before use, the call is
        // protected, and the stack is left as it was.
        unsafe {
            let top = lua_gettop(L);
            lua_getfield(L, LUA_REGISTRYINDEX, c"_LOADED".as_ptr());
            if lua_type(L, -1) == LUA_TTABLE {
                lua_getfield(L, -1, c"resty.core.require".as_ptr());
                if lua_type(L, -1) == LUA_TTABLE {
                    lua_getfield(L, -1, c"new_env".as_ptr());
                    if lua_pcall(L, 0, 1, 0) == 0 && lua_type(L, -1) == LUA_TTABLE {
                        self.fresh_env = luaL_ref(L, LUA_REGISTRYINDEX);
                    }
                }
            }
            lua_settop(L, top);
        }
        (self.fresh_env > 0).then_some(self.fresh_env)
    }

    /// The request this context belongs to.
    pub fn req(&self) -> Request {
        // SAFETY: the context lives in its request's pool, so the request
        // is alive whenever the context is used.
        unsafe { Request::from_raw(self.r) }.expect("a request context has a request")
    }

    /// Forgets the request's `ngx.ctx` table (the next access makes a new
    /// one). Not while Lua code of the request runs an FFI call.
    pub fn drop_user_ctx(&mut self) {
        if self.ctx_ref > 0 {
            let r = core::mem::replace(&mut self.ctx_ref, 0);
            self.vm().ctx_ref_free(r);
        }
    }

    pub fn vm(&mut self) -> &mut Vm {
        // SAFETY: the VM lives in the main conf, which outlives requests.
        unsafe { &mut *self.vm }
    }

    /// Cancels and unanchors every thread of the previous (or finished)
    /// handler.
    #[inline]
    pub fn release_threads(&mut self) {
        if !self.posted_head.is_null() {
            self.clear_posted();
        }
        // Inlined test, out-of-line work: most calls find no thread (a
        // handler's start, a context's drop), and the call of the whole
        // function cost them its register saves.
        if !self.threads.is_empty() {
            self.release_thread_records();
        }
        self.entry = ptr::null_mut();
        self.event_waiter = ptr::null_mut();
        self.entry_failed = false;
    }

    #[inline(never)]
    fn release_thread_records(&mut self) {
        for t in self.threads.iter_mut() {
            t.cancel_events();
            t.release();
            t.state = CoState::Dead;
        }
        SPARE.with(|s| {
            if self.threads.len() == 1 {
                // A handler without light threads: its entry thread alone.
                if s.records.len() < SPARE_RECORDS {
                    if let Some(t) = self.threads.pop() {
                        s.records.push(t);
                    }
                }
                return;
            }
            while s.records.len() < SPARE_RECORDS {
                match self.threads.pop() {
                    Some(t) => s.records.push(t),
                    None => break,
                }
            }
        });
        self.threads.clear();
    }

    /// Ties `data` to the request: `end(data)` runs when the request ends.
    pub fn attach(&mut self, data: *mut c_void, kind: &'static AttachKind) {
        if self.attachments.capacity() == 0 {
            // A list of an earlier request: a malloc/free pair less for
            // every request with a cosocket.
            if let Some(list) = SPARE.with(|s| s.attachments.pop()) {
                self.attachments = list;
            }
        }
        if !self.attachments.iter().any(|a| a.data == data) {
            self.attachments.push(Attachment { data, kind });
        }
    }

    pub fn detach(&mut self, data: *mut c_void) {
        self.attachments.retain(|a| a.data != data);
    }

    /// The attachments of `kind`, oldest first.
    pub fn attached(&self, kind: &'static AttachKind) -> impl Iterator<Item = *mut c_void> + '_ {
        self.attachments
            .iter()
            .filter(move |a| ptr::eq(a.kind, kind))
            .map(|a| a.data)
    }
}

impl Drop for LuaCtx {
    fn drop(&mut self) {
        // Without a list (most requests) there is nothing to end.
        if self.attachments.capacity() > 0 {
            let mut list = core::mem::take(&mut self.attachments);
            for a in list.drain(..) {
                // SAFETY: the feature attached data with its own end function
                // and detaches it before the data goes away.
                unsafe { (a.kind.end)(a.data) };
            }
            // An end function may have attached again (into the emptied
            // field): that list goes with the context.
            if list.capacity() > 0 {
                SPARE.with(|s| {
                    if s.attachments.len() < SPARE_LISTS {
                        s.attachments.push(list);
                    }
                });
            }
        }
        self.release_threads();
        keep_list(core::mem::take(&mut self.threads));
        // SAFETY: the VM lives in the main conf, which outlives requests.
        if let Some(vm) = unsafe { self.vm.as_mut() } {
            if self.ctx_ref > 0 {
                vm.ctx_ref_free(self.ctx_ref);
            }
            if self.fresh_env > 0 {
                // SAFETY: the VM's live state; the ref is ours.
                unsafe { luaL_unref(vm.state(), LUA_REGISTRYINDEX, self.fresh_env) };
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The entry thread and every light thread are done.
    Done,
    /// `ngx.exit` ended the handler (other threads were aborted).
    Exit(isize),
    /// Something is still suspended, waiting for an event.
    Yielded,
    /// The entry thread died of a Lua error (already logged).
    Error,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CoState {
    /// The `ngx.on_abort` thread: created, started only if the client
    /// aborts; it does not keep the handler alive.
    Unstarted,
    /// Created or running right now.
    Running,
    /// Yielded to the scheduler; an event (or a waited-on thread) resumes it.
    Suspended,
    /// A light thread that finished; its results (`true, ...` or
    /// `false, err`) stay on its stack until the parent waits for them.
    Zombie,
    /// Finished and collected, or killed.
    Dead,
}

/// What a suspended thread waits on, registered by the feature that armed
/// the wait (a socket, a semaphore, a capture), as upstream's coroutine
/// context holds a cleanup handler and its data. The runtime knows no
/// feature type: it only calls the kind's `cancel` when the thread goes
/// away.
#[derive(Clone, Copy)]
pub struct Wait {
    pub data: *mut c_void,
    pub kind: &'static WaitKind,
}

/// A feature's kind of wait, declared as a `static`: a feature recognises
/// its own waits by the static's address (see [`AttachKind`] for why not
/// by a function's).
pub struct WaitKind {
    /// Abandons the wait. With `force` false (`ngx.thread.kill`) the
    /// feature may refuse with upstream's reason; with `force` true (the
    /// handler or the request ends) it must let go.
    pub cancel: WaitCancel,
}

pub struct CoCtx {
    pub co: *mut lua_State,
    pub co_ref: c_int,
    pub ctx: *mut LuaCtx,
    /// The spawning thread; null for the entry thread.
    pub parent: *mut CoCtx,
    /// The Lua coroutine that called `ngx.thread.spawn`: the parent's own,
    /// or a user coroutine running inside it, which upstream counts as
    /// the parent (only it may wait on the thread). Compared, never used.
    pub spawner: *mut lua_State,
    pub state: CoState,
    /// Suspended on an nginx event (as opposed to a plain yield).
    pub waiting: bool,
    /// Timer of ngx.sleep (and of "resume on the next loop"). Not dropped
    /// with the record: a record is freed only after `cancel_events` took
    /// the timer out of nginx's tree (`release_threads`), and without drop
    /// glue a record is built in its box rather than copied there.
    pub sleep_ev: ManuallyDrop<TimerEvent>,
    /// The parent blocked in ngx.thread.wait on this thread.
    pub waited_by: *mut CoCtx,
    /// The thread itself called ngx.thread.wait.
    pub in_wait: bool,
    /// Suspended by a plain coroutine.yield (resumed on the next loop
    /// turn): coroutine.status says "suspended", as upstream's, not the
    /// "running" of a thread waiting on an event.
    pub yielded: bool,
    /// What the thread waits on, if a feature registered it.
    pub wait: Option<Wait>,
    /// What the event that ended the wait reported, for the thread to read
    /// when it runs again (feature-defined: a semaphore sets 1 when the
    /// thread got a resource).
    pub wait_result: c_int,
    /// In its context's posted threads (see [`LuaCtx::post`]).
    pub posted: bool,
    posted_next: *mut CoCtx,
}

impl CoCtx {
    pub fn new(
        co: *mut lua_State,
        co_ref: c_int,
        ctx: *mut LuaCtx,
        parent: *mut CoCtx,
    ) -> Box<CoCtx> {
        let t = CoCtx {
            co,
            co_ref,
            ctx,
            parent,
            spawner: ptr::null_mut(),
            state: CoState::Running,
            waiting: false,
            sleep_ev: ManuallyDrop::new(TimerEvent::new()),
            waited_by: ptr::null_mut(),
            in_wait: false,
            yielded: false,
            wait: None,
            wait_result: 0,
            posted: false,
            posted_next: ptr::null_mut(),
        };
        match SPARE.with(|s| s.records.pop()) {
            Some(mut b) => {
                // A released record: its events were cancelled and nothing
                // points at it any more.
                *b = t;
                b
            }
            None => Box::new(t),
        }
    }

    pub fn is_entry(&self) -> bool {
        self.parent.is_null()
    }

    pub fn alive(&self) -> bool {
        matches!(self.state, CoState::Running | CoState::Suspended)
    }

    /// Registers what the thread now waits on; the feature resumes it
    /// through `sched::resume_from_event` and clears the slot first.
    pub fn wait_on(&mut self, data: *mut c_void, kind: &'static WaitKind) {
        self.wait = Some(Wait { data, kind });
        self.waiting = true;
    }

    /// The data of the wait, if the thread waits on one of `kind`.
    pub fn waiting_on(&self, kind: &'static WaitKind) -> Option<*mut c_void> {
        match self.wait {
            Some(w) if ptr::eq(w.kind, kind) => Some(w.data),
            _ => None,
        }
    }

    /// Asks the feature to abandon the wait (`ngx.thread.kill`); its reason
    /// when it refuses.
    pub fn try_cancel_wait(&mut self) -> Result<(), &'static core::ffi::CStr> {
        if let Some(w) = self.wait {
            // SAFETY: the feature registered data and cancel together; the
            // wait is still pending (features clear the slot when it ends).
            unsafe { (w.kind.cancel)(w.data, self, false)? };
            self.wait = None;
        }
        Ok(())
    }

    /// Cancels whatever the thread waits on (timers, posted events, the
    /// feature's wait).
    pub fn cancel_events(&mut self) {
        if self.sleep_ev.is_armed() {
            // SAFETY: the thread's context lives in its request, whose
            // connection log outlives the thread.
            let log = unsafe { Log::from_raw((*self.ctx).req().log()) };
            crate::debug!(log, "lua clean up the timer for pending ngx.sleep");
        }
        self.sleep_ev.cancel();
        if let Some(w) = self.wait.take() {
            // SAFETY: as in try_cancel_wait; forced, so it cannot refuse.
            let _ = unsafe { (w.kind.cancel)(w.data, self, true) };
        }
        self.waiting = false;
    }

    /// Drops the registry anchor so Lua can collect the coroutine.
    pub fn release(&mut self) {
        if self.co_ref != LUA_NOREF {
            // SAFETY: the ref was made in the registry of the VM of our
            // ctx, which outlives its threads.
            unsafe { luaL_unref((*(*self.ctx).vm).state(), LUA_REGISTRYINDEX, self.co_ref) };
            self.co_ref = LUA_NOREF;
        }
    }
}

pub type WaitCancel = unsafe fn(
    data: *mut c_void,
    t: *mut CoCtx,
    force: bool,
) -> Result<(), &'static core::ffi::CStr>;

//! `ngx.run_worker_thread`: a Lua function run in a thread of one of
//! nginx's thread pools, in a Lua VM of its own with the part of `ngx.*`
//! that needs no request (lua-lib's `resty.core.thread_vm`), while the
//! calling Lua thread waits like on a socket.
//!
//! VMs are kept in a per-worker pool (`lua_worker_thread_vm_pool_size`):
//! at most that many exist, each used by one task at a time. Arguments and
//! results are copied between the two VMs in the event loop, never while
//! the pool thread runs.
use core::ffi::{c_int, c_void};
use core::ptr;

use nginx_sys::*;

use crate::lua::ctx::{CoCtx, WaitKind};
use crate::lua::raw::*;
use crate::lua::sched::resume_from_event;
use crate::lua::vm::{Preload, Vm};
use crate::nginx::global::Worker;
use crate::nginx::panic::guard;

/// `lua_worker_thread_vm_pool_size`'s default.
pub const DEFAULT_POOL_SIZE: usize = 10;

/// How deep tables may nest in what is copied between VMs.
const MAX_DEPTH: usize = 100;

#[derive(Default)]
struct VmPool {
    /// Boxed: a VM moves between the pool and a job without its address
    /// mattering, but jobs hold boxes.
    #[allow(clippy::vec_box)]
    idle: Vec<Box<Vm>>,
    created: usize,
}

static POOL: Worker<VmPool> = Worker::new();

/// The worker exits: idle VMs are closed.
pub fn on_exit() {
    drop(POOL.take());
}

/// What a new VM is built from.
pub struct VmSpec<'a> {
    pub path: Option<&'a [u8]>,
    pub cpath: Option<&'a [u8]>,
    pub prefix: &'a [u8],
    pub preload: &'a [Preload],
    pub max: usize,
}

/// An idle VM, or a new one while fewer than `spec.max` exist.
pub fn take_vm(spec: &VmSpec) -> Option<Box<Vm>> {
    let (idle, created) = POOL.with(|p| (p.idle.pop(), p.created));
    if let Some(vm) = idle {
        return Some(vm);
    }
    if created >= spec.max {
        return None;
    }
    // Built outside the borrow: loading resty.core runs Lua code.
    match Vm::with_init(
        spec.path,
        spec.cpath,
        spec.prefix,
        spec.preload,
        b"require('resty.core.thread_vm')",
    ) {
        Ok(vm) => {
            POOL.with(|p| p.created += 1);
            Some(Box::new(vm))
        }
        Err(e) => {
            crate::nginx::log::cycle(
                NGX_LOG_ERR,
                format!("failed to create a Lua VM for a worker thread: {e}").as_bytes(),
            );
            None
        }
    }
}

/// Back to the pool, emptied and collected (as upstream).
pub fn give_vm(vm: Box<Vm>) {
    let L = vm.state();
    // SAFETY: an idle VM of ours, used by no thread now.
    unsafe {
        lua_settop(L, 0);
        lua_gc(L, LUA_GCCOLLECT, 0);
    }
    POOL.with(|p| p.idle.push(vm));
}

/// Copies the value at `idx` of `from` onto `to`: booleans, numbers,
/// strings, light userdata, nil (where `allow_nil`), and tables of those
/// (keys included). Upstream's error texts.
///
/// # Safety
/// Both states are valid, not running, with room on their stacks; `idx`
/// is a valid index of `from`.
pub unsafe fn xcopy(
    from: *mut lua_State,
    to: *mut lua_State,
    idx: c_int,
    allow_nil: bool,
    depth: usize,
) -> Result<(), String> {
    // SAFETY: the caller's contract; every push is balanced on failure.
    unsafe {
        match lua_type(from, idx) {
            LUA_TBOOLEAN => lua_pushboolean(to, lua_toboolean(from, idx)),
            LUA_TLIGHTUSERDATA => lua_pushlightuserdata(to, lua_touserdata(from, idx)),
            LUA_TNUMBER => lua_pushnumber(to, lua_tonumber(from, idx)),
            LUA_TSTRING => push_bytes(to, to_bytes(from, idx).unwrap_or_default()),
            LUA_TNIL if allow_nil => lua_pushnil(to),
            LUA_TNIL => return Err("unsupported Lua type: LUA_TNIL".into()),
            LUA_TTABLE => {
                if depth >= MAX_DEPTH {
                    return Err(format!(
                        "suspicious circular references, table depth exceed max depth: {MAX_DEPTH}"
                    ));
                }
                let idx = if idx < 0 {
                    lua_gettop(from) + idx + 1
                } else {
                    idx
                };
                let (top_from, top_to) = (lua_gettop(from), lua_gettop(to));
                lua_newtable(to);
                lua_pushnil(from);
                while lua_next(from, idx) != 0 {
                    let r = xcopy(from, to, -2, false, depth + 1)
                        .and_then(|()| xcopy(from, to, -1, false, depth + 1));
                    if let Err(e) = r {
                        lua_settop(from, top_from);
                        lua_settop(to, top_to);
                        return Err(e);
                    }
                    lua_rawset(to, -3);
                    lua_pop(from, 1);
                }
            }
            LUA_TFUNCTION => return Err("unsupported Lua type: LUA_TFUNCTION".into()),
            LUA_TUSERDATA => return Err("unsupported Lua type: LUA_TUSERDATA".into()),
            LUA_TTHREAD => return Err("unsupported Lua type: LUA_TTHREAD".into()),
            _ => return Err("unsupported Lua type".into()),
        }
    }
    Ok(())
}

/// A posted call: nginx's task first (its event and context point here).
#[repr(C)]
pub struct Job {
    task: ngx_thread_task_t,
    vm: Option<Box<Vm>>,
    nargs: c_int,
    /// What `lua_pcall` returned in the pool thread.
    rc: c_int,
    waiter: *mut CoCtx,
    /// The waiting thread went away: the completion only recycles.
    aborted: bool,
}

/// Why a call could not be posted.
pub enum PostError {
    /// The pool's queue is full.
    Queue(Box<Vm>),
}

/// Posts the function (with `nargs` arguments) on `vm`'s stack to `tp`;
/// the running thread `me` waits for it. Returns the job for
/// [`collect`].
#[cfg(ngx_lua_threads)]
pub fn post(
    tp: crate::nginx::thread_pool::ThreadPool,
    vm: Box<Vm>,
    nargs: c_int,
    me: &mut CoCtx,
) -> Result<*mut Job, PostError> {
    let job = Box::into_raw(Box::new(Job {
        // SAFETY: an all-zero task is what ngx_thread_task_alloc returns.
        task: unsafe { core::mem::zeroed() },
        vm: Some(vm),
        nargs,
        rc: 0,
        waiter: me,
        aborted: false,
    }));
    // SAFETY: the job is leaked until done() (or the failure below) takes
    // it back; the pool thread only touches its VM and rc.
    let posted = unsafe {
        crate::nginx::thread_pool::post(
            tp,
            ptr::addr_of_mut!((*job).task),
            job as *mut c_void,
            work,
            done,
        )
    };
    if !posted {
        // SAFETY: not posted: still ours alone.
        let mut b = unsafe { Box::from_raw(job) };
        return Err(PostError::Queue(b.vm.take().expect("the job has its VM")));
    }
    me.wait_on(job as *mut c_void, &WAIT);
    Ok(job)
}

/// In the pool thread: runs the function.
unsafe extern "C" fn work(data: *mut c_void, _log: *mut ngx_log_t) {
    guard((), || {
        // SAFETY: the job posted with this task; the event loop leaves it
        // alone until done().
        let job = unsafe { &mut *(data as *mut Job) };
        if let Some(vm) = job.vm.as_ref() {
            // SAFETY: the VM is this task's alone; Lua errors stop at pcall.
            job.rc = unsafe { lua_pcall(vm.state(), job.nargs, LUA_MULTRET, 0) };
        }
    })
}

/// Back in the event loop: the waiting thread resumes and collects.
unsafe extern "C" fn done(ev: *mut ngx_event_t) {
    guard((), || {
        // SAFETY: the event's data is the job posted with it.
        let job = unsafe { (*ev).data as *mut Job };
        // SAFETY: the job is ours again.
        let j = unsafe { &mut *job };
        if j.aborted {
            // SAFETY: nobody waits: the job ends here.
            let mut b = unsafe { Box::from_raw(job) };
            if let Some(vm) = b.vm.take() {
                give_vm(vm);
            }
            return;
        }
        let t = core::mem::replace(&mut j.waiter, ptr::null_mut());
        // SAFETY: the waiter is live (its cancel sets `aborted` first).
        if let Some(tr) = unsafe { t.as_mut() } {
            if tr.waiting_on(&WAIT).is_some() {
                tr.wait = None;
            }
            // SAFETY: from an event handler, as the scheduler requires.
            unsafe { resume_from_event(t) };
        }
    })
}

static WAIT: WaitKind = WaitKind { cancel };

/// The waiting thread is killed or its request ends: the call runs to its
/// end and its VM goes back to the pool then.
unsafe fn cancel(
    data: *mut c_void,
    _t: *mut CoCtx,
    _force: bool,
) -> Result<(), &'static core::ffi::CStr> {
    // SAFETY: the job registered as this wait's data; it lives until done().
    let j = unsafe { &mut *(data as *mut Job) };
    j.aborted = true;
    j.waiter = ptr::null_mut();
    Ok(())
}

/// After the waiting thread resumed: pushes `true` and the function's
/// results (or `false` and the error) onto `L`, and recycles the VM.
/// Returns the number of values pushed.
///
/// # Safety
/// `job` came from [`post`] and completed; `L` is the resumed thread.
pub unsafe fn collect(job: *mut Job, L: *mut lua_State) -> c_int {
    // SAFETY: the caller's contract; the job is freed here.
    unsafe {
        let mut b = Box::from_raw(job);
        let Some(vm) = b.vm.take() else {
            lua_pushboolean(L, 0);
            push_bytes(L, b"no Lua vm");
            return 2;
        };
        let T = vm.state();
        let n = if b.rc != 0 {
            lua_pushboolean(L, 0);
            push_bytes(L, to_bytes(T, -1).unwrap_or(b"unknown error"));
            2
        } else {
            let base = lua_gettop(L);
            let results = lua_gettop(T);
            lua_checkstack(L, results + 1);
            lua_pushboolean(L, 1);
            let mut n = results + 1;
            for i in 1..=results {
                if let Err(e) = xcopy(T, L, i, true, 1) {
                    lua_settop(L, base);
                    lua_pushboolean(L, 0);
                    push_bytes(L, format!("{e} in the return value").as_bytes());
                    n = 2;
                    break;
                }
            }
            n
        };
        give_vm(vm);
        n
    }
}

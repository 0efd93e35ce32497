//! Runaway-safe handlers, an extension beyond upstream (off by default):
//! `lua_max_memory` caps the worker VM's heap, `lua_max_run_time` caps how
//! long Lua code may run without yielding. Either way the running handler
//! fails with a Lua error (its request gets 500) and the VM and the worker
//! go on. See docs/design.md, "Runaway-safe handlers".
//!
//! Both are enforced only inside a *step*: a `lua_resume` of a scheduled
//! thread or a protected call of a handler ([`step`]). Outside, the Rust
//! side of the runtime allocates without a limit, since an allocation it
//! makes outside a protected call cannot fail without a panic of LuaJIT's.
use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering::SeqCst};
use std::time::Duration;

use super::raw::*;
use super::Global;

use crate::nginx::panic::guard;
use crate::nginx::watchdog;

/// The counting allocator's state: LuaJIT's own allocator, which does the
/// work, and the VM's heap size as the allocator has seen it. Installed
/// when either limit is configured; a step finds it through the VM's
/// allocator (`lua_getallocf`), so the VMs of `ngx.run_worker_thread`,
/// which run on other threads and have none, are left alone.
pub struct Budget {
    orig: lua_Alloc,
    orig_ud: *mut c_void,
    main: *mut lua_State,
    used: usize,
    /// `lua_max_memory`, or `usize::MAX`.
    limit: usize,
    /// A step runs: growing past `limit` is refused.
    armed: bool,
    /// How many steps are nested (a body filter runs inside content's).
    depth: u32,
    /// `lua_max_run_time` is on (in a worker).
    run_limit: bool,
    /// The size of an allocation refused since the step began (0: none).
    refused: usize,
    /// A refusal happened: collect the garbage it left before the next
    /// step.
    collect: bool,
}

unsafe extern "C-unwind" fn limited_alloc(
    ud: *mut c_void,
    p: *mut c_void,
    osize: usize,
    nsize: usize,
) -> *mut c_void {
    guard(ptr::null_mut(), || {
        // SAFETY: ud is the boxed Budget install() gave LuaJIT; it lives
        // until uninstall() gives LuaJIT its own allocator back. A VM is
        // used by one thread at a time.
        let b = unsafe { &mut *(ud as *mut Budget) };
        if nsize > osize && b.armed && b.used + (nsize - osize) > b.limit {
            b.refused = nsize;
            return ptr::null_mut();
        }
        // SAFETY: LuaJIT's own allocator with its own data and the
        // arguments LuaJIT gave us.
        let q = unsafe { (b.orig)(b.orig_ud, p, osize, nsize) };
        if !q.is_null() || nsize == 0 {
            b.used = (b.used + nsize).saturating_sub(osize);
        }
        q
    })
}

/// The budget of the VM `L` belongs to, if it has one.
///
/// Whether [`install`] ever ran in this process (it is not reset: a VM
/// whose allocator went back still answers None below).
static LIMITED: Global<bool> = Global::new(false);

/// # Safety
/// `L` is a live state; the budget is only used while the VM is.
#[inline]
unsafe fn budget_of<'a>(L: *mut lua_State) -> Option<&'a mut Budget> {
    // Without lua_max_memory no VM has our allocator: every C function
    // call (see Unlimited) then skips LuaJIT's lua_getallocf.
    if !LIMITED.get() {
        return None;
    }
    let mut ud = ptr::null_mut();
    // SAFETY: the caller's promise; lua_getallocf only reads.
    let f = unsafe { lua_getallocf(L, &mut ud) };
    if f as usize != limited_alloc as *const () as usize {
        return None;
    }
    // SAFETY: our allocator's data is the boxed Budget (install), used by
    // the one thread that runs the VM.
    Some(unsafe { &mut *(ud as *mut Budget) })
}

/// The bytes the VM's heap holds (`collectgarbage("count")` in bytes).
///
/// # Safety
/// `L` is a live state.
unsafe fn heap_size(L: *mut lua_State) -> usize {
    // SAFETY: the caller's promise; the counts do not run the collector.
    unsafe { lua_gc(L, LUA_GCCOUNT, 0) as usize * 1024 + lua_gc(L, LUA_GCCOUNTB, 0) as usize }
}

/// Puts the counting allocator under the VM `L`, refusing growth past
/// `limit` bytes in steps (`usize::MAX`: only for `lua_max_run_time`'s
/// bookkeeping); Err with the heap's size when it already holds that much.
///
/// # Safety
/// `L` is the main state of a VM that runs no Lua code now; the budget
/// returned must outlive the VM's use of it: [`uninstall`] before closing.
pub unsafe fn install(L: *mut lua_State, limit: usize) -> Result<Box<Budget>, usize> {
    // SAFETY: the caller's promise: LuaJIT takes the allocator swap while
    // no allocation is under way, and the box stays where it is.
    unsafe {
        let used = heap_size(L);
        if used >= limit {
            return Err(used);
        }
        let mut ud = ptr::null_mut();
        let orig = lua_getallocf(L, &mut ud);
        let mut b = Box::new(Budget {
            orig,
            orig_ud: ud,
            main: L,
            used,
            limit,
            armed: false,
            depth: 0,
            run_limit: false,
            refused: 0,
            collect: false,
        });
        let bp: *mut Budget = &mut *b;
        LIMITED.set(true);
        lua_setallocf(L, limited_alloc, bp as *mut c_void);
        Ok(b)
    }
}

/// Gives the VM its own allocator back (LuaJIT frees its arena on close
/// only when its own allocator is in place).
///
/// # Safety
/// `L` is the state `b` was installed under, running no Lua code.
pub unsafe fn uninstall(L: *mut lua_State, b: &mut Budget) {
    // SAFETY: the caller's promise.
    unsafe { lua_setallocf(L, b.orig, b.orig_ud) };
}

/// Lifts the memory limit for as long as it lives (the Rust part of a
/// C function: a refusal there would raise inside `catch_unwind`).
pub struct Unlimited(*mut Budget);

impl Unlimited {
    /// # Safety
    /// `L` is the live state of the running C function.
    #[inline]
    pub unsafe fn new(L: *mut lua_State) -> Unlimited {
        // SAFETY: the caller's promise.
        match unsafe { budget_of(L) } {
            Some(b) if b.armed => {
                b.armed = false;
                Unlimited(b)
            }
            _ => Unlimited(ptr::null_mut()),
        }
    }
}

impl Drop for Unlimited {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the budget of the VM whose C function runs (alive).
        if let Some(b) = unsafe { self.0.as_mut() } {
            b.armed = true;
        }
    }
}

/// A step of Lua code under the limits: made just before `lua_resume` or
/// `lua_pcall`, dropped right after.
pub struct Step {
    budget: *mut Budget,
    prev_armed: bool,
}

/// Starts a step of Lua code on `L`.
///
/// # Safety
/// `L` is a live state of a VM, which runs on this thread.
#[inline]
pub unsafe fn step(L: *mut lua_State) -> Step {
    // SAFETY: the caller's promise.
    let Some(b) = (unsafe { budget_of(L) }) else {
        return Step {
            budget: ptr::null_mut(),
            prev_armed: false,
        };
    };
    b.depth += 1;
    if b.depth == 1 {
        if b.collect {
            b.collect = false;
            // SAFETY: before the step is armed, outside any Lua code of
            // the VM's (finalizers are called protected).
            unsafe { lua_gc(b.main, LUA_GCCOLLECT, 0) };
        }
        if b.run_limit {
            run_begin();
        }
    }
    let prev_armed = core::mem::replace(&mut b.armed, true);
    Step {
        budget: b,
        prev_armed,
    }
}

impl Drop for Step {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the budget step() found, alive with its VM.
        let Some(b) = (unsafe { self.budget.as_mut() }) else {
            return;
        };
        b.armed = self.prev_armed;
        b.depth -= 1;
        if b.depth == 0 {
            if b.run_limit {
                run_end();
            }
            if b.refused != 0 {
                report_refusal(b);
            }
        }
    }
}

/// What a step that had an allocation refused reports, and the count
/// hook that stops an overrunning step: the scheduler's (it knows the
/// running phase and request and raises Lua errors), registered when a
/// limit is configured, so that the budget depends on nothing above it.
#[derive(Clone, Copy)]
pub struct Reporters {
    pub refusal: fn(Refusal),
    pub hook: lua_Hook,
}

static REPORTERS: Global<Option<Reporters>> = Global::new(None);

/// Registers the scheduler's reporters (before a VM gets a budget).
pub fn set_reporters(r: Reporters) {
    REPORTERS.set(Some(r));
}

/// An allocation refused in the step that just ended.
pub struct Refusal {
    pub limit: usize,
    pub size: usize,
    pub used: usize,
}

#[cold]
fn report_refusal(b: &mut Budget) {
    let r = Refusal {
        limit: b.limit,
        size: b.refused,
        used: b.used,
    };
    b.refused = 0;
    b.collect = true;
    if let Some(rep) = REPORTERS.get() {
        (rep.refusal)(r);
    }
}

// lua_max_run_time. The event-loop thread marks steps (SEQ, RUNNING); a
// tick of the worker's interval timer (a signal handler on the same
// thread, nginx::watchdog) sees a step that has not changed for the limit,
// records it in FIRED and sets a count hook; the hook raises in it. JIT-
// compiled loops see the hook because LuaJIT is built with
// LUAJIT_ENABLE_CHECKHOOK (.cargo/config.toml): traces leave when a hook
// is set. Everything here runs on the event-loop thread; the atomics are
// for the signal handler, which interrupts it anywhere.

static RUN_LIMIT_MS: Global<u64> = Global::new(0);
static SEQ: AtomicU64 = AtomicU64::new(0);
static RUNNING: AtomicBool = AtomicBool::new(false);
static FIRED: AtomicU64 = AtomicU64::new(u64::MAX);
static HOOKED: AtomicBool = AtomicBool::new(false);
static MAIN: AtomicPtr<lua_State> = AtomicPtr::new(ptr::null_mut());
// The tick's own state (only the handler touches it).
static TICKS_NEEDED: AtomicU64 = AtomicU64::new(u64::MAX);
static IDLE_TICKS_MAX: AtomicU64 = AtomicU64::new(u64::MAX);
static SEEN: AtomicU64 = AtomicU64::new(u64::MAX);
static TICKS: AtomicU64 = AtomicU64::new(0);
static IDLE: AtomicU64 = AtomicU64::new(0);

#[inline]
fn run_begin() {
    SEQ.store(SEQ.load(SeqCst).wrapping_add(1), SeqCst);
    RUNNING.store(true, SeqCst);
    watchdog::arm();
}

#[inline]
fn run_end() {
    RUNNING.store(false, SeqCst);
    if HOOKED.load(SeqCst) && HOOKED.swap(false, SeqCst) {
        let L = MAIN.load(SeqCst);
        if !L.is_null() {
            // SAFETY: the VM's main state (cleared before the VM closes);
            // no step runs, so no hook is being called.
            unsafe { lua_sethook(L, None, 0, 0) };
        }
    }
}

/// A tick, in signal context on the event-loop thread: only atomics, the
/// timer and lua_sethook (which LuaJIT documents as safe in a signal
/// handler: its own Ctrl-C handler uses it).
fn on_tick() {
    let seq = SEQ.load(SeqCst);
    if !RUNNING.load(SeqCst) {
        // No Lua code right now; idle when no step began since the last
        // tick either. After a second of that, the ticks stop until the
        // next step.
        if SEEN.swap(seq, SeqCst) == seq {
            if IDLE.fetch_add(1, SeqCst) + 1 >= IDLE_TICKS_MAX.load(SeqCst) {
                IDLE.store(0, SeqCst);
                watchdog::disarm();
            }
        } else {
            IDLE.store(0, SeqCst);
        }
        TICKS.store(0, SeqCst);
        return;
    }
    IDLE.store(0, SeqCst);
    if SEEN.swap(seq, SeqCst) != seq {
        // A step that began since the last tick.
        TICKS.store(0, SeqCst);
        return;
    }
    if TICKS.fetch_add(1, SeqCst) + 1 < TICKS_NEEDED.load(SeqCst) {
        return;
    }
    // The same step for the whole limit. Set again on every further tick
    // while it runs, should the collector's hook bookkeeping drop it.
    FIRED.store(seq, SeqCst);
    let L = MAIN.load(SeqCst);
    let hook = REPORTERS.get().map(|r| r.hook);
    if !L.is_null() && hook.is_some() {
        HOOKED.store(true, SeqCst);
        // SAFETY: the VM's main state; hooks are global to the VM.
        unsafe { lua_sethook(L, hook, LUA_MASKCOUNT, 1) };
    }
}

/// For the count hook: the limit (ms) when the running step has overrun
/// it (the hook raises, at every instruction until the step ends, so a
/// `pcall` in a loop cannot swallow it); None for a hook left from a step
/// that already ended, which is then removed from `L`.
///
/// # Safety
/// `L` is the state the hook was called with.
pub unsafe fn overrun(L: *mut lua_State) -> Option<u64> {
    if RUNNING.load(SeqCst) && SEQ.load(SeqCst) == FIRED.load(SeqCst) {
        return Some(RUN_LIMIT_MS.get());
    }
    HOOKED.store(false, SeqCst);
    // SAFETY: the running state (the caller's promise); removing the hook
    // from inside it is what LuaJIT's own Ctrl-C hook does.
    unsafe { lua_sethook(L, None, 0, 0) };
    None
}

/// Turns `lua_max_run_time` on in this worker for the VM `L`: from here
/// on (`init_worker_by_lua*` included) a step that runs `ms` without
/// yielding fails.
///
/// # Safety
/// `L` is the main state of the worker's VM, whose budget is installed.
pub unsafe fn start_run_limit(L: *mut lua_State, ms: u64) -> Result<(), String> {
    // SAFETY: the caller's promise.
    let Some(b) = (unsafe { budget_of(L) }) else {
        return Err("no budget installed".into());
    };
    let ms = ms.max(1);
    let (tick, needed, idle_max) = tick_plan(ms);
    TICKS_NEEDED.store(needed, SeqCst);
    IDLE_TICKS_MAX.store(idle_max, SeqCst);
    MAIN.store(L, SeqCst);
    RUN_LIMIT_MS.set(ms);
    watchdog::start(Duration::from_millis(tick), on_tick)?;
    b.run_limit = true;
    Ok(())
}

/// The tick (ms), how many ticks of one step stop it, and after how many
/// ticks without a step the timer stops: ticks of a quarter of the limit
/// (1 ms to 250 ms), so a step is stopped between `ms` and `ms` + a tick
/// after it began, and a second of idleness ends the ticks.
fn tick_plan(ms: u64) -> (u64, u64, u64) {
    let tick = (ms / 4).clamp(1, 250);
    (tick, ms.div_ceil(tick), 1000u64.div_ceil(tick))
}

/// The worker's VM is about to close: no hook may be set on it any more.
pub fn stop_run_limit() {
    MAIN.store(ptr::null_mut(), SeqCst);
    watchdog::stop();
}

#[cfg(test)]
mod tests {
    use super::tick_plan;

    #[test]
    fn ticks_cover_the_limit() {
        assert_eq!(tick_plan(100), (25, 4, 40));
        assert_eq!(tick_plan(1), (1, 1, 1000));
        assert_eq!(tick_plan(3), (1, 3, 1000));
        assert_eq!(tick_plan(10_000), (250, 40, 4));
        assert_eq!(tick_plan(1001), (250, 5, 4));
        for ms in 1..5000 {
            let (tick, needed, _) = tick_plan(ms);
            assert!(tick * needed >= ms && tick * (needed - 1) < ms, "{ms}");
        }
    }
}

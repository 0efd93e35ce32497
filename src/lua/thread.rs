//! Light threads (`ngx.thread.spawn/wait/kill`, `ngx.on_abort`): the
//! scheduler's side. Each operation takes the calling C function's state
//! and reports a [`Raise`] instead of raising (see `cfunction.rs`).
use core::ffi::c_int;
use core::ptr;

use super::cfunction::{Raise, State};
use super::ctx::{CoCtx, CoState, LuaCtx};
use super::phase::{HANDLER_PHASES, YIELDABLE};
use super::raw::*;
use super::sched::{current, run_one, take_results};

/// The running request's context and thread, or the error to raise.
fn running() -> Result<(&'static mut LuaCtx, *mut CoCtx), Raise> {
    let cur = current();
    let Some(ctx) = cur.lua_ctx() else {
        return Err(Raise::Error(c"no request found"));
    };
    if YIELDABLE & cur.phase.bit() == 0 || cur.co.is_null() {
        return Err(Raise::Disabled(cur.phase));
    }
    Ok((ctx, cur.co))
}

/// The newest thread record of coroutine `co` (records stay, marked dead,
/// until the handler ends).
fn find(ctx: &mut LuaCtx, co: State) -> *mut CoCtx {
    ctx.threads
        .iter_mut()
        .rev()
        .find(|t| t.co == co.as_ptr())
        .map_or(ptr::null_mut(), |t| &mut **t as *mut CoCtx)
}

/// `spawn(f, ...)`: runs `f` in a new light thread until it first yields;
/// pushes the thread and whether the caller must yield: the new thread
/// ended the handler with `ngx.exit` or an error, or other threads were
/// posted before the caller. As upstream's spawn, the caller is posted
/// when the new thread starts and runs again in its turn; when nothing was
/// posted before it, that turn is now, and it simply returns.
pub fn spawn(L: State) -> Result<c_int, Raise> {
    let (ctx, parent) = running()?;
    if L.type_of(1) != LUA_TFUNCTION {
        return Err(Raise::Type(1, LUA_TFUNCTION));
    }
    let n = L.top();
    // The function and its arguments, on a coroutine that is also the
    // first result; its record releases the anchor.
    let (co, co_ref) = L
        .new_coroutine(1, n, true)
        .ok_or(Raise::Error(c"no memory"))?;
    let mut t = CoCtx::new(co.as_ptr(), co_ref, ctx, parent);
    t.spawner = L.as_ptr();
    let tp: *mut CoCtx = &mut *t;
    ctx.threads.push(t);
    // SAFETY: the running thread's record: live, and no other reference to
    // it is held here.
    ctx.post(unsafe { &mut *parent });
    // SAFETY: tp is the record just boxed into ctx.threads: live and not
    // running.
    unsafe { run_one(tp, n - 1) };
    let must_yield = if ctx.exit_code.is_some() || ctx.entry_failed {
        ctx.clear_posted();
        true
    } else if ctx.first_posted() == parent {
        ctx.pop_posted();
        false
    } else {
        // Stays posted: the outermost run_one resumes it in turn.
        true
    };
    L.push_bool(must_yield);
    Ok(2)
}

/// `wait(t1, t2, ...)`: the results of the first to finish, or -2 when the
/// caller must yield until one does.
pub fn wait(L: State) -> Result<c_int, Raise> {
    let (ctx, cur) = running()?;
    let n = L.top();
    if n == 0 {
        return Err(Raise::MessageUp(
            b"at least one coroutine should be specified".to_vec(),
        ));
    }
    // First pass: check every argument and collect a finished thread;
    // the second marks the pending ones (no list allocated per call).
    for i in 1..=n {
        let Some(co) = L.thread_at(i) else {
            return Err(Raise::MessageUp(
                format!("bad argument #{i} to 'wait' (lua thread expected)").into_bytes(),
            ));
        };
        let t = find(ctx, co);
        // SAFETY: records of ctx are alive until the handler ends.
        let Some(tr) = (unsafe { t.as_mut() }) else {
            return Err(Raise::MessageUp(
                b"attempt to wait on a coroutine that is not a user thread".to_vec(),
            ));
        };
        if tr.is_entry() {
            return Err(Raise::MessageUp(
                b"attempt to wait on a coroutine that is not a user thread".to_vec(),
            ));
        }
        if tr.parent != cur || (!tr.spawner.is_null() && tr.spawner != L.as_ptr()) {
            return Err(Raise::MessageUp(
                b"only the parent coroutine can wait on the thread".to_vec(),
            ));
        }
        match tr.state {
            CoState::Zombie => {
                L.clear();
                // SAFETY: a zombie keeps its results on its own stack.
                return Ok(unsafe { take_results(tr, L.as_ptr()) });
            }
            CoState::Dead => {
                if i < n {
                    continue;
                }
                L.push_nil();
                L.push_str(b"already waited or killed");
                return Ok(2);
            }
            _ => {}
        }
    }
    for i in 1..=n {
        if let Some(co) = L.thread_at(i) {
            let t = find(ctx, co);
            // SAFETY: records of ctx (see above); all checked as threads of
            // the caller by the first pass.
            if let Some(tr) = unsafe { t.as_mut() } {
                if !matches!(tr.state, CoState::Zombie | CoState::Dead) {
                    tr.waited_by = cur;
                }
            }
        }
    }
    // SAFETY: the running thread's record.
    unsafe { (*cur).in_wait = true };
    L.push_int(-2);
    Ok(1)
}

fn fail(L: State, msg: &[u8]) -> Result<c_int, Raise> {
    L.push_nil();
    L.push_str(msg);
    Ok(2)
}

/// `kill(t)`: true, or nil and upstream's reason.
pub fn kill(L: State) -> Result<c_int, Raise> {
    let (ctx, cur) = running()?;
    let Some(co) = L.thread_at(1) else {
        return Err(Raise::Arg(1, c"lua thread expected"));
    };
    let t = find(ctx, co);
    // SAFETY: records of ctx are alive until the handler ends.
    let Some(tr) = (unsafe { t.as_mut() }) else {
        return fail(L, b"not user thread");
    };
    if tr.is_entry() {
        return fail(L, b"not user thread");
    }
    if tr.parent != cur {
        return fail(L, b"killer not parent");
    }
    match tr.state {
        CoState::Zombie => {
            tr.state = CoState::Dead;
            tr.release();
            fail(L, b"already terminated")
        }
        CoState::Dead => fail(L, b"already waited or killed"),
        _ => {
            if let Err(reason) = tr.try_cancel_wait() {
                return fail(L, reason.to_bytes());
            }
            tr.cancel_events();
            if ctx.event_waiter == t {
                ctx.event_waiter = ptr::null_mut();
            }
            for other in ctx.threads.iter_mut() {
                if other.waited_by == t {
                    other.waited_by = ptr::null_mut();
                }
            }
            // The record is found again through ctx.threads: re-borrow.
            // SAFETY: as above.
            let tr = unsafe { &mut *t };
            tr.state = CoState::Dead;
            tr.release();
            L.push_int(1);
            Ok(1)
        }
    }
}

/// The status of a light thread whose coroutine status would mislead:
/// "zombie" (finished, not waited for: its results stay on its stack),
/// "dead" (killed while suspended) or "running" (suspended on an event or
/// in ngx.thread.wait: upstream marks only a plain coroutine.yield as
/// suspending it); nil otherwise.
pub fn status(L: State) -> Result<c_int, Raise> {
    let state = match (current().lua_ctx(), L.thread_at(1)) {
        (Some(ctx), Some(co)) => {
            let t = find(ctx, co);
            // SAFETY: records of ctx are alive until the handler ends.
            unsafe { t.as_ref() }.map(|t| (t.state, (t.waiting || t.in_wait) && !t.yielded))
        }
        _ => None,
    };
    match state {
        Some((CoState::Zombie, _)) => L.push_str(b"zombie"),
        Some((CoState::Dead, _)) => L.push_str(b"dead"),
        Some((CoState::Suspended, true)) => L.push_str(b"running"),
        _ => L.push_nil(),
    }
    Ok(1)
}

/// `ngx.on_abort(f)`: registers `f` to run as a light thread if the client
/// closes the connection while the handler runs (`enabled`: the
/// location's `lua_check_client_abort`).
pub fn on_abort(L: State, enabled: impl FnOnce(&LuaCtx) -> bool) -> Result<c_int, Raise> {
    let (ctx, parent) = running()?;
    let phase = current().phase;
    // Every yieldable phase but timers, which have no client.
    if HANDLER_PHASES & phase.bit() == 0 {
        // ngx.on_abort is this C function itself: the user's call site.
        return Err(Raise::DisabledHere(phase));
    }
    if L.type_of(1) != LUA_TFUNCTION {
        return Err(Raise::Type(1, LUA_TFUNCTION));
    }
    if ctx.threads.iter().any(|t| t.state == CoState::Unstarted) {
        return fail(L, b"duplicate call");
    }
    if !enabled(ctx) {
        return fail(L, b"lua_check_client_abort is off");
    }
    // The function on a coroutine its record anchors until released.
    let (co, co_ref) = L
        .new_coroutine(1, 1, false)
        .ok_or(Raise::Error(c"no memory"))?;
    let mut t = CoCtx::new(co.as_ptr(), co_ref, ctx, parent);
    t.state = CoState::Unstarted;
    ctx.threads.push(t);
    L.push_int(1);
    Ok(1)
}

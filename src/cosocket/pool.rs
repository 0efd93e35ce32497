//! Per-worker keepalive pools of idle upstream connections, keyed by
//! `host:port` or a pool name.
use std::collections::{HashMap, VecDeque};

use core::ffi::c_void;
use core::ptr;

use nginx_sys::*;

use crate::nginx::log;
use crate::nginx::sock::{peek, Peek};

struct Idle {
    c: *mut ngx_connection_t,
    key: Vec<u8>,
    reused: u32,
}

type PoolMap = HashMap<Vec<u8>, VecDeque<Box<Idle>>>;

struct Pools(core::cell::UnsafeCell<Option<PoolMap>>);
// SAFETY: only nginx's single event-loop thread uses it.
unsafe impl Sync for Pools {}
static POOLS: Pools = Pools(core::cell::UnsafeCell::new(None));

fn pools() -> &'static mut PoolMap {
    // SAFETY: single-threaded worker; no borrow is held across calls.
    unsafe { (*POOLS.0.get()).get_or_insert_with(HashMap::new) }
}

/// Adds an idle connection, evicting the oldest when the pool is full.
///
/// # Safety
/// `c` is a connected upstream connection nobody else uses any more.
pub unsafe fn put(
    key: Vec<u8>,
    c: *mut ngx_connection_t,
    reused: u32,
    timeout: ngx_msec_t,
    size: usize,
) {
    let q = pools().entry(key.clone()).or_default();
    while size > 0 && q.len() >= size {
        if let Some(old) = q.pop_front() {
            // SAFETY: an idle connection we own.
            unsafe { ngx_close_connection(old.c) };
        }
    }
    if size == 0 {
        // SAFETY: our connection; a zero-size pool keeps nothing.
        unsafe { ngx_close_connection(c) };
        return;
    }
    let mut idle = Box::new(Idle { c, key, reused });
    // SAFETY: our connection: it now belongs to the pool, logs to the cycle
    // log (the request that used it may go away) and watches for the peer
    // closing it or the idle timeout.
    unsafe {
        (*c).data = &mut *idle as *mut Idle as *mut c_void;
        let cl = log::cycle_log();
        (*c).log = cl;
        (*(*c).read).log = cl;
        (*(*c).write).log = cl;
        (*(*c).read).handler = Some(idle_read);
        (*(*c).write).handler = Some(idle_write);
        (*c).set_idle(1);
        let rev = (*c).read;
        if (*rev).timer_set() != 0 {
            ngx_del_timer(rev);
        }
        if (*(*c).write).timer_set() != 0 {
            ngx_del_timer((*c).write);
        }
        if timeout > 0 {
            ngx_add_timer(rev, timeout);
        }
        if ngx_handle_read_event(rev, 0) != NGX_OK as isize {
            ngx_close_connection(c);
            return;
        }
    }
    q.push_back(idle);
}

/// Takes the most recently pooled connection for `key`.
pub fn take(key: &[u8]) -> Option<(*mut ngx_connection_t, u32)> {
    let q = pools().get_mut(key)?;
    let idle = q.pop_back()?;
    // SAFETY: an idle connection we own; the caller adopts it.
    unsafe {
        let c = idle.c;
        (*c).set_idle(0);
        if (*(*c).read).timer_set() != 0 {
            ngx_del_timer((*c).read);
        }
        Some((c, idle.reused))
    }
}

/// Closes and forgets an idle connection.
unsafe fn drop_idle(c: *mut ngx_connection_t) {
    // SAFETY: c's data is its Idle record in the pool.
    unsafe {
        let idle = (*c).data as *mut Idle;
        let key = (*idle).key.clone();
        if let Some(q) = pools().get_mut(&key) {
            q.retain(|i| !ptr::eq(&**i, idle));
        }
        ngx_close_connection(c);
    }
}

unsafe extern "C" fn idle_read(rev: *mut ngx_event_t) {
    // SAFETY: an idle pooled connection's read event.
    unsafe {
        let c = (*rev).data as *mut ngx_connection_t;
        if (*rev).timedout() != 0 || (*c).close() != 0 {
            drop_idle(c);
            return;
        }
        // Any readable event on an idle connection is the peer closing it
        // or sending data nobody asked for: either way it is unusable.
        if peek((*c).fd) == Peek::WouldBlock {
            return;
        }
        drop_idle(c);
    }
}

unsafe extern "C" fn idle_write(_wev: *mut ngx_event_t) {}

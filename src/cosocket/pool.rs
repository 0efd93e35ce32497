//! Per-worker keepalive pools of idle upstream connections, keyed by
//! `host:port` or a pool name.
//!
//! A pool counts its connections as upstream does: the idle ones, the
//! sockets that connected through it (an existing pool, or one the
//! `pool_size`/`backlog` options created) and the connect operations queued
//! behind a full pool (`backlog`). When the count drops to zero the pool is
//! forgotten, so the next connect or setkeepalive sizes it anew.
use std::collections::{HashMap, VecDeque};

use core::ffi::c_void;
use core::ptr;

use nginx_sys::*;

use super::tcp::Tcp;
use crate::nginx::log;
use crate::nginx::sock::{peek, Peek};

struct Idle {
    c: *mut ngx_connection_t,
    pool: *mut Pool,
    reused: u32,
}

pub struct Pool {
    key: Vec<u8>,
    size: usize,
    /// Connect operations that may wait for a free slot; `None`: no queue,
    /// connects beyond `size` go ahead.
    backlog: Option<usize>,
    connections: usize,
    /// Oldest first; reuse takes the newest.
    idle: VecDeque<Box<Idle>>,
    /// Queued connect operations, first come first served.
    waiters: VecDeque<*mut Tcp>,
}

type PoolMap = HashMap<Vec<u8>, Box<Pool>>;

static POOLS: crate::lua::Global<*mut PoolMap> = crate::lua::Global::new(ptr::null_mut());

fn pools() -> &'static mut PoolMap {
    let mut p = POOLS.get();
    if p.is_null() {
        p = Box::into_raw(Box::default());
        POOLS.set(p);
    }
    // SAFETY: created once per process and never freed; single-threaded
    // worker, no borrow is held across calls.
    unsafe { &mut *p }
}

/// The pool for `key`, if one exists.
pub fn find(key: &[u8]) -> *mut Pool {
    pools()
        .get_mut(key)
        .map_or(ptr::null_mut(), |p| &mut **p as *mut Pool)
}

/// Creates the pool for `key` (the caller checked that there is none).
///
/// # Safety
/// `log` is a live log.
pub unsafe fn create(
    key: &[u8],
    size: usize,
    backlog: Option<usize>,
    log: *mut ngx_log_t,
) -> *mut Pool {
    let mut p = Box::new(Pool {
        key: key.to_vec(),
        size,
        backlog,
        connections: 0,
        idle: VecDeque::new(),
        waiters: VecDeque::new(),
    });
    let ptr: *mut Pool = &mut *p;
    // SAFETY: a live log.
    unsafe {
        log::log_error(
            NGX_LOG_DEBUG,
            log,
            format!(
                "lua tcp socket connection pool size: {size}, backlog: {}",
                backlog.map_or(-1, |b| b as i64)
            )
            .as_bytes(),
        )
    };
    pools().insert(key.to_vec(), p);
    ptr
}

/// What a connect through a pool should do.
pub enum Admit {
    /// An idle connection (and its reuse count) for the caller.
    Reuse(*mut ngx_connection_t, u32),
    /// The caller holds a slot now and connects.
    Connect,
    /// The pool is full: the caller was queued and waits.
    Queued,
    /// Pool and queue are full.
    TooMany,
}

impl Pool {
    /// Admits one connect operation of `s`. `resuming`: a queued operation
    /// whose turn came; it is not queued again.
    pub fn admit(&mut self, s: *mut Tcp, resuming: bool) -> Admit {
        if let Some(idle) = self.idle.pop_back() {
            // SAFETY: an idle connection we own; the caller adopts it.
            unsafe {
                let c = idle.c;
                (*c).set_idle(0);
                if (*(*c).read).timer_set() != 0 {
                    ngx_del_timer((*c).read);
                }
                return Admit::Reuse(c, idle.reused);
            }
        }
        self.connections += 1;
        if let (Some(backlog), false) = (self.backlog, resuming) {
            if self.connections > self.size + backlog {
                self.connections -= 1;
                return Admit::TooMany;
            }
            if self.connections > self.size {
                self.waiters.push_back(s);
                return Admit::Queued;
            }
        }
        Admit::Connect
    }

    /// A queued connect's turn came: its queue slot is given up before it
    /// is admitted again (without freeing the pool in between).
    pub fn forfeit(&mut self) {
        self.connections = self.connections.saturating_sub(1);
    }

    pub fn key(&self) -> &[u8] {
        &self.key
    }
}

/// Gives back the slot a socket held (a closed connection, a failed or
/// abandoned connect); frees the pool when nothing is left in it, else lets
/// the first queued connect go.
///
/// # Safety
/// `p` is a live pool and the caller held one of its counted slots.
pub unsafe fn release(p: *mut Pool) {
    // SAFETY: see above.
    unsafe {
        let pool = &mut *p;
        pool.connections = pool.connections.saturating_sub(1);
        if pool.connections == 0 {
            let key = pool.key.clone();
            pools().remove(&key);
            return;
        }
        wake_first(pool);
    }
}

/// Gives back the count of a queued connect that ends without connecting
/// (timeout, kill): it never held a connection, so the next waiter only
/// gets a turn when one had been passed to this operation (`pass_turn`).
/// Waking it otherwise let it connect beyond `pool_size`.
///
/// # Safety
/// `p` is a live pool and the operation was counted in it.
pub unsafe fn release_queued(p: *mut Pool, pass_turn: bool) {
    // SAFETY: see above.
    unsafe {
        let pool = &mut *p;
        pool.connections = pool.connections.saturating_sub(1);
        if pool.connections == 0 {
            let key = pool.key.clone();
            pools().remove(&key);
        } else if pass_turn {
            wake_first(pool);
        }
    }
}

/// Removes `s` from the queue (its wait ended: turn, timeout, kill).
pub fn dequeue(p: &mut Pool, s: *mut Tcp) {
    p.waiters.retain(|&w| w != s);
}

/// Lets the first queued connect operation run (on the next loop turn).
fn wake_first(pool: &mut Pool) {
    if let Some(&s) = pool.waiters.front() {
        // SAFETY: queued sockets are live (their end dequeues them).
        unsafe { (*s).post_queue_turn() };
    }
}

/// Closes a cosocket connection: a quiet TLS shutdown, its pool, the socket.
///
/// # Safety
/// `c` is a connection nobody uses any more.
pub unsafe fn close_connection(c: *mut ngx_connection_t) {
    // SAFETY: see above; the pool was made for this connection.
    unsafe {
        if !(*c).ssl.is_null() {
            (*(*c).ssl).set_no_wait_shutdown(1);
            (*(*c).ssl).set_no_send_shutdown(1);
            ngx_ssl_shutdown(c);
        }
        if !(*c).pool.is_null() {
            ngx_destroy_pool((*c).pool);
            (*c).pool = ptr::null_mut();
        }
        ngx_close_connection(c);
    }
}

/// Why `put` refused a connection.
pub enum PutError {
    /// No pool exists and the size to create one with is not positive.
    BadSize(i64),
    /// Data arrived while pooling it: the connection was closed.
    Dubious,
}

/// Parks an idle connection in `key`'s pool, creating it with `size` (or
/// `default_size`) when there is none, evicting the oldest idle connection
/// when the pool is full. `counted`: the caller held a slot of this pool.
///
/// # Safety
/// `c` is a connected upstream connection nobody else uses any more.
#[allow(clippy::too_many_arguments)]
pub unsafe fn put(
    key: &[u8],
    c: *mut ngx_connection_t,
    reused: u32,
    counted: bool,
    timeout: ngx_msec_t,
    size: Option<i64>,
    default_size: usize,
    log: *mut ngx_log_t,
) -> Result<(), PutError> {
    let mut p = find(key);
    if p.is_null() {
        let n = size.unwrap_or(default_size as i64);
        if n <= 0 {
            return Err(PutError::BadSize(n));
        }
        // SAFETY: the caller's live log.
        p = unsafe { create(key, n as usize, None, log) };
    }
    // SAFETY: p is a live pool; c is ours (see above).
    unsafe {
        let pool = &mut *p;
        if pool.idle.len() >= pool.size {
            if let Some(old) = pool.idle.pop_front() {
                close_connection(old.c);
            }
            if counted {
                pool.connections = pool.connections.saturating_sub(1);
            }
        } else if !counted {
            pool.connections += 1;
        }
        let mut idle = Box::new(Idle { c, pool: p, reused });
        // The connection now belongs to the pool: it logs to the cycle log
        // (the request that used it may go away) and watches for the peer
        // closing it or the idle timeout.
        (*c).data = &mut *idle as *mut Idle as *mut c_void;
        let cl = log::cycle_log();
        (*c).log = cl;
        (*(*c).read).log = cl;
        (*(*c).write).log = cl;
        if !(*c).pool.is_null() {
            (*(*c).pool).log = cl;
        }
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
        let ready = (*rev).ready() != 0;
        pool.idle.push_back(idle);
        if ready && !still_idle(c) {
            drop_idle(c);
            return Err(PutError::Dubious);
        }
        if ngx_handle_read_event(rev, 0) != NGX_OK as isize {
            drop_idle(c);
            return Err(PutError::Dubious);
        }
        wake_first(pool);
    }
    Ok(())
}

/// Whether an idle connection that became readable is still usable: TLS
/// connections read (a session ticket after the handshake is not data);
/// plain ones peek.
unsafe fn still_idle(c: *mut ngx_connection_t) -> bool {
    // SAFETY: an idle pooled connection.
    unsafe {
        if (*c).close() != 0 || (*(*c).read).timedout() != 0 {
            return false;
        }
        if !(*c).ssl.is_null() {
            let mut b = [0u8; 1];
            let Some(recv) = (*c).recv else {
                return false;
            };
            return recv(c, b.as_mut_ptr(), 1) == NGX_AGAIN as isize;
        }
        peek((*c).fd) == Peek::WouldBlock
    }
}

/// Closes and forgets an idle connection.
unsafe fn drop_idle(c: *mut ngx_connection_t) {
    // SAFETY: c's data is its Idle record in its pool.
    unsafe {
        let idle = (*c).data as *mut Idle;
        let p = (*idle).pool;
        (*p).idle.retain(|i| !ptr::eq(&**i, idle));
        close_connection(c);
        release(p);
    }
}

unsafe extern "C" fn idle_read(rev: *mut ngx_event_t) {
    // SAFETY: an idle pooled connection's read event.
    unsafe {
        let c = (*rev).data as *mut ngx_connection_t;
        if still_idle(c) {
            if ngx_handle_read_event(rev, 0) != NGX_OK as isize {
                drop_idle(c);
            }
            return;
        }
        // The peer closed it, sent data nobody asked for, or it timed out.
        drop_idle(c);
    }
}

unsafe extern "C" fn idle_write(_wev: *mut ngx_event_t) {}

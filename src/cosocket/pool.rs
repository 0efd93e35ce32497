//! Per-worker keepalive pools of idle upstream connections, keyed by
//! `host:port` or a pool name.
//!
//! A pool counts its connections as upstream does: the idle ones, the
//! sockets that connected through it (an existing pool, or one the
//! `pool_size`/`backlog` options created) and the connect operations queued
//! behind a full pool (`backlog`). A counted socket or operation holds a
//! [`Slot`]. When the count drops to zero the pool is forgotten, so the
//! next connect or setkeepalive sizes it anew.
use std::collections::{HashMap, VecDeque};

use core::ptr::NonNull;

use nginx_sys::ngx_msec_t;

use crate::nginx::connection::{ConnHandler, Connection, LogOf};
use crate::nginx::event::EventRef;
use crate::nginx::global::{Global, Worker};
use crate::nginx::log::Log;
use crate::nginx::sock::Peek;

struct Idle {
    c: Connection,
    pool: NonNull<Pool>,
    reused: u32,
}

struct Pool {
    key: Vec<u8>,
    size: usize,
    /// Connect operations that may wait for a free slot; `None`: no queue,
    /// connects beyond `size` go ahead.
    backlog: Option<usize>,
    connections: usize,
    /// Oldest first; reuse takes the newest. Boxed: an idle connection's
    /// data points at its record.
    idle: VecDeque<Box<Idle>>,
    /// The queue events of connect operations waiting for a slot, first
    /// come first served.
    waiters: VecDeque<EventRef>,
    /// Records of idle connections reused since, for the next ones (a
    /// malloc/free pair less per setkeepalive); at most `size`. Boxed: a
    /// record's address is its connection's handler data.
    #[allow(clippy::vec_box)]
    spare: Vec<Box<Idle>>,
}

/// FNV-1a over the key's bytes: the keys are short (`host:port`), and
/// SipHash cost more than the rest of a pool lookup. The keys come from
/// the configuration's Lua code, not from clients.
#[derive(Default, Clone, Copy)]
struct Fnv(u64);

impl core::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type PoolMap = HashMap<Vec<u8>, Box<Pool>, core::hash::BuildHasherDefault<Fnv>>;

static POOLS: Worker<PoolMap> = Worker::new();

/// The pool of `key`, if there is one. Pools are boxed: the pointer stays
/// valid after the map's borrow ends, until the pool is removed (when its
/// count drops to zero, see `uncount`).
fn find(key: &[u8]) -> Option<NonNull<Pool>> {
    POOLS.with(|m| m.get_mut(key).map(|p| NonNull::from(&mut **p)))
}

/// The worker exits: the pools' bookkeeping goes (nginx closed the idle
/// connections already).
pub fn on_exit() {
    drop(POOLS.take());
}

/// One counted place in a pool: a socket connected (or connecting)
/// through it, or a connect operation queued behind it. While a slot
/// exists its pool's count is not zero, so the pool stays.
#[must_use = "a slot is given back with release or release_queued"]
#[derive(Debug)]
pub struct Slot(NonNull<Pool>);

/// What a connect through the pools should do.
pub enum Admit {
    /// An idle connection (and its reuse count) for the caller.
    Reuse(Connection, u32, Slot),
    /// Connect; the slot when the connection counts in a pool.
    Connect(Option<Slot>),
    /// The pool is full: the caller waits in its queue, on the event it
    /// gave, for its turn ([`Slot::readmit`]).
    Queued(Slot),
    /// Pool and queue are full.
    TooMany,
}

/// How a pool is made when a connect finds none.
#[derive(Clone, Copy)]
pub struct Sizing {
    pub size: usize,
    pub backlog: Option<usize>,
}

/// Admits a connect to `key`: reuse, connect, or wait in the queue (on
/// `waiter()`, an event that stays valid until the operation leaves the
/// queue). Without a pool for the key, `create` makes one.
pub fn admit(
    key: &[u8],
    create: Option<Sizing>,
    log: LogOf,
    waiter: impl FnOnce() -> EventRef,
) -> Admit {
    let pool = match find(key) {
        Some(p) => Some(p),
        None => create.map(|s| self::create(key, s, log)),
    };
    let a = match pool {
        // SAFETY: a pool of the map, boxed (see find); nothing frees it
        // before admit returns.
        Some(p) => unsafe { (*p.as_ptr()).admit(false, log, waiter) },
        None => Admit::Connect(None),
    };
    let (hits, misses) = LOOKUPS.get();
    LOOKUPS.set(match a {
        Admit::Reuse(..) => (hits + 1, misses),
        _ => (hits, misses + 1),
    });
    a
}

/// Connects through a pool that reused an idle connection, and those
/// that found none (`ngx.metrics`).
static LOOKUPS: Global<(u64, u64)> = Global::new((0, 0));

/// The worker's pool lookups (hits, misses), and each pool's key and idle
/// connections to `each`.
pub fn stats(each: &mut dyn FnMut(&[u8], usize)) -> (u64, u64) {
    POOLS.with(|m| {
        for p in m.values() {
            each(&p.key, p.idle.len());
        }
    });
    LOOKUPS.get()
}

/// Creates the pool for `key` (the caller checked that there is none).
fn create(key: &[u8], s: Sizing, log: LogOf) -> NonNull<Pool> {
    let log = log.log();
    if log.debugs() {
        crate::debug!(
            log,
            "lua tcp socket connection pool size: {}, backlog: {}",
            s.size,
            s.backlog.map_or(-1, |b| b as i64)
        );
        crate::debug!(
            log,
            "lua tcp socket keepalive create connection pool for key \"{}\"",
            String::from_utf8_lossy(key)
        );
    }
    POOLS.with(|map| {
        let p = map.entry(key.to_vec()).or_insert_with(|| {
            Box::new(Pool {
                key: key.to_vec(),
                size: s.size,
                backlog: s.backlog,
                connections: 0,
                idle: VecDeque::new(),
                waiters: VecDeque::new(),
                spare: Vec::new(),
            })
        });
        NonNull::from(&mut **p)
    })
}

impl Pool {
    /// Admits one connect operation. `resuming`: a queued operation whose
    /// turn came; it is not queued again.
    fn admit(&mut self, resuming: bool, log: LogOf, waiter: impl FnOnce() -> EventRef) -> Admit {
        let slot = Slot(NonNull::from(&mut *self));
        let log = log.log();
        let debug = log.debugs();
        if debug {
            log.write_debug(format_args!("lua tcp socket pool get keepalive peer"));
        }
        if let Some(idle) = self.idle.pop_back() {
            let c = idle.c;
            if debug {
                log.write_debug(format_args!(
                    "lua tcp socket get keepalive peer: using connection {:p}, fd:{}",
                    c.as_ptr(),
                    c.fd()
                ));
            }
            c.set_idle(false);
            c.read().del_timer();
            let reused = idle.reused;
            if self.spare.len() < self.size {
                self.spare.push(idle);
            }
            // The idle connection's count passes to the caller.
            return Admit::Reuse(c, reused, slot);
        }
        if debug {
            log.write_debug(format_args!(
                "lua tcp socket keepalive: connection pool empty"
            ));
        }
        self.connections += 1;
        if let (Some(backlog), false) = (self.backlog, resuming) {
            if self.connections > self.size + backlog {
                self.connections -= 1;
                return Admit::TooMany;
            }
            if self.connections > self.size {
                self.waiters.push_back(waiter());
                return Admit::Queued(slot);
            }
        }
        Admit::Connect(Some(slot))
    }

    /// Lets the first queued connect operation run (on the next loop turn).
    fn wake_first(&mut self) {
        if let Some(&ev) = self.waiters.front() {
            // Its wait for a turn is over: the queue timer goes.
            ev.del_timer();
            ev.post();
        }
    }
}

/// Takes one off the count of `p`; forgets the pool at zero (it is freed:
/// `p` must not be used then). True while the pool remains.
fn uncount(p: NonNull<Pool>) -> bool {
    // SAFETY: a live pool (the caller's slot or idle connection counts in
    // it); the borrow ends before the pool may be freed.
    let key = unsafe {
        let pool = &mut *p.as_ptr();
        pool.connections = pool.connections.saturating_sub(1);
        if pool.connections > 0 {
            return true;
        }
        core::mem::take(&mut pool.key)
    };
    crate::debug!(
        Log::cycle(),
        "lua tcp socket keepalive: free connection pool for \"{}\"",
        String::from_utf8_lossy(&key)
    );
    POOLS.with(|m| m.remove(&key));
    false
}

/// Gives back one counted place of `p` and lets the first queued connect
/// go, if the pool remains.
fn release(p: NonNull<Pool>) {
    if uncount(p) {
        // SAFETY: uncount said the pool remains.
        unsafe { (*p.as_ptr()).wake_first() };
    }
}

impl Slot {
    #[allow(clippy::mut_from_ref)]
    fn pool(&self) -> &mut Pool {
        // SAFETY: the slot counts in its pool, which is only freed when the
        // count drops to zero (Pool::uncount): alive. Single-threaded, and
        // no reference to the pool is held across calls.
        unsafe { &mut *self.0.as_ptr() }
    }

    pub fn key(&self) -> &[u8] {
        &self.pool().key
    }

    /// Gives the slot back (a closed connection, a failed or abandoned
    /// connect); the first queued connect gets a turn.
    pub fn release(self) {
        release(self.0);
    }

    /// Gives back the slot of a queued connect that ends without
    /// connecting (timeout, kill): it never held a connection, so the next
    /// waiter only gets a turn when one had been passed to this operation
    /// (`pass_turn`). Waking it otherwise let it connect beyond
    /// `pool_size`.
    pub fn release_queued(self, pass_turn: bool) {
        if pass_turn {
            release(self.0);
        } else {
            uncount(self.0);
        }
    }

    /// Takes a queued operation's event out of the queue (its wait ended:
    /// turn, timeout, kill).
    pub fn dequeue(&self, waiter: EventRef) {
        self.pool().waiters.retain(|&w| w != waiter);
    }

    /// A queued connect's turn came: its queue slot is given up and it is
    /// admitted again (reuse or connect; never queued twice), without
    /// freeing the pool in between.
    pub fn readmit(self, log: LogOf) -> Admit {
        let pool = self.pool();
        pool.connections = pool.connections.saturating_sub(1);
        pool.admit(true, log, || {
            unreachable!("a resumed connect is not queued")
        })
    }
}

/// Why `put` refused a connection.
pub enum PutError {
    /// No pool exists and the size to create one with is not positive.
    BadSize(i64),
    /// Data arrived while pooling it: the connection was closed.
    Dubious,
}

/// How `put` parks a connection.
pub struct Park {
    /// The slot the socket held in the pool (it passes to the idle
    /// connection).
    pub slot: Option<Slot>,
    pub reused: u32,
    pub timeout: ngx_msec_t,
    /// The `pool_size` given to setkeepalive, for a pool made here.
    pub size: Option<i64>,
    pub default_size: usize,
    pub log: LogOf,
}

/// Parks an idle connection in `key`'s pool, creating it with `size` (or
/// `default_size`) when there is none, evicting the oldest idle connection
/// when the pool is full. The connection is the pool's afterwards, pooled
/// or closed.
pub fn put(key: &[u8], c: Connection, park: Park) -> Result<(), PutError> {
    let log = park.log.log();
    let debug = log.debugs();
    if debug {
        log.write_debug(format_args!(
            "lua tcp socket set keepalive: saving connection {:p}",
            c.as_ptr()
        ));
    }
    let counted = park.slot.is_some();
    let p: NonNull<Pool> = match park.slot {
        // The slot passes to the idle connection.
        Some(slot) => slot.0,
        None => match find(key) {
            Some(p) => p,
            None => {
                let n = park.size.unwrap_or(park.default_size as i64);
                if n <= 0 {
                    return Err(PutError::BadSize(n));
                }
                let sizing = Sizing {
                    size: n as usize,
                    backlog: None,
                };
                create(key, sizing, park.log)
            }
        },
    };
    // SAFETY: a pool of the map (the slot counted in it, or it was just
    // found or made); nothing frees it before drop_idle below.
    let pool = unsafe { &mut *p.as_ptr() };
    if pool.idle.len() >= pool.size {
        if let Some(old) = pool.idle.pop_front() {
            old.c.close();
        }
        if counted {
            pool.connections = pool.connections.saturating_sub(1);
        }
    } else if !counted {
        pool.connections += 1;
    }
    let record = Idle {
        c,
        pool: p,
        reused: park.reused,
    };
    let mut idle = match pool.spare.pop() {
        Some(mut b) => {
            *b = record;
            b
        }
        None => Box::new(record),
    };
    // The connection now belongs to the pool: it logs to the cycle log
    // (the request that used it may go away) and watches for the peer
    // closing it or the idle timeout.
    // SAFETY: the record is boxed in the pool's idle list until drop_idle
    // or admit takes it out; drop_idle closes the connection, admit hands
    // it to a socket that sets its own handler.
    unsafe { c.set_handler(&mut *idle as *mut Idle) };
    c.set_log(LogOf::Cycle);
    c.set_idle(true);
    let rev = c.read();
    rev.del_timer();
    c.write().del_timer();
    if debug {
        if park.timeout > 0 {
            log.write_debug(format_args!(
                "lua tcp socket keepalive timeout: {} ms",
                park.timeout
            ));
        } else {
            log.write_debug(format_args!("lua tcp socket keepalive timeout: unlimited"));
        }
    }
    if park.timeout > 0 {
        rev.add_timer(park.timeout);
    }
    let ready = rev.ready();
    pool.idle.push_back(idle);
    if ready && !still_idle(c) {
        drop_idle(p, c);
        return Err(PutError::Dubious);
    }
    if !rev.handle_read() {
        drop_idle(p, c);
        return Err(PutError::Dubious);
    }
    pool.wake_first();
    Ok(())
}

/// Whether an idle connection that became readable is still usable: TLS
/// connections read (a session ticket after the handshake is not data);
/// plain ones peek.
fn still_idle(c: Connection) -> bool {
    if c.closing() || c.read().timedout() {
        return false;
    }
    if c.is_tls() {
        let mut b = [0u8; 1];
        return c.recv(&mut b) == crate::nginx::request::AGAIN;
    }
    c.peek() == Peek::WouldBlock
}

/// Closes and forgets an idle connection of `pool` (its record goes).
fn drop_idle(pool: NonNull<Pool>, c: Connection) {
    // SAFETY: the pool counts the idle connection, so it is alive; the
    // borrow ends before release may free it.
    unsafe { (*pool.as_ptr()).idle.retain(|i| i.c != c) };
    c.close();
    release(pool);
}

impl ConnHandler for Idle {
    fn on_read(&mut self, c: Connection, ev: EventRef) {
        if still_idle(c) {
            if !ev.handle_read() {
                self.close();
            }
            return;
        }
        // The peer closed it, sent data nobody asked for, or it timed out.
        let log = ev.log();
        if log.debugs() {
            if ev.timedout() {
                crate::debug!(log, "lua tcp socket keepalive max idle timeout");
            }
            crate::debug!(log, "lua tcp socket keepalive close handler: fd:{}", c.fd());
        }
        self.close();
    }

    fn on_write(&mut self, _c: Connection, _ev: EventRef) {}
}

impl Idle {
    /// Closes the connection and forgets this record (the last use of
    /// `self`: the record is freed).
    fn close(&mut self) {
        drop_idle(self.pool, self.c);
    }
}

//! The shared dictionary's data structure, independent of nginx: entries in
//! a treap ordered by (key hash, key), an LRU queue, expiry in milliseconds,
//! lists. Memory comes from an [`Alloc`]: nginx's slab pool in production
//! (`zone.rs`), a bounded heap in the unit tests below.
//!
//! Every structure lives inside the allocator's memory and links by raw
//! pointers, as upstream's does: a zone is mapped at the same address in the
//! master and every worker (created before the fork, kept across reloads).
//!
//! **The invariant** the raw pointer work below relies on: a [`Dict`]
//! exists only while its caller holds the zone lock ([`Dict::attach`]), so
//! the structure is its alone; every node reachable from the root (tree
//! links) or the LRU sentinel, and every item reachable from a list node's
//! sentinel, is a live, initialised block of the dictionary's allocator; a
//! block is unlinked from everything before it is freed, so it is never
//! reachable afterwards. An [`Entry`] is a node found that way (or just
//! linked); it is not `Copy`, and freeing the node consumes it.
use core::cmp::Ordering;
use core::mem::{offset_of, size_of};
use core::ptr::{self, NonNull};

use crate::codec::snapshot;

/// Byte blocks for the dictionary.
pub trait Alloc {
    /// A block of `size` bytes aligned for `u64`, or None when full.
    fn alloc(&mut self, size: usize) -> Option<NonNull<u8>>;
    /// Returns a block.
    ///
    /// # Safety
    /// `p` came from `alloc(size)` of this allocator and is not used
    /// afterwards.
    unsafe fn free(&mut self, p: NonNull<u8>, size: usize);
}

/// Value type codes, as Lua's (and upstream's) type numbers.
pub const T_NIL: u8 = 0;
pub const T_BOOLEAN: u8 = 1;
pub const T_NUMBER: u8 = 3;
pub const T_STRING: u8 = 4;
pub const T_LIST: u8 = 5;

/// Store operation flags (upstream's numbers, used by the Lua side).
pub const OP_ADD: i32 = 0x1;
pub const OP_REPLACE: i32 = 0x2;
pub const OP_SAFE: i32 = 0x4;

pub const MAX_KEY_LEN: usize = 65535;

pub const ERR_NOT_FOUND: &str = "not found";
pub const ERR_EXISTS: &str = "exists";
pub const ERR_NO_MEMORY: &str = "no memory";
pub const ERR_NOT_A_NUMBER: &str = "not a number";
pub const ERR_NOT_A_LIST: &str = "value not a list";
pub const ERR_IS_A_LIST: &str = "value is a list";
pub const ERR_NIL_ADD: &str = "attempt to add or replace nil values";

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    Nil,
    Bool(bool),
    Num(f64),
    Str(&'a [u8]),
}

impl Value<'_> {
    fn code(&self) -> u8 {
        match self {
            Value::Nil => T_NIL,
            Value::Bool(_) => T_BOOLEAN,
            Value::Num(_) => T_NUMBER,
            Value::Str(_) => T_STRING,
        }
    }

    /// The stored bytes (numbers in native byte order, as upstream).
    fn bytes<'b>(&'b self, tmp: &'b mut [u8; 8]) -> &'b [u8] {
        match self {
            Value::Nil => &[],
            Value::Bool(b) => {
                tmp[0] = *b as u8;
                &tmp[..1]
            }
            Value::Num(n) => {
                *tmp = n.to_ne_bytes();
                &tmp[..]
            }
            Value::Str(s) => s,
        }
    }
}

/// A link of an intrusive circular doubly linked list; a list is a sentinel
/// link (pointing at itself when empty) in its owner.
#[repr(C)]
struct Link {
    prev: *mut Link,
    next: *mut Link,
}

impl Link {
    /// Makes `s` an empty list's sentinel.
    ///
    /// # Safety
    /// `s` is valid for writes.
    unsafe fn init(s: *mut Link) {
        // SAFETY: the caller's pointer.
        unsafe {
            (*s).prev = s;
            (*s).next = s;
        }
    }

    /// # Safety
    /// `s` is the sentinel of a well-formed list, `l` a valid link in no
    /// list.
    unsafe fn insert_head(s: *mut Link, l: *mut Link) {
        // SAFETY: s and l are valid (the contract), and so is s's
        // neighbour: the links of a well-formed list are.
        unsafe {
            (*l).next = (*s).next;
            (*(*l).next).prev = l;
            (*l).prev = s;
            (*s).next = l;
        }
    }

    /// # Safety
    /// As `insert_head`.
    unsafe fn insert_tail(s: *mut Link, l: *mut Link) {
        // SAFETY: as insert_head.
        unsafe {
            (*l).prev = (*s).prev;
            (*(*l).prev).next = l;
            (*l).next = s;
            (*s).prev = l;
        }
    }

    /// # Safety
    /// `l` is a link (not the sentinel) of a well-formed list.
    unsafe fn remove(l: *mut Link) {
        // SAFETY: the neighbours of a link in a well-formed list are valid.
        unsafe {
            (*(*l).next).prev = (*l).prev;
            (*(*l).prev).next = (*l).next;
        }
    }
}

/// The dictionary's root, the first block allocated in the zone.
#[repr(C)]
pub struct Shctx {
    root: *mut Node,
    lru: Link,
    seed: u32,
}

/// An entry: header, then the key, then the value bytes (none for a list,
/// whose items are blocks of their own).
#[repr(C)]
struct Node {
    left: *mut Node,
    right: *mut Node,
    lru: Link,
    /// Items of a list value.
    list: Link,
    /// Absolute expiry in ms since the epoch; 0 = never.
    expires: u64,
    hash: u32,
    prio: u32,
    /// Value bytes, or the number of items of a list.
    value_len: u32,
    user_flags: u32,
    key_len: u16,
    vtype: u8,
}

impl Node {
    /// The size of the node's block.
    fn block_size(&self) -> usize {
        let value = if self.vtype == T_LIST {
            0
        } else {
            self.value_len as usize
        };
        NODE + self.key_len as usize + value
    }

    fn expired(&self, now: u64) -> bool {
        self.expires != 0 && self.expires <= now
    }
}

/// A list item: header, then the value bytes.
#[repr(C)]
struct Item {
    link: Link,
    value_len: u32,
    vtype: u8,
}

const NODE: usize = size_of::<Node>();
const ITEM: usize = size_of::<Item>();

/// 32-bit FNV-1a: the tree is ordered by it, then by the key bytes.
pub fn hash(key: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in key {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The key bytes that follow a node's header.
///
/// # Safety
/// `n` is a live node (see the module's invariant), and the key is not
/// written while the slice is used (keys never are).
unsafe fn node_key<'a>(n: *const Node) -> &'a [u8] {
    // SAFETY: the key's key_len bytes follow the header in the node's block.
    unsafe { core::slice::from_raw_parts((n as *const u8).add(NODE), (*n).key_len as usize) }
}

/// Tree order: by hash, then by key bytes.
///
/// # Safety
/// `n` is a live node.
unsafe fn cmp(h: u32, key: &[u8], n: *const Node) -> Ordering {
    // SAFETY: the caller's live node.
    unsafe { h.cmp(&(*n).hash).then_with(|| key.cmp(node_key(n))) }
}

/// The node whose `lru` link `l` is.
fn from_lru(l: *mut Link) -> *mut Node {
    l.wrapping_byte_sub(offset_of!(Node, lru)) as *mut Node
}

/// A node's `lru` and `list` links, as pointers (no reference into the
/// node is made: the list code writes links through their neighbours).
fn lru_link(n: NonNull<Node>) -> *mut Link {
    n.as_ptr().wrapping_byte_add(offset_of!(Node, lru)) as *mut Link
}

fn list_link(n: NonNull<Node>) -> *mut Link {
    n.as_ptr().wrapping_byte_add(offset_of!(Node, list)) as *mut Link
}

/// A live node of the dictionary (see the module's invariant): made only
/// from a reachable node, consumed when the node is freed.
struct Entry(NonNull<Node>);

enum Found {
    Live(Entry),
    Expired(Entry),
    None,
}

/// A dictionary view over its memory; the caller holds the zone lock.
pub struct Dict<A: Alloc> {
    sh: *mut Shctx,
    pub a: A,
}

/// What `get` saw, for the caller to copy out under the lock.
pub struct Got<'a> {
    pub vtype: u8,
    pub data: &'a [u8],
    pub flags: u32,
    pub stale: bool,
}

impl<A: Alloc> Dict<A> {
    /// Allocates and initialises a fresh root followed by `extra` bytes for
    /// the caller ([`Dict::extra`]), in one block so a tiny zone keeps its
    /// pages for entries; None when the memory is too small.
    pub fn create(mut a: A, extra: usize) -> Option<Dict<A>> {
        let sh = a.alloc(size_of::<Shctx>() + extra)?.as_ptr() as *mut Shctx;
        // SAFETY: a fresh block, large enough and aligned for a Shctx.
        unsafe {
            sh.write(Shctx {
                root: ptr::null_mut(),
                lru: Link {
                    prev: ptr::null_mut(),
                    next: ptr::null_mut(),
                },
                seed: 0x2545_f491,
            });
            Link::init(&mut (*sh).lru);
        }
        Some(Dict { sh, a })
    }

    /// A view of an existing dictionary.
    ///
    /// # Safety
    /// `sh` came from `create` over memory `a` manages, and the caller has
    /// exclusive access (the zone lock) while the view lives.
    pub unsafe fn attach(sh: *mut Shctx, a: A) -> Dict<A> {
        Dict { sh, a }
    }

    pub fn root(&self) -> *mut Shctx {
        self.sh
    }

    /// The `extra` bytes reserved by `create`.
    pub fn extra(&self) -> *mut u8 {
        self.sh.wrapping_add(1) as *mut u8
    }

    fn shctx(&mut self) -> &mut Shctx {
        // SAFETY: the root is live and ours while the view exists (create's
        // block, or attach's contract).
        unsafe { &mut *self.sh }
    }

    /// The sentinel of the LRU queue (head: most recently used).
    fn lru(&self) -> *mut Link {
        self.sh.wrapping_byte_add(offset_of!(Shctx, lru)) as *mut Link
    }

    // ---- entries' fields -------------------------------------------------

    fn node(&self, e: &Entry) -> &Node {
        // SAFETY: an Entry is a live node (the invariant); the view's borrow
        // keeps other accesses out while the reference is used.
        unsafe { e.0.as_ref() }
    }

    fn node_mut(&mut self, e: &Entry) -> &mut Node {
        // SAFETY: as node(); the exclusive borrow of the view makes this
        // the only reference into the structure.
        unsafe { &mut *e.0.as_ptr() }
    }

    fn key(&self, e: &Entry) -> &[u8] {
        // SAFETY: a live node (the invariant).
        unsafe { node_key(e.0.as_ptr()) }
    }

    /// The value bytes of a non-list entry.
    fn value(&self, e: &Entry) -> &[u8] {
        let n = self.node(e);
        debug_assert_ne!(n.vtype, T_LIST);
        let (at, len) = (NODE + n.key_len as usize, n.value_len as usize);
        // SAFETY: a non-list node's value_len bytes follow its key in its
        // block.
        unsafe { core::slice::from_raw_parts((e.0.as_ptr() as *const u8).add(at), len) }
    }

    fn value_mut(&mut self, e: &Entry) -> &mut [u8] {
        let n = self.node(e);
        debug_assert_ne!(n.vtype, T_LIST);
        let (at, len) = (NODE + n.key_len as usize, n.value_len as usize);
        // SAFETY: as value(), with the view's exclusive borrow.
        unsafe { core::slice::from_raw_parts_mut((e.0.as_ptr() as *mut u8).add(at), len) }
    }

    fn next_prio(&mut self) -> u32 {
        let sh = self.shctx();
        // xorshift32
        let mut x = sh.seed;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        sh.seed = x;
        x
    }

    // ---- treap -----------------------------------------------------------

    fn tree_find(&self, h: u32, key: &[u8]) -> Option<Entry> {
        // SAFETY: the root and the nodes reachable from it are live (the
        // invariant).
        unsafe {
            let mut n = (*self.sh).root;
            while !n.is_null() {
                match cmp(h, key, n) {
                    Ordering::Less => n = (*n).left,
                    Ordering::Greater => n = (*n).right,
                    Ordering::Equal => return Some(Entry(NonNull::new_unchecked(n))),
                }
            }
            None
        }
    }

    /// # Safety
    /// `n` is a fully initialised node not in the tree, whose key is not in
    /// the tree (removal finds a node by its key).
    unsafe fn tree_insert(&mut self, n: *mut Node) {
        // SAFETY: n is valid (the contract); every slot points into the root
        // or a reachable node (the invariant), and the split keeps each
        // node reachable exactly once.
        unsafe {
            let (h, key) = ((*n).hash, node_key(n));
            let mut slot: *mut *mut Node = &mut (*self.sh).root;
            while !(*slot).is_null() && (**slot).prio >= (*n).prio {
                slot = if cmp(h, key, *slot) == Ordering::Less {
                    &mut (**slot).left
                } else {
                    &mut (**slot).right
                };
            }
            // Split the subtree at slot around n's key.
            let mut t = *slot;
            let mut l: *mut *mut Node = &mut (*n).left;
            let mut r: *mut *mut Node = &mut (*n).right;
            while !t.is_null() {
                if cmp(h, key, t) == Ordering::Less {
                    *r = t;
                    r = &mut (*t).left;
                    t = (*t).left;
                } else {
                    *l = t;
                    l = &mut (*t).right;
                    t = (*t).right;
                }
            }
            *l = ptr::null_mut();
            *r = ptr::null_mut();
            *slot = n;
        }
    }

    fn tree_remove(&mut self, e: &Entry) {
        let n = e.0.as_ptr();
        // SAFETY: n is in the tree (an Entry) and its key is unique there,
        // so the search from the root reaches it through live nodes; the
        // rotations keep every other node reachable.
        unsafe {
            let (h, key) = ((*n).hash, node_key(n));
            let mut slot: *mut *mut Node = &mut (*self.sh).root;
            while *slot != n {
                let c = *slot;
                slot = if cmp(h, key, c) == Ordering::Less {
                    &mut (*c).left
                } else {
                    &mut (*c).right
                };
            }
            loop {
                let (l, r) = ((*n).left, (*n).right);
                if l.is_null() {
                    *slot = r;
                    return;
                }
                if r.is_null() {
                    *slot = l;
                    return;
                }
                if (*l).prio > (*r).prio {
                    (*n).left = (*l).right;
                    (*l).right = n;
                    *slot = l;
                    slot = &mut (*l).right;
                } else {
                    (*n).right = (*r).left;
                    (*r).left = n;
                    *slot = r;
                    slot = &mut (*r).left;
                }
            }
        }
    }

    // ---- entries ---------------------------------------------------------

    /// Finds a key; a live entry moves to the LRU head.
    fn lookup(&mut self, h: u32, key: &[u8], now: u64) -> Found {
        let Some(e) = self.tree_find(h, key) else {
            return Found::None;
        };
        if self.node(&e).expired(now) {
            return Found::Expired(e);
        }
        self.touch(&e);
        Found::Live(e)
    }

    /// Moves an entry to the LRU head. A hot key is there already: then
    /// nothing is written, so the other workers' copies of the sentinel's
    /// and the node's cache lines stay valid (less time under the lock).
    fn touch(&mut self, e: &Entry) {
        let (s, l) = (self.lru(), lru_link(e.0));
        // SAFETY: a live node's lru link is in the well-formed LRU queue
        // whose sentinel is s.
        unsafe {
            if (*s).next == l {
                return;
            }
            Link::remove(l);
            Link::insert_head(s, l);
        }
    }

    /// Frees the items of a list entry, leaving it empty.
    fn free_items(&mut self, e: &Entry) {
        let s = list_link(e.0);
        // SAFETY: the items reachable from a live list node are live blocks
        // of our allocator (the invariant); each is read before it is freed,
        // and the emptied list is reset.
        unsafe {
            let mut l = (*s).next;
            while l != s {
                let next = (*l).next;
                let size = ITEM + (*(l as *mut Item)).value_len as usize;
                self.a.free(NonNull::new_unchecked(l as *mut u8), size);
                l = next;
            }
            Link::init(s);
        }
    }

    /// Unlinks and frees an entry.
    fn delete_node(&mut self, e: Entry) {
        if self.node(&e).vtype == T_LIST {
            self.free_items(&e);
        }
        let size = self.node(&e).block_size();
        // SAFETY: a live node's lru link is in the LRU queue.
        unsafe { Link::remove(lru_link(e.0)) };
        self.tree_remove(&e);
        // SAFETY: the node is a block of `size` bytes of our allocator, now
        // unlinked from the tree and the queue; the Entry is consumed.
        unsafe { self.a.free(e.0.cast(), size) };
    }

    /// The least recently used entry.
    fn lru_last(&self) -> Option<Entry> {
        let s = self.lru();
        // SAFETY: the sentinel is live; a link other than it is a live
        // node's lru link (the invariant).
        let l = unsafe { (*s).prev };
        (l != s).then(|| Entry(NonNull::new(from_lru(l)).expect("a link of a node")))
    }

    /// Upstream's reclaim step from the LRU tail: with `force`, the least
    /// recently used entry goes whatever its expiry, then up to two more
    /// expired ones; without, up to two expired ones. Returns how many
    /// entries were freed.
    fn expire(&mut self, force: bool, now: u64) -> usize {
        let mut n = if force { 0 } else { 1 };
        let mut freed = 0;
        while n < 3 {
            let Some(e) = self.lru_last() else {
                return freed;
            };
            let check = n != 0;
            n += 1;
            if check && !self.node(&e).expired(now) {
                return freed;
            }
            self.delete_node(e);
            freed += 1;
        }
        freed
    }

    /// Allocates `size` bytes, evicting (expired, then LRU) entries up to 30
    /// times unless `safe`. Returns the block (if any) and whether live
    /// entries were evicted.
    fn alloc_evicting(&mut self, size: usize, safe: bool, now: u64) -> (Option<NonNull<u8>>, bool) {
        let p = self.a.alloc(size);
        if p.is_some() || safe {
            return (p, false);
        }
        let mut forcible = false;
        for _ in 0..30 {
            if self.expire(true, now) == 0 {
                break;
            }
            forcible = true;
            let p = self.a.alloc(size);
            if p.is_some() {
                return (p, true);
            }
        }
        (None, forcible)
    }

    /// Writes a new entry into `p` and links it at the LRU head.
    ///
    /// # Safety
    /// `p` is a fresh block of at least NODE + key.len() + val.len() bytes
    /// (NODE + key.len() for a list); the key is not in the tree.
    #[allow(clippy::too_many_arguments)]
    unsafe fn link_new(
        &mut self,
        p: NonNull<u8>,
        h: u32,
        key: &[u8],
        vtype: u8,
        val: &[u8],
        vlen: u32,
        expires: u64,
        flags: u32,
    ) -> Entry {
        let prio = self.next_prio();
        let lru = self.lru();
        let n = p.as_ptr() as *mut Node;
        // SAFETY: the block is ours, large enough (the contract) and aligned
        // (Alloc); the header is written before the node is linked, its key
        // before the tree compares it.
        unsafe {
            n.write(Node {
                left: ptr::null_mut(),
                right: ptr::null_mut(),
                lru: Link {
                    prev: ptr::null_mut(),
                    next: ptr::null_mut(),
                },
                list: Link {
                    prev: ptr::null_mut(),
                    next: ptr::null_mut(),
                },
                expires,
                hash: h,
                prio,
                value_len: vlen,
                user_flags: flags,
                key_len: key.len() as u16,
                vtype,
            });
            Link::init(list_link(p.cast()));
            ptr::copy_nonoverlapping(key.as_ptr(), p.as_ptr().add(NODE), key.len());
            ptr::copy_nonoverlapping(val.as_ptr(), p.as_ptr().add(NODE + key.len()), val.len());
            self.tree_insert(n);
            Link::insert_head(lru, lru_link(p.cast()));
        }
        Entry(p.cast())
    }

    fn deadline(now: u64, ttl_ms: i64) -> u64 {
        if ttl_ms > 0 {
            now + ttl_ms as u64
        } else {
            0
        }
    }

    /// set / add / replace / safe_* / delete (a nil value). `Ok(forcible)`
    /// or `Err((message, forcible))`.
    pub fn store(
        &mut self,
        op: i32,
        key: &[u8],
        value: Value<'_>,
        exptime_ms: i64,
        flags: u32,
        now: u64,
    ) -> Result<bool, (&'static str, bool)> {
        self.store_until(op, key, value, Self::deadline(now, exptime_ms), flags, now)
    }

    /// `store` with an absolute expiry (ms since the epoch, 0 = never).
    fn store_until(
        &mut self,
        op: i32,
        key: &[u8],
        value: Value<'_>,
        expires: u64,
        flags: u32,
        now: u64,
    ) -> Result<bool, (&'static str, bool)> {
        if key.len() > MAX_KEY_LEN {
            return Err(("key too long", false));
        }
        if value == Value::Nil && op & (OP_ADD | OP_REPLACE) != 0 {
            return Err((ERR_NIL_ADD, false));
        }
        let mut tmp = [0u8; 8];
        let val = value.bytes(&mut tmp);
        let vtype = value.code();
        let h = hash(key);
        self.expire(false, now);
        let existing = match self.lookup(h, key, now) {
            Found::Live(_) if op & OP_ADD != 0 => return Err((ERR_EXISTS, false)),
            Found::Expired(_) | Found::None if op & OP_REPLACE != 0 => {
                return Err((ERR_NOT_FOUND, false))
            }
            Found::Live(e) | Found::Expired(e) => Some(e),
            Found::None => None,
        };
        if let Some(e) = existing {
            let n = self.node(&e);
            if vtype != T_NIL && n.vtype != T_LIST && n.value_len as usize == val.len() {
                // Same size: overwrite in place.
                self.touch(&e);
                let n = self.node_mut(&e);
                n.expires = expires;
                n.user_flags = flags;
                n.vtype = vtype;
                self.value_mut(&e).copy_from_slice(val);
                return Ok(false);
            }
            self.delete_node(e);
        }
        if vtype == T_NIL {
            return Ok(false);
        }
        let size = NODE + key.len() + val.len();
        let (p, forcible) = self.alloc_evicting(size, op & OP_SAFE != 0, now);
        let Some(p) = p else {
            return Err((ERR_NO_MEMORY, forcible));
        };
        // SAFETY: a fresh block of `size` bytes; the key is not in the tree
        // (its entry, if any, was deleted above).
        unsafe { self.link_new(p, h, key, vtype, val, val.len() as u32, expires, flags) };
        Ok(forcible)
    }

    /// get / get_stale: `f` sees the value (under the lock); None when the
    /// key is absent (or expired and not `stale`).
    pub fn get<R>(
        &mut self,
        key: &[u8],
        stale: bool,
        now: u64,
        f: impl FnOnce(Got<'_>) -> R,
    ) -> Result<Option<R>, &'static str> {
        let h = hash(key);
        if !stale {
            self.expire(false, now);
        }
        let (e, is_stale) = match self.lookup(h, key, now) {
            Found::None => return Ok(None),
            Found::Expired(_) if !stale => return Ok(None),
            Found::Expired(e) => (e, true),
            Found::Live(e) => (e, false),
        };
        let n = self.node(&e);
        if n.vtype == T_LIST {
            return Err(ERR_IS_A_LIST);
        }
        Ok(Some(f(Got {
            vtype: n.vtype,
            data: self.value(&e),
            flags: n.user_flags,
            stale: is_stale,
        })))
    }

    /// incr: the new value and whether eviction made room.
    pub fn incr(
        &mut self,
        key: &[u8],
        delta: f64,
        init: Option<f64>,
        init_ttl_ms: i64,
        now: u64,
    ) -> Result<(f64, bool), (&'static str, bool)> {
        if key.len() > MAX_KEY_LEN {
            return Err(("key too long", false));
        }
        let h = hash(key);
        self.expire(false, now);
        let found = self.lookup(h, key, now);
        if let Found::Live(e) = &found {
            let n = self.node(e);
            if n.vtype != T_NUMBER || n.value_len != 8 {
                return Err((ERR_NOT_A_NUMBER, false));
            }
            let v = self.value_mut(e);
            let new = f64::from_ne_bytes(<[u8; 8]>::try_from(&*v).expect("8 bytes")) + delta;
            v.copy_from_slice(&new.to_ne_bytes());
            return Ok((new, false));
        }
        let Some(init) = init else {
            return Err((ERR_NOT_FOUND, false));
        };
        let v = init + delta;
        let expires = Self::deadline(now, init_ttl_ms);
        if let Found::Expired(e) = found {
            let n = self.node(&e);
            if n.vtype != T_LIST && n.value_len == 8 {
                self.touch(&e);
                let n = self.node_mut(&e);
                n.user_flags = 0;
                n.expires = expires;
                n.vtype = T_NUMBER;
                self.value_mut(&e).copy_from_slice(&v.to_ne_bytes());
                return Ok((v, false));
            }
            self.delete_node(e);
        }
        let (p, forcible) = self.alloc_evicting(NODE + key.len() + 8, false, now);
        let Some(p) = p else {
            return Err((ERR_NO_MEMORY, forcible));
        };
        // SAFETY: a fresh block for an 8-byte value; the key is not in the
        // tree (absent, or its expired entry was deleted above).
        unsafe { self.link_new(p, h, key, T_NUMBER, &v.to_ne_bytes(), 8, expires, 0) };
        Ok((v, forcible))
    }

    /// lpush/rpush of a string or number: the new length. `Err((msg,
    /// false_not_nil))`: upstream returns `false` (not nil) when the entry
    /// itself could not be allocated.
    pub fn push(
        &mut self,
        key: &[u8],
        left: bool,
        value: Value<'_>,
        now: u64,
    ) -> Result<usize, (&'static str, bool)> {
        let mut tmp = [0u8; 8];
        let val = value.bytes(&mut tmp);
        let vtype = value.code();
        let h = hash(key);
        self.expire(false, now);
        let e = match self.lookup(h, key, now) {
            Found::Live(e) => {
                if self.node(&e).vtype != T_LIST {
                    return Err((ERR_NOT_A_LIST, false));
                }
                e
            }
            Found::Expired(e) if self.node(&e).vtype == T_LIST => {
                // Reuse the expired list.
                self.free_items(&e);
                let n = self.node_mut(&e);
                n.expires = 0;
                n.value_len = 0;
                self.touch(&e);
                e
            }
            other => {
                if let Found::Expired(e) = other {
                    self.delete_node(e);
                }
                let Some(p) = self.a.alloc(NODE + key.len()) else {
                    return Err((ERR_NO_MEMORY, true));
                };
                // SAFETY: a fresh block for a list node; the key is not in
                // the tree (absent, or its expired entry was deleted above).
                unsafe { self.link_new(p, h, key, T_LIST, &[], 0, 0, 0) }
            }
        };
        let Some(p) = self.a.alloc(ITEM + val.len()) else {
            if self.node(&e).value_len == 0 {
                self.delete_node(e);
            }
            return Err((ERR_NO_MEMORY, false));
        };
        let s = list_link(e.0);
        let it = p.as_ptr() as *mut Item;
        // SAFETY: a fresh, aligned block for the item and its value, written
        // before it is linked into the live list node's item list.
        unsafe {
            it.write(Item {
                link: Link {
                    prev: ptr::null_mut(),
                    next: ptr::null_mut(),
                },
                value_len: val.len() as u32,
                vtype,
            });
            ptr::copy_nonoverlapping(val.as_ptr(), p.as_ptr().add(ITEM), val.len());
            if left {
                Link::insert_head(s, &mut (*it).link);
            } else {
                Link::insert_tail(s, &mut (*it).link);
            }
        }
        let n = self.node_mut(&e);
        n.value_len += 1;
        Ok(n.value_len as usize)
    }

    /// lpop/rpop: `f` sees the item's type and bytes; None for an absent key.
    pub fn pop<R>(
        &mut self,
        key: &[u8],
        left: bool,
        now: u64,
        f: impl FnOnce(u8, &[u8]) -> R,
    ) -> Result<Option<R>, &'static str> {
        let h = hash(key);
        self.expire(false, now);
        let Found::Live(e) = self.lookup(h, key, now) else {
            return Ok(None);
        };
        if self.node(&e).vtype != T_LIST {
            return Err(ERR_NOT_A_LIST);
        }
        let s = list_link(e.0);
        // SAFETY: the items reachable from a live list node are live (the
        // invariant); the item is read, then unlinked, then freed.
        let r = unsafe {
            let l = if left { (*s).next } else { (*s).prev };
            if l == s {
                return Ok(None);
            }
            let it = l as *mut Item;
            let len = (*it).value_len as usize;
            let data = core::slice::from_raw_parts((it as *const u8).add(ITEM), len);
            let r = f((*it).vtype, data);
            Link::remove(l);
            self.a
                .free(NonNull::new_unchecked(l as *mut u8), ITEM + len);
            r
        };
        let n = self.node_mut(&e);
        n.value_len -= 1;
        if n.value_len == 0 {
            self.delete_node(e);
        }
        Ok(Some(r))
    }

    pub fn llen(&mut self, key: &[u8], now: u64) -> Result<usize, &'static str> {
        let h = hash(key);
        self.expire(false, now);
        match self.lookup(h, key, now) {
            Found::Live(e) => {
                let n = self.node(&e);
                if n.vtype != T_LIST {
                    Err(ERR_NOT_A_LIST)
                } else {
                    Ok(n.value_len as usize)
                }
            }
            _ => Ok(0),
        }
    }

    /// Remaining ms to live (0: none; negative when expired but not yet
    /// reclaimed, as upstream), None when absent.
    pub fn ttl(&self, key: &[u8], now: u64) -> Option<i64> {
        let e = self.tree_find(hash(key), key)?;
        let x = self.node(&e).expires;
        Some(if x == 0 { 0 } else { x as i64 - now as i64 })
    }

    /// Sets a new expiry (0: none); false when absent.
    pub fn set_expire(&mut self, key: &[u8], exptime_ms: i64, now: u64) -> bool {
        let Some(e) = self.tree_find(hash(key), key) else {
            return false;
        };
        self.node_mut(&e).expires = Self::deadline(now, exptime_ms);
        true
    }

    /// The node before `l` in the LRU queue, None at the sentinel `s`.
    ///
    /// The walks below step through the queue with it, reading each link's
    /// neighbour before anything frees the node.
    fn lru_walk(&self, l: *mut Link, s: *mut Link, newer: bool) -> Option<*mut Link> {
        // SAFETY: l is the sentinel or a live node's lru link (the
        // invariant).
        let next = unsafe {
            if newer {
                (*l).next
            } else {
                (*l).prev
            }
        };
        (next != s).then_some(next)
    }

    /// Marks every entry expired (memory is reclaimed lazily, as upstream).
    pub fn flush_all(&mut self, now: u64) {
        let s = self.lru();
        let mut at = self.lru_walk(s, s, true);
        while let Some(l) = at {
            at = self.lru_walk(l, s, true);
            let e = Entry(NonNull::new(from_lru(l)).expect("a link of a node"));
            self.node_mut(&e).expires = 1;
        }
        self.expire(true, now);
    }

    /// Frees up to `max` (0: all) expired entries, oldest first.
    pub fn flush_expired(&mut self, max: usize, now: u64) -> usize {
        let mut freed = 0;
        let s = self.lru();
        let mut at = self.lru_walk(s, s, false);
        while let Some(l) = at {
            at = self.lru_walk(l, s, false);
            let e = Entry(NonNull::new(from_lru(l)).expect("a link of a node"));
            if self.node(&e).expired(now) {
                self.delete_node(e);
                freed += 1;
                if max != 0 && freed == max {
                    break;
                }
            }
        }
        freed
    }

    /// Calls `f` with up to `max` (0: all) live keys, least recently used
    /// first.
    pub fn keys(&self, max: usize, now: u64, mut f: impl FnMut(&[u8])) -> usize {
        let mut total = 0;
        let s = self.lru();
        let mut at = self.lru_walk(s, s, false);
        while let Some(l) = at {
            at = self.lru_walk(l, s, false);
            let e = Entry(NonNull::new(from_lru(l)).expect("a link of a node"));
            if !self.node(&e).expired(now) {
                f(self.key(&e));
                total += 1;
                if max != 0 && total == max {
                    break;
                }
            }
        }
        total
    }
}

/// What [`Dict::load`] did with a snapshot's records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    /// Records stored (some may have been evicted by later ones since).
    pub stored: usize,
    /// Records whose expiry had passed.
    pub expired: usize,
    /// Records that did not fit even after eviction (or a list that ran
    /// out of room).
    pub skipped: usize,
    /// Stored records later evicted to make room for newer ones.
    pub evicted: usize,
}

impl<A: Alloc> Dict<A> {
    /// Writes every live entry into `enc`, least recently used first (so a
    /// load, storing in file order, rebuilds the LRU order). Returns the
    /// number of entries.
    pub fn dump(&self, now: u64, enc: &mut snapshot::Encoder) -> usize {
        let mut n = 0;
        let s = self.lru();
        let mut at = self.lru_walk(s, s, false);
        while let Some(l) = at {
            at = self.lru_walk(l, s, false);
            let e = Entry(NonNull::new(from_lru(l)).expect("a link of a node"));
            let node = self.node(&e);
            if node.expired(now) {
                continue;
            }
            let (key, flags, expires) = (self.key(&e), node.user_flags, node.expires);
            let written = if node.vtype == T_LIST {
                enc.list(key, flags, expires) && {
                    let ls = list_link(e.0);
                    // SAFETY: the items reachable from a live list node are
                    // live blocks (the invariant); only read here.
                    unsafe {
                        let mut il = (*ls).next;
                        while il != ls {
                            let it = il as *const Item;
                            let data = core::slice::from_raw_parts(
                                (it as *const u8).add(ITEM),
                                (*it).value_len as usize,
                            );
                            enc.item(to_val((*it).vtype, data));
                            il = (*il).next;
                        }
                    }
                    true
                }
            } else {
                enc.value(key, flags, expires, to_val(node.vtype, self.value(&e)))
            };
            n += written as usize;
        }
        n
    }

    /// Stores a snapshot's records into this (normally empty) dictionary,
    /// in file order, evicting the least recently used entries when full
    /// (as `set` does); expired records are dropped, expiry is kept as the
    /// absolute time it was.
    pub fn load(&mut self, snap: &snapshot::Snapshot<'_>, now: u64) -> Loaded {
        let mut r = Loaded::default();
        for rec in snap.records() {
            if rec.expires != 0 && rec.expires <= now {
                r.expired += 1;
                continue;
            }
            let ok = match rec.body {
                snapshot::Body::Value(v) => self
                    .store_until(0, rec.key, from_val(v), rec.expires, rec.flags, now)
                    .is_ok(),
                snapshot::Body::List(items) => {
                    // A key twice in a file: the later record wins.
                    let _ = self.store(0, rec.key, Value::Nil, 0, 0, now);
                    let mut ok = true;
                    for v in items {
                        if self.push(rec.key, false, from_val(v), now).is_err() {
                            ok = false;
                            break;
                        }
                    }
                    if !ok {
                        let _ = self.store(0, rec.key, Value::Nil, 0, 0, now);
                    }
                    ok
                }
            };
            if !ok {
                r.skipped += 1;
                continue;
            }
            if let snapshot::Body::List(_) = rec.body {
                // rpush made the list without expiry.
                if let Some(e) = self.tree_find(hash(rec.key), rec.key) {
                    self.node_mut(&e).expires = rec.expires;
                }
            }
            r.stored += 1;
        }
        let live = self.keys(0, now, |_| ());
        r.evicted = r.stored.saturating_sub(live);
        r
    }
}

/// A stored value as the snapshot format's (numbers are native-endian in
/// the store, little-endian in the file).
fn to_val(vtype: u8, data: &[u8]) -> snapshot::Val<'_> {
    match vtype {
        T_BOOLEAN => snapshot::Val::Bool(data.first() == Some(&1)),
        T_NUMBER => snapshot::Val::Num(<[u8; 8]>::try_from(data).map_or(0.0, f64::from_ne_bytes)),
        _ => snapshot::Val::Str(data),
    }
}

fn from_val(v: snapshot::Val<'_>) -> Value<'_> {
    match v {
        snapshot::Val::Bool(b) => Value::Bool(b),
        snapshot::Val::Num(n) => Value::Num(n),
        snapshot::Val::Str(s) => Value::Str(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::{alloc, dealloc, Layout};
    use std::collections::HashMap;

    /// A heap allocator with a byte budget, so eviction can be exercised.
    struct Heap {
        cap: usize,
        used: usize,
        blocks: HashMap<usize, Layout>,
    }

    impl Heap {
        fn new(cap: usize) -> Heap {
            Heap {
                cap,
                used: 0,
                blocks: HashMap::new(),
            }
        }
    }

    impl Alloc for &mut Heap {
        fn alloc(&mut self, size: usize) -> Option<NonNull<u8>> {
            if self.used + size > self.cap {
                return None;
            }
            let layout = Layout::from_size_align(size.max(1), 8).unwrap();
            // SAFETY: non-zero size.
            let p = NonNull::new(unsafe { alloc(layout) }).expect("heap memory");
            self.used += size;
            self.blocks.insert(p.as_ptr() as usize, layout);
            Some(p)
        }
        unsafe fn free(&mut self, p: NonNull<u8>, size: usize) {
            let layout = self
                .blocks
                .remove(&(p.as_ptr() as usize))
                .expect("double free");
            // The dictionary knows the size of every block it frees.
            assert_eq!(layout.size(), size.max(1), "size of the freed block");
            self.used -= size;
            // SAFETY: allocated above with this layout.
            unsafe { dealloc(p.as_ptr(), layout) };
        }
    }

    /// Walks the tree: keys in order, priorities a max-heap, and as many
    /// nodes as the LRU queue holds.
    fn check_invariants<A: Alloc>(d: &Dict<A>) {
        fn walk(n: *mut Node, out: &mut Vec<(u32, Vec<u8>)>) {
            if n.is_null() {
                return;
            }
            // SAFETY: live nodes of the tree under test.
            unsafe {
                for c in [(*n).left, (*n).right] {
                    if !c.is_null() {
                        assert!((*c).prio <= (*n).prio, "heap order");
                    }
                }
                walk((*n).left, out);
                out.push(((*n).hash, node_key(n).to_vec()));
                walk((*n).right, out);
            }
        }
        let mut keys = Vec::new();
        // SAFETY: the live root.
        walk(unsafe { (*d.sh).root }, &mut keys);
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "search order");
        let mut in_lru = 0;
        d.keys(0, 0, |_| in_lru += 1);
        assert_eq!(keys.len(), in_lru);
    }

    fn dict(h: &mut Heap) -> Dict<&mut Heap> {
        Dict::create(h, 0).unwrap()
    }

    fn get(d: &mut Dict<&mut Heap>, k: &str, now: u64) -> Option<(u8, Vec<u8>, u32)> {
        d.get(k.as_bytes(), false, now, |g| {
            (g.vtype, g.data.to_vec(), g.flags)
        })
        .unwrap()
    }

    fn num(v: &[u8]) -> f64 {
        f64::from_ne_bytes(v.try_into().unwrap())
    }

    #[test]
    fn set_get_types_and_flags() {
        let mut h = Heap::new(1 << 20);
        let mut d = dict(&mut h);
        d.store(0, b"s", Value::Str(b"hello"), 0, 7, 1000).unwrap();
        d.store(0, b"n", Value::Num(3.5), 0, 0, 1000).unwrap();
        d.store(0, b"b", Value::Bool(true), 0, 0, 1000).unwrap();
        assert_eq!(
            get(&mut d, "s", 1000),
            Some((T_STRING, b"hello".to_vec(), 7))
        );
        let (t, v, _) = get(&mut d, "n", 1000).unwrap();
        assert_eq!((t, num(&v)), (T_NUMBER, 3.5));
        assert_eq!(get(&mut d, "b", 1000).unwrap().1, vec![1]);
        assert_eq!(get(&mut d, "x", 1000), None);
        // Same size overwrites in place; a different size reallocates.
        d.store(0, b"s", Value::Str(b"world"), 0, 0, 1000).unwrap();
        d.store(0, b"s", Value::Str(b"much longer value"), 0, 0, 1000)
            .unwrap();
        assert_eq!(get(&mut d, "s", 1000).unwrap().1, b"much longer value");
        // delete
        d.store(0, b"s", Value::Nil, 0, 0, 1000).unwrap();
        assert_eq!(get(&mut d, "s", 1000), None);
    }

    #[test]
    fn add_replace_errors() {
        let mut h = Heap::new(1 << 20);
        let mut d = dict(&mut h);
        assert_eq!(
            d.store(OP_REPLACE, b"k", Value::Num(1.0), 0, 0, 0),
            Err(("not found", false))
        );
        assert_eq!(d.store(OP_ADD, b"k", Value::Num(1.0), 0, 0, 0), Ok(false));
        assert_eq!(
            d.store(OP_ADD, b"k", Value::Num(2.0), 0, 0, 0),
            Err(("exists", false))
        );
        assert_eq!(
            d.store(OP_REPLACE, b"k", Value::Num(2.0), 0, 0, 0),
            Ok(false)
        );
        assert_eq!(
            d.store(OP_ADD, b"k", Value::Nil, 0, 0, 0),
            Err(("attempt to add or replace nil values", false))
        );
    }

    #[test]
    fn expiry_and_stale() {
        let mut h = Heap::new(1 << 20);
        let mut d = dict(&mut h);
        d.store(0, b"k", Value::Str(b"v"), 100, 0, 1000).unwrap();
        assert_eq!(d.ttl(b"k", 1040), Some(60));
        assert!(get(&mut d, "k", 1099).is_some());
        assert_eq!(d.get(b"k", true, 1100, |g| g.stale).unwrap(), Some(true));
        assert_eq!(get(&mut d, "k", 1100), None);
        // add over an expired key succeeds, replace of it fails
        d.store(0, b"e", Value::Num(1.0), 10, 0, 1000).unwrap();
        assert!(d
            .store(OP_REPLACE, b"e", Value::Num(1.0), 0, 0, 2000)
            .is_err());
        assert!(d.store(OP_ADD, b"e", Value::Num(1.0), 0, 0, 2000).is_ok());
        assert!(d.set_expire(b"e", 5, 2000));
        assert_eq!(d.ttl(b"e", 2001), Some(4));
        assert!(!d.set_expire(b"zz", 5, 2000));
        assert_eq!(d.ttl(b"zz", 2000), None);
    }

    #[test]
    fn incr_cases() {
        let mut h = Heap::new(1 << 20);
        let mut d = dict(&mut h);
        assert_eq!(d.incr(b"c", 1.0, None, 0, 0), Err(("not found", false)));
        assert_eq!(d.incr(b"c", 1.0, Some(10.0), 0, 0), Ok((11.0, false)));
        assert_eq!(d.incr(b"c", -2.0, None, 0, 0), Ok((9.0, false)));
        d.store(0, b"s", Value::Str(b"x"), 0, 0, 0).unwrap();
        assert_eq!(
            d.incr(b"s", 1.0, Some(0.0), 0, 0),
            Err(("not a number", false))
        );
        // init_ttl
        assert_eq!(d.incr(b"t", 1.0, Some(0.0), 50, 1000), Ok((1.0, false)));
        assert_eq!(d.incr(b"t", 1.0, Some(0.0), 50, 1020), Ok((2.0, false)));
        assert_eq!(d.incr(b"t", 1.0, Some(0.0), 50, 1060), Ok((1.0, false)));
    }

    #[test]
    fn lists() {
        let mut h = Heap::new(1 << 20);
        let mut d = dict(&mut h);
        assert_eq!(d.push(b"l", true, Value::Str(b"a"), 0), Ok(1));
        assert_eq!(d.push(b"l", false, Value::Num(2.0), 0), Ok(2));
        assert_eq!(d.push(b"l", true, Value::Str(b"z"), 0), Ok(3));
        assert_eq!(d.llen(b"l", 0), Ok(3));
        assert_eq!(get(&mut d, "zz", 0), None);
        assert_eq!(d.get(b"l", false, 0, |_| ()).err(), Some("value is a list"));
        assert_eq!(d.incr(b"l", 1.0, None, 0, 0), Err(("not a number", false)));
        let pop =
            |d: &mut Dict<&mut Heap>, left| d.pop(b"l", left, 0, |t, v| (t, v.to_vec())).unwrap();
        assert_eq!(pop(&mut d, true), Some((T_STRING, b"z".to_vec())));
        assert_eq!(
            pop(&mut d, false).map(|(t, v)| (t, num(&v))),
            Some((T_NUMBER, 2.0))
        );
        assert_eq!(pop(&mut d, false), Some((T_STRING, b"a".to_vec())));
        assert_eq!(pop(&mut d, false), None);
        assert_eq!(d.llen(b"l", 0), Ok(0));
        d.store(0, b"s", Value::Num(1.0), 0, 0, 0).unwrap();
        assert_eq!(
            d.push(b"s", true, Value::Num(1.0), 0),
            Err(("value not a list", false))
        );
        assert_eq!(d.llen(b"s", 0), Err("value not a list"));
        // set over a list frees its items
        d.push(b"l2", true, Value::Str(b"x"), 0).unwrap();
        d.store(0, b"l2", Value::Str(b"plain"), 0, 0, 0).unwrap();
        assert_eq!(get(&mut d, "l2", 0).unwrap().1, b"plain");
    }

    #[test]
    fn eviction_is_forcible_and_lru() {
        let mut h = Heap::new(8 * (NODE + 16) + size_of::<Shctx>());
        let mut d = dict(&mut h);
        for i in 0..8 {
            let k = format!("key{i:02}");
            assert_eq!(
                d.store(0, k.as_bytes(), Value::Num(i as f64), 0, 0, 0),
                Ok(false)
            );
        }
        // touch key00 so key01 is the least recently used
        assert!(get(&mut d, "key00", 0).is_some());
        assert_eq!(
            d.store(OP_SAFE, b"key99", Value::Num(9.0), 0, 0, 0),
            Err(("no memory", false))
        );
        assert_eq!(d.store(0, b"key99", Value::Num(9.0), 0, 0, 0), Ok(true));
        assert!(get(&mut d, "key01", 0).is_none());
        assert!(get(&mut d, "key00", 0).is_some());
        // something too big for the whole budget
        let big = vec![b'x'; 4096];
        assert_eq!(
            d.store(0, b"big", Value::Str(&big), 0, 0, 0),
            Err(("no memory", true))
        );
    }

    #[test]
    fn flush_and_keys() {
        let mut h = Heap::new(1 << 20);
        let mut d = dict(&mut h);
        for i in 0..10 {
            d.store(
                0,
                format!("k{i}").as_bytes(),
                Value::Num(1.0),
                if i % 2 == 0 { 10 } else { 0 },
                0,
                0,
            )
            .unwrap();
        }
        let mut ks = Vec::new();
        assert_eq!(d.keys(3, 0, |k| ks.push(k.to_vec())), 3);
        assert_eq!(ks, vec![b"k0".to_vec(), b"k1".to_vec(), b"k2".to_vec()]);
        assert_eq!(d.keys(0, 100, |_| ()), 5);
        assert_eq!(d.flush_expired(2, 100), 2);
        assert_eq!(d.flush_expired(0, 100), 3);
        d.flush_all(100);
        assert_eq!(d.keys(0, 100, |_| ()), 0);
        assert_eq!(d.flush_expired(0, 100), 2);
    }

    /// Random churn against a model: the tree, queue and allocator stay
    /// consistent and nothing leaks.
    #[test]
    fn churn_matches_model() {
        let mut h = Heap::new(1 << 22);
        let mut model: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        {
            let mut d = Dict::create(&mut h, 0).unwrap();
            let mut x: u64 = 88172645463325252;
            for _ in 0..50_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let k = format!("k{}", x % 500).into_bytes();
                let len = (x >> 20) as usize % 300;
                let v = vec![(x >> 8) as u8; len];
                match (x >> 40) % 4 {
                    0 | 1 => {
                        d.store(0, &k, Value::Str(&v), 0, 0, 0).unwrap();
                        model.insert(k, v);
                    }
                    2 => {
                        d.store(0, &k, Value::Nil, 0, 0, 0).unwrap();
                        model.remove(&k);
                    }
                    _ => {
                        let got = d.get(&k, false, 0, |g| g.data.to_vec()).unwrap();
                        assert_eq!(got.as_ref(), model.get(&k));
                    }
                }
                if x.is_multiple_of(97) {
                    check_invariants(&d);
                }
            }
            check_invariants(&d);
            assert_eq!(d.keys(0, 0, |_| ()), model.len());
            d.flush_all(10);
            d.flush_expired(0, 10);
            assert_eq!(d.keys(0, 10, |_| ()), 0);
            let sh = NonNull::new(d.root()).unwrap().cast();
            // SAFETY: allocated by the dictionary from this heap.
            unsafe { d.a.free(sh, size_of::<Shctx>()) };
        }
        assert_eq!(h.used, 0);
        assert!(h.blocks.is_empty());
    }

    /// Churn in a budget far too small: eviction, lists and expiry mixed;
    /// the structure stays consistent and a value read is never wrong.
    #[test]
    fn churn_under_pressure() {
        let mut h = Heap::new(20_000);
        {
            let mut d = Dict::create(&mut h, 0).unwrap();
            let mut model: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            for now in 0..30_000u64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let k = format!("k{}", x % 300).into_bytes();
                let v = vec![(x >> 8) as u8; (x >> 20) as usize % 700];
                match (x >> 40) % 6 {
                    0 | 1 => {
                        let ttl = if (x >> 50).is_multiple_of(3) { 5 } else { 0 };
                        if d.store(0, &k, Value::Str(&v), ttl, 0, now).is_ok() {
                            model.insert(k, v);
                        } else {
                            model.remove(&k);
                        }
                    }
                    2 => {
                        let item = Value::Str(&v[..v.len().min(50)]);
                        if d.push(&k, x & 1 == 0, item, now) != Err((ERR_NOT_A_LIST, false)) {
                            model.remove(&k);
                        }
                    }
                    3 => {
                        let _ = d.pop(&k, x & 1 == 0, now, |_, _| ());
                    }
                    _ => {
                        if let Ok(Some(got)) = d.get(&k, false, now, |g| g.data.to_vec()) {
                            assert_eq!(Some(&got), model.get(&k));
                        }
                    }
                }
                if x.is_multiple_of(31) {
                    check_invariants(&d);
                }
            }
            check_invariants(&d);
            d.flush_all(u64::MAX / 2);
            d.flush_expired(0, u64::MAX / 2);
            let sh = NonNull::new(d.root()).unwrap().cast();
            // SAFETY: allocated by the dictionary from this heap.
            unsafe { d.a.free(sh, size_of::<Shctx>()) };
        }
        assert_eq!(h.used, 0);
    }

    #[test]
    fn dump_and_load_keep_values_flags_ttls_lists_and_lru_order() {
        let mut h = Heap::new(1 << 20);
        let mut d = dict(&mut h);
        let now = 1_000_000;
        d.store(0, b"s", Value::Str(b"str"), 0, 7, now).unwrap();
        d.store(0, b"n", Value::Num(2.5), 5000, 0, now).unwrap();
        d.store(0, b"b", Value::Bool(false), 0, 0, now).unwrap();
        d.store(0, b"gone", Value::Num(1.0), 10, 0, now).unwrap();
        d.push(b"l", false, Value::Str(b"x"), now).unwrap();
        d.push(b"l", false, Value::Num(3.0), now).unwrap();
        let mut enc = snapshot::Encoder::new(0, now + 20);
        assert_eq!(
            d.dump(now + 20, &mut enc),
            4,
            "the expired entry is left out"
        );
        let file = enc.finish();
        let snap = snapshot::decode(&file).unwrap();

        let mut h2 = Heap::new(1 << 20);
        let mut d2 = dict(&mut h2);
        let later = now + 1000;
        let r = d2.load(&snap, later);
        assert_eq!(
            r,
            Loaded {
                stored: 4,
                ..Loaded::default()
            }
        );
        // LRU order survives: least recently used first.
        let mut keys = Vec::new();
        d2.keys(0, later, |k| keys.push(k.to_vec()));
        assert_eq!(
            keys,
            [b"s".to_vec(), b"n".to_vec(), b"b".to_vec(), b"l".to_vec()]
        );
        assert_eq!(
            get(&mut d2, "s", later),
            Some((T_STRING, b"str".to_vec(), 7))
        );
        assert_eq!(d2.ttl(b"n", later), Some(4000), "expiry is absolute");
        assert_eq!(get(&mut d2, "b", later), Some((T_BOOLEAN, vec![0], 0)));
        assert_eq!(d2.llen(b"l", later), Ok(2));
        let item = |d: &mut Dict<&mut Heap>| d.pop(b"l", true, later, |t, v| (t, v.to_vec()));
        assert_eq!(item(&mut d2), Ok(Some((T_STRING, b"x".to_vec()))));
        assert_eq!(
            item(&mut d2),
            Ok(Some((T_NUMBER, 3.0f64.to_ne_bytes().to_vec())))
        );
        check_invariants(&d2);

        // Loaded after "n" expired: dropped, and counted.
        let mut h3 = Heap::new(1 << 20);
        let mut d3 = dict(&mut h3);
        let r = d3.load(&snap, now + 6000);
        assert_eq!((r.stored, r.expired), (3, 1));
        assert_eq!(d3.ttl(b"n", now + 6000), None);
    }

    #[test]
    fn load_into_a_smaller_dict_keeps_the_most_recent() {
        let mut h = Heap::new(1 << 20);
        let mut d = dict(&mut h);
        for i in 0..1000 {
            let k = format!("key{i}");
            d.store(0, k.as_bytes(), Value::Str(&[b'v'; 100]), 0, 0, 1)
                .unwrap();
        }
        let mut enc = snapshot::Encoder::new(0, 1);
        d.dump(1, &mut enc);
        let file = enc.finish();
        let snap = snapshot::decode(&file).unwrap();
        let mut small = Heap::new(20_000);
        let mut d2 = dict(&mut small);
        let r = d2.load(&snap, 2);
        let live = d2.keys(0, 2, |_| ());
        assert!(live > 0 && live < 1000);
        assert_eq!(r.stored - r.evicted, live);
        assert_eq!(r.stored + r.skipped, 1000);
        assert!(get(&mut d2, "key999", 2).is_some());
        assert!(get(&mut d2, "key0", 2).is_none());
        check_invariants(&d2);
    }
}

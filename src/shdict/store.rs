//! The shared dictionary's data structure, independent of nginx: entries in
//! a treap ordered by (key hash, key), an LRU queue, expiry in milliseconds,
//! lists. Memory comes from an [`Alloc`]: nginx's slab pool in production
//! (`zone.rs`), a bounded heap in the unit tests below.
//!
//! Every structure lives inside the allocator's memory and links by raw
//! pointers, as upstream's does: a zone is mapped at the same address in the
//! master and every worker (created before the fork, kept across reloads).
//! Callers hold the zone lock for the whole life of a [`Dict`].
use core::cmp::Ordering;
use core::mem::{offset_of, size_of};
use core::ptr;

/// Byte blocks for the dictionary.
pub trait Alloc {
    /// A block of `size` bytes aligned for `u64`, or null when full.
    fn alloc(&mut self, size: usize) -> *mut u8;
    /// Returns a block.
    ///
    /// # Safety
    /// `p` came from `alloc` of this allocator and is not used afterwards.
    unsafe fn free(&mut self, p: *mut u8);
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

#[repr(C)]
struct Link {
    prev: *mut Link,
    next: *mut Link,
}

impl Link {
    /// # Safety
    /// `s` points at a link that may be overwritten.
    unsafe fn init(s: *mut Link) {
        // SAFETY: the caller's pointer.
        unsafe {
            (*s).prev = s;
            (*s).next = s;
        }
    }
    /// # Safety
    /// `s` is an initialised sentinel, `l` a link not in any list.
    unsafe fn insert_head(s: *mut Link, l: *mut Link) {
        // SAFETY: valid links of one circular list.
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
        // SAFETY: valid links of one circular list.
        unsafe {
            (*l).prev = (*s).prev;
            (*(*l).prev).next = l;
            (*l).next = s;
            (*s).prev = l;
        }
    }
    /// # Safety
    /// `l` is in a list.
    unsafe fn remove(l: *mut Link) {
        // SAFETY: neighbours of a linked element are valid.
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

/// An entry: header, then the key, then the value bytes.
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

enum Found {
    Live(*mut Node),
    Expired(*mut Node),
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
        let sh = a.alloc(size_of::<Shctx>() + extra) as *mut Shctx;
        if sh.is_null() {
            return None;
        }
        // SAFETY: a fresh block of the right size.
        unsafe {
            (*sh).root = ptr::null_mut();
            Link::init(&mut (*sh).lru);
            (*sh).seed = 0x2545_f491;
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
        // SAFETY: one past the root, inside the block `create` allocated.
        unsafe { (self.sh as *mut u8).add(size_of::<Shctx>()) }
    }

    // ---- node accessors -------------------------------------------------

    /// # Safety
    /// `n` is a live node.
    unsafe fn key<'b>(n: *const Node) -> &'b [u8] {
        // SAFETY: the key follows the header.
        unsafe { core::slice::from_raw_parts((n as *const u8).add(NODE), (*n).key_len as usize) }
    }

    /// # Safety
    /// `n` is a live non-list node.
    unsafe fn value_ptr(n: *mut Node) -> *mut u8 {
        // SAFETY: the value follows the key.
        unsafe { (n as *mut u8).add(NODE + (*n).key_len as usize) }
    }

    /// # Safety
    /// `l` is the `lru` link of a live node.
    unsafe fn from_lru(l: *mut Link) -> *mut Node {
        // SAFETY: container of the link.
        unsafe { (l as *mut u8).sub(offset_of!(Node, lru)) as *mut Node }
    }

    fn cmp(h: u32, key: &[u8], n: *const Node) -> Ordering {
        // SAFETY: tree nodes are live while the lock is held.
        unsafe { h.cmp(&(*n).hash).then_with(|| key.cmp(Self::key(n))) }
    }

    fn next_prio(&mut self) -> u32 {
        // SAFETY: the root is live (xorshift32 state).
        unsafe {
            let mut x = (*self.sh).seed;
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (*self.sh).seed = x;
            x
        }
    }

    // ---- treap -----------------------------------------------------------

    fn tree_find(&self, h: u32, key: &[u8]) -> *mut Node {
        // SAFETY: tree nodes are live.
        unsafe {
            let mut n = (*self.sh).root;
            while !n.is_null() {
                match Self::cmp(h, key, n) {
                    Ordering::Less => n = (*n).left,
                    Ordering::Greater => n = (*n).right,
                    Ordering::Equal => return n,
                }
            }
            ptr::null_mut()
        }
    }

    /// # Safety
    /// `n` is a fully initialised node not in the tree, whose key is not in
    /// the tree.
    unsafe fn tree_insert(&mut self, n: *mut Node) {
        // SAFETY: slots point into live nodes or the root.
        unsafe {
            let (h, key) = ((*n).hash, Self::key(n));
            let mut slot: *mut *mut Node = &mut (*self.sh).root;
            while !(*slot).is_null() && (**slot).prio >= (*n).prio {
                slot = if Self::cmp(h, key, *slot) == Ordering::Less {
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
                if Self::cmp(h, key, t) == Ordering::Less {
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

    /// # Safety
    /// `n` is in the tree.
    unsafe fn tree_remove(&mut self, n: *mut Node) {
        // SAFETY: slots point into live nodes or the root.
        unsafe {
            let (h, key) = ((*n).hash, Self::key(n));
            let mut slot: *mut *mut Node = &mut (*self.sh).root;
            while *slot != n {
                let c = *slot;
                slot = if Self::cmp(h, key, c) == Ordering::Less {
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
        let n = self.tree_find(h, key);
        if n.is_null() {
            return Found::None;
        }
        // SAFETY: a live node; the LRU sentinel is live.
        unsafe {
            if (*n).expires != 0 && (*n).expires <= now {
                return Found::Expired(n);
            }
            self.touch(n);
        }
        Found::Live(n)
    }

    /// # Safety
    /// `n` is a live node.
    unsafe fn touch(&mut self, n: *mut Node) {
        // SAFETY: n is in the LRU queue.
        unsafe {
            Link::remove(&mut (*n).lru);
            Link::insert_head(&mut (*self.sh).lru, &mut (*n).lru);
        }
    }

    /// # Safety
    /// `n` is a list node.
    unsafe fn free_items(&mut self, n: *mut Node) {
        // SAFETY: the items of a live list.
        unsafe {
            let s: *mut Link = &mut (*n).list;
            let mut l = (*s).next;
            while l != s {
                let next = (*l).next;
                self.a.free(l as *mut u8);
                l = next;
            }
            Link::init(s);
        }
    }

    /// Unlinks and frees an entry.
    ///
    /// # Safety
    /// `n` is a live node.
    unsafe fn delete_node(&mut self, n: *mut Node) {
        // SAFETY: n is in the tree and the queue.
        unsafe {
            if (*n).vtype == T_LIST {
                self.free_items(n);
            }
            Link::remove(&mut (*n).lru);
            self.tree_remove(n);
            self.a.free(n as *mut u8);
        }
    }

    fn lru_last(&self) -> Option<*mut Node> {
        // SAFETY: the sentinel is live.
        unsafe {
            let s: *const Link = &(*self.sh).lru;
            let l = (*s).prev;
            if ptr::eq(l, s) {
                None
            } else {
                Some(Self::from_lru(l))
            }
        }
    }

    /// Upstream's reclaim step from the LRU tail: with `force`, the least
    /// recently used entry goes whatever its expiry, then up to two more
    /// expired ones; without, up to two expired ones. Returns how many
    /// entries were freed.
    fn expire(&mut self, force: bool, now: u64) -> usize {
        let mut n = if force { 0 } else { 1 };
        let mut freed = 0;
        while n < 3 {
            let Some(node) = self.lru_last() else {
                return freed;
            };
            let check = n != 0;
            n += 1;
            // SAFETY: a live node.
            unsafe {
                if check && ((*node).expires == 0 || (*node).expires > now) {
                    return freed;
                }
                self.delete_node(node);
            }
            freed += 1;
        }
        freed
    }

    /// Allocates `size` bytes, evicting (expired, then LRU) entries up to 30
    /// times unless `safe`. Returns the block and whether live entries were
    /// evicted.
    fn alloc_evicting(&mut self, size: usize, safe: bool, now: u64) -> (*mut u8, bool) {
        let p = self.a.alloc(size);
        if !p.is_null() || safe {
            return (p, false);
        }
        let mut forcible = false;
        for _ in 0..30 {
            if self.expire(true, now) == 0 {
                break;
            }
            forcible = true;
            let p = self.a.alloc(size);
            if !p.is_null() {
                return (p, true);
            }
        }
        (ptr::null_mut(), forcible)
    }

    /// # Safety
    /// `p` is a fresh block of at least NODE + key.len() + vlen bytes.
    #[allow(clippy::too_many_arguments)]
    unsafe fn link_new(
        &mut self,
        p: *mut u8,
        h: u32,
        key: &[u8],
        vtype: u8,
        val: &[u8],
        vlen: u32,
        expires: u64,
        flags: u32,
    ) -> *mut Node {
        let n = p as *mut Node;
        let prio = self.next_prio();
        // SAFETY: the block is ours and large enough.
        unsafe {
            ptr::write(
                n,
                Node {
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
                },
            );
            Link::init(&mut (*n).list);
            ptr::copy_nonoverlapping(key.as_ptr(), p.add(NODE), key.len());
            ptr::copy_nonoverlapping(val.as_ptr(), p.add(NODE + key.len()), val.len());
            self.tree_insert(n);
            Link::insert_head(&mut (*self.sh).lru, &mut (*n).lru);
        }
        n
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
        let found = self.lookup(h, key, now);
        let existing = match found {
            Found::Live(n) => {
                if op & OP_ADD != 0 {
                    return Err((ERR_EXISTS, false));
                }
                Some(n)
            }
            Found::Expired(n) => {
                if op & OP_REPLACE != 0 {
                    return Err((ERR_NOT_FOUND, false));
                }
                Some(n)
            }
            Found::None => {
                if op & OP_REPLACE != 0 {
                    return Err((ERR_NOT_FOUND, false));
                }
                None
            }
        };
        if let Some(n) = existing {
            // SAFETY: a live node.
            unsafe {
                if vtype != T_NIL && (*n).vtype != T_LIST && (*n).value_len as usize == val.len() {
                    // Same size: overwrite in place.
                    self.touch(n);
                    (*n).expires = Self::deadline(now, exptime_ms);
                    (*n).user_flags = flags;
                    (*n).vtype = vtype;
                    ptr::copy_nonoverlapping(val.as_ptr(), Self::value_ptr(n), val.len());
                    return Ok(false);
                }
                self.delete_node(n);
            }
        }
        if vtype == T_NIL {
            return Ok(false);
        }
        let size = NODE + key.len() + val.len();
        let (p, forcible) = self.alloc_evicting(size, op & OP_SAFE != 0, now);
        if p.is_null() {
            return Err((ERR_NO_MEMORY, forcible));
        }
        // SAFETY: a fresh block of `size` bytes; the key is not in the tree.
        unsafe {
            self.link_new(
                p,
                h,
                key,
                vtype,
                val,
                val.len() as u32,
                Self::deadline(now, exptime_ms),
                flags,
            )
        };
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
        let (n, is_stale) = match self.lookup(h, key, now) {
            Found::None => return Ok(None),
            Found::Expired(_) if !stale => return Ok(None),
            Found::Expired(n) => (n, true),
            Found::Live(n) => (n, false),
        };
        // SAFETY: a live node; its value bytes follow the key.
        unsafe {
            if (*n).vtype == T_LIST {
                return Err(ERR_IS_A_LIST);
            }
            let data = core::slice::from_raw_parts(Self::value_ptr(n), (*n).value_len as usize);
            Ok(Some(f(Got {
                vtype: (*n).vtype,
                data,
                flags: (*n).user_flags,
                stale: is_stale,
            })))
        }
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
        if let Found::Live(n) = found {
            // SAFETY: a live node.
            unsafe {
                if (*n).vtype != T_NUMBER || (*n).value_len != 8 {
                    return Err((ERR_NOT_A_NUMBER, false));
                }
                let p = Self::value_ptr(n);
                let mut b = [0u8; 8];
                ptr::copy_nonoverlapping(p, b.as_mut_ptr(), 8);
                let v = f64::from_ne_bytes(b) + delta;
                ptr::copy_nonoverlapping(v.to_ne_bytes().as_ptr(), p, 8);
                return Ok((v, false));
            }
        }
        let Some(init) = init else {
            return Err((ERR_NOT_FOUND, false));
        };
        let v = init + delta;
        let expires = Self::deadline(now, init_ttl_ms);
        if let Found::Expired(n) = found {
            // SAFETY: a live node.
            unsafe {
                if (*n).vtype != T_LIST && (*n).value_len == 8 {
                    self.touch(n);
                    (*n).user_flags = 0;
                    (*n).expires = expires;
                    (*n).vtype = T_NUMBER;
                    ptr::copy_nonoverlapping(v.to_ne_bytes().as_ptr(), Self::value_ptr(n), 8);
                    return Ok((v, false));
                }
                self.delete_node(n);
            }
        }
        let (p, forcible) = self.alloc_evicting(NODE + key.len() + 8, false, now);
        if p.is_null() {
            return Err((ERR_NO_MEMORY, forcible));
        }
        // SAFETY: a fresh block; the key is not in the tree.
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
        let n = match self.lookup(h, key, now) {
            Found::Live(n) => {
                // SAFETY: a live node.
                if unsafe { (*n).vtype } != T_LIST {
                    return Err((ERR_NOT_A_LIST, false));
                }
                n
            }
            // SAFETY: a live node.
            Found::Expired(n) if unsafe { (*n).vtype } == T_LIST => {
                // SAFETY: as above: reuse the expired list.
                unsafe {
                    self.free_items(n);
                    (*n).expires = 0;
                    (*n).value_len = 0;
                    self.touch(n);
                }
                n
            }
            other => {
                if let Found::Expired(n) = other {
                    // SAFETY: a live node.
                    unsafe { self.delete_node(n) };
                }
                let p = self.a.alloc(NODE + key.len());
                if p.is_null() {
                    return Err((ERR_NO_MEMORY, true));
                }
                // SAFETY: a fresh block; the key is not in the tree.
                unsafe { self.link_new(p, h, key, T_LIST, &[], 0, 0, 0) }
            }
        };
        let it = self.a.alloc(ITEM + val.len()) as *mut Item;
        // SAFETY: n is a live list node; `it` a fresh block.
        unsafe {
            if it.is_null() {
                if (*n).value_len == 0 {
                    self.delete_node(n);
                }
                return Err((ERR_NO_MEMORY, false));
            }
            (*it).value_len = val.len() as u32;
            (*it).vtype = vtype;
            ptr::copy_nonoverlapping(val.as_ptr(), (it as *mut u8).add(ITEM), val.len());
            if left {
                Link::insert_head(&mut (*n).list, &mut (*it).link);
            } else {
                Link::insert_tail(&mut (*n).list, &mut (*it).link);
            }
            (*n).value_len += 1;
            Ok((*n).value_len as usize)
        }
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
        let Found::Live(n) = self.lookup(h, key, now) else {
            return Ok(None);
        };
        // SAFETY: a live list node with at least one item (empty lists are
        // removed).
        unsafe {
            if (*n).vtype != T_LIST {
                return Err(ERR_NOT_A_LIST);
            }
            let s: *mut Link = &mut (*n).list;
            let l = if left { (*s).next } else { (*s).prev };
            if l == s {
                return Ok(None);
            }
            let it = l as *mut Item;
            let data =
                core::slice::from_raw_parts((it as *const u8).add(ITEM), (*it).value_len as usize);
            let r = f((*it).vtype, data);
            Link::remove(l);
            self.a.free(it as *mut u8);
            (*n).value_len -= 1;
            if (*n).value_len == 0 {
                self.delete_node(n);
            }
            Ok(Some(r))
        }
    }

    pub fn llen(&mut self, key: &[u8], now: u64) -> Result<usize, &'static str> {
        let h = hash(key);
        self.expire(false, now);
        match self.lookup(h, key, now) {
            // SAFETY: a live node.
            Found::Live(n) => unsafe {
                if (*n).vtype != T_LIST {
                    Err(ERR_NOT_A_LIST)
                } else {
                    Ok((*n).value_len as usize)
                }
            },
            _ => Ok(0),
        }
    }

    /// Remaining ms to live (0: none; negative when expired but not yet
    /// reclaimed, as upstream), None when absent.
    pub fn ttl(&self, key: &[u8], now: u64) -> Option<i64> {
        let n = self.tree_find(hash(key), key);
        if n.is_null() {
            return None;
        }
        // SAFETY: a live node.
        let e = unsafe { (*n).expires };
        Some(if e == 0 { 0 } else { e as i64 - now as i64 })
    }

    /// Sets a new expiry (0: none); false when absent.
    pub fn set_expire(&mut self, key: &[u8], exptime_ms: i64, now: u64) -> bool {
        let n = self.tree_find(hash(key), key);
        if n.is_null() {
            return false;
        }
        // SAFETY: a live node.
        unsafe { (*n).expires = Self::deadline(now, exptime_ms) };
        true
    }

    /// Marks every entry expired (memory is reclaimed lazily, as upstream).
    pub fn flush_all(&mut self, now: u64) {
        // SAFETY: walking the live LRU queue.
        unsafe {
            let s: *mut Link = &mut (*self.sh).lru;
            let mut l = (*s).next;
            while l != s {
                (*Self::from_lru(l)).expires = 1;
                l = (*l).next;
            }
        }
        self.expire(true, now);
    }

    /// Frees up to `max` (0: all) expired entries, oldest first.
    pub fn flush_expired(&mut self, max: usize, now: u64) -> usize {
        let mut freed = 0;
        // SAFETY: walking the LRU queue from the tail, saving `prev` before
        // freeing a node.
        unsafe {
            let s: *mut Link = &mut (*self.sh).lru;
            let mut l = (*s).prev;
            while l != s {
                let prev = (*l).prev;
                let n = Self::from_lru(l);
                if (*n).expires != 0 && (*n).expires <= now {
                    self.delete_node(n);
                    freed += 1;
                    if max != 0 && freed == max {
                        break;
                    }
                }
                l = prev;
            }
        }
        freed
    }

    /// Calls `f` with up to `max` (0: all) live keys, least recently used
    /// first.
    pub fn keys(&self, max: usize, now: u64, mut f: impl FnMut(&[u8])) -> usize {
        let mut total = 0;
        // SAFETY: walking the live LRU queue.
        unsafe {
            let s: *const Link = &(*self.sh).lru;
            let mut l = (*s).prev;
            while !ptr::eq(l, s) {
                let n = Self::from_lru(l);
                if (*n).expires == 0 || (*n).expires > now {
                    f(Self::key(n));
                    total += 1;
                    if max != 0 && total == max {
                        break;
                    }
                }
                l = (*l).prev;
            }
        }
        total
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
        fn alloc(&mut self, size: usize) -> *mut u8 {
            if self.used + size > self.cap {
                return ptr::null_mut();
            }
            let layout = Layout::from_size_align(size.max(1), 8).unwrap();
            // SAFETY: non-zero size.
            let p = unsafe { alloc(layout) };
            self.used += size;
            self.blocks.insert(p as usize, layout);
            p
        }
        unsafe fn free(&mut self, p: *mut u8) {
            let layout = self.blocks.remove(&(p as usize)).expect("double free");
            self.used -= layout.size();
            // SAFETY: allocated above with this layout.
            unsafe { dealloc(p, layout) };
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
                out.push(((*n).hash, Dict::<&mut Heap>::key(n).to_vec()));
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
            let sh = d.root();
            // SAFETY: allocated by the dictionary from this heap.
            unsafe { d.a.free(sh as *mut u8) };
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
            let sh = d.root();
            // SAFETY: allocated by the dictionary from this heap.
            unsafe { d.a.free(sh as *mut u8) };
        }
        assert_eq!(h.used, 0);
    }
}

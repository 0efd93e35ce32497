//! The keepalive pool of a balancer (`ngx.balancer.enable_keepalive`):
//! idle upstream connections of one `upstream {}` block in one worker,
//! keyed by peer address, local address and TLS host name, at most
//! `balancer_keepalive` of them, the least recently parked one closed to
//! make room. Pure code over any connection type, so it is tested on the
//! heap with `cargo test`.
use std::collections::VecDeque;

/// Socket addresses up to this size are keys (nginx's `ngx_sockaddr_t`,
/// the largest being a Unix socket path, fits).
pub const ADDR_MAX: usize = 128;
/// Host names up to this size are kept inline (longer ones on the heap).
const HOST_INLINE: usize = 48;

/// What decides which idle connection a try may reuse.
pub struct Key<'a> {
    pub addr: &'a [u8],
    pub local: Option<&'a [u8]>,
    /// Compared without regard to case, as host names are.
    pub host: &'a [u8],
}

impl Key<'_> {
    /// FNV-1a over the parts, to skip most entries with one comparison.
    fn hash(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |b: u8| {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        };
        self.addr.iter().for_each(|&b| eat(b));
        eat(0xff);
        if let Some(l) = self.local {
            l.iter().for_each(|&b| eat(b));
        }
        eat(0xfe);
        self.host.iter().for_each(|&b| eat(b.to_ascii_lowercase()));
        h
    }
}

struct Addr {
    len: u8,
    bytes: [u8; ADDR_MAX],
}

impl Addr {
    fn new(b: &[u8]) -> Addr {
        let len = b.len().min(ADDR_MAX);
        let mut bytes = [0u8; ADDR_MAX];
        bytes[..len].copy_from_slice(&b[..len]);
        Addr {
            len: len as u8,
            bytes,
        }
    }

    fn get(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

enum Host {
    Inline(u8, [u8; HOST_INLINE]),
    Heap(Box<[u8]>),
}

impl Host {
    fn new(b: &[u8]) -> Host {
        if b.len() <= HOST_INLINE {
            let mut a = [0u8; HOST_INLINE];
            a[..b.len()].copy_from_slice(b);
            Host::Inline(b.len() as u8, a)
        } else {
            Host::Heap(b.into())
        }
    }

    fn get(&self) -> &[u8] {
        match self {
            Host::Inline(n, a) => &a[..*n as usize],
            Host::Heap(b) => b,
        }
    }
}

struct Entry<C> {
    conn: C,
    hash: u64,
    addr: Addr,
    local: Option<Addr>,
    host: Host,
}

impl<C> Entry<C> {
    fn matches(&self, hash: u64, k: &Key) -> bool {
        self.hash == hash
            && self.addr.get() == k.addr
            && self.local.as_ref().map(Addr::get) == k.local
            && self.host.get().eq_ignore_ascii_case(k.host)
    }
}

/// Idle connections, most recently parked last.
pub struct Pool<C> {
    max: usize,
    idle: VecDeque<Entry<C>>,
}

impl<C: Copy + PartialEq> Pool<C> {
    pub const fn new() -> Pool<C> {
        Pool {
            max: 0,
            idle: VecDeque::new(),
        }
    }

    /// The most connections kept (the pool is empty until then).
    pub fn set_max(&mut self, max: usize) {
        self.max = max;
    }

    pub fn len(&self) -> usize {
        self.idle.len()
    }

    pub fn is_empty(&self) -> bool {
        self.idle.is_empty()
    }

    /// Takes the most recently parked connection for `k`.
    pub fn take(&mut self, k: &Key) -> Option<C> {
        let hash = k.hash();
        let i = self.idle.iter().rposition(|e| e.matches(hash, k))?;
        self.idle.remove(i).map(|e| e.conn)
    }

    /// Parks `conn` under `k`. When the pool is full, the least recently
    /// parked connection makes room and is returned, for the caller to
    /// close. A pool of no size keeps nothing (`conn` comes back).
    pub fn put(&mut self, k: &Key, conn: C) -> Option<C> {
        if self.max == 0 {
            return Some(conn);
        }
        let evicted = if self.idle.len() >= self.max {
            self.idle.pop_front().map(|e| e.conn)
        } else {
            None
        };
        if self.idle.capacity() == 0 {
            self.idle.reserve_exact(self.max);
        }
        self.idle.push_back(Entry {
            conn,
            hash: k.hash(),
            addr: Addr::new(k.addr),
            local: k.local.map(Addr::new),
            host: Host::new(k.host),
        });
        evicted
    }

    /// Forgets `conn` (closed by the peer, timed out); false when it was
    /// not here.
    pub fn remove(&mut self, conn: C) -> bool {
        match self.idle.iter().position(|e| e.conn == conn) {
            Some(i) => {
                self.idle.remove(i);
                true
            }
            None => false,
        }
    }
}

impl<C: Copy + PartialEq> Default for Pool<C> {
    fn default() -> Self {
        Pool::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key<'a>(addr: &'a [u8], host: &'a [u8]) -> Key<'a> {
        Key {
            addr,
            local: None,
            host,
        }
    }

    #[test]
    fn reuses_by_address_and_host() {
        let mut p: Pool<u32> = Pool::new();
        p.set_max(8);
        assert_eq!(p.put(&key(b"a1", b""), 1), None);
        assert_eq!(p.put(&key(b"a1", b"one.test"), 2), None);
        assert_eq!(p.put(&key(b"a2", b""), 3), None);
        assert_eq!(p.take(&key(b"a1", b"ONE.test")), Some(2));
        assert_eq!(p.take(&key(b"a1", b"one.test")), None);
        assert_eq!(p.take(&key(b"a1", b"two.test")), None);
        assert_eq!(p.take(&key(b"a1", b"")), Some(1));
        assert_eq!(p.take(&key(b"a2", b"")), Some(3));
        assert!(p.is_empty());
    }

    #[test]
    fn local_address_is_part_of_the_key() {
        let mut p: Pool<u32> = Pool::new();
        p.set_max(4);
        let k = Key {
            addr: b"a",
            local: Some(b"l1"),
            host: b"",
        };
        p.put(&k, 7);
        assert_eq!(p.take(&key(b"a", b"")), None);
        let other = Key {
            addr: b"a",
            local: Some(b"l2"),
            host: b"",
        };
        assert_eq!(p.take(&other), None);
        assert_eq!(p.take(&k), Some(7));
    }

    #[test]
    fn most_recent_first_and_lru_eviction() {
        let mut p: Pool<u32> = Pool::new();
        p.set_max(2);
        assert_eq!(p.put(&key(b"a", b""), 1), None);
        assert_eq!(p.put(&key(b"a", b""), 2), None);
        // Full: the oldest goes.
        assert_eq!(p.put(&key(b"b", b""), 3), Some(1));
        assert_eq!(p.len(), 2);
        assert_eq!(p.take(&key(b"a", b"")), Some(2));
        assert_eq!(p.take(&key(b"a", b"")), None);
    }

    #[test]
    fn remove_and_zero_size() {
        let mut p: Pool<u32> = Pool::new();
        assert_eq!(p.put(&key(b"a", b""), 1), Some(1));
        p.set_max(3);
        p.put(&key(b"a", b""), 1);
        p.put(&key(b"b", b""), 2);
        assert!(p.remove(1));
        assert!(!p.remove(1));
        assert_eq!(p.take(&key(b"a", b"")), None);
        assert_eq!(p.take(&key(b"b", b"")), Some(2));
    }

    #[test]
    fn long_host_names() {
        let mut p: Pool<u32> = Pool::new();
        p.set_max(2);
        let long = b"keepalive1.a.rather.long.host.name.used.for.sni.example.com";
        p.put(&key(b"a", long), 5);
        assert_eq!(p.take(&key(b"a", &long[..20])), None);
        assert_eq!(p.take(&key(b"a", long)), Some(5));
    }
}

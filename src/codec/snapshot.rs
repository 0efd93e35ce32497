//! The file format of a persisted shared dict (`lua_shared_dict ...
//! persist=PATH`): encoder and decoder, pure code.
//!
//! ```text
//! magic      8  "NGXLUASD"
//! version    4  u32 LE (VERSION)
//! zone_size  8  u64 LE  size of the zone that was saved (informational)
//! saved_ms   8  u64 LE  wall clock at the snapshot, ms since the epoch
//! count      8  u64 LE  number of records
//! body_len   8  u64 LE  bytes of records that follow the header
//! checksum   8  u64 LE  FNV-1a 64 over the body
//! body       records, oldest (least recently used) first:
//!   kind     1  1 = value, 2 = list
//!   key_len  2  u16 LE (1..=65535)
//!   key      key_len bytes
//!   flags    4  u32 LE  user flags
//!   expires  8  u64 LE  absolute expiry, ms since the epoch; 0 = never
//!   value:   vtype 1 (1 boolean, 3 number, 4 string), len 4 (u32 LE), bytes
//!            (a boolean is one byte 0/1, a number 8 bytes of an f64 LE)
//!   list:    items 4 (u32 LE, >= 1), then each item as a value
//!            (numbers or strings only)
//! ```
//!
//! The file is read whole; [`decode`] checks every length against what is
//! left, the body's length and checksum and every record before it says
//! yes, so a loader never acts on a file it would later refuse.

pub const MAGIC: &[u8; 8] = b"NGXLUASD";
pub const VERSION: u32 = 1;
pub const HEADER_LEN: usize = 8 + 4 + 8 * 5;

pub const KIND_VALUE: u8 = 1;
pub const KIND_LIST: u8 = 2;

/// Value types, Lua's type numbers as the store uses them.
pub const T_BOOLEAN: u8 = 1;
pub const T_NUMBER: u8 = 3;
pub const T_STRING: u8 = 4;

/// 64-bit FNV-1a.
pub fn checksum(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Val<'a> {
    Bool(bool),
    Num(f64),
    Str(&'a [u8]),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Body<'a> {
    Value(Val<'a>),
    /// The encoded items (already validated) and their number.
    List(Items<'a>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Record<'a> {
    pub key: &'a [u8],
    pub flags: u32,
    pub expires: u64,
    pub body: Body<'a>,
}

/// A list's items, in order (left to right).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Items<'a> {
    pub count: u32,
    data: &'a [u8],
}

impl<'a> Iterator for Items<'a> {
    type Item = Val<'a>;
    fn next(&mut self) -> Option<Val<'a>> {
        if self.count == 0 {
            return None;
        }
        let mut r = Reader(self.data);
        let v = read_val(&mut r).ok()?;
        self.data = r.0;
        self.count -= 1;
        Some(v)
    }
}

/// Why a file was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    Truncated,
    BadMagic,
    BadVersion(u32),
    /// Bytes after the body the header announced.
    TrailingData,
    BadChecksum,
    BadRecord(&'static str),
    BadCount,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Truncated => f.write_str("truncated file"),
            Error::BadMagic => f.write_str("not a shared dict snapshot (bad magic)"),
            Error::BadVersion(v) => write!(f, "unsupported snapshot version {v}"),
            Error::TrailingData => f.write_str("trailing data after the records"),
            Error::BadChecksum => f.write_str("checksum mismatch"),
            Error::BadRecord(why) => write!(f, "corrupted record: {why}"),
            Error::BadCount => f.write_str("record count mismatch"),
        }
    }
}

/// A validated snapshot.
#[derive(Clone, Copy, Debug)]
pub struct Snapshot<'a> {
    pub zone_size: u64,
    pub saved_ms: u64,
    pub count: u64,
    body: &'a [u8],
}

impl<'a> Snapshot<'a> {
    /// The records, oldest first.
    pub fn records(&self) -> Records<'a> {
        Records(Reader(self.body))
    }
}

pub struct Records<'a>(Reader<'a>);

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;
    fn next(&mut self) -> Option<Record<'a>> {
        if self.0 .0.is_empty() {
            return None;
        }
        // decode validated the body: an error cannot happen here, and if it
        // did the iteration simply stops.
        read_record(&mut self.0).ok()
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if n > self.0.len() {
            return Err(Error::Truncated);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, Error> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, Error> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }
    fn u64(&mut self) -> Result<u64, Error> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
}

/// Inside the body, running short is corruption (the body's length and
/// checksum were right).
fn short(e: Error) -> Error {
    match e {
        Error::Truncated => Error::BadRecord("length past the end"),
        e => e,
    }
}

fn read_val<'a>(r: &mut Reader<'a>) -> Result<Val<'a>, Error> {
    let vtype = r.u8().map_err(short)?;
    let len = r.u32().map_err(short)? as usize;
    let data = r.take(len).map_err(short)?;
    match vtype {
        T_BOOLEAN => match data {
            [0] => Ok(Val::Bool(false)),
            [1] => Ok(Val::Bool(true)),
            _ => Err(Error::BadRecord("bad boolean")),
        },
        T_NUMBER => {
            let a: [u8; 8] = data
                .try_into()
                .map_err(|_| Error::BadRecord("bad number"))?;
            Ok(Val::Num(f64::from_le_bytes(a)))
        }
        T_STRING => Ok(Val::Str(data)),
        _ => Err(Error::BadRecord("bad value type")),
    }
}

fn read_record<'a>(r: &mut Reader<'a>) -> Result<Record<'a>, Error> {
    let kind = r.u8().map_err(short)?;
    let key_len = r.u16().map_err(short)? as usize;
    if key_len == 0 {
        return Err(Error::BadRecord("empty key"));
    }
    let key = r.take(key_len).map_err(short)?;
    let flags = r.u32().map_err(short)?;
    let expires = r.u64().map_err(short)?;
    let body = match kind {
        KIND_VALUE => Body::Value(read_val(r)?),
        KIND_LIST => {
            let count = r.u32().map_err(short)?;
            if count == 0 {
                return Err(Error::BadRecord("empty list"));
            }
            let start = r.0;
            for _ in 0..count {
                if let Val::Bool(_) = read_val(r)? {
                    return Err(Error::BadRecord("boolean in a list"));
                }
            }
            let used = start.len() - r.0.len();
            Body::List(Items {
                count,
                data: &start[..used],
            })
        }
        _ => return Err(Error::BadRecord("bad record kind")),
    };
    Ok(Record {
        key,
        flags,
        expires,
        body,
    })
}

/// Checks a whole file and returns its records' view.
pub fn decode(file: &[u8]) -> Result<Snapshot<'_>, Error> {
    let mut r = Reader(file);
    if r.take(MAGIC.len()).map_err(|_| Error::BadMagic)? != MAGIC {
        return Err(Error::BadMagic);
    }
    let version = r.u32()?;
    if version != VERSION {
        return Err(Error::BadVersion(version));
    }
    let zone_size = r.u64()?;
    let saved_ms = r.u64()?;
    let count = r.u64()?;
    let body_len = r.u64()?;
    let sum = r.u64()?;
    let body_len = usize::try_from(body_len).map_err(|_| Error::Truncated)?;
    if body_len > r.0.len() {
        return Err(Error::Truncated);
    }
    if body_len < r.0.len() {
        return Err(Error::TrailingData);
    }
    let body = r.0;
    if checksum(body) != sum {
        return Err(Error::BadChecksum);
    }
    let mut br = Reader(body);
    let mut n: u64 = 0;
    while !br.0.is_empty() {
        read_record(&mut br)?;
        n += 1;
    }
    if n != count {
        return Err(Error::BadCount);
    }
    Ok(Snapshot {
        zone_size,
        saved_ms,
        count,
        body,
    })
}

/// Builds a snapshot in memory: [`Encoder::new`], records, [`Encoder::finish`].
pub struct Encoder {
    buf: Vec<u8>,
    count: u64,
    /// The open list: where its record starts, where its item count is,
    /// and how many items so far.
    list: Option<(usize, usize, u32)>,
}

impl Encoder {
    pub fn new(zone_size: u64, saved_ms: u64) -> Encoder {
        let mut buf = Vec::with_capacity(4096);
        buf.extend_from_slice(MAGIC);
        buf.extend_from_slice(&VERSION.to_le_bytes());
        buf.extend_from_slice(&zone_size.to_le_bytes());
        buf.extend_from_slice(&saved_ms.to_le_bytes());
        buf.extend_from_slice(&[0u8; 24]);
        Encoder {
            buf,
            count: 0,
            list: None,
        }
    }

    /// Reserves room for about `n` more bytes.
    pub fn reserve(&mut self, n: usize) {
        self.buf.reserve(n);
    }

    fn head(&mut self, kind: u8, key: &[u8], flags: u32, expires: u64) -> bool {
        self.end_list();
        let Ok(klen) = u16::try_from(key.len()) else {
            return false;
        };
        if klen == 0 {
            return false;
        }
        self.buf.push(kind);
        self.buf.extend_from_slice(&klen.to_le_bytes());
        self.buf.extend_from_slice(key);
        self.buf.extend_from_slice(&flags.to_le_bytes());
        self.buf.extend_from_slice(&expires.to_le_bytes());
        self.count += 1;
        true
    }

    fn val(&mut self, v: Val<'_>) -> bool {
        let (t, bytes): (u8, &[u8]) = match v {
            Val::Bool(b) => (T_BOOLEAN, if b { &[1] } else { &[0] }),
            Val::Num(n) => {
                self.buf.push(T_NUMBER);
                self.buf.extend_from_slice(&8u32.to_le_bytes());
                self.buf.extend_from_slice(&n.to_le_bytes());
                return true;
            }
            Val::Str(s) => (T_STRING, s),
        };
        let Ok(len) = u32::try_from(bytes.len()) else {
            return false;
        };
        self.buf.push(t);
        self.buf.extend_from_slice(&len.to_le_bytes());
        self.buf.extend_from_slice(bytes);
        true
    }

    /// A plain value; false (nothing written) for a key the format cannot
    /// hold (empty or over 65535 bytes; the store allows neither).
    pub fn value(&mut self, key: &[u8], flags: u32, expires: u64, v: Val<'_>) -> bool {
        if let Val::Str(s) = v {
            if u32::try_from(s.len()).is_err() {
                return false;
            }
        }
        self.head(KIND_VALUE, key, flags, expires) && self.val(v)
    }

    /// Starts a list; its items follow with [`Encoder::item`]. A list that
    /// gets no item is dropped.
    pub fn list(&mut self, key: &[u8], flags: u32, expires: u64) -> bool {
        let mark = self.buf.len();
        if !self.head(KIND_LIST, key, flags, expires) {
            return false;
        }
        self.list = Some((mark, self.buf.len(), 0));
        self.buf.extend_from_slice(&0u32.to_le_bytes());
        true
    }

    /// An item of the current list (numbers and strings only).
    pub fn item(&mut self, v: Val<'_>) -> bool {
        let Some((start, at, n)) = self.list else {
            return false;
        };
        if matches!(v, Val::Bool(_)) || n == u32::MAX || !self.val(v) {
            return false;
        }
        self.list = Some((start, at, n + 1));
        true
    }

    fn end_list(&mut self) {
        if let Some((start, at, n)) = self.list.take() {
            if n == 0 {
                self.buf.truncate(start);
                self.count -= 1;
            } else {
                self.buf[at..at + 4].copy_from_slice(&n.to_le_bytes());
            }
        }
    }

    /// Records written so far (an open list counts).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The file's bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.end_list();
        let body_len = (self.buf.len() - HEADER_LEN) as u64;
        let sum = checksum(&self.buf[HEADER_LEN..]);
        self.buf[28..36].copy_from_slice(&self.count.to_le_bytes());
        self.buf[36..44].copy_from_slice(&body_len.to_le_bytes());
        self.buf[44..52].copy_from_slice(&sum.to_le_bytes());
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut e = Encoder::new(1 << 20, 1234);
        assert!(e.value(b"s", 7, 0, Val::Str(b"hello")));
        assert!(e.value(b"n", 0, 99, Val::Num(-1.5)));
        assert!(e.value(b"b", 1, 0, Val::Bool(true)));
        assert!(e.list(b"l", 0, 5));
        assert!(e.item(Val::Str(b"a")));
        assert!(e.item(Val::Num(2.0)));
        assert!(!e.item(Val::Bool(false)));
        // An empty list is dropped, and the empty key refused.
        assert!(e.list(b"empty", 0, 0));
        assert!(!e.value(b"", 0, 0, Val::Num(1.0)));
        e.finish()
    }

    #[test]
    fn round_trip() {
        let f = sample();
        let s = decode(&f).unwrap();
        assert_eq!((s.zone_size, s.saved_ms, s.count), (1 << 20, 1234, 4));
        let r: Vec<_> = s.records().collect();
        assert_eq!(r.len(), 4);
        assert_eq!((r[0].key, r[0].flags, r[0].expires), (&b"s"[..], 7, 0));
        assert_eq!(r[0].body, Body::Value(Val::Str(b"hello")));
        assert_eq!(r[1].body, Body::Value(Val::Num(-1.5)));
        assert_eq!(r[1].expires, 99);
        assert_eq!(r[2].body, Body::Value(Val::Bool(true)));
        let Body::List(items) = r[3].body else {
            panic!("a list")
        };
        assert_eq!(items.collect::<Vec<_>>(), [Val::Str(b"a"), Val::Num(2.0)]);
        assert_eq!(decode(&Encoder::new(0, 0).finish()).unwrap().count, 0);
    }

    #[test]
    fn every_truncation_and_byte_flip_is_refused() {
        let f = sample();
        for n in 0..f.len() {
            assert!(decode(&f[..n]).is_err(), "truncated to {n}");
        }
        for i in 0..f.len() {
            let mut g = f.clone();
            g[i] ^= 0x40;
            // Flipping a header field that is only informative is fine.
            if (12..28).contains(&i) {
                continue;
            }
            assert!(decode(&g).is_err(), "byte {i} flipped");
        }
        let mut g = f.clone();
        g.push(0);
        assert_eq!(decode(&g).unwrap_err(), Error::TrailingData);
    }

    #[test]
    fn errors_name_the_problem() {
        let f = sample();
        assert_eq!(decode(b"garbage").unwrap_err(), Error::BadMagic);
        let mut g = f.clone();
        g[8] = 2;
        assert_eq!(decode(&g).unwrap_err(), Error::BadVersion(2));
        assert_eq!(decode(&f[..f.len() - 1]).unwrap_err(), Error::Truncated);
        let mut g = f.clone();
        let last = g.len() - 1;
        g[last] ^= 1;
        assert_eq!(decode(&g).unwrap_err(), Error::BadChecksum);
        // A structurally bad body with a right checksum (a crafted file).
        let mut g = f[..HEADER_LEN].to_vec();
        let body = [9u8, 1, 0, b'k'];
        g.extend_from_slice(&body);
        g[28..36].copy_from_slice(&1u64.to_le_bytes());
        g[36..44].copy_from_slice(&(body.len() as u64).to_le_bytes());
        g[44..52].copy_from_slice(&checksum(&body).to_le_bytes());
        assert!(matches!(decode(&g).unwrap_err(), Error::BadRecord(_)));
    }
}

//! The capture buffer's bookkeeping: log records (a 16-byte header of
//! time, length and level, then the message) packed into a fixed byte
//! buffer, oldest dropped first when a new one does not fit. Pure code,
//! over any byte slice.
//!
//! Records never straddle the end of the buffer: when the room after the
//! newest record is too small, writing continues at the start (the bytes
//! left at the end are unused until the reader passes them), as a ring of
//! variable-sized records must.

const HDR: usize = 16;

#[derive(Default, Debug)]
pub struct Ring {
    /// Offset of the oldest record.
    head: usize,
    /// Where the next record goes.
    tail: usize,
    /// The records run from `head` to `end`, then from 0 to `tail`.
    wrapped: bool,
    /// End of the records at the back of the buffer, when wrapped.
    end: usize,
    count: usize,
}

/// One record as read back.
pub struct Record<'a> {
    pub level: u32,
    pub time: f64,
    pub msg: &'a [u8],
}

impl Ring {
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn reset(&mut self) {
        *self = Ring::default();
    }

    /// Stores a message, dropping the oldest ones until it fits; false
    /// (nothing stored) when it could never fit.
    pub fn write(&mut self, buf: &mut [u8], level: u32, time: f64, msg: &[u8]) -> bool {
        let need = HDR + msg.len();
        if need > buf.len() {
            return false;
        }
        loop {
            if self.count == 0 {
                self.reset();
            }
            let room = if self.wrapped {
                self.head - self.tail
            } else {
                buf.len() - self.tail
            };
            if room >= need {
                break;
            }
            if !self.wrapped {
                self.end = self.tail;
                self.tail = 0;
                self.wrapped = true;
            } else {
                self.drop_oldest(buf);
            }
        }
        let at = self.tail;
        buf[at..at + 8].copy_from_slice(&time.to_le_bytes());
        buf[at + 8..at + 12].copy_from_slice(&(msg.len() as u32).to_le_bytes());
        buf[at + 12..at + 16].copy_from_slice(&level.to_le_bytes());
        buf[at + HDR..at + need].copy_from_slice(msg);
        self.tail += need;
        self.count += 1;
        true
    }

    fn record_len(buf: &[u8], at: usize) -> usize {
        let mut n = [0u8; 4];
        n.copy_from_slice(&buf[at + 8..at + 12]);
        HDR + u32::from_le_bytes(n) as usize
    }

    fn advance(&mut self, buf: &[u8]) {
        self.head += Self::record_len(buf, self.head);
        self.count -= 1;
        if self.wrapped && self.head >= self.end {
            self.head = 0;
            self.wrapped = false;
        }
        if self.count == 0 {
            self.reset();
        }
    }

    fn drop_oldest(&mut self, buf: &[u8]) {
        if self.count > 0 {
            self.advance(buf);
        }
    }

    /// Takes the oldest record out; its bytes stay valid until the next
    /// write.
    pub fn read<'a>(&mut self, buf: &'a [u8]) -> Option<Record<'a>> {
        if self.count == 0 {
            return None;
        }
        let at = self.head;
        let len = Self::record_len(buf, at) - HDR;
        let mut t = [0u8; 8];
        t.copy_from_slice(&buf[at..at + 8]);
        let mut l = [0u8; 4];
        l.copy_from_slice(&buf[at + 12..at + 16]);
        self.advance(buf);
        Some(Record {
            level: u32::from_le_bytes(l),
            time: f64::from_le_bytes(t),
            msg: &buf[at + HDR..at + HDR + len],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(r: &mut Ring, buf: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(rec) = r.read(buf) {
            out.push(String::from_utf8(rec.msg.to_vec()).unwrap());
        }
        out
    }

    #[test]
    fn keeps_order_and_fields() {
        let mut buf = vec![0u8; 256];
        let mut r = Ring::default();
        assert!(r.write(&mut buf, 4, 1.5, b"one"));
        assert!(r.write(&mut buf, 5, 2.25, b"two"));
        let a = r.read(&buf).unwrap();
        assert_eq!((a.level, a.time, a.msg), (4, 1.5, &b"one"[..]));
        assert_eq!(drain(&mut r, &buf), ["two"]);
        assert!(r.is_empty());
    }

    #[test]
    fn too_big_is_refused() {
        let mut buf = vec![0u8; 32];
        let mut r = Ring::default();
        assert!(!r.write(&mut buf, 4, 0.0, &[b'x'; 17]));
        assert!(r.write(&mut buf, 4, 0.0, &[b'x'; 16]));
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn drops_oldest_when_full() {
        // room for four 24-byte records
        let mut buf = vec![0u8; 100];
        let mut r = Ring::default();
        for i in 0..10 {
            assert!(r.write(&mut buf, 4, 0.0, format!("msg{i:05}").as_bytes()));
            assert!(r.len() <= 4);
        }
        assert_eq!(
            drain(&mut r, &buf),
            ["msg00006", "msg00007", "msg00008", "msg00009"]
        );
    }

    #[test]
    fn mixed_sizes_wrap_and_stay_intact() {
        let mut buf = vec![0u8; 200];
        let mut r = Ring::default();
        let mut all = Vec::new();
        for i in 0..200usize {
            let m = "y".repeat(i * 7 % 60) + &i.to_string();
            assert!(r.write(&mut buf, (i % 8) as u32, i as f64, m.as_bytes()));
            all.push(m);
            if i % 13 == 0 {
                // a reader taking one now and then
                let rec = r.read(&buf).unwrap();
                assert!(all.iter().any(|m| m.as_bytes() == rec.msg));
            }
        }
        let left = drain(&mut r, &buf);
        // what is left is the newest messages, in order, ending with the last
        assert_eq!(left.last().unwrap(), all.last().unwrap());
        let start = all.len() - left.len();
        assert_eq!(left, all[start..]);
    }
}

//! The receive buffer of a cosocket and the patterns a receive waits for
//! (a line, a size, everything, a delimiter). Pure code: the socket reads
//! into [`RecvBuf::space`] and asks [`RecvBuf::answer`] whether the
//! receive is satisfied.
use crate::nginx::global::Worker;

/// Receive buffers of connections that went away (pooled, closed), for
/// the next connection that receives: a malloc/free pair (and the
/// buffer's room held by a socket that waits for the GC) less per use.
static SPARE: Worker<Vec<Vec<u8>>> = Worker::new();

const SPARE_BUFFERS: usize = 16;

/// Larger buffers (a big `receive("*a")`) are freed rather than kept.
const KEEP_ROOM: usize = 64 * 1024;

/// The worker exits: the spare buffers go.
pub fn on_exit() {
    drop(SPARE.take());
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RecvMode {
    Line,
    All,
    Size(usize),
    Any(usize),
    /// receiveuntil: data before the pattern, at most `size` bytes a call
    /// when `size > 0`.
    Until {
        size: usize,
        inclusive: bool,
    },
}

/// Bytes received and not yet handed out, and how far a pattern search
/// got in them.
#[derive(Default)]
pub struct RecvBuf {
    buf: Vec<u8>,
    /// Start of the bytes not handed out yet.
    pos: usize,
    /// Bytes after `pos` that a line or pattern receive already searched
    /// without a match: the next search starts there instead of at `pos`,
    /// which made a long stream without a delimiter quadratic.
    scanned: usize,
    /// The receiveuntil pattern of the receive under way.
    pub until_pat: Vec<u8>,
    /// The last answer ended at the pattern.
    pub until_found: bool,
}

impl RecvBuf {
    /// Bytes received and not handed out.
    #[inline]
    pub fn pending(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// A new receive (maybe with another pattern) searches afresh.
    #[inline]
    pub fn new_search(&mut self) {
        self.scanned = 0;
    }

    /// Forgets everything (the read half failed).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.pos = 0;
        self.scanned = 0;
    }

    /// Forgets everything and gives the buffer back for another
    /// connection (this one went away).
    pub fn release(&mut self) {
        self.pos = 0;
        self.scanned = 0;
        let mut buf = core::mem::take(&mut self.buf);
        if buf.capacity() == 0 || buf.capacity() > KEEP_ROOM {
            return;
        }
        buf.clear();
        SPARE.with(|s| {
            if s.len() < SPARE_BUFFERS {
                s.push(buf);
            }
        });
    }

    /// How much to read next for `mode`, after making room: bytes handed
    /// out go once they are more than half of the buffer.
    pub fn space(&mut self, mode: RecvMode) -> (&mut Vec<u8>, usize) {
        if self.buf.capacity() == 0 {
            if let Some(b) = SPARE.with(|s| s.pop()) {
                self.buf = b;
            }
        }
        if self.pos > 0 && self.pos * 2 > self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let want = match mode {
            RecvMode::Size(n) => (n - self.pending()).clamp(1, 1 << 16),
            _ => 4096,
        };
        (&mut self.buf, want)
    }

    /// Hands out `n` bytes and skips `skip` more (a delimiter).
    pub fn take(&mut self, n: usize, skip: usize) -> Vec<u8> {
        let mut out = Vec::new();
        self.take_into(n, skip, &mut out);
        out
    }

    /// [`RecvBuf::take`] into `out` (replacing its contents, keeping its
    /// room).
    fn take_into(&mut self, n: usize, skip: usize, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n + skip;
        self.scanned = self.scanned.saturating_sub(n + skip);
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
    }

    /// Hands out everything pending (the partial data of a failure).
    pub fn take_all(&mut self) -> Vec<u8> {
        self.take(self.pending(), 0)
    }

    /// The answer to `mode` from what is buffered, if there is one; `eof`:
    /// the stream ended (only `All` needs to know).
    #[cfg(test)]
    pub fn answer(&mut self, mode: RecvMode, eof: bool) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        self.answer_into(mode, eof, &mut out).then_some(out)
    }

    /// [`RecvBuf::answer`] into `out` (its contents replaced when there is
    /// an answer, left alone otherwise): true when answered.
    pub fn answer_into(&mut self, mode: RecvMode, eof: bool, out: &mut Vec<u8>) -> bool {
        let n_avail = self.pending();
        match mode {
            RecvMode::Line => {
                let from = self.pos + self.scanned;
                let Some(i) = self.buf[from..].iter().position(|&b| b == b'\n') else {
                    self.scanned = n_avail;
                    return false;
                };
                self.take_into(self.scanned + i, 1, out);
                if out.last() == Some(&b'\r') {
                    out.pop();
                }
                true
            }
            RecvMode::Size(n) => {
                let ok = n_avail >= n;
                if ok {
                    self.take_into(n, 0, out);
                }
                ok
            }
            RecvMode::Any(max) => {
                let ok = n_avail > 0;
                if ok {
                    self.take_into(n_avail.min(max), 0, out);
                }
                ok
            }
            RecvMode::All => {
                if eof {
                    self.take_into(n_avail, 0, out);
                }
                eof
            }
            RecvMode::Until { size, inclusive } => {
                let avail = &self.buf[self.pos..];
                let pat = &self.until_pat;
                let plen = pat.len();
                // A match may start in the last plen - 1 bytes searched.
                let from = self.scanned.saturating_sub(plen.saturating_sub(1));
                let found = find(&avail[from..], pat).map(|i| from + i);
                if found.is_none() {
                    self.scanned = avail.len();
                }
                match found {
                    Some(i) if size == 0 || i <= size => {
                        self.until_found = true;
                        if inclusive {
                            self.take_into(i + plen, 0, out)
                        } else {
                            self.take_into(i, plen, out)
                        }
                        true
                    }
                    Some(_) => {
                        self.take_into(size, 0, out);
                        true
                    }
                    None => {
                        // Keep back a tail that could start the pattern.
                        let keep = (1..plen.min(avail.len() + 1))
                            .rev()
                            .find(|&k| avail.ends_with(&pat[..k]))
                            .unwrap_or(0);
                        let safe = avail.len() - keep;
                        let ok = size > 0 && safe >= size;
                        if ok {
                            self.take_into(size, 0, out);
                        }
                        ok
                    }
                }
            }
        }
    }
}

/// First index of `pat` in `hay`.
fn find(hay: &[u8], pat: &[u8]) -> Option<usize> {
    if pat.is_empty() || hay.len() < pat.len() {
        return None;
    }
    hay.windows(pat.len()).position(|w| w == pat)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fed(chunks: &[&[u8]]) -> RecvBuf {
        let mut b = RecvBuf::default();
        for c in chunks {
            b.space(RecvMode::All).0.extend_from_slice(c);
        }
        b
    }

    #[test]
    fn lines_across_reads() {
        let mut b = fed(&[b"ab"]);
        assert_eq!(b.answer(RecvMode::Line, false), None);
        b.space(RecvMode::Line).0.extend_from_slice(b"c\r\nd\n");
        assert_eq!(
            b.answer(RecvMode::Line, false).as_deref(),
            Some(&b"abc"[..])
        );
        assert_eq!(b.answer(RecvMode::Line, false).as_deref(), Some(&b"d"[..]));
        assert_eq!(b.pending(), 0);
    }

    #[test]
    fn sizes_and_any() {
        let mut b = fed(&[b"hello world"]);
        assert_eq!(b.answer(RecvMode::Size(20), false), None);
        assert_eq!(
            b.answer(RecvMode::Size(5), false).as_deref(),
            Some(&b"hello"[..])
        );
        assert_eq!(
            b.answer(RecvMode::Any(3), false).as_deref(),
            Some(&b" wo"[..])
        );
        assert_eq!(b.answer(RecvMode::All, false), None);
        assert_eq!(b.answer(RecvMode::All, true).as_deref(), Some(&b"rld"[..]));
        assert_eq!(
            b.answer(RecvMode::Size(0), false).as_deref(),
            Some(&b""[..])
        );
    }

    #[test]
    fn until_keeps_a_partial_pattern_back() {
        let mut b = fed(&[b"abc--"]);
        b.until_pat = b"--x".to_vec();
        let m = RecvMode::Until {
            size: 3,
            inclusive: false,
        };
        // "abc" is safe to hand out; "--" may start the pattern.
        assert_eq!(b.answer(m, false).as_deref(), Some(&b"abc"[..]));
        assert_eq!(b.answer(m, false), None);
        b.space(m).0.extend_from_slice(b"xtail");
        assert_eq!(b.answer(m, false).as_deref(), Some(&b""[..]));
        assert!(b.until_found);
        assert_eq!(b.take_all(), b"tail");
    }

    #[test]
    fn until_inclusive_across_reads() {
        let mut b = fed(&[b"12\r"]);
        b.until_pat = b"\r\n".to_vec();
        let m = RecvMode::Until {
            size: 0,
            inclusive: true,
        };
        b.new_search();
        assert_eq!(b.answer(m, false), None);
        b.space(m).0.extend_from_slice(b"\n3");
        assert_eq!(b.answer(m, false).as_deref(), Some(&b"12\r\n"[..]));
        assert_eq!(b.pending(), 1);
    }

    #[test]
    fn space_drops_what_was_handed_out() {
        let mut b = fed(&[b"0123456789"]);
        b.take(8, 0);
        let (buf, want) = b.space(RecvMode::Size(5));
        assert_eq!(&buf[..], b"89");
        assert_eq!(want, 3);
    }
}

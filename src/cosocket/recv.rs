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
    /// Bytes after `pos` that a line receive already searched without a
    /// match: the next search starts there instead of at `pos`, which
    /// made a long stream without a newline quadratic.
    scanned: usize,
    /// The receiveuntil iterator that read last, and its match state.
    until: Until,
    /// The last answer ended at the pattern.
    pub until_found: bool,
}

/// A receiveuntil iterator's matcher: upstream's automaton, whose
/// observable behaviour its test suite pins byte for byte (how many bytes
/// a sized call hands out when a partial match fails, which bytes another
/// read sees after one), so it is reproduced rather than replaced by a
/// search over the buffer. Bytes that may start the pattern are consumed
/// into `state`; when the match fails they are handed out as the
/// pattern's first bytes, in one piece, even past the call's size.
#[derive(Default)]
struct Until {
    /// The iterator (lua-lib numbers them from 1; 0: a plain receive).
    owner: u64,
    pat: Vec<u8>,
    /// For a mismatch in state `s >= 2`, `recover[s - 2]` lists the bytes
    /// that continue a shorter partial match, with the state they lead
    /// to; any other byte falls back to state 0.
    recover: Vec<Vec<(u8, usize)>>,
    /// Bytes of the pattern matched so far (consumed from the buffer).
    state: usize,
    /// What this call hands out, gathered over the reads it waits for.
    out: Vec<u8>,
    /// What a sized call may still hand out.
    rest: usize,
}

impl Until {
    /// Upstream's recovery edges for `pat`: for each shift `i`, the longest
    /// prefix that repeats at `i` and then differs gives the state `i +
    /// len` a way back to `len + 1` on the pattern's byte after that
    /// prefix.
    fn compile(&mut self, pat: &[u8]) {
        self.pat.clear();
        self.pat.extend_from_slice(pat);
        self.recover.iter_mut().for_each(Vec::clear);
        let n = pat.len();
        if n <= 2 {
            return;
        }
        self.recover.resize_with(n - 2, Vec::new);
        for i in 1..n {
            let mut len = 1;
            while len < n - i && pat[..len] == pat[i..i + len] {
                if pat[len] == pat[i + len] {
                    len += 1;
                    continue;
                }
                let (from, to, chr) = (i + len, len + 1, pat[len]);
                let edges = &mut self.recover[from - 2];
                match edges.iter_mut().find(|e| e.0 == chr) {
                    Some(e) => e.1 = e.1.max(to),
                    None => edges.push((chr, to)),
                }
                break;
            }
        }
    }
}

/// The state a mismatch on `c` in state `s` leads to, if a shorter partial
/// match goes on.
fn recover(edges: &[Vec<(u8, usize)>], s: usize, c: u8) -> Option<usize> {
    if s < 2 {
        return None;
    }
    edges[s - 2].iter().find(|e| e.0 == c).map(|e| e.1)
}

/// Hands out `n` more bytes of a call with `rest` left of its size
/// (`sized`); true when that was the last of it (all `n` go out, as
/// upstream's do).
#[inline]
fn spend(sized: bool, rest: &mut usize, n: usize) -> bool {
    if !sized {
        return false;
    }
    if *rest <= n {
        *rest = 0;
        return true;
    }
    *rest -= n;
    false
}

impl RecvBuf {
    /// Bytes received and not handed out.
    #[inline]
    pub fn pending(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// A new receive in `mode` starts. Any other read than the
    /// receiveuntil iterator that read last first gets back the bytes
    /// that iterator held as a partial match, as upstream does since
    /// v0.10.26.
    pub fn start(&mut self, mode: RecvMode) {
        self.scanned = 0;
        if let RecvMode::Until { size, .. } = mode {
            self.until.out.clear();
            self.until.rest = size;
        } else {
            self.give_back();
            self.until.owner = 0;
        }
    }

    /// The receiveuntil iterator `owner` (never 0) with pattern `pat` reads
    /// next.
    pub fn set_until(&mut self, owner: u64, pat: &[u8]) {
        if owner == self.until.owner && pat == self.until.pat {
            return;
        }
        self.give_back();
        self.until.owner = owner;
        self.until.compile(pat);
    }

    /// Puts the bytes the last iterator holds as a partial match back in
    /// front of the unread ones.
    fn give_back(&mut self) {
        let k = core::mem::take(&mut self.until.state);
        if k == 0 {
            return;
        }
        let held = &self.until.pat[..k];
        if self.pos >= k {
            self.pos -= k;
            self.buf[self.pos..self.pos + k].copy_from_slice(held);
        } else {
            self.buf.splice(self.pos..self.pos, held.iter().copied());
        }
    }

    /// What a receive in `mode` that failed hands out: what it gathered
    /// (a receiveuntil call: not the bytes held as a partial match, which
    /// stay with the iterator), or everything buffered.
    pub fn take_partial(&mut self, mode: RecvMode) -> Vec<u8> {
        if let RecvMode::Until { .. } = mode {
            return core::mem::take(&mut self.until.out);
        }
        self.take_all()
    }

    /// Forgets everything (the read half failed).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.pos = 0;
        self.scanned = 0;
        self.until.state = 0;
        self.until.owner = 0;
    }

    /// Forgets everything and gives the buffer back for another
    /// connection (this one went away).
    pub fn release(&mut self) {
        self.pos = 0;
        self.scanned = 0;
        self.until.state = 0;
        self.until.owner = 0;
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
                if !self.feed_until(size > 0, inclusive) {
                    return false;
                }
                core::mem::swap(out, &mut self.until.out);
                self.until.out.clear();
                true
            }
        }
    }

    /// Runs the buffered bytes through the receiveuntil matcher (as
    /// upstream's `ngx_http_lua_socket_read_until`): true when the call
    /// has its answer in `until.out` (the pattern, or a sized call's
    /// size), false when every byte was consumed and more must be read.
    fn feed_until(&mut self, sized: bool, inclusive: bool) -> bool {
        let Until {
            pat,
            recover: edges,
            state,
            out,
            rest,
            ..
        } = &mut self.until;
        let avail = &self.buf[self.pos..];
        let pat = &pat[..];
        if pat.is_empty() {
            return false;
        }
        let mut s = *state;
        let mut i = 0;
        let mut answered = false;
        while i < avail.len() {
            let c = avail[i];
            if c == pat[s] {
                i += 1;
                s += 1;
                if s == pat.len() {
                    if inclusive {
                        out.extend_from_slice(pat);
                    }
                    self.until_found = true;
                    s = 0;
                    answered = true;
                    break;
                }
                continue;
            }
            if s == 0 {
                // A run of bytes that cannot start the pattern.
                let end = avail[i..]
                    .iter()
                    .position(|&b| b == pat[0])
                    .map_or(avail.len(), |k| i + k);
                let mut n = end - i;
                if sized && n >= *rest {
                    n = *rest;
                    answered = true;
                }
                out.extend_from_slice(&avail[i..i + n]);
                i += n;
                if answered {
                    *rest = 0;
                    break;
                }
                if sized {
                    *rest -= n;
                }
                continue;
            }
            match recover(edges, s, c) {
                // The partial match goes out; `c` is looked at again.
                None => {
                    out.extend_from_slice(&pat[..s]);
                    answered = spend(sized, rest, s);
                    s = 0;
                }
                // A shorter partial match goes on with `c`.
                Some(to) => {
                    let n = s + 1 - to;
                    out.extend_from_slice(&pat[..n]);
                    i += 1;
                    s = to;
                    answered = spend(sized, rest, n);
                }
            }
            if answered {
                break;
            }
        }
        *state = s;
        self.pos += i;
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        answered
    }
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

    fn until(size: usize) -> RecvMode {
        RecvMode::Until {
            size,
            inclusive: false,
        }
    }

    /// One iterator call: its answer and whether it ended at the pattern.
    fn call(b: &mut RecvBuf, m: RecvMode) -> Option<(Vec<u8>, bool)> {
        b.until_found = false;
        b.start(m);
        b.answer(m, false).map(|d| (d, b.until_found))
    }

    #[test]
    fn until_keeps_a_partial_pattern_back() {
        let mut b = fed(&[b"abc--"]);
        b.set_until(1, b"--x");
        let m = until(3);
        // "abc" is safe to hand out; "--" may start the pattern.
        assert_eq!(call(&mut b, m), Some((b"abc".to_vec(), false)));
        assert_eq!(call(&mut b, m), None);
        b.space(m).0.extend_from_slice(b"xtail");
        assert_eq!(b.answer(m, false).as_deref(), Some(&b""[..]));
        assert!(b.until_found);
        assert_eq!(b.take_all(), b"tail");
    }

    #[test]
    fn until_inclusive_across_reads() {
        let mut b = fed(&[b"12\r"]);
        b.set_until(1, b"\r\n");
        let m = RecvMode::Until {
            size: 0,
            inclusive: true,
        };
        b.start(m);
        assert_eq!(b.answer(m, false), None);
        b.space(m).0.extend_from_slice(b"\n3");
        assert_eq!(b.answer(m, false).as_deref(), Some(&b"12\r\n"[..]));
        assert_eq!(b.pending(), 1);
    }

    #[test]
    fn until_sized_hands_out_a_failed_partial_match_whole() {
        // "ab1ab" matched, then '1' leaves "ab1" as the partial match:
        // "ab1" goes out in one piece although the call asked for 2.
        let mut b = fed(&[b"ab1ab1\n"]);
        b.set_until(1, b"ab1ab2");
        assert_eq!(call(&mut b, until(2)), Some((b"ab1".to_vec(), false)));
        // Another read gets the held "ab1" back.
        b.start(RecvMode::Size(3));
        assert_eq!(
            b.answer(RecvMode::Size(3), false).as_deref(),
            Some(&b"ab1"[..])
        );
        assert_eq!(b.take_all(), b"\n");
    }

    #[test]
    fn until_other_reads_see_held_bytes() {
        let mut b = fed(&[b"----abc----abc-\n"]);
        b.set_until(7, b"--abc");
        let one = RecvMode::Size(1);
        let mut got = Vec::new();
        for _ in 0..4 {
            let (d, found) = call(&mut b, until(2)).unwrap();
            got.push(d);
            if found {
                break;
            }
            b.start(one);
            got.push(b.answer(one, false).unwrap());
            b.set_until(7, b"--abc");
        }
        let got: Vec<&[u8]> = got.iter().map(|v| &v[..]).collect();
        let want: [&[u8]; 7] = [b"--", b"-", b"-a", b"b", b"c-", b"-", b""];
        assert_eq!(got, want);
        assert_eq!(b.take_all(), b"-\n");
    }

    #[test]
    fn until_another_iterator_starts_from_held_bytes() {
        let mut b = fed(&[b"xaa"]);
        b.set_until(1, b"aac");
        assert_eq!(call(&mut b, until(1)), Some((b"x".to_vec(), false)));
        // "aa" is held as a partial match.
        assert_eq!(call(&mut b, until(0)), None);
        assert_eq!(b.pending(), 0);
        b.set_until(2, b"ab");
        assert_eq!(call(&mut b, until(0)), None);
        b.space(until(0)).0.push(b'b');
        assert_eq!(b.answer(until(0), false).as_deref(), Some(&b"a"[..]));
        assert!(b.until_found);
    }

    #[test]
    fn until_matches_the_naive_split() {
        // Every pattern and stream over {a, b} up to 5 and 9 bytes, fed
        // one byte at a time: the pieces between the pattern's
        // non-overlapping occurrences.
        for plen in 1..=5u32 {
            for p in 0..1u32 << plen {
                let pat: Vec<u8> = (0..plen).map(|k| b'a' + (p >> k & 1) as u8).collect();
                for tlen in 0..=9u32 {
                    for t in 0..1u32 << tlen {
                        let text: Vec<u8> = (0..tlen).map(|k| b'a' + (t >> k & 1) as u8).collect();
                        let mut want = Vec::new();
                        let mut q = 0;
                        while let Some(i) = text[q..].windows(pat.len()).position(|w| w == &pat[..])
                        {
                            want.push(text[q..q + i].to_vec());
                            q += i + pat.len();
                        }
                        let mut b = RecvBuf::default();
                        b.set_until(1, &pat);
                        b.start(until(0));
                        let mut got = Vec::new();
                        for &c in &text {
                            b.space(until(0)).0.push(c);
                            if let Some(d) = b.answer(until(0), false) {
                                got.push(d);
                                b.start(until(0));
                            }
                        }
                        assert_eq!(got, want, "{pat:?} in {text:?}");
                    }
                }
            }
        }
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

//! receiveuntil's search over a cosocket's receive buffer
//! (src/cosocket/recv.rs): a stream that arrives split at arbitrary
//! points, read with an iterator of pattern `pat` (optionally in chunks of
//! about `size` bytes), must yield exactly the pieces of the stream between
//! non-overlapping occurrences of `pat`, each chunk at most `size` bytes
//! plus a failed partial match (upstream's automaton hands one out whole),
//! and hold back nothing but a partial match. Lines (`*l`) likewise.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/cosocket/recv.rs"]
#[allow(dead_code)]
mod recv;

use recv::{RecvBuf, RecvMode};

/// What recv.rs takes from the crate: its spare-buffer list is a
/// `nginx::global::Worker`, here a plain per-thread cell.
mod nginx {
    pub mod global {
        use std::cell::RefCell;

        pub struct Worker<T>(RefCell<Option<T>>);

        // SAFETY: the fuzzer runs the target on one thread.
        unsafe impl<T> Sync for Worker<T> {}

        impl<T: Default> Worker<T> {
            pub const fn new() -> Self {
                Worker(RefCell::new(None))
            }

            pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
                f(self.0.borrow_mut().get_or_insert_with(T::default))
            }

            pub fn take(&self) -> Option<T> {
                self.0.borrow_mut().take()
            }
        }
    }
}

/// `RecvBuf::answer` (a unit-test helper of the crate).
fn answer(b: &mut RecvBuf, mode: RecvMode) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    b.answer_into(mode, false, &mut out).then_some(out)
}

/// First index of `pat` in `hay` (the naive answer).
fn find(hay: &[u8], pat: &[u8]) -> Option<usize> {
    if pat.is_empty() || hay.len() < pat.len() {
        return None;
    }
    hay.windows(pat.len()).position(|w| w == pat)
}

/// Feeds `stream` in pieces of 1..=8 bytes (sizes from `cuts`), calling
/// `answer` after each piece as the socket does after a read.
fn feed(stream: &[u8], cuts: u8, buf: &mut RecvBuf, mut answer: impl FnMut(&mut RecvBuf)) {
    let (mut fed, mut k) = (0usize, 0u32);
    while fed < stream.len() {
        k += 1;
        let n = ((cuts as u32).wrapping_mul(k).rotate_left(k % 7) % 8 + 1) as usize;
        let end = (fed + n).min(stream.len());
        let (v, _) = buf.space(RecvMode::Any(8));
        v.extend_from_slice(&stream[fed..end]);
        fed = end;
        answer(buf);
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let plen = data[0] as usize % 6 + 1;
    let size = data[1] as usize % 8; // 0: no size
    let cuts = data[2];
    let rest = &data[3..];
    if rest.len() < plen {
        return;
    }
    // A small alphabet so the pattern occurs and overlaps often.
    let pat: Vec<u8> = rest[..plen].iter().map(|b| b'a' + b % 3).collect();
    let stream: Vec<u8> = rest[plen..].iter().map(|b| b'a' + b % 3).collect();

    // The naive answer: split the whole stream at each occurrence.
    let mut want: Vec<Vec<u8>> = Vec::new();
    let mut p = 0;
    while let Some(i) = find(&stream[p..], &pat) {
        want.push(stream[p..p + i].to_vec());
        p += i + plen;
    }

    // The incremental one, with the iterator's mode.
    let mode = RecvMode::Until { size, inclusive: false };
    let mut b = RecvBuf::default();
    b.set_until(1, &pat);
    b.start(mode);
    let (mut got, mut cur): (Vec<Vec<u8>>, Vec<u8>) = (Vec::new(), Vec::new());
    feed(&stream, cuts, &mut b, |b| {
        loop {
            b.until_found = false;
            let Some(piece) = answer(b, mode) else {
                // Waiting: everything buffered went into the partial
                // answer or the partial match.
                assert_eq!(b.pending(), 0, "held back too much");
                break;
            };
            assert!(size == 0 || piece.len() < size + plen);
            cur.extend_from_slice(&piece);
            if b.until_found {
                got.push(std::mem::take(&mut cur));
            }
            b.start(mode);
        }
    });
    assert_eq!(got, want);
    // What is left unfound is the stream's tail after the last pattern:
    // the partial answer, then the partial match, which a plain read gets
    // back.
    cur.extend_from_slice(&b.take_partial(mode));
    b.start(RecvMode::All);
    cur.extend_from_slice(&b.take_all());
    assert_eq!(cur, &stream[p..]);

    // Lines: the same stream with the pattern's first byte as "\n".
    let nl = pat[0];
    let text: Vec<u8> = stream.iter().map(|&c| if c == nl { b'\n' } else { c }).collect();
    let want_lines: Vec<&[u8]> = text.split(|&c| c == b'\n').collect();
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut b = RecvBuf::default();
    feed(&text, cuts, &mut b, |b| {
        while let Some(line) = answer(b, RecvMode::Line) {
            lines.push(line);
        }
    });
    assert_eq!(lines.len(), want_lines.len() - 1);
    for (got, want) in lines.iter().zip(&want_lines) {
        assert_eq!(got.as_slice(), *want);
    }
});

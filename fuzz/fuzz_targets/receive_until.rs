//! receiveuntil's search (src/cosocket/receive_until.rs): a stream that
//! arrives split at arbitrary points, read with an iterator of pattern
//! `pat` (optionally in chunks of `size` bytes), must yield exactly the
//! pieces of the stream between non-overlapping occurrences of `pat`,
//! each chunk at most `size` bytes, and hold back nothing that is ready.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/cosocket/receive_until.rs"]
#[allow(dead_code)]
mod receive_until;

use receive_until::{find, step, Step};

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

    // The incremental one: bytes arrive in pieces of 1..=8 bytes.
    let mut got: Vec<Vec<u8>> = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    let (mut buf, mut pos, mut fed) = (Vec::new(), 0usize, 0usize);
    let mut k = 0u32;
    while fed < stream.len() {
        k += 1;
        let n = ((cuts as u32).wrapping_mul(k).rotate_left(k % 7) % 8 + 1) as usize;
        let end = (fed + n).min(stream.len());
        buf.extend_from_slice(&stream[fed..end]);
        fed = end;
        loop {
            match step(&buf[pos..], &pat, size) {
                Step::Found(i) => {
                    assert!(size == 0 || i <= size);
                    cur.extend_from_slice(&buf[pos..pos + i]);
                    got.push(std::mem::take(&mut cur));
                    pos += i + plen;
                }
                Step::Chunk(n) => {
                    assert!(size > 0 && n == size && pos + n <= buf.len());
                    cur.extend_from_slice(&buf[pos..pos + n]);
                    pos += n;
                }
                Step::Wait => {
                    let left = buf.len() - pos;
                    // waiting with a full chunk ready only when it may start the pattern
                    if size > 0 && left >= size + plen {
                        panic!("held back {left} bytes with size {size}");
                    }
                    break;
                }
            }
        }
    }
    assert_eq!(got, want);
    // What is left unfound is the stream's tail after the last pattern.
    cur.extend_from_slice(&buf[pos..]);
    assert_eq!(cur, &stream[p..]);
});

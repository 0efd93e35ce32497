//! The pattern search of `tcpsock:receiveuntil`: what the iterator can
//! answer from the bytes buffered so far. Pure logic (no nginx), so the
//! fuzz target in `fuzz/` checks it against a search over the whole input.

/// The answer for the buffered bytes.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Step {
    /// The pattern starts this many bytes in: the data before it is ready.
    Found(usize),
    /// No pattern within reach yet, but this many bytes (the `size` of a
    /// chunked read) can be handed out: none of them can start it.
    Chunk(usize),
    /// Read more.
    Wait,
}

/// First index of `pat` in `hay`.
pub fn find(hay: &[u8], pat: &[u8]) -> Option<usize> {
    if pat.is_empty() || hay.len() < pat.len() {
        return None;
    }
    hay.windows(pat.len()).position(|w| w == pat)
}

/// Decides from `avail` (buffered, unread bytes) for the pattern `pat`;
/// `size > 0` asks for chunks of at most `size` bytes.
pub fn step(avail: &[u8], pat: &[u8], size: usize) -> Step {
    match find(avail, pat) {
        Some(i) if size == 0 || i <= size => Step::Found(i),
        Some(_) => Step::Chunk(size),
        None => {
            // Keep back a tail that could start the pattern.
            let keep = (1..pat.len().min(avail.len() + 1))
                .rev()
                .find(|&k| avail.ends_with(&pat[..k]))
                .unwrap_or(0);
            let safe = avail.len() - keep;
            if size > 0 && safe >= size {
                Step::Chunk(size)
            } else {
                Step::Wait
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn found_waits_and_chunks() {
        assert_eq!(step(b"abc--x", b"--", 0), Step::Found(3));
        assert_eq!(step(b"abc-", b"--", 0), Step::Wait);
        assert_eq!(step(b"abcdef-", b"--", 4), Step::Chunk(4));
        // the held-back "-" may start the pattern: not handed out
        assert_eq!(step(b"abcd-", b"--", 5), Step::Wait);
        assert_eq!(step(b"abcdef--", b"--", 2), Step::Chunk(2));
        assert_eq!(step(b"--", b"--", 2), Step::Found(0));
    }
}

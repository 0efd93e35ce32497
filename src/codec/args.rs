//! `ngx.decode_args`: upstream's query-string splitter. Keys and values are
//! unescaped as URI components; a key without `=` gets the value `true`;
//! pairs with an empty key are dropped (but still count towards `max`).

use super::uri::unescape;

/// One decoded pair: the key at `dst[key.0..key.1]`, the value at
/// `dst[v.0..v.1]` or `None` for a bare key (`true`).
pub type Pair = ((usize, usize), Option<(usize, usize)>);

/// Upper bound of the pairs `decode` can report for `src`.
pub fn max_pairs(src: &[u8]) -> usize {
    src.iter().filter(|&&c| c == b'&').count() + 1
}

/// Decodes `src`, writing unescaped keys and values into `dst` (at least
/// `src.len()` bytes) and calling `emit` for each pair with a non-empty key.
/// `max` > 0 stops after that many `&`-terminated pairs; returns whether it
/// stopped early ("truncated").
pub fn decode(src: &[u8], dst: &mut [u8], max: usize, mut emit: impl FnMut(Pair)) -> bool {
    let mut d = 0usize;
    let mut count = 0usize;
    let put = |seg: &[u8], dst: &mut [u8], d: &mut usize| {
        let start = *d;
        *d += unescape(seg, &mut dst[start..]);
        (start, *d)
    };
    let mut rest = src;
    loop {
        let (seg, more) = match rest.iter().position(|&c| c == b'&') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        // A trailing empty segment ("a=1&") is not a pair.
        if more.is_some() || !seg.is_empty() {
            let pair = match seg.iter().position(|&c| c == b'=') {
                Some(i) => {
                    let k = put(&seg[..i], dst, &mut d);
                    (k, Some(put(&seg[i + 1..], dst, &mut d)))
                }
                None => (put(seg, dst, &mut d), None),
            };
            if pair.0 .1 > pair.0 .0 {
                emit(pair);
            }
        }
        let Some(next) = more else {
            return false;
        };
        count += 1;
        if max > 0 && count == max {
            return true;
        }
        rest = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &str, max: usize) -> (Vec<(String, Option<String>)>, bool) {
        let mut dst = vec![0; s.len()];
        let mut pairs = Vec::new();
        let t = decode(s.as_bytes(), &mut dst, max, |p| pairs.push(p));
        let text = |r: (usize, usize)| String::from_utf8_lossy(&dst[r.0..r.1]).into_owned();
        (
            pairs
                .into_iter()
                .map(|(k, v)| (text(k), v.map(text)))
                .collect(),
            t,
        )
    }

    fn kv(k: &str, v: Option<&str>) -> (String, Option<String>) {
        (k.into(), v.map(Into::into))
    }

    #[test]
    fn basic() {
        let (p, t) = run("a=1&b&c=&d=x%20y+z&=e&&f=g=h", 100);
        assert!(!t);
        assert_eq!(
            p,
            vec![
                kv("a", Some("1")),
                kv("b", None),
                kv("c", Some("")),
                kv("d", Some("x y z")),
                kv("f", Some("g=h"))
            ]
        );
    }

    #[test]
    fn max_counts_terminated_pairs() {
        assert_eq!(
            run("a=1&b=2", 2),
            (vec![kv("a", Some("1")), kv("b", Some("2"))], false)
        );
        assert_eq!(
            run("a=1&b=2&", 2),
            (vec![kv("a", Some("1")), kv("b", Some("2"))], true)
        );
        assert_eq!(run("a=1&b=2&c=3", 1), (vec![kv("a", Some("1"))], true));
        assert!(run("&&&a", 2).1);
        assert_eq!(run("a&b&c", 0).0.len(), 3);
    }

    #[test]
    fn empty_and_odd() {
        assert_eq!(run("", 100).0, vec![]);
        assert_eq!(run("&", 100).0, vec![]);
        assert_eq!(run("=", 100).0, vec![]);
        assert_eq!(run("%3D=%26", 100).0, vec![kv("=", Some("&"))]);
        assert_eq!(run("a=%", 100).0, vec![kv("a", Some("%"))]);
    }
}

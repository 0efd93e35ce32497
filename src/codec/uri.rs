//! `ngx.escape_uri` / `ngx.unescape_uri`: upstream's escape tables (types
//! 0..=6) and its lenient unescaper (`+` becomes a space, a `%` not followed
//! by two hex digits is kept as is).

/// Escape types, as numbered by upstream (`ngx.escape_uri(s, type)`).
pub const ESCAPE_URI: usize = 0;
pub const ESCAPE_ARGS: usize = 1;
pub const ESCAPE_URI_COMPONENT: usize = 2;
pub const ESCAPE_HTML: usize = 3;
pub const ESCAPE_REFRESH: usize = 4;
pub const ESCAPE_MEMCACHED: usize = 5;
pub const ESCAPE_MAIL_AUTH: usize = 6;

/// A 256-bit set of bytes that must be escaped.
type Set = [u32; 8];

/// Builds a set from the bytes listed, plus every byte `< 0x20` and
/// (when `high`) every byte `>= 0x7f`.
const fn set(listed: &[u8], ctl: bool, high: bool) -> Set {
    let mut s = [0u32; 8];
    let mut b = 0usize;
    while b < 256 {
        let hit = (ctl && b < 0x20) || (high && b >= 0x7f);
        if hit {
            s[b >> 5] |= 1 << (b & 31);
        }
        b += 1;
    }
    let mut i = 0;
    while i < listed.len() {
        let c = listed[i] as usize;
        s[c >> 5] |= 1 << (c & 31);
        i += 1;
    }
    s
}

/// Everything but ALPHA, DIGIT and `-._~!'()*`.
const fn component() -> Set {
    let mut s = set(b"", true, true);
    let mut b = 0x20usize;
    while b < 0x7f {
        let c = b as u8;
        let keep = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.' | b'_' | b'~' | b'!' | b'\'' | b'(' | b')' | b'*'
            );
        if !keep {
            s[b >> 5] |= 1 << (b & 31);
        }
        b += 1;
    }
    s
}

static TABLES: [Set; 7] = [
    set(b" #%?", true, true),
    set(b" #%+?", true, true),
    component(),
    set(b" #\"%'", true, true),
    // upstream's refresh table leaves `%` alone despite its comment.
    set(b" \"'", true, true),
    // memcached and mail_auth: space, `%` and control bytes only.
    set(b" %", true, false),
    set(b" %", true, false),
];

const HEX: &[u8; 16] = b"0123456789ABCDEF";

#[inline]
fn needs(t: &Set, c: u8) -> bool {
    t[(c >> 5) as usize] & (1 << (c & 31)) != 0
}

/// Length of `src` escaped with `kind` (`kind` must be `0..=6`).
pub fn escaped_len(src: &[u8], kind: usize) -> usize {
    let t = &TABLES[kind];
    src.len() + 2 * src.iter().filter(|&&c| needs(t, c)).count()
}

/// Escapes `src` into `dst` (at least `escaped_len` bytes); returns the
/// number of bytes written.
pub fn escape(src: &[u8], dst: &mut [u8], kind: usize) -> usize {
    let t = &TABLES[kind];
    let mut n = 0;
    for &c in src {
        if needs(t, c) {
            dst[n] = b'%';
            dst[n + 1] = HEX[(c >> 4) as usize];
            dst[n + 2] = HEX[(c & 15) as usize];
            n += 3;
        } else {
            dst[n] = c;
            n += 1;
        }
    }
    n
}

/// The value of one hex digit.
#[inline]
pub fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Unescapes a URI component into `dst` (at least `src.len()` bytes);
/// returns the number of bytes written (never more than `src.len()`).
pub fn unescape(src: &[u8], dst: &mut [u8]) -> usize {
    let mut i = 0;
    let mut n = 0;
    while i < src.len() {
        let c = src[i];
        i += 1;
        dst[n] = match c {
            b'%' => match (
                src.get(i).and_then(|&h| hex(h)),
                src.get(i + 1).and_then(|&l| hex(l)),
            ) {
                (Some(h), Some(l)) => {
                    i += 2;
                    h << 4 | l
                }
                _ => b'%',
            },
            b'+' => b' ',
            _ => c,
        };
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(s: &[u8], kind: usize) -> Vec<u8> {
        let mut out = vec![0; escaped_len(s, kind)];
        let n = escape(s, &mut out, kind);
        assert_eq!(n, out.len());
        out
    }

    fn unesc(s: &[u8]) -> Vec<u8> {
        let mut out = vec![0; s.len()];
        let n = unescape(s, &mut out);
        out.truncate(n);
        out
    }

    #[test]
    fn component_keeps_unreserved() {
        assert_eq!(esc(b"a-b.c_d~e!f'g(h)i*j", 2), b"a-b.c_d~e!f'g(h)i*j");
        assert_eq!(esc(b"a b/c?d=e&f+g", 2), b"a%20b%2Fc%3Fd%3De%26f%2Bg");
        assert_eq!(esc("\u{e9}".as_bytes(), 2), b"%C3%A9");
        assert_eq!(
            esc(b"\x00\x7f[]{}|\\^`@#$%,;:<>\"", 2),
            b"%00%7F%5B%5D%7B%7D%7C%5C%5E%60%40%23%24%25%2C%3B%3A%3C%3E%22"
        );
    }

    #[test]
    fn uri_type_zero() {
        assert_eq!(esc(b"/a b?c#d%e&f=g+h", 0), b"/a%20b%3Fc%23d%25e&f=g+h");
        assert_eq!(esc(b"\x01\x80~\x7f", 0), b"%01%80~%7F");
        assert_eq!(esc(b"%\"' ", 4), b"%%22%27%20");
        assert_eq!(esc(b"a+b", 1), b"a%2Bb");
        assert_eq!(esc(b"<'\">", 3), b"<%27%22>");
        assert_eq!(esc(b"a b\xff", 5), b"a%20b\xff");
    }

    #[test]
    fn unescape_is_lenient() {
        assert_eq!(unesc(b"b%20r56+7"), b"b r56 7");
        assert_eq!(unesc(b"%"), b"%");
        assert_eq!(unesc(b"%4"), b"%4");
        assert_eq!(unesc(b"%zz%41%6a%6A"), b"%zzAjj");
        assert_eq!(unesc(b"%%41"), b"%A");
        assert_eq!(unesc(b""), b"");
    }

    #[test]
    fn roundtrip_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(unesc(&esc(&all, 2)), all);
    }
}

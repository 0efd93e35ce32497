//! Pure byte-level helpers of the request/response API: header escaping,
//! URI checks and query-string parsing. No nginx types, so `cargo test`
//! covers them.
use crate::codec::uri;
use std::borrow::Cow;

/// Bytes a header name escapes: controls, space, separators and
/// non-ASCII. A table, because `ngx.header` and `ngx.req.set_header` check
/// every byte of every name: `<[u8]>::contains` on the separator list is a
/// `memchr` call per byte (2,000 instructions per request in the
/// api-heavy benchmark).
static NAME_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = c <= 0x20 || c >= 0x7f;
        c += 1;
    }
    let seps = b"\"(),/:;<=>?@[\\]{}";
    let mut i = 0;
    while i < seps.len() {
        t[seps[i] as usize] = true;
        i += 1;
    }
    t
};

/// Header names: controls, space, separators and non-ASCII are escaped.
#[inline]
fn name_needs_escape(c: u8) -> bool {
    NAME_ESCAPE[c as usize]
}

/// Header values: controls other than horizontal tab, and DEL.
#[inline]
fn value_needs_escape(c: u8) -> bool {
    (c < 0x20 && c != b'\t') || c == 0x7f
}

/// Query strings given to `ngx.req.set_uri_args`: controls, space, DEL
/// (they would end or split the request line when proxied).
fn args_needs_escape(c: u8) -> bool {
    c <= 0x20 || c == 0x7f
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Percent-escapes the bytes of `s` that `bad` selects; borrows when there
/// are none.
fn percent_escape(s: &[u8], bad: impl Fn(u8) -> bool) -> Cow<'_, [u8]> {
    let n = s.iter().filter(|&&c| bad(c)).count();
    if n == 0 {
        return Cow::Borrowed(s);
    }
    let mut out = Vec::with_capacity(s.len() + 2 * n);
    for &c in s {
        if bad(c) {
            out.extend_from_slice(&[b'%', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]]);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Percent-escapes the bytes of a header name or value that could split
/// or smuggle a header (CR, LF, other controls; separators in names), as
/// upstream does instead of rejecting them.
pub fn escape_header(s: &[u8], is_name: bool) -> Cow<'_, [u8]> {
    if is_name {
        percent_escape(s, name_needs_escape)
    } else {
        percent_escape(s, value_needs_escape)
    }
}

/// Escapes a query string for `ngx.req.set_uri_args`, as upstream does.
pub fn escape_args(s: &[u8]) -> Cow<'_, [u8]> {
    percent_escape(s, args_needs_escape)
}

/// The first byte that must not appear in a URI given to
/// `ngx.req.set_uri` (without `binary`) or `ngx.redirect`: controls other
/// than horizontal tab, and DEL (upstream's table).
pub fn unsafe_uri_byte(s: &[u8]) -> Option<u8> {
    s.iter().copied().find(|&c| value_needs_escape(c))
}

/// A Host header value as nginx keeps it in `headers_in.server`: without
/// the port and a trailing dot, lower case; `None` when nginx would refuse
/// it (empty, `..`, a NUL or a slash). Upstream's rules.
pub fn validate_host(h: &[u8]) -> Option<Vec<u8>> {
    let mut dot_pos: Option<usize> = None;
    let mut host_len = h.len();
    // 0: usual, 1: inside an IPv6 literal, 2: past the host part
    let mut state = 0;
    for (i, &c) in h.iter().enumerate() {
        match c {
            b'.' => {
                if i > 0 && dot_pos == Some(i - 1) {
                    return None;
                }
                dot_pos = Some(i);
            }
            b':' if state == 0 => {
                host_len = i;
                state = 2;
            }
            b'[' if i == 0 => state = 1,
            b']' if state == 1 => {
                host_len = i + 1;
                state = 2;
            }
            b'\0' | b'/' => return None,
            _ => {}
        }
    }
    if host_len > 0 && dot_pos == Some(host_len - 1) {
        host_len -= 1;
    }
    if host_len == 0 {
        return None;
    }
    Some(h[..host_len].to_ascii_lowercase())
}

/// Escapes bytes for an error message: non-printables as `\xHH`.
pub fn escape_log(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s {
        if (0x20..0x7f).contains(&c) && c != b'\\' && c != b'"' {
            out.push(c as char);
        } else {
            out.push_str(&format!("\\x{c:02X}"));
        }
    }
    out
}

/// Decodes `%XX` and `+` (a space) in place; returns the new length.
/// Malformed escapes are kept as they are.
pub fn unescape_component(buf: &mut [u8]) -> usize {
    let (mut i, mut o) = (0, 0);
    while i < buf.len() {
        let c = buf[i];
        if c == b'%' && i + 2 < buf.len() {
            if let (Some(h), Some(l)) = (uri::hex(buf[i + 1]), uri::hex(buf[i + 2])) {
                buf[o] = h << 4 | l;
                o += 1;
                i += 3;
                continue;
            }
        }
        buf[o] = if c == b'+' { b' ' } else { c };
        o += 1;
        i += 1;
    }
    o
}

/// One parsed argument: key range, and value range (`None` for a bare key,
/// which Lua sees as `true`). Ranges index the unescaped buffer.
pub type Arg = ((usize, usize), Option<(usize, usize)>);

/// Parses a query string (or form body) in place, unescaping keys and
/// values, and calls `f` for each argument with a non-empty key. With
/// `max > 0`, stops after `max` `&`-terminated pairs and returns true
/// ("truncated"), the way upstream counts.
pub fn parse_args(buf: &mut [u8], max: usize, mut f: impl FnMut(Arg)) -> bool {
    let mut count = 0usize;
    let mut start = 0usize;
    let len = buf.len();
    while start <= len {
        let end = buf[start..]
            .iter()
            .position(|&c| c == b'&')
            .map_or(len, |p| start + p);
        let terminated = end < len;
        let seg = start..end;
        if terminated || !seg.is_empty() {
            let eq = buf[seg.clone()].iter().position(|&c| c == b'=');
            let (kr, vr) = match eq {
                Some(p) => (start..start + p, Some(start + p + 1..end)),
                None => (start..end, None),
            };
            let klen = unescape_component(&mut buf[kr.clone()]);
            let v = vr.map(|vr| {
                let vlen = unescape_component(&mut buf[vr.clone()]);
                (vr.start, vlen)
            });
            if klen > 0 {
                f(((kr.start, klen), v));
            }
        }
        if !terminated {
            break;
        }
        count += 1;
        if max > 0 && count == max {
            return true;
        }
        start = end + 1;
    }
    false
}

/// A Content-Length value as nginx's `ngx_atoof` reads it: digits only,
/// within a signed 64-bit `off_t`.
pub fn parse_off(v: &[u8]) -> Option<i64> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    core::str::from_utf8(v).ok()?.parse::<i64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str, max: usize) -> (Vec<(String, Option<String>)>, bool) {
        let mut buf = s.as_bytes().to_vec();
        let mut spans = Vec::new();
        let t = parse_args(&mut buf, max, |a| spans.push(a));
        let get = |(a, n): (usize, usize)| String::from_utf8_lossy(&buf[a..a + n]).into_owned();
        (
            spans
                .into_iter()
                .map(|(k, v)| (get(k), v.map(get)))
                .collect(),
            t,
        )
    }

    #[test]
    fn args_basic() {
        let (a, t) = parse("a=1&b&c=&a=%41+b&&=x", 0);
        assert!(!t);
        assert_eq!(
            a,
            vec![
                ("a".into(), Some("1".into())),
                ("b".into(), None),
                ("c".into(), Some("".into())),
                ("a".into(), Some("A b".into())),
            ]
        );
    }

    #[test]
    fn args_truncated() {
        let (a, t) = parse("a=1&b=2&c=3", 2);
        assert!(t);
        assert_eq!(a.len(), 2);
        let (a, t) = parse("a=1&b=2", 2);
        assert!(!t);
        assert_eq!(a.len(), 2);
    }

    #[test]
    fn unescape_malformed() {
        let mut b = b"%4g%%41%".to_vec();
        let n = unescape_component(&mut b);
        assert_eq!(&b[..n], b"%4g%A%");
    }

    #[test]
    fn header_escape() {
        assert_eq!(&*escape_header(b"a\r\nb\tc", false), b"a%0D%0Ab\tc");
        assert_eq!(&*escape_header(b"X Foo:", true), b"X%20Foo%3A");
        assert!(matches!(escape_header(b"plain", false), Cow::Borrowed(_)));
    }

    #[test]
    fn host_validation() {
        assert_eq!(
            validate_host(b"Agentzh.ORG:1984").as_deref(),
            Some(&b"agentzh.org"[..])
        );
        assert_eq!(
            validate_host(b"example.com.").as_deref(),
            Some(&b"example.com"[..])
        );
        assert_eq!(validate_host(b"[::1]:80").as_deref(), Some(&b"[::1]"[..]));
        assert_eq!(validate_host(b"a..b"), None);
        assert_eq!(validate_host(b"a/b"), None);
        assert_eq!(validate_host(b"a\0b"), None);
        assert_eq!(validate_host(b":80"), None);
        assert_eq!(validate_host(b"."), None);
    }

    #[test]
    fn args_escape() {
        assert_eq!(&*escape_args(b"a=1 2&b=\r\n\x7f"), b"a=1%202&b=%0D%0A%7F");
        assert!(matches!(escape_args(b"a=1&b=%20"), Cow::Borrowed(_)));
    }

    #[test]
    fn header_escape_tables() {
        // Every control but HT in values; names also lose HT, space,
        // separators and non-ASCII.
        for c in 0u8..=255 {
            let b = [c];
            let v = escape_header(&b, false);
            let n = escape_header(&b, true);
            let ctl = (c < 0x20 && c != b'\t') || c == 0x7f;
            assert_eq!(v.len() == 3, ctl, "value byte {c:#x}");
            let sep = c <= 0x20 || c >= 0x7f || b"\"(),/:;<=>?@[\\]{}".contains(&c);
            assert_eq!(n.len() == 3, sep, "name byte {c:#x}");
        }
    }

    #[test]
    fn uri_bytes() {
        assert_eq!(unsafe_uri_byte(b"/a b\r\n"), Some(b'\r'));
        assert_eq!(unsafe_uri_byte(b"/a\tb"), None);
        assert_eq!(unsafe_uri_byte(b"/a\x7f"), Some(0x7f));
        assert_eq!(unsafe_uri_byte(b"/ab"), None);
        assert_eq!(escape_log(b"/a\nb"), "/a\\x0Ab");
    }
}

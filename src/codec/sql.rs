//! `ngx.quote_sql_str`: MySQL-style quoting (bytes >= 0x80 pass through).

fn escape_of(c: u8) -> Option<u8> {
    Some(match c {
        0 => b'0',
        8 => b'b',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        26 => b'Z',
        b'\\' => b'\\',
        b'\'' => b'\'',
        b'"' => b'"',
        _ => return None,
    })
}

/// Length of the quoted form of `src`, quotes included.
pub fn quoted_len(src: &[u8]) -> usize {
    2 + src.len() + src.iter().filter(|&&c| escape_of(c).is_some()).count()
}

/// Writes `'src'` with escapes into `dst` (`quoted_len` bytes); returns the
/// length written.
pub fn quote(src: &[u8], dst: &mut [u8]) -> usize {
    let mut n = 0;
    dst[n] = b'\'';
    n += 1;
    for &c in src {
        if let Some(e) = escape_of(c) {
            dst[n] = b'\\';
            dst[n + 1] = e;
            n += 2;
        } else {
            dst[n] = c;
            n += 1;
        }
    }
    dst[n] = b'\'';
    n + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes() {
        let q = |s: &[u8]| {
            let mut d = vec![0; quoted_len(s)];
            let n = quote(s, &mut d);
            assert_eq!(n, d.len());
            d
        };
        assert_eq!(q(b""), b"''");
        assert_eq!(q(b"a'b\"c\\"), b"'a\\'b\\\"c\\\\'");
        assert_eq!(q(b"\0\x08\n\r\t\x1a\xe9"), b"'\\0\\b\\n\\r\\t\\Z\xe9'");
    }
}

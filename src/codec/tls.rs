//! TLS record framing, just enough to know when a ClientHello has fully
//! arrived (`ssl_certificate_by_lua*` peeks at it before nginx reads it).

/// Where the handshake message that starts `buf` (TLS records of type 22)
/// ends: `Some(Ok(n))` when the record holding its last byte is complete
/// and ends at `n`; `None` when more bytes are needed; `Some(Err(()))`
/// when `buf` is not a TLS handshake.
pub fn client_hello_end(buf: &[u8]) -> Option<Result<usize, ()>> {
    let mut at = 0;
    // The handshake message's bytes seen so far (header first).
    let mut header = [0u8; 4];
    let mut seen = 0usize;
    let mut need: Option<usize> = None;
    loop {
        if buf.len() < at + 5 {
            return None;
        }
        let rec = &buf[at..at + 5];
        if rec[0] != 0x16 || rec[1] != 3 {
            return Some(Err(()));
        }
        let len = usize::from(u16::from_be_bytes([rec[3], rec[4]]));
        if len == 0 {
            return Some(Err(()));
        }
        if buf.len() < at + 5 + len {
            return None;
        }
        for &b in &buf[at + 5..at + 5 + len] {
            if seen < 4 {
                header[seen] = b;
                if seen == 3 {
                    if header[0] != 1 {
                        return Some(Err(()));
                    }
                    need = Some(
                        4 + ((usize::from(header[1]) << 16)
                            | (usize::from(header[2]) << 8)
                            | usize::from(header[3])),
                    );
                }
            }
            seen += 1;
        }
        at += 5 + len;
        if let Some(n) = need {
            if seen >= n {
                return Some(Ok(at));
            }
        }
    }
}

/// The host name of a `server_name` extension's body (RFC 6066): the
/// first name of the list, which must be of the host name type. None for
/// a malformed body.
pub fn sni_host_name(ext: &[u8]) -> Option<&[u8]> {
    if ext.len() <= 2 {
        return None;
    }
    let list = usize::from(u16::from_be_bytes([ext[0], ext[1]]));
    if list + 2 != ext.len() {
        return None;
    }
    let rest = &ext[2..];
    if rest.is_empty() || rest[0] != 0 {
        return None;
    }
    let rest = &rest[1..];
    if rest.len() <= 2 {
        return None;
    }
    let n = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
    if n + 2 > rest.len() {
        return None;
    }
    Some(&rest[2..2 + n])
}

/// The length of the PROXY protocol header (v1 text line or v2 binary)
/// that starts `buf`: None when more bytes are needed, `Some(Err(()))` when
/// `buf` does not start with one.
pub fn proxy_header_len(buf: &[u8]) -> Option<Result<usize, ()>> {
    const V2: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";
    const V1_MAX: usize = 107;
    if buf.starts_with(b"PROXY") || (buf.len() < 5 && b"PROXY".starts_with(buf)) {
        return match buf.windows(2).position(|w| w == b"\r\n") {
            Some(i) => Some(Ok(i + 2)),
            None if buf.len() >= V1_MAX => Some(Err(())),
            None => None,
        };
    }
    let n = buf.len().min(V2.len());
    if buf[..n] != V2[..n] {
        return Some(Err(()));
    }
    if buf.len() < 16 {
        return None;
    }
    Some(Ok(16 + usize::from(u16::from_be_bytes([buf[14], buf[15]]))))
}

#[cfg(test)]
mod tests {
    use super::{client_hello_end, proxy_header_len, sni_host_name};

    #[test]
    fn proxy_headers() {
        let v1 = b"PROXY TCP4 1.2.3.4 127.0.0.1 1111 443\r\n\x16\x03";
        assert_eq!(proxy_header_len(v1), Some(Ok(v1.len() - 2)));
        assert_eq!(proxy_header_len(&v1[..20]), None);
        assert_eq!(proxy_header_len(b"PRO"), None);
        assert_eq!(proxy_header_len(b"\x16\x03\x01"), Some(Err(())));
        let mut v2 = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c".to_vec();
        v2.extend_from_slice(&[0; 12]);
        assert_eq!(proxy_header_len(&v2), Some(Ok(28)));
        assert_eq!(proxy_header_len(&v2[..10]), None);
    }

    #[test]
    fn sni_bodies() {
        let body = [0, 9, 0, 0, 6, b'a', b'.', b't', b'e', b's', b't'];
        assert_eq!(sni_host_name(&body), Some(&b"a.test"[..]));
        assert_eq!(sni_host_name(&body[..5]), None);
        assert_eq!(sni_host_name(&[0, 9, 1, 0, 6, 1, 2, 3, 4, 5, 6]), None);
        assert_eq!(sni_host_name(&[0, 1]), None);
    }

    fn record(body: &[u8]) -> Vec<u8> {
        let mut v = vec![0x16, 3, 1, (body.len() >> 8) as u8, body.len() as u8];
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn whole_and_split_hellos() {
        let mut hello = vec![1, 0, 0, 6];
        hello.extend_from_slice(b"abcdef");
        let one = record(&hello);
        assert_eq!(client_hello_end(&one), Some(Ok(one.len())));
        for cut in 0..one.len() {
            assert_eq!(client_hello_end(&one[..cut]), None, "cut {cut}");
        }
        // Split over two records.
        let mut two = record(&hello[..5]);
        two.extend(record(&hello[5..]));
        assert_eq!(client_hello_end(&two), Some(Ok(two.len())));
        assert_eq!(client_hello_end(&two[..two.len() - 1]), None);
        // Bytes after the hello are not counted.
        let mut more = one.clone();
        more.extend_from_slice(&[0x17, 3, 3]);
        assert_eq!(client_hello_end(&more), Some(Ok(one.len())));
    }

    #[test]
    fn not_a_hello() {
        assert_eq!(client_hello_end(b"GET / HTTP/1.1\r\n"), Some(Err(())));
        assert_eq!(client_hello_end(&record(&[2, 0, 0, 0])), Some(Err(())));
    }
}

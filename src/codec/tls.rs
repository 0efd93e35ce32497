//! TLS record framing, just enough to know when a ClientHello has fully
//! arrived (`ssl_certificate_by_lua*` peeks at it before nginx reads it).

/// Where the handshake message that starts `buf` (TLS records of type 22)
/// ends: `Some(Ok(n))` when the record holding its last byte is complete
/// and ends at `n`; `None` when more bytes are needed; `Some(Err(()))`
/// when `buf` is not a TLS handshake.
pub fn client_hello_end(buf: &[u8]) -> Option<Result<usize, ()>> {
    let mut at = 0;
    // The handshake message's header (type, length), which may itself be
    // split over records; only its bytes are looked at, the body's are
    // counted (a byte at a time, that was a tenth of what the module
    // added to a handshake).
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
        if seen < 4 {
            let k = (4 - seen).min(len);
            header[seen..seen + k].copy_from_slice(&buf[at + 5..at + 5 + k]);
            if seen + k == 4 {
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
        seen += len;
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

/// A ClientHello this parser does not take (split over records, or
/// malformed): OpenSSL is left to read it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Malformed;

/// The body of extension `typ` of the ClientHello in `buf` (whole
/// records, as [`client_hello_end`] found them): `Ok(None)` when the hello
/// has no such extension; `Err(Malformed)` when the hello is not in one record
/// or is malformed (the caller then lets OpenSSL read it).
pub fn client_hello_ext(buf: &[u8], typ: u16) -> Result<Option<&[u8]>, Malformed> {
    let (_, mut exts) = hello_parts(buf)?;
    let mut found = None;
    while !exts.is_empty() {
        let t = take(&mut exts, 2)?;
        let data = vec(&mut exts, 2)?;
        if u16::from_be_bytes([t[0], t[1]]) == typ {
            if found.is_some() {
                // OpenSSL refuses a repeated extension.
                return Err(Malformed);
            }
            found = Some(data);
        }
    }
    Ok(found)
}

/// The legacy session id of the ClientHello in `buf` (as
/// [`client_hello_ext`]).
pub fn client_hello_session_id(buf: &[u8]) -> Result<&[u8], Malformed> {
    hello_parts(buf).map(|(id, _)| id)
}

fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8], Malformed> {
    if b.len() < n {
        return Err(Malformed);
    }
    let (h, t) = b.split_at(n);
    *b = t;
    Ok(h)
}

/// A length-prefixed vector (`width` bytes of length).
fn vec<'a>(b: &mut &'a [u8], width: usize) -> Result<&'a [u8], Malformed> {
    let len = take(b, width)?
        .iter()
        .fold(0usize, |n, &x| (n << 8) | usize::from(x));
    take(b, len)
}

/// The session id and the extensions block of a ClientHello in one
/// record.
fn hello_parts(buf: &[u8]) -> Result<(&[u8], &[u8]), Malformed> {
    let mut rec = buf;
    let hdr = take(&mut rec, 5)?;
    let rlen = usize::from(u16::from_be_bytes([hdr[3], hdr[4]]));
    let mut rec = take(&mut rec, rlen)?;
    let hs = take(&mut rec, 4)?;
    if hs[0] != 1 {
        return Err(Malformed);
    }
    let hlen = (usize::from(hs[1]) << 16) | (usize::from(hs[2]) << 8) | usize::from(hs[3]);
    let mut body = take(&mut rec, hlen)?;
    take(&mut body, 2 + 32)?;
    let id = vec(&mut body, 1)?;
    vec(&mut body, 2)?;
    vec(&mut body, 1)?;
    if body.is_empty() {
        return Ok((id, body));
    }
    Ok((id, vec(&mut body, 2)?))
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
    use super::{
        client_hello_end, client_hello_ext, client_hello_session_id, proxy_header_len,
        sni_host_name,
    };

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
        // The header itself split, one byte a record.
        let mut bytes = Vec::new();
        for b in &hello {
            bytes.extend(record(&[*b]));
        }
        assert_eq!(client_hello_end(&bytes), Some(Ok(bytes.len())));
        assert_eq!(client_hello_end(&bytes[..bytes.len() - 1]), None);
        assert_eq!(client_hello_end(&bytes[..12]), None);
        let mut bad = record(&[2]);
        bad.extend(record(&[0, 0, 0]));
        assert_eq!(client_hello_end(&bad), Some(Err(())));
        assert_eq!(client_hello_end(&bad[..6]), None);
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

    #[test]
    fn hello_extensions() {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.extend_from_slice(&[0, 0, 2, 0x13, 1, 1, 0]);
        let sni = [0u8, 9, 0, 0, 6, b'a', b'.', b't', b'e', b's', b't'];
        let mut exts = vec![0, 0, 0, sni.len() as u8];
        exts.extend_from_slice(&sni);
        exts.extend_from_slice(&[0, 5, 0, 1, 9]);
        body.extend_from_slice(&[0, exts.len() as u8]);
        body.extend_from_slice(&exts);
        let mut hello = vec![1, 0, 0, body.len() as u8];
        hello.extend_from_slice(&body);
        let one = record(&hello);
        assert_eq!(client_hello_ext(&one, 0), Ok(Some(&sni[..])));
        assert_eq!(client_hello_ext(&one, 5), Ok(Some(&[9u8][..])));
        assert_eq!(client_hello_ext(&one, 16), Ok(None));
        assert_eq!(client_hello_session_id(&one), Ok(&[][..]));
        assert_eq!(
            client_hello_ext(&one[..one.len() - 1], 0),
            Err(super::Malformed)
        );
        let mut two = record(&hello[..20]);
        two.extend(record(&hello[20..]));
        assert_eq!(client_hello_ext(&two, 0), Err(super::Malformed));
    }
}

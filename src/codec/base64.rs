//! Base64 as nginx does it: `ngx.encode_base64` (optional padding),
//! `ngx.decode_base64` (stops at the first `=`, rejects any other byte
//! outside the alphabet and a dangling 6-bit group), the URL-safe variant
//! of `ngx.base64`, and upstream's lenient `ngx.decode_base64mime`, which
//! skips bytes outside the alphabet.

const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const BAD: u8 = 0xff;

const fn basis(alpha: &[u8; 64]) -> [u8; 256] {
    let mut t = [BAD; 256];
    let mut i = 0;
    while i < 64 {
        t[alpha[i] as usize] = i as u8;
        i += 1;
    }
    t
}

static STD_BASIS: [u8; 256] = basis(STD);
static URL_BASIS: [u8; 256] = basis(URL);

/// Encoded length of `len` bytes.
pub fn encoded_len(len: usize, padding: bool) -> usize {
    if padding {
        len.div_ceil(3) * 4
    } else {
        (len * 8).div_ceil(6)
    }
}

/// Room needed to decode `len` bytes.
pub fn decoded_len(len: usize) -> usize {
    len.div_ceil(4) * 3
}

fn encode_with(src: &[u8], dst: &mut [u8], alpha: &[u8; 64], padding: bool) -> usize {
    let mut n = 0;
    let mut chunks = src.chunks_exact(3);
    for c in &mut chunks {
        let v = (c[0] as u32) << 16 | (c[1] as u32) << 8 | c[2] as u32;
        dst[n] = alpha[(v >> 18) as usize & 63];
        dst[n + 1] = alpha[(v >> 12) as usize & 63];
        dst[n + 2] = alpha[(v >> 6) as usize & 63];
        dst[n + 3] = alpha[v as usize & 63];
        n += 4;
    }
    match *chunks.remainder() {
        [a] => {
            dst[n] = alpha[(a >> 2) as usize];
            dst[n + 1] = alpha[((a & 3) << 4) as usize];
            n += 2;
            if padding {
                dst[n] = b'=';
                dst[n + 1] = b'=';
                n += 2;
            }
        }
        [a, b] => {
            dst[n] = alpha[(a >> 2) as usize];
            dst[n + 1] = alpha[((a & 3) << 4 | b >> 4) as usize];
            dst[n + 2] = alpha[((b & 15) << 2) as usize];
            n += 3;
            if padding {
                dst[n] = b'=';
                n += 1;
            }
        }
        _ => {}
    }
    n
}

/// Standard alphabet; `dst` holds `encoded_len` bytes. Returns the length.
pub fn encode(src: &[u8], dst: &mut [u8], padding: bool) -> usize {
    encode_with(src, dst, STD, padding)
}

/// URL-safe alphabet, never padded (as nginx's `ngx_encode_base64url`).
pub fn encode_url(src: &[u8], dst: &mut [u8]) -> usize {
    encode_with(src, dst, URL, false)
}

/// Decodes the 6-bit values of `digits` (already mapped through a basis)
/// into `dst`. `digits.len() % 4 != 1`.
fn pack(mut digits: impl Iterator<Item = u8>, count: usize, dst: &mut [u8]) -> usize {
    let mut n = 0;
    let mut left = count;
    while left >= 4 {
        let (a, b, c, d) = (
            digits.next().unwrap_or(0),
            digits.next().unwrap_or(0),
            digits.next().unwrap_or(0),
            digits.next().unwrap_or(0),
        );
        dst[n] = a << 2 | b >> 4;
        dst[n + 1] = b << 4 | c >> 2;
        dst[n + 2] = c << 6 | d;
        n += 3;
        left -= 4;
    }
    if left > 1 {
        let a = digits.next().unwrap_or(0);
        let b = digits.next().unwrap_or(0);
        dst[n] = a << 2 | b >> 4;
        n += 1;
        if left > 2 {
            let c = digits.next().unwrap_or(0);
            dst[n] = b << 4 | c >> 2;
            n += 1;
        }
    }
    n
}

fn decode_with(src: &[u8], dst: &mut [u8], basis: &[u8; 256]) -> Option<usize> {
    let end = src.iter().position(|&c| c == b'=').unwrap_or(src.len());
    let data = &src[..end];
    if data.iter().any(|&c| basis[c as usize] == BAD) || data.len() % 4 == 1 {
        return None;
    }
    Some(pack(
        data.iter().map(|&c| basis[c as usize]),
        data.len(),
        dst,
    ))
}

/// `ngx.decode_base64`; `dst` holds `decoded_len(src.len())` bytes.
/// `None` for malformed input.
pub fn decode(src: &[u8], dst: &mut [u8]) -> Option<usize> {
    decode_with(src, dst, &STD_BASIS)
}

/// `ngx.base64.decode_base64url`.
pub fn decode_url(src: &[u8], dst: &mut [u8]) -> Option<usize> {
    decode_with(src, dst, &URL_BASIS)
}

/// `ngx.decode_base64mime`: bytes outside the alphabet (line breaks, ...)
/// are skipped; decoding stops at the first `=`.
pub fn decode_mime(src: &[u8], dst: &mut [u8]) -> Option<usize> {
    let end = src.iter().position(|&c| c == b'=').unwrap_or(src.len());
    let digits = src[..end]
        .iter()
        .map(|&c| STD_BASIS[c as usize])
        .filter(|&v| v != BAD);
    let count = digits.clone().count();
    if count % 4 == 1 {
        return None;
    }
    Some(pack(digits, count, dst))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &[u8], pad: bool) -> String {
        let mut d = vec![0; encoded_len(s.len(), pad)];
        let n = encode(s, &mut d, pad);
        assert_eq!(n, d.len());
        String::from_utf8(d).unwrap()
    }

    fn dec(s: &[u8], f: fn(&[u8], &mut [u8]) -> Option<usize>) -> Option<Vec<u8>> {
        let mut d = vec![0; decoded_len(s.len())];
        f(s, &mut d).map(|n| d[..n].to_vec())
    }

    #[test]
    fn rfc4648_vectors() {
        let v = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, coded) in v {
            assert_eq!(enc(plain.as_bytes(), true), coded);
            assert_eq!(enc(plain.as_bytes(), false), coded.trim_end_matches('='));
            assert_eq!(dec(coded.as_bytes(), decode).unwrap(), plain.as_bytes());
            assert_eq!(
                dec(coded.trim_end_matches('=').as_bytes(), decode).unwrap(),
                plain.as_bytes()
            );
        }
    }

    #[test]
    fn malformed() {
        assert_eq!(dec(b"Z", decode), None);
        assert_eq!(dec(b"Zm9vY", decode), None);
        assert_eq!(dec(b"Zm 9v", decode), None);
        assert_eq!(dec(b"Zm9v\n", decode), None);
        assert_eq!(dec(b"Zm-_", decode), None);
        // everything after the first '=' is ignored, as nginx does
        assert_eq!(dec(b"Zg==!!", decode).unwrap(), b"f");
        assert_eq!(dec(b"=", decode).unwrap(), b"");
    }

    #[test]
    fn url_and_mime() {
        let mut d = [0u8; 8];
        let n = encode_url(&[0xfb, 0xff, 0xbf], &mut d);
        assert_eq!(&d[..n], b"-_-_");
        assert_eq!(dec(b"-_-_", decode_url).unwrap(), [0xfb, 0xff, 0xbf]);
        assert_eq!(dec(b"+/+/", decode_url), None);
        assert_eq!(dec(b"Zm9v\r\nYmFy", decode_mime).unwrap(), b"foobar");
        assert_eq!(dec(b"Zm9v YmE=", decode_mime).unwrap(), b"fooba");
        assert_eq!(dec(b"Z\n", decode_mime), None);
        assert_eq!(dec(b"***", decode_mime).unwrap(), b"");
    }
}

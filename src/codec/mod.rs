//! Pure string codecs behind `ngx.escape_uri`, `ngx.decode_args`,
//! `ngx.encode_base64`, the hashes and `ngx.quote_sql_str`.
//!
//! Nothing here touches nginx or Lua: every function works on byte slices
//! and a caller-owned output slice sized with the matching `*_len`
//! function, so `cargo test` and the fuzz target exercise them directly.
pub mod args;
pub mod base64;
pub mod hash;
pub mod prometheus;
pub mod snapshot;
pub mod sql;
pub mod text;
pub mod tls;
pub mod uri;

/// A quick property test over pseudo-random inputs (the same checks as
/// the cargo-fuzz target in `fuzz/`, which needs nightly).
#[cfg(test)]
mod props {
    use super::*;

    fn inputs() -> impl Iterator<Item = Vec<u8>> {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        // Bytes biased towards the ones decoders treat specially.
        const SPECIAL: &[u8] = b"%+=&?#/ aZ09-_\r\n\x00\xff\xc3\xa9";
        (0..3000).map(move |_| {
            let len = (next() % 40) as usize;
            (0..len)
                .map(|_| {
                    let r = next();
                    if r % 3 == 0 {
                        (r >> 8) as u8
                    } else {
                        SPECIAL[(r >> 8) as usize % SPECIAL.len()]
                    }
                })
                .collect()
        })
    }

    #[test]
    fn decoders_hold_their_invariants() {
        for data in inputs() {
            let mut out = vec![0u8; data.len()];
            assert!(uri::unescape(&data, &mut out) <= data.len());
            for kind in 0..=uri::ESCAPE_MAIL_AUTH {
                let mut esc = vec![0u8; uri::escaped_len(&data, kind)];
                assert_eq!(uri::escape(&data, &mut esc, kind), esc.len());
                if kind == uri::ESCAPE_URI_COMPONENT || kind == uri::ESCAPE_ARGS {
                    let mut back = vec![0u8; esc.len()];
                    let n = uri::unescape(&esc, &mut back);
                    assert_eq!(&back[..n], &data[..]);
                }
            }
            let mut dec = vec![0u8; base64::decoded_len(data.len())];
            for f in [base64::decode, base64::decode_url, base64::decode_mime] {
                if let Some(n) = f(&data, &mut dec) {
                    assert!(n <= dec.len());
                }
            }
            for pad in [true, false] {
                let mut enc = vec![0u8; base64::encoded_len(data.len(), pad)];
                base64::encode(&data, &mut enc, pad);
                let mut back = vec![0u8; base64::decoded_len(enc.len())];
                let n = base64::decode(&enc, &mut back).unwrap();
                assert_eq!(&back[..n], &data[..]);
            }
            let mut buf = vec![0u8; data.len()];
            let mut seen = 0;
            args::decode(&data, &mut buf, 0, |((ks, ke), v)| {
                assert!(ks < ke && ke <= data.len());
                if let Some((vs, ve)) = v {
                    assert!(vs <= ve && ve <= data.len());
                }
                seen += 1;
            });
            assert!(seen <= args::max_pairs(&data));
        }
    }
}

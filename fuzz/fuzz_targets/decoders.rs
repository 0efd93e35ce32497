//! Feeds arbitrary bytes to every decoder of `src/codec` and checks the
//! round trips: no panic, no out-of-bounds write, output within the sizes
//! the Lua side allocates.
#![no_main]

use libfuzzer_sys::fuzz_target;

// The codec modules are pure (no nginx, no Lua): compile them directly
// instead of linking the module crate, which needs an nginx build.
#[path = "../../src/codec/mod.rs"]
#[allow(dead_code)]
mod codec;

use codec::{args, base64, sql, uri};

fuzz_target!(|data: &[u8]| {
    // unescape never grows its input
    let mut out = vec![0u8; data.len()];
    let n = uri::unescape(data, &mut out);
    assert!(n <= data.len());

    // escape -> unescape is the identity for every escape type that
    // escapes '%' and '+' (component and args)
    for kind in [uri::ESCAPE_ARGS, uri::ESCAPE_URI_COMPONENT] {
        let mut esc = vec![0u8; uri::escaped_len(data, kind)];
        assert_eq!(uri::escape(data, &mut esc, kind), esc.len());
        let mut back = vec![0u8; esc.len()];
        let m = uri::unescape(&esc, &mut back);
        assert_eq!(&back[..m], data);
    }
    for kind in 0..=uri::ESCAPE_MAIL_AUTH {
        let mut esc = vec![0u8; uri::escaped_len(data, kind)];
        assert_eq!(uri::escape(data, &mut esc, kind), esc.len());
    }

    // base64 decoders: output fits the Lua side's buffer
    let mut dec = vec![0u8; base64::decoded_len(data.len())];
    for f in [base64::decode, base64::decode_url, base64::decode_mime] {
        if let Some(n) = f(data, &mut dec) {
            assert!(n <= dec.len());
        }
    }
    // encode -> decode round trip, padded and not
    for pad in [true, false] {
        let mut enc = vec![0u8; base64::encoded_len(data.len(), pad)];
        assert_eq!(base64::encode(data, &mut enc, pad), enc.len());
        let mut back = vec![0u8; base64::decoded_len(enc.len())];
        let n = base64::decode(&enc, &mut back).expect("own output decodes");
        assert_eq!(&back[..n], data);
    }
    let mut enc = vec![0u8; base64::encoded_len(data.len(), false)];
    let e = base64::encode_url(data, &mut enc);
    let mut back = vec![0u8; base64::decoded_len(e)];
    let n = base64::decode_url(&enc[..e], &mut back).expect("own output decodes");
    assert_eq!(&back[..n], data);

    // query strings: every reported range lies inside the written output
    let mut buf = vec![0u8; data.len()];
    let cap = args::max_pairs(data);
    let mut seen = 0;
    for max in [0usize, 1, 100] {
        seen = 0;
        args::decode(data, &mut buf, max, |((ks, ke), v)| {
            assert!(ks < ke && ke <= data.len());
            if let Some((vs, ve)) = v {
                assert!(vs <= ve && ve <= data.len());
            }
            seen += 1;
        });
        assert!(seen <= cap);
    }
    let _ = seen;

    let mut q = vec![0u8; sql::quoted_len(data)];
    assert_eq!(sql::quote(data, &mut q), q.len());
});

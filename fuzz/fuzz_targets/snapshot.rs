//! The snapshot decoder of persistent shared dicts (`src/codec/snapshot.rs`)
//! on arbitrary files: no panic, no read out of bounds, and what it accepts
//! encodes back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/codec/mod.rs"]
#[allow(dead_code)]
mod codec;

use codec::snapshot::{checksum, decode, Body, Encoder, HEADER_LEN, MAGIC, VERSION};

fn check(file: &[u8]) {
    let Ok(s) = decode(file) else {
        return;
    };
    let mut enc = Encoder::new(s.zone_size, s.saved_ms);
    for r in s.records() {
        match r.body {
            Body::Value(v) => assert!(enc.value(r.key, r.flags, r.expires, v)),
            Body::List(items) => {
                assert!(enc.list(r.key, r.flags, r.expires));
                let n = items.count;
                let mut seen = 0;
                for v in items {
                    assert!(enc.item(v));
                    seen += 1;
                }
                assert_eq!(seen, n);
            }
        }
    }
    assert_eq!(enc.count(), s.count);
    // Numbers round-trip bit for bit (NaN payloads included).
    assert_eq!(enc.finish(), file);
}

fuzz_target!(|data: &[u8]| {
    // The file as given: the header checks (magic, version, lengths,
    // checksum) refuse nearly everything.
    check(data);
    // The bytes as a body under a right header, so the record parser sees
    // them; the first 8 bytes are the record count.
    if data.len() >= 8 {
        let (count, body) = data.split_at(8);
        let mut f = Vec::with_capacity(HEADER_LEN + body.len());
        f.extend_from_slice(MAGIC);
        f.extend_from_slice(&VERSION.to_le_bytes());
        f.extend_from_slice(&[0u8; 16]);
        f.extend_from_slice(count);
        f.extend_from_slice(&(body.len() as u64).to_le_bytes());
        f.extend_from_slice(&checksum(body).to_le_bytes());
        f.extend_from_slice(body);
        check(&f);
    }
});

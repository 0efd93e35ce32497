//! `ngx.re.sub` replacement templates (src/re/template.rs): parsing never
//! panics, literal pieces lie inside the template, and a template made by
//! doubling every `$` of any bytes expands back to those bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/re/template.rs"]
#[allow(dead_code)]
mod template;

use template::{expand, parse, Piece};

fuzz_target!(|data: &[u8]| {
    let subject = b"0123456789";
    let group = |n: usize| (n < 10).then_some((n, n + 1));
    let names = |name: &[u8]| match name {
        b"x" => Some(1),
        b"long_name_9" => Some(9),
        _ => None,
    };
    if let Ok(pieces) = parse(data, names) {
        for p in &pieces {
            if let Piece::Lit(a, b) = *p {
                assert!(a <= b && b <= data.len());
            }
        }
        let mut out = Vec::new();
        expand(&pieces, data, subject, group, &mut out);
        // a group expands to one digit, a literal to itself
        assert!(out.len() <= data.len());
    } else {
        assert!(data.contains(&b'$'));
    }

    let escaped: Vec<u8> = data
        .iter()
        .flat_map(|&c| if c == b'$' { vec![b'$', b'$'] } else { vec![c] })
        .collect();
    let pieces = parse(&escaped, names).expect("an escaped template parses");
    let mut out = Vec::new();
    expand(&pieces, &escaped, subject, group, &mut out);
    assert_eq!(out, data);
});

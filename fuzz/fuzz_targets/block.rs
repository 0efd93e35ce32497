//! The `*_by_lua_block` reader (src/conf/block.rs): the file arrives in
//! pieces (nginx reads the conf file through a fixed buffer), so scanning
//! a growing buffer piece by piece must find the same closing brace as
//! scanning the whole file at once, and the brace it reports is a `}`
//! outside strings and comments at depth 0.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/conf/block.rs"]
#[allow(dead_code)]
mod block;

use block::{BlockLexer, Scan};

fuzz_target!(|data: &[u8]| {
    // The first bytes choose where the buffer grows.
    let (cuts, text) = data.split_at(data.len().min(4));
    let mut whole = BlockLexer::new();
    let expect = whole.scan(text, true);
    if let Scan::Done(i) = expect {
        assert_eq!(text[i], b'}');
    }

    let mut lx = BlockLexer::new();
    let mut at = 0usize;
    let mut got = None;
    for &c in cuts {
        at = (at + c as usize % 64 + 1).min(text.len());
        if let Scan::Done(i) = lx.scan(&text[..at], false) {
            got = Some(Scan::Done(i));
            break;
        }
    }
    let got = got.unwrap_or_else(|| lx.scan(text, true));
    assert_eq!(got, expect, "pieces {cuts:?}");
});

//! ngx.re's engine (src/re/mod.rs over the system's libpcre2-8): any
//! pattern with any of the option letters lua-lib accepts compiles or
//! fails cleanly; a compiled one matches any subject from any start
//! without reading outside it; `gsub(s, re, "$0")` gives `s` back and
//! `gsub(s, re, "")` removes exactly the matched bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/re/mod.rs"]
#[allow(dead_code)]
mod re;

use re::{pcre2, Exec, Regex, FLAG_DFA, FLAG_JIT, FLAG_NO_UTF8_CHECK};

/// The option letters of lua-lib/resty/core/regex.lua ("o" and "D" only
/// touch the Lua side's cache and name tables).
fn options(letters: u8) -> (i32, u32) {
    let table: [(i32, u32); 8] = [
        (FLAG_JIT, 0),
        (FLAG_DFA, 0),
        (0, pcre2::CASELESS),
        (0, pcre2::DOTALL),
        (0, pcre2::MULTILINE),
        (0, pcre2::EXTENDED),
        (0, pcre2::ANCHORED),
        (0, pcre2::UTF),
    ];
    let (mut flags, mut opts) = (0, 0);
    for (i, &(f, o)) in table.iter().enumerate() {
        if letters & (1 << i) != 0 {
            flags |= f;
            opts |= o;
        }
    }
    (flags, opts)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let (mut flags, mut opts) = options(data[0]);
    if data[1] & 1 != 0 {
        opts |= pcre2::ALT_BSUX | pcre2::ALLOW_EMPTY_CLASS | pcre2::MATCH_UNSET_BACKREF;
    }
    let split = 2 + (data[2] as usize).min(data.len() - 3);
    let (pattern, subject) = data[3..].split_at(split - 2);
    // "U" skips PCRE2's UTF-8 check: only sound on valid UTF-8, which
    // is the caller's promise (as upstream documents).
    if data[1] & 2 != 0 && std::str::from_utf8(subject).is_ok() {
        flags |= FLAG_NO_UTF8_CHECK;
        opts |= pcre2::UTF;
    }
    let Ok(mut re) = Regex::compile(pattern, opts, flags) else {
        return;
    };
    let ncap = re.ncaptures as usize;
    for pos in [0, subject.len() / 2, subject.len()] {
        if let Exec::Match(n) = re.exec(flags, subject, pos) {
            assert!(n >= 1 && n as usize <= ncap + 1);
            // SAFETY: `captures` holds 2 * (ncaptures + 1) ints.
            let caps = unsafe { std::slice::from_raw_parts(re.captures, 2 * (ncap + 1)) };
            for pair in caps.chunks(2) {
                if pair[0] >= 0 {
                    assert!(pair[0] as usize <= subject.len());
                    assert!(pair[1] as usize <= subject.len());
                }
            }
        }
    }
    if flags & FLAG_DFA != 0 {
        return;
    }
    let mut out = Vec::new();
    re.set_template(b"$0").expect("$0 is a template");
    if let Ok(n) = re.substitute(flags, subject, true, &mut out) {
        if n > 0 {
            assert_eq!(out, subject);
        }
    }
    re.set_template(b"").expect("empty is a template");
    let mut removed = Vec::new();
    if let Ok(n) = re.substitute(flags, subject, true, &mut removed) {
        if n > 0 {
            assert!(removed.len() <= subject.len());
        }
    }
});

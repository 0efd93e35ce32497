//! Finds the end of a `*_by_lua_block { ... }` body.
//!
//! nginx's own tokenizer would split Lua code at `;` and choke on quotes
//! and braces inside strings, so the block is scanned with Lua's lexical
//! rules instead: short strings with escapes, `[==[long strings]==]`,
//! `--` line comments and `--[[long comments]]`. Pure logic, no nginx.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Code,
    Short(u8),
    ShortEscape(u8),
    Long(usize),
    LineComment,
    LongComment(usize),
}

#[derive(Debug, PartialEq, Eq)]
pub enum Scan {
    /// The closing `}` is at this index of the buffer.
    Done(usize),
    /// The buffer ends inside the block; scan again with more bytes.
    NeedMore,
}

/// Incremental scanner over a growing buffer holding the block's bytes
/// (everything after the opening `{`).
#[derive(Debug)]
pub struct BlockLexer {
    state: State,
    depth: usize,
    pos: usize,
}

impl Default for BlockLexer {
    fn default() -> Self {
        Self::new()
    }
}

/// Length of a long bracket opener `[==[` at `at`, with its level, or
/// `Some(None)` if more bytes are needed to decide.
fn long_bracket(buf: &[u8], at: usize, eof: bool) -> Option<Option<(usize, usize)>> {
    debug_assert_eq!(buf[at], b'[');
    let mut i = at + 1;
    while i < buf.len() && buf[i] == b'=' {
        i += 1;
    }
    if i == buf.len() {
        return if eof { None } else { Some(None) };
    }
    if buf[i] == b'[' {
        Some(Some((i + 1 - at, i - at - 1)))
    } else {
        None
    }
}

/// Whether a long bracket closer of `level` starts at `at` (`]==]`).
fn long_close(buf: &[u8], at: usize, level: usize, eof: bool) -> Option<Option<usize>> {
    let need = level + 2;
    if buf.len() - at < need {
        // Could still be a closer once more bytes arrive.
        let partial = buf[at + 1..].iter().all(|&c| c == b'=');
        return if eof || !partial { None } else { Some(None) };
    }
    if buf[at + 1..at + 1 + level].iter().all(|&c| c == b'=') && buf[at + 1 + level] == b']' {
        Some(Some(need))
    } else {
        None
    }
}

impl BlockLexer {
    pub fn new() -> Self {
        BlockLexer {
            state: State::Code,
            depth: 0,
            pos: 0,
        }
    }

    /// The level of the long string or comment the scan stopped inside, if
    /// any: at end of file that is upstream's "missing the closing long
    /// bracket" error rather than the generic unexpected end.
    pub fn unclosed_long(&self) -> Option<usize> {
        match self.state {
            State::Long(level) | State::LongComment(level) => Some(level),
            _ => None,
        }
    }

    /// Scans `buf` from where the previous call stopped. `eof` means no more
    /// bytes will come, so lookahead at the end resolves to "no match".
    pub fn scan(&mut self, buf: &[u8], eof: bool) -> Scan {
        while self.pos < buf.len() {
            let c = buf[self.pos];
            match self.state {
                State::Code => match c {
                    b'{' => self.depth += 1,
                    b'}' => {
                        if self.depth == 0 {
                            return Scan::Done(self.pos);
                        }
                        self.depth -= 1;
                    }
                    b'"' | b'\'' => self.state = State::Short(c),
                    b'[' => match long_bracket(buf, self.pos, eof) {
                        Some(Some((len, level))) => {
                            self.state = State::Long(level);
                            self.pos += len;
                            continue;
                        }
                        Some(None) => return Scan::NeedMore,
                        None => {}
                    },
                    b'-' => {
                        if self.pos + 1 >= buf.len() {
                            if !eof {
                                return Scan::NeedMore;
                            }
                        } else if buf[self.pos + 1] == b'-' {
                            let after = self.pos + 2;
                            if after >= buf.len() && !eof {
                                return Scan::NeedMore;
                            }
                            if after < buf.len() && buf[after] == b'[' {
                                match long_bracket(buf, after, eof) {
                                    Some(Some((len, level))) => {
                                        self.state = State::LongComment(level);
                                        self.pos = after + len;
                                        continue;
                                    }
                                    Some(None) => return Scan::NeedMore,
                                    None => {}
                                }
                            }
                            self.state = State::LineComment;
                            self.pos = after;
                            continue;
                        }
                    }
                    _ => {}
                },
                State::Short(q) => {
                    if c == b'\\' {
                        self.state = State::ShortEscape(q);
                    } else if c == q {
                        self.state = State::Code;
                    }
                }
                State::ShortEscape(q) => self.state = State::Short(q),
                State::Long(level) | State::LongComment(level) => {
                    if c == b']' {
                        match long_close(buf, self.pos, level, eof) {
                            Some(Some(len)) => {
                                self.state = State::Code;
                                self.pos += len;
                                continue;
                            }
                            Some(None) => return Scan::NeedMore,
                            None => {}
                        }
                    }
                }
                State::LineComment => {
                    if c == b'\n' {
                        self.state = State::Code;
                    }
                }
            }
            self.pos += 1;
        }
        Scan::NeedMore
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end_of(src: &str) -> Option<usize> {
        let mut lx = BlockLexer::new();
        match lx.scan(src.as_bytes(), true) {
            Scan::Done(i) => Some(i),
            Scan::NeedMore => None,
        }
    }

    #[test]
    fn plain_block() {
        assert_eq!(end_of(" ngx.say('hi') } rest"), Some(15));
    }

    #[test]
    fn nested_tables_and_semicolons() {
        let src = " local t = { a = { 1; 2 } }; ngx.say(#t) }";
        assert_eq!(end_of(src), Some(src.len() - 1));
    }

    #[test]
    fn braces_in_strings_and_escapes() {
        let src = r#" ngx.say("}{\"}", '}\'') }"#;
        assert_eq!(end_of(src), Some(src.len() - 1));
    }

    #[test]
    fn long_strings_and_comments() {
        let src = " local s = [==[ ]] } ]=] ]==] -- } comment\n --[[ } ]] --[=[ } ]=] x = 1 }";
        assert_eq!(end_of(src), Some(src.len() - 1));
    }

    #[test]
    fn index_bracket_is_not_long_string() {
        let src = " t[1] = t[ [[x]] ] }";
        assert_eq!(end_of(src), Some(src.len() - 1));
    }

    #[test]
    fn unclosed_long_bracket_level() {
        let mut lx = BlockLexer::new();
        assert_eq!(lx.scan(b"ngx.say([==[x\n", true), Scan::NeedMore);
        assert_eq!(lx.unclosed_long(), Some(2));
        let mut lx = BlockLexer::new();
        assert_eq!(lx.scan(b"ngx.say(--[[x\n", true), Scan::NeedMore);
        assert_eq!(lx.unclosed_long(), Some(0));
        let mut lx = BlockLexer::new();
        assert_eq!(lx.scan(b"ngx.say(\"x\"\n", true), Scan::NeedMore);
        assert_eq!(lx.unclosed_long(), None);
    }

    #[test]
    fn unterminated() {
        assert_eq!(end_of(" ngx.say('}"), None);
        assert_eq!(end_of(" local t = { "), None);
        assert_eq!(end_of(" --[[ } "), None);
    }

    #[test]
    fn split_across_refills() {
        // Feed the buffer one byte at a time: every split point of every
        // multi-byte token must give the same answer as one whole scan.
        let src = " a = [==[ } ]==] --[[ } ]] -- }\n b = '}' }";
        let want = end_of(src);
        let mut lx = BlockLexer::new();
        let mut got = None;
        for n in 1..=src.len() {
            if let Scan::Done(i) = lx.scan(&src.as_bytes()[..n], n == src.len()) {
                got = Some(i);
                break;
            }
        }
        assert_eq!(got, want);
    }

    #[test]
    fn minus_at_end_waits() {
        let mut lx = BlockLexer::new();
        assert_eq!(lx.scan(b" x = 1 -", false), Scan::NeedMore);
        assert_eq!(lx.scan(b" x = 1 -- }\n}", true), Scan::Done(12));
    }
}

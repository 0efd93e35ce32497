//! `ngx.re.*`: compiled PCRE2 regexes, matching and string substitution.
//!
//! No nginx types here: the FFI layer (`src/ffi/re.rs`) hands Lua a
//! `Regex`, whose `#[repr(C)]` head Lua reads directly (capture offsets,
//! the name table), so a match costs one FFI call and no allocation.
pub mod pcre2;
pub mod template;

use core::ffi::{c_int, c_void};
use core::ptr;
use std::cell::RefCell;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use template::Piece;

/// Flags the Lua side passes with each call (upstream's values).
pub const FLAG_DFA: c_int = 0x02;
pub const FLAG_JIT: c_int = 0x04;
pub const FLAG_NO_UTF8_CHECK: c_int = 0x10;

/// `lua_regex_match_limit` (0: PCRE2's default).
pub static MATCH_LIMIT: AtomicU32 = AtomicU32::new(0);
/// `lua_regex_cache_max_entries`.
pub static CACHE_MAX: AtomicU32 = AtomicU32::new(1024);

static MATCH_CTX: AtomicPtr<pcre2::pcre2_match_context> = AtomicPtr::new(ptr::null_mut());
static MATCH_CTX_LIMIT: AtomicU32 = AtomicU32::new(0);

/// The process's match context, carrying the current match limit.
fn match_context() -> *mut pcre2::pcre2_match_context {
    let limit = MATCH_LIMIT.load(Ordering::Relaxed);
    let mut ctx = MATCH_CTX.load(Ordering::Relaxed);
    if ctx.is_null() {
        // SAFETY: plain allocation with PCRE2's default allocator.
        ctx = unsafe { pcre2::pcre2_match_context_create_8(ptr::null_mut()) };
        if ctx.is_null() {
            return ctx;
        }
        MATCH_CTX.store(ctx, Ordering::Relaxed);
        MATCH_CTX_LIMIT.store(0, Ordering::Relaxed);
    }
    if MATCH_CTX_LIMIT.load(Ordering::Relaxed) != limit {
        // PCRE2's own default when the directive is unset (0).
        let v = if limit == 0 { 10_000_000 } else { limit };
        // SAFETY: ctx is a live match context.
        unsafe { pcre2::pcre2_set_match_limit_8(ctx, v) };
        MATCH_CTX_LIMIT.store(limit, Ordering::Relaxed);
    }
    ctx
}

static JIT_STACK: AtomicPtr<pcre2::pcre2_jit_stack> = AtomicPtr::new(ptr::null_mut());

/// `ngx.re.opt("jit_stack_size", size)`: a JIT stack of up to `size`
/// bytes (at least 32K) for every later match of this process.
pub fn set_jit_stack_size(size: usize, cached: bool) -> Result<(), &'static str> {
    const MIN: usize = 32 * 1024;
    let size = size.max(MIN);
    // As upstream: a stack set before may not change under cached
    // regexes (the first setting is allowed whatever the cache holds).
    if cached && !JIT_STACK.load(Ordering::Relaxed).is_null() {
        return Err("changing jit stack size is not allowed when some regexs have already been compiled and cached");
    }
    let ctx = match_context();
    if ctx.is_null() {
        return Err("no memory");
    }
    // SAFETY: plain allocation; the old stack is detached before it is
    // freed, and matches never run concurrently within a worker.
    unsafe {
        let stack = pcre2::pcre2_jit_stack_create_8(MIN, size, ptr::null_mut());
        if stack.is_null() {
            return Err("pcre jit stack allocation failed");
        }
        pcre2::pcre2_jit_stack_assign_8(ctx, ptr::null_mut(), stack as *mut c_void);
        let old = JIT_STACK.swap(stack, Ordering::Relaxed);
        if !old.is_null() {
            pcre2::pcre2_jit_stack_free_8(old);
        }
    }
    Ok(())
}

/// A compiled regex. The head is read by lua-lib/resty/core/regex.lua:
/// keep the two in sync.
#[repr(C)]
pub struct Regex {
    /// `2 * (ncaptures + 1)` offsets of the last match; -1 when unset.
    pub captures: *mut c_int,
    pub ncaptures: c_int,
    pub name_count: c_int,
    pub name_entry_size: c_int,
    pub name_table: *const u8,
    code: *mut pcre2::pcre2_code,
    md: *mut pcre2::pcre2_match_data,
    caps: Vec<c_int>,
    utf: bool,
    template: Option<(Vec<u8>, Vec<Piece>)>,
    /// `pcre2_jit_compile`'s result, when JIT was asked for.
    pub jit_result: Option<c_int>,
}

impl Drop for Regex {
    fn drop(&mut self) {
        // SAFETY: both were created by compile() and are freed only here.
        unsafe {
            if !self.md.is_null() {
                pcre2::pcre2_match_data_free_8(self.md);
            }
            pcre2::pcre2_code_free_8(self.code);
        }
    }
}

fn error_message(code: c_int) -> String {
    let mut buf = [0u8; 256];
    // SAFETY: PCRE2 writes a NUL-terminated message into our buffer.
    let n = unsafe { pcre2::pcre2_get_error_message_8(code, buf.as_mut_ptr(), buf.len()) };
    if n < 0 {
        return format!("error {code}");
    }
    String::from_utf8_lossy(&buf[..n as usize]).into_owned()
}

/// The outcome of one match attempt.
pub enum Exec {
    NoMatch,
    /// PCRE2's positive count: the highest set group + 1 (1 for DFA).
    Match(c_int),
    Error(c_int),
}

const DFA_WORKSPACE: usize = 100;

impl Regex {
    /// Compiles `pattern` with PCRE2 options; `Err` holds upstream's text.
    pub fn compile(pattern: &[u8], options: u32, flags: c_int) -> Result<Box<Regex>, String> {
        let mut errcode = 0;
        let mut erroff = 0usize;
        // SAFETY: a pattern of pattern.len() bytes; out params are ours.
        let code = unsafe {
            pcre2::pcre2_compile_8(
                pattern.as_ptr(),
                pattern.len(),
                options,
                &mut errcode,
                &mut erroff,
                ptr::null_mut(),
            )
        };
        let pat = String::from_utf8_lossy(pattern);
        if code.is_null() {
            let msg = error_message(errcode);
            return Err(if erroff >= pattern.len() {
                format!("pcre2_compile() failed: {msg} in \"{pat}\"")
            } else {
                format!(
                    "pcre2_compile() failed: {msg} in \"{pat}\" at \"{}\"",
                    String::from_utf8_lossy(&pattern[erroff..])
                )
            });
        }
        let info = |what: u32| -> u32 {
            let mut v: u32 = 0;
            // SAFETY: these info items are uint32_t.
            unsafe { pcre2::pcre2_pattern_info_8(code, what, &mut v as *mut u32 as *mut c_void) };
            v
        };
        let mut re = Box::new(Regex {
            captures: ptr::null_mut(),
            ncaptures: info(pcre2::INFO_CAPTURECOUNT) as c_int,
            name_count: info(pcre2::INFO_NAMECOUNT) as c_int,
            name_entry_size: 0,
            name_table: ptr::null(),
            code,
            md: ptr::null_mut(),
            caps: Vec::new(),
            utf: options & pcre2::UTF != 0,
            template: None,
            jit_result: None,
        });
        if re.name_count > 0 {
            re.name_entry_size = info(pcre2::INFO_NAMEENTRYSIZE) as c_int;
            let mut table: *const u8 = ptr::null();
            // SAFETY: NAMETABLE is a PCRE2_SPTR living as long as the code.
            unsafe {
                pcre2::pcre2_pattern_info_8(
                    code,
                    pcre2::INFO_NAMETABLE,
                    &mut table as *mut _ as *mut c_void,
                )
            };
            re.name_table = table;
        }
        if flags & FLAG_JIT != 0 {
            // A failed JIT compile leaves the interpreter, as upstream.
            // SAFETY: a freshly compiled code.
            let rc = unsafe { pcre2::pcre2_jit_compile_8(code, pcre2::JIT_COMPLETE) };
            re.jit_result = Some(rc);
        }
        if flags & FLAG_DFA != 0 {
            // DFA matching reports only the whole match.
            re.ncaptures = 0;
        }
        let pairs = re.ncaptures as u32 + 1;
        // SAFETY: plain allocation.
        re.md = unsafe { pcre2::pcre2_match_data_create_8(pairs, ptr::null_mut()) };
        if re.md.is_null() {
            return Err("no memory".into());
        }
        re.caps = vec![-1; 2 * pairs as usize];
        re.captures = re.caps.as_mut_ptr();
        Ok(re)
    }

    /// Group number of a named capture (the first, for duplicate names).
    pub fn group_of(&self, name: &[u8]) -> Option<usize> {
        let size = self.name_entry_size as usize;
        (0..self.name_count as usize).find_map(|i| {
            // SAFETY: name_count entries of name_entry_size bytes, each a
            // big-endian group number and a NUL-terminated name.
            let e = unsafe { core::slice::from_raw_parts(self.name_table.add(i * size), size) };
            let n = &e[2..];
            let end = n.iter().position(|&c| c == 0).unwrap_or(n.len());
            (&n[..end] == name).then_some((e[0] as usize) << 8 | e[1] as usize)
        })
    }

    /// Runs one match from byte `pos`; on success the offsets are in
    /// `caps` (and so in `captures`).
    pub fn exec(&mut self, flags: c_int, subject: &[u8], pos: usize) -> Exec {
        let opts = if flags & FLAG_NO_UTF8_CHECK != 0 {
            pcre2::NO_UTF_CHECK
        } else {
            0
        };
        let mctx = match_context();
        // SAFETY: code and md are live; the subject holds subject.len() bytes.
        let rc = unsafe {
            if flags & FLAG_DFA != 0 {
                let mut ws = [0 as c_int; DFA_WORKSPACE];
                pcre2::pcre2_dfa_match_8(
                    self.code,
                    subject.as_ptr(),
                    subject.len(),
                    pos,
                    opts,
                    self.md,
                    mctx,
                    ws.as_mut_ptr(),
                    ws.len(),
                )
            } else {
                pcre2::pcre2_match_8(
                    self.code,
                    subject.as_ptr(),
                    subject.len(),
                    pos,
                    opts,
                    self.md,
                    mctx,
                )
            }
        };
        if rc == pcre2::ERROR_NOMATCH {
            return Exec::NoMatch;
        }
        if rc < 0 {
            return Exec::Error(rc);
        }
        // DFA: rc 0 means more matches than ovector pairs; we want the
        // longest, which is the first.
        let rc = if rc == 0 { 1 } else { rc };
        // SAFETY: the match data holds caps.len() / 2 pairs.
        let ov = unsafe { pcre2::pcre2_get_ovector_pointer_8(self.md) };
        for (i, slot) in self.caps.iter_mut().enumerate() {
            // SAFETY: as above.
            let v = unsafe { *ov.add(i) };
            *slot = if i / 2 >= rc as usize || v == pcre2::UNSET {
                -1
            } else {
                v as c_int
            };
        }
        Exec::Match(rc)
    }

    /// Sets the replacement template used by `substitute`.
    pub fn set_template(&mut self, tpl: &[u8]) -> Result<(), String> {
        let pieces = template::parse(tpl, |n| self.group_of(n))?;
        self.template = Some((tpl.to_vec(), pieces));
        Ok(())
    }

    fn group(&self, n: usize) -> Option<(usize, usize)> {
        let (a, b) = (*self.caps.get(2 * n)?, *self.caps.get(2 * n + 1)?);
        (a >= 0 && b >= a).then_some((a as usize, b as usize))
    }

    /// Byte offset after an empty match at `pos`: one character on.
    fn step(&self, subject: &[u8], pos: usize) -> usize {
        let mut p = pos + 1;
        if self.utf {
            while p < subject.len() && subject[p] & 0xc0 == 0x80 {
                p += 1;
            }
        }
        p
    }

    /// `ngx.re.sub`/`gsub` with the template: writes the result into
    /// `out` and returns the number of substitutions, or a PCRE2 error.
    pub fn substitute(
        &mut self,
        flags: c_int,
        subject: &[u8],
        global: bool,
        out: &mut Vec<u8>,
    ) -> Result<usize, c_int> {
        out.clear();
        let (mut pos, mut copied, mut count) = (0usize, 0usize, 0usize);
        let template = self.template.take();
        let res = (|| {
            loop {
                match self.exec(flags, subject, pos) {
                    Exec::NoMatch => break,
                    Exec::Error(rc) => return Err(rc),
                    Exec::Match(_) => {}
                }
                count += 1;
                let (start, end) = self.group(0).unwrap_or((pos, pos));
                out.extend_from_slice(&subject[copied..start]);
                if let Some((tpl, pieces)) = &template {
                    template::expand(pieces, tpl, subject, |n| self.group(n), out);
                }
                copied = end;
                pos = end;
                if start == end {
                    pos = self.step(subject, pos);
                    if pos > subject.len() {
                        break;
                    }
                }
                if !global {
                    break;
                }
            }
            if count > 0 {
                out.extend_from_slice(&subject[copied..]);
            }
            Ok(count)
        })();
        self.template = template;
        res
    }
}

thread_local! {
    /// The result buffer of the last substitution, reused by the next.
    static SUB_OUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with the reused substitution buffer (dropping a huge one
/// first, so a single giant gsub does not pin its memory forever).
pub fn with_sub_buffer<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    SUB_OUT.with(|b| {
        let mut b = b.borrow_mut();
        if b.capacity() > 1 << 20 {
            *b = Vec::new();
        }
        f(&mut b)
    })
}

/// PCRE2's version string ("10.42 2022-12-11").
pub fn version() -> &'static [u8] {
    static VERSION: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        let mut buf = [0u8; 64];
        // SAFETY: CONFIG_VERSION writes at most 24 code units plus NUL.
        let n = unsafe {
            pcre2::pcre2_config_8(pcre2::CONFIG_VERSION, buf.as_mut_ptr() as *mut c_void)
        };
        let n = if n > 0 { n as usize - 1 } else { 0 };
        let mut v = buf[..n].to_vec();
        v.push(0);
        v
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(
        pat: &str,
        opts: u32,
        flags: c_int,
        subj: &str,
        tpl: &str,
        global: bool,
    ) -> (String, usize) {
        let mut re = Regex::compile(pat.as_bytes(), opts, flags).unwrap();
        re.set_template(tpl.as_bytes()).unwrap();
        let mut out = Vec::new();
        let n = re
            .substitute(flags, subj.as_bytes(), global, &mut out)
            .unwrap();
        (
            if n == 0 {
                subj.to_string()
            } else {
                String::from_utf8(out).unwrap()
            },
            n,
        )
    }

    #[test]
    fn compile_errors_use_upstream_text() {
        let e = Regex::compile(b"(", 0, 0).err().unwrap();
        assert_eq!(
            e,
            "pcre2_compile() failed: missing closing parenthesis in \"(\""
        );
        let e = Regex::compile(b"a)b", 0, 0).err().unwrap();
        assert!(
            e.starts_with("pcre2_compile() failed: ") && e.ends_with(" in \"a)b\" at \")b\""),
            "{e}"
        );
    }

    #[test]
    fn captures_and_names() {
        let mut re = Regex::compile(b"(?<y>\\d+)-(x)?(\\d+)", 0, 0).unwrap();
        assert_eq!(re.ncaptures, 3);
        assert_eq!(re.group_of(b"y"), Some(1));
        assert!(matches!(re.exec(0, b"ab 12-34", 0), Exec::Match(4)));
        assert_eq!(&re.caps[..], &[3, 8, 3, 5, -1, -1, 6, 8]);
        assert!(matches!(re.exec(0, b"ab 12-34", 4), Exec::Match(4)));
        assert!(matches!(re.exec(0, b"nothing", 0), Exec::NoMatch));
    }

    #[test]
    fn substitution() {
        assert_eq!(
            sub("([0-9])[0-9]", 0, 0, "hello, 1234", "[$0][$1]", false),
            ("hello, [12][1]34".into(), 1)
        );
        assert_eq!(
            sub("[0-9]", 0, 0, "hello, 1234", "${0}00", true),
            ("hello, 100200300400".into(), 4)
        );
        assert_eq!(sub("", 0, 0, "abc", "-", true), ("-a-b-c-".into(), 4));
        assert_eq!(sub("x*", 0, 0, "abc", "-", true), ("-a-b-c-".into(), 4));
        assert_eq!(
            sub("", pcre2::UTF, 0, "h\u{e9}", "-", true),
            ("-h-\u{e9}-".into(), 3)
        );
        assert_eq!(sub("z", 0, 0, "abc", "-", true), ("abc".into(), 0));
    }

    #[test]
    fn match_limit_is_reported() {
        MATCH_LIMIT.store(100, Ordering::Relaxed);
        let mut re = Regex::compile(b"^(a+)+$", 0, 0).unwrap();
        let subj = "a".repeat(40) + "!";
        let r = re.exec(0, subj.as_bytes(), 0);
        MATCH_LIMIT.store(0, Ordering::Relaxed);
        assert!(matches!(r, Exec::Error(-47)));
    }
}

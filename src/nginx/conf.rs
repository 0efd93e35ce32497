//! [`Conf`]: a handle on the configuration nginx is parsing or merging
//! (`ngx_conf_t`), with the directive's arguments ([`ConfArgs`]), the conf
//! file, its log, its pool and this module's configuration slots; and
//! [`ComplexValue`], a compiled string with nginx variables.
//!
//! nginx hands `cf` to a directive setter or a module's configuration hook
//! for the duration of the call; everything read through the handle (the
//! arguments, the file's name, the pools' strings) lives in the
//! configuration's pools, at least as long as that call. The handle is made
//! once, where nginx calls in ([`Conf::from_raw`]), and used only during
//! the call.
use core::ffi::{c_char, c_void, CStr};
use core::ptr::NonNull;

use nginx_sys::*;
use ngx::core::Pool;

use super::cycle::Cycle;
use super::request::{str_bytes, Request};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Conf(NonNull<ngx_conf_t>);

/// A directive's words: the name (0) then its arguments.
#[derive(Clone, Copy)]
pub struct ConfArgs<'a>(&'a [ngx_str_t]);

impl<'a> ConfArgs<'a> {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Word `i` (0 is the directive's name); empty past the end.
    pub fn get(&self, i: usize) -> &'a [u8] {
        self.0.get(i).map_or(&[][..], str_bytes)
    }

    /// Word `i` as nginx's string, for nginx APIs that take one.
    pub fn raw(&self, i: usize) -> Option<&'a ngx_str_t> {
        self.0.get(i)
    }

    /// Words `from..` as nginx's strings.
    pub fn raw_from(&self, from: usize) -> &'a [ngx_str_t] {
        self.0.get(from..).unwrap_or(&[])
    }

    /// Word `i` as text for messages.
    pub fn show(&self, i: usize) -> String {
        String::from_utf8_lossy(self.get(i)).into_owned()
    }
}

/// Declares a directive setter (nginx's `set` of an `ngx_command_t`): the
/// body gets the configuration being parsed as a [`Conf`] and, in the second form, this module's
/// configuration struct of the level the command's offset names (`MAIN`:
/// `MainConf`, `LOC`: `LocConf`; the commands table pairs them), runs inside
/// the panic guard and returns a [`SetResult`].
macro_rules! setter {
    ($(#[$m:meta])* fn $name:ident($cf:ident, $conf:ident: &mut $T:ty) $body:block) => {
        $(#[$m])*
        pub unsafe extern "C" fn $name(
            cf: *mut nginx_sys::ngx_conf_t,
            _: *mut nginx_sys::ngx_command_t,
            conf: *mut core::ffi::c_void,
        ) -> *mut core::ffi::c_char {
            $crate::nginx::panic::guard($crate::nginx::conf::conf_error(), || {
                // SAFETY: nginx calls a setter with the configuration being
                // parsed and the struct our create_*_conf hook made for the
                // level of the command's offset, which the commands table
                // pairs with this setter's type.
                let ($cf, $conf) = unsafe {
                    ($crate::nginx::conf::Conf::from_raw(cf), &mut *(conf as *mut $T))
                };
                #[allow(clippy::redundant_closure_call)]
                let r = (move || -> $crate::nginx::conf::SetResult { $body })();
                $crate::nginx::conf::conf_result(r)
            })
        }
    };
    ($(#[$m:meta])* fn $name:ident($cf:ident) $body:block) => {
        $(#[$m])*
        pub unsafe extern "C" fn $name(
            cf: *mut nginx_sys::ngx_conf_t,
            _: *mut nginx_sys::ngx_command_t,
            _: *mut core::ffi::c_void,
        ) -> *mut core::ffi::c_char {
            $crate::nginx::panic::guard($crate::nginx::conf::conf_error(), || {
                // SAFETY: nginx calls a setter with the configuration being
                // parsed.
                let $cf = unsafe { $crate::nginx::conf::Conf::from_raw(cf) };
                #[allow(clippy::redundant_closure_call)]
                let r = (move || -> $crate::nginx::conf::SetResult { $body })();
                $crate::nginx::conf::conf_result(r)
            })
        }
    };
}

pub(crate) use setter;

/// The http configuration arrays a request runs under (main, server and
/// location level, one slot per http module), copied from the code that
/// creates a timer so its callback sees the same configuration.
#[derive(Clone, Copy)]
pub struct HttpConfs {
    pub(super) main: *mut *mut c_void,
    pub(super) srv: *mut *mut c_void,
    pub(super) loc: *mut *mut c_void,
}

impl HttpConfs {
    /// The arrays `r` runs under.
    pub fn of_request(r: Request) -> HttpConfs {
        // SAFETY: a live request (the handle's invariant) carries the
        // arrays of its location, which live in the cycle's pool.
        let r = unsafe { &*r.as_ptr() };
        HttpConfs {
            main: r.main_conf,
            srv: r.srv_conf,
            loc: r.loc_conf,
        }
    }

    /// The `http {}` block's own arrays (None without an http block).
    pub fn of_cycle(cycle: Cycle) -> Option<HttpConfs> {
        let c = cycle.as_ptr();
        // SAFETY: a live cycle; conf_ctx has one slot per module, and the
        // http module's holds the http block's ngx_http_conf_ctx_t, which
        // lives in the cycle pool.
        unsafe {
            if (*c).conf_ctx.is_null() {
                return None;
            }
            let http = (*(*c).conf_ctx.add(ngx_http_module.index) as *const ngx_http_conf_ctx_t)
                .as_ref()?;
            Some(HttpConfs {
                main: http.main_conf,
                srv: http.srv_conf,
                loc: http.loc_conf,
            })
        }
    }

    /// nginx core's main configuration (phases, variables).
    pub fn core_main_conf(self) -> *mut ngx_http_core_main_conf_t {
        // SAFETY: the main array has a slot for the core module, whose
        // main conf lives in the cycle pool.
        unsafe { *self.main.add(ngx_http_core_module.ctx_index) as *mut _ }
    }

    /// The phase engine nginx compiled from the phase handlers of
    /// the block these arrays belong to (None before nginx built it): one
    /// entry per handler, in the order requests run them.
    ///
    /// nginx builds the array in the cycle pool at `init_phase_handlers` and
    /// reads it for every request; the module only reorders handlers of one
    /// phase before any request runs (`init_module`), which keeps each
    /// entry's checker and `next` with its phase.
    pub fn phase_handlers(self) -> Option<&'static mut [ngx_http_phase_handler_t]> {
        let cmcf = self.core_main_conf();
        // SAFETY: the core module's main conf of the http block (a live
        // cycle's pool), whose phase_engine.handlers is null or the array
        // ended by an entry with no checker.
        unsafe {
            let ph = (*cmcf).phase_engine.handlers;
            if ph.is_null() {
                return None;
            }
            let mut n = 0usize;
            while (*ph.add(n)).checker.is_some() {
                n += 1;
            }
            Some(core::slice::from_raw_parts_mut(ph, n))
        }
    }

    /// This module's slot of the location level (its `LocConf`).
    pub fn module_loc_conf(self) -> *mut c_void {
        // SAFETY: the loc array has one slot per http module, as main.
        unsafe { *self.loc.add(super::module::ctx_index()) }
    }

    /// This module's slot of the main level (its `MainConf`).
    pub fn module_main_conf(self) -> *mut c_void {
        // SAFETY: the main array has one slot per http module (see the
        // constructors), our index among them.
        unsafe { *self.main.add(super::module::ctx_index()) }
    }
}

/// Why a directive setter or a configuration hook failed.
#[derive(Debug, PartialEq, Eq)]
pub enum ConfError {
    /// nginx logs `"<directive>" directive <text>` (`"is duplicate"`,
    /// `"invalid number"`).
    Msg(&'static CStr),
    /// The setter logged the reason itself.
    Logged,
}

pub type SetResult = Result<(), ConfError>;

/// `NGX_CONF_OK`.
pub const CONF_OK: *mut c_char = core::ptr::null_mut();

/// `NGX_CONF_ERROR` (`(char *) -1`).
pub fn conf_error() -> *mut c_char {
    usize::MAX as *mut c_char
}

/// A setter's result as nginx's `char *`.
pub fn conf_result(r: SetResult) -> *mut c_char {
    match r {
        Ok(()) => CONF_OK,
        Err(ConfError::Msg(m)) => m.as_ptr() as *mut c_char,
        Err(ConfError::Logged) => conf_error(),
    }
}

/// Why the raw text of a `{ ... }` block could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum BlockError {
    /// The directive comes from `-g` (no file to read from).
    NoFile,
    /// The file ended before the block did.
    Eof,
    /// Reading the file failed (nginx logged why).
    Read,
    /// The file was shorter than its size said.
    ShortRead,
}

impl Conf {
    /// # Safety
    /// `cf` is the configuration nginx passed to the running setter or
    /// hook, and the handle is used only during that call.
    pub unsafe fn from_raw(cf: *mut ngx_conf_t) -> Conf {
        Conf(NonNull::new(cf).expect("nginx passes a conf"))
    }

    pub fn as_ptr(self) -> *mut ngx_conf_t {
        self.0.as_ptr()
    }

    fn get(&self) -> &ngx_conf_t {
        // SAFETY: the handle's invariant: cf is alive during the call, and
        // nginx does not change it while our code runs.
        unsafe { self.0.as_ref() }
    }

    /// The directive's words (`cf->args`).
    pub fn args(&self) -> ConfArgs<'_> {
        let a = self.get().args;
        if a.is_null() {
            return ConfArgs(&[]);
        }
        // SAFETY: cf->args is nginx's array of ngx_str_t holding the words
        // of the directive being handled, in the conf's temporary pool.
        unsafe {
            let a = &*a;
            if a.nelts == 0 || a.elts.is_null() {
                ConfArgs(&[])
            } else {
                ConfArgs(core::slice::from_raw_parts(
                    a.elts as *const ngx_str_t,
                    a.nelts,
                ))
            }
        }
    }

    /// `ngx_conf_log_error`: the message with the conf file and line.
    pub fn log(self, level: u32, msg: &str) {
        // SAFETY: the live conf; "%*s" reads exactly len bytes.
        unsafe {
            ngx_conf_log_error(
                level as ngx_uint_t,
                self.as_ptr(),
                0,
                c"%*s".as_ptr(),
                msg.len(),
                msg.as_ptr(),
            )
        }
    }

    /// The log of the cycle being configured.
    pub fn raw_log(self) -> *mut ngx_log_t {
        self.get().log
    }

    /// The cycle being configured.
    pub fn cycle(self) -> Cycle {
        // SAFETY: a conf belongs to a live cycle (the one being built).
        unsafe { Cycle::from_raw(self.get().cycle) }.expect("a conf has a cycle")
    }

    /// The configuration pool (the cycle's): values allocated there live as
    /// long as the configuration.
    pub fn pool(self) -> Pool {
        // SAFETY: cf->pool is the live cycle pool.
        unsafe { Pool::from_ngx_pool(self.get().pool) }
    }

    /// Moves `value` into the configuration pool, dropped with it; None
    /// when out of memory.
    pub fn alloc<T>(self, value: T) -> Option<NonNull<T>> {
        NonNull::new(self.pool().allocate(value))
    }

    /// Copies `s` into the configuration pool, NUL-terminated (nginx's file
    /// and TLS helpers read C strings); None when out of memory.
    pub fn pool_cstr(self, s: &[u8]) -> Option<ngx_str_t> {
        let p = self.pool().alloc_unaligned(s.len() + 1) as *mut u8;
        if p.is_null() {
            return None;
        }
        // SAFETY: p has room for s.len() + 1 bytes.
        unsafe {
            core::ptr::copy_nonoverlapping(s.as_ptr(), p, s.len());
            *p.add(s.len()) = 0;
        }
        Some(ngx_str_t {
            len: s.len(),
            data: p,
        })
    }

    /// The file being parsed and the current line (the directive's).
    pub fn file(&self) -> (&[u8], usize) {
        // SAFETY: conf_file is the live file record while nginx parses.
        match unsafe { self.get().conf_file.as_ref() } {
            Some(f) => (str_bytes(&f.file.name), f.line),
            None => (&[], 0),
        }
    }

    /// `cf->ctx` of an http-level block: this module's slot of the main
    /// conf array (our `MainConf`), null outside `http {}`.
    pub fn module_main_conf(self) -> *mut c_void {
        let ctx = self.get().ctx as *const ngx_http_conf_ctx_t;
        // SAFETY: inside http {}, cf->ctx is an ngx_http_conf_ctx_t whose
        // main_conf array has one slot per http module.
        unsafe {
            match ctx.as_ref() {
                Some(c) if !c.main_conf.is_null() => *c.main_conf.add(super::module::ctx_index()),
                _ => core::ptr::null_mut(),
            }
        }
    }

    /// nginx core's location configuration of the block being parsed (a
    /// location's, when the directive is in one).
    fn core_loc_conf(self) -> *mut ngx_http_core_loc_conf_t {
        let ctx = self.get().ctx as *const ngx_http_conf_ctx_t;
        // SAFETY: inside http {}, cf->ctx is an ngx_http_conf_ctx_t whose
        // loc_conf array has the core module's slot.
        unsafe { *(*ctx).loc_conf.add(ngx_http_core_module.ctx_index) as *mut _ }
    }

    /// Makes `handler` the content handler of the location being parsed
    /// (how content handlers install themselves).
    pub fn set_content_handler(self, handler: ngx_http_handler_pt) {
        // SAFETY: the core loc conf of the block, in the conf pool.
        unsafe { (*self.core_loc_conf()).handler = handler };
    }

    /// nginx core's main configuration (phases, variables).
    pub fn core_main_conf(self) -> *mut ngx_http_core_main_conf_t {
        let ctx = self.get().ctx as *const ngx_http_conf_ctx_t;
        // SAFETY: as core_loc_conf, for the main_conf array.
        unsafe { *(*ctx).main_conf.add(ngx_http_core_module.ctx_index) as *mut _ }
    }

    /// Appends `handler` to the handlers of http phase `phase`
    /// (`NGX_HTTP_*_PHASE`), as postconfiguration hooks do; false when out
    /// of memory.
    pub fn add_phase_handler(self, phase: usize, handler: ngx_http_handler_pt) -> bool {
        let cmcf = self.core_main_conf();
        // SAFETY: the core main conf of the http block being configured;
        // its phases' handler arrays hold ngx_http_handler_pt and are built
        // into the phase engine after postconfiguration.
        unsafe {
            let Some(ph) = (*cmcf).phases.get_mut(phase) else {
                return false;
            };
            let slot = ngx_array_push(&mut ph.handlers) as *mut ngx_http_handler_pt;
            if slot.is_null() {
                return false;
            }
            slot.write(handler);
        }
        true
    }

    /// The log of the cycle being configured, as a handle.
    pub fn error_log(self) -> super::log::Log {
        // SAFETY: the cycle's log outlives its configuration pass.
        unsafe { super::log::Log::from_raw(self.raw_log()) }
    }

    /// The index of variable `name`, declaring its use (None: nginx logged
    /// why not).
    pub fn variable_index(self, name: &[u8]) -> Option<usize> {
        let mut s = ngx_str_t {
            len: name.len(),
            data: name.as_ptr() as *mut u8,
        };
        // SAFETY: the live conf; nginx copies the name it keeps.
        let i = unsafe { ngx_http_get_variable_index(self.as_ptr(), &mut s) };
        usize::try_from(i).ok()
    }

    /// Reads the raw text of the `{ ... }` block that follows the directive
    /// from the conf file's buffer, leaving nginx's parser right after the
    /// block. `scan(text, eof)` says where the block ends in the text read
    /// so far (the index of its closing `}`); the buffer is refilled from
    /// the file (and the `nginx -T` dump kept) as nginx's own tokenizer
    /// does, and the line count follows the text consumed.
    pub fn read_block(
        self,
        mut scan: impl FnMut(&[u8], bool) -> Option<usize>,
    ) -> Result<Vec<u8>, BlockError> {
        // SAFETY: while nginx parses a file, conf_file, its buffer and file
        // descriptor are valid; the buffer holds [start, end) with unread
        // bytes in [pos, last), and we refill it the way ngx_conf_read_token
        // does (pos/last inside start..end, dump appended with what is read).
        unsafe {
            let cfile = self.get().conf_file;
            if cfile.is_null() || (*cfile).file.fd == NGX_INVALID_FILE {
                return Err(BlockError::NoFile);
            }
            let b = (*cfile).buffer;
            let start_line = (*cfile).line;
            let size = (*cfile).file.info.st_size;
            let mut code: Vec<u8> = Vec::new();
            loop {
                let base = code.len();
                let avail = (*b).last.offset_from((*b).pos) as usize;
                code.extend_from_slice(core::slice::from_raw_parts((*b).pos, avail));
                let eof = (*cfile).file.offset >= size;
                if let Some(i) = scan(&code, eof) {
                    (*b).pos = (*b).pos.add(i + 1 - base);
                    code.truncate(i);
                    (*cfile).line += code.iter().filter(|&&c| c == b'\n').count();
                    return Ok(code);
                }
                if eof {
                    (*cfile).line = start_line;
                    return Err(BlockError::Eof);
                }
                let room = (*b).end.offset_from((*b).start) as i64;
                let want = (size - (*cfile).file.offset).min(room) as usize;
                let n = ngx_read_file(&mut (*cfile).file, (*b).start, want, (*cfile).file.offset);
                if n == NGX_ERROR as isize {
                    return Err(BlockError::Read);
                }
                if n as usize != want {
                    return Err(BlockError::ShortRead);
                }
                (*b).pos = (*b).start;
                (*b).last = (*b).start.add(n as usize);
                let dump = (*cfile).dump;
                if !dump.is_null() {
                    core::ptr::copy_nonoverlapping((*b).pos, (*dump).last, n as usize);
                    (*dump).last = (*dump).last.add(n as usize);
                }
            }
        }
    }
}

/// The bytes of an nginx string of the configuration (its words, file
/// names, prefixes: they live as long as the configuration).
pub fn str_of(s: &ngx_str_t) -> &[u8] {
    str_bytes(s)
}

/// nginx's time value (`60s`, `500ms`, a bare number is seconds) in ms.
pub fn parse_time(v: &[u8]) -> Option<ngx_msec_t> {
    let mut s = ngx_str_t {
        len: v.len(),
        data: v.as_ptr() as *mut u8,
    };
    // SAFETY: ngx_parse_time only reads len bytes.
    let rc = unsafe { ngx_parse_time(&mut s, 0) };
    (rc != NGX_ERROR as ngx_int_t).then_some(rc as ngx_msec_t)
}

/// nginx's size value (`4k`, `1m`).
pub fn parse_size(v: &[u8]) -> Option<usize> {
    let mut s = ngx_str_t {
        len: v.len(),
        data: v.as_ptr() as *mut u8,
    };
    // SAFETY: ngx_parse_size only reads len bytes.
    let rc = unsafe { ngx_parse_size(&mut s) };
    usize::try_from(rc).ok()
}

/// A string with nginx variables, compiled at configuration time (in the
/// configuration pool, so it lives as long as any request using it).
#[derive(Clone, Copy)]
pub struct ComplexValue(NonNull<ngx_http_complex_value_t>);

impl ComplexValue {
    /// Compiles `value` (a word of the directive being parsed); None when
    /// nginx refused it (and logged why).
    pub fn compile(cf: Conf, value: &ngx_str_t) -> Option<ComplexValue> {
        // SAFETY: nginx's complex-value compiler on the live conf; the
        // value is a word in the conf pool, which the compiled value may
        // keep pointing into.
        unsafe {
            let cv = ngx_pcalloc(
                (*cf.as_ptr()).pool,
                core::mem::size_of::<ngx_http_complex_value_t>(),
            ) as *mut ngx_http_complex_value_t;
            let cv = NonNull::new(cv)?;
            let mut ccv: ngx_http_compile_complex_value_t = core::mem::zeroed();
            ccv.cf = cf.as_ptr();
            ccv.value = value as *const ngx_str_t as *mut ngx_str_t;
            ccv.complex_value = cv.as_ptr();
            if ngx_http_compile_complex_value(&mut ccv) != NGX_OK as ngx_int_t {
                return None;
            }
            Some(ComplexValue(cv))
        }
    }

    pub fn as_ptr(self) -> *mut ngx_http_complex_value_t {
        self.0.as_ptr()
    }

    /// Evaluates the value for request `r` and hands it to `f`; None when
    /// nginx failed to.
    pub fn eval<R>(self, r: Request, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        let mut v = ngx_str_t {
            len: 0,
            data: core::ptr::null_mut(),
        };
        // SAFETY: a value compiled for http requests, evaluated for a live
        // one; the result lives in the request pool, longer than `f` runs.
        let rc = unsafe { ngx_http_complex_value(r.as_ptr(), self.as_ptr(), &mut v) };
        (rc == NGX_OK as ngx_int_t).then(|| f(str_bytes(&v)))
    }
}

//! A configured `*_by_lua*` handler and its (cached) compiled chunk.
use std::ffi::CString;

use core::ffi::{c_char, c_int};
use core::ptr;

use nginx_sys::*;

use super::raw::*;
use super::vm::{Vm, CODE_CACHE};
use crate::lua::phase::Phase;

pub enum FilePath {
    /// Absolute path, resolved against the prefix at configuration time.
    Static(CString),
    /// A path with nginx variables, evaluated per request.
    Complex(*mut ngx_http_complex_value_t),
}

pub enum Source {
    Inline(Vec<u8>),
    File(FilePath),
}

pub struct Handler {
    pub phase: Phase,
    pub source: Source,
    /// `=content_by_lua(nginx.conf:12)` for inline code.
    pub chunkname: CString,
    /// Code cache slot.
    pub id: i32,
}

fn rebase(prefix: &[u8], path: &[u8]) -> Vec<u8> {
    if path.first() == Some(&b'/') {
        path.to_vec()
    } else {
        let mut p = prefix.to_vec();
        if !p.is_empty() && !p.ends_with(b"/") {
            p.push(b'/');
        }
        p.extend_from_slice(path);
        p
    }
}

fn prefix() -> Vec<u8> {
    // SAFETY: ngx_cycle and its prefix string are valid in every process.
    unsafe {
        let c = ngx_cycle;
        let s = &(*c).prefix;
        if s.len == 0 {
            Vec::new()
        } else {
            core::slice::from_raw_parts(s.data, s.len).to_vec()
        }
    }
}

impl FilePath {
    /// Compiles a `*_by_lua_file` argument.
    ///
    /// # Safety
    /// `cf` must be the conf being parsed and `arg` a string from its args.
    pub unsafe fn compile(
        cf: *mut ngx_conf_t,
        arg: &ngx_str_t,
        allow_vars: bool,
    ) -> Option<FilePath> {
        // SAFETY: arg points at len bytes owned by the conf pool.
        let bytes = unsafe { core::slice::from_raw_parts(arg.data, arg.len) };
        if allow_vars && bytes.contains(&b'$') {
            // SAFETY: standard complex-value compilation into pool memory.
            unsafe {
                let cv = ngx_pcalloc((*cf).pool, core::mem::size_of::<ngx_http_complex_value_t>())
                    as *mut ngx_http_complex_value_t;
                if cv.is_null() {
                    return None;
                }
                let mut ccv: ngx_http_compile_complex_value_t = core::mem::zeroed();
                ccv.cf = cf;
                ccv.value = arg as *const ngx_str_t as *mut ngx_str_t;
                ccv.complex_value = cv;
                if ngx_http_compile_complex_value(&mut ccv) != NGX_OK as ngx_int_t {
                    return None;
                }
                return Some(FilePath::Complex(cv));
            }
        }
        // SAFETY: cycle prefix valid while parsing.
        let prefix = unsafe {
            let s = &(*(*cf).cycle).prefix;
            core::slice::from_raw_parts(s.data, s.len).to_vec()
        };
        CString::new(rebase(&prefix, bytes))
            .ok()
            .map(FilePath::Static)
    }
}

/// Why a handler's code could not be loaded: the logged message, and the
/// status upstream answers a request with when the file itself could not
/// be read (404 when it does not exist, 503 otherwise; other failures
/// are 500s).
pub struct LoadError {
    pub msg: String,
    pub status: Option<ngx_uint_t>,
}

impl From<&str> for LoadError {
    fn from(msg: &str) -> Self {
        LoadError {
            msg: msg.into(),
            status: None,
        }
    }
}

impl From<String> for LoadError {
    fn from(msg: String) -> Self {
        LoadError { msg, status: None }
    }
}

impl From<LoadError> for String {
    fn from(e: LoadError) -> Self {
        e.msg
    }
}

impl Handler {
    /// [`Handler::push`] for the VM `vm`: a chunk compiled with the code
    /// cache on also gets a registry ref of its own, so that later runs
    /// find it with one array lookup instead of the code cache table's two
    /// lookups and a stack shuffle.
    ///
    /// # Safety
    /// As `push`; `L` is a state of `vm`.
    pub unsafe fn push_in(
        &self,
        vm: &mut Vm,
        L: *mut lua_State,
        r: *mut ngx_http_request_t,
        cache: bool,
    ) -> Result<(), LoadError> {
        let fixed = cache && !matches!(self.source, Source::File(FilePath::Complex(_)));
        // SAFETY: the caller's promise; a ref of vm's registry holds the
        // handler's function.
        unsafe {
            if fixed {
                if let Some(f) = vm.code_ref(self.id) {
                    lua_rawgeti_(L, LUA_REGISTRYINDEX, f);
                    return Ok(());
                }
            }
            self.push(L, r, cache)?;
            if fixed {
                lua_pushvalue(L, -1);
                vm.set_code_ref(self.id, luaL_ref(L, LUA_REGISTRYINDEX));
            }
        }
        Ok(())
    }

    /// Pushes the handler's compiled function onto `L`'s stack.
    ///
    /// # Safety
    /// `L` is the cycle's main state; `r` is the live request for handlers
    /// whose file path has variables (may be null otherwise).
    pub unsafe fn push(
        &self,
        L: *mut lua_State,
        r: *mut ngx_http_request_t,
        cache: bool,
    ) -> Result<(), LoadError> {
        // SAFETY: balanced stack operations on a valid state.
        unsafe {
            let path: Option<CString> = match &self.source {
                Source::Inline(_) => None,
                Source::File(FilePath::Static(p)) => Some(p.clone()),
                Source::File(FilePath::Complex(cv)) => {
                    let mut v = ngx_str_t {
                        len: 0,
                        data: ptr::null_mut(),
                    };
                    if r.is_null() || ngx_http_complex_value(r, *cv, &mut v) != NGX_OK as ngx_int_t
                    {
                        return Err("failed to evaluate the Lua file path".into());
                    }
                    let raw = if v.len == 0 {
                        &[][..]
                    } else {
                        core::slice::from_raw_parts(v.data, v.len)
                    };
                    if raw.is_empty() {
                        return Err("failed to load external Lua file: empty file path".into());
                    }
                    Some(CString::new(rebase(&prefix(), raw)).map_err(|_| "bad Lua file path")?)
                }
            };
            let dynamic = matches!(self.source, Source::File(FilePath::Complex(_)));
            if cache {
                // The raw calls: mlua's lua_rawgeti adds a lua_type call.
                lua_rawgeti_(L, LUA_REGISTRYINDEX, CODE_CACHE);
                if let (true, Some(p)) = (dynamic, &path) {
                    lua_getfield(L, -1, p.as_ptr());
                } else {
                    lua_rawgeti_(L, -1, self.id);
                }
                if lua_type(L, -1) == LUA_TFUNCTION {
                    lua_remove(L, -2);
                    return Ok(());
                }
                lua_pop(L, 2);
            }
            let rc: c_int = match (&self.source, &path) {
                (Source::Inline(code), _) => luaL_loadbuffer(
                    L,
                    code.as_ptr() as *const c_char,
                    code.len(),
                    self.chunkname.as_ptr(),
                ),
                (_, Some(p)) => luaL_loadfile(L, p.as_ptr()),
                _ => unreachable!(),
            };
            // Read before anything else can change errno.
            let errno = std::io::Error::last_os_error().raw_os_error();
            if rc != 0 {
                let msg = String::from_utf8_lossy(to_bytes(L, -1).unwrap_or(b"unknown reason"))
                    .into_owned();
                lua_pop(L, 1);
                let msg = match &path {
                    None => format!("failed to load inlined Lua code: {msg}"),
                    Some(p) => format!(
                        "failed to load external Lua file \"{}\": {msg}",
                        p.to_string_lossy()
                    ),
                };
                let status = (rc == LUA_ERRFILE).then(|| {
                    if errno == Some(libc::ENOENT) {
                        NGX_HTTP_NOT_FOUND as ngx_uint_t
                    } else {
                        NGX_HTTP_SERVICE_UNAVAILABLE as ngx_uint_t
                    }
                });
                return Err(LoadError { msg, status });
            }
            if cache {
                lua_rawgeti_(L, LUA_REGISTRYINDEX, CODE_CACHE);
                lua_pushvalue(L, -2);
                if let (true, Some(p)) = (dynamic, &path) {
                    lua_setfield(L, -2, p.as_ptr());
                } else {
                    lua_rawseti(L, -2, self.id as _);
                }
                lua_pop(L, 1);
            }
            Ok(())
        }
    }
}

//! A configured `*_by_lua*` handler and its (cached) compiled chunk.
use std::ffi::CString;

use core::ffi::{c_char, c_int};

use nginx_sys::*;

use super::raw::*;
use super::vm::{Vm, CODE_CACHE};
use crate::lua::phase::Phase;
use crate::nginx::conf::{str_of as str_bytes, ComplexValue, Conf};
use crate::nginx::cycle::Cycle;
use crate::nginx::request::Request;

pub enum FilePath {
    /// Absolute path, resolved against the prefix at configuration time.
    Static(CString),
    /// A path with nginx variables, evaluated per request.
    Complex(ComplexValue),
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

impl FilePath {
    /// Compiles a `*_by_lua_file` argument (a word of the directive `cf`
    /// parses); variables only where a request runs the handler.
    pub fn compile(cf: Conf, arg: &ngx_str_t, allow_vars: bool) -> Option<FilePath> {
        let bytes = str_bytes(arg);
        if allow_vars && bytes.contains(&b'$') {
            return ComplexValue::compile(cf, arg).map(FilePath::Complex);
        }
        let cycle = cf.cycle();
        CString::new(rebase(cycle.prefix(), bytes))
            .ok()
            .map(FilePath::Static)
    }

    /// The path for request `r`.
    fn path(&self, r: Option<Request>) -> Result<CString, LoadError> {
        match self {
            FilePath::Static(p) => Ok(p.clone()),
            FilePath::Complex(cv) => {
                let raw = r
                    .and_then(|r| cv.eval(r, |v| v.to_vec()))
                    .ok_or("failed to evaluate the Lua file path")?;
                if raw.is_empty() {
                    return Err("failed to load external Lua file: empty file path".into());
                }
                let cycle = Cycle::current();
                Ok(CString::new(rebase(cycle.prefix(), &raw)).map_err(|_| "bad Lua file path")?)
            }
        }
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
        let path: Option<CString> = match &self.source {
            Source::Inline(_) => None,
            // SAFETY: the caller's request, null or live.
            Source::File(f) => Some(f.path(unsafe { Request::from_raw(r) })?),
        };
        // File paths with variables are cached by path, the others by id.
        let key = match (&self.source, &path) {
            (Source::File(FilePath::Complex(_)), Some(p)) => Some(p.as_c_str()),
            _ => None,
        };
        // SAFETY: the registry's code cache is the plain table Vm::new made
        // (no metamethods: the raw reads cannot raise); the stack is left
        // with the cached function, or as it was.
        unsafe {
            if cache {
                // The raw calls: mlua's lua_rawgeti adds a lua_type call.
                lua_rawgeti_(L, LUA_REGISTRYINDEX, CODE_CACHE);
                match key {
                    Some(k) => {
                        lua_getfield(L, -1, k.as_ptr());
                    }
                    None => lua_rawgeti_(L, -1, self.id),
                }
                if lua_type(L, -1) == LUA_TFUNCTION {
                    lua_remove(L, -2);
                    return Ok(());
                }
                lua_pop(L, 2);
            }
        }
        // SAFETY: the loaders push the chunk or an error message and do not
        // raise; the code and the C strings outlive the call.
        let rc: c_int = unsafe {
            match (&self.source, &path) {
                (Source::Inline(code), _) => luaL_loadbuffer(
                    L,
                    code.as_ptr() as *const c_char,
                    code.len(),
                    self.chunkname.as_ptr(),
                ),
                (_, Some(p)) => luaL_loadfile(L, p.as_ptr()),
                (Source::File(_), None) => unreachable!("a file handler has a path"),
            }
        };
        // Read before anything else can change errno.
        let errno = std::io::Error::last_os_error().raw_os_error();
        if rc != 0 {
            // SAFETY: the error message is on top; it is copied, then popped.
            let msg = unsafe {
                let m = String::from_utf8_lossy(to_bytes(L, -1).unwrap_or(b"unknown reason"))
                    .into_owned();
                lua_pop(L, 1);
                m
            };
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
            // SAFETY: the loaded function is on top; a copy goes into the
            // plain code cache table, which is popped again.
            unsafe {
                lua_rawgeti_(L, LUA_REGISTRYINDEX, CODE_CACHE);
                lua_pushvalue(L, -2);
                match key {
                    Some(k) => lua_setfield(L, -2, k.as_ptr()),
                    None => lua_rawseti(L, -2, self.id as _),
                }
                lua_pop(L, 1);
            }
        }
        Ok(())
    }
}

//! The per-cycle LuaJIT VM.
use core::ffi::{c_char, c_int};
use core::ptr;

use super::cfunction::{lua_cfunction, Raise};
use super::raw::*;

include!(concat!(env!("OUT_DIR"), "/lua_lib.rs"));

/// Registry field holding the `ngx.ctx` tables, indexed by request ref.
pub const CTX_TABLES: &core::ffi::CStr = c"ngx_lua_ctx_tables";
/// The `ngx.ctx` slot of `init_worker_by_lua*` and `exit_worker_by_lua*`:
/// upstream runs them on a fake request, whose ctx table lives as long as
/// the handler. Requests' slots start at 1, so 0 is never handed out.
pub const WORKER_CTX_SLOT: c_int = 0;
/// Registry slot of the table of compiled handler chunks, and of the
/// traceback message handler of `pcall`. Negative integer keys, which
/// `luaL_ref` never hands out: looking them up per handler run costs no
/// string interning (`lua_getfield` by name hashed and looked up its key
/// every time) and no new closure (`lua_pushcfunction` made one per call).
pub const CODE_CACHE: c_int = -0x6e67_0001;
const TRACEBACK: c_int = -0x6e67_0002;
/// Registry slot of the metatable of cosockets' GC anchors (see
/// `cfunction::State::push_anchor`).
pub const SOCKET_ANCHOR_MT: c_int = -0x6e67_0003;
/// Registry slots of ngx.timer's callbacks table (id -> function and
/// arguments) and of the Lua function that runs a callback by id.
pub const TIMERS: c_int = -0x6e67_0004;
pub const TIMER_RUN: c_int = -0x6e67_0005;

pub struct Vm {
    state: *mut lua_State,
    ctx_free: Vec<c_int>,
    ctx_next: c_int,
    /// Entry coroutines that returned normally, still anchored in the
    /// registry, for the next handler to reuse (`lua_thread_cache_max_entries`).
    thread_cache: Vec<(*mut lua_State, c_int)>,
    pub thread_cache_max: usize,
    /// Registry refs of cached handler chunks, by handler id (see
    /// `Handler::push_in`).
    code_refs: Vec<c_int>,
    /// `lua_max_memory`'s counting allocator, when set.
    budget: Option<Box<super::limits::Budget>>,
    /// A registry ref of `pcall`'s message handler too: a small positive
    /// key, found in the registry's array part (the fixed negative slot
    /// is hashed, a chain walk in a registry holding many refs).
    traceback_ref: c_int,
    /// Registry refs of what the [`TIMERS`] and [`TIMER_RUN`] slots hold
    /// once lua-lib is loaded (the same objects, found in the array part;
    /// `LUA_NOREF` in a VM without ngx.timer): a timer's creation and run
    /// look them up.
    timers_ref: c_int,
    timer_run_ref: c_int,
}

/// A module of C functions for lua-lib: its `package.loaded` name and its
/// functions.
pub type Preload = (
    &'static core::ffi::CStr,
    &'static [(&'static core::ffi::CStr, lua_CFunction)],
);

/// `lua_thread_cache_max_entries`' default, as upstream.
pub const THREAD_CACHE_DEFAULT: usize = 1024;

lua_cfunction! {
    /// `package.loaders` entry serving `lua-lib/` from the module binary,
    /// so `require "resty.core.base"` finds ours before any file on disk.
    fn embedded_searcher(L) {
        // `require` calls the searcher with the module name as argument 1.
        let Some((n, src)) = L
            .bytes_at(1)
            .and_then(|name| EMBEDDED.iter().find(|(n, _)| n.as_bytes() == name))
        else {
            L.push_str(b"\n\tno module embedded in ngx_http_lua_module");
            return Ok(1);
        };
        let mut chunk = b"@".to_vec();
        chunk.extend_from_slice(n.replace('.', "/").as_bytes());
        chunk.extend_from_slice(b".lua\0");
        // SAFETY: the embedded source and the NUL-terminated chunk name
        // outlive the call; luaL_loadbuffer pushes the chunk or a message
        // and does not raise.
        let rc = unsafe {
            luaL_loadbuffer(
                L.as_ptr(),
                src.as_ptr() as *const c_char,
                src.len(),
                chunk.as_ptr() as *const c_char,
            )
        };
        if rc != 0 {
            return Err(Raise::Value);
        }
        Ok(1)
    }
}

/// Replaces `;;` with the default path and `$prefix`/`${prefix}` with the
/// server prefix, as upstream's `lua_package_path` does.
pub fn expand_path(spec: &[u8], default: &[u8], prefix: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(spec.len() + default.len());
    let mut i = 0;
    while i < spec.len() {
        if spec[i..].starts_with(b";;") {
            out.push(b';');
            out.extend_from_slice(default);
            out.push(b';');
            i += 2;
        } else if spec[i..].starts_with(b"${prefix}") {
            out.extend_from_slice(prefix);
            i += 9;
        } else if spec[i..].starts_with(b"$prefix") {
            out.extend_from_slice(prefix);
            i += 7;
        } else {
            out.push(spec[i]);
            i += 1;
        }
    }
    out
}

/// How many small registry refs [`reserve_registry_refs`] sets aside:
/// room for the message handler, the timer slots and the first handler
/// chunks and entry coroutines. (64 measured the same everywhere but in
/// capture-multi, where the other layout of the registry made LuaJIT
/// compile other traces, about 800 instructions more with two seeds of
/// three.)
const RESERVED_REFS: usize = 16;

/// Takes refs 1..=RESERVED_REFS and frees them again, so they wait on
/// `luaL_ref`'s free list while the registry's array part holds their
/// slots (a table grows its array part when integer keys fill it; it
/// does not shrink it). The refs taken first and looked up on every run
/// (pcall's message handler, handler chunks, the timer slots, entry
/// coroutines) then cost an array index instead of a walk of the hash
/// part, which the registry's many string keys make long: about 60
/// instructions a lookup.
///
/// # Safety
/// `L` is a fresh state: no ref taken yet.
unsafe fn reserve_registry_refs(L: *mut lua_State) {
    let mut refs = [0; RESERVED_REFS];
    // SAFETY: balanced: each pushed value is popped by luaL_ref.
    unsafe {
        for r in refs.iter_mut() {
            lua_pushboolean(L, 1);
            *r = luaL_ref(L, LUA_REGISTRYINDEX);
        }
        for &r in refs.iter().rev() {
            luaL_unref(L, LUA_REGISTRYINDEX, r);
        }
    }
}

impl Vm {
    /// A coroutine for an entry thread, anchored in the registry, and
    /// whether it came from the cache: a cached one when there is one, else
    /// a new one. Saves the allocation of a state and its stack per handler
    /// run, and the garbage it becomes.
    ///
    /// # Safety
    /// Called in the worker, outside any running Lua code of this VM.
    pub unsafe fn new_thread(&mut self) -> (*mut lua_State, c_int, bool) {
        let L = self.state;
        // SAFETY: our live state; the cached coroutine is anchored, dead
        // and empty (see recycle_thread).
        unsafe {
            if let Some((co, co_ref)) = self.thread_cache.pop() {
                // A handler may have replaced its thread's globals with
                // setfenv(0, ...): the next one starts with the real ones.
                lua_pushvalue(L, LUA_GLOBALSINDEX);
                lua_xmove(L, co, 1);
                lua_replace(co, LUA_GLOBALSINDEX);
                return (co, co_ref, true);
            }
            let co = lua_newthread(L);
            (co, luaL_ref(L, LUA_REGISTRYINDEX), false)
        }
    }

    /// Keeps an entry coroutine that has just returned (status OK, no
    /// frame left) for reuse; false when the cache is full, and the caller
    /// drops the anchor as usual.
    ///
    /// # Safety
    /// `co` is a coroutine of this VM that returned normally from its
    /// function and is not running; `co_ref` anchors it.
    pub unsafe fn recycle_thread(&mut self, co: *mut lua_State, co_ref: c_int) -> bool {
        // SAFETY: see the contract; lua_settop only drops its results.
        unsafe {
            if self.thread_cache.len() >= self.thread_cache_max || lua_status(co) != 0 {
                return false;
            }
            lua_settop(co, 0);
        }
        self.thread_cache.push((co, co_ref));
        true
    }

    /// Creates the VM, registers `preload` (tables of C functions that
    /// lua-lib wraps, put in `package.loaded` under their names), then
    /// loads `resty.core` (which builds `ngx.*`).
    pub fn new(
        path: Option<&[u8]>,
        cpath: Option<&[u8]>,
        prefix: &[u8],
        preload: &[Preload],
    ) -> Result<Vm, String> {
        Self::with_init(path, cpath, prefix, preload, b"require('resty.core')")
    }

    /// As [`Vm::new`], running `init` instead of loading `resty.core` (a
    /// VM with another set of `ngx.*`, such as a worker thread's).
    pub fn with_init(
        path: Option<&[u8]>,
        cpath: Option<&[u8]>,
        prefix: &[u8],
        preload: &[Preload],
        init: &[u8],
    ) -> Result<Vm, String> {
        // SAFETY: a fresh state owned by the returned Vm; every stack
        // operation below is balanced and checked.
        unsafe {
            let L = luaL_newstate();
            if L.is_null() {
                return Err("failed to create the Lua VM".into());
            }
            let mut vm = Vm {
                state: L,
                ctx_free: Vec::new(),
                ctx_next: 1,
                thread_cache: Vec::new(),
                thread_cache_max: THREAD_CACHE_DEFAULT,
                code_refs: Vec::new(),
                budget: None,
                traceback_ref: LUA_NOREF,
                timers_ref: LUA_NOREF,
                timer_run_ref: LUA_NOREF,
            };
            luaL_openlibs(L);
            reserve_registry_refs(L);

            lua_getglobal(L, c"package".as_ptr());
            for (field, spec) in [(c"path", path), (c"cpath", cpath)] {
                if let Some(spec) = spec {
                    lua_getfield(L, -1, field.as_ptr());
                    let default = to_bytes(L, -1).unwrap_or_default().to_vec();
                    lua_pop(L, 1);
                    push_bytes(L, &expand_path(spec, &default, prefix));
                    lua_setfield(L, -2, field.as_ptr());
                }
            }
            // table.insert(package.loaders, 2, embedded_searcher)
            lua_getfield(L, -1, c"loaders".as_ptr());
            let n = lua_objlen(L, -1) as c_int;
            let mut i = n;
            while i >= 2 {
                lua_rawgeti(L, -1, i as _);
                lua_rawseti(L, -2, (i + 1) as _);
                i -= 1;
            }
            lua_pushcfunction(L, embedded_searcher);
            lua_rawseti(L, -2, 2);
            lua_pop(L, 2);

            lua_newtable(L);
            lua_rawseti_(L, LUA_REGISTRYINDEX, CODE_CACHE);
            lua_pushcfunction(L, traceback);
            lua_pushvalue(L, -1);
            vm.traceback_ref = luaL_ref(L, LUA_REGISTRYINDEX);
            lua_rawseti_(L, LUA_REGISTRYINDEX, TRACEBACK);
            lua_newtable(L);
            lua_setfield(L, LUA_REGISTRYINDEX, CTX_TABLES.as_ptr());

            // `ngx` itself, with the one value Lua code cannot make:
            // ngx.null, a NULL light userdata (what cjson.null is too).
            lua_createtable(L, 0, 128);
            lua_pushlightuserdata(L, ptr::null_mut());
            lua_setfield(L, -2, c"null".as_ptr());
            lua_setglobal(L, c"ngx".as_ptr());

            lua_getglobal(L, c"package".as_ptr());
            lua_getfield(L, -1, c"loaded".as_ptr());
            for (module, funcs) in preload {
                lua_createtable(L, 0, funcs.len() as c_int);
                for (name, f) in *funcs {
                    lua_pushcfunction(L, *f);
                    lua_setfield(L, -2, name.as_ptr());
                }
                lua_setfield(L, -2, module.as_ptr());
            }
            lua_getglobal(L, c"ngx".as_ptr());
            lua_setfield(L, -2, c"ngx".as_ptr());
            lua_pop(L, 2);

            vm.run_string(init, c"=ngx_lua_init")?;
            vm.timers_ref = vm.slot_ref(TIMERS);
            vm.timer_run_ref = vm.slot_ref(TIMER_RUN);
            Ok(vm)
        }
    }

    /// Puts the limits' bookkeeping under the VM, capping its heap at
    /// `limit` bytes (`lua_max_memory`; `usize::MAX` for none); Err with
    /// the heap's size when it already holds that much.
    pub fn set_memory_limit(&mut self, limit: usize) -> Result<(), usize> {
        if self.budget.is_some() {
            return Ok(());
        }
        // SAFETY: our main state, running no Lua code (configuration
        // time); the budget is kept in the Vm and uninstalled in drop.
        self.budget = Some(unsafe { super::limits::install(self.state, limit)? });
        Ok(())
    }

    pub fn state(&self) -> *mut lua_State {
        self.state
    }

    /// Bytes of the VM's heap (`collectgarbage("count")`, garbage not yet
    /// collected included).
    pub fn memory_bytes(&self) -> usize {
        // SAFETY: our live main state; counting reads the collector's
        // total, allocates nothing and runs no Lua code, so it is allowed
        // while Lua code is mid-call into us.
        unsafe {
            lua_gc(self.state, LUA_GCCOUNT, 0).max(0) as usize * 1024
                + lua_gc(self.state, LUA_GCCOUNTB, 0).max(0) as usize
        }
    }

    /// The main state, as a handle for the stack operations of
    /// [`State`](super::cfunction::State).
    /// A registry ref of the value in the fixed slot `slot`, or
    /// `LUA_NOREF` when the slot is empty.
    ///
    /// # Safety
    /// Outside any running Lua code of this VM.
    unsafe fn slot_ref(&self, slot: c_int) -> c_int {
        let L = self.state;
        // SAFETY: the VM's live main state; balanced: the value is pushed,
        // then popped by luaL_ref or lua_pop.
        unsafe {
            lua_rawgeti_(L, LUA_REGISTRYINDEX, slot);
            if lua_type(L, -1) == LUA_TNIL {
                lua_pop(L, 1);
                return LUA_NOREF;
            }
            luaL_ref(L, LUA_REGISTRYINDEX)
        }
    }

    /// The registry key to read the fixed slot `slot` ([`TIMERS`] or
    /// [`TIMER_RUN`]) by: the VM's ref of its value when it has one.
    #[inline]
    pub fn slot_key(&self, slot: c_int) -> c_int {
        let r = match slot {
            TIMERS => self.timers_ref,
            TIMER_RUN => self.timer_run_ref,
            _ => LUA_NOREF,
        };
        if r > 0 {
            r
        } else {
            slot
        }
    }

    /// [`push_traceback`] through the VM's own ref of the handler.
    ///
    /// # Safety
    /// `L` is a state of this VM, with room on its stack.
    #[inline]
    pub unsafe fn push_traceback(&self, L: *mut lua_State) {
        // SAFETY: the caller's promise; the ref was made with the VM.
        unsafe { lua_rawgeti_(L, LUA_REGISTRYINDEX, self.traceback_ref) }
    }

    pub fn main_state(&self) -> super::cfunction::State {
        // SAFETY: the VM owns its live state until it is dropped.
        unsafe { super::cfunction::State::from_raw(self.state) }
    }

    /// Loads and runs a chunk in the main thread with a traceback handler.
    pub fn run_string(&self, code: &[u8], name: &core::ffi::CStr) -> Result<(), String> {
        // SAFETY: valid state; stack restored on every path.
        unsafe {
            let L = self.state;
            let top = lua_gettop(L);
            if luaL_loadbuffer(L, code.as_ptr() as *const c_char, code.len(), name.as_ptr()) != 0 {
                let e = String::from_utf8_lossy(to_bytes(L, -1).unwrap_or(b"unknown reason"))
                    .into_owned();
                lua_settop(L, top);
                return Err(e);
            }
            let r = pcall(L, 0);
            lua_settop(L, top);
            r
        }
    }

    /// `package.preload[name] = f`: a loader another nginx module
    /// registered through the C API (`ngx_http_lua_add_package_preload`).
    pub fn set_preload(&self, name: &core::ffi::CStr, f: lua_CFunction) {
        // SAFETY: our live state, running no Lua code (configuration
        // time); `package.preload` is the plain table luaL_openlibs made,
        // so the field store raises nothing; the stack is left as it was.
        unsafe {
            let L = self.state;
            lua_getglobal(L, c"package".as_ptr());
            lua_getfield(L, -1, c"preload".as_ptr());
            lua_pushcfunction(L, f);
            lua_setfield(L, -2, name.as_ptr());
            lua_pop(L, 2);
        }
    }

    /// Loads a `resty.core` found on `path` (the `lua_package_path`
    /// entries of the configuration, LuaJIT's defaults left out) as what
    /// `require "resty.core"` returns, as upstream loads the first
    /// `resty.core` its path has; ours has built `ngx.*` already. Err with
    /// the Lua error when that file fails.
    pub fn load_path_resty_core(&self, path: &[u8]) -> Result<(), String> {
        // SAFETY: our live state, running no Lua code (configuration
        // time); the lookups are of plain tables checked before use, the
        // call is protected, and the stack is restored.
        unsafe {
            let L = self.state;
            let top = lua_gettop(L);
            lua_getfield(L, LUA_REGISTRYINDEX, c"_LOADED".as_ptr());
            lua_getfield(L, -1, c"resty.core.require".as_ptr());
            if lua_type(L, -1) != LUA_TTABLE {
                lua_settop(L, top);
                return Ok(());
            }
            lua_getfield(L, -1, c"load_from_path".as_ptr());
            push_bytes(L, path);
            let r = if lua_pcall(L, 1, 0, 0) != 0 {
                Err(
                    String::from_utf8_lossy(to_bytes(L, -1).unwrap_or(b"unknown reason"))
                        .into_owned(),
                )
            } else {
                Ok(())
            };
            lua_settop(L, top);
            r
        }
    }

    /// The registry ref of handler `id`'s cached chunk, once it has one.
    pub fn code_ref(&self, id: i32) -> Option<c_int> {
        let r = *self.code_refs.get(usize::try_from(id).ok()?)?;
        (r > 0).then_some(r)
    }

    /// Records the registry ref of handler `id`'s cached chunk.
    pub fn set_code_ref(&mut self, id: i32, r: c_int) {
        let Ok(i) = usize::try_from(id) else {
            return;
        };
        if self.code_refs.len() <= i {
            self.code_refs.resize(i + 1, LUA_NOREF);
        }
        self.code_refs[i] = r;
    }

    /// A fresh `ngx.ctx` slot index (the Lua side stores the table).
    pub fn ctx_ref_new(&mut self) -> c_int {
        self.ctx_free.pop().unwrap_or_else(|| {
            self.ctx_next += 1;
            self.ctx_next - 1
        })
    }

    /// Drops the `ngx.ctx` table of a finished request.
    pub fn ctx_ref_free(&mut self, r: c_int) {
        crate::debug!(
            crate::nginx::log::Log::cycle(),
            "lua release ngx.ctx at ref {r}"
        );
        self.ctx_slot_clear(r);
        self.ctx_free.push(r);
    }

    /// Drops the `ngx.ctx` table `init_worker_by_lua*` or
    /// `exit_worker_by_lua*` made, as upstream's fake request ends.
    pub fn worker_ctx_free(&self) {
        self.ctx_slot_clear(WORKER_CTX_SLOT);
    }

    fn ctx_slot_clear(&self, r: c_int) {
        // SAFETY: our live state; the registry's ctx tables field is the
        // plain table new() made (rawset cannot raise); the stack is left
        // as it was.
        unsafe {
            let L = self.state;
            lua_getfield(L, LUA_REGISTRYINDEX, CTX_TABLES.as_ptr());
            lua_pushnil(L);
            lua_rawseti(L, -2, r as _);
            lua_pop(L, 1);
        }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        // SAFETY: we own the state; no coroutine of it outlives the cycle;
        // LuaJIT's own allocator goes back in before it frees its arena.
        unsafe {
            if let Some(b) = self.budget.as_deref_mut() {
                super::limits::uninstall(self.state, b);
            }
            lua_close(self.state)
        }
    }
}

lua_cfunction! {
    /// The message handler of `pcall`: the error with a traceback.
    fn traceback(L) {
        if !matches!(L.type_of(1), LUA_TSTRING | LUA_TNUMBER) {
            L.push_str(b"unknown reason");
            // SAFETY: the pushed string replaces argument 1 (the error).
            unsafe { lua_replace(L.as_ptr(), 1) };
        }
        // SAFETY: argument 1 is a string or number: lua_tostring gives its
        // text, which luaL_traceback copies into the message it pushes.
        unsafe {
            let msg = lua_tostring(L.as_ptr(), 1);
            luaL_traceback_(L.as_ptr(), L.as_ptr(), msg, 1);
        }
        Ok(1)
    }
}

/// Calls the function below `nargs` arguments on top of `L` with a
/// traceback handler; pops it. The error text carries the traceback.
///
/// # Safety
/// `L` is a valid state holding the function and arguments.
pub unsafe fn pcall(L: *mut lua_State, nargs: c_int) -> Result<(), String> {
    // SAFETY: as pcall_n.
    unsafe { pcall_n(L, nargs, 0) }
}

/// Pushes `pcall`'s message handler (for [`pcall_over_handler`]).
///
/// # Safety
/// `L` is a state of a VM made by [`Vm::new`], with room on its stack.
pub unsafe fn push_traceback(L: *mut lua_State) {
    // SAFETY: the caller's promise; the slot was set when the VM was made.
    unsafe { lua_rawgeti_(L, LUA_REGISTRYINDEX, TRACEBACK) }
}

/// Calls the function on top of `L` (no arguments, no results) with the
/// message handler [`push_traceback`] pushed just below it, and pops
/// both: the same as [`pcall`] without moving the handler under the
/// function and out again.
///
/// # Safety
/// `L` holds the handler, then the function, on top of its stack.
pub unsafe fn pcall_over_handler(L: *mut lua_State) -> Result<(), String> {
    // SAFETY: stack discipline: [.. handler f] -> [..].
    unsafe {
        let rc = {
            let _step = super::limits::step(L);
            lua_pcall(L, 0, 0, -2)
        };
        if rc != 0 {
            let e =
                String::from_utf8_lossy(to_bytes(L, -1).unwrap_or(b"unknown reason")).into_owned();
            lua_pop(L, 2);
            return Err(e);
        }
        lua_pop(L, 1);
        Ok(())
    }
}

/// `pcall` keeping `nresults` results on the stack when it succeeds.
///
/// # Safety
/// `L` is a valid state holding the function and arguments.
pub unsafe fn pcall_n(L: *mut lua_State, nargs: c_int, nresults: c_int) -> Result<(), String> {
    // SAFETY: L holds the function and its arguments (the contract); the
    // handler goes below them and is removed after lua_pcall, which catches
    // every error: [.. f args] -> [.. results] or [.. message], popped.
    unsafe {
        let base = lua_gettop(L) - nargs;
        lua_rawgeti_(L, LUA_REGISTRYINDEX, TRACEBACK);
        lua_insert(L, base);
        let rc = {
            let _step = super::limits::step(L);
            lua_pcall(L, nargs, nresults, base)
        };
        lua_remove(L, base);
        if rc != 0 {
            let e =
                String::from_utf8_lossy(to_bytes(L, -1).unwrap_or(b"unknown reason")).into_owned();
            lua_pop(L, 1);
            return Err(e);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::expand_path;

    #[test]
    fn package_path_expansion() {
        assert_eq!(
            expand_path(b"/a/?.lua;;", b"./?.lua", b"/p/"),
            b"/a/?.lua;./?.lua;".to_vec()
        );
        assert_eq!(
            expand_path(b"$prefix/lib/?.lua", b"", b"/srv"),
            b"/srv/lib/?.lua".to_vec()
        );
        assert_eq!(
            expand_path(b"${prefix}x;;", b"d", b"/s/"),
            b"/s/x;d;".to_vec()
        );
    }
}

//! `lua_CFunction`s under the panic policy.
//!
//! A Rust panic must not unwind into LuaJIT (LuaJIT would catch it as a
//! foreign exception and Rust aborts when a foreign runtime drops one of
//! its panics), and a Lua error must not be raised inside `catch_unwind`
//! (Rust may abort on a foreign exception there). So a C function's Rust
//! body runs inside [`guard_lua`] and does not raise: it returns a
//! [`Raise`], which is raised after the guard, with the same text the C
//! API's raising helpers would give.
use core::ffi::{c_int, CStr};
use core::ptr::NonNull;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::phase::Phase;
use super::raw::*;

/// A Lua state a C function was called with (or a coroutine of its VM).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct State(NonNull<lua_State>);

impl State {
    /// # Safety
    /// `L` is a live state of the worker's VM, used only while it is.
    pub unsafe fn from_raw(L: *mut lua_State) -> State {
        State(NonNull::new(L).expect("LuaJIT passes a state"))
    }

    pub fn as_ptr(self) -> *mut lua_State {
        self.0.as_ptr()
    }

    pub fn top(self) -> c_int {
        // SAFETY: a live state.
        unsafe { lua_gettop(self.as_ptr()) }
    }

    /// The type of the value at `idx` (`LUA_TNONE` past the top).
    pub fn type_of(self, idx: c_int) -> c_int {
        // SAFETY: a live state; lua_type accepts any acceptable index.
        unsafe { lua_type(self.as_ptr(), idx) }
    }

    /// The bytes of the string (or number) at `idx`, if it is one; they
    /// stay valid while the value is on the stack.
    pub fn bytes_at<'a>(self, idx: c_int) -> Option<&'a [u8]> {
        if !matches!(self.type_of(idx), LUA_TSTRING | LUA_TNUMBER) {
            return None;
        }
        // SAFETY: a live state; a string or number at idx converts without
        // raising.
        unsafe { to_bytes(self.as_ptr(), idx) }
    }

    /// The coroutine at `idx`, if it is one.
    pub fn thread_at(self, idx: c_int) -> Option<State> {
        // SAFETY: a live state; lua_tothread checks the type.
        NonNull::new(unsafe { lua_tothread(self.as_ptr(), idx) }).map(State)
    }

    /// The pointer of the light userdata at `idx`, if it is a non-null
    /// one.
    pub fn light_at(self, idx: c_int) -> Option<NonNull<core::ffi::c_void>> {
        if self.type_of(idx) != LUA_TLIGHTUSERDATA {
            return None;
        }
        // SAFETY: a live state; lua_touserdata reads any acceptable index.
        NonNull::new(unsafe { lua_touserdata(self.as_ptr(), idx) })
    }

    /// Pushes a full userdata holding `v` whose `__gc` is `gc`, and
    /// returns the address of `v` in it: it ties the life of `v` (and of
    /// what it points at) to a Lua value. The userdata, with its
    /// metatable kept in the registry at `mt_key`, costs far less than
    /// `ffi.gc` on a cdata, which goes through a weak table. LuaJIT's GC
    /// does not move objects: the address holds until the `__gc` call.
    pub fn push_anchor<T>(self, v: T, gc: lua_CFunction, mt_key: c_int) -> NonNull<T> {
        // LuaJIT frees the payload without dropping it.
        const { assert!(core::mem::align_of::<T>() <= 8 && !core::mem::needs_drop::<T>()) };
        let L = self.as_ptr();
        // SAFETY: a live state with LUA_MINSTACK free slots (three are
        // used); the userdata's payload has room for a T and LuaJIT aligns
        // it to 8 bytes; it is written before anything else can see it.
        unsafe {
            let ud = lua_newuserdata(L, core::mem::size_of::<T>()) as *mut T;
            ud.write(v);
            lua_rawgeti_(L, LUA_REGISTRYINDEX, mt_key as _);
            if lua_type(L, -1) != LUA_TTABLE {
                lua_pop(L, 1);
                lua_createtable(L, 0, 2);
                lua_pushcfunction(L, gc);
                lua_setfield(L, -2, c"__gc".as_ptr());
                // getmetatable() shows false: Lua code cannot reach __gc.
                lua_pushboolean(L, 0);
                lua_setfield(L, -2, c"__metatable".as_ptr());
                lua_pushvalue(L, -1);
                lua_rawseti_(L, LUA_REGISTRYINDEX, mt_key as _);
            }
            lua_setmetatable(L, -2);
            NonNull::new_unchecked(ud)
        }
    }

    /// The payload of the anchor at `idx` (made by [`State::push_anchor`]
    /// with a `T` and the metatable at `mt_key`), for its `__gc`.
    pub fn anchor_at<T>(self, idx: c_int, mt_key: c_int) -> Option<NonNull<T>> {
        let L = self.as_ptr();
        // SAFETY: a live state; the metatable check makes the value one of
        // our anchors of that key, whose payload is a T; the stack is put
        // back.
        unsafe {
            if lua_type(L, idx) != LUA_TUSERDATA || lua_getmetatable(L, idx) == 0 {
                return None;
            }
            lua_rawgeti_(L, LUA_REGISTRYINDEX, mt_key as _);
            let ours = lua_rawequal(L, -1, -2) != 0;
            lua_pop(L, 2);
            if !ours {
                return None;
            }
            NonNull::new(lua_touserdata(L, idx) as *mut T)
        }
    }

    /// Pushes `p` as a light userdata (a handle lua-lib gives back).
    pub fn push_light(self, p: NonNull<core::ffi::c_void>) {
        // SAFETY: as push_bool. A heap pointer of this process fits the
        // 47 bits LuaJIT keeps of a light userdata on x86-64.
        unsafe { lua_pushlightuserdata(self.as_ptr(), p.as_ptr()) }
    }

    pub fn push_bool(self, b: bool) {
        // SAFETY: a live state; C functions get LUA_MINSTACK free slots.
        unsafe { lua_pushboolean(self.as_ptr(), b as c_int) }
    }

    pub fn push_int(self, n: isize) {
        // SAFETY: as push_bool.
        unsafe { lua_pushinteger(self.as_ptr(), n as lua_Integer) }
    }

    pub fn push_nil(self) {
        // SAFETY: as push_bool.
        unsafe { lua_pushnil(self.as_ptr()) }
    }

    pub fn push_number(self, n: f64) {
        // SAFETY: as push_bool.
        unsafe { lua_pushnumber(self.as_ptr(), n) }
    }

    /// Pushes the registry's slot `key` (one of the fixed negative keys
    /// of `lua::vm`: no name to intern and hash).
    pub fn push_registry(self, key: c_int) {
        // SAFETY: as push_bool; the registry is always a table.
        unsafe { lua_rawgeti_(self.as_ptr(), LUA_REGISTRYINDEX, key as _) };
    }

    /// Sets the registry's slot `key` to the value at `idx`.
    pub fn set_registry(self, key: c_int, idx: c_int) {
        // SAFETY: as push_bool; the registry is always a table, and
        // lua_rawseti pops the copy pushed.
        unsafe {
            lua_pushvalue(self.as_ptr(), idx);
            lua_rawseti_(self.as_ptr(), LUA_REGISTRYINDEX, key as _);
        }
    }

    /// `registry[table][key] = nil`, when the registry's slot `table` is a
    /// table.
    pub fn registry_table_unset(self, table: c_int, key: f64) {
        self.push_registry(table);
        if self.type_of(-1) == LUA_TTABLE {
            // SAFETY: the table is at -1; key and nil go above it, and
            // lua_rawset (no metamethods) pops them.
            unsafe {
                lua_pushnumber(self.as_ptr(), key);
                lua_pushnil(self.as_ptr());
                lua_rawset(self.as_ptr(), -3);
            }
        }
        self.pop(1);
    }

    /// `registry[table][key] = { count, values first..=last }` (a callback
    /// and its arguments, after their count: an array without a hash
    /// part), when the registry's slot `table` is a table; false
    /// otherwise.
    pub fn registry_table_set_record(
        self,
        table: c_int,
        key: f64,
        first: c_int,
        last: c_int,
    ) -> bool {
        self.push_registry(table);
        if self.type_of(-1) != LUA_TTABLE || first < 1 || last > self.top() {
            self.pop(1);
            return false;
        }
        let n = (last - first + 1).max(0);
        let L = self.as_ptr();
        // SAFETY: the table is at -1 and the indices are valid (checked
        // above); four slots are used of the LUA_MINSTACK a C function
        // has; lua_rawset pops key and record, the pop the table.
        unsafe {
            lua_pushnumber(L, key);
            lua_createtable(L, n + 1, 0);
            lua_pushnumber(L, f64::from(n));
            lua_rawseti_(L, -2, 1);
            for (i, idx) in (first..=last).enumerate() {
                lua_pushvalue(L, idx);
                lua_rawseti_(L, -2, (i + 2) as _);
            }
            lua_rawset(L, -3);
            lua_pop(L, 1);
        }
        true
    }

    /// `tonumber(v)` of the value at `idx`: numbers, and strings that
    /// convert.
    pub fn tonumber_at(self, idx: c_int) -> Option<f64> {
        // SAFETY: a live state; both read any acceptable index.
        unsafe { (lua_isnumber(self.as_ptr(), idx) != 0).then(|| lua_tonumber(self.as_ptr(), idx)) }
    }

    /// Where the function at `table[key][2]` (a registry table of
    /// callback records, see [`State::registry_table_set_record`]) was
    /// defined: its `source` and `linedefined`, as
    /// upstream names a timer callback it could not run.
    pub fn registry_function_origin(self, table: c_int, key: f64) -> Option<(Vec<u8>, c_int)> {
        let top = self.top();
        self.push_registry(table);
        let mut origin = None;
        if self.type_of(-1) == LUA_TTABLE {
            // SAFETY: the table is at -1; rawgeti pushes one value each and
            // lua_getinfo(">S") pops the function; the stack is put back
            // to `top` below. lua_Debug is plain data lua_getinfo fills,
            // and its source string lives as long as the function's
            // prototype, which the registry keeps while it is copied.
            unsafe {
                let L = self.as_ptr();
                lua_pushnumber(L, key);
                lua_rawget(L, -2);
                if lua_type(L, -1) == LUA_TTABLE {
                    lua_rawgeti(L, -1, 2);
                    if lua_type(L, -1) == LUA_TFUNCTION {
                        let mut ar = core::mem::MaybeUninit::<lua_Debug>::zeroed();
                        if lua_getinfo(L, c">S".as_ptr(), ar.as_mut_ptr()) != 0 {
                            let ar = ar.assume_init_ref();
                            let src = if ar.source.is_null() {
                                b"(unknown)".to_vec()
                            } else {
                                CStr::from_ptr(ar.source).to_bytes().to_vec()
                            };
                            origin = Some((src, ar.linedefined));
                        }
                    }
                }
            }
        }
        // SAFETY: a live state; `top` is where the stack was.
        unsafe { lua_settop(self.as_ptr(), top) };
        origin
    }

    /// Drops `n` values from the top (at most what the stack holds).
    pub fn pop(self, n: c_int) {
        let top = self.top();
        // SAFETY: a live state; the new top is within the stack.
        unsafe { lua_settop(self.as_ptr(), (top - n.max(0)).max(0)) }
    }

    pub fn push_str(self, s: &[u8]) {
        // SAFETY: as push_bool; the string is copied.
        unsafe { push_bytes(self.as_ptr(), s) }
    }

    /// Creates a coroutine anchored in the registry (returned with its
    /// reference, which the caller releases) and copies this stack's values
    /// `first..=last` onto it; with `keep`, the coroutine is also left on
    /// top of this stack. None for a range outside the stack.
    #[inline]
    pub fn new_coroutine(self, first: c_int, last: c_int, keep: bool) -> Option<(State, c_int)> {
        if first < 1 || last > self.top() {
            return None;
        }
        let L = self.as_ptr();
        let n = (last - first + 1).max(0);
        // SAFETY: a live state and valid indices (checked above); LuaJIT
        // grows a stack as values are pushed (lua_pushvalue) or moved onto
        // it (lua_xmove checks the target); luaL_ref pops the value it
        // anchors; lua_xmove moves the n copies to the new coroutine of
        // the same VM.
        let co = unsafe {
            let co = lua_newthread(L);
            if keep {
                lua_pushvalue(L, -1);
            }
            let co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
            for i in first..=last {
                lua_pushvalue(L, i);
            }
            lua_xmove(L, co, n);
            (co, co_ref)
        };
        Some((State(NonNull::new(co.0)?), co.1))
    }

    /// The bytes of the string at `idx` (not converting numbers), valid
    /// while the value stays on the stack.
    pub fn str_at<'a>(self, idx: c_int) -> Option<&'a [u8]> {
        // SAFETY: a live state; lua_tolstring of a string value neither
        // converts nor moves it, and the bytes live as long as it does.
        unsafe {
            if lua_type(self.as_ptr(), idx) != LUA_TSTRING {
                return None;
            }
            to_bytes(self.as_ptr(), idx)
        }
    }

    /// The number at `idx`, if the value is one (no string conversion).
    pub fn number_at(self, idx: c_int) -> Option<f64> {
        // SAFETY: a live state; lua_tonumber reads any acceptable index.
        unsafe {
            if lua_type(self.as_ptr(), idx) != LUA_TNUMBER {
                return None;
            }
            Some(lua_tonumber(self.as_ptr(), idx))
        }
    }

    /// `tonumber(v) or 0` of the value at `idx`: numbers, and strings
    /// that convert.
    pub fn to_number(self, idx: c_int) -> f64 {
        // SAFETY: a live state; lua_tonumber gives 0 for anything else and
        // does not change the value.
        unsafe { lua_tonumber(self.as_ptr(), idx) }
    }

    /// Lua's name of the type of the value at `idx` (`type(v)`).
    pub fn type_name(self, idx: c_int) -> &'static CStr {
        // SAFETY: a live state; lua_typename returns a static C string for
        // every type LuaJIT reports.
        unsafe { CStr::from_ptr(lua_typename(self.as_ptr(), lua_type(self.as_ptr(), idx))) }
    }

    /// Drops everything on the stack.
    pub fn clear(self) {
        // SAFETY: a live state.
        unsafe { lua_settop(self.as_ptr(), 0) }
    }
}

/// Declares one of the runtime's own `lua_CFunction`s (the package
/// searcher, the traceback handler) the way `ffi::abi`'s `cfunction!`
/// declares the API's: `$L` is the calling state as a [`State`], and the
/// body, run inside the panic guard, returns the number of results it
/// pushed or a [`Raise`].
macro_rules! lua_cfunction {
    ($(#[$m:meta])* fn $name:ident($L:ident) $body:block) => {
        $(#[$m])*
        ///
        /// # Safety
        /// Called by LuaJIT as a C function.
        pub unsafe extern "C-unwind" fn $name(
            raw: *mut $crate::lua::raw::lua_State,
        ) -> core::ffi::c_int {
            // SAFETY: LuaJIT calls a C function with its running state.
            let $L = unsafe { $crate::lua::cfunction::State::from_raw(raw) };
            // Outside the unsafe blocks: the body's own unsafe needs its own.
            let body = move || -> Result<core::ffi::c_int, $crate::lua::cfunction::Raise> { $body };
            // SAFETY: as above.
            unsafe { $crate::lua::cfunction::guard_lua(raw, body) }
        }
    };
}
pub(crate) use lua_cfunction;

/// Declares a LuaJIT hook (`lua_sethook`) the way [`lua_cfunction!`]
/// declares a C function: the body runs inside the panic guard, and a
/// [`Raise`] it returns is raised in the running Lua code afterwards.
macro_rules! lua_hook {
    ($(#[$m:meta])* fn $name:ident($L:ident) $body:block) => {
        $(#[$m])*
        ///
        /// # Safety
        /// Called by LuaJIT as a hook.
        pub unsafe extern "C-unwind" fn $name(
            raw: *mut $crate::lua::raw::lua_State,
            _ar: *mut $crate::lua::raw::lua_Debug,
        ) {
            // SAFETY: LuaJIT calls a hook with its running state.
            let $L = unsafe { $crate::lua::cfunction::State::from_raw(raw) };
            let body = move || -> Result<core::ffi::c_int, $crate::lua::cfunction::Raise> { $body };
            // SAFETY: as above; a hook adds no frame, so what is raised
            // lands in the running Lua function.
            unsafe { $crate::lua::cfunction::guard_lua(raw, body) };
        }
    };
}
pub(crate) use lua_hook;

/// A Lua error a C function raises once its Rust part is done.
#[derive(Debug)]
pub enum Raise {
    /// `luaL_error`: the message with the caller's position.
    Error(&'static CStr),
    /// `luaL_checktype(idx, type)` failed.
    Type(c_int, c_int),
    /// `luaL_argerror(idx, msg)`.
    Arg(c_int, &'static CStr),
    /// Upstream's "API disabled in the context of ...".
    Disabled(Phase),
    /// The same, with the caller's position, as `error(msg, 2)` from a
    /// Lua function would give it.
    DisabledHere(Phase),
    /// `lua_error` with the value on top of the stack (a loader's message).
    Value,
    /// A message made at run time, with the caller's position.
    Message(Vec<u8>),
    /// A message with the position of the caller's caller: for a function
    /// lua-lib calls from one Lua wrapper, the user's call site, where
    /// upstream's C function (called directly) puts it.
    MessageUp(Vec<u8>),
    /// A message with the position of the running Lua function, raised
    /// from a hook (which adds no frame of its own: level 0).
    InHook(Vec<u8>),
    /// `"bad index: " .. tostring(v)` of the value at the index, with the
    /// caller's position.
    BadIndex(c_int),
    /// The body panicked (the hook logged where).
    Internal,
}

impl Raise {
    /// # Safety
    /// `L` is the state of the running C function, outside any Rust frame
    /// that holds values with destructors or a `catch_unwind`.
    unsafe fn raise(self, L: *mut lua_State) -> ! {
        // SAFETY: see above; every branch ends in lua_error or a helper that
        // calls it.
        unsafe {
            match self {
                Raise::Error(msg) => {
                    luaL_error(L, c"%s".as_ptr(), msg.as_ptr());
                }
                Raise::Type(idx, ty) => luaL_checktype(L, idx, ty),
                Raise::Arg(idx, msg) => {
                    luaL_argerror(L, idx, msg.as_ptr());
                }
                Raise::Disabled(phase) => {
                    push_bytes(L, b"API disabled in the context of ");
                    push_bytes(L, phase.context_name().as_bytes());
                    lua_concat(L, 2);
                    lua_error(L);
                }
                Raise::Value => {
                    lua_error(L);
                }
                Raise::DisabledHere(phase) => {
                    luaL_where(L, 1);
                    push_bytes(L, b"API disabled in the context of ");
                    push_bytes(L, phase.context_name().as_bytes());
                    lua_concat(L, 3);
                    lua_error(L);
                }
                Raise::Message(msg) => {
                    luaL_where(L, 1);
                    push_bytes(L, &msg);
                    // Nothing with a destructor may be left when Lua
                    // unwinds this frame.
                    drop(msg);
                    lua_concat(L, 2);
                    lua_error(L);
                }
                Raise::MessageUp(msg) => {
                    luaL_where(L, 2);
                    push_bytes(L, &msg);
                    drop(msg);
                    lua_concat(L, 2);
                    lua_error(L);
                }
                Raise::InHook(msg) => {
                    luaL_where(L, 0);
                    push_bytes(L, &msg);
                    drop(msg);
                    lua_concat(L, 2);
                    lua_error(L);
                }
                Raise::BadIndex(idx) => {
                    let idx = lua_absindex(L, idx);
                    luaL_where(L, 1);
                    push_bytes(L, b"bad index: ");
                    lua_getglobal(L, c"tostring".as_ptr());
                    lua_pushvalue(L, idx);
                    lua_call(L, 1, 1);
                    lua_concat(L, 3);
                    lua_error(L);
                }
                Raise::Internal => {
                    luaL_error(L, c"internal error".as_ptr());
                }
            }
            // luaL_checktype returns when the type matches: not a failure
            // the body reported, but raise one anyway rather than lie.
            luaL_error(L, c"internal error".as_ptr());
        }
        unreachable!("lua_error does not return")
    }
}

/// Runs the Rust body of a C function called with `L` inside the panic
/// guard, then raises the error it reported, if any. Returns the number of
/// results the body pushed.
///
/// # Safety
/// `L` is the state LuaJIT called the C function with.
pub unsafe fn guard_lua(L: *mut lua_State, body: impl FnOnce() -> Result<c_int, Raise>) -> c_int {
    let r = {
        // A refused allocation would raise inside catch_unwind, which
        // aborts on a foreign exception: the Rust part runs outside the
        // memory limit (its result is small; the Lua code that goes on is
        // held to it again).
        // SAFETY: L is the running C function's state (the contract).
        let _unlimited = unsafe { super::limits::Unlimited::new(L) };
        match catch_unwind(AssertUnwindSafe(body)) {
            Ok(r) => r,
            Err(_) => Err(Raise::Internal),
        }
    };
    match r {
        Ok(n) => n,
        // SAFETY: the guard and the body's frames are gone.
        Err(e) => unsafe { e.raise(L) },
    }
}

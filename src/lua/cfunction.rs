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

    /// The coroutine at `idx`, if it is one.
    pub fn thread_at(self, idx: c_int) -> Option<State> {
        // SAFETY: a live state; lua_tothread checks the type.
        NonNull::new(unsafe { lua_tothread(self.as_ptr(), idx) }).map(State)
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

    pub fn push_str(self, s: &[u8]) {
        // SAFETY: as push_bool; the string is copied.
        unsafe { push_bytes(self.as_ptr(), s) }
    }

    /// Drops everything on the stack.
    pub fn clear(self) {
        // SAFETY: a live state.
        unsafe { lua_settop(self.as_ptr(), 0) }
    }
}

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
    let r = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(r) => r,
        Err(_) => Err(Raise::Internal),
    };
    match r {
        Ok(n) => n,
        // SAFETY: the guard and the body's frames are gone.
        Err(e) => unsafe { e.raise(L) },
    }
}

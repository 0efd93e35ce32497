//! OpenResty's LuaJIT table extras (`table.nkeys`, `table.isarray`,
//! `table.clone`) for a stock LuaJIT: C functions that walk a table with
//! `lua_next`, one C call instead of a Lua loop. `lua-lib/table/*.lua`
//! check the argument (upstream's error text) and call these;
//! `table.isempty` needs no C (`next(t) == nil`).
//!
//! The argument is known to be a table, so nothing here raises a Lua
//! error (which must not unwind through the panic guard).
use core::ffi::c_int;

use crate::lua::raw::*;
use crate::nginx::panic::guard;

pub const CFUNCS: &[(&core::ffi::CStr, lua_CFunction)] =
    &[(c"nkeys", nkeys), (c"isarray", isarray), (c"clone", clone)];

/// Calls `f(L)` for every pair of the table at index 1, with the key at -2
/// and the value at -1; stops early when `f` returns false.
///
/// # Safety
/// Index 1 of `L` holds a table; `f` leaves the stack as it found it.
unsafe fn each(L: *mut lua_State, mut f: impl FnMut(*mut lua_State) -> bool) {
    // SAFETY: the caller's contract; lua_next pops the key and pushes the
    // next pair, which we pop after f.
    unsafe {
        lua_pushnil(L);
        while lua_next(L, 1) != 0 {
            let go_on = f(L);
            lua_pop(L, 1);
            if !go_on {
                lua_pop(L, 1);
                return;
            }
        }
    }
}

/// `nkeys(t)`: how many non-nil entries `t` holds, array and hash part.
unsafe extern "C-unwind" fn nkeys(L: *mut lua_State) -> c_int {
    guard(0, || {
        let mut n: lua_Number = 0.0;
        // SAFETY: the Lua wrapper checked that argument 1 is a table.
        unsafe {
            each(L, |_| {
                n += 1.0;
                true
            });
            lua_pushnumber(L, n);
        }
        1
    })
}

/// `isarray(t)`: true when every key is an integral number (OpenResty's
/// definition: an empty table is an array, holes are allowed).
unsafe extern "C-unwind" fn isarray(L: *mut lua_State) -> c_int {
    guard(0, || {
        let mut array = true;
        // SAFETY: as in nkeys; the key sits at -2 during f.
        unsafe {
            each(L, |L| {
                array = lua_type(L, -2) == LUA_TNUMBER && {
                    let k = lua_tonumber(L, -2);
                    k.is_finite() && k.trunc() == k
                };
                array
            });
            lua_pushboolean(L, array as c_int);
        }
        1
    })
}

/// `clone(t)`: a shallow copy, sized once (no metatable, as upstream).
unsafe extern "C-unwind" fn clone(L: *mut lua_State) -> c_int {
    guard(0, || {
        // SAFETY: as in nkeys; the new table sits at index 2 while the
        // source is walked at index 1.
        unsafe {
            let (mut narr, mut nrec) = (0 as c_int, 0 as c_int);
            each(L, |L| {
                let k = (lua_type(L, -2) == LUA_TNUMBER).then(|| lua_tonumber(L, -2));
                match k {
                    Some(k) if k >= 1.0 && k.trunc() == k && k <= c_int::MAX as f64 => narr += 1,
                    _ => nrec += 1,
                }
                true
            });
            lua_settop(L, 1);
            lua_createtable(L, narr, nrec);
            each(L, |L| {
                lua_pushvalue(L, -2);
                lua_pushvalue(L, -2);
                lua_rawset(L, 2);
                true
            });
        }
        1
    })
}

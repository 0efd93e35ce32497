//! The Lua side of the output functions. How `ngx.print`/`ngx.say` turn their arguments into bytes: strings and
//! numbers as Lua formats them, `nil`/booleans as words, `ngx.null` as
//! "null", and array tables (nested too) flattened in index order, holes
//! written as "nil". Two passes over the calling C function's stack: the
//! length (which also checks the arguments, reporting upstream's argument
//! errors as a [`Raise`]), then the copy into the output buffer.
use core::ffi::{c_int, CStr};

use super::cfunction::{Raise, State};
use super::raw::*;

/// Upstream's argument error for a value of type `ty` (`in_table`: an
/// element of an array table), with `lua_typename`'s name for it.
fn bad_type(ty: c_int, in_table: bool) -> &'static CStr {
    match (in_table, ty) {
        (true, LUA_TFUNCTION) => c"bad data type function found",
        (true, LUA_TUSERDATA | LUA_TLIGHTUSERDATA) => c"bad data type userdata found",
        (true, LUA_TTHREAD) => c"bad data type thread found",
        (true, _) => c"bad data type cdata found",
        (false, LUA_TFUNCTION) => {
            c"string, number, boolean, nil, ngx.null, or array table expected, but got function"
        }
        (false, LUA_TUSERDATA | LUA_TLIGHTUSERDATA) => {
            c"string, number, boolean, nil, ngx.null, or array table expected, but got userdata"
        }
        (false, LUA_TTHREAD) => {
            c"string, number, boolean, nil, ngx.null, or array table expected, but got thread"
        }
        (false, _) => {
            c"string, number, boolean, nil, ngx.null, or array table expected, but got cdata"
        }
    }
}

impl State {
    /// Byte length of the value at `idx` as ngx.print writes it, or the
    /// argument error for argument `arg`.
    #[inline]
    pub fn print_len(self, idx: c_int, arg: c_int) -> Result<usize, Raise> {
        value_len(self, idx, arg, false)
    }

    /// Writes the value at `idx` (checked by [`State::print_len`]) at the
    /// start of `out`, which has room for it; returns the bytes written.
    #[inline]
    pub fn print_write(self, idx: c_int, out: &mut [u8]) -> usize {
        copy_value(self, idx, out)
    }

    /// The bytes ngx.print writes for the value at `idx` when it is a
    /// string or a number printed as an integer (its text made in `buf`),
    /// so a single such argument is measured and copied in one pass.
    #[inline]
    pub fn print_text(self, idx: c_int, buf: &mut [u8; 16]) -> Option<&[u8]> {
        // SAFETY: the live state; idx is an acceptable index; a string's
        // bytes live as long as the value stays on the stack.
        unsafe {
            match lua_type(self.as_ptr(), idx) {
                LUA_TSTRING => to_bytes(self.as_ptr(), idx),
                LUA_TNUMBER => int_text(lua_tonumber(self.as_ptr(), idx), buf),
                _ => None,
            }
        }
    }

    /// Lua's truth of the value at `idx` (false for nil, false and no
    /// value).
    #[inline]
    pub fn truthy(self, idx: c_int) -> bool {
        // SAFETY: the live state; lua_toboolean accepts any index.
        unsafe { lua_toboolean(self.as_ptr(), idx) != 0 }
    }

    /// An index that stays valid while values are pushed.
    #[inline]
    fn absolute(self, idx: c_int) -> c_int {
        if idx < 0 {
            self.top() + idx + 1
        } else {
            idx
        }
    }
}

/// The text Lua gives an integral number below 10^14 in magnitude (its
/// `%.14g` is the plain decimal), written into `buf` without making a
/// Lua string: `ngx.say(n)` of a counter interned a new string per call,
/// formatted by LuaJIT's general number formatter. `None` for every
/// other number (-0, fractions, large values, NaN, infinities).
fn int_text(n: f64, buf: &mut [u8; 16]) -> Option<&[u8]> {
    // Below 10^14 the cast to i64 is exact for integers (and `trunc` is a
    // libm call on baseline x86-64).
    if n.is_nan() || n.abs() >= 1e14 || (n as i64) as f64 != n || (n == 0.0 && n.is_sign_negative())
    {
        return None;
    }
    // Two digits a step from a table: half the divisions (a counter's
    // few digits are most of the call).
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let mut v = n.abs() as u64;
    let mut i = buf.len();
    while v >= 10 {
        let d = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[d..d + 2]);
    }
    if v > 0 || i == buf.len() {
        i -= 1;
        buf[i] = b'0' + v as u8;
    }
    if n < 0.0 {
        i -= 1;
        buf[i] = b'-';
    }
    Some(&buf[i..])
}

fn value_len(L: State, idx: c_int, arg: c_int, in_table: bool) -> Result<usize, Raise> {
    let l = L.as_ptr();
    // SAFETY: the live state of the running C function; idx is an
    // acceptable index; LuaJIT's pushes grow the stack as needed.
    unsafe {
        Ok(match lua_type(l, idx) {
            ty @ (LUA_TNUMBER | LUA_TSTRING) => {
                let mut buf = [0; 16];
                let int = if ty == LUA_TNUMBER {
                    int_text(lua_tonumber(l, idx), &mut buf)
                } else {
                    None
                };
                match int {
                    Some(t) => t.len(),
                    None => {
                        let mut n = 0usize;
                        lua_tolstring(l, idx, &mut n);
                        n
                    }
                }
            }
            LUA_TNIL => 3,
            LUA_TBOOLEAN => {
                if lua_toboolean(l, idx) != 0 {
                    4
                } else {
                    5
                }
            }
            LUA_TLIGHTUSERDATA => {
                if lua_touserdata(l, idx).is_null() {
                    4
                } else {
                    0
                }
            }
            LUA_TTABLE => {
                let t = L.absolute(idx);
                let max = array_len(L, t, arg)?;
                let mut size = 0;
                for i in 1..=max {
                    lua_rawgeti(l, t, i as _);
                    let n = value_len(L, -1, arg, true);
                    lua_pop(l, 1);
                    size += n?;
                }
                size
            }
            ty => return Err(Raise::Arg(arg, bad_type(ty, in_table))),
        })
    }
}

/// Largest index of the array table at `t` (elements are written 1..max,
/// nil for holes), or "non-array table found". As upstream, which keeps
/// the maximum in a C int, keys beyond `i32::MAX` do not count: walking to
/// such a key (`[2^40] = v`) would take the worker hours.
fn array_len(L: State, t: c_int, arg: c_int) -> Result<i64, Raise> {
    let l = L.as_ptr();
    // SAFETY: the live state; t is the absolute index of a table; the
    // traversal leaves the stack as it found it, also when it fails.
    unsafe {
        let mut max = 0i64;
        lua_pushnil(l);
        while lua_next(l, t) != 0 {
            lua_pop(l, 1);
            let number = lua_type(l, -1) == LUA_TNUMBER;
            let k = if number { lua_tonumber(l, -1) } else { 0.0 };
            if !number || k.floor() != k || k < 1.0 {
                lua_pop(l, 1);
                return Err(Raise::Arg(arg, c"non-array table found"));
            }
            if k <= f64::from(i32::MAX) {
                max = max.max(k as i64);
            }
        }
        Ok(max)
    }
}

/// Writes the value at `idx` at the start of `out`; returns the length.
fn copy_value(L: State, idx: c_int, out: &mut [u8]) -> usize {
    let l = L.as_ptr();
    let put = |out: &mut [u8], s: &[u8]| {
        let n = s.len().min(out.len());
        out[..n].copy_from_slice(&s[..n]);
        n
    };
    // SAFETY: the live state; idx is an acceptable index; the value was
    // checked by value_len, so the table is an array and nothing raises.
    unsafe {
        match lua_type(l, idx) {
            LUA_TNUMBER => {
                let mut buf = [0; 16];
                match int_text(lua_tonumber(l, idx), &mut buf) {
                    Some(t) => put(out, t),
                    None => put(out, to_bytes(l, idx).unwrap_or(b"")),
                }
            }
            LUA_TSTRING => put(out, to_bytes(l, idx).unwrap_or(b"")),
            LUA_TNIL => put(out, b"nil"),
            LUA_TBOOLEAN => put(
                out,
                if lua_toboolean(l, idx) != 0 {
                    b"true"
                } else {
                    b"false"
                },
            ),
            LUA_TLIGHTUSERDATA if lua_touserdata(l, idx).is_null() => put(out, b"null"),
            LUA_TTABLE => {
                let t = L.absolute(idx);
                let max = array_len(L, t, 0).unwrap_or(0);
                let mut n = 0;
                for i in 1..=max {
                    lua_rawgeti(l, t, i as _);
                    n += copy_value(L, -1, &mut out[n..]);
                    lua_pop(l, 1);
                }
                n
            }
            _ => 0,
        }
    }
}

/// How a body filter's `ngx.arg[1] = v` turns `v` into bytes: strings and
/// numbers as Lua formats them, booleans as words, `nil` as nothing, and
/// array tables (nested too) element by element from 1 to their length,
/// read raw as upstream does. Like the print functions, two passes: the
/// length (with the error for any other value), then the copy.
impl State {
    /// Byte length of the value at `idx` as `ngx.arg[1]` takes it.
    pub fn arg_len(self, idx: c_int) -> Result<usize, Raise> {
        let l = self.as_ptr();
        // SAFETY: the live state of the running C function; idx is an
        // acceptable index; the pushes are popped again.
        unsafe {
            Ok(match lua_type(l, idx) {
                LUA_TNUMBER | LUA_TSTRING => {
                    let mut n = 0usize;
                    lua_tolstring(l, idx, &mut n);
                    n
                }
                LUA_TBOOLEAN => {
                    if lua_toboolean(l, idx) != 0 {
                        4
                    } else {
                        5
                    }
                }
                LUA_TNIL | LUA_TNONE => 0,
                LUA_TTABLE => {
                    let t = self.absolute(idx);
                    let mut size = 0;
                    for i in 1..=lua_objlen(l, t) {
                        lua_rawgeti(l, t, i as _);
                        let n = self.arg_len(-1);
                        lua_pop(l, 1);
                        size += n?;
                    }
                    size
                }
                _ => {
                    let mut msg = b"bad argument #1 (string, number, nil, boolean, or array table \
                                    expected, got "
                        .to_vec();
                    msg.extend_from_slice(self.type_name(idx).to_bytes());
                    msg.push(b')');
                    return Err(Raise::Message(msg));
                }
            })
        }
    }

    /// Writes the value at `idx` (checked by [`State::arg_len`]) at the
    /// start of `out`; returns the bytes written.
    pub fn arg_write(self, idx: c_int, out: &mut [u8]) -> usize {
        let l = self.as_ptr();
        let put = |out: &mut [u8], s: &[u8]| {
            let n = s.len().min(out.len());
            out[..n].copy_from_slice(&s[..n]);
            n
        };
        // SAFETY: as arg_len; the value was checked, so nothing raises.
        unsafe {
            match lua_type(l, idx) {
                LUA_TNUMBER | LUA_TSTRING => put(out, to_bytes(l, idx).unwrap_or(b"")),
                LUA_TBOOLEAN => put(
                    out,
                    if lua_toboolean(l, idx) != 0 {
                        b"true"
                    } else {
                        b"false"
                    },
                ),
                LUA_TTABLE => {
                    let t = self.absolute(idx);
                    let mut n = 0;
                    for i in 1..=lua_objlen(l, t) {
                        lua_rawgeti(l, t, i as _);
                        n += self.arg_write(-1, &mut out[n..]);
                        lua_pop(l, 1);
                    }
                    n
                }
                _ => 0,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::int_text;

    #[test]
    fn integers_as_lua_prints_them() {
        let text =
            |n: f64| int_text(n, &mut [0; 16]).map(|t| String::from_utf8(t.to_vec()).unwrap());
        assert_eq!(text(0.0).as_deref(), Some("0"));
        assert_eq!(text(1.0).as_deref(), Some("1"));
        assert_eq!(text(-42.0).as_deref(), Some("-42"));
        assert_eq!(
            text(99_999_999_999_999.0).as_deref(),
            Some("99999999999999")
        );
        assert_eq!(
            text(-99_999_999_999_999.0).as_deref(),
            Some("-99999999999999")
        );
        for k in (0..2_000u64).chain([9_999, 10_000, 100_001, 1_000_000_007]) {
            assert_eq!(text(k as f64), Some(k.to_string()), "{k}");
            if k > 0 {
                assert_eq!(text(-(k as f64)), Some(format!("-{k}")), "-{k}");
            }
        }
        // "%.14g" turns these into exponents or fractions: Lua's own text.
        for n in [
            1e14,
            -1e14,
            0.5,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
        ] {
            assert_eq!(text(n), None, "{n}");
        }
    }
}

//! The calling convention between lua-lib and the API: how an exported
//! function is declared, and how the pointers lua-lib passes become Rust
//! values.
//!
//! lua-lib is the only caller of these functions, and its contract is the
//! one safety argument of this layer: every pointer it passes is valid for
//! the call, with the length it passes beside it (Lua strings, scratch
//! buffers from `base.get_string_buf`, the error buffer of
//! `base.get_errbuf`), and out-parameters point at cdata it owns. The
//! conversions below rely on it, in one place each, so the function
//! bodies are safe code.
use core::ffi::c_int;

use super::FFI_ERROR;

/// Declares functions lua-lib calls through LuaJIT's FFI: each gets the C
/// ABI and its exported name, and runs its body inside the panic guard,
/// returning its type's [`Fallback`] after a panic (logged by the hook).
macro_rules! export {
    ($(#[$m:meta])* fn $name:ident($($p:ident: $t:ty),* $(,)?) -> $ret:ty $body:block) => {
        $(#[$m])*
        ///
        /// # Safety
        /// Called by lua-lib, whose pointers are valid for the call.
        #[no_mangle]
        pub unsafe extern "C" fn $name($($p: $t),*) -> $ret {
            $crate::nginx::panic::guard(
                <$ret as $crate::ffi::abi::Fallback>::fallback(),
                #[allow(clippy::redundant_closure_call)]
                move || -> $ret { $body },
            )
        }
    };
    ($(#[$m:meta])* fn $name:ident($($p:ident: $t:ty),* $(,)?) $body:block) => {
        export! { $(#[$m])* fn $name($($p: $t),*) -> () $body }
    };
    // With a fallback of its own (what the Lua side reads as "failed").
    ($(#[$m:meta])* fn $name:ident($($p:ident: $t:ty),* $(,)?) -> $ret:ty, on_panic($fb:expr) $body:block) => {
        $(#[$m])*
        ///
        /// # Safety
        /// Called by lua-lib, whose pointers are valid for the call.
        #[no_mangle]
        pub unsafe extern "C" fn $name($($p: $t),*) -> $ret {
            $crate::nginx::panic::guard($fb, move || -> $ret { $body })
        }
    };
}

/// Declares a `lua_CFunction` lua-lib wraps: `$L` is the calling state as
/// a `lua::cfunction::State`, and the body returns the number of results
/// it pushed or a `Raise`, raised after the panic guard (see
/// lua/cfunction.rs).
macro_rules! cfunction {
    ($(#[$m:meta])* fn $name:ident($L:ident) $body:block) => {
        $(#[$m])*
        ///
        /// # Safety
        /// Called by LuaJIT as a C function.
        pub unsafe extern "C-unwind" fn $name(
            raw: *mut $crate::lua::raw::lua_State,
        ) -> core::ffi::c_int {
            // SAFETY: LuaJIT calls a C function with its running state.
            unsafe {
                let $L = $crate::lua::cfunction::State::from_raw(raw);
                $crate::lua::cfunction::guard_lua(raw, move || $body)
            }
        }
    };
}

/// Takes back an object handed to Lua with `Box::into_raw` (its `ffi.gc`
/// finalizer or explicit free calls this once); `None` for null.
macro_rules! lua_box {
    ($p:expr) => {
        // SAFETY: lua-lib's contract (see ffi/abi.rs): the pointer came from
        // Box::into_raw in this crate and is freed once.
        unsafe { $crate::ffi::abi::take_box($p) }
    };
}

/// The socket (or other object lua-lib keeps alive) a C function was given
/// as a light userdata handle; `None` for anything else.
macro_rules! lua_handle {
    ($L:expr, $idx:expr, $t:ty) => {
        $L.light_at($idx).map(|p| {
            // SAFETY: lua-lib's contract (see ffi/abi.rs): a handle it
            // passes is the address of an object of this type in the
            // payload of the anchor that the Lua object holding the
            // handle also holds, so it is alive during the call.
            unsafe { &mut *(p.as_ptr() as *mut $t) }
        })
    };
}

/// The bytes of a Lua string or buffer passed as pointer and length
/// (empty for a null pointer or a zero length).
macro_rules! lua_bytes {
    ($p:expr, $n:expr) => {
        // SAFETY: lua-lib's contract (see ffi/abi.rs).
        unsafe { $crate::ffi::abi::bytes($p, $n) }
    };
}

/// A scratch buffer (bytes, or `$n` elements of another type) lua-lib
/// passes to be written, as a mutable slice.
macro_rules! lua_buf {
    ($p:expr, $n:expr) => {
        // SAFETY: lua-lib's contract (see ffi/abi.rs).
        unsafe { $crate::ffi::abi::slice_mut($p, $n) }
    };
}

/// An array of `$n` elements lua-lib passes to be read.
#[allow(unused_macros)]
macro_rules! lua_slice {
    ($p:expr, $n:expr) => {
        // SAFETY: lua-lib's contract (see ffi/abi.rs).
        unsafe { $crate::ffi::abi::slice($p, $n) }
    };
}

/// lua-lib's error buffer and its size, as an [`ErrOut`].
macro_rules! err_out {
    ($err:expr, $errlen:expr) => {
        // SAFETY: lua-lib's contract (see ffi/abi.rs).
        unsafe { $crate::ffi::abi::ErrOut::new($err, $errlen) }
    };
}

/// Writes an out-parameter lua-lib passed as a pointer.
#[allow(unused_macros)]
macro_rules! out {
    ($p:expr, $v:expr) => {
        // SAFETY: lua-lib's contract (see ffi/abi.rs).
        unsafe { $crate::ffi::abi::write($p, $v) }
    };
}

/// # Safety
/// `p` is null or points at `n` readable bytes that outlive `'a`.
pub unsafe fn bytes<'a>(p: *const u8, n: usize) -> &'a [u8] {
    if n == 0 || p.is_null() {
        &[]
    } else {
        // SAFETY: the caller's contract.
        unsafe { core::slice::from_raw_parts(p, n) }
    }
}

/// # Safety
/// `p` is null or points at `n` readable elements that outlive `'a`.
pub unsafe fn slice<'a, T>(p: *const T, n: usize) -> &'a [T] {
    if n == 0 || p.is_null() {
        &[]
    } else {
        // SAFETY: the caller's contract.
        unsafe { core::slice::from_raw_parts(p, n) }
    }
}

/// # Safety
/// `p` is null or points at `n` writable elements that outlive `'a` and
/// that nothing else reads or writes meanwhile.
pub unsafe fn slice_mut<'a, T>(p: *mut T, n: usize) -> &'a mut [T] {
    if n == 0 || p.is_null() {
        &mut []
    } else {
        // SAFETY: the caller's contract.
        unsafe { core::slice::from_raw_parts_mut(p, n) }
    }
}

/// # Safety
/// `p` is null or came from `Box::into_raw` and is not used afterwards.
pub unsafe fn take_box<T>(p: *mut T) -> Option<Box<T>> {
    // SAFETY: the caller's contract.
    (!p.is_null()).then(|| unsafe { Box::from_raw(p) })
}

/// # Safety
/// `p` is null or valid for a write of `T`.
pub unsafe fn write<T>(p: *mut T, v: T) {
    if !p.is_null() {
        // SAFETY: the caller's contract.
        unsafe { p.write(v) }
    }
}

/// An error buffer of lua-lib's size for a C function, which raises or
/// returns the message itself.
pub struct ErrBuf {
    buf: [u8; 256],
    len: usize,
}

impl Default for ErrBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl ErrBuf {
    pub fn new() -> ErrBuf {
        ErrBuf {
            buf: [0; 256],
            len: 0,
        }
    }

    /// Runs `f` with an [`ErrOut`] that writes here.
    pub fn run<R>(&mut self, f: impl FnOnce(&mut ErrOut) -> R) -> R {
        self.len = self.buf.len();
        // SAFETY: buffer and length are fields of self, borrowed for the
        // whole call, and `f` gets the ErrOut only by reference.
        let mut out = unsafe { ErrOut::new(self.buf.as_mut_ptr(), &mut self.len) };
        f(&mut out)
    }

    /// The message written.
    pub fn text(&self) -> &[u8] {
        &self.buf[..self.len.min(self.buf.len())]
    }
}

/// The caller's error buffer: `*len` is its size on entry and the
/// message's length on return.
pub struct ErrOut {
    buf: *mut u8,
    len: *mut usize,
}

impl ErrOut {
    /// # Safety
    /// Both null, or `buf` writable for `*len` bytes and `len` writable,
    /// for as long as the `ErrOut` is used.
    pub unsafe fn new(buf: *mut u8, len: *mut usize) -> ErrOut {
        ErrOut { buf, len }
    }

    /// An error buffer that discards what is written.
    pub fn none() -> ErrOut {
        ErrOut {
            buf: core::ptr::null_mut(),
            len: core::ptr::null_mut(),
        }
    }

    /// Copies `msg` in, cut to the buffer's size.
    pub fn set(&mut self, msg: &[u8]) {
        if self.buf.is_null() || self.len.is_null() {
            return;
        }
        // SAFETY: see new().
        unsafe {
            let n = msg.len().min(*self.len);
            core::ptr::copy_nonoverlapping(msg.as_ptr(), self.buf, n);
            *self.len = n;
        }
    }

    /// `set` for a message built with `format!`.
    pub fn set_fmt(&mut self, args: core::fmt::Arguments) {
        match args.as_str() {
            Some(s) => self.set(s.as_bytes()),
            None => self.set(args.to_string().as_bytes()),
        }
    }
}

/// What an exported function returns after a panic.
pub trait Fallback {
    fn fallback() -> Self;
}

impl Fallback for c_int {
    fn fallback() -> c_int {
        FFI_ERROR
    }
}

impl Fallback for () {
    fn fallback() {}
}

impl Fallback for usize {
    fn fallback() -> usize {
        0
    }
}

impl Fallback for u32 {
    fn fallback() -> u32 {
        0
    }
}

impl Fallback for i64 {
    fn fallback() -> i64 {
        -1
    }
}

/// `ngx_int_t` (the C API's statuses): NGX_ERROR.
impl Fallback for isize {
    fn fallback() -> isize {
        -1
    }
}

impl Fallback for f64 {
    fn fallback() -> f64 {
        f64::NAN
    }
}

impl<T> Fallback for *mut T {
    fn fallback() -> *mut T {
        core::ptr::null_mut()
    }
}

impl<T> Fallback for *const T {
    fn fallback() -> *const T {
        core::ptr::null()
    }
}

//! The one panic policy for every entry point nginx or LuaJIT calls.
//!
//! A Rust panic is a bug. It must not unwind into nginx's or LuaJIT's C
//! frames (undefined behaviour), and one request hitting a bug should not
//! take the worker's other requests down with it: every `extern` function
//! of the crate runs its body inside [`guard`] (or, for `lua_CFunction`s,
//! `lua::cfunction`), which logs the panic at `alert` level and returns the
//! entry point's failure value (`NGX_ERROR`, an FFI error status, ...).
//! `scripts/check-guards` fails when an entry point does not. Why not
//! `panic = "abort"`: LuaJIT raises Lua errors by unwinding through our
//! `extern "C-unwind"` functions, which a `panic = "abort"` build turns
//! into an abort; see docs/design.md.
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use nginx_sys::NGX_LOG_ALERT;

use super::log::{cycle_log, log_error};

static HOOK: Once = Once::new();

/// Sends panic messages to nginx's error log instead of stderr (which a
/// daemonized nginx has closed). Installed once per process.
pub fn install_hook() {
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let at = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let msg = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            // SAFETY: the cycle's log is valid in every nginx process.
            unsafe {
                log_error(
                    NGX_LOG_ALERT,
                    cycle_log(),
                    format!("ngx_lua: internal error (panic){at}: {msg}").as_bytes(),
                )
            };
        }));
    });
}

/// Runs `f`, turning a panic into `fallback` (the hook has logged it).
pub fn guard<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(_) => fallback,
    }
}

//! The phase engine nginx compiles from the http block's phase handlers:
//! one `ngx_http_phase_handler_t` per handler, in the order requests run
//! them, ended by an entry without a checker.
use nginx_sys::*;

use super::conf::HttpConfs;
use super::cycle::Cycle;

/// The engine's entries of `cycle`'s http block (None without an http block
/// or before nginx built the engine).
///
/// nginx builds the array in the cycle pool at `init_phase_handlers` and
/// reads it for every request; the module only reorders handlers of one
/// phase before any request runs (`init_module`), which keeps each entry's
/// checker and `next` with its phase.
pub fn handlers(cycle: Cycle) -> Option<&'static mut [ngx_http_phase_handler_t]> {
    let confs = HttpConfs::of_cycle(cycle)?;
    let cmcf = confs.core_main_conf();
    // SAFETY: the core module's main conf of the http block (a live cycle's
    // pool), whose phase_engine.handlers is null or the array ended by an
    // entry with no checker.
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

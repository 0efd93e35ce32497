//! `ngx.sleep`'s side of the scheduler: the running thread waits for its
//! wake-up timer.
use nginx_sys::ngx_msec_t;

use super::sched::{arm_sleep, current};

/// Arms the wake-up timer of the scheduled thread running now; false when
/// none runs (a synchronous handler).
pub fn sleep_running(ms: ngx_msec_t) -> bool {
    // SAFETY: the scheduler's current thread is null or the record of the
    // thread running now, which lives until its handler ends.
    match unsafe { current().co.as_mut() } {
        Some(t) => {
            arm_sleep(t, ms);
            true
        }
        None => false,
    }
}

//! `ngx.sleep`'s side of the scheduler: the running thread waits for its
//! wake-up timer.
use nginx_sys::ngx_msec_t;

use super::sched::{arm_sleep, current};

/// Arms the wake-up timer of the scheduled thread running now; false when
/// none runs (a synchronous handler).
pub fn sleep_running(ms: ngx_msec_t) -> bool {
    match current().thread() {
        Some(t) => {
            arm_sleep(t, ms);
            true
        }
        None => false,
    }
}

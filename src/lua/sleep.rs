//! `ngx.sleep`'s side of the scheduler: the running thread waits for its
//! wake-up timer.
use nginx_sys::ngx_msec_t;

use super::sched::{arm_sleep, current};
use crate::nginx::log::Log;

/// Arms the wake-up timer of the scheduled thread running now; false when
/// none runs (a synchronous handler).
pub fn sleep_running(ms: ngx_msec_t) -> bool {
    match current().thread() {
        Some(t) => {
            // SAFETY: a running thread's context lives in its request,
            // whose connection log outlives the thread.
            let log = unsafe { Log::from_raw((*t.ctx).req().log()) };
            crate::debug!(log, "lua ready to sleep for {ms} ms");
            arm_sleep(t, ms);
            true
        }
        None => false,
    }
}

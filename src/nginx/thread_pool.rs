//! nginx's thread pools (the `thread_pool` directive): finding one by name
//! and posting a task, whose work runs in a pool thread and whose
//! completion event runs in the worker's event loop.
#![cfg(ngx_lua_threads)]
use core::ffi::c_void;
use core::ptr::NonNull;

use nginx_sys::*;

#[derive(Clone, Copy)]
pub struct ThreadPool(NonNull<ngx_thread_pool_t>);

/// The running cycle's pool named `name`.
pub fn find(name: &[u8]) -> Option<ThreadPool> {
    let mut s = ngx_str_t {
        len: name.len(),
        data: name.as_ptr() as *mut u8,
    };
    // SAFETY: the running cycle; nginx only reads the name.
    NonNull::new(unsafe { ngx_thread_pool_get(ngx_cycle as *mut ngx_cycle_t, &mut s) })
        .map(ThreadPool)
}

/// Work run in a pool thread (`data` is the task's context).
pub type Work = unsafe extern "C" fn(data: *mut c_void, log: *mut ngx_log_t);
/// The completion, run in the event loop with the task's event.
pub type Done = unsafe extern "C" fn(ev: *mut ngx_event_t);

/// Posts `task` (zeroed, owned by the caller until `done` runs): `work`
/// gets `data` in a pool thread, then `done` gets the task's event (whose
/// `data` is `data` too). False when the pool's queue is full.
///
/// # Safety
/// `task` stays valid, and is not touched by this thread, until `done`
/// runs; `data` is safe to use from the pool thread meanwhile.
pub unsafe fn post(
    pool: ThreadPool,
    task: *mut ngx_thread_task_t,
    data: *mut c_void,
    work: Work,
    done: Done,
) -> bool {
    // SAFETY: the caller's contract; nginx links the task into its queue.
    unsafe {
        (*task).ctx = data;
        (*task).handler = Some(work);
        (*task).event.handler = Some(done);
        (*task).event.data = data;
        (*task).event.log = (*ngx_cycle).log;
        ngx_thread_task_post(pool.0.as_ptr(), task) == NGX_OK as ngx_int_t
    }
}

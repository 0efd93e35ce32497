//! Fake connections and requests: the carriers of Lua code that runs
//! outside any client request (timers), so every API finds the pools, logs
//! and configuration it expects, exactly as upstream does.
use core::ffi::c_void;
use core::ptr;

use nginx_sys::*;

/// Takes a connection slot with no socket. nginx's connection API wants an
/// fd; a valid one (0) is lent for the call and given back.
///
/// # Safety
/// Worker process, event loop thread.
pub unsafe fn connection() -> *mut ngx_connection_t {
    // SAFETY: ngx_cycle is valid; files[0] is restored right after.
    unsafe {
        let cycle = ngx_cycle as *mut ngx_cycle_t;
        let saved = if (*cycle).files.is_null() {
            ptr::null_mut()
        } else {
            *(*cycle).files
        };
        let c = ngx_get_connection(0, (*cycle).log);
        if !(*cycle).files.is_null() {
            *(*cycle).files = saved;
        }
        if c.is_null() {
            return ptr::null_mut();
        }
        (*c).fd = -1;
        // ngx_atomic_t lives in shared memory; nginx bumps it atomically.
        let counter = &*(ngx_connection_counter as *const core::sync::atomic::AtomicUsize);
        (*c).number = counter.fetch_add(1, core::sync::atomic::Ordering::SeqCst) as _;
        (*c).pool = ngx_create_pool(4096, (*cycle).log);
        if (*c).pool.is_null() {
            free_connection(c);
            return ptr::null_mut();
        }
        let log = ngx_pcalloc((*c).pool, core::mem::size_of::<ngx_log_t>()) as *mut ngx_log_t;
        if log.is_null() {
            close_connection(c);
            return ptr::null_mut();
        }
        *log = *(*cycle).log;
        (*log).connection = (*c).number;
        (*log).action = ptr::null_mut();
        (*log).data = ptr::null_mut();
        (*log).handler = Some(timer_log_handler);
        (*c).log = log;
        (*(*c).read).log = log;
        (*(*c).write).log = log;
        (*c).set_log_error(ngx_connection_log_error_e_NGX_ERROR_INFO as _);
        (*c).set_error(1);
        c
    }
}

/// Appends upstream's ", context: ngx.timer" to timer log lines.
unsafe extern "C" fn timer_log_handler(
    _log: *mut ngx_log_t,
    buf: *mut u_char,
    len: usize,
) -> *mut u_char {
    let s = b", context: ngx.timer";
    let n = s.len().min(len);
    // SAFETY: nginx passes the room left in its log line buffer.
    unsafe {
        ptr::copy_nonoverlapping(s.as_ptr(), buf, n);
        buf.add(n)
    }
}

unsafe fn free_connection(c: *mut ngx_connection_t) {
    // SAFETY: see connection(): fd 0 is lent to ngx_free_connection.
    unsafe {
        let cycle = ngx_cycle as *mut ngx_cycle_t;
        let saved = if (*cycle).files.is_null() {
            ptr::null_mut()
        } else {
            *(*cycle).files
        };
        (*c).fd = 0;
        ngx_free_connection(c);
        (*c).fd = -1;
        if !(*cycle).files.is_null() {
            *(*cycle).files = saved;
        }
    }
}

/// Frees a fake connection and its pool (running the pool's cleanups, and
/// so those of its fake request).
///
/// # Safety
/// `c` came from [`connection`] and is not used afterwards.
pub unsafe fn close_connection(c: *mut ngx_connection_t) {
    // SAFETY: a fake connection: no socket, events only used as timers.
    unsafe {
        (*c).set_destroyed(1);
        let pool = (*c).pool;
        for ev in [(*c).read, (*c).write] {
            if (*ev).timer_set() != 0 {
                ngx_del_timer(ev);
            }
            if (*ev).posted() != 0 {
                ngx_delete_posted_event(ev);
            }
            (*ev).set_closed(1);
        }
        free_connection(c);
        if !pool.is_null() {
            ngx_destroy_pool(pool);
        }
    }
}

/// A request on a fake connection with the given configuration arrays.
///
/// # Safety
/// `c` is a fake connection; the conf arrays belong to the running cycle.
pub unsafe fn request(
    c: *mut ngx_connection_t,
    main_conf: *mut *mut c_void,
    srv_conf: *mut *mut c_void,
    loc_conf: *mut *mut c_void,
) -> *mut ngx_http_request_t {
    // SAFETY: allocations from the connection's pool, freed with it.
    unsafe {
        let pool = (*c).pool;
        let r = ngx_pcalloc(pool, core::mem::size_of::<ngx_http_request_t>())
            as *mut ngx_http_request_t;
        if r.is_null() {
            return ptr::null_mut();
        }
        (*r).ctx = ngx_pcalloc(
            pool,
            core::mem::size_of::<*mut c_void>() * ngx_http_max_module,
        ) as *mut *mut c_void;
        if (*r).ctx.is_null() {
            return ptr::null_mut();
        }
        (*c).requests += 1;
        (*r).signature = NGX_HTTP_MODULE;
        (*r).pool = pool;
        (*r).connection = c;
        (*r).main = r;
        (*r).set_count(1);
        (*r).main_conf = main_conf;
        (*r).srv_conf = srv_conf;
        (*r).loc_conf = loc_conf;
        (*r).headers_in.content_length_n = 0;
        (*c).data = r as *mut c_void;
        r
    }
}

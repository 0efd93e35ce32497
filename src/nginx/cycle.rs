//! The running cycle and the worker's place in it: which worker this is,
//! how many there are, the server prefix, `nginx -t`. (`process.rs` has
//! the process kind, the pids and the exiting flags.)
//!
//! nginx writes these globals before it loads any configuration or forks,
//! or from its own signal handling on the event-loop thread, and the module
//! only reads them from that thread, so each read is a plain load.
use core::ptr::NonNull;

use nginx_sys::*;

/// The running cycle (`ngx_cycle`): during a (re)load, the previous one
/// until nginx switches, except inside [`with_cycle`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Cycle(NonNull<ngx_cycle_t>);

impl Cycle {
    /// The running cycle (nginx sets `ngx_cycle` before it reads any
    /// configuration, so there always is one once the module is loaded).
    pub fn current() -> Cycle {
        // SAFETY: a plain read of nginx's global, set at process start (see
        // the module comment).
        let p = unsafe { ngx_cycle } as *mut ngx_cycle_t;
        Cycle(NonNull::new(p).expect("nginx sets ngx_cycle before loading modules"))
    }

    /// # Safety
    /// `cycle` is null or a cycle that stays alive while the handle is used.
    pub unsafe fn from_raw(cycle: *mut ngx_cycle_t) -> Option<Cycle> {
        NonNull::new(cycle).map(Cycle)
    }

    pub fn as_ptr(self) -> *mut ngx_cycle_t {
        self.0.as_ptr()
    }

    fn get(&self) -> &ngx_cycle_t {
        // SAFETY: the handle's invariant: the cycle is alive (the running
        // one is freed only after the next one replaced it, outside any
        // module code that holds a handle).
        unsafe { self.0.as_ref() }
    }

    /// The server prefix (`-p`), as nginx resolved it.
    pub fn prefix(&self) -> &[u8] {
        super::request::str_bytes(&self.get().prefix)
    }

    /// The configuration prefix (the directory of `nginx.conf`).
    pub fn conf_prefix(&self) -> &[u8] {
        super::request::str_bytes(&self.get().conf_prefix)
    }

    /// The cycle's log.
    pub fn log(self) -> super::log::Log {
        // SAFETY: a cycle's log lives as long as the cycle.
        unsafe { super::log::Log::from_raw(self.get().log) }
    }

    /// The log of a cycle being built (where nginx logs until it switches).
    pub fn new_log(self) -> super::log::Log {
        // SAFETY: new_log is a field of the live cycle, as long-lived.
        unsafe { super::log::Log::from_raw(core::ptr::addr_of_mut!((*self.as_ptr()).new_log)) }
    }

    /// `worker_processes` of the cycle's configuration (1 before the core
    /// module's configuration exists).
    pub fn worker_processes(self) -> usize {
        let conf = self.get().conf_ctx;
        if conf.is_null() {
            return 1;
        }
        // SAFETY: conf_ctx has one slot per module, indexed by the module
        // index; the core module's slot holds its ngx_core_conf_t once the
        // cycle's configuration was created.
        let ccf = unsafe { *conf.add(ngx_core_module.index) } as *const ngx_core_conf_t;
        // SAFETY: as above; the conf lives in the cycle pool.
        match unsafe { ccf.as_ref() } {
            Some(ccf) => ccf.worker_processes.max(0) as usize,
            None => 1,
        }
    }
}

impl Cycle {
    /// The value an `env NAME=value;` directive of the cycle's
    /// configuration gives `name` (None for `env NAME;` or no directive).
    /// nginx puts these into the environment only when it starts workers,
    /// after `init_by_lua*` ran.
    pub fn conf_env(self, name: &[u8]) -> Option<&'static [u8]> {
        let conf = self.get().conf_ctx;
        if conf.is_null() {
            return None;
        }
        // SAFETY: as in worker_processes: the core module's slot of a
        // configured cycle holds its ngx_core_conf_t.
        let ccf = unsafe { (*conf.add(ngx_core_module.index) as *const ngx_core_conf_t).as_ref() }?;
        let env = &ccf.env;
        if env.elts.is_null() {
            return None;
        }
        // SAFETY: `env` is an array of nelts ngx_str_t in the cycle's pool.
        let vars = unsafe { core::slice::from_raw_parts(env.elts as *const ngx_str_t, env.nelts) };
        for var in vars {
            // SAFETY: the directive's argument: `len` bytes of the name,
            // then '=' and the value for NAME=value, NUL-terminated as every
            // word the configuration parser keeps.
            unsafe {
                if var.data.is_null() || *var.data.add(var.len) != b'=' {
                    continue;
                }
                if core::slice::from_raw_parts(var.data, var.len) != name {
                    continue;
                }
                let value = core::ffi::CStr::from_ptr(var.data.add(var.len + 1) as *const _);
                return Some(value.to_bytes());
            }
        }
        None
    }
}

/// Runs `f` with `ngx_cycle` pointing at `cycle`, as upstream does for
/// `init_by_lua*`, which runs while nginx builds a new cycle (so
/// `ngx.worker.count()`, `ngx.config.prefix()` ... describe the new one).
pub fn with_cycle<R>(cycle: Cycle, f: impl FnOnce() -> R) -> R {
    struct Restore(*mut ngx_cycle_t);
    impl Drop for Restore {
        fn drop(&mut self) {
            // SAFETY: the event-loop thread (or the master's configuration
            // pass) puts back the value it read.
            unsafe { ngx_cycle = self.0 };
        }
    }
    // SAFETY: as in Restore: nginx reads the global only from this thread,
    // and the value is restored on every path, a panic included.
    let _restore = unsafe {
        let saved = Restore(ngx_cycle as *mut ngx_cycle_t);
        ngx_cycle = cycle.as_ptr();
        saved
    };
    f()
}

/// The worker's number (0-based), None outside worker processes (the
/// master, helpers); a single-process nginx is worker 0.
pub fn worker_id() -> Option<usize> {
    // SAFETY: set before the process runs any module code.
    let (process, worker) = unsafe { (ngx_process as u32, ngx_worker) };
    (process == NGX_PROCESS_WORKER || process == NGX_PROCESS_SINGLE).then_some(worker)
}

/// `nginx -t`: the configuration is only tested.
pub fn testing_config() -> bool {
    // SAFETY: set from the command line before the configuration is read.
    unsafe { ngx_test_config != 0 }
}

/// nginx's version number (`1022001` for 1.22.1).
pub const NGINX_VERSION: u32 = nginx_version;

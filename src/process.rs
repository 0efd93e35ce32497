//! ngx.process and the process-level directives: the privileged agent on a
//! stock nginx, process types, `lua_sa_restart`, `lua_malloc_trim`.
//!
//! The agent is a helper process the master spawns and manages like a
//! worker (`nginx::helper`). The master runs no module code once it
//! serves, so the spawn is triggered from nginx's own forks: an
//! `atfork` handler, after the master forks a worker, queues a SIGIO to
//! the master (blocked there outside `sigsuspend`), and our SIGIO handler,
//! at the master's `sigsuspend`, spawns the agent if none is running. The
//! handler passes every other SIGIO to nginx's. A dying agent is respawned
//! by nginx itself; a reload stops it with the old workers and the new
//! workers' forks start a new one.
use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Once, OnceLock};

use nginx_sys::*;

use crate::nginx::{helper, log, panic::guard, process};

/// `enable_privileged_agent` asked in the `init_by_lua*` of the cycle being
/// configured (connections + 1; 0: not asked).
static PENDING: AtomicU32 = AtomicU32::new(0);
/// The running cycle wants an agent (connections + 1).
static WANTED: AtomicU32 = AtomicU32::new(0);
static IS_AGENT: AtomicBool = AtomicBool::new(false);

/// Our SIGIO marker (sigqueue value), so other SIGIOs go to nginx.
const MAGIC: usize = 0x6e67_786c;

/// Upstream's process type numbers (`ngx.process.type()` names them).
pub const PRIVILEGED_AGENT: i32 = 99;

/// A new configuration starts: nothing asked yet.
pub fn begin_config() {
    PENDING.store(0, Ordering::Relaxed);
}

/// `ngx.process.enable_privileged_agent(connections)` in init_by_lua*.
pub fn request_agent(connections: u32) {
    PENDING.store(connections.saturating_add(1), Ordering::Relaxed);
}

pub fn is_agent() -> bool {
    IS_AGENT.load(Ordering::Relaxed)
}

/// `ngx.process.type()`'s number: nginx's process type, "master" for the
/// master's own `init_by_lua*` (still a "single" process then), 99 for
/// the agent.
pub fn process_type() -> i32 {
    if is_agent() {
        return PRIVILEGED_AGENT;
    }
    let k = process::kind();
    if k == NGX_PROCESS_SINGLE && process::master_enabled() {
        return NGX_PROCESS_MASTER as i32;
    }
    k as i32
}

static ATFORK: Once = Once::new();
static PREV_SIGIO: OnceLock<libc::sigaction> = OnceLock::new();

/// `cycle` is complete (init_module, in the master or before it
/// daemonizes): takes what its init_by_lua asked for.
///
/// # Safety
/// `cycle` is the cycle being initialised.
pub unsafe fn commit(cycle: *mut ngx_cycle_t) {
    let wanted = PENDING.swap(0, Ordering::Relaxed);
    WANTED.store(wanted, Ordering::Relaxed);
    // SAFETY: the caller's contract.
    if wanted == 0 || !unsafe { process::master_enabled_in(cycle) } {
        return;
    }
    if wanted == 1 {
        // No connection for it: upstream's patched master refuses to
        // spawn it, with this alert.
        WANTED.store(0, Ordering::Relaxed);
        // SAFETY: the caller's contract: a live cycle.
        if let Some(c) = unsafe { crate::nginx::cycle::Cycle::from_raw(cycle) } {
            c.new_log().write(
                NGX_LOG_ALERT,
                b"0 worker_connection is not enough, privileged agent process cannot be spawned",
            );
        }
        return;
    }
    ATFORK.call_once(|| {
        // SAFETY: plain function pointers; glibc drops them if the module
        // is unloaded (registered with our DSO handle).
        unsafe { libc::pthread_atfork(Some(before_fork), Some(after_fork_parent), None) };
    });
}

fn wanted() -> Option<usize> {
    match WANTED.load(Ordering::Relaxed) {
        0 => None,
        n => Some(n as usize - 1),
    }
}

extern "C" fn before_fork() {
    guard((), || {
        if process::is_master() && wanted().is_some() {
            install_sigio();
        }
    })
}

extern "C" fn after_fork_parent() {
    guard((), || {
        if process::is_master() && wanted().is_some() && process::sigio_blocked() {
            // Stays pending until the master's sigsuspend.
            process::queue_signal(libc::SIGIO, MAGIC);
        }
    })
}

/// Puts our SIGIO handler in front of nginx's (nginx installs its own at
/// start, after init_module: hence from the fork hook).
fn install_sigio() {
    // SAFETY: reading and replacing the SIGIO disposition; the previous
    // one is kept first, so the handler can chain to it.
    unsafe {
        let mut cur: libc::sigaction = core::mem::zeroed();
        libc::sigaction(libc::SIGIO, core::ptr::null(), &mut cur);
        if cur.sa_sigaction == on_sigio as *const () as usize {
            return;
        }
        let _ = PREV_SIGIO.set(cur);
        let mut sa = cur;
        sa.sa_sigaction = on_sigio as *const () as usize;
        sa.sa_flags = cur.sa_flags | libc::SA_SIGINFO;
        libc::sigaction(libc::SIGIO, &sa, core::ptr::null_mut());
    }
}

extern "C" fn on_sigio(sig: c_int, info: *mut libc::siginfo_t, uctx: *mut c_void) {
    guard((), || {
        // SAFETY: the kernel's siginfo for this signal.
        let ours = unsafe {
            !info.is_null()
                && (*info).si_code == libc::SI_QUEUE
                && (*info).si_value().sival_ptr as usize == MAGIC
        };
        if ours {
            if let Some(conns) = wanted() {
                if !process::exiting() && !helper::running(agent_body) {
                    // SAFETY: in the master, inside sigsuspend (SIGIO is
                    // blocked everywhere else), so the process table is ours.
                    unsafe {
                        helper::spawn(
                            ngx_cycle as *mut ngx_cycle_t,
                            agent_body,
                            conns as *mut c_void,
                            c"privileged agent process",
                        )
                    };
                }
            }
            return;
        }
        if let Some(prev) = PREV_SIGIO.get() {
            let h = prev.sa_sigaction;
            if h == libc::SIG_DFL || h == libc::SIG_IGN {
                return;
            }
            // SAFETY: the handler nginx installed, called as its flags ask.
            unsafe {
                if prev.sa_flags & libc::SA_SIGINFO != 0 {
                    let f: extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void) =
                        core::mem::transmute(h);
                    f(sig, info, uctx);
                } else {
                    let f: extern "C" fn(c_int) = core::mem::transmute(h);
                    f(sig);
                }
            }
        }
    })
}

/// The agent's process body (in the child `ngx_spawn_process` made).
unsafe extern "C" fn agent_body(cycle: *mut ngx_cycle_t, data: *mut c_void) {
    guard((), || {
        IS_AGENT.store(true, Ordering::Relaxed);
        // SAFETY: nginx calls the body in the new child with its cycle.
        unsafe {
            helper::run(
                cycle,
                data as usize,
                c"privileged agent process",
                c"privileged agent process is shutting down",
            )
        }
    })
}

/// Signals whose handlers get SA_RESTART with `lua_sa_restart on`, as
/// upstream's list: nginx's own signals and those it ignores.
const SA_RESTART_SIGNALS: &[c_int] = &[
    libc::SIGHUP,
    libc::SIGUSR1,
    libc::SIGWINCH,
    libc::SIGTERM,
    libc::SIGQUIT,
    libc::SIGUSR2,
    libc::SIGALRM,
    libc::SIGINT,
    libc::SIGIO,
    libc::SIGCHLD,
    libc::SIGSYS,
    libc::SIGPIPE,
];

/// `lua_sa_restart on`: a system call Lua code makes (`io.popen` reads,
/// `os.execute`) is restarted rather than failing with EINTR when one of
/// nginx's signals arrives.
pub fn set_sa_restart() {
    for &sig in SA_RESTART_SIGNALS {
        // SAFETY: reading and rewriting a disposition with one more flag.
        unsafe {
            let mut act: libc::sigaction = core::mem::zeroed();
            if libc::sigaction(sig, core::ptr::null(), &mut act) != 0 {
                log::cycle(
                    NGX_LOG_WARN,
                    format!("failed to get sigaction for signal {sig}").as_bytes(),
                );
                continue;
            }
            act.sa_flags |= libc::SA_RESTART;
            if libc::sigaction(sig, &act, core::ptr::null_mut()) != 0 {
                log::cycle(
                    NGX_LOG_WARN,
                    format!("failed to set sigaction for signal {sig}").as_bytes(),
                );
            }
        }
    }
}

static TRIM_COUNT: AtomicU32 = AtomicU32::new(0);

/// `lua_malloc_trim N`: every N requests (counted in the log phase, as
/// upstream), libc gives its free memory back to the system.
pub fn count_request(every: usize) {
    let n = TRIM_COUNT.fetch_add(1, Ordering::Relaxed) + 1;
    if n as usize >= every {
        TRIM_COUNT.store(0, Ordering::Relaxed);
        // SAFETY: malloc_trim only releases free heap memory.
        let rc = unsafe { libc::malloc_trim(1) };
        log::cycle(
            NGX_LOG_DEBUG,
            format!("malloc_trim(1) returned {rc}").as_bytes(),
        );
    }
}

/// `lua_malloc_trim N` (upstream's wording for a bad number).
///
/// # Safety
/// nginx's directive setter contract (MAIN offset: `conf` is our MainConf).
pub unsafe extern "C" fn set_malloc_trim(
    cf: *mut ngx_conf_t,
    _: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut core::ffi::c_char {
    guard(usize::MAX as *mut core::ffi::c_char, || {
        // SAFETY: as above; TAKE1: args[1] exists.
        unsafe {
            let mcf = &mut *(conf as *mut crate::conf::MainConf);
            let arg = &*((*(*cf).args).elts as *const ngx_str_t).add(1);
            let n = ngx_atoi(arg.data, arg.len);
            if n == NGX_ERROR as ngx_int_t {
                return c"invalid number in the 1st argument".as_ptr() as *mut _;
            }
            mcf.malloc_trim = Some(n as u32);
            core::ptr::null_mut()
        }
    })
}

/// The log-phase handler counting requests for `lua_malloc_trim`.
///
/// # Safety
/// nginx's phase handler contract: a live request.
pub unsafe extern "C" fn malloc_trim_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    guard(NGX_DECLINED as ngx_int_t, || {
        // SAFETY: a live request's main conf.
        let mcf = unsafe { crate::conf::main_conf(r) };
        let every = mcf.malloc_trim.unwrap_or(DEFAULT_MALLOC_TRIM);
        if every > 0 {
            count_request(every as usize);
        }
        NGX_DECLINED as ngx_int_t
    })
}

/// `lua_malloc_trim`'s default, which upstream applies where its log
/// handler runs anyway (a `log_by_lua*` is configured).
pub const DEFAULT_MALLOC_TRIM: u32 = 1000;

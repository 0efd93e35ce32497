//! A helper process of our own, spawned by the master the way it spawns
//! workers (`ngx_spawn_process`, so it reaps, respawns, signals and
//! reloads it like them), that runs modules' `init_process`, timers and
//! events but accepts no connections: what OpenResty's "privileged agent"
//! patch adds to nginx's process cycle, rebuilt from nginx's exported
//! functions, because the worker's own cycle functions are static.
//!
//! Unlike a worker it keeps the master's user (no `setuid`), as
//! upstream's agent does.
use core::ffi::{c_void, CStr};
use core::ptr;

use nginx_sys::*;

use super::log;

/// nginx's `ngx_channel_t` (ngx_channel.h, not in the bindings).
#[repr(C)]
struct Channel {
    command: ngx_uint_t,
    pid: ngx_pid_t,
    slot: ngx_int_t,
    fd: ngx_fd_t,
}

extern "C" {
    fn ngx_write_channel(
        s: ngx_socket_t,
        ch: *mut Channel,
        size: usize,
        log: *mut ngx_log_t,
    ) -> ngx_int_t;
    fn ngx_read_channel(
        s: ngx_socket_t,
        ch: *mut Channel,
        size: usize,
        log: *mut ngx_log_t,
    ) -> ngx_int_t;
    fn ngx_add_channel_event(
        cycle: *mut ngx_cycle_t,
        fd: ngx_fd_t,
        event: ngx_int_t,
        handler: ngx_event_handler_pt,
    ) -> ngx_int_t;
}

/// `NGX_READ_EVENT` of nginx's Linux builds (epoll).
const READ_EVENT: ngx_int_t = (libc::EPOLLIN | libc::EPOLLRDHUP) as ngx_int_t;

/// What the master runs in the child.
pub type Body = unsafe extern "C" fn(*mut ngx_cycle_t, *mut c_void);

/// Whether a process started with `body` is alive and not asked to stop
/// (read in the master's table).
pub fn running(body: Body) -> bool {
    // SAFETY: the master's own process table, only changed by this thread
    // (its signal handlers run at sigsuspend, when nothing else does).
    unsafe {
        let table = &*ptr::addr_of!(ngx_processes);
        table[..(ngx_last_process.max(0) as usize).min(table.len())]
            .iter()
            .any(|p| {
                p.proc_.map(|f| f as usize) == Some(body as usize)
                    && p.pid != -1
                    && p.exited() == 0
                    && p.exiting() == 0
            })
    }
}

/// Spawns `body` as a respawned helper named `name` (the process title)
/// and tells the other processes about its channel, as nginx does for a
/// new worker. Master only.
///
/// # Safety
/// In the master, outside any nginx function that uses the process table
/// (its signal handlers run at that point: inside sigsuspend).
pub unsafe fn spawn(
    cycle: *mut ngx_cycle_t,
    body: Body,
    data: *mut c_void,
    name: &'static CStr,
) -> bool {
    // SAFETY: the caller's contract; nginx's own spawn and channel calls.
    unsafe {
        let pid = ngx_spawn_process(
            cycle,
            Some(body),
            data,
            name.as_ptr() as *mut _,
            NGX_PROCESS_RESPAWN as ngx_int_t,
        );
        if pid == -1 {
            return false;
        }
        let s = ngx_process_slot;
        let mut ch = Channel {
            command: NGX_CMD_OPEN_CHANNEL as ngx_uint_t,
            pid: (*ptr::addr_of!(ngx_processes))[s as usize].pid,
            slot: s,
            fd: (*ptr::addr_of!(ngx_processes))[s as usize].channel[0],
        };
        for i in 0..ngx_last_process {
            let p = &(*ptr::addr_of!(ngx_processes))[i as usize];
            if i == s || p.pid == -1 || p.channel[0] == -1 {
                continue;
            }
            ngx_write_channel(
                p.channel[0],
                &mut ch,
                core::mem::size_of::<Channel>(),
                (*cycle).log,
            );
        }
    }
    true
}

/// Reads the master's commands, as nginx's (static) channel handler does.
unsafe extern "C" fn on_channel(ev: *mut ngx_event_t) {
    super::panic::guard((), || {
        // SAFETY: the channel connection's read event.
        unsafe {
            if (*ev).timedout() != 0 {
                (*ev).set_timedout(0);
                return;
            }
            let c = (*ev).data as *mut ngx_connection_t;
            loop {
                let mut ch: Channel = core::mem::zeroed();
                let n =
                    ngx_read_channel((*c).fd, &mut ch, core::mem::size_of::<Channel>(), (*ev).log);
                if n == NGX_ERROR as ngx_int_t {
                    ngx_close_connection(c);
                    return;
                }
                if n == NGX_AGAIN as ngx_int_t {
                    return;
                }
                match ch.command as u32 {
                    NGX_CMD_QUIT => ngx_quit = 1,
                    NGX_CMD_TERMINATE => ngx_terminate = 1,
                    NGX_CMD_REOPEN => ngx_reopen = 1,
                    NGX_CMD_OPEN_CHANNEL => {
                        if let Some(p) =
                            (*ptr::addr_of_mut!(ngx_processes)).get_mut(ch.slot as usize)
                        {
                            p.pid = ch.pid;
                            p.channel[0] = ch.fd;
                        }
                    }
                    NGX_CMD_CLOSE_CHANNEL => {
                        if let Some(p) =
                            (*ptr::addr_of_mut!(ngx_processes)).get_mut(ch.slot as usize)
                        {
                            if p.channel[0] != -1 {
                                libc::close(p.channel[0]);
                            }
                            p.channel[0] = -1;
                        }
                    }
                    _ => {}
                }
            }
        }
    })
}

fn cstr_title(s: &'static CStr) -> *mut i8 {
    s.as_ptr() as *mut i8
}

/// The helper's life, from the spawned child to `exit`: a worker's
/// initialisation without listening sockets or `setuid`, every module's
/// `init_process`, then nginx's event loop with its graceful shutdown.
///
/// # Safety
/// Called by `ngx_spawn_process` in the new child, with the cycle.
pub unsafe fn run(
    cycle: *mut ngx_cycle_t,
    connections: usize,
    title: &'static CStr,
    exiting_title: &'static CStr,
) -> ! {
    // SAFETY: the child's own process state, set up as nginx's
    // ngx_worker_process_init does (minus privileges, priority and CPU
    // affinity, which are the workers').
    unsafe {
        // Before closing the listening sockets: a master-type close would
        // unlink unix-domain socket files.
        ngx_process = NGX_PROCESS_HELPER as ngx_uint_t;
        ngx_close_listening_sockets(cycle);
        (*cycle).connection_n = connections;
        if ngx_set_environment(cycle, ptr::null_mut()).is_null() {
            libc::exit(2);
        }
        let ccf = *(*cycle).conf_ctx.add(ngx_core_module.index) as *mut ngx_core_conf_t;
        #[allow(clippy::unnecessary_cast)]
        let limits = [
            (libc::RLIMIT_NOFILE, (*ccf).rlimit_nofile as i64),
            (libc::RLIMIT_CORE, (*ccf).rlimit_core as i64),
        ];
        for (res, v) in limits {
            if v != NGX_CONF_UNSET as i64 && v >= 0 {
                let r = libc::rlimit {
                    rlim_cur: v as u64,
                    rlim_max: v as u64,
                };
                libc::setrlimit(res, &r);
            }
        }
        let wd = &(*ccf).working_directory;
        if wd.len > 0 && libc::chdir(wd.data as *const i8) == -1 {
            log::cycle(NGX_LOG_ALERT, b"chdir() to working_directory failed");
            libc::exit(2);
        }
        let mut set: libc::sigset_t = core::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, ptr::null_mut());
        let mut m = (*cycle).modules;
        while !(*m).is_null() {
            if let Some(init) = (**m).init_process {
                if init(cycle) == NGX_ERROR as ngx_int_t {
                    libc::exit(2);
                }
            }
            m = m.add(1);
        }
        for n in 0..ngx_last_process {
            let p = &(*ptr::addr_of!(ngx_processes))[n as usize];
            if p.pid == -1 || n == ngx_process_slot || p.channel[1] == -1 {
                continue;
            }
            libc::close(p.channel[1]);
        }
        libc::close((*ptr::addr_of!(ngx_processes))[ngx_process_slot as usize].channel[0]);
        if ngx_add_channel_event(cycle, ngx_channel, READ_EVENT, Some(on_channel))
            == NGX_ERROR as ngx_int_t
        {
            libc::exit(2);
        }
        ngx_use_accept_mutex = 0;
        ngx_setproctitle(cstr_title(title));
        loop {
            if ngx_exiting != 0 && ngx_event_no_timers_left() == NGX_OK as ngx_int_t {
                log::cycle(NGX_LOG_NOTICE, b"exiting");
                exit(cycle);
            }
            ngx_process_events_and_timers(cycle);
            if ngx_terminate != 0 {
                log::cycle(NGX_LOG_NOTICE, b"exiting");
                exit(cycle);
            }
            if ngx_quit != 0 {
                ngx_quit = 0;
                log::cycle(NGX_LOG_NOTICE, b"gracefully shutting down");
                ngx_setproctitle(cstr_title(exiting_title));
                if ngx_exiting == 0 {
                    ngx_exiting = 1;
                    ngx_set_shutdown_timer(cycle);
                    ngx_close_idle_connections(cycle);
                    ngx_event_process_posted(cycle, ptr::addr_of_mut!(ngx_posted_events));
                }
            }
            if ngx_reopen != 0 {
                ngx_reopen = 0;
                log::cycle(NGX_LOG_NOTICE, b"reopening logs");
                ngx_reopen_files(cycle, u32::MAX as ngx_uid_t);
            }
        }
    }
}

/// Runs every module's `exit_process` and ends the process.
unsafe fn exit(cycle: *mut ngx_cycle_t) -> ! {
    // SAFETY: the helper's cycle; exit_process hooks run once.
    unsafe {
        let mut m = (*cycle).modules;
        while !(*m).is_null() {
            if let Some(f) = (**m).exit_process {
                f(cycle);
            }
            m = m.add(1);
        }
        libc::exit(0)
    }
}

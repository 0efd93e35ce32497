//! The module's init hooks: building the cycle's VM and running
//! `init_by_lua*` after the configuration is read, installing the phase
//! handlers and filters in use, and ordering them once the phase engine
//! exists.
use nginx_sys::*;

use crate::conf::MainConf;
use crate::lua::vm::Vm;
use crate::nginx::conf::{Conf, HttpConfs};
use crate::nginx::cycle::{self, Cycle};
use crate::phase::{access, body_filter, header_filter, log, precontent, rewrite, server_rewrite};
use crate::subrequest;

const OK: ngx_int_t = NGX_OK as ngx_int_t;
const ERROR: ngx_int_t = NGX_ERROR as ngx_int_t;

/// Creates the cycle's VM and runs `init_by_lua*` (in the master, before
/// the workers fork), then installs the phase hooks in use.
pub unsafe extern "C" fn postconfiguration(cf: *mut ngx_conf_t) -> ngx_int_t {
    crate::nginx::panic::guard(ERROR, || {
        // SAFETY: nginx calls the hook once per http block with the
        // configuration being parsed.
        let cf = unsafe { Conf::from_raw(cf) };
        if configure(cf) {
            OK
        } else {
            ERROR
        }
    })
}

fn configure(cf: Conf) -> bool {
    let Some(mcf) = MainConf::of_conf(cf) else {
        return false;
    };
    crate::process::begin_config();
    let cycle = cf.cycle();
    let prefix = cycle.prefix().to_vec();
    let vm = crate::shdict::zone::while_configuring(mcf, |mcf| {
        Vm::new(
            mcf.package_path.as_deref(),
            mcf.package_cpath.as_deref(),
            &prefix,
            crate::ffi::PRELOAD,
        )
    });
    let mut vm = match vm {
        Ok(vm) => vm,
        Err(e) => {
            cf.log(NGX_LOG_EMERG, &format!("failed to initialize Lua VM: {e}"));
            return false;
        }
    };
    if mcf.max_memory.is_some() || mcf.max_run_time.is_some() {
        crate::lua::sched::register_limit_reports();
        let limit = mcf.max_memory.unwrap_or(usize::MAX);
        if let Err(used) = vm.set_memory_limit(limit) {
            cf.log(
                NGX_LOG_EMERG,
                &format!(
                    "lua_max_memory {limit} is below what the Lua VM holds after loading resty.core \
                     ({used} bytes)"
                ),
            );
            return false;
        }
    }
    if let Some(spec) = mcf.package_path.as_deref() {
        let own = crate::lua::vm::expand_path(spec, b"", &prefix);
        if let Err(e) = vm.load_path_resty_core(&own) {
            cf.log(
                NGX_LOG_ALERT,
                &format!(
                    "failed to load the 'resty.core' module found on lua_package_path (reason: {e})"
                ),
            );
            return false;
        }
    }
    for (name, f) in &mcf.preload_hooks {
        vm.set_preload(name, *f);
    }
    vm.thread_cache_max = mcf
        .thread_cache_max
        .map_or(crate::lua::vm::THREAD_CACHE_DEFAULT, |n| n as usize);
    mcf.vm = Some(vm);
    let Some(host) = cf.variable_index(b"host") else {
        return false;
    };
    mcf.host_var_index = Some(host);
    // SAFETY: cf is the configuration being parsed, mcf its main conf.
    if !unsafe { crate::errlog::prepare(cf.as_ptr(), mcf) } {
        return false;
    }
    // With shared dicts, init_by_lua waits until nginx has initialised
    // every zone (shdict::zone::init_zone), as upstream. Either way
    // ngx_cycle points at the cycle being configured while it runs: at the
    // first start the current one is nginx's empty bootstrap cycle, whose
    // missing configuration crashed ngx.worker.count().
    mcf.init_waits_for_zones = mcf.zone_count() > 0;
    if !mcf.init_waits_for_zones
        && !cycle::with_cycle(cycle, || mcf.run_init_by_lua(cf.error_log()))
    {
        return false;
    }

    match crate::nginx::ssl_server::install_cert_cb(cf, |confs| {
        crate::conf::LocConf::of_confs(confs).ssl_cert.is_some()
    }) {
        Some(any) => mcf.uses_ssl_cert = any,
        None => return false,
    }
    match crate::nginx::ssl_server::install_client_hello_cb(cf, |confs| {
        crate::conf::LocConf::of_confs(confs)
            .ssl_client_hello
            .is_some()
    }) {
        Some(any) => mcf.uses_ssl_cert |= any,
        None => return false,
    }
    match crate::nginx::ssl_session::install_session_cbs(
        cf,
        |confs| {
            crate::conf::LocConf::of_confs(confs)
                .ssl_sess_fetch
                .is_some()
        },
        |confs| {
            crate::conf::LocConf::of_confs(confs)
                .ssl_sess_store
                .is_some()
        },
    ) {
        Some(any) => mcf.uses_ssl_cert |= any,
        None => return false,
    }
    if crate::nginx::ssl_server::install_probe_stop(cf, |confs| {
        let lcf = crate::conf::LocConf::of_confs(confs);
        lcf.ssl_sess_fetch.is_some() && lcf.ssl_cert.is_none()
    })
    .is_none()
    {
        return false;
    }

    // The capture filters first: the *_filter_by_lua ones then sit above
    // them and see subrequest responses too. Those are in the chains only
    // when some location has one: a pass through them cost every response
    // about 150 instructions. (nginx allows one http block, so one call
    // of this hook per cycle decides for all its locations.) Likewise the
    // capture filters: only a handler of a request phase can issue a
    // capture (timers, filters, log and TLS handlers may not), so without
    // one there is never a response to capture.
    if mcf.uses_server_rewrite
        || mcf.uses_rewrite
        || mcf.uses_access
        || mcf.uses_precontent
        || mcf.uses_content
    {
        subrequest::install();
    }
    if mcf.uses_header_filter {
        header_filter::install();
    }
    if mcf.uses_body_filter {
        body_filter::install();
    }

    // nginx runs a phase's handlers in the reverse order of this array:
    // ours, pushed after the built-in modules', come first (init_module
    // moves the postponed ones to the end of their phase).
    let malloc_trim = mcf
        .malloc_trim
        .unwrap_or(crate::process::DEFAULT_MALLOC_TRIM)
        > 0
        && (mcf.malloc_trim.is_some() || mcf.uses_log);
    let hooks: [(bool, u32, ngx_http_handler_pt); 6] = [
        (
            mcf.uses_server_rewrite,
            ngx_http_phases_NGX_HTTP_SERVER_REWRITE_PHASE,
            Some(server_rewrite::handler),
        ),
        (
            mcf.uses_rewrite,
            ngx_http_phases_NGX_HTTP_REWRITE_PHASE,
            Some(rewrite::handler),
        ),
        (
            mcf.uses_access,
            ngx_http_phases_NGX_HTTP_ACCESS_PHASE,
            Some(access::handler),
        ),
        (
            mcf.uses_precontent,
            ngx_http_phases_NGX_HTTP_PRECONTENT_PHASE,
            Some(precontent::handler),
        ),
        (
            mcf.uses_log,
            ngx_http_phases_NGX_HTTP_LOG_PHASE,
            Some(log::handler),
        ),
        (
            malloc_trim,
            ngx_http_phases_NGX_HTTP_LOG_PHASE,
            Some(crate::process::malloc_trim_handler),
        ),
    ];
    hooks
        .into_iter()
        .filter(|(used, ..)| *used)
        .all(|(_, phase, h)| cf.add_phase_handler(phase as usize, h))
}

/// Moves our rewrite, access and precontent handlers to the end of their
/// phase, so they run after nginx's own modules there (`set`/`rewrite`,
/// `allow`/`deny`/`auth_basic`, `try_files`/`mirror`) as upstream's do,
/// unless `*_by_lua_no_postpone` keeps one where it is: first in its phase.
///
/// Upstream moves its handler on the first request; doing it once here
/// gives the same order without touching the engine while requests run.
pub unsafe extern "C" fn init_module(cycle: *mut ngx_cycle_t) -> ngx_int_t {
    crate::nginx::panic::guard(ERROR, || {
        // SAFETY: nginx calls the hook with the cycle it just configured.
        let Some(cycle) = (unsafe { Cycle::from_raw(cycle) }) else {
            return OK;
        };
        let Some(mcf) = MainConf::of_cycle(cycle) else {
            return OK;
        };
        // SAFETY: the cycle nginx just configured.
        if !unsafe { crate::errlog::install(cycle.as_ptr()) } {
            return ERROR;
        }
        // SAFETY: as above.
        unsafe { crate::process::commit(cycle.as_ptr()) };
        if mcf.uses_ssl_cert {
            crate::nginx::ssl_server::wrap_listenings(
                cycle,
                crate::ssl_cert::start,
                crate::ssl_cert::has,
            );
        }
        crate::nginx::ssl_session::set_store(crate::ssl_cert::store);
        crate::nginx::ssl_upstream::set_proxy_runner(crate::ssl_cert::proxy);
        let Some(ph) = HttpConfs::of_cycle(cycle).and_then(HttpConfs::phase_handlers) else {
            return OK;
        };
        let ours: [(ngx_http_handler_pt, Option<bool>); 3] = [
            (Some(rewrite::handler), mcf.rewrite_no_postpone),
            (Some(access::handler), mcf.access_no_postpone),
            (Some(precontent::handler), mcf.precontent_no_postpone),
        ];
        for (h, no_postpone) in ours {
            if no_postpone != Some(true) {
                move_to_phase_end(ph, h);
            }
        }
        OK
    })
}

/// Moves handler `h` after the other handlers of its phase: the entries
/// after it with the same checker and the same `next` (two phases may
/// share a checker). Rotating only the handler fields keeps each entry's
/// checker and `next`, so the engine stays consistent.
fn move_to_phase_end(ph: &mut [ngx_http_phase_handler_t], h: ngx_http_handler_pt) {
    let addr = |f: ngx_http_handler_pt| f.map(|f| f as usize);
    let Some(i) = ph.iter().position(|e| addr(e.handler) == addr(h)) else {
        return;
    };
    let key = |e: &ngx_http_phase_handler_t| (e.checker.map(|f| f as usize), e.next);
    let phase = key(&ph[i]);
    let mut j = i;
    while j + 1 < ph.len() && key(&ph[j + 1]) == phase {
        j += 1;
    }
    for k in i..j {
        ph[k].handler = ph[k + 1].handler;
    }
    ph[j].handler = h;
}

/// Worker (and privileged agent) start: `lua_sa_restart`, then
/// `init_worker_by_lua*`. nginx's cache manager and loader run no Lua
/// code, as upstream.
pub unsafe extern "C" fn init_process(cycle: *mut ngx_cycle_t) -> ngx_int_t {
    crate::nginx::panic::guard(NGX_ERROR as ngx_int_t, || {
        if crate::nginx::process::kind() == NGX_PROCESS_HELPER && !crate::process::is_agent() {
            return NGX_OK as ngx_int_t;
        }
        // SAFETY: nginx passes the running cycle.
        let Some(mcf) = unsafe { Cycle::from_raw(cycle) }.and_then(MainConf::of_cycle) else {
            return NGX_OK as ngx_int_t;
        };
        if mcf.sa_restart != Some(false) {
            crate::process::set_sa_restart();
        }
        crate::shdict::persist::start_worker();
        crate::metrics::set_sources(crate::metrics::Sources {
            timers: || (crate::timer::pending_count(), crate::timer::running_count()),
            pools: crate::cosocket::pool::stats,
            zones: |each| {
                for z in crate::shdict::zone::zones() {
                    each(&z.name, z.capacity(), z.free_space());
                }
            },
        });
        crate::metrics::start_worker(mcf);
        if let (Some(ms), Some(vm)) = (mcf.max_run_time, mcf.vm.as_ref()) {
            // SAFETY: the worker's VM, whose budget configure() installed
            // for lua_max_run_time.
            if let Err(e) = unsafe { crate::lua::limits::start_run_limit(vm.state(), ms as u64) } {
                crate::nginx::log::cycle(
                    NGX_LOG_ALERT,
                    format!("lua_max_run_time: {e}").as_bytes(),
                );
            }
        }
        // SAFETY: as above.
        unsafe { crate::phase::init_worker::init_process(cycle) }
    })
}

/// Worker exit: `exit_worker_by_lua*`; the pipes to children are closed
/// (nginx reports connections left open when a worker exits); then the
/// VM is closed while nginx is still whole, so the finalizers of sockets
/// and other Lua-owned objects let go of what they hold (after this,
/// nginx destroys the cycle and unloads the module); last, what the
/// worker's globals own is freed.
pub unsafe extern "C" fn exit_process(cycle: *mut ngx_cycle_t) {
    crate::nginx::panic::guard((), || {
        // SAFETY: nginx passes the running cycle.
        unsafe { crate::phase::exit_worker::exit_process(cycle) };
        crate::pipe::on_exit();
        // SAFETY: as above.
        if let Some(mcf) = unsafe { crate::conf::main_conf_from_cycle(cycle) } {
            crate::lua::limits::stop_run_limit();
            drop(mcf.vm.take());
        }
        crate::phase::exit_worker::mark_exited();
        crate::shdict::persist::stop_worker();
        crate::metrics::stop_worker();
        crate::timer::on_exit();
        crate::cosocket::tcp::on_exit();
        crate::cosocket::pool::on_exit();
        crate::worker_thread::on_exit();
        crate::lua::ctx::on_exit();
        crate::http::ctx::on_exit();
        crate::nginx::ssl_server::on_exit();
    })
}

/// Master exit (also a single-process nginx's): every worker is gone, so
/// `persist=` zones are saved here, once, by the one process left.
pub unsafe extern "C" fn exit_master(_cycle: *mut ngx_cycle_t) {
    crate::nginx::panic::guard((), crate::shdict::persist::save_all)
}

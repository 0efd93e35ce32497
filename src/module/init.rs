//! The module's init hooks: building the cycle's VM and running
//! `init_by_lua*` after the configuration is read, installing the phase
//! handlers and filters in use, and ordering them once the phase engine
//! exists.
use nginx_sys::*;

use crate::conf::{self, main_conf_from_cf};
use crate::lua::vm::Vm;
use crate::nginx::log::conf_log;
use crate::phase::{access, body_filter, header_filter, log, precontent, rewrite, server_rewrite};
use crate::subrequest;

/// Creates the cycle's VM and runs `init_by_lua*` (in the master, before
/// the workers fork), then installs the phase hooks in use.
pub unsafe extern "C" fn postconfiguration(cf: *mut ngx_conf_t) -> ngx_int_t {
    // SAFETY: nginx calls this once per http block with a valid cf.
    unsafe {
        let Some(mcf) = main_conf_from_cf(cf) else {
            return NGX_ERROR as ngx_int_t;
        };
        crate::process::begin_config();
        let prefix = {
            let s = &(*(*cf).cycle).prefix;
            core::slice::from_raw_parts(s.data, s.len).to_vec()
        };
        let vm = match crate::shdict::zone::while_configuring(mcf, |mcf| {
            Vm::new(
                mcf.package_path.as_deref(),
                mcf.package_cpath.as_deref(),
                &prefix,
                crate::ffi::PRELOAD,
            )
        }) {
            Ok(vm) => vm,
            Err(e) => {
                conf_log(
                    cf,
                    NGX_LOG_EMERG,
                    &format!("failed to initialize Lua VM: {e}"),
                );
                return NGX_ERROR as ngx_int_t;
            }
        };
        let mut vm = vm;
        vm.thread_cache_max = mcf
            .thread_cache_max
            .map_or(crate::lua::vm::THREAD_CACHE_DEFAULT, |n| n as usize);
        mcf.vm = Some(vm);
        let mut host = ngx_str_t {
            len: 4,
            data: c"host".as_ptr() as *mut u8,
        };
        let i = ngx_http_get_variable_index(cf, &mut host);
        if i == NGX_ERROR as ngx_int_t {
            return NGX_ERROR as ngx_int_t;
        }
        mcf.host_var_index = Some(i as usize);
        if !crate::errlog::prepare(cf, mcf) {
            return NGX_ERROR as ngx_int_t;
        }
        // With shared dicts, init_by_lua waits until nginx has initialised
        // every zone (shdict::zone::init_zone), as upstream.
        if mcf.shdicts.is_empty() {
            // As upstream (and as with shared dicts): ngx_cycle points at
            // the cycle being configured while init_by_lua runs; at the
            // first start the current one is nginx's empty bootstrap cycle,
            // whose missing configuration crashed ngx.worker.count().
            let saved = ngx_cycle;
            ngx_cycle = (*cf).cycle;
            let ok = mcf.run_init_by_lua((*cf).log);
            ngx_cycle = saved;
            if !ok {
                return NGX_ERROR as ngx_int_t;
            }
        }

        // The capture filters first: the *_filter_by_lua ones then sit
        // above them and see subrequest responses too.
        subrequest::install();
        header_filter::install();
        body_filter::install();

        let cmcf = *(*((*cf).ctx as *mut ngx_http_conf_ctx_t))
            .main_conf
            .add(ngx_http_core_module.ctx_index)
            as *mut ngx_http_core_main_conf_t;
        // nginx runs a phase's handlers in the reverse order of this array:
        // ours, pushed after the built-in modules', come first (init_module
        // moves the postponed ones to the end of their phase).
        let malloc_trim = mcf
            .malloc_trim
            .unwrap_or(crate::process::DEFAULT_MALLOC_TRIM)
            > 0
            && (mcf.malloc_trim.is_some() || mcf.uses_log);
        let hooks: [(bool, usize, ngx_http_handler_pt); 6] = [
            (
                mcf.uses_server_rewrite,
                ngx_http_phases_NGX_HTTP_SERVER_REWRITE_PHASE as usize,
                Some(server_rewrite::handler),
            ),
            (
                mcf.uses_rewrite,
                ngx_http_phases_NGX_HTTP_REWRITE_PHASE as usize,
                Some(rewrite::handler),
            ),
            (
                mcf.uses_access,
                ngx_http_phases_NGX_HTTP_ACCESS_PHASE as usize,
                Some(access::handler),
            ),
            (
                mcf.uses_precontent,
                ngx_http_phases_NGX_HTTP_PRECONTENT_PHASE as usize,
                Some(precontent::handler),
            ),
            (
                mcf.uses_log,
                ngx_http_phases_NGX_HTTP_LOG_PHASE as usize,
                Some(log::handler),
            ),
            (
                malloc_trim,
                ngx_http_phases_NGX_HTTP_LOG_PHASE as usize,
                Some(crate::process::malloc_trim_handler),
            ),
        ];
        for (used, phase, h) in hooks {
            if !used {
                continue;
            }
            let arr = &mut (*cmcf).phases[phase].handlers;
            let slot = ngx_array_push(arr) as *mut ngx_http_handler_pt;
            if slot.is_null() {
                return NGX_ERROR as ngx_int_t;
            }
            *slot = h;
        }
        NGX_OK as ngx_int_t
    }
}

/// Moves our rewrite, access and precontent handlers to the end of their
/// phase, so they run after nginx's own modules there (`set`/`rewrite`,
/// `allow`/`deny`/`auth_basic`, `try_files`/`mirror`) as upstream's do,
/// unless `*_by_lua_no_postpone` keeps one where it is: first in its phase.
///
/// Upstream moves its handler on the first request; doing it once here
/// gives the same order without touching the engine while requests run.
pub unsafe extern "C" fn init_module(cycle: *mut ngx_cycle_t) -> ngx_int_t {
    // SAFETY: the phase engine is built by the time init_module runs; the
    // entries of one phase share checker and `next`, so rotating their
    // handler fields keeps the engine consistent.
    unsafe {
        let Some(mcf) = conf::main_conf_from_cycle(cycle) else {
            return NGX_OK as ngx_int_t;
        };
        if !crate::errlog::install(cycle) {
            return NGX_ERROR as ngx_int_t;
        }
        crate::process::commit(cycle);
        let http = *(*cycle).conf_ctx.add(ngx_http_module.index) as *mut ngx_http_conf_ctx_t;
        let cmcf = *(*http).main_conf.add(ngx_http_core_module.ctx_index)
            as *mut ngx_http_core_main_conf_t;
        let ph = (*cmcf).phase_engine.handlers;
        if ph.is_null() {
            return NGX_OK as ngx_int_t;
        }
        let mut n = 0usize;
        while (*ph.add(n)).checker.is_some() {
            n += 1;
        }
        let ours: [(ngx_http_handler_pt, Option<bool>); 3] = [
            (Some(rewrite::handler), mcf.rewrite_no_postpone),
            (Some(access::handler), mcf.access_no_postpone),
            (Some(precontent::handler), mcf.precontent_no_postpone),
        ];
        for (h, no_postpone) in ours {
            if no_postpone == Some(true) {
                continue;
            }
            let addr = |f: ngx_http_handler_pt| f.map(|f| f as usize);
            let Some(i) = (0..n).find(|&i| addr((*ph.add(i)).handler) == addr(h)) else {
                continue;
            };
            // One phase: the entries after ours with the same checker and
            // the same `next` (two phases may share a checker).
            let key =
                |p: *const ngx_http_phase_handler_t| ((*p).checker.map(|f| f as usize), (*p).next);
            let phase = key(ph.add(i));
            let mut j = i;
            while j + 1 < n && key(ph.add(j + 1)) == phase {
                j += 1;
            }
            for k in i..j {
                (*ph.add(k)).handler = (*ph.add(k + 1)).handler;
            }
            (*ph.add(j)).handler = h;
        }
        NGX_OK as ngx_int_t
    }
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
        let Some(mcf) = (unsafe { conf::main_conf_from_cycle(cycle) }) else {
            return NGX_OK as ngx_int_t;
        };
        if mcf.sa_restart != Some(false) {
            crate::process::set_sa_restart();
        }
        // SAFETY: as above.
        unsafe { crate::phase::init_worker::init_process(cycle) }
    })
}

/// Worker exit: `exit_worker_by_lua*`, then the pipes to children are
/// closed (nginx reports connections left open when a worker exits).
pub unsafe extern "C" fn exit_process(cycle: *mut ngx_cycle_t) {
    crate::nginx::panic::guard((), || {
        // SAFETY: nginx passes the running cycle.
        unsafe { crate::phase::exit_worker::exit_process(cycle) };
        crate::pipe::on_exit();
    })
}

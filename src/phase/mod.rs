//! nginx phase hooks: one file per phase.
pub mod abort;
pub mod access;
pub mod body_filter;
pub mod content;
pub mod exec;
pub mod exit_worker;
pub mod flush;
pub mod header_filter;
pub mod init_worker;
pub mod log;
pub mod output;
pub mod precontent;
pub mod rewrite;
pub mod server_rewrite;
pub mod set;
pub mod subrequest;

use nginx_sys::*;

use crate::conf::{self, main_conf_from_cf, MainConf};
use crate::http::RequestCtx;
use crate::lua::ctx::LuaCtx;
use crate::lua::phase::Phase;
use crate::lua::sched::{self, Outcome};
use crate::lua::vm::Vm;
use crate::nginx::log::{conf_log, log_error};

/// Creates the cycle's VM and runs `init_by_lua*` (in the master, before
/// the workers fork), then installs the phase hooks in use.
pub unsafe extern "C" fn postconfiguration(cf: *mut ngx_conf_t) -> ngx_int_t {
    // SAFETY: nginx calls this once per http block with a valid cf.
    unsafe {
        let Some(mcf) = main_conf_from_cf(cf) else {
            return NGX_ERROR as ngx_int_t;
        };
        let prefix = {
            let s = &(*(*cf).cycle).prefix;
            core::slice::from_raw_parts(s.data, s.len).to_vec()
        };
        let vm = match crate::shdict::zone::while_configuring(mcf, |mcf| {
            Vm::new(
                mcf.package_path.as_deref(),
                mcf.package_cpath.as_deref(),
                &prefix,
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
        // With shared dicts, init_by_lua waits until nginx has initialised
        // every zone (shdict::zone::init_zone), as upstream.
        if mcf.shdicts.is_empty() && !run_init_by_lua(mcf, (*cf).log) {
            return NGX_ERROR as ngx_int_t;
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
        let hooks: [(bool, usize, ngx_http_handler_pt); 5] = [
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

/// Runs `init_by_lua*` (if configured) in the cycle's VM; false when it
/// failed (logged).
///
/// # Safety
/// `log` is null or a live log.
pub unsafe fn run_init_by_lua(mcf: &mut MainConf, log: *mut ngx_log_t) -> bool {
    let (Some(init), Some(vm)) = (mcf.init.clone(), mcf.vm.as_ref()) else {
        return true;
    };
    // SAFETY: the cycle's live VM, outside any request.
    if let Err(e) = unsafe { sched::run_sync(core::ptr::null_mut(), vm.state(), &init, true) } {
        // SAFETY: the caller's log.
        unsafe {
            log_error(
                NGX_LOG_ERR,
                log,
                format!("init_by_lua error: {e}").as_bytes(),
            )
        };
        return false;
    }
    true
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

/// `lua_need_request_body`: reads the client body before a rewrite,
/// access or content handler runs its Lua code. `Some(rc)` when the
/// handler must return `rc` now: `NGX_DONE` while nginx reads (the post
/// handler re-enters the handler), or nginx's error status.
///
/// # Safety
/// `r` is the live request of `ctx`, in one of those phases.
pub unsafe fn read_body_first(
    r: *mut ngx_http_request_t,
    ctx: &mut RequestCtx,
    content: bool,
) -> Option<ngx_int_t> {
    if ctx.body.waiting_more {
        return Some(NGX_DONE as ngx_int_t);
    }
    // SAFETY: live request; nginx's documented body API.
    unsafe {
        if ctx.body.read_done || !conf::loc_conf(r).need_request_body() {
            return None;
        }
        (*r).set_request_body_in_single_buf(1);
        (*r).set_request_body_in_persistent_file(1);
        (*r).set_request_body_in_clean_file(1);
        let post: ngx_http_client_body_handler_pt = if content {
            Some(content_body_read)
        } else {
            Some(phase_body_read)
        };
        let rc = ngx_http_read_client_request_body(r, post);
        if rc == NGX_ERROR as ngx_int_t || rc >= NGX_HTTP_SPECIAL_RESPONSE as ngx_int_t {
            return Some(rc);
        }
        if rc == NGX_AGAIN as ngx_int_t {
            ctx.body.waiting_more = true;
            return Some(NGX_DONE as ngx_int_t);
        }
        None
    }
}

/// Body read for a rewrite/access handler: drop the read's reference and,
/// if the handler is waiting for it, run the phases again.
unsafe extern "C" fn phase_body_read(r: *mut ngx_http_request_t) {
    // SAFETY: nginx calls the post handler with the live request holding
    // the reference ngx_http_read_client_request_body took.
    unsafe {
        (*(*r).main).set_count((*(*r).main).count() - 1);
        let Some(ctx) = RequestCtx::get(r) else {
            return;
        };
        ctx.body.read_done = true;
        if ctx.body.waiting_more {
            ctx.body.waiting_more = false;
            ngx_http_core_run_phases(r);
        }
    }
}

/// Body read for a content handler: run it now if it was waiting (its
/// result finalizes the request with the read's reference), else just
/// drop the reference.
unsafe extern "C" fn content_body_read(r: *mut ngx_http_request_t) {
    // SAFETY: as phase_body_read.
    unsafe {
        let ctx = RequestCtx::get(r);
        match ctx {
            Some(ctx) if ctx.body.waiting_more => {
                ctx.body.read_done = true;
                ctx.body.waiting_more = false;
                ngx_http_finalize_request(r, content::handler(r));
            }
            ctx => {
                if let Some(ctx) = ctx {
                    ctx.body.read_done = true;
                }
                (*(*r).main).set_count((*(*r).main).count() - 1);
            }
        }
    }
}

/// The continuation of the request phases' handlers: lets the phase
/// whose threads ran act on the handler's state after an event resumed one
/// of them.
pub fn after_phase(l: &mut LuaCtx, outcome: Outcome) {
    // SAFETY: every LuaCtx of a request is part of a RequestCtx.
    let Some(ctx) = (unsafe { RequestCtx::from_lua(l) }) else {
        return;
    };
    match ctx.phase {
        Phase::Content => content::after_resume(ctx, outcome),
        Phase::ServerRewrite | Phase::Rewrite | Phase::Access | Phase::Precontent => {
            rewrite::after_resume(ctx, outcome)
        }
        _ => {}
    }
}

/// The status a finished rewrite/access/content handler ends the request
/// with, sending what is still owed (header, last buffer).
pub fn finish_rc(ctx: &mut RequestCtx, outcome: Outcome) -> Option<isize> {
    let r = ctx.r;
    // SAFETY: live request.
    let header_sent = unsafe { (*r).header_sent() != 0 };
    match outcome {
        Outcome::Yielded => None,
        // With subrequests still running (a light thread's capture),
        // upstream ends the request without a response.
        Outcome::Error if ctx.phases.pending_captures > 0 => Some(NGX_ERROR as isize),
        Outcome::Error => Some(if header_sent { NGX_ERROR as isize } else { 500 }),
        Outcome::Done => Some(output::send_eof(ctx)),
        Outcome::Exit(code) => {
            if code == NGX_ERROR as isize || code == NGX_HTTP_CLIENT_CLOSED_REQUEST as isize {
                return Some(code);
            }
            // As upstream, the exit code becomes the response status unless
            // one was set; it survives an `error_page 404 = /uri` redirect.
            if code >= 200 && !header_sent {
                // SAFETY: live request, header not yet sent.
                unsafe {
                    if (*r).headers_out.status == 0 {
                        (*r).headers_out.status = code as ngx_uint_t;
                    }
                }
            }
            // Buffered HTTP/1.0 output goes out with the exit status, as
            // upstream does, instead of being replaced by an error page.
            if code >= 300 && !header_sent && !ctx.output.buffering {
                return Some(code);
            }
            Some(output::send_eof(ctx))
        }
    }
}

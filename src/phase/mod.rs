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
use crate::lua::coctx::CoCtx;
use crate::lua::ctx::RequestCtx;
use crate::lua::sched::{self, Outcome};
use crate::lua::vm::Vm;
use crate::nginx::log::{conf_log, log_error};

/// Where Lua code runs; the numbers are what `ngx.get_phase` maps to names.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(C)]
pub enum Phase {
    Init = 1,
    InitWorker = 2,
    Set = 3,
    Rewrite = 4,
    Access = 5,
    Content = 6,
    Log = 7,
    HeaderFilter = 8,
    BodyFilter = 9,
    Timer = 10,
    ExitWorker = 11,
    ServerRewrite = 12,
    Precontent = 13,
}

impl Phase {
    /// The tag of inline chunk names: `=content_by_lua(nginx.conf:12)`.
    pub fn directive_tag(self) -> &'static str {
        match self {
            Phase::Init => "init_by_lua",
            Phase::InitWorker => "init_worker_by_lua",
            Phase::Set => "set_by_lua",
            Phase::Rewrite => "rewrite_by_lua",
            Phase::Access => "access_by_lua",
            Phase::Content => "content_by_lua",
            Phase::Log => "log_by_lua",
            Phase::HeaderFilter => "header_filter_by_lua",
            Phase::BodyFilter => "body_filter_by_lua",
            Phase::Timer => "ngx.timer",
            Phase::ExitWorker => "exit_worker_by_lua",
            Phase::ServerRewrite => "server_rewrite_by_lua",
            Phase::Precontent => "precontent_by_lua",
        }
    }

    /// As in upstream's "API disabled in the context of ..." errors.
    pub fn context_name(self) -> &'static str {
        match self {
            Phase::Init => "init_by_lua*",
            Phase::InitWorker => "init_worker_by_lua*",
            Phase::Set => "set_by_lua*",
            Phase::Rewrite => "rewrite_by_lua*",
            Phase::Access => "access_by_lua*",
            Phase::Content => "content_by_lua*",
            Phase::Log => "log_by_lua*",
            Phase::HeaderFilter => "header_filter_by_lua*",
            Phase::BodyFilter => "body_filter_by_lua*",
            Phase::Timer => "ngx.timer",
            Phase::ExitWorker => "exit_worker_by_lua*",
            Phase::ServerRewrite => "server_rewrite_by_lua*",
            Phase::Precontent => "precontent_by_lua*",
        }
    }

    /// Phases that run for a request (and may use request variables).
    pub fn request_phase(self) -> bool {
        matches!(
            self,
            Phase::Set
                | Phase::ServerRewrite
                | Phase::Rewrite
                | Phase::Access
                | Phase::Precontent
                | Phase::Content
        )
    }

    pub const fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// The request phases whose handler runs in an entry coroutine that may
/// produce the response (output, `ngx.exit`, `ngx.exec`, body reading).
pub const HANDLER_PHASES: u32 = Phase::ServerRewrite.bit()
    | Phase::Rewrite.bit()
    | Phase::Access.bit()
    | Phase::Precontent.bit()
    | Phase::Content.bit();

/// Phases where the entry coroutine may yield.
pub const YIELDABLE: u32 = HANDLER_PHASES | Phase::Timer.bit();

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
        if mcf.shdicts.is_empty() {
            // As upstream (and as with shared dicts): ngx_cycle points at
            // the cycle being configured while init_by_lua runs; at the
            // first start the current one is nginx's empty bootstrap cycle,
            // whose missing configuration crashed ngx.worker.count().
            let saved = ngx_cycle;
            ngx_cycle = (*cf).cycle;
            let ok = run_init_by_lua(mcf, (*cf).log);
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
    if ctx.waiting_more_body {
        return Some(NGX_DONE as ngx_int_t);
    }
    // SAFETY: live request; nginx's documented body API.
    unsafe {
        if ctx.read_body_done || !conf::loc_conf(r).need_request_body() {
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
            ctx.waiting_more_body = true;
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
        ctx.read_body_done = true;
        if ctx.waiting_more_body {
            ctx.waiting_more_body = false;
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
            Some(ctx) if ctx.waiting_more_body => {
                ctx.read_body_done = true;
                ctx.waiting_more_body = false;
                ngx_http_finalize_request(r, content::handler(r));
            }
            ctx => {
                if let Some(ctx) = ctx {
                    ctx.read_body_done = true;
                }
                (*(*r).main).set_count((*(*r).main).count() - 1);
            }
        }
    }
}

/// Resumes the thread that waits on a request-level event (body read,
/// flush) and continues the phase.
pub fn resume_entry(ctx: &mut RequestCtx) {
    let t = if ctx.event_waiter.is_null() {
        ctx.entry
    } else {
        ctx.event_waiter
    };
    ctx.event_waiter = core::ptr::null_mut();
    // SAFETY: the waiter is a live thread of ctx (release_threads clears
    // event_waiter before threads go away).
    if !t.is_null() {
        // SAFETY: see above.
        unsafe { resume_thread(t, 0) };
    }
}

/// Resumes `t` from one of its own nginx events (its timer, a socket, a
/// semaphore), then runs the connection's posted subrequests as nginx's own
/// event handlers do. A timer's fake request has none, and may already be
/// freed by the resumption.
///
/// # Safety
/// `t` is a suspended thread of a live request context.
pub unsafe fn resume_from_event(t: *mut CoCtx) {
    // SAFETY: see above; the connection and phase are read before resuming.
    unsafe {
        let ctx = (*t).ctx;
        let r = (*ctx).r;
        let c = (*r).connection;
        let timer = (*ctx).phase == Phase::Timer;
        if !timer {
            // Log lines name the request that runs (a subrequest, or the
            // parent woken after its subrequests), as nginx's own handlers
            // do.
            let lctx = (*(*c).log).data as *mut ngx_http_log_ctx_t;
            if !lctx.is_null() {
                (*lctx).current_request = r;
            }
        }
        resume_thread(t, 0);
        if !timer {
            ngx_http_run_posted_requests(c);
        }
    }
}

/// Resumes a suspended thread and lets its phase act on the result.
///
/// # Safety
/// `t` is a suspended thread of a live request context.
pub unsafe fn resume_thread(t: *mut CoCtx, nargs: core::ffi::c_int) {
    // SAFETY: t's ctx outlives it; t is suspended (the caller got it from
    // an armed event).
    // Read the owner first: finishing the handler frees the thread records.
    let ctx = unsafe { &mut *(*t).ctx };
    let outcome = unsafe { sched::resume(t, nargs) };
    after_phase(ctx, outcome);
}

/// Lets the phase whose threads ran act on the handler's state.
pub fn after_phase(ctx: &mut RequestCtx, outcome: Outcome) {
    match ctx.phase {
        Phase::Content => content::after_resume(ctx, outcome),
        Phase::ServerRewrite | Phase::Rewrite | Phase::Access | Phase::Precontent => {
            rewrite::after_resume(ctx, outcome)
        }
        Phase::Timer => crate::lua::timer::after_resume(ctx, outcome),
        _ => {}
    }
}

/// The status a finished rewrite/access/content handler ends the request
/// with, sending what is still owed (header, last buffer).
pub fn finish_rc(ctx: &mut RequestCtx, outcome: Outcome) -> Option<isize> {
    let r = ctx.r;
    // SAFETY: live request.
    let header_sent = unsafe { (*r).header_sent() != 0 };
    if outcome != Outcome::Yielded {
        // SAFETY: live request whose threads are all done.
        unsafe { crate::cosocket::req::discard_unread(r) };
    }
    match outcome {
        Outcome::Yielded => None,
        // With subrequests still running (a light thread's capture),
        // upstream ends the request without a response.
        Outcome::Error if ctx.pending_captures > 0 => Some(NGX_ERROR as isize),
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
            if code >= 300 && !header_sent && !ctx.buffering {
                return Some(code);
            }
            Some(output::send_eof(ctx))
        }
    }
}

//! `rewrite_by_lua*`, and the handler body and resume path it shares with
//! `server_rewrite_by_lua*`, `access_by_lua*` and `precontent_by_lua*`:
//! phases whose Lua handler may answer the request or let it go on.
use nginx_sys::*;

use crate::conf::loc_conf;
use crate::lua::ctx::{PhaseState, RequestCtx};
use crate::lua::sched::{self, Outcome};
use crate::phase::Phase;

pub unsafe extern "C" fn handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: phase handlers get a live request.
    unsafe { run(r, Phase::Rewrite) }
}

/// The phase result of a finished handler: continue (`NGX_DECLINED`), let
/// the access phase grant (`NGX_OK`), or end the request with a status.
fn phase_rc(ctx: &mut RequestCtx, phase: Phase, outcome: Outcome) -> Option<isize> {
    let declined = NGX_DECLINED as isize;
    match outcome {
        Outcome::Yielded => None,
        // As upstream, returning and `ngx.exit(ngx.OK)` are the same: the
        // request goes on (an access handler grants it, which matters under
        // `satisfy any`), unless the handler already started a response.
        Outcome::Done | Outcome::Exit(0) => Some(go_on(ctx, phase == Phase::Access)),
        // `ngx.exit(ngx.DECLINED)`: go on without granting access; the
        // rewrite phases still finish a started response, as upstream.
        Outcome::Exit(c) if c == declined => {
            Some(if matches!(phase, Phase::Rewrite | Phase::ServerRewrite) {
                go_on(ctx, false)
            } else {
                declined
            })
        }
        Outcome::Exit(_) | Outcome::Error => {
            let rc = super::finish_rc(ctx, outcome)?;
            // Output the client has not taken yet (NGX_AGAIN) must not
            // reach the access and precontent checkers, which take it for
            // "resume me later" and wait for a resume nobody makes. As
            // upstream: "done, 200", and nginx's finalize arms the writer
            // that sends the rest. (The rewrite checker finalizes with any
            // code itself.)
            if rc == NGX_AGAIN as isize && matches!(phase, Phase::Access | Phase::Precontent) {
                return Some(NGX_HTTP_OK as isize);
            }
            // A finished response must not look like "granted" to the
            // access checker, which treats NGX_OK as "go on".
            if rc == NGX_OK as isize {
                return Some(if phase == Phase::Access {
                    NGX_HTTP_OK as isize
                } else {
                    NGX_OK as isize
                });
            }
            Some(rc)
        }
    }
}

/// The phase goes on (`NGX_OK` for a granting access handler), unless the
/// handler already started a response, which later phases must not
/// produce again: it is finished here and the request ends.
fn go_on(ctx: &mut RequestCtx, grant: bool) -> isize {
    // Held HTTP/1.0 output (`lua_http10_buffering`) counts too.
    // SAFETY: live request.
    let started = unsafe { (*ctx.r).header_sent() != 0 } || !ctx.out.is_null();
    if started {
        let rc = super::output::send_eof(ctx);
        if rc == NGX_ERROR as isize || rc > NGX_OK as isize {
            return rc;
        }
        return NGX_HTTP_OK as isize;
    }
    if grant {
        NGX_OK as isize
    } else {
        NGX_DECLINED as isize
    }
}

/// Shared body of the server rewrite, rewrite, access and precontent
/// handlers.
///
/// # Safety
/// `r` is a live request in `phase`.
pub unsafe fn run(r: *mut ngx_http_request_t, phase: Phase) -> ngx_int_t {
    // SAFETY: live request.
    unsafe {
        // In the server rewrite phase this is the server's own loc conf.
        let lcf = loc_conf(r);
        let h = match phase {
            Phase::ServerRewrite => lcf.server_rewrite.clone(),
            Phase::Rewrite => lcf.rewrite.clone(),
            Phase::Access => lcf.access.clone(),
            _ => lcf.precontent.clone(),
        };
        let Some(h) = h else {
            return NGX_DECLINED as ngx_int_t;
        };
        let Some(ctx) = RequestCtx::get_or_create(r) else {
            return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
        };
        let state = *state_of(ctx, phase);
        match state {
            // After `ngx.req.set_uri(uri, true)` nginx found the new
            // location (find_config cleared uri_changed): start afresh.
            PhaseState::Done(_) if ctx.uri_jump && (*r).uri_changed() == 0 => {
                ctx.uri_jump = false;
                ctx.rewrite = PhaseState::Idle;
                ctx.access = PhaseState::Idle;
                ctx.precontent = PhaseState::Idle;
            }
            PhaseState::Done(rc) => return rc,
            PhaseState::Running => return NGX_DONE as ngx_int_t,
            PhaseState::Idle => {}
        }
        if let Some(rc) = super::read_body_first(r, ctx, false) {
            return rc;
        }
        // While Lua runs or waits, write events belong to whatever it
        // waits on; the phase engine gets them back when it is done.
        (*r).write_event_handler = Some(ngx_http_request_empty_handler);
        super::abort::watch(r);
        let outcome = sched::start(ctx, &h, lcf.code_cache());
        if super::exec::perform(ctx).is_some() {
            // Drop the reference the internal redirect took; the new pass
            // owns the request now.
            ngx_http_finalize_request(r, NGX_DONE as ngx_int_t);
            return NGX_DONE as ngx_int_t;
        }
        match phase_rc(ctx, phase, outcome) {
            Some(rc) => {
                set_state(ctx, phase, PhaseState::Done(rc));
                (*r).write_event_handler = Some(ngx_http_core_run_phases);
                (*r).read_event_handler = Some(ngx_http_block_reading);
                rc
            }
            None => {
                set_state(ctx, phase, PhaseState::Running);
                (*(*r).main).set_count((*(*r).main).count() + 1);
                NGX_DONE as ngx_int_t
            }
        }
    }
}

fn state_of(ctx: &mut RequestCtx, phase: Phase) -> &mut PhaseState {
    match phase {
        Phase::ServerRewrite => &mut ctx.server_rewrite,
        Phase::Rewrite => &mut ctx.rewrite,
        Phase::Access => &mut ctx.access,
        _ => &mut ctx.precontent,
    }
}

fn set_state(ctx: &mut RequestCtx, phase: Phase, s: PhaseState) {
    *state_of(ctx, phase) = s;
}

/// A coroutine of one of these phases resumed by an event has finished: hand its
/// result to the phase engine by re-entering the handler.
pub fn after_resume(ctx: &mut RequestCtx, outcome: Outcome) {
    let r = ctx.r;
    if super::exec::perform(ctx).is_some() {
        // SAFETY: live request: drop the internal redirect's reference and
        // the one taken when the handler first yielded.
        unsafe {
            ngx_http_finalize_request(r, NGX_DONE as ngx_int_t);
            ngx_http_finalize_request(r, NGX_DONE as ngx_int_t);
        }
        return;
    }
    let phase = ctx.phase;
    let Some(rc) = phase_rc(ctx, phase, outcome) else {
        return;
    };
    set_state(ctx, phase, PhaseState::Done(rc));
    // SAFETY: live request holding the extra reference taken in run();
    // finalize(NGX_DONE) drops it after the phases moved on.
    unsafe {
        (*r).write_event_handler = Some(ngx_http_core_run_phases);
        (*r).read_event_handler = Some(ngx_http_block_reading);
        ngx_http_core_run_phases(r);
        ngx_http_finalize_request(r, NGX_DONE as ngx_int_t);
    }
}

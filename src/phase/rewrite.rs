//! `rewrite_by_lua*`, and the handler body and resume path it shares with
//! `server_rewrite_by_lua*`, `access_by_lua*` and `precontent_by_lua*`:
//! phases whose Lua handler may answer the request or let it go on.
use nginx_sys::{ngx_http_request_t, ngx_int_t, NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_HTTP_OK};

use crate::conf::LocConf;
use crate::http::ctx::{AfterResume, PhaseState, RequestCtx};
use crate::lua::phase::Phase;
use crate::lua::sched::Outcome;
use crate::nginx::panic::guard;
use crate::nginx::request::{Rc, Request, DECLINED, DONE, ERROR, OK};

pub unsafe extern "C" fn handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    guard(ERROR, || {
        // SAFETY: nginx calls phase handlers with a live request.
        match unsafe { Request::from_raw(r) } {
            Some(r) => run(r, Phase::Rewrite),
            None => ERROR,
        }
    })
}

/// The phase result of a finished handler: continue (`NGX_DECLINED`), let
/// the access phase grant (`NGX_OK`), or end the request with a status.
fn phase_rc(ctx: &mut RequestCtx, phase: Phase, outcome: Outcome) -> Option<Rc> {
    if outcome != Outcome::Yielded && ctx.phases.jump_drops_ctx {
        ctx.phases.jump_drops_ctx = false;
        ctx.drop_user_ctx();
    }
    match outcome {
        Outcome::Yielded => None,
        // As upstream, returning and `ngx.exit(ngx.OK)` are the same: the
        // request goes on (an access handler grants it, which matters under
        // `satisfy any`), unless the handler already started a response.
        Outcome::Done | Outcome::Exit(0) => Some(go_on(ctx, phase == Phase::Access)),
        // `ngx.exit(ngx.DECLINED)`: go on without granting access; the
        // rewrite phases still finish a started response, as upstream.
        Outcome::Exit(DECLINED) => {
            Some(if matches!(phase, Phase::Rewrite | Phase::ServerRewrite) {
                go_on(ctx, false)
            } else {
                DECLINED
            })
        }
        Outcome::Exit(_) | Outcome::Error => {
            let rc = super::finish::finish_rc(ctx, outcome)?;
            // Output the client has not taken yet (NGX_AGAIN) must not
            // reach the access and precontent checkers, which take it for
            // "resume me later" and wait for a resume nobody makes. As
            // upstream: "done, 200", and nginx's finalize arms the writer
            // that sends the rest. (The rewrite checker finalizes with any
            // code itself.)
            if rc == nginx_sys::NGX_AGAIN as isize
                && matches!(phase, Phase::Access | Phase::Precontent)
            {
                return Some(NGX_HTTP_OK as isize);
            }
            // A finished response must not look like "granted" to the
            // access checker, which treats NGX_OK as "go on".
            if rc == OK {
                return Some(if phase == Phase::Access {
                    NGX_HTTP_OK as Rc
                } else {
                    OK
                });
            }
            Some(rc)
        }
    }
}

/// The phase goes on (`NGX_OK` for a granting access handler), unless the
/// handler already started a response, which later phases must not
/// produce again: it is finished here and the request ends.
fn go_on(ctx: &mut RequestCtx, grant: bool) -> Rc {
    let r = ctx.req();
    // Held HTTP/1.0 output (`lua_http10_buffering`) counts too.
    let started = r.header_sent() || !ctx.output.held.is_empty();
    // The response is complete, or another module's content handler makes
    // it and knows nothing of a body socket's unread bytes.
    if started || LocConf::of(r).content.is_none() {
        // SAFETY: a live request whose Lua threads are all done.
        unsafe { crate::cosocket::req::discard_unread(r.as_ptr()) };
    }
    if started {
        let rc = super::output::send_eof(ctx);
        if super::output::failed(rc) {
            return rc;
        }
        return NGX_HTTP_OK as Rc;
    }
    if grant {
        OK
    } else {
        DECLINED
    }
}

/// Shared body of the server rewrite, rewrite, access and precontent
/// handlers, for request `r` in `phase`.
pub fn run(r: Request, phase: Phase) -> Rc {
    // In the server rewrite phase this is the server's own loc conf.
    let lcf = LocConf::of(r);
    // Upstream's rewrite handlers leave out their trace after a rewrite
    // changed the URI (nginx will find the location again).
    let (h, name, traced) = match phase {
        Phase::ServerRewrite => (
            &lcf.server_rewrite,
            "server rewrite handler",
            !r.uri_changed(),
        ),
        Phase::Rewrite => (&lcf.rewrite, "rewrite handler", !r.uri_changed()),
        Phase::Access => (&lcf.access, "access handler", true),
        _ => (&lcf.precontent, "precontent handler", true),
    };
    if traced {
        r.trace_hook(name, true);
    }
    let Some(h) = h.clone() else {
        return DECLINED;
    };
    let Some(ctx) = RequestCtx::of_or_create(r) else {
        return NGX_HTTP_INTERNAL_SERVER_ERROR as Rc;
    };
    let state = *state_of(ctx, phase);
    match state {
        // After `ngx.req.set_uri(uri, true)` nginx found the new location
        // (find_config cleared uri_changed): start afresh.
        PhaseState::Done(_) if ctx.phases.uri_jump && !r.uri_changed() => {
            ctx.phases.uri_jump = false;
            ctx.phases.rewrite = PhaseState::Idle;
            ctx.phases.access = PhaseState::Idle;
            ctx.phases.precontent = PhaseState::Idle;
        }
        PhaseState::Done(rc) => return rc,
        PhaseState::Running => return DONE,
        PhaseState::Idle => {}
    }
    if let Some(rc) = super::read_body_first(ctx, false) {
        return rc;
    }
    // While Lua runs or waits, write events belong to whatever it waits
    // on; the phase engine gets them back when it is done.
    r.ignore_write_events();
    super::abort::watch(r);
    let outcome = ctx.start::<Handed>(&h, lcf.code_cache());
    if super::exec::perform(ctx).is_some() {
        // Drop the reference the internal redirect took; the new pass owns
        // the request now.
        r.finalize(DONE);
        return DONE;
    }
    match phase_rc(ctx, phase, outcome) {
        Some(rc) => {
            *state_of(ctx, phase) = PhaseState::Done(rc);
            r.write_events_run_phases();
            r.block_reads();
            rc
        }
        None => {
            *state_of(ctx, phase) = PhaseState::Running;
            // Kept alive while Lua waits; after_resume drops it.
            r.hold();
            DONE
        }
    }
}

fn state_of(ctx: &mut RequestCtx, phase: Phase) -> &mut PhaseState {
    match phase {
        Phase::ServerRewrite => &mut ctx.phases.server_rewrite,
        Phase::Rewrite => &mut ctx.phases.rewrite,
        Phase::Access => &mut ctx.phases.access,
        _ => &mut ctx.phases.precontent,
    }
}

/// These phases after an event resumed their Lua code: once it has
/// finished, its result goes to the phase engine, which re-enters the
/// handler.
pub struct Handed;

impl AfterResume for Handed {
    fn after_resume(ctx: &mut RequestCtx, outcome: Outcome) {
        let r = ctx.req();
        if super::exec::perform(ctx).is_some() {
            // Drop the internal redirect's reference and the one taken when
            // the handler first yielded.
            r.finalize(DONE);
            r.finalize(DONE);
            return;
        }
        let phase = ctx.phase;
        let Some(rc) = phase_rc(ctx, phase, outcome) else {
            return;
        };
        *state_of(ctx, phase) = PhaseState::Done(rc);
        r.write_events_run_phases();
        r.block_reads();
        r.run_phases();
        // Drops the reference taken in run(), after the phases moved on.
        r.finalize(DONE);
    }
}

//! Reading the client body for Lua: before a handler runs
//! (`lua_need_request_body`), and when Lua asks (`ngx.req.read_body`,
//! which waits for it).
//!
//! nginx's body reader takes a reference on the main request while it
//! reads; each reader below says who drops it.
use nginx_sys::NGX_HTTP_SPECIAL_RESPONSE;

use crate::conf::LocConf;
use crate::http::RequestCtx;
use crate::lua::sched;
use crate::nginx::body::BodyReader;
use crate::nginx::request::{Rc, Request, AGAIN, DONE, ERROR, OK};

const SPECIAL_RESPONSE: Rc = NGX_HTTP_SPECIAL_RESPONSE as Rc;

/// The request's context, in a body post handler.
fn ctx_of(r: Request) -> Option<&'static mut RequestCtx> {
    // SAFETY: nginx runs a post handler for a live request; our context
    // slot holds null or the context get_or_create put in the request
    // pool, alive until the pool goes.
    unsafe { RequestCtx::get(r.as_ptr()) }
}

/// `lua_need_request_body`: reads the client body before a rewrite,
/// access or content handler runs its Lua code. `Some(rc)` when the
/// handler must return `rc` now: `NGX_DONE` while nginx reads (the post
/// handler re-enters the handler), or nginx's error status.
pub fn read_body_first(ctx: &mut RequestCtx, content: bool) -> Option<Rc> {
    if ctx.body.waiting_more {
        return Some(DONE);
    }
    let r = ctx.req();
    if ctx.body.read_done || !LocConf::of(r).need_request_body() {
        return None;
    }
    let rc = if content {
        r.read_client_body::<ContentBodyRead>()
    } else {
        r.read_client_body::<PhaseBodyRead>()
    };
    if rc == ERROR || rc >= SPECIAL_RESPONSE {
        return Some(rc);
    }
    if rc == AGAIN {
        ctx.body.waiting_more = true;
        return Some(DONE);
    }
    None
}

/// Body read for a rewrite/access handler: drop the read's reference and,
/// if the handler is waiting for it, run the phases again.
struct PhaseBodyRead;

impl BodyReader for PhaseBodyRead {
    fn done(r: Request) -> bool {
        r.release();
        let Some(ctx) = ctx_of(r) else {
            return false;
        };
        ctx.body.read_done = true;
        if ctx.body.waiting_more {
            ctx.body.waiting_more = false;
            r.run_phases();
        }
        false
    }
}

/// Body read for a content handler: run it now if it was waiting (its
/// result finalizes the request with the read's reference), else just
/// drop the reference.
struct ContentBodyRead;

impl BodyReader for ContentBodyRead {
    fn done(r: Request) -> bool {
        match ctx_of(r) {
            Some(ctx) if ctx.body.waiting_more => {
                ctx.body.read_done = true;
                ctx.body.waiting_more = false;
                // Our content handler is the location's, nginx's
                // content_handler.
                r.finalize(r.run_content_handler());
            }
            ctx => {
                if let Some(ctx) = ctx {
                    ctx.body.read_done = true;
                }
                r.release();
            }
        }
        false
    }
}

/// What `ngx.req.read_body` found.
pub enum LuaRead {
    /// The body is there (or there is none to read).
    Ready,
    /// nginx is reading it: the calling thread waits and is resumed
    /// when it is complete.
    Again,
    /// Reading failed with an HTTP status (`exit_code`), which ends the
    /// handler.
    Status,
    Failed,
}

/// `ngx.req.read_body()` for the running handler of `ctx`.
pub fn read_for_lua(ctx: &mut RequestCtx) -> LuaRead {
    let r = ctx.req();
    if !r.is_main() || r.has_client_body() || r.discarding_client_body() {
        return LuaRead::Ready;
    }
    let rc = r.read_client_body::<LuaBodyRead>();
    if rc >= SPECIAL_RESPONSE {
        ctx.exit_code = Some(rc);
        return LuaRead::Status;
    }
    // nginx took a reference for the read; the handler's own suspension
    // keeps the request alive instead.
    r.release();
    if rc == AGAIN {
        ctx.body.reading = true;
        ctx.waiting = true;
        return LuaRead::Again;
    }
    if rc != OK {
        return LuaRead::Failed;
    }
    LuaRead::Ready
}

/// Resumes the thread waiting in `ngx.req.read_body` (not when the body
/// was there at once: the call has not yielded then).
struct LuaBodyRead;

impl BodyReader for LuaBodyRead {
    fn done(r: Request) -> bool {
        let Some(ctx) = ctx_of(r) else {
            return false;
        };
        if !ctx.body.reading {
            return false;
        }
        ctx.body.reading = false;
        ctx.waiting = false;
        sched::resume_entry(ctx);
        true
    }
}

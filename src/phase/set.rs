//! `set_by_lua*`: a code in `ngx_http_rewrite_module`'s script engine.
//!
//! nginx's `set` and `if` compile into one code array per location (the
//! rewrite module's loc conf), run by the rewrite module's handler in the
//! (server) rewrite phase. `set_by_lua $var ...` appends two codes to that
//! same array, so it runs exactly in configuration order with them: ours,
//! which runs the Lua chunk and pushes its result onto the engine's value
//! stack, followed by nginx's own "assign the top of the stack to `$var`"
//! code (the one `set` uses). Upstream reaches the same result through the
//! NDK's `ndk_set_var_*` helpers.
use std::rc::Rc;

use nginx_sys::{ngx_conf_t, ngx_str_t, NGX_LOG_ERR};

use crate::conf::LocConf;
use crate::http::RequestCtx;
use crate::lua::handler::Handler;
use crate::lua::value::{call_for_value, CallError};
use crate::nginx::request::Request;
use crate::nginx::script::{ComplexValue, ScriptConf};

/// What one `set_by_lua*` directive runs; lives in the conf pool.
pub struct SetVar {
    handler: Rc<Handler>,
    /// The arguments after the code (or file path), as complex values.
    args: Vec<ComplexValue>,
}

/// Compiles `set_by_lua* $var ...` into the current block's rewrite codes.
///
/// # Safety
/// `cf` is the configuration being parsed, inside a server, location or
/// `if` block; `var` and `args` are strings of its arguments.
pub unsafe fn configure(
    cf: *mut ngx_conf_t,
    var: &ngx_str_t,
    handler: Rc<Handler>,
    args: &[ngx_str_t],
) -> bool {
    // SAFETY: the caller's promise.
    let Some(cf) = (unsafe { ScriptConf::from_raw(cf) }) else {
        return false;
    };
    let name = var.as_bytes();
    if name.first() != Some(&b'$') || name.len() < 2 {
        cf.emerg(&format!(
            "invalid variable name \"{}\"",
            String::from_utf8_lossy(name)
        ));
        return false;
    }
    let vname = ngx_str_t {
        len: var.len - 1,
        data: var.data.wrapping_add(1),
    };
    let Some(target) = cf.define_variable(&vname) else {
        return false;
    };
    let Some(args) = args
        .iter()
        .map(|a| cf.complex_value(a))
        .collect::<Option<Vec<_>>>()
    else {
        return false;
    };
    let Some(data) = cf.keep(SetVar { handler, args }) else {
        return false;
    };
    cf.add_value_code(data, run) && cf.add_assign_code(&target)
}

/// Evaluates the arguments and runs the chunk; the result string lives in
/// the request pool. `None` after a logged failure.
fn run(r: Request, var: &SetVar) -> Option<ngx_str_t> {
    let ctx = RequestCtx::of_or_create(r)?;
    ctx.phases.set_args.clear();
    for cv in &var.args {
        let s = cv.eval(r)?;
        ctx.phases.set_args.push(s);
    }
    let cache = LocConf::of(r).code_cache();
    let res = call_for_value(
        &mut ctx.lua,
        &var.handler,
        cache,
        &ctx.phases.set_args,
        |v| {
            if v.is_empty() {
                // No memory needed: the engine reads no byte of it.
                Some(ngx_str_t {
                    len: 0,
                    data: core::ptr::NonNull::dangling().as_ptr(),
                })
            } else {
                r.pool_str(v)
            }
        },
    );
    ctx.phases.set_args.clear();
    match res {
        Ok(v) => v,
        Err(CallError::Load(e)) => {
            r.log_error(NGX_LOG_ERR, e.as_bytes());
            None
        }
        Err(CallError::Run(e)) => {
            r.log_error(
                NGX_LOG_ERR,
                format!("failed to run set_by_lua*: {e}").as_bytes(),
            );
            None
        }
    }
}

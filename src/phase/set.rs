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

use core::ffi::c_int;
use core::mem::size_of;
use core::ptr;

use nginx_sys::*;
use ngx::core::Pool;

use crate::conf::loc_conf;
use crate::http::RequestCtx;
use crate::lua::handler::Handler;
use crate::lua::phase::Phase;
use crate::lua::raw::*;
use crate::lua::sched::Enter;
use crate::nginx::log::{conf_log, log_error};

extern "C" {
    static mut ngx_http_rewrite_module: ngx_module_t;
}

/// `ngx_http_rewrite_loc_conf_t`, private to the rewrite module; its layout
/// has been the same since nginx 0.x (1.22 and 1.28 included).
#[repr(C)]
struct RewriteLocConf {
    codes: *mut ngx_array_t,
    stack_size: ngx_uint_t,
    log: ngx_flag_t,
    uninitialized_variable_warn: ngx_flag_t,
}

/// What one `set_by_lua*` directive runs; lives in the conf pool.
pub struct SetVar {
    handler: Rc<Handler>,
    /// The arguments after the code (or file path), as complex values.
    args: Vec<*mut ngx_http_complex_value_t>,
}

/// Our code in the rewrite module's array (a multiple of a pointer's size,
/// as every script code is).
#[repr(C)]
struct SetCode {
    code: ngx_http_script_code_pt,
    var: *const SetVar,
}

/// A zero word: pointing the engine's `ip` here stops it, as nginx's own
/// (static) `ngx_http_script_exit` does.
static EXIT: usize = 0;

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
    // SAFETY: see above; every pointer below comes from nginx's conf API
    // and lives in the conf pool.
    unsafe {
        let name = core::slice::from_raw_parts(var.data, var.len);
        if name.first() != Some(&b'$') || name.len() < 2 {
            conf_log(
                cf,
                NGX_LOG_EMERG,
                &format!(
                    "invalid variable name \"{}\"",
                    String::from_utf8_lossy(name)
                ),
            );
            return false;
        }
        let mut vname = ngx_str_t {
            len: var.len - 1,
            data: var.data.add(1),
        };
        let v = ngx_http_add_variable(
            cf,
            &mut vname,
            (NGX_HTTP_VAR_CHANGEABLE | NGX_HTTP_VAR_WEAK) as ngx_uint_t,
        );
        if v.is_null() {
            return false;
        }
        let index = ngx_http_get_variable_index(cf, &mut vname);
        if index == NGX_ERROR as ngx_int_t {
            return false;
        }
        if (*v).get_handler.is_none() {
            (*v).get_handler = Some(uninitialized);
            (*v).data = index as usize;
        }

        let mut cvs = Vec::with_capacity(args.len());
        for a in args {
            let cv = ngx_pcalloc((*cf).pool, size_of::<ngx_http_complex_value_t>())
                as *mut ngx_http_complex_value_t;
            if cv.is_null() {
                return false;
            }
            let mut ccv: ngx_http_compile_complex_value_t = core::mem::zeroed();
            ccv.cf = cf;
            ccv.value = a as *const ngx_str_t as *mut ngx_str_t;
            ccv.complex_value = cv;
            if ngx_http_compile_complex_value(&mut ccv) != NGX_OK as ngx_int_t {
                return false;
            }
            cvs.push(cv);
        }
        let pool = Pool::from_ngx_pool((*cf).pool);
        let data = pool.allocate(SetVar { handler, args: cvs });
        if data.is_null() {
            return false;
        }

        let ctx = (*cf).ctx as *mut ngx_http_conf_ctx_t;
        let rlcf = *(*ctx)
            .loc_conf
            .add((*ptr::addr_of!(ngx_http_rewrite_module)).ctx_index)
            as *mut RewriteLocConf;
        let code = ngx_http_script_start_code((*cf).pool, &mut (*rlcf).codes, size_of::<SetCode>())
            as *mut SetCode;
        if code.is_null() {
            return false;
        }
        (*code).code = Some(set_code);
        (*code).var = data;

        // Assign the pushed value the way `set` does.
        if (*v).set_handler.is_some() {
            let vh = ngx_http_script_start_code(
                (*cf).pool,
                &mut (*rlcf).codes,
                size_of::<ngx_http_script_var_handler_code_t>(),
            ) as *mut ngx_http_script_var_handler_code_t;
            if vh.is_null() {
                return false;
            }
            (*vh).code = Some(ngx_http_script_var_set_handler_code);
            (*vh).handler = (*v).set_handler;
            (*vh).data = (*v).data;
        } else {
            let vc = ngx_http_script_start_code(
                (*cf).pool,
                &mut (*rlcf).codes,
                size_of::<ngx_http_script_var_code_t>(),
            ) as *mut ngx_http_script_var_code_t;
            if vc.is_null() {
                return false;
            }
            (*vc).code = Some(ngx_http_script_set_var_code);
            (*vc).index = index as usize;
        }
        true
    }
}

/// The get handler of a variable only `set_by_lua*` defines, read before
/// anything assigned it: empty, with the rewrite module's warning.
unsafe extern "C" fn uninitialized(
    r: *mut ngx_http_request_t,
    v: *mut ngx_http_variable_value_t,
    data: usize,
) -> ngx_int_t {
    // SAFETY: nginx calls get handlers with a live request and a value to
    // fill; `data` is the variable's index in the core main conf.
    unsafe {
        let rlcf = *(*r)
            .loc_conf
            .add((*ptr::addr_of!(ngx_http_rewrite_module)).ctx_index)
            as *const RewriteLocConf;
        if (*rlcf).uninitialized_variable_warn != 0 {
            let cmcf = *(*r).main_conf.add(ngx_http_core_module.ctx_index)
                as *const ngx_http_core_main_conf_t;
            let var = ((*cmcf).variables.elts as *const ngx_http_variable_t).add(data);
            let name = core::slice::from_raw_parts((*var).name.data, (*var).name.len);
            let mut msg = b"using uninitialized \"".to_vec();
            msg.extend_from_slice(name);
            msg.extend_from_slice(b"\" variable");
            log_error(NGX_LOG_WARN, (*(*r).connection).log, &msg);
        }
        *v = ngx_http_variable_null_value;
        NGX_OK as ngx_int_t
    }
}

/// Our script code: runs the chunk and pushes its result, or stops the
/// engine with a 500.
unsafe extern "C" fn set_code(e: *mut ngx_http_script_engine_t) {
    // SAFETY: the engine's ip points at the SetCode configure() wrote; sp
    // has room for one value (the rewrite module sizes the stack for
    // `set`, which pushes as much as we do).
    unsafe {
        let code = (*e).ip as *const SetCode;
        (*e).ip = (*e).ip.add(size_of::<SetCode>());
        let r = (*e).request;
        let var = &*(*code).var;
        match crate::nginx::panic::guard(None, || run(r, var)) {
            Some(val) => {
                let sp = (*e).sp;
                (*sp).set_len(val.len as u32);
                (*sp).set_valid(1);
                (*sp).set_no_cacheable(0);
                (*sp).set_not_found(0);
                (*sp).data = val.data;
                (*e).sp = sp.add(1);
            }
            None => {
                (*e).ip = ptr::addr_of!(EXIT) as *mut u8;
                (*e).status = NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
            }
        }
    }
}

/// Evaluates the arguments and runs the chunk; the result string lives in
/// the request pool. `None` after a logged failure.
unsafe fn run(r: *mut ngx_http_request_t, var: &SetVar) -> Option<ngx_str_t> {
    // SAFETY: a live request in its rewrite phase.
    unsafe {
        let log = (*(*r).connection).log;
        let ctx = RequestCtx::get_or_create(r)?;
        ctx.phases.set_args.clear();
        for &cv in &var.args {
            let mut s = ngx_str_t {
                len: 0,
                data: ptr::null_mut(),
            };
            if ngx_http_complex_value(r, cv, &mut s) != NGX_OK as ngx_int_t {
                return None;
            }
            ctx.phases.set_args.push(s);
        }
        let L = ctx.vm().state();
        let cache = loc_conf(r).code_cache();
        let top = lua_gettop(L);
        let res = {
            let _cur = Enter::new(&mut ctx.lua, Phase::Set);
            match var.handler.push(L, r, cache) {
                Err(e) => Err(e.msg),
                Ok(()) => {
                    let nargs = ctx.phases.set_args.len() as c_int;
                    for a in &ctx.phases.set_args {
                        lua_pushlstring(L, a.data as *const _, a.len);
                    }
                    crate::lua::vm::pcall_n(L, nargs, 1)
                        .map_err(|e| format!("failed to run set_by_lua*: {e}"))
                }
            }
        };
        ctx.phases.set_args.clear();
        if let Err(e) = res {
            lua_settop(L, top);
            log_error(NGX_LOG_ERR, log, e.as_bytes());
            return None;
        }
        // nil, booleans and tables give an empty value, as upstream.
        let mut len = 0usize;
        let p = lua_tolstring(L, -1, &mut len);
        let out = if p.is_null() || len == 0 {
            Some(ngx_str_t {
                len: 0,
                data: ptr::NonNull::dangling().as_ptr(),
            })
        } else {
            let d = ngx_pnalloc((*r).pool, len) as *mut u8;
            if !d.is_null() {
                ptr::copy_nonoverlapping(p as *const u8, d, len);
            }
            (!d.is_null()).then_some(ngx_str_t { len, data: d })
        };
        lua_settop(L, top);
        out
    }
}

//! nginx's script engine as `ngx_http_rewrite_module` runs it: codes
//! appended to the rewrite module's code array of the block being parsed
//! (what `set` and `if` compile into), complex values (strings with
//! `$variables`), and variables a directive defines.
//!
//! The rewrite module runs its array in the (server) rewrite phase, in
//! configuration order. A value code of ours computes a value and pushes
//! it onto the engine's value stack; the assign code that follows is
//! nginx's own, the one `set` uses.
use core::ffi::c_void;
use core::mem::size_of;
use core::ptr::{self, NonNull};

use nginx_sys::*;
use ngx::core::Pool;

use super::log::conf_log;
use super::panic::guard;
use super::request::{str_bytes, Request, ERROR, OK};

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

fn rewrite_ctx_index() -> usize {
    // SAFETY: nginx writes the module's indices once while loading the
    // modules, before any configuration is read, and only reads them
    // afterwards.
    unsafe { (*ptr::addr_of!(ngx_http_rewrite_module)).ctx_index }
}

/// A compiled complex value (a string with `$variables`), in the
/// configuration pool.
#[derive(Clone, Copy)]
pub struct ComplexValue(NonNull<ngx_http_complex_value_t>);

impl ComplexValue {
    /// The value for request `r`, in its pool; `None` when nginx could not
    /// evaluate it.
    pub fn eval(self, r: Request) -> Option<ngx_str_t> {
        let mut s = ngx_str_t {
            len: 0,
            data: ptr::null_mut(),
        };
        // SAFETY: a value compiled by ScriptConf::complex_value, which lives
        // in the configuration pool (longer than any request), evaluated
        // for a live request.
        let rc = unsafe { ngx_http_complex_value(r.as_ptr(), self.0.as_ptr(), &mut s) };
        (rc == OK).then_some(s)
    }
}

/// How nginx's assign code writes a variable a directive defined.
pub struct VarTarget {
    index: ngx_uint_t,
    set_handler: ngx_http_set_variable_pt,
    data: usize,
}

/// What a value code computes: the value to push (in the request pool),
/// or `None` to stop the engine with a 500 (after logging why).
pub type ValueFn<T> = fn(Request, &T) -> Option<ngx_str_t>;

/// Our code in the rewrite module's array (a multiple of a pointer's
/// size, as every script code is).
#[repr(C)]
struct ValueCode<T: 'static> {
    code: ngx_http_script_code_pt,
    run: ValueFn<T>,
    data: *const T,
}

/// A zero word: pointing the engine's `ip` here stops it, as nginx's own
/// (static) `ngx_http_script_exit` does.
static EXIT: usize = 0;

/// The configuration block being parsed (a server, location or `if`
/// block of `http{}`), as a directive that adds script codes sees it.
#[derive(Clone, Copy)]
pub struct ScriptConf(NonNull<ngx_conf_t>);

impl ScriptConf {
    /// # Safety
    /// `cf` is the configuration being parsed, inside a server, location
    /// or `if` block of `http{}`, and the handle is used only while the
    /// directive is being handled.
    pub unsafe fn from_raw(cf: *mut ngx_conf_t) -> Option<ScriptConf> {
        NonNull::new(cf).map(ScriptConf)
    }

    fn cf(self) -> *mut ngx_conf_t {
        self.0.as_ptr()
    }

    fn pool(self) -> Pool {
        // SAFETY: the configuration's pool lives as long as the cycle.
        unsafe { Pool::from_ngx_pool((*self.cf()).pool) }
    }

    /// An `emerg` message with the file and line being parsed.
    pub fn emerg(self, msg: &str) {
        // SAFETY: the configuration being parsed (from_raw).
        unsafe { conf_log(self.cf(), NGX_LOG_EMERG, msg) }
    }

    /// Moves `value` into the configuration pool, which drops it when the
    /// cycle goes away.
    pub fn keep<T>(self, value: T) -> Option<&'static T> {
        let p = self.pool().allocate(value);
        // SAFETY: allocate returns null or the value, written into the
        // configuration pool, which outlives every request of the cycle.
        unsafe { p.as_ref() }
    }

    /// Compiles `s` (which may hold `$variables`) into a complex value.
    pub fn complex_value(self, s: &ngx_str_t) -> Option<ComplexValue> {
        let cv = NonNull::new(self.pool().calloc_type::<ngx_http_complex_value_t>())?;
        // SAFETY: the compile record is zeroed as nginx's own callers do,
        // then filled; the value and the string live in the conf pool.
        unsafe {
            let mut ccv: ngx_http_compile_complex_value_t = core::mem::zeroed();
            ccv.cf = self.cf();
            ccv.value = s as *const ngx_str_t as *mut ngx_str_t;
            ccv.complex_value = cv.as_ptr();
            if ngx_http_compile_complex_value(&mut ccv) != OK {
                return None;
            }
        }
        Some(ComplexValue(cv))
    }

    /// Defines variable `$name` (without the `$`) as changeable, as `set`
    /// does; one nothing else defines reads as empty, with the rewrite
    /// module's "uninitialized" warning, until assigned.
    pub fn define_variable(self, name: &ngx_str_t) -> Option<VarTarget> {
        let mut name = *name;
        // SAFETY: nginx's variable API on the configuration being parsed;
        // the variable lives in the core main conf.
        unsafe {
            let v = ngx_http_add_variable(
                self.cf(),
                &mut name,
                (NGX_HTTP_VAR_CHANGEABLE | NGX_HTTP_VAR_WEAK) as ngx_uint_t,
            );
            if v.is_null() {
                return None;
            }
            let index = ngx_http_get_variable_index(self.cf(), &mut name);
            if index == ERROR {
                return None;
            }
            if (*v).get_handler.is_none() {
                (*v).get_handler = Some(uninitialized);
                (*v).data = index as usize;
            }
            Some(VarTarget {
                index: index as ngx_uint_t,
                set_handler: (*v).set_handler,
                data: (*v).data,
            })
        }
    }

    /// The rewrite module's code array of the block being parsed.
    fn codes(self) -> *mut *mut ngx_array_t {
        // SAFETY: a block of http{} has the rewrite module's loc conf in
        // its context (rewrite is compiled into every nginx that runs
        // `set`); the array pointer lives there.
        unsafe {
            let ctx = (*self.cf()).ctx as *mut ngx_http_conf_ctx_t;
            let rlcf = *(*ctx).loc_conf.add(rewrite_ctx_index()) as *mut RewriteLocConf;
            ptr::addr_of_mut!((*rlcf).codes)
        }
    }

    /// Room for a code of `size` bytes at the end of the code array.
    fn start_code(self, size: usize) -> *mut c_void {
        // SAFETY: nginx's script API on the block's code array, in the
        // configuration pool.
        unsafe { ngx_http_script_start_code((*self.cf()).pool, self.codes(), size) }
    }

    /// Appends a code that pushes `run(r, data)` onto the engine's stack.
    pub fn add_value_code<T: 'static>(self, data: &'static T, run: ValueFn<T>) -> bool {
        let code = self.start_code(size_of::<ValueCode<T>>()) as *mut ValueCode<T>;
        if code.is_null() {
            return false;
        }
        // SAFETY: room for one ValueCode in the code array.
        unsafe {
            code.write(ValueCode {
                code: Some(value_code::<T>),
                run,
                data,
            })
        };
        true
    }

    /// Appends nginx's code that assigns the value on top of the engine's
    /// stack to `var`, the way `set` does.
    pub fn add_assign_code(self, var: &VarTarget) -> bool {
        if var.set_handler.is_some() {
            let vh = self.start_code(size_of::<ngx_http_script_var_handler_code_t>())
                as *mut ngx_http_script_var_handler_code_t;
            if vh.is_null() {
                return false;
            }
            // SAFETY: room for one code of this type in the code array.
            unsafe {
                (*vh).code = Some(ngx_http_script_var_set_handler_code);
                (*vh).handler = var.set_handler;
                (*vh).data = var.data;
            }
        } else {
            let vc = self.start_code(size_of::<ngx_http_script_var_code_t>())
                as *mut ngx_http_script_var_code_t;
            if vc.is_null() {
                return false;
            }
            // SAFETY: as above.
            unsafe {
                (*vc).code = Some(ngx_http_script_set_var_code);
                (*vc).index = var.index;
            }
        }
        true
    }
}

/// The engine runs a value code: the value goes onto its stack, or the
/// engine stops with a 500.
unsafe extern "C" fn value_code<T: 'static>(e: *mut ngx_http_script_engine_t) {
    guard((), || {
        // SAFETY: the engine's ip points at the ValueCode add_value_code
        // wrote; the data lives in the configuration pool; the engine runs
        // for a live request.
        let (run, data, r) = unsafe {
            let code = (*e).ip as *const ValueCode<T>;
            (*e).ip = (*e).ip.add(size_of::<ValueCode<T>>());
            ((*code).run, &*(*code).data, Request::from_raw((*e).request))
        };
        let value = r.and_then(|r| guard(None, || run(r, data)));
        // SAFETY: sp has room for one value (the rewrite module sizes the
        // stack for `set`, which pushes as much as we do); EXIT is a zero
        // word, which ends the engine's loop.
        unsafe {
            match value {
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
    })
}

/// The get handler of a variable only our directive defines, read before
/// anything assigned it: empty, with the rewrite module's warning.
unsafe extern "C" fn uninitialized(
    r: *mut ngx_http_request_t,
    v: *mut ngx_http_variable_value_t,
    data: usize,
) -> ngx_int_t {
    guard(ERROR, || {
        // SAFETY: nginx calls get handlers with a live request.
        let Some(req) = (unsafe { Request::from_raw(r) }) else {
            return ERROR;
        };
        if warns_uninitialized(req) {
            let mut msg = b"using uninitialized \"".to_vec();
            msg.extend_from_slice(variable_name(req, data));
            msg.extend_from_slice(b"\" variable");
            req.log_error(NGX_LOG_WARN, &msg);
        }
        // SAFETY: nginx passes a value to fill; the null value is a static
        // of nginx's.
        unsafe { *v = ngx_http_variable_null_value };
        OK
    })
}

/// `uninitialized_variable_warn` of the request's location.
fn warns_uninitialized(r: Request) -> bool {
    // SAFETY: every request has the rewrite module's loc conf, in the
    // configuration pool.
    unsafe {
        let rlcf = *(*r.as_ptr()).loc_conf.add(rewrite_ctx_index()) as *const RewriteLocConf;
        (*rlcf).uninitialized_variable_warn != 0
    }
}

/// The name of variable `index` of the core main conf.
fn variable_name(r: Request, index: usize) -> &'static [u8] {
    // SAFETY: index is a variable's index taken at configuration time, so
    // the core main conf's array has it; names live in the conf pool.
    unsafe {
        let cmcf = r.core_main_conf();
        let var = ((*cmcf).variables.elts as *const ngx_http_variable_t).add(index);
        str_bytes(&(*var).name)
    }
}

//! The setters of `balancer_by_lua_block`, `balancer_by_lua_file` and
//! `balancer_keepalive` (inside `upstream {}`, on this module's srv conf
//! of the block).
use core::ffi::{c_char, c_void};
use core::mem::offset_of;
use core::ptr;

use nginx_sys::*;

use super::directives::{make_handler, Form};
use crate::balancer::{self, SrvConf};
use crate::conf::main_conf_from_cf;
use crate::lua::phase::Phase;
use crate::nginx::log::conf_log;
use crate::nginx::panic::guard;

pub(super) const SRV: u32 = offset_of!(ngx_http_conf_ctx_t, srv_conf) as u32;

fn conf_err() -> *mut c_char {
    // NGX_CONF_ERROR is (char *) -1.
    usize::MAX as *mut c_char
}

const DUPLICATE: *mut c_char = c"is duplicate".as_ptr() as *mut c_char;

/// Shared setter of both handler forms.
///
/// # Safety
/// nginx's setter arguments: the conf being parsed (inside `upstream {}`)
/// and this module's srv conf of the block.
unsafe fn set_handler(cf: *mut ngx_conf_t, conf: *mut c_void, form: Form) -> *mut c_char {
    // SAFETY: SRV offset: conf is the SrvConf create_srv_conf made.
    let Some(scf) = (unsafe { (conf as *mut SrvConf).as_mut() }) else {
        return conf_err();
    };
    if scf.handler.is_some() {
        return DUPLICATE;
    }
    // SAFETY: the conf being parsed, inside http {}.
    let Some(mcf) = (unsafe { main_conf_from_cf(cf) }) else {
        return conf_err();
    };
    // SAFETY: as above; the code (or path) is argument 1 or the block.
    let handler = match unsafe { make_handler(cf, mcf, Phase::Balancer, form, 1) } {
        Ok(h) => h,
        Err(e) => return e,
    };
    // SAFETY: the caller's contract.
    if unsafe { balancer::configure(cf, scf, handler) } {
        ptr::null_mut()
    } else {
        conf_err()
    }
}

pub(super) unsafe extern "C" fn set_block(
    cf: *mut ngx_conf_t,
    _: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx calls setters with the conf being parsed and the
    // directive's conf struct.
    guard(conf_err(), || unsafe { set_handler(cf, conf, Form::Block) })
}

pub(super) unsafe extern "C" fn set_file(
    cf: *mut ngx_conf_t,
    _: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: as set_block.
    guard(conf_err(), || unsafe { set_handler(cf, conf, Form::File) })
}

/// `balancer_keepalive N`: idle connections a worker keeps per upstream
/// block for `enable_keepalive`.
pub(super) unsafe extern "C" fn set_keepalive(
    cf: *mut ngx_conf_t,
    _: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    guard(conf_err(), || {
        // SAFETY: SRV offset: conf is our SrvConf; TAKE1: the conf's args
        // hold the name and one value.
        let (scf, name, value) = unsafe {
            let Some(scf) = (conf as *mut SrvConf).as_mut() else {
                return conf_err();
            };
            let a = (*(*cf).args).elts as *const ngx_str_t;
            (scf, (*a).as_bytes(), (*a.add(1)).as_bytes())
        };
        if scf.pool_size.is_some() {
            return DUPLICATE;
        }
        match parse_count(value) {
            Some(n) => {
                scf.pool_size = Some(n);
                ptr::null_mut()
            }
            None => {
                let msg = format!(
                    "invalid value \"{}\" in \"{}\" directive",
                    String::from_utf8_lossy(value),
                    String::from_utf8_lossy(name)
                );
                // SAFETY: the conf being parsed.
                unsafe { conf_log(cf, NGX_LOG_EMERG, &msg) };
                conf_err()
            }
        }
    })
}

/// A positive decimal number, as nginx's `ngx_atoi` reads one.
fn parse_count(v: &[u8]) -> Option<usize> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    core::str::from_utf8(v)
        .ok()?
        .parse::<usize>()
        .ok()
        .filter(|&n| n > 0 && n <= isize::MAX as usize)
}

#[cfg(test)]
mod tests {
    use super::parse_count;

    #[test]
    fn pool_sizes() {
        assert_eq!(parse_count(b"32"), Some(32));
        assert_eq!(parse_count(b"0"), None);
        assert_eq!(parse_count(b"-1"), None);
        assert_eq!(parse_count(b"1k"), None);
        assert_eq!(parse_count(b""), None);
    }
}

//! The setters of `balancer_by_lua_block`, `balancer_by_lua_file` and
//! `balancer_keepalive` (inside `upstream {}`, on this module's srv conf
//! of the block).
use core::mem::offset_of;

use nginx_sys::*;

use super::handler::{make_handler, Form};
use crate::balancer::{self, SrvConf};
use crate::conf::MainConf;
use crate::lua::phase::Phase;
use crate::nginx::conf::{setter, Conf, ConfError, SetResult};

pub(super) const SRV: u32 = offset_of!(ngx_http_conf_ctx_t, srv_conf) as u32;

const DUPLICATE: ConfError = ConfError::Msg(c"is duplicate");

/// Shared setter of both handler forms; `scf` is this module's srv conf of
/// the `upstream {}` block.
fn set_handler(cf: Conf, scf: &mut SrvConf, form: Form) -> SetResult {
    if scf.handler.is_some() {
        return Err(DUPLICATE);
    }
    let mcf = MainConf::of_conf(cf).ok_or(ConfError::Logged)?;
    // The code (or path) is argument 1 or the block.
    let handler = make_handler(cf, mcf, Phase::Balancer, form, 1)?;
    // SAFETY: cf is the configuration being parsed, inside `upstream {}`
    // (the directives' NGX_HTTP_UPS_CONF), and scf that block's srv conf.
    if unsafe { balancer::configure(cf.as_ptr(), scf, handler) } {
        Ok(())
    } else {
        Err(ConfError::Logged)
    }
}

setter! {
    fn set_block(cf, scf: &mut SrvConf) {
        set_handler(cf, scf, Form::Block)
    }
}

setter! {
    fn set_file(cf, scf: &mut SrvConf) {
        set_handler(cf, scf, Form::File)
    }
}

setter! {
    /// `balancer_keepalive N`: idle connections a worker keeps per upstream
    /// block for `enable_keepalive`.
    fn set_keepalive(cf, scf: &mut SrvConf) {
        if scf.pool_size.is_some() {
            return Err(DUPLICATE);
        }
        let args = cf.args();
        match parse_count(args.get(1)) {
            Some(n) => {
                scf.pool_size = Some(n);
                Ok(())
            }
            None => {
                cf.log(
                    NGX_LOG_EMERG,
                    &format!(
                        "invalid value \"{}\" in \"{}\" directive",
                        args.show(1),
                        args.show(0)
                    ),
                );
                Err(ConfError::Logged)
            }
        }
    }
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

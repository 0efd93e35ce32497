//! The commands table and one setter per directive.
use std::rc::Rc;

use core::ffi::{c_char, c_void};
use core::mem::offset_of;
use core::ptr;

use nginx_sys::*;

use super::handler::{make_handler, Form};
use crate::conf::{ssl, LocConf, MainConf};
use crate::lua::handler::Handler;
use crate::lua::phase::Phase;
use crate::nginx::conf::{parse_size, parse_time, setter, Conf, ConfError, SetResult};

const MAIN: u32 = offset_of!(ngx_http_conf_ctx_t, main_conf) as u32;
const LOC: u32 = offset_of!(ngx_http_conf_ctx_t, loc_conf) as u32;

const ANY_LOC: u32 = NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_HTTP_LIF_CONF;
const IN_LOC: u32 = NGX_HTTP_LOC_CONF | NGX_HTTP_LIF_CONF;
/// Where nginx's `set` may appear (server, location and their `if` blocks).
const SET_CTX: u32 = NGX_HTTP_SRV_CONF | NGX_HTTP_SIF_CONF | NGX_HTTP_LOC_CONF | NGX_HTTP_LIF_CONF;
/// `lua_ssl_*` are not allowed in `if` blocks, as upstream.
const SSL_LOC: u32 = NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF;
/// `server_rewrite_by_lua*`: the phase runs before a location is chosen.
const SRV_REWRITE_CTX: u32 = NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF;
/// `ssl_certificate_by_lua*`: http or server.
const SSL_CERT_CTX: u32 = NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF;

type Setter = unsafe extern "C" fn(*mut ngx_conf_t, *mut ngx_command_t, *mut c_void) -> *mut c_char;

const fn cmd(name: &'static [u8], type_: u32, set: Setter, conf: u32) -> ngx_command_t {
    ngx_command_t {
        name: ngx_str_t {
            len: name.len() - 1,
            data: name.as_ptr() as *mut u8,
        },
        type_: type_ as ngx_uint_t,
        set: Some(set),
        conf: conf as ngx_uint_t,
        offset: 0,
        post: ptr::null_mut(),
    }
}

const DUPLICATE: ConfError = ConfError::Msg(c"is duplicate");

macro_rules! handler_directives {
    ($( $fn_block:ident, $fn_inline:ident, $fn_file:ident => $phase:expr, $ctx:expr, $offset:expr,
        $block:literal, $inline:literal, $file:literal; )*) => {
        $(
            setter! { fn $fn_block(cf, conf: &mut c_void) { set_handler(cf, conf, $phase, Form::Block) } }
            setter! { fn $fn_inline(cf, conf: &mut c_void) { set_handler(cf, conf, $phase, Form::Inline) } }
            setter! { fn $fn_file(cf, conf: &mut c_void) { set_handler(cf, conf, $phase, Form::File) } }
        )*
        pub static mut COMMANDS: [ngx_command_t; 65 + 3 * [$(stringify!($fn_block)),*].len() + 1] = [
            cmd(b"lua_package_path\0", NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, set_package_path, MAIN),
            cmd(b"lua_package_cpath\0", NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, set_package_cpath, MAIN),
            cmd(b"lua_code_cache\0", ANY_LOC | NGX_CONF_FLAG, set_code_cache, LOC),
            cmd(b"lua_load_resty_core\0", NGX_HTTP_MAIN_CONF | NGX_CONF_FLAG, set_load_resty_core, MAIN),
            cmd(b"lua_transform_underscores_in_response_headers\0", ANY_LOC | NGX_CONF_FLAG, set_transform_underscores, LOC),
            cmd(b"lua_need_request_body\0", ANY_LOC | NGX_CONF_FLAG, set_need_request_body, LOC),
            cmd(b"lua_use_default_type\0", ANY_LOC | NGX_CONF_FLAG, set_use_default_type, LOC),
            cmd(b"lua_http10_buffering\0", ANY_LOC | NGX_CONF_FLAG, set_http10_buffering, LOC),
            cmd(b"lua_socket_connect_timeout\0", ANY_LOC | NGX_CONF_TAKE1, set_socket_connect_timeout, LOC),
            cmd(b"lua_socket_send_timeout\0", ANY_LOC | NGX_CONF_TAKE1, set_socket_send_timeout, LOC),
            cmd(b"lua_socket_read_timeout\0", ANY_LOC | NGX_CONF_TAKE1, set_socket_read_timeout, LOC),
            cmd(b"lua_socket_keepalive_timeout\0", ANY_LOC | NGX_CONF_TAKE1, set_socket_keepalive_timeout, LOC),
            cmd(b"lua_socket_pool_size\0", ANY_LOC | NGX_CONF_TAKE1, set_socket_pool_size, LOC),
            cmd(b"lua_socket_buffer_size\0", ANY_LOC | NGX_CONF_TAKE1, set_socket_buffer_size, LOC),
            cmd(b"lua_socket_send_lowat\0", ANY_LOC | NGX_CONF_TAKE1, set_socket_buffer_size_ignored, LOC),
            cmd(b"lua_socket_log_errors\0", ANY_LOC | NGX_CONF_FLAG, set_socket_log_errors, LOC),
            cmd(b"lua_check_client_abort\0", ANY_LOC | NGX_CONF_FLAG, set_check_client_abort, LOC),
            cmd(b"lua_max_pending_timers\0", NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, set_max_pending_timers, MAIN),
            cmd(b"lua_max_running_timers\0", NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, set_max_running_timers, MAIN),
            cmd(b"lua_regex_cache_max_entries\0", NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, set_regex_cache_max, MAIN),
            cmd(b"lua_thread_cache_max_entries\0", NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, set_thread_cache_max, MAIN),
            cmd(b"lua_max_memory\0", NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, set_max_memory, MAIN),
            cmd(b"lua_max_run_time\0", NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, set_max_run_time, MAIN),
            cmd(b"lua_metrics\0", NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS, set_metrics, LOC),
            cmd(b"lua_regex_match_limit\0", NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, set_regex_match_limit, MAIN),
            cmd(b"lua_shared_dict\0", NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE2 | NGX_CONF_TAKE3 | NGX_CONF_TAKE4, set_shared_dict, MAIN),
            cmd(b"set_by_lua_block\0", SET_CTX | NGX_CONF_BLOCK | NGX_CONF_TAKE1, set_block, LOC),
            cmd(b"set_by_lua\0", SET_CTX | NGX_CONF_2MORE, set_inline, LOC),
            cmd(b"set_by_lua_file\0", SET_CTX | NGX_CONF_2MORE, set_file, LOC),
            cmd(b"lua_ssl_protocols\0", SSL_LOC | NGX_CONF_1MORE, set_ssl_protocols, LOC),
            cmd(b"lua_ssl_ciphers\0", SSL_LOC | NGX_CONF_TAKE1, set_ssl_ciphers, LOC),
            cmd(b"lua_ssl_verify_depth\0", SSL_LOC | NGX_CONF_TAKE1, set_ssl_verify_depth, LOC),
            cmd(b"lua_ssl_trusted_certificate\0", SSL_LOC | NGX_CONF_TAKE1, set_ssl_trusted_certificate, LOC),
            cmd(b"lua_ssl_crl\0", SSL_LOC | NGX_CONF_TAKE1, set_ssl_crl, LOC),
            cmd(b"lua_ssl_certificate\0", SSL_LOC | NGX_CONF_TAKE1, set_ssl_certificate, LOC),
            cmd(b"lua_ssl_certificate_key\0", SSL_LOC | NGX_CONF_TAKE1, set_ssl_certificate_key, LOC),
            cmd(b"lua_ssl_conf_command\0", SSL_LOC | NGX_CONF_TAKE2, set_ssl_conf_command, LOC),
            cmd(b"lua_ssl_key_log\0", SSL_LOC | NGX_CONF_TAKE1, set_ssl_key_log, LOC),
            // No inline (string) forms for these two, as upstream.
            cmd(b"server_rewrite_by_lua_block\0", SRV_REWRITE_CTX | NGX_CONF_BLOCK | NGX_CONF_NOARGS, server_rewrite_block, LOC),
            cmd(b"server_rewrite_by_lua_file\0", SRV_REWRITE_CTX | NGX_CONF_TAKE1, server_rewrite_file, LOC),
            cmd(b"ssl_certificate_by_lua_block\0", SSL_CERT_CTX | NGX_CONF_BLOCK | NGX_CONF_NOARGS, ssl_cert_block, LOC),
            cmd(b"ssl_certificate_by_lua_file\0", SSL_CERT_CTX | NGX_CONF_TAKE1, ssl_cert_file, LOC),
            cmd(b"ssl_client_hello_by_lua_block\0", SSL_CERT_CTX | NGX_CONF_BLOCK | NGX_CONF_NOARGS, ssl_hello_block, LOC),
            cmd(b"ssl_client_hello_by_lua_file\0", SSL_CERT_CTX | NGX_CONF_TAKE1, ssl_hello_file, LOC),
            cmd(b"ssl_session_fetch_by_lua_block\0", NGX_HTTP_MAIN_CONF | NGX_CONF_BLOCK | NGX_CONF_NOARGS, ssl_fetch_block, LOC),
            cmd(b"ssl_session_fetch_by_lua_file\0", NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, ssl_fetch_file, LOC),
            cmd(b"ssl_session_store_by_lua_block\0", NGX_HTTP_MAIN_CONF | NGX_CONF_BLOCK | NGX_CONF_NOARGS, ssl_store_block, LOC),
            cmd(b"ssl_session_store_by_lua_file\0", NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, ssl_store_file, LOC),
            // Location only, as upstream; run inside the upstream handshake.
            cmd(b"proxy_ssl_certificate_by_lua_block\0", NGX_HTTP_LOC_CONF | NGX_CONF_BLOCK | NGX_CONF_NOARGS, proxy_cert_block, LOC),
            cmd(b"proxy_ssl_certificate_by_lua_file\0", NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1, proxy_cert_file, LOC),
            cmd(b"proxy_ssl_verify_by_lua_block\0", NGX_HTTP_LOC_CONF | NGX_CONF_BLOCK | NGX_CONF_NOARGS, proxy_verify_block, LOC),
            cmd(b"proxy_ssl_verify_by_lua_file\0", NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1, proxy_verify_file, LOC),
            cmd(b"lua_upstream_skip_openssl_default_verify\0", IN_LOC | NGX_CONF_FLAG, set_skip_default_verify, LOC),
            cmd(b"precontent_by_lua_block\0", ANY_LOC | NGX_CONF_BLOCK | NGX_CONF_NOARGS, precontent_block, LOC),
            cmd(b"precontent_by_lua_file\0", ANY_LOC | NGX_CONF_TAKE1, precontent_file, LOC),
            cmd(b"rewrite_by_lua_no_postpone\0", NGX_HTTP_MAIN_CONF | NGX_CONF_FLAG, set_rewrite_no_postpone, MAIN),
            cmd(b"access_by_lua_no_postpone\0", NGX_HTTP_MAIN_CONF | NGX_CONF_FLAG, set_access_no_postpone, MAIN),
            cmd(b"precontent_by_lua_no_postpone\0", NGX_HTTP_MAIN_CONF | NGX_CONF_FLAG, set_precontent_no_postpone, MAIN),
            cmd(b"lua_capture_error_log\0", NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, crate::errlog::set_capture_error_log, MAIN),
            cmd(b"lua_sa_restart\0", NGX_HTTP_MAIN_CONF | NGX_CONF_FLAG, set_sa_restart, MAIN),
            cmd(b"lua_malloc_trim\0", NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, crate::process::set_malloc_trim, MAIN),
            cmd(b"lua_worker_thread_vm_pool_size\0", NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, set_worker_thread_vm_pool_size, MAIN),
            cmd(b"balancer_by_lua_block\0", NGX_HTTP_UPS_CONF | NGX_CONF_BLOCK | NGX_CONF_NOARGS, super::balancer::set_block, super::balancer::SRV),
            cmd(b"balancer_by_lua_file\0", NGX_HTTP_UPS_CONF | NGX_CONF_TAKE1, super::balancer::set_file, super::balancer::SRV),
            cmd(b"balancer_keepalive\0", NGX_HTTP_UPS_CONF | NGX_CONF_TAKE1, super::balancer::set_keepalive, super::balancer::SRV),
            $(
                cmd($block, $ctx | NGX_CONF_BLOCK | NGX_CONF_NOARGS, $fn_block, $offset),
                cmd($inline, $ctx | NGX_CONF_TAKE1, $fn_inline, $offset),
                cmd($file, $ctx | NGX_CONF_TAKE1, $fn_file, $offset),
            )*
            ngx_command_t::empty(),
        ];
    };
}

handler_directives! {
    init_block, init_inline, init_file => Phase::Init, NGX_HTTP_MAIN_CONF, MAIN,
        b"init_by_lua_block\0", b"init_by_lua\0", b"init_by_lua_file\0";
    initw_block, initw_inline, initw_file => Phase::InitWorker, NGX_HTTP_MAIN_CONF, MAIN,
        b"init_worker_by_lua_block\0", b"init_worker_by_lua\0", b"init_worker_by_lua_file\0";
    exitw_block, exitw_inline, exitw_file => Phase::ExitWorker, NGX_HTTP_MAIN_CONF, MAIN,
        b"exit_worker_by_lua_block\0", b"exit_worker_by_lua\0", b"exit_worker_by_lua_file\0";
    rewrite_block, rewrite_inline, rewrite_file => Phase::Rewrite, ANY_LOC, LOC,
        b"rewrite_by_lua_block\0", b"rewrite_by_lua\0", b"rewrite_by_lua_file\0";
    access_block, access_inline, access_file => Phase::Access, ANY_LOC, LOC,
        b"access_by_lua_block\0", b"access_by_lua\0", b"access_by_lua_file\0";
    content_block, content_inline, content_file => Phase::Content, IN_LOC, LOC,
        b"content_by_lua_block\0", b"content_by_lua\0", b"content_by_lua_file\0";
    log_block, log_inline, log_file => Phase::Log, ANY_LOC, LOC,
        b"log_by_lua_block\0", b"log_by_lua\0", b"log_by_lua_file\0";
    hf_block, hf_inline, hf_file => Phase::HeaderFilter, ANY_LOC, LOC,
        b"header_filter_by_lua_block\0", b"header_filter_by_lua\0", b"header_filter_by_lua_file\0";
    bf_block, bf_inline, bf_file => Phase::BodyFilter, ANY_LOC, LOC,
        b"body_filter_by_lua_block\0", b"body_filter_by_lua\0", b"body_filter_by_lua_file\0";
}

setter! { fn server_rewrite_block(cf, conf: &mut c_void) { set_handler(cf, conf, Phase::ServerRewrite, Form::Block) } }
setter! { fn server_rewrite_file(cf, conf: &mut c_void) { set_handler(cf, conf, Phase::ServerRewrite, Form::File) } }
setter! { fn ssl_cert_block(cf, conf: &mut c_void) { set_handler(cf, conf, Phase::SslCert, Form::Block) } }
setter! { fn ssl_cert_file(cf, conf: &mut c_void) { set_handler(cf, conf, Phase::SslCert, Form::File) } }
setter! { fn ssl_hello_block(cf, conf: &mut c_void) { set_handler(cf, conf, Phase::SslClientHello, Form::Block) } }
setter! { fn ssl_hello_file(cf, conf: &mut c_void) { set_handler(cf, conf, Phase::SslClientHello, Form::File) } }
setter! { fn proxy_cert_block(cf, conf: &mut c_void) { set_handler(cf, conf, Phase::ProxySslCert, Form::Block) } }
setter! { fn proxy_cert_file(cf, conf: &mut c_void) { set_handler(cf, conf, Phase::ProxySslCert, Form::File) } }
setter! { fn proxy_verify_block(cf, conf: &mut c_void) { set_handler(cf, conf, Phase::ProxySslVerify, Form::Block) } }
setter! { fn proxy_verify_file(cf, conf: &mut c_void) { set_handler(cf, conf, Phase::ProxySslVerify, Form::File) } }
setter! { fn ssl_fetch_block(cf, conf: &mut c_void) { set_handler(cf, conf, Phase::SslSessFetch, Form::Block) } }
setter! { fn ssl_fetch_file(cf, conf: &mut c_void) { set_handler(cf, conf, Phase::SslSessFetch, Form::File) } }
setter! { fn ssl_store_block(cf, conf: &mut c_void) { set_handler(cf, conf, Phase::SslSessStore, Form::Block) } }
setter! { fn ssl_store_file(cf, conf: &mut c_void) { set_handler(cf, conf, Phase::SslSessStore, Form::File) } }
setter! { fn precontent_block(cf, conf: &mut c_void) { set_handler(cf, conf, Phase::Precontent, Form::Block) } }
setter! { fn precontent_file(cf, conf: &mut c_void) { set_handler(cf, conf, Phase::Precontent, Form::File) } }

// `lua_metrics;` (an extension): the location serves the worker's metrics,
// and the workers count handler runs, time and errors per location.
setter! {
    fn set_metrics(cf) {
        let Some(mcf) = MainConf::of_conf(cf) else {
            return Err(ConfError::Logged);
        };
        mcf.metrics = true;
        cf.set_content_handler(Some(crate::metrics::handler));
        Ok(())
    }
}

macro_rules! ssl_setters {
    ($($name:ident => $f:ident),*) => {
        $(
            setter! { fn $name(cf, lcf: &mut LocConf) { ssl::$f(cf, &mut lcf.ssl) } }
        )*
    };
}

ssl_setters!(
    set_ssl_protocols => protocols,
    set_ssl_ciphers => ciphers,
    set_ssl_verify_depth => verify_depth,
    set_ssl_trusted_certificate => trusted_certificate,
    set_ssl_crl => crl,
    set_ssl_certificate => certificate,
    set_ssl_certificate_key => certificate_key,
    set_ssl_conf_command => conf_command,
    set_ssl_key_log => key_log
);

/// `on`/`off`, as nginx's flag directives.
fn flag(cf: Conf) -> Result<bool, ConfError> {
    let v = cf.args().get(1);
    if v.eq_ignore_ascii_case(b"on") {
        Ok(true)
    } else if v.eq_ignore_ascii_case(b"off") {
        Ok(false)
    } else {
        cf.log(
            NGX_LOG_EMERG,
            &format!(
                "invalid value \"{}\", it must be \"on\" or \"off\"",
                String::from_utf8_lossy(v)
            ),
        );
        Err(ConfError::Logged)
    }
}

/// An nginx time value (`60s`, `500ms`, bare numbers are seconds) in ms.
fn msec(cf: Conf) -> Result<ngx_msec_t, ConfError> {
    parse_time(cf.args().get(1)).ok_or_else(|| invalid_value(cf))
}

/// A size value (`4k`, `1m`).
fn size(cf: Conf) -> Result<usize, ConfError> {
    parse_size(cf.args().get(1)).ok_or_else(|| invalid_value(cf))
}

/// A size above zero (a limit of nothing makes no sense).
fn positive_size(cf: Conf) -> Result<usize, ConfError> {
    size(cf).and_then(|v| if v > 0 { Ok(v) } else { Err(invalid_value(cf)) })
}

/// A time above zero.
fn positive_msec(cf: Conf) -> Result<ngx_msec_t, ConfError> {
    msec(cf).and_then(|v| if v > 0 { Ok(v) } else { Err(invalid_value(cf)) })
}

fn invalid_value(cf: Conf) -> ConfError {
    cf.log(
        NGX_LOG_EMERG,
        &format!("invalid value \"{}\"", cf.args().show(1)),
    );
    ConfError::Logged
}

/// The argument as it is.
fn word(cf: Conf) -> Result<Vec<u8>, ConfError> {
    Ok(cf.args().get(1).to_vec())
}

/// A non-negative integer, with nginx's wording on bad input.
fn number(cf: Conf) -> Result<usize, ConfError> {
    let v = cf.args().get(1);
    core::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .ok_or_else(|| {
            cf.log(
                NGX_LOG_EMERG,
                &format!("invalid number \"{}\"", String::from_utf8_lossy(v)),
            );
            ConfError::Logged
        })
}

/// A non-negative decimal number, as nginx's `ngx_conf_set_num_slot`.
fn num_slot(cf: Conf) -> Result<u32, ConfError> {
    let v = cf.args().get(1);
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return Err(ConfError::Msg(c"invalid number"));
    }
    core::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(ConfError::Msg(c"invalid number"))
}

/// Stores what `parse` makes of the argument in `slot`, once per block.
fn set_once<T>(
    cf: Conf,
    slot: &mut Option<T>,
    parse: impl FnOnce(Conf) -> Result<T, ConfError>,
) -> SetResult {
    if slot.is_some() {
        return Err(DUPLICATE);
    }
    *slot = Some(parse(cf)?);
    Ok(())
}

/// A setter of a `MainConf` or `LocConf` field, set once per block.
macro_rules! once_setter {
    ($name:ident, $T:ty, $field:ident, $parse:expr) => {
        setter! {
            fn $name(cf, conf: &mut $T) {
                set_once(cf, &mut conf.$field, $parse)
            }
        }
    };
}

once_setter!(set_package_path, MainConf, package_path, word);
once_setter!(set_package_cpath, MainConf, package_cpath, word);
once_setter!(set_rewrite_no_postpone, MainConf, rewrite_no_postpone, flag);
once_setter!(set_access_no_postpone, MainConf, access_no_postpone, flag);
once_setter!(
    set_precontent_no_postpone,
    MainConf,
    precontent_no_postpone,
    flag
);
once_setter!(set_sa_restart, MainConf, sa_restart, flag);
once_setter!(set_regex_cache_max, MainConf, regex_cache_max, num_slot);
once_setter!(set_regex_match_limit, MainConf, regex_match_limit, num_slot);
once_setter!(set_thread_cache_max, MainConf, thread_cache_max, num_slot);
once_setter!(set_max_memory, MainConf, max_memory, positive_size);
once_setter!(set_max_run_time, MainConf, max_run_time, positive_msec);
once_setter!(
    set_worker_thread_vm_pool_size,
    MainConf,
    worker_thread_vm_pool_size,
    num_slot
);
once_setter!(set_check_client_abort, LocConf, check_client_abort, flag);
once_setter!(
    set_transform_underscores,
    LocConf,
    transform_underscores,
    flag
);
once_setter!(set_need_request_body, LocConf, need_request_body, flag);
once_setter!(set_use_default_type, LocConf, use_default_type, flag);
once_setter!(set_http10_buffering, LocConf, http10_buffering, flag);
once_setter!(
    set_skip_default_verify,
    LocConf,
    upstream_skip_default_verify,
    flag
);
once_setter!(
    set_socket_connect_timeout,
    LocConf,
    socket_connect_timeout,
    msec
);
once_setter!(set_socket_send_timeout, LocConf, socket_send_timeout, msec);
once_setter!(set_socket_read_timeout, LocConf, socket_read_timeout, msec);
once_setter!(
    set_socket_keepalive_timeout,
    LocConf,
    socket_keepalive_timeout,
    msec
);
once_setter!(set_socket_pool_size, LocConf, socket_pool_size, number);
once_setter!(set_socket_buffer_size, LocConf, socket_buffer_size, size);

setter! {
    fn set_code_cache(cf, lcf: &mut LocConf) {
        set_once(cf, &mut lcf.code_cache, flag)?;
        if lcf.code_cache == Some(false) {
            cf.log(NGX_LOG_ALERT, "lua_code_cache is off; this will hurt performance");
        }
        Ok(())
    }
}

setter! {
    /// Accepted for compatibility; nginx's own send buffering applies.
    fn set_socket_buffer_size_ignored(cf) {
        size(cf).map(drop)
    }
}

setter! {
    /// Each occurrence sets the value (no duplicate check, as upstream).
    fn set_socket_log_errors(cf, lcf: &mut LocConf) {
        lcf.socket_log_errors = Some(flag(cf)?);
        Ok(())
    }
}

setter! {
    fn set_load_resty_core(cf) {
        cf.log(
            NGX_LOG_WARN,
            "lua_load_resty_core is deprecated (the lua-resty-core library is required since ngx_lua v0.10.16)",
        );
        Ok(())
    }
}

setter! {
    fn set_shared_dict(cf, mcf: &mut MainConf) {
        crate::shdict::zone::on_fresh(crate::shdict::persist::load);
        let args = cf.args();
        match (args.raw(1), args.raw(2)) {
            (Some(name), Some(size)) if crate::shdict::zone::declare(cf, mcf, name, size, args.raw_from(3)) => Ok(()),
            _ => Err(ConfError::Logged),
        }
    }
}

setter! {
    fn set_max_pending_timers(cf, mcf: &mut MainConf) {
        mcf.max_pending_timers = number(cf)?;
        Ok(())
    }
}

setter! {
    fn set_max_running_timers(cf, mcf: &mut MainConf) {
        mcf.max_running_timers = number(cf)?;
        Ok(())
    }
}

/// Setter of `set_by_lua_block $var { ... }`, `set_by_lua $var CODE
/// [ARG...]` and `set_by_lua_file $var PATH [ARG...]`.
fn set_set_handler(cf: Conf, form: Form) -> SetResult {
    let mcf = MainConf::of_conf(cf).ok_or(ConfError::Logged)?;
    let handler = make_handler(cf, mcf, Phase::Set, form, 2)?;
    let args = cf.args();
    // The block form has only `$var`; the others' words after the code (or
    // path) are the chunk's arguments.
    let rest = match form {
        Form::Block => &[][..],
        _ => args.raw_from(3),
    };
    let var = args.raw(1).ok_or(ConfError::Logged)?;
    // SAFETY: cf is the configuration being parsed, inside a block where
    // `set` may appear (SET_CTX); var and rest are words of its directive.
    if unsafe { crate::phase::set::configure(cf.as_ptr(), var, handler, rest) } {
        Ok(())
    } else {
        Err(ConfError::Logged)
    }
}

setter! { fn set_block(cf) { set_set_handler(cf, Form::Block) } }
setter! { fn set_inline(cf) { set_set_handler(cf, Form::Inline) } }
setter! { fn set_file(cf) { set_set_handler(cf, Form::File) } }

/// Shared setter of every `*_by_lua*` directive; `conf` is the level's
/// `MainConf` (init phases) or `LocConf` (the others), as the table says.
fn set_handler(cf: Conf, conf: &mut c_void, phase: Phase, form: Form) -> SetResult {
    let mcf = MainConf::of_conf(cf).ok_or(ConfError::Logged)?;
    let handler = make_handler(cf, mcf, phase, form, 1)?;
    let slot: &mut Option<Rc<Handler>> = match phase {
        Phase::Init => &mut mcf.init,
        Phase::InitWorker => &mut mcf.init_worker,
        Phase::ExitWorker => &mut mcf.exit_worker,
        _ => {
            // SAFETY: the commands table gives every directive of these
            // phases the LOC offset: conf is the level's LocConf.
            let lcf = unsafe { &mut *(conf as *mut c_void as *mut LocConf) };
            match phase {
                Phase::ServerRewrite => {
                    mcf.uses_server_rewrite = true;
                    &mut lcf.server_rewrite
                }
                Phase::Precontent => {
                    mcf.uses_precontent = true;
                    &mut lcf.precontent
                }
                Phase::Rewrite => {
                    mcf.uses_rewrite = true;
                    &mut lcf.rewrite
                }
                Phase::Access => {
                    mcf.uses_access = true;
                    &mut lcf.access
                }
                Phase::Content => {
                    mcf.uses_content = true;
                    cf.set_content_handler(Some(crate::phase::content::handler));
                    &mut lcf.content
                }
                Phase::Log => {
                    mcf.uses_log = true;
                    &mut lcf.log
                }
                Phase::SslCert => &mut lcf.ssl_cert,
                Phase::SslClientHello => &mut lcf.ssl_client_hello,
                Phase::SslSessFetch => &mut lcf.ssl_sess_fetch,
                Phase::SslSessStore => &mut lcf.ssl_sess_store,
                Phase::ProxySslCert => &mut lcf.proxy_ssl_cert,
                Phase::ProxySslVerify => &mut lcf.proxy_ssl_verify,
                Phase::HeaderFilter => {
                    mcf.uses_header_filter = true;
                    &mut lcf.header_filter
                }
                Phase::BodyFilter => {
                    mcf.uses_header_filter = true;
                    mcf.uses_body_filter = true;
                    &mut lcf.body_filter
                }
                _ => return Err(ConfError::Logged),
            }
        }
    };
    if slot.is_some() {
        return Err(DUPLICATE);
    }
    *slot = Some(handler);
    Ok(())
}

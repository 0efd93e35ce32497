//! The commands table and one setter per directive.
use std::ffi::CString;
use std::rc::Rc;

use core::ffi::{c_char, c_void};
use core::mem::offset_of;
use core::ptr;

use nginx_sys::*;

use crate::conf::block::{BlockLexer, Scan};
use crate::conf::{main_conf_from_cf, ssl, LocConf, MainConf};
use crate::lua::handler::{FilePath, Handler, Source};
use crate::lua::phase::Phase;
use crate::nginx::log::conf_log;

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

const CONF_OK: *mut c_char = ptr::null_mut();

fn conf_err() -> *mut c_char {
    // NGX_CONF_ERROR is (char *) -1.
    usize::MAX as *mut c_char
}

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

/// How a handler directive takes its code.
#[derive(Clone, Copy)]
pub(super) enum Form {
    Block,
    Inline,
    File,
}

macro_rules! handler_directives {
    ($( $fn_block:ident, $fn_inline:ident, $fn_file:ident => $phase:expr, $ctx:expr, $offset:expr,
        $block:literal, $inline:literal, $file:literal; )*) => {
        $(
            unsafe extern "C" fn $fn_block(cf: *mut ngx_conf_t, c: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
                // SAFETY: nginx calls setters with a valid cf and our conf struct.
                unsafe { set_handler(cf, c, conf, $phase, Form::Block) }
            }
            unsafe extern "C" fn $fn_inline(cf: *mut ngx_conf_t, c: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
                // SAFETY: as above.
                unsafe { set_handler(cf, c, conf, $phase, Form::Inline) }
            }
            unsafe extern "C" fn $fn_file(cf: *mut ngx_conf_t, c: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
                // SAFETY: as above.
                unsafe { set_handler(cf, c, conf, $phase, Form::File) }
            }
        )*
        pub static mut COMMANDS: [ngx_command_t; 48 + 3 * [$(stringify!($fn_block)),*].len() + 1] = [
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
            cmd(b"lua_regex_match_limit\0", NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, set_regex_match_limit, MAIN),
            cmd(b"lua_shared_dict\0", NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE2, set_shared_dict, MAIN),
            cmd(b"set_by_lua_block\0", SET_CTX | NGX_CONF_BLOCK | NGX_CONF_TAKE1, set_block, LOC),
            cmd(b"set_by_lua\0", SET_CTX | NGX_CONF_2MORE, set_inline, LOC),
            cmd(b"set_by_lua_file\0", SET_CTX | NGX_CONF_2MORE, set_file, LOC),
            cmd(b"lua_ssl_protocols\0", SSL_LOC | NGX_CONF_1MORE, ssl::set_protocols, LOC),
            cmd(b"lua_ssl_ciphers\0", SSL_LOC | NGX_CONF_TAKE1, ssl::set_ciphers, LOC),
            cmd(b"lua_ssl_verify_depth\0", SSL_LOC | NGX_CONF_TAKE1, ssl::set_verify_depth, LOC),
            cmd(b"lua_ssl_trusted_certificate\0", SSL_LOC | NGX_CONF_TAKE1, ssl::set_trusted_certificate, LOC),
            cmd(b"lua_ssl_crl\0", SSL_LOC | NGX_CONF_TAKE1, ssl::set_crl, LOC),
            cmd(b"lua_ssl_certificate\0", SSL_LOC | NGX_CONF_TAKE1, ssl::set_certificate, LOC),
            cmd(b"lua_ssl_certificate_key\0", SSL_LOC | NGX_CONF_TAKE1, ssl::set_certificate_key, LOC),
            cmd(b"lua_ssl_conf_command\0", SSL_LOC | NGX_CONF_TAKE2, ssl::set_conf_command, LOC),
            // No inline (string) forms for these two, as upstream.
            cmd(b"server_rewrite_by_lua_block\0", SRV_REWRITE_CTX | NGX_CONF_BLOCK | NGX_CONF_NOARGS, server_rewrite_block, LOC),
            cmd(b"server_rewrite_by_lua_file\0", SRV_REWRITE_CTX | NGX_CONF_TAKE1, server_rewrite_file, LOC),
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

macro_rules! two_form_directives {
    ($( $fn_block:ident, $fn_file:ident => $phase:expr; )*) => {
        $(
            unsafe extern "C" fn $fn_block(cf: *mut ngx_conf_t, c: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
                // SAFETY: nginx calls setters with a valid cf and our conf struct.
                unsafe { set_handler(cf, c, conf, $phase, Form::Block) }
            }
            unsafe extern "C" fn $fn_file(cf: *mut ngx_conf_t, c: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
                // SAFETY: as above.
                unsafe { set_handler(cf, c, conf, $phase, Form::File) }
            }
        )*
    };
}

two_form_directives! {
    server_rewrite_block, server_rewrite_file => Phase::ServerRewrite;
    precontent_block, precontent_file => Phase::Precontent;
}

macro_rules! main_flag_setter {
    ($name:ident, $field:ident) => {
        unsafe extern "C" fn $name(
            cf: *mut ngx_conf_t,
            _: *mut ngx_command_t,
            conf: *mut c_void,
        ) -> *mut c_char {
            // SAFETY: MAIN offset: conf is our MainConf.
            let mcf = unsafe { &mut *(conf as *mut MainConf) };
            if mcf.$field.is_some() {
                return c"is duplicate".as_ptr() as *mut c_char;
            }
            // SAFETY: FLAG directive: args[1] exists.
            match parse_flag(cf, unsafe { bytes(&args(cf)[1]) }) {
                Some(on) => {
                    mcf.$field = Some(on);
                    CONF_OK
                }
                None => conf_err(),
            }
        }
    };
}

main_flag_setter!(set_rewrite_no_postpone, rewrite_no_postpone);
main_flag_setter!(set_access_no_postpone, access_no_postpone);
main_flag_setter!(set_precontent_no_postpone, precontent_no_postpone);
main_flag_setter!(set_sa_restart, sa_restart);

/// The directive's arguments.
///
/// # Safety
/// `cf` must be a conf whose `args` holds the current directive.
unsafe fn args<'a>(cf: *mut ngx_conf_t) -> &'a [ngx_str_t] {
    // SAFETY: nginx fills cf->args with the directive name and values.
    unsafe {
        let a = (*cf).args;
        core::slice::from_raw_parts((*a).elts as *const ngx_str_t, (*a).nelts)
    }
}

fn bytes(s: &ngx_str_t) -> &[u8] {
    if s.len == 0 {
        &[]
    } else {
        // SAFETY: nginx strings point at len valid bytes.
        unsafe { core::slice::from_raw_parts(s.data, s.len) }
    }
}

/// Stores the directive's one argument in `slot`, once.
unsafe fn set_bytes_once(cf: *mut ngx_conf_t, slot: &mut Option<Vec<u8>>) -> *mut c_char {
    if slot.is_some() {
        return c"is duplicate".as_ptr() as *mut c_char;
    }
    // SAFETY: valid cf during parsing; TAKE1: args[1] exists.
    *slot = Some(unsafe { bytes(&args(cf)[1]).to_vec() });
    CONF_OK
}

unsafe extern "C" fn set_package_path(
    cf: *mut ngx_conf_t,
    _: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: MAIN offset: conf is our MainConf; valid cf.
    unsafe { set_bytes_once(cf, &mut (*(conf as *mut MainConf)).package_path) }
}

unsafe extern "C" fn set_package_cpath(
    cf: *mut ngx_conf_t,
    _: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: MAIN offset: conf is our MainConf; valid cf.
    unsafe { set_bytes_once(cf, &mut (*(conf as *mut MainConf)).package_cpath) }
}

fn parse_flag(cf: *mut ngx_conf_t, v: &[u8]) -> Option<bool> {
    if v.eq_ignore_ascii_case(b"on") {
        Some(true)
    } else if v.eq_ignore_ascii_case(b"off") {
        Some(false)
    } else {
        // SAFETY: cf is the configuration being parsed.
        unsafe {
            conf_log(
                cf,
                NGX_LOG_EMERG,
                &format!(
                    "invalid value \"{}\", it must be \"on\" or \"off\"",
                    String::from_utf8_lossy(v)
                ),
            )
        };
        None
    }
}

unsafe extern "C" fn set_code_cache(
    cf: *mut ngx_conf_t,
    _: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: LOC offset: conf is our LocConf.
    let lcf = unsafe { &mut *(conf as *mut LocConf) };
    if lcf.code_cache.is_some() {
        return c"is duplicate".as_ptr() as *mut c_char;
    }
    // SAFETY: valid cf during parsing.
    let Some(on) = parse_flag(cf, unsafe { bytes(&args(cf)[1]) }) else {
        return conf_err();
    };
    lcf.code_cache = Some(on);
    if !on {
        // SAFETY: cf is the configuration being parsed.
        unsafe {
            conf_log(
                cf,
                NGX_LOG_ALERT,
                "lua_code_cache is off; this will hurt performance",
            )
        };
    }
    CONF_OK
}

/// An nginx time value (`60s`, `500ms`, bare numbers are seconds) in ms.
unsafe fn msec_arg(cf: *mut ngx_conf_t) -> Option<ngx_msec_t> {
    // SAFETY: TAKE1 directive: args[1] exists.
    unsafe {
        let a = (*(*cf).args).elts as *mut ngx_str_t;
        let rc = ngx_parse_time(a.add(1), 0);
        if rc == NGX_ERROR as isize {
            conf_log(
                cf,
                NGX_LOG_EMERG,
                &format!(
                    "invalid value \"{}\"",
                    String::from_utf8_lossy(bytes(&*a.add(1)))
                ),
            );
            return None;
        }
        Some(rc as ngx_msec_t)
    }
}

/// A size value (`4k`, `1m`).
unsafe fn size_arg(cf: *mut ngx_conf_t) -> Option<usize> {
    // SAFETY: TAKE1 directive: args[1] exists.
    unsafe {
        let a = (*(*cf).args).elts as *mut ngx_str_t;
        let rc = ngx_parse_size(a.add(1));
        if rc == NGX_ERROR as isize {
            conf_log(
                cf,
                NGX_LOG_EMERG,
                &format!(
                    "invalid value \"{}\"",
                    String::from_utf8_lossy(bytes(&*a.add(1)))
                ),
            );
            return None;
        }
        Some(rc as usize)
    }
}

macro_rules! loc_setter {
    ($name:ident, $field:ident, $parse:ident) => {
        unsafe extern "C" fn $name(
            cf: *mut ngx_conf_t,
            _: *mut ngx_command_t,
            conf: *mut c_void,
        ) -> *mut c_char {
            // SAFETY: LOC offset: conf is our LocConf; valid cf.
            unsafe {
                let lcf = &mut *(conf as *mut LocConf);
                if lcf.$field.is_some() {
                    return c"is duplicate".as_ptr() as *mut c_char;
                }
                match $parse(cf) {
                    Some(v) => {
                        lcf.$field = Some(v as _);
                        CONF_OK
                    }
                    None => conf_err(),
                }
            }
        }
    };
}

loc_setter!(set_socket_connect_timeout, socket_connect_timeout, msec_arg);
loc_setter!(set_socket_send_timeout, socket_send_timeout, msec_arg);
loc_setter!(set_socket_read_timeout, socket_read_timeout, msec_arg);
loc_setter!(
    set_socket_keepalive_timeout,
    socket_keepalive_timeout,
    msec_arg
);
loc_setter!(set_socket_pool_size, socket_pool_size, number_arg);
loc_setter!(set_socket_buffer_size, socket_buffer_size, size_arg);

/// Accepted for compatibility; nginx's own send buffering applies.
unsafe extern "C" fn set_socket_buffer_size_ignored(
    cf: *mut ngx_conf_t,
    _: *mut ngx_command_t,
    _: *mut c_void,
) -> *mut c_char {
    // SAFETY: valid cf.
    match unsafe { size_arg(cf) } {
        Some(_) => CONF_OK,
        None => conf_err(),
    }
}

unsafe extern "C" fn set_socket_log_errors(
    cf: *mut ngx_conf_t,
    _: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: LOC offset: conf is our LocConf; valid cf.
    let lcf = unsafe { &mut *(conf as *mut LocConf) };
    match parse_flag(cf, unsafe { bytes(&args(cf)[1]) }) {
        Some(on) => {
            lcf.socket_log_errors = Some(on);
            CONF_OK
        }
        None => conf_err(),
    }
}

unsafe extern "C" fn set_check_client_abort(
    cf: *mut ngx_conf_t,
    _: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: LOC offset: conf is our LocConf; valid cf.
    let lcf = unsafe { &mut *(conf as *mut LocConf) };
    if lcf.check_client_abort.is_some() {
        return c"is duplicate".as_ptr() as *mut c_char;
    }
    match parse_flag(cf, unsafe { bytes(&args(cf)[1]) }) {
        Some(on) => {
            lcf.check_client_abort = Some(on);
            CONF_OK
        }
        None => conf_err(),
    }
}

unsafe extern "C" fn set_load_resty_core(
    cf: *mut ngx_conf_t,
    _: *mut ngx_command_t,
    _: *mut c_void,
) -> *mut c_char {
    // SAFETY: cf is the configuration being parsed.
    unsafe {
        conf_log(
        cf,
        NGX_LOG_WARN,
        "lua_load_resty_core is deprecated (the lua-resty-core library is required since ngx_lua v0.10.16)",
    )
    };
    CONF_OK
}

/// A non-negative decimal number, as nginx's `ngx_conf_set_num_slot`.
fn parse_num(v: &[u8]) -> Option<u32> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    core::str::from_utf8(v).ok()?.parse().ok()
}

macro_rules! main_num_setter {
    ($name:ident, $field:ident) => {
        unsafe extern "C" fn $name(
            cf: *mut ngx_conf_t,
            _: *mut ngx_command_t,
            conf: *mut c_void,
        ) -> *mut c_char {
            // SAFETY: MAIN offset: conf is our MainConf.
            let mcf = unsafe { &mut *(conf as *mut MainConf) };
            if mcf.$field.is_some() {
                return c"is duplicate".as_ptr() as *mut c_char;
            }
            // SAFETY: valid cf during parsing.
            match parse_num(unsafe { bytes(&args(cf)[1]) }) {
                Some(n) => {
                    mcf.$field = Some(n);
                    CONF_OK
                }
                None => c"invalid number".as_ptr() as *mut c_char,
            }
        }
    };
}

main_num_setter!(set_regex_cache_max, regex_cache_max);
main_num_setter!(set_regex_match_limit, regex_match_limit);
main_num_setter!(set_thread_cache_max, thread_cache_max);
main_num_setter!(set_worker_thread_vm_pool_size, worker_thread_vm_pool_size);

unsafe extern "C" fn set_shared_dict(
    cf: *mut ngx_conf_t,
    _: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: MAIN offset: conf is our MainConf; TAKE2: args[1], args[2].
    unsafe {
        let mcf = &mut *(conf as *mut MainConf);
        let a = args(cf);
        if crate::shdict::zone::declare(cf, mcf, &a[1], &a[2]) {
            CONF_OK
        } else {
            conf_err()
        }
    }
}

/// `on`/`off` into a location-level flag, once per block.
unsafe fn flag_arg(cf: *mut ngx_conf_t) -> Option<bool> {
    // SAFETY: FLAG directive: args[1] exists.
    parse_flag(cf, unsafe { bytes(&args(cf)[1]) })
}

loc_setter!(set_transform_underscores, transform_underscores, flag_arg);
loc_setter!(set_need_request_body, need_request_body, flag_arg);
loc_setter!(set_use_default_type, use_default_type, flag_arg);
loc_setter!(set_http10_buffering, http10_buffering, flag_arg);

/// A non-negative integer argument, with nginx's wording on bad input.
unsafe fn number_arg(cf: *mut ngx_conf_t) -> Option<usize> {
    // SAFETY: TAKE1 directive: args[1] exists.
    let v = unsafe { bytes(&args(cf)[1]) };
    let n = core::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse::<usize>().ok());
    if n.is_none() {
        // SAFETY: valid cf.
        unsafe {
            conf_log(
                cf,
                NGX_LOG_EMERG,
                &format!("invalid number \"{}\"", String::from_utf8_lossy(v)),
            )
        };
    }
    n
}

unsafe extern "C" fn set_max_pending_timers(
    cf: *mut ngx_conf_t,
    _: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: MAIN offset: conf is our MainConf; valid cf.
    unsafe {
        match number_arg(cf) {
            Some(n) => {
                (*(conf as *mut MainConf)).max_pending_timers = n;
                CONF_OK
            }
            None => conf_err(),
        }
    }
}

unsafe extern "C" fn set_max_running_timers(
    cf: *mut ngx_conf_t,
    _: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: MAIN offset: conf is our MainConf; valid cf.
    unsafe {
        match number_arg(cf) {
            Some(n) => {
                (*(conf as *mut MainConf)).max_running_timers = n;
                CONF_OK
            }
            None => conf_err(),
        }
    }
}

/// Chunk name as upstream builds it: `=tag(nginx.conf:LINE)`, with the conf
/// file's path relative to the conf prefix (or its base name for
/// `nginx.conf`).
unsafe fn chunk_name(cf: *mut ngx_conf_t, tag: &str, line: usize) -> Vec<u8> {
    // SAFETY: conf_file and cycle are valid while parsing.
    let (file, prefix) = unsafe {
        (
            bytes(&(*(*cf).conf_file).file.name),
            bytes(&(*(*cf).cycle).conf_prefix),
        )
    };
    let shown: &[u8] = if file.ends_with(b"/nginx.conf") {
        b"nginx.conf"
    } else if file.len() > prefix.len() && file.starts_with(prefix) {
        &file[prefix.len()..]
    } else {
        file
    };
    let mut name = format!("={tag}(").into_bytes();
    name.extend_from_slice(shown);
    name.extend_from_slice(format!(":{line})").as_bytes());
    name
}

/// Reads the raw Lua code of a `*_by_lua_block { ... }` straight from the
/// conf file buffer, leaving nginx's parser right after the closing `}`.
unsafe fn read_block(cf: *mut ngx_conf_t) -> Result<Vec<u8>, ()> {
    // SAFETY: while nginx parses a file, conf_file, its buffer and file
    // descriptor are valid; the buffer holds [start, end) with unread bytes
    // in [pos, last). We refill it the way ngx_conf_read_token does.
    unsafe {
        let cfile = (*cf).conf_file;
        if (*cfile).file.fd == NGX_INVALID_FILE {
            conf_log(
                cf,
                NGX_LOG_EMERG,
                "block directives are not supported in -g option",
            );
            return Err(());
        }
        let b = (*cfile).buffer;
        let start_line = (*cfile).line;
        let size = (*cfile).file.info.st_size;
        let mut code: Vec<u8> = Vec::new();
        let mut lx = BlockLexer::new();
        loop {
            let base = code.len();
            let avail = (*b).last.offset_from((*b).pos) as usize;
            code.extend_from_slice(core::slice::from_raw_parts((*b).pos, avail));
            let eof = (*cfile).file.offset >= size;
            match lx.scan(&code, eof) {
                Scan::Done(i) => {
                    (*b).pos = (*b).pos.add(i + 1 - base);
                    code.truncate(i);
                    let nl = code.iter().filter(|&&c| c == b'\n').count();
                    (*cfile).line += nl;
                    return Ok(code);
                }
                Scan::NeedMore if eof => {
                    (*cfile).line = start_line;
                    conf_log(
                        cf,
                        NGX_LOG_EMERG,
                        "unexpected end of file, expecting terminating characters for lua code block",
                    );
                    return Err(());
                }
                Scan::NeedMore => {}
            }
            let room = (*b).end.offset_from((*b).start) as i64;
            let want = (size - (*cfile).file.offset).min(room) as usize;
            let n = ngx_read_file(&mut (*cfile).file, (*b).start, want, (*cfile).file.offset);
            if n == NGX_ERROR as isize {
                return Err(());
            }
            if n as usize != want {
                conf_log(cf, NGX_LOG_EMERG, "short read of the configuration file");
                return Err(());
            }
            (*b).pos = (*b).start;
            (*b).last = (*b).start.add(n as usize);
            let dump = (*cfile).dump;
            if !dump.is_null() {
                ptr::copy_nonoverlapping((*b).pos, (*dump).last, n as usize);
                (*dump).last = (*dump).last.add(n as usize);
            }
        }
    }
}

fn tag_of(phase: Phase) -> &'static str {
    phase.directive_tag()
}

/// Builds the handler of a `*_by_lua*` directive whose code (or file path)
/// is argument `code_arg` (the inline and file forms) or the block that
/// follows (the block form).
pub(super) unsafe fn make_handler(
    cf: *mut ngx_conf_t,
    mcf: &mut MainConf,
    phase: Phase,
    form: Form,
    code_arg: usize,
) -> Result<Rc<Handler>, *mut c_char> {
    // SAFETY: valid cf; the line is the directive's (nginx has read up to
    // the `{` or the terminating `;`).
    let line = unsafe { (*(*cf).conf_file).line };
    let source = match form {
        Form::Block => match unsafe { read_block(cf) } {
            Ok(code) => Source::Inline(code),
            Err(()) => return Err(conf_err()),
        },
        Form::Inline => {
            // SAFETY: the directive's type guarantees args[code_arg].
            let code = unsafe { bytes(&args(cf)[code_arg]).to_vec() };
            // set_by_lua accepts empty code (its value is then empty).
            if code.is_empty() && phase != Phase::Set {
                // SAFETY: valid cf.
                let name = unsafe { String::from_utf8_lossy(bytes(&args(cf)[0])).into_owned() };
                // SAFETY: cf is the configuration being parsed.
                unsafe {
                    conf_log(
                        cf,
                        NGX_LOG_EMERG,
                        &format!("invalid location config: no runnable Lua code in \"{name}\""),
                    )
                };
                return Err(conf_err());
            }
            Source::Inline(code)
        }
        Form::File => {
            // SAFETY: the directive's type guarantees args[code_arg].
            let arg = unsafe { &args(cf)[code_arg] };
            if arg.len == 0 {
                return Err(c"invalid empty file path".as_ptr() as *mut c_char);
            }
            // SAFETY: valid cf and argument.
            match unsafe { FilePath::compile(cf, arg, phase.request_phase()) } {
                Some(p) => Source::File(p),
                None => return Err(conf_err()),
            }
        }
    };
    let chunkname = match &source {
        // SAFETY: valid cf.
        Source::Inline(_) => unsafe { chunk_name(cf, tag_of(phase), line) },
        Source::File(_) => Vec::new(),
    };
    let id = mcf.next_handler_id;
    mcf.next_handler_id += 1;
    Ok(Rc::new(Handler {
        phase,
        source,
        chunkname: CString::new(chunkname).unwrap_or_default(),
        id,
    }))
}

/// Setter of `set_by_lua_block $var { ... }`, `set_by_lua $var CODE
/// [ARG...]` and `set_by_lua_file $var PATH [ARG...]`.
unsafe fn set_set_handler(cf: *mut ngx_conf_t, form: Form) -> *mut c_char {
    // SAFETY: nginx passes a valid cf; the directive was parsed inside http{}.
    let Some(mcf) = (unsafe { main_conf_from_cf(cf) }) else {
        return conf_err();
    };
    let handler = match unsafe { make_handler(cf, mcf, Phase::Set, form, 2) } {
        Ok(h) => h,
        Err(e) => return e,
    };
    // SAFETY: BLOCK|TAKE1 or 2MORE: args[1] exists; args past the code
    // (or path) are the chunk's arguments.
    unsafe {
        let a = args(cf);
        let rest = if matches!(form, Form::Block) {
            &a[a.len()..]
        } else {
            &a[3..]
        };
        if crate::phase::set::configure(cf, &a[1], handler, rest) {
            CONF_OK
        } else {
            conf_err()
        }
    }
}

unsafe extern "C" fn set_block(
    cf: *mut ngx_conf_t,
    _: *mut ngx_command_t,
    _: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx calls setters with a valid cf.
    unsafe { set_set_handler(cf, Form::Block) }
}

unsafe extern "C" fn set_inline(
    cf: *mut ngx_conf_t,
    _: *mut ngx_command_t,
    _: *mut c_void,
) -> *mut c_char {
    // SAFETY: as above.
    unsafe { set_set_handler(cf, Form::Inline) }
}

unsafe extern "C" fn set_file(
    cf: *mut ngx_conf_t,
    _: *mut ngx_command_t,
    _: *mut c_void,
) -> *mut c_char {
    // SAFETY: as above.
    unsafe { set_set_handler(cf, Form::File) }
}

/// Shared setter of every `*_by_lua*` directive.
unsafe fn set_handler(
    cf: *mut ngx_conf_t,
    cmd: *mut ngx_command_t,
    conf: *mut c_void,
    phase: Phase,
    form: Form,
) -> *mut c_char {
    // SAFETY: nginx passes a valid cf; the directive was parsed inside http{}.
    let Some(mcf) = (unsafe { main_conf_from_cf(cf) }) else {
        return conf_err();
    };
    let handler = match unsafe { make_handler(cf, mcf, phase, form, 1) } {
        Ok(h) => h,
        Err(e) => return e,
    };

    let slot: &mut Option<Rc<Handler>> = match phase {
        Phase::Init => &mut mcf.init,
        Phase::InitWorker => &mut mcf.init_worker,
        Phase::ExitWorker => &mut mcf.exit_worker,
        _ => {
            // SAFETY: LOC offset: conf is our LocConf.
            let lcf = unsafe { &mut *(conf as *mut LocConf) };
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
                    // SAFETY: a location-level conf ctx carries the core
                    // module's loc conf; setting its handler is how content
                    // handlers are installed.
                    unsafe {
                        let ctx = (*cf).ctx as *mut ngx_http_conf_ctx_t;
                        let clcf = *(*ctx).loc_conf.add(ngx_http_core_module.ctx_index)
                            as *mut ngx_http_core_loc_conf_t;
                        (*clcf).handler = Some(crate::phase::content::handler);
                    }
                    &mut lcf.content
                }
                Phase::Log => {
                    mcf.uses_log = true;
                    &mut lcf.log
                }
                Phase::HeaderFilter => &mut lcf.header_filter,
                Phase::BodyFilter => &mut lcf.body_filter,
                _ => return conf_err(),
            }
        }
    };
    if slot.is_some() {
        let _ = cmd;
        return c"is duplicate".as_ptr() as *mut c_char;
    }
    *slot = Some(handler);
    CONF_OK
}

//! `lua_ssl_*`: the client TLS context of cosockets (`sslhandshake`), one
//! nginx `ngx_ssl_t` per configuration level that sets any of them, built at
//! merge time with nginx's own helpers, as upstream does.
use core::ffi::{c_char, c_void};
use core::ptr::{self, NonNull};

use nginx_sys::*;

use super::LocConf;
use crate::nginx::log::conf_log;

#[derive(Default)]
pub struct SslConf {
    pub protocols: Option<ngx_uint_t>,
    /// NUL-terminated.
    pub ciphers: Option<Vec<u8>>,
    pub verify_depth: Option<ngx_uint_t>,
    pub trusted_certificate: Option<Vec<u8>>,
    pub crl: Option<Vec<u8>>,
    pub certificates: Option<Vec<Vec<u8>>>,
    pub certificate_keys: Option<Vec<Vec<u8>>>,
    pub conf_commands: Option<Vec<(Vec<u8>, Vec<u8>)>>,
    /// The context cosockets of this location use (shared with the level
    /// above when this one sets nothing).
    pub ssl: Option<NonNull<ngx_ssl_t>>,
}

impl SslConf {
    fn sets_anything(&self) -> bool {
        self.protocols.is_some()
            || self.ciphers.is_some()
            || self.verify_depth.is_some()
            || self.trusted_certificate.is_some()
            || self.crl.is_some()
            || self.certificates.is_some()
            || self.certificate_keys.is_some()
            || self.conf_commands.is_some()
    }
}

const CONF_OK: *mut c_char = ptr::null_mut();

fn conf_err() -> *mut c_char {
    usize::MAX as *mut c_char
}

unsafe fn args<'a>(cf: *mut ngx_conf_t) -> Vec<&'a [u8]> {
    // SAFETY: nginx fills cf->args with the directive name and values.
    unsafe {
        let a = (*cf).args;
        core::slice::from_raw_parts((*a).elts as *const ngx_str_t, (*a).nelts)
            .iter()
            .map(|s| {
                if s.len == 0 {
                    &[][..]
                } else {
                    core::slice::from_raw_parts(s.data, s.len)
                }
            })
            .collect()
    }
}

unsafe fn ssl_conf<'a>(conf: *mut c_void) -> &'a mut SslConf {
    // SAFETY: LOC offset: conf is our LocConf.
    unsafe { &mut (*(conf as *mut LocConf)).ssl }
}

fn dup() -> *mut c_char {
    c"is duplicate".as_ptr() as *mut c_char
}

pub unsafe extern "C" fn set_protocols(
    cf: *mut ngx_conf_t,
    _: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: a setter nginx calls with our conf.
    let (sc, a) = unsafe { (ssl_conf(conf), args(cf)) };
    if sc.protocols.is_some() {
        return dup();
    }
    let mut mask = NGX_CONF_BITMASK_SET as ngx_uint_t;
    for v in &a[1..] {
        let bit = match *v {
            b"SSLv2" => NGX_SSL_SSLv2,
            b"SSLv3" => NGX_SSL_SSLv3,
            b"TLSv1" => NGX_SSL_TLSv1,
            b"TLSv1.1" => NGX_SSL_TLSv1_1,
            b"TLSv1.2" => NGX_SSL_TLSv1_2,
            b"TLSv1.3" => NGX_SSL_TLSv1_3,
            _ => {
                // SAFETY: the configuration being parsed.
                unsafe {
                    conf_log(
                        cf,
                        NGX_LOG_EMERG,
                        &format!("invalid value \"{}\"", String::from_utf8_lossy(v)),
                    )
                };
                return conf_err();
            }
        };
        mask |= bit as ngx_uint_t;
    }
    sc.protocols = Some(mask);
    CONF_OK
}

pub unsafe extern "C" fn set_ciphers(
    cf: *mut ngx_conf_t,
    _: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: a setter nginx calls with our conf.
    let (sc, a) = unsafe { (ssl_conf(conf), args(cf)) };
    if sc.ciphers.is_some() {
        return dup();
    }
    let mut v = a[1].to_vec();
    v.push(0);
    sc.ciphers = Some(v);
    CONF_OK
}

pub unsafe extern "C" fn set_verify_depth(
    cf: *mut ngx_conf_t,
    _: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: a setter nginx calls with our conf.
    let (sc, a) = unsafe { (ssl_conf(conf), args(cf)) };
    if sc.verify_depth.is_some() {
        return dup();
    }
    match core::str::from_utf8(a[1])
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
    {
        Some(n) => {
            sc.verify_depth = Some(n as ngx_uint_t);
            CONF_OK
        }
        None => c"invalid number".as_ptr() as *mut c_char,
    }
}

macro_rules! path_setter {
    ($name:ident, $field:ident) => {
        pub unsafe extern "C" fn $name(
            cf: *mut ngx_conf_t,
            _: *mut ngx_command_t,
            conf: *mut c_void,
        ) -> *mut c_char {
            // SAFETY: a setter nginx calls with our conf.
            let (sc, a) = unsafe { (ssl_conf(conf), args(cf)) };
            if sc.$field.is_some() {
                return dup();
            }
            sc.$field = Some(a[1].to_vec());
            CONF_OK
        }
    };
}

path_setter!(set_trusted_certificate, trusted_certificate);
path_setter!(set_crl, crl);

macro_rules! list_setter {
    ($name:ident, $field:ident) => {
        pub unsafe extern "C" fn $name(
            cf: *mut ngx_conf_t,
            _: *mut ngx_command_t,
            conf: *mut c_void,
        ) -> *mut c_char {
            // SAFETY: a setter nginx calls with our conf.
            let (sc, a) = unsafe { (ssl_conf(conf), args(cf)) };
            sc.$field.get_or_insert_with(Vec::new).push(a[1].to_vec());
            CONF_OK
        }
    };
}

list_setter!(set_certificate, certificates);
list_setter!(set_certificate_key, certificate_keys);

pub unsafe extern "C" fn set_conf_command(
    cf: *mut ngx_conf_t,
    _: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: a setter nginx calls with our conf.
    let (sc, a) = unsafe { (ssl_conf(conf), args(cf)) };
    sc.conf_commands
        .get_or_insert_with(Vec::new)
        .push((a[1].to_vec(), a[2].to_vec()));
    CONF_OK
}

/// Inherits the unset values and gives `conf` its TLS context: the one of
/// the level above when this level sets nothing, else a new one. Like
/// upstream, the `http {}` level's context is created by the first merge
/// and kept there, so servers that set nothing share it.
///
/// # Safety
/// `cf` is the configuration being merged.
pub unsafe fn merge(cf: *mut ngx_conf_t, prev: &mut SslConf, conf: &mut SslConf) -> bool {
    let own = conf.sets_anything();
    macro_rules! inherit {
        ($($f:ident),*) => { $( if conf.$f.is_none() { conf.$f = prev.$f.clone(); } )* };
    }
    inherit!(
        protocols,
        ciphers,
        verify_depth,
        trusted_certificate,
        crl,
        certificates,
        certificate_keys,
        conf_commands
    );
    if !own {
        if let Some(ssl) = prev.ssl {
            conf.ssl = Some(ssl);
            return true;
        }
    }
    // SAFETY: cf's pool lives as long as the configuration.
    match unsafe { create(cf, conf) } {
        Some(ssl) => {
            conf.ssl = Some(ssl);
            if !own {
                prev.ssl = Some(ssl);
            }
            true
        }
        None => false,
    }
}

/// An `ngx_array_t` of `ngx_str_t` copies in the conf pool.
unsafe fn str_array(pool: *mut ngx_pool_t, items: &[Vec<u8>]) -> *mut ngx_array_t {
    // SAFETY: nginx's array and pool API.
    unsafe {
        let a = ngx_array_create(pool, items.len().max(1), core::mem::size_of::<ngx_str_t>());
        if a.is_null() {
            return a;
        }
        for it in items {
            let s = ngx_array_push(a) as *mut ngx_str_t;
            if s.is_null() {
                return ptr::null_mut();
            }
            *s = pool_str(pool, it);
        }
        a
    }
}

/// A NUL-terminated copy in `pool` (nginx's file helpers expect one).
unsafe fn pool_str(pool: *mut ngx_pool_t, v: &[u8]) -> ngx_str_t {
    // SAFETY: a fresh allocation of len + 1 bytes.
    unsafe {
        let p = ngx_pnalloc(pool, v.len() + 1) as *mut u8;
        if p.is_null() {
            return ngx_str_t {
                len: 0,
                data: ptr::null_mut(),
            };
        }
        ptr::copy_nonoverlapping(v.as_ptr(), p, v.len());
        *p.add(v.len()) = 0;
        ngx_str_t {
            len: v.len(),
            data: p,
        }
    }
}

unsafe fn create(cf: *mut ngx_conf_t, conf: &SslConf) -> Option<NonNull<ngx_ssl_t>> {
    // SAFETY: nginx's own TLS configuration helpers on a context allocated
    // from, and cleaned up with, the configuration pool.
    unsafe {
        let pool = (*cf).pool;
        let ssl = ngx_pcalloc(pool, core::mem::size_of::<ngx_ssl_t>()) as *mut ngx_ssl_t;
        if ssl.is_null() {
            return None;
        }
        (*ssl).log = (*cf).log;
        if let (Some(certs), keys) = (&conf.certificates, &conf.certificate_keys) {
            let nkeys = keys.as_ref().map_or(0, |k| k.len());
            if nkeys < certs.len() {
                conf_log(
                    cf,
                    NGX_LOG_EMERG,
                    &format!(
                        "no \"lua_ssl_certificate_key\" is defined for certificate \"{}\"",
                        String::from_utf8_lossy(certs.last().map_or(&[][..], |c| &c[..]))
                    ),
                );
                return None;
            }
        }
        let protocols = conf.protocols.unwrap_or(
            (NGX_CONF_BITMASK_SET
                | NGX_SSL_TLSv1
                | NGX_SSL_TLSv1_1
                | NGX_SSL_TLSv1_2
                | NGX_SSL_TLSv1_3) as ngx_uint_t,
        );
        if ngx_ssl_create(ssl, protocols, ptr::null_mut()) != NGX_OK as ngx_int_t {
            return None;
        }
        let cln = ngx_pool_cleanup_add(pool, 0);
        if cln.is_null() {
            ngx_ssl_cleanup_ctx(ssl as *mut c_void);
            return None;
        }
        (*cln).handler = Some(ngx_ssl_cleanup_ctx);
        (*cln).data = ssl as *mut c_void;
        let ciphers: &[u8] = conf.ciphers.as_deref().unwrap_or(b"DEFAULT\0");
        if SSL_CTX_set_cipher_list((*ssl).ctx, ciphers.as_ptr() as *const c_char) == 0 {
            ngx_ssl_error(
                NGX_LOG_EMERG as ngx_uint_t,
                (*cf).log,
                0,
                c"SSL_CTX_set_cipher_list(\"%s\") failed".as_ptr() as *mut c_char,
                ciphers.as_ptr(),
            );
            return None;
        }
        if let Some(certs) = &conf.certificates {
            let keys = conf.certificate_keys.as_deref().unwrap_or(&[]);
            let (ca, ka) = (str_array(pool, certs), str_array(pool, keys));
            if ca.is_null()
                || ka.is_null()
                || ngx_ssl_certificates(cf, ssl, ca, ka, ptr::null_mut()) != NGX_OK as ngx_int_t
            {
                return None;
            }
        }
        let depth = conf.verify_depth.unwrap_or(1);
        if let Some(t) = conf
            .trusted_certificate
            .as_deref()
            .filter(|t| !t.is_empty())
        {
            let mut s = pool_str(pool, t);
            if ngx_ssl_trusted_certificate(cf, ssl, &mut s, depth as ngx_int_t)
                != NGX_OK as ngx_int_t
            {
                return None;
            }
        }
        let mut crl = pool_str(pool, conf.crl.as_deref().unwrap_or(b""));
        if ngx_ssl_crl(cf, ssl, &mut crl) != NGX_OK as ngx_int_t {
            return None;
        }
        if let Some(cmds) = &conf.conf_commands {
            let a = ngx_array_create(pool, cmds.len(), core::mem::size_of::<ngx_keyval_t>());
            if a.is_null() {
                return None;
            }
            for (k, v) in cmds {
                let kv = ngx_array_push(a) as *mut ngx_keyval_t;
                if kv.is_null() {
                    return None;
                }
                (*kv).key = pool_str(pool, k);
                (*kv).value = pool_str(pool, v);
            }
            if ngx_ssl_conf_commands(cf, ssl, a) != NGX_OK as ngx_int_t {
                return None;
            }
        }
        NonNull::new(ssl)
    }
}

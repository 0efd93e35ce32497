//! `lua_ssl_*`: the client TLS context of cosockets (`sslhandshake`), one
//! nginx `ngx_ssl_t` per configuration level that sets any of them, built at
//! merge time with nginx's own helpers, as upstream does.
use core::ptr::NonNull;

use nginx_sys::*;

use crate::nginx::conf::{Conf, ConfError, SetResult};
use crate::nginx::ssl_conf::SslCtx;

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
    /// `lua_ssl_key_log`.
    pub key_log: Option<Vec<u8>>,
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
            || self.key_log.is_some()
    }
}

const DUPLICATE: ConfError = ConfError::Msg(c"is duplicate");

// The arguments of the lua_ssl_* directives, each into the SslConf of the
// level being parsed (module/directives.rs declares the setters).

/// `lua_ssl_protocols PROTOCOL...`.
pub fn protocols(cf: Conf, sc: &mut SslConf) -> SetResult {
    if sc.protocols.is_some() {
        return Err(DUPLICATE);
    }
    let args = cf.args();
    let mut mask = NGX_CONF_BITMASK_SET as ngx_uint_t;
    for i in 1..args.len() {
        // Case-insensitive, as nginx's bitmask slot (upstream's parser).
        let bit = match args.get(i).to_ascii_lowercase().as_slice() {
            b"sslv2" => NGX_SSL_SSLv2,
            b"sslv3" => NGX_SSL_SSLv3,
            b"tlsv1" => NGX_SSL_TLSv1,
            b"tlsv1.1" => NGX_SSL_TLSv1_1,
            b"tlsv1.2" => NGX_SSL_TLSv1_2,
            b"tlsv1.3" => NGX_SSL_TLSv1_3,
            _ => {
                cf.log(
                    NGX_LOG_EMERG,
                    &format!("invalid value \"{}\"", args.show(i)),
                );
                return Err(ConfError::Logged);
            }
        };
        mask |= bit as ngx_uint_t;
    }
    sc.protocols = Some(mask);
    Ok(())
}

/// `lua_ssl_ciphers CIPHERS`.
pub fn ciphers(cf: Conf, sc: &mut SslConf) -> SetResult {
    if sc.ciphers.is_some() {
        return Err(DUPLICATE);
    }
    let mut v = cf.args().get(1).to_vec();
    v.push(0);
    sc.ciphers = Some(v);
    Ok(())
}

/// `lua_ssl_verify_depth N`.
pub fn verify_depth(cf: Conf, sc: &mut SslConf) -> SetResult {
    if sc.verify_depth.is_some() {
        return Err(DUPLICATE);
    }
    let n = core::str::from_utf8(cf.args().get(1))
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .ok_or(ConfError::Msg(c"invalid number"))?;
    sc.verify_depth = Some(n as ngx_uint_t);
    Ok(())
}

/// `lua_ssl_trusted_certificate FILE`.
pub fn trusted_certificate(cf: Conf, sc: &mut SslConf) -> SetResult {
    path_once(cf, &mut sc.trusted_certificate)
}

/// `lua_ssl_crl FILE`.
pub fn crl(cf: Conf, sc: &mut SslConf) -> SetResult {
    path_once(cf, &mut sc.crl)
}

fn path_once(cf: Conf, slot: &mut Option<Vec<u8>>) -> SetResult {
    if slot.is_some() {
        return Err(DUPLICATE);
    }
    *slot = Some(cf.args().get(1).to_vec());
    Ok(())
}

/// `lua_ssl_certificate FILE` (one per occurrence).
pub fn certificate(cf: Conf, sc: &mut SslConf) -> SetResult {
    let v = cf.args().get(1).to_vec();
    sc.certificates.get_or_insert_with(Vec::new).push(v);
    Ok(())
}

/// `lua_ssl_certificate_key FILE` (one per occurrence).
pub fn certificate_key(cf: Conf, sc: &mut SslConf) -> SetResult {
    let v = cf.args().get(1).to_vec();
    sc.certificate_keys.get_or_insert_with(Vec::new).push(v);
    Ok(())
}

/// `lua_ssl_key_log FILE`.
pub fn key_log(cf: Conf, sc: &mut SslConf) -> SetResult {
    if sc.key_log.is_some() {
        return Err(DUPLICATE);
    }
    sc.key_log = Some(cf.args().get(1).to_vec());
    Ok(())
}

/// `lua_ssl_conf_command NAME VALUE`.
pub fn conf_command(cf: Conf, sc: &mut SslConf) -> SetResult {
    let args = cf.args();
    sc.conf_commands
        .get_or_insert_with(Vec::new)
        .push((args.get(1).to_vec(), args.get(2).to_vec()));
    Ok(())
}

/// Inherits the unset values and gives `conf` its TLS context: the one of
/// the level above when this level sets nothing, else a new one. Like
/// upstream, the `http {}` level's context is created by the first merge
/// and kept there, so servers that set nothing share it.
pub fn merge(cf: Conf, prev: &mut SslConf, conf: &mut SslConf) -> bool {
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
        conf_commands,
        key_log
    );
    if !own {
        if let Some(ssl) = prev.ssl {
            conf.ssl = Some(ssl);
            return true;
        }
    }
    match create(cf, conf) {
        Some(ssl) => {
            conf.ssl = Some(ssl.as_non_null());
            if !own {
                prev.ssl = conf.ssl;
            }
            true
        }
        None => false,
    }
}

fn create(cf: Conf, conf: &SslConf) -> Option<SslCtx> {
    if let (Some(certs), keys) = (&conf.certificates, &conf.certificate_keys) {
        let nkeys = keys.as_ref().map_or(0, |k| k.len());
        if nkeys < certs.len() {
            cf.log(
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
        (NGX_CONF_BITMASK_SET | NGX_SSL_TLSv1 | NGX_SSL_TLSv1_1 | NGX_SSL_TLSv1_2 | NGX_SSL_TLSv1_3)
            as ngx_uint_t,
    );
    let ssl = SslCtx::create(cf, protocols)?;
    if !ssl.set_ciphers(cf, conf.ciphers.as_deref().unwrap_or(b"DEFAULT\0")) {
        return None;
    }
    if let Some(certs) = &conf.certificates {
        let keys = conf.certificate_keys.as_deref().unwrap_or(&[]);
        if !ssl.certificates(cf, certs, keys) {
            return None;
        }
    }
    let depth = conf.verify_depth.unwrap_or(1);
    if let Some(t) = conf
        .trusted_certificate
        .as_deref()
        .filter(|t| !t.is_empty())
    {
        if !ssl.trusted_certificate(cf, t, depth) {
            return None;
        }
    }
    if !ssl.crl(cf, conf.crl.as_deref().unwrap_or(b"")) {
        return None;
    }
    if let Some(cmds) = &conf.conf_commands {
        if !ssl.conf_commands(cf, cmds) {
            return None;
        }
    }
    if let Some(path) = &conf.key_log {
        if !ssl.key_log(cf, path) {
            return None;
        }
    }
    Some(ssl)
}

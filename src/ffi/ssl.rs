//! `ngx.ssl` (lua-lib/ngx/ssl.lua): the TLS connection of the running
//! request, or the handshake an `ssl_certificate_by_lua*` handler serves.
//!
//! As upstream, these work in any request over TLS ("bad request"
//! otherwise) and raise "no request found" outside requests; the parsers
//! need no request.
use core::ffi::{c_int, c_void};

use super::{ErrBuf, ErrOut, FFI_BUSY, FFI_DECLINED, FFI_ERROR, FFI_NO_REQ, FFI_OK};
use crate::lua::cfunction::State;
use crate::lua::sched::current;
use crate::nginx::ssl_server::{with_chain, with_key, CertChain, Handshake, PKey, Tls};

/// The running request's TLS object, or the status to answer with.
pub(super) fn tls(err: &mut ErrOut) -> Result<Tls, c_int> {
    let Some(ctx) = current().lua_ctx() else {
        err.set(b"no request found");
        return Err(FFI_NO_REQ);
    };
    Tls::of_request(ctx.req()).ok_or_else(|| {
        err.set(b"bad request");
        FFI_ERROR
    })
}

/// What the certificate calls act on (a handler may run without a probe,
/// which the other calls make when they need it).
fn handshake(err: &mut ErrOut) -> Result<Handshake, c_int> {
    let Some(ctx) = current().lua_ctx() else {
        err.set(b"no request found");
        return Err(FFI_NO_REQ);
    };
    Handshake::of_request(ctx.req()).ok_or_else(|| {
        err.set(b"bad request");
        FFI_ERROR
    })
}

macro_rules! hs {
    ($err:expr) => {
        match handshake(&mut $err) {
            Ok(t) => t,
            Err(rc) => return rc,
        }
    };
}

macro_rules! tls {
    ($err:expr) => {
        match tls(&mut $err) {
            Ok(t) => t,
            Err(rc) => return rc,
        }
    };
}

pub(super) fn answer(r: Result<(), &str>, err: &mut ErrOut) -> c_int {
    match r {
        Ok(()) => FFI_OK,
        Err(e) => {
            err.set(e.as_bytes());
            FFI_ERROR
        }
    }
}

/// Copies `v` into lua-lib's buffer (`cap` bytes), its length to `len`.
pub(super) fn copy_out(v: &[u8], out: *mut u8, cap: usize, len: *mut usize) -> bool {
    let buf = lua_buf!(out, cap);
    if v.len() > buf.len() {
        return false;
    }
    buf[..v.len()].copy_from_slice(v);
    out!(len, v.len());
    true
}

/// A status and, unless it is ok, the text `e` holds: what the C
/// functions below give lua-lib.
fn push_status(L: State, rc: c_int, e: &ErrBuf) -> c_int {
    L.push_int(rc as isize);
    if rc == FFI_OK {
        return 1;
    }
    L.push_str(e.text());
    2
}

cfunction! {
    /// `clear_certs()`: the status (and the error text). A C function, as
    /// `server_name`: certificate handlers call both from interpreted
    /// chunks, where an FFI call converted each pointer argument through
    /// LuaJIT's C type machinery. `set_cert` and `set_priv_key` take
    /// cdata and stay FFI.
    fn ssl_clear_certs(L) {
        let mut e = ErrBuf::new();
        let rc = e.run(|err| match handshake(err) {
            Ok(t) => {
                t.clear_certs();
                FFI_OK
            }
            Err(rc) => rc,
        });
        Ok(push_status(L, rc, &e))
    }
}

cfunction! {
    /// `server_name()`: ok and the name, declined (the client sent none),
    /// or the status and the error text.
    fn ssl_server_name(L) {
        let mut e = ErrBuf::new();
        let r = e.run(|err| {
            let name = handshake(err)?.server_name();
            match name {
                // As the FFI version, whose buffer held 256 bytes.
                Some(n) if n.len() > 256 => {
                    err.set(b"buffer too small");
                    Err(FFI_ERROR)
                }
                n => Ok(n),
            }
        });
        Ok(match r {
            Ok(Some(name)) => {
                L.push_int(FFI_OK as isize);
                L.push_str(&name);
                2
            }
            Ok(None) => {
                L.push_int(FFI_DECLINED as isize);
                1
            }
            Err(rc) => push_status(L, rc, &e),
        })
    }
}

/// Installed into `package.loaded["ngx_lua.ssl"]` for lua-lib.
pub const CFUNCS: &[(&core::ffi::CStr, crate::lua::raw::lua_CFunction)] = &[
    (c"clear_certs", ssl_clear_certs),
    (c"server_name", ssl_server_name),
];

export! {
    fn ngx_lua_ffi_ssl_set_der_certificate(
        data: *const u8,
        len: usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let t = hs!(err);
        let r = CertChain::from_der(lua_bytes!(data, len), "d2i_X509_bio() failed")
            .and_then(|chain| t.set_cert(&chain, false));
        answer(r, &mut err)
    }
}

export! {
    fn ngx_lua_ffi_ssl_set_der_private_key(
        data: *const u8,
        len: usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let t = hs!(err);
        let r = PKey::from_der(lua_bytes!(data, len)).and_then(|k| t.set_key(&k, false));
        answer(r, &mut err)
    }
}

export! {
    fn ngx_lua_ffi_ssl_set_cert(cdata: *mut c_void, err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        let t = hs!(err);
        // SAFETY: lua-lib's contract: a chain parse_*_cert returned, kept
        // alive by the cdata passed in.
        let r = unsafe { with_chain(cdata, |c| t.set_cert(c, true)) };
        answer(r.unwrap_or(Err("invalid certificate chain")), &mut err)
    }
}

export! {
    fn ngx_lua_ffi_ssl_set_priv_key(cdata: *mut c_void, err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        let t = hs!(err);
        // SAFETY: as set_cert, for a key.
        let r = unsafe { with_key(cdata, |k| t.set_key(k, true)) };
        answer(r.unwrap_or(Err("invalid private key")), &mut err)
    }
}

export! {
    /// Address bytes into `out`, the family as upstream's type number
    /// (0 unix, 1 inet, 2 inet6).
    fn ngx_lua_ffi_ssl_raw_addr(
        peer: c_int,
        out: *mut u8,
        cap: usize,
        len: *mut usize,
        typ: *mut c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let Some((fam, bytes)) = hs!(err).raw_addr(peer != 0) else {
            err.set(b"bad ssl conn");
            return FFI_ERROR;
        };
        let t = match fam {
            libc::AF_UNIX => 0,
            libc::AF_INET => 1,
            libc::AF_INET6 => 2,
            other => other,
        };
        out!(typ, t);
        if !copy_out(&bytes, out, cap, len) {
            err.set(b"buffer too small");
            return FFI_ERROR;
        }
        FFI_OK
    }
}

export! {
    fn ngx_lua_ffi_ssl_server_port(port: *mut u16, err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        match hs!(err).server_port() {
            Some(0) => {
                err.set(b"unix domain has no port");
                FFI_ERROR
            }
            Some(p) => {
                out!(port, p);
                FFI_OK
            }
            None => {
                err.set(b"bad ssl conn");
                FFI_ERROR
            }
        }
    }
}

export! {
    /// The protocol version, or `FFI_ERROR` (negative) with the reason.
    fn ngx_lua_ffi_ssl_get_tls1_version(err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        tls!(err).version()
    }
}

export! {
    /// `what`: 0 client random, 1 server random, 2 the session's master
    /// key. `*size` is the room in `out`; with 0 the full length is
    /// reported instead.
    fn ngx_lua_ffi_ssl_secret(
        what: c_int,
        out: *mut u8,
        size: *mut usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let t = tls!(err);
        // No secret is longer than 64 bytes; a bigger (or negative, so
        // huge) request gets the whole value, as OpenSSL would give it.
        let cap = (*lua_buf!(size, 1).first().unwrap_or(&0)).min(64);
        let buf = lua_buf!(out, cap);
        let n = match what {
            0 => t.random(true, buf),
            1 => t.random(false, buf),
            _ => t.master_key(buf),
        };
        out!(size, n);
        FFI_OK
    }
}

/// More keying material than anyone asks for (and than lua-lib's scratch
/// buffer holds by default, so a length past it gets a buffer of its own).
const MAX_KEYING_MATERIAL: usize = 1 << 16;

export! {
    fn ngx_lua_ffi_ssl_export_keying_material(
        out: *mut u8,
        outlen: usize,
        label: *const u8,
        llen: usize,
        context: *const u8,
        clen: usize,
        use_context: c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let t = tls!(err);
        // lua-lib's buffer has `outlen` bytes only for a sane length (a
        // negative one arrives huge).
        if outlen > MAX_KEYING_MATERIAL {
            err.set(b"SSL_export_keying_material() failed");
            return FFI_ERROR;
        }
        let ctx = (use_context != 0).then(|| lua_bytes!(context, clen));
        if t.export_keying_material(lua_buf!(out, outlen), lua_bytes!(label, llen), ctx) {
            FFI_OK
        } else {
            err.set(b"SSL_export_keying_material() failed");
            FFI_ERROR
        }
    }
}

export! {
    fn ngx_lua_ffi_ssl_session_reused(err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        c_int::from(tls!(err).session_reused())
    }
}

export! {
    fn ngx_lua_ffi_ssl_req_pointer(err: *mut u8, errlen: *mut usize) -> *mut c_void {
        let mut err = err_out!(err, errlen);
        match tls(&mut err) {
            Ok(t) => t.as_raw(),
            Err(_) => core::ptr::null_mut(),
        }
    }
}

/// The DER length into lua-lib's buffer, or -1 with the reason.
fn der_out(r: Result<Vec<u8>, &str>, out: *mut u8, cap: usize, err: &mut ErrOut) -> c_int {
    match r {
        Ok(der) if der.len() <= cap => {
            lua_buf!(out, cap)[..der.len()].copy_from_slice(&der);
            der.len() as c_int
        }
        Ok(_) => {
            err.set(b"buffer too small");
            FFI_ERROR
        }
        Err(e) => {
            err.set(e.as_bytes());
            FFI_ERROR
        }
    }
}

export! {
    fn ngx_lua_ffi_cert_pem_to_der(
        pem: *const u8,
        len: usize,
        out: *mut u8,
        cap: usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        der_out(CertChain::pem_to_der(lua_bytes!(pem, len)), out, cap, &mut err)
    }
}

export! {
    /// `pass`: null for no passphrase.
    fn ngx_lua_ffi_priv_key_pem_to_der(
        pem: *const u8,
        len: usize,
        pass: *const u8,
        pass_len: usize,
        out: *mut u8,
        cap: usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let pass = (!pass.is_null()).then(|| lua_bytes!(pass, pass_len));
        let r = PKey::from_pem_with(lua_bytes!(pem, len), pass).and_then(|k| k.to_der());
        der_out(r, out, cap, &mut err)
    }
}

/// A parsed object for lua-lib (null with the reason).
fn handed<T>(r: Result<T, &str>, into_raw: fn(T) -> *mut c_void, err: &mut ErrOut) -> *mut c_void {
    match r {
        Ok(v) => into_raw(v),
        Err(e) => {
            err.set(e.as_bytes());
            core::ptr::null_mut()
        }
    }
}

export! {
    fn ngx_lua_ffi_parse_pem_cert(pem: *const u8, len: usize, err: *mut u8, errlen: *mut usize) -> *mut c_void {
        let mut err = err_out!(err, errlen);
        handed(CertChain::from_pem(lua_bytes!(pem, len)), CertChain::into_raw, &mut err)
    }
}

export! {
    fn ngx_lua_ffi_parse_der_cert(der: *const u8, len: usize, err: *mut u8, errlen: *mut usize) -> *mut c_void {
        let mut err = err_out!(err, errlen);
        let r = CertChain::from_der(lua_bytes!(der, len), "d2i_X509_bio() failed in rest of chain");
        handed(r, CertChain::into_raw, &mut err)
    }
}

export! {
    fn ngx_lua_ffi_parse_pem_priv_key(pem: *const u8, len: usize, err: *mut u8, errlen: *mut usize) -> *mut c_void {
        let mut err = err_out!(err, errlen);
        handed(PKey::from_pem(lua_bytes!(pem, len)), PKey::into_raw, &mut err)
    }
}

export! {
    fn ngx_lua_ffi_parse_der_priv_key(der: *const u8, len: usize, err: *mut u8, errlen: *mut usize) -> *mut c_void {
        let mut err = err_out!(err, errlen);
        handed(PKey::from_der(lua_bytes!(der, len)), PKey::into_raw, &mut err)
    }
}

export! {
    /// The `ffi.gc` finalizer of parse_*_cert's cdata.
    fn ngx_lua_ffi_free_cert(cdata: *mut c_void) {
        // SAFETY: lua-lib's contract: a chain parse_*_cert returned, freed
        // once by its finalizer.
        drop(unsafe { CertChain::from_raw(cdata) });
    }
}

export! {
    /// The `ffi.gc` finalizer of parse_*_priv_key's cdata.
    fn ngx_lua_ffi_free_priv_key(cdata: *mut c_void) {
        // SAFETY: as free_cert, for a key.
        drop(unsafe { PKey::from_raw(cdata) });
    }
}

export! {
    /// The client hello's SNI name (`FFI_DECLINED`: none).
    fn ngx_lua_ffi_ssl_client_hello_server_name(
        out: *mut u8,
        cap: usize,
        len: *mut usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let Some(ext) = tls!(err).client_hello_ext(0) else {
            return FFI_DECLINED;
        };
        match crate::codec::tls::sni_host_name(&ext) {
            Some(name) if copy_out(name, out, cap, len) => FFI_OK,
            Some(_) => {
                err.set(b"buffer too small");
                FFI_ERROR
            }
            None => {
                err.set(b"Bad SSL Client Hello Extension");
                FFI_ERROR
            }
        }
    }
}

export! {
    /// The client hello's extension `typ` (`FFI_DECLINED`: absent;
    /// `FFI_BUSY`: `*len` is the room it needs).
    fn ngx_lua_ffi_ssl_client_hello_ext(
        typ: u32,
        out: *mut u8,
        cap: usize,
        len: *mut usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let Some(ext) = tls!(err).client_hello_ext(typ) else {
            return FFI_DECLINED;
        };
        if copy_out(&ext, out, cap, len) {
            FFI_OK
        } else {
            out!(len, ext.len());
            FFI_BUSY
        }
    }
}

export! {
    /// The client hello's extension types (`FFI_BUSY`: `*len` is the
    /// count it needs room for).
    fn ngx_lua_ffi_ssl_client_hello_ext_present(
        out: *mut c_int,
        cap: usize,
        len: *mut usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let Some(types) = tls!(err).client_hello_ext_present() else {
            err.set(b"failed SSL_client_hello_get1_extensions_present()");
            return FFI_ERROR;
        };
        if types.is_empty() {
            return FFI_DECLINED;
        }
        out!(len, types.len());
        let buf = lua_buf!(out, cap);
        if types.len() > buf.len() {
            return FFI_BUSY;
        }
        buf[..types.len()].copy_from_slice(&types);
        FFI_OK
    }
}

export! {
    /// The client hello's cipher suites into `out` (up to `cap`); their
    /// count, or `FFI_ERROR`.
    fn ngx_lua_ffi_ssl_client_hello_ciphers(
        out: *mut u16,
        cap: usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let Some(raw) = tls!(err).client_hello_ciphers() else {
            err.set(b"failed SSL_client_hello_get0_ciphers()");
            return FFI_ERROR;
        };
        if raw.len() % 2 != 0 {
            err.set(b"SSL_client_hello_get0_ciphers() odd ciphersuites_bytes");
            return FFI_ERROR;
        }
        let buf = lua_buf!(out, cap);
        let mut n = 0;
        for (slot, pair) in buf.iter_mut().zip(raw.chunks_exact(2)) {
            *slot = u16::from_be_bytes([pair[0], pair[1]]);
            n += 1;
        }
        n as c_int
    }
}

export! {
    /// `set_protocols`: nginx's protocol mask.
    fn ngx_lua_ffi_ssl_set_protocols(mask: c_int, err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        tls!(err).set_protocols(mask as u32);
        FFI_OK
    }
}

export! {
    /// `verify_client(client_certs?, depth?, trusted_certs?)`: only in
    /// `ssl_certificate_by_lua*`, as upstream.
    fn ngx_lua_ffi_ssl_verify_client(
        client: *mut c_void,
        trusted: *mut c_void,
        depth: c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let cur = current();
        let Some(ctx) = cur.lua_ctx() else {
            err.set(b"no request found");
            return FFI_NO_REQ;
        };
        if cur.phase != crate::lua::phase::Phase::SslCert {
            err.set(b"API disabled in the current context");
            return FFI_ERROR;
        }
        let t = tls!(err);
        // SAFETY: lua-lib's contract: null or chains parse_*_cert
        // returned, kept alive by the cdata passed in.
        let r = unsafe {
            let c = with_chain(client, |c| c.dup_ref());
            let tr = with_chain(trusted, |c| c.dup_ref());
            t.verify_client(ctx.req(), depth, c.flatten().as_ref(), tr.flatten().as_ref())
        };
        answer(r, &mut err)
    }
}

// export_keying_material_early and get_req_shared_ssl_ciphers (issue 19).

export! {
    fn ngx_lua_ffi_ssl_export_keying_material_early(
        out: *mut u8,
        outlen: usize,
        label: *const u8,
        llen: usize,
        context: *const u8,
        clen: usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let t = tls!(err);
        let failed = b"SSL_export_keying_material_early() failed";
        if outlen > MAX_KEYING_MATERIAL {
            err.set(failed);
            return FFI_ERROR;
        }
        if t.export_keying_material_early(
            lua_buf!(out, outlen),
            lua_bytes!(label, llen),
            lua_bytes!(context, clen),
        ) {
            FFI_OK
        } else {
            err.set(failed);
            FFI_ERROR
        }
    }
}

export! {
    /// The ciphers client and server share into `out` (`*n`: the room,
    /// then the count).
    fn ngx_lua_ffi_ssl_shared_ciphers(
        out: *mut u16,
        n: *mut u16,
        filter_grease: c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let t = tls!(err);
        let cap = usize::from(*lua_buf!(n, 1).first().unwrap_or(&0));
        let ids = t.shared_ciphers(filter_grease != 0);
        if ids.len() > cap {
            out!(n, 0);
            err.set(b"buffer too small");
            return FFI_ERROR;
        }
        lua_buf!(out, cap)[..ids.len()].copy_from_slice(&ids);
        out!(n, ids.len() as u16);
        FFI_OK
    }
}

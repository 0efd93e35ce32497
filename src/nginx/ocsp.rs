//! OCSP over OpenSSL for `ngx.ocsp`: the responder URL of a certificate,
//! a request for it, and the check of a responder's answer. Chains come
//! in DER, leaf then issuer, back to back (what `ngx.ssl.cert_pem_to_der`
//! gives); the error texts are upstream's (OpenSSL function names).
use core::ffi::{c_int, c_long, c_void, CStr};
use core::ptr::{self, NonNull};

use nginx_sys::*;

use super::openssl::MemBio;
use super::panic::guard;

fn clear_errors() {
    // SAFETY: this thread's OpenSSL error queue.
    unsafe { ERR_clear_error() };
}

/// An owned OpenSSL object and the function that frees it.
struct Owned<T>(NonNull<T>, unsafe extern "C" fn(*mut T));

impl<T> Owned<T> {
    fn new(p: *mut T, free: unsafe extern "C" fn(*mut T)) -> Option<Owned<T>> {
        NonNull::new(p).map(|p| Owned(p, free))
    }

    fn ptr(&self) -> *mut T {
        self.0.as_ptr()
    }
}

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        // SAFETY: the object this value owns, freed once by its own
        // function.
        unsafe { (self.1)(self.0.as_ptr()) }
    }
}

/// The next certificate of a DER chain.
fn read_x509(bio: &MemBio) -> Result<Owned<X509>, &'static str> {
    // SAFETY: DER reading from our BIO; a new certificate or null.
    let x = unsafe { d2i_X509_bio(bio.raw(), ptr::null_mut()) };
    Owned::new(x, X509_free).ok_or("d2i_X509_bio() failed")
}

/// The leaf of a DER chain and the reader, positioned at the issuer.
fn leaf(der: &[u8]) -> Result<(MemBio, Owned<X509>), &'static str> {
    let bio = MemBio::new(der).ok_or("BIO_new_mem_buf() failed")?;
    let cert = read_x509(&bio)?;
    Ok((bio, cert))
}

/// The certificate after the leaf.
fn issuer(bio: &MemBio) -> Result<Owned<X509>, &'static str> {
    if bio.eof() {
        return Err("no issuer certificate in chain");
    }
    read_x509(bio)
}

unsafe extern "C" fn free_strings(sk: *mut stack_st_OPENSSL_STRING) {
    guard((), || {
        // SAFETY: a stack X509_get1_ocsp made (strings it allocated),
        // which X509_email_free frees with its strings.
        unsafe { X509_email_free(sk) }
    })
}

/// The leaf's first OCSP responder URL (its AIA extension): None when it
/// names none. The issuer must follow the leaf (checked after the URL is
/// found, as upstream).
pub fn responder(chain: &[u8]) -> Result<Option<Vec<u8>>, &'static str> {
    let r = responder_inner(chain);
    if r.is_err() {
        clear_errors();
    }
    r
}

fn responder_inner(chain: &[u8]) -> Result<Option<Vec<u8>>, &'static str> {
    let (bio, cert) = leaf(chain)?;
    // SAFETY: the leaf we own; a new stack of new strings (or null).
    let aia = unsafe { X509_get1_ocsp(cert.ptr()) };
    let Some(aia) = Owned::new(aia, free_strings) else {
        return Ok(None);
    };
    // SAFETY: the stack's first string (null when it is empty), copied
    // before the stack goes.
    let url = unsafe {
        let s = OPENSSL_sk_value(aia.ptr() as *const OPENSSL_STACK, 0) as *const core::ffi::c_char;
        if s.is_null() {
            return Ok(None);
        }
        CStr::from_ptr(s).to_bytes().to_vec()
    };
    drop(aia);
    let issuer = issuer(&bio)?;
    // SAFETY: two certificates we own.
    if unsafe { X509_check_issued(issuer.ptr(), cert.ptr()) } != X509_V_OK as c_int {
        return Err("issuer certificate not next to leaf");
    }
    Ok(Some(url))
}

/// A DER OCSP request for the chain's leaf (SHA-1 certificate id, no
/// nonce, as upstream).
pub fn request(chain: &[u8]) -> Result<Vec<u8>, &'static str> {
    let r = request_inner(chain);
    clear_errors();
    r
}

fn request_inner(chain: &[u8]) -> Result<Vec<u8>, &'static str> {
    let (bio, cert) = leaf(chain)?;
    let issuer = issuer(&bio)?;
    // SAFETY: a new request, freed by its owner.
    let req = Owned::new(unsafe { OCSP_REQUEST_new() }, OCSP_REQUEST_free)
        .ok_or("OCSP_REQUEST_new() failed")?;
    // SAFETY: the certificates we own; the id is new, and the request
    // takes it (add0) when adding succeeds.
    unsafe {
        let id = OCSP_cert_to_id(ptr::null(), cert.ptr(), issuer.ptr());
        if id.is_null() {
            return Err("OCSP_cert_to_id() failed");
        }
        if OCSP_request_add0_id(req.ptr(), id).is_null() {
            OCSP_CERTID_free(id);
            return Err("OCSP_request_add0_id() failed");
        }
    }
    // SAFETY: i2d with a null output gives the length, then writes that
    // much at the pointer.
    unsafe {
        let n = i2d_OCSP_REQUEST(req.ptr(), ptr::null_mut());
        if n <= 0 {
            return Err("i2d_OCSP_REQUEST() failed");
        }
        let mut out = vec![0u8; n as usize];
        let mut p = out.as_mut_ptr();
        if i2d_OCSP_REQUEST(req.ptr(), &mut p) != n {
            return Err("i2d_OCSP_REQUEST() failed");
        }
        Ok(out)
    }
}

unsafe extern "C" fn free_x509_stack(sk: *mut stack_st_X509) {
    guard((), || {
        // SAFETY: a stack that does not own its certificates.
        unsafe { OPENSSL_sk_free(sk as *mut OPENSSL_STACK) }
    })
}

/// Checks a DER OCSP response for the chain's leaf: signed by the issuer
/// (or a certificate the response carries; the signer's own chain is not
/// verified, as upstream), "good", current (five minutes' leeway). Ok
/// with the response's nextUpdate (Unix time) if it has one.
pub fn validate(resp: &[u8], chain: &[u8]) -> Result<Option<i64>, String> {
    let r = validate_inner(resp, chain);
    clear_errors();
    r
}

fn validate_inner(resp: &[u8], chain: &[u8]) -> Result<Option<i64>, String> {
    let mut p = resp.as_ptr();
    let len = c_long::try_from(resp.len()).map_err(|_| "d2i_OCSP_RESPONSE() failed")?;
    // SAFETY: DER reading `len` bytes at p; a new response or null.
    let ocsp = Owned::new(
        unsafe { d2i_OCSP_RESPONSE(ptr::null_mut(), &mut p, len) },
        OCSP_RESPONSE_free,
    )
    .ok_or("d2i_OCSP_RESPONSE() failed")?;
    // SAFETY: the response we own.
    let n = unsafe { OCSP_response_status(ocsp.ptr()) };
    if n != OCSP_RESPONSE_STATUS_SUCCESSFUL as c_int {
        // SAFETY: OpenSSL's static name of the status.
        let name = unsafe { CStr::from_ptr(OCSP_response_status_str(n as c_long)) };
        return Err(format!(
            "OCSP response not successful ({n}: {})",
            name.to_string_lossy()
        ));
    }
    // SAFETY: a new basic response of ours.
    let basic = Owned::new(
        unsafe { OCSP_response_get1_basic(ocsp.ptr()) },
        OCSP_BASICRESP_free,
    )
    .ok_or("OCSP_response_get1_basic() failed")?;
    let (bio, cert) = leaf(chain)?;
    let issuer = issuer(&bio)?;
    // SAFETY: a new empty stack; it borrows the issuer, which outlives it.
    let certs = Owned::new(
        unsafe { OPENSSL_sk_new_null() } as *mut stack_st_X509,
        free_x509_stack,
    )
    .ok_or("sk_X509_new_null() failed")?;
    // SAFETY: the objects above, all ours and alive.
    unsafe {
        OPENSSL_sk_push(
            certs.ptr() as *mut OPENSSL_STACK,
            issuer.ptr() as *const c_void,
        );
        if OCSP_basic_verify(
            basic.ptr(),
            certs.ptr(),
            ptr::null_mut(),
            OCSP_NOVERIFY as _,
        ) != 1
        {
            return Err("OCSP_basic_verify() failed".into());
        }
    }
    // SAFETY: the certificates we own; a new id.
    let id = Owned::new(
        unsafe { OCSP_cert_to_id(ptr::null(), cert.ptr(), issuer.ptr()) },
        OCSP_CERTID_free,
    )
    .ok_or("OCSP_cert_to_id() failed")?;
    let mut status: c_int = 0;
    let mut this_update: *mut ASN1_GENERALIZEDTIME = ptr::null_mut();
    let mut next_update: *mut ASN1_GENERALIZEDTIME = ptr::null_mut();
    // SAFETY: our basic response and id; the times point into the
    // response, which outlives their use here.
    unsafe {
        if OCSP_resp_find_status(
            basic.ptr(),
            id.ptr(),
            &mut status,
            ptr::null_mut(),
            ptr::null_mut(),
            &mut this_update,
            &mut next_update,
        ) != 1
        {
            return Err("certificate status not found in the OCSP response".into());
        }
        if status != V_OCSP_CERTSTATUS_GOOD as c_int {
            let name = CStr::from_ptr(OCSP_cert_status_str(status as c_long));
            return Err(format!(
                "certificate status \"{}\" in the OCSP response",
                name.to_string_lossy()
            ));
        }
        if OCSP_check_validity(this_update, next_update, 300, -1) != 1 {
            return Err("OCSP_check_validity() failed".into());
        }
        if next_update.is_null() {
            return Ok(None);
        }
        let mut t: tm = core::mem::zeroed();
        if ASN1_TIME_to_tm(next_update as *const ASN1_TIME, &mut t) != 1 {
            return Err("invalid nextUpdate time in certificate status".into());
        }
        let mut lt: libc::tm = core::mem::zeroed();
        lt.tm_year = t.tm_year;
        lt.tm_mon = t.tm_mon;
        lt.tm_mday = t.tm_mday;
        lt.tm_hour = t.tm_hour;
        lt.tm_min = t.tm_min;
        lt.tm_sec = t.tm_sec;
        Ok(Some(libc::timegm(&mut lt)))
    }
}

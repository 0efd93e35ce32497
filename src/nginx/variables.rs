//! nginx variables of a request: reading `$name` and regex captures,
//! writing changeable variables.
use core::ptr;

use nginx_sys::*;

use super::request::Request;

/// Why a variable cannot be written.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SetVarError {
    /// No such variable in the configuration.
    NotFound,
    /// nginx does not let it change (`$uri`, ...).
    NotChangeable,
    /// Changeable, but neither indexed nor with a set handler.
    NotAssignable,
    NoMemory,
}

impl Request {
    /// The `n`th capture of the request's last regex match (`$1`, ...).
    pub fn capture(&self, n: usize) -> Option<&[u8]> {
        // SAFETY: a live request; `captures` holds `ncaptures` offsets into
        // `captures_data` when it is set.
        unsafe {
            let r = self.as_ptr();
            if (*r).captures.is_null() || 2 * n >= (*r).ncaptures {
                return None;
            }
            let caps = (*r).captures;
            let (a, b) = (*caps.add(2 * n), *caps.add(2 * n + 1));
            if a < 0 || b < a {
                return Some(&[]);
            }
            Some(core::slice::from_raw_parts(
                (*r).captures_data.add(a as usize),
                (b - a) as usize,
            ))
        }
    }

    /// `$name`: `lowcase` (as long as `name`) receives the lower-cased
    /// name nginx looks up. `None` for an unknown or not-found variable.
    pub fn variable(&self, name: &[u8], lowcase: &mut [u8]) -> Option<&[u8]> {
        let len = name.len().min(lowcase.len());
        // SAFETY: a live request; both buffers hold `len` bytes; the value
        // lives in the request pool or nginx's variable storage.
        unsafe {
            let hash = ngx_hash_strlow(lowcase.as_mut_ptr(), name.as_ptr() as *mut u8, len);
            let mut key = ngx_str_t {
                len,
                data: lowcase.as_mut_ptr(),
            };
            let vv = ngx_http_get_variable(self.as_ptr(), &mut key, hash);
            if vv.is_null() || (*vv).not_found() != 0 {
                return None;
            }
            let len = super::bitfield::value_len(&*vv);
            Some(if len == 0 {
                &[]
            } else {
                core::slice::from_raw_parts((*vv).data, len)
            })
        }
    }

    /// Writes `$name` (`None`: marks it not found); `lowcase` as in
    /// [`Request::variable`]. The value is copied into the request pool.
    pub fn set_variable(
        self,
        name: &[u8],
        lowcase: &mut [u8],
        value: Option<&[u8]>,
    ) -> Result<(), SetVarError> {
        let len = name.len().min(lowcase.len());
        let data = match value {
            Some(v) => self.pool_str(v).ok_or(SetVarError::NoMemory)?,
            None => ngx_str_t {
                len: 0,
                data: ptr::null_mut(),
            },
        };
        // SAFETY: a live request; the core main conf holds the variables
        // hash nginx built at configuration time, and the variables array
        // of the request has a slot per indexed variable.
        unsafe {
            let hash = ngx_hash_strlow(lowcase.as_mut_ptr(), name.as_ptr() as *mut u8, len);
            let cmcf = self.core_main_conf();
            let v = ngx_hash_find(&mut (*cmcf).variables_hash, hash, lowcase.as_mut_ptr(), len)
                as *mut ngx_http_variable_t;
            if v.is_null() {
                return Err(SetVarError::NotFound);
            }
            if (*v).flags & NGX_HTTP_VAR_CHANGEABLE as ngx_uint_t == 0 {
                return Err(SetVarError::NotChangeable);
            }
            let fill = |vv: *mut ngx_http_variable_value_t| {
                if value.is_none() {
                    (*vv).set_valid(0);
                    (*vv).set_not_found(1);
                    (*vv).set_len(0);
                    (*vv).data = ptr::null_mut();
                } else {
                    (*vv).set_valid(1);
                    (*vv).set_not_found(0);
                    (*vv).set_no_cacheable(0);
                    (*vv).set_escape(0);
                    (*vv).set_len(data.len as u32);
                    (*vv).data = data.data;
                }
            };
            if let Some(set) = (*v).set_handler {
                let vv = ngx_pcalloc(
                    self.pool(),
                    core::mem::size_of::<ngx_http_variable_value_t>(),
                ) as *mut ngx_http_variable_value_t;
                if vv.is_null() {
                    return Err(SetVarError::NoMemory);
                }
                fill(vv);
                set(self.as_ptr(), vv, (*v).data);
                return Ok(());
            }
            if (*v).flags & NGX_HTTP_VAR_INDEXED as ngx_uint_t != 0 {
                fill((*self.as_ptr()).variables.add((*v).index));
                return Ok(());
            }
            Err(SetVarError::NotAssignable)
        }
    }
}

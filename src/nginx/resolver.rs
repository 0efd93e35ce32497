//! Resolving host names with the `resolver` of a request's location
//! (nginx's asynchronous DNS client): start, answer, cancel.
use core::ffi::{c_void, CStr};
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, Ordering};

use nginx_sys::*;

use super::panic::guard;
use super::request::{Request, OK};

/// A location's resolver and its `resolver_timeout`.
#[derive(Clone, Copy)]
pub struct Resolver {
    resolver: *mut ngx_resolver_t,
    timeout: ngx_msec_t,
}

/// Why a resolution did not start.
#[derive(Debug, PartialEq, Eq)]
pub enum StartError {
    /// The location has no `resolver`.
    NoResolver,
    /// Out of memory, or the resolver could not start.
    Start,
    /// The resolver failed before any query (it frees the attempt).
    Resolve,
}

/// What the resolver found.
pub enum Answer {
    /// One of the name's addresses, picked at random as nginx's own
    /// proxying spreads connections (sockaddr bytes, port 0).
    Addr(Vec<u8>),
    /// It failed: nginx's `NGX_RESOLVE_*` code and its text.
    Failed { state: isize, why: String },
}

/// What an object that starts a resolution does with its answer. `at_once`:
/// the answer came inside [`Resolver::resolve`] (a cached name), before
/// the resolution could be waited for.
pub trait OnResolved {
    fn on_resolved(&mut self, answer: Answer, at_once: bool);
}

/// A resolution under way; [`Resolving::cancel`] abandons it.
#[derive(Debug)]
pub struct Resolving(NonNull<ngx_resolver_ctx_t>);

/// The resolution whose `ngx_resolve_name` call runs, so its handler can
/// tell an answer at once from a later one.
static IN_CALL: AtomicPtr<ngx_resolver_ctx_t> = AtomicPtr::new(ptr::null_mut());

impl Resolver {
    /// The resolver of `r`'s location.
    pub fn of(r: Request) -> Resolver {
        let clcf = r.core_loc_conf();
        Resolver {
            resolver: clcf.resolver,
            timeout: clcf.resolver_timeout,
        }
    }

    /// Starts resolving `name`; `target.on_resolved` gets the answer,
    /// maybe before this returns (then there is nothing to cancel:
    /// `Ok(None)`).
    ///
    /// # Safety
    /// `target` and `name` stay valid at their addresses (and `name`
    /// unchanged) until the answer came or the returned [`Resolving`] was
    /// cancelled.
    pub unsafe fn resolve<T: OnResolved>(
        self,
        name: &[u8],
        target: *mut T,
    ) -> Result<Option<Resolving>, StartError> {
        let nstr = ngx_str_t {
            len: name.len(),
            data: name.as_ptr() as *mut u8,
        };
        // SAFETY: a zeroed context with only the name set is what
        // ngx_resolve_start reads (it answers IP literals in it at once,
        // "quick", so it must live until ngx_resolve_name returned).
        let mut temp: ngx_resolver_ctx_t = unsafe { core::mem::zeroed() };
        temp.name = nstr;
        // SAFETY: the location's resolver lives as long as the
        // configuration.
        let rctx = unsafe { ngx_resolve_start(self.resolver, &mut temp) };
        if rctx.is_null() {
            return Err(StartError::Start);
        }
        // NGX_NO_RESOLVER, a pointer of value -1.
        if rctx as isize == -1 {
            return Err(StartError::NoResolver);
        }
        // SAFETY: a context the resolver just made (or `temp`); the name,
        // the handler's data and `temp` outlive the call (the contract
        // above, and `temp` is ours until we return).
        let rc = unsafe {
            (*rctx).name = nstr;
            (*rctx).handler = Some(resolved::<T>);
            (*rctx).data = target as *mut c_void;
            (*rctx).timeout = self.timeout;
            let prev = IN_CALL.swap(rctx, Ordering::Relaxed);
            let rc = ngx_resolve_name(rctx);
            let pending = IN_CALL.swap(prev, Ordering::Relaxed) == rctx;
            if rc != OK {
                // The resolver freed the context.
                return Err(StartError::Resolve);
            }
            pending.then(|| Resolving(NonNull::new_unchecked(rctx)))
        };
        Ok(rc)
    }
}

impl Resolving {
    /// Abandons the resolution: its handler will not run.
    pub fn cancel(self) {
        // SAFETY: a pending resolution (its handler has not run: the owner
        // drops the handle when it does).
        unsafe { ngx_resolve_name_done(self.0.as_ptr()) }
    }
}

unsafe extern "C" fn resolved<T: OnResolved>(rctx: *mut ngx_resolver_ctx_t) {
    guard((), || {
        // SAFETY: nginx calls the handler once with the live context; its
        // data is the target given to resolve(), valid until the answer
        // (that function's contract). The answer is copied out before
        // ngx_resolve_name_done frees the context.
        unsafe {
            let at_once = IN_CALL
                .compare_exchange(rctx, ptr::null_mut(), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
            let target = (*rctx).data as *mut T;
            let answer = answer(&*rctx);
            ngx_resolve_name_done(rctx);
            (*target).on_resolved(answer, at_once);
        }
    })
}

/// The answer in a finished context.
fn answer(rctx: &ngx_resolver_ctx_t) -> Answer {
    let n = rctx.naddrs;
    if rctx.state != 0 || n == 0 || rctx.addrs.is_null() {
        let state = if rctx.state != 0 {
            rctx.state
        } else {
            NGX_RESOLVE_NXDOMAIN as ngx_int_t
        };
        // SAFETY: ngx_resolver_strerror returns a static C string.
        let why = unsafe { CStr::from_ptr(ngx_resolver_strerror(state)) }
            .to_string_lossy()
            .into_owned();
        return Answer::Failed { state, why };
    }
    let pick = if n > 1 {
        (ngx_random() as usize) % n
    } else {
        0
    };
    // SAFETY: a successful answer has naddrs addresses, each pointing at
    // socklen bytes of socket address.
    let sa = unsafe {
        let a = &*rctx.addrs.add(pick);
        core::slice::from_raw_parts(a.sockaddr as *const u8, a.socklen as usize)
    };
    Answer::Addr(sa.to_vec())
}

//! The runtime's part of a request's state: its VM, the phase whose Lua
//! code runs, the scheduled threads of that code, and what they attached
//! to the request. The HTTP features keep the rest of their per-request
//! state in a larger struct that embeds this one (`http::RequestCtx`);
//! the runtime never creates one itself.
use core::ffi::{c_int, c_void};
use core::ptr;

use nginx_sys::*;

use super::coctx::{CoCtx, CoState};
use super::phase::Phase;
use super::sched::Outcome;
use super::vm::Vm;

/// Something a feature tied to the request (a cosocket, say): `end` runs
/// when the request ends, unless the feature detached it first.
struct Attachment {
    data: *mut c_void,
    end: unsafe fn(*mut c_void),
}

pub struct LuaCtx {
    pub r: *mut ngx_http_request_t,
    pub vm: *mut Vm,
    /// Phase of the entry coroutine (or of the synchronous handler).
    pub phase: Phase,
    /// The scheduled threads of the running phase handler: the entry
    /// thread and light threads. Boxed, so their addresses are stable.
    pub threads: Vec<Box<CoCtx>>,
    pub entry: *mut CoCtx,
    /// The thread suspended on a request-level event (body read, flush).
    pub event_waiter: *mut CoCtx,
    pub entry_failed: bool,
    pub exit_code: Option<isize>,
    /// Set by an API that armed a request-level event for the running
    /// thread; the scheduler moves it to that thread when it yields.
    pub waiting: bool,
    /// The `ngx.ctx` table's slot (0: none yet).
    pub ctx_ref: c_int,
    /// What the code that started the entry thread does with the
    /// handler's state after an event resumed one of its threads (the
    /// phase's continuation, or the timer's).
    pub on_outcome: fn(&mut LuaCtx, Outcome),
    attachments: Vec<Attachment>,
}

fn no_continuation(_: &mut LuaCtx, _: Outcome) {}

impl LuaCtx {
    pub fn new(r: *mut ngx_http_request_t, vm: *mut Vm) -> LuaCtx {
        LuaCtx {
            r,
            vm,
            phase: Phase::Rewrite,
            threads: Vec::new(),
            entry: ptr::null_mut(),
            event_waiter: ptr::null_mut(),
            entry_failed: false,
            exit_code: None,
            waiting: false,
            ctx_ref: 0,
            on_outcome: no_continuation,
            attachments: Vec::new(),
        }
    }

    pub fn vm(&mut self) -> &mut Vm {
        // SAFETY: the VM lives in the main conf, which outlives requests.
        unsafe { &mut *self.vm }
    }

    /// Cancels and unanchors every thread of the previous (or finished)
    /// handler.
    pub fn release_threads(&mut self) {
        for t in self.threads.iter_mut() {
            t.cancel_events();
            t.release();
            t.state = CoState::Dead;
        }
        self.threads.clear();
        self.entry = ptr::null_mut();
        self.event_waiter = ptr::null_mut();
        self.entry_failed = false;
    }

    /// Ties `data` to the request: `end(data)` runs when the request ends.
    pub fn attach(&mut self, data: *mut c_void, end: unsafe fn(*mut c_void)) {
        if !self.attachments.iter().any(|a| a.data == data) {
            self.attachments.push(Attachment { data, end });
        }
    }

    pub fn detach(&mut self, data: *mut c_void) {
        self.attachments.retain(|a| a.data != data);
    }

    /// The first attachment registered with `end` (a feature finds its
    /// own attachment by its end function).
    pub fn attached(&self, end: unsafe fn(*mut c_void)) -> Option<*mut c_void> {
        self.attachments
            .iter()
            .find(|a| a.end as usize == end as usize)
            .map(|a| a.data)
    }
}

impl Drop for LuaCtx {
    fn drop(&mut self) {
        for a in core::mem::take(&mut self.attachments) {
            // SAFETY: the feature attached data with its own end function
            // and detaches it before the data goes away.
            unsafe { (a.end)(a.data) };
        }
        self.release_threads();
        if let Some(vm) = unsafe { self.vm.as_mut() } {
            if self.ctx_ref > 0 {
                vm.ctx_ref_free(self.ctx_ref);
            }
        }
    }
}

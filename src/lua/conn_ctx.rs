//! `ngx.ctx` across a TLS connection, as upstream: the `ssl_*_by_lua*`
//! handlers of a connection share one table, kept as long as the
//! connection, and each request on the connection starts with a table that
//! reads through it (its metatable), so what the handshake's handlers set
//! is seen by every request while a request's own writes stay its own.
use core::ffi::{c_int, c_void};

use super::ctx::LuaCtx;
use super::phase::Phase;
use super::vm::Vm;
use crate::nginx::connection::{ConnKey, Connection};

/// The connection's slot in the VM's ctx tables.
struct Held {
    vm: *mut Vm,
    slot: c_int,
}

static KEY: ConnKey = ConnKey { end: release };

/// The connection closed: its table goes.
unsafe fn release(data: *mut c_void) {
    // SAFETY: the box ssl_slot attached with KEY, given back once; the VM
    // lives in the main conf, which outlives the worker's connections.
    unsafe {
        let h = Box::from_raw(data as *mut Held);
        (*h.vm).ctx_ref_free(h.slot);
    }
}

fn held_slot(c: Connection) -> Option<c_int> {
    // SAFETY: KEY's data is a Held (ssl_slot), alive while attached.
    c.attached(&KEY)
        .map(|h| unsafe { (*(h as *const Held)).slot })
}

/// In a TLS handler (`phase`), the slot of its connection's table and
/// whether it is new; None outside those handlers (or out of memory: the
/// handler then gets a table of its own).
pub fn ssl_slot(ctx: &mut LuaCtx, phase: Phase) -> Option<(c_int, bool)> {
    if !matches!(
        phase,
        Phase::SslCert | Phase::SslClientHello | Phase::SslSessFetch | Phase::SslSessStore
    ) {
        return None;
    }
    // SAFETY: these handlers run in ssl_cert's fake requests, made by
    // FakeConnection::request with the client's TLS state lent.
    let client = unsafe { ctx.req().tls_client() }?;
    if let Some(slot) = held_slot(client) {
        return Some((slot, false));
    }
    let vm = ctx.vm();
    let slot = vm.ctx_ref_new();
    let held = Box::into_raw(Box::new(Held { vm, slot }));
    if !client.attach(&KEY, held as *mut c_void) {
        // SAFETY: not attached, so still ours alone.
        drop(unsafe { Box::from_raw(held) });
        ctx.vm().ctx_ref_free(slot);
        return None;
    }
    Some((slot, true))
}

/// The TLS handlers' table slot of the connection a request runs on (0
/// when there is none).
pub fn inherited(ctx: &LuaCtx) -> c_int {
    held_slot(Connection::of_request(ctx.req())).unwrap_or(0)
}

//! Certificate and key settings the scratch object has already accepted.
//!
//! The probe-less path checks a handler's certificates and keys on the
//! worker's scratch `SSL` (OpenSSL's own checks, so a key that does not
//! match fails at the call, as upstream) before it records them for the
//! real handshake. A handler that sets the same parsed objects on every
//! handshake (from a cache of parsed certificates, as handlers do) paid
//! for the same checks every time: about 38,000 instructions of a
//! 2.6 million one, more than a third of what the module added to a
//! handshake. What OpenSSL answers depends only on the server's context,
//! the state the settings start from (empty: the path takes these calls
//! only after `clear_certs`) and the objects, so a sequence of settings
//! it accepted once it accepts again. Each sequence kept holds references
//! to its objects and its context, so their addresses cannot be taken by
//! other objects while it is kept; a sequence that failed is never kept
//! (its error comes from OpenSSL each time).
use core::ptr;

use nginx_sys::{SSL_CTX_free, SSL_CTX_up_ref, SSL_CTX};

use super::Op;
use crate::nginx::global::Worker;

/// Enough for the certificate pairs of a busy server (each pair takes two
/// entries: after the certificate, after the key); beyond it the oldest go,
/// and their handshakes pay for a check again.
const MAX: usize = 64;

/// A sequence of settings, from `clear_certs` on, accepted on a scratch
/// object of context `ctx`.
struct Accepted {
    ctx: *mut SSL_CTX,
    ops: Vec<Op>,
}

impl Drop for Accepted {
    fn drop(&mut self) {
        // SAFETY: the reference `remember` took.
        unsafe { SSL_CTX_free(self.ctx) };
    }
}

static ACCEPTED: Worker<Vec<Accepted>> = Worker::new();

/// The same setting of the same objects (by address: the entries hold
/// references, so an address is not reused while it is kept).
fn same(a: &Op, b: &Op) -> bool {
    match (a, b) {
        (Op::ClearCerts, Op::ClearCerts) => true,
        (Op::Cert(x), Op::Cert(y)) => {
            let n = x.len();
            n == y.len() && (0..n).all(|i| ptr::eq(x.get(i), y.get(i)))
        }
        (Op::Key(x), Op::Key(y)) => ptr::eq(x.as_ptr(), y.as_ptr()),
        _ => false,
    }
}

fn matches(e: &Accepted, ctx: *mut SSL_CTX, done: &[Op], next: &Op) -> bool {
    ptr::eq(e.ctx, ctx)
        && e.ops.len() == done.len() + 1
        && e.ops
            .iter()
            .zip(done.iter().chain([next]))
            .all(|(a, b)| same(a, b))
}

/// Whether `next` after `done` (the settings since `clear_certs`) was
/// accepted before on a scratch object of context `ctx`.
pub(super) fn known(ctx: *mut SSL_CTX, done: &[Op], next: &Op) -> bool {
    ACCEPTED.with(|v| v.iter().rev().any(|e| matches(e, ctx, done, next)))
}

/// A new owner of the same objects as `op` (None: out of memory, or not a
/// certificate setting).
fn dup(op: &Op) -> Option<Op> {
    Some(match op {
        Op::ClearCerts => Op::ClearCerts,
        Op::Cert(c) => Op::Cert(c.dup()?),
        Op::Key(k) => Op::Key(k.dup()),
        _ => return None,
    })
}

/// Keeps `next` after `done`, which the scratch object of context `ctx`
/// has just accepted.
pub(super) fn remember(ctx: *mut SSL_CTX, done: &[Op], next: &Op) {
    let Some(ops) = done
        .iter()
        .chain([next])
        .map(dup)
        .collect::<Option<Vec<Op>>>()
    else {
        return;
    };
    // SAFETY: the live context of the server the handler runs for; the
    // entry's drop gives the reference back.
    if unsafe { SSL_CTX_up_ref(ctx) } == 0 {
        return;
    }
    let e = Accepted { ctx, ops };
    ACCEPTED.with(|v| {
        if v.len() >= MAX {
            v.remove(0);
        }
        v.push(e);
    });
}

/// Lets go of every object (the worker's exit).
pub(super) fn on_exit() {
    drop(ACCEPTED.take());
}

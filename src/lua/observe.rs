//! A slot through which a feature above the runtime watches Lua run:
//! handler runs, the time of each step (one resume of a thread, or one
//! synchronous handler call) and errors, with the context and phase they
//! belong to (`ngx.metrics`). Empty unless a feature fills it, so the
//! runtime pays one load and a branch per step when nobody watches.
use super::ctx::LuaCtx;
use super::phase::Phase;
use crate::nginx::global::Global;
use crate::nginx::time::monotonic_ns;

/// What happened, for [`Observer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A handler started (an entry thread, a synchronous handler).
    Run,
    /// A step ended after this many nanoseconds.
    Time(u64),
    /// A thread or a synchronous handler failed with a Lua error (or its
    /// code could not be loaded).
    Error,
}

/// Gets the context (null outside requests: `init_worker_by_lua*`, ...)
/// and the phase of the Lua code concerned.
pub type Observer = fn(*mut LuaCtx, Phase, Event);

static OBSERVER: Global<Option<Observer>> = Global::new(None);

/// Fills (or empties) the slot, for the worker's life.
pub fn set(o: Option<Observer>) {
    OBSERVER.set(o);
}

#[inline]
pub fn note(ctx: *mut LuaCtx, phase: Phase, ev: Event) {
    if let Some(f) = OBSERVER.get() {
        f(ctx, phase, ev);
    }
}

/// A step being timed: made before Lua runs, ended after.
pub struct Step(Option<(u64, Observer)>);

#[inline]
pub fn step() -> Step {
    Step(OBSERVER.get().map(|f| (monotonic_ns(), f)))
}

impl Step {
    #[inline]
    pub fn end(self, ctx: *mut LuaCtx, phase: Phase) {
        if let Some((t0, f)) = self.0 {
            f(ctx, phase, Event::Time(monotonic_ns().saturating_sub(t0)));
        }
    }
}

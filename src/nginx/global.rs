//! The one way the crate keeps process-wide state.
//!
//! nginx runs a worker's event loop, and every module callback, on one
//! thread, so a worker's globals need no locks; what they need is a rule
//! that no Rust reference to one outlives the operation that took it
//! (callbacks re-enter the module: an event handler resumes Lua, whose FFI
//! calls reach the same state). Two kinds:
//!
//! - [`Global`]: a `Copy` value read and written whole (the running Lua
//!   context, a counter).
//! - [`Worker`]: structured state borrowed for one operation through
//!   [`Worker::with`]; a re-entrant borrow is a bug and panics (inside the
//!   panic guard) instead of aliasing. [`Worker::take`] frees it when the
//!   worker exits, before nginx unloads the module.
//!
//! No function hands out a `&'static mut` to a global. (Code that must
//! reach the state from a signal handler, like the SIGCHLD table of
//! `ngx.pipe`, uses atomics instead and says so.)
use core::cell::UnsafeCell;

/// A process-global `Copy` value.
pub struct Global<T>(UnsafeCell<T>);

// SAFETY: only nginx's single event-loop thread touches these statics
// (the module starts no threads of its own that reach them).
unsafe impl<T> Sync for Global<T> {}

impl<T: Copy> Global<T> {
    pub const fn new(v: T) -> Self {
        Global(UnsafeCell::new(v))
    }

    #[inline]
    pub fn get(&self) -> T {
        // SAFETY: single-threaded, and the value is copied out: no
        // reference to it survives the call.
        unsafe { *self.0.get() }
    }

    #[inline]
    pub fn set(&self, v: T) {
        // SAFETY: as get.
        unsafe { *self.0.get() = v }
    }
}

/// A worker's structured state, made on first use.
pub struct Worker<T>(Slot<T>);

/// nginx gives a worker one thread, but `cargo test` runs unit tests on
/// several at once, and those that reach a worker's state (a socket's
/// spare read buffers) would race on a `RefCell`: there a lock stands in
/// for nginx's single thread. A re-entrant `with` is still a bug; under
/// test it deadlocks or panics instead of aliasing.
#[cfg(not(test))]
type Slot<T> = core::cell::RefCell<Option<T>>;
#[cfg(test)]
type Slot<T> = std::sync::Mutex<Option<T>>;

// SAFETY: as Global: one thread, and RefCell catches re-entrant borrows
// (under test, the Mutex serialises the test threads).
unsafe impl<T> Sync for Worker<T> {}

impl<T> Worker<T> {
    pub const fn new() -> Self {
        Worker(Slot::new(None))
    }

    #[cfg(not(test))]
    #[inline]
    fn slot(&self) -> impl core::ops::DerefMut<Target = Option<T>> + '_ {
        self.0.borrow_mut()
    }

    #[cfg(test)]
    fn slot(&self) -> impl core::ops::DerefMut<Target = Option<T>> + '_ {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the state. `f` must not reach this global again (it
    /// must not run Lua code or nginx handlers); if it does, the borrow
    /// panics rather than alias.
    #[inline]
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R
    where
        T: Default,
    {
        f(self.slot().get_or_insert_with(T::default))
    }

    /// Removes the state (it is made again on next use): for the worker's
    /// exit, so what it owns is freed while the module is still loaded.
    pub fn take(&self) -> Option<T> {
        self.slot().take()
    }
}

impl<T> Default for Worker<T> {
    fn default() -> Self {
        Self::new()
    }
}

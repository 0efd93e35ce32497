//! The runtime: per-cycle VM, handler code, request context and scheduler.
pub mod cfunction;
pub mod ctx;
pub mod handler;
pub mod output;
pub mod phase;
pub mod raw;
pub mod sched;
pub mod sleep;
pub mod thread;
pub mod value;
pub mod vm;

use core::cell::UnsafeCell;

/// A process-global slot. nginx runs each worker's event loop on one
/// thread and the module never starts others, so plain interior mutability
/// is enough; the wrapper only exists to be `Sync` for a `static`.
pub struct Global<T>(UnsafeCell<T>);

// SAFETY: only nginx's single event-loop thread touches these statics.
unsafe impl<T> Sync for Global<T> {}

impl<T> Global<T> {
    pub const fn new(v: T) -> Self {
        Global(UnsafeCell::new(v))
    }

    /// Runs `f` on the value.
    ///
    /// # Safety
    /// `f` must not reach the same global again (that would make a second
    /// mutable reference to the value).
    unsafe fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: single-threaded access (see the Sync impl), and `f` does
        // not re-enter (the caller's promise).
        f(unsafe { &mut *self.0.get() })
    }
}

impl<T: Copy> Global<T> {
    pub fn get(&self) -> T {
        // SAFETY: single-threaded access (see the Sync impl).
        unsafe { *self.0.get() }
    }
    pub fn set(&self, v: T) {
        // SAFETY: single-threaded access (see the Sync impl).
        unsafe { *self.0.get() = v }
    }
}

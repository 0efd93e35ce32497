//! The runtime: per-cycle VM, handler code, request context and scheduler.
pub mod cfunction;
pub mod conn_ctx;
pub mod ctx;
pub mod handler;
pub mod limits;
pub mod observe;
pub mod output;
pub mod phase;
pub mod raw;
pub mod sched;
pub mod sleep;
pub mod thread;
pub mod value;
pub mod vm;

pub use crate::nginx::global::Global;

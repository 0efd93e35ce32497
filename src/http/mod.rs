//! State the HTTP features share per request, on top of the runtime's.
pub mod ctx;

pub use ctx::RequestCtx;

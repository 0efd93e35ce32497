//! Safe wrappers over the nginx objects the runtime touches. All raw
//! pointer work on nginx structures outside `conf/` and `phase/` lives here.
pub mod chain;
pub mod ctx_slot;
pub mod fake;
pub mod filter;
pub mod headers_in;
pub mod headers_out;
pub mod log;
pub mod module;
pub mod panic;
pub mod phase_engine;
pub mod request;
pub mod script;
pub mod sock;
pub mod str;
pub mod time;
pub mod variables;

//! Safe wrappers over the nginx objects the runtime touches. All raw
//! pointer work on nginx structures outside `conf/` and `phase/` lives here.
pub mod fake;
pub mod headers_in;
pub mod headers_out;
pub mod log;
pub mod module;
pub mod panic;
pub mod request;
pub mod sock;
pub mod str;
pub mod time;
pub mod variables;

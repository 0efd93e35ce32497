//! Safe wrappers over the nginx objects the runtime touches. All raw
//! pointer work on nginx structures outside `conf/` and `phase/` lives here.
pub mod connection;
pub mod downstream;
pub mod event;
pub mod fake;
pub mod headers_in;
pub mod log;
pub mod module;
pub mod panic;
pub mod peer;
pub mod request;
pub mod resolver;
pub mod sock;
pub mod ssl;
pub mod str;
pub mod time;
pub mod variables;

//! Safe wrappers over the nginx objects the runtime touches. All raw
//! pointer work on nginx structures outside `conf/` and `phase/` lives here.
pub mod conf;
pub mod cycle;
pub mod fake;
pub mod headers_in;
pub mod log;
pub mod module;
pub mod panic;
pub mod phase_engine;
pub mod request;
pub mod shm;
pub mod sock;
pub mod ssl_conf;
pub mod str;
pub mod subrequest;
pub mod time;
pub mod timer;
pub mod variables;

//! Safe wrappers over the nginx objects the runtime touches. All raw
//! pointer work on nginx structures outside `conf/` and `phase/` lives here.
pub mod body;
pub mod body_set;
pub mod fake;
pub mod headers_in;
pub mod log;
pub mod module;
pub mod panic;
pub mod raw_header;
pub mod redirect;
pub mod request;
pub mod sock;
pub mod time;
pub mod upstream;
pub mod uri;
pub mod variables;

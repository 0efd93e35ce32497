//! Safe wrappers over the nginx objects the runtime touches. All raw
//! pointer work on nginx structures outside `conf/` and `phase/` lives here.
pub mod body;
pub mod body_set;
pub mod chain;
pub mod ctx_slot;
pub mod fake;
pub mod fd_conn;
pub mod filter;
pub mod headers_in;
pub mod headers_out;
pub mod helper;
pub mod log;
pub mod log_writer;
pub mod module;
pub mod ndk;
pub mod panic;
pub mod phase_engine;
pub mod process;
pub mod raw_header;
pub mod redirect;
pub mod request;
pub mod script;
pub mod sock;
pub mod thread_pool;
pub mod time;
pub mod uri;
pub mod variables;

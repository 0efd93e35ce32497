//! nginx phase hooks: one file per phase.
pub mod abort;
pub mod access;
pub mod body;
pub mod body_filter;
pub mod content;
pub mod exec;
pub mod exit_worker;
pub mod finish;
pub mod flush;
pub mod header_filter;
pub mod init_worker;
pub mod log;
pub mod output;
pub mod precontent;
pub mod rewrite;
pub mod server_rewrite;
pub mod set;

pub use body::read_body_first;

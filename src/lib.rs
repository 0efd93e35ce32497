//! ngx-lua-rs: OpenResty's `ngx_http_lua_module`, in Rust.
//!
//! The crate's layers, top to bottom (each imports only from below it; see
//! `docs/design.md` and `scripts/check-layers`): `module` (the nginx module
//! and its directives), `ffi` (the API lua-lib calls), `phase`, the
//! features (`cosocket`, `shdict`, `subrequest`, `timer`, `semaphore`,
//! `balancer`),
//! `http` (per-request state), `conf`, `lua` (the runtime), `nginx` (safe
//! wrappers), and the pure `codec`/`regex`.
#![deny(unsafe_op_in_unsafe_fn)]
#![allow(non_upper_case_globals)]
// `L` for a lua_State is the universal Lua C API convention.
#![allow(non_snake_case)]

pub mod balancer;
pub mod codec;
pub mod conf;
pub mod cosocket;
pub mod errlog;
pub mod ffi;
pub mod http;
pub mod lua;
pub mod metrics;
pub mod module;
pub mod nginx;
pub mod phase;
pub mod pipe;
pub mod process;
pub mod regex;
pub mod semaphore;
pub mod shdict;
pub mod ssl_cert;
pub mod subrequest;
pub mod timer;
pub mod worker_thread;

//! Pure string codecs behind `ngx.escape_uri`, `ngx.decode_args`,
//! `ngx.encode_base64`, the hashes and `ngx.quote_sql_str`.
//!
//! Nothing here touches nginx or Lua: every function works on byte slices
//! and a caller-owned output slice sized with the matching `*_len`
//! function, so `cargo test` and the fuzz target exercise them directly.
pub mod args;
pub mod base64;
pub mod hash;
pub mod sql;
pub mod uri;

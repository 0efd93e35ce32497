//! Cosockets: non-blocking sockets on nginx's event loop that suspend the
//! calling Lua thread until the operation completes.
pub mod addr;
pub mod connect;
pub mod io;
pub mod pool;
pub mod recv;
pub mod req;
pub mod ssl;
pub mod tcp;

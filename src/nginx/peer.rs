//! Opening a connection to a peer with nginx's `ngx_event_connect_peer`:
//! a socket from the worker's connection slots, non-blocking connect,
//! registered with the event method.
use nginx_sys::*;

use super::connection::{Connection, LogOf};
use super::request::{AGAIN, OK};
use super::sock::errno;

/// Where to connect.
pub struct Peer<'a> {
    /// The peer's socket address (`sockaddr_in`, `_in6` or `_un` bytes).
    pub sockaddr: &'a [u8],
    /// How nginx's log lines name the peer.
    pub name: &'a [u8],
    /// A local address to bind first (the same kind of bytes), and how
    /// nginx's "bind(...) failed" line names it.
    pub local: Option<(&'a [u8], &'a [u8])>,
    /// A datagram socket (UDP, or a unix datagram socket).
    pub datagram: bool,
    pub log: LogOf,
}

/// How a connect began.
pub enum Connect {
    /// Connected already (unix sockets, datagram sockets).
    Done(Connection),
    /// Under way: the connection's write event says when it finished.
    InProgress(Connection),
    /// No connection: the errno of the failure (0 when nginx gave none:
    /// no free connection slot, say).
    Failed(i32),
}

impl Peer<'_> {
    pub fn connect(&self) -> Connect {
        let mut name = ngx_str_t {
            len: self.name.len(),
            data: self.name.as_ptr() as *mut u8,
        };
        // SAFETY: an all-zero address and peer connection are their initial
        // states.
        let mut local: ngx_addr_t = unsafe { core::mem::zeroed() };
        // SAFETY: as above.
        let mut pc: ngx_peer_connection_t = unsafe { core::mem::zeroed() };
        pc.sockaddr = self.sockaddr.as_ptr() as *mut sockaddr;
        pc.socklen = self.sockaddr.len() as socklen_t;
        pc.name = &mut name;
        pc.get = Some(ngx_event_get_peer);
        if self.datagram {
            pc.type_ = libc::SOCK_DGRAM;
        }
        if let Some((sa, text)) = self.local {
            local.sockaddr = sa.as_ptr() as *mut sockaddr;
            local.socklen = sa.len() as socklen_t;
            local.name = ngx_str_t {
                len: text.len(),
                data: text.as_ptr() as *mut u8,
            };
            pc.local = &mut local;
        }
        pc.log = self.log.raw();
        pc.set_log_error(ngx_connection_log_error_e_NGX_ERROR_ERR as _);
        // SAFETY: every pointer in pc (addresses, name, log) outlives the
        // call, and nginx keeps none of them past it (the connection it
        // makes holds its own state); the addresses are only read, although
        // nginx declares them mutable.
        let rc = unsafe { ngx_event_connect_peer(&mut pc) };
        if rc != OK && rc != AGAIN {
            // NGX_ERROR, NGX_BUSY, NGX_DECLINED: nginx closes what it made
            // on its way out; a connection it left behind is closed here.
            let e = errno();
            if !pc.connection.is_null() {
                // SAFETY: a connection nginx made and handed to us.
                unsafe { ngx_close_connection(pc.connection) };
            }
            return Connect::Failed(e);
        }
        // SAFETY: on OK and AGAIN, nginx made a live connection.
        let Some(c) = (unsafe { Connection::from_raw(pc.connection) }) else {
            return Connect::Failed(0);
        };
        if rc == OK {
            Connect::Done(c)
        } else {
            Connect::InProgress(c)
        }
    }
}

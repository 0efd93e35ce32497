//! [`Connection`]: a handle on a live nginx connection (a cosocket's own,
//! or a request's client connection): reads and writes through nginx's
//! `recv`/`send` (plain or TLS), its read and write events, its log, its
//! pool, closing it. [`ConnHandler`] makes an object's methods the
//! connection's event handlers.
//!
//! Like `Request`, the handle holds no Rust reference into the
//! connection: every method reads or writes through the pointer for the
//! duration of the call. The invariant — the connection is alive (not yet
//! closed or reused) while the handle is used — is established where a
//! handle is made: nginx's callbacks, a connect that just made it, the
//! live request that owns it.
use core::ffi::c_void;
use core::ptr::{self, NonNull};

use nginx_sys::*;

use super::event::EventRef;
use super::log::{self, Log};
use super::panic::guard;
use super::request::{Request, ERROR};
use super::sock::{self, Peek};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Connection(NonNull<ngx_connection_t>);

/// Whose log a connection (or an event of ours) writes to: a request's,
/// whose lines name the client and the request, or the cycle's, for what
/// outlives requests (pooled connections).
#[derive(Clone, Copy, Debug)]
pub enum LogOf {
    Request(Request),
    Cycle,
}

impl LogOf {
    /// The log itself, for nginx structures that point at it.
    #[inline]
    pub fn raw(self) -> *mut ngx_log_t {
        match self {
            LogOf::Request(r) => r.log(),
            LogOf::Cycle => log::cycle_log(),
        }
    }

    #[inline]
    pub fn log(self) -> Log {
        // SAFETY: a live request's connection log, or the cycle's (null
        // before nginx made one: Log drops writes then).
        unsafe { Log::from_raw(self.raw()) }
    }

    /// Writes `msg` at `level` if the log takes it.
    #[inline]
    pub fn write(self, level: u32, msg: &[u8]) {
        self.log().write(level, msg);
    }

    /// Whether the log takes `level` (to skip formatting unread lines).
    #[inline]
    pub fn logs(self, level: u32) -> bool {
        self.log().level() >= level
    }
}

/// Identifies what an owner keeps with a connection until it closes (a
/// static of the owner's, recognised by its address): `end` runs with the
/// attached data when the connection's pool goes.
pub struct ConnKey {
    pub end: unsafe fn(*mut c_void),
}

struct ConnAttachment {
    key: &'static ConnKey,
    data: *mut c_void,
}

/// The pool cleanup of every [`Connection::attach`]ment.
unsafe extern "C" fn end_attachment(data: *mut c_void) {
    guard((), || {
        // SAFETY: the box attach() put in this cleanup record; nginx runs a
        // cleanup once.
        let a = unsafe { Box::from_raw(data as *mut ConnAttachment) };
        // SAFETY: the owner's end function, given the data it attached.
        unsafe { (a.key.end)(a.data) };
    })
}

/// What an object that owns a connection does on its events.
pub trait ConnHandler {
    fn on_read(&mut self, c: Connection, ev: EventRef);
    fn on_write(&mut self, c: Connection, ev: EventRef);
}

impl Connection {
    /// # Safety
    /// `c` is null or a live connection, and the handle (and its copies)
    /// are only used while it is (not after it was closed).
    #[inline]
    pub unsafe fn from_raw(c: *mut ngx_connection_t) -> Option<Connection> {
        NonNull::new(c).map(Connection)
    }

    /// The client connection of a request.
    #[inline]
    pub fn of_request(r: Request) -> Connection {
        // SAFETY: a live request has a live connection, which outlives it.
        Connection(unsafe { NonNull::new_unchecked(r.connection()) })
    }

    #[inline]
    pub fn as_ptr(self) -> *mut ngx_connection_t {
        self.0.as_ptr()
    }

    /// The connection's fields, for one read.
    #[inline]
    fn get(&self) -> &ngx_connection_t {
        // SAFETY: the handle's invariant (from_raw): the connection is
        // alive; the borrow ends with the caller's expression.
        unsafe { self.0.as_ref() }
    }

    /// The connection's fields, for one write.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    fn get_mut(&self) -> &mut ngx_connection_t {
        // SAFETY: as get(); single-threaded worker, no other Rust reference
        // to the connection is held across calls.
        unsafe { &mut *self.0.as_ptr() }
    }

    #[inline]
    pub fn read(self) -> EventRef {
        // SAFETY: a live connection's read event lives in the cycle's
        // event array as long as the connection.
        unsafe { EventRef::from_raw(self.get().read) }.expect("a connection has a read event")
    }

    #[inline]
    pub fn write(self) -> EventRef {
        // SAFETY: as read().
        unsafe { EventRef::from_raw(self.get().write) }.expect("a connection has a write event")
    }

    #[inline]
    pub fn fd(self) -> ngx_socket_t {
        self.get().fd
    }

    /// Reads at most `buf.len()` bytes: the count, 0 at end of stream,
    /// `NGX_AGAIN` or `NGX_ERROR` (errno says why), as nginx's `recv`.
    #[inline]
    pub fn recv(self, buf: &mut [u8]) -> isize {
        let Some(recv) = self.get().recv else {
            return ERROR;
        };
        // SAFETY: nginx's recv for this live connection writes at most len
        // bytes into the buffer.
        unsafe { recv(self.as_ptr(), buf.as_mut_ptr(), buf.len()) }
    }

    /// As [`Connection::recv`], appending at most `want` bytes to `buf`.
    #[inline]
    pub fn recv_append(self, buf: &mut Vec<u8>, want: usize) -> isize {
        let Some(recv) = self.get().recv else {
            return ERROR;
        };
        buf.reserve(want);
        let len = buf.len();
        // SAFETY: the reserve above left `want` bytes of room past len;
        // nginx's recv writes at most that many.
        let n = unsafe { recv(self.as_ptr(), buf.as_mut_ptr().add(len), want) };
        if n > 0 {
            // SAFETY: recv initialised n (<= want) bytes past len.
            unsafe { buf.set_len(len + n as usize) };
        }
        n
    }

    /// Writes what it can of `data`: the count, `NGX_AGAIN` or
    /// `NGX_ERROR`, as nginx's `send`.
    #[inline]
    pub fn send(self, data: &[u8]) -> isize {
        let Some(send) = self.get().send else {
            return ERROR;
        };
        // SAFETY: nginx's send for this live connection reads data.len()
        // bytes (the pointer is only declared mutable).
        unsafe { send(self.as_ptr(), data.as_ptr() as *mut u8, data.len()) }
    }

    /// Makes `target`'s [`ConnHandler`] methods the connection's event
    /// handlers.
    ///
    /// # Safety
    /// `target` stays valid at its address until the connection is closed
    /// or given to another handler.
    #[inline]
    pub unsafe fn set_handler<T: ConnHandler>(self, target: *mut T) {
        self.get_mut().data = target as *mut c_void;
        self.read().set_handler(Some(on_read::<T>));
        self.write().set_handler(Some(on_write::<T>));
    }

    /// The connection's log, as a handle.
    #[inline]
    pub fn log(self) -> Log {
        // SAFETY: a connection's log is its request's or the cycle's, which
        // outlive the connection's use through this handle.
        unsafe { Log::from_raw(self.get().log) }
    }

    /// Makes the connection, its events and its pool log to `to`.
    pub fn set_log(self, to: LogOf) {
        let log = to.raw();
        let c = self.get_mut();
        c.log = log;
        if !c.pool.is_null() {
            // SAFETY: the connection's own pool (create_pool), alive until
            // close() destroys it.
            unsafe { (*c.pool).log = log };
        }
        self.read().set_log(log);
        self.write().set_log(log);
    }

    /// Keeps `data` with the connection until its pool goes (the
    /// connection closes), when `key.end(data)` runs; false when the
    /// connection has no pool or it is out of memory.
    pub fn attach(self, key: &'static ConnKey, data: *mut c_void) -> bool {
        let pool = self.get().pool;
        if pool.is_null() {
            return false;
        }
        // SAFETY: the live connection's pool; the record's data is a box
        // end_attachment frees.
        unsafe {
            let cln = ngx_pool_cleanup_add(pool, 0);
            if cln.is_null() {
                return false;
            }
            (*cln).handler = Some(end_attachment);
            (*cln).data = Box::into_raw(Box::new(ConnAttachment { key, data })) as *mut c_void;
        }
        true
    }

    /// The data attached with `key`, if any.
    pub fn attached(self, key: &'static ConnKey) -> Option<*mut c_void> {
        let pool = self.get().pool;
        if pool.is_null() {
            return None;
        }
        // SAFETY: the live connection's pool and its cleanup list; records
        // with our handler hold a ConnAttachment (attach).
        unsafe {
            let mut cln = (*pool).cleanup;
            while !cln.is_null() {
                if (*cln).handler.map(|f| f as usize) == Some(end_attachment as *const () as usize)
                {
                    let a = &*((*cln).data as *const ConnAttachment);
                    if ptr::eq(a.key, key) {
                        return Some(a.data);
                    }
                }
                cln = (*cln).next;
            }
        }
        None
    }

    /// Gives the connection a pool of its own (TLS state lives there, and
    /// a pooled connection outlives the request that made it).
    pub fn create_pool(self, size: usize, log: LogOf) -> bool {
        // SAFETY: ngx_create_pool allocates a new pool; a null is handled.
        let pool = unsafe { ngx_create_pool(size, log.raw()) };
        self.get_mut().pool = pool;
        !pool.is_null()
    }

    /// Closes a connection nobody uses any more: a quiet TLS shutdown (no
    /// close_notify exchange, as upstream), its pool, the socket. The
    /// handle must not be used afterwards.
    pub fn close(self) {
        self.tls_shutdown_quietly();
        let c = self.get_mut();
        // SAFETY: the live connection and its own pool; nginx removes its
        // events' timers and registrations on close.
        unsafe {
            if !c.pool.is_null() {
                ngx_destroy_pool(c.pool);
                c.pool = ptr::null_mut();
            }
            ngx_close_connection(c);
        }
    }

    /// Marks the connection idle (a pooled keepalive connection: nginx
    /// closes idle connections when the worker shuts down or runs out).
    #[inline]
    pub fn set_idle(self, idle: bool) {
        self.get_mut().set_idle(idle as _);
    }

    /// nginx asked for the connection to be closed (worker shutdown, or
    /// connections reused under pressure).
    #[inline]
    pub fn closing(self) -> bool {
        self.get().close() != 0
    }

    /// Output below the HTTP layer (TLS, the chain writer) waits to go out.
    #[inline]
    pub fn lowlevel_buffered(self) -> bool {
        self.get().buffered() & NGX_HTTP_LOWLEVEL_BUFFERED != 0
    }

    /// TLS cannot sendfile: nginx's writers must copy.
    #[inline]
    pub fn disable_sendfile(self) {
        self.get_mut().set_sendfile(0);
    }

    /// The socket's pending error (`SO_ERROR`), or the errno of asking.
    pub fn so_error(self) -> i32 {
        let mut err: libc::c_int = 0;
        let mut len = core::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most len bytes into err.
        let rc = unsafe {
            libc::getsockopt(
                self.fd(),
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                &mut err as *mut libc::c_int as *mut c_void,
                &mut len,
            )
        };
        if rc == -1 {
            sock::errno()
        } else {
            err
        }
    }

    /// `setsockopt(level, opt)` with a C int value; the errno on failure.
    pub fn set_option(self, level: i32, opt: i32, value: i32) -> Result<(), i32> {
        // SAFETY: the live connection's socket; the value is a C int.
        let rc = unsafe {
            libc::setsockopt(
                self.fd(),
                level,
                opt,
                &value as *const i32 as *const c_void,
                core::mem::size_of::<i32>() as libc::socklen_t,
            )
        };
        if rc == -1 {
            Err(sock::errno())
        } else {
            Ok(())
        }
    }

    /// Turns TCP_NODELAY on, once per connection, as nginx's upstream
    /// module does when `tcp_nodelay` is on: `None` when it was already
    /// set or cannot be (a unix-domain socket, which nginx marks so when
    /// it connects), else whether `setsockopt` took it (the errno if not).
    pub fn enable_nodelay(self) -> Option<Result<(), i32>> {
        let state = self.get().tcp_nodelay();
        if state != ngx_connection_tcp_nodelay_e_NGX_TCP_NODELAY_UNSET as _ {
            return None;
        }
        let r = self.set_option(libc::IPPROTO_TCP, libc::TCP_NODELAY, 1);
        if r.is_ok() {
            self.get_mut()
                .set_tcp_nodelay(ngx_connection_tcp_nodelay_e_NGX_TCP_NODELAY_SET as _);
        }
        Some(r)
    }

    /// `getsockopt(level, opt)` of a C int option; the errno on failure.
    pub fn get_option(self, level: i32, opt: i32) -> Result<i32, i32> {
        let mut value: i32 = 0;
        let mut len = core::mem::size_of::<i32>() as libc::socklen_t;
        // SAFETY: the live connection's socket; value and len are a C int
        // and its size, which getsockopt writes at most.
        let rc = unsafe {
            libc::getsockopt(
                self.fd(),
                level,
                opt,
                &mut value as *mut i32 as *mut c_void,
                &mut len,
            )
        };
        if rc == -1 {
            Err(sock::errno())
        } else {
            Ok(value)
        }
    }

    /// Peeks one byte of the socket, leaving it there.
    #[inline]
    pub fn peek(self) -> Peek {
        sock::peek(self.fd())
    }
}

unsafe extern "C" fn on_read<T: ConnHandler>(rev: *mut ngx_event_t) {
    guard((), || {
        // SAFETY: nginx calls a connection's read handler with its live
        // read event, whose data is the connection; the connection's data
        // is the target of set_handler, valid until the connection is
        // closed or handed on (that function's contract).
        unsafe {
            let c = Connection(NonNull::new_unchecked((*rev).data as *mut ngx_connection_t));
            let t = &mut *(c.get().data as *mut T);
            t.on_read(c, EventRef::from_raw(rev).expect("nginx passes an event"));
        }
    })
}

unsafe extern "C" fn on_write<T: ConnHandler>(wev: *mut ngx_event_t) {
    guard((), || {
        // SAFETY: as on_read, for the write event.
        unsafe {
            let c = Connection(NonNull::new_unchecked((*wev).data as *mut ngx_connection_t));
            let t = &mut *(c.get().data as *mut T);
            t.on_write(c, EventRef::from_raw(wev).expect("nginx passes an event"));
        }
    })
}

/// The worker is shutting down (a graceful quit or a terminate): no new
/// connection should be kept for later.
pub fn worker_exiting() -> bool {
    // SAFETY: process flags nginx's event loop and signal handlers set;
    // plain reads on the worker's thread.
    unsafe { ngx_exiting != 0 || ngx_terminate != 0 }
}

//! Fake connections and requests: the carriers of Lua code that runs
//! outside any client request (timers), so every API finds the pools, logs
//! and configuration it expects, exactly as upstream does.
use core::ffi::c_void;
use core::ptr::{self, NonNull};

use nginx_sys::*;

use super::conf::HttpConfs;
use super::cycle::Cycle;
use super::request::Request;
use super::timer::EventHandler;

/// A connection slot with no socket, owning its pool.
pub struct FakeConnection(NonNull<ngx_connection_t>);

/// Room for a client address text: an IPv6 address without its port (45
/// bytes) is the longest; an accepted unix socket's client is "unix:".
const ADDR_TEXT_MAX: usize = 48;

/// Where a timer came from: the client address and listening socket of
/// the connection whose code created it, which upstream's timer log lines
/// name (", client: ..., server: ..."). Held inline: a timer is boxed
/// already, so this costs no allocation of its own.
#[derive(Clone, Copy)]
pub struct Origin {
    addr: [u8; ADDR_TEXT_MAX],
    len: usize,
    listening: *mut ngx_listening_t,
}

impl Origin {
    /// No client, no server (a timer created in init_worker_by_lua*).
    pub const NONE: Origin = Origin {
        addr: [0; ADDR_TEXT_MAX],
        len: 0,
        listening: ptr::null_mut(),
    };

    /// The client and server of the connection of request `r` (for a
    /// timer's own fake request, those it was given: timers created in
    /// timers keep naming the first client).
    pub fn of(r: Request) -> Origin {
        let c = r.connection();
        let mut o = Origin::NONE;
        if c.is_null() {
            return o;
        }
        // SAFETY: a live request's connection; its address text lives in
        // its pool (copied here), its listening in the cycle.
        unsafe {
            let t = (*c).addr_text;
            if !t.data.is_null() && t.len <= ADDR_TEXT_MAX {
                o.addr[..t.len].copy_from_slice(core::slice::from_raw_parts(t.data, t.len));
                o.len = t.len;
            }
            o.listening = (*c).listening;
        }
        o
    }
}

/// nginx's connection API wants an fd: a valid one (0) is lent for the
/// call, and the slot of the cycle's `files` array it touches is put back.
fn with_fd_zero<R>(f: impl FnOnce() -> R) -> R {
    let cycle = Cycle::current().as_ptr();
    // SAFETY: a live cycle; `files` is null or has an entry per possible fd,
    // and only entry 0 is read and restored.
    unsafe {
        let files = (*cycle).files;
        let saved = if files.is_null() {
            ptr::null_mut()
        } else {
            *files
        };
        let r = f();
        if !files.is_null() {
            *files = saved;
        }
        r
    }
}

impl FakeConnection {
    /// Takes a free connection of the worker, with a pool and a log whose
    /// lines end with upstream's `, context: ngx.timer`. None when the
    /// worker has no free connection or memory.
    pub fn new() -> Option<FakeConnection> {
        let cycle = Cycle::current().as_ptr();
        // SAFETY: a worker's live cycle and its log.
        let c = with_fd_zero(|| unsafe { ngx_get_connection(0, (*cycle).log) });
        let c = FakeConnection(NonNull::new(c)?);
        // SAFETY: a connection slot nginx just handed out (zeroed except its
        // events); the pool and log are ours until close.
        unsafe {
            let p = c.as_ptr();
            (*p).fd = -1;
            // ngx_atomic_t lives in shared memory; nginx bumps it atomically.
            let counter = &*(ngx_connection_counter as *const core::sync::atomic::AtomicUsize);
            (*p).number = counter.fetch_add(1, core::sync::atomic::Ordering::SeqCst) as _;
            (*p).pool = ngx_create_pool(4096, (*cycle).log);
            if (*p).pool.is_null() {
                c.close();
                return None;
            }
            let log = ngx_pcalloc((*p).pool, core::mem::size_of::<ngx_log_t>()) as *mut ngx_log_t;
            if log.is_null() {
                c.close();
                return None;
            }
            *log = *(*cycle).log;
            (*log).connection = (*p).number;
            (*log).action = ptr::null_mut();
            (*log).data = ptr::null_mut();
            (*log).handler = Some(timer_log_handler);
            (*p).log = log;
            (*(*p).read).log = log;
            (*(*p).write).log = log;
            (*p).set_log_error(ngx_connection_log_error_e_NGX_ERROR_INFO as _);
            (*p).set_error(1);
        }
        Some(c)
    }

    /// # Safety
    /// `c` came from [`FakeConnection::new`] and was not closed.
    pub unsafe fn from_raw(c: *mut ngx_connection_t) -> Option<FakeConnection> {
        NonNull::new(c).map(FakeConnection)
    }

    pub fn as_ptr(&self) -> *mut ngx_connection_t {
        self.0.as_ptr()
    }

    /// Frees the connection and its pool (running the pool's cleanups, and
    /// so those of its fake request).
    pub fn close(self) {
        let c = self.as_ptr();
        // SAFETY: a live fake connection; its log is null (a failed new)
        // or lives in the pool destroyed below.
        let log = unsafe { super::log::Log::from_raw((*c).log) };
        crate::debug!(log, "http lua close fake http connection {:p}", c);
        // SAFETY: a fake connection: no socket, its events only ever used
        // as timers; nothing uses the handle afterwards (it is consumed).
        unsafe {
            (*c).set_destroyed(1);
            let pool = (*c).pool;
            for ev in [(*c).read, (*c).write] {
                if (*ev).timer_set() != 0 {
                    ngx_del_timer(ev);
                }
                if (*ev).posted() != 0 {
                    ngx_delete_posted_event(ev);
                }
                (*ev).set_closed(1);
            }
            (*c).fd = 0;
            with_fd_zero(|| ngx_free_connection(c));
            (*c).fd = -1;
            if !pool.is_null() {
                ngx_destroy_pool(pool);
            }
        }
    }

    /// Gives the connection the client address and listening socket of
    /// `o`, which its log lines then name as upstream's timers do.
    pub fn set_origin(&self, o: &Origin) {
        let c = self.as_ptr();
        // SAFETY: our fake connection, its pool and the log new() made for
        // it; the address text is copied into that pool; a listening
        // socket lives as long as the cycle whose worker runs the timer.
        unsafe {
            if o.len > 0 {
                let p = ngx_pnalloc((*c).pool, o.len) as *mut u8;
                if !p.is_null() {
                    ptr::copy_nonoverlapping(o.addr.as_ptr(), p, o.len);
                    (*c).addr_text = ngx_str_t {
                        len: o.len,
                        data: p,
                    };
                }
            }
            (*c).listening = o.listening;
            (*(*c).log).data = c as *mut c_void;
        }
    }

    /// A request on the connection, running under `confs`.
    pub fn request(&self, confs: HttpConfs) -> Option<Request> {
        let c = self.as_ptr();
        // SAFETY: allocations from the connection's pool, freed with it; the
        // request is zeroed and then given what nginx's code reads of a
        // request outside the phase engine.
        unsafe {
            let pool = (*c).pool;
            let r = ngx_pcalloc(pool, core::mem::size_of::<ngx_http_request_t>())
                as *mut ngx_http_request_t;
            if r.is_null() {
                return None;
            }
            (*r).ctx = ngx_pcalloc(
                pool,
                core::mem::size_of::<*mut c_void>() * ngx_http_max_module,
            ) as *mut *mut c_void;
            if (*r).ctx.is_null() {
                return None;
            }
            (*c).requests += 1;
            (*r).signature = NGX_HTTP_MODULE;
            (*r).pool = pool;
            (*r).connection = c;
            (*r).main = r;
            (*r).set_count(1);
            (*r).main_conf = confs.main;
            (*r).srv_conf = confs.srv;
            (*r).loc_conf = confs.loc;
            (*r).headers_in.content_length_n = 0;
            (*c).data = r as *mut c_void;
            Request::from_raw(r)
        }
    }

    /// Makes the connection a shutdown watcher: idle (so nginx "closes" it
    /// when a graceful shutdown starts) with `handler` as its read handler,
    /// which then finds [`FakeConnection::closing`] true.
    pub fn watch_shutdown(&self, handler: EventHandler) {
        let c = self.as_ptr();
        // SAFETY: our fake connection and its read event.
        unsafe {
            // fd -1 would exclude it from ngx_close_idle_connections.
            (*c).fd = -2;
            (*c).set_idle(1);
            (*(*c).read).handler = Some(handler);
        }
    }

    /// The watcher whose read event fired.
    ///
    /// # Safety
    /// `ev` is the read event of a connection made by `new`.
    pub unsafe fn of_event(ev: *mut ngx_event_t) -> FakeConnection {
        // SAFETY: the caller's event; a connection's events point back at it.
        FakeConnection(unsafe { NonNull::new_unchecked((*ev).data as *mut ngx_connection_t) })
    }

    /// nginx asked the (idle) connection to close: a shutdown began.
    pub fn closing(&self) -> bool {
        // SAFETY: a live fake connection.
        unsafe { (*self.as_ptr()).close() != 0 }
    }

    /// Ends shutdown watching, before `close`.
    pub fn unwatch(&self) {
        // SAFETY: a live fake connection.
        unsafe { (*self.as_ptr()).fd = -1 };
    }
}

impl Request {
    /// The fake connection a timer's request runs on.
    ///
    /// # Safety
    /// The request was made by [`FakeConnection::request`].
    pub unsafe fn fake_connection(self) -> FakeConnection {
        FakeConnection(NonNull::new(self.connection()).expect("a request has a connection"))
    }

    /// The client connection whose TLS state was lent to this fake
    /// request (an `ssl_*_by_lua*` handler's), None when none was.
    ///
    /// # Safety
    /// As [`Request::fake_connection`].
    pub unsafe fn tls_client(self) -> Option<super::connection::Connection> {
        // SAFETY: the caller's contract; tls_client gives the live client
        // connection lend_tls recorded (or null), which outlives the fake
        // request.
        unsafe { super::connection::Connection::from_raw(self.fake_connection().tls_client()) }
    }
}

/// Appends upstream's ", context: ngx.timer" to timer log lines.
unsafe extern "C" fn timer_log_handler(
    log: *mut ngx_log_t,
    buf: *mut u_char,
    len: usize,
) -> *mut u_char {
    super::panic::guard(buf, || {
        // SAFETY: nginx's arguments, passed on; the log's data is null or
        // the fake connection itself (set_origin).
        unsafe { ssl_log(log, buf, len, b", context: ngx.timer") }
    })
}

impl FakeConnection {
    /// Lends the TLS state `tls` of connection `client` (a handshake's
    /// probe, or the handshake itself for the store handler) to the fake
    /// connection, whose log lines then end as upstream's in the handler
    /// `kind`: the context, the client and the server address.
    pub fn lend_tls(
        &self,
        client: *mut ngx_connection_t,
        tls: *mut ngx_ssl_connection_t,
        kind: super::ssl_server::Kind,
    ) {
        use super::ssl_server::Kind;
        let c = self.as_ptr();
        // SAFETY: our fake connection and the log new() made for it; the
        // client connection outlives the fake one (its pool's cleanup
        // closes the fake one first, and the store handler's closes before
        // its callback returns).
        unsafe {
            (*c).ssl = tls;
            (*(*c).log).handler = Some(match kind {
                Kind::ClientHello => ssl_log_handler::<0>,
                Kind::Cert => ssl_log_handler::<1>,
                Kind::SessFetch => ssl_log_handler::<2>,
                Kind::SessStore => ssl_log_handler::<3>,
            });
            (*(*c).log).data = client as *mut c_void;
        }
    }

    /// The connection whose TLS state was lent (null if none).
    pub fn tls_client(&self) -> *mut ngx_connection_t {
        let c = self.as_ptr();
        // SAFETY: our fake connection; lend_tls put the client in its log.
        unsafe {
            if (*c).ssl.is_null() {
                return ptr::null_mut();
            }
            (*(*c).log).data as *mut ngx_connection_t
        }
    }

    /// Gives the lent TLS state back (before close).
    pub fn unlend_tls(&self) {
        // SAFETY: our fake connection.
        unsafe { (*self.as_ptr()).ssl = ptr::null_mut() };
    }
}

/// What the log handler of a lent TLS state appends before the client and
/// server: `CONTEXTS[K]` for `ssl_log_handler::<K>`.
const CONTEXTS: [&[u8]; 4] = [
    b", context: ssl_client_hello_by_lua*",
    b", context: ssl_certificate_by_lua*",
    b", context: ssl_session_fetch_by_lua*",
    b", context: ssl_session_store_by_lua*",
];

/// Appends `CONTEXTS[K]`, then ", client: ..., server: ..." (one instance
/// per handler kind: nginx keeps only the function pointer).
unsafe extern "C" fn ssl_log_handler<const K: usize>(
    log: *mut ngx_log_t,
    buf: *mut u_char,
    len: usize,
) -> *mut u_char {
    super::panic::guard(buf, || {
        // SAFETY: nginx's arguments, passed on.
        unsafe { ssl_log(log, buf, len, CONTEXTS[K]) }
    })
}

/// # Safety
/// nginx's log handler arguments: `buf` has room for `len` bytes.
unsafe fn ssl_log(
    log: *mut ngx_log_t,
    buf: *mut u_char,
    len: usize,
    context: &[u8],
) -> *mut u_char {
    {
        let mut s = context.to_vec();
        // SAFETY: the log lend_tls or set_origin set up, whose data is
        // null or a live connection (the client, or the fake connection
        // itself); its address texts live in its pool and the cycle's.
        unsafe {
            let c = (*log).data as *mut ngx_connection_t;
            if !c.is_null() {
                let t = (*c).addr_text;
                if t.len > 0 {
                    s.extend_from_slice(b", client: ");
                    s.extend_from_slice(core::slice::from_raw_parts(t.data, t.len));
                }
                let ls = (*c).listening;
                if !ls.is_null() && (*ls).addr_text.len > 0 {
                    let t = (*ls).addr_text;
                    s.extend_from_slice(b", server: ");
                    s.extend_from_slice(core::slice::from_raw_parts(t.data, t.len));
                }
            }
            let n = s.len().min(len);
            ptr::copy_nonoverlapping(s.as_ptr(), buf, n);
            buf.add(n)
        }
    }
}

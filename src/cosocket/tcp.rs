//! ngx.socket.tcp: the socket object, its state, closing, keepalive.
//! Connecting is in `connect.rs`, sending and receiving in `io.rs` (the
//! receive buffer in `recv.rs`), TLS in `ssl.rs`, the request sockets of
//! `ngx.req.socket` in `req.rs`.
use core::ffi::c_void;
use core::mem::MaybeUninit;
use core::ptr::{self, NonNull};

use nginx_sys::{ngx_msec_t, NGX_LOG_DEBUG};

use super::addr::Peer;
use super::pool::{self, Slot};
use super::recv::{RecvBuf, RecvMode};
use crate::conf::LocConf;
use crate::lua::ctx::{AttachKind, CoCtx, LuaCtx, WaitKind};
use crate::nginx::connection::{self, Connection, LogOf};
use crate::nginx::event::{Event, EventRef};
use crate::nginx::global::Worker;
use crate::nginx::request::Request;
use crate::nginx::resolver::Resolving;
use crate::nginx::ssl::Session;

#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub(super) enum Pending {
    None,
    /// Waiting in a full pool's queue (`backlog`).
    Queued,
    Resolve,
    Connect,
    Handshake,
    Send,
}

/// What the socket is connected to.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum Kind {
    /// A connection of our own (ngx.socket.tcp/udp).
    Upstream,
    /// `ngx.req.socket()`: reads the request body from the client.
    Body,
    /// `ngx.req.socket(true)`: the client connection itself.
    Raw,
}

/// Outcome of an operation, read by the Lua side (`ngx_lua_ffi_socket_tcp_result`).
pub struct Done {
    pub ok: bool,
    pub err: String,
    /// Received data, or the partial data of a failed receive.
    pub data: Vec<u8>,
    pub sent: usize,
    /// receiveuntil saw its pattern.
    pub found: bool,
    /// The OpenSSL verify result of a failed handshake (0: none).
    pub ssl_code: i64,
    /// Refused before it started ("closed", "socket busy ..."): a receive
    /// then returns no partial data, as upstream's.
    pub refused: bool,
}

impl Done {
    /// A success with nothing to report, keeping the room of the data and
    /// error buffers (a receive fills them again without allocating).
    pub fn set_ok(&mut self) {
        self.ok = true;
        self.err.clear();
        self.data.clear();
        self.sent = 0;
        self.found = false;
        self.ssl_code = 0;
        self.refused = false;
    }

    pub fn ok() -> Done {
        Done {
            ok: true,
            err: String::new(),
            data: Vec::new(),
            sent: 0,
            found: false,
            ssl_code: 0,
            refused: false,
        }
    }
}

/// The socket's timeouts (`settimeout(s)`, `lua_socket_*_timeout`).
pub struct Timeouts {
    pub connect: ngx_msec_t,
    pub send: ngx_msec_t,
    pub read: ngx_msec_t,
}

/// Where the socket connects, as the last `connect` gave it.
#[derive(Default)]
pub(super) struct Target {
    /// The host and port as given (queued connects, logs).
    pub host: Vec<u8>,
    pub port: u16,
    /// The port as `connect` was given it (`None`: a `unix:` host).
    pub given_port: Option<u16>,
    /// The keepalive pool's key: `host:port`, the path, or the `pool` name.
    pub key: Vec<u8>,
    /// The host parsed as an address (`None`: a host name, or no host).
    pub peer: Option<Peer>,
    /// How log lines name the peer (set when a connect starts).
    pub name: Vec<u8>,
    /// The peer's socket address; for a host name, once resolved.
    pub sockaddr: Vec<u8>,
    /// A host name for the resolver (empty: an address was given).
    pub resolve_name: Vec<u8>,
    pub resolve_port: u16,
    /// Why the host does not parse (reported once the pool admitted the
    /// operation).
    pub bad_host: Option<String>,
    /// `bind()`: the local address of the next connection.
    pub local: Vec<u8>,
}

/// The connect under way and the keepalive pool.
#[derive(Default)]
pub(super) struct Connecting {
    /// The place this socket holds in a keepalive pool.
    pub slot: Option<Slot>,
    /// How often the connection was taken from a pool.
    pub reused: u32,
    /// The queued connect's timer, and its turn (posted).
    pub queue_ev: Event,
    /// The resolution of the host name under way.
    pub resolving: Option<Resolving>,
}

impl Connecting {
    /// The queued connect's event, as the pool's queue holds it.
    pub fn waiter(&mut self) -> EventRef {
        // SAFETY: the handle goes into the pool's queue, and every way out
        // of Pending::Queued (turn, timeout, close() from Lua, a kill, the
        // request's end, Drop) dequeues it before the event can go.
        unsafe { self.queue_ev.handle() }
    }
}

/// `sslhandshake`: the server name to check, verification on, whether the
/// session is wanted, and the session it produced.
#[derive(Default)]
pub(super) struct Tls {
    pub name: Vec<u8>,
    pub verify: bool,
    pub want_session: bool,
    pub session: Option<Session>,
    /// `settrustedstore`'s `X509_STORE`, for the next handshake only;
    /// lua-lib's socket object keeps the cdata alive while it is set.
    pub store: Option<core::ptr::NonNull<c_void>>,
}

/// What a request socket changed in its request, to give back.
#[derive(Default)]
pub(super) struct ReqHandlers {
    /// The request's read handler (the client-abort watcher, say) that
    /// ours replaced while a read waits.
    pub saved_read: nginx_sys::ngx_http_event_handler_pt,
    /// Ours, as installed (to recognise it).
    pub ours_read: nginx_sys::ngx_http_event_handler_pt,
}

/// What `recv` of a body socket returns when the client went away before
/// the body ended.
pub(super) const CLIENT_ABORTED: isize = -100;

pub struct Tcp {
    /// The connection: our own, or the client's for a request socket.
    pub(super) c: Option<Connection>,
    /// The socket's Lua object (its anchor's payload), which points back
    /// here until this record goes back to the spare list.
    handle: *mut Handle,
    /// The request the socket serves (null once it ended).
    pub ctx: *mut LuaCtx,
    pub kind: Kind,
    /// A datagram socket (ngx.socket.udp): one receive is one datagram.
    pub udp: bool,
    pub timeouts: Timeouts,
    pub log_errors: bool,
    /// `lua_socket_pool_size` and `lua_socket_keepalive_timeout`.
    pub(super) default_pool_size: usize,
    pub(super) keepalive_timeout: ngx_msec_t,
    pub(super) rx: RecvBuf,
    /// The data of the send under way, and how much went out.
    pub(super) tx: Vec<u8>,
    pub(super) tx_off: usize,
    pub(super) reader: *mut CoCtx,
    pub(super) writer: *mut CoCtx,
    /// The write-side operation under way (connect steps, send).
    pub(super) pending: Pending,
    /// The receive under way (reads and writes may wait at the same time).
    pub(super) recv_mode: Option<RecvMode>,
    pub done: Done,
    pub(super) target: Target,
    pub(super) connecting: Connecting,
    pub(super) tls: Tls,
    pub(super) req_handlers: ReqHandlers,
    /// A receive failed (the peer closed, an error): later receives say
    /// "closed" while the connection stays for sending and for `close()`,
    /// as upstream finalizes only the reading half.
    pub(super) read_closed: bool,
    /// The same for a failed send.
    pub(super) write_closed: bool,
    /// A body socket read the whole body with `*a`: later `*a` reads give
    /// "" (upstream's socket stays at end of body), other reads "closed".
    pub(super) body_read_all: bool,
}

/// What a call did: finished now, or the caller must yield.
pub enum Step {
    Now,
    Wait,
}

/// An errno as LuaSocket and upstream word it: "connection refused".
pub(super) fn errno_str(err: i32) -> String {
    let s = std::io::Error::from_raw_os_error(err).to_string();
    let s = s
        .strip_suffix(&format!(" (os error {err})"))
        .map(str::to_owned)
        .unwrap_or(s);
    s.to_lowercase()
}

/// The growable buffers of a socket, taken from a spare list when it is
/// made and given back when its request ends (or it is collected): a
/// request that connects, sends and receives through a pooled connection
/// then allocates nothing for its socket.
#[derive(Default)]
struct Buffers {
    host: Vec<u8>,
    key: Vec<u8>,
    name: Vec<u8>,
    sockaddr: Vec<u8>,
    data: Vec<u8>,
    err: String,
}

#[allow(clippy::vec_box)]
static SPARE: Worker<Vec<Buffers>> = Worker::new();

const SPARE_BUFFERS: usize = 64;

/// Buffers larger than this go rather than being kept.
const KEEP_ROOM: usize = 16 * 1024;

/// The worker exits: the spare buffers go.
pub fn on_exit() {
    drop(SPARE.take());
    drop(RECORDS.take());
    drop(KEPT.take());
    super::recv::on_exit();
}

/// `buf` emptied, or a new one when its room is not worth keeping.
fn emptied(mut buf: Vec<u8>) -> Vec<u8> {
    if buf.capacity() > KEEP_ROOM {
        return Vec::new();
    }
    buf.clear();
    buf
}

/// What a socket is made with: the timeouts (connect, send, read) and
/// the `lua_socket_*` settings of the location that made it.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Settings {
    timeouts: [ngx_msec_t; 3],
    keepalive_timeout: ngx_msec_t,
    pool_size: usize,
    udp: bool,
    log_errors: bool,
}

/// The settings of sockets whose request ended, each distinct value once
/// (a worker's sockets mostly share one or two): a released [`Handle`]
/// names one by its index, so the handle stays one word.
static KEPT: Worker<Vec<Settings>> = Worker::new();

/// Distinct settings kept at most; a socket with new ones beyond that
/// keeps its whole record until its Lua object is collected.
const KEPT_SETTINGS: usize = 256;

/// The index of `s` among the kept settings.
fn keep(s: Settings) -> Option<usize> {
    KEPT.with(|k| match k.iter().position(|x| *x == s) {
        Some(i) => Some(i),
        None if k.len() < KEPT_SETTINGS => {
            k.push(s);
            Some(k.len() - 1)
        }
        None => None,
    })
}

/// A socket as its Lua object holds it: the payload of the object's
/// anchor (a userdata in Lua's heap, whose `__gc` calls
/// [`Handle::collect`]), whose address is the handle lua-lib passes to
/// every call. One word: the address of the socket's record while the
/// socket may be in use; once the socket's request ended, the record
/// (the connection state, ~600 bytes) went back to a worker spare list and
/// the word names the socket's [`Settings`] among the kept ones
/// (`RELEASED`, the index above the tag bits). So the memory of sockets
/// outside Lua's heap is bounded by the sockets of live requests, where a
/// record freed by the GC waited for a cycle (a handler that makes little
/// garbage has few), and the anchor is no larger in Lua's heap (a larger
/// one makes GC cycles more frequent). A later use brings a record back
/// with those settings, in the state the ended request left it: closed,
/// tied to no request (the next one that uses it takes it). Not `Copy`:
/// the record points back at the handle's place in the anchor.
pub struct Handle(usize);

/// Tag bits of a handle without a record (records are 8-aligned).
const RELEASED: usize = 1;
/// The Lua object was collected (a finalizer of another object may still
/// reach it): a record brought back is not tied to the handle, whose
/// memory LuaJIT frees at its next cycle.
const DEAD: usize = 2;
const TAGS: u32 = 2;

impl Handle {
    /// The handle of the new record `tcp`; the caller ties the record to
    /// the handle's final address ([`Tcp::tie`]).
    pub fn new(tcp: NonNull<Tcp>) -> Handle {
        Handle(tcp.as_ptr() as usize)
    }

    /// The socket, its record brought back if its request ended.
    #[inline]
    pub fn tcp(&mut self) -> &mut Tcp {
        if self.0 & RELEASED != 0 {
            self.revive();
        }
        // SAFETY: an untagged word is the address of a live record, this
        // handle's (it is retagged before the record goes back to the
        // spare list).
        unsafe { &mut *(self.0 as *mut Tcp) }
    }

    #[cold]
    #[inline(never)]
    fn revive(&mut self) {
        let settings = KEPT.with(|k| k[self.0 >> TAGS]);
        let dead = self.0 & DEAD != 0;
        let t = record(Tcp::with(ptr::null_mut(), settings));
        self.0 = t.as_ptr() as usize;
        if !dead {
            // SAFETY: the record was just made and nothing else holds it.
            unsafe { (*t.as_ptr()).handle = self };
        }
    }

    /// The Lua object was collected: the socket goes (closed as on any
    /// way out), its record back to the spare list.
    pub fn collect(&mut self) {
        let index = if self.0 & RELEASED != 0 {
            self.0 >> TAGS
        } else {
            let t = self.0 as *mut Tcp;
            // SAFETY: an untagged word is this handle's live record (see
            // tcp()); nothing but the handle refers to it once its Lua
            // object is gone.
            let s = unsafe { &*t };
            let index = keep(s.settings()).unwrap_or(0);
            // SAFETY: as above.
            unsafe { free_record(NonNull::new_unchecked(t)) };
            index
        };
        self.0 = index << TAGS | DEAD | RELEASED;
    }
}

/// Socket records that went back (their request ended, their Lua object
/// was collected), for the next sockets: a malloc/free pair less per
/// socket.
#[allow(clippy::vec_box)]
static RECORDS: Worker<Vec<Box<MaybeUninit<Tcp>>>> = Worker::new();

/// Records kept at most (the spare list's peak after a burst).
const SPARE_RECORDS: usize = 64;

/// `t` in a record of its own (from the spare list when one is there).
pub fn record(t: Tcp) -> NonNull<Tcp> {
    let b = RECORDS
        .with(|r| r.pop())
        .unwrap_or_else(|| Box::new(MaybeUninit::uninit()));
    let p = Box::into_raw(b).cast::<Tcp>();
    // SAFETY: a record's memory, uninitialised and ours alone.
    unsafe {
        p.write(t);
        NonNull::new_unchecked(p)
    }
}

/// Drops the socket of record `t` and keeps the record for the next one.
///
/// # Safety
/// `t` was made by [`record`] and nothing refers to it any more.
unsafe fn free_record(t: NonNull<Tcp>) {
    let p = t.as_ptr();
    // SAFETY: the caller's promise; once dropped, the memory is a bare
    // record again, the Box of MaybeUninit it came from.
    let b = unsafe {
        ptr::drop_in_place(p);
        Box::from_raw(p.cast::<MaybeUninit<Tcp>>())
    };
    RECORDS.with(|r| {
        if r.len() < SPARE_RECORDS {
            r.push(b);
        }
    });
}

impl Tcp {
    /// A socket for the request of `ctx`, not attached to it yet (its
    /// address must be final first: see [`Tcp::tie`]).
    pub fn new(ctx: &mut LuaCtx) -> Tcp {
        let mut s = Tcp::fresh(ctx);
        if let Some(b) = SPARE.with(|spare| spare.pop()) {
            let t = &mut s.target;
            t.host = b.host;
            t.key = b.key;
            t.name = b.name;
            t.sockaddr = b.sockaddr;
            s.done.data = b.data;
            s.done.err = b.err;
        }
        s
    }

    /// Gives the buffers back for another socket (this one's request
    /// ended, or it goes); a later use allocates anew.
    fn release_buffers(&mut self) {
        let t = &mut self.target;
        if t.host.capacity() == 0 && t.key.capacity() == 0 {
            return;
        }
        let mut err = core::mem::take(&mut self.done.err);
        err.clear();
        let b = Buffers {
            host: emptied(core::mem::take(&mut t.host)),
            key: emptied(core::mem::take(&mut t.key)),
            name: emptied(core::mem::take(&mut t.name)),
            sockaddr: emptied(core::mem::take(&mut t.sockaddr)),
            data: emptied(core::mem::take(&mut self.done.data)),
            err,
        };
        SPARE.with(|spare| {
            if spare.len() < SPARE_BUFFERS {
                spare.push(b);
            }
        });
    }

    fn fresh(ctx: &mut LuaCtx) -> Tcp {
        let lcf = LocConf::of(ctx.req());
        Tcp::with(
            ctx,
            Settings {
                timeouts: [
                    lcf.socket_connect_timeout(),
                    lcf.socket_send_timeout(),
                    lcf.socket_read_timeout(),
                ],
                keepalive_timeout: lcf.socket_keepalive_timeout(),
                pool_size: lcf.socket_pool_size(),
                udp: false,
                log_errors: lcf.socket_log_errors(),
            },
        )
    }

    /// A socket with these settings and nothing else: a new one, or one
    /// whose request ended, as its Lua object brings it back.
    #[inline(always)]
    fn with(ctx: *mut LuaCtx, k: Settings) -> Tcp {
        Tcp {
            c: None,
            handle: ptr::null_mut(),
            ctx,
            kind: Kind::Upstream,
            udp: k.udp,
            timeouts: Timeouts {
                connect: k.timeouts[0],
                send: k.timeouts[1],
                read: k.timeouts[2],
            },
            log_errors: k.log_errors,
            default_pool_size: k.pool_size,
            keepalive_timeout: k.keepalive_timeout,
            rx: RecvBuf::default(),
            tx: Vec::new(),
            tx_off: 0,
            reader: ptr::null_mut(),
            writer: ptr::null_mut(),
            pending: Pending::None,
            recv_mode: None,
            done: Done::ok(),
            target: Target::default(),
            connecting: Connecting::default(),
            tls: Tls::default(),
            req_handlers: ReqHandlers::default(),
            read_closed: false,
            body_read_all: false,
            write_closed: false,
        }
    }

    fn settings(&self) -> Settings {
        Settings {
            timeouts: [
                self.timeouts.connect,
                self.timeouts.send,
                self.timeouts.read,
            ],
            keepalive_timeout: self.keepalive_timeout,
            pool_size: self.default_pool_size,
            udp: self.udp,
            log_errors: self.log_errors,
        }
    }

    /// What a socket whose request ended leaves its Lua object (see
    /// [`Handle`]): the index of its kept settings, or `None` when the
    /// record must stay: a request socket, a `bind()` address or a
    /// trusted store for the next handshake, which the settings do not
    /// hold.
    fn kept(&self) -> Option<usize> {
        if self.kind != Kind::Upstream || !self.target.local.is_empty() || self.tls.store.is_some()
        {
            return None;
        }
        keep(self.settings())
    }

    pub fn connected(&self) -> bool {
        self.c.is_some()
    }

    /// Both halves failed: `close()` and the like answer "closed".
    pub fn both_closed(&self) -> bool {
        self.read_closed && self.write_closed
    }

    /// Whether a receive (`all`: `*a`) on a body socket that read the
    /// whole body with `*a` answers "" (see the field). Any other read
    /// fails there with "closed" and ends that, as upstream's failed read
    /// closes the reading half.
    pub fn at_body_end(&mut self, all: bool) -> bool {
        if !all {
            self.body_read_all = false;
        }
        self.body_read_all
    }

    pub fn read_closed(&self) -> bool {
        self.read_closed
    }

    pub fn write_closed(&self) -> bool {
        self.write_closed
    }

    pub fn busy_connecting(&self) -> bool {
        matches!(
            self.pending,
            Pending::Queued | Pending::Resolve | Pending::Connect | Pending::Handshake
        )
    }

    pub fn busy_reading(&self) -> bool {
        !self.reader.is_null()
    }

    pub fn busy_writing(&self) -> bool {
        !self.writer.is_null()
    }

    pub fn downstream(&self) -> bool {
        self.kind != Kind::Upstream
    }

    /// How often the connection was reused from a pool (`None`: closed).
    pub fn reused(&self) -> Option<u32> {
        self.c.map(|_| self.connecting.reused)
    }

    /// The runtime context of the request the socket serves, while it
    /// lives.
    #[allow(clippy::mut_from_ref)]
    fn lua_ctx(&self) -> Option<&mut LuaCtx> {
        // SAFETY: ctx is null or the live context of the request the socket
        // serves (orphan() clears it when the request ends, before the
        // context goes); single-threaded, the borrow ends with the caller's
        // use.
        unsafe { self.ctx.as_mut() }
    }

    /// The request the socket serves, while it lives.
    pub fn request(&self) -> Option<Request> {
        self.lua_ctx().map(|ctx| ctx.req())
    }

    /// Where the socket logs: its request's log, or the cycle's.
    pub(super) fn log_of(&self) -> LogOf {
        self.request().map_or(LogOf::Cycle, LogOf::Request)
    }

    pub(super) fn fail(&mut self, err: impl Into<String>, partial: Vec<u8>) {
        self.done = Done {
            ok: false,
            err: err.into(),
            data: partial,
            sent: 0,
            found: false,
            ssl_code: 0,
            refused: false,
        };
    }

    /// Ties the record to its Lua object's handle (at its final address)
    /// and the socket to its request.
    pub fn tie(&mut self, h: NonNull<Handle>) {
        self.handle = h.as_ptr();
        self.attach();
    }

    /// Registers this socket with its request so the request's end closes
    /// it and forgets the request.
    fn attach(&mut self) {
        let kind = if self.downstream() {
            &REQUEST_SOCKET
        } else {
            &SOCKET
        };
        let me = self as *mut Tcp as *mut c_void;
        if let Some(ctx) = self.lua_ctx() {
            ctx.attach(me, kind);
        }
    }

    fn detach(&mut self) {
        let me = self as *mut Tcp as *mut c_void;
        if let Some(ctx) = self.lua_ctx() {
            ctx.detach(me);
        }
    }

    /// Takes the socket for the running request `ctx`: a socket kept
    /// across requests (module-level) now serves this one; one still
    /// serving another request refuses.
    pub fn claim(&mut self, ctx: &mut LuaCtx) -> bool {
        let ctx: *mut LuaCtx = ctx;
        if self.ctx.is_null() {
            self.ctx = ctx;
            self.attach();
        }
        ptr::eq(self.ctx, ctx)
    }

    /// The connected request socket (`ngx.req.socket`) of `ctx`'s
    /// request. A body socket that read to its end stays attached until
    /// Lua collects it, beside the raw socket taken after it: the events
    /// of the client connection are the connected one's.
    pub fn of_request(ctx: &LuaCtx) -> Option<&'static mut Tcp> {
        ctx.attached(&REQUEST_SOCKET)
            // SAFETY: only request sockets attach as REQUEST_SOCKET, and
            // they detach before they are dropped.
            .filter_map(|p| unsafe { (p as *mut Tcp).as_mut() })
            .find(|s| s.connected())
    }

    /// Closes the connection (not pooled) and gives back its pool slot. A
    /// thread waiting on it stays recorded, so the handler that noticed the
    /// failure can wake it. A request socket only lets go of the client
    /// connection.
    pub(super) fn close_conn(&mut self) {
        if let Some(c) = self.c.take() {
            // Upstream's trace of its finalizer (close, failure, request
            // end, collected socket).
            crate::debug!(self.log_of().log(), "lua finalize socket");
            if self.downstream() {
                self.finish_reading(c);
            } else {
                c.close();
            }
        }
        if let Some(slot) = self.connecting.slot.take() {
            slot.release();
        }
        // Its buffer serves the next connection that receives (a socket
        // whose Lua object waits for the GC holds no buffer meanwhile).
        self.rx.release();
    }

    /// A receive failed: a request socket lets go of the client
    /// connection; our own connection only stops reading (its unread data
    /// dropped) and is closed once the writing half failed too.
    pub(super) fn shut_read(&mut self) {
        if self.downstream() || self.write_closed {
            self.close_conn();
            return;
        }
        self.read_closed = true;
        self.rx.clear();
        if let Some(c) = self.c {
            c.read().del_timer();
        }
    }

    /// A send failed: as [`Tcp::shut_read`] for the writing half.
    pub(super) fn shut_write(&mut self) {
        if self.downstream() || self.read_closed {
            self.close_conn();
            return;
        }
        self.write_closed = true;
        if let Some(c) = self.c {
            c.write().del_timer();
        }
    }

    /// `close()` from Lua, a killed waiting thread, or the request's end:
    /// whatever is under way is abandoned and nobody waits any more.
    pub fn close(&mut self) {
        match self.pending {
            Pending::Queued => {
                if let Some(slot) = self.connecting.slot.take() {
                    self.log_of()
                        .write(NGX_LOG_DEBUG, b"lua tcp socket abort queueing");
                    slot.dequeue(self.connecting.waiter());
                    // A slot freed for this operation goes to the next.
                    slot.release_queued(self.connecting.queue_ev.posted());
                }
            }
            Pending::Resolve => {
                if let Some(r) = self.connecting.resolving.take() {
                    r.cancel();
                }
            }
            _ => {}
        }
        self.connecting.queue_ev.cancel();
        self.close_conn();
        for t in [self.reader, self.writer] {
            // SAFETY: a recorded waiter is a live thread (see wake()).
            if let Some(t) = unsafe { t.as_mut() } {
                if t.waiting_on(&WAIT).is_some() {
                    t.wait = None;
                }
            }
        }
        self.reader = ptr::null_mut();
        self.writer = ptr::null_mut();
        self.pending = Pending::None;
        self.recv_mode = None;
        self.tls.session = None;
    }

    /// The request ended: close and forget it.
    pub fn orphan(&mut self) {
        self.close();
        self.ctx = ptr::null_mut();
        self.release_buffers();
    }

    /// A thread waiting on this socket was killed: abandon what it waited
    /// for, as upstream's coroutine cleanup does.
    pub fn abort_wait(&mut self, t: *mut CoCtx) {
        if self.reader == t || self.writer == t {
            self.close();
        }
    }

    /// Points the connection's events and log at this socket.
    pub(super) fn adopt(&mut self, c: Connection) {
        let me: *mut Tcp = self;
        // SAFETY: the socket is boxed (its Lua object owns the box) and
        // closes or pools the connection before it is dropped (Drop calls
        // close()), so the connection's data stays valid.
        unsafe { c.set_handler(me) };
        c.set_log(self.log_of());
    }

    /// Puts the connection into the keepalive pool. `Err(Err(n))`: no
    /// pool exists and `n` is not a valid size for one (a Lua argument
    /// error).
    pub fn set_keepalive(
        &mut self,
        timeout: Option<ngx_msec_t>,
        size: Option<i64>,
    ) -> Result<(), Result<&'static str, i64>> {
        let Some(c) = self.c else {
            return Err(Ok("closed"));
        };
        if self.read_closed || self.write_closed {
            return Err(Ok("closed"));
        }
        let (rev, wev) = (c.read(), c.write());
        if rev.eof() {
            return Err(Ok("closed"));
        }
        if self.busy_connecting() {
            return Err(Ok("socket busy connecting"));
        }
        if self.busy_reading() {
            return Err(Ok("socket busy reading"));
        }
        if self.busy_writing() {
            return Err(Ok("socket busy writing"));
        }
        if self.rx.pending() > 0 {
            return Err(Ok("unread data in buffer"));
        }
        if rev.error() || wev.error() || wev.timedout() {
            return Err(Ok("invalid connection"));
        }
        if self.downstream() {
            return Err(Ok("not supported for downstream sockets"));
        }
        if connection::worker_exiting() {
            // A worker that shuts down closes idle connections once, when
            // it starts to; one pooled later would keep it alive until the
            // keepalive timeout. Upstream closes it and reports success.
            self.close();
            return Ok(());
        }
        let park = pool::Park {
            slot: self.connecting.slot.take(),
            reused: self.connecting.reused,
            timeout: timeout.unwrap_or(self.keepalive_timeout),
            size,
            default_size: self.default_pool_size,
            log: self.log_of(),
        };
        let r = pool::put(&self.target.key, c, park);
        match r {
            Ok(()) => {
                self.c = None;
                self.close_conn();
                Ok(())
            }
            Err(pool::PutError::BadSize(n)) => Err(Err(n)),
            Err(pool::PutError::Dubious) => {
                self.c = None;
                self.close_conn();
                Err(Ok("connection in dubious state"))
            }
        }
    }

    /// Resumes the thread waiting as reader or writer.
    pub(super) fn wake(&mut self, reader: bool) {
        let t = if reader {
            self.recv_mode = None;
            core::mem::replace(&mut self.reader, ptr::null_mut())
        } else {
            self.pending = Pending::None;
            core::mem::replace(&mut self.writer, ptr::null_mut())
        };
        // SAFETY: the waiting thread is live (its request's end orphans this
        // socket first, clearing reader/writer; killing it closes us).
        unsafe {
            let Some(tr) = t.as_mut() else {
                return;
            };
            if tr.waiting_on(&WAIT).is_some() {
                tr.wait = None;
            }
            crate::lua::sched::resume_from_event(t)
        };
    }

    /// Marks the running thread as waiting on this socket, so killing it
    /// abandons the operation (as upstream's coroutine cleanup does).
    pub fn wait_for(&mut self) {
        let data = self as *mut Tcp as *mut c_void;
        // SAFETY: the scheduler's current thread is alive while its Lua
        // code runs, which is what calls us.
        if let Some(me) = unsafe { crate::lua::sched::current().co.as_mut() } {
            me.wait_on(data, &WAIT);
        }
    }

    /// `bind(address, port?)`: the local address of the next connection.
    pub fn bind(&mut self, address: &[u8], port: u16) -> Result<(), String> {
        match super::addr::parse(address, Some(port)) {
            Ok(peer @ super::addr::Peer::Inet(_)) => {
                self.target.local = super::addr::sockaddr(&peer);
                crate::debug!(
                    self.log_of().log(),
                    "lua tcp socket bind ip: {}",
                    String::from_utf8_lossy(address)
                );
                Ok(())
            }
            _ => Err("bad address".into()),
        }
    }

    /// `setoption(name, value)` on the connected socket.
    pub fn set_option(&mut self, name: &[u8], value: i32) -> Result<(), String> {
        let (level, opt) = sockopt(name)?;
        let Some(c) = self.c else {
            return Err("closed".into());
        };
        c.set_option(level, opt, value).map_err(errno_str)
    }

    /// `getoption`: the option's value (booleans as 0/1, as the kernel
    /// gives them).
    pub fn get_option(&self, name: &[u8]) -> Result<i32, String> {
        let (level, opt) = sockopt(name)?;
        let Some(c) = self.c else {
            return Err("closed".into());
        };
        c.get_option(level, opt).map_err(errno_str)
    }

    /// Whether `connect` was ever called (or this is a request socket):
    /// upstream has no socket record before, and says so.
    pub fn ever_connected(&self) -> bool {
        self.c.is_some() || !self.target.key.is_empty()
    }

    /// `getfd`: the connection's descriptor.
    pub fn fd(&self) -> Result<i32, &'static str> {
        match self.c {
            None => Err("closed"),
            Some(c) if c.fd() == -1 => Err("faked connection"),
            Some(c) => Ok(c.fd()),
        }
    }
}

/// The socket options of `setoption`/`getoption`, by upstream's names.
fn sockopt(name: &[u8]) -> Result<(i32, i32), String> {
    Ok(match name {
        b"keepalive" => (libc::SOL_SOCKET, libc::SO_KEEPALIVE),
        b"reuseaddr" => (libc::SOL_SOCKET, libc::SO_REUSEADDR),
        b"tcp-nodelay" => (libc::IPPROTO_TCP, libc::TCP_NODELAY),
        b"sndbuf" => (libc::SOL_SOCKET, libc::SO_SNDBUF),
        b"rcvbuf" => (libc::SOL_SOCKET, libc::SO_RCVBUF),
        b"keepintvl" => (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL),
        b"keepcnt" => (libc::IPPROTO_TCP, libc::TCP_KEEPCNT),
        _ => {
            return Err(format!(
                "unsupported option {}",
                String::from_utf8_lossy(name)
            ))
        }
    })
}

/// A thread waits on a socket.
pub(super) static WAIT: WaitKind = WaitKind {
    cancel: cancel_wait,
};

/// The thread waiting on a socket goes away: abandon what it waited for.
pub(super) unsafe fn cancel_wait(
    data: *mut c_void,
    t: *mut CoCtx,
    _force: bool,
) -> Result<(), &'static core::ffi::CStr> {
    // SAFETY: data is the socket the thread waits on (Tcp::wait_for); a
    // socket clears its waiters' slots when it closes.
    unsafe { (*(data as *mut Tcp)).abort_wait(t) };
    Ok(())
}

/// A cosocket tied to its request.
static SOCKET: AttachKind = AttachKind { end: orphan };

/// The request socket, found among the request's attachments by its kind.
static REQUEST_SOCKET: AttachKind = AttachKind { end: orphan };

/// The request of a socket ended: the socket is closed and forgets it;
/// its record goes back to the spare list unless its Lua object needs it
/// whole (see [`Handle`]).
unsafe fn orphan(data: *mut c_void) {
    let t = data as *mut Tcp;
    // SAFETY: attached by Tcp::attach, detached by its Drop. The request
    // ends after its Lua code ran, or inside the resume of a thread that
    // a socket event handler woke as its last step: nothing touches the
    // socket after this call.
    let s = unsafe { &mut *t };
    s.orphan();
    // SAFETY: a record's handle is its live Lua object's anchor payload
    // (the anchor's __gc takes the record before the anchor goes).
    let Some(h) = (unsafe { s.handle.as_mut() }) else {
        return;
    };
    if let Some(index) = s.kept() {
        h.0 = index << TAGS | RELEASED;
        // SAFETY: the record came from record(); the handle no longer
        // points at it, and the request's end was the last thing that did.
        unsafe { free_record(NonNull::new_unchecked(t)) };
    }
}

impl Drop for Tcp {
    fn drop(&mut self) {
        self.detach();
        self.close();
        self.release_buffers();
    }
}

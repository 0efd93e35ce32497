//! The upstream side of a request, for balancers written in Lua:
//!
//! - [`UpstreamConf`]: an `upstream {}` block's configuration, its servers
//!   and the hooks through which a load-balancing method takes over peer
//!   selection (`init_upstream` at configuration time, `init` per request);
//! - [`Upstream`]: a request's `ngx_http_upstream_t` (timeouts, TLS, the
//!   request buffer it sends);
//! - [`PeerConn`]: the peer connection nginx asks a balancer to fill in
//!   (`get`) and hands back after each try (`free`), with the [`PeerHooks`]
//!   of the method a balancer wraps;
//! - [`PeerAddr`] and [`LocalAddr`]: addresses parsed the way nginx parses
//!   a `server` line and `proxy_bind`, in the request pool;
//! - [`UpConn`]: an upstream connection a balancer keeps idle between
//!   requests (its own keepalive pool).
//!
//! The handles hold raw pointers and read or write through them for one
//! call each, as [`Request`] does: nginx's C code changes these structures
//! between calls. An `UpstreamConf` lives in the configuration's pool (the
//! cycle); an `Upstream`, `PeerConn`, `PeerAddr` and `LocalAddr` in their
//! request's pool; an `UpConn` until it is closed.
use core::ffi::{c_void, CStr};
use core::ptr::{self, NonNull};

use nginx_sys::*;

use super::log;
use super::module;
use super::request::{Rc, Request, ERROR, OK};
use super::sock::{peek, Peek};

// ---- the upstream {} block ----------------------------------------------

/// An `upstream {}` block's configuration (nginx's
/// `ngx_http_upstream_srv_conf_t`), alive as long as its cycle.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct UpstreamConf(NonNull<ngx_http_upstream_srv_conf_t>);

/// How a load-balancing method sets up an upstream block at configuration
/// time, and each request's peer selection.
pub type InitUpstream = ngx_http_upstream_init_pt;
pub type InitPeer = ngx_http_upstream_init_peer_pt;

impl UpstreamConf {
    /// The `upstream {}` block whose directive nginx is parsing.
    ///
    /// # Safety
    /// `cf` is the configuration being parsed, at a directive allowed only
    /// inside `upstream {}` (`NGX_HTTP_UPS_CONF`).
    pub unsafe fn of_block(cf: *mut ngx_conf_t) -> Option<UpstreamConf> {
        // SAFETY: inside `upstream {}`, cf->ctx is the block's
        // ngx_http_conf_ctx_t (ngx_http_upstream made it), whose srv_conf
        // array holds the upstream module's conf of the block.
        unsafe {
            let ctx = (*cf).ctx as *mut ngx_http_conf_ctx_t;
            if ctx.is_null() || (*ctx).srv_conf.is_null() {
                return None;
            }
            let idx = (*ptr::addr_of!(ngx_http_upstream_module)).ctx_index;
            NonNull::new(*(*ctx).srv_conf.add(idx) as *mut ngx_http_upstream_srv_conf_t)
                .map(UpstreamConf)
        }
    }

    /// # Safety
    /// `us` is null or the configuration of an `upstream {}` block of a
    /// cycle that outlives the handle's use (nginx passes it to the
    /// `init_upstream` and `init` hooks).
    pub unsafe fn from_raw(us: *mut ngx_http_upstream_srv_conf_t) -> Option<UpstreamConf> {
        NonNull::new(us).map(UpstreamConf)
    }

    pub fn as_ptr(self) -> *mut ngx_http_upstream_srv_conf_t {
        self.0.as_ptr()
    }

    #[allow(clippy::mut_from_ref)]
    fn get(&self) -> &mut ngx_http_upstream_srv_conf_t {
        // SAFETY: the handle's invariant (the block's conf lives as long as
        // the cycle); the borrow ends with the caller's expression, and
        // the worker is single-threaded.
        unsafe { &mut *self.0.as_ptr() }
    }

    /// This module's configuration of the block: nginx made one per http
    /// module with its `create_srv_conf` when it opened the block.
    pub fn module_conf<T>(self) -> *mut T {
        // SAFETY: an upstream block's srv_conf array has one slot per http
        // module (ngx_http_upstream filled them all).
        unsafe { *self.get().srv_conf.add(module::ctx_index()) as *mut T }
    }

    /// `server` lines configured so far.
    pub fn server_count(self) -> usize {
        let s = self.get().servers;
        if s.is_null() {
            return 0;
        }
        // SAFETY: an explicit upstream block's server array, made with
        // the block.
        unsafe { (*s).nelts }
    }

    /// Adds `server URL;` to the block, as the `server` directive would
    /// with its defaults, and returns the address round robin will pick
    /// for it (null when nginx could not parse or allocate it).
    ///
    /// # Safety
    /// `cf` is the configuration being parsed, inside this block.
    pub unsafe fn add_server(self, cf: *mut ngx_conf_t, url: &'static [u8]) -> *const sockaddr {
        let servers = self.get().servers;
        if servers.is_null() {
            return ptr::null();
        }
        // SAFETY: the block's server array, made from the conf pool; the
        // parsed address and its name are allocated from the same pool, so
        // they live as long as the configuration.
        unsafe {
            let mut u: ngx_url_t = core::mem::zeroed();
            u.url = ngx_str_t {
                len: url.len(),
                data: url.as_ptr() as *mut u8,
            };
            u.default_port = 80;
            if ngx_parse_url((*cf).pool, &mut u) != OK || u.naddrs == 0 {
                return ptr::null();
            }
            let us = ngx_array_push(servers) as *mut ngx_http_upstream_server_t;
            if us.is_null() {
                return ptr::null();
            }
            ptr::write_bytes(us, 0, 1);
            (*us).name = u.url;
            (*us).addrs = u.addrs;
            (*us).naddrs = u.naddrs;
            (*us).weight = 1;
            (*us).max_fails = 1;
            (*us).fail_timeout = 10;
            (*u.addrs).sockaddr
        }
    }

    pub fn init_upstream(self) -> InitUpstream {
        self.get().peer.init_upstream
    }

    pub fn set_init_upstream(self, f: InitUpstream) {
        self.get().peer.init_upstream = f;
    }

    /// The per-request hook the block's method installed (in its
    /// `init_upstream`).
    pub fn init_peer(self) -> InitPeer {
        self.get().peer.init
    }

    pub fn set_init_peer(self, f: InitPeer) {
        self.get().peer.init = f;
    }

    /// Which `server` parameters the block's method accepts.
    pub fn set_flags(self, flags: u32) {
        self.get().flags = flags as ngx_uint_t;
    }
}

/// nginx's own method, the one a block without another method uses.
pub fn round_robin() -> InitUpstream {
    Some(ngx_http_upstream_init_round_robin)
}

/// Runs a method's `init_upstream` on a block.
///
/// # Safety
/// `cf` is the configuration being completed (nginx's `init_main_conf` of
/// the upstream module, which calls every block's hook).
pub unsafe fn call_init_upstream(f: InitUpstream, cf: *mut ngx_conf_t, us: UpstreamConf) -> Rc {
    match f {
        // SAFETY: a method's hook, called as nginx itself would.
        Some(f) => unsafe { f(cf, us.as_ptr()) },
        None => ERROR,
    }
}

/// Runs a method's per-request `init` hook.
pub fn call_init_peer(f: InitPeer, r: Request, us: UpstreamConf) -> Rc {
    match f {
        // SAFETY: a live request whose upstream is being set up, and its
        // block's configuration: what nginx passes to the hook itself.
        Some(f) => unsafe { f(r.as_ptr(), us.as_ptr()) },
        None => ERROR,
    }
}

// ---- the request's upstream -----------------------------------------------

/// A request's upstream (`r->upstream`, made by proxy_pass, fastcgi_pass,
/// ...), alive as long as its request.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Upstream(NonNull<ngx_http_upstream_t>);

impl Request {
    /// The request's upstream, if a module set one up.
    pub fn upstream(self) -> Option<Upstream> {
        // SAFETY: a live request's upstream field is null or the
        // ngx_http_upstream_t nginx allocated in the request pool.
        NonNull::new(unsafe { (*self.as_ptr()).upstream }).map(Upstream)
    }

    /// The status nginx recorded for the previous try of this request's
    /// upstream (0 on the first try): the state before the one of the
    /// try being set up.
    pub fn previous_try_status(self) -> ngx_uint_t {
        // SAFETY: upstream_states is null or an array of
        // ngx_http_upstream_state_t in the request pool.
        unsafe {
            let a = (*self.as_ptr()).upstream_states;
            if a.is_null() || (*a).nelts < 2 {
                return 0;
            }
            (*((*a).elts as *const ngx_http_upstream_state_t).add((*a).nelts - 2)).status
        }
    }
}

impl Upstream {
    #[allow(clippy::mut_from_ref)]
    fn get(&self) -> &mut ngx_http_upstream_t {
        // SAFETY: the handle's invariant (it lives in its request's pool);
        // the borrow ends with the caller's expression.
        unsafe { &mut *self.0.as_ptr() }
    }

    /// The peer connection nginx selects peers for.
    pub fn peer(self) -> PeerConn {
        PeerConn(NonNull::from(&mut self.get().peer))
    }

    #[allow(clippy::mut_from_ref)]
    fn conf(&self) -> &mut ngx_http_upstream_conf_t {
        // SAFETY: every upstream's conf points at its module's (or a
        // request-pool copy of it, see own_conf).
        unsafe { &mut *self.get().conf }
    }

    /// `*_next_upstream_tries` (0: unlimited).
    pub fn next_upstream_tries(self) -> ngx_uint_t {
        self.conf().next_upstream_tries
    }

    /// Gives the upstream a copy of its configuration in the request pool,
    /// so that changing it changes this request only. False when out of
    /// memory.
    pub fn own_conf(self, r: Request) -> bool {
        let Some(copy) = r.pool_value(*self.conf()) else {
            return false;
        };
        // The struct holds values and pointers into configuration memory:
        // a bitwise copy is what nginx's own modules would make.
        self.get().conf = copy.as_ptr();
        true
    }

    /// Sets the connect, send and read timeouts that are positive.
    pub fn set_timeouts(self, connect: i64, send: i64, read: i64) {
        let c = self.conf();
        if connect > 0 {
            c.connect_timeout = connect as ngx_msec_t;
        }
        if send > 0 {
            c.send_timeout = send as ngx_msec_t;
        }
        if read > 0 {
            c.read_timeout = read as ngx_msec_t;
        }
    }

    /// Whether the connection to the peer is TLS.
    pub fn ssl(self) -> bool {
        self.get().ssl() != 0
    }

    /// Switches TLS to the peer on or off (with the scheme logs show).
    /// False when turning it on for a module configured without a TLS
    /// context (`fastcgi_pass`, or `proxy_pass http://` without any
    /// `proxy_ssl_*`), where nginx's handshake would have nothing to use.
    pub fn set_ssl(self, on: bool) -> bool {
        if on {
            let ssl = self.conf().ssl;
            // SAFETY: the module's ngx_ssl_t, in conf memory, or null.
            if ssl.is_null() || unsafe { (*ssl).ctx.is_null() } {
                return false;
            }
        }
        let u = self.get();
        u.set_ssl(on as u32);
        let scheme: &'static [u8] = if on { b"https://" } else { b"http://" };
        u.schema = ngx_str_t {
            len: scheme.len(),
            data: scheme.as_ptr() as *mut u8,
        };
        true
    }

    /// The name nginx sends as SNI (and checks the certificate against).
    pub fn set_ssl_name(self, name: ngx_str_t) {
        self.get().ssl_name = name;
    }

    /// The TLS name this try will use, as nginx works it out
    /// (`proxy_ssl_name`, else the upstream's host, without a port), and
    /// stores it as the upstream's; empty when there is none.
    pub fn resolve_ssl_name(self, r: Request) -> ngx_str_t {
        let mut name = self.get().ssl_name;
        let cv = self.conf().ssl_name;
        if !cv.is_null() {
            // SAFETY: a complex value compiled at configuration time,
            // evaluated for the live request (the result is in its pool).
            if unsafe { ngx_http_complex_value(r.as_ptr(), cv, &mut name) } != OK {
                return ngx_str_t {
                    len: 0,
                    data: ptr::null_mut(),
                };
            }
        }
        name.len = strip_port(name.as_bytes()).len();
        self.get().ssl_name = name;
        name
    }

    /// Builds the request to the peer again (`u->create_request`), from
    /// the request body rather than the request buffer built before.
    pub fn recreate_request(self, r: Request) -> bool {
        let u = self.get();
        // SAFETY: request_body is null or the request's body record.
        let body = unsafe {
            let rb = (*r.as_ptr()).request_body;
            if rb.is_null() {
                ptr::null_mut()
            } else {
                (*rb).bufs
            }
        };
        if !u.request_bufs.is_null() && u.request_bufs != body {
            u.request_bufs = body;
        }
        match u.create_request {
            // SAFETY: the module's own request builder, for its request.
            Some(f) => unsafe { f(r.as_ptr()) == OK },
            None => false,
        }
    }

    /// The peer's response allows reusing the connection.
    pub fn keepalive(self) -> bool {
        self.get().keepalive() != 0
    }

    pub fn request_body_sent(self) -> bool {
        self.get().request_body_sent() != 0
    }
}

/// `host[:port]` or `[v6][:port]` without the port.
fn strip_port(name: &[u8]) -> &[u8] {
    let from = if name.first() == Some(&b'[') {
        name.iter().position(|&c| c == b']').unwrap_or(0)
    } else {
        0
    };
    match name[from..].iter().position(|&c| c == b':') {
        Some(i) => &name[..from + i],
        None => name,
    }
}

/// nginx is shutting down: connections are not kept any more.
pub fn process_exiting() -> bool {
    // SAFETY: process-wide flags nginx sets from its signal handling, read
    // by the single worker thread.
    unsafe { ngx_exiting != 0 || ngx_terminate != 0 }
}

// ---- the peer connection ---------------------------------------------------

/// The peer connection a balancer fills in (`u->peer`), alive as long as
/// its request.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PeerConn(NonNull<ngx_peer_connection_t>);

/// The peer selection hooks a method installed on a peer connection, to
/// be called by the method that wraps it. Only read from a live peer
/// connection (the fields are private), so they are the hooks and data
/// nginx would call itself.
#[derive(Clone, Copy)]
pub struct PeerHooks {
    get: ngx_event_get_peer_pt,
    free: ngx_event_free_peer_pt,
    data: *mut c_void,
    set_session: ngx_event_set_peer_session_pt,
    save_session: ngx_event_save_peer_session_pt,
}

/// The hooks a method installs in place of the ones it wraps.
pub struct NewHooks {
    pub get: ngx_event_get_peer_pt,
    pub free: ngx_event_free_peer_pt,
    pub data: *mut c_void,
    pub set_session: ngx_event_set_peer_session_pt,
    pub save_session: ngx_event_save_peer_session_pt,
}

impl PeerConn {
    /// # Safety
    /// `pc` is null or the peer connection of a live request's upstream
    /// (what nginx passes to the `get`/`free` hooks).
    pub unsafe fn from_raw(pc: *mut ngx_peer_connection_t) -> Option<PeerConn> {
        NonNull::new(pc).map(PeerConn)
    }

    #[allow(clippy::mut_from_ref)]
    fn get(&self) -> &mut ngx_peer_connection_t {
        // SAFETY: the handle's invariant; the borrow ends with the caller's
        // expression.
        unsafe { &mut *self.0.as_ptr() }
    }

    pub fn hooks(self) -> PeerHooks {
        let pc = self.get();
        PeerHooks {
            get: pc.get,
            free: pc.free,
            data: pc.data,
            set_session: pc.set_session,
            save_session: pc.save_session,
        }
    }

    pub fn set_hooks(self, h: NewHooks) {
        let pc = self.get();
        pc.get = h.get;
        pc.free = h.free;
        pc.data = h.data;
        pc.set_session = h.set_session;
        pc.save_session = h.save_session;
    }

    /// Tries left, this one included.
    pub fn tries(self) -> ngx_uint_t {
        self.get().tries
    }

    pub fn set_tries(self, n: ngx_uint_t) {
        self.get().tries = n;
    }

    /// Points this try at `a` (a new connection: nothing cached).
    pub fn set_peer(self, a: PeerAddr) {
        let pc = self.get();
        pc.sockaddr = a.sockaddr;
        pc.socklen = a.socklen;
        pc.name = a.name;
        pc.set_cached(0);
        pc.connection = ptr::null_mut();
    }

    /// The peer address this try connects to (for identity comparisons).
    pub fn sockaddr(self) -> *const sockaddr {
        self.get().sockaddr
    }

    /// Binds the connection to `l` before connecting.
    pub fn set_local(self, l: LocalAddr) {
        self.get().local = l.0.as_ptr();
    }

    pub fn log(self) -> *mut ngx_log_t {
        self.get().log
    }

    /// The connection of this try, once nginx opened one.
    pub fn connection(self) -> Option<UpConn> {
        NonNull::new(self.get().connection).map(UpConn)
    }

    /// The balancer keeps the connection: nginx must not close it.
    pub fn forget_connection(self) {
        self.get().connection = ptr::null_mut();
    }

    /// Hands an idle connection to this try (nginx uses it instead of
    /// connecting), logging to the try's log again.
    pub fn reuse(self, c: UpConn) {
        c.wake(self.log());
        let pc = self.get();
        pc.connection = c.0.as_ptr();
        pc.set_cached(1);
    }
}

impl PeerHooks {
    pub fn call_get(&self, pc: PeerConn) -> Rc {
        match self.get {
            // SAFETY: the hook and data read from this request's peer
            // connection (see PeerHooks), called as nginx would.
            Some(f) => unsafe { f(pc.0.as_ptr(), self.data) },
            None => ERROR,
        }
    }

    pub fn call_free(&self, pc: PeerConn, state: ngx_uint_t) {
        if let Some(f) = self.free {
            // SAFETY: as call_get.
            unsafe { f(pc.0.as_ptr(), self.data, state) }
        }
    }

    pub fn call_set_session(&self, pc: PeerConn) -> Rc {
        match self.set_session {
            // SAFETY: as call_get.
            Some(f) => unsafe { f(pc.0.as_ptr(), self.data) },
            None => OK,
        }
    }

    pub fn call_save_session(&self, pc: PeerConn) {
        if let Some(f) = self.save_session {
            // SAFETY: as call_get.
            unsafe { f(pc.0.as_ptr(), self.data) }
        }
    }
}

// ---- addresses ---------------------------------------------------------------

/// A peer address in a request's pool: the socket address and its text
/// (`127.0.0.1:8080`, `[::1]:80`, `unix:/path`), which nginx shows in
/// `$upstream_addr` and its log lines.
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr {
    sockaddr: *mut sockaddr,
    socklen: socklen_t,
    name: *mut ngx_str_t,
}

/// Why an address did not parse.
#[derive(Debug)]
pub enum AddrError {
    /// nginx's own text ("invalid port", "invalid host", "no host", ...).
    Nginx(&'static CStr),
    /// A host name, not an address (nothing is resolved here).
    NotAddress,
    NoMemory,
}

impl PeerAddr {
    /// The socket address's bytes (for keepalive pool keys).
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: sockaddr points at socklen bytes in the request pool
        // (parse_peer), alive as long as the request that holds the
        // address.
        unsafe { core::slice::from_raw_parts(self.sockaddr as *const u8, self.socklen as usize) }
    }

    /// The address as nginx shows it.
    pub fn name(&self) -> &[u8] {
        // SAFETY: as bytes; the name is nginx's text of the address.
        unsafe { &*self.name }.as_bytes()
    }
}

/// A local address (`ip` or `ip:port`) to bind upstream connections to,
/// in a request's pool.
#[derive(Clone, Copy, Debug)]
pub struct LocalAddr(NonNull<ngx_addr_t>);

impl LocalAddr {
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: an ngx_addr_t filled by ngx_parse_addr_port in the
        // request pool, alive as long as the request holding it.
        unsafe {
            let a = self.0.as_ref();
            core::slice::from_raw_parts(a.sockaddr as *const u8, a.socklen as usize)
        }
    }
}

/// A plain IPv4 peer (`a.b.c.d` or `a.b.c.d:port`) made in one pool block:
/// the socket address, and its text the way nginx writes it.
#[repr(C)]
struct Ipv4Peer {
    sin: sockaddr_in,
    name: ngx_str_t,
    text: [u8; IPV4_TEXT_MAX],
}

/// `255.255.255.255:65535`.
const IPV4_TEXT_MAX: usize = 21;

/// The address and port of `text` when it is a plain IPv4 address that
/// nginx's URL parser would take as is (its `ngx_inet_addr` rules: four
/// decimal parts up to 255, empty parts being 0; a port of 1 to 65535, or
/// `default_port` without one). `None` sends anything else, valid or not,
/// to nginx's parser, whose answers (and errors) are the reference.
fn plain_ipv4(text: &[u8], default_port: u16) -> Option<([u8; 4], u16)> {
    let (mut parts, mut octet, mut dots) = ([0u8; 4], 0u32, 0usize);
    let mut rest = None;
    for (i, &c) in text.iter().enumerate() {
        match c {
            b'0'..=b'9' => {
                octet = octet * 10 + (c - b'0') as u32;
                if octet > 255 {
                    return None;
                }
            }
            b'.' if dots < 3 => {
                parts[dots] = octet as u8;
                dots += 1;
                octet = 0;
            }
            b':' => {
                rest = Some(&text[i + 1..]);
                break;
            }
            _ => return None,
        }
    }
    if dots != 3 {
        return None;
    }
    parts[3] = octet as u8;
    // nginx's parser reads this one as "no address" (INADDR_NONE).
    if parts == [255; 4] {
        return None;
    }
    let Some(p) = rest else {
        return Some((parts, default_port));
    };
    let mut port = 0u32;
    for &c in p {
        if !c.is_ascii_digit() {
            return None;
        }
        port = port * 10 + (c - b'0') as u32;
        if port > 65535 {
            return None;
        }
    }
    if port == 0 {
        // Also an empty port: both are nginx's "invalid port".
        return None;
    }
    Some((parts, port as u16))
}

/// Writes `a.b.c.d:port` into `out` as nginx's `ngx_sock_ntop` does,
/// returning its length.
fn ipv4_text(parts: [u8; 4], port: u16, out: &mut [u8; IPV4_TEXT_MAX]) -> usize {
    let mut at = 0;
    let mut put = |b: u8| {
        out[at] = b;
        at += 1;
    };
    for (i, &n) in parts.iter().enumerate() {
        if i > 0 {
            put(b'.');
        }
        if n >= 100 {
            put(b'0' + n / 100);
        }
        if n >= 10 {
            put(b'0' + n / 10 % 10);
        }
        put(b'0' + n % 10);
    }
    put(b':');
    let mut started = false;
    for d in [10000u16, 1000, 100, 10] {
        if started || port >= d {
            put(b'0' + (port / d % 10) as u8);
            started = true;
        }
    }
    put(b'0' + (port % 10) as u8);
    at
}

impl Request {
    /// Parses a peer address as a `server` line would (`ip`, `ip:port`,
    /// `[ipv6]:port`, `unix:path`), with `default_port` for an address
    /// without one, resolving nothing.
    pub fn parse_peer(self, text: &[u8], default_port: u16) -> Result<PeerAddr, AddrError> {
        if let Some((parts, port)) = plain_ipv4(text, default_port) {
            return self.ipv4_peer(parts, port).ok_or(AddrError::NoMemory);
        }
        // nginx keeps pointers into the text (the host, the port text).
        let text = self.pool_str(text).ok_or(AddrError::NoMemory)?;
        // SAFETY: a zeroed ngx_url_t is nginx's starting state; the parse
        // allocates from the live request's pool. url.err, when set, is one
        // of nginx's string literals.
        unsafe {
            let mut u: ngx_url_t = core::mem::zeroed();
            u.url = text;
            u.default_port = default_port;
            u.set_no_resolve(1);
            if ngx_parse_url(self.pool(), &mut u) != OK {
                return Err(if u.err.is_null() {
                    AddrError::NoMemory
                } else {
                    AddrError::Nginx(CStr::from_ptr(u.err))
                });
            }
            if u.addrs.is_null() || (*u.addrs).sockaddr.is_null() {
                return Err(AddrError::NotAddress);
            }
            let a = &mut *u.addrs;
            Ok(PeerAddr {
                sockaddr: a.sockaddr,
                socklen: a.socklen,
                name: &mut a.name,
            })
        }
    }

    /// The common case of parse_peer without nginx's parser: the same
    /// address and text in one pool allocation instead of five, and no
    /// formatted print.
    fn ipv4_peer(self, parts: [u8; 4], port: u16) -> Option<PeerAddr> {
        // SAFETY: all-zero is a valid value of these plain C structs.
        let mut p: Ipv4Peer = unsafe { core::mem::zeroed() };
        p.sin.sin_family = AF_INET as _;
        p.sin.sin_port = port.to_be();
        p.sin.sin_addr.s_addr = u32::from_ne_bytes(parts);
        let len = ipv4_text(parts, port, &mut p.text);
        let block = self.pool_value(p)?.as_ptr();
        // SAFETY: the block lives in the request pool as long as the
        // request; the name points at its own text.
        unsafe {
            (*block).name = ngx_str_t {
                len,
                data: ptr::addr_of_mut!((*block).text) as *mut u8,
            };
            Some(PeerAddr {
                sockaddr: ptr::addr_of_mut!((*block).sin) as *mut sockaddr,
                socklen: core::mem::size_of::<sockaddr_in>() as socklen_t,
                name: ptr::addr_of_mut!((*block).name),
            })
        }
    }

    /// Parses a local address to bind to (`ip` or `ip:port`, IPv6 in
    /// brackets with a port).
    pub fn parse_local_addr(self, text: &[u8]) -> Result<LocalAddr, AddrError> {
        // SAFETY: a zeroed ngx_addr_t is an empty address.
        let zero: ngx_addr_t = unsafe { core::mem::zeroed() };
        let a = self.pool_value(zero).ok_or(AddrError::NoMemory)?.as_ptr();
        let text = self.pool_str(text).ok_or(AddrError::NoMemory)?;
        // SAFETY: a pool block holding the ngx_addr_t for nginx to fill;
        // the text is pool memory that outlives it (the name points at it).
        unsafe {
            let rc = ngx_parse_addr_port(self.pool(), a, text.data, text.len);
            if rc == DECLINED_ADDR {
                return Err(AddrError::NotAddress);
            }
            if rc != OK {
                return Err(AddrError::NoMemory);
            }
            (*a).name = text;
            Ok(LocalAddr(NonNull::new_unchecked(a)))
        }
    }
}

const DECLINED_ADDR: Rc = NGX_DECLINED as Rc;

impl Request {
    /// Moves `v` into the request pool (aligned as nginx aligns its own
    /// structs there), where it lives as long as the request. Only values
    /// without a destructor: the pool frees the memory without running
    /// one.
    pub fn pool_value<T>(self, v: T) -> Option<NonNull<T>> {
        const {
            assert!(core::mem::align_of::<T>() <= core::mem::size_of::<usize>());
            assert!(!core::mem::needs_drop::<T>());
        };
        // SAFETY: ngx_palloc returns NGX_ALIGNMENT-aligned (word) memory of
        // the requested size from the live request's pool, or null.
        let p = unsafe { ngx_palloc(self.pool(), core::mem::size_of::<T>()) } as *mut T;
        let p = NonNull::new(p)?;
        // SAFETY: fresh, aligned, large enough (above).
        unsafe { p.as_ptr().write(v) };
        Some(p)
    }
}

// ---- idle upstream connections ---------------------------------------------

/// An upstream connection: the one a try used, then one a balancer keeps
/// idle in its pool until a later try reuses or closes it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct UpConn(NonNull<ngx_connection_t>);

/// The read event handler of a parked connection.
pub type EventHandler = unsafe extern "C" fn(*mut ngx_event_t);

impl UpConn {
    /// The connection of an event nginx calls a parked connection's
    /// handler with.
    ///
    /// # Safety
    /// `ev` is an event of a live connection (its data is the connection).
    pub unsafe fn of_event(ev: *mut ngx_event_t) -> Option<UpConn> {
        // SAFETY: the caller's contract.
        NonNull::new(unsafe { (*ev).data } as *mut ngx_connection_t).map(UpConn)
    }

    pub fn as_ptr(self) -> *mut ngx_connection_t {
        self.0.as_ptr()
    }

    #[allow(clippy::mut_from_ref)]
    fn get(&self) -> &mut ngx_connection_t {
        // SAFETY: a connection is alive until close() (which consumes the
        // handle's use); the borrow ends with the caller's expression.
        unsafe { &mut *self.0.as_ptr() }
    }

    #[allow(clippy::mut_from_ref)]
    fn read(&self) -> &mut ngx_event_t {
        // SAFETY: a live connection's read event.
        unsafe { &mut *self.get().read }
    }

    #[allow(clippy::mut_from_ref)]
    fn write(&self) -> &mut ngx_event_t {
        // SAFETY: a live connection's write event.
        unsafe { &mut *self.get().write }
    }

    /// Nothing went wrong on it (end of stream, errors, timeouts).
    pub fn healthy(self) -> bool {
        let (r, w) = (self.read(), self.write());
        r.eof() == 0 && r.error() == 0 && r.timedout() == 0 && w.error() == 0 && w.timedout() == 0
    }

    /// Requests sent over it.
    pub fn requests(self) -> ngx_uint_t {
        self.get().requests
    }

    /// What its parked owner stored (its pool).
    pub fn data(self) -> *mut c_void {
        self.get().data
    }

    /// Asks the event loop to report the peer closing it (or sending
    /// anything) while it sits idle. False when that fails.
    pub fn watch_read(self) -> bool {
        // SAFETY: the live connection's read event.
        unsafe { ngx_handle_read_event(self.get().read, 0) == OK }
    }

    /// Parks the connection: it now logs to the cycle's log (the request
    /// that used it goes away), `on_read` runs when the peer closes it,
    /// sends something or `timeout` ms pass (0: no timeout), and `data`
    /// tells that handler whose it is. Returns whether the read event was
    /// already ready (the caller should check it at once).
    pub fn park(self, timeout: ngx_msec_t, data: *mut c_void, on_read: EventHandler) -> bool {
        let cl = log::cycle_log();
        let c = self.get();
        c.data = data;
        c.set_idle(1);
        c.log = cl;
        if !c.pool.is_null() {
            // SAFETY: the connection's own pool.
            unsafe { (*c.pool).log = cl };
        }
        let (r, w) = (self.read(), self.write());
        r.log = cl;
        w.log = cl;
        r.handler = Some(on_read);
        w.handler = Some(idle_write);
        r.set_delayed(0);
        // SAFETY: the connection's own events, armed in the timer tree of
        // this worker.
        unsafe {
            if w.timer_set() != 0 {
                ngx_del_timer(w);
            }
            if r.timer_set() != 0 {
                ngx_del_timer(r);
            }
            if timeout > 0 {
                ngx_add_timer(r, timeout);
            }
        }
        r.ready() != 0
    }

    /// Takes a parked connection out of the pool for a try that logs to
    /// `log`.
    fn wake(self, log: *mut ngx_log_t) {
        let c = self.get();
        c.set_idle(0);
        c.sent = 0;
        c.log = log;
        if !c.pool.is_null() {
            // SAFETY: the connection's own pool.
            unsafe { (*c.pool).log = log };
        }
        let (r, w) = (self.read(), self.write());
        r.log = log;
        w.log = log;
        if r.timer_set() != 0 {
            // SAFETY: the connection's read event, in this worker's timers.
            unsafe { ngx_del_timer(r) };
        }
    }

    /// Whether a parked connection whose read event fired is still fit to
    /// keep: not closing, not timed out, and nothing to read (a TLS
    /// connection reads through TLS, so a session ticket arriving after
    /// the handshake is not mistaken for data). Re-arms the read event
    /// when it is.
    pub fn still_idle(self) -> bool {
        let c = self.get();
        if c.close() != 0 || self.read().timedout() != 0 {
            return false;
        }
        let idle = if !c.ssl.is_null() {
            let mut b = [0u8; 1];
            match c.recv {
                // SAFETY: the connection's TLS receive function, into a
                // one-byte buffer.
                Some(recv) => unsafe { recv(self.0.as_ptr(), b.as_mut_ptr(), 1) == AGAIN_IO },
                None => false,
            }
        } else {
            peek(c.fd) == Peek::WouldBlock
        };
        if idle {
            self.read().set_ready(0);
            return self.watch_read();
        }
        false
    }

    /// Closes the connection (a TLS one without waiting for the peer's
    /// close_notify) and frees its pool.
    pub fn close(self) {
        let c = self.get();
        if !c.ssl.is_null() {
            // SAFETY: the connection's TLS state.
            unsafe {
                (*c.ssl).set_no_wait_shutdown(1);
                (*c.ssl).set_no_send_shutdown(1);
                if ngx_ssl_shutdown(c) == AGAIN_IO {
                    (*c.ssl).handler = Some(close_after_shutdown);
                    return;
                }
            }
        }
        close_now(self.0.as_ptr());
    }
}

const AGAIN_IO: isize = NGX_AGAIN as isize;

fn close_now(c: *mut ngx_connection_t) {
    // SAFETY: a live connection nobody else uses: its pool goes first
    // (nginx's own upstream code does the same), then the connection.
    unsafe {
        if !(*c).pool.is_null() {
            ngx_destroy_pool((*c).pool);
            (*c).pool = ptr::null_mut();
        }
        ngx_close_connection(c);
    }
}

unsafe extern "C" fn close_after_shutdown(c: *mut ngx_connection_t) {
    crate::nginx::panic::guard((), || close_now(c))
}

unsafe extern "C" fn idle_write(_ev: *mut ngx_event_t) {
    crate::nginx::panic::guard((), || ())
}

#[cfg(test)]
mod tests {
    use super::{ipv4_text, plain_ipv4, strip_port, IPV4_TEXT_MAX};

    #[test]
    fn plain_ipv4_as_nginx_reads_it() {
        assert_eq!(plain_ipv4(b"127.0.0.1", 80), Some(([127, 0, 0, 1], 80)));
        assert_eq!(
            plain_ipv4(b"10.1.2.3:8080", 80),
            Some(([10, 1, 2, 3], 8080))
        );
        assert_eq!(plain_ipv4(b"10.1.2.3", 0), Some(([10, 1, 2, 3], 0)));
        // ngx_inet_addr's leniencies: empty parts, leading zeros.
        assert_eq!(plain_ipv4(b"1..2.3", 9), Some(([1, 0, 2, 3], 9)));
        assert_eq!(
            plain_ipv4(b"010.0.0.001:065535", 9),
            Some(([10, 0, 0, 1], 65535))
        );
        // Left to nginx's parser (its own error or answer).
        for t in [
            &b"255.255.255.255"[..],
            b"256.0.0.1",
            b"1.2.3",
            b"1.2.3.4.5",
            b"1.2.3.4:",
            b"1.2.3.4:0",
            b"1.2.3.4:65536",
            b"1.2.3.4:123456",
            b"1.2.3.4:8a",
            b"1.2.3.4/x",
            b"localhost",
            b"[::1]:80",
            b"unix:/tmp/s",
            b"",
            b":80",
        ] {
            assert_eq!(plain_ipv4(t, 80), None, "{}", String::from_utf8_lossy(t));
        }
    }

    #[test]
    fn ipv4_text_as_ngx_sock_ntop() {
        let mut out = [0u8; IPV4_TEXT_MAX];
        let n = ipv4_text([255, 255, 255, 254], 65535, &mut out);
        assert_eq!(&out[..n], b"255.255.255.254:65535");
        let n = ipv4_text([127, 0, 0, 1], 0, &mut out);
        assert_eq!(&out[..n], b"127.0.0.1:0");
        let n = ipv4_text([10, 20, 30, 4], 8080, &mut out);
        assert_eq!(&out[..n], b"10.20.30.4:8080");
    }

    #[test]
    fn ssl_name_without_port() {
        assert_eq!(strip_port(b"example.com:443"), b"example.com");
        assert_eq!(strip_port(b"example.com"), b"example.com");
        assert_eq!(strip_port(b"[::1]:443"), b"[::1]");
        assert_eq!(strip_port(b"[::1]"), b"[::1]");
        assert_eq!(strip_port(b""), b"");
    }
}

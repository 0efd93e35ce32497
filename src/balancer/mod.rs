//! `balancer_by_lua*`: Lua chooses the peer of each try of an upstream
//! request, for any module built on nginx's upstream (proxy, fastcgi,
//! uwsgi, scgi, grpc).
//!
//! nginx lets a load-balancing method take over an `upstream {}` block
//! through two hooks: `init_upstream` when the configuration is complete,
//! and `init` (per request) which installs the `get`/`free` callbacks of
//! the request's peer connection. The directive puts ours in front of the
//! block's method (round robin, or whatever came before it, such as
//! `keepalive`), which we keep for the tries where Lua sets no peer;
//! nginx's `keepalive` placed after the directive wraps ours in turn.
//! Each `get` runs the Lua handler synchronously in the main Lua thread
//! (nothing may yield: nginx waits for the answer), then applies what
//! `ngx.balancer` recorded in the try's [`PeerData`]; each `free` records
//! how the try ended and, when Lua asked for it, parks the connection in
//! the block's own keepalive pool (`pool.rs`).
pub mod pool;

use std::rc::Rc;

use core::cell::Cell;
use core::ffi::{c_int, c_void};
use core::ptr;

use nginx_sys::*;

use crate::conf::LocConf;
use crate::http::RequestCtx;
use crate::lua::handler::Handler;
use crate::lua::observe::{self, Event};
use crate::lua::phase::Phase;
use crate::lua::sched::Enter;
use crate::lua::vm::pcall;
use crate::lua::Global;
use crate::nginx::log::conf_log;
use crate::nginx::panic::guard;
use crate::nginx::request::{Rc as NgxRc, Request, DECLINED, DONE, ERROR, OK};
use crate::nginx::upstream::{
    call_init_peer, call_init_upstream, process_exiting, round_robin, AddrError, InitPeer,
    InitUpstream, LocalAddr, NewHooks, PeerAddr, PeerConn, PeerHooks, UpConn, UpstreamConf,
};

const BUSY: NgxRc = NGX_BUSY as NgxRc;
/// `balancer_keepalive`'s default.
const DEFAULT_POOL_SIZE: usize = 32;

/// This module's configuration of a `server {}` or `upstream {}` block;
/// only upstream blocks use it.
pub struct SrvConf {
    pub handler: Option<Rc<Handler>>,
    /// `balancer_keepalive`.
    pub pool_size: Option<usize>,
    original_init_upstream: InitUpstream,
    original_init_peer: InitPeer,
    /// The `server` this module added to a block that had none: round
    /// robin choosing it means Lua set no peer.
    placeholder: *const sockaddr,
    /// Idle connections of `enable_keepalive`, per worker.
    pool: pool::Pool<UpConn>,
}

impl Default for SrvConf {
    fn default() -> Self {
        SrvConf {
            handler: None,
            pool_size: None,
            original_init_upstream: None,
            original_init_peer: None,
            placeholder: ptr::null(),
            pool: pool::Pool::new(),
        }
    }
}

/// nginx's `create_srv_conf` of the module.
pub unsafe extern "C" fn create_srv_conf(cf: *mut ngx_conf_t) -> *mut c_void {
    guard(ptr::null_mut(), || {
        // SAFETY: nginx passes the conf being parsed, whose pool lives as
        // long as the cycle; Pool::allocate registers a cleanup that drops
        // the value with the pool.
        let pool = unsafe { ngx::core::Pool::from_ngx_pool((*cf).pool) };
        pool.allocate(SrvConf::default()) as *mut c_void
    })
}

/// Puts `handler` in charge of the peers of the `upstream {}` block being
/// parsed. False (logged) when nginx could not add the placeholder server.
///
/// # Safety
/// `cf` is the configuration being parsed, inside `upstream {}`, and
/// `scf` this module's configuration of that block.
pub unsafe fn configure(cf: *mut ngx_conf_t, scf: &mut SrvConf, handler: Rc<Handler>) -> bool {
    // SAFETY: the caller's contract.
    let Some(us) = (unsafe { UpstreamConf::of_block(cf) }) else {
        return false;
    };
    scf.handler = Some(handler);
    if us.server_count() == 0 {
        // Round robin needs a server; ours stands for "Lua set no peer".
        // SAFETY: the caller's contract (cf is inside this block).
        scf.placeholder = unsafe { us.add_server(cf, b"0.0.0.1") };
        if scf.placeholder.is_null() {
            return false;
        }
    }
    scf.original_init_upstream = match us.init_upstream() {
        Some(f) => {
            // SAFETY: the conf being parsed.
            unsafe { conf_log(cf, NGX_LOG_WARN, "load balancing method redefined") };
            Some(f)
        }
        None => round_robin(),
    };
    us.set_init_upstream(Some(init_upstream));
    us.set_flags(
        NGX_HTTP_UPSTREAM_CREATE
            | NGX_HTTP_UPSTREAM_WEIGHT
            | NGX_HTTP_UPSTREAM_MAX_FAILS
            | NGX_HTTP_UPSTREAM_FAIL_TIMEOUT
            | NGX_HTTP_UPSTREAM_DOWN,
    );
    true
}

fn srv_conf(us: UpstreamConf) -> Option<&'static mut SrvConf> {
    // SAFETY: a block's srv conf slot of this module holds the SrvConf
    // create_srv_conf made, in the cycle's pool (alive while the block is
    // in use); the hooks borrow it for one call and hold no borrow across
    // Lua code.
    unsafe { us.module_conf::<SrvConf>().as_mut() }
}

/// The block's `init_upstream`: sets up the method we wrap, then wraps
/// its per-request hook.
unsafe extern "C" fn init_upstream(
    cf: *mut ngx_conf_t,
    us: *mut ngx_http_upstream_srv_conf_t,
) -> ngx_int_t {
    guard(ERROR, || {
        // SAFETY: nginx passes the block it completes.
        let Some(us) = (unsafe { UpstreamConf::from_raw(us) }) else {
            return ERROR;
        };
        let Some(scf) = srv_conf(us) else {
            return ERROR;
        };
        // SAFETY: nginx's own call of the hook, passed on.
        if unsafe { call_init_upstream(scf.original_init_upstream, cf, us) } != OK {
            return ERROR;
        }
        scf.original_init_peer = us.init_peer();
        us.set_init_peer(Some(init_peer));
        scf.pool.set_max(scf.pool_size.unwrap_or(DEFAULT_POOL_SIZE));
        OK
    })
}

/// What `ngx.balancer` records for the tries of one upstream request, in
/// the request pool. Cells: nginx's hooks and the API reach it by shared
/// reference, the API while a hook runs Lua code.
pub struct PeerData {
    conf: *mut SrvConf,
    r: Request,
    /// The wrapped method's hooks, for tries where Lua sets no peer.
    orig: PeerHooks,
    /// Tries so far (this one included).
    total_tries: Cell<ngx_uint_t>,
    /// `set_more_tries` of this try.
    more_tries: Cell<ngx_uint_t>,
    /// `set_current_peer` of this try.
    addr: Cell<Option<PeerAddr>>,
    /// Its host (TLS name, keepalive key), in the request pool.
    host: Cell<ngx_str_t>,
    /// `bind_to_local_addr`, kept for later tries.
    local: Cell<Option<LocalAddr>>,
    /// `enable_keepalive` of this try: idle timeout (ms), max requests.
    keepalive: Cell<Option<(ngx_msec_t, ngx_uint_t)>>,
    /// How the previous try of a Lua-set peer ended (`NGX_PEER_*`).
    last_state: Cell<ngx_uint_t>,
    /// `set_timeouts` gave the request its own upstream configuration.
    own_conf: Cell<bool>,
}

const NO_STR: ngx_str_t = ngx_str_t {
    len: 0,
    data: ptr::null_mut(),
};

impl PeerData {
    fn conf(&self) -> &'static mut SrvConf {
        // SAFETY: the block's SrvConf (conf memory, outlives requests),
        // borrowed for one step of a hook.
        unsafe { &mut *self.conf }
    }

    fn pool_key<'a>(
        &self,
        addr: &'a PeerAddr,
        host: &'a ngx_str_t,
        local: &'a Option<LocalAddr>,
    ) -> pool::Key<'a> {
        pool::Key {
            addr: addr.bytes(),
            local: local.as_ref().map(LocalAddr::bytes),
            host: host.as_bytes(),
        }
    }
}

/// The request's `init` hook: lets the wrapped method set up its peer
/// data, then puts ours in front of it.
unsafe extern "C" fn init_peer(
    r: *mut ngx_http_request_t,
    us: *mut ngx_http_upstream_srv_conf_t,
) -> ngx_int_t {
    guard(ERROR, || {
        // SAFETY: nginx passes the live request whose upstream it sets up
        // and the upstream block it uses.
        let (Some(r), Some(us)) = (unsafe { Request::from_raw(r) }, unsafe {
            UpstreamConf::from_raw(us)
        }) else {
            return ERROR;
        };
        let Some(scf) = srv_conf(us) else {
            return ERROR;
        };
        if call_init_peer(scf.original_init_peer, r, us) != OK {
            return ERROR;
        }
        let Some(u) = r.upstream() else {
            return ERROR;
        };
        let pc = u.peer();
        let pd = PeerData {
            conf: scf,
            r,
            orig: pc.hooks(),
            total_tries: Cell::new(0),
            more_tries: Cell::new(0),
            addr: Cell::new(None),
            host: Cell::new(NO_STR),
            local: Cell::new(None),
            keepalive: Cell::new(None),
            last_state: Cell::new(0),
            own_conf: Cell::new(false),
        };
        let Some(pd) = r.pool_value(pd) else {
            return ERROR;
        };
        pc.set_hooks(NewHooks {
            get: Some(get_peer),
            free: Some(free_peer),
            data: pd.as_ptr() as *mut c_void,
            set_session: Some(set_session),
            save_session: Some(save_session),
        });
        OK
    })
}

/// The hooks' data: the request's `PeerData`.
///
/// # Safety
/// `data` is what init_peer installed with the hooks.
unsafe fn peer_data(data: *mut c_void) -> Option<&'static PeerData> {
    // SAFETY: init_peer allocated the PeerData in the request's pool and
    // gave it to nginx as the peer connection's data; nginx passes it back
    // to that request's hooks only, while the request (and its pool)
    // lives. Its fields are Cells, so shared references may coexist.
    unsafe { (data as *const PeerData).as_ref() }
}

/// The try whose Lua handler runs (so that `ngx.balancer` finds it).
static RUNNING: Global<*const PeerData> = Global::new(ptr::null());

/// The try being set up by the running `balancer_by_lua*` handler.
#[derive(Clone, Copy)]
pub struct Try(&'static PeerData);

/// The try of the running handler, if the balancer runs.
pub fn running() -> Option<Try> {
    // SAFETY: RUNNING is set only while get() runs the handler of a live
    // request whose pool holds the PeerData, and restored afterwards.
    unsafe { RUNNING.get().as_ref() }.map(Try)
}

unsafe extern "C" fn get_peer(pc: *mut ngx_peer_connection_t, data: *mut c_void) -> ngx_int_t {
    guard(ERROR, || {
        // SAFETY: nginx passes the request's peer connection and the data
        // init_peer installed with this hook.
        let (Some(pc), Some(pd)) = (unsafe { PeerConn::from_raw(pc) }, unsafe {
            peer_data(data)
        }) else {
            return ERROR;
        };
        get(pc, pd)
    })
}

fn get(pc: PeerConn, pd: &'static PeerData) -> NgxRc {
    pd.addr.set(None);
    pd.more_tries.set(0);
    pd.keepalive.set(None);
    pd.total_tries.set(pd.total_tries.get() + 1);
    let rc = run_handler(pd);
    if rc != OK {
        return rc;
    }
    let local = pd.local.get();
    if let Some(l) = local {
        pc.set_local(l);
    }
    let Some(addr) = pd.addr.get() else {
        let rc = pd.orig.call_get(pc);
        if rc == ERROR {
            return rc;
        }
        let placeholder = pd.conf().placeholder;
        if !placeholder.is_null() && pc.sockaddr() == placeholder {
            pd.r.log_error(NGX_LOG_ERR, b"lua balancer: no peer set");
            return ERROR;
        }
        return rc;
    };
    pc.set_peer(addr);
    let more = pd.more_tries.get();
    if more != 0 {
        pc.set_tries(pc.tries().wrapping_add(more));
    }
    if pd.keepalive.get().is_some() {
        let mut host = pd.host.get();
        if host.len == 0 {
            if let Some(u) = pd.r.upstream().filter(|u| u.ssl()) {
                host = u.resolve_ssl_name(pd.r);
                pd.host.set(host);
            }
        }
        let key = pd.pool_key(&addr, &host, &local);
        if let Some(c) = pd.conf().pool.take(&key) {
            debug(
                pd.r,
                "keepalive reusing connection",
                addr.name(),
                host.as_bytes(),
            );
            pc.reuse(c);
            return DONE;
        }
        debug(
            pd.r,
            "keepalive no free connection",
            addr.name(),
            host.as_bytes(),
        );
    }
    OK
}

fn debug(r: Request, what: &str, addr: &[u8], host: &[u8]) {
    if r.logs(NGX_LOG_DEBUG) {
        let mut line = format!("lua balancer: {what}, host: ").into_bytes();
        line.extend_from_slice(addr);
        line.extend_from_slice(b", name: ");
        line.extend_from_slice(host);
        r.log_error(NGX_LOG_DEBUG, &line);
    }
}

/// Runs the block's handler for the try in the main Lua thread, and turns
/// an `ngx.exit` into what nginx expects from a peer getter.
fn run_handler(pd: &'static PeerData) -> NgxRc {
    let r = pd.r;
    let Some(h) = pd.conf().handler.clone() else {
        return ERROR;
    };
    let Some(ctx) = RequestCtx::of_or_create(r) else {
        return ERROR;
    };
    let cache = LocConf::of(r).code_cache();
    // A status an earlier phase recorded is not this handler's.
    let saved_exit = ctx.exit_code.take();
    let L = ctx.vm().state();
    let lua: *mut crate::lua::ctx::LuaCtx = &mut ctx.lua;
    let prev = RUNNING.get();
    RUNNING.set(pd);
    let ok = {
        let _cur = Enter::new(lua, Phase::Balancer);
        observe::note(lua, Phase::Balancer, Event::Run);
        let step = observe::step();
        // SAFETY: the cycle's main state and the live request.
        let ok = match unsafe { h.push(L, r.as_ptr(), cache) } {
            Err(e) => {
                r.log_error(NGX_LOG_ERR, e.msg.as_bytes());
                false
            }
            // SAFETY: the main state with the handler's function on top;
            // pcall leaves the stack as it was before the push.
            Ok(()) => match unsafe { pcall(L, 0) } {
                Ok(()) => true,
                Err(e) => {
                    r.log_error(
                        NGX_LOG_ERR,
                        format!("failed to run balancer_by_lua*: {e}").as_bytes(),
                    );
                    false
                }
            },
        };
        step.end(lua, Phase::Balancer);
        if !ok {
            observe::note(lua, Phase::Balancer, Event::Error);
        }
        ok
    };
    RUNNING.set(prev);
    // Lua code no longer runs: this is the only reference to the context.
    let exit = match RequestCtx::of(r) {
        Some(ctx) => core::mem::replace(&mut ctx.exit_code, saved_exit),
        None => None,
    };
    if !ok {
        return ERROR;
    }
    match exit {
        // What a getter may answer is passed on; nginx has no way to take
        // a status from a peer getter (OpenResty patches it in), so any
        // other exit fails the request as a getter's error does.
        Some(code) if code == ERROR || code == BUSY || code == DECLINED => code,
        Some(code) if code > 0 => ERROR,
        _ => OK,
    }
}

unsafe extern "C" fn free_peer(
    pc: *mut ngx_peer_connection_t,
    data: *mut c_void,
    state: ngx_uint_t,
) {
    guard((), || {
        // SAFETY: as get_peer.
        let (Some(pc), Some(pd)) = (unsafe { PeerConn::from_raw(pc) }, unsafe {
            peer_data(data)
        }) else {
            return;
        };
        free(pc, pd, state)
    })
}

fn free(pc: PeerConn, pd: &'static PeerData, state: ngx_uint_t) {
    let Some(addr) = pd.addr.get() else {
        pd.orig.call_free(pc, state);
        return;
    };
    pd.last_state.set(state);
    if pc.tries() > 0 {
        pc.set_tries(pc.tries() - 1);
    }
    let Some((timeout, max_requests)) = pd.keepalive.get() else {
        return;
    };
    let Some(c) = pc.connection() else {
        debug_conn(pd.r, "keepalive not saving connection", None);
        return;
    };
    let keep = state & NGX_PEER_FAILED as ngx_uint_t == 0
        && c.healthy()
        && (max_requests == 0 || c.requests() < max_requests)
        && pd
            .r
            .upstream()
            .is_some_and(|u| u.keepalive() && u.request_body_sent())
        && !process_exiting()
        && c.watch_read();
    if !keep {
        debug_conn(pd.r, "keepalive not saving connection", Some(c));
        return;
    }
    let scf = pd.conf();
    let (host, local) = (pd.host.get(), pd.local.get());
    let key = pd.pool_key(&addr, &host, &local);
    if let Some(old) = scf.pool.put(&key, c) {
        if old == c {
            return;
        }
        debug_conn(pd.r, "keepalive closing connection", Some(old));
        old.close();
    }
    debug(
        pd.r,
        "keepalive saving connection",
        addr.name(),
        host.as_bytes(),
    );
    pc.forget_connection();
    if c.park(timeout, scf as *mut SrvConf as *mut c_void, idle_read) {
        check_idle(c);
    }
}

fn debug_conn(r: Request, what: &str, c: Option<UpConn>) {
    if r.logs(NGX_LOG_DEBUG) {
        let c = c.map_or(ptr::null_mut(), UpConn::as_ptr);
        r.log_error(
            NGX_LOG_DEBUG,
            format!("lua balancer: {what} {c:p}").as_bytes(),
        );
    }
}

/// A parked connection's read handler: the peer closed it, sent
/// something, or the idle timeout passed.
unsafe extern "C" fn idle_read(ev: *mut ngx_event_t) {
    guard((), || {
        // SAFETY: nginx calls a parked connection's read handler with its
        // read event.
        if let Some(c) = unsafe { UpConn::of_event(ev) } {
            check_idle(c);
        }
    })
}

fn check_idle(c: UpConn) {
    if c.still_idle() {
        return;
    }
    // SAFETY: a parked connection's data is the SrvConf whose pool holds
    // it (set in free); conf memory outlives the worker's connections.
    if let Some(scf) = unsafe { (c.data() as *mut SrvConf).as_mut() } {
        scf.pool.remove(c);
    }
    crate::nginx::log::cycle(NGX_LOG_DEBUG, b"lua balancer: keepalive closing connection");
    c.close();
}

unsafe extern "C" fn set_session(pc: *mut ngx_peer_connection_t, data: *mut c_void) -> ngx_int_t {
    guard(ERROR, || {
        // SAFETY: as get_peer.
        let (Some(pc), Some(pd)) = (unsafe { PeerConn::from_raw(pc) }, unsafe {
            peer_data(data)
        }) else {
            return ERROR;
        };
        // A Lua-chosen peer has no cached TLS session.
        if pd.addr.get().is_some() {
            return OK;
        }
        pd.orig.call_set_session(pc)
    })
}

unsafe extern "C" fn save_session(pc: *mut ngx_peer_connection_t, data: *mut c_void) {
    guard((), || {
        // SAFETY: as get_peer.
        let (Some(pc), Some(pd)) = (unsafe { PeerConn::from_raw(pc) }, unsafe {
            peer_data(data)
        }) else {
            return;
        };
        if pd.addr.get().is_none() {
            pd.orig.call_save_session(pc);
        }
    })
}

// ---- what ngx.balancer does --------------------------------------------------

impl Try {
    fn upstream(self) -> Option<crate::nginx::upstream::Upstream> {
        self.0.r.upstream()
    }

    /// `set_current_peer(addr, port, host)`.
    pub fn set_current_peer(
        self,
        addr: &[u8],
        port: c_int,
        host: &[u8],
    ) -> Result<(), &'static [u8]> {
        let pd = self.0;
        // As nginx's `in_port_t` conversion: the low 16 bits.
        let a = pd.r.parse_peer(addr, port as u16).map_err(|e| match e {
            AddrError::Nginx(s) => s.to_bytes(),
            AddrError::NotAddress => b"no host allowed".as_slice(),
            AddrError::NoMemory => b"no memory".as_slice(),
        })?;
        pd.addr.set(Some(a));
        if host.is_empty() {
            pd.host.set(NO_STR);
            return Ok(());
        }
        let h = pd.r.pool_str(host).ok_or(b"no memory".as_slice())?;
        pd.host.set(h);
        if let Some(u) = self.upstream().filter(|u| u.ssl()) {
            u.set_ssl_name(h);
        }
        Ok(())
    }

    /// `enable_keepalive(idle_timeout, max_requests)`, in ms.
    pub fn enable_keepalive(
        self,
        timeout: ngx_msec_t,
        max_requests: ngx_uint_t,
    ) -> Result<(), &'static [u8]> {
        if self.0.addr.get().is_none() {
            return Err(b"no current peer set");
        }
        self.0.keepalive.set(Some((timeout, max_requests)));
        Ok(())
    }

    /// `set_more_tries(count)`: the warning when nginx's
    /// `*_next_upstream_tries` cut the count.
    pub fn set_more_tries(self, count: c_int) -> Option<&'static [u8]> {
        let pd = self.0;
        let mut count = count as isize as ngx_uint_t;
        let mut warning = None;
        if let Some(u) = self.upstream() {
            let max = u.next_upstream_tries();
            let total = pd
                .total_tries
                .get()
                .wrapping_add(u.peer().tries())
                .wrapping_sub(1);
            if max != 0 && total.wrapping_add(count) > max {
                count = max.wrapping_sub(total) as c_int as isize as ngx_uint_t;
                warning = Some(b"reduced tries due to limit".as_slice());
            }
        }
        pd.more_tries.set(count);
        warning
    }

    /// `get_last_failure()`: the previous try's `NGX_PEER_*` state (0 for
    /// none) and status.
    pub fn last_failure(self) -> (c_int, c_int) {
        (
            self.0.last_state.get() as c_int,
            self.0.r.previous_try_status() as c_int,
        )
    }

    /// `set_timeouts(connect, send, read)` in ms; 0 leaves one as it is.
    pub fn set_timeouts(self, connect: i64, send: i64, read: i64) -> Result<(), &'static [u8]> {
        let pd = self.0;
        let u = self.upstream().ok_or(b"no upstream found".as_slice())?;
        if !pd.own_conf.get() {
            // The request gets its own copy: other requests keep theirs.
            if !u.own_conf(pd.r) {
                return Err(b"no memory");
            }
            pd.own_conf.set(true);
        }
        u.set_timeouts(connect, send, read);
        Ok(())
    }

    /// `recreate_request()`.
    pub fn recreate_request(self) -> bool {
        self.upstream()
            .is_some_and(|u| u.recreate_request(self.0.r))
    }

    /// `set_upstream_tls(on)`.
    pub fn set_upstream_tls(self, on: bool) -> Result<(), &'static [u8]> {
        let u = self.upstream().ok_or(b"no upstream found".as_slice())?;
        if u.set_ssl(on) {
            Ok(())
        } else {
            Err(b"no upstream TLS configured")
        }
    }

    /// `bind_to_local_addr(addr)`.
    pub fn bind_to_local_addr(self, addr: &[u8]) -> Result<(), Vec<u8>> {
        match self.0.r.parse_local_addr(addr) {
            Ok(l) => {
                self.0.local.set(Some(l));
                Ok(())
            }
            Err(AddrError::NoMemory) => Err(b"no memory".to_vec()),
            Err(_) => {
                let mut e = b"invalid addr ".to_vec();
                e.extend_from_slice(addr);
                Err(e)
            }
        }
    }
}

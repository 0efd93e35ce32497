//! Directives, configuration structs and their merge.
pub mod block;
pub mod ssl;

use std::rc::Rc;

use core::ffi::{c_char, c_void};
use core::ptr;

use nginx_sys::*;

use crate::lua::handler::Handler;
use crate::lua::sched;
use crate::lua::vm::Vm;
use crate::nginx::conf::HttpConfs;
use crate::nginx::conf::{conf_error, Conf, CONF_OK};
use crate::nginx::cycle::Cycle;
use crate::nginx::global::Global;
use crate::nginx::log::Log;
use crate::nginx::panic::guard;
use crate::nginx::request::Request;
use crate::nginx::shm::ShmZone;
use crate::nginx::ssl_upstream::{install_proxy_cb, ProxyHook};

/// `http {}`-wide configuration.
pub struct MainConf {
    /// The per-cycle VM, created in postconfiguration.
    pub vm: Option<Vm>,
    pub package_path: Option<Vec<u8>>,
    pub package_cpath: Option<Vec<u8>>,
    pub init: Option<Rc<Handler>>,
    pub init_worker: Option<Rc<Handler>>,
    pub exit_worker: Option<Rc<Handler>>,
    /// Some location uses a handler of this phase, so its nginx hook is
    /// installed (as upstream, unused phases cost nothing).
    pub uses_server_rewrite: bool,
    pub uses_rewrite: bool,
    pub uses_access: bool,
    pub uses_precontent: bool,
    pub uses_log: bool,
    /// Some location has `content_by_lua*`.
    pub uses_content: bool,
    /// Some location has `header_filter_by_lua*` (or `body_filter_by_lua*`,
    /// whose buffers our header filter asks to be in memory) /
    /// `body_filter_by_lua*`: only then are our filters in nginx's chains.
    pub uses_header_filter: bool,
    pub uses_body_filter: bool,
    /// Some server has `ssl_certificate_by_lua*`: its connections' first
    /// read handler is ours (see `nginx::ssl_server`).
    pub uses_ssl_cert: bool,
    /// `rewrite_by_lua_no_postpone`, `access_by_lua_no_postpone`,
    /// `precontent_by_lua_no_postpone` (default off: our handler is moved
    /// to the end of its phase).
    pub rewrite_no_postpone: Option<bool>,
    pub access_no_postpone: Option<bool>,
    pub precontent_no_postpone: Option<bool>,
    /// Inline handlers get consecutive ids: their code cache slots.
    pub next_handler_id: i32,
    /// `lua_max_pending_timers` / `lua_max_running_timers`.
    pub max_pending_timers: usize,
    pub max_running_timers: usize,
    /// `lua_regex_cache_max_entries` (default 1024).
    pub regex_cache_max: Option<u32>,
    /// `lua_thread_cache_max_entries` (default 1024).
    pub thread_cache_max: Option<u32>,
    /// `lua_max_memory` (an extension; default: no limit).
    pub max_memory: Option<usize>,
    /// `lua_max_run_time` in ms (an extension; default: no limit).
    pub max_run_time: Option<ngx_msec_t>,
    /// `lua_regex_match_limit` (default 0: PCRE2's own limit).
    pub regex_match_limit: Option<u32>,
    /// `lua_shared_dict` zones, in declaration order (cycle-pool objects).
    pub shdicts: Vec<ShmZone>,
    /// Zones other nginx modules declared through the C API
    /// (`ngx_http_lua_shared_memory_add`), in declaration order.
    pub foreign_zones: Vec<ShmZone>,
    /// How many of both lists nginx has initialised (init_by_lua waits for
    /// all).
    pub shdicts_ready: usize,
    /// `init_by_lua*` waits for the zones' initialisation (there were
    /// zones when the VM was built), rather than having run already.
    pub init_waits_for_zones: bool,
    /// Package loaders other nginx modules registered through the C API
    /// (`ngx_http_lua_add_package_preload`), put in `package.preload` of
    /// the cycle's VM once it exists.
    pub preload_hooks: Vec<(std::ffi::CString, crate::lua::raw::lua_CFunction)>,
    /// Index of `$host`, whose cached value `ngx.req.set_header("Host")`
    /// invalidates.
    pub host_var_index: Option<usize>,
    /// `lua_capture_error_log` (bytes of the capture buffer).
    pub capture_error_log: Option<usize>,
    /// `lua_sa_restart` (default on).
    pub sa_restart: Option<bool>,
    /// `lua_malloc_trim` (requests between trims; default 1000, 0: off).
    pub malloc_trim: Option<u32>,
    /// `lua_worker_thread_vm_pool_size` (default 10).
    pub worker_thread_vm_pool_size: Option<u32>,
    /// Some location has `lua_metrics` (an extension): the workers count
    /// handler runs, time and errors per location.
    pub metrics: bool,
}

impl MainConf {
    /// The http main configuration `r` runs under.
    pub fn of(r: Request) -> &'static mut MainConf {
        // SAFETY: as LocConf::of; the main conf is only changed while the
        // configuration is read and by the single worker thread.
        unsafe { &mut *r.main_conf::<MainConf>() }
    }

    /// The main conf of the `http {}` block being parsed (None outside
    /// one).
    pub fn of_conf(cf: Conf) -> Option<&'static mut MainConf> {
        // SAFETY: our slot of the block's main conf array holds the
        // MainConf create_main_conf made, in the cycle pool; while nginx
        // parses, only its (single) thread changes it.
        unsafe { (cf.module_main_conf() as *mut MainConf).as_mut() }
    }

    /// The main conf of a cycle's `http {}` block (None without one).
    pub fn of_cycle(cycle: Cycle) -> Option<&'static mut MainConf> {
        let confs = HttpConfs::of_cycle(cycle)?;
        // SAFETY: as of_conf, once the cycle's configuration is complete.
        unsafe { (confs.module_main_conf() as *mut MainConf).as_mut() }
    }

    /// The http main configuration of the arrays a timer runs under.
    pub fn of_confs(confs: HttpConfs) -> &'static mut MainConf {
        // SAFETY: our slot of an http main conf array holds the MainConf
        // create_main_conf made, in the cycle's pool, which outlives the
        // worker's timers; only the single worker thread changes it.
        unsafe { &mut *(confs.module_main_conf() as *mut MainConf) }
    }

    /// Runs `init_by_lua*` (if configured) in the cycle's VM; false when it
    /// failed (logged to `log`).
    pub fn run_init_by_lua(&self, log: Log) -> bool {
        let (Some(init), Some(vm)) = (self.init.clone(), self.vm.as_ref()) else {
            return true;
        };
        // SAFETY: the cycle's live VM, outside any request (no context).
        if let Err(e) = unsafe { sched::run_sync(ptr::null_mut(), vm.state(), &init, true) } {
            log.write(NGX_LOG_ERR, format!("init_by_lua error: {e}").as_bytes());
            return false;
        }
        true
    }

    /// The shared memory zones `init_by_lua*` waits for: `lua_shared_dict`
    /// zones and those other modules added through the C API.
    pub fn zone_count(&self) -> usize {
        self.shdicts.len() + self.foreign_zones.len()
    }

    /// Counts one more zone as initialised (nginx's zone init); once all
    /// are, runs `init_by_lua*` with `ngx_cycle` pointing at the new
    /// cycle, as upstream. False when it failed.
    pub fn zone_ready(&mut self, cycle: Cycle) -> bool {
        self.shdicts_ready += 1;
        if self.shdicts_ready != self.zone_count()
            || !self.init_waits_for_zones
            || crate::nginx::cycle::testing_config()
        {
            return true;
        }
        crate::nginx::cycle::with_cycle(cycle, || self.run_init_by_lua(cycle.new_log()))
    }
}

impl Default for MainConf {
    fn default() -> Self {
        MainConf {
            vm: None,
            package_path: None,
            package_cpath: None,
            init: None,
            init_worker: None,
            exit_worker: None,
            uses_server_rewrite: false,
            uses_rewrite: false,
            uses_access: false,
            uses_precontent: false,
            uses_log: false,
            uses_content: false,
            uses_header_filter: false,
            uses_body_filter: false,
            uses_ssl_cert: false,
            rewrite_no_postpone: None,
            access_no_postpone: None,
            precontent_no_postpone: None,
            next_handler_id: 1,
            max_pending_timers: 1024,
            max_running_timers: 256,
            regex_cache_max: None,
            thread_cache_max: None,
            max_memory: None,
            max_run_time: None,
            regex_match_limit: None,
            shdicts: Vec::new(),
            foreign_zones: Vec::new(),
            shdicts_ready: 0,
            init_waits_for_zones: false,
            preload_hooks: Vec::new(),
            host_var_index: None,
            capture_error_log: None,
            sa_restart: None,
            malloc_trim: None,
            worker_thread_vm_pool_size: None,
            metrics: false,
        }
    }
}

/// Per-location configuration (also used at server and http level, merged
/// down).
#[derive(Default)]
pub struct LocConf {
    /// `server_rewrite_by_lua*`: set at http or server level only; nginx
    /// runs the server rewrite phase with the server's own loc conf.
    pub server_rewrite: Option<Rc<Handler>>,
    pub rewrite: Option<Rc<Handler>>,
    pub access: Option<Rc<Handler>>,
    pub precontent: Option<Rc<Handler>>,
    pub content: Option<Rc<Handler>>,
    pub log: Option<Rc<Handler>>,
    pub header_filter: Option<Rc<Handler>>,
    pub body_filter: Option<Rc<Handler>>,
    /// `ssl_certificate_by_lua*` (http or server level; the server's own
    /// loc conf is read).
    pub ssl_cert: Option<Rc<Handler>>,
    /// `ssl_client_hello_by_lua*` (likewise; the default server's runs).
    pub ssl_client_hello: Option<Rc<Handler>>,
    /// `ssl_session_fetch_by_lua*` / `ssl_session_store_by_lua*` (http
    /// level only, as upstream: inherited by every server).
    pub ssl_sess_fetch: Option<Rc<Handler>>,
    pub ssl_sess_store: Option<Rc<Handler>>,
    /// `proxy_ssl_certificate_by_lua*` / `proxy_ssl_verify_by_lua*`
    /// (location level; run inside the upstream handshake).
    pub proxy_ssl_cert: Option<Rc<Handler>>,
    pub proxy_ssl_verify: Option<Rc<Handler>>,
    /// `lua_upstream_skip_openssl_default_verify` (default off).
    pub upstream_skip_default_verify: Option<bool>,
    /// `lua_code_cache`; `None` until set or merged.
    pub code_cache: Option<bool>,
    /// `lua_check_client_abort`.
    pub check_client_abort: Option<bool>,
    /// `lua_socket_*`.
    pub socket_connect_timeout: Option<ngx_msec_t>,
    pub socket_send_timeout: Option<ngx_msec_t>,
    pub socket_read_timeout: Option<ngx_msec_t>,
    pub socket_keepalive_timeout: Option<ngx_msec_t>,
    pub socket_pool_size: Option<usize>,
    pub socket_buffer_size: Option<usize>,
    pub socket_log_errors: Option<bool>,
    /// `lua_need_request_body` (default off).
    pub need_request_body: Option<bool>,
    /// `lua_use_default_type` (default on).
    pub use_default_type: Option<bool>,
    /// `lua_http10_buffering` (default on).
    pub http10_buffering: Option<bool>,
    /// `lua_transform_underscores_in_response_headers` (default on).
    pub transform_underscores: Option<bool>,
    /// `lua_ssl_*` and the TLS context of cosockets.
    pub ssl: ssl::SslConf,
    /// This level's number among the http block's location configurations
    /// (from 1), where `ngx.metrics` keeps its counters.
    pub metrics_id: u32,
}

impl LocConf {
    /// Our slot of a loc conf array (a server's, at configuration time).
    pub fn of_confs(confs: HttpConfs) -> &'static LocConf {
        // SAFETY: our slot of an http loc conf array holds the LocConf
        // create_loc_conf made, in the cycle's pool.
        unsafe { &*(confs.module_loc_conf() as *const LocConf) }
    }

    /// The location configuration `r` runs under.
    pub fn of(r: Request) -> &'static LocConf {
        // SAFETY: our slot of a request's loc_conf holds the LocConf
        // create_loc_conf made; it lives in the cycle's pool, longer than
        // any request of the cycle.
        unsafe { &*r.loc_conf::<LocConf>() }
    }

    pub fn code_cache(&self) -> bool {
        self.code_cache.unwrap_or(true)
    }
    pub fn socket_connect_timeout(&self) -> ngx_msec_t {
        self.socket_connect_timeout.unwrap_or(60_000)
    }
    pub fn socket_send_timeout(&self) -> ngx_msec_t {
        self.socket_send_timeout.unwrap_or(60_000)
    }
    pub fn socket_read_timeout(&self) -> ngx_msec_t {
        self.socket_read_timeout.unwrap_or(60_000)
    }
    pub fn socket_keepalive_timeout(&self) -> ngx_msec_t {
        self.socket_keepalive_timeout.unwrap_or(60_000)
    }
    pub fn socket_pool_size(&self) -> usize {
        self.socket_pool_size.unwrap_or(30)
    }
    pub fn socket_log_errors(&self) -> bool {
        self.socket_log_errors.unwrap_or(true)
    }
    pub fn need_request_body(&self) -> bool {
        self.need_request_body.unwrap_or(false)
    }
    pub fn use_default_type(&self) -> bool {
        self.use_default_type.unwrap_or(true)
    }
    pub fn http10_buffering(&self) -> bool {
        self.http10_buffering.unwrap_or(true)
    }
    pub fn transform_underscores(&self) -> bool {
        self.transform_underscores.unwrap_or(true)
    }
}

/// Location configurations made so far in the `http {}` block being
/// read: each gets the next number as its `metrics_id` (0 is for Lua code
/// outside any location). Configuration is read by one thread, one block
/// at a time; the count restarts with each block's main conf, made first.
static LOC_CONFS: Global<u32> = Global::new(0);

pub unsafe extern "C" fn create_main_conf(cf: *mut ngx_conf_t) -> *mut c_void {
    guard(ptr::null_mut(), || {
        LOC_CONFS.set(0);
        // The first of our hooks nginx calls: panics are logged from here on.
        crate::nginx::panic::install_hook();
        // SAFETY: nginx calls the hook with the configuration being parsed.
        let cf = unsafe { Conf::from_raw(cf) };
        cf.alloc(MainConf::default())
            .map_or(ptr::null_mut(), |p| p.as_ptr() as *mut c_void)
    })
}

pub unsafe extern "C" fn init_main_conf(_cf: *mut ngx_conf_t, conf: *mut c_void) -> *mut c_char {
    guard(conf_error(), || {
        // SAFETY: nginx passes the MainConf create_main_conf made.
        let mcf = unsafe { &*(conf as *const MainConf) };
        // The regex settings are process-wide (PCRE2's match context, the
        // Lua side's compile cache); the VM of this cycle is built right
        // after.
        use core::sync::atomic::Ordering::Relaxed;
        crate::regex::CACHE_MAX.store(mcf.regex_cache_max.unwrap_or(1024), Relaxed);
        crate::regex::MATCH_LIMIT.store(mcf.regex_match_limit.unwrap_or(0), Relaxed);
        CONF_OK
    })
}

pub unsafe extern "C" fn create_loc_conf(cf: *mut ngx_conf_t) -> *mut c_void {
    guard(ptr::null_mut(), || {
        // SAFETY: as in create_main_conf.
        let cf = unsafe { Conf::from_raw(cf) };
        // Not through the main conf: while nginx creates the http block's
        // own confs, cf->ctx is still the enclosing (core) context.
        let metrics_id = LOC_CONFS.get() + 1;
        LOC_CONFS.set(metrics_id);
        cf.alloc(LocConf {
            metrics_id,
            ..LocConf::default()
        })
        .map_or(ptr::null_mut(), |p| p.as_ptr() as *mut c_void)
    })
}

pub unsafe extern "C" fn merge_loc_conf(
    cf: *mut ngx_conf_t,
    prev: *mut c_void,
    conf: *mut c_void,
) -> *mut c_char {
    guard(conf_error(), || {
        // SAFETY: nginx passes the configuration being merged and two
        // distinct LocConf create_loc_conf made (the level above, this
        // one). The previous level is written too: its TLS context is kept
        // there.
        let (cf, prev, conf) = unsafe {
            (
                Conf::from_raw(cf),
                &mut *(prev as *mut LocConf),
                &mut *(conf as *mut LocConf),
            )
        };
        if conf.merge(prev, cf) {
            CONF_OK
        } else {
            conf_error()
        }
    })
}

impl LocConf {
    /// Inherits what this level does not set from the level above.
    fn merge(&mut self, prev: &mut LocConf, cf: Conf) -> bool {
        fn inherit(slot: &mut Option<Rc<Handler>>, prev: &Option<Rc<Handler>>) {
            if slot.is_none() {
                slot.clone_from(prev);
            }
        }
        inherit(&mut self.server_rewrite, &prev.server_rewrite);
        inherit(&mut self.rewrite, &prev.rewrite);
        inherit(&mut self.access, &prev.access);
        inherit(&mut self.precontent, &prev.precontent);
        inherit(&mut self.content, &prev.content);
        inherit(&mut self.log, &prev.log);
        inherit(&mut self.header_filter, &prev.header_filter);
        inherit(&mut self.body_filter, &prev.body_filter);
        inherit(&mut self.ssl_cert, &prev.ssl_cert);
        inherit(&mut self.ssl_client_hello, &prev.ssl_client_hello);
        inherit(&mut self.ssl_sess_fetch, &prev.ssl_sess_fetch);
        inherit(&mut self.ssl_sess_store, &prev.ssl_sess_store);
        // A location's own handler needs the proxy module's TLS context
        // there; an inherited one is installed where there is one.
        for (own, inherited, hook, name) in [
            (
                self.proxy_ssl_cert.is_some(),
                prev.proxy_ssl_cert.is_some(),
                ProxyHook::Cert,
                "proxy_ssl_certificate_by_lua*",
            ),
            (
                self.proxy_ssl_verify.is_some(),
                prev.proxy_ssl_verify.is_some(),
                ProxyHook::Verify,
                "proxy_ssl_verify_by_lua*",
            ),
        ] {
            if !(own || inherited) {
                continue;
            }
            if !install_proxy_cb(cf, hook) && own {
                cf.log(
                    NGX_LOG_EMERG,
                    &format!("{name} should be used with proxy_pass https url"),
                );
                return false;
            }
        }
        inherit(&mut self.proxy_ssl_cert, &prev.proxy_ssl_cert);
        inherit(&mut self.proxy_ssl_verify, &prev.proxy_ssl_verify);
        if self.code_cache.is_none() {
            self.code_cache = Some(prev.code_cache());
        }
        macro_rules! inherit_opt {
            ($($f:ident),*) => { $( if self.$f.is_none() { self.$f = prev.$f; } )* };
        }
        inherit_opt!(
            socket_connect_timeout,
            socket_send_timeout,
            socket_read_timeout,
            socket_keepalive_timeout,
            socket_pool_size,
            socket_buffer_size,
            socket_log_errors,
            need_request_body,
            use_default_type,
            http10_buffering,
            transform_underscores,
            upstream_skip_default_verify
        );
        if self.check_client_abort.is_none() {
            self.check_client_abort = Some(prev.check_client_abort.unwrap_or(false));
        }
        ssl::merge(cf, &mut prev.ssl, &mut self.ssl)
    }
}

/// The module's main conf of a cycle (None outside `http {}`); see
/// [`MainConf::of_cycle`].
///
/// # Safety
/// `cycle` must be null or a live cycle.
pub unsafe fn main_conf_from_cycle(cycle: *mut ngx_cycle_t) -> Option<&'static mut MainConf> {
    // SAFETY: the caller's cycle.
    MainConf::of_cycle(unsafe { Cycle::from_raw(cycle) }?)
}

/// The module's main conf for a request.
///
/// # Safety
/// `r` must be a live request.
pub unsafe fn main_conf(r: *mut ngx_http_request_t) -> &'static mut MainConf {
    // SAFETY: every http request carries its main_conf array.
    unsafe { &mut *(*(*r).main_conf.add(crate::nginx::module::ctx_index()) as *mut MainConf) }
}

/// The module's location conf for a request.
///
/// # Safety
/// `r` must be a live request.
pub unsafe fn loc_conf(r: *mut ngx_http_request_t) -> &'static LocConf {
    // SAFETY: every http request carries its loc_conf array.
    unsafe { &*(*(*r).loc_conf.add(crate::nginx::module::ctx_index()) as *const LocConf) }
}

//! Writers of our own in nginx's error log chains: a node with a `writer`
//! callback (the mechanism nginx uses for `syslog:` and `memory:` logs),
//! inserted right after the head of every error log chain of a cycle, so
//! it sees each message the chain's first log accepts, fully formatted.
//!
//! nginx walks a chain from its head and stops at the first log whose
//! level is below the message's (chains are kept most verbose first). The
//! node takes its head's level, so it is reached exactly when the head
//! writes. Connection logs are copies of a location's head whose `next`
//! still points into the shared chain, so requests reach the node too.
use core::ffi::c_void;
use core::ptr;

use nginx_sys::*;

use super::request::Request;

/// What nginx calls for each message: the node (whose `wdata` is the
/// writer's data), the level, and the line with its trailing newline.
pub type Writer = unsafe extern "C" fn(*mut ngx_log_t, ngx_uint_t, *mut u_char, usize);

/// The heads of every error log chain of `cycle`: the cycle's own and
/// those `error_log` set in http, server or location blocks.
///
/// # Safety
/// `cycle` is a cycle whose configuration is complete (init_module or
/// later).
unsafe fn chain_heads(cycle: *mut ngx_cycle_t) -> Vec<*mut ngx_log_t> {
    let mut heads = Vec::new();
    // SAFETY: the cycle's conf arrays and the location trees nginx built
    // for it live as long as the cycle; every pointer followed is one
    // nginx set (or null) while configuring.
    unsafe {
        heads.push(ptr::addr_of_mut!((*cycle).new_log));
        let http = *(*cycle).conf_ctx.add(ngx_http_module.index) as *mut ngx_http_conf_ctx_t;
        if http.is_null() {
            return heads;
        }
        let cmcf = *(*http).main_conf.add(ngx_http_core_module.ctx_index)
            as *mut ngx_http_core_main_conf_t;
        let top =
            *(*http).loc_conf.add(ngx_http_core_module.ctx_index) as *mut ngx_http_core_loc_conf_t;
        let mut locs: Vec<*mut ngx_http_core_loc_conf_t> = vec![top];
        let servers = core::slice::from_raw_parts(
            (*cmcf).servers.elts as *const *mut ngx_http_core_srv_conf_t,
            (*cmcf).servers.nelts,
        );
        for &cscf in servers {
            locs.push(*(*(*cscf).ctx).loc_conf.add(ngx_http_core_module.ctx_index) as _);
            let mut named = (*cscf).named_locations;
            while !named.is_null() && !(*named).is_null() {
                locs.push(*named);
                named = named.add(1);
            }
        }
        let mut i = 0;
        while i < locs.len() {
            let clcf = locs[i];
            i += 1;
            if clcf.is_null() {
                continue;
            }
            let log = (*clcf).error_log;
            if !log.is_null() && !heads.contains(&log) {
                heads.push(log);
            }
            let mut regex = (*clcf).regex_locations;
            while !regex.is_null() && !(*regex).is_null() {
                locs.push(*regex);
                regex = regex.add(1);
            }
            let mut nodes = vec![(*clcf).static_locations];
            while let Some(n) = nodes.pop() {
                if n.is_null() {
                    continue;
                }
                locs.push((*n).exact);
                locs.push((*n).inclusive);
                nodes.extend([(*n).left, (*n).right, (*n).tree]);
            }
        }
    }
    heads
}

/// Adds a node calling `writer` (with `data` as its `wdata`) after the
/// head of every error log chain of `cycle`; false when the pool is out of
/// memory.
///
/// # Safety
/// As [`chain_heads`]; `data` outlives the cycle's logs.
pub unsafe fn add_to_cycle(cycle: *mut ngx_cycle_t, writer: Writer, data: *mut c_void) -> bool {
    // SAFETY: the chains belong to the cycle, whose pool outlives them.
    unsafe {
        for head in chain_heads(cycle) {
            let mut n = head;
            let mut present = false;
            while !n.is_null() {
                present |= (*n).writer.map(|w| w as usize) == Some(writer as usize);
                n = (*n).next;
            }
            if present {
                continue;
            }
            let node =
                ngx_pcalloc((*cycle).pool, core::mem::size_of::<ngx_log_t>()) as *mut ngx_log_t;
            if node.is_null() {
                return false;
            }
            (*node).log_level = (*head).log_level;
            (*node).writer = Some(writer);
            (*node).wdata = data;
            (*node).next = (*head).next;
            (*head).next = node;
        }
    }
    true
}

/// The log messages of the running code go to: the request's, else the
/// cycle's.
pub fn log_of(r: Option<Request>) -> *mut ngx_log_t {
    r.map_or_else(super::log::cycle_log, |r| r.log())
}

/// The level `log_of(r)` accepts, as upstream reports it: any debug mask
/// counts as `debug`.
pub fn level_of(r: Option<Request>) -> usize {
    // SAFETY: log_of gives a live request's log or the cycle's (or null).
    let level = unsafe { log_of(r).as_ref() }.map_or(NGX_LOG_NOTICE as usize, |l| l.log_level);
    level.min(NGX_LOG_DEBUG as usize)
}

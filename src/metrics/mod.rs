//! `ngx.metrics` and `lua_metrics;` (an extension beyond upstream): what
//! the worker's Lua code does, in Prometheus' text format. Per worker:
//! each worker counts its own and serves its own (docs/design.md,
//! "Metrics", says why).
//!
//! Counted here, when some location has `lua_metrics` (through the
//! runtime's observer slot): handler runs, the time Lua code ran and Lua
//! errors, by location and phase. Read when asked, from other features
//! through [`Sources`] (which the module fills, as features do not import
//! each other) and from lower layers: timers, keepalive pools, shared
//! dicts, the VM's memory.
use std::collections::BTreeMap;

use crate::codec::prometheus::{Kind, Text};
use crate::conf::{LocConf, MainConf};
use crate::lua::ctx::LuaCtx;
use crate::lua::observe::{self, Event};
use crate::lua::phase::{Phase, REQUEST_PHASES};
use crate::nginx::cycle::{self, Cycle};
use crate::nginx::global::{Global, Worker};
use crate::nginx::request::Request;

/// Phase numbers run from 1 to 16.
const PHASES: usize = 17;

#[derive(Clone, Copy, Default)]
struct Counts {
    runs: u64,
    ns: u64,
    errors: u64,
}

struct Loc {
    name: Vec<u8>,
    phases: [Counts; PHASES],
}

/// Counters by a location configuration's `metrics_id` (0: Lua code that
/// runs outside locations: timers, `init_worker_by_lua*`, TLS phases).
#[derive(Default)]
struct State {
    locs: Vec<Option<Box<Loc>>>,
}

static STATE: Worker<State> = Worker::new();

/// Gets a keepalive pool's key and idle connections.
pub type EachPool<'a> = &'a mut dyn FnMut(&[u8], usize);
/// Gets a zone's name, capacity and free bytes.
pub type EachZone<'a> = &'a mut dyn FnMut(&[u8], usize, usize);

/// What other features expose, given by the module at worker start.
#[derive(Clone, Copy)]
pub struct Sources {
    /// Pending and running timers.
    pub timers: fn() -> (usize, usize),
    /// Keepalive pools: connects that reused an idle connection and those
    /// that found none (hits, misses); `each` gets every pool's key and
    /// idle connections.
    pub pools: fn(each: EachPool<'_>) -> (u64, u64),
    /// Shared dicts: `each` gets every zone's name, capacity and free
    /// bytes.
    pub zones: fn(each: EachZone<'_>),
}

static SOURCES: Global<Option<Sources>> = Global::new(None);

pub fn set_sources(s: Sources) {
    SOURCES.set(Some(s));
}

/// Worker start: counting starts when a location has `lua_metrics`.
pub fn start_worker(mcf: &MainConf) {
    if mcf.metrics {
        observe::set(Some(on_event));
    }
}

/// Worker exit: the counters go.
pub fn stop_worker() {
    observe::set(None);
    drop(STATE.take());
}

fn on_event(ctx: *mut LuaCtx, phase: Phase, ev: Event) {
    let req = if phase.bit() & REQUEST_PHASES != 0 {
        // SAFETY: the observer's contract: ctx is null or the live context
        // of the Lua code concerned; in a request phase its request is
        // the live request that runs it.
        unsafe { ctx.as_ref().and_then(|c| Request::from_raw(c.r)) }
    } else {
        None
    };
    let id = req.map_or(0, |r| LocConf::of(r).metrics_id as usize);
    STATE.with(|st| {
        if st.locs.len() <= id {
            st.locs.resize_with(id + 1, || None);
        }
        let loc = st.locs[id].get_or_insert_with(|| {
            Box::new(Loc {
                name: req.map_or(Vec::new(), |r| r.location_name().to_vec()),
                phases: [Counts::default(); PHASES],
            })
        });
        let c = &mut loc.phases[phase as usize];
        match ev {
            Event::Run => c.runs += 1,
            Event::Time(ns) => c.ns += ns,
            Event::Error => c.errors += 1,
        }
    })
}

/// The `phase` label: `ngx.get_phase()`'s names.
fn phase_name(i: usize) -> &'static str {
    match i {
        1 => "init",
        2 => "init_worker",
        3 => "set",
        4 => "rewrite",
        5 => "access",
        6 => "content",
        7 => "log",
        8 => "header_filter",
        9 => "body_filter",
        10 => "timer",
        11 => "exit_worker",
        12 => "server_rewrite",
        13 => "precontent",
        14 => "balancer",
        15 => "ssl_cert",
        16 => "ssl_client_hello",
        _ => "unknown",
    }
}

/// The worker's metrics as Prometheus text.
pub fn render() -> Vec<u8> {
    let worker = cycle::worker_id().map_or_else(|| "master".to_string(), |w| w.to_string());
    let w = worker.as_bytes();
    let mut t = Text::new();

    // Locations that share a name (a location and its `if` blocks) are
    // one series.
    let mut by_name: BTreeMap<Vec<u8>, [Counts; PHASES]> = BTreeMap::new();
    STATE.with(|st| {
        for loc in st.locs.iter().flatten() {
            let e = by_name
                .entry(loc.name.clone())
                .or_insert([Counts::default(); PHASES]);
            for (sum, c) in e.iter_mut().zip(loc.phases.iter()) {
                sum.runs += c.runs;
                sum.ns += c.ns;
                sum.errors += c.errors;
            }
        }
    });
    type Field = fn(&Counts) -> f64;
    let families: [(&str, &str, Field); 3] = [
        (
            "ngx_lua_handler_runs_total",
            "Lua handlers started, by location and phase (a request phase's location is the request's; others have location=\"\").",
            |c| c.runs as f64,
        ),
        (
            "ngx_lua_handler_seconds_total",
            "Time Lua code ran, by location and phase (waits not included; Lua run inside it, like filters under ngx.say, included).",
            |c| c.ns as f64 / 1e9,
        ),
        (
            "ngx_lua_errors_total",
            "Lua errors that aborted a handler, thread or timer, by location and phase.",
            |c| c.errors as f64,
        ),
    ];
    for (name, help, field) in families {
        t.family(name, Kind::Counter, help);
        for (loc, phases) in &by_name {
            for (i, c) in phases.iter().enumerate() {
                if c.runs == 0 && c.errors == 0 && c.ns == 0 {
                    continue;
                }
                let labels: [(&str, &[u8]); 3] = [
                    ("worker", w),
                    ("location", loc),
                    ("phase", phase_name(i).as_bytes()),
                ];
                t.sample(name, &labels, field(c));
            }
        }
    }

    let src = SOURCES.get();
    if let Some(s) = src {
        let (pending, running) = (s.timers)();
        t.family(
            "ngx_lua_timers_pending",
            Kind::Gauge,
            "Timers waiting to run.",
        );
        t.sample("ngx_lua_timers_pending", &[("worker", w)], pending as f64);
        t.family("ngx_lua_timers_running", Kind::Gauge, "Timers running.");
        t.sample("ngx_lua_timers_running", &[("worker", w)], running as f64);

        let mut idle = Vec::new();
        let (hits, misses) = (s.pools)(&mut |k, n| idle.push((k.to_vec(), n)));
        idle.sort();
        t.family(
            "ngx_lua_socket_pool_hits_total",
            Kind::Counter,
            "Cosocket connects that reused an idle keepalive connection.",
        );
        t.sample(
            "ngx_lua_socket_pool_hits_total",
            &[("worker", w)],
            hits as f64,
        );
        t.family(
            "ngx_lua_socket_pool_misses_total",
            Kind::Counter,
            "Cosocket connects that found no idle keepalive connection.",
        );
        t.sample(
            "ngx_lua_socket_pool_misses_total",
            &[("worker", w)],
            misses as f64,
        );
        t.family(
            "ngx_lua_socket_pool_idle",
            Kind::Gauge,
            "Idle connections in a keepalive pool.",
        );
        for (k, n) in &idle {
            t.sample(
                "ngx_lua_socket_pool_idle",
                &[("worker", w), ("pool", k)],
                *n as f64,
            );
        }

        let mut zones = Vec::new();
        (s.zones)(&mut |name, cap, free| zones.push((name.to_vec(), cap, free)));
        t.family(
            "ngx_lua_shdict_capacity_bytes",
            Kind::Gauge,
            "Size of a lua_shared_dict zone (shared by all workers).",
        );
        for (name, cap, _) in &zones {
            t.sample(
                "ngx_lua_shdict_capacity_bytes",
                &[("zone", name)],
                *cap as f64,
            );
        }
        t.family(
            "ngx_lua_shdict_free_bytes",
            Kind::Gauge,
            "Bytes in free pages of a lua_shared_dict zone.",
        );
        for (name, _, free) in &zones {
            t.sample("ngx_lua_shdict_free_bytes", &[("zone", name)], *free as f64);
        }
    }

    let mem = MainConf::of_cycle(Cycle::current())
        .and_then(|m| m.vm.as_ref())
        .map(|vm| vm.memory_bytes());
    if let Some(mem) = mem {
        t.family(
            "ngx_lua_memory_bytes",
            Kind::Gauge,
            "Memory of the worker's LuaJIT VM (garbage not yet collected included).",
        );
        t.sample("ngx_lua_memory_bytes", &[("worker", w)], mem as f64);
    }
    t.finish()
}

/// The content type of Prometheus' text format.
const CONTENT_TYPE: &[u8] = b"text/plain; version=0.0.4; charset=utf-8";

/// The content handler of `lua_metrics;`: this worker's metrics.
pub unsafe extern "C" fn handler(r: *mut nginx_sys::ngx_http_request_t) -> nginx_sys::ngx_int_t {
    crate::nginx::panic::guard(crate::nginx::request::ERROR, || {
        // SAFETY: nginx calls a content handler with a live request.
        match unsafe { Request::from_raw(r) } {
            Some(r) => crate::nginx::respond::send_static(r, CONTENT_TYPE, &render()),
            None => crate::nginx::request::ERROR,
        }
    })
}

//! A `lua_shared_dict` zone: an nginx shared memory zone managed by the
//! slab allocator, whose mutex guards every operation on the store.
use core::alloc::Layout;
use core::ffi::c_void;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, Ordering};

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use nginx_sys::{
    ngx_int_t, ngx_shm_zone_t, ngx_str_t, NGX_ERROR, NGX_LOG_EMERG, NGX_LOG_ERR, NGX_LOG_NOTICE,
    NGX_LOG_WARN, NGX_OK,
};
use ngx::allocator::Allocator;
use ngx::core::slab::LockedSlabPool;
use ngx::core::SlabPool;

use super::store::{Alloc, Dict, Shctx};
use crate::codec::snapshot::{self, Encoder};
use crate::conf::MainConf;
use crate::nginx::conf::{parse_size, parse_time, str_of, Conf};
use crate::nginx::cycle::{self, Cycle};
use crate::nginx::global::Global;
use crate::nginx::log::Log;
use crate::nginx::shm::{page_size, ShmZone};

/// Upstream's smallest accepted size is 8192 bytes.
pub const MIN_SIZE: usize = 8192;

/// Per-cycle description of one zone (in the cycle pool; the zone's data).
pub struct Zone {
    pub name: Vec<u8>,
    shm: ShmZone,
    /// The zone's slab pool, once nginx has mapped it.
    slab: Option<SlabPool>,
    /// The store's root in the zone, once initialised.
    sh: *mut Shctx,
    mcf: *mut MainConf,
    cycle: Cycle,
    /// `persist=`: the zone's snapshot file.
    pub persist: Option<Persist>,
    /// The running cycle's zone of this name, which a reload replaces:
    /// the entries to keep when nginx gives this zone fresh memory (a new
    /// size). Valid only until this zone's init, which clears it.
    prev: Option<ShmZone>,
}

/// nginx's slab pool, locked, as the store's allocator.
pub struct Slab<'a>(&'a LockedSlabPool);

/// Store blocks hold u64s and pointers.
fn layout(size: usize) -> Option<Layout> {
    Layout::from_size_align(size, 8).ok()
}

impl Alloc for Slab<'_> {
    fn alloc(&mut self, size: usize) -> Option<NonNull<u8>> {
        let p = self.0.allocate(layout(size)?).ok()?;
        Some(p.cast())
    }

    unsafe fn free(&mut self, p: NonNull<u8>, size: usize) {
        if let Some(l) = layout(size) {
            // SAFETY: Alloc::free's contract: p came from alloc(size) of this
            // pool, with this layout.
            unsafe { self.0.deallocate(p, l) };
        }
    }
}

impl Zone {
    /// Runs `f` on the store with the zone locked; None before the zone
    /// was initialised.
    pub fn with<R>(&self, f: impl FnOnce(&mut Dict<Slab<'_>>) -> R) -> Option<R> {
        let slab = self.slab.as_ref().filter(|_| !self.sh.is_null())?;
        let locked = slab.lock();
        // SAFETY: sh was created over this pool (init_zone); holding the
        // pool's mutex gives exclusive access until `locked` drops, after
        // the view `d` is gone.
        let mut d = unsafe { Dict::attach(self.sh, Slab(&locked)) };
        Some(f(&mut d))
    }

    /// nginx's zone (what the C API's `ngx_http_lua_find_zone` returns).
    pub fn shm(&self) -> ShmZone {
        self.shm
    }

    pub fn capacity(&self) -> usize {
        self.shm.size()
    }

    /// Bytes in free slab pages (as upstream's free_space).
    pub fn free_space(&self) -> usize {
        let Some(slab) = self.slab.as_ref() else {
            return 0;
        };
        let _locked = slab.lock();
        slab.as_ref().pfree * page_size()
    }
}

/// The main conf whose VM is being built (postconfiguration), so the Lua
/// side can list zones before the cycle is running.
static CONFIGURING: AtomicPtr<MainConf> = AtomicPtr::new(ptr::null_mut());

/// Runs `f` with `mcf`'s zones visible to [`zones`].
pub fn while_configuring<R>(mcf: &mut MainConf, f: impl FnOnce(&mut MainConf) -> R) -> R {
    let prev = CONFIGURING.swap(mcf as *mut MainConf, Ordering::Relaxed);
    let r = f(mcf);
    CONFIGURING.store(prev, Ordering::Relaxed);
    r
}

fn zones_of(mcf: &MainConf) -> impl Iterator<Item = &Zone> {
    // SAFETY: every zone of the list was declared with its Zone as data
    // (declare), which lives in the cycle pool as long as the zone.
    mcf.shdicts
        .iter()
        .map(|z| unsafe { &*(z.data() as *const Zone) })
}

/// The zones of the configuration being built, else of the running cycle.
pub fn zones() -> impl ExactSizeIterator<Item = &'static Zone> {
    let p = CONFIGURING.load(Ordering::Relaxed);
    // SAFETY: CONFIGURING points at a live main conf while set (see
    // while_configuring).
    let mcf = match unsafe { p.as_ref() } {
        Some(m) => Some(m),
        None => MainConf::of_cycle(Cycle::current()).map(|m| &*m),
    };
    let shm: &'static [ShmZone] = mcf.map_or(&[], |m| m.shdicts.as_slice());
    // SAFETY: every zone of the list was declared with its Zone as data
    // (declare), which lives in the cycle pool as long as the zone.
    shm.iter().map(|z| unsafe { &*(z.data() as *const Zone) })
}

/// The optional words after `lua_shared_dict NAME SIZE`: `persist=PATH`
/// and `persist_interval=TIME`; Err after logging.
fn parse_persist(cf: Conf, opts: &[ngx_str_t]) -> Result<Option<Persist>, ()> {
    let mut path: Option<&[u8]> = None;
    let mut interval = None;
    for o in opts {
        let w = str_of(o);
        let show = String::from_utf8_lossy(w);
        if let Some(p) = w.strip_prefix(b"persist=") {
            if p.is_empty() || path.is_some() {
                cf.log(NGX_LOG_EMERG, &format!("invalid parameter \"{show}\""));
                return Err(());
            }
            path = Some(p);
        } else if let Some(t) = w.strip_prefix(b"persist_interval=") {
            match parse_time(t) {
                Some(ms) if interval.is_none() => interval = Some(ms as u64),
                _ => {
                    cf.log(
                        NGX_LOG_EMERG,
                        &format!("invalid persist_interval \"{show}\""),
                    );
                    return Err(());
                }
            }
        } else {
            cf.log(NGX_LOG_EMERG, &format!("invalid parameter \"{show}\""));
            return Err(());
        }
    }
    let Some(p) = path else {
        if interval.is_some() {
            cf.log(NGX_LOG_EMERG, "\"persist_interval\" requires \"persist\"");
            return Err(());
        }
        return Ok(None);
    };
    // Relative to nginx's prefix, as nginx's own paths (pid, logs).
    let full = if p.starts_with(b"/") {
        p.to_vec()
    } else {
        let mut f = cf.cycle().prefix().to_vec();
        if !f.is_empty() && !f.ends_with(b"/") {
            f.push(b'/');
        }
        f.extend_from_slice(p);
        f
    };
    Ok(Some(Persist {
        path: full,
        interval_ms: interval.unwrap_or(DEFAULT_INTERVAL_MS),
    }))
}

/// `lua_shared_dict NAME SIZE [persist=PATH] [persist_interval=TIME]`:
/// registers the zone; false after logging the error.
pub fn declare(
    cf: Conf,
    mcf: &mut MainConf,
    name: &ngx_str_t,
    size_arg: &ngx_str_t,
    opts: &[ngx_str_t],
) -> bool {
    let args = cf.args();
    if name.len == 0 {
        cf.log(
            NGX_LOG_EMERG,
            &format!("invalid lua shared dict name \"{}\"", args.show(1)),
        );
        return false;
    }
    let size = match parse_size(str_of(size_arg)) {
        Some(s) if s >= MIN_SIZE => s,
        _ => {
            cf.log(
                NGX_LOG_EMERG,
                &format!("invalid lua shared dict size \"{}\"", args.show(2)),
            );
            return false;
        }
    };
    let Ok(persist) = parse_persist(cf, opts) else {
        return false;
    };
    if let Some(p) = &persist {
        let taken = zones_of(mcf).find(|z| z.persist.as_ref().is_some_and(|q| q.path == p.path));
        if let Some(other) = taken {
            cf.log(
                NGX_LOG_EMERG,
                &format!(
                    "persist file \"{}\" is already used by lua_shared_dict \"{}\"",
                    String::from_utf8_lossy(&p.path),
                    String::from_utf8_lossy(&other.name)
                ),
            );
            return false;
        }
    }
    let Some(shm) = ShmZone::add(cf, name, size) else {
        return false;
    };
    // SAFETY: a zone's data, when set, is the Zone this function attached
    // (the tag is our module), in the cycle pool.
    if let Some(other) = unsafe { (shm.data() as *const Zone).as_ref() } {
        cf.log(
            NGX_LOG_EMERG,
            &format!(
                "lua_shared_dict \"{}\" is already defined as \"{}\"",
                args.show(1),
                String::from_utf8_lossy(&other.name)
            ),
        );
        return false;
    }
    let Some(z) = cf.alloc(Zone {
        name: str_of(name).to_vec(),
        shm,
        slab: None,
        sh: ptr::null_mut(),
        mcf: mcf as *mut MainConf,
        cycle: cf.cycle(),
        persist,
        prev: ShmZone::previous(cf, str_of(name)),
    }) else {
        return false;
    };
    shm.set_data(z.as_ptr() as *mut c_void, init_zone);
    mcf.shdicts.push(shm);
    true
}

/// nginx's zone init: reuse the previous cycle's store on reload (`data`
/// is the old `Zone` when the zone kept its name, size and tag), else build
/// a new one. When the last zone is ready, `init_by_lua*` runs.
unsafe extern "C" fn init_zone(shm_zone: *mut ngx_shm_zone_t, data: *mut c_void) -> ngx_int_t {
    crate::nginx::panic::guard(NGX_ERROR as ngx_int_t, || {
        // SAFETY: nginx passes our zone of the cycle being built, whose data
        // is the Zone declare attached, and, on reload, the old cycle's
        // Zone, still alive while nginx initialises the new cycle.
        let (shm, z, old) = unsafe {
            let shm = ShmZone::from_raw(shm_zone);
            (
                shm,
                &mut *(shm.data() as *mut Zone),
                (data as *const Zone).as_ref(),
            )
        };
        if init_store(shm, z, old).is_none() {
            return NGX_ERROR as ngx_int_t;
        }
        // SAFETY: the main conf of the cycle being built, in its pool.
        let mcf = unsafe { &mut *z.mcf };
        if !mcf.zone_ready(z.cycle) {
            return NGX_ERROR as ngx_int_t;
        }
        NGX_OK as ngx_int_t
    })
}

/// A zone's `persist=` settings.
#[derive(Clone, Debug)]
pub struct Persist {
    /// The snapshot's path, made absolute against nginx's prefix.
    pub path: Vec<u8>,
    /// 0: only at exit.
    pub interval_ms: u64,
}

/// Default `persist_interval`.
pub const DEFAULT_INTERVAL_MS: u64 = 60_000;

/// What runs when a zone's memory is made fresh (the snapshot loader of
/// `persist=`, registered by the directive): a slot, so that the zone does
/// not depend on the snapshot code built on top of it.
static ON_FRESH: Global<Option<OnFresh>> = Global::new(None);

type OnFresh = fn(&Zone, Log);

/// Registers what runs when a zone's memory is made fresh.
pub fn on_fresh(f: OnFresh) {
    ON_FRESH.set(Some(f));
}

/// Wall-clock ms since the epoch, the store's clock for expiry.
pub fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Gives `z` its store: the previous cycle's, the one already in inherited
/// memory, or a new one (filled from the zone it replaces when a reload
/// resized it, else from its snapshot file).
fn init_store(shm: ShmZone, z: &mut Zone, old: Option<&Zone>) -> Option<()> {
    // Past this init the previous zone may be unmapped.
    let prev = z.prev.take();
    if let Some(old) = old {
        z.slab = old.slab.clone();
        z.sh = old.sh;
        return Some(());
    }
    let mut slab = shm.slab()?;
    if shm.exists() {
        z.sh = slab.as_ref().data as *mut Shctx;
        z.slab = Some(slab);
        return Some(());
    }
    // The slab logs this after "no memory" messages; it shares the root's
    // block.
    let ctx = format!(
        " in lua_shared_dict zone \"{}\"\0",
        String::from_utf8_lossy(&z.name)
    );
    let (sh, extra) = {
        let locked = slab.lock();
        let d = Dict::create(Slab(&locked), ctx.len())?;
        (d.root(), d.extra())
    };
    // SAFETY: `extra` is the ctx.len() bytes create reserved after the root,
    // in the zone, which lives as long as the slab pool that logs it.
    unsafe { ptr::copy_nonoverlapping(ctx.as_ptr(), extra, ctx.len()) };
    let pool = slab.as_mut();
    pool.data = sh as *mut c_void;
    pool.log_ctx = extra;
    pool.set_log_nomem(0);
    z.sh = sh;
    z.slab = Some(slab);
    if cycle::testing_config() {
        return Some(());
    }
    // SAFETY: a zone tagged with our module has as data the Zone declare
    // attached, in the old cycle's pool, alive as long as the old zone
    // (ShmZone::previous), which outlives this init.
    let resized = prev.and_then(|p| unsafe { (p.data() as *const Zone).as_ref() });
    if let Some(old) = resized {
        // The running zone is fresher than any snapshot.
        adopt(z, old, z.cycle.new_log());
    } else if let Some(load) = ON_FRESH.get() {
        load(z, z.cycle.new_log());
    }
    Some(())
}

/// Copies the live entries of `old`, the zone a reload resized, into the
/// fresh store of `z`, least recently used first, so the LRU order is kept
/// and, when they do not fit, the oldest are evicted. The snapshot codec
/// carries them: one path fills a zone from entries, a file's or a zone's.
/// Old workers still serving meanwhile write to `old`; what they write
/// after this copy is lost, as with a restart.
fn adopt(z: &Zone, old: &Zone, log: Log) {
    let t0 = Instant::now();
    let now = wall_ms();
    let mut enc = Encoder::new(old.capacity() as u64, now);
    enc.reserve(old.capacity().saturating_sub(old.free_space()));
    let Some(n) = old.with(|d| d.dump(now, &mut enc)) else {
        return;
    };
    let bytes = enc.finish();
    let name = String::from_utf8_lossy(&z.name);
    let snap = match snapshot::decode(&bytes) {
        Ok(s) => s,
        Err(e) => {
            let msg = format!("lua_shared_dict \"{name}\" resized: entries not kept: {e}");
            log.write(NGX_LOG_ERR, msg.as_bytes());
            return;
        }
    };
    let Some(r) = z.with(|d| d.load(&snap, now)) else {
        return;
    };
    let dropped = r.evicted + r.skipped;
    let msg = format!(
        "lua_shared_dict \"{name}\" resized from {} to {} bytes: kept {} of {n} entries, \
         {dropped} dropped ({} evicted, {} did not fit) in {} ms",
        old.capacity(),
        z.capacity(),
        r.stored - r.evicted,
        r.evicted,
        r.skipped,
        t0.elapsed().as_millis()
    );
    let level = if dropped > 0 {
        NGX_LOG_WARN
    } else {
        NGX_LOG_NOTICE
    };
    log.write(level, msg.as_bytes());
}

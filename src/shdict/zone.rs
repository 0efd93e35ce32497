//! A `lua_shared_dict` zone: an nginx shared memory zone managed by the
//! slab allocator, whose mutex guards every operation on the store.
use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};

use nginx_sys::*;
use ngx::core::Pool;

use super::store::{Alloc, Dict, Shctx};
use crate::conf::MainConf;
use crate::nginx::log::conf_log;

/// Upstream's smallest accepted size is 8192 bytes.
pub const MIN_SIZE: isize = 8192;

/// Per-cycle description of one zone (in the cycle pool; `shm_zone->data`).
pub struct Zone {
    pub name: Vec<u8>,
    pub shm_zone: *mut ngx_shm_zone_t,
    pool: *mut ngx_slab_pool_t,
    sh: *mut Shctx,
    mcf: *mut MainConf,
    cycle: *mut ngx_cycle_t,
}

/// nginx's slab pool as the store's allocator; used with the mutex held.
pub struct Slab(*mut ngx_slab_pool_t);

impl Alloc for Slab {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        // SAFETY: a live pool whose mutex the caller holds; slab chunks are
        // at least 8-byte aligned.
        unsafe { ngx_slab_alloc_locked(self.0, size) as *mut u8 }
    }
    unsafe fn free(&mut self, p: *mut u8) {
        // SAFETY: p came from this pool; the mutex is held.
        unsafe { ngx_slab_free_locked(self.0, p as *mut c_void) }
    }
}

/// Holds the zone mutex; unlocks on drop (also when unwinding from a bug,
/// so a caught panic never leaves the zone locked).
struct Locked(*mut ngx_slab_pool_t);

impl Locked {
    fn new(pool: *mut ngx_slab_pool_t) -> Locked {
        // SAFETY: the pool's mutex was created by ngx_init_zone_pool.
        unsafe { ngx_shmtx_lock(&mut (*pool).mutex) };
        Locked(pool)
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        // SAFETY: locked in `new`.
        unsafe { ngx_shmtx_unlock(&mut (*self.0).mutex) };
    }
}

impl Zone {
    /// Runs `f` on the store with the zone locked; None before the zone
    /// was initialised.
    pub fn with<R>(&self, f: impl FnOnce(&mut Dict<Slab>) -> R) -> Option<R> {
        if self.sh.is_null() {
            return None;
        }
        let _lock = Locked::new(self.pool);
        // SAFETY: sh was created over this pool; the lock gives exclusive
        // access until `_lock` drops, after `f` returns.
        let mut d = unsafe { Dict::attach(self.sh, Slab(self.pool)) };
        Some(f(&mut d))
    }

    pub fn capacity(&self) -> usize {
        // SAFETY: the shm zone lives as long as the cycle.
        unsafe { (*self.shm_zone).shm.size }
    }

    /// Bytes in free slab pages (as upstream's free_space).
    pub fn free_space(&self) -> usize {
        if self.pool.is_null() {
            return 0;
        }
        let _lock = Locked::new(self.pool);
        // SAFETY: pfree is read under the mutex; ngx_pagesize is set at start.
        unsafe { (*self.pool).pfree * ngx_pagesize }
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

/// The zones of the configuration being built, else of the running cycle.
pub fn zones() -> impl ExactSizeIterator<Item = *mut Zone> {
    let p = CONFIGURING.load(Ordering::Relaxed);
    // SAFETY: CONFIGURING points at a live main conf while set; otherwise
    // ngx_cycle is the running cycle.
    let mcf = unsafe {
        match p.as_ref() {
            Some(m) => Some(m),
            None => crate::conf::main_conf_from_cycle(ngx_cycle).map(|m| &*m),
        }
    };
    let shm: &'static [*mut ngx_shm_zone_t] = mcf.map_or(&[], |m| m.shdicts.as_slice());
    // SAFETY: every zone in the list was declared with its Zone as data.
    shm.iter().map(|&z| unsafe { (*z).data as *mut Zone })
}

/// `lua_shared_dict NAME SIZE`: registers the zone; false after logging
/// the error.
///
/// # Safety
/// `cf` is the configuration being parsed; `mcf` its main conf.
pub unsafe fn declare(
    cf: *mut ngx_conf_t,
    mcf: &mut MainConf,
    name: &ngx_str_t,
    size_arg: &ngx_str_t,
) -> bool {
    let show = |s: &ngx_str_t| {
        // SAFETY: nginx strings point at len bytes.
        String::from_utf8_lossy(unsafe { core::slice::from_raw_parts(s.data, s.len) }).into_owned()
    };
    if name.len == 0 {
        // SAFETY: valid cf.
        unsafe {
            conf_log(
                cf,
                NGX_LOG_EMERG,
                &format!("invalid lua shared dict name \"{}\"", show(name)),
            )
        };
        return false;
    }
    let mut s = *size_arg;
    // SAFETY: parses the string in place.
    let size = unsafe { ngx_parse_size(&mut s) };
    if size < MIN_SIZE {
        // SAFETY: valid cf.
        unsafe {
            conf_log(
                cf,
                NGX_LOG_EMERG,
                &format!("invalid lua shared dict size \"{}\"", show(size_arg)),
            )
        };
        return false;
    }
    let mut n = *name;
    // SAFETY: valid cf; the tag is our module, so a reload reuses the zone
    // only for us; the name lives in the cycle pool.
    let shm_zone = unsafe {
        ngx_shared_memory_add(
            cf,
            &mut n,
            size as usize,
            crate::nginx::module::as_ptr() as *mut c_void,
        )
    };
    if shm_zone.is_null() {
        return false;
    }
    // SAFETY: a zone of the cycle being configured.
    unsafe {
        if !(*shm_zone).data.is_null() {
            let other = &*((*shm_zone).data as *const Zone);
            conf_log(
                cf,
                NGX_LOG_EMERG,
                &format!(
                    "lua_shared_dict \"{}\" is already defined as \"{}\"",
                    show(name),
                    String::from_utf8_lossy(&other.name)
                ),
            );
            return false;
        }
        let pool = Pool::from_ngx_pool((*cf).pool);
        let z = pool.allocate(Zone {
            name: core::slice::from_raw_parts(name.data, name.len).to_vec(),
            shm_zone,
            pool: ptr::null_mut(),
            sh: ptr::null_mut(),
            mcf: mcf as *mut MainConf,
            cycle: (*cf).cycle,
        });
        if z.is_null() {
            return false;
        }
        (*shm_zone).data = z as *mut c_void;
        (*shm_zone).init = Some(init_zone);
        mcf.shdicts.push(shm_zone);
    }
    true
}

/// nginx's zone init: reuse the previous cycle's store on reload (`data`
/// is the old `Zone` when the zone kept its name, size and tag), else build
/// a new one. When the last zone is ready, `init_by_lua*` runs.
unsafe extern "C" fn init_zone(shm_zone: *mut ngx_shm_zone_t, data: *mut c_void) -> ngx_int_t {
    crate::nginx::panic::guard(NGX_ERROR as ngx_int_t, || {
        // SAFETY: nginx passes our zone with the data we set in `declare`
        // and, on reload, the old cycle's data, still alive.
        unsafe {
            let z = &mut *((*shm_zone).data as *mut Zone);
            let old = data as *mut Zone;
            let pool = (*shm_zone).shm.addr as *mut ngx_slab_pool_t;
            z.pool = pool;
            if let Some(old) = old.as_ref() {
                z.pool = old.pool;
                z.sh = old.sh;
            } else if (*shm_zone).shm.exists != 0 {
                z.sh = (*pool).data as *mut Shctx;
            } else {
                // The slab logs this after "no memory" messages; it shares
                // the root's block.
                let ctx = format!(
                    " in lua_shared_dict zone \"{}\"\0",
                    String::from_utf8_lossy(&z.name)
                );
                let Some(d) = Dict::create(Slab(pool), ctx.len()) else {
                    return NGX_ERROR as ngx_int_t;
                };
                z.sh = d.root();
                (*pool).data = z.sh as *mut c_void;
                let p = d.extra();
                ptr::copy_nonoverlapping(ctx.as_ptr(), p, ctx.len());
                (*pool).log_ctx = p;
                (*pool).set_log_nomem(0);
            }
            let mcf = &mut *z.mcf;
            mcf.shdicts_ready += 1;
            if mcf.shdicts_ready == mcf.shdicts.len() && ngx_test_config == 0 {
                // As upstream: init_by_lua runs once every zone is usable,
                // with ngx_cycle pointing at the new cycle.
                let saved = ngx_cycle;
                ngx_cycle = z.cycle;
                let rc = mcf.run_init_by_lua(&mut (*z.cycle).new_log);
                ngx_cycle = saved;
                if !rc {
                    return NGX_ERROR as ngx_int_t;
                }
            }
            NGX_OK as ngx_int_t
        }
    })
}

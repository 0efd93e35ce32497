//! Shared memory zones other nginx modules declare through the C API
//! (`ngx_http_lua_shared_memory_add` of upstream's `ngx_http_lua_api.h`).
//!
//! As upstream, the declaring module gets a copy of nginx's zone record
//! and sets its own `init` and `data` on the copy; nginx's record keeps our
//! init, which hands the mapped memory to the copy, runs the module's init
//! and counts the zone towards the ones `init_by_lua*` waits for. So a
//! module's zone is usable from `init_by_lua*` on, and a reload passes its
//! init the previous cycle's `data` when the zone is kept.
use core::ffi::c_void;
use core::ptr;

use nginx_sys::{ngx_int_t, ngx_shm_zone_t, ngx_str_t, NGX_ERROR, NGX_LOG_EMERG, NGX_OK};

use crate::conf::MainConf;
use crate::nginx::conf::{str_of, Conf};
use crate::nginx::cycle::Cycle;
use crate::nginx::shm::ShmZone;

/// Our data of a foreign zone (in the cycle pool).
struct Foreign {
    /// The record the declaring module fills (its `init`, `data`).
    copy: ngx_shm_zone_t,
    mcf: *mut MainConf,
    cycle: Cycle,
}

fn record_of(shm: ShmZone) -> *mut Foreign {
    shm.data() as *mut Foreign
}

/// Declares (or finds, when the same module declared it before) the zone
/// `name` of `size` bytes for the module that owns `tag`; null after
/// logging why.
pub fn add(cf: Conf, name: &ngx_str_t, size: usize, tag: *mut c_void) -> *mut ngx_shm_zone_t {
    let Some(mcf) = MainConf::of_conf(cf) else {
        return ptr::null_mut();
    };
    let Some(shm) = ShmZone::add_tagged(cf, name, size, tag) else {
        return ptr::null_mut();
    };
    if !shm.data().is_null() {
        if mcf.foreign_zones.contains(&shm) {
            // SAFETY: the data of a zone of this list is its Foreign
            // record (below), in the cycle pool.
            return unsafe { ptr::addr_of_mut!((*record_of(shm)).copy) };
        }
        // Tagged like a lua_shared_dict zone (our module): not the
        // caller's to fill.
        cf.log(
            NGX_LOG_EMERG,
            &format!(
                "the shared memory zone \"{}\" is already declared by lua_shared_dict",
                String::from_utf8_lossy(str_of(name))
            ),
        );
        return ptr::null_mut();
    }
    let Some(rec) = cf.alloc(Foreign {
        copy: shm.record(),
        mcf: mcf as *mut MainConf,
        cycle: cf.cycle(),
    }) else {
        return ptr::null_mut();
    };
    shm.set_data(rec.as_ptr() as *mut c_void, init_foreign);
    mcf.foreign_zones.push(shm);
    // SAFETY: the record just allocated in the cycle pool.
    unsafe { ptr::addr_of_mut!((*rec.as_ptr()).copy) }
}

/// The declaring module's record of the zone `name` of the running
/// cycle, if a module declared one.
pub fn find(name: &[u8]) -> Option<*mut ngx_shm_zone_t> {
    let mcf = MainConf::of_cycle(Cycle::current())?;
    let shm = mcf.foreign_zones.iter().find(|z| z.name() == name)?;
    // SAFETY: as in add.
    Some(unsafe { ptr::addr_of_mut!((*record_of(*shm)).copy) })
}

/// nginx's zone init: the module's init on its record, then the count
/// `init_by_lua*` waits for.
unsafe extern "C" fn init_foreign(shm_zone: *mut ngx_shm_zone_t, data: *mut c_void) -> ngx_int_t {
    crate::nginx::panic::guard(NGX_ERROR as ngx_int_t, || {
        // SAFETY: nginx passes a zone `add` declared, whose data is its
        // Foreign record, and the previous cycle's data of the same zone
        // (its Foreign record, alive while the new cycle is initialised)
        // or null.
        let (shm, rec, old_data) = unsafe {
            let shm = ShmZone::from_raw(shm_zone);
            let old = (data as *const Foreign).as_ref();
            (
                shm,
                &mut *record_of(shm),
                old.map_or(ptr::null_mut(), |o| o.copy.data),
            )
        };
        // SAFETY: the record lives in the cycle pool as long as the zone.
        let rc = unsafe { shm.init_copy(&mut rec.copy, old_data) };
        if rc != NGX_OK as ngx_int_t {
            return rc;
        }
        // SAFETY: the main conf of the cycle being built, in its pool.
        let mcf = unsafe { &mut *rec.mcf };
        if !mcf.zone_ready(rec.cycle) {
            return NGX_ERROR as ngx_int_t;
        }
        NGX_OK as ngx_int_t
    })
}

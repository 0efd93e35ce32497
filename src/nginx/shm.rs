//! [`ShmZone`]: a shared memory zone this module declared
//! (`ngx_shared_memory_add`), whose memory nginx manages with its slab
//! allocator (`ngx::core::SlabPool`).
//!
//! A zone record lives in the cycle pool, and its memory is mapped before
//! the workers fork (kept across reloads when name, size and tag match), so
//! a handle stays valid for as long as the cycle that declared it.
use core::ffi::c_void;
use core::ptr::NonNull;

use nginx_sys::*;
use ngx::core::SlabPool;

use super::conf::Conf;

/// What nginx calls to initialise a zone's memory: the zone, and the
/// previous cycle's `data` of the same zone on a reload (else null).
pub type ZoneInit = unsafe extern "C" fn(*mut ngx_shm_zone_t, *mut c_void) -> ngx_int_t;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ShmZone(NonNull<ngx_shm_zone_t>);

impl ShmZone {
    /// Declares (or finds) the zone `name` of `size` bytes, tagged with this
    /// module, so a reload keeps it only for us. None: nginx logged why.
    pub fn add(cf: Conf, name: &ngx_str_t, size: usize) -> Option<ShmZone> {
        let mut n = *name;
        // SAFETY: the live conf; nginx keeps the name's pointer, a word of
        // the directive, in the cycle pool.
        let z = unsafe {
            ngx_shared_memory_add(
                cf.as_ptr(),
                &mut n,
                size,
                super::module::as_ptr() as *mut c_void,
            )
        };
        NonNull::new(z).map(ShmZone)
    }

    /// As [`ShmZone::add`], tagged with `tag`: the zone another nginx
    /// module declares through the C API (`ngx_http_lua_shared_memory_add`),
    /// whose reuse across reloads is keyed on its own tag.
    // nginx never dereferences a tag: it only compares it.
    #[allow(clippy::not_unsafe_ptr_arg_deref)]
    pub fn add_tagged(
        cf: Conf,
        name: &ngx_str_t,
        size: usize,
        tag: *mut c_void,
    ) -> Option<ShmZone> {
        let mut n = *name;
        // SAFETY: the live conf; the caller's name lives in its
        // configuration pool (the C API's contract), which nginx keeps.
        let z = unsafe { ngx_shared_memory_add(cf.as_ptr(), &mut n, size, tag) };
        NonNull::new(z).map(ShmZone)
    }

    /// The zone `name` that this module declared in the running cycle,
    /// which the cycle being configured replaces (a HUP reload), whatever
    /// its size: nginx gives a resized zone fresh memory and a null `data`,
    /// but keeps the old cycle and its zones mapped until every new zone
    /// was initialised. Use the handle only until this configuration's
    /// zones are initialised (the zone init of the same `ngx_init_cycle`):
    /// nginx then unmaps the old zones it no longer needs.
    pub fn previous(cf: Conf, name: &[u8]) -> Option<ShmZone> {
        let tag = super::module::as_ptr() as *mut c_void;
        // SAFETY: cf is the live configuration of the cycle being built,
        // whose old_cycle nginx set before reading any configuration: the
        // running cycle (alive while this one is built), or at start the
        // zeroed init cycle, whose list has no part.
        let mut part = unsafe { &(*(*cf.cycle().as_ptr()).old_cycle).shared_memory.part };
        loop {
            let zones: &[ngx_shm_zone_t] = if part.elts.is_null() {
                &[]
            } else {
                // SAFETY: a part of the old cycle's shared memory list: nelts
                // zone records at elts, in its pool.
                unsafe {
                    core::slice::from_raw_parts(part.elts as *const ngx_shm_zone_t, part.nelts)
                }
            };
            for z in zones {
                let n = &z.shm.name;
                // SAFETY: a zone's name is len bytes at data (a word of the
                // old configuration, in its pool).
                let same = !n.data.is_null()
                    && unsafe { core::slice::from_raw_parts(n.data, n.len) } == name;
                if same && z.tag == tag && !z.data.is_null() && !z.shm.addr.is_null() {
                    return Some(ShmZone(NonNull::from(z)));
                }
            }
            // SAFETY: next is null or the list's next part, in the same pool.
            part = unsafe { part.next.as_ref() }?;
        }
    }

    /// # Safety
    /// `z` is a zone of a live cycle, used only while it is.
    pub unsafe fn from_raw(z: *mut ngx_shm_zone_t) -> ShmZone {
        ShmZone(NonNull::new(z).expect("nginx passes a zone"))
    }

    pub fn as_ptr(self) -> *mut ngx_shm_zone_t {
        self.0.as_ptr()
    }

    fn get(&self) -> &ngx_shm_zone_t {
        // SAFETY: the handle's invariant: a zone record of a live cycle.
        unsafe { self.0.as_ref() }
    }

    /// The zone's `data`: what its declarer attached (null: declared by
    /// nobody yet in this cycle).
    pub fn data(self) -> *mut c_void {
        self.get().data
    }

    /// Attaches the declarer's record and the function that initialises
    /// the memory once nginx has mapped it.
    pub fn set_data(self, data: *mut c_void, init: ZoneInit) {
        // SAFETY: the live zone record; only configuration code writes it.
        unsafe {
            (*self.as_ptr()).data = data;
            (*self.as_ptr()).init = Some(init);
        }
    }

    /// A copy of nginx's record of the zone (what upstream's C API hands
    /// the declaring module to fill).
    pub fn record(self) -> ngx_shm_zone_t {
        *self.get()
    }

    /// The zone's name.
    pub fn name(&self) -> &[u8] {
        let n = &self.get().shm.name;
        if n.len == 0 {
            return &[];
        }
        // SAFETY: nginx's copy of the name, in the cycle pool.
        unsafe { core::slice::from_raw_parts(n.data, n.len) }
    }

    /// The init function attached to the zone (what tells whose record
    /// its data is).
    pub fn init_fn(self) -> ngx_shm_zone_init_pt {
        self.get().init
    }

    /// Hands the memory nginx mapped for this zone to `copy`, a record
    /// the declaring module filled (its own `init` and `data`), and runs
    /// the module's init on it with `old_data` (the previous cycle's data
    /// of the same zone, or null), as upstream's C API does. NGX_OK, or
    /// what the module's init returned.
    ///
    /// # Safety
    /// `copy` points at a live zone record of this cycle.
    pub unsafe fn init_copy(self, copy: *mut ngx_shm_zone_t, old_data: *mut c_void) -> ngx_int_t {
        // SAFETY: see the contract; this zone is mapped (nginx calls the
        // zone inits after mapping), and the module's init is called the
        // way nginx would call it.
        unsafe {
            (*copy).shm = self.get().shm;
            (*copy).noreuse = self.get().noreuse;
            match (*copy).init {
                Some(init) => init(copy, old_data),
                None => NGX_OK as ngx_int_t,
            }
        }
    }

    /// The zone's size in bytes.
    pub fn size(self) -> usize {
        self.get().shm.size
    }

    /// The memory was inherited already initialised (nginx sets `exists`
    /// where mappings are inherited rather than created, e.g. Windows).
    pub fn exists(self) -> bool {
        self.get().shm.exists != 0
    }

    /// The slab pool at the start of the zone's memory (None before nginx
    /// mapped it).
    pub fn slab(self) -> Option<SlabPool> {
        // SAFETY: once mapped, the zone's memory starts with the slab pool
        // nginx initialised there; it stays mapped for the life of the
        // cycle and of its workers.
        unsafe { SlabPool::from_shm_zone(self.get()) }
    }
}

/// The system's page size, as nginx measured it at start.
pub fn page_size() -> usize {
    // SAFETY: set once by ngx_os_init, before any configuration is read.
    unsafe { ngx_pagesize }
}

//! Buffers and chains (`ngx_buf_t`, `ngx_chain_t`): the output buffers
//! this module writes and reuses, chains held back, and the filters'
//! input chains.
//!
//! A [`Chain`] is a copyable handle on one link and its buffer, like
//! [`Request`] on a request: every method reads or writes through the
//! pointers for one call. Its invariant, set where a handle is made, is
//! that the link and its buffer are alive while the handle is used: they
//! live in the request's pool (ours), or belong to the chain a filter was
//! called with (for that call).
use core::ptr::{self, NonNull};

use nginx_sys::*;

use super::module;
use super::request::Request;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Chain(NonNull<ngx_chain_t>);

/// The tag of the output buffers this module may reuse
/// (`ngx_chain_update_chains` hands back only buffers with it).
#[inline]
fn buf_tag() -> ngx_buf_tag_t {
    module::as_ptr() as ngx_buf_tag_t
}

impl Chain {
    /// # Safety
    /// `cl` is null or a chain link whose buffer is set, both alive while
    /// the handle (or one got from it through `next`) is used.
    pub unsafe fn from_raw(cl: *mut ngx_chain_t) -> Option<Chain> {
        NonNull::new(cl).map(Chain)
    }

    #[inline]
    pub fn as_ptr(self) -> *mut ngx_chain_t {
        self.0.as_ptr()
    }

    /// The link's buffer, for one read or write.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    fn buf(&self) -> &mut ngx_buf_t {
        // SAFETY: the handle's invariant (from_raw): the link and its
        // buffer are alive; the borrow ends with the caller's expression,
        // before nginx code can run and touch the buffer.
        unsafe { &mut *(*self.0.as_ptr()).buf }
    }

    /// The next link of the chain.
    #[inline]
    pub fn next(self) -> Option<Chain> {
        // SAFETY: the links of a chain live as long as its first one (the
        // same pool, or the same filter call).
        unsafe { Chain::from_raw((*self.0.as_ptr()).next) }
    }

    #[inline]
    pub fn set_next(self, next: Option<Chain>) {
        // SAFETY: a live link (see from_raw).
        unsafe { (*self.0.as_ptr()).next = next.map_or(ptr::null_mut(), Chain::as_ptr) }
    }

    /// This link and the ones after it.
    #[inline]
    pub fn iter(self) -> impl Iterator<Item = Chain> {
        core::iter::successors(Some(self), |c| c.next())
    }

    /// The buffer's unsent bytes in memory (none for a file buffer).
    #[inline]
    pub fn data(&self) -> &[u8] {
        let b = self.buf();
        if b.in_file() != 0 || b.pos.is_null() || b.last <= b.pos {
            return &[];
        }
        // SAFETY: pos..last of a memory buffer are initialized bytes of
        // its owner, alive as long as the buffer.
        unsafe { core::slice::from_raw_parts(b.pos, b.last.offset_from(b.pos) as usize) }
    }

    /// Whether the buffer's data is in a file rather than in memory.
    #[inline]
    pub fn in_file(self) -> bool {
        self.buf().in_file() != 0
    }

    /// Whether the buffer ends the response (`last_buf`) or a
    /// subrequest's part of it (`last_in_chain`).
    #[inline]
    pub fn is_last(self) -> bool {
        let b = self.buf();
        b.last_buf() != 0 || b.last_in_chain() != 0
    }

    #[inline]
    pub fn is_flush(self) -> bool {
        self.buf().flush() != 0
    }

    /// Marks the buffer consumed (all its data taken), so that its owner
    /// may reuse it.
    #[inline]
    pub fn consume(self) {
        let b = self.buf();
        b.pos = b.last;
        if b.in_file() != 0 {
            b.file_pos = b.file_last;
        }
    }

    /// Lets `f` write into the buffer's free room and appends the bytes
    /// it reports written.
    #[inline]
    pub fn fill(self, f: impl FnOnce(&mut [u8]) -> usize) {
        let (last, end) = {
            let b = self.buf();
            (b.last, b.end)
        };
        if last.is_null() || end <= last {
            f(&mut []);
            return;
        }
        // SAFETY: last..end is the free room of a buffer of ours (from
        // OutBufs::get), which nothing else reads or writes meanwhile.
        let room = unsafe { core::slice::from_raw_parts_mut(last, end.offset_from(last) as usize) };
        let n = f(room).min(room.len());
        // SAFETY: n bytes of the room were written.
        self.buf().last = unsafe { last.add(n) };
    }

    /// Marks the buffer as the end of the request's output: the whole
    /// response for a main request, its own part for a subrequest.
    #[inline]
    pub fn set_last(self, main: bool) {
        let b = self.buf();
        if main {
            b.set_last_buf(1);
        } else {
            b.set_last_in_chain(1);
        }
    }

    #[inline]
    pub fn set_flush(self) {
        self.buf().set_flush(1);
    }

    /// Marks an empty buffer that only carries flags.
    #[inline]
    pub fn set_sync(self) {
        self.buf().set_sync(1);
    }
}

/// This module's output buffers: the ones the filters are done with, kept
/// for reuse, and the ones still on their way out (nginx's free and busy
/// lists of `ngx_chain_update_chains`). Links and buffers live in the
/// request pool of the request the lists belong to.
pub struct OutBufs {
    free: *mut ngx_chain_t,
    busy: *mut ngx_chain_t,
}

impl Default for OutBufs {
    #[inline]
    fn default() -> Self {
        OutBufs {
            free: ptr::null_mut(),
            busy: ptr::null_mut(),
        }
    }
}

impl OutBufs {
    /// A one-buffer chain with room for `size` bytes: a buffer nginx
    /// already sent when one is free (its memory reused, or replaced when
    /// too small), otherwise a new one. Without reuse, a handler streaming
    /// a large body kept every buffer it ever wrote until the request
    /// ended. `None`: no memory.
    ///
    /// `r` is the request the lists belong to.
    #[inline]
    pub fn get(&mut self, r: Request, size: usize) -> Option<Chain> {
        let pool = r.pool();
        let size = size.max(1);
        // SAFETY: the live request's pool; `free` holds links and buffers
        // of that pool no filter references any more (update() moved them
        // there once they were empty).
        unsafe {
            let Some(cl) = Chain::from_raw(self.free) else {
                let cl = ngx_alloc_chain_link(pool);
                let b = ngx_create_temp_buf(pool, size);
                if cl.is_null() || b.is_null() {
                    return None;
                }
                (*b).tag = buf_tag();
                (*cl).buf = b;
                (*cl).next = ptr::null_mut();
                return Chain::from_raw(cl);
            };
            self.free = (*cl.as_ptr()).next;
            cl.set_next(None);
            let b = (*cl.as_ptr()).buf;
            let (mut start, mut end) = ((*b).start, (*b).end);
            if start.is_null() || (end.offset_from(start) as usize) < size {
                if !start.is_null() {
                    // Frees a large (malloc'ed) block; a small one stays in
                    // the pool, as any pool memory does.
                    ngx_pfree(pool, start as *mut core::ffi::c_void);
                }
                start = ngx_palloc(pool, size) as *mut u8;
                if start.is_null() {
                    return None;
                }
                end = start.add(size);
            }
            ptr::write_bytes(b, 0, 1);
            (*b).start = start;
            (*b).pos = start;
            (*b).last = start;
            (*b).end = end;
            (*b).tag = buf_tag();
            (*b).set_temporary(1);
            Some(cl)
        }
    }

    /// After `out` (from [`OutBufs::get`]) went down the filters: the
    /// buffers they are done with (all data taken) move to the free list,
    /// the others wait in the busy list.
    #[inline]
    pub fn update(&mut self, r: Request, out: Chain) {
        let mut out = out.as_ptr();
        // SAFETY: the live request's pool; the links of `out` and of both
        // lists are ours to move between them.
        unsafe {
            ngx_chain_update_chains(
                r.pool(),
                &mut self.free,
                &mut self.busy,
                &mut out,
                buf_tag(),
            );
        }
    }
}

/// Output held back (HTTP/1.0 buffering): links of [`OutBufs`] chained
/// in the order written.
pub struct HeldChain(*mut ngx_chain_t);

impl Default for HeldChain {
    #[inline]
    fn default() -> Self {
        HeldChain(ptr::null_mut())
    }
}

impl HeldChain {
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.0.is_null()
    }

    #[inline]
    fn first(&self) -> Option<Chain> {
        // SAFETY: the held links live in the request pool (push).
        unsafe { Chain::from_raw(self.0) }
    }

    /// Appends `cl` (links of the request's pool) at the end.
    #[inline]
    pub fn push(&mut self, cl: Chain) {
        match self.first().and_then(|c| c.iter().last()) {
            Some(tail) => tail.set_next(Some(cl)),
            None => self.0 = cl.as_ptr(),
        }
    }

    /// How many bytes are held.
    #[inline]
    pub fn size(&self) -> usize {
        self.first()
            .map_or(0, |c| c.iter().map(|l| l.data().len()).sum())
    }

    /// The held chain, leaving nothing held.
    #[inline]
    pub fn take(&mut self) -> Option<Chain> {
        let c = self.first();
        self.0 = ptr::null_mut();
        c
    }
}

impl Request {
    /// An empty buffer in a new link of the request pool, to carry flags
    /// (flush, last) without data.
    #[inline]
    pub fn special_buf(self) -> Option<Chain> {
        // SAFETY: the live request's pool; the buffer is zeroed (no data,
        // no flags) and the link set before the handle is made.
        unsafe {
            let b = ngx_pcalloc(self.pool(), core::mem::size_of::<ngx_buf_t>()) as *mut ngx_buf_t;
            let cl = ngx_alloc_chain_link(self.pool());
            if b.is_null() || cl.is_null() {
                return None;
            }
            (*cl).buf = b;
            (*cl).next = ptr::null_mut();
            Chain::from_raw(cl)
        }
    }
}

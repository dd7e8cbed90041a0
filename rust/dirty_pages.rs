// SPDX-License-Identifier: GPL-2.0

//! Which pages of a write pin the device wrote, for the unpin to dirty them and only them.
//!
//! One bit per page, kept without an allocation until it is needed: the bits of a pin of up to
//! `BITS_PER_LONG` pages are one word inside the object, and a larger pin allocates its bitmap
//! the first time a driver marks part of it. Most pins are never marked (the device only read),
//! or marked whole ([`PinnedPages::mark_dirty`](crate::pin::PinnedPages::mark_dirty)), and then
//! allocate nothing; a pin used to allocate its bitmap, and free it, whether or not anything was
//! ever marked (`Documentation/rgup/performance.rst`).
//!
//! Marking never sleeps and never fails, as `set_bit()` does not: it may be called from a DMA
//! completion interrupt. The bitmap is allocated without sleeping (`GFP_NOWAIT`); when that fails,
//! the pin is marked dirty as a whole, which is never wrong (dirtying a page the device did not
//! write costs a writeback, not data).
//!
//! [`BitmapVec`](kernel::bitmap::BitmapVec) does not fit: it is allocated up front, with `&mut`.
//!
//! C header: [`include/linux/bitmap.h`](srctree/include/linux/bitmap.h)

use kernel::{
    bindings,
    bitmap::Bitmap,
    prelude::*,
    sync::atomic::{
        Acquire,
        Atomic,
        Full,
        Relaxed, //
    },
};

/// The dirty pages of a pin of `len` pages.
///
/// # Invariants
///
/// A page counts as dirty when `all` is set, or when its bit is set: bit `i` of `word` when
/// `len <= usize::BITS`, else bit `i` of `heap`, which is null or a `bitmap_zalloc()` of `len`
/// bits owned by this object. `any` is set once a bit has been set. Nothing is ever cleared.
pub(crate) struct DirtyPages {
    // `u32`: a pin has at most `MAX_PIN_PAGES` pages; a `DirtyPages` is in every pin, and every
    // move of a pin is a copy (`crate::pin::PinnedPages`).
    len: u32,
    all: Atomic<bool>,
    any: Atomic<bool>,
    word: Atomic<usize>,
    heap: Atomic<*mut usize>,
}

/// What the unpin finds in a [`DirtyPages`].
pub(crate) enum Dirty<'a> {
    /// No page.
    None,
    /// Every page.
    All,
    /// The pages whose bits are set.
    Some(&'a Bitmap),
}

impl DirtyPages {
    /// No page of `len` dirty.
    #[inline]
    pub(crate) fn new(len: usize) -> Self {
        // INVARIANT: Nothing set, no bitmap.
        Self {
            // At most `MAX_PIN_PAGES`.
            len: len as u32,
            all: Atomic::new(false),
            any: Atomic::new(false),
            word: Atomic::new(0),
            heap: Atomic::new(core::ptr::null_mut()),
        }
    }

    /// The number of pages.
    #[inline]
    fn len(&self) -> usize {
        self.len as usize
    }

    /// Marks pages `first..=last` dirty; `last < len`.
    ///
    /// Never sleeps, never fails (see the module documentation).
    pub(crate) fn mark(&self, first: usize, last: usize) {
        if first > last || last >= self.len() {
            return;
        }
        if first == 0 && last == self.len() - 1 {
            self.all.store(true, Relaxed);
            return;
        }
        let Some(bits) = self.bits_or_alloc() else {
            // INVARIANT: Every page counts as dirty: a superset of the marked ones.
            self.all.store(true, Relaxed);
            return;
        };
        for i in first..=last {
            bits.set_bit_atomic(i);
        }
        // INVARIANT: A bit is set. (The unpin, which reads both, has `&mut self`: whoever handed
        // it over synchronised with this.)
        self.any.store(true, Relaxed);
    }

    /// The bits, allocating the bitmap of a large pin the first time.
    fn bits_or_alloc(&self) -> Option<&Bitmap> {
        if self.len() <= usize::BITS as usize {
            // SAFETY: `word` holds `len` bits, valid while `self` is; every writer sets bits
            // atomically (`set_bit_atomic`), and only `&mut self` reads them non-atomically.
            return Some(unsafe { Bitmap::from_raw(self.word.as_ptr(), self.len()) });
        }
        let mut ptr = self.heap.load(Acquire);
        if ptr.is_null() {
            // `GFP_NOWAIT | __GFP_ACCOUNT | __GFP_NOWARN`: may be called in atomic context,
            // charged like the pin's other memory; a failure has a fallback, it needs no warning.
            // (`__GFP_ACCOUNT` is what `GFP_KERNEL_ACCOUNT` adds to `GFP_KERNEL`.)
            let gfp = bindings::GFP_NOWAIT
                | (bindings::GFP_KERNEL_ACCOUNT & !bindings::GFP_KERNEL)
                | bindings::__GFP_NOWARN;
            let nbits = self.len;
            // SAFETY: Plain allocation of `nbits` zeroed bits.
            let new = unsafe { bindings::bitmap_zalloc(nbits, gfp) };
            if new.is_null() {
                return None;
            }
            // `Full`: the zeroed bits are visible before the pointer is (`Acquire` above).
            ptr = match self.heap.cmpxchg(core::ptr::null_mut(), new, Full) {
                // INVARIANT: The bitmap is now ours.
                Ok(_) => new,
                Err(winner) => {
                    // SAFETY: Allocated above and never published.
                    unsafe { bindings::bitmap_free(new) };
                    winner
                }
            };
        }
        // SAFETY: `ptr` is the bitmap of `len` bits owned by `self` (type invariants), set only
        // atomically while shared.
        Some(unsafe { Bitmap::from_raw(ptr, self.len()) })
    }

    /// The dirty pages, for the unpin.
    #[inline]
    pub(crate) fn get(&mut self) -> Dirty<'_> {
        if *self.all.get_mut() {
            return Dirty::All;
        }
        if !*self.any.get_mut() {
            return Dirty::None;
        }
        let ptr = if self.len() <= usize::BITS as usize {
            self.word.as_ptr()
        } else {
            *self.heap.get_mut()
        };
        // SAFETY: A bit is set, so the bits exist: `word` or the owned bitmap of `len` bits (type
        // invariants); `&mut self` excludes writers for the borrow.
        Dirty::Some(unsafe { Bitmap::from_raw(ptr, self.len()) })
    }
}

impl Drop for DirtyPages {
    #[inline]
    fn drop(&mut self) {
        let heap = *self.heap.get_mut();
        if !heap.is_null() {
            // SAFETY: Allocated by `bitmap_zalloc()` and owned by `self` (type invariants).
            unsafe { bindings::bitmap_free(heap) };
        }
    }
}

#[kunit_tests(rgup_dirty_pages)]
mod tests {
    use super::*;

    fn dirty_bits(d: &mut DirtyPages) -> Option<KVec<usize>> {
        let mut out = KVec::new();
        match d.get() {
            Dirty::None => {}
            Dirty::All => return None,
            Dirty::Some(bits) => {
                let mut i = 0;
                while let Some(b) = bits.next_bit(i) {
                    out.push(b, GFP_KERNEL).ok()?;
                    i = b + 1;
                }
            }
        }
        Some(out)
    }

    #[test]
    fn only_marked_pages_are_dirty() -> Result {
        for len in [1, 5, 64, 65, 512, 4097] {
            let mut d = DirtyPages::new(len);
            assert_eq!(dirty_bits(&mut d).as_deref(), Some(&[][..]));
            if len < 3 {
                // One page marked is the whole pin.
                d.mark(0, 0);
                assert!(dirty_bits(&mut d).is_none());
                continue;
            }
            d.mark(1, 1);
            d.mark(len - 2, len - 2);
            // Out of range: ignored, nothing set.
            d.mark(len, len);
            d.mark(2, 1);
            assert_eq!(dirty_bits(&mut d).as_deref(), Some(&[1, len - 2][..]));
            d.mark(0, len - 1);
            assert!(dirty_bits(&mut d).is_none());
        }
        Ok(())
    }

    #[test]
    fn a_whole_mark_allocates_nothing() {
        let mut d = DirtyPages::new(4097);
        d.mark(0, 4096);
        assert!(d.heap.get_mut().is_null());
        assert!(matches!(d.get(), Dirty::All));
    }
}

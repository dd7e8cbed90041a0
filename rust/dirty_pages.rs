// SPDX-License-Identifier: GPL-2.0

//! Which pages of a write pin the device wrote, for the unpin to dirty them and only them.
//!
//! One bit per page, kept without an allocation until it is needed, in one word: the bits of a
//! pin of up to `BITS_PER_LONG` pages are that word, and a larger pin keeps there the pointer to
//! its bitmap, allocated the first time a driver marks part of it (or a tag for "every page").
//! Most pins are never marked (the device only read), or marked whole
//! ([`PinnedPages::mark_dirty`](crate::pin::PinnedPages::mark_dirty)), and then
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

/// The dirty pages of a pin of `len` pages, in one word: the owner knows `len` and passes it
/// to every call (a `DirtyPages` is in every pin, and every move of a pin is a copy,
/// `crate::pin::PinnedPages`).
///
/// # Invariants
///
/// With the `len` its owner passes to every call: when `len <= usize::BITS`, `word` holds the
/// bits, bit `i` for page `i`, and no other bit. Otherwise `word` is [`ALL`] or'ed with either
/// null or a `bitmap_zalloc()` of `len` bits owned by this object; when [`ALL`] is set every page
/// counts as dirty, else those whose bit is set in the bitmap. Nothing is ever cleared.
pub(crate) struct DirtyPages {
    word: Atomic<usize>,
}

/// The tag of a large pin's word for "every page" (a bitmap is word-aligned: its pointer's low
/// bit is free).
const ALL: usize = 1;

/// What the unpin finds in a [`DirtyPages`].
pub(crate) enum Dirty<'a> {
    /// No page.
    None,
    /// Every page.
    All,
    /// The pages whose bits are set.
    Some(&'a Bitmap),
}

/// Whether the bits of `len` pages are kept in the word itself.
#[inline(always)]
fn in_word(len: usize) -> bool {
    len <= usize::BITS as usize
}

/// The bits `first..=last` of a word; `first <= last < usize::BITS`.
#[inline(always)]
fn bits(first: usize, last: usize) -> usize {
    (usize::MAX >> (usize::BITS as usize - 1 - last)) & (usize::MAX << first)
}

impl DirtyPages {
    /// No page dirty.
    #[inline(always)]
    pub(crate) const fn new() -> Self {
        // INVARIANT: Nothing set, no bitmap, for any `len`.
        Self {
            word: Atomic::new(0),
        }
    }

    /// Sets `bits` in the word, atomically (the kernel crate's `Atomic` has no `fetch_or`).
    fn set(&self, bits: usize) {
        let mut old = self.word.load(Relaxed);
        while let Err(now) = self.word.cmpxchg(old, old | bits, Relaxed) {
            old = now;
        }
    }

    /// Marks pages `first..=last` of `len` dirty; nothing if not `first <= last < len`.
    ///
    /// Never sleeps, never fails (see the module documentation).
    ///
    /// # Safety
    ///
    /// `len` is the one the owner passes to every call on this object.
    pub(crate) unsafe fn mark(&self, len: usize, first: usize, last: usize) {
        if first > last || last >= len {
            return;
        }
        if in_word(len) {
            // INVARIANT: Bits of pages below `len` only.
            self.set(bits(first, last));
            return;
        }
        if first == 0 && last == len - 1 {
            // INVARIANT: Every page, without a bitmap.
            self.set(ALL);
            return;
        }
        // `Acquire`: a bitmap another CPU published (`Full` below) is seen zeroed.
        let mut word = self.word.load(Acquire);
        if word & ALL != 0 {
            return;
        }
        if word == 0 {
            // `GFP_NOWAIT | __GFP_ACCOUNT | __GFP_NOWARN`: may be called in atomic context,
            // charged like the pin's other memory; a failure has a fallback, it needs no warning.
            // (`__GFP_ACCOUNT` is what `GFP_KERNEL_ACCOUNT` adds to `GFP_KERNEL`.)
            let gfp = bindings::GFP_NOWAIT
                | (bindings::GFP_KERNEL_ACCOUNT & !bindings::GFP_KERNEL)
                | bindings::__GFP_NOWARN;
            // SAFETY: Plain allocation of `len` zeroed bits (`len` is a pin's page count, at most
            // `MAX_PIN_PAGES`: it fits).
            let new = unsafe { bindings::bitmap_zalloc(len as u32, gfp) };
            if new.is_null() {
                // INVARIANT: Every page counts as dirty: a superset of the marked ones.
                self.set(ALL);
                return;
            }
            // `Full`: the zeroed bits are visible before the pointer is (`Acquire` above).
            match self.word.cmpxchg(0, new as usize, Full) {
                // INVARIANT: The bitmap is now ours.
                Ok(_) => word = new as usize,
                Err(winner) => {
                    // SAFETY: Allocated above and never published.
                    unsafe { bindings::bitmap_free(new) };
                    if winner & ALL != 0 {
                        return;
                    }
                    word = winner;
                }
            }
        }
        // SAFETY: `word` (without `ALL`, which is not set) is the bitmap of `len` bits owned by
        // `self` (type invariants, `len` by the safety requirements), freed only with `&mut
        // self`; shared, its bits are only set atomically.
        let bitmap = unsafe { Bitmap::from_raw(word as *const usize, len) };
        for i in first..=last {
            bitmap.set_bit_atomic(i);
        }
    }

    /// Whether no page is dirty and no bitmap is allocated, for any `len`: the unpin needs
    /// neither [`DirtyPages::get`] nor [`DirtyPages::free`] then.
    #[inline(always)]
    pub(crate) fn is_clean(&mut self) -> bool {
        // No bit, no bitmap pointer, no `ALL` (type invariants).
        *self.word.get_mut() == 0
    }

    /// The dirty pages of `len`, for the unpin.
    ///
    /// # Safety
    ///
    /// As for [`DirtyPages::mark`].
    #[inline(always)]
    pub(crate) unsafe fn get(&mut self, len: usize) -> Dirty<'_> {
        let word = *self.word.get_mut();
        let ptr = if in_word(len) {
            if word == 0 {
                return Dirty::None;
            }
            if word == bits(0, len - 1) {
                return Dirty::All;
            }
            self.word.as_ptr().cast_const()
        } else {
            if word & ALL != 0 {
                return Dirty::All;
            }
            if word == 0 {
                return Dirty::None;
            }
            word as *const usize
        };
        // SAFETY: `ptr` points to the `len` bits (type invariants, `len` by the safety
        // requirements), which nobody changes while `self` is borrowed exclusively.
        Dirty::Some(unsafe { Bitmap::from_raw(ptr, len) })
    }

    /// Frees the bitmap, if any.
    ///
    /// # Safety
    ///
    /// As for [`DirtyPages::mark`]; called once, the object not used after.
    #[inline(always)]
    pub(crate) unsafe fn free(&mut self, len: usize) {
        let bitmap = *self.word.get_mut() & !ALL;
        if !in_word(len) && bitmap != 0 {
            // SAFETY: Owned by `self` (type invariants), not used after (safety requirements).
            unsafe { bindings::bitmap_free(bitmap as *mut usize) };
        }
    }
}

#[kunit_tests(rgup_dirty_pages)]
mod tests {
    use super::*;

    /// A `DirtyPages` with its `len`, as a pin keeps it.
    struct Owned {
        d: DirtyPages,
        len: usize,
    }

    impl Owned {
        fn new(len: usize) -> Self {
            Self {
                d: DirtyPages::new(),
                len,
            }
        }

        fn mark(&self, first: usize, last: usize) {
            // SAFETY: Always `self.len`.
            unsafe { self.d.mark(self.len, first, last) }
        }

        /// The dirty pages, `None` for all.
        fn dirty(&mut self) -> Option<KVec<usize>> {
            let mut out = KVec::new();
            // SAFETY: Always `self.len`.
            match unsafe { self.d.get(self.len) } {
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
    }

    impl Drop for Owned {
        fn drop(&mut self) {
            // SAFETY: Always `self.len`; once.
            unsafe { self.d.free(self.len) };
        }
    }

    #[test]
    fn only_marked_pages_are_dirty() -> Result {
        for len in [1, 5, 63, 64, 65, 512, 4097] {
            let mut d = Owned::new(len);
            assert_eq!(d.dirty().as_deref(), Some(&[][..]));
            if len < 3 {
                // One page marked is the whole pin.
                d.mark(0, 0);
                assert!(d.dirty().is_none());
                continue;
            }
            d.mark(1, 1);
            d.mark(len - 2, len - 2);
            // Out of range: ignored, nothing set.
            d.mark(len, len);
            d.mark(len - 1, len);
            d.mark(2, 1);
            assert_eq!(d.dirty().as_deref(), Some(&[1, len - 2][..]));
            d.mark(0, len - 1);
            assert!(d.dirty().is_none());
        }
        Ok(())
    }

    #[test]
    fn marks_that_cover_a_small_pin_are_all_of_it() -> Result {
        let mut d = Owned::new(64);
        d.mark(0, 31);
        assert_eq!(d.dirty().map(|v| v.len()), Some(32));
        d.mark(32, 63);
        assert!(d.dirty().is_none());
        Ok(())
    }

    #[test]
    fn a_whole_mark_allocates_nothing() {
        let mut d = Owned::new(4097);
        d.mark(0, 4096);
        assert_eq!(*d.d.word.get_mut(), ALL);
        assert!(d.dirty().is_none());
        // A partial mark after it allocates nothing either: every page is dirty already.
        d.mark(3, 3);
        assert_eq!(*d.d.word.get_mut(), ALL);
    }
}

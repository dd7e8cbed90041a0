// SPDX-License-Identifier: GPL-2.0

//! The page array of a pin: room for a known number of page pointers, filled by
//! `pin_user_pages*()`, in one `kvmalloc_array()` allocation, as the C drivers make it.
//!
//! [`KVVec`] does not fit: a pin never grows its array, while `KVVec` allocates through
//! `kvrealloc()` (`krealloc()` of `NULL` behind a vmalloc check, and the layout's alignment
//! computed out of line: three calls more than `kvmalloc_array()` per pin, measured in
//! `Documentation/rgup/performance.rst`).
//!
//! C header: [`include/linux/slab.h`](srctree/include/linux/slab.h)

use crate::helpers;
use core::{
    mem::ManuallyDrop,
    ptr::NonNull, //
};
use kernel::{
    alloc::AllocError,
    bindings,
    ffi::c_void,
    prelude::*, //
};

/// A fixed-capacity array of page pointers.
///
/// # Invariants
///
/// `ptr` is a `kvmalloc_array()` allocation of `cap + WORDS` page pointers, of which the first
/// `len <= cap` are initialised. The `WORDS` words after the `cap` pages are the owner's (the
/// word of a [`FullPageArray`], the state of a [`crate::p2p::DmaOnlySgt`]).
pub(crate) struct PageArray<const WORDS: usize = 0> {
    ptr: NonNull<*mut bindings::page>,
    // `u32`: at most `INT_MAX` bytes of pointers (`new`). The array is in every pin, and every
    // move of a pin is a copy (`crate::pin::PinnedPages`).
    cap: u32,
    len: u32,
}

impl<const WORDS: usize> PageArray<WORDS> {
    /// An empty array with room for `cap` pages, charged to the caller's memory cgroup
    /// (`GFP_KERNEL_ACCOUNT`): it lives as long as the pin.
    ///
    /// ([`kernel::alloc::Flags`] cannot be passed on to C, hence no flags argument.)
    pub(crate) fn new(cap: usize) -> Result<Self, AllocError> {
        // `kvmalloc()` warns above `INT_MAX` bytes; refuse those sizes here instead.
        const { assert!(WORDS <= 64) };
        if cap > i32::MAX as usize / size_of::<*mut bindings::page>() - WORDS {
            return Err(AllocError);
        }
        // SAFETY: Plain allocation of `cap + WORDS` pointers, at most `INT_MAX` bytes.
        let raw = unsafe {
            helpers::rgup_helper_kvmalloc_array(
                cap + WORDS,
                size_of::<*mut bindings::page>(),
                bindings::GFP_KERNEL_ACCOUNT,
            )
        };
        let ptr = NonNull::new(raw.cast::<*mut bindings::page>()).ok_or(AllocError)?;
        // INVARIANT: Allocated as described, nothing initialised yet. (`cap` fits: checked
        // above.)
        Ok(Self {
            ptr,
            cap: cap as u32,
            len: 0,
        })
    }

    /// Number of initialised entries.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    /// Room for this many entries in all.
    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.cap as usize
    }

    /// Room for this many entries after the initialised ones.
    #[inline]
    pub(crate) fn spare(&self) -> usize {
        (self.cap - self.len) as usize
    }

    /// Where the next entry goes: room for [`PageArray::spare`] pointers, for `pin_user_pages*()`
    /// to fill; [`PageArray::inc_len`] then counts what they filled.
    #[inline]
    pub(crate) fn spare_ptr(&mut self) -> *mut *mut bindings::page {
        // SAFETY: `len <= cap`: at most one past the last pointer of the allocation.
        unsafe { self.ptr.as_ptr().add(self.len()) }
    }

    /// Counts `n` more entries as initialised.
    ///
    /// # Safety
    ///
    /// `n <= self.spare()`, and the `n` entries after the initialised ones were written.
    #[inline]
    pub(crate) unsafe fn inc_len(&mut self, n: usize) {
        // INVARIANT: By the safety requirements the `n` entries are initialised and fit (so the
        // sum is at most `cap`, a `u32`: it does not wrap).
        self.len = self.len.wrapping_add(n as u32);
    }

    /// The initialised entries.
    #[inline]
    pub(crate) fn as_slice(&self) -> &[*mut bindings::page] {
        // SAFETY: The first `len` entries are initialised (type invariants).
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len()) }
    }

    /// The initialised entries, to hand to `unpin_user_pages*()`.
    #[inline]
    pub(crate) fn as_mut_slice(&mut self) -> &mut [*mut bindings::page] {
        // SAFETY: As in `as_slice`, and `&mut self` is exclusive.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len()) }
    }

    /// The owner's `WORDS` words after the `cap` entries: word-aligned, uninitialised until the
    /// owner writes them, freed with the array.
    #[inline(always)]
    pub(crate) fn tail(&self) -> NonNull<usize> {
        // SAFETY: `cap` entries, then `WORDS` words, are allocated (type invariants): the result
        // is at most one past the end of the allocation, and not null.
        unsafe { NonNull::new_unchecked(self.ptr.as_ptr().add(self.capacity()).cast()) }
    }
}

impl PageArray<1> {
    /// The array as it is, its length from now on kept by the owner, with `word` stored after
    /// the last initialised entry.
    #[inline(always)]
    pub(crate) fn into_full(self, word: *mut c_void) -> FullPageArray {
        let this = ManuallyDrop::new(self);
        // SAFETY: Entry `len <= cap` is within the `cap + 1` entries allocated (type invariants,
        // `WORDS` is 1).
        unsafe {
            this.ptr
                .as_ptr()
                .add(this.len())
                .cast::<*mut c_void>()
                .write(word)
        };
        // INVARIANT: The allocation, its first `len` entries and the word after them, passes to
        // the `FullPageArray` (`this` is not dropped).
        FullPageArray { ptr: this.ptr }
    }
}

/// The block of a `PageArray<1>` given up with [`PageArray::into_full`], in one word: its length
/// is kept by its owner, which passes it to every call (a `PinnedPages` holds one, and every move
/// of a pin is a copy, `crate::pin::PinnedPages`).
///
/// It has no drop: the owner frees it with [`FullPageArray::free`].
///
/// # Invariants
///
/// `ptr` is a `kvmalloc_array()` allocation whose first `len` entries are initialised and whose
/// entry `len` holds the owner's word, where `len` is the length of the array at
/// [`PageArray::into_full`].
pub(crate) struct FullPageArray {
    ptr: NonNull<*mut bindings::page>,
}

impl FullPageArray {
    /// The entries.
    ///
    /// # Safety
    ///
    /// `len` is the length of the array at [`PageArray::into_full`]; not freed.
    #[inline(always)]
    pub(crate) unsafe fn as_slice(&self, len: usize) -> &[*mut bindings::page] {
        // SAFETY: The first `len` entries are initialised (type invariants, safety requirements).
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), len) }
    }

    /// The entries, to hand to `unpin_user_pages*()`.
    ///
    /// # Safety
    ///
    /// As for [`FullPageArray::as_slice`].
    #[inline(always)]
    pub(crate) unsafe fn as_mut_slice(&mut self, len: usize) -> &mut [*mut bindings::page] {
        // SAFETY: As in `as_slice`, and `&mut self` is exclusive.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), len) }
    }

    /// The owner's word.
    ///
    /// # Safety
    ///
    /// As for [`FullPageArray::as_slice`].
    #[inline(always)]
    pub(crate) unsafe fn word(&self, len: usize) -> *mut c_void {
        // SAFETY: Entry `len` holds the word (type invariants, safety requirements).
        unsafe { self.ptr.as_ptr().add(len).cast::<*mut c_void>().read() }
    }

    /// Frees the array (not what its entries point to).
    ///
    /// # Safety
    ///
    /// Called once; the array is not used after.
    #[inline(always)]
    pub(crate) unsafe fn free(&mut self) {
        // SAFETY: Allocated with `kvmalloc_array()` (type invariants), freed once (safety
        // requirements).
        unsafe { bindings::kvfree(self.ptr.as_ptr().cast()) };
    }
}

impl<const WORDS: usize> Drop for PageArray<WORDS> {
    fn drop(&mut self) {
        // SAFETY: Allocated by `kvmalloc_array()` (type invariants); the entries are plain
        // pointers with nothing to drop.
        unsafe { bindings::kvfree(self.ptr.as_ptr().cast()) };
    }
}

#[kunit_tests(rgup_page_array)]
mod tests {
    use super::*;

    #[test]
    fn filled_in_place() -> Result {
        for cap in [1, 512, 4097] {
            let mut a = PageArray::<1>::new(cap)?;
            assert_eq!((a.len(), a.spare()), (0, cap));
            let p = a.spare_ptr();
            for i in 0..cap {
                let page = core::ptr::null_mut::<bindings::page>().wrapping_add(i);
                // SAFETY: `i < cap`: room for it.
                unsafe { p.add(i).write(page) };
            }
            // SAFETY: All `cap` entries were written.
            unsafe { a.inc_len(cap) };
            assert_eq!(a.spare(), 0);
            for (i, &page) in a.as_slice().iter().enumerate() {
                assert_eq!(page as usize, i * size_of::<bindings::page>());
            }
            assert_eq!(a.as_mut_slice().len(), cap);
            let mut full = a.into_full(core::ptr::without_provenance_mut(cap));
            // SAFETY: `cap` is the length it was given up with; freed once, last.
            unsafe {
                assert_eq!(
                    full.as_slice(cap)[cap - 1] as usize,
                    (cap - 1) * size_of::<bindings::page>()
                );
                assert_eq!(full.as_mut_slice(cap).len(), cap);
                assert_eq!(full.word(cap) as usize, cap);
                full.free();
            }
        }
        Ok(())
    }

    #[test]
    fn the_owners_word_follows_the_initialised_entries() -> Result {
        let mut a = PageArray::<1>::new(8)?;
        // SAFETY: Room for 8.
        unsafe { a.spare_ptr().write(core::ptr::null_mut()) };
        // SAFETY: One entry written.
        unsafe { a.inc_len(1) };
        let mut full = a.into_full(core::ptr::without_provenance_mut(0x5a));
        // SAFETY: Given up with length 1; freed once, last.
        unsafe {
            assert_eq!(full.word(1) as usize, 0x5a);
            full.free();
        }
        Ok(())
    }

    #[test]
    fn refuses_what_kvmalloc_would_warn_about() {
        assert!(PageArray::<0>::new(usize::MAX).is_err());
        assert!(PageArray::<0>::new(i32::MAX as usize / 8 + 1).is_err());
        assert!(PageArray::<1>::new(i32::MAX as usize / 8).is_err());
    }
}

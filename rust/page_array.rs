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
use core::ptr::NonNull;
use kernel::{
    alloc::AllocError,
    bindings,
    prelude::*, //
};

/// A fixed-capacity array of page pointers.
///
/// # Invariants
///
/// `ptr` is a `kvmalloc_array()` allocation of `cap` page pointers, of which the first
/// `len <= cap` are initialised.
pub(crate) struct PageArray {
    ptr: NonNull<*mut bindings::page>,
    // `u32`: at most `INT_MAX` bytes of pointers (`new`). The array is in every pin, and every
    // move of a pin is a copy (`crate::pin::PinnedPages`).
    cap: u32,
    len: u32,
}

impl PageArray {
    /// An empty array with room for `cap` pages, charged to the caller's memory cgroup
    /// (`GFP_KERNEL_ACCOUNT`): it lives as long as the pin.
    ///
    /// ([`kernel::alloc::Flags`] cannot be passed on to C, hence no flags argument.)
    pub(crate) fn new(cap: usize) -> Result<Self, AllocError> {
        // `kvmalloc()` warns above `INT_MAX` bytes; refuse those sizes here instead.
        if cap > i32::MAX as usize / size_of::<*mut bindings::page>() {
            return Err(AllocError);
        }
        // SAFETY: Plain allocation of `cap` pointers, at most `INT_MAX` bytes.
        let raw = unsafe {
            helpers::rgup_helper_kvmalloc_array(
                cap,
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
        // sum is at most `cap`, a `u32`).
        self.len += n as u32;
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
}

impl Drop for PageArray {
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
            let mut a = PageArray::new(cap)?;
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
        }
        Ok(())
    }

    #[test]
    fn refuses_what_kvmalloc_would_warn_about() {
        assert!(PageArray::new(usize::MAX).is_err());
        assert!(PageArray::new(i32::MAX as usize / 8 + 1).is_err());
    }
}

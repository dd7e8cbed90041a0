// SPDX-License-Identifier: GPL-2.0

//! Pages of user memory, as the CPU may access them on a device's behalf.
//!
//! A page that rgup pins ([`crate::pin::PinnedPages::page`]) or mirrors
//! ([`crate::mirror::MirrorGuard::page`]) belongs to a process: its threads, other processes
//! sharing it, devices and other kernel threads (through another pin or mirror of the same
//! memory) may read and write it at any time, and nothing rgup holds can stop them. Its contents
//! are therefore never Rust data. [`UserPage`] copies them with `memcpy()` through a
//! [`kernel::io::SysMem`] view, the kernel crate's accessor of memory shared with hardware: a
//! concurrent access gives unspecified bytes, never undefined behaviour, as
//! [`kernel::uaccess::UserSlice`] promises for user addresses. A [`BorrowedPage`]'s
//! [`read_raw`](kernel::page::Page::read_raw) and [`write_raw`](kernel::page::Page::write_raw)
//! require that no other access races with theirs, which nobody can promise for user memory, so
//! rgup does not hand out a [`BorrowedPage`].
//!
//! C header: [`include/linux/highmem.h`](srctree/include/linux/highmem.h)

use core::{mem::MaybeUninit, ptr::NonNull};
use kernel::{
    bindings,
    io::{
        IoCopyable,
        SysMem,
        SysMemBackend, //
    },
    page::{
        BorrowedPage,
        PAGE_SIZE, //
    },
    prelude::*,
};

/// A page of user memory, borrowed from the pin or mirror that keeps it valid.
///
/// # Invariants
///
/// `page` stays a valid, allocated page for `'a`; if `writable`, the process may write it (a
/// writable pin or translation: copy-on-write was broken for it).
pub struct UserPage<'a> {
    page: BorrowedPage<'a>,
    writable: bool,
}

impl<'a> UserPage<'a> {
    /// Wraps `page`.
    ///
    /// # Safety
    ///
    /// `page` must stay valid and allocated for `'a`, and, if `writable`, be writable by the
    /// process it belongs to: a page the process maps read-only may be shared copy-on-write (the
    /// zero page, a page of a parent process) and must never be written.
    pub(crate) unsafe fn from_raw(page: NonNull<bindings::page>, writable: bool) -> Self {
        // INVARIANT: By the safety requirements.
        Self {
            // SAFETY: By the safety requirements, the page is valid for `'a`.
            page: unsafe { BorrowedPage::from_raw(page) },
            writable,
        }
    }

    /// The `struct page`, for the kernel's page functions (not for copying: see the module
    /// documentation).
    pub fn as_ptr(&self) -> *mut bindings::page {
        self.page.as_ptr()
    }

    /// Whether [`UserPage::write`] may write the page.
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// Runs `copy` on a view of `len` bytes of the page from `offset`, mapped for this thread.
    fn with_view(&self, offset: usize, len: usize, copy: impl FnOnce(SysMem<'_, [u8]>)) -> Result {
        if offset > PAGE_SIZE || len > PAGE_SIZE - offset {
            return Err(EINVAL);
        }
        // SAFETY: The page is valid (type invariant).
        let base = unsafe { bindings::kmap_local_page(self.page.as_ptr()) }.cast::<u8>();
        // SAFETY: `kmap_local_page()` maps the whole page at `base` until the `kunmap_local()`
        // below, and `offset + len <= PAGE_SIZE`: the view is valid kernel memory (of bytes, so
        // aligned) for as long as `copy` runs. It does not outlive the call: `copy` cannot return
        // it.
        let view =
            unsafe { SysMem::new(core::ptr::slice_from_raw_parts_mut(base.add(offset), len)) };
        copy(view);
        // SAFETY: Undoes the mapping made above, on this thread; `copy` (rgup's own copies) made
        // no local mapping of its own that would have to be undone first.
        unsafe { bindings::kunmap_local(base.cast()) };
        Ok(())
    }

    /// Copies `out.len()` bytes of the page from `offset` into `out`.
    ///
    /// `EINVAL` when the range leaves the page. Concurrent writers (the process, a device) may
    /// leave any mix of old and new bytes in `out`.
    pub fn read(&self, offset: usize, out: &mut [u8]) -> Result {
        // SAFETY: `u8` and `MaybeUninit<u8>` have the same layout, and `read_uninit` only writes
        // initialised bytes.
        let out = unsafe { &mut *(core::ptr::from_mut(out) as *mut [MaybeUninit<u8>]) };
        self.read_uninit(offset, out)
    }

    /// As [`UserPage::read`], into a buffer not yet initialised, which it initialises.
    pub fn read_uninit(&self, offset: usize, out: &mut [MaybeUninit<u8>]) -> Result {
        self.with_view(offset, out.len(), |view| {
            // SAFETY: `out` is valid for writes of `view.size() == out.len()` bytes and, being
            // a Rust buffer, does not overlap the page.
            unsafe { SysMemBackend::copy_from_io(view, out.as_mut_ptr().cast()) }
        })
    }

    /// Copies `data` into the page from `offset`, as a device write would.
    ///
    /// `EPERM` for a page the process may not write, `EINVAL` when the range leaves the page.
    /// It does not mark the page dirty: a pin's pages are marked through the pin
    /// ([`crate::pin::PinnedPages::page_mut`]), a writable translation's are dirty already.
    pub fn write(&self, offset: usize, data: &[u8]) -> Result {
        if !self.writable {
            return Err(EPERM);
        }
        self.with_view(offset, data.len(), |view| {
            // SAFETY: `data` is valid for reads of `view.size() == data.len()` bytes and, being
            // a Rust buffer, does not overlap the page.
            unsafe { SysMemBackend::copy_to_io(view, data.as_ptr()) }
        })
    }
}

#[kunit_tests(rgup_user_page)]
mod tests {
    use super::*;
    use crate::pin::{
        PinRequest, //
    };
    use crate::Access;

    #[test]
    fn copies_stay_in_the_page() -> Result {
        let addr = crate::testing::user_buffer(PAGE_SIZE)?;
        let mut pinned = PinRequest::new(addr, PAGE_SIZE, Access::Write).pin()?;
        let page = pinned.page_mut(0).ok_or(EINVAL)?;
        page.write(PAGE_SIZE - 3, b"abc")?;
        let mut out = [0u8; 3];
        page.read(PAGE_SIZE - 3, &mut out)?;
        assert_eq!(&out, b"abc");
        assert_eq!(page.write(PAGE_SIZE - 2, b"abc"), Err(EINVAL));
        assert_eq!(page.read(PAGE_SIZE + 1, &mut []), Err(EINVAL));
        assert_eq!(page.read(usize::MAX, &mut out), Err(EINVAL));
        let read_only = PinRequest::new(addr, PAGE_SIZE, Access::Read).pin()?;
        let page = read_only.page(0).ok_or(EINVAL)?;
        assert_eq!(page.write(0, b"x"), Err(EPERM));
        page.read(PAGE_SIZE - 3, &mut out)?;
        assert_eq!(&out, b"abc");
        Ok(())
    }
}

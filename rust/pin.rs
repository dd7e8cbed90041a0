// SPDX-License-Identifier: GPL-2.0

//! Long-term pinning of user memory for device DMA.
//!
//! A driver describes what it wants pinned with a [`PinRequest`] and gets either a
//! [`PinnedPages`], which owns every page of the range and unpins them on drop, or a
//! [`PinError`] that says why not and maps to one errno.
//!
//! The rules of `FOLL_LONGTERM` (`mm/gup.c`, `check_vma_flags()`) are checked by rgup itself
//! before pinning, VMA by VMA in address order and in the kernel's order, so that a refusal names
//! the VMA and the reason: I/O and PFN maps, FS-DAX, secretmem, writable shared file mappings
//! that need dirty tracking (ext4, xfs, btrfs; tmpfs, memfd and hugetlbfs are fine), missing
//! permissions, holes. The kernel's own check still runs underneath, in the same `mmap_lock`
//! critical section for [`Method::Locked`]; the two give the same verdict (the kselftests check
//! it for every memory type). [`PinRequest::check`] runs the verdict alone.
//!
//! Pins are all-or-nothing: a short pin is unwound and reported as [`PinError::Incomplete`].
//! Pinned pages are charged to the pinning mm's `pinned_vm` against `RLIMIT_MEMLOCK` (bypassed
//! with `CAP_IPC_LOCK`), as RDMA's umem does, before pinning; the charge is returned exactly
//! once, to the mm that was charged, when the [`PinnedPages`] is dropped, whichever task drops
//! it and whether or not the process still exists.
//!
//! `FOLL_LONGTERM` and `FOLL_PCI_P2PDMA` exclude each other (`is_valid_gup_args()`): long-term
//! pins never contain PCI peer memory.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h)

use crate::{
    dirty_pages::{
        Dirty,
        DirtyPages, //
    },
    dma::DmaMapping,
    helpers,
    page_array::{
        FullPageArray,
        PageArray, //
    },
    stats,
    user_page::UserPage, //
    Access,
};
use core::{
    mem::ManuallyDrop,
    ptr::NonNull, //
};
use kernel::{
    alloc::AllocError,
    bindings,
    device::{
        Bound,
        Device, //
    },
    dma::DataDirection,
    ffi::{
        c_ulong,
        c_void, //
    },
    mm::{
        virt::VmaRef,
        MmWithUser,
        MmapReadGuard, //
    },
    page::{
        PAGE_SHIFT,
        PAGE_SIZE, //
    },
    prelude::*,
    uaccess::{
        UserSliceReader,
        UserSliceWriter, //
    },
};

/// The largest number of pages one request may pin (16 GiB of 4 KiB pages).
pub const MAX_PIN_PAGES: usize = 1 << 22;

/// Pages pinned by one `pin_user_pages_fast()` call and unpinned by one
/// `unpin_user_pages_dirty_lock()` call, with a `cond_resched()` between calls, as `ib_umem_get()`
/// does: the fast pin walks the page tables of its whole range with interrupts off, and neither
/// reschedules in its loop.
pub(crate) const BATCH_PAGES: usize = 512;

/// [`kernel::task::might_sleep`] where it checks something (`CONFIG_DEBUG_ATOMIC_SLEEP`): the
/// drop of an object that may sleep calls it however little it holds. Elsewhere it would be an
/// out-of-line call to an empty `might_resched()` (with `CONFIG_PREEMPTION`), which the C
/// inlines away.
#[track_caller]
#[inline]
pub(crate) fn might_sleep() {
    #[cfg(CONFIG_DEBUG_ATOMIC_SLEEP)]
    kernel::task::might_sleep();
}

/// Lets the scheduler run another task between two batches of [`BATCH_PAGES`].
pub(crate) fn cond_resched() {
    // SAFETY: Called in process context with no spinlock held (the callers may sleep).
    unsafe { helpers::rgup_helper_cond_resched() };
}

/// How the pages are pinned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `pin_user_pages()` under the mmap read lock; a refusal is explained in the same critical
    /// section, so the explanation is about the VMAs the kernel refused.
    Locked,
    /// `pin_user_pages_fast()` without the mmap lock (a refusal is explained afterwards, under
    /// the lock).
    ///
    /// With `fallback`, a short fast pin continues with [`Method::Locked`] for the rest;
    /// without, it fails with [`PinError::Incomplete`]. Pins of a remote mm are always locked.
    Fast {
        /// Continue with the locked path after a short fast pin.
        fallback: bool,
    },
}

/// Whether the pinned pages are charged against `RLIMIT_MEMLOCK`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accounting {
    /// Charge `mm->pinned_vm` (shown as `VmPin`) and refuse beyond `RLIMIT_MEMLOCK`, unless the
    /// caller has `CAP_IPC_LOCK` (the limit is then not checked, the pages are still counted).
    Memlock,
    /// Do not charge: the caller accounts the memory itself.
    None,
}

/// What backs a VMA, as far as long-term pinning is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmaKind {
    /// Private anonymous memory (no `vm_ops`).
    Anonymous,
    /// tmpfs, memfd, shared anonymous memory.
    Shmem,
    /// hugetlbfs (`VM_HUGETLB`).
    Hugetlb,
    /// Any other file mapping.
    File,
    /// `memfd_secret()` memory.
    Secretmem,
    /// `VM_IO` or `VM_PFNMAP`: memory without `struct page` semantics.
    IoPfnMap,
    /// A file on a filesystem mounted with DAX.
    FsDax,
}

/// One VMA of a request's range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmaSpan {
    /// First address of the VMA.
    pub start: usize,
    /// One past its last address.
    pub end: usize,
    /// What backs it.
    pub kind: VmaKind,
}

/// Why a VMA cannot be pinned long-term, in the order `check_vma_flags()` tests them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `VM_IO`/`VM_PFNMAP`: there are no pages to pin (`EFAULT`).
    IoPfnMap,
    /// FS-DAX: the pages are the storage itself and cannot be pinned indefinitely
    /// (`EOPNOTSUPP`).
    FsDax,
    /// Secret memory is unmapped from the kernel; no device may reach it (`EFAULT`).
    Secretmem,
    /// A writable shared mapping of a file that needs dirty tracking (writeback or
    /// `page_mkwrite`): a device writing behind the filesystem's back would lose data
    /// (`EFAULT`). Use tmpfs, memfd or hugetlbfs, or pin read-only.
    DirtyTrackedFile,
    /// Write access to a mapping without `PROT_WRITE` (`EFAULT`).
    NotWritable,
    /// Read access to a mapping without `PROT_READ`, e.g. `PROT_NONE` (`EFAULT`).
    NotReadable,
    /// The architecture refuses the access, e.g. a protection key (`EFAULT`).
    ArchDenied,
}

/// The errno the kernel's own check returns for the refusal.
impl From<Refusal> for Error {
    fn from(why: Refusal) -> Self {
        match why {
            Refusal::FsDax => EOPNOTSUPP,
            _ => EFAULT,
        }
    }
}

impl Refusal {
    /// One line for people.
    pub fn explain(self) -> &'static str {
        match self {
            Refusal::IoPfnMap => "VM_IO/VM_PFNMAP mapping: no struct pages to pin",
            Refusal::FsDax => "FS-DAX file: long-term pins of DAX storage are not supported",
            Refusal::Secretmem => "memfd_secret() memory is off limits to the kernel and devices",
            Refusal::DirtyTrackedFile => {
                "writable shared mapping of a file that needs dirty tracking (use tmpfs, memfd, \
                 hugetlbfs, or pin read-only)"
            }
            Refusal::NotWritable => "write access to a mapping without PROT_WRITE",
            Refusal::NotReadable => "read access to a mapping without PROT_READ",
            Refusal::ArchDenied => "the architecture denies the access (protection key)",
        }
    }
}

/// Why a pin failed. Each variant maps to exactly one errno (`From<PinError> for Error`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinError {
    /// Zero length, `addr + len` overflows, or the range leaves user space (`EINVAL`).
    InvalidRange,
    /// More than [`MAX_PIN_PAGES`] pages (`EINVAL`).
    TooLarge,
    /// The calling task has no mm, e.g. a kernel thread (`ESRCH`).
    NoMm,
    /// No VMA at `addr` (`EFAULT`).
    Hole {
        /// First unmapped address.
        addr: usize,
    },
    /// A VMA of the range cannot be pinned long-term.
    Refused {
        /// The VMA.
        vma: VmaSpan,
        /// Why.
        why: Refusal,
    },
    /// Charging the pages would exceed `RLIMIT_MEMLOCK` (`ENOMEM`).
    OverMemlockLimit {
        /// Pages the request would have charged.
        pages: usize,
        /// The limit, in pages.
        limit: usize,
    },
    /// The kernel pinned fewer pages than asked and reported no error (`EFAULT`).
    Incomplete {
        /// Pages pinned (and unpinned again).
        pinned: usize,
        /// Pages asked for.
        wanted: usize,
    },
    /// The range holds PCI peer-to-peer memory (an `mmap()` of a provider's `p2pmem/allocate`),
    /// which the kernel never pins long-term (`EREMOTEIO`): `FOLL_LONGTERM` and
    /// `FOLL_PCI_P2PDMA` exclude each other so that the provider stays hot-unpluggable. Map it
    /// for the duration of a transfer with [`crate::p2p::DmaOnlySgt`] instead.
    PeerMemory,
    /// `pin_user_pages*()` itself failed with this errno (`ENOMEM`, `EINTR`, `EAGAIN`, `EFAULT`,
    /// `EHWPOISON`, ...), or an allocation of rgup failed (`ENOMEM`).
    Kernel(Error),
}

impl PinError {
    /// The error of a failed `pin_user_pages*()` call: GUP refuses P2P pages without
    /// `FOLL_PCI_P2PDMA` with `EREMOTEIO` (`try_grab_folio()`), which for a long-term pin can only
    /// mean peer memory.
    fn from_gup(ret: i32) -> Self {
        let e = Error::from_errno(ret);
        if e == EREMOTEIO {
            PinError::PeerMemory
        } else {
            PinError::Kernel(e)
        }
    }
}

/// The errno of each error, as in `Documentation/rgup/pin.rst`'s table.
impl From<PinError> for Error {
    fn from(e: PinError) -> Self {
        match e {
            PinError::InvalidRange | PinError::TooLarge => EINVAL,
            PinError::NoMm => ESRCH,
            PinError::Hole { .. } | PinError::Incomplete { .. } => EFAULT,
            PinError::Refused { why, .. } => why.into(),
            PinError::OverMemlockLimit { .. } => ENOMEM,
            PinError::PeerMemory => EREMOTEIO,
            PinError::Kernel(e) => e,
        }
    }
}

impl From<AllocError> for PinError {
    fn from(_: AllocError) -> Self {
        PinError::Kernel(ENOMEM)
    }
}

/// The pages covering a byte range. (Two words: passed by value in registers.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PageSpan {
    /// Address of the first page.
    pub(crate) first: usize,
    /// Number of pages.
    pub(crate) count: usize,
}

impl PageSpan {
    /// The pages covering `[addr, addr + len)` of a user address space ending at `user_end`.
    #[inline]
    pub(crate) fn new(addr: usize, len: usize, user_end: usize) -> Result<Self, PinError> {
        if len == 0 {
            return Err(PinError::InvalidRange);
        }
        let end = addr.checked_add(len).ok_or(PinError::InvalidRange)?;
        if end > user_end {
            return Err(PinError::InvalidRange);
        }
        let first = addr & !(PAGE_SIZE - 1);
        // `end > addr >= first`: neither subtraction wraps. (Wrapping operations, where the plain
        // ones would check it in every pin with `CONFIG_RUST_OVERFLOW_CHECKS`.)
        let last = end.wrapping_sub(1) & !(PAGE_SIZE - 1);
        let count = (last.wrapping_sub(first) >> PAGE_SHIFT) + 1;
        if count > MAX_PIN_PAGES {
            return Err(PinError::TooLarge);
        }
        Ok(Self { first, count })
    }

    fn end(&self) -> usize {
        self.first + (self.count << PAGE_SHIFT)
    }
}

/// One past the highest user address (`TASK_SIZE_MAX`).
pub(crate) fn user_end() -> usize {
    // SAFETY: Reads a constant.
    unsafe { helpers::rgup_helper_task_size_max() }
}

/// Classifies `vma` and applies the `FOLL_LONGTERM` rules of `check_vma_flags()` in its order.
fn check_vma(vma: &VmaRef, access: Access, foreign: bool) -> Result<VmaSpan, PinError> {
    let raw = vma.as_ptr();
    let flags = vma.flags();
    // SAFETY: `raw` is a valid VMA, we hold the mmap read lock (required by `VmaRef`).
    let magic = unsafe { helpers::rgup_helper_vma_fs_magic(raw) };
    // SAFETY: As above.
    let fsdax = unsafe { helpers::rgup_helper_vma_is_fsdax(raw) };
    // SAFETY: As above; `vm_ops` is stable under the mmap lock.
    let anonymous = unsafe { (*raw).vm_ops.is_null() };

    let kind = if flags & (bindings::VM_IO | bindings::VM_PFNMAP) != 0 {
        VmaKind::IoPfnMap
    } else if fsdax {
        VmaKind::FsDax
    } else if magic == bindings::SECRETMEM_MAGIC as c_ulong {
        VmaKind::Secretmem
    } else if flags & bindings::VM_HUGETLB != 0 {
        VmaKind::Hugetlb
    } else if anonymous {
        VmaKind::Anonymous
    } else if magic == bindings::TMPFS_MAGIC as c_ulong {
        VmaKind::Shmem
    } else {
        VmaKind::File
    };
    let span = VmaSpan {
        start: vma.start(),
        end: vma.end(),
        kind,
    };
    let refuse = |why| Err(PinError::Refused { vma: span, why });

    match kind {
        VmaKind::IoPfnMap => return refuse(Refusal::IoPfnMap),
        VmaKind::FsDax => return refuse(Refusal::FsDax),
        VmaKind::Secretmem => return refuse(Refusal::Secretmem),
        _ => {}
    }
    let write = access == Access::Write;
    if write {
        // SAFETY: `raw` is a valid VMA under the mmap read lock.
        if !anonymous && unsafe { helpers::rgup_helper_vma_needs_dirty_tracking(raw) } {
            return refuse(Refusal::DirtyTrackedFile);
        }
        if flags & bindings::VM_WRITE == 0
            || flags & bindings::VM_SHADOW_STACK as bindings::vm_flags_t != 0
        {
            return refuse(Refusal::NotWritable);
        }
    } else if flags & bindings::VM_READ == 0 {
        return refuse(Refusal::NotReadable);
    }
    // SAFETY: `raw` is a valid VMA under the mmap read lock.
    if !unsafe { helpers::rgup_helper_vma_access_permitted(raw, write, foreign) } {
        return refuse(Refusal::ArchDenied);
    }
    Ok(span)
}

/// Walks the VMAs of `span` in address order; the first refusal or hole ends the walk.
fn check_span(
    guard: &MmapReadGuard<'_>,
    span: &PageSpan,
    access: Access,
    foreign: bool,
) -> Result<usize, PinError> {
    let mut addr = span.first;
    let mut vmas = 0;
    while addr < span.end() {
        let vma = guard.vma_lookup(addr).ok_or(PinError::Hole { addr })?;
        let checked = check_vma(vma, access, foreign)?;
        vmas += 1;
        addr = checked.end;
    }
    Ok(vmas)
}

/// A request to pin a user range long-term.
///
/// # Examples
///
/// ```
/// use kernel::page::PAGE_SIZE;
/// use rgup::Access;
/// use rgup::pin::{PinError, PinRequest};
///
/// # let uaddr = rgup::testing::user_buffer(4 * PAGE_SIZE)?;
/// # let len = 3 * PAGE_SIZE;
/// // In an ioctl: pin the caller's buffer for a device that writes into it.
/// let pinned = PinRequest::new(uaddr, len, Access::Write).pin()?;
/// assert_eq!(pinned.page_count(), 3);
/// for (first, pages) in pinned.contiguous_runs() {
///     // One scatter-list entry per physically contiguous run of pages.
/// #   assert!(first + pages <= pinned.page_count());
/// }
/// // ... the device wrote everything:
/// pinned.mark_dirty()?;
/// drop(pinned); // unpinned, dirtied, uncharged
///
/// // The verdict alone: the page after the buffer is not mapped.
/// let verdict = PinRequest::new(uaddr, 5 * PAGE_SIZE, Access::Read).check();
/// assert_eq!(verdict, Err(PinError::Hole { addr: uaddr + 4 * PAGE_SIZE }));
/// assert_eq!(Error::from(verdict.unwrap_err()), EFAULT);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct PinRequest {
    addr: usize,
    len: usize,
    access: Access,
    method: Method,
    accounting: Accounting,
}

impl PinRequest {
    /// Pins the pages covering `[addr, addr + len)` for `access`, with [`Method::Locked`] and
    /// [`Accounting::Memlock`].
    pub fn new(addr: usize, len: usize, access: Access) -> Self {
        Self {
            addr,
            len,
            access,
            method: Method::Locked,
            accounting: Accounting::Memlock,
        }
    }

    /// Chooses how the pages are pinned.
    pub fn method(self, method: Method) -> Self {
        Self { method, ..self }
    }

    /// Chooses whether the pages are charged against `RLIMIT_MEMLOCK`.
    pub fn accounting(self, accounting: Accounting) -> Self {
        Self { accounting, ..self }
    }

    /// Would the pin of the current task's range succeed? Returns the number of VMAs of the range,
    /// or the error the pin would fail with for the range's layout (it does not try the charge,
    /// nor fault anything in).
    pub fn check(&self) -> Result<usize, PinError> {
        self.check_mm(current!().mm().ok_or(PinError::NoMm)?, false)
    }

    /// As [`PinRequest::check`], for the range in `mm`.
    pub fn check_remote(&self, mm: &MmWithUser) -> Result<usize, PinError> {
        self.check_mm(mm, true)
    }

    fn check_mm(&self, mm: &MmWithUser, foreign: bool) -> Result<usize, PinError> {
        let span = PageSpan::new(self.addr, self.len, user_end())?;
        check_span(&mm.mmap_read_lock(), &span, self.access, foreign)
    }

    /// Pins the range of the current task.
    ///
    /// Sleeps, and takes the mmap read lock of the mm: calling it with that lock held (from a
    /// driver's `mmap` or page-fault handler, or with a [`MmapReadGuard`]) deadlocks. The same
    /// holds for [`PinRequest::pin_remote`] and the checks.
    pub fn pin(self) -> Result<PinnedPages, PinError> {
        // `current->mm` and `TASK_SIZE_MAX` in one call, where `current!().mm()` and
        // `user_end()` make three out-of-line calls (`get_current()`, `Opaque::get()` and a
        // helper for an alternative patched at boot): a third of a small pin's calls under TCG
        // (`Documentation/rgup/performance.rst`).
        let mut user_end: c_ulong = 0;
        // SAFETY: `user_end` is writable; reads `current`'s own fields.
        let mm = unsafe { helpers::rgup_helper_current_mm(&mut user_end) };
        if mm.is_null() {
            return Err(PinError::NoMm);
        }
        // SAFETY: As `CurrentTask::mm()` argues: a non-null `current->mm` has a non-zero
        // `mm_users` and is not changed by other threads; the reference does not outlive this
        // call, and `pin_mm` neither switches mm (`kthread_use_mm()`) nor keeps it (it takes its
        // own `mmgrab()` reference for the charge).
        let mm = unsafe { MmWithUser::from_raw(mm) };
        self.pin_mm(mm, false, user_end as usize)
    }

    /// Pins the range of `mm`, for example one a driver held since the process registered with
    /// it. Always uses [`Method::Locked`] (`pin_user_pages_remote()`).
    pub fn pin_remote(self, mm: &MmWithUser) -> Result<PinnedPages, PinError> {
        self.pin_mm(mm, true, user_end())
    }

    /// Pins the range of `mm`, whose user addresses end at `user_end`. Inlined into
    /// [`PinRequest::pin`] and [`PinRequest::pin_remote`]: a call less per pin (with `#[inline]`
    /// alone, LLVM keeps the one copy for two callers).
    ///
    /// The common case, a locked pin that one `pin_user_pages*()` call completes, is made here
    /// without a [`Pinning`] guard, which LLVM keeps in memory for its out-of-line drop (stores
    /// and loads in every pin, `Documentation/rgup/performance.rst`, ninth round); anything else
    /// goes on in [`PinRequest::pin_rest`] with what was pinned.
    #[inline(always)]
    fn pin_mm(
        self,
        mm: &MmWithUser,
        remote: bool,
        user_end: usize,
    ) -> Result<PinnedPages, PinError> {
        let span = PageSpan::new(self.addr, self.len, user_end)?;
        // Charged to the caller's memory cgroup: it lives as long as the pin. (Freed if the
        // charge is refused.)
        let mut pages = PageArray::new(span.count)?;
        let charge = match self.accounting {
            Accounting::Memlock => Some(MemlockCharge::new(mm, span.count)?),
            Accounting::None => None,
        };
        // From here to the end, no early return: the charge is handed on, whatever happens.

        let mut gup_flags = bindings::FOLL_LONGTERM;
        if self.access == Access::Write {
            gup_flags |= bindings::FOLL_WRITE;
        }
        // The kernel's own `FOLL_LONGTERM` checks (`check_vma_flags()`, and `gup_fast()`'s per
        // folio) decide; rgup walks the VMAs only to explain a refusal (`explain`), so that a
        // successful pin costs what the C costs.
        if !remote && self.method != Method::Locked {
            let pinning = Pinning { pages, charge };
            let start = Start::Fast;
            return self.pin_rest(pinning, start, mm, remote, span, gup_flags);
        }
        let guard = mm.mmap_read_lock();
        let buf = pages.spare_ptr();
        // SAFETY: `buf` has room for `span.count` pages (the array's capacity); `guard` holds
        // `mm`'s mmap read lock, as both functions require (and `mm` is current's mm when
        // `!remote`); `locked` is NULL, so the lock is never dropped.
        let ret = unsafe {
            if remote {
                bindings::pin_user_pages_remote(
                    mm.as_raw(),
                    span.first,
                    span.count as c_ulong,
                    gup_flags,
                    buf,
                    core::ptr::null_mut(),
                )
            } else {
                bindings::pin_user_pages(span.first, span.count as c_ulong, gup_flags, buf)
            }
        };
        // (An error is negative: never `span.count`, at most `MAX_PIN_PAGES`, as an unsigned.)
        if ret as usize != span.count {
            let pinning = Pinning { pages, charge };
            let start = Start::Locked { guard, ret };
            return self.pin_rest(pinning, start, mm, remote, span, gup_flags);
        }
        drop(guard);
        // SAFETY: The kernel initialised and pinned the `span.count` entries.
        unsafe { pages.inc_len(span.count) };
        Ok(self.complete(pages, charge, &span))
    }

    /// The pin of [`PinRequest::pin_mm`] where one call did not complete it, from `start`;
    /// `pinning` holds what was pinned.
    #[inline(never)]
    fn pin_rest(
        self,
        mut pinning: Pinning,
        start: Start<'_>,
        mm: &MmWithUser,
        remote: bool,
        span: PageSpan,
        gup_flags: u32,
    ) -> Result<PinnedPages, PinError> {
        let span = &span;
        let guard = match start {
            Start::Locked { guard, ret } => {
                let done = match ret {
                    ..0 => Err(PinError::from_gup(ret as i32)),
                    // `pin_user_pages*` return 0 rather than an error for invalid arguments.
                    0 => Err(PinError::Incomplete {
                        pinned: 0,
                        wanted: span.count,
                    }),
                    _ => {
                        // SAFETY: The kernel initialised and pinned the first `ret < span.count`
                        // entries.
                        unsafe { pinning.pages.inc_len(ret as usize) };
                        pinning.pin_locked(&guard, mm, remote, span, gup_flags)
                    }
                };
                if let Err(e) = done {
                    // Explained in the critical section where the kernel refused: the same VMAs.
                    return Err(explain(&guard, span, self.access, remote, e));
                }
                guard
            }
            Start::Fast => {
                if let Err(e) = pinning.pin_fast(span, gup_flags) {
                    return Err(explain(&mm.mmap_read_lock(), span, self.access, false, e));
                }
                if pinning.pages.len() == span.count {
                    let (pages, charge) = pinning.into_parts();
                    return Ok(self.complete(pages, charge, span));
                }
                if self.method != (Method::Fast { fallback: true }) {
                    let e = PinError::Incomplete {
                        pinned: pinning.pages.len(),
                        wanted: span.count,
                    };
                    return Err(explain(&mm.mmap_read_lock(), span, self.access, false, e));
                }
                let guard = mm.mmap_read_lock();
                if let Err(e) = pinning.pin_locked(&guard, mm, remote, span, gup_flags) {
                    return Err(explain(&guard, span, self.access, remote, e));
                }
                guard
            }
        };
        drop(guard);
        let (pages, charge) = pinning.into_parts();
        Ok(self.complete(pages, charge, span))
    }

    /// The [`PinnedPages`] of this request: `pages` holds every page of `span`, pinned with the
    /// flags of the request's access, and `charge`, if any, is of `span.count` pages.
    #[inline(always)]
    fn complete(
        self,
        pages: PageArray<1>,
        charge: Option<MemlockCharge>,
        span: &PageSpan,
    ) -> PinnedPages {
        let charged = if charge.is_some() { span.count } else { 0 };
        stats::GLOBAL.pinned(span.count, charged);
        let write = if self.access == Access::Write {
            WRITE
        } else {
            0
        };
        // INVARIANT: Every page of the request is pinned once, with the flags of `access`, and
        // charged if `charge` is; the pin is counted. Made here, complete, from its parts (rather
        // than made first and filled): LLVM writes the fields into the caller's `Result`, where a
        // `PinnedPages` built before the pin was copied into it (`rep movsq`, a translated block
        // per word under TCG, `Documentation/rgup/performance.rst`, fourth round).
        // (`span.count` is the page count of `[addr, addr + len)`, which ends below `user_end`.)
        PinnedPages {
            pages: pages.into_full(MemlockCharge::into_word(charge)),
            addr: self.addr,
            len_access: self.len | write,
            dirty: DirtyPages::new(),
        }
    }
}

/// Where [`PinRequest::pin_rest`] starts.
enum Start<'a> {
    /// With the fast method (never remote): nothing pinned yet.
    Fast,
    /// With the locked method, under `guard`, where the first call returned `ret`, short of the
    /// range or an error.
    Locked {
        guard: MmapReadGuard<'a>,
        ret: c_long,
    },
}

/// The error of a pin that failed with `err`, explained: when the kernel's answer can be a
/// `FOLL_LONGTERM` refusal or a hole (`EFAULT`, `EOPNOTSUPP`, a short pin), rgup's walk of the
/// VMAs ([`PinRequest::check`]'s rules, which are the kernel's) names the VMA and the reason.
/// When the walk finds nothing (the layout changed since, on the fast path), the kernel's error
/// stands.
fn explain(
    guard: &MmapReadGuard<'_>,
    span: &PageSpan,
    access: Access,
    foreign: bool,
    err: PinError,
) -> PinError {
    let may_be_refusal = match err {
        PinError::Kernel(e) => e == EFAULT || e == EOPNOTSUPP,
        PinError::Incomplete { .. } => true,
        _ => false,
    };
    if !may_be_refusal {
        return err;
    }
    match check_span(guard, span, access, foreign) {
        Err(why) => why,
        Ok(_) => err,
    }
}

/// Pages charged to an mm's `pinned_vm`, to return with [`MemlockCharge::uncharge`].
///
/// One call charges (and takes the `mm` reference), one call uncharges (and drops it): the C
/// inlines `mmgrab()`, `rlimit()` and the atomics that Rust reaches through helpers. It does not
/// keep the number of pages, which its owner ([`Pinning`], then [`PinnedPages`]) knows: a charge
/// is one word, and so a `PinnedPages` one word smaller (every move of it is a copy).
///
/// # Invariants
///
/// Some number of pages, known to the owner, were added to `mm->pinned_vm` and not yet
/// subtracted; `mm` holds an `mmgrab()` reference, which the uncharge gives back. Its owner
/// uncharges it exactly once.
struct MemlockCharge {
    mm: NonNull<bindings::mm_struct>,
}

impl MemlockCharge {
    #[inline]
    fn new(mm: &MmWithUser, pages: usize) -> Result<Self, PinError> {
        let delta = i64::try_from(pages).map_err(|_| PinError::TooLarge)?;
        let mut limit: c_ulong = 0;
        // SAFETY: `mm` is a live mm (we hold a reference to it); `limit` is writable. It reads
        // the current task's rlimit.
        let now =
            unsafe { helpers::rgup_helper_mm_pinned_vm_charge(mm.as_raw(), delta, &mut limit) };
        // INVARIANT: The helper added `pages` to `mm->pinned_vm` and took the `mmgrab()`
        // reference: it keeps the `mm_struct` alive until the uncharge returns both, even after
        // the process exits. Uncharged below if refused.
        let charge = Self {
            // CAST: `Mm` is `#[repr(transparent)]` over `Opaque<bindings::mm_struct>`, itself
            // transparent over the C struct (what `Mm::as_raw()` returns).
            mm: NonNull::from(&**mm).cast(),
        };
        let limit = limit as usize;
        // As `account_locked_vm()` does, ask for `CAP_IPC_LOCK` only beyond the limit: `capable()`
        // runs the LSM hooks and marks the task as having used a privilege.
        if usize::try_from(now).map_or(true, |now| now > limit)
            // SAFETY: `CAP_IPC_LOCK` is a valid capability; `capable` may sleep, we are in
            // process context.
            && !unsafe { bindings::capable(bindings::CAP_IPC_LOCK as i32) }
        {
            // SAFETY: Charged above with `pages`, once, and not used after.
            unsafe { charge.uncharge(pages) };
            return Err(PinError::OverMemlockLimit { pages, limit });
        }
        Ok(charge)
    }

    /// Returns the charge of `pages` pages and the `mm` reference.
    ///
    /// # Safety
    ///
    /// `pages` is the number [`MemlockCharge::new`] charged; called once, and the charge not
    /// used after.
    #[inline]
    unsafe fn uncharge(&self, pages: usize) {
        // SAFETY: By the type invariants `mm` is alive, holds the charge being returned (of
        // `pages`, which fitted in an i64 when charged) and the `mmgrab()` reference the helper
        // drops; once (safety requirements).
        unsafe { helpers::rgup_helper_mm_pinned_vm_uncharge(self.mm.as_ptr(), pages as i64) };
    }
}

impl MemlockCharge {
    /// A charge, or none, as one word (null for none): what a [`PinnedPages`] keeps after its
    /// pages.
    #[inline(always)]
    fn into_word(charge: Option<Self>) -> *mut c_void {
        charge.map_or(core::ptr::null_mut(), |charge| charge.mm.as_ptr().cast())
    }

    /// The charge, or none, [`MemlockCharge::into_word`] made `word` of.
    ///
    /// # Safety
    ///
    /// `word` is one `into_word` returned, and the charge it holds is owned by the caller.
    #[inline(always)]
    unsafe fn from_word(word: *mut c_void) -> Option<Self> {
        // INVARIANT: The charge `into_word` gave up (safety requirements).
        NonNull::new(word.cast()).map(|mm| Self { mm })
    }
}

// SAFETY: The charge may be returned from any thread (atomics and `mmdrop()`).
unsafe impl Send for MemlockCharge {}
// SAFETY: `&MemlockCharge` gives nothing (only the owner uncharges).
unsafe impl Sync for MemlockCharge {}

/// The pages of a user range, pinned long-term.
///
/// Dropping it unpins every page: the pages marked dirty ([`PinnedPages::mark_dirty`],
/// [`PinnedPages::page_mut`], [`PinnedPages::write_from_user`]) with
/// `unpin_user_pages_dirty_lock()` so that the data the device wrote reaches the page cache or
/// swap, the others with plain unpins; then the charge is returned to the mm that was charged.
///
/// Dropping it may sleep: unpinning pages marked dirty takes their folio locks, and the unpin
/// yields the CPU every 512 pages. Although a [`PinnedPages`] is [`Send`], drop it only where
/// sleeping is allowed: not under a spinlock, in interrupt context or in an RCU read-side
/// critical section (`might_sleep()` reports it with `CONFIG_DEBUG_ATOMIC_SLEEP`, however few
/// pages it holds). The same holds for every rgup object that owns pins or mappings.
///
/// # Invariants
///
/// The request is `[addr, addr + len)`, with `len = len_access & !WRITE` (`0 < len < WRITE`: the
/// range is in user space), and `n` its page count ([`PinnedPages::page_count`]). `pages` has
/// `n` entries, every page the request covers, each pinned once by this object with
/// `FOLL_PIN | FOLL_LONGTERM` (and `FOLL_WRITE` iff `WRITE` is set in `len_access`) and not
/// yet unpinned; the word after them is a `MemlockCharge::into_word()` of `n` pages, owned by
/// this object. `dirty` is of `n` pages, marked only in a write pin. The pin is counted in the
/// global counters ([`crate::stats::global`]): a `PinnedPages` is made only complete.
pub struct PinnedPages {
    // No field has a drop of its own: `Drop::drop` frees them, after the unpin, so that the
    // drop glue a driver's crate instantiates is one call into rgup (see `Drop`).
    pages: FullPageArray,
    addr: usize,
    len_access: usize,
    dirty: DirtyPages,
}

/// The bit of [`PinnedPages`]'s `len_access` for a write pin (a user range's length never has
/// it).
const WRITE: usize = 1 << (usize::BITS - 1);

// Every move of a `PinnedPages` (out of the `Result` of a pin, into a driver's structure) is a
// copy: by `rep movsq` at `-Copt-level=s` beyond four words, a translated block per word under
// TCG, by four moves up to that (`Documentation/rgup/performance.rst`, fifth round). Keep it so.
const _: () = assert!(size_of::<PinnedPages>() <= 4 * size_of::<usize>());

// SAFETY: The pages are pinned by this object; unpinning them and copying them through `kmap`
// may happen from any thread.
unsafe impl Send for PinnedPages {}
// SAFETY: `&PinnedPages` only allows reading the pages (as `UserPage` does: copies that tolerate
// concurrent writers) and setting dirty bits atomically; writing the pages needs `&mut`.
unsafe impl Sync for PinnedPages {}

/// The pages of a pin being made and their charge: if the pin fails before it is complete, the
/// pages are unpinned (clean: the device has not seen them) and freed, then uncharged.
///
/// # Invariants
///
/// Each entry of `pages` is a page pinned once by this object and not yet unpinned; `charge`, if
/// any, is of `pages.capacity()` pages, owned by this object.
struct Pinning {
    pages: PageArray<1>,
    charge: Option<MemlockCharge>,
}

impl Pinning {
    fn pin_fast(&mut self, span: &PageSpan, gup_flags: u32) -> Result<(), PinError> {
        while self.pages.len() < span.count {
            cond_resched();
            let done = self.pages.len();
            // `done < span.count` (the loop's condition): it does not wrap.
            let want = span.count.wrapping_sub(done).min(BATCH_PAGES);
            // Below `span.end()`: it does not wrap.
            let start = span.first.wrapping_add(done << PAGE_SHIFT);
            let buf = self.pages.spare_ptr();
            // SAFETY: `buf` has room for `want <= span.count - done` page pointers (the array's
            // capacity is `span.count`). (Its slow path takes the mmap lock: a caller holding it
            // deadlocks, as documented on `PinRequest::pin`, which is no memory-safety matter.)
            let ret = unsafe { bindings::pin_user_pages_fast(start, want as i32, gup_flags, buf) };
            if ret < 0 {
                return Err(PinError::from_gup(ret));
            }
            // SAFETY: The kernel initialised and pinned the first `ret <= want` entries.
            unsafe { self.pages.inc_len(ret as usize) };
            if (ret as usize) < want {
                return Ok(()); // short: the caller decides
            }
        }
        Ok(())
    }

    /// Pins the rest of the range under `_guard`; there is a rest (`pages.len() < span.count`).
    #[inline]
    fn pin_locked(
        &mut self,
        _guard: &MmapReadGuard<'_>,
        mm: &MmWithUser,
        remote: bool,
        span: &PageSpan,
        gup_flags: u32,
    ) -> Result<(), PinError> {
        // One call for the rest of the range: `__get_user_pages()` reschedules between pages
        // itself, and rgup's check and the pin share one mmap lock critical section. (Called
        // with pages left to pin: the test is at the end of the loop.)
        loop {
            let done = self.pages.len();
            // `done < span.count` (on entry, and the loop's exit test): it does not wrap.
            let want = span.count.wrapping_sub(done);
            // Below `span.end()`: it does not wrap.
            let start = span.first.wrapping_add(done << PAGE_SHIFT);
            let buf = self.pages.spare_ptr();
            // SAFETY: `buf` has room for `want` pages; `_guard` holds `mm`'s mmap read lock, as
            // both functions require (and `mm` is current's mm when `!remote`); `locked` is NULL,
            // so the lock is never dropped.
            let ret = unsafe {
                if remote {
                    bindings::pin_user_pages_remote(
                        mm.as_raw(),
                        start,
                        want as c_ulong,
                        gup_flags,
                        buf,
                        core::ptr::null_mut(),
                    )
                } else {
                    bindings::pin_user_pages(start, want as c_ulong, gup_flags, buf)
                }
            };
            if ret < 0 {
                return Err(PinError::from_gup(ret as i32));
            }
            if ret == 0 {
                // `pin_user_pages*` return 0 rather than an error for invalid arguments.
                return Err(PinError::Incomplete {
                    pinned: done,
                    wanted: span.count,
                });
            }
            // SAFETY: The kernel initialised and pinned the first `ret <= want` entries.
            unsafe { self.pages.inc_len(ret as usize) };
            if self.pages.len() == span.count {
                return Ok(());
            }
        }
    }

    /// The pinned pages and the charge, for the [`PinnedPages`] that owns them from now on.
    #[inline]
    fn into_parts(self) -> (PageArray<1>, Option<MemlockCharge>) {
        let this = ManuallyDrop::new(self);
        // SAFETY: `this` is not dropped: the array (and the pins in it) and the charge move out
        // once.
        unsafe { (core::ptr::read(&this.pages), core::ptr::read(&this.charge)) }
    }
}

impl Drop for Pinning {
    fn drop(&mut self) {
        // SAFETY: The pages are pinned by us, once (type invariant), and not used after.
        unsafe { unpin_batches(self.pages.as_mut_slice(), false) };
        if let Some(charge) = &self.charge {
            // SAFETY: Of the array's capacity (type invariant), once: the `Pinning` goes.
            unsafe { charge.uncharge(self.pages.capacity()) };
        }
    }
}

/// Unpins `pages` (`unpin_user_pages()`, or `unpin_user_pages_dirty_lock()` when `dirty`) in
/// batches of [`BATCH_PAGES`], rescheduling between them. (Of no pages: one call that does
/// nothing.)
///
/// One batch, the common case, is one call made in place; more go through an out-of-line loop,
/// so that the callers (every unpin of rgup) keep fewer values across the call
/// (`Documentation/rgup/performance.rst`, ninth round).
///
/// # Safety
///
/// Each entry is a page pinned once by the caller, who does not use it after.
#[inline(always)]
pub(crate) unsafe fn unpin_batches(pages: &mut [*mut bindings::page], dirty: bool) {
    if pages.len() <= BATCH_PAGES {
        // SAFETY: As the caller's (safety requirements).
        unsafe { unpin_batch(pages.as_mut_ptr(), pages.len(), dirty) };
    } else {
        // SAFETY: As the caller's (safety requirements).
        unsafe { unpin_large(pages, dirty) };
    }
}

/// [`unpin_batches`] of more than one batch.
///
/// # Safety
///
/// As for [`unpin_batches`].
///
/// (A loop of its own rather than `chunks_mut()`, whose first-batch test is a branch of its own.)
#[inline(never)]
unsafe fn unpin_large(pages: &mut [*mut bindings::page], dirty: bool) {
    let mut batch = pages.as_mut_ptr();
    let mut left = pages.len();
    loop {
        let n = left.min(BATCH_PAGES);
        // SAFETY: `batch` is followed by `left >= n` of the pages, pinned once by the caller and
        // not used after (safety requirements).
        unsafe { unpin_batch(batch, n, dirty) };
        left -= n;
        if left == 0 {
            break;
        }
        // SAFETY: `n` of the pages were before it: still within `pages`.
        batch = unsafe { batch.add(n) };
        cond_resched();
    }
}

/// Unpins the `n` pages at `pages`, dirtying them if `dirty`. (A clean batch goes straight to
/// `unpin_user_pages()`, which `unpin_user_pages_dirty_lock(.., false)` would call.)
///
/// # Safety
///
/// `pages` is followed by `n <= BATCH_PAGES` pages, each pinned once by the caller, who does not
/// use them after.
#[inline(always)]
unsafe fn unpin_batch(pages: *mut *mut bindings::page, n: usize, dirty: bool) {
    // SAFETY: As required (safety requirements).
    unsafe {
        if dirty {
            bindings::unpin_user_pages_dirty_lock(pages, n as c_ulong, true)
        } else {
            bindings::unpin_user_pages(pages, n as c_ulong)
        }
    };
}

impl PinnedPages {
    /// Number of pages pinned.
    #[inline]
    pub fn page_count(&self) -> usize {
        // `len < WRITE` (type invariants) and `offset < PAGE_SIZE`: the sum does not wrap. (Not
        // `div_ceil()`, a test and a carry more in every unpin.)
        (self.offset() + self.len() + (PAGE_SIZE - 1)) >> PAGE_SHIFT
    }

    /// The user address the request started at.
    pub fn addr(&self) -> usize {
        self.addr
    }

    /// The length in bytes of the request.
    #[inline]
    pub fn len(&self) -> usize {
        self.len_access & !WRITE
    }

    /// Never true: a pin covers at least one byte.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The access the pages were pinned for.
    #[inline]
    pub fn access(&self) -> Access {
        if self.len_access & WRITE != 0 {
            Access::Write
        } else {
            Access::Read
        }
    }

    /// The offset of the requested range in the first page.
    pub(crate) fn offset(&self) -> usize {
        self.addr & (PAGE_SIZE - 1)
    }

    /// The pinned pages, in order (for the DMA mappings of [`crate::dma`]).
    #[inline]
    pub(crate) fn raw_pages(&self) -> &[*mut bindings::page] {
        // SAFETY: `pages` has `page_count()` entries (type invariants).
        unsafe { self.pages.as_slice(self.page_count()) }
    }

    /// Pages charged to `RLIMIT_MEMLOCK` by this pin (0 with [`Accounting::None`]).
    pub fn charged_pages(&self) -> usize {
        let n = self.page_count();
        // SAFETY: `pages` has `n` entries, then the charge's word (type invariants).
        if unsafe { self.pages.word(n) }.is_null() {
            0
        } else {
            n
        }
    }

    /// The `i`-th page of the range, for reading (see [`UserPage`]).
    ///
    /// The page is read-only even in a write pin: writing through the pin needs it exclusively
    /// ([`PinnedPages::page_mut`]).
    pub fn page(&self, i: usize) -> Option<UserPage<'_>> {
        let ptr = NonNull::new(*self.raw_pages().get(i)?)?;
        // SAFETY: By the type invariants the page is pinned for as long as `self`, which the
        // returned borrow cannot outlive; it is not writable.
        Some(unsafe { UserPage::from_raw(ptr, false) })
    }

    /// The pages of the range, in order, for reading.
    pub fn pages(&self) -> impl Iterator<Item = UserPage<'_>> + '_ {
        (0..self.page_count()).filter_map(|i| self.page(i))
    }

    /// The `i`-th page of a write pin, for writing as the device would: it is marked dirty,
    /// and the pin is borrowed exclusively, so that rgup's own copies into one pin never race
    /// with each other. `None` for a read-only pin or past the range.
    pub fn page_mut(&mut self, i: usize) -> Option<UserPage<'_>> {
        if self.access() != Access::Write {
            return None;
        }
        let ptr = NonNull::new(*self.raw_pages().get(i)?)?;
        // INVARIANT: The page of a write pin is marked dirty.
        // SAFETY: `dirty` is of `page_count()` pages (type invariants).
        unsafe { self.dirty.mark(self.page_count(), i, i) };
        // SAFETY: By the type invariants the page is pinned for as long as `self`, which the
        // returned borrow cannot outlive, with `FOLL_WRITE` (the pin is `Access::Write`):
        // copy-on-write was broken, the process may write it.
        Some(unsafe { UserPage::from_raw(ptr, true) })
    }

    /// The physically contiguous runs of pages, in order, as `(first page index, pages)`.
    ///
    /// This is what a device's scatter list needs: one entry per run.
    pub fn contiguous_runs(&self) -> ContiguousRuns<'_> {
        ContiguousRuns {
            pages: self.raw_pages(),
            next: 0,
        }
    }

    /// The number of distinct folios the pages belong to.
    pub fn folio_count(&self) -> usize {
        let mut count = 0;
        let mut last = core::ptr::null_mut();
        for &page in self.raw_pages() {
            // SAFETY: `page` is pinned (type invariants).
            let folio = unsafe { helpers::rgup_helper_page_folio(page) };
            if folio != last {
                count += 1;
                last = folio;
            }
        }
        count
    }

    /// Marks every page dirty: the device wrote to all of it.
    ///
    /// Fails with `EPERM` for a read-only pin. May be called while the pages are mapped for DMA,
    /// and in any context (it neither sleeps nor allocates).
    pub fn mark_dirty(&self) -> Result {
        self.mark_dirty_range(0, self.len())
    }

    /// Marks the pages covering `[offset, offset + len)` of the range dirty.
    ///
    /// Fails with `EPERM` for a read-only pin and `EINVAL` for a sub-range outside the pin. Never
    /// sleeps: it may be called from a DMA completion interrupt. The first partial mark of a pin of
    /// more than 64 pages allocates its bitmap (`GFP_NOWAIT`); if that fails, the whole pin is
    /// marked dirty instead, which dirties more pages than the device wrote, never fewer.
    pub fn mark_dirty_range(&self, offset: usize, len: usize) -> Result {
        if self.access() != Access::Write {
            return Err(EPERM);
        }
        let (first, last) = self.page_indices(offset, len)?;
        // INVARIANT: The pages of a write pin are marked dirty.
        // SAFETY: `dirty` is of `page_count()` pages (type invariants).
        unsafe { self.dirty.mark(self.page_count(), first, last) };
        Ok(())
    }

    /// Maps the pinned bytes for DMA by `dev`, in direction `dir`; see [`DmaMapping`].
    ///
    /// The mapping borrows the pages and the bound device: it is unmapped before the pages can
    /// be unpinned and before the driver's bound scope ends. A read-only pin may only be mapped
    /// [`DataDirection::ToDevice`] (`EPERM` otherwise: the device would write into pages the
    /// kernel pinned for reading, which may be shared copy-on-write); [`DataDirection::None`] and
    /// a device without a DMA mask are `EINVAL`. Pages the device writes must be marked dirty
    /// ([`PinnedPages::mark_dirty`]).
    ///
    /// ```
    /// use kernel::{dma::DataDirection, page::PAGE_SIZE};
    /// use rgup::Access;
    /// use rgup::pin::PinRequest;
    ///
    /// # let uaddr = rgup::testing::user_buffer(2 * PAGE_SIZE)?;
    /// # let device = rgup::testing::DmaDevice::new()?;
    /// # let dev = device.dev();
    /// let pinned = PinRequest::new(uaddr, 2 * PAGE_SIZE, Access::Write).pin()?;
    /// let mapping = pinned.dma_map(dev, DataDirection::FromDevice)?;
    /// let bytes: usize = mapping.segments().iter().map(|seg| seg.dma_len()).sum();
    /// assert_eq!(bytes, 2 * PAGE_SIZE);
    /// // ... the device wrote the pages:
    /// pinned.mark_dirty()?;
    /// drop(mapping); // unmapped before the pages can be unpinned
    /// ```
    pub fn dma_map<'a>(
        &'a self,
        dev: &'a Device<Bound>,
        dir: DataDirection,
    ) -> Result<DmaMapping<'a>> {
        match dir {
            // `None` is refused by `DmaMapping::new`, for every mapping.
            DataDirection::ToDevice | DataDirection::None => {}
            _ if self.access() != Access::Write => return Err(EPERM),
            _ => {}
        }
        // SAFETY: By the type invariants the pages are pinned for as long as `self`, which the
        // mapping borrows.
        unsafe { DmaMapping::new(self.raw_pages(), self.offset(), self.len(), dev, dir) }
    }

    /// The page indices covering `[offset, offset + len)` of the requested range.
    fn page_indices(&self, offset: usize, len: usize) -> Result<(usize, usize)> {
        let end = offset.checked_add(len).ok_or(EINVAL)?;
        if len == 0 || end > self.len() {
            return Err(EINVAL);
        }
        let first = (self.offset() + offset) >> PAGE_SHIFT;
        let last = (self.offset() + end - 1) >> PAGE_SHIFT;
        Ok((first, last))
    }

    /// Copies `len` bytes at `offset` of the range from the pinned pages to user space, that is,
    /// what the device would read.
    ///
    /// The pages are copied as [`UserPage::read`] does: the process or a device writing them at
    /// the same time leaves unspecified bytes in the copy, never undefined behaviour.
    pub fn read_to_user(&self, offset: usize, len: usize, out: &mut UserSliceWriter) -> Result {
        self.page_indices(offset, len)?;
        let mut bounce = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?;
        let mut pos = self.offset() + offset;
        let end = pos + len;
        while pos < end {
            let in_page = pos & (PAGE_SIZE - 1);
            let n = (PAGE_SIZE - in_page).min(end - pos);
            let page = self.page(pos >> PAGE_SHIFT).ok_or(EINVAL)?;
            page.read(in_page, &mut bounce[..n])?;
            out.write_slice(&bounce[..n])?;
            pos += n;
        }
        Ok(())
    }

    /// Copies `len` bytes from user space into the pinned pages at `offset` of the range, as a
    /// device write would, and marks those pages dirty. Fails with `EPERM` for a read-only pin.
    ///
    /// The pin is borrowed exclusively: two threads sharing it cannot write its pages at the same
    /// time, nor read them while one writes.
    ///
    /// ```compile_fail,E0596
    /// fn device_write(
    ///     pinned: &rgup::pin::PinnedPages,
    ///     from: &mut kernel::uaccess::UserSliceReader,
    /// ) -> Result {
    ///     pinned.write_from_user(0, 1, from) // `&PinnedPages` may be shared between threads
    /// }
    /// ```
    ///
    /// Nor is there a way around it through the pages, which are copied only as [`UserPage`]
    /// does:
    ///
    /// ```compile_fail,E0599
    /// fn device_write(pinned: &rgup::pin::PinnedPages, byte: &u8) -> Result {
    ///     let page = pinned.page(0).ok_or(EINVAL)?;
    ///     // SAFETY: Nobody can promise that no other thread accesses the page.
    ///     unsafe { page.write_raw(byte, 0, 1) }
    /// }
    /// ```
    pub fn write_from_user(
        &mut self,
        offset: usize,
        len: usize,
        input: &mut UserSliceReader,
    ) -> Result {
        self.mark_dirty_range(offset, len)?;
        let mut bounce = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?;
        let mut pos = self.offset() + offset;
        let end = pos + len;
        while pos < end {
            let in_page = pos & (PAGE_SIZE - 1);
            let n = (PAGE_SIZE - in_page).min(end - pos);
            input.read_slice(&mut bounce[..n])?;
            let page = self.page_mut(pos >> PAGE_SHIFT).ok_or(EINVAL)?;
            page.write(in_page, &bounce[..n])?;
            pos += n;
        }
        Ok(())
    }
}

impl Drop for PinnedPages {
    // Not `#[inline]`, and every field with a drop is freed here: the drop glue of a
    // `PinnedPages`, which the crate that drops it instantiates (a driver's), is then one call,
    // and what it does is compiled in rgup, where the kernel crate's small generics that rgup
    // instantiated (`Atomic::get_mut()`) are inlined. Inlined into a driver's crate, the
    // drop called rgup's shared copies of those instead (`-Zshare-generics` at `-Copt-level=s`,
    // `Documentation/rgup/design.rst`): eight calls more per unpin than rgup's own copy makes
    // (`Documentation/rgup/performance.rst`, fourth round).
    fn drop(&mut self) {
        // `unpin_user_pages_dirty_lock()` takes folio locks: say so even for a pin of clean pages.
        might_sleep();
        let n = self.page_count();
        if self.dirty.is_clean() {
            // Nothing marked dirty (a read pin, or a write pin the device did not write): a plain
            // unpin of every page, batch by batch. The marked case is out of line, so that this
            // one saves and restores fewer registers (`Documentation/rgup/performance.rst`,
            // ninth round).
            // SAFETY: `pages` has `n` entries (type invariants), pinned by us, once; they are not
            // used after this.
            unsafe { unpin_batches(self.pages.as_mut_slice(n), false) };
        } else {
            // SAFETY: As above; `dirty` is of `n` pages (type invariants), and not used after.
            unsafe { self.unpin_marked(n) };
        }
        // SAFETY: The word after the `n` pages is the charge of `n` pages, owned by us (type
        // invariants); it is returned below, once.
        let charge = unsafe { MemlockCharge::from_word(self.pages.word(n)) };
        stats::GLOBAL.unpinned(n, if charge.is_some() { n } else { 0 });
        // SAFETY: Each part is freed or returned once, here, and not used after: the pages are
        // unpinned, so the array goes (the dirty bits went with the unpin), then the charge of
        // the `n` pages (unpinned first, then uncharged).
        unsafe {
            self.pages.free();
            if let Some(charge) = &charge {
                charge.uncharge(n);
            }
        }
    }
}

impl PinnedPages {
    /// Unpins the `n` pages of a pin with pages marked dirty, dirtying those, and frees the dirty
    /// bits: the part of the drop for pins the device wrote.
    ///
    /// # Safety
    ///
    /// `n` is [`PinnedPages::page_count`]; called once, by the drop, after which neither the
    /// pages nor the dirty bits are used.
    #[inline(never)]
    unsafe fn unpin_marked(&mut self, n: usize) {
        // SAFETY: `pages` has `n` entries, `dirty` is of `n` pages (type invariants).
        let (pages, dirty) = unsafe { (self.pages.as_mut_slice(n), self.dirty.get(n)) };
        match dirty {
            // SAFETY: By the type invariants the pages are pinned by us, once; they are not used
            // after this (safety requirements).
            Dirty::None => unsafe { unpin_batches(pages, false) },
            // Everything: the same unpin for every page, without a walk of bits.
            // SAFETY: As above.
            Dirty::All => unsafe { unpin_batches(pages, true) },
            Dirty::Some(bitmap) => {
                // Runs of marked and of unmarked pages.
                let mut i = 0;
                while i < n {
                    let next_dirty = bitmap.next_bit(i);
                    let dirty = next_dirty == Some(i);
                    let end = if dirty {
                        bitmap.next_zero_bit(i)
                    } else {
                        next_dirty
                    };
                    let end = end.unwrap_or(n).min(n);
                    // SAFETY: As above, for the pages `i..end`.
                    unsafe { unpin_batches(&mut pages[i..end], dirty) };
                    i = end;
                    if i < n {
                        cond_resched();
                    }
                }
            }
        }
        // SAFETY: `dirty` is of `n` pages; freed once (safety requirements).
        unsafe { self.dirty.free(n) };
    }
}

/// Iterator over the physically contiguous runs of a [`PinnedPages`].
pub struct ContiguousRuns<'a> {
    pages: &'a [*mut bindings::page],
    next: usize,
}

impl Iterator for ContiguousRuns<'_> {
    /// `(index of the first page, number of pages)`.
    type Item = (usize, usize);

    fn next(&mut self) -> Option<(usize, usize)> {
        let start = self.next;
        let first = *self.pages.get(start)?;
        // SAFETY: The pages are pinned for the lifetime of the borrow.
        let base = unsafe { helpers::rgup_helper_page_to_pfn(first) };
        let mut end = start + 1;
        while let Some(&page) = self.pages.get(end) {
            // SAFETY: As above.
            let pfn = unsafe { helpers::rgup_helper_page_to_pfn(page) };
            if pfn != base + (end - start) as c_ulong {
                break;
            }
            end += 1;
        }
        self.next = end;
        Some((start, end - start))
    }
}

#[kunit_tests(rgup_pin)]
mod tests {
    use super::*;

    #[test]
    fn gup_eremoteio_is_peer_memory() {
        assert_eq!(
            PinError::from_gup(-(bindings::EREMOTEIO as i32)),
            PinError::PeerMemory
        );
        assert_eq!(Error::from(PinError::PeerMemory), EREMOTEIO);
        assert_eq!(
            PinError::from_gup(-(bindings::EFAULT as i32)),
            PinError::Kernel(EFAULT)
        );
    }

    const END: usize = 0x7fff_ffff_f000;

    /// The kernel refuses, rgup explains: a hole and a refused VMA come back typed, from both
    /// methods, with nothing left pinned.
    #[test]
    fn refusals_are_explained() -> Result {
        use crate::testing::{
            read_only_buffer,
            user_buffer, //
        };
        let pins = stats::GLOBAL.pins();
        let rw = user_buffer(4 * PAGE_SIZE)?;
        let ro = read_only_buffer(2 * PAGE_SIZE)?;
        for method in [
            Method::Locked,
            Method::Fast { fallback: true },
            Method::Fast { fallback: false },
        ] {
            // The page after the buffer is not mapped (as in `PinRequest`'s example).
            let hole = PinRequest::new(rw, 5 * PAGE_SIZE, Access::Read)
                .method(method)
                .pin();
            assert_eq!(
                hole.err(),
                Some(PinError::Hole {
                    addr: rw + 4 * PAGE_SIZE
                })
            );
            let refused = PinRequest::new(ro, PAGE_SIZE, Access::Write)
                .method(method)
                .pin();
            assert!(matches!(
                refused,
                Err(PinError::Refused { vma, why: Refusal::NotWritable }) if vma.start == ro
            ));
            // Read access to the read-only buffer is fine.
            drop(
                PinRequest::new(ro, PAGE_SIZE, Access::Read)
                    .method(method)
                    .pin()?,
            );
        }
        assert_eq!(stats::GLOBAL.pins(), pins);
        Ok(())
    }

    #[test]
    fn span_of_one_byte_is_one_page() {
        assert_eq!(
            PageSpan::new(0x1000_0123, 1, END),
            Ok(PageSpan {
                first: 0x1000_0000,
                count: 1,
            })
        );
    }

    #[test]
    fn span_crossing_a_page_boundary() {
        let s = PageSpan::new(0x1000_0fff, 2, END).unwrap();
        assert_eq!((s.first, s.count), (0x1000_0000, 2));
        let s = PageSpan::new(0x1000_0000, PAGE_SIZE, END).unwrap();
        assert_eq!(s.count, 1);
        let s = PageSpan::new(0x1000_0000, PAGE_SIZE + 1, END).unwrap();
        assert_eq!(s.count, 2);
    }

    #[test]
    fn span_rejects_bad_ranges() {
        assert_eq!(PageSpan::new(0x1000, 0, END), Err(PinError::InvalidRange));
        assert_eq!(
            PageSpan::new(usize::MAX - 10, 100, END),
            Err(PinError::InvalidRange)
        );
        assert_eq!(PageSpan::new(END - 1, 2, END), Err(PinError::InvalidRange));
        assert_eq!(
            PageSpan::new(0xffff_8000_0000_0000, 1, END),
            Err(PinError::InvalidRange)
        );
        assert!(PageSpan::new(END - PAGE_SIZE, PAGE_SIZE, END).is_ok());
        assert_eq!(
            PageSpan::new(0x1000, (MAX_PIN_PAGES << PAGE_SHIFT) + 1, END),
            Err(PinError::TooLarge)
        );
    }

    #[test]
    fn one_errno_per_error() {
        let vma = VmaSpan {
            start: 0,
            end: PAGE_SIZE,
            kind: VmaKind::File,
        };
        assert_eq!(Error::from(PinError::InvalidRange), EINVAL);
        assert_eq!(Error::from(PinError::Hole { addr: 0 }), EFAULT);
        assert_eq!(
            Error::from(PinError::Refused {
                vma,
                why: Refusal::FsDax
            }),
            EOPNOTSUPP
        );
        assert_eq!(
            Error::from(PinError::Refused {
                vma,
                why: Refusal::DirtyTrackedFile
            }),
            EFAULT
        );
        assert_eq!(
            Error::from(PinError::OverMemlockLimit { pages: 2, limit: 1 }),
            ENOMEM
        );
        assert_eq!(Error::from(PinError::NoMm), ESRCH);
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Secondary-MMU mirrors: a device's view of a process's address range, kept coherent with the
//! CPU page tables without pinning anything.
//!
//! A [`Mirror`] subscribes to the invalidations of `[start, end)` of one mm with an
//! `mmu_interval_notifier` and fills its translations with `hmm_range_fault()`, following the
//! protocol of `Documentation/mm/hmm.rst`:
//!
//! 1. `mmu_interval_read_begin()`, then `hmm_range_fault()` under the mmap read lock (both inside
//!    `hmm_range_fault_unlocked_timeout()`), retried on `-EBUSY` for at most
//!    [`FAULT_TIMEOUT`];
//! 2. take the mirror's lock, and `mmu_interval_read_retry()`: if an invalidation ran meanwhile,
//!    drop the lock and start again;
//! 3. only now, still under the lock, record the translations and hand them to the driver
//!    ([`MirrorOps::install`]) in an [`InstallWindow`], the only place a translation exists.
//!
//! Invalidations take the same lock (or give up when they may not sleep and the lock is
//! contended), call `mmu_interval_set_seq()`, tell the driver ([`MirrorOps::invalidate`]) to stop
//! using the range, and once it has, drop the translations of the range from the mirror's own
//! table, marking dirty the pages the device could write. A driver that may not sleep and answers
//! [`Invalidation::retry_later`] keeps using the range, so the table keeps it too. The driver
//! cannot forget a step, install a translation outside the window, or read a page the CPU has
//! unmapped: rgup owns the lock, the sequence and the authoritative table, and the driver only
//! ever sees translations that are valid for as long as it can see them.
//!
//! Dirty tracking: a page becomes dirty (`folio_mark_dirty()`, never `lock_page()`) before a
//! writable translation of it is handed to the driver, and again when such a translation is
//! invalidated, so that nothing the device wrote can be lost to writeback or swap.
//!
//! The mirror holds an `mmgrab()` reference to the mm (through the notifier) but does not keep
//! the process's memory alive: after the process exits, faults fail with `EFAULT` and the
//! translations are gone ([`Event::Release`]).
//!
//! C headers: [`include/linux/mmu_notifier.h`](srctree/include/linux/mmu_notifier.h),
//! [`include/linux/hmm.h`](srctree/include/linux/hmm.h)

use crate::{
    helpers,
    stats,
    user_page::UserPage, //
    Access,
};
use core::{
    marker::PhantomPinned,
    ptr::NonNull, //
};
use kernel::{
    bindings,
    error::to_result,
    ffi::{
        c_ulong,
        c_void, //
    },
    mm::{
        Mm,
        MmWithUser,
        MmWithUserAsync, //
    },
    page::{
        PAGE_SHIFT,
        PAGE_SIZE, //
    },
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{
            Atomic,
            Relaxed, //
        },
        Mutex, MutexGuard,
    },
    time::{
        self,
        Delta,
        Instant,
        Monotonic, //
    },
    types::Opaque,
};

/// The lockdep name of every mirror's lock. A `static`, not a literal: `Mirror<T>` is
/// instantiated in the crates of its drivers, and a literal would be copied into each, giving the
/// one lock class several names (which lockdep reports).
static MIRROR_LOCK_NAME: &CStr = c"rgup_mirror";

/// How long a fault or a snapshot keeps retrying while invalidations collide with it (1 s,
/// `HMM_RANGE_DEFAULT_TIMEOUT`); past it, the call fails with `EBUSY`.
pub const FAULT_TIMEOUT: Delta = Delta::from_millis(1000);

/// [`FAULT_TIMEOUT`] in jiffies, for `hmm_range_fault()`'s own timeout.
fn fault_timeout_jiffies() -> time::Jiffies {
    time::msecs_to_jiffies(u32::try_from(FAULT_TIMEOUT.as_millis()).unwrap_or(u32::MAX))
}

/// The number of pages faulted, and handed to [`MirrorOps::install`], in one window.
///
/// One PMD worth: a 2 MiB THP or hugetlb page arrives in a single window when aligned.
pub const FAULT_CHUNK_PAGES: usize = 512;

// `enum hmm_pfn_flags` of include/linux/hmm.h on 64-bit; rgup_helpers.c asserts the values.
const HMM_PFN_VALID: u64 = 1 << 63;
const HMM_PFN_WRITE: u64 = 1 << 62;
const HMM_PFN_ERROR: u64 = 1 << 61;
const HMM_PFN_ORDER_SHIFT: u32 = 53;
const HMM_PFN_FLAGS: u64 = !((1 << HMM_PFN_ORDER_SHIFT) - 1);
const HMM_PFN_REQ_FAULT: u64 = HMM_PFN_VALID;
const HMM_PFN_REQ_WRITE: u64 = HMM_PFN_WRITE;

/// Why a range is being invalidated (`enum mmu_notifier_event`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// `munmap()`, or `mremap()` moving the range.
    Unmap,
    /// Page table entries cleared: `madvise(MADV_DONTNEED)`, reclaim, page replacement, ...
    Clear,
    /// `mprotect()` of the range.
    ProtectionVma,
    /// Write protection of single pages: copy-on-write at `fork()`, writeback (`folio_mkclean`).
    ProtectionPage,
    /// Soft-dirty tracking was reset.
    SoftDirty,
    /// The process's address space is going away (`exit_mmap()`): drop everything.
    Release,
    /// Pages are being migrated by someone other than this mirror.
    Migrate,
    /// Pages are being made exclusive to some other device.
    Exclusive,
    /// The [`Mirror`] itself is being dropped (generated by rgup, not by the core mm).
    Teardown,
}

impl Event {
    fn from_raw(event: bindings::mmu_notifier_event) -> Self {
        match event {
            bindings::mmu_notifier_event_MMU_NOTIFY_UNMAP => Self::Unmap,
            bindings::mmu_notifier_event_MMU_NOTIFY_PROTECTION_VMA => Self::ProtectionVma,
            bindings::mmu_notifier_event_MMU_NOTIFY_PROTECTION_PAGE => Self::ProtectionPage,
            bindings::mmu_notifier_event_MMU_NOTIFY_SOFT_DIRTY => Self::SoftDirty,
            bindings::mmu_notifier_event_MMU_NOTIFY_RELEASE => Self::Release,
            bindings::mmu_notifier_event_MMU_NOTIFY_MIGRATE => Self::Migrate,
            bindings::mmu_notifier_event_MMU_NOTIFY_EXCLUSIVE => Self::Exclusive,
            // `MMU_NOTIFY_CLEAR` and anything newer: the generic "entries are gone".
            _ => Self::Clear,
        }
    }
}

/// What a driver does with the translations of a [`Mirror`].
///
/// The implementing type is the driver's state behind the mirror's lock, typically its device
/// page table and a handle to program the hardware. Both methods run with that lock held, so they
/// must not allocate memory with `GFP_KERNEL` (an invalidation may come from reclaim; lockdep
/// kernels check it) and must not fault on user memory.
///
/// The state lives pinned inside the [`Mirror`], so the methods take `self: Pin<&mut Self>`. A
/// state that holds a kernel [`Mutex`] (or anything else that must not move) reaches its fields
/// by pin projection (`#[pin_data]`), and an [`Unpin`] state dereferences the pin as it would a
/// `&mut Self`:
///
/// ```
/// use kernel::{new_mutex, sync::Mutex};
/// use rgup::mirror::{InstallWindow, Invalidated, Invalidation, Mirror, MirrorOps};
/// use rgup::Access;
///
/// /// A device whose page table is also behind its own lock (shared with, say, its interrupt
/// /// handler).
/// #[pin_data]
/// struct DevicePageTable {
///     #[pin]
///     ptes: Mutex<usize>,
///     installs: usize,
/// }
///
/// impl MirrorOps for DevicePageTable {
///     fn install(self: Pin<&mut Self>, window: &InstallWindow<'_>) {
///         let this = self.project();
///         *this.installs += 1;
///         *this.ptes.lock() += window.translations().count();
///     }
///
///     fn invalidate(self: Pin<&mut Self>, inv: &Invalidation<'_>) -> Invalidated {
///         *self.ptes.lock() = 0;
///         inv.done()
///     }
/// }
///
/// # let len = 4 * kernel::page::PAGE_SIZE;
/// # let addr = rgup::testing::user_buffer(len)?;
/// let task = current!();
/// let mm = task.mm().ok_or(EINVAL)?;
/// let device = pin_init!(DevicePageTable { ptes <- new_mutex!(0), installs: 0 });
/// let mirror = KBox::pin_init(Mirror::new(mm, addr, len, device), GFP_KERNEL)?;
/// mirror.fault(addr, len, Access::Read)?;
/// assert_eq!(*mirror.lock().ptes.lock(), 4);
/// assert_eq!(mirror.lock().installs, 1);
/// ```
///
/// Safe code cannot move the state out of the mirror: neither with a `&mut self` receiver ...
///
/// ```compile_fail,E0053
/// use rgup::mirror::{Invalidated, Invalidation, MirrorOps};
///
/// struct DevicePageTable {
///     ptes: usize,
///     _pinned: core::marker::PhantomPinned,
/// }
///
/// impl MirrorOps for DevicePageTable {
///     fn invalidate(&mut self, inv: &Invalidation<'_>) -> Invalidated {
///         let mut moved = DevicePageTable { ptes: 0, _pinned: core::marker::PhantomPinned };
///         core::mem::swap(self, &mut moved);
///         inv.done()
///     }
/// }
/// ```
///
/// ... nor through the pin, which gives `&mut Self` only to an [`Unpin`] state:
///
/// ```compile_fail,E0596
/// use rgup::mirror::{Invalidated, Invalidation, MirrorOps};
///
/// struct DevicePageTable {
///     ptes: usize,
///     _pinned: core::marker::PhantomPinned,
/// }
///
/// impl MirrorOps for DevicePageTable {
///     fn invalidate(mut self: Pin<&mut Self>, inv: &Invalidation<'_>) -> Invalidated {
///         let mut moved = DevicePageTable { ptes: 0, _pinned: core::marker::PhantomPinned };
///         core::mem::swap(&mut *self, &mut moved);
///         inv.done()
///     }
/// }
/// ```
pub trait MirrorOps: Send {
    /// New translations, valid until the next [`MirrorOps::invalidate`] covering them: program
    /// the device with them.
    ///
    /// The default does nothing, for drivers that read through the mirror's own table
    /// ([`MirrorGuard::page`]).
    fn install(self: Pin<&mut Self>, window: &InstallWindow<'_>) {
        let _ = window;
    }

    /// Make the device stop using the translations of `inv.start()..inv.end()` before returning
    /// (zap its page table entries, flush its TLB, undo DMA mappings).
    ///
    /// When [`Invalidation::may_block`] is false (the OOM reaper), the method must not sleep; it
    /// may then answer [`Invalidation::retry_later`] if it cannot finish without sleeping.
    fn invalidate(self: Pin<&mut Self>, inv: &Invalidation<'_>) -> Invalidated;
}

/// An invalidation of part of a [`Mirror`], as seen by [`MirrorOps::invalidate`].
pub struct Invalidation<'a> {
    start: usize,
    end: usize,
    event: Event,
    blockable: bool,
    _range: core::marker::PhantomData<&'a ()>,
}

impl Invalidation<'_> {
    /// The first address invalidated, clamped to the mirror.
    pub fn start(&self) -> usize {
        self.start
    }

    /// One past the last address invalidated, clamped to the mirror.
    pub fn end(&self) -> usize {
        self.end
    }

    /// Why.
    pub fn event(&self) -> Event {
        self.event
    }

    /// Whether [`MirrorOps::invalidate`] may sleep.
    pub fn may_block(&self) -> bool {
        self.blockable
    }

    /// The device stopped using the range.
    pub fn done(&self) -> Invalidated {
        Invalidated(true)
    }

    /// The device could not stop using the range without sleeping, and sleeping is not allowed:
    /// the core mm gives up this (non-blockable) invalidation and tries again later.
    ///
    /// Returns `None` for a blockable invalidation, which must be completed.
    pub fn retry_later(&self) -> Option<Invalidated> {
        (!self.blockable).then_some(Invalidated(false))
    }
}

/// The answer of [`MirrorOps::invalidate`], made by [`Invalidation::done`] or
/// [`Invalidation::retry_later`].
#[must_use]
pub struct Invalidated(bool);

/// One translation handed to [`MirrorOps::install`].
///
/// # Invariants
///
/// `page` is mapped by the process at `addr`, writable by it if `writable`, and stays mapped for
/// `'w`.
pub struct Translation<'w> {
    addr: usize,
    hmm_pfn: u64,
    writable: bool,
    page: NonNull<bindings::page>,
    _window: core::marker::PhantomData<&'w ()>,
}

impl Translation<'_> {
    /// The user address of the page.
    pub fn addr(&self) -> usize {
        self.addr
    }

    /// The page frame number.
    pub fn pfn(&self) -> usize {
        (self.hmm_pfn & !HMM_PFN_FLAGS) as usize
    }

    /// Whether the device may write the page (only for faults with [`Access::Write`]).
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// The order of the CPU mapping the page belongs to: 0 for a 4 KiB PTE, 9 for a 2 MiB PMD.
    pub fn map_order(&self) -> u32 {
        ((self.hmm_pfn >> HMM_PFN_ORDER_SHIFT) & 0x1f) as u32
    }

    /// The page, for the CPU to access on the device's behalf (writable if the translation is),
    /// or `None` for device memory (PCI peer memory, device-private pages), which the CPU must
    /// not touch.
    pub fn page(&self) -> Option<UserPage<'_>> {
        // SAFETY: The page is mapped by the process and cannot go away during the window (type
        // invariant).
        if unsafe { helpers::rgup_helper_page_is_device(self.page.as_ptr()) } {
            return None;
        }
        // SAFETY: As above, for the borrow of `self`, writable by the process if `writable`.
        Some(unsafe { UserPage::from_raw(self.page, self.writable) })
    }
}

/// The translations of one faulted chunk, valid while the mirror's lock is held and no
/// invalidation has run since they were read: exactly while [`MirrorOps::install`] runs.
pub struct InstallWindow<'w> {
    start: usize,
    pfns: &'w [u64],
    writable: bool,
}

impl<'w> InstallWindow<'w> {
    /// The first address of the chunk.
    pub fn start(&self) -> usize {
        self.start
    }

    /// The number of pages of the chunk.
    pub fn page_count(&self) -> usize {
        self.pfns.len()
    }

    /// The translations of the chunk, in address order.
    pub fn translations(&self) -> impl Iterator<Item = Translation<'w>> + '_ {
        let writable = self.writable;
        self.pfns
            .iter()
            .enumerate()
            .filter_map(move |(i, &hmm_pfn)| {
                let page = NonNull::new(pfn_to_page(hmm_pfn))?;
                // INVARIANT: `hmm_range_fault()` reported the page mapped at that address (with
                // `HMM_PFN_WRITE` if the CPU may write it), and it stays mapped until an
                // invalidation, which needs the lock the window holds.
                Some(Translation {
                    addr: self.start + (i << PAGE_SHIFT),
                    hmm_pfn,
                    writable: writable && hmm_pfn & HMM_PFN_WRITE != 0,
                    page,
                    _window: core::marker::PhantomData,
                })
            })
    }
}

fn pfn_to_page(hmm_pfn: u64) -> *mut bindings::page {
    if hmm_pfn & HMM_PFN_VALID == 0 || hmm_pfn & HMM_PFN_ERROR != 0 {
        return core::ptr::null_mut();
    }
    // SAFETY: The entry is a valid pfn reported by `hmm_range_fault()`.
    unsafe { helpers::rgup_helper_hmm_pfn_to_page(hmm_pfn as c_ulong) }
}

/// What [`Mirror::snapshot`] found at one page, without faulting anything in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PageState {
    /// Nothing mapped yet; a fault could map it.
    #[default]
    NotPresent,
    /// The page cannot be accessed: no VMA, `PROT_NONE`, `VM_IO`/`VM_PFNMAP`, poison.
    Error,
    /// A page is mapped.
    Mapped {
        /// Mapped writable by the CPU.
        write: bool,
        /// The order of the CPU mapping (0 for a PTE, 9 for a PMD).
        order: u32,
        /// The shared zero page.
        zero: bool,
        /// Device memory (PCI peer memory, device-private or coherent).
        device: bool,
    },
}

/// Counters of one [`Mirror`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MirrorStats {
    /// Calls of [`Mirror::fault`] that faulted something.
    pub faults: u64,
    /// Pages faulted in.
    pub faulted_pages: u64,
    /// Invalidations that intersected the mirror.
    pub invalidations: u64,
    /// Windows abandoned because an invalidation collided with them.
    pub retries: u64,
    /// Translations currently in the mirror's table.
    pub mirrored_pages: u64,
}

struct Counters {
    faults: Atomic<u64>,
    faulted_pages: Atomic<u64>,
    invalidations: Atomic<u64>,
    retries: Atomic<u64>,
    mirrored_pages: Atomic<u64>,
}

impl Counters {
    const fn new() -> Self {
        Self {
            faults: Atomic::new(0),
            faulted_pages: Atomic::new(0),
            invalidations: Atomic::new(0),
            retries: Atomic::new(0),
            mirrored_pages: Atomic::new(0),
        }
    }
}

/// A translation of the mirror's table, read under the mirror's lock
/// ([`MirrorGuard::translation`]).
///
/// It borrows the guard and is neither `Copy` nor `Clone`: like a [`Translation`] in an
/// [`InstallWindow`], it exists as a value only while the lock that keeps it valid is held. The
/// numbers it gives out are facts about that moment.
///
/// ```compile_fail,E0515
/// use rgup::mirror::{Mirror, MirrorOps, Mirrored};
///
/// fn keep<T: MirrorOps>(mirror: &Mirror<T>, addr: usize) -> Option<Mirrored<'_>> {
///     mirror.lock().translation(addr) // outlives the lock
/// }
/// ```
#[derive(Debug, PartialEq, Eq)]
pub struct Mirrored<'g> {
    entry: Entry,
    _guard: core::marker::PhantomData<&'g ()>,
}

impl Mirrored<'_> {
    /// The page frame number of the page.
    pub fn pfn(&self) -> usize {
        self.entry.pfn
    }

    /// Whether the device may write the page.
    pub fn writable(&self) -> bool {
        self.entry.writable
    }

    /// Whether the device has exclusive (atomic) access: the CPU's mapping is a device-exclusive
    /// entry until the CPU touches the page again ([`Mirror::make_exclusive`]).
    pub fn exclusive(&self) -> bool {
        self.entry.exclusive
    }
}

/// A translation of the mirror's table, as stored: `pfn << 2 | exclusive << 1 | writable`, as an
/// xarray value entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    pfn: usize,
    writable: bool,
    exclusive: bool,
}

impl Entry {
    fn encode(self) -> usize {
        // xa_mk_value(v) is `v << 1 | 1`.
        (((self.pfn << 2) | (usize::from(self.exclusive) << 1) | usize::from(self.writable)) << 1)
            | 1
    }

    fn decode(entry: *mut c_void) -> Option<Self> {
        let v = entry as usize;
        if v & 1 == 0 {
            return None; // NULL (or a non-value entry, which the table never holds)
        }
        let v = v >> 1;
        Some(Self {
            pfn: v >> 2,
            writable: v & 1 != 0,
            exclusive: v & 2 != 0,
        })
    }

    fn page(self) -> *mut bindings::page {
        // SAFETY: Only called for entries of the table, whose pfn is a page mapped by the mm
        // (table invariant).
        unsafe { helpers::rgup_helper_pfn_to_page(self.pfn as c_ulong) }
    }
}

/// `__GFP_ACCOUNT`, which bindgen does not see (its macro is a cast): the accounted kernel
/// flags minus the plain ones.
const GFP_ACCOUNT: bindings::gfp_t = bindings::GFP_KERNEL_ACCOUNT & !bindings::GFP_KERNEL;

/// The mirror's own table of translations: an xarray from user page number to an [`Entry`].
///
/// # Invariants
///
/// `xa` is an initialised xarray holding only value entries; it is only modified under the
/// mirror's lock, and every entry is a page the mm maps at that address (removed by the
/// invalidation that unmaps it).
#[pin_data(PinnedDrop)]
struct Table {
    #[pin]
    xa: Opaque<bindings::xarray>,
    /// How many entries are writable: when none is, an erase needs no dirty-marking pass.
    writable: core::cell::Cell<u64>,
}

// SAFETY: The xarray has its own lock and holds plain values.
unsafe impl Send for Table {}

impl Table {
    fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `slot` is valid for writes; `xa_init_flags` initialises it.
            xa <- Opaque::ffi_init(|slot| unsafe { bindings::xa_init_flags(slot, 0) }),
            writable: core::cell::Cell::new(0),
        })
    }

    fn lookup(&self, addr: usize) -> Option<Entry> {
        // SAFETY: `xa` is initialised.
        Entry::decode(unsafe { bindings::xa_load(self.xa.get(), (addr >> PAGE_SHIFT) as c_ulong) })
    }

    /// Records `mapped` at `addr`; returns whether the page had no translation before.
    fn store(&self, addr: usize, mapped: Entry) -> Result<bool> {
        // SAFETY: `xa` is initialised; the entry is a value, never a pointer. GFP_ATOMIC: the
        // mirror's lock is held, and invalidations (which take it) may come from reclaim. The
        // nodes are charged to the faulting task's memory cgroup: a table grows with what the
        // user maps and mirrors.
        let old = unsafe {
            bindings::xa_store(
                self.xa.get(),
                (addr >> PAGE_SHIFT) as c_ulong,
                mapped.encode() as *mut c_void,
                bindings::GFP_ATOMIC | bindings::__GFP_NOWARN | GFP_ACCOUNT,
            )
        };
        xa_result(old)?;
        let was_writable = Entry::decode(old).is_some_and(|m| m.writable);
        let w = self.writable.get() + u64::from(mapped.writable) - u64::from(was_writable);
        self.writable.set(w);
        Ok(old.is_null())
    }

    /// Records the translations of the window of `hmm_pfns` from `start` on, writable where
    /// `write` and the CPU maps the page writable, marking those pages dirty; returns how many
    /// of the pages had no translation before, and the error, if any (`EFAULT` for an entry
    /// `hmm_range_fault()` did not make valid: nothing stored or marked; `ENOMEM`: the entries
    /// before the one that failed are stored, and counted).
    ///
    /// # Safety
    ///
    /// The valid entries of `hmm_pfns` are pages the mm maps from `start` on, which stay mapped
    /// during the call: a walk's result, still current under the mirror's lock.
    unsafe fn store_window(&self, start: usize, hmm_pfns: &[u64], write: bool) -> (u64, Result) {
        let mut added: c_ulong = 0;
        let mut writable_delta: kernel::ffi::c_long = 0;
        // SAFETY: `xa` is initialised; `hmm_pfns` is valid for its length; the helper stores
        // values, never pointers, in `Entry::encode()`'s layout (so the table invariant holds:
        // the entries are pages mapped at their addresses, by the caller's guarantee, which also
        // makes the pages valid for the dirty-marking). GFP_ATOMIC and the charge: as in `store`.
        let ret = unsafe {
            helpers::rgup_helper_xa_store_hmm_pfns(
                self.xa.get(),
                (start >> PAGE_SHIFT) as c_ulong,
                hmm_pfns.as_ptr().cast(),
                hmm_pfns.len() as c_ulong,
                write,
                bindings::GFP_ATOMIC | bindings::__GFP_NOWARN | GFP_ACCOUNT,
                &mut added,
                &mut writable_delta,
            )
        };
        let w = self
            .writable
            .get()
            .wrapping_add_signed(writable_delta as i64);
        self.writable.set(w);
        (added as u64, to_result(ret))
    }

    /// Erases the entries of `[start, end)`, marking dirty the pages they allowed to write;
    /// returns how many there were.
    fn erase(&self, start: usize, end: usize) -> u64 {
        let first = (start >> PAGE_SHIFT) as c_ulong;
        let last = ((end - 1) >> PAGE_SHIFT) as c_ulong;
        if self.writable.get() > 0 {
            self.mark_writable_dirty(first, last);
        }
        let mut writable: c_ulong = 0;
        // SAFETY: `xa` is initialised and holds only values; one walk erases the range.
        let erased = unsafe {
            helpers::rgup_helper_xa_erase_values(self.xa.get(), first, last, &mut writable)
        };
        self.writable
            .set(self.writable.get().saturating_sub(writable as u64));
        erased as u64
    }

    /// Marks dirty the pages of the writable entries of `[first, last]` (page numbers).
    fn mark_writable_dirty(&self, first: c_ulong, last: c_ulong) {
        let mut index = first;
        loop {
            // SAFETY: `xa` is initialised; `index` is a valid in/out cursor.
            let entry = unsafe { bindings::xa_find(self.xa.get(), &mut index, last, XA_PRESENT) };
            let Some(mapped) = Entry::decode(entry) else {
                break;
            };
            if mapped.writable {
                // SAFETY: The page is still mapped (the invalidation is in progress and the core
                // mm clears the page tables only after it), so it is a valid page.
                unsafe { helpers::rgup_helper_page_mark_dirty_nosleep(mapped.page()) };
            }
            if index == last {
                break;
            }
            index += 1;
        }
    }
}

#[pinned_drop]
impl PinnedDrop for Table {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: `xa` is initialised and holds only values, which need no freeing.
        unsafe { bindings::xa_destroy(self.xa.get()) };
    }
}

// `XA_PRESENT` of include/linux/xarray.h: any entry.
const XA_PRESENT: bindings::xa_mark_t = 8;

/// The error an xarray operation returned in place of an entry (`xa_err()`), if any.
fn xa_result(entry: *mut c_void) -> Result {
    // SAFETY: `xa_err()` only looks at the value of the pointer.
    to_result(unsafe { bindings::xa_err(entry) })
}

/// The driver's state and the mirror's table, behind the mirror's lock.
#[pin_data]
struct Inner<T> {
    #[pin]
    ops: T,
    #[pin]
    table: Table,
}

/// A mirror of `[start, end)` of one process's address space.
///
/// Created with [`Mirror::new`] (pinned in place: the notifier points into it), removed from the
/// mm when dropped. Dropping waits for a running invalidation to finish; it must not happen from
/// [`MirrorOps`] methods or while holding a [`MirrorGuard`].
///
/// # Examples
///
/// A device that counts what it has been given:
///
/// ```
/// use rgup::mirror::{InstallWindow, Invalidated, Invalidation, Mirror, MirrorOps};
/// use rgup::Access;
///
/// #[derive(Default)]
/// struct Counter {
///     installed: usize,
/// }
///
/// impl MirrorOps for Counter {
///     fn install(mut self: Pin<&mut Self>, window: &InstallWindow<'_>) {
///         self.installed += window.translations().count();
///     }
///
///     fn invalidate(mut self: Pin<&mut Self>, inv: &Invalidation<'_>) -> Invalidated {
///         self.installed = 0;
///         inv.done()
///     }
/// }
///
/// # let addr = rgup::testing::user_buffer(8 * kernel::page::PAGE_SIZE)?;
/// # let len = 8 * kernel::page::PAGE_SIZE;
/// let task = current!();
/// let mm = task.mm().ok_or(EINVAL)?;
/// let mirror = KBox::pin_init(Mirror::new(mm, addr, len, Counter::default()), GFP_KERNEL)?;
/// mirror.fault(addr, len, Access::Write)?;
/// assert_eq!(mirror.lock().installed, 8);
/// assert!(mirror.lock().page(addr).is_some_and(|(_, writable)| writable));
/// assert_eq!(mirror.stats().faults, 1);
/// ```
///
/// # Invariants
///
/// `notifier` is inserted in the interval tree of `mm` for `[start, end)` with
/// `Self::NOTIFIER_OPS`, from the end of [`Mirror::new`] until its
/// [`PinnedDrop::drop`](pin_init::PinnedDrop::drop).
#[pin_data(PinnedDrop)]
pub struct Mirror<T: MirrorOps> {
    #[pin]
    inner: Mutex<Inner<T>>,
    counters: Counters,
    start: usize,
    end: usize,
    #[pin]
    notifier: Opaque<bindings::mmu_interval_notifier>,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: The notifier is only touched by the core mm and under the documented rules; the rest is
// `Sync` through the mutex and atomics.
unsafe impl<T: MirrorOps> Send for Mirror<T> {}
// SAFETY: As above.
unsafe impl<T: MirrorOps> Sync for Mirror<T> {}

impl<T: MirrorOps> Mirror<T> {
    const NOTIFIER_OPS: bindings::mmu_interval_notifier_ops = bindings::mmu_interval_notifier_ops {
        invalidate: Some(Self::invalidate_callback),
        invalidate_start: None,
        invalidate_finish: None,
    };

    /// Mirrors `[start, start + len)` of `mm` for a driver whose state is `ops`.
    ///
    /// `start` and `len` must be page-aligned and `len` non-zero, within the user address space
    /// (`EINVAL` otherwise). May sleep: the first mirror of an mm takes its mmap write lock.
    pub fn new<'a>(
        mm: &'a MmWithUser,
        start: usize,
        len: usize,
        ops: impl PinInit<T> + 'a,
    ) -> impl PinInit<Self, Error> + 'a
    where
        T: 'a,
    {
        // The field initialisers below shadow `start`.
        let (first, bytes) = (start, len);
        let end = start.checked_add(len).filter(|&end| {
            len != 0 && (start | len) & (PAGE_SIZE - 1) == 0 && end <= crate::pin::user_end()
        });
        try_pin_init!(Self {
            inner <- Mutex::new(
                pin_init!(Inner {
                    ops <- ops,
                    table <- Table::new(),
                }),
                MIRROR_LOCK_NAME,
                // One class for every mirror: the static of a generic function is shared by all
                // its instances, in whichever crate they are compiled.
                kernel::static_lock_class!(),
            ),
            counters: Counters::new(),
            start,
            end: end.ok_or(EINVAL)?,
            notifier <- Opaque::try_ffi_init(|slot: *mut bindings::mmu_interval_notifier| {
                // SAFETY: `slot` is valid and pinned for the mirror's lifetime; the callbacks
                // find the mirror from it, and every field they use is initialised above; `mm`
                // has users, as the insertion requires.
                to_result(unsafe {
                    bindings::mmu_interval_notifier_insert(
                        slot,
                        mm.as_raw(),
                        first as c_ulong,
                        bytes as c_ulong,
                        &Self::NOTIFIER_OPS,
                    )
                })
            }),
            _pin: PhantomPinned,
        }? Error)
        .pin_chain(|this| {
            this.teach_lockdep();
            stats::GLOBAL.mirror_created();
            Ok(())
        })
    }

    /// Mirrors the whole user address space of `mm`.
    pub fn new_whole_mm<'a>(
        mm: &'a MmWithUser,
        ops: impl PinInit<T> + 'a,
    ) -> impl PinInit<Self, Error> + 'a
    where
        T: 'a,
    {
        Self::new(mm, 0, crate::pin::user_end() & !(PAGE_SIZE - 1), ops)
    }

    /// Tells lockdep that the mirror's lock is taken in reclaim (from invalidations), so that a
    /// `GFP_KERNEL` allocation under it is reported (as `ib_umem_odp` does).
    fn teach_lockdep(&self) {
        if cfg!(CONFIG_LOCKDEP) {
            // SAFETY: Only lockdep annotations.
            unsafe { helpers::rgup_helper_fs_reclaim_acquire() };
            drop(self.inner.lock());
            // SAFETY: Pairs with the acquire above.
            unsafe { helpers::rgup_helper_fs_reclaim_release() };
        }
    }

    /// The first mirrored address.
    pub fn start(&self) -> usize {
        self.start
    }

    /// One past the last mirrored address.
    pub fn end(&self) -> usize {
        self.end
    }

    fn notifier(&self) -> *mut bindings::mmu_interval_notifier {
        self.notifier.get()
    }

    /// The identity the mirror gives to the core mm for the events it causes itself.
    fn owner(&self) -> *mut c_void {
        core::ptr::from_ref(self).cast_mut().cast()
    }

    /// An `mm_users` reference for one operation, put with `mmput_async()` (as `ib_umem_odp`
    /// does): if the process exits meanwhile, this reference may be the last, and `exit_mmap()`
    /// must not run in the caller's context, under whatever locks it holds (one the driver's
    /// [`MirrorOps::invalidate`] takes, as `MMU_NOTIFY_RELEASE` calls it) and on its time.
    /// `EFAULT` once the process exited.
    fn mm_users(&self) -> Result<ARef<MmWithUserAsync>> {
        self.mm()
            .mmget_not_zero()
            .map(MmWithUser::into_mmput_async)
            .ok_or(EFAULT)
    }

    fn mm(&self) -> &Mm {
        // SAFETY: By the type invariant the notifier is inserted, so `mm` is set and the notifier
        // holds an `mmgrab()` reference to it for as long as `self` exists.
        unsafe { Mm::from_raw((*self.notifier()).mm) }
    }

    /// The counters of this mirror.
    pub fn stats(&self) -> MirrorStats {
        let c = &self.counters;
        MirrorStats {
            faults: c.faults.load(Relaxed),
            faulted_pages: c.faulted_pages.load(Relaxed),
            invalidations: c.invalidations.load(Relaxed),
            retries: c.retries.load(Relaxed),
            mirrored_pages: c.mirrored_pages.load(Relaxed),
        }
    }

    /// Takes the mirror's lock, to use the driver's state and read pages through the table.
    ///
    /// Do not call [`Mirror::fault`] or [`Mirror::snapshot`] while holding it.
    pub fn lock(&self) -> MirrorGuard<'_, T> {
        MirrorGuard {
            guard: self.inner.lock(),
        }
    }

    fn span(&self, addr: usize, len: usize) -> Result<(usize, usize)> {
        let end = addr.checked_add(len).ok_or(EINVAL)?;
        if len == 0 || addr < self.start || end > self.end {
            return Err(EINVAL);
        }
        let first = addr & !(PAGE_SIZE - 1);
        let last = (end + PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
        Ok((first, last))
    }

    /// Faults in the pages covering `[addr, addr + len)` for `access` and installs them, chunk
    /// by chunk ([`FAULT_CHUNK_PAGES`]), calling [`MirrorOps::install`] for each.
    ///
    /// Errors, as `hmm_range_fault()` reports them: `EFAULT` for a hole, a `PROT_NONE` or
    /// `VM_IO`/`VM_PFNMAP` VMA, or a process that has exited; `EPERM` to write a read-only VMA;
    /// `EBUSY` when invalidations kept colliding for [`FAULT_TIMEOUT`]; `EINTR` on a fatal
    /// signal; `ENOMEM`; and `EINVAL` for a range outside the mirror. Chunks installed before an
    /// error stay installed (they are valid translations).
    ///
    /// Sleeps, and takes the mmap read lock of the mirror's mm, then the mirror's lock: calling
    /// it with either held (a [`MirrorGuard`], an mmap lock guard of that mm) deadlocks.
    pub fn fault(&self, addr: usize, len: usize, access: Access) -> Result {
        let (first, last) = self.span(addr, len)?;
        let flags = match access {
            Access::Read => HMM_PFN_REQ_FAULT,
            Access::Write => HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE,
        };
        let writable = access == Access::Write;
        let mm = self.mm_users()?;
        let mut pfns = KVec::with_capacity(
            FAULT_CHUNK_PAGES.min((last - first) >> PAGE_SHIFT),
            GFP_KERNEL,
        )?;
        let mut chunk = first;
        while chunk < last {
            let chunk_end = last.min(chunk + (FAULT_CHUNK_PAGES << PAGE_SHIFT));
            let installed = self.walk(&mm, &mut pfns, chunk, chunk_end, flags, |inner, pfns| {
                let inner = inner.project();
                // SAFETY: `walk` runs this under the mirror's lock with `pfns` the current result
                // of the walk of the chunk: its pages are mapped until an invalidation, which
                // needs the lock.
                let (new, stored) = unsafe { inner.table.store_window(chunk, pfns, writable) };
                // Also when the store failed part way through the chunk: the entries stored
                // before it are in the table, and the invalidation that erases them subtracts
                // them.
                self.counters.mirrored_pages.add(new, Relaxed);
                stats::GLOBAL.mirrored(new);
                stored?;
                let window = InstallWindow {
                    start: chunk,
                    pfns,
                    writable,
                };
                inner.ops.install(&window);
                Ok(pfns.len())
            })?;
            self.counters.faulted_pages.add(installed as u64, Relaxed);
            chunk = chunk_end;
        }
        self.counters.faults.add(1, Relaxed);
        stats::GLOBAL.mirror_faulted();
        Ok(())
    }

    /// Reports what the CPU maps at each page from `addr` on, one [`PageState`] per entry of
    /// `out`, without faulting anything in. `addr` must be page-aligned.
    ///
    /// Takes the same locks as [`Mirror::fault`], with the same rule.
    pub fn snapshot(&self, addr: usize, out: &mut [PageState]) -> Result {
        if addr & (PAGE_SIZE - 1) != 0 {
            return Err(EINVAL);
        }
        let len = out.len().checked_mul(PAGE_SIZE).ok_or(EINVAL)?;
        let (first, last) = self.span(addr, len)?;
        let mm = self.mm_users()?;
        let mut pfns = KVec::with_capacity(FAULT_CHUNK_PAGES.min(out.len()), GFP_KERNEL)?;
        let mut chunk = first;
        while chunk < last {
            let chunk_end = last.min(chunk + (FAULT_CHUNK_PAGES << PAGE_SHIFT));
            let base = (chunk - first) >> PAGE_SHIFT;
            self.walk(&mm, &mut pfns, chunk, chunk_end, 0, |_, pfns| {
                for (i, &hmm_pfn) in pfns.iter().enumerate() {
                    out[base + i] = page_state(hmm_pfn);
                }
                Ok(())
            })?;
            chunk = chunk_end;
        }
        Ok(())
    }

    /// Gives the device exclusive access to the pages covering `[addr, addr + len)`, for atomic
    /// operations the CPU must not interleave with (`make_device_exclusive()`): the CPU's
    /// mappings become device-exclusive entries and the pages are installed writable and
    /// exclusive ([`Mirrored::exclusive`]); the next CPU access restores the mapping and
    /// invalidates them. Anonymous, writable, non-hugetlb memory only (`EOPNOTSUPP` otherwise,
    /// from the core mm); `EFAULT` after the process exited.
    ///
    /// Takes the same locks as [`Mirror::fault`], with the same rule.
    pub fn make_exclusive(&self, addr: usize, len: usize) -> Result {
        let (first, last) = self.span(addr, len)?;
        let mm = self.mm_users()?;
        let began = Instant::<Monotonic>::now();
        let mut page_addr = first;
        while page_addr < last {
            // SAFETY: The notifier is inserted (type invariant). (It waits for a running
            // invalidation, which takes the mirror's lock: a caller holding a `MirrorGuard`
            // deadlocks, as documented, which is no memory-safety matter.)
            let seq = unsafe { bindings::mmu_interval_read_begin(self.notifier()) };
            let mut folio = core::ptr::null_mut();
            let page = {
                let _mmap = mm.mmap_read_lock();
                // SAFETY: `_mmap` holds the mmap read lock of `mm`, which has users; the owner
                // makes the resulting `MMU_NOTIFY_EXCLUSIVE` ours, so the callback ignores it.
                unsafe {
                    helpers::rgup_helper_make_device_exclusive(
                        mm.as_raw(),
                        page_addr as c_ulong,
                        self.owner(),
                        &mut folio,
                    )
                }
            };
            let page = kernel::error::from_err_ptr(page)?;
            let guard = self.inner.lock();
            // SAFETY: The notifier is inserted and we hold the lock `set_seq` is called under.
            let stale =
                unsafe { helpers::rgup_helper_mmu_interval_read_retry(self.notifier(), seq) };
            let stored = if stale {
                Ok(false)
            } else {
                // SAFETY: `page` is valid: `make_device_exclusive()` returned it with its folio
                // locked and referenced.
                unsafe { helpers::rgup_helper_page_mark_dirty_nosleep(page) };
                let mapped = Entry {
                    // SAFETY: As above.
                    pfn: unsafe { helpers::rgup_helper_page_to_pfn(page) } as usize,
                    writable: true,
                    exclusive: true,
                };
                guard.table.store(page_addr, mapped)
            };
            drop(guard);
            // SAFETY: Returns what `make_device_exclusive()` gave us; only now may the CPU revoke
            // the exclusive entry (which needs the folio lock).
            unsafe { helpers::rgup_helper_folio_unlock_put(folio) };
            if stored? {
                self.counters.mirrored_pages.add(1, Relaxed);
                stats::GLOBAL.mirrored(1);
            }
            if stale {
                self.counters.retries.add(1, Relaxed);
                if began.elapsed() > FAULT_TIMEOUT {
                    return Err(EBUSY);
                }
                // The page is left device-exclusive: converting it again would first restore it,
                // an invalidation inside the next window, every time. Restore it now, with a
                // write fault, before the next window begins.
                let mut pfn = 0u64;
                let mut seq: c_ulong = 0;
                // SAFETY: As in `walk`: the notifier is inserted and covers the page, `mm` has
                // users, one pfn for one page.
                to_result(unsafe {
                    helpers::rgup_helper_hmm_range_fault(
                        self.notifier(),
                        page_addr as c_ulong,
                        (page_addr + PAGE_SIZE) as c_ulong,
                        (&raw mut pfn).cast(),
                        (HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE) as c_ulong,
                        self.owner(),
                        fault_timeout_jiffies(),
                        &mut seq,
                    )
                })?;
                continue;
            }
            page_addr += PAGE_SIZE;
        }
        Ok(())
    }

    /// The HMM loop for one chunk: walk (faulting per `flags`), lock, check the sequence, and
    /// run `commit` under the lock with the stable result; retry on collisions.
    fn walk<R>(
        &self,
        _mm: &MmWithUserAsync,
        pfns: &mut KVec<u64>,
        start: usize,
        end: usize,
        flags: u64,
        mut commit: impl FnMut(Pin<&mut Inner<T>>, &[u64]) -> Result<R>,
    ) -> Result<R> {
        let npages = (end - start) >> PAGE_SHIFT;
        pfns.clear();
        pfns.extend_with(npages, 0, GFP_KERNEL)?;
        let began = Instant::<Monotonic>::now();
        loop {
            let mut seq: c_ulong = 0;
            // SAFETY: The notifier is inserted (type invariant) and covers `[start, end)`; `_mm`
            // holds an `mm_users` reference; `pfns` has one entry per page. (The helper takes the
            // mmap read lock: a caller holding it deadlocks, as documented on the public methods;
            // nothing here relies on it not being held.)
            to_result(unsafe {
                helpers::rgup_helper_hmm_range_fault(
                    self.notifier(),
                    start as c_ulong,
                    end as c_ulong,
                    pfns.as_mut_ptr().cast(),
                    flags as c_ulong,
                    self.owner(),
                    fault_timeout_jiffies(),
                    &mut seq,
                )
            })?;
            let mut guard = self.inner.lock();
            // SAFETY: The notifier is inserted; we hold the lock the invalidate callback takes
            // before `mmu_interval_set_seq()`.
            if !unsafe { helpers::rgup_helper_mmu_interval_read_retry(self.notifier(), seq) } {
                return commit(guard.as_mut(), pfns);
            }
            drop(guard);
            self.counters.retries.add(1, Relaxed);
            // SAFETY: Reads current's signal state.
            if unsafe { helpers::rgup_helper_fatal_signal_pending() } {
                return Err(EINTR);
            }
            if began.elapsed() > FAULT_TIMEOUT {
                return Err(EBUSY);
            }
        }
    }

    /// The `invalidate` operation of the notifier.
    ///
    /// # Safety
    ///
    /// Called by the core mm with `sub` the notifier of a live `Mirror<T>` and `range` valid.
    unsafe extern "C" fn invalidate_callback(
        sub: *mut bindings::mmu_interval_notifier,
        range: *const bindings::mmu_notifier_range,
        cur_seq: c_ulong,
    ) -> bool {
        // SAFETY: `sub` is the `notifier` field of a pinned `Mirror<T>` that stays alive until
        // `mmu_interval_notifier_remove()` returns, which waits for this callback.
        let this = unsafe { &*kernel::container_of!(Opaque::cast_from(sub), Self, notifier) };
        // SAFETY: The core mm passes a valid range for the duration of the call.
        let range = unsafe { &*range };
        let event = Event::from_raw(range.event);
        if matches!(event, Event::Migrate | Event::Exclusive) && range.owner == this.owner() {
            // Caused by this mirror itself: ignoring it avoids a livelock (mm/rmap.c).
            return true;
        }
        let blockable = range.flags & bindings::MMU_NOTIFIER_RANGE_BLOCKABLE != 0;
        let mut guard = if blockable {
            this.inner.lock()
        } else {
            match this.inner.try_lock() {
                Some(guard) => guard,
                None => return false,
            }
        };
        // SAFETY: Called from the invalidate callback, under the lock `walk` checks under.
        unsafe { helpers::rgup_helper_mmu_interval_set_seq(sub, cur_seq) };
        this.counters.invalidations.add(1, Relaxed);
        let start = range.start.max(this.start);
        let end = range.end.min(this.end);
        if start >= end {
            return true;
        }
        this.invalidate_locked(guard.as_mut(), start, end, event, blockable)
    }

    fn invalidate_locked(
        &self,
        inner: Pin<&mut Inner<T>>,
        start: usize,
        end: usize,
        event: Event,
        blockable: bool,
    ) -> bool {
        let inner = inner.project();
        let inv = Invalidation {
            start,
            end,
            event,
            blockable,
            _range: core::marker::PhantomData,
        };
        if !inner.ops.invalidate(&inv).0 {
            // `retry_later`: the device still uses the range, so the table keeps it, for
            // `MirrorGuard` and for the dirty-marking of the invalidation that completes.
            return false;
        }
        // The device stopped using the range: drop it, marking dirty what the device could
        // write until now.
        let erased = inner.table.erase(start, end);
        self.counters.mirrored_pages.fetch_sub(erased, Relaxed);
        stats::GLOBAL.unmirrored(erased);
        true
    }
}

fn page_state(hmm_pfn: u64) -> PageState {
    if hmm_pfn & HMM_PFN_ERROR != 0 {
        return PageState::Error;
    }
    let page = pfn_to_page(hmm_pfn);
    if page.is_null() {
        return PageState::NotPresent;
    }
    // SAFETY: The walk's result is stable under the lock, so the page is mapped and valid.
    let (zero, device) = unsafe {
        (
            helpers::rgup_helper_page_is_zero(page),
            helpers::rgup_helper_page_is_device(page),
        )
    };
    PageState::Mapped {
        write: hmm_pfn & HMM_PFN_WRITE != 0,
        order: ((hmm_pfn >> HMM_PFN_ORDER_SHIFT) & 0x1f) as u32,
        zero,
        device,
    }
}

#[pinned_drop]
impl<T: MirrorOps> PinnedDrop for Mirror<T> {
    fn drop(self: Pin<&mut Self>) {
        {
            let mut guard = self.inner.lock();
            // The pages are still mapped (the notifier is still inserted): drop the translations
            // the way an invalidation would, so the driver sees one teardown path.
            let _ =
                self.invalidate_locked(guard.as_mut(), self.start, self.end, Event::Teardown, true);
        }
        // SAFETY: The notifier was inserted by `new` (type invariant) and this is not a callback.
        unsafe { bindings::mmu_interval_notifier_remove(self.notifier()) };
        stats::GLOBAL.mirror_dropped();
    }
}

/// The mirror's lock, held: access to the driver's state, and to the pages of the mirror's
/// table, which stay valid while the guard exists.
pub struct MirrorGuard<'a, T: MirrorOps> {
    guard: MutexGuard<'a, Inner<T>>,
}

impl<T: MirrorOps> MirrorGuard<'_, T> {
    /// The driver's state, pinned: for a state that is not [`Unpin`] (the guard dereferences
    /// mutably to an [`Unpin`] one).
    pub fn as_mut(&mut self) -> Pin<&mut T> {
        self.guard.as_mut().project().ops
    }

    /// The translation of the page at `addr`, for device memory too; `None` when there is none
    /// (never faulted, or invalidated since).
    pub fn translation(&self, addr: usize) -> Option<Mirrored<'_>> {
        self.guard.table.lookup(addr).map(|entry| Mirrored {
            entry,
            _guard: core::marker::PhantomData,
        })
    }

    /// The page mirrored at `addr` (see [`UserPage`]) and whether the device may write it, or
    /// `None` when there is no translation or the page is device memory, which the CPU must not
    /// access.
    pub fn page(&self, addr: usize) -> Option<(UserPage<'_>, bool)> {
        let mapped = self.guard.table.lookup(addr)?;
        // SAFETY: The entry is a mapped page (table invariant) that cannot be unmapped while the
        // lock is held, i.e. for the lifetime of the borrow of `self`.
        let page =
            NonNull::new(unsafe { helpers::rgup_helper_pfn_to_cpu_page(mapped.pfn as c_ulong) })?;
        // SAFETY: As above; a writable entry comes from a write fault of a writable mapping
        // (copy-on-write broken), so the process may write the page.
        Some((
            unsafe { UserPage::from_raw(page, mapped.writable) },
            mapped.writable,
        ))
    }
}

impl<T: MirrorOps> core::ops::Deref for MirrorGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard.ops
    }
}

impl<T: MirrorOps + Unpin> core::ops::DerefMut for MirrorGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.as_mut().get_mut()
    }
}

#[kunit_tests(rgup_mirror)]
mod tests {
    use super::*;

    #[test]
    fn table_entries_round_trip() {
        for (pfn, writable, exclusive) in [
            (0, false, false),
            (1, true, false),
            (0x12345, false, true),
            ((1 << 52) - 1, true, true),
        ] {
            let m = Entry {
                pfn,
                writable,
                exclusive,
            };
            let entry = m.encode();
            assert_eq!(entry & 1, 1); // an xarray value entry
            assert_eq!(Entry::decode(entry as *mut c_void), Some(m));
        }
        assert_eq!(Entry::decode(core::ptr::null_mut()), None);
    }

    #[test]
    fn hmm_pfn_states() {
        assert_eq!(page_state(0), PageState::NotPresent);
        assert_eq!(page_state(HMM_PFN_ERROR), PageState::Error);
        assert_eq!(page_state(HMM_PFN_ERROR | HMM_PFN_VALID), PageState::Error);
    }

    #[test]
    fn events_map_one_to_one() {
        use bindings::*;
        assert_eq!(
            Event::from_raw(mmu_notifier_event_MMU_NOTIFY_UNMAP),
            Event::Unmap
        );
        assert_eq!(
            Event::from_raw(mmu_notifier_event_MMU_NOTIFY_CLEAR),
            Event::Clear
        );
        assert_eq!(
            Event::from_raw(mmu_notifier_event_MMU_NOTIFY_PROTECTION_VMA),
            Event::ProtectionVma
        );
        assert_eq!(
            Event::from_raw(mmu_notifier_event_MMU_NOTIFY_PROTECTION_PAGE),
            Event::ProtectionPage
        );
        assert_eq!(
            Event::from_raw(mmu_notifier_event_MMU_NOTIFY_RELEASE),
            Event::Release
        );
        assert_eq!(
            Event::from_raw(mmu_notifier_event_MMU_NOTIFY_MIGRATE),
            Event::Migrate
        );
        assert_eq!(
            Event::from_raw(mmu_notifier_event_MMU_NOTIFY_EXCLUSIVE),
            Event::Exclusive
        );
    }

    #[test]
    fn ranges_outside_the_mirror_are_einval() -> Result {
        let len = 4 * PAGE_SIZE;
        let addr = crate::testing::user_buffer(len)?;
        let task = current!();
        let mm = task.mm().ok_or(EINVAL)?;
        let mirror = KBox::pin_init(Mirror::new(mm, addr, len, Nothing), GFP_KERNEL)?;
        assert_eq!(mirror.fault(addr, 0, Access::Read), Err(EINVAL));
        assert_eq!(mirror.fault(addr - 1, 2, Access::Read), Err(EINVAL));
        assert_eq!(mirror.fault(addr + len - 1, 2, Access::Read), Err(EINVAL));
        assert_eq!(mirror.fault(usize::MAX, 2, Access::Read), Err(EINVAL));
        let mut states = [PageState::Error; 4];
        assert_eq!(mirror.snapshot(addr + 1, &mut states), Err(EINVAL));
        mirror.snapshot(addr, &mut states)?;
        assert_eq!(states, [PageState::NotPresent; 4]);
        // One byte faults its page, and only it.
        mirror.fault(addr + PAGE_SIZE + 5, 1, Access::Write)?;
        mirror.snapshot(addr, &mut states)?;
        assert_eq!(states[0], PageState::NotPresent);
        assert!(matches!(states[1], PageState::Mapped { write: true, .. }));
        assert_eq!(mirror.stats().mirrored_pages, 1);
        assert!(mirror.lock().page(addr + PAGE_SIZE).is_some());
        assert!(mirror.lock().page(addr).is_none());
        Ok(())
    }

    #[test]
    fn new_rejects_bad_ranges() -> Result {
        // Gives the test thread an mm.
        crate::testing::user_buffer(PAGE_SIZE)?;
        let task = current!();
        let mm = task.mm().ok_or(EINVAL)?;
        for (start, len) in [
            (0x10000, 0),
            (0x10001, PAGE_SIZE),
            (0x10000, PAGE_SIZE + 1),
            (usize::MAX & !(PAGE_SIZE - 1), PAGE_SIZE),
            (crate::pin::user_end() & !(PAGE_SIZE - 1), PAGE_SIZE),
        ] {
            let r = KBox::pin_init(Mirror::new(mm, start, len, Nothing), GFP_KERNEL);
            assert!(matches!(r, Err(e) if e == EINVAL));
        }
        Ok(())
    }

    #[test]
    fn windows_are_stored_as_entries_encode() -> Result {
        let table = KBox::pin_init(Table::new(), GFP_KERNEL)?;
        let at = |i: usize| 60 * PAGE_SIZE + i * PAGE_SIZE; // across the xarray's 64-slot nodes
        let read = |pfn: usize| {
            Some(Entry {
                pfn,
                writable: false,
                exclusive: false,
            })
        };
        // A read window: every page becomes a read-only entry, whatever the CPU's mapping.
        let mut pfns = KVec::with_capacity(1000, GFP_KERNEL)?;
        for i in 0..1000u64 {
            let write = if i % 3 == 0 { HMM_PFN_WRITE } else { 0 };
            pfns.push(HMM_PFN_VALID | write | (0x1000 + 7 * i), GFP_KERNEL)?;
        }
        // SAFETY: A read window marks nothing dirty: these pfns are never used as pages. The
        // table is the test's own.
        let (added, stored) = unsafe { table.store_window(at(0), &pfns, false) };
        assert_eq!((added, stored), (1000, Ok(())));
        for i in 0..1000 {
            assert_eq!(table.lookup(at(i)), read(0x1000 + 7 * i));
        }
        assert_eq!(table.lookup(at(0) - PAGE_SIZE), None);
        assert_eq!(table.lookup(at(1000)), None);
        assert_eq!(table.writable.get(), 0);

        // A write window over the last two entries and one more: writable where the CPU's
        // mapping is; one entry new.
        let page = kernel::page::Page::alloc_page(GFP_KERNEL)?;
        // SAFETY: `page` is a valid page.
        let pfn = unsafe { helpers::rgup_helper_page_to_pfn(page.as_ptr()) } as usize;
        let window = [pfn, pfn, pfn].map(|p| HMM_PFN_VALID | p as u64);
        let window = [
            window[0] | HMM_PFN_WRITE,
            window[1],
            window[2] | HMM_PFN_WRITE,
        ];
        // SAFETY: The pages are `page`, valid until the end of the test (a page without a
        // mapping: marking it dirty sets the flag, which freeing it clears).
        let (added, stored) = unsafe { table.store_window(at(998), &window, true) };
        assert_eq!((added, stored), (1, Ok(())));
        let writable = |writable| {
            Some(Entry {
                pfn,
                writable,
                exclusive: false,
            })
        };
        assert_eq!(table.lookup(at(998)), writable(true));
        assert_eq!(table.lookup(at(999)), writable(false));
        assert_eq!(table.lookup(at(1000)), writable(true));
        assert_eq!(table.writable.get(), 2);
        // Read again: no longer writable.
        // SAFETY: As above.
        let (added, stored) = unsafe { table.store_window(at(998), &window[..1], false) };
        assert_eq!((added, stored, table.writable.get()), (0, Ok(()), 1));
        assert_eq!(table.lookup(at(998)), writable(false));

        // An entry the walk did not make valid: EFAULT, and nothing stored.
        let window = [HMM_PFN_VALID | 5, 0, HMM_PFN_VALID | HMM_PFN_ERROR | 6];
        for bad in [&window[..2], &window[1..2], &window[2..]] {
            // SAFETY: As for the read window.
            let (added, stored) = unsafe { table.store_window(at(2000), bad, false) };
            assert_eq!((added, stored), (0, Err(EFAULT)));
            assert_eq!(table.lookup(at(2000)), None);
        }
        // Nor marked dirty: the writable page before the bad entry stays clean.
        let clean = kernel::page::Page::alloc_page(GFP_KERNEL)?;
        // SAFETY: `clean` is a valid page.
        let pfn = unsafe { helpers::rgup_helper_page_to_pfn(clean.as_ptr()) } as u64;
        let window = [HMM_PFN_VALID | HMM_PFN_WRITE | pfn, 0];
        // SAFETY: The valid entry is `clean`, valid until the end of the test (a page without a
        // mapping, as above).
        let (added, stored) = unsafe { table.store_window(at(2000), &window, true) };
        assert_eq!((added, stored), (0, Err(EFAULT)));
        // SAFETY: `clean` is a valid page.
        assert!(!unsafe { helpers::rgup_helper_page_dirty(clean.as_ptr()) });
        assert_eq!(table.erase(at(0) - PAGE_SIZE, at(2001)), 1001);
        assert_eq!(table.writable.get(), 0);
        Ok(())
    }

    /// `xa_mk_internal()` of include/linux/xarray.h.
    fn xa_mk_internal(v: isize) -> *mut c_void {
        ((v << 2) | 2) as usize as *mut c_void
    }

    #[test]
    fn xarray_errors_are_the_kernels() {
        // Every errno the kernel can encode, up to `MAX_ERRNO`.
        for errno in [1, 12, 1023, 1024, 4095] {
            let entry = xa_mk_internal(-(errno as isize));
            assert_eq!(xa_result(entry), Err(Error::from_errno(-errno)));
        }
        // NULL, a value entry, the retry and zero entries, a node: not errors.
        for entry in [
            0,
            0x1235,
            256 << 2 | 2,
            257 << 2 | 2,
            0xffff_8880_0000_1002usize,
        ] {
            assert_eq!(xa_result(entry as *mut c_void), Ok(()));
        }
    }

    /// Answers `retry_later` whenever it may.
    struct Busy;

    impl MirrorOps for Busy {
        fn invalidate(self: Pin<&mut Self>, inv: &Invalidation<'_>) -> Invalidated {
            inv.retry_later().unwrap_or_else(|| inv.done())
        }
    }

    #[test]
    fn retry_later_keeps_the_translations() -> Result {
        let len = 2 * PAGE_SIZE;
        let addr = crate::testing::user_buffer(len)?;
        let task = current!();
        let mm = task.mm().ok_or(EINVAL)?;
        let mirror = KBox::pin_init(Mirror::new(mm, addr, len, Busy), GFP_KERNEL)?;
        mirror.fault(addr, len, Access::Write)?;
        assert_eq!(mirror.stats().mirrored_pages, 2);
        {
            // A non-blockable invalidation (the OOM reaper's), as the notifier delivers it.
            let mut guard = mirror.inner.lock();
            assert!(!mirror.invalidate_locked(
                guard.as_mut(),
                addr,
                addr + len,
                Event::Clear,
                false
            ));
        }
        // The device still uses the pages: so does the table, and its dirty tracking.
        assert_eq!(mirror.stats().mirrored_pages, 2);
        assert!(mirror
            .lock()
            .translation(addr)
            .is_some_and(|t| t.writable()));
        Ok(())
    }

    /// Gives its `mm_users` reference up in its first `install`, so that the fault's own is the
    /// last; records which task then saw `Event::Release`.
    struct LastUser {
        mm: Option<ARef<MmWithUser>>,
        released_by: Option<usize>,
    }

    impl MirrorOps for LastUser {
        fn install(mut self: Pin<&mut Self>, _window: &InstallWindow<'_>) {
            self.mm = None;
        }

        fn invalidate(mut self: Pin<&mut Self>, inv: &Invalidation<'_>) -> Invalidated {
            if inv.event() == Event::Release {
                self.released_by = Some(kernel::task::Task::current_raw() as usize);
            }
            inv.done()
        }
    }

    #[test]
    fn last_mm_reference_is_put_asynchronously() -> Result {
        let addr = crate::testing::user_buffer(PAGE_SIZE)?;
        // The only `mm_users` reference of the test's mm is now ours.
        let mm = crate::testing::detach_mm()?;
        let ops = LastUser {
            mm: Some(mm.clone()),
            released_by: None,
        };
        let mirror = KBox::pin_init(Mirror::new(&mm, addr, PAGE_SIZE, ops), GFP_KERNEL)?;
        drop(mm);
        mirror.fault(addr, PAGE_SIZE, Access::Read)?;
        // The fault put the last reference: `exit_mmap()` must not have run in its caller.
        let me = kernel::task::Task::current_raw() as usize;
        let mut released_by = None;
        for _ in 0..500 {
            released_by = mirror.lock().released_by;
            if released_by.is_some() {
                break;
            }
            kernel::time::delay::fsleep(Delta::from_millis(10));
        }
        assert!(released_by.is_some());
        assert!(released_by != Some(me));
        Ok(())
    }

    /// A driver with nothing to program.
    struct Nothing;

    impl MirrorOps for Nothing {
        fn invalidate(self: Pin<&mut Self>, inv: &Invalidation<'_>) -> Invalidated {
            inv.done()
        }
    }
}

// SPDX-License-Identifier: GPL-2.0

//! P2P DMA-only scatterlists: what a device needs to DMA into peer memory, and nothing the CPU
//! could misuse.
//!
//! PCI peer-to-peer memory (an NVMe controller memory buffer, a GPU BAR published with
//! `pci_p2pdma_add_resource()`) is MMIO: the CPU must never `memcpy` it, cache-maintain it or
//! bounce it (`Documentation/driver-api/pci/p2pdma.rst`). A [`DmaOnlySgt`] therefore has no CPU
//! side at all: it is a list of [`Segment`]s, each a DMA address, a length and a
//! [`SegmentKind`](crate::dma::SegmentKind) (a PCI bus address routed through a switch, or an
//! address mapped through the host), valid for one bound client device, in one direction, until
//! it is dropped. No method returns a `struct page`, a kernel virtual address or a byte slice:
//!
//! ```compile_fail,E0599
//! fn cpu_view<'a>(sgt: &'a rgup::p2p::DmaOnlySgt<'_>) -> &'a [u8] {
//!     sgt.as_slice() // there is no CPU view of peer memory
//! }
//! ```
//!
//! ```compile_fail,E0599
//! fn pages(sgt: &rgup::p2p::DmaOnlySgt<'_>) {
//!     for page in sgt.pages() {} // nor pages to kmap
//! }
//! ```
//!
//! ```compile_fail,E0599
//! fn vaddr(seg: &rgup::dma::Segment) -> *mut u8 {
//!     seg.kernel_address() // a segment is a DMA address, never a CPU one
//! }
//! ```
//!
//! A list is built from a user range backed by P2P memory (an `mmap()` of a provider's
//! `p2pmem/allocate`), pinned with `FOLL_PCI_P2PDMA`: a short-term pin, because the kernel refuses
//! `FOLL_LONGTERM | FOLL_PCI_P2PDMA` (`is_valid_gup_args()`: the provider must stay hot-unpluggable,
//! so nothing may hold its pages indefinitely); the list is meant for the duration of a DMA.
//! Whether the client can reach each provider in the range is the DMA layer's decision, taken
//! per page as `dma_map_sgtable()` maps (`pci_p2pdma_state()`, cached per provider and client):
//! an unreachable one fails the whole mapping with `EREMOTEIO`, nothing stays mapped, and rgup
//! reports [`P2pError::Unreachable`]. Ranges mixing system RAM and peer memory are mapped, each
//! segment with its own kind (`dma_map_sgtable()` decides per entry).
//!
//! Segments are merged where the DMA addresses are contiguous and of the same kind, and split so
//! that none exceeds the client's maximum segment size or crosses its segment boundary
//! ([`crate::dma::push_segment`], the rule of every mapping of rgup).
//!
//! C headers: [`include/linux/pci-p2pdma.h`](srctree/include/linux/pci-p2pdma.h),
//! [`include/linux/scatterlist.h`](srctree/include/linux/scatterlist.h)

use crate::{
    dma::{
        raw_device,
        DmaMapping,
        Segment, //
    },
    helpers,
    page_array::PageArray,
    pin::{
        cond_resched,
        might_sleep,
        unpin_batches,
        BATCH_PAGES, //
    },
    stats, //
};
use core::{
    marker::PhantomData,
    mem::ManuallyDrop, //
};
use kernel::{
    bindings,
    device::{
        Bound,
        Device, //
    },
    dma::DataDirection,
    ffi::c_ulong,
    page::{
        PAGE_SHIFT,
        PAGE_SIZE, //
    },
    prelude::*,
};

/// The largest range one list may cover (1 GiB).
pub const MAX_P2P_BYTES: usize = 1 << 30;

/// Why a [`DmaOnlySgt`] could not be built; `From<P2pError> for Error` gives the errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum P2pError {
    /// Zero length, an overflowing or non-user range, or more than [`MAX_P2P_BYTES`]: `EINVAL`.
    InvalidRange,
    /// A provider of the range cannot reach the client (different root ports with a host bridge
    /// not known to route P2P, ACS redirection, a non-PCI client): `EREMOTEIO`. Nothing was
    /// mapped.
    Unreachable,
    /// The pin was short: part of the range is not mapped, or not pinnable: `EFAULT`.
    Incomplete,
    /// No published P2P memory is reachable from the client ([`DmaOnlySgt::from_p2pmem`]):
    /// `ENODEV`.
    NoProvider,
    /// The kernel refused (pinning, allocation or mapping) with this errno.
    Kernel(Error),
}

/// The errno of each error, as in `Documentation/rgup/p2p.rst`'s table.
impl From<P2pError> for Error {
    fn from(e: P2pError) -> Self {
        match e {
            P2pError::InvalidRange => EINVAL,
            P2pError::Unreachable => EREMOTEIO,
            P2pError::Incomplete => EFAULT,
            P2pError::NoProvider => ENODEV,
            P2pError::Kernel(e) => e,
        }
    }
}

impl From<Error> for P2pError {
    fn from(e: Error) -> Self {
        P2pError::Kernel(e)
    }
}

impl From<kernel::alloc::AllocError> for P2pError {
    fn from(_: kernel::alloc::AllocError) -> Self {
        P2pError::Kernel(ENOMEM)
    }
}

/// How the pages of a list are held, and given back when it goes.
enum Memory {
    /// A user range, pinned short-term (`FOLL_PIN`), unpinned as said.
    User(UnpinAs),
    /// A provider's P2P memory, allocated for the list. (Boxed, the rare case: a `Memory` is
    /// then two words, and the pages of a list being made, four: moved by four moves, where
    /// more are a `rep movsq`, a translated block per word under TCG.)
    P2pmem(KBox<P2pAlloc>),
}

/// How the pages of a user range are unpinned. Peer memory is never dirtied (it is not page
/// cache); system RAM the device may have written is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum UnpinAs {
    /// Every page clean: the device did not write, or they are all peer memory.
    Clean,
    /// Every page dirty: the device may have written, and they are all system RAM.
    Dirty,
    /// Page by page: the device may have written, and some are peer memory.
    ByPage,
}

impl UnpinAs {
    /// For `pages` pages pinned for a list, `p2p` of them peer memory, which the device writes
    /// if `device_writes`. (Decided once, when the list is made: the unpin then tests one thing.)
    #[inline(always)]
    fn of(device_writes: bool, p2p: usize, pages: usize) -> Self {
        if !device_writes || p2p == pages {
            UnpinAs::Clean
        } else if p2p == 0 {
            UnpinAs::Dirty
        } else {
            UnpinAs::ByPage
        }
    }
}

/// Memory taken from a provider's P2P pool (`pci_alloc_p2pmem()`); returned on drop.
///
/// # Invariants
///
/// `vaddr` is an allocation of `size` bytes from `provider`'s pool; `provider` is referenced.
struct P2pAlloc {
    provider: *mut bindings::pci_dev,
    vaddr: *mut kernel::ffi::c_void,
    size: usize,
}

impl Drop for P2pAlloc {
    fn drop(&mut self) {
        // SAFETY: Allocated from `provider`, which is referenced (type invariant).
        unsafe {
            bindings::pci_free_p2pmem(self.provider, self.vaddr, self.size);
            helpers::rgup_helper_pci_dev_put(self.provider);
        }
    }
}

/// The page array of a list: its pages, then, in the same allocation, room for the list's
/// [`ListState`] (the C drivers keep their `struct sg_table` beside their page array in one
/// structure too).
type ListPageArray = PageArray<LIST_STATE_WORDS>;

/// The words of a [`ListState`], after the pages.
const LIST_STATE_WORDS: usize = size_of::<ListState<'static>>().div_ceil(size_of::<usize>());

// The pages of a list being made move by four moves (see `Memory::P2pmem`).
const _: () = assert!(size_of::<ListPages>() <= 4 * size_of::<usize>());

// The state is written at a word boundary after the pages.
const _: () = assert!(align_of::<ListState<'static>>() <= align_of::<usize>());

/// The pages of a list being made and the memory they are in: given back (unpinned, or returned
/// to the provider) and the array freed on drop, if the list is not made.
///
/// # Invariants
///
/// Every entry of `pages` is a page of `memory`: with [`Memory::User`], pinned once by this
/// object and not yet unpinned.
struct ListPages {
    // Both released by `release_pages()`: the pages given back, then the array freed.
    pages: ManuallyDrop<ListPageArray>,
    memory: ManuallyDrop<Memory>,
}

impl Drop for ListPages {
    fn drop(&mut self) {
        // SAFETY: The pages are of `memory` (type invariants); released once, by the drop.
        unsafe { release_pages(&mut self.pages, &mut self.memory) };
    }
}

/// Gives back the pages of `pages` (unpins them, or returns the P2P memory), then frees the
/// array.
///
/// # Safety
///
/// Every entry of `pages` is a page of `memory` (with [`Memory::User`], pinned once by the
/// caller); called once, after which neither is used nor dropped.
#[inline(always)]
unsafe fn release_pages(
    pages: &mut ManuallyDrop<ListPageArray>,
    memory: &mut ManuallyDrop<Memory>,
) {
    // `unpin_user_pages_dirty_lock()` takes folio locks.
    might_sleep();
    match &mut **memory {
        Memory::User(UnpinAs::ByPage) => {
            for (n, &page) in pages.as_slice().iter().enumerate() {
                if n > 0 && n % BATCH_PAGES == 0 {
                    cond_resched();
                }
                let mut one = page;
                // SAFETY: The page is pinned by the caller (safety requirements); system RAM the
                // device may have written is dirtied, peer memory never (it is not page cache).
                unsafe {
                    let dirty = !helpers::rgup_helper_page_is_device(page);
                    bindings::unpin_user_pages_dirty_lock(&mut one, 1, dirty)
                };
            }
        }
        // The same for every page, in batches.
        // SAFETY: The pages are pinned by the caller, once (safety requirements), all system RAM
        // when dirtied (`UnpinAs`); not used after.
        Memory::User(unpin) => unsafe {
            unpin_batches(pages.as_mut_slice(), *unpin == UnpinAs::Dirty)
        },
        // SAFETY: Dropped once (safety requirements): returned to the provider, and the box
        // freed.
        Memory::P2pmem(alloc) => unsafe { core::ptr::drop_in_place(alloc) },
    }
    // SAFETY: Once (safety requirements), and the pages are given back.
    unsafe { ManuallyDrop::drop(pages) };
}

/// What a [`DmaOnlySgt`] owns besides its page array, kept after the pages in the array's
/// allocation: the list is then two words, and every move of it (out of the `Result` it is made
/// in, into a driver's structure) two moves, where twelve words were a `rep movsq`, a
/// translated block per word under TCG (`Documentation/rgup/performance.rst`, ninth round).
struct ListState<'a> {
    // Released by the list's drop, before the pages are given back.
    mapping: ManuallyDrop<DmaMapping<'a>>,
    // Given back by the list's drop (`release_pages()`).
    memory: ManuallyDrop<Memory>,
    len: usize,
}

/// A DMA-only scatterlist: the segments one bound device uses to reach (peer) memory.
///
/// Owns its mapping and the memory under it (pins of a user range, or a P2P allocation):
/// dropping it unmaps, then unpins or frees. It borrows the client device, so the driver cannot
/// unbind while a list is alive.
///
/// # Invariants
///
/// `pages`' allocation holds a `ListState` in its words after the pages, initialised, in which
/// `mapping` maps exactly the pages of `pages` (from an offset in the first, `len` bytes) for the
/// client, in its direction (its segments merged and split by [`crate::dma::push_segment`] with
/// the client's limits), and every page of `pages` is of `memory` (with `Memory::User`, pinned
/// once by this object). The mapping is released before the pages are given back.
pub struct DmaOnlySgt<'a> {
    pages: ManuallyDrop<ListPageArray>,
    _state: PhantomData<ListState<'a>>,
}

// SAFETY: The mapping may be unmapped, pins released and P2P memory returned from any thread.
unsafe impl Send for DmaOnlySgt<'_> {}
// SAFETY: Shared references only read the DMA list and the length.
unsafe impl Sync for DmaOnlySgt<'_> {}

// Two words: every move of a list is two moves.
const _: () = assert!(size_of::<DmaOnlySgt<'static>>() <= 2 * size_of::<usize>());

impl<'a> DmaOnlySgt<'a> {
    /// Maps the current process's `[addr, addr + len)` for `dev`, which DMAs in direction `dir`.
    ///
    /// The range may be backed by PCI peer memory (an `mmap()` of `p2pmem/allocate`), system
    /// RAM, or both. The pages are pinned short-term with `FOLL_PCI_P2PDMA` (and `FOLL_WRITE`
    /// when the device may write), the providers' reachability is checked, then the pages
    /// are mapped with `dma_map_sgtable()`. [`DataDirection::None`] and a device without a DMA
    /// mask are `EINVAL`.
    ///
    /// Sleeps, and may take the mmap read lock of the current mm: calling it with that lock
    /// held deadlocks.
    pub fn from_user(
        dev: &'a Device<Bound>,
        addr: usize,
        len: usize,
        dir: DataDirection,
    ) -> Result<Self, P2pError> {
        let end = addr.checked_add(len).ok_or(P2pError::InvalidRange)?;
        if len == 0 || len > MAX_P2P_BYTES || end > crate::pin::user_end() {
            return Err(P2pError::InvalidRange);
        }
        let first = addr & !(PAGE_SIZE - 1);
        // `first <= addr < end`: the subtractions here and for the offset below do not wrap.
        // (Wrapping operations, where the plain ones would check it in every list with
        // `CONFIG_RUST_OVERFLOW_CHECKS`.)
        let npages = end.wrapping_sub(first).div_ceil(PAGE_SIZE);
        let pages = ListPageArray::new(npages)?;
        // Whether the device may write the pages (with `DataDirection::None` it does nothing:
        // the mapping refuses it).
        let device_writes = matches!(
            dir,
            DataDirection::FromDevice | DataDirection::Bidirectional
        );
        let mut flags = bindings::FOLL_PCI_P2PDMA;
        if device_writes {
            flags |= bindings::FOLL_WRITE;
        }
        // INVARIANT: Empty; then it holds what was pinned, unpinned on drop if anything fails
        // (clean: the device has not seen the pages yet).
        let mut pin = ListPages {
            pages: ManuallyDrop::new(pages),
            memory: ManuallyDrop::new(Memory::User(UnpinAs::Clean)),
        };
        // `npages > 0`: a test at the end of each batch, none before the first.
        loop {
            let done = pin.pages.len();
            let want = (npages - done).min(BATCH_PAGES);
            // SAFETY: `pin.pages` has room for `npages - done >= want` more pointers. (Its slow
            // path takes the mmap lock: a caller holding it deadlocks, as documented, which is
            // no memory-safety matter.)
            let got = unsafe {
                bindings::pin_user_pages_fast(
                    // Below `end`: it does not wrap.
                    first.wrapping_add(done << PAGE_SHIFT) as c_ulong,
                    want as i32,
                    flags,
                    pin.pages.spare_ptr(),
                )
            };
            if got < 0 {
                return Err(P2pError::Kernel(Error::from_errno(got)));
            }
            // SAFETY: The kernel initialised and pinned the first `got` entries.
            unsafe { pin.pages.inc_len(got as usize) };
            if (got as usize) < want {
                return Err(P2pError::Incomplete);
            }
            if pin.pages.spare() == 0 {
                break;
            }
            cond_resched();
        }
        // SAFETY: The pages are pinned.
        let p2p_pages = unsafe {
            helpers::rgup_helper_pages_count_p2pdma(
                pin.pages.as_slice().as_ptr().cast_mut(),
                npages as c_ulong,
            )
        };
        let unpin = UnpinAs::of(device_writes, p2p_pages as usize, npages);
        // (What it replaces owns nothing.)
        pin.memory = ManuallyDrop::new(Memory::User(unpin));
        Self::map(dev, pin, addr.wrapping_sub(first), len, dir)
    }

    /// Allocates `len` bytes of P2P memory from the published provider closest to `dev`
    /// (`pci_p2pmem_find()`, `pci_alloc_p2pmem()`) and maps them for `dev`: memory that only
    /// devices ever touch, such as a staging buffer between two peers. The memory is returned
    /// to the provider when the list is dropped.
    ///
    /// [`P2pError::NoProvider`] when no published P2P memory is reachable from `dev`, and also
    /// when `pci_p2pmem_find()` could not allocate its scratch list (it returns `NULL` for
    /// both, found by the fault-injection sweep); `ENOMEM` when the provider's pool is
    /// exhausted; `EINVAL` for [`DataDirection::None`].
    pub fn from_p2pmem(
        dev: &'a Device<Bound>,
        len: usize,
        dir: DataDirection,
    ) -> Result<Self, P2pError> {
        if len == 0 || len > MAX_P2P_BYTES {
            return Err(P2pError::InvalidRange);
        }
        let size = len.next_multiple_of(PAGE_SIZE);
        // SAFETY: `dev` is a bound device; the reference is kept by the allocation below.
        let provider = unsafe { helpers::rgup_helper_p2pmem_find_get(raw_device(dev)) };
        if provider.is_null() {
            return Err(P2pError::NoProvider);
        }
        // SAFETY: `provider` is a referenced P2P provider.
        let vaddr = unsafe { bindings::pci_alloc_p2pmem(provider, size) };
        if vaddr.is_null() {
            // SAFETY: The reference taken above.
            unsafe { helpers::rgup_helper_pci_dev_put(provider) };
            return Err(P2pError::Kernel(ENOMEM));
        }
        // INVARIANT: Allocated above. Returned by its drop if the box or the array cannot be
        // allocated.
        let alloc = P2pAlloc {
            provider,
            vaddr,
            size,
        };
        let alloc = KBox::new(alloc, GFP_KERNEL)?;
        let npages = size / PAGE_SIZE;
        let mut pages = ListPageArray::new(npages)?;
        for i in 0..npages {
            // SAFETY: `vaddr + i * PAGE_SIZE` is inside the allocation, P2P memory with
            // `struct page`s (mapped by `devm_memremap_pages()`); `i < npages`, the array's
            // capacity: there is room for the entry, written and then counted.
            unsafe {
                let page =
                    helpers::rgup_helper_virt_to_page(vaddr.cast::<u8>().add(i * PAGE_SIZE).cast());
                pages.spare_ptr().write(page);
                pages.inc_len(1);
            }
        }
        // INVARIANT: Every entry is a page of the allocation.
        let pages = ListPages {
            pages: ManuallyDrop::new(pages),
            memory: ManuallyDrop::new(Memory::P2pmem(alloc)),
        };
        Self::map(dev, pages, 0, len, dir)
    }

    /// Maps `pages` ([`DmaMapping`] reads the segments). (`inline(always)`: with `#[inline]` LLVM
    /// keeps one copy for [`DmaOnlySgt::from_user`] and [`DmaOnlySgt::from_p2pmem`], at
    /// `-Copt-level=s`.)
    #[inline(always)]
    fn map(
        dev: &'a Device<Bound>,
        pages: ListPages,
        offset: usize,
        len: usize,
        dir: DataDirection,
    ) -> Result<Self, P2pError> {
        // SAFETY: The slice is the heap buffer of the page array, which is neither freed nor
        // changed until the pages are given back, after the mapping (type invariant); it does
        // not move with `pages`.
        let raw: &'a [*mut bindings::page] =
            unsafe { &*core::ptr::from_ref::<[*mut bindings::page]>(pages.pages.as_slice()) };
        // `dma_map_sgtable()` refuses a peer page the client cannot reach with `EREMOTEIO`.
        // SAFETY: `pages` keeps the pages alive until they are given back, after the mapping.
        let mapping = unsafe { DmaMapping::new(raw, offset, len, dev, dir) }.map_err(|e| {
            if e == EREMOTEIO {
                P2pError::Unreachable
            } else {
                P2pError::Kernel(e)
            }
        })?;
        stats::GLOBAL.p2p_mapped(mapping.segment_count());
        let pages = ManuallyDrop::new(pages);
        // SAFETY: `pages` is not dropped: the array and the memory move out once.
        let (array, memory) = unsafe {
            (
                core::ptr::read(&pages.pages),
                core::ptr::read(&pages.memory),
            )
        };
        let state = ListState {
            mapping: ManuallyDrop::new(mapping),
            memory,
            len,
        };
        // SAFETY: The array's tail has room for `LIST_STATE_WORDS` words, at a word boundary
        // (asserted at `LIST_STATE_WORDS`), uninitialised and unused until now.
        unsafe { array.tail().cast::<ListState<'a>>().write(state) };
        // INVARIANT: The state is written; the mapping maps the array's pages, of `memory`.
        Ok(Self {
            pages: array,
            _state: PhantomData,
        })
    }

    /// The list's state, after the pages.
    #[inline(always)]
    fn state(&self) -> &ListState<'a> {
        // SAFETY: Initialised, and neither changed nor freed while the list is borrowed (type
        // invariants).
        unsafe { self.pages.tail().cast::<ListState<'a>>().as_ref() }
    }

    /// The segments, in the order of the range.
    #[inline]
    pub fn segments(&self) -> &[Segment] {
        self.state().mapping.segments()
    }

    /// The direction the list was mapped for.
    pub fn direction(&self) -> DataDirection {
        self.state().mapping.direction()
    }

    /// The number of bytes the list covers.
    pub fn len(&self) -> usize {
        self.state().len
    }

    /// Never true: a list covers at least one byte.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for DmaOnlySgt<'_> {
    fn drop(&mut self) {
        let state = self.pages.tail().cast::<ListState<'_>>().as_ptr();
        // SAFETY: The state is initialised (type invariants), and in the array's allocation,
        // which is freed last, by `release_pages()`: the memory is moved out of it first, and
        // the references made here end before. Released once, here, the mapping first (type
        // invariants), then the pages under it; none of it is used or dropped after.
        unsafe {
            stats::GLOBAL.p2p_unmapped((*state).mapping.segment_count());
            (*state).mapping.release();
            let mut memory = core::ptr::read(&(*state).memory);
            release_pages(&mut self.pages, &mut memory);
        }
    }
}

#[kunit_tests(rgup_p2p)]
mod tests {
    use super::*;
    use crate::dma::{
        push_segment,
        SegmentKind::{
            self,
            BusAddr,
            HostMapped, //
        },
        SegmentLimits,
    };

    const NO_LIMITS: SegmentLimits = SegmentLimits {
        max_size: usize::MAX,
        boundary_mask: u64::MAX,
    };

    fn push_all(segs: &[(u64, usize, SegmentKind)], limits: SegmentLimits) -> KVec<Segment> {
        let mut out = KVec::new();
        for &(a, l, k) in segs {
            push_segment(&mut out, Segment::new(a, l, k), limits).unwrap();
        }
        out
    }

    #[test]
    fn contiguous_same_kind_merges() {
        let out = push_all(
            &[
                (0x1000, 0x1000, BusAddr),
                (0x2000, 0x1000, BusAddr),
                (0x3000, 0x800, BusAddr),
            ],
            NO_LIMITS,
        );
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].dma_address(), out[0].dma_len()), (0x1000, 0x2800));
    }

    #[test]
    fn gaps_and_kinds_do_not_merge() {
        let out = push_all(
            &[
                (0x1000, 0x1000, BusAddr),
                (0x3000, 0x1000, BusAddr),
                (0x4000, 0x1000, HostMapped),
            ],
            NO_LIMITS,
        );
        assert_eq!(out.len(), 3);
        assert_eq!(out[2].kind(), HostMapped);
    }

    #[test]
    fn max_size_splits() {
        let limits = SegmentLimits {
            max_size: 0x1000,
            boundary_mask: u64::MAX,
        };
        let out = push_all(&[(0x10000, 0x2800, HostMapped)], limits);
        assert_eq!(out.len(), 3);
        assert_eq!((out[2].dma_address(), out[2].dma_len()), (0x12000, 0x800));
        assert!(out.iter().all(|s| s.dma_len() <= 0x1000));
    }

    #[test]
    fn boundary_splits() {
        let limits = SegmentLimits {
            max_size: usize::MAX,
            boundary_mask: 0xffff,
        };
        let out = push_all(&[(0xf800, 0x1000, BusAddr)], limits);
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].dma_address(), out[0].dma_len()), (0xf800, 0x800));
        assert_eq!((out[1].dma_address(), out[1].dma_len()), (0x10000, 0x800));
    }

    #[test]
    fn top_of_address_space() {
        let out = push_all(&[(u64::MAX - 0xfff, 0x1000, BusAddr)], NO_LIMITS);
        assert_eq!(out.len(), 1);
        let limits = SegmentLimits {
            max_size: usize::MAX,
            boundary_mask: 0xfff,
        };
        let out = push_all(&[(u64::MAX - 0x1fff, 0x2000, BusAddr)], limits);
        assert_eq!(out.len(), 2);
        // Empty segments add nothing.
        assert!(push_all(&[(0x1000, 0, BusAddr)], NO_LIMITS).is_empty());
    }

    /// What a driver may push: lengths whose union does not fit, a limit of 0 bytes. Each was a
    /// kernel panic (an overflow check) or an endless loop before.
    #[test]
    fn adversarial_segments_neither_panic_nor_hang() {
        let half = 1usize << (usize::BITS - 1);
        let out = push_all(
            &[(0, half, BusAddr), (half as u64, half, BusAddr)],
            NO_LIMITS,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(
            out.iter().map(|s| s.dma_len() as u128).sum::<u128>(),
            1u128 << usize::BITS
        );
        let zero = SegmentLimits {
            max_size: 0,
            boundary_mask: u64::MAX,
        };
        // Taken as 1: a byte per segment.
        let out = push_all(&[(0x1000, 3, HostMapped)], zero);
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|s| s.dma_len() == 1));
    }

    #[test]
    fn errors_map_to_errnos() {
        assert_eq!(Error::from(P2pError::Unreachable), EREMOTEIO);
        assert_eq!(Error::from(P2pError::InvalidRange), EINVAL);
        assert_eq!(Error::from(P2pError::Incomplete), EFAULT);
        assert_eq!(Error::from(P2pError::NoProvider), ENODEV);
        assert_eq!(Error::from(P2pError::Kernel(ENOMEM)), ENOMEM);
    }

    #[test]
    fn system_ram_maps_host_mapped() -> Result {
        let dev = crate::testing::DmaDevice::new()?;
        let len = 3 * PAGE_SIZE;
        let addr = crate::testing::user_buffer(len)?;
        assert!(matches!(
            DmaOnlySgt::from_user(dev.dev(), addr, 0, DataDirection::ToDevice),
            Err(P2pError::InvalidRange)
        ));
        let sgt = DmaOnlySgt::from_user(dev.dev(), addr + 10, len - 20, DataDirection::FromDevice)?;
        assert_eq!(sgt.len(), len - 20);
        assert!(!sgt.segments().is_empty());
        assert!(sgt.segments().iter().all(|s| s.kind() == HostMapped));
        assert_eq!(
            sgt.segments().iter().map(|s| s.dma_len()).sum::<usize>(),
            len - 20
        );
        let p2p = stats::GLOBAL.p2p_segments();
        drop(sgt);
        assert!(stats::GLOBAL.p2p_segments() < p2p);
        // A faux device is no PCI client: no P2P memory can be reachable from it.
        assert!(matches!(
            DmaOnlySgt::from_p2pmem(dev.dev(), PAGE_SIZE, DataDirection::ToDevice),
            Err(P2pError::NoProvider)
        ));
        Ok(())
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Mapping pinned user pages for a device's DMA.
//!
//! [`PinnedPages::dma_map`](crate::pin::PinnedPages::dma_map) builds a scatter-gather table over
//! the pinned pages (`sg_alloc_table_from_pages_segment()`, with the device's maximum segment
//! size) and maps it (`dma_map_sgtable()`). The [`DmaMapping`] owns both: dropping it unmaps and
//! frees the table. It borrows the pinned pages and the bound device, so the pages cannot be
//! unpinned, nor the driver unbound, while the device may still use the addresses.
//!
//! C header: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h)

use core::{
    marker::PhantomData,
    mem::{
        ManuallyDrop,
        MaybeUninit, //
    },
};
use kernel::{
    alloc::{
        Allocator,
        Vec, //
    },
    bindings,
    device::{
        Bound,
        Device, //
    },
    dma::{
        DataDirection,
        DmaAddress, //
    },
    ffi::c_ulong,
    prelude::*, //
};

/// Whether `dev` has a DMA mask: the DMA API `WARN`s and maps nothing for a device without one
/// (one whose bus or driver never set it up for DMA, such as a faux device).
pub(crate) fn has_dma_mask(dev: &Device<Bound>) -> bool {
    // SAFETY: `dev` is a valid device; its `dma_mask` pointer is set up before it is bound.
    !unsafe { (*raw_device(dev)).dma_mask }.is_null()
}

/// The raw `struct device` of `dev`.
pub(crate) fn raw_device<Ctx: kernel::device::DeviceContext>(
    dev: &Device<Ctx>,
) -> *mut bindings::device {
    // CAST: `Device<Ctx>` is `#[repr(transparent)]` over `Opaque<bindings::device>` (and a ZST
    // marker), which is `#[repr(transparent)]` over the C struct: the pointers are the same.
    // `Device::as_raw` is `pub(crate)` to the kernel crate, hence the cast.
    core::ptr::from_ref(dev)
        .cast::<bindings::device>()
        .cast_mut()
}

mod region;

pub use region::{
    is_translated,
    BoundDevice,
    DmaRegion,
    Quiesce,
    Segments, //
};

/// How a device reaches a [`Segment`].
// `repr(u8)`, `HostMapped` 0 and `BusAddr` 1: the `bool bus` of `struct rgup_dma_seg`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum SegmentKind {
    /// A PCI bus address: peer memory behind the same switch as the device, reached without the
    /// host bridge or an IOMMU (`PCI_P2PDMA_MAP_BUS_ADDR`, `sg_dma_is_bus_address()`). Only
    /// [`crate::p2p::DmaOnlySgt`]s hold such segments.
    BusAddr = 1,
    /// An address mapped through the host: system RAM, or peer memory routed through an
    /// allow-listed host bridge (`dma_map_*()` of the CPU physical address, or an IOVA).
    HostMapped = 0,
}

/// One DMA segment: where a device finds a run of bytes, for every mapping of rgup
/// ([`DmaMapping`], [`DmaRegion`], [`crate::p2p::DmaOnlySgt`]).
///
/// Named like the kernel's `scatterlist::SGEntry` (`dma_address()`, `dma_len()`). A segment is a
/// DMA address, never a CPU one: there is no way from it to a page or a kernel address.
// `repr(C)`: laid out as `struct rgup_dma_seg`, which `rgup_helper_sg_dma_read()` writes into a
// list in place ([`read_mapped_list`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Segment {
    addr: DmaAddress,
    len: usize,
    kind: SegmentKind,
}

// The layout `rgup_helper_sg_dma_read()` writes: the same fields at the same places, and a
// `bool` (0 or 1) where the kind is (`SegmentKind` is `repr(u8)`, `HostMapped` 0, `BusAddr` 1).
const _: () = {
    use crate::helpers::rgup_dma_seg as Entry;
    use core::mem::{
        align_of,
        offset_of,
        size_of, //
    };
    assert!(size_of::<Segment>() == size_of::<Entry>());
    assert!(align_of::<Segment>() == align_of::<Entry>());
    assert!(offset_of!(Segment, addr) == offset_of!(Entry, addr));
    assert!(offset_of!(Segment, len) == offset_of!(Entry, len));
    assert!(offset_of!(Segment, kind) == offset_of!(Entry, bus));
    assert!(
        size_of::<DmaAddress>() == 8 && size_of::<kernel::ffi::c_ulong>() == size_of::<usize>()
    );
    assert!(
        SegmentKind::HostMapped as u8 == false as u8 && SegmentKind::BusAddr as u8 == true as u8
    );
};

impl Segment {
    /// A segment of `len` bytes at `addr`: for the segment arithmetic ([`best_page_size`],
    /// [`push_segment`]) and tests; the lists of rgup's mappings only hold mapped
    /// ones.
    pub const fn new(addr: DmaAddress, len: usize, kind: SegmentKind) -> Self {
        Self { addr, len, kind }
    }

    /// The address to program the device with.
    pub fn dma_address(&self) -> DmaAddress {
        self.addr
    }

    /// The length in bytes (never 0 in a mapping's list).
    pub fn dma_len(&self) -> usize {
        self.len
    }

    /// How the device reaches it.
    pub fn kind(&self) -> SegmentKind {
        self.kind
    }
}

/// Reads the DMA list of a mapped table into `list` (empty), merged and split by
/// [`push_segment`] with `limits`.
///
/// The DMA API seldom leaves anything to merge or split: its entries are written into the list
/// in place, by one C call (`sg_dma_address()` and the others are static inlines), and checked
/// in one pass without a branch per entry ([`SegmentLimits::settled`]); only a list that needs it
/// is rebuilt segment by segment. (Read in batches and pushed one by one, the list cost eight
/// translated blocks per entry, most of what a 64-segment P2P map executed beyond the C:
/// `Documentation/rgup/performance.rst`, sixth round.)
///
/// # Safety
///
/// `sgt` must point to a table mapped by `dma_map_sgtable()` that stays mapped during the call.
unsafe fn read_mapped_list(
    sgt: *const bindings::sg_table,
    list: &mut KVVec<Segment>,
    limits: SegmentLimits,
) -> Result {
    // SAFETY: The table is mapped (safety requirement); reading its head is fine.
    let (mut sg, nents) = unsafe { ((*sgt).sgl, (*sgt).nents) };
    list.clear();
    list.reserve(nents as usize, GFP_KERNEL_ACCOUNT)?;
    // SAFETY: `sg` is the first of the `nents` entries of the mapped table; the list has room
    // for `nents` entries after its `0` initialised ones, laid out as the helper writes them
    // (asserted at `Segment`).
    let got = unsafe {
        crate::helpers::rgup_helper_sg_dma_read(&mut sg, nents, list.as_mut_ptr().cast())
    };
    if got != nents {
        // A chain shorter than `nents`: not a table `dma_map_sgtable()` made.
        return Err(EINVAL);
    }
    // SAFETY: The helper wrote `nents` entries in `Segment`'s layout, each a valid `Segment`
    // (the kind a `bool`: 0 or 1).
    unsafe { list.inc_len(nents as usize) };
    if !limits.settled(list) {
        rebuild_list(list, limits)?;
    }
    Ok(())
}

/// Rebuilds `list` by [`push_segment`]: the exception for [`read_mapped_list`], where the DMA
/// API left contiguous entries to merge (an IOMMU within a segment's limits does not) or an entry
/// across a boundary (physically contiguous pages without an IOMMU).
#[cold]
#[inline(never)]
fn rebuild_list(list: &mut KVVec<Segment>, limits: SegmentLimits) -> Result {
    let mut merged = KVVec::with_capacity(list.len(), GFP_KERNEL_ACCOUNT)?;
    for &seg in list.iter() {
        push_segment(&mut merged, seg, limits)?;
    }
    *list = merged;
    Ok(())
}

/// What a device's DMA engine accepts in one segment (`dma_get_max_seg_size()`,
/// `dma_get_seg_boundary()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentLimits {
    /// Most bytes in one segment (0 counts as 1).
    pub max_size: usize,
    /// No segment may cross an address aligned to `boundary_mask + 1`; `u64::MAX` for none.
    pub boundary_mask: u64,
}

impl SegmentLimits {
    /// The most bytes a segment starting at `addr` may hold: `max_size`, and no more than to the
    /// next boundary.
    ///
    /// Without a branch: it runs for every segment of every list.
    #[inline(always)]
    fn room_at(self, addr: u64) -> usize {
        // Bytes to the next boundary, less one (`addr | boundary_mask >= addr`: it does not wrap);
        // at least the whole rest of the address space for no boundary.
        let to_boundary = (addr | self.boundary_mask).wrapping_sub(addr);
        let to_boundary = usize::try_from(to_boundary)
            .unwrap_or(usize::MAX)
            .saturating_add(1);
        // A `max_size` of 0 (the fields are public) counts as 1: every piece has a byte.
        self.max_size.max(1).min(to_boundary)
    }

    /// The most bytes in one entry of a table built for the device by
    /// `sg_alloc_table_from_pages_segment()`: its `max_size`, but never less than a page. The
    /// kernel takes whole pages per entry and `WARN`s (and fails with `EINVAL`) below one; a
    /// device that takes less than a page per segment gets entries of a page, which reading the
    /// DMA list splits to its limits like any other.
    #[inline(always)]
    fn table_entry_max(self) -> u32 {
        u32::try_from(self.max_size)
            .unwrap_or(u32::MAX)
            .max(kernel::page::PAGE_SIZE as u32)
    }

    /// The bytes of `[addr, addr + len)` that fit in the first segment.
    #[inline(always)]
    fn first_piece(self, addr: u64, len: usize) -> usize {
        len.min(self.room_at(addr))
    }

    /// Whether [`push_segment`] would leave `list`, pushed segment by segment into an empty list,
    /// as it is: no segment is empty or past its room ([`SegmentLimits::room_at`]), and none
    /// follows a contiguous one with room left (only that one could be merged with it).
    ///
    /// A segment contiguous with a full one is merged and split back into the same two; one
    /// contiguous across the end of the address space, or of another kind, is not merged, but is
    /// reported unsettled when the one before has room (a rebuild then leaves it as it is).
    /// One pass without a branch per segment: it runs over every list a mapping reads.
    // `&` and `|`, not `&&` and `||`: short-circuits are branches, a translated block each under
    // TCG; the whole test is one block per segment (`objdump -d`).
    #[expect(clippy::needless_bitwise_bool)]
    #[inline(always)]
    fn settled(self, list: &[Segment]) -> bool {
        let mut unsettled = false;
        // The first segment follows none: as if after a full one.
        let mut end = 0u64;
        let mut full = true;
        for seg in list {
            let room = self.room_at(seg.addr);
            let follows_open = (seg.addr == end) & !full;
            unsettled |= (seg.len == 0) | (seg.len > room) | follows_open;
            full = seg.len == room;
            end = seg.addr.wrapping_add(seg.len as u64);
        }
        !unsettled
    }

    /// The limits of `dev`.
    pub fn of(dev: &Device<Bound>) -> Self {
        let mut boundary_mask: c_ulong = 0;
        // SAFETY: `dev` is a valid device; `boundary_mask` is writable.
        let max_size = unsafe {
            crate::helpers::rgup_helper_dma_seg_limits(raw_device(dev), &mut boundary_mask)
        };
        Self {
            max_size: (max_size as usize).max(1),
            boundary_mask: boundary_mask as u64,
        }
    }
}

/// Appends `seg` to `out`, merged with the last segment when contiguous and of the same kind,
/// then split so that every segment respects `limits`.
///
/// The one rule by which every segment list of rgup is built ([`DmaMapping`], [`DmaRegion`],
/// [`crate::p2p::DmaOnlySgt`]); public so that drivers building their own descriptor lists can
/// apply the same rule.
///
/// # Examples
///
/// ```
/// use rgup::dma::{push_segment, Segment, SegmentKind::BusAddr, SegmentLimits};
///
/// let limits = SegmentLimits { max_size: 0x3000, boundary_mask: 0xffff };
/// let mut out = KVec::new();
/// push_segment(&mut out, Segment::new(0xf000, 0x1000, BusAddr), limits)?;
/// push_segment(&mut out, Segment::new(0x10000, 0x1000, BusAddr), limits)?;
/// // Contiguous, but across the 64 KiB boundary: two segments.
/// assert_eq!(out.len(), 2);
/// push_segment(&mut out, Segment::new(0x11000, 0x4000, BusAddr), limits)?;
/// // Merged with the last one (5 pages from 0x10000), then split at 3 pages.
/// assert_eq!(out.len(), 3);
/// assert_eq!((out[1].dma_address(), out[1].dma_len()), (0x10000, 0x3000));
/// assert_eq!((out[2].dma_address(), out[2].dma_len()), (0x13000, 0x2000));
/// ```
///
/// Any list type: a [`KVec`], or a [`KVVec`] for lists that may grow past what `kmalloc()` gives
/// (rgup's own lists are `KVVec`s: a discontiguous pin of 700 MiB mapped without an IOMMU has more
/// than 4 MiB of segments).
pub fn push_segment<A: Allocator>(
    out: &mut Vec<Segment, A>,
    seg: Segment,
    limits: SegmentLimits,
) -> Result {
    let Segment {
        mut addr,
        len,
        kind,
    } = seg;
    let mut left = len;
    if left == 0 {
        return Ok(());
    }
    let count = out.len();
    if count > 0 {
        let last = out[count - 1];
        // Merged if of the same kind, contiguous, and of a length that fits (segments a driver
        // pushes may be of any length).
        let (end, end_wraps) = last.addr.overflowing_add(last.len as u64);
        let (union, union_wraps) = left.overflowing_add(last.len);
        if last.kind == kind && end == addr && !end_wraps && !union_wraps {
            // Take the last one back and re-split the union.
            addr = last.addr;
            left = union;
            out.truncate(count - 1);
        }
    }
    loop {
        let n = limits.first_piece(addr, left);
        push_one(out, Segment::new(addr, n, kind))?;
        // `n <= left`; `addr` wraps only after the last piece.
        left = left.wrapping_sub(n);
        if left == 0 {
            return Ok(());
        }
        addr = addr.wrapping_add(n as u64);
    }
}

/// Appends `seg` to `out`. Lists are reserved to their entry count: growing is the exception,
/// not a call per segment (`KVec::push` calls out to `reserve` every time, and
/// `KVec::push_within_capacity`, a generic of the kernel crate, stayed a call too).
#[inline(always)]
fn push_one<A: Allocator>(out: &mut Vec<Segment, A>, seg: Segment) -> Result {
    let len = out.len();
    if len < out.capacity() {
        // SAFETY: There is room for one more entry after the `len` initialised ones; it is
        // written, then counted.
        unsafe {
            out.as_mut_ptr().add(len).write(seg);
            out.inc_len(1);
        }
        return Ok(());
    }
    out.push(seg, GFP_KERNEL)?;
    Ok(())
}

/// The largest page size of `supported` (a bitmap of sizes, bit `n` for `1 << n` bytes) in which
/// a device can map `segments` at device virtual address `va`, or 0 when none fits: what
/// `ib_umem_find_best_pgsz()` computes for RDMA hardware that uses one page size per memory
/// region. A THP- or hugetlb-backed pin gives 2 MiB or 1 GiB pages when the DMA addresses and `va`
/// agree in their low bits and every discontinuity falls on a page boundary.
///
/// # Examples
///
/// ```
/// use rgup::dma::{best_page_size, Segment, SegmentKind::HostMapped};
///
/// const SZ_4K: u64 = 1 << 12;
/// const SZ_2M: u64 = 1 << 21;
/// let huge = [Segment::new(0x4020_0000, 2 << 20, HostMapped)];
/// assert_eq!(best_page_size(&huge, SZ_4K | SZ_2M, 0x7f00_0020_0000), SZ_2M);
/// // The device maps it at an address that is not 2 MiB aligned: 4 KiB pages.
/// assert_eq!(best_page_size(&huge, SZ_4K | SZ_2M, 0x7f00_0020_1000), SZ_4K);
/// // A device without 4 KiB pages cannot map that.
/// assert_eq!(best_page_size(&huge, SZ_2M, 0x7f00_0020_1000), 0);
/// ```
pub fn best_page_size(segments: &[Segment], supported: u64, va: u64) -> u64 {
    let len = segments.iter().map(|s| s.len as u64).sum::<u64>();
    if len == 0 {
        return 0;
    }
    let Some(last_va) = va.checked_add(len - 1) else {
        return 0;
    };
    // bits_per(va ^ last_va): page sizes from the span up cannot hold the range in one page
    // unless the addresses agree above it.
    let bits = (64 - (va ^ last_va).leading_zeros()).max(1);
    let mut mask = if bits < 64 {
        supported & (!0u64 << bits)
    } else {
        0
    };
    let (mut base, mut run, mut va) = (u64::MAX, 0u64, va);
    for (i, seg) in segments.iter().enumerate() {
        if base.checked_add(run) != Some(seg.addr) {
            // A discontinuity: the DMA address and the device address must agree below the page
            // size, and a page must start here.
            base = seg.addr;
            run = 0;
            mask |= base ^ va;
            if i != 0 {
                mask |= va;
            }
        }
        run += seg.len as u64;
        va = va.wrapping_add(seg.len as u64);
    }
    let mut candidates = supported;
    if mask != 0 {
        let low = mask.trailing_zeros();
        candidates &= if low >= 63 {
            !0
        } else {
            (1u64 << (low + 1)) - 1
        };
    }
    match candidates {
        0 => 0,
        c => 1 << (63 - c.leading_zeros()),
    }
}

/// The segments of a [`DmaMapping`]: a list of one segment, the most common (a few pages, or
/// pages an IOMMU maps contiguously), is kept without an allocation.
enum MappedSegments {
    One([Segment; 1]),
    // `KVVec`: a list may be larger than `kmalloc()` can give (`KMALLOC_MAX_SIZE`, 4 MiB on
    // x86-64: where `kmalloc()` fails, with a warning, `kvmalloc()` falls back to `vmalloc()`).
    Many(KVVec<Segment>),
}

impl MappedSegments {
    /// Reads the DMA list of `sgt`, merged and split by [`push_segment`] with `limits`.
    ///
    /// A list of one entry within the limits, the common case, is kept without an allocation;
    /// any other is read by [`read_mapped_list`].
    ///
    /// # Safety
    ///
    /// As for [`read_mapped_list`].
    #[inline(always)]
    unsafe fn read(sgt: *const bindings::sg_table, limits: SegmentLimits) -> Result<Self> {
        // SAFETY: The table is mapped (safety requirement).
        let (mut sg, nents) = unsafe { ((*sgt).sgl, (*sgt).nents) };
        if nents == 1 {
            let mut entry = MaybeUninit::<Segment>::uninit();
            // SAFETY: `sg` is the first of the table's one mapped entry; `entry` has room for it,
            // in the layout the helper writes (asserted at `Segment`).
            let got = unsafe {
                crate::helpers::rgup_helper_sg_dma_read(&mut sg, 1, entry.as_mut_ptr().cast())
            };
            if got == 1 {
                // SAFETY: The helper wrote a valid `Segment` (the kind a `bool`: 0 or 1).
                let seg = unsafe { entry.assume_init() };
                if seg.len > 0 && limits.first_piece(seg.addr, seg.len) == seg.len {
                    return Ok(Self::One([seg]));
                }
            }
        }
        let mut list = KVVec::new();
        // SAFETY: As above.
        unsafe { read_mapped_list(sgt, &mut list, limits) }?;
        Ok(Self::Many(list))
    }

    #[inline]
    fn as_slice(&self) -> &[Segment] {
        match self {
            Self::One(seg) => seg,
            Self::Many(list) => list,
        }
    }
}

/// Pinned pages mapped for DMA by one device; unmapped on drop.
///
/// # Invariants
///
/// `sgt` was filled by `sg_alloc_table_from_pages_segment()` over pages that stay pinned for
/// `'a`, and is mapped for `dev` in direction `dir` by `dma_map_sgtable()`; `segments` is its DMA
/// list, read once after mapping, merged and split by [`push_segment`] with `dev`'s limits.
pub struct DmaMapping<'a> {
    // Not boxed: nothing keeps the address of a `struct sg_table` (its entries are allocated
    // apart, and the DMA API keeps no pointer to the table), so it may move with the mapping.
    // Not `Opaque` either: C changes it only through `&mut` (in `new` and in the drop), and
    // `Opaque::zeroed()` and `Opaque::get()` are out-of-line calls into the kernel crate, seven
    // per mapping and unmapping (`Documentation/rgup/performance.rst`).
    sgt: bindings::sg_table,
    dev: &'a Device<Bound>,
    dir: DataDirection,
    // Freed by `DmaMapping::release()`, with the table.
    segments: ManuallyDrop<MappedSegments>,
    _pages: PhantomData<&'a crate::pin::PinnedPages>,
}

// SAFETY: The mapping may be used and unmapped from any thread.
unsafe impl Send for DmaMapping<'_> {}
// SAFETY: `&DmaMapping` only reads the DMA list.
unsafe impl Sync for DmaMapping<'_> {}

impl<'a> DmaMapping<'a> {
    /// Maps `pages` (`size` bytes starting `offset` bytes into the first page) for `dev`.
    ///
    /// Every mapping of rgup through a table is made here, and this is where
    /// [`DataDirection::None`] is refused (`EINVAL`): `dma_map_sgtable()` would hit
    /// `BUG_ON(!valid_dma_direction(dir))`. So is a device without a DMA mask (`EINVAL`), for
    /// which it would `WARN` and map nothing.
    ///
    /// # Safety
    ///
    /// `pages` must be pinned for `'a`.
    // `inline(always)`: at `-Copt-level=s` LLVM keeps one out-of-line copy for the two callers
    // (`PinnedPages::dma_map()` and `DmaOnlySgt::map()`), a call more per mapping.
    #[inline(always)]
    pub(crate) unsafe fn new(
        pages: &'a [*mut bindings::page],
        offset: usize,
        size: usize,
        dev: &'a Device<Bound>,
        dir: DataDirection,
    ) -> Result<Self> {
        if pages.is_empty() || dir == DataDirection::None || !has_dma_mask(dev) {
            return Err(EINVAL);
        }
        // SAFETY: `sg_table` is pointers and integers: all zeroes is the empty table (what
        // `bindings::sg_table::default()` makes, out of line).
        let mut sgt: bindings::sg_table = unsafe { core::mem::zeroed() };
        let raw_dev = raw_device(dev);
        // Entries no longer than the device takes in one segment (`dma_get_max_seg_size()`,
        // 64 KiB unless the driver set it): with `dma_max_mapping_size()` a THP became one entry
        // of 2 MiB, which an IOMMU's `__finalise_sg()` passes on as one segment. The IOMMU merges
        // entries only within the size and `dma_get_seg_boundary()`; without one, an entry crosses
        // a boundary only where the pages are physically contiguous across it, which
        // [`push_segment`] splits when the list is read.
        let limits = SegmentLimits::of(dev);
        // SAFETY: `sgt` is a zeroed `sg_table`; `pages` holds `pages.len()` valid pages;
        // `sg_alloc_table_from_pages_segment` only reads the array. Entries of a page at least.
        let ret = unsafe {
            bindings::sg_alloc_table_from_pages_segment(
                &mut sgt,
                pages.as_ptr().cast_mut(),
                u32::try_from(pages.len())?,
                u32::try_from(offset)?,
                size as c_ulong,
                limits.table_entry_max(),
                bindings::GFP_KERNEL_ACCOUNT,
            )
        };
        if ret != 0 {
            return Err(Error::from_errno(ret));
        }
        // SAFETY: `sgt` is a filled table, `raw_dev` a bound device, `dir` a valid direction
        // (`None` was refused above).
        let ret = unsafe { bindings::dma_map_sgtable(raw_dev, &mut sgt, dir.into(), 0) };
        if ret != 0 {
            // SAFETY: The table was allocated above and is not mapped.
            unsafe { bindings::sg_free_table(&mut sgt) };
            return Err(Error::from_errno(ret));
        }
        // Read before the mapping is made (rather than made with an empty list and filled),
        // so that its fields are written once.
        // SAFETY: The table is mapped (above), until it is unmapped below or by the mapping.
        let segments = match unsafe { MappedSegments::read(&sgt, limits) } {
            Ok(segments) => segments,
            Err(e) => {
                // SAFETY: Mapped above for `raw_dev`, bound, in `dir`; not used after.
                unsafe { unmap_table(raw_dev, &mut sgt, dir) };
                return Err(e);
            }
        };
        // INVARIANT: Mapped above, over pages the caller keeps pinned for `'a`; `segments` is its
        // DMA list.
        Ok(Self {
            sgt,
            dev,
            dir,
            segments: ManuallyDrop::new(segments),
            _pages: PhantomData,
        })
    }

    /// The DMA segments, in order (the DMA list of the table).
    #[inline]
    pub fn segments(&self) -> &[Segment] {
        self.segments.as_slice()
    }

    /// The number of DMA segments.
    #[inline]
    pub fn segment_count(&self) -> usize {
        self.segments().len()
    }

    /// The direction the pages are mapped for.
    pub fn direction(&self) -> DataDirection {
        self.dir
    }
}

impl DmaMapping<'_> {
    /// Unmaps and frees the table, and frees the list: the drop, for an owner that keeps the
    /// mapping in a [`ManuallyDrop`] and releases it inline ([`crate::p2p::DmaOnlySgt`]: at
    /// `-Copt-level=s` its drop reached this through the drop glue, a call more).
    ///
    /// # Safety
    ///
    /// Called once, after which the mapping is neither used nor dropped.
    #[inline(always)]
    pub(crate) unsafe fn release(&mut self) {
        // SAFETY: By the type invariants the table is mapped for `dev` in `dir`; the device is
        // still bound (we borrow `Device<Bound>`). The list is dropped once (safety
        // requirement).
        unsafe {
            unmap_table(raw_device(self.dev), &mut self.sgt, self.dir);
            ManuallyDrop::drop(&mut self.segments);
        }
    }
}

/// Unmaps `sgt` and frees it: what the static inline `dma_unmap_sgtable()` does, without a helper
/// call to reach it, then `sg_free_table()`.
///
/// # Safety
///
/// `sgt` was mapped by `dma_map_sgtable()` for `dev`, still bound, in direction `dir`; neither
/// the table nor its mapping is used after.
#[inline(always)]
unsafe fn unmap_table(
    dev: *mut bindings::device,
    sgt: &mut bindings::sg_table,
    dir: DataDirection,
) {
    // SAFETY: As required (safety requirements).
    unsafe {
        bindings::dma_unmap_sg_attrs(
            dev,
            sgt.sgl,
            // At most `MAX_PIN_PAGES` entries.
            sgt.orig_nents as i32,
            dir.into(),
            0,
        );
        bindings::sg_free_table(sgt);
    }
}

impl Drop for DmaMapping<'_> {
    // Not `#[inline]`: the drop glue of a mapping, which a driver's crate instantiates, is then
    // one call into rgup (as for `PinnedPages`).
    fn drop(&mut self) {
        // SAFETY: Once, by the drop.
        unsafe { self.release() };
    }
}

#[kunit_tests(rgup_pin_dma)]
mod tests {
    use super::*;
    use crate::pin::{
        PinRequest, //
    };
    use crate::testing::{
        user_buffer,
        DmaDevice, //
    };
    use crate::Access;
    use kernel::{
        mm::MmWithUser,
        page::PAGE_SIZE,
        sync::aref::ARef,
        uaccess::{
            UserPtr,
            UserSlice, //
        },
    };

    #[test]
    fn pin_in_kernel_context_and_map_for_dma() -> Result {
        let len = 4 * PAGE_SIZE;
        let addr = user_buffer(len)?;
        let pattern = KVec::from_elem(0x5au8, len, GFP_KERNEL)?;
        UserSlice::new(UserPtr::from_addr(addr), len)
            .writer()
            .write_slice(&pattern)?;

        // An unaligned range of the buffer: 3 pages.
        let pinned = PinRequest::new(addr + 100, 2 * PAGE_SIZE, Access::Write).pin()?;
        assert_eq!(pinned.page_count(), 3);

        let device = DmaDevice::new()?;
        let dev = device.dev();
        let mapping = pinned.dma_map(dev, DataDirection::Bidirectional)?;
        let total: usize = mapping.segments().iter().map(|s| s.dma_len()).sum();
        assert_eq!(total, 2 * PAGE_SIZE);
        assert!(mapping.segment_count() >= 1 && mapping.segment_count() <= 3);
        let first = mapping.segments().first().ok_or(EINVAL)?;
        // Without an IOMMU, dma-direct hands out physical addresses.
        let page = pinned.page(0).ok_or(EINVAL)?;
        // SAFETY: The page is pinned.
        let pfn = unsafe { crate::helpers::rgup_helper_page_to_pfn(page.as_ptr()) };
        assert_eq!(
            first.dma_address(),
            ((pfn as u64) << kernel::page::PAGE_SHIFT) + 100
        );
        pinned.mark_dirty()?;
        drop(mapping);
        Ok(())
    }

    /// A DMA list of more than `KMALLOC_MAX_SIZE` (4 MiB on x86-64) of segments: a
    /// discontiguous pin of 700 MiB mapped without an IOMMU. Kept in a `KVec`, its allocation
    /// failed, with a page allocator warning (order above `MAX_PAGE_ORDER`); a `KVVec` falls back
    /// to `vmalloc()`. The pages are one page repeated: no two are contiguous, so every one is a
    /// segment of its own.
    #[test]
    fn a_list_larger_than_kmalloc_gives() -> Result {
        let entries = (4 << 20) / size_of::<Segment>() + 4096;
        let page = kernel::page::Page::alloc_page(GFP_KERNEL)?;
        let pages = KVVec::from_elem(page.as_ptr(), entries, GFP_KERNEL)?;
        let device = DmaDevice::new()?;
        // SAFETY: Not pinned, but allocated above and freed after the mapping: the page stays
        // valid for as long as the mapping, which is what a pin guarantees it.
        let mapping = unsafe {
            DmaMapping::new(
                &pages,
                0,
                entries * PAGE_SIZE,
                device.dev(),
                DataDirection::ToDevice,
            )
        };
        let counted = match &mapping {
            Ok(mapping) => Ok(mapping.segment_count()),
            Err(e) => Err(*e),
        };
        // Everything freed before the assert: a failed KUnit assertion ends the case without
        // running destructors.
        drop(mapping);
        drop(device);
        drop(pages);
        drop(page);
        assert_eq!(counted, Ok(entries));
        Ok(())
    }

    /// A region's device that needs nothing to stop.
    struct Idle;

    impl Quiesce for Idle {
        fn quiesce(&self, _: &[Segment]) {}
    }

    /// A device without a DMA mask: `dma_map_sgtable()` `WARN`s for it and maps nothing (before,
    /// `dma_map()` and `DmaOnlySgt` returned an empty mapping after that warning).
    #[test]
    fn a_device_without_a_dma_mask_is_einval() -> Result {
        let addr = user_buffer(PAGE_SIZE)?;
        let pinned = PinRequest::new(addr, PAGE_SIZE, Access::Write).pin()?;
        let device = DmaDevice::without_mask()?;
        let dev = device.dev();
        let dir = DataDirection::Bidirectional;
        let mapped = pinned.dma_map(dev, dir).map(|m| m.segment_count());
        let listed = crate::p2p::DmaOnlySgt::from_user(dev, addr, PAGE_SIZE, dir)
            .map(|l| l.segments().len())
            .map_err(Error::from);
        let region = pinned.into_dma_region(dev, dir, Idle).map(|_| ());
        drop(device);
        assert_eq!(mapped, Err(EINVAL));
        assert_eq!(listed, Err(EINVAL));
        assert_eq!(region, Err(EINVAL));
        Ok(())
    }

    /// A device that takes less than a page per segment, with a boundary every 2 KiB:
    /// `sg_alloc_table_from_pages_segment()` `WARN`s for a maximum below a page (and fails with
    /// `EINVAL`), so the table is built of pages and the DMA list split to the device's limits,
    /// for each kind of mapping.
    #[test]
    fn segments_smaller_than_a_page() -> Result {
        const MAX: usize = 1536;
        const BOUNDARY: u64 = 0x7ff;
        let len = 2 * PAGE_SIZE;
        let addr = user_buffer(3 * PAGE_SIZE)? + 100;
        let device = DmaDevice::with_limits(MAX as u32, BOUNDARY)?;
        let dev = device.dev();
        let dir = DataDirection::Bidirectional;
        // Each list: its total and whether every segment keeps to the limits.
        let check = |segs: &[Segment]| {
            let within = segs.iter().all(|s| {
                let last = s.dma_address() + s.dma_len() as u64 - 1;
                s.dma_len() <= MAX && s.dma_address() & !BOUNDARY == last & !BOUNDARY
            });
            (segs.iter().map(|s| s.dma_len()).sum::<usize>(), within)
        };
        let pinned = PinRequest::new(addr, len, Access::Write).pin()?;
        let mapped = pinned.dma_map(dev, dir).map(|m| check(m.segments()));
        let listed = crate::p2p::DmaOnlySgt::from_user(dev, addr, len, dir)
            .map(|l| check(l.segments()))
            .map_err(Error::from);
        let region = pinned
            .into_dma_region(dev, dir, Idle)
            .and_then(|r| Ok(check(&r.segments()?)));
        drop(device);
        assert_eq!(mapped, Ok((len, true)));
        assert_eq!(listed, Ok((len, true)));
        assert_eq!(region, Ok((len, true)));
        Ok(())
    }

    /// A DMA list the DMA API leaves unmerged: 128 KiB of physically contiguous pages from an
    /// offset of 2 KiB, which `sg_alloc_table_from_pages_segment()` cuts into entries of 62 and
    /// 64 KiB (64 KiB of pages each, the first from the offset). Contiguous, the first with
    /// room left: [`push_segment`] merges them and splits the union at 64 KiB, so the list is
    /// rebuilt, not kept as the helper wrote it.
    #[test]
    fn a_list_the_dma_api_left_unmerged_is_rebuilt() -> Result {
        const SZ_64K: usize = 0x10000;
        let buf = KVec::<u8>::with_capacity(2 * SZ_64K, GFP_KERNEL)?;
        let base = buf.as_ptr();
        let pages = {
            let mut v = KVec::with_capacity(2 * SZ_64K / PAGE_SIZE, GFP_KERNEL)?;
            for i in 0..2 * SZ_64K / PAGE_SIZE {
                // SAFETY: Inside `buf`, a `kmalloc()` of more than a page: page allocator
                // memory, physically contiguous, with `struct page`s.
                let page = unsafe {
                    crate::helpers::rgup_helper_virt_to_page(
                        base.add(i * PAGE_SIZE).cast_mut().cast(),
                    )
                };
                v.push(page, GFP_KERNEL)?;
            }
            v
        };
        let device = DmaDevice::new()?;
        let limits = SegmentLimits::of(device.dev());
        // SAFETY: Not pinned, but allocated above and freed after the mapping.
        let mapping = unsafe {
            DmaMapping::new(
                &pages,
                0x800,
                2 * SZ_64K - 0x800,
                device.dev(),
                DataDirection::ToDevice,
            )
        };
        let mut got = KVec::new();
        let mapped = match &mapping {
            Ok(mapping) => mapping
                .segments()
                .iter()
                .try_for_each(|seg| Ok(got.push((seg.dma_address(), seg.dma_len()), GFP_KERNEL)?)),
            Err(e) => Err(*e),
        };
        // SAFETY: The first page is allocated.
        let pfn = unsafe { crate::helpers::rgup_helper_page_to_pfn(pages[0]) };
        drop(mapping);
        drop(device);
        drop(pages);
        drop(buf);
        mapped?;
        // Without an IOMMU, dma-direct hands out physical addresses; a `kmalloc()` of 128 KiB is
        // an order-5 allocation, aligned to 128 KiB.
        let a = (pfn as u64) << kernel::page::PAGE_SHIFT;
        assert_eq!(limits.max_size, SZ_64K);
        assert_eq!(
            &got[..],
            &[(a + 0x800, SZ_64K), (a + 0x10800, SZ_64K - 0x800)]
        );
        Ok(())
    }

    /// [`read_mapped_list`]'s check against [`push_segment`], on generated lists: a list it
    /// finds settled is exactly what pushing its segments one by one makes, and one it does not
    /// is rebuilt into that. Contiguous runs, gaps, both kinds, empty and oversized segments, the
    /// end of the address space, and limits from none to a byte.
    #[test]
    fn settled_lists_are_what_push_segment_makes() -> Result {
        const NO_LIMITS: SegmentLimits = SegmentLimits {
            max_size: usize::MAX,
            boundary_mask: u64::MAX,
        };
        let limits = [
            NO_LIMITS,
            SegmentLimits {
                max_size: 0x10000,
                boundary_mask: u64::MAX,
            },
            SegmentLimits {
                max_size: 0x3000,
                boundary_mask: 0xffff,
            },
            SegmentLimits {
                max_size: 1 << 20,
                boundary_mask: 0xfff,
            },
            SegmentLimits {
                max_size: 0,
                boundary_mask: u64::MAX,
            },
            SegmentLimits {
                max_size: usize::MAX,
                boundary_mask: 0xffff_ffff,
            },
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let (mut settled, mut unsettled) = (0, 0);
        for round in 0..3000 {
            let limits = limits[round % limits.len()];
            let mut list = KVVec::new();
            let mut end = next(1 << 36) << 12;
            for _ in 0..1 + next(12) {
                let addr = match next(8) {
                    0..=3 => end,
                    4 => u64::MAX - (next(4) << 11),
                    _ => end.wrapping_add(next(1 << 24) << 11),
                };
                let len = match next(16) {
                    0 if round % 2 == 1 => 0,
                    // Lengths whose unions overflow, where the limits do not cut them into
                    // countless segments.
                    1 if limits == NO_LIMITS => usize::MAX / 2 + next(1 << 12) as usize,
                    // Byte-sized lengths for byte-sized limits.
                    _ if limits.max_size < 0x800 => 1 + next(8) as usize,
                    _ => (1 + next(0x30) as usize) << 11,
                };
                // Half the lists as a DMA API leaves them: no segment past its room.
                let len = if round % 2 == 0 && len > 0 {
                    limits.first_piece(addr, len)
                } else {
                    len
                };
                let kind = if next(8) == 0 {
                    SegmentKind::BusAddr
                } else {
                    SegmentKind::HostMapped
                };
                list.push(Segment::new(addr, len, kind), GFP_KERNEL)?;
                end = addr.wrapping_add(len as u64);
            }
            let mut pushed = KVec::new();
            for &seg in list.iter() {
                push_segment(&mut pushed, seg, limits)?;
            }
            if limits.settled(&list) {
                settled += 1;
            } else {
                unsettled += 1;
                rebuild_list(&mut list, limits)?;
            }
            assert_eq!(&list[..], &pushed[..]);
        }
        // Both ways taken, often (1080 and 1920 times).
        assert!(settled > 500 && unsettled > 500);
        Ok(())
    }

    /// Which of the pinned pages are dirty (bit `i` for page `i`, up to 128 pages).
    fn dirty_pages(pinned: &crate::pin::PinnedPages) -> Result<u128> {
        let mut bits = 0;
        for i in 0..pinned.page_count() {
            let page = pinned.page(i).ok_or(EINVAL)?;
            // SAFETY: The page is pinned.
            if unsafe { crate::helpers::rgup_helper_page_dirty(page.as_ptr()) } {
                bits |= 1 << i;
            }
        }
        Ok(bits)
    }

    /// The pages a write pin marks are dirty once it is dropped, and only they: what makes the
    /// device's writes reach swap or the page cache. Every pin is dropped before the asserts (a
    /// failed KUnit assertion ends the case without running destructors).
    #[test]
    ///
    /// 4 pages keep their dirty bits in the pin, 100 in a bitmap allocated by the first mark, and
    /// a mark of the whole pin sets no bit at all.
    fn marked_pages_and_only_they_are_dirty_after_unpin() -> Result {
        for (npages, whole) in [(4, false), (100, false), (3, true)] {
            let len = npages * PAGE_SIZE;
            let addr = user_buffer(len)?;
            let pattern = KVec::from_elem(0x5au8, len, GFP_KERNEL)?;
            UserSlice::new(UserPtr::from_addr(addr), len)
                .writer()
                .write_slice(&pattern)?;
            // Measured while the first pin holds the pages, before any unpin could dirty them;
            // in ZONE_MOVABLE that pin migrates them, and migration leaves them dirty (then only
            // the first assert below means something).
            let before = {
                let probe = PinRequest::new(addr, len, Access::Read).pin()?;
                dirty_pages(&probe)?
            };
            // The device wrote pages 1 and 2, and the byte of the last page but one; or all.
            let marked = if whole {
                (1 << npages) - 1
            } else {
                0b0110 | 1 << (npages - 2)
            };
            {
                let written = PinRequest::new(addr, len, Access::Write).pin()?;
                if whole {
                    written.mark_dirty()?;
                } else {
                    written.mark_dirty_range(PAGE_SIZE, 2 * PAGE_SIZE)?;
                    written.mark_dirty_range(len - PAGE_SIZE - 1, 1)?;
                }
            }
            let after = {
                let probe = PinRequest::new(addr, len, Access::Read).pin()?;
                dirty_pages(&probe)?
            };
            assert_eq!(after & marked, marked);
            if before == 0 {
                // The CPU wrote the pages through their PTEs, which leaves the pages themselves
                // clean: read pins and the unmarked pages of a write pin must leave them so.
                assert_eq!(after, marked);
            }
        }
        Ok(())
    }

    #[test]
    fn read_only_pins_map_to_device_only() -> Result {
        let addr = user_buffer(PAGE_SIZE)?;
        let pinned = PinRequest::new(addr, PAGE_SIZE, Access::Read).pin()?;
        let device = DmaDevice::new()?;
        let dev = device.dev();
        assert!(matches!(pinned.dma_map(dev, DataDirection::FromDevice), Err(e) if e == EPERM));
        assert!(matches!(pinned.dma_map(dev, DataDirection::None), Err(e) if e == EINVAL));
        assert_eq!(
            pinned
                .dma_map(dev, DataDirection::ToDevice)?
                .segment_count(),
            1
        );
        Ok(())
    }

    #[test]
    fn no_direction_is_einval_for_every_mapping() -> Result {
        let len = 2 * PAGE_SIZE;
        let addr = user_buffer(len)?;
        let device = DmaDevice::new()?;
        let dev = device.dev();
        // `DataDirection::None` reaching `dma_map_sgtable()` is a `BUG_ON()`.
        let pinned = PinRequest::new(addr, len, Access::Write).pin()?;
        assert!(matches!(pinned.dma_map(dev, DataDirection::None), Err(e) if e == EINVAL));
        let sgt = crate::p2p::DmaOnlySgt::from_user(dev, addr, len, DataDirection::None);
        assert!(matches!(sgt, Err(e) if Error::from(e) == EINVAL));
        Ok(())
    }

    #[test]
    fn remote_pin_of_a_held_mm() -> Result {
        let addr = user_buffer(2 * PAGE_SIZE)?;
        // Held the way a driver holds a process's mm between ioctls.
        let mm: ARef<MmWithUser> = ARef::from(current!().mm().ok_or(ESRCH)?);
        let pinned = PinRequest::new(addr, 2 * PAGE_SIZE, Access::Write).pin_remote(&mm)?;
        assert_eq!(pinned.page_count(), 2);
        assert_eq!(pinned.charged_pages(), 2);
        let hole = PinRequest::new(addr + 2 * PAGE_SIZE, PAGE_SIZE, Access::Read).check_remote(&mm);
        assert!(hole.is_err());
        Ok(())
    }
}

// SPDX-License-Identifier: GPL-2.0

//! DMA mappings a driver keeps: [`DmaRegion`], a pin mapped for one device for as long as the
//! driver wants (an RDMA memory region, an NVMe buffer registration, a GPU userptr), revoked when
//! the device is unbound; [`BoundDevice`], a device an ioctl may map for while it is bound; and
//! [`Quiesce`], the step that stops the hardware before rgup unmaps.
//!
//! The rules they carry (Gunthorpe, on the DMA API and driver unbind): the DMA API may be used
//! only while the device is bound (from `probe()` to the end of its devres release); the hardware
//! must have stopped using a mapping before it is unmapped, and before the memory under it is
//! unpinned; at unbind the *mappings* are revoked, not the memory, which the driver's objects
//! still own. This follows `kernel::scatterlist::SGTable<Owned>`, whose mapping lives in a
//! [`Devres`]; rgup cannot use that type itself, because it takes only vmalloc-backed page
//! sources (`AsPageIter<Iter = VmallocPageIter>`), maps from the first byte of the first page,
//! splits by `dma_max_mapping_size()` rather than the device's segment limits, and has no
//! quiesce step.
//!
//! C header: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h)

use super::{
    push_segment,
    raw_device,
    Segment,
    SegmentKind,
    SegmentLimits, //
};
use crate::{
    helpers,
    pin::PinnedPages,
    Access, //
};
use kernel::{
    bindings,
    device::{
        Bound,
        Device, //
    },
    devres::{
        self,
        Devres, //
    },
    dma::DataDirection,
    error::to_result,
    ffi::c_ulong,
    new_mutex,
    page::PAGE_SHIFT,
    prelude::*,
    revocable::RevocableGuard,
    sync::{
        aref::ARef,
        Arc,
        Mutex, //
    },
    types::Opaque,
};

/// Every mapping rgup keeps is made with `DMA_ATTR_REQUIRE_COHERENT`, as `ib_umem` and
/// `hmm_dma_map` do: a device that is not DMA-coherent, or a mapping that would need a bounce
/// buffer (`swiotlb`), fails with an error instead of handing the device a copy that the CPU and
/// the device would see differently for hours. Nothing then needs `dma_sync_*`.
const ATTRS: c_ulong = bindings::DMA_ATTR_REQUIRE_COHERENT as c_ulong;

/// What stops a device from using a mapping before rgup unmaps it.
///
/// The hardware must not access memory after its mapping is gone: with an IOMMU the access
/// faults, without one it reaches whatever the page holds next. A driver keeps a [`DmaRegion`]
/// for as long as the device may use it, and gives it a `Quiesce` that rgup calls exactly once,
/// before it unmaps: when the driver drops the region, or when the device is unbound (after the
/// driver's `remove()`, from the devres release of the device).
///
/// # Examples
///
/// ```
/// use rgup::dma::{Segment, Quiesce};
///
/// /// Invalidates the region's entry in the device's translation table and waits for the
/// /// device to acknowledge (here: nothing to do, the device never ran).
/// struct InvalidateMr {
///     key: u32,
/// }
///
/// impl Quiesce for InvalidateMr {
///     fn quiesce(&self, segments: &[Segment]) {
///         let _ = (self.key, segments);
///     }
/// }
/// ```
pub trait Quiesce: Send + Sync + 'static {
    /// Makes the device stop using `segments` and returns when it has: no DMA to or from them
    /// is in flight and none can start. May sleep; must not fail (a device that does not answer
    /// is reset or fenced off, not left running).
    fn quiesce(&self, segments: &[Segment]);
}

/// How a [`DmaRegion`]'s pages are mapped.
enum Backend {
    /// One IOVA range for the whole region (`dma_iova_try_alloc()`, `dma_iova_link()` per
    /// physically contiguous run): the device sees one contiguous range, split only by its
    /// segment limits.
    Iova {
        state: bindings::dma_iova_state,
        len: usize,
    },
    /// `dma_map_sgtable()` of a table over the pages: without an IOMMU (or when the IOMMU has
    /// no room for one range), the device sees the physical runs. The table is not boxed, as in
    /// [`DmaMapping`](crate::dma::DmaMapping): nothing keeps its address.
    Table(Opaque<bindings::sg_table>),
}

/// The mapping of a [`DmaRegion`], inside its [`Devres`]: dropped, that is quiesced and
/// unmapped, by whichever comes first of the region's drop and the device's unbind.
///
/// # Invariants
///
/// `backend` maps the pages of the region's [`PinnedPages`] (which outlive it) for `dev` in
/// `dir` with [`ATTRS`]; `segments` are its DMA segments, split by the device's limits.
struct Mapped<Q: Quiesce> {
    dev: ARef<Device>,
    dir: DataDirection,
    backend: Backend,
    // `KVVec`: see `crate::dma::MappedSegments`.
    segments: KVVec<Segment>,
    /// `None` only while the mapping is being made, before any device saw it.
    quiesce: Option<Q>,
}

// SAFETY: The table and the IOVA state are only touched by `Drop`, once; the rest is `Send`.
unsafe impl<Q: Quiesce> Send for Mapped<Q> {}
// SAFETY: `&Mapped` only reads `segments`.
unsafe impl<Q: Quiesce> Sync for Mapped<Q> {}

impl<Q: Quiesce> Drop for Mapped<Q> {
    fn drop(&mut self) {
        // The hardware stops first, then the mapping goes.
        if let Some(q) = &self.quiesce {
            q.quiesce(&self.segments);
        }
        let dev = raw_device(&*self.dev);
        match &mut self.backend {
            Backend::Iova { state, len } => {
                // SAFETY: By the type invariants `len` bytes of `state` were linked for `dev` in
                // `dir` with `ATTRS`; the device is still bound (this runs before or during its
                // devres release).
                unsafe {
                    helpers::rgup_helper_dma_iova_destroy(dev, state, *len, self.dir.into(), ATTRS)
                }
            }
            Backend::Table(sgt) => {
                // SAFETY: By the type invariants the table is mapped for `dev` in `dir` with
                // `ATTRS`; the device is still bound; the table is freed once, here.
                unsafe {
                    bindings::dma_unmap_sgtable(dev, sgt.get(), self.dir.into(), ATTRS);
                    bindings::sg_free_table(sgt.get());
                }
            }
        }
    }
}

/// Pinned pages mapped for DMA by one device, owned and kept: the memory of an RDMA memory
/// region, an NVMe buffer registration or a GPU userptr.
///
/// A driver makes one with [`PinnedPages::into_dma_region`] (from a bound scope, or through a
/// [`BoundDevice`] in an ioctl), keeps it in its state, and hands the device its
/// [`DmaRegion::segments`] from later calls. The mapping is revoked when the device is unbound:
/// [`Quiesce::quiesce`] runs, the pages are unmapped (rgup makes no DMA API call for the device
/// after its unbind), and from then on `segments()` reports `ENODEV`; the pages stay pinned
/// until the region is dropped. Dropping a region quiesces and unmaps (if the unbind did not
/// already), then unpins. Dropping may sleep.
///
/// # Invariants
///
/// `mapped` maps the pages of `pinned`; it is declared first, so that it is dropped (unmapped)
/// before `pinned` (unpinned).
pub struct DmaRegion<Q: Quiesce> {
    mapped: Devres<Mapped<Q>>,
    pinned: PinnedPages,
}

/// The segments of a [`DmaRegion`], while its device is bound ([`DmaRegion::segments`]).
///
/// It holds an RCU read-side lock: do not sleep while holding it (copy the segments out first
/// if programming the device sleeps).
pub struct Segments<'a, Q: Quiesce>(RevocableGuard<'a, Mapped<Q>>);

impl<Q: Quiesce> core::ops::Deref for Segments<'_, Q> {
    type Target = [Segment];

    fn deref(&self) -> &[Segment] {
        &self.0.segments
    }
}

impl<Q: Quiesce> DmaRegion<Q> {
    /// The DMA segments, from any context; `ENODEV` once the device was unbound (the mapping is
    /// gone).
    pub fn segments(&self) -> Result<Segments<'_, Q>> {
        self.mapped.try_access().map(Segments).ok_or(ENODEV)
    }

    /// The DMA segments, without a lock, for a caller that holds the bound device: `dev` proves
    /// that the mapping is not revoked. `EINVAL` for another device than the region's.
    pub fn segments_bound<'a>(&'a self, dev: &'a Device<Bound>) -> Result<&'a [Segment]> {
        Ok(&self.mapped.access(dev)?.segments)
    }

    /// The largest page size of `supported` in which the device can map the region at device
    /// virtual address `va` ([`super::best_page_size`], as `ib_umem_find_best_pgsz()`); 0 when
    /// none fits, `ENODEV` once revoked.
    pub fn best_page_size(&self, supported: u64, va: u64) -> Result<u64> {
        Ok(super::best_page_size(&self.segments()?, supported, va))
    }

    /// Whether the region is one IOVA-contiguous range (mapped through the device's IOMMU with
    /// the two-step DMA API); `false` for the per-run mapping, and once revoked.
    pub fn is_iova_contiguous(&self) -> bool {
        self.mapped
            .try_access_with(|m| matches!(m.backend, Backend::Iova { .. }))
            .unwrap_or(false)
    }

    /// Whether the device was unbound and the mapping revoked.
    pub fn is_revoked(&self) -> bool {
        self.mapped.try_access().is_none()
    }

    /// The pinned pages under the mapping: to mark what the device wrote dirty
    /// ([`PinnedPages::mark_dirty_range`]), to look at folio runs, ...
    pub fn pages(&self) -> &PinnedPages {
        &self.pinned
    }

    /// Quiesces and unmaps (unless the unbind already did), and gives the pins back.
    pub fn into_pages(self) -> PinnedPages {
        let Self { mapped, pinned } = self;
        drop(mapped);
        pinned
    }
}

impl PinnedPages {
    /// Maps the pinned bytes for DMA by `dev` in direction `dir` and keeps the mapping with the
    /// pages, revoked at `dev`'s unbind; `quiesce` stops the device before rgup unmaps.
    ///
    /// Behind an IOMMU the whole pin becomes one IOVA range (`dma_iova_try_alloc()` and
    /// `dma_iova_link()` per physically contiguous run); otherwise, or when no such range is
    /// available, the table of the pages is mapped with `dma_map_sgtable()`. Either way the
    /// segments respect `dev`'s maximum segment size and boundary, and the mapping is made with
    /// `DMA_ATTR_REQUIRE_COHERENT` (a device that would need bounce buffering or cache
    /// maintenance is refused, `EOPNOTSUPP` or the DMA API's error).
    ///
    /// Errors: `EINVAL` for [`DataDirection::None`] or a device without a DMA mask; `EPERM` to
    /// let the device write a read-only pin; `ENOMEM`; the DMA API's errors. On error the pages
    /// are unpinned (dropped with `self`).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{dma::DataDirection, page::PAGE_SIZE};
    /// use rgup::dma::{Segment, Quiesce};
    /// use rgup::Access;
    /// use rgup::pin::PinRequest;
    ///
    /// struct Idle;
    /// impl Quiesce for Idle {
    ///     fn quiesce(&self, _segments: &[Segment]) {}
    /// }
    ///
    /// # let uaddr = rgup::testing::user_buffer(4 * PAGE_SIZE)?;
    /// # let device = rgup::testing::DmaDevice::new()?;
    /// # let dev = device.dev();
    /// let pinned = PinRequest::new(uaddr, 4 * PAGE_SIZE, Access::Write).pin()?;
    /// let region = pinned.into_dma_region(dev, DataDirection::Bidirectional, Idle)?;
    /// let bytes: usize = region.segments()?.iter().map(|s| s.dma_len()).sum();
    /// assert_eq!(bytes, 4 * PAGE_SIZE);
    /// // ... kept in the driver's state; the device DMAs from later calls ...
    /// region.pages().mark_dirty()?;
    /// drop(region); // quiesced, unmapped, then unpinned
    /// ```
    pub fn into_dma_region<Q: Quiesce>(
        self,
        dev: &Device<Bound>,
        dir: DataDirection,
        quiesce: Q,
    ) -> Result<DmaRegion<Q>> {
        match dir {
            DataDirection::None => return Err(EINVAL),
            DataDirection::ToDevice => {}
            _ if self.access() != Access::Write => return Err(EPERM),
            _ => {}
        }
        if !super::has_dma_mask(dev) {
            // The DMA API would WARN and map nothing.
            return Err(EINVAL);
        }
        let limits = SegmentLimits::of(dev);
        let mut mapped = match map_iova(&self, dev, dir, limits)? {
            Some(mapped) => mapped,
            None => map_table(&self, dev, dir, limits)?,
        };
        mapped.quiesce = Some(quiesce);
        let mapped = Devres::new(dev, mapped)?;
        // INVARIANT: `mapped` maps `self`'s pages, which the region keeps pinned after it.
        Ok(DmaRegion {
            mapped,
            pinned: self,
        })
    }
}

/// The physical address of byte `offset` of the pin's page `index`.
fn phys(pinned: &PinnedPages, index: usize, offset: usize) -> Result<u64> {
    let page = pinned.page(index).ok_or(EINVAL)?;
    // SAFETY: The page is pinned.
    let pfn = unsafe { helpers::rgup_helper_page_to_pfn(page.as_ptr()) };
    Ok(((pfn as u64) << PAGE_SHIFT) + offset as u64)
}

/// Maps the pin as one IOVA range, or `Ok(None)` when `dev` has no IOMMU domain that can give
/// one (then the table path runs).
fn map_iova<Q: Quiesce>(
    pinned: &PinnedPages,
    dev: &Device<Bound>,
    dir: DataDirection,
    limits: SegmentLimits,
) -> Result<Option<Mapped<Q>>> {
    let raw = raw_device(dev);
    let offset = pinned.offset();
    let len = pinned.len();
    let mut state = bindings::dma_iova_state::default();
    // SAFETY: `raw` is a bound device; `state` is zeroed, as `dma_iova_try_alloc()` expects.
    if !unsafe {
        helpers::rgup_helper_dma_iova_try_alloc(raw, &mut state, phys(pinned, 0, offset)?, len)
    } {
        return Ok(None);
    }
    // Link each physically contiguous run of the requested bytes.
    let mut linked = 0usize;
    let mut result = Ok(());
    for (first, pages) in pinned.contiguous_runs() {
        let start = if first == 0 { offset } else { 0 };
        let run_end = ((first + pages) << PAGE_SHIFT).min(offset + len) - (first << PAGE_SHIFT);
        let run_len = run_end - start;
        // SAFETY: `state` was allocated for `len` bytes from the first byte; `linked + run_len
        // <= len`; the pages are pinned.
        result = to_result(unsafe {
            helpers::rgup_helper_dma_iova_link(
                raw,
                &mut state,
                phys(pinned, first, start)?,
                linked,
                run_len,
                dir.into(),
                ATTRS,
            )
        });
        if result.is_err() {
            break;
        }
        linked += run_len;
    }
    if result.is_ok() {
        // SAFETY: `linked == len` bytes are linked.
        result =
            to_result(unsafe { helpers::rgup_helper_dma_iova_sync(raw, &mut state, 0, linked) });
    }
    if let Err(e) = result {
        // SAFETY: `linked` bytes were linked (none: the range is freed).
        unsafe {
            helpers::rgup_helper_dma_iova_destroy(raw, &mut state, linked, dir.into(), ATTRS)
        };
        return Err(e);
    }
    let mut segments = KVVec::new();
    push_segment(
        &mut segments,
        Segment::new(state.addr, len, SegmentKind::HostMapped),
        limits,
    )?;
    // INVARIANT: `len` bytes of the pin are linked at `state` for `dev` in `dir` with `ATTRS`.
    Ok(Some(Mapped {
        dev: dev.into(),
        dir,
        backend: Backend::Iova { state, len },
        segments,
        quiesce: None,
    }))
}

/// Maps the table of the pin's pages with `dma_map_sgtable()`.
fn map_table<Q: Quiesce>(
    pinned: &PinnedPages,
    dev: &Device<Bound>,
    dir: DataDirection,
    limits: SegmentLimits,
) -> Result<Mapped<Q>> {
    let raw = raw_device(dev);
    let sgt = Opaque::<bindings::sg_table>::zeroed();
    let pages = pinned.raw_pages();
    // SAFETY: `sgt` is a zeroed `sg_table`; `pages` holds `pages.len()` pinned pages, which
    // `sg_alloc_table_from_pages_segment()` only reads; entries are at most the device's
    // maximum segment size, and a page at least.
    to_result(unsafe {
        bindings::sg_alloc_table_from_pages_segment(
            sgt.get(),
            pages.as_ptr().cast_mut(),
            u32::try_from(pages.len())?,
            u32::try_from(pinned.offset())?,
            pinned.len() as c_ulong,
            limits.table_entry_max(),
            bindings::GFP_KERNEL_ACCOUNT,
        )
    })?;
    // SAFETY: `sgt` is a filled table, `raw` a bound device, `dir` a valid direction.
    let ret = unsafe { bindings::dma_map_sgtable(raw, sgt.get(), dir.into(), ATTRS) };
    if ret != 0 {
        // SAFETY: The table was allocated above and is not mapped.
        unsafe { bindings::sg_free_table(sgt.get()) };
        return Err(Error::from_errno(ret));
    }
    // INVARIANT: Mapped just above; the segments are collected below.
    let mut mapped = Mapped {
        dev: dev.into(),
        dir,
        backend: Backend::Table(sgt),
        segments: KVVec::new(),
        quiesce: None,
    };
    if let Backend::Table(sgt) = &mapped.backend {
        let segments = &mut mapped.segments;
        // Merged where the IOMMU left contiguous entries, split where a physically contiguous
        // entry crosses the device's boundary; the mapping is undone by `mapped`'s drop on error.
        // SAFETY: The table is mapped (above) until `mapped` is dropped.
        unsafe { super::read_mapped_list(sgt.get(), segments, limits) }?;
    }
    Ok(mapped)
}

/// Whether `dev`'s DMA goes through an IOMMU that translates (a DMA or paging domain): its DMA
/// addresses are IOVAs, and an access outside what is mapped faults instead of reaching memory.
pub fn is_translated(dev: &Device<Bound>) -> bool {
    // SAFETY: `dev` is a bound device.
    unsafe { helpers::rgup_helper_dma_translated(raw_device(dev)) }
}

/// A device that a driver may map memory for from any of its calls, for as long as the device
/// is bound.
///
/// The kernel crate hands a driver `&Device<Bound>` only inside its bound scope (`probe()`, and
/// what the bus calls back). An ioctl of a misc device or a character device has no such proof,
/// yet it is where a driver registers memory. A `BoundDevice` made in `probe()` gives it: its
/// [`BoundDevice::with`] runs a closure with the bound device, under a lock that the device's
/// unbind takes (from its devres release) before the device stops being bound; from then on
/// `with` returns `ENODEV`. The closure may sleep (it may pin, allocate and map); it must not
/// wait for the device's unbind.
///
/// # Invariants
///
/// `slot` holds the device for as long as it is bound: the `Unbinder` registered with the
/// device's devres in [`BoundDevice::new`] empties it during the unbind, under the lock.
#[derive(Clone)]
pub struct BoundDevice {
    slot: Arc<Mutex<Option<ARef<Device>>>>,
}

/// Empties a [`BoundDevice`]'s slot at the device's unbind.
struct Unbinder {
    slot: Arc<Mutex<Option<ARef<Device>>>>,
}

impl Drop for Unbinder {
    fn drop(&mut self) {
        // Waits for a running `BoundDevice::with()`.
        *self.slot.lock() = None;
    }
}

impl BoundDevice {
    /// Keeps `dev` for [`BoundDevice::with`] until its unbind; call it from `probe()`.
    pub fn new(dev: &Device<Bound>) -> Result<Self> {
        let device: &Device = dev;
        let slot = Arc::pin_init(new_mutex!(Some(ARef::from(device))), GFP_KERNEL)?;
        devres::register(dev, Unbinder { slot: slot.clone() }, GFP_KERNEL)?;
        // INVARIANT: The unbinder is registered; it empties the slot during the unbind.
        Ok(Self { slot })
    }

    /// Runs `f` with the device while it is bound; `ENODEV` after its unbind.
    pub fn with<R>(&self, f: impl FnOnce(&Device<Bound>) -> R) -> Result<R> {
        let slot = self.slot.lock();
        let dev = slot.as_ref().ok_or(ENODEV)?;
        // SAFETY: By the type invariants the device is bound while the slot holds it, and the
        // unbind cannot empty the slot (and so finish) while we hold the lock; the reference
        // passed to `f` cannot outlive this call.
        Ok(f(unsafe { dev.as_bound() }))
    }

    /// Whether the device was unbound.
    pub fn is_unbound(&self) -> bool {
        self.slot.lock().is_none()
    }
}

#[kunit_tests(rgup_dma_region)]
mod tests {
    use super::*;
    use crate::{
        pin::PinRequest,
        testing::{
            user_buffer,
            DmaDevice, //
        },
    };
    use core::sync::atomic::{
        AtomicUsize,
        Ordering::Relaxed, //
    };
    use kernel::page::PAGE_SIZE;

    /// Counts its calls.
    struct Counted(Arc<AtomicUsize>);

    impl Quiesce for Counted {
        fn quiesce(&self, segments: &[Segment]) {
            assert!(!segments.is_empty());
            self.0.fetch_add(1, Relaxed);
        }
    }

    fn counter() -> Result<Arc<AtomicUsize>> {
        Ok(Arc::new(AtomicUsize::new(0), GFP_KERNEL)?)
    }

    #[test]
    fn drop_quiesces_once_then_unmaps_and_unpins() -> Result {
        let addr = user_buffer(3 * PAGE_SIZE)?;
        let pins = crate::stats::GLOBAL.pins();
        let device = DmaDevice::new()?;
        let calls = counter()?;
        let pinned = PinRequest::new(addr + 8, 2 * PAGE_SIZE, Access::Write).pin()?;
        let region = pinned.into_dma_region(
            device.dev(),
            DataDirection::Bidirectional,
            Counted(calls.clone()),
        )?;
        let bytes: usize = region.segments()?.iter().map(|s| s.dma_len()).sum();
        assert_eq!(bytes, 2 * PAGE_SIZE);
        assert_eq!(
            region.segments_bound(device.dev())?.len(),
            region.segments()?.len()
        );
        assert!(!region.is_revoked());
        assert_eq!(crate::stats::GLOBAL.pins(), pins + 1);
        drop(region);
        assert_eq!(calls.load(Relaxed), 1);
        assert_eq!(crate::stats::GLOBAL.pins(), pins);
        Ok(())
    }

    #[test]
    fn unbind_revokes_the_mapping_not_the_pins() -> Result {
        let addr = user_buffer(2 * PAGE_SIZE)?;
        let pins = crate::stats::GLOBAL.pins();
        let device = DmaDevice::new()?;
        let bound = BoundDevice::new(device.dev())?;
        let calls = counter()?;
        let pinned = PinRequest::new(addr, 2 * PAGE_SIZE, Access::Write).pin()?;
        let region = bound.with(|dev| {
            pinned.into_dma_region(dev, DataDirection::ToDevice, Counted(calls.clone()))
        })??;
        assert_eq!(calls.load(Relaxed), 0);
        drop(device); // the faux device goes: unbind, devres release
        assert_eq!(calls.load(Relaxed), 1);
        assert!(region.is_revoked());
        assert!(matches!(region.segments(), Err(e) if e == ENODEV));
        assert!(matches!(bound.with(|_| ()), Err(e) if e == ENODEV));
        assert!(bound.is_unbound());
        // The pins belong to the region until it is dropped.
        assert_eq!(crate::stats::GLOBAL.pins(), pins + 1);
        assert_eq!(region.pages().page_count(), 2);
        let pinned = region.into_pages();
        assert_eq!(calls.load(Relaxed), 1); // not again
        drop(pinned);
        assert_eq!(crate::stats::GLOBAL.pins(), pins);
        Ok(())
    }

    #[test]
    fn bad_directions() -> Result {
        let addr = user_buffer(PAGE_SIZE)?;
        let device = DmaDevice::new()?;
        let calls = counter()?;
        let write = || PinRequest::new(addr, PAGE_SIZE, Access::Write).pin();
        let read = || PinRequest::new(addr, PAGE_SIZE, Access::Read).pin();
        let none =
            write()?.into_dma_region(device.dev(), DataDirection::None, Counted(calls.clone()));
        assert!(matches!(none, Err(e) if e == EINVAL));
        let ro = read()?.into_dma_region(
            device.dev(),
            DataDirection::FromDevice,
            Counted(calls.clone()),
        );
        assert!(matches!(ro, Err(e) if e == EPERM));
        // Refused before anything was mapped: never quiesced.
        assert_eq!(calls.load(Relaxed), 0);
        Ok(())
    }

    #[test]
    fn best_page_size_as_ib_umem() {
        use super::super::best_page_size;
        const K4: u64 = 1 << 12;
        const K64: u64 = 1 << 16;
        const M2: u64 = 1 << 21;
        let seg = |addr, len| Segment::new(addr, len, SegmentKind::HostMapped);
        // Two 2 MiB runs, each 2 MiB aligned, discontiguous at a 2 MiB boundary of the VA.
        let two = [seg(0x4000_0000, 2 << 20), seg(0x8020_0000, 2 << 20)];
        assert_eq!(best_page_size(&two, K4 | M2, 0x10_0000_0000), M2);
        // The second run starts 64 KiB into a 2 MiB page: 64 KiB pages at most.
        let odd = [seg(0x4000_0000, 2 << 20), seg(0x8021_0000, 1 << 20)];
        assert_eq!(best_page_size(&odd, K4 | K64 | M2, 0x10_0000_0000), K64);
        // Contiguous pieces (split by a segment limit) count as one run.
        let split = [seg(0x4000_0000, 1 << 20), seg(0x4010_0000, 1 << 20)];
        assert_eq!(best_page_size(&split, K4 | M2, 0x20_0000), M2);
        // 8 KiB from an offset: small pages only; a VA that wraps: none.
        let small = [seg(0x1234_5100, 8192)];
        assert_eq!(best_page_size(&small, K4 | M2, 0x7000_0100), K4);
        assert_eq!(best_page_size(&small, K4, u64::MAX - 10), 0);
        assert_eq!(best_page_size(&[], K4, 0), 0);
    }

    #[test]
    fn segments_respect_the_device_limits() -> Result {
        let limits = SegmentLimits {
            max_size: 3 * PAGE_SIZE,
            boundary_mask: 0xffff,
        };
        let mut out = KVec::new();
        // 8 pages from 0xe000: cut at the 64 KiB boundary (0x10000), then every 3 pages.
        push_segment(
            &mut out,
            Segment::new(0xe000, 8 * PAGE_SIZE, SegmentKind::HostMapped),
            limits,
        )?;
        let got: KVec<(u64, usize)> = {
            let mut v = KVec::new();
            for s in out.iter() {
                v.push((s.dma_address(), s.dma_len()), GFP_KERNEL)?;
            }
            v
        };
        assert_eq!(
            &got[..],
            &[
                (0xe000, 2 * PAGE_SIZE),
                (0x10000, 3 * PAGE_SIZE),
                (0x13000, 3 * PAGE_SIZE)
            ]
        );
        Ok(())
    }
}

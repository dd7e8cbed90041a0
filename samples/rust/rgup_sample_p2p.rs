// SPDX-License-Identifier: GPL-2.0

//! DMA with [`rgup::p2p`] and [`rgup::dma`], in its own module: a driver for QEMU's `edu` device
//! (`-device edu`, PCI 1234:11e8), whose DMA engine copies between its 4 KiB internal buffer and
//! any DMA address.
//!
//! Two ways to give the device memory, as real drivers do:
//!
//! - **Per transfer** (`COPY`, `STAGE`): user memory described by [`DmaOnlySgt`]s, mapped for the
//!   one call. When that memory is an `mmap()` of an NVMe controller memory buffer
//!   (`p2pmem/allocate`) behind the same PCIe switch, the engine reads and writes the peer device
//!   directly, at PCI bus addresses.
//! - **Registered** (`REGISTER`, `XFER`, `UNREGISTER`), as an RDMA memory region or an NVMe
//!   buffer registration: the memory is pinned and mapped once ([`DmaRegion`]), kept in the open
//!   file's state, and the engine uses it from later calls. The file reaches the device through
//!   a [`BoundDevice`] and the registers through a `Devres`: after `edu` is unbound, every call
//!   answers `ENODEV`, the regions' mappings are gone (unmapped at the unbind, after the engine
//!   was quiesced), and their pins go with the file.
//!
//! The ioctls are in `samples/rust/rgup_samples_uapi.h`. Errors are rgup's (`EREMOTEIO` when
//! the memory's provider cannot reach `edu`), `ENODEV` without a bound `edu`, `ETIMEDOUT` when
//! the engine took more than 5 s (it has stopped by then: the sample waits for it before any
//! mapping goes).

use kernel::{
    device::{
        Bound,
        Core, //
    },
    devres::DevresLt,
    dma::DataDirection,
    fs::File,
    io::Io,
    ioctl::{
        _IO,
        _IOW,
        _IOWR, //
    },
    miscdevice::{
        MiscDevice,
        MiscDeviceOptions,
        MiscDeviceRegistration, //
    },
    new_mutex, pci,
    prelude::*,
    sync::{
        Arc,
        Mutex, //
    },
    time::{
        delay::fsleep,
        Delta, //
    },
    transmute::{
        AsBytes,
        FromBytes, //
    },
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};
use rgup::{
    dma::{
        BoundDevice,
        DmaRegion,
        Quiesce,
        Segment,
        SegmentKind, //
    },
    p2p::DmaOnlySgt,
    pin::PinRequest,
    Access, //
};

/// The registers of `edu` (QEMU's `docs/specs/edu.rst`).
mod regs {
    pub(super) const ID: usize = 0x00;
    pub(super) const DMA_SRC: usize = 0x80;
    pub(super) const DMA_DST: usize = 0x88;
    pub(super) const DMA_COUNT: usize = 0x90;
    pub(super) const DMA_CMD: usize = 0x98;
    pub(super) const CMD_RUN: u64 = 1 << 0;
    pub(super) const CMD_TO_RAM: u64 = 1 << 1;
    /// The internal buffer, as the engine addresses it.
    pub(super) const BUFFER: u64 = 0x40000;
    /// The buffer is 4096 bytes, but QEMU before 8.1 rejects (with a fatal `hw_error`) a transfer
    /// that reaches its last byte (the off-by-one fixed by "hw/misc/edu: fix 2 off-by-one
    /// errors"): use half of it.
    pub(super) const BUFFER_SIZE: usize = 2048;
    /// BAR 0.
    pub(super) const BAR_SIZE: usize = 0x100000;
}

type EduBar = pci::Bar<'static, { regs::BAR_SIZE }>;

module! {
    type: SampleP2p,
    name: "rgup_sample_p2p",
    authors: ["rgup developers"],
    description: "rgup sample: DMA by QEMU's edu device through rgup::p2p and rgup::dma",
    license: "GPL",
}

/// What the open files share with the bound `edu`: revoked, both of them, at its unbind.
#[pin_data]
struct Edu {
    bar: DevresLt<EduBar>,
    dev: BoundDevice,
    /// One transfer at a time; never released while the engine runs.
    #[pin]
    engine: Mutex<()>,
}

impl Edu {
    /// Runs the engine once: `count` bytes between `addr` and the buffer at `offset`, and waits.
    ///
    /// Returns only once the engine is idle, also on `ETIMEDOUT` (after 5 s): nothing it may
    /// still access can be unmapped under it. `ENODEV` once `edu` is unbound.
    fn transfer(&self, addr: u64, offset: u64, count: usize, to_ram: bool) -> Result {
        let _engine = self.engine.lock();
        let (src, dst, cmd) = if to_ram {
            (
                regs::BUFFER + offset,
                addr,
                regs::CMD_RUN | regs::CMD_TO_RAM,
            )
        } else {
            (addr, regs::BUFFER + offset, regs::CMD_RUN)
        };
        // `edu` takes its 64-bit registers in single 8-byte accesses; `Region`'s compile-time
        // checked accessors stop at 4-byte alignment, the runtime-checked ones do not.
        self.bar
            .try_access_with(|bar| -> Result {
                bar.try_write64(src, regs::DMA_SRC)?;
                bar.try_write64(dst, regs::DMA_DST)?;
                bar.try_write64(count as u64, regs::DMA_COUNT)?;
                bar.try_write64(cmd, regs::DMA_CMD)
            })
            .ok_or(ENODEV)??;
        // The engine takes about 100 ms of virtual time per transfer.
        let mut waited = 0;
        while self.busy() {
            fsleep(Delta::from_millis(10));
            waited += 10;
        }
        if waited > 5000 {
            return Err(ETIMEDOUT);
        }
        Ok(())
    }

    /// Whether the engine runs (`false` once unbound: `remove()` waited for it).
    fn busy(&self) -> bool {
        self.bar
            .try_access_with(|bar| {
                bar.try_read64(regs::DMA_CMD)
                    .is_ok_and(|cmd| cmd & regs::CMD_RUN != 0)
            })
            .unwrap_or(false)
    }

    /// Runs the engine once per segment of `segments` covering `[skip, skip + len)` of them:
    /// into the buffer from `offset` on (`to_ram` false), or out of it.
    fn run(
        &self,
        segments: &[Segment],
        skip: usize,
        len: usize,
        offset: u64,
        to_ram: bool,
    ) -> Result {
        let (mut skip, mut left, mut offset) = (skip, len, offset);
        for seg in segments {
            if left == 0 {
                break;
            }
            if skip >= seg.dma_len() {
                skip -= seg.dma_len();
                continue;
            }
            let n = (seg.dma_len() - skip).min(left);
            self.transfer(seg.dma_address() + skip as u64, offset, n, to_ram)?;
            offset += n as u64;
            left -= n;
            skip = 0;
        }
        Ok(())
    }
}

/// Stops `edu` using a region before rgup unmaps it: waits for a running transfer.
struct EngineIdle(Arc<Edu>);

impl Quiesce for EngineIdle {
    fn quiesce(&self, _segments: &[Segment]) {
        // A transfer holds the lock until the engine is idle.
        drop(self.0.engine.lock());
    }
}

kernel::sync::global_lock! {
    // SAFETY: Initialised in the module initialiser before first use.
    unsafe(uninit) static EDU: Mutex<Option<Arc<Edu>>> = None;
}

fn bound_edu() -> Result<Arc<Edu>> {
    EDU.lock().as_ref().cloned().ok_or(ENODEV)
}

#[pin_data]
struct SampleP2p {
    _client: rgup::Client,
    #[pin]
    _driver: kernel::driver::Registration<pci::Adapter<EduDriver>>,
    #[pin]
    _miscdev: MiscDeviceRegistration<P2pFile>,
}

impl kernel::InPlaceModule for SampleP2p {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        // SAFETY: Called once, before any use of `EDU`.
        unsafe { EDU.init() };
        try_pin_init!(Self {
            _client: rgup::Client::register(c"rgup_sample_p2p")?,
            _driver <- kernel::driver::Registration::new(c"rgup_sample_p2p", module),
            _miscdev <- MiscDeviceRegistration::register(MiscDeviceOptions {
                name: c"rgup_sample_p2p",
            }),
        })
    }
}

struct EduDriver;

/// QEMU's `edu` (`hw/misc/edu.c`): vendor 0x1234, device 0x11e8, class code 0x00ff00 (QEMU's
/// `PCI_CLASS_OTHERS`, 0xff, as a 16-bit class: base class 0x00, sub-class 0xff).
///
/// `pci::Vendor` only names the vendors of `pci_ids.h`, which 0x1234 is not, so the table
/// matches edu's class (any programming interface) and [`EduDriver::probe`] checks the IDs
/// (`ENODEV` for any other device of that class).
const EDU_VENDOR: u16 = 0x1234;
const EDU_DEVICE: u16 = 0x11e8;
const EDU_ID: pci::DeviceId = pci::DeviceId::from_class(0x00_ff00, 0xff_ff00);

kernel::pci_device_table!(
    PCI_TABLE,
    <EduDriver as pci::Driver>::IdInfo,
    [(EDU_ID, ())]
);

struct EduData;

impl pci::Driver for EduDriver {
    type IdInfo = ();
    type Data<'bound> = EduData;

    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        if pdev.vendor_id().as_raw() != EDU_VENDOR || pdev.device_id() != EDU_DEVICE {
            return Err(ENODEV);
        }
        pdev.enable_device_mem()?;
        pdev.set_master();
        let bar = pdev.iomap_region_sized::<{ regs::BAR_SIZE }>(0, c"rgup_sample_p2p")?;
        let id = bar.read32(regs::ID);
        if id & 0xff != 0xed {
            return Err(ENODEV);
        }
        let dev: &kernel::device::Device<Bound> = pdev.as_ref();
        let edu = Arc::pin_init(
            try_pin_init!(Edu {
                // SAFETY: The BAR was mapped from the bound device and stays valid until its
                // unbind, when the `DevresLt` revokes it.
                bar: unsafe { DevresLt::new(dev, bar) }?,
                dev: BoundDevice::new(dev)?,
                engine <- new_mutex!(()),
            }),
            GFP_KERNEL,
        )?;
        *EDU.lock() = Some(edu);
        dev_info!(pdev, "edu {:#x} bound: rgup DMA sample\n", id);
        Ok(EduData)
    }

    fn unbind<'bound>(pdev: &'bound pci::Device<Core<'_>>, _this: Pin<&Self::Data<'bound>>) {
        // New calls find no device; running ones end with the engine idle. The regions'
        // mappings are revoked after this, from the device's devres release.
        let edu = EDU.lock().take();
        if let Some(edu) = edu {
            drop(edu.engine.lock());
        }
        dev_info!(pdev, "edu unbound\n");
    }
}

/// `struct rgup_sample_p2p_copy`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CopyArgs {
    src: u64,
    dst: u64,
    len: u64,
    src_kind: u32,
    dst_kind: u32,
    src_dma: u64,
    dst_dma: u64,
}

/// `struct rgup_sample_p2p_region`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct RegionArgs {
    addr: u64,
    len: u64,
    write: u32,
    handle: u32,
    first_dma: u64,
    segments: u32,
    iova: u32,
}

/// `struct rgup_sample_p2p_xfer`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct XferArgs {
    handle: u32,
    to_device: u32,
    offset: u64,
    len: u64,
    buffer_offset: u64,
}

// SAFETY: `u64` and `u32` fields, no padding: every byte pattern is valid, and all bytes are
// fields.
unsafe impl FromBytes for CopyArgs {}
// SAFETY: As above.
unsafe impl AsBytes for CopyArgs {}
// SAFETY: As above.
unsafe impl FromBytes for RegionArgs {}
// SAFETY: As above.
unsafe impl AsBytes for RegionArgs {}
// SAFETY: As above.
unsafe impl FromBytes for XferArgs {}

const RGUP_SAMPLE_P2P_COPY: u32 = _IOWR::<CopyArgs>('r' as u32, 0x20);
const RGUP_SAMPLE_P2P_STAGE: u32 = _IOWR::<CopyArgs>('r' as u32, 0x21);
const RGUP_SAMPLE_P2P_REGISTER: u32 = _IOWR::<RegionArgs>('r' as u32, 0x22);
const RGUP_SAMPLE_P2P_XFER: u32 = _IOW::<XferArgs>('r' as u32, 0x23);
const RGUP_SAMPLE_P2P_UNREGISTER: u32 = _IOW::<u32>('r' as u32, 0x24);
const RGUP_SAMPLE_P2P_STALE_WRITE: u32 = _IO('r' as u32, 0x25);

/// Registrations of one open file.
const MAX_REGIONS: usize = 16;

/// A registered region and the `edu` it is mapped for.
struct Region {
    edu: Arc<Edu>,
    region: DmaRegion<EngineIdle>,
}

#[derive(Default)]
struct Regions {
    slots: KVec<Option<Region>>,
    /// The first DMA address of the region last unregistered (for `STALE_WRITE`).
    stale: Option<u64>,
}

#[pin_data]
struct P2pFile {
    #[pin]
    regions: Mutex<Regions>,
}

#[vtable]
impl MiscDevice for P2pFile {
    type Ptr = Pin<KBox<Self>>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Self>>> {
        KBox::try_pin_init(
            try_pin_init!(P2pFile {
                regions <- new_mutex!(Regions::default()),
            }),
            GFP_KERNEL,
        )
    }

    fn ioctl(me: Pin<&P2pFile>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            RGUP_SAMPLE_P2P_COPY => copy(arg, false),
            RGUP_SAMPLE_P2P_STAGE => copy(arg, true),
            RGUP_SAMPLE_P2P_REGISTER => register(&me.regions, arg),
            RGUP_SAMPLE_P2P_XFER => xfer(&me.regions, arg),
            RGUP_SAMPLE_P2P_UNREGISTER => unregister(&me.regions, arg),
            RGUP_SAMPLE_P2P_STALE_WRITE => stale_write(&me.regions),
            _ => Err(ENOTTY),
        }
    }
}

fn addr(user: u64) -> Result<usize> {
    usize::try_from(user).map_err(|_| EINVAL)
}

/// `COPY` and `STAGE`: user memory mapped for one call.
fn copy(arg: usize, staged: bool) -> Result<isize> {
    let user = UserSlice::new(UserPtr::from_addr(arg), size_of::<CopyArgs>());
    let (mut reader, mut writer) = user.reader_writer();
    let mut args: CopyArgs = reader.read()?;
    let len = usize::try_from(args.len).map_err(|_| EINVAL)?;
    let max = if staged {
        regs::BUFFER_SIZE / 2
    } else {
        regs::BUFFER_SIZE
    };
    if len == 0 || len > max {
        return Err(EINVAL);
    }
    let edu = bound_edu()?;
    edu.dev.with(|dev| -> Result {
        let src = DmaOnlySgt::from_user(dev, addr(args.src)?, len, DataDirection::ToDevice)?;
        let dst = DmaOnlySgt::from_user(dev, addr(args.dst)?, len, DataDirection::FromDevice)?;
        (args.src_kind, args.src_dma) = first(&src);
        // The lists are dropped (unmapped) after `run`, which returns with the engine idle.
        if staged {
            let stage = DmaOnlySgt::from_p2pmem(dev, len, DataDirection::Bidirectional)?;
            let other_half = (regs::BUFFER_SIZE / 2) as u64;
            run_list(&edu, src.segments(), 0, false)?;
            run_list(&edu, stage.segments(), 0, true)?;
            run_list(&edu, stage.segments(), other_half, false)?;
            run_list(&edu, dst.segments(), other_half, true)?;
            (args.dst_kind, args.dst_dma) = first(&stage);
        } else {
            run_list(&edu, src.segments(), 0, false)?;
            run_list(&edu, dst.segments(), 0, true)?;
            (args.dst_kind, args.dst_dma) = first(&dst);
        }
        Ok(())
    })??;
    writer.write(&args)?;
    Ok(0)
}

/// Runs the engine over a whole P2P list.
fn run_list(edu: &Edu, segments: &[Segment], offset: u64, to_ram: bool) -> Result {
    let mut offset = offset;
    for seg in segments {
        edu.transfer(seg.dma_address(), offset, seg.dma_len(), to_ram)?;
        offset += seg.dma_len() as u64;
    }
    Ok(())
}

/// The uAPI kind and the DMA address of a list's first segment.
fn first(sgt: &DmaOnlySgt<'_>) -> (u32, u64) {
    match sgt.segments().first() {
        Some(s) if s.kind() == SegmentKind::BusAddr => (1, s.dma_address()),
        Some(s) => (2, s.dma_address()),
        None => (0, 0),
    }
}

/// `REGISTER`: pins and maps a region once, for the engine to use from later calls.
fn register(regions: &Mutex<Regions>, arg: usize) -> Result<isize> {
    let user = UserSlice::new(UserPtr::from_addr(arg), size_of::<RegionArgs>());
    let (mut reader, mut writer) = user.reader_writer();
    let mut args: RegionArgs = reader.read()?;
    let (access, dir) = if args.write != 0 {
        (Access::Write, DataDirection::Bidirectional)
    } else {
        (Access::Read, DataDirection::ToDevice)
    };
    let edu = bound_edu()?;
    let pinned = PinRequest::new(addr(args.addr)?, addr(args.len)?, access).pin()?;
    let region = edu
        .dev
        .with(|dev| pinned.into_dma_region(dev, dir, EngineIdle(edu.clone())))??;
    {
        let segments = region.segments()?;
        args.first_dma = segments.first().map_or(0, Segment::dma_address);
        args.segments = u32::try_from(segments.len()).unwrap_or(u32::MAX);
    }
    args.iova = region.is_iova_contiguous().into();
    let mut regions = regions.lock();
    let slot = match regions.slots.iter().position(Option::is_none) {
        Some(slot) => slot,
        None if regions.slots.len() < MAX_REGIONS => {
            regions.slots.push(None, GFP_KERNEL)?;
            regions.slots.len() - 1
        }
        None => return Err(ENOSPC),
    };
    args.handle = slot as u32;
    writer.write(&args)?;
    regions.slots[slot] = Some(Region { edu, region });
    Ok(0)
}

/// `XFER`: the engine moves bytes between a registered region and its buffer.
fn xfer(regions: &Mutex<Regions>, arg: usize) -> Result<isize> {
    let args: XferArgs = UserSlice::new(UserPtr::from_addr(arg), size_of::<XferArgs>())
        .reader()
        .read()?;
    let (offset, len, buffer_offset) = (
        addr(args.offset)?,
        addr(args.len)?,
        addr(args.buffer_offset)?,
    );
    if len == 0
        || buffer_offset
            .checked_add(len)
            .is_none_or(|end| end > regs::BUFFER_SIZE)
    {
        return Err(EINVAL);
    }
    let regions = regions.lock();
    let r = regions
        .slots
        .get(args.handle as usize)
        .and_then(Option::as_ref)
        .ok_or(ENOENT)?;
    if offset
        .checked_add(len)
        .is_none_or(|end| end > r.region.pages().len())
    {
        return Err(EINVAL);
    }
    let to_ram = args.to_device == 0;
    if to_ram && r.region.pages().access() != Access::Write {
        return Err(EPERM);
    }
    // With the bound device, the segments need no RCU guard across the engine's sleeps; the
    // region's offset 0 is its first segment's first byte.
    r.edu.dev.with(|dev| {
        let segments = r.region.segments_bound(dev)?;
        r.edu
            .run(segments, offset, len, buffer_offset as u64, to_ram)
    })??;
    if to_ram {
        r.region.pages().mark_dirty_range(offset, len)?;
    }
    Ok(0)
}

/// `UNREGISTER`: quiesces, unmaps and unpins a region.
fn unregister(regions: &Mutex<Regions>, arg: usize) -> Result<isize> {
    let handle: u32 = UserSlice::new(UserPtr::from_addr(arg), size_of::<u32>())
        .reader()
        .read()?;
    let region = {
        let mut regions = regions.lock();
        let region = regions
            .slots
            .get_mut(handle as usize)
            .and_then(Option::take)
            .ok_or(ENOENT)?;
        regions.stale = region
            .region
            .segments()
            .ok()
            .and_then(|s| s.first().map(Segment::dma_address));
        region
    };
    // Outside the lock: dropping waits for the engine.
    drop(region);
    Ok(0)
}

/// `STALE_WRITE`: behind a translating IOMMU only, the engine writes its buffer to the first
/// DMA address of the region last unregistered: the IOMMU must block it.
fn stale_write(regions: &Mutex<Regions>) -> Result<isize> {
    let stale = regions.lock().stale.ok_or(ENOENT)?;
    let edu = bound_edu()?;
    if !edu.dev.with(rgup::dma::is_translated)? {
        // Without an IOMMU the write would reach whatever the page holds now.
        return Err(EOPNOTSUPP);
    }
    edu.transfer(stale, 0, 64, true)?;
    Ok(0)
}

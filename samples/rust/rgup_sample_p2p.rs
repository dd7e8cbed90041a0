// SPDX-License-Identifier: GPL-2.0

//! Peer-to-peer DMA with [`rgup::p2p`], in its own module: a driver for QEMU's `edu` device
//! (`-device edu`, PCI 1234:11e8), whose DMA engine copies between its 4 KiB internal buffer and
//! any bus address, moves data out of and into user memory described by [`DmaOnlySgt`]s. When
//! that memory is an `mmap()` of an NVMe controller memory buffer (`p2pmem/allocate`) behind the
//! same PCIe switch, the engine reads and writes the peer device directly, at PCI bus addresses.
//!
//! `/dev/rgup_sample_p2p` takes one ioctl:
//!
//! ```c
//! struct rgup_sample_p2p_copy {
//!         __u64 src, dst, len;    /* in: user addresses, bytes (at most 2048) */
//!         __u32 src_kind;         /* out: 1 bus address, 2 host-mapped (first segment) */
//!         __u32 dst_kind;
//!         __u64 src_dma;          /* out: the first segment's DMA address */
//!         __u64 dst_dma;
//! };
//! #define RGUP_SAMPLE_P2P_COPY _IOWR('r', 0x20, struct rgup_sample_p2p_copy)
//! #define RGUP_SAMPLE_P2P_STAGE _IOWR('r', 0x21, struct rgup_sample_p2p_copy)
//! ```
//!
//! `COPY` maps `src` for the device to read and `dst` for it to write, then runs the engine:
//! each source segment into the buffer, the buffer out to each destination segment.
//!
//! `STAGE` moves `src` to `dst` (at most 1024 bytes) through P2P memory that only devices touch:
//! it allocates a staging area from the published provider closest to `edu`
//! ([`DmaOnlySgt::from_p2pmem`]), and runs the engine `src` -> buffer, buffer -> staging area,
//! staging area -> the other half of the buffer, that half -> `dst`; `dst_kind`/`dst_dma`
//! describe the staging area. Errors are rgup's
//! (`EREMOTEIO` when the memory's provider cannot reach `edu`), `ENODEV` without a bound `edu`,
//! `ETIMEDOUT` if the engine does not finish.

use kernel::{
    device::{
        Bound,
        Core, //
    },
    dma::DataDirection,
    error::to_result,
    fs::File,
    ioctl::_IOWR,
    miscdevice::{
        MiscDevice,
        MiscDeviceOptions,
        MiscDeviceRegistration, //
    },
    pci,
    prelude::*,
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
use rgup::p2p::{
    DmaOnlySgt,
    P2pSegment,
    SegmentKind, //
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

/// `edu`'s registers, mapped with `pci_iomap()`.
///
/// The kernel crate's `pci::Bar` offers accesses up to 4-byte alignment, and `edu` only takes its
/// 64-bit DMA addresses in single 8-byte writes (QEMU `hw/misc/edu.c`), so the sample maps the BAR
/// itself and uses `readq`/`writeq`.
///
/// # Invariants
///
/// `base` maps the first [`regs::BAR_SIZE`] bytes of BAR 0 of `pdev`, which owns the region.
struct EduRegs {
    pdev: *mut kernel::bindings::pci_dev,
    base: *mut kernel::ffi::c_void,
}

// SAFETY: MMIO may be accessed from any thread.
unsafe impl Send for EduRegs {}
// SAFETY: As above; the device serialises register accesses itself.
unsafe impl Sync for EduRegs {}

impl EduRegs {
    fn map(pdev: &pci::Device<Bound>) -> Result<Self> {
        // CAST: `pci::Device` is `#[repr(transparent)]` over `struct pci_dev`.
        let raw = core::ptr::from_ref(pdev)
            .cast::<kernel::bindings::pci_dev>()
            .cast_mut();
        // SAFETY: `raw` is a bound, enabled PCI device.
        to_result(unsafe {
            kernel::bindings::pci_request_region(raw, 0, c"rgup_sample_p2p".as_char_ptr())
        })?;
        // SAFETY: As above; BAR 0 is edu's 1 MiB register window.
        let base =
            unsafe { kernel::bindings::pci_iomap(raw, 0, regs::BAR_SIZE as kernel::ffi::c_ulong) };
        if base.is_null() {
            // SAFETY: Requested just above.
            unsafe { kernel::bindings::pci_release_region(raw, 0) };
            return Err(ENOMEM);
        }
        // INVARIANT: Mapped and requested above.
        Ok(Self { pdev: raw, base })
    }

    fn read64(&self, offset: usize) -> u64 {
        // SAFETY: `offset + 8 <= BAR_SIZE` for every register used; `base` is mapped.
        unsafe { kernel::bindings::readq(self.base.cast::<u8>().add(offset).cast()) }
    }

    fn read32(&self, offset: usize) -> u32 {
        // SAFETY: As above.
        unsafe { kernel::bindings::readl(self.base.cast::<u8>().add(offset).cast()) }
    }

    fn write64(&self, value: u64, offset: usize) {
        // SAFETY: As above.
        unsafe { kernel::bindings::writeq(value, self.base.cast::<u8>().add(offset).cast()) }
    }
}

impl Drop for EduRegs {
    fn drop(&mut self) {
        // SAFETY: Mapped and requested by `map` (type invariant).
        unsafe {
            kernel::bindings::pci_iounmap(self.pdev, self.base);
            kernel::bindings::pci_release_region(self.pdev, 0);
        }
    }
}

module! {
    type: SampleP2p,
    name: "rgup_sample_p2p",
    authors: ["rgup developers"],
    description: "rgup sample: peer-to-peer DMA by QEMU's edu device through rgup::p2p",
    license: "GPL",
}

/// The bound `edu`, for the misc device's ioctls.
///
/// # Invariants
///
/// While stored in [`EDU`], both pointers are valid: they point into the driver data of the
/// bound device, whose `Drop` takes them out of [`EDU`] (under its lock) before anything they
/// point to goes away.
struct Edu {
    pdev: *const pci::Device<Bound>,
    regs: *const EduRegs,
}

// SAFETY: Only used under `EDU`'s lock, from any thread.
unsafe impl Send for Edu {}

kernel::sync::global_lock! {
    // SAFETY: Initialised in the module initialiser before first use.
    unsafe(uninit) static EDU: Mutex<Option<Edu>> = None;
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

/// QEMU's `edu`: vendor 0x1234, which `pci::Vendor` does not name (it is not in `pci_ids.h`).
const EDU_ID: pci::DeviceId = {
    let raw = kernel::bindings::pci_device_id {
        vendor: 0x1234,
        device: 0x11e8,
        subvendor: !0,
        subdevice: !0,
        class: 0,
        class_mask: 0,
        driver_data: 0,
        override_only: 0,
    };
    // SAFETY: `pci::DeviceId` is a `#[repr(transparent)]` wrapper of `pci_device_id` without
    // further invariants (see its `RawDeviceId` impl); this is what `DeviceId::from_id` builds.
    unsafe { core::mem::transmute::<kernel::bindings::pci_device_id, pci::DeviceId>(raw) }
};

kernel::pci_device_table!(
    PCI_TABLE,
    <EduDriver as pci::Driver>::IdInfo,
    [(EDU_ID, ())]
);

#[pin_data(PinnedDrop)]
struct EduData<'bound> {
    pdev: &'bound pci::Device<Bound>,
    regs: EduRegs,
}

impl pci::Driver for EduDriver {
    type IdInfo = ();
    type Data<'bound> = EduData<'bound>;

    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        let regs = setup(pdev);
        let pdev: &'bound pci::Device<Bound> = pdev;
        try_pin_init!(EduData { pdev, regs: regs? }).pin_chain(|data| {
            // INVARIANT: `data` is pinned in place until its `Drop`, which clears `EDU` first.
            *EDU.lock() = Some(Edu {
                pdev: core::ptr::from_ref(data.pdev),
                regs: core::ptr::from_ref(&data.regs),
            });
            Ok(())
        })
    }
}

/// Enables `edu`, maps its registers and checks it is one.
fn setup(pdev: &pci::Device<Core<'_>>) -> Result<EduRegs> {
    pdev.enable_device_mem()?;
    pdev.set_master();
    let regs = EduRegs::map(pdev)?;
    let id = regs.read32(regs::ID);
    if id & 0xff != 0xed {
        return Err(ENODEV);
    }
    dev_info!(pdev, "edu {:#x} bound: rgup P2P DMA sample\n", id);
    Ok(regs)
}

#[pinned_drop]
impl PinnedDrop for EduData<'_> {
    fn drop(self: Pin<&mut Self>) {
        *EDU.lock() = None;
    }
}

/// The argument of `RGUP_SAMPLE_P2P_COPY`.
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

// SAFETY: `u64` and `u32` fields, no padding: every byte pattern is valid, and all bytes are
// fields.
unsafe impl FromBytes for CopyArgs {}
// SAFETY: As above.
unsafe impl AsBytes for CopyArgs {}

const RGUP_SAMPLE_P2P_COPY: u32 = _IOWR::<CopyArgs>('r' as u32, 0x20);
const RGUP_SAMPLE_P2P_STAGE: u32 = _IOWR::<CopyArgs>('r' as u32, 0x21);

struct P2pFile;

#[vtable]
impl MiscDevice for P2pFile {
    type Ptr = KBox<Self>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
        Ok(KBox::new(P2pFile, GFP_KERNEL)?)
    }

    fn ioctl(_me: &P2pFile, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        let staged = match cmd {
            RGUP_SAMPLE_P2P_COPY => false,
            RGUP_SAMPLE_P2P_STAGE => true,
            _ => return Err(ENOTTY),
        };
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
        let edu = EDU.lock();
        let edu = edu.as_ref().ok_or(ENODEV)?;
        // SAFETY: Valid while stored in `EDU`, whose lock we hold (type invariant of `Edu`).
        let (pdev, regs) = unsafe { (&*edu.pdev, &*edu.regs) };
        let dev: &kernel::device::Device<Bound> = pdev.as_ref();
        let src = DmaOnlySgt::from_user(dev, addr(args.src)?, len, DataDirection::ToDevice)?;
        let dst = DmaOnlySgt::from_user(dev, addr(args.dst)?, len, DataDirection::FromDevice)?;
        (args.src_kind, args.src_dma) = first(&src);
        if staged {
            let stage = DmaOnlySgt::from_p2pmem(dev, len, DataDirection::Bidirectional)?;
            let other_half = (regs::BUFFER_SIZE / 2) as u64;
            run(regs, src.segments(), false, 0)?;
            run(regs, stage.segments(), true, 0)?;
            run(regs, stage.segments(), false, other_half)?;
            run(regs, dst.segments(), true, other_half)?;
            (args.dst_kind, args.dst_dma) = first(&stage);
        } else {
            run(regs, src.segments(), false, 0)?;
            run(regs, dst.segments(), true, 0)?;
            (args.dst_kind, args.dst_dma) = first(&dst);
        }
        writer.write(&args)?;
        Ok(0)
    }
}

fn addr(user: u64) -> Result<usize> {
    usize::try_from(user).map_err(|_| EINVAL)
}

/// The uAPI kind and the DMA address of a list's first segment.
fn first(sgt: &DmaOnlySgt<'_>) -> (u32, u64) {
    match sgt.segments().first() {
        Some(s) if s.kind() == SegmentKind::BusAddr => (1, s.dma_address()),
        Some(s) => (2, s.dma_address()),
        None => (0, 0),
    }
}

/// Runs the engine once per segment: into the buffer from `base` on (`to_ram` false), or out
/// of it.
fn run(bar: &EduRegs, segments: &[P2pSegment], to_ram: bool, base: u64) -> Result {
    let mut offset = base;
    for seg in segments {
        let (src, dst, cmd) = if to_ram {
            (
                regs::BUFFER + offset,
                seg.dma_address(),
                regs::CMD_RUN | regs::CMD_TO_RAM,
            )
        } else {
            (seg.dma_address(), regs::BUFFER + offset, regs::CMD_RUN)
        };
        bar.write64(src, regs::DMA_SRC);
        bar.write64(dst, regs::DMA_DST);
        bar.write64(seg.len() as u64, regs::DMA_COUNT);
        bar.write64(cmd, regs::DMA_CMD);
        // The engine takes about 100 ms of virtual time per transfer.
        let mut waited = 0;
        while bar.read64(regs::DMA_CMD) & regs::CMD_RUN != 0 {
            if waited >= 5000 {
                return Err(ETIMEDOUT);
            }
            fsleep(Delta::from_millis(10));
            waited += 10;
        }
        offset += seg.len() as u64;
    }
    Ok(())
}

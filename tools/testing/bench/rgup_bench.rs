// SPDX-License-Identifier: GPL-2.0

//! Benchmark module: rgup's library calls against the C a driver writes for the same job, on the
//! same user pages, in the same module, timed inside the kernel (no system call in the time):
//!
//! - `RGUP_BENCH_P2P`: building and mapping a [`DmaOnlySgt`] against `rgup_bench_c.c`'s
//!   `pin_user_pages_fast(FOLL_PCI_P2PDMA)`, `sg_alloc_table_from_pages_segment()`,
//!   `dma_map_sgtable()`, a read of the DMA list and back, with a page array per mapping (and,
//!   as the third implementation, with one array for all, the baseline before 2026-12-01);
//! - `RGUP_BENCH_PIN`: [`PinRequest::pin`] + drop (write access, locked path) against
//!   `rgup_bench_c.c`'s `pin_user_pages(FOLL_WRITE | FOLL_LONGTERM)` under the mmap lock +
//!   `unpin_user_pages()`, what `gup_test`'s `PIN_LONGTERM_BENCHMARK` times.
//!
//! - `RGUP_BENCH_DMA`: mapping a pinned range for QEMU's `edu` behind an IOMMU (`run-bench.sh
//!   dma` boots `--p2p --iommu`) as a [`DmaRegion`](rgup::dma::DmaRegion) (one IOVA range: `dma_iova_try_alloc()`,
//!   `dma_iova_link()` per run, `dma_iova_sync()`, and `dma_iova_destroy()` back) against
//!   [`PinnedPages::dma_map`](rgup::pin::PinnedPages::dma_map) (`sg_alloc_table_from_pages_segment()` + `dma_map_sgtable()` and
//!   back); the range is pinned once, outside the time. The module binds `edu` for it and
//!   reaches it through a [`BoundDevice`].
//!
//! Not a test: `tools/testing/bench/rgup_p2p_bench.c`, `rgup_pin_bench.c` and `rgup_dma_bench.c`
//! drive it through `/dev/rgup_bench` and report ratios.
//!
//! ```c
//! struct rgup_bench { __u64 addr, len; __u32 iters, impl; __u64 ns; __u32 segments, pad; };
//! #define RGUP_BENCH_P2P _IOWR('r', 0x30, struct rgup_bench)   /* impl: 0 rgup, 1 C, 2 C with
//!                                                               * one page array for all, 3 C
//!                                                               * through rgup's calls */
//! #define RGUP_BENCH_PIN _IOWR('r', 0x31, struct rgup_bench)
//! #define RGUP_BENCH_DMA _IOWR('r', 0x32, struct rgup_bench)   /* impl: 0 DmaRegion, 1 dma_map */
//! /* impl: 0 rgup (RLIMIT_MEMLOCK accounting), 1 C, 2 rgup without accounting, 3 rgup's
//!  * preflight alone (PinRequest::check), 4 C's mmap_read_lock + unlock alone, 5 C with
//!  * the accounting rgup does (pinned_vm, RLIMIT_MEMLOCK, mmgrab), 6 the same C through the
//!  * out-of-line calls rgup makes (rgup_bench_pin_c_floor); segments: pages */
//! ```

use kernel::{
    bindings,
    device::{
        Bound,
        Device, //
    },
    dma::DataDirection,
    ffi::{
        c_uint,
        c_ulong, //
    },
    fs::File,
    ioctl::_IOWR,
    miscdevice::{
        MiscDevice,
        MiscDeviceOptions,
        MiscDeviceRegistration, //
    },
    prelude::*,
    time::{
        Instant,
        Monotonic, //
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
use kernel::{
    device::Core,
    pci, //
};
use rgup::Access;
use rgup::{
    dma::{
        BoundDevice,
        Quiesce, //
        Segment,
    },
    p2p::DmaOnlySgt,
    pin::{
        Accounting,
        PinRequest, //
    },
};

module! {
    type: Bench,
    name: "rgup_bench",
    authors: ["rgup developers"],
    description: "rgup benchmark: rgup's pins and DmaOnlySgt vs the same jobs in C",
    license: "GPL",
}

// The C half of this module (rgup_bench.h). Zero-sized C structs pass by pointer, as in the
// kernel's own bindings, hence `improper_ctypes`.
#[allow(improper_ctypes)]
extern "C" {
    fn rgup_bench_p2p_c(
        dev: *mut bindings::device,
        addr: c_ulong,
        len: c_ulong,
        iters: c_uint,
        one_array: bool,
        nents: *mut c_uint,
    ) -> i64;
    fn rgup_bench_p2p_c_floor(
        dev: *mut bindings::device,
        addr: c_ulong,
        len: c_ulong,
        iters: c_uint,
        nents: *mut c_uint,
    ) -> i64;
    fn rgup_bench_pin_c(addr: c_ulong, len: c_ulong, iters: c_uint, what: c_uint) -> i64;
    fn rgup_bench_pin_c_floor(addr: c_ulong, len: c_ulong, iters: c_uint) -> i64;
    fn rgup_bench_device_create() -> *mut bindings::device;
    fn rgup_bench_device_destroy(dev: *mut bindings::device);
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct BenchArgs {
    addr: u64,
    len: u64,
    iters: u32,
    implementation: u32,
    ns: u64,
    segments: u32,
    pad: u32,
}

// SAFETY: Integer fields, no padding: every byte pattern is valid, and all bytes are fields.
unsafe impl FromBytes for BenchArgs {}
// SAFETY: As above.
unsafe impl AsBytes for BenchArgs {}

const RGUP_BENCH_P2P: u32 = _IOWR::<BenchArgs>('r' as u32, 0x30);
const RGUP_BENCH_PIN: u32 = _IOWR::<BenchArgs>('r' as u32, 0x31);
const RGUP_BENCH_DMA: u32 = _IOWR::<BenchArgs>('r' as u32, 0x32);

/// The faux device both implementations map for.
///
/// # Invariants
///
/// `0` is a bound faux device created by `rgup_bench_device_create()`, destroyed on drop.
struct BenchDevice(*mut bindings::device);

// SAFETY: The device pointer may be used from any thread.
unsafe impl Send for BenchDevice {}
// SAFETY: As above.
unsafe impl Sync for BenchDevice {}

impl BenchDevice {
    fn dev(&self) -> &Device<Bound> {
        // SAFETY: Bound and alive until `self` is dropped (type invariant).
        unsafe { Device::from_raw(self.0) }
    }
}

impl Drop for BenchDevice {
    fn drop(&mut self) {
        // SAFETY: Created by `rgup_bench_device_create()` (type invariant).
        unsafe { rgup_bench_device_destroy(self.0) };
    }
}

kernel::sync::global_lock! {
    // SAFETY: Initialised in the module initialiser before first use.
    unsafe(uninit) static DEVICE: Mutex<Option<BenchDevice>> = None;
}

kernel::sync::global_lock! {
    // SAFETY: Initialised in the module initialiser before first use.
    unsafe(uninit) static EDU: Mutex<Option<BoundDevice>> = None;
}

/// Binds QEMU's `edu` (when there is one) for `RGUP_BENCH_DMA`.
struct EduDriver;

/// QEMU's `edu`: vendor 0x1234, which `pci::Vendor` does not name (it is not in `pci_ids.h`).
const EDU_ID: pci::DeviceId = {
    let raw = bindings::pci_device_id {
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
    unsafe { core::mem::transmute::<bindings::pci_device_id, pci::DeviceId>(raw) }
};

kernel::pci_device_table!(
    PCI_TABLE,
    <EduDriver as pci::Driver>::IdInfo,
    [(EDU_ID, ())]
);

impl pci::Driver for EduDriver {
    type IdInfo = ();
    type Data<'bound> = ();

    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        *EDU.lock() = Some(BoundDevice::new(pdev.as_ref())?);
        Ok(())
    }

    fn unbind<'bound>(_pdev: &'bound pci::Device<Core<'_>>, _this: Pin<&Self::Data<'bound>>) {
        *EDU.lock() = None;
    }
}

/// Nothing to stop: the benchmark never starts the device.
struct Idle;

impl Quiesce for Idle {
    fn quiesce(&self, _segments: &[Segment]) {}
}

#[pin_data]
struct Bench {
    #[pin]
    _driver: kernel::driver::Registration<pci::Adapter<EduDriver>>,
    #[pin]
    _miscdev: MiscDeviceRegistration<BenchFile>,
    // Dropped after the misc device: destroys the faux device.
    _device: DeviceSlot,
}

/// Empties [`DEVICE`] when the module goes.
struct DeviceSlot;

impl Drop for DeviceSlot {
    fn drop(&mut self) {
        *DEVICE.lock() = None;
    }
}

impl kernel::InPlaceModule for Bench {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        // SAFETY: Called once, before any use of `DEVICE` and `EDU`.
        unsafe {
            DEVICE.init();
            EDU.init();
        }
        // SAFETY: Plain C call.
        let dev = unsafe { rgup_bench_device_create() };
        let created = !dev.is_null();
        if created {
            // INVARIANT: Just created.
            *DEVICE.lock() = Some(BenchDevice(dev));
        }
        try_pin_init!(Self {
            _driver <- kernel::driver::Registration::new(c"rgup_bench", module),
            _miscdev <- MiscDeviceRegistration::register(MiscDeviceOptions {
                name: c"rgup_bench",
            }),
            _device: DeviceSlot,
        })
        .pin_chain(move |_| if created { Ok(()) } else { Err(ENODEV) })
    }
}

struct BenchFile;

#[vtable]
impl MiscDevice for BenchFile {
    type Ptr = KBox<Self>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
        Ok(KBox::new(BenchFile, GFP_KERNEL)?)
    }

    fn ioctl(_me: &BenchFile, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        if cmd != RGUP_BENCH_P2P && cmd != RGUP_BENCH_PIN && cmd != RGUP_BENCH_DMA {
            return Err(ENOTTY);
        }
        let user = UserSlice::new(UserPtr::from_addr(arg), size_of::<BenchArgs>());
        let (mut reader, mut writer) = user.reader_writer();
        let mut args: BenchArgs = reader.read()?;
        match cmd {
            RGUP_BENCH_PIN => bench_pin(&mut args)?,
            RGUP_BENCH_DMA => bench_dma(&mut args)?,
            _ => bench_p2p(&mut args)?,
        }
        writer.write(&args)?;
        Ok(0)
    }
}

/// `RGUP_BENCH_PIN`: `iters` pins and unpins of current's `[addr, addr + len)`.
fn bench_pin(args: &mut BenchArgs) -> Result {
    let addr = usize::try_from(args.addr).map_err(|_| EINVAL)?;
    let len = usize::try_from(args.len).map_err(|_| EINVAL)?;
    let accounting = match args.implementation {
        0 => Accounting::Memlock,
        2 => Accounting::None,
        3 => {
            let start = Instant::<Monotonic>::now();
            for _ in 0..args.iters {
                PinRequest::new(addr, len, Access::Write).check()?;
            }
            args.ns = start.elapsed().as_nanos() as u64;
            return Ok(());
        }
        1 | 4 | 5 | 6 => {
            // SAFETY: Plain C calls; they pin and unpin current's range (or only lock its mm).
            let ns = unsafe {
                if args.implementation == 6 {
                    rgup_bench_pin_c_floor(addr as c_ulong, len as c_ulong, args.iters)
                } else {
                    rgup_bench_pin_c(
                        addr as c_ulong,
                        len as c_ulong,
                        args.iters,
                        args.implementation,
                    )
                }
            };
            if ns < 0 {
                return Err(Error::from_errno(ns as i32));
            }
            args.ns = ns as u64;
            return Ok(());
        }
        _ => return Err(EINVAL),
    };
    let start = Instant::<Monotonic>::now();
    for _ in 0..args.iters {
        // Pinned and unpinned, and nothing else, as in the C loops.
        drop(
            PinRequest::new(addr, len, Access::Write)
                .accounting(accounting)
                .pin()?,
        );
    }
    args.ns = start.elapsed().as_nanos() as u64;
    Ok(())
}

/// `RGUP_BENCH_P2P`: `iters` maps and unmaps of current's `[addr, addr + len)` for the device.
fn bench_p2p(args: &mut BenchArgs) -> Result {
    let addr = usize::try_from(args.addr).map_err(|_| EINVAL)?;
    let len = usize::try_from(args.len).map_err(|_| EINVAL)?;
    let guard = DEVICE.lock();
    let device = guard.as_ref().ok_or(ENODEV)?;
    match args.implementation {
        0 => {
            // Outside the loop, as the C takes its `struct device *` once.
            let dev = device.dev();
            let start = Instant::<Monotonic>::now();
            for _ in 0..args.iters {
                let sgt = DmaOnlySgt::from_user(dev, addr, len, DataDirection::Bidirectional)?;
                args.segments = sgt.segments().len() as u32;
            }
            args.ns = start.elapsed().as_nanos() as u64;
        }
        1..=3 => {
            let mut nents: c_uint = 0;
            // SAFETY: `device` is a bound device; the C side pins current's range.
            let ns = unsafe {
                if args.implementation == 3 {
                    rgup_bench_p2p_c_floor(
                        device.0,
                        addr as c_ulong,
                        len as c_ulong,
                        args.iters,
                        &mut nents,
                    )
                } else {
                    rgup_bench_p2p_c(
                        device.0,
                        addr as c_ulong,
                        len as c_ulong,
                        args.iters,
                        args.implementation == 2,
                        &mut nents,
                    )
                }
            };
            if ns < 0 {
                return Err(Error::from_errno(ns as i32));
            }
            args.ns = ns as u64;
            args.segments = nents;
        }
        _ => return Err(EINVAL),
    }
    Ok(())
}

/// `RGUP_BENCH_DMA`: `iters` maps and unmaps of a pin of current's `[addr, addr + len)` for
/// `edu`: as a [`DmaRegion`](rgup::dma::DmaRegion) (impl 0) or with [`PinnedPages::dma_map`](rgup::pin::PinnedPages::dma_map) (impl 1).
fn bench_dma(args: &mut BenchArgs) -> Result {
    let addr = usize::try_from(args.addr).map_err(|_| EINVAL)?;
    let len = usize::try_from(args.len).map_err(|_| EINVAL)?;
    let edu = EDU.lock().as_ref().cloned().ok_or(ENODEV)?;
    let mut pinned = Some(PinRequest::new(addr, len, Access::Write).pin()?);
    edu.with(|dev| -> Result {
        let dir = DataDirection::Bidirectional;
        let start = Instant::<Monotonic>::now();
        for _ in 0..args.iters {
            let pages = pinned.take().ok_or(EINVAL)?;
            match args.implementation {
                0 => {
                    let region = pages.into_dma_region(dev, dir, Idle)?;
                    args.segments = region.segments()?.len() as u32;
                    pinned = Some(region.into_pages());
                }
                1 => {
                    args.segments = pages.dma_map(dev, dir)?.segment_count() as u32;
                    pinned = Some(pages);
                }
                _ => return Err(EINVAL),
            }
        }
        args.ns = start.elapsed().as_nanos() as u64;
        Ok(())
    })?
}

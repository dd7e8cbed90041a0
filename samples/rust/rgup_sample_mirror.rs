// SPDX-License-Identifier: GPL-2.0

//! A device with its own page table, kept coherent with a process by [`rgup::mirror`], in its
//! own module, the way an out-of-tree GPU or RDMA driver would use rgup.
//!
//! The "device" has a tiny page table of at most [`MAX_PAGES`] entries (a page frame number and
//! a write bit each), which its [`MirrorOps`] implementation fills from
//! [`MirrorOps::install`] and zaps in [`MirrorOps::invalidate`]; its "DMA" reads user memory only
//! through pages that both its own page table and rgup's translation agree on. `/dev/rgup_sample_mirror`
//! takes three ioctls on one mirror per open file:
//!
//! ```c
//! struct rgup_sample_mirror_bind { __u64 addr, len; };            /* page-aligned */
//! struct rgup_sample_mirror_read { __u64 addr, len, buf, faults; }; /* faults: out */
//! struct rgup_sample_mirror_info {
//!         __u64 addr;             /* in: a mirrored address */
//!         __u64 pfn;              /* out: the device PTE's pfn there, 0 if none */
//!         __u64 valid_ptes;       /* out: valid entries of the device page table */
//!         __u64 installs;         /* out: translations installed so far */
//!         __u64 invalidations;    /* out: invalidations received */
//! };
//! #define RGUP_SAMPLE_MIRROR_BIND _IOW('r', 0x10, struct rgup_sample_mirror_bind)
//! #define RGUP_SAMPLE_MIRROR_READ _IOWR('r', 0x11, struct rgup_sample_mirror_read)
//! #define RGUP_SAMPLE_MIRROR_INFO _IOWR('r', 0x12, struct rgup_sample_mirror_info)
//! ```

use kernel::{
    fs::File,
    ioctl::{
        _IOW,
        _IOWR, //
    },
    miscdevice::{
        MiscDevice,
        MiscDeviceOptions,
        MiscDeviceRegistration, //
    },
    new_mutex,
    page::{
        PAGE_SHIFT,
        PAGE_SIZE, //
    },
    prelude::*,
    sync::Mutex,
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
    mirror::{
        InstallWindow,
        Invalidated,
        Invalidation,
        Mirror,
        MirrorOps, //
    },
    Access,
};

module! {
    type: SampleMirror,
    name: "rgup_sample_mirror",
    authors: ["rgup developers"],
    description: "rgup sample: a device page table kept coherent with rgup::mirror",
    license: "GPL",
}

/// The size of the device's page table, in pages.
const MAX_PAGES: usize = 1024;

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct BindArgs {
    addr: u64,
    len: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct ReadArgs {
    addr: u64,
    len: u64,
    buf: u64,
    faults: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct InfoArgs {
    addr: u64,
    pfn: u64,
    valid_ptes: u64,
    installs: u64,
    invalidations: u64,
}

// SAFETY: `u64` fields only, no padding: every byte pattern is valid, and all bytes are fields.
unsafe impl FromBytes for BindArgs {}
// SAFETY: As above.
unsafe impl FromBytes for ReadArgs {}
// SAFETY: As above.
unsafe impl AsBytes for ReadArgs {}
// SAFETY: As above.
unsafe impl FromBytes for InfoArgs {}
// SAFETY: As above.
unsafe impl AsBytes for InfoArgs {}

const BIND: u32 = _IOW::<BindArgs>('r' as u32, 0x10);
const READ: u32 = _IOWR::<ReadArgs>('r' as u32, 0x11);
const INFO: u32 = _IOWR::<InfoArgs>('r' as u32, 0x12);

/// The simulated device's page table: one entry per page of the mirror (`pfn << 1 | writable`, 0 for
/// none), and counters.
struct DevicePageTable {
    start: usize,
    ptes: KVec<u64>,
    installs: u64,
    invalidations: u64,
}

impl DevicePageTable {
    fn index(&self, addr: usize) -> usize {
        (addr - self.start) >> PAGE_SHIFT
    }
}

// `DevicePageTable` is `Unpin`: the pinned receivers dereference to `&mut DevicePageTable`.
impl MirrorOps for DevicePageTable {
    fn install(self: Pin<&mut Self>, window: &InstallWindow<'_>) {
        let this = self.get_mut();
        // "Program the hardware": one PTE per translation.
        for t in window.translations() {
            let i = this.index(t.addr());
            this.ptes[i] = ((t.pfn() as u64) << 1) | u64::from(t.writable());
            this.installs += 1;
        }
    }

    fn invalidate(self: Pin<&mut Self>, inv: &Invalidation<'_>) -> Invalidated {
        let this = self.get_mut();
        // "Zap the PTEs and flush the device TLB": nothing may use them after we return.
        let (first, last) = (this.index(inv.start()), this.index(inv.end() - 1));
        this.ptes[first..=last].fill(0);
        this.invalidations += 1;
        inv.done()
    }
}

#[pin_data]
struct SampleMirror {
    _client: rgup::Client,
    #[pin]
    _miscdev: MiscDeviceRegistration<MirrorFile>,
}

impl kernel::InPlaceModule for SampleMirror {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _client: rgup::Client::register(c"rgup_sample_mirror")?,
            _miscdev <- MiscDeviceRegistration::register(MiscDeviceOptions {
                name: c"rgup_sample_mirror",
            }),
        })
    }
}

/// One open file: at most one mirror.
#[pin_data]
struct MirrorFile {
    #[pin]
    mirror: Mutex<Option<Pin<KBox<Mirror<DevicePageTable>>>>>,
}

#[vtable]
impl MiscDevice for MirrorFile {
    type Ptr = Pin<KBox<Self>>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Self>>> {
        KBox::try_pin_init(
            try_pin_init!(MirrorFile {
                mirror <- new_mutex!(None),
            }),
            GFP_KERNEL,
        )
    }

    fn ioctl(me: Pin<&MirrorFile>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        let mut slot = me.mirror.lock();
        match cmd {
            BIND => {
                let args: BindArgs = read_arg(arg)?;
                if slot.is_some() {
                    return Err(EBUSY);
                }
                *slot = Some(bind(args)?);
            }
            READ => {
                let mut args: ReadArgs = read_arg(arg)?;
                args.faults = device_read(slot.as_ref().ok_or(ENXIO)?, &args)?;
                write_arg(arg, &args)?;
            }
            INFO => {
                let mut args: InfoArgs = read_arg(arg)?;
                let mirror = slot.as_ref().ok_or(ENXIO)?;
                let addr = usize::try_from(args.addr).map_err(|_| EINVAL)?;
                if addr < mirror.start() || addr >= mirror.end() {
                    return Err(EINVAL);
                }
                let dev = mirror.lock();
                args.pfn = dev.ptes[dev.index(addr)] >> 1;
                args.valid_ptes = dev.ptes.iter().filter(|&&p| p != 0).count() as u64;
                args.installs = dev.installs;
                args.invalidations = dev.invalidations;
                drop(dev);
                write_arg(arg, &args)?;
            }
            _ => return Err(ENOTTY),
        }
        Ok(0)
    }
}

fn read_arg<T: FromBytes>(arg: usize) -> Result<T> {
    UserSlice::new(UserPtr::from_addr(arg), size_of::<T>())
        .reader()
        .read()
}

fn write_arg<T: AsBytes>(arg: usize, val: &T) -> Result {
    UserSlice::new(UserPtr::from_addr(arg), size_of::<T>())
        .writer()
        .write(val)
}

/// Mirrors the caller's `[addr, addr + len)` into a new device.
fn bind(args: BindArgs) -> Result<Pin<KBox<Mirror<DevicePageTable>>>> {
    let start = usize::try_from(args.addr).map_err(|_| EINVAL)?;
    let len = usize::try_from(args.len).map_err(|_| EINVAL)?;
    if len == 0 || len > MAX_PAGES * PAGE_SIZE {
        return Err(EINVAL);
    }
    // Allocated here, with GFP_KERNEL: never under the mirror's lock.
    let ptes = KVec::from_elem(0u64, len.div_ceil(PAGE_SIZE), GFP_KERNEL)?;
    let device = DevicePageTable {
        start,
        ptes,
        installs: 0,
        invalidations: 0,
    };
    let task = current!();
    let mm = task.mm().ok_or(ESRCH)?;
    KBox::pin_init(Mirror::new(mm, start, len, device), GFP_KERNEL)
}

/// The device's DMA read of `[addr, addr + len)` into the user buffer: through pages its own
/// page table maps, faulting (one round for the rest of the range) where it has no PTE.
fn device_read(mirror: &Mirror<DevicePageTable>, args: &ReadArgs) -> Result<u64> {
    let addr = usize::try_from(args.addr).map_err(|_| EINVAL)?;
    let len = usize::try_from(args.len).map_err(|_| EINVAL)?;
    let end = addr.checked_add(len).ok_or(EINVAL)?;
    if len == 0 || addr < mirror.start() || end > mirror.end() {
        return Err(EINVAL);
    }
    let mut buf = KVVec::from_elem(0u8, len, GFP_KERNEL)?;
    let (mut done, mut faults) = (0, 0);
    while done < len {
        let missing = {
            let dev = mirror.lock();
            let mut missing = None;
            while done < len {
                let at = addr + done;
                let (offset, n) = (
                    at & (PAGE_SIZE - 1),
                    (PAGE_SIZE - (at & (PAGE_SIZE - 1))).min(len - done),
                );
                match (dev.ptes[dev.index(at)], dev.page(at)) {
                    (pte, Some((page, _))) if pte != 0 => {
                        // The page stays mapped while `dev` (the mirror's lock) is held.
                        page.read(offset, &mut buf[done..done + n])?;
                        done += n;
                    }
                    _ => {
                        missing = Some(at & !(PAGE_SIZE - 1));
                        break;
                    }
                }
            }
            missing
        };
        if let Some(page) = missing {
            mirror.fault(page, end - page, Access::Read)?;
            faults += 1;
        }
    }
    UserSlice::new(UserPtr::from_addr(args.buf as usize), len)
        .writer()
        .write_slice(&buf)?;
    Ok(faults)
}

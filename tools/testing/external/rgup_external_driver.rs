// SPDX-License-Identifier: GPL-2.0

//! rgup_external: a driver that lives outside rgup's tree and builds against rgup's SDK only
//! (`librgup.rmeta`, rgup's `Module.symvers` and `rgup.mk`; see `Kbuild` next to this file and
//! `Documentation/rgup/drivers.rst`, which shows this file).
//!
//! It uses the public API the way a driver with long-lived registrations does: the process that
//! opens `/dev/rgup_external` (the *opener*) registers its memory; any process holding the file
//! may then drive it, so the pins and mirrors work on the opener's mm, held by the file
//! (`ARef<Mm>`), never on the caller's. The commands are in `rgup_external_uapi.h`; the kselftest
//! `rgup_external_test` drives them.
//!
//! The driver's "device" is a faux device with a 64-bit DMA mask, one per open file, so that the
//! pins can be mapped for DMA.

use core::sync::atomic::{
    AtomicU32,
    Ordering, //
};
use kernel::{
    bindings,
    device::{
        Bound,
        Device, //
    },
    dma::DataDirection,
    error::to_result,
    faux,
    fs::File,
    ioctl::{
        _IO,
        _IOR,
        _IOW,
        _IOWR, //
    },
    miscdevice::{
        MiscDevice,
        MiscDeviceOptions,
        MiscDeviceRegistration, //
    },
    mm::{
        Mm,
        MmWithUser, //
    },
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    str::CString,
    sync::{
        aref::ARef,
        Mutex, //
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
    dma::SegmentKind,
    mirror::{
        Invalidated,
        Invalidation,
        Mirror,
        MirrorOps,
        PageState, //
    },
    p2p::DmaOnlySgt,
    pin::{
        PinRequest,
        PinnedPages, //
    },
    Access, //
};

module! {
    type: RgupExternal,
    name: "rgup_external",
    authors: ["rgup developers"],
    description: "A driver built outside rgup's tree against rgup's SDK",
    license: "GPL",
    params: {
        require_minor: i64 {
            default: -1,
            description: "Ask rgup for this minor version instead of the one built against \
                          (tests the refusal of an incompatible rgup)",
        },
    },
}

struct RgupExternal {
    _miscdev: Pin<KBox<MiscDeviceRegistration<ExternalFile>>>,
}

impl kernel::Module for RgupExternal {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // First: refuse a loaded rgup that cannot serve the version this driver was built for.
        let minor = match module_parameters::require_minor.value() {
            m if m < 0 => rgup::VERSION.minor,
            m => u32::try_from(m).map_err(|_| EINVAL)?,
        };
        rgup::require_version(rgup::VERSION.major, minor)?;
        let v = rgup::version();
        pr_info!(
            "built against rgup {}.{}.{}, running on rgup {}.{}.{}\n",
            rgup::VERSION.major,
            rgup::VERSION.minor,
            rgup::VERSION.patch,
            v.major,
            v.minor,
            v.patch
        );
        let miscdev = KBox::pin_init(
            MiscDeviceRegistration::register(MiscDeviceOptions {
                name: c"rgup_external",
            }),
            GFP_KERNEL,
        )?;
        Ok(Self { _miscdev: miscdev })
    }
}

const RGUP_EXT_PIN: u32 = _IOWR::<PinArgs>('x' as u32, 1);
const RGUP_EXT_READ: u32 = _IOW::<RangeArgs>('x' as u32, 2);
const RGUP_EXT_DIRTY: u32 = _IOW::<RangeArgs>('x' as u32, 3);
const RGUP_EXT_DMA: u32 = _IOWR::<DmaArgs>('x' as u32, 4);
const RGUP_EXT_UNPIN: u32 = _IO('x' as u32, 5);
const RGUP_EXT_MIRROR: u32 = _IOWR::<MirrorArgs>('x' as u32, 6);
const RGUP_EXT_MIRROR_QUERY: u32 = _IOR::<MirrorQuery>('x' as u32, 7);

/// `struct rgup_ext_pin`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct PinArgs {
    addr: u64,
    len: u64,
    write: u32,
    check_errno: i32,
    vmas: u64,
    pages: u64,
    runs: u64,
    folios: u64,
    charged: u64,
}

/// `struct rgup_ext_range`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct RangeArgs {
    offset: u64,
    len: u64,
    buf: u64,
}

/// `struct rgup_ext_dma`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct DmaArgs {
    dir: u32,
    reserved: u32,
    addr: u64,
    len: u64,
    pin_segments: u64,
    pin_bytes: u64,
    sgt_segments: u64,
    sgt_bytes: u64,
    sgt_host_mapped: u64,
}

/// `struct rgup_ext_mirror`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct MirrorArgs {
    addr: u64,
    len: u64,
    states: u64,
    states_after: u64,
    mirrored_pages: u64,
    exclusive: u32,
    reserved: u32,
}

/// `struct rgup_ext_mirror_query`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct MirrorQuery {
    invalidations: u64,
    first_exclusive: u32,
    first_present: u32,
}

// SAFETY: Plain `#[repr(C)]` structs of integers without padding: any bytes are a valid value,
// and every byte of a value is initialised.
unsafe impl FromBytes for PinArgs {}
// SAFETY: As above.
unsafe impl AsBytes for PinArgs {}
// SAFETY: As above.
unsafe impl FromBytes for RangeArgs {}
// SAFETY: As above.
unsafe impl FromBytes for DmaArgs {}
// SAFETY: As above.
unsafe impl AsBytes for DmaArgs {}
// SAFETY: As above.
unsafe impl FromBytes for MirrorArgs {}
// SAFETY: As above.
unsafe impl AsBytes for MirrorArgs {}
// SAFETY: As above.
unsafe impl AsBytes for MirrorQuery {}

/// The device side of the mirror: it keeps no page table of its own (it reads the mirror's
/// table), it counts invalidations.
#[derive(Default)]
struct ExternalDevice {
    invalidations: u64,
}

impl MirrorOps for ExternalDevice {
    fn invalidate(mut self: Pin<&mut Self>, inv: &Invalidation<'_>) -> Invalidated {
        self.invalidations += 1;
        inv.done()
    }
}

/// What one open file holds.
struct FileState {
    /// The opener's mm (`mmgrab()`): the pins and mirrors are of this address space.
    mm: ARef<Mm>,
    pin: Option<PinnedPages>,
    mirror: Option<Pin<KBox<Mirror<ExternalDevice>>>>,
    /// The first address of `mirror`.
    mirror_addr: usize,
}

impl FileState {
    /// The opener's mm with users, or `ESRCH` once it has exited.
    fn mm(&self) -> Result<ARef<MmWithUser>> {
        self.mm.mmget_not_zero().ok_or(ESRCH)
    }
}

#[pin_data]
struct ExternalFile {
    /// The DMA device of this file.
    device: faux::Registration,
    #[pin]
    state: Mutex<FileState>,
}

/// Names the faux devices of open files apart.
static NEXT_DEVICE: AtomicU32 = AtomicU32::new(0);

/// A faux device that may do 64-bit DMA.
fn dma_device() -> Result<faux::Registration> {
    let n = NEXT_DEVICE.fetch_add(1, Ordering::Relaxed);
    let name = CString::try_from_fmt(fmt!("rgup_external.{n}"))?;
    let device = faux::Registration::new(&name, None)?;
    let dev: &Device<Bound> = device.as_ref().as_ref();
    // CAST: `Device` is `#[repr(transparent)]` over `struct device` (`Device::as_raw` is private
    // to the kernel crate, which offers no DMA mask for faux devices).
    let raw = core::ptr::from_ref(dev)
        .cast::<bindings::device>()
        .cast_mut();
    // SAFETY: `raw` is a registered device that has no DMA mask yet and that we own.
    to_result(unsafe { rgup_external_dma_coerce_mask(raw.cast()) })?;
    Ok(device)
}

extern "C" {
    /// `dma_coerce_mask_and_coherent(dev, DMA_BIT_MASK(64))`, a static inline
    /// (`rgup_external_helpers.c`).
    /// Takes a `struct device *`; declared `void *` here because `struct device` holds
    /// zero-sized members that `improper_ctypes` rejects by value (only the pointer crosses).
    fn rgup_external_dma_coerce_mask(dev: *mut kernel::ffi::c_void) -> kernel::ffi::c_int;
}

#[vtable]
impl MiscDevice for ExternalFile {
    type Ptr = Pin<KBox<Self>>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Self>>> {
        let task = current!();
        let mm: &Mm = task.mm().ok_or(ESRCH)?;
        let mm = ARef::from(mm);
        KBox::try_pin_init(
            try_pin_init!(ExternalFile {
                device: dma_device()?,
                state <- new_mutex!(FileState {
                    mm,
                    pin: None,
                    mirror: None,
                    mirror_addr: 0,
                }),
            }),
            GFP_KERNEL,
        )
    }

    fn ioctl(me: Pin<&ExternalFile>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        let mut state = me.state.lock();
        let arg = UserSlice::new(UserPtr::from_addr(arg), kernel::ioctl::_IOC_SIZE(cmd));
        match cmd {
            RGUP_EXT_PIN => pin(&mut state, arg),
            RGUP_EXT_READ => read(&state, arg),
            RGUP_EXT_DIRTY => dirty(&state, arg),
            RGUP_EXT_DMA => dma(&state, me.device.as_ref().as_ref(), arg),
            RGUP_EXT_UNPIN => state.pin.take().map(|_| 0).ok_or(ENOENT),
            RGUP_EXT_MIRROR => mirror(&mut state, arg),
            RGUP_EXT_MIRROR_QUERY => mirror_query(&state, arg),
            _ => Err(ENOTTY),
        }
    }
}

fn user_addr(v: u64) -> Result<usize> {
    usize::try_from(v).map_err(|_| EINVAL)
}

/// Checks, then pins, a range of the opener's mm.
fn pin(state: &mut FileState, arg: UserSlice) -> Result<isize> {
    let (mut reader, mut writer) = arg.reader_writer();
    let mut a: PinArgs = reader.read()?;
    let access = if a.write != 0 {
        Access::Write
    } else {
        Access::Read
    };
    let request = PinRequest::new(user_addr(a.addr)?, user_addr(a.len)?, access);
    let mm = state.mm()?;
    // The verdict first, as a driver that explains a refusal to its user would.
    match request.check_remote(&mm) {
        Ok(vmas) => {
            a.check_errno = 0;
            a.vmas = vmas as u64;
        }
        Err(e) => {
            a.check_errno = -Error::from(e).to_errno();
            a.vmas = 0;
        }
    }
    state.pin = None;
    let pinned = match request.pin_remote(&mm) {
        Ok(p) => p,
        Err(e) => {
            writer.write(&a)?;
            return Err(e.into());
        }
    };
    a.pages = pinned.page_count() as u64;
    a.runs = pinned.contiguous_runs().count() as u64;
    a.folios = pinned.folio_count() as u64;
    a.charged = pinned.charged_pages() as u64;
    writer.write(&a)?;
    state.pin = Some(pinned);
    Ok(0)
}

fn pinned(state: &FileState) -> Result<&PinnedPages> {
    state.pin.as_ref().ok_or(ENOENT)
}

/// Copies a sub-range of the pin to the caller's buffer.
fn read(state: &FileState, arg: UserSlice) -> Result<isize> {
    let a: RangeArgs = arg.reader().read()?;
    let len = user_addr(a.len)?;
    let mut out = UserSlice::new(UserPtr::from_addr(user_addr(a.buf)?), len).writer();
    pinned(state)?.read_to_user(user_addr(a.offset)?, len, &mut out)?;
    Ok(0)
}

/// Marks a sub-range of the pin dirty: the device wrote it.
fn dirty(state: &FileState, arg: UserSlice) -> Result<isize> {
    let a: RangeArgs = arg.reader().read()?;
    pinned(state)?.mark_dirty_range(user_addr(a.offset)?, user_addr(a.len)?)?;
    Ok(0)
}

/// Maps the pin, and a range of the caller's memory as a DMA-only list, for the file's device.
fn dma(state: &FileState, dev: &Device<Bound>, arg: UserSlice) -> Result<isize> {
    let (mut reader, mut writer) = arg.reader_writer();
    let mut a: DmaArgs = reader.read()?;
    if a.reserved != 0 {
        return Err(EINVAL);
    }
    let dir = match a.dir {
        1 => DataDirection::ToDevice,
        2 => DataDirection::FromDevice,
        3 => DataDirection::Bidirectional,
        _ => return Err(EINVAL),
    };
    let pinned = pinned(state)?;
    {
        let mapping = pinned.dma_map(dev, dir)?;
        a.pin_segments = mapping.segment_count() as u64;
        a.pin_bytes = mapping.segments().iter().map(|s| s.dma_len() as u64).sum();
    }
    let sgt = DmaOnlySgt::from_user(dev, user_addr(a.addr)?, user_addr(a.len)?, dir)?;
    a.sgt_segments = sgt.segments().len() as u64;
    a.sgt_bytes = sgt.segments().iter().map(|s| s.dma_len() as u64).sum();
    a.sgt_host_mapped = sgt
        .segments()
        .iter()
        .filter(|s| s.kind() == SegmentKind::HostMapped)
        .count() as u64;
    drop(sgt);
    writer.write(&a)?;
    Ok(0)
}

fn state_byte(s: PageState) -> u8 {
    match s {
        PageState::NotPresent => 0,
        PageState::Error => 1,
        PageState::Mapped { write: false, .. } => 2,
        PageState::Mapped { write: true, .. } => 3,
    }
}

/// Snapshots `pages` pages of `mirror` from `addr` into the user array at `to`.
fn snapshot_to_user(mirror: &Mirror<ExternalDevice>, addr: usize, pages: usize, to: u64) -> Result {
    let mut states = KVec::from_elem(PageState::NotPresent, pages, GFP_KERNEL)?;
    mirror.snapshot(addr, &mut states)?;
    let mut bytes = KVec::with_capacity(pages, GFP_KERNEL)?;
    for s in states.iter() {
        bytes.push(state_byte(*s), GFP_KERNEL)?;
    }
    UserSlice::new(UserPtr::from_addr(user_addr(to)?), pages)
        .writer()
        .write_slice(&bytes)
}

/// Mirrors a range of the opener's mm: snapshot, fault, snapshot, make the first page exclusive.
fn mirror(state: &mut FileState, arg: UserSlice) -> Result<isize> {
    let (mut reader, mut writer) = arg.reader_writer();
    let mut a: MirrorArgs = reader.read()?;
    if a.reserved != 0 {
        return Err(EINVAL);
    }
    let (addr, len) = (user_addr(a.addr)?, user_addr(a.len)?);
    let pages = len / PAGE_SIZE;
    state.mirror = None;
    let mm = state.mm()?;
    let mirror = KBox::pin_init(
        Mirror::new(&mm, addr, len, ExternalDevice::default()),
        GFP_KERNEL,
    )?;
    snapshot_to_user(&mirror, addr, pages, a.states)?;
    mirror.fault(addr, len, Access::Write)?;
    snapshot_to_user(&mirror, addr, pages, a.states_after)?;
    mirror.make_exclusive(addr, PAGE_SIZE)?;
    a.mirrored_pages = mirror.stats().mirrored_pages;
    a.exclusive = mirror
        .lock()
        .translation(addr)
        .is_some_and(|t| t.exclusive())
        .into();
    writer.write(&a)?;
    state.mirror = Some(mirror);
    state.mirror_addr = addr;
    Ok(0)
}

/// What the file's mirror holds now.
fn mirror_query(state: &FileState, arg: UserSlice) -> Result<isize> {
    let mirror = state.mirror.as_ref().ok_or(ENOENT)?;
    let guard = mirror.lock();
    let first = guard.translation(state.mirror_addr);
    let q = MirrorQuery {
        invalidations: guard.invalidations,
        first_exclusive: first.as_ref().is_some_and(|t| t.exclusive()).into(),
        first_present: first.is_some().into(),
    };
    drop(guard);
    arg.writer().write(&q)?;
    Ok(0)
}

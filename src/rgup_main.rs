// SPDX-License-Identifier: GPL-2.0

//! The rgup module: loads the `rgup` library for dependent drivers, and offers it to user space
//! through `/dev/rgup` (the uAPI in `include/uapi/linux/rgup.h`) and to the curious through
//! `/sys/kernel/debug/rgup/`.
//!
//! The library itself lives in `rust/` (crate `rgup`); this crate is the module around it.

use kernel::{
    bindings, debugfs,
    fs::File,
    miscdevice::{
        MiscDevice,
        MiscDeviceOptions,
        MiscDeviceRegistration, //
    },
    new_mutex,
    prelude::*,
    sync::Mutex,
};

mod dmirror_compat;
mod gup_test_compat;
mod handle_table;
mod mirror_table;
mod pin_table;
mod soft_device;
mod uapi;

module! {
    type: RgupModule,
    name: "rgup",
    authors: ["rgup developers"],
    description: "Safe long-term pinning, secondary-MMU mirroring and P2P DMA-only \
                  scatterlists for device drivers",
    license: "GPL",
}

#[pin_data]
struct RgupModule {
    #[pin]
    _miscdev: MiscDeviceRegistration<RgupFile>,
    #[pin]
    _gup_test: MiscDeviceRegistration<gup_test_compat::GupTestFile>,
    #[pin]
    _dmirror0: MiscDeviceRegistration<dmirror_compat::DmirrorFile>,
    #[pin]
    _dmirror1: MiscDeviceRegistration<dmirror_compat::DmirrorFile>,
    #[pin]
    _stats: debugfs::File<&'static rgup::stats::Stats>,
    _debugfs: debugfs::Dir,
}

impl kernel::InPlaceModule for RgupModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let v = rgup::version();
        pr_info!("rgup {}.{}.{} loaded\n", v.major, v.minor, v.patch);
        let dir = debugfs::Dir::new(c"rgup");

        try_pin_init!(Self {
            _miscdev <- MiscDeviceRegistration::register(MiscDeviceOptions { name: c"rgup" }),
            _gup_test <- MiscDeviceRegistration::register(MiscDeviceOptions {
                name: c"rgup_gup_test",
            }),
            _dmirror0 <- MiscDeviceRegistration::register(MiscDeviceOptions {
                name: c"rgup_dmirror0",
            }),
            _dmirror1 <- MiscDeviceRegistration::register(MiscDeviceOptions {
                name: c"rgup_dmirror1",
            }),
            _stats <- dir.read_callback_file(c"stats", &rgup::stats::GLOBAL, &|stats, f| {
                core::fmt::Display::fmt(*stats, f)
            }),
            _debugfs: dir,
        })
    }
}

/// The state of one open file of `/dev/rgup`: its pins. Released (unpinned) with the file.
#[pin_data]
struct RgupFile {
    #[pin]
    pins: Mutex<pin_table::PinTable>,
    #[pin]
    mirrors: Mutex<mirror_table::MirrorTable>,
}

#[vtable]
impl MiscDevice for RgupFile {
    type Ptr = Pin<KBox<Self>>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Self>>> {
        KBox::try_pin_init(
            try_pin_init!(RgupFile {
                pins <- new_mutex!(pin_table::PinTable::default()),
                mirrors <- new_mutex!(mirror_table::MirrorTable::default()),
            }),
            GFP_KERNEL,
        )
    }

    fn ioctl(me: Pin<&RgupFile>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            uapi::RGUP_IOC_VERSION => ioctl_version(arg),
            uapi::RGUP_IOC_PIN => pin_table::pin(&mut me.pins.lock(), arg),
            uapi::RGUP_IOC_UNPIN => pin_table::unpin(&mut me.pins.lock(), arg),
            uapi::RGUP_IOC_CHECK => pin_table::check(arg),
            uapi::RGUP_IOC_RW => pin_table::rw(&mut me.pins.lock(), arg),
            uapi::RGUP_IOC_STATS => pin_table::stats(&me.pins.lock(), arg),
            uapi::RGUP_IOC_MIRROR_CREATE => mirror_table::create(&mut me.mirrors.lock(), arg),
            uapi::RGUP_IOC_MIRROR_DESTROY => mirror_table::destroy(&mut me.mirrors.lock(), arg),
            uapi::RGUP_IOC_MIRROR_RW => mirror_table::rw(&mut me.mirrors.lock(), arg),
            uapi::RGUP_IOC_MIRROR_SNAPSHOT => mirror_table::snapshot(&mut me.mirrors.lock(), arg),
            uapi::RGUP_IOC_MIRROR_STATS => mirror_table::stats(&mut me.mirrors.lock(), arg),
            _ => Err(ENOTTY),
        }
    }
}

/// `Ok` if the calling task has capability `cap` in the initial user namespace (`capable()`),
/// else `EPERM`. Audited like any capability check.
pub(crate) fn require_capability(cap: u32) -> Result {
    // `cap` comes from the `CAP_*` constants, all far below `i32::MAX`.
    let cap = cap as i32;
    // SAFETY: `capable()` takes any capability number (an invalid one is a warning and `false`,
    // not undefined behaviour) and may sleep; every caller is in process context (open, ioctl).
    if unsafe { bindings::capable(cap) } {
        Ok(())
    } else {
        Err(EPERM)
    }
}

fn ioctl_version(arg: usize) -> Result<isize> {
    let mut arg = uapi::ExtArg::<uapi::rgup_version>::read(arg)?;
    if arg.val.reserved != 0 {
        return Err(EINVAL);
    }
    let v = rgup::version();
    arg.val.abi_version = uapi::RGUP_ABI_VERSION;
    arg.val.major = v.major;
    arg.val.minor = v.minor;
    arg.val.patch = v.patch;
    arg.val.features = u64::from(uapi::RGUP_FEATURE_PIN | uapi::RGUP_FEATURE_MIRROR);
    arg.write_back()?;
    Ok(0)
}

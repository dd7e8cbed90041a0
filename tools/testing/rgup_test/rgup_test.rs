// SPDX-License-Identifier: GPL-2.0

//! rgup's test module: the front-ends through which user space tests the `rgup` library, kept
//! out of the library module `rgup.ko` the way `mm/gup_test.c` and `lib/test_hmm.c` are kept
//! apart from what they test. It depends on `rgup.ko` like any driver.
//!
//! - `/dev/rgup`: the uAPI of `include/uapi/linux/rgup.h` (pin, check, copy through a pin, mirror
//!   through a software device; used by rgup's kselftests, demos and benchmarks);
//! - `/dev/rgup_gup_test`: the `gup_test` ABI (`mm/gup_test.h`), for the kernel's own
//!   `gup_longterm` and `cow` selftests;
//! - `/dev/rgup_dmirror0` and `/dev/rgup_dmirror1`: the `test_hmm` ABI (`lib/test_hmm_uapi.h`),
//!   for the kernel's own `hmm-tests`.
//!
//! Never load it on a production system: the nodes let a privileged user drive pins and mirrors
//! with no device behind them.

use kernel::{
    bindings,
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
    type: RgupTestModule,
    name: "rgup_test",
    authors: ["rgup developers"],
    description: "Test front-ends of the rgup library: /dev/rgup, gup_test and \
                  test_hmm compatible nodes",
    license: "GPL",
}

#[pin_data]
struct RgupTestModule {
    #[pin]
    _miscdev: MiscDeviceRegistration<RgupFile>,
    #[pin]
    _gup_test: MiscDeviceRegistration<gup_test_compat::GupTestFile>,
    #[pin]
    _dmirror0: MiscDeviceRegistration<dmirror_compat::DmirrorFile>,
    #[pin]
    _dmirror1: MiscDeviceRegistration<dmirror_compat::DmirrorFile>,
}

impl kernel::InPlaceModule for RgupTestModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
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

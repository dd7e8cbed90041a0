// SPDX-License-Identifier: GPL-2.0

//! `/dev/rgup_gup_test`: the long-term pin commands of upstream `gup_test`, implemented on
//! [`rgup::pin`], so that the kernel's own `tools/testing/selftests/mm/gup_longterm.c` and the
//! gup_test cases of `cow.c` run against rgup unchanged (the runner bind-mounts this node over
//! `/sys/kernel/debug/gup_test` in a private mount namespace).
//!
//! It speaks exactly `PIN_LONGTERM_TEST_START`, `_STOP` and `_READ` of `mm/gup_test.h` (the
//! struct and numbers are generated from that header), with `mm/gup_test.c`'s semantics: one pin
//! set per open file, `START` while pinned or with bad arguments is `EINVAL`, `STOP` always
//! succeeds, `READ` copies every pinned page in order to consecutive user pages, closing the file
//! stops. Other `gup_test` commands (the benchmarks, `DUMP_USER_PAGES_TEST`) answer `EINVAL`,
//! as unknown commands do upstream.
//!
//! Opening it needs `CAP_SYS_ADMIN` (`EPERM`), whatever the node's mode: it is a test interface.
//!
//! C header: [`mm/gup_test.h`](srctree/mm/gup_test.h)

use crate::{
    require_capability,
    uapi, //
};
use kernel::{
    bindings,
    fs::File,
    miscdevice::{
        MiscDevice,
        MiscDeviceRegistration, //
    },
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    sync::Mutex,
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};
use rgup::pin::{
    Method,
    PinRequest,
    PinnedPages, //
};
use rgup::Access;

/// One open file of `/dev/rgup_gup_test`: at most one pin set.
#[pin_data]
pub(crate) struct GupTestFile {
    #[pin]
    pinned: Mutex<Option<PinnedPages>>,
}

#[vtable]
impl MiscDevice for GupTestFile {
    type Ptr = Pin<KBox<Self>>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Self>>> {
        // A test interface, like upstream's in debugfs: root only, whatever the node's mode.
        require_capability(bindings::CAP_SYS_ADMIN)?;
        KBox::try_pin_init(
            try_pin_init!(GupTestFile {
                pinned <- new_mutex!(None),
            }),
            GFP_KERNEL,
        )
    }

    fn ioctl(me: Pin<&GupTestFile>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        let mut pinned = me.pinned.lock();
        match cmd {
            uapi::PIN_LONGTERM_TEST_START => start(&mut pinned, arg)?,
            // Dropping the pin set unpins it.
            uapi::PIN_LONGTERM_TEST_STOP => *pinned = None,
            uapi::PIN_LONGTERM_TEST_READ => read(pinned.as_ref().ok_or(EINVAL)?, arg)?,
            _ => return Err(EINVAL),
        }
        Ok(0)
    }
}

fn start(pinned: &mut Option<PinnedPages>, arg: usize) -> Result {
    if pinned.is_some() {
        return Err(EINVAL);
    }
    let args = UserSlice::new(
        UserPtr::from_addr(arg),
        size_of::<uapi::pin_longterm_test>(),
    )
    .reader()
    .read::<uapi::pin_longterm_test>()?;
    let known = uapi::PIN_LONGTERM_TEST_FLAG_USE_WRITE | uapi::PIN_LONGTERM_TEST_FLAG_USE_FAST;
    if args.flags & !known != 0 {
        return Err(EINVAL);
    }
    let page_mask = PAGE_SIZE as u64 - 1;
    if args.addr & page_mask != 0 || args.size & page_mask != 0 {
        return Err(EINVAL);
    }
    if args.size == 0 || args.size > i64::MAX as u64 {
        return Err(EINVAL);
    }
    let access = if args.flags & uapi::PIN_LONGTERM_TEST_FLAG_USE_WRITE != 0 {
        Access::Write
    } else {
        Access::Read
    };
    // Upstream's fast path is pin_user_pages_fast(), which itself falls back to the slow path.
    let method = if args.flags & uapi::PIN_LONGTERM_TEST_FLAG_USE_FAST != 0 {
        Method::Fast { fallback: true }
    } else {
        Method::Locked
    };
    let addr = usize::try_from(args.addr).map_err(|_| EINVAL)?;
    let size = usize::try_from(args.size).map_err(|_| EINVAL)?;
    *pinned = Some(PinRequest::new(addr, size, access).method(method).pin()?);
    Ok(())
}

fn read(pinned: &PinnedPages, arg: usize) -> Result {
    let dst = UserSlice::new(UserPtr::from_addr(arg), size_of::<u64>())
        .reader()
        .read::<u64>()?;
    let dst = usize::try_from(dst).map_err(|_| EFAULT)?;
    let mut out = UserSlice::new(UserPtr::from_addr(dst), pinned.len()).writer();
    pinned.read_to_user(0, pinned.len(), &mut out)
}

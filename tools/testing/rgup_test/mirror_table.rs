// SPDX-License-Identifier: GPL-2.0

//! The mirrors of one open file of `/dev/rgup`, and the mirror commands of the uAPI.

use crate::{
    handle_table::HandleTable,
    pin_table::user_usize,
    soft_device::{
        self,
        Bounce,
        DeviceMirror,
        SoftDevice, //
    },
    uapi::{
        self,
        ExtArg, //
    },
};
use kernel::{
    page::{
        PAGE_SHIFT,
        PAGE_SIZE, //
    },
    prelude::*,
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};
use rgup::{
    mirror::{
        Mirror,
        PageState, //
    },
    Access,
};

/// Most mirrors one open file may hold.
const MAX_MIRRORS_PER_FILE: usize = 256;

/// Most bytes one `RGUP_IOC_MIRROR_RW` moves (its bounce buffer), and most pages one
/// `RGUP_IOC_MIRROR_SNAPSHOT` reports.
const MAX_RW_BYTES: usize = 64 << 20;

/// The mirrors of one open file, named by handles `1..` (see [`HandleTable`]).
pub(crate) type MirrorTable = HandleTable<Pin<KBox<DeviceMirror>>, MAX_MIRRORS_PER_FILE>;

/// `RGUP_IOC_MIRROR_CREATE`.
pub(crate) fn create(table: &mut MirrorTable, arg: usize) -> Result<isize> {
    let mut arg = ExtArg::<uapi::rgup_mirror_create>::read(arg)?;
    let v = &arg.val;
    if v.flags != 0 || v.reserved != 0 {
        return Err(EINVAL);
    }
    let (addr, len) = (user_usize(v.addr)?, user_usize(v.len)?);
    let task = current!();
    let mm = task.mm().ok_or(ESRCH)?;
    let mirror = KBox::pin_init(
        Mirror::new(mm, addr, len, SoftDevice::default()),
        GFP_KERNEL,
    )?;
    let handle = table.insert(mirror)?;
    arg.val.handle = handle;
    if let Err(e) = arg.write_back() {
        // The caller cannot learn the handle: do not keep a mirror it cannot name.
        drop(table.remove(handle));
        return Err(e);
    }
    Ok(0)
}

/// `RGUP_IOC_MIRROR_DESTROY`.
pub(crate) fn destroy(table: &mut MirrorTable, arg: usize) -> Result<isize> {
    let arg = ExtArg::<uapi::rgup_mirror_destroy>::read(arg)?;
    drop(table.remove(arg.val.handle)?);
    Ok(0)
}

/// `RGUP_IOC_MIRROR_RW`.
pub(crate) fn rw(table: &mut MirrorTable, arg: usize) -> Result<isize> {
    let mut arg = ExtArg::<uapi::rgup_mirror_rw>::read(arg)?;
    let v = &arg.val;
    if v.reserved != 0 || v.flags & !uapi::RGUP_MIRROR_RW_WRITE != 0 {
        return Err(EINVAL);
    }
    let (addr, len) = (user_usize(v.addr)?, user_usize(v.len)?);
    if len == 0 || len > MAX_RW_BYTES {
        return Err(EINVAL);
    }
    let mirror = table.get(v.handle)?;
    if addr < mirror.start() || addr.checked_add(len).is_none_or(|end| end > mirror.end()) {
        return Err(EINVAL);
    }
    let user = UserSlice::new(UserPtr::from_addr(user_usize(v.buf)?), len);
    let mut bounce = Bounce::new(len)?;
    let mut done = 0;
    let faults = if v.flags & uapi::RGUP_MIRROR_RW_WRITE != 0 {
        bounce.read_from(user)?;
        soft_device::access(mirror, addr, &mut bounce, Access::Write, &mut done)?
    } else {
        let faults = soft_device::access(mirror, addr, &mut bounce, Access::Read, &mut done)?;
        bounce.write_to(user)?;
        faults
    };
    arg.val.faults = faults;
    arg.write_back()?;
    Ok(0)
}

/// The `RGUP_MIRROR_PAGE_*` byte of a page.
fn page_byte(state: PageState) -> u8 {
    let bits = match state {
        PageState::NotPresent => 0,
        PageState::Error => uapi::RGUP_MIRROR_PAGE_ERROR,
        PageState::Mapped {
            write,
            order,
            zero,
            device,
        } => {
            let flag = |set: bool, bit: u32| if set { bit } else { 0 };
            uapi::RGUP_MIRROR_PAGE_PRESENT
                | flag(write, uapi::RGUP_MIRROR_PAGE_WRITE)
                | flag(zero, uapi::RGUP_MIRROR_PAGE_ZERO)
                | flag(device, uapi::RGUP_MIRROR_PAGE_DEVICE)
                | flag(order + PAGE_SHIFT as u32 == 21, uapi::RGUP_MIRROR_PAGE_PMD)
                | flag(order + PAGE_SHIFT as u32 == 30, uapi::RGUP_MIRROR_PAGE_PUD)
        }
    };
    bits as u8
}

/// `RGUP_IOC_MIRROR_SNAPSHOT`.
pub(crate) fn snapshot(table: &mut MirrorTable, arg: usize) -> Result<isize> {
    let arg = ExtArg::<uapi::rgup_mirror_snapshot>::read(arg)?;
    let v = &arg.val;
    let npages = user_usize(v.npages)?;
    if npages == 0 || npages > MAX_RW_BYTES / PAGE_SIZE {
        return Err(EINVAL);
    }
    let mirror = table.get(v.handle)?;
    let mut states = KVVec::from_elem(PageState::NotPresent, npages, GFP_KERNEL)?;
    mirror.snapshot(user_usize(v.addr)?, &mut states)?;
    let mut bytes = KVVec::with_capacity(npages, GFP_KERNEL)?;
    for &state in states.iter() {
        bytes.push(page_byte(state), GFP_KERNEL)?;
    }
    UserSlice::new(UserPtr::from_addr(user_usize(v.states)?), npages)
        .writer()
        .write_slice(&bytes)?;
    Ok(0)
}

/// `RGUP_IOC_MIRROR_STATS`.
pub(crate) fn stats(table: &mut MirrorTable, arg: usize) -> Result<isize> {
    let mut arg = ExtArg::<uapi::rgup_mirror_stats>::read(arg)?;
    let mirror = table.get(arg.val.handle)?;
    let s = mirror.stats();
    let v = &mut arg.val;
    v.faults = s.faults;
    v.faulted_pages = s.faulted_pages;
    v.invalidations = s.invalidations;
    v.retries = s.retries;
    v.mirrored_pages = s.mirrored_pages;
    v.device_invalidations = mirror.lock().invalidations();
    arg.write_back()?;
    Ok(0)
}

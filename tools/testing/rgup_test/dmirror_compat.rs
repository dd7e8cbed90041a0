// SPDX-License-Identifier: GPL-2.0

//! `/dev/rgup_dmirror0` and `/dev/rgup_dmirror1`: a software device that reads and writes user
//! memory only through an [`rgup::mirror::Mirror`] of its opener's address space, behind the
//! `HMM_DMIRROR_*` ioctls of `lib/test_hmm_uapi.h`, so that the kernel's own
//! `tools/testing/selftests/mm/hmm-tests.c` runs against rgup unchanged (the runner bind-mounts
//! these nodes over `/dev/hmm_dmirror0` and `1` in a private mount namespace).
//!
//! This is how `lib/test_hmm.c` emulates a device, with rgup doing the mirroring: each open file
//! mirrors the whole address space of the process that opened it (and keeps mirroring that
//! process after a `fork()`); the "device page table" is the mirror's own table of `pfn` and
//! write bit per page; the device's accesses copy through the mirrored pages under the mirror's
//! lock, and on the first missing translation fault the whole rest of the range in one round.
//!
//! | command | semantics |
//! |---|---|
//! | `READ`, `READ_UNLOCKED` | copy `npages` from the device's view of `addr` to `ptr`; `cpages`, `faults` |
//! | `WRITE` | copy `npages` from `ptr` to the device's view of `addr`, faulting for write |
//! | `SNAPSHOT` | one `HMM_DMIRROR_PROT_*` byte per page to `ptr`, without faulting |
//! | `EXCLUSIVE` | make the pages exclusive to the device, then `READ` them |
//! | `CHECK_EXCLUSIVE` | `EPERM` while any page of the range is still exclusive |
//! | `MIGRATE_TO_DEV`, `MIGRATE_TO_SYS`, `RELEASE`, `FLAGS` | `EOPNOTSUPP`: no device memory |
//! | anything else | `EINVAL`, as upstream |
//!
//! Every command checks, as upstream, that `addr` is page-aligned and `npages` non-zero without
//! wrapping, and (unlike upstream) at most 262144 (`EINVAL`), and writes the command back only on
//! success. `mmap()` of the device
//! inserts zeroed pages (a `VM_MIXEDMAP` mapping), as upstream. Opening a node needs
//! `CAP_SYS_ADMIN` (`EPERM`), whatever its mode: it is a test interface.
//!
//! C header: [`lib/test_hmm_uapi.h`](srctree/lib/test_hmm_uapi.h)

use crate::{
    require_capability,
    soft_device::{
        self,
        Bounce,
        DeviceMirror,
        SoftDevice, //
    },
    uapi,
};
use kernel::{
    bindings,
    fs::File,
    miscdevice::{
        MiscDevice,
        MiscDeviceRegistration, //
    },
    mm::virt::VmaNew,
    page::{
        Page,
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

/// One open file: a device mirroring the opener's address space.
#[pin_data]
pub(crate) struct DmirrorFile {
    #[pin]
    mirror: DeviceMirror,
}

#[vtable]
impl MiscDevice for DmirrorFile {
    type Ptr = Pin<KBox<Self>>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Self>>> {
        // A test interface, like upstream test_hmm's: root only, whatever the node's mode.
        require_capability(bindings::CAP_SYS_ADMIN)?;
        let task = current!();
        let mm = task.mm().ok_or(EINVAL)?;
        KBox::try_pin_init(
            try_pin_init!(DmirrorFile {
                mirror <- Mirror::new_whole_mm(mm, SoftDevice::default()),
            }),
            GFP_KERNEL,
        )
    }

    fn ioctl(me: Pin<&DmirrorFile>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        let size = core::mem::size_of::<uapi::hmm_dmirror_cmd>();
        let (mut reader, mut writer) =
            UserSlice::new(UserPtr::from_addr(arg), size).reader_writer();
        let mut c: uapi::hmm_dmirror_cmd = reader.read()?;
        let end = c
            .addr
            .wrapping_add(c.npages.wrapping_shl(PAGE_SHIFT as u32));
        if c.addr & (PAGE_SIZE as u64 - 1) != 0 || c.addr >= end || c.npages > MAX_PAGES {
            return Err(EINVAL);
        }
        c.cpages = 0;
        c.faults = 0;
        let mirror = &me.mirror;
        match cmd {
            uapi::HMM_DMIRROR_READ | uapi::HMM_DMIRROR_READ_UNLOCKED => read(mirror, &mut c)?,
            uapi::HMM_DMIRROR_WRITE => write(mirror, &mut c)?,
            uapi::HMM_DMIRROR_SNAPSHOT => snapshot(mirror, &mut c)?,
            uapi::HMM_DMIRROR_EXCLUSIVE => exclusive(mirror, &mut c)?,
            uapi::HMM_DMIRROR_CHECK_EXCLUSIVE => check_exclusive(mirror, &c)?,
            uapi::HMM_DMIRROR_MIGRATE_TO_DEV
            | uapi::HMM_DMIRROR_MIGRATE_TO_SYS
            | uapi::HMM_DMIRROR_RELEASE
            | uapi::HMM_DMIRROR_FLAGS => return Err(EOPNOTSUPP),
            _ => return Err(EINVAL),
        }
        writer.write(&c)?;
        Ok(0)
    }

    fn mmap(_me: Pin<&DmirrorFile>, _file: &File, vma: &VmaNew) -> Result {
        let vma = vma.set_mixedmap();
        let mut addr = vma.start();
        while addr < vma.end() {
            let page = Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?;
            // The mapping takes its own reference; ours is dropped with `page`.
            vma.vm_insert_page(addr, &page)?;
            addr += PAGE_SIZE;
        }
        Ok(())
    }
}

/// Most pages one command covers (1 GiB): bounce buffers and snapshots are sized by it. Upstream
/// has no limit (and warns when `vmalloc()` fails); beyond it rgup answers `EINVAL`.
const MAX_PAGES: u64 = 1 << 18;

/// The byte length of a command's range.
fn byte_len(c: &uapi::hmm_dmirror_cmd) -> Result<usize> {
    usize::try_from(c.npages)
        .ok()
        .and_then(|n| n.checked_mul(PAGE_SIZE))
        .ok_or(EINVAL)
}

/// The user buffer of a command, `len` bytes at `c.ptr`.
fn user_buf(c: &uapi::hmm_dmirror_cmd, len: usize) -> UserSlice {
    UserSlice::new(UserPtr::from_addr(c.ptr as usize), len)
}

/// The device accesses the command's range through `bounce`; counts pages and fault rounds.
fn access(
    mirror: &DeviceMirror,
    c: &mut uapi::hmm_dmirror_cmd,
    bounce: &mut Bounce,
    how: Access,
) -> Result {
    let mut done = 0;
    let result = soft_device::access(mirror, c.addr as usize, bounce, how, &mut done);
    c.cpages = soft_device::pages(done);
    c.faults = result?;
    Ok(())
}

fn read(mirror: &DeviceMirror, c: &mut uapi::hmm_dmirror_cmd) -> Result {
    let len = byte_len(c)?;
    let mut bounce = Bounce::new(len)?;
    access(mirror, c, &mut bounce, Access::Read)?;
    bounce.write_to(user_buf(c, len))
}

fn write(mirror: &DeviceMirror, c: &mut uapi::hmm_dmirror_cmd) -> Result {
    let len = byte_len(c)?;
    let mut bounce = Bounce::new(len)?;
    bounce.read_from(user_buf(c, len))?;
    access(mirror, c, &mut bounce, Access::Write)
}

/// The `HMM_DMIRROR_PROT_*` byte of a page, as `dmirror_mkentry()` encodes it.
fn prot_byte(state: PageState) -> u8 {
    match state {
        PageState::Error => uapi::HMM_DMIRROR_PROT_ERROR as u8,
        PageState::NotPresent => uapi::HMM_DMIRROR_PROT_NONE as u8,
        PageState::Mapped {
            write, order, zero, ..
        } => {
            let mut b = if zero {
                uapi::HMM_DMIRROR_PROT_ZERO
            } else {
                uapi::HMM_DMIRROR_PROT_NONE
            };
            b |= if write {
                uapi::HMM_DMIRROR_PROT_WRITE
            } else {
                uapi::HMM_DMIRROR_PROT_READ
            };
            if order + PAGE_SHIFT as u32 == 21 {
                b |= uapi::HMM_DMIRROR_PROT_PMD;
            } else if order + PAGE_SHIFT as u32 == 30 {
                b |= uapi::HMM_DMIRROR_PROT_PUD;
            }
            b as u8
        }
    }
}

fn snapshot(mirror: &DeviceMirror, c: &mut uapi::hmm_dmirror_cmd) -> Result {
    let n = usize::try_from(c.npages).map_err(|_| EINVAL)?;
    let mut states = KVVec::from_elem(PageState::NotPresent, n, GFP_KERNEL)?;
    mirror.snapshot(c.addr as usize, &mut states)?;
    let mut bytes = KVVec::with_capacity(n, GFP_KERNEL)?;
    for &state in states.iter() {
        bytes.push(prot_byte(state), GFP_KERNEL)?;
    }
    UserSlice::new(UserPtr::from_addr(c.ptr as usize), n)
        .writer()
        .write_slice(&bytes)?;
    c.cpages = c.npages;
    Ok(())
}

fn exclusive(mirror: &DeviceMirror, c: &mut uapi::hmm_dmirror_cmd) -> Result {
    let len = byte_len(c)?;
    mirror.make_exclusive(c.addr as usize, len)?;
    read(mirror, c)
}

fn check_exclusive(mirror: &DeviceMirror, c: &uapi::hmm_dmirror_cmd) -> Result {
    if c.addr + (c.npages << PAGE_SHIFT) > mirror.end() as u64 {
        return Err(EINVAL);
    }
    let guard = mirror.lock();
    for i in 0..c.npages as usize {
        if guard
            .translation(c.addr as usize + (i << PAGE_SHIFT))
            .is_some_and(|t| t.exclusive())
        {
            return Err(EPERM);
        }
    }
    Ok(())
}

// SPDX-License-Identifier: GPL-2.0

//! The software "device" behind rgup's mirror nodes: it reads and writes user memory only
//! through an [`rgup::mirror::Mirror`] of a process's address space, the way `lib/test_hmm.c`
//! emulates a device, and this is what the tests observe.
//!
//! Its page table is the mirror's own table (a page frame number and a write bit per page);
//! an access copies through the mirrored pages under the mirror's lock and, at the first page
//! without a suitable translation, faults the whole rest of the range in one round
//! ([`Mirror::fault`]) and continues: a fresh range takes exactly one fault round.

use kernel::{
    alloc::flags::__GFP_NOWARN,
    page::{
        PAGE_SHIFT,
        PAGE_SIZE, //
    },
    prelude::*,
    uaccess::UserSlice,
};
use rgup::{
    mirror::{
        Invalidated,
        Invalidation,
        Mirror,
        MirrorOps, //
    },
    Access,
};

/// The device's state behind the mirror's lock. It reads through the mirror's table, so there
/// is no device TLB to flush: it only counts.
#[derive(Default)]
pub(crate) struct SoftDevice {
    invalidations: u64,
}

impl SoftDevice {
    /// Invalidations the device was told about.
    pub(crate) fn invalidations(&self) -> u64 {
        self.invalidations
    }
}

impl MirrorOps for SoftDevice {
    fn invalidate(mut self: Pin<&mut Self>, inv: &Invalidation<'_>) -> Invalidated {
        self.invalidations += 1;
        inv.done()
    }
}

/// A mirror with the software device behind it.
pub(crate) type DeviceMirror = Mirror<SoftDevice>;

/// A bounce buffer between user space and the device's view of `len` bytes. It is never
/// zero-filled (a 512 MiB device read would pay a 512 MiB `memset`): its bytes become readable
/// only once all of them were written, by the user ([`Bounce::read_from`]) or by a complete
/// device read.
///
/// A `VVec`, `vmalloc()` as `test_hmm`'s bounce buffer: the mirror benchmarks compare the
/// library, not the buffers around it. A `KVVec` (`kvmalloc()`) maps buffers of 2 MiB and more
/// with huge pages (`VM_ALLOW_HUGE_VMAP`), order-9 allocations that may compact memory first:
/// the 512 MiB THP fault-in, whose buffer takes 512 MiB of huge pages besides, varied most.
pub(crate) struct Bounce {
    buf: VVec<u8>,
    len: usize,
}

impl Bounce {
    /// An unfilled buffer of `len` bytes.
    pub(crate) fn new(len: usize) -> Result<Self> {
        Ok(Self {
            // `__GFP_NOWARN`: the length is the caller's, and `vmalloc()` warns when it fails.
            buf: VVec::with_capacity(len, GFP_KERNEL | __GFP_NOWARN)?,
            len,
        })
    }

    /// Fills the buffer from user memory.
    pub(crate) fn read_from(&mut self, user: UserSlice) -> Result {
        let len = self.len;
        user.reader()
            .read_raw(&mut self.buf.spare_capacity_mut()[..len])?;
        // SAFETY: `read_raw` initialised the first `len` bytes (it fails otherwise).
        unsafe { self.buf.inc_len(len) };
        Ok(())
    }

    /// Copies the (filled) buffer to user memory.
    pub(crate) fn write_to(&self, user: UserSlice) -> Result {
        if self.buf.len() != self.len {
            return Err(EINVAL);
        }
        user.writer().write_slice(&self.buf)
    }
}

/// Copies what is mirrored from `addr + *done` on, between the device's view and the bounce
/// buffer from `*done` on, advancing `*done`; returns the address of the first page without a
/// (writable, for [`Access::Write`]) translation, or `None` when the whole buffer was copied.
fn copy_mirrored(
    mirror: &DeviceMirror,
    addr: usize,
    bounce: &mut Bounce,
    access: Access,
    done: &mut usize,
) -> Result<Option<usize>> {
    let guard = mirror.lock();
    while *done < bounce.len {
        let at = addr + *done;
        let offset = at & (PAGE_SIZE - 1);
        let len = (PAGE_SIZE - offset).min(bounce.len - *done);
        let page = match guard.page(at) {
            Some((page, writable)) if access == Access::Read || writable => page,
            _ if guard
                .translation(at)
                .is_some_and(|t| access == Access::Read || t.writable()) =>
            {
                // Mirrored, but device memory: the CPU must not copy it.
                return Err(EFAULT);
            }
            _ => return Ok(Some(at & !(PAGE_SIZE - 1))),
        };
        // The page stays mapped while `guard` is held; `UserPage` copies it without a data race
        // with the process or another mirror of the same memory. The buffer is either empty
        // (a first read fills its capacity) or filled.
        let chunk = *done..*done + len;
        match access {
            Access::Read if bounce.buf.is_empty() => page.read_uninit(
                offset,
                bounce
                    .buf
                    .spare_capacity_mut()
                    .get_mut(chunk)
                    .ok_or(EINVAL)?,
            )?,
            Access::Read => page.read(offset, bounce.buf.get_mut(chunk).ok_or(EINVAL)?)?,
            Access::Write => page.write(offset, bounce.buf.get(chunk).ok_or(EINVAL)?)?,
        }
        *done += len;
    }
    Ok(None)
}

/// The device reads (into `bounce`) or writes (from `bounce`, filled) `[addr, addr + len)` of
/// the mirrored process: copy what is mirrored, fault the rest in one round, repeat. Returns
/// the number of fault rounds; `*done` is the number of bytes copied, also on error.
pub(crate) fn access(
    mirror: &DeviceMirror,
    addr: usize,
    bounce: &mut Bounce,
    access: Access,
    done: &mut usize,
) -> Result<u64> {
    let end = addr.checked_add(bounce.len).ok_or(EINVAL)?;
    if access == Access::Write && bounce.buf.len() != bounce.len {
        return Err(EINVAL); // nothing to write yet
    }
    let mut faults = 0;
    while let Some(page) = copy_mirrored(mirror, addr, bounce, access, done)? {
        mirror.fault(page, end - page, access)?;
        faults += 1;
    }
    if access == Access::Read && bounce.buf.is_empty() {
        // SAFETY: The loop wrote all `len` bytes (`*done == len`).
        unsafe { bounce.buf.inc_len(bounce.len) };
    }
    Ok(faults)
}

/// The number of whole pages in `done` bytes.
pub(crate) fn pages(done: usize) -> u64 {
    (done >> PAGE_SHIFT) as u64
}

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
    page::{
        PAGE_SHIFT,
        PAGE_SIZE, //
    },
    prelude::*,
};
use rgup::{
    mirror::{
        Invalidated,
        Invalidation,
        Mirror,
        MirrorOps, //
    },
    pin::Access,
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
    fn invalidate(&mut self, inv: &Invalidation<'_>) -> Invalidated {
        self.invalidations += 1;
        inv.done()
    }
}

/// A mirror with the software device behind it.
pub(crate) type DeviceMirror = Mirror<SoftDevice>;

/// Copies what is mirrored from `addr + *done` on, between the device's view and `buf[*done..]`,
/// advancing `*done`; returns the address of the first page without a (writable, for
/// [`Access::Write`]) translation, or `None` when the whole buffer was copied.
fn copy_mirrored(
    mirror: &DeviceMirror,
    addr: usize,
    buf: &mut [u8],
    access: Access,
    done: &mut usize,
) -> Result<Option<usize>> {
    let guard = mirror.lock();
    while *done < buf.len() {
        let at = addr + *done;
        let offset = at & (PAGE_SIZE - 1);
        let len = (PAGE_SIZE - offset).min(buf.len() - *done);
        let page = match guard.page(at) {
            Some((page, writable)) if access == Access::Read || writable => page,
            _ if guard
                .translation(at)
                .is_some_and(|t| access == Access::Read || t.writable) =>
            {
                // Mirrored, but device memory: the CPU must not copy it.
                return Err(EFAULT);
            }
            _ => return Ok(Some(at & !(PAGE_SIZE - 1))),
        };
        let chunk = &mut buf[*done..*done + len];
        // SAFETY: `chunk` is valid for `len` bytes and `offset + len <= PAGE_SIZE`; the page
        // stays mapped while `guard` is held.
        unsafe {
            match access {
                Access::Read => page.read_raw(chunk.as_mut_ptr(), offset, len)?,
                Access::Write => page.write_raw(chunk.as_ptr(), offset, len)?,
            }
        }
        *done += len;
    }
    Ok(None)
}

/// The device reads (into `buf`) or writes (from `buf`) `[addr, addr + buf.len())` of the
/// mirrored process: copy what is mirrored, fault the rest in one round, repeat. Returns the
/// number of fault rounds; `*done` is the number of bytes copied, also on error.
pub(crate) fn access(
    mirror: &DeviceMirror,
    addr: usize,
    buf: &mut [u8],
    access: Access,
    done: &mut usize,
) -> Result<u64> {
    let end = addr.checked_add(buf.len()).ok_or(EINVAL)?;
    let mut faults = 0;
    while let Some(page) = copy_mirrored(mirror, addr, buf, access, done)? {
        mirror.fault(page, end - page, access)?;
        faults += 1;
    }
    Ok(faults)
}

/// The number of whole pages in `done` bytes.
pub(crate) fn pages(done: usize) -> u64 {
    (done >> PAGE_SHIFT) as u64
}

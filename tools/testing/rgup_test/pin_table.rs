// SPDX-License-Identifier: GPL-2.0

//! The pins of one open file of `/dev/rgup`, and the pinning commands of the uAPI.

use crate::{
    handle_table::HandleTable,
    require_capability,
    uapi::{
        self,
        ExtArg, //
    },
};
use kernel::{
    bindings,
    prelude::*,
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};
use rgup::pin::{
    Accounting,
    Method,
    PinError,
    PinRequest,
    PinnedPages,
    Refusal,
    VmaKind, //
};
use rgup::Access;

/// Most pins one open file may hold.
const MAX_PINS_PER_FILE: usize = 1 << 16;

/// The pins of one open file, named by handles `1..` (see [`HandleTable`]).
pub(crate) type PinTable = HandleTable<PinnedPages, MAX_PINS_PER_FILE>;

pub(crate) fn user_usize(v: u64) -> Result<usize> {
    usize::try_from(v).map_err(|_| EINVAL)
}

/// Translates `RGUP_PIN_*` flags: `EINVAL` for unknown flags and for `RGUP_PIN_NO_FALLBACK`
/// without `RGUP_PIN_FAST`. (Whether the caller may ask for [`Accounting::None`] is checked
/// separately.)
fn pin_options(flags: u32) -> Result<(Access, Method, Accounting)> {
    if flags & !uapi::RGUP_PIN_FLAGS != 0 {
        return Err(EINVAL);
    }
    let has = |flag: u32| flags & flag != 0;
    if has(uapi::RGUP_PIN_NO_FALLBACK) && !has(uapi::RGUP_PIN_FAST) {
        return Err(EINVAL);
    }
    let access = if has(uapi::RGUP_PIN_WRITE) {
        Access::Write
    } else {
        Access::Read
    };
    let method = if has(uapi::RGUP_PIN_FAST) {
        Method::Fast {
            fallback: !has(uapi::RGUP_PIN_NO_FALLBACK),
        }
    } else {
        Method::Locked
    };
    let accounting = if has(uapi::RGUP_PIN_NO_ACCOUNT) {
        Accounting::None
    } else {
        Accounting::Memlock
    };
    Ok((access, method, accounting))
}

/// `RGUP_IOC_PIN`.
pub(crate) fn pin(table: &mut PinTable, arg: usize) -> Result<isize> {
    let mut arg = ExtArg::<uapi::rgup_pin>::read(arg)?;
    let v = &arg.val;
    if v.reserved != 0 {
        return Err(EINVAL);
    }
    let (access, method, accounting) = pin_options(v.flags)?;
    if accounting == Accounting::None {
        require_capability(bindings::CAP_IPC_LOCK)?;
    }

    let pinned = PinRequest::new(user_usize(v.addr)?, user_usize(v.len)?, access)
        .method(method)
        .accounting(accounting)
        .pin()?;
    arg.val.nr_pages = pinned.page_count() as u64;
    arg.val.nr_folios = pinned.folio_count() as u64;
    arg.val.nr_runs = pinned.contiguous_runs().count() as u64;
    let handle = table.insert(pinned)?;
    arg.val.handle = handle;
    if let Err(e) = arg.write_back() {
        // The caller cannot learn the handle: do not keep a pin it cannot name.
        drop(table.remove(handle));
        return Err(e);
    }
    Ok(0)
}

/// `RGUP_IOC_UNPIN`.
pub(crate) fn unpin(table: &mut PinTable, arg: usize) -> Result<isize> {
    let arg = ExtArg::<uapi::rgup_unpin>::read(arg)?;
    drop(table.remove(arg.val.handle)?);
    Ok(0)
}

/// The `RGUP_REASON_*` of a refusal.
fn reason_code(why: Refusal) -> u32 {
    match why {
        Refusal::IoPfnMap => uapi::rgup_reason_RGUP_REASON_IO_PFNMAP,
        Refusal::FsDax => uapi::rgup_reason_RGUP_REASON_FSDAX,
        Refusal::Secretmem => uapi::rgup_reason_RGUP_REASON_SECRETMEM,
        Refusal::DirtyTrackedFile => uapi::rgup_reason_RGUP_REASON_DIRTY_TRACKED_FILE,
        Refusal::NotWritable => uapi::rgup_reason_RGUP_REASON_NOT_WRITABLE,
        Refusal::NotReadable => uapi::rgup_reason_RGUP_REASON_NOT_READABLE,
        Refusal::ArchDenied => uapi::rgup_reason_RGUP_REASON_ARCH_DENIED,
    }
}

/// The `RGUP_VMA_*` of a VMA kind.
fn kind_code(kind: VmaKind) -> u32 {
    match kind {
        VmaKind::Anonymous => uapi::rgup_vma_kind_RGUP_VMA_ANONYMOUS,
        VmaKind::Shmem => uapi::rgup_vma_kind_RGUP_VMA_SHMEM,
        VmaKind::Hugetlb => uapi::rgup_vma_kind_RGUP_VMA_HUGETLB,
        VmaKind::File => uapi::rgup_vma_kind_RGUP_VMA_FILE,
        VmaKind::Secretmem => uapi::rgup_vma_kind_RGUP_VMA_SECRETMEM,
        VmaKind::IoPfnMap => uapi::rgup_vma_kind_RGUP_VMA_IO_PFNMAP,
        VmaKind::FsDax => uapi::rgup_vma_kind_RGUP_VMA_FSDAX,
    }
}

/// `RGUP_IOC_CHECK`.
pub(crate) fn check(arg: usize) -> Result<isize> {
    let mut arg = ExtArg::<uapi::rgup_check>::read(arg)?;
    let v = &mut arg.val;
    if v.flags & !uapi::RGUP_PIN_WRITE != 0 {
        return Err(EINVAL);
    }
    let access = if v.flags & uapi::RGUP_PIN_WRITE != 0 {
        Access::Write
    } else {
        Access::Read
    };
    let verdict = match (user_usize(v.addr), user_usize(v.len)) {
        (Ok(addr), Ok(len)) => PinRequest::new(addr, len, access).check(),
        _ => Err(PinError::InvalidRange),
    };
    v.error = 0;
    v.reason = uapi::rgup_reason_RGUP_REASON_NONE;
    v.vma_start = 0;
    v.vma_end = 0;
    v.vma_kind = uapi::rgup_vma_kind_RGUP_VMA_NONE;
    v.nr_vmas = 0;
    match verdict {
        Ok(vmas) => v.nr_vmas = u32::try_from(vmas).unwrap_or(u32::MAX),
        Err(e) => {
            v.error = Error::from(e).to_errno();
            match e {
                PinError::Refused { vma, why } => {
                    v.reason = reason_code(why);
                    v.vma_start = vma.start as u64;
                    v.vma_end = vma.end as u64;
                    v.vma_kind = kind_code(vma.kind);
                }
                PinError::Hole { addr } => {
                    v.reason = uapi::rgup_reason_RGUP_REASON_HOLE;
                    v.vma_start = addr as u64;
                }
                PinError::InvalidRange => v.reason = uapi::rgup_reason_RGUP_REASON_INVALID_RANGE,
                PinError::TooLarge => v.reason = uapi::rgup_reason_RGUP_REASON_TOO_LARGE,
                _ => {}
            }
        }
    }
    arg.write_back()?;
    Ok(0)
}

/// `RGUP_IOC_RW`.
pub(crate) fn rw(table: &mut PinTable, arg: usize) -> Result<isize> {
    let arg = ExtArg::<uapi::rgup_rw>::read(arg)?;
    let v = &arg.val;
    if v.reserved != 0 || v.flags & !uapi::RGUP_RW_WRITE != 0 {
        return Err(EINVAL);
    }
    let (offset, len) = (user_usize(v.offset)?, user_usize(v.len)?);
    let pinned = table.get(v.handle)?;
    let buf = UserSlice::new(UserPtr::from_addr(user_usize(v.buf)?), len);
    if v.flags & uapi::RGUP_RW_WRITE != 0 {
        pinned.write_from_user(offset, len, &mut buf.reader())?;
    } else {
        pinned.read_to_user(offset, len, &mut buf.writer())?;
    }
    Ok(0)
}

/// `RGUP_IOC_STATS`.
pub(crate) fn stats(table: &PinTable, arg: usize) -> Result<isize> {
    let mut arg = ExtArg::<uapi::rgup_stats>::read(arg)?;
    if arg.val.reserved != 0 {
        return Err(EINVAL);
    }
    let g = rgup::stats::global();
    let v = &mut arg.val;
    v.fd_pins = table.iter().count() as u64;
    v.fd_pages = table.iter().map(|p| p.page_count() as u64).sum();
    v.fd_charged_pages = table.iter().map(|p| p.charged_pages() as u64).sum();
    v.pins = g.pins();
    v.pinned_pages = g.pinned_pages();
    v.charged_pages = g.charged_pages();
    v.pins_total = g.pins_total();
    arg.write_back()?;
    Ok(0)
}

#[kunit_tests(rgup_uapi_pin_flags)]
mod tests {
    use super::*;
    use uapi::{
        RGUP_PIN_FAST as FAST,
        RGUP_PIN_NO_ACCOUNT as NO_ACCOUNT,
        RGUP_PIN_NO_FALLBACK as NO_FALLBACK,
        RGUP_PIN_WRITE as WRITE, //
    };

    #[test]
    fn defaults_are_read_locked_accounted() {
        assert_eq!(
            pin_options(0),
            Ok((Access::Read, Method::Locked, Accounting::Memlock))
        );
    }

    #[test]
    fn each_flag_translates() {
        assert_eq!(
            pin_options(WRITE | FAST),
            Ok((
                Access::Write,
                Method::Fast { fallback: true },
                Accounting::Memlock
            ))
        );
        assert_eq!(
            pin_options(FAST | NO_FALLBACK | NO_ACCOUNT),
            Ok((
                Access::Read,
                Method::Fast { fallback: false },
                Accounting::None
            ))
        );
    }

    #[test]
    fn invalid_combinations() {
        assert_eq!(pin_options(NO_FALLBACK), Err(EINVAL));
        assert_eq!(pin_options(1 << 4), Err(EINVAL));
        assert_eq!(pin_options(WRITE | (1 << 31)), Err(EINVAL));
    }
}

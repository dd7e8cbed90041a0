// SPDX-License-Identifier: GPL-2.0

//! Helpers for the crate's KUnit suites and doc-tests (compiled with `CONFIG_KUNIT` only).
//!
//! KUnit cases run in a kernel thread: [`user_buffer`] gives it an address space with some user
//! memory to pin, [`DmaDevice`] a bound device to map it for.

use crate::helpers;
use core::ptr::NonNull;
use kernel::{
    bindings,
    device::{
        Bound,
        Device, //
    },
    error::to_result,
    faux,
    ffi::c_ulong,
    mm::MmWithUser,
    prelude::*,
    sync::aref::ARef,
};

/// Maps `len` bytes of private anonymous memory into the calling KUnit test's own mm (KUnit
/// attaches one on first use) and returns its address.
pub fn user_buffer(len: usize) -> Result<usize> {
    map_anon(len, true)
}

/// As [`user_buffer`], mapped `PROT_READ` only.
pub fn read_only_buffer(len: usize) -> Result<usize> {
    map_anon(len, false)
}

fn map_anon(len: usize, writable: bool) -> Result<usize> {
    // SAFETY: `kunit_get_current_test()` is the running test (or NULL outside KUnit, which
    // `kunit_vm_mmap` rejects).
    let addr = unsafe {
        helpers::rgup_helper_kunit_mmap_anon(
            bindings::kunit_get_current_test(),
            len as c_ulong,
            writable,
        )
    };
    if addr == 0 || addr > usize::MAX - 4096 {
        return Err(ENOMEM);
    }
    Ok(addr)
}

/// Detaches the calling KUnit test from the mm [`user_buffer`] gave it, and returns the mm: the
/// `mm_users` reference the test thread held (and would have dropped when it exits) is then the
/// only one, and the caller's.
pub fn detach_mm() -> Result<ARef<MmWithUser>> {
    // SAFETY: Called by a KUnit test thread; the helper checks it is a kthread with an mm.
    let mm = NonNull::new(unsafe { helpers::rgup_helper_kunit_detach_mm() }).ok_or(EINVAL)?;
    // SAFETY: The helper handed us the thread's `mm_users` reference.
    Ok(unsafe { ARef::from_raw(mm.cast()) })
}

/// A bound faux device with a 64-bit DMA mask (unless made [`DmaDevice::without_mask`]):
/// something to map pages for.
pub struct DmaDevice {
    reg: faux::Registration,
    // The device's `dma_parms` while it has segment limits of its own (`with_limits`).
    parms: Option<KBox<bindings::device_dma_parameters>>,
}

impl DmaDevice {
    /// Registers the device.
    pub fn new() -> Result<Self> {
        let this = Self::without_mask()?;
        // SAFETY: The device is valid and has no DMA mask of its own.
        to_result(unsafe {
            helpers::rgup_helper_dma_coerce_mask_and_coherent(
                crate::dma::raw_device(this.dev()),
                u64::MAX,
            )
        })?;
        Ok(this)
    }

    /// Registers a device without a DMA mask, which the DMA API refuses (with a `WARN`).
    pub fn without_mask() -> Result<Self> {
        Ok(Self {
            reg: faux::Registration::new(c"rgup-kunit-dma", None)?,
            parms: None,
        })
    }

    /// Registers a device whose DMA engine takes at most `max_size` bytes per segment and no
    /// segment across a multiple of `boundary_mask + 1` (`dma_set_max_seg_size()`,
    /// `dma_set_seg_boundary()`).
    pub fn with_limits(max_size: u32, boundary_mask: u64) -> Result<Self> {
        let mut this = Self::new()?;
        let parms = KBox::new(
            bindings::device_dma_parameters {
                max_segment_size: max_size,
                segment_boundary_mask: boundary_mask as c_ulong,
                ..Default::default()
            },
            GFP_KERNEL,
        )?;
        let raw = crate::dma::raw_device(this.dev());
        // SAFETY: The device is valid and only this test uses it; the parameters stay
        // allocated until the drop takes them back from the device.
        unsafe { (*raw).dma_parms = core::ptr::from_ref(&*parms).cast_mut() };
        this.parms = Some(parms);
        Ok(this)
    }

    /// The bound device.
    pub fn dev(&self) -> &Device<Bound> {
        self.reg.as_ref().as_ref()
    }
}

impl Drop for DmaDevice {
    fn drop(&mut self) {
        if self.parms.is_some() {
            // SAFETY: The device is valid; it forgets the parameters before they are freed (the
            // fields are dropped after this).
            unsafe { (*crate::dma::raw_device(self.dev())).dma_parms = core::ptr::null_mut() };
        }
    }
}

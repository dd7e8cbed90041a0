// SPDX-License-Identifier: GPL-2.0

//! A software "DMA engine" built on [`rgup::pin`], in its own module, the way an out-of-tree
//! driver would use rgup.
//!
//! `/dev/rgup_sample_dma` takes one ioctl, `RGUP_SAMPLE_DMA_COPY`, whose argument is
//!
//! ```c
//! struct rgup_sample_dma_copy {
//!         __u64 src;      /* user address to read */
//!         __u64 dst;      /* user address to write */
//!         __u64 len;      /* bytes */
//! };
//! #define RGUP_SAMPLE_DMA_COPY _IOW('r', 1, struct rgup_sample_dma_copy)
//! ```
//!
//! It pins the source for reading and the destination for writing, long-term, as a device
//! driver would before programming a DMA engine; then "the engine" copies through the pinned
//! pages (not through the user mappings), the destination is marked dirty, and both pins are
//! dropped: unpinned, dirtied, uncharged. A refused pin returns rgup's errno and logs rgup's
//! explanation.

use kernel::{
    fs::File,
    ioctl::_IOW,
    miscdevice::{
        MiscDevice,
        MiscDeviceOptions,
        MiscDeviceRegistration, //
    },
    page::{
        PAGE_SHIFT,
        PAGE_SIZE, //
    },
    prelude::*,
    transmute::FromBytes,
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};
use rgup::pin::{
    PinError,
    PinRequest,
    PinnedPages, //
};
use rgup::Access;

module! {
    type: SampleDma,
    name: "rgup_sample_dma",
    authors: ["rgup developers"],
    description: "rgup sample: a software DMA engine copying between long-term pinned buffers",
    license: "GPL",
}

/// The argument of `RGUP_SAMPLE_DMA_COPY`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CopyArgs {
    src: u64,
    dst: u64,
    len: u64,
}

// SAFETY: Three `u64`, no padding: every byte pattern is valid.
unsafe impl FromBytes for CopyArgs {}

const RGUP_SAMPLE_DMA_COPY: u32 = _IOW::<CopyArgs>('r' as u32, 1);

#[pin_data]
struct SampleDma {
    _client: rgup::Client,
    #[pin]
    _miscdev: MiscDeviceRegistration<DmaFile>,
}

impl kernel::InPlaceModule for SampleDma {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _client: rgup::Client::register(c"rgup_sample_dma")?,
            _miscdev <- MiscDeviceRegistration::register(MiscDeviceOptions {
                name: c"rgup_sample_dma",
            }),
        })
    }
}

struct DmaFile;

#[vtable]
impl MiscDevice for DmaFile {
    type Ptr = KBox<Self>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
        Ok(KBox::new(DmaFile, GFP_KERNEL)?)
    }

    fn ioctl(_me: &DmaFile, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        if cmd != RGUP_SAMPLE_DMA_COPY {
            return Err(ENOTTY);
        }
        let args = UserSlice::new(UserPtr::from_addr(arg), size_of::<CopyArgs>())
            .reader()
            .read::<CopyArgs>()?;
        let len = usize::try_from(args.len).map_err(|_| EINVAL)?;
        let src = pin(args.src, len, Access::Read)?;
        let mut dst = pin(args.dst, len, Access::Write)?;
        engine_copy(&src, &mut dst, len)?;
        // The engine wrote every byte of the destination.
        dst.mark_dirty()?;
        Ok(0)
    }
}

/// Pins a buffer for the engine, logging rgup's explanation when the pin is refused.
fn pin(addr: u64, len: usize, access: Access) -> Result<PinnedPages> {
    let addr = usize::try_from(addr).map_err(|_| EINVAL)?;
    PinRequest::new(addr, len, access).pin().map_err(|e| {
        if let PinError::Refused { vma, why } = e {
            pr_info!(
                "refusing {:?} pin of {:#x}+{:#x}: VMA {:#x}-{:#x} ({:?}): {}\n",
                access,
                addr,
                len,
                vma.start,
                vma.end,
                vma.kind,
                why.explain()
            );
        }
        e.into()
    })
}

/// "The DMA engine": copies `len` bytes from `src` to `dst` through their pinned pages, one
/// contiguous chunk at a time, as a device walking two scatter lists would.
fn engine_copy(src: &PinnedPages, dst: &mut PinnedPages, len: usize) -> Result {
    let mut chunk = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?;
    let page_offset = |p: &PinnedPages| p.addr() & (PAGE_SIZE - 1);
    let (src_base, dst_base) = (page_offset(src), page_offset(dst));
    let mut done = 0;
    while done < len {
        let (s, d) = (src_base + done, dst_base + done);
        let n = (PAGE_SIZE - (s & (PAGE_SIZE - 1)))
            .min(PAGE_SIZE - (d & (PAGE_SIZE - 1)))
            .min(len - done);
        let src_page = src.page(s >> PAGE_SHIFT).ok_or(EINVAL)?;
        src_page.read(s & (PAGE_SIZE - 1), &mut chunk[..n])?;
        let dst_page = dst.page_mut(d >> PAGE_SHIFT).ok_or(EINVAL)?;
        dst_page.write(d & (PAGE_SIZE - 1), &chunk[..n])?;
        done += n;
    }
    Ok(())
}

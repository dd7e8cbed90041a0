/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The ioctls of rgup's sample drivers (samples/rust/rgup_sample_*.rs, whose
 * module docs describe each command), for the programs that drive them: the
 * kselftests in tools/testing/selftests/rgup and the demos in
 * tools/testing/demo. The drivers define the same layouts in Rust.
 */
#ifndef RGUP_SAMPLES_UAPI_H
#define RGUP_SAMPLES_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* /dev/rgup_sample_dma: rgup::pin + rgup::dma */
struct rgup_sample_dma_copy {
	__u64 src;
	__u64 dst;
	__u64 len;
};

#define RGUP_SAMPLE_DMA_COPY _IOW('r', 1, struct rgup_sample_dma_copy)

/* /dev/rgup_sample_mirror: a device page table kept by rgup::mirror */
struct rgup_sample_mirror_bind {
	__u64 addr, len;
};

struct rgup_sample_mirror_read {
	__u64 addr, len, buf, faults;
};

struct rgup_sample_mirror_info {
	__u64 addr, pfn, valid_ptes, installs, invalidations;
};

#define RGUP_SAMPLE_MIRROR_BIND _IOW('r', 0x10, struct rgup_sample_mirror_bind)
#define RGUP_SAMPLE_MIRROR_READ _IOWR('r', 0x11, struct rgup_sample_mirror_read)
#define RGUP_SAMPLE_MIRROR_INFO _IOWR('r', 0x12, struct rgup_sample_mirror_info)

/*
 * /dev/rgup_sample_p2p: rgup::p2p on QEMU's edu device. COPY: src -> edu ->
 * dst. STAGE: src -> edu -> P2P memory the driver allocates -> edu -> dst.
 * Out: the kind and the first DMA address of the source's list and of the
 * destination's, except that for STAGE dst_kind and dst_dma describe the
 * staging buffer.
 */
struct rgup_sample_p2p_copy {
	__u64 src, dst, len;
	__u32 src_kind, dst_kind;	/* out: RGUP_SAMPLE_P2P_KIND_* */
	__u64 src_dma, dst_dma;		/* out */
};

#define RGUP_SAMPLE_P2P_KIND_BUS	1	/* a PCI bus address */
#define RGUP_SAMPLE_P2P_KIND_HOST	2	/* host-mapped */
#define RGUP_SAMPLE_P2P_MAX_LEN		2048

#define RGUP_SAMPLE_P2P_COPY _IOWR('r', 0x20, struct rgup_sample_p2p_copy)
#define RGUP_SAMPLE_P2P_STAGE _IOWR('r', 0x21, struct rgup_sample_p2p_copy)

/*
 * Registered regions (rgup::dma::DmaRegion): pinned and mapped once, kept in
 * the open file, used by the engine from later calls. At most 16 per file
 * (ENOSPC). After edu is unbound every call answers ENODEV; UNREGISTER and
 * close still release the pins.
 */
struct rgup_sample_p2p_region {
	__u64 addr, len;	/* in */
	__u32 write;		/* in: the device may write the region */
	__u32 handle;		/* out: names it in XFER and UNREGISTER */
	__u64 first_dma;	/* out: the DMA address of its first segment */
	__u32 segments;		/* out: its DMA segments */
	__u32 iova;		/* out: 1 if one IOVA-contiguous range (behind an IOMMU) */
};

struct rgup_sample_p2p_xfer {
	__u32 handle;
	__u32 to_device;	/* 1: region -> edu's buffer; 0: buffer -> region */
	__u64 offset, len;	/* bytes of the region; len <= RGUP_SAMPLE_P2P_MAX_LEN */
	__u64 buffer_offset;	/* in edu's buffer; buffer_offset + len <= MAX_LEN */
};

#define RGUP_SAMPLE_P2P_REGISTER _IOWR('r', 0x22, struct rgup_sample_p2p_region)
#define RGUP_SAMPLE_P2P_XFER _IOW('r', 0x23, struct rgup_sample_p2p_xfer)
#define RGUP_SAMPLE_P2P_UNREGISTER _IOW('r', 0x24, __u32)
/*
 * Behind a translating IOMMU only (EOPNOTSUPP otherwise): edu writes 64 bytes
 * of its buffer to the first DMA address of the region this file unregistered
 * last, which the IOMMU must block.
 */
#define RGUP_SAMPLE_P2P_STALE_WRITE _IO('r', 0x25)

#endif /* RGUP_SAMPLES_UAPI_H */

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

/* /dev/rgup_sample_p2p: rgup::p2p on QEMU's edu device */
struct rgup_sample_p2p_copy {
	__u64 src, dst, len;
	__u32 src_kind, dst_kind;	/* out: RGUP_SAMPLE_P2P_KIND_* */
	__u64 src_dma, dst_dma;
};

#define RGUP_SAMPLE_P2P_KIND_BUS	1	/* a PCI bus address */
#define RGUP_SAMPLE_P2P_KIND_HOST	2	/* host-mapped */
#define RGUP_SAMPLE_P2P_MAX_LEN		2048

#define RGUP_SAMPLE_P2P_COPY _IOWR('r', 0x20, struct rgup_sample_p2p_copy)
#define RGUP_SAMPLE_P2P_STAGE _IOWR('r', 0x21, struct rgup_sample_p2p_copy)

#endif /* RGUP_SAMPLES_UAPI_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ioctls of rgup_external.ko, the driver built outside rgup's tree
 * against rgup's SDK (tools/testing/external/). Its kselftest,
 * tools/testing/selftests/rgup/rgup_external_test.c, includes this file.
 *
 * The driver works on the memory of the process that opened
 * /dev/rgup_external (the opener), whichever process calls the ioctl.
 */
#ifndef RGUP_EXTERNAL_UAPI_H
#define RGUP_EXTERNAL_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

/*
 * RGUP_EXT_PIN: check, then pin [addr, addr + len) of the opener's mm
 * (PinRequest::check_remote, then pin_remote); replaces the file's pin.
 */
struct rgup_ext_pin {
	__u64 addr;		/* in */
	__u64 len;		/* in */
	__u32 write;		/* in: 1 to pin for device writes */
	__s32 check_errno;	/* out: 0 or the errno check_remote() predicted */
	__u64 vmas;		/* out: VMAs of the range, from check_remote() */
	__u64 pages;		/* out: pages pinned */
	__u64 runs;		/* out: physically contiguous runs */
	__u64 folios;		/* out: distinct folios */
	__u64 charged;		/* out: pages charged to the opener's pinned_vm */
};

/* RGUP_EXT_READ / RGUP_EXT_DIRTY: a sub-range of the file's pin. */
struct rgup_ext_range {
	__u64 offset;		/* in: bytes into the pinned range */
	__u64 len;		/* in */
	__u64 buf;		/* in: the caller's buffer (RGUP_EXT_READ) */
};

/*
 * RGUP_EXT_DMA: map the file's pin for the driver's device (dir: 1 to the
 * device, 2 from it, 3 both; PinnedPages::dma_map), and [addr, addr + len) of
 * the caller's own memory as a DmaOnlySgt (DmaOnlySgt::from_user); both are
 * unmapped before the ioctl returns.
 */
struct rgup_ext_dma {
	__u32 dir;		/* in */
	__u32 reserved;		/* in: 0 */
	__u64 addr;		/* in: for the DmaOnlySgt */
	__u64 len;		/* in: for the DmaOnlySgt */
	__u64 pin_segments;	/* out */
	__u64 pin_bytes;	/* out: sum of the segments' lengths */
	__u64 sgt_segments;	/* out */
	__u64 sgt_bytes;	/* out */
	__u64 sgt_host_mapped;	/* out: segments of kind HostMapped */
};

/*
 * RGUP_EXT_MIRROR: mirror [addr, addr + len) of the opener's mm (replacing
 * the file's mirror), snapshot it into states[] (one byte per page, below),
 * fault it in for writing, snapshot again into states_after[], and make the
 * first page exclusive to the device.
 */
#define RGUP_EXT_PAGE_NOT_PRESENT	0
#define RGUP_EXT_PAGE_ERROR		1
#define RGUP_EXT_PAGE_MAPPED		2
#define RGUP_EXT_PAGE_MAPPED_WRITE	3

struct rgup_ext_mirror {
	__u64 addr;		/* in, page-aligned */
	__u64 len;		/* in, page-aligned */
	__u64 states;		/* in: address of len / page size bytes */
	__u64 states_after;	/* in: the same, after the fault */
	__u64 mirrored_pages;	/* out */
	__u32 exclusive;	/* out: the first page's translation is exclusive */
	__u32 reserved;
};

/* RGUP_EXT_MIRROR_QUERY: the file's mirror now. */
struct rgup_ext_mirror_query {
	__u64 invalidations;	/* out */
	__u32 first_exclusive;	/* out: the first page still exclusive */
	__u32 first_present;	/* out: the first page still has a translation */
};

#define RGUP_EXT_PIN		_IOWR('x', 1, struct rgup_ext_pin)
#define RGUP_EXT_READ		_IOW('x', 2, struct rgup_ext_range)
#define RGUP_EXT_DIRTY		_IOW('x', 3, struct rgup_ext_range)
#define RGUP_EXT_DMA		_IOWR('x', 4, struct rgup_ext_dma)
#define RGUP_EXT_UNPIN		_IO('x', 5)
#define RGUP_EXT_MIRROR		_IOWR('x', 6, struct rgup_ext_mirror)
#define RGUP_EXT_MIRROR_QUERY	_IOR('x', 7, struct rgup_ext_mirror_query)

#endif /* RGUP_EXTERNAL_UAPI_H */

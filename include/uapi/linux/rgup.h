/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * rgup: safe long-term pinning, secondary-MMU mirroring and P2P DMA-only
 * scatterlists for device drivers. This is the user-space ABI of /dev/rgup.
 *
 * Conventions, shared by every command (the iommufd style):
 *
 * - Each command is _IO(RGUP_IOCTL_MAGIC, nr); its argument is a pointer to a
 *   struct whose first member is "__u32 size", set by the caller to the size
 *   of the struct as it knows it. Structs only ever grow at the end.
 * - A caller older than the kernel passes a smaller size: the missing tail
 *   reads as zero. A caller newer than the kernel passes a larger size: the
 *   bytes the kernel does not know must be zero, otherwise -E2BIG.
 * - Output is written back for min(size, kernel's size) bytes.
 * - Fields named "reserved" must be zero; flags the kernel does not know are
 *   refused.
 *
 * Errors common to every command:
 *
 *   ENOTTY  unknown command number
 *   EFAULT  the argument pointer (or a user buffer it names) is not accessible
 *   EINVAL  size below the command's first published size, a non-zero
 *           reserved field, or an unknown flag
 *   E2BIG   size above the kernel's, with non-zero bytes in the unknown tail
 */
#ifndef _UAPI_LINUX_RGUP_H
#define _UAPI_LINUX_RGUP_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define RGUP_IOCTL_MAGIC	0xB9

/* Bumped on an incompatible change; compatible growth keeps it. */
#define RGUP_ABI_VERSION	1

enum {
	RGUP_CMD_VERSION = 0x00,
	RGUP_CMD_PIN = 0x01,
	RGUP_CMD_UNPIN = 0x02,
	RGUP_CMD_CHECK = 0x03,
	RGUP_CMD_RW = 0x04,
	RGUP_CMD_STATS = 0x05,
	RGUP_CMD_MIRROR_CREATE = 0x06,
	RGUP_CMD_MIRROR_DESTROY = 0x07,
	RGUP_CMD_MIRROR_RW = 0x08,
	RGUP_CMD_MIRROR_SNAPSHOT = 0x09,
	RGUP_CMD_MIRROR_STATS = 0x0a,
};

/* RGUP_IOC_VERSION features */
#define RGUP_FEATURE_PIN	(1ULL << 0)
#define RGUP_FEATURE_MIRROR	(1ULL << 1)

/**
 * struct rgup_version - RGUP_IOC_VERSION: what this rgup speaks
 * @size: sizeof(struct rgup_version)
 * @abi_version: out: RGUP_ABI_VERSION of the running module
 * @major: out: module version, major
 * @minor: out: module version, minor
 * @patch: out: module version, patch
 * @reserved: must be zero
 * @features: out: RGUP_FEATURE_* bits the running module offers
 */
struct rgup_version {
	__u32 size;
	__u32 abi_version;
	__u32 major;
	__u32 minor;
	__u32 patch;
	__u32 reserved;
	__aligned_u64 features;
};

#define RGUP_VERSION_SIZE_VER0	32

#define RGUP_IOC_VERSION	_IO(RGUP_IOCTL_MAGIC, RGUP_CMD_VERSION)

/*
 * Long-term pins. Each open file of /dev/rgup has its own table of pins,
 * named by handles (1, 2, ...); closing the file unpins everything in it. A
 * handle is reachable only from the process that made the pin: a child that
 * inherits the file descriptor gets ENOENT for its parent's handles (and the
 * parent for the child's), though their pins share the file and its fate.
 */

/* The device may write the pages (FOLL_WRITE); otherwise it only reads. */
#define RGUP_PIN_WRITE		(1U << 0)
/* Pin with pin_user_pages_fast() instead of pin_user_pages() under mmap_lock. */
#define RGUP_PIN_FAST		(1U << 1)
/* With RGUP_PIN_FAST: fail if the fast path pins short, do not finish locked. */
#define RGUP_PIN_NO_FALLBACK	(1U << 2)
/* Do not charge RLIMIT_MEMLOCK (VmPin); needs CAP_IPC_LOCK, else EPERM. */
#define RGUP_PIN_NO_ACCOUNT	(1U << 3)
#define RGUP_PIN_FLAGS		(RGUP_PIN_WRITE | RGUP_PIN_FAST | \
				 RGUP_PIN_NO_FALLBACK | RGUP_PIN_NO_ACCOUNT)

/**
 * struct rgup_pin - RGUP_IOC_PIN: pin the pages covering [addr, addr + len)
 * @size: sizeof(struct rgup_pin)
 * @flags: RGUP_PIN_*
 * @addr: first byte (any alignment)
 * @len: bytes, at least 1
 * @handle: out: names the pin in RGUP_IOC_UNPIN and RGUP_IOC_RW
 * @reserved: must be zero
 * @nr_pages: out: pages pinned
 * @nr_folios: out: distinct folios among them
 * @nr_runs: out: physically contiguous runs of pages
 *
 * All or nothing: on error nothing is pinned or charged. Errors, besides the
 * common ones: EINVAL (len 0, overflow, beyond user space, more than 2^22
 * pages), EFAULT (a hole, VM_IO/VM_PFNMAP, secretmem, a writable shared file
 * mapping that needs dirty tracking, missing PROT_READ/PROT_WRITE),
 * EOPNOTSUPP (FS-DAX), ENOMEM (over RLIMIT_MEMLOCK, or out of memory), EPERM
 * (RGUP_PIN_NO_ACCOUNT without CAP_IPC_LOCK), ENOSPC (65536 pins on this
 * file), and what pin_user_pages*() report (EINTR, EAGAIN, EHWPOISON...).
 * RGUP_IOC_CHECK tells which VMA and why.
 */
struct rgup_pin {
	__u32 size;
	__u32 flags;
	__aligned_u64 addr;
	__aligned_u64 len;
	__u32 handle;
	__u32 reserved;
	__aligned_u64 nr_pages;
	__aligned_u64 nr_folios;
	__aligned_u64 nr_runs;
};

#define RGUP_PIN_SIZE_VER0	56

/**
 * struct rgup_unpin - RGUP_IOC_UNPIN: release a pin (ENOENT: no such handle)
 * @size: sizeof(struct rgup_unpin)
 * @handle: from RGUP_IOC_PIN
 */
struct rgup_unpin {
	__u32 size;
	__u32 handle;
};

#define RGUP_UNPIN_SIZE_VER0	8

/* Why RGUP_IOC_CHECK says a pin would fail (struct rgup_check.reason). */
enum rgup_reason {
	RGUP_REASON_NONE = 0,		/* the pin would pass the checks */
	RGUP_REASON_IO_PFNMAP = 1,	/* VM_IO/VM_PFNMAP: EFAULT */
	RGUP_REASON_FSDAX = 2,		/* FS-DAX file: EOPNOTSUPP */
	RGUP_REASON_SECRETMEM = 3,	/* memfd_secret(): EFAULT */
	/* writable shared mapping of a file needing dirty tracking: EFAULT */
	RGUP_REASON_DIRTY_TRACKED_FILE = 4,
	RGUP_REASON_NOT_WRITABLE = 5,	/* no PROT_WRITE: EFAULT */
	RGUP_REASON_NOT_READABLE = 6,	/* no PROT_READ: EFAULT */
	RGUP_REASON_ARCH_DENIED = 7,	/* e.g. protection key: EFAULT */
	RGUP_REASON_HOLE = 8,		/* unmapped address: EFAULT */
	RGUP_REASON_INVALID_RANGE = 9,	/* EINVAL */
	RGUP_REASON_TOO_LARGE = 10,	/* EINVAL */
};

/* What backs a VMA (struct rgup_check.vma_kind). */
enum rgup_vma_kind {
	RGUP_VMA_NONE = 0,
	RGUP_VMA_ANONYMOUS = 1,
	RGUP_VMA_SHMEM = 2,
	RGUP_VMA_HUGETLB = 3,
	RGUP_VMA_FILE = 4,
	RGUP_VMA_SECRETMEM = 5,
	RGUP_VMA_IO_PFNMAP = 6,
	RGUP_VMA_FSDAX = 7,
};

/**
 * struct rgup_check - RGUP_IOC_CHECK: would RGUP_IOC_PIN of this range pass
 *	rgup's FOLL_LONGTERM checks, and if not, why (nothing is pinned)
 * @size: sizeof(struct rgup_check)
 * @flags: RGUP_PIN_WRITE or 0
 * @addr: as for RGUP_IOC_PIN
 * @len: as for RGUP_IOC_PIN
 * @error: out: 0, or the negative errno the pin would fail with
 * @reason: out: enum rgup_reason
 * @vma_start: out: the refused VMA's start, or the first unmapped address
 * @vma_end: out: the refused VMA's end
 * @vma_kind: out: enum rgup_vma_kind of the refused VMA
 * @nr_vmas: out: with @error 0, the number of VMAs in the range
 *
 * The ioctl itself succeeds whatever the verdict.
 */
struct rgup_check {
	__u32 size;
	__u32 flags;
	__aligned_u64 addr;
	__aligned_u64 len;
	__s32 error;
	__u32 reason;
	__aligned_u64 vma_start;
	__aligned_u64 vma_end;
	__u32 vma_kind;
	__u32 nr_vmas;
};

#define RGUP_CHECK_SIZE_VER0	56

/* RGUP_IOC_RW direction: user buffer -> pinned pages (a device write). */
#define RGUP_RW_WRITE		(1U << 0)

/**
 * struct rgup_rw - RGUP_IOC_RW: copy between a user buffer and the pinned
 *	pages of a handle, i.e. what the device would read or write
 * @size: sizeof(struct rgup_rw)
 * @flags: RGUP_RW_WRITE to write the pages (and mark them dirty), else read
 * @handle: from RGUP_IOC_PIN
 * @reserved: must be zero
 * @offset: byte offset in the pinned range (relative to its @addr)
 * @len: bytes, at least 1, within the pinned range
 * @buf: user buffer of @len bytes
 *
 * Errors, besides the common ones: ENOENT (no such handle), EINVAL (range
 * outside the pin), EPERM (RGUP_RW_WRITE on a pin without RGUP_PIN_WRITE).
 */
struct rgup_rw {
	__u32 size;
	__u32 flags;
	__u32 handle;
	__u32 reserved;
	__aligned_u64 offset;
	__aligned_u64 len;
	__aligned_u64 buf;
};

#define RGUP_RW_SIZE_VER0	40

/**
 * struct rgup_stats - RGUP_IOC_STATS: what rgup holds
 * @size: sizeof(struct rgup_stats)
 * @reserved: must be zero
 * @fd_pins: out: pins in this file's table (of every process using it)
 * @fd_pages: out: pages they hold
 * @fd_charged_pages: out: of which charged to RLIMIT_MEMLOCK
 * @pins: out: pins alive in the whole system (all files and drivers)
 * @pinned_pages: out: pages they hold
 * @charged_pages: out: of which charged
 * @pins_total: out: pins made since rgup was loaded
 */
struct rgup_stats {
	__u32 size;
	__u32 reserved;
	__aligned_u64 fd_pins;
	__aligned_u64 fd_pages;
	__aligned_u64 fd_charged_pages;
	__aligned_u64 pins;
	__aligned_u64 pinned_pages;
	__aligned_u64 charged_pages;
	__aligned_u64 pins_total;
};

#define RGUP_STATS_SIZE_VER0	64

/*
 * Secondary-MMU mirrors. Each open file also has a table of mirrors, named by
 * handles of their own (1, 2, ...), with the same reachability rule as pins.
 * A mirror follows a range of the creating process's address space without
 * pinning it (an mmu interval notifier and hmm_range_fault()); behind it is
 * rgup's software device, which reads and writes that memory only through the
 * mirror: RGUP_IOC_MIRROR_RW is what such a device would see.
 */

/**
 * struct rgup_mirror_create - RGUP_IOC_MIRROR_CREATE: mirror [addr, addr + len)
 *	of the calling process
 * @size: sizeof(struct rgup_mirror_create)
 * @flags: must be zero
 * @addr: page-aligned start
 * @len: page-aligned length, at least one page, within the user address space
 * @handle: out: names the mirror in the other RGUP_IOC_MIRROR_* commands
 * @reserved: must be zero
 *
 * Errors, besides the common ones: EINVAL (range), ENOSPC (too many mirrors in
 * this file), ENOMEM.
 */
struct rgup_mirror_create {
	__u32 size;
	__u32 flags;
	__aligned_u64 addr;
	__aligned_u64 len;
	__u32 handle;
	__u32 reserved;
};

#define RGUP_MIRROR_CREATE_SIZE_VER0	32

/**
 * struct rgup_mirror_destroy - RGUP_IOC_MIRROR_DESTROY: stop mirroring
 * @size: sizeof(struct rgup_mirror_destroy)
 * @handle: from RGUP_IOC_MIRROR_CREATE (ENOENT: no such handle)
 */
struct rgup_mirror_destroy {
	__u32 size;
	__u32 handle;
};

#define RGUP_MIRROR_DESTROY_SIZE_VER0	8

/* RGUP_IOC_MIRROR_RW direction: user buffer -> mirrored memory (a device write). */
#define RGUP_MIRROR_RW_WRITE	(1U << 0)

/**
 * struct rgup_mirror_rw - RGUP_IOC_MIRROR_RW: the device reads or writes
 *	[addr, addr + len) of the mirrored process through the mirror, faulting
 *	in (for write with RGUP_MIRROR_RW_WRITE) what is not mirrored yet
 * @size: sizeof(struct rgup_mirror_rw)
 * @flags: RGUP_MIRROR_RW_WRITE, or zero to read
 * @handle: from RGUP_IOC_MIRROR_CREATE
 * @reserved: must be zero
 * @addr: any byte address in the mirror
 * @len: bytes, at least 1, within the mirror
 * @buf: user buffer of @len bytes
 * @faults: out: fault rounds it took (0 when everything was mirrored)
 *
 * Errors, besides the common ones: ENOENT (no such handle), EINVAL (range
 * outside the mirror), EFAULT (a hole, PROT_NONE, VM_IO/VM_PFNMAP, device
 * memory, or the mirrored process exited), EPERM (a write to a read-only
 * mapping), EBUSY (invalidations kept colliding for a second), EINTR.
 */
struct rgup_mirror_rw {
	__u32 size;
	__u32 flags;
	__u32 handle;
	__u32 reserved;
	__aligned_u64 addr;
	__aligned_u64 len;
	__aligned_u64 buf;
	__aligned_u64 faults;
};

#define RGUP_MIRROR_RW_SIZE_VER0	48

/* One byte per page of RGUP_IOC_MIRROR_SNAPSHOT. */
#define RGUP_MIRROR_PAGE_PRESENT	(1U << 0)	/* a page is mapped */
#define RGUP_MIRROR_PAGE_WRITE		(1U << 1)	/* ... writable by the CPU */
#define RGUP_MIRROR_PAGE_ZERO		(1U << 2)	/* ... the shared zero page */
#define RGUP_MIRROR_PAGE_DEVICE		(1U << 3)	/* ... device memory */
#define RGUP_MIRROR_PAGE_PMD		(1U << 4)	/* ... by a PMD (2 MiB) */
#define RGUP_MIRROR_PAGE_PUD		(1U << 5)	/* ... by a PUD (1 GiB) */
#define RGUP_MIRROR_PAGE_ERROR		(1U << 7)	/* not accessible at all */

/**
 * struct rgup_mirror_snapshot - RGUP_IOC_MIRROR_SNAPSHOT: what the CPU maps at
 *	each page, without faulting anything in
 * @size: sizeof(struct rgup_mirror_snapshot)
 * @handle: from RGUP_IOC_MIRROR_CREATE
 * @addr: page-aligned address in the mirror
 * @npages: pages, at least 1, within the mirror
 * @states: user buffer of @npages bytes, RGUP_MIRROR_PAGE_* each
 */
struct rgup_mirror_snapshot {
	__u32 size;
	__u32 handle;
	__aligned_u64 addr;
	__aligned_u64 npages;
	__aligned_u64 states;
};

#define RGUP_MIRROR_SNAPSHOT_SIZE_VER0	32

/**
 * struct rgup_mirror_stats - RGUP_IOC_MIRROR_STATS: counters of one mirror
 * @size: sizeof(struct rgup_mirror_stats)
 * @handle: from RGUP_IOC_MIRROR_CREATE
 * @faults: out: fault calls that installed something
 * @faulted_pages: out: pages they installed
 * @invalidations: out: invalidations that intersected the mirror
 * @retries: out: fault windows abandoned because an invalidation collided
 * @mirrored_pages: out: translations the mirror holds now
 * @device_invalidations: out: invalidations the device behind it was told of
 */
struct rgup_mirror_stats {
	__u32 size;
	__u32 handle;
	__aligned_u64 faults;
	__aligned_u64 faulted_pages;
	__aligned_u64 invalidations;
	__aligned_u64 retries;
	__aligned_u64 mirrored_pages;
	__aligned_u64 device_invalidations;
};

#define RGUP_MIRROR_STATS_SIZE_VER0	56

#define RGUP_IOC_PIN		_IO(RGUP_IOCTL_MAGIC, RGUP_CMD_PIN)
#define RGUP_IOC_UNPIN		_IO(RGUP_IOCTL_MAGIC, RGUP_CMD_UNPIN)
#define RGUP_IOC_CHECK		_IO(RGUP_IOCTL_MAGIC, RGUP_CMD_CHECK)
#define RGUP_IOC_RW		_IO(RGUP_IOCTL_MAGIC, RGUP_CMD_RW)
#define RGUP_IOC_STATS		_IO(RGUP_IOCTL_MAGIC, RGUP_CMD_STATS)
#define RGUP_IOC_MIRROR_CREATE	_IO(RGUP_IOCTL_MAGIC, RGUP_CMD_MIRROR_CREATE)
#define RGUP_IOC_MIRROR_DESTROY	_IO(RGUP_IOCTL_MAGIC, RGUP_CMD_MIRROR_DESTROY)
#define RGUP_IOC_MIRROR_RW	_IO(RGUP_IOCTL_MAGIC, RGUP_CMD_MIRROR_RW)
#define RGUP_IOC_MIRROR_SNAPSHOT	_IO(RGUP_IOCTL_MAGIC, RGUP_CMD_MIRROR_SNAPSHOT)
#define RGUP_IOC_MIRROR_STATS	_IO(RGUP_IOCTL_MAGIC, RGUP_CMD_MIRROR_STATS)

#endif /* _UAPI_LINUX_RGUP_H */

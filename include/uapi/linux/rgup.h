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
};

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

#endif /* _UAPI_LINUX_RGUP_H */

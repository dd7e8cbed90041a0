/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Input to bindgen for src/uapi.rs: the uAPI structs, and the ioctl numbers
 * evaluated by clang (bindgen cannot expand function-like macros; the
 * RGUP_CONST_ prefix is stripped from the generated Rust).
 */
#include <uapi/linux/rgup.h>

/* The gup_test ABI, from the kernel tree (-I$(srctree)), for src/gup_test_compat.rs. */
#include <mm/gup_test.h>

const __u32 RGUP_CONST_RGUP_IOC_VERSION = RGUP_IOC_VERSION;
const __u32 RGUP_CONST_RGUP_IOC_PIN = RGUP_IOC_PIN;
const __u32 RGUP_CONST_RGUP_IOC_UNPIN = RGUP_IOC_UNPIN;
const __u32 RGUP_CONST_RGUP_IOC_CHECK = RGUP_IOC_CHECK;
const __u32 RGUP_CONST_RGUP_IOC_RW = RGUP_IOC_RW;
const __u32 RGUP_CONST_RGUP_IOC_STATS = RGUP_IOC_STATS;
const __u32 RGUP_CONST_PIN_LONGTERM_TEST_START = PIN_LONGTERM_TEST_START;
const __u32 RGUP_CONST_PIN_LONGTERM_TEST_STOP = PIN_LONGTERM_TEST_STOP;
const __u32 RGUP_CONST_PIN_LONGTERM_TEST_READ = PIN_LONGTERM_TEST_READ;

/* The test_hmm dmirror ABI, from the kernel tree, for src/dmirror_compat.rs. */
#include <lib/test_hmm_uapi.h>

const __u32 RGUP_CONST_HMM_DMIRROR_READ = HMM_DMIRROR_READ;
const __u32 RGUP_CONST_HMM_DMIRROR_WRITE = HMM_DMIRROR_WRITE;
const __u32 RGUP_CONST_HMM_DMIRROR_MIGRATE_TO_DEV = HMM_DMIRROR_MIGRATE_TO_DEV;
const __u32 RGUP_CONST_HMM_DMIRROR_MIGRATE_TO_SYS = HMM_DMIRROR_MIGRATE_TO_SYS;
const __u32 RGUP_CONST_HMM_DMIRROR_SNAPSHOT = HMM_DMIRROR_SNAPSHOT;
const __u32 RGUP_CONST_HMM_DMIRROR_EXCLUSIVE = HMM_DMIRROR_EXCLUSIVE;
const __u32 RGUP_CONST_HMM_DMIRROR_CHECK_EXCLUSIVE = HMM_DMIRROR_CHECK_EXCLUSIVE;
const __u32 RGUP_CONST_HMM_DMIRROR_RELEASE = HMM_DMIRROR_RELEASE;
const __u32 RGUP_CONST_HMM_DMIRROR_FLAGS = HMM_DMIRROR_FLAGS;
const __u32 RGUP_CONST_HMM_DMIRROR_READ_UNLOCKED = HMM_DMIRROR_READ_UNLOCKED;

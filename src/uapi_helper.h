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

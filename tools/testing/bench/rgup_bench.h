/* SPDX-License-Identifier: GPL-2.0 */
#ifndef RGUP_BENCH_H
#define RGUP_BENCH_H

#include <linux/types.h>

struct device;
struct mm_struct;
struct task_struct;

/*
 * Maps [addr, addr + len) of current for dev, reads the DMA list and unmaps
 * it, iters times, the way a C driver does: with a page array per mapping
 * (a driver that keeps its mappings keeps their pages to unpin them), or
 * with one_array, one array allocated once for all iterations (the baseline
 * before 2026-12-01). Returns the nanoseconds taken (or -errno) and the
 * number of DMA segments of the last mapping in *nents.
 */
s64 rgup_bench_p2p_c(struct device *dev, unsigned long addr, unsigned long len,
		     unsigned int iters, bool one_array, unsigned int *nents);

/*
 * rgup_bench_p2p_c() with a page array per mapping, through the out-of-line
 * calls DmaOnlySgt::from_user() makes where the C inlines (the floor of the
 * P2P comparison under TCG); implementation 3 of RGUP_BENCH_P2P.
 */
s64 rgup_bench_p2p_c_floor(struct device *dev, unsigned long addr, unsigned long len,
			   unsigned int iters, unsigned int *nents);

/*
 * Pins [addr, addr + len) of current for writing, long-term, and unpins it,
 * iters times, the way gup_test's PIN_LONGTERM_BENCHMARK does (and a C driver
 * without accounting; what == 1); with what == 5 also charges and uncharges
 * mm->pinned_vm against RLIMIT_MEMLOCK holding the mm (mmgrab) as rgup does;
 * what == 4 only takes and drops the mmap lock. Returns the nanoseconds taken
 * or -errno.
 */
s64 rgup_bench_pin_c(unsigned long addr, unsigned long len, unsigned int iters,
		     unsigned int what);

/*
 * rgup_bench_pin_c(.., 5) through the out-of-line calls rgup makes (the
 * floor of the in-kernel comparison under TCG); what == 6 of RGUP_BENCH_PIN.
 */
s64 rgup_bench_pin_c_floor(unsigned long addr, unsigned long len, unsigned int iters);

/* The kernel's Rust helpers (rust/helpers/), exported for Rust, called here. */
void rust_helper_mmap_read_lock(struct mm_struct *mm);
void rust_helper_mmap_read_unlock(struct mm_struct *mm);

/* A faux device with a 64-bit DMA mask to map for; NULL on failure. */
struct device *rgup_bench_device_create(void);
void rgup_bench_device_destroy(struct device *dev);

#endif /* RGUP_BENCH_H */

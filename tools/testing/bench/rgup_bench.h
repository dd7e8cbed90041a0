/* SPDX-License-Identifier: GPL-2.0 */
#ifndef RGUP_BENCH_H
#define RGUP_BENCH_H

#include <linux/types.h>

struct device;

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
 * Pins [addr, addr + len) of current for writing, long-term, and unpins it,
 * iters times, the way gup_test's PIN_LONGTERM_BENCHMARK does (and a C driver
 * without accounting; what == 1); with what == 5 also charges and uncharges
 * mm->pinned_vm against RLIMIT_MEMLOCK holding the mm (mmgrab) as rgup does;
 * what == 4 only takes and drops the mmap lock. Returns the nanoseconds taken
 * or -errno.
 */
s64 rgup_bench_pin_c(unsigned long addr, unsigned long len, unsigned int iters,
		     unsigned int what);

/* A faux device with a 64-bit DMA mask to map for; NULL on failure. */
struct device *rgup_bench_device_create(void);
void rgup_bench_device_destroy(struct device *dev);

#endif /* RGUP_BENCH_H */

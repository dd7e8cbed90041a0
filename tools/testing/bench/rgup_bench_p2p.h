/* SPDX-License-Identifier: GPL-2.0 */
#ifndef RGUP_BENCH_P2P_H
#define RGUP_BENCH_P2P_H

#include <linux/types.h>

struct device;

/*
 * Maps [addr, addr + len) of current for dev and unmaps it, iters times, the
 * way a C driver does; returns the nanoseconds taken (or -errno) and the
 * number of DMA segments of the last mapping in *nents.
 */
s64 rgup_bench_p2p_c(struct device *dev, unsigned long addr, unsigned long len,
		     unsigned int iters, unsigned int *nents);

/* A faux device with a 64-bit DMA mask to map for; NULL on failure. */
struct device *rgup_bench_p2p_device_create(void);
void rgup_bench_p2p_device_destroy(struct device *dev);

#endif /* RGUP_BENCH_P2P_H */

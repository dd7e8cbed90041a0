/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What rgup's user-space benchmarks share: a clock, a sort, the CSV every
 * benchmark writes (read by report.py, which makes the tables and plots), the
 * mirror benchmarks' buffer, and the ioctls of the benchmark module
 * rgup_bench (rgup_bench.rs).
 */
#ifndef RGUP_BENCH_UTIL_H
#define RGUP_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <linux/ioctl.h>
#include <linux/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * size bytes aligned to 2 MiB in a larger private anonymous mapping (*raw,
 * *raw_len: what to munmap()), madvise()d with advice (MADV_HUGEPAGE or
 * MADV_NOHUGEPAGE) and written by the CPU; NULL when the mmap() fails.
 */
static inline void *bench_aligned_buffer(size_t size, int advice, void **raw, size_t *raw_len)
{
	const size_t align = 2 << 20;
	unsigned char *p;

	*raw_len = size + align;
	*raw = mmap(NULL, *raw_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*raw == MAP_FAILED)
		return NULL;
	p = (unsigned char *)(((uintptr_t)*raw + align - 1) & ~(align - 1));
	madvise(p, size, advice);
	memset(p, 0x5a, size);
	return p;
}

/* CLOCK_MONOTONIC, in microseconds. */
static inline double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* qsort() comparison of doubles. */
static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * One sample per row: which benchmark, the series a plot groups by, the case
 * (one table row), its size in bytes (the x axis), the implementation
 * ("rgup", "upstream": the pair whose medians make the ratio; any other name
 * is an extra column), the round and the time. Text fields are quoted: they
 * may hold commas.
 */
#define BENCH_CSV_HEADER "bench,series,case,size_bytes,implementation,round,microseconds\n"

/* The CSV at path (the first argument of every benchmark), header written. */
static inline FILE *bench_csv_open(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		perror(path);
		exit(1);
	}
	fputs(BENCH_CSV_HEADER, f);
	return f;
}

static inline void bench_csv_row(FILE *f, const char *bench, const char *series,
				 const char *name, unsigned long long size,
				 const char *impl, int round, double us)
{
	fprintf(f, "%s,\"%s\",\"%s\",%llu,\"%s\",%d,%.3f\n", bench, series, name, size, impl,
		round, us);
	fflush(f);
}

/* The argument of the benchmark module's ioctls (rgup_bench.rs). */
struct rgup_bench {
	__u64 addr, len;
	__u32 iters, impl;
	__u64 ns;
	__u32 segments, pad;
};

/* impl: 0 rgup, 1 C, 2 C with one page array for all iterations */
#define RGUP_BENCH_P2P _IOWR('r', 0x30, struct rgup_bench)
#define RGUP_BENCH_PIN _IOWR('r', 0x31, struct rgup_bench)
/* impl: 0 rgup::dma::DmaRegion (dma_iova_*), 1 PinnedPages::dma_map (dma_map_sgtable) */
#define RGUP_BENCH_DMA _IOWR('r', 0x32, struct rgup_bench)

#endif /* RGUP_BENCH_UTIL_H */

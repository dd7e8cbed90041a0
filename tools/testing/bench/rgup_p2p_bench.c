// SPDX-License-Identifier: GPL-2.0
/*
 * DmaOnlySgt::from_user() + drop vs the C a driver writes for the same job
 * (pin_user_pages_fast(FOLL_PCI_P2PDMA), sg_alloc_table_from_pages_segment(),
 * dma_map_sgtable(), and back), on the same user pages, timed inside the
 * kernel by the benchmark module rgup_bench_p2p (tools/testing/bench/
 * rgup_bench_p2p.rs): 1, 64 and 4096 DMA segments, interleaved, ROUNDS times
 * ITERS iterations; min/median/max per iteration in microseconds and the
 * ratio of medians. The pages are system RAM made physically discontiguous,
 * one segment each, so that the segment count is what the case says. Not a
 * test. Writes the samples as CSV to the first argument.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/types.h>

#include "bench_util.h"

struct rgup_bench_p2p {
	__u64 addr, len;
	__u32 iters, impl;
	__u64 ns;
	__u32 segments, pad;
};

#define RGUP_BENCH_P2P _IOWR('r', 0x30, struct rgup_bench_p2p)
#define ROUNDS 7

static const struct { unsigned int pages, iters; } cases[] = {
	{ 1, 2000 }, { 64, 200 }, { 4096, 10 },
};

/*
 * n pages, none physically next to the previous one: the buffer maps every
 * other page of a larger allocation, touched in reverse, then mremap()s
 * them together.
 */
static void *scattered(unsigned int n)
{
	size_t pg = getpagesize();
	char *big = mmap(NULL, 2 * n * pg, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *dst = mmap(NULL, n * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned int i;

	if (big == MAP_FAILED || dst == MAP_FAILED)
		return NULL;
	madvise(big, 2 * n * pg, MADV_NOHUGEPAGE);
	for (i = 2 * n; i-- > 0;)
		big[i * pg] = 1;
	for (i = 0; i < n; i++)
		if (mremap(big + 2 * i * pg, pg, pg, MREMAP_MAYMOVE | MREMAP_FIXED,
			   dst + i * pg) == MAP_FAILED)
			return NULL;
	return dst;
}

int main(int argc, char **argv)
{
	FILE *csv = argc > 1 ? fopen(argv[1], "w") : NULL;
	int fd = open("/dev/rgup_bench_p2p", O_RDWR);
	static const char *const names[] = { "rgup", "C" };
	size_t i;
	int r, k;

	if (fd < 0) {
		perror("/dev/rgup_bench_p2p");
		return 1;
	}
	if (csv)
		fprintf(csv, "case,implementation,round,microseconds_per_iteration,segments\n");
	printf("| case | rgup min / median / max (us) | C min / median / max (us) | ratio |\n");
	printf("|---|---|---|---|\n");
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		double t[2][ROUNDS];
		unsigned int segs[2] = { 0, 0 };
		void *buf = scattered(cases[i].pages);

		if (!buf) {
			perror("scattered");
			return 1;
		}
		for (r = -1; r < ROUNDS; r++) {	/* round -1 warms up */
			for (k = 0; k < 2; k++) {
				int which = r % 2 ? 1 - k : k;
				struct rgup_bench_p2p b = {
					.addr = (uintptr_t)buf,
					.len = (__u64)cases[i].pages * getpagesize(),
					.iters = cases[i].iters, .impl = which,
				};

				if (ioctl(fd, RGUP_BENCH_P2P, &b)) {
					perror("RGUP_BENCH_P2P");
					return 1;
				}
				if (r < 0)
					continue;
				t[which][r] = b.ns / 1e3 / cases[i].iters;
				segs[which] = b.segments;
				if (csv)
					fprintf(csv, "%u segments,%s,%d,%.3f,%u\n", cases[i].pages,
						names[which], r, t[which][r], b.segments);
			}
		}
		qsort(t[0], ROUNDS, sizeof(double), cmp_double);
		qsort(t[1], ROUNDS, sizeof(double), cmp_double);
		printf("| %u pages (%u / %u segments) ", cases[i].pages, segs[0], segs[1]);
		printf("| %.1f / %.1f / %.1f ", t[0][0], t[0][ROUNDS / 2], t[0][ROUNDS - 1]);
		printf("| %.1f / %.1f / %.1f ", t[1][0], t[1][ROUNDS / 2], t[1][ROUNDS - 1]);
		printf("| %.2f |\n", t[0][ROUNDS / 2] / t[1][ROUNDS / 2]);
		fflush(stdout);
	}
	if (csv)
		fclose(csv);
	return 0;
}

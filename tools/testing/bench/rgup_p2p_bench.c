// SPDX-License-Identifier: GPL-2.0
/*
 * DmaOnlySgt::from_user() + drop vs the C a driver writes for the same job
 * (a page array, pin_user_pages_fast(FOLL_PCI_P2PDMA),
 * sg_alloc_table_from_pages_segment(), dma_map_sgtable(), a read of the DMA
 * list, and back; "C, one page array" allocates the array once for all
 * iterations, as this benchmark did before 2026-12-01, which a driver that
 * keeps its mappings cannot; "C + rgup's calls" is the C making the
 * out-of-line calls rgup makes where the C inlines, the floor under TCG), on
 * the same user pages, timed inside the
 * kernel by the benchmark module rgup_bench (tools/testing/bench/
 * rgup_bench.rs): 1, 64 and 4096 DMA segments, interleaved, ROUNDS times
 * ITERS iterations, microseconds per iteration. The pages are system RAM
 * made physically discontiguous, one segment each, so that the segment count
 * is what the case says (no P2P device needed: the mapping is for a faux
 * device). Not a test. Writes the samples as CSV (bench_util.h) to the first
 * argument; report.py makes the table.
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

#define ROUNDS 9

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
	int fd = open("/dev/rgup_bench", O_RDWR);
	static const char *const names[] = {
		"rgup", "upstream", "C, one page array", "C + rgup's calls",
	};
	char name[64];
	FILE *csv;
	size_t i;
	int r, k;

	if (argc < 2) {
		fprintf(stderr, "usage: %s SAMPLES.csv\n", argv[0]);
		return 2;
	}
	if (fd < 0) {
		perror("/dev/rgup_bench");
		return 1;
	}
	csv = bench_csv_open(argv[1]);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t len = (size_t)cases[i].pages * getpagesize();
		void *buf = scattered(cases[i].pages);

		if (!buf) {
			perror("scattered");
			return 1;
		}
		for (r = -1; r < ROUNDS; r++) {	/* round -1 warms up */
			for (k = 0; k < (int)ARRAY_SIZE(names); k++) {
				/* Alternate which of rgup and upstream goes first. */
				int which = r % 2 && k < 2 ? 1 - k : k;
				struct rgup_bench b = {
					.addr = (uintptr_t)buf, .len = len,
					.iters = cases[i].iters, .impl = which,
				};

				if (ioctl(fd, RGUP_BENCH_P2P, &b)) {
					perror("RGUP_BENCH_P2P");
					return 1;
				}
				if (r < 0)
					continue;
				if (b.segments != cases[i].pages)
					fprintf(stderr, "p2p: %s made %u segments for %u pages\n",
						names[which], b.segments, cases[i].pages);
				snprintf(name, sizeof(name), "%u segments", cases[i].pages);
				bench_csv_row(csv, "p2p", "map + unmap", name, len, names[which], r,
					      b.ns / 1e3 / cases[i].iters);
			}
		}
		printf("p2p: %u segments: done\n", cases[i].pages);
		fflush(stdout);
	}
	fclose(csv);
	return 0;
}

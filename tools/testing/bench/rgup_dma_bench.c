// SPDX-License-Identifier: GPL-2.0
/*
 * Mapping a pin for a device behind an IOMMU (run-bench.sh dma boots
 * QEMU's intel-iommu with edu): rgup::dma::DmaRegion, one IOVA range through
 * dma_iova_try_alloc() + dma_iova_link() per physically contiguous run +
 * dma_iova_sync() (and dma_iova_destroy() back), against
 * PinnedPages::dma_map(), sg_alloc_table_from_pages_segment() +
 * dma_map_sgtable() (and back), on the same pinned pages, timed in the
 * kernel (tools/testing/bench/rgup_bench.rs, RGUP_BENCH_DMA). Writes
 * dma.csv; report.py makes the table and plots.
 *
 *   rgup_dma_bench SAMPLES.csv
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

/* 4 KiB pages (a run each when scattered), and THP-backed 2 MiB runs. */
static const struct { unsigned int pages, iters; int huge; } cases[] = {
	{ 1, 2000, 0 }, { 64, 200, 0 }, { 4096, 10, 0 }, { 4096, 20, 1 },
};

static void *buffer(unsigned int pages, int huge)
{
	size_t len = (size_t)pages * getpagesize(), align = 2UL << 20;
	char *raw = mmap(NULL, len + align, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *buf;

	if (raw == MAP_FAILED)
		return NULL;
	buf = (char *)(((uintptr_t)raw + align - 1) & ~(align - 1));
	madvise(buf, len, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	memset(buf, 1, len);
	return buf;
}

int main(int argc, char **argv)
{
	int fd = open("/dev/rgup_bench", O_RDWR);
	static const char *const names[] = { "rgup", "upstream" };
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
		void *buf = buffer(cases[i].pages, cases[i].huge);
		const char *thp = "";
		unsigned int segs[2] = { 0, 0 };

		if (!buf) {
			perror("mmap");
			return 1;
		}
		if (cases[i].huge)
			thp = " (THP)";
		for (r = -1; r < ROUNDS; r++) {	/* round -1 warms up */
			for (k = 0; k < 2; k++) {
				int which = r % 2 ? 1 - k : k;
				struct rgup_bench b = {
					.addr = (uintptr_t)buf, .len = len,
					.iters = cases[i].iters, .impl = which,
				};

				if (ioctl(fd, RGUP_BENCH_DMA, &b)) {
					/* edu behind an IOMMU, bound by rgup_bench? */
					perror("RGUP_BENCH_DMA");
					return 1;
				}
				segs[which] = b.segments;
				if (r < 0)
					continue;
				snprintf(name, sizeof(name), "%u pages%s", cases[i].pages, thp);
				bench_csv_row(csv, "dma", "map + unmap", name, len, names[which], r,
					      b.ns / 1e3 / cases[i].iters);
			}
		}
		printf("dma: %u pages%s: done (segments: DmaRegion %u, dma_map_sgtable %u)\n",
		       cases[i].pages, thp, segs[0], segs[1]);
		fflush(stdout);
	}
	fclose(csv);
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Mirror cost, rgup vs upstream, in the same boot: the same HMM_DMIRROR_*
 * commands (lib/test_hmm_uapi.h) against rgup's /dev/rgup_dmirror0 and
 * against test_hmm's /dev/hmm_dmirror0, interleaved, ROUNDS times per case
 * and implementation:
 *
 *   fault-in     READ of a freshly written buffer: one fault round for the
 *                whole range, plus the copy to the caller's buffer
 *   device read  the same READ again: everything mirrored, the copy only
 *   munmap       munmap() of N mirrored pages: the invalidation, plus the
 *                unmap itself (the "no mirror" column is the unmap alone);
 *                up to 64 pages, the mean of several munmap()s of N pages
 *                in a row, as the small pins average several calls
 *
 * Each measurement opens its device afresh (a new mirror of the whole
 * address space) and closes it after, so that only one mirror sees the
 * invalidations. What one measurement leaves behind lands in the next one's
 * time: under TCG, a munmap() of one page takes 20-35 us more after a
 * test_hmm measurement, whoever makes it, and rgup's 15-20 us more after
 * anything but rgup, its path cold (Documentation/rgup/performance.rst,
 * "Issue 15, eighth round"). So the measurements follow a de Bruijn order
 * (order2[], order3[]): every implementation comes after every
 * implementation, itself included, equally often, and each pays the same mix
 * of what the others leave (alternating which goes first put test_hmm's
 * leftovers on rgup and never on test_hmm). The munmap cases go from 1 to
 * 262144 pages: the invalidation cost against the mirrored size. Writes every sample to the
 * CSV named by the first argument (bench_util.h); report.py makes the
 * tables (min/median/max, ratio of medians). Not a test: nothing here passes
 * or fails on a time. Needs rgup.ko and test_hmm.ko loaded, root.
 *
 *   rgup_mirror_bench --loop DEV CASE COUNT
 *
 * measures case number CASE (from 0, in the order of cases[]) COUNT times on
 * one device, 0 rgup or 1 upstream, for a profiler (perf record) to sample.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <lib/test_hmm_uapi.h>

#include "bench_util.h"

#define ROUNDS 9	/* at least 9 interleaved rounds, as the other benchmarks */

/*
 * The order of the measurements, repeated, with 2 and with 3 implementations
 * (0 rgup, 1 upstream, 2 no mirror): de Bruijn sequences, in which every
 * ordered pair, (0, 0) included, follows once per cycle.
 */
static const int order2[] = { 0, 0, 1, 1 };
static const int order3[] = { 0, 0, 1, 0, 2, 1, 1, 2, 2 };
#define MIB (1024UL * 1024)
#define CHUNK (64 * MIB)	/* most one READ moves in the munmap cases */

enum kind { FAULT_IN, DEVICE_READ, MUNMAP };

struct bench_case {
	const char *series;
	const char *name;
	enum kind kind;
	size_t size;
	int madvise;		/* MADV_HUGEPAGE or MADV_NOHUGEPAGE */
	int calls;		/* munmap() calls of `size` per sample (0: one) */
};

static const struct bench_case cases[] = {
	{ "fault-in, 4 KiB pages", "fault-in 64 MiB, 4 KiB pages", FAULT_IN, 64 * MIB,
	  MADV_NOHUGEPAGE },
	{ "fault-in, THP", "fault-in 64 MiB, THP", FAULT_IN, 64 * MIB, MADV_HUGEPAGE },
	{ "fault-in, 4 KiB pages", "fault-in 512 MiB, 4 KiB pages", FAULT_IN, 512 * MIB,
	  MADV_NOHUGEPAGE },
	{ "fault-in, THP", "fault-in 512 MiB, THP", FAULT_IN, 512 * MIB, MADV_HUGEPAGE },
	{ "device read", "device read 64 MiB (mirrored)", DEVICE_READ, 64 * MIB,
	  MADV_NOHUGEPAGE },
	{ "munmap invalidation", "munmap of 1 mirrored page", MUNMAP, 4096, MADV_NOHUGEPAGE,
	  16 },
	{ "munmap invalidation", "munmap of 8 mirrored pages", MUNMAP, 32 * 1024,
	  MADV_NOHUGEPAGE, 8 },
	{ "munmap invalidation", "munmap of 64 mirrored pages", MUNMAP, 256 * 1024,
	  MADV_NOHUGEPAGE, 4 },
	{ "munmap invalidation", "munmap of 512 mirrored pages", MUNMAP, 2 * MIB,
	  MADV_NOHUGEPAGE },
	{ "munmap invalidation", "munmap of 4096 mirrored pages", MUNMAP, 16 * MIB,
	  MADV_NOHUGEPAGE },
	{ "munmap invalidation", "munmap of 32768 mirrored pages", MUNMAP, 128 * MIB,
	  MADV_NOHUGEPAGE },
	{ "munmap invalidation", "munmap of 262144 mirrored pages", MUNMAP, 1024 * MIB,
	  MADV_NOHUGEPAGE },
};

static const char *const devices[] = { "/dev/rgup_dmirror0", "/dev/hmm_dmirror0" };
static const char *const names[] = { "rgup", "upstream", "no mirror" };

static unsigned char *mirror_buf;

static int dev_read(int fd, void *addr, size_t len)
{
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)addr, .ptr = (uintptr_t)mirror_buf,
		.npages = len / 4096,
	};

	return ioctl(fd, HMM_DMIRROR_READ, &cmd) ? -errno : 0;
}

/* One measurement of `c` on device `dev` (-1: no device); < 0 on error. */
static double measure(const struct bench_case *c, int dev)
{
	int calls = c->calls ? c->calls : 1, k;
	size_t total = c->size * calls, raw_len, off;
	void *raw;
	unsigned char *p = bench_aligned_buffer(total, c->madvise, &raw, &raw_len);
	int fd = -1;
	double t = -1, t0;

	if (!p)
		return -ENOMEM;
	if (dev >= 0) {
		fd = open(devices[dev], O_RDWR);
		if (fd < 0)
			goto out;
	}
	switch (c->kind) {
	case FAULT_IN:
		t0 = now_us();
		if (dev_read(fd, p, c->size))
			goto out;
		t = now_us() - t0;
		break;
	case DEVICE_READ:
		if (dev_read(fd, p, c->size))
			goto out;
		t0 = now_us();
		if (dev_read(fd, p, c->size))
			goto out;
		t = now_us() - t0;
		break;
	case MUNMAP:
		for (off = 0; fd >= 0 && off < total; off += CHUNK) {
			size_t n = total - off < CHUNK ? total - off : CHUNK;

			if (dev_read(fd, p + off, n))
				goto out;
		}
		/* Small cases: the mean of `calls` munmap()s, one after the other. */
		t0 = now_us();
		for (k = 0; k < calls; k++)
			munmap(p + k * c->size, c->size);
		t = (now_us() - t0) / calls;
		break;
	}
out:
	if (fd >= 0)
		close(fd);
	munmap(raw, raw_len);
	return t;
}

int main(int argc, char **argv)
{
	FILE *csv;
	int rounds[3], cycles, step, dev, ndev, r;
	const int *order;
	size_t i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s SAMPLES.csv | --loop DEV CASE COUNT\n", argv[0]);
		return 2;
	}
	mirror_buf = malloc(512 * MIB);
	if (!mirror_buf) {
		perror("rgup_mirror_bench");
		return 1;
	}
	/* --loop DEV CASE COUNT: one case on one device (0 rgup, 1 upstream), for a profiler. */
	if (!strcmp(argv[1], "--loop") && argc == 5) {
		int dev = atoi(argv[2]), n = atoi(argv[4]);
		const struct bench_case *c = &cases[atoi(argv[3]) % ARRAY_SIZE(cases)];

		for (r = 0; r < n; r++)
			printf("--loop %s, %s: %.0f us\n", names[dev], c->name, measure(c, dev));
		return 0;
	}
	csv = bench_csv_open(argv[1]);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct bench_case *c = &cases[i];

		ndev = c->kind == MUNMAP ? 3 : 2;
		order = ndev == 3 ? order3 : order2;
		/* Warm-up, of both: the first fault-in through a device costs more. */
		measure(c, 0);
		measure(c, 1);
		memset(rounds, 0, sizeof(rounds));
		/*
		 * Whole cycles of order[] (ndev * ndev steps, ndev of each), at
		 * least ROUNDS measurements of each: 10 with 2, 9 with 3.
		 */
		cycles = (ROUNDS + ndev - 1) / ndev;
		for (step = 0; step < cycles * ndev * ndev; step++) {
			double t;

			dev = order[step % (ndev * ndev)];
			t = measure(c, dev == 2 ? -1 : dev);
			if (t < 0) {
				fprintf(stderr, "%s on %s: error %g\n", c->name,
					dev == 2 ? "no device" : devices[dev], t);
				return 1;
			}
			bench_csv_row(csv, "mirror", c->series, c->name, c->size, names[dev],
				      rounds[dev]++, t);
		}
		printf("mirror: %s: done\n", c->name);
		fflush(stdout);
	}
	fclose(csv);
	return 0;
}

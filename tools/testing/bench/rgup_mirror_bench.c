// SPDX-License-Identifier: GPL-2.0
/*
 * Mirror cost, rgup vs upstream, in the same boot: the same HMM_DMIRROR_*
 * commands (lib/test_hmm_uapi.h) against rgup's /dev/rgup_dmirror0 and
 * against test_hmm's /dev/hmm_dmirror0, interleaved (the order alternates
 * per round), ROUNDS times per case:
 *
 *   fault-in     READ of a freshly written buffer: one fault round for the
 *                whole range, plus the copy to the caller's buffer
 *   device read  the same READ again: everything mirrored, the copy only
 *   munmap       munmap() of N mirrored pages: the invalidation, plus the
 *                unmap itself (the "no mirror" column is the unmap alone)
 *
 * Each measurement opens its device afresh (a new mirror of the whole
 * address space) and closes it after, so that only one mirror sees the
 * invalidations. The munmap cases go from 1 to 262144 pages: the
 * invalidation cost against the mirrored size. Writes every sample to the
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

#define ROUNDS 9	/* the median of 9 interleaved rounds, as the other benchmarks */
#define MIB (1024UL * 1024)
#define CHUNK (64 * MIB)	/* most one READ moves in the munmap cases */

enum kind { FAULT_IN, DEVICE_READ, MUNMAP };

struct bench_case {
	const char *series;
	const char *name;
	enum kind kind;
	size_t size;
	int madvise;		/* MADV_HUGEPAGE or MADV_NOHUGEPAGE */
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
	{ "munmap invalidation", "munmap of 1 mirrored page", MUNMAP, 4096, MADV_NOHUGEPAGE },
	{ "munmap invalidation", "munmap of 8 mirrored pages", MUNMAP, 32 * 1024,
	  MADV_NOHUGEPAGE },
	{ "munmap invalidation", "munmap of 64 mirrored pages", MUNMAP, 256 * 1024,
	  MADV_NOHUGEPAGE },
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

/* A buffer of `size` bytes, aligned to 2 MiB, written by the CPU. */
static void *buffer(size_t size, int advice, void **raw, size_t *raw_len)
{
	unsigned char *p;

	*raw_len = size + 2 * MIB;
	*raw = mmap(NULL, *raw_len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*raw == MAP_FAILED)
		return NULL;
	p = (unsigned char *)(((uintptr_t)*raw + 2 * MIB - 1) & ~(2 * MIB - 1));
	madvise(p, size, advice);
	memset(p, 0x5a, size);
	return p;
}

/* One measurement of `c` on device `dev` (-1: no device); < 0 on error. */
static double measure(const struct bench_case *c, int dev)
{
	size_t raw_len, off;
	void *raw;
	unsigned char *p = buffer(c->size, c->madvise, &raw, &raw_len);
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
		for (off = 0; fd >= 0 && off < c->size; off += CHUNK) {
			size_t n = c->size - off < CHUNK ? c->size - off : CHUNK;

			if (dev_read(fd, p + off, n))
				goto out;
		}
		t0 = now_us();
		munmap(p, c->size);
		t = now_us() - t0;
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
	size_t i;
	int r, d, ndev;

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
		/* Warm-up, of both: the first fault-in through a device costs more. */
		measure(c, 0);
		measure(c, 1);
		for (r = 0; r < ROUNDS; r++) {
			for (d = 0; d < ndev; d++) {
				/* Alternate which implementation goes first. */
				int dev = r % 2 ? (d < 2 ? 1 - d : d) : d;
				double t = measure(c, dev == 2 ? -1 : dev);

				if (t < 0) {
					fprintf(stderr, "%s on %s: error %g\n", c->name,
						dev == 2 ? "no device" : devices[dev], t);
					return 1;
				}
				bench_csv_row(csv, "mirror", c->series, c->name, c->size,
					      names[dev], r, t);
			}
		}
		printf("mirror: %s: done\n", c->name);
		fflush(stdout);
	}
	fclose(csv);
	return 0;
}

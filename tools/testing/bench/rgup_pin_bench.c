// SPDX-License-Identifier: GPL-2.0
/*
 * Pin + unpin cost, rgup vs upstream, in the same boot on the same buffer.
 *
 *   rgup   RGUP_IOC_PIN (RGUP_PIN_WRITE, locked path, RLIMIT_MEMLOCK
 *          accounting) followed by RGUP_IOC_UNPIN
 *   upstream  gup_test's PIN_LONGTERM_BENCHMARK: pin_user_pages(FOLL_WRITE |
 *          FOLL_LONGTERM) under mmap_lock, then unpin, in one ioctl
 *
 * Both are timed from user space around the ioctls, interleaved, ROUNDS
 * times per case; the table shows min/median/max in microseconds and the
 * ratio of the medians. rgup needs two syscalls where gup_test needs one, so
 * the last column also subtracts the median of a null ioctl (RGUP_IOC_VERSION,
 * measured in the same rounds) from rgup's time: that ratio compares the
 * pinning work itself. Not a test: nothing here
 * passes or fails on a time. Needs rgup.ko, CONFIG_GUP_TEST, root, and free
 * 2 MiB huge pages for the hugetlb cases.
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

#include <linux/rgup.h>
#include <mm/gup_test.h>

#include "bench_util.h"

#define ROUNDS 9
#define FOLL_WRITE 0x01		/* include/linux/mm_types.h */

struct bench_case {
	const char *name;
	size_t size;
	int mmap_flags;
	int madvise;		/* 0 or MADV_HUGEPAGE / MADV_NOHUGEPAGE */
};

static const struct bench_case cases[] = {
	{ "4 KiB anon", 4096, MAP_PRIVATE | MAP_ANONYMOUS, MADV_NOHUGEPAGE },
	{ "2 MiB THP", 2UL << 20, MAP_PRIVATE | MAP_ANONYMOUS, MADV_HUGEPAGE },
	{ "64 MiB anon 4K pages", 64UL << 20, MAP_PRIVATE | MAP_ANONYMOUS, MADV_NOHUGEPAGE },
	{ "64 MiB hugetlb", 64UL << 20, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, 0 },
	{ "512 MiB hugetlb", 512UL << 20, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, 0 },
};

static double rgup_once(int fd, void *mem, size_t size)
{
	struct rgup_pin p = {
		.size = sizeof(p), .flags = RGUP_PIN_WRITE,
		.addr = (uintptr_t)mem, .len = size,
	};
	struct rgup_unpin u = { .size = sizeof(u) };
	double t0 = now_us();

	if (ioctl(fd, RGUP_IOC_PIN, &p))
		return -errno;
	u.handle = p.handle;
	if (ioctl(fd, RGUP_IOC_UNPIN, &u))
		return -errno;
	return now_us() - t0;
}

static double null_once(int fd)
{
	struct rgup_version v = { .size = sizeof(v) };
	double t0 = now_us();

	if (ioctl(fd, RGUP_IOC_VERSION, &v))
		return -errno;
	return now_us() - t0;
}

static double upstream_once(int fd, void *mem, size_t size)
{
	struct gup_test g = {
		.addr = (uintptr_t)mem, .size = size,
		.nr_pages_per_call = size / getpagesize(),
		.gup_flags = FOLL_WRITE,
	};
	double t0 = now_us();

	if (ioctl(fd, PIN_LONGTERM_BENCHMARK, &g))
		return -errno;
	return now_us() - t0;
}

int main(void)
{
	int rfd = open("/dev/rgup", O_RDWR), gfd = open("/sys/kernel/debug/gup_test", O_RDWR);

	if (rfd < 0 || gfd < 0) {
		perror(rfd < 0 ? "/dev/rgup" : "/sys/kernel/debug/gup_test");
		return 4;
	}
	printf("| case | rgup min/median/max (us) | upstream min/median/max (us) |");
	printf(" ratio | ratio, one syscall each |\n");
	printf("|---|---|---|---|---|\n");
	for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
		const struct bench_case *bc = &cases[c];
		double r[ROUNDS], u[ROUNDS], n[ROUNDS];
		char *mem = mmap(NULL, bc->size, PROT_READ | PROT_WRITE, bc->mmap_flags, -1, 0);

		if (mem == MAP_FAILED) {
			printf("| %s | skipped: mmap: %s | | |\n", bc->name, strerror(errno));
			continue;
		}
		if (bc->madvise)
			madvise(mem, bc->size, bc->madvise);
		memset(mem, 1, bc->size);
		/* One untimed round each to warm up. */
		rgup_once(rfd, mem, bc->size);
		upstream_once(gfd, mem, bc->size);
		for (int i = 0; i < ROUNDS; i++) {
			r[i] = rgup_once(rfd, mem, bc->size);
			u[i] = upstream_once(gfd, mem, bc->size);
			n[i] = null_once(rfd);
			if (r[i] < 0 || u[i] < 0) {
				printf("| %s | failed: %s | | |\n", bc->name,
				       strerror((int)-(r[i] < 0 ? r[i] : u[i])));
				goto next;
			}
		}
		qsort(r, ROUNDS, sizeof(double), cmp_double);
		qsort(u, ROUNDS, sizeof(double), cmp_double);
		qsort(n, ROUNDS, sizeof(double), cmp_double);
		printf("| %s | %.0f / %.0f / %.0f | %.0f / %.0f / %.0f | %.3f | %.3f |\n",
		       bc->name, r[0], r[ROUNDS / 2], r[ROUNDS - 1],
		       u[0], u[ROUNDS / 2], u[ROUNDS - 1], r[ROUNDS / 2] / u[ROUNDS / 2],
		       (r[ROUNDS / 2] - n[ROUNDS / 2]) / u[ROUNDS / 2]);
next:
		munmap(mem, bc->size);
	}
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * For count-bench.sh: the operations whose kernel instructions
 * qemu_tbcount.c counts, each implementation between its own pair of
 * markers, all in one boot (so that a multi-page case maps the same physical
 * pages for every implementation):
 *
 *   rgup_count_bench pin|p2p IMPLS SIZE CALLS
 *	for each implementation of IMPLS (digits, e.g. "061"), in order: one
 *	unmeasured call, then, between the markers, CALLS calls of
 *	RGUP_BENCH_PIN or RGUP_BENCH_P2P (tools/testing/bench/rgup_bench.rs),
 *	each of 1000 pins and unpins (or maps and unmaps) of the same SIZE
 *	bytes of an anonymous buffer
 *   rgup_count_bench mirror|mirror-thp DEVS SIZE CALLS
 *	for each device of DEVS (0 rgup's /dev/rgup_dmirror0, 1 test_hmm's
 *	/dev/hmm_dmirror0), in order: one unmeasured fault-in, then, between
 *	the markers, CALLS fault-ins: an HMM_DMIRROR_READ of SIZE freshly
 *	written bytes (4 KiB pages, or THPs) through a newly opened device, as
 *	rgup_mirror_bench's "fault-in" (the buffer is written and the device
 *	opened and closed outside the markers): one window per fault-in
 *   rgup_count_bench munmap DEVS SIZE CALLS
 *	for each device of DEVS (0 rgup's, 1 test_hmm's, 2 none), in order:
 *	one unmeasured round, then CALLS rounds of: UNMAPS * SIZE bytes of
 *	4 KiB pages written (in a larger mapping), read through a newly opened
 *	device (mirrored), and, between the markers, UNMAPS munmap()s of SIZE
 *	bytes each, as rgup_mirror_bench's small "munmap" cases (with 2, the
 *	munmap()s of pages no device mirrors): one window per round
 *   rgup_count_bench uapi NODES SIZE CALLS
 *	for each node of NODES (0 rgup's /dev/rgup_gup_test, 1 gup_test's
 *	/sys/kernel/debug/gup_test), in order: one unmeasured pin, then,
 *	between the markers, CALLS pins through gup_test's uAPI, as
 *	rgup_pin_bench's "gup_test uAPI" pair: PIN_LONGTERM_TEST_START (write)
 *	and PIN_LONGTERM_TEST_STOP of the same SIZE bytes of an anonymous buffer
 *
 * Each window is qemu_tbcount.c's next numbered file; count-bench.sh adds up
 * the windows of one implementation.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <lib/test_hmm_uapi.h>
#include <mm/gup_test.h>

#include "bench_util.h"

/* qemu_tbcount.c counts the kernel's blocks from start() to stop(). */
static void start(void)
{
	asm volatile("movabs $0x5452415453505547, %%rax" ::: "rax");
}

static void stop(void)
{
	asm volatile("movabs $0x504f545350505547, %%rax" ::: "rax");
}

/* CALLS calls of 1000 operations of implementation IMPL on [mem, mem + size). */
static int bench_calls(int fd, unsigned long req, char *mem, size_t size, int impl, int calls)
{
	int i;

	for (i = 0; i < calls; i++) {
		struct rgup_bench b = {
			.addr = (uintptr_t)mem, .len = size, .iters = 1000, .impl = impl,
		};

		if (ioctl(fd, req, &b)) {
			perror("ioctl");
			return 1;
		}
	}
	return 0;
}

static int bench_impls(const char *kind, const char *impls, size_t size, int calls)
{
	unsigned long req = strcmp(kind, "pin") ? RGUP_BENCH_P2P : RGUP_BENCH_PIN;
	const char *impl;
	char *mem;
	int fd;

	fd = open("/dev/rgup_bench", O_RDWR);
	if (fd < 0) {
		perror("/dev/rgup_bench");
		return 1;
	}
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	madvise(mem, size, MADV_NOHUGEPAGE);
	memset(mem, 1, size);
	for (impl = impls; *impl; impl++) {
		if (bench_calls(fd, req, mem, size, *impl - '0', 1))
			return 1;
		start();
		if (bench_calls(fd, req, mem, size, *impl - '0', calls))
			return 1;
		stop();
	}
	return 0;
}

/* One fault-in of size bytes through device dev; counted if measure. */
static int fault_in(const char *dev, size_t size, int thp, unsigned char *out, int measure)
{
	struct hmm_dmirror_cmd cmd = { .ptr = (uintptr_t)out, .npages = size / 4096 };
	size_t raw_len;
	void *raw, *p = bench_aligned_buffer(size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE, &raw,
					     &raw_len);
	int fd, ret;

	if (!p)
		return 1;
	fd = open(dev, O_RDWR);
	if (fd < 0) {
		perror(dev);
		return 1;
	}
	cmd.addr = (uintptr_t)p;
	if (measure)
		start();
	ret = ioctl(fd, HMM_DMIRROR_READ, &cmd);
	if (measure)
		stop();
	if (ret)
		perror("HMM_DMIRROR_READ");
	close(fd);
	munmap(raw, raw_len);
	return ret ? 1 : 0;
}

/* munmap()s per window of the munmap rounds, as rgup_mirror_bench's 1-page case */
#define UNMAPS 16

/*
 * UNMAPS munmap()s, one after the other, of size bytes each mirrored by dev
 * (NULL: none); counted if measure. out has room for UNMAPS * size bytes.
 */
static int munmap_mirrored(const char *dev, size_t size, unsigned char *out, int measure)
{
	size_t total = UNMAPS * size, raw_len;
	struct hmm_dmirror_cmd cmd = { .ptr = (uintptr_t)out, .npages = total / 4096 };
	unsigned char *p;
	void *raw;
	int fd = -1, ret = 0, k;

	p = bench_aligned_buffer(total, MADV_NOHUGEPAGE, &raw, &raw_len);
	if (!p)
		return 1;
	if (dev) {
		fd = open(dev, O_RDWR);
		if (fd < 0) {
			perror(dev);
			return 1;
		}
		cmd.addr = (uintptr_t)p;
		ret = ioctl(fd, HMM_DMIRROR_READ, &cmd);
		if (ret)
			perror("HMM_DMIRROR_READ");
	}
	if (measure)
		start();
	for (k = 0; k < UNMAPS; k++)
		munmap(p + k * size, size);
	if (measure)
		stop();
	if (fd >= 0)
		close(fd);
	munmap(raw, raw_len);
	return ret ? 1 : 0;
}

/*
 * For each device of devs (0 rgup's, 1 test_hmm's, 2 none: munmap only), one
 * unmeasured round, then calls measured ones: fault-ins, or with unmap the
 * munmap() of a mirrored buffer.
 */
static int rounds(const char *devs, size_t size, int calls, int thp, int unmap)
{
	static const char *const nodes[] = { "/dev/rgup_dmirror0", "/dev/hmm_dmirror0", NULL };
	/* Written, not only allocated: the copy to it must not fault. */
	size_t out_len = unmap ? UNMAPS * size : size;
	unsigned char *out = malloc(out_len);
	const char *d;
	int i;

	if (!out)
		return 1;
	memset(out, 1, out_len);
	for (d = devs; *d; d++) {
		const char *dev = nodes[(unsigned int)(*d - '0') % 3];

		if (!dev && !unmap)
			return 2;
		for (i = 0; i <= calls; i++)
			if (unmap ? munmap_mirrored(dev, size, out, i > 0) :
				    fault_in(dev, size, thp, out, i > 0))
				return 1;
	}
	return 0;
}

/*
 * For each node of nodes (0 rgup's, 1 gup_test's), one unmeasured pin, then
 * calls measured ones: PIN_LONGTERM_TEST_START (write) + _STOP of size bytes.
 */
static int uapi_pins(const char *nodes, size_t size, int calls)
{
	static const char *const paths[] = { "/dev/rgup_gup_test", "/sys/kernel/debug/gup_test" };
	struct pin_longterm_test t = { .size = size, .flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE };
	const char *n;
	char *mem;
	int fd, i;

	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	madvise(mem, size, MADV_NOHUGEPAGE);
	memset(mem, 1, size);
	t.addr = (uintptr_t)mem;
	for (n = nodes; *n; n++) {
		const char *path = paths[(unsigned int)(*n - '0') % 2];

		fd = open(path, O_RDWR);
		if (fd < 0) {
			perror(path);
			return 1;
		}
		for (i = 0; i <= calls; i++) {
			if (i == 1)
				start();
			if (ioctl(fd, PIN_LONGTERM_TEST_START, &t) ||
			    ioctl(fd, PIN_LONGTERM_TEST_STOP)) {
				perror("PIN_LONGTERM_TEST_START/_STOP");
				return 1;
			}
		}
		stop();
		close(fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && (!strcmp(argv[1], "pin") || !strcmp(argv[1], "p2p")))
		return bench_impls(argv[1], argv[2], strtoul(argv[3], NULL, 0), atoi(argv[4]));
	if (argc == 5 && (!strcmp(argv[1], "mirror") || !strcmp(argv[1], "mirror-thp") ||
			  !strcmp(argv[1], "munmap")))
		return rounds(argv[2], strtoul(argv[3], NULL, 0), atoi(argv[4]),
			      !strcmp(argv[1], "mirror-thp"), !strcmp(argv[1], "munmap"));
	if (argc == 5 && !strcmp(argv[1], "uapi"))
		return uapi_pins(argv[2], strtoul(argv[3], NULL, 0), atoi(argv[4]));
	fprintf(stderr, "usage: %s pin|p2p IMPLS SIZE CALLS\n"
		"       %s mirror|mirror-thp|munmap DEVS SIZE CALLS\n"
		"       %s uapi NODES SIZE CALLS\n", argv[0], argv[0], argv[0]);
	return 2;
}

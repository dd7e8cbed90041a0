// SPDX-License-Identifier: GPL-2.0
/*
 * Pin + unpin cost, rgup vs upstream, in the same boot on the same buffer,
 * two ways, and rgup's memory per pinned page:
 *
 *   ioctl      rgup's RGUP_IOC_PIN (RGUP_PIN_WRITE, locked path,
 *              RLIMIT_MEMLOCK accounting) + RGUP_IOC_UNPIN, two system calls,
 *              against gup_test's PIN_LONGTERM_BENCHMARK (pin_user_pages(
 *              FOLL_WRITE | FOLL_LONGTERM) under mmap_lock, unpin, and a
 *              per-page verification, in one), timed from user space; the
 *              "null ioctl" column is one RGUP_IOC_VERSION.
 *   gup_test uAPI
 *              like for like through the same uAPI: gup_test's own
 *              PIN_LONGTERM_TEST_START (PIN_LONGTERM_TEST_FLAG_USE_WRITE:
 *              pin_user_pages(FOLL_WRITE | FOLL_LONGTERM) under mmap_lock) +
 *              PIN_LONGTERM_TEST_STOP, two system calls, against the same two
 *              on rgup's /dev/rgup_gup_test (tools/testing/rgup_test/
 *              gup_test_compat.rs: PinRequest::pin(), RLIMIT_MEMLOCK
 *              accounting, and its drop), timed from user space.
 *   in kernel  the library alone, through the benchmark module rgup_bench:
 *              PinRequest::pin() + drop against the C a driver writes
 *              (kvmalloc_array, pin_user_pages under mmap_lock,
 *              unpin_user_pages, kvfree), timed inside the kernel, like for
 *              like. The extra columns take it apart by elimination:
 *              "rgup, no accounting" is PinRequest with Accounting::None,
 *              "C + accounting" adds to the C what rgup's RLIMIT_MEMLOCK
 *              accounting does, "C + rgup's calls" is that C making the
 *              out-of-line calls rgup makes where the C inlines (the floor
 *              under TCG), "rgup preflight" is PinRequest::check() alone
 *              (mmap lock + VMA walk), "mmap lock" the lock and unlock alone.
 *   memory     MemFree, Slab and VmallocUsed (/proc/meminfo) before and while
 *              rgup holds pins: the bytes of bookkeeping per pinned page.
 *
 * Sizes 4 KiB to 1 GiB of 4 KiB pages, plus THP and hugetlb. Interleaved
 * (the order alternates per round), ROUNDS rounds after a warm-up; small
 * cases average several calls per sample. Writes the samples as CSV
 * (bench_util.h) to the first argument and the memory table to the second;
 * report.py makes the tables.
 *
 *   rgup_pin_bench --loop IMPL SIZE SECONDS [thp]
 *
 * pins and unpins SIZE bytes (with "thp": a 2 MiB-aligned buffer with
 * MADV_HUGEPAGE) for SECONDS with one implementation (0-6 as in
 * rgup_bench.rs, 10 rgup's ioctls, 11 gup_test's, 12 rgup's
 * PIN_LONGTERM_TEST_START + _STOP, 13 gup_test's), for a profiler (perf
 * record) to sample. Not a test: nothing here passes or fails on a
 * time. Needs rgup.ko, rgup_bench.ko, CONFIG_GUP_TEST, root, and free 2 MiB
 * huge pages for the hugetlb cases.
 */
#include <errno.h>
#include <stdbool.h>
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
#define KIB 1024UL
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)
#define FOLL_WRITE 0x01		/* include/linux/mm_types.h */

struct bench_case {
	const char *series;	/* the plot */
	const char *name;	/* the table row */
	size_t size;
	int mmap_flags;
	int madvise;		/* 0 or MADV_HUGEPAGE / MADV_NOHUGEPAGE */
};

#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)
#define HUGETLB (ANON | MAP_HUGETLB)

static const struct bench_case cases[] = {
	{ "anon 4 KiB pages", "4 KiB anon", 4 * KIB, ANON, MADV_NOHUGEPAGE },
	{ "anon 4 KiB pages", "64 KiB anon", 64 * KIB, ANON, MADV_NOHUGEPAGE },
	{ "anon 4 KiB pages", "1 MiB anon", MIB, ANON, MADV_NOHUGEPAGE },
	{ "anon 4 KiB pages", "16 MiB anon", 16 * MIB, ANON, MADV_NOHUGEPAGE },
	{ "anon 4 KiB pages", "64 MiB anon", 64 * MIB, ANON, MADV_NOHUGEPAGE },
	{ "anon 4 KiB pages", "256 MiB anon", 256 * MIB, ANON, MADV_NOHUGEPAGE },
	{ "anon 4 KiB pages", "1 GiB anon", GIB, ANON, MADV_NOHUGEPAGE },
	{ "THP", "2 MiB THP", 2 * MIB, ANON, MADV_HUGEPAGE },
	{ "hugetlb", "64 MiB hugetlb", 64 * MIB, HUGETLB, 0 },
	{ "hugetlb", "512 MiB hugetlb", 512 * MIB, HUGETLB, 0 },
};

static int rfd, gfd, bfd, rgfd;

/*
 * Calls per sample: enough to last about 1 ms natively for small pins; 4 for
 * 1 MiB and the 2 MiB THP (a THP pin is tens of microseconds under TCG, and
 * one call per sample varied 1.5x between rounds).
 */
static int reps(size_t size)
{
	return size <= 64 * KIB ? 32 : size <= 2 * MIB ? 4 : 1;
}

static double rgup_ioctl(void *mem, size_t size, int n)
{
	struct rgup_pin p = {
		.size = sizeof(p), .flags = RGUP_PIN_WRITE,
		.addr = (uintptr_t)mem, .len = size,
	};
	struct rgup_unpin u = { .size = sizeof(u) };
	double t0 = now_us();

	for (int i = 0; i < n; i++) {
		if (ioctl(rfd, RGUP_IOC_PIN, &p))
			return -errno;
		u.handle = p.handle;
		if (ioctl(rfd, RGUP_IOC_UNPIN, &u))
			return -errno;
	}
	return (now_us() - t0) / n;
}

static double null_ioctl(void *mem, size_t size, int n)
{
	struct rgup_version v = { .size = sizeof(v) };
	double t0 = now_us();

	for (int i = 0; i < n; i++)
		if (ioctl(rfd, RGUP_IOC_VERSION, &v))
			return -errno;
	return (now_us() - t0) / n;
}

static double gup_test_ioctl(void *mem, size_t size, int n)
{
	struct gup_test g;
	double t0 = now_us();

	for (int i = 0; i < n; i++) {
		g = (struct gup_test){
			.addr = (uintptr_t)mem, .size = size,
			.nr_pages_per_call = size / getpagesize(),
			.gup_flags = FOLL_WRITE,
		};
		if (ioctl(gfd, PIN_LONGTERM_BENCHMARK, &g))
			return -errno;
	}
	return (now_us() - t0) / n;
}

/* PIN_LONGTERM_TEST_START (write) + PIN_LONGTERM_TEST_STOP on fd. */
static double longterm_test(int fd, void *mem, size_t size, int n)
{
	struct pin_longterm_test t = {
		.addr = (uintptr_t)mem, .size = size,
		.flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE,
	};
	double t0 = now_us();

	for (int i = 0; i < n; i++) {
		if (ioctl(fd, PIN_LONGTERM_TEST_START, &t))
			return -errno;
		if (ioctl(fd, PIN_LONGTERM_TEST_STOP))
			return -errno;
	}
	return (now_us() - t0) / n;
}

static double rgup_longterm_test(void *mem, size_t size, int n)
{
	return longterm_test(rgfd, mem, size, n);
}

static double gup_test_longterm_test(void *mem, size_t size, int n)
{
	return longterm_test(gfd, mem, size, n);
}

/* RGUP_BENCH_PIN with implementation impl (rgup_bench.rs). */
static double in_kernel(int impl, void *mem, size_t size, int n)
{
	struct rgup_bench b = {
		.addr = (uintptr_t)mem, .len = size, .iters = n, .impl = impl,
	};

	if (ioctl(bfd, RGUP_BENCH_PIN, &b))
		return -errno;
	return b.ns / 1e3 / n;
}

static double kernel_rgup(void *mem, size_t size, int n)
{
	return in_kernel(0, mem, size, n);
}

static double kernel_c(void *mem, size_t size, int n)
{
	return in_kernel(1, mem, size, n);
}

static double kernel_rgup_noacct(void *mem, size_t size, int n)
{
	return in_kernel(2, mem, size, n);
}

static double kernel_rgup_check(void *mem, size_t size, int n)
{
	return in_kernel(3, mem, size, n);
}

static double kernel_lock(void *mem, size_t size, int n)
{
	return in_kernel(4, mem, size, n);
}

static double kernel_c_acct(void *mem, size_t size, int n)
{
	return in_kernel(5, mem, size, n);
}

static double kernel_c_floor(void *mem, size_t size, int n)
{
	return in_kernel(6, mem, size, n);
}

struct impl {
	const char *name;
	double (*once)(void *mem, size_t size, int n);
};

struct method {
	const char *series_prefix;
	int nimpl;
	struct impl impl[7];
};

static const struct method methods[] = {
	{ "ioctl", 3, { { "rgup", rgup_ioctl }, { "upstream", gup_test_ioctl },
			{ "null ioctl", null_ioctl } } },
	{ "gup_test uAPI", 2, { { "rgup", rgup_longterm_test },
				{ "upstream", gup_test_longterm_test } } },
	{ "in kernel", 7, { { "rgup", kernel_rgup }, { "upstream", kernel_c },
			    { "rgup, no accounting", kernel_rgup_noacct },
			    { "C + accounting", kernel_c_acct },
			    { "C + rgup's calls", kernel_c_floor },
			    { "rgup preflight", kernel_rgup_check },
			    { "mmap lock", kernel_lock } } },
};

static void time_case(FILE *csv, const struct bench_case *bc, char *mem)
{
	for (size_t m = 0; m < ARRAY_SIZE(methods); m++) {
		const struct method *me = &methods[m];
		char series[128];
		int n = reps(bc->size);

		snprintf(series, sizeof(series), "%s, %s", me->series_prefix, bc->series);
		for (int r = -1; r < ROUNDS; r++) {	/* round -1 warms up */
			for (int k = 0; k < me->nimpl; k++) {
				/* Alternate which of rgup and upstream goes first. */
				int i = r % 2 && k < 2 ? 1 - k : k;
				double t = me->impl[i].once(mem, bc->size, n);

				if (t < 0) {
					fprintf(stderr, "%s, %s: %s: %s\n", series, bc->name,
						me->impl[i].name, strerror((int)-t));
					return;
				}
				if (r >= 0)
					bench_csv_row(csv, "pin", series, bc->name, bc->size,
						      me->impl[i].name, r, t);
			}
		}
		printf("pin: %s, %s: done\n", series, bc->name);
		fflush(stdout);
	}
}

/* MemFree, Slab and VmallocUsed of /proc/meminfo, in KiB. */
static void read_meminfo(long kib[3])
{
	static const char *const keys[] = { "MemFree:", "Slab:", "VmallocUsed:" };
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];

	memset(kib, 0, 3 * sizeof(*kib));
	while (f && fgets(line, sizeof(line), f))
		for (int k = 0; k < 3; k++)
			if (!strncmp(line, keys[k], strlen(keys[k])))
				kib[k] = atol(line + strlen(keys[k]));
	if (f)
		fclose(f);
}

/*
 * Hold `pins` rgup pins of `size` bytes each of mem (the same pages, pinned
 * again each time) and write how much MemFree went down, and Slab and
 * VmallocUsed up, while they were held, per pinned page (pins * pages).
 * Several rounds, on a fresh open file each, so the handle table starts
 * empty; the median is the value report.py shows.
 */
static void memory_case(FILE *csv, const char *name, char *mem, size_t size, int pins)
{
	unsigned int *handles = calloc(pins, sizeof(*handles));
	double pages = (double)pins * (size / 4096);
	const int rounds = 5;

	for (int r = 0; r < rounds && handles; r++) {
		int fd = open("/dev/rgup", O_RDWR);
		long before[3], during[3];
		int i;

		sync();
		read_meminfo(before);
		for (i = 0; i < pins; i++) {
			struct rgup_pin p = {
				.size = sizeof(p), .flags = RGUP_PIN_WRITE,
				.addr = (uintptr_t)mem, .len = size,
			};

			if (ioctl(fd, RGUP_IOC_PIN, &p)) {
				fprintf(stderr, "memory %s: pin %d: %s\n", name, i,
					strerror(errno));
				break;
			}
			handles[i] = p.handle;
		}
		read_meminfo(during);
		close(fd);	/* unpins everything */
		if (i < pins)
			break;
		fprintf(csv, "\"%s\",%zu,%d,%.0f,%.1f,%.1f,%.1f\n", name, size, pins, pages,
			(before[0] - during[0]) * 1024.0 / pages,
			(during[1] - before[1]) * 1024.0 / pages,
			(during[2] - before[2]) * 1024.0 / pages);
		fflush(csv);
	}
	free(handles);
}

static char *buffer(const struct bench_case *bc)
{
	char *mem = mmap(NULL, bc->size, PROT_READ | PROT_WRITE, bc->mmap_flags, -1, 0);

	if (mem == MAP_FAILED)
		return NULL;
	if (bc->madvise)
		madvise(mem, bc->size, bc->madvise);
	memset(mem, 1, bc->size);
	return mem;
}

/* --loop IMPL SIZE SECONDS: one implementation in a loop, for a profiler. */
static int run_loop(int impl, size_t size, double seconds, bool thp)
{
	struct bench_case bc = { "", "", size, ANON, MADV_NOHUGEPAGE };
	char *mem;
	double t0, t = 0;
	long calls = 0;

	if (thp) {
		/* Twice the size, so that a 2 MiB-aligned run of it fits. */
		char *raw = mmap(NULL, size + 2 * MIB, PROT_READ | PROT_WRITE, ANON, -1, 0);

		if (raw == MAP_FAILED)
			return 1;
		mem = (char *)(((uintptr_t)raw + 2 * MIB - 1) & ~(2 * MIB - 1));
		madvise(mem, size, MADV_HUGEPAGE);
		memset(mem, 1, size);
	} else {
		mem = buffer(&bc);
	}
	if (!mem)
		return 1;
	t0 = now_us();
	while (now_us() - t0 < seconds * 1e6) {
		t = impl == 10 ? rgup_ioctl(mem, size, 100) :
		    impl == 11 ? gup_test_ioctl(mem, size, 100) :
		    impl == 12 ? rgup_longterm_test(mem, size, 100) :
		    impl == 13 ? gup_test_longterm_test(mem, size, 100) :
				 in_kernel(impl, mem, size, 100);
		if (t < 0) {
			fprintf(stderr, "--loop %d: %s\n", impl, strerror((int)-t));
			return 1;
		}
		calls += 100;
	}
	printf("--loop %d %zu%s: %ld calls, %.3f us each\n", impl, size, thp ? " thp" : "", calls,
	       (now_us() - t0) / calls);
	return 0;
}

int main(int argc, char **argv)
{
	FILE *csv, *mcsv;

	if (argc < 3) {
		fprintf(stderr, "usage: %s SAMPLES.csv MEMORY.csv\n", argv[0]);
		return 2;
	}
	rfd = open("/dev/rgup", O_RDWR);
	gfd = open("/sys/kernel/debug/gup_test", O_RDWR);
	bfd = open("/dev/rgup_bench", O_RDWR);
	rgfd = open("/dev/rgup_gup_test", O_RDWR);
	if (rfd < 0 || gfd < 0 || bfd < 0 || rgfd < 0) {
		perror(rfd < 0 ? "/dev/rgup" : gfd < 0 ? "/sys/kernel/debug/gup_test" :
		       bfd < 0 ? "/dev/rgup_bench" : "/dev/rgup_gup_test");
		return 4;
	}
	if (!strcmp(argv[1], "--loop") && (argc == 5 || argc == 6))
		return run_loop(atoi(argv[2]), strtoul(argv[3], NULL, 0), atof(argv[4]),
				argc == 6 && !strcmp(argv[5], "thp"));
	csv = bench_csv_open(argv[1]);
	for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
		char *mem = buffer(&cases[c]);

		if (!mem) {
			fprintf(stderr, "pin: %s skipped: mmap: %s\n", cases[c].name,
				strerror(errno));
			continue;
		}
		time_case(csv, &cases[c], mem);
		munmap(mem, cases[c].size);
	}
	fclose(csv);

	mcsv = fopen(argv[2], "w");
	if (!mcsv) {
		perror(argv[2]);
		return 1;
	}
	fprintf(mcsv, "case,pin_bytes,pins,pinned_pages,memfree_per_page,slab_per_page,");
	fprintf(mcsv, "vmalloc_per_page\n");
	for (size_t c = 0; c < 7; c++) {	/* the anon 4 KiB page cases */
		const struct bench_case *bc = &cases[c];
		/* At least 64 Ki pinned pages in all, at most 4096 pins. */
		int pins = bc->size >= 256 * MIB ? 1 : bc->size >= 16 * MIB ? 4 :
			   (int)(256 * MIB / bc->size < 4096 ? 256 * MIB / bc->size : 4096);
		char *mem = buffer(bc);
		char name[64];

		if (!mem)
			continue;
		snprintf(name, sizeof(name), "%d x %s", pins, bc->name);
		memory_case(mcsv, name, mem, bc->size, pins);
		munmap(mem, bc->size);
		printf("pin: memory %s: done\n", name);
		fflush(stdout);
	}
	fclose(mcsv);
	return 0;
}

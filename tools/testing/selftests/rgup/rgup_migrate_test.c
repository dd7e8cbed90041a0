// SPDX-License-Identifier: GPL-2.0
/*
 * Long-term pins migrate out of ZONE_MOVABLE first. In a VM booted with
 * movablecore= (tools/testing/vm/run.sh --movable, run by guest-movable.sh)
 * user memory lands in ZONE_MOVABLE, the highest zone. A long-term pin
 * through rgup (RGUP_IOC_PIN, locked and fast) must leave no pinned page
 * there: the pages are migrated first (check_and_migrate_movable_folios()),
 * the data comes along, and the CPU and the device see the same pages
 * afterwards. A short path must not be mistaken for it, and the test must
 * tell them apart: rgup's mirror (no pin) and upstream gup_test's
 * PIN_BASIC_TEST (FOLL_PIN without FOLL_LONGTERM) leave the pages where
 * they are, and upstream gup_test's own long-term pin moves them as rgup
 * does.
 *
 * The zone's span comes from /proc/zoneinfo, the PFNs from
 * /proc/self/pagemap. Needs root, rgup.ko, rgup_test.ko and upstream
 * gup_test; fails without a Movable zone (there is nothing to test).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/rgup.h>
#include <mm/gup_test.h>

#include "kselftest_harness.h"
#include "rgup_test_util.h"

#define NPAGES 16
#define RUNS 3
#define CHUNK (4UL << 20)
#define MAX_ALLOC (256UL << 20)
#define FOLL_WRITE 0x01		/* include/linux/mm_types.h */

struct range {
	uint64_t start, end;	/* PFNs, [start, end) */
};

static long pg;

/* The Movable zone's span, from /proc/zoneinfo; false if there is none. */
static bool movable_zone(struct range *r)
{
	FILE *f = fopen("/proc/zoneinfo", "r");
	unsigned long v, spanned = 0;
	bool in = false, found = false;
	char line[256];

	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Node", 4)) {
			in = strstr(line, "zone  Movable") || strstr(line, "zone Movable");
		} else if (in && sscanf(line, " spanned %lu", &v) == 1) {
			spanned = v;
		} else if (in && sscanf(line, " start_pfn: %lu", &v) == 1 && spanned) {
			r->start = v;
			r->end = v + spanned;
			found = true;
		}
	}
	if (f)
		fclose(f);
	return found;
}

static bool in_range(const struct range *r, uint64_t pfn)
{
	return pfn >= r->start && pfn < r->end;
}

FIXTURE(migrate)
{
	int fd;
	struct range movable;
	unsigned char *chunks[MAX_ALLOC / CHUNK];
	int nchunks;
	/* RUNS runs of NPAGES pages in the zone, one for each kind of pin */
	unsigned char *in_movable[RUNS];
	int movable_runs;
	long foll_pins;
};

/* Collect the NPAGES-page runs of @c whose pages are all in @r, up to RUNS. */
static void runs_in(unsigned char *c, const struct range *r, unsigned char **runs, int *n)
{
	for (size_t off = 0; off + NPAGES * pg <= CHUNK && *n < RUNS; off += NPAGES * pg) {
		size_t i;

		for (i = 0; i < NPAGES; i++)
			if (!in_range(r, page_pfn(c + off + i * pg)))
				break;
		if (i == NPAGES)
			runs[(*n)++] = c + off;
	}
}

FIXTURE_SETUP(migrate)
{
	pg = getpagesize();
	self->foll_pins = foll_pins_outstanding();
	self->fd = open("/dev/rgup", O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, "/dev/rgup missing: load rgup.ko and rgup_test.ko");
	ASSERT_LE(0, self->fd);
	ASSERT_TRUE(movable_zone(&self->movable))
		TH_LOG("no Movable zone: boot with movablecore= (run.sh --movable)");
	/* Fault memory in, 4 MiB at a time, until there are RUNS runs in the zone. */
	while (self->movable_runs < RUNS && self->nchunks < MAX_ALLOC / CHUNK) {
		unsigned char *c = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		ASSERT_NE(MAP_FAILED, c);
		ASSERT_EQ(0, madvise(c, CHUNK, MADV_NOHUGEPAGE));
		self->chunks[self->nchunks++] = c;
		for (size_t i = 0; i < CHUNK; i += pg)
			c[i] = (unsigned char)(i / pg * 7 + 1);
		runs_in(c, &self->movable, self->in_movable, &self->movable_runs);
	}
	ASSERT_EQ(RUNS, self->movable_runs)
		TH_LOG("no user page in ZONE_MOVABLE (PFNs %#llx-%#llx) in %d MiB",
		       (unsigned long long)self->movable.start,
		       (unsigned long long)self->movable.end,
		       self->nchunks * (int)(CHUNK >> 20));
}

FIXTURE_TEARDOWN(migrate)
{
	for (int i = 0; i < self->nchunks; i++)
		munmap(self->chunks[i], CHUNK);
	if (self->fd >= 0)
		close(self->fd);
	EXPECT_TRUE(foll_pins_back_to(self->foll_pins));
}

/* How many of the NPAGES pages at @mem sit in @r. */
static int pages_in(unsigned char *mem, const struct range *r)
{
	int n = 0;

	for (int i = 0; i < NPAGES; i++)
		n += in_range(r, page_pfn(mem + i * pg));
	return n;
}

static void pfns(unsigned char *mem, uint64_t *out)
{
	for (int i = 0; i < NPAGES; i++)
		out[i] = page_pfn(mem + i * pg);
}

/* The short paths: an rgup mirror and a short FOLL_PIN leave every page where it is. */
static void short_paths_stay(struct __test_metadata *_metadata, int fd, unsigned char *mem)
{
	uint64_t before[NPAGES], after[NPAGES];
	unsigned char *dev = malloc(NPAGES * pg);
	struct gup_test g = {
		.addr = (uintptr_t)mem, .size = NPAGES * pg,
		.nr_pages_per_call = NPAGES, .gup_flags = FOLL_WRITE,
	};
	char c = 'm';
	__u32 h;
	int gfd;

	ASSERT_NE(NULL, dev);
	pfns(mem, before);
	ASSERT_EQ(0, mirror_create(fd, mem, NPAGES * pg, &h));
	ASSERT_EQ(0, mirror_rw(fd, h, RGUP_MIRROR_RW_WRITE, mem, 1, &c, NULL));
	ASSERT_EQ(0, mirror_rw(fd, h, 0, mem, NPAGES * pg, dev, NULL));
	EXPECT_EQ(0, memcmp(dev, mem, NPAGES * pg));
	ASSERT_EQ(0, mirror_destroy(fd, h));
	pfns(mem, after);
	EXPECT_EQ(0, memcmp(before, after, sizeof(before))) TH_LOG("the mirror moved pages");
	gfd = open("/sys/kernel/debug/gup_test", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, gfd) TH_LOG("no upstream gup_test (CONFIG_GUP_TEST)");
	ASSERT_EQ(0, ioctl(gfd, PIN_BASIC_TEST, &g));
	close(gfd);
	pfns(mem, after);
	EXPECT_EQ(0, memcmp(before, after, sizeof(before))) TH_LOG("a short pin moved pages");
	free(dev);
}

/* A long-term pin through rgup: no page left in @r; the same data, CPU and device alike. */
static void long_term_pin_migrates(struct __test_metadata *_metadata, int fd, unsigned char *mem,
				   const struct range *r, __u32 flags)
{
	unsigned char *want = malloc(NPAGES * pg), *got = malloc(NPAGES * pg);
	struct rgup_pin p;

	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, got);
	ASSERT_EQ(NPAGES, pages_in(mem, r));
	memcpy(want, mem, NPAGES * pg);
	ASSERT_EQ(0, do_pin(fd, mem, NPAGES * pg, RGUP_PIN_WRITE | flags, &p));
	EXPECT_EQ(0, pages_in(mem, r)) TH_LOG("pinned long-term, still in place");
	EXPECT_EQ(0, memcmp(want, mem, NPAGES * pg));
	ASSERT_EQ(0, do_rw(fd, p.handle, 0, 0, NPAGES * pg, got));
	EXPECT_EQ(0, memcmp(want, got, NPAGES * pg)) TH_LOG("the device sees other pages");
	memset(want, 'd', pg);
	ASSERT_EQ(0, do_rw(fd, p.handle, RGUP_RW_WRITE, 0, pg, want));
	EXPECT_EQ('d', mem[0]);
	EXPECT_EQ('d', mem[pg - 1]);
	ASSERT_EQ(0, do_unpin(fd, p.handle));
	free(want);
	free(got);
}

/* The kernel's own long-term pin (upstream gup_test) does the same. */
static void upstream_long_term_pin_migrates(struct __test_metadata *_metadata, unsigned char *mem,
					    const struct range *r)
{
	struct pin_longterm_test t = {
		.addr = (uintptr_t)mem, .size = NPAGES * pg,
		.flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE,
	};
	int gfd = open("/sys/kernel/debug/gup_test", O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, gfd);
	ASSERT_EQ(NPAGES, pages_in(mem, r));
	ASSERT_EQ(0, ioctl(gfd, PIN_LONGTERM_TEST_START, &t));
	EXPECT_EQ(0, pages_in(mem, r));
	ASSERT_EQ(0, ioctl(gfd, PIN_LONGTERM_TEST_STOP));
	close(gfd);
}

/*
 * Three runs of pages in the zone: the short paths leave the first where it
 * is, then rgup's locked pin moves it; rgup's fast pin moves the second,
 * upstream gup_test's long-term pin the third.
 */
TEST_F(migrate, out_of_zone_movable)
{
	short_paths_stay(_metadata, self->fd, self->in_movable[0]);
	long_term_pin_migrates(_metadata, self->fd, self->in_movable[0], &self->movable, 0);
	long_term_pin_migrates(_metadata, self->fd, self->in_movable[1], &self->movable,
			       RGUP_PIN_FAST);
	upstream_long_term_pin_migrates(_metadata, self->in_movable[2], &self->movable);
}

TEST_HARNESS_MAIN

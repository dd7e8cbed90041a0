// SPDX-License-Identifier: GPL-2.0
/*
 * rgup::mirror coherency: the device behind /dev/rgup_dmirror0 reads and
 * writes user memory only through its mirror of the opener's address space
 * (tools/testing/rgup_test/dmirror_compat.rs, the HMM_DMIRROR_* ABI of lib/test_hmm_uapi.h).
 * Every test changes the CPU page tables under the device (munmap, mprotect,
 * madvise, mremap, fork and copy-on-write, THP split, process exit) and
 * checks that the device never sees stale data, that CPU writes made after an
 * invalidation are seen by the next device access, and that the number of
 * fault rounds is what the invalidations imply.
 *
 * The second half tests the same mirror through /dev/rgup's RGUP_IOC_MIRROR_*
 * commands: byte-exact device access, snapshots, per-mirror counters, and
 * the errno of every kind of bad input.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/rgup.h>
#include <lib/test_hmm_uapi.h>

#include "kselftest_harness.h"
#include "rgup_test_util.h"

#define DEV "/dev/rgup_dmirror0"
#define EXT4_DIR "/tmp/rgup-ext4"
#define NPAGES 16
#define THP_SIZE (2UL << 20)

FIXTURE(mirror)
{
	int fd;
	size_t page;
	size_t size;
	unsigned char *mirror;	/* the device side of every transfer */
};

FIXTURE_SETUP(mirror)
{
	self->page = getpagesize();
	self->size = NPAGES * self->page;
	self->fd = open(DEV, O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, DEV " missing: load rgup.ko");
	ASSERT_LE(0, self->fd);
	self->mirror = malloc(THP_SIZE);
	ASSERT_NE(NULL, self->mirror);
}

FIXTURE_TEARDOWN(mirror)
{
	if (self->fd >= 0)
		close(self->fd);
	free(self->mirror);
}

/* One device command; returns 0 or -errno, and the fault rounds it took. */
static int dev_cmd(int fd, unsigned long req, void *addr, void *buf,
		   size_t npages, uint64_t *faults)
{
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)addr, .ptr = (uintptr_t)buf, .npages = npages,
	};

	if (ioctl(fd, req, &cmd))
		return -errno;
	if (cmd.cpages != npages)
		return -ERANGE;
	if (faults)
		*faults = cmd.faults;
	return 0;
}

static void fill(void *p, size_t len, unsigned int seed)
{
	unsigned int *w = p;
	size_t i;

	for (i = 0; i < len / sizeof(*w); i++)
		w[i] = seed * 0x01000193u + i;
}

static int check(const void *p, size_t len, unsigned int seed)
{
	const unsigned int *w = p;
	size_t i;

	for (i = 0; i < len / sizeof(*w); i++)
		if (w[i] != seed * 0x01000193u + i)
			return 0;
	return 1;
}

static void *map_anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* A device read faults once; reading again takes no fault round. */
TEST_F(mirror, one_fault_round_then_none)
{
	uint64_t faults = 0;
	void *buf = map_anon(self->size);

	ASSERT_NE(NULL, buf);
	fill(buf, self->size, 1);
	ASSERT_EQ(0, dev_cmd(self->fd, HMM_DMIRROR_READ, buf, self->mirror, NPAGES, &faults));
	ASSERT_EQ(1, faults);
	ASSERT_TRUE(check(self->mirror, self->size, 1));
	ASSERT_EQ(0, dev_cmd(self->fd, HMM_DMIRROR_READ, buf, self->mirror, NPAGES, &faults));
	ASSERT_EQ(0, faults);
	munmap(buf, self->size);
}

/* The zero page the device mirrored is replaced by the CPU's first write. */
TEST_F(mirror, cpu_write_after_zero_page_is_seen)
{
	uint64_t faults = 0;
	unsigned char *buf = map_anon(self->size);

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, dev_cmd(self->fd, HMM_DMIRROR_READ, buf, self->mirror, NPAGES, &faults));
	ASSERT_EQ(0, self->mirror[0]);
	fill(buf, self->size, 2);
	ASSERT_EQ(0, dev_cmd(self->fd, HMM_DMIRROR_READ, buf, self->mirror, NPAGES, &faults));
	ASSERT_EQ(1, faults);
	ASSERT_TRUE(check(self->mirror, self->size, 2));
	munmap(buf, self->size);
}

/* munmap: the unmapped half is gone for the device, the rest untouched. */
TEST_F(mirror, munmap_and_remap)
{
	size_t half = self->size / 2;
	uint64_t faults = 0;
	unsigned char *buf = map_anon(self->size);

	ASSERT_NE(NULL, buf);
	fill(buf, self->size, 3);
	ASSERT_EQ(0, dev_cmd(self->fd, HMM_DMIRROR_READ, buf, self->mirror, NPAGES, &faults));
	ASSERT_EQ(0, munmap(buf + half, half));
	ASSERT_EQ(-EFAULT, dev_cmd(self->fd, HMM_DMIRROR_READ, buf + half, self->mirror,
				   NPAGES / 2, NULL));
	ASSERT_EQ(0, dev_cmd(self->fd, HMM_DMIRROR_READ, buf, self->mirror, NPAGES / 2, &faults));
	ASSERT_EQ(0, faults);
	ASSERT_TRUE(check(self->mirror, half, 3));

	/* New memory at the same address: the device sees it, never the old. */
	ASSERT_EQ(buf + half, mmap(buf + half, half, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	fill(buf + half, half, 4);
	ASSERT_EQ(0, dev_cmd(self->fd, HMM_DMIRROR_READ, buf + half, self->mirror,
			     NPAGES / 2, &faults));
	ASSERT_EQ(1, faults);
	ASSERT_TRUE(check(self->mirror, half, 4));
	munmap(buf, self->size);
}

/* mprotect: read-only stops device writes (EPERM), read-write allows them. */
TEST_F(mirror, mprotect_revokes_and_restores_write)
{
	uint64_t faults = 0;
	unsigned char *buf = map_anon(self->size);

	ASSERT_NE(NULL, buf);
	fill(buf, self->size, 5);
	fill(self->mirror, self->size, 6);
	ASSERT_EQ(0, dev_cmd(self->fd, HMM_DMIRROR_WRITE, buf, self->mirror, NPAGES, &faults));
	ASSERT_EQ(1, faults);
	ASSERT_TRUE(check(buf, self->size, 6));
	ASSERT_EQ(0, mprotect(buf, self->size, PROT_READ));
	fill(self->mirror, self->size, 7);
	ASSERT_EQ(-EPERM, dev_cmd(self->fd, HMM_DMIRROR_WRITE, buf, self->mirror, NPAGES, NULL));
	ASSERT_TRUE(check(buf, self->size, 6));
	ASSERT_EQ(0, mprotect(buf, self->size, PROT_READ | PROT_WRITE));
	ASSERT_EQ(0, dev_cmd(self->fd, HMM_DMIRROR_WRITE, buf, self->mirror, NPAGES, &faults));
	ASSERT_EQ(1, faults);
	ASSERT_TRUE(check(buf, self->size, 7));
	munmap(buf, self->size);
}

/* MADV_DONTNEED drops the pages: the device reads the new zero pages. */
TEST_F(mirror, madvise_dontneed)
{
	uint64_t faults = 0;
	unsigned char *buf = map_anon(self->size);
	size_t i;

	ASSERT_NE(NULL, buf);
	fill(buf, self->size, 8);
	ASSERT_EQ(0, dev_cmd(self->fd, HMM_DMIRROR_READ, buf, self->mirror, NPAGES, &faults));
	ASSERT_EQ(0, madvise(buf, self->size, MADV_DONTNEED));
	ASSERT_EQ(0, dev_cmd(self->fd, HMM_DMIRROR_READ, buf, self->mirror, NPAGES, &faults));
	ASSERT_EQ(1, faults);
	for (i = 0; i < self->size; i++)
		ASSERT_EQ(0, self->mirror[i]);
	munmap(buf, self->size);
}

/* mremap moves the pages: the old range faults (EFAULT), the new one reads. */
TEST_F(mirror, mremap_moves_the_view)
{
	uint64_t faults = 0;
	unsigned char *buf = map_anon(self->size), *moved;
	void *hole = map_anon(self->size);

	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, hole);
	fill(buf, self->size, 9);
	ASSERT_EQ(0, dev_cmd(self->fd, HMM_DMIRROR_READ, buf, self->mirror, NPAGES, &faults));
	moved = mremap(buf, self->size, self->size, MREMAP_MAYMOVE | MREMAP_FIXED, hole);
	ASSERT_EQ(hole, moved);
	ASSERT_EQ(-EFAULT, dev_cmd(self->fd, HMM_DMIRROR_READ, buf, self->mirror, NPAGES, NULL));
	ASSERT_EQ(0, dev_cmd(self->fd, HMM_DMIRROR_READ, moved, self->mirror, NPAGES, &faults));
	ASSERT_EQ(1, faults);
	ASSERT_TRUE(check(self->mirror, self->size, 9));
	munmap(moved, self->size);
}

/*
 * fork: the pages become copy-on-write. The child's writes never reach the
 * parent's device; the parent's own write after fork (which copies the page)
 * is seen by the next device read.
 */
TEST_F(mirror, fork_and_cow)
{
	uint64_t faults = 0;
	unsigned char *buf = map_anon(self->size);
	int status;
	pid_t pid;

	ASSERT_NE(NULL, buf);
	fill(buf, self->size, 10);
	ASSERT_EQ(0, dev_cmd(self->fd, HMM_DMIRROR_READ, buf, self->mirror, NPAGES, &faults));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		fill(buf, self->size, 11);
		_exit(check(buf, self->size, 11) ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(0, dev_cmd(self->fd, HMM_DMIRROR_READ, buf, self->mirror, NPAGES, &faults));
	ASSERT_TRUE(check(self->mirror, self->size, 10));

	/* A device write after fork breaks COW for the parent, not the child. */
	fill(self->mirror, self->size, 12);
	ASSERT_EQ(0, dev_cmd(self->fd, HMM_DMIRROR_WRITE, buf, self->mirror, NPAGES, &faults));
	ASSERT_TRUE(check(buf, self->size, 12));
	fill(buf, self->size, 13);
	ASSERT_EQ(0, dev_cmd(self->fd, HMM_DMIRROR_READ, buf, self->mirror, NPAGES, &faults));
	ASSERT_TRUE(check(self->mirror, self->size, 13));
	munmap(buf, self->size);
}

/* Splitting a THP the device mirrors keeps the other 511 pages coherent. */
TEST_F(mirror, thp_split)
{
	uint64_t faults = 0;
	unsigned char *raw, *thp, snap[THP_SIZE / 4096];
	size_t npages = THP_SIZE / self->page, i;

	raw = mmap(NULL, 2 * THP_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, raw);
	thp = (unsigned char *)(((uintptr_t)raw + THP_SIZE - 1) & ~(THP_SIZE - 1));
	if (madvise(thp, THP_SIZE, MADV_HUGEPAGE))
		SKIP(goto out, "no THP");
	fill(thp, THP_SIZE, 14);
	ASSERT_EQ(0, dev_cmd(self->fd, HMM_DMIRROR_SNAPSHOT, thp, snap, npages, NULL));
	if (!(snap[0] & HMM_DMIRROR_PROT_PMD))
		SKIP(goto out, "the buffer is not backed by a THP");
	ASSERT_EQ(0, dev_cmd(self->fd, HMM_DMIRROR_READ, thp, self->mirror, npages, &faults));
	ASSERT_EQ(1, faults);

	/*
	 * Dropping one 4 KiB page splits the PMD, which invalidates the whole
	 * 2 MiB: the next read takes exactly one fault round (none would mean
	 * the device kept translations the split took away).
	 */
	ASSERT_EQ(0, madvise(thp + 7 * self->page, self->page, MADV_DONTNEED));
	ASSERT_EQ(0, dev_cmd(self->fd, HMM_DMIRROR_SNAPSHOT, thp, snap, npages, NULL));
	ASSERT_EQ(0, snap[0] & HMM_DMIRROR_PROT_PMD);
	ASSERT_EQ(0, dev_cmd(self->fd, HMM_DMIRROR_READ, thp, self->mirror, npages, &faults));
	ASSERT_EQ(1, faults);
	for (i = 0; i < npages; i++) {
		unsigned char *p = self->mirror + i * self->page;

		if (i == 7) {
			ASSERT_EQ(0, p[0]);
			ASSERT_EQ(0, memcmp(p, p + 1, self->page - 1));
		} else {
			ASSERT_EQ(0, memcmp(p, thp + i * self->page, self->page));
		}
	}
out:
	munmap(raw, 2 * THP_SIZE);
}

/* A device write to a MAP_SHARED ext4 file reaches the file after msync. */
TEST_F(mirror, device_write_reaches_shared_file)
{
	char path[] = EXT4_DIR "/mirror-XXXXXX";
	unsigned char *map, *back;
	uint64_t faults = 0;
	int fd;

	fd = mkstemp(path);
	if (fd < 0)
		SKIP(return, "no ext4 test mount at " EXT4_DIR);
	unlink(path);
	ASSERT_EQ(0, ftruncate(fd, self->size));
	map = mmap(NULL, self->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	fill(self->mirror, self->size, 15);
	ASSERT_EQ(0, dev_cmd(self->fd, HMM_DMIRROR_WRITE, map, self->mirror, NPAGES, &faults));
	ASSERT_EQ(1, faults);
	ASSERT_EQ(0, msync(map, self->size, MS_SYNC));
	back = malloc(self->size);
	ASSERT_NE(NULL, back);
	ASSERT_EQ((ssize_t)self->size, pread(fd, back, self->size, 0));
	ASSERT_TRUE(check(back, self->size, 15));

	/* Writeback write-protected the pages: the next device write faults again. */
	fill(self->mirror, self->size, 16);
	ASSERT_EQ(0, dev_cmd(self->fd, HMM_DMIRROR_WRITE, map, self->mirror, NPAGES, &faults));
	ASSERT_EQ(1, faults);
	ASSERT_EQ(0, msync(map, self->size, MS_SYNC));
	ASSERT_EQ((ssize_t)self->size, pread(fd, back, self->size, 0));
	ASSERT_TRUE(check(back, self->size, 16));
	free(back);
	munmap(map, self->size);
	close(fd);
}

/*
 * A file can outlive the process it mirrors: child A opens the device,
 * mirrors a buffer and exits (its mm is torn down: MMU_NOTIFY_RELEASE)
 * while its child B keeps the file. B's device reads then fail with EFAULT,
 * and closing the last file drops the mirror and its translations.
 */
TEST_F(mirror, process_exit_releases_the_mirror)
{
	long mirrors = rgup_stat("mirrors");
	int status, reaped = 0;
	pid_t a, b;

	ASSERT_LE(1, mirrors);	/* the fixture's own file */
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1));
	a = fork();
	ASSERT_LE(0, a);
	if (!a) {
		int dev = open(DEV, O_RDWR);
		unsigned char *p = map_anon(self->size);

		if (dev < 0 || !p)
			_exit(1);
		fill(p, self->size, 17);
		if (dev_cmd(dev, HMM_DMIRROR_READ, p, self->mirror, NPAGES, NULL))
			_exit(2);
		a = getpid();
		b = fork();
		if (b < 0)
			_exit(3);
		if (!b) {
			/* A tears its mm down (exit_mm) before B is reparented. */
			while (getppid() == a)
				usleep(1000);
			_exit(dev_cmd(dev, HMM_DMIRROR_READ, p, self->mirror, NPAGES, NULL) ==
			      -EFAULT ? 0 : 4);
		}
		_exit(0);
	}
	ASSERT_EQ(a, waitpid(a, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	/* B is reparented to us; it reports what its device read returned. */
	while ((b = wait(&status)) > 0) {
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_EQ(0, WEXITSTATUS(status));
		reaped++;
	}
	ASSERT_EQ(1, reaped);
	ASSERT_EQ(mirrors, rgup_stat("mirrors"));
}

#define HOLDS 4

struct remapper {
	unsigned int *buf;
	size_t size;
	int rounds;
	atomic_uint gen;	/* the newest generation written */
	void *hold[HOLDS];	/* where replaced pages are kept alive */
};

/*
 * Replaces the buffer's pages again and again, each time with a new value:
 * zaps them, maps fresh pages over them, or moves them away (mremap) into
 * one of HOLDS areas, where they keep their generation while fresh pages
 * take their place. A translation the device failed to drop then reads a
 * live page of an older generation, not freed memory that may be reused.
 */
static void *remap_loop(void *arg)
{
	struct remapper *r = arg;
	unsigned int g;
	size_t i;

	for (g = 1; g <= (unsigned int)r->rounds; g++) {
		if (g % 3 == 0) {
			madvise(r->buf, r->size, MADV_DONTNEED);
		} else {
			if (g % 3 == 1 &&
			    mremap(r->buf, r->size, r->size, MREMAP_MAYMOVE | MREMAP_FIXED,
				   r->hold[g % HOLDS]) != r->hold[g % HOLDS])
				return (void *)1;
			if (mmap(r->buf, r->size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != r->buf)
				return (void *)2;
		}
		for (i = 0; i < r->size / sizeof(unsigned int); i++)
			r->buf[i] = g;
		atomic_store(&r->gen, g);
	}
	return NULL;
}

/*
 * The device reads while another thread keeps unmapping, replacing, moving
 * away and rewriting the pages (remap_loop). Each generation g goes into
 * fresh pages, so a page only ever holds 0 and its own generation; once gen
 * says g, every page mapped holds g. A device read
 * that began when gen was B and ended when it was E therefore sees, on
 * every page, zeroes and one generation between B and E + 1: an older one is
 * a translation the device kept after the CPU replaced the page, even if
 * the page it reads is uniform and alive. Once the writer is done the
 * device sees the last generation. 300 rounds take a few seconds on the
 * test kernel but over the harness's default 30 s on the debug kernel of a
 * busy host: 10 minutes.
 */
TEST_F_TIMEOUT(mirror, concurrent_remap_never_stale, 600)
{
	struct remapper r = { .size = self->size, .rounds = 300 };
	unsigned int *seen = (unsigned int *)self->mirror;
	size_t words = self->page / sizeof(unsigned int), p, i;
	int reads = 0, ok = 0, ret;
	pthread_t t;
	void *tret;

	r.buf = map_anon(self->size);
	ASSERT_NE(NULL, r.buf);
	for (i = 0; i < HOLDS; i++) {
		r.hold[i] = map_anon(self->size);
		ASSERT_NE(NULL, r.hold[i]);
	}
	ASSERT_EQ(0, pthread_create(&t, NULL, remap_loop, &r));
	while (atomic_load(&r.gen) < (unsigned int)r.rounds) {
		unsigned int before = atomic_load(&r.gen), after;

		ret = dev_cmd(self->fd, HMM_DMIRROR_READ, r.buf, self->mirror, NPAGES, NULL);
		after = atomic_load(&r.gen);
		reads++;
		if (ret)
			continue;
		ok++;
		for (p = 0; p < NPAGES; p++) {
			unsigned int g = 0;

			for (i = 0; i < words; i++) {
				unsigned int v = seen[p * words + i];

				if (v && !g)
					g = v;
				if (v && v != g)
					break;
			}
			ASSERT_EQ(words, i)
				TH_LOG("page %zu holds generations %u and %u", p, g,
				       seen[p * words + i]);
			if (!g)
				continue;
			ASSERT_LE(before, g)
				TH_LOG("stale read: page %zu holds generation %u, %u was written",
				       p, g, before);
			ASSERT_GE(after + 1, g);
		}
	}
	ASSERT_EQ(0, pthread_join(t, &tret));
	ASSERT_EQ(NULL, tret);
	ASSERT_LT(0, ok);
	ASSERT_EQ(0, dev_cmd(self->fd, HMM_DMIRROR_READ, r.buf, self->mirror, NPAGES, NULL));
	for (i = 0; i < NPAGES * words; i++)
		ASSERT_EQ((unsigned int)r.rounds, seen[i]);
	TH_LOG("%d device reads during %d remaps, %d complete", reads, r.rounds, ok);
	munmap(r.buf, self->size);
	for (i = 0; i < HOLDS; i++)
		munmap(r.hold[i], self->size);
}

/* ---- /dev/rgup's RGUP_IOC_MIRROR_* --------------------------------------- */

FIXTURE(rgup)
{
	int fd;
	size_t page;
};

FIXTURE_SETUP(rgup)
{
	self->page = getpagesize();
	self->fd = open("/dev/rgup", O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, "/dev/rgup missing: load rgup.ko");
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(rgup)
{
	if (self->fd >= 0)
		close(self->fd);
}

static struct rgup_mirror_stats mirror_stats(int fd, __u32 handle)
{
	struct rgup_mirror_stats s = { .size = sizeof(s), .handle = handle };

	if (xioctl(fd, RGUP_IOC_MIRROR_STATS, &s))
		memset(&s, 0xff, sizeof(s));
	return s;
}

/* Unaligned device reads and writes are byte exact; the counters follow. */
TEST_F(rgup, rw_counts_and_invalidation)
{
	size_t len = 8 * self->page;
	unsigned char *buf = map_anon(len), *dev = malloc(len);
	struct rgup_mirror_stats st, after;
	struct rgup_mirror_destroy d = { .size = sizeof(d) };
	__u64 faults = 99;
	__u32 h;
	size_t i;

	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, dev);
	fill(buf, len, 20);
	ASSERT_EQ(0, mirror_create(self->fd, buf, len, &h));
	ASSERT_LT(0, h);
	ASSERT_EQ(0, rgup_stat("mirrors") < 1);

	/* 3 pages' worth from byte 100: 4 pages are mirrored, in one round. */
	ASSERT_EQ(0, mirror_rw(self->fd, h, 0, buf + 100, 3 * self->page, dev, &faults));
	ASSERT_EQ(1, faults);
	ASSERT_EQ(0, memcmp(dev, buf + 100, 3 * self->page));
	st = mirror_stats(self->fd, h);
	ASSERT_EQ(1, st.faults);
	ASSERT_EQ(4, st.faulted_pages);
	ASSERT_EQ(4, st.mirrored_pages);
	ASSERT_EQ(0, mirror_rw(self->fd, h, 0, buf + 100, 3 * self->page, dev, &faults));
	ASSERT_EQ(0, faults);

	/* A device write lands exactly where asked, nowhere else. */
	for (i = 0; i < 5000; i++)
		dev[i] = (unsigned char)(i * 7);
	ASSERT_EQ(0, mirror_rw(self->fd, h, RGUP_MIRROR_RW_WRITE, buf + 3 * self->page + 10,
			       5000, dev, &faults));
	ASSERT_EQ(1, faults);	/* the read-faulted pages were not writable yet */
	for (i = 0; i < 5000; i++)
		ASSERT_EQ((unsigned char)(i * 7), buf[3 * self->page + 10 + i]);
	ASSERT_TRUE(check(buf, 3 * self->page + 8, 20));

	/* munmap: the device is told, the translations are gone. */
	st = mirror_stats(self->fd, h);
	ASSERT_EQ(0, munmap(buf + 4 * self->page, 4 * self->page));
	after = mirror_stats(self->fd, h);
	ASSERT_LT(st.invalidations, after.invalidations);
	ASSERT_LT(st.device_invalidations, after.device_invalidations);
	ASSERT_GT(st.mirrored_pages, after.mirrored_pages);
	ASSERT_EQ(-EFAULT, mirror_rw(self->fd, h, 0, buf + 4 * self->page, 1, dev, NULL));

	/* Destroyed: the handle is gone, and so is the mirror. */
	d.handle = h;
	ASSERT_EQ(0, xioctl(self->fd, RGUP_IOC_MIRROR_DESTROY, &d));
	ASSERT_EQ(-ENOENT, xioctl(self->fd, RGUP_IOC_MIRROR_DESTROY, &d));
	ASSERT_EQ(-ENOENT, mirror_rw(self->fd, h, 0, buf, 1, dev, NULL));
	munmap(buf, 4 * self->page);
	free(dev);
}

/* ---- a store into the mirror's table failing part way through a chunk ---- */

#define FAILSLAB "/sys/kernel/debug/failslab/"

static const char *const failslab_knobs[] = {
	"probability", "interval", "times", "space", "task-filter", "ignore-gfp-wait", "verbose",
};

static int write_str(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, value, strlen(value));
	close(fd);
	return n == (ssize_t)strlen(value) ? 0 : -EIO;
}

static int read_str(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static int failslab_set(const char *knob, unsigned long long value)
{
	char path[128], v[32];

	snprintf(path, sizeof(path), FAILSLAB "%s", knob);
	snprintf(v, sizeof(v), "%llu", value);
	return write_str(path, v);
}

/* rgup's global count of mirrored pages, as the unsigned 64-bit counter it is. */
static unsigned long long mirrored_pages_total(void)
{
	FILE *f = fopen(RGUP_STATS_PATH, "r");
	unsigned long long v = ULLONG_MAX;
	char line[128];

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "mirrored_pages:", 15))
			v = strtoull(line + 15, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

#define STORE_FAIL_PAGES 160	/* three leaves of the table's xarray, 64 entries each */
#define STORE_FAIL_BUDGETS 32

/*
 * The mirror's table is an xarray: a store that needs a node allocates it
 * GFP_NOWAIT and, if that fails, once more GFP_ATOMIC. failslab, restricted
 * to this thread (task-filter, make-it-fail) and to allocations that cannot
 * sleep, lets a budget of that many nodes pass and fails the next two: for
 * some budget, the store needing the chunk's second leaf fails after the
 * first leaf's stores succeeded. The counters must still add up: the
 * mirror's own during the fault, rgup's global one once it is destroyed.
 */
TEST_F(rgup, counters_add_up_when_a_table_store_fails)
{
	size_t len = STORE_FAIL_PAGES * self->page;
	unsigned char *buf = map_anon(len), *dev = malloc(len);
	unsigned long long total = mirrored_pages_total(), node_size = 576;
	char saved[ARRAY_SIZE(failslab_knobs)][32], path[128], v[32];
	unsigned int failed = 0, partial = 0;
	int mif;

	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, dev);
	for (size_t i = 0; i < ARRAY_SIZE(failslab_knobs); i++) {
		snprintf(path, sizeof(path), FAILSLAB "%s", failslab_knobs[i]);
		if (read_str(path, saved[i], sizeof(saved[i])))
			SKIP(return, "no failslab in debugfs (CONFIG_FAILSLAB)");
	}
	mif = open("/proc/thread-self/make-it-fail", O_WRONLY | O_CLOEXEC);
	if (mif < 0)
		SKIP(return, "no /proc/thread-self/make-it-fail");
	if (!read_str("/sys/kernel/slab/radix_tree_node/object_size", v, sizeof(v)))
		node_size = strtoull(v, NULL, 10);
	fill(buf, len, 31);

	ASSERT_EQ(0, failslab_set("probability", 0));
	ASSERT_EQ(0, write_str(FAILSLAB "task-filter", "Y"));
	ASSERT_EQ(0, write_str(FAILSLAB "ignore-gfp-wait", "Y"));
	ASSERT_EQ(0, failslab_set("verbose", 0));
	ASSERT_EQ(0, failslab_set("interval", 1));
	ASSERT_EQ(1, write(mif, "1", 1));
	for (unsigned int budget = 0; budget < STORE_FAIL_BUDGETS; budget++) {
		struct rgup_mirror_stats st;
		__u32 h;
		int ret;

		if (mirror_create(self->fd, buf, len, &h))
			break;
		failslab_set("space", budget * node_size + 1);
		failslab_set("times", 2);
		failslab_set("probability", 100);
		ret = mirror_rw(self->fd, h, 0, buf, len, dev, NULL);
		failslab_set("probability", 0);
		st = mirror_stats(self->fd, h);
		if (ret) {
			EXPECT_EQ(-ENOMEM, ret);
			failed++;
			if (st.mirrored_pages > 0 && st.mirrored_pages < STORE_FAIL_PAGES)
				partial++;
		} else {
			EXPECT_EQ(STORE_FAIL_PAGES, st.mirrored_pages);
			EXPECT_TRUE(check(dev, len, 31));
		}
		EXPECT_GE(STORE_FAIL_PAGES, st.mirrored_pages);
		EXPECT_EQ(0, mirror_destroy(self->fd, h));
		EXPECT_EQ(total, mirrored_pages_total());
	}
	write(mif, "0", 1);
	close(mif);
	for (size_t i = 0; i < ARRAY_SIZE(failslab_knobs); i++) {
		snprintf(path, sizeof(path), FAILSLAB "%s", failslab_knobs[i]);
		write_str(path, saved[i]);
	}
	ksft_print_msg("%u of %d budgets failed the fault, %u part way through a chunk\n",
		       failed, STORE_FAIL_BUDGETS, partial);
	EXPECT_LT(0, partial);
	munmap(buf, len);
	free(dev);
}

/* The snapshot reports without faulting: nothing, zero page, written, PROT_NONE. */
TEST_F(rgup, snapshot_states)
{
	size_t len = 4 * self->page;
	unsigned char *buf = map_anon(len), st[4];
	struct rgup_mirror_snapshot sn = { .size = sizeof(sn) };

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, buf[self->page]);	/* page 1: read, so the zero page */
	buf[2 * self->page] = 1;	/* page 2: written */
	ASSERT_EQ(0, mprotect(buf + 3 * self->page, self->page, PROT_NONE));
	ASSERT_EQ(0, mirror_create(self->fd, buf, len, &sn.handle));
	sn.addr = (uintptr_t)buf;
	sn.npages = 4;
	sn.states = (uintptr_t)st;
	ASSERT_EQ(0, xioctl(self->fd, RGUP_IOC_MIRROR_SNAPSHOT, &sn));
	ASSERT_EQ(0, st[0]);
	ASSERT_EQ(RGUP_MIRROR_PAGE_PRESENT | RGUP_MIRROR_PAGE_ZERO, st[1]);
	ASSERT_EQ(RGUP_MIRROR_PAGE_PRESENT | RGUP_MIRROR_PAGE_WRITE, st[2]);
	ASSERT_EQ(RGUP_MIRROR_PAGE_ERROR, st[3]);
	ASSERT_EQ(0, mirror_stats(self->fd, sn.handle).faults);
	munmap(buf, len);
}

/* Every kind of bad input gets its documented errno and creates nothing. */
TEST_F(rgup, bad_input)
{
	size_t len = 2 * self->page;
	unsigned char *buf = map_anon(len), dev[16];
	long mirrors = rgup_stat("mirrors");
	struct rgup_mirror_create c;
	struct rgup_mirror_rw rw;
	struct rgup_mirror_snapshot sn;
	__u32 h;
	int status;
	pid_t pid;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(-EINVAL, mirror_create(self->fd, buf, 0, &h));
	ASSERT_EQ(-EINVAL, mirror_create(self->fd, buf + 1, len, &h));
	ASSERT_EQ(-EINVAL, mirror_create(self->fd, buf, len - 1, &h));
	ASSERT_EQ(-EINVAL, mirror_create(self->fd, (void *)0xffff888000000000ul, len, &h));
	ASSERT_EQ(-EINVAL, mirror_create(self->fd, (void *)-4096ul, 8192, &h));
	c = (struct rgup_mirror_create){ .size = sizeof(c), .flags = 1,
					 .addr = (uintptr_t)buf, .len = len };
	ASSERT_EQ(-EINVAL, xioctl(self->fd, RGUP_IOC_MIRROR_CREATE, &c));
	c.flags = 0;
	c.reserved = 1;
	ASSERT_EQ(-EINVAL, xioctl(self->fd, RGUP_IOC_MIRROR_CREATE, &c));
	c.reserved = 0;
	c.size = 8;
	ASSERT_EQ(-EINVAL, xioctl(self->fd, RGUP_IOC_MIRROR_CREATE, &c));
	ASSERT_EQ(mirrors, rgup_stat("mirrors"));

	ASSERT_EQ(0, mirror_create(self->fd, buf, len, &h));
	ASSERT_EQ(-ENOENT, mirror_rw(self->fd, 0, 0, buf, 1, dev, NULL));
	ASSERT_EQ(-ENOENT, mirror_rw(self->fd, h + 1000, 0, buf, 1, dev, NULL));
	ASSERT_EQ(-EINVAL, mirror_rw(self->fd, h, 0, buf, 0, dev, NULL));
	ASSERT_EQ(-EINVAL, mirror_rw(self->fd, h, 0, buf + len - 1, 2, dev, NULL));
	ASSERT_EQ(-EINVAL, mirror_rw(self->fd, h, 0, buf - 1, 1, dev, NULL));
	ASSERT_EQ(-EINVAL, mirror_rw(self->fd, h, 1u << 5, buf, 1, dev, NULL));
	ASSERT_EQ(-EFAULT, mirror_rw(self->fd, h, 0, buf, 16, NULL, NULL));
	rw = (struct rgup_mirror_rw){ .size = sizeof(rw), .handle = h, .reserved = 1,
				      .addr = (uintptr_t)buf, .len = 1,
				      .buf = (uintptr_t)dev };
	ASSERT_EQ(-EINVAL, xioctl(self->fd, RGUP_IOC_MIRROR_RW, &rw));
	sn = (struct rgup_mirror_snapshot){ .size = sizeof(sn), .handle = h,
					    .addr = (uintptr_t)buf + 1, .npages = 1,
					    .states = (uintptr_t)dev };
	ASSERT_EQ(-EINVAL, xioctl(self->fd, RGUP_IOC_MIRROR_SNAPSHOT, &sn));
	sn.addr = (uintptr_t)buf;
	sn.npages = 0;
	ASSERT_EQ(-EINVAL, xioctl(self->fd, RGUP_IOC_MIRROR_SNAPSHOT, &sn));
	sn.npages = 3;
	ASSERT_EQ(-EINVAL, xioctl(self->fd, RGUP_IOC_MIRROR_SNAPSHOT, &sn));

	/* A child shares the file but not the parent's handles. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(mirror_rw(self->fd, h, 0, buf, 1, dev, NULL) == -ENOENT ? 0 : 1);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(0, mirror_rw(self->fd, h, 0, buf, 1, dev, NULL));
	ASSERT_EQ(mirrors + 1, rgup_stat("mirrors"));
	munmap(buf, len);
}

/* At most 256 mirrors per file; closing the file drops them all. */
TEST_F(rgup, mirror_limit_and_close)
{
	unsigned char *buf = map_anon(self->page);
	long mirrors = rgup_stat("mirrors");
	__u32 h;
	int i;

	ASSERT_NE(NULL, buf);
	for (i = 0; i < 256; i++)
		ASSERT_EQ(0, mirror_create(self->fd, buf, self->page, &h));
	ASSERT_EQ(-ENOSPC, mirror_create(self->fd, buf, self->page, &h));
	ASSERT_EQ(mirrors + 256, rgup_stat("mirrors"));
	close(self->fd);
	self->fd = -1;
	ASSERT_EQ(mirrors, rgup_stat("mirrors"));
	munmap(buf, self->page);
}

TEST_HARNESS_MAIN

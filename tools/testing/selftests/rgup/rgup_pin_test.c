// SPDX-License-Identifier: GPL-2.0
/*
 * Long-term pinning through /dev/rgup (RGUP_IOC_PIN/UNPIN/CHECK/RW/STATS).
 *
 * The verdict tests map one memory type each and compare, for read-only and
 * read-write pins: rgup's preflight verdict (RGUP_IOC_CHECK), rgup's pin, and
 * the kernel's own FOLL_LONGTERM check through upstream gup_test
 * (/sys/kernel/debug/gup_test, PIN_LONGTERM_TEST_START, mm/gup_test.h from the
 * kernel tree) - all three must agree, and agree with the expected errno.
 *
 * Needs rgup.ko loaded and root; uses CONFIG_GUP_TEST when present. The ext4
 * and hugetlb variants need the environment tools/testing/vm/guest-check.sh
 * prepares (an ext4 mount at /tmp/rgup-ext4 and free huge pages); without it
 * they skip.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <signal.h>
#include <unistd.h>

#include <linux/memfd.h>
#include <linux/rgup.h>
#include <mm/gup_test.h>

#include "kselftest_harness.h"
#include "rgup_test_util.h"

#define EXT4_DIR "/tmp/rgup-ext4"

static long page_size;

static int rgup_open(void)
{
	return open("/dev/rgup", O_RDWR | O_CLOEXEC);
}

static struct rgup_check do_check(int fd, void *addr, size_t len, __u32 flags)
{
	struct rgup_check c = {
		.size = sizeof(c), .flags = flags,
		.addr = (uintptr_t)addr, .len = len,
	};

	if (xioctl(fd, RGUP_IOC_CHECK, &c))
		c.error = INT_MIN;
	return c;
}

static struct rgup_stats do_stats(int fd)
{
	struct rgup_stats s = { .size = sizeof(s) };

	if (xioctl(fd, RGUP_IOC_STATS, &s))
		memset(&s, 0xff, sizeof(s));
	return s;
}

/* The kernel's own verdict: upstream gup_test's long-term pin, or 1 if absent. */
static int kernel_verdict(void *addr, size_t len, bool write, bool fast)
{
	struct pin_longterm_test t = {
		.addr = (uintptr_t)addr, .size = len,
		.flags = (write ? PIN_LONGTERM_TEST_FLAG_USE_WRITE : 0) |
			 (fast ? PIN_LONGTERM_TEST_FLAG_USE_FAST : 0),
	};
	int fd = open("/sys/kernel/debug/gup_test", O_RDWR | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return 1;
	ret = xioctl(fd, PIN_LONGTERM_TEST_START, &t);
	if (!ret)
		ioctl(fd, PIN_LONGTERM_TEST_STOP);
	close(fd);
	return ret;
}

/* ---------------------------------------------------------------------- */
/* Basic pin, data and accounting                                          */

FIXTURE(pin)
{
	int fd;
	char *mem;
	size_t len;
	long foll_pins;
};

FIXTURE_SETUP(pin)
{
	page_size = getpagesize();
	self->foll_pins = foll_pins_outstanding();
	self->fd = rgup_open();
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, "/dev/rgup missing: is rgup.ko loaded?");
	ASSERT_LE(0, self->fd);
	self->len = 16 * page_size;
	self->mem = mmap(NULL, self->len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	for (size_t i = 0; i < self->len; i++)
		self->mem[i] = (char)(i * 7 + 3);
}

FIXTURE_TEARDOWN(pin)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->mem && self->mem != MAP_FAILED)
		munmap(self->mem, self->len);
	EXPECT_TRUE(foll_pins_back_to(self->foll_pins));
}

TEST_F(pin, anon_rw_data_and_accounting)
{
	struct rgup_pin p;
	struct rgup_stats s;
	long vmpin = vm_pin_kb();
	char *buf = malloc(self->len);

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, do_pin(self->fd, self->mem, self->len, RGUP_PIN_WRITE, &p));
	EXPECT_NE(0, p.handle);
	EXPECT_EQ(16, p.nr_pages);
	EXPECT_LE(1, p.nr_folios);
	EXPECT_LE(1, p.nr_runs);
	EXPECT_GE(16, p.nr_runs);
	EXPECT_EQ(vmpin + 16 * page_size / 1024, vm_pin_kb());

	s = do_stats(self->fd);
	EXPECT_EQ(1, s.fd_pins);
	EXPECT_EQ(16, s.fd_pages);
	EXPECT_EQ(16, s.fd_charged_pages);
	EXPECT_LE(1, s.pins);

	/* What the device reads is what the CPU wrote. */
	ASSERT_EQ(0, do_rw(self->fd, p.handle, 0, 0, self->len, buf));
	EXPECT_EQ(0, memcmp(buf, self->mem, self->len));

	/* A CPU write after the pin is seen by the device. */
	self->mem[5 * page_size + 17] = 0x5a;
	ASSERT_EQ(0, do_rw(self->fd, p.handle, 0, 5 * page_size + 17, 1, buf));
	EXPECT_EQ(0x5a, buf[0]);

	/* A device write is seen by the CPU, across a page boundary. */
	memset(buf, 0xa5, 100);
	ASSERT_EQ(0, do_rw(self->fd, p.handle, RGUP_RW_WRITE,
			   3 * page_size - 50, 100, buf));
	for (int i = 0; i < 100; i++)
		ASSERT_EQ((char)0xa5, self->mem[3 * page_size - 50 + i]);

	ASSERT_EQ(0, do_unpin(self->fd, p.handle));
	EXPECT_EQ(vmpin, vm_pin_kb());
	s = do_stats(self->fd);
	EXPECT_EQ(0, s.fd_pins);
	EXPECT_EQ(0, s.fd_pages);
	EXPECT_EQ(-ENOENT, do_unpin(self->fd, p.handle));
	free(buf);
}

TEST_F(pin, unaligned_range_covers_its_pages)
{
	struct rgup_pin p;
	char c;

	ASSERT_EQ(0, do_pin(self->fd, self->mem + 1, page_size, 0, &p));
	EXPECT_EQ(2, p.nr_pages);
	/* Offsets are relative to the pinned address. */
	ASSERT_EQ(0, do_rw(self->fd, p.handle, 0, 0, 1, &c));
	EXPECT_EQ(self->mem[1], c);
	ASSERT_EQ(0, do_rw(self->fd, p.handle, 0, page_size - 1, 1, &c));
	EXPECT_EQ(self->mem[page_size], c);
	EXPECT_EQ(-EINVAL, do_rw(self->fd, p.handle, 0, page_size, 1, &c));
	EXPECT_EQ(0, do_unpin(self->fd, p.handle));
}

TEST_F(pin, readonly_pin_refuses_device_writes)
{
	struct rgup_pin p;
	char c = 1;

	ASSERT_EQ(0, do_pin(self->fd, self->mem, page_size, 0, &p));
	EXPECT_EQ(-EPERM, do_rw(self->fd, p.handle, RGUP_RW_WRITE, 0, 1, &c));
	EXPECT_EQ(0, do_unpin(self->fd, p.handle));
}

TEST_F(pin, fast_paths)
{
	struct rgup_pin p;

	ASSERT_EQ(0, do_pin(self->fd, self->mem, self->len,
			    RGUP_PIN_WRITE | RGUP_PIN_FAST, &p));
	EXPECT_EQ(16, p.nr_pages);
	EXPECT_EQ(0, do_unpin(self->fd, p.handle));
	ASSERT_EQ(0, do_pin(self->fd, self->mem, self->len,
			    RGUP_PIN_FAST, &p));
	EXPECT_EQ(0, do_unpin(self->fd, p.handle));
}

TEST_F(pin, bad_input)
{
	struct rgup_pin p = { .size = sizeof(p) };
	long vmpin = vm_pin_kb();
	void *hole;

	EXPECT_EQ(-EINVAL, do_pin(self->fd, self->mem, 0, 0, NULL));
	EXPECT_EQ(-EINVAL, do_pin(self->fd, (void *)-4096UL, 8192, 0, NULL));
	EXPECT_EQ(-EINVAL, do_pin(self->fd, (void *)0xffff888000000000UL,
				  page_size, 0, NULL));
	/* Beyond user space with 4- and 5-level paging alike. */
	EXPECT_EQ(-EINVAL, do_pin(self->fd, (void *)(1UL << 57),
				  page_size, 0, NULL));
	EXPECT_EQ(-EINVAL, do_pin(self->fd, self->mem, 1UL << 40, 0, NULL));
	EXPECT_EQ(-EINVAL, do_pin(self->fd, self->mem, page_size, 1U << 31, NULL));
	EXPECT_EQ(-EINVAL, do_pin(self->fd, self->mem, page_size,
				  RGUP_PIN_NO_FALLBACK, NULL));
	p.addr = (uintptr_t)self->mem;
	p.len = page_size;
	p.reserved = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, RGUP_IOC_PIN, &p));
	EXPECT_EQ(-EFAULT, do_pin(self->fd, NULL, page_size, 0, NULL));

	/* A hole in the middle fails the whole pin. */
	hole = self->mem + 8 * page_size;
	ASSERT_EQ(0, munmap(hole, page_size));
	EXPECT_EQ(-EFAULT, do_pin(self->fd, self->mem, self->len, 0, NULL));
	EXPECT_EQ(-EFAULT, do_pin(self->fd, self->mem, self->len, RGUP_PIN_FAST, NULL));

	EXPECT_EQ(-ENOENT, do_unpin(self->fd, 0));
	EXPECT_EQ(-ENOENT, do_unpin(self->fd, 12345));
	EXPECT_EQ(0, do_stats(self->fd).fd_pins);
	EXPECT_EQ(vmpin, vm_pin_kb());
}

TEST_F(pin, close_releases_everything)
{
	int fd2 = rgup_open();
	__u64 pins_before;
	long vmpin = vm_pin_kb();

	ASSERT_LE(0, fd2);
	pins_before = do_stats(self->fd).pins;
	for (int i = 0; i < 8; i++)
		ASSERT_EQ(0, do_pin(fd2, self->mem + i * page_size, page_size,
				    RGUP_PIN_WRITE, NULL));
	EXPECT_EQ(pins_before + 8, do_stats(self->fd).pins);
	EXPECT_EQ(vmpin + 8 * page_size / 1024, vm_pin_kb());
	ASSERT_EQ(0, close(fd2));
	EXPECT_EQ(pins_before, do_stats(self->fd).pins);
	EXPECT_EQ(vmpin, vm_pin_kb());
}

/* Handles are per open file: another file cannot name them. */
TEST_F(pin, handles_are_per_file)
{
	int fd2 = rgup_open();
	struct rgup_pin p;
	char c;

	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, do_pin(self->fd, self->mem, page_size, 0, &p));
	EXPECT_EQ(-ENOENT, do_rw(fd2, p.handle, 0, 0, 1, &c));
	EXPECT_EQ(-ENOENT, do_unpin(fd2, p.handle));
	EXPECT_EQ(0, do_unpin(self->fd, p.handle));
	close(fd2);
}

/*
 * A forked child shares the parent's file but cannot reach the parent's
 * handles. The pinned pages stay the parent's: fork copies pinned anonymous
 * pages early, so the parent's later CPU writes are seen by the device, the
 * child's are not.
 */
TEST_F(pin, fork_keeps_pins_coherent_with_the_parent)
{
	struct rgup_pin p;
	pid_t pid;
	int status;
	char c;

	ASSERT_EQ(0, do_pin(self->fd, self->mem, page_size, RGUP_PIN_WRITE, &p));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char d;

		self->mem[0] = 'C';
		if (do_rw(self->fd, p.handle, 0, 0, 1, &d) != -ENOENT)
			_exit(2);
		if (do_unpin(self->fd, p.handle) != -ENOENT)
			_exit(3);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	self->mem[0] = 'P';
	ASSERT_EQ(0, do_rw(self->fd, p.handle, 0, 0, 1, &c));
	EXPECT_EQ('P', c);
	EXPECT_EQ(0, do_unpin(self->fd, p.handle));
}

/* The pinned pages are what the device sees, whatever the mapping does. */
TEST_F(pin, coherent_across_mremap_thp_split_and_pageout)
{
	size_t huge = 2UL << 20;
	char *raw = mmap(NULL, 3 * huge, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *thp = (char *)(((uintptr_t)raw + huge - 1) & ~(huge - 1));
	char *moved;
	struct rgup_pin p;
	char c;

	ASSERT_NE(MAP_FAILED, raw);
	/* mremap: the pinned page moves with the mapping (past the THP part). */
	ASSERT_EQ(0, do_pin(self->fd, self->mem, 2 * page_size, RGUP_PIN_WRITE, &p));
	moved = mremap(self->mem, self->len, self->len, MREMAP_MAYMOVE | MREMAP_FIXED,
		       raw + 3 * huge - self->len);
	ASSERT_NE(MAP_FAILED, moved);
	self->mem = moved;
	moved[page_size + 5] = 'M';
	ASSERT_EQ(0, do_rw(self->fd, p.handle, 0, page_size + 5, 1, &c));
	EXPECT_EQ('M', c);
	/*
	 * MADV_PAGEOUT cannot take a pinned page away; the unpinned pages
	 * next to it are swapped out (when there is swap: guest-check.sh
	 * sets up a swap file), so the pageout did run.
	 */
	EXPECT_EQ(0, madvise(moved, self->len, MADV_PAGEOUT));
	EXPECT_FALSE(page_swapped(moved));
	EXPECT_FALSE(page_swapped(moved + page_size));
	if (swap_enabled())
		EXPECT_TRUE(swap_out(moved + 5 * page_size, page_size));
	moved[7] = 'S';
	ASSERT_EQ(0, do_rw(self->fd, p.handle, 0, 7, 1, &c));
	EXPECT_EQ('S', c);
	EXPECT_EQ(0, do_unpin(self->fd, p.handle));

	/*
	 * A THP split under a pin (mprotect of part of the huge page). The
	 * buffer must really be one THP (the test kernel has THP "always"),
	 * or there is nothing to split.
	 */
	ASSERT_EQ(0, madvise(thp, huge, MADV_HUGEPAGE));
	memset(thp, 't', huge);
	ASSERT_TRUE(page_flag(thp, KPF_THP) && page_flag(thp + huge - 1, KPF_THP) &&
		    page_pfn(thp + huge - 1) == page_pfn(thp) + huge / page_size - 1)
		TH_LOG("no THP behind %p (kpageflags %#llx)", thp,
		       (unsigned long long)page_flags(thp));
	ASSERT_EQ(0, do_pin(self->fd, thp + huge / 2, page_size, RGUP_PIN_WRITE, &p));
	ASSERT_EQ(0, mprotect(thp, page_size, PROT_READ));
	thp[huge / 2 + 3] = 'T';
	ASSERT_EQ(0, do_rw(self->fd, p.handle, 0, 3, 1, &c));
	EXPECT_EQ('T', c);
	c = 'D';
	ASSERT_EQ(0, do_rw(self->fd, p.handle, RGUP_RW_WRITE, 4, 1, &c));
	EXPECT_EQ('D', thp[huge / 2 + 4]);
	EXPECT_EQ(0, do_unpin(self->fd, p.handle));
	munmap(thp, huge);
}

/* A process killed while holding pins: its file is closed, everything released. */
TEST_F(pin, sigkill_of_a_holder_releases_its_pins)
{
	struct rgup_stats before = do_stats(self->fd);
	int ready[2];
	pid_t pid;
	char c;

	ASSERT_EQ(0, pipe(ready));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int fd = rgup_open();

		if (fd < 0 || do_pin(fd, self->mem, 8 * page_size, RGUP_PIN_WRITE, NULL) ||
		    vm_pin_kb() != 8 * page_size / 1024)
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		pause();
		_exit(3);
	}
	close(ready[1]);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	EXPECT_EQ(before.pins + 1, do_stats(self->fd).pins);
	EXPECT_EQ(before.charged_pages + 8, do_stats(self->fd).charged_pages);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, NULL, 0));
	EXPECT_EQ(before.pins, do_stats(self->fd).pins);
	EXPECT_EQ(before.pinned_pages, do_stats(self->fd).pinned_pages);
	EXPECT_EQ(before.charged_pages, do_stats(self->fd).charged_pages);
	close(ready[0]);
}

/* CAP_IPC_LOCK (root here) bypasses RLIMIT_MEMLOCK; the pages are still counted. */
TEST_F(pin, memlock_limit_bypassed_with_cap_ipc_lock)
{
	pid_t pid;
	int status;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct rlimit rl = { page_size, page_size };
		struct rgup_pin p;

		if (setrlimit(RLIMIT_MEMLOCK, &rl))
			_exit(10);
		if (do_pin(self->fd, self->mem, self->len, RGUP_PIN_WRITE, &p))
			_exit(11);
		if (vm_pin_kb() != self->len / 1024 || do_stats(self->fd).fd_charged_pages != 16)
			_exit(12);
		if (do_pin(self->fd, self->mem, self->len, RGUP_PIN_NO_ACCOUNT, NULL))
			_exit(13);
		if (vm_pin_kb() != self->len / 1024)
			_exit(14);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/*
 * RLIMIT_MEMLOCK applies to users without CAP_IPC_LOCK: run as nobody with a
 * 16-page limit.
 */
TEST_F(pin, memlock_limit_as_unprivileged_user)
{
	pid_t pid;
	int status;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct rlimit rl = { 16 * page_size, 16 * page_size };
		struct rgup_pin p;

		if (setrlimit(RLIMIT_MEMLOCK, &rl) || setgid(65534) || setuid(65534))
			_exit(10);
		if (do_pin(self->fd, self->mem, self->len, RGUP_PIN_NO_ACCOUNT, NULL) != -EPERM)
			_exit(11);
		if (do_pin(self->fd, self->mem, 12 * page_size, 0, &p))
			_exit(12);
		if (vm_pin_kb() != 12 * page_size / 1024)
			_exit(13);
		/* 12 + 5 > 16: refused, nothing pinned or charged. */
		if (do_pin(self->fd, self->mem, 5 * page_size, 0, NULL) != -ENOMEM)
			_exit(14);
		if (vm_pin_kb() != 12 * page_size / 1024 || do_stats(self->fd).fd_pins != 1)
			_exit(15);
		if (do_pin(self->fd, self->mem, 4 * page_size, RGUP_PIN_FAST, NULL))
			_exit(16);
		if (do_unpin(self->fd, p.handle))
			_exit(17);
		if (vm_pin_kb() != 4 * page_size / 1024)
			_exit(18);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* The child's remaining pin lives in the shared table: release it. */
	EXPECT_EQ(1, do_stats(self->fd).fd_pins);
}

/* ---------------------------------------------------------------------- */
/* Long pins and unpins let other tasks run                                 */

/*
 * A thread that spins on one CPU and records the longest time it did not
 * get to run: between two of its clock reads.
 */
struct spinner {
	pthread_t thread;
	bool stop;
	uint64_t last_ns, max_gap_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void *spin(void *arg)
{
	struct spinner *s = arg;

	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
		uint64_t t = now_ns(), last = __atomic_exchange_n(&s->last_ns, t, __ATOMIC_RELAXED);

		if (last && t - last > __atomic_load_n(&s->max_gap_ns, __ATOMIC_RELAXED))
			__atomic_store_n(&s->max_gap_ns, t - last, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Starts a new measurement; the spinner must have run once since. */
static void spinner_reset(struct spinner *s)
{
	__atomic_store_n(&s->last_ns, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->max_gap_ns, 0, __ATOMIC_RELAXED);
	while (!__atomic_load_n(&s->last_ns, __ATOMIC_RELAXED))
		sched_yield();
}

/* The longest the spinner waited since the reset, counting up to now. */
static uint64_t spinner_max_gap_ns(struct spinner *s)
{
	uint64_t gap = now_ns() - __atomic_load_n(&s->last_ns, __ATOMIC_RELAXED);
	uint64_t max = __atomic_load_n(&s->max_gap_ns, __ATOMIC_RELAXED);

	return gap > max ? gap : max;
}

static long mem_available_kb(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

#define LONG_PIN_ROUNDS 5
#define LONG_PIN_MAX_WAIT_MS 30

/*
 * Pins and unpins of a large populated range while a busy thread shares the
 * CPU: rgup pins (RGUP_PIN_FAST) and unpins in batches of 512 pages, as
 * ib_umem does, with a cond_resched() between batches, so that the other
 * thread never waits long. One pin_user_pages_fast() call for the whole
 * range walks its page tables with interrupts off from the first page to the
 * last: the other thread then waits for all of it (52 to 108 ms under TCG
 * on the machine this was written on; with batches, 8 ms on an idle host and
 * up to 17 ms on a loaded one). The best of a few rounds counts, so that the
 * host descheduling a virtual CPU now and then does not.
 */
TEST(long_pins_let_other_tasks_run)
{
	uint64_t pin_wait = UINT64_MAX, unpin_wait = UINT64_MAX;
	size_t len = 512UL << 20;
	struct spinner s = { 0 };
	pthread_attr_t attr;
	cpu_set_t cpu;
	int fd, ret = 0;
	char *mem;

	page_size = getpagesize();
	if (mem_available_kb() > 0 && len > (size_t)mem_available_kb() * 1024 / 3)
		len = (size_t)mem_available_kb() * 1024 / 3 & ~(page_size - 1);
	fd = rgup_open();
	if (fd < 0 && errno == ENOENT)
		SKIP(return, "/dev/rgup missing: is rgup.ko loaded?");
	ASSERT_LE(0, fd);
	CPU_ZERO(&cpu);
	CPU_SET(0, &cpu);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpu), &cpu));
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	/* 4 KiB pages: one page table entry per page for the fast walk. */
	madvise(mem, len, MADV_NOHUGEPAGE);
	memset(mem, 0x5a, len);

	ASSERT_EQ(0, pthread_attr_init(&attr));
	ASSERT_EQ(0, pthread_attr_setaffinity_np(&attr, sizeof(cpu), &cpu));
	ASSERT_EQ(0, pthread_create(&s.thread, &attr, spin, &s));
	for (int round = 0; round < LONG_PIN_ROUNDS && !ret; round++) {
		uint64_t pw, uw;
		struct rgup_pin p;

		spinner_reset(&s);
		ret = do_pin(fd, mem, len, RGUP_PIN_FAST, &p);
		pw = spinner_max_gap_ns(&s);
		if (ret)
			break;
		spinner_reset(&s);
		ret = do_unpin(fd, p.handle);
		uw = spinner_max_gap_ns(&s);
		ksft_print_msg("round %d: the other thread waited %llu ms (pin), %llu ms (unpin)\n",
			       round, (unsigned long long)pw / 1000000,
			       (unsigned long long)uw / 1000000);
		pin_wait = pw < pin_wait ? pw : pin_wait;
		unpin_wait = uw < unpin_wait ? uw : unpin_wait;
	}
	__atomic_store_n(&s.stop, true, __ATOMIC_RELAXED);
	pthread_join(s.thread, NULL);
	close(fd);
	munmap(mem, len);
	ASSERT_EQ(0, ret);
	ksft_print_msg("%zu MiB, best of %d: waited %llu ms (pin), %llu ms (unpin)\n",
		       len >> 20, LONG_PIN_ROUNDS, (unsigned long long)pin_wait / 1000000,
		       (unsigned long long)unpin_wait / 1000000);
	EXPECT_GT(LONG_PIN_MAX_WAIT_MS * 1000000ULL, pin_wait);
	EXPECT_GT(LONG_PIN_MAX_WAIT_MS * 1000000ULL, unpin_wait);
}

/* ---------------------------------------------------------------------- */
/* Dirty on release                                                        */

/*
 * What a device writes through a pin must reach the page's backing store:
 * the pages it wrote are dirty once the pin is dropped, or reclaim drops
 * them and the data with them. The pages used here make that visible:
 * anonymous pages swapped out and read back in, which sit clean in the swap
 * cache (their swap slot holds the old data) behind a writable PTE that is
 * not dirty. Pinning them does not dirty them (pin_user_pages() without
 * FOLL_TOUCH, as rgup's default locked method calls it), nor does the
 * device's write through the pin: only rgup's unpin can, and /proc/kpageflags
 * shows whether it did. Then a second swap-out writes the device's data to
 * swap, or throws it away. A read pin must leave the pages clean.
 */
#define DIRTY_PAGES 8

FIXTURE(dirty)
{
	int fd;
	unsigned char *mem;
	size_t len;
	long foll_pins;
};

FIXTURE_SETUP(dirty)
{
	page_size = getpagesize();
	self->foll_pins = foll_pins_outstanding();
	self->len = DIRTY_PAGES * page_size;
	self->mem = MAP_FAILED;
	self->fd = rgup_open();
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, "/dev/rgup missing: is rgup.ko loaded?");
	ASSERT_LE(0, self->fd);
	if (!swap_enabled())
		SKIP(return, "no swap (guest-check.sh sets up a swap file)");
	if (access("/proc/kpageflags", R_OK))
		SKIP(return, "no /proc/kpageflags (CONFIG_PROC_PAGE_MONITOR)");
	self->mem = mmap(NULL, self->len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	ASSERT_EQ(0, madvise(self->mem, self->len, MADV_NOHUGEPAGE));
}

FIXTURE_TEARDOWN(dirty)
{
	if (self->mem != MAP_FAILED)
		munmap(self->mem, self->len);
	if (self->fd >= 0)
		close(self->fd);
	EXPECT_TRUE(foll_pins_back_to(self->foll_pins));
}

/* Fill with @c, swap out, read back in: clean swap-cache pages holding @c. */
static void make_clean_swapcache(struct __test_metadata *_metadata, unsigned char *mem,
				 size_t len, unsigned char c)
{
	memset(mem, c, len);
	ASSERT_TRUE(swap_out(mem, len)) TH_LOG("MADV_PAGEOUT did not swap the buffer out");
	for (size_t i = 0; i < len; i += page_size) {
		ASSERT_EQ(c, __atomic_load_n(mem + i, __ATOMIC_RELAXED));
		ASSERT_TRUE(page_flag(mem + i, KPF_SWAPCACHE));
		/* The precondition of the whole test: nothing dirtied them yet. */
		ASSERT_FALSE(page_flag(mem + i, KPF_DIRTY))
			TH_LOG("page %zu is dirty before the pin (kpageflags %#llx)", i / page_size,
			       (unsigned long long)page_flags(mem + i));
	}
}

TEST_F(dirty, device_writes_survive_swap_out_after_unpin)
{
	unsigned char *buf = malloc(self->len);
	struct rgup_pin p;

	ASSERT_NE(NULL, buf);
	for (int fast = 0; fast <= 1; fast++) {
		make_clean_swapcache(_metadata, self->mem, self->len, 'A');
		ASSERT_EQ(0, do_pin(self->fd, self->mem, self->len,
				    RGUP_PIN_WRITE | (fast ? RGUP_PIN_FAST : 0), &p));
		memset(buf, 'B' + fast, self->len);
		/* The device writes every page but the last. */
		ASSERT_EQ(0, do_rw(self->fd, p.handle, RGUP_RW_WRITE, 0,
				   self->len - page_size, buf));
		ASSERT_EQ(0, do_unpin(self->fd, p.handle));
		for (size_t i = 0; i < self->len - page_size; i += page_size) {
			EXPECT_TRUE(page_flag(self->mem + i, KPF_DIRTY))
				TH_LOG("fast=%d: page %zu, written by the device, clean",
				       fast, i / page_size);
		}
		/* Not written, not dirtied: the dirty marks are per page. */
		EXPECT_FALSE(page_flag(self->mem + self->len - page_size, KPF_DIRTY));
		ASSERT_TRUE(swap_out(self->mem, self->len));
		for (size_t i = 0; i < self->len - page_size; i++) {
			ASSERT_EQ('B' + fast, self->mem[i])
				TH_LOG("fast=%d: byte %zu: the device's write never reached swap",
				       fast, i);
		}
		EXPECT_EQ('A', self->mem[self->len - 1]);
	}
	free(buf);
}

TEST_F(dirty, read_pins_and_unwritten_write_pins_leave_pages_clean)
{
	unsigned char *buf = malloc(self->len);
	struct rgup_pin p;

	ASSERT_NE(NULL, buf);
	make_clean_swapcache(_metadata, self->mem, self->len, 'R');
	ASSERT_EQ(0, do_pin(self->fd, self->mem, self->len, 0, &p));
	ASSERT_EQ(0, do_rw(self->fd, p.handle, 0, 0, self->len, buf));
	EXPECT_EQ(0, memcmp(buf, self->mem, self->len));
	ASSERT_EQ(0, do_unpin(self->fd, p.handle));
	/* A write pin the device never wrote through. */
	ASSERT_EQ(0, do_pin(self->fd, self->mem, self->len, RGUP_PIN_WRITE, &p));
	ASSERT_EQ(0, do_unpin(self->fd, p.handle));
	for (size_t i = 0; i < self->len; i += page_size) {
		EXPECT_TRUE(page_flag(self->mem + i, KPF_SWAPCACHE));
		EXPECT_FALSE(page_flag(self->mem + i, KPF_DIRTY))
			TH_LOG("page %zu dirty after a read pin", i / page_size);
	}
	free(buf);
}

/* ---------------------------------------------------------------------- */
/* Verdicts per memory type: rgup's check == rgup's pin == the kernel's     */

struct backing {
	void *mem;
	size_t len;
	int fd;
};

FIXTURE(verdict)
{
	int fd;
	struct backing b;
	long foll_pins;
};

FIXTURE_VARIANT(verdict)
{
	/* Maps the memory; returns 0, or a reason to skip. */
	const char *(*map)(struct backing *b);
	int expect_ro;		/* errno of a read-only long-term pin */
	int expect_rw;		/* errno of a read-write long-term pin */
	__u32 reason_rw;	/* RGUP_REASON_* of the read-write verdict */
	__u32 kind;		/* RGUP_VMA_* of the refused VMA, if refused */
};

static const char *map_anon(struct backing *b, int flags, int prot)
{
	b->len = 4 * page_size;
	b->mem = mmap(NULL, b->len, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0);
	if (b->mem == MAP_FAILED)
		return "mmap failed";
	memset(b->mem, 1, b->len);
	if (prot != (PROT_READ | PROT_WRITE) && mprotect(b->mem, b->len, prot))
		return "mprotect failed";
	return NULL;
}

static const char *map_anon_private(struct backing *b)
{
	return map_anon(b, MAP_PRIVATE, PROT_READ | PROT_WRITE);
}

static const char *map_anon_shared(struct backing *b)
{
	return map_anon(b, MAP_SHARED, PROT_READ | PROT_WRITE);
}

static const char *map_anon_readonly(struct backing *b)
{
	return map_anon(b, MAP_PRIVATE, PROT_READ);
}

static const char *map_prot_none(struct backing *b)
{
	return map_anon(b, MAP_PRIVATE, PROT_NONE);
}

static const char *map_fd(struct backing *b, int flags)
{
	if (b->fd < 0)
		return "no file";
	if (ftruncate(b->fd, b->len))
		return "ftruncate failed";
	b->mem = mmap(NULL, b->len, PROT_READ | PROT_WRITE, flags, b->fd, 0);
	if (b->mem == MAP_FAILED)
		return "mmap failed";
	memset(b->mem, 1, b->len);
	return NULL;
}

static const char *map_memfd_shared(struct backing *b)
{
	b->len = 4 * page_size;
	b->fd = memfd_create("rgup", 0);
	return map_fd(b, MAP_SHARED);
}

static const char *map_tmpfs_shared(struct backing *b)
{
	char path[] = "/dev/shm/rgup-XXXXXX";

	b->len = 4 * page_size;
	b->fd = mkstemp(path);
	if (b->fd >= 0)
		unlink(path);
	return map_fd(b, MAP_SHARED);
}

static const char *map_ext4(struct backing *b, int flags)
{
	char path[] = EXT4_DIR "/f-XXXXXX";

	b->len = 4 * page_size;
	if (access(EXT4_DIR "/.rgup-mounted", F_OK))
		return "no ext4 mount at " EXT4_DIR;
	b->fd = mkstemp(path);
	if (b->fd >= 0)
		unlink(path);
	return map_fd(b, flags);
}

static const char *map_ext4_shared(struct backing *b)
{
	return map_ext4(b, MAP_SHARED);
}

static const char *map_ext4_private(struct backing *b)
{
	return map_ext4(b, MAP_PRIVATE);
}

static const char *map_hugetlb_shared(struct backing *b)
{
	b->len = 2UL << 20;
	b->fd = memfd_create("rgup-huge", MFD_HUGETLB);
	if (b->fd < 0)
		return "no hugetlb memfd";
	b->mem = mmap(NULL, b->len, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd, 0);
	if (b->mem == MAP_FAILED)
		return "no free huge page";
	memset(b->mem, 1, b->len);
	return NULL;
}

static const char *map_secretmem(struct backing *b)
{
	b->len = page_size;
	b->fd = syscall(SYS_memfd_secret, 0);
	if (b->fd < 0)
		return "memfd_secret unavailable";
	return map_fd(b, MAP_SHARED);
}

/* A PCI memory BAR mapped through sysfs: VM_IO | VM_PFNMAP. */
static const char *map_pfnmap(struct backing *b)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	char path[512];

	if (!d)
		return "no PCI in sysfs";
	b->len = page_size;
	while ((e = readdir(d))) {
		for (int bar = 0; bar < 6; bar++) {
			snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource%d",
				 e->d_name, bar);
			b->fd = open(path, O_RDWR | O_CLOEXEC);
			if (b->fd < 0)
				continue;
			b->mem = mmap(NULL, b->len, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd, 0);
			if (b->mem != MAP_FAILED) {
				closedir(d);
				return NULL;
			}
			close(b->fd);
			b->fd = -1;
		}
	}
	closedir(d);
	return "no mappable PCI memory BAR";
}

FIXTURE_VARIANT_ADD(verdict, anon_private)
{
	.map = map_anon_private,
};

FIXTURE_VARIANT_ADD(verdict, anon_shared)
{
	.map = map_anon_shared,
};

FIXTURE_VARIANT_ADD(verdict, memfd_shared)
{
	.map = map_memfd_shared,
};

FIXTURE_VARIANT_ADD(verdict, tmpfs_file_shared)
{
	.map = map_tmpfs_shared,
};

FIXTURE_VARIANT_ADD(verdict, hugetlb_memfd_shared)
{
	.map = map_hugetlb_shared,
};

FIXTURE_VARIANT_ADD(verdict, ext4_file_private)
{
	.map = map_ext4_private,
};

FIXTURE_VARIANT_ADD(verdict, ext4_file_shared)
{
	.map = map_ext4_shared,
	.expect_rw = EFAULT,
	.reason_rw = RGUP_REASON_DIRTY_TRACKED_FILE,
	.kind = RGUP_VMA_FILE,
};

FIXTURE_VARIANT_ADD(verdict, anon_readonly)
{
	.map = map_anon_readonly,
	.expect_rw = EFAULT,
	.reason_rw = RGUP_REASON_NOT_WRITABLE,
	.kind = RGUP_VMA_ANONYMOUS,
};

FIXTURE_VARIANT_ADD(verdict, prot_none)
{
	.map = map_prot_none,
	.expect_ro = EFAULT,
	.expect_rw = EFAULT,
	.reason_rw = RGUP_REASON_NOT_WRITABLE,
	.kind = RGUP_VMA_ANONYMOUS,
};

FIXTURE_VARIANT_ADD(verdict, secretmem)
{
	.map = map_secretmem,
	.expect_ro = EFAULT,
	.expect_rw = EFAULT,
	.reason_rw = RGUP_REASON_SECRETMEM,
	.kind = RGUP_VMA_SECRETMEM,
};

FIXTURE_VARIANT_ADD(verdict, pci_bar_pfnmap)
{
	.map = map_pfnmap,
	.expect_ro = EFAULT,
	.expect_rw = EFAULT,
	.reason_rw = RGUP_REASON_IO_PFNMAP,
	.kind = RGUP_VMA_IO_PFNMAP,
};

FIXTURE_SETUP(verdict)
{
	const char *skip;

	page_size = getpagesize();
	self->foll_pins = foll_pins_outstanding();
	self->b.fd = -1;
	self->b.mem = MAP_FAILED;
	self->fd = rgup_open();
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, "/dev/rgup missing: is rgup.ko loaded?");
	ASSERT_LE(0, self->fd);
	skip = variant->map(&self->b);
	if (skip)
		SKIP(return, "%s", skip);
}

FIXTURE_TEARDOWN(verdict)
{
	if (self->b.mem != MAP_FAILED)
		munmap(self->b.mem, self->b.len);
	if (self->b.fd >= 0)
		close(self->b.fd);
	if (self->fd >= 0)
		close(self->fd);
	EXPECT_TRUE(foll_pins_back_to(self->foll_pins));
}

TEST_F(verdict, check_pin_and_kernel_agree)
{
	long vmpin = vm_pin_kb();

	for (int write = 0; write <= 1; write++) {
		int expect = -(write ? variant->expect_rw : variant->expect_ro);
		__u32 wflag = write ? RGUP_PIN_WRITE : 0;
		struct rgup_check c = do_check(self->fd, self->b.mem, self->b.len, wflag);

		TH_LOG("%s pin: expect %d, check %d (reason %u)",
		       write ? "R/W" : "R/O", expect, c.error, c.reason);
		EXPECT_EQ(expect, c.error);
		if (expect && write) {
			EXPECT_EQ(variant->reason_rw, c.reason);
			EXPECT_EQ(variant->kind, c.vma_kind);
			EXPECT_LE((uintptr_t)c.vma_start, (uintptr_t)self->b.mem);
			EXPECT_GE((uintptr_t)c.vma_end,
				  (uintptr_t)self->b.mem + self->b.len);
		}
		if (!expect)
			EXPECT_EQ(1, c.nr_vmas);

		for (int fast = 0; fast <= 1; fast++) {
			struct rgup_pin p;
			int kernel = kernel_verdict(self->b.mem, self->b.len, write, fast);
			int ret = do_pin(self->fd, self->b.mem, self->b.len,
					 wflag | (fast ? RGUP_PIN_FAST : 0), &p);

			EXPECT_EQ(expect, ret);
			if (kernel != 1)
				EXPECT_EQ(expect, kernel)
					TH_LOG("kernel's own check (fast=%d)", fast);
			if (!ret) {
				EXPECT_EQ(self->b.len / page_size, p.nr_pages);
				EXPECT_EQ(0, do_unpin(self->fd, p.handle));
			}
		}
	}
	EXPECT_EQ(0, do_stats(self->fd).fd_pins);
	EXPECT_EQ(vmpin, vm_pin_kb());
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * tools/testing/external/rgup_external_driver.rs: a driver built outside
 * rgup's tree against rgup's SDK, loaded with modprobe. It works on the
 * memory of the process that opened /dev/rgup_external (the opener), whoever
 * calls: these tests call from a forked child too, whose memory differs.
 * Needs rgup_external.ko loaded (guest-check.sh).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "rgup_test_util.h"
#include "rgup_external_uapi.h"

#define HPAGE (2UL << 20)

FIXTURE(ext)
{
	int fd;
	size_t page;
};

FIXTURE_SETUP(ext)
{
	self->page = getpagesize();
	self->fd = open("/dev/rgup_external", O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, "/dev/rgup_external missing: load rgup_external.ko");
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(ext)
{
	if (self->fd >= 0)
		close(self->fd);
}

static int ext_pin(int fd, void *addr, size_t len, int write, struct rgup_ext_pin *out)
{
	struct rgup_ext_pin p = { .addr = (uintptr_t)addr, .len = len, .write = write };
	int ret = xioctl(fd, RGUP_EXT_PIN, &p);

	if (out)
		*out = p;
	return ret;
}

static int ext_range(int fd, unsigned long cmd, size_t off, size_t len, void *buf)
{
	struct rgup_ext_range r = { .offset = off, .len = len, .buf = (uintptr_t)buf };

	return xioctl(fd, cmd, &r);
}

static char *anon(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* One byte through a pipe; 0 on EOF (the other side died). */
static bool say(int fd, char c)
{
	return write(fd, &c, 1) == 1;
}

static char hear(int fd)
{
	char c = 0;

	return read(fd, &c, 1) == 1 ? c : 0;
}

/* The exit status of a child (@pid, or any with -1), or -1 after a signal. */
static int exit_status(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) <= 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/*
 * A forked child calls PIN and READ on the opener's file: the driver pins the
 * opener's (parent's) pages, not the child's copy-on-write copies, and
 * charges the opener's pinned_vm, which the child's exit does not undo.
 */
TEST_F(ext, pins_the_openers_memory_from_another_process)
{
	size_t len = 4 * self->page;
	char *buf = anon(len);
	long vmpin = vm_pin_kb();
	int status, written[2];
	pid_t pid;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, pipe(written));
	memset(buf, 'B', len);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct rgup_ext_pin p;
		char *got = malloc(len);
		size_t i;

		memset(buf, 'C', len); /* the child's own copies */
		if (hear(written[0]) != 'w')
			_exit(9);
		if (!got || ext_pin(self->fd, buf, len, 1, &p))
			_exit(10);
		if (p.pages != 4 || p.charged != 4 || p.check_errno || p.vmas != 1)
			_exit(11);
		if (ext_range(self->fd, RGUP_EXT_READ, 0, len, got))
			_exit(12);
		for (i = 0; i < len; i++)
			if (got[i] != 'P')
				_exit(13);
		_exit(0);
	}
	memset(buf, 'P', len); /* the opener's pages, written after the fork */
	ASSERT_TRUE(say(written[1], 'w'));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	/* Still pinned and charged to the opener after the caller exited. */
	EXPECT_EQ(vmpin + 16, vm_pin_kb());
	ASSERT_EQ(0, xioctl(self->fd, RGUP_EXT_UNPIN, NULL));
	EXPECT_EQ(vmpin, vm_pin_kb());
	EXPECT_EQ(-ENOENT, xioctl(self->fd, RGUP_EXT_UNPIN, NULL));
	munmap(buf, len);
}

/* check_remote() explains a refusal before pin_remote() fails the same way. */
TEST_F(ext, check_remote_predicts_the_pin)
{
	size_t len = 3 * self->page;
	struct rgup_ext_pin p;
	char *buf = anon(len);

	ASSERT_NE(NULL, buf);
	/* Three VMAs: the middle page read-only. */
	ASSERT_EQ(0, mprotect(buf + self->page, self->page, PROT_READ));
	ASSERT_EQ(0, ext_pin(self->fd, buf, len, 0, &p));
	EXPECT_EQ(0, p.check_errno);
	EXPECT_EQ(3, p.vmas);
	EXPECT_EQ(3, p.pages);
	/* Writing the read-only VMA: EFAULT, predicted and real. */
	EXPECT_EQ(-EFAULT, ext_pin(self->fd, buf, len, 1, &p));
	EXPECT_EQ(EFAULT, p.check_errno);
	/* A failed PIN dropped the previous one. */
	EXPECT_EQ(-ENOENT, xioctl(self->fd, RGUP_EXT_UNPIN, NULL));
	/* A hole. */
	ASSERT_EQ(0, munmap(buf + 2 * self->page, self->page));
	EXPECT_EQ(-EFAULT, ext_pin(self->fd, buf, len, 0, &p));
	EXPECT_EQ(EFAULT, p.check_errno);
	/* Zero length: EINVAL. */
	EXPECT_EQ(-EINVAL, ext_pin(self->fd, buf, 0, 0, &p));
	EXPECT_EQ(EINVAL, p.check_errno);
	munmap(buf, 2 * self->page);
}

/* A THP is one folio and one physically contiguous run. */
TEST_F(ext, folio_runs_of_a_huge_page)
{
	char *raw = anon(2 * HPAGE), *huge;
	struct rgup_ext_pin p;

	ASSERT_NE(NULL, raw);
	huge = (char *)(((uintptr_t)raw + HPAGE - 1) & ~(HPAGE - 1));
	ASSERT_EQ(0, madvise(huge, HPAGE, MADV_HUGEPAGE));
	memset(huge, 1, HPAGE);
	ASSERT_EQ(0, ext_pin(self->fd, huge, HPAGE, 1, &p));
	EXPECT_EQ(HPAGE / self->page, p.pages);
	if (p.folios != 1)
		SKIP(goto out, "no THP for the buffer (%llu folios)", (unsigned long long)p.folios);
	EXPECT_EQ(1, p.runs);
out:
	xioctl(self->fd, RGUP_EXT_UNPIN, NULL);
	munmap(raw, 2 * HPAGE);
}

/* Small pages: between one run and one per page, one folio per page. */
TEST_F(ext, folio_runs_of_small_pages)
{
	size_t len = 8 * self->page;
	char *buf = anon(len);
	struct rgup_ext_pin p;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, madvise(buf, len, MADV_NOHUGEPAGE));
	memset(buf, 1, len);
	ASSERT_EQ(0, ext_pin(self->fd, buf, len, 1, &p));
	EXPECT_EQ(8, p.pages);
	EXPECT_EQ(8, p.folios);
	EXPECT_LE(1, p.runs);
	EXPECT_GE(8, p.runs);
	xioctl(self->fd, RGUP_EXT_UNPIN, NULL);
	munmap(buf, len);
}

/* Dirty sub-ranges: inside a write pin only. */
TEST_F(ext, dirty_sub_ranges)
{
	size_t len = 3 * self->page;
	char *buf = anon(len);

	ASSERT_NE(NULL, buf);
	memset(buf, 1, len);
	EXPECT_EQ(-ENOENT, ext_range(self->fd, RGUP_EXT_DIRTY, 0, 1, NULL));
	/* An unaligned pin: 100 bytes into the first page. */
	ASSERT_EQ(0, ext_pin(self->fd, buf + 100, len - 200, 1, NULL));
	EXPECT_EQ(0, ext_range(self->fd, RGUP_EXT_DIRTY, 0, 1, NULL));
	EXPECT_EQ(0, ext_range(self->fd, RGUP_EXT_DIRTY, len - 201, 1, NULL));
	EXPECT_EQ(0, ext_range(self->fd, RGUP_EXT_DIRTY, self->page, self->page, NULL));
	EXPECT_EQ(-EINVAL, ext_range(self->fd, RGUP_EXT_DIRTY, len - 200, 1, NULL));
	EXPECT_EQ(-EINVAL, ext_range(self->fd, RGUP_EXT_DIRTY, 0, 0, NULL));
	EXPECT_EQ(-EINVAL, ext_range(self->fd, RGUP_EXT_DIRTY, 1, (size_t)-1, NULL));
	ASSERT_EQ(0, ext_pin(self->fd, buf, len, 0, NULL));
	EXPECT_EQ(-EPERM, ext_range(self->fd, RGUP_EXT_DIRTY, 0, 1, NULL));
	xioctl(self->fd, RGUP_EXT_UNPIN, NULL);
	munmap(buf, len);
}

/* The pin mapped for the driver's device, and a DmaOnlySgt of host memory. */
TEST_F(ext, dma_mapping_and_dma_only_list)
{
	size_t len = 5 * self->page;
	char *buf = anon(len), *other = anon(len);
	struct rgup_ext_dma d = { .dir = 3 };

	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, other);
	memset(buf, 1, len);
	memset(other, 2, len);
	ASSERT_EQ(0, ext_pin(self->fd, buf + 10, len - 10, 1, NULL));
	d.addr = (uintptr_t)other + 7;
	d.len = len - 7;
	ASSERT_EQ(0, xioctl(self->fd, RGUP_EXT_DMA, &d));
	EXPECT_EQ(len - 10, d.pin_bytes);
	EXPECT_LE(1, d.pin_segments);
	EXPECT_GE(5, d.pin_segments);
	EXPECT_EQ(len - 7, d.sgt_bytes);
	EXPECT_LE(1, d.sgt_segments);
	EXPECT_EQ(d.sgt_segments, d.sgt_host_mapped); /* RAM: never a bus address */
	d.dir = 0;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, RGUP_EXT_DMA, &d));
	/* A read-only pin may only be mapped towards the device. */
	ASSERT_EQ(0, ext_pin(self->fd, buf, len, 0, NULL));
	d.dir = 2;
	EXPECT_EQ(-EPERM, xioctl(self->fd, RGUP_EXT_DMA, &d));
	d.dir = 1;
	EXPECT_EQ(0, xioctl(self->fd, RGUP_EXT_DMA, &d));
	xioctl(self->fd, RGUP_EXT_UNPIN, NULL);
	munmap(buf, len);
	munmap(other, len);
}

/*
 * A mirror of the opener's range: the snapshot sees only what the CPU
 * mapped; after the fault every page is mapped writable; the first page is
 * exclusive to the device until the opener touches it, which invalidates it.
 */
TEST_F(ext, mirror_snapshot_fault_and_exclusive)
{
	size_t len = 4 * self->page;
	unsigned char before[4], after[4];
	struct rgup_ext_mirror m = { 0 };
	struct rgup_ext_mirror_query q;
	char *buf = anon(len);
	int i;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(-ENOENT, xioctl(self->fd, RGUP_EXT_MIRROR_QUERY, &q));
	buf[0] = 1; /* only the first page is mapped */
	m.addr = (uintptr_t)buf;
	m.len = len;
	m.states = (uintptr_t)before;
	m.states_after = (uintptr_t)after;
	ASSERT_EQ(0, xioctl(self->fd, RGUP_EXT_MIRROR, &m));
	EXPECT_EQ(RGUP_EXT_PAGE_MAPPED_WRITE, before[0]);
	for (i = 1; i < 4; i++)
		EXPECT_EQ(RGUP_EXT_PAGE_NOT_PRESENT, before[i]);
	for (i = 0; i < 4; i++)
		EXPECT_EQ(RGUP_EXT_PAGE_MAPPED_WRITE, after[i]);
	EXPECT_EQ(4, m.mirrored_pages);
	EXPECT_EQ(1, m.exclusive);
	ASSERT_EQ(0, xioctl(self->fd, RGUP_EXT_MIRROR_QUERY, &q));
	EXPECT_EQ(1, q.first_exclusive);
	EXPECT_EQ(1, q.first_present);
	/* The CPU takes the page back: the device's translation goes. */
	buf[0] = 2;
	ASSERT_EQ(0, xioctl(self->fd, RGUP_EXT_MIRROR_QUERY, &q));
	EXPECT_LE(1, q.invalidations);
	EXPECT_EQ(0, q.first_present);
	/* Unaligned: EINVAL. */
	m.addr += 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, RGUP_EXT_MIRROR, &m));
	munmap(buf, len);
}

/* ---- pin_remote(): the owner of the memory and the caller differ -------- */

/*
 * The owner O opens the file and maps a buffer; its child C pins the buffer
 * through the inherited file (pin_remote() of O's mm, charged to O's
 * pinned_vm), then O goes away, by exit() or SIGKILL, while C holds the pin.
 * The test process (a subreaper: C becomes its child) checks rgup's
 * counters at each step: the charge stays on O's dead mm (the pin holds it
 * with mmgrab()) and the pages stay readable until C drops the pin, by
 * UNPIN or by closing the file; then the pins, the charge and the FOLL_PIN
 * count are back where they were, and a new PIN finds no mm (ESRCH).
 */
static void owner_exits_while_pinned(struct __test_metadata *_metadata, bool kill_owner,
				     bool close_file)
{
	long pins = rgup_stat("pins"), charged = rgup_stat("charged_pages");
	long foll = foll_pins_outstanding();
	size_t len = 4 * getpagesize();
	int to_t[2], to_c[2], to_o[2];
	pid_t o;

	ASSERT_LE(0, pins);
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1));
	ASSERT_EQ(0, pipe(to_t));
	ASSERT_EQ(0, pipe(to_c));
	ASSERT_EQ(0, pipe(to_o));
	o = fork();
	ASSERT_LE(0, o);
	if (!o) {
		int fd = open("/dev/rgup_external", O_RDWR | O_CLOEXEC);
		char *buf = anon(len), *got;
		struct rgup_ext_pin p;

		if (fd < 0 || !buf)
			_exit(10);
		memset(buf, 'O', len);
		if (fork()) {
			/* O: the charge is on its mm while it lives. */
			if (hear(to_o[0]) != 'e' || vm_pin_kb() != (long)len / 1024)
				_exit(11);
			if (kill_owner)
				pause();
			_exit(0);
		}
		/* C */
		got = malloc(len);
		if (!got || ext_pin(fd, buf, len, 1, &p) || p.pages != 4 || p.charged != 4)
			_exit(20);
		say(to_t[1], 'p');
		if (hear(to_c[0]) != 'g')	/* the owner is gone */
			_exit(21);
		if (ext_range(fd, RGUP_EXT_READ, 0, len, got))
			_exit(22);
		for (size_t i = 0; i < len; i++)
			if (got[i] != 'O')
				_exit(23);
		if (close_file)
			_exit(close(fd) ? 24 : 0);
		if (xioctl(fd, RGUP_EXT_UNPIN, NULL))
			_exit(25);
		_exit(ext_pin(fd, got, len, 0, &p) == -ESRCH ? 0 : 26);
	}
	close(to_t[1]);
	close(to_c[0]);
	close(to_o[0]);
	ASSERT_EQ('p', hear(to_t[0])) TH_LOG("the caller did not pin the owner's memory");
	EXPECT_EQ(pins + 1, rgup_stat("pins"));
	EXPECT_EQ(charged + 4, rgup_stat("charged_pages"));
	ASSERT_TRUE(say(to_o[1], 'e'));
	if (kill_owner) {
		usleep(100000);
		ASSERT_EQ(0, kill(o, SIGKILL));
		ASSERT_EQ(-1, exit_status(o));
	} else {
		ASSERT_EQ(0, exit_status(o));
	}
	/* The owner is gone; its pages are still pinned, and charged to its mm. */
	EXPECT_EQ(pins + 1, rgup_stat("pins"));
	EXPECT_EQ(charged + 4, rgup_stat("charged_pages"));
	ASSERT_TRUE(say(to_c[1], 'g'));
	/* C, ours now: its own checks passed. */
	ASSERT_EQ(0, exit_status(-1));
	EXPECT_EQ(pins, rgup_stat("pins"));
	EXPECT_EQ(charged, rgup_stat("charged_pages"));
	EXPECT_TRUE(foll_pins_back_to(foll));
	close(to_t[0]);
	close(to_c[1]);
	close(to_o[1]);
}

TEST(remote_owner_exits_while_pinned)
{
	owner_exits_while_pinned(_metadata, false, false);
}

TEST(remote_owner_killed_then_the_file_closed)
{
	owner_exits_while_pinned(_metadata, true, true);
}

/*
 * Whose RLIMIT_MEMLOCK: the caller's. pin_remote() charges the pages to the
 * pinned mm's pinned_vm, but checks the sum against the limit of the task
 * that calls it, and that task's CAP_IPC_LOCK (Documentation/rgup/pin.rst,
 * "Accounting"), as RDMA's umem does. An owner whose own limit is one page
 * has 8 pages pinned by a caller allowed 64; an owner without a limit has
 * 8 pages refused to a caller allowed 4, who may pin 4.
 */
TEST(remote_memlock_limit_is_the_callers)
{
	long pg = getpagesize();
	size_t len = 8 * pg;
	int to_o[2];
	pid_t o;

	ASSERT_EQ(0, pipe(to_o));
	o = fork();
	ASSERT_LE(0, o);
	if (!o) {
		struct rlimit own = { pg, pg }, callers = { 64 * pg, 64 * pg };
		int fd = open("/dev/rgup_external", O_RDWR | O_CLOEXEC);
		char *buf = anon(len);
		struct rgup_ext_pin p;

		if (fd < 0 || !buf || setrlimit(RLIMIT_MEMLOCK, &own))
			_exit(10);
		memset(buf, 1, len);
		if (fork()) {
			/* The owner, over its own limit: 8 pages charged to its mm. */
			if (hear(to_o[0]) != 'p' || vm_pin_kb() != (long)len / 1024)
				_exit(11);
			_exit(exit_status(-1));
		}
		/* The caller: no CAP_IPC_LOCK, a limit of 64 pages. */
		if (setrlimit(RLIMIT_MEMLOCK, &callers) || setgid(65534) || setuid(65534))
			_exit(20);
		if (ext_pin(fd, buf, len, 1, &p) || p.charged != 8)
			_exit(21);
		say(to_o[1], 'p');
		_exit(0);
	}
	close(to_o[0]);
	close(to_o[1]);
	/* 11: the owner's pinned_vm is not 8 pages; 21: the pin was refused. */
	ASSERT_EQ(0, exit_status(o));
}

TEST_F(ext, remote_memlock_limit_refuses_the_caller_beyond_its_own)
{
	size_t len = 8 * self->page;
	long vmpin = vm_pin_kb();
	char *buf = anon(len);
	pid_t pid;

	ASSERT_NE(NULL, buf);
	memset(buf, 1, len);
	/* The opener (us, root) pins anything; the caller may pin 4 pages. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct rlimit lim = { 4 * self->page, 4 * self->page };
		struct rgup_ext_pin p;

		if (setrlimit(RLIMIT_MEMLOCK, &lim) || setgid(65534) || setuid(65534))
			_exit(10);
		if (ext_pin(self->fd, buf, len, 1, &p) != -ENOMEM)
			_exit(11);
		if (ext_pin(self->fd, buf, len / 2, 1, &p) || p.charged != 4)
			_exit(12);
		_exit(0);
	}
	ASSERT_EQ(0, exit_status(pid));
	/* The 4 pages are charged to the opener, and stay when the caller exits. */
	EXPECT_EQ(vmpin + 4 * self->page / 1024, vm_pin_kb());
	ASSERT_EQ(0, xioctl(self->fd, RGUP_EXT_UNPIN, NULL));
	EXPECT_EQ(vmpin, vm_pin_kb());
	munmap(buf, len);
}

TEST_HARNESS_MAIN

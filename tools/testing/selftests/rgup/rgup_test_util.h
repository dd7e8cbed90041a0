/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What several rgup kselftests need: the ioctl wrappers of /dev/rgup, the
 * errno tables the uAPI documents, and the counters the tests balance
 * (FOLL_PIN pins system-wide, this process's VmPin, rgup's own debugfs stats).
 */
#ifndef RGUP_TEST_UTIL_H
#define RGUP_TEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kernel-page-flags.h>
#include <linux/rgup.h>
#include <rgup_samples_uapi.h>

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

#define RGUP_STATS_PATH "/sys/kernel/debug/rgup/stats"

/* include/uapi/linux/rgup.h and its per-command tables */
static const int rgup_documented_errnos[] = {
	ENOTTY, EFAULT, EINVAL, E2BIG, ENOENT, ENOMEM, EPERM, ENOSPC, ESRCH, EBUSY, EINTR,
	EOPNOTSUPP, EREMOTEIO, EAGAIN, 0
};

/* tools/testing/rgup_test/gup_test_compat.rs: mm/gup_test.c's semantics */
static const int gup_test_documented_errnos[] = {
	EINVAL, EFAULT, ENOMEM, EREMOTEIO, EOPNOTSUPP, ENOTTY, EINTR, EAGAIN, 0
};

/* tools/testing/rgup_test/dmirror_compat.rs and Documentation/rgup/mirror.rst */
static const int dmirror_documented_errnos[] = {
	EINVAL, EFAULT, EPERM, EBUSY, EINTR, ENOMEM, EOPNOTSUPP, 0
};

/*
 * samples/rust/rgup_sample_p2p.rs: rgup's, ETIMEDOUT (the engine), and ENODEV (no edu, or no
 * P2P provider for STAGE, which is also what pci_p2pmem_find() reports when
 * it cannot allocate).
 */
static const int sample_p2p_documented_errnos[] = {
	ENOTTY, EFAULT, EINVAL, E2BIG, ENOENT, ENOMEM, EPERM, ENOSPC, ESRCH, EBUSY, EINTR,
	EOPNOTSUPP, EREMOTEIO, EAGAIN, ENODEV, ETIMEDOUT, 0
};

/* Is @e in the 0-terminated table @table? */
static inline bool rgup_errno_documented(const int *table, int e)
{
	for (; *table; table++)
		if (*table == e)
			return true;
	return false;
}

/* ioctl() returning 0 or -errno. */
static inline int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

static inline int do_pin(int fd, void *addr, size_t len, __u32 flags, struct rgup_pin *out)
{
	struct rgup_pin p = {
		.size = sizeof(p), .flags = flags,
		.addr = (uintptr_t)addr, .len = len,
	};
	int ret = xioctl(fd, RGUP_IOC_PIN, &p);

	if (out)
		*out = p;
	return ret;
}

static inline int do_unpin(int fd, __u32 handle)
{
	struct rgup_unpin u = { .size = sizeof(u), .handle = handle };

	return xioctl(fd, RGUP_IOC_UNPIN, &u);
}

static inline int do_rw(int fd, __u32 handle, __u32 flags, size_t off, size_t len, void *buf)
{
	struct rgup_rw rw = {
		.size = sizeof(rw), .flags = flags, .handle = handle,
		.offset = off, .len = len, .buf = (uintptr_t)buf,
	};

	return xioctl(fd, RGUP_IOC_RW, &rw);
}

static inline int mirror_create(int fd, void *addr, size_t len, __u32 *handle)
{
	struct rgup_mirror_create c = {
		.size = sizeof(c), .addr = (uintptr_t)addr, .len = len,
	};
	int ret = xioctl(fd, RGUP_IOC_MIRROR_CREATE, &c);

	*handle = c.handle;
	return ret;
}

static inline int mirror_destroy(int fd, __u32 handle)
{
	struct rgup_mirror_destroy d = { .size = sizeof(d), .handle = handle };

	return xioctl(fd, RGUP_IOC_MIRROR_DESTROY, &d);
}

static inline int mirror_rw(int fd, __u32 handle, __u32 flags, void *addr, size_t len,
			    void *buf, __u64 *faults)
{
	struct rgup_mirror_rw c = {
		.size = sizeof(c), .flags = flags, .handle = handle,
		.addr = (uintptr_t)addr, .len = len, .buf = (uintptr_t)buf,
	};
	int ret = xioctl(fd, RGUP_IOC_MIRROR_RW, &c);

	if (faults)
		*faults = c.faults;
	return ret;
}

/* One counter of rgup's debugfs stats ("name: value" lines), or -1. */
static inline long rgup_stat(const char *name)
{
	FILE *f = fopen(RGUP_STATS_PATH, "r");
	char line[128];
	size_t n = strlen(name);
	long v = -1;

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, name, n) && line[n] == ':')
			v = atol(line + n + 1);
	if (f)
		fclose(f);
	return v;
}

/*
 * rgup holds nothing, system-wide: no pin, pinned or charged page, mirror,
 * mirrored page or P2P list. On false, @what names the first counter that is
 * not zero.
 */
static inline bool rgup_holds_nothing(const char **what)
{
	static const char *const held[] = {
		"pins", "pinned_pages", "charged_pages", "mirrors", "mirrored_pages",
		"p2p_lists", "p2p_segments",
	};

	for (size_t i = 0; i < ARRAY_SIZE(held); i++) {
		if (rgup_stat(held[i]) != 0) {
			*what = held[i];
			return false;
		}
	}
	return true;
}

/* VmPin of this process, in kB. */
static inline long vm_pin_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPin: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/*
 * FOLL_PIN pins held system-wide: nr_foll_pin_acquired - nr_foll_pin_released.
 * The counters are per-CPU and folded lazily: writing vm/stat_refresh folds
 * them first, so that the difference is exact.
 */
static inline long foll_pins_outstanding(void)
{
	int rfd = open("/proc/sys/vm/stat_refresh", O_WRONLY);
	long v, acquired = 0, released = 0;
	char key[64];
	FILE *f;

	if (rfd >= 0) {
		if (write(rfd, "1", 1) != 1)
			perror("vm/stat_refresh");
		close(rfd);
	}
	f = fopen("/proc/vmstat", "r");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &v) == 2) {
		if (!strcmp(key, "nr_foll_pin_acquired"))
			acquired = v;
		else if (!strcmp(key, "nr_foll_pin_released"))
			released = v;
	}
	fclose(f);
	return acquired - released;
}

/*
 * After a test: back to the pins held before it. Other processes' I/O (9p
 * reads of the host root filesystem, under TCG) may hold a pin for a moment,
 * so allow the count five seconds to settle.
 */
static inline bool foll_pins_back_to(long before)
{
	for (int i = 0; i < 500; i++) {
		if (foll_pins_outstanding() <= before)
			return true;
		usleep(10000);
	}
	fprintf(stderr, "# FOLL_PIN pins: %ld before the test, %ld after it\n",
		before, foll_pins_outstanding());
	return false;
}

/*
 * What the kernel says about the page behind a user address: its
 * /proc/self/pagemap entry (Documentation/admin-guide/mm/pagemap.rst) and,
 * through its PFN (root only), its /proc/kpageflags (KPF_*).
 */
#ifndef BIT_ULL
#define BIT_ULL(nr)	(1ULL << (nr))
#endif
#define PM_PFN_MASK	(BIT_ULL(55) - 1)
#define PM_SWAP		BIT_ULL(62)
#define PM_PRESENT	BIT_ULL(63)

/* The pagemap entry of @addr, or 0. */
static inline uint64_t pagemap_entry(const void *addr)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint64_t e = 0;

	if (fd < 0)
		return 0;
	if (pread(fd, &e, sizeof(e), (uintptr_t)addr / getpagesize() * sizeof(e)) != sizeof(e))
		e = 0;
	close(fd);
	return e;
}

/* The PFN mapped at @addr, or 0 (not present, or no CAP_SYS_ADMIN). */
static inline uint64_t page_pfn(const void *addr)
{
	uint64_t e = pagemap_entry(addr);

	return e & PM_PRESENT ? e & PM_PFN_MASK : 0;
}

/* Is @addr swapped out (a swap entry in its PTE)? */
static inline bool page_swapped(const void *addr)
{
	return pagemap_entry(addr) & PM_SWAP;
}

/*
 * MADV_PAGEOUT of [@mem, @mem + @len) until @done(@mem, @len) says it worked,
 * for about a second (writeback), from every CPU the caller may run on in
 * turn; false if it never worked or madvise() failed.
 *
 * Why every CPU: MADV_PAGEOUT drains only the calling CPU's LRU batches
 * (lru_add_drain() in madvise_pageout()), and a page held in another CPU's
 * batch (a fault or a copy-on-write there, or the rotation that ends its
 * writeback, run wherever the I/O completed) is off the LRU, so reclaim
 * cannot isolate it. Nothing drains an idle CPU's batch: a single-CPU retry
 * loop failed this way on the debug kernel. Running the madvise on each CPU
 * drains each CPU's batch first.
 */
static inline bool pageout_until(void *mem, size_t len, bool (*done)(void *mem, size_t len))
{
	cpu_set_t allowed, one;
	bool ok = false;

	if (sched_getaffinity(0, sizeof(allowed), &allowed))
		return false;
	for (int try = 0; try < 50 && !ok; try++) {
		for (int cpu = 0; cpu < CPU_SETSIZE && !ok; cpu++) {
			if (!CPU_ISSET(cpu, &allowed))
				continue;
			CPU_ZERO(&one);
			CPU_SET(cpu, &one);
			/* Returns on @cpu (the kernel migrates the caller). */
			if (sched_setaffinity(0, sizeof(one), &one))
				continue;
			if (madvise(mem, len, MADV_PAGEOUT))
				goto out;
			ok = done(mem, len);
		}
		if (!ok)
			usleep(20000);
	}
out:
	sched_setaffinity(0, sizeof(allowed), &allowed);
	return ok;
}

/* For pageout_until(): is every page of [@mem, @mem + @len) a swap entry? */
static inline bool all_swapped(void *mem, size_t len)
{
	size_t page = getpagesize();

	for (size_t i = 0; i < len; i += page)
		if (!page_swapped((char *)mem + i))
			return false;
	return true;
}

/* Swap [@mem, @mem + @len) out: pageout_until() every page is a swap entry. */
static inline bool swap_out(void *mem, size_t len)
{
	return pageout_until(mem, len, all_swapped);
}

/* The KPF_* flags of the page mapped at @addr, or 0 with errno set. */
static inline uint64_t page_flags(const void *addr)
{
	uint64_t pfn = page_pfn(addr), flags = 0;
	int fd;

	errno = ENOENT;
	if (!pfn)
		return 0;
	fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (pread(fd, &flags, sizeof(flags), pfn * sizeof(flags)) != sizeof(flags))
		flags = 0;
	close(fd);
	return flags;
}

static inline bool page_flag(const void *addr, int kpf)
{
	return page_flags(addr) >> kpf & 1;
}

/* Is there an active swap area (/proc/swaps has more than its header)? */
static inline bool swap_enabled(void)
{
	FILE *f = fopen("/proc/swaps", "r");
	char line[256];
	int lines = 0;

	while (f && fgets(line, sizeof(line), f))
		lines++;
	if (f)
		fclose(f);
	return lines > 1;
}

#endif /* RGUP_TEST_UTIL_H */

// SPDX-License-Identifier: GPL-2.0
/*
 * Fault-injection sweep over every rgup ioctl path that allocates, pins, maps
 * or copies: /dev/rgup's pin, unpin, check, read/write, stats and mirror
 * commands, opening a file, the gup_test and hmm_dmirror compat nodes, and
 * the sample drivers' DMA copies (rgup::dma and rgup::p2p), when loaded.
 *
 * For each path and N = 1, 2, ...: prepare the call without injection, make
 * the N-th fault-injection point of this task fail (/proc/thread-self/fail-nth,
 * Documentation/fault-injection/fault-injection.rst), make the call, and undo
 * what it and the preparation made. failslab, fail_page_alloc and
 * fail_usercopy are all enabled for every allocation and copy (their
 * "ignore" filters off); the kernel log line of each injected failure names
 * which one it was (a __GFP_NOWARN allocation fails silently). The sweep of
 * a path ends at the first N the call does not reach: it then ran to
 * completion with every earlier point failed once.
 *
 * After every iteration: the call returned 0 or an errno of the node's
 * documented table, and once undone, nothing is left: FOLL_PIN pins
 * (/proc/vmstat) and this process's VmPin are back where they were, and
 * rgup's own stats show no pin, mirror or P2P list. The runner fails the run
 * on any kernel splat.
 *
 *   rgup_fault_inject [-x PATTERN]... [PATTERN...]
 *
 * sweeps the paths whose name contains one of the PATTERNs (every path
 * without one) and none of the -x PATTERNs; a selected path whose node is
 * missing fails. Needs root and a kernel with CONFIG_FAULT_INJECTION_DEBUG_FS,
 * FAILSLAB, FAIL_PAGE_ALLOC and FAULT_INJECTION_USERCOPY (the test and debug
 * kernels have them): without them it fails ("Bail out!"), a sweep that
 * cannot run is no result. TAP: one result per selected path, then the
 * totals as a comment ("# injection points: ...").
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/memfd.h>
#include <linux/rgup.h>
#include <lib/test_hmm_uapi.h>
#include <mm/gup_test.h>

#include "rgup_test_util.h"

#define NPAGES 16
#define MAX_N 100000	/* no path has that many points: a runaway sweep */

static long pg;

/* ---------------------------------------------------------------------- */
/* Fault injection: debugfs knobs and this thread's fail-nth               */

#define FI_DIR "/sys/kernel/debug"

/* The knobs the sweep sets, and what they were, to put back at the end. */
static struct knob {
	const char *path, *value;
	char saved[32];
} knobs[] = {
	{ .path = FI_DIR "/failslab/ignore-gfp-wait", .value = "N" },
	{ .path = FI_DIR "/failslab/cache-filter", .value = "N" },
	{ .path = FI_DIR "/failslab/verbose", .value = "1" },
	{ .path = FI_DIR "/fail_page_alloc/ignore-gfp-wait", .value = "N" },
	{ .path = FI_DIR "/fail_page_alloc/ignore-gfp-highmem", .value = "N" },
	{ .path = FI_DIR "/fail_page_alloc/min-order", .value = "0" },
	{ .path = FI_DIR "/fail_page_alloc/verbose", .value = "1" },
	{ .path = FI_DIR "/fail_usercopy/verbose", .value = "1" },
};

enum fi_kind { FI_SLAB, FI_PAGE_ALLOC, FI_USERCOPY, FI_UNKNOWN, FI_KINDS };

static const char *const fi_names[FI_KINDS] = {
	"failslab", "fail_page_alloc", "fail_usercopy", "silent",
};

static int fail_nth_fd = -1, kmsg_fd = -1;

static int write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, value, strlen(value));
	close(fd);
	return n == (ssize_t)strlen(value) ? 0 : -EIO;
}

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
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

static void fi_restore(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(knobs); i++)
		if (knobs[i].saved[0])
			write_file(knobs[i].path, knobs[i].saved);
}

/* Set the knobs; a message on why not, or NULL. */
static const char *fi_setup(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(knobs); i++) {
		if (read_file(knobs[i].path, knobs[i].saved, sizeof(knobs[i].saved)))
			return "no failslab, fail_page_alloc or fail_usercopy in debugfs";
	}
	for (size_t i = 0; i < ARRAY_SIZE(knobs); i++)
		if (write_file(knobs[i].path, knobs[i].value))
			return "cannot set the fault-injection knobs (not root?)";
	fail_nth_fd = open("/proc/thread-self/fail-nth", O_RDWR);
	if (fail_nth_fd < 0)
		return "no /proc/thread-self/fail-nth";
	kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg_fd < 0)
		return "cannot read /dev/kmsg";
	return NULL;
}

/* Make the n-th fault-injection point this thread passes fail. */
static void fi_arm(unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	/* Nothing read yet is of interest: start at the log's end. */
	lseek(kmsg_fd, 0, SEEK_END);
	if (write(fail_nth_fd, buf, len) != len)
		abort();
}

/*
 * Disarm; true if the failure was injected. Reading fail-nth copies to user
 * space, itself an injection point: with 1 left, that read fails (EFAULT)
 * and uses it up, so the call did not reach it either.
 */
static bool fi_disarm(void)
{
	char buf[16] = "";
	ssize_t n = pread(fail_nth_fd, buf, sizeof(buf) - 1, 0);
	bool injected = n > 0 && atoi(buf) == 0;

	/* Writing 0 copies from user space too: repeat until it is 0. */
	for (int i = 0; i < 4; i++) {
		if (write(fail_nth_fd, "0", 1) == 1)
			break;
	}
	return injected;
}

/*
 * Which fault was injected, from the kernel's "FAULT_INJECTION" log line.
 * Allocations with __GFP_NOWARN (kvmalloc()'s first try, GFP_ATOMIC xarray
 * stores, ...) fail silently: FI_UNKNOWN.
 */
static enum fi_kind fi_kind_injected(void)
{
	char rec[2048];
	ssize_t n;
	enum fi_kind kind = FI_UNKNOWN;

	while ((n = read(kmsg_fd, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		if (n <= 0)
			continue;
		rec[n] = 0;
		for (int k = 0; k < FI_UNKNOWN; k++) {
			char name[64];

			snprintf(name, sizeof(name), "name %s,", fi_names[k]);
			if (strstr(rec, name))
				kind = k;
		}
	}
	return kind;
}

/* ---------------------------------------------------------------------- */
/* The paths                                                               */

/* What one sweep iteration prepares, and what the call leaves to undo. */
struct ctx {
	int fd;
	unsigned char *mem, *buf;
	size_t len;
	__u32 handle;
};

struct path {
	const char *name;
	const char *node;		/* the device the path needs */
	const int *errnos;		/* the node's documented table */
	int (*prepare)(struct ctx *c);	/* not injected: 0 or -errno */
	int (*call)(struct ctx *c);	/* injected: 0 or -errno */
	void (*undo)(struct ctx *c, int ret);
	/* results */
	int points, kinds[FI_KINDS];
	bool bad;
};

static unsigned char *map_fresh(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* A fresh file on /dev/rgup and NPAGES of memory never touched: the call faults them in. */
static int prep_fresh(struct ctx *c)
{
	c->len = NPAGES * pg;
	c->fd = open("/dev/rgup", O_RDWR | O_CLOEXEC);
	c->mem = map_fresh(c->len);
	c->buf = map_fresh(c->len);
	return c->fd >= 0 && c->mem && c->buf ? 0 : -errno;
}

/* Memory written by the CPU first: the call finds the pages there. */
static int prep_populated(struct ctx *c)
{
	int ret = prep_fresh(c);

	if (!ret)
		memset(c->mem, 0x5a, c->len);
	return ret;
}

static int prep_pinned(struct ctx *c)
{
	struct rgup_pin p = { 0 };
	int ret = prep_populated(c);

	if (!ret)
		ret = do_pin(c->fd, c->mem, c->len, RGUP_PIN_WRITE, &p);
	c->handle = p.handle;
	return ret;
}

/* A shmem page cache: the pin allocates shmem folios. */
static int prep_memfd(struct ctx *c)
{
	int mfd = memfd_create("rgup-fi", MFD_CLOEXEC);

	c->len = NPAGES * pg;
	c->fd = open("/dev/rgup", O_RDWR | O_CLOEXEC);
	c->buf = NULL;
	if (mfd < 0 || ftruncate(mfd, c->len))
		return -errno;
	c->mem = mmap(NULL, c->len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	close(mfd);
	if (c->mem == MAP_FAILED)
		c->mem = NULL;
	return c->fd >= 0 && c->mem ? 0 : -errno;
}

static int prep_mirror(struct ctx *c)
{
	int ret = prep_fresh(c);

	if (!ret)
		ret = mirror_create(c->fd, c->mem, c->len, &c->handle);
	return ret;
}

static int prep_mirror_populated(struct ctx *c)
{
	int ret = prep_mirror(c);

	if (!ret)
		memset(c->mem, 0xa5, c->len);
	return ret;
}

static int prep_node(struct ctx *c, const char *node)
{
	c->len = NPAGES * pg;
	c->fd = open(node, O_RDWR | O_CLOEXEC);
	c->mem = map_fresh(c->len);
	c->buf = map_fresh(c->len);
	return c->fd >= 0 && c->mem && c->buf ? 0 : -errno;
}

static int prep_dmirror(struct ctx *c)
{
	return prep_node(c, "/dev/rgup_dmirror0");
}

static int prep_gup_test(struct ctx *c)
{
	return prep_node(c, "/dev/rgup_gup_test");
}

static int prep_sample_dma(struct ctx *c)
{
	int ret = prep_node(c, "/dev/rgup_sample_dma");

	if (!ret)
		memset(c->mem, 0x3c, c->len);
	return ret;
}

static int prep_sample_p2p(struct ctx *c)
{
	int ret = prep_node(c, "/dev/rgup_sample_p2p");

	c->len = RGUP_SAMPLE_P2P_MAX_LEN;
	if (!ret)
		memset(c->mem, 0xc3, c->len);
	return ret;
}

static int prep_nothing(struct ctx *c)
{
	return 0;
}

static int call_pin(struct ctx *c)
{
	struct rgup_pin p;
	int ret = do_pin(c->fd, c->mem, c->len, RGUP_PIN_WRITE, &p);

	c->handle = p.handle;
	return ret;
}

static int call_pin_fast(struct ctx *c)
{
	struct rgup_pin p;
	int ret = do_pin(c->fd, c->mem, c->len, RGUP_PIN_WRITE | RGUP_PIN_FAST, &p);

	c->handle = p.handle;
	return ret;
}

static int call_unpin(struct ctx *c)
{
	int ret = do_unpin(c->fd, c->handle);

	if (!ret)
		c->handle = 0;
	return ret;
}

static int call_check(struct ctx *c)
{
	struct rgup_check k = {
		.size = sizeof(k), .flags = RGUP_PIN_WRITE,
		.addr = (uintptr_t)c->mem, .len = c->len,
	};

	return xioctl(c->fd, RGUP_IOC_CHECK, &k);
}

static int call_rw_read(struct ctx *c)
{
	return do_rw(c->fd, c->handle, 0, 0, c->len, c->buf);
}

static int call_rw_write(struct ctx *c)
{
	return do_rw(c->fd, c->handle, RGUP_RW_WRITE, 1, c->len - 1, c->buf);
}

static int call_stats(struct ctx *c)
{
	struct rgup_stats s = { .size = sizeof(s) };

	return xioctl(c->fd, RGUP_IOC_STATS, &s);
}

static int call_open(struct ctx *c)
{
	c->fd = open("/dev/rgup", O_RDWR | O_CLOEXEC);
	return c->fd < 0 ? -errno : 0;
}

static int call_mirror_create(struct ctx *c)
{
	return mirror_create(c->fd, c->mem, c->len, &c->handle);
}

static int call_mirror_destroy(struct ctx *c)
{
	int ret = mirror_destroy(c->fd, c->handle);

	if (!ret)
		c->handle = 0;
	return ret;
}

static int call_mirror_read(struct ctx *c)
{
	return mirror_rw(c->fd, c->handle, 0, c->mem, c->len, c->buf, NULL);
}

static int call_mirror_write(struct ctx *c)
{
	return mirror_rw(c->fd, c->handle, RGUP_MIRROR_RW_WRITE, c->mem + 1, c->len - 1,
			 c->buf, NULL);
}

static int call_mirror_snapshot(struct ctx *c)
{
	struct rgup_mirror_snapshot s = {
		.size = sizeof(s), .handle = c->handle,
		.addr = (uintptr_t)c->mem, .npages = NPAGES, .states = (uintptr_t)c->buf,
	};

	return xioctl(c->fd, RGUP_IOC_MIRROR_SNAPSHOT, &s);
}

static int call_dmirror_open(struct ctx *c)
{
	c->fd = open("/dev/rgup_dmirror0", O_RDWR | O_CLOEXEC);
	return c->fd < 0 ? -errno : 0;
}

static int dmirror(struct ctx *c, unsigned long cmd)
{
	struct hmm_dmirror_cmd d = {
		.addr = (uintptr_t)c->mem, .ptr = (uintptr_t)c->buf, .npages = NPAGES,
	};

	return xioctl(c->fd, cmd, &d);
}

static int call_dmirror_read(struct ctx *c)
{
	return dmirror(c, HMM_DMIRROR_READ);
}

static int call_dmirror_write(struct ctx *c)
{
	return dmirror(c, HMM_DMIRROR_WRITE);
}

static int call_dmirror_snapshot(struct ctx *c)
{
	return dmirror(c, HMM_DMIRROR_SNAPSHOT);
}

static int call_dmirror_exclusive(struct ctx *c)
{
	return dmirror(c, HMM_DMIRROR_EXCLUSIVE);
}

static int call_gup_test_start(struct ctx *c)
{
	struct pin_longterm_test t = {
		.addr = (uintptr_t)c->mem, .size = c->len,
		.flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE,
	};

	return xioctl(c->fd, PIN_LONGTERM_TEST_START, &t);
}

static int call_sample_dma_copy(struct ctx *c)
{
	struct rgup_sample_dma_copy d = {
		.src = (uintptr_t)c->mem + 3, .dst = (uintptr_t)c->buf + 5, .len = c->len - 8,
	};

	return xioctl(c->fd, RGUP_SAMPLE_DMA_COPY, &d);
}

static int call_sample_p2p_copy(struct ctx *c)
{
	struct rgup_sample_p2p_copy d = {
		.src = (uintptr_t)c->mem, .dst = (uintptr_t)c->buf, .len = c->len,
	};

	return xioctl(c->fd, RGUP_SAMPLE_P2P_COPY, &d);
}

static int call_sample_p2p_stage(struct ctx *c)
{
	struct rgup_sample_p2p_copy d = {
		.src = (uintptr_t)c->mem, .dst = (uintptr_t)c->buf, .len = c->len / 2,
	};

	return xioctl(c->fd, RGUP_SAMPLE_P2P_STAGE, &d);
}

/* Release everything: closing the file drops its pins and mirrors. */
static void undo_all(struct ctx *c, int ret)
{
	if (c->fd >= 0)
		close(c->fd);
	if (c->mem)
		munmap(c->mem, c->len);
	if (c->buf)
		munmap(c->buf, NPAGES * pg);
}

/* Unpin and destroy explicitly first: the ioctls must work after a failure. */
static void undo_explicit(struct ctx *c, int ret)
{
	if (c->handle && c->fd >= 0) {
		if (do_unpin(c->fd, c->handle) && mirror_destroy(c->fd, c->handle))
			printf("# handle %u: neither unpin nor destroy worked\n", c->handle);
	}
	undo_all(c, ret);
}

static void undo_gup_test(struct ctx *c, int ret)
{
	if (!ret)
		ioctl(c->fd, PIN_LONGTERM_TEST_STOP);
	undo_all(c, ret);
}

#define PATH(name_, node_, errnos_, prepare_, call_, undo_)			\
	{ .name = name_, .node = node_, .errnos = errnos_,			\
	  .prepare = prepare_, .call = call_, .undo = undo_ }

static struct path paths[] = {
	PATH("open /dev/rgup", "/dev/rgup", rgup_documented_errnos,
	     prep_nothing, call_open, undo_all),
	PATH("pin, fresh anonymous memory", "/dev/rgup", rgup_documented_errnos,
	     prep_fresh, call_pin, undo_explicit),
	PATH("pin, populated anonymous memory", "/dev/rgup", rgup_documented_errnos,
	     prep_populated, call_pin, undo_explicit),
	PATH("pin with RGUP_PIN_FAST, fresh memory", "/dev/rgup", rgup_documented_errnos,
	     prep_fresh, call_pin_fast, undo_explicit),
	PATH("pin, shmem (memfd) pages", "/dev/rgup", rgup_documented_errnos,
	     prep_memfd, call_pin, undo_explicit),
	PATH("unpin", "/dev/rgup", rgup_documented_errnos,
	     prep_pinned, call_unpin, undo_explicit),
	PATH("check", "/dev/rgup", rgup_documented_errnos,
	     prep_fresh, call_check, undo_explicit),
	PATH("rw: device read into a fresh buffer", "/dev/rgup", rgup_documented_errnos,
	     prep_pinned, call_rw_read, undo_explicit),
	PATH("rw: device write from a fresh buffer", "/dev/rgup", rgup_documented_errnos,
	     prep_pinned, call_rw_write, undo_explicit),
	PATH("stats", "/dev/rgup", rgup_documented_errnos,
	     prep_pinned, call_stats, undo_explicit),
	PATH("mirror create", "/dev/rgup", rgup_documented_errnos,
	     prep_fresh, call_mirror_create, undo_explicit),
	PATH("mirror destroy", "/dev/rgup", rgup_documented_errnos,
	     prep_mirror_populated, call_mirror_destroy, undo_explicit),
	PATH("mirror read, faulting fresh memory in", "/dev/rgup", rgup_documented_errnos,
	     prep_mirror, call_mirror_read, undo_explicit),
	PATH("mirror write, faulting fresh memory in", "/dev/rgup", rgup_documented_errnos,
	     prep_mirror, call_mirror_write, undo_explicit),
	PATH("mirror read, populated memory", "/dev/rgup", rgup_documented_errnos,
	     prep_mirror_populated, call_mirror_read, undo_explicit),
	PATH("mirror snapshot", "/dev/rgup", rgup_documented_errnos,
	     prep_mirror_populated, call_mirror_snapshot, undo_explicit),
	PATH("open /dev/rgup_dmirror0 (a whole-mm mirror)", "/dev/rgup_dmirror0",
	     dmirror_documented_errnos, prep_nothing, call_dmirror_open, undo_all),
	PATH("HMM_DMIRROR_READ", "/dev/rgup_dmirror0", dmirror_documented_errnos,
	     prep_dmirror, call_dmirror_read, undo_all),
	PATH("HMM_DMIRROR_WRITE", "/dev/rgup_dmirror0", dmirror_documented_errnos,
	     prep_dmirror, call_dmirror_write, undo_all),
	PATH("HMM_DMIRROR_SNAPSHOT", "/dev/rgup_dmirror0", dmirror_documented_errnos,
	     prep_dmirror, call_dmirror_snapshot, undo_all),
	PATH("HMM_DMIRROR_EXCLUSIVE", "/dev/rgup_dmirror0", dmirror_documented_errnos,
	     prep_dmirror, call_dmirror_exclusive, undo_all),
	PATH("PIN_LONGTERM_TEST_START (gup_test compat)", "/dev/rgup_gup_test",
	     gup_test_documented_errnos, prep_gup_test, call_gup_test_start, undo_gup_test),
	PATH("rgup_sample_dma copy (rgup::pin + rgup::dma)", "/dev/rgup_sample_dma",
	     rgup_documented_errnos, prep_sample_dma, call_sample_dma_copy, undo_all),
	PATH("rgup_sample_p2p copy (DmaOnlySgt::from_user)", "/dev/rgup_sample_p2p",
	     sample_p2p_documented_errnos, prep_sample_p2p, call_sample_p2p_copy, undo_all),
	PATH("rgup_sample_p2p stage (DmaOnlySgt::from_p2pmem)", "/dev/rgup_sample_p2p",
	     sample_p2p_documented_errnos, prep_sample_p2p, call_sample_p2p_stage, undo_all),
};

/* ---------------------------------------------------------------------- */

/* Nothing of the iteration is left; else why not, printed. */
static bool balanced(const struct path *p, unsigned int n, long pins_before, long vmpin_before)
{
	const char *what;

	if (!foll_pins_back_to(pins_before)) {
		printf("# %s, N=%u: FOLL_PIN pins not released\n", p->name, n);
		return false;
	}
	if (vm_pin_kb() != vmpin_before) {
		printf("# %s, N=%u: VmPin %ld kB, was %ld kB\n", p->name, n, vm_pin_kb(),
		       vmpin_before);
		return false;
	}
	if (!rgup_holds_nothing(&what)) {
		printf("# %s, N=%u: rgup stats: %s is %ld\n", p->name, n, what, rgup_stat(what));
		return false;
	}
	return true;
}

/* Sweep one path; false if any iteration broke a rule. */
static bool sweep(struct path *p)
{
	long pins_before = foll_pins_outstanding(), vmpin_before = vm_pin_kb();

	for (unsigned int n = 1; n <= MAX_N; n++) {
		struct ctx c = { .fd = -1 };
		bool injected;
		int ret;

		ret = p->prepare(&c);
		if (ret) {
			printf("# %s, N=%u: preparing failed: %s\n", p->name, n, strerror(-ret));
			undo_all(&c, ret);
			return false;
		}
		fi_arm(n);
		ret = p->call(&c);
		injected = fi_disarm();
		if (injected) {
			p->points++;
			p->kinds[fi_kind_injected()]++;
		}
		p->undo(&c, ret);
		if (ret && !rgup_errno_documented(p->errnos, -ret)) {
			printf("# %s, N=%u: undocumented errno %d (%s)\n", p->name, n, -ret,
			       strerror(-ret));
			return false;
		}
		if (!balanced(p, n, pins_before, vmpin_before))
			return false;
		if (!injected) {
			/* Every point passed: the call must have worked. */
			if (ret)
				printf("# %s: fails without injection: %s\n", p->name,
				       strerror(-ret));
			return !ret;
		}
	}
	printf("# %s: more than %d injection points\n", p->name, MAX_N);
	return false;
}

/* Is @p selected by the command line (see the top of the file)? */
static bool selected(const struct path *p, int argc, char **argv)
{
	bool include = false, any_include = false;

	for (int a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "-x") && a + 1 < argc) {
			if (strstr(p->name, argv[++a]))
				return false;
			continue;
		}
		any_include = true;
		include |= !!strstr(p->name, argv[a]);
	}
	return include || !any_include;
}

int main(int argc, char **argv)
{
	int total = 0, kinds[FI_KINDS] = { 0 }, failed = 0, swept = 0;
	size_t i, n = 0, planned = 0;
	const char *why;

	pg = getpagesize();
	for (i = 0; i < ARRAY_SIZE(paths); i++)
		planned += selected(&paths[i], argc, argv);
	printf("TAP version 13\n1..%zu\n", planned);
	why = fi_setup();
	if (why) {
		fi_restore();
		printf("# injection points: 0 (%s)\n", why);
		printf("Bail out! %s\n", why);
		return 1;
	}
	for (i = 0; i < ARRAY_SIZE(paths); i++) {
		struct path *p = &paths[i];

		if (!selected(p, argc, argv))
			continue;
		n++;
		if (access(p->node, F_OK)) {
			printf("not ok %zu %s: %s missing\n", n, p->name, p->node);
			failed++;
			continue;
		}
		p->bad = !sweep(p);
		swept++;
		failed += p->bad;
		total += p->points;
		for (int k = 0; k < FI_KINDS; k++)
			kinds[k] += p->kinds[k];
		printf("%sok %zu %s: %d points (slab %d, page %d, usercopy %d)\n",
		       p->bad ? "not " : "", n, p->name, p->points,
		       p->kinds[FI_SLAB], p->kinds[FI_PAGE_ALLOC], p->kinds[FI_USERCOPY]);
		fflush(stdout);
	}
	fi_restore();
	printf("# injection points: %d over %d paths\n", total, swept);
	printf("# failslab %d, fail_page_alloc %d, fail_usercopy %d, silent %d; %d paths failed\n",
	       kinds[FI_SLAB], kinds[FI_PAGE_ALLOC], kinds[FI_USERCOPY], kinds[FI_UNKNOWN],
	       failed);
	return failed ? 1 : 0;
}

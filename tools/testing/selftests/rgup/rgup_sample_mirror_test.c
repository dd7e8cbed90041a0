// SPDX-License-Identifier: GPL-2.0
/*
 * samples/rust/rgup_sample_mirror.rs: a driver in its own module whose
 * device page table is kept coherent by rgup::mirror. Needs rgup.ko and
 * rgup_sample_mirror.ko loaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "rgup_test_util.h"

#define NPAGES 8

FIXTURE(sample)
{
	int fd;
	size_t page, size;
	unsigned char *buf, *dev;
};

FIXTURE_SETUP(sample)
{
	struct rgup_sample_mirror_bind b;

	self->page = getpagesize();
	self->size = NPAGES * self->page;
	self->fd = open("/dev/rgup_sample_mirror", O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, "/dev/rgup_sample_mirror missing: load rgup_sample_mirror.ko");
	ASSERT_LE(0, self->fd);
	self->buf = mmap(NULL, self->size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	self->dev = malloc(self->size);
	ASSERT_NE(NULL, self->dev);
	b.addr = (uintptr_t)self->buf;
	b.len = self->size;
	ASSERT_EQ(0, ioctl(self->fd, RGUP_SAMPLE_MIRROR_BIND, &b));
}

FIXTURE_TEARDOWN(sample)
{
	if (self->fd >= 0)
		close(self->fd);
}

static int dev_read(int fd, void *addr, size_t len, void *buf, __u64 *faults)
{
	struct rgup_sample_mirror_read r = {
		.addr = (uintptr_t)addr, .len = len, .buf = (uintptr_t)buf,
	};

	if (ioctl(fd, RGUP_SAMPLE_MIRROR_READ, &r))
		return -errno;
	*faults = r.faults;
	return 0;
}

static struct rgup_sample_mirror_info info(int fd, void *addr)
{
	struct rgup_sample_mirror_info i = { .addr = (uintptr_t)addr };

	if (ioctl(fd, RGUP_SAMPLE_MIRROR_INFO, &i))
		memset(&i, 0xff, sizeof(i));
	return i;
}

/* The driver's own page table fills on a fault and empties on munmap. */
TEST_F(sample, device_ptes_follow_munmap)
{
	struct rgup_sample_mirror_info i;
	__u64 faults = 0;

	memset(self->buf, 0x5a, self->size);
	ASSERT_EQ(0, info(self->fd, self->buf).valid_ptes);
	ASSERT_EQ(0, dev_read(self->fd, self->buf, self->size, self->dev, &faults));
	ASSERT_EQ(1, faults);
	ASSERT_EQ(0x5a, self->dev[self->size - 1]);
	i = info(self->fd, self->buf);
	ASSERT_EQ(NPAGES, i.valid_ptes);
	ASSERT_EQ(NPAGES, i.installs);
	ASSERT_NE(0, i.pfn);
	ASSERT_EQ(0, munmap(self->buf, self->size / 2));
	i = info(self->fd, self->buf);
	ASSERT_EQ(NPAGES / 2, i.valid_ptes);
	ASSERT_EQ(0, i.pfn);
	ASSERT_LE(1, i.invalidations);
	ASSERT_EQ(-EFAULT, dev_read(self->fd, self->buf, 1, self->dev, &faults));
	munmap(self->buf + self->size / 2, self->size / 2);
}

/*
 * fork makes the pages copy-on-write; the parent's next write copies them:
 * the device PTE is zapped, and the next device read maps the new page.
 */
TEST_F(sample, device_follows_cow)
{
	struct rgup_sample_mirror_info before, after;
	__u64 faults = 0;
	int status;
	pid_t pid;

	memset(self->buf, 1, self->size);
	ASSERT_EQ(0, dev_read(self->fd, self->buf, self->size, self->dev, &faults));
	before = info(self->fd, self->buf);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(0);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	memset(self->buf, 2, self->size);	/* the child is gone: maybe no copy */
	ASSERT_EQ(0, dev_read(self->fd, self->buf, self->size, self->dev, &faults));
	ASSERT_EQ(2, self->dev[0]);
	ASSERT_EQ(2, self->dev[self->size - 1]);
	after = info(self->fd, self->buf);
	ASSERT_LT(before.invalidations, after.invalidations);
	ASSERT_EQ(1, faults);
	munmap(self->buf, self->size);
}

TEST_HARNESS_MAIN

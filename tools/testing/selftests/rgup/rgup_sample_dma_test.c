// SPDX-License-Identifier: GPL-2.0
/*
 * samples/rust/rgup_sample_dma.rs: a driver in its own module that pins two
 * user buffers long-term with rgup::pin and copies between them through the
 * pinned pages. Needs rgup.ko and rgup_sample_dma.ko loaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "rgup_test_util.h"

#define EXT4_DIR "/tmp/rgup-ext4"

FIXTURE(dma)
{
	int fd;
	long page;
};

FIXTURE_SETUP(dma)
{
	self->page = getpagesize();
	self->fd = open("/dev/rgup_sample_dma", O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, "/dev/rgup_sample_dma missing: load rgup_sample_dma.ko");
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(dma)
{
	if (self->fd >= 0)
		close(self->fd);
}

static int dma_copy(int fd, const void *src, void *dst, size_t len)
{
	struct rgup_sample_dma_copy c = {
		.src = (uintptr_t)src, .dst = (uintptr_t)dst, .len = len,
	};

	return ioctl(fd, RGUP_SAMPLE_DMA_COPY, &c) ? -errno : 0;
}

/* Unaligned source and destination, several pages: every byte arrives. */
TEST_F(dma, copy_is_byte_exact)
{
	size_t len = 5 * self->page + 123;
	char *src = mmap(NULL, 8 * self->page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *dst = mmap(NULL, 8 * self->page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, src);
	ASSERT_NE(MAP_FAILED, dst);
	for (size_t i = 0; i < 8 * self->page; i++)
		src[i] = (char)(i * 31 + 7);
	memset(dst, 0, 8 * self->page);
	ASSERT_EQ(0, dma_copy(self->fd, src + 17, dst + 1001, len));
	EXPECT_EQ(0, memcmp(src + 17, dst + 1001, len));
	EXPECT_EQ(0, dst[1000]);
	EXPECT_EQ(0, dst[1001 + len]);
	munmap(src, 8 * self->page);
	munmap(dst, 8 * self->page);
}

/* The "Swap:" of the mapping holding @addr in /proc/self/smaps, in kB, or -1. */
static long smaps_swap_kb(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	unsigned long start, end;
	bool in = false;
	char line[512];
	long kb = -1;

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in = start <= (uintptr_t)addr && (uintptr_t)addr < end;
		else if (in && sscanf(line, "Swap: %ld kB", &kb) == 1)
			break;
	}
	if (f)
		fclose(f);
	return kb;
}

/* For pageout_until(): is the whole (shmem) mapping at @mem in swap? */
static bool page_in_swap(void *mem, size_t len)
{
	return smaps_swap_kb(mem) >= (long)(len / 1024);
}

/*
 * The destination is a shared tmpfs file, its page read by the CPU first:
 * a clean page behind a writable PTE, which nothing but the DMA engine
 * writes. The data reaches the file only if the pin dirtied the page:
 * swapped out, a clean tmpfs page is dropped, a dirty one goes to swap.
 * Read back through the file after that, not from the page that was written.
 */
TEST_F(dma, copy_into_a_shared_memfd_reaches_the_file)
{
	int mfd = memfd_create("rgup-dma", 0);
	char *src = malloc(self->page), *dst, *back = malloc(self->page);

	if (!swap_enabled())
		SKIP(return, "no swap (guest-check.sh sets up a swap file)");
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, self->page));
	dst = mmap(NULL, self->page, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	ASSERT_NE(MAP_FAILED, dst);
	ASSERT_EQ(0, __atomic_load_n(dst, __ATOMIC_RELAXED));
	ASSERT_FALSE(page_flag(dst, KPF_DIRTY));
	memset(src, 'x', self->page);
	ASSERT_EQ(0, dma_copy(self->fd, src, dst, self->page));
	/* Out of memory: to swap (dirty) or dropped (clean). */
	pageout_until(dst, self->page, page_in_swap);
	EXPECT_EQ(self->page / 1024, smaps_swap_kb(dst))
		TH_LOG("the page written by the DMA engine never went to swap: was it dirty?");
	ASSERT_EQ(0, munmap(dst, self->page));
	ASSERT_EQ(self->page, pread(mfd, back, self->page, 0));
	EXPECT_EQ(0, memcmp(src, back, self->page));
	close(mfd);
	free(src);
	free(back);
}

/* A writable shared ext4 mapping cannot be a long-term DMA target. */
TEST_F(dma, refuses_a_shared_ext4_destination)
{
	char path[] = EXT4_DIR "/dma-XXXXXX";
	char *src = malloc(self->page), *dst;
	int ffd;

	if (access(EXT4_DIR "/.rgup-mounted", F_OK))
		SKIP(return, "no ext4 mount at " EXT4_DIR);
	ffd = mkstemp(path);
	ASSERT_LE(0, ffd);
	unlink(path);
	ASSERT_EQ(0, ftruncate(ffd, self->page));
	dst = mmap(NULL, self->page, PROT_READ | PROT_WRITE, MAP_SHARED, ffd, 0);
	ASSERT_NE(MAP_FAILED, dst);
	memset(src, 'y', self->page);
	EXPECT_EQ(-EFAULT, dma_copy(self->fd, src, dst, self->page));
	/* ...but it can be a source. */
	EXPECT_EQ(0, dma_copy(self->fd, dst, src, self->page));
	munmap(dst, self->page);
	close(ffd);
	free(src);
}

TEST_F(dma, bad_input)
{
	char buf[64];

	EXPECT_EQ(-EINVAL, dma_copy(self->fd, buf, buf, 0));
	EXPECT_EQ(-EFAULT, dma_copy(self->fd, NULL, buf, sizeof(buf)));
	EXPECT_EQ(-EFAULT, ioctl(self->fd, RGUP_SAMPLE_DMA_COPY, NULL) ? -errno : 0);
	EXPECT_EQ(-ENOTTY, ioctl(self->fd, _IO('r', 2)) ? -errno : 0);
}

TEST_HARNESS_MAIN

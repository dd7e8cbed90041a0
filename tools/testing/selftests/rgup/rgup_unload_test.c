// SPDX-License-Identifier: GPL-2.0
/*
 * Unloading while in use. With files open that hold live pins and mirrors
 * (/dev/rgup of rgup_test.ko: a write pin and a faulted mirror;
 * /dev/rgup_sample_mirror: a bound, faulted mirror; /dev/rgup_sample_dma),
 * unloading rgup.ko, rgup_test.ko or either sample driver is refused
 * (delete_module(), as rmmod calls it, says EWOULDBLOCK) and changes
 * nothing: the pin and the mirrors still work. Once the files are closed,
 * rgup's stats show nothing held, the sample drivers unload, and the
 * FOLL_PIN pins are back where they were.
 *
 * Needs root and rgup.ko, rgup_test.ko, rgup_sample_dma.ko and
 * rgup_sample_mirror.ko loaded (tools/testing/vm/guest-check.sh); it leaves
 * the two sample drivers unloaded, rgup.ko and rgup_test.ko loaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/rgup.h>

#include "kselftest_harness.h"
#include "rgup_test_util.h"

#define NPAGES 16

static const char *const modules[] = {
	"rgup", "rgup_test", "rgup_sample_mirror", "rgup_sample_dma",
};

static bool loaded(const char *module)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/module/%s", module);
	return !access(path, F_OK);
}

/* delete_module(2) without waiting, as rmmod does: 0 or -errno. */
static int unload(const char *module)
{
	return syscall(SYS_delete_module, module, O_NONBLOCK) ? -errno : 0;
}

FIXTURE(unload)
{
	int rgup, mirror, dma;
	unsigned char *mem, *dev;
	size_t len;
	long foll_pins;
	__u32 pin, mirror_handle;
};

FIXTURE_SETUP(unload)
{
	struct rgup_sample_mirror_bind b;
	struct rgup_pin p;

	self->rgup = -1;
	self->mirror = -1;
	self->dma = -1;
	for (size_t i = 0; i < ARRAY_SIZE(modules); i++)
		if (!loaded(modules[i]))
			SKIP(return, "%s.ko is not loaded", modules[i]);
	self->foll_pins = foll_pins_outstanding();
	self->len = NPAGES * getpagesize();
	self->mem = mmap(NULL, self->len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	self->dev = malloc(self->len);
	ASSERT_NE(NULL, self->dev);
	memset(self->mem, 'm', self->len);

	self->rgup = open("/dev/rgup", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->rgup);
	ASSERT_EQ(0, do_pin(self->rgup, self->mem, self->len, RGUP_PIN_WRITE, &p));
	self->pin = p.handle;
	ASSERT_EQ(0, mirror_create(self->rgup, self->mem, self->len, &self->mirror_handle));
	ASSERT_EQ(0, mirror_rw(self->rgup, self->mirror_handle, 0, self->mem, self->len,
			       self->dev, NULL));

	self->mirror = open("/dev/rgup_sample_mirror", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->mirror);
	b.addr = (uintptr_t)self->mem;
	b.len = self->len;
	ASSERT_EQ(0, ioctl(self->mirror, RGUP_SAMPLE_MIRROR_BIND, &b));

	self->dma = open("/dev/rgup_sample_dma", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dma);
}

FIXTURE_TEARDOWN(unload)
{
	if (self->rgup >= 0)
		close(self->rgup);
	if (self->mirror >= 0)
		close(self->mirror);
	if (self->dma >= 0)
		close(self->dma);
	if (self->mem && self->mem != MAP_FAILED)
		munmap(self->mem, self->len);
	free(self->dev);
}

static int sample_mirror_read(int fd, void *addr, size_t len, void *buf)
{
	struct rgup_sample_mirror_read r = {
		.addr = (uintptr_t)addr, .len = len, .buf = (uintptr_t)buf,
	};

	return ioctl(fd, RGUP_SAMPLE_MIRROR_READ, &r) ? -errno : 0;
}

TEST_F(unload, refused_while_in_use_then_clean)
{
	struct rgup_sample_dma_copy copy;
	const char *what = "";
	bool clean = false;

	ASSERT_LE(1, rgup_stat("pins"));
	ASSERT_LE(2, rgup_stat("mirrors"));
	ASSERT_LE(1, rgup_stat("charged_pages"));

	/* Every module of the stack is in use: each unload is refused. */
	for (size_t i = 0; i < ARRAY_SIZE(modules); i++) {
		EXPECT_EQ(-EWOULDBLOCK, unload(modules[i]))
			TH_LOG("delete_module(%s) while its files are open", modules[i]);
		EXPECT_TRUE(loaded(modules[i]));
	}

	/* ... and changed nothing: the pin and the mirrors still work. */
	memset(self->dev, 'p', self->len);
	ASSERT_EQ(0, do_rw(self->rgup, self->pin, RGUP_RW_WRITE, 0, self->len, self->dev));
	for (size_t i = 0; i < self->len; i += 1000)
		ASSERT_EQ('p', self->mem[i]);
	memset(self->mem, 'c', self->len);
	ASSERT_EQ(0, mirror_rw(self->rgup, self->mirror_handle, 0, self->mem, self->len,
			       self->dev, NULL));
	EXPECT_EQ(0, memcmp(self->dev, self->mem, self->len));
	memset(self->dev, 0, self->len);
	ASSERT_EQ(0, sample_mirror_read(self->mirror, self->mem, self->len, self->dev));
	EXPECT_EQ(0, memcmp(self->dev, self->mem, self->len));
	copy = (struct rgup_sample_dma_copy){
		.src = (uintptr_t)self->mem, .dst = (uintptr_t)self->dev, .len = self->len,
	};
	memset(self->dev, 0, self->len);
	ASSERT_EQ(0, ioctl(self->dma, RGUP_SAMPLE_DMA_COPY, &copy));
	EXPECT_EQ(0, memcmp(self->dev, self->mem, self->len));

	/* Closed: nothing held, the drivers go, the pins are back. */
	close(self->rgup);
	self->rgup = -1;
	close(self->mirror);
	self->mirror = -1;
	close(self->dma);
	self->dma = -1;
	for (int i = 0; i < 500 && !clean; i++) {
		clean = rgup_holds_nothing(&what);
		if (!clean)
			usleep(10000);
	}
	ASSERT_TRUE(clean) TH_LOG("rgup still holds %s: %ld", what, rgup_stat(what));
	EXPECT_EQ(0, rgup_stat("charged_pages"));
	ASSERT_EQ(0, unload("rgup_sample_dma"));
	ASSERT_EQ(0, unload("rgup_sample_mirror"));
	EXPECT_FALSE(loaded("rgup_sample_dma"));
	EXPECT_FALSE(loaded("rgup_sample_mirror"));
	/* rgup_test still uses rgup: refused, even with no file open. */
	EXPECT_EQ(-EWOULDBLOCK, unload("rgup"));
	EXPECT_TRUE(foll_pins_back_to(self->foll_pins));
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * rgup::p2p end to end, in a VM booted with tools/testing/vm/run.sh --p2p:
 * QEMU's edu device (bound by samples/rust/rgup_sample_p2p.rs) DMAs out of
 * and into an NVMe's controller memory buffer, mapped by user space from
 * the NVMe's p2pmem/allocate, through rgup's DMA-only scatterlists.
 *
 *   rgup_p2p_test                 expects edu behind the NVMe's switch
 *   RGUP_P2P_SPLIT=1 rgup_p2p_test   expects edu on another root port
 *
 * Needs rgup.ko and rgup_sample_p2p.ko loaded; skips without the devices.
 */
#include <dirent.h>
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

#include "kselftest_harness.h"
#include "rgup_test_util.h"

#define KIND_BUS RGUP_SAMPLE_P2P_KIND_BUS
#define KIND_HOST RGUP_SAMPLE_P2P_KIND_HOST
#define LEN RGUP_SAMPLE_P2P_MAX_LEN
#define PAGE 4096

FIXTURE(p2p)
{
	int fd;
	int split;
	unsigned long long cmb_start, cmb_end;
	char dev[512];		/* the provider's sysfs directory */
	unsigned char *cmb;	/* 2 pages of the NVMe's CMB */
	size_t cmb_len;
};

/* The PCI device directory with a published p2pmem/allocate, or NULL. */
static char *find_p2pmem(char *path, size_t len)
{
	struct dirent *d;
	DIR *dir = opendir("/sys/bus/pci/devices");

	while (dir && (d = readdir(dir))) {
		snprintf(path, len, "/sys/bus/pci/devices/%s/p2pmem/allocate", d->d_name);
		if (!access(path, R_OK)) {
			snprintf(path, len, "/sys/bus/pci/devices/%s", d->d_name);
			closedir(dir);
			return path;
		}
	}
	if (dir)
		closedir(dir);
	return NULL;
}

/* BAR 2 (the CMB of QEMU's nvme) from the device's resource file. */
static int bar2(const char *dev, unsigned long long *start, unsigned long long *end)
{
	char path[600];
	unsigned long long flags;
	FILE *f;
	int i, ok = 0;

	snprintf(path, sizeof(path), "%s/resource", dev);
	f = fopen(path, "r");
	for (i = 0; f && i <= 2; i++)
		ok = fscanf(f, "%llx %llx %llx", start, end, &flags) == 3;
	if (f)
		fclose(f);
	return ok ? 0 : -1;
}

FIXTURE_SETUP(p2p)
{
	char dev[512], path[600];
	int afd;
	const char *split = getenv("RGUP_P2P_SPLIT");

	self->split = split && *split && strcmp(split, "0");
	self->cmb = MAP_FAILED;
	self->fd = open("/dev/rgup_sample_p2p", O_RDWR | O_CLOEXEC);
	if (self->fd < 0)
		SKIP(return, "/dev/rgup_sample_p2p missing: load rgup_sample_p2p.ko");
	if (!find_p2pmem(dev, sizeof(dev)))
		SKIP(return, "no published p2pmem: boot with run.sh --p2p");
	snprintf(self->dev, sizeof(self->dev), "%s", dev);
	ASSERT_EQ(0, bar2(dev, &self->cmb_start, &self->cmb_end));
	snprintf(path, sizeof(path), "%s/p2pmem/allocate", dev);
	afd = open(path, O_RDWR);
	ASSERT_LE(0, afd);
	self->cmb_len = 2 * PAGE;
	self->cmb = mmap(NULL, self->cmb_len, PROT_READ | PROT_WRITE, MAP_SHARED, afd, 0);
	close(afd);
	ASSERT_NE(MAP_FAILED, self->cmb);
}

FIXTURE_TEARDOWN(p2p)
{
	if (self->cmb != MAP_FAILED)
		munmap(self->cmb, self->cmb_len);
	if (self->fd >= 0)
		close(self->fd);
}

static int cmd(int fd, unsigned long req, void *src, void *dst, size_t len,
	       struct rgup_sample_p2p_copy *c)
{
	memset(c, 0, sizeof(*c));
	c->src = (uintptr_t)src;
	c->dst = (uintptr_t)dst;
	c->len = len;
	return ioctl(fd, req, c) ? -errno : 0;
}

static int copy(int fd, void *src, void *dst, size_t len, struct rgup_sample_p2p_copy *c)
{
	return cmd(fd, RGUP_SAMPLE_P2P_COPY, src, dst, len, c);
}

static void pattern(unsigned char *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(seed * 131 + i * 7 + (i >> 8));
}

/*
 * CMB -> edu -> another CMB offset, at PCI bus addresses inside the NVMe's
 * BAR, twice with different data: every byte arrives.
 */
TEST_F(p2p, cmb_to_edu_to_cmb)
{
	struct rgup_sample_p2p_copy c;
	unsigned char want[LEN], got[LEN];
	int round;

	if (self->split)
		SKIP(return, "edu is on another root port");
	for (round = 1; round <= 2; round++) {
		pattern(want, LEN, round);
		memcpy(self->cmb, want, LEN);		/* user space may write its mapping */
		memset(self->cmb + PAGE, 0, LEN);
		ASSERT_EQ(0, copy(self->fd, self->cmb, self->cmb + PAGE, LEN, &c));
		ASSERT_EQ(KIND_BUS, c.src_kind);
		ASSERT_EQ(KIND_BUS, c.dst_kind);
		ASSERT_GE(c.src_dma, self->cmb_start);
		ASSERT_LE(c.src_dma + LEN - 1, self->cmb_end);
		ASSERT_EQ(c.src_dma + PAGE, c.dst_dma);	/* the next page of the CMB */
		memcpy(got, self->cmb + PAGE, LEN);
		ASSERT_EQ(0, memcmp(want, got, LEN));
	}
	ASSERT_EQ(0, rgup_stat("p2p_lists"));
}

/* Ordinary RAM: host-mapped segments, and the DMA still works. */
TEST_F(p2p, ram_is_host_mapped)
{
	struct rgup_sample_p2p_copy c;
	unsigned char *src = aligned_alloc(PAGE, PAGE), *dst = aligned_alloc(PAGE, PAGE);

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	pattern(src, LEN, 9);
	memset(dst, 0, LEN);
	ASSERT_EQ(0, copy(self->fd, src, dst, LEN, &c));
	ASSERT_EQ(KIND_HOST, c.src_kind);
	ASSERT_EQ(KIND_HOST, c.dst_kind);
	ASSERT_EQ(0, memcmp(src, dst, LEN));
	free(src);
	free(dst);
}

/* RAM -> edu -> CMB: a mixed pair of lists, each with its own kind. */
TEST_F(p2p, ram_to_cmb)
{
	struct rgup_sample_p2p_copy c;
	unsigned char *src = aligned_alloc(PAGE, PAGE), got[LEN];

	if (self->split)
		SKIP(return, "edu is on another root port");
	ASSERT_NE(NULL, src);
	pattern(src, LEN, 5);
	ASSERT_EQ(0, copy(self->fd, src, self->cmb, LEN, &c));
	ASSERT_EQ(KIND_HOST, c.src_kind);
	ASSERT_EQ(KIND_BUS, c.dst_kind);
	memcpy(got, self->cmb, LEN);
	ASSERT_EQ(0, memcmp(src, got, LEN));
	free(src);
}

/*
 * One list over RAM and CMB pages at once: a page of RAM followed, at the
 * next virtual page, by a page of the CMB. The device reads 1024 bytes of
 * each through one DmaOnlySgt whose segments have different kinds (the
 * first one host-mapped); the data arrives intact.
 */
TEST_F(p2p, one_list_mixing_ram_and_cmb)
{
	struct rgup_sample_p2p_copy c;
	unsigned char *area, *dst = aligned_alloc(PAGE, PAGE), want[LEN];
	char path[600];
	int afd;

	if (self->split)
		SKIP(return, "edu is on another root port");
	ASSERT_NE(NULL, dst);
	area = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, area);
	snprintf(path, sizeof(path), "%s/p2pmem/allocate", self->dev);
	afd = open(path, O_RDWR);
	ASSERT_LE(0, afd);
	ASSERT_EQ(area + PAGE, mmap(area + PAGE, PAGE, PROT_READ | PROT_WRITE,
				    MAP_SHARED | MAP_FIXED, afd, 0));
	close(afd);
	pattern(want, LEN, 21);
	memcpy(area + PAGE - LEN / 2, want, LEN);	/* half RAM, half CMB */
	memset(dst, 0, LEN);
	ASSERT_EQ(0, copy(self->fd, area + PAGE - LEN / 2, dst, LEN, &c));
	ASSERT_EQ(KIND_HOST, c.src_kind);
	ASSERT_EQ(0, memcmp(want, dst, LEN));
	munmap(area, 2 * PAGE);
	free(dst);
	ASSERT_EQ(0, rgup_stat("p2p_lists"));
}

/*
 * edu on another root port: the CMB is unreachable (q35's host bridge is not
 * on the P2P allow-list), refused with EREMOTEIO before anything is mapped,
 * and nothing stays pinned or listed.
 */
TEST_F(p2p, unreachable_is_eremoteio)
{
	struct rgup_sample_p2p_copy c;
	unsigned char *ram = aligned_alloc(PAGE, PAGE);

	if (!self->split)
		SKIP(return, "edu is behind the NVMe's switch");
	ASSERT_NE(NULL, ram);
	ASSERT_EQ(-EREMOTEIO, copy(self->fd, self->cmb, ram, LEN, &c));
	ASSERT_EQ(-EREMOTEIO, copy(self->fd, ram, self->cmb, LEN, &c));
	ASSERT_EQ(0, rgup_stat("p2p_lists"));
	free(ram);
}

/*
 * RAM -> edu -> P2P memory allocated in the kernel from the closest provider
 * (DmaOnlySgt::from_p2pmem) -> edu -> RAM: the data made the round trip
 * through the NVMe's CMB, at a bus address inside its BAR; it went back to
 * the provider's pool.
 */
TEST_F(p2p, staged_through_provider_allocation)
{
	struct rgup_sample_p2p_copy c;
	unsigned char *src = aligned_alloc(PAGE, PAGE), *dst = aligned_alloc(PAGE, PAGE);
	char path[600];
	long avail_before = -1, avail_after = -2;
	FILE *f;

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	pattern(src, LEN / 2, 11);
	memset(dst, 0, LEN / 2);
	if (self->split) {
		ASSERT_EQ(-ENODEV, cmd(self->fd, RGUP_SAMPLE_P2P_STAGE, src, dst, LEN / 2, &c));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/p2pmem/available", self->dev);
	f = fopen(path, "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(1, fscanf(f, "%ld", &avail_before));
	fclose(f);
	ASSERT_EQ(0, cmd(self->fd, RGUP_SAMPLE_P2P_STAGE, src, dst, LEN / 2, &c));
	ASSERT_EQ(KIND_HOST, c.src_kind);
	ASSERT_EQ(KIND_BUS, c.dst_kind);
	ASSERT_GE(c.dst_dma, self->cmb_start);
	ASSERT_LE(c.dst_dma + LEN / 2 - 1, self->cmb_end);
	ASSERT_EQ(0, memcmp(src, dst, LEN / 2));
	ASSERT_EQ(-EINVAL, cmd(self->fd, RGUP_SAMPLE_P2P_STAGE, src, dst, LEN / 2 + 1, &c));
	f = fopen(path, "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(1, fscanf(f, "%ld", &avail_after));
	fclose(f);
	ASSERT_EQ(avail_before, avail_after);
out:
	ASSERT_EQ(0, rgup_stat("p2p_lists"));
	free(src);
	free(dst);
}

/*
 * Peer memory is never pinned long-term: rgup::pin through /dev/rgup refuses
 * the CMB for reading with EREMOTEIO (the kernel's answer, explained by
 * PinError::PeerMemory); for writing, the mapping (a shared kernfs file with
 * ->page_mkwrite) is already refused as needing dirty tracking (EFAULT).
 * Nothing is pinned or charged.
 */
TEST_F(p2p, no_long_term_pin_of_peer_memory)
{
	struct rgup_pin p = {
		.size = sizeof(p), .flags = RGUP_PIN_WRITE,
		.addr = (uintptr_t)self->cmb, .len = PAGE,
	};
	int fd = open("/dev/rgup", O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd);
	ASSERT_EQ(-EFAULT, ioctl(fd, RGUP_IOC_PIN, &p) ? -errno : 0);
	p.flags = 0;
	ASSERT_EQ(-EREMOTEIO, ioctl(fd, RGUP_IOC_PIN, &p) ? -errno : 0);
	ASSERT_EQ(0, rgup_stat("pins"));
	ASSERT_EQ(0, rgup_stat("charged_pages"));
	close(fd);
}

/* Bad input: the documented errnos, nothing left behind. */
TEST_F(p2p, bad_input)
{
	struct rgup_sample_p2p_copy c;
	unsigned char *ram = aligned_alloc(PAGE, PAGE);

	ASSERT_NE(NULL, ram);
	ASSERT_EQ(-EINVAL, copy(self->fd, ram, ram, 0, &c));
	ASSERT_EQ(-EINVAL, copy(self->fd, ram, ram, LEN + 1, &c));
	ASSERT_EQ(-EFAULT, copy(self->fd, NULL, ram, LEN, &c));
	ASSERT_EQ(-EINVAL, copy(self->fd, (void *)0xffff888000000000ull, ram, LEN, &c));
	ASSERT_EQ(-ENOTTY, ioctl(self->fd, _IO('r', 0x22)) ? -errno : 0);
	ASSERT_EQ(0, rgup_stat("p2p_lists"));
	free(ram);
}

TEST_HARNESS_MAIN

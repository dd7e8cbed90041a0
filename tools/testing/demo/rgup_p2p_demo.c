// SPDX-License-Identifier: GPL-2.0
/*
 * What `make demo` shows of rgup::p2p, in a VM booted with the P2P topology:
 * QEMU's edu device (samples/rust/rgup_sample_p2p.rs) DMAs between an NVMe's
 * controller memory buffer and itself at PCI bus addresses, through rgup's
 * DMA-only scatterlists, and from ordinary RAM through host-mapped ones.
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
#include <linux/types.h>

#include <rgup_samples_uapi.h>

#define LEN RGUP_SAMPLE_P2P_MAX_LEN

static const char *kind(__u32 k)
{
	return k == 1 ? "bus address" : k == 2 ? "host-mapped" : "?";
}

static int run(int fd, unsigned long req, const char *what, void *src, void *dst, size_t len)
{
	struct rgup_sample_p2p_copy c = {
		.src = (uintptr_t)src, .dst = (uintptr_t)dst, .len = len,
	};

	if (ioctl(fd, req, &c)) {
		printf("%-26s failed: %s\n", what, strerror(errno));
		return 1;
	}
	printf("%-26s src %s %#llx -> dst %s %#llx\n", what, kind(c.src_kind),
	       (unsigned long long)c.src_dma, kind(c.dst_kind), (unsigned long long)c.dst_dma);
	return 0;
}

int main(void)
{
	char path[600] = "";
	unsigned char *cmb, *ram = aligned_alloc(4096, 2 * 4096), want[LEN];
	struct dirent *d;
	DIR *dir = opendir("/sys/bus/pci/devices");
	int fd = open("/dev/rgup_sample_p2p", O_RDWR), afd = -1, err = 0;
	size_t i;

	while (dir && (d = readdir(dir))) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/p2pmem/allocate", d->d_name);
		afd = open(path, O_RDWR);
		if (afd >= 0)
			break;
	}
	if (fd < 0 || afd < 0 || !ram) {
		printf("rgup_p2p_demo: no edu sample or no published p2pmem\n");
		return 1;
	}
	printf("P2P memory: %s\n", path);
	cmb = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, afd, 0);
	if (cmb == MAP_FAILED)
		return 1;
	for (i = 0; i < LEN; i++)
		want[i] = (unsigned char)(i * 13 + 7);
	memcpy(cmb, want, LEN);
	memset(cmb + 4096, 0, LEN);
	err |= run(fd, RGUP_SAMPLE_P2P_COPY, "CMB -> edu -> CMB:", cmb, cmb + 4096, LEN);
	printf("%-26s %s\n", "", memcmp(cmb + 4096, want, LEN) ? "DATA MISMATCH" :
	       "2048 bytes verified byte for byte");
	memset(ram + 4096, 0, LEN);
	memcpy(ram, want, LEN);
	err |= run(fd, RGUP_SAMPLE_P2P_COPY, "RAM -> edu -> RAM:", ram, ram + 4096, LEN);
	printf("%-26s %s\n", "", memcmp(ram + 4096, want, LEN) ? "DATA MISMATCH" :
	       "2048 bytes verified byte for byte");
	memset(ram + 4096, 0, LEN);
	err |= run(fd, RGUP_SAMPLE_P2P_STAGE, "RAM -> kernel p2pmem -> RAM:", ram, ram + 4096,
		   LEN / 2);
	printf("%-26s %s\n", "", memcmp(ram + 4096, want, LEN / 2) ? "DATA MISMATCH" :
	       "1024 bytes verified byte for byte");
	return err;
}

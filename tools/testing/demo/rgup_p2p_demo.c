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
	return k == RGUP_SAMPLE_P2P_KIND_BUS ? "bus address" :
	       k == RGUP_SAMPLE_P2P_KIND_HOST ? "host-mapped" : "?";
}

/*
 * One COPY (src -> edu -> dst) or STAGE (src -> edu -> P2P memory the driver
 * allocates -> edu -> dst), and the first DMA address edu was given for each
 * list: for STAGE the driver reports the staging buffer's, not dst's.
 */
static int run(int fd, unsigned long req, const char *what, void *src, void *dst, size_t len)
{
	struct rgup_sample_p2p_copy c = {
		.src = (uintptr_t)src, .dst = (uintptr_t)dst, .len = len,
	};

	printf("%s\n", what);
	if (ioctl(fd, req, &c)) {
		printf("  failed: %s\n", strerror(errno));
		return 1;
	}
	printf("  source:      %s %#llx\n", kind(c.src_kind), (unsigned long long)c.src_dma);
	if (req == RGUP_SAMPLE_P2P_STAGE)
		printf("  staging:     %s %#llx (%s)\n", kind(c.dst_kind),
		       (unsigned long long)c.dst_dma,
		       "the P2P memory; the destination's address is not reported");
	else
		printf("  destination: %s %#llx\n", kind(c.dst_kind),
		       (unsigned long long)c.dst_dma);
	return 0;
}

static void verified(const void *got, const void *want, size_t len)
{
	printf("  result:      %zu bytes at the destination %s\n", len,
	       memcmp(got, want, len) ? "DATA MISMATCH" : "verified byte for byte");
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
	printf("peer memory: the NVMe's controller memory buffer, mapped from %s\n", path);
	printf("edu is given one DMA address per segment, of one of two kinds:\n"
	       "  bus address: a PCI bus address in the NVMe's BAR, routed by the switch\n"
	       "  host-mapped: an address the DMA layer mapped through the host (RAM here)\n");
	cmb = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, afd, 0);
	if (cmb == MAP_FAILED)
		return 1;
	for (i = 0; i < LEN; i++)
		want[i] = (unsigned char)(i * 13 + 7);
	memcpy(cmb, want, LEN);
	memset(cmb + 4096, 0, LEN);
	err |= run(fd, RGUP_SAMPLE_P2P_COPY, "CMB -> edu -> CMB (peer to peer both ways):", cmb,
		   cmb + 4096, LEN);
	verified(cmb + 4096, want, LEN);
	memset(ram + 4096, 0, LEN);
	memcpy(ram, want, LEN);
	err |= run(fd, RGUP_SAMPLE_P2P_COPY, "RAM -> edu -> RAM (ordinary DMA, for comparison):",
		   ram, ram + 4096, LEN);
	verified(ram + 4096, want, LEN);
	memset(ram + 4096, 0, LEN);
	err |= run(fd, RGUP_SAMPLE_P2P_STAGE,
		   "RAM -> edu -> P2P memory the kernel allocated (DmaOnlySgt::from_p2pmem) -> edu -> RAM:",
		   ram, ram + 4096, LEN / 2);
	verified(ram + 4096, want, LEN / 2);
	return err;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * What `make demo` shows of rgup::pin: a pin with its accounting, a refused
 * pin of a writable MAP_SHARED ext4 file, and the sample DMA engine's copy.
 *
 *   rgup_pin_demo EXT4_DIR
 */
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

#include <rgup_samples_uapi.h>

static long vm_pin_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPin: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

int main(int argc, char **argv)
{
	long page = getpagesize();
	size_t len = 16 * page;
	int fd = open("/dev/rgup", O_RDWR), dfd, ffd;
	char *mem, *src, *dst, path[256];
	struct rgup_pin p = { .size = sizeof(p), .flags = RGUP_PIN_WRITE };
	struct rgup_unpin u = { .size = sizeof(u) };
	struct rgup_check c = { .size = sizeof(c), .flags = RGUP_PIN_WRITE };
	struct rgup_sample_dma_copy cp;

	if (fd < 0 || argc != 2) {
		fprintf(stderr, "usage: rgup_pin_demo EXT4_DIR (with rgup.ko loaded)\n");
		return 1;
	}
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(mem, 1, len);
	p.addr = (uintptr_t)mem;
	p.len = len;
	printf("VmPin before: %ld kB\n", vm_pin_kb());
	if (ioctl(fd, RGUP_IOC_PIN, &p))
		return perror("RGUP_IOC_PIN"), 1;
	printf("pinned 64 KiB of anonymous memory for device writes: handle %u, ",
	       p.handle);
	printf("%llu pages in %llu folio(s); VmPin now %ld kB\n", (unsigned long long)p.nr_pages,
	       (unsigned long long)p.nr_folios, vm_pin_kb());
	u.handle = p.handle;
	ioctl(fd, RGUP_IOC_UNPIN, &u);
	printf("unpinned: VmPin back to %ld kB\n", vm_pin_kb());

	snprintf(path, sizeof(path), "%s/demo-file", argv[1]);
	ffd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (ffd < 0 || ftruncate(ffd, page))
		return perror(path), 1;
	dst = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, ffd, 0);
	c.addr = (uintptr_t)dst;
	c.len = page;
	ioctl(fd, RGUP_IOC_CHECK, &c);
	printf("R/W pin of a MAP_SHARED ext4 file: %s (%s), reason %u, VMA %#llx-%#llx\n",
	       c.error ? "refused" : "allowed", strerror(-c.error), c.reason,
	       (unsigned long long)c.vma_start, (unsigned long long)c.vma_end);

	dfd = open("/dev/rgup_sample_dma", O_RDWR);
	if (dfd < 0)
		return perror("/dev/rgup_sample_dma"), 1;
	src = malloc(5 * page + 99);
	for (long i = 0; i < 5 * page + 99; i++)
		src[i] = (char)(i * 13);
	cp = (struct rgup_sample_dma_copy){ (uintptr_t)src, (uintptr_t)mem + 7, 5 * page + 99 };
	if (ioctl(dfd, RGUP_SAMPLE_DMA_COPY, &cp))
		return perror("RGUP_SAMPLE_DMA_COPY"), 1;
	printf("sample DMA engine copied %ld bytes between two pinned buffers: %s\n",
	       5 * page + 99,
	       memcmp(src, mem + 7, 5 * page + 99) ? "MISMATCH" : "verified byte for byte");
	cp = (struct rgup_sample_dma_copy){ (uintptr_t)src, (uintptr_t)dst, page };
	printf("sample DMA engine into the MAP_SHARED ext4 file: %s\n",
	       ioctl(dfd, RGUP_SAMPLE_DMA_COPY, &cp) ? strerror(errno) : "copied?!");
	unlink(path);
	return 0;
}

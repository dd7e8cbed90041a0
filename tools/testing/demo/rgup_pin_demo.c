// SPDX-License-Identifier: GPL-2.0
/*
 * What `make demo` shows of rgup::pin: a pin with its accounting, a refused
 * pin of a writable MAP_SHARED ext4 file, and the sample DMA engine's copy.
 *
 *   rgup_pin_demo EXT4_DIR
 */
#define _GNU_SOURCE	/* strerrorname_np() */
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

/* The names of enum rgup_reason and enum rgup_vma_kind (linux/rgup.h). */
static const char *const reason_names[] = {
	[RGUP_REASON_NONE] = "RGUP_REASON_NONE",
	[RGUP_REASON_IO_PFNMAP] = "RGUP_REASON_IO_PFNMAP",
	[RGUP_REASON_FSDAX] = "RGUP_REASON_FSDAX",
	[RGUP_REASON_SECRETMEM] = "RGUP_REASON_SECRETMEM",
	[RGUP_REASON_DIRTY_TRACKED_FILE] = "RGUP_REASON_DIRTY_TRACKED_FILE",
	[RGUP_REASON_NOT_WRITABLE] = "RGUP_REASON_NOT_WRITABLE",
	[RGUP_REASON_NOT_READABLE] = "RGUP_REASON_NOT_READABLE",
	[RGUP_REASON_ARCH_DENIED] = "RGUP_REASON_ARCH_DENIED",
	[RGUP_REASON_HOLE] = "RGUP_REASON_HOLE",
	[RGUP_REASON_INVALID_RANGE] = "RGUP_REASON_INVALID_RANGE",
	[RGUP_REASON_TOO_LARGE] = "RGUP_REASON_TOO_LARGE",
};

static const char *const vma_kind_names[] = {
	[RGUP_VMA_NONE] = "RGUP_VMA_NONE",
	[RGUP_VMA_ANONYMOUS] = "RGUP_VMA_ANONYMOUS",
	[RGUP_VMA_SHMEM] = "RGUP_VMA_SHMEM",
	[RGUP_VMA_HUGETLB] = "RGUP_VMA_HUGETLB",
	[RGUP_VMA_FILE] = "RGUP_VMA_FILE",
	[RGUP_VMA_SECRETMEM] = "RGUP_VMA_SECRETMEM",
	[RGUP_VMA_IO_PFNMAP] = "RGUP_VMA_IO_PFNMAP",
	[RGUP_VMA_FSDAX] = "RGUP_VMA_FSDAX",
};

#define NAMES(a) (sizeof(a) / sizeof(*(a)))

static const char *name_of(const char *const *names, size_t n, unsigned int v)
{
	return v < n && names[v] ? names[v] : "(unknown)";
}

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
	printf("this process's VmPin (/proc/self/status: what it has pinned) before: %ld kB\n",
	       vm_pin_kb());
	if (ioctl(fd, RGUP_IOC_PIN, &p))
		return perror("RGUP_IOC_PIN"), 1;
	printf("RGUP_IOC_PIN of 64 KiB of anonymous memory for device writes: handle %u, ",
	       p.handle);
	printf("%llu pages in %llu folio(s); VmPin now %ld kB (charged against RLIMIT_MEMLOCK)\n",
	       (unsigned long long)p.nr_pages, (unsigned long long)p.nr_folios, vm_pin_kb());
	u.handle = p.handle;
	if (ioctl(fd, RGUP_IOC_UNPIN, &u))
		return perror("RGUP_IOC_UNPIN"), 1;
	printf("RGUP_IOC_UNPIN: unpinned and uncharged, VmPin back to %ld kB\n", vm_pin_kb());

	snprintf(path, sizeof(path), "%s/demo-file", argv[1]);
	ffd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (ffd < 0 || ftruncate(ffd, page))
		return perror(path), 1;
	dst = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, ffd, 0);
	c.addr = (uintptr_t)dst;
	c.len = page;
	if (ioctl(fd, RGUP_IOC_CHECK, &c))
		return perror("RGUP_IOC_CHECK"), 1;
	printf("RGUP_IOC_CHECK, would a read-write pin of a MAP_SHARED ext4 file pass? %s",
	       c.error ? "no, " : "yes\n");
	if (c.error)
		printf("%s (%s), reason %s, VMA %#llx-%#llx (%s)\n", strerrorname_np(-c.error),
		       strerror(-c.error), name_of(reason_names, NAMES(reason_names), c.reason),
		       (unsigned long long)c.vma_start, (unsigned long long)c.vma_end,
		       name_of(vma_kind_names, NAMES(vma_kind_names), c.vma_kind));

	dfd = open("/dev/rgup_sample_dma", O_RDWR);
	if (dfd < 0)
		return perror("/dev/rgup_sample_dma"), 1;
	src = malloc(5 * page + 99);
	for (long i = 0; i < 5 * page + 99; i++)
		src[i] = (char)(i * 13);
	cp = (struct rgup_sample_dma_copy){ (uintptr_t)src, (uintptr_t)mem + 7, 5 * page + 99 };
	if (ioctl(dfd, RGUP_SAMPLE_DMA_COPY, &cp))
		return perror("RGUP_SAMPLE_DMA_COPY"), 1;
	printf("rgup_sample_dma copied %ld bytes between two buffers of this process, ",
	       5 * page + 99);
	printf("each pinned by the driver for the copy: %s\n",
	       memcmp(src, mem + 7, 5 * page + 99) ? "MISMATCH" : "verified byte for byte");
	cp = (struct rgup_sample_dma_copy){ (uintptr_t)src, (uintptr_t)dst, page };
	if (ioctl(dfd, RGUP_SAMPLE_DMA_COPY, &cp))
		printf("rgup_sample_dma asked to copy into the MAP_SHARED ext4 file: %s, %s (%s)\n",
		       "refused", strerrorname_np(errno), strerror(errno));
	else
		printf("rgup_sample_dma asked to copy into the MAP_SHARED ext4 file: copied?!\n");
	unlink(path);
	return 0;
}

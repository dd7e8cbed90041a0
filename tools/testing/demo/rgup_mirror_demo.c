// SPDX-License-Identifier: GPL-2.0
/*
 * What `make demo` shows of rgup::mirror, through the sample driver
 * samples/rust/rgup_sample_mirror.rs: a device page table following a
 * munmap + mmap and a fork + copy-on-write live, with the fault and
 * invalidation counters.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/types.h>

#include <rgup_samples_uapi.h>

#define NPAGES 4

static int fd;
static char *buf;
static size_t len;

/* The device reads the buffer and the demo prints what it saw and holds. */
static int show(const char *what)
{
	struct rgup_sample_mirror_info i = { .addr = (uintptr_t)buf };
	char dev[64] = "";
	struct rgup_sample_mirror_read r = {
		.addr = (uintptr_t)buf, .len = sizeof(dev) - 1, .buf = (uintptr_t)dev,
	};

	if (ioctl(fd, RGUP_SAMPLE_MIRROR_READ, &r) ||
	    ioctl(fd, RGUP_SAMPLE_MIRROR_INFO, &i)) {
		perror(what);
		return 1;
	}
	printf("%-34s device read \"%s\" (%llu fault round%s); ", what, dev,
	       (unsigned long long)r.faults, r.faults == 1 ? "" : "s");
	printf("page 0 -> pfn %#llx; %llu/%d PTEs valid, %llu invalidation(s)\n",
	       (unsigned long long)i.pfn, (unsigned long long)i.valid_ptes, NPAGES,
	       (unsigned long long)i.invalidations);
	return 0;
}

static void *map(void *at)
{
	return mmap(at, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | (at ? MAP_FIXED : 0), -1, 0);
}

int main(void)
{
	struct rgup_sample_mirror_bind b;
	int status, err = 0, hold[2];
	pid_t pid;

	len = NPAGES * getpagesize();
	fd = open("/dev/rgup_sample_mirror", O_RDWR);
	buf = map(NULL);
	if (fd < 0 || buf == MAP_FAILED) {
		perror("rgup_mirror_demo");
		return 1;
	}
	b.addr = (uintptr_t)buf;
	b.len = len;
	if (ioctl(fd, RGUP_SAMPLE_MIRROR_BIND, &b)) {
		perror("bind");
		return 1;
	}
	printf("mirroring %p + %zu KiB of this process into the sample device\n", buf, len >> 10);
	strcpy(buf, "first mapping");
	err |= show("CPU wrote, device reads:");
	err |= show("device reads again:");

	munmap(buf, len);
	map(buf);
	strcpy(buf, "new memory, same address");
	err |= show("after munmap + mmap:");

	/* The child keeps its copy-on-write share until the parent has written. */
	if (pipe(hold))
		return 1;
	pid = fork();
	if (pid == 0) {
		char c;

		close(hold[1]);
		_exit(read(hold[0], &c, 1) < 0);
	}
	close(hold[0]);
	err |= show("after fork (pages now COW-shared):");
	strcpy(buf, "parent wrote after fork");
	err |= show("parent's write copied the page:");
	close(hold[1]);
	waitpid(pid, &status, 0);
	return err;
}

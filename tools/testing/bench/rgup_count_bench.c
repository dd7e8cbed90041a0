// SPDX-License-Identifier: GPL-2.0
/*
 * For count-bench.sh: CALLS calls of RGUP_BENCH_PIN or RGUP_BENCH_P2P
 * (tools/testing/bench/rgup_bench.rs), each of 1000 pins and unpins (or maps
 * and unmaps) of SIZE bytes of an anonymous buffer by implementation IMPL,
 * between the two markers of qemu_tbcount.c, so that the instructions the
 * guest kernel executes between them are CALLS * 1000 times one operation's
 * (and the timer's).
 *
 *   rgup_count_bench pin|p2p IMPL SIZE CALLS
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "bench_util.h"

int main(int argc, char **argv)
{
	unsigned long req;
	size_t size;
	char *mem;
	int fd, i, calls;

	if (argc != 5 || (strcmp(argv[1], "pin") && strcmp(argv[1], "p2p"))) {
		fprintf(stderr, "usage: %s pin|p2p IMPL SIZE CALLS\n", argv[0]);
		return 2;
	}
	req = strcmp(argv[1], "pin") ? RGUP_BENCH_P2P : RGUP_BENCH_PIN;
	size = strtoul(argv[3], NULL, 0);
	calls = atoi(argv[4]);
	fd = open("/dev/rgup_bench", O_RDWR);
	if (fd < 0) {
		perror("/dev/rgup_bench");
		return 1;
	}
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	madvise(mem, size, MADV_NOHUGEPAGE);
	memset(mem, 1, size);
	/* qemu_tbcount.c counts the kernel's blocks from here... */
	asm volatile("movabs $0x5452415453505547, %%rax" ::: "rax");
	for (i = 0; i < calls; i++) {
		struct rgup_bench b = {
			.addr = (uintptr_t)mem, .len = size, .iters = 1000, .impl = atoi(argv[2]),
		};

		if (ioctl(fd, req, &b)) {
			perror("ioctl");
			return 1;
		}
	}
	/* ...to here. */
	asm volatile("movabs $0x504f545350505547, %%rax" ::: "rax");
	return 0;
}

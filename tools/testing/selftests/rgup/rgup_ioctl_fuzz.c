// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl fuzzer for every rgup device node: random and boundary-value
 * commands, sizes, flags, reserved fields, handles and addresses (NULL,
 * kernel, non-canonical, unmapped, a guard page, huge lengths), with a
 * fixed seed printed for replay and a bounded number of calls. Every call
 * must return 0 or an errno of the node's documented table; the runner
 * fails the run on any kernel splat.
 *
 *   rgup_ioctl_fuzz [-s SEED] [-n CALLS]
 *
 * TAP: one result per node, plus the totals as a comment.
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
#include <lib/test_hmm_uapi.h>
#include <mm/gup_test.h>

#include "rgup_test_util.h"

struct node {
	const char *path;
	const unsigned long *cmds;
	size_t ncmds;
	const int *errnos;	/* documented, 0-terminated */
	long calls, ok, bad, succeeded;
};

static const unsigned long rgup_cmds[] = {
	RGUP_IOC_VERSION, RGUP_IOC_PIN, RGUP_IOC_UNPIN, RGUP_IOC_CHECK, RGUP_IOC_RW,
	RGUP_IOC_STATS, RGUP_IOC_MIRROR_CREATE, RGUP_IOC_MIRROR_DESTROY, RGUP_IOC_MIRROR_RW,
	RGUP_IOC_MIRROR_SNAPSHOT, RGUP_IOC_MIRROR_STATS,
};

static const unsigned long gup_test_cmds[] = {
	PIN_LONGTERM_TEST_START, PIN_LONGTERM_TEST_STOP, PIN_LONGTERM_TEST_READ,
	PIN_LONGTERM_BENCHMARK, GUP_FAST_BENCHMARK,
};

static const unsigned long dmirror_cmds[] = {
	HMM_DMIRROR_READ, HMM_DMIRROR_WRITE, HMM_DMIRROR_MIGRATE_TO_DEV,
	HMM_DMIRROR_MIGRATE_TO_SYS, HMM_DMIRROR_SNAPSHOT, HMM_DMIRROR_EXCLUSIVE,
	HMM_DMIRROR_CHECK_EXCLUSIVE, HMM_DMIRROR_RELEASE, HMM_DMIRROR_FLAGS,
	HMM_DMIRROR_READ_UNLOCKED,
};

static struct node nodes[] = {
	{ "/dev/rgup", rgup_cmds, ARRAY_SIZE(rgup_cmds), rgup_documented_errnos, 0, 0, 0, 0 },
	{ "/dev/rgup_gup_test", gup_test_cmds, ARRAY_SIZE(gup_test_cmds),
	  gup_test_documented_errnos, 0, 0, 0, 0 },
	{ "/dev/rgup_dmirror0", dmirror_cmds, ARRAY_SIZE(dmirror_cmds), dmirror_documented_errnos,
	  0, 0, 0, 0 },
	{ "/dev/rgup_dmirror1", dmirror_cmds, ARRAY_SIZE(dmirror_cmds), dmirror_documented_errnos,
	  0, 0, 0, 0 },
};

static uint64_t state;

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible from the seed */
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return state * 2685821657736338717ULL;
}

static unsigned char *mem;	/* 16 mapped pages, a guard page, then more */
static size_t pg;

/* An address: mostly valid user memory, else every kind of bad one. */
static uint64_t address(void)
{
	static const uint64_t bad[] = {
		0, 1, 4096, 0xffff888000000000ULL, 0xffffffff81000000ULL,
		0x0000800000000000ULL, 0x8000000000000000ULL, ~0ULL, ~0ULL - 4095,
		0x00007ffffffff000ULL,
	};

	switch (rnd() % 6) {
	case 0:
		return bad[rnd() % ARRAY_SIZE(bad)];
	case 1:
		return (uintptr_t)(mem + 16 * pg) + rnd() % pg;	/* the guard page */
	default:
		return (uintptr_t)mem + (rnd() % 2 ? (rnd() % 16) * pg : rnd() % (16 * pg));
	}
}

/* A length or count: small, boundary, or huge. */
static uint64_t length(void)
{
	static const uint64_t edge[] = {
		0, 1, 4095, 4096, 4097, 1ULL << 20, 1ULL << 31, 1ULL << 32, 1ULL << 40,
		1ULL << 52, 1ULL << 63, ~0ULL, ~0ULL - 4095,
	};

	return rnd() % 3 ? rnd() % (16 * pg) : edge[rnd() % ARRAY_SIZE(edge)];
}

static uint64_t field(void)
{
	switch (rnd() % 8) {
	case 0:
		return 0;
	case 1:
		return rnd();
	case 2:
		return 1ULL << (rnd() % 64);
	case 3:
		return rnd() % 4;	/* small handles, flags */
	case 4:
		return length();
	default:
		return address();
	}
}

/* Fills an argument: either a struct of plausible fields or random bytes. */
static void *argument(unsigned char *buf, size_t cap)
{
	uint64_t *w = (uint64_t *)buf;
	size_t i;

	for (i = 0; i < cap / 8; i++)
		w[i] = field();
	if (rnd() % 4) {
		/* an extensible struct: a plausible size in the first u32 */
		static const uint32_t sizes[] = {
			0, 4, 8, 16, 24, 32, 40, 48, 56, 64, 72, 4096, 8192
		};
		uint32_t size = sizes[rnd() % ARRAY_SIZE(sizes)];

		memcpy(buf, &size, sizeof(size));
	}
	switch (rnd() % 10) {
	case 0:
		return NULL;
	case 1:
		return (void *)0xffff888000000000ULL;
	case 2:
		return mem + 16 * pg;	/* the guard page */
	default:
		return buf;
	}
}

/*
 * A valid argument for cmd (user memory from mem, small handles), so that
 * calls get past the first checks; then one 8-byte word is replaced by a
 * random field, half the time.
 */
static void *valid_argument(unsigned long cmd, unsigned char *buf, size_t cap)
{
	uint64_t *w = (uint64_t *)buf;
	uint64_t addr = (uintptr_t)mem + (rnd() % 8) * pg, len = (1 + rnd() % 8) * pg;

	memset(buf, 0, cap);
	if (cmd == HMM_DMIRROR_READ || cmd == HMM_DMIRROR_WRITE || cmd == HMM_DMIRROR_SNAPSHOT ||
	    cmd == HMM_DMIRROR_EXCLUSIVE || cmd == HMM_DMIRROR_CHECK_EXCLUSIVE ||
	    cmd == HMM_DMIRROR_READ_UNLOCKED) {
		struct hmm_dmirror_cmd *c = (void *)buf;

		c->addr = addr;
		c->ptr = (uintptr_t)mem + 8 * pg;
		c->npages = 1 + rnd() % 8;
	} else if (cmd == PIN_LONGTERM_TEST_START || cmd == PIN_LONGTERM_TEST_READ) {
		struct pin_longterm_test *t = (void *)buf;

		t->addr = addr;
		t->size = len;
		t->flags = rnd() % 2;
	} else if (cmd == RGUP_IOC_PIN) {
		struct rgup_pin *p = (void *)buf;

		p->size = sizeof(*p);
		p->flags = rnd() % 8 & ~RGUP_PIN_NO_FALLBACK;
		p->addr = addr + rnd() % pg;
		p->len = len;
	} else if (cmd == RGUP_IOC_MIRROR_CREATE) {
		struct rgup_mirror_create *m = (void *)buf;

		m->size = sizeof(*m);
		m->addr = addr;
		m->len = len;
	} else if (cmd == RGUP_IOC_MIRROR_RW) {
		struct rgup_mirror_rw *m = (void *)buf;

		m->size = sizeof(*m);
		m->flags = rnd() % 2;
		m->handle = 1 + rnd() % 3;
		m->addr = addr + rnd() % pg;
		m->len = 1 + rnd() % pg;
		m->buf = (uintptr_t)mem + 12 * pg;
	} else if (cmd == RGUP_IOC_RW) {
		struct rgup_rw *r = (void *)buf;

		r->size = sizeof(*r);
		r->flags = rnd() % 2;
		r->handle = 1 + rnd() % 3;
		r->offset = rnd() % pg;
		r->len = 1 + rnd() % pg;
		r->buf = (uintptr_t)mem + 12 * pg;
	} else {
		/* size first, then small handles or flags */
		w[0] = 64 | (1 + rnd() % 3) << 32;
		w[1] = addr;
		w[2] = len;
		w[3] = (uintptr_t)mem + 12 * pg;
	}
	if (rnd() % 2)
		w[rnd() % 8] = field();
	return buf;
}

int main(int argc, char **argv)
{
	uint64_t seed = 0x72677570ULL;	/* "rgup" */
	long calls = 20000, total = 0, ok = 0, bad = 0;
	unsigned char *buf;
	size_t i;
	int opt, fds[ARRAY_SIZE(nodes)];

	while ((opt = getopt(argc, argv, "s:n:")) != -1) {
		if (opt == 's')
			seed = strtoull(optarg, NULL, 0);
		else if (opt == 'n')
			calls = strtol(optarg, NULL, 0);
	}
	state = seed ? seed : 1;
	pg = getpagesize();
	mem = mmap(NULL, 32 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	buf = aligned_alloc(pg, 2 * pg);
	if (mem == MAP_FAILED || !buf || mprotect(mem + 16 * pg, pg, PROT_NONE))
		return 1;
	memset(mem, 0x5a, 16 * pg);
	printf("TAP version 13\n1..%zu\n", ARRAY_SIZE(nodes));
	printf("# seed %#llx, %ld calls (replay: rgup_ioctl_fuzz -s %#llx -n %ld)\n",
	       (unsigned long long)seed, calls, (unsigned long long)seed, calls);
	for (i = 0; i < ARRAY_SIZE(nodes); i++)
		fds[i] = open(nodes[i].path, O_RDWR);
	for (total = 0; total < calls; total++) {
		struct node *n = &nodes[rnd() % ARRAY_SIZE(nodes)];
		int fd = fds[n - nodes], ret;
		unsigned long cmd;
		void *arg;

		if (fd < 0)
			continue;
		switch (rnd() % 8) {
		case 0:
			cmd = rnd() & 0xffffffff;	/* any number */
			break;
		case 1:
			cmd = n->cmds[rnd() % n->ncmds] ^ (1UL << (rnd() % 32));
			break;
		default:
			cmd = n->cmds[rnd() % n->ncmds];
		}
		arg = rnd() % 2 ? valid_argument(cmd, buf, 2 * pg) : argument(buf, 2 * pg);
		if (rnd() % 64 == 0) {
			/* Now and then, start afresh: closing drops every pin and mirror. */
			close(fd);
			fd = open(n->path, O_RDWR);
			fds[n - nodes] = fd;
			if (fd < 0)
				continue;
		}
		ret = ioctl(fd, cmd, arg);
		n->calls++;
		if (ret >= 0)
			n->succeeded++;
		if (ret >= 0 || rgup_errno_documented(n->errnos, errno)) {
			n->ok++;
			ok++;
		} else {
			n->bad++;
			bad++;
			printf("# %s: cmd %#lx returned undocumented errno %d (%s)\n",
			       n->path, cmd, errno, strerror(errno));
		}
	}
	for (i = 0; i < ARRAY_SIZE(nodes); i++) {
		if (fds[i] < 0) {
			printf("ok %zu %s # SKIP not present\n", i + 1, nodes[i].path);
			continue;
		}
		close(fds[i]);
		printf("%sok %zu %s: %ld calls, %ld succeeded, %ld undocumented errnos\n",
		       nodes[i].bad ? "not " : "", i + 1, nodes[i].path, nodes[i].calls,
		       nodes[i].succeeded, nodes[i].bad);
	}
	printf("# fuzz calls: %ld, documented results: %ld, undocumented: %ld\n", total, ok, bad);
	return bad ? 1 : 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Bounded multi-threaded stress of /dev/rgup, with data verification and
 * SIGKILL of processes holding pins and mirrors.
 *
 * The parent keeps CHILDREN worker processes alive until the time or
 * iteration budget is spent, each with a random lifetime of up to a twentieth
 * of the run, and kills two in three of them with SIGKILL at a random point
 * of it; the others run out their life. A worker uses
 * either the parent's /dev/rgup file (inherited: its pins outlive it, in that
 * shared table, until the parent closes it) or one of its own. Its threads:
 *
 *  - mirror coherence: the CPU writes a new generation number to a page and
 *    the device reads it through a mirror; the device writes one and the CPU
 *    reads it. Each side sees exactly that generation, or 0 if the page was
 *    zapped in between (the disrupter counts its zaps): anything else, an
 *    older generation or a 0 no zap explains, is a stale translation. Every
 *    device access must succeed (or be EINTR, EBUSY: documented, and
 *    counted).
 *  - pin coherence: the device writes a pattern through a pin and reads it
 *    back through the pin (exact, whatever happens to the mapping), and the
 *    CPU sees the pattern or, only if the page was zapped since the pin,
 *    zeroes. Pinning this always-mapped memory must succeed (EINTR aside:
 *    the worker is being killed).
 *  - chaos: random pins, unpins, reads/writes, mirror creates, faults,
 *    snapshots and destroys over a region that
 *  - the disrupter munmaps, maps again, mremaps away and back, mprotects and
 *    zaps (MADV_DONTNEED), while it also zaps the coherence pages and forks
 *    children that write their copy-on-write copies and exit.
 *
 * At the end, with every worker gone and the parent's file closed: no stale
 * read was seen, the coherence threads did a minimum of work (MIN_PER_SECOND
 * checks of each kind per second of the run: a run that checked nothing
 * proves nothing), their pins and device accesses succeeded, every chaos
 * ioctl returned 0 or a documented errno, the FOLL_PIN pins are back where
 * they were and rgup's stats show nothing held. The runner fails the run on
 * any kernel splat.
 *
 *   rgup_stress [-t SECONDS] [-i ITERATIONS] [-s SEED]
 *
 * Defaults: 10 s, 1000000 iterations (ioctls and memory operations counted
 * together), a fixed seed printed for replay. Needs root and rgup.ko.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/rgup.h>

#include "rgup_test_util.h"

#define CHILDREN	3
#define COH_PAGES	16	/* each coherence thread's region */
#define CHAOS_PAGES	64
#define MAX_HANDLES	32
/*
 * At least this many checks of each kind (mirror read, mirror write, pin)
 * per second of the run: the test kernel does thousands, the debug kernel
 * on a busy host hundreds.
 */
#define MIN_PER_SECOND	10

/* Counters of all workers, in memory shared across fork(). */
struct totals {
	long iterations, stale, undocumented, calls, ok_calls;
	long mirror_reads, mirror_writes, pin_checks, failed_accesses, busy;
	long workers, killed, forks;
};

static struct totals *totals;
static long pg, max_iterations;
static double deadline;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void count(long *c, long n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

/* Per-thread xorshift64*. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static bool budget_left(double until)
{
	return now() < until && now() < deadline &&
	       __atomic_load_n(&totals->iterations, __ATOMIC_RELAXED) < max_iterations;
}

/* One ioctl of the chaos thread: 0 or a documented errno, counted. */
static int checked(int ret)
{
	count(&totals->calls, 1);
	if (!ret || rgup_errno_documented(rgup_documented_errnos, -ret)) {
		count(&totals->ok_calls, 1);
	} else {
		count(&totals->undocumented, 1);
		printf("# undocumented errno %d (%s)\n", -ret, strerror(-ret));
	}
	return ret;
}

struct worker {
	int fd;
	uint64_t seed;
	double until;
	unsigned char *mcoh, *pcoh;	/* the coherence regions */
	struct zaps {
		long started, done;	/* zaps of the region begun, finished */
	} mzaps, pzaps;
	unsigned char *chaos;		/* CHAOS_PAGES, may be unmapped at times */
	unsigned char *away;		/* where the disrupter mremaps the chaos region */
};

/* Whether to print one more problem: the first 20 of the run, not 60000. */
static bool tell(long *counter)
{
	return __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED) < 20;
}

/* A device access of a coherence thread: 0, or counted as a failure (EINTR and EBUSY aside). */
static bool access_ok(int ret, const char *what)
{
	if (!ret)
		return true;
	if (ret == -EBUSY)
		count(&totals->busy, 1);
	else if (ret != -EINTR && tell(&totals->failed_accesses))
		printf("# %s of always-mapped memory failed: %s\n", what, strerror(-ret));
	return false;
}

/*
 * A zap may have changed what an access saw if it ended after the access
 * began and began before the access ended: zaps begun by the end of it
 * (zaps_begun()) outnumber those done at its start (zaps_done()).
 */
static long zaps_done(struct zaps *z)
{
	return __atomic_load_n(&z->done, __ATOMIC_SEQ_CST);
}

static bool zapped_since(struct zaps *z, long done_before)
{
	return __atomic_load_n(&z->started, __ATOMIC_SEQ_CST) != done_before;
}

static void *mirror_coherence(void *arg)
{
	struct worker *w = arg;
	uint64_t s = w->seed ^ 0x6d6972726f72ULL, gen = 0, v;
	size_t len = COH_PAGES * pg;
	__u32 handle;

	if (checked(mirror_create(w->fd, w->mcoh, len, &handle)))
		return NULL;
	while (budget_left(w->until)) {
		unsigned char *page = w->mcoh + rnd(&s) % COH_PAGES * pg;
		long z = zaps_done(&w->mzaps);
		uint64_t old;

		gen++;
		/* CPU writes, the device reads: that, or 0 after a zap. */
		__atomic_store_n((uint64_t *)page, gen, __ATOMIC_SEQ_CST);
		if (access_ok(mirror_rw(w->fd, handle, 0, page, sizeof(v), &v, NULL),
			      "a mirror read")) {
			count(&totals->mirror_reads, 1);
			if (v != gen && (v != 0 || !zapped_since(&w->mzaps, z)) &&
			    tell(&totals->stale))
				printf("# stale device read: %llu, the CPU wrote %llu%s\n",
				       (unsigned long long)v, (unsigned long long)gen,
				       v ? "" : ", no zap");
		}
		/* The device writes, the CPU reads: that, or 0 after a zap. */
		gen++;
		v = gen;
		z = zaps_done(&w->mzaps);
		if (access_ok(mirror_rw(w->fd, handle, RGUP_MIRROR_RW_WRITE, page, sizeof(v), &v,
					NULL), "a mirror write")) {
			old = __atomic_load_n((uint64_t *)page, __ATOMIC_SEQ_CST);
			count(&totals->mirror_writes, 1);
			if (old != gen && (old != 0 || !zapped_since(&w->mzaps, z)) &&
			    tell(&totals->stale))
				printf("# device write not seen: the CPU reads %llu, not %llu%s\n",
				       (unsigned long long)old, (unsigned long long)gen,
				       old ? "" : ", no zap");
		}
		count(&totals->iterations, 1);
	}
	return NULL;
}

static void *pin_coherence(void *arg)
{
	struct worker *w = arg;
	uint64_t s = w->seed ^ 0x70696eULL;
	unsigned char *want = malloc(COH_PAGES * pg), *got = malloc(COH_PAGES * pg);

	while (want && got && budget_left(w->until)) {
		size_t first = rnd(&s) % COH_PAGES, n = 1 + rnd(&s) % (COH_PAGES - first);
		unsigned char *mem = w->pcoh + first * pg, b = rnd(&s) | 1;
		long z = zaps_done(&w->pzaps);
		size_t len = n * pg;
		struct rgup_pin p;

		/* The region is never unmapped: the pin must succeed. */
		if (!access_ok(do_pin(w->fd, mem, len, RGUP_PIN_WRITE, &p), "a pin"))
			continue;
		for (size_t i = 0; i < len; i++)
			want[i] = b + i / pg;
		/* Exact through the pin, whatever became of the mapping. */
		if (access_ok(do_rw(w->fd, p.handle, RGUP_RW_WRITE, 0, len, want),
			      "a pin write") &&
		    access_ok(do_rw(w->fd, p.handle, 0, 0, len, got), "a pin read")) {
			count(&totals->pin_checks, 1);
			if (memcmp(want, got, len) && tell(&totals->stale))
				printf("# pinned pages changed under the pin\n");
			/* The CPU: the device's bytes, or zeroes if zapped since the pin. */
			for (size_t i = 0; i < n; i++) {
				unsigned char c = __atomic_load_n(mem + i * pg, __ATOMIC_SEQ_CST);

				if (c == want[i * pg] || (c == 0 && zapped_since(&w->pzaps, z)))
					continue;
				if (tell(&totals->stale))
					printf("# the CPU reads %#x, the device wrote %#x%s\n",
					       c, want[i * pg], c ? "" : ", no zap");
			}
		}
		access_ok(do_unpin(w->fd, p.handle), "an unpin");
		count(&totals->iterations, 1);
	}
	free(want);
	free(got);
	return NULL;
}

static void *chaos(void *arg)
{
	struct worker *w = arg;
	uint64_t s = w->seed ^ 0x6368616f73ULL;
	__u32 pins[MAX_HANDLES] = { 0 }, mirrors[MAX_HANDLES] = { 0 };
	unsigned char *buf = malloc(CHAOS_PAGES * pg);

	while (buf && budget_left(w->until)) {
		size_t first = rnd(&s) % CHAOS_PAGES, n = 1 + rnd(&s) % (CHAOS_PAGES - first);
		unsigned char *mem = w->chaos + first * pg;
		unsigned int slot = rnd(&s) % MAX_HANDLES;
		struct rgup_mirror_snapshot snap = {
			.size = sizeof(snap), .handle = mirrors[slot],
			.addr = (uintptr_t)mem, .npages = 1, .states = (uintptr_t)buf,
		};
		struct rgup_pin p;

		switch (rnd(&s) % 8) {
		case 0:
			if (!pins[slot] && !checked(do_pin(w->fd, mem, n * pg,
							   rnd(&s) % 16 & RGUP_PIN_FLAGS &
							   ~RGUP_PIN_NO_ACCOUNT, &p)))
				pins[slot] = p.handle;
			break;
		case 1:
			if (pins[slot] && !checked(do_unpin(w->fd, pins[slot])))
				pins[slot] = 0;
			break;
		case 2:
			if (pins[slot])
				checked(do_rw(w->fd, pins[slot], rnd(&s) % 2 ? RGUP_RW_WRITE : 0,
					      0, pg, buf));
			break;
		case 3:
			if (!mirrors[slot])
				checked(mirror_create(w->fd, mem, n * pg, &mirrors[slot]));
			break;
		case 4:
		case 5:
			if (mirrors[slot])
				checked(mirror_rw(w->fd, mirrors[slot],
						  rnd(&s) % 2 ? RGUP_MIRROR_RW_WRITE : 0,
						  mem, pg, buf, NULL));
			break;
		case 6:
			if (mirrors[slot])
				checked(xioctl(w->fd, RGUP_IOC_MIRROR_SNAPSHOT, &snap));
			break;
		case 7:
			if (mirrors[slot] && !checked(mirror_destroy(w->fd, mirrors[slot])))
				mirrors[slot] = 0;
			break;
		}
		count(&totals->iterations, 1);
	}
	/* What is left stays for exit (or SIGKILL) to release. */
	free(buf);
	return NULL;
}

static void *disrupter(void *arg)
{
	struct worker *w = arg;
	uint64_t s = w->seed ^ 0x6469737275ULL;
	size_t clen = CHAOS_PAGES * pg;

	while (budget_left(w->until)) {
		unsigned char *coh = rnd(&s) % 2 ? w->mcoh : w->pcoh;
		struct zaps *zap;
		size_t first = rnd(&s) % CHAOS_PAGES, n = 1 + rnd(&s) % (CHAOS_PAGES - first);
		unsigned char *mem = w->chaos + first * pg;
		pid_t pid;

		switch (rnd(&s) % 8) {
		case 0:
		case 1:
			zap = coh == w->mcoh ? &w->mzaps : &w->pzaps;
			count(&zap->started, 1);
			madvise(coh + rnd(&s) % COH_PAGES * pg, pg, MADV_DONTNEED);
			count(&zap->done, 1);
			break;
		case 2:
			pid = fork();
			if (!pid) {
				/* Copy-on-write breaks in the child only. */
				w->mcoh[0]++;
				w->pcoh[pg]++;
				_exit(0);
			}
			if (pid > 0) {
				count(&totals->forks, 1);
				waitpid(pid, NULL, 0);
			}
			break;
		case 3:
			munmap(mem, n * pg);
			mmap(mem, n * pg, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
			break;
		case 4:
			/* Away and back: the pages move twice, their contents stay. */
			if (mremap(w->chaos, clen, clen, MREMAP_MAYMOVE | MREMAP_FIXED,
				   w->away) != MAP_FAILED)
				mremap(w->away, clen, clen, MREMAP_MAYMOVE | MREMAP_FIXED,
				       w->chaos);
			break;
		case 5:
			mprotect(mem, n * pg, rnd(&s) % 2 ? PROT_READ : PROT_NONE);
			break;
		case 6:
			mprotect(w->chaos, clen, PROT_READ | PROT_WRITE);
			break;
		case 7:
			madvise(mem, n * pg, MADV_DONTNEED);
			break;
		}
		count(&totals->iterations, 1);
	}
	return NULL;
}

static unsigned char *map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void worker(int parent_fd, uint64_t seed, double lifetime)
{
	void *(*fns[])(void *) = { mirror_coherence, pin_coherence, chaos, disrupter };
	pthread_t t[ARRAY_SIZE(fns)];
	struct worker w = {
		.seed = seed,
		.until = now() + lifetime,
	};

	/* What a worker prints must survive its SIGKILL. */
	setvbuf(stdout, NULL, _IONBF, 0);
	w.fd = seed % 2 ? parent_fd : open("/dev/rgup", O_RDWR | O_CLOEXEC);
	w.mcoh = map(COH_PAGES * pg);
	w.pcoh = map(COH_PAGES * pg);
	w.chaos = map(CHAOS_PAGES * pg);
	w.away = map(CHAOS_PAGES * pg);
	if (w.fd < 0 || !w.mcoh || !w.pcoh || !w.chaos || !w.away)
		_exit(2);
	memset(w.mcoh, 0, COH_PAGES * pg);
	memset(w.pcoh, 0, COH_PAGES * pg);
	for (size_t i = 0; i < ARRAY_SIZE(fns); i++)
		if (pthread_create(&t[i], NULL, fns[i], &w))
			_exit(3);
	for (size_t i = 0; i < ARRAY_SIZE(fns); i++)
		pthread_join(t[i], NULL);
	_exit(0);
}

int main(int argc, char **argv)
{
	uint64_t seed = 0x73747265ULL, s;	/* "stre" */
	double seconds = 10, max_life, elapsed;
	long least;
	bool enough;
	long pins_before, spawned = 0;
	struct kid {
		pid_t pid;
		double kill_at;		/* 0: let it run out its life */
	} kids[CHILDREN] = { 0 };
	const char *what = "";
	int fd, opt, status, n = 0;
	bool clean;

	max_iterations = 1000000;
	while ((opt = getopt(argc, argv, "t:i:s:")) != -1) {
		if (opt == 't')
			seconds = atof(optarg);
		else if (opt == 'i')
			max_iterations = atol(optarg);
		else if (opt == 's')
			seed = strtoull(optarg, NULL, 0);
	}
	pg = getpagesize();
	s = seed ? seed : 1;
	totals = mmap(NULL, sizeof(*totals), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	printf("TAP version 13\n1..6\n");
	printf("# seed %#llx, %g s, at most %ld iterations\n", (unsigned long long)seed, seconds,
	       max_iterations);
	printf("# replay: rgup_stress -s %#llx -t %g -i %ld\n", (unsigned long long)seed, seconds,
	       max_iterations);
	fflush(stdout);
	pins_before = foll_pins_outstanding();
	fd = open("/dev/rgup", O_RDWR | O_CLOEXEC);
	if (fd < 0 || totals == MAP_FAILED) {
		printf("Bail out! /dev/rgup: %s\n", strerror(errno));
		return 1;
	}
	deadline = now() + seconds;
	/* A worker lives up to a twentieth of the run (at least 0.5 s). */
	max_life = seconds / 20 > 0.5 ? seconds / 20 : 0.5;
	while (now() < deadline && totals->iterations < max_iterations) {
		for (int i = 0; i < CHILDREN; i++) {
			struct kid *k = &kids[i];

			if (!k->pid) {
				double life = 0.05 + max_life * (rnd(&s) % 1000) / 1000.0;
				uint64_t wseed = rnd(&s);

				/* Two in three die by SIGKILL, at a random point of their life. */
				k->kill_at = 0;
				if (rnd(&s) % 3)
					k->kill_at = now() + life * (rnd(&s) % 1000) / 1000.0;
				/* Nothing buffered for the child to print again. */
				fflush(stdout);
				k->pid = fork();
				if (!k->pid)
					worker(fd, wseed, life);
				if (k->pid < 0)
					k->pid = 0;
				else
					spawned++;
			} else if (k->kill_at && now() >= k->kill_at) {
				/* Wherever it is: pins and mirrors in hand. */
				if (!kill(k->pid, SIGKILL))
					count(&totals->killed, 1);
				waitpid(k->pid, NULL, 0);
				k->pid = 0;
			} else if (waitpid(k->pid, &status, WNOHANG) == k->pid) {
				if (!WIFEXITED(status) || WEXITSTATUS(status))
					printf("# worker %d ended: status %#x\n", k->pid, status);
				k->pid = 0;
			}
		}
		usleep(10000);
	}
	for (int i = 0; i < CHILDREN; i++)
		if (kids[i].pid)
			waitpid(kids[i].pid, NULL, 0);
	/* The inherited file's table still holds the workers' pins: drop them. */
	close(fd);
	printf("# stress iterations: %ld in %g s, %ld workers (%ld killed), %ld forks\n",
	       totals->iterations, seconds, spawned, totals->killed, totals->forks);
	elapsed = now() - (deadline - seconds);
	least = (long)(MIN_PER_SECOND * elapsed);
	printf("# coherence checks: %ld mirror reads, %ld mirror writes, %ld pins; %ld EBUSY\n",
	       totals->mirror_reads, totals->mirror_writes, totals->pin_checks, totals->busy);
	printf("%sok %d no stale device or CPU read in %ld coherence checks\n",
	       totals->stale ? "not " : "", ++n,
	       totals->mirror_reads + totals->mirror_writes + totals->pin_checks);
	enough = totals->mirror_reads >= least && totals->mirror_writes >= least &&
		 totals->pin_checks >= least;
	printf("%sok %d at least %ld checks of each kind in %.1f s\n", enough ? "" : "not ", ++n,
	       least, elapsed);
	printf("%sok %d every pin and device access of the coherence threads succeeded: %ld not\n",
	       totals->failed_accesses ? "not " : "", ++n, totals->failed_accesses);
	printf("%sok %d every chaos ioctl returned 0 or a documented errno: %ld calls, %ld not\n",
	       totals->undocumented ? "not " : "", ++n, totals->calls, totals->undocumented);
	clean = foll_pins_back_to(pins_before);
	printf("%sok %d FOLL_PIN pins back to %ld\n", clean ? "" : "not ", ++n, pins_before);
	clean = false;
	for (int i = 0; i < 500 && !clean; i++) {
		/* Mirrors of exited processes are released by their mm's teardown. */
		clean = rgup_holds_nothing(&what);
		if (!clean)
			usleep(10000);
	}
	printf("%sok %d rgup stats: nothing held after the last file closed%s%s\n",
	       clean ? "" : "not ", ++n, clean ? "" : ": ", clean ? "" : what);
	return totals->stale || totals->undocumented || totals->failed_accesses || !enough ||
	       !clean ? 1 : 0;
}

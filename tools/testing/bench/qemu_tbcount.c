// SPDX-License-Identifier: GPL-2.0
/*
 * A QEMU TCG plugin for count-bench.sh: how many times each translated block
 * of kernel code ran between two markers that the benchmark program executes
 * (rgup_count_bench.c: a "movabs" of COUNT_START, then one of COUNT_STOP, to
 * %rax), written at each stop marker as "vaddr instructions executions"
 * lines to FILE.N, N counting the windows from 0 (out=FILE, default
 * tbcount.txt). Instruction and block counts, unlike
 * times, do not depend on the host's load: under TCG they are what a
 * benchmark's time is made of (every block is a dispatch, a return an
 * indirect lookup). They are exact with one vCPU (the inline adds are not
 * atomic); what the kernel does meanwhile besides the benchmark (the timer
 * tick) is counted too, in proportion to the time.
 *
 * The API it uses is declared in qemu_plugin_api.h.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu_plugin_api.h"

EXPORT int qemu_plugin_version = 1;

/* The markers: "movabs $COUNT_START, %rax" (48 b8 imm64) and the same of COUNT_STOP. */
#define COUNT_START 0x5452415453505547ull	/* "GUPSTART" */
#define COUNT_STOP 0x504f545350505547ull	/* "GUPPSTOP" */

struct block {
	uint64_t vaddr, insns, runs;
	struct block *next;
};

static struct block *blocks;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const char *out = "tbcount.txt";
static unsigned int windows;

/* Writes the counts to out.N, N the number of windows written before. */
static void write_out(const char *suffix)
{
	char name[4200];
	struct block *b;
	FILE *f;

	if (suffix)
		snprintf(name, sizeof(name), "%s.%s", out, suffix);
	else
		snprintf(name, sizeof(name), "%s.%u", out, windows);
	windows++;
	f = fopen(name, "w");
	if (!f)
		return;
	pthread_mutex_lock(&lock);
	for (b = blocks; b; b = b->next)
		if (b->runs)
			fprintf(f, "%llx %llu %llu\n", (unsigned long long)b->vaddr,
				(unsigned long long)b->insns, (unsigned long long)b->runs);
	pthread_mutex_unlock(&lock);
	fclose(f);
}

/* The start marker ran: count from zero. */
static void start(unsigned int vcpu, void *unused)
{
	struct block *b;

	pthread_mutex_lock(&lock);
	for (b = blocks; b; b = b->next)
		b->runs = 0;
	pthread_mutex_unlock(&lock);
}

/* The stop marker ran: write the counts since the start. */
static void stop(unsigned int vcpu, void *unused)
{
	write_out(NULL);
}

/* Registers start() or stop() on the markers among the instructions of a user block. */
static void find_markers(struct qemu_plugin_tb *tb)
{
	size_t i, n = qemu_plugin_tb_n_insns(tb);

	for (i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		const unsigned char *data = qemu_plugin_insn_data(insn);
		uint64_t imm;

		if (qemu_plugin_insn_size(insn) != 10 || data[0] != 0x48 || data[1] != 0xb8)
			continue;
		memcpy(&imm, data + 2, sizeof(imm));
		if (imm == COUNT_START || imm == COUNT_STOP)
			qemu_plugin_register_vcpu_insn_exec_cb(insn,
							       imm == COUNT_START ? start : stop,
							       QEMU_PLUGIN_CB_NO_REGS, NULL);
	}
}

static void translated(uint64_t id, struct qemu_plugin_tb *tb)
{
	uint64_t vaddr = qemu_plugin_tb_vaddr(tb);
	struct block *b;

	if (vaddr < 0xffff800000000000ull) {	/* user space */
		find_markers(tb);
		return;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return;
	b->vaddr = vaddr;
	b->insns = qemu_plugin_tb_n_insns(tb);
	pthread_mutex_lock(&lock);
	b->next = blocks;
	blocks = b;
	pthread_mutex_unlock(&lock);
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &b->runs, 1);
}

/* No stop marker (the program failed): the whole boot's counts, marked as such by the name. */
static void at_exit(uint64_t id, void *unused)
{
	if (!windows)
		write_out("unmarked");
}

EXPORT int qemu_plugin_install(uint64_t id, const struct qemu_info *info, int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++)
		if (!strncmp(argv[i], "out=", 4))
			out = argv[i] + 4;
	qemu_plugin_register_vcpu_tb_trans_cb(id, translated);
	qemu_plugin_register_atexit_cb(id, at_exit, NULL);
	return 0;
}

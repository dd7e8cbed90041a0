/* SPDX-License-Identifier: GPL-2.0 */
/* What rgup's user-space benchmarks share: a clock and a sort for medians. */
#ifndef RGUP_BENCH_UTIL_H
#define RGUP_BENCH_UTIL_H

#include <time.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* CLOCK_MONOTONIC, in microseconds. */
static inline double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* qsort() comparison of doubles. */
static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

#endif /* RGUP_BENCH_UTIL_H */

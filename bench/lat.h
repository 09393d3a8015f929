/*
 * lat.h: round-trip samples and their summary, shared by bench/rtt.c and
 * bench/unixrtt.c (header only: each helper is one cc command).  The summary
 * is one line that bench/suite.py parses:
 *
 *	NAME: n=N p50_us=X p90_us=X p99_us=X mean_us=X min_us=X max_us=X
 */
#ifndef BENCH_LAT_H
#define BENCH_LAT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t
lat_now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec);
}

static int
lat_cmp(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

/* The q-quantile (nearest rank) of n sorted samples, in microseconds. */
static inline double
lat_q(const uint64_t *s, size_t n, double q)
{
	size_t	 k = (size_t)(q * (double)n + 0.999999);

	if (k == 0)
		k = 1;
	if (k > n)
		k = n;
	return ((double)s[k - 1] / 1e3);
}

/* Sort the n samples (ns) and print the summary line on stdout. */
static inline void
lat_report(const char *name, uint64_t *s, size_t n)
{
	double	 total = 0;
	size_t	 i;

	qsort(s, n, sizeof(*s), lat_cmp);
	for (i = 0; i < n; i++)
		total += (double)s[i];
	printf("%s: n=%zu p50_us=%.2f p90_us=%.2f p99_us=%.2f mean_us=%.2f "
	    "min_us=%.2f max_us=%.2f\n", name, n, lat_q(s, n, 0.50),
	    lat_q(s, n, 0.90), lat_q(s, n, 0.99), total / (double)n / 1e3,
	    (double)s[0] / 1e3, (double)s[n - 1] / 1e3);
}

#endif

/*
 * Log-linear histogram: percentiles and merging (see hist.h).
 */
#include <math.h>
#include <string.h>

#include "hist.h"

void
hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

/* The largest value that falls into bucket i. */
uint64_t
hist_bucket_high(unsigned i)
{
	unsigned	e, m;

	if (i < HIST_SUB)
		return (i);
	e = (i - HIST_SUB) / HIST_SUB + 4;
	m = (i - HIST_SUB) % HIST_SUB + HIST_SUB;
	if (e == 63 && m == 2 * HIST_SUB - 1)
		return (UINT64_MAX);
	return ((((uint64_t)m + 1) << (e - 4)) - 1);
}

/* Add every count of src into dst. */
void
hist_merge(struct hist *dst, const struct hist *src)
{
	unsigned	i;

	if (src->count == 0)
		return;
	for (i = 0; i < HIST_NBUCKETS; i++)
		dst->b[i] += src->b[i];
	if (dst->count == 0 || src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	dst->count += src->count;
	dst->sum += src->sum;
}

/*
 * The value at quantile q (0..1): the upper bound of the bucket holding the
 * ceil(q * count)-th smallest value, clamped to the observed min and max.
 */
uint64_t
hist_percentile(const struct hist *h, double q)
{
	uint64_t	rank, seen = 0, v;
	unsigned	i;

	if (h->count == 0)
		return (0);
	if (q <= 0)
		return (h->min);
	if (q >= 1)
		return (h->max);
	rank = (uint64_t)ceil(q * (double)h->count);
	if (rank == 0)
		rank = 1;
	for (i = 0; i < HIST_NBUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank)
			break;
	}
	v = hist_bucket_high(i);
	if (v > h->max)
		v = h->max;
	if (v < h->min)
		v = h->min;
	return (v);
}

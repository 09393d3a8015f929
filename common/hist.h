/*
 * A log-linear histogram of non-negative integers (latencies in
 * microseconds): exact below 16, then 16 sub-buckets per power of two, so a
 * reported percentile is within 1/16 (6.25%) of the true value.  Fixed size,
 * no allocation, O(1) insert.
 */
#ifndef DROVER_HIST_H
#define DROVER_HIST_H

#include <stdint.h>

#define HIST_SUB	16
#define HIST_NBUCKETS	(HIST_SUB + (64 - 4) * HIST_SUB)

struct hist {
	uint64_t	count;
	uint64_t	min;
	uint64_t	max;
	uint64_t	sum;
	uint64_t	b[HIST_NBUCKETS];
};

void		hist_init(struct hist *);
void		hist_merge(struct hist *, const struct hist *);
uint64_t	hist_percentile(const struct hist *, double);
uint64_t	hist_bucket_high(unsigned);

/* The bucket index of v. */
static inline unsigned
hist_index(uint64_t v)
{
	unsigned	e;

	if (v < HIST_SUB)
		return ((unsigned)v);
	e = 63 - (unsigned)__builtin_clzll(v);	/* e >= 4 */
	return (HIST_SUB + (e - 4) * HIST_SUB +
	    (unsigned)((v >> (e - 4)) - HIST_SUB));
}

/* Count one value. */
static inline void
hist_add(struct hist *h, uint64_t v)
{
	h->b[hist_index(v)]++;
	if (h->count == 0 || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->count++;
	h->sum += v;
}

/* Count n times one value. */
static inline void
hist_add_n(struct hist *h, uint64_t v, uint64_t n)
{
	if (n == 0)
		return;
	h->b[hist_index(v)] += n;
	if (h->count == 0 || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->count += n;
	h->sum += v * n;
}

/*
 * A run of equal values on their way into a histogram, counted in bulk:
 * the jobs of one dispatch round answered in one read of results have the
 * same latency, so most values repeat the one before.  The owner flushes
 * it (histrun_flush()) before the histogram is read.
 */
struct histrun {
	struct hist	*h;
	uint64_t	 v;
	uint64_t	 n;
};

/* Hand the run to its histogram. */
static inline void
histrun_flush(struct histrun *r)
{
	hist_add_n(r->h, r->v, r->n);
	r->n = 0;
}

/* Count one value: into the run, or the run out and a new one begun. */
static inline void
histrun_add(struct histrun *r, uint64_t v)
{
	if (r->n != 0 && v == r->v) {
		r->n++;
		return;
	}
	histrun_flush(r);
	r->v = v;
	r->n = 1;
}

/* Count n of one value. */
static inline void
histrun_add_n(struct histrun *r, uint64_t v, uint64_t n)
{
	if (r->n != 0 && v == r->v) {
		r->n += n;
		return;
	}
	histrun_flush(r);
	r->v = v;
	r->n = n;
}

#endif

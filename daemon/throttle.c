/*
 * Restart throttling (throttle.h): the backoff of failed starts, the count
 * of failed starts in a row against start_retries, and the restarts of the
 * last restart_period in a ring of restart_limit times.  The ring holds
 * exactly the limit: a restart is over it when the oldest of the last
 * `limit` restarts is younger than the period.
 */
#include <math.h>
#include <stdlib.h>

#include "throttle.h"
#include "xmalloc.h"

/*
 * Settings: limit restarts allowed per period_us (0: no limit),
 * start_retries failed starts in a row, backoff from backoff_initial to
 * backoff_max seconds.  No restart and no failed start counted yet.
 */
void
throttle_init(struct throttle *t, unsigned limit, uint64_t period_us,
    unsigned start_retries, double backoff_initial, double backoff_max)
{
	t->limit = limit;
	t->times = limit != 0 ? xcalloc(limit, sizeof(*t->times)) : NULL;
	t->head = t->count = 0;
	t->failed_starts = 0;
	throttle_set(t, limit, period_us, start_retries, backoff_initial,
	    backoff_max);
}

/*
 * New settings (a reload).  They apply from the next event on; the count
 * of restarts is kept unless the limit changes, which starts it over, and
 * the failed starts in a row are kept.
 */
void
throttle_set(struct throttle *t, unsigned limit, uint64_t period_us,
    unsigned start_retries, double backoff_initial, double backoff_max)
{
	if (limit != t->limit) {
		free(t->times);
		t->times = limit != 0 ? xcalloc(limit, sizeof(*t->times)) :
		    NULL;
		t->head = t->count = 0;
		t->limit = limit;
	}
	t->period_us = period_us;
	t->start_retries = start_retries;
	t->backoff_initial = backoff_initial;
	t->backoff_max = backoff_max;
}

void
throttle_free(struct throttle *t)
{
	free(t->times);
	t->times = NULL;
}

/*
 * Record one restart at now; true if that makes more than limit within
 * the period (the pool gives up; the restart is then not recorded).
 */
bool
throttle_restart(struct throttle *t, uint64_t now)
{
	unsigned	 lim = t->limit, oldest;

	if (lim == 0)
		return (false);
	if (t->count < lim) {
		t->times[(t->head + t->count) % lim] = now;
		t->count++;
		return (false);
	}
	oldest = t->head;
	if (now - t->times[oldest] < t->period_us)
		return (true);
	t->times[oldest] = now;
	t->head = (oldest + 1) % lim;
	return (false);
}

/*
 * The wait before the start after the k-th failed start in a row: none
 * after the first, then backoff_initial doubling up to backoff_max, times
 * a jitter of 0.8 to 1.2 from u, a draw in [0, 1] (0.5: none).
 */
uint64_t
throttle_backoff_us(const struct throttle *t, unsigned k, double u)
{
	double	 d;

	if (k <= 1)
		return (0);
	d = t->backoff_initial * pow(2, (double)(k - 2));
	if (d > t->backoff_max)
		d = t->backoff_max;
	d *= 0.8 + 0.4 * u;
	return ((uint64_t)(d * 1e6));
}

/*
 * Count a failed start.  True if it is more than start_retries in a row:
 * give up.  Else *delay is the wait before the next start (jitter u).
 */
bool
throttle_failed_start(struct throttle *t, double u, uint64_t *delay)
{
	t->failed_starts++;
	if (t->failed_starts > t->start_retries)
		return (true);
	*delay = throttle_backoff_us(t, t->failed_starts, u);
	return (false);
}

/* A worker started (it produced a result): failed starts start over. */
void
throttle_started(struct throttle *t)
{
	t->failed_starts = 0;
}

/* Failed starts in a row so far. */
unsigned
throttle_failed_starts(const struct throttle *t)
{
	return (t->failed_starts);
}

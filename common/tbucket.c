/*
 * Token bucket rate limiting (--rate/--burst, a pool's rate/burst).
 */
#include <math.h>
#include <stdint.h>

#include "tbucket.h"

/* The burst used when none is given: 10 ms worth of tokens, at least 1. */
double
tbucket_default_burst(double rate)
{
	double	 b = ceil(rate / 100.0);

	return (b < 1 ? 1 : b);
}

/* Start full, so that the first burst goes out at once. */
void
tbucket_init(struct tbucket *tb, double rate, double burst, uint64_t now)
{
	tb->rate = rate;
	tb->burst = burst < 1 ? 1 : burst;
	tb->tokens = tb->burst;
	tb->last_us = now;
}

/* Refill for the time elapsed since the last call. */
static void
tbucket_refill(struct tbucket *tb, uint64_t now)
{
	if (now > tb->last_us) {
		tb->tokens += (double)(now - tb->last_us) * tb->rate / 1e6;
		if (tb->tokens > tb->burst)
			tb->tokens = tb->burst;
	}
	tb->last_us = now;
}

/* Take up to want whole tokens at time now; return how many were granted. */
uint64_t
tbucket_take(struct tbucket *tb, uint64_t want, uint64_t now)
{
	uint64_t	have;

	if (tb->rate <= 0)
		return (want);
	tbucket_refill(tb, now);
	have = (uint64_t)floor(tb->tokens);
	if (have > want)
		have = want;
	tb->tokens -= (double)have;
	return (have);
}

/* Microseconds until one whole token is available (0 if one is now). */
uint64_t
tbucket_wait_us(const struct tbucket *tb)
{
	double	 need;

	if (tb->rate <= 0 || tb->tokens >= 1)
		return (0);
	need = (1 - tb->tokens) * 1e6 / tb->rate;
	return ((uint64_t)ceil(need));
}

/*
 * A token bucket: `rate` tokens a second, at most `burst` saved up.  Time is
 * passed in (microseconds, monotonic) so that tests control it.
 */
#ifndef DROVER_TBUCKET_H
#define DROVER_TBUCKET_H

#include <stdint.h>

struct tbucket {
	double		rate;		/* tokens per second; 0 = unlimited */
	double		burst;
	double		tokens;
	uint64_t	last_us;
};

void		tbucket_init(struct tbucket *, double, double, uint64_t);
uint64_t	tbucket_take(struct tbucket *, uint64_t, uint64_t);
uint64_t	tbucket_wait_us(const struct tbucket *);
double		tbucket_default_burst(double);

#endif

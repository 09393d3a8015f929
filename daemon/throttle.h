/*
 * Restart throttling: how soon a pool may start a worker again and when it
 * must give up, as pure arithmetic on times and draws passed in (no clock,
 * no random number, no event loop), so that every rule is unit-tested on
 * an explicit clock (tests/unit/test_throttle.c).
 *
 *	failed starts	consecutive ones back off exponentially (none
 *			before the first retry, then backoff_initial,
 *			doubling, up to backoff_max, +-20% jitter); more
 *			than start_retries in a row: give up;
 *	restarts	more than limit within period_us: give up;
 *			limit 0 is no limit.
 *
 * The semantics are droverd.conf(5)'s RESTART POLICY.
 */
#ifndef DROVER_THROTTLE_H
#define DROVER_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>

struct throttle {
	unsigned	 limit;		/* restarts per period; 0 = any */
	uint64_t	 period_us;
	unsigned	 start_retries;	/* failed starts in a row allowed */
	double		 backoff_initial;	/* seconds */
	double		 backoff_max;		/* seconds */

	unsigned	 failed_starts;	/* in a row */
	uint64_t	*times;		/* ring of the last limit restarts */
	unsigned	 head;		/* the oldest of them */
	unsigned	 count;
};

void		 throttle_init(struct throttle *, unsigned, uint64_t,
		    unsigned, double, double);
void		 throttle_set(struct throttle *, unsigned, uint64_t,
		    unsigned, double, double);
void		 throttle_free(struct throttle *);
bool		 throttle_restart(struct throttle *, uint64_t);
uint64_t	 throttle_backoff_us(const struct throttle *, unsigned,
		    double);
bool		 throttle_failed_start(struct throttle *, double, uint64_t *);
void		 throttle_started(struct throttle *);
unsigned	 throttle_failed_starts(const struct throttle *);

#endif

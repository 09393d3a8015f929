/*
 * A dynamic pool's size (min_workers..max_workers, as php-fpm's
 * pm = dynamic): it grows by one worker while jobs wait and every worker
 * is busy, by at most spawn_rate workers a second, and retires a worker
 * that has idled for idle_timeout, down to min_workers.  Only the target
 * moves here; pool_maintain() (pool_spawn.c) spawns to it, and a retired
 * worker finishes what it holds first, so no job is lost either way.
 */
#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "clock.h"
#include "log.h"
#include "pool.h"
#include "pool_impl.h"
#include "poolconf.h"
#include "timer.h"
#include "worker.h"

#define POOL_SCALE_TICK_US	1000000	/* look for idle workers */
#define POOL_SCALE_TICK_MIN_US	10000

bool
pool_dynamic(const struct pool *p)
{
	return (p->pc->max_workers != 0);
}

/* How often to look for idle workers: often enough for idle_timeout. */
static uint64_t
pool_scale_tick_us(const struct pool *p)
{
	uint64_t	 us = (uint64_t)(p->pc->idle_timeout * 1e6 / 2);

	return (us > POOL_SCALE_TICK_US ? POOL_SCALE_TICK_US :
	    us < POOL_SCALE_TICK_MIN_US ? POOL_SCALE_TICK_MIN_US : us);
}

/* Every worker busy: none ready with room, none starting (on its way). */
static bool
pool_all_busy(const struct pool *p)
{
	const struct member	*m;
	size_t			 i;

	for (i = 0; i < p->nmembers; i++) {
		m = &p->members[i];
		if (m->retired)
			continue;
		if (worker_state(m->w) == WS_STARTING)
			return (false);
		if (worker_state(m->w) == WS_READY &&
		    worker_room(m->w, p->window) != 0)
			return (false);
	}
	return (true);
}

/*
 * After a round of dispatch: jobs still wait (not those of a held batch)
 * and no worker can take one, so one more worker, unless the pool is at
 * max_workers, short of fds, or grew less than 1/spawn_rate s ago (then
 * it looks again when that is over).
 */
void
pool_scale_up(struct pool *p)
{
	uint64_t	 now;

	if (!pool_dynamic(p) || p->state != POOL_RUNNING ||
	    jobq_len(&p->queue) == 0 || p->target >= p->pc->max_workers ||
	    p->shortage[0] != '\0' || !pool_all_busy(p))
		return;
	now = clock_us();
	if (now < p->scale_next_us) {
		if (!evtimer_pending(p->ev_grow, NULL))
			timer_arm_us(p->ev_grow, p->scale_next_us - now);
		return;
	}
	p->scale_next_us = now + (uint64_t)(1e6 / p->pc->spawn_rate);
	p->target++;
	log_debug("%s: %u workers (jobs wait, every worker is busy)",
	    p->pc->name, p->target);
	pool_maintain(p);
}

/* Retire the workers idle for idle_timeout, down to min_workers. */
static void
pool_scale_down(struct pool *p, uint64_t now)
{
	uint64_t	 limit = (uint64_t)(p->pc->idle_timeout * 1e6);
	struct member	*m;
	size_t		 i;

	for (i = 0; i < p->nmembers && p->target > p->pc->min_workers; i++) {
		m = &p->members[i];
		if (m->retired || worker_state(m->w) != WS_READY ||
		    worker_inflight(m->w) != 0 || m->idle_since_us == 0 ||
		    now - m->idle_since_us < limit)
			continue;
		p->target--;
		m->retired = true;
		m->planned = RESTART_NREASONS;	/* no restart: smaller */
		log_debug("%s[%u] (pid %d): idle for %gs; %u workers",
		    p->pc->name, worker_id(m->w), (int)worker_pid(m->w),
		    p->pc->idle_timeout, p->target);
		worker_retire(m->w);
	}
}

/* The spawn-rate wait is over: grow if it is still called for. */
void
pool_grow_cb(int fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pool_scale_up(arg);
}

/* The tick of a dynamic pool: shrink what idles. */
void
pool_scale_cb(int fd, short what, void *arg)
{
	struct pool	*p = arg;

	(void)fd;
	(void)what;
	if (!pool_dynamic(p) || p->state != POOL_RUNNING)
		return;
	pool_scale_down(p, clock_us());
	timer_arm_us(p->ev_scale, pool_scale_tick_us(p));
}

/*
 * Start the tick (pool_start(), or a reload that made the pool dynamic),
 * and after a reload put the target back in range: a fixed pool goes to
 * its workers, a dynamic one keeps its size within min..max.
 */
void
pool_scale_reset(struct pool *p)
{
	if (!pool_dynamic(p)) {
		p->target = p->pc->workers;
		evtimer_del(p->ev_scale);
		return;
	}
	if (p->target < p->pc->min_workers)
		p->target = p->pc->min_workers;
	if (p->target > p->pc->max_workers)
		p->target = p->pc->max_workers;
	if (!evtimer_pending(p->ev_scale, NULL))
		timer_arm_us(p->ev_scale, pool_scale_tick_us(p));
}

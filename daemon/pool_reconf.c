/*
 * New settings for a running pool: pool_reconfigure() (a reload),
 * pool_resize() (a new number of workers) and pool_replace_workers().
 * Hot settings apply at once; settings that need new workers make a new
 * generation, and pool_roll() retires one old worker at a time, each
 * finishing its jobs first, so that capacity dips by at most one.  The
 * old generations' settings live until their last worker is gone.
 */
#include <stdbool.h>
#include <stdlib.h>

#include <event2/event.h>

#include "clock.h"
#include "log.h"
#include "pool.h"
#include "pool_impl.h"
#include "poolconf.h"
#include "settings.h"
#include "tbucket.h"
#include "throttle.h"
#include "worker.h"
#include "xmalloc.h"

/*
 * After a reload that needs new workers: retire one worker still on old
 * settings, unless one is already on its way out; pool_maintain() starts its
 * replacement.  One at a time, so capacity dips by at most one worker.
 */
void
pool_roll(struct pool *p)
{
	size_t	 i, stale = p->nmembers;

	for (i = 0; i < p->nmembers; i++) {
		if (p->members[i].rolling)
			return;
		if (p->members[i].pc != p->pc && !p->members[i].retired &&
		    stale == p->nmembers)
			stale = i;
	}
	if (stale == p->nmembers)
		return;
	log_info("%s[%u] (pid %d): replacing it to apply new settings",
	    p->pc->name, worker_id(p->members[stale].w),
	    (int)worker_pid(p->members[stale].w));
	p->members[stale].retired = true;
	p->members[stale].rolling = true;
	p->members[stale].planned = RESTART_NREASONS;
	worker_retire(p->members[stale].w);
}

/* Change the number of workers (SIGTTIN/SIGTTOU, reload). */
void
pool_resize(struct pool *p, unsigned n)
{
	if (n > POOLCONF_MAX_WORKERS)
		n = POOLCONF_MAX_WORKERS;
	p->target = n;
	p->pc->workers = n;
	pool_maintain(p);
}

/* Replace every worker, one after the other as each retires. */
void
pool_replace_workers(struct pool *p)
{
	size_t	 i;

	for (i = 0; i < p->nmembers; i++) {
		if (p->members[i].retired)
			continue;
		p->members[i].retired = true;
		p->members[i].planned = RESTART_RECYCLE;
		worker_retire(p->members[i].w);
	}
	pool_maintain(p);
}

/* The steps of hot changes (SET_*, settings.h), one function each. */
static void
pool_set_window(struct pool *p)
{
	if (p->pc->window != 0)
		p->window = p->pc->window;
	else if (p->window > p->pc->window_max)
		p->window = p->pc->window_max;
}

static void
pool_set_rate(struct pool *p)
{
	tbucket_init(&p->tb, p->pc->rate, p->pc->burst, clock_us());
}

/* The count of restarts starts over only if restart_limit changed. */
static void
pool_set_throttle(struct pool *p)
{
	throttle_set(&p->thr, p->pc->restart_limit,
	    (uint64_t)(p->pc->restart_period * 1e6), p->pc->start_retries,
	    p->pc->backoff_initial, p->pc->backoff_max);
}

static void
pool_set_rss(struct pool *p)
{
	if (p->pc->max_rss_mb == 0)
		evtimer_del(p->ev_rss);
	else if (!evtimer_pending(p->ev_rss, NULL))
		timer_arm_us(p->ev_rss, POOL_RSS_CHECK_US);
}

static void
pool_set_recycle(struct pool *p)
{
	size_t	 i;

	for (i = 0; i < p->nmembers; i++)
		if (!p->members[i].retired)
			p->members[i].recycle_after = pool_recycle_after(p);
}

/* A running job's timer follows a new job_timeout at once. */
static void
pool_set_timeout(struct pool *p)
{
	uint64_t	 now = clock_us();
	size_t		 i;

	for (i = 0; i < p->nmembers; i++)
		worker_timeout_changed(p->members[i].w, now);
}

/* SET_WORKERS needs no step of its own: every change resets the target. */
static void
pool_set_workers(struct pool *p)
{
	(void)p;
}

static const struct {
	unsigned	 effect;
	void		(*step)(struct pool *);
} pool_steps[] = {
	{ SET_WORKERS, pool_set_workers },
	{ SET_WINDOW, pool_set_window },
	{ SET_RATE, pool_set_rate },
	{ SET_THROTTLE, pool_set_throttle },
	{ SET_RSS, pool_set_rss },
	{ SET_RECYCLE, pool_set_recycle },
	{ SET_TIMEOUT, pool_set_timeout },
};

/* The SET_* effects the pool has a step for (checked by test_conf). */
unsigned
pool_hot_effects(void)
{
	unsigned	 all = 0;
	size_t		 i;

	for (i = 0; i < sizeof(pool_steps) / sizeof(pool_steps[0]); i++)
		all |= pool_steps[i].effect;
	return (all);
}

/*
 * Apply new settings (same name).  apply says how they changed
 * (settings.h).  Hot settings take effect at once, in the settings of
 * every worker (those of a rolling replacement's old workers too), and
 * each changed row's step runs.  Changes that need new workers keep the
 * old settings alive for the old workers and roll them one by one.  The
 * target goes back to the configured size: a runtime scale lasts until a
 * reload changes the pool.
 */
void
pool_reconfigure(struct pool *p, const struct poolconf *npc, unsigned apply)
{
	struct poolconf	*old = p->pc;
	unsigned	 effects;
	size_t		 i;

	for (i = 0; i < p->noldpcs; i++)
		(void)poolconf_apply_hot(p->oldpcs[i], npc);
	effects = poolconf_apply_hot(p->pc, npc);
	if (apply & APPLY_REPLACE) {
		p->oldpcs = xreallocarray(p->oldpcs, p->noldpcs + 1,
		    sizeof(*p->oldpcs));
		p->oldpcs[p->noldpcs++] = old;
		p->pc = poolconf_dup(npc);
		pool_release_pc(p, old);
	}
	for (i = 0; i < sizeof(pool_steps) / sizeof(pool_steps[0]); i++)
		if (effects & pool_steps[i].effect)
			pool_steps[i].step(p);
	pool_scale_reset(p);
	pool_maintain(p);
	pool_kick(p);
}

/* Free old settings once no worker uses them any more. */
void
pool_release_pc(struct pool *p, struct poolconf *pc)
{
	size_t	 i;

	if (pc == p->pc)
		return;
	for (i = 0; i < p->nmembers; i++)
		if (p->members[i].pc == pc)
			return;
	for (i = 0; i < p->noldpcs; i++) {
		if (p->oldpcs[i] != pc)
			continue;
		poolconf_free(pc);
		p->oldpcs[i] = p->oldpcs[--p->noldpcs];
		return;
	}
}

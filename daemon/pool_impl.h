/*
 * The inside of a pool, shared by the files that implement it and by no
 * one else: struct pool and struct member, the constants of its policy,
 * and the functions one part calls in another.  Each part is one file:
 *
 *	pool.c		lifecycle (new, free, start, stop, fail, drain),
 *			batches (attach, room, submit, cancel, hold), accessors
 *	pool_spawn.c	the number of workers: spawning, spawn errors,
 *			running short of fds, pool_maintain()
 *	pool_dispatch.c	the path of a job: queue to worker (pump, pick, the
 *			adaptive window, the rate limit) and result to batch
 *	pool_settle.c	a worker's end: its jobs settled and who is charged,
 *			restart counting and backoff, exit 125, recycling
 *	pool_reconf.c	new settings: reconfigure, resize, rolling replacement
 */
#ifndef DROVER_POOL_IMPL_H
#define DROVER_POOL_IMPL_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <event2/event.h>

#include "batch.h"
#include "jobq.h"
#include "pool.h"
#include "tbucket.h"
#include "throttle.h"
#include "timer.h"

struct frame_result;
struct job;
struct poolconf;
struct worker;

#define POOL_WINDOW_TARGET_US	1000.0	/* work in flight per worker */
#define POOL_QUEUE_MIN		1024	/* jobs queued before backpressure */
#define POOL_QUEUE_BYTES	(16 * 1024 * 1024)
#define POOL_RSS_CHECK_US	1000000
#define POOL_BUFFERED_CHECK_US	1000000
#define POOL_BUFFERED_US	3000000	/* silent this long while reading */
#define POOL_EXIT_NORESPAWN	125
#define POOL_SHORT_RETRY_US	100000	/* the least wait of a shortage */
#define POOL_WORKER_FDS		3	/* a worker's fds in the supervisor */

/* A worker as the pool tracks it. */
struct member {
	struct worker	*w;
	struct poolconf	*pc;		/* the settings it was started with */
	uint64_t	 recycle_after;	/* jobs before a planned replacement */
	uint64_t	 busy_since_us;	/* start of the current busy stretch */
	uint64_t	 idle_since_us;	/* holding no job since; 0: busy */
	bool		 results;	/* has returned at least one result */
	enum restart_reason planned;	/* why we retired it, if we did */
	bool		 retired;
	bool		 rolling;	/* retired to apply new settings */
	uint64_t	 read_us;	/* when its stdout last had bytes */
	bool		 buffered;	/* warned that it holds its output */
};

struct pool {
	struct event_base	*base;
	struct poolconf		*pc;
	const struct pool_hooks	*hooks;
	void			*arg;
	enum pool_state		 state;
	char			 failure[512];

	struct member		*members;
	size_t			 nmembers;
	size_t			 capmembers;
	unsigned		 target;
	struct poolconf		**oldpcs;	/* old workers' settings */
	size_t			 noldpcs;
	uint64_t		*id_restarts;	/* restarts by worker id */
	size_t			 nid_restarts;

	struct jobq		 queue;
	struct jobq		 parked;	/* held batches' (pool_hold) */
	uint64_t		 queued_bytes;	/* queue and parked */
	size_t			 inflight;
	TAILQ_HEAD(, batch)	 batches;
	size_t			 nbatches;
	TAILQ_HEAD(, batch)	 waiters;

	double			 svc_us;	/* moving average per job */
	unsigned		 window;

	struct tbucket		 tb;
	struct event		*ev_rate;
	struct event		*ev_pump;
	struct event		*ev_spawn;
	struct event		*ev_rss;
	struct event		*ev_scale;	/* dynamic: idle workers */
	struct event		*ev_grow;	/* dynamic: spawn_rate wait */
	uint64_t		 scale_next_us;	/* dynamic: may grow from */
	struct event		*ev_buffered;	/* line and tagged workers */
	struct event		*ev_stopped;

	struct throttle		 thr;		/* restart backoff and limits */
	uint64_t		 next_spawn_us;
	unsigned		 short_tries;	/* short spawns in a row */
	char			 shortage[512];	/* why it is short, or "" */

	bool			 stop_now;
	bool			 kicked;	/* ev_pump is active */
	struct pool_stats	 stats;
	/*
	 * Latencies on their way into stats.duration, in bulk (hist.h);
	 * flushed by pool_stats(), so a separate allocation, which a const
	 * pool may still write.
	 */
	struct histrun		*durrun;
};

/* A draw in [0, 1] for the jitter of a backoff. */
static inline double
pool_jitter(void)
{
	return ((double)random() / RAND_MAX);
}

void		 pool_kick_arm(struct pool *);

/* Ask for a pump at the end of this loop turn (coalesces submits). */
static inline void
pool_kick(struct pool *p)
{
	if (!p->kicked)
		pool_kick_arm(p);
}

/* pool.c */
struct member	*pool_member(struct pool *, const struct worker *);
void		 pool_wake_waiters(struct pool *);
void		 pool_check_drained(struct pool *);
void		 pool_check_stopped(struct pool *);

/* pool_spawn.c */
void		 pool_spawn_cb(int, short, void *);
void		 pool_maintain(struct pool *);
unsigned	 pool_active(const struct pool *);
void		 pool_spawn_failed(struct pool *, const char *, int);

/* pool_scale.c */
bool		 pool_dynamic(const struct pool *);
void		 pool_scale_up(struct pool *);
void		 pool_scale_reset(struct pool *);
void		 pool_scale_cb(int, short, void *);
void		 pool_grow_cb(int, short, void *);

/* pool_dispatch.c */
void		 pool_pump_cb(int, short, void *);
void		 pool_pump(struct pool *);
void		 pool_finish(struct pool *, struct job *, enum job_status,
		    const char *, size_t, const struct worker *, uint64_t);
void		 pool_finish_now(struct pool *, struct job *, enum job_status,
		    const char *);
void		 pool_on_ready(struct worker *, void *);
void		 pool_on_result(struct worker *, struct job *, bool,
		    const struct frame_result *, uint64_t, void *);
size_t		 pool_on_run_len(struct worker *, struct job *const *,
		    size_t, void *);
void		 pool_on_result_run(struct worker *, struct job *const *,
		    const char *, size_t, enum num_kind, uint64_t, void *);
void		 pool_on_read_end(struct worker *, unsigned, uint64_t, void *);

/* pool_settle.c */
void		 pool_rss_cb(int, short, void *);
uint64_t	 pool_recycle_after(const struct pool *);
void		 pool_check_recycle(struct pool *, struct member *);
void		 pool_failed_start(struct pool *, const char *, const char *,
		    uint64_t);
void		 pool_on_timeout(struct worker *, struct job *, void *);
void		 pool_on_dead(struct worker *, void *);

/* pool_reconf.c */
void		 pool_roll(struct pool *);
void		 pool_release_pc(struct pool *, struct poolconf *);

#endif

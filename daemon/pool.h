/*
 * A pool: N worker processes running one command, a queue of jobs from any
 * number of batches, and the policy that keeps results exact whatever the
 * workers do (docs/architecture.md): dispatch to the least loaded worker
 * through an adaptive window, rate limiting, retries charged to the job that
 * most likely caused a crash, restart with backoff and limits, recycling,
 * and a graceful or immediate stop.
 */
#ifndef DROVER_POOL_H
#define DROVER_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "hist.h"
#include "status.h"

struct event_base;
struct iovec;
struct pool;
struct poolconf;
struct worker;

enum pool_state {
	POOL_RUNNING,
	POOL_DRAINING,	/* finishing queued and in-flight jobs, then stop */
	POOL_STOPPING,	/* workers are being retired or killed */
	POOL_STOPPED,
	POOL_FAILED,	/* gave up restarting; jobs fail fast */
};

enum restart_reason {
	RESTART_CRASH,		/* exited or killed by a signal on its own */
	RESTART_TIMEOUT,	/* killed by us: a job timed out */
	RESTART_PROTOCOL,	/* killed by us: broken stream */
	RESTART_START,		/* failed to start */
	RESTART_RECYCLE,	/* max_jobs_per_worker (planned) */
	RESTART_RSS,		/* max_rss_mb (planned) */
	RESTART_NREASONS
};

struct pool_stats {
	uint64_t	jobs[JOB_NSTATUS];
	uint64_t	restarts[RESTART_NREASONS];
	uint64_t	rate_limited;	/* dispatch rounds held by the bucket */
	uint64_t	retried;	/* jobs requeued after a worker died */
	struct hist	duration;	/* latency of finished runs, us */
};

/* How pool_stop() ends the pool. */
enum pool_stop {
	POOL_STOP_DRAIN,	/* finish queued and in-flight jobs first */
	POOL_STOP_TERM,		/* cancel the queue; SIGTERM, then SIGKILL */
	POOL_STOP_KILL,		/* cancel the queue; SIGKILL now */
};

struct pool_hooks {
	/* The pool gave up (restart limits, spawn failure). */
	void	(*failed)(struct pool *, const char *, void *);
	/* After pool_stop(): every worker is gone. */
	void	(*stopped)(struct pool *, void *);
	/* Optional: the last batch detached. */
	void	(*idle)(struct pool *, void *);
	/*
	 * Optional: the lowest free fd must stay below this after a spawn,
	 * so that the fds above are left for others (droverd's clients).
	 */
	int	(*fd_ceiling)(struct pool *, void *);
};

/* One worker as status reports show it. */
struct pool_worker_info {
	pid_t		 pid;
	unsigned	 id;
	const char	*state;
	uint64_t	 jobs;
	size_t		 inflight;
	uint64_t	 age_us;	/* the oldest job's run time */
	uint64_t	 uptime_us;
	uint64_t	 rss_kb;
	uint64_t	 restarts;	/* unplanned, for this worker id */
};

struct pool	*pool_new(struct event_base *, const struct poolconf *,
		    const struct pool_hooks *, void *);
void		 pool_free(struct pool *);
int		 pool_start(struct pool *);
void		 pool_stop(struct pool *, enum pool_stop, const char *);
void		 pool_resize(struct pool *, unsigned);
void		 pool_replace_workers(struct pool *);
void		 pool_reconfigure(struct pool *, const struct poolconf *,
		    unsigned);
unsigned	 pool_hot_effects(void);

void		 pool_attach(struct pool *, struct batch *);
void		 pool_detach(struct pool *, struct batch *);
size_t		 pool_room(const struct pool *);
void		 pool_wait_room(struct pool *, struct batch *);
bool		 pool_takes_runs(const struct pool *);
size_t		 pool_submit_run(struct pool *, struct batch *, uint64_t,
		    const struct iovec *, size_t);
void		 pool_submit(struct pool *, struct batch *, uint64_t,
		    const char *, size_t);
void		 pool_resubmit(struct pool *, struct batch *, uint64_t,
		    const char *, size_t, unsigned, unsigned);
void		 pool_reject(struct pool *, struct batch *, uint64_t,
		    const char *);
void		 pool_fail(struct pool *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 pool_cancel(struct pool *, struct batch *, const char *);
void		 pool_hold(struct pool *, struct batch *, bool);

const char	*pool_name(const struct pool *);
const struct poolconf *pool_conf(const struct pool *);
enum pool_state	 pool_state(const struct pool *);
const char	*pool_state_name(enum pool_state);
const char	*pool_failure(const struct pool *);
size_t		 pool_queued(const struct pool *);
size_t		 pool_nbatches(const struct pool *);
bool		 pool_finished(const struct pool *);
size_t		 pool_inflight(const struct pool *);
unsigned	 pool_target(const struct pool *);
unsigned	 pool_window(const struct pool *);
size_t		 pool_nworkers(const struct pool *);
size_t		 pool_ready(const struct pool *);
bool		 pool_up(const struct pool *);
bool		 pool_replacing(const struct pool *);
bool		 pool_started(const struct pool *);
const char	*pool_shortage(const struct pool *);
void		 pool_worker_info(const struct pool *, size_t,
		    struct pool_worker_info *);
const struct pool_stats *pool_stats(const struct pool *);
uint64_t	 pool_restarts(const struct pool *);
const char	*restart_reason_name(enum restart_reason);

#endif

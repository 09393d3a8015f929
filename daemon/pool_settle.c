/*
 * The end of a worker's life, as the pool judges it.  A worker is over when
 * its exit status and EOF on its stdout are both in, in either order
 * (worker.c); pool_on_dead() then settles the jobs it held: the one that
 * timed out, or else the oldest, is charged an attempt, since it most
 * likely killed the worker; the others go back to the front of the queue
 * uncharged, so that innocent jobs sharing a window with a poison job do
 * not run out of attempts.
 *
 * Restart policy (s6, supervisord, Erlang): a worker that dies before its
 * first result and within start_secs failed to start; consecutive failed
 * starts back off exponentially with jitter and, past start_retries, fail
 * the pool with the last thing the worker printed.  Any restart counts
 * toward restart_limit per restart_period (the arithmetic of both is
 * throttle.c's).  Exit status 125 means "do not respawn".
 *
 * Planned ends are here too: recycling after max_jobs_per_worker jobs or
 * above max_rss_mb of resident memory.
 */
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "clock.h"
#include "job.h"
#include "jobq.h"
#include "log.h"
#include "pool.h"
#include "pool_impl.h"
#include "poolconf.h"
#include "throttle.h"
#include "worker.h"
#include "xmalloc.h"

/* Retire workers whose resident size is over max_rss_mb. */
void
pool_rss_cb(int fd, short what, void *arg)
{
	struct pool	*p = arg;
	struct member	*m;
	uint64_t	 kb, limit = p->pc->max_rss_mb * 1024;
	size_t		 i;

	(void)fd;
	(void)what;
	if (limit == 0)
		return;		/* a reload turned the limit off */
	for (i = 0; i < p->nmembers; i++) {
		m = &p->members[i];
		if (m->retired || worker_state(m->w) != WS_READY)
			continue;
		if ((kb = worker_rss_kb(m->w)) <= limit)
			continue;
		log_info("%s[%u] (pid %d): RSS %llu MiB over max_rss_mb %llu; "
		    "replacing it", p->pc->name, worker_id(m->w),
		    (int)worker_pid(m->w), (unsigned long long)(kb / 1024),
		    (unsigned long long)p->pc->max_rss_mb);
		m->retired = true;
		m->planned = RESTART_RSS;
		worker_retire(m->w);
	}
	pool_maintain(p);
	if (p->state == POOL_RUNNING || p->state == POOL_DRAINING)
		timer_arm_us(p->ev_rss, POOL_RSS_CHECK_US);
}

/* How many jobs a new worker does before a planned replacement. */
uint64_t
pool_recycle_after(const struct pool *p)
{
	uint64_t	 n = p->pc->max_jobs_per_worker, jitter;

	if (n == 0)
		return (UINT64_MAX);
	jitter = n / 10;
	return (n + (jitter != 0 ? (uint64_t)random() % (jitter + 1) : 0));
}

/* A worker that has done its share (max_jobs_per_worker): replace it. */
void
pool_check_recycle(struct pool *p, struct member *m)
{
	struct worker	*w = m->w;

	if (!m->retired && worker_jobs_done(w) >= m->recycle_after &&
	    worker_state(w) == WS_READY) {
		log_info("%s[%u] (pid %d): %llu jobs done; replacing it",
		    p->pc->name, worker_id(w), (int)worker_pid(w),
		    (unsigned long long)worker_jobs_done(w));
		m->retired = true;
		m->planned = RESTART_RECYCLE;
		worker_retire(w);
		pool_maintain(p);
	}
}

/* A job ran past job_timeout: kill its worker; pool_on_dead settles it. */
void
pool_on_timeout(struct worker *w, struct job *j, void *arg)
{
	struct pool	*p = arg;

	worker_kill(w, "job timed out after %gs", p->pc->job_timeout);
	log_warnx("%s[%u] (pid %d): job %llu timed out after %gs; killed",
	    p->pc->name, worker_id(w), (int)worker_pid(w),
	    (unsigned long long)j->id, p->pc->job_timeout);
}

/* Why a worker went: the restart reason for the metrics. */
static enum restart_reason
pool_death_reason(const struct member *m, bool failed_start)
{
	const char	*d = worker_death(m->w);

	if (m->retired && worker_retired_cleanly(m->w) &&
	    m->planned != RESTART_NREASONS)
		return (m->planned);
	if (failed_start)
		return (RESTART_START);
	if (strncmp(d, "job timed out", 13) == 0)
		return (RESTART_TIMEOUT);
	if (strncmp(d, "protocol error", 14) == 0 ||
	    strncmp(d, "closed its stdout", 17) == 0)
		return (RESTART_PROTOCOL);
	return (RESTART_CRASH);
}

/*
 * Settle the jobs a dead worker held, oldest first: a timed-out job is
 * charged and ends as timeout (unless retry_timeouts); otherwise, on a crash,
 * the oldest is charged; the rest go back uncharged.  Charged jobs past
 * max_attempts end as crashed.  Requeued jobs go back to the front of the
 * queue in their original order.
 */
static void
pool_settle(struct pool *p, struct worker *w, bool crash, const char *death)
{
	struct jobq	 held, again;
	struct job	*j, *first = worker_oldest(w);
	bool		 timedout = false, charge;
	char		 why[600];
	uint64_t	 now = clock_us();

	jobq_init(&held);
	jobq_init(&again);
	while ((j = worker_pop_inflight(w)) != NULL) {
		if (j->flags & JOB_TIMEDOUT)
			timedout = true;
		jobq_push(&held, j);
	}
	p->inflight -= jobq_len(&held);
	while ((j = jobq_pop(&held)) != NULL) {
		if (p->stop_now) {
			pool_finish(p, j, JOB_CANCELLED, "worker stopped", 14,
			    w, now);
			continue;
		}
		if (p->state == POOL_FAILED) {
			snprintf(why, sizeof(why), "pool %s failed: %s",
			    p->pc->name, p->failure);
			pool_finish(p, j, JOB_CRASHED, why, strlen(why), w,
			    now);
			continue;
		}
		charge = (j->flags & JOB_TIMEDOUT) ||
		    (crash && !timedout && j == first);
		if (charge && j->charges < UINT8_MAX)
			j->charges++;
		if ((j->flags & JOB_TIMEDOUT) && (!p->pc->retry_timeouts ||
		    j->charges >= p->pc->max_attempts)) {
			snprintf(why, sizeof(why), "timed out after %gs",
			    p->pc->job_timeout);
			pool_finish(p, j, JOB_TIMEOUT, why, strlen(why), w,
			    now);
			continue;
		}
		if (charge && j->charges >= p->pc->max_attempts) {
			snprintf(why, sizeof(why), "worker %s (attempt %u of "
			    "%u)", death, j->charges, p->pc->max_attempts);
			pool_finish(p, j, JOB_CRASHED, why, strlen(why), w,
			    now);
			continue;
		}
		p->stats.retried++;
		jobq_push(&again, j);
	}
	while ((j = jobq_pop_back(&again)) != NULL) {
		jobq_push_front(&p->queue, j);
		p->queued_bytes += j->len;
	}
	jobq_free(&held);
	jobq_free(&again);
}

/*
 * Count a failed start: back off exponentially, or fail the pool past
 * start_retries in a row.
 */
void
pool_failed_start(struct pool *p, const char *what, const char *last,
    uint64_t now)
{
	uint64_t	 delay;

	if (throttle_failed_start(&p->thr, pool_jitter(), &delay)) {
		pool_fail(p, "worker %s at start, %u times in a row%s%s", what,
		    throttle_failed_starts(&p->thr),
		    *last ? "; last stderr: " : "", last);
		return;
	}
	p->next_spawn_us = now + delay;
}

/* The restart bookkeeping for an unplanned death; may fail the pool. */
static void
pool_count_death(struct pool *p, struct worker *w, bool failed_start,
    uint64_t now)
{
	int		 st = worker_wait_status(w);
	const char	*last = worker_last_stderr(w);

	if (WIFEXITED(st) && WEXITSTATUS(st) == POOL_EXIT_NORESPAWN &&
	    !worker_was_killed(w)) {
		pool_fail(p, "worker exited with status %d (do not "
		    "respawn)%s%s", POOL_EXIT_NORESPAWN, *last ? ": " : "",
		    last);
		return;
	}
	if (failed_start) {
		pool_failed_start(p, worker_death(w), last, now);
		if (p->state == POOL_FAILED)
			return;
	}
	if (throttle_restart(&p->thr, now))
		pool_fail(p, "more than %u worker restarts in %gs",
		    p->pc->restart_limit, p->pc->restart_period);
}

/* Count an unplanned restart against the worker id (for status). */
static void
pool_count_id_restart(struct pool *p, unsigned id)
{
	if (id >= p->nid_restarts) {
		p->id_restarts = xreallocarray(p->id_restarts, id + 16,
		    sizeof(*p->id_restarts));
		memset(p->id_restarts + p->nid_restarts, 0,
		    (id + 16 - p->nid_restarts) * sizeof(*p->id_restarts));
		p->nid_restarts = id + 16;
	}
	p->id_restarts[id]++;
}

/* A worker is gone: settle its jobs, count the restart, replace it. */
void
pool_on_dead(struct worker *w, void *arg)
{
	struct pool	*p = arg;
	struct member	*slot = pool_member(p, w), m = *slot;
	uint64_t	 now = clock_us();
	bool		 live, planned, failed_start, crash;
	enum restart_reason reason;
	char		 death[320];

	/* Out of the member list first: callbacks below may look at it. */
	*slot = p->members[--p->nmembers];
	snprintf(death, sizeof(death), "%s", worker_death(w));
	/* An exec that failed: a failed spawn (it was never given a job). */
	if (worker_exec_errno(w) != 0 && worker_inflight(w) == 0 &&
	    !p->stop_now && p->state != POOL_FAILED) {
		pool_spawn_failed(p, worker_death(w), worker_exec_errno(w));
		goto out;
	}

	live = (p->state == POOL_RUNNING || p->state == POOL_DRAINING) &&
	    !p->stop_now;
	planned = !live || (m.retired && worker_retired_cleanly(w));
	failed_start = !planned && !m.results && (!worker_said_hello(w) ||
	    now - worker_spawned_us(w) < (uint64_t)(p->pc->start_secs * 1e6));
	/* Crash, protocol error, stuck stdout: blame the oldest job. */
	crash = !planned;
	reason = pool_death_reason(&m, failed_start);
	if (!planned) {
		log_warnx("%s[%u] (pid %d): %s%s", p->pc->name, worker_id(w),
		    (int)worker_pid(w), death,
		    worker_inflight(w) ? "; settling its jobs" : "");
		p->stats.restarts[reason]++;
		pool_count_id_restart(p, worker_id(w));
	} else if (live && m.retired && m.planned != RESTART_NREASONS)
		p->stats.restarts[m.planned]++;

	pool_settle(p, w, crash, death);
	if (!planned && p->state != POOL_FAILED)
		pool_count_death(p, w, failed_start, now);
out:
	worker_free(w);
	pool_release_pc(p, m.pc);
	pool_maintain(p);
	pool_pump(p);
	pool_check_stopped(p);
}

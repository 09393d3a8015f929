/*
 * Pools: the supervisor's policy over a set of worker processes.  This file
 * owns a pool's life (new, start, drain, stop, fail, free), its batches
 * (attach, room, submit, reject, cancel, hold) and what status reports read;
 * the rest of the policy is one file per seam (pool_impl.h lists them).
 *
 * Data flow of one job: a batch calls pool_submit(); the job waits in the
 * queue; pool_pump() hands it, with as many others as fit, to the worker with
 * the most room under the current window (worker_send, one worker_flush per
 * worker and round); the worker's result comes back through pool_on_result()
 * and goes to the batch through pool_finish() (pool_dispatch.c).  If the
 * worker dies first, pool_on_dead() puts the job back at the front of the
 * queue, charging an attempt only to the job that most likely killed it
 * (pool_settle.c).
 *
 * A failed pool fails its jobs fast instead of looping.
 */
#include <sys/queue.h>
#include <sys/syscall.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "batch.h"
#include "clock.h"
#include "job.h"
#include "jobq.h"
#include "log.h"
#include "pool.h"
#include "pool_impl.h"
#include "poolconf.h"
#include "tbucket.h"
#include "throttle.h"
#include "worker.h"
#include "xmalloc.h"

static void	pool_unpark(struct pool *, struct batch *);

static const char *const pool_state_names[] = {
	"running", "draining", "stopping", "stopped", "failed"
};

static const char *const restart_reason_names[RESTART_NREASONS] = {
	"crash", "timeout", "protocol", "start", "recycle", "rss"
};

const char *
pool_state_name(enum pool_state st)
{
	return (pool_state_names[st]);
}

const char *
restart_reason_name(enum restart_reason r)
{
	return (restart_reason_names[r]);
}

/*
 * Is process pid blocked in read(2) on its stdin?  /proc/PID/syscall gives
 * the number and arguments of the system call a blocked task is in (as
 * "0 0x0 ..." for read on fd 0 on x86-64); "running", an error (another
 * user's process, ptrace restrictions) or any other call say no.
 */
static bool
pool_reads_stdin(pid_t pid)
{
	char		 path[64], line[256];
	long		 nr;
	unsigned long	 fd;
	FILE		*f;
	bool		 yes;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return (false);
	yes = fgets(line, sizeof(line), f) != NULL &&
	    sscanf(line, "%ld %lx", &nr, &fd) == 2 && nr == SYS_read &&
	    fd == 0;
	fclose(f);
	return (yes);
}

/*
 * A line or tagged worker that has held a job for POOL_BUFFERED_US with
 * no byte on its stdout while it waits to read its stdin has almost
 * certainly buffered its answer (a pipe makes stdio fully buffered): say
 * so once per worker (drover-worker(7)).
 */
static void
pool_buffered_cb(int fd, short what, void *arg)
{
	struct pool	*p = arg;
	struct member	*m;
	uint64_t	 now = clock_us();
	size_t		 i;

	(void)fd;
	(void)what;
	for (i = 0; i < p->nmembers; i++) {
		m = &p->members[i];
		if (m->buffered || worker_state(m->w) != WS_READY ||
		    worker_head_age_us(m->w, now) < POOL_BUFFERED_US ||
		    (m->read_us != 0 && now - m->read_us < POOL_BUFFERED_US) ||
		    !pool_reads_stdin(worker_pid(m->w)))
			continue;
		m->buffered = true;
		log_warnx("%s[%u] (pid %d): no output for %.0f s on a job "
		    "while it waits for more input: its output is probably "
		    "buffered; flush after each line or run it unbuffered "
		    "(python3 -u, stdbuf -oL, fflush)", p->pc->name,
		    worker_id(m->w), (int)worker_pid(m->w),
		    (double)worker_head_age_us(m->w, now) / 1e6);
	}
	if (p->state == POOL_RUNNING || p->state == POOL_DRAINING)
		timer_arm_us(p->ev_buffered, POOL_BUFFERED_CHECK_US);
}

static void
pool_stopped_cb(int fd, short what, void *arg)
{
	struct pool	*p = arg;

	(void)fd;
	(void)what;
	if (p->state == POOL_STOPPING)
		p->state = POOL_STOPPED;
	if (p->hooks->stopped != NULL)
		p->hooks->stopped(p, p->arg);
}

/* A pool for settings pc (copied), not started yet. */
struct pool *
pool_new(struct event_base *base, const struct poolconf *pc,
    const struct pool_hooks *hooks, void *arg)
{
	struct pool	*p;

	p = xcalloc(1, sizeof(*p));
	p->base = base;
	p->pc = poolconf_dup(pc);
	p->hooks = hooks;
	p->arg = arg;
	p->target = poolconf_initial_workers(pc);
	p->window = pc->window != 0 ? pc->window : 1;
	jobq_init(&p->queue);
	jobq_init(&p->parked);
	TAILQ_INIT(&p->batches);
	TAILQ_INIT(&p->waiters);
	hist_init(&p->stats.duration);
	p->durrun = xcalloc(1, sizeof(*p->durrun));
	p->durrun->h = &p->stats.duration;
	tbucket_init(&p->tb, pc->rate, pc->burst, clock_us());
	p->ev_rate = evtimer_new(base, pool_pump_cb, p);
	p->ev_pump = event_new(base, -1, 0, pool_pump_cb, p);
	p->ev_spawn = evtimer_new(base, pool_spawn_cb, p);
	p->ev_rss = evtimer_new(base, pool_rss_cb, p);
	p->ev_scale = evtimer_new(base, pool_scale_cb, p);
	p->ev_grow = evtimer_new(base, pool_grow_cb, p);
	p->ev_buffered = evtimer_new(base, pool_buffered_cb, p);
	p->ev_stopped = event_new(base, -1, 0, pool_stopped_cb, p);
	throttle_init(&p->thr, pc->restart_limit,
	    (uint64_t)(pc->restart_period * 1e6), pc->start_retries,
	    pc->backoff_initial, pc->backoff_max);
	return (p);
}

/* Free a pool; its workers are killed if still alive, its jobs dropped. */
void
pool_free(struct pool *p)
{
	struct job	*j;
	size_t		 i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nmembers; i++)
		worker_free(p->members[i].w);
	free(p->members);
	for (i = 0; i < p->noldpcs; i++)
		poolconf_free(p->oldpcs[i]);
	free(p->oldpcs);
	free(p->id_restarts);
	pool_unpark(p, NULL);
	while ((j = jobq_pop(&p->queue)) != NULL)
		job_free(j);
	jobq_free(&p->queue);
	jobq_free(&p->parked);
	event_free(p->ev_rate);
	event_free(p->ev_pump);
	event_free(p->ev_spawn);
	event_free(p->ev_rss);
	event_free(p->ev_scale);
	event_free(p->ev_grow);
	event_free(p->ev_buffered);
	event_free(p->ev_stopped);
	throttle_free(&p->thr);
	poolconf_free(p->pc);
	free(p->durrun);
	free(p);
}

/* The member entry for w. */
struct member *
pool_member(struct pool *p, const struct worker *w)
{
	size_t	 i;

	for (i = 0; i < p->nmembers; i++)
		if (p->members[i].w == w)
			return (&p->members[i]);
	fatalx("%s: worker %p is not a member", p->pc->name, (const void *)w);
}

/* Spawn the workers.  Returns -1 if the pool failed at once. */
int
pool_start(struct pool *p)
{
	pool_maintain(p);
	if (p->state == POOL_FAILED)
		return (-1);
	if (p->pc->max_rss_mb != 0)
		timer_arm_us(p->ev_rss, POOL_RSS_CHECK_US);
	if (pool_dynamic(p))
		pool_scale_reset(p);
	if (p->pc->protocol != PROTO_FRAME)
		timer_arm_us(p->ev_buffered, POOL_BUFFERED_CHECK_US);
	return (0);
}

void
pool_attach(struct pool *p, struct batch *b)
{
	b->pool = p;
	b->submitted = b->finished = 0;
	b->waiting = false;
	b->closed = false;
	TAILQ_INSERT_TAIL(&p->batches, b, entry);
	p->nbatches++;
}

/* Forget a batch; it must have no job left in the pool. */
void
pool_detach(struct pool *p, struct batch *b)
{
	if (b->waiting) {
		TAILQ_REMOVE(&p->waiters, b, wait_entry);
		b->waiting = false;
	}
	TAILQ_REMOVE(&p->batches, b, entry);
	p->nbatches--;
	b->pool = NULL;
	if (TAILQ_EMPTY(&p->batches) && p->hooks->idle != NULL)
		p->hooks->idle(p, p->arg);
}

/* The queue limit: enough to keep every worker's window full twice over. */
static size_t
pool_queue_max(const struct pool *p)
{
	size_t	 want = 2 * (size_t)p->window * (p->target ? p->target : 1);

	return (want < POOL_QUEUE_MIN ? POOL_QUEUE_MIN : want);
}

/* How many jobs may be submitted now without unbounded queueing. */
size_t
pool_room(const struct pool *p)
{
	size_t	 max = pool_queue_max(p), len = pool_queued(p);

	if (p->state == POOL_FAILED)
		return (SIZE_MAX / 2);	/* they fail at once */
	if (len >= max || p->queued_bytes >= POOL_QUEUE_BYTES)
		return (0);
	return (max - len);
}

/* Call b->ops->room once the queue has drained below half its limit. */
void
pool_wait_room(struct pool *p, struct batch *b)
{
	if (b->waiting)
		return;
	b->waiting = true;
	TAILQ_INSERT_TAIL(&p->waiters, b, wait_entry);
}

/* Give room to waiting batches, oldest first, while there is some. */
void
pool_wake_waiters(struct pool *p)
{
	struct batch	*b;

	if (TAILQ_EMPTY(&p->waiters))
		return;
	if (p->state != POOL_FAILED &&
	    (jobq_len(&p->queue) > pool_queue_max(p) / 2 ||
	    p->queued_bytes >= POOL_QUEUE_BYTES / 2))
		return;
	while ((b = TAILQ_FIRST(&p->waiters)) != NULL && pool_room(p) != 0) {
		TAILQ_REMOVE(&p->waiters, b, wait_entry);
		b->waiting = false;
		b->ops->room(b);
	}
}

/* Queue one job for batch b; jobs the pool cannot take fail at once. */
static void	pool_enqueue(struct pool *, struct job *);

void
pool_submit(struct pool *p, struct batch *b, uint64_t id, const char *data,
    size_t len)
{
	pool_enqueue(p, job_new(b, id, data, len));
}

/* Does pool_submit_run() take runs now? */
bool
pool_takes_runs(const struct pool *p)
{
	return (p->state != POOL_FAILED && p->state != POOL_STOPPING &&
	    p->state != POOL_STOPPED && p->pc->protocol == PROTO_FRAME);
}

/*
 * The n records recs as jobs of b, with ids from id on, as n pool_submit()
 * calls would: all at once into the queue.  Returns n, or 0 if the pool
 * takes none so (it has failed or stops, and a job refused may stop the
 * batch's input; or its protocol forbids some bytes): pool_submit() them.
 */
size_t
pool_submit_run(struct pool *p, struct batch *b, uint64_t id,
    const struct iovec *recs, size_t n)
{
	size_t	 i;

	if (!pool_takes_runs(p))
		return (0);
	while (p->queue.cap - jobq_len(&p->queue) < n)
		jobq_grow(&p->queue);
	b->submitted += n;
	for (i = 0; i < n; i++) {
		jobq_push(&p->queue, job_new(b, id + i, recs[i].iov_base,
		    recs[i].iov_len));
		p->queued_bytes += recs[i].iov_len;
	}
	pool_kick(p);
	return (n);
}

/* A new job that cannot run now: finish it with the reason. */
static void __attribute__((noinline, cold))
pool_enqueue_refused(struct pool *p, struct job *j)
{
	char	 why[600];

	if (p->state == POOL_FAILED) {
		snprintf(why, sizeof(why), "pool %s failed: %s", p->pc->name,
		    p->failure);
		pool_finish_now(p, j, JOB_CRASHED, why);
	} else if (p->state == POOL_STOPPING || p->state == POOL_STOPPED)
		pool_finish_now(p, j, JOB_CANCELLED, "pool is stopping");
	else {
		snprintf(why, sizeof(why), "job contains a newline; the %s "
		    "protocol cannot carry it",
		    protocol_name(p->pc->protocol));
		pool_finish_now(p, j, JOB_REJECTED, why);
	}
}

/* Queue a new job of its batch, or finish it now if it cannot run. */
static inline void
pool_enqueue(struct pool *p, struct job *j)
{
	j->batch->submitted++;
	if (p->state == POOL_FAILED || p->state == POOL_STOPPING ||
	    p->state == POOL_STOPPED || (p->pc->protocol != PROTO_FRAME &&
	    memchr(j->data, '\n', j->len) != NULL)) {
		pool_enqueue_refused(p, j);
		return;
	}
	jobq_push(&p->queue, j);
	p->queued_bytes += j->len;
	pool_kick(p);
}

/*
 * Queue a job again that a journal brought back (daemon/durable.c): its
 * attempts so far are charged, and one that has had them all ends
 * crashed without running.
 */
void
pool_resubmit(struct pool *p, struct batch *b, uint64_t id, const char *data,
    size_t len, unsigned charges, unsigned runs)
{
	struct job	*j;
	char		 why[200];

	j = job_new(b, id, data, len);
	j->charges = (uint8_t)(charges > UINT8_MAX ? UINT8_MAX : charges);
	j->runs = (uint16_t)(runs > UINT16_MAX ? UINT16_MAX : runs);
	if (charges < p->pc->max_attempts) {
		pool_enqueue(p, j);
		return;
	}
	b->submitted++;
	snprintf(why, sizeof(why), "droverd stopped while it ran (attempt "
	    "%u of %u)", charges, p->pc->max_attempts);
	pool_finish_now(p, j, JOB_CRASHED, why);
}

/* Report an input the batch refused itself (e.g. over max_job_bytes). */
void
pool_reject(struct pool *p, struct batch *b, uint64_t id, const char *reason)
{
	struct job	*j;

	j = job_new(b, id, NULL, 0);
	b->submitted++;
	pool_finish_now(p, j, JOB_REJECTED, reason);
}

/*
 * Drop the queued jobs of b, reported cancelled with why ("interrupted
 * by SIGTERM before it ran"); in-flight ones finish.
 */
void
pool_cancel(struct pool *p, struct batch *b, const char *why)
{
	struct jobq	 out;
	struct job	*j;

	jobq_init(&out);
	jobq_extract(&p->queue, b, &out);
	jobq_extract(&p->parked, b, &out);
	while ((j = jobq_pop(&out)) != NULL) {
		p->queued_bytes -= j->len;
		pool_finish_now(p, j, JOB_CANCELLED, why);
	}
	jobq_free(&out);
	pool_check_drained(p);
}

/*
 * Put the parked jobs of b (of every batch if b is NULL) back at the front
 * of the queue, in their order.
 */
static void
pool_unpark(struct pool *p, struct batch *b)
{
	struct jobq	 back;
	struct job	*j;

	if (jobq_len(&p->parked) == 0)
		return;
	jobq_init(&back);
	if (b == NULL) {
		back = p->parked;
		jobq_init(&p->parked);
	} else
		jobq_extract(&p->parked, b, &back);
	while ((j = jobq_pop_back(&back)) != NULL)
		jobq_push_front(&p->queue, j);
	jobq_free(&back);
}

/*
 * Hold b's queued jobs, or let them go again: a batch whose results are
 * not being taken (a client that stopped reading) asks that no more of
 * its jobs start, so that what droverd holds for it stays bounded by the
 * jobs already running.  Held jobs stay queued (and counted) and keep
 * their place among the batch's own; other batches' jobs go past them.
 */
void
pool_hold(struct pool *p, struct batch *b, bool on)
{
	if (b->held == on)
		return;
	b->held = on;
	if (!on) {
		pool_unpark(p, b);
		pool_kick(p);
	}
}

/* Signal hooks->stopped (deferred) once a stopping pool has no worker. */
void
pool_check_stopped(struct pool *p)
{
	if ((p->state == POOL_STOPPING || p->state == POOL_FAILED) &&
	    p->nmembers == 0 && !event_pending(p->ev_stopped, EV_TIMEOUT, NULL))
		event_active(p->ev_stopped, EV_TIMEOUT, 0);
}

/*
 * Give up on the pool: kill its workers, fail its queued jobs now and its
 * in-flight ones as their workers die, and fail new submits at once.
 */
void
pool_fail(struct pool *p, const char *fmt, ...)
{
	va_list		 ap;
	struct job	*j;
	char		 why[600];
	size_t		 i;

	if (p->state == POOL_FAILED)
		return;
	va_start(ap, fmt);
	vsnprintf(p->failure, sizeof(p->failure), fmt, ap);
	va_end(ap);
	pool_unpark(p, NULL);
	p->state = POOL_FAILED;
	log_emit(LOG_ERR, "pool %s failed: %s", p->pc->name, p->failure);
	evtimer_del(p->ev_spawn);
	evtimer_del(p->ev_rss);
	evtimer_del(p->ev_scale);
	evtimer_del(p->ev_grow);
	for (i = 0; i < p->nmembers; i++)
		worker_kill(p->members[i].w, "pool failed");
	snprintf(why, sizeof(why), "pool %s failed: %s", p->pc->name,
	    p->failure);
	while ((j = jobq_pop(&p->queue)) != NULL) {
		p->queued_bytes -= j->len;
		pool_finish_now(p, j, JOB_CRASHED, why);
	}
	if (p->hooks->failed != NULL)
		p->hooks->failed(p, p->failure, p->arg);
	pool_wake_waiters(p);
	pool_check_stopped(p);
}

/* While draining: once nothing is queued or in flight, retire everyone. */
void
pool_check_drained(struct pool *p)
{
	size_t	 i;

	if (p->state != POOL_DRAINING || pool_queued(p) != 0 ||
	    p->inflight != 0)
		return;
	p->state = POOL_STOPPING;
	evtimer_del(p->ev_spawn);
	evtimer_del(p->ev_rss);
	evtimer_del(p->ev_scale);
	evtimer_del(p->ev_grow);
	for (i = 0; i < p->nmembers; i++) {
		p->members[i].retired = true;
		p->members[i].planned = RESTART_NREASONS;
		worker_retire(p->members[i].w);
	}
	pool_check_stopped(p);
}

/*
 * Tell every batch not told yet that the pool takes no more of its jobs.
 * A batch may detach itself, or another, from its closing call: start over
 * from the head each time rather than trust a saved next pointer.
 */
static void
pool_close_batches(struct pool *p, const char *why)
{
	struct batch	*b;

	for (;;) {
		TAILQ_FOREACH(b, &p->batches, entry)
			if (!b->closed)
				break;
		if (b == NULL)
			return;
		b->closed = true;
		if (b->ops->closing != NULL)
			b->ops->closing(b, why);
	}
}

/*
 * Stop the pool.  Every batch is closed first (ops->closing, with why): it
 * submits no more.  DRAIN: finish what is queued and in flight, then let
 * the workers exit at EOF.  TERM: cancel the queue and ask the workers to
 * stop (SIGTERM to their groups, SIGKILL after stop_timeout); what they
 * held is cancelled.  KILL: the same with SIGKILL at once.  hooks->stopped
 * runs when every worker is gone.
 */
void
pool_stop(struct pool *p, enum pool_stop how, const char *why)
{
	struct job	*j;
	size_t		 i;

	pool_close_batches(p, why);
	if (p->state == POOL_STOPPED)
		return;
	if (p->state == POOL_FAILED) {
		pool_check_stopped(p);
		return;
	}
	if (how == POOL_STOP_DRAIN) {
		if (p->state == POOL_RUNNING)
			p->state = POOL_DRAINING;
		pool_check_drained(p);
		return;
	}
	pool_unpark(p, NULL);
	p->stop_now = true;
	p->state = POOL_STOPPING;
	evtimer_del(p->ev_spawn);
	evtimer_del(p->ev_rss);
	evtimer_del(p->ev_scale);
	evtimer_del(p->ev_grow);
	evtimer_del(p->ev_rate);
	while ((j = jobq_pop(&p->queue)) != NULL) {
		p->queued_bytes -= j->len;
		pool_finish_now(p, j, JOB_CANCELLED, "stopped before it ran");
	}
	for (i = 0; i < p->nmembers; i++) {
		p->members[i].retired = true;
		if (how == POOL_STOP_TERM)
			worker_terminate(p->members[i].w);
		else
			worker_kill(p->members[i].w, "stopped");
	}
	pool_check_stopped(p);
}

const char *
pool_name(const struct pool *p)
{
	return (p->pc->name);
}

const struct poolconf *
pool_conf(const struct pool *p)
{
	return (p->pc);
}

enum pool_state
pool_state(const struct pool *p)
{
	return (p->state);
}

const char *
pool_failure(const struct pool *p)
{
	return (p->state == POOL_FAILED ? p->failure : NULL);
}

/* Batches still attached (clients with jobs or results pending). */
size_t
pool_nbatches(const struct pool *p)
{
	return (p->nbatches);
}

/* Stopped, or failed with every worker gone: nothing more will happen. */
bool
pool_finished(const struct pool *p)
{
	return (p->state == POOL_STOPPED ||
	    (p->state == POOL_FAILED && p->nmembers == 0));
}

size_t
pool_queued(const struct pool *p)
{
	return (jobq_len(&p->queue) + jobq_len(&p->parked));
}

size_t
pool_inflight(const struct pool *p)
{
	return (p->inflight);
}

unsigned
pool_target(const struct pool *p)
{
	return (p->target);
}

unsigned
pool_window(const struct pool *p)
{
	return (p->window);
}

size_t
pool_nworkers(const struct pool *p)
{
	return (p->nmembers);
}

/* Describe worker i (0 <= i < pool_nworkers()). */
void
pool_worker_info(const struct pool *p, size_t i, struct pool_worker_info *wi)
{
	const struct worker *w = p->members[i].w;
	uint64_t	 now = clock_us();

	wi->pid = worker_pid(w);
	wi->id = worker_id(w);
	wi->state = worker_state_name(worker_state(w));
	wi->jobs = worker_jobs_done(w);
	wi->inflight = worker_inflight(w);
	wi->age_us = worker_head_age_us(w, now);
	wi->uptime_us = now - worker_spawned_us(w);
	wi->rss_kb = worker_rss_kb(w);
	wi->restarts = wi->id < p->nid_restarts ? p->id_restarts[wi->id] : 0;
}

/*
 * Short of its target for lack of fds, processes or memory: the spawn error,
 * while the missing workers are being retried; else NULL.
 */
const char *
pool_shortage(const struct pool *p)
{
	return (p->shortage[0] != '\0' && p->state != POOL_FAILED ?
	    p->shortage : NULL);
}

/* Every worker it can have is up: its target, or all it has when short. */
bool
pool_up(const struct pool *p)
{
	size_t	 ready = pool_ready(p);

	return (ready >= p->target ||
	    (pool_shortage(p) != NULL && ready >= pool_active(p)));
}

/*
 * Has every worker started, as the restart policy counts a start: up,
 * and alive for start_secs or with a result already (a worker that dies
 * sooner failed to start; pool_settle.c)?  What a reload waits for.
 */
bool
pool_started(const struct pool *p)
{
	const struct member	*m;
	uint64_t		 now = clock_us();
	uint64_t		 need = (uint64_t)(p->pc->start_secs * 1e6);
	size_t			 i;

	if (!pool_up(p))
		return (false);
	for (i = 0; i < p->nmembers; i++) {
		m = &p->members[i];
		if (m->retired || worker_state(m->w) != WS_READY)
			continue;
		if (!m->results && now - worker_spawned_us(m->w) < need)
			return (false);
	}
	return (true);
}

/* Do some workers still run with settings older than the pool's? */
bool
pool_replacing(const struct pool *p)
{
	size_t	 i;

	for (i = 0; i < p->nmembers; i++)
		if (p->members[i].pc != p->pc)
			return (true);
	return (false);
}

/* Workers that have said HELLO (or speak the line protocol). */
size_t
pool_ready(const struct pool *p)
{
	size_t	 i, n = 0;

	for (i = 0; i < p->nmembers; i++)
		if (worker_state(p->members[i].w) == WS_READY)
			n++;
	return (n);
}

/* The counters, the latencies of the last runs counted in too. */
const struct pool_stats *
pool_stats(const struct pool *p)
{
	histrun_flush(p->durrun);
	return (&p->stats);
}

/* Unplanned restarts (crash, timeout, protocol, start). */
uint64_t
pool_restarts(const struct pool *p)
{
	return (p->stats.restarts[RESTART_CRASH] +
	    p->stats.restarts[RESTART_TIMEOUT] +
	    p->stats.restarts[RESTART_PROTOCOL] +
	    p->stats.restarts[RESTART_START]);
}

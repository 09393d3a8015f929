/*
 * Pools: the supervisor's policy over a set of worker processes.
 *
 * Data flow of one job: a batch calls pool_submit(); the job waits in the
 * queue; pool_pump() hands it, with as many others as fit, to the worker with
 * the most room under the current window (worker_send, one worker_flush per
 * worker and round); the worker's result comes back through pool_on_result()
 * and goes to the batch through pool_finish().  If the worker dies first,
 * pool_on_dead() puts the job back at the front of the queue, charging an
 * attempt only to the job that most likely killed it (the oldest one, or the
 * one that timed out), so that innocent jobs sharing a window with a poison
 * job do not run out of attempts.
 *
 * The window of jobs in flight per worker adapts (unless fixed by `window`):
 * it holds about POOL_WINDOW_TARGET_US of work, from a moving average of the
 * per-job service time, between 1 and window_max.  Micro-jobs get thousands
 * in flight and many frames per syscall; slow jobs get 1 or 2, so none waits
 * behind a slow one while another worker idles.
 *
 * Restart policy (s6, supervisord, Erlang): a worker that dies before its
 * first result and within start_secs failed to start; consecutive failed
 * starts back off exponentially with jitter and, past start_retries, fail
 * the pool with the last thing the worker printed.  Any restart counts
 * toward restart_limit per restart_period.  Exit status 125 means "do not
 * respawn".  A failed pool fails its jobs fast instead of looping.
 *
 * A spawn that fails for lack of fds, processes or memory while other
 * workers run is a shortage, not a failed start: the pool runs with the
 * workers it has and retries the others with the same backoff, logging
 * once, until it is whole again (drover run under a low `ulimit -n` and
 * droverd alike).  Only a pool that cannot start any worker fails.
 */
#include <sys/queue.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "batch.h"
#include "clock.h"
#include "conf.h"
#include "frame.h"
#include "job.h"
#include "jobq.h"
#include "log.h"
#include "pool.h"
#include "poolconf.h"
#include "tbucket.h"
#include "worker.h"
#include "xmalloc.h"

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
	TAILQ_HEAD(, batch)	 waiters;

	double			 svc_us;	/* moving average per job */
	unsigned		 window;

	struct tbucket		 tb;
	struct event		*ev_rate;
	struct event		*ev_pump;
	struct event		*ev_spawn;
	struct event		*ev_rss;
	struct event		*ev_buffered;	/* line and tagged workers */
	struct event		*ev_stopped;

	unsigned		 failed_starts;	/* consecutive */
	uint64_t		 next_spawn_us;
	unsigned		 short_tries;	/* short spawns in a row */
	char			 shortage[512];	/* why it is short, or "" */
	uint64_t		*restart_times;	/* ring of restart_limit */
	unsigned		 restart_head;
	unsigned		 restart_count;

	bool			 stop_now;
	bool			 kicked;	/* ev_pump is active */
	struct pool_stats	 stats;
};

static void	pool_pump(struct pool *);
static void	pool_kick(struct pool *);
static void	pool_unpark(struct pool *, struct batch *);
static void	pool_maintain(struct pool *);
static void	pool_fail(struct pool *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	pool_check_drained(struct pool *);
static void	pool_check_stopped(struct pool *);
static void	pool_roll(struct pool *);
static unsigned	pool_active(const struct pool *);
static uint64_t	pool_backoff_us(const struct pool *, unsigned);
static void	pool_count_id_restart(struct pool *, unsigned);
static void	pool_release_pc(struct pool *, struct poolconf *);
static void	pool_failed_start(struct pool *, const char *, const char *,
		    uint64_t);
static void	pool_finish(struct pool *, struct job *, enum job_status,
		    const char *, size_t, const struct worker *, uint64_t);

static void	pool_on_ready(struct worker *, void *);
static void	pool_on_result(struct worker *, struct job *, bool,
		    const struct frame_result *, uint64_t, void *);
static void	pool_on_read_end(struct worker *, unsigned, uint64_t, void *);
static void	pool_on_timeout(struct worker *, struct job *, void *);
static void	pool_on_dead(struct worker *, void *);

static const struct worker_hooks pool_worker_hooks = {
	.ready = pool_on_ready,
	.result = pool_on_result,
	.read_end = pool_on_read_end,
	.timeout = pool_on_timeout,
	.dead = pool_on_dead,
};

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

static void
timer_arm_us(struct event *ev, uint64_t us)
{
	struct timeval	 tv;

	tv.tv_sec = (time_t)(us / 1000000);
	tv.tv_usec = (suseconds_t)(us % 1000000);
	evtimer_add(ev, &tv);
}

static void
pool_pump_cb(int fd, short what, void *arg)
{
	struct pool	*p = arg;

	(void)fd;
	(void)what;
	p->kicked = false;
	pool_pump(p);
}

static void
pool_spawn_cb(int fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pool_maintain(arg);
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

/* Retire workers whose resident size is over max_rss_mb. */
static void
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
	p->target = pc->workers;
	p->window = pc->window != 0 ? pc->window : 1;
	jobq_init(&p->queue);
	jobq_init(&p->parked);
	TAILQ_INIT(&p->batches);
	TAILQ_INIT(&p->waiters);
	hist_init(&p->stats.duration);
	tbucket_init(&p->tb, pc->rate, pc->burst, clock_us());
	p->ev_rate = evtimer_new(base, pool_pump_cb, p);
	p->ev_pump = event_new(base, -1, 0, pool_pump_cb, p);
	p->ev_spawn = evtimer_new(base, pool_spawn_cb, p);
	p->ev_rss = evtimer_new(base, pool_rss_cb, p);
	p->ev_buffered = evtimer_new(base, pool_buffered_cb, p);
	p->ev_stopped = event_new(base, -1, 0, pool_stopped_cb, p);
	if (pc->restart_limit != 0)
		p->restart_times = xcalloc(pc->restart_limit,
		    sizeof(*p->restart_times));
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
	event_free(p->ev_buffered);
	event_free(p->ev_stopped);
	free(p->restart_times);
	poolconf_free(p->pc);
	free(p);
}

/* The member entry for w. */
static struct member *
pool_member(struct pool *p, const struct worker *w)
{
	size_t	 i;

	for (i = 0; i < p->nmembers; i++)
		if (p->members[i].w == w)
			return (&p->members[i]);
	fatalx("%s: worker %p is not a member", p->pc->name, (const void *)w);
}

/*
 * The smallest worker id no member that takes or finishes jobs uses: one
 * that is stopping (its stdout at EOF, or killed, but not yet reaped) gives
 * its id to its replacement, so that the ids (the exec handler's {%})
 * stay 1 to the number of workers through crashes.
 */
static unsigned
pool_free_id(const struct pool *p)
{
	unsigned	 id;
	size_t		 i;
	enum worker_state st;

	for (id = 1;; id++) {
		for (i = 0; i < p->nmembers; i++) {
			st = worker_state(p->members[i].w);
			if (st != WS_STOPPING && st != WS_DEAD &&
			    worker_id(p->members[i].w) == id)
				break;
		}
		if (i == p->nmembers)
			return (id);
	}
}

/* How many jobs a new worker does before a planned replacement. */
static uint64_t
pool_recycle_after(const struct pool *p)
{
	uint64_t	 n = p->pc->max_jobs_per_worker, jitter;

	if (n == 0)
		return (UINT64_MAX);
	jitter = n / 10;
	return (n + (jitter != 0 ? (uint64_t)random() % (jitter + 1) : 0));
}

/* Is errno from a failed exec one that no retry will fix? */
static bool
spawn_error_permanent(int err)
{
	return (err == ENOENT || err == EACCES || err == ENOEXEC ||
	    err == ENOTDIR || err == ELOOP || err == ENAMETOOLONG ||
	    err == EPERM || err == EISDIR);
}

/* Is errno from a failed spawn a shortage that passes (fds, memory)? */
static bool
spawn_error_transient(int err)
{
	return (err == EMFILE || err == ENFILE || err == EAGAIN ||
	    err == ENOMEM);
}

/*
 * A spawn failed for lack of resources while other workers run: go on with
 * those and retry with backoff; one warning until the pool is whole.
 */
static void
pool_short(struct pool *p, const char *err)
{
	uint64_t	 delay;

	delay = pool_backoff_us(p, ++p->short_tries + 1);
	if (delay < POOL_SHORT_RETRY_US)
		delay = POOL_SHORT_RETRY_US;
	p->next_spawn_us = clock_us() + delay;
	if (p->shortage[0] != '\0') {
		log_debug("%s: %s; %u of %u workers, next try in %.2fs",
		    p->pc->name, err, pool_active(p), p->target,
		    (double)delay / 1e6);
		return;
	}
	snprintf(p->shortage, sizeof(p->shortage), "%s", err);
	log_warnx("%s: %s; running with %u of %u workers, starting the "
	    "others as resources allow", p->pc->name, err, pool_active(p),
	    p->target);
}

/*
 * Would one more worker push the lowest free fd to the ceiling of the
 * hooks (the fds above it are kept for others)?  Then, with the reason in
 * err, it is EMFILE as if the kernel had said it.
 */
static bool
pool_over_fd_ceiling(struct pool *p, char *err, size_t errlen)
{
	int	 ceiling, fd;

	if (p->hooks->fd_ceiling == NULL)
		return (false);
	ceiling = p->hooks->fd_ceiling(p, p->arg);
	if ((fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		errno = EMFILE;
		return (true);
	}
	close(fd);
	if (fd + POOL_WORKER_FDS < ceiling)
		return (false);
	snprintf(err, errlen, "%s (the fds from %d up are kept for "
	    "clients)", strerror(EMFILE), ceiling);
	errno = EMFILE;
	return (true);
}

/*
 * A worker could not be started (err, with errno e): from worker_spawn(),
 * or its exec failed later (pool_on_dead()).  Decide between backoff and
 * giving up.
 */
static void
pool_spawn_failed(struct pool *p, const char *err, int e)
{
	if (spawn_error_permanent(e)) {
		pool_fail(p, "%s", err);
		return;
	}
	if (spawn_error_transient(e) && pool_active(p) > 0) {
		pool_short(p, err);
		return;
	}
	log_warnx("%s: %s", p->pc->name, err);
	pool_failed_start(p, "could not be spawned", err, clock_us());
	if (p->next_spawn_us < clock_us() + 100000)
		p->next_spawn_us = clock_us() + 100000;
}

/* Start one worker; on failure, decide between backoff and giving up. */
static int
pool_spawn_one(struct pool *p)
{
	struct worker	*w;
	struct member	*m;
	char		 err[512];

	if (pool_over_fd_ceiling(p, err, sizeof(err)))
		w = NULL;
	else
		w = worker_spawn(p->base, p->pc, pool_free_id(p),
		    &pool_worker_hooks, p, err, sizeof(err));
	if (w == NULL) {
		pool_spawn_failed(p, err, errno);
		return (-1);
	}
	if (p->nmembers == p->capmembers) {
		p->capmembers = p->capmembers == 0 ? 8 : p->capmembers * 2;
		p->members = xreallocarray(p->members, p->capmembers,
		    sizeof(*p->members));
	}
	m = &p->members[p->nmembers++];
	memset(m, 0, sizeof(*m));
	m->w = w;
	m->pc = p->pc;
	m->recycle_after = pool_recycle_after(p);
	p->short_tries = 0;	/* something freed up: retry soon again */
	if (worker_state(w) == WS_READY)
		pool_kick(p);	/* line workers take jobs at once */
	return (0);
}

/*
 * After a reload that needs new workers: retire one worker still on old
 * settings, unless one is already on its way out; pool_maintain() starts its
 * replacement.  One at a time, so capacity dips by at most one worker.
 */
static void
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

/* Members that count toward the target: not retiring, not stopping. */
static unsigned
pool_active(const struct pool *p)
{
	unsigned	 n = 0;
	size_t		 i;
	enum worker_state st;

	for (i = 0; i < p->nmembers; i++) {
		st = worker_state(p->members[i].w);
		if (!p->members[i].retired &&
		    (st == WS_STARTING || st == WS_READY))
			n++;
	}
	return (n);
}

/*
 * Reconcile the number of workers with the target: spawn (unless backing
 * off) or retire the idlest extras.  The single place workers are added.
 */
static void
pool_maintain(struct pool *p)
{
	uint64_t	 now;
	unsigned	 active;
	size_t		 i, pick;
	struct member	*m;

	if (p->state != POOL_RUNNING && p->state != POOL_DRAINING)
		return;
	pool_roll(p);
	while ((active = pool_active(p)) < p->target) {
		now = clock_us();
		if (now < p->next_spawn_us) {
			if (!evtimer_pending(p->ev_spawn, NULL))
				timer_arm_us(p->ev_spawn,
				    p->next_spawn_us - now);
			return;
		}
		if (pool_spawn_one(p) == -1) {
			if (p->state == POOL_RUNNING ||
			    p->state == POOL_DRAINING)
				timer_arm_us(p->ev_spawn, p->next_spawn_us >
				    clock_us() ? p->next_spawn_us - clock_us() :
				    0);
			return;
		}
	}
	if (p->shortage[0] != '\0') {
		log_info("%s: all %u workers running again", p->pc->name,
		    p->target);
		p->shortage[0] = '\0';
		p->short_tries = 0;
	}
	while (active > p->target) {
		pick = p->nmembers;
		for (i = 0; i < p->nmembers; i++) {
			m = &p->members[i];
			if (m->retired || (worker_state(m->w) != WS_READY &&
			    worker_state(m->w) != WS_STARTING))
				continue;
			if (pick == p->nmembers || worker_inflight(m->w) <
			    worker_inflight(p->members[pick].w))
				pick = i;
		}
		if (pick == p->nmembers)
			break;
		p->members[pick].retired = true;
		p->members[pick].planned = RESTART_NREASONS;
		worker_retire(p->members[pick].w);
		active--;
	}
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
	if (p->pc->protocol != PROTO_FRAME)
		timer_arm_us(p->ev_buffered, POOL_BUFFERED_CHECK_US);
	return (0);
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

/*
 * Apply new settings (same name).  apply says how they changed (conf.h):
 * hot changes take effect at once; changes that need new workers keep the
 * old settings alive for the old workers and roll them one by one.
 */
void
pool_reconfigure(struct pool *p, const struct poolconf *npc, unsigned apply)
{
	struct poolconf	*old = p->pc;
	bool		 rate = old->rate != npc->rate ||
			    old->burst != npc->burst;
	bool		 limit = old->restart_limit != npc->restart_limit;

	if (apply & APPLY_REPLACE) {
		p->oldpcs = xreallocarray(p->oldpcs, p->noldpcs + 1,
		    sizeof(*p->oldpcs));
		p->oldpcs[p->noldpcs++] = old;
		p->pc = poolconf_dup(npc);
		pool_release_pc(p, old);
	} else
		conf_pool_apply_hot(p->pc, npc);
	if (rate)
		tbucket_init(&p->tb, p->pc->rate, p->pc->burst, clock_us());
	if (limit) {
		free(p->restart_times);
		p->restart_times = p->pc->restart_limit == 0 ? NULL :
		    xcalloc(p->pc->restart_limit, sizeof(*p->restart_times));
		p->restart_head = p->restart_count = 0;
	}
	if (p->pc->window != 0)
		p->window = p->pc->window;
	else if (p->window > p->pc->window_max)
		p->window = p->pc->window_max;
	if (p->pc->max_rss_mb == 0)
		evtimer_del(p->ev_rss);
	else if (!evtimer_pending(p->ev_rss, NULL))
		timer_arm_us(p->ev_rss, POOL_RSS_CHECK_US);
	p->target = p->pc->workers;
	pool_maintain(p);
	pool_kick(p);
}

void
pool_attach(struct pool *p, struct batch *b)
{
	b->pool = p;
	b->submitted = b->finished = 0;
	b->waiting = false;
	TAILQ_INSERT_TAIL(&p->batches, b, entry);
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
	b->pool = NULL;
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
static void
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

/* Ask for a pump at the end of this loop turn (coalesces submits). */
static void
pool_kick(struct pool *p)
{
	if (!p->kicked) {
		p->kicked = true;
		event_active(p->ev_pump, EV_TIMEOUT, 0);
	}
}

/*
 * Report a job as finished, with the sections its worker sent (fr, or
 * NULL), and free it.
 */
static void
pool_finish_err(struct pool *p, struct job *j, enum job_status st,
    const char *out, size_t len, const struct frame_result *fr,
    const struct worker *w, uint64_t now)
{
	struct batch		*b = j->batch;
	struct jobresult	 r;

	r.status = st;
	r.out = out;
	r.outlen = len;
	r.err = fr != NULL ? fr->err : NULL;
	r.errlen = fr != NULL ? fr->errlen : 0;
	r.sout = fr != NULL ? fr->sout : NULL;
	r.soutlen = fr != NULL ? fr->soutlen : 0;
	r.fields = fr != NULL ? fr->fields : NULL;
	r.fieldslen = fr != NULL ? fr->fieldslen : 0;
	r.runs = j->runs;
	r.worker = w != NULL ? worker_pid(w) : 0;
	r.latency_us = 0;
	if (w != NULL && j->sent_us != 0) {
		r.latency_us = now > j->sent_us ? now - j->sent_us : 0;
		hist_add(&p->stats.duration, r.latency_us);
	}
	p->stats.jobs[st]++;
	b->finished++;
	b->ops->done(b, j, &r);
	job_free(j);
}

/* Report a job as finished and free it. */
static void
pool_finish(struct pool *p, struct job *j, enum job_status st,
    const char *out, size_t len, const struct worker *w, uint64_t now)
{
	pool_finish_err(p, j, st, out, len, NULL, w, now);
}

/* Finish a job that never ran, with a formatted reason. */
static void
pool_finish_now(struct pool *p, struct job *j, enum job_status st,
    const char *reason)
{
	pool_finish(p, j, st, reason, strlen(reason), NULL, 0);
}

/* Queue one job for batch b; jobs the pool cannot take fail at once. */
void
pool_submit(struct pool *p, struct batch *b, uint64_t id, const char *data,
    size_t len)
{
	struct job	*j;
	char		 why[600];

	j = job_new(b, id, data, len);
	b->submitted++;
	if (p->state == POOL_FAILED) {
		snprintf(why, sizeof(why), "pool %s failed: %s", p->pc->name,
		    p->failure);
		pool_finish_now(p, j, JOB_CRASHED, why);
		return;
	}
	if (p->state == POOL_STOPPING || p->state == POOL_STOPPED) {
		pool_finish_now(p, j, JOB_CANCELLED, "pool is stopping");
		return;
	}
	if (p->pc->protocol != PROTO_FRAME && memchr(data, '\n', len) != NULL) {
		snprintf(why, sizeof(why), "job contains a newline; the %s "
		    "protocol cannot carry it", protocol_name(p->pc->protocol));
		pool_finish_now(p, j, JOB_REJECTED, why);
		return;
	}
	jobq_push(&p->queue, j);
	p->queued_bytes += len;
	pool_kick(p);
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

/* The member with the most room under the window, or NULL. */
static struct member *
pool_pick(struct pool *p, size_t *room)
{
	struct member	*best = NULL;
	size_t		 i, r, bestroom = 0;

	for (i = 0; i < p->nmembers; i++) {
		r = worker_room(p->members[i].w, p->window);
		if (r > bestroom && !p->members[i].retired) {
			best = &p->members[i];
			bestroom = r;
		}
	}
	*room = bestroom;
	return (best);
}

/*
 * Dispatch queued jobs: fill the least loaded worker up to its window, then
 * the next, one write per worker; stop at the rate limit.
 */
static void
pool_pump(struct pool *p)
{
	struct member	*m;
	struct job	*j;
	size_t		 room, n;
	uint64_t	 now;

	if (p->state != POOL_RUNNING && p->state != POOL_DRAINING)
		goto out;
	now = clock_us();
	while (jobq_len(&p->queue) != 0) {
		if ((m = pool_pick(p, &room)) == NULL)
			break;
		n = room < jobq_len(&p->queue) ? room : jobq_len(&p->queue);
		if (p->pc->rate > 0) {
			n = (size_t)tbucket_take(&p->tb, n, now);
			if (n == 0) {
				p->stats.rate_limited++;
				if (!evtimer_pending(p->ev_rate, NULL))
					timer_arm_us(p->ev_rate,
					    tbucket_wait_us(&p->tb));
				break;
			}
		}
		if (worker_inflight(m->w) == 0)
			m->busy_since_us = now;
		while (n > 0 && (j = jobq_pop(&p->queue)) != NULL) {
			if (j->batch->held) {	/* its results wait: later */
				jobq_push(&p->parked, j);
				continue;
			}
			p->queued_bytes -= j->len;
			p->inflight++;
			n--;
			worker_send(m->w, j, now);
		}
		worker_flush(m->w);
	}
out:
	pool_wake_waiters(p);
	pool_check_drained(p);
}

/* Update the service-time average and the window from one read. */
static void
pool_adapt(struct pool *p, struct member *m, unsigned n, uint64_t now)
{
	double	 sample, w;

	if (n == 0)
		return;
	if (m->busy_since_us != 0 && now > m->busy_since_us) {
		sample = (double)(now - m->busy_since_us) / n;
		p->svc_us = p->svc_us == 0 ? sample :
		    p->svc_us * 0.7 + sample * 0.3;
	}
	m->busy_since_us = worker_inflight(m->w) != 0 ? now : 0;
	if (p->pc->window != 0 || p->svc_us <= 0)
		return;
	w = 1 + floor(POOL_WINDOW_TARGET_US / p->svc_us);
	if (w > p->pc->window_max)
		w = p->pc->window_max;
	/* Grow at most 8x per read so one fast sample cannot overshoot. */
	if (w > (double)p->window * 8)
		w = (double)p->window * 8;
	p->window = w < 1 ? 1 : (unsigned)w;
}

static void
pool_on_ready(struct worker *w, void *arg)
{
	(void)w;
	pool_pump(arg);
}

static void
pool_on_result(struct worker *w, struct job *j, bool ok,
    const struct frame_result *fr, uint64_t now, void *arg)
{
	struct pool	*p = arg;

	p->inflight--;
	pool_finish_err(p, j, ok ? JOB_OK : JOB_FAILED, fr->out, fr->outlen,
	    fr, w, now);
}

/* After a read of results: adapt, recycle, refill. */
static void
pool_on_read_end(struct worker *w, unsigned n, uint64_t now, void *arg)
{
	struct pool	*p = arg;
	struct member	*m = pool_member(p, w);

	m->read_us = now;
	if (n != 0 && !m->results) {
		m->results = true;
		p->failed_starts = 0;
	}
	pool_adapt(p, m, n, now);
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
	pool_pump(p);
}

/* A job ran past job_timeout: kill its worker; pool_on_dead settles it. */
static void
pool_on_timeout(struct worker *w, struct job *j, void *arg)
{
	struct pool	*p = arg;

	worker_kill(w, "job timed out after %gs", p->pc->job_timeout);
	log_warnx("%s[%u] (pid %d): job %llu timed out after %gs; killed",
	    p->pc->name, worker_id(w), (int)worker_pid(w),
	    (unsigned long long)j->id, p->pc->job_timeout);
}

/* Record one restart; false if that is over restart_limit per period. */
static bool
pool_count_restart(struct pool *p, uint64_t now)
{
	unsigned	 lim = p->pc->restart_limit, oldest;
	uint64_t	 period = (uint64_t)(p->pc->restart_period * 1e6);

	if (lim == 0)
		return (true);
	if (p->restart_count < lim) {
		p->restart_times[(p->restart_head + p->restart_count) % lim] =
		    now;
		p->restart_count++;
		return (true);
	}
	oldest = p->restart_head;
	if (now - p->restart_times[oldest] < period)
		return (false);
	p->restart_times[oldest] = now;
	p->restart_head = (oldest + 1) % lim;
	return (true);
}

/* Exponential backoff with +-20% jitter for the k-th failed start. */
static uint64_t
pool_backoff_us(const struct pool *p, unsigned k)
{
	double	 d;

	if (k <= 1)
		return (0);
	d = p->pc->backoff_initial * pow(2, (double)(k - 2));
	if (d > p->pc->backoff_max)
		d = p->pc->backoff_max;
	d *= 0.8 + 0.4 * ((double)random() / RAND_MAX);
	return ((uint64_t)(d * 1e6));
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
static void
pool_failed_start(struct pool *p, const char *what, const char *last,
    uint64_t now)
{
	p->failed_starts++;
	if (p->failed_starts > p->pc->start_retries) {
		pool_fail(p, "worker %s at start, %u times in a row%s%s", what,
		    p->failed_starts, *last ? "; last stderr: " : "", last);
		return;
	}
	p->next_spawn_us = now + pool_backoff_us(p, p->failed_starts);
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
	if (!pool_count_restart(p, now))
		pool_fail(p, "more than %u worker restarts in %gs",
		    p->pc->restart_limit, p->pc->restart_period);
}

/* Signal hooks->stopped (deferred) once a stopping pool has no worker. */
static void
pool_check_stopped(struct pool *p)
{
	if ((p->state == POOL_STOPPING || p->state == POOL_FAILED) &&
	    p->nmembers == 0 && !event_pending(p->ev_stopped, EV_TIMEOUT, NULL))
		event_active(p->ev_stopped, EV_TIMEOUT, 0);
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

/* Free old settings once no worker uses them any more. */
static void
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

/* A worker is gone: settle its jobs, count the restart, replace it. */
static void
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
	if (worker_exec_errno(w) != 0 && !p->stop_now &&
	    p->state != POOL_FAILED) {
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

/*
 * Give up on the pool: kill its workers, fail its queued jobs now and its
 * in-flight ones as their workers die, and fail new submits at once.
 */
static void
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
static void
pool_check_drained(struct pool *p)
{
	size_t	 i;

	if (p->state != POOL_DRAINING || pool_queued(p) != 0 ||
	    p->inflight != 0)
		return;
	p->state = POOL_STOPPING;
	evtimer_del(p->ev_spawn);
	evtimer_del(p->ev_rss);
	for (i = 0; i < p->nmembers; i++) {
		p->members[i].retired = true;
		p->members[i].planned = RESTART_NREASONS;
		worker_retire(p->members[i].w);
	}
	pool_check_stopped(p);
}

/*
 * Stop the pool.  DRAIN: finish what is queued and in flight, then let the
 * workers exit at EOF.  TERM: cancel the queue and ask the workers to stop
 * (SIGTERM to their groups, SIGKILL after stop_timeout); what they held is
 * cancelled.  KILL: the same with SIGKILL at once.  hooks->stopped runs when
 * every worker is gone.
 */
void
pool_stop(struct pool *p, enum pool_stop how)
{
	struct job	*j;
	size_t		 i;

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
	const struct batch	*b;
	size_t			 n = 0;

	TAILQ_FOREACH(b, &p->batches, entry)
		n++;
	return (n);
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

const struct pool_stats *
pool_stats(const struct pool *p)
{
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

/*
 * A pool's number of workers: pool_maintain() is the single place workers
 * are added (and extras retired), with the worker ids kept 1 to N.
 *
 * A spawn that fails for lack of fds, processes or memory while other
 * workers run is a shortage, not a failed start: the pool runs with the
 * workers it has and retries the others with the same backoff, logging
 * once, until it is whole again (drover run under a low `ulimit -n` and
 * droverd alike).  Only a pool that cannot start any worker fails; a
 * program that cannot be executed at all fails it at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "clock.h"
#include "log.h"
#include "pool.h"
#include "pool_impl.h"
#include "poolconf.h"
#include "throttle.h"
#include "worker.h"
#include "xmalloc.h"

static const struct worker_hooks pool_worker_hooks = {
	.ready = pool_on_ready,
	.result = pool_on_result,
	.run_len = pool_on_run_len,
	.result_run = pool_on_result_run,
	.read_end = pool_on_read_end,
	.timeout = pool_on_timeout,
	.dead = pool_on_dead,
};

void
pool_spawn_cb(int fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pool_maintain(arg);
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

	delay = throttle_backoff_us(&p->thr, ++p->short_tries + 1,
	    pool_jitter());
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
 * or its exec failed later (pool_on_dead(), pool_settle.c).  Decide
 * between backoff and giving up.
 */
void
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
	m->idle_since_us = clock_us();
	p->short_tries = 0;	/* something freed up: retry soon again */
	if (worker_state(w) == WS_READY)
		pool_kick(p);	/* line workers take jobs at once */
	return (0);
}

/* Members that count toward the target: not retiring, not stopping. */
unsigned
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
void
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

/*
 * droverd's supervisor: the running configuration and its pools, reload,
 * drain and stop, the service manager's notifications, and the status every
 * observer sees (drover status, GET /status, sd_notify STATUS=).
 *
 * Reload (nginx's cycle): load the file into a new conf and validate it
 * whole; on any problem keep everything as it is and report file:line.  A
 * good conf is applied pool by pool: added pools start, removed pools drain
 * and go, changed pools take hot settings at once and replace their workers
 * one by one for the rest; a failed pool is started afresh.  No job is lost:
 * queues and in-flight jobs stay with their pool through all of it.
 *
 * Drain (SIGTERM) is a predicate, not a sleep: stop accepting, let the pools
 * finish what they hold, and exit once every pool has stopped and every
 * client has its results; a deadline (shutdown_timeout) escalates to
 * stopping at once, where what is left is cancelled.
 */
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "buf.h"
#include "clock.h"
#include "conf.h"
#include "acceptguard.h"
#include "config.h"
#include "jsonw.h"
#include "log.h"
#include "notify.h"
#include "pool.h"
#include "poolconf.h"
#include "supervisor.h"
#include "timer.h"
#include "workerpath.h"
#include "xmalloc.h"

#define SV_TICK_US		1000000
#define SV_READY_CHECK_US	20000
#define SV_READY_MAX_US		30000000
#define SV_FINAL_GRACE_US	5000000
#define SV_CLIENT_FDS_MIN	4	/* fds workers leave for connections */
#define SV_CLIENT_FDS_MAX	64

enum sv_state {
	SV_RUNNING,
	SV_DRAINING,
	SV_STOPPING,
};

/* A pool as the supervisor tracks it. */
struct spool {
	struct pool	*pool;
	bool		 removed;	/* gone from the config: draining */
	bool		 stopped;	/* `drover stop`: kept stopped */
	uint64_t	 last_total;	/* jobs finished at the last tick */
	double		 rate;		/* jobs a second over the last tick */
};

static struct {
	struct event_base	*base;
	struct conf		*conf;
	struct spool		*pools;
	size_t			 npools;
	const struct supervisor_hooks *hooks;
	void			*hooks_arg;
	enum sv_state		 state;
	struct event		*ev_ready;
	struct event		*ev_tick;
	struct event		*ev_watchdog;
	struct event		*ev_deadline;
	struct event		*ev_final;
	uint64_t		 start_us;
	uint64_t		 last_tick_us;
	bool			 ready_sent;
	bool			 debug;		/* droverd -d */
	unsigned long long	 reloads_ok;
	unsigned long long	 reloads_failed;
	char			**watch;	/* pools the last reload */
	size_t			 nwatch;	/* started or changed */
} sv;

static void	sv_on_failed(struct pool *, const char *, void *);
static void	sv_on_stopped(struct pool *, void *);
static void	sv_on_idle(struct pool *, void *);
static void	sv_check_exit(void);
static void	sv_unwatch(void);

/*
 * Workers leave fds for clients: their last fd stays SV_CLIENT_FDS below
 * the fd a connection may have (accept_fd_limit), so that a pool short of
 * fds can still be submitted to, asked for status and reloaded.
 */
static int
sv_fd_ceiling(struct pool *p, void *arg)
{
	int	 limit = accept_fd_limit(), room;

	(void)p;
	(void)arg;
	if (limit == INT_MAX)
		return (INT_MAX);
	room = limit / 4;
	room = room < SV_CLIENT_FDS_MIN ? SV_CLIENT_FDS_MIN :
	    room > SV_CLIENT_FDS_MAX ? SV_CLIENT_FDS_MAX : room;
	return (limit - room);
}

static const struct pool_hooks sv_pool_hooks = {
	.failed = sv_on_failed,
	.stopped = sv_on_stopped,
	.idle = sv_on_idle,
	.fd_ceiling = sv_fd_ceiling,
};

/* Settings for a pool with its worker command resolved. */
static struct poolconf *
sv_resolve(const struct poolconf *pc)
{
	struct poolconf	*r;

	r = poolconf_dup(pc);
	if (r->handler != NULL)
		r->argv = poolconf_handler_argv(workerpath(), r);
	return (r);
}

/* Create and start the pool for pc. */
static void
sv_start_pool(const struct poolconf *pc)
{
	struct poolconf	*r = sv_resolve(pc);
	struct spool	*sp;

	sv.pools = xreallocarray(sv.pools, sv.npools + 1, sizeof(*sv.pools));
	sp = &sv.pools[sv.npools++];
	memset(sp, 0, sizeof(*sp));
	sp->pool = pool_new(sv.base, r, &sv_pool_hooks, NULL);
	poolconf_free(r);
	if (pool_start(sp->pool) == -1)
		return;		/* pool_fail() said why */
	if (pool_nworkers(sp->pool) == pc->workers)
		log_info("pool %s: started %u worker%s (%s)", pc->name,
		    pc->workers, pc->workers == 1 ? "" : "s",
		    pc->handler != NULL ? pc->handler : pc->argv[0]);
	else
		log_info("pool %s: started %zu of %u workers (%s)", pc->name,
		    pool_nworkers(sp->pool), pc->workers,
		    pc->handler != NULL ? pc->handler : pc->argv[0]);
}

/* The live (not removed) entry for a pool name. */
static struct spool *
sv_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < sv.npools; i++)
		if (!sv.pools[i].removed &&
		    strcmp(pool_name(sv.pools[i].pool), name) == 0)
			return (&sv.pools[i]);
	return (NULL);
}

struct pool *
supervisor_pool(const char *name)
{
	struct spool	*sp = sv_find(name);

	return (sp != NULL ? sp->pool : NULL);
}

bool
supervisor_accepting(void)
{
	return (sv.state == SV_RUNNING);
}

const struct conf *
supervisor_conf(void)
{
	return (sv.conf);
}

unsigned long long
supervisor_reloads(bool ok)
{
	return (ok ? sv.reloads_ok : sv.reloads_failed);
}

/* Free removed pools that have stopped and have no client left. */
static void
sv_reap_pools(void)
{
	size_t	 i;

	for (i = 0; i < sv.npools;) {
		if (!sv.pools[i].removed || !pool_finished(sv.pools[i].pool) ||
		    pool_nbatches(sv.pools[i].pool) != 0) {
			i++;
			continue;
		}
		/* A failed pool restarted by a reload lives on: say so. */
		if (sv_find(pool_name(sv.pools[i].pool)) != NULL)
			log_debug("pool %s: the failed instance is gone",
			    pool_name(sv.pools[i].pool));
		else
			log_info("pool %s: removed",
			    pool_name(sv.pools[i].pool));
		pool_free(sv.pools[i].pool);
		sv.pools[i] = sv.pools[--sv.npools];
	}
}

/* Batches attached to any pool: what status calls "clients". */
static size_t
sv_nbatches(void)
{
	size_t	 i, n = 0;

	for (i = 0; i < sv.npools; i++)
		n += pool_nbatches(sv.pools[i].pool);
	return (n);
}

/* One line for sd_notify STATUS= and the logs. */
static void
sv_status_line(struct buf *b)
{
	size_t		 i, workers = 0, queued = 0, live = 0, failed = 0;
	double		 rate = 0;

	for (i = 0; i < sv.npools; i++) {
		if (sv.pools[i].removed)
			continue;
		live++;
		workers += pool_nworkers(sv.pools[i].pool);
		queued += pool_queued(sv.pools[i].pool);
		rate += sv.pools[i].rate;
		if (pool_state(sv.pools[i].pool) == POOL_FAILED)
			failed++;
	}
	buf_printf(b, "%s%zu pools, %zu workers, %zu queued, %.0f jobs/s",
	    sv.state == SV_DRAINING ? "draining: " : sv.state == SV_STOPPING ?
	    "stopping: " : "", live, workers, queued, rate);
	if (failed != 0)
		buf_printf(b, "; %zu failed", failed);
	if (sv_nbatches() != 0)
		buf_printf(b, "; %zu clients", sv_nbatches());
}

/* Tell the service manager how we are (STATUS=). */
static void
sv_notify_status(void)
{
	struct buf	 b;

	buf_init(&b);
	sv_status_line(&b);
	buf_addc(&b, '\0');
	notify_status("%s", buf_data(&b));
	buf_free(&b);
}

/* Every second: rates, removed pools, STATUS=. */
static void
sv_tick_cb(int fd, short what, void *arg)
{
	uint64_t	 now = clock_us(), total;
	double		 dt;
	size_t		 i;
	int		 st;

	(void)fd;
	(void)what;
	(void)arg;
	dt = (double)(now - sv.last_tick_us) / 1e6;
	sv.last_tick_us = now;
	for (i = 0; i < sv.npools; i++) {
		total = 0;
		for (st = 0; st < JOB_NSTATUS; st++)
			total += pool_stats(sv.pools[i].pool)->jobs[st];
		sv.pools[i].rate = dt > 0 ?
		    (double)(total - sv.pools[i].last_total) / dt : 0;
		sv.pools[i].last_total = total;
	}
	sv_reap_pools();
	sv_notify_status();
	timer_arm_us(sv.ev_tick, SV_TICK_US);
}

/*
 * At start: READY=1 once every pool's workers are up (or it failed, or it
 * runs short of fds with all those it could start up).
 */
static void
sv_ready_cb(int fd, short what, void *arg)
{
	size_t		 i;
	struct pool	*p;
	bool		 up = true;

	(void)fd;
	(void)what;
	(void)arg;
	for (i = 0; i < sv.npools; i++) {
		p = sv.pools[i].pool;
		if (pool_state(p) != POOL_FAILED && !pool_up(p))
			up = false;
	}
	if (!up && clock_us() - sv.start_us < SV_READY_MAX_US) {
		timer_arm_us(sv.ev_ready, SV_READY_CHECK_US);
		return;
	}
	if (!up)
		log_warnx("not every worker is up after %d s; ready anyway",
		    SV_READY_MAX_US / 1000000);
	sv.ready_sent = true;
	notify_ready();
	log_info("ready: %zu pools, listening on %s", sv.npools,
	    sv.conf->socket);
}

static void
sv_watchdog_cb(int fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	notify_watchdog();
	timer_arm_us(sv.ev_watchdog, notify_watchdog_usec());
}

/* The longest stop_timeout of any pool (for the final grace). */
static double
sv_max_stop_timeout(void)
{
	double	 t = 0;
	size_t	 i;

	for (i = 0; i < sv.npools; i++)
		if (pool_conf(sv.pools[i].pool)->stop_timeout > t)
			t = pool_conf(sv.pools[i].pool)->stop_timeout;
	return (t);
}

static void	sv_stop(enum pool_stop);

static void
sv_deadline_cb(int fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	log_warnx("shutdown_timeout (%gs) reached; terminating workers",
	    sv.conf->shutdown_timeout);
	sv_stop(POOL_STOP_TERM);
}

/* Clients that will not read their results cannot hold us forever. */
static void
sv_final_cb(int fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	log_warnx("clients did not take their results; exiting");
	event_base_loopexit(sv.base, NULL);
}

static void
sv_on_failed(struct pool *p, const char *why, void *arg)
{
	(void)p;
	(void)why;
	(void)arg;
	sv_notify_status();
}

static void
sv_on_stopped(struct pool *p, void *arg)
{
	(void)p;
	(void)arg;
	sv_check_exit();
}

/* A pool's last batch went: maybe the last thing a drain waited for. */
static void
sv_on_idle(struct pool *p, void *arg)
{
	(void)p;
	(void)arg;
	sv_check_exit();
}

/* Apply log_level (unless droverd -d forced debug) and log_file. */
static void
sv_apply_logging(const struct conf *c)
{
	if (!sv.debug)
		log_setlevel(c->log_level);
	if (log_open_file(c->log_file) == -1)
		log_warn("unable to open log file %s", c->log_file);
}

/*
 * Take over conf c and apply its logging; nothing starts yet, so that
 * droverd can open its sockets first (and fail before any worker runs).
 */
void
supervisor_init(struct event_base *base, struct conf *c, bool debug,
    const struct supervisor_hooks *hooks, void *arg)
{
	memset(&sv, 0, sizeof(sv));
	sv.base = base;
	sv.debug = debug;
	sv.conf = c;
	sv.hooks = hooks;
	sv.hooks_arg = arg;
	sv.start_us = sv.last_tick_us = clock_us();
	sv_apply_logging(c);
}

/* Start every pool, the ticks and READY=1 once they are up. */
void
supervisor_start(void)
{
	struct event_base	*base = sv.base;
	const struct conf	*c = sv.conf;
	size_t			 i;

	sv.ev_ready = evtimer_new(base, sv_ready_cb, NULL);
	sv.ev_tick = evtimer_new(base, sv_tick_cb, NULL);
	sv.ev_watchdog = evtimer_new(base, sv_watchdog_cb, NULL);
	sv.ev_deadline = evtimer_new(base, sv_deadline_cb, NULL);
	sv.ev_final = evtimer_new(base, sv_final_cb, NULL);
	for (i = 0; i < c->npools; i++)
		sv_start_pool(c->pools[i]);
	timer_arm_us(sv.ev_ready, 0);
	timer_arm_us(sv.ev_tick, SV_TICK_US);
	if (notify_watchdog_usec() != 0)
		timer_arm_us(sv.ev_watchdog, notify_watchdog_usec());
}

void
supervisor_free(void)
{
	size_t	 i;

	for (i = 0; i < sv.npools; i++)
		pool_free(sv.pools[i].pool);
	free(sv.pools);
	if (sv.ev_ready != NULL) {
		event_free(sv.ev_ready);
		event_free(sv.ev_tick);
		event_free(sv.ev_watchdog);
		event_free(sv.ev_deadline);
		event_free(sv.ev_final);
	}
	sv_unwatch();
	conf_free(sv.conf);
	memset(&sv, 0, sizeof(sv));
}

/* Forget the pools the last reload was watching. */
static void
sv_unwatch(void)
{
	size_t	 i;

	for (i = 0; i < sv.nwatch; i++)
		free(sv.watch[i]);
	free(sv.watch);
	sv.watch = NULL;
	sv.nwatch = 0;
}

/* The reload started or changed this pool: watch it until it is up. */
static void
sv_watch(const char *name)
{
	sv.watch = xreallocarray(sv.watch, sv.nwatch + 1, sizeof(*sv.watch));
	sv.watch[sv.nwatch++] = xstrdup(name);
}

/*
 * Did the pools the last reload started or changed come up?  1 when every
 * one has started with its new settings (each worker up for start_secs or
 * with a result, the rolling replacement done), -1 when
 * one failed (each failure, "pool NAME failed to start: why", in why), 0
 * while some are still starting or replacing their workers.  `drover
 * reload` waits for this (control.c) so that it can say when a pool it
 * just added or changed does not start.
 */
int
supervisor_reload_settled(struct buf *why)
{
	struct spool	*sp;
	size_t		 i;
	int		 rv = 1;

	for (i = 0; i < sv.nwatch; i++) {
		if ((sp = sv_find(sv.watch[i])) == NULL || sp->stopped)
			continue;
		if (pool_state(sp->pool) == POOL_FAILED) {
			buf_printf(why, "pool %s failed to start: %s\n",
			    sv.watch[i], pool_failure(sp->pool));
			rv = -1;
		} else if (rv == 1 && (!pool_started(sp->pool) ||
		    pool_replacing(sp->pool)))
			rv = 0;
	}
	return (rv);
}

/* Apply a changed pool: its settings, or a fresh start if it failed. */
static void
sv_reload_pool(struct spool *sp, const struct poolconf *oldpc,
    const struct poolconf *npc, struct buf *out)
{
	struct buf	 keys;
	struct poolconf	*r;
	unsigned	 apply;

	buf_init(&keys);
	apply = poolconf_diff(oldpc, npc, &keys);
	buf_addc(&keys, '\0');
	if (pool_state(sp->pool) == POOL_FAILED ||
	    (sp->stopped && apply != 0)) {
		/* A `drover stop` holds only until the settings change. */
		buf_printf(out, "pool %s: restarted (it had %s)\n",
		    npc->name, sp->stopped ? "been stopped" : "failed");
		sp->removed = true;
		pool_stop(sp->pool, POOL_STOP_DRAIN, "the pool was removed");
		sv_start_pool(npc);
		sv_watch(npc->name);
	} else if (apply != 0) {
		r = sv_resolve(npc);
		pool_reconfigure(sp->pool, r, apply);
		poolconf_free(r);
		sv_watch(npc->name);
		buf_printf(out, "pool %s: %s changed%s\n", npc->name,
		    buf_data(&keys), (apply & APPLY_REPLACE) ?
		    "; replacing workers one by one" : "");
	}
	buf_free(&keys);
}

/* Log each line of b as a record of its own, with its prefix. */
static void
sv_log_lines(const char *prefix, const struct buf *b)
{
	const char	*p = buf_data(b), *end = p + buf_len(b), *nl;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (nl > p)
			log_info("%s: %.*s", prefix, (int)(nl - p), p);
	}
}

/*
 * Reload the config file.  Returns 0 with what changed in out, or -1 with
 * every problem ("file:line: message") in out; nothing changes then.
 */
int
supervisor_reload(struct buf *out)
{
	struct conf		*nc;
	struct conf_errors	 errs;
	const struct poolconf	*oldpc;
	struct spool		*sp;
	struct buf		 keys;
	size_t			 i, n;

	notify_reloading();
	if ((nc = conf_load(sv.conf->path, &errs)) == NULL) {
		for (i = 0; i < errs.n; i++) {
			log_warnx("reload: %s", errs.msgs[i]);
			buf_printf(out, "%s\n", errs.msgs[i]);
		}
		log_warnx("reload failed; the running configuration is "
		    "unchanged");
		conf_errors_free(&errs);
		sv.reloads_failed++;
		notify_ready();
		return (-1);
	}
	sv_unwatch();
	buf_init(&keys);
	if (conf_global_diff(sv.conf, nc, &keys) & APPLY_RESTART) {
		buf_addc(&keys, '\0');
		buf_printf(out, "%s changed: applies at the next restart\n",
		    buf_data(&keys));
	}
	buf_free(&keys);
	sv_apply_logging(nc);
	if (sv.hooks != NULL && sv.hooks->reloading != NULL)
		sv.hooks->reloading(sv.conf, nc, out, sv.hooks_arg);
	for (i = 0; i < nc->npools; i++) {
		if ((sp = sv_find(nc->pools[i]->name)) == NULL) {
			sv_start_pool(nc->pools[i]);
			sv_watch(nc->pools[i]->name);
			buf_printf(out, "pool %s: added\n", nc->pools[i]->name);
			continue;
		}
		oldpc = conf_pool(sv.conf, nc->pools[i]->name);
		sv_reload_pool(sp, oldpc, nc->pools[i], out);
	}
	for (i = 0, n = sv.npools; i < n; i++) {
		sp = &sv.pools[i];
		if (sp->removed || conf_pool(nc, pool_name(sp->pool)) != NULL)
			continue;
		sp->removed = true;
		pool_stop(sp->pool, POOL_STOP_DRAIN, "the pool was removed");
		buf_printf(out, "pool %s: removed (draining)\n",
		    pool_name(sp->pool));
	}
	conf_free(sv.conf);
	sv.conf = nc;
	sv.reloads_ok++;
	log_info("reloaded %s", nc->path);
	sv_log_lines("reload", out);
	if (sv.hooks != NULL && sv.hooks->pools_changed != NULL)
		sv.hooks->pools_changed(sv.conf, sv.hooks_arg);
	notify_ready();
	sv_notify_status();
	return (0);
}

/* SIGTERM: stop accepting, finish what is held, then exit. */
void
supervisor_drain(void)
{
	size_t	 i;

	if (sv.state != SV_RUNNING)
		return;
	sv.state = SV_DRAINING;
	log_info("draining: finishing queued and in-flight jobs (at most "
	    "%gs)", sv.conf->shutdown_timeout);
	notify_stopping();
	for (i = 0; i < sv.npools; i++)
		pool_stop(sv.pools[i].pool, POOL_STOP_DRAIN,
		    "droverd is shutting down");
	timer_arm_us(sv.ev_deadline,
	    (uint64_t)(sv.conf->shutdown_timeout * 1e6));
	sv_check_exit();
}

/*
 * Stop now: the drain deadline asks workers to stop (SIGTERM, then SIGKILL
 * after their stop_timeout); SIGQUIT or a second SIGTERM kills them at once.
 */
static void
sv_stop(enum pool_stop how)
{
	size_t	 i;

	if (sv.state == SV_STOPPING && how != POOL_STOP_KILL)
		return;
	if (sv.state == SV_RUNNING)
		notify_stopping();
	sv.state = SV_STOPPING;
	log_info("stopping: cancelling what is left");
	evtimer_del(sv.ev_deadline);
	for (i = 0; i < sv.npools; i++)
		pool_stop(sv.pools[i].pool, how, "droverd is shutting down");
	if (!evtimer_pending(sv.ev_final, NULL))
		timer_arm_us(sv.ev_final, SV_FINAL_GRACE_US +
		    (how == POOL_STOP_TERM ?
		    (uint64_t)(sv_max_stop_timeout() * 2e6) : 0));
	sv_check_exit();
}

/* SIGQUIT or a second SIGTERM: kill the workers, cancel the rest. */
void
supervisor_stop_now(void)
{
	sv_stop(POOL_STOP_KILL);
}

/*
 * The drain predicate: every pool stopped and every batch gone.  A source
 * detaches its batch only once its results are delivered (a client's are
 * written), so this waits for those too.
 */
static void
sv_check_exit(void)
{
	size_t	 i;

	if (sv.state == SV_RUNNING)
		return;
	for (i = 0; i < sv.npools; i++)
		if (!pool_finished(sv.pools[i].pool) ||
		    pool_nbatches(sv.pools[i].pool) != 0)
			return;
	/* The drain's deadline (sv_stop) does not wait for it. */
	if (sv.state == SV_DRAINING && sv.hooks != NULL &&
	    sv.hooks->settled != NULL && !sv.hooks->settled(sv.hooks_arg))
		return;
	event_base_loopexit(sv.base, NULL);
}

/* Something outside the pools has settled (supervisor_hooks). */
void
supervisor_check_exit(void)
{
	sv_check_exit();
}

/* SIGTTIN/SIGTTOU: one worker more or less in every pool. */
void
supervisor_resize(int delta)
{
	size_t		 i;
	unsigned	 n;
	struct pool	*p;

	for (i = 0; i < sv.npools; i++) {
		p = sv.pools[i].pool;
		if (sv.pools[i].removed || pool_state(p) != POOL_RUNNING ||
		    pool_conf(p)->max_workers != 0)	/* dynamic: its own */
			continue;
		n = pool_target(p);
		if (delta < 0 && n <= 1)
			continue;
		n = delta < 0 ? n - 1 : n + 1;
		pool_resize(p, n);
		log_info("pool %s: %u workers", pool_name(p), n);
	}
}

/* `drover scale POOL N`: a fixed pool's size until a reload changes it. */
static int
sv_op_scale(struct spool *sp, long n, struct buf *out)
{
	const struct poolconf	*pc = pool_conf(sp->pool);

	if (pc->max_workers != 0) {
		buf_printf(out, "pool %s is dynamic (%u to %u workers): set "
		    "min_workers and max_workers in the configuration",
		    pc->name, pc->min_workers, pc->max_workers);
		return (-1);
	}
	if (n < 1 || n > POOLCONF_MAX_WORKERS) {
		buf_printf(out, "workers: %ld is not from 1 to %d", n,
		    POOLCONF_MAX_WORKERS);
		return (-1);
	}
	pool_resize(sp->pool, (unsigned)n);
	buf_printf(out, "pool %s: %ld worker%s", pc->name, n, n == 1 ? "" :
	    "s");
	return (0);
}

/*
 * `drover scale|stop|start|restart POOL`: one pool's control at run time.
 * Returns 0 with what was done in out, or -1 with why not.  A runtime
 * scale or stop lasts until a reload changes the pool's settings.
 */
int
supervisor_pool_op(const char *op, const char *name, long n, struct buf *out)
{
	struct spool	*sp = sv_find(name);
	struct poolconf	*r;
	unsigned	 target;

	if (sp == NULL) {
		buf_printf(out, "unknown pool '%s'", name);
		return (-1);
	}
	if (sv.state != SV_RUNNING) {
		buf_printf(out, "droverd is shutting down");
		return (-1);
	}
	if (strcmp(op, "start") == 0) {
		if (!sp->stopped && pool_state(sp->pool) != POOL_FAILED) {
			buf_printf(out, "pool %s is running already", name);
			return (0);
		}
		sp->removed = true;	/* the old one goes once drained */
		pool_stop(sp->pool, POOL_STOP_DRAIN, "the pool was restarted");
		sv_start_pool(conf_pool(sv.conf, name));	/* moves sp */
		buf_printf(out, "pool %s: started", name);
	} else if (sp->stopped || pool_state(sp->pool) != POOL_RUNNING) {
		buf_printf(out, "pool %s is %s (drover start %s)", name,
		    sp->stopped ? "stopped" : pool_state_name(pool_state(
		    sp->pool)), name);
		return (-1);
	} else if (strcmp(op, "stop") == 0) {
		sp->stopped = true;
		pool_stop(sp->pool, POOL_STOP_DRAIN, "the pool was stopped");
		buf_printf(out, "pool %s: stopping (finishing its jobs, then "
		    "kept stopped)", name);
	} else if (strcmp(op, "scale") == 0) {
		if (sv_op_scale(sp, n, out) == -1)
			return (-1);
	} else if (strcmp(op, "restart") == 0) {
		/* Roll every worker, one at a time, at the current size. */
		target = pool_target(sp->pool);
		r = sv_resolve(conf_pool(sv.conf, name));
		pool_reconfigure(sp->pool, r, APPLY_REPLACE);
		poolconf_free(r);
		pool_resize(sp->pool, target);
		buf_printf(out, "pool %s: replacing its workers one by one",
		    name);
	} else {
		buf_printf(out, "unknown op '%s'", op);
		return (-1);
	}
	log_info("%.*s", (int)buf_len(out), buf_data(out));
	if (sv.hooks != NULL && sv.hooks->pools_changed != NULL)
		sv.hooks->pools_changed(sv.conf, sv.hooks_arg);
	return (0);
}

void
supervisor_reopen_logs(void)
{
	if (log_reopen() == -1)
		log_warn("unable to reopen the log file");
	else
		log_info("log file reopened");
}

/* The journal failed: every pool whose batches are durable fails too. */
void
supervisor_fail_durable(const char *why)
{
	size_t	 i;

	for (i = 0; i < sv.npools; i++)
		if (!sv.pools[i].removed &&
		    pool_conf(sv.pools[i].pool)->durable)
			pool_fail(sv.pools[i].pool, "%s", why);
	sv_notify_status();
}

/* False with the reason in why when some pool has failed. */
bool
supervisor_healthy(struct buf *why)
{
	size_t	 i;
	bool	 ok = true;

	for (i = 0; i < sv.npools; i++) {
		if (sv.pools[i].removed ||
		    pool_state(sv.pools[i].pool) != POOL_FAILED)
			continue;
		buf_printf(why, "pool %s failed: %s\n",
		    pool_name(sv.pools[i].pool),
		    pool_failure(sv.pools[i].pool));
		ok = false;
	}
	if (sv.state != SV_RUNNING) {
		buf_printf(why, "droverd is shutting down\n");
		ok = false;
	}
	return (ok);
}

/* One pool's status object. */
static json_t *
sv_pool_status(const struct spool *sp)
{
	const struct pool	*p = sp->pool;
	const struct poolconf	*pc = pool_conf(p);
	const struct pool_stats	*ps = pool_stats(p);
	struct pool_worker_info	 wi;
	json_t			*o, *jobs, *restarts, *workers;
	size_t			 i;
	int			 k;

	jobs = json_object();
	for (k = 0; k < JOB_NSTATUS; k++)
		json_object_set_new(jobs, job_status_name(k),
		    json_integer((json_int_t)ps->jobs[k]));
	restarts = json_object();
	for (k = 0; k < RESTART_NREASONS; k++)
		json_object_set_new(restarts, restart_reason_name(k),
		    json_integer((json_int_t)ps->restarts[k]));
	workers = json_array();
	for (i = 0; i < pool_nworkers(p); i++) {
		pool_worker_info(p, i, &wi);
		json_array_append_new(workers, json_pack("{s:i,s:i,s:s,s:I,"
		    "s:I,s:f,s:f,s:I,s:I}", "pid", (int)wi.pid,
		    "id", (int)wi.id,
		    "state", wi.state, "jobs", (json_int_t)wi.jobs, "inflight",
		    (json_int_t)wi.inflight, "current_job_age_s",
		    (double)wi.age_us / 1e6, "uptime_s",
		    (double)wi.uptime_us / 1e6, "restarts",
		    (json_int_t)wi.restarts, "rss_kb", (json_int_t)wi.rss_kb));
	}
	o = json_pack("{s:o,s:s,s:o,s:s,s:i,s:I,s:I,s:i,s:f,s:I,s:o,s:o,s:o}",
	    "name", jsonw_text(pool_name(p)), "state", sp->removed ?
	    "removing" :
	    pool_state_name(pool_state(p)),
	    "worker", jsonw_text(pc->handler != NULL ? pc->handler :
	    pc->argv[0]),
	    "protocol", protocol_name(pc->protocol),
	    "workers_target", (int)pool_target(p),
	    "queued", (json_int_t)pool_queued(p),
	    "inflight", (json_int_t)pool_inflight(p),
	    "window", (int)pool_window(p), "jobs_per_s", sp->rate,
	    "retried", (json_int_t)ps->retried,
	    "jobs", jobs, "restarts", restarts, "workers", workers);
	json_object_set_new(o, "window_adaptive", json_boolean(pc->window ==
	    0));
	json_object_set_new(o, "workers_min", json_integer(pc->max_workers ?
	    pc->min_workers : pool_target(p)));
	json_object_set_new(o, "workers_max", json_integer(pc->max_workers ?
	    pc->max_workers : pool_target(p)));
	if (pool_failure(p) != NULL)
		json_object_set_new(o, "failure",
		    jsonw_text(pool_failure(p)));
	if (pool_shortage(p) != NULL)
		json_object_set_new(o, "shortage",
		    jsonw_text(pool_shortage(p)));
	return (o);
}

/* The status object of drover status --json and GET /status. */
json_t *
supervisor_status(void)
{
	json_t	*pools;
	size_t	 i;

	pools = json_array();
	for (i = 0; i < sv.npools; i++)
		json_array_append_new(pools, sv_pool_status(&sv.pools[i]));
	return (json_pack("{s:s,s:i,s:s,s:f,s:o,s:i,s:{s:I,s:I},s:o}",
	    "version", DROVER_VERSION, "pid", (int)getpid(),
	    "state", sv.state == SV_RUNNING ? "running" :
	    sv.state == SV_DRAINING ? "draining" : "stopping",
	    "uptime_s", (double)(clock_us() - sv.start_us) / 1e6,
	    "config", jsonw_text(sv.conf->path),
	    "clients", (int)sv_nbatches(),
	    "reloads", "ok", (json_int_t)sv.reloads_ok, "failed",
	    (json_int_t)sv.reloads_failed, "pools", pools));
}

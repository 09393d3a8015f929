/*
 * When accept() fails for want of resources (EMFILE, ENFILE, ENOBUFS,
 * ENOMEM), the pending connection stays in the backlog and the listening
 * socket stays readable: libevent would call accept() again at once,
 * forever, at 100% CPU and with a warning each time.  Like nginx, stop
 * accepting for a moment instead, say so once, and try again; connections
 * wait in the backlog meanwhile.  Any other error is logged, rate-limited.
 */
#include <sys/queue.h>
#include <sys/resource.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "acceptguard.h"
#include "clock.h"
#include "log.h"
#include "xmalloc.h"

#define ACCEPT_PAUSE_US		(500 * 1000)

struct accept_guard {
	LIST_ENTRY(accept_guard) entry;
	struct evconnlistener	*listener;
	struct event		*ev_resume;
	char			*name;
	uint64_t		 pauses;	/* since the last log line */
	uint64_t		 last_log_us;
};

/*
 * The error callback gets the listener's own argument (evhttp's, for the
 * metrics endpoint), not ours: find the guard by its listener.
 */
static LIST_HEAD(, accept_guard) guards = LIST_HEAD_INITIALIZER(guards);

static void
accept_guard_resume(int fd, short what, void *arg)
{
	struct accept_guard	*g = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(g->listener);
}

static void
accept_guard_error(struct evconnlistener *l, void *arg)
{
	struct accept_guard	*g;
	struct timeval		 tv = { 0, ACCEPT_PAUSE_US };
	uint64_t		 now = clock_us();
	int			 e = EVUTIL_SOCKET_ERROR();

	(void)arg;
	LIST_FOREACH(g, &guards, entry)
		if (g->listener == l)
			break;
	if (g == NULL)
		return;

	if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
		evconnlistener_disable(l);
		evtimer_add(g->ev_resume, &tv);
		g->pauses++;
	}
	/* One line a minute at most, however often this happens. */
	if (g->last_log_us == 0 || now - g->last_log_us >= 60000000ULL) {
		log_warnx("%s: accept: %s%s", g->name, strerror(e),
		    g->pauses != 0 ? "; not accepting for 0.5 s" : "");
		g->last_log_us = now;
		g->pauses = 0;
	}
}

/* Watch l's accept errors; name labels the log lines. */
struct accept_guard *
accept_guard_new(struct event_base *base, struct evconnlistener *l,
    const char *name)
{
	struct accept_guard	*g;

	g = xcalloc(1, sizeof(*g));
	g->listener = l;
	g->name = xstrdup(name);
	g->ev_resume = evtimer_new(base, accept_guard_resume, g);
	evconnlistener_set_error_cb(l, accept_guard_error);
	LIST_INSERT_HEAD(&guards, g, entry);
	return (g);
}

void
accept_guard_free(struct accept_guard *g)
{
	if (g == NULL)
		return;
	LIST_REMOVE(g, entry);
	event_free(g->ev_resume);
	free(g->name);
	free(g);
}

/*
 * The fd a connection must stay below: ACCEPT_FD_RESERVE below the
 * limit, so that workers can be spawned and a config read at any time.
 * Since the kernel hands out the lowest free fd, a connection at or above
 * it means that fewer than that are left.  Workers in turn stop short of
 * it (supervisor.c), so that clients can still connect; the control
 * socket closes an idle connection to make room (control.c).
 */
int
accept_fd_limit(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur == RLIM_INFINITY
	    || rl.rlim_cur > INT_MAX)
		return (INT_MAX);
	if (rl.rlim_cur < 2 * ACCEPT_FD_RESERVE)
		return ((int)rl.rlim_cur / 2);
	return ((int)(rl.rlim_cur - ACCEPT_FD_RESERVE));
}

/*
 * A connection to Redis with its own timers (redis.h has the design).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libevent.h>

#include "clock.h"
#include "log.h"
#include "redis.h"
#include "timer.h"
#include "xmalloc.h"

#define BACKOFF_MIN_US	50000
#define BACKOFF_MAX_US	2000000
#define TICK_US		100000	/* how often the timeouts are looked at */

enum rstate {
	RC_DOWN,	/* waiting to connect again */
	RC_CONNECTING,
	RC_SELECTING,	/* SELECT db sent */
	RC_UP,
};

struct rconn {
	struct event_base	*base;
	struct redis_addr	 addr;
	char			*name;
	uint64_t		 timeout_us;
	struct rconn_hooks	 hooks;
	void			*arg;
	redisAsyncContext	*ac;
	enum rstate		 state;
	uint64_t		 since_us;	/* of the state, last reply */
	uint64_t		 backoff_us;
	unsigned		 outstanding;
	struct event		*ev_retry;
	struct event		*ev_tick;
	char			 why[256];	/* of the last going down */
	bool			 logged_down;
};

/* One command's callback and argument, through hiredis's privdata. */
struct rcmd {
	struct rconn	*rc;
	rconn_cb	 cb;
	void		*arg;
};

static void	rc_connect(struct rconn *);

/*
 * "redis://HOST[:PORT][/DB]" (HOST may be [v6]) or "unix:/PATH[?db=N]".
 * 0, or -1 with why in err.
 */
int
redis_addr_parse(const char *s, struct redis_addr *a, char *err,
    size_t errlen)
{
	const char	*p, *end, *colon;
	char		*e;
	long		 v;

	memset(a, 0, sizeof(*a));
	a->port = 6379;
	if (strncmp(s, "unix:/", 6) == 0) {
		p = s + 5;
		end = strstr(p, "?db=");
		a->path = end != NULL ? xstrndup(p, (size_t)(end - p)) :
		    xstrdup(p);
		if (end != NULL) {
			errno = 0;
			v = strtol(end + 4, &e, 10);
			if (*e != '\0' || errno != 0 || v < 0 || v > 1000000)
				goto bad;
			a->db = (int)v;
		}
		if (strlen(a->path) > 100)
			goto bad;
		return (0);
	}
	if (strncmp(s, "redis://", 8) != 0)
		goto bad;
	p = s + 8;
	end = p + strcspn(p, "/");
	if (*p == '[') {
		if ((colon = memchr(p, ']', (size_t)(end - p))) == NULL)
			goto bad;
		a->host = xstrndup(p + 1, (size_t)(colon - p - 1));
		colon++;
		if (colon != end && *colon != ':')
			goto bad;
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		a->host = xstrndup(p, (size_t)((colon != NULL ? colon : end) -
		    p));
	}
	if (*a->host == '\0')
		goto bad;
	if (colon != NULL && colon != end) {
		errno = 0;
		v = strtol(colon + 1, &e, 10);
		if (e != end || e == colon + 1 || errno != 0 || v < 1 ||
		    v > 65535)
			goto bad;
		a->port = (int)v;
	}
	if (*end == '/' && end[1] != '\0') {
		errno = 0;
		v = strtol(end + 1, &e, 10);
		if (*e != '\0' || errno != 0 || v < 0 || v > 1000000)
			goto bad;
		a->db = (int)v;
	}
	return (0);
bad:
	redis_addr_free(a);
	snprintf(err, errlen, "'%s' is not \"redis://HOST[:PORT][/DB]\" or "
	    "\"unix:/PATH[?db=N]\"", s);
	return (-1);
}

void
redis_addr_free(struct redis_addr *a)
{
	free(a->host);
	free(a->path);
	memset(a, 0, sizeof(*a));
}

void
redis_addr_string(const struct redis_addr *a, char *buf, size_t len)
{
	if (a->path != NULL)
		snprintf(buf, len, "unix:%s", a->path);
	else
		snprintf(buf, len, "%s:%d", a->host, a->port);
}

static void
rc_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	rc_connect(arg);
}

/* Down: tell the owner once, try again after the backoff. */
static void
rc_down(struct rconn *rc, const char *why)
{
	enum rstate	 was = rc->state;

	rc->ac = NULL;
	rc->state = RC_DOWN;
	rc->outstanding = 0;
	snprintf(rc->why, sizeof(rc->why), "%s", why);
	if (!rc->logged_down) {
		log_warnx("redis %s: %s; reconnecting", rc->name, why);
		rc->logged_down = true;
	}
	timer_arm_us(rc->ev_retry, rc->backoff_us);
	rc->backoff_us = rc->backoff_us * 2 > BACKOFF_MAX_US ?
	    BACKOFF_MAX_US : rc->backoff_us * 2;
	if (was == RC_UP && rc->hooks.down != NULL)
		rc->hooks.down(rc, rc->arg, why);
}

static void
rc_up(struct rconn *rc)
{
	rc->state = RC_UP;
	rc->since_us = clock_us();
	rc->backoff_us = BACKOFF_MIN_US;
	if (rc->logged_down)
		log_info("redis %s: connected", rc->name);
	rc->logged_down = false;
	if (rc->hooks.up != NULL)
		rc->hooks.up(rc, rc->arg);
}

static void
rc_selected(redisAsyncContext *ac, void *r, void *priv)
{
	struct rconn	*rc = priv;
	redisReply	*reply = r;

	(void)ac;
	if (reply == NULL)
		return;		/* the disconnect callback says it */
	if (reply->type == REDIS_REPLY_ERROR) {
		snprintf(rc->why, sizeof(rc->why), "SELECT %d: %s",
		    rc->addr.db, reply->str);
		redisAsyncDisconnect(rc->ac);
		return;
	}
	rc_up(rc);
}

static void
rc_connect_cb(const redisAsyncContext *ac, int status)
{
	struct rconn	*rc = ac->data;
	char		 why[300];

	if (status != REDIS_OK) {
		snprintf(why, sizeof(why), "cannot connect: %s", ac->errstr);
		rc_down(rc, why);	/* hiredis frees the context */
		return;
	}
	if (rc->addr.db != 0) {
		rc->state = RC_SELECTING;
		rc->since_us = clock_us();
		(void)redisAsyncCommand(rc->ac, rc_selected, rc, "SELECT %d",
		    rc->addr.db);
		return;
	}
	rc_up(rc);
}

static void
rc_disconnect_cb(const redisAsyncContext *ac, int status)
{
	struct rconn	*rc = ac->data;
	char		 why[300];

	if (rc == NULL)
		return;		/* rconn_free() */
	if (status == REDIS_OK && rc->why[0] != '\0')
		snprintf(why, sizeof(why), "%s", rc->why);
	else if (status == REDIS_OK)
		snprintf(why, sizeof(why), "disconnected");
	else
		snprintf(why, sizeof(why), "connection lost: %s",
		    ac->errstr);
	rc_down(rc, why);
}

static void
rc_connect(struct rconn *rc)
{
	redisAsyncContext	*ac;

	rc->why[0] = '\0';
	ac = rc->addr.path != NULL ? redisAsyncConnectUnix(rc->addr.path) :
	    redisAsyncConnect(rc->addr.host, rc->addr.port);
	if (ac == NULL) {
		rc_down(rc, "cannot connect: out of memory");
		return;
	}
	if (ac->err) {
		char	 why[300];

		snprintf(why, sizeof(why), "cannot connect: %s", ac->errstr);
		redisAsyncFree(ac);
		rc_down(rc, why);
		return;
	}
	ac->data = rc;
	rc->ac = ac;
	rc->state = RC_CONNECTING;
	rc->since_us = clock_us();
	redisLibeventAttach(ac, rc->base);
	redisAsyncSetConnectCallback(ac, rc_connect_cb);
	redisAsyncSetDisconnectCallback(ac, rc_disconnect_cb);
}

/*
 * The timers hiredis 0.14 has not: a connect that takes too long, or a
 * reply that does not come, ends the connection (every pending callback
 * gets NULL) and a new one is made.
 */
static void
rc_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rconn	*rc = arg;
	uint64_t	 now = clock_us();

	(void)fd;
	(void)what;
	if ((rc->state == RC_CONNECTING || rc->state == RC_SELECTING) &&
	    now - rc->since_us > rc->timeout_us)
		rconn_reset(rc, "connect timed out");
	else if (rc->state == RC_UP && rc->outstanding != 0 &&
	    now - rc->since_us > rc->timeout_us)
		rconn_reset(rc, "no reply in time");
	timer_arm_us(rc->ev_tick, TICK_US);
}

/*
 * Drop the connection now (why), as if it broke: pending callbacks get
 * NULL, and a new one is tried after the backoff.  Not from a callback.
 */
void
rconn_reset(struct rconn *rc, const char *why)
{
	redisAsyncContext	*ac = rc->ac;

	if (ac == NULL)
		return;
	snprintf(rc->why, sizeof(rc->why), "%s", why);
	if (rc->state != RC_UP) {
		/* Never connected: no disconnect callback will come. */
		ac->data = NULL;
		rc->ac = NULL;
		redisAsyncFree(ac);
		rc_down(rc, why);
		return;
	}
	redisAsyncFree(ac);	/* callbacks with NULL, then disconnect */
}

/*
 * A connection named name (for the logs) to addr; timeout_us bounds a
 * connect and the wait for each reply (a blocking command's own time
 * included).  It connects at once; hooks->up says when it is there.
 */
struct rconn *
rconn_new(struct event_base *base, const struct redis_addr *addr,
    const char *name, uint64_t timeout_us, const struct rconn_hooks *hooks,
    void *arg)
{
	struct rconn	*rc;

	rc = xcalloc(1, sizeof(*rc));
	rc->base = base;
	rc->addr.host = addr->host != NULL ? xstrdup(addr->host) : NULL;
	rc->addr.path = addr->path != NULL ? xstrdup(addr->path) : NULL;
	rc->addr.port = addr->port;
	rc->addr.db = addr->db;
	rc->name = xstrdup(name);
	rc->timeout_us = timeout_us;
	rc->hooks = *hooks;
	rc->arg = arg;
	rc->backoff_us = BACKOFF_MIN_US;
	rc->ev_retry = evtimer_new(base, rc_retry_cb, rc);
	rc->ev_tick = evtimer_new(base, rc_tick_cb, rc);
	timer_arm_us(rc->ev_tick, TICK_US);
	rc_connect(rc);
	return (rc);
}

/* Close; pending callbacks get NULL (they must not use rc). */
void
rconn_free(struct rconn *rc)
{
	redisAsyncContext	*ac;

	if (rc == NULL)
		return;
	rc->hooks.down = NULL;
	if ((ac = rc->ac) != NULL) {
		rc->ac = NULL;
		if (rc->state == RC_UP || rc->state == RC_SELECTING) {
			ac->data = NULL;	/* no disconnect callback */
			redisAsyncFree(ac);
		} else {
			ac->data = NULL;
			redisAsyncFree(ac);
		}
	}
	event_free(rc->ev_retry);
	event_free(rc->ev_tick);
	redis_addr_free(&rc->addr);
	free(rc->name);
	free(rc);
}

bool
rconn_up(const struct rconn *rc)
{
	return (rc->state == RC_UP);
}

unsigned
rconn_outstanding(const struct rconn *rc)
{
	return (rc->outstanding);
}

const char *
rconn_name(const struct rconn *rc)
{
	return (rc->name);
}

static void
rc_reply(redisAsyncContext *ac, void *r, void *priv)
{
	struct rcmd	*c = priv;
	struct rconn	*rc = ac->data;

	if (rc != NULL && r != NULL) {
		rc->outstanding--;
		rc->since_us = clock_us();
	}
	if (c->cb != NULL)
		c->cb(rc, r, c->arg);
	free(c);
	/* ac->data again: the callback may have freed the connection. */
	if ((rc = ac->data) != NULL && r != NULL && rc->outstanding == 0 &&
	    rc->hooks.idle != NULL)
		rc->hooks.idle(rc, rc->arg);
}

/* Send a command (argv form); -1 if the connection is not up. */
int
rconn_cmd(struct rconn *rc, rconn_cb cb, void *arg, int argc,
    const char **argv, const size_t *lens)
{
	struct rcmd	*c;

	if (rc->state != RC_UP || rc->ac == NULL)
		return (-1);
	c = xmalloc(sizeof(*c));
	c->rc = rc;
	c->cb = cb;
	c->arg = arg;
	if (redisAsyncCommandArgv(rc->ac, rc_reply, c, argc, argv, lens) !=
	    REDIS_OK) {
		free(c);
		return (-1);
	}
	if (rc->outstanding++ == 0)
		rc->since_us = clock_us();
	return (0);
}

/* Send a command (printf form, hiredis's %s and %b); -1 if down. */
int
rconn_cmdf(struct rconn *rc, rconn_cb cb, void *arg, const char *fmt, ...)
{
	struct rcmd	*c;
	va_list		 ap;
	int		 rv;

	if (rc->state != RC_UP || rc->ac == NULL)
		return (-1);
	c = xmalloc(sizeof(*c));
	c->rc = rc;
	c->cb = cb;
	c->arg = arg;
	va_start(ap, fmt);
	rv = redisvAsyncCommand(rc->ac, rc_reply, c, fmt, ap);
	va_end(ap);
	if (rv != REDIS_OK) {
		free(c);
		return (-1);
	}
	if (rc->outstanding++ == 0)
		rc->since_us = clock_us();
	return (0);
}

/*
 * A connection to Redis (daemon/redis.c): hiredis's async API on its
 * libevent adapter, with what hiredis 0.14 lacks done here: a connect
 * timeout and a command timeout (own timers), and reconnecting with a
 * backoff by making a new context.  Commands are pipelined: each is sent
 * at once and its reply comes to its callback in order; a callback gets
 * NULL when the connection went before the reply came (it may or may not
 * have been applied).  While down, rconn_cmd() refuses, and the owner
 * learns of up and down through its hooks.
 */
#ifndef DROVER_REDIS_H
#define DROVER_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct rconn;
struct redisReply;

/* redis://HOST[:PORT][/DB] or unix:/PATH[?db=N]. */
struct redis_addr {
	char		*host;		/* NULL for a Unix socket */
	int		 port;
	char		*path;
	int		 db;
};

struct rconn_hooks {
	/* Connected (and the DB selected); commands may go. */
	void	(*up)(struct rconn *, void *);
	/* The connection went (why); a new one is tried after a backoff. */
	void	(*down)(struct rconn *, void *, const char *);
	/* Optional: every reply is in (after the last one's callback). */
	void	(*idle)(struct rconn *, void *);
};

typedef void	(*rconn_cb)(struct rconn *, struct redisReply *, void *);

int		 redis_addr_parse(const char *, struct redis_addr *, char *,
		    size_t);
void		 redis_addr_free(struct redis_addr *);
void		 redis_addr_string(const struct redis_addr *, char *, size_t);

struct rconn	*rconn_new(struct event_base *, const struct redis_addr *,
		    const char *, uint64_t, const struct rconn_hooks *, void *);
void		 rconn_free(struct rconn *);
bool		 rconn_up(const struct rconn *);
int		 rconn_cmd(struct rconn *, rconn_cb, void *, int, const char **,
		    const size_t *);
int		 rconn_cmdf(struct rconn *, rconn_cb, void *, const char *,
		    ...);
unsigned	 rconn_outstanding(const struct rconn *);
void		 rconn_reset(struct rconn *, const char *);
const char	*rconn_name(const struct rconn *);

#endif

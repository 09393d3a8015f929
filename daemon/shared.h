/*
 * Shared pools on Redis Streams (daemon/shared.c): several droverd nodes
 * take the jobs of one queue per pool name, and a batch submitted to any
 * node gets every job's result once, with an exact aggregate, whatever
 * node or Redis restart happens meanwhile.  docs/architecture.md ("Shared
 * pools") has the key layout, who acknowledges what and when, and the
 * recovery of a dead node; docs/protocol.md what a client sees.
 *
 * Two roles, both on every node:
 *   a consumer (struct spool) per shared pool: it reads entries of the
 *   pool's stream for its consumer group (XREADGROUP, as many as the local
 *   pool has room for), runs them on the local pool (a struct batch), and
 *   ends each with MULTI XADD result, XACK, XDEL EXEC; it keeps its
 *   in-flight entries' idle time low (XCLAIM JUSTID) and claims entries
 *   idle past claim_idle from dead nodes (XAUTOCLAIM), the delivery count
 *   being the attempts;
 *   a submitter (struct sbatch, an xbatch for control.c) per batch sent
 *   through this node: it adds the client's jobs to the stream (XADD),
 *   says ACCEPTED once Redis has them and the batch's hash says so, and
 *   follows the batch's result stream, dropping ids it has seen.
 */
#ifndef DROVER_SHARED_H
#define DROVER_SHARED_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "xbatch.h"

struct buf;
struct event_base;
struct pool;
struct shared;

struct shared_conf {
	const char	*redis;		/* the address, redis.h's forms */
	double		 retention_s;	/* a completed batch's keys expire */
};

struct shared_hooks {
	/* A live pool by name, or NULL. */
	struct pool	*(*pool)(const char *);
	/* Optional: draining, shared_settled() may have become true. */
	void		 (*settled)(void);
};

/* A lookup of a batch by id is answered through this (async). */
typedef void	(*shared_found_cb)(void *, struct xbatch *, const char *);

struct shared	*shared_new(struct event_base *, const struct shared_conf *,
		    const struct shared_hooks *, char *, size_t);
void		 shared_free(struct shared *);
void		 shared_pools(struct shared *);
void		 shared_drain(struct shared *, const char *);
bool		 shared_settled(const struct shared *);
void		 shared_sync(struct shared *, const char *const *, size_t);

struct xbatch	*shared_batch(struct shared *, struct pool *, char *,
		    size_t);
void		 shared_find(struct shared *, const char *, const char *,
		    shared_found_cb, void *);
void		 shared_find_cancel(struct shared *, void *);

struct sreader;
struct sreader	*shared_read(struct shared *, const char *, bool,
		    const struct xreader_ops *, void *);
void		 shared_read_more(struct sreader *);
void		 shared_read_close(struct sreader *);

json_t		*shared_batches_json(struct shared *);
json_t		*shared_status_json(struct shared *);
void		 shared_metrics(struct shared *, struct buf *);

#endif

/*
 * What droverd's front ends (the control socket, control.c; the metrics
 * listener, metrics.c) may ask of the supervisor.  droverd.c wires these to
 * supervisor.c, so that neither side includes the other: the supervisor
 * knows pools and batches, not sockets (docs/architecture.md).
 */
#ifndef DROVER_HOOKS_H
#define DROVER_HOOKS_H

#include <stdbool.h>

#include <jansson.h>

struct buf;
struct conf;
struct durable;
struct shared;
struct pool;

struct daemon_hooks {
	/* The running configuration (it changes on reload). */
	const struct conf *(*conf)(void);
	/* A live pool by name, or NULL. */
	struct pool	*(*pool)(const char *);
	/* False once draining: new submits are refused. */
	bool		 (*accepting)(void);
	/* Reload the config file: 0 and what changed, or -1 and why. */
	int		 (*reload)(struct buf *);
	/*
	 * Are the pools that reload started or changed up?  1 yes, 0 not
	 * yet, -1 one failed (why says which, and why).  NULL: always 1.
	 */
	int		 (*reload_settled)(struct buf *);
	/* scale|stop|start|restart POOL [n]: 0 and what was done, or -1. */
	int		 (*pool_op)(const char *, const char *, long,
			    struct buf *);
	/* The status object (a new reference). */
	json_t		*(*status)(void);
	/* False with the reasons in why when some pool has failed. */
	bool		 (*healthy)(struct buf *);
	/* Reloads so far that succeeded (true) or failed (false). */
	unsigned long long (*reloads)(bool);
	/* The durable batches (daemon/durable.h), or NULL: no journal. */
	struct durable	*(*durable)(void);
	/* The shared pools (daemon/shared.h), or NULL: no redis. */
	struct shared	*(*shared)(void);
	/* Optional: more metrics (the journal's), appended as they are. */
	void		 (*metrics)(struct buf *);
};

#endif

/*
 * droverd's state: the running configuration, its pools by name, and the
 * life of the daemon (running, draining, stopping).  There is one
 * supervisor per process; its functions act on it.  It knows pools and the
 * batches attached to them, not where the batches come from: droverd.c
 * opens the sockets and wires them in (struct daemon_hooks, hooks.h).
 */
#ifndef DROVER_SUPERVISOR_H
#define DROVER_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct buf;
struct conf;
struct event_base;
struct pool;

struct supervisor_hooks {
	/*
	 * A reload is about to replace the running conf (old) with a good
	 * one (new): apply what the supervisor does not own (the metrics
	 * listener), saying what changed in out.
	 */
	void	(*reloading)(const struct conf *, const struct conf *,
		    struct buf *, void *);
	/*
	 * Optional: pools were added, removed, stopped or started (a reload,
	 * drover start or stop), for what follows them (shared pools).
	 */
	void	(*pools_changed)(const struct conf *, void *);
	/*
	 * Optional: while draining, whether what is not in a pool may be
	 * left (shared batches' clients, replies from Redis); when it may,
	 * supervisor_check_exit().
	 */
	bool	(*settled)(void *);
};

void		 supervisor_init(struct event_base *, struct conf *, bool,
		    const struct supervisor_hooks *, void *);
void		 supervisor_start(void);
void		 supervisor_check_exit(void);
void		 supervisor_free(void);
struct pool	*supervisor_pool(const char *);
bool		 supervisor_accepting(void);
const struct conf *supervisor_conf(void);
int		 supervisor_reload(struct buf *);
int		 supervisor_reload_settled(struct buf *);
json_t		*supervisor_status(void);
bool		 supervisor_healthy(struct buf *);
void		 supervisor_fail_durable(const char *);
void		 supervisor_drain(void);
void		 supervisor_stop_now(void);
void		 supervisor_resize(int);
int		 supervisor_pool_op(const char *, const char *, long,
		    struct buf *);
void		 supervisor_reopen_logs(void);
unsigned long long supervisor_reloads(bool);

#endif

/*
 * droverd's control socket: submit, status, reload and the per-pool
 * operations (control.c).  Each submitting client is a batch of the pool
 * it names (batch.h); everything else it asks of the supervisor goes
 * through struct daemon_hooks (hooks.h).
 */
#ifndef DROVER_CONTROL_H
#define DROVER_CONTROL_H

#include <stddef.h>

struct conf;
struct control;
struct daemon_hooks;
struct event_base;

struct control	*control_new(struct event_base *, const struct conf *,
		    const struct daemon_hooks *, char *, size_t);
void		 control_free(struct control *);

#endif

/*
 * Listening sockets that survive running out of file descriptors, and the
 * fd a connection must stay below so that workers can still be spawned.
 */
#ifndef DROVER_ACCEPTGUARD_H
#define DROVER_ACCEPTGUARD_H

#include <event2/event.h>
#include <event2/listener.h>

#define ACCEPT_FD_RESERVE	64	/* kept for workers, reload, status */

struct accept_guard;

struct accept_guard	*accept_guard_new(struct event_base *,
			    struct evconnlistener *, const char *);
void			 accept_guard_free(struct accept_guard *);
int			 accept_fd_limit(void);

#endif

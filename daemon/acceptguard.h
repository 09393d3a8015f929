/*
 * Listening sockets that survive running out of file descriptors.
 */
#ifndef DROVER_ACCEPTGUARD_H
#define DROVER_ACCEPTGUARD_H

#include <event2/event.h>
#include <event2/listener.h>

struct accept_guard;

struct accept_guard	*accept_guard_new(struct event_base *,
			    struct evconnlistener *, const char *);
void			 accept_guard_free(struct accept_guard *);

#endif

/*
 * GET /metrics, /status and /healthz over evhttp (metrics.c).
 */
#ifndef DROVER_METRICS_H
#define DROVER_METRICS_H

#include <stddef.h>

struct buf;
struct daemon_hooks;
struct event_base;
struct metrics;

struct metrics	*metrics_new(struct event_base *, const char *,
		    const struct daemon_hooks *, char *, size_t);
void		 metrics_free(struct metrics *);
void		 metrics_reconfigure(struct metrics **, struct event_base *,
		    const char *, const struct daemon_hooks *, struct buf *);

#endif

/*
 * droverd's control socket: submit, status, reload (control.c).
 */
#ifndef DROVER_CONTROL_H
#define DROVER_CONTROL_H

#include <stddef.h>

struct conf;
struct control;
struct event_base;
struct pool;

struct control	*control_new(struct event_base *, const struct conf *, char *,
		    size_t);
void		 control_free(struct control *);
void		 control_drain(struct control *);
void		 control_pool_closing(struct control *, struct pool *,
		    const char *);
size_t		 control_nclients(const struct control *);
size_t		 control_nsubmitting(const struct control *);
int		 control_fd_limit(void);

#endif

/*
 * droverd's state: the running configuration, its pools by name, the
 * control socket, and the life of the daemon (running, draining, stopping).
 * There is one supervisor per process; its functions act on it.
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

int		 supervisor_init(struct event_base *, struct conf *, bool);
void		 supervisor_free(void);
struct pool	*supervisor_pool(const char *);
bool		 supervisor_accepting(void);
const struct conf *supervisor_conf(void);
int		 supervisor_reload(struct buf *);
json_t		*supervisor_status(void);
bool		 supervisor_healthy(struct buf *);
void		 supervisor_drain(void);
void		 supervisor_stop_now(void);
void		 supervisor_check_exit(void);
void		 supervisor_resize(int);
int		 supervisor_pool_op(const char *, const char *, long,
		    struct buf *);
void		 supervisor_reopen_logs(void);
unsigned long long supervisor_reloads(bool);

#endif

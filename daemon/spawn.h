/*
 * Starting a worker process: fork, set up the child (signals, process group,
 * fds 0-2, limits, credentials, parent-death signal, environment), exec, and
 * learn synchronously whether the exec worked.
 */
#ifndef DROVER_SPAWN_H
#define DROVER_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

#include "poolconf.h"

struct spawn_req {
	char *const		*argv;
	char *const		*env;		/* extra NAME=value, NULL-end */
	const struct poolconf	*pc;		/* credentials and rlimits */
	int			 fd_in;		/* becomes the child's 0 */
	int			 fd_out;	/* 1 */
	int			 fd_err;	/* 2 */
};

pid_t	spawn_process(const struct spawn_req *, char *, size_t);

#endif

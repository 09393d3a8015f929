/*
 * Starting a worker process: fork, set up the child (signals, process group,
 * fds 0-2, limits, credentials, parent-death signal, environment) and exec.
 * Whether the exec worked comes later, on the exec-status pipe that
 * spawn_process() hands back: the caller watches it on its event loop and
 * reads it with spawn_status(), so that no one waits for an exec.
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

pid_t	spawn_process(const struct spawn_req *, int *, char *, size_t);
int	spawn_status(int, const char *, char *, size_t);

#endif

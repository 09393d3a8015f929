/*
 * droverd's configuration: a libconfig file turned into an immutable,
 * self-owned struct conf, validated whole.  Every problem is reported as
 * "file:line: message"; a file with any problem yields no conf at all.
 *
 * The settings are declared in one table each (globals here, pool keys in
 * settings.c) with their type, bounds, default and how a change applies on
 * reload; the loader, the validator, the reload diff and `droverd
 * --settings` (which the man page is checked against) all read them.
 */
#ifndef DROVER_CONF_H
#define DROVER_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "settings.h"

struct poolconf;
struct buf;

struct conf {
	char		 *path;
	char		 *socket;
	mode_t		  socket_mode;
	char		 *socket_group;		/* NULL: droverd's group */
	gid_t		  socket_gid;
	char		**allow;		/* users, @groups; NULL-ended */
	char		 *metrics;		/* "" = off */
	char		 *journal;		/* "" = off */
	double		  result_retention;	/* s; 0 = for ever */
	uint64_t	  journal_max_mb;	/* 0 = no limit */
	char		 *redis;		/* "" = off */
	double		  shutdown_timeout;
	int		  log_level;
	char		 *log_file;		/* NULL = stderr */
	struct poolconf	**pools;
	size_t		  npools;
};

struct conf_errors {
	char		**msgs;
	size_t		  n;
};

struct conf	*conf_load(const char *, struct conf_errors *);
void		 conf_free(struct conf *);
void		 conf_errors_free(struct conf_errors *);
struct conf	*conf_default(const char *);
const struct poolconf *conf_pool(const struct conf *, const char *);
unsigned	 conf_global_diff(const struct conf *, const struct conf *,
		    struct buf *);
void		 conf_print_settings(FILE *);

#endif

/*
 * The settings of one pool: an immutable, self-owned struct.  `drover run`
 * fills one from its options; droverd's config loader (conf.c) fills one per
 * pool from the config file.  The engine only reads it.
 */
#ifndef DROVER_POOLCONF_H
#define DROVER_POOLCONF_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

enum protocol {
	PROTO_FRAME,
	PROTO_LINE,
	PROTO_TAGGED,
};

#define POOLCONF_MAX_WORKERS	1024
#define POOLCONF_MAX_WINDOW	65536
#define POOLCONF_NRLIMITS	4

struct poolconf_rlimit {
	int		resource;	/* RLIMIT_* */
	rlim_t		value;
	bool		set;
};

struct poolconf {
	char		*name;
	char		**argv;		/* the worker command */
	char		*handler;	/* bundled handler, or NULL */
	char		*exec;		/* the exec handler's command */
	char		*exec_cwd;	/* "client": jobs in its directory */
	char		**options;	/* handler options KEY=VALUE, or NULL */
	unsigned	 line;		/* where it was defined (config) */
	enum protocol	 protocol;
	unsigned	 workers;
	unsigned	 min_workers;	/* dynamic: the range of workers */
	unsigned	 max_workers;	/* (0: a fixed size, workers) */
	double		 idle_timeout;	/* dynamic: idle this long: retired */
	double		 spawn_rate;	/* dynamic: workers added a second */
	unsigned	 window;	/* jobs in flight; 0 = adapt */
	unsigned	 window_max;	/* the adaptive window's ceiling */
	double		 job_timeout;	/* seconds; 0 = none */
	unsigned	 max_attempts;
	bool		 retry_timeouts;
	bool		 durable;	/* with a journal: durable batches */
	bool		 shared;	/* with redis: one queue, many nodes */
	double		 claim_idle;	/* shared: claim what idles so long */
	double		 rate;		/* jobs/s; 0 = unlimited */
	double		 burst;
	uint64_t	 max_jobs_per_worker;	/* 0 = never recycle */
	uint64_t	 max_rss_mb;		/* 0 = no limit */
	uint64_t	 max_job_bytes;
	uint64_t	 max_result_bytes;
	double		 start_secs;	/* alive this long: started */
	unsigned	 start_retries;	/* consecutive failed starts allowed */
	double		 backoff_initial;
	double		 backoff_max;
	unsigned	 restart_limit;	/* restarts allowed in restart_period */
	double		 restart_period;
	double		 stop_timeout;	/* EOF to SIGTERM to SIGKILL, seconds */
	char		*user;
	char		*group;
	uid_t		 uid;
	gid_t		 gid;
	bool		 setuser;	/* user given: setuid */
	bool		 setgroup;	/* user or group given: setgid */
	struct poolconf_rlimit rlimits[POOLCONF_NRLIMITS];
};

void		 poolconf_defaults(struct poolconf *);
struct poolconf	*poolconf_dup(const struct poolconf *);
void		 poolconf_free(struct poolconf *);
void		 poolconf_clear(struct poolconf *);
const char	*protocol_name(enum protocol);
int		 protocol_parse(const char *);
unsigned	 protocol_default_window(enum protocol);
unsigned	 poolconf_initial_workers(const struct poolconf *);
char		**poolconf_handler_argv(const char *, const struct poolconf *);

#endif

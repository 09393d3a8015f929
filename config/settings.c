/*
 * The pool settings table and what reads it without the config loader: the
 * diff of two settings, the hot apply, lookups (settings.h).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "handler_list.h"
#include "poolconf.h"
#include "settings.h"

#define PC(f)	offsetof(struct poolconf, f)
#define MB	(1024.0 * 1024.0)

/* Keys of a pool group. */
const struct setting pool_settings[] = {
	{ "name", T_STRING, PC(name), 0, 0, 0, APPLY_RESTART,
	  "The pool's name: letters, digits, '_', '-', '.'; unique." },
	{ "handler", T_STRING, PC(handler), 0, 0, 0, APPLY_REPLACE,
	  "A drover-worker handler: " DROVER_HANDLERS "." },
	{ "exec", T_STRING, PC(exec), 0, 0, 0, APPLY_REPLACE,
	  "The command of the exec handler; {} is the job." },
	{ "exec_cwd", T_STRING, PC(exec_cwd), 0, 0, 0, APPLY_REPLACE,
	  "\"client\": each job of the exec handler runs in the directory "
	  "of the drover submit that sent it; else in droverd's." },
	{ "command", T_COMMAND, PC(argv), 0, 0, 0, APPLY_REPLACE,
	  "A custom worker: [\"prog\", \"arg\"] or \"prog arg\" (no shell)." },
	{ "options", T_LIST, PC(options), 0, 0, 0, APPLY_REPLACE,
	  "Handler options, [\"KEY=VALUE\", ...] (drover-worker(7))." },
	{ "protocol", T_PROTOCOL, PC(protocol), 0, 0, 0, APPLY_REPLACE,
	  "\"frame\" (default for handlers), \"line\" (default for "
	  "commands) or \"tagged\"." },
	{ "workers", T_UINT, PC(workers), 1, POOLCONF_MAX_WORKERS, 0,
	  APPLY_HOT | SET_WORKERS, "Worker processes." },
	{ "min_workers", T_UINT, PC(min_workers), 1, POOLCONF_MAX_WORKERS, 0,
	  APPLY_HOT | SET_WORKERS, "A dynamic pool's fewest workers (with "
	  "max_workers, instead of workers)." },
	{ "max_workers", T_UINT, PC(max_workers), 1, POOLCONF_MAX_WORKERS, 0,
	  APPLY_HOT | SET_WORKERS, "A dynamic pool's most workers: it grows "
	  "while jobs wait and every worker is busy (default: a fixed size)." },
	{ "idle_timeout", T_DOUBLE, PC(idle_timeout), 0.01, 86400, 0,
	  APPLY_HOT, "Seconds a dynamic pool's worker may idle before it is "
	  "retired, down to min_workers." },
	{ "spawn_rate", T_DOUBLE, PC(spawn_rate), 0.01, 10000, 0, APPLY_HOT,
	  "Workers a dynamic pool adds per second at most." },
	{ "window", T_UINT, PC(window), 0, POOLCONF_MAX_WINDOW, BY_PROTOCOL,
	  APPLY_HOT | SET_WINDOW, "Jobs in flight per worker; 0 adapts "
	  "between 1 and window_max (default: 1 for line, 0 otherwise)." },
	{ "window_max", T_UINT, PC(window_max), 1, POOLCONF_MAX_WINDOW, 0,
	  APPLY_HOT | SET_WINDOW, "Ceiling of the adaptive window." },
	{ "job_timeout", T_DOUBLE, PC(job_timeout), 0, 31536000, 0,
	  APPLY_HOT | SET_TIMEOUT,
	  "Seconds before a job's worker is killed; 0 = none." },
	{ "max_attempts", T_UINT, PC(max_attempts), 1, 255, 0, APPLY_HOT,
	  "Runs charged to a job before it counts as crashed." },
	{ "durable", T_BOOL, PC(durable), 0, 0, 0, APPLY_HOT,
	  "With journal set, submits to this pool are durable batches "
	  "(committed before they are accepted)." },
	{ "shared", T_BOOL, PC(shared), 0, 0, 0, APPLY_HOT,
	  "With redis set, every node's pool of this name takes jobs from "
	  "one queue on Redis Streams." },
	{ "claim_idle", T_DOUBLE, PC(claim_idle), 0.1, 86400, 0, APPLY_HOT,
	  "Shared: an entry handed to a node silent this long (seconds) is "
	  "claimed by another." },
	{ "retry_timeouts", T_BOOL, PC(retry_timeouts), 0, 0, 0, APPLY_HOT,
	  "Retry timed-out jobs too, within max_attempts." },
	{ "rate", T_DOUBLE, PC(rate), 0, 1e9, 0, APPLY_HOT | SET_RATE,
	  "Jobs dispatched per second at most; 0 = unlimited." },
	{ "burst", T_DOUBLE, PC(burst), 1, 1e9, 0, APPLY_HOT | SET_RATE,
	  "Token-bucket burst for rate (default: rate/100, at least 1)." },
	{ "max_jobs_per_worker", T_U64, PC(max_jobs_per_worker), 0, 1e15, 0,
	  APPLY_HOT | SET_RECYCLE, "Replace a worker after this many jobs "
	  "(+0-10% jitter); 0 = never." },
	{ "max_rss_mb", T_U64, PC(max_rss_mb), 0, 1048576, 0,
	  APPLY_HOT | SET_RSS,
	  "Replace a worker whose resident memory passes this; 0 = never." },
	{ "max_job_bytes", T_U64, PC(max_job_bytes), 1, 1073741824, 0,
	  APPLY_HOT, "Longer jobs are rejected." },
	{ "max_result_bytes", T_U64, PC(max_result_bytes), 1, 1073741824, 0,
	  APPLY_REPLACE, "A longer result is a protocol error." },
	{ "start_secs", T_DOUBLE, PC(start_secs), 0, 3600, 0,
	  APPLY_HOT | SET_TIMEOUT,
	  "A worker that dies sooner, before its first result, failed to "
	  "start." },
	{ "start_retries", T_UINT, PC(start_retries), 0, 1000, 0,
	  APPLY_HOT | SET_THROTTLE,
	  "Failed starts in a row before the pool fails." },
	{ "restart_backoff", T_DOUBLE, PC(backoff_initial), 0, 3600, 0,
	  APPLY_HOT | SET_THROTTLE, "First backoff after repeated failed "
	  "starts, seconds (doubles, with jitter)." },
	{ "restart_backoff_max", T_DOUBLE, PC(backoff_max), 0, 86400, 0,
	  APPLY_HOT | SET_THROTTLE,
	  "Ceiling of the restart backoff, seconds." },
	{ "restart_limit", T_UINT, PC(restart_limit), 0, 1000000, 0,
	  APPLY_HOT | SET_THROTTLE, "Restarts allowed within "
	  "restart_period before the pool fails; 0 = no limit." },
	{ "restart_period", T_DOUBLE, PC(restart_period), 0.001, 86400, 0,
	  APPLY_HOT | SET_THROTTLE, "The window of restart_limit, seconds." },
	{ "stop_timeout", T_DOUBLE, PC(stop_timeout), 0, 3600, 0, APPLY_HOT,
	  "Seconds between EOF and SIGTERM, and SIGTERM and SIGKILL, for a "
	  "worker asked to exit." },
	{ "user", T_USER, PC(user), 0, 0, 0, APPLY_REPLACE,
	  "Run workers as this user (droverd must be root)." },
	{ "group", T_GROUP, PC(group), 0, 0, 0, APPLY_REPLACE,
	  "Run workers with this group (default: the user's)." },
	{ "rlimit_nofile", T_RLIMIT, PC(rlimits), 0, 1, 0, APPLY_REPLACE,
	  "RLIMIT_NOFILE of workers." },
	{ "rlimit_as_mb", T_RLIMIT, PC(rlimits), 0, MB, 1, APPLY_REPLACE,
	  "RLIMIT_AS of workers, MiB." },
	{ "rlimit_core", T_RLIMIT, PC(rlimits), 0, 1, 2, APPLY_REPLACE,
	  "RLIMIT_CORE of workers, bytes." },
	{ "rlimit_nproc", T_RLIMIT, PC(rlimits), 0, 1, 3, APPLY_REPLACE,
	  "RLIMIT_NPROC of workers." },
	{ NULL, 0, 0, 0, 0, 0, 0, NULL }
};

/* The setting named key in table, or NULL. */
const struct setting *
setting_find(const struct setting *table, const char *key)
{
	for (; table->key != NULL; table++)
		if (strcmp(table->key, key) == 0)
			return (table);
	return (NULL);
}

static bool
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a == b);
	return (strcmp(a, b) == 0);
}

static bool
argv_eq(char *const *a, char *const *b)
{
	if (a == NULL || b == NULL)
		return (a == b);
	for (; *a != NULL && *b != NULL; a++, b++)
		if (strcmp(*a, *b) != 0)
			return (false);
	return (*a == *b);
}

/* Does setting st differ between a and b (structs of its table)? */
static bool
setting_differs(const struct setting *st, const void *a, const void *b)
{
	const char	*pa = (const char *)a + st->off;
	const char	*pb = (const char *)b + st->off;
	const struct poolconf *ca = a, *cb = b;

	switch (st->type) {
	case T_UINT:
		return (*(const unsigned *)(const void *)pa !=
		    *(const unsigned *)(const void *)pb);
	case T_U64:
		return (*(const uint64_t *)(const void *)pa !=
		    *(const uint64_t *)(const void *)pb);
	case T_DOUBLE:
		return (*(const double *)(const void *)pa !=
		    *(const double *)(const void *)pb);
	case T_BOOL:
		return (*(const bool *)(const void *)pa !=
		    *(const bool *)(const void *)pb);
	case T_MODE:
		return (*(const mode_t *)(const void *)pa !=
		    *(const mode_t *)(const void *)pb);
	case T_LOGLEVEL:
		return (*(const int *)(const void *)pa !=
		    *(const int *)(const void *)pb);
	case T_PROTOCOL:
		return (ca->protocol != cb->protocol);
	case T_STRING:
	case T_USER:
	case T_GROUP:
		return (!str_eq(*(char *const *)(const void *)pa,
		    *(char *const *)(const void *)pb));
	case T_COMMAND:
	case T_LIST:
		return (!argv_eq(*(char **const *)(const void *)pa,
		    *(char **const *)(const void *)pb));
	case T_RLIMIT:
		return (ca->rlimits[st->aux].set != cb->rlimits[st->aux].set ||
		    ca->rlimits[st->aux].value != cb->rlimits[st->aux].value);
	case T_POOLS:
		return (false);
	}
	return (false);
}

/* Compare with a table; name changed keys in out; OR their apply flags. */
unsigned
settings_diff(const struct setting *table, const void *a, const void *b,
    struct buf *out)
{
	unsigned	 flags = 0;

	for (; table->key != NULL; table++) {
		if (!setting_differs(table, a, b))
			continue;
		flags |= table->apply & APPLY_MASK;
		if (out != NULL)
			buf_printf(out, "%s%s", buf_len(out) ? ", " : "",
			    table->key);
	}
	return (flags);
}

/* Can a hot change of st be applied by copying its value? */
bool
setting_hot_copyable(const struct setting *st)
{
	switch (st->type) {
	case T_UINT:
	case T_U64:
	case T_DOUBLE:
	case T_BOOL:
		return (true);
	default:
		return (false);	/* strings and lists are owned: replace */
	}
}

/* How a pool's settings changed: APPLY_* flags; changed keys in out. */
unsigned
poolconf_diff(const struct poolconf *a, const struct poolconf *b,
    struct buf *out)
{
	return (settings_diff(pool_settings, a, b, out));
}

/*
 * Copy every hot setting of src that differs into dst; return the OR of
 * their effects (the steps the pool must take).  A row marked hot that
 * cannot be copied is a table error, caught by test_conf.
 */
unsigned
poolconf_apply_hot(struct poolconf *dst, const struct poolconf *src)
{
	const struct setting	*st;
	unsigned		 effects = 0;
	size_t			 n;

	for (st = pool_settings; st->key != NULL; st++) {
		if ((st->apply & APPLY_MASK) != APPLY_HOT ||
		    !setting_differs(st, dst, src))
			continue;
		switch (st->type) {
		case T_UINT:
			n = sizeof(unsigned);
			break;
		case T_U64:
			n = sizeof(uint64_t);
			break;
		case T_DOUBLE:
			n = sizeof(double);
			break;
		case T_BOOL:
			n = sizeof(bool);
			break;
		default:
			continue;	/* not copyable: test_conf rejects */
		}
		memcpy((char *)dst + st->off, (const char *)src + st->off, n);
		effects |= st->apply & ~APPLY_MASK;
	}
	return (effects);
}

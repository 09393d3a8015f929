/*
 * The settings tables: one row per key, with its type, bounds, documentation
 * and how a change applies on reload (apply: APPLY_*, and for a hot change
 * the SET_* steps the pool takes).  droverd's loader (conf.c, libconfig)
 * parses the file with them; the reload diff and the hot apply (here), `droverd
 * --settings`, the man-page test and `drover run`'s option bounds read the
 * same rows.  Nothing here needs libconfig, so `drover` links this and not
 * the loader.
 *
 * Adding a pool setting: a field in struct poolconf (poolconf.h) and its
 * default (poolconf.c); a row in pool_settings (settings.c); if it is hot
 * and the pool must act on a change, a SET_* effect and its step in
 * daemon/pool_reconf.c; the key in droverd.conf(5).  The unit suite
 * test_conf checks that every hot row is one the pool can apply.
 */
#ifndef DROVER_SETTINGS_H
#define DROVER_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct poolconf;

/* How a changed setting takes effect on reload. */
enum conf_apply {
	APPLY_HOT = 1,		/* at once, running workers included */
	APPLY_REPLACE = 2,	/* workers are replaced one by one */
	APPLY_RESTART = 4,	/* only when droverd restarts */
	APPLY_MASK = 0xff,
};

/*
 * What the pool does when a hot setting changes, beyond taking the new
 * value (which every hot setting gets, in the settings of running workers
 * too: a value read when it is used needs no step, so effect 0).
 */
enum conf_effect {
	SET_WORKERS = 0x100,	/* spawn or retire to the new size */
	SET_WINDOW = 0x200,	/* clamp or set the window */
	SET_RATE = 0x400,	/* refill the token bucket */
	SET_THROTTLE = 0x800,	/* restart backoff and limits */
	SET_RSS = 0x1000,	/* start or stop the RSS check */
	SET_RECYCLE = 0x2000,	/* recompute each worker's recycle point */
	SET_TIMEOUT = 0x4000,	/* re-arm each worker's job timer */
};

enum stype {
	T_UINT,		/* unsigned, in a uint field */
	T_U64,		/* uint64_t */
	T_DOUBLE,
	T_BOOL,
	T_STRING,	/* char *, copied */
	T_PROTOCOL,	/* "frame", "line" or "tagged" */
	T_COMMAND,	/* array of strings, or one string split into words */
	T_USER,		/* a user name: sets uid and (by default) gid */
	T_GROUP,	/* a group name: sets gid */
	T_RLIMIT,	/* rlimits[aux], times mult */
	T_MODE,		/* an octal string such as "0660" */
	T_LOGLEVEL,
	T_LIST,		/* array or list of strings, NULL-ended */
	T_POOLS,	/* the list of pool groups */
};

struct setting {
	const char	*key;
	enum stype	 type;
	size_t		 off;
	double		 min;
	double		 max;
	int		 aux;		/* T_RLIMIT: index; mult in max */
					/* T_UINT: BY_PROTOCOL or 0 */
	unsigned	 apply;		/* APPLY_*, and for APPLY_HOT the */
	const char	*doc;		/* SET_* steps the pool takes */
};

#define BY_PROTOCOL	1	/* aux of a T_UINT: the default depends on it */

extern const struct setting pool_settings[];

const struct setting *setting_find(const struct setting *, const char *);
bool		 setting_hot_copyable(const struct setting *);
unsigned	 settings_diff(const struct setting *, const void *,
		    const void *, struct buf *);
unsigned	 poolconf_diff(const struct poolconf *, const struct poolconf *,
		    struct buf *);
unsigned	 poolconf_apply_hot(struct poolconf *, const struct poolconf *);

#endif

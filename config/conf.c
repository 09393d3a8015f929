/*
 * Loading droverd.conf (libconfig) into a struct conf.
 *
 * Parse into a new object, validate it whole, and hand it over only if it is
 * entirely good (nginx ngx_init_cycle): a reload with a broken file changes
 * nothing.  Every problem found is collected as "file:line: message", so that
 * `droverd -t` shows them all at once.  libconfig owns the strings it
 * returns; everything kept is copied before config_destroy().
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <libconfig.h>

#include "buf.h"
#include "conf.h"
#include "config.h"
#include "handler_list.h"
#include "hopt.h"
#include "log.h"
#include "poolconf.h"
#include "settings.h"
#include "shell.h"
#include "tbucket.h"
#include "usock.h"
#include "xmalloc.h"

#define CF(f)	offsetof(struct conf, f)
#define PC(f)	offsetof(struct poolconf, f)

/* Top-level keys. */
static const struct setting global_settings[] = {
	{ "socket", T_STRING, CF(socket), 0, 0, 0, APPLY_RESTART,
	  "Path of the control socket." },
	{ "socket_mode", T_MODE, CF(socket_mode), 0, 07777, 0, APPLY_RESTART,
	  "Permissions of the control socket, octal." },
	{ "socket_group", T_STRING, CF(socket_group), 0, 0, 0, APPLY_RESTART,
	  "Group owning the control socket (default: droverd's)." },
	{ "allow", T_LIST, CF(allow), 0, 0, 0, APPLY_HOT,
	  "Who may use the socket: user names and @groups (root and "
	  "droverd's own user always may)." },
	{ "metrics", T_STRING, CF(metrics), 0, 0, 0, APPLY_HOT,
	  "HTTP endpoint for /metrics, /status, /healthz: \"host:port\" or "
	  "\"unix:/path\"; \"\" = off." },
	{ "shutdown_timeout", T_DOUBLE, CF(shutdown_timeout), 0, 86400, 0,
	  APPLY_HOT, "Seconds of drain on SIGTERM before workers are stopped "
	  "and the rest cancelled." },
	{ "log_level", T_LOGLEVEL, CF(log_level), 0, 0, 0, APPLY_HOT,
	  "error, warning, notice, info or debug." },
	{ "log_file", T_STRING, CF(log_file), 0, 0, 0, APPLY_HOT,
	  "Append logs here instead of stderr; reopened on SIGUSR1." },
	{ "journal", T_STRING, CF(journal), 0, 0, 0, APPLY_RESTART,
	  "SQLite file of durable batches (an absolute path); \"\" = off." },
	{ "result_retention", T_DOUBLE, CF(result_retention), 0, 1e9, 0,
	  APPLY_RESTART, "Seconds a completed durable batch is kept; 0 = "
	  "for ever." },
	{ "journal_max_mb", T_U64, CF(journal_max_mb), 0, 1048576, 0,
	  APPLY_RESTART, "New batches are refused while the journal's live "
	  "data is over this; 0 = no limit." },
	{ "redis", T_STRING, CF(redis), 0, 0, 0, APPLY_RESTART,
	  "Redis for shared pools: \"redis://HOST[:PORT][/DB]\" or "
	  "\"unix:/PATH\"; \"\" = off." },
	{ "pools", T_POOLS, 0, 0, 0, 0, APPLY_HOT,
	  "The list of pools: ( { name = ...; ... }, ... )." },
	{ NULL, 0, 0, 0, 0, 0, 0, NULL }
};

/* The loader's state: the errors so far and the file being read. */
struct loader {
	const char		*path;
	struct conf_errors	*errs;
	char			*src_file;	/* lines of the file last */
	char			**src_lines;	/* re-read for a literal */
	size_t			 src_n;
};

/* Append one "file:line: message" to errs. */
static void
errs_add(struct conf_errors *errs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
errs_add(struct conf_errors *errs, const char *fmt, ...)
{
	va_list	 ap;
	char	*line;

	va_start(ap, fmt);
	xvasprintf(&line, fmt, ap);
	va_end(ap);
	errs->msgs = xreallocarray(errs->msgs, errs->n + 1, sizeof(char *));
	errs->msgs[errs->n++] = line;
}

/* Record "file:line: message" for setting s (or line 0). */
static void
conf_err(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
conf_err(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
{
	va_list		 ap;
	char		*msg, *p;
	const char	*file = ld->path;
	unsigned	 n = 0;

	if (s != NULL) {
		n = config_setting_source_line(s);
		if (config_setting_source_file(s) != NULL)
			file = config_setting_source_file(s);
	}
	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	/* One line per problem, whatever a quoted value holds. */
	for (p = msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	errs_add(ld->errs, "%s:%u: %s", file, n, msg);
	free(msg);
}

static const char *
type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP:
		return ("a group");
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return ("an integer");
	case CONFIG_TYPE_FLOAT:
		return ("a number");
	case CONFIG_TYPE_STRING:
		return ("a string");
	case CONFIG_TYPE_BOOL:
		return ("a boolean");
	case CONFIG_TYPE_ARRAY:
		return ("an array");
	case CONFIG_TYPE_LIST:
		return ("a list");
	}
	return ("a value");
}

/* Drop the lines kept by source_line(). */
static void
loader_free(struct loader *ld)
{
	while (ld->src_n > 0)
		free(ld->src_lines[--ld->src_n]);
	free(ld->src_lines);
	free(ld->src_file);
	ld->src_lines = NULL;
	ld->src_file = NULL;
}

/* Line n (from 1) of file, as read from disk; NULL if there is none. */
static const char *
source_line(struct loader *ld, const char *file, unsigned n)
{
	FILE	*f;
	char	*line = NULL;
	size_t	 cap = 0;

	if (ld->src_file == NULL || strcmp(ld->src_file, file) != 0) {
		loader_free(ld);
		ld->src_file = xstrdup(file);
		if ((f = fopen(file, "re")) != NULL) {
			while (getline(&line, &cap, f) != -1) {
				ld->src_lines = xreallocarray(ld->src_lines,
				    ld->src_n + 1, sizeof(char *));
				ld->src_lines[ld->src_n++] = line;
				line = NULL;
				cap = 0;
			}
			free(line);
			fclose(f);
		}
	}
	return (n >= 1 && n <= ld->src_n ? ld->src_lines[n - 1] : NULL);
}

/*
 * libconfig 1.5 keeps an integer literal without an L suffix in 32 bits,
 * silently: 4294967298 reads as 2.  Find the literal written for setting s
 * on its line, the one whose low 32 bits are libconfig's value (the key may
 * appear more than once on a line, in several pools), and return it in *v:
 * 0 if found, -1 if not (the caller keeps libconfig's value).  *erange is
 * set when a literal for the key does not fit even in 64 bits.
 */
static int
int_literal(struct loader *ld, const config_setting_t *s, double *v,
    bool *erange)
{
	const char	*name = config_setting_name(s), *file, *p, *q, *m;
	char		*end;
	size_t		 nlen;
	long long	 ll;
	int		 seen = config_setting_get_int(s);

	*erange = false;
	if (name == NULL)
		return (-1);
	file = config_setting_source_file(s) != NULL ?
	    config_setting_source_file(s) : ld->path;
	if ((p = source_line(ld, file, config_setting_source_line(s))) ==
	    NULL)
		return (-1);
	nlen = strlen(name);
	/* The next try starts after the match (m), never after q. */
	for (; (m = strstr(p, name)) != NULL; p = m + 1) {
		q = m;
		if (q != p && (isalnum((unsigned char)q[-1]) || q[-1] == '_' ||
		    q[-1] == '-' || q[-1] == '*'))
			continue;
		q += nlen;
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q != '=' && *q != ':')
			continue;
		q++;
		while (*q == ' ' || *q == '\t')
			q++;
		errno = 0;
		ll = strtoll(q, &end, 0);
		if (end == q || *end == '.' || *end == 'e' || *end == 'E' ||
		    *end == 'L')
			continue;
		if (errno == ERANGE) {
			*erange = true;
			continue;
		}
		if ((int32_t)(uint32_t)(unsigned long long)ll != seen)
			continue;	/* another pool's, on the same line */
		*erange = false;
		*v = (double)ll;
		return (0);
	}
	return (-1);
}

/* A number from an int or float setting, or -1 with an error. */
static int
get_number(struct loader *ld, const config_setting_t *s, bool integer,
    double *v)
{
	int	 t = config_setting_type(s);
	double	 lit;
	bool	 erange;

	if (t == CONFIG_TYPE_INT && int_literal(ld, s, &lit, &erange) == 0)
		*v = lit;	/* what was written, not its low 32 bits */
	else if (t == CONFIG_TYPE_INT && erange) {
		conf_err(ld, s, "%s: the number is out of range",
		    config_setting_name(s));
		return (-1);
	} else if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
		*v = (double)config_setting_get_int64(s);
	else if (t == CONFIG_TYPE_FLOAT && !integer)
		*v = config_setting_get_float(s);
	else {
		conf_err(ld, s, "%s: expected %s, not %s",
		    config_setting_name(s), integer ? "an integer" :
		    "a number", type_name(t));
		return (-1);
	}
	return (0);
}

/* A string setting's value, or NULL with an error. */
static const char *
get_string(struct loader *ld, const config_setting_t *s)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		conf_err(ld, s, "%s: expected a string, not %s",
		    config_setting_name(s), type_name(config_setting_type(s)));
		return (NULL);
	}
	return (config_setting_get_string(s));
}

/* An array or list of strings as a NULL-ended, malloc'd vector. */
static char **
get_strings(struct loader *ld, const config_setting_t *s, bool nonempty)
{
	char		**v;
	int		  i, n;
	const config_setting_t *e;

	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		conf_err(ld, s, "%s: expected a list of strings, not %s",
		    config_setting_name(s), type_name(config_setting_type(s)));
		return (NULL);
	}
	n = config_setting_length(s);
	if (n == 0 && nonempty) {
		conf_err(ld, s, "%s: must not be empty",
		    config_setting_name(s));
		return (NULL);
	}
	v = xcalloc((size_t)n + 1, sizeof(*v));
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned)i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			conf_err(ld, e, "%s: element %d is %s, not a string",
			    config_setting_name(s), i,
			    type_name(config_setting_type(e)));
			shell_argv_free(v);
			return (NULL);
		}
		v[i] = xstrdup(config_setting_get_string(e));
	}
	return (v);
}

/* A number as written in a config: integers exactly, others in short. */
static const char *
fmt_number(char *buf, size_t len, double v)
{
	if (isfinite(v) && v == floor(v) && fabs(v) < 1e18)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.6g", v);
	return (buf);
}

/* Check a number against a setting's bounds. */
static int
check_bounds(struct loader *ld, const config_setting_t *s,
    const struct setting *st, double v)
{
	char	 a[32], b[32], c[32];

	if (!isfinite(v) || v < st->min || v > st->max) {
		conf_err(ld, s, "%s: %s is out of range (%s to %s)", st->key,
		    fmt_number(a, sizeof(a), v), fmt_number(b, sizeof(b),
		    st->min), fmt_number(c, sizeof(c), st->max));
		return (-1);
	}
	return (0);
}

/* Store one numeric or boolean setting at base + st->off. */
static void
load_scalar(struct loader *ld, const config_setting_t *s,
    const struct setting *st, void *base)
{
	char	*p = (char *)base + st->off;
	double	 v;

	switch (st->type) {
	case T_UINT:
	case T_U64:
		if (get_number(ld, s, true, &v) == -1 ||
		    check_bounds(ld, s, st, v) == -1)
			return;
		if (st->type == T_UINT)
			*(unsigned *)(void *)p = (unsigned)v;
		else
			*(uint64_t *)(void *)p = (uint64_t)v;
		break;
	case T_DOUBLE:
		if (get_number(ld, s, false, &v) == -1 ||
		    check_bounds(ld, s, st, v) == -1)
			return;
		*(double *)(void *)p = v;
		break;
	case T_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
			conf_err(ld, s, "%s: expected true or false, not %s",
			    st->key, type_name(config_setting_type(s)));
			return;
		}
		*(bool *)(void *)p = config_setting_get_bool(s) != 0;
		break;
	default:
		break;
	}
}

/* Is name a valid pool name (used in logs and metric labels)? */
static bool
valid_name(const char *name)
{
	const char	*p;

	if (*name == '\0' || strlen(name) > 64)
		return (false);
	for (p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
		    *p == '.'))
			return (false);
	return (true);
}

/* Load one pool key into pc. */
static void
load_pool_key(struct loader *ld, const config_setting_t *s,
    const struct setting *st, struct poolconf *pc)
{
	const char	*str;
	char		 err[128], **argv;
	struct passwd	*pw;
	struct group	*gr;
	double		 v;
	int		 proto;

	switch (st->type) {
	case T_STRING:
		if ((str = get_string(ld, s)) == NULL)
			return;
		*(char **)(void *)((char *)pc + st->off) = xstrdup(str);
		break;
	case T_PROTOCOL:
		if ((str = get_string(ld, s)) == NULL)
			return;
		if ((proto = protocol_parse(str)) == -1) {
			conf_err(ld, s, "protocol: '%s' is not frame, line or "
			    "tagged", str);
			return;
		}
		pc->protocol = (enum protocol)proto;
		break;
	case T_COMMAND:
		if (config_setting_type(s) == CONFIG_TYPE_STRING) {
			argv = shell_split(config_setting_get_string(s), err,
			    sizeof(err));
			if (argv == NULL)
				conf_err(ld, s, "command: %s", err);
		} else
			argv = get_strings(ld, s, true);
		if (argv != NULL && argv[0][0] == '\0') {
			conf_err(ld, s, "command: the program is empty");
			shell_argv_free(argv);
			argv = NULL;
		} else if (argv != NULL && shell_program_problem(argv[0], err,
		    sizeof(err)))
			conf_err(ld, s, "command: %s: %s", argv[0], err);
		pc->argv = argv;
		break;
	case T_LIST:
		shell_argv_free(pc->options);
		pc->options = get_strings(ld, s, false);
		break;
	case T_USER:
		if ((str = get_string(ld, s)) == NULL)
			return;
		if ((pw = getpwnam(str)) == NULL) {
			conf_err(ld, s, "user: unknown user '%s'", str);
			return;
		}
		pc->user = xstrdup(str);
		pc->uid = pw->pw_uid;
		if (pc->group == NULL)
			pc->gid = pw->pw_gid;
		pc->setuser = pc->setgroup = true;
		break;
	case T_GROUP:
		if ((str = get_string(ld, s)) == NULL)
			return;
		if ((gr = getgrnam(str)) == NULL) {
			conf_err(ld, s, "group: unknown group '%s'", str);
			return;
		}
		pc->group = xstrdup(str);
		pc->gid = gr->gr_gid;
		pc->setgroup = true;
		break;
	case T_RLIMIT:
		if (get_number(ld, s, true, &v) == -1)
			return;
		if (v < 0 || v * st->max > 9.2e18) {
			conf_err(ld, s, "%s: %g is out of range", st->key, v);
			return;
		}
		pc->rlimits[st->aux].value = (rlim_t)(v * st->max);
		pc->rlimits[st->aux].set = true;
		break;
	default:
		load_scalar(ld, s, st, pc);
		break;
	}
}

/* Check a pool's handler options against the handler's table (hopt.c). */
static void
check_options(struct loader *ld, const config_setting_t *g,
    const struct poolconf *pc, const char *name)
{
	const config_setting_t	*s = config_setting_get_member(g, "options");
	struct hopt_val		 v;
	char			 err[512];
	size_t			 i;

	if (pc->options == NULL || pc->options[0] == NULL)
		return;
	if (pc->handler == NULL) {
		conf_err(ld, s, "pool '%s': options go with a handler", name);
		return;
	}
	for (i = 0; pc->options[i] != NULL; i++)
		if (hopt_parse(pc->handler, pc->options[i], &v, err,
		    sizeof(err)) == NULL)
			conf_err(ld, s, "pool '%s': options: %s", name, err);
}

/* Which keys a pool group gave, for the checks of combinations. */
struct seen {
	bool	 protocol;
	bool	 window;
	bool	 burst;
	bool	 workers;
	bool	 min_workers;
	bool	 max_workers;
	bool	 dynamic_only;	/* idle_timeout or spawn_rate */
};

/* A dynamic pool: min_workers..max_workers instead of workers. */
static void
check_dynamic(struct loader *ld, const config_setting_t *g,
    struct poolconf *pc, const struct seen *seen, const char *name)
{
	if (!seen->max_workers) {
		if (seen->min_workers || seen->dynamic_only)
			conf_err(ld, g, "pool '%s': min_workers, idle_timeout "
			    "and spawn_rate go with max_workers", name);
		return;
	}
	if (seen->workers)
		conf_err(ld, g, "pool '%s': workers, or min_workers and "
		    "max_workers: not both", name);
	if (pc->min_workers > pc->max_workers)
		conf_err(ld, g, "pool '%s': min_workers (%u) is above "
		    "max_workers (%u)", name, pc->min_workers, pc->max_workers);
}

/* Check what no single key can: required keys and combinations. */
static void
check_pool(struct loader *ld, const config_setting_t *g, struct poolconf *pc,
    const struct seen *seen)
{
	const char	*name = pc->name != NULL ? pc->name : "?";

	if (pc->name == NULL)
		conf_err(ld, g, "pool without a name");
	else if (!valid_name(pc->name))
		conf_err(ld, g, "pool '%s': the name may only hold letters, "
		    "digits, '_', '-' and '.' (64 at most)", pc->name);
	if (pc->exec != NULL && pc->handler == NULL)
		pc->handler = xstrdup("exec");
	if (pc->handler == NULL && pc->argv == NULL)
		conf_err(ld, g, "pool '%s': neither handler nor command",
		    name);
	else if (pc->handler != NULL && pc->argv != NULL)
		conf_err(ld, g, "pool '%s': both handler and command; choose "
		    "one", name);
	else if (pc->handler != NULL && !handler_known(pc->handler))
		conf_err(ld, g, "pool '%s': unknown handler '%s' (handlers: "
		    DROVER_HANDLERS ")", name, pc->handler);
	else if (pc->handler != NULL && strcmp(pc->handler, "exec") == 0 &&
	    (pc->exec == NULL || *pc->exec == '\0'))
		conf_err(ld, g, "pool '%s': handler exec needs exec = "
		    "\"command {}\"", name);
	else if (pc->exec != NULL && strcmp(pc->handler, "exec") != 0)
		conf_err(ld, g, "pool '%s': exec goes with handler \"exec\"",
		    name);
	if (pc->exec_cwd != NULL && strcmp(pc->exec_cwd, "client") != 0 &&
	    strcmp(pc->exec_cwd, "droverd") != 0)
		conf_err(ld, g, "pool '%s': exec_cwd: '%s' is not \"client\" "
		    "or \"droverd\"", name, pc->exec_cwd);
	else if (pc->exec_cwd != NULL && strcmp(pc->exec_cwd, "client") ==
	    0 && (pc->handler == NULL || strcmp(pc->handler, "exec") != 0))
		conf_err(ld, g, "pool '%s': exec_cwd goes with handler "
		    "\"exec\"", name);
	check_options(ld, g, pc, name);
	check_dynamic(ld, g, pc, seen, name);
	if (!seen->protocol)
		pc->protocol = pc->argv != NULL ? PROTO_LINE : PROTO_FRAME;
	else if (pc->handler != NULL && pc->protocol != PROTO_FRAME)
		conf_err(ld, g, "pool '%s': handlers speak the frame protocol",
		    name);
	if (!seen->window && handler_default_window(pc->handler) != 0)
		pc->window = handler_default_window(pc->handler);
	else if (!seen->window)
		pc->window = protocol_default_window(pc->protocol);
	if (pc->window != 0 && pc->window > pc->window_max)
		pc->window_max = pc->window;
	if (pc->rate > 0 && !seen->burst)
		pc->burst = tbucket_default_burst(pc->rate);
	if (geteuid() != 0 && ((pc->setuser && pc->uid != geteuid()) ||
	    (pc->setgroup && pc->gid != getegid())))
		conf_err(ld, g, "pool '%s': user and group need droverd to run "
		    "as root", name);
	if (seen->burst && pc->rate == 0)
		conf_err(ld, g, "pool '%s': burst goes with rate", name);
}

/* Load one pool group; NULL if it had errors. */
static struct poolconf *
load_pool(struct loader *ld, const config_setting_t *g)
{
	struct poolconf		*pc;
	const struct setting	*st;
	const config_setting_t	*s;
	size_t			 before = ld->errs->n;
	struct seen		 seen;
	int			 i;

	if (!config_setting_is_group(g)) {
		conf_err(ld, g, "pools: each pool is a group { ... }, not %s",
		    type_name(config_setting_type(g)));
		return (NULL);
	}
	memset(&seen, 0, sizeof(seen));
	pc = xmalloc(sizeof(*pc));
	poolconf_defaults(pc);
	pc->line = config_setting_source_line(g);
	/* The name first, so that messages can name the pool. */
	if ((s = config_setting_get_member(g, "name")) != NULL)
		load_pool_key(ld, s, setting_find(pool_settings, "name"), pc);
	for (i = 0; i < config_setting_length(g); i++) {
		s = config_setting_get_elem(g, (unsigned)i);
		if (strcmp(config_setting_name(s), "name") == 0)
			continue;
		if ((st = setting_find(pool_settings,
		    config_setting_name(s))) == NULL) {
			conf_err(ld, s, "unknown key '%s' in pool '%s'",
			    config_setting_name(s),
			    pc->name != NULL ? pc->name : "?");
			continue;
		}
		seen.protocol |= (st->type == T_PROTOCOL);
		seen.window |= (st->off == PC(window));
		seen.burst |= (st->off == PC(burst));
		seen.workers |= (st->off == PC(workers));
		seen.min_workers |= (st->off == PC(min_workers));
		seen.max_workers |= (st->off == PC(max_workers));
		seen.dynamic_only |= (st->off == PC(idle_timeout) ||
		    st->off == PC(spawn_rate));
		load_pool_key(ld, s, st, pc);
	}
	/* Combinations only once every key is right: no follow-on errors. */
	if (ld->errs->n == before)
		check_pool(ld, g, pc, &seen);
	if (ld->errs->n != before) {
		poolconf_free(pc);
		return (NULL);
	}
	return (pc);
}

/* Load the pools list, refusing duplicate names. */
static void
load_pools(struct loader *ld, const config_setting_t *s, struct conf *c)
{
	struct poolconf	*pc;
	int		 i, n;
	size_t		 k;

	if (!config_setting_is_list(s) && !config_setting_is_array(s)) {
		conf_err(ld, s, "pools: expected a list ( {...}, ... ), not %s",
		    type_name(config_setting_type(s)));
		return;
	}
	n = config_setting_length(s);
	free(c->pools);
	c->pools = xcalloc((size_t)n + 1, sizeof(*c->pools));
	for (i = 0; i < n; i++) {
		pc = load_pool(ld, config_setting_get_elem(s, (unsigned)i));
		if (pc == NULL)
			continue;
		for (k = 0; k < c->npools; k++)
			if (strcmp(c->pools[k]->name, pc->name) == 0)
				break;
		if (k != c->npools) {
			conf_err(ld, config_setting_get_elem(s, (unsigned)i),
			    "duplicate pool '%s' (first defined at line %u)",
			    pc->name, c->pools[k]->line);
			poolconf_free(pc);
			continue;
		}
		c->pools[c->npools++] = pc;
	}
}

/* Load one top-level key into c. */
static void
load_global(struct loader *ld, const config_setting_t *s,
    const struct setting *st, struct conf *c)
{
	const char	*str;
	char		*end;
	long		 mode;
	int		 lvl;
	struct group	*gr;

	switch (st->type) {
	case T_STRING:
		if ((str = get_string(ld, s)) == NULL)
			return;
		if (st->off == CF(socket_group)) {
			if ((gr = getgrnam(str)) == NULL) {
				conf_err(ld, s, "socket_group: unknown group "
				    "'%s'", str);
				return;
			}
			c->socket_gid = gr->gr_gid;
		}
		free(*(char **)(void *)((char *)c + st->off));
		*(char **)(void *)((char *)c + st->off) = xstrdup(str);
		break;
	case T_MODE:
		if ((str = get_string(ld, s)) == NULL)
			return;
		errno = 0;
		mode = strtol(str, &end, 8);
		if (*str < '0' || *str > '7' || *end != '\0' || errno != 0 ||
		    mode > 07777) {
			conf_err(ld, s, "socket_mode: '%s' is not an octal "
			    "mode such as \"0660\"", str);
			return;
		}
		c->socket_mode = (mode_t)mode;
		break;
	case T_LOGLEVEL:
		if ((str = get_string(ld, s)) == NULL)
			return;
		if ((lvl = log_level_parse(str)) == -1 || lvl < LOG_ERR) {
			conf_err(ld, s, "log_level: '%s' is not error, "
			    "warning, notice, info or debug", str);
			return;
		}
		c->log_level = lvl;
		break;
	case T_LIST:
		shell_argv_free(c->allow);
		c->allow = get_strings(ld, s, false);
		break;
	case T_POOLS:
		load_pools(ld, s, c);
		break;
	default:
		load_scalar(ld, s, st, c);
		break;
	}
}

/*
 * Is s "redis://HOST[:PORT][/DB]" or "unix:/PATH[?db=N]"?  The form only:
 * droverd connects in the background and says so in its log.
 */
static bool
redis_addr_valid(const char *s)
{
	const char	*p, *end;
	size_t		 n;

	if (strncmp(s, "unix:/", 6) == 0)
		return (strlen(s) - 5 <= 100);
	if (strncmp(s, "redis://", 8) != 0 || s[8] == '\0' || s[8] == '/' ||
	    s[8] == ':')
		return (false);
	p = s + 8;
	end = p + strcspn(p, "/");
	if ((p = memchr(p, ':', (size_t)(end - p))) != NULL) {
		n = strspn(p + 1, "0123456789");
		if (n == 0 || p + 1 + n != end ||
		    n > 5 || atoi(p + 1) < 1 || atoi(p + 1) > 65535)
			return (false);
	}
	if (*end == '/')
		return (end[strspn(end + 1, "0123456789") + 1] == '\0');
	return (true);
}

/* Is s "", "host:port" (port 0-65535) or "unix:/absolute/path"? */
static bool
metrics_addr_valid(const char *s)
{
	const char	*colon;
	char		*end;
	long		 port;

	if (*s == '\0')
		return (true);
	if (strncmp(s, "unix:", 5) == 0)
		return (s[5] == '/' && usock_path_fits(s + 5));
	if ((colon = strrchr(s, ':')) == NULL || colon == s ||
	    colon[1] == '\0')
		return (false);
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	return (*end == '\0' && errno == 0 && port >= 0 && port <= 65535);
}

/*
 * Does the directory of path exist?  False with why set if not.  The
 * default socket's directory is not required: the unit's
 * RuntimeDirectory= creates it when droverd starts, so `droverd -t` before
 * the first start must not fail on it.
 */
static bool
dir_of_exists(const char *path, const char *unit_dir, char *why, size_t size)
{
	struct stat	 st;
	char		 dir[PATH_MAX], *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		return (true);
	*slash = '\0';
	if (*dir == '\0')
		return (true);		/* "/x": the root */
	if (stat(dir, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return (true);
		snprintf(why, size, "%s is not a directory", dir);
		return (false);
	}
	if (unit_dir != NULL && errno == ENOENT && strcmp(dir, unit_dir) == 0)
		return (true);
	snprintf(why, size, "directory %s: %s", dir, strerror(errno));
	return (false);
}

/* The paths a running droverd will need: their directories must exist. */
static void
check_dirs(struct loader *ld, config_t *cfg, const struct conf *c)
{
	char	 why[PATH_MAX + 64], rundir[PATH_MAX], *slash;

	/* The unit makes these two: droverd -t before it is not wrong. */
	snprintf(rundir, sizeof(rundir), "%s", DROVER_DEFAULT_SOCKET);
	if ((slash = strrchr(rundir, '/')) != NULL)
		*slash = '\0';
	if (*c->socket == '/' && !dir_of_exists(c->socket, rundir, why,
	    sizeof(why)))
		conf_err(ld, config_lookup(cfg, "socket"), "socket: %s", why);
	if (strncmp(c->metrics, "unix:/", 6) == 0 &&
	    !dir_of_exists(c->metrics + 5, NULL, why, sizeof(why)))
		conf_err(ld, config_lookup(cfg, "metrics"), "metrics: %s",
		    why);
	if (c->log_file != NULL && !dir_of_exists(c->log_file, NULL, why,
	    sizeof(why)))
		conf_err(ld, config_lookup(cfg, "log_file"), "log_file: %s",
		    why);
	if (*c->journal == '/' && !dir_of_exists(c->journal,
	    DROVER_STATEDIR, why,
	    sizeof(why)))
		conf_err(ld, config_lookup(cfg, "journal"), "journal: %s",
		    why);
}

/* A conf holding only defaults (no pools), for path. */
struct conf *
conf_default(const char *path)
{
	struct conf	*c;

	c = xcalloc(1, sizeof(*c));
	c->path = xstrdup(path);
	c->socket = xstrdup(DROVER_DEFAULT_SOCKET);
	c->socket_mode = 0660;
	c->allow = xcalloc(1, sizeof(*c->allow));
	c->metrics = xstrdup("");
	c->journal = xstrdup("");
	c->redis = xstrdup("");
	c->result_retention = 86400.0;
	c->shutdown_timeout = 30.0;
	c->log_level = LOG_INFO;
	c->pools = xcalloc(1, sizeof(*c->pools));
	return (c);
}

#define CONF_MAX_BYTES		(16 * 1024 * 1024)
#define CONF_MAX_INCLUDE_DEPTH	10		/* libconfig's own limit */
#define CONF_MAX_INCLUDED	1000		/* files, as libconfig reads */

/* The files conf_preflight() has seen, to find cycles and to count once. */
struct preflight {
	struct {
		dev_t		 dev;
		ino_t		 ino;
		bool		 open;	/* on the @include path now */
		uint64_t	 reads;	/* times libconfig reads it */
	}		*f;
	size_t		 n;
};

/*
 * What libconfig cannot be trusted with: its scanner calls exit() when a
 * read fails (a directory given as the file or to @include), blocks
 * forever on a FIFO, and reads an @include again each time it is named,
 * so a file that includes itself k times would be read k^10 times (a
 * tests/fuzz finding).  Check that the file and everything it @includes
 * (resolved against dir, as libconfig will) are regular files without NUL
 * bytes, that no @include leads back to a file on its own path, and that
 * libconfig would read at most CONF_MAX_INCLUDED files in all; each file
 * is read here once.  Missing includes are left to libconfig, which
 * reports them.  Returns 0 with *reads set, or -1 with the errors added.
 */
static int
conf_preflight(struct preflight *pf, const char *path, const char *from,
    unsigned fromline, const char *dir, int depth, struct conf_errors *errs,
    uint64_t *reads)
{
	struct stat	 st;
	FILE		*f;
	char		*line = NULL, *p, *q, *inc;
	size_t		 cap = 0, me, i;
	ssize_t		 len;
	unsigned	 lineno = 0;
	uint64_t	 sub, total = 1;
	int		 rv = 0;

	*reads = 0;
	if (stat(path, &st) == -1) {
		if (from == NULL) {
			errs_add(errs, "%s:0: unable to read: %s", path,
			    strerror(errno));
			return (-1);
		}
		return (0);	/* libconfig: "cannot open include file" */
	}
	if (!S_ISREG(st.st_mode)) {
		if (from == NULL)
			errs_add(errs, "%s:0: unable to read: %s", path,
			    S_ISDIR(st.st_mode) ? strerror(EISDIR) :
			    "not a regular file");
		else
			errs_add(errs, "%s:%u: @include \"%s\": %s", from,
			    fromline, path, S_ISDIR(st.st_mode) ?
			    strerror(EISDIR) : "not a regular file");
		return (-1);
	}
	if (st.st_size > CONF_MAX_BYTES) {
		errs_add(errs, "%s:0: over %d bytes: is this a configuration "
		    "file?", path, CONF_MAX_BYTES);
		return (-1);
	}
	for (i = 0; i < pf->n; i++)
		if (pf->f[i].dev == st.st_dev && pf->f[i].ino == st.st_ino)
			break;
	if (i < pf->n && pf->f[i].open) {
		errs_add(errs, "%s:%u: @include \"%s\" includes itself, "
		    "through the files that include it", from, fromline, path);
		return (-1);
	}
	if (i < pf->n) {		/* seen before: its count holds */
		*reads = pf->f[i].reads;
		return (0);
	}
	if (depth >= CONF_MAX_INCLUDE_DEPTH || (f = fopen(path, "re")) ==
	    NULL)
		return (0);	/* libconfig reports these itself */
	pf->f = xreallocarray(pf->f, pf->n + 1, sizeof(*pf->f));
	me = pf->n++;
	pf->f[me].dev = st.st_dev;
	pf->f[me].ino = st.st_ino;
	pf->f[me].open = true;
	pf->f[me].reads = 0;
	while ((len = getline(&line, &cap, f)) != -1) {
		lineno++;
		if (memchr(line, '\0', (size_t)len) != NULL) {
			errs_add(errs, "%s:%u: a NUL byte: is this a "
			    "configuration file?", path, lineno);
			rv = -1;
			break;
		}
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (strncmp(p, "@include", 8) != 0)
			continue;
		for (p += 8; *p == ' ' || *p == '\t'; p++)
			;
		if (*p++ != '"' || (q = strchr(p, '"')) == NULL)
			continue;	/* libconfig's syntax error */
		if (*p == '/' || dir == NULL)
			xasprintf(&inc, "%.*s", (int)(q - p), p);
		else
			xasprintf(&inc, "%s/%.*s", dir, (int)(q - p), p);
		if (conf_preflight(pf, inc, path, lineno, dir, depth + 1,
		    errs, &sub) == -1)
			rv = -1;
		free(inc);
		total += sub;
		if (rv == -1 || total > CONF_MAX_INCLUDED)
			break;
	}
	free(line);
	fclose(f);
	pf->f[me].open = false;
	pf->f[me].reads = total;
	if (rv == 0 && total > CONF_MAX_INCLUDED && from == NULL) {
		errs_add(errs, "%s:0: its @include lines would have over %d "
		    "files read", path, CONF_MAX_INCLUDED);
		rv = -1;
	}
	*reads = total;
	return (rv);
}

/*
 * Load and validate path.  Returns the conf, or NULL with every problem in
 * errs (which the caller frees with conf_errors_free).
 */
struct conf *
conf_load(const char *path, struct conf_errors *errs)
{
	config_t		 cfg;
	struct conf		*c;
	struct loader		 ld = { path, errs, NULL, NULL, 0 };
	const struct setting	*st;
	config_setting_t	*root, *s;
	const char		*slash;
	char			*dir;
	struct preflight	 pf;
	uint64_t		 reads;
	int			 i, rv;

	memset(errs, 0, sizeof(*errs));
	/* Relative @include paths are relative to the file's directory. */
	slash = strrchr(path, '/');
	dir = slash == NULL ? NULL : slash == path ? xstrdup("/") :
	    xstrndup(path, (size_t)(slash - path));
	memset(&pf, 0, sizeof(pf));
	rv = conf_preflight(&pf, path, NULL, 0, dir, 0, errs, &reads);
	free(pf.f);
	if (rv == -1) {
		free(dir);
		return (NULL);
	}
	config_init(&cfg);
	config_set_options(&cfg, CONFIG_OPTION_SEMICOLON_SEPARATORS |
	    CONFIG_OPTION_COLON_ASSIGNMENT_FOR_GROUPS |
	    CONFIG_OPTION_OPEN_BRACE_ON_SEPARATE_LINE);
	if (dir != NULL)	/* else the cwd, which is the file's */
		config_set_include_dir(&cfg, dir);
	if (config_read_file(&cfg, path) != CONFIG_TRUE) {
		if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
			errs_add(errs, "%s:0: unable to read: %s", path,
			    strerror(errno != 0 ? errno : ENOENT));
		else
			errs_add(errs, "%s:%d: %s",
			    config_error_file(&cfg) != NULL ?
			    config_error_file(&cfg) : path,
			    config_error_line(&cfg), config_error_text(&cfg));
		config_destroy(&cfg);
		free(dir);
		return (NULL);
	}
	c = conf_default(path);
	root = config_root_setting(&cfg);
	for (i = 0; i < config_setting_length(root); i++) {
		s = config_setting_get_elem(root, (unsigned)i);
		if ((st = setting_find(global_settings,
		    config_setting_name(s))) == NULL) {
			conf_err(&ld, s, "unknown key '%s'",
			    config_setting_name(s));
			continue;
		}
		load_global(&ld, s, st, c);
	}
	if (*c->socket != '/')
		conf_err(&ld, config_lookup(&cfg, "socket"), "socket: '%s' is "
		    "not an absolute path", c->socket);
	else if (!usock_path_fits(c->socket))
		conf_err(&ld, config_lookup(&cfg, "socket"), "socket: the path "
		    "is over %d bytes", USOCK_PATH_MAX);
	if (*c->redis != '\0' && !redis_addr_valid(c->redis))
		conf_err(&ld, config_lookup(&cfg, "redis"), "redis: '%s' is "
		    "not \"redis://HOST[:PORT][/DB]\" or \"unix:/PATH\"",
		    c->redis);
	for (i = 0; i < (int)c->npools; i++)
		if (c->pools[i]->shared && *c->redis == '\0')
			conf_err(&ld, config_lookup(&cfg, "pools"),
			    "pool '%s': shared = true needs redis",
			    c->pools[i]->name);
	if (*c->journal != '\0' && *c->journal != '/')
		conf_err(&ld, config_lookup(&cfg, "journal"), "journal: '%s' "
		    "is not an absolute path", c->journal);
	if (!metrics_addr_valid(c->metrics))
		conf_err(&ld, config_lookup(&cfg, "metrics"), "metrics: '%s' "
		    "is not \"host:port\", \"unix:/path\" or \"\"",
		    c->metrics);
	else
		check_dirs(&ld, &cfg, c);
	/*
	 * A file without pools is never meant: one caught empty mid-rewrite
	 * would otherwise drain every pool on reload.
	 */
	if ((s = config_lookup(&cfg, "pools")) == NULL)
		errs_add(errs, "%s: no pools defined", path);
	else if ((config_setting_is_list(s) || config_setting_is_array(s)) &&
	    config_setting_length(s) == 0)
		conf_err(&ld, s, "no pools defined");
	config_destroy(&cfg);
	free(dir);
	loader_free(&ld);
	if (errs->n != 0) {
		conf_free(c);
		return (NULL);
	}
	return (c);
}

void
conf_free(struct conf *c)
{
	size_t	 i;

	if (c == NULL)
		return;
	for (i = 0; i < c->npools; i++)
		poolconf_free(c->pools[i]);
	free(c->pools);
	free(c->path);
	free(c->socket);
	free(c->socket_group);
	shell_argv_free(c->allow);
	free(c->metrics);
	free(c->journal);
	free(c->redis);
	free(c->log_file);
	free(c);
}

void
conf_errors_free(struct conf_errors *errs)
{
	size_t	 i;

	for (i = 0; i < errs->n; i++)
		free(errs->msgs[i]);
	free(errs->msgs);
	memset(errs, 0, sizeof(*errs));
}

/* The pool named name, or NULL. */
const struct poolconf *
conf_pool(const struct conf *c, const char *name)
{
	size_t	 i;

	for (i = 0; i < c->npools; i++)
		if (strcmp(c->pools[i]->name, name) == 0)
			return (c->pools[i]);
	return (NULL);
}

/* How the top-level settings changed (pools aside). */
unsigned
conf_global_diff(const struct conf *a, const struct conf *b, struct buf *out)
{
	return (settings_diff(global_settings, a, b, out));
}

/* The default of a pool setting, as text. */
static void
setting_default(const struct setting *st, const void *defs, char *dst,
    size_t size)
{
	const char	*p = (const char *)defs + st->off;
	const struct poolconf *pc = defs;

	switch (st->type) {
	case T_UINT:
		if (st->aux == BY_PROTOCOL)
			snprintf(dst, size, "see text");
		else
			snprintf(dst, size, "%u",
			    *(const unsigned *)(const void *)p);
		break;
	case T_U64:
		snprintf(dst, size, "%llu", (unsigned long long)
		    *(const uint64_t *)(const void *)p);
		break;
	case T_DOUBLE:
		snprintf(dst, size, "%g", *(const double *)(const void *)p);
		break;
	case T_BOOL:
		snprintf(dst, size, "%s", *(const bool *)(const void *)p ?
		    "true" : "false");
		break;
	case T_PROTOCOL:
		snprintf(dst, size, "see text");
		break;
	case T_MODE:
		snprintf(dst, size, "\"%04o\"", (unsigned)
		    *(const mode_t *)(const void *)p);
		break;
	case T_LOGLEVEL:
		snprintf(dst, size, "\"%s\"", log_level_name(
		    *(const int *)(const void *)p));
		break;
	case T_STRING:
		snprintf(dst, size, "%s", *(char *const *)(const void *)p ?
		    *(char *const *)(const void *)p : "none");
		if (*(char *const *)(const void *)p != NULL &&
		    **(char *const *)(const void *)p == '\0')
			snprintf(dst, size, "\"\" (off)");
		break;
	case T_RLIMIT:
		snprintf(dst, size, "%s", pc->rlimits[st->aux].set ? "set" :
		    "inherited");
		break;
	default:
		snprintf(dst, size, "none");
		break;
	}
}

static const char *
apply_name(unsigned apply)
{
	switch (apply) {
	case APPLY_HOT:
		return ("hot");
	case APPLY_REPLACE:
		return ("replace");
	case APPLY_RESTART:
		return ("restart");
	}
	return ("?");
}

/* `droverd --settings`: every key, its default and how it applies. */
void
conf_print_settings(FILE *f)
{
	const struct setting	*st;
	struct poolconf		 pd;
	struct conf		*cd;
	char			 def[128];

	cd = conf_default("/dev/null");
	for (st = global_settings; st->key != NULL; st++) {
		setting_default(st, cd, def, sizeof(def));
		fprintf(f, "global\t%s\t%s\t%s\t%s\n", st->key, def,
		    apply_name(st->apply & APPLY_MASK), st->doc);
	}
	conf_free(cd);
	poolconf_defaults(&pd);
	for (st = pool_settings; st->key != NULL; st++) {
		setting_default(st, &pd, def, sizeof(def));
		fprintf(f, "pool\t%s\t%s\t%s\t%s\n", st->key, def,
		    apply_name(st->apply & APPLY_MASK), st->doc);
	}
}

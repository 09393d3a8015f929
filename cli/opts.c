/*
 * What the subcommands share: an option's value parsed, or a usage error
 * (exit 2); and leaving as SIGPIPE would when stdout is gone.  Its own
 * file so that run.c, client.c and dryrun.c depend on it and not on each
 * other or on main().
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "num.h"
#include "opts.h"
#include "poolconf.h"
#include "settings.h"

/* Print a usage error and exit 2. */
void
cli_usage_error(const char *fmt, ...)
{
	va_list	 ap;

	fputs("drover: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/*
 * Our stdout is gone (EPIPE): leave as a process killed by SIGPIPE does,
 * quietly, so that `drover run ... | head -1` behaves like any filter.
 */
void
cli_exit_sigpipe(void)
{
	sigset_t	 set;

	fflush(stderr);
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(SIGPIPE);
	_exit(128 + SIGPIPE);
}

/* Parse a whole number in [min, max] for option name, or exit 2. */
unsigned long long
cli_number(const char *name, const char *arg, unsigned long long min,
    unsigned long long max)
{
	i128	 v;

	if (num_parse_i128(arg, strlen(arg), &v) == -1 || v < (i128)min ||
	    v > (i128)max)
		cli_usage_error("%s: '%s' is not a whole number from %llu to "
		    "%llu", name, arg, min, max);
	return ((unsigned long long)v);
}

/* Parse a number of seconds or a rate in (min, max], or exit 2. */
double
cli_real(const char *name, const char *arg, double min, double max)
{
	double	 v;

	if (num_parse_double(arg, strlen(arg), &v) == -1 || !(v > min) ||
	    v > max)
		cli_usage_error("%s: '%s' is not a number above %g and up to "
		    "%g", name, arg, min, max);
	return (v);
}

/* Parse a number of seconds in [0, 86400], or exit 2. */
double
cli_seconds(const char *name, const char *arg)
{
	double	 v;

	if (num_parse_double(arg, strlen(arg), &v) == -1 || !(v >= 0) ||
	    v > 86400)
		cli_usage_error("%s: '%s' is not a number of seconds from 0 "
		    "to 86400", name, arg);
	return (v);
}

/* Parse a byte size (k, M, G suffixes) in [min, max], or exit 2. */
uint64_t
cli_size(const char *name, const char *arg, uint64_t min, uint64_t max)
{
	uint64_t v;

	if (num_parse_size(arg, &v) == -1 || v < min || v > max)
		cli_usage_error("%s: '%s' is not a size from %llu to %llu "
		    "bytes", name, arg, (unsigned long long)min,
		    (unsigned long long)max);
	return (v);
}

/*
 * Set the pool setting key of pc from option opt's argument, within the
 * bounds of the settings table (config/settings.c), as droverd's loader
 * does: `drover run -w 4` and `workers = 4;` accept the same values.
 * Sizes (the *_bytes keys) take suffixes; numbers of seconds may be
 * fractional.
 */
void
cli_pool_setting(struct poolconf *pc, const char *opt, const char *key,
    const char *arg)
{
	const struct setting	*st = setting_find(pool_settings, key);
	char			*field;
	size_t			 n = strlen(key);
	double			 v;

	if (st == NULL)
		fatalx("%s: no pool setting '%s'", opt, key);
	field = (char *)pc + st->off;
	switch (st->type) {
	case T_UINT:
		*(unsigned *)(void *)field = (unsigned)cli_number(opt, arg,
		    (unsigned long long)st->min, (unsigned long long)st->max);
		break;
	case T_U64:
		if (n > 6 && strcmp(key + n - 6, "_bytes") == 0)
			*(uint64_t *)(void *)field = cli_size(opt, arg,
			    (uint64_t)st->min, (uint64_t)st->max);
		else
			*(uint64_t *)(void *)field = cli_number(opt, arg,
			    (unsigned long long)st->min,
			    (unsigned long long)st->max);
		break;
	case T_DOUBLE:
		if (num_parse_double(arg, strlen(arg), &v) == -1 ||
		    !(v >= st->min) || v > st->max)
			cli_usage_error("%s: '%s' is not a number from "
			    "%.15g to %.15g", opt, arg, st->min, st->max);
		*(double *)(void *)field = v;
		break;
	default:
		fatalx("%s: pool setting '%s' is not a number", opt, key);
	}
}

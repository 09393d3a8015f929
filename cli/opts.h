/*
 * What every subcommand of drover shares (opts.c): its option values
 * parsed or a usage error, and the quiet exit when stdout is gone.
 */
#ifndef DROVER_OPTS_H
#define DROVER_OPTS_H

#include <stdint.h>

struct poolconf;

void	 cli_usage_error(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
unsigned long long cli_number(const char *, const char *, unsigned long long,
	    unsigned long long);
double	 cli_real(const char *, const char *, double, double);
double	 cli_seconds(const char *, const char *);
void	 cli_exit_sigpipe(void) __attribute__((noreturn));
uint64_t cli_size(const char *, const char *, uint64_t, uint64_t);
void	 cli_pool_setting(struct poolconf *, const char *, const char *,
	    const char *);

#endif

/*
 * The drover command line: subcommands and the option helpers they share.
 */
#ifndef DROVER_CLI_H
#define DROVER_CLI_H

#include <stdint.h>

int	 run_main(int, char **);
int	 submit_main(int, char **);
int	 status_main(int, char **);
int	 reload_main(int, char **);
int	 pool_op_main(const char *, int, char **);
int	 dryrun(const char *, unsigned, int, int, size_t);

void	 cli_usage_error(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
unsigned long long cli_number(const char *, const char *, unsigned long long,
	    unsigned long long);
double	 cli_real(const char *, const char *, double, double);
double	 cli_seconds(const char *, const char *);
void	 cli_exit_sigpipe(void) __attribute__((noreturn));
uint64_t cli_size(const char *, const char *, uint64_t, uint64_t);

#endif

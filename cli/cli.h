/*
 * The drover command line: the subcommands that main() dispatches to.  The
 * option helpers they share are in opts.h.
 */
#ifndef DROVER_CLI_H
#define DROVER_CLI_H

#include <stddef.h>

int	 run_main(int, char **);
int	 submit_main(int, char **);
int	 results_main(int, char **);
int	 batches_main(int, char **);
int	 status_main(int, char **);
int	 reload_main(int, char **);
int	 pool_op_main(const char *, int, char **);
int	 dryrun(const char *, unsigned, int, int, size_t);

#endif

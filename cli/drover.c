/*
 * drover: the command line.  `drover run` works alone; `drover submit`,
 * `results`, `batches`, `status`, `reload` and the pool commands talk to
 * a running droverd.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "evlog.h"
#include "log.h"
#include "startup.h"

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status == 0 ? stdout : stderr,
	    "usage: drover run [options] HANDLER | --exec CMD | --worker CMD\n"
	    "       drover submit --pool POOL [options] < jobs\n"
	    "       drover results ID [--wait] [--json] [--failed]\n"
	    "       drover batches [--json]\n"
	    "       drover status [--json] [--watch[=SECS]]\n"
	    "       drover reload\n"
	    "       drover scale POOL N\n"
	    "       drover stop|start|restart POOL\n"
	    "       drover --version\n"
	    "See 'drover COMMAND --help' and drover(1).\n");
	exit(status);
}

int
main(int argc, char **argv)
{
	static char	 progname[] = "drover";
	const char	*cmd;

	if (stdio_sanitize() == -1)
		return (3);
	log_init("drover", LOG_STYLE_CLI, LOG_NOTICE);
	evlog_init();
	log_setexit(3);
	if (getenv("DROVER_DEBUG") != NULL)
		log_setlevel(LOG_DEBUG);
	if (argc < 2)
		usage(2);
	/* getopt's own messages then read "drover: ...", not "run: ...". */
	cmd = argv[1];
	argv[1] = progname;
	if (strcmp(cmd, "run") == 0)
		return (run_main(argc - 1, argv + 1));
	if (strcmp(cmd, "submit") == 0)
		return (submit_main(argc - 1, argv + 1));
	if (strcmp(cmd, "results") == 0)
		return (results_main(argc - 1, argv + 1));
	if (strcmp(cmd, "batches") == 0)
		return (batches_main(argc - 1, argv + 1));
	if (strcmp(cmd, "status") == 0)
		return (status_main(argc - 1, argv + 1));
	if (strcmp(cmd, "reload") == 0)
		return (reload_main(argc - 1, argv + 1));
	if (strcmp(cmd, "scale") == 0 || strcmp(cmd, "stop") == 0 ||
	    strcmp(cmd, "start") == 0 || strcmp(cmd, "restart") == 0)
		return (pool_op_main(cmd, argc - 1, argv + 1));
	if (strcmp(cmd, "--version") == 0) {
		printf("drover %s\n", DROVER_VERSION);
		return (0);
	}
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0)
		usage(0);
	fprintf(stderr, "drover: unknown command '%s'\n", cmd);
	usage(2);
}

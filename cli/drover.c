/*
 * drover: the command line.  `drover run` works alone; `drover submit`,
 * `status` and `reload` talk to a running droverd.
 */
#include <fcntl.h>
#include <stdarg.h>
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
	    "       drover status [--json] [--watch[=SECS]]\n"
	    "       drover reload\n"
	    "       drover --version\n"
	    "See 'drover COMMAND --help' and drover(1).\n");
	exit(status);
}

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

int
main(int argc, char **argv)
{
	if (stdio_sanitize() == -1)
		return (3);
	log_init("drover", LOG_STYLE_CLI, LOG_NOTICE);
	evlog_init();
	log_setexit(3);
	if (getenv("DROVER_DEBUG") != NULL)
		log_setlevel(LOG_DEBUG);
	if (argc < 2)
		usage(2);
	if (strcmp(argv[1], "run") == 0)
		return (run_main(argc - 1, argv + 1));
	if (strcmp(argv[1], "submit") == 0)
		return (submit_main(argc - 1, argv + 1));
	if (strcmp(argv[1], "status") == 0)
		return (status_main(argc - 1, argv + 1));
	if (strcmp(argv[1], "reload") == 0)
		return (reload_main(argc - 1, argv + 1));
	if (strcmp(argv[1], "--version") == 0) {
		printf("drover %s\n", DROVER_VERSION);
		return (0);
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		usage(0);
	fprintf(stderr, "drover: unknown command '%s'\n", argv[1]);
	usage(2);
}

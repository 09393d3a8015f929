/*
 * drover-worker: the bundled worker.  `drover-worker HANDLER [ARG]` speaks
 * the protocol named by DROVER_PROTOCOL (frame by default) on stdin/stdout
 * and answers each job with the handler.  It exits 0 at EOF, and 125 ("do
 * not respawn") on a usage error, so that a supervisor fails the pool at
 * once instead of restarting it in a loop.
 */
#include <sys/prctl.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "drover/worker.h"
#include "handlers.h"
#include "hopt.h"

#define HANDLER_PTR(n)	&handler_##n,
static const struct handler *const handlers[] = {
	DROVER_HANDLER_LIST(HANDLER_PTR, ) NULL
};
#undef HANDLER_PTR

/*
 * When the supervisor dies we get SIGTERM (our parent-death signal); take
 * the whole process group down, so that no command we started outlives us.
 */
static void
on_sigterm(int sig)
{
	(void)sig;
	if (getpgrp() == getpid())
		kill(0, SIGKILL);
	_exit(143);
}

static void __attribute__((noreturn))
usage(void)
{
	int	 i;

	fprintf(stderr, "usage: drover-worker HANDLER [ARG]\n"
	    "handlers:\n");
	for (i = 0; handlers[i] != NULL; i++)
		fprintf(stderr, "  %s\n", handlers[i]->usage);
	exit(DW_EXIT_NORESPAWN);
}

int
main(int argc, char **argv)
{
	const struct handler	*h = NULL;
	struct dw		*dw;
	struct dw_job		 job;
	char			 desc[128];
	int			 i, rv;

	if (argc < 2)
		usage();
	if (strcmp(argv[1], "--version") == 0) {
		printf("drover-worker %s\n", DROVER_VERSION);
		return (0);
	}
	if (strcmp(argv[1], "--options") == 0) {
		hopt_print(stdout);
		return (0);
	}
	for (i = 0; handlers[i] != NULL; i++)
		if (strcmp(argv[1], handlers[i]->name) == 0)
			h = handlers[i];
	if (h == NULL) {
		fprintf(stderr, "drover-worker: unknown handler '%s'\n",
		    argv[1]);
		usage();
	}
	if (h->init(argc - 2, argv + 2) == -1) {
		fprintf(stderr, "drover-worker: bad arguments for %s\n",
		    h->name);
		usage();
	}

	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_sigterm);
	/* Replace the supervisor's SIGKILL with one we can act on. */
	if (getenv("DROVER_POOL") != NULL) {
		pid_t	 ppid = getppid();

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != ppid || ppid == 1)
			on_sigterm(SIGTERM);
	}

	snprintf(desc, sizeof(desc), "drover-worker %s %s", DROVER_VERSION,
	    h->name);
	if ((dw = dw_open_caps(desc, h->caps)) == NULL) {
		fprintf(stderr, "drover-worker: unable to start the protocol "
		    "(DROVER_PROTOCOL must be frame or line)\n");
		return (DW_EXIT_NORESPAWN);
	}
	if (h->loop != NULL) {
		/* It says what went wrong itself. */
		rv = h->loop(dw);
		dw_close(dw);
		return (rv == -1 ? 1 : 0);
	}
	while ((rv = dw_next(dw, &job)) == 1) {
		h->run(dw, &job);
		if (h->flush && dw_flush(dw) == -1) {
			rv = -1;
			break;
		}
	}
	if (rv == -1)
		fprintf(stderr, "drover-worker: %s\n", dw_error(dw));
	dw_close(dw);
	return (rv == -1 ? 1 : 0);
}

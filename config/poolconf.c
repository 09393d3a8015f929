/*
 * Pool settings: defaults, deep copy, free.  The defaults are the ones
 * documented in droverd.conf(5) and drover(1).
 */
#include <stdlib.h>
#include <string.h>

#include "poolconf.h"
#include "xmalloc.h"

/* Fill pc with the defaults; it owns nothing yet. */
void
poolconf_defaults(struct poolconf *pc)
{
	memset(pc, 0, sizeof(*pc));
	pc->protocol = PROTO_FRAME;
	pc->workers = 1;
	pc->min_workers = 1;
	pc->idle_timeout = 10.0;
	pc->spawn_rate = 8.0;
	pc->window = 0;
	pc->window_max = 4096;
	pc->max_attempts = 3;
	pc->durable = true;
	pc->claim_idle = 30.0;
	pc->max_job_bytes = 1024 * 1024;
	pc->max_result_bytes = 16 * 1024 * 1024;
	pc->start_secs = 1.0;
	pc->start_retries = 5;
	pc->backoff_initial = 0.01;
	pc->backoff_max = 5.0;
	pc->restart_limit = 1000;
	pc->restart_period = 60.0;
	pc->stop_timeout = 5.0;
	pc->rlimits[0].resource = RLIMIT_NOFILE;
	pc->rlimits[1].resource = RLIMIT_AS;
	pc->rlimits[2].resource = RLIMIT_CORE;
	pc->rlimits[3].resource = RLIMIT_NPROC;
}

static char **
argv_dup(char *const *argv)
{
	size_t	 n = 0, i;
	char	**copy;

	if (argv == NULL)
		return (NULL);
	while (argv[n] != NULL)
		n++;
	copy = xreallocarray(NULL, n + 1, sizeof(*copy));
	for (i = 0; i < n; i++)
		copy[i] = xstrdup(argv[i]);
	copy[n] = NULL;
	return (copy);
}

static char *
str_dup(const char *s)
{
	return (s == NULL ? NULL : xstrdup(s));
}

/* A deep copy that owns all its strings. */
struct poolconf *
poolconf_dup(const struct poolconf *pc)
{
	struct poolconf	*c;

	c = xmalloc(sizeof(*c));
	*c = *pc;
	c->name = str_dup(pc->name);
	c->argv = argv_dup(pc->argv);
	c->handler = str_dup(pc->handler);
	c->exec = str_dup(pc->exec);
	c->exec_cwd = str_dup(pc->exec_cwd);
	c->options = argv_dup(pc->options);
	c->user = str_dup(pc->user);
	c->group = str_dup(pc->group);
	return (c);
}

/* Free the strings of pc but not pc itself. */
void
poolconf_clear(struct poolconf *pc)
{
	char	**p;

	free(pc->name);
	if (pc->argv != NULL) {
		for (p = pc->argv; *p != NULL; p++)
			free(*p);
		free(pc->argv);
	}
	free(pc->handler);
	free(pc->exec);
	free(pc->exec_cwd);
	if (pc->options != NULL) {
		for (p = pc->options; *p != NULL; p++)
			free(*p);
		free(pc->options);
	}
	free(pc->user);
	free(pc->group);
	memset(pc, 0, sizeof(*pc));
}

void
poolconf_free(struct poolconf *pc)
{
	if (pc == NULL)
		return;
	poolconf_clear(pc);
	free(pc);
}

const char *
protocol_name(enum protocol p)
{
	switch (p) {
	case PROTO_LINE:
		return ("line");
	case PROTO_TAGGED:
		return ("tagged");
	case PROTO_FRAME:
		break;
	}
	return ("frame");
}

int
protocol_parse(const char *s)
{
	if (strcmp(s, "frame") == 0)
		return (PROTO_FRAME);
	if (strcmp(s, "line") == 0)
		return (PROTO_LINE);
	if (strcmp(s, "tagged") == 0)
		return (PROTO_TAGGED);
	return (-1);
}

/*
 * The window of a pool whose settings name none.  Line results carry no
 * job id, so a worker that answers a job twice (or not at all) would shift
 * every later result onto the wrong job, unseen: one job at a time, where
 * an extra line arrives while the worker holds nothing and is caught
 * (docs/protocol.md).  Frame and tagged results name their job: adaptive.
 */
unsigned
protocol_default_window(enum protocol p)
{
	return (p == PROTO_LINE ? 1 : 0);
}

/*
 * The command of a handler pool: drover-worker (at path), the handler, the
 * exec handler's command, then the handler options as KEY=VALUE arguments.
 */
char **
poolconf_handler_argv(const char *path, const struct poolconf *pc)
{
	char	**argv;
	size_t	 n = 0, i = 0;

	while (pc->options != NULL && pc->options[n] != NULL)
		n++;
	argv = xcalloc(n + 4, sizeof(*argv));
	argv[i++] = xstrdup(path);
	argv[i++] = xstrdup(pc->handler);
	if (pc->exec != NULL)
		argv[i++] = xstrdup(pc->exec);
	for (n = 0; pc->options != NULL && pc->options[n] != NULL; n++)
		argv[i++] = xstrdup(pc->options[n]);
	return (argv);
}

/* The workers a pool starts with: its size, or a dynamic pool's least. */
unsigned
poolconf_initial_workers(const struct poolconf *pc)
{
	return (pc->max_workers != 0 ? pc->min_workers : pc->workers);
}

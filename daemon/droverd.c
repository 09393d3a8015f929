/*
 * droverd: the supervisor daemon.  Runs in the foreground (systemd
 * Type=notify); `droverd -t -c FILE` checks a configuration and exits 0, or
 * 2 with "file:line: message" for every problem.
 */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "buf.h"
#include "conf.h"
#include "config.h"
#include "control.h"
#include "durable.h"
#include "poolconf.h"
#include "shared.h"
#include "evlog.h"
#include "hooks.h"
#include "job.h"
#include "log.h"
#include "metrics.h"
#include "startup.h"
#include "supervisor.h"
#include "worker.h"
#include "xmalloc.h"

static int	terms;

/*
 * The front ends: the control socket and the metrics listener.  They see
 * the supervisor only through these hooks, and it sees them not at all;
 * a reload moves the metrics listener through sv_hooks.
 */
static struct event_base *base;
static struct control	*ctl;
static struct metrics	*metrics;
static struct durable	*dur;		/* NULL: no journal */
static struct shared	*shr;		/* NULL: no redis */

static struct shared *
front_shared(void)
{
	return (shr);
}

static struct durable *
front_durable(void)
{
	return (dur);
}

static void
front_metrics(struct buf *b)
{
	if (dur != NULL)
		durable_metrics(dur, b);
	if (shr != NULL)
		shared_metrics(shr, b);
}

/* Healthy: every pool, and the journal if there is one. */
static bool
front_healthy(struct buf *why)
{
	bool	 ok = supervisor_healthy(why);

	if (dur != NULL && durable_failure(dur) != NULL) {
		buf_printf(why, "%s\n", durable_failure(dur));
		ok = false;
	}
	return (ok);
}

/* The status object, with the journal's part. */
static json_t *
front_status(void)
{
	json_t	*o = supervisor_status();

	if (dur != NULL && o != NULL)
		json_object_set_new(o, "journal", durable_status_json(dur));
	if (shr != NULL && o != NULL)
		json_object_set_new(o, "shared", shared_status_json(shr));
	return (o);
}

/* The journal failed: the durable pools fail with it. */
static void
on_journal_failed(const char *why)
{
	supervisor_fail_durable(why);
}

static const struct durable_hooks dur_hooks = {
	.pool = supervisor_pool,
	.failed = on_journal_failed,
};

static const struct daemon_hooks front_hooks = {
	.conf = supervisor_conf,
	.pool = supervisor_pool,
	.accepting = supervisor_accepting,
	.reload = supervisor_reload,
	.reload_settled = supervisor_reload_settled,
	.pool_op = supervisor_pool_op,
	.status = front_status,
	.healthy = front_healthy,
	.reloads = supervisor_reloads,
	.durable = front_durable,
	.shared = front_shared,
	.metrics = front_metrics,
};

static void
on_reloading(const struct conf *old, const struct conf *new, struct buf *out,
    void *arg)
{
	(void)arg;
	if (strcmp(old->metrics, new->metrics) != 0)
		metrics_reconfigure(&metrics, base, new->metrics, &front_hooks,
		    out);
}

/* The shared pools follow the configuration's. */
static void
sync_shared(const struct conf *c)
{
	const char	**names;
	size_t		  i;

	if (shr == NULL)
		return;
	names = xcalloc(c->npools + 1, sizeof(*names));
	for (i = 0; i < c->npools; i++)
		names[i] = c->pools[i]->name;
	shared_sync(shr, names, c->npools);
	free(names);
}

static void
on_pools_changed(const struct conf *c, void *arg)
{
	(void)arg;
	sync_shared(c);
}

static const struct shared_hooks shr_hooks = {
	.pool = supervisor_pool,
	.settled = supervisor_check_exit,
};

/* A drain waits for the shared batches' clients and Redis's replies. */
static bool
on_settled(void *arg)
{
	(void)arg;
	return (shr == NULL || shared_settled(shr));
}

static const struct supervisor_hooks sv_hooks = {
	.reloading = on_reloading,
	.pools_changed = on_pools_changed,
	.settled = on_settled,
};

/*
 * Open the control socket and the metrics listener before any worker
 * starts: an address in use ends droverd at once.  Errors that end droverd
 * are errors, not warnings.
 */
static int
open_front_ends(const struct conf *c)
{
	char	 err[512];

	if ((ctl = control_new(base, c, &front_hooks, err, sizeof(err))) ==
	    NULL) {
		log_emit(LOG_ERR, "%s", err);
		return (-1);
	}
	if ((metrics = metrics_new(base, c->metrics, &front_hooks, err,
	    sizeof(err))) == NULL && *c->metrics != '\0') {
		log_emit(LOG_ERR, "%s", err);
		control_free(ctl);
		return (-1);
	}
	return (0);
}

/* Open the journal and recover its batches (nothing runs yet). */
static int
open_journal(const struct conf *c)
{
	struct durable_conf	 dc;
	char			 err[1024];

	memset(&dc, 0, sizeof(dc));
	dc.path = c->journal;
	dc.retention_s = c->result_retention;
	dc.max_mb = c->journal_max_mb;
	if ((dur = durable_open(&dc, &dur_hooks, err, sizeof(err))) == NULL) {
		log_emit(LOG_ERR, "%s", err);
		return (-1);
	}
	return (0);
}

/* The pools exist: start the writer, queue the recovered jobs. */
static int
start_journal(void)
{
	char	 err[1024];

	if (durable_start(dur, base, err, sizeof(err)) == -1) {
		log_emit(LOG_ERR, "%s", err);
		return (-1);
	}
	return (0);
}

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status == 0 ? stdout : stderr,
	    "usage: droverd [-dt] [-c FILE]\n"
	    "       droverd --settings | --version\n"
	    "  -c FILE   configuration (default " DROVER_SYSCONFDIR
	    "/droverd.conf)\n"
	    "  -t        check the configuration and exit\n"
	    "  -d        log at debug level\n");
	exit(status);
}

/* SIGTERM/SIGINT drain; the second one, and SIGQUIT, stop at once. */
static void
on_term(int sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	/* First: the shared batches' clients go on through another node. */
	if (shr != NULL)
		shared_drain(shr, "droverd is shutting down");
	if (sig == SIGQUIT || terms++ > 0)
		supervisor_stop_now();
	else
		supervisor_drain();
}

static void
on_hup(int sig, short what, void *arg)
{
	struct buf	 out;

	(void)sig;
	(void)what;
	(void)arg;
	buf_init(&out);
	(void)supervisor_reload(&out);
	buf_free(&out);
}

static void
on_usr1(int sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	supervisor_reopen_logs();
}

static void
on_ttin(int sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	supervisor_resize(sig == SIGTTIN ? 1 : -1);
}

static void
on_chld(int sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	worker_reap();
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "settings", no_argument, NULL, 'S' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const int sigs[] = {
		SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGTTIN, SIGTTOU,
		SIGCHLD
	};
	const char		*path = DROVER_SYSCONFDIR "/droverd.conf";
	struct event		*evs[sizeof(sigs) / sizeof(sigs[0])];
	struct conf		*c;
	struct conf_errors	 errs;
	bool			 test = false, debug = false;
	size_t			 i;
	int			 ch;

	if (stdio_sanitize() == -1)
		return (1);
	log_init("droverd", LOG_STYLE_DAEMON, LOG_INFO);
	evlog_init();
	while ((ch = getopt_long(argc, argv, "c:dth", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			debug = true;
			break;
		case 't':
			test = true;
			break;
		case 'S':
			conf_print_settings(stdout);
			return (0);
		case 'V':
			printf("droverd %s\n", DROVER_VERSION);
			return (0);
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);

	if ((c = conf_load(path, &errs)) == NULL) {
		/* -t answers a person; a start that fails goes to the log. */
		for (i = 0; i < errs.n; i++)
			if (test)
				fprintf(stderr, "%s\n", errs.msgs[i]);
			else
				log_emit(LOG_ERR, "%s", errs.msgs[i]);
		conf_errors_free(&errs);
		return (2);
	}
	if (test) {
		printf("%s: configuration ok (%zu pool%s)\n", path, c->npools,
		    c->npools == 1 ? "" : "s");
		conf_free(c);
		return (0);
	}
	if (debug)
		log_setlevel(LOG_DEBUG);

	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL)
		fatalx("unable to create the event loop");
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		event_callback_fn fn = sigs[i] == SIGHUP ? on_hup :
		    sigs[i] == SIGUSR1 ? on_usr1 :
		    sigs[i] == SIGCHLD ? on_chld :
		    (sigs[i] == SIGTTIN || sigs[i] == SIGTTOU) ? on_ttin :
		    on_term;

		evs[i] = evsignal_new(base, sigs[i], fn, NULL);
		evsignal_add(evs[i], NULL);
	}
	log_info("starting %s with %s", DROVER_VERSION, path);
	supervisor_init(base, c, debug, &sv_hooks, NULL);
	/* The journal is read back before droverd listens. */
	if (*c->journal != '\0' && open_journal(c) == -1) {
		supervisor_free();
		return (1);
	}
	if (open_front_ends(c) == -1) {
		durable_free(dur);
		supervisor_free();
		return (1);
	}
	supervisor_start();
	if (dur != NULL && start_journal() == -1) {
		control_free(ctl);
		metrics_free(metrics);
		supervisor_stop_now();
		durable_free(dur);
		supervisor_free();
		return (1);
	}
	if (*c->redis != '\0') {
		struct shared_conf	 sc = { c->redis, c->result_retention };
		char			 err[512];

		if ((shr = shared_new(base, &sc, &shr_hooks, err,
		    sizeof(err))) == NULL) {
			log_emit(LOG_ERR, "redis: %s", err);
			return (1);
		}
		sync_shared(c);
	}
	event_base_dispatch(base);
	log_info("exiting");
	/*
	 * Clients first: they detach their batches from the pools; then the
	 * journal commits what it has and lets go of its batches.
	 */
	control_free(ctl);
	metrics_free(metrics);
	shared_free(shr);
	durable_free(dur);
	supervisor_free();
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		event_free(evs[i]);
	event_base_free(base);
	job_cache_trim();
	return (0);
}

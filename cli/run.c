/*
 * `drover run`: the Go worker-pool pattern as a command.  Options become a
 * pool's settings; stdin (or -i FILE) becomes a batch; the report prints the
 * results and the summary; the exit status says how it went (drover(1),
 * EXIT STATUS):
 * 0 every job ok, 1 some job not ok, 2 usage error, 3 fatal.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "batch.h"
#include "buf.h"
#include "frame.h"
#include "cli.h"
#include "handler_list.h"
#include "hopt.h"
#include "iobatch.h"
#include "job.h"
#include "log.h"
#include "opts.h"
#include "pool.h"
#include "poolconf.h"
#include "report.h"
#include "runjournal.h"
#include "shell.h"
#include "tbucket.h"
#include "worker.h"
#include "workerpath.h"
#include "xmalloc.h"

#define RUN_REORDER_CAP	65536

struct run {
	struct event_base	*base;
	struct pool		*pool;
	struct report		*report;
	struct iobatch		*ib;
	struct event		*ev_deadline;	/* --shutdown-timeout */
	struct event		*ev_halt;	/* --halt now: kill them */
	double			 shutdown_timeout;
	int			 signals;
	bool			 fatal;
	bool			 broken;
	bool			 stopped;	/* every worker is gone */
	bool			 hurry;		/* then leave at once */
	char			 why[128];	/* for cancelled jobs */
};

enum {
	OPT_TIMEOUT = 256,
	OPT_ATTEMPTS,
	OPT_RATE,
	OPT_BURST,
	OPT_ORDERED,
	OPT_JSON,
	OPT_PROGRESS,
	OPT_NO_PROGRESS,
	OPT_MAX_JOB_BYTES,
	OPT_MAX_RESULT_BYTES,
	OPT_EXEC,
	OPT_DRY_RUN,
	OPT_WORKER,
	OPT_PROTOCOL,
	OPT_WINDOW,
	OPT_MAX_JOBS,
	OPT_MAX_RSS,
	OPT_RETRY_TIMEOUTS,
	OPT_RESTART_LIMIT,
	OPT_START_RETRIES,
	OPT_STATS_INTERVAL,
	OPT_SHUTDOWN_TIMEOUT,
	OPT_TOTAL,
	OPT_JOBLOG,
	OPT_HALT,
	OPT_TAG,
	OPT_JOURNAL,
	OPT_RETRY_FAILED,
};

static const struct option run_longopts[] = {
	{ "workers",		required_argument, NULL, 'w' },
	{ "input",		required_argument, NULL, 'i' },
	{ "option",		required_argument, NULL, 'o' },
	{ "null",		no_argument,	   NULL, '0' },
	{ "quiet",		no_argument,	   NULL, 'q' },
	{ "help",		no_argument,	   NULL, 'h' },
	{ "timeout",		required_argument, NULL, OPT_TIMEOUT },
	{ "attempts",		required_argument, NULL, OPT_ATTEMPTS },
	{ "retry-timeouts",	no_argument,	   NULL, OPT_RETRY_TIMEOUTS },
	{ "rate",		required_argument, NULL, OPT_RATE },
	{ "burst",		required_argument, NULL, OPT_BURST },
	{ "ordered",		no_argument,	   NULL, OPT_ORDERED },
	{ "json",		no_argument,	   NULL, OPT_JSON },
	{ "progress",		no_argument,	   NULL, OPT_PROGRESS },
	{ "no-progress",	no_argument,	   NULL, OPT_NO_PROGRESS },
	{ "max-job-bytes",	required_argument, NULL, OPT_MAX_JOB_BYTES },
	{ "max-result-bytes",	required_argument, NULL, OPT_MAX_RESULT_BYTES },
	{ "exec",		required_argument, NULL, OPT_EXEC },
	{ "dry-run",		no_argument,	   NULL, OPT_DRY_RUN },
	{ "worker",		required_argument, NULL, OPT_WORKER },
	{ "protocol",		required_argument, NULL, OPT_PROTOCOL },
	{ "window",		required_argument, NULL, OPT_WINDOW },
	{ "max-jobs-per-worker", required_argument, NULL, OPT_MAX_JOBS },
	{ "max-rss-mb",		required_argument, NULL, OPT_MAX_RSS },
	{ "restart-limit",	required_argument, NULL, OPT_RESTART_LIMIT },
	{ "start-retries",	required_argument, NULL, OPT_START_RETRIES },
	{ "stats-interval",	required_argument, NULL, OPT_STATS_INTERVAL },
	{ "shutdown-timeout",	required_argument, NULL, OPT_SHUTDOWN_TIMEOUT },
	{ "total",		required_argument, NULL, OPT_TOTAL },
	{ "joblog",		required_argument, NULL, OPT_JOBLOG },
	{ "halt",		required_argument, NULL, OPT_HALT },
	{ "tag",		no_argument,	   NULL, OPT_TAG },
	{ "journal",		required_argument, NULL, OPT_JOURNAL },
	{ "retry-failed",	no_argument,	   NULL, OPT_RETRY_FAILED },
	{ NULL,			0,		   NULL, 0 }
};

static void
run_usage(FILE *f)
{
	fprintf(f,
"usage: drover run [options] HANDLER\n"
"       drover run [options] --exec 'CMD {}'\n"
"       drover run [options] --worker 'PROGRAM ARGS'\n"
"       drover run [options] -o KEY=VALUE ... http\n"
"\n"
"Run one job per input line on a pool of worker processes; print each\n"
"result and a summary.  Handlers: " DROVER_HANDLERS ".\n"
"\n"
"  -w, --workers N          worker processes (default: online CPUs)\n"
"  -i, --input FILE         read jobs from FILE instead of stdin\n"
"  -0, --null               jobs are NUL-terminated, not lines\n"
"  -o, --option KEY=VALUE   a handler option (http: drover-worker(7))\n"
"      --timeout SECS       kill a job's worker after SECS (default: none)\n"
"      --attempts N         tries before a job counts as crashed (3)\n"
"      --retry-timeouts     retry timed-out jobs too, within --attempts\n"
"      --rate R             dispatch at most R jobs a second\n"
"      --burst B            token-bucket burst for --rate (R/100, >= 1)\n"
"      --ordered            print results in input order\n"
"  -q, --quiet              no per-job output, only failures and summary\n"
"      --json               one JSON object per job, then a summary object\n"
"      --progress           live progress on stderr (default on a TTY):\n"
"                           jobs finished of the total, failed, rate,\n"
"                           elapsed, ETA\n"
"      --total N            the number of jobs, for progress (a regular\n"
"                           file is counted)\n"
"      --no-progress        no progress line\n"
"      --max-job-bytes N    reject longer jobs (1M; k, M, G suffixes)\n"
"      --max-result-bytes N kill a worker sending a longer result (16M)\n"
"      --exec 'CMD'         run CMD per job; {} is the job (shell-quoted),\n"
"                           else the job is its stdin; also {.} {/} {//}\n"
"                           {/.} {#} {%%} as in GNU parallel\n"
"      --dry-run            print each job's --exec command, run nothing\n"
"      --worker 'PROG ARGS' a persistent custom worker\n"
"      --protocol P         its protocol: line (default), tagged or frame\n"
"      --window N           jobs in flight per worker (default: 1 for line,\n"
"                           else adaptive; N > 1 trusts a line worker to\n"
"                           answer every job exactly once)\n"
"      --max-jobs-per-worker N   replace a worker after N jobs\n"
"      --max-rss-mb N       replace a worker above N MiB resident\n"
"      --restart-limit N    fail after N restarts in 60 s (1000; 0: none)\n"
"      --start-retries N    failed starts in a row before giving up (5)\n"
"      --stats-interval S   print throughput and latency every S seconds\n"
"      --shutdown-timeout S after SIGINT/SIGTERM, wait S seconds (5) for\n"
"                           jobs in flight, then stop the workers\n"
"      --joblog FILE        a row per finished job in GNU parallel's\n"
"                           --joblog format\n"
"      --journal FILE       keep the results in FILE (SQLite); run again\n"
"                           with the same FILE, jobs finished there are\n"
"                           not run but printed as stored\n"
"      --retry-failed       with --journal: run again the jobs stored as\n"
"                           not ok\n"
"      --halt WHEN,WHY      stop after failures or successes: WHEN is now\n"
"                           (kill running jobs) or soon (let them finish),\n"
"                           WHY fail=N, fail=P%%, success=N or success=P%%\n"
"      --tag                prefix each output line with the job's input\n"
"                           and a tab\n"
"\n"
"Exit status: 0 all jobs ok, 1 some job not ok, 2 usage error, 3 fatal.\n");
}

/* Default worker count: the CPUs online. */
static unsigned
run_default_workers(void)
{
	long	 n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return (1);
	return (n > POOLCONF_MAX_WORKERS ? POOLCONF_MAX_WORKERS : (unsigned)n);
}

/* The pool name shown in logs: the handler, "exec", or the program. */
static char *
run_pool_name(const char *handler, const char *exec, char **argv)
{
	const char	*slash;

	if (handler != NULL)
		return (xstrdup(handler));
	if (exec != NULL)
		return (xstrdup("exec"));
	slash = strrchr(argv[0], '/');
	return (xstrdup(slash != NULL ? slash + 1 : argv[0]));
}

/* Build the worker command from HANDLER, --exec or --worker. */
static char **
run_command(const char *handler, const char *exec, const char *worker)
{
	char	**argv, err[128];

	if (worker != NULL) {
		if ((argv = shell_split(worker, err, sizeof(err))) == NULL)
			cli_usage_error("--worker: %s", err);
		return (argv);
	}
	argv = xcalloc(4, sizeof(*argv));
	argv[0] = xstrdup(workerpath());
	argv[1] = xstrdup(exec != NULL ? "exec" : handler);
	if (exec != NULL)
		argv[2] = xstrdup(exec);
	return (argv);
}

/* Check the -o options against the handler's table, or exit 2. */
static void
run_check_options(const char *handler, char **options)
{
	struct hopt_val	 v;
	char		 err[512];
	size_t		 i;

	for (i = 0; options != NULL && options[i] != NULL; i++) {
		if (handler == NULL)
			cli_usage_error("-o goes with a handler (-o %s)",
			    options[i]);
		if (hopt_parse(handler, options[i], &v, err, sizeof(err)) ==
		    NULL)
			cli_usage_error("-o: %s", err);
	}
}

/*
 * The command's fingerprint for --journal: what decides a job's result,
 * as a command line (drover(1), --journal).
 */
static char *
run_fingerprint(const char *handler, const char *exec, const char *worker,
    char **options, enum protocol protocol, int delim)
{
	struct buf	 b;
	size_t		 i;
	char		*s;

	buf_init(&b);
	buf_adds(&b, "drover run");
	if (delim == '\0')
		buf_adds(&b, " -0");
	for (i = 0; options != NULL && options[i] != NULL; i++) {
		buf_adds(&b, " -o ");
		shell_quote(&b, options[i], strlen(options[i]));
	}
	if (exec != NULL) {
		buf_adds(&b, " --exec ");
		shell_quote(&b, exec, strlen(exec));
	} else if (worker != NULL) {
		buf_printf(&b, " --protocol %s --worker ",
		    protocol_name(protocol));
		shell_quote(&b, worker, strlen(worker));
	} else {
		buf_addc(&b, ' ');
		shell_quote(&b, handler, strlen(handler));
	}
	s = xstrndup(buf_data(&b), buf_len(&b));
	buf_free(&b);
	return (s);
}

/* The journal cannot write: stop, and say that what follows is not kept. */
static void
run_on_journal_failed(void *arg, const char *why)
{
	struct run	*run = arg;

	log_warnx("%s: stopping; results not yet committed are not in the "
	    "journal (those jobs run again next time)", why);
	run->fatal = true;
	if (run->ib == NULL)
		return;
	iobatch_stop(run->ib);
	snprintf(run->why, sizeof(run->why), "the journal failed");
	pool_cancel(run->pool, iobatch_batch(run->ib), run->why);
}

static void
run_on_journal_resume(void *arg)
{
	struct run	*run = arg;

	if (run->ib != NULL)
		iobatch_resume(run->ib);
}

static const struct runjournal_hooks run_journal_hooks = {
	.resume = run_on_journal_resume,
	.failed = run_on_journal_failed,
};

static void
run_on_failed(struct pool *p, const char *why, void *arg)
{
	struct run	*run = arg;

	(void)p;
	(void)why;
	run->fatal = true;
	if (run->ib != NULL)
		iobatch_stop(run->ib);
}

/* --halt now, from the loop (not from within a job's report): kill. */
static void
run_on_halt_now(int fd, short what, void *arg)
{
	struct run	*run = arg;

	(void)fd;
	(void)what;
	pool_stop(run->pool, POOL_STOP_KILL, "stopped");
}

/*
 * --halt's condition is met: read no more and cancel what is queued (the
 * report names the halt as the reason); now also kills the running jobs.
 */
static void
run_on_halt(void *arg, bool now, const char *why)
{
	struct run	*run = arg;

	snprintf(run->why, sizeof(run->why), "%s", why);
	iobatch_stop(run->ib);
	pool_cancel(run->pool, iobatch_batch(run->ib), run->why);
	if (now)
		event_active(run->ev_halt, EV_TIMEOUT, 0);
}

/* Leave the loop: the summary is out and stdout took everything. */
static void
run_leave(void *arg)
{
	struct run	*run = arg;

	event_base_loopexit(run->base, NULL);
}

/* Leave now, dropping what stdout has not taken (say how much). */
static void
run_leave_now(struct run *run)
{
	size_t	 n;

	if ((n = report_pending(run->report)) != 0)
		log_warnx("%zu bytes of output not written: stdout is not "
		    "read", n);
	event_base_loopexit(run->base, NULL);
}

/*
 * Every worker is gone: print the summary, and leave once stdout took it,
 * or at once when a second signal or the shutdown deadline said so.
 */
static void
run_on_stopped(struct pool *p, void *arg)
{
	struct run	*run = arg;

	run->stopped = true;
	report_finish(run->report, pool_restarts(p), run_leave, run);
	if (run->hurry)
		run_leave_now(run);
}

static const struct pool_hooks run_pool_hooks = {
	.failed = run_on_failed,
	.stopped = run_on_stopped,
};

/* Every job is reported and the input is done: stop the workers. */
static void
run_on_complete(void *arg)
{
	struct run	*run = arg;

	pool_stop(run->pool, POOL_STOP_DRAIN, "done");
}

static void
run_on_resume(void *arg)
{
	struct run	*run = arg;

	if (run->ib != NULL)
		iobatch_resume(run->ib);
}

/* stdout went away: stop at once. */
static void
run_on_broken(void *arg)
{
	struct run	*run = arg;

	run->broken = true;
	iobatch_stop(run->ib);
	pool_stop(run->pool, POOL_STOP_KILL, "stopped");
}

static const struct report_hooks run_report_hooks = {
	.resume = run_on_resume,
	.broken = run_on_broken,
	.halt = run_on_halt,
};

/*
 * Stop now: kill the workers (what they held is cancelled) and leave as
 * soon as they are gone, without waiting for stdout.
 */
static void
run_stop_now(struct run *run)
{
	run->hurry = true;
	pool_stop(run->pool, POOL_STOP_KILL, "stopped");
	if (run->stopped)
		run_leave_now(run);	/* else run_on_stopped() leaves */
}

/* The --shutdown-timeout after the first signal: stop the workers. */
static void
run_on_deadline(int fd, short what, void *arg)
{
	struct run	*run = arg;

	(void)fd;
	(void)what;
	if (run->stopped) {
		run_stop_now(run);
		return;
	}
	log_warnx("shutdown timeout (%g s): stopping %zu jobs in flight",
	    run->shutdown_timeout, pool_inflight(run->pool));
	run->hurry = true;
	pool_stop(run->pool, POOL_STOP_TERM, "stopped");
}

/*
 * SIGINT/SIGTERM: stop reading, cancel the queue, give in-flight jobs
 * --shutdown-timeout to finish; the second signal stops at once.  Neither
 * waits for stdout.
 */
static void
run_on_signal(int sig, short what, void *arg)
{
	struct run	*run = arg;
	struct timeval	 tv;

	(void)what;
	if (run->signals++ != 0) {
		log_warnx("%s: stopping now", strsignal(sig));
		run_stop_now(run);
		return;
	}
	log_warnx("%s: finishing %zu jobs in flight for up to %g s (again to "
	    "stop at once)", strsignal(sig), pool_inflight(run->pool),
	    run->shutdown_timeout);
	iobatch_stop(run->ib);
	snprintf(run->why, sizeof(run->why), "interrupted by %s before it "
	    "ran", sig == SIGINT ? "SIGINT" : "SIGTERM");
	pool_cancel(run->pool, iobatch_batch(run->ib), run->why);
	tv.tv_sec = (time_t)run->shutdown_timeout;
	tv.tv_usec = (suseconds_t)((run->shutdown_timeout -
	    (double)tv.tv_sec) * 1e6);
	evtimer_add(run->ev_deadline, &tv);
}

static void
run_on_sigchld(int sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	worker_reap();
}

int
run_main(int argc, char **argv)
{
	struct poolconf		 pc;
	struct report_opts	 ro;
	struct run		 run;
	struct event		*ev_int, *ev_term, *ev_chld;
	const char		*input = NULL, *exec = NULL, *worker = NULL;
	const char		*handler = NULL, *joblog = NULL;
	const char		*journal = NULL;
	char			*fingerprint = NULL;
	struct runjournal	*rj = NULL;
	int			 ch, delim = '\n', fd = STDIN_FILENO, status;
	int			 progress = -1, protocol = -1;
	bool			 burst_set = false, dry_run = false;
	bool			 window_set = false, retry_failed = false;
	double			 shutdown_timeout = 5.0;
	size_t			 noptions = 0;
	uint64_t		 total = 0;
	char			 why[128], jerr[1024];

	poolconf_defaults(&pc);
	pc.workers = run_default_workers();
	memset(&ro, 0, sizeof(ro));
	ro.reorder_cap = RUN_REORDER_CAP;
	ro.joblog_fd = -1;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "w:i:o:0qh", run_longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'w':
			cli_pool_setting(&pc, "-w", "workers", optarg);
			break;
		case 'i':
			input = optarg;
			break;
		case 'o':
			pc.options = xreallocarray(pc.options, noptions + 2,
			    sizeof(*pc.options));
			pc.options[noptions++] = xstrdup(optarg);
			pc.options[noptions] = NULL;
			break;
		case '0':
			delim = '\0';
			break;
		case 'q':
			ro.quiet = true;
			break;
		case 'h':
			run_usage(stdout);
			return (0);
		case OPT_TIMEOUT:
			cli_pool_setting(&pc, "--timeout", "job_timeout",
			    optarg);
			break;
		case OPT_ATTEMPTS:
			cli_pool_setting(&pc, "--attempts", "max_attempts",
			    optarg);
			break;
		case OPT_RETRY_TIMEOUTS:
			pc.retry_timeouts = true;
			break;
		case OPT_RATE:
			cli_pool_setting(&pc, "--rate", "rate", optarg);
			break;
		case OPT_BURST:
			cli_pool_setting(&pc, "--burst", "burst", optarg);
			burst_set = true;
			break;
		case OPT_ORDERED:
			ro.ordered = true;
			break;
		case OPT_JSON:
			ro.json = true;
			break;
		case OPT_PROGRESS:
			progress = 1;
			break;
		case OPT_NO_PROGRESS:
			progress = 0;
			break;
		case OPT_MAX_JOB_BYTES:
			cli_pool_setting(&pc, "--max-job-bytes",
			    "max_job_bytes", optarg);
			break;
		case OPT_MAX_RESULT_BYTES:
			cli_pool_setting(&pc, "--max-result-bytes",
			    "max_result_bytes", optarg);
			break;
		case OPT_EXEC:
			exec = optarg;
			break;
		case OPT_DRY_RUN:
			dry_run = true;
			break;
		case OPT_WORKER:
			worker = optarg;
			break;
		case OPT_PROTOCOL:
			if ((protocol = protocol_parse(optarg)) == -1)
				cli_usage_error("--protocol: '%s' is not line, "
				    "tagged or frame", optarg);
			break;
		case OPT_WINDOW:
			cli_pool_setting(&pc, "--window", "window", optarg);
			window_set = true;
			break;
		case OPT_MAX_JOBS:
			cli_pool_setting(&pc, "--max-jobs-per-worker",
			    "max_jobs_per_worker", optarg);
			break;
		case OPT_MAX_RSS:
			cli_pool_setting(&pc, "--max-rss-mb", "max_rss_mb",
			    optarg);
			break;
		case OPT_RESTART_LIMIT:
			cli_pool_setting(&pc, "--restart-limit",
			    "restart_limit", optarg);
			break;
		case OPT_STATS_INTERVAL:
			ro.stats_interval = cli_real("--stats-interval",
			    optarg, 0, 86400);
			break;
		case OPT_TOTAL:
			total = cli_number("--total", optarg, 1,
			    UINT64_MAX / 2);
			break;
		case OPT_SHUTDOWN_TIMEOUT:
			shutdown_timeout = cli_seconds("--shutdown-timeout",
			    optarg);
			break;
		case OPT_JOBLOG:
			joblog = optarg;
			break;
		case OPT_HALT:
			if (report_halt_parse(optarg, &ro.halt) == -1)
				cli_usage_error("--halt: '%s' is not now|soon,"
				    "fail=N|P%%|success=N|P%%", optarg);
			break;
		case OPT_TAG:
			ro.tag = true;
			break;
		case OPT_JOURNAL:
			if (*optarg == '\0')
				cli_usage_error("--journal: empty file name");
			journal = optarg;
			break;
		case OPT_RETRY_FAILED:
			retry_failed = true;
			break;
		case OPT_START_RETRIES:
			cli_pool_setting(&pc, "--start-retries",
			    "start_retries", optarg);
			break;
		default:
			cli_usage_error("see 'drover run --help'");
		}
	}
	argc -= optind;
	argv += optind;

	if ((exec != NULL) + (worker != NULL) + (argc > 0) != 1)
		cli_usage_error("give exactly one of HANDLER, --exec or "
		    "--worker (see 'drover run --help')");
	if (argc > 1)
		cli_usage_error("unexpected argument '%s'", argv[1]);
	if (argc == 1) {
		handler = argv[0];
		if (!handler_known(handler))
			cli_usage_error("unknown handler '%s' (handlers: "
			    DROVER_HANDLERS ")", handler);
		if (strcmp(handler, "exec") == 0)
			cli_usage_error("use --exec 'CMD' for the exec "
			    "handler");
	}
	if (exec != NULL && *exec == '\0')
		cli_usage_error("--exec: empty command");
	if (dry_run && exec == NULL)
		cli_usage_error("--dry-run goes with --exec");
	if (protocol != -1 && worker == NULL)
		cli_usage_error("--protocol goes with --worker");
	if (retry_failed && journal == NULL)
		cli_usage_error("--retry-failed goes with --journal");
	if (journal != NULL && dry_run)
		cli_usage_error("--journal does not go with --dry-run");
	pc.protocol = worker != NULL ?
	    (protocol == -1 ? PROTO_LINE : (enum protocol)protocol) :
	    PROTO_FRAME;
	run_check_options(handler, pc.options);
	if (!window_set)	/* the handler's default, or the protocol's */
		pc.window = handler_default_window(handler) != 0 ?
		    handler_default_window(handler) :
		    protocol_default_window(pc.protocol);
	if (pc.rate > 0 && !burst_set)
		pc.burst = tbucket_default_burst(pc.rate);
	if (burst_set && pc.rate == 0)
		cli_usage_error("--burst goes with --rate");
	pc.handler = handler != NULL ? xstrdup(handler) : NULL;
	pc.argv = handler != NULL ? poolconf_handler_argv(workerpath(), &pc) :
	    run_command(handler, exec, worker);
	pc.name = run_pool_name(handler, exec, pc.argv);
	/* A program that cannot run fails before any input is read. */
	if (!dry_run && shell_program_problem(pc.argv[0], why, sizeof(why))) {
		log_warnx("unable to exec %s: %s", pc.argv[0], why);
		poolconf_clear(&pc);
		return (3);
	}

	if (input != NULL && strcmp(input, "-") != 0 &&
	    (fd = open(input, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("unable to open %s", input);
		poolconf_clear(&pc);
		return (2);
	}
	if (dry_run) {
		status = dryrun(exec, pc.workers, fd, delim,
		    pc.max_job_bytes);
		if (fd != STDIN_FILENO)
			close(fd);
		poolconf_clear(&pc);
		return (status);
	}
	ro.progress = progress == -1 ? isatty(STDERR_FILENO) : progress;
	if (joblog != NULL && (ro.joblog_fd = report_joblog_open(joblog)) ==
	    -1) {
		if (fd != STDIN_FILENO)
			close(fd);
		poolconf_clear(&pc);
		return (2);
	}
	if (journal != NULL) {
		fingerprint = run_fingerprint(handler, exec, worker,
		    pc.options, pc.protocol, delim);
		if ((rj = runjournal_open(journal, fingerprint, pc.name,
		    retry_failed, &status, jerr, sizeof(jerr))) == NULL) {
			log_warnx("%s", jerr);
			if (ro.joblog_fd != -1)
				close(ro.joblog_fd);
			if (fd != STDIN_FILENO)
				close(fd);
			free(fingerprint);
			poolconf_clear(&pc);
			return (status);
		}
	}

	memset(&run, 0, sizeof(run));
	run.shutdown_timeout = shutdown_timeout;
	signal(SIGPIPE, SIG_IGN);
	if ((run.base = event_base_new()) == NULL)
		fatalx("unable to create the event loop");
	run.ev_deadline = evtimer_new(run.base, run_on_deadline, &run);
	run.ev_halt = event_new(run.base, -1, 0, run_on_halt_now, &run);
	ev_chld = evsignal_new(run.base, SIGCHLD, run_on_sigchld, &run);
	ev_int = evsignal_new(run.base, SIGINT, run_on_signal, &run);
	ev_term = evsignal_new(run.base, SIGTERM, run_on_signal, &run);
	evsignal_add(ev_chld, NULL);
	evsignal_add(ev_int, NULL);
	evsignal_add(ev_term, NULL);

	run.pool = pool_new(run.base, &pc, &run_pool_hooks, &run);
	run.report = report_new(run.base, &ro);
	report_set_hooks(run.report, &run_report_hooks, &run);
	if (rj != NULL && runjournal_start(rj, run.base, &run_journal_hooks,
	    &run, jerr, sizeof(jerr)) == -1) {
		log_warnx("%s", jerr);
		status = 3;
		goto out;
	}
	if (pool_start(run.pool) == -1) {
		status = 3;
		goto out;
	}
	run.ib = iobatch_new(run.base, run.pool, run.report, fd, delim,
	    pc.max_job_bytes, run_on_complete, &run);
	if (rj != NULL)
		iobatch_set_journal(run.ib, rj);
	if (ro.progress || ro.halt.percent)
		report_set_total(run.report, total != 0 ? total :
		    iobatch_count_records(run.ib));
	iobatch_start(run.ib);
	event_base_dispatch(run.base);
	/* Every write committed, or the failure said (exit 3). */
	if (rj != NULL && !runjournal_sync(rj, run.base, !run.fatal &&
	    run.signals == 0 && !run.broken && !report_halted(run.report)))
		run.fatal = true;

	if (run.fatal)
		status = 3;
	else if (report_halt_ok(run.report) && run.signals == 0 &&
	    !run.broken)
		status = 0;
	else if (report_failed(run.report) != 0 || run.signals != 0 ||
	    run.broken)
		status = 1;
	else
		status = 0;

out:
	iobatch_free(run.ib);
	pool_free(run.pool);
	runjournal_close(rj);
	free(fingerprint);
	report_free(run.report);
	event_free(ev_chld);
	event_free(ev_int);
	event_free(ev_term);
	event_free(run.ev_deadline);
	event_free(run.ev_halt);
	event_base_free(run.base);
	job_cache_trim();
	poolconf_clear(&pc);
	if (fd != STDIN_FILENO)
		close(fd);
	if (run.broken)
		cli_exit_sigpipe();
	return (status);
}

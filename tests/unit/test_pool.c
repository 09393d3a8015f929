/*
 * Unit tests for the pool (daemon/pool*.c) with real workers: tw, the test
 * worker that misbehaves on purpose (tests/workers/tw.c), run by a pool on
 * a private event base with SIGCHLD handled as droverd does.  A small batch
 * records every result; each test runs the loop until its condition holds
 * or a 10 s deadline fails it, never for a fixed time.
 */
#include <sys/types.h>
#include <sys/uio.h>

#include <check.h>

#include "check_main.h"
#include <endian.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "batch.h"
#include "clock.h"
#include "job.h"
#include "log.h"
#include "pool.h"
#include "poolconf.h"
#include "worker.h"

#define DEADLINE_S	10	/* a test that takes longer has failed */
#define MAXJOBS		20000

/* One job's outcome as the batch saw it. */
struct rec {
	unsigned	 count;		/* done calls: must end as 1 */
	enum job_status	 status;
	char		 out[256];
	pid_t		 worker;
	unsigned	 runs;
};

/* A batch that records every result and feeds itself by room. */
struct tbatch {
	struct batch	 b;		/* first: the pool's view */
	struct rec	*recs;
	size_t		 njobs;		/* jobs it will submit */
	size_t		 next;		/* the next one to submit */
	uint64_t	 ndone;
	unsigned	 nclosing;
	char		 why[128];
	bool		 detach_on_closing;
	uint64_t	 nruns;		/* done_run calls */
	uint64_t	 nrunjobs;	/* jobs they finished */
};

static struct event_base *base;
static struct event	*ev_chld, *ev_deadline;
static struct pool	*pool;
static bool		 expired;
static unsigned		 nfailed, nstopped;
static char		 failure[512];
static void		*allocs[4];	/* the tests' own, freed at teardown */
static size_t		 nallocs;

static void
on_chld(int sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	worker_reap();
}

static void
on_deadline(int fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	expired = true;
	event_base_loopbreak(base);
}

static void
hook_failed(struct pool *p, const char *why, void *arg)
{
	(void)p;
	(void)arg;
	nfailed++;
	snprintf(failure, sizeof(failure), "%s", why);
}

static void
hook_stopped(struct pool *p, void *arg)
{
	(void)p;
	(void)arg;
	nstopped++;
}

static const struct pool_hooks hooks = {
	.failed = hook_failed,
	.stopped = hook_stopped,
};

/* A job's value: its id + 1. */
static size_t
job_value(uint64_t id, char *buf, size_t len)
{
	return ((size_t)snprintf(buf, len, "%llu", (unsigned long long)id + 1));
}

/* Submit while the pool has room; ask for more room if jobs are left. */
static void
tb_feed(struct tbatch *tb)
{
	char	 buf[32];
	size_t	 room, len;

	room = pool_room(pool);
	while (tb->next < tb->njobs && room > 0 && !tb->b.closed) {
		if (tb->next % 1000 == 999)
			len = (size_t)snprintf(buf, sizeof(buf), "x");
		else
			len = job_value(tb->next, buf, sizeof(buf));
		tb->next++;
		room--;
		pool_submit(pool, &tb->b, tb->next - 1, buf, len);
	}
	if (tb->next < tb->njobs && !tb->b.closed)
		pool_wait_room(pool, &tb->b);
}

static void
tb_room(struct batch *b)
{
	tb_feed((struct tbatch *)b);
}

static void
tb_done(struct batch *b, struct job *j, const struct jobresult *r)
{
	struct tbatch	*tb = (struct tbatch *)b;
	struct rec	*rc;

	ck_assert_uint_lt(j->id, tb->njobs);
	rc = &tb->recs[j->id];
	rc->count++;
	rc->status = r->status;
	if (r->num != NULL)
		rc->out[num_fmt_value(rc->out, r->num)] = '\0';
	else
		snprintf(rc->out, sizeof(rc->out), "%.*s", (int)r->outlen,
		    r->out);
	rc->worker = r->worker;
	rc->runs = r->runs;
	tb->ndone++;
}

static void
tb_closing(struct batch *b, const char *why)
{
	struct tbatch	*tb = (struct tbatch *)b;

	tb->nclosing++;
	snprintf(tb->why, sizeof(tb->why), "%s", why);
	if (tb->detach_on_closing)
		pool_detach(pool, b);
}

static const struct batch_ops tb_ops = {
	.room = tb_room,
	.done = tb_done,
	.closing = tb_closing,
};

/* A run of typed results: each job as tb_done() takes it. */
static void
tb_done_run(struct batch *b, struct job *const *js, const char *vals,
    size_t n, enum num_kind kind, pid_t pid, uint64_t now)
{
	struct tbatch	*tb = (struct tbatch *)b;
	struct num_value v;
	struct rec	*rc;
	uint64_t	 u;
	size_t		 i;

	ck_assert(b->runs && b->typed);
	ck_assert_int_ne(pid, 0);
	ck_assert_uint_ne(n, 0);
	tb->nruns++;
	for (i = 0; i < n; i++) {
		ck_assert_ptr_eq(js[i]->batch, b);
		ck_assert_uint_lt(js[i]->id, tb->njobs);
		ck_assert_uint_le(js[i]->sent_us, now);
		rc = &tb->recs[js[i]->id];
		rc->count++;
		rc->status = JOB_OK;
		memcpy(&u, vals + i * 8, 8);
		u = le64toh(u);
		v.kind = kind;
		if (kind == NUM_INT)
			v.i = (int64_t)u;
		else
			memcpy(&v.d, &u, 8);
		rc->out[num_fmt_value(rc->out, &v)] = '\0';
		rc->worker = pid;
		rc->runs = js[i]->runs;
		tb->ndone++;
		tb->nrunjobs++;
	}
}

static const struct batch_ops tb_run_ops = {
	.room = tb_room,
	.done = tb_done,
	.closing = tb_closing,
	.done_run = tb_done_run,
};

static void
tb_init(struct tbatch *tb, size_t njobs)
{
	memset(tb, 0, sizeof(*tb));
	tb->b.ops = &tb_ops;
	tb->njobs = njobs;
	tb->recs = calloc(njobs ? njobs : 1, sizeof(*tb->recs));
	ck_assert_ptr_nonnull(tb->recs);
	ck_assert_uint_lt(nallocs, sizeof(allocs) / sizeof(allocs[0]));
	allocs[nallocs++] = tb->recs;
	pool_attach(pool, &tb->b);
}

/* Every job submitted was reported exactly once. */
static void
tb_check_once(const struct tbatch *tb)
{
	size_t	 i;

	ck_assert_uint_eq(tb->b.submitted, tb->njobs);
	ck_assert_uint_eq(tb->ndone, tb->njobs);
	ck_assert_uint_eq(tb->b.finished, tb->njobs);
	for (i = 0; i < tb->njobs; i++)
		ck_assert_msg(tb->recs[i].count == 1, "job %zu reported %u "
		    "times", i, tb->recs[i].count);
}

/* The job of id is ok with the square of its value. */
static void
check_square(const struct tbatch *tb, uint64_t id)
{
	char	 want[64];

	snprintf(want, sizeof(want), "%llu",
	    (unsigned long long)((id + 1) * (id + 1)));
	ck_assert_msg(tb->recs[id].status == JOB_OK, "job %llu: status %d "
	    "(%s)", (unsigned long long)id, (int)tb->recs[id].status,
	    tb->recs[id].out);
	ck_assert_str_eq(tb->recs[id].out, want);
	ck_assert_int_ne(tb->recs[id].worker, 0);
}

/* Settings for tw in mode (with argument arg, or none). */
static void
tw_conf(struct poolconf *pc, const char *mode, const char *arg)
{
	static char	 name[] = "t", path[4096], smode[64], sarg[64];
	static char	*argv[4];
	const char	*dir = getenv("DROVER_TEST_WORKERS");

	ck_assert_msg(dir != NULL, "DROVER_TEST_WORKERS is not set");
	snprintf(path, sizeof(path), "%s/tw", dir);
	ck_assert_int_eq(access(path, X_OK), 0);
	snprintf(smode, sizeof(smode), "%s", mode);
	snprintf(sarg, sizeof(sarg), "%s", arg != NULL ? arg : "");
	/* pool_new() copies the settings: static strings will do. */
	poolconf_defaults(pc);
	pc->name = name;
	argv[0] = path;
	argv[1] = smode;
	argv[2] = arg != NULL ? sarg : NULL;
	argv[3] = NULL;
	pc->argv = argv;
	pc->stop_timeout = 2;
}

static void
start_pool(const struct poolconf *pc)
{
	pool = pool_new(base, pc, &hooks, NULL);
	ck_assert_int_eq(pool_start(pool), 0);
}

/* Run the loop until cond(arg) holds; fail the test at the deadline. */
static void
run_until_(bool (*cond)(void *), void *arg, const char *what)
{
	struct timeval	 tv = { DEADLINE_S, 0 };

	expired = false;
	evtimer_add(ev_deadline, &tv);
	while (!cond(arg) && !expired)
		event_base_loop(base, EVLOOP_ONCE);
	evtimer_del(ev_deadline);
	ck_assert_msg(!expired, "no %s within %d s", what, DEADLINE_S);
}
#define run_until(cond, arg)	run_until_(cond, arg, #cond)

static bool
all_done(void *arg)
{
	struct tbatch	*tb = arg;

	return (tb->ndone == tb->njobs);
}

static bool
stopped(void *arg)
{
	(void)arg;
	return (nstopped != 0);
}

static bool
finished(void *arg)
{
	(void)arg;
	return (pool_finished(pool));
}

static void
setup(void)
{
	log_init("test_pool", LOG_STYLE_CLI, LOG_WARNING);
	/* As drover run and droverd: a dead worker's socket is EPIPE. */
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	ev_chld = evsignal_new(base, SIGCHLD, on_chld, NULL);
	evsignal_add(ev_chld, NULL);
	ev_deadline = evtimer_new(base, on_deadline, NULL);
	pool = NULL;
	nallocs = 0;
	nfailed = nstopped = 0;
	failure[0] = '\0';
}

static void
teardown(void)
{
	pool_free(pool);
	while (nallocs > 0)
		free(allocs[--nallocs]);
	event_free(ev_deadline);
	event_free(ev_chld);
	event_base_free(base);
}

/*
 * 20000 jobs through 3 workers with the adaptive window, fed by room: each
 * reported once, ok with its square, or failed with the handler's reason.
 */
START_TEST(test_every_job_once)
{
	struct poolconf	 pc;
	struct tbatch	 tb;
	size_t		 i, nbad = 0;

	tw_conf(&pc, "square", NULL);
	pc.workers = 3;
	start_pool(&pc);
	tb_init(&tb, MAXJOBS);
	tb_feed(&tb);
	run_until(all_done, &tb);
	tb_check_once(&tb);
	for (i = 0; i < tb.njobs; i++) {
		ck_assert_uint_eq(tb.recs[i].runs, 1);
		if (i % 1000 == 999) {
			ck_assert_int_eq(tb.recs[i].status, JOB_FAILED);
			ck_assert_str_eq(tb.recs[i].out, "not an integer");
			nbad++;
		} else
			check_square(&tb, i);
	}
	ck_assert_uint_eq(pool_stats(pool)->jobs[JOB_OK], MAXJOBS - nbad);
	ck_assert_uint_eq(pool_stats(pool)->jobs[JOB_FAILED], nbad);
	ck_assert_uint_eq(pool_stats(pool)->retried, 0);
	ck_assert_uint_eq(pool_restarts(pool), 0);
	ck_assert_uint_eq(pool_queued(pool), 0);
	ck_assert_uint_eq(pool_inflight(pool), 0);
	ck_assert_int_eq(pool_state(pool), POOL_RUNNING);
	ck_assert_uint_eq(nfailed, 0);
	pool_detach(pool, &tb.b);
}
END_TEST

/* The input of job id in test_result_runs: a number, a double, text. */
static size_t
run_input(uint64_t id, char *buf, size_t len)
{
	if (id % 97 == 96)
		return ((size_t)snprintf(buf, len, "x%llu",
		    (unsigned long long)id));
	if (id % 89 == 88)
		return ((size_t)snprintf(buf, len, "%llu.5",
		    (unsigned long long)id));
	return (job_value(id, buf, len));
}

static bool
both_done(void *arg)
{
	struct tbatch	*tb = arg;

	return (tb[0].ndone == tb[0].njobs && tb[1].ndone == tb[1].njobs);
}

/*
 * Runs of typed results (batched RESULTs from tw echo-batch, 2 workers)
 * for two batches at once: A takes runs (batch.runs, done_run), B does
 * not.  Their jobs alternate in the queue, 50 at a time, A's submitted by
 * pool_submit_run(); every 89th is a double and every 97th text, which
 * break the runs.  Each job is reported once, to its own batch, with its
 * input echoed; A's mostly in runs, B's never.
 */
START_TEST(test_result_runs)
{
	struct poolconf	 pc;
	struct tbatch	 tb[2];
	struct timeval	 tv = { DEADLINE_S, 0 };
	struct iovec	 iov[50];
	char		 in[50][32], want[32];
	size_t		 i, k, n, len;
	uint64_t	 id;

	tw_conf(&pc, "echo-batch", NULL);
	pc.workers = 2;
	start_pool(&pc);
	tb_init(&tb[0], MAXJOBS);
	tb_init(&tb[1], MAXJOBS);
	tb[0].b.ops = &tb_run_ops;
	tb[0].b.typed = tb[0].b.runs = true;
	expired = false;
	evtimer_add(ev_deadline, &tv);
	while ((tb[0].next < MAXJOBS || tb[1].next < MAXJOBS) && !expired) {
		for (k = 0; k < 2; k++) {
			n = MAXJOBS - tb[k].next < 50 ? MAXJOBS - tb[k].next :
			    50;
			for (i = 0; i < n; i++) {
				id = tb[k].next + i;
				len = run_input(id, in[i], sizeof(in[i]));
				if (k == 1)
					pool_submit(pool, &tb[1].b, id, in[i],
					    len);
				iov[i].iov_base = in[i];
				iov[i].iov_len = len;
			}
			if (k == 0 && n != 0)
				ck_assert_uint_eq(pool_submit_run(pool,
				    &tb[0].b, tb[0].next, iov, n), n);
			tb[k].next += n;
		}
		while (pool_room(pool) < 100 && !expired)
			event_base_loop(base, EVLOOP_ONCE);
	}
	evtimer_del(ev_deadline);
	ck_assert_msg(!expired, "not all submitted within %d s", DEADLINE_S);
	run_until(both_done, tb);
	for (k = 0; k < 2; k++) {
		tb_check_once(&tb[k]);
		for (i = 0; i < MAXJOBS; i++) {
			run_input(i, want, sizeof(want));
			ck_assert_int_eq(tb[k].recs[i].status, JOB_OK);
			ck_assert_str_eq(tb[k].recs[i].out, want);
			ck_assert_int_ne(tb[k].recs[i].worker, 0);
		}
	}
	ck_assert_uint_gt(tb[0].nrunjobs, MAXJOBS / 2);
	ck_assert_uint_gt(tb[0].nruns, 10);
	ck_assert_uint_eq(tb[1].nrunjobs, 0);
	ck_assert_uint_eq(pool_stats(pool)->jobs[JOB_OK], 2 * MAXJOBS);
	ck_assert_uint_eq(pool_inflight(pool), 0);
	pool_detach(pool, &tb[0].b);
	pool_detach(pool, &tb[1].b);
}
END_TEST

/*
 * One worker, a window of 8, and job 5 kills whoever runs it, in one of
 * three ways (mode): each time it is the oldest job in flight (1 to 4 are
 * answered first), so it alone is charged, and it ends as crashed after
 * max_attempts runs, with the death as its reason; the jobs in flight with
 * it go back uncharged and succeed.  Jobs 6 to 8 ran on all four workers,
 * 9 to 12 on the last three and on the first too if it read 1 to 4's
 * results (and refilled its window) before it died.
 */
static void
poison(const char *mode, const char *reason)
{
	struct poolconf	 pc;
	struct tbatch	 tb;
	const struct pool_stats *st;
	size_t		 i;
	uint64_t	 requeued = 2;	/* job 5, before its last run */

	tw_conf(&pc, mode, "5");
	pc.window = 8;
	pc.start_secs = 30;	/* a slow machine: still failed starts */
	start_pool(&pc);
	tb_init(&tb, 20);
	tb_feed(&tb);
	run_until(all_done, &tb);
	tb_check_once(&tb);
	ck_assert_int_eq(tb.recs[4].status, JOB_CRASHED);
	ck_assert_str_eq(tb.recs[4].out, reason);
	ck_assert_uint_eq(tb.recs[4].runs, 3);
	for (i = 0; i < tb.njobs; i++) {
		if (i == 4)
			continue;
		check_square(&tb, i);
		if (i < 4 || i >= 12)
			ck_assert_uint_eq(tb.recs[i].runs, 1);
		else if (i < 8)
			ck_assert_uint_eq(tb.recs[i].runs, 4);
		else
			ck_assert(tb.recs[i].runs == 3 ||
			    tb.recs[i].runs == 4);
		requeued += tb.recs[i].runs - 1;
	}
	st = pool_stats(pool);
	/* Every run but the last of each job was a retry. */
	ck_assert_uint_eq(st->retried, requeued);
	ck_assert_uint_eq(st->jobs[JOB_CRASHED], 1);
	/* The first had answered; the next two died before any result. */
	ck_assert_uint_eq(st->restarts[RESTART_CRASH], 1);
	ck_assert_uint_eq(st->restarts[RESTART_START], 2);
	ck_assert_int_eq(pool_state(pool), POOL_RUNNING);
	ck_assert_uint_eq(nfailed, 0);
	pool_detach(pool, &tb.b);
}

START_TEST(test_poison_charged)
{
	poison("crash-on", "worker killed by signal 9 (SIGKILL) (attempt 3 "
	    "of 3)");
}
END_TEST

/* The worker closes its stdout, then exits: EOF before the exit status. */
START_TEST(test_settle_eof_first)
{
	poison("eof-exit-on", "worker exited with status 3 (attempt 3 of 3)");
}
END_TEST

/*
 * The worker exits while a child holds its stdout: the exit status before
 * EOF, which comes only once the pool has killed what is left of the
 * worker's process group.
 */
START_TEST(test_settle_exit_first)
{
	poison("held-exit-on", "worker exited with status 3 (attempt 3 of 3)");
}
END_TEST

/*
 * A worker that never starts: failed starts back off (none, then 0.05 s,
 * then the 0.1 s ceiling, each at least 0.8 of that), and the fourth in a
 * row with start_retries 3 fails the pool with its last stderr line.  Its
 * queued jobs fail, and later jobs fail at once.
 */
START_TEST(test_start_backoff_fails_pool)
{
	struct poolconf	 pc;
	struct tbatch	 tb;
	uint64_t	 t0, elapsed;
	size_t		 i;
	const char	*why = "worker exited with status 1 at start, 4 "
			    "times in a row; last stderr: boom: cannot start";
	char		 want[600];

	tw_conf(&pc, "exit-at-start", NULL);
	pc.start_retries = 3;
	pc.backoff_initial = 0.05;
	pc.backoff_max = 0.1;
	t0 = clock_us();
	start_pool(&pc);
	tb_init(&tb, 8);
	tb.njobs = 5;
	tb_feed(&tb);
	run_until(all_done, &tb);
	elapsed = clock_us() - t0;
	ck_assert_uint_eq(nfailed, 1);
	ck_assert_str_eq(failure, why);
	ck_assert_str_eq(pool_failure(pool), why);
	ck_assert_int_eq(pool_state(pool), POOL_FAILED);
	ck_assert_uint_eq(pool_stats(pool)->restarts[RESTART_START], 4);
	ck_assert_uint_ge(elapsed, 120000);
	snprintf(want, sizeof(want), "pool t failed: %s", why);
	tb_check_once(&tb);
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(tb.recs[i].status, JOB_CRASHED);
		ck_assert_str_eq(tb.recs[i].out, want);
		ck_assert_uint_eq(tb.recs[i].runs, 0);
		ck_assert_int_eq(tb.recs[i].worker, 0);
	}
	/* Fast: reported from within pool_submit. */
	ck_assert_uint_ge(pool_room(pool), 3);
	tb.njobs = 8;
	tb_feed(&tb);
	ck_assert_uint_eq(tb.ndone, 8);
	for (i = 5; i < 8; i++) {
		ck_assert_int_eq(tb.recs[i].status, JOB_CRASHED);
		ck_assert_str_eq(tb.recs[i].out, want);
	}
	run_until(finished, NULL);
	run_until(stopped, NULL);
	ck_assert_uint_eq(nstopped, 1);
	ck_assert_uint_eq(nfailed, 1);
	pool_detach(pool, &tb.b);
}
END_TEST

/*
 * Workers that die on their second job, one at a time: each death is a
 * restart (not a failed start: it answered one), and the fourth within
 * restart_period is over restart_limit 3.  Jobs 1 to 4 were answered, one
 * per worker; the others fail with the pool.
 */
START_TEST(test_restart_limit)
{
	struct poolconf	 pc;
	struct tbatch	 tb;
	size_t		 i;
	const char	*why = "more than 3 worker restarts in 60s";
	char		 want[600];

	tw_conf(&pc, "crash-nth", "2");
	pc.window = 1;
	pc.restart_limit = 3;
	pc.restart_period = 60;
	pc.max_attempts = 100;
	start_pool(&pc);
	tb_init(&tb, 21);
	tb.njobs = 20;
	tb_feed(&tb);
	run_until(all_done, &tb);
	tb_check_once(&tb);
	ck_assert_uint_eq(nfailed, 1);
	ck_assert_str_eq(failure, why);
	ck_assert_int_eq(pool_state(pool), POOL_FAILED);
	ck_assert_uint_eq(pool_stats(pool)->restarts[RESTART_CRASH], 4);
	ck_assert_uint_eq(pool_restarts(pool), 4);
	snprintf(want, sizeof(want), "pool t failed: %s", why);
	for (i = 0; i < 4; i++) {
		check_square(&tb, i);
		ck_assert_uint_eq(tb.recs[i].runs, i == 0 ? 1 : 2);
	}
	for (i = 4; i < 20; i++) {
		ck_assert_int_eq(tb.recs[i].status, JOB_CRASHED);
		ck_assert_str_eq(tb.recs[i].out, want);
	}
	tb.njobs = 21;
	tb_feed(&tb);
	ck_assert_uint_eq(tb.ndone, 21);
	ck_assert_int_eq(tb.recs[20].status, JOB_CRASHED);
	run_until(stopped, NULL);
	ck_assert_uint_eq(nfailed, 1);
	pool_detach(pool, &tb.b);
}
END_TEST

/*
 * Exit status 125: the worker cannot run at all (bad arguments, missing
 * configuration).  It is not respawned: the pool fails at once with what
 * it printed, and its jobs fail.
 */
START_TEST(test_exit125)
{
	struct poolconf	 pc;
	struct tbatch	 tb;
	size_t		 i;
	const char	*why = "worker exited with status 125 (do not "
			    "respawn): tw: bad configuration";
	char		 want[600];

	tw_conf(&pc, "exit125", NULL);
	pc.start_retries = 100;
	start_pool(&pc);
	tb_init(&tb, 3);
	tb_feed(&tb);
	run_until(all_done, &tb);
	tb_check_once(&tb);
	ck_assert_uint_eq(nfailed, 1);
	ck_assert_str_eq(failure, why);
	ck_assert_int_eq(pool_state(pool), POOL_FAILED);
	/* One worker ever: it was not respawned. */
	ck_assert_uint_eq(pool_restarts(pool), 1);
	ck_assert_uint_eq(pool_stats(pool)->restarts[RESTART_START], 1);
	snprintf(want, sizeof(want), "pool t failed: %s", why);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(tb.recs[i].status, JOB_CRASHED);
		ck_assert_str_eq(tb.recs[i].out, want);
	}
	run_until(stopped, NULL);
	ck_assert_uint_eq(pool_restarts(pool), 1);
	pool_detach(pool, &tb.b);
}
END_TEST

static bool
nine_recycled(void *arg)
{
	(void)arg;
	return (pool_stats(pool)->restarts[RESTART_RECYCLE] >= 9);
}

/*
 * max_jobs_per_worker 10 (10 or 11 with its jitter), one job at a time,
 * tw answering with its pid: 100 jobs take exactly 10 workers, each
 * replaced after its share; no job is lost or run twice, and none of it
 * is an unplanned restart.
 */
START_TEST(test_recycle)
{
	struct poolconf	 pc;
	struct tbatch	 tb;
	pid_t		 pids[100];
	unsigned	 counts[100];
	size_t		 i, k, npids = 0;
	char		 want[32];

	tw_conf(&pc, "pid", NULL);
	pc.window = 1;
	pc.max_jobs_per_worker = 10;
	start_pool(&pc);
	tb_init(&tb, 100);
	tb_feed(&tb);
	run_until(all_done, &tb);
	tb_check_once(&tb);
	for (i = 0; i < tb.njobs; i++) {
		ck_assert_int_eq(tb.recs[i].status, JOB_OK);
		ck_assert_uint_eq(tb.recs[i].runs, 1);
		snprintf(want, sizeof(want), "%d", (int)tb.recs[i].worker);
		ck_assert_str_eq(tb.recs[i].out, want);
		if (npids == 0 || pids[npids - 1] != tb.recs[i].worker) {
			for (k = 0; k < npids; k++)
				ck_assert_int_ne(pids[k], tb.recs[i].worker);
			pids[npids] = tb.recs[i].worker;
			counts[npids++] = 0;
		}
		counts[npids - 1]++;
	}
	ck_assert_uint_eq(npids, 10);
	for (k = 0; k + 1 < npids; k++)
		ck_assert(counts[k] == 10 || counts[k] == 11);
	ck_assert_uint_le(counts[npids - 1], 11);
	ck_assert_uint_eq(pool_restarts(pool), 0);
	ck_assert_uint_eq(pool_stats(pool)->retried, 0);
	/*
	 * The first nine were recycled (counted as each is reaped, maybe
	 * after the last result); the last too if it did its full share.
	 */
	run_until(nine_recycled, NULL);
	pool_stop(pool, POOL_STOP_DRAIN, "done");
	run_until(stopped, NULL);
	ck_assert_uint_le(pool_stats(pool)->restarts[RESTART_RECYCLE], 10);
	ck_assert_uint_eq(pool_restarts(pool), 0);
	pool_detach(pool, &tb.b);
}
END_TEST

/*
 * pool_stop DRAIN: every attached batch hears closing once, with the
 * reason, even one that detaches itself from the call; the queued jobs
 * still run, then hooks->stopped.  A second stop tells no one again.
 */
START_TEST(test_stop_drain)
{
	struct poolconf	 pc;
	struct tbatch	 a, b, c;
	size_t		 i;

	tw_conf(&pc, "square", NULL);
	pc.workers = 2;
	start_pool(&pc);
	tb_init(&a, 150);
	tb_init(&b, 50);
	tb_init(&c, 0);
	c.detach_on_closing = true;
	tb_feed(&a);
	tb_feed(&b);
	ck_assert_uint_eq(pool_nbatches(pool), 3);
	pool_stop(pool, POOL_STOP_DRAIN, "draining for the test");
	ck_assert_int_eq(pool_state(pool), POOL_DRAINING);
	ck_assert_uint_eq(pool_nbatches(pool), 2);
	ck_assert_uint_eq(a.nclosing, 1);
	ck_assert_uint_eq(b.nclosing, 1);
	ck_assert_uint_eq(c.nclosing, 1);
	ck_assert_str_eq(a.why, "draining for the test");
	ck_assert_str_eq(b.why, "draining for the test");
	ck_assert_str_eq(c.why, "draining for the test");
	run_until(stopped, NULL);
	ck_assert_uint_eq(nstopped, 1);
	ck_assert_int_eq(pool_state(pool), POOL_STOPPED);
	ck_assert_uint_eq(pool_nworkers(pool), 0);
	tb_check_once(&a);
	tb_check_once(&b);
	for (i = 0; i < a.njobs; i++)
		check_square(&a, i);
	for (i = 0; i < b.njobs; i++)
		check_square(&b, i);
	pool_stop(pool, POOL_STOP_KILL, "again");
	ck_assert_uint_eq(a.nclosing, 1);
	ck_assert_str_eq(a.why, "draining for the test");
	ck_assert_uint_eq(nstopped, 1);
	ck_assert_uint_eq(nfailed, 0);
	pool_detach(pool, &a.b);
	pool_detach(pool, &b.b);
}
END_TEST

/*
 * pool_stop KILL with job 1 hanging and job 2 in flight behind it: the
 * queue is cancelled at once, the two in flight when their worker is
 * gone; closing once, with the reason.
 */
static bool
two_inflight(void *arg)
{
	(void)arg;
	return (pool_inflight(pool) == 2);
}

START_TEST(test_stop_kill)
{
	struct poolconf	 pc;
	struct tbatch	 tb;
	size_t		 i;

	tw_conf(&pc, "hang-on", "1");
	pc.window = 2;
	start_pool(&pc);
	tb_init(&tb, 10);
	tb_feed(&tb);
	run_until(two_inflight, NULL);
	pool_stop(pool, POOL_STOP_KILL, "killed for the test");
	ck_assert_uint_eq(tb.nclosing, 1);
	ck_assert_str_eq(tb.why, "killed for the test");
	ck_assert_int_eq(pool_state(pool), POOL_STOPPING);
	/* The queued ones at once. */
	ck_assert_uint_eq(tb.ndone, 8);
	for (i = 2; i < 10; i++) {
		ck_assert_uint_eq(tb.recs[i].count, 1);
		ck_assert_int_eq(tb.recs[i].status, JOB_CANCELLED);
		ck_assert_str_eq(tb.recs[i].out, "stopped before it ran");
		ck_assert_uint_eq(tb.recs[i].runs, 0);
	}
	run_until(stopped, NULL);
	tb_check_once(&tb);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(tb.recs[i].status, JOB_CANCELLED);
		ck_assert_str_eq(tb.recs[i].out, "worker stopped");
		ck_assert_uint_eq(tb.recs[i].runs, 1);
	}
	ck_assert_uint_eq(nstopped, 1);
	ck_assert_int_eq(pool_state(pool), POOL_STOPPED);
	ck_assert_uint_eq(pool_stats(pool)->jobs[JOB_CANCELLED], 10);
	ck_assert_uint_eq(pool_restarts(pool), 0);
	ck_assert_uint_eq(nfailed, 0);
	pool_detach(pool, &tb.b);
}
END_TEST

static Suite *
pool_suite(void)
{
	Suite	*s = suite_create("pool");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 3 * DEADLINE_S);
	tcase_add_test(tc, test_every_job_once);
	tcase_add_test(tc, test_result_runs);
	tcase_add_test(tc, test_poison_charged);
	tcase_add_test(tc, test_settle_eof_first);
	tcase_add_test(tc, test_settle_exit_first);
	tcase_add_test(tc, test_start_backoff_fails_pool);
	tcase_add_test(tc, test_restart_limit);
	tcase_add_test(tc, test_exit125);
	tcase_add_test(tc, test_recycle);
	tcase_add_test(tc, test_stop_drain);
	tcase_add_test(tc, test_stop_kill);
	suite_add_tcase(s, tc);
	return (s);
}

CHECK_MAIN(pool_suite)

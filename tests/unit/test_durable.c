/*
 * Unit tests for durable batches (daemon/durable.c) over a real journal
 * (daemon/journal.c, in a temp dir of each test's own) and a real pool of
 * tw (tests/workers/tw.c) on a private event base.  A fake sink records
 * every call it gets; the journal's records that durable.c makes are
 * seen through the linker (-Wl,--wrap, tests/unit/meson.build), so that
 * each sink call can check that what it is handed is committed: the
 * sequence number of its record is at most the journal's durable number
 * at the time of the call.  Each test runs the loop until its condition
 * holds or a deadline fails it, never for a fixed time.
 */
#include <sys/resource.h>
#include <sys/types.h>

#include <check.h>

#include "check_main.h"
#include <dirent.h>
#include <endian.h>
#include <errno.h>
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
#include "ctl.h"
#include "durable.h"
#include "job.h"
#include "journal.h"
#include "log.h"
#include "pool.h"
#include "poolconf.h"
#include "worker.h"

#define DEADLINE_S	20	/* a wait that takes longer has failed */
#define MAXB		8	/* batches a test makes */
#define MAXJ		4096	/* job ids a test uses: 0 to MAXJ - 1 */
#define MAXEV		8192	/* calls a sink records */

/*
 * The journal's records of each batch as durable.c made them: the
 * sequence number of each job's accept and result, and of the END.
 * Numbers restart at each journal_open(), so they are cleared then (a
 * batch's id and key stay).
 */
struct jrec {
	char		 id[JOURNAL_ID_LEN + 1];
	uint64_t	 key;
	uint64_t	 acc[MAXJ];
	uint64_t	 done[MAXJ];
	unsigned	 ndone[MAXJ];	/* results recorded */
	uint64_t	 end;
};

/* One call a sink had. */
enum sk_kind {
	SK_ACC,
	SK_RES,
	SK_CLOSING,
	SK_LOST,
};

struct sev {
	enum sk_kind	 kind;
	uint64_t	 id;
	bool		 ended;
	enum job_status	 status;
	unsigned	 attempts;
	uint64_t	 t_us;		/* clock_us() at the call */
	char		 out[64];	/* output, or the reason */
};

/* A fake connection: what it was handed, in order; it feeds by room. */
struct tsink {
	struct dbatch	*db;
	struct sev	 ev[MAXEV];
	size_t		 nev;
	unsigned	 nres[MAXJ];	/* results per job id */
	size_t		 nresults;
	size_t		 ndistinct;	/* ids with a result */
	bool		 have_acc;
	uint64_t	 acc;		/* the highest ACCEPTED id */
	unsigned	 nended, nclosing, nlost, nroom, nkick;
	char		 why[600];	/* of closing or lost */
	bool		 lost;
	size_t		 expect;	/* ids with a result once settled */
	bool		 settled_seen;
	/* Jobs to send: ids first, first + step, ...; njobs of them. */
	uint64_t	 first, step, njobs, next;
	bool		 chain;		/* send from result(), hold to ACC */
};

/* A reader of a batch's results (durable_read). */
struct treader {
	struct dbatch	*db;
	struct dreader	*rd;
	bool		 wait;		/* nothing before the batch completes */
	uint64_t	 ids[MAXJ];
	char		 out[MAXJ][24];
	enum job_status	 status[MAXJ];
	size_t		 n;
	unsigned	 npages, nend;
	char		 why[600];
	bool		 failed_end;
};

static char		 root[64];	/* the suite's temp dir */
static char		 dir[96], path[128];
static struct event_base *base;
static struct event	*ev_chld, *ev_deadline;
static bool		 expired;
static struct pool	*pool;
static unsigned		 npfailed, nstopped;
static struct durable	*d;
static unsigned		 nfailed;	/* durable_hooks' failed */
static char		 failed_why[600];
static struct jrec	 jr[MAXB];
static size_t		 njr;
static struct journal	*tj;		/* the journal durable.c opened */
static struct tsink	 sa, sb, sc;
static struct treader	 ra, rb;

/* The wrapped journal calls (the linker's --wrap). */
struct journal	*__real_journal_open(const struct journal_conf *, char *,
		    size_t);
uint64_t	 __real_journal_batch(struct journal *, const char *,
		    const char *, const char *, int64_t, uint64_t *);
uint64_t	 __real_journal_accept(struct journal *, uint64_t, uint64_t,
		    const void *, size_t);
uint64_t	 __real_journal_done(struct journal *,
		    const struct journal_result *);
uint64_t	 __real_journal_stopped(struct journal *, uint64_t, uint64_t);
uint64_t	 __wrap_journal_stopped(struct journal *, uint64_t, uint64_t);
uint64_t	 __real_journal_batch_state(struct journal *, uint64_t,
		    enum journal_batch_state, int64_t);
struct journal	*__wrap_journal_open(const struct journal_conf *, char *,
		    size_t);
uint64_t	 __wrap_journal_batch(struct journal *, const char *,
		    const char *, const char *, int64_t, uint64_t *);
uint64_t	 __wrap_journal_accept(struct journal *, uint64_t, uint64_t,
		    const void *, size_t);
uint64_t	 __wrap_journal_done(struct journal *,
		    const struct journal_result *);
uint64_t	 __wrap_journal_batch_state(struct journal *, uint64_t,
		    enum journal_batch_state, int64_t);

/* The records of the batch of journal key key. */
static struct jrec *
jrec_key(uint64_t key)
{
	size_t	 i;

	for (i = 0; i < njr; i++)
		if (jr[i].key == key)
			return (&jr[i]);
	ck_abort_msg("no batch of key %llu", (unsigned long long)key);
	return (NULL);
}

/* The records of batch db, by its id. */
static struct jrec *
jrec_of(struct dbatch *db)
{
	size_t	 i;

	for (i = 0; i < njr; i++)
		if (strcmp(jr[i].id, durable_id(db)) == 0)
			return (&jr[i]);
	ck_abort_msg("no batch %s", durable_id(db));
	return (NULL);
}

/* A new journal: its numbers start again at 1. */
struct journal *
__wrap_journal_open(const struct journal_conf *c, char *err, size_t len)
{
	size_t	 i;

	for (i = 0; i < njr; i++) {
		memset(jr[i].acc, 0, sizeof(jr[i].acc));
		memset(jr[i].done, 0, sizeof(jr[i].done));
		memset(jr[i].ndone, 0, sizeof(jr[i].ndone));
		jr[i].end = 0;
	}
	tj = __real_journal_open(c, err, len);
	return (tj);
}

/* A new batch: its id and the key the journal gave it. */
uint64_t
__wrap_journal_batch(struct journal *j, const char *id, const char *p,
    const char *client, int64_t created, uint64_t *key)
{
	uint64_t	 seq;

	seq = __real_journal_batch(j, id, p, client, created, key);
	if (seq != 0) {
		ck_assert_uint_lt(njr, MAXB);
		memset(&jr[njr], 0, sizeof(jr[njr]));
		snprintf(jr[njr].id, sizeof(jr[njr].id), "%s", id);
		jr[njr].key = *key;
		njr++;
	}
	return (seq);
}

/* A job recorded: its number. */
uint64_t
__wrap_journal_accept(struct journal *j, uint64_t key, uint64_t id,
    const void *data, size_t len)
{
	uint64_t	 seq;

	seq = __real_journal_accept(j, key, id, data, len);
	ck_assert_uint_lt(id, MAXJ);
	jrec_key(key)->acc[id] = seq;
	return (seq);
}

/* A result recorded (0: the journal failed, nothing is). */
uint64_t
__wrap_journal_done(struct journal *j, const struct journal_result *r)
{
	struct jrec	*rec;
	uint64_t	 seq;

	seq = __real_journal_done(j, r);
	ck_assert_uint_lt(r->id, MAXJ);
	if (seq != 0) {
		rec = jrec_key(r->batch);
		rec->done[r->id] = seq;
		rec->ndone[r->id]++;
	}
	return (seq);
}

/* The END (ENDED), or the batch's completion. */
uint64_t
__wrap_journal_batch_state(struct journal *j, uint64_t key,
    enum journal_batch_state st, int64_t when)
{
	uint64_t	 seq;

	seq = __real_journal_batch_state(j, key, st, when);
	if (st == JOURNAL_BATCH_ENDED)
		jrec_key(key)->end = seq;
	return (seq);
}

/*
 * A stop of a running job by droverd itself: recorded, unless the test
 * plays a crash (droverd died before it could say so).
 */
static bool	 crash_drops_stops;

uint64_t
__wrap_journal_stopped(struct journal *j, uint64_t key, uint64_t id)
{
	if (crash_drops_stops)
		return (1);
	return (__real_journal_stopped(j, key, id));
}

/* The journal's last committed number, now. */
static uint64_t
durable_seq(void)
{
	struct journal_stats	 st;

	journal_get_stats(tj, &st);
	return (st.durable);
}

/* rm -r of a temp dir (two levels: the suite's, a test's). */
static void
rm_dir(const char *p)
{
	DIR		*dp;
	struct dirent	*e;
	char		 f[512];

	if ((dp = opendir(p)) == NULL)
		return;
	while ((e = readdir(dp)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(f, sizeof(f), "%s/%s", p, e->d_name);
		if (unlink(f) == -1 && errno == EISDIR)
			rm_dir(f);
	}
	closedir(dp);
	rmdir(p);
}

/* In the parent before the tests: the suite's temp dir. */
static void
root_setup(void)
{
	snprintf(root, sizeof(root), "/tmp/drover-durable-XXXXXX");
	if (mkdtemp(root) == NULL)
		abort();
}

/* In the parent after the tests: what a failed test left goes too. */
static void
root_teardown(void)
{
	rm_dir(root);
}

/* Workers are reaped as droverd reaps them. */
static void
on_chld(int sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	worker_reap();
}

/* A wait took too long: run_until() fails the test. */
static void
on_deadline(int fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	expired = true;
	event_base_loopbreak(base);
}

/* The pool's hooks: counted. */
static void
pool_failed(struct pool *p, const char *why, void *arg)
{
	(void)p;
	(void)why;
	(void)arg;
	npfailed++;
}

/* After pool_stop(): its workers are gone. */
static void
pool_stopped(struct pool *p, void *arg)
{
	(void)p;
	(void)arg;
	nstopped++;
}

static const struct pool_hooks phooks = {
	.failed = pool_failed,
	.stopped = pool_stopped,
};

/* durable_hooks: the test's one pool, by name. */
static struct pool *
hook_pool(const char *name)
{
	if (pool != NULL && strcmp(name, pool_name(pool)) == 0)
		return (pool);
	return (NULL);
}

/* durable_hooks: the journal failed (once, says durable.h). */
static void
hook_failed(const char *why)
{
	nfailed++;
	snprintf(failed_why, sizeof(failed_why), "%s", why);
}

static const struct durable_hooks dhooks = {
	.pool = hook_pool,
	.failed = hook_failed,
};

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

/* Settings for tw in mode (with argument arg, or none): pool "t". */
static void
tw_conf(struct poolconf *pc, const char *mode, const char *arg)
{
	static char	 name[] = "t", wpath[4096], smode[64], sarg[64];
	static char	*argv[4];
	const char	*wdir = getenv("DROVER_TEST_WORKERS");

	ck_assert_msg(wdir != NULL, "DROVER_TEST_WORKERS is not set");
	snprintf(wpath, sizeof(wpath), "%s/tw", wdir);
	ck_assert_int_eq(access(wpath, X_OK), 0);
	snprintf(smode, sizeof(smode), "%s", mode);
	snprintf(sarg, sizeof(sarg), "%s", arg != NULL ? arg : "");
	/* pool_new() copies the settings: static strings will do. */
	poolconf_defaults(pc);
	pc->name = name;
	argv[0] = wpath;
	argv[1] = smode;
	argv[2] = arg != NULL ? sarg : NULL;
	argv[3] = NULL;
	pc->argv = argv;
	pc->stop_timeout = 2;
}

/* Every worker of the pool is up. */
static bool
pool_all_ready(void *arg)
{
	(void)arg;
	return (pool_ready(pool) == pool_target(pool));
}

/* The test's pool, replacing the last one (which has no batch left). */
static void
start_pool(const struct poolconf *pc)
{
	pool_free(pool);
	nstopped = 0;
	pool = pool_new(base, pc, &phooks, NULL);
	ck_assert_int_eq(pool_start(pool), 0);
	run_until(pool_all_ready, NULL);
}

/* A pool of n workers squaring what they get. */
static void
square_pool(unsigned n, unsigned window, unsigned max_attempts)
{
	struct poolconf	 pc;

	tw_conf(&pc, "square", NULL);
	pc.workers = n;
	pc.window = window;
	if (max_attempts != 0)
		pc.max_attempts = max_attempts;
	start_pool(&pc);
}

/* durable_open() on the test's journal: recovery, nothing runs yet. */
static void
dur_open(void)
{
	struct durable_conf	 c;
	char			 err[600];

	memset(&c, 0, sizeof(c));
	c.path = path;
	d = durable_open(&c, &dhooks, err, sizeof(err));
	ck_assert_msg(d != NULL, "durable_open: %s", err);
}

/* durable_start(): the writer, and recovered jobs on their pool. */
static void
dur_start(void)
{
	char	 err[600];

	ck_assert_msg(durable_start(d, base, err, sizeof(err)) == 0,
	    "durable_start: %s", err);
}

/* droverd stops and starts again: the journal is read back (not run). */
static void
dur_reopen(void)
{
	durable_free(d);
	d = NULL;
	dur_open();
}

/* A new batch on the test's pool. */
static struct dbatch *
new_batch(void)
{
	struct dbatch	*db;
	char		 err[600];

	db = durable_batch(d, pool, NULL, "test", pool_name(pool), err,
	    sizeof(err));
	ck_assert_msg(db != NULL, "durable_batch: %s", err);
	return (db);
}

/* A resubmit with the batch's id, as drover submit --reconnect does. */
static struct dbatch *
resume_batch(const char *id)
{
	struct dbatch	*db;
	char		 err[600];

	db = durable_batch(d, pool, id, "test", pool_name(pool), err,
	    sizeof(err));
	ck_assert_msg(db != NULL, "durable_batch %s: %s", id, err);
	return (db);
}

/*
 * A stored result (durable.h): the flags, the meta, the sections the
 * flags name (a u32 length and bytes each, in the order of their bits),
 * then the output or reason, which goes to out.
 */
static void
rec_parse(const char *rec, size_t len, char *out, size_t outlen,
    unsigned *attempts)
{
	struct ctl_meta	 m;
	unsigned	 f, bit;
	size_t		 off = 1 + CTL_META_LEN;
	uint32_t	 n;

	ck_assert_uint_ge(len, off);
	f = DURABLE_REC_FLAGS(rec);
	ck_assert_uint_eq(f & ~(unsigned)CTL_F_ALL, 0);
	ctl_meta_get(rec + 1, &m);
	*attempts = m.attempts;
	for (bit = CTL_F_STDERR; bit <= CTL_F_INPUT; bit <<= 1) {
		if ((f & bit) == 0)
			continue;
		ck_assert_uint_le(off + 4, len);
		memcpy(&n, rec + off, 4);
		off += 4 + le32toh(n);
		ck_assert_uint_le(off, len);
	}
	snprintf(out, outlen, "%.*s", (int)(len - off), rec + off);
}

/* The sink's next event, stamped. */
static struct sev *
sink_ev(struct tsink *s, enum sk_kind kind)
{
	struct sev	*e;

	ck_assert_uint_lt(s->nev, MAXEV);
	e = &s->ev[s->nev++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->t_us = clock_us();
	return (e);
}

/* Send job i of the sink's list: its id, its value (the id) as data. */
static void
sink_send(struct tsink *s)
{
	char		 buf[32];
	uint64_t	 id = s->first + s->next * s->step;
	int		 len;

	s->next++;
	len = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)id);
	ck_assert(durable_job(s->db, id, buf, (size_t)len));
}

/* Send while the batch has room (its room() comes when it has again). */
static void
sink_feed(struct tsink *s)
{
	while (s->next < s->njobs && !s->lost && durable_room(s->db) > 0)
		sink_send(s);
}

/*
 * ACCEPTED: its jobs and, with ended, the END committed; ids increase
 * (the END's may repeat the last); one with ended, and nothing after a
 * lost().
 */
static void
sk_accepted(void *arg, uint64_t id, bool ended)
{
	struct tsink	*s = arg;
	struct jrec	*r = jrec_of(s->db);
	uint64_t	 dur = durable_seq();
	struct sev	*e;

	ck_assert_msg(!s->lost, "ACCEPTED %llu after lost",
	    (unsigned long long)id);
	ck_assert_uint_lt(id, MAXJ);
	ck_assert_msg(r->acc[id] <= dur, "ACCEPTED %llu: its record %llu, "
	    "committed %llu", (unsigned long long)id,
	    (unsigned long long)r->acc[id], (unsigned long long)dur);
	ck_assert_uint_eq(s->nended, 0);
	if (ended) {
		ck_assert_msg(r->end != 0, "ended before durable_end()");
		ck_assert_msg(r->end <= dur, "END's record %llu, committed "
		    "%llu", (unsigned long long)r->end,
		    (unsigned long long)dur);
		ck_assert(!s->have_acc || id >= s->acc);
		s->nended++;
	} else
		ck_assert_msg(!s->have_acc || id > s->acc, "ACCEPTED %llu "
		    "after %llu", (unsigned long long)id,
		    (unsigned long long)s->acc);
	e = sink_ev(s, SK_ACC);
	e->id = id;
	e->ended = ended;
	s->have_acc = true;
	s->acc = id;
	if (s->chain)
		durable_hold(s->db, false);
}

/* A result: committed, parsed; a chained sink sends its next job. */
static void
sk_result(void *arg, uint64_t id, enum job_status st, const char *rec,
    size_t len)
{
	struct tsink	*s = arg;
	struct jrec	*r = jrec_of(s->db);
	uint64_t	 dur = durable_seq();
	struct sev	*e;

	ck_assert_msg(!s->lost, "result %llu after lost",
	    (unsigned long long)id);
	ck_assert_uint_lt(id, MAXJ);
	ck_assert_msg(r->done[id] <= dur, "result %llu: its record %llu, "
	    "committed %llu", (unsigned long long)id,
	    (unsigned long long)r->done[id], (unsigned long long)dur);
	e = sink_ev(s, SK_RES);
	e->id = id;
	e->status = st;
	rec_parse(rec, len, e->out, sizeof(e->out), &e->attempts);
	if (s->nres[id]++ == 0)
		s->ndistinct++;
	s->nresults++;
	if (s->chain && s->next < s->njobs) {
		durable_hold(s->db, true);
		sink_send(s);
	}
}

/* The pool stops taking the batch's jobs: once, with the reason. */
static void
sk_closing(void *arg, const char *why)
{
	struct tsink	*s = arg;
	struct sev	*e;

	ck_assert(!s->lost);
	s->nclosing++;
	snprintf(s->why, sizeof(s->why), "%s", why);
	e = sink_ev(s, SK_CLOSING);
	snprintf(e->out, sizeof(e->out), "%s", why);
}

/* Room again: send more. */
static void
sk_room(void *arg)
{
	struct tsink	*s = arg;

	ck_assert(!s->lost);
	s->nroom++;
	sink_feed(s);
}

/*
 * Something changed: settled only once every result expected is in
 * (expect, when the test knows it).
 */
static void
sk_kick(void *arg)
{
	struct tsink	*s = arg;

	ck_assert(!s->lost);
	s->nkick++;
	if (durable_settled(s->db)) {
		s->settled_seen = true;
		if (s->expect != 0)
			ck_assert_msg(s->ndistinct == s->expect, "settled "
			    "with %zu results of %zu", s->ndistinct,
			    s->expect);
	}
}

/* Taken away: it lets go, as control.c's sink does. */
static void
sk_lost(void *arg, const char *why)
{
	struct tsink	*s = arg;
	struct sev	*e;

	ck_assert(!s->lost);
	s->nlost++;
	s->lost = true;
	snprintf(s->why, sizeof(s->why), "%s", why);
	e = sink_ev(s, SK_LOST);
	snprintf(e->out, sizeof(e->out), "%s", why);
	durable_unbind(s->db, s);
}

static const struct durable_sink sink_ops = {
	.accepted = sk_accepted,
	.result = sk_result,
	.closing = sk_closing,
	.room = sk_room,
	.kick = sk_kick,
	.lost = sk_lost,
};

/* Bind s to db; it will send njobs jobs, ids first, first + step, ... */
static void
sink_bind(struct tsink *s, struct dbatch *db, uint64_t first, uint64_t step,
    uint64_t njobs)
{
	s->db = db;
	s->first = first;
	s->step = step;
	s->njobs = njobs;
	s->next = 0;
	durable_bind(db, &sink_ops, s);
}

/* The last result s had for job id. */
static const struct sev *
sink_result_of(const struct tsink *s, uint64_t id)
{
	size_t	 i;

	for (i = s->nev; i > 0; i--)
		if (s->ev[i - 1].kind == SK_RES && s->ev[i - 1].id == id)
			return (&s->ev[i - 1]);
	ck_abort_msg("no result for job %llu", (unsigned long long)id);
	return (NULL);
}

/* Job id ended ok with the square of its value, the id. */
static void
check_square(const struct tsink *s, uint64_t id)
{
	const struct sev	*e = sink_result_of(s, id);
	char			 want[32];

	snprintf(want, sizeof(want), "%llu",
	    (unsigned long long)(id * id));
	ck_assert_msg(e->status == JOB_OK, "job %llu: status %d (%s)",
	    (unsigned long long)id, (int)e->status, e->out);
	ck_assert_str_eq(e->out, want);
}

/* Nothing more is due to the sink (durable_settled). */
static bool
sink_settled(void *arg)
{
	struct tsink	*s = arg;

	return (s->db != NULL && durable_settled(s->db));
}

/* Every job the sink expects has a result. */
static bool
sink_all_results(void *arg)
{
	struct tsink	*s = arg;

	return (s->ndistinct >= s->expect);
}

/* The sink was told it lost the batch. */
static bool
sink_has_lost(void *arg)
{
	return (((struct tsink *)arg)->nlost != 0);
}

/* The pool's stopped hook came. */
static bool
pool_has_stopped(void *arg)
{
	(void)arg;
	return (nstopped != 0);
}

/* A job is in flight. */
static bool
pool_busy(void *arg)
{
	(void)arg;
	return (pool_inflight(pool) != 0);
}

/* The ACCEPTED with ended came. */
static bool
sink_has_ended(void *arg)
{
	return (((struct tsink *)arg)->nended != 0);
}

/* Each test: a loop, SIGCHLD, a temp dir for its journal. */
static void
setup(void)
{
	log_init("test_durable", LOG_STYLE_CLI, LOG_WARNING);
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	ev_chld = evsignal_new(base, SIGCHLD, on_chld, NULL);
	evsignal_add(ev_chld, NULL);
	ev_deadline = evtimer_new(base, on_deadline, NULL);
	pool = NULL;
	d = NULL;
	tj = NULL;
	npfailed = nstopped = nfailed = 0;
	failed_why[0] = '\0';
	njr = 0;
	memset(&sa, 0, sizeof(sa));
	memset(&sb, 0, sizeof(sb));
	memset(&sc, 0, sizeof(sc));
	memset(&ra, 0, sizeof(ra));
	memset(&rb, 0, sizeof(rb));
	snprintf(dir, sizeof(dir), "%s/tXXXXXX", root);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/journal.db", dir);
}

/* As droverd: the batches first (they leave their pools), then pools. */
static void
teardown(void)
{
	durable_free(d);
	pool_free(pool);
	job_cache_trim();
	event_free(ev_deadline);
	event_free(ev_chld);
	event_base_free(base);
	rm_dir(dir);
}

/*
 * Case 1.  300 jobs (ids 5, 8, 11, ...: not their count) fed by room
 * and held, and the END: their ACCEPTED, ids increasing up to the last
 * id, then one with ended, after durable_end(); not settled while the
 * jobs wait.  Let go, each has exactly one result through 3 workers,
 * the square of its value; the batch settles only after the last result
 * (the sink checks at each kick), and is complete.  Catches: a result
 * lost or handed twice, ACCEPTED saying a count or an id not yet
 * committed, ended before the END's commit or twice, settled before the
 * last result.
 */
START_TEST(test_every_job_once)
{
	struct dbatch	*db;
	uint64_t	 i, id, last = 5 + 299 * 3;

	square_pool(3, 0, 0);
	dur_open();
	dur_start();
	db = new_batch();
	sink_bind(&sa, db, 5, 3, 300);
	sa.expect = 300;
	durable_hold(db, true);
	sink_feed(&sa);
	ck_assert_uint_eq(sa.next, 300);	/* room for all */
	ck_assert(!durable_settled(db));
	ck_assert_uint_eq(sa.nended, 0);
	durable_end(db);
	ck_assert(!durable_settled(db));
	/* Every record committed, no job run yet: not settled. */
	run_until(sink_has_ended, &sa);
	ck_assert_uint_eq(sa.acc, last);
	ck_assert_uint_eq(sa.nresults, 0);
	ck_assert(!durable_settled(db));
	durable_hold(db, false);
	run_until(sink_settled, &sa);
	ck_assert_uint_eq(sa.nresults, 300);
	for (i = 0; i < 300; i++) {
		id = 5 + i * 3;
		ck_assert_uint_eq(sa.nres[id], 1);
		check_square(&sa, id);
		ck_assert_uint_eq(jrec_of(db)->ndone[id], 1);
	}
	ck_assert(sa.have_acc);
	ck_assert_uint_eq(sa.acc, last);
	ck_assert_uint_eq(sa.nended, 1);
	/* The ended ACCEPTED is the last ACCEPTED. */
	for (i = sa.nev; i > 0; i--)
		if (sa.ev[i - 1].kind == SK_ACC)
			break;
	ck_assert(sa.ev[i - 1].ended);
	ck_assert_uint_eq(sa.ev[i - 1].id, last);
	ck_assert(sa.settled_seen);
	ck_assert(durable_complete(db));
	ck_assert_str_eq(durable_state_name(db), "complete");
	ck_assert_uint_eq(durable_jobs(db), 300);
	ck_assert_uint_eq(durable_done(db), 300);
	ck_assert_uint_eq(durable_next_id(db), last + 1);
	ck_assert_uint_eq(nfailed, 0);
	ck_assert_uint_eq(npfailed, 0);
}
END_TEST

/* The worker has finished a job. */
static bool
pool_one_ok(void *arg)
{
	(void)arg;
	return (pool_stats(pool)->jobs[JOB_OK] >= 1);
}

/*
 * Case 2.  Commits take 200 ms (journal_test_delay): a job that its
 * worker has finished has no result at the sink yet, nor ACCEPTED; both
 * come after the commit of their records (their numbers are committed
 * when the sink is called), 200 ms or more after the job was sent; the
 * ended ACCEPTED likewise after durable_end().  Catches: handing a
 * result or ACCEPTED on record rather than on commit.
 */
START_TEST(test_commit_first)
{
	struct dbatch	*db;
	uint64_t	 t0, t1;
	size_t		 i;

	square_pool(1, 0, 0);
	dur_open();
	dur_start();
	db = new_batch();
	sink_bind(&sa, db, 7, 1, 1);
	journal_test_delay(tj, 200000);
	t0 = clock_us();
	sink_feed(&sa);
	run_until(pool_one_ok, NULL);
	ck_assert_uint_eq(sa.nresults, 0);
	ck_assert(!sa.have_acc);
	sa.expect = 1;
	run_until(sink_all_results, &sa);
	ck_assert(sa.have_acc);
	for (i = 0; i < sa.nev; i++) {
		ck_assert_msg(sa.ev[i].t_us - t0 >= 150000, "event %zu "
		    "after %llu us", i,
		    (unsigned long long)(sa.ev[i].t_us - t0));
		ck_assert_uint_eq(sa.ev[i].id, 7);
	}
	check_square(&sa, 7);
	t1 = clock_us();
	durable_end(db);
	run_until(sink_has_ended, &sa);
	ck_assert_uint_ge(sa.ev[sa.nev - 1].t_us - t1, 150000);
	journal_test_delay(tj, 0);
	run_until(sink_settled, &sa);
	ck_assert_uint_eq(sa.nresults, 1);
}
END_TEST

/*
 * Case 3.  A resend: an id below the batch's next id (one it has, or a
 * gap it skipped) is refused and changes nothing; so is any JOB after
 * the END.  Each job has one result, and one result record.  Catches: a
 * resend recorded or run again (a second result, a second done record).
 */
START_TEST(test_resend_ignored)
{
	struct dbatch	*db;

	square_pool(1, 0, 0);
	dur_open();
	dur_start();
	db = new_batch();
	sink_bind(&sa, db, 0, 1, 0);
	ck_assert(durable_job(db, 10, "10", 2));
	ck_assert(durable_job(db, 20, "20", 2));
	ck_assert(!durable_job(db, 10, "99", 2));
	ck_assert(!durable_job(db, 15, "15", 2));
	ck_assert(!durable_job(db, 20, "20", 2));
	ck_assert_uint_eq(durable_next_id(db), 21);
	ck_assert_uint_eq(durable_jobs(db), 2);
	sa.expect = 2;
	run_until(sink_all_results, &sa);
	/* After its result too. */
	ck_assert(!durable_job(db, 10, "10", 2));
	durable_end(db);
	ck_assert(!durable_job(db, 21, "21", 2));
	run_until(sink_settled, &sa);
	ck_assert_uint_eq(sa.nresults, 2);
	ck_assert_uint_eq(sa.nres[10], 1);
	ck_assert_uint_eq(sa.nres[20], 1);
	check_square(&sa, 10);
	check_square(&sa, 20);
	ck_assert_uint_eq(jrec_of(db)->ndone[10], 1);
	ck_assert_uint_eq(jrec_of(db)->ndone[20], 1);
	ck_assert_uint_eq(jrec_of(db)->acc[15], 0);
	ck_assert_uint_eq(jrec_of(db)->acc[21], 0);
	ck_assert_uint_eq(durable_jobs(db), 2);
	ck_assert_uint_eq(durable_done(db), 2);
	ck_assert_uint_eq(pool_stats(pool)->jobs[JOB_OK], 2);
	ck_assert(durable_complete(db));
}
END_TEST

/* Jobs 0-39 have committed results. */
static bool
batch_done_40(void *arg)
{
	return (durable_done(arg) == 40);
}

/*
 * Case 4.  Sink A has jobs 0-19 and says it wrote them
 * (durable_written), then has 20-29 without saying so, and is unbound
 * with 30-39 sent and not yet ended; their results are recorded with no
 * sink.  Sink B, bound then, is handed exactly 20-39 (A had 20-29 but
 * never said it wrote them), in id order, each once, then its own jobs
 * 40-49 live; A hears nothing after its unbind.  B writes everything; C
 * takes the batch over (B is told so) and is handed nothing old.
 * Catches: a result lost across an unbind, the delivered mark moved on
 * hand-over rather than on durable_written(), or not moved by it, a
 * replay past what was delivered, calls to an unbound sink.
 */
START_TEST(test_rebind_replay)
{
	struct dbatch	*db;
	size_t		 nev_a, i, k;
	uint64_t	 id;

	square_pool(2, 0, 0);
	dur_open();
	dur_start();
	db = new_batch();
	sink_bind(&sa, db, 0, 1, 20);
	sa.expect = 20;
	sink_feed(&sa);
	run_until(sink_all_results, &sa);
	durable_written(db);
	sa.njobs = 30;
	sa.expect = 30;
	sink_feed(&sa);
	run_until(sink_all_results, &sa);
	sa.njobs = 40;
	sink_feed(&sa);
	durable_unbind(db, &sa);
	nev_a = sa.nev;
	run_until(batch_done_40, db);
	ck_assert_uint_eq(sa.nev, nev_a);

	sink_bind(&sb, db, 40, 1, 10);
	sb.expect = 20;
	run_until(sink_all_results, &sb);
	ck_assert_uint_eq(sb.nresults, 20);
	for (i = 0, k = 0; i < sb.nev; i++) {
		if (sb.ev[i].kind != SK_RES)
			continue;
		ck_assert_uint_eq(sb.ev[i].id, 20 + k);
		k++;
	}
	sb.expect = 30;
	sink_feed(&sb);
	durable_end(db);
	run_until(sink_settled, &sb);
	ck_assert_uint_eq(sb.nresults, 30);
	for (id = 0; id < 50; id++) {
		ck_assert_uint_eq(sb.nres[id], id < 20 ? 0 : 1);
		if (id >= 20)
			check_square(&sb, id);
		ck_assert_uint_eq(sa.nres[id], id < 30 ? 1 : 0);
	}
	ck_assert_uint_eq(sb.nended, 1);
	ck_assert_uint_eq(sb.acc, 49);
	ck_assert_uint_eq(sa.nev, nev_a);
	ck_assert_uint_eq(sa.nlost, 0);
	ck_assert(durable_complete(db));

	durable_written(db);
	sink_bind(&sc, db, 0, 1, 0);
	ck_assert_uint_eq(sb.nlost, 1);
	ck_assert_str_eq(sb.why, "another connection took the batch");
	run_until(sink_settled, &sc);
	ck_assert_uint_eq(sc.nresults, 0);
	ck_assert_uint_eq(sb.nresults, 30);
}
END_TEST

/*
 * droverd dies while job 1 runs (of jobs 0-3, on one worker with a
 * window of 1 that hangs on job 1): job 0 has its result, the pool is
 * killed (nothing it cancels is recorded) and the journal closed, which
 * commits job 1's start.  Reopened with a pool of max_attempts: the
 * batch comes back open with its 4 jobs and job 0's result, and is
 * resumed by its id; returned: the sink's batch.  With crash, the stop
 * of job 1 is not recorded (droverd died before it could say so), as
 * after a kill -9; without, it is droverd's own stop, recorded.
 */
static struct dbatch *
stop_while_running(unsigned max_attempts, bool crash)
{
	struct poolconf	 pc;
	struct dbatch	*db;
	char		 id[JOURNAL_ID_LEN + 1];

	tw_conf(&pc, "hang-on", "1");
	pc.workers = 1;
	pc.window = 1;
	start_pool(&pc);
	dur_open();
	dur_start();
	db = new_batch();
	snprintf(id, sizeof(id), "%s", durable_id(db));
	sink_bind(&sa, db, 0, 1, 4);
	sink_feed(&sa);
	sa.expect = 1;
	run_until(sink_all_results, &sa);	/* job 0 */
	run_until(pool_busy, NULL);		/* job 1 */
	ck_assert_uint_eq(sa.acc, 3);
	crash_drops_stops = crash;
	pool_stop(pool, POOL_STOP_KILL, "droverd dies");
	ck_assert_uint_eq(sa.nclosing, 1);
	run_until(pool_has_stopped, NULL);
	run_until(sink_settled, &sa);
	ck_assert_uint_eq(sa.nresults, 1);
	ck_assert_uint_eq(jrec_of(db)->ndone[1], 0);
	durable_free(d);
	d = NULL;

	square_pool(1, 0, max_attempts);
	dur_open();
	ck_assert_ptr_nonnull(db = durable_find(d, id));
	ck_assert_str_eq(durable_state_name(db), "open");
	ck_assert_uint_eq(durable_jobs(db), 4);
	ck_assert_uint_eq(durable_done(db), 1);
	ck_assert_uint_eq(durable_next_id(db), 4);
	dur_start();
	db = resume_batch(id);
	memset(&sb, 0, sizeof(sb));
	sink_bind(&sb, db, 0, 1, 0);
	sb.expect = 4;
	durable_end(db);
	run_until(sink_settled, &sb);
	ck_assert_uint_eq(sb.nresults, 4);
	check_square(&sb, 0);
	check_square(&sb, 2);
	check_square(&sb, 3);
	ck_assert(durable_complete(db));
	crash_drops_stops = false;
	return (db);
}

static struct dbatch *
crash_while_running(unsigned max_attempts)
{
	return (stop_while_running(max_attempts, true));
}

/*
 * Case 5.  Recovery, max_attempts 1: job 1, which was running when
 * droverd died, has had its attempt; it ends crashed without running,
 * saying so; 2 and 3 run.  Catches: a start not recorded (the job runs
 * again), a charge not applied, a recovered job lost or run twice.
 */
START_TEST(test_recover_charged)
{
	const struct sev	*e;

	crash_while_running(1);
	e = sink_result_of(&sb, 1);
	ck_assert_int_eq(e->status, JOB_CRASHED);
	ck_assert_str_eq(e->out, "droverd stopped while it ran (attempt 1 "
	    "of 1)");
	ck_assert_uint_eq(pool_stats(pool)->jobs[JOB_OK], 2);
	ck_assert_uint_eq(pool_stats(pool)->jobs[JOB_CRASHED], 1);
}
END_TEST

/*
 * Case 5, droverd's own stop (SIGQUIT, a drain's deadline) instead of a
 * crash: the job it killed is not charged, so with max_attempts 1 it runs
 * again after the restart and succeeds.  Catches: every stopped job
 * charged as if droverd had crashed under it.
 */
START_TEST(test_recover_own_stop_not_charged)
{
	stop_while_running(1, false);
	check_square(&sb, 1);
	ck_assert_uint_eq(pool_stats(pool)->jobs[JOB_OK], 3);
	ck_assert_uint_eq(pool_stats(pool)->jobs[JOB_CRASHED], 0);
}
END_TEST

/*
 * Case 5 again, max_attempts 2: job 1 runs once more, as its second
 * attempt, and succeeds.  Catches: a charged job failed before its
 * attempts are spent, its attempt count lost.
 */
START_TEST(test_recover_runs_again)
{
	const struct sev	*e;

	crash_while_running(2);
	check_square(&sb, 1);
	e = sink_result_of(&sb, 1);
	ck_assert_uint_eq(e->attempts, 2);
	ck_assert_uint_eq(pool_stats(pool)->jobs[JOB_OK], 3);
}
END_TEST

/*
 * Case 6.  The pool drains with jobs in flight and many queued: the sink
 * hears closing once, with the reason; the queued jobs are not recorded
 * (cancelled is not a result of a durable job); the batch settles once
 * the ones in flight have ended, and cannot be resumed on that pool.
 * After a restart they are still unfinished and run: every job has one
 * result, ok.  Catches: a drain recorded as cancelled results (lost
 * for good), closing not passed on, settled too early or never.
 */
START_TEST(test_drain_keeps_queued)
{
	struct dbatch	*db;
	char		 id[JOURNAL_ID_LEN + 1], err[600];
	uint64_t	 i, nrec = 0;

	square_pool(1, 4, 0);
	dur_open();
	dur_start();
	db = new_batch();
	snprintf(id, sizeof(id), "%s", durable_id(db));
	sink_bind(&sa, db, 0, 1, 200);
	sink_feed(&sa);
	run_until(pool_busy, NULL);
	pool_stop(pool, POOL_STOP_DRAIN, "draining for the test");
	ck_assert_uint_eq(sa.nclosing, 1);
	ck_assert_str_eq(sa.why, "draining for the test");
	ck_assert(!durable_settled(db));
	run_until(sink_settled, &sa);
	ck_assert_uint_eq(pool_inflight(pool), 0);
	ck_assert_uint_gt(pool_stats(pool)->jobs[JOB_CANCELLED], 0);
	for (i = 0; i < 200; i++) {
		ck_assert_uint_eq(sa.nres[i], jrec_of(db)->ndone[i]);
		ck_assert_uint_le(sa.nres[i], 1);
		if (sa.nres[i] != 0) {
			check_square(&sa, i);
			nrec++;
		}
	}
	ck_assert_uint_lt(nrec, 200);
	ck_assert(durable_batch(d, pool, id, "test", "t", err,
	    sizeof(err)) == NULL);
	ck_assert_msg(strstr(err, "waits for droverd to restart") != NULL,
	    "%s", err);
	run_until(pool_has_stopped, NULL);
	durable_free(d);
	d = NULL;

	square_pool(2, 0, 0);
	dur_open();
	dur_start();
	db = resume_batch(id);
	memset(&sb, 0, sizeof(sb));
	sink_bind(&sb, db, 0, 1, 0);
	sb.expect = 200;
	durable_end(db);
	run_until(sink_settled, &sb);
	ck_assert_uint_eq(sb.nresults, 200);
	for (i = 0; i < 200; i++)
		check_square(&sb, i);
	ck_assert_uint_eq(pool_stats(pool)->jobs[JOB_OK], 200 - nrec);
	ck_assert(durable_complete(db));
}
END_TEST

/* A status count of what a sink had. */
static size_t
sink_count(const struct tsink *s, enum job_status st, const char *out)
{
	size_t	 i, n = 0;

	for (i = 0; i < s->nev; i++)
		if (s->ev[i].kind == SK_RES && s->ev[i].status == st &&
		    (out == NULL || strcmp(s->ev[i].out, out) == 0))
			n++;
	return (n);
}

/*
 * Case 7.  The client's CANCEL with jobs queued: they end cancelled with
 * its reason, recorded; the ones in flight end ok; the batch ends and
 * completes.  Reopened, it is complete with every job done: nothing is
 * queued again.  Catches: a cancel treated as a drain (nothing recorded,
 * the jobs would run again after a restart), the END not recorded.
 */
START_TEST(test_cancel_records)
{
	struct dbatch	*db;
	char		 id[JOURNAL_ID_LEN + 1];
	uint64_t	 i;
	size_t		 ncan;

	square_pool(1, 4, 0);
	dur_open();
	dur_start();
	db = new_batch();
	snprintf(id, sizeof(id), "%s", durable_id(db));
	sink_bind(&sa, db, 0, 1, 200);
	sa.expect = 200;
	sink_feed(&sa);
	run_until(pool_busy, NULL);
	durable_cancel(db, "cancelled by the test");
	run_until(sink_settled, &sa);
	ck_assert_uint_eq(sa.nresults, 200);
	ncan = sink_count(&sa, JOB_CANCELLED, "cancelled by the test");
	ck_assert_uint_gt(ncan, 0);
	ck_assert_uint_eq(sink_count(&sa, JOB_OK, NULL) + ncan, 200);
	for (i = 0; i < 200; i++) {
		ck_assert_uint_eq(sa.nres[i], 1);
		ck_assert_uint_eq(jrec_of(db)->ndone[i], 1);
	}
	ck_assert_uint_eq(sa.nended, 1);
	ck_assert(durable_complete(db));

	dur_reopen();
	ck_assert_ptr_nonnull(db = durable_find(d, id));
	ck_assert_str_eq(durable_state_name(db), "complete");
	ck_assert_uint_eq(durable_jobs(db), 200);
	ck_assert_uint_eq(durable_done(db), 200);
	dur_start();
	ck_assert_uint_eq(pool_queued(pool), 0);
	ck_assert_uint_eq(pool_inflight(pool), 0);
}
END_TEST

/*
 * Case 7 after a restart: 1500 jobs are sent to a worker that hangs on
 * the first, and droverd dies.  They come back unfinished, more than
 * the pool has room for (1024), so some wait in the batch; a CANCEL in
 * the same turn ends every one, queued on the pool or still in the
 * batch, cancelled and recorded.  Catches: recovered jobs not yet
 * submitted left out of a cancel (they would run, or the batch never
 * complete) or cancelled without a record.
 */
START_TEST(test_cancel_recovered)
{
	struct poolconf	 pc;
	struct dbatch	*db;
	char		 id[JOURNAL_ID_LEN + 1], buf[16];
	uint64_t	 i;
	int		 len;

	tw_conf(&pc, "hang-on", "1");
	pc.workers = 1;
	pc.window = 1;
	start_pool(&pc);
	dur_open();
	dur_start();
	db = new_batch();
	snprintf(id, sizeof(id), "%s", durable_id(db));
	sink_bind(&sa, db, 0, 1, 0);
	for (i = 0; i < 1500; i++) {
		len = snprintf(buf, sizeof(buf), "%llu",
		    (unsigned long long)i + 1);
		ck_assert(durable_job(db, i, buf, (size_t)len));
	}
	run_until(pool_busy, NULL);
	pool_stop(pool, POOL_STOP_KILL, "droverd dies");
	run_until(pool_has_stopped, NULL);
	run_until(sink_settled, &sa);
	ck_assert_uint_eq(sa.acc, 1499);
	ck_assert_uint_eq(sa.nresults, 0);
	durable_free(d);
	d = NULL;

	square_pool(1, 1, 0);
	dur_open();
	dur_start();
	ck_assert_uint_lt(pool_queued(pool) + pool_inflight(pool), 1500);
	db = resume_batch(id);
	memset(&sb, 0, sizeof(sb));
	sink_bind(&sb, db, 0, 1, 0);
	sb.expect = 1500;
	durable_cancel(db, "cancelled by the test");
	run_until(sink_settled, &sb);
	ck_assert_uint_eq(sb.nresults, 1500);
	/* At most the one in flight at the CANCEL ran. */
	ck_assert_uint_le(sink_count(&sb, JOB_OK, NULL), 1);
	ck_assert_uint_eq(sink_count(&sb, JOB_OK, NULL), pool_stats(pool)->
	    jobs[JOB_OK]);
	ck_assert_uint_eq(sink_count(&sb, JOB_CANCELLED,
	    "cancelled by the test") + pool_stats(pool)->jobs[JOB_OK], 1500);
	for (i = 0; i < 1500; i++)
		ck_assert_uint_eq(sb.nres[i], 1);
	ck_assert(durable_complete(db));
	dur_reopen();
	ck_assert_ptr_nonnull(db = durable_find(d, id));
	ck_assert_str_eq(durable_state_name(db), "complete");
	ck_assert_uint_eq(durable_done(db), 1500);
}
END_TEST

/* A reader's ops: in id order; with wait, only once complete. */
static void
rd_result(void *arg, uint64_t id, enum job_status st, const char *rec,
    size_t len)
{
	struct treader	*r = arg;
	unsigned	 att;

	ck_assert_uint_eq(r->nend, 0);
	ck_assert_uint_lt(r->n, MAXJ);
	if (r->wait)
		ck_assert_msg(durable_complete(r->db), "result %llu before "
		    "the batch completed", (unsigned long long)id);
	if (r->n > 0)
		ck_assert_msg(id > r->ids[r->n - 1], "id %llu after %llu",
		    (unsigned long long)id,
		    (unsigned long long)r->ids[r->n - 1]);
	r->ids[r->n] = id;
	r->status[r->n] = st;
	rec_parse(rec, len, r->out[r->n], sizeof(r->out[0]), &att);
	r->n++;
}

/* The next page at once, as a reader whose output drained does. */
static void
rd_page_end(void *arg)
{
	struct treader	*r = arg;

	ck_assert_uint_eq(r->nend, 0);
	r->npages++;
	durable_read_more(r->rd);
}

/* The reader is done (why: NULL, or its failure); once. */
static void
rd_end(void *arg, const char *why)
{
	struct treader	*r = arg;

	ck_assert_uint_eq(r->nend, 0);
	r->nend++;
	if (why != NULL) {
		r->failed_end = true;
		snprintf(r->why, sizeof(r->why), "%s", why);
	}
}

static const struct dreader_ops rd_ops = {
	.result = rd_result,
	.page_end = rd_page_end,
	.end = rd_end,
};

/* The reader's end() came. */
static bool
reader_ended(void *arg)
{
	return (((struct treader *)arg)->nend != 0);
}


/* A hundred results are in: the batch is well under way. */
static bool
sink_some_results(void *arg)
{
	return (((struct tsink *)arg)->ndistinct >= 100);
}

/* A reader's results are jobs' squares, each once, in id order. */
static void
check_reader(const struct treader *r)
{
	char	 want[32];
	size_t	 i;

	ck_assert(!r->failed_end);
	for (i = 0; i < r->n; i++) {
		snprintf(want, sizeof(want), "%llu",
		    (unsigned long long)(r->ids[i] * r->ids[i]));
		ck_assert_int_eq(r->status[i], JOB_OK);
		ck_assert_str_eq(r->out[i], want);
	}
}

/*
 * Case 8.  drover results: 2500 results read back in id order, in pages
 * of 1000 (page_end twice, the next page asked from it), each once with
 * its output, then end(NULL) once.  A reader with wait, started while
 * the batch runs, gets nothing until it is complete, then everything;
 * one without wait, started then too, gets what was committed, in id
 * order.  Catches: a page skipped or repeated at its boundary, results
 * out of order, end() missing or twice, a wait that does not wait.
 */
START_TEST(test_read_pages)
{
	struct dbatch	*db;
	size_t		 i;

	square_pool(3, 0, 0);
	dur_open();
	dur_start();
	db = new_batch();
	sink_bind(&sa, db, 0, 1, 2500);
	sa.expect = 2500;
	sink_feed(&sa);
	ra.db = db;
	ra.wait = true;
	ck_assert_ptr_nonnull(ra.rd = durable_read(d, db, true, &rd_ops,
	    &ra));
	run_until(sink_some_results, &sa);
	rb.db = db;
	ck_assert_ptr_nonnull(rb.rd = durable_read(d, db, false, &rd_ops,
	    &rb));
	run_until(reader_ended, &rb);
	check_reader(&rb);
	ck_assert_uint_gt(rb.n, 0);
	ck_assert_uint_le(rb.n, 2500);
	run_until(sink_all_results, &sa);
	ck_assert_uint_eq(ra.n, 0);		/* not ended: not complete */
	durable_end(db);
	run_until(reader_ended, &ra);
	ck_assert(durable_complete(db));
	check_reader(&ra);
	ck_assert_uint_eq(ra.n, 2500);
	for (i = 0; i < 2500; i++)
		ck_assert_uint_eq(ra.ids[i], i);
	ck_assert_uint_eq(ra.npages, 2);
	ck_assert_uint_eq(ra.nend, 1);
	ck_assert_uint_gt(sa.nroom, 0);		/* 2500 > the pool's room */

	/* Complete already: a reader with wait starts at once. */
	memset(&rb, 0, sizeof(rb));
	rb.db = db;
	rb.wait = true;
	ck_assert_ptr_nonnull(rb.rd = durable_read(d, db, true, &rd_ops,
	    &rb));
	run_until(reader_ended, &rb);
	check_reader(&rb);
	ck_assert_uint_eq(rb.n, 2500);
	ck_assert_uint_eq(rb.npages, 2);
}
END_TEST

/*
 * Case 9.  The journal fails: the file may not grow (RLIMIT_FSIZE, with
 * SIGXFSZ ignored, so SQLite's writes fail with EFBIG).  The sink is
 * told once, "journal failed: ..." naming the file, the hooks' failed
 * once with the same reason; nothing is handed after it (the sink
 * checks), nothing uncommitted was acknowledged, and new batches and
 * jobs are refused.  Catches: a failure not passed on, passed twice, or
 * a batch made on a failed journal.
 */
START_TEST(test_journal_fails)
{
	struct dbatch	*db;
	struct rlimit	 old, rl;
	static char	 big[32768];
	char		 err[600];
	uint64_t	 i, sent = 0;

	square_pool(1, 0, 0);
	dur_open();
	dur_start();
	db = new_batch();
	sink_bind(&sa, db, 0, 1, 0);
	durable_hold(db, true);		/* the workers need not see them */
	memset(big, '7', sizeof(big));
	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	rl = old;
	rl.rlim_cur = 1 << 20;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	for (i = 0; i < 100; i++)
		if (durable_job(db, i, big, sizeof(big)))
			sent++;
	run_until(sink_has_lost, &sa);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	ck_assert_uint_eq(sa.nlost, 1);
	ck_assert_msg(strncmp(sa.why, "journal failed: ", 16) == 0, "%s",
	    sa.why);
	ck_assert_msg(strstr(sa.why, path) != NULL, "%s", sa.why);
	ck_assert_uint_eq(nfailed, 1);
	ck_assert_str_eq(failed_why, sa.why);
	ck_assert_ptr_nonnull(durable_failure(d));
	ck_assert_str_eq(durable_failure(d), sa.why);
	ck_assert(!sa.have_acc || sa.acc + 1 < sent);
	ck_assert(durable_batch(d, pool, NULL, "test", "t", err,
	    sizeof(err)) == NULL);
	ck_assert_str_eq(err, sa.why);
	ck_assert(!durable_job(db, 200, "1", 1));
	ck_assert_uint_eq(durable_room(db), 0);
	ck_assert_uint_eq(nfailed, 1);
}
END_TEST

/*
 * A sink that sends its next job from result(), as control.c does when
 * writing a result drains the client's output and it reads the next
 * JOB: 30 jobs, one at a time, each with its own result and output.
 * Each job is held until its ACCEPTED, so that its result is recorded
 * after its accept was committed: the result is then alone in the
 * batch's queue of records waiting for a commit when it is handed over,
 * and the JOB sent from result() goes into that queue.  Catches: that
 * entry used after the call (overwritten or moved by the new one): a
 * result handed with another's bytes, a record's bytes never consumed,
 * a use after free.
 */
START_TEST(test_send_from_result)
{
	struct dbatch	*db;
	uint64_t	 i;

	square_pool(1, 0, 0);
	dur_open();
	dur_start();
	db = new_batch();
	sink_bind(&sa, db, 1, 1, 30);
	sa.chain = true;
	sa.expect = 30;
	durable_hold(db, true);
	sink_send(&sa);
	run_until(sink_all_results, &sa);
	durable_end(db);
	run_until(sink_settled, &sa);
	ck_assert_uint_eq(sa.nresults, 30);
	for (i = 1; i <= 30; i++) {
		ck_assert_uint_eq(sa.nres[i], 1);
		check_square(&sa, i);
	}
	ck_assert(durable_complete(db));
}
END_TEST

/* One case; each test forked, with a checked fixture. */
static Suite *
durable_suite(void)
{
	Suite	*s = suite_create("durable");
	TCase	*tc = tcase_create("core");

	tcase_add_unchecked_fixture(tc, root_setup, root_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 6 * DEADLINE_S);
	tcase_add_test(tc, test_every_job_once);
	tcase_add_test(tc, test_commit_first);
	tcase_add_test(tc, test_resend_ignored);
	tcase_add_test(tc, test_rebind_replay);
	tcase_add_test(tc, test_recover_charged);
	tcase_add_test(tc, test_recover_own_stop_not_charged);
	tcase_add_test(tc, test_recover_runs_again);
	tcase_add_test(tc, test_drain_keeps_queued);
	tcase_add_test(tc, test_cancel_records);
	tcase_add_test(tc, test_cancel_recovered);
	tcase_add_test(tc, test_read_pages);
	tcase_add_test(tc, test_journal_fails);
	tcase_add_test(tc, test_send_from_result);
	suite_add_tcase(s, tc);
	return (s);
}

CHECK_MAIN(durable_suite)

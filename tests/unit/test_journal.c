/*
 * Unit tests for the journal (daemon/journal.c): what is committed comes
 * back at recovery and nothing else, group commit groups, the loop never
 * waits for the writer, a job's first result wins, a job running at a
 * crash is charged one attempt, a SIGKILL loses nothing reported
 * committed, errors stop the commits and say so, and retention deletes
 * only what is finished.  Each test has a temp directory of its own and
 * removes it; waits run the event loop until a condition or a deadline.
 */
#include <check.h>

#include "check_main.h"
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "clock.h"
#include "journal.h"

#define WAIT_MS	30000	/* a deadline, never a sleep */

/* The suite's temp dir, made and removed by the parent, one per test in it. */
static char	 root[64];

struct rjob {
	uint64_t	 batch;
	uint64_t	 id;
	unsigned	 attempts;
	unsigned	 runs;
	bool		 charged;
	char		 data[64];
	size_t		 datalen;
};

struct rres {
	uint64_t	 batch;
	uint64_t	 id;
	uint64_t	 rseq;
	int		 status;
	char		 out[64];
	size_t		 outlen;
	bool		 has_err;
	char		 err[64];
};

/* What a recovery reported. */
struct rec {
	struct journal_batchrec	 b[16];
	char			 bid[16][64];
	size_t			 nb;
	struct rjob		*j;
	size_t			 nj;
	struct rres		*r;
	size_t			 nr;
	size_t			 cap;
};

struct ctx {
	char		 dir[96];
	char		 path[128];
	struct event_base *base;
	struct journal	*j;
	uint64_t	 committed;	/* last seq told */
	uint64_t	 ncommitted;	/* calls */
	bool		 backwards;	/* a committed seq went down */
	int		 nfailed;
	char		 why[600];
	uint64_t	 want;		/* for the predicates */
	bool		 (*pred)(struct ctx *);
	uint64_t	 deadline;
};

/* rm -r of a temp dir (two levels: the suite's, a test's). */
static void
rm_dir(const char *dir)
{
	DIR		*d;
	struct dirent	*e;
	char		 p[512];

	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (unlink(p) == -1 && errno == EISDIR)
			rm_dir(p);
	}
	closedir(d);
	rmdir(dir);
}

static void
root_setup(void)
{
	strlcpy(root, "/tmp/drover-journal-XXXXXX", sizeof(root));
	if (mkdtemp(root) == NULL)
		abort();
}

/* In the parent after every test: what a failed test left goes too. */
static void
root_teardown(void)
{
	rm_dir(root);
}

static void
ctx_init(struct ctx *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->dir, sizeof(c->dir), "%s/tXXXXXX", root);
	ck_assert_ptr_nonnull(mkdtemp(c->dir));
	snprintf(c->path, sizeof(c->path), "%s/journal.db", c->dir);
	c->base = event_base_new();
	ck_assert_ptr_nonnull(c->base);
}

static void
ctx_free(struct ctx *c)
{
	journal_close(c->j);
	c->j = NULL;
	event_base_free(c->base);
	rm_dir(c->dir);
}

static void
on_committed(void *arg, uint64_t seq)
{
	struct ctx	*c = arg;

	if (seq <= c->committed)
		c->backwards = true;
	c->committed = seq;
	c->ncommitted++;
}

static void
on_failed(void *arg, const char *why)
{
	struct ctx	*c = arg;

	c->nfailed++;
	strlcpy(c->why, why, sizeof(c->why));
}

static const struct journal_hooks hooks = { on_committed, on_failed };

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	struct ctx	*c = arg;

	(void)fd;
	(void)what;
	if (c->pred(c) || clock_us() >= c->deadline)
		event_base_loopbreak(c->base);
}

/* Run the loop until pred holds or the deadline passes. */
static bool
run_until(struct ctx *c, bool (*pred)(struct ctx *), unsigned ms)
{
	struct timeval	 tv = { 0, 1000 };
	struct event	*ev;

	c->pred = pred;
	c->deadline = clock_us() + (uint64_t)ms * 1000;
	if (pred(c))
		return (true);
	ev = event_new(c->base, -1, EV_PERSIST, tick, c);
	event_add(ev, &tv);
	event_base_dispatch(c->base);
	event_free(ev);
	return (pred(c));
}

static bool
committed_want(struct ctx *c)
{
	return (c->committed >= c->want);
}

static bool
failed_once(struct ctx *c)
{
	return (c->nfailed > 0);
}

static struct journal *
open_conf(struct ctx *c, const struct journal_conf *conf)
{
	struct journal_conf	 k = *conf;
	char			 err[600];
	struct journal		*j;

	k.path = c->path;
	j = journal_open(&k, err, sizeof(err));
	ck_assert_msg(j != NULL, "open: %s", err);
	return (j);
}

static int
rec_batch(void *arg, const struct journal_batchrec *b)
{
	struct rec	*r = arg;

	ck_assert_uint_lt(r->nb, 16);
	r->b[r->nb] = *b;
	strlcpy(r->bid[r->nb], b->id, sizeof(r->bid[0]));
	r->b[r->nb].id = r->bid[r->nb];
	r->b[r->nb].pool = NULL;
	r->b[r->nb].client = NULL;
	r->nb++;
	return (0);
}

static int
rec_job(void *arg, const struct journal_jobrec *jr)
{
	struct rec	*r = arg;
	struct rjob	*o;

	ck_assert_uint_lt(r->nj, r->cap);
	o = &r->j[r->nj++];
	o->batch = jr->batch;
	o->id = jr->id;
	o->attempts = jr->attempts;
	o->runs = jr->runs;
	o->charged = jr->charged;
	/* The first bytes are enough to check. */
	memcpy(o->data, jr->data, jr->datalen < sizeof(o->data) ?
	    jr->datalen : sizeof(o->data));
	o->datalen = jr->datalen;
	return (0);
}

static int
rec_result(void *arg, const struct journal_result *res)
{
	struct rec	*r = arg;
	struct rres	*o;

	ck_assert_uint_lt(r->nr, r->cap);
	o = &r->r[r->nr++];
	o->batch = res->batch;
	o->id = res->id;
	o->rseq = res->rseq;
	o->status = (int)res->status;
	ck_assert_uint_lt(res->outlen, sizeof(o->out));
	memcpy(o->out, res->out, res->outlen);
	o->outlen = res->outlen;
	o->has_err = res->err != NULL;
	if (o->has_err) {
		ck_assert_uint_lt(res->errlen, sizeof(o->err));
		memcpy(o->err, res->err, res->errlen);
	}
	return (0);
}

static const struct journal_recover_ops rops = {
	rec_batch, rec_job, rec_result,
};

static void
rec_init(struct rec *r, size_t cap)
{
	memset(r, 0, sizeof(*r));
	r->cap = cap;
	r->j = calloc(cap, sizeof(*r->j));
	r->r = calloc(cap, sizeof(*r->r));
	ck_assert(r->j != NULL && r->r != NULL);
}

static void
rec_free(struct rec *r)
{
	free(r->j);
	free(r->r);
}

/* Open, recover into r, and start on c's loop. */
static void
open_recover(struct ctx *c, const struct journal_conf *conf, struct rec *r)
{
	char	 err[600];

	c->j = open_conf(c, conf);
	ck_assert_msg(journal_recover(c->j, &rops, r, err, sizeof(err)) == 0,
	    "recover: %s", err);
	ck_assert_msg(journal_start(c->j, c->base, &hooks, c, err,
	    sizeof(err)) == 0, "start: %s", err);
}

/* Close and open again with recovery only (no writer). */
static void
reopen(struct ctx *c, const struct journal_conf *conf, struct rec *r)
{
	char	 err[600];

	journal_close(c->j);
	c->j = open_conf(c, conf);
	ck_assert_msg(journal_recover(c->j, &rops, r, err, sizeof(err)) == 0,
	    "recover: %s", err);
}

static uint64_t
accept_str(struct journal *j, uint64_t b, uint64_t id, const char *fmt)
{
	char	 data[64];
	int	 n;

	n = snprintf(data, sizeof(data), fmt, (unsigned long long)id);
	return (journal_accept(j, b, id, data, (size_t)n));
}

static uint64_t
done_str(struct journal *j, uint64_t b, uint64_t id, uint64_t rseq,
    enum job_status st, const char *out)
{
	struct journal_result	 res = { .batch = b, .id = id, .rseq = rseq,
	    .status = st, .out = out, .outlen = strlen(out) };

	return (journal_done(j, &res));
}

static const struct journal_conf defconf = { .path = NULL };

/*
 * 10,000 jobs, half done, closed (the queue drained by close) and
 * recovered: exactly the other half comes back, once each, in order, and
 * the done half as undelivered results with their outputs.
 */
START_TEST(test_roundtrip)
{
	struct ctx	 c;
	struct rec	 r;
	uint64_t	 key, i, rseq = 0;
	char		 out[64], id[JOURNAL_ID_LEN + 1];

	ctx_init(&c);
	rec_init(&r, 20000);
	open_recover(&c, &defconf, &r);
	ck_assert_uint_eq(r.nb + r.nj + r.nr, 0);
	journal_new_id(id);
	ck_assert_uint_eq(strlen(id), JOURNAL_ID_LEN);
	ck_assert_uint_eq(journal_batch(c.j, id, "square", "uid 1000", 1234,
	    &key), 1);
	for (i = 0; i < 10000; i++)
		ck_assert_uint_eq(accept_str(c.j, key, i, "job %llu"), i + 2);
	for (i = 0; i < 10000; i += 2) {
		snprintf(out, sizeof(out), "out %llu", (unsigned long long)i);
		ck_assert_uint_ne(done_str(c.j, key, i, rseq++, JOB_OK, out),
		    0);
	}
	rec_free(&r);
	rec_init(&r, 20000);
	reopen(&c, &defconf, &r);

	ck_assert_uint_eq(r.nb, 1);
	ck_assert_str_eq(r.b[0].id, id);
	ck_assert_uint_eq(r.b[0].key, key);
	ck_assert_int_eq(r.b[0].created, 1234);
	ck_assert_int_eq(r.b[0].state, JOURNAL_BATCH_OPEN);
	ck_assert_uint_eq(r.b[0].jobs, 10000);
	ck_assert_uint_eq(r.b[0].done, 5000);
	ck_assert_uint_eq(r.b[0].next_id, 10000);
	ck_assert_uint_eq(r.b[0].next_rseq, 5000);
	ck_assert_uint_eq(r.nj, 5000);
	for (i = 0; i < r.nj; i++) {
		snprintf(out, sizeof(out), "job %llu",
		    (unsigned long long)(2 * i + 1));
		ck_assert_uint_eq(r.j[i].id, 2 * i + 1);
		ck_assert_uint_eq(r.j[i].batch, key);
		ck_assert_uint_eq(r.j[i].datalen, strlen(out));
		ck_assert(memcmp(r.j[i].data, out, r.j[i].datalen) == 0);
		ck_assert_uint_eq(r.j[i].attempts, 0);
		ck_assert(!r.j[i].charged);
	}
	ck_assert_uint_eq(r.nr, 5000);
	for (i = 0; i < r.nr; i++) {
		snprintf(out, sizeof(out), "out %llu",
		    (unsigned long long)(2 * i));
		ck_assert_uint_eq(r.r[i].id, 2 * i);
		ck_assert_uint_eq(r.r[i].rseq, i);
		ck_assert_int_eq(r.r[i].status, JOB_OK);
		ck_assert_uint_eq(r.r[i].outlen, strlen(out));
		ck_assert(memcmp(r.r[i].out, out, r.r[i].outlen) == 0);
		ck_assert(!r.r[i].has_err);
	}
	rec_free(&r);
	ctx_free(&c);
}
END_TEST

/*
 * Delivered results are not reported again; a batch's state and its
 * completion time survive; stderr is kept apart from the output.
 */
START_TEST(test_delivered_state)
{
	struct ctx		 c;
	struct rec		 r;
	struct journal_result	 res = { .status = JOB_FAILED, .out = "bad",
	    .outlen = 3, .err = "trace", .errlen = 5 };
	uint64_t		 k1, k2, i;

	ctx_init(&c);
	rec_init(&r, 100);
	open_recover(&c, &defconf, &r);
	journal_batch(c.j, "b1", "p", NULL, 10, &k1);
	journal_batch(c.j, "b2", "p", "c", 20, &k2);
	ck_assert_uint_ne(k1, k2);
	for (i = 0; i < 10; i++) {
		accept_str(c.j, k1, i, "%llu");
		done_str(c.j, k1, i, i, JOB_OK, "ok");
	}
	journal_delivered(c.j, k1, 7);
	journal_delivered(c.j, k1, 4);	/* never goes back */
	journal_batch_state(c.j, k1, JOURNAL_BATCH_ENDED, 0);
	accept_str(c.j, k2, 0, "%llu");
	res.batch = k2;
	journal_done(c.j, &res);
	journal_batch_state(c.j, k2, JOURNAL_BATCH_COMPLETE, 99);
	rec_free(&r);
	rec_init(&r, 100);
	reopen(&c, &defconf, &r);
	ck_assert_uint_eq(r.nb, 2);
	ck_assert_int_eq(r.b[0].state, JOURNAL_BATCH_ENDED);
	ck_assert_uint_eq(r.b[0].delivered, 7);
	ck_assert_int_eq(r.b[1].state, JOURNAL_BATCH_COMPLETE);
	ck_assert_int_eq(r.b[1].completed, 99);
	ck_assert_uint_eq(r.nj, 0);
	ck_assert_uint_eq(r.nr, 4);
	ck_assert_uint_eq(r.r[0].rseq, 7);
	ck_assert_uint_eq(r.r[2].rseq, 9);
	ck_assert_uint_eq(r.r[3].batch, k2);
	ck_assert_int_eq(r.r[3].status, JOB_FAILED);
	ck_assert(r.r[3].has_err);
	ck_assert(memcmp(r.r[3].err, "trace", 5) == 0);
	ck_assert(memcmp(r.r[3].out, "bad", 3) == 0);
	rec_free(&r);
	ctx_free(&c);
}
END_TEST

/*
 * A round of records without bytes (a state, a stop): the writer's queue
 * has no buffer then, and it once took NULL + 0 for their bytes (UBSan,
 * clang's: fuzz_journal found it).  Both queues, each first used so.
 */
START_TEST(test_round_without_bytes)
{
	struct ctx	 c;
	struct rec	 r;
	uint64_t	 key;

	ctx_init(&c);
	rec_init(&r, 10);
	open_recover(&c, &defconf, &r);
	c.want = journal_batch_state(c.j, 99, JOURNAL_BATCH_ENDED, 0);
	ck_assert_uint_ne(c.want, 0);
	ck_assert(run_until(&c, committed_want, WAIT_MS));
	journal_batch(c.j, "n", "p", NULL, 1, &key);
	c.want = journal_delivered(c.j, key, 1);
	ck_assert(run_until(&c, committed_want, WAIT_MS));
	c.want = journal_batch_state(c.j, key, JOURNAL_BATCH_ENDED, 0);
	ck_assert(run_until(&c, committed_want, WAIT_MS));
	ck_assert_int_eq(c.nfailed, 0);
	rec_free(&r);
	rec_init(&r, 10);
	reopen(&c, &defconf, &r);
	ck_assert_uint_eq(r.nb, 1);
	ck_assert_int_eq(r.b[0].state, JOURNAL_BATCH_ENDED);
	ck_assert_uint_eq(r.b[0].delivered, 1);
	rec_free(&r);
	ctx_free(&c);
}
END_TEST

/* What the reads of test_query got. */
struct qgot {
	struct ctx	*c;
	uint64_t	 ids[3000];
	int		 status[3000];
	bool		 has_err[3000];
	size_t		 n;
	unsigned	 pages;
	bool		 more, done, failed;
	int64_t		 last;
	uint64_t	 seen_committed; /* committed when the answer came */
};

static void
on_page(void *arg, const struct journal_result *r, size_t n, bool more)
{
	struct qgot	*g = arg;
	char		 want[32];
	size_t		 i;

	g->pages++;
	g->seen_committed = g->c->committed;
	if (r == NULL) {
		g->failed = g->done = true;
		return;
	}
	for (i = 0; i < n; i++) {
		ck_assert_uint_lt(g->n, 3000);
		snprintf(want, sizeof(want), "out %llu",
		    (unsigned long long)r[i].id);
		ck_assert_uint_eq(r[i].outlen, strlen(want));
		ck_assert(memcmp(r[i].out, want, r[i].outlen) == 0);
		g->ids[g->n] = r[i].id;
		g->status[g->n] = (int)r[i].status;
		g->has_err[g->n] = r[i].err != NULL;
		g->n++;
		g->last = (int64_t)r[i].id;
	}
	g->more = more;
	g->done = true;
}

static struct qgot	*qg;

static bool
query_answered(struct ctx *c)
{
	(void)c;
	return (qg->done);
}

/*
 * Reads through the writer: answered on the loop after the commit of what
 * was queued before them (a result done just before the query is in it),
 * paged in id order with "more", filtered by rseq, stderr told apart, and
 * a cancelled read never calls back.
 */
START_TEST(test_query)
{
	struct ctx			 c;
	struct rec			 r;
	struct qgot			*g;
	struct journal_query_args	 a = { .after = -1,
	    .rseq_hi = UINT64_MAX,
	    .limit = 700 };
	struct journal_result		 res = { .status = JOB_FAILED,
	    .err = "e", .errlen = 1 };
	struct jquery			*qu;
	uint64_t			 key, i, seq = 0;
	char				 out[32];

	ctx_init(&c);
	rec_init(&r, 10);
	open_recover(&c, &defconf, &r);
	g = calloc(1, sizeof(*g));
	ck_assert_ptr_nonnull(g);
	g->c = &c;
	qg = g;
	journal_batch(c.j, "q", "p", NULL, 1, &key);
	/* Results in reverse id order: rseq 0 is id 1999. */
	for (i = 0; i < 2000; i++)
		accept_str(c.j, key, i, "%llu");
	for (i = 0; i < 2000; i++) {
		snprintf(out, sizeof(out), "out %llu",
		    (unsigned long long)(1999 - i));
		if ((1999 - i) % 10 == 0) {
			res.batch = key;
			res.id = 1999 - i;
			res.rseq = i;
			res.out = out;
			res.outlen = strlen(out);
			seq = journal_done(c.j, &res);
		} else
			seq = done_str(c.j, key, 1999 - i, i, JOB_OK, out);
	}
	a.batch = key;
	do {
		g->done = false;
		a.after = g->n == 0 ? -1 : g->last;
		ck_assert_ptr_nonnull(journal_query(c.j, &a, on_page, g));
		ck_assert(run_until(&c, query_answered, WAIT_MS));
		ck_assert(!g->failed);
		/* Every record queued before the read was committed. */
		ck_assert_uint_ge(g->seen_committed, seq);
	} while (g->more);
	ck_assert_uint_eq(g->n, 2000);
	ck_assert_uint_eq(g->pages, 3);
	for (i = 0; i < 2000; i++) {
		ck_assert_uint_eq(g->ids[i], i);
		ck_assert_int_eq(g->status[i], i % 10 == 0 ? JOB_FAILED :
		    JOB_OK);
		ck_assert(g->has_err[i] == (i % 10 == 0));
	}

	/* rseq [0, 100): ids 1900..1999 only. */
	memset(g, 0, sizeof(*g));
	g->c = &c;
	a.after = -1;
	a.rseq_lo = 0;
	a.rseq_hi = 100;
	a.limit = 0;
	ck_assert_ptr_nonnull(journal_query(c.j, &a, on_page, g));
	ck_assert(run_until(&c, query_answered, WAIT_MS));
	ck_assert_uint_eq(g->n, 100);
	ck_assert_uint_eq(g->ids[0], 1900);
	ck_assert(!g->more);

	/* Cancelled: no call; a later one still answers. */
	memset(g, 0, sizeof(*g));
	g->c = &c;
	qu = journal_query(c.j, &a, on_page, g);
	ck_assert_ptr_nonnull(qu);
	journal_query_cancel(qu);
	ck_assert_ptr_nonnull(journal_query(c.j, &a, on_page, g));
	ck_assert(run_until(&c, query_answered, WAIT_MS));
	ck_assert_uint_eq(g->pages, 1);
	free(g);
	rec_free(&r);
	ctx_free(&c);
}
END_TEST

/*
 * Folding a job's records into its accept leaves the rows that applying
 * them one by one would: an accept of a job the file has already, with a
 * done folded in but no start, keeps the runs the file had (the fold once
 * reset it to 0).
 */
START_TEST(test_fold_keeps_runs)
{
	struct ctx	 c;
	struct rec	 r;
	uint64_t	 key;

	ctx_init(&c);
	rec_init(&r, 10);
	open_recover(&c, &defconf, &r);
	journal_batch(c.j, "f", "p", NULL, 1, &key);
	accept_str(c.j, key, 1, "%llu");
	c.want = journal_started(c.j, key, 1, 2);
	ck_assert(run_until(&c, committed_want, WAIT_MS));
	/*
	 * One transaction: the accept again (a resend) and the done, queued
	 * while the writer sleeps in the commit of a record before them.
	 */
	journal_test_delay(c.j, 200000);
	journal_delivered(c.j, key, 0);
	accept_str(c.j, key, 1, "%llu");
	c.want = done_str(c.j, key, 1, 0, JOB_OK, "out");
	journal_test_delay(c.j, 0);
	ck_assert(run_until(&c, committed_want, WAIT_MS));
	journal_close(c.j);
	c.j = NULL;
	{
		sqlite3		*db;
		sqlite3_stmt	*st;

		ck_assert_int_eq(sqlite3_open(c.path, &db), SQLITE_OK);
		ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT runs, status, "
		    "running FROM job", -1, &st, NULL), SQLITE_OK);
		ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
		ck_assert_int_eq(sqlite3_column_int(st, 0), 2);
		ck_assert_int_eq(sqlite3_column_int(st, 1), JOB_OK);
		ck_assert_int_eq(sqlite3_column_int(st, 2), 0);
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
	rec_free(&r);
	ctx_free(&c);
}
END_TEST

/*
 * 50,000 rows enqueued as fast as the loop can: far fewer commits than
 * rows, committed told in increasing order up to the last number.
 */
START_TEST(test_group_commit)
{
	struct ctx		 c;
	struct rec		 r;
	struct journal_stats	 st;
	uint64_t		 key, i, last = 0;

	ctx_init(&c);
	rec_init(&r, 10);
	open_recover(&c, &defconf, &r);
	journal_batch(c.j, "g", "p", NULL, 0, &key);
	for (i = 0; i < 50000; i++)
		last = accept_str(c.j, key, i, "%llu");
	ck_assert_uint_eq(last, 50001);
	c.want = last;
	ck_assert(run_until(&c, committed_want, WAIT_MS));
	ck_assert_uint_eq(c.committed, last);
	ck_assert(!c.backwards);
	journal_get_stats(c.j, &st);
	ck_assert_uint_eq(st.rows, 50001);
	ck_assert_uint_eq(st.durable, last);
	ck_assert_uint_eq(st.commit_us.count, st.commits);
	ck_assert_msg(st.commits <= 50, "%llu commits for 50001 rows",
	    (unsigned long long)st.commits);
	ck_assert_uint_le(c.ncommitted, st.commits);
	ck_assert_uint_eq(journal_pending(c.j), 0);
	ck_assert_uint_eq(st.batches[JOURNAL_BATCH_OPEN], 1);
	ck_assert_uint_gt(st.bytes, 50000);
	rec_free(&r);
	ctx_free(&c);
}
END_TEST

/*
 * Each commit takes 500 ms (the test hook): records enqueued meanwhile
 * return at once (none waits for a commit: the worst is far below 500 ms
 * even on a loaded machine under a sanitizer), and all of them go in a
 * few commits.
 */
START_TEST(test_loop_not_blocked)
{
	struct ctx		 c;
	struct rec		 r;
	struct journal_stats	 st;
	uint64_t		 key, i, t0, t, worst = 0, last = 0, end;

	ctx_init(&c);
	rec_init(&r, 10);
	open_recover(&c, &defconf, &r);
	journal_test_delay(c.j, 500000);
	journal_batch(c.j, "slow", "p", NULL, 0, &key);
	end = clock_us() + 300000;
	for (i = 0; i < 30000 && clock_us() < end; i++) {
		t0 = clock_us();
		last = accept_str(c.j, key, i, "%llu");
		if ((t = clock_us() - t0) > worst)
			worst = t;
	}
	journal_get_stats(c.j, &st);
	ck_assert_uint_le(st.commits, 1);	/* the writer was busy */
	ck_assert_uint_gt(i, 1000);
	ck_assert_msg(worst < 250000, "an enqueue took %llu us",
	    (unsigned long long)worst);
	c.want = last;
	ck_assert(run_until(&c, committed_want, WAIT_MS));
	journal_get_stats(c.j, &st);
	ck_assert_uint_le(st.commits, 2 + (i + 9999) / 10000 + 2);
	ck_assert_uint_ge(hist_percentile(&st.commit_us, 0.5), 450000);
	journal_test_delay(c.j, 0);
	rec_free(&r);
	ctx_free(&c);
}
END_TEST

/* A second result for the same job, and a second accept, change nothing. */
START_TEST(test_double_done)
{
	struct ctx	 c;
	struct rec	 r;
	uint64_t	 key;

	ctx_init(&c);
	rec_init(&r, 10);
	open_recover(&c, &defconf, &r);
	journal_batch(c.j, "d", "p", NULL, 0, &key);
	journal_accept(c.j, key, 1, "one", 3);
	journal_accept(c.j, key, 2, "two", 3);
	done_str(c.j, key, 1, 0, JOB_OK, "first");
	done_str(c.j, key, 1, 1, JOB_FAILED, "second");
	journal_accept(c.j, key, 1, "again", 5);
	journal_started(c.j, key, 1, 2);
	rec_free(&r);
	rec_init(&r, 10);
	reopen(&c, &defconf, &r);
	ck_assert_uint_eq(r.b[0].jobs, 2);
	ck_assert_uint_eq(r.b[0].done, 1);
	ck_assert_uint_eq(r.nj, 1);
	ck_assert_uint_eq(r.j[0].id, 2);
	ck_assert_uint_eq(r.nr, 1);
	ck_assert_uint_eq(r.r[0].id, 1);
	ck_assert_uint_eq(r.r[0].rseq, 0);
	ck_assert_int_eq(r.r[0].status, JOB_OK);
	ck_assert_uint_eq(r.r[0].outlen, 5);
	ck_assert(memcmp(r.r[0].out, "first", 5) == 0);
	rec_free(&r);
	ctx_free(&c);
}
END_TEST

/*
 * Started and not done at the close (as at a crash): charged one attempt
 * by recovery, once, however often it recovers; a job never started is
 * not charged; a job started and done is finished.
 */
START_TEST(test_running_charged)
{
	struct ctx	 c;
	struct rec	 r;
	uint64_t	 key;

	ctx_init(&c);
	rec_init(&r, 10);
	open_recover(&c, &defconf, &r);
	journal_batch(c.j, "r", "p", NULL, 0, &key);
	accept_str(c.j, key, 0, "%llu");
	accept_str(c.j, key, 1, "%llu");
	accept_str(c.j, key, 2, "%llu");
	journal_started(c.j, key, 0, 1);
	journal_started(c.j, key, 1, 1);
	done_str(c.j, key, 1, 0, JOB_OK, "1");
	rec_free(&r);
	rec_init(&r, 10);
	reopen(&c, &defconf, &r);
	ck_assert_uint_eq(r.nj, 2);
	ck_assert_uint_eq(r.j[0].id, 0);
	ck_assert(r.j[0].charged);
	ck_assert_uint_eq(r.j[0].attempts, 1);
	ck_assert_uint_eq(r.j[0].runs, 1);
	ck_assert_uint_eq(r.j[1].id, 2);
	ck_assert(!r.j[1].charged);
	ck_assert_uint_eq(r.j[1].attempts, 0);

	/* Recovered again without running it: no second charge. */
	rec_free(&r);
	rec_init(&r, 10);
	reopen(&c, &defconf, &r);
	ck_assert(!r.j[0].charged);
	ck_assert_uint_eq(r.j[0].attempts, 1);

	/* Run again and crash again: a second charge. */
	journal_started(c.j, key, 0, 2);
	rec_free(&r);
	rec_init(&r, 10);
	reopen(&c, &defconf, &r);
	ck_assert(r.j[0].charged);
	ck_assert_uint_eq(r.j[0].attempts, 2);
	ck_assert_uint_eq(r.j[0].runs, 2);
	rec_free(&r);
	ctx_free(&c);
}
END_TEST

/* The child of test_kill9: accept jobs for ever, report each commit. */
struct kid {
	struct journal	*j;
	uint64_t	 key;
	uint64_t	 next;
	int		 fd;
	struct event	*ev;
};

static void
kid_committed(void *arg, uint64_t seq)
{
	struct kid	*k = arg;

	if (write(k->fd, &seq, sizeof(seq)) != sizeof(seq))
		_exit(3);
}

static void
kid_failed(void *arg, const char *why)
{
	(void)arg;
	(void)why;
	_exit(4);
}

/* 500 jobs a turn while fewer than 20000 wait for the disk. */
static void
kid_tick(evutil_socket_t fd, short what, void *arg)
{
	struct kid	*k = arg;
	struct timeval	 ms = { 0, 1000 };
	int		 i;

	(void)fd;
	(void)what;
	if (journal_pending(k->j) > 20000) {
		event_add(k->ev, &ms);
		return;
	}
	for (i = 0; i < 500; i++, k->next++)
		accept_str(k->j, k->key, k->next, "kill %llu");
	event_active(k->ev, EV_TIMEOUT, 0);
}

static void
kid_main(const char *path, int fd)
{
	static const struct journal_hooks khooks = { kid_committed,
	    kid_failed };
	static const struct journal_recover_ops none;
	struct journal_conf	 conf = { .path = path };
	struct event_base	*base;
	struct kid		 k = { .fd = fd };
	char			 err[600];

	alarm(20);
	if ((base = event_base_new()) == NULL ||
	    (k.j = journal_open(&conf, err, sizeof(err))) == NULL ||
	    journal_recover(k.j, &none, NULL, err, sizeof(err)) != 0 ||
	    journal_start(k.j, base, &khooks, &k, err, sizeof(err)) != 0)
		_exit(2);
	journal_batch(k.j, "kill", "p", NULL, 0, &k.key);
	k.ev = event_new(base, -1, 0, kid_tick, &k);
	event_active(k.ev, EV_TIMEOUT, 0);
	event_base_dispatch(base);
	_exit(5);
}

/*
 * Accepted means committed: a child accepts jobs without end and writes
 * each committed number to a pipe; at the first number past 2000 the
 * parent SIGKILLs it.  Recovery finds every job up to that number, and
 * what it finds is a prefix of what was accepted.
 */
START_TEST(test_kill9)
{
	struct ctx	 c;
	struct rec	 r;
	uint64_t	 seq = 0, i;
	int		 p[2], status;
	pid_t		 pid;
	char		 want[64];

	ctx_init(&c);
	ck_assert_int_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		close(p[0]);
		kid_main(c.path, p[1]);
	}
	ck_assert_int_gt(pid, 0);
	close(p[1]);
	while (seq < 2000)
		ck_assert_int_eq(read(p[0], &seq, sizeof(seq)), sizeof(seq));
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(p[0]);

	rec_init(&r, 1000000);
	reopen(&c, &defconf, &r);
	ck_assert_uint_eq(r.nb, 1);
	/* Seq 1 made the batch; seq n accepted job n - 2. */
	ck_assert_uint_ge(r.nj, seq - 1);
	for (i = 0; i < r.nj; i++) {
		ck_assert_uint_eq(r.j[i].id, i);
		snprintf(want, sizeof(want), "kill %llu",
		    (unsigned long long)i);
		ck_assert_uint_eq(r.j[i].datalen, strlen(want));
		ck_assert(memcmp(r.j[i].data, want, r.j[i].datalen) == 0);
	}
	rec_free(&r);
	ctx_free(&c);
}
END_TEST

static bool
contains(const char *s, const char *sub)
{
	return (strstr(s, sub) != NULL);
}

/*
 * SQLITE_FULL in the writer (a hard page cap): failed is called once
 * with the file and SQLite's error, committed never passes the last good
 * commit, later records are refused, and the file keeps what was
 * committed.
 */
START_TEST(test_io_error)
{
	struct ctx		 c;
	struct rec		 r;
	struct journal_conf	 conf = { .max_pages = 64 };
	struct journal_stats	 st;
	uint64_t		 key, i, seq, good = 0, last = 0;
	char			 big[4096];

	ctx_init(&c);
	rec_init(&r, 1000);
	open_recover(&c, &conf, &r);
	journal_batch(c.j, "full", "p", NULL, 0, &key);
	for (i = 0; i < 20; i++)
		good = accept_str(c.j, key, i, "small %llu");
	c.want = good;
	ck_assert(run_until(&c, committed_want, WAIT_MS));
	memset(big, 'x', sizeof(big));
	for (; i < 1000; i++)	/* 0 once it has failed */
		if ((seq = journal_accept(c.j, key, i, big, sizeof(big))) != 0)
			last = seq;
	ck_assert(run_until(&c, failed_once, WAIT_MS));
	ck_assert_int_eq(c.nfailed, 1);
	ck_assert_msg(contains(c.why, c.path), "%s", c.why);
	ck_assert_msg(contains(c.why, "full"), "%s", c.why);
	/* Told up to the last good commit, and no further. */
	ck_assert_uint_ge(c.committed, good);
	ck_assert_uint_lt(c.committed, last);
	ck_assert_uint_eq(journal_accept(c.j, key, i, "late", 4), 0);
	journal_get_stats(c.j, &st);
	ck_assert(st.failed);
	ck_assert_uint_eq(st.durable, c.committed);
	rec_free(&r);
	rec_init(&r, 1000);
	reopen(&c, &defconf, &r);
	/* Seq 1 made the batch, seq n accepted job n - 2. */
	ck_assert_uint_eq(r.nj, c.committed - 1);
	ck_assert_int_eq(c.nfailed, 1);
	rec_free(&r);
	ctx_free(&c);
}
END_TEST

/* A journal written by a later version is refused, by name. */
START_TEST(test_schema_newer)
{
	struct ctx		 c;
	struct journal_conf	 conf = { .path = NULL };
	sqlite3			*db;
	char			 err[600];

	ctx_init(&c);
	c.j = open_conf(&c, &defconf);
	journal_close(c.j);
	c.j = NULL;
	ck_assert_int_eq(sqlite3_open(c.path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 99", NULL,
	    NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	conf.path = c.path;
	ck_assert_ptr_null(journal_open(&conf, err, sizeof(err)));
	ck_assert_msg(contains(err, c.path), "%s", err);
	ck_assert_msg(contains(err, "schema version 99 is newer"), "%s", err);
	ctx_free(&c);
}
END_TEST

/*
 * Random bytes, another program's SQLite file, a directory that is not
 * there, a second opener: each a clear error naming the file.
 */
START_TEST(test_bad_files)
{
	struct ctx		 c;
	struct journal_conf	 conf = { .path = NULL };
	struct journal		*j;
	sqlite3			*db;
	uint64_t		 st = 42, buf[8192];
	char			 err[600], other[160];
	size_t			 i;
	int			 fd;

	ctx_init(&c);
	for (i = 0; i < 8192; i++)
		buf[i] = rnd(&st);
	fd = open(c.path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, sizeof(buf)), sizeof(buf));
	close(fd);
	conf.path = c.path;
	ck_assert_ptr_null(journal_open(&conf, err, sizeof(err)));
	ck_assert_msg(contains(err, c.path), "%s", err);
	ck_assert_msg(contains(err, "not a database"), "%s", err);

	snprintf(other, sizeof(other), "%s/other.db", c.dir);
	ck_assert_int_eq(sqlite3_open(other, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL,
	    NULL), SQLITE_OK);
	sqlite3_close(db);
	conf.path = other;
	ck_assert_ptr_null(journal_open(&conf, err, sizeof(err)));
	ck_assert_msg(contains(err, other), "%s", err);
	ck_assert_msg(contains(err, "not a drover journal"), "%s", err);

	snprintf(other, sizeof(other), "%s/no/such/dir.db", c.dir);
	conf.path = other;
	ck_assert_ptr_null(journal_open(&conf, err, sizeof(err)));
	ck_assert_msg(contains(err, other), "%s", err);

	/* A second opener, of a new journal and of an old one. */
	unlink(c.path);
	conf.path = c.path;
	for (i = 0; i < 2; i++) {
		c.j = open_conf(&c, &defconf);
		j = journal_open(&conf, err, sizeof(err));
		ck_assert_ptr_null(j);
		ck_assert_msg(contains(err, c.path), "%s", err);
		ck_assert_msg(contains(err, "locked"), "%s", err);
		journal_close(c.j);
		c.j = NULL;
	}
	ctx_free(&c);
}
END_TEST

/*
 * A journal whose pages after the first are overwritten with random
 * bytes: open or recovery fails with the file's name and SQLite's word
 * for it, and nothing crashes.
 */
START_TEST(test_corrupt)
{
	struct ctx		 c;
	struct rec		 r;
	struct journal_conf	 conf = { .path = NULL };
	struct journal		*j;
	uint64_t		 key, i, st = 7, buf[512];
	char			 err[600];
	off_t			 size;
	int			 fd;

	ctx_init(&c);
	rec_init(&r, 10000);
	c.j = open_conf(&c, &defconf);
	journal_batch(c.j, "c", "p", NULL, 0, &key);
	for (i = 0; i < 2000; i++)
		accept_str(c.j, key, i, "corrupt me %llu");
	journal_close(c.j);
	c.j = NULL;
	fd = open(c.path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	size = lseek(fd, 0, SEEK_END);
	ck_assert_int_gt(size, 8 * 4096);
	for (i = 0; i < 512; i++)
		buf[i] = rnd(&st);
	for (i = 4096; (off_t)i < size; i += sizeof(buf))
		ck_assert_int_eq(pwrite(fd, buf, sizeof(buf), (off_t)i),
		    sizeof(buf));
	close(fd);
	conf.path = c.path;
	if ((j = journal_open(&conf, err, sizeof(err))) != NULL) {
		ck_assert_int_ne(journal_recover(j, &rops, &r, err,
		    sizeof(err)), 0);
		journal_close(j);
	}
	ck_assert_msg(contains(err, c.path), "%s", err);
	ck_assert_msg(contains(err, "malformed"), "%s", err);
	rec_free(&r);
	ctx_free(&c);
}
END_TEST

static bool
evicted_want(struct ctx *c)
{
	struct journal_stats	 st;

	journal_get_stats(c->j, &st);
	return (st.evicted_jobs >= c->want);
}

/*
 * Retention: a batch completed long ago goes, in several small
 * transactions; a batch completed just now stays, an open one stays, and
 * an unfinished job stays even in a completed batch.
 */
START_TEST(test_retention)
{
	struct ctx		 c;
	struct rec		 r;
	struct journal_conf	 conf = { .retention_s = 10,
	    .retention_rows = 100 };
	struct journal_stats	 st;
	uint64_t		 ka, kb, kc, kd, i;
	int64_t			 now = (int64_t)time(NULL);

	ctx_init(&c);
	rec_init(&r, 100);
	open_recover(&c, &conf, &r);
	journal_batch(c.j, "old", "p", NULL, now - 200, &ka);
	journal_batch(c.j, "stuck", "p", NULL, now - 200, &kb);
	journal_batch(c.j, "recent", "p", NULL, now - 200, &kc);
	journal_batch(c.j, "open", "p", NULL, now - 200, &kd);
	for (i = 0; i < 1500; i++) {
		accept_str(c.j, ka, i, "%llu");
		done_str(c.j, ka, i, i, JOB_OK, "a");
	}
	for (i = 0; i < 5; i++) {
		accept_str(c.j, kb, i, "%llu");
		if (i != 3)
			done_str(c.j, kb, i, i, JOB_OK, "b");
		accept_str(c.j, kc, i, "%llu");
		done_str(c.j, kc, i, i, JOB_OK, "c");
		accept_str(c.j, kd, i, "%llu");
	}
	journal_batch_state(c.j, ka, JOURNAL_BATCH_COMPLETE, now - 100);
	journal_batch_state(c.j, kb, JOURNAL_BATCH_COMPLETE, now - 100);
	journal_batch_state(c.j, kc, JOURNAL_BATCH_COMPLETE, now);
	c.want = 1504;		/* all of "old", the finished of "stuck" */
	ck_assert(run_until(&c, evicted_want, WAIT_MS));
	journal_get_stats(c.j, &st);
	ck_assert_uint_eq(st.evicted_batches, 1);
	ck_assert_uint_eq(st.evicted_jobs, 1504);
	ck_assert_uint_eq(st.batches[JOURNAL_BATCH_COMPLETE], 2);
	ck_assert_uint_eq(st.batches[JOURNAL_BATCH_OPEN], 1);
	rec_free(&r);
	rec_init(&r, 100);
	reopen(&c, &conf, &r);
	ck_assert_uint_eq(r.nb, 3);
	ck_assert_str_eq(r.b[0].id, "stuck");
	ck_assert_uint_eq(r.b[0].jobs, 1);
	ck_assert_str_eq(r.b[1].id, "recent");
	ck_assert_uint_eq(r.b[1].jobs, 5);
	ck_assert_str_eq(r.b[2].id, "open");
	ck_assert_uint_eq(r.nj, 6);
	ck_assert_uint_eq(r.j[0].batch, kb);
	ck_assert_uint_eq(r.j[0].id, 3);
	rec_free(&r);
	ctx_free(&c);
}
END_TEST

static bool
evicted_round(struct ctx *c)
{
	struct journal_stats	 st;

	journal_get_stats(c->j, &st);
	return (st.evicted_jobs >= c->want * 1000 &&
	    st.evicted_batches >= c->want);
}

/*
 * Under a steady load of batches that complete, retention keeps up and
 * the file stops growing (freed pages are reused); a key is never given
 * twice, even after its batch was deleted.
 */
START_TEST(test_retention_steady)
{
	struct ctx		 c;
	struct rec		 r;
	struct journal_conf	 conf = { .retention_s = 10 };
	struct journal_stats	 st;
	uint64_t		 key, i, round, early = 0;
	int64_t			 old = (int64_t)time(NULL) - 100;
	char			 name[32], data[200];

	ctx_init(&c);
	rec_init(&r, 10);
	open_recover(&c, &conf, &r);
	memset(data, 'z', sizeof(data));
	for (round = 0; round < 30; round++) {
		snprintf(name, sizeof(name), "round %llu",
		    (unsigned long long)round);
		journal_batch(c.j, name, "p", NULL, old, &key);
		ck_assert_uint_eq(key, round + 1);
		for (i = 0; i < 1000; i++) {
			journal_accept(c.j, key, i, data, sizeof(data));
			done_str(c.j, key, i, i, JOB_OK, "ok");
		}
		journal_batch_state(c.j, key, JOURNAL_BATCH_COMPLETE, old);
		c.want = round + 1;
		ck_assert(run_until(&c, evicted_round, WAIT_MS));
		journal_get_stats(c.j, &st);
		if (round == 4)
			early = st.bytes;
	}
	journal_get_stats(c.j, &st);
	ck_assert_msg(st.bytes <= early + early / 4, "grew from %llu to %llu",
	    (unsigned long long)early, (unsigned long long)st.bytes);
	ck_assert_uint_eq(st.batches[JOURNAL_BATCH_COMPLETE], 0);
	rec_free(&r);
	rec_init(&r, 10);
	reopen(&c, &conf, &r);
	ck_assert_uint_eq(r.nb, 0);
	journal_batch(c.j, "next", "p", NULL, 0, &key);
	ck_assert_uint_eq(key, 31);
	rec_free(&r);
	ctx_free(&c);
}
END_TEST

/* The size limit and the batches by state, as the loop reads them. */
START_TEST(test_limit_stats)
{
	struct ctx		 c;
	struct rec		 r;
	struct journal_conf	 conf = { .max_bytes = 256 << 10 };
	struct journal_stats	 st;
	uint64_t		 k[3], i;
	char			 data[1024];

	ctx_init(&c);
	rec_init(&r, 10);
	open_recover(&c, &conf, &r);
	ck_assert(!journal_over_limit(c.j));
	journal_batch(c.j, "a", "p", NULL, 0, &k[0]);
	journal_batch(c.j, "b", "p", NULL, 0, &k[1]);
	journal_batch(c.j, "c", "p", NULL, 0, &k[2]);
	journal_batch_state(c.j, k[1], JOURNAL_BATCH_ENDED, 0);
	c.want = journal_batch_state(c.j, k[2], JOURNAL_BATCH_COMPLETE, 1);
	ck_assert(run_until(&c, committed_want, WAIT_MS));
	journal_get_stats(c.j, &st);
	for (i = 0; i < JOURNAL_BATCH_NSTATES; i++)
		ck_assert_uint_eq(st.batches[i], 1);
	ck_assert(!journal_over_limit(c.j));
	memset(data, 'd', sizeof(data));
	for (i = 0; i < 1000; i++)
		c.want = journal_accept(c.j, k[0], i, data, sizeof(data));
	ck_assert(run_until(&c, committed_want, WAIT_MS));
	ck_assert(journal_over_limit(c.j));
	journal_get_stats(c.j, &st);
	ck_assert_uint_gt(st.live_bytes, 256 << 10);
	ck_assert_uint_ge(st.bytes, st.live_bytes);
	ck_assert_uint_eq(st.rows, 1005);
	rec_free(&r);
	ctx_free(&c);
}
END_TEST

static int
nfds(void)
{
	DIR	*d = opendir("/proc/self/fd");
	int	 n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return (n);
}

/*
 * Closing gives back every fd (the file, its WAL, the eventfd), started
 * or not, with records queued or not, and a failed open leaks none.
 */
START_TEST(test_close_clean)
{
	struct ctx		 c;
	struct rec		 r;
	struct journal_conf	 conf = { .path = NULL };
	uint64_t		 key;
	char			 err[600];
	int			 n0;

	ctx_init(&c);
	rec_init(&r, 10);
	n0 = nfds();
	open_recover(&c, &defconf, &r);
	journal_batch(c.j, "x", "p", NULL, 0, &key);
	accept_str(c.j, key, 0, "%llu");
	journal_close(c.j);
	c.j = NULL;
	ck_assert_int_eq(nfds(), n0);
	c.j = open_conf(&c, &defconf);
	accept_str(c.j, key, 1, "%llu");
	journal_close(c.j);
	c.j = NULL;
	ck_assert_int_eq(nfds(), n0);
	rec_free(&r);
	rec_init(&r, 10);
	reopen(&c, &defconf, &r);
	ck_assert_uint_eq(r.nj, 2);
	journal_close(c.j);
	c.j = NULL;
	ck_assert_int_eq(nfds(), n0);
	conf.path = c.dir;	/* a directory */
	ck_assert_ptr_null(journal_open(&conf, err, sizeof(err)));
	ck_assert_msg(contains(err, c.dir), "%s", err);
	ck_assert_int_eq(nfds(), n0);
	rec_free(&r);
	ctx_free(&c);
}
END_TEST

static Suite *
journal_suite(void)
{
	Suite	*s = suite_create("journal");
	TCase	*tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, root_setup, root_teardown);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_delivered_state);
	tcase_add_test(tc, test_round_without_bytes);
	tcase_add_test(tc, test_query);
	tcase_add_test(tc, test_fold_keeps_runs);
	tcase_add_test(tc, test_group_commit);
	tcase_add_test(tc, test_loop_not_blocked);
	tcase_add_test(tc, test_double_done);
	tcase_add_test(tc, test_running_charged);
	tcase_add_test(tc, test_kill9);
	tcase_add_test(tc, test_io_error);
	tcase_add_test(tc, test_schema_newer);
	tcase_add_test(tc, test_bad_files);
	tcase_add_test(tc, test_corrupt);
	tcase_add_test(tc, test_retention);
	tcase_add_test(tc, test_retention_steady);
	tcase_add_test(tc, test_limit_stats);
	tcase_add_test(tc, test_close_clean);
	suite_add_tcase(s, tc);
	return (s);
}

CHECK_MAIN(journal_suite)

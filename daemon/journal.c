/*
 * The journal: batches, jobs and results in one SQLite file (WAL,
 * synchronous=FULL), written by one thread with group commit, read back
 * once at start-up.  It owns the connection, the writer thread, the queue
 * between the loop and the writer, and the eventfd by which the writer
 * tells the loop what is durable.  The design (threads, who owns the
 * connection, exactly once, recovery, retention) is in journal.h and
 * docs/architecture.md ("The journal").
 */
#include <sys/eventfd.h>
#include <sys/queue.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "clock.h"
#include "journal.h"

#define TXN_ROWS	10000
#define TXN_BYTES	(4u << 20)
#define RET_ROWS	1000
#define RET_IDLE_US	1000000		/* retention check when none found */
#define WAL_LIMIT	(64 << 20)	/* the WAL is truncated to this */

/*
 * The schema, version 1 (PRAGMA user_version).  A batch's key is the
 * journal's own (its id is the client's or journal_new_id()'s); a job is
 * (batch key, id) without a rowid, so a record touches one b-tree.  A job
 * without a status is unfinished; with one, rseq is its place among its
 * batch's results, and results below batch.delivered have been delivered.
 */
static const char schema_sql[] =
	"CREATE TABLE batch ("
	" bkey INTEGER PRIMARY KEY AUTOINCREMENT,"	/* never reused */
	" id TEXT NOT NULL UNIQUE,"
	" pool TEXT NOT NULL,"
	" client TEXT NOT NULL DEFAULT '',"
	" created INTEGER NOT NULL,"
	" state INTEGER NOT NULL DEFAULT 0,"	/* journal_batch_state */
	" delivered INTEGER NOT NULL DEFAULT 0,"
	" completed INTEGER);"
	"CREATE INDEX batch_retention ON batch (state, completed);"
	"CREATE TABLE job ("
	" bkey INTEGER NOT NULL,"
	" id INTEGER NOT NULL,"
	" data BLOB NOT NULL,"
	" attempts INTEGER NOT NULL DEFAULT 0,"	/* charged by recovery */
	" runs INTEGER NOT NULL DEFAULT 0,"	/* attempt of its last start */
	" running INTEGER NOT NULL DEFAULT 0,"
	" status INTEGER,"			/* enum job_status */
	" rseq INTEGER,"
	" output BLOB,"
	" stderr BLOB,"
	" PRIMARY KEY (bkey, id)) WITHOUT ROWID;"
	"PRAGMA user_version = 1;";

enum rtype {
	R_BATCH,
	R_ACCEPT,
	R_START,
	R_DONE,
	R_DELIVERED,
	R_STATE,
	R_QUERY,	/* a read, answered after the commit before it */
};

enum {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_BATCH,
	S_ACCEPT,
	S_START,
	S_DONE,
	S_DELIVERED,
	S_STATE,
	S_PAGES,
	S_FREEPAGES,
	S_COUNTS,
	S_RPICK,
	S_RJOBS,
	S_RBATCH,
	S_QUERY,
	S_ACCEPT_FOLD,
	S_N
};

static const char *const stmt_sql[S_N] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_BATCH] = "INSERT INTO batch (bkey, id, pool, client, created)"
	    " VALUES (?1, ?2, ?3, ?4, ?5)",
	[S_ACCEPT] = "INSERT INTO job (bkey, id, data) VALUES (?1, ?2, ?3)"
	    " ON CONFLICT DO NOTHING",
	[S_START] = "UPDATE job SET running = ?4,"
	    " runs = CASE WHEN ?4 THEN ?3 ELSE runs END"
	    " WHERE bkey = ?1 AND id = ?2 AND status IS NULL",
	[S_DONE] = "UPDATE job SET status = ?3, rseq = ?4, output = ?5,"
	    " stderr = ?6, running = 0"
	    " WHERE bkey = ?1 AND id = ?2 AND status IS NULL",
	[S_DELIVERED] = "UPDATE batch SET delivered = max(delivered, ?2)"
	    " WHERE bkey = ?1",
	[S_STATE] = "UPDATE batch SET state = ?2, completed = ?3"
	    " WHERE bkey = ?1",
	[S_PAGES] = "PRAGMA page_count",
	[S_FREEPAGES] = "PRAGMA freelist_count",
	[S_COUNTS] = "SELECT state, count(*) FROM batch GROUP BY state",
	[S_RPICK] = "SELECT bkey FROM batch WHERE state = 2"
	    " AND completed <= ?1 AND bkey > ?2 ORDER BY bkey LIMIT 1",
	[S_RJOBS] = "DELETE FROM job WHERE bkey = ?1 AND id IN"
	    " (SELECT id FROM job WHERE bkey = ?1 AND status IS NOT NULL"
	    " LIMIT ?2)",
	[S_RBATCH] = "DELETE FROM batch WHERE bkey = ?1"
	    " AND NOT EXISTS (SELECT 1 FROM job WHERE bkey = ?1)",
	[S_QUERY] = "SELECT id, status, rseq, output, stderr FROM job"
	    " WHERE bkey = ?1 AND id > ?2 AND status IS NOT NULL"
	    " AND rseq >= ?3 AND rseq < ?4 ORDER BY id LIMIT ?5",
	/*
	 * An accept with the start and done that followed it in the same
	 * transaction: one row written instead of three, the same row in
	 * the end (on a conflict, the updates apply as they would have).
	 */
	[S_ACCEPT_FOLD] = "INSERT INTO job (bkey, id, data, runs, running,"
	    " status, rseq, output, stderr)"
	    " VALUES (?1, ?2, ?3, ifnull(?4, 0), ?5, ?6, ?7, ?8, ?9)"
	    " ON CONFLICT (bkey, id) DO UPDATE SET"
	    " runs = CASE WHEN ?4 IS NULL THEN job.runs ELSE excluded.runs END,"
	    " running = excluded.running, status = excluded.status,"
	    " rseq = excluded.rseq, output = excluded.output,"
	    " stderr = excluded.stderr WHERE job.status IS NULL",
};

/*
 * A read (journal_query): asked by the loop, run by the writer after the
 * commit of everything queued before it, answered on the loop.
 */
struct jquery {
	uint64_t		 batch;
	int64_t			 after;		/* ids above this */
	uint64_t		 rseq_lo, rseq_hi;
	size_t			 limit;
	journal_query_cb	 cb;
	void			*arg;
	bool			 cancelled;	/* loop side */
	/* The answer, filled by the writer. */
	struct journal_result	*r;
	size_t			 n;
	char			*buf;
	bool			 more;
	bool			 failed;
	TAILQ_ENTRY(jquery)	 entry;
};
TAILQ_HEAD(jqlist, jquery);

/* One queued record; its bytes are in the queue's buffer at off. */
struct jrec {
	struct jquery	*query;		/* R_QUERY */
	uint64_t	 seq;
	uint64_t	 batch;
	uint64_t	 id;
	uint64_t	 n;		/* rseq, delivered, created, when */
	size_t		 off;
	uint32_t	 len[3];
	int32_t		 ival;		/* status, state, attempt */
	uint32_t	 fstart;	/* R_ACCEPT: a start folded in, +1 */
	uint32_t	 fdone;		/* R_ACCEPT: a done folded in, +1 */
	uint8_t		 type;
	uint8_t		 has_err;	/* R_DONE: bind stderr, else NULL */
	uint8_t		 folded;	/* into its accept: not applied */
};

struct jqueue {
	struct jrec	*r;
	size_t		 n;
	size_t		 cap;
	char		*buf;
	size_t		 len;
	size_t		 bcap;
};

struct journal {
	char		*path;
	struct journal_conf conf;
	sqlite3		*db;
	sqlite3_stmt	*st[S_N];
	int64_t		 page_size;
	uint64_t	 next_key;	/* loop side: the next batch key */

	/* The queue: the loop appends, the writer swaps it for its own. */
	pthread_mutex_t	 qmu;
	pthread_cond_t	 qcv;
	struct jqueue	 q;
	uint64_t	 seq;		/* last number handed out */
	bool		 closing;
	bool		 dead;		/* failed: drop what comes */
	bool		 waiting;	/* the writer sleeps on qcv */

	/* Writer side. */
	pthread_t	 thread;
	bool		 running;
	struct jqueue	 wq;
	uint64_t	 ret_next;	/* clock_us() of the next check */
	uint64_t	 ret_cursor;	/* skip batches up to this key */
	bool		 ret_more;
	_Atomic uint64_t delay_us;

	/* Writer to loop: the statistics, the durable number, a failure. */
	pthread_mutex_t	 smu;
	struct journal_stats stats;
	char		 why[512];
	_Atomic uint64_t durable;
	_Atomic uint64_t live_bytes;

	/* Loop side of the eventfd. */
	int		 efd;
	struct event	*ev;
	struct journal_hooks hooks;
	void		*arg;
	uint64_t	 told;		/* last seq given to committed */
	bool		 told_failed;

	/* Reads answered, writer to loop, under smu. */
	struct jqlist	 answered;

	/* Writer side: the accepts of a transaction, by (batch, id). */
	uint32_t	*fold;		/* index + 1; 0 empty */
	uint32_t	*fold_used;	/* slots to clear after */
	size_t		 fold_cap;	/* a power of two */
	size_t		 fold_n;
};

static const char *const state_names[JOURNAL_BATCH_NSTATES] = {
	"open", "ended", "complete",
};

const char *
journal_batch_state_name(enum journal_batch_state s)
{
	if ((unsigned)s >= JOURNAL_BATCH_NSTATES)
		return ("unknown");
	return (state_names[s]);
}

const char *
journal_path(const struct journal *j)
{
	return (j->path);
}

/* SQLite's message for the connection, with its extended code. */
static void
db_error(struct journal *j, char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "journal %s: %s: %s (SQLite error %d)", j->path,
	    what, sqlite3_errmsg(j->db), sqlite3_extended_errcode(j->db));
}

static int
exec_sql(struct journal *j, const char *sql, char *err, size_t errlen,
    const char *what)
{
	if (sqlite3_exec(j->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		db_error(j, err, errlen, what);
		return (-1);
	}
	return (0);
}

/* One integer from a one-row statement (a pragma), or -1. */
static int64_t
query_int(struct journal *j, const char *sql)
{
	sqlite3_stmt	*st;
	int64_t		 v = -1;

	if (sqlite3_prepare_v2(j->db, sql, -1, &st, NULL) != SQLITE_OK)
		return (-1);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return (v);
}

static int64_t
step_int(sqlite3_stmt *st)
{
	int64_t	 v = -1;

	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return (v);
}

/* The schema: create it in a new file, check its version in an old one. */
static int
journal_schema(struct journal *j, char *err, size_t errlen)
{
	int64_t	 v, n;

	if ((v = query_int(j, "PRAGMA user_version")) < 0) {
		db_error(j, err, errlen, "cannot read the schema version");
		return (-1);
	}
	if (v > JOURNAL_SCHEMA_VERSION) {
		snprintf(err, errlen, "journal %s: schema version %lld is "
		    "newer than this droverd knows (%d): written by a later "
		    "version?", j->path, (long long)v, JOURNAL_SCHEMA_VERSION);
		return (-1);
	}
	if (v == JOURNAL_SCHEMA_VERSION)
		return (0);
	n = query_int(j, "SELECT count(*) FROM sqlite_master");
	if (n != 0) {
		if (n < 0)
			db_error(j, err, errlen, "cannot read the schema");
		else
			snprintf(err, errlen, "journal %s: an SQLite file with "
			    "tables but no schema version: not a drover "
			    "journal", j->path);
		return (-1);
	}
	if (exec_sql(j, "BEGIN IMMEDIATE", err, errlen, "create schema") ||
	    exec_sql(j, schema_sql, err, errlen, "create schema") ||
	    exec_sql(j, "COMMIT", err, errlen, "create schema"))
		return (-1);
	return (0);
}

/* Batches by state, the file's size: read by the writer after changes. */
static int
journal_measure(struct journal *j, bool counts)
{
	uint64_t	 by[JOURNAL_BATCH_NSTATES] = { 0 };
	int64_t		 pages, freep, s;
	sqlite3_stmt	*st = j->st[S_COUNTS];
	int		 rc;

	if ((pages = step_int(j->st[S_PAGES])) < 0 ||
	    (freep = step_int(j->st[S_FREEPAGES])) < 0)
		return (-1);
	if (counts) {
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			s = sqlite3_column_int64(st, 0);
			if (s >= 0 && s < JOURNAL_BATCH_NSTATES)
				by[s] = (uint64_t)sqlite3_column_int64(st, 1);
		}
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return (-1);
	}
	pthread_mutex_lock(&j->smu);
	j->stats.bytes = (uint64_t)(pages * j->page_size);
	j->stats.live_bytes = (uint64_t)((pages - freep) * j->page_size);
	if (counts)
		memcpy(j->stats.batches, by, sizeof(by));
	pthread_mutex_unlock(&j->smu);
	atomic_store(&j->live_bytes, (uint64_t)((pages - freep) *
	    j->page_size));
	return (0);
}

/* WAL mode, or why not (a file that is not a database fails here). */
static int
wal_mode(struct journal *j, char *err, size_t errlen)
{
	sqlite3_stmt	*st;
	const char	*m = NULL;
	int		 rc;

	if (sqlite3_prepare_v2(j->db, "PRAGMA journal_mode = WAL", -1, &st,
	    NULL) != SQLITE_OK) {
		db_error(j, err, errlen, "cannot open");
		return (-1);
	}
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		m = (const char *)sqlite3_column_text(st, 0);
	if (m != NULL && strcmp(m, "wal") == 0) {
		sqlite3_finalize(st);
		return (0);
	}
	if (rc == SQLITE_ROW)
		snprintf(err, errlen, "journal %s: cannot use WAL mode "
		    "(the file system said %s)", j->path, m ? m : "nothing");
	else
		db_error(j, err, errlen, "cannot open");
	sqlite3_finalize(st);
	return (-1);
}

struct journal *
journal_open(const struct journal_conf *conf, char *err, size_t errlen)
{
	struct journal	*j;
	pthread_condattr_t ca;
	char		 sql[128];
	int64_t		 last;
	int		 i, rc;

	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->path = strdup(conf->path)) == NULL) {
		snprintf(err, errlen, "journal %s: out of memory", conf->path);
		free(j);
		return (NULL);
	}
	j->conf = *conf;
	j->conf.path = j->path;
	if (j->conf.txn_rows == 0)
		j->conf.txn_rows = TXN_ROWS;
	if (j->conf.txn_bytes == 0)
		j->conf.txn_bytes = TXN_BYTES;
	if (j->conf.retention_rows == 0)
		j->conf.retention_rows = RET_ROWS;
	j->efd = -1;
	TAILQ_INIT(&j->answered);
	pthread_mutex_init(&j->qmu, NULL);
	/* The writer's timed waits are on the monotonic clock. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->qcv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&j->smu, NULL);
	hist_init(&j->stats.rows_hist);
	hist_init(&j->stats.commit_us);

	rc = sqlite3_open_v2(j->path, &j->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		if (j->db == NULL)
			snprintf(err, errlen, "journal %s: cannot open: %s",
			    j->path, sqlite3_errstr(rc));
		else
			db_error(j, err, errlen, "cannot open");
		goto fail;
	}
	sqlite3_extended_result_codes(j->db, 1);
	/* Exclusive before WAL, so that no -shm file is used. */
	if (exec_sql(j, "PRAGMA locking_mode = EXCLUSIVE", err, errlen,
	    "cannot set the locking mode"))
		goto fail;
	if (wal_mode(j, err, errlen))
		goto fail;
	snprintf(sql, sizeof(sql), "PRAGMA journal_size_limit = %d",
	    WAL_LIMIT);
	if (exec_sql(j, "PRAGMA synchronous = FULL", err, errlen,
	    "cannot set synchronous") ||
	    exec_sql(j, sql, err, errlen, "cannot set journal_size_limit") ||
	    exec_sql(j, "PRAGMA cache_size = -16384", err, errlen,
	    "cannot set cache_size"))
		goto fail;
	if (journal_schema(j, err, errlen))
		goto fail;
	if (j->conf.max_pages != 0) {
		snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %u",
		    j->conf.max_pages);
		if (exec_sql(j, sql, err, errlen, "cannot set max_page_count"))
			goto fail;
	}
	for (i = 0; i < S_N; i++)
		if (sqlite3_prepare_v3(j->db, stmt_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &j->st[i], NULL) != SQLITE_OK) {
			db_error(j, err, errlen, "cannot prepare");
			goto fail;
		}
	if ((j->page_size = query_int(j, "PRAGMA page_size")) <= 0 ||
	    journal_measure(j, true)) {
		db_error(j, err, errlen, "cannot read");
		goto fail;
	}
	/* Above every key given, even of batches retention deleted. */
	if ((last = query_int(j, "SELECT max("
	    "ifnull((SELECT seq FROM sqlite_sequence WHERE name = 'batch'), 0),"
	    " ifnull((SELECT max(bkey) FROM batch), 0))")) < 0) {
		db_error(j, err, errlen, "cannot read");
		goto fail;
	}
	j->next_key = (uint64_t)last + 1;
	return (j);
fail:
	journal_close(j);
	return (NULL);
}

/*
 * Recovery.  One transaction: report the batches, the unfinished jobs and
 * the undelivered results, then charge the jobs that were running.
 */
static const char rec_batches_sql[] =
	"SELECT b.bkey, b.id, b.pool, b.client, b.created,"
	" ifnull(b.completed, 0), b.state, b.delivered,"
	" (SELECT count(*) FROM job WHERE bkey = b.bkey),"
	" (SELECT count(*) FROM job WHERE bkey = b.bkey"
	"  AND status IS NOT NULL),"
	" (SELECT ifnull(max(id) + 1, 0) FROM job WHERE bkey = b.bkey),"
	" (SELECT ifnull(max(rseq) + 1, 0) FROM job WHERE bkey = b.bkey),"
	" (SELECT count(*) FROM job WHERE bkey = b.bkey"
	"  AND status IS NOT NULL AND status != 0)"
	" FROM batch b ORDER BY b.bkey";
static const char rec_jobs_sql[] =
	"SELECT bkey, id, data, attempts, runs, running FROM job"
	" WHERE status IS NULL ORDER BY bkey, id";
static const char rec_results_sql[] =
	"SELECT j.bkey, j.id, j.rseq, j.status, j.output, j.stderr"
	" FROM job j JOIN batch b ON b.bkey = j.bkey"
	" WHERE j.status IS NOT NULL AND j.rseq >= b.delivered"
	" ORDER BY j.bkey, j.rseq";
static const char rec_charge_sql[] =
	"UPDATE job SET attempts = attempts + 1, running = 0"
	" WHERE running = 1 AND status IS NULL";

static const char *
col_text(sqlite3_stmt *st, int i)
{
	const unsigned char	*s = sqlite3_column_text(st, i);

	return (s != NULL ? (const char *)s : "");
}

static int
recover_rows(struct journal *j, const char *sql,
    const struct journal_recover_ops *ops, void *arg, int kind, char *err,
    size_t errlen)
{
	struct journal_batchrec	 b;
	struct journal_jobrec	 jr;
	struct journal_result	 r;
	sqlite3_stmt		*st;
	int			 rc, stop = 0;

	if (sqlite3_prepare_v2(j->db, sql, -1, &st, NULL) != SQLITE_OK) {
		db_error(j, err, errlen, "recovery");
		return (-1);
	}
	while (stop == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		switch (kind) {
		case 0:
			memset(&b, 0, sizeof(b));
			b.key = (uint64_t)sqlite3_column_int64(st, 0);
			b.id = col_text(st, 1);
			b.pool = col_text(st, 2);
			b.client = col_text(st, 3);
			b.created = sqlite3_column_int64(st, 4);
			b.completed = sqlite3_column_int64(st, 5);
			b.state = (enum journal_batch_state)
			    sqlite3_column_int(st, 6);
			b.delivered = (uint64_t)sqlite3_column_int64(st, 7);
			b.jobs = (uint64_t)sqlite3_column_int64(st, 8);
			b.done = (uint64_t)sqlite3_column_int64(st, 9);
			b.next_id = (uint64_t)sqlite3_column_int64(st, 10);
			b.next_rseq = (uint64_t)sqlite3_column_int64(st, 11);
			b.failed = (uint64_t)sqlite3_column_int64(st, 12);
			if (ops->batch != NULL)
				stop = ops->batch(arg, &b);
			break;
		case 1:
			memset(&jr, 0, sizeof(jr));
			jr.batch = (uint64_t)sqlite3_column_int64(st, 0);
			jr.id = (uint64_t)sqlite3_column_int64(st, 1);
			jr.data = sqlite3_column_blob(st, 2);
			jr.datalen = (size_t)sqlite3_column_bytes(st, 2);
			if (jr.data == NULL)
				jr.data = "";
			jr.attempts = (unsigned)sqlite3_column_int(st, 3);
			jr.runs = (unsigned)sqlite3_column_int(st, 4);
			jr.charged = sqlite3_column_int(st, 5) != 0;
			if (jr.charged)
				jr.attempts++;
			if (ops->job != NULL)
				stop = ops->job(arg, &jr);
			break;
		default:
			memset(&r, 0, sizeof(r));
			r.batch = (uint64_t)sqlite3_column_int64(st, 0);
			r.id = (uint64_t)sqlite3_column_int64(st, 1);
			r.rseq = (uint64_t)sqlite3_column_int64(st, 2);
			r.status = (enum job_status)sqlite3_column_int(st, 3);
			r.out = sqlite3_column_blob(st, 4);
			r.outlen = (size_t)sqlite3_column_bytes(st, 4);
			if (r.out == NULL)
				r.out = "";
			if (sqlite3_column_type(st, 5) != SQLITE_NULL) {
				r.err = sqlite3_column_blob(st, 5);
				r.errlen = (size_t)sqlite3_column_bytes(st, 5);
				if (r.err == NULL)
					r.err = "";
			}
			if (ops->result != NULL)
				stop = ops->result(arg, &r);
			break;
		}
	}
	if (stop != 0) {
		snprintf(err, errlen, "journal %s: recovery stopped by its "
		    "caller", j->path);
		sqlite3_finalize(st);
		return (-1);
	}
	if (rc != SQLITE_DONE) {
		db_error(j, err, errlen, "recovery");
		sqlite3_finalize(st);
		return (-1);
	}
	sqlite3_finalize(st);
	return (0);
}

int
journal_recover(struct journal *j, const struct journal_recover_ops *ops,
    void *arg, char *err, size_t errlen)
{
	if (j->running) {
		snprintf(err, errlen, "journal %s: recovery after start",
		    j->path);
		return (-1);
	}
	if (exec_sql(j, "BEGIN IMMEDIATE", err, errlen, "recovery"))
		return (-1);
	if (recover_rows(j, rec_batches_sql, ops, arg, 0, err, errlen) ||
	    recover_rows(j, rec_jobs_sql, ops, arg, 1, err, errlen) ||
	    recover_rows(j, rec_results_sql, ops, arg, 2, err, errlen) ||
	    exec_sql(j, rec_charge_sql, err, errlen, "recovery") ||
	    exec_sql(j, "COMMIT", err, errlen, "recovery")) {
		sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
		return (-1);
	}
	return (0);
}

/*
 * The queue, loop side.  Each record is appended under qmu with its bytes
 * copied into the queue's buffer; the writer is woken only if it sleeps.
 */
static int
jq_grow(struct jqueue *q, size_t bytes)
{
	struct jrec	*r;
	char		*b;
	size_t		 cap;

	if (q->n == q->cap) {
		cap = q->cap ? q->cap * 2 : 1024;
		if ((r = reallocarray(q->r, cap, sizeof(*r))) == NULL)
			return (-1);
		q->r = r;
		q->cap = cap;
	}
	if (bytes > q->bcap - q->len) {
		cap = q->bcap ? q->bcap : 65536;
		while (cap - q->len < bytes)
			cap *= 2;
		if ((b = realloc(q->buf, cap)) == NULL)
			return (-1);
		q->buf = b;
		q->bcap = cap;
	}
	return (0);
}

/*
 * The bytes of a record.  A round of records without any (states, stops)
 * has no buffer at all: NULL + 0 is undefined, so it gets "".
 */
static const char *
qbytes(const struct jqueue *q, size_t off)
{
	return (q->buf != NULL ? q->buf + off : "");
}

static void
jq_free(struct jqueue *q)
{
	free(q->r);
	free(q->buf);
	memset(q, 0, sizeof(*q));
}

static void	poke(struct journal *);

static uint64_t
jq_add(struct journal *j, const struct jrec *rec, const void *p0, size_t l0,
    const void *p1, size_t l1, const void *p2, size_t l2)
{
	struct jqueue	*q = &j->q;
	struct jrec	*r;
	uint64_t	 seq = 0;

	pthread_mutex_lock(&j->qmu);
	if (j->dead || j->closing)
		goto out;
	if (jq_grow(q, l0 + l1 + l2) != 0) {
		/* A record lost is a failed journal, never a gap. */
		j->dead = true;
		pthread_mutex_unlock(&j->qmu);
		pthread_mutex_lock(&j->smu);
		if (!j->stats.failed) {
			j->stats.failed = true;
			snprintf(j->why, sizeof(j->why), "journal %s: out of "
			    "memory for its queue", j->path);
		}
		pthread_mutex_unlock(&j->smu);
		poke(j);
		return (0);
	}
	r = &q->r[q->n++];
	*r = *rec;
	r->off = q->len;
	r->len[0] = (uint32_t)l0;
	r->len[1] = (uint32_t)l1;
	r->len[2] = (uint32_t)l2;
	if (l0 != 0)
		memcpy(q->buf + q->len, p0, l0);
	q->len += l0;
	if (l1 != 0)
		memcpy(q->buf + q->len, p1, l1);
	q->len += l1;
	if (l2 != 0)
		memcpy(q->buf + q->len, p2, l2);
	q->len += l2;
	seq = r->seq = ++j->seq;
	if (j->waiting)
		pthread_cond_signal(&j->qcv);
out:
	pthread_mutex_unlock(&j->qmu);
	return (seq);
}

uint64_t
journal_batch(struct journal *j, const char *id, const char *pool,
    const char *client, int64_t created, uint64_t *keyp)
{
	struct jrec	 r = { .type = R_BATCH };
	uint64_t	 seq;

	if (client == NULL)
		client = "";
	r.batch = j->next_key;
	r.n = (uint64_t)created;
	seq = jq_add(j, &r, id, strlen(id), pool, strlen(pool), client,
	    strlen(client));
	if (seq != 0)
		*keyp = j->next_key++;
	return (seq);
}

uint64_t
journal_accept(struct journal *j, uint64_t batch, uint64_t id,
    const void *data, size_t len)
{
	struct jrec	 r = { .type = R_ACCEPT, .batch = batch, .id = id };

	if (len > UINT32_MAX)
		return (0);
	return (jq_add(j, &r, data, len, NULL, 0, NULL, 0));
}

uint64_t
journal_started(struct journal *j, uint64_t batch, uint64_t id,
    unsigned attempt)
{
	struct jrec	 r = { .type = R_START, .batch = batch, .id = id,
	    .ival = (int32_t)attempt, .n = 1 };

	return (jq_add(j, &r, NULL, 0, NULL, 0, NULL, 0));
}

/*
 * A job that droverd stopped itself (a drain's deadline, a pool stopped):
 * not running any more, so that recovery does not charge it an attempt.
 */
uint64_t
journal_stopped(struct journal *j, uint64_t batch, uint64_t id)
{
	struct jrec	 r = { .type = R_START, .batch = batch, .id = id,
	    .n = 0 };

	return (jq_add(j, &r, NULL, 0, NULL, 0, NULL, 0));
}

uint64_t
journal_done(struct journal *j, const struct journal_result *res)
{
	struct jrec	 r = { .type = R_DONE, .batch = res->batch,
	    .id = res->id, .n = res->rseq, .ival = (int32_t)res->status,
	    .has_err = res->err != NULL };

	if (res->outlen > UINT32_MAX || res->errlen > UINT32_MAX)
		return (0);
	return (jq_add(j, &r, res->out, res->outlen, res->err, res->errlen,
	    NULL, 0));
}

uint64_t
journal_delivered(struct journal *j, uint64_t batch, uint64_t upto)
{
	struct jrec	 r = { .type = R_DELIVERED, .batch = batch, .n = upto };

	return (jq_add(j, &r, NULL, 0, NULL, 0, NULL, 0));
}

uint64_t
journal_batch_state(struct journal *j, uint64_t batch,
    enum journal_batch_state state, int64_t when)
{
	struct jrec	 r = { .type = R_STATE, .batch = batch,
	    .ival = (int32_t)state, .n = (uint64_t)when };

	return (jq_add(j, &r, NULL, 0, NULL, 0, NULL, 0));
}

/* A fresh batch id: 128 random bits in hex. */
void
journal_new_id(char id[JOURNAL_ID_LEN + 1])
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 b[JOURNAL_ID_LEN / 2];
	size_t			 i;

	arc4random_buf(b, sizeof(b));
	for (i = 0; i < sizeof(b); i++) {
		id[2 * i] = hex[b[i] >> 4];
		id[2 * i + 1] = hex[b[i] & 15];
	}
	id[JOURNAL_ID_LEN] = '\0';
}

/*
 * The writer.  Only this thread touches the connection once started.
 */
static int
bind_bytes(sqlite3_stmt *st, int i, const char *p, uint32_t len)
{
	return (sqlite3_bind_blob(st, i, len ? p : "", (int)len,
	    SQLITE_STATIC));
}

static int
bind_text(sqlite3_stmt *st, int i, const char *p, uint32_t len)
{
	return (sqlite3_bind_text(st, i, len ? p : "", (int)len,
	    SQLITE_STATIC));
}

/* An accept with its start and done folded in (S_ACCEPT_FOLD). */
static void
bind_fold(sqlite3_stmt *st, const struct jqueue *q, const struct jrec *r)
{
	const struct jrec	*s = r->fstart ? &q->r[r->fstart - 1] : NULL;
	const struct jrec	*d = r->fdone ? &q->r[r->fdone - 1] : NULL;
	const char		*dp;

	sqlite3_bind_int64(st, 1, (int64_t)r->batch);
	sqlite3_bind_int64(st, 2, (int64_t)r->id);
	bind_bytes(st, 3, qbytes(q, r->off), r->len[0]);
	if (s != NULL)		/* no start folded: runs stays as it is */
		sqlite3_bind_int(st, 4, s->ival);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_int(st, 5, s != NULL && d == NULL);
	if (d == NULL) {
		sqlite3_bind_null(st, 6);
		sqlite3_bind_null(st, 7);
		sqlite3_bind_null(st, 8);
		sqlite3_bind_null(st, 9);
		return;
	}
	dp = qbytes(q, d->off);
	sqlite3_bind_int(st, 6, d->ival);
	sqlite3_bind_int64(st, 7, (int64_t)d->n);
	bind_bytes(st, 8, dp, d->len[0]);
	if (d->has_err)
		bind_bytes(st, 9, dp + d->len[0], d->len[1]);
	else
		sqlite3_bind_null(st, 9);
}

static int
apply(struct journal *j, const struct jqueue *q, const struct jrec *r)
{
	sqlite3_stmt	*st;
	const char	*p = qbytes(q, r->off);
	int		 rc;

	switch (r->type) {
	case R_BATCH:
		st = j->st[S_BATCH];
		sqlite3_bind_int64(st, 1, (int64_t)r->batch);
		bind_text(st, 2, p, r->len[0]);
		bind_text(st, 3, p + r->len[0], r->len[1]);
		bind_text(st, 4, p + r->len[0] + r->len[1], r->len[2]);
		sqlite3_bind_int64(st, 5, (int64_t)r->n);
		break;
	case R_ACCEPT:
		if (r->fstart != 0 || r->fdone != 0) {
			st = j->st[S_ACCEPT_FOLD];
			bind_fold(st, q, r);
			break;
		}
		st = j->st[S_ACCEPT];
		sqlite3_bind_int64(st, 1, (int64_t)r->batch);
		sqlite3_bind_int64(st, 2, (int64_t)r->id);
		bind_bytes(st, 3, p, r->len[0]);
		break;
	case R_START:
		st = j->st[S_START];
		sqlite3_bind_int64(st, 1, (int64_t)r->batch);
		sqlite3_bind_int64(st, 2, (int64_t)r->id);
		sqlite3_bind_int(st, 3, r->ival);
		sqlite3_bind_int(st, 4, r->n != 0);
		break;
	case R_DONE:
		st = j->st[S_DONE];
		sqlite3_bind_int64(st, 1, (int64_t)r->batch);
		sqlite3_bind_int64(st, 2, (int64_t)r->id);
		sqlite3_bind_int(st, 3, r->ival);
		sqlite3_bind_int64(st, 4, (int64_t)r->n);
		bind_bytes(st, 5, p, r->len[0]);
		if (r->has_err)
			bind_bytes(st, 6, p + r->len[0], r->len[1]);
		else
			sqlite3_bind_null(st, 6);
		break;
	case R_DELIVERED:
		st = j->st[S_DELIVERED];
		sqlite3_bind_int64(st, 1, (int64_t)r->batch);
		sqlite3_bind_int64(st, 2, (int64_t)r->n);
		break;
	default:
		st = j->st[S_STATE];
		sqlite3_bind_int64(st, 1, (int64_t)r->batch);
		sqlite3_bind_int(st, 2, r->ival);
		if (r->ival == JOURNAL_BATCH_COMPLETE)
			sqlite3_bind_int64(st, 3, (int64_t)r->n);
		else
			sqlite3_bind_null(st, 3);
		break;
	}
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return (rc == SQLITE_DONE ? 0 : -1);
}

static int
step_done(struct journal *j, int s)
{
	int	 rc = sqlite3_step(j->st[s]);

	sqlite3_reset(j->st[s]);
	return (rc == SQLITE_DONE ? 0 : -1);
}

/* Tell the loop: something changed (durable number, failure). */
static void
poke(struct journal *j)
{
	uint64_t	 one = 1;
	ssize_t		 n = 0;

	/* Only EAGAIN can fail it, when the counter is set already. */
	if (j->efd != -1)
		n = write(j->efd, &one, sizeof(one));
	(void)n;
}

/* A failure in the writer: roll back, stop, tell the loop once. */
static void
writer_fail(struct journal *j, const char *what)
{
	char	 why[sizeof(j->why)];

	db_error(j, why, sizeof(why), what);
	if (!sqlite3_get_autocommit(j->db))
		sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_lock(&j->qmu);
	j->dead = true;
	pthread_mutex_unlock(&j->qmu);
	pthread_mutex_lock(&j->smu);
	if (!j->stats.failed) {
		j->stats.failed = true;
		strlcpy(j->why, why, sizeof(j->why));
	}
	pthread_mutex_unlock(&j->smu);
	poke(j);
}

static bool
is_dead(struct journal *j)
{
	bool	 d;

	pthread_mutex_lock(&j->qmu);
	d = j->dead;
	pthread_mutex_unlock(&j->qmu);
	return (d);
}

/*
 * Answer one read: up to limit results of the batch with ids above
 * after and rseq in [rseq_lo, rseq_hi), in id order, copied (the loop
 * reads them after the statement is reset).  Run after the commit of
 * what was queued before it, outside any transaction.
 */
static void
writer_query(struct journal *j, struct jquery *qu)
{
	sqlite3_stmt		*st = j->st[S_QUERY];
	struct journal_result	*r;
	size_t			 cap = 0, bcap = 0, blen = 0, need, i;
	size_t			*offs = NULL, *no;
	const void		*out, *err;
	size_t			 outlen, errlen;
	char			*nb;
	int			 rc;

	if (is_dead(j)) {
		qu->failed = true;
		return;
	}
	sqlite3_bind_int64(st, 1, (int64_t)qu->batch);
	sqlite3_bind_int64(st, 2, qu->after);
	sqlite3_bind_int64(st, 3, (int64_t)qu->rseq_lo);
	sqlite3_bind_int64(st, 4, qu->rseq_hi > INT64_MAX ? INT64_MAX :
	    (int64_t)qu->rseq_hi);
	sqlite3_bind_int64(st, 5, (int64_t)qu->limit + 1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (qu->n == qu->limit) {
			qu->more = true;
			break;
		}
		if (qu->n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((r = reallocarray(qu->r, cap, sizeof(*r))) == NULL)
				goto nomem;
			qu->r = r;
			if ((no = reallocarray(offs, cap, 2 *
			    sizeof(*offs))) == NULL)
				goto nomem;
			offs = no;
		}
		r = &qu->r[qu->n];
		memset(r, 0, sizeof(*r));
		r->batch = qu->batch;
		r->id = (uint64_t)sqlite3_column_int64(st, 0);
		r->status = (enum job_status)sqlite3_column_int(st, 1);
		r->rseq = (uint64_t)sqlite3_column_int64(st, 2);
		out = sqlite3_column_blob(st, 3);
		outlen = (size_t)sqlite3_column_bytes(st, 3);
		err = NULL;
		errlen = 0;
		if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
			err = sqlite3_column_blob(st, 4);
			errlen = (size_t)sqlite3_column_bytes(st, 4);
		}
		need = outlen + errlen;
		if (need > bcap - blen) {
			bcap = bcap ? bcap : 65536;
			while (bcap - blen < need)
				bcap *= 2;
			if ((nb = realloc(qu->buf, bcap)) == NULL)
				goto nomem;
			qu->buf = nb;
		}
		if (outlen != 0)
			memcpy(qu->buf + blen, out, outlen);
		offs[2 * qu->n] = blen;
		r->outlen = outlen;
		blen += outlen;
		if (err != NULL || sqlite3_column_type(st, 4) != SQLITE_NULL) {
			if (errlen != 0)
				memcpy(qu->buf + blen, err, errlen);
			offs[2 * qu->n + 1] = blen;
			r->errlen = errlen;
			r->err = "";		/* made a pointer below */
		}
		blen += errlen;
		qu->n++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sqlite3_reset(st);
		free(offs);
		writer_fail(j, "cannot read results");
		qu->failed = true;
		return;
	}
	sqlite3_reset(st);
	for (i = 0; i < qu->n; i++) {
		qu->r[i].out = qu->buf != NULL ? qu->buf + offs[2 * i] : "";
		if (qu->r[i].err != NULL)
			qu->r[i].err = qu->buf != NULL ?
			    qu->buf + offs[2 * i + 1] : "";
	}
	free(offs);
	return;
nomem:
	sqlite3_reset(st);
	free(offs);
	qu->failed = true;
}

/* Answer the reads a round carried, and hand them to the loop. */
static void
writer_answer(struct journal *j, struct jqlist *asked)
{
	struct jquery	*qu;

	if (TAILQ_EMPTY(asked))
		return;
	TAILQ_FOREACH(qu, asked, entry)
		writer_query(j, qu);
	pthread_mutex_lock(&j->smu);
	while ((qu = TAILQ_FIRST(asked)) != NULL) {
		TAILQ_REMOVE(asked, qu, entry);
		TAILQ_INSERT_TAIL(&j->answered, qu, entry);
	}
	pthread_mutex_unlock(&j->smu);
	poke(j);
}

/* After a failure: the reads not reached yet are answered, failed. */
static void
writer_answer_rest(struct journal *j, const struct jqueue *q, size_t i)
{
	struct jqlist	 asked = TAILQ_HEAD_INITIALIZER(asked);

	for (; i < q->n; i++)
		if (q->r[i].type == R_QUERY)
			TAILQ_INSERT_TAIL(&asked, q->r[i].query, entry);
	writer_answer(j, &asked);
}

static uint32_t
fold_hash(uint64_t batch, uint64_t id)
{
	uint64_t	 h = (batch * 0x9e3779b97f4a7c15ULL) ^ (id *
	    0xc2b2ae3d27d4eb4fULL);

	return ((uint32_t)(h ^ (h >> 29)));
}

/*
 * Fold the starts and dones of [first, end) into the accept of their job
 * when it is in the same transaction: a trivial job's three records are
 * one INSERT then.  What the file holds after the commit is the same.
 */
static void
writer_fold(struct journal *j, struct jqueue *q, size_t first, size_t end)
{
	struct jrec	*r, *a;
	size_t		 i, k, mask;
	uint32_t	 h;

	if (j->fold_cap < 2 * (end - first)) {
		k = 1024;
		while (k < 2 * (end - first))
			k *= 2;
		free(j->fold);
		free(j->fold_used);
		j->fold = calloc(k, sizeof(*j->fold));
		j->fold_used = calloc(k, sizeof(*j->fold_used));
		if (j->fold == NULL || j->fold_used == NULL) {
			free(j->fold);
			free(j->fold_used);
			j->fold = j->fold_used = NULL;
			j->fold_cap = 0;
			return;		/* no folding: still correct */
		}
		j->fold_cap = k;
	}
	mask = j->fold_cap - 1;
	for (i = first; i < end; i++) {
		r = &q->r[i];
		if (r->type != R_ACCEPT && r->type != R_START &&
		    r->type != R_DONE)
			continue;
		if (r->type == R_START && r->n == 0)
			continue;	/* a stop: applied as it is, after */
		h = fold_hash(r->batch, r->id);
		for (k = h & mask; j->fold[k] != 0; k = (k + 1) & mask) {
			a = &q->r[j->fold[k] - 1];
			if (a->batch == r->batch && a->id == r->id)
				break;
		}
		if (r->type == R_ACCEPT) {
			if (j->fold[k] == 0) {
				j->fold[k] = (uint32_t)(i + 1);
				j->fold_used[j->fold_n++] = (uint32_t)k;
			}
			continue;
		}
		if (j->fold[k] == 0)
			continue;	/* its accept was committed before */
		a = &q->r[j->fold[k] - 1];
		if (a->fdone != 0)
			continue;	/* a done already: nothing after it */
		if (r->type == R_START)
			a->fstart = (uint32_t)(i + 1);
		else
			a->fdone = (uint32_t)(i + 1);
		r->folded = 1;
	}
	for (i = 0; i < j->fold_n; i++)
		j->fold[j->fold_used[i]] = 0;
	j->fold_n = 0;
}

/* Commit what the writer took, a transaction per txn_rows/txn_bytes. */
static void
writer_commit(struct journal *j, struct jqueue *q)
{
	size_t		 i = 0, first, bytes, end;
	uint64_t	 t0, t1, delay, rows;
	bool		 batches;
	const struct jrec *r;
	struct jqlist	 asked = TAILQ_HEAD_INITIALIZER(asked);
	size_t		 nq;

	while (i < q->n) {
		t0 = clock_us();
		if (step_done(j, S_BEGIN) != 0) {
			writer_fail(j, "cannot begin a transaction");
			writer_answer_rest(j, q, i);
			return;
		}
		first = i;
		nq = 0;
		bytes = 0;
		batches = false;
		/* The transaction: txn_rows records or txn_bytes at most. */
		end = i;
		do {
			r = &q->r[end++];
			bytes += (size_t)r->len[0] + r->len[1] + r->len[2];
		} while (end < q->n && end - first < j->conf.txn_rows &&
		    bytes < j->conf.txn_bytes);
		writer_fold(j, q, first, end);
		do {
			r = &q->r[i];
			if (r->type == R_QUERY) {
				TAILQ_INSERT_TAIL(&asked, r->query, entry);
				nq++;
				i++;
				continue;
			}
			if (r->folded) {
				i++;
				continue;
			}
			if (apply(j, q, r) != 0) {
				writer_fail(j, "cannot write");
				writer_answer(j, &asked);
				writer_answer_rest(j, q, i + 1);
				return;
			}
			batches |= r->type == R_BATCH || r->type == R_STATE;
			/* A batch completed: retention may have work. */
			if (r->type == R_STATE &&
			    r->ival == JOURNAL_BATCH_COMPLETE)
				j->ret_more = true;
			i++;
		} while (i < end);
		if ((delay = atomic_load(&j->delay_us)) != 0)
			usleep((useconds_t)delay);
		if (step_done(j, S_COMMIT) != 0) {
			writer_fail(j, "cannot commit");
			writer_answer(j, &asked);
			writer_answer_rest(j, q, i);
			return;
		}
		t1 = clock_us();
		rows = i - first - nq;
		if (journal_measure(j, batches) != 0) {
			writer_fail(j, "cannot measure");
			writer_answer(j, &asked);
			writer_answer_rest(j, q, i);
			return;
		}
		pthread_mutex_lock(&j->smu);
		j->stats.commits++;
		j->stats.rows += rows;
		j->stats.last_rows = rows;
		hist_add(&j->stats.rows_hist, rows);
		hist_add(&j->stats.commit_us, t1 - t0);
		j->stats.durable = q->r[i - 1].seq;
		pthread_mutex_unlock(&j->smu);
		atomic_store(&j->durable, q->r[i - 1].seq);
		writer_answer(j, &asked);
		poke(j);
	}
}

/*
 * One step of retention: the finished jobs of one batch completed more
 * than retention_s ago, retention_rows at most, then its row once it is
 * empty.  A batch that still holds an unfinished job is skipped.
 */
static void
writer_retention(struct journal *j)
{
	sqlite3_stmt	*st;
	int64_t		 key, now;
	int		 njobs, nb = 0, rc;

	now = (int64_t)time(NULL) - (int64_t)j->conf.retention_s;
	st = j->st[S_RPICK];
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, (int64_t)j->ret_cursor);
	rc = sqlite3_step(st);
	key = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		writer_fail(j, "retention");
		return;
	}
	if (rc == SQLITE_DONE) {
		j->ret_more = false;
		j->ret_cursor = 0;
		j->ret_next = clock_us() + RET_IDLE_US;
		return;
	}
	j->ret_more = true;
	if (step_done(j, S_BEGIN) != 0)
		goto fail;
	st = j->st[S_RJOBS];
	sqlite3_bind_int64(st, 1, key);
	sqlite3_bind_int64(st, 2, (int64_t)j->conf.retention_rows);
	if (sqlite3_step(st) != SQLITE_DONE) {
		sqlite3_reset(st);
		goto fail;
	}
	sqlite3_reset(st);
	njobs = sqlite3_changes(j->db);
	if ((size_t)njobs < j->conf.retention_rows) {
		st = j->st[S_RBATCH];
		sqlite3_bind_int64(st, 1, key);
		if (sqlite3_step(st) != SQLITE_DONE) {
			sqlite3_reset(st);
			goto fail;
		}
		sqlite3_reset(st);
		if ((nb = sqlite3_changes(j->db)) == 0)
			j->ret_cursor = (uint64_t)key;
	}
	if (step_done(j, S_COMMIT) != 0 || journal_measure(j, nb != 0) != 0)
		goto fail;
	pthread_mutex_lock(&j->smu);
	j->stats.evicted_jobs += (uint64_t)njobs;
	j->stats.evicted_batches += (uint64_t)nb;
	pthread_mutex_unlock(&j->smu);
	return;
fail:
	writer_fail(j, "retention");
}

static bool
retention_due(struct journal *j)
{
	return (j->conf.retention_s != 0 &&
	    (j->ret_more || clock_us() >= j->ret_next));
}

static void *
writer_main(void *arg)
{
	struct journal	*j = arg;
	struct jqueue	 tmp;
	struct timespec	 ts;
	uint64_t	 wait;

	pthread_mutex_lock(&j->qmu);
	for (;;) {
		if (j->q.n != 0) {
			tmp = j->q;
			j->q = j->wq;
			j->wq = tmp;
			pthread_mutex_unlock(&j->qmu);
			if (is_dead(j))
				writer_answer_rest(j, &j->wq, 0);
			else {
				writer_commit(j, &j->wq);
				/* Under a steady load, one step a round. */
				if (!is_dead(j) && retention_due(j))
					writer_retention(j);
			}
			j->wq.n = j->wq.len = 0;
			pthread_mutex_lock(&j->qmu);
			continue;
		}
		if (j->closing)
			break;
		if (!j->dead && retention_due(j)) {
			pthread_mutex_unlock(&j->qmu);
			writer_retention(j);
			pthread_mutex_lock(&j->qmu);
			continue;
		}
		j->waiting = true;
		if (j->dead || j->conf.retention_s == 0)
			pthread_cond_wait(&j->qcv, &j->qmu);
		else {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			wait = j->ret_next > clock_us() ?
			    j->ret_next - clock_us() : 0;
			ts.tv_sec += (time_t)(wait / 1000000);
			ts.tv_nsec += (long)(wait % 1000000) * 1000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&j->qcv, &j->qmu, &ts);
		}
		j->waiting = false;
	}
	pthread_mutex_unlock(&j->qmu);
	return (NULL);
}

static void
jquery_free(struct jquery *qu)
{
	free(qu->r);
	free(qu->buf);
	free(qu);
}

/* The reads answered since the last look: to their callers, in order. */
static void
journal_answers(struct journal *j)
{
	struct jqlist	 got = TAILQ_HEAD_INITIALIZER(got);
	struct jquery	*qu;

	pthread_mutex_lock(&j->smu);
	while ((qu = TAILQ_FIRST(&j->answered)) != NULL) {
		TAILQ_REMOVE(&j->answered, qu, entry);
		TAILQ_INSERT_TAIL(&got, qu, entry);
	}
	pthread_mutex_unlock(&j->smu);
	while ((qu = TAILQ_FIRST(&got)) != NULL) {
		TAILQ_REMOVE(&got, qu, entry);
		if (!qu->cancelled)
			qu->cb(qu->arg, qu->failed ? NULL : qu->r, qu->n,
			    qu->more);
		jquery_free(qu);
	}
}

struct jquery *
journal_query(struct journal *j, const struct journal_query_args *a,
    journal_query_cb cb, void *arg)
{
	struct jrec	 r = { .type = R_QUERY };
	struct jquery	*qu;

	if (!j->running || (qu = calloc(1, sizeof(*qu))) == NULL)
		return (NULL);
	qu->batch = a->batch;
	qu->after = a->after;
	qu->rseq_lo = a->rseq_lo;
	qu->rseq_hi = a->rseq_hi;
	qu->limit = a->limit != 0 ? a->limit : 1000;
	qu->cb = cb;
	qu->arg = arg;
	r.query = qu;
	if (jq_add(j, &r, NULL, 0, NULL, 0, NULL, 0) == 0) {
		free(qu);
		return (NULL);
	}
	return (qu);
}

/* The caller goes away: its answer, when it comes, is dropped. */
void
journal_query_cancel(struct jquery *qu)
{
	if (qu != NULL)
		qu->cancelled = true;
}

/* The loop side of the eventfd: committed up to the durable number. */
static void
journal_event(evutil_socket_t fd, short what, void *arg)
{
	struct journal	*j = arg;
	uint64_t	 n, durable;
	bool		 failed;
	char		 why[sizeof(j->why)];

	(void)what;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&j->smu);
	durable = j->stats.durable;
	failed = j->stats.failed;
	strlcpy(why, j->why, sizeof(why));
	pthread_mutex_unlock(&j->smu);
	if (durable > j->told) {
		j->told = durable;
		if (j->hooks.committed != NULL)
			j->hooks.committed(j->arg, durable);
	}
	if (failed && !j->told_failed) {
		j->told_failed = true;
		if (j->hooks.failed != NULL)
			j->hooks.failed(j->arg, why);
	}
	journal_answers(j);
}

int
journal_start(struct journal *j, struct event_base *base,
    const struct journal_hooks *hooks, void *arg, char *err, size_t errlen)
{
	sigset_t	 all, old;
	int		 rc;

	j->hooks = *hooks;
	j->arg = arg;
	if ((j->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		snprintf(err, errlen, "journal %s: eventfd: %s", j->path,
		    strerror(errno));
		return (-1);
	}
	if ((j->ev = event_new(base, j->efd, EV_READ | EV_PERSIST,
	    journal_event, j)) == NULL || event_add(j->ev, NULL) != 0) {
		snprintf(err, errlen, "journal %s: cannot add its event",
		    j->path);
		return (-1);
	}
	j->ret_next = clock_us();
	/* Signals stay with the loop's thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&j->thread, NULL, writer_main, j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "journal %s: cannot start its writer "
		    "thread: %s", j->path, strerror(rc));
		return (-1);
	}
	j->running = true;
	return (0);
}

/*
 * Drain the queue (the writer commits what is queued, or this thread does
 * if none was started), stop the writer, close the file, free everything.
 * The hooks are not called from here; what was committed is in
 * journal_get_stats().
 */
void
journal_close(struct journal *j)
{
	struct jquery	*qu;
	int		 i;

	if (j == NULL)
		return;
	pthread_mutex_lock(&j->qmu);
	j->closing = true;
	pthread_cond_signal(&j->qcv);
	pthread_mutex_unlock(&j->qmu);
	if (j->running)
		pthread_join(j->thread, NULL);
	else if (j->db != NULL && j->q.n != 0 && !j->dead &&
	    j->st[S_N - 1] != NULL)
		writer_commit(j, &j->q);
	while ((qu = TAILQ_FIRST(&j->answered)) != NULL) {
		TAILQ_REMOVE(&j->answered, qu, entry);
		jquery_free(qu);
	}
	if (j->ev != NULL)
		event_free(j->ev);
	if (j->efd != -1)
		close(j->efd);
	for (i = 0; i < S_N; i++)
		sqlite3_finalize(j->st[i]);
	if (j->db != NULL)
		sqlite3_close(j->db);
	jq_free(&j->q);
	jq_free(&j->wq);
	free(j->fold);
	free(j->fold_used);
	pthread_mutex_destroy(&j->qmu);
	pthread_cond_destroy(&j->qcv);
	pthread_mutex_destroy(&j->smu);
	free(j->path);
	free(j);
}

uint64_t
journal_pending(struct journal *j)
{
	uint64_t	 seq;

	pthread_mutex_lock(&j->qmu);
	seq = j->seq;
	pthread_mutex_unlock(&j->qmu);
	return (seq - atomic_load(&j->durable));
}

bool
journal_over_limit(struct journal *j)
{
	return (j->conf.max_bytes != 0 &&
	    atomic_load(&j->live_bytes) > j->conf.max_bytes);
}

void
journal_get_stats(struct journal *j, struct journal_stats *s)
{
	pthread_mutex_lock(&j->smu);
	*s = j->stats;
	pthread_mutex_unlock(&j->smu);
	pthread_mutex_lock(&j->qmu);
	s->seq = j->seq;
	pthread_mutex_unlock(&j->qmu);
}

void
journal_test_delay(struct journal *j, uint64_t us)
{
	atomic_store(&j->delay_us, us);
}

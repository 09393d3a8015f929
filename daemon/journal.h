/*
 * The journal (daemon/journal.c): droverd's durable record of batches, the
 * jobs they handed over and their results, in one SQLite file, so that
 * "accepted" can mean "committed" and a kill -9 of droverd loses nothing
 * it acknowledged.  It owns the file, its one connection, the writer
 * thread and the queue between the loop and that thread; the caller (a
 * batch, daemon/batch.h) owns the protocol: when to say ACCEPTED, what to
 * resend, what to requeue.  The same text, with the schema, is in
 * docs/architecture.md ("The journal").
 *
 * Threads.  The writer thread is droverd's first thread.  The event loop
 * stays single-threaded (docs/architecture.md, "Process model") and never
 * waits for a disk: every record call below appends to an in-memory queue
 * under a mutex and returns the record's sequence number at once.  The
 * writer wakes on a condition variable, takes everything queued, and
 * commits it in as few transactions as it can (at most txn_rows rows or
 * txn_bytes bytes each): group commit without a timer, so the transaction
 * grows with the load and a lone record is committed at once.  After each
 * commit it stores the highest durable sequence number and writes to an
 * eventfd that is a read event on the loop's event_base; the loop's side
 * reads the number and calls hooks->committed(arg, seq): every record with
 * a number up to seq is on disk (WAL, synchronous=FULL).  Nothing else
 * crosses between the threads: the queue (mutex and condition variable),
 * the durable number and the statistics (a second mutex).
 *
 * The connection.  journal_open() opens it and journal_recover() reads and
 * repairs through it, both in the caller's thread, before any thread
 * exists; journal_start() hands it to the writer, which alone uses it
 * until journal_close() has joined the writer.  The file is opened in
 * exclusive locking mode, so a second droverd on the same file fails at
 * open ("database is locked") rather than sharing it.
 *
 * Errors.  Any SQLite error in the writer stops every further commit: the
 * failing transaction is rolled back, hooks->committed is never called
 * past the last good commit, and hooks->failed(arg, why) is called once,
 * on the loop, through the same eventfd, why naming the file and SQLite's
 * error.  Records enqueued after that return 0 and are dropped; nothing is
 * logged and carried on.  What the caller does then (refuse new work,
 * stop) is its policy.
 *
 * Exactly once over at-least-once.  A job's first result wins: the store
 * applies a done only to a job without one (UPDATE ... WHERE status IS
 * NULL), and an accept only to a job it does not hold (INSERT ... ON
 * CONFLICT DO NOTHING), so a repeated record changes nothing.  Within a
 * run the loop is authoritative, since it sees every result before the
 * store does and in the same order as the queue: it gives the journal
 * only first results, each numbered by rseq, its place in the batch's
 * order of results (droverd's durable batches take each job id once,
 * daemon/durable.c; drover run matches inputs by index and hash).  Across
 * a restart the store is authoritative: recovery reports each batch with
 * its next id and rseq, and its unfinished jobs in id order.  A batch id
 * or key is never reused: the caller looks a resent batch up among the
 * recovered ones before creating it.
 *
 * Recovery (journal_recover, synchronous, before journal_start and before
 * droverd listens): in one transaction, every batch with its state and
 * counts (ops->batch), every unfinished job in batch and id order with
 * its attempts (ops->job), every result not yet delivered in batch and
 * rseq order (ops->result); a job that was running when droverd died
 * (started, no result) is charged one attempt, reported with charged set,
 * and its charge is committed with the transaction, so that a second
 * crash does not charge it twice.
 *
 * Retention: when the writer has nothing queued (and between commit
 * rounds under a steady load, once a second at least), it deletes the
 * finished jobs of batches completed more than retention_s ago, at most
 * retention_rows in a transaction, then the emptied batch rows.  An
 * unfinished job is never deleted, nor the batch that holds it.
 * journal_over_limit() says whether the live pages (page_count minus the
 * free list, times page_size, measured after each commit) exceed
 * max_bytes, so that new batches can be refused with a clear error.
 *
 * Memory: the queue is unbounded; the caller bounds it by reading
 * journal_pending() and stopping its sources above a mark, as it does for
 * a pool's room (daemon/batch.h).
 */
#ifndef DROVER_JOURNAL_H
#define DROVER_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"
#include "status.h"

struct event_base;
struct journal;

#define JOURNAL_SCHEMA_VERSION	1
#define JOURNAL_ID_LEN		32	/* a generated batch id, hex */

enum journal_batch_state {
	JOURNAL_BATCH_OPEN,	/* taking jobs */
	JOURNAL_BATCH_ENDED,	/* no more jobs; results still owed */
	JOURNAL_BATCH_COMPLETE,	/* every result delivered */
	JOURNAL_BATCH_NSTATES
};

struct journal_conf {
	const char	*path;
	uint64_t	 retention_s;	/* keep completed batches; 0: ever */
	uint64_t	 max_bytes;	/* journal_max_mb << 20; 0: no limit */
	size_t		 txn_rows;	/* rows a transaction; 0: 10000 */
	size_t		 txn_bytes;	/* bytes a transaction; 0: 4 MiB */
	size_t		 retention_rows; /* rows a deletion; 0: 1000 */
	uint32_t	 max_pages;	/* PRAGMA max_page_count; 0: none */
};

/* Called on the loop; journal_close() is not to be called from them. */
struct journal_hooks {
	/* Every record numbered up to seq is committed. */
	void	(*committed)(void *, uint64_t);
	/* The journal failed; no commit will follow.  Called once. */
	void	(*failed)(void *, const char *);
};

/* A batch as recovery reports it. */
struct journal_batchrec {
	uint64_t		 key;		/* the journal's key for it */
	const char		*id;
	const char		*pool;
	const char		*client;	/* "" if none was given */
	int64_t			 created;	/* unix time, s */
	int64_t			 completed;	/* unix time, s; 0 if not */
	enum journal_batch_state state;
	uint64_t		 delivered;	/* rseq below: delivered */
	uint64_t		 jobs;		/* accepted */
	uint64_t		 done;		/* of which have a result */
	uint64_t		 next_id;	/* above its highest job id */
	uint64_t		 next_rseq;	/* above its highest rseq */
	uint64_t		 failed;	/* results not ok */
};

/* An unfinished job as recovery reports it, to be queued again. */
struct journal_jobrec {
	uint64_t	 batch;		/* the batch's key */
	uint64_t	 id;
	const void	*data;
	size_t		 datalen;
	unsigned	 attempts;	/* charged, this recovery's included */
	unsigned	 runs;		/* attempt number of its last start */
	bool		 charged;	/* running at the crash: one more */
};

/* A result: given to journal_done(), or reported by recovery. */
struct journal_result {
	uint64_t	 batch;		/* the batch's key */
	uint64_t	 id;
	uint64_t	 rseq;		/* its place in the batch's results */
	enum job_status	 status;
	const void	*out;
	size_t		 outlen;
	const void	*err;		/* its stderr; NULL, 0 if none */
	size_t		 errlen;
};

/* Recovery's callbacks; any may be NULL.  Non-zero stops recovery. */
struct journal_recover_ops {
	int	(*batch)(void *, const struct journal_batchrec *);
	int	(*job)(void *, const struct journal_jobrec *);
	int	(*result)(void *, const struct journal_result *);
};

struct journal_stats {
	uint64_t	 seq;		/* last number handed out */
	uint64_t	 durable;	/* last number committed */
	uint64_t	 commits;
	uint64_t	 rows;		/* committed */
	uint64_t	 last_rows;	/* in the last commit */
	struct hist	 rows_hist;	/* rows a commit */
	struct hist	 commit_us;	/* BEGIN to COMMIT, us */
	uint64_t	 bytes;		/* page_count * page_size */
	uint64_t	 live_bytes;	/* less the free list */
	uint64_t	 batches[JOURNAL_BATCH_NSTATES];
	uint64_t	 evicted_batches;
	uint64_t	 evicted_jobs;
	bool		 failed;
};

struct journal	*journal_open(const struct journal_conf *, char *, size_t);
int		 journal_recover(struct journal *,
		    const struct journal_recover_ops *, void *, char *,
		    size_t);
int		 journal_start(struct journal *, struct event_base *,
		    const struct journal_hooks *, void *, char *, size_t);
void		 journal_close(struct journal *);

/*
 * The records.  Each returns its sequence number (1, 2, ...), or 0 once
 * the journal has failed.  Strings and bytes are copied.
 */
uint64_t	 journal_batch(struct journal *, const char *, const char *,
		    const char *, int64_t, uint64_t *);
uint64_t	 journal_accept(struct journal *, uint64_t, uint64_t,
		    const void *, size_t);
uint64_t	 journal_started(struct journal *, uint64_t, uint64_t,
		    unsigned);
uint64_t	 journal_stopped(struct journal *, uint64_t, uint64_t);
uint64_t	 journal_done(struct journal *, const struct journal_result *);
uint64_t	 journal_delivered(struct journal *, uint64_t, uint64_t);
uint64_t	 journal_batch_state(struct journal *, uint64_t,
		    enum journal_batch_state, int64_t);

void		 journal_new_id(char [JOURNAL_ID_LEN + 1]);
const char	*journal_path(const struct journal *);
uint64_t	 journal_pending(struct journal *);
bool		 journal_over_limit(struct journal *);
void		 journal_get_stats(struct journal *, struct journal_stats *);
const char	*journal_batch_state_name(enum journal_batch_state);

/*
 * Reads.  The writer answers a query after it has committed everything
 * queued before it, and the answer comes back on the loop, through the
 * eventfd, as cb(arg, results, n, more): up to limit results of the batch
 * with ids above after and rseq in [rseq_lo, rseq_hi), in id order (the
 * primary key: paging through a batch costs one pass), valid during the
 * call; more says that a next page may have some.  results is NULL when
 * the journal failed.  NULL if the query cannot be queued (the journal
 * failed, is closing or not started).  journal_query_cancel() before the
 * answer drops it; journal_close() drops answers not yet given.
 */
struct jquery;
struct journal_query_args {
	uint64_t	 batch;
	int64_t		 after;		/* -1 from the first id */
	uint64_t	 rseq_lo, rseq_hi;
	size_t		 limit;		/* 0: 1000 */
};
typedef void	(*journal_query_cb)(void *, const struct journal_result *,
		    size_t, bool);
struct jquery	*journal_query(struct journal *,
		    const struct journal_query_args *, journal_query_cb,
		    void *);
void		 journal_query_cancel(struct jquery *);

/* For the tests: the writer sleeps this long before each COMMIT. */
void		 journal_test_delay(struct journal *, uint64_t);

#endif

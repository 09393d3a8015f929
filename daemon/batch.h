/*
 * A batch: one stream of jobs with one origin and one destination for their
 * results.  This is the single interface between the pool and the world:
 * `drover run` implements it over stdin/stdout (cli/iobatch.c), droverd over a
 * client connection (daemon/control.c); a journal or a Redis Streams
 * consumer group would implement it the same way, and the pool code would
 * not change.
 *
 * An implementation embeds struct batch first, fills ops, and calls:
 *	pool_attach()	once, before submitting;
 *	pool_room()	how many jobs it may submit now;
 *	pool_submit()	per job (ids are its own, e.g. the input index);
 *	pool_reject()	for an input it refuses itself (too long);
 *	pool_wait_room() when it has more but no room: ops->room comes later;
 *	pool_cancel()	to drop its queued jobs (reported as cancelled);
 *	pool_hold()	to start none of its queued jobs for now (its results
 *			are not being taken), and to let them go again;
 *	pool_detach()	once every submitted job has been reported and
 *			delivered (droverd waits for its pools' batches
 *			before it exits).
 * The pool calls ops->done exactly once per submitted job, and
 * ops->closing at most once, when the pool stops (drained on SIGTERM,
 * removed by a reload, `drover stop`): the batch submits no more and ends
 * once what it submitted is reported.  Adding a job source is one file that
 * embeds struct batch and implements these ops (docs/architecture.md).
 */
#ifndef DROVER_BATCH_H
#define DROVER_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "num.h"
#include "status.h"

struct batch;
struct job;
struct pool;

/*
 * The outcome of one job, valid only during the done callback.  An ok
 * job's output is text (out, outlen), or, to a batch that takes typed
 * results (batch.typed), the number its worker sent in binary (num, with
 * out "" and outlen 0); a batch that does not take them gets its text.
 */
struct jobresult {
	enum job_status	 status;
	const char	*out;		/* output when ok, else the reason */
	size_t		 outlen;
	const struct num_value *num;	/* typed output, or NULL */
	const char	*err;		/* its stderr, if the worker sent it */
	size_t		 errlen;	/* (frame result-stderr); else 0 */
	const char	*sout;		/* a failed job's stdout, if sent */
	size_t		 soutlen;	/* (frame result-output); else 0 */
	const char	*fields;	/* members for its record, if sent */
	size_t		 fieldslen;	/* (frame result-fields, checked) */
	pid_t		 worker;	/* last worker to run it; 0 if none */
	uint64_t	 latency_us;	/* of the last run, when worker != 0 */
	unsigned	 runs;		/* times it was dispatched */
};

struct batch_ops {
	/* The pool has room again after pool_wait_room(). */
	void	(*room)(struct batch *);
	/* A job is finished for good; the job is freed after the call. */
	void	(*done)(struct batch *, struct job *, const struct jobresult *);
	/*
	 * Optional: the pool stops and takes no more jobs from it (why says
	 * why, for the client).  Jobs already submitted are still reported.
	 * The batch may detach (and be freed) from within the call.
	 */
	void	(*closing)(struct batch *, const char *);
	/* Optional: a job was sent to a worker (its run, j->runs). */
	void	(*started)(struct batch *, struct job *);
	/*
	 * Optional, called only while batch.runs is set: n ok jobs in a row
	 * from one worker (pid) whose typed outputs are 8-byte little-endian
	 * values of one kind (vals), read at now (a job's latency is now -
	 * j->sent_us).  The same as n calls of done, in order; the jobs are
	 * freed after the call.
	 */
	void	(*done_run)(struct batch *, struct job *const *, const char *,
		    size_t, enum num_kind, pid_t, uint64_t);
};

struct batch {
	const struct batch_ops	*ops;
	struct pool		*pool;
	uint64_t		 submitted;
	uint64_t		 finished;
	bool			 waiting;
	bool			 held;		/* pool_hold(): start none */
	bool			 closed;	/* ops->closing was called */
	bool			 typed;		/* done() takes jobresult.num */
	/*
	 * done_run() takes runs of typed results: set (with typed) only
	 * while an ok job needs no more than to be counted and shown (no
	 * halt to test, no journal to write, no order to keep).
	 */
	bool			 runs;
	const char		*cwd;		/* jobs' directory, or NULL */
	TAILQ_ENTRY(batch)	 wait_entry;
	TAILQ_ENTRY(batch)	 entry;
};

/* Every submitted job has been reported. */
static inline bool
batch_idle(const struct batch *b)
{
	return (b->finished == b->submitted);
}

#endif

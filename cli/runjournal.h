/*
 * `drover run --journal FILE` (runjournal.c): the journal of durable jobs
 * (daemon/journal.h) for a one-shot batch, so that running the same
 * command again with the same FILE skips the jobs already finished and
 * prints their stored results instead (drover(1), --journal).
 *
 * One file holds one command's batch, run one or more times.  Each run is
 * a batch record of the journal (a generation): its client field is the
 * command's fingerprint, "drover run" and what decides a job's result
 * (HANDLER and its -o options, --exec or --worker with --protocol, -0), and
 * it records what that run read (accept: the job's bytes, its id being the
 * input index) and what it finished (done).  At open, recovery gives every
 * result of every run; for each index the latest run's wins.  A job is
 * skipped when a result is held for its index and its bytes hash the same
 * (64-bit FNV-1a and the length); else it runs, and its new result, in
 * this run's batch, replaces the old one for the next open.
 *
 * A result's stored output is the journal's output column; the journal's
 * stderr column holds drover run's record of the rest (see rj_pack()):
 * the hash and length of the job's bytes, the worker's pid, the latency,
 * the attempts, and the stderr, a failure's stdout and the JSON fields.
 * Cancelled jobs are not stored (they run again), nor jobs over
 * --max-job-bytes (rejected again).
 *
 * The writes are asynchronous (the journal's writer thread): a result is
 * printed when it comes, and committed soon after; a job whose result was
 * printed but not committed when drover was killed runs again next time.
 */
#ifndef DROVER_RUNJOURNAL_H
#define DROVER_RUNJOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "status.h"

struct event_base;
struct job;
struct jobresult;
struct runjournal;

/* A stored result, valid until runjournal_close(). */
struct runjournal_stored {
	enum job_status	 status;
	const char	*out;
	size_t		 outlen;
	pid_t		 worker;
	uint64_t	 latency_us;
	unsigned	 runs;
	const char	*err;
	size_t		 errlen;
	const char	*sout;
	size_t		 soutlen;
	const char	*fields;
	size_t		 fieldslen;
};

struct runjournal_hooks {
	/* The queue of writes went under its mark again: input may go on. */
	void	(*resume)(void *);
	/* The journal cannot write (why names the file); once. */
	void	(*failed)(void *, const char *);
};

struct runjournal *runjournal_open(const char *, const char *, const char *,
		    bool, int *, char *, size_t);
int		 runjournal_start(struct runjournal *, struct event_base *,
		    const struct runjournal_hooks *, void *, char *, size_t);
bool		 runjournal_find(struct runjournal *, uint64_t, const char *,
		    size_t, struct runjournal_stored *);
void		 runjournal_accept(struct runjournal *, uint64_t, const char *,
		    size_t);
void		 runjournal_done(struct runjournal *, const struct job *,
		    const struct jobresult *);
bool		 runjournal_busy(struct runjournal *);
uint64_t	 runjournal_stored_count(const struct runjournal *);
bool		 runjournal_sync(struct runjournal *, struct event_base *,
		    bool);
void		 runjournal_close(struct runjournal *);

#endif

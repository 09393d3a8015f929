/*
 * The batch of `drover run`: jobs from an input (stdin or -i FILE) into a
 * pool, results into a report.  Input is taken only while the pool has room
 * and, with --ordered, while the reorder window has room, and while the
 * output not yet taken by stdout is under its high-water mark.  With
 * --journal (runjournal.h), a job finished in an earlier run is not
 * submitted: its stored result is reported as it is read; the others are
 * recorded as read and as finished, and input also waits while the
 * journal's writer is too far behind.
 */
#include <sys/uio.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>

#include "batch.h"
#include "input.h"
#include "iobatch.h"
#include "job.h"
#include "log.h"
#include "pool.h"
#include "report.h"
#include "runjournal.h"
#include "xmalloc.h"

struct iobatch {
	struct batch		 b;		/* first: the pool sees this */
	struct pool		*pool;
	struct report		*report;
	struct input		*input;
	struct runjournal	*rj;		/* --journal, or NULL */
	struct event		*ev_complete;
	uint64_t		 max_job_bytes;
	bool			 completed;
	void			(*complete)(void *);
	void			*arg;
};

static void	iobatch_room(struct batch *);
static void	iobatch_done(struct batch *, struct job *,
		    const struct jobresult *);
static void	iobatch_closing(struct batch *, const char *);
static void	iobatch_done_run(struct batch *, struct job *const *,
		    const char *, size_t, enum num_kind, pid_t, uint64_t);
static uint64_t	iobatch_in_room(void *);
static void	iobatch_in_journal(struct iobatch *, uint64_t, const char *,
		    size_t);
static void	iobatch_in_record(void *, uint64_t, const char *, size_t);
static size_t	iobatch_in_records(void *, uint64_t, const struct iovec *,
		    size_t);
static void	iobatch_in_toolong(void *, uint64_t, uint64_t);
static void	iobatch_in_error(void *, int);
static void	iobatch_in_end(void *);

static const struct batch_ops iobatch_ops = {
	.room = iobatch_room,
	.done = iobatch_done,
	.closing = iobatch_closing,
	.done_run = iobatch_done_run,
};

static const struct input_hooks iobatch_input_hooks = {
	.room = iobatch_in_room,
	.record = iobatch_in_record,
	.records = iobatch_in_records,
	.toolong = iobatch_in_toolong,
	.error = iobatch_in_error,
	.end = iobatch_in_end,
};

/* Deferred: every job reported and no input left. */
static void
iobatch_complete_cb(int fd, short what, void *arg)
{
	struct iobatch	*ib = arg;

	(void)fd;
	(void)what;
	ib->complete(ib->arg);
}

static void
iobatch_check_complete(struct iobatch *ib)
{
	if (ib->completed || !input_done(ib->input) || !batch_idle(&ib->b))
		return;
	ib->completed = true;
	event_active(ib->ev_complete, EV_TIMEOUT, 0);
}

/*
 * Read jobs from fd into pool, reporting to report; complete(arg) runs once
 * the input is exhausted (or stopped) and every job has been reported.
 */
struct iobatch *
iobatch_new(struct event_base *base, struct pool *pool, struct report *report,
    int fd, int delim, uint64_t max_job_bytes, void (*complete)(void *),
    void *arg)
{
	struct iobatch	*ib;

	ib = xcalloc(1, sizeof(*ib));
	ib->b.ops = &iobatch_ops;
	ib->b.typed = true;	/* no journal (yet): numbers as they come */
	ib->pool = pool;
	ib->report = report;
	ib->max_job_bytes = max_job_bytes;
	ib->complete = complete;
	ib->arg = arg;
	ib->input = input_new(base, fd, delim, max_job_bytes,
	    &iobatch_input_hooks, ib);
	ib->ev_complete = event_new(base, -1, 0, iobatch_complete_cb, ib);
	pool_attach(pool, &ib->b);
	return (ib);
}

void
iobatch_free(struct iobatch *ib)
{
	if (ib == NULL)
		return;
	if (ib->b.pool != NULL)
		pool_detach(ib->b.pool, &ib->b);
	input_free(ib->input);
	event_free(ib->ev_complete);
	free(ib);
}

/* Records in a regular-file input (0 if not one), for the progress line. */
uint64_t
iobatch_count_records(const struct iobatch *ib)
{
	return (input_count_records(ib->input));
}

/* Journal the jobs in rj (before iobatch_start()). */
void
iobatch_set_journal(struct iobatch *ib, struct runjournal *rj)
{
	ib->rj = rj;
	ib->b.typed = false;	/* the journal stores text */
}

/* Start reading. */
void
iobatch_start(struct iobatch *ib)
{
	ib->b.runs = ib->rj == NULL && report_takes_runs(ib->report);
	input_resume(ib->input);
}

/* Stop reading input (a signal, a failed pool, a broken stdout). */
void
iobatch_stop(struct iobatch *ib)
{
	input_stop(ib->input);
	iobatch_check_complete(ib);
}

/* The pool stops (a halt, a signal, a failure): read no more input. */
static void
iobatch_closing(struct batch *b, const char *why)
{
	(void)why;
	iobatch_stop((struct iobatch *)b);
}

/* The reorder window moved: input may go on. */
void
iobatch_resume(struct iobatch *ib)
{
	input_resume(ib->input);
}

/* Room for records: the pool's, bounded by the reorder window. */
static uint64_t
iobatch_in_room(void *arg)
{
	struct iobatch	*ib = arg;
	uint64_t	 room = pool_room(ib->pool), lim, next;

	if (!report_room(ib->report))
		return (0);	/* stdout is behind: the report resumes us */
	if (ib->rj != NULL && runjournal_busy(ib->rj))
		return (0);	/* the journal's writer resumes us */
	if (room == 0)
		pool_wait_room(ib->pool, &ib->b);
	lim = report_limit(ib->report);
	next = input_count(ib->input);
	if (lim != UINT64_MAX)
		room = next >= lim ? 0 : (room < lim - next ? room :
		    lim - next);
	return (room);
}

static void
iobatch_in_record(void *arg, uint64_t id, const char *data, size_t len)
{
	struct iobatch	*ib = arg;

	if (ib->rj != NULL)
		iobatch_in_journal(ib, id, data, len);
	else
		pool_submit(ib->pool, &ib->b, id, data, len);
}

/*
 * Records in a row: to the pool in one call.  None when they are
 * journaled, or the pool takes none so: then one by one.
 */
static size_t
iobatch_in_records(void *arg, uint64_t id, const struct iovec *recs,
    size_t n)
{
	struct iobatch	*ib = arg;

	if (ib->rj != NULL)
		return (0);
	return (pool_submit_run(ib->pool, &ib->b, id, recs, n));
}

/*
 * --journal: a job finished in an earlier run is reported from what is
 * stored; else it is journaled as accepted and runs.  Out of
 * iobatch_in_record(), so that its common path stays a jump.
 */
static void __attribute__((noinline))
iobatch_in_journal(struct iobatch *ib, uint64_t id, const char *data,
    size_t len)
{
	struct runjournal_stored s;
	struct report_extra	 ex;

	if (runjournal_find(ib->rj, id, data, len, &s)) {
		ex = (struct report_extra){ data, len, s.err, s.errlen,
		    s.sout, s.soutlen, s.fields, s.fieldslen };
		report_job(ib->report, id, s.status, s.out, s.outlen,
		    s.worker, s.latency_us, s.runs, &ex);
		return;
	}
	runjournal_accept(ib->rj, id, data, len);
	pool_submit(ib->pool, &ib->b, id, data, len);
}

static void
iobatch_in_toolong(void *arg, uint64_t id, uint64_t len)
{
	struct iobatch	*ib = arg;
	char		 why[128];

	snprintf(why, sizeof(why), "job is %llu bytes, over --max-job-bytes "
	    "%llu", (unsigned long long)len,
	    (unsigned long long)ib->max_job_bytes);
	pool_reject(ib->pool, &ib->b, id, why);
}

/* The input broke: say so; it ends there, as at EOF. */
static void
iobatch_in_error(void *arg, int err)
{
	(void)arg;
	errno = err;
	log_warn("unable to read input");
}

static void
iobatch_in_end(void *arg)
{
	iobatch_check_complete(arg);
}

/* The pool has room again. */
static void
iobatch_room(struct batch *b)
{
	input_resume(((struct iobatch *)b)->input);
}

static void
iobatch_done(struct batch *b, struct job *j, const struct jobresult *r)
{
	struct iobatch		*ib = (struct iobatch *)b;
	struct report_extra	 ex = { j->data, j->len, r->err, r->errlen,
	    r->sout, r->soutlen, r->fields, r->fieldslen };

	if (ib->rj != NULL)
		runjournal_done(ib->rj, j, r);
	if (r->num != NULL)
		report_job_num(ib->report, j->id, r->num, r->worker,
		    r->latency_us, r->runs, &ex);
	else
		report_job(ib->report, j->id, r->status, r->out, r->outlen,
		    r->worker, r->latency_us, r->runs, &ex);
	iobatch_check_complete(ib);
}

/*
 * A run of ok typed results (batch.runs: no journal, and a report that
 * takes runs): their latencies by dispatch round, then the run in bulk.
 */
static void
iobatch_done_run(struct batch *b, struct job *const *js, const char *vals,
    size_t n, enum num_kind kind, pid_t pid, uint64_t now)
{
	struct iobatch	*ib = (struct iobatch *)b;
	size_t		 i, k, retried = 0;
	uint64_t	 sent;

	for (i = 0; i < n; i = k) {
		sent = js[i]->sent_us;
		for (k = i; k < n && js[k]->sent_us == sent; k++)
			retried += js[k]->runs > 1;
		report_latency_n(ib->report, pid, now > sent ? now - sent : 0,
		    k - i);
	}
	report_run(ib->report, vals, n, kind, retried);
	iobatch_check_complete(ib);
}

struct batch *
iobatch_batch(struct iobatch *ib)
{
	return (&ib->b);
}

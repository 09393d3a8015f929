/*
 * The batch of `drover run`: jobs from a file descriptor (stdin or -i FILE),
 * one per line or per NUL-terminated item, results to a report.
 *
 * Input is read only while the pool has room (and, with --ordered, while
 * the reorder window has room), so memory stays flat however long the input
 * is: a pipe is read when it is readable, in one large read(2); a regular
 * file, which epoll cannot watch, is read directly but a few MiB per loop
 * turn so that timers and results keep flowing.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "batch.h"
#include "buf.h"
#include "iobatch.h"
#include "job.h"
#include "log.h"
#include "lsplit.h"
#include "pool.h"
#include "report.h"
#include "xmalloc.h"

#define IOBATCH_READ		(256 * 1024)
#define IOBATCH_TURN_BYTES	(4 * 1024 * 1024)

struct iobatch {
	struct batch		 b;		/* first: the pool sees this */
	struct event_base	*base;
	struct pool		*pool;
	struct report		*report;
	int			 fd;
	bool			 regular;	/* read without readiness */
	struct event		*ev_in;
	struct event		*ev_more;
	struct event		*ev_complete;
	struct buf		 in;
	struct lsplit		 ls;
	uint64_t		 max_job_bytes;
	uint64_t		 next_id;
	uint64_t		 bytes;		/* consumed, for progress */
	uint64_t		 total;		/* size of a regular file */
	bool			 readable;
	bool			 eof;		/* input at EOF */
	bool			 stopped;	/* no more input wanted */
	bool			 completed;
	void			(*complete)(void *);
	void			*arg;
};

static void	iobatch_room(struct batch *);
static void	iobatch_done(struct batch *, struct job *,
		    const struct jobresult *);
static void	iobatch_pump(struct iobatch *);

static const struct batch_ops iobatch_ops = {
	.room = iobatch_room,
	.done = iobatch_done,
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
	if (ib->completed || !(ib->eof || ib->stopped) || !batch_idle(&ib->b))
		return;
	ib->completed = true;
	event_active(ib->ev_complete, EV_TIMEOUT, 0);
}

static void
iobatch_in_cb(int fd, short what, void *arg)
{
	struct iobatch	*ib = arg;

	(void)fd;
	(void)what;
	ib->readable = true;
	iobatch_pump(ib);
}

static void
iobatch_more_cb(int fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	iobatch_pump(arg);
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
	struct stat	 st;

	ib = xcalloc(1, sizeof(*ib));
	ib->b.ops = &iobatch_ops;
	ib->base = base;
	ib->pool = pool;
	ib->report = report;
	ib->fd = fd;
	ib->max_job_bytes = max_job_bytes;
	ib->complete = complete;
	ib->arg = arg;
	buf_init(&ib->in);
	lsplit_init(&ib->ls, delim, max_job_bytes);
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		ib->regular = true;
		ib->total = (uint64_t)st.st_size;
	}
	ib->ev_in = event_new(base, fd, EV_READ | EV_PERSIST, iobatch_in_cb,
	    ib);
	if (!ib->regular && event_add(ib->ev_in, NULL) == -1) {
		/* Not pollable (e.g. /dev/null): read it like a file. */
		ib->regular = true;
	}
	ib->ev_more = event_new(base, -1, 0, iobatch_more_cb, ib);
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
	event_free(ib->ev_in);
	event_free(ib->ev_more);
	event_free(ib->ev_complete);
	buf_free(&ib->in);
	free(ib);
}

/* Start reading. */
void
iobatch_start(struct iobatch *ib)
{
	event_active(ib->ev_more, EV_TIMEOUT, 0);
}

/* Stop reading input (a signal, a failed pool, a broken stdout). */
void
iobatch_stop(struct iobatch *ib)
{
	if (ib->stopped)
		return;
	ib->stopped = true;
	event_del(ib->ev_in);
	iobatch_check_complete(ib);
}

/* How many records may be submitted now. */
static uint64_t
iobatch_room_now(const struct iobatch *ib)
{
	uint64_t	 room = pool_room(ib->pool), lim;

	lim = report_limit(ib->report);
	if (lim != UINT64_MAX)
		room = ib->next_id >= lim ? 0 : (room < lim - ib->next_id ?
		    room : lim - ib->next_id);
	return (room);
}

/* One read of input; false when there is nothing to read right now. */
static bool
iobatch_read(struct iobatch *ib, uint64_t *turn)
{
	ssize_t	 n;

	if (!ib->regular && !ib->readable) {
		event_add(ib->ev_in, NULL);
		return (false);
	}
	if (ib->regular && *turn >= IOBATCH_TURN_BYTES) {
		event_active(ib->ev_more, EV_TIMEOUT, 0);
		return (false);
	}
	n = buf_read(&ib->in, ib->fd, IOBATCH_READ);
	ib->readable = false;
	if (n > 0) {
		*turn += (uint64_t)n;
		return (true);
	}
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		event_add(ib->ev_in, NULL);
		return (false);
	}
	if (n == -1)
		log_warn("unable to read input");
	ib->eof = true;
	event_del(ib->ev_in);
	return (true);
}

/* Turn input into jobs while there is room; wait for room or input. */
static void
iobatch_pump(struct iobatch *ib)
{
	const char		*rec;
	uint64_t		 len, room, turn = 0;
	enum lsplit_result	 r;
	char			 why[128];

	while (!ib->stopped) {
		if ((room = iobatch_room_now(ib)) == 0) {
			event_del(ib->ev_in);
			if (pool_room(ib->pool) == 0)
				pool_wait_room(ib->pool, &ib->b);
			break;
		}
		r = lsplit_next(&ib->ls, &ib->in, ib->eof, &rec, &len);
		if (r == LS_RECORD) {
			ib->bytes += len + 1;
			pool_submit(ib->pool, &ib->b, ib->next_id++, rec,
			    (size_t)len);
			continue;
		}
		if (r == LS_TOOLONG) {
			ib->bytes += len + 1;
			snprintf(why, sizeof(why), "job is %llu bytes, over "
			    "--max-job-bytes %llu", (unsigned long long)len,
			    (unsigned long long)ib->max_job_bytes);
			pool_reject(ib->pool, &ib->b, ib->next_id++, why);
			continue;
		}
		if (r == LS_END) {
			event_del(ib->ev_in);
			break;
		}
		if (!iobatch_read(ib, &turn))
			break;
	}
	report_input_bytes(ib->report, ib->bytes, ib->total);
	iobatch_check_complete(ib);
}

/* The pool has room again. */
static void
iobatch_room(struct batch *b)
{
	iobatch_pump((struct iobatch *)b);
}

/* The reorder window moved: input may go on (deferred: no recursion). */
void
iobatch_resume(struct iobatch *ib)
{
	if (!ib->stopped && !event_pending(ib->ev_more, EV_TIMEOUT, NULL))
		event_active(ib->ev_more, EV_TIMEOUT, 0);
}

static void
iobatch_done(struct batch *b, struct job *j, const struct jobresult *r)
{
	struct iobatch	*ib = (struct iobatch *)b;

	report_job(ib->report, j->id, r->status, r->out, r->outlen, r->worker,
	    r->latency_us, r->runs);
	iobatch_check_complete(ib);
}

struct batch *
iobatch_batch(struct iobatch *ib)
{
	return (&ib->b);
}

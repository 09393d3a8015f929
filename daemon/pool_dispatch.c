/*
 * The path of a job through a pool: from the queue to the worker with the
 * most room (pool_pump, one write per worker and round, held back by the
 * rate limit), and its result back to its batch (pool_finish).
 *
 * The window of jobs in flight per worker adapts (unless fixed by `window`):
 * it holds about POOL_WINDOW_TARGET_US of work, from a moving average of the
 * per-job service time, between 1 and window_max.  Micro-jobs get thousands
 * in flight and many frames per syscall; slow jobs get 1 or 2, so none waits
 * behind a slow one while another worker idles.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <event2/event.h>

#include "batch.h"
#include "frame.h"
#include "clock.h"
#include "job.h"
#include "jobq.h"
#include "pool.h"
#include "pool_impl.h"
#include "poolconf.h"
#include "tbucket.h"
#include "throttle.h"
#include "worker.h"

#define POOL_SEND_CHUNK	256	/* jobs per worker_send_run() */

void
pool_pump_cb(int fd, short what, void *arg)
{
	struct pool	*p = arg;

	(void)fd;
	(void)what;
	p->kicked = false;
	pool_pump(p);
}

/* pool_kick(), the first time in a loop turn: activate the pump. */
void
pool_kick_arm(struct pool *p)
{
	p->kicked = true;
	event_active(p->ev_pump, EV_TIMEOUT, 0);
}

/*
 * Report a job as finished, with the sections its worker sent (fr, or
 * NULL), and free it.  A typed output goes to a batch that takes it as it
 * is, to the others as its text.
 */
static void
pool_finish_err(struct pool *p, struct job *j, enum job_status st,
    const char *out, size_t len, const struct frame_result *fr,
    const struct worker *w, uint64_t now)
{
	struct batch		*b = j->batch;
	struct jobresult	 r;
	char			 num[NUM_VALUE_STRLEN];

	r.status = st;
	r.out = out;
	r.outlen = len;
	r.num = NULL;
	if (fr != NULL && fr->num.kind != NUM_NONE) {
		if (b->typed)
			r.num = &fr->num;
		else {
			r.out = num;
			r.outlen = num_fmt_value(num, &fr->num);
		}
	}
	r.err = fr != NULL ? fr->err : NULL;
	r.errlen = fr != NULL ? fr->errlen : 0;
	r.sout = fr != NULL ? fr->sout : NULL;
	r.soutlen = fr != NULL ? fr->soutlen : 0;
	r.fields = fr != NULL ? fr->fields : NULL;
	r.fieldslen = fr != NULL ? fr->fieldslen : 0;
	r.runs = j->runs;
	r.worker = w != NULL ? worker_pid(w) : 0;
	r.latency_us = 0;
	if (w != NULL && j->sent_us != 0) {
		r.latency_us = now > j->sent_us ? now - j->sent_us : 0;
		histrun_add(p->durrun, r.latency_us);
	}
	p->stats.jobs[st]++;
	b->finished++;
	b->ops->done(b, j, &r);
	job_free(j);
}

/* Report a job as finished and free it. */
void
pool_finish(struct pool *p, struct job *j, enum job_status st,
    const char *out, size_t len, const struct worker *w, uint64_t now)
{
	pool_finish_err(p, j, st, out, len, NULL, w, now);
}

/* Finish a job that never ran, with a formatted reason. */
void
pool_finish_now(struct pool *p, struct job *j, enum job_status st,
    const char *reason)
{
	pool_finish(p, j, st, reason, strlen(reason), NULL, 0);
}

/* The member with the most room under the window, or NULL. */
static struct member *
pool_pick(struct pool *p, size_t *room)
{
	struct member	*best = NULL;
	size_t		 i, r, bestroom = 0;

	for (i = 0; i < p->nmembers; i++) {
		r = worker_room(p->members[i].w, p->window);
		if (r > bestroom && !p->members[i].retired) {
			best = &p->members[i];
			bestroom = r;
		}
	}
	*room = bestroom;
	return (best);
}

/*
 * Dispatch queued jobs: fill the least loaded worker up to its window, then
 * the next, one write per worker; stop at the rate limit.
 */
void
pool_pump(struct pool *p)
{
	struct member	*m;
	struct job	*j, *js[POOL_SEND_CHUNK];
	struct batch	*b;
	void		(*started)(struct batch *, struct job *) = NULL;
	size_t		 room, n, i, k, got, bytes;
	uint64_t	 now;

	if (p->state != POOL_RUNNING && p->state != POOL_DRAINING)
		goto out;
	now = clock_us();
	while (jobq_len(&p->queue) != 0) {
		if ((m = pool_pick(p, &room)) == NULL)
			break;
		n = room < jobq_len(&p->queue) ? room : jobq_len(&p->queue);
		if (p->pc->rate > 0) {
			n = (size_t)tbucket_take(&p->tb, n, now);
			if (n == 0) {
				p->stats.rate_limited++;
				if (!evtimer_pending(p->ev_rate, NULL))
					timer_arm_us(p->ev_rate,
					    tbucket_wait_us(&p->tb));
				break;
			}
		}
		if (worker_inflight(m->w) == 0)
			m->busy_since_us = now;
		m->idle_since_us = 0;
		while (n > 0 && jobq_len(&p->queue) != 0) {
			got = jobq_pop_run(&p->queue, js, n < POOL_SEND_CHUNK ?
			    n : POOL_SEND_CHUNK);
			for (i = k = 0, bytes = 0; i < got; i++) {
				j = js[i];
				if (j->batch->held) {	/* results wait */
					jobq_push(&p->parked, j);
					continue;
				}
				bytes += j->len;
				js[k++] = j;
			}
			p->queued_bytes -= bytes;
			p->inflight += k;
			n -= k;
			worker_send_run(m->w, js, k, now);
			for (i = 0, b = NULL; i < k; i++) {
				if (js[i]->batch != b) {
					b = js[i]->batch;
					started = b->ops->started;
				}
				if (started != NULL)
					started(b, js[i]);
			}
		}
		worker_flush(m->w);
	}
out:
	pool_scale_up(p);
	pool_wake_waiters(p);
	pool_check_drained(p);
}

/* Update the service-time average and the window from one read. */
static void
pool_adapt(struct pool *p, struct member *m, unsigned n, uint64_t now)
{
	double	 sample, w;

	if (n == 0)
		return;
	if (m->busy_since_us != 0 && now > m->busy_since_us) {
		sample = (double)(now - m->busy_since_us) / n;
		p->svc_us = p->svc_us == 0 ? sample :
		    p->svc_us * 0.7 + sample * 0.3;
	}
	m->busy_since_us = worker_inflight(m->w) != 0 ? now : 0;
	if (p->pc->window != 0 || p->svc_us <= 0)
		return;
	w = 1 + floor(POOL_WINDOW_TARGET_US / p->svc_us);
	if (w > p->pc->window_max)
		w = p->pc->window_max;
	/* Grow at most 8x per read so one fast sample cannot overshoot. */
	if (w > (double)p->window * 8)
		w = (double)p->window * 8;
	p->window = w < 1 ? 1 : (unsigned)w;
}

void
pool_on_ready(struct worker *w, void *arg)
{
	(void)w;
	pool_pump(arg);
}

void
pool_on_result(struct worker *w, struct job *j, bool ok,
    const struct frame_result *fr, uint64_t now, void *arg)
{
	struct pool	*p = arg;

	p->inflight--;
	pool_finish_err(p, j, ok ? JOB_OK : JOB_FAILED, fr->out, fr->outlen,
	    fr, w, now);
}

/*
 * How many of the n jobs of a run of typed results, from the first, go to
 * batches that take runs (batch.runs): those pool_on_result_run() gets.
 */
size_t
pool_on_run_len(struct worker *w, struct job *const *js, size_t n, void *arg)
{
	const struct batch	*b = NULL;
	size_t			 i;

	(void)w;
	(void)arg;
	for (i = 0; i < n; i++)
		if (js[i]->batch != b && !(b = js[i]->batch)->runs)
			break;
	return (i);
}

/*
 * A run of ok typed results, the jobs taken from w: what pool_on_result()
 * does for each, in bulk, and each batch's part of the run in one call.
 */
void
pool_on_result_run(struct worker *w, struct job *const *js, const char *vals,
    size_t n, enum num_kind kind, uint64_t now, void *arg)
{
	struct pool	*p = arg;
	struct batch	*b;
	pid_t		 pid = worker_pid(w);
	size_t		 i, k;

	for (i = 0; i < n; i = k) {
		b = js[i]->batch;
		for (k = i; k < n && js[k]->batch == b; k++)
			if (js[k]->sent_us != 0)
				histrun_add(p->durrun, now > js[k]->sent_us ?
				    now - js[k]->sent_us : 0);
		/* Counted a batch's part at a time, as one by one would. */
		p->inflight -= k - i;
		p->stats.jobs[JOB_OK] += k - i;
		b->finished += k - i;
		b->ops->done_run(b, js + i, vals + i * 8, k - i, kind, pid,
		    now);
	}
	job_free_run(js, n);
}

/* After a read of results: adapt, recycle, refill. */
void
pool_on_read_end(struct worker *w, unsigned n, uint64_t now, void *arg)
{
	struct pool	*p = arg;
	struct member	*m = pool_member(p, w);

	m->read_us = now;
	if (n != 0 && !m->results) {
		m->results = true;
		throttle_started(&p->thr);
	}
	pool_adapt(p, m, n, now);
	if (worker_inflight(w) == 0 && m->idle_since_us == 0)
		m->idle_since_us = now;
	pool_check_recycle(p, m);
	pool_pump(p);
}

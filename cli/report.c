/*
 * Batch output (see report.h).  Per-job lines are appended to a buffer and
 * written with one write(2) when it passes 64 KiB or at the end of the loop
 * turn (a zero timer), so a million results cost a few hundred writes.
 *
 * stdout never blocks the loop: a slow reader slows the batch down, like
 * any filter, but a signal is still handled at once.  Output is written
 * when the descriptor is writable; while more than REPORT_OUT_HIGH bytes
 * wait, report_room() says no and the input stops.  We do not set
 * O_NONBLOCK on our stdout, whose open file description other processes
 * may share (the shell, a sibling in a pipeline): a pipe, FIFO or terminal
 * is opened again through /proc/self/fd/1 as a description of our own, and
 * a socket is written with MSG_DONTWAIT.  Regular files do not block.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "agg.h"
#include "buf.h"
#include "clock.h"
#include "frame.h"
#include "jsonw.h"
#include "log.h"
#include "num.h"
#include "reorder.h"
#include "report.h"
#include "shell.h"
#include "xmalloc.h"

#define REPORT_FLUSH_AT		(64 * 1024)
#define REPORT_OUT_HIGH		(1024 * 1024)	/* input waits above this */
#define REPORT_PROGRESS_US	250000
#define REPORT_ERR_SHOWN	200	/* stderr bytes on a failure line */
#define REPORT_INPUT_SHOWN	60	/* input bytes on a failure line */

/* Reorder-buffer tags: an output line, or a failure (TAG_FAIL + status). */
enum {
	TAG_OUT = 0,
	TAG_FAIL = 16,
};

/* Consecutive failures with one status and reason, printed as one line. */
struct failrun {
	bool		 active;
	enum job_status	 status;
	uint64_t	 first;
	uint64_t	 last;
	struct buf	 reason;
};

struct report {
	struct event_base	*base;
	struct report_opts	 opts;
	const struct report_hooks *hooks;
	void			*arg;
	struct agg		 agg;
	struct reorder		*ro;
	struct buf		 out;		/* pending stdout */
	struct buf		 err;		/* pending stderr */
	struct buf		 rec;		/* one record, for --ordered */
	struct failrun		 run;
	struct event		*ev_flush;
	struct event		*ev_out;	/* stdout writable again */
	int			 out_fd;	/* stdout, or our own copy */
	bool			 out_sock;	/* write with MSG_DONTWAIT */
	bool			 out_waiting;	/* ev_out is added */
	bool			 held;		/* report_room() said no */
	void			(*drained)(void *);
	void			*drained_arg;
	struct event		*ev_progress;
	struct event		*ev_stats;
	struct hist		 ihist;		/* latencies this interval */
	uint64_t		 ijobs;		/* jobs at the last stats */
	uint64_t		 ifailed;
	uint64_t		 istart_us;
	uint64_t		 start_us;
	uint64_t		 total;		/* jobs; 0: not known */
	bool			 out_on_tty;	/* stderr's terminal too */
	bool			 progress_shown;
	bool			 broken;
};

static struct report	*report_progress_owner;

static void	report_failrun_flush(struct report *);

/* Erase the progress line before anything else goes to stderr. */
static void
report_progress_clear(void)
{
	struct report	*r = report_progress_owner;
	ssize_t		 n;

	if (r == NULL || !r->progress_shown)
		return;
	n = write(STDERR_FILENO, "\r\033[K", 4);
	(void)n;
	r->progress_shown = false;
}

/* Seconds as h:mm:ss. */
static void
report_clock(char *dst, size_t size, double secs)
{
	long	 t = secs > 0 ? (long)secs : 0;

	snprintf(dst, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

/*
 * Draw the progress line, counted in jobs finished (never bytes read):
 * "drover: 120/300 jobs (40%), 2 failed, 9.5 jobs/s, 0:00:12 elapsed,
 * ETA 0:00:18", or without the total and ETA when it is not known.
 */
static void
report_progress_cb(int fd, short what, void *arg)
{
	struct report	*r = arg;
	char		 line[256], el_s[32], eta_s[32];
	double		 el, rate;
	uint64_t	 done = r->agg.jobs;
	int		 n;
	ssize_t		 w;

	(void)fd;
	(void)what;
	el = (double)(clock_us() - r->start_us) / 1e6;
	rate = el > 0 ? (double)done / el : 0;
	report_clock(el_s, sizeof(el_s), el);
	if (r->total != 0) {
		if (done != 0 && done <= r->total)
			report_clock(eta_s, sizeof(eta_s),
			    el * (double)(r->total - done) / (double)done);
		else
			snprintf(eta_s, sizeof(eta_s), "-");
		n = snprintf(line, sizeof(line), "\r\033[Kdrover: %llu/%llu "
		    "jobs (%.0f%%), %llu failed, %.*f jobs/s, %s elapsed, ETA "
		    "%s", (unsigned long long)done,
		    (unsigned long long)r->total, done >= r->total ? 100.0 :
		    100.0 * (double)done / (double)r->total,
		    (unsigned long long)agg_failed(&r->agg), rate < 9.95 ? 1 :
		    0, rate, el_s, eta_s);
	} else
		n = snprintf(line, sizeof(line), "\r\033[Kdrover: %llu jobs, "
		    "%llu failed, %.*f jobs/s, %s elapsed",
		    (unsigned long long)done,
		    (unsigned long long)agg_failed(&r->agg), rate < 9.95 ? 1 :
		    0, rate, el_s);
	if (n > 0 && (size_t)n < sizeof(line)) {
		w = write(STDERR_FILENO, line, (size_t)n);
		(void)w;
		r->progress_shown = true;
	}
}

/*
 * --stats-interval: throughput and latency percentiles of the last
 * interval, on stderr.
 */
static void
report_stats_cb(int fd, short what, void *arg)
{
	struct report	*r = arg;
	uint64_t	 now = clock_us(), n = r->agg.jobs - r->ijobs;
	double		 dt = (double)(now - r->istart_us) / 1e6;

	(void)fd;
	(void)what;
	report_failrun_flush(r);
	buf_printf(&r->err, "drover: stats: %llu jobs (+%llu in %.1f s, %.0f "
	    "jobs/s), %llu failed (+%llu)", (unsigned long long)r->agg.jobs,
	    (unsigned long long)n, dt, dt > 0 ? (double)n / dt : 0,
	    (unsigned long long)agg_failed(&r->agg),
	    (unsigned long long)(agg_failed(&r->agg) - r->ifailed));
	if (r->ihist.count != 0)
		buf_printf(&r->err, "; latency p50 %lluus p90 %lluus p99 "
		    "%lluus max %lluus",
		    (unsigned long long)hist_percentile(&r->ihist, 0.5),
		    (unsigned long long)hist_percentile(&r->ihist, 0.9),
		    (unsigned long long)hist_percentile(&r->ihist, 0.99),
		    (unsigned long long)r->ihist.max);
	buf_addc(&r->err, '\n');
	hist_init(&r->ihist);
	r->ijobs = r->agg.jobs;
	r->ifailed = agg_failed(&r->agg);
	r->istart_us = now;
	report_flush(r);
}

static void	report_out_cb(int, short, void *);

/*
 * Decide how stdout is written without blocking the loop (see the top of
 * this file).  A descriptor we cannot make non-blocking on our own is
 * written as it is.
 */
static void
report_open_out(struct report *r)
{
	struct stat	 st;
	int		 fd;

	r->out_fd = STDOUT_FILENO;
	if (fstat(STDOUT_FILENO, &st) == -1)
		return;
	if (S_ISSOCK(st.st_mode))
		r->out_sock = true;
	else if ((S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) &&
	    (fd = open("/proc/self/fd/1", O_WRONLY | O_NONBLOCK |
	    O_CLOEXEC | O_NOCTTY)) != -1)
		r->out_fd = fd;
	else
		return;
	r->ev_out = event_new(r->base, r->out_fd, EV_WRITE, report_out_cb, r);
}

static void
report_flush_cb(int fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	report_flush(arg);
}

struct report *
report_new(struct event_base *base, const struct report_opts *opts)
{
	struct report	*r;
	struct timeval	 tv = { 0, REPORT_PROGRESS_US };

	r = xcalloc(1, sizeof(*r));
	r->base = base;
	r->opts = *opts;
	agg_init(&r->agg);
	buf_init(&r->out);
	buf_init(&r->err);
	buf_init(&r->rec);
	buf_init(&r->run.reason);
	if (opts->ordered)
		r->ro = reorder_new(opts->reorder_cap);
	r->ev_flush = evtimer_new(base, report_flush_cb, r);
	report_open_out(r);
	r->start_us = r->istart_us = clock_us();
	hist_init(&r->ihist);
	if (opts->stats_interval > 0) {
		struct timeval	 iv;

		iv.tv_sec = (time_t)opts->stats_interval;
		iv.tv_usec = (suseconds_t)((opts->stats_interval -
		    (double)iv.tv_sec) * 1e6);
		r->ev_stats = event_new(base, -1, EV_PERSIST, report_stats_cb,
		    r);
		event_add(r->ev_stats, &iv);
	}
	if (opts->progress) {
		struct stat	 so, se;

		r->out_on_tty = fstat(STDOUT_FILENO, &so) == 0 &&
		    fstat(STDERR_FILENO, &se) == 0 && S_ISCHR(so.st_mode) &&
		    S_ISCHR(se.st_mode) && so.st_rdev == se.st_rdev;
		r->ev_progress = event_new(base, -1, EV_PERSIST,
		    report_progress_cb, r);
		event_add(r->ev_progress, &tv);
		report_progress_owner = r;
		log_set_hook(report_progress_clear);
	}
	return (r);
}

void
report_free(struct report *r)
{
	if (r == NULL)
		return;
	if (report_progress_owner == r) {
		report_progress_clear();
		report_progress_owner = NULL;
		log_set_hook(NULL);
	}
	if (r->ev_progress != NULL)
		event_free(r->ev_progress);
	if (r->ev_stats != NULL)
		event_free(r->ev_stats);
	event_free(r->ev_flush);
	if (r->ev_out != NULL)
		event_free(r->ev_out);
	if (r->out_fd != STDOUT_FILENO)
		close(r->out_fd);
	reorder_free(r->ro);
	buf_free(&r->out);
	buf_free(&r->err);
	buf_free(&r->rec);
	buf_free(&r->run.reason);
	free(r);
}

void
report_set_hooks(struct report *r, const struct report_hooks *hooks,
    void *arg)
{
	r->hooks = hooks;
	r->arg = arg;
}

/* How many jobs there are (--total, or a counted file), for progress. */
void
report_set_total(struct report *r, uint64_t total)
{
	r->total = total;
}

/* Write all of b to fd (blocking); false if the reader is gone. */
static bool
report_write(struct buf *b, int fd)
{
	ssize_t	 n;

	while (buf_len(b) != 0) {
		n = buf_write(b, fd);
		if (n > 0)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* Someone made the fd non-blocking: wait for it. */
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
			continue;
		}
		buf_reset(b);
		return (false);
	}
	return (true);
}

/*
 * Write what stdout takes now: 1 when all is written, 0 when the rest
 * must wait for the descriptor, -1 when the reader is gone.
 */
static int
report_write_out(struct report *r)
{
	ssize_t	 n;

	while (buf_len(&r->out) != 0) {
		if (r->out_sock)
			n = send(r->out_fd, buf_data(&r->out),
			    buf_len(&r->out), MSG_DONTWAIT | MSG_NOSIGNAL);
		else
			n = write(r->out_fd, buf_data(&r->out),
			    buf_len(&r->out));
		if (n > 0) {
			buf_consume(&r->out, (size_t)n);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (r->ev_out == NULL) {	/* not ours to poll */
				struct timespec ts = { 0, 1000000 };
				nanosleep(&ts, NULL);
				continue;
			}
			return (0);
		}
		buf_reset(&r->out);
		return (-1);
	}
	return (1);
}

/* Once, after report_finish(): stdout has taken everything. */
static void
report_call_drained(struct report *r)
{
	void	(*fn)(void *) = r->drained;

	if (fn == NULL)
		return;
	r->drained = NULL;
	fn(r->drained_arg);
}

/* Write what is pending on stdout and stderr. */
void
report_flush(struct report *r)
{
	int	 rv;

	report_failrun_flush(r);
	if (buf_len(&r->err) != 0) {
		report_progress_clear();
		(void)report_write(&r->err, STDERR_FILENO);
	}
	buf_shrink(&r->err, 1024 * 1024);
	if (r->broken || r->out_waiting)
		return;
	if (r->out_on_tty && buf_len(&r->out) != 0)
		report_progress_clear();	/* no text between lines */
	if ((rv = report_write_out(r)) == -1) {
		r->broken = true;
		if (r->hooks != NULL && r->hooks->broken != NULL)
			r->hooks->broken(r->arg);
	} else if (rv == 0) {
		r->out_waiting = true;
		event_add(r->ev_out, NULL);
		return;
	}
	buf_shrink(&r->out, 1024 * 1024);
	/*
	 * Everything is written: input refused by report_room() may go on.
	 * (Deciding by the length at this call's entry missed the case of a
	 * buffer that a partial write had already taken below the mark.)
	 */
	if (r->held && !r->broken) {
		r->held = false;
		if (r->hooks != NULL && r->hooks->resume != NULL)
			r->hooks->resume(r->arg);
	}
	report_call_drained(r);
}

/* stdout is writable again. */
static void
report_out_cb(int fd, short what, void *arg)
{
	struct report	*r = arg;

	(void)fd;
	(void)what;
	r->out_waiting = false;
	report_flush(r);
}

/*
 * May the batch take more input, or is too much output waiting?  A "no"
 * is remembered: the resume hook runs once stdout has taken it all.
 */
bool
report_room(struct report *r)
{
	if (buf_len(&r->out) <= REPORT_OUT_HIGH)
		return (true);
	r->held = true;
	return (false);
}

/* Output still waiting for stdout (0 once all of it is written). */
size_t
report_pending(const struct report *r)
{
	return (r->broken ? 0 : buf_len(&r->out));
}

/* Flush now if a buffer is large, else at the end of this loop turn. */
static void
report_schedule(struct report *r)
{
	static const struct timeval zero = { 0, 0 };

	if (buf_len(&r->out) >= REPORT_FLUSH_AT ||
	    buf_len(&r->err) >= REPORT_FLUSH_AT)
		report_flush(r);
	else if (!evtimer_pending(r->ev_flush, NULL))
		evtimer_add(r->ev_flush, &zero);
}

/*
 * Append a result's fields (frame result-fields, checked by the worker
 * module: names valid, none of ours, none twice) as members.
 */
static void
report_json_fields(struct buf *b, const char *p, size_t len)
{
	struct frame_field f;

	while (frame_field_next(&p, &len, &f) == 1) {
		buf_printf(b, ",\"%.*s\":", (int)f.namelen, f.name);
		if (f.type == FRAME_FT_INT)
			buf_printf(b, "%lld", (long long)f.i);
		else
			jsonw_string(b, f.s, f.slen);
	}
}

/* Append one job's JSON object and a newline. */
static void
report_json(struct buf *b, uint64_t id, enum job_status st, const char *out,
    size_t len, pid_t pid, uint64_t lat, unsigned runs,
    const struct report_extra *ex)
{
	buf_printf(b, "{\"id\":%llu,\"status\":\"%s\",\"%s\":",
	    (unsigned long long)id, job_status_name(st),
	    st == JOB_OK ? "output" : "error");
	jsonw_string(b, out, len);
	if (ex != NULL && ex->soutlen != 0 && st != JOB_OK) {
		buf_adds(b, ",\"output\":");
		jsonw_string(b, ex->sout, ex->soutlen);
	}
	if (ex != NULL && ex->errlen != 0) {
		buf_adds(b, ",\"stderr\":");
		jsonw_string(b, ex->err, ex->errlen);
	}
	buf_printf(b, ",\"attempts\":%u", runs);
	if (pid != 0)
		buf_printf(b, ",\"worker\":%d,\"latency_us\":%llu", (int)pid,
		    (unsigned long long)lat);
	if (ex != NULL && ex->fieldslen != 0)
		report_json_fields(b, ex->fields, ex->fieldslen);
	buf_add(b, "}\n", 2);
}

/* Print the pending run of failures as one stderr line. */
static void
report_failrun_flush(struct report *r)
{
	struct failrun	*fr = &r->run;
	const char	*why = buf_data(&fr->reason);
	size_t		 i, len = buf_len(&fr->reason);

	if (!fr->active)
		return;
	fr->active = false;
	if (fr->first == fr->last)
		buf_printf(&r->err, "drover: job %llu %s: ",
		    (unsigned long long)fr->first, job_status_name(fr->status));
	else
		buf_printf(&r->err, "drover: jobs %llu-%llu %s: ",
		    (unsigned long long)fr->first,
		    (unsigned long long)fr->last, job_status_name(fr->status));
	for (i = 0; i < len; i++)	/* one line, whatever the reason */
		buf_addc(&r->err, (why[i] == '\n' || why[i] == '\r') ? ' ' :
		    why[i]);
	buf_addc(&r->err, '\n');
}

/*
 * Append s as one short line: at most max bytes, trailing newlines dropped,
 * other control bytes as spaces, "..." when cut.
 */
static void
report_oneline(struct buf *b, const char *s, size_t len, size_t max)
{
	size_t	 i;

	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		len--;
	for (i = 0; i < len && i < max; i++)
		buf_addc(b, ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ?
		    ' ' : s[i]);
	if (i < len)
		buf_adds(b, "...");
}

/*
 * The reason of a failure with stderr, in text mode: "REASON (input
 * 'JOB'): STDERR", each part cut short; --json has them whole.
 */
static void
report_err_reason(struct buf *b, const char *why, size_t len,
    const struct report_extra *ex)
{
	struct buf	 q;

	buf_add(b, why, len);
	if (ex->input != NULL) {
		buf_init(&q);
		shell_quote(&q, ex->input, ex->inlen);
		buf_adds(b, " (input ");
		report_oneline(b, buf_data(&q), buf_len(&q),
		    REPORT_INPUT_SHOWN);
		buf_addc(b, ')');
		buf_free(&q);
	}
	buf_adds(b, ": ");
	report_oneline(b, ex->err, ex->errlen, REPORT_ERR_SHOWN);
}

/*
 * A job that did not end ok, in text mode: extend the pending run if it is
 * the next id with the same status and reason, so that a failed pool or a
 * cancelled queue prints one line, not one per job.
 */
static void
report_failure(struct report *r, uint64_t id, enum job_status st,
    const char *why, size_t len)
{
	struct failrun	*fr = &r->run;

	if (fr->active && fr->status == st && id == fr->last + 1 &&
	    buf_len(&fr->reason) == len &&
	    memcmp(buf_data(&fr->reason), why, len) == 0) {
		fr->last = id;
		return;
	}
	report_failrun_flush(r);
	fr->active = true;
	fr->status = st;
	fr->first = fr->last = id;
	buf_reset(&fr->reason);
	buf_add(&fr->reason, why, len);
}

/* Emit in-order records held by the reorder buffer. */
static void
report_drain_ordered(struct report *r)
{
	const char	*data;
	size_t		 len;
	uint64_t	 seq;
	int		 tag;
	bool		 any = false;

	for (;;) {
		seq = reorder_next(r->ro);
		if (!reorder_pop(r->ro, &tag, &data, &len))
			break;
		if (tag >= TAG_FAIL)
			report_failure(r, seq,
			    (enum job_status)(tag - TAG_FAIL), data, len);
		else
			buf_add(&r->out, data, len);
		any = true;
	}
	if (any && r->hooks != NULL && r->hooks->resume != NULL)
		r->hooks->resume(r->arg);
}

/*
 * One finished job: count it and print it.  pid is 0 for a job that never
 * ran (rejected, cancelled before dispatch).
 */
void
report_job(struct report *r, uint64_t id, enum job_status st, const char *out,
    size_t len, pid_t pid, uint64_t lat, unsigned runs,
    const struct report_extra *ex)
{
	struct buf	*b, why;

	agg_job(&r->agg, st, runs, out, len);
	if (r->broken)
		return;		/* stdout is gone: we are leaving quietly */
	if (pid != 0) {
		agg_latency(&r->agg, lat);
		if (r->ev_stats != NULL)
			hist_add(&r->ihist, lat);
	}
	if (r->opts.quiet && (st == JOB_OK || r->opts.json)) {
		if (r->ro != NULL) {
			(void)reorder_put(r->ro, id, TAG_OUT, "", 0);
			report_drain_ordered(r);
		}
		return;
	}
	if (!r->opts.json && st != JOB_OK) {
		buf_init(&why);
		if (ex != NULL && ex->errlen != 0) {
			report_err_reason(&why, out, len, ex);
			out = buf_data(&why);
			len = buf_len(&why);
		}
		if (r->ro == NULL)
			report_failure(r, id, st, out, len);
		else if (reorder_put(r->ro, id, TAG_FAIL + (int)st, out,
		    len) == 0)
			report_drain_ordered(r);
		buf_free(&why);
		report_schedule(r);
		return;
	}
	if (!r->opts.json && len == 0) {	/* no output, no line */
		if (r->ro != NULL) {
			(void)reorder_put(r->ro, id, TAG_OUT, "", 0);
			report_drain_ordered(r);
		}
		return;
	}
	b = r->ro != NULL ? &r->rec : &r->out;
	if (r->ro != NULL)
		buf_reset(b);
	if (r->opts.json)
		report_json(b, id, st, out, len, pid, lat, runs, ex);
	else {
		buf_add(b, out, len);
		buf_addc(b, '\n');
	}
	if (r->ro != NULL) {
		if (reorder_put(r->ro, id, TAG_OUT, buf_data(b), buf_len(b)) ==
		    -1)
			log_warnx("job %llu reported twice or out of window",
			    (unsigned long long)id);
		report_drain_ordered(r);
	}
	report_schedule(r);
}

/* With --ordered, ids at or above this may not be submitted yet. */
uint64_t
report_limit(const struct report *r)
{
	return (r->ro != NULL ? reorder_limit(r->ro) : UINT64_MAX);
}

/*
 * Print the summary (stderr; also the last JSON line with --json), then
 * call drained(arg) once stdout has taken every byte (at once if it has,
 * or if its reader is gone).  A caller that must not wait any longer (a
 * second signal) simply leaves; what stdout did not take is dropped.
 */
void
report_finish(struct report *r, uint64_t restarts, void (*drained)(void *),
    void *arg)
{
	report_summary(r, restarts);
	r->drained = drained;
	r->drained_arg = arg;
	if (report_pending(r) == 0)
		report_call_drained(r);
}

/* Print the summary (stderr; also the last JSON line with --json). */
void
report_summary(struct report *r, uint64_t restarts)
{
	struct buf	 s;
	double		 wall = (double)(clock_us() - r->start_us) / 1e6;

	if (r->ev_progress != NULL)
		event_del(r->ev_progress);
	if (r->ev_stats != NULL)
		event_del(r->ev_stats);
	if (r->broken)
		return;		/* quiet, as a filter whose reader left */
	r->agg.restarts = restarts;
	report_failrun_flush(r);
	buf_init(&s);
	buf_adds(&s, "drover: ");
	agg_summary_text(&r->agg, wall, &s);
	buf_addc(&s, '\n');
	buf_add(&r->err, buf_data(&s), buf_len(&s));
	if (r->opts.json) {
		buf_reset(&s);
		agg_summary_json(&r->agg, wall, &s);
		buf_addc(&s, '\n');
		buf_add(&r->out, buf_data(&s), buf_len(&s));
	}
	buf_free(&s);
	report_flush(r);
}

/* Jobs that did not end ok. */
uint64_t
report_failed(const struct report *r)
{
	return (agg_failed(&r->agg));
}

uint64_t
report_jobs(const struct report *r)
{
	return (r->agg.jobs);
}

bool
report_broken(const struct report *r)
{
	return (r->broken);
}

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
#include <sys/time.h>

#include <endian.h>
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
#define REPORT_JOBLOG_AT	(64 * 1024)	/* --joblog rows written at */
#define REPORT_HALT_MIN_JOBS	3	/* finished before P% of them counts */
#define REPORT_FOLD_US		1000000	/* a failure run waits this for more */

/* Reorder-buffer tags: an output line, or a failure (TAG_FAIL + status). */
enum {
	TAG_OUT = 0,
	TAG_FAIL = 16,
};

/*
 * Failures with one status and reason and adjacent ids (in either
 * direction), printed as one line once the run is broken, at the summary,
 * or when REPORT_FOLD_US passed without another.
 */
struct failrun {
	bool		 active;
	enum job_status	 status;
	uint64_t	 first;
	uint64_t	 last;
	struct buf	 reason;	/* why, and its stderr after a NUL */
	struct buf	 first_in;	/* the inputs of the first and last */
	struct buf	 last_in;	/* jobs, as they are shown */
	bool		 has_in;
};

/*
 * A failure as the text report shows it: why (the reason), the job's
 * input, its stderr and a failed command's stdout, each maybe empty.  With
 * --ordered it waits in the reorder buffer packed as one record.
 */
struct failrec {
	const char	*why;
	size_t		 whylen;
	const char	*in;		/* NULL: not known */
	size_t		 inlen;
	const char	*err;
	size_t		 errlen;
	const char	*sout;
	size_t		 soutlen;
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
	bool			 flush_armed;	/* ev_flush is added */
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
	struct histrun		 lrun;		/* into agg.lat, in bulk */
	struct histrun		 irun;		/* into ihist */
	uint64_t		 ijobs;		/* jobs at the last stats */
	uint64_t		 ifailed;
	uint64_t		 istart_us;
	uint64_t		 start_us;
	uint64_t		 total;		/* jobs; 0: not known */
	bool			 out_on_tty;	/* stderr's terminal too */
	bool			 progress_shown;
	bool			 broken;
	struct buf		 jl;		/* pending --joblog rows */
	struct event		*ev_fold;	/* print the failure run */
	bool			 halted;
	uint64_t		 halt_failed;	/* failures before the halt */
	char			 halt_why[128];
};

static struct report	*report_progress_owner;

static void	report_failrun_flush(struct report *);
static bool	report_write(struct buf *, int);
static void	report_fold_cb(int, short, void *);
static void	report_print(struct report *, uint64_t, enum job_status,
		    const char *, size_t, pid_t, uint64_t, unsigned,
		    const struct report_extra *);
static void	report_emit(struct report *, uint64_t, enum job_status,
		    const char *, size_t, pid_t, uint64_t, unsigned,
		    const struct report_extra *);

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
	histrun_flush(&r->lrun);
	histrun_flush(&r->irun);
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

/* No failure joined the pending run for a while: print it. */
static void
report_fold_cb(int fd, short what, void *arg)
{
	struct report	*r = arg;

	(void)fd;
	(void)what;
	report_failrun_flush(r);
	report_flush(r);
}

static void
report_flush_cb(int fd, short what, void *arg)
{
	struct report	*r = arg;

	(void)fd;
	(void)what;
	r->flush_armed = false;
	report_flush(r);
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
	buf_init(&r->run.first_in);
	buf_init(&r->run.last_in);
	if (opts->ordered)
		r->ro = reorder_new(opts->reorder_cap);
	r->ev_flush = evtimer_new(base, report_flush_cb, r);
	report_open_out(r);
	buf_init(&r->jl);
	if (opts->joblog_fd != -1)
		buf_adds(&r->jl, "Seq\tHost\tStarttime\tJobRuntime\tSend\t"
		    "Receive\tExitval\tSignal\tCommand\n");
	r->ev_fold = evtimer_new(base, report_fold_cb, r);
	r->start_us = r->istart_us = clock_us();
	hist_init(&r->ihist);
	r->lrun.h = &r->agg.lat;
	r->irun.h = &r->ihist;
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
	event_free(r->ev_fold);
	report_failrun_flush(r);
	if (buf_len(&r->err) != 0)
		(void)report_write(&r->err, STDERR_FILENO);
	if (r->opts.joblog_fd != -1) {
		(void)report_write(&r->jl, r->opts.joblog_fd);
		close(r->opts.joblog_fd);
	}
	buf_free(&r->jl);
	if (r->ev_out != NULL)
		event_free(r->ev_out);
	if (r->out_fd != STDOUT_FILENO)
		close(r->out_fd);
	reorder_free(r->ro);
	buf_free(&r->out);
	buf_free(&r->err);
	buf_free(&r->rec);
	buf_free(&r->run.reason);
	buf_free(&r->run.first_in);
	buf_free(&r->run.last_in);
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

	if (buf_len(&r->err) != 0) {
		report_progress_clear();
		(void)report_write(&r->err, STDERR_FILENO);
	}
	if (r->opts.joblog_fd != -1 && buf_len(&r->jl) != 0 &&
	    !report_write(&r->jl, r->opts.joblog_fd)) {
		log_warn("--joblog: write failed; no more rows");
		close(r->opts.joblog_fd);
		r->opts.joblog_fd = -1;
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
	    buf_len(&r->err) >= REPORT_FLUSH_AT ||
	    buf_len(&r->jl) >= REPORT_JOBLOG_AT)
		report_flush(r);
	else if (!r->flush_armed) {	/* a flag: no event_pending() a job */
		r->flush_armed = true;
		evtimer_add(r->ev_flush, &zero);
	}
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

/* A job's input as a failure line shows it: shell-quoted, cut short. */
static void
report_input_shown(struct buf *b, const char *in, size_t inlen)
{
	struct buf	 q;

	buf_init(&q);
	shell_quote(&q, in, inlen);
	report_oneline(b, buf_data(&q), buf_len(&q), REPORT_INPUT_SHOWN);
	buf_free(&q);
}

/*
 * Print the pending run of failures as one stderr line:
 *	drover: job ID STATUS[: WHY][ (input 'IN')][: STDERR]
 *	drover: jobs A-B STATUS[: WHY][ (inputs 'IN_A' ... 'IN_B')]
 * A reason that only repeats the status ("cancelled: cancelled") is left
 * out.
 */
static void
report_failrun_flush(struct report *r)
{
	struct failrun	*fr = &r->run;
	const char	*why = buf_data(&fr->reason), *err;
	const char	*name = job_status_name(fr->status);
	size_t		 i, len, errlen;

	if (!fr->active)
		return;
	fr->active = false;
	len = strnlen(why, buf_len(&fr->reason));
	err = why + len + 1;
	errlen = buf_len(&fr->reason) - len - 1;
	if (fr->first == fr->last)
		buf_printf(&r->err, "drover: job %llu %s",
		    (unsigned long long)fr->first, name);
	else
		buf_printf(&r->err, "drover: jobs %llu-%llu %s",
		    (unsigned long long)fr->first,
		    (unsigned long long)fr->last, name);
	if (len != 0 && !(len == strlen(name) && memcmp(why, name, len) == 0)) {
		buf_adds(&r->err, ": ");
		for (i = 0; i < len; i++)	/* one line, whatever it is */
			buf_addc(&r->err, (why[i] == '\n' ||
			    why[i] == '\r') ? ' ' : why[i]);
	}
	if (fr->has_in) {
		buf_adds(&r->err, fr->first == fr->last ? " (input " :
		    " (inputs ");
		buf_add(&r->err, buf_data(&fr->first_in),
		    buf_len(&fr->first_in));
		if (fr->first != fr->last) {
			buf_adds(&r->err, " ... ");
			buf_add(&r->err, buf_data(&fr->last_in),
			    buf_len(&fr->last_in));
		}
		buf_addc(&r->err, ')');
	}
	if (errlen != 0) {
		buf_adds(&r->err, ": ");
		report_oneline(&r->err, err, errlen, REPORT_ERR_SHOWN);
	}
	buf_addc(&r->err, '\n');
}

/* Do (a, n) and (b, n) hold the same bytes?  Either may be NULL if n is 0. */
static bool
same_bytes(const char *a, const char *b, size_t n)
{
	return (n == 0 || memcmp(a, b, n) == 0);
}

/* Is f the same failure as the pending run's (reason and stderr)? */
static bool
report_failrun_same(const struct failrun *fr, enum job_status st,
    const struct failrec *f)
{
	const char	*p = buf_data(&fr->reason);

	return (fr->active && fr->status == st && fr->has_in == (f->in !=
	    NULL) && buf_len(&fr->reason) == f->whylen + 1 + f->errlen &&
	    same_bytes(p, f->why, f->whylen) && p[f->whylen] == '\0' &&
	    same_bytes(p + f->whylen + 1, f->err, f->errlen));
}

/*
 * A job that did not end ok, in text mode: extend the pending run if its id
 * is next to the run's (above or below) with the same status, reason and
 * stderr, so that a failed pool or a cancelled queue prints one line, not
 * one per job; the line names the first and last inputs of the run.
 */
static void
report_failure(struct report *r, uint64_t id, enum job_status st,
    const struct failrec *f)
{
	static const struct timeval fold = { REPORT_FOLD_US / 1000000,
	    REPORT_FOLD_US % 1000000 };
	struct failrun	*fr = &r->run;
	struct buf	*in;

	if (report_failrun_same(fr, st, f) && (id == fr->last + 1 ||
	    (fr->first != 0 && id == fr->first - 1))) {
		if (id < fr->first) {
			fr->first = id;
			in = &fr->first_in;
		} else {
			fr->last = id;
			in = &fr->last_in;
		}
		buf_reset(in);
		if (f->in != NULL)
			report_input_shown(in, f->in, f->inlen);
		evtimer_add(r->ev_fold, &fold);
		return;
	}
	report_failrun_flush(r);
	evtimer_add(r->ev_fold, &fold);
	fr->active = true;
	fr->status = st;
	fr->first = fr->last = id;
	buf_reset(&fr->reason);
	buf_add(&fr->reason, f->why, f->whylen);
	buf_addc(&fr->reason, '\0');
	buf_add(&fr->reason, f->err, f->errlen);
	fr->has_in = f->in != NULL;
	buf_reset(&fr->first_in);
	buf_reset(&fr->last_in);
	if (f->in != NULL) {
		report_input_shown(&fr->first_in, f->in, f->inlen);
		buf_add(&fr->last_in, buf_data(&fr->first_in),
		    buf_len(&fr->first_in));
	}
}

/* Pack a failure into one reorder record: four lengths, then the parts. */
static void
failrec_pack(struct buf *b, const struct failrec *f)
{
	uint64_t	 n[4] = { f->whylen, f->in != NULL ? f->inlen :
			    UINT64_MAX, f->errlen, f->soutlen };

	buf_reset(b);
	buf_add(b, n, sizeof(n));
	buf_add(b, f->why, f->whylen);
	if (f->in != NULL)
		buf_add(b, f->in, f->inlen);
	buf_add(b, f->err, f->errlen);
	buf_add(b, f->sout, f->soutlen);
}

static void
failrec_unpack(const char *p, struct failrec *f)
{
	uint64_t	 n[4];

	memcpy(n, p, sizeof(n));
	p += sizeof(n);
	f->why = p;
	f->whylen = n[0];
	p += n[0];
	f->in = n[1] == UINT64_MAX ? NULL : p;
	f->inlen = n[1] == UINT64_MAX ? 0 : n[1];
	p += f->inlen;
	f->err = p;
	f->errlen = n[2];
	p += n[2];
	f->sout = p;
	f->soutlen = n[3];
}

static void	report_tagged(struct buf *, const char *, size_t, const char *,
		    size_t);

/*
 * Show a failure now: a failed command's stdout on stdout, as a job's
 * output would be (with --tag's prefix), then its line on stderr.
 */
static void
report_fail_show(struct report *r, uint64_t id, enum job_status st,
    const struct failrec *f)
{
	if (f->soutlen != 0) {
		if (r->opts.tag)
			report_tagged(&r->out, f->sout, f->soutlen,
			    f->in != NULL ? f->in : "", f->inlen);
		else
			buf_add(&r->out, f->sout, f->soutlen);
		if (f->sout[f->soutlen - 1] != '\n')
			buf_addc(&r->out, '\n');
	}
	report_failure(r, id, st, f);
}

/* Emit in-order records held by the reorder buffer. */
static void
report_drain_ordered(struct report *r)
{
	struct failrec	 f;
	const char	*data;
	size_t		 len;
	uint64_t	 seq;
	int		 tag;
	bool		 any = false;

	for (;;) {
		seq = reorder_next(r->ro);
		if (!reorder_pop(r->ro, &tag, &data, &len))
			break;
		if (tag >= TAG_FAIL) {
			failrec_unpack(data, &f);
			report_fail_show(r, seq,
			    (enum job_status)(tag - TAG_FAIL), &f);
		} else
			buf_add(&r->out, data, len);
		any = true;
	}
	if (any && r->hooks != NULL && r->hooks->resume != NULL)
		r->hooks->resume(r->arg);
}

/*
 * Append --tag's prefix (the job's input and a tab) and one output record,
 * each line of it prefixed alike.
 */
static void
report_tagged(struct buf *b, const char *out, size_t len, const char *in,
    size_t inlen)
{
	size_t		 i;

	buf_add(b, in, inlen);
	buf_addc(b, '\t');
	for (i = 0; i < len; i++) {
		buf_addc(b, out[i]);
		if (out[i] == '\n' && i + 1 < len) {
			buf_add(b, in, inlen);
			buf_addc(b, '\t');
		}
	}
}

/*
 * The Exitval and Signal columns of a --joblog row: what the reason says
 * when it is an exec handler's "exit status N" or "killed by signal N", else
 * 0 for ok, 1 for failed, -1 with signal 9 for a job whose worker was
 * killed or died (timeout, crashed), -1 for one that never ran.
 */
static void
report_joblog_exit(enum job_status st, const char *why, size_t len,
    int *exitval, int *sig)
{
	char	 s[64];

	*exitval = 0;
	*sig = 0;
	if (st == JOB_OK)
		return;
	snprintf(s, sizeof(s), "%.*s", (int)(len < 63 ? len : 63), why);
	if (sscanf(s, "exit status %d", exitval) == 1)
		return;
	if (sscanf(s, "killed by signal %d", sig) == 1) {
		*exitval = -1;
		return;
	}
	switch (st) {
	case JOB_FAILED:
		*exitval = 1;
		break;
	case JOB_TIMEOUT:
	case JOB_CRASHED:
		*exitval = -1;
		*sig = 9;
		break;
	default:
		*exitval = -1;
		break;
	}
}

/*
 * Append one --joblog row in GNU parallel's format (drover(1)): the start
 * is the time of the result less the job's latency.
 */
static void
report_joblog_row(struct report *r, uint64_t id, enum job_status st,
    const char *out, size_t len, pid_t pid, uint64_t lat,
    const struct report_extra *ex)
{
	struct timeval	 now;
	double		 end, run = pid != 0 ? (double)lat / 1e6 : 0;
	size_t		 i;
	int		 exitval, sig;

	gettimeofday(&now, NULL);
	end = (double)now.tv_sec + (double)now.tv_usec / 1e6;
	report_joblog_exit(st, out, len, &exitval, &sig);
	buf_printf(&r->jl, "%llu\t:\t%.3f\t%.3f\t%zu\t%zu\t%d\t%d\t",
	    (unsigned long long)id + 1, end - run, run,
	    pid != 0 && ex != NULL ? ex->inlen : 0, st == JOB_OK ? len : 0,
	    exitval, sig);
	for (i = 0; ex != NULL && ex->input != NULL && i < ex->inlen; i++)
		buf_addc(&r->jl, (ex->input[i] == '\n' ||
		    ex->input[i] == '\t' || ex->input[i] == '\0') ? ' ' :
		    ex->input[i]);
	buf_addc(&r->jl, '\n');
}

/*
 * Is --halt's condition met after this job?  P% counts against the total
 * when it is known (as GNU parallel does), else against the jobs finished
 * so far, once at least REPORT_HALT_MIN_JOBS have.
 */
static bool
report_halt_met(struct report *r)
{
	const struct report_halt *h = &r->opts.halt;
	uint64_t	 failed = agg_failed(&r->agg), done = r->agg.jobs;
	uint64_t	 n = h->success ? done - failed : failed, of;

	if (h->when == HALT_NEVER || n == 0)
		return (false);
	if (!h->percent)
		return ((double)n >= h->value);
	of = r->total != 0 ? r->total : done;
	if (r->total == 0 && done < REPORT_HALT_MIN_JOBS)
		return (false);
	return ((double)n * 100.0 >= h->value * (double)of);
}

/*
 * Check --halt after a job; say why and run the hook at once, so that no
 * other job starts (the jobs it cancels are reported from within it).
 */
static void
report_halt_test(struct report *r)
{
	const struct report_halt *h = &r->opts.halt;
	uint64_t	 failed = agg_failed(&r->agg);
	uint64_t	 n = h->success ? r->agg.jobs - failed : failed;

	if (r->halted || !report_halt_met(r))
		return;
	r->halted = true;
	r->halt_failed = failed;
	snprintf(r->halt_why, sizeof(r->halt_why), "halted: %llu job%s %s",
	    (unsigned long long)n, n == 1 ? "" : "s", h->success ?
	    "succeeded" : "failed");
	log_warnx("%s: %s", r->halt_why, h->when == HALT_NOW ?
	    "stopping the jobs running" :
	    "starting no more jobs, waiting for those running");
	if (r->hooks != NULL && r->hooks->halt != NULL)
		r->hooks->halt(r->arg, h->when == HALT_NOW, r->halt_why);
}

/* After each job, unless there is no --halt (inline: a test per job). */
static inline void
report_halt_check(struct report *r)
{
	if (r->opts.halt.when != HALT_NEVER)
		report_halt_test(r);
}

/*
 * One finished job: count it, log it and print it.  pid is 0 for a job
 * that never ran (rejected, cancelled before dispatch).  After a halt,
 * a cancelled job's reason is the halt's.
 */
void
report_job(struct report *r, uint64_t id, enum job_status st, const char *out,
    size_t len, pid_t pid, uint64_t lat, unsigned runs,
    const struct report_extra *ex)
{
	if (r->halted && st == JOB_CANCELLED) {
		out = r->halt_why;
		len = strlen(out);
	} else if (r->halted && st != JOB_OK)
		r->halt_failed++;
	agg_job(&r->agg, st, runs, out, len);
	report_emit(r, id, st, out, len, pid, lat, runs, ex);
}

/*
 * A job's latency, when it ran, into the summary's and the interval's, in
 * runs of equal values (histrun): flushed before either is read.
 */
static inline void
report_latency(struct report *r, pid_t pid, uint64_t lat)
{
	if (pid != 0) {
		histrun_add(&r->lrun, lat);
		if (r->ev_stats != NULL)
			histrun_add(&r->irun, lat);
	}
}

/*
 * An ok job whose worker sent its output as a number (typed results,
 * jobresult.num): counted as the number, and formatted only when
 * something shows it: in place, for a plain output line; else as the
 * text that report_job() would have had.
 */
void
report_job_num(struct report *r, uint64_t id, const struct num_value *v,
    pid_t pid, uint64_t lat, unsigned runs, const struct report_extra *ex)
{
	char	 tmp[NUM_VALUE_STRLEN], *p;
	size_t	 len;

	agg_job_value(&r->agg, runs, v);
	if (r->opts.joblog_fd == -1 && (r->broken || r->opts.quiet ||
	    r->opts.failed_only)) {
		if (r->ro != NULL && !r->broken)
			report_print(r, id, JOB_OK, "", 0, pid, lat, runs, ex);
		else if (!r->broken)
			report_latency(r, pid, lat);	/* and nothing shown */
		report_halt_check(r);
		return;
	}
	if (r->opts.joblog_fd == -1 && r->ro == NULL && !r->opts.json &&
	    !r->opts.tag) {
		report_latency(r, pid, lat);
		p = buf_reserve(&r->out, NUM_VALUE_STRLEN + 1);
		len = num_fmt_value(p, v);
		p[len] = '\n';
		buf_commit(&r->out, len + 1);
		report_schedule(r);
		report_halt_check(r);
		return;
	}
	len = num_fmt_value(tmp, v);
	report_emit(r, id, JOB_OK, tmp, len, pid, lat, runs, ex);
}

/*
 * Whether report_run() may take runs of ok typed results: the only things
 * kept of them are the aggregate, the latencies and plain output lines (no
 * joblog, no order to keep, no halt to test, no JSON or tags).
 */
bool
report_takes_runs(const struct report *r)
{
	return (r->opts.joblog_fd == -1 && r->ro == NULL &&
	    r->opts.halt.when == HALT_NEVER && (r->opts.quiet ||
	    r->opts.failed_only || (!r->opts.json && !r->opts.tag)));
}

/* n latencies of one value, as n report_latency() calls would count. */
void
report_latency_n(struct report *r, pid_t pid, uint64_t lat, size_t n)
{
	if (pid == 0 || r->broken)
		return;
	histrun_add_n(&r->lrun, lat, n);
	if (r->ev_stats != NULL)
		histrun_add_n(&r->irun, lat, n);
}

/*
 * n ok jobs in a row whose outputs are typed, 8-byte little-endian values
 * of one kind (vals), retried of them dispatched more than once: counted
 * and shown as n report_job_num() calls would, given report_takes_runs().
 * Their latencies are the caller's, by report_latency_n().
 */
void
report_run(struct report *r, const char *vals, size_t n, enum num_kind kind,
    size_t retried)
{
	struct num_value v;
	uint64_t	 u;
	size_t		 i, off = 0;
	char		*p;

	agg_run(&r->agg, vals, n, kind, retried);
	if (r->broken || r->opts.quiet || r->opts.failed_only || n == 0)
		return;
	p = buf_reserve(&r->out, n * (NUM_VALUE_STRLEN + 1));
	v.kind = kind;
	for (i = 0; i < n; i++) {
		memcpy(&u, vals + i * 8, 8);
		u = le64toh(u);
		if (kind == NUM_INT)
			v.i = (int64_t)u;
		else
			memcpy(&v.d, &u, 8);
		off += num_fmt_value(p + off, &v);
		p[off++] = '\n';
	}
	buf_commit(&r->out, off);
	report_schedule(r);
}

/*
 * Whether report_sums() may take the sums of runs instead (a SUMS, ctl.h):
 * runs are taken and their ok outputs are not shown.
 */
bool
report_takes_sums(const struct report *r)
{
	return (report_takes_runs(r) && (r->opts.quiet ||
	    r->opts.failed_only));
}

/*
 * n ok jobs in a row whose integer outputs sum to s, lo and hi the least
 * and the greatest, retried of them dispatched more than once: counted as
 * report_run() would count them, given report_takes_sums().
 */
void
report_sums(struct report *r, uint64_t n, i128 s, int64_t lo, int64_t hi,
    uint64_t retried)
{
	agg_sums(&r->agg, n, s, lo, hi, retried);
}

/* What report_job() does once the job is counted: log it, print it. */
static void
report_emit(struct report *r, uint64_t id, enum job_status st,
    const char *out, size_t len, pid_t pid, uint64_t lat, unsigned runs,
    const struct report_extra *ex)
{
	if (r->opts.joblog_fd != -1) {
		report_joblog_row(r, id, st, out, len, pid, lat, ex);
		if (r->broken && buf_len(&r->jl) >= REPORT_JOBLOG_AT)
			report_flush(r);
	}
	if (!r->broken)
		report_print(r, id, st, out, len, pid, lat, runs, ex);
	report_halt_check(r);
}

/* Print one job (text or JSON, in order or not) unless stdout is gone. */
static void
report_print(struct report *r, uint64_t id, enum job_status st,
    const char *out, size_t len, pid_t pid, uint64_t lat, unsigned runs,
    const struct report_extra *ex)
{
	struct buf	*b;
	struct failrec	 f;

	report_latency(r, pid, lat);
	if ((st == JOB_OK && (r->opts.quiet || r->opts.failed_only)) ||
	    (r->opts.quiet && r->opts.json)) {
		if (r->ro != NULL) {
			(void)reorder_put(r->ro, id, TAG_OUT, "", 0);
			report_drain_ordered(r);
		}
		return;
	}
	if (!r->opts.json && st != JOB_OK) {
		memset(&f, 0, sizeof(f));
		f.why = out;
		f.whylen = len;
		if (ex != NULL) {
			f.in = ex->input;
			f.inlen = ex->inlen;
			f.err = ex->err;
			f.errlen = ex->errlen;
			f.sout = ex->sout;
			f.soutlen = ex->soutlen;
		}
		if (r->ro == NULL)
			report_fail_show(r, id, st, &f);
		else {
			failrec_pack(&r->rec, &f);
			if (reorder_put(r->ro, id, TAG_FAIL + (int)st,
			    buf_data(&r->rec), buf_len(&r->rec)) == 0)
				report_drain_ordered(r);
		}
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
		if (r->opts.tag)
			report_tagged(b, out, len, ex != NULL &&
			    ex->input != NULL ? ex->input : "", ex != NULL &&
			    ex->input != NULL ? ex->inlen : 0);
		else
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
	histrun_flush(&r->lrun);
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

/* Has --halt stopped the batch? */
bool
report_halted(const struct report *r)
{
	return (r->halted);
}

/*
 * After a halt on success=: did every job end ok, but those the halt
 * cancelled?  Then the batch exits 0 (drover(1), EXIT STATUS).
 */
bool
report_halt_ok(const struct report *r)
{
	return (r->halted && r->opts.halt.success && r->halt_failed == 0);
}

/*
 * Parse --halt's argument: never, now|soon,fail=N, fail=P%, success=N,
 * success=P%; and GNU parallel's old forms 0, 1, 2, -1, -2 and P%.
 * Returns -1 if it is none of these.
 */
int
report_halt_parse(const char *arg, struct report_halt *h)
{
	const char	*why;
	char		*end;
	size_t		 n;

	memset(h, 0, sizeof(*h));
	if (strcmp(arg, "never") == 0 || strcmp(arg, "0") == 0)
		return (0);
	h->value = 1;
	if (strcmp(arg, "1") == 0 || strcmp(arg, "2") == 0) {
		h->when = arg[0] == '1' ? HALT_SOON : HALT_NOW;
		return (0);
	}
	if (strcmp(arg, "-1") == 0 || strcmp(arg, "-2") == 0) {
		h->when = arg[1] == '1' ? HALT_SOON : HALT_NOW;
		h->success = true;
		return (0);
	}
	if (strncmp(arg, "now,", 4) == 0) {
		h->when = HALT_NOW;
		why = arg + 4;
	} else if (strncmp(arg, "soon,", 5) == 0) {
		h->when = HALT_SOON;
		why = arg + 5;
	} else {
		h->when = HALT_SOON;	/* "P%": soon,fail=P% */
		why = arg;
	}
	if (strncmp(why, "fail=", 5) == 0)
		why += 5;
	else if (strncmp(why, "success=", 8) == 0) {
		h->success = true;
		why += 8;
	} else if (why != arg || strchr(arg, '%') == NULL)
		return (-1);
	n = strlen(why);
	if (n == 0 || why[0] < '0' || why[0] > '9')
		return (-1);
	if (why[n - 1] == '%') {
		h->percent = true;
		h->value = strtod(why, &end);
		if (end != why + n - 1 || !(h->value > 0) || h->value > 100)
			return (-1);
	} else {
		h->value = strtod(why, &end);
		if (*end != '\0' || !(h->value >= 1) ||
		    h->value != (double)(uint64_t)h->value)
			return (-1);
	}
	return (0);
}

/*
 * Open --joblog's file for writing (created, truncated): a regular file, so
 * that its writes never wait long; -1 with a message if it cannot be.
 */
int
report_joblog_open(const char *path)
{
	struct stat	 st;
	int		 fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOCTTY, 0666)) == -1) {
		log_warn("--joblog: unable to open %s", path);
		return (-1);
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		log_warnx("--joblog: %s is not a regular file", path);
		close(fd);
		return (-1);
	}
	return (fd);
}

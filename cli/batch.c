/*
 * `drover results ID` and `drover batches`: what droverd's journal holds
 * of durable batches (docs/protocol.md, "Durable batches").  results
 * prints a batch's results and summary exactly as `drover submit` prints
 * them (report.c), so it runs on an event loop over a peer as submit does:
 * the report writes stdout without blocking.  batches asks one question.
 */
#include <sys/types.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "cli.h"
#include "client.h"
#include "ctl.h"
#include "idset.h"
#include "jsonw.h"
#include "log.h"
#include "opts.h"
#include "peer.h"
#include "report.h"
#include "status.h"

#define FETCH_ID_LEAP	(1ULL << 32)	/* ids past this jump are bogus */

/* The state of one `drover results`. */
struct fetch {
	struct event_base	*base;
	struct peer		*peer;
	struct report		*report;
	struct event		*ev_timer;	/* the REPLY, or a silence */
	struct idset		 seen;		/* open: no result seen yet */
	const char		*batch;
	double			 timeout;
	bool			 wait;		/* --wait */
	bool			 replied;
	bool			 finishing;
	bool			 broken;	/* stdout is gone */
	int			 status;	/* exit status if decided */
	uint64_t		 restarts;
};

static void	fetch_end(struct fetch *, int);

static void
fetch_arm(struct fetch *f)
{
	struct timeval	 tv;

	tv.tv_sec = (time_t)f->timeout;
	tv.tv_usec = (suseconds_t)((f->timeout - (double)tv.tv_sec) * 1e6);
	evtimer_add(f->ev_timer, &tv);
}

/*
 * Is this the first result for id?  Results come in the order they were
 * recorded, not by id, so every id up to the highest seen is in the set,
 * open until its result comes.
 */
static bool
fetch_first(struct fetch *f, uint64_t id)
{
	if (id >= f->seen.hi && id - f->seen.hi > FETCH_ID_LEAP)
		return (false);
	while (f->seen.hi <= id)
		(void)idset_add(&f->seen, f->seen.hi);
	return (idset_finish(&f->seen, id));
}

/* A RESULT: printed as drover submit prints it, once per job. */
static void
fetch_result(struct fetch *f, const struct frame_hdr *h, const char *p)
{
	struct ctl_meta		 m;
	struct frame_result	 r;
	struct report_extra	 ex;
	const char		*why;

	if (h->len < CTL_META_LEN || h->status >= JOB_NSTATUS) {
		log_warnx("bad RESULT from droverd");
		fetch_end(f, 3);
		return;
	}
	if (!fetch_first(f, h->id)) {
		log_warnx("droverd sent a result for job %llu twice: ignored",
		    (unsigned long long)h->id);
		return;
	}
	ctl_meta_get(p, &m);
	memset(&ex, 0, sizeof(ex));
	if (ctl_result_split(p + CTL_META_LEN, h->len - CTL_META_LEN, h, &r,
	    &ex.input, &ex.inlen, &why) == -1) {
		log_warnx("bad RESULT from droverd: %s", why);
		fetch_end(f, 3);
		return;
	}
	ex.err = r.err;
	ex.errlen = r.errlen;
	ex.sout = r.sout;
	ex.soutlen = r.soutlen;
	ex.fields = r.fields;
	ex.fieldslen = r.fieldslen;
	report_job(f->report, h->id, (enum job_status)h->status, r.out,
	    r.outlen, (pid_t)m.pid, m.latency_us, m.attempts, &ex);
}

/* The REPLY: the batch is there (its results follow), or why not. */
static void
fetch_reply(struct fetch *f, const char *p, size_t len)
{
	json_t		*o;
	const char	*err = NULL;
	int		 ok = 0;

	evtimer_del(f->ev_timer);
	if ((o = json_loadb(p, len, 0, NULL)) == NULL ||
	    json_unpack(o, "{s:b,s?s}", "ok", &ok, "error", &err) == -1) {
		log_warnx("bad reply from droverd");
		f->status = 3;
	} else if (!ok) {
		log_warnx("%s", err != NULL ? err : "refused");
		f->status = err != NULL && strncmp(err, "unknown batch", 13) ==
		    0 ? 2 : 3;
	} else {
		f->replied = true;
		/* Without --wait the results come at once: bound a silence. */
		if (!f->wait)
			fetch_arm(f);
	}
	json_decref(o);
	if (f->status != -1)
		event_base_loopexit(f->base, NULL);
}

/*
 * BYE: every result is in.  A batch that is not complete yet (without
 * --wait) is said to be so, and is not a success.
 */
static void
fetch_bye(struct fetch *f, const char *p, size_t len)
{
	json_t		*o;
	json_int_t	 restarts = 0, jobs = 0, done = 0;
	const char	*state = NULL;
	int		 status = -1;

	if ((o = json_loadb(p, len, 0, NULL)) != NULL)
		(void)json_unpack(o, "{s?I,s?s,s?I,s?I}", "restarts",
		    &restarts, "state", &state, "jobs", &jobs, "done", &done);
	f->restarts = (uint64_t)restarts;
	if (state != NULL && strcmp(state, "complete") != 0) {
		log_warnx("batch %s is %s: %lld of %lld jobs have a result "
		    "(--wait waits for the rest)", f->batch, state,
		    (long long)done, (long long)jobs);
		status = 1;
	}
	json_decref(o);
	fetch_end(f, status);
}

static enum peer_verdict
fetch_header(void *arg, const char *p, struct frame_hdr *h,
    const char **why)
{
	(void)arg;
	if (ctl_parse(p, FRAME_HDRLEN, h, why) == FRAME_BAD)
		return (PEER_REFUSE);
	return (PEER_TAKE);
}

static bool
fetch_more(void *arg)
{
	struct fetch	*f = arg;

	return (!f->finishing && f->status == -1);
}

static void
fetch_frame(void *arg, const struct frame_hdr *h, const char *p, size_t len)
{
	struct fetch	*f = arg;

	if (h->type == CTL_REPLY && !f->replied)
		fetch_reply(f, p, len);
	else if (h->type == CTL_RESULT && f->replied)
		fetch_result(f, h, p);
	else if (h->type == CTL_BYE && f->replied)
		fetch_bye(f, p, len);
	else {
		log_warnx("unexpected %s from droverd",
		    ctl_type_name(h->type));
		fetch_end(f, 3);
	}
}

/* Something came: the silence without --wait starts again. */
static void
fetch_input(void *arg, size_t n)
{
	struct fetch	*f = arg;

	(void)n;
	if (f->replied && !f->wait && !f->finishing)
		fetch_arm(f);
}

static void
fetch_lost(void *arg, enum peer_loss loss, const char *why)
{
	struct fetch	*f = arg;

	if (f->finishing || loss == PEER_WRITE_ERROR)
		return;		/* the read side has the last word */
	if (loss == PEER_BAD)
		log_warnx("bad message from droverd: %s", why);
	else if (!f->replied)
		log_warnx("droverd closed the connection without answering");
	else
		log_warnx("lost the connection to droverd");
	if (!f->replied) {
		f->status = 3;
		event_base_loopexit(f->base, NULL);
		return;
	}
	fetch_end(f, 3);
}

static const struct peer_ops fetch_peer_ops = {
	.header = fetch_header,
	.more = fetch_more,
	.frame = fetch_frame,
	.input = fetch_input,
	.lost = fetch_lost,
};

static void
fetch_leave(void *arg)
{
	struct fetch	*f = arg;

	event_base_loopexit(f->base, NULL);
}

/*
 * The results are over, however: print the summary and leave once stdout
 * has taken it.  status is the exit status to force, or -1 to judge by
 * the jobs.
 */
static void
fetch_end(struct fetch *f, int status)
{
	if (f->finishing)
		return;
	f->finishing = true;
	if (status != -1)
		f->status = status;
	evtimer_del(f->ev_timer);
	peer_set_reading(f->peer, false);
	report_finish(f->report, f->restarts, fetch_leave, f);
}

static void
fetch_timer_cb(int fd, short what, void *arg)
{
	struct fetch	*f = arg;

	(void)fd;
	(void)what;
	log_warnx("droverd did not answer within %g s", f->timeout);
	if (!f->replied) {
		f->status = 3;
		event_base_loopexit(f->base, NULL);
		return;
	}
	fetch_end(f, 3);
}

/* SIGINT/SIGTERM: the summary of what came, and leave. */
static void
fetch_signal_cb(int sig, short what, void *arg)
{
	struct fetch	*f = arg;

	(void)what;
	log_warnx("%s: leaving now", strsignal(sig));
	if (f->replied && !f->finishing)
		fetch_end(f, 1);
	else {
		if (f->status == -1 || f->status == 0)
			f->status = 1;
		event_base_loopexit(f->base, NULL);
	}
}

static void
fetch_broken(void *arg)
{
	struct fetch	*f = arg;

	f->broken = true;
	fetch_end(f, 1);
}

static const struct report_hooks fetch_report_hooks = {
	.broken = fetch_broken,
};

static void
results_usage(FILE *f)
{
	fprintf(f,
"usage: drover results ID [--wait] [--json] [--failed] [--socket PATH]\n"
"                         [--timeout SECS]\n"
"\n"
"Print the results of durable batch ID (drover submit printed its id) and\n"
"its summary, as drover submit does.  --wait waits for the batch to be\n"
"complete; --failed prints only the jobs that did not end ok (the summary\n"
"counts them all); --json prints JSON lines.  --timeout (10) bounds the\n"
"wait for droverd to answer (and, without --wait, each silence after).\n");
}

int
results_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "wait", no_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ "failed", no_argument, NULL, 'f' },
		{ "socket", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct fetch		 f;
	struct report_opts	 ro;
	struct event		*ev_int, *ev_term;
	const char		*sock = NULL;
	json_t			*req;
	char			*js;
	int			 ch, fd;

	memset(&f, 0, sizeof(f));
	memset(&ro, 0, sizeof(ro));
	ro.joblog_fd = -1;
	f.status = -1;
	f.timeout = CLIENT_TIMEOUT;
	idset_init(&f.seen);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "s:jh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'w':
			f.wait = true;
			break;
		case 'j':
			ro.json = true;
			break;
		case 'f':
			ro.failed_only = true;
			break;
		case 's':
			sock = optarg;
			break;
		case 'T':
			f.timeout = cli_real("--timeout", optarg, 0, 86400);
			break;
		case 'h':
			results_usage(stdout);
			return (0);
		default:
			cli_usage_error("see 'drover results --help'");
		}
	}
	if (argc - optind != 1)
		cli_usage_error("usage: drover results ID [options]");
	f.batch = argv[optind];

	signal(SIGPIPE, SIG_IGN);
	fd = client_connect(client_socket_path(sock), f.timeout);
	evutil_make_socket_nonblocking(fd);
	if ((f.base = event_base_new()) == NULL)
		fatalx("unable to create the event loop");
	f.peer = peer_new(f.base, fd, NULL, &fetch_peer_ops, &f);
	peer_set_reading(f.peer, true);
	f.report = report_new(f.base, &ro);
	report_set_hooks(f.report, &fetch_report_hooks, &f);
	f.ev_timer = evtimer_new(f.base, fetch_timer_cb, &f);
	ev_int = evsignal_new(f.base, SIGINT, fetch_signal_cb, &f);
	ev_term = evsignal_new(f.base, SIGTERM, fetch_signal_cb, &f);
	evsignal_add(ev_int, NULL);
	evsignal_add(ev_term, NULL);
	req = json_pack("{s:s,s:o,s:b,s:[s,s,s,s]}", "op", "results",
	    "batch", jsonw_text(f.batch), "wait", f.wait, "sections",
	    "stderr", "output", "fields", "input");
	js = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	peer_send(f.peer, CTL_REQUEST, 0, CTL_VERSION, js, strlen(js));
	peer_schedule(f.peer);
	free(js);
	fetch_arm(&f);
	event_base_dispatch(f.base);

	if (f.status == -1)
		f.status = report_failed(f.report) != 0 ? 1 : 0;
	report_free(f.report);
	peer_free(f.peer);
	event_free(f.ev_timer);
	event_free(ev_int);
	event_free(ev_term);
	event_base_free(f.base);
	idset_free(&f.seen);
	if (f.broken)
		cli_exit_sigpipe();
	return (f.status);
}

/* A Unix time as local "YYYY-MM-DD HH:MM:SS", or "-" for 0. */
static void
fmt_time(char *dst, size_t size, json_t *v)
{
	time_t		 t = (time_t)json_integer_value(v);
	struct tm	 tm;

	if (t <= 0 || localtime_r(&t, &tm) == NULL ||
	    strftime(dst, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(dst, size, "-");
}

/* The string member k of o, or "?" when it is not one. */
static const char *
bstr(json_t *o, const char *k)
{
	const char	*s = json_string_value(json_object_get(o, k));

	return (s != NULL ? s : "?");
}

static long long
bint(json_t *o, const char *k)
{
	return ((long long)json_integer_value(json_object_get(o, k)));
}

/* The width of n in decimal. */
static size_t
digits(long long n)
{
	char	 tmp[32];
	int	 w = snprintf(tmp, sizeof(tmp), "%lld", n);

	return (w > 0 ? (size_t)w : 1);
}

/* The batches as a table, each column as wide as its widest cell. */
static void
batches_table(json_t *a, FILE *out)
{
	json_t	*b;
	size_t	 i, n, w[6] = { 2, 4, 5, 4, 4, 6 };	/* the headers' */
	char	 created[32], completed[32];

	json_array_foreach(a, i, b) {
		if ((n = strlen(bstr(b, "id"))) > w[0])
			w[0] = n;
		if ((n = strlen(bstr(b, "pool"))) > w[1])
			w[1] = n;
		if ((n = strlen(bstr(b, "state"))) > w[2])
			w[2] = n;
		if ((n = digits(bint(b, "jobs"))) > w[3])
			w[3] = n;
		if ((n = digits(bint(b, "done"))) > w[4])
			w[4] = n;
		if ((n = digits(bint(b, "failed"))) > w[5])
			w[5] = n;
	}
	fprintf(out, "%-*s  %-*s  %-*s  %*s  %*s  %*s  %-19s  %s\n",
	    (int)w[0], "ID", (int)w[1], "POOL", (int)w[2], "STATE",
	    (int)w[3], "JOBS", (int)w[4], "DONE", (int)w[5], "FAILED",
	    "CREATED", "COMPLETED");
	json_array_foreach(a, i, b) {
		fmt_time(created, sizeof(created), json_object_get(b,
		    "created"));
		fmt_time(completed, sizeof(completed), json_object_get(b,
		    "completed"));
		fprintf(out, "%-*s  %-*s  %-*s  %*lld  %*lld  %*lld  %-19s  "
		    "%s\n", (int)w[0], bstr(b, "id"), (int)w[1],
		    bstr(b, "pool"), (int)w[2], bstr(b, "state"), (int)w[3],
		    bint(b, "jobs"), (int)w[4], bint(b, "done"), (int)w[5],
		    bint(b, "failed"), created, completed);
	}
}

int
batches_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*sock = NULL, *err = NULL;
	double		 timeout = CLIENT_TIMEOUT;
	bool		 json = false;
	json_t		*r, *a = NULL;
	char		*s;
	int		 ch, ok = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "s:jh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json = true;
			break;
		case 's':
			sock = optarg;
			break;
		case 'T':
			timeout = cli_real("--timeout", optarg, 0, 86400);
			break;
		case 'h':
			printf("usage: drover batches [--json] [--socket PATH] "
			    "[--timeout SECS]\n");
			return (0);
		default:
			cli_usage_error("see 'drover batches --help'");
		}
	}
	if (optind != argc)
		cli_usage_error("unexpected argument '%s'", argv[optind]);
	r = client_ask(client_socket_path(sock), json_pack("{s:s}", "op",
	    "batches"), timeout);
	if (json_unpack(r, "{s:b,s?s,s?o}", "ok", &ok, "error", &err,
	    "batches", &a) == -1 || (ok && !json_is_array(a)))
		fatalx("bad reply from droverd");
	if (!ok) {
		fprintf(stderr, "drover: %s\n", err != NULL ? err : "refused");
		json_decref(r);
		return (3);
	}
	if (json) {
		s = json_dumps(a, JSON_COMPACT);
		printf("%s\n", s);
		free(s);
	} else
		batches_table(a, stdout);
	json_decref(r);
	if (fflush(stdout) == EOF) {
		if (errno == EPIPE)
			cli_exit_sigpipe();
		fatal("unable to write the batches");
	}
	return (0);
}

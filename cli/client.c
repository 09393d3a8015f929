/*
 * The clients of droverd: `drover submit` streams a batch to a pool and
 * prints exactly what `drover run` would; `drover status` and `drover reload`
 * ask one question and print the answer.  The protocol is common/ctl.h.
 *
 * submit is event-driven (libevent): it sends jobs while the socket's output
 * stays under a high-water mark and reads results all the while, so that
 * neither side can block the other.  The socket is a peer (common/peer.c),
 * as droverd's end of it is.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "buf.h"
#include "cli.h"
#include "client.h"
#include "clock.h"
#include "config.h"
#include "copy.h"
#include "ctl.h"
#include "idset.h"
#include "inmap.h"
#include "input.h"
#include "jsonw.h"
#include "log.h"
#include "opts.h"
#include "peer.h"
#include "poolconf.h"
#include "report.h"
#include "status.h"
#include "unacked.h"
#include "usock.h"
#include "xmalloc.h"

#define SUBMIT_OUT_HIGH		(1024 * 1024)
#define SUBMIT_ROOM		1024	/* jobs per input room asked */
#define SUBMIT_RUN_CHUNK	256	/* results per report_run() */
#define SUBMIT_REORDER_CAP	65536
#define SUBMIT_UNACKED_BYTES	(64U * 1024 * 1024)	/* held to resend */
#define SUBMIT_UNACKED_JOBS	1000000
#define SUBMIT_READ_OPEN	(1U << 24)	/* READ and open, at most */
#define SUBMIT_BACKOFF_MIN	0.05	/* seconds between reconnects */
#define SUBMIT_BACKOFF_MAX	1.0

#define SUBMIT_SOCKETS	8	/* --socket, as many times */

/* Where droverd listens: --socket, $DROVER_SOCKET, or the default. */
const char *
client_socket_path(const char *opt)
{
	const char	*env;

	if (opt != NULL)
		return (opt);
	if ((env = getenv("DROVER_SOCKET")) != NULL && *env != '\0')
		return (env);
	return (DROVER_DEFAULT_SOCKET);
}

/* A socket timeout of secs on fd (SO_SNDTIMEO bounds connect too). */
static void
client_set_timeout(int fd, int opt, double secs)
{
	struct timeval	 tv;

	tv.tv_sec = (time_t)secs;
	tv.tv_usec = (suseconds_t)((secs - (double)tv.tv_sec) * 1e6);
	if (tv.tv_sec == 0 && tv.tv_usec == 0)
		tv.tv_usec = 1;
	(void)setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

/*
 * Connect to droverd within timeout seconds: the fd, or -1 with errno
 * (EAGAIN when no answer came in time: a droverd whose listen queue is
 * full makes connect wait).
 */
int
client_try_connect(const char *path, double timeout)
{
	struct sockaddr_un	 sun;
	int			 fd, err;

	if (strlen(path) >= sizeof(sun.sun_path))
		cli_usage_error("socket path too long: %s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	client_set_timeout(fd, SO_SNDTIMEO, timeout);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		err = errno == EINPROGRESS ? EAGAIN : errno;
		close(fd);
		errno = err;
		return (-1);
	}
	return (fd);
}

/* The same, or exit 3 with a clear message if we cannot. */
int
client_connect(const char *path, double timeout)
{
	int	 fd;

	if ((fd = client_try_connect(path, timeout)) != -1)
		return (fd);
	if (errno == EAGAIN)
		fatalx("unable to connect to droverd at %s: no answer within "
		    "%g s", path, timeout);
	fatal("unable to connect to droverd at %s", path);
}

/* Build a message: header and payload. */
static void
client_msg(struct buf *b, uint8_t type, uint64_t id, const void *p,
    size_t len)
{
	frame_put(buf_reserve(b, FRAME_HDRLEN), type, 0, (uint32_t)len, id);
	buf_commit(b, FRAME_HDRLEN);
	buf_add(b, p, len);
}

/* Send a REQUEST with this JSON object (consumed). */
static void
client_request(struct buf *b, json_t *req)
{
	char	*s = json_dumps(req, JSON_COMPACT);

	json_decref(req);
	client_msg(b, CTL_REQUEST, CTL_VERSION, s, strlen(s));
	free(s);
}

/*
 * Blocking, within timeout seconds for each step: send one request, read
 * one REPLY, return its JSON.
 */
json_t *
client_ask(const char *path, json_t *req, double timeout)
{
	struct buf	 b;
	struct frame_hdr h;
	const char	*why;
	json_error_t	 jerr;
	json_t		*o;
	int		 fd = client_connect(path, timeout);
	ssize_t		 n;

	client_set_timeout(fd, SO_RCVTIMEO, timeout);
	buf_init(&b);
	client_request(&b, req);
	while (buf_len(&b) != 0)
		if (buf_write(&b, fd) == -1)
			fatal("unable to write to droverd");
	for (;;) {
		if (ctl_parse(buf_data(&b), buf_len(&b), &h, &why) ==
		    FRAME_BAD)
			fatalx("bad reply from droverd: %s", why);
		if (buf_len(&b) >= FRAME_HDRLEN &&
		    buf_len(&b) - FRAME_HDRLEN >= h.len)
			break;
		if ((n = buf_read(&b, fd, 65536)) == -1 && (errno == EAGAIN ||
		    errno == EWOULDBLOCK))
			fatalx("droverd at %s did not answer within %g s",
			    path, timeout);
		if (n <= 0)
			fatalx("droverd closed the connection without "
			    "answering");
	}
	close(fd);
	if (h.type != CTL_REPLY)
		fatalx("unexpected %s from droverd", ctl_type_name(h.type));
	o = json_loadb(buf_data(&b) + FRAME_HDRLEN, h.len, 0, &jerr);
	if (o == NULL)
		fatalx("bad JSON from droverd: %s", jerr.text);
	buf_free(&b);
	return (o);
}

/*
 * The connection of a submit.  A batch that is not durable has one: its
 * REQUEST, then SC_SUBMIT until the end.  A durable batch may lose it and
 * come back (--reconnect): SC_DOWN until the next try, SC_RESUME while the
 * REPLY to "batch":ID is awaited, and, when droverd refuses to go on with
 * a batch whose END it may have (it is complete), SC_FETCH and
 * SC_FETCHING for a "results" request that takes the results left.
 */
enum submit_conn {
	SC_SUBMIT,		/* these two take RESULTs: first, so that */
	SC_FETCHING,		/* one compare says it (submit_frame()) */
	SC_REQUEST,
	SC_DOWN,
	SC_RESUME,
	SC_FETCH,
};

/*
 * The state of one `drover submit`.  The client knows what it sent: every
 * job id handed to droverd stays in `open` until its RESULT comes, so that
 * whatever ends the batch (a BYE that says droverd took no more, a lost
 * connection, a signal, the shutdown timeout) the jobs without a result are
 * reported as cancelled with the reason, each exactly once.
 *
 * A durable batch also keeps each job sent in `unacked` until an ACCEPTED
 * covers it: those are the jobs to send again after a reconnect.  A batch
 * that is not durable keeps nothing more than before.
 */
struct submit {
	struct event_base	*base;
	struct peer		*peer;		/* the socket (NULL: down) */
	struct report		*report;
	struct input		*input;
	struct event		*ev_timer;	/* reply or shutdown deadline */
	struct event		*ev_retry;	/* the next reconnect */
	struct idset		 open;		/* sent, no result yet */
	struct inmap		 inputs;	/* for --tag, --joblog */
	bool			 keep_inputs;
	const char		*path;		/* droverd's socket */
	const char		*paths[SUBMIT_SOCKETS];	/* --socket, each */
	size_t			 npaths;
	size_t			 pathi;		/* the one tried last */
	const char		*pool;
	const char		*cwd;		/* for exec_cwd = "client" */
	double			 timeout;	/* for the REPLY */
	double			 shutdown_timeout;
	uint64_t		 total;		/* --total */
	bool			 report_total;	/* progress is on */
	int			 infd;
	int			 delim;
	bool			 records;	/* droverd takes RECORDS */
	bool			 pass;		/* offers droverd its input */
	bool			 passing;	/* passed: droverd reads it */
	uint64_t		 read_next;	/* the jobs it READ so far */
	uint64_t		 max_job;	/* the REPLY's max_job_bytes */
	uint64_t		 restarts;
	enum submit_conn	 conn;
	bool			 accepted;	/* the first REPLY said yes */
	bool			 ended;		/* END or CANCEL sent */
	bool			 cancelled;	/* CANCEL sent */
	bool			 finishing;	/* summary queued, input over */
	bool			 broken;	/* stdout is gone */
	int			 signals;
	int			 status;	/* exit status if decided */

	/* A durable batch (docs/protocol.md, "Durable batches"). */
	char			*batch;		/* its id, from the REPLY */
	bool			 durable;
	bool			 detach;	/* --detach */
	bool			 detached;	/* its END is accepted: done */
	double			 reconnect;	/* --reconnect, seconds */
	struct unacked		 unacked;	/* sent, not yet ACCEPTED */
	uint64_t		 acked;		/* the highest ACCEPTED id */
	bool			 any_acked;
	bool			 input_over;	/* input ended: END is due */
	bool			 end_sent;	/* on some connection */
	bool			 end_acked;	/* ACCEPTED says END is in */
	bool			 wbroken;	/* no more on this connection */
	uint64_t		 lost_us;	/* when it was lost */
	double			 backoff;	/* before the next try */
	char			 lost_why[256];	/* why it was lost */
	char			 try_why[256];	/* why the last try failed */
};

static const struct peer_ops submit_peer_ops;

static void	submit_end(struct submit *, int, const char *);
static void	submit_attempt(struct submit *);

/* Send one message on the connection (at the end of the loop turn). */
static void
submit_send(struct submit *s, uint8_t type, uint64_t id, const void *p,
    size_t len)
{
	if (s->peer == NULL)
		return;
	peer_send(s->peer, type, 0, id, p, len);
	peer_schedule(s->peer);
}

/* Arm the one timer for secs (the reply deadline, or the shutdown's). */
static void
submit_arm(struct submit *s, double secs)
{
	struct timeval	 tv;

	tv.tv_sec = (time_t)secs;
	tv.tv_usec = (suseconds_t)((secs - (double)tv.tv_sec) * 1e6);
	evtimer_add(s->ev_timer, &tv);
}

/*
 * May a durable batch send more?  Only on a connection that takes it, and
 * while what droverd has not acknowledged stays under the bound: the
 * client's memory is what it must keep to resend.
 */
static bool
submit_durable_room(const struct submit *s)
{
	return (s->conn == SC_SUBMIT && !s->wbroken &&
	    unacked_count(&s->unacked) < SUBMIT_UNACKED_JOBS &&
	    unacked_bytes(&s->unacked) < SUBMIT_UNACKED_BYTES);
}

static uint64_t
submit_in_room(void *arg)
{
	struct submit	*s = arg;
	uint64_t	 lim = report_limit(s->report), next;

	if (s->finishing || !report_room(s->report))
		return (0);
	/*
	 * The output buffer is checked here, and the input asks again after
	 * each read: it goes past its mark by what one read brought at most.
	 */
	if (peer_pending(s->peer) > SUBMIT_OUT_HIGH)
		return (0);
	next = input_count(s->input);
	if (lim != UINT64_MAX && next >= lim)
		return (0);
	return (lim == UINT64_MAX || lim - next > SUBMIT_ROOM ? SUBMIT_ROOM :
	    lim - next);
}

/* The room of a durable batch: within its bound, then as any other. */
static uint64_t
submit_durable_in_room(void *arg)
{
	struct submit	*s = arg;

	/* One at a time: each job takes a place checked here. */
	return (submit_durable_room(s) && submit_in_room(s) != 0 ? 1 : 0);
}

/*
 * A job of a durable batch: kept as the JOB message it is until an
 * ACCEPTED covers it, and sent from that copy.  --detach takes no result,
 * so it keeps no open id.
 */
static void
submit_keep(void *arg, uint64_t id, const char *data, size_t len)
{
	struct submit	*s = arg;
	const char	*msg;
	size_t		 size;

	if (!s->detach && idset_add(&s->open, id) == -1)
		fatalx("job id %llu out of order", (unsigned long long)id);
	if (s->keep_inputs)
		inmap_put(&s->inputs, id, data, len);
	msg = unacked_put(&s->unacked, id, data, len, &size);
	memcpy(peer_reserve(s->peer, size), msg, size);
	peer_commit(s->peer, size);
	peer_schedule(s->peer);
}


/* Records n in a row, ids from id on, are sent: open them (and keep). */
static void
submit_open(struct submit *s, uint64_t id, const struct iovec *recs,
    size_t n)
{
	size_t	 i;

	if (idset_add_run(&s->open, id, n) == -1)
		fatalx("job id %llu out of order", (unsigned long long)id);
	if (s->keep_inputs)
		for (i = 0; i < n; i++)
			inmap_put(&s->inputs, id + i, recs[i].iov_base,
			    recs[i].iov_len);
}

/*
 * Records n in a row from recs, as JOBs: one message each, framed into
 * the output buffer in one go.
 */
static void
submit_jobs(struct submit *s, uint64_t id, const struct iovec *recs,
    size_t n)
{
	size_t	 i, size = 0;
	char	*p;

	for (i = 0; i < n; i++)
		size += FRAME_HDRLEN + recs[i].iov_len;
	p = peer_reserve(s->peer, size);
	for (i = 0; i < n; i++) {
		frame_put(p, CTL_JOB, 0, (uint32_t)recs[i].iov_len, id + i);
		copy_bytes(p + FRAME_HDRLEN, recs[i].iov_base, recs[i].iov_len);
		p += FRAME_HDRLEN + recs[i].iov_len;
	}
	peer_commit(s->peer, size);
}

/*
 * Records in a row (the input's runs): what submit_in_record() does for
 * each.  To a droverd that takes RECORDS they go as they lie in the input
 * buffer, delimiters and all, up to CTL_RECORDS_MAX bytes a message: no
 * header per job.  A record too long for one goes as a JOB.
 */
static size_t
submit_in_records(void *arg, uint64_t id, const struct iovec *recs,
    size_t n)
{
	struct submit	*s = arg;
	size_t		 i, j, size;
	char		*p;

	submit_open(s, id, recs, n);
	if (!s->records) {
		submit_jobs(s, id, recs, n);
		peer_schedule(s->peer);
		return (n);
	}
	for (i = 0; i < n; i = j) {
		/* They lie in a row: the whole span at once if it fits. */
		size = (size_t)((const char *)recs[n - 1].iov_base +
		    recs[n - 1].iov_len + 1 - (const char *)recs[i].iov_base);
		if (size <= CTL_RECORDS_MAX)
			j = n;
		else
			for (j = i, size = 0; j < n && size +
			    recs[j].iov_len < CTL_RECORDS_MAX; j++)
				size += recs[j].iov_len + 1;
		if (j == i) {
			submit_jobs(s, id + i, recs + i, 1);
			j = i + 1;
			continue;
		}
		p = peer_reserve(s->peer, FRAME_HDRLEN + size);
		frame_put(p, CTL_RECORDS, 0, (uint32_t)size, id + i);
		memcpy(p + FRAME_HDRLEN, recs[i].iov_base, size);
		peer_commit(s->peer, FRAME_HDRLEN + size);
	}
	peer_schedule(s->peer);
	return (n);
}

/* Over the pool's max_job_bytes: rejected here, as drover run would. */
static void
submit_in_toolong(void *arg, uint64_t id, uint64_t len)
{
	struct submit	*s = arg;
	char		 why[128];
	int		 n;

	n = snprintf(why, sizeof(why), "job is %llu bytes, over the pool's "
	    "max_job_bytes", (unsigned long long)len);
	report_job(s->report, id, JOB_REJECTED, why, (size_t)n, 0, 0, 0,
	    NULL);
}

/*
 * Report one job with its input when we kept it (--tag, --joblog), and
 * free the copy.
 */
static void
submit_report(struct submit *s, uint64_t id, enum job_status st,
    const struct frame_result *r, struct report_extra *ex, pid_t pid,
    uint64_t lat, unsigned runs)
{
	char	*in;
	size_t	 inlen;

	ex->err = r->err;
	ex->errlen = r->errlen;
	ex->sout = r->sout;
	ex->soutlen = r->soutlen;
	ex->fields = r->fields;
	ex->fieldslen = r->fieldslen;
	/* The whole input when --tag or --joblog kept it. */
	in = NULL;
	if (s->keep_inputs &&
	    (in = inmap_take(&s->inputs, id, &inlen)) != NULL) {
		ex->input = in;
		ex->inlen = inlen;
	}
	if (r->num.kind != NUM_NONE)	/* typed: a number, not its text */
		report_job_num(s->report, id, &r->num, pid, lat, runs, ex);
	else
		report_job(s->report, id, st, r->out, r->outlen, pid, lat, runs,
		    ex);
	free(in);
}

/* The input broke: say so; it ends there, as at EOF. */
static void
submit_in_error(void *arg, int err)
{
	(void)arg;
	errno = err;
	log_warn("unable to read input");
}

/* The input is over: END now, or after the resend of a reconnect. */
static void
submit_in_end(void *arg)
{
	struct submit	*s = arg;

	s->input_over = true;
	if (!s->ended) {
		s->ended = true;
		s->end_sent = s->peer != NULL;
		submit_send(s, CTL_END, 0, NULL, 0);
	}
}

/* One record: a run of one. */
static void
submit_in_record(void *arg, uint64_t id, const char *data, size_t len)
{
	struct submit	*s = arg;
	struct iovec	 rec = { (void *)(uintptr_t)data, len };

	/* As a JOB: the last record of the input may have no delimiter. */
	submit_open(s, id, &rec, 1);
	submit_jobs(s, id, &rec, 1);
	peer_schedule(s->peer);
}

static const struct input_hooks submit_input_hooks = {
	.room = submit_in_room,
	.record = submit_in_record,
	.records = submit_in_records,
	.toolong = submit_in_toolong,
	.error = submit_in_error,
	.end = submit_in_end,
};

/* A durable batch's: the same, but what is sent is kept too. */
static const struct input_hooks submit_durable_hooks = {
	.room = submit_durable_in_room,
	.record = submit_keep,
	.toolong = submit_in_toolong,
	.error = submit_in_error,
	.end = submit_in_end,
};

/*
 * A REQUEST for the batch: the submit (the first one, or one that goes on
 * with the batch after a reconnect), or, for SC_FETCH, the results.
 * RESULTs with stderr, output, fields, and input on failure; our
 * directory, for a pool with exec_cwd = "client".
 */
static void
submit_request(struct submit *s)
{
	json_t	*req, *sections;
	char	*js;

	if (s->conn == SC_FETCH)
		req = json_pack("{s:s,s:o}", "op", "results", "batch",
		    jsonw_text(s->batch));
	else {
		req = json_pack("{s:s,s:o}", "op", "submit", "pool",
		    jsonw_text(s->pool));
		if (s->cwd != NULL)
			json_object_set_new(req, "cwd", jsonw_text(s->cwd));
		if (s->batch != NULL)
			json_object_set_new(req, "batch",
			    jsonw_text(s->batch));
		if (s->detach)
			json_object_set_new(req, "detach", json_true());
		json_object_set_new(req, "records", json_integer(s->delim));
		/*
		 * Only the summary to print, and an input droverd may read
		 * itself: offer it the input (docs/protocol.md, "INPUT").
		 */
		s->pass = s->batch == NULL && !s->detach && !s->keep_inputs &&
		    report_takes_sums(s->report) &&
		    report_limit(s->report) == UINT64_MAX &&
		    input_passable(s->infd);
		if (s->pass)
			json_object_set_new(req, "pass_input", json_true());
	}
	sections = json_pack("[s,s,s,s,s,s,s]", "stderr", "output", "fields",
	    "input", "typed", "batch", "runlat");
	/* Only a summary to print: the sums of runs do. */
	if (!s->keep_inputs && report_takes_sums(s->report))
		json_array_append_new(sections, json_string("sums"));
	json_object_set_new(req, "sections", sections);
	js = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	submit_send(s, CTL_REQUEST, CTL_VERSION, js, strlen(js));
	free(js);
}

/*
 * Pass our input to droverd, which offered to read it (INPUT, its fd in
 * SCM_RIGHTS): nothing of it is read yet, and nothing else is queued.
 * droverd reads a pipe through a description of its own, a file from its
 * offset on.  -1 if it did not go: we read the input and send its jobs,
 * as to any droverd.
 */
static int
submit_pass_input(struct submit *s)
{
	char		 hdr[FRAME_HDRLEN];
	ssize_t		 n;

	if (peer_pending(s->peer) != 0)
		return (-1);
	frame_put(hdr, CTL_INPUT, 0, 0, 0);
	n = usock_send_fd(peer_fd(s->peer), hdr, sizeof(hdr), s->infd);
	if (n <= 0)
		return (-1);
	if ((size_t)n < sizeof(hdr)) {	/* the fd went with the first */
		memcpy(peer_reserve(s->peer, sizeof(hdr) - (size_t)n),
		    hdr + n, sizeof(hdr) - (size_t)n);
		peer_commit(s->peer, sizeof(hdr) - (size_t)n);
		peer_schedule(s->peer);
	}
	return (0);
}

/* Read our input and send its jobs (droverd does not, or will not). */
static void
submit_read_input(struct submit *s)
{
	s->input = input_new(s->base, s->infd, s->delim, s->max_job,
	    s->durable ? &submit_durable_hooks : &submit_input_hooks, s);
	input_resume(s->input);
}

/*
 * READ: droverd has read the jobs below h->id from the input we passed;
 * we wait for their results as for jobs we sent (ids in input order, as
 * ours would be).  CTL_READ_ENDED: the input is over, as our END says.
 */
static void
submit_read(struct submit *s, const struct frame_hdr *h)
{
	if (h->status == CTL_READ_DECLINED && h->id == 0 &&
	    s->read_next == 0) {
		s->passing = false;	/* it read none: we send them */
		if (!s->ended && !s->finishing)	/* else cancelled */
			submit_read_input(s);
		return;
	}
	if (h->status == CTL_READ_DECLINED || h->id < s->read_next ||
	    h->id - s->read_next > CTL_READ_JOBS ||
	    idset_open(&s->open) + (h->id - s->read_next) > SUBMIT_READ_OPEN ||
	    (h->id > s->read_next && idset_add_run(&s->open, s->read_next,
	    h->id - s->read_next) == -1)) {
		log_warnx("bad READ from droverd: jobs below %llu, after "
		    "%llu", (unsigned long long)h->id,
		    (unsigned long long)s->read_next);
		submit_end(s, 3, "bad message from droverd");
		return;
	}
	s->read_next = h->id;
	if (h->status == CTL_READ_ENDED)
		s->input_over = s->ended = s->end_sent = true;
}

/* The REPLY to our submit: go, or say why not. */
static void
submit_reply(struct submit *s, const char *p, size_t len)
{
	json_t		*o;
	json_error_t	 jerr;
	const char	*err = NULL, *batch = NULL, *input = NULL;
	json_int_t	 max = 0;
	int		 ok = 0, records = 0;

	evtimer_del(s->ev_timer);
	if ((o = json_loadb(p, len, 0, &jerr)) == NULL ||
	    json_unpack(o, "{s:b,s?s,s?I,s?s,s?b,s?s}", "ok", &ok, "error",
	    &err, "max_job_bytes", &max, "batch", &batch, "records",
	    &records, "input", &input) == -1) {
		log_warnx("bad reply from droverd");
		s->status = 3;
	} else if (!ok) {
		log_warnx("%s", err != NULL ? err : "refused");
		s->status = (err != NULL && strncmp(err, "unknown pool", 12) ==
		    0) ? 2 : 3;
	} else if (s->detach && batch == NULL) {
		log_warnx("pool '%s' is not durable: --detach needs a durable "
		    "batch (a journal, and durable = true for the pool)",
		    s->pool);
		s->status = 3;
	} else {
		if (batch != NULL) {
			s->batch = xstrdup(batch);
			s->durable = true;
			log_emit(LOG_NOTICE, "batch %s", batch);
		}
		s->accepted = true;
		s->conn = SC_SUBMIT;
		s->records = records && !s->durable;
		s->max_job = max > 0 ? (uint64_t)max : 1024 * 1024;
		if (s->report_total)
			report_set_total(s->report, s->total != 0 ? s->total :
			    input_records(s->infd, s->delim));
		if (s->pass && s->records && input != NULL &&
		    strcmp(input, "fd") == 0 && submit_pass_input(s) == 0)
			s->passing = true;	/* droverd reads it */
		else
			submit_read_input(s);
	}
	json_decref(o);
	if (s->status != -1)
		event_base_loopexit(s->base, NULL);
}

/*
 * --detach: every job and the END are committed; the batch runs without
 * us.  main() prints its id.
 */
static void
submit_detached(struct submit *s)
{
	s->detached = true;
	s->finishing = true;
	evtimer_del(s->ev_timer);
	evtimer_del(s->ev_retry);
	if (s->input != NULL)
		input_stop(s->input);
	if (s->peer != NULL)
		peer_set_reading(s->peer, false);
	event_base_loopexit(s->base, NULL);
}

/*
 * ACCEPTED: droverd has committed the batch's jobs up to its id; they need
 * no resending, and the input may go on if the bound held it.
 */
static void
submit_accepted(struct submit *s, const struct frame_hdr *h)
{
	if (!s->durable)
		return;		/* not ours to track */
	if (!s->any_acked || h->id > s->acked) {
		s->acked = h->id;
		s->any_acked = true;
	}
	unacked_trim(&s->unacked, h->id);
	if (h->status == CTL_ACC_ENDED && s->end_sent) {
		s->end_acked = true;
		if (s->detach) {
			submit_detached(s);
			return;
		}
	}
	if (s->input != NULL && !s->ended && !s->finishing)
		input_resume(s->input);
}

/*
 * The result of job id is in: true if it is one we wait for; else said
 * (a repeat, or never sent) and ignored.  (--detach keeps no open id: its
 * results are for later.)
 */
static bool
submit_take(struct submit *s, uint64_t id)
{
	if (idset_finish(&s->open, id))
		return (true);
	if (!s->durable || (!s->detach && id >= input_count(s->input)))
		log_warnx("droverd sent a result for job %llu, which has one "
		    "already or was never sent: ignored",
		    (unsigned long long)id);
	return (false);
}

/* The latency of item p of a run: its own, or the run's (runlat). */
static uint64_t
submit_run_lat(const char *p, size_t item, uint64_t lat)
{
	if (item == CTL_RUN_ITEM) {
		memcpy(&lat, p + 8, 8);
		lat = le64toh(lat);
	}
	return (lat);
}

/*
 * n <= SUBMIT_RUN_CHUNK items of a run (p, item bytes each), whose jobs
 * were all open and now are not: counted and shown in bulk, as drover
 * run's are (report_run()), with the latencies by equal ones (a runlat
 * run's, lat, at once).
 */
static void
submit_run_bulk(struct submit *s, const char *p, size_t n, size_t item,
    uint64_t lat, pid_t pid, unsigned runs, enum num_kind kind)
{
	char		 vals[SUBMIT_RUN_CHUNK * 8];
	uint64_t	 prev = 0;
	size_t		 i, same = 0;

	if (item == CTL_RUNLAT_ITEM) {
		memcpy(vals, p, n * 8);
		report_latency_n(s->report, pid, lat, n);
		report_run(s->report, vals, n, kind, runs > 1 ? n : 0);
		return;
	}
	for (i = 0; i < n; i++, p += item) {
		memcpy(vals + i * 8, p, 8);
		lat = submit_run_lat(p, item, 0);
		if (same != 0 && lat != prev) {
			report_latency_n(s->report, pid, prev, same);
			same = 0;
		}
		prev = lat;
		same++;
	}
	if (same != 0)
		report_latency_n(s->report, pid, prev, same);
	report_run(s->report, vals, n, kind, runs > 1 ? n : 0);
}

/*
 * A batched RESULT (ctl.h, "batch"), header h checked by ctl_parse(): the
 * ok typed results of jobs h->id, h->id + 1, ..., each taken as a RESULT
 * of its own would be.  False when the connection went in a report, and
 * the payload with it.
 */
static bool
submit_run(struct submit *s, const struct frame_hdr *h, const char *p)
{
	static const struct report_extra none;
	struct frame_result	 r;
	struct report_extra	 ex;
	uint32_t		 pid, runs;
	uint64_t		 v, lat = 0, id = h->id;
	size_t			 off, n, item = CTL_RUN_ITEM;

	memcpy(&pid, p, 4);
	memcpy(&runs, p + 4, 4);
	pid = le32toh(pid);
	runs = le32toh(runs);
	memset(&r, 0, sizeof(r));
	r.out = "";
	r.num.kind = (h->flags & CTL_F_INT) ? NUM_INT : NUM_DOUBLE;
	off = CTL_RUN_HEAD;
	if (h->flags & CTL_F_RUNLAT) {	/* one latency for the run */
		memcpy(&lat, p + 8, 8);
		lat = le64toh(lat);
		off = CTL_RUNLAT_HEAD;
		item = CTL_RUNLAT_ITEM;
	}
	/*
	 * In bulk, a chunk at a time whose jobs are all open (closed just
	 * before they are counted, so that a stdout that breaks in a report
	 * leaves the rest open, to be reported cancelled); the rest, from a
	 * chunk with a repeat in it, one by one.
	 */
	while (!s->keep_inputs && report_takes_runs(s->report) &&
	    off < h->len) {
		n = (h->len - off) / item;
		n = n < SUBMIT_RUN_CHUNK ? n : SUBMIT_RUN_CHUNK;
		if (!idset_finish_run(&s->open, id, n))
			break;
		submit_run_bulk(s, p + off, n, item, lat, (pid_t)pid, runs,
		    r.num.kind);
		off += n * item;
		id += n;
		if (s->finishing || s->peer == NULL || peer_fd(s->peer) == -1)
			return (false);
	}
	for (; off < h->len; off += item, id++) {
		if (!submit_take(s, id))
			continue;
		memcpy(&v, p + off, 8);
		v = le64toh(v);
		lat = submit_run_lat(p + off, item, lat);
		if (r.num.kind == NUM_INT)
			r.num.i = (i128)(int64_t)v;
		else
			memcpy(&r.num.d, &v, 8);
		if (s->keep_inputs) {	/* --tag, --joblog: with the input */
			memset(&ex, 0, sizeof(ex));
			submit_report(s, id, JOB_OK, &r, &ex, (pid_t)pid, lat,
			    runs);
		} else
			report_job_num(s->report, id, &r.num, (pid_t)pid, lat,
			    runs, &none);
		/* Gone, or over (a broken stdout): the rest is no news. */
		if (s->finishing || s->peer == NULL || peer_fd(s->peer) == -1)
			return (false);
	}
	return (true);
}

/*
 * A RESULT: print it like drover run (once: a repeat is not counted).  A
 * durable batch may see a result again after a reconnect, which is no
 * news; a result for a job never sent is.
 */
static void
submit_result(struct submit *s, const struct frame_hdr *h, const char *p)
{
	struct ctl_meta		 m;
	struct frame_result	 r;
	struct report_extra	 ex;
	const char		*why;

	if (h->len < CTL_META_LEN || h->status >= JOB_NSTATUS) {
		submit_end(s, 3, "bad RESULT from droverd");
		return;
	}
	if (h->flags & CTL_F_BATCH) {
		(void)submit_run(s, h, p);
		return;
	}
	if (!submit_take(s, h->id))
		return;
	ctl_meta_get(p, &m);
	memset(&ex, 0, sizeof(ex));
	if (ctl_result_split(p + CTL_META_LEN, h->len - CTL_META_LEN, h, &r,
	    &ex.input, &ex.inlen, &why) == -1) {
		log_warnx("bad RESULT from droverd: %s", why);
		submit_end(s, 3, "bad RESULT from droverd");
		return;
	}
	submit_report(s, h->id, (enum job_status)h->status, &r, &ex,
	    (pid_t)m.pid, m.latency_us, m.attempts);
}

/*
 * A SUMS (ctl.h, "sums"), header h checked by ctl_parse(): jobs h->id on,
 * all ok, counted from their sums as submit_run() counts the outputs.
 * Every one of them must be waiting for its result: a SUMS cannot say
 * which of its jobs a repeat would be, and droverd sends none for a
 * durable batch, the one kind that may see a result again.
 */
static void
submit_sums(struct submit *s, const struct frame_hdr *h, const char *p)
{
	struct ctl_sums	 u;
	const char	*why;

	if (ctl_sums_get(p, h->id, &u, &why) == -1) {
		log_warnx("bad SUMS from droverd: %s", why);
		submit_end(s, 3, "bad message from droverd");
		return;
	}
	if (s->keep_inputs || !report_takes_sums(s->report) ||
	    !idset_finish_run(&s->open, h->id, u.jobs)) {
		log_warnx("droverd sent SUMS for jobs %llu to %llu, not all "
		    "waiting for a result", (unsigned long long)h->id,
		    (unsigned long long)(h->id + (u.jobs - 1)));
		submit_end(s, 3, "bad message from droverd");
		return;
	}
	report_latency_n(s->report, (pid_t)u.meta.pid, u.meta.latency_us,
	    u.jobs);
	report_sums(s->report, u.jobs, u.sum, u.min, u.max,
	    u.meta.attempts > 1 ? u.jobs : 0);
}

/* May a lost durable batch be taken up again? */
static bool
submit_may_reconnect(const struct submit *s)
{
	return (s->durable && s->reconnect > 0 && !s->cancelled &&
	    !s->finishing && s->signals == 0 && !report_halted(s->report));
}

/* Say where a durable batch's results are, once we leave without them. */
static void
submit_name_batch(const struct submit *s, const char *why)
{
	if (s->batch != NULL)
		log_warnx("batch %s: %s; see 'drover results %s' later",
		    s->batch, why, s->batch);
}

/* Seconds since the connection was lost. */
static double
submit_down_for(const struct submit *s)
{
	return ((double)(clock_us() - s->lost_us) / 1e6);
}

/* Drop the connection (if any) of a try or of the batch. */
static void
submit_hang_up(struct submit *s)
{
	evtimer_del(s->ev_timer);
	peer_free(s->peer);
	s->peer = NULL;
	s->wbroken = false;
	s->conn = SC_DOWN;
}

/*
 * The try failed (why): try again after the backoff, 50 ms doubling up to
 * 1 s, but not past --reconnect seconds since the loss; then the batch is
 * lost to us (exit 3), and its jobs run on in droverd.
 */
static void
submit_retry(struct submit *s, const char *why)
{
	struct timeval	 tv;
	double		 left, wait;
	char		 msg[1024];

	if (why != s->try_why)
		snprintf(s->try_why, sizeof(s->try_why), "%s", why);
	submit_hang_up(s);
	left = s->reconnect - submit_down_for(s);
	if (left <= 0) {
		snprintf(msg, sizeof(msg), "lost droverd (%s), and could not "
		    "reconnect within %g s (%s)", s->lost_why, s->reconnect,
		    s->try_why);
		submit_name_batch(s, msg);
		submit_end(s, 3, "lost the connection to droverd");
		return;
	}
	wait = s->backoff < left ? s->backoff : left;
	s->backoff *= 2;
	if (s->backoff > SUBMIT_BACKOFF_MAX)
		s->backoff = SUBMIT_BACKOFF_MAX;
	tv.tv_sec = (time_t)wait;
	tv.tv_usec = (suseconds_t)((wait - (double)tv.tv_sec) * 1e6);
	evtimer_add(s->ev_retry, &tv);
}

/* The connection of a durable batch is gone (why): reconnect. */
static void
submit_reconnect(struct submit *s, const char *why)
{
	snprintf(s->lost_why, sizeof(s->lost_why), "%s", why);
	s->lost_us = clock_us();
	s->backoff = SUBMIT_BACKOFF_MIN;
	log_warnx("lost droverd (%s); reconnecting for up to %g s", why,
	    s->reconnect);
	submit_retry(s, why);
}

static void
submit_retry_cb(int fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	submit_attempt(arg);
}

/*
 * Back on a connection that goes on with the batch: droverd holds every
 * job below next_id; send the others we kept, then END if the input is
 * over, and go on.
 */
static void
submit_resumed(struct submit *s, uint64_t next)
{
	size_t	 n;

	if (s->any_acked && next <= s->acked)
		log_warnx("droverd holds the batch's jobs below %llu, but had "
		    "accepted up to %llu: those between get no result",
		    (unsigned long long)next, (unsigned long long)s->acked);
	if (next > 0)
		unacked_trim(&s->unacked, next - 1);
	log_warnx("reconnected; resending %llu jobs",
	    (unsigned long long)unacked_count(&s->unacked));
	s->conn = SC_SUBMIT;
	if ((n = unacked_bytes(&s->unacked)) != 0) {
		memcpy(peer_reserve(s->peer, n), unacked_data(&s->unacked), n);
		peer_commit(s->peer, n);
		peer_schedule(s->peer);
	}
	if (s->input_over) {
		s->ended = s->end_sent = true;
		submit_send(s, CTL_END, 0, NULL, 0);
	} else if (s->input != NULL)
		input_resume(s->input);
}

/*
 * The REPLY of a try: to go on with the batch (SC_RESUME), or to take its
 * results (SC_FETCH).  droverd refuses to go on with a batch that is
 * complete; if it may be (our END went out), its results are taken with a
 * "results" request instead.  A batch droverd does not know is lost for
 * good; any other refusal (shutting down, a stopped pool) is tried again.
 */
static void
submit_try_reply(struct submit *s, const char *p, size_t len)
{
	json_t		*o;
	const char	*err = NULL, *state = NULL;
	json_int_t	 next = 0;
	int		 ok = 0;
	char		 why[512];

	evtimer_del(s->ev_timer);
	if ((o = json_loadb(p, len, 0, NULL)) == NULL ||
	    json_unpack(o, "{s:b,s?s,s?I,s?s}", "ok", &ok, "error", &err,
	    "next_id", &next, "state", &state) == -1) {
		json_decref(o);
		submit_retry(s, "bad reply from droverd");
		return;
	}
	if (!ok && err != NULL && strncmp(err, "unknown batch", 13) == 0) {
		snprintf(why, sizeof(why), "droverd has lost it: %s", err);
		submit_name_batch(s, why);
		submit_end(s, 3, "lost the connection to droverd");
	} else if (!ok && s->conn == SC_RESUME && s->end_sent) {
		snprintf(s->try_why, sizeof(s->try_why), "%s", err != NULL ?
		    err : "refused");
		submit_hang_up(s);
		s->conn = SC_FETCH;
		submit_attempt(s);
	} else if (!ok)
		submit_retry(s, err != NULL ? err : "refused");
	else if (s->conn == SC_RESUME)
		submit_resumed(s, next < 0 ? 0 : (uint64_t)next);
	else if (s->detach && state != NULL && strcmp(state, "open") != 0)
		submit_detached(s);	/* the END is in: no more to do */
	else
		s->conn = SC_FETCHING;
	json_decref(o);
}

/*
 * The BYE of a "results" request: a complete batch is over, every result
 * taken; otherwise go on with it.
 */
static void
submit_fetched(struct submit *s, const char *state)
{
	if (state != NULL && strcmp(state, "complete") == 0)
		submit_end(s, -1, "droverd sent no result for it");
	else
		submit_retry(s, "the batch is not complete");
}

/*
 * A try at taking up the batch again: connect and ask, to go on with it,
 * or (SC_FETCH) for its results.  A try that fails goes on with the
 * backoff.
 */
static void
submit_attempt(struct submit *s)
{
	double	 left = s->reconnect - submit_down_for(s);
	int	 fd;

	if (s->finishing)
		return;
	if (left > s->timeout)
		left = s->timeout;
	/* Several nodes (--socket A --socket B): the next one each try. */
	if (s->npaths > 1) {
		s->pathi = (s->pathi + 1) % s->npaths;
		s->path = s->paths[s->pathi];
	}
	if ((fd = client_try_connect(s->path, left > 0.001 ? left :
	    0.001)) == -1) {
		submit_retry(s, errno == EAGAIN ? "no answer" :
		    strerror(errno));
		return;
	}
	evutil_make_socket_nonblocking(fd);
	s->peer = peer_new(s->base, fd, NULL, &submit_peer_ops, s);
	peer_set_reading(s->peer, true);
	if (s->conn != SC_FETCH)
		s->conn = SC_RESUME;
	submit_request(s);
	submit_arm(s, s->timeout);
}

/* BYE: droverd is done with us; what it did not take is cancelled. */
static void
submit_bye(struct submit *s, const char *p, size_t len)
{
	json_t		*o;
	json_int_t	 restarts = 0;
	const char	*stopped = NULL, *state = NULL;
	int		 durable = 0, taken = 0;
	char		 why[512];

	if ((o = json_loadb(p, len, 0, NULL)) != NULL)
		(void)json_unpack(o, "{s?I,s?s,s?b,s?s,s?b}", "restarts",
		    &restarts, "stopped", &stopped, "durable", &durable,
		    "state", &state, "taken", &taken);
	s->restarts = (uint64_t)restarts;
	if (stopped != NULL)
		snprintf(why, sizeof(why), "droverd took no more jobs: %s",
		    stopped);
	if (s->conn == SC_FETCHING)
		submit_fetched(s, state);
	else if (stopped != NULL && durable && submit_may_reconnect(s) &&
	    !taken)		/* another connection has it now: leave it */
		submit_reconnect(s, why);
	else if (s->detach && stopped == NULL)
		submit_detached(s);	/* complete: its END is in */
	else if (stopped != NULL && report_halted(s->report))
		submit_end(s, -1, "halted");	/* the report says why */
	else if (stopped != NULL) {
		if (s->signals == 0)
			log_warnx("%s", why);
		if (durable)
			submit_name_batch(s, "its jobs without a result run "
			    "on");
		submit_end(s, 1, why);
	} else
		submit_end(s, -1, "droverd sent no result for it");
	json_decref(o);
}

/* Judge a header before its payload is read. */
static enum peer_verdict
submit_header(void *arg, const char *p, struct frame_hdr *h,
    const char **why)
{
	(void)arg;
	if (ctl_parse(p, FRAME_HDRLEN, h, why) == FRAME_BAD)
		return (PEER_REFUSE);
	return (PEER_TAKE);
}

/* Take messages only while the batch goes on. */
static bool
submit_more(void *arg)
{
	struct submit	*s = arg;

	return (!s->finishing && s->status == -1);
}

/* One whole message from droverd. */
static void
submit_frame(void *arg, const struct frame_hdr *h, const char *p,
    size_t len)
{
	struct submit	*s = arg;

	if (h->type == CTL_RESULT && s->conn <= SC_FETCHING)
		submit_result(s, h, p);
	else if (h->type == CTL_SUMS && s->conn <= SC_FETCHING)
		submit_sums(s, h, p);
	else if (h->type == CTL_READ && s->conn == SC_SUBMIT && s->passing)
		submit_read(s, h);
	else if (h->type == CTL_ACCEPTED && s->conn == SC_SUBMIT)
		submit_accepted(s, h);
	else if (h->type == CTL_REPLY && s->conn == SC_REQUEST)
		submit_reply(s, p, len);
	else if (h->type == CTL_REPLY && (s->conn == SC_RESUME ||
	    s->conn == SC_FETCH))
		submit_try_reply(s, p, len);
	else if (h->type == CTL_BYE && (s->conn == SC_SUBMIT ||
	    s->conn == SC_FETCHING))
		submit_bye(s, p, len);
	else {
		log_warnx("unexpected %s from droverd",
		    ctl_type_name(h->type));
		submit_name_batch(s, "droverd broke the protocol");
		submit_end(s, 3, "bad message from droverd");
	}
}

/*
 * The hot path of the results (peer.h's frames()): the whole RESULTs at
 * the head of the buffer that are ok and carry only their output (a
 * number, typed, or text) and the metadata, reported in one loop, each
 * checked as ctl_parse() and submit_result() would.  Anything else (a job
 * not ok, sections, another message, a repeat, a bad typed output) stops
 * the loop, and that frame goes the usual way: submit_header(), then
 * submit_frame().
 */
static size_t
submit_frames(void *arg, const char *p, size_t len)
{
	static const struct report_extra none;
	struct submit		*s = arg;
	struct frame_result	 r;
	struct report_extra	 ex;
	struct ctl_meta		 m;
	struct num_value	 v;
	struct frame_hdr	 h;
	const char		*q, *why;
	size_t			 off = 0;
	uint32_t		 n;
	uint64_t		 id;

	while (s->conn <= SC_FETCHING && !s->finishing && s->status == -1 &&
	    len - off >= FRAME_HDRLEN) {
		q = p + off;
		if (q[6] & CTL_F_BATCH) {	/* a run of them */
			if (ctl_parse(q, len - off, &h, &why) != FRAME_GOOD ||
			    h.type != CTL_RESULT ||
			    len - off - FRAME_HDRLEN < h.len)
				break;
			off += FRAME_HDRLEN + h.len;
			if (!submit_run(s, &h, q + FRAME_HDRLEN))
				break;
			continue;
		}
		memcpy(&n, q, 4);
		n = le32toh(n);
		if (q[4] != CTL_RESULT || q[5] != JOB_OK || q[7] != 0 ||
		    (q[6] & ~CTL_F_TYPED) != 0 || n < CTL_META_LEN ||
		    n > FRAME_MAXLEN || len - off - FRAME_HDRLEN < n)
			break;
		v.kind = NUM_NONE;
		if (q[6] != 0 && frame_num_get(q + FRAME_HDRLEN + CTL_META_LEN,
		    n - CTL_META_LEN, (uint8_t)q[6], &v, &why) == -1)
			break;
		memcpy(&id, q + 8, 8);
		id = le64toh(id);
		if (!idset_finish(&s->open, id))
			break;		/* a repeat: submit_result() sees it */
		ctl_meta_get(q + FRAME_HDRLEN, &m);
		off += FRAME_HDRLEN + n;
		if (s->keep_inputs) {	/* --tag, --joblog: with the input */
			memset(&r, 0, sizeof(r));
			memset(&ex, 0, sizeof(ex));
			r.num = v;
			r.out = q + FRAME_HDRLEN + CTL_META_LEN;
			r.outlen = v.kind != NUM_NONE ? 0 : n - CTL_META_LEN;
			submit_report(s, id, JOB_OK, &r, &ex, (pid_t)m.pid,
			    m.latency_us, m.attempts);
		} else if (v.kind != NUM_NONE)
			report_job_num(s->report, id, &v, (pid_t)m.pid,
			    m.latency_us, m.attempts, &none);
		else
			report_job(s->report, id, JOB_OK, q + FRAME_HDRLEN +
			    CTL_META_LEN, n - CTL_META_LEN, (pid_t)m.pid,
			    m.latency_us, m.attempts, &none);
		if (s->peer == NULL || peer_fd(s->peer) == -1)
			break;
	}
	return (off);
}

/* Our output drained below half the high-water mark: send more input. */
static void
submit_written(void *arg, bool all)
{
	struct submit	*s = arg;

	if (!all && peer_pending(s->peer) > SUBMIT_OUT_HIGH / 2)
		return;
	if (s->input != NULL && !s->ended && !s->finishing)
		input_resume(s->input);
}

static void
submit_lost(void *arg, enum peer_loss loss, const char *why)
{
	struct submit	*s = arg;
	char		 msg[512];

	if (s->finishing)
		return;
	/* A try that failed; a write error waits for the read side's word. */
	if (s->conn == SC_RESUME || s->conn == SC_FETCH ||
	    s->conn == SC_FETCHING) {
		if (loss != PEER_WRITE_ERROR) {
			snprintf(msg, sizeof(msg), "droverd closed the "
			    "connection (%s)", why);
			submit_retry(s, msg);
		}
		return;
	}
	if (loss == PEER_BAD) {
		log_warnx("bad message from droverd: %s", why);
		submit_name_batch(s, "droverd broke the protocol");
		submit_end(s, 3, "bad message from droverd");
		return;
	}
	/*
	 * A write error (EPIPE) is not the end: what droverd said before it
	 * hung up is still to be read (a refusal closes the socket before
	 * our request is written).  Send nothing more; the read side ends it
	 * (a durable batch then reconnects and sends again).
	 */
	if (loss == PEER_WRITE_ERROR) {
		if (s->durable) {
			s->wbroken = true;
			return;
		}
		if (s->input != NULL)
			input_stop(s->input);
		s->ended = true;
		return;
	}
	if (!s->accepted) {
		log_warnx("droverd closed the connection without answering");
		s->status = 3;
		event_base_loopexit(s->base, NULL);
		return;
	}
	if (submit_may_reconnect(s)) {
		submit_reconnect(s, why);
		return;
	}
	log_warnx("lost the connection to droverd with %llu jobs "
	    "outstanding", (unsigned long long)idset_open(&s->open));
	submit_name_batch(s, "its jobs run on in droverd");
	submit_end(s, 3, "lost the connection to droverd");
}

static const struct peer_ops submit_peer_ops = {
	.header = submit_header,
	.more = submit_more,
	.frame = submit_frame,
	.frames = submit_frames,
	.written = submit_written,
	.lost = submit_lost,
};

/* Leave the loop: the summary is out and stdout took everything. */
static void
submit_leave(void *arg)
{
	struct submit	*s = arg;

	event_base_loopexit(s->base, NULL);
}

/*
 * The batch is over, however it ended: report every job sent without a
 * result as cancelled (why), print the summary, and leave once stdout has
 * taken it.  status is the exit status to force, or -1 to judge by the
 * jobs.  --detach reports no job: it leaves at once.
 */
static void
submit_end(struct submit *s, int status, const char *why)
{
	struct frame_result	 r;
	struct report_extra	 ex;
	uint64_t		 id = 0;

	if (s->finishing)
		return;
	s->finishing = true;
	if (status != -1)
		s->status = status;
	evtimer_del(s->ev_timer);
	evtimer_del(s->ev_retry);
	if (s->input != NULL)
		input_stop(s->input);
	if (s->peer != NULL)
		peer_set_reading(s->peer, false);
	if (s->detach) {
		if (s->status == -1)
			s->status = 1;
		event_base_loopexit(s->base, NULL);
		return;
	}
	while (idset_next_open(&s->open, &id)) {
		(void)idset_finish(&s->open, id);
		memset(&r, 0, sizeof(r));
		memset(&ex, 0, sizeof(ex));
		r.out = why;
		r.outlen = strlen(why);
		submit_report(s, id, JOB_CANCELLED, &r, &ex, 0, 0, 0);
		id++;
	}
	report_finish(s->report, s->restarts, submit_leave, s);
}

/*
 * We leave a durable batch before its end (--halt now, a second signal,
 * stdout gone): droverd does not cancel its jobs when we go, as it does
 * for a batch that is not durable, so say CANCEL first, at once.
 */
static void
submit_cancel_now(struct submit *s)
{
	if (!s->durable || s->peer == NULL || s->cancelled)
		return;
	s->ended = s->cancelled = true;
	peer_send(s->peer, CTL_CANCEL, 0, 0, NULL, 0);
	peer_flush(s->peer);
}

/*
 * The reply did not come in time (of a try: try again), or the shutdown
 * timeout passed.
 */
static void
submit_timer_cb(int fd, short what, void *arg)
{
	struct submit	*s = arg;
	char		 why[64];

	(void)fd;
	(void)what;
	if (s->conn == SC_RESUME || s->conn == SC_FETCH) {
		snprintf(why, sizeof(why), "no answer within %g s",
		    s->timeout);
		submit_retry(s, why);
		return;
	}
	if (!s->accepted) {
		log_warnx("droverd did not answer within %g s", s->timeout);
		s->status = 3;
		event_base_loopexit(s->base, NULL);
		return;
	}
	log_warnx("shutdown timeout (%g s): leaving %llu jobs in flight "
	    "to droverd", s->shutdown_timeout,
	    (unsigned long long)idset_open(&s->open));
	submit_end(s, 1, "shutdown timeout: no result in time");
}

/*
 * SIGINT/SIGTERM: cancel what is queued, give in-flight jobs
 * --shutdown-timeout; the second one leaves at once, and so does the
 * first while a durable batch has no connection to say CANCEL on.
 */
static void
submit_signal_cb(int sig, short what, void *arg)
{
	struct submit	*s = arg;

	(void)what;
	if (s->signals++ != 0 || !s->accepted || s->finishing ||
	    s->conn != SC_SUBMIT) {
		log_warnx("%s: leaving now", strsignal(sig));
		if (s->accepted && !s->finishing) {
			submit_cancel_now(s);
			if (s->conn != SC_SUBMIT)
				submit_name_batch(s, "interrupted while "
				    "reconnecting");
			submit_end(s, 1, "interrupted");
		}
		if (s->status == -1)	/* a lost connection stays 3 */
			s->status = 1;
		event_base_loopexit(s->base, NULL);
		return;
	}
	log_warnx("%s: cancelling queued jobs, finishing those running for "
	    "up to %g s (again to leave at once)", strsignal(sig),
	    s->shutdown_timeout);
	if (s->input != NULL)
		input_stop(s->input);
	submit_send(s, CTL_CANCEL, 0, NULL, 0);
	s->ended = s->cancelled = true;
	submit_arm(s, s->shutdown_timeout);
}

static void
submit_resume(void *arg)
{
	struct submit	*s = arg;

	if (s->input != NULL && !s->ended && !s->finishing)
		input_resume(s->input);
}

/* stdout is gone: leave quietly (droverd cancels what we leave). */
static void
submit_broken(void *arg)
{
	struct submit	*s = arg;

	s->broken = true;
	submit_cancel_now(s);
	submit_end(s, 1, "stdout is gone");
}

/*
 * --halt's condition is met.  soon: send no more jobs and CANCEL, so that
 * droverd cancels what is queued and finishes what runs; now: leave at
 * once, closing the connection (droverd cancels the rest; what is running
 * finishes on its workers, unreported).  The report gives the halt as the
 * reason of every job cancelled.
 */
static void
submit_halt(void *arg, bool now, const char *why)
{
	struct submit	*s = arg;

	if (s->finishing)
		return;
	if (now) {
		submit_cancel_now(s);
		submit_end(s, -1, why);
		return;
	}
	if (s->input != NULL)
		input_stop(s->input);
	if (!s->ended || !s->cancelled) {
		submit_send(s, CTL_CANCEL, 0, NULL, 0);
		s->cancelled = true;
	}
	s->ended = true;
}

static const struct report_hooks submit_report_hooks = {
	.resume = submit_resume,
	.broken = submit_broken,
	.halt = submit_halt,
};

static void
submit_usage(FILE *f)
{
	fprintf(f,
"usage: drover submit --pool POOL [--socket PATH] [-i FILE] [-0] [--json]\n"
"                     [--ordered] [--quiet] [--progress|--no-progress]\n"
"                     [--stats-interval SECS] [--timeout SECS]\n"
"                     [--shutdown-timeout SECS] [--total N]\n"
"                     [--joblog FILE] [--halt WHEN,WHY] [--tag]\n"
"                     [--reconnect SECS] [--detach]\n"
"\n"
"Stream jobs (one per input line) to a pool of a running droverd; print\n"
"results and the summary exactly as drover run does.  The socket is\n"
"--socket, $DROVER_SOCKET, or " DROVER_DEFAULT_SOCKET "; --socket may come\n"
"up to 8 times (the nodes of shared pools): the first that answers, and\n"
"the next on each reconnect.  --timeout (10)\n"
"bounds the wait for droverd to answer the request; after SIGINT/SIGTERM,\n"
"--shutdown-timeout (5) bounds the wait for jobs in flight.  Every job\n"
"read is reported once: one that droverd never finished is cancelled,\n"
"with the reason.\n"
"\n"
"  --joblog FILE     a row per finished job in GNU parallel's format\n"
"  --halt WHEN,WHY   stop after failures or successes: WHEN now (leave,\n"
"                    droverd cancels the rest) or soon (CANCEL, let the\n"
"                    running finish); WHY fail=N, fail=P%%, success=N or\n"
"                    success=P%%\n"
"  --tag             prefix each output line with the job's input and a\n"
"                    tab\n"
"  --reconnect SECS  a durable or shared batch whose connection is lost\n"
"                    reconnects for up to SECS (60; 0: never), goes on\n"
"  --detach          stream the jobs into a durable batch, print its id\n"
"                    once all are accepted, and leave (drover results)\n");
}

int
submit_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pool", required_argument, NULL, 'p' },
		{ "socket", required_argument, NULL, 's' },
		{ "input", required_argument, NULL, 'i' },
		{ "null", no_argument, NULL, '0' },
		{ "json", no_argument, NULL, 'j' },
		{ "ordered", no_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "progress", no_argument, NULL, 'P' },
		{ "no-progress", no_argument, NULL, 'N' },
		{ "stats-interval", required_argument, NULL, 'S' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "shutdown-timeout", required_argument, NULL, 'D' },
		{ "total", required_argument, NULL, 'n' },
		{ "joblog", required_argument, NULL, 'J' },
		{ "halt", required_argument, NULL, 'H' },
		{ "tag", no_argument, NULL, 't' },
		{ "reconnect", required_argument, NULL, 'R' },
		{ "detach", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct submit		 s;
	struct report_opts	 ro;
	struct event		*ev_int, *ev_term;
	const char		*sock = NULL, *input = NULL, *joblog = NULL;
	char			 cwd[PATH_MAX];
	int			 ch, progress = -1, fd;

	memset(&s, 0, sizeof(s));
	memset(&ro, 0, sizeof(ro));
	ro.reorder_cap = SUBMIT_REORDER_CAP;
	ro.joblog_fd = -1;
	s.delim = '\n';
	s.infd = STDIN_FILENO;
	s.status = -1;
	s.conn = SC_REQUEST;
	s.timeout = CLIENT_TIMEOUT;
	s.shutdown_timeout = 5.0;
	s.reconnect = 60;
	idset_init(&s.open);
	inmap_init(&s.inputs);
	unacked_init(&s.unacked);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "p:s:i:0qh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'p':
			s.pool = optarg;
			break;
		case 's':
			if (s.npaths == SUBMIT_SOCKETS)
				cli_usage_error("at most %d --socket",
				    SUBMIT_SOCKETS);
			sock = s.paths[s.npaths++] = optarg;
			break;
		case 'i':
			input = optarg;
			break;
		case '0':
			s.delim = '\0';
			break;
		case 'j':
			ro.json = true;
			break;
		case 'o':
			ro.ordered = true;
			break;
		case 'q':
			ro.quiet = true;
			break;
		case 'P':
			progress = 1;
			break;
		case 'N':
			progress = 0;
			break;
		case 'S':
			ro.stats_interval = cli_real("--stats-interval",
			    optarg, 0, 86400);
			break;
		case 'T':
			s.timeout = cli_real("--timeout", optarg, 0, 86400);
			break;
		case 'D':
			s.shutdown_timeout = cli_seconds("--shutdown-timeout",
			    optarg);
			break;
		case 'n':
			s.total = cli_number("--total", optarg, 1,
			    UINT64_MAX / 2);
			break;
		case 'J':
			joblog = optarg;
			break;
		case 'H':
			if (report_halt_parse(optarg, &ro.halt) == -1)
				cli_usage_error("--halt: '%s' is not now|soon,"
				    "fail=N|P%%|success=N|P%%", optarg);
			break;
		case 't':
			ro.tag = true;
			break;
		case 'R':
			s.reconnect = cli_seconds("--reconnect", optarg);
			break;
		case 'd':
			s.detach = true;
			break;
		case 'h':
			submit_usage(stdout);
			return (0);
		default:
			cli_usage_error("see 'drover submit --help'");
		}
	}
	if (optind != argc)
		cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (s.pool == NULL)
		cli_usage_error("submit needs --pool NAME");
	/* Options about results: --detach takes none. */
	if (s.detach && (ro.ordered || ro.tag || joblog != NULL ||
	    ro.halt.when != HALT_NEVER))
		cli_usage_error("--detach takes no results: not with "
		    "--ordered, --tag, --joblog or --halt");
	if (input != NULL && strcmp(input, "-") != 0 &&
	    (s.infd = open(input, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("unable to open %s", input);
		return (2);
	}
	ro.progress = progress == -1 ? isatty(STDERR_FILENO) : progress;
	if (s.detach) {
		ro.progress = false;
		ro.stats_interval = 0;
	}
	s.report_total = ro.progress || ro.halt.percent;
	s.keep_inputs = ro.tag || joblog != NULL;
	if (joblog != NULL &&
	    (ro.joblog_fd = report_joblog_open(joblog)) == -1)
		return (2);
	if (getcwd(cwd, sizeof(cwd)) != NULL)
		s.cwd = cwd;

	signal(SIGPIPE, SIG_IGN);
	s.path = client_socket_path(s.npaths > 0 ? s.paths[0] : sock);
	/* Of several nodes, the first that answers. */
	fd = -1;
	for (s.pathi = 0; s.npaths > 1 && s.pathi < s.npaths; s.pathi++)
		if ((fd = client_try_connect(s.paths[s.pathi], s.timeout)) !=
		    -1) {
			s.path = s.paths[s.pathi];
			break;
		}
	if (fd == -1) {
		s.pathi = 0;
		fd = client_connect(s.path, s.timeout);
	}
	evutil_make_socket_nonblocking(fd);
	if ((s.base = event_base_new()) == NULL)
		fatalx("unable to create the event loop");
	s.peer = peer_new(s.base, fd, NULL, &submit_peer_ops, &s);
	peer_set_reading(s.peer, true);
	s.report = report_new(s.base, &ro);
	report_set_hooks(s.report, &submit_report_hooks, &s);
	s.ev_timer = evtimer_new(s.base, submit_timer_cb, &s);
	s.ev_retry = evtimer_new(s.base, submit_retry_cb, &s);
	ev_int = evsignal_new(s.base, SIGINT, submit_signal_cb, &s);
	ev_term = evsignal_new(s.base, SIGTERM, submit_signal_cb, &s);
	evsignal_add(ev_int, NULL);
	evsignal_add(ev_term, NULL);
	submit_request(&s);
	submit_arm(&s, s.timeout);
	event_base_dispatch(s.base);

	if (!s.accepted)
		report_flush(s.report);
	if (s.detached)
		s.status = report_failed(s.report) != 0 ? 1 : 0;
	if (s.status == -1 && report_halt_ok(s.report) && s.signals == 0)
		s.status = 0;
	if (s.status == -1)
		s.status = report_failed(s.report) != 0 || s.signals != 0 ?
		    1 : 0;
	input_free(s.input);
	report_free(s.report);
	peer_free(s.peer);
	event_free(s.ev_timer);
	event_free(s.ev_retry);
	event_free(ev_int);
	event_free(ev_term);
	event_base_free(s.base);
	idset_free(&s.open);
	inmap_free(&s.inputs);
	unacked_free(&s.unacked);
	if (s.infd != STDIN_FILENO)
		close(s.infd);
	if (s.broken)
		cli_exit_sigpipe();
	/* --detach: the id, once the batch holds every job and the END. */
	if (s.detached && (printf("%s\n", s.batch) < 0 ||
	    fflush(stdout) == EOF)) {
		if (errno == EPIPE)
			cli_exit_sigpipe();
		log_warn("unable to write the batch id");
		s.status = 3;
	}
	free(s.batch);
	return (s.status);
}

/* Seconds as "3d4h", "2h05m", "4m07s", "12.3s". */
static void
fmt_age(char *dst, size_t size, double s)
{
	long	 t = (long)s;

	if (s < 60)
		snprintf(dst, size, "%.1fs", s);
	else if (t < 3600)
		snprintf(dst, size, "%ldm%02lds", t / 60, t % 60);
	else if (t < 86400)
		snprintf(dst, size, "%ldh%02ldm", t / 3600, t % 3600 / 60);
	else
		snprintf(dst, size, "%ldd%ldh", t / 86400, t % 86400 / 3600);
}

/* The integer, number or string at key k of o (0 or "" if absent). */
static long long
jint(json_t *o, const char *k)
{
	return ((long long)json_integer_value(json_object_get(o, k)));
}

static double
jreal(json_t *o, const char *k)
{
	return (json_number_value(json_object_get(o, k)));
}

static const char *
jstr(json_t *o, const char *k)
{
	const char	*s = json_string_value(json_object_get(o, k));

	return (s != NULL ? s : "");
}

/* Sum the values of a JSON object of counters. */
static long long
json_sum(json_t *o)
{
	const char	*k;
	json_t		*v;
	long long	 n = 0;

	json_object_foreach(o, k, v)
		n += json_integer_value(v);
	return (n);
}

/* One pool's workers as table rows. */
static void
status_workers(json_t *p, FILE *f)
{
	json_t	*w;
	size_t	 k;
	char	 age[32];

	fprintf(f, "  %-8s %-4s %-9s %10s %8s %9s %8s %9s\n", "PID", "ID",
	    "STATE", "JOBS", "INFLIGHT", "JOB AGE", "RESTARTS", "RSS");
	json_array_foreach(json_object_get(p, "workers"), k, w) {
		if (jint(w, "inflight") == 0)
			snprintf(age, sizeof(age), "-");
		else
			fmt_age(age, sizeof(age),
			    jreal(w, "current_job_age_s"));
		fprintf(f, "  %-8lld %-4lld %-9s %10lld %8lld %9s %8lld "
		    "%8.1fM\n", jint(w, "pid"), jint(w, "id"), jstr(w, "state"),
		    jint(w, "jobs"), jint(w, "inflight"), age,
		    jint(w, "restarts"), (double)jint(w, "rss_kb") / 1024.0);
	}
}

/* Print the status JSON as a table. */
static void
status_table(json_t *st, FILE *f)
{
	json_t		*p, *jobs;
	size_t		 i;
	char		 up[32];

	fmt_age(up, sizeof(up), jreal(st, "uptime_s"));
	fprintf(f, "droverd %s, pid %lld, up %s, %s, %lld clients, config "
	    "%s\n", jstr(st, "version"), jint(st, "pid"), up,
	    jstr(st, "state"), jint(st, "clients"), jstr(st, "config"));
	json_array_foreach(json_object_get(st, "pools"), i, p) {
		jobs = json_object_get(p, "jobs");
		fprintf(f, "\npool %s: %s, %s (%s), %zu/%lld workers, window "
		    "%lld, %lld queued, %lld in flight, %.0f jobs/s\n"
		    "  jobs: %lld ok, %lld not ok; %lld retried; %lld "
		    "restarts\n", jstr(p, "name"), jstr(p, "state"),
		    jstr(p, "worker"), jstr(p, "protocol"),
		    json_array_size(json_object_get(p, "workers")),
		    jint(p, "workers_target"), jint(p, "window"),
		    jint(p, "queued"), jint(p, "inflight"),
		    jreal(p, "jobs_per_s"), jint(jobs, "ok"),
		    json_sum(jobs) - jint(jobs, "ok"), jint(p, "retried"),
		    json_sum(json_object_get(p, "restarts")));
		if (json_object_get(p, "failure") != NULL)
			fprintf(f, "  FAILED: %s\n", jstr(p, "failure"));
		status_workers(p, f);
	}
}

int
status_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "watch", optional_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*sock = NULL;
	bool		 json = false;
	double		 watch = 0, timeout = CLIENT_TIMEOUT;
	json_t		*st;
	char		*s;
	int		 ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "s:jw::h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 's':
			sock = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'w':
			watch = optarg != NULL ? cli_real("--watch", optarg, 0,
			    86400) : 2.0;
			break;
		case 'T':
			timeout = cli_real("--timeout", optarg, 0, 86400);
			break;
		case 'h':
			printf("usage: drover status [--socket PATH] [--json] "
			    "[--watch[=SECS]] [--timeout SECS]\n");
			return (0);
		default:
			cli_usage_error("see 'drover status --help'");
		}
	}
	if (optind != argc)
		cli_usage_error("unexpected argument '%s'", argv[optind]);
	for (;;) {
		st = client_ask(client_socket_path(sock), json_pack("{s:s}",
		    "op", "status"), timeout);
		if (watch > 0 && !json)
			fputs("\033[H\033[2J", stdout);
		if (json) {
			s = json_dumps(st, JSON_COMPACT);
			printf("%s\n", s);
			free(s);
		} else
			status_table(st, stdout);
		json_decref(st);
		fflush(stdout);
		if (watch <= 0)
			return (0);
		struct timespec ts = { (time_t)watch,
		    (long)((watch - (double)(time_t)watch) * 1e9) };
		nanosleep(&ts, NULL);
	}
}

/*
 * The options every one-question command takes (--socket, --timeout,
 * --help).  Returns false after printing the usage for --help; exits 2 on
 * a bad option.
 */
static bool
client_ask_opts(int argc, char **argv, const char *cmd, const char *args,
    const char **sock, double *timeout)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int	 ch;

	*sock = NULL;
	*timeout = CLIENT_TIMEOUT;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			*sock = optarg;
			break;
		case 'T':
			*timeout = cli_real("--timeout", optarg, 0, 86400);
			break;
		case 'h':
			printf("usage: drover %s%s [--socket PATH] "
			    "[--timeout SECS]\n", cmd, args);
			return (false);
		default:
			cli_usage_error("see 'drover %s --help'", cmd);
		}
	}
	return (true);
}

int
reload_main(int argc, char **argv)
{
	const char	*sock, *msg = NULL, *failed = NULL;
	json_t		*r;
	double		 timeout;
	int		 ok = 0;

	if (!client_ask_opts(argc, argv, "reload", "", &sock, &timeout))
		return (0);
	if (optind != argc)
		cli_usage_error("unexpected argument '%s'", argv[optind]);
	r = client_ask(client_socket_path(sock), json_pack("{s:s}", "op",
	    "reload"), timeout);
	if (json_unpack(r, "{s:b,s?s,s?s,s?s}", "ok", &ok, "changes", &msg,
	    "error", &msg, "failed", &failed) == -1)
		fatalx("bad reply from droverd");
	if (ok) {
		printf("reloaded%s\n%s", msg != NULL && *msg ? ":" :
		    " (nothing changed)", msg != NULL ? msg : "");
		/* Applied, but a pool it started or changed did not start. */
		if (failed != NULL)
			fprintf(stderr, "drover: %s", failed);
		json_decref(r);
		return (failed != NULL ? 1 : 0);
	}
	fprintf(stderr, "drover: reload failed; droverd keeps its running "
	    "configuration:\n%s", msg != NULL ? msg : "");
	json_decref(r);
	return (2);
}

/*
 * `drover scale POOL N`, `drover stop POOL`, `drover start POOL`,
 * `drover restart POOL`: one pool's control (droverd(8)).  Exit 0 when
 * done, 2 for an unknown pool or a bad number, 3 when droverd refused.
 */
int
pool_op_main(const char *op, int argc, char **argv)
{
	const char	*sock, *msg = NULL;
	bool		 scale = strcmp(op, "scale") == 0;
	json_t		*req, *r;
	double		 timeout;
	int		 ok = 0, rv;

	if (!client_ask_opts(argc, argv, op, scale ? " POOL N" : " POOL",
	    &sock, &timeout))
		return (0);
	if (argc - optind != (scale ? 2 : 1))
		cli_usage_error("usage: drover %s POOL%s", op, scale ? " N" :
		    "");
	req = json_pack("{s:s,s:o}", "op", op, "pool",
	    jsonw_text(argv[optind]));
	if (scale)
		json_object_set_new(req, "workers", json_integer(
		    (json_int_t)cli_number("workers", argv[optind + 1], 1,
		    POOLCONF_MAX_WORKERS)));
	r = client_ask(client_socket_path(sock), req, timeout);
	if (json_unpack(r, "{s:b,s?s,s?s}", "ok", &ok, "message", &msg,
	    "error", &msg) == -1)
		fatalx("bad reply from droverd");
	if (ok) {
		printf("%s\n", msg != NULL ? msg : "done");
		rv = 0;
	} else {
		fprintf(stderr, "drover: %s\n", msg != NULL ? msg : "refused");
		rv = msg != NULL && strncmp(msg, "unknown pool", 12) == 0 ? 2 :
		    3;
	}
	json_decref(r);
	return (rv);
}

/*
 * The control socket (common/ctl.h, docs/protocol.md): a Unix stream
 * listener whose clients submit batches, ask for status, or reload.
 *
 * Access is the socket's mode and group plus SO_PEERCRED checked against
 * `allow` (users and @groups; root and droverd's own user always pass).
 *
 * A submitting client is a batch (daemon/batch.h): its JOB messages go to
 * its pool, and each result goes back to it alone as a RESULT.  Backpressure
 * works both ways by not reading: jobs are read only while the pool has room
 * and while the results waiting to be written to this client stay under a
 * high-water mark.  A client that goes away has its queued jobs cancelled;
 * its in-flight jobs finish and their results are dropped; the client
 * object lives until its last job is reported.
 *
 * Each connection is a peer (common/peer.c): raw events and flat buffers
 * rather than bufferevents, which made 10 syscalls of a one-job round trip
 * where 6 do.  Each header is judged once, before its payload is buffered;
 * replies are appended to the peer's output and written once at the end
 * of the loop turn; the write event is armed only when the socket is full.
 */
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>

#include "acceptguard.h"
#include "batch.h"
#include "buf.h"
#include "conf.h"
#include "copy.h"
#include "control.h"
#include "ctl.h"
#include "durable.h"
#include "shared.h"
#include "hooks.h"
#include "input.h"
#include "job.h"
#include "jsonw.h"
#include "log.h"
#include "lsplit.h"
#include "peer.h"
#include "pool.h"
#include "poolconf.h"
#include "timer.h"
#include "usock.h"
#include "xmalloc.h"

#define CLIENT_OUT_HIGH		(4 * 1024 * 1024)	/* stop reading jobs */
#define CLIENT_RUN		256	/* jobs per pool_submit_run() */
/* Bytes 4 to 7 of a JOB's (and a RECORDS') header, read as one word. */
#define CLIENT_JOB_WORD		htole32(CTL_JOB)
#define CLIENT_RECORDS_WORD	htole32(CTL_RECORDS)
#define CLIENT_OUT_LOW		(1 * 1024 * 1024)	/* read again */
#define CLIENT_RS_SUMS		0x01	/* rs_flag of an open SUMS */
#define CLIENT_READ_MAX		(256 * 1024)
#define CLIENT_READS_PER_EVENT	4
#define CLIENT_IDLE_SECS	10	/* for a request, or mid-message */
#define RELOAD_LOOK_US		20000	/* how often a reload looks at its */
#define RELOAD_LOOKS		250	/* new pools, and for how long (5 s) */

enum client_state {
	CS_NEW,		/* waiting for its REQUEST */
	CS_SUBMIT,	/* streaming jobs and results */
	CS_RELOAD,	/* reloaded: waiting for its new pools to come up */
	CS_RESULTS,	/* drover results: a batch's results read back */
	CS_LOOKUP,	/* a shared batch to resume, being looked up */
	CS_CLOSING,	/* reply sent: close once written */
};

struct client {
	struct batch		 b;		/* first: the pool sees this */
	TAILQ_ENTRY(client)	 entry;
	struct control		*ctl;
	int			 fd;		/* -1 once the peer is gone */
	struct peer		*peer;		/* the socket, framed */
	struct event		*ev_idle;	/* CLIENT_IDLE_SECS */
	struct event		*ev_wait;	/* CS_RELOAD: look again */
	struct buf		 changes;	/* CS_RELOAD: what changed */
	unsigned		 waits;		/* CS_RELOAD: looks left */
	enum client_state	 state;
	uid_t			 uid;
	pid_t			 pid;
	struct pool		*pool;
	uint64_t		 max_job_bytes;
	uint64_t		 restarts0;	/* pool restarts at the start */
	unsigned		 sections;	/* CTL_F_*: RESULT sections */
	size_t			 rs_len;	/* the open run's payload, */
	uint64_t		 rs_end;	/* its end, as queued total, */
	uint64_t		 rs_next;	/* the id it takes next, */
	uint32_t		 rs_pid;	/* its jobs' worker, */
	uint32_t		 rs_runs;	/* attempts, */
	uint64_t		 rs_lat;	/* latency (runlat), */
	uint8_t			 rs_flag;	/* type (ctl.h, CTL_F_BATCH) */
	uint64_t		 rs_jobs;	/* a SUMS': its jobs, */
	i128			 rs_sum;	/* their sum, */
	int64_t			 rs_min;	/* least */
	int64_t			 rs_max;	/* and greatest */
	bool			 sums;		/* takes SUMS (ctl.h) */
	struct input		*in;		/* its INPUT, read here */
	int			 in_fd;		/* that input's fd, or -1 */
	bool			 in_offered;	/* REPLY: "input":"fd" */
	uint64_t		 read_base;	/* the open READ's first job, */
	uint64_t		 read_sent;	/* its id (jobs read), */
	uint64_t		 read_end;	/* the output total after it */
	char			 in_why[160];	/* why the INPUT ended early */
	char			*cwd;		/* its directory (exec_cwd) */
	bool			 skip_quiet;	/* no "rejected" for its skip */
	bool			 records;	/* takes RECORDS, ended by */
	uint8_t			 delim;		/* this byte */
	bool			 input_done;	/* END, drain, pool removed */
	bool			 paused;	/* not reading: no room */
	const char		*stopped;	/* why input ended early */
	bool			 bye_sent;
	unsigned		 hold;		/* callbacks running: keep */
	struct xbatch		*xb;		/* durable or shared, bound */
	bool			 db_held;	/* its hold() is on */
	bool			 detach;	/* leaves once all is in */
	uint64_t		 restarts;	/* at the pool's close */
	struct dreader		*rd;		/* CS_RESULTS, durable */
	struct sreader		*srd;		/* CS_RESULTS, shared */
	bool			 srd_begun;	/* its REPLY is sent */
	char			*batch_id;	/* CS_RESULTS */
	char			*lookup_pool;	/* CS_LOOKUP */
};

/* A client's INPUT, freed once no hook of it runs (client_input_gone()). */
struct client_input {
	struct input		*in;
	int			 fd;
	SLIST_ENTRY(client_input) entry;
};

struct control {
	struct event_base	*base;
	struct evconnlistener	*listener;
	struct accept_guard	*guard;
	const struct daemon_hooks *hooks;
	char			*path;
	TAILQ_HEAD(, client)	 clients;
	SLIST_HEAD(, client_input) gone;	/* INPUTs to free */
	struct event		*ev_reap;	/* frees them */
	time_t			 evict_logged;	/* one line a minute */
};

static void	client_room(struct batch *);
static void	client_done_run(struct batch *, struct job *const *,
		    const char *, size_t, enum num_kind, pid_t, uint64_t);
static void	client_done(struct batch *, struct job *,
		    const struct jobresult *);
static void	client_closing(struct batch *, const char *);
static void	client_read(struct client *);
static void	client_maybe_free(struct client *);
static void	client_hold(struct client *);
static void	client_release(struct client *);
static void	client_close(struct client *);
static void	client_lost(struct client *, const char *);
static void	client_input_gone(struct client *);
static void	client_no_input(struct client *);
static void	control_reap_cb(int, short, void *);
static void	client_idle_update(struct client *);
static void	client_reload_look(struct client *);
static void	client_end_input(struct client *, const char *);
static void	client_check_bye(struct client *);
static void	client_unbind(struct client *);
static void	client_results_shared(struct client *, json_t *,
		    const char *);
static struct shared *client_shared(const struct client *);
static void	reader_result(void *, uint64_t, enum job_status,
		    const char *, size_t);
static const char *client_batch_id(const struct client *);
static void	client_bind(struct client *, struct pool *, struct xbatch *,
		    bool);
static char	*client_section_put(char *, unsigned, unsigned, const char *,
		    size_t);

static const struct batch_ops client_ops = {
	.room = client_room,
	.done = client_done,
	.closing = client_closing,
	.done_run = client_done_run,
};

/* Is a socket at path alive (someone accepts on it)? */
static bool
socket_alive(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd, rv;

	if (strlen(path) >= sizeof(sun.sun_path) ||
	    (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (false);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	rv = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return (rv == 0);
}

/*
 * Listen on the socket of c, with its mode and group, refusing to take over
 * a socket that another droverd still answers on.
 */
static int
control_bind(const struct conf *c, char *err, size_t errlen)
{
	if (socket_alive(c->socket)) {
		snprintf(err, errlen, "%s is in use: is another droverd "
		    "running?", c->socket);
		return (-1);
	}
	return (usock_listen(c->socket, c->socket_mode, c->socket_group ==
	    NULL ? USOCK_KEEP_GID : c->socket_gid, 128, err, errlen));
}

/* Does uid pass the allow list (users and @groups)? */
static bool
control_allowed(const struct control *ctl, uid_t uid)
{
	const struct conf	*c = ctl->hooks->conf();
	struct passwd		*pw;
	struct group		*gr;
	gid_t			 groups[256];
	int			 ngroups = 256, i, k;
	char			**a;

	if (uid == 0 || uid == geteuid())
		return (true);
	if ((pw = getpwuid(uid)) == NULL)
		return (false);
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &ngroups) == -1)
		ngroups = 0;
	for (a = c->allow; a != NULL && *a != NULL; a++) {
		if (**a != '@') {
			if (strcmp(*a, pw->pw_name) == 0)
				return (true);
			continue;
		}
		if ((gr = getgrnam(*a + 1)) == NULL)
			continue;
		for (i = 0; i < ngroups; i++)
			if (groups[i] == gr->gr_gid)
				return (true);
		for (k = 0; gr->gr_mem[k] != NULL; k++)
			if (strcmp(gr->gr_mem[k], pw->pw_name) == 0)
				return (true);
	}
	return (false);
}

/* Stop or resume reading the client's socket. */
static void
client_set_reading(struct client *cl, bool on)
{
	if (cl->fd == -1)
		return;
	peer_set_reading(cl->peer, on);
}

/*
 * A flush of the peer: waiting for the socket (all false), or everything
 * written, when the pool may start the client's jobs again, a reply sent
 * means close, and a pause for our output is over.
 */
static void
client_written(void *arg, bool all)
{
	struct client	*cl = arg;

	client_hold(cl);
	if (!all) {
		client_idle_update(cl);
		goto out;
	}
	if (cl->b.held)
		pool_hold(cl->pool, &cl->b, false);
	if (cl->xb != NULL) {
		if (cl->db_held) {
			cl->db_held = false;
			cl->xb->ops->hold(cl->xb, false);
		}
		if (!cl->detach)
			cl->xb->ops->written(cl->xb);
	}
	if (cl->rd != NULL)
		durable_read_more(cl->rd);
	if (cl->srd != NULL)
		shared_read_more(cl->srd);
	if (cl->state == CS_CLOSING) {
		client_close(cl);
		goto out;
	}
	if (cl->paused && cl->state == CS_SUBMIT && !cl->input_done) {
		cl->paused = false;
		client_set_reading(cl, true);
		client_read(cl);
		if (cl->in != NULL)
			input_resume(cl->in);
	}
out:
	client_release(cl);
}

/* Write what is queued at the end of this loop turn. */
static void
client_schedule(struct client *cl)
{
	if (cl->fd == -1)
		return;
	if (peer_pending(cl->peer) >= CLIENT_OUT_HIGH) {
		peer_flush(cl->peer);
		if (cl->fd == -1 || peer_pending(cl->peer) < CLIENT_OUT_HIGH)
			return;
		if (cl->xb != NULL && !cl->db_held) {
			cl->db_held = true;
			cl->xb->ops->hold(cl->xb, true);
		} else if (cl->xb == NULL && cl->pool != NULL)
			pool_hold(cl->pool, &cl->b, true);
		return;
	}
	peer_schedule(cl->peer);
}

/* Queue one message for the client. */
static void
client_send(struct client *cl, uint8_t type, uint8_t status, uint64_t id,
    const void *p, size_t len)
{
	if (cl->fd == -1)
		return;
	peer_send(cl->peer, type, status, id, p, len);
	client_schedule(cl);
}

/* Send a JSON message (REPLY or BYE); the object is consumed. */
static void
client_send_json(struct client *cl, uint8_t type, json_t *o)
{
	char	*s;

	s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (s == NULL) {
		/* A bug, not the client's doing; it must not stop droverd. */
		log_warnx("client pid %d: unable to encode a reply",
		    (int)cl->pid);
		client_lost(cl, "unable to encode a reply");
		return;
	}
	client_send(cl, type, 0, 0, s, strlen(s));
	free(s);
}

/* Reply with an error, then close. */
static void
client_fail(struct client *cl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
client_fail(struct client *cl, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cl->state = CS_CLOSING;
	client_set_reading(cl, false);
	client_send_json(cl, CTL_REPLY, json_pack("{s:b,s:o}", "ok", 0,
	    "error", jsonw_text(msg)));
}

/* Close the connection (the client object may live on for its jobs). */
static void
client_close(struct client *cl)
{
	if (cl->fd == -1)
		return;
	event_del(cl->ev_idle);
	event_del(cl->ev_wait);
	peer_close(cl->peer);
	cl->fd = -1;
	if (cl->in != NULL)	/* no one to tell what it reads */
		input_stop(cl->in);
	client_maybe_free(cl);
}

/* The peer is gone or broke the protocol: drop it, cancel its queue. */
static void
client_lost(struct client *cl, const char *why)
{
	if (cl->fd != -1)
		log_debug("client pid %d: %s", (int)cl->pid, why);
	cl->input_done = true;
	client_hold(cl);
	client_close(cl);
	if (cl->xb != NULL)
		client_unbind(cl);	/* the batch goes on without us */
	else if (cl->pool != NULL && cl->state == CS_SUBMIT) {
		pool_cancel(cl->pool, &cl->b, "the client went away");
		pool_hold(cl->pool, &cl->b, false);
	}
	client_release(cl);
}

/*
 * Every way into a client from the event loop or the pool (its socket's
 * events, pool room, a job done, drain) holds it for the duration: inside,
 * a write error or a protocol violation may close the connection and end
 * the batch, and the client must not be freed under the code still using
 * it.  The last release frees it if it is done.
 */
static void
client_hold(struct client *cl)
{
	cl->hold++;
}

static void
client_release(struct client *cl)
{
	if (--cl->hold == 0)
		client_maybe_free(cl);
}

/* Free the client once nothing refers to it any more. */
static void
client_maybe_free(struct client *cl)
{
	struct control	*ctl = cl->ctl;

	if (cl->fd != -1 || cl->hold != 0)
		return;
	if (cl->state == CS_SUBMIT && !batch_idle(&cl->b))
		return;
	if (cl->b.pool != NULL)
		pool_detach(cl->b.pool, &cl->b);
	client_unbind(cl);
	if (cl->rd != NULL)
		durable_read_close(cl->rd);
	if (cl->srd != NULL)
		shared_read_close(cl->srd);
	if (cl->lookup_pool != NULL && client_shared(cl) != NULL)
		shared_find_cancel(client_shared(cl), cl);
	free(cl->lookup_pool);
	TAILQ_REMOVE(&ctl->clients, cl, entry);
	peer_free(cl->peer);
	event_free(cl->ev_idle);
	event_free(cl->ev_wait);
	buf_free(&cl->changes);
	client_input_gone(cl);
	free(cl->cwd);
	free(cl->batch_id);
	free(cl);
}

/* Input over and every job reported: say goodbye and close. */
static void
client_check_bye(struct client *cl)
{
	json_t	*o;

	if (cl->state != CS_SUBMIT || !cl->input_done || cl->bye_sent ||
	    !batch_idle(&cl->b) || cl->fd == -1)
		return;
	if (cl->xb != NULL && !cl->xb->ops->settled(cl->xb))
		return;
	o = json_pack("{s:I}", "restarts", (json_int_t)(cl->pool != NULL ?
	    pool_restarts(cl->pool) - cl->restarts0 : cl->restarts));
	if (cl->stopped != NULL)
		json_object_set_new(o, "stopped", jsonw_text(cl->stopped));
	if (cl->xb != NULL) {
		json_object_set_new(o, "batch", json_string(
		    client_batch_id(cl)));
		json_object_set_new(o, "durable", json_true());
	}
	cl->bye_sent = true;
	cl->state = CS_CLOSING;
	client_set_reading(cl, false);
	client_send_json(cl, CTL_BYE, o);
}

/* The RESULT sections a submit asked for ("sections", ctl.h). */
static unsigned
client_sections(json_t *req)
{
	json_t		*a = json_object_get(req, "sections"), *v;
	unsigned	 bits = 0;
	size_t		 i;

	json_array_foreach(a, i, v)
		if (json_is_string(v))
			bits |= ctl_sections_parse(json_string_value(v));
	return (bits);
}

/*
 * "records":D in a submit REQUEST: the client may send RECORDS, each job
 * ended by the byte D.  An in-memory batch takes them (a durable or
 * shared one keeps each job as its JOB message: not offered there).
 */
static bool
client_take_records(struct client *cl, json_t *req)
{
	json_t	*d = json_object_get(req, "records");

	if (!json_is_integer(d) || json_integer_value(d) < 0 ||
	    json_integer_value(d) > 255)
		return (false);
	cl->records = true;
	cl->delim = (uint8_t)json_integer_value(d);
	return (true);
}

/*
 * A pool with exec_cwd = "client" runs each job in the directory of the
 * client that sent it: the REQUEST's "cwd", an absolute path (drover
 * submit sends its own).  False if that is missing (the client told).
 */
static bool
client_take_cwd(struct client *cl, struct pool *p, json_t *req)
{
	const char	*ec = pool_conf(p)->exec_cwd, *cwd = NULL;

	if (ec == NULL || strcmp(ec, "client") != 0)
		return (true);
	if (json_unpack(req, "{s:s}", "cwd", &cwd) == -1 || *cwd != '/' ||
	    strlen(cwd) >= PATH_MAX) {
		client_fail(cl, "pool '%s' runs jobs in the client's "
		    "directory: the request needs \"cwd\", an absolute path",
		    pool_name(p));
		return (false);
	}
	cl->cwd = xstrdup(cwd);
	cl->b.cwd = cl->cwd;
	return (true);
}

/*
 * Send a stored result (durable.h) as a RESULT with the sections this
 * client asked for.  A record the journal damaged is said so rather than
 * sent as it is.
 */
static void
client_send_rec(struct client *cl, uint64_t id, enum job_status st,
    const char *rec, size_t len)
{
	static const unsigned	 bits[] = { CTL_F_STDERR, CTL_F_OUTPUT,
	    CTL_F_FIELDS, CTL_F_INPUT };
	static const char	 damaged[] = "the journal's record of this "
	    "result is damaged";
	struct ctl_meta		 m = { 0, 0, 0 };
	const char		*p, *sec[4], *end;
	size_t			 seclen[4], n, i, out;
	unsigned		 flags, want;
	uint32_t		 l;
	char			*w;

	if (cl->fd == -1)
		return;
	if (len < 1 + CTL_META_LEN || ((flags = DURABLE_REC_FLAGS(rec)) &
	    ~CTL_F_ALL) != 0)
		goto bad;
	want = flags & cl->sections;
	p = rec + 1 + CTL_META_LEN;
	end = rec + len;
	for (i = 0; i < 4; i++) {
		sec[i] = NULL;
		seclen[i] = 0;
		if (!(flags & bits[i]))
			continue;
		if (end - p < 4)
			goto bad;
		memcpy(&l, p, 4);
		l = le32toh(l);
		if ((size_t)(end - p - 4) < l)
			goto bad;
		sec[i] = p + 4;
		seclen[i] = l;
		p += 4 + l;
	}
	out = (size_t)(end - p);
	n = CTL_META_LEN + out;
	for (i = 0; i < 4; i++)
		if (want & bits[i])
			n += 4 + seclen[i];
	w = peer_reserve(cl->peer, FRAME_HDRLEN + n);
	frame_put(w, CTL_RESULT, (uint8_t)st, (uint32_t)n, id);
	w[6] = (char)want;
	memcpy(w + FRAME_HDRLEN, rec + 1, CTL_META_LEN);
	w += FRAME_HDRLEN + CTL_META_LEN;
	for (i = 0; i < 4; i++)
		w = client_section_put(w, want, bits[i], sec[i], seclen[i]);
	if (out != 0)
		memcpy(w, p, out);
	peer_commit(cl->peer, FRAME_HDRLEN + n);
	client_schedule(cl);
	return;
bad:
	n = CTL_META_LEN + sizeof(damaged) - 1;
	w = peer_reserve(cl->peer, FRAME_HDRLEN + n);
	frame_put(w, CTL_RESULT, JOB_CRASHED, (uint32_t)n, id);
	ctl_meta_put(w + FRAME_HDRLEN, &m);
	memcpy(w + FRAME_HDRLEN + CTL_META_LEN, damaged, sizeof(damaged) - 1);
	peer_commit(cl->peer, FRAME_HDRLEN + n);
	client_schedule(cl);
}

/* The id of the batch this connection is bound to. */
static const char *
client_batch_id(const struct client *cl)
{
	struct xbatch_info	 i;

	cl->xb->ops->info(cl->xb, &i);
	return (i.id);
}

/* Leave the durable batch (it goes on: its jobs are in the journal). */
static void
client_unbind(struct client *cl)
{
	if (cl->xb == NULL)
		return;
	cl->xb->ops->unbind(cl->xb, cl);
	if (cl->db_held)
		cl->xb->ops->hold(cl->xb, false);
	cl->db_held = false;
	cl->xb = NULL;
}

/* The sink of a durable batch (durable.h). */
static void
sink_accepted(void *arg, uint64_t id, bool ended)
{
	struct client	*cl = arg;

	client_hold(cl);	/* a write may lose the peer */
	client_send(cl, CTL_ACCEPTED, ended ? CTL_ACC_ENDED : 0, id, NULL, 0);
	client_release(cl);
}

static void
sink_result(void *arg, uint64_t id, enum job_status st, const char *rec,
    size_t len)
{
	struct client	*cl = arg;

	client_hold(cl);
	if (!cl->detach)	/* it takes them later, with drover results */
		client_send_rec(cl, id, st, rec, len);
	client_release(cl);
}

static void
sink_closing(void *arg, const char *why)
{
	struct client	*cl = arg;

	if (cl->pool != NULL) {
		cl->restarts = pool_restarts(cl->pool) - cl->restarts0;
		cl->pool = NULL;	/* it may go before we do */
	}
	/* After END too: BYE must say the rest waits in the journal. */
	if (cl->stopped == NULL)
		cl->stopped = why;
	client_end_input(cl, why);
}

static void
sink_room(void *arg)
{
	struct client	*cl = arg;

	client_room(&cl->b);
}

static void
sink_kick(void *arg)
{
	struct client	*cl = arg;

	client_hold(cl);
	client_check_bye(cl);
	client_release(cl);
}

/* Taken away: another connection has the batch, or the journal failed. */
static void
sink_lost(void *arg, const char *why)
{
	struct client	*cl = arg;
	json_t		*o;

	client_hold(cl);
	o = json_pack("{s:I,s:s,s:s,s:b}", "restarts", (json_int_t)0,
	    "stopped", why, "batch", client_batch_id(cl), "durable", 1);
	if (strcmp(why, XBATCH_TAKEN) == 0)
		json_object_set_new(o, "taken", json_true());
	client_unbind(cl);
	cl->input_done = true;
	if (!cl->bye_sent && cl->fd != -1) {
		cl->bye_sent = true;
		cl->state = CS_CLOSING;
		client_set_reading(cl, false);
		client_send_json(cl, CTL_BYE, o);
	} else
		json_decref(o);
	client_release(cl);
}

static const struct xbatch_sink client_sink = {
	.accepted = sink_accepted,
	.result = sink_result,
	.closing = sink_closing,
	.room = sink_room,
	.kick = sink_kick,
	.lost = sink_lost,
};

/*
 * A submit to a durable pool: a new batch, or the one named to go on
 * with ("batch"), bound to this connection (docs/protocol.md, "Durable
 * batches").
 */
static void
client_submit_durable(struct client *cl, struct pool *p, json_t *req)
{
	struct durable	*d = cl->ctl->hooks->durable();
	json_t		*jb = json_object_get(req, "batch");
	const char	*id = NULL;
	char		 who[64], err[512];
	struct dbatch	*db;

	if (jb != NULL && (!json_is_string(jb) ||
	    *(id = json_string_value(jb)) == '\0')) {
		client_fail(cl, "\"batch\" must be a batch id");
		return;
	}
	snprintf(who, sizeof(who), "uid %d pid %d", (int)cl->uid,
	    (int)cl->pid);
	if ((db = durable_batch(d, p, id, who, pool_name(p), err,
	    sizeof(err))) == NULL) {
		client_fail(cl, "%s", err);
		return;
	}
	cl->detach = json_is_true(json_object_get(req, "detach"));
	cl->sections = client_sections(req);
	client_bind(cl, p, durable_xbatch(db), id != NULL);
}

/*
 * Bind this connection to batch xb (durable or shared): the REPLY with
 * its id and counts, then the sink, which may replay results at once.
 */
static void
client_bind(struct client *cl, struct pool *p, struct xbatch *xb,
    bool resumed)
{
	struct xbatch_info	 i;

	xb->ops->info(xb, &i);
	cl->xb = xb;
	cl->pool = p;
	cl->max_job_bytes = pool_conf(p)->max_job_bytes;
	cl->restarts0 = pool_restarts(p);
	cl->state = CS_SUBMIT;
	client_send_json(cl, CTL_REPLY, json_pack("{s:b,s:s,s:I,s:s,s:b,s:I,"
	    "s:I,s:I}", "ok", 1, "pool", pool_name(p), "max_job_bytes",
	    (json_int_t)cl->max_job_bytes, "batch", i.id, "durable", 1,
	    "next_id", (json_int_t)i.next_id, "jobs", (json_int_t)i.jobs,
	    "done", (json_int_t)i.done));
	log_debug("client pid %d: %s batch %s of %s", (int)cl->pid,
	    resumed ? "resuming" : "submitting", i.id, pool_name(p));
	/* The batch, not this connection, holds the pool: it may go. */
	cl->pool = NULL;
	cl->restarts = 0;
	xb->ops->bind(xb, &client_sink, cl);
}

static struct shared *
client_shared(const struct client *cl)
{
	return (cl->ctl->hooks->shared != NULL ? cl->ctl->hooks->shared() :
	    NULL);
}

/* The shared batch to resume was found (or not). */
static void
client_found(void *arg, struct xbatch *xb, const char *err)
{
	struct client	*cl = arg;
	struct pool	*p;

	client_hold(cl);
	if (cl->fd == -1 || cl->state != CS_LOOKUP)
		goto out;
	cl->state = CS_NEW;
	if (xb == NULL) {
		client_fail(cl, "%s", err);
		goto out;
	}
	/* The pool may have gone while Redis answered. */
	p = cl->ctl->hooks->pool(cl->lookup_pool);
	if (p == NULL || pool_state(p) != POOL_RUNNING ||
	    !pool_conf(p)->shared) {
		client_fail(cl, "pool '%s' is not a running shared pool here",
		    cl->lookup_pool);
		goto out;
	}
	client_bind(cl, p, xb, true);
	client_set_reading(cl, true);
	client_read(cl);
out:
	client_release(cl);
}

/*
 * A submit to a shared pool: a new batch on Redis, or one to go on with
 * (looked up in Redis: another node may have started it).
 */
static void
client_submit_shared(struct client *cl, struct pool *p, json_t *req)
{
	struct shared	*sh = client_shared(cl);
	json_t		*jb = json_object_get(req, "batch");
	struct xbatch	*xb;
	char		 err[512];

	cl->detach = json_is_true(json_object_get(req, "detach"));
	cl->sections = client_sections(req);
	if (jb != NULL) {
		if (!json_is_string(jb) || *json_string_value(jb) == '\0') {
			client_fail(cl, "\"batch\" must be a batch id");
			return;
		}
		cl->state = CS_LOOKUP;
		cl->lookup_pool = xstrdup(pool_name(p));
		client_set_reading(cl, false);
		shared_find(sh, json_string_value(jb), pool_name(p),
		    client_found, cl);
		return;
	}
	if ((xb = shared_batch(sh, p, err, sizeof(err))) == NULL) {
		client_fail(cl, "%s", err);
		return;
	}
	client_bind(cl, p, xb, false);
}

/* drover results: a batch's results read back from the journal. */
static void
reader_result(void *arg, uint64_t id, enum job_status st, const char *rec,
    size_t len)
{
	struct client	*cl = arg;

	client_hold(cl);
	client_send_rec(cl, id, st, rec, len);
	client_release(cl);
}

static void
reader_page_end(void *arg)
{
	struct client	*cl = arg;

	if (cl->fd != -1 && peer_pending(cl->peer) < CLIENT_OUT_LOW)
		durable_read_more(cl->rd);	/* else client_written */
}

static void
reader_end(void *arg, const char *why)
{
	struct client	*cl = arg;
	struct durable	*d = cl->ctl->hooks->durable();
	struct dbatch	*db;
	json_t		*o;

	cl->rd = NULL;
	db = d != NULL ? durable_find(d, cl->batch_id) : NULL;
	o = json_pack("{s:I,s:s}", "restarts", (json_int_t)0, "batch",
	    cl->batch_id);
	if (db != NULL) {
		json_object_set_new(o, "state", json_string(
		    durable_state_name(db)));
		json_object_set_new(o, "jobs", json_integer(
		    (json_int_t)durable_jobs(db)));
		json_object_set_new(o, "done", json_integer(
		    (json_int_t)durable_done(db)));
	}
	if (why != NULL)
		json_object_set_new(o, "error", jsonw_text(why));
	client_hold(cl);
	cl->state = CS_CLOSING;
	client_send_json(cl, CTL_BYE, o);
	client_release(cl);
}

static const struct dreader_ops client_reader_ops = {
	.result = reader_result,
	.page_end = reader_page_end,
	.end = reader_end,
};

/* The journal, or NULL after telling the client there is none. */
static struct durable *
client_journal(struct client *cl)
{
	struct durable	*d = cl->ctl->hooks->durable != NULL ?
	    cl->ctl->hooks->durable() : NULL;

	if (d == NULL)
		client_fail(cl, "droverd has no journal: batches are kept only "
		    "with journal set (droverd.conf(5))");
	return (d);
}

/* drover results of a shared batch: read back from Redis. */
static void
sreader_begin(void *arg, const struct xbatch_info *i)
{
	struct client	*cl = arg;

	client_hold(cl);
	cl->srd_begun = true;
	client_send_json(cl, CTL_REPLY, json_pack("{s:b,s:s,s:s,s:s,s:I,s:I}",
	    "ok", 1, "batch", i->id, "pool", i->pool, "state", i->state,
	    "jobs", (json_int_t)i->jobs, "done", (json_int_t)i->done));
	client_release(cl);
}

static void
sreader_page_end(void *arg)
{
	struct client	*cl = arg;

	if (cl->fd != -1 && peer_pending(cl->peer) < CLIENT_OUT_LOW)
		shared_read_more(cl->srd);	/* else client_written */
}

static void
sreader_end(void *arg, const char *why)
{
	struct client	*cl = arg;
	json_t		*o;

	cl->srd = NULL;
	client_hold(cl);
	/* Before begin() (no REPLY yet): a refusal, not a BYE. */
	if (!cl->srd_begun) {
		cl->state = CS_NEW;
		client_fail(cl, "%s", why != NULL ? why : "no such batch");
		client_release(cl);
		return;
	}
	o = json_pack("{s:I,s:s}", "restarts", (json_int_t)0, "batch",
	    cl->batch_id);
	if (why != NULL)
		json_object_set_new(o, "error", jsonw_text(why));
	cl->state = CS_CLOSING;
	client_send_json(cl, CTL_BYE, o);
	client_release(cl);
}

static const struct xreader_ops client_sreader_ops = {
	.begin = sreader_begin,
	.result = reader_result,
	.page_end = sreader_page_end,
	.end = sreader_end,
};

static void
client_results_shared(struct client *cl, json_t *req, const char *id)
{
	cl->sections = client_sections(req);
	cl->batch_id = xstrdup(id);
	cl->state = CS_RESULTS;	/* reading on: to see the client go */
	if ((cl->srd = shared_read(client_shared(cl), id,
	    json_is_true(json_object_get(req, "wait")), &client_sreader_ops,
	    cl)) == NULL) {
		cl->state = CS_NEW;
		client_fail(cl, "no connection to Redis");
	}
}

/* Handle {"op":"results","batch":ID[,"wait":true]}. */
static void
client_results(struct client *cl, json_t *req)
{
	struct durable	*d = cl->ctl->hooks->durable != NULL ?
	    cl->ctl->hooks->durable() : NULL;
	struct dbatch	*db = NULL;
	const char	*id = NULL;

	if (json_unpack(req, "{s:s}", "batch", &id) == -1) {
		client_fail(cl, "results needs a batch id");
		return;
	}
	if (d != NULL)
		db = durable_find(d, id);
	if (db == NULL && client_shared(cl) != NULL) {
		client_results_shared(cl, req, id);
		return;
	}
	if (d == NULL) {
		(void)client_journal(cl);	/* says there is none */
		return;
	}
	if (db == NULL) {
		client_fail(cl, "unknown batch '%s'", id);
		return;
	}
	cl->sections = client_sections(req);
	cl->batch_id = xstrdup(id);
	cl->state = CS_RESULTS;	/* reading on: to see the client go */
	client_send_json(cl, CTL_REPLY, json_pack("{s:b,s:s,s:s,s:s,s:I,s:I}",
	    "ok", 1, "batch", durable_id(db), "pool", durable_pool_name(db),
	    "state", durable_state_name(db), "jobs",
	    (json_int_t)durable_jobs(db), "done",
	    (json_int_t)durable_done(db)));
	if ((cl->rd = durable_read(d, db, json_is_true(json_object_get(req,
	    "wait")), &client_reader_ops, cl)) == NULL)
		reader_end(cl, durable_failure(d) != NULL ?
		    durable_failure(d) : "journal failed");
}

/*
 * Handle {"op":"batches"}: the journal's batches, then the shared ones
 * this node holds (docs/protocol.md).
 */
static void
client_batches(struct client *cl)
{
	struct durable	*d = cl->ctl->hooks->durable != NULL ?
	    cl->ctl->hooks->durable() : NULL;
	struct shared	*sh = client_shared(cl);
	json_t		*a, *s;

	if (d == NULL && sh == NULL) {
		client_fail(cl, "droverd has no journal and no redis: batches "
		    "are kept with journal or redis set (droverd.conf(5))");
		return;
	}
	a = d != NULL ? durable_batches_json(d) : json_array();
	if (sh != NULL) {
		s = shared_batches_json(sh);
		json_array_extend(a, s);
		json_decref(s);
	}
	cl->state = CS_CLOSING;
	client_send_json(cl, CTL_REPLY, json_pack("{s:b,s:o}", "ok", 1,
	    "batches", a));
}

/* Handle {"op":"submit","pool":P}. */
static void
client_submit(struct client *cl, json_t *req)
{
	const char	*name = NULL;
	struct pool	*p;
	json_t		*reply;

	if (json_unpack(req, "{s:s}", "pool", &name) == -1) {
		client_fail(cl, "submit needs a pool name");
		return;
	}
	if (!cl->ctl->hooks->accepting()) {
		client_fail(cl, "droverd is shutting down; not accepting jobs");
		return;
	}
	if ((p = cl->ctl->hooks->pool(name)) == NULL) {
		client_fail(cl, "unknown pool '%s'", name);
		return;
	}
	if (pool_state(p) == POOL_FAILED) {
		client_fail(cl, "pool '%s' has failed: %s", name,
		    pool_failure(p));
		return;
	}
	if (pool_state(p) != POOL_RUNNING) {
		client_fail(cl, "pool '%s' is stopped (drover start %s)", name,
		    name);
		return;
	}
	if (!client_take_cwd(cl, p, req))
		return;
	if (pool_conf(p)->shared && client_shared(cl) != NULL) {
		client_submit_shared(cl, p, req);
		return;
	}
	/*
	 * A pool that runs jobs in the client's directory is not durable:
	 * the journal does not keep directories, and after a restart the
	 * jobs would run elsewhere.
	 */
	if (cl->ctl->hooks->durable != NULL &&
	    cl->ctl->hooks->durable() != NULL && pool_conf(p)->durable &&
	    cl->cwd == NULL) {
		client_submit_durable(cl, p, req);
		return;
	}
	if (json_object_get(req, "batch") != NULL ||
	    json_is_true(json_object_get(req, "detach"))) {
		client_fail(cl, "pool '%s' keeps no batches: %s", name,
		    cl->ctl->hooks->durable == NULL ||
		    cl->ctl->hooks->durable() == NULL ? "droverd has no "
		    "journal (droverd.conf(5))" : cl->cwd != NULL ? "it runs "
		    "jobs in the client's directory (exec_cwd = \"client\")" :
		    "it has durable = false");
		return;
	}
	cl->pool = p;
	cl->sections = client_sections(req);
	cl->b.runs = (cl->sections & CTL_F_TYPED) &&
	    (cl->sections & CTL_F_BATCH);
	cl->sums = cl->b.runs && (cl->sections & CTL_S_SUMS);
	cl->max_job_bytes = pool_conf(p)->max_job_bytes;
	cl->restarts0 = pool_restarts(p);
	cl->state = CS_SUBMIT;
	pool_attach(p, &cl->b);
	reply = json_pack("{s:b,s:s,s:I}", "ok", 1, "pool", name,
	    "max_job_bytes", (json_int_t)cl->max_job_bytes);
	if (client_take_records(cl, req)) {
		json_object_set_new(reply, "records", json_true());
		/* Its input itself, to read here (client_take_input()). */
		if (json_is_true(json_object_get(req, "pass_input"))) {
			json_object_set_new(reply, "input", json_string("fd"));
			cl->in_offered = true;
			peer_take_fds(cl->peer, true);
		}
	}
	client_send_json(cl, CTL_REPLY, reply);
	log_debug("client pid %d: submitting to %s", (int)cl->pid, name);
}

/* Handle {"op":"reload"}. */
static void
client_reload(struct client *cl)
{
	struct buf	 out;
	int		 rv;

	buf_init(&out);
	log_info("reload requested by pid %d (uid %d)", (int)cl->pid,
	    (int)cl->uid);
	rv = cl->ctl->hooks->reload(&out);
	if (rv == 0) {
		/* Applied: answer once its new pools are up, or one failed. */
		cl->changes = out;
		cl->state = CS_RELOAD;
		cl->waits = RELOAD_LOOKS;
		client_reload_look(cl);
		return;
	}
	buf_addc(&out, '\0');
	client_send_json(cl, CTL_REPLY, json_pack("{s:b,s:o}", "ok", false,
	    "error", jsonw_text(buf_data(&out))));
	buf_free(&out);
	cl->state = CS_CLOSING;
}

/*
 * A reload was applied: look whether the pools it started or changed are
 * up.  The reply says what changed, and "failed" names each pool that did
 * not start (`drover reload` exits 1 then); after RELOAD_LOOKS, what is
 * still starting is said so, not waited for.
 */
static void
client_reload_look(struct client *cl)
{
	struct buf	 why;
	json_t		*o;
	int		 r;

	if (cl->fd == -1)
		return;
	buf_init(&why);
	r = cl->ctl->hooks->reload_settled != NULL ?
	    cl->ctl->hooks->reload_settled(&why) : 1;
	if (r == 0 && cl->waits-- > 0) {
		buf_free(&why);
		timer_arm_us(cl->ev_wait, RELOAD_LOOK_US);
		return;
	}
	if (r == 0)
		buf_printf(&cl->changes, "some pools are still starting "
		    "(drover status)\n");
	buf_addc(&cl->changes, '\0');
	o = json_pack("{s:b,s:o}", "ok", true, "changes",
	    jsonw_text(buf_data(&cl->changes)));
	if (r == -1) {
		buf_addc(&why, '\0');
		json_object_set_new(o, "failed", jsonw_text(buf_data(&why)));
	}
	buf_free(&why);
	buf_free(&cl->changes);
	buf_init(&cl->changes);
	cl->state = CS_CLOSING;
	client_send_json(cl, CTL_REPLY, o);
}

static void
client_wait_cb(int fd, short what, void *arg)
{
	struct client	*cl = arg;

	(void)fd;
	(void)what;
	client_hold(cl);
	client_reload_look(cl);
	client_release(cl);
}

/* Handle {"op":"scale|stop|start|restart","pool":P[,"workers":N]}. */
static void
client_pool_op(struct client *cl, const char *op, json_t *req)
{
	const char	*name = NULL;
	json_int_t	 n = 0;
	struct buf	 out;
	int		 rv;

	if (json_unpack(req, "{s:s,s?I}", "pool", &name, "workers", &n) ==
	    -1) {
		client_fail(cl, "%s needs a pool name", op);
		return;
	}
	if (strcmp(op, "scale") == 0 && json_object_get(req, "workers") ==
	    NULL) {
		client_fail(cl, "scale needs a number of workers");
		return;
	}
	log_info("%s %s requested by pid %d (uid %d)", op, name,
	    (int)cl->pid, (int)cl->uid);
	buf_init(&out);
	rv = cl->ctl->hooks->pool_op(op, name, n > LONG_MAX || n < 0 ? -1 :
	    (long)n, &out);
	buf_addc(&out, '\0');
	cl->state = CS_CLOSING;
	client_send_json(cl, CTL_REPLY, json_pack("{s:b,s:o}", "ok", rv == 0,
	    rv == 0 ? "message" : "error", jsonw_text(buf_data(&out))));
	buf_free(&out);
}

/* The first message: what the client wants. */
static void
client_request(struct client *cl, const struct frame_hdr *h, const char *p)
{
	json_t		*req;
	json_error_t	 jerr;
	const char	*op = NULL;

	if (h->type != CTL_REQUEST) {
		client_fail(cl, "expected a REQUEST, not %s",
		    ctl_type_name(h->type));
		return;
	}
	if (h->id != CTL_VERSION) {
		client_fail(cl, "protocol version %llu is not supported (%d "
		    "is)", (unsigned long long)h->id, CTL_VERSION);
		return;
	}
	if ((req = json_loadb(p, h->len, 0, &jerr)) == NULL) {
		client_fail(cl, "bad request JSON: %s", jerr.text);
		return;
	}
	if (json_unpack(req, "{s:s}", "op", &op) == -1)
		client_fail(cl, "request without an op");
	else if (strcmp(op, "submit") == 0)
		client_submit(cl, req);
	else if (strcmp(op, "status") == 0) {
		cl->state = CS_CLOSING;
		client_send_json(cl, CTL_REPLY, cl->ctl->hooks->status());
	} else if (strcmp(op, "reload") == 0)
		client_reload(cl);
	else if (strcmp(op, "results") == 0)
		client_results(cl, req);
	else if (strcmp(op, "batches") == 0)
		client_batches(cl);
	else if (strcmp(op, "scale") == 0 || strcmp(op, "stop") == 0 ||
	    strcmp(op, "start") == 0 || strcmp(op, "restart") == 0)
		client_pool_op(cl, op, req);
	else
		client_fail(cl, "unknown op '%s'", op);
	json_decref(req);
}

/* May we take more jobs from this client right now? */
static bool
client_can_take(struct client *cl)
{
	if (peer_pending(cl->peer) > CLIENT_OUT_HIGH)
		return (false);
	if (cl->xb != NULL)
		return (cl->xb->ops->room(cl->xb) != 0);
	if (pool_room(cl->pool) == 0) {
		pool_wait_room(cl->pool, &cl->b);
		return (false);
	}
	return (true);
}

/* Job id of len bytes is over max_job_bytes: rejected, not run. */
static void
client_reject_size(struct client *cl, uint64_t id, uint64_t len)
{
	char		 why[160];

	snprintf(why, sizeof(why), "job is %llu bytes, over max_job_bytes "
	    "%llu", (unsigned long long)len,
	    (unsigned long long)cl->max_job_bytes);
	client_hold(cl);
	if (cl->xb != NULL)
		cl->xb->ops->reject(cl->xb, id, why);
	else if (cl->pool != NULL)
		pool_reject(cl->pool, &cl->b, id, why);
	client_release(cl);
}

/* An oversized JOB is skipped: reject it (unless it came after END). */
static void
client_skipped(void *arg, const struct frame_hdr *h)
{
	struct client	*cl = arg;

	client_no_input(cl);	/* a job came: no INPUT after it */
	if (!cl->skip_quiet)
		client_reject_size(cl, h->id, h->len);
}

static void	client_submit_run(struct client *, uint64_t,
		    const struct iovec *, size_t);

/*
 * A RECORDS message (p, len: its payload): its jobs, ids id on, to the
 * pool as the same JOBs would go, a run at a time, and one over
 * max_job_bytes rejected.  Returns the jobs it held, or -1 if it broke
 * the protocol (more than CTL_RECORDS_JOBS jobs, bytes after the last
 * delimiter, ids past the last): the client is closed then.
 */
static ssize_t
client_records(struct client *cl, uint64_t id, const char *p, size_t len)
{
	struct iovec	 recs[CTL_RECORDS_JOBS + 1];
	const char	*why = NULL, *last;
	size_t		 n, i, k;

	/* The common case: all whole, none too long, to the pool at once. */
	n = lsplit_bulk(p, len, cl->delim, cl->max_job_bytes, recs,
	    CTL_RECORDS_JOBS + 1);
	if (n != 0 && n <= CTL_RECORDS_JOBS && id <= UINT64_MAX - (n - 1) &&
	    (const char *)recs[n - 1].iov_base + recs[n - 1].iov_len + 1 ==
	    p + len) {
		if (!cl->input_done)	/* else after a drain: ignored */
			client_submit_run(cl, id, recs, n);
		return ((ssize_t)n);
	}
	n = lsplit_bulk(p, len, cl->delim, SIZE_MAX, recs, CTL_RECORDS_JOBS +
	    1);
	last = n == 0 ? p : (const char *)recs[n - 1].iov_base +
	    recs[n - 1].iov_len + 1;
	if (n > CTL_RECORDS_JOBS)
		why = "RECORDS of more than 1024 jobs";
	else if (last != p + len)
		why = "RECORDS not ended by its delimiter";
	else if (id > UINT64_MAX - (n - 1))
		why = "RECORDS past the last job id";
	if (why != NULL) {
		client_lost(cl, why);
		return (-1);
	}
	if (cl->input_done)		/* after a drain: ignored */
		return ((ssize_t)n);
	for (i = 0; i < n; i += k) {
		for (k = 0; i + k < n && k < CLIENT_RUN &&
		    recs[i + k].iov_len <= cl->max_job_bytes; k++)
			;
		if (k != 0)
			client_submit_run(cl, id + i, recs + i, k);
		else {
			client_reject_size(cl, id + i, recs[i].iov_len);
			k = 1;
		}
		/* A job that failed at once may have closed the client. */
		if (cl->fd == -1 || cl->input_done || cl->state != CS_SUBMIT)
			break;
	}
	return ((ssize_t)n);
}

/*
 * INPUT (docs/protocol.md): a client whose REPLY offered it ("input":"fd")
 * may pass its input's fd instead of sending its jobs, and droverd reads
 * them itself, as drover run reads its own (common/input.c), ids from 0
 * on, saying how far with READs.  The jobs go to the pool as a RECORDS'
 * would; the results go back as ever.
 */

/* Jobs came on the socket: no INPUT after them (one passed is closed). */
static void
client_no_input(struct client *cl)
{
	int	 fd;

	if (!cl->in_offered)
		return;
	cl->in_offered = false;
	peer_take_fds(cl->peer, false);
	if ((fd = peer_passed_fd(cl->peer)) != -1)
		(void)close(fd);
}

/*
 * Tell the client that the jobs below id are read from its INPUT (ended:
 * and that it is over) before any result of them: the READ at the end of
 * its output moved on while none of it is written and it announces at
 * most CTL_READ_JOBS jobs, else a new one.
 */
static void
client_read_upto(struct client *cl, uint64_t id, bool ended)
{
	uint64_t	 le = htole64(id);
	char		*p;

	if (cl->fd == -1 || (id == cl->read_sent && !ended))
		return;
	if (!ended && cl->read_end == peer_queued_total(cl->peer) &&
	    id - cl->read_base <= CTL_READ_JOBS &&
	    (p = peer_tail(cl->peer, FRAME_HDRLEN)) != NULL)
		memcpy(p + 8, &le, 8);
	else {
		cl->read_base = cl->read_sent;
		peer_send(cl->peer, CTL_READ, ended ? CTL_READ_ENDED : 0, id,
		    NULL, 0);
	}
	cl->read_sent = id;
	cl->read_end = peer_queued_total(cl->peer);
	client_schedule(cl);
}

/* How many jobs of its INPUT the client may have read now. */
static uint64_t
client_in_room(void *arg)
{
	struct client	*cl = arg;
	size_t		 room;

	if (cl->fd == -1 || cl->input_done || cl->state != CS_SUBMIT)
		return (0);
	if (!client_can_take(cl)) {
		cl->paused = true;	/* client_room(), client_written() */
		return (0);
	}
	/* Asked again after as many as a RECORDS holds, as on the socket. */
	room = pool_room(cl->pool);
	return (room < CTL_RECORDS_JOBS ? room : CTL_RECORDS_JOBS);
}

/* Records n in a row of the INPUT, ids id on: READ, then to the pool. */
static size_t
client_in_records(void *arg, uint64_t id, const struct iovec *recs,
    size_t n)
{
	struct client	*cl = arg;

	client_hold(cl);
	client_read_upto(cl, id + n, false);
	if (!cl->input_done)
		client_submit_run(cl, id, recs, n);
	client_release(cl);
	return (n);
}

static void
client_in_record(void *arg, uint64_t id, const char *data, size_t len)
{
	struct iovec	 rec = { (void *)(uintptr_t)data, len };

	(void)client_in_records(arg, id, &rec, 1);
}

/* A record over max_job_bytes: rejected, as its JOB would be. */
static void
client_in_toolong(void *arg, uint64_t id, uint64_t len)
{
	struct client	*cl = arg;

	client_hold(cl);
	client_read_upto(cl, id + 1, false);
	if (!cl->input_done)
		client_reject_size(cl, id, len);
	client_release(cl);
}

/* A read failed: the input ends there, and BYE says why. */
static void
client_in_error(void *arg, int err)
{
	struct client	*cl = arg;

	snprintf(cl->in_why, sizeof(cl->in_why), "reading the input: %s",
	    strerror(err));
	cl->stopped = cl->in_why;
	log_warnx("client pid %d: %s", (int)cl->pid, cl->in_why);
}

/* The INPUT is over: a last READ, then BYE once every job is reported. */
static void
client_in_end(void *arg)
{
	struct client	*cl = arg;

	client_hold(cl);
	client_read_upto(cl, input_count(cl->in), true);
	if (!cl->input_done) {
		cl->input_done = true;
		client_check_bye(cl);
	}
	client_release(cl);
}

static const struct input_hooks client_input_hooks = {
	.room = client_in_room,
	.record = client_in_record,
	.records = client_in_records,
	.toolong = client_in_toolong,
	.error = client_in_error,
	.end = client_in_end,
};

/*
 * INPUT: its fd came with it (peer_take_fds()).  Only what droverd may
 * read without its loop ever waiting (input_passable()): a pipe, opened
 * anew through /proc as a non-blocking description of droverd's own
 * (one the client shares could be made blocking again under us), or a
 * file on a local file system, read from its offset on, as the client
 * would have.  Anything else is declined before a byte is read: a READ
 * says so, and the client sends its jobs instead.
 */
static void
client_take_input(struct client *cl)
{
	struct stat	 st;
	char		 path[64], why[160];
	int		 fd, nfd;

	why[0] = '\0';
	fd = peer_passed_fd(cl->peer);
	client_no_input(cl);
	if (fd == -1)
		snprintf(why, sizeof(why), "without a file descriptor");
	else if (!input_passable(fd) || fstat(fd, &st) == -1)
		snprintf(why, sizeof(why), "not a pipe, nor a file on a local "
		    "file system");
	else if (S_ISFIFO(st.st_mode)) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if ((nfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) ==
		    -1)
			snprintf(why, sizeof(why), "unable to open its pipe: "
			    "%s", strerror(errno));
		else {
			(void)close(fd);
			fd = nfd;
		}
	}
	if (why[0] != '\0') {
		if (fd != -1)
			(void)close(fd);
		log_info("client pid %d: INPUT declined (%s): it sends its "
		    "jobs", (int)cl->pid, why);
		peer_send(cl->peer, CTL_READ, CTL_READ_DECLINED, 0, NULL, 0);
		client_schedule(cl);
		return;
	}
	cl->in_fd = fd;
	cl->in = input_new(cl->ctl->base, fd, cl->delim, cl->max_job_bytes,
	    &client_input_hooks, cl);
	input_resume(cl->in);
}

/*
 * The client is freed: its INPUT is freed at the end of the loop turn,
 * since this may run inside one of its hooks (input_pump() goes on with
 * it until it sees it stopped).
 */
static void
client_input_gone(struct client *cl)
{
	struct client_input	*g;

	if (cl->in == NULL)
		return;
	input_stop(cl->in);
	g = xcalloc(1, sizeof(*g));
	g->in = cl->in;
	g->fd = cl->in_fd;
	SLIST_INSERT_HEAD(&cl->ctl->gone, g, entry);
	event_active(cl->ctl->ev_reap, EV_TIMEOUT, 0);
	cl->in = NULL;
	cl->in_fd = -1;
}

static void
control_reap_cb(int fd, short what, void *arg)
{
	struct control		*ctl = arg;
	struct client_input	*g;

	(void)fd;
	(void)what;
	while ((g = SLIST_FIRST(&ctl->gone)) != NULL) {
		SLIST_REMOVE_HEAD(&ctl->gone, entry);
		input_free(g->in);
		(void)close(g->fd);
		free(g);
	}
}

/* Handle one whole message of a submitting client (p: its payload). */
static void
client_submit_msg(struct client *cl, const struct frame_hdr *h,
    const char *p)
{
	if (h->type != CTL_INPUT)
		client_no_input(cl);	/* jobs come on the socket */
	switch (h->type) {
	case CTL_JOB:
		if (cl->input_done)		/* after a drain: ignored */
			break;
		if (cl->xb != NULL)
			(void)cl->xb->ops->job(cl->xb, h->id, p, h->len);
		else
			pool_submit(cl->pool, &cl->b, h->id, p, h->len);
		break;
	case CTL_END:
		if (cl->xb != NULL && !cl->input_done)
			cl->xb->ops->end(cl->xb);
		cl->input_done = true;
		client_check_bye(cl);
		break;
	case CTL_RECORDS:
		(void)client_records(cl, h->id, p, h->len);
		break;
	case CTL_INPUT:
		client_take_input(cl);
		break;
	case CTL_CANCEL:
		cl->input_done = true;
		cl->stopped = "cancelled by the client";
		if (cl->in != NULL)
			input_stop(cl->in);
		if (cl->xb != NULL)
			cl->xb->ops->cancel(cl->xb, cl->stopped);
		else
			pool_cancel(cl->pool, &cl->b, cl->stopped);
		client_check_bye(cl);
		break;
	default:
		client_lost(cl, "unexpected message while submitting");
		break;
	}
}

/*
 * Take the next message now?  Not after the reply, nor while the pool has
 * no room or our results pile up (but a skip goes on: it costs nothing).
 */
static bool
client_more(void *arg)
{
	struct client	*cl = arg;

	if (cl->fd == -1 || cl->state == CS_CLOSING ||
	    cl->state == CS_RELOAD || cl->state == CS_LOOKUP)
		return (false);
	if (peer_skipping(cl->peer))
		return (true);
	/* Its jobs come from its INPUT: the socket brings a CANCEL at most. */
	if (cl->in != NULL)
		return (true);
	if (cl->state == CS_SUBMIT && !cl->input_done &&
	    !client_can_take(cl)) {
		cl->paused = true;
		client_set_reading(cl, false);
		return (false);
	}
	return (true);
}

/* Judge the header before buffering what it announces. */
static enum peer_verdict
client_header(void *arg, const char *p, struct frame_hdr *h,
    const char **why)
{
	struct client	*cl = arg;

	if (ctl_parse(p, FRAME_HDRLEN, h, why) == FRAME_BAD)
		return (PEER_REFUSE);
	if (cl->state == CS_NEW && h->type != CTL_REQUEST) {
		client_hold(cl);
		client_fail(cl, "expected a REQUEST, not %s",
		    ctl_type_name(h->type));
		client_release(cl);
		return (PEER_LEAVE);
	}
	if (cl->state == CS_RESULTS) {	/* read only to see it go */
		*why = "a message after a results request";
		return (PEER_REFUSE);
	}
	if (cl->state == CS_SUBMIT && h->type == CTL_INPUT) {
		if (cl->in_offered)
			return (PEER_TAKE);
		*why = "INPUT not offered, or after jobs";
		return (PEER_REFUSE);
	}
	if (cl->state == CS_SUBMIT && cl->in != NULL &&
	    h->type != CTL_CANCEL) {
		*why = "a message after INPUT other than CANCEL";
		return (PEER_REFUSE);
	}
	if (cl->state == CS_SUBMIT && h->type != CTL_JOB &&
	    h->type != CTL_END && h->type != CTL_CANCEL &&
	    (h->type != CTL_RECORDS || !cl->records)) {
		*why = "unexpected message while submitting";
		return (PEER_REFUSE);
	}
	if (cl->state == CS_SUBMIT && h->type == CTL_JOB &&
	    h->len > cl->max_job_bytes) {
		cl->skip_quiet = cl->input_done;	/* after END */
		return (PEER_SKIP);
	}
	return (PEER_TAKE);
}

/*
 * The k JOBs iov, ids from first on, to the pool in one go.  It takes them
 * while pool_takes_runs(), which client_frames() asked; if it did not,
 * they still go, one by one, until one that failed at once ends the
 * client's input (the client reports those it sent and got no RESULT
 * for, as for JOBs not read).
 */
static void
client_submit_run(struct client *cl, uint64_t first, const struct iovec *iov,
    size_t k)
{
	size_t	 i;

	if (pool_submit_run(cl->pool, &cl->b, first, iov, k) != 0)
		return;
	for (i = 0; i < k; i++) {
		pool_submit(cl->pool, &cl->b, first + i, iov[i].iov_base,
		    iov[i].iov_len);
		/* A job that failed at once may have closed the client. */
		if (cl->fd == -1 || cl->input_done || cl->state != CS_SUBMIT)
			break;
	}
}

/*
 * The hot path of a submitting client (peer.h's frames()): the whole JOB
 * and RECORDS messages at the head of its buffer, taken in one loop, with
 * the pool's room asked once and counted down, as drover run's input does
 * (the queue may go past its bound by what one read brought, and by one
 * RECORDS' jobs).  The header is checked inline as ctl_parse() and
 * client_header() would; any other message (END, CANCEL, a JOB over
 * max_job_bytes or with a bad header), no room, a durable or shared
 * batch, stops the loop, and that message goes the usual way:
 * client_more(), client_header(), client_frame().
 */
static size_t
client_frames(void *arg, const char *p, size_t len)
{
	struct client	*cl = arg;
	struct iovec	 iov[CLIENT_RUN];
	const char	*q;
	size_t		 off = 0, room, k = 0;
	ssize_t		 held;
	uint32_t	 n, w;
	uint64_t	 id, first = 0, max;
	bool		 runs;

	if (cl->state != CS_SUBMIT || cl->xb != NULL || cl->input_done ||
	    cl->fd == -1 || cl->in != NULL ||
	    peer_pending(cl->peer) > CLIENT_OUT_HIGH ||
	    (room = pool_room(cl->pool)) == 0)
		return (0);
	client_hold(cl);
	runs = pool_takes_runs(cl->pool);
	max = cl->max_job_bytes < FRAME_MAXLEN ? cl->max_job_bytes :
	    FRAME_MAXLEN;
	while (room != 0 && len - off >= FRAME_HDRLEN) {
		q = p + off;
		memcpy(&n, q, 4);
		n = le32toh(n);
		memcpy(&w, q + 4, 4);
		if (w == CLIENT_RECORDS_WORD && cl->records && n != 0 &&
		    n <= CTL_RECORDS_MAX && len - off - FRAME_HDRLEN >= n) {
			if (k != 0)
				client_submit_run(cl, first, iov, k);
			k = 0;
			memcpy(&id, q + 8, 8);
			off += FRAME_HDRLEN + n;
			if ((held = client_records(cl, le64toh(id),
			    q + FRAME_HDRLEN, n)) == -1)
				break;
			room = (size_t)held < room ? room - (size_t)held : 0;
			/* Jobs that fail at once (a failed pool) answer now. */
			if (cl->fd == -1 || cl->input_done ||
			    cl->state != CS_SUBMIT ||
			    peer_pending(cl->peer) > CLIENT_OUT_HIGH)
				break;
			continue;
		}
		if (w != CLIENT_JOB_WORD || n > max ||
		    len - off - FRAME_HDRLEN < n)
			break;
		memcpy(&id, q + 8, 8);
		id = le64toh(id);
		off += FRAME_HDRLEN + n;
		room--;
		if (runs) {	/* consecutive ids, a run at a time */
			if (k == CLIENT_RUN || (k != 0 && id != first + k)) {
				client_submit_run(cl, first, iov, k);
				k = 0;
			}
			if (k == 0)
				first = id;
			iov[k].iov_base = (void *)(uintptr_t)(q + FRAME_HDRLEN);
			iov[k++].iov_len = n;
			continue;
		}
		pool_submit(cl->pool, &cl->b, id, q + FRAME_HDRLEN, n);
		/* A job that failed at once may have closed the client. */
		if (cl->fd == -1 || cl->input_done || cl->state != CS_SUBMIT)
			break;
	}
	if (k != 0)	/* queued whole: nothing fails at once */
		client_submit_run(cl, first, iov, k);
	if (off != 0)
		client_no_input(cl);	/* jobs come on the socket */
	client_release(cl);
	return (off);
}

/* One whole message (p: its payload). */
static void
client_frame(void *arg, const struct frame_hdr *h, const char *p,
    size_t len)
{
	struct client	*cl = arg;

	(void)len;
	client_hold(cl);
	if (cl->state == CS_NEW)
		client_request(cl, h, p);
	else
		client_submit_msg(cl, h, p);
	client_release(cl);
}

/*
 * The idle timer: a new connection has CLIENT_IDLE_SECS from its accept
 * to send a whole request; a submitting one may not sit that long with
 * part of a message read (while we are reading: a pause is ours); a reply
 * that the peer does not take in that time is abandoned.
 */
static void
client_idle_update(struct client *cl)
{
	struct timeval	 tv = { CLIENT_IDLE_SECS, 0 };
	bool		 arm;

	if (cl->fd == -1)
		return;
	switch (cl->state) {
	case CS_NEW:
		arm = true;
		break;
	case CS_SUBMIT:
		arm = peer_reading(cl->peer) && peer_mid_message(cl->peer);
		break;
	default:
		arm = peer_writing(cl->peer);
		break;
	}
	if (!arm)
		event_del(cl->ev_idle);
	else if (!evtimer_pending(cl->ev_idle, NULL))
		evtimer_add(cl->ev_idle, &tv);
}

/* The idle timer fired: close the connection (see above). */
static void
client_idle_cb(int fd, short what, void *arg)
{
	struct client	*cl = arg;

	(void)fd;
	(void)what;
	client_hold(cl);
	client_lost(cl, cl->state == CS_NEW ? "no request within 10 s" :
	    cl->state == CS_SUBMIT ? "stuck mid-message for 10 s" :
	    "reply not read within 10 s");
	client_release(cl);
}

/* Parse what the client sent, then see to its idle timer. */
static void
client_read(struct client *cl)
{
	peer_resume(cl->peer);		/* then client_read_end() */
}

/* Bytes came in: a submitting client made progress, a fresh 10 s. */
static void
client_input(void *arg, size_t n)
{
	struct client	*cl = arg;

	(void)n;
	if (cl->state == CS_SUBMIT)
		event_del(cl->ev_idle);
}

/* What a read brought is handled. */
static void
client_read_end(void *arg)
{
	client_idle_update(arg);
}

/* The socket ended or broke, or the client broke the protocol. */
static void
client_peer_lost(void *arg, enum peer_loss loss, const char *why)
{
	struct client	*cl = arg;

	client_hold(cl);
	if ((loss == PEER_EOF || loss == PEER_EOF_MID) &&
	    (cl->state == CS_CLOSING || cl->state == CS_RELOAD ||
	    (cl->state == CS_SUBMIT && cl->input_done && !cl->detach))) {
		/*
		 * A half-close after the request or after END (nc -N,
		 * socat): the answer still goes out (the peer reads no more).
		 * A peer that is really gone shows as a write error.
		 */
	} else
		client_lost(cl, loss == PEER_BAD ? why :
		    loss == PEER_WRITE_ERROR ? "write error" :
		    loss == PEER_READ_ERROR ? "connection error" :
		    "disconnected");
	client_release(cl);
}

static const struct peer_ops client_peer_ops = {
	.header = client_header,
	.more = client_more,
	.frame = client_frame,
	.frames = client_frames,
	.skipped = client_skipped,
	.input = client_input,
	.read_end = client_read_end,
	.written = client_written,
	.lost = client_peer_lost,
};

static const struct peer_conf client_peer_conf = {
	.read_max = CLIENT_READ_MAX,
	.reads_per_event = CLIENT_READS_PER_EVENT,
	.keep = 4 * CLIENT_OUT_HIGH,
};

/* The pool has room again. */
static void
client_room(struct batch *b)
{
	struct client	*cl = (struct client *)b;

	if (cl->fd == -1 || !cl->paused || cl->input_done)
		return;
	if (peer_pending(cl->peer) > CLIENT_OUT_LOW)
		return;		/* client_written resumes */
	cl->paused = false;
	client_hold(cl);
	client_set_reading(cl, true);
	client_read(cl);
	if (cl->in != NULL)
		input_resume(cl->in);
	client_release(cl);
}

/* The sections a RESULT for r will carry: those asked for that r has. */
static unsigned
client_result_flags(const struct client *cl, const struct jobresult *r)
{
	unsigned	 f = 0;

	if (r->status == JOB_OK && (r->errlen | r->fieldslen) == 0)
		return (0);	/* the common RESULT: nothing more */
	if (r->errlen != 0)
		f |= CTL_F_STDERR;
	if (r->status != JOB_OK)
		f |= CTL_F_INPUT | (r->soutlen != 0 ? CTL_F_OUTPUT : 0);
	if (r->fieldslen != 0)
		f |= CTL_F_FIELDS;
	return (f & cl->sections);
}

/* Append a section if flags has it: a u32 length, then its bytes. */
static char *
client_section_put(char *p, unsigned flags, unsigned bit, const char *s,
    size_t len)
{
	uint32_t	 n = htole32((uint32_t)len);

	if (!(flags & bit))
		return (p);
	memcpy(p, &n, 4);
	if (len != 0)
		memcpy(p + 4, s, len);
	return (p + 4 + len);
}

/*
 * A RESULT with sections (ctl.h): each one asked for and present, after
 * the metadata, in the order of their bits.  The common RESULT (an ok job,
 * nothing more to say) does not come here.
 */
static void
client_result_sections(struct client *cl, struct job *j,
    const struct jobresult *r, const struct ctl_meta *m, unsigned flags,
    unsigned tflag)
{
	size_t	 inlen = j->len < CTL_INPUT_SHOWN ? j->len : CTL_INPUT_SHOWN;
	size_t	 len = FRAME_HDRLEN + CTL_META_LEN + r->outlen;
	char	*p;

	len += (flags & CTL_F_STDERR ? 4 + r->errlen : 0) +
	    (flags & CTL_F_OUTPUT ? 4 + r->soutlen : 0) +
	    (flags & CTL_F_FIELDS ? 4 + r->fieldslen : 0) +
	    (flags & CTL_F_INPUT ? 4 + inlen : 0);
	p = peer_reserve(cl->peer, len);
	frame_put(p, CTL_RESULT, (uint8_t)r->status,
	    (uint32_t)(len - FRAME_HDRLEN), j->id);
	p[6] = (char)(flags | tflag);
	ctl_meta_put(p + FRAME_HDRLEN, m);
	p += FRAME_HDRLEN + CTL_META_LEN;
	p = client_section_put(p, flags, CTL_F_STDERR, r->err, r->errlen);
	p = client_section_put(p, flags, CTL_F_OUTPUT, r->sout, r->soutlen);
	p = client_section_put(p, flags, CTL_F_FIELDS, r->fields,
	    r->fieldslen);
	p = client_section_put(p, flags, CTL_F_INPUT, j->data, inlen);
	if (r->outlen != 0)
		memcpy(p, r->out, r->outlen);
	peer_commit(cl->peer, len);
}

/*
 * An ok job's typed output of 8 bytes (v) to a client that asked for
 * "batch" (ctl.h): it joins the run that ends the output when it takes
 * this id next, with the same worker, attempts and type, and has room;
 * else it opens a run.  The header's length grows with the run; the run
 * ends when anything else is queued or part of it was written.
 */
static void
client_result_batched(struct client *cl, uint64_t id, const char *v,
    uint8_t tflag, const struct ctl_meta *m)
{
	uint64_t	 lat = htole64(m->latency_us);
	uint32_t	 le;
	size_t		 head = CTL_RUN_HEAD, item = CTL_RUN_ITEM;
	bool		 one = (cl->sections & CTL_F_RUNLAT) != 0;
	char		*p;

	if (one) {
		head = CTL_RUNLAT_HEAD;
		item = CTL_RUNLAT_ITEM;
	}
	if (cl->rs_len == 0 || cl->rs_end != peer_queued_total(cl->peer) ||
	    cl->rs_next != id || cl->rs_pid != m->pid ||
	    cl->rs_runs != m->attempts || cl->rs_flag != tflag ||
	    (one && cl->rs_lat != m->latency_us) ||
	    cl->rs_len + item > FRAME_BATCH_MAX ||
	    peer_tail(cl->peer, FRAME_HDRLEN + cl->rs_len) == NULL) {
		p = peer_reserve(cl->peer, FRAME_HDRLEN + head);
		frame_put(p, CTL_RESULT, JOB_OK, 0, id);
		p[6] = (char)(tflag | CTL_F_BATCH | (one ? CTL_F_RUNLAT : 0));
		le = htole32(m->pid);
		memcpy(p + FRAME_HDRLEN, &le, 4);
		le = htole32(m->attempts);
		memcpy(p + FRAME_HDRLEN + 4, &le, 4);
		if (one)
			memcpy(p + FRAME_HDRLEN + 8, &lat, 8);
		peer_commit(cl->peer, FRAME_HDRLEN + head);
		cl->rs_len = head;
		cl->rs_pid = m->pid;
		cl->rs_runs = m->attempts;
		cl->rs_flag = tflag;
		cl->rs_lat = m->latency_us;
	}
	p = peer_reserve(cl->peer, item);
	memcpy(p, v, 8);
	if (!one)
		memcpy(p + 8, &lat, 8);
	peer_commit(cl->peer, item);
	cl->rs_len += item;
	if ((p = peer_tail(cl->peer, FRAME_HDRLEN + cl->rs_len)) == NULL) {
		cl->rs_len = 0;		/* its output is dropped */
		return;
	}
	le = htole32((uint32_t)cl->rs_len);
	memcpy(p, &le, 4);
	cl->rs_next = id + 1;
	cl->rs_end = peer_queued_total(cl->peer);
}

/*
 * n ok jobs in a row, ids id on, whose outputs are the 8-byte integers
 * vals, with one worker, attempts and latency (m), to a client that asked
 * for "sums": they join the SUMS that ends the output when it takes this
 * id next with the same worker, attempts and latency, has room, and has
 * not been written in part; else they open one.  The sums are written
 * over the queued message's as they grow.
 */
static void
client_sums(struct client *cl, uint64_t id, const char *vals, size_t n,
    const struct ctl_meta *m)
{
	struct ctl_sums	 u;
	uint64_t	 w;
	int64_t		 x, lo, hi;
	i128		 sum = 0;
	size_t		 i;
	char		*p;

	memcpy(&w, vals, 8);
	lo = hi = (int64_t)le64toh(w);
	for (i = 0; i < n; i++) {
		memcpy(&w, vals + i * 8, 8);
		x = (int64_t)le64toh(w);
		sum += x;
		lo = x < lo ? x : lo;
		hi = x > hi ? x : hi;
	}
	if (cl->rs_len != CTL_SUMS_LEN || cl->rs_flag != CLIENT_RS_SUMS ||
	    cl->rs_end != peer_queued_total(cl->peer) || cl->rs_next != id ||
	    cl->rs_pid != m->pid || cl->rs_runs != m->attempts ||
	    cl->rs_lat != m->latency_us || cl->rs_jobs > CTL_SUMS_JOBS - n ||
	    (p = peer_tail(cl->peer, FRAME_HDRLEN + CTL_SUMS_LEN)) == NULL) {
		p = peer_reserve(cl->peer, FRAME_HDRLEN + CTL_SUMS_LEN);
		frame_put(p, CTL_SUMS, 0, CTL_SUMS_LEN, id);
		peer_commit(cl->peer, FRAME_HDRLEN + CTL_SUMS_LEN);
		cl->rs_len = CTL_SUMS_LEN;
		cl->rs_flag = CLIENT_RS_SUMS;
		cl->rs_pid = m->pid;
		cl->rs_runs = m->attempts;
		cl->rs_lat = m->latency_us;
		cl->rs_jobs = 0;
		cl->rs_sum = 0;
		cl->rs_min = lo;
		cl->rs_max = hi;
	}
	cl->rs_jobs += n;
	cl->rs_sum += sum;
	cl->rs_min = lo < cl->rs_min ? lo : cl->rs_min;
	cl->rs_max = hi > cl->rs_max ? hi : cl->rs_max;
	u.meta = *m;
	u.jobs = cl->rs_jobs;
	u.sum = cl->rs_sum;
	u.min = cl->rs_min;
	u.max = cl->rs_max;
	ctl_sums_put(p + FRAME_HDRLEN, &u);
	cl->rs_next = id + n;
	cl->rs_end = peer_queued_total(cl->peer);
}

/*
 * A job of this client finished: send its RESULT (unless it left).  A
 * typed output goes in binary to a client that asked for "typed", as its
 * text to the others, which get what they always had; a run of 8-byte
 * ones goes batched to a client that also asked for "batch"
 * (client_result_batched()).
 */
static void
client_done(struct batch *b, struct job *j, const struct jobresult *r)
{
	struct client	*cl = (struct client *)b;
	struct ctl_meta	 m;
	struct jobresult t;
	const char	*out = r->out;
	char		*p, num[NUM_VALUE_STRLEN];
	size_t		 outlen = r->outlen;
	unsigned	 flags, tflag = 0;
	uint8_t		 f8;

	client_hold(cl);
	if (cl->fd == -1)
		goto out;
	if (r->num != NULL) {
		if (cl->sections & CTL_F_TYPED) {
			outlen = frame_num_put(num, r->num, &f8);
			tflag = f8;
		} else
			outlen = num_fmt_value(num, r->num);
		out = num;
	}
	m.pid = (uint32_t)r->worker;
	m.attempts = r->runs;
	m.latency_us = r->latency_us;
	if ((flags = client_result_flags(cl, r)) != 0) {
		cl->rs_len = 0;
		t = *r;
		t.out = out;
		t.outlen = outlen;
		t.num = NULL;
		client_result_sections(cl, j, &t, &m, flags, tflag);
	} else if (tflag == FRAME_F_INT && outlen == 8 &&
	    r->status == JOB_OK && cl->sums)
		client_sums(cl, j->id, num, 1, &m);
	else if (tflag != 0 && outlen == 8 && r->status == JOB_OK &&
	    (cl->sections & CTL_F_BATCH))
		client_result_batched(cl, j->id, num, tflag, &m);
	else {
		cl->rs_len = 0;
		p = peer_reserve(cl->peer, FRAME_HDRLEN + CTL_META_LEN +
		    outlen);
		frame_put(p, CTL_RESULT, (uint8_t)r->status,
		    (uint32_t)(CTL_META_LEN + outlen), j->id);
		p[6] = (char)tflag;
		ctl_meta_put(p + FRAME_HDRLEN, &m);
		if (outlen != 0)
			memcpy(p + FRAME_HDRLEN + CTL_META_LEN, out, outlen);
		peer_commit(cl->peer, FRAME_HDRLEN + CTL_META_LEN + outlen);
	}
	client_schedule(cl);
	if (cl->input_done)	/* no BYE is due before the END */
		client_check_bye(cl);
out:
	client_release(cl);
}

/*
 * The jobs js[i..n) that go on the run client_result_batched() just
 * extended (the next ids, the same attempts, room in the frame, and for a
 * client that asked for "runlat" the same latency): appended in one go,
 * the frame's length written once.  Returns the first job not taken.
 */
static size_t
client_run_extend(struct client *cl, struct job *const *js, const char *vals,
    size_t i, size_t n, uint64_t now)
{
	uint64_t	 lat;
	uint32_t	 le;
	size_t		 j, k, room;
	char		*p;

	if (cl->rs_len == 0)
		return (i);
	if (cl->sections & CTL_F_RUNLAT) {	/* of the run's latency */
		room = (FRAME_BATCH_MAX - cl->rs_len) / CTL_RUNLAT_ITEM;
		for (k = i; k < n && k - i < room &&
		    js[k]->id == cl->rs_next + k - i &&
		    js[k]->runs == cl->rs_runs && (now > js[k]->sent_us ?
		    now - js[k]->sent_us : 0) == cl->rs_lat; k++)
			;
		if (k == i)
			return (i);
		copy_bytes(peer_reserve(cl->peer, (k - i) * CTL_RUNLAT_ITEM),
		    vals + i * 8, (k - i) * 8);
		peer_commit(cl->peer, (k - i) * CTL_RUNLAT_ITEM);
		cl->rs_len += (k - i) * CTL_RUNLAT_ITEM;
		goto grown;
	}
	room = (FRAME_BATCH_MAX - cl->rs_len) / CTL_RUN_ITEM;
	for (k = i; k < n && k - i < room && js[k]->id == cl->rs_next + k - i &&
	    js[k]->runs == cl->rs_runs; k++)
		;
	if (k == i)
		return (i);
	p = peer_reserve(cl->peer, (k - i) * CTL_RUN_ITEM);
	for (j = i; j < k; j++, p += CTL_RUN_ITEM) {
		lat = htole64(now > js[j]->sent_us ? now - js[j]->sent_us : 0);
		memcpy(p, vals + j * 8, 8);
		memcpy(p + 8, &lat, 8);
	}
	peer_commit(cl->peer, (k - i) * CTL_RUN_ITEM);
	cl->rs_len += (k - i) * CTL_RUN_ITEM;
grown:
	if ((p = peer_tail(cl->peer, FRAME_HDRLEN + cl->rs_len)) == NULL) {
		cl->rs_len = 0;		/* its output is dropped */
		return (k);
	}
	le = htole32((uint32_t)cl->rs_len);
	memcpy(p, &le, 4);
	cl->rs_next += k - i;
	cl->rs_end = peer_queued_total(cl->peer);
	return (k);
}

/*
 * A run of ok typed results (batch.runs: the client asked for "typed" and
 * "batch"): what client_done() sends for each, in runs.
 */
static void
client_done_run(struct batch *b, struct job *const *js, const char *vals,
    size_t n, enum num_kind kind, pid_t pid, uint64_t now)
{
	struct client	*cl = (struct client *)b;
	struct ctl_meta	 m;
	uint8_t		 tflag = kind == NUM_INT ? FRAME_F_INT : FRAME_F_DOUBLE;
	size_t		 i, k;

	client_hold(cl);
	if (cl->fd == -1)
		goto out;
	m.pid = (uint32_t)pid;
	for (i = 0; cl->sums && kind == NUM_INT && i < n; i = k) {
		m.attempts = js[i]->runs;
		m.latency_us = now > js[i]->sent_us ? now - js[i]->sent_us : 0;
		for (k = i + 1; k < n && js[k]->id == js[i]->id + (k - i) &&
		    js[k]->runs == m.attempts && (now > js[k]->sent_us ?
		    now - js[k]->sent_us : 0) == m.latency_us; k++)
			;
		client_sums(cl, js[i]->id, vals + i * 8, k - i, &m);
	}
	for (; i < n; ) {
		m.attempts = js[i]->runs;
		m.latency_us = now > js[i]->sent_us ? now - js[i]->sent_us : 0;
		client_result_batched(cl, js[i]->id, vals + i * 8, tflag, &m);
		i = client_run_extend(cl, js, vals, i + 1, n, now);
	}
	client_schedule(cl);
	if (cl->input_done)
		client_check_bye(cl);
out:
	client_release(cl);
}

/*
 * Near the fd limit: close the oldest connection that has not sent its
 * request yet (the one an idle-connection flood would hold), so that a new
 * one, maybe `drover status`, gets in.  False if there is none to close:
 * then the new connection is refused.  A submitting client is never closed.
 */
static bool
control_make_room(struct control *ctl)
{
	struct client	*cl;
	time_t		 now = time(NULL);

	TAILQ_FOREACH(cl, &ctl->clients, entry)
		if (cl->state == CS_NEW && cl->fd != -1)
			break;
	if (now - ctl->evict_logged >= 60) {
		ctl->evict_logged = now;
		log_warnx("control: fewer than %d fds left: %s",
		    ACCEPT_FD_RESERVE, cl != NULL ?
		    "closing the oldest connections without a request" :
		    "refusing new connections");
	}
	if (cl == NULL)
		return (false);
	client_hold(cl);
	client_lost(cl, "closed near the fd limit: no request yet");
	client_release(cl);
	return (true);
}

/* A new connection: check who it is, then wait for its request. */
static void
control_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct control	*ctl = arg;
	struct client	*cl;
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);

	(void)l;
	(void)sa;
	(void)salen;
	if (fd >= accept_fd_limit() && !control_make_room(ctl)) {
		close(fd);
		return;
	}
	evutil_make_socket_nonblocking(fd);
	evutil_make_socket_closeonexec(fd);
	cl = xcalloc(1, sizeof(*cl));
	cl->b.ops = &client_ops;
	cl->b.typed = true;	/* client_done() sends text unless asked */
	cl->ctl = ctl;
	cl->fd = fd;
	cl->in_fd = -1;
	cl->peer = peer_new(ctl->base, fd, &client_peer_conf,
	    &client_peer_ops, cl);
	cl->ev_idle = evtimer_new(ctl->base, client_idle_cb, cl);
	cl->ev_wait = evtimer_new(ctl->base, client_wait_cb, cl);
	buf_init(&cl->changes);
	TAILQ_INSERT_TAIL(&ctl->clients, cl, entry);
	client_idle_update(cl);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		client_fail(cl, "unable to identify the peer");
		return;
	}
	cl->uid = cred.uid;
	cl->pid = cred.pid;
	if (!control_allowed(ctl, cred.uid)) {
		log_warnx("control: uid %d (pid %d) is not allowed",
		    (int)cred.uid, (int)cred.pid);
		client_fail(cl, "permission denied: uid %d is not in allow",
		    (int)cred.uid);
		return;
	}
	client_set_reading(cl, true);
}

/* Open the control socket of c.  NULL with the reason in err. */
struct control *
control_new(struct event_base *base, const struct conf *c,
    const struct daemon_hooks *hooks, char *err, size_t errlen)
{
	struct control	*ctl;
	int		 fd;

	if ((fd = control_bind(c, err, errlen)) == -1)
		return (NULL);
	ctl = xcalloc(1, sizeof(*ctl));
	ctl->base = base;
	ctl->hooks = hooks;
	ctl->path = xstrdup(c->socket);
	TAILQ_INIT(&ctl->clients);
	SLIST_INIT(&ctl->gone);
	ctl->ev_reap = event_new(base, -1, 0, control_reap_cb, ctl);
	ctl->listener = evconnlistener_new(base, control_accept_cb, ctl,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (ctl->listener == NULL) {
		snprintf(err, errlen, "unable to listen on %s", c->socket);
		close(fd);
		event_free(ctl->ev_reap);
		free(ctl->path);
		free(ctl);
		return (NULL);
	}
	ctl->guard = accept_guard_new(base, ctl->listener, "control socket");
	return (ctl);
}

/* Close the socket and drop every client. */
void
control_free(struct control *ctl)
{
	struct client	*cl;

	if (ctl == NULL)
		return;
	while ((cl = TAILQ_FIRST(&ctl->clients)) != NULL) {
		if (cl->b.pool != NULL)
			pool_detach(cl->b.pool, &cl->b);
		client_unbind(cl);
		if (cl->rd != NULL)
			durable_read_close(cl->rd);
		if (cl->srd != NULL)
			shared_read_close(cl->srd);
		if (cl->lookup_pool != NULL && client_shared(cl) != NULL)
			shared_find_cancel(client_shared(cl), cl);
		free(cl->lookup_pool);
		free(cl->batch_id);
		TAILQ_REMOVE(&ctl->clients, cl, entry);
		peer_free(cl->peer);	/* closes the socket */
		event_free(cl->ev_idle);
		event_free(cl->ev_wait);
		buf_free(&cl->changes);
		client_input_gone(cl);
		free(cl->cwd);
		free(cl);
	}
	control_reap_cb(-1, 0, ctl);
	event_free(ctl->ev_reap);
	accept_guard_free(ctl->guard);
	evconnlistener_free(ctl->listener);
	(void)unlink(ctl->path);
	free(ctl->path);
	free(ctl);
}

/* End the input of a client early (drain, pool removed or stopped). */
static void
client_end_input(struct client *cl, const char *why)
{
	if (cl->state != CS_SUBMIT || cl->input_done)
		return;
	cl->input_done = true;
	cl->stopped = why;
	if (cl->in != NULL)
		input_stop(cl->in);
	client_hold(cl);
	client_check_bye(cl);
	client_release(cl);
}

/* The pool stops (drain, removed, stopped): the client sends no more. */
static void
client_closing(struct batch *b, const char *why)
{
	client_end_input((struct client *)b, why);
}

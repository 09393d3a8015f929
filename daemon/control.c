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
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>

#include "batch.h"
#include "buf.h"
#include "conf.h"
#include "control.h"
#include "ctl.h"
#include "job.h"
#include "log.h"
#include "pool.h"
#include "poolconf.h"
#include "supervisor.h"
#include "xmalloc.h"

#define CLIENT_OUT_HIGH		(4 * 1024 * 1024)	/* stop reading jobs */
#define CLIENT_OUT_LOW		(1 * 1024 * 1024)	/* read again */
#define CLIENT_READ_MAX		(256 * 1024)

enum client_state {
	CS_NEW,		/* waiting for its REQUEST */
	CS_SUBMIT,	/* streaming jobs and results */
	CS_CLOSING,	/* reply sent: close once written */
};

struct client {
	struct batch		 b;		/* first: the pool sees this */
	TAILQ_ENTRY(client)	 entry;
	struct control		*ctl;
	struct bufferevent	*bev;		/* NULL once the peer is gone */
	enum client_state	 state;
	uid_t			 uid;
	pid_t			 pid;
	struct pool		*pool;
	uint64_t		 max_job_bytes;
	uint64_t		 restarts0;	/* pool restarts at the start */
	uint64_t		 skip;		/* bytes of a JOB to discard */
	uint64_t		 skip_id;
	uint64_t		 skip_len;
	bool			 input_done;	/* END, drain, or pool removed */
	bool			 paused;	/* not reading: no room */
	const char		*stopped;	/* why input ended early */
	bool			 bye_sent;
	bool			 busy;		/* inside pool_cancel: keep */
};

struct control {
	struct event_base	*base;
	struct evconnlistener	*listener;
	char			*path;
	TAILQ_HEAD(, client)	 clients;
	size_t			 nclients;
	bool			 draining;
};

static void	client_room(struct batch *);
static void	client_done(struct batch *, struct job *,
		    const struct jobresult *);
static void	client_read(struct client *);
static void	client_maybe_free(struct client *);

static const struct batch_ops client_ops = {
	.room = client_room,
	.done = client_done,
};

/* Is a socket at path alive (someone accepts on it)? */
static bool
socket_alive(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd, rv;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (false);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	rv = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return (rv == 0);
}

/* Bind and listen on the socket of c; set its mode and group. */
static int
control_bind(const struct conf *c, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	int			 fd;
	mode_t			 old;

	if (strlen(c->socket) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", c->socket);
		return (-1);
	}
	if (lstat(c->socket, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket",
		    c->socket);
		return (-1);
	}
	if (socket_alive(c->socket)) {
		snprintf(err, errlen, "%s is in use: is another droverd "
		    "running?", c->socket);
		return (-1);
	}
	(void)unlink(c->socket);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return (-1);
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", c->socket);
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		snprintf(err, errlen, "unable to bind %s: %s", c->socket,
		    strerror(errno));
		close(fd);
		return (-1);
	}
	umask(old);
	if ((c->socket_group != NULL &&
	    chown(c->socket, (uid_t)-1, c->socket_gid) == -1) ||
	    chmod(c->socket, c->socket_mode) == -1) {
		snprintf(err, errlen, "unable to set the owner or mode of %s: "
		    "%s", c->socket, strerror(errno));
		close(fd);
		(void)unlink(c->socket);
		return (-1);
	}
	if (listen(fd, 128) == -1) {
		snprintf(err, errlen, "listen: %s", strerror(errno));
		close(fd);
		(void)unlink(c->socket);
		return (-1);
	}
	return (fd);
}

/* Does uid pass the allow list (users and @groups)? */
static bool
control_allowed(uid_t uid)
{
	const struct conf	*c = supervisor_conf();
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

/* Queue one message for the client. */
static void
client_send(struct client *cl, uint8_t type, uint8_t status, uint64_t id,
    const void *p, size_t len)
{
	char	 hdr[FRAME_HDRLEN];

	if (cl->bev == NULL)
		return;
	frame_put(hdr, type, status, (uint32_t)len, id);
	evbuffer_add(bufferevent_get_output(cl->bev), hdr, sizeof(hdr));
	if (len != 0)
		evbuffer_add(bufferevent_get_output(cl->bev), p, len);
}

/* Send a JSON message (REPLY or BYE); the object is consumed. */
static void
client_send_json(struct client *cl, uint8_t type, json_t *o)
{
	char	*s;

	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (s == NULL)
		fatalx("unable to encode JSON");
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
	client_send_json(cl, CTL_REPLY, json_pack("{s:b,s:s}", "ok", 0,
	    "error", msg));
	cl->state = CS_CLOSING;
	if (cl->bev != NULL)
		bufferevent_disable(cl->bev, EV_READ);
}

/* The peer is gone or broke the protocol: drop it, cancel its queue. */
static void
client_lost(struct client *cl, const char *why)
{
	if (cl->bev != NULL) {
		log_debug("client pid %d: %s", (int)cl->pid, why);
		bufferevent_free(cl->bev);
		cl->bev = NULL;
	}
	cl->input_done = true;
	if (cl->pool != NULL && cl->state == CS_SUBMIT) {
		cl->busy = true;
		pool_cancel(cl->pool, &cl->b);
		cl->busy = false;
	}
	client_maybe_free(cl);
}

/* Free the client once nothing refers to it any more. */
static void
client_maybe_free(struct client *cl)
{
	struct control	*ctl = cl->ctl;

	if (cl->bev != NULL || cl->busy)
		return;
	if (cl->state == CS_SUBMIT && !batch_idle(&cl->b))
		return;
	if (cl->b.pool != NULL)
		pool_detach(cl->b.pool, &cl->b);
	TAILQ_REMOVE(&ctl->clients, cl, entry);
	ctl->nclients--;
	free(cl);
	supervisor_check_exit();
}

/* Input over and every job reported: say goodbye and close. */
static void
client_check_bye(struct client *cl)
{
	json_t	*o;

	if (cl->state != CS_SUBMIT || !cl->input_done || cl->bye_sent ||
	    !batch_idle(&cl->b) || cl->bev == NULL)
		return;
	o = json_pack("{s:I}", "restarts",
	    (json_int_t)(pool_restarts(cl->pool) - cl->restarts0));
	if (cl->stopped != NULL)
		json_object_set_new(o, "stopped", json_string(cl->stopped));
	client_send_json(cl, CTL_BYE, o);
	cl->bye_sent = true;
	cl->state = CS_CLOSING;
	bufferevent_disable(cl->bev, EV_READ);
}

/* Handle {"op":"submit","pool":P}. */
static void
client_submit(struct client *cl, json_t *req)
{
	const char	*name = NULL;
	struct pool	*p;

	if (json_unpack(req, "{s:s}", "pool", &name) == -1) {
		client_fail(cl, "submit needs a pool name");
		return;
	}
	if (!supervisor_accepting()) {
		client_fail(cl, "droverd is shutting down; not accepting jobs");
		return;
	}
	if ((p = supervisor_pool(name)) == NULL) {
		client_fail(cl, "unknown pool '%s'", name);
		return;
	}
	if (pool_state(p) == POOL_FAILED) {
		client_fail(cl, "pool '%s' has failed: %s", name,
		    pool_failure(p));
		return;
	}
	cl->pool = p;
	cl->max_job_bytes = pool_conf(p)->max_job_bytes;
	cl->restarts0 = pool_restarts(p);
	cl->state = CS_SUBMIT;
	pool_attach(p, &cl->b);
	client_send_json(cl, CTL_REPLY, json_pack("{s:b,s:s,s:I}", "ok", 1,
	    "pool", name, "max_job_bytes", (json_int_t)cl->max_job_bytes));
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
	rv = supervisor_reload(&out);
	buf_addc(&out, '\0');
	client_send_json(cl, CTL_REPLY, json_pack("{s:b,s:s}", "ok", rv == 0,
	    rv == 0 ? "changes" : "error", buf_data(&out)));
	buf_free(&out);
	cl->state = CS_CLOSING;
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
		client_send_json(cl, CTL_REPLY, supervisor_status());
		cl->state = CS_CLOSING;
	} else if (strcmp(op, "reload") == 0)
		client_reload(cl);
	else
		client_fail(cl, "unknown op '%s'", op);
	json_decref(req);
}

/* May we take more jobs from this client right now? */
static bool
client_can_take(struct client *cl)
{
	if (evbuffer_get_length(bufferevent_get_output(cl->bev)) >
	    CLIENT_OUT_HIGH)
		return (false);
	if (pool_room(cl->pool) == 0) {
		pool_wait_room(cl->pool, &cl->b);
		return (false);
	}
	return (true);
}

/* Discard the rest of an oversized JOB; reject it once it is skipped. */
static bool
client_skip(struct client *cl, struct evbuffer *in)
{
	size_t	 n = evbuffer_get_length(in);
	char	 why[160];

	if (n > cl->skip)
		n = (size_t)cl->skip;
	evbuffer_drain(in, n);
	cl->skip -= n;
	if (cl->skip != 0)
		return (false);
	snprintf(why, sizeof(why), "job is %llu bytes, over max_job_bytes "
	    "%llu", (unsigned long long)cl->skip_len,
	    (unsigned long long)cl->max_job_bytes);
	pool_reject(cl->pool, &cl->b, cl->skip_id, why);
	return (true);
}

/* Handle one message of a submitting client; false to stop reading. */
static bool
client_submit_msg(struct client *cl, const struct frame_hdr *h,
    struct evbuffer *in)
{
	const char	*p;

	switch (h->type) {
	case CTL_JOB:
		if (cl->input_done) {
			evbuffer_drain(in, FRAME_HDRLEN + h->len);
			return (true);		/* after a drain: ignored */
		}
		if (h->len > cl->max_job_bytes) {
			evbuffer_drain(in, FRAME_HDRLEN);
			cl->skip = cl->skip_len = h->len;
			cl->skip_id = h->id;
			return (client_skip(cl, in));
		}
		p = (const char *)evbuffer_pullup(in, FRAME_HDRLEN + h->len);
		pool_submit(cl->pool, &cl->b, h->id, p + FRAME_HDRLEN, h->len);
		evbuffer_drain(in, FRAME_HDRLEN + h->len);
		return (true);
	case CTL_END:
		evbuffer_drain(in, FRAME_HDRLEN);
		cl->input_done = true;
		client_check_bye(cl);
		return (true);		/* a CANCEL may follow in this read */
	case CTL_CANCEL:
		evbuffer_drain(in, FRAME_HDRLEN);
		cl->input_done = true;
		cl->stopped = "cancelled by the client";
		cl->busy = true;
		pool_cancel(cl->pool, &cl->b);
		cl->busy = false;
		client_check_bye(cl);
		return (true);
	default:
		client_lost(cl, "unexpected message while submitting");
		return (false);
	}
}

/* Parse and handle whatever complete messages the client sent. */
static void
client_read(struct client *cl)
{
	struct evbuffer	*in;
	struct frame_hdr h;
	const char	*why, *p;
	char		 hdr[FRAME_HDRLEN];
	enum frame_parse r;

	while (cl->bev != NULL && cl->state != CS_CLOSING) {
		in = bufferevent_get_input(cl->bev);
		if (cl->skip != 0) {
			if (!client_skip(cl, in))
				return;
			continue;
		}
		if (cl->state == CS_SUBMIT && !cl->input_done &&
		    !client_can_take(cl)) {
			cl->paused = true;
			bufferevent_disable(cl->bev, EV_READ);
			return;
		}
		if (evbuffer_copyout(in, hdr, sizeof(hdr)) < (ssize_t)sizeof(hdr))
			return;
		if ((r = ctl_parse(hdr, sizeof(hdr), &h, &why)) == FRAME_BAD) {
			client_lost(cl, why);
			return;
		}
		if (cl->state == CS_SUBMIT && h.type == CTL_JOB &&
		    h.len > cl->max_job_bytes) {
			if (!client_submit_msg(cl, &h, in))
				return;
			continue;
		}
		if (evbuffer_get_length(in) < FRAME_HDRLEN + (size_t)h.len)
			return;
		if (cl->state == CS_NEW) {
			p = (const char *)evbuffer_pullup(in,
			    FRAME_HDRLEN + h.len);
			client_request(cl, &h, p + FRAME_HDRLEN);
			if (cl->bev != NULL)
				evbuffer_drain(bufferevent_get_input(cl->bev),
				    FRAME_HDRLEN + h.len);
			continue;
		}
		if (!client_submit_msg(cl, &h, in))
			return;
	}
}

static void
client_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	client_read(arg);
}

/* Output drained: close a finished client, or read jobs again. */
static void
client_write_cb(struct bufferevent *bev, void *arg)
{
	struct client	*cl = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) != 0)
		return;
	if (cl->state == CS_CLOSING) {
		bufferevent_free(cl->bev);
		cl->bev = NULL;
		client_maybe_free(cl);
		return;
	}
	if (cl->paused && cl->state == CS_SUBMIT) {
		cl->paused = false;
		bufferevent_enable(cl->bev, EV_READ);
		client_read(cl);
	}
}

static void
client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		client_lost(arg, (what & BEV_EVENT_EOF) ? "disconnected" :
		    "connection error");
}

/* The pool has room again. */
static void
client_room(struct batch *b)
{
	struct client	*cl = (struct client *)b;

	if (cl->bev == NULL || !cl->paused || cl->input_done)
		return;
	if (evbuffer_get_length(bufferevent_get_output(cl->bev)) >
	    CLIENT_OUT_LOW)
		return;		/* client_write_cb resumes */
	cl->paused = false;
	bufferevent_enable(cl->bev, EV_READ);
	client_read(cl);
}

/* A job of this client finished: send its RESULT (unless it left). */
static void
client_done(struct batch *b, struct job *j, const struct jobresult *r)
{
	struct client	*cl = (struct client *)b;
	struct ctl_meta	 m;
	char		 hdr[FRAME_HDRLEN + CTL_META_LEN];
	struct evbuffer	*out;

	if (cl->bev == NULL) {
		client_maybe_free(cl);
		return;
	}
	m.pid = (uint32_t)r->worker;
	m.attempts = r->runs;
	m.latency_us = r->latency_us;
	frame_put(hdr, CTL_RESULT, (uint8_t)r->status,
	    (uint32_t)(CTL_META_LEN + r->outlen), j->id);
	ctl_meta_put(hdr + FRAME_HDRLEN, &m);
	out = bufferevent_get_output(cl->bev);
	evbuffer_add(out, hdr, sizeof(hdr));
	if (r->outlen != 0)
		evbuffer_add(out, r->out, r->outlen);
	client_check_bye(cl);
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
	cl = xcalloc(1, sizeof(*cl));
	cl->b.ops = &client_ops;
	cl->ctl = ctl;
	cl->bev = bufferevent_socket_new(ctl->base, fd, BEV_OPT_CLOSE_ON_FREE);
	TAILQ_INSERT_TAIL(&ctl->clients, cl, entry);
	ctl->nclients++;
	bufferevent_setcb(cl->bev, client_read_cb, client_write_cb,
	    client_event_cb, cl);
	bufferevent_setwatermark(cl->bev, EV_WRITE, CLIENT_OUT_LOW, 0);
	bufferevent_set_max_single_read(cl->bev, CLIENT_READ_MAX);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		client_fail(cl, "unable to identify the peer");
		return;
	}
	cl->uid = cred.uid;
	cl->pid = cred.pid;
	if (!control_allowed(cred.uid)) {
		log_warnx("control: uid %d (pid %d) is not allowed",
		    (int)cred.uid, (int)cred.pid);
		client_fail(cl, "permission denied: uid %d is not in allow",
		    (int)cred.uid);
		return;
	}
	bufferevent_enable(cl->bev, EV_READ | EV_WRITE);
}

/* Open the control socket of c.  NULL with the reason in err. */
struct control *
control_new(struct event_base *base, const struct conf *c, char *err,
    size_t errlen)
{
	struct control	*ctl;
	int		 fd;

	if ((fd = control_bind(c, err, errlen)) == -1)
		return (NULL);
	ctl = xcalloc(1, sizeof(*ctl));
	ctl->base = base;
	ctl->path = xstrdup(c->socket);
	TAILQ_INIT(&ctl->clients);
	ctl->listener = evconnlistener_new(base, control_accept_cb, ctl,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (ctl->listener == NULL) {
		snprintf(err, errlen, "unable to listen on %s", c->socket);
		close(fd);
		free(ctl->path);
		free(ctl);
		return (NULL);
	}
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
		if (cl->bev != NULL)
			bufferevent_free(cl->bev);
		if (cl->b.pool != NULL)
			pool_detach(cl->b.pool, &cl->b);
		TAILQ_REMOVE(&ctl->clients, cl, entry);
		free(cl);
	}
	evconnlistener_free(ctl->listener);
	(void)unlink(ctl->path);
	free(ctl->path);
	free(ctl);
}

/* End the input of a client early (drain, pool removed). */
static void
client_end_input(struct client *cl, const char *why)
{
	if (cl->state != CS_SUBMIT || cl->input_done)
		return;
	cl->input_done = true;
	cl->stopped = why;
	client_check_bye(cl);
}

/* Draining: new submits are refused, running ones take no more jobs. */
void
control_drain(struct control *ctl)
{
	struct client	*cl;

	ctl->draining = true;
	TAILQ_FOREACH(cl, &ctl->clients, entry)
		client_end_input(cl, "droverd is shutting down");
}

/* A pool is going away: its clients take no more jobs. */
void
control_pool_closing(struct control *ctl, struct pool *p)
{
	struct client	*cl;

	TAILQ_FOREACH(cl, &ctl->clients, entry)
		if (cl->pool == p)
			client_end_input(cl, "the pool was removed");
}

size_t
control_nclients(const struct control *ctl)
{
	return (ctl != NULL ? ctl->nclients : 0);
}

/* Clients with a batch in progress (what status calls "clients"). */
size_t
control_nsubmitting(const struct control *ctl)
{
	const struct client	*cl;
	size_t			 n = 0;

	if (ctl == NULL)
		return (0);
	TAILQ_FOREACH(cl, &ctl->clients, entry)
		if (cl->state == CS_SUBMIT)
			n++;
	return (n);
}

/*
 * Worker processes: spawning, the job and result streams, the stderr log
 * stream, timeouts, and the end of a worker's life.
 *
 * Each worker has three fds, all owned here and all non-blocking and
 * close-on-exec on our side:
 *	fd_jobs	our end of a Unix socketpair; the other end is its stdin
 *	fd_res	read end of a pipe; the write end is its stdout
 *	fd_log	read end of a pipe; the write end is its stderr
 *
 * Jobs are framed into wbuf and written with one write(2) per dispatch round;
 * results are read with large reads and parsed in place: a frame worker's by
 * a read-only peer (common/peer.c, the read loop of the control socket's
 * frames too), which this file drives from its own readable event with
 * peer_drain(); a line or tagged worker's into rbuf, by one line parser.  The
 * jobs a worker holds sit in a ring indexed by a per-worker sequence number,
 * which is also the tag sent on the wire (frame, tagged): a result's tag finds
 * its job in O(1) whether results come back in order (line protocol,
 * drover-worker) or not.
 *
 * A worker is finished only when both its exit status (worker_reap) and EOF on
 * its stdout have arrived, in either order, so that results still in the pipe
 * are never lost (tmux job.c).  Its state changes in one place,
 * worker_set_state(), against the table in worker_transition_ok(); the
 * states and transitions are drawn in worker.h.  What the state does not
 * say is kept beside it only where it is a fact of its own: HELLO seen,
 * stdin closed by us, SIGKILL sent, the escalation timer's next step.  That
 * its stdout is no longer read (EOF, or a broken stream) is fd_res == -1.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "batch.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "frame.h"
#include "job.h"
#include "log.h"
#include "peer.h"
#include "poolconf.h"
#include "spawn.h"
#include "tagged.h"
#include "tbucket.h"
#include "timer.h"
#include "worker.h"
#include "xmalloc.h"

#define WORKER_READ_SIZE	(256 * 1024)	/* one read(2) of results */
#define WORKER_READS_PER_EVENT	8
#define WORKER_RING_MIN		64
#define WORKER_SPAN_MAX		(1U << 20)	/* tags outstanding at most */
#define WORKER_RUN_CHUNK	256	/* results per hooks->result_run */
/* The longest job a batched JOB carries. */
#define WORKER_ITEM_MAX		(FRAME_BATCH_MAX - FRAME_VARINT_MAX - \
				    FRAME_META_LEN)
#define WORKER_PIPE_SIZE	(1024 * 1024)
#define WORKER_EOF_GRACE_US	1000000		/* EOF, no exit: kill after */
#define WORKER_DRAIN_MAX	(16 * 1024 * 1024)
#define WORKER_LOG_LINE		1024
#define WORKER_LOG_RATE		100.0		/* stderr lines a second */
#define WORKER_LOG_BURST	200.0

/* The capabilities we offer (and take) under frame protocol version 2. */
#define WORKER_CAPS	(FRAME_CAP_JOB_META | FRAME_CAP_RESULT_STDERR | \
	    FRAME_CAP_RESULT_OUTPUT | FRAME_CAP_RESULT_FIELDS | \
	    FRAME_CAP_JOB_CWD | FRAME_CAP_RESULT_TYPED | FRAME_CAP_JOB_BATCH | \
	    FRAME_CAP_RESULT_BATCH)

/* What the escalation timer does when it fires. */
enum grace {
	GRACE_NONE,
	GRACE_EOF,	/* EOF on stdout but no exit: kill */
	GRACE_TERM,	/* stdin closed but no exit: SIGTERM */
	GRACE_KILL,	/* SIGTERM ignored: SIGKILL */
};

struct worker {
	TAILQ_ENTRY(worker)	 entry;		/* all live ones, for reaping */
	struct event_base	*base;
	const struct poolconf	*pc;		/* the pool's, outlives us */
	const struct worker_hooks *hooks;
	void			*arg;
	unsigned		 id;
	pid_t			 pid;
	enum worker_state	 state;

	int			 fd_jobs;
	int			 fd_res;
	int			 fd_log;
	int			 fd_status;	/* exec status, until known */
	struct event		*ev_jobs;
	struct event		*ev_res;
	struct event		*ev_log;
	struct event		*ev_status;
	struct event		*ev_timeout;	/* the oldest job's deadline */
	struct event		*ev_grace;	/* EOF/stop escalation */
	struct buf		 wbuf;
	size_t			 jb_len;	/* open batched JOB's payload */
	uint64_t		 jb_next;	/* the tag it takes next */
	struct buf		 rbuf;		/* line, tagged: results */
	struct buf		 lbuf;
	struct peer		*res;		/* frame: fd_res, read-only */
	uint64_t		 res_now;	/* of this read of results */
	unsigned		 res_n;		/* results in it */
	uint32_t		 res_max;	/* max_result_bytes, capped */
	uint32_t		 res_lim;	/* a payload's, by the HELLO */
	uint8_t			 res_flags;	/* RESULT flags it may set */
	bool			 res_eof;	/* EOF or error in it */

	struct job		**ring;		/* in flight, by tag */
	size_t			 ringcap;
	uint64_t		 tag_head;	/* oldest tag still held */
	uint64_t		 tag_tail;	/* next tag to hand out */
	size_t			 inflight;
	uint64_t		 head_since_us;	/* since the oldest is oldest */

	uint64_t		 jobs_done;
	uint64_t		 spawned_us;
	bool			 hello;
	uint32_t		 caps;		/* FRAME_CAP_* in effect */
	bool			 stdin_closed;	/* by us: "finish and exit" */
	bool			 killed;	/* we sent it SIGKILL */
	enum grace		 grace;		/* what ev_grace does next */
	int			 wstatus;
	int			 exec_errno;	/* its exec failed with it */
	char			 reason[512];	/* why we killed it, if so */
	char			 death[544];
	char			 lastlog[WORKER_LOG_LINE];
	struct tbucket		 logtb;
	uint64_t		 logdropped;
};

static TAILQ_HEAD(, worker) workers = TAILQ_HEAD_INITIALIZER(workers);

static void	worker_jobs_cb(int, short, void *);
static void	worker_res_cb(int, short, void *);
static enum peer_verdict worker_res_header(void *, const char *,
		    struct frame_hdr *, const char **);
static void	worker_res_frame(void *, const struct frame_hdr *,
		    const char *, size_t);
static void	worker_res_lost(void *, enum peer_loss, const char *);
static size_t	worker_res_frames(void *, const char *, size_t);
static void	worker_log_cb(int, short, void *);
static void	worker_status_cb(int, short, void *);
static void	worker_timeout_cb(int, short, void *);
static void	worker_grace_cb(int, short, void *);
static void	worker_lose(struct worker *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	worker_got_eof(struct worker *);
static void	worker_end(struct worker *);
static void	worker_close_stdin(struct worker *);
static void	worker_set_death(struct worker *);
static void	worker_put_hello(struct worker *);
static void	worker_exec_check(struct worker *);

static const char *const state_names[] = {
	"starting", "ready", "retiring", "stopping", "exited", "dead"
};

const char *
worker_state_name(enum worker_state st)
{
	return (state_names[st]);
}

#define S(st)	(1U << (st))

/*
 * Is from -> to a transition the worker makes (worker.h)?  A pure
 * function, so that the table can be tested by itself.
 */
bool
worker_transition_ok(enum worker_state from, enum worker_state to)
{
	static const unsigned	 next[] = {
		[WS_STARTING] = S(WS_READY) | S(WS_RETIRING) |
		    S(WS_STOPPING) | S(WS_EXITED),
		[WS_READY] = S(WS_RETIRING) | S(WS_STOPPING) | S(WS_EXITED),
		[WS_RETIRING] = S(WS_STOPPING) | S(WS_EXITED),
		[WS_STOPPING] = S(WS_EXITED),
		[WS_EXITED] = S(WS_DEAD),
		[WS_DEAD] = 0,
	};

	if ((unsigned)from > WS_DEAD || (unsigned)to > WS_DEAD)
		return (false);
	return ((next[from] & S(to)) != 0);
}

#undef S

/*
 * The one place a worker's state changes.  An illegal transition is a bug
 * in this file, and going on from it would signal or free the wrong
 * thing: die loudly, as pool_member() does for a stranger.
 */
static void
worker_set_state(struct worker *w, enum worker_state to)
{
	if (!worker_transition_ok(w->state, to))
		fatalx("%s[%u]: worker state %s -> %s is no transition",
		    w->pc->name, w->id, state_names[w->state],
		    state_names[to]);
	w->state = to;
}

/* Its exit status is in: the pid is not ours to signal any more. */
static bool
worker_reaped(const struct worker *w)
{
	return (w->state == WS_EXITED || w->state == WS_DEAD);
}

/*
 * A frame worker's results, read by a peer whose reads this file starts
 * (worker_read_results()): the hooks judge each header and take each frame.
 */
static const struct peer_ops worker_res_ops = {
	.header = worker_res_header,
	.frame = worker_res_frame,
	.frames = worker_res_frames,
	.lost = worker_res_lost,
};

/* Stop reading its stdout (EOF, or a stream we no longer trust). */
static void
worker_close_res(struct worker *w)
{
	if (w->fd_res == -1)
		return;
	event_del(w->ev_res);
	if (w->res != NULL) {
		peer_free(w->res);	/* closes fd_res; later, if in a hook */
		w->res = NULL;
	} else
		close(w->fd_res);
	w->fd_res = -1;
}

/* Set O_NONBLOCK on one of our fds. */
static int
set_nonblock(int fd)
{
	int	 fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return (-1);
	return (fcntl(fd, F_SETFL, fl | O_NONBLOCK));
}

/* Create the socketpair and pipes; child ends go in c[], ours in w. */
static int
worker_fds(struct worker *w, int c[3], char *err, size_t errlen)
{
	int	 sp[2], po[2], pe[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return (-1);
	}
	if (pipe2(po, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		return (-1);
	}
	if (pipe2(pe, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		close(po[0]);
		close(po[1]);
		return (-1);
	}
	(void)fcntl(po[0], F_SETPIPE_SZ, WORKER_PIPE_SIZE);
	w->fd_jobs = sp[0];
	w->fd_res = po[0];
	w->fd_log = pe[0];
	c[0] = sp[1];
	c[1] = po[1];
	c[2] = pe[1];
	if (set_nonblock(w->fd_jobs) == -1 || set_nonblock(w->fd_res) == -1 ||
	    set_nonblock(w->fd_log) == -1) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		return (-1);
	}
	return (0);
}

/* Close whichever of our fds are still open. */
static void
worker_close_fds(struct worker *w)
{
	if (w->fd_jobs != -1)
		close(w->fd_jobs);
	if (w->res != NULL) {
		peer_free(w->res);
		w->res = NULL;
	} else if (w->fd_res != -1)
		close(w->fd_res);
	if (w->fd_log != -1)
		close(w->fd_log);
	if (w->fd_status != -1)
		close(w->fd_status);
	w->fd_jobs = w->fd_res = w->fd_log = w->fd_status = -1;
}

/*
 * The environment a worker gets on top of ours.  A line or tagged worker
 * is most often a script whose stdout is block-buffered on a pipe, so that
 * its answers would sit in its buffer: common runtimes are told to flush
 * (PYTHONUNBUFFERED=1), unless our environment already says otherwise.
 */
static char **
worker_env(const struct poolconf *pc, unsigned id)
{
	char	**env;

	env = xcalloc(5, sizeof(*env));
	xasprintf(&env[0], "DROVER_POOL=%s", pc->name);
	xasprintf(&env[1], "DROVER_WORKER_ID=%u", id);
	xasprintf(&env[2], "DROVER_PROTOCOL=%s", protocol_name(pc->protocol));
	if (pc->protocol != PROTO_FRAME && getenv("PYTHONUNBUFFERED") == NULL)
		env[3] = xstrdup("PYTHONUNBUFFERED=1");
	return (env);
}

static void
env_free(char **env)
{
	char	**p;

	for (p = env; *p != NULL; p++)
		free(*p);
	free(env);
}

/*
 * Start a worker for pool settings pc, with worker id id: fork it and
 * return it in STARTING.  Whether its exec worked comes later, as an event
 * (worker_exec_check()); a failed exec ends the worker with the reason
 * ("unable to exec foo: No such file or directory") as its death and
 * worker_exec_errno() set.  Return NULL with a one-line reason in err and
 * the errno in errno when there is no process at all (no fds, no fork).
 */
struct worker *
worker_spawn(struct event_base *base, const struct poolconf *pc, unsigned id,
    const struct worker_hooks *hooks, void *arg, char *err, size_t errlen)
{
	struct worker		*w;
	struct spawn_req	 req;
	struct peer_conf	 rconf;
	int			 c[3] = { -1, -1, -1 }, i, serr;
	char			**env;

	w = xcalloc(1, sizeof(*w));
	w->base = base;
	w->pc = pc;
	w->hooks = hooks;
	w->arg = arg;
	w->id = id;
	w->fd_jobs = w->fd_res = w->fd_log = w->fd_status = -1;
	buf_init(&w->wbuf);
	buf_init(&w->rbuf);
	buf_init(&w->lbuf);
	if (worker_fds(w, c, err, errlen) == -1)
		goto fail;

	env = worker_env(pc, id);
	memset(&req, 0, sizeof(req));
	req.argv = pc->argv;
	req.env = env;
	req.pc = pc;
	req.fd_in = c[0];
	req.fd_out = c[1];
	req.fd_err = c[2];
	w->pid = spawn_process(&req, &w->fd_status, err, errlen);
	serr = errno;		/* the pool judges the failure by it */
	env_free(env);
	for (i = 0; i < 3; i++) {
		close(c[i]);
		c[i] = -1;
	}
	if (w->pid == -1) {
		errno = serr;
		goto fail;
	}

	w->spawned_us = clock_us();
	w->ringcap = WORKER_RING_MIN;
	w->ring = xcalloc(w->ringcap, sizeof(*w->ring));
	tbucket_init(&w->logtb, WORKER_LOG_RATE, WORKER_LOG_BURST,
	    w->spawned_us);
	w->ev_jobs = event_new(base, w->fd_jobs, EV_WRITE, worker_jobs_cb, w);
	/* One readable event, any protocol; a frame worker's peer reads. */
	w->ev_res = event_new(base, w->fd_res, EV_READ | EV_PERSIST,
	    worker_res_cb, w);
	if (pc->protocol == PROTO_FRAME) {
		memset(&rconf, 0, sizeof(rconf));
		rconf.read_max = WORKER_READ_SIZE;
		rconf.reads_per_event = WORKER_READS_PER_EVENT;
		rconf.keep = 4 * WORKER_READ_SIZE;
		w->res = peer_new(base, w->fd_res, &rconf, &worker_res_ops, w);
	}
	w->ev_log = event_new(base, w->fd_log, EV_READ | EV_PERSIST,
	    worker_log_cb, w);
	w->ev_status = event_new(base, w->fd_status, EV_READ | EV_PERSIST,
	    worker_status_cb, w);
	w->ev_timeout = evtimer_new(base, worker_timeout_cb, w);
	w->ev_grace = evtimer_new(base, worker_grace_cb, w);
	event_add(w->ev_res, NULL);
	event_add(w->ev_log, NULL);
	event_add(w->ev_status, NULL);
	TAILQ_INSERT_TAIL(&workers, w, entry);

	w->state = WS_STARTING;		/* the first state, no transition */
	if (pc->protocol == PROTO_FRAME) {
		/* Buffered in the socket until the program reads it. */
		worker_put_hello(w);
		worker_flush(w);
	}
	log_debug("%s[%u]: started pid %d", pc->name, id, (int)w->pid);
	return (w);

fail:
	i = errno;
	for (int k = 0; k < 3; k++)
		if (c[k] != -1)
			close(c[k]);
	worker_close_fds(w);
	free(w);
	errno = i;
	return (NULL);
}

/*
 * Signal a live (not yet reaped) worker: its process group, where it and
 * whatever it started live, and the worker itself if it left the group
 * (only then: a second SIGTERM may mean "stop at once" to it).  Its pid
 * cannot be reused before we reap it.
 */
static void
worker_signal(const struct worker *w, int sig)
{
	(void)kill(-w->pid, sig);
	if (getpgid(w->pid) != w->pid)
		(void)kill(w->pid, sig);
}

/* Release everything; a live process is killed first (never waited for). */
void
worker_free(struct worker *w)
{
	struct job	*j;

	if (w == NULL)
		return;
	if (w->state != WS_DEAD) {
		if (!worker_reaped(w))
			worker_signal(w, SIGKILL);
		TAILQ_REMOVE(&workers, w, entry);
	}
	while ((j = worker_pop_inflight(w)) != NULL)
		job_free(j);
	if (w->ev_jobs != NULL) {
		event_free(w->ev_jobs);
		event_free(w->ev_res);
		event_free(w->ev_log);
		event_free(w->ev_status);
		event_free(w->ev_timeout);
		event_free(w->ev_grace);
	}
	worker_close_fds(w);
	buf_free(&w->wbuf);
	buf_free(&w->rbuf);
	buf_free(&w->lbuf);
	free(w->ring);
	free(w);
}

/* Double the in-flight ring, re-placing jobs by tag. */
static void
worker_ring_grow(struct worker *w)
{
	size_t		  ncap = w->ringcap * 2;
	struct job	**nring;
	uint64_t	  t;

	nring = xcalloc(ncap, sizeof(*nring));
	for (t = w->tag_head; t < w->tag_tail; t++)
		nring[t & (ncap - 1)] = w->ring[t & (w->ringcap - 1)];
	free(w->ring);
	w->ring = nring;
	w->ringcap = ncap;
}

/*
 * How long the oldest job may take.  A text (line or tagged) worker gets
 * jobs the moment its exec is known to have worked, with no HELLO to say
 * it is ready: until its first answer, its start-up (start_secs at most)
 * does not count against the job.
 */
static uint64_t
worker_timeout_us(const struct worker *w)
{
	uint64_t	 limit = (uint64_t)(w->pc->job_timeout * 1e6);

	if (w->pc->protocol != PROTO_FRAME && w->jobs_done == 0)
		limit += (uint64_t)(w->pc->start_secs * 1e6);
	return (limit);
}

/* (Re)arm the timeout for the oldest job, if a timeout is set. */
static void
worker_timeout_arm(struct worker *w, uint64_t now)
{
	uint64_t	 limit, age;

	if (w->pc->job_timeout <= 0)
		return;
	if (w->inflight == 0) {
		evtimer_del(w->ev_timeout);
		return;
	}
	limit = worker_timeout_us(w);
	age = now > w->head_since_us ? now - w->head_since_us : 0;
	timer_arm_us(w->ev_timeout, age >= limit ? 0 : limit - age);
}

/*
 * job_timeout (or start_secs) changed on reload: the oldest job's timer
 * follows the new value at once, or stops if there is none now.
 */
void
worker_timeout_changed(struct worker *w, uint64_t now)
{
	if (w->pc->job_timeout <= 0)
		evtimer_del(w->ev_timeout);
	else
		worker_timeout_arm(w, now);
}

/*
 * A JOB with the directory of its batch's client (job-cwd, the exec
 * handler's exec_cwd = "client"): the job-meta block (job-cwd is only
 * asked for with it), then the cwd section, then the job.
 */
static void
worker_send_cwd(struct worker *w, const struct job *j)
{
	size_t		 clen = strlen(j->batch->cwd);
	size_t		 len = FRAME_META_LEN + 4 + clen + j->len;
	uint32_t	 n = htole32((uint32_t)clen);
	char		*p;

	p = buf_reserve(&w->wbuf, FRAME_HDRLEN + len);
	frame_put(p, FRAME_JOB, 0, (uint32_t)len, w->tag_tail);
	p[6] = FRAME_F_CWD;
	frame_meta_put(p + FRAME_HDRLEN, j->id, j->runs);
	p += FRAME_HDRLEN + FRAME_META_LEN;
	memcpy(p, &n, 4);
	memcpy(p + 4, j->batch->cwd, clen);
	memcpy(p + 4 + clen, j->data, j->len);
	buf_commit(&w->wbuf, FRAME_HDRLEN + len);
}

/* Put j in the ring: it is in flight from now on, tagged w->tag_tail. */
static inline void
worker_track(struct worker *w, struct job *j, uint64_t now)
{
	if (w->tag_tail - w->tag_head == w->ringcap)
		worker_ring_grow(w);
	w->ring[w->tag_tail & (w->ringcap - 1)] = j;
	if (w->inflight == 0) {
		w->head_since_us = now;
		w->inflight = 1;
		worker_timeout_arm(w, now);
	} else
		w->inflight++;
	j->sent_us = now;
	j->runs++;
	j->flags &= (uint8_t)~JOB_TIMEDOUT;
}

/* Frame the job just tracked into the write buffer, by protocol. */
static void
worker_frame(struct worker *w, const struct job *j)
{
	char	*p;
	size_t	 n;

	if ((w->caps & FRAME_CAP_JOB_CWD) && j->batch->cwd != NULL)
		worker_send_cwd(w, j);
	else if (w->pc->protocol == PROTO_FRAME &&
	    (w->caps & FRAME_CAP_JOB_META)) {
		p = buf_reserve(&w->wbuf, FRAME_HDRLEN + FRAME_META_LEN +
		    j->len);
		frame_put(p, FRAME_JOB, 0, FRAME_META_LEN + j->len,
		    w->tag_tail);
		frame_meta_put(p + FRAME_HDRLEN, j->id, j->runs);
		memcpy(p + FRAME_HDRLEN + FRAME_META_LEN, j->data, j->len);
		buf_commit(&w->wbuf, FRAME_HDRLEN + FRAME_META_LEN + j->len);
	} else if (w->pc->protocol == PROTO_FRAME) {
		p = buf_reserve(&w->wbuf, FRAME_HDRLEN + j->len);
		frame_put(p, FRAME_JOB, 0, j->len, w->tag_tail);
		memcpy(p + FRAME_HDRLEN, j->data, j->len);
		buf_commit(&w->wbuf, FRAME_HDRLEN + j->len);
	} else {
		p = buf_reserve(&w->wbuf, TAGGED_PREFIX_MAX + j->len + 1);
		n = w->pc->protocol == PROTO_TAGGED ?
		    tagged_put_id(p, w->tag_tail) : 0;
		memcpy(p + n, j->data, j->len);
		p[n + j->len] = '\n';
		buf_commit(&w->wbuf, n + j->len + 1);
	}
	w->tag_tail++;
}

/*
 * Frame job j alone into the write buffer (worker_send_run() batches the
 * others); it is in flight from now on.
 */
static void
worker_send(struct worker *w, struct job *j, uint64_t now)
{
	worker_track(w, j, now);
	worker_frame(w, j);
}

/*
 * The n jobs js, none over WORKER_ITEM_MAX bytes, into batched JOBs: the
 * one open at the end of the write buffer while it takes them, then new
 * ones.  One reserve for the worst case (a frame each), the state in
 * locals, each batch's length written once when it closes; a job that
 * fits in its inline bytes is copied as three whole words.
 */
static void
worker_send_short(struct worker *w, struct job *const *js, size_t n,
    size_t bytes, size_t meta, uint64_t now)
{
	struct job	**ring, *j;
	uint64_t	  tail = w->tag_tail, mask;
	size_t		  i, v, item, jb_len;
	uint32_t	  le;
	char		 *p, *start, *hdr;

	while (w->tag_tail - w->tag_head + n > w->ringcap)
		worker_ring_grow(w);
	ring = w->ring;
	mask = w->ringcap - 1;
	if (w->inflight == 0) {
		w->head_since_us = now;
		w->inflight = n;
		worker_timeout_arm(w, now);
	} else
		w->inflight += n;
	start = p = buf_reserve(&w->wbuf, bytes + (n + 1) * FRAME_HDRLEN);
	jb_len = w->jb_next == tail ? w->jb_len : 0;
	hdr = jb_len != 0 ? p - jb_len - FRAME_HDRLEN : NULL;
	for (i = 0; i < n; i++) {
		j = js[i];
		ring[tail & mask] = j;
		j->sent_us = now;
		j->runs++;
		j->flags &= (uint8_t)~JOB_TIMEDOUT;
		item = meta + j->len;
		if (hdr == NULL ||
		    jb_len + FRAME_VARINT_MAX + item > FRAME_BATCH_MAX) {
			if (hdr != NULL) {
				le = htole32((uint32_t)jb_len);
				memcpy(hdr, &le, 4);
			}
			hdr = p;
			frame_put(p, FRAME_JOB, 0, 0, tail);
			p[6] = FRAME_F_BATCH;
			p += FRAME_HDRLEN;
			jb_len = 0;
		}
		v = frame_varint_put(p, (uint32_t)item);
		if (meta != 0)
			frame_meta_put(p + v, j->id, j->runs);
		if (j->data == j->inl)	/* over-copies into the reserve */
			memcpy(p + v + meta, j->inl, JOB_INLINE);
		else
			memcpy(p + v + meta, j->data, j->len);
		p += v + item;
		jb_len += v + item;
		tail++;
	}
	le = htole32((uint32_t)jb_len);
	memcpy(hdr, &le, 4);
	buf_commit(&w->wbuf, (size_t)(p - start));
	w->tag_tail = w->jb_next = tail;
	w->jb_len = jb_len;
}

/* Does j go in a batched JOB to w?  Not a long one, nor one with a cwd. */
static inline bool
worker_batches(const struct worker *w, const struct job *j)
{
	return (j->len <= WORKER_ITEM_MAX && (!(w->caps & FRAME_CAP_JOB_CWD) ||
	    j->batch->cwd == NULL));
}

/*
 * Frame the n jobs js into the write buffer, in this order; they are in
 * flight from now on.  The caller checked worker_room() for them all and
 * calls worker_flush() after a round of sends.  To a worker that takes
 * batched JOBs, the common case, each stretch of jobs that go in a batch
 * is framed in one pass (worker_send_short()), any other job alone.
 */
void
worker_send_run(struct worker *w, struct job *const *js, size_t n,
    uint64_t now)
{
	size_t	 meta, i, k, bytes;

	if (!(w->caps & FRAME_CAP_JOB_BATCH)) {
		for (i = 0; i < n; i++)
			worker_send(w, js[i], now);
		return;
	}
	meta = (w->caps & FRAME_CAP_JOB_META) ? FRAME_META_LEN : 0;
	for (i = 0; i < n; i = k) {
		for (k = i, bytes = 0; k < n && worker_batches(w, js[k]); k++)
			bytes += FRAME_VARINT_MAX + meta +
			    (js[k]->len < JOB_INLINE ? JOB_INLINE : js[k]->len);
		if (k > i)
			worker_send_short(w, js + i, k - i, bytes, meta, now);
		else
			worker_send(w, js[k++], now);	/* a frame of its own */
	}
}

/*
 * Our HELLO: version 1, which every worker takes, with a capability line
 * that offers version 2 and says how long a result may be
 * (docs/protocol.md).
 */
static void
worker_put_hello(struct worker *w)
{
	char	*p;
	size_t	 n;

	p = buf_reserve(&w->wbuf, FRAME_HDRLEN + FRAME_HELLO_MAX);
	n = frame_hello_put(p + FRAME_HDRLEN, FRAME_HELLO_MAX,
	    "drover " DROVER_VERSION, WORKER_CAPS, w->pc->max_result_bytes >
	    FRAME_MAXLEN ?
	    FRAME_MAXLEN : w->pc->max_result_bytes);
	frame_put(p, FRAME_HELLO, 0, (uint32_t)n, FRAME_VERSION);
	buf_commit(&w->wbuf, FRAME_HDRLEN + n);
}

/* Write what is buffered; wait for writability if the socket is full. */
void
worker_flush(struct worker *w)
{
	ssize_t	 n;

	w->jb_len = 0;		/* the next job opens a batch */
	if (w->fd_jobs == -1) {
		buf_reset(&w->wbuf);
		return;
	}
	while (buf_len(&w->wbuf) != 0) {
		n = buf_write(&w->wbuf, w->fd_jobs);
		if (n > 0)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(w->ev_jobs, NULL);
			return;
		}
		/* EPIPE and friends: the worker is going; EOF/exit follow. */
		log_debug("%s[%u]: write: %s", w->pc->name, w->id,
		    strerror(errno));
		buf_reset(&w->wbuf);
		event_del(w->ev_jobs);
		close(w->fd_jobs);
		w->fd_jobs = -1;
		return;
	}
	buf_shrink(&w->wbuf, 4 * 1024 * 1024);
	if (w->state == WS_RETIRING && w->inflight == 0)
		worker_close_stdin(w);
}

static void
worker_jobs_cb(int fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	worker_flush(arg);
}

/* The oldest job was taken: the head moves on past the taken ones. */
static void
worker_head_on(struct worker *w, uint64_t now)
{
	while (w->tag_head < w->tag_tail &&
	    w->ring[w->tag_head & (w->ringcap - 1)] == NULL)
		w->tag_head++;
	w->head_since_us = now;
}

/* Take job tag off the ring: it is no longer in flight. */
static struct job *
worker_take(struct worker *w, uint64_t tag, uint64_t now)
{
	struct job	*j;

	j = w->ring[tag & (w->ringcap - 1)];
	w->ring[tag & (w->ringcap - 1)] = NULL;
	w->inflight--;
	if (tag == w->tag_head)
		worker_head_on(w, now);
	return (j);
}

/*
 * Take the n jobs tagged tag on, all held: what n worker_take() calls in
 * tag order do.
 */
static void
worker_take_run(struct worker *w, uint64_t tag, size_t n, uint64_t now)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		w->ring[(tag + i) & (w->ringcap - 1)] = NULL;
	w->inflight -= n;
	if (tag == w->tag_head)
		worker_head_on(w, now);
}

/* Does w hold the job with this tag? */
static bool
worker_holds(const struct worker *w, uint64_t tag)
{
	return (tag >= w->tag_head && tag < w->tag_tail &&
	    w->ring[tag & (w->ringcap - 1)] != NULL);
}

/* Hand one result (and the sections it carries, if any) to the pool. */
static void
worker_result_x(struct worker *w, uint64_t tag, bool ok,
    const struct frame_result *r, uint64_t now)
{
	struct job	*j;

	j = worker_take(w, tag, now);
	w->jobs_done++;
	w->hooks->result(w, j, ok, r, now, w->arg);
}

/* Hand one result, its output or reason only, to the pool. */
static void
worker_result(struct worker *w, uint64_t tag, bool ok, const char *out,
    size_t len, uint64_t now)
{
	struct frame_result r = { .out = out, .outlen = len };

	worker_result_x(w, tag, ok, &r, now);
}

/*
 * Parse text-protocol results, one line each.  Line: in the order of the
 * jobs, so each line is the oldest job's, and one while none is held is an
 * extra line.  Tagged: "ID\t" names the job, and must name one held.  Then,
 * both: a result starting with "!" is a failure whose reason follows; "!!"
 * stands for a literal "!".  A result over max_result_bytes, whole or still
 * coming, is a protocol error.
 */
static unsigned
worker_parse_lines(struct worker *w, uint64_t now)
{
	const char	*p, *nl, *why;
	size_t		 len, off = 0, linemax;
	uint64_t	 tag;
	unsigned	 n = 0;
	bool		 tagged = w->pc->protocol == PROTO_TAGGED;

	linemax = w->pc->max_result_bytes + (tagged ? TAGGED_PREFIX_MAX : 0);
	while (w->fd_res != -1) {
		p = buf_data(&w->rbuf);
		if ((nl = memchr(p, '\n', buf_len(&w->rbuf))) == NULL)
			break;
		len = (size_t)(nl - p);
		if (!tagged) {
			if (w->inflight == 0) {
				worker_lose(w, "protocol error: extra result "
				    "line");
				return (n);
			}
			tag = w->tag_head;
		} else if (tagged_parse(p, len, &tag, &off, &why) == -1) {
			worker_lose(w, "protocol error: result line: %s", why);
			return (n);
		} else if (!worker_holds(w, tag)) {
			worker_lose(w, "protocol error: result for job id "
			    "%llu, which is not outstanding",
			    (unsigned long long)tag);
			return (n);
		}
		if (len - off > w->pc->max_result_bytes) {
			worker_lose(w, "protocol error: result line over "
			    "%llu bytes",
			    (unsigned long long)w->pc->max_result_bytes);
			return (n);
		}
		if (len > off && p[off] == '!')	/* "!!": a literal '!' */
			worker_result(w, tag, len > off + 1 &&
			    p[off + 1] == '!', p + off + 1, len - off - 1,
			    now);
		else
			worker_result(w, tag, true, p + off, len - off, now);
		buf_consume(&w->rbuf, len + 1);
		n++;
	}
	if (w->fd_res != -1 && buf_len(&w->rbuf) > linemax)
		worker_lose(w, "protocol error: result line over %llu bytes",
		    (unsigned long long)w->pc->max_result_bytes);
	return (n);
}

/*
 * Handle a HELLO frame from the worker: version 1, or version 2 with the
 * capabilities it asks for (we offered them all).
 */
static int
worker_hello(struct worker *w, const struct frame_hdr *h, const char *payload)
{
	struct frame_hello hello;
	const char	*why;

	if (w->hello) {
		worker_lose(w, "protocol error: second HELLO");
		return (-1);
	}
	if (h->id != FRAME_VERSION && h->id != FRAME_VERSION_2) {
		worker_lose(w, "protocol error: worker speaks version %llu, "
		    "not %d or %d", (unsigned long long)h->id, FRAME_VERSION,
		    FRAME_VERSION_2);
		return (-1);
	}
	if (h->id == FRAME_VERSION) {
		hello.desc = payload;
		hello.desclen = h->len;
	} else if (frame_hello_parse(payload, h->len, &hello, &why) == -1) {
		worker_lose(w, "protocol error: %s", why);
		return (-1);
	} else
		w->caps = hello.caps & WORKER_CAPS;
	w->hello = true;
	log_debug("%s[%u]: hello: version %llu, %.*s%s%s%s%s%s%s%s%s",
	    w->pc->name,
	    w->id, (unsigned long long)h->id, (int)hello.desclen, hello.desc,
	    w->caps != 0 ? "; capabilities:" : "",
	    (w->caps & FRAME_CAP_JOB_META) ? " job-meta" : "",
	    (w->caps & FRAME_CAP_RESULT_STDERR) ? " result-stderr" : "",
	    (w->caps & FRAME_CAP_RESULT_OUTPUT) ? " result-output" : "",
	    (w->caps & FRAME_CAP_RESULT_FIELDS) ? " result-fields" : "",
	    (w->caps & FRAME_CAP_RESULT_TYPED) ? " result-typed" : "",
	    (w->caps & FRAME_CAP_JOB_BATCH) ? " job-batch" : "",
	    (w->caps & FRAME_CAP_RESULT_BATCH) ? " result-batch" : "");
	if (w->state == WS_STARTING) {
		worker_set_state(w, WS_READY);
		w->hooks->ready(w, w->arg);
	}
	return (0);
}

/*
 * A RESULT with sections (result-stderr, result-output, result-fields):
 * each length checked, the output, stderr and stdout each held to max.
 * -1 when the worker is lost over it.
 */
static int
worker_result_sections(struct worker *w, const struct frame_hdr *h,
    const char *payload, uint32_t max, uint64_t now)
{
	struct frame_result r;
	const char	*why;

	if (frame_result_split(payload, h->len, h, max, &r, &why) == -1) {
		worker_lose(w, "protocol error: %s", why);
		return (-1);
	}
	worker_result_x(w, h->id, h->status == FRAME_OK, &r, now);
	return (0);
}

/* The RESULT flags that the capabilities in caps allow. */
static uint8_t
worker_flagmask(uint32_t caps)
{
	return ((uint8_t)(((caps & FRAME_CAP_RESULT_STDERR) ? FRAME_F_STDERR :
	    0) | ((caps & FRAME_CAP_RESULT_OUTPUT) ? FRAME_F_OUTPUT : 0) |
	    ((caps & FRAME_CAP_RESULT_FIELDS) ? FRAME_F_FIELDS : 0) |
	    ((caps & FRAME_CAP_RESULT_TYPED) ? FRAME_F_TYPED : 0) |
	    ((caps & FRAME_CAP_RESULT_BATCH) ? FRAME_F_BATCH : 0)));
}

/*
 * The limits a frame worker's headers are held to, from max_result_bytes
 * and the HELLO: before it, the HELLO's own limit, whatever results may
 * hold; after it, a result with sections may hold max bytes of each.  Set
 * for each read of results and again after the HELLO.
 */
static void
worker_res_limits(struct worker *w)
{
	uint32_t	 max;

	max = w->pc->max_result_bytes > FRAME_MAXLEN ? FRAME_MAXLEN :
	    (uint32_t)w->pc->max_result_bytes;
	w->res_max = max;
	if (!w->hello)
		w->res_lim = max >= FRAME_HELLO_MAX ? max : FRAME_HELLO_MAX;
	else if (w->caps != 0)
		w->res_lim = (uint32_t)frame_result_max(max, w->caps);
	else
		w->res_lim = max;
	w->res_flags = worker_flagmask(w->caps);
}

/*
 * A frame worker's header, judged before its payload is buffered (peer.h):
 * frame_parse_flags()'s checks, the payload held to worker_res_limits().
 */
static enum peer_verdict
worker_res_header(void *arg, const char *p, struct frame_hdr *h,
    const char **why)
{
	struct worker	*w = arg;

	if (frame_parse_flags(p, FRAME_HDRLEN, w->res_lim, w->res_flags, h,
	    why) == FRAME_BAD)
		return (PEER_REFUSE);	/* worker_res_lost() */
	return (PEER_TAKE);
}

/*
 * A batched RESULT (result-batch): the typed outputs of the jobs tagged
 * h->id on, 8 bytes each, the header checked by frame_batch_ok().  Every
 * tag must be held before any is taken, else the worker is lost over it
 * and nothing in the frame counts.  Then, in chunks, as many as the pool
 * takes in bulk (hooks->run_len, result_run), and a job it does not as a
 * result worker_res_fast() would take; a hook that loses the worker ends
 * the run.
 */
static void __attribute__((noinline))
worker_res_batch(struct worker *w, const struct frame_hdr *h,
    const char *payload)
{
	struct frame_result r;
	struct job	*js[WORKER_RUN_CHUNK], *j;
	uint64_t	 n = h->len / 8, i, v;
	size_t		 k, m;

	i = 0;
	if (h->id + n >= h->id && h->id >= w->tag_head &&
	    h->id + n <= w->tag_tail)	/* in range: look at the ring only */
		while (i < n &&
		    w->ring[(h->id + i) & (w->ringcap - 1)] != NULL)
			i++;
	else
		while (i < n && h->id + i >= h->id &&
		    worker_holds(w, h->id + i))
			i++;
	if (i < n) {
		worker_lose(w, "protocol error: result for unknown job tag "
		    "%llu", (unsigned long long)(h->id + i));
		return;
	}
	memset(&r, 0, sizeof(r));
	r.out = "";
	r.num.kind = (h->flags & FRAME_F_INT) ? NUM_INT : NUM_DOUBLE;
	for (i = 0; i < n && w->fd_res != -1; ) {
		/* The first job's batch says, before the chunk is gathered. */
		js[0] = w->ring[(h->id + i) & (w->ringcap - 1)];
		if (w->hooks->result_run != NULL &&
		    w->hooks->run_len(w, js, 1, w->arg) == 1) {
			m = n - i < WORKER_RUN_CHUNK ? n - i : WORKER_RUN_CHUNK;
			for (k = 1; k < m; k++)
				js[k] = w->ring[(h->id + i + k) &
				    (w->ringcap - 1)];
			if ((m = w->hooks->run_len(w, js, m, w->arg)) != 0) {
				worker_take_run(w, h->id + i, m, w->res_now);
				w->jobs_done += m;
				w->res_n += m;
				w->hooks->result_run(w, js, payload + i * 8, m,
				    r.num.kind, w->res_now, w->arg);
				i += m;
				continue;
			}
		}
		memcpy(&v, payload + i * 8, 8);
		v = le64toh(v);
		if (r.num.kind == NUM_INT)
			r.num.i = (i128)(int64_t)v;
		else
			memcpy(&r.num.d, &v, 8);
		j = worker_take(w, h->id + i, w->res_now);
		w->jobs_done++;
		w->res_n++;
		w->hooks->result(w, j, true, &r, w->res_now, w->arg);
		i++;
	}
}

/* Any frame but a plain result: HELLO, sections, or a protocol error. */
static void __attribute__((noinline, cold))
worker_res_other(struct worker *w, const struct frame_hdr *h,
    const char *payload)
{
	if (h->type == FRAME_HELLO) {
		if (worker_hello(w, h, payload) == 0)
			worker_res_limits(w);
	} else if (!w->hello)
		worker_lose(w, "protocol error: %s before HELLO",
		    frame_type_name(h->type));
	else if (h->type != FRAME_RESULT)
		worker_lose(w, "protocol error: unexpected %s frame",
		    frame_type_name(h->type));
	else if (h->flags & FRAME_F_BATCH)
		worker_res_batch(w, h, payload);
	else if (!worker_holds(w, h->id))
		worker_lose(w, "protocol error: result for unknown job tag "
		    "%llu", (unsigned long long)h->id);
	else if (h->flags != 0) {
		if (worker_result_sections(w, h, payload, w->res_max,
		    w->res_now) == 0)
			w->res_n++;
	} else	/* h->len > w->res_max */
		worker_lose(w, "protocol error: frame payload over the size "
		    "limit");
}

/*
 * The hot path of a frame worker's results: a RESULT for a job held, HELLO
 * seen, either plain within the limit, or an i64 (result-typed, the flag
 * checked against the capabilities by the header's parse).  Anything else
 * is false: worker_res_other() judges it.  worker_result(), by hand: one
 * call less per result.
 */
static inline bool
worker_res_fast(struct worker *w, const struct frame_hdr *h,
    const char *payload)
{
	struct frame_result r;
	struct job	*j;
	uint64_t	 v;

	if (h->type != FRAME_RESULT || !w->hello || !worker_holds(w, h->id))
		return (false);
	r.err = r.sout = r.fields = NULL;
	r.errlen = r.soutlen = r.fieldslen = 0;
	if (h->flags == 0 && h->len <= w->res_max) {
		r.out = payload;
		r.outlen = h->len;
		r.num.kind = NUM_NONE;
	} else if (h->flags == FRAME_F_INT && h->len == 8 &&
	    h->status == FRAME_OK) {
		memcpy(&v, payload, 8);
		r.out = "";
		r.outlen = 0;
		r.num.kind = NUM_INT;
		r.num.i = (i128)(int64_t)le64toh(v);
	} else
		return (false);
	j = worker_take(w, h->id, w->res_now);
	w->jobs_done++;
	w->res_n++;
	w->hooks->result(w, j, h->status == FRAME_OK, &r, w->res_now, w->arg);
	return (true);
}

/*
 * A whole frame from a frame worker: HELLO first, then RESULTs by tag
 * (worker_res_fast() for the common ones).
 */
static void
worker_res_frame(void *arg, const struct frame_hdr *h, const char *payload,
    size_t len)
{
	struct worker	*w = arg;

	(void)len;
	if (!worker_res_fast(w, h, payload))
		worker_res_other(w, h, payload);
}

/*
 * The whole frames the peer holds (peer.h, frames): the hot path of a
 * frame worker, parsed here in one loop, no call through the peer per
 * frame.  A frame not yet whole, or one whose header is bad, is left to
 * the peer: worker_res_header() judges it (and refuses a bad one),
 * worker_res_frame() takes it once it is in.
 */
static size_t
worker_res_frames(void *arg, const char *p, size_t len)
{
	struct worker		*w = arg;
	struct frame_hdr	 h;
	const char		*why;
	size_t			 off = 0;

	while (w->fd_res != -1 && len - off >= FRAME_HDRLEN) {
		if (frame_parse_flags(p + off, len - off, w->res_lim,
		    w->res_flags, &h, &why) != FRAME_GOOD)
			break;
		if (h.flags & FRAME_F_BATCH) {
			if (!w->hello || h.type != FRAME_RESULT)
				worker_res_other(w, &h, p + off + FRAME_HDRLEN);
			else
				worker_res_batch(w, &h, p + off + FRAME_HDRLEN);
			if (w->fd_res == -1)
				return (off);
		} else if (!worker_res_fast(w, &h, p + off + FRAME_HDRLEN)) {
			worker_res_other(w, &h, p + off + FRAME_HDRLEN);
			if (w->fd_res == -1)
				return (off);
		}
		off += FRAME_HDRLEN + h.len;
	}
	return (off);
}

/*
 * The results stream ended: EOF, inside a frame or not, or a read error,
 * for the reader to handle; or a header refused, a broken stream.
 */
static void
worker_res_lost(void *arg, enum peer_loss loss, const char *why)
{
	struct worker	*w = arg;

	if (loss == PEER_BAD)
		worker_lose(w, "protocol error: %s", why);
	else
		w->res_eof = true;
}

/* After results: re-arm the timeout; close stdin of a drained retiree. */
static void
worker_after_results(struct worker *w, unsigned n, uint64_t now)
{
	if (w->state != WS_READY && w->state != WS_RETIRING)
		return;
	if (n != 0)
		worker_timeout_arm(w, now);
	if (w->state == WS_RETIRING && w->inflight == 0 &&
	    buf_len(&w->wbuf) == 0)
		worker_close_stdin(w);
}

/*
 * Read up to max bytes of results in large reads and parse them.  Returns
 * the number of results; sets *eof when the pipe is at EOF or broken.  A
 * broken stream (worker_lose) closes fd_res, which ends the loop.  A frame
 * worker's peer reads the same way, and is told when (peer_drain()): one
 * clock reading and one read_end hook per readable event, as for lines.
 */
static unsigned
worker_read_results(struct worker *w, uint64_t now, size_t max, int reads,
    bool *eof)
{
	ssize_t	 n;
	unsigned nres = 0;
	size_t	 got = 0;

	*eof = false;
	if (w->res != NULL) {
		w->res_now = now;
		w->res_n = 0;
		w->res_eof = false;
		worker_res_limits(w);
		(void)peer_drain(w->res, max, (unsigned)reads);
		*eof = w->res_eof;
		return (w->res_n);
	}
	while (reads-- > 0 && got < max && w->fd_res != -1) {
		n = buf_read(&w->rbuf, w->fd_res, WORKER_READ_SIZE);
		if (n == 0 || (n == -1 && errno != EAGAIN &&
		    errno != EWOULDBLOCK)) {
			*eof = true;
			break;
		}
		if (n == -1)
			break;
		got += (size_t)n;
		nres += worker_parse_lines(w, now);
		if ((size_t)n < WORKER_READ_SIZE)
			break;		/* the pipe is empty for now */
	}
	buf_shrink(&w->rbuf, 4 * WORKER_READ_SIZE);
	return (nres);
}

static void
worker_res_cb(int fd, short what, void *arg)
{
	struct worker	*w = arg;
	uint64_t	 now = clock_us();
	unsigned	 n;
	bool		 eof;

	(void)fd;
	(void)what;
	n = worker_read_results(w, now, SIZE_MAX, WORKER_READS_PER_EVENT,
	    &eof);
	if (w->fd_res == -1) {		/* lost: it is being killed */
		w->hooks->read_end(w, n, now, w->arg);
		return;
	}
	worker_after_results(w, n, now);
	w->hooks->read_end(w, n, now, w->arg);
	if (eof)
		worker_got_eof(w);
}

/* Log one line of the worker's stderr, rate-limited. */
static void
worker_log_line(struct worker *w, const char *line, size_t len)
{
	uint64_t	 now = clock_us();

	if (len >= sizeof(w->lastlog))
		len = sizeof(w->lastlog) - 1;
	memcpy(w->lastlog, line, len);
	w->lastlog[len] = '\0';
	if (tbucket_take(&w->logtb, 1, now) == 0) {
		w->logdropped++;
		return;
	}
	if (w->logdropped != 0) {
		log_warnx("%s[%u] (pid %d): %llu lines of stderr dropped",
		    w->pc->name, w->id, (int)w->pid,
		    (unsigned long long)w->logdropped);
		w->logdropped = 0;
	}
	log_emit(LOG_NOTICE, "%s[%u] (pid %d): %.*s", w->pc->name, w->id,
	    (int)w->pid, (int)len, line);
}

/* Split buffered stderr into lines; at EOF flush a partial one. */
static void
worker_log_split(struct worker *w, bool eof)
{
	const char	*p, *nl;
	size_t		 len;

	for (;;) {
		p = buf_data(&w->lbuf);
		len = buf_len(&w->lbuf);
		if ((nl = memchr(p, '\n', len)) != NULL) {
			worker_log_line(w, p, (size_t)(nl - p));
			buf_consume(&w->lbuf, (size_t)(nl - p) + 1);
			continue;
		}
		if (len >= WORKER_LOG_LINE || (eof && len != 0)) {
			worker_log_line(w, p, len);
			buf_consume(&w->lbuf, len);
		}
		break;
	}
}

/* Read stderr; returns false at EOF or error. */
static bool
worker_read_log(struct worker *w)
{
	ssize_t	 n;
	int	 i;

	for (i = 0; i < 16; i++) {
		n = buf_read(&w->lbuf, w->fd_log, 16384);
		if (n > 0) {
			worker_log_split(w, false);
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return (true);
		worker_log_split(w, true);
		return (false);
	}
	return (true);
}

static void
worker_log_cb(int fd, short what, void *arg)
{
	struct worker	*w = arg;

	(void)fd;
	(void)what;
	if (!worker_read_log(w)) {
		event_del(w->ev_log);
		close(w->fd_log);
		w->fd_log = -1;
	}
}

/*
 * Read the exec-status pipe (spawn_status()).  EOF: the exec worked, and a
 * line or tagged worker, which has no HELLO, is READY now (unless its
 * stdout is closed already: then it takes no job, and goes as any worker
 * that closes its stdout).  An errno: the exec failed; the child exits 127
 * by itself, and the worker ends with the reason as its death, for the pool
 * to judge by worker_exec_errno() as it judges a failed worker_spawn().
 * The child writes before it exits, so once it has exited or closed its
 * stdout the answer is in: worker_got_eof() and worker_exited() ask first.
 */
static void
worker_exec_check(struct worker *w)
{
	char	 err[sizeof(w->reason)];
	int	 r;

	if (w->fd_status == -1)
		return;
	r = spawn_status(w->fd_status, w->pc->argv[0], err, sizeof(err));
	if (r == 0)
		return;
	if (r == -1)
		w->exec_errno = errno;
	event_del(w->ev_status);
	close(w->fd_status);
	w->fd_status = -1;
	if (r == -1) {
		worker_kill(w, "%s", err);
		return;
	}
	log_debug("%s[%u]: exec done", w->pc->name, w->id);
	if (w->state == WS_STARTING && w->pc->protocol != PROTO_FRAME &&
	    w->fd_res != -1) {
		worker_set_state(w, WS_READY);
		w->hooks->ready(w, w->arg);
	}
}

static void
worker_status_cb(int fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	worker_exec_check(arg);
}

/* The oldest job may be past its deadline. */
static void
worker_timeout_cb(int fd, short what, void *arg)
{
	struct worker	*w = arg;
	uint64_t	 now = clock_us(), limit;
	struct job	*j;

	(void)fd;
	(void)what;
	if (w->inflight == 0 || w->state == WS_STOPPING ||
	    w->state == WS_DEAD)
		return;
	limit = worker_timeout_us(w);
	if (now - w->head_since_us < limit) {
		worker_timeout_arm(w, now);
		return;
	}
	j = w->ring[w->tag_head & (w->ringcap - 1)];
	j->flags |= JOB_TIMEDOUT;
	w->hooks->timeout(w, j, w->arg);
}

/* Arm the escalation timer for the given next step. */
static void
worker_grace_arm(struct worker *w, enum grace what, uint64_t us)
{
	w->grace = what;
	timer_arm_us(w->ev_grace, us);
}

/*
 * Escalate a worker that does not exit: one that closed its stdout is
 * killed; one whose stdin we closed gets SIGTERM, then SIGKILL.
 */
static void
worker_grace_cb(int fd, short what, void *arg)
{
	struct worker	*w = arg;
	uint64_t	 us = (uint64_t)(w->pc->stop_timeout * 1e6);

	(void)fd;
	(void)what;
	if (worker_reaped(w))
		return;
	switch (w->grace) {
	case GRACE_EOF:
		worker_kill(w, "closed its stdout but did not exit");
		break;
	case GRACE_TERM:
		log_info("%s[%u] (pid %d): did not exit; sending SIGTERM",
		    w->pc->name, w->id, (int)w->pid);
		worker_signal(w, SIGTERM);
		worker_grace_arm(w, GRACE_KILL, us);
		break;
	case GRACE_KILL:
		log_warnx("%s[%u] (pid %d): did not exit; sending SIGKILL",
		    w->pc->name, w->id, (int)w->pid);
		w->killed = true;
		worker_signal(w, SIGKILL);
		break;
	case GRACE_NONE:
		break;
	}
}

/* Close the worker's stdin: "finish and exit"; start the stop timer. */
static void
worker_close_stdin(struct worker *w)
{
	if (w->stdin_closed)
		return;
	w->stdin_closed = true;
	if (w->fd_jobs != -1) {
		event_del(w->ev_jobs);
		close(w->fd_jobs);
		w->fd_jobs = -1;
	}
	if (!worker_reaped(w) && !w->killed && w->grace == GRACE_NONE)
		worker_grace_arm(w, GRACE_TERM,
		    (uint64_t)(w->pc->stop_timeout * 1e6));
}

/* READY or STARTING -> RETIRING: no new jobs; exit after the held ones. */
void
worker_retire(struct worker *w)
{
	if (w->state != WS_READY && w->state != WS_STARTING)
		return;
	worker_set_state(w, WS_RETIRING);
	if (w->inflight == 0 && buf_len(&w->wbuf) == 0)
		worker_close_stdin(w);
}

/* Ask a worker's process group to terminate (SIGTERM), escalating later. */
void
worker_terminate(struct worker *w)
{
	if (worker_reaped(w))
		return;
	if (w->state == WS_READY || w->state == WS_STARTING)
		worker_set_state(w, WS_RETIRING);
	worker_close_stdin(w);
	worker_signal(w, SIGTERM);
	worker_grace_arm(w, GRACE_KILL, (uint64_t)(w->pc->stop_timeout * 1e6));
}

/*
 * Any live state -> STOPPING with SIGKILL to the whole process group.  An
 * EXITED worker (its last results being read) only takes the reason: it is
 * past signals, and DEAD follows at once.
 */
static void
worker_vkill(struct worker *w, const char *fmt, va_list ap)
{
	if (w->state == WS_DEAD)
		return;
	if (w->reason[0] == '\0')
		vsnprintf(w->reason, sizeof(w->reason), fmt, ap);
	if (w->state != WS_STOPPING && w->state != WS_EXITED)
		worker_set_state(w, WS_STOPPING);
	evtimer_del(w->ev_timeout);
	evtimer_del(w->ev_grace);
	w->grace = GRACE_NONE;
	if (!worker_reaped(w) && !w->killed) {
		w->killed = true;
		worker_signal(w, SIGKILL);
	}
	worker_close_stdin(w);
}

/* Kill a worker and keep reading its results until EOF. */
void
worker_kill(struct worker *w, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	worker_vkill(w, fmt, ap);
	va_end(ap);
}

/*
 * Kill a worker whose stream is broken and stop reading it: nothing more it
 * sends can be trusted.  The pool logs the death with the reason.
 */
static void
worker_lose(struct worker *w, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	worker_vkill(w, fmt, ap);
	va_end(ap);
	worker_close_res(w);
	buf_reset(&w->rbuf);
}

/*
 * EOF on the results pipe while the worker lives (an exited one reads to
 * EOF itself, in worker_exited()).  A retiree that finished its jobs is
 * exiting as asked (the stop timer runs); a worker we killed is on its way;
 * anything else closed its stdout on its own: STOPPING, and killed if it
 * does not exit within WORKER_EOF_GRACE_US.
 */
static void
worker_got_eof(struct worker *w)
{
	worker_close_res(w);
	worker_exec_check(w);	/* killed, if its exec failed */
	if (w->killed || (w->state == WS_RETIRING && w->inflight == 0))
		return;
	if (w->state != WS_STOPPING)
		worker_set_state(w, WS_STOPPING);
	worker_grace_arm(w, GRACE_EOF, WORKER_EOF_GRACE_US);
}

/* EXITED -> DEAD: exit status and EOF are both in; tell the pool. */
static void
worker_end(struct worker *w)
{
	/* What it said last on stderr belongs to its obituary. */
	if (w->fd_log != -1) {
		(void)worker_read_log(w);
		worker_log_split(w, true);
		event_del(w->ev_log);
		close(w->fd_log);
		w->fd_log = -1;
	}
	if (w->fd_jobs != -1) {
		event_del(w->ev_jobs);
		close(w->fd_jobs);
		w->fd_jobs = -1;
	}
	evtimer_del(w->ev_timeout);
	evtimer_del(w->ev_grace);
	worker_set_state(w, WS_DEAD);
	worker_set_death(w);
	TAILQ_REMOVE(&workers, w, entry);
	w->hooks->dead(w, w->arg);
}

/*
 * The exit status of w arrived: EXITED, so that it takes no more jobs and
 * gets no more signals; if EOF on its stdout has not come yet, read what is
 * left in the pipe at once (it can write no more); then DEAD.  So EXITED
 * lasts for this function only, whichever of the two came first.
 */
static void
worker_exited(struct worker *w, int status)
{
	uint64_t	 now = clock_us();
	unsigned	 n;
	bool		 eof;

	worker_set_state(w, WS_EXITED);
	w->wstatus = status;
	worker_exec_check(w);	/* the reason, if its exec failed */
	/*
	 * Whatever it left behind in its process group (a forked child, an
	 * exec job's command) goes with it: nothing of a run outlives it, and
	 * nothing keeps its pipes open.  The group id cannot be reused while
	 * a member lives, so this reaches no stranger.
	 */
	(void)kill(-w->pid, SIGKILL);
	if (w->fd_res != -1) {
		/* It is dead: everything it wrote is in the pipe already. */
		n = worker_read_results(w, now, WORKER_DRAIN_MAX, 64, &eof);
		if (n != 0)
			w->hooks->read_end(w, n, now, w->arg);
		worker_close_res(w);
	}
	worker_end(w);
}

/* SIGCHLD: reap every exited child and tell its worker. */
void
worker_reap(void)
{
	struct worker	*w;
	pid_t		 pid;
	int		 status;

	for (;;) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid == 0)
			break;
		if (pid == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		TAILQ_FOREACH(w, &workers, entry)
			if (w->pid == pid)
				break;
		if (w == NULL) {
			log_debug("reaped unknown child %d", (int)pid);
			continue;
		}
		worker_exited(w, status);
	}
}

/* Remove and return the oldest job still held (for requeueing). */
struct job *
worker_pop_inflight(struct worker *w)
{
	struct job	*j;

	while (w->tag_head < w->tag_tail) {
		j = w->ring[w->tag_head & (w->ringcap - 1)];
		w->ring[w->tag_head & (w->ringcap - 1)] = NULL;
		w->tag_head++;
		if (j != NULL) {
			w->inflight--;
			return (j);
		}
	}
	return (NULL);
}

/* The oldest job held, or NULL. */
struct job *
worker_oldest(const struct worker *w)
{
	if (w->inflight == 0)
		return (NULL);
	return (w->ring[w->tag_head & (w->ringcap - 1)]);
}

enum worker_state
worker_state(const struct worker *w)
{
	return (w->state);
}

pid_t
worker_pid(const struct worker *w)
{
	return (w->pid);
}

unsigned
worker_id(const struct worker *w)
{
	return (w->id);
}

size_t
worker_inflight(const struct worker *w)
{
	return (w->inflight);
}

/* How many more jobs w may take under the given window. */
size_t
worker_room(const struct worker *w, unsigned window)
{
	if (w->state != WS_READY || w->inflight >= window)
		return (0);
	if (w->tag_tail - w->tag_head >= WORKER_SPAN_MAX)
		return (0);
	return (window - w->inflight);
}

uint64_t
worker_jobs_done(const struct worker *w)
{
	return (w->jobs_done);
}

uint64_t
worker_spawned_us(const struct worker *w)
{
	return (w->spawned_us);
}

/* How long the oldest job has been running (0 when idle). */
uint64_t
worker_head_age_us(const struct worker *w, uint64_t now)
{
	if (w->inflight == 0 || now < w->head_since_us)
		return (0);
	return (now - w->head_since_us);
}

/* It exited after we closed its stdin with nothing in flight. */
bool
worker_retired_cleanly(const struct worker *w)
{
	return (w->stdin_closed && w->reason[0] == '\0' && w->inflight == 0);
}

/* We killed it (timeout, protocol error, stop): not its own crash. */
bool
worker_was_killed(const struct worker *w)
{
	return (w->reason[0] != '\0');
}

bool
worker_said_hello(const struct worker *w)
{
	return (w->hello || w->pc->protocol != PROTO_FRAME);
}

int
worker_wait_status(const struct worker *w)
{
	return (w->wstatus);
}

/* The errno its exec failed with (its death says how), or 0. */
int
worker_exec_errno(const struct worker *w)
{
	return (w->exec_errno);
}

/* Write the phrase for how w ended: our reason, or its status or signal. */
static void
worker_set_death(struct worker *w)
{
	const char	*name;

	if (w->reason[0] != '\0')
		snprintf(w->death, sizeof(w->death), "%s", w->reason);
	else if (WIFEXITED(w->wstatus))
		snprintf(w->death, sizeof(w->death), "exited with status %d",
		    WEXITSTATUS(w->wstatus));
	else if (WIFSIGNALED(w->wstatus)) {
		name = sigabbrev_np(WTERMSIG(w->wstatus));
		snprintf(w->death, sizeof(w->death),
		    "killed by signal %d (SIG%s)", WTERMSIG(w->wstatus),
		    name != NULL ? name : "?");
	} else
		snprintf(w->death, sizeof(w->death), "ended (status %#x)",
		    w->wstatus);
}

/* How it ended ("exited with status 1", "killed by signal 9 ..."). */
const char *
worker_death(const struct worker *w)
{
	return (w->state == WS_DEAD ? w->death : "still running");
}

const char *
worker_last_stderr(const struct worker *w)
{
	return (w->lastlog);
}

/* Resident set size in KiB from /proc, or 0 if unknown. */
uint64_t
worker_rss_kb(const struct worker *w)
{
	char		 path[64], line[128];
	FILE		*f;
	unsigned long long size, rss;
	long		 page;

	if (worker_reaped(w))
		return (0);
	snprintf(path, sizeof(path), "/proc/%d/statm", (int)w->pid);
	if ((f = fopen(path, "re")) == NULL)
		return (0);
	if (fgets(line, sizeof(line), f) == NULL ||
	    sscanf(line, "%llu %llu", &size, &rss) != 2)
		rss = 0;
	fclose(f);
	page = sysconf(_SC_PAGESIZE);
	return (rss * (unsigned long long)(page > 0 ? page : 4096) / 1024);
}

/*
 * libFuzzer target: the control protocol as droverd reads it, a whole
 * client session (REQUEST, then JOBs, END or CANCEL, or garbage) driven
 * through daemon/control.c for real.
 *
 * control.c takes no connected fd, so each input gets what droverd has:
 * control_new() listening on a socket in a private directory, on a private
 * event_base, with stub daemon_hooks (hooks.h).  The harness connects,
 * writes the input in pieces (the loop runs between them, so that
 * droverd's reads are cut anywhere), runs the loop until nothing moves,
 * ends the session one of four ways, and tears everything down:
 * control_free(), pool_free(), event_base_free().  LeakSanitizer sees
 * any client, job or buffer left behind.
 *
 * The pool: hooks->pool() returns NULL (every submit is refused: "unknown
 * pool"), or, for the name "p", a real pool from pool_new() that is never
 * started.  It has no worker, so jobs queue (pool_room() and backpressure
 * are real) and are never run: they end as cancelled, by the client's
 * CANCEL, its disconnect, or pool_stop(POOL_STOP_TERM) (the drain and
 * shutdown path: BYE with "stopped").  RESULTs of jobs that ran need a
 * worker process, which a fuzzer cannot spawn; fuzz_frame covers what
 * the worker side parses.
 *
 * Checked: droverd's answer is a sequence of well-formed control messages
 * (ctl_parse()), its REPLY and BYE valid JSON objects, a RESULT's status
 * and metadata in range, and at most one READ, declining an INPUT (no
 * descriptor can come over the bytes the harness writes).
 *
 * Input: byte 0, the mode (bit 0: pool "p" exists; bit 1: shutting down;
 * bit 2: reload fails; bit 3: max_job_bytes 16; bits 4-5: how the session
 * ends: stay connected, half-close, hang up, pool_stop; bit 6: flood, the
 * harness first submits to "p" FZ_FLOOD_JOBS jobs, more than the queue
 * takes, so that droverd stops reading: backpressure); byte 1, the seed
 * of the write sizes; the rest, what the client sends.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "buf.h"
#include "conf.h"
#include "control.h"
#include "ctl.h"
#include "hooks.h"
#include "log.h"
#include "pool.h"
#include "poolconf.h"
#include "status.h"
#include "xmalloc.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FZ_CHECK(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,	\
		    __LINE__, #c);					\
		abort();						\
	}								\
} while (0)

#define FZ_POOL		0x01
#define FZ_DRAINING	0x02
#define FZ_RELOAD_FAIL	0x04
#define FZ_SMALL_JOBS	0x08
#define FZ_END(m)	(((m) >> 4) & 3)
#define FZ_FLOOD	0x40
#define FZ_FLOOD_JOBS	1100	/* over POOL_QUEUE_MIN (daemon/pool_impl.h) */
enum { FZ_END_STAY, FZ_END_SHUT, FZ_END_HANGUP, FZ_END_STOP };

static char		 fz_dir[64];
static char		 fz_sock[96];
static unsigned		 fz_mode;
static struct conf	*fz_conf;
static struct pool	*fz_pool;

static void
fz_cleanup(void)
{
	(void)unlink(fz_sock);
	(void)rmdir(fz_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*tmp = getenv("TMPDIR");

	(void)argc;
	(void)argv;
	log_init("fuzz_control_server", LOG_STYLE_CLI, LOG_CRIT);
	signal(SIGPIPE, SIG_IGN);	/* as droverd */
	snprintf(fz_dir, sizeof(fz_dir), "%s/fuzz_ctl.XXXXXX",
	    tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
	if (mkdtemp(fz_dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	snprintf(fz_sock, sizeof(fz_sock), "%s/droverd.sock", fz_dir);
	atexit(fz_cleanup);
	return (0);
}

/* The stub supervisor. */
static const struct conf *
fz_hook_conf(void)
{
	return (fz_conf);
}

static struct pool *
fz_hook_pool(const char *name)
{
	if (fz_pool != NULL && strcmp(name, pool_name(fz_pool)) == 0)
		return (fz_pool);
	return (NULL);
}

static bool
fz_hook_accepting(void)
{
	return (!(fz_mode & FZ_DRAINING));
}

static int
fz_hook_reload(struct buf *out)
{
	if (fz_mode & FZ_RELOAD_FAIL) {
		buf_adds(out, "droverd.conf:3: workers: not a number\n"
		    "droverd.conf:7: bad \xff byte");
		return (-1);
	}
	buf_adds(out, "pool p: workers 1 -> 2");
	return (0);
}

/* After a good reload: its pools started, or (FZ_DRAINING) one failed. */
static int
fz_hook_reload_settled(struct buf *why)
{
	if (fz_mode & FZ_DRAINING) {
		buf_adds(why, "pool p failed to start: \xff\n");
		return (-1);
	}
	return (1);
}

static int
fz_hook_pool_op(const char *op, const char *name, long n, struct buf *out)
{
	if (fz_hook_pool(name) == NULL) {
		buf_printf(out, "unknown pool '%s'", name);
		return (-1);
	}
	buf_printf(out, "pool %s: %s %ld", name, op, n);
	return (0);
}

static json_t *
fz_hook_status(void)
{
	return (json_pack("{s:s,s:i,s:[]}", "state", "running", "pid", 1,
	    "pools"));
}

static bool
fz_hook_healthy(struct buf *why)
{
	(void)why;
	return (true);
}

static unsigned long long
fz_hook_reloads(bool ok)
{
	(void)ok;
	return (0);
}

static const struct daemon_hooks fz_hooks = {
	.conf = fz_hook_conf,
	.pool = fz_hook_pool,
	.accepting = fz_hook_accepting,
	.reload = fz_hook_reload,
	.reload_settled = fz_hook_reload_settled,
	.pool_op = fz_hook_pool_op,
	.status = fz_hook_status,
	.healthy = fz_hook_healthy,
	.reloads = fz_hook_reloads,
};

static void
fz_pool_failed(struct pool *p, const char *why, void *arg)
{
	(void)p;
	(void)why;
	(void)arg;
}

static void
fz_pool_stopped(struct pool *p, void *arg)
{
	(void)p;
	(void)arg;
}

static const struct pool_hooks fz_pool_hooks = {
	.failed = fz_pool_failed,
	.stopped = fz_pool_stopped,
};

/* Everything droverd wrote to us must be well-formed messages. */
static void
fz_check_replies(const struct buf *in)
{
	struct frame_hdr h;
	struct ctl_meta	 m;
	const char	*p = buf_data(in), *why;
	size_t		 len = buf_len(in), n = 0;
	json_t		*o;
	int		 bye = 0, declined = 0;

	while (len >= FRAME_HDRLEN) {
		why = NULL;
		if (ctl_parse(p, len, &h, &why) != FRAME_GOOD) {
			fprintf(stderr, "bad message from droverd: %s\n",
			    why != NULL ? why : "?");
			abort();
		}
		if (len - FRAME_HDRLEN < h.len)
			break;		/* cut: the peer went away */
		FZ_CHECK(!bye);		/* nothing after BYE */
		FZ_CHECK(h.type == CTL_REPLY || h.type == CTL_RESULT ||
		    h.type == CTL_BYE || h.type == CTL_READ);
		FZ_CHECK((n == 0) == (h.type == CTL_REPLY));
		if (h.type == CTL_READ) {
			/* No fd can come from here: an INPUT is declined. */
			FZ_CHECK(h.status == CTL_READ_DECLINED && h.id == 0 &&
			    !declined);
			declined = 1;
		} else if (h.type == CTL_REPLY || h.type == CTL_BYE) {
			o = json_loadb(p + FRAME_HDRLEN, h.len, 0, NULL);
			FZ_CHECK(o != NULL && json_is_object(o));
			json_decref(o);
			bye = h.type == CTL_BYE;
		} else {
			FZ_CHECK(h.status < JOB_NSTATUS);
			ctl_meta_get(p + FRAME_HDRLEN, &m);
		}
		p += FRAME_HDRLEN + h.len;
		len -= FRAME_HDRLEN + h.len;
		n++;
	}
}

/* Read what droverd sent; 1 if there was something. */
static int
fz_drain(int fd, struct buf *in)
{
	ssize_t	 n;
	int	 got = 0;

	if (fd == -1)
		return (0);
	while ((n = buf_read(in, fd, 65536)) > 0)
		got = 1;
	return (got);
}

/* Run the loop until neither side moves for a few turns. */
static void
fz_settle(struct event_base *base, int fd, struct buf *in)
{
	int	 idle = 0, turns = 0;

	while (idle < 4 && turns++ < 10000) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		idle = fz_drain(fd, in) ? 0 : idle + 1;
	}
}

static int
fz_connect(void)
{
	struct sockaddr_un sun;
	int		 fd;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		perror("socket");
		abort();
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", fz_sock);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		perror("connect");
		abort();
	}
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return (fd);
}

/* What FZ_FLOOD sends first: a submit to "p", then many small jobs. */
static void
fz_flood(struct buf *out)
{
	static const char req[] = "{\"op\":\"submit\",\"pool\":\"p\"}";
	char		*p;
	int		 i;

	p = buf_reserve(out, FRAME_HDRLEN);
	frame_put(p, CTL_REQUEST, 0, sizeof(req) - 1, CTL_VERSION);
	buf_commit(out, FRAME_HDRLEN);
	buf_add(out, req, sizeof(req) - 1);
	for (i = 0; i < FZ_FLOOD_JOBS; i++) {
		p = buf_reserve(out, FRAME_HDRLEN + 1);
		frame_put(p, CTL_JOB, 0, 1, 1000000 + (uint64_t)i);
		p[FRAME_HDRLEN] = 'j';
		buf_commit(out, FRAME_HDRLEN + 1);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct event_base *base;
	struct control	*ctl;
	struct poolconf	 pc;
	char		*argv[] = { "/bin/false", NULL };
	char		 err[256];
	struct buf	 in, out;
	size_t		 off = 0, n;
	ssize_t		 w;
	uint32_t	 seed;
	int		 fd, stuck = 0;

	if (size < 2)
		return (0);
	fz_mode = data[0];
	seed = data[1] | 1U;
	buf_init(&out);
	if (fz_mode & FZ_FLOOD)
		fz_flood(&out);
	buf_add(&out, data + 2, size - 2);
	data = (const uint8_t *)buf_data(&out);
	size = buf_len(&out);

	if ((base = event_base_new()) == NULL)
		abort();
	fz_conf = conf_default("/nonexistent/droverd.conf");
	free(fz_conf->socket);
	fz_conf->socket = xstrdup(fz_sock);
	fz_conf->socket_mode = 0600;
	fz_pool = NULL;
	if (fz_mode & FZ_POOL) {
		poolconf_defaults(&pc);
		pc.name = "p";
		pc.argv = argv;
		if (fz_mode & FZ_SMALL_JOBS)
			pc.max_job_bytes = 16;
		fz_pool = pool_new(base, &pc, &fz_pool_hooks, NULL);
	}
	if ((ctl = control_new(base, fz_conf, &fz_hooks, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "control_new: %s\n", err);
		abort();
	}
	fd = fz_connect();
	buf_init(&in);

	/* The session, in writes of 1 to 64 bytes or all that is left. */
	while (off < size && stuck < 100) {
		seed = seed * 1103515245U + 12345U;
		n = (seed >> 16) % 8 == 0 ? size - off : 1 + (seed >> 16) % 64;
		if (n > size - off)
			n = size - off;
		w = send(fd, data + off, n, MSG_NOSIGNAL);
		if (w > 0) {
			off += (size_t)w;
			stuck = 0;
		} else if (w == -1 && errno != EAGAIN && errno != EINTR)
			break;		/* droverd hung up */
		else
			stuck++;	/* backpressure: let it read */
		event_base_loop(base, EVLOOP_NONBLOCK);
		(void)fz_drain(fd, &in);
	}
	switch (FZ_END(fz_mode)) {
	case FZ_END_SHUT:
		(void)shutdown(fd, SHUT_WR);
		break;
	case FZ_END_HANGUP:
		close(fd);
		fd = -1;
		break;
	case FZ_END_STOP:
		fz_settle(base, fd, &in);
		if (fz_pool != NULL)
			pool_stop(fz_pool, POOL_STOP_TERM,
			    "droverd is shutting down");
		break;
	}
	fz_settle(base, fd, &in);
	fz_check_replies(&in);

	/* Hang up (if not yet) and let droverd see it, then tear down. */
	if (fd != -1)
		close(fd);
	fz_settle(base, -1, NULL);
	control_free(ctl);
	pool_free(fz_pool);
	fz_pool = NULL;
	conf_free(fz_conf);
	fz_conf = NULL;
	event_base_free(base);
	buf_free(&in);
	buf_free(&out);
	return (0);
}

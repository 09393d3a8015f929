/*
 * rawpipe: the raw C pipeline that bounds what drover's design can do
 * (docs/benchmarks.md, "Gap to the raw C pipeline").  The parent parses one
 * integer per line from stdin and streams 16-byte frames (the common/frame.h
 * header, the integer in the id field, no payload) to W forked children over
 * Unix socketpairs, in batches of 1024 frames per write(2).  Each child
 * squares what it reads and answers with one 16-byte RESULT frame per job
 * (the square in the id field) on a pipe; the parent sums the squares
 * exactly in 128 bits and prints, on stderr, the same summary line as
 * bench/goref:
 *
 *	rawpipe: N jobs in X s (R jobs/s); sum S
 *
 * Nothing but the work drover also has to do: no job records, no queue, no
 * per-job output, no timeouts.  The parent multiplexes with poll(2), or with
 * libevent (-e, when built with -DRAWPIPE_LIBEVENT -levent), the loop drover
 * itself uses.  Each child may hold at most 16 batches; a batch goes to
 * whichever child has room.
 *
 *	usage: rawpipe [-e] [-w WORKERS] < input
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef RAWPIPE_LIBEVENT
#include <event2/event.h>
#endif

#include "frame.h"

#define BATCH		1024		/* frames per write */
#define INFLIGHT_MAX	(16 * BATCH)	/* jobs a child may hold */
#define RDBUF		(1 << 20)	/* stdin read size */
#define RESBUF		(64 * 1024)	/* results read size */
#define MAXW		64

/* One child: its two fds, the batch being written and the partial read. */
struct child {
	pid_t		 pid;
	int		 jobfd;		/* our end of the socketpair */
	int		 resfd;		/* read end of its results pipe */
	char		 out[BATCH * FRAME_HDRLEN];
	size_t		 outoff, outlen;
	char		 in[RESBUF + FRAME_HDRLEN];
	size_t		 inlen;
	uint64_t	 sent, got;
	bool		 closed;	/* EOF sent */
	bool		 done;		/* EOF read */
#ifdef RAWPIPE_LIBEVENT
	struct event	*ev_res, *ev_job;
#endif
};

/* stdin, read in large blocks and parsed in place. */
struct input {
	char		*buf;
	size_t		 off, len;
	bool		 eof;
	uint64_t	 line;
};

static struct input	 in;
static struct child	 kids[MAXW];
static int		 nkids = 2;
static unsigned __int128 sum;
static uint64_t		 njobs;

/* The type and id of the 16-byte frame at p (frame.h layout), inline. */
static inline uint8_t
rec_get(const char *p, uint64_t *id)
{
	uint64_t	 i;

	memcpy(&i, p + 8, 8);
	*id = le64toh(i);
	return ((uint8_t)p[4]);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list	 ap;
	int	 e = errno;

	va_start(ap, fmt);
	fprintf(stderr, "rawpipe: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (e != 0)
		fprintf(stderr, ": %s", strerror(e));
	fputc('\n', stderr);
	exit(1);
}

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + ts.tv_nsec / 1e9);
}

/* Refill the input buffer, keeping the unparsed tail; false at EOF. */
static bool
input_more(void)
{
	ssize_t	 n;

	if (in.eof)
		return (false);
	memmove(in.buf, in.buf + in.off, in.len - in.off);
	in.len -= in.off;
	in.off = 0;
	do
		n = read(STDIN_FILENO, in.buf + in.len, RDBUF);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		die("unable to read stdin");
	if (n == 0) {
		in.eof = true;
		if (in.len != 0)	/* a last line without newline */
			in.buf[in.len++] = '\n';
		return (in.len != 0);
	}
	in.len += (size_t)n;
	return (true);
}

/* Parse the next line as an integer into *v; false at the end of input. */
static bool
input_next(int64_t *v)
{
	char		*p, *nl;
	uint64_t	 u = 0;
	bool		 neg = false;

	while ((nl = memchr(in.buf + in.off, '\n', in.len - in.off)) == NULL)
		if (!input_more())
			return (false);
	p = in.buf + in.off;
	in.line++;
	if (*p == '-') {
		neg = true;
		p++;
	}
	if (p == nl || nl - p > 18)
		die("stdin:%llu: not an integer", (unsigned long long)in.line);
	for (; p < nl; p++) {
		if (*p < '0' || *p > '9')
			die("stdin:%llu: not an integer",
			    (unsigned long long)in.line);
		u = u * 10 + (uint64_t)(*p - '0');
	}
	in.off = (size_t)(nl + 1 - in.buf);
	*v = neg ? -(int64_t)u : (int64_t)u;
	return (true);
}

/* Write all of buf to a blocking fd. */
static void
write_all(int fd, const char *buf, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			die("child: unable to write results");
		}
		buf += n;
		len -= (size_t)n;
	}
}

/* The child: square every frame read on jobfd, answer on resfd, until EOF. */
static void __attribute__((noreturn))
child_main(int jobfd, int resfd)
{
	static char	 rbuf[BATCH * 4 * FRAME_HDRLEN];
	static char	 wbuf[BATCH * 4 * FRAME_HDRLEN];
	size_t		 have = 0, i, m;
	ssize_t		 n;
	uint64_t	 id;
	int64_t		 v;

	for (;;) {
		n = read(jobfd, rbuf + have, sizeof(rbuf) - have);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("child: unable to read jobs");
		if (n == 0)
			break;
		have += (size_t)n;
		m = have / FRAME_HDRLEN;
		for (i = 0; i < m; i++) {
			if (rec_get(rbuf + i * FRAME_HDRLEN, &id) != FRAME_JOB)
				die("child: bad frame");
			v = (int64_t)id;
			frame_put(wbuf + i * FRAME_HDRLEN, FRAME_RESULT,
			    FRAME_OK, 0, (uint64_t)(v * v));
		}
		write_all(resfd, wbuf, m * FRAME_HDRLEN);
		have -= m * FRAME_HDRLEN;
		memmove(rbuf, rbuf + m * FRAME_HDRLEN, have);
	}
	if (have != 0)
		die("child: truncated frame at EOF");
	_exit(0);
}

/* Fork child i with a socketpair for jobs and a pipe for results. */
static void
child_start(int i)
{
	struct child	*c = &kids[i];
	int		 sv[2], pv[2], j;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 || pipe(pv) == -1)
		die("unable to create the child's channels");
	(void)fcntl(pv[0], F_SETPIPE_SZ, 1 << 20);
	if ((c->pid = fork()) == -1)
		die("fork");
	if (c->pid == 0) {
		for (j = 0; j < i; j++) {
			close(kids[j].jobfd);
			close(kids[j].resfd);
		}
		close(sv[0]);
		close(pv[0]);
		close(STDIN_FILENO);
		child_main(sv[1], pv[1]);
	}
	close(sv[1]);
	close(pv[1]);
	c->jobfd = sv[0];
	c->resfd = pv[0];
	if (fcntl(c->jobfd, F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(c->resfd, F_SETFL, O_NONBLOCK) == -1)
		die("fcntl");
}

/* Frame the next batch of input for c if it has room and none pending. */
static void
child_fill(struct child *c)
{
	size_t	 k = 0;
	int64_t	 v;

	if (c->outlen != 0 || c->closed ||
	    c->sent - c->got + BATCH > INFLIGHT_MAX)
		return;
	while (k < BATCH && input_next(&v)) {
		frame_put(c->out + k * FRAME_HDRLEN, FRAME_JOB, 0, 0,
		    (uint64_t)v);
		k++;
	}
	c->outoff = 0;
	c->outlen = k * FRAME_HDRLEN;
	c->sent += k;
}

/* Write what is pending for c; false if the socket is full. */
static bool
child_flush(struct child *c)
{
	ssize_t	 n;

	while (c->outoff < c->outlen) {
		n = write(c->jobfd, c->out + c->outoff, c->outlen - c->outoff);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return (false);
		if (n == -1)
			die("unable to write jobs");
		c->outoff += (size_t)n;
	}
	c->outoff = c->outlen = 0;
	return (true);
}

/* Read c's results, sum every complete frame; mark it done at EOF. */
static void
child_drain(struct child *c)
{
	size_t		 i, m;
	ssize_t		 n;
	uint64_t	 id;

	for (;;) {
		n = read(c->resfd, c->in + c->inlen, RESBUF);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1)
			die("unable to read results");
		if (n == 0) {
			if (c->inlen != 0 || c->got != c->sent)
				die("child %d: %llu jobs unanswered",
				    (int)c->pid,
				    (unsigned long long)(c->sent - c->got));
			c->done = true;
			return;
		}
		c->inlen += (size_t)n;
		m = c->inlen / FRAME_HDRLEN;
		for (i = 0; i < m; i++) {
			if (rec_get(c->in + i * FRAME_HDRLEN, &id) !=
			    FRAME_RESULT)
				die("bad result frame");
			sum += id;
		}
		c->got += m;
		njobs += m;
		c->inlen -= m * FRAME_HDRLEN;
		memmove(c->in, c->in + m * FRAME_HDRLEN, c->inlen);
		if ((size_t)n < RESBUF)
			return;
	}
}

/*
 * Hand out batches while children have room and their sockets take them;
 * EOF them once the input is done.
 */
static void
pump(void)
{
	struct child	*c;
	int		 i;

	for (i = 0; i < nkids; i++) {
		c = &kids[i];
		/* As many batches as it has room for, while the socket takes
		 * them. */
		for (;;) {
			child_fill(c);
			if (c->outlen == 0 || !child_flush(c))
				break;
		}
		if (in.eof && in.off == in.len && c->outlen == 0 &&
		    !c->closed) {
			close(c->jobfd);
			c->closed = true;
		}
	}
}

static bool
all_done(void)
{
	int	 i;

	for (i = 0; i < nkids; i++)
		if (!kids[i].done)
			return (false);
	return (true);
}

/* The poll(2) loop. */
static void
loop_poll(void)
{
	struct pollfd	 pfd[2 * MAXW];
	int		 i, n;

	while (!all_done()) {
		pump();
		for (i = n = 0; i < nkids; i++) {
			pfd[n].fd = kids[i].done ? -1 : kids[i].resfd;
			pfd[n++].events = POLLIN;
			pfd[n].fd = kids[i].outlen != 0 ? kids[i].jobfd : -1;
			pfd[n++].events = POLLOUT;
		}
		if (poll(pfd, (nfds_t)n, -1) == -1) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		for (i = 0; i < nkids; i++) {
			if (pfd[2 * i].revents != 0)
				child_drain(&kids[i]);
			if (pfd[2 * i + 1].revents != 0)
				(void)child_flush(&kids[i]);
		}
	}
}

#ifdef RAWPIPE_LIBEVENT
static struct event_base *base;

/* After any event: refill, re-arm the write events, stop when done. */
static void
ev_after(void)
{
	int	 i;

	pump();
	for (i = 0; i < nkids; i++)
		if (kids[i].outlen != 0 &&
		    !event_pending(kids[i].ev_job, EV_WRITE, NULL))
			event_add(kids[i].ev_job, NULL);
	if (all_done())
		event_base_loopbreak(base);
}

static void
ev_res_cb(evutil_socket_t fd, short what, void *arg)
{
	struct child	*c = arg;

	(void)fd;
	(void)what;
	child_drain(c);
	if (c->done)
		event_del(c->ev_res);
	ev_after();
}

static void
ev_job_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)child_flush(arg);
	ev_after();
}

/* The libevent loop: a persistent read event per results pipe. */
static void
loop_libevent(void)
{
	int	 i;

	if ((base = event_base_new()) == NULL)
		die("event_base_new");
	for (i = 0; i < nkids; i++) {
		kids[i].ev_res = event_new(base, kids[i].resfd,
		    EV_READ | EV_PERSIST, ev_res_cb, &kids[i]);
		kids[i].ev_job = event_new(base, kids[i].jobfd, EV_WRITE,
		    ev_job_cb, &kids[i]);
		event_add(kids[i].ev_res, NULL);
	}
	ev_after();
	if (!all_done())
		event_base_dispatch(base);
	for (i = 0; i < nkids; i++) {
		event_free(kids[i].ev_res);
		event_free(kids[i].ev_job);
	}
	event_base_free(base);
}
#endif

/* Format an unsigned 128-bit integer in decimal. */
static const char *
u128_str(unsigned __int128 v, char *buf, size_t size)
{
	char	*p = buf + size;

	*--p = '\0';
	do {
		*--p = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v != 0);
	return (p);
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: rawpipe [-e] [-w WORKERS] < input\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	char	 sbuf[48];
	bool	 use_ev = false;
	double	 t0, t;
	int	 ch, i, st;

	while ((ch = getopt(argc, argv, "ew:")) != -1) {
		switch (ch) {
		case 'e':
			use_ev = true;
			break;
		case 'w':
			nkids = atoi(optarg);
			if (nkids < 1 || nkids > MAXW)
				usage();
			break;
		default:
			usage();
		}
	}
#ifndef RAWPIPE_LIBEVENT
	if (use_ev) {
		fprintf(stderr, "rawpipe: built without libevent\n");
		return (2);
	}
#endif
	t0 = now_s();
	if ((in.buf = malloc(2 * RDBUF + 1)) == NULL)
		die("malloc");
	for (i = 0; i < nkids; i++)
		child_start(i);
#ifdef RAWPIPE_LIBEVENT
	if (use_ev)
		loop_libevent();
	else
#endif
		loop_poll();
	for (i = 0; i < nkids; i++) {
		close(kids[i].resfd);
		if (waitpid(kids[i].pid, &st, 0) == -1 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			die("child %d failed", (int)kids[i].pid);
	}
	t = now_s() - t0;
	fprintf(stderr, "rawpipe: %llu jobs in %.3f s (%.0f jobs/s); sum %s\n",
	    (unsigned long long)njobs, t, t > 0 ? njobs / t : 0.0,
	    u128_str(sum, sbuf, sizeof(sbuf)));
	return (0);
}

/*
 * rtt: the daemon round trip for one job, client connected and pool warm
 * (docs/benchmarks.md).  Connects to droverd's control socket, submits to a
 * pool (REQUEST {"op":"submit","pool":P}, then its REPLY), and then, one job
 * at a time, sends a JOB frame and waits for its RESULT, timing each round
 * trip with CLOCK_MONOTONIC.  A warm-up of untimed jobs comes first, so the
 * pool's workers are up and the windows settled.  END and BYE close the
 * session.  The protocol is common/ctl.h; frames use common/frame.h.
 *
 *	usage: rtt -s SOCKET [-p POOL] [-n JOBS] [-W WARMUP]
 *
 * Each job is a small integer and its result must be the square (the pool
 * runs the square handler).  Prints one summary line (see lat.h) named
 * "rtt".
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "frame.h"
#include "lat.h"

#define RBUF	65536

static int	 fd = -1;
static char	 rbuf[RBUF];
static size_t	 rlen;

static void __attribute__((noreturn))
die(const char *what)
{
	if (errno != 0)
		fprintf(stderr, "rtt: %s: %s\n", what, strerror(errno));
	else
		fprintf(stderr, "rtt: %s\n", what);
	exit(1);
}

/* Send one message: header and payload in one write. */
static void
send_msg(uint8_t type, uint64_t id, const char *p, size_t len)
{
	char	 m[FRAME_HDRLEN + 512];
	size_t	 off = 0;
	ssize_t	 n;

	if (len > sizeof(m) - FRAME_HDRLEN)
		die("message too long");
	frame_put(m, type, 0, (uint32_t)len, id);
	memcpy(m + FRAME_HDRLEN, p, len);
	while (off < FRAME_HDRLEN + len) {
		n = write(fd, m + off, FRAME_HDRLEN + len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("unable to write to droverd");
		off += (size_t)n;
	}
}

/* The 16-byte header at p, decoded inline (little-endian). */
static void
hdr_get(const char *p, uint32_t *len, uint8_t *type, uint8_t *status,
    uint64_t *id)
{
	uint32_t	 l;
	uint64_t	 i;

	memcpy(&l, p, 4);
	memcpy(&i, p + 8, 8);
	*len = le32toh(l);
	*type = (uint8_t)p[4];
	*status = (uint8_t)p[5];
	*id = le64toh(i);
}

/*
 * Read one whole message; return its type and fill the rest.  The payload
 * pointer is valid until the next call.
 */
static uint8_t
recv_msg(uint8_t *status, uint64_t *id, const char **p, uint32_t *len)
{
	static size_t	 consumed;
	uint8_t		 type = 0;
	ssize_t		 n;

	memmove(rbuf, rbuf + consumed, rlen - consumed);
	rlen -= consumed;
	consumed = 0;
	for (;;) {
		if (rlen >= FRAME_HDRLEN) {
			hdr_get(rbuf, len, &type, status, id);
			if (*len > RBUF - FRAME_HDRLEN)
				die("message from droverd too long");
			if (rlen >= FRAME_HDRLEN + *len)
				break;
		}
		n = read(fd, rbuf + rlen, RBUF - rlen);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("unable to read from droverd");
		if (n == 0) {
			errno = 0;
			die("droverd closed the connection");
		}
		rlen += (size_t)n;
	}
	*p = rbuf + FRAME_HDRLEN;
	consumed = FRAME_HDRLEN + *len;
	return (type);
}

/* Connect to droverd at path. */
static void
connect_to(const char *path)
{
	struct sockaddr_un	 sun;

	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		die("socket");
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = 0;
		die("socket path too long");
	}
	strcpy(sun.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		die("unable to connect to droverd");
}

/* One job: send it, wait for its result, check the square. */
static void
one_job(uint64_t id, long v)
{
	char		 job[32], want[32];
	const char	*p;
	uint64_t	 rid;
	uint32_t	 len;
	uint8_t		 st, type;
	int		 jl, wl;

	jl = snprintf(job, sizeof(job), "%ld", v);
	wl = snprintf(want, sizeof(want), "%ld", v * v);
	send_msg(CTL_JOB, id, job, (size_t)jl);
	type = recv_msg(&st, &rid, &p, &len);
	errno = 0;
	if (type != CTL_RESULT || rid != id)
		die("unexpected message instead of the job's RESULT");
	if (st != 0 || len != CTL_META_LEN + (uint32_t)wl ||
	    memcmp(p + CTL_META_LEN, want, (size_t)wl) != 0)
		die("job failed or wrong result");
}

int
main(int argc, char **argv)
{
	const char	*sock = NULL, *pool = "square", *p;
	uint64_t	*s, t0, id;
	char		 req[300];
	long		 n = 20000, warm = 2000, i;
	uint32_t	 len;
	uint8_t		 st;
	int		 ch, rl;

	while ((ch = getopt(argc, argv, "s:p:n:W:")) != -1) {
		switch (ch) {
		case 's':
			sock = optarg;
			break;
		case 'p':
			pool = optarg;
			break;
		case 'n':
			n = atol(optarg);
			break;
		case 'W':
			warm = atol(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (sock == NULL || n < 1 || warm < 0 || strlen(pool) > 200)
		goto usage;
	if ((s = calloc((size_t)n, sizeof(*s))) == NULL)
		die("calloc");
	connect_to(sock);
	rl = snprintf(req, sizeof(req), "{\"op\":\"submit\",\"pool\":\"%s\"}",
	    pool);
	send_msg(CTL_REQUEST, CTL_VERSION, req, (size_t)rl);
	errno = 0;
	if (recv_msg(&st, &id, &p, &len) != CTL_REPLY)
		die("no REPLY to the submit request");
	if (memmem(p, len, "\"ok\":true", 9) == NULL) {
		fprintf(stderr, "rtt: submit refused: %.*s\n", (int)len, p);
		return (1);
	}
	for (i = -warm; i < n; i++) {
		t0 = lat_now_ns();
		one_job((uint64_t)(i + warm), 1000 + (i & 1023));
		if (i >= 0)
			s[i] = lat_now_ns() - t0;
	}
	send_msg(CTL_END, 0, NULL, 0);
	errno = 0;
	if (recv_msg(&st, &id, &p, &len) != CTL_BYE)
		die("no BYE after END");
	close(fd);
	lat_report("rtt", s, (size_t)n);
	free(s);
	return (0);
usage:
	fprintf(stderr, "usage: rtt -s SOCKET [-p POOL] [-n JOBS] "
	    "[-W WARMUP]\n");
	return (2);
}

/*
 * unixrtt: the raw Unix-socket round trip, the anchor for drover's daemon
 * round trip (docs/benchmarks.md).  The parent and a forked child
 * ping-pong a 16-byte message over a socketpair; each round trip is timed
 * with CLOCK_MONOTONIC after an untimed warm-up.
 *
 * With -H 2 the message makes two hops each way, as a job does through
 * droverd: parent -> relay child -> echo child -> relay -> parent, over two
 * socketpairs (a raw model of client -> droverd -> worker and back).
 *
 * -a CPU,CPU[,CPU] pins the parent, the first child and the second child
 * each to one CPU (sched_setaffinity), so that every hop crosses CPUs or
 * none does; without it the scheduler places them.
 *
 *	usage: unixrtt [-H HOPS] [-a CPUS] [-n ROUNDTRIPS] [-W WARMUP]
 *
 * Prints one summary line (see lat.h) named "unixrtt" or "unixrtt2".
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lat.h"

#define MSGLEN	16

static int	 cpus[3] = { -1, -1, -1 };	/* -a: parent, child 1, 2 */

static void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, "unixrtt: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Pin the calling process to cpu, if one was given. */
static void
pin(int cpu)
{
	cpu_set_t	 set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) == -1)
		die("sched_setaffinity");
}

/* Read exactly MSGLEN bytes; false at EOF. */
static int
read_msg(int fd, char *m)
{
	size_t	 got = 0;
	ssize_t	 n;

	while (got < MSGLEN) {
		n = read(fd, m + got, MSGLEN - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("read");
		if (n == 0)
			return (0);
		got += (size_t)n;
	}
	return (1);
}

static void
write_msg(int fd, const char *m)
{
	ssize_t	 n;

	do
		n = write(fd, m, MSGLEN);
	while (n == -1 && errno == EINTR);
	if (n != MSGLEN)
		die("write");
}

/* Echo every message on fd until EOF. */
static void __attribute__((noreturn))
echo_main(int fd)
{
	char	 m[MSGLEN];

	while (read_msg(fd, m))
		write_msg(fd, m);
	_exit(0);
}

/* Pass every message from up to down and the answer back, until EOF. */
static void __attribute__((noreturn))
relay_main(int up, int down)
{
	char	 m[MSGLEN];

	while (read_msg(up, m)) {
		write_msg(down, m);
		if (!read_msg(down, m))
			_exit(1);
		write_msg(up, m);
	}
	_exit(0);
}

/* Fork a child running echo (or a relay in front of an echo); our fd back. */
static int
start_chain(int hops, pid_t *pids)
{
	int	 a[2], b[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, a) == -1)
		die("socketpair");
	if (hops == 2 && socketpair(AF_UNIX, SOCK_STREAM, 0, b) == -1)
		die("socketpair");
	if ((pids[0] = fork()) == -1)
		die("fork");
	if (pids[0] == 0) {
		pin(cpus[1]);
		close(a[0]);
		if (hops == 1)
			echo_main(a[1]);
		close(b[0]);
		relay_main(a[1], b[1]);
	}
	close(a[1]);
	if (hops == 2) {
		if ((pids[1] = fork()) == -1)
			die("fork");
		if (pids[1] == 0) {
			pin(cpus[2]);
			close(a[0]);
			close(b[1]);
			echo_main(b[0]);
		}
		close(b[0]);
		close(b[1]);
	}
	return (a[0]);
}

int
main(int argc, char **argv)
{
	pid_t		 pids[2] = { -1, -1 };
	uint64_t	*s, t0;
	char		 m[MSGLEN];
	long		 n = 20000, warm = 2000, i;
	int		 hops = 1, ch, fd, k;

	while ((ch = getopt(argc, argv, "a:H:n:W:")) != -1) {
		switch (ch) {
		case 'a':
			if (sscanf(optarg, "%d,%d,%d", &cpus[0], &cpus[1],
			    &cpus[2]) < 2)
				goto usage;
			break;
		case 'H':
			hops = atoi(optarg);
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
	if (hops < 1 || hops > 2 || n < 1 || warm < 0)
		goto usage;
	if ((s = calloc((size_t)n, sizeof(*s))) == NULL)
		die("calloc");
	pin(cpus[0]);
	fd = start_chain(hops, pids);
	memset(m, 'x', sizeof(m));
	for (i = -warm; i < n; i++) {
		t0 = lat_now_ns();
		write_msg(fd, m);
		if (!read_msg(fd, m)) {
			errno = EPIPE;
			die("the echo child went away");
		}
		if (i >= 0)
			s[i] = lat_now_ns() - t0;
	}
	close(fd);
	for (k = 0; k < hops; k++)
		(void)waitpid(pids[k], NULL, 0);
	lat_report(hops == 1 ? "unixrtt" : "unixrtt2", s, (size_t)n);
	free(s);
	return (0);
usage:
	fprintf(stderr, "usage: unixrtt [-H 1|2] [-a CPU,CPU[,CPU]] "
	    "[-n ROUNDTRIPS] [-W WARMUP]\n");
	return (2);
}

/*
 * libFuzzer target: the control protocol as `drover submit` reads it,
 * droverd's REPLY, RESULTs and BYE, through cli/client.c for real.
 *
 * Its readers (submit_read_cb(), submit_reply(), submit_result(),
 * submit_bye()) are static and run inside submit_main()'s event loop, so
 * each input runs a whole `drover submit --pool p --socket S --input F`:
 * a thread of the harness plays droverd on S (a socket in a private
 * directory), accepts the connection, writes the input in pieces, closes
 * its writing half and reads whatever the client sends until it hangs
 * up.  The jobs come from a small file (0 to 7 lines); the results go
 * through the real report (cli/report.c: text or --json, --ordered,
 * --tag, --halt, --joblog) to /dev/null and a file.  submit_main()
 * must return an exit status, whatever droverd says: no crash, no exit(),
 * no leak, no hang (libFuzzer's -timeout).
 *
 * Input: byte 0, the options (bits 0-2: the number of jobs; 3: --json;
 * 4: --ordered; 5: --tag; 6: --halt now,fail=1; 7: --joblog); byte 1,
 * the seed of the write sizes (bits 1-6) and --quiet (bit 7); the rest,
 * what droverd sends.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	 fz_dir[64];
static char	 fz_sock[96];
static char	 fz_jobs[8][96];
static char	 fz_joblog[96];
static int	 fz_lfd = -1;

struct fz_server {
	const uint8_t	*data;
	size_t		 size;
	uint32_t	 seed;
	volatile int	 accepted;
};

static void
fz_cleanup(void)
{
	int	 i;

	if (fz_lfd != -1)
		close(fz_lfd);
	(void)unlink(fz_sock);
	for (i = 0; i < 8; i++)
		(void)unlink(fz_jobs[i]);
	(void)unlink(fz_joblog);
	(void)rmdir(fz_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const jobs[8] = {
		"1", "2", "x", "", "!fail", "\xff\xfe", "4 5", "999999999999"
	};
	struct sockaddr_un sun;
	const char	*tmp = getenv("TMPDIR");
	FILE		*f;
	int		 i, k, null;

	(void)argc;
	(void)argv;
	log_init("drover", LOG_STYLE_CLI, LOG_CRIT);
	signal(SIGPIPE, SIG_IGN);
	snprintf(fz_dir, sizeof(fz_dir), "%s/fuzz_cli.XXXXXX",
	    tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
	if (mkdtemp(fz_dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	atexit(fz_cleanup);
	for (i = 0; i < 8; i++) {
		snprintf(fz_jobs[i], sizeof(fz_jobs[i]), "%s/jobs%d", fz_dir,
		    i);
		if ((f = fopen(fz_jobs[i], "w")) == NULL)
			abort();
		for (k = 0; k < i; k++)
			fprintf(f, "%s\n", jobs[k]);
		fclose(f);
	}
	snprintf(fz_joblog, sizeof(fz_joblog), "%s/joblog", fz_dir);
	snprintf(fz_sock, sizeof(fz_sock), "%s/droverd.sock", fz_dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", fz_sock);
	if ((fz_lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fz_lfd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(fz_lfd, 8) == -1) {
		perror(fz_sock);
		abort();
	}
	/* The report goes to stdout; libFuzzer talks on stderr. */
	if ((null = open("/dev/null", O_WRONLY)) == -1 ||
	    dup2(null, STDOUT_FILENO) == -1)
		abort();
	close(null);
	return (0);
}

/* droverd: send the input in pieces, then read until the client leaves. */
static void *
fz_server(void *arg)
{
	struct fz_server *s = arg;
	char		 sink[65536];
	size_t		 off = 0, n;
	ssize_t		 w;
	int		 fd;

	if ((fd = accept(fz_lfd, NULL, NULL)) == -1) {
		perror("accept");
		abort();
	}
	s->accepted = 1;
	while (off < s->size) {
		s->seed = s->seed * 1103515245U + 12345U;
		n = (s->seed >> 16) % 8 == 0 ? s->size - off :
		    1 + (s->seed >> 16) % 64;
		if (n > s->size - off)
			n = s->size - off;
		if ((w = send(fd, s->data + off, n, MSG_NOSIGNAL)) <= 0)
			break;		/* the client hung up */
		off += (size_t)w;
	}
	(void)shutdown(fd, SHUT_WR);
	while (read(fd, sink, sizeof(sink)) > 0)
		;
	close(fd);
	return (NULL);
}

/* Connect and hang up, so that a server still in accept() goes on. */
static void
fz_unblock(void)
{
	struct sockaddr_un sun;
	int		 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", fz_sock);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		perror("fz_unblock");
		abort();
	}
	close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_server s;
	pthread_t	 th;
	char		*argv[20];
	int		 argc = 0, rv;
	unsigned	 m;

	if (size < 2)
		return (0);
	m = data[0];
	s.seed = (data[1] & 0x7fU) | 1U;
	s.data = data + 2;
	s.size = size - 2;

	argv[argc++] = "submit";
	argv[argc++] = "--pool";
	argv[argc++] = "p";
	argv[argc++] = "--socket";
	argv[argc++] = fz_sock;
	argv[argc++] = "--input";
	argv[argc++] = fz_jobs[m & 7];
	argv[argc++] = "--no-progress";
	if (data[1] & 0x80)
		argv[argc++] = "--quiet";
	if (m & 0x08)
		argv[argc++] = "--json";
	if (m & 0x10)
		argv[argc++] = "--ordered";
	if (m & 0x20)
		argv[argc++] = "--tag";
	if (m & 0x40) {
		argv[argc++] = "--halt";
		argv[argc++] = "now,fail=1";
	}
	if (m & 0x80) {
		argv[argc++] = "--joblog";
		argv[argc++] = fz_joblog;
	}
	argv[argc] = NULL;

	s.accepted = 0;
	if (pthread_create(&th, NULL, fz_server, &s) != 0)
		abort();
	rv = submit_main(argc, argv);
	if (!s.accepted)
		fz_unblock();	/* it never connected */
	pthread_join(th, NULL);
	if (rv < 0 || rv > 255) {
		fprintf(stderr, "submit_main returned %d\n", rv);
		abort();
	}
	return (0);
}

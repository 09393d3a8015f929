/*
 * tw: a test worker that misbehaves on purpose.  It squares integers like
 * drover-worker, in whichever protocol DROVER_PROTOCOL names (via libdw),
 * and then does what its mode says:
 *
 *	tw square		behave
 *	tw pid			answer with its pid instead of the square
 *	tw crash-pct P		SIGKILL itself before answering P% of jobs
 *	tw crash-nth N		SIGKILL itself on its Nth job
 *	tw crash-on V		SIGKILL itself on the job whose value is V
 *	tw eof-exit-on V	on job V, close stdout, then exit 3 0.2 s
 *				later: EOF comes before the exit status
 *	tw held-exit-on V	on job V, fork a child that holds stdout,
 *				then exit 3: the exit status comes before
 *				EOF (which waits for the child's death)
 *	tw hang-on V		hang forever on the job whose value is V
 *	tw junk-on V		write junk bytes instead of answering job V
 *	tw extra-on V		answer job V twice (line: an extra line;
 *				tagged, frame: its id twice)
 *	tw exit-at-start	print "boom: cannot start" on stderr, exit 1
 *	tw exit125		print a usage error, exit 125 (do not respawn)
 *	tw close-stdout		close stdout after the first job, then hang
 *	tw leak KB		leak KB KiB of touched memory per job
 *	tw stderr-flood N	write N lines to stderr per job
 *	tw slow-start MS	sleep MS milliseconds before the first job
 *	tw stamp		answer "PID NS", NS the CLOCK_MONOTONIC of
 *				the job's arrival
 *	tw fds			answer with its open fds, e.g. "0,1,2"
 *	tw fork-child		on the first job, fork a child that sleeps
 *				forever holding stdout, then go on answering
 *	tw escape-hang-on V	on job V, leave its process group for its
 *				parent's, then hang
 *	tw echo			answer each job with itself, as text (a
 *				version 1 worker)
 *	tw echo-typed		the same as a number (result-typed): an
 *				integer of up to 128 bits or a double in
 *				binary, anything else as text
 *	tw echo-batch		echo-typed, with job-batch and result-batch
 *	tw echo-batch-cwd	echo-batch, asking job-cwd too
 *	tw echo-batch-badtag	echo-batch, but the job "bad" is answered
 *				with a batched RESULT for a tag not held
 */
#include <dirent.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drover/worker.h"
#include "num.h"

static void
sleep_ms(long ms)
{
	struct timespec	 ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void __attribute__((noreturn))
die_now(struct dw *dw)
{
	dw_flush(dw);
	kill(getpid(), SIGKILL);
	for (;;)
		pause();
}

/*
 * echo and echo-typed: each job's bytes back, as text, or as the number
 * they read as (typed results), so that a test can check that the two
 * print and sum alike.
 */
static int
echo(const char *mode)
{
	struct dw	*dw;
	struct dw_job	 job;
	i128		 iv;
	double		 dv;
	int		 rv;
	bool		 typed = strcmp(mode, "echo") != 0;
	bool		 badtag = strcmp(mode, "echo-batch-badtag") == 0;
	uint32_t	 caps = DW_CAP_RESULT_TYPED;
	char		 bad[24];

	if (strncmp(mode, "echo-batch", 10) == 0)
		caps |= DW_CAP_JOB_BATCH | DW_CAP_RESULT_BATCH;
	if (strcmp(mode, "echo-batch-cwd") == 0)
		caps |= DW_CAP_JOB_CWD;
	if ((dw = typed ? dw_open_caps("tw echo-typed", caps) :
	    dw_open("tw echo")) == NULL)
		return (DW_EXIT_NORESPAWN);
	while ((rv = dw_next(dw, &job)) == 1) {
		if (badtag && job.len == 3 && memcmp(job.data, "bad", 3) == 0) {
			dw_flush(dw);
			memset(bad, 0, sizeof(bad));
			bad[0] = 8;		/* len */
			bad[4] = 3;		/* RESULT */
			bad[6] = 0x50;		/* batch | int */
			bad[8] = (char)(job.tag + 1000);
			if (write(STDOUT_FILENO, bad, sizeof(bad)) == -1)
				return (1);
			continue;
		}
		if (typed && num_parse_i128(job.data, job.len, &iv) == 0)
			dw_reply_int128(dw, &job, iv);
		else if (typed && num_parse_double(job.data, job.len, &dv) ==
		    0)
			dw_reply_double(dw, &job, dv);
		else
			dw_reply(dw, &job, job.data, job.len);
	}
	dw_close(dw);
	return (rv == -1 ? 1 : 0);
}

int
main(int argc, char **argv)
{
	const char	*mode = argc > 1 ? argv[1] : "square";
	long		 arg = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
	struct dw	*dw;
	struct dw_job	 job;
	char		 out[64];
	int64_t		 v;
	uint64_t	 n = 0;
	int		 rv;
	size_t		 len;

	if (strcmp(mode, "exit-at-start") == 0) {
		fprintf(stderr, "boom: cannot start\n");
		return (1);
	}
	if (strcmp(mode, "exit125") == 0) {
		fprintf(stderr, "tw: bad configuration\n");
		return (DW_EXIT_NORESPAWN);
	}
	if (strcmp(mode, "slow-start") == 0)
		sleep_ms(arg);
	if (strncmp(mode, "echo", 4) == 0)
		return (echo(mode));
	srandom((unsigned)getpid() ^ (unsigned)time(NULL));
	if ((dw = dw_open("tw")) == NULL)
		return (DW_EXIT_NORESPAWN);
	while ((rv = dw_next(dw, &job)) == 1) {
		n++;
		if (num_parse_i64(job.data, job.len, &v) == -1) {
			dw_fail(dw, &job, "not an integer");
			continue;
		}
		if (strcmp(mode, "crash-pct") == 0 && random() % 10000 <
		    arg * 100)
			die_now(dw);
		if (strcmp(mode, "crash-nth") == 0 && n == (uint64_t)arg)
			die_now(dw);
		if (strcmp(mode, "crash-on") == 0 && v == arg)
			die_now(dw);
		if (strcmp(mode, "eof-exit-on") == 0 && v == arg) {
			dw_flush(dw);
			close(STDOUT_FILENO);
			sleep_ms(200);
			_exit(3);
		}
		if (strcmp(mode, "held-exit-on") == 0 && v == arg) {
			dw_flush(dw);
			if (fork() == 0)
				for (;;)
					pause();
			_exit(3);
		}
		if (strcmp(mode, "fork-child") == 0 && n == 1 && fork() == 0)
			for (;;)
				pause();
		if (strcmp(mode, "escape-hang-on") == 0 && v == arg) {
			dw_flush(dw);
			(void)setpgid(0, getpgid(getppid()));
			for (;;)
				pause();
		}
		if (strcmp(mode, "hang-on") == 0 && v == arg) {
			dw_flush(dw);
			for (;;)
				pause();
		}
		if (strcmp(mode, "junk-on") == 0 && v == arg) {
			dw_flush(dw);
			static const char junk[] =
			    "\xff\xfe garbage \x01\x02\x03 not a frame\n"
			    "\xff\xfe more garbage\n";

			len = (size_t)write(STDOUT_FILENO, junk,
			    sizeof(junk) - 1);
			(void)len;
			continue;
		}
		if (strcmp(mode, "leak") == 0) {
			char *p = malloc((size_t)arg * 1024);
			if (p != NULL)
				memset(p, 1, (size_t)arg * 1024);
		}
		if (strcmp(mode, "stderr-flood") == 0) {
			for (long i = 0; i < arg; i++)
				fprintf(stderr, "tw: noise line %ld of job "
				    "%lld\n", i, (long long)v);
		}
		if (strcmp(mode, "pid") == 0)
			len = (size_t)snprintf(out, sizeof(out), "%d",
			    (int)getpid());
		else if (strcmp(mode, "fds") == 0) {
			DIR		*d = opendir("/proc/self/fd");
			struct dirent	*de;
			int		 k;

			len = 0;
			while (d != NULL && (de = readdir(d)) != NULL) {
				if (de->d_name[0] == '.' ||
				    atoi(de->d_name) == dirfd(d))
					continue;
				k = snprintf(out + len, sizeof(out) - len,
				    "%s%s", len ? "," : "", de->d_name);
				if (k > 0 && len + (size_t)k < sizeof(out))
					len += (size_t)k;
			}
			if (d != NULL)
				closedir(d);
		} else if (strcmp(mode, "stamp") == 0) {
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			len = (size_t)snprintf(out, sizeof(out), "%d %lld",
			    (int)getpid(), (long long)ts.tv_sec * 1000000000LL +
			    ts.tv_nsec);
		}
		else
			len = num_fmt_i128(out, (i128)v * v);
		dw_reply(dw, &job, out, len);
		if (strcmp(mode, "extra-on") == 0 && v == arg)
			dw_reply(dw, &job, out, len);
		dw_flush(dw);
		if (strcmp(mode, "close-stdout") == 0 && n == 1) {
			close(STDOUT_FILENO);
			for (;;)
				pause();
		}
	}
	dw_close(dw);
	return (rv == -1 ? 1 : 0);
}

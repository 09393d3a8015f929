/*
 * drover run --dry-run: print the command each job would run, one per line,
 * and run nothing.  The template is expanded by the code the exec handler
 * uses (common/shell.c), so what is printed is what would run: the string
 * given to /bin/sh -c, or the words shell-quoted.  No worker is started;
 * {%} is the slot a round-robin over the workers would give (job id modulo
 * -w, plus 1), {#} the job's id plus 1.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "log.h"
#include "lsplit.h"
#include "opts.h"
#include "shell.h"

/* Write all of b to stdout; exit as a filter does when its reader is gone. */
static void
dryrun_write(struct buf *b)
{
	ssize_t	 n;

	while (buf_len(b) != 0) {
		n = buf_write(b, STDOUT_FILENO);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EPIPE)
			cli_exit_sigpipe();
		if (n <= 0)
			fatal("write to stdout");
	}
	buf_reset(b);
}

/*
 * Read jobs from fd (records ending in delim, at most max bytes) and print
 * the command of each.  The exit status: 0, 1 when some job could not run
 * (too long, a NUL byte), 2 for a template that cannot be split.
 */
int
dryrun(const char *tmpl, unsigned workers, int fd, int delim, size_t max)
{
	struct shell_cmd	 c;
	struct shell_job	 sj;
	struct lsplit		 ls;
	struct buf		 in, out;
	enum lsplit_result	 r;
	const char		*rec;
	uint64_t		 len, id = 0;
	char			 err[128];
	bool			 eof = false;
	ssize_t			 n;
	int			 status = 0;

	if (shell_cmd_init(&c, tmpl, err, sizeof(err)) == -1) {
		log_warnx("--exec: %s: %s", err, tmpl);
		return (2);
	}
	lsplit_init(&ls, delim, max);
	buf_init(&in);
	buf_init(&out);
	for (;;) {
		r = lsplit_next(&ls, &in, eof, &rec, &len);
		if (r == LS_END)
			break;
		if (r == LS_NEED) {
			n = buf_read(&in, fd, 256 * 1024);
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1)
				fatal("read");
			eof = n == 0;
			continue;
		}
		if (r == LS_TOOLONG) {
			log_warnx("job %llu rejected: job is %llu bytes, over "
			    "--max-job-bytes %zu", (unsigned long long)id,
			    (unsigned long long)len, max);
			status = 1;
		} else if (memchr(rec, '\0', (size_t)len) != NULL) {
			log_warnx("job %llu failed: job contains a NUL byte",
			    (unsigned long long)id);
			status = 1;
		} else {
			sj.data = rec;
			sj.len = (size_t)len;
			sj.seq = id + 1;
			sj.slot = (unsigned)(id % workers) + 1;
			shell_cmd_line(&out, &c, &sj);
			buf_addc(&out, '\n');
			if (buf_len(&out) >= 64 * 1024)
				dryrun_write(&out);
		}
		id++;
	}
	dryrun_write(&out);
	buf_free(&in);
	buf_free(&out);
	shell_cmd_clear(&c);
	return (status);
}

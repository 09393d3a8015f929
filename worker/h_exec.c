/*
 * exec: run a command per job.  GNU parallel's replacement strings in the
 * command ({} the job, {.} {/} {//} {/.} parts of it as a path, {#} its
 * sequence number, {%} our worker slot; common/shell.c) are replaced for
 * each job; with none, the job (plus a newline) is the command's stdin.
 * The command's stdout, less one trailing newline, is the output; a
 * non-zero exit or a signal fails the job.
 *
 * A command made only of words and quotes runs directly with posix_spawnp()
 * (the replacements substituted as raw bytes into the words, no quoting
 * needed); any shell syntax (pipes, redirections, $, globs, ...) sends it to
 * /bin/sh -c with each replacement single-quoted.  Commands stay in the
 * worker's process group, so a timeout's SIGKILL to the group takes them
 * along.
 *
 * We ask for three capabilities of the frame protocol (docs/protocol.md):
 * job-meta, for {#}, result-stderr and result-output.  Under result-stderr
 * the command's stderr is captured: a failed job's goes back with its
 * RESULT (the first max-result bytes of it; the rest, like all of an ok
 * job's, is copied to our stderr, which the supervisor logs).  Without it,
 * the command's stderr is ours.  Under result-output a failed command's
 * stdout (less one trailing newline) goes back with the reason.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "handlers.h"
#include "shell.h"
#include "xmalloc.h"

#define EXEC_MAX_OUTPUT	(16 * 1024 * 1024)

extern char **environ;

static const char	 exec_toolong[] = "output over the limit";
static struct shell_cmd	 exec_cmd;
static unsigned		 exec_slot = 1;	/* {%}: DROVER_WORKER_ID */

static int
exec_init(int argc, char **argv)
{
	const char	*id;
	char		 err[128];

	if (argc != 1 || argv[0][0] == '\0')
		return (-1);
	if (shell_cmd_init(&exec_cmd, argv[0], err, sizeof(err)) == -1) {
		fprintf(stderr, "drover-worker: exec: %s: %s\n", err, argv[0]);
		return (-1);
	}
	if ((id = getenv("DROVER_WORKER_ID")) != NULL && *id >= '1' &&
	    *id <= '9' && strlen(id) < 10)
		exec_slot = (unsigned)strtoul(id, NULL, 10);
	return (0);
}

/* One pipe the command writes (stdout or stderr) and what we keep of it. */
struct exec_sink {
	int		 fd;
	struct buf	 b;
	size_t		 max;		/* kept at most */
	bool		 pass;		/* past max: copy to our stderr */
};

/*
 * Read what is there from s; past s->max, copy to our stderr (pass) or
 * fail.  -1 with *why set when the output is over its limit.
 */
static int
exec_sink_read(struct exec_sink *s, const char **why)
{
	char	 tmp[65536];
	ssize_t	 n;
	size_t	 keep;

	n = read(s->fd, tmp, sizeof(tmp));
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return (0);
	if (n <= 0) {
		close(s->fd);
		s->fd = -1;
		return (0);
	}
	keep = buf_len(&s->b) >= s->max ? 0 : s->max - buf_len(&s->b);
	if (keep > (size_t)n)
		keep = (size_t)n;
	buf_add(&s->b, tmp, keep);
	if (keep == (size_t)n)
		return (0);
	if (!s->pass) {
		*why = exec_toolong;
		return (-1);
	}
	(void)write(STDERR_FILENO, tmp + keep, (size_t)n - keep);
	return (0);
}

/*
 * Feed the job to the child's stdin (if any) while collecting its stdout
 * and stderr (when captured), so that neither side can fill a pipe and
 * wait for the other.
 */
static int
exec_io(int in, struct exec_sink *out, struct exec_sink *err,
    const char *job, size_t len, const char **why)
{
	struct pollfd	 pfd[3];
	struct exec_sink *sink[3];
	size_t		 off = 0;
	ssize_t		 n;
	int		 nfd, i, iin, rv = 0;

	while (rv == 0 && (out->fd != -1 || err->fd != -1)) {
		nfd = 0;
		iin = -1;
		if (out->fd != -1) {
			sink[nfd] = out;
			pfd[nfd].fd = out->fd;
			pfd[nfd++].events = POLLIN;
		}
		if (err->fd != -1) {
			sink[nfd] = err;
			pfd[nfd].fd = err->fd;
			pfd[nfd++].events = POLLIN;
		}
		if (in != -1) {
			iin = nfd;
			pfd[nfd].fd = in;
			pfd[nfd++].events = POLLOUT;
		}
		if (poll(pfd, (nfds_t)nfd, -1) == -1) {
			if (errno == EINTR)
				continue;
			*why = strerror(errno);
			rv = -1;
			break;
		}
		if (iin != -1 && pfd[iin].revents != 0) {
			n = write(in, job + off, len - off);
			if (n > 0)
				off += (size_t)n;
			if (n == -1 && errno != EINTR && errno != EAGAIN)
				off = len;	/* EPIPE: it stopped reading */
			if (off == len) {
				close(in);
				in = -1;
			}
		}
		for (i = 0; i < nfd && rv == 0; i++)
			if (i != iin && pfd[i].revents != 0)
				rv = exec_sink_read(sink[i], why);
	}
	if (in != -1)
		close(in);
	if (out->fd != -1)
		close(out->fd);
	if (err->fd != -1)
		close(err->fd);
	return (rv);
}

/*
 * Spawn argv with the given stdin/stdout/stderr, default signals, in cwd
 * when it is not NULL (job-cwd: the submitting client's directory).
 */
static int
exec_spawn(char **argv, const char *cwd, int in, int out, int err,
    pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t	 at;
	sigset_t		 def, none;
	int			 rv;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out, STDOUT_FILENO);
	if (err != -1)
		posix_spawn_file_actions_adddup2(&fa, err, STDERR_FILENO);
	if (cwd != NULL)
		posix_spawn_file_actions_addchdir_np(&fa, cwd);
	posix_spawnattr_init(&at);
	sigfillset(&def);
	sigdelset(&def, SIGKILL);
	sigdelset(&def, SIGSTOP);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF |
	    POSIX_SPAWN_SETSIGMASK);
	if (exec_cmd.shell)
		rv = posix_spawn(pid, argv[0], &fa, &at, argv, environ);
	else
		rv = posix_spawnp(pid, argv[0], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return (rv);
}

/*
 * Fail the job with a reason, the stderr we kept (if any) and outlen bytes
 * of the command's stdout.
 */
static void
exec_fail(struct dw *dw, const struct dw_job *job, struct exec_sink *err,
    struct exec_sink *out, size_t outlen, const char *fmt, ...)
{
	struct dw_result res;
	char		 reason[1024];
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	memset(&res, 0, sizeof(res));
	res.fail = true;
	res.data = reason;
	res.len = strlen(reason);
	res.err = buf_len(&err->b) ? buf_data(&err->b) : "";
	res.errlen = buf_len(&err->b);
	res.out = outlen ? buf_data(&out->b) : "";
	res.outlen = outlen;
	dw_result(dw, job, &res);
}

/* How much of stdout and stderr a result may carry (max-result). */
static size_t
exec_limit(const struct dw *dw)
{
	uint64_t	 m = dw_max_result(dw);

	return (m != 0 && m < EXEC_MAX_OUTPUT ? (size_t)m : EXEC_MAX_OUTPUT);
}

static void
exec_run(struct dw *dw, const struct dw_job *job)
{
	struct shell_job  sj = { job->data, job->len, job->seq + 1, exec_slot };
	struct exec_sink  out, err;
	char		**argv, *input = NULL;
	int		  pin[2] = { -1, -1 }, pout[2] = { -1, -1 };
	int		  perr[2] = { -1, -1 }, rv, st;
	pid_t		  pid;
	const char	 *why = NULL;
	size_t		  inlen = 0, n;
	bool		  capture = dw_caps(dw) & DW_CAP_RESULT_STDERR;

	memset(&out, 0, sizeof(out));
	memset(&err, 0, sizeof(err));
	out.fd = err.fd = -1;
	if (memchr(job->data, '\0', job->len) != NULL) {
		dw_fail(dw, job, "job contains a NUL byte");
		return;
	}
	if (exec_cmd.seq && job->attempt == 0) {
		dw_fail(dw, job, "{#} needs the frame protocol's job-meta "
		    "(docs/protocol.md)");
		return;
	}
	if (exec_cmd.on_stdin) {
		inlen = job->len + 1;
		input = xmalloc(inlen);
		memcpy(input, job->data, job->len);
		input[job->len] = '\n';
		if (pipe2(pin, O_CLOEXEC) == -1)
			goto syserr;
	} else if ((pin[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		goto syserr;
	if (pipe2(pout, O_CLOEXEC) == -1)
		goto syserr;
	if (capture && pipe2(perr, O_CLOEXEC) == -1)
		goto syserr;

	argv = shell_cmd_argv(&exec_cmd, &sj);
	rv = exec_spawn(argv, job->cwd, pin[0], pout[1], perr[1], &pid);
	close(pin[0]);
	close(pout[1]);
	if (perr[1] != -1)
		close(perr[1]);
	out.fd = pout[0];
	err.fd = perr[0];
	if (rv != 0 && job->cwd != NULL && access(job->cwd, X_OK) == -1)
		dw_failf(dw, job, "unable to run %s in %s: %s", argv[0],
		    job->cwd, strerror(errno));
	else if (rv != 0)
		dw_failf(dw, job, "unable to run %s: %s", argv[0],
		    strerror(rv));
	if (rv != 0) {
		shell_argv_free(argv);
		if (pin[1] != -1)
			close(pin[1]);
		close(out.fd);
		if (err.fd != -1)
			close(err.fd);
		free(input);
		return;
	}
	shell_argv_free(argv);

	buf_init(&out.b);
	buf_init(&err.b);
	out.max = exec_limit(dw) + 1;	/* and one trailing newline */
	err.max = exec_limit(dw);
	err.pass = true;
	rv = exec_io(pin[1], &out, &err, input, inlen, &why);
	if (rv == -1)
		kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	n = buf_len(&out.b);
	if (n > 0 && buf_data(&out.b)[n - 1] == '\n')
		n--;
	if (rv == 0 && n > exec_limit(dw)) {
		rv = -1;
		why = exec_toolong;
	}
	if (rv == -1 && why == exec_toolong)
		exec_fail(dw, job, &err, &out, 0, "output over %zu bytes",
		    exec_limit(dw));
	else if (rv == -1)
		exec_fail(dw, job, &err, &out, 0, "%s", why);
	else if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
		exec_fail(dw, job, &err, &out, n, "exit status %d",
		    WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		exec_fail(dw, job, &err, &out, n, "killed by signal %d (SIG%s)",
		    WTERMSIG(st), sigabbrev_np(WTERMSIG(st)) ?
		    sigabbrev_np(WTERMSIG(st)) : "?");
	else {
		if (buf_len(&err.b) != 0)	/* ok: logged, as without us */
			(void)write(STDERR_FILENO, buf_data(&err.b),
			    buf_len(&err.b));
		dw_reply(dw, job, n ? buf_data(&out.b) : "", n);
	}
	buf_free(&out.b);
	buf_free(&err.b);
	free(input);
	return;

syserr:
	dw_failf(dw, job, "unable to run the command: %s", strerror(errno));
	if (pin[0] != -1)
		close(pin[0]);
	if (pin[1] != -1)
		close(pin[1]);
	if (pout[0] != -1) {
		close(pout[0]);
		close(pout[1]);
	}
	free(input);
}

const struct handler handler_exec = {
	.name = "exec",
	.usage = "exec 'COMMAND [ARGS...]'  ({} {.} {/} {//} {/.} {#} {%}; "
	    "else the job on stdin)",
	.init = exec_init,
	.run = exec_run,
	.flush = true,
	.caps = DW_CAP_JOB_META | DW_CAP_RESULT_STDERR | DW_CAP_RESULT_OUTPUT |
	    DW_CAP_JOB_CWD,
};

/*
 * exec: run a command per job.  `{}` in the command is replaced by the job;
 * with no `{}`, the job (plus a newline) is the command's stdin.  The
 * command's stdout, less one trailing newline, is the output; a non-zero
 * exit or a signal fails the job.  Its stderr is the worker's, which the
 * supervisor logs.
 *
 * A command made only of words and quotes runs directly with posix_spawnp()
 * (the job substituted as raw bytes into the words, no quoting needed); any
 * shell syntax (pipes, redirections, $, globs, ...) sends it to /bin/sh -c
 * with the job single-quoted.  Commands stay in the worker's process group,
 * so a timeout's SIGKILL to the group takes them along.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
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

static const char	 *exec_tmpl;
static char		**exec_words;	/* direct mode: the split command */
static bool		  exec_shell;	/* needs /bin/sh -c */
static bool		  exec_stdin;	/* no {}: the job goes to stdin */

static int
exec_init(int argc, char **argv)
{
	char	 err[128];

	if (argc != 1 || argv[0][0] == '\0')
		return (-1);
	exec_tmpl = argv[0];
	exec_stdin = !shell_has_placeholder(exec_tmpl);
	exec_shell = shell_needed(exec_tmpl);
	if (!exec_shell &&
	    (exec_words = shell_split(exec_tmpl, err, sizeof(err))) == NULL) {
		fprintf(stderr, "drover-worker: exec: %s: %s\n", err,
		    exec_tmpl);
		return (-1);
	}
	return (0);
}

/* Replace every {} in word with the raw job. */
static char *
exec_subst(const char *word, const char *job, size_t len)
{
	struct buf	 b;
	const char	*p = word, *q;
	char		*s;

	buf_init(&b);
	while ((q = strstr(p, "{}")) != NULL) {
		buf_add(&b, p, (size_t)(q - p));
		buf_add(&b, job, len);
		p = q + 2;
	}
	buf_adds(&b, p);
	buf_addc(&b, '\0');
	s = xstrdup(buf_data(&b));
	buf_free(&b);
	return (s);
}

/* The argv for one job (freed with shell_argv_free). */
static char **
exec_argv(const char *job, size_t len)
{
	char		**argv;
	struct buf	  cmd;
	size_t		  n, i;

	if (exec_shell) {
		buf_init(&cmd);
		if (exec_stdin)
			buf_adds(&cmd, exec_tmpl);
		else
			shell_expand(&cmd, exec_tmpl, job, len);
		buf_addc(&cmd, '\0');
		argv = xcalloc(4, sizeof(*argv));
		argv[0] = xstrdup("/bin/sh");
		argv[1] = xstrdup("-c");
		argv[2] = xstrdup(buf_data(&cmd));
		buf_free(&cmd);
		return (argv);
	}
	for (n = 0; exec_words[n] != NULL; n++)
		;
	argv = xcalloc(n + 1, sizeof(*argv));
	for (i = 0; i < n; i++)
		argv[i] = exec_subst(exec_words[i], job, len);
	return (argv);
}

/*
 * Feed the job to the child's stdin (if any) while collecting its stdout,
 * so that neither side can fill a pipe and wait for the other.
 */
static int
exec_io(int in, int out, const char *job, size_t len, struct buf *o,
    const char **why)
{
	struct pollfd	 pfd[2];
	size_t		 off = 0;
	ssize_t		 n;
	int		 nfd;

	while (out != -1) {
		nfd = 0;
		pfd[nfd].fd = out;
		pfd[nfd++].events = POLLIN;
		if (in != -1) {
			pfd[nfd].fd = in;
			pfd[nfd++].events = POLLOUT;
		}
		if (poll(pfd, (nfds_t)nfd, -1) == -1) {
			if (errno == EINTR)
				continue;
			*why = strerror(errno);
			return (-1);
		}
		if (in != -1 && pfd[1].revents != 0) {
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
		if (pfd[0].revents != 0) {
			n = read(out, buf_reserve(o, 65536), 65536);
			if (n > 0) {
				buf_commit(o, (size_t)n);
				if (buf_len(o) > EXEC_MAX_OUTPUT) {
					*why = "output over 16 MiB";
					close(out);
					if (in != -1)
						close(in);
					return (-1);
				}
			} else if (n == 0 || (errno != EINTR &&
			    errno != EAGAIN)) {
				close(out);
				out = -1;
			}
		}
	}
	if (in != -1)
		close(in);
	return (0);
}

/* Spawn argv with the given stdin/stdout, default signals, same group. */
static int
exec_spawn(char **argv, int in, int out, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t	 at;
	sigset_t		 def, none;
	int			 rv;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out, STDOUT_FILENO);
	posix_spawnattr_init(&at);
	sigfillset(&def);
	sigdelset(&def, SIGKILL);
	sigdelset(&def, SIGSTOP);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF |
	    POSIX_SPAWN_SETSIGMASK);
	if (exec_shell)
		rv = posix_spawn(pid, argv[0], &fa, &at, argv, environ);
	else
		rv = posix_spawnp(pid, argv[0], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return (rv);
}

static void
exec_run(struct dw *dw, const struct dw_job *job)
{
	char		**argv, *input = NULL;
	int		  pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, rv, st;
	pid_t		  pid;
	struct buf	  out;
	const char	 *why = NULL;
	size_t		  inlen = 0;

	if (memchr(job->data, '\0', job->len) != NULL) {
		dw_fail(dw, job, "job contains a NUL byte");
		return;
	}
	if (exec_stdin) {
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

	argv = exec_argv(job->data, job->len);
	rv = exec_spawn(argv, pin[0], pout[1], &pid);
	close(pin[0]);
	close(pout[1]);
	if (rv != 0) {
		dw_failf(dw, job, "unable to run %s: %s", argv[0],
		    strerror(rv));
		shell_argv_free(argv);
		if (pin[1] != -1)
			close(pin[1]);
		close(pout[0]);
		free(input);
		return;
	}
	shell_argv_free(argv);

	buf_init(&out);
	rv = exec_io(pin[1], pout[0], input, inlen, &out, &why);
	if (rv == -1)
		kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	if (rv == -1)
		dw_failf(dw, job, "%s", why);
	else if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
		dw_failf(dw, job, "exit status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		dw_failf(dw, job, "killed by signal %d (SIG%s)", WTERMSIG(st),
		    sigabbrev_np(WTERMSIG(st)) ? sigabbrev_np(WTERMSIG(st)) :
		    "?");
	else {
		size_t	 n = buf_len(&out);

		if (n > 0 && buf_data(&out)[n - 1] == '\n')
			n--;
		dw_reply(dw, job, buf_data(&out), n);
	}
	buf_free(&out);
	free(input);
	return;

syserr:
	dw_failf(dw, job, "unable to run the command: %s", strerror(errno));
	if (pin[0] != -1)
		close(pin[0]);
	if (pin[1] != -1)
		close(pin[1]);
	free(input);
}

const struct handler handler_exec = {
	.name = "exec",
	.usage = "exec 'COMMAND [ARGS...]'  ({} is the job; else on stdin)",
	.init = exec_init,
	.run = exec_run,
	.flush = true,
};

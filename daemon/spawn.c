/*
 * Process creation for workers (tmux job_run, iked proc_exec).  All signals
 * are blocked around fork() so that no handler of the parent's (libevent's
 * signal pipe) can run in the child; the child resets every disposition and
 * the mask before exec.  A close-on-exec pipe carries an errno back if the
 * child fails before or at exec, so that a missing program is one clear
 * error rather than a worker that "exits at once" over and over.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spawn.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC	(1U << 2)
#endif

enum spawn_stage {
	STAGE_FDS,
	STAGE_RLIMIT,
	STAGE_SETGROUPS,
	STAGE_SETGID,
	STAGE_SETUID,
	STAGE_PDEATHSIG,
	STAGE_EXEC,
};

static const char *const stage_names[] = {
	"set up fds for", "set resource limits for", "set groups for",
	"set group for", "set user for", "set parent-death signal for",
	"exec",
};

struct spawn_fail {
	int	stage;
	int	err;
};

/* In the child: report why we fail to the parent and exit. */
static void __attribute__((noreturn))
child_fail(int fd, enum spawn_stage stage)
{
	struct spawn_fail	 f = { stage, errno };
	ssize_t			 n;

	n = write(fd, &f, sizeof(f));
	(void)n;
	_exit(127);
}

/* In the child: mark every fd from 3 up close-on-exec. */
static int
child_cloexec_from3(void)
{
	int	 fd, max;

	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return (0);
	max = (int)sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (fd = 3; fd < max; fd++)
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	return (0);
}

/* In the child: move the three pipes onto 0, 1 and 2. */
static int
child_fds(const struct spawn_req *req, int statfd)
{
	int	 fds[3] = { req->fd_in, req->fd_out, req->fd_err }, i;

	/* Move anything sitting on 0-2 out of the way first. */
	for (i = 0; i < 3; i++) {
		if (fds[i] <= 2 && fds[i] != i) {
			if ((fds[i] = fcntl(fds[i], F_DUPFD, 3)) == -1)
				return (-1);
		}
	}
	if (statfd <= 2)
		return (-1);
	for (i = 0; i < 3; i++) {
		if (fds[i] == i) {
			if (fcntl(i, F_SETFD, 0) == -1)
				return (-1);
		} else if (dup2(fds[i], i) == -1)
			return (-1);
	}
	return (child_cloexec_from3());
}

/* In the child: apply the pool's rlimits. */
static int
child_rlimits(const struct poolconf *pc)
{
	struct rlimit	 rl;
	int		 i;

	for (i = 0; i < POOLCONF_NRLIMITS; i++) {
		if (!pc->rlimits[i].set)
			continue;
		rl.rlim_cur = rl.rlim_max = pc->rlimits[i].value;
		if (setrlimit(pc->rlimits[i].resource, &rl) == -1)
			return (-1);
	}
	return (0);
}

/*
 * In the child: everything between fork and exec.  Only async-signal-safe
 * calls matter here in principle; the parent is single-threaded, so setenv()
 * and initgroups() are safe in practice.
 */
static void __attribute__((noreturn))
child_main(const struct spawn_req *req, int statfd, pid_t parent)
{
	struct sigaction sa;
	sigset_t	 all;
	int		 sig;
	char *const	*e;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);

	(void)setpgid(0, 0);
	if (child_fds(req, statfd) == -1)
		child_fail(statfd, STAGE_FDS);
	if (child_rlimits(req->pc) == -1)
		child_fail(statfd, STAGE_RLIMIT);
	if (req->pc->setgroup) {
		if ((req->pc->setuser ?
		    initgroups(req->pc->user, req->pc->gid) :
		    setgroups(1, &req->pc->gid)) == -1)
			child_fail(statfd, STAGE_SETGROUPS);
		if (setresgid(req->pc->gid, req->pc->gid, req->pc->gid) == -1)
			child_fail(statfd, STAGE_SETGID);
	}
	if (req->pc->setuser &&
	    setresuid(req->pc->uid, req->pc->uid, req->pc->uid) == -1)
		child_fail(statfd, STAGE_SETUID);
	/* After the credential change, which would clear it. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		child_fail(statfd, STAGE_PDEATHSIG);
	if (getppid() != parent)
		_exit(127);	/* the supervisor is already gone */
	/* The service manager's messages are droverd's, not its workers'. */
	(void)unsetenv("NOTIFY_SOCKET");
	(void)unsetenv("WATCHDOG_PID");
	(void)unsetenv("WATCHDOG_USEC");
	(void)unsetenv("LISTEN_PID");
	(void)unsetenv("LISTEN_FDS");
	(void)unsetenv("LISTEN_FDNAMES");
	for (e = req->env; e != NULL && *e != NULL; e++)
		(void)putenv(*e);
	execvp(req->argv[0], req->argv);
	child_fail(statfd, STAGE_EXEC);
}

/*
 * Start req->argv with the given fds as its stdin, stdout and stderr.  The
 * caller keeps ownership of its fds.  Returns the pid, with the read end of
 * the exec-status pipe (non-blocking, close-on-exec; the caller's to watch
 * and close) in *statfd; spawn_status() reads it.  Returns -1 with the
 * reason in err and its errno in errno when there is no child (no pipe, no
 * fork): the pool tells a shortage (EMFILE, EAGAIN, ...) from a permanent
 * failure by it.
 */
pid_t
spawn_process(const struct spawn_req *req, int *statfd, char *err,
    size_t errlen)
{
	int			 st[2];
	sigset_t		 all, old;
	pid_t			 pid, parent = getpid();
	int			 serr;

	if (pipe2(st, O_CLOEXEC | O_NONBLOCK) == -1) {
		serr = errno;
		snprintf(err, errlen, "pipe: %s", strerror(serr));
		errno = serr;
		return (-1);
	}
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0) {
		close(st[0]);
		child_main(req, st[1], parent);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(st[1]);
	if (pid == -1) {
		serr = errno;
		snprintf(err, errlen, "fork: %s", strerror(serr));
		close(st[0]);
		errno = serr;
		return (-1);
	}
	(void)setpgid(pid, pid);	/* both sides, to close the race */
	*statfd = st[0];
	return (pid);
}

/*
 * Read the exec-status pipe of the child of argv0.  1: EOF, the exec
 * happened (or the child died before it could say why not: its exit
 * status tells).  0: nothing yet.  -1: it failed, with the reason in err
 * ("unable to exec foo: No such file or directory") and its errno in
 * errno; the child exits 127 and is reaped like any other.  The child
 * writes before it exits, so once it has exited, or closed its stdout,
 * the answer is 1 or -1.
 */
int
spawn_status(int fd, const char *argv0, char *err, size_t errlen)
{
	struct spawn_fail	 f;
	ssize_t			 n;

	do
		n = read(fd, &f, sizeof(f));
	while (n == -1 && errno == EINTR);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return (0);
	if (n != (ssize_t)sizeof(f))
		return (1);		/* EOF: the exec happened */
	if (f.stage < 0 || f.stage > STAGE_EXEC)
		f.stage = STAGE_EXEC;
	snprintf(err, errlen, "unable to %s %s: %s", stage_names[f.stage],
	    argv0, strerror(f.err));
	errno = f.err;
	return (-1);
}

/*
 * peakrss: run a command and report its own peak resident set (VmHWM), read
 * from /proc at the moment it exits, before its memory is released.  Unlike
 * getrusage()'s ru_maxrss (what `/usr/bin/time -f %M` prints), this is the
 * supervisor alone, never one of the children it forked.
 *
 * The command runs under ptrace with only PTRACE_O_TRACEEXIT set: it stops
 * once, at exit; signals are passed through unchanged and its children are
 * not traced.
 *
 *	usage: peakrss OUTFILE COMMAND [ARGS...]
 *
 * Writes "VmHWM_KB VmRSS_KB" to OUTFILE and exits with the command's status
 * (128 + signal if it was killed).
 */
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, "peakrss: %s: %s\n", what, strerror(errno));
	exit(125);
}

/* Copy the value in kB of field key ("VmHWM:") of /proc/pid/status. */
static long
status_kb(pid_t pid, const char *key)
{
	char	 path[64], line[256];
	FILE	*f;
	long	 v = -1;
	size_t	 kl = strlen(key);

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, kl) == 0) {
			v = strtol(line + kl, NULL, 10);
			break;
		}
	fclose(f);
	return (v);
}

int
main(int argc, char **argv)
{
	FILE	*out;
	pid_t	 pid;
	long	 hwm = -1, rss = -1;
	int	 st, sig;

	if (argc < 3) {
		fprintf(stderr, "usage: peakrss OUTFILE COMMAND [ARGS...]\n");
		return (125);
	}
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) == -1)
			die("PTRACE_TRACEME");
		execvp(argv[2], argv + 2);
		die(argv[2]);
	}
	/* The first stop is the SIGTRAP of the exec. */
	if (waitpid(pid, &st, 0) == -1)
		die("waitpid");
	if (!WIFSTOPPED(st)) {
		errno = ECHILD;
		die("the command did not start");
	}
	if (ptrace(PTRACE_SETOPTIONS, pid, NULL,
	    (void *)(long)(PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL)) == -1)
		die("PTRACE_SETOPTIONS");
	sig = 0;
	for (;;) {
		if (ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig) == -1 &&
		    errno != ESRCH)
			die("PTRACE_CONT");
		if (waitpid(pid, &st, 0) == -1) {
			if (errno == EINTR)
				continue;
			die("waitpid");
		}
		if (WIFEXITED(st) || WIFSIGNALED(st))
			break;
		sig = 0;
		if (st >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
			hwm = status_kb(pid, "VmHWM:");
			rss = status_kb(pid, "VmRSS:");
		} else if (WIFSTOPPED(st))
			sig = WSTOPSIG(st);	/* deliver it as it was */
	}
	if ((out = fopen(argv[1], "w")) == NULL)
		die(argv[1]);
	fprintf(out, "%ld %ld\n", hwm, rss);
	fclose(out);
	if (WIFSIGNALED(st))
		return (128 + WTERMSIG(st));
	return (WEXITSTATUS(st));
}

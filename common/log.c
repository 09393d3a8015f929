/*
 * Logging.  Everything goes to stderr (or to a log file the daemon opened)
 * through log_vemit().  Under systemd (JOURNAL_STREAM names our stderr) each
 * line gets an sd-daemon "<N>" prefix so that the journal records its
 * priority; a daemon elsewhere gets an ISO 8601 timestamp; the command line
 * gets "drover: ".  Functions here never decide policy beyond fatal()'s exit.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char	*log_prog = "drover";
static enum log_style	 log_style = LOG_STYLE_CLI;
static int		 log_level = LOG_INFO;
static int		 log_exit = 1;
static int		 log_journal;
static char		*log_path;
static int		 log_fd = STDERR_FILENO;
static void		(*log_hook)(void);

static const char *const log_names[] = {
	"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"
};

/* True when stderr is the stream systemd announced in JOURNAL_STREAM. */
static int
log_is_journal(void)
{
	const char		*js;
	struct stat		 st;
	unsigned long long	 dev, ino;

	if ((js = getenv("JOURNAL_STREAM")) == NULL)
		return (0);
	if (sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return (0);
	if (fstat(STDERR_FILENO, &st) == -1)
		return (0);
	return (st.st_dev == dev && st.st_ino == ino);
}

/* Set the program name, the line style and the level. */
void
log_init(const char *prog, enum log_style style, int level)
{
	log_prog = prog;
	log_style = style;
	log_level = level;
	log_journal = (style == LOG_STYLE_DAEMON && log_is_journal());
}

void
log_setlevel(int level)
{
	log_level = level;
}

int
log_getlevel(void)
{
	return (log_level);
}

/* The exit status fatal() and fatalx() use. */
void
log_setexit(int status)
{
	log_exit = status;
}

/* A function run before each line, e.g. to clear a progress line. */
void
log_set_hook(void (*hook)(void))
{
	log_hook = hook;
}

/* Send log lines to a file (appending) instead of stderr; NULL: stderr. */
int
log_open_file(const char *path)
{
	char	*copy;

	if (path == NULL) {
		if (log_fd != STDERR_FILENO)
			close(log_fd);
		log_fd = STDERR_FILENO;
		free(log_path);
		log_path = NULL;
		return (0);
	}
	if (log_path != NULL && strcmp(path, log_path) == 0)
		return (0);
	if ((copy = strdup(path)) == NULL)
		return (-1);
	free(log_path);
	log_path = copy;
	return (log_reopen());
}

/* Reopen the log file after rotation (SIGUSR1). */
int
log_reopen(void)
{
	int	 fd;

	if (log_path == NULL)
		return (0);
	fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1)
		return (-1);
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = fd;
	log_journal = 0;
	return (0);
}

/* Format one line and write it with a single write(2). */
static void
log_vemit(int pri, const char *fmt, va_list ap, int err)
{
	char		 line[2048];
	size_t		 n = 0;
	int		 r;
	struct timespec	 ts;
	struct tm	 tm;

	if (pri > log_level)
		return;
	if (log_hook != NULL)
		log_hook();
	if (log_journal)
		r = snprintf(line, sizeof(line), "<%d>", pri);
	else if (log_style == LOG_STYLE_DAEMON) {
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		r = snprintf(line + n, sizeof(line) - n, ".%03ld %s[%d]: %s: ",
		    ts.tv_nsec / 1000000, log_prog, (int)getpid(),
		    log_names[pri]);
	} else
		r = snprintf(line, sizeof(line), "%s: ", log_prog);
	n += (r > 0) ? (size_t)r : 0;
	if (n < sizeof(line)) {
		r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		n += (r > 0) ? (size_t)r : 0;
	}
	if (n >= sizeof(line) - 2)
		n = sizeof(line) - 2;
	if (err != 0) {
		r = snprintf(line + n, sizeof(line) - n, ": %s", strerror(err));
		n += (r > 0) ? (size_t)r : 0;
		if (n >= sizeof(line) - 2)
			n = sizeof(line) - 2;
	}
	line[n++] = '\n';
	while (write(log_fd, line, n) == -1 && errno == EINTR)
		;
}

/* Log a line at an explicit syslog priority. */
void
log_emit(int pri, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vemit(pri, fmt, ap, 0);
	va_end(ap);
}

/* Warn, adding strerror(errno). */
void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_vemit(LOG_WARNING, fmt, ap, saved);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vemit(LOG_WARNING, fmt, ap, 0);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vemit(LOG_INFO, fmt, ap, 0);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (log_level < LOG_DEBUG)
		return;
	va_start(ap, fmt);
	log_vemit(LOG_DEBUG, fmt, ap, 0);
	va_end(ap);
}

/* Log at error level with strerror(errno) and exit. */
void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_vemit(LOG_ERR, fmt, ap, saved);
	va_end(ap);
	exit(log_exit);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vemit(LOG_ERR, fmt, ap, 0);
	va_end(ap);
	exit(log_exit);
}

/* Map "debug", "info", ... to a syslog level, or -1. */
int
log_level_parse(const char *name)
{
	int	 i;

	for (i = 0; i < (int)(sizeof(log_names) / sizeof(log_names[0])); i++)
		if (strcmp(name, log_names[i]) == 0)
			return (i);
	if (strcmp(name, "warn") == 0)
		return (LOG_WARNING);
	if (strcmp(name, "err") == 0)
		return (LOG_ERR);
	return (-1);
}

const char *
log_level_name(int level)
{
	if (level < 0 || level > LOG_DEBUG)
		return ("?");
	return (log_names[level]);
}

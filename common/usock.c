/*
 * A listening Unix stream socket at a path, made so that the path never
 * names a socket that refuses connections.
 *
 * bind() creates the path at once but connect() gets ECONNREFUSED until
 * listen(), and the mode and group are set in between: anyone who waits
 * for the file to appear (a test, a `while [ ! -S ]` loop, a scraper) can
 * fall into that window, and an old socket unlinked first leaves a moment
 * with no path at all.  So bind a temporary name in the same directory,
 * set its owner and mode, listen, and only then rename() it over the path,
 * which is atomic and replaces a stale socket in one step.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "usock.h"

/*
 * The temporary name for path in sun: ".NAME.PID" in the same directory.
 * -1 if it, or path itself, does not fit in a sockaddr_un.
 */
static int
usock_tmpname(const char *path, pid_t pid, struct sockaddr_un *sun)
{
	const char	*slash;
	int		 n, dirlen;

	slash = strrchr(path, '/');
	dirlen = slash == NULL ? 0 : (int)(slash - path + 1);
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	n = snprintf(sun->sun_path, sizeof(sun->sun_path), "%.*s.%s.%ld",
	    dirlen, path, path + dirlen, (long)pid);
	if (strlen(path) >= sizeof(sun->sun_path) || n < 0 ||
	    (size_t)n >= sizeof(sun->sun_path))
		return (-1);
	return (0);
}

/* Will path do for usock_listen() (as far as its length goes)? */
bool
usock_path_fits(const char *path)
{
	struct sockaddr_un	 sun;

	return (usock_tmpname(path, (pid_t)4194304, &sun) == 0);  /* pid_max */
}

/*
 * Listen on path with the given backlog.  mode (USOCK_KEEP_MODE: leave what
 * the umask gives) and gid (USOCK_KEEP_GID: leave it) are set before the
 * path appears.  A path that exists and is not a socket is refused; a socket
 * is replaced (the caller checks first whether it is still in use).  Returns
 * the fd, close-on-exec and non-blocking, or -1 with a reason in err.
 */
int
usock_listen(const char *path, mode_t mode, gid_t gid, int backlog,
    char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	int			 fd, n;
	mode_t			 old;

	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket", path);
		return (-1);
	}
	if (usock_tmpname(path, getpid(), &sun) == -1) {
		snprintf(err, errlen, "socket path too long (over %d bytes): "
		    "%s", USOCK_PATH_MAX, path);
		return (-1);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return (-1);
	}
	(void)unlink(sun.sun_path);	/* left by a crash of this pid */
	/* Nobody may connect before the mode is set: start closed. */
	old = umask(0177);
	n = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (n == -1) {
		snprintf(err, errlen, "unable to bind %s: %s", path,
		    strerror(errno));
		close(fd);
		return (-1);
	}
	if (mode == USOCK_KEEP_MODE)
		mode = 0666 & ~old;
	if ((gid != USOCK_KEEP_GID && chown(sun.sun_path, (uid_t)-1, gid) ==
	    -1) || chmod(sun.sun_path, mode) == -1) {
		snprintf(err, errlen, "unable to set the owner or mode of %s: "
		    "%s", path, strerror(errno));
		goto fail;
	}
	if (listen(fd, backlog) == -1) {
		snprintf(err, errlen, "listen on %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	if (rename(sun.sun_path, path) == -1) {
		snprintf(err, errlen, "unable to rename %s to %s: %s",
		    sun.sun_path, path, strerror(errno));
		goto fail;
	}
	return (fd);

fail:
	(void)unlink(sun.sun_path);
	close(fd);
	return (-1);
}

/*
 * One sendmsg(2) of len bytes at p on the socket sock, with the
 * descriptor fd passed alongside (SCM_RIGHTS, with the first byte sent);
 * what sendmsg(2) returned.
 */
ssize_t
usock_send_fd(int sock, const void *p, size_t len, int fd)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	}		 cm;
	struct cmsghdr	*c;
	struct msghdr	 msg;
	struct iovec	 iov;
	ssize_t		 n;

	iov.iov_base = (void *)(uintptr_t)p;
	iov.iov_len = len;
	memset(&msg, 0, sizeof(msg));
	memset(&cm, 0, sizeof(cm));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	return (n);
}

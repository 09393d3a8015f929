/*
 * Flat byte buffers (see buf.h for why not evbuffers on the job path).
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "xmalloc.h"

#define BUF_MINCAP	4096

void
buf_init(struct buf *b)
{
	memset(b, 0, sizeof(*b));
}

void
buf_free(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}


/* What buf_data() points at while a buffer has no storage. */
char	 buf_empty[1];

/*
 * Make room for n more bytes after the write offset and return a pointer to
 * it (buf_reserve() when there is none): slide the unread bytes to the
 * front if that is enough, else grow.
 */
char *
buf_grow(struct buf *b, size_t n)
{
	size_t	 len, cap;

	if (b->cap - b->wpos >= n)
		return (b->data + b->wpos);
	len = b->wpos - b->rpos;
	if (b->rpos != 0) {
		memmove(b->data, b->data + b->rpos, len);
		b->rpos = 0;
		b->wpos = len;
		if (b->cap - len >= n)
			return (b->data + b->wpos);
	}
	cap = b->cap < BUF_MINCAP ? BUF_MINCAP : b->cap;
	while (cap - len < n)
		cap *= 2;
	b->data = xreallocarray(b->data, cap, 1);
	b->cap = cap;
	return (b->data + b->wpos);
}

void
buf_add(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	memcpy(buf_reserve(b, n), p, n);
	b->wpos += n;
}

void
buf_addc(struct buf *b, char c)
{
	*buf_reserve(b, 1) = c;
	b->wpos++;
}

void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;
	size_t	 room;

	room = b->cap - b->wpos;
	va_start(ap, fmt);
	n = vsnprintf(b->data == NULL ? NULL : b->data + b->wpos, room, fmt,
	    ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= room) {
		buf_reserve(b, (size_t)n + 1);
		va_start(ap, fmt);
		vsnprintf(b->data + b->wpos, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->wpos += (size_t)n;
}

/* One read(2) of up to max bytes; returns what read(2) returned. */
ssize_t
buf_read(struct buf *b, int fd, size_t max)
{
	ssize_t	 n;
	char	*p;

	p = buf_reserve(b, max);
	do
		n = read(fd, p, b->cap - b->wpos);
	while (n == -1 && errno == EINTR);
	if (n > 0)
		b->wpos += (size_t)n;
	return (n);
}

/*
 * As buf_read(), from a Unix socket with recvmsg(2): a descriptor passed
 * with the bytes (SCM_RIGHTS) goes to *fdp if it is -1 there, close-on-
 * exec; every other one is closed, so that a peer cannot fill our table.
 */
ssize_t
buf_read_fds(struct buf *b, int fd, size_t max, int *fdp)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(BUF_FDS_MAX * sizeof(int))];
	}		 cm;
	struct cmsghdr	*c;
	struct msghdr	 msg;
	struct iovec	 iov;
	ssize_t		 n;
	size_t		 i, k;
	int		 got;

	iov.iov_base = buf_reserve(b, max);
	iov.iov_len = b->cap - b->wpos;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	do
		n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return (n);
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < k; i++) {
			memcpy(&got, CMSG_DATA(c) + i * sizeof(int),
			    sizeof(int));
			if (*fdp == -1)
				*fdp = got;
			else
				(void)close(got);
		}
	}
	if (n > 0)
		b->wpos += (size_t)n;
	return (n);
}

/* One write(2) of everything unread; returns what write(2) returned. */
ssize_t
buf_write(struct buf *b, int fd)
{
	ssize_t	 n;

	if (buf_len(b) == 0)
		return (0);
	do
		n = write(fd, buf_data(b), buf_len(b));
	while (n == -1 && errno == EINTR);
	if (n > 0)
		buf_consume(b, (size_t)n);
	return (n);
}

/* Give memory back when a buffer grew past max and is now empty. */
void
buf_shrink(struct buf *b, size_t max)
{
	if (b->cap <= max || buf_len(b) != 0)
		return;
	free(b->data);
	b->data = NULL;
	b->cap = b->rpos = b->wpos = 0;
}

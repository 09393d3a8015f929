/*
 * Reading jobs from a file descriptor (stdin or -i FILE) with backpressure,
 * for `drover run` (into a pool) and `drover submit` (onto a socket), and
 * for droverd should it read jobs of its own.  Like all of common/, it does
 * not log: a failed read goes to the owner's error() hook, which says it
 * the way its program speaks.
 *
 * Records are cut by lsplit (lines, or NUL-terminated with -0) and handed to
 * the owner one by one, but only while its room() hook says there is room:
 * memory stays flat however long the input.  A pipe is read when it is
 * readable, in one large read(2); a regular file, which epoll cannot watch,
 * is read directly, a few MiB per loop turn so that timers and results keep
 * flowing.  Record ids are the 0-based input index.
 */
#include <sys/stat.h>
#include <sys/vfs.h>

#include <linux/magic.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "buf.h"
#include "input.h"
#include "lsplit.h"
#include "xmalloc.h"

#define INPUT_READ		(256 * 1024)
#define INPUT_TURN_BYTES	(4 * 1024 * 1024)
#define INPUT_RUN		256	/* records per hooks->records */
#define INPUT_ZFS_MAGIC		0x2fc12fc1	/* not in linux/magic.h */

struct input {
	struct event_base	*base;
	const struct input_hooks *hooks;
	void			*arg;
	int			 fd;
	bool			 regular;	/* read without readiness */
	struct event		*ev_in;
	struct event		*ev_more;
	struct buf		 in;
	struct lsplit		 ls;
	uint64_t		 max_bytes;
	uint64_t		 next_id;
	uint64_t		 bytes;		/* consumed */
	bool			 readable;
	bool			 eof;
	bool			 stopped;
	bool			 one_by_one;	/* hooks->records takes none */
	bool			 ended;		/* hooks->end was called */
};

static void	input_pump(struct input *);

static void
input_in_cb(int fd, short what, void *arg)
{
	struct input	*in = arg;

	(void)fd;
	(void)what;
	in->readable = true;
	input_pump(in);
}

static void
input_more_cb(int fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	input_pump(arg);
}

/* Read records of fd (delimited by delim, at most max_bytes each). */
struct input *
input_new(struct event_base *base, int fd, int delim, uint64_t max_bytes,
    const struct input_hooks *hooks, void *arg)
{
	struct input	*in;
	struct stat	 st;

	in = xcalloc(1, sizeof(*in));
	in->base = base;
	in->hooks = hooks;
	in->arg = arg;
	in->fd = fd;
	in->max_bytes = max_bytes;
	buf_init(&in->in);
	lsplit_init(&in->ls, delim, max_bytes);
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		in->regular = true;
	in->ev_in = event_new(base, fd, EV_READ | EV_PERSIST, input_in_cb, in);
	/* Not pollable (a regular file, /dev/null): read it like a file. */
	if (!in->regular && event_add(in->ev_in, NULL) == -1)
		in->regular = true;
	in->ev_more = event_new(base, -1, 0, input_more_cb, in);
	return (in);
}

void
input_free(struct input *in)
{
	if (in == NULL)
		return;
	event_free(in->ev_in);
	event_free(in->ev_more);
	buf_free(&in->in);
	free(in);
}

/* Go on reading at the end of this loop turn (no recursion). */
void
input_resume(struct input *in)
{
	if (!in->stopped && !in->ended &&
	    !event_pending(in->ev_more, EV_TIMEOUT, NULL))
		event_active(in->ev_more, EV_TIMEOUT, 0);
}

/* Read no more: what is not read yet is not a job. */
void
input_stop(struct input *in)
{
	if (in->stopped)
		return;
	in->stopped = true;
	event_del(in->ev_in);
}

/* True once the input is exhausted or stopped. */
bool
input_done(const struct input *in)
{
	return (in->ended || in->stopped);
}

uint64_t
input_count(const struct input *in)
{
	return (in->next_id);
}

uint64_t
input_bytes(const struct input *in)
{
	return (in->bytes);
}

/*
 * The records left in a regular file from its current offset, counted
 * with pread(2) (the offset is not moved), for a progress line that
 * counts jobs finished against jobs there are; 0 if the input is not a
 * regular file or cannot be read.
 */
uint64_t
input_count_records(const struct input *in)
{
	return (in->regular ? input_records(in->fd, in->ls.delim) : 0);
}

/* The same of fd, records ended by delim, before it is an input. */
uint64_t
input_records(int fd, int delim)
{
	static char	 chunk[1 << 20];
	const char	*p, *end;
	struct stat	 st;
	off_t		 off;
	ssize_t		 n;
	uint64_t	 count = 0;
	char		 last = (char)delim;

	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (off = lseek(fd, 0, SEEK_CUR)) == -1)
		return (0);
	while ((n = pread(fd, chunk, sizeof(chunk), off)) > 0) {
		for (p = chunk, end = chunk + n; (p = memchr(p, delim,
		    (size_t)(end - p))) != NULL; p++)
			count++;
		last = chunk[n - 1];
		off += n;
	}
	if (n == -1)
		return (0);
	return (count + (last != (char)delim));	/* unterminated */
}

/*
 * May another process read its jobs from fd, as droverd does a client's
 * (docs/protocol.md, "INPUT"), without its loop ever waiting on a read?
 * A pipe or FIFO, which it reads only when readable; or a regular file on
 * a disk or in memory, whose reads do not wait on anyone.  Not a file on
 * FUSE, NFS, SMB and the like, where a read may block for as long as a
 * server pleases, nor on overlayfs, whose lower layer may be any of
 * those (an unprivileged user may mount one over FUSE), nor a terminal,
 * a socket or a device.
 */
bool
input_passable(int fd)
{
	static const long	 local[] = {
		EXT4_SUPER_MAGIC, XFS_SUPER_MAGIC, BTRFS_SUPER_MAGIC,
		TMPFS_MAGIC, RAMFS_MAGIC, SQUASHFS_MAGIC, F2FS_SUPER_MAGIC,
		MSDOS_SUPER_MAGIC, EXFAT_SUPER_MAGIC, INPUT_ZFS_MAGIC,
	};
	struct stat	 st;
	struct statfs	 fs;
	size_t		 i;

	if (fstat(fd, &st) == -1)
		return (false);
	if (S_ISFIFO(st.st_mode))
		return (true);
	if (!S_ISREG(st.st_mode) || fstatfs(fd, &fs) == -1)
		return (false);
	for (i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		if ((long)fs.f_type == local[i])
			return (true);
	return (false);
}

/* One read; false when there is nothing to read right now. */
static bool
input_read(struct input *in, uint64_t *turn)
{
	ssize_t	 n;

	if (!in->regular && !in->readable) {
		event_add(in->ev_in, NULL);
		return (false);
	}
	if (in->regular && *turn >= INPUT_TURN_BYTES) {
		event_active(in->ev_more, EV_TIMEOUT, 0);
		return (false);
	}
	n = buf_read(&in->in, in->fd, INPUT_READ);
	in->readable = false;
	if (n > 0) {
		*turn += (uint64_t)n;
		return (true);
	}
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		event_add(in->ev_in, NULL);
		return (false);
	}
	if (n == -1 && in->hooks->error != NULL)
		in->hooks->error(in->arg, errno);
	in->eof = true;
	event_del(in->ev_in);
	return (true);
}

/*
 * Hand records over while there is room; wait for room or input.  Room is
 * asked once and counted down, not asked per record, and asked again
 * after each read: what one answer lets in is within what is buffered.
 */
static void
input_pump(struct input *in)
{
	struct iovec		 recs[INPUT_RUN];
	const char		*rec, *end;
	uint64_t		 len, turn = 0, room = 0;
	size_t			 n, taken;
	enum lsplit_result	 r;

	while (!in->stopped && !in->ended) {
		if (room == 0 && (room = in->hooks->room(in->arg)) == 0) {
			event_del(in->ev_in);
			break;
		}
		if (in->hooks->records != NULL && !in->one_by_one &&
		    room > 1 && (n = lsplit_peek(&in->ls, &in->in, recs,
		    room < INPUT_RUN ? (size_t)room : INPUT_RUN)) > 1) {
			taken = in->hooks->records(in->arg, in->next_id, recs,
			    n);
			if (taken != 0) {
				end = (const char *)recs[taken - 1].iov_base +
				    recs[taken - 1].iov_len + 1;
				n = (size_t)(end - buf_data(&in->in));
				in->bytes += n;
				buf_consume(&in->in, n);
				in->next_id += taken;
				room -= taken;
				continue;
			}
			in->one_by_one = true;	/* it takes none in runs */
		}
		r = lsplit_next(&in->ls, &in->in, in->eof, &rec, &len);
		if (r == LS_RECORD) {
			in->bytes += len + 1;
			room--;
			in->hooks->record(in->arg, in->next_id++, rec,
			    (size_t)len);
			continue;
		}
		if (r == LS_TOOLONG) {
			in->bytes += len + 1;
			room--;
			in->hooks->toolong(in->arg, in->next_id++, len);
			continue;
		}
		if (r == LS_END) {
			event_del(in->ev_in);
			in->ended = true;
			buf_free(&in->in);
			in->hooks->end(in->arg);
			return;
		}
		if (!input_read(in, &turn))
			break;
		room = 0;	/* asked again for what was read */
	}
}

/*
 * A flat byte buffer for the job path: one contiguous region with a read and
 * a write offset, filled with large read(2)s and drained with large write(2)s.
 *
 * The job path does not use evbuffers because libevent 2.1's evbuffer_read()
 * caps every read at 4 KiB (EVBUFFER_MAX_READ), and because parsing frames in
 * place wants contiguous bytes.  This is a value type: its fields are read by
 * the inline helpers below and by nobody else.
 */
#ifndef DROVER_BUF_H
#define DROVER_BUF_H

#include <stddef.h>
#include <sys/types.h>

#define BUF_FDS_MAX	4	/* descriptors taken in by one buf_read_fds() */

struct buf {
	char	*data;
	size_t	 rpos;		/* first unread byte */
	size_t	 wpos;		/* first free byte */
	size_t	 cap;
};

void	 buf_init(struct buf *);
void	 buf_free(struct buf *);
char	*buf_grow(struct buf *, size_t);
void	 buf_add(struct buf *, const void *, size_t);
void	 buf_addc(struct buf *, char);
void	 buf_adds(struct buf *, const char *);
void	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
ssize_t	 buf_read(struct buf *, int, size_t);
ssize_t	 buf_read_fds(struct buf *, int, size_t, int *);
ssize_t	 buf_write(struct buf *, int);
void	 buf_shrink(struct buf *, size_t);

/* Bytes waiting to be read. */
static inline size_t
buf_len(const struct buf *b)
{
	return (b->wpos - b->rpos);
}

extern char	 buf_empty[1];

/*
 * Start of the unread bytes.  A buffer that never held anything has no
 * storage: NULL + 0 is undefined in C (clang's UBSan says so), so it
 * points at buf_empty instead.
 */
static inline char *
buf_data(const struct buf *b)
{
	return (b->data != NULL ? b->data + b->rpos : buf_empty);
}

/*
 * Room for n more bytes at the end, to be filled and then committed.  The
 * test for room is inline (the job path reserves a few times per job);
 * buf_grow() makes it.
 */
static inline char *
buf_reserve(struct buf *b, size_t n)
{
	if (b->cap - b->wpos >= n)
		return (b->data + b->wpos);
	return (buf_grow(b, n));
}

/* Mark n reserved bytes as written. */
static inline void
buf_commit(struct buf *b, size_t n)
{
	b->wpos += n;
}

/* Drop n bytes from the front; an empty buffer rewinds to offset 0. */
static inline void
buf_consume(struct buf *b, size_t n)
{
	b->rpos += n;
	if (b->rpos == b->wpos)
		b->rpos = b->wpos = 0;
}

static inline void
buf_reset(struct buf *b)
{
	b->rpos = b->wpos = 0;
}

#endif

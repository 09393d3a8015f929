/*
 * The unacknowledged jobs of a durable batch (see unacked.h).  One flat
 * region with a head and a tail: a job is appended at the tail as the JOB
 * message it is on the wire, and the front is dropped when an ACCEPTED
 * covers it.  Room at the end is made by sliding what is held to the
 * front only when the space freed there is at least as large as what
 * moves, so that every byte is moved at most about once, whatever the
 * pace of the ACCEPTEDs; otherwise the region doubles.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "frame.h"
#include "unacked.h"
#include "xmalloc.h"

#define UNACKED_MINCAP	(64 * 1024)
#define UNACKED_KEEP	(4 * 1024 * 1024)	/* kept when it empties */

void
unacked_init(struct unacked *q)
{
	memset(q, 0, sizeof(*q));
}

void
unacked_free(struct unacked *q)
{
	free(q->data);
	unacked_init(q);
}

/* Room for n more bytes at the tail. */
static void
unacked_room(struct unacked *q, size_t n)
{
	size_t	 len = q->tail - q->head, cap;

	if (q->cap - q->tail >= n)
		return;
	if (q->head != 0 && q->head >= len) {
		memmove(q->data, q->data + q->head, len);
		q->head = 0;
		q->tail = len;
		if (q->cap - q->tail >= n)
			return;
	}
	cap = q->cap < UNACKED_MINCAP ? UNACKED_MINCAP : q->cap;
	while (cap - q->tail < n)
		cap *= 2;
	q->data = xreallocarray(q->data, cap, 1);
	q->cap = cap;
}

/*
 * Keep job id (data, len), whose id is above every one held; returns its
 * JOB message, *size bytes, valid until the queue changes.
 */
const char *
unacked_put(struct unacked *q, uint64_t id, const char *data, size_t len,
    size_t *size)
{
	char	*p;

	unacked_room(q, FRAME_HDRLEN + len);
	p = q->data + q->tail;
	frame_put(p, CTL_JOB, 0, (uint32_t)len, id);
	if (len != 0)
		memcpy(p + FRAME_HDRLEN, data, len);
	q->tail += FRAME_HDRLEN + len;
	q->n++;
	*size = FRAME_HDRLEN + len;
	return (p);
}

/* Drop every job with an id up to and including id. */
void
unacked_trim(struct unacked *q, uint64_t id)
{
	struct frame_hdr h;

	while (q->head < q->tail) {
		frame_decode(q->data + q->head, &h);
		if (h.id > id)
			break;
		q->head += FRAME_HDRLEN + h.len;
		q->n--;
	}
	if (q->head == q->tail) {
		q->head = q->tail = 0;
		if (q->cap > UNACKED_KEEP) {
			free(q->data);
			q->data = NULL;
			q->cap = 0;
		}
	}
}

/*
 * Reorder buffer: a ring of `cap` slots indexed by sequence number modulo
 * cap.  reorder_put() copies the record; reorder_pop() hands back the next
 * in-order record, valid until the following pop.
 */
#include <stdlib.h>
#include <string.h>

#include "reorder.h"
#include "xmalloc.h"

struct slot {
	char	*data;
	size_t	 len;
	int	 tag;
	bool	 full;
};

struct reorder {
	struct slot	*slots;
	size_t		 cap;
	uint64_t	 next;		/* the sequence number to emit next */
	size_t		 held;
	size_t		 bytes;
	char		*last;		/* record returned by the last pop */
};

struct reorder *
reorder_new(size_t cap)
{
	struct reorder	*r;

	r = xcalloc(1, sizeof(*r));
	r->cap = cap == 0 ? 1 : cap;
	r->slots = xcalloc(r->cap, sizeof(*r->slots));
	return (r);
}

void
reorder_free(struct reorder *r)
{
	size_t	 i;

	if (r == NULL)
		return;
	for (i = 0; i < r->cap; i++)
		free(r->slots[i].data);
	free(r->slots);
	free(r->last);
	free(r);
}

/* The first sequence number that may not be admitted yet. */
uint64_t
reorder_limit(const struct reorder *r)
{
	return (r->next + r->cap);
}

uint64_t
reorder_next(const struct reorder *r)
{
	return (r->next);
}

size_t
reorder_held(const struct reorder *r)
{
	return (r->held);
}

size_t
reorder_bytes(const struct reorder *r)
{
	return (r->bytes);
}

/*
 * Hold record seq (tag is the caller's, e.g. which stream it goes to).
 * Returns -1 if seq is already emitted, outside the window or a duplicate.
 */
int
reorder_put(struct reorder *r, uint64_t seq, int tag, const void *data,
    size_t len)
{
	struct slot	*s;

	if (seq < r->next || seq >= reorder_limit(r))
		return (-1);
	s = &r->slots[seq % r->cap];
	if (s->full)
		return (-1);
	s->data = xmemdup(data, len);
	s->len = len;
	s->tag = tag;
	s->full = true;
	r->held++;
	r->bytes += len;
	return (0);
}

/* Take the next in-order record if it has arrived. */
bool
reorder_pop(struct reorder *r, int *tag, const char **data, size_t *len)
{
	struct slot	*s = &r->slots[r->next % r->cap];

	if (!s->full)
		return (false);
	free(r->last);
	r->last = s->data;
	*tag = s->tag;
	*data = s->data;
	*len = s->len;
	r->bytes -= s->len;
	r->held--;
	s->data = NULL;
	s->full = false;
	r->next++;
	return (true);
}

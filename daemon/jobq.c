/*
 * Job queue: a ring buffer of job pointers that doubles when full.
 */
#include <stdlib.h>

#include "job.h"
#include "jobq.h"
#include "xmalloc.h"

void
jobq_init(struct jobq *q)
{
	q->ring = NULL;
	q->cap = q->head = q->len = 0;
}

void
jobq_free(struct jobq *q)
{
	free(q->ring);
	jobq_init(q);
}

/* Double the ring, unwrapping it. */
/* Double the ring (jobq_push(), inline, calls it when full). */
void __attribute__((noinline, cold))
jobq_grow(struct jobq *q)
{
	size_t		  ncap = q->cap == 0 ? 64 : q->cap * 2, i;
	struct job	**nring;

	nring = xreallocarray(NULL, ncap, sizeof(*nring));
	for (i = 0; i < q->len; i++)
		nring[i] = q->ring[(q->head + i) & (q->cap - 1)];
	free(q->ring);
	q->ring = nring;
	q->cap = ncap;
	q->head = 0;
}

void
jobq_push_front(struct jobq *q, struct job *j)
{
	if (q->len == q->cap)
		jobq_grow(q);
	q->head = (q->head - 1) & (q->cap - 1);
	q->ring[q->head] = j;
	q->len++;
}

struct job *
jobq_pop_back(struct jobq *q)
{
	if (q->len == 0)
		return (NULL);
	q->len--;
	return (q->ring[(q->head + q->len) & (q->cap - 1)]);
}

/*
 * Move every queued job of batch b (or of every batch when b is NULL) to the
 * back of out, keeping the order of both; one pass.  Returns how many moved.
 */
size_t
jobq_extract(struct jobq *q, struct batch *b, struct jobq *out)
{
	size_t		 i, kept = 0, moved = 0;
	struct job	*j;

	for (i = 0; i < q->len; i++) {
		j = q->ring[(q->head + i) & (q->cap - 1)];
		if (b == NULL || j->batch == b) {
			jobq_push(out, j);
			moved++;
		} else
			q->ring[(q->head + kept++) & (q->cap - 1)] = j;
	}
	q->len = kept;
	return (moved);
}

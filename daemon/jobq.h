/*
 * A queue of jobs: a growable ring of pointers, with push at both ends
 * (retries go back to the front).
 */
#ifndef DROVER_JOBQ_H
#define DROVER_JOBQ_H

#include <stddef.h>
#include <string.h>

struct job;
struct batch;

struct jobq {
	struct job	**ring;
	size_t		  cap;		/* a power of two, or 0 */
	size_t		  head;
	size_t		  len;
};

void		 jobq_init(struct jobq *);
void		 jobq_free(struct jobq *);
void		 jobq_grow(struct jobq *);
void		 jobq_push_front(struct jobq *, struct job *);
struct job	*jobq_pop_back(struct jobq *);
size_t		 jobq_extract(struct jobq *, struct batch *, struct jobq *);

static inline size_t
jobq_len(const struct jobq *q)
{
	return (q->len);
}

/* Push and pop, inline: they are on every job's path. */
static inline void
jobq_push(struct jobq *q, struct job *j)
{
	if (q->len == q->cap)
		jobq_grow(q);
	q->ring[(q->head + q->len) & (q->cap - 1)] = j;
	q->len++;
}

static inline struct job *
jobq_pop(struct jobq *q)
{
	struct job	*j;

	if (q->len == 0)
		return (NULL);
	j = q->ring[q->head];
	q->head = (q->head + 1) & (q->cap - 1);
	q->len--;
	return (j);
}

/* Pop up to n jobs from the front into out, in order: how many. */
static inline size_t
jobq_pop_run(struct jobq *q, struct job **out, size_t n)
{
	size_t	 k = n < q->len ? n : q->len, first = q->cap - q->head;

	if (k == 0)
		return (0);
	if (k <= first)
		memcpy(out, q->ring + q->head, k * sizeof(*out));
	else {
		memcpy(out, q->ring + q->head, first * sizeof(*out));
		memcpy(out + first, q->ring, (k - first) * sizeof(*out));
	}
	q->head = (q->head + k) & (q->cap - 1);
	q->len -= k;
	return (k);
}

#endif

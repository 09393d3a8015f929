/*
 * A queue of jobs: a growable ring of pointers, with push at both ends
 * (retries go back to the front).
 */
#ifndef DROVER_JOBQ_H
#define DROVER_JOBQ_H

#include <stddef.h>

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
void		 jobq_push(struct jobq *, struct job *);
void		 jobq_push_front(struct jobq *, struct job *);
struct job	*jobq_pop(struct jobq *);
struct job	*jobq_pop_back(struct jobq *);
size_t		 jobq_extract(struct jobq *, struct batch *, struct jobq *);

static inline size_t
jobq_len(const struct jobq *q)
{
	return (q->len);
}

#endif

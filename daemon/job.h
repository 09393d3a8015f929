/*
 * The job record.  A job is created by a batch's source (pool_submit), sits
 * in its pool's queue, then in one worker's in-flight ring, and is freed
 * after its batch has been told the outcome.  At each stage exactly one
 * owner writes it: the queue, the worker, or the pool when it finishes.
 * Jobs are recycled through a free list so the job path does not malloc.
 */
#ifndef DROVER_JOB_H
#define DROVER_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "copy.h"

struct batch;

#define JOB_INLINE	24

#define JOB_TIMEDOUT	0x01	/* its timeout fired on the current run */

struct job {
	struct batch	*batch;		/* where the result goes */
	uint64_t	 id;		/* index in its batch (input order) */
	uint64_t	 sent_us;	/* dispatch time of the current run */
	char		*data;		/* payload: inl or heap */
	uint32_t	 len;
	uint16_t	 runs;		/* times dispatched */
	uint8_t		 charges;	/* failed attempts charged to it */
	uint8_t		 flags;
	char		 inl[JOB_INLINE];
};

extern struct job	**job_cache;	/* the free list (job.c) */
extern size_t		  job_cached;

struct job	*job_new_slow(struct batch *, uint64_t, const char *, size_t);
void		 job_free(struct job *);
void		 job_free_run(struct job *const *, size_t);
void		 job_cache_trim(void);

/* The fields of a new job but its data. */
static inline void
job_init(struct job *j, struct batch *b, uint64_t id, size_t len)
{
	j->batch = b;
	j->id = id;
	j->sent_us = 0;
	j->len = (uint32_t)len;
	j->runs = 0;
	j->charges = 0;
	j->flags = 0;
}

/*
 * A new job holding a copy of data; ids are the caller's.  Inline, as
 * each job of every source is one: a short job from the free list costs
 * no call.
 */
static inline struct job *
job_new(struct batch *b, uint64_t id, const char *data, size_t len)
{
	struct job	*j;

	if (__builtin_expect(job_cached == 0 || len > JOB_INLINE, 0))
		return (job_new_slow(b, id, data, len));
	j = job_cache[--job_cached];
	job_init(j, b, id, len);
	j->data = j->inl;
	copy_small(j->inl, data, len);
	return (j);
}

#endif

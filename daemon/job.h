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

struct job	*job_new(struct batch *, uint64_t, const char *, size_t);
void		 job_free(struct job *);
void		 job_free_run(struct job *const *, size_t);
void		 job_cache_trim(void);

#endif

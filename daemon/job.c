/*
 * Job allocation with a bounded free list: after warm-up, creating and
 * finishing a small job costs no malloc/free.
 */
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "xmalloc.h"

#define JOB_CACHE_MAX	65536

static struct job	**job_cache;
static size_t		  job_cached;

/* A new job holding a copy of data; ids are the caller's. */
struct job *
job_new(struct batch *b, uint64_t id, const char *data, size_t len)
{
	struct job	*j;

	if (job_cached != 0)
		j = job_cache[--job_cached];
	else
		j = xmalloc(sizeof(*j));
	j->batch = b;
	j->id = id;
	j->sent_us = 0;
	j->len = (uint32_t)len;
	j->runs = 0;
	j->charges = 0;
	j->flags = 0;
	if (len <= JOB_INLINE)
		j->data = j->inl;
	else
		j->data = xmalloc(len);
	if (len != 0)
		memcpy(j->data, data, len);
	return (j);
}

void
job_free(struct job *j)
{
	if (j->data != j->inl)
		free(j->data);
	if (job_cache == NULL)
		job_cache = xreallocarray(NULL, JOB_CACHE_MAX,
		    sizeof(*job_cache));
	if (job_cached < JOB_CACHE_MAX) {
		job_cache[job_cached++] = j;
		return;
	}
	free(j);
}

/* Return cached jobs to the allocator (at exit, or when idle). */
void
job_cache_trim(void)
{
	while (job_cached != 0)
		free(job_cache[--job_cached]);
	free(job_cache);
	job_cache = NULL;
}

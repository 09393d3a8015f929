/*
 * Job allocation with a bounded free list: after warm-up, creating and
 * finishing a small job costs no malloc/free.
 */
#include <stdlib.h>
#include <string.h>

#include "copy.h"
#include "job.h"
#include "xmalloc.h"

#define JOB_CACHE_MAX	65536

struct job	**job_cache;		/* job.h's job_new() pops it */
size_t		  job_cached;

/* Out of job_new(), so that its common path saves no registers. */
static struct job * __attribute__((noinline, cold))
job_alloc(void)
{
	return (xmalloc(sizeof(struct job)));
}

static char * __attribute__((noinline, cold))
job_dup(const char *data, size_t len)
{
	char	*p = xmalloc(len);

	memcpy(p, data, len);
	return (p);
}

/* job_new() with an empty cache or a long job: the same, with malloc. */
struct job *
job_new_slow(struct batch *b, uint64_t id, const char *data, size_t len)
{
	struct job	*j;

	if (job_cached != 0)
		j = job_cache[--job_cached];
	else
		j = job_alloc();
	job_init(j, b, id, len);
	if (len <= JOB_INLINE) {
		j->data = j->inl;
		copy_small(j->inl, data, len);
	} else
		j->data = job_dup(data, len);
	return (j);
}

/* job_free() with no cache yet, or a full one. */
static void __attribute__((noinline, cold))
job_free_slow(struct job *j)
{
	if (job_cache == NULL)
		job_cache = xreallocarray(NULL, JOB_CACHE_MAX,
		    sizeof(*job_cache));
	if (job_cached < JOB_CACHE_MAX)
		job_cache[job_cached++] = j;
	else
		free(j);
}

void
job_free(struct job *j)
{
	if (j->data != j->inl)
		free(j->data);
	if (job_cache != NULL && job_cached < JOB_CACHE_MAX)
		job_cache[job_cached++] = j;
	else
		job_free_slow(j);
}

/* job_free() of n jobs, into the cache in one go while it has room. */
void
job_free_run(struct job *const *js, size_t n)
{
	size_t	 i;

	if (job_cache == NULL || JOB_CACHE_MAX - job_cached < n) {
		for (i = 0; i < n; i++)
			job_free(js[i]);
		return;
	}
	for (i = 0; i < n; i++)
		if (js[i]->data != js[i]->inl)
			free(js[i]->data);
	memcpy(job_cache + job_cached, js, n * sizeof(*js));
	job_cached += n;
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

/*
 * `drover run`'s batch: jobs from an fd, results to a report (iobatch.c).
 */
#ifndef DROVER_IOBATCH_H
#define DROVER_IOBATCH_H

#include <stdint.h>

struct batch;
struct event_base;
struct iobatch;
struct pool;
struct report;
struct runjournal;

struct iobatch	*iobatch_new(struct event_base *, struct pool *,
		    struct report *, int, int, uint64_t, void (*)(void *),
		    void *);
void		 iobatch_free(struct iobatch *);
uint64_t	 iobatch_count_records(const struct iobatch *);
void		 iobatch_set_journal(struct iobatch *, struct runjournal *);
void		 iobatch_start(struct iobatch *);
void		 iobatch_stop(struct iobatch *);
void		 iobatch_resume(struct iobatch *);
struct batch	*iobatch_batch(struct iobatch *);

#endif

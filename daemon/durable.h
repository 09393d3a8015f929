/*
 * Durable batches (daemon/durable.c): droverd's batches that live in the
 * journal (journal.h) rather than in a connection, so that "accepted"
 * means "committed" and a kill -9 of droverd loses none of their jobs and
 * counts none of their results twice.  docs/architecture.md ("Durable
 * batches") has the design and docs/protocol.md the wire rules.
 *
 * A durable batch (struct dbatch) is the job source the pool sees (it
 * embeds struct batch, daemon/batch.h); a client connection is only its
 * sink, bound while it is there: control.c hands it the jobs it reads
 * (durable_job) and writes what the sink ops give it.  The batch outlives
 * the connection, and droverd too: at start-up, durable_open() reads
 * every batch back from the journal (before droverd listens), and
 * durable_start() queues their unfinished jobs again, each running one
 * when droverd died charged an attempt.
 *
 * The order of things, per batch: a job is recorded (journal_accept), and
 * ACCEPTED for it goes to the sink once its record is committed; a result
 * is recorded (journal_done, its place in the batch's results is its
 * rseq), counted and handed to the sink once committed, never before; the
 * sink says when it has written what it was handed (durable_written), and
 * only then is the batch's delivered mark moved.  A sink that binds to a
 * batch with results it has not taken gets them first, read back from the
 * journal in pages, then the new ones.
 *
 * Ownership: struct durable owns the journal and every dbatch; a dbatch
 * is freed only by retention or durable_free().  Everything runs on the
 * loop; the journal's writer thread is behind journal.h.
 */
#ifndef DROVER_DURABLE_H
#define DROVER_DURABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "status.h"
#include "resultrec.h"
#include "xbatch.h"

struct buf;
struct dbatch;
struct durable;
struct event_base;
struct pool;

struct durable_conf {
	const char	*path;
	double		 retention_s;	/* keep a completed batch; 0: ever */
	uint64_t	 max_mb;	/* refuse new batches above; 0: none */
};

struct durable_hooks {
	/* A live pool by name, or NULL. */
	struct pool	*(*pool)(const char *);
	/* The journal failed: no commit will follow.  Once. */
	void		 (*failed)(const char *);
};

/* The sink of a durable batch is any batch's (daemon/xbatch.h). */
#define durable_sink	xbatch_sink

/* Why a sink was lost when a second connection took its batch. */
#define DURABLE_TAKEN	XBATCH_TAKEN

/*
 * A stored result (rec, reclen): one byte of CTL_F_* flags saying which
 * sections it has, then a control RESULT's payload (common/ctl.h): the
 * metadata, those sections, the output or reason.
 */
#define DURABLE_REC_FLAGS(rec)	RESULTREC_FLAGS(rec)

struct durable	*durable_open(const struct durable_conf *,
		    const struct durable_hooks *, char *, size_t);
int		 durable_start(struct durable *, struct event_base *, char *,
		    size_t);
void		 durable_free(struct durable *);
const char	*durable_failure(const struct durable *);
bool		 durable_full(const struct durable *);

struct dbatch	*durable_batch(struct durable *, struct pool *, const char *,
		    const char *, const char *, char *, size_t);
struct dbatch	*durable_find(struct durable *, const char *);
struct xbatch	*durable_xbatch(struct dbatch *);
void		 durable_bind(struct dbatch *, const struct durable_sink *,
		    void *);
void		 durable_unbind(struct dbatch *, void *);
bool		 durable_job(struct dbatch *, uint64_t, const char *, size_t);
void		 durable_reject(struct dbatch *, uint64_t, const char *);
void		 durable_end(struct dbatch *);
void		 durable_cancel(struct dbatch *, const char *);
size_t		 durable_room(struct dbatch *);
void		 durable_hold(struct dbatch *, bool);
void		 durable_written(struct dbatch *);
bool		 durable_settled(const struct dbatch *);

const char	*durable_id(const struct dbatch *);
const char	*durable_pool_name(const struct dbatch *);
const char	*durable_state_name(const struct dbatch *);
uint64_t	 durable_next_id(const struct dbatch *);
uint64_t	 durable_jobs(const struct dbatch *);
uint64_t	 durable_done(const struct dbatch *);
bool		 durable_complete(const struct dbatch *);

/*
 * Reading a batch's results back (drover results): in id order, a page at
 * a time; after each page, page_end(), and the next one comes when the
 * caller says durable_read_more().  With wait, the first page is asked
 * only once the batch is complete.  end() once: NULL, or why it failed.
 */
struct dreader;
struct dreader_ops {
	void	(*result)(void *, uint64_t, enum job_status, const char *,
		    size_t);
	void	(*page_end)(void *);
	void	(*end)(void *, const char *);
};
struct dreader	*durable_read(struct durable *, struct dbatch *, bool,
		    const struct dreader_ops *, void *);
void		 durable_read_more(struct dreader *);
void		 durable_read_close(struct dreader *);

json_t		*durable_batches_json(struct durable *);
json_t		*durable_status_json(struct durable *);
void		 durable_metrics(struct durable *, struct buf *);

#endif

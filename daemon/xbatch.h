/*
 * A batch that outlives its connection (daemon/xbatch.h): a durable batch
 * in the journal (daemon/durable.c) or a shared batch on Redis Streams
 * (daemon/shared.c).  control.c drives either through these ops, and a
 * connection is only the batch's sink while it is bound: it hands over the
 * JOBs it reads, and writes what the sink ops give it.  docs/protocol.md
 * ("Durable batches", "Shared pools") has what a client sees.
 *
 * The rules every implementation keeps: ACCEPTED (sink->accepted) covers
 * only jobs its store has; a result is handed (sink->result) only once its
 * store has it; a JOB id below the batch's next id is a resend and is
 * ignored; a batch is not cancelled when its sink goes away.
 */
#ifndef DROVER_XBATCH_H
#define DROVER_XBATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "status.h"

struct xbatch;

/*
 * The connection that has a batch.  Each op is called on the loop, may
 * not unbind or free the batch, and is followed by no other call in the
 * same turn once lost() was called.
 */
struct xbatch_sink {
	/* Every job with an id up to id is stored; ended: the END too. */
	void	(*accepted)(void *, uint64_t, bool);
	/*
	 * A stored result: rec is its record (daemon/resultrec.h), valid
	 * during the call.
	 */
	void	(*result)(void *, uint64_t, enum job_status, const char *,
		    size_t);
	/* The batch's jobs will not run here now (why); the rest waits. */
	void	(*closing)(void *, const char *);
	/* room() may say more than 0 again. */
	void	(*room)(void *);
	/* Something changed: settled() may hold now. */
	void	(*kick)(void *);
	/* The batch was taken away (why): another connection, a failure. */
	void	(*lost)(void *, const char *);
};

/* Why a sink was lost when a second connection took its batch. */
#define XBATCH_TAKEN	"another connection took the batch"

struct xbatch_info {
	const char	*id;
	const char	*pool;
	const char	*state;		/* open, ended, complete */
	uint64_t	 next_id;	/* above every job id it holds */
	uint64_t	 jobs;		/* held */
	uint64_t	 done;		/* with a stored result */
	uint64_t	 failed;	/* of those, not ok */
	int64_t		 created;	/* Unix times; completed 0 until */
	int64_t		 completed;
};

/* A row of {"op":"batches"} (docs/protocol.md); shared: Redis's. */
static inline json_t *
xbatch_row_json(const struct xbatch_info *i, bool shared)
{
	json_t	*o;

	o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I}", "id", i->id,
	    "pool", i->pool, "state", i->state, "jobs", (json_int_t)i->jobs,
	    "done", (json_int_t)i->done, "failed", (json_int_t)i->failed,
	    "created", (json_int_t)i->created, "completed",
	    (json_int_t)i->completed);
	if (shared)
		json_object_set_new(o, "shared", json_true());
	return (o);
}

struct xbatch_ops {
	/* A JOB: false if ignored (a resend, or the store failed). */
	bool	(*job)(struct xbatch *, uint64_t, const char *, size_t);
	/* A JOB over max_job_bytes: held without its bytes, rejected. */
	void	(*reject)(struct xbatch *, uint64_t, const char *);
	void	(*end)(struct xbatch *);
	/* The client's CANCEL: its queued jobs end cancelled. */
	void	(*cancel)(struct xbatch *, const char *);
	/* Jobs it may take now; 0: sink->room() comes later. */
	size_t	(*room)(struct xbatch *);
	/* Start none of its jobs for now (the sink does not read). */
	void	(*hold)(struct xbatch *, bool);
	/* The sink wrote everything it was handed. */
	void	(*written)(struct xbatch *);
	/* Nothing more for the sink: BYE may go. */
	bool	(*settled)(const struct xbatch *);
	void	(*bind)(struct xbatch *, const struct xbatch_sink *, void *);
	void	(*unbind)(struct xbatch *, void *);
	void	(*info)(const struct xbatch *, struct xbatch_info *);
};

struct xbatch {
	const struct xbatch_ops	*ops;
};

/*
 * Reading a batch's results back (drover results): begin() once the batch
 * is found (its info for the REPLY), then result() for each, page_end()
 * after each page (the next comes with the reader's more()), and end()
 * once: NULL, or why it failed (before begin(): the batch is unknown).
 */
struct xreader_ops {
	void	(*begin)(void *, const struct xbatch_info *);
	void	(*result)(void *, uint64_t, enum job_status, const char *,
		    size_t);
	void	(*page_end)(void *);
	void	(*end)(void *, const char *);
};

#endif

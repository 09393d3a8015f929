/*
 * Durable batches over the journal (durable.h has the design; the wire
 * rules are docs/protocol.md's, "Durable batches").
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "batch.h"
#include "buf.h"
#include "ctl.h"
#include "durable.h"
#include "frame.h"
#include "job.h"
#include "journal.h"
#include "jsonw.h"
#include "log.h"
#include "pool.h"
#include "resultrec.h"
#include "poolconf.h"
#include "timer.h"
#include "xmalloc.h"

#define PENDING_HIGH	200000	/* records not yet committed: stop taking */
#define PENDING_LOW	50000	/* and take again below this */
#define PAGE_ROWS	1000	/* results a read of the journal */
#define SWEEP_US	(60 * 1000000ULL)	/* drop expired batches */

/* What waits for its commit, in the order it was recorded. */
enum went_kind {
	W_ACC,		/* jobs up to id */
	W_RES,		/* a result; its record in wbuf when kept */
	W_END,		/* the END */
};

struct went {
	uint64_t	 seq;
	uint64_t	 id;
	uint64_t	 rseq;
	uint32_t	 len;
	uint8_t		 kind;
	uint8_t		 status;
	bool		 kept;
};

/* A recovered job, to be queued again as the pool has room. */
struct rjob {
	uint64_t	 id;
	size_t		 off;
	uint32_t	 len;
	uint16_t	 runs;
	uint8_t		 charges;
};

struct dreader {
	struct durable		*d;
	struct dbatch		*db;
	const struct dreader_ops *ops;
	void			*arg;
	struct jquery		*q;
	int64_t			 after;
	bool			 waiting;	/* for the batch to complete */
	bool			 paused;	/* a page handed: more() */
	bool			 busy;		/* handing a page over */
	bool			 closed;	/* closed while busy */
	TAILQ_ENTRY(dreader)	 entry;
};

struct dbatch {
	struct batch		 b;		/* first: the pool sees this */
	struct xbatch		 xb;		/* what control.c sees */
	struct durable		*d;
	TAILQ_ENTRY(dbatch)	 entry;
	TAILQ_ENTRY(dbatch)	 dirty_entry;
	bool			 dirty;		/* has entries waiting */
	uint64_t		 key;
	char			*id;
	char			*pool_name;
	char			*client;
	int64_t			 created;
	int64_t			 completed;
	enum journal_batch_state state;
	uint64_t		 jobs;		/* held (accepted) */
	uint64_t		 done;		/* with a committed result */
	uint64_t		 failed;	/* of which not ok */
	uint64_t		 next_id;
	uint64_t		 rseq;		/* the next result's */
	uint64_t		 delivered;	/* rseq below: delivered */
	bool			 ended;		/* END recorded */
	bool			 ended_committed;
	bool			 have_acc;
	uint64_t		 acc_id;	/* committed up to */
	bool			 closing;	/* the pool stopped taking */
	int64_t			 unbound_at;	/* no sink since; 0: has one */
	bool			 cancelling;	/* our own pool_cancel() */
	bool			 wants_room;

	struct went		*w;		/* waiting, a FIFO */
	size_t			 wh, wn, wcap;
	struct buf		 wbuf;

	struct rjob		*rj;		/* recovered, to submit */
	size_t			 rjh, rjn, rjcap;
	struct buf		 rjbuf;

	const struct durable_sink *sink;
	void			*sarg;
	uint64_t		 live_from;	/* rseq handed as they come */
	uint64_t		 handed_hi;	/* last handed + 1; 0: none */
	struct jquery		*replay;
	int64_t			 replay_after;
	bool			 replaying;
	bool			 replay_paused;

	TAILQ_HEAD(, dreader)	 readers;
};

TAILQ_HEAD(dbatchq, dbatch);

struct durable {
	struct journal		*j;
	struct durable_hooks	 hooks;
	struct durable_conf	 conf;
	char			*path;
	struct event_base	*base;
	struct event		*ev_sweep;
	struct dbatchq		 batches;
	struct dbatchq		 dirty;
	struct buf		 pack;		/* a record being made */
	char			*failure;
	bool			 blocked;	/* sinks wait for the journal */
	uint64_t		 nbatches;
	char			 err[512];	/* recovery's */
};

static void	db_done(struct batch *, struct job *,
		    const struct jobresult *);
static void	db_room(struct batch *);
static void	db_closing(struct batch *, const char *);
static void	x_info(const struct xbatch *, struct xbatch_info *);
static void	db_started(struct batch *, struct job *);
static void	db_check_complete(struct dbatch *);
static void	db_replay_next(struct dbatch *);
static void	reader_go(struct dreader *);

static const struct xbatch_ops db_xops;

static const struct batch_ops db_ops = {
	.room = db_room,
	.done = db_done,
	.closing = db_closing,
	.started = db_started,
};

/* The FIFO of what waits for a commit. */
static struct went *
went_push(struct dbatch *db, enum went_kind kind, uint64_t seq)
{
	struct went	*e;

	if (db->wh != 0 && db->wh == db->wn)
		db->wh = db->wn = 0;
	if (db->wn == db->wcap) {
		if (db->wh > db->wcap / 2) {
			memmove(db->w, db->w + db->wh, (db->wn - db->wh) *
			    sizeof(*db->w));
			db->wn -= db->wh;
			db->wh = 0;
		} else {
			db->wcap = db->wcap ? db->wcap * 2 : 64;
			db->w = xreallocarray(db->w, db->wcap,
			    sizeof(*db->w));
		}
	}
	e = &db->w[db->wn++];
	memset(e, 0, sizeof(*e));
	e->kind = (uint8_t)kind;
	e->seq = seq;
	if (!db->dirty) {
		db->dirty = true;
		TAILQ_INSERT_TAIL(&db->d->dirty, db, dirty_entry);
	}
	return (e);
}

static struct dbatch *
db_new(struct durable *d, uint64_t key, const char *id, const char *pool,
    const char *client, int64_t created)
{
	struct dbatch	*db;

	db = xcalloc(1, sizeof(*db));
	db->b.ops = &db_ops;
	db->xb.ops = &db_xops;
	db->d = d;
	db->key = key;
	db->id = xstrdup(id);
	db->pool_name = xstrdup(pool);
	db->client = xstrdup(client != NULL ? client : "");
	db->created = created;
	db->unbound_at = (int64_t)time(NULL);
	buf_init(&db->wbuf);
	buf_init(&db->rjbuf);
	TAILQ_INIT(&db->readers);
	TAILQ_INSERT_TAIL(&d->batches, db, entry);
	d->nbatches++;
	return (db);
}

static void
db_free(struct dbatch *db)
{
	struct durable	*d = db->d;
	struct dreader	*r;

	while ((r = TAILQ_FIRST(&db->readers)) != NULL) {
		TAILQ_REMOVE(&db->readers, r, entry);
		r->db = NULL;
		journal_query_cancel(r->q);
		r->q = NULL;
		r->ops->end(r->arg, "the batch was deleted");
		free(r);
	}
	if (db->b.pool != NULL)
		pool_detach(db->b.pool, &db->b);
	if (db->dirty)
		TAILQ_REMOVE(&d->dirty, db, dirty_entry);
	journal_query_cancel(db->replay);
	TAILQ_REMOVE(&d->batches, db, entry);
	d->nbatches--;
	free(db->w);
	buf_free(&db->wbuf);
	free(db->rj);
	buf_free(&db->rjbuf);
	free(db->id);
	free(db->pool_name);
	free(db->client);
	free(db);
}

/* Leave the pool once nothing of ours is in it and it takes no more. */
static void
db_maybe_detach(struct dbatch *db)
{
	if (db->b.pool == NULL || !batch_idle(&db->b))
		return;
	if (db->closing || db->state == JOURNAL_BATCH_COMPLETE)
		pool_detach(db->b.pool, &db->b);
}

/* A job of the batch finished: record its result; hand it on commit. */
static void
db_done(struct batch *b, struct job *j, const struct jobresult *r)
{
	struct dbatch		*db = (struct dbatch *)b;
	struct durable		*d = db->d;
	struct journal_result	 res;
	struct went		*e;
	uint64_t		 seq;

	/*
	 * Cancelled because the pool stopped (drain, removed, stopped):
	 * not a result.  The job stays unfinished in the journal, to run
	 * when droverd or the pool is back.
	 */
	if (r->status == JOB_CANCELLED && db->closing && !db->cancelling) {
		/* Killed or never started by us: not an attempt of its own. */
		if (r->worker != 0)
			(void)journal_stopped(d->j, db->key, j->id);
		goto out;
	}
	resultrec_pack(&d->pack, j, r);
	memset(&res, 0, sizeof(res));
	res.batch = db->key;
	res.id = j->id;
	res.rseq = db->rseq;
	res.status = r->status;
	res.out = buf_data(&d->pack);
	res.outlen = buf_len(&d->pack);
	if ((seq = journal_done(d->j, &res)) == 0)
		goto out;		/* failed: durable_failed() says so */
	db->rseq++;
	e = went_push(db, W_RES, seq);
	e->id = j->id;
	e->rseq = res.rseq;
	e->status = (uint8_t)r->status;
	if (db->sink != NULL) {
		e->kept = true;
		e->len = (uint32_t)res.outlen;
		buf_add(&db->wbuf, res.out, res.outlen);
	}
out:
	db_maybe_detach(db);
}

static void
db_started(struct batch *b, struct job *j)
{
	struct dbatch	*db = (struct dbatch *)b;

	(void)journal_started(db->d->j, db->key, j->id, j->runs);
}

/* Queue recovered jobs while the pool has room; the room left. */
static size_t
db_submit_recovered(struct dbatch *db)
{
	struct pool	*p = db->b.pool;
	struct rjob	*r;
	size_t		 room;

	/* Stopping: what was recovered waits in the journal. */
	if (p == NULL || db->closing)
		return (0);
	room = pool_room(p);
	while (room > 0 && db->rjh < db->rjn) {
		r = &db->rj[db->rjh++];
		pool_resubmit(p, &db->b, r->id, buf_data(&db->rjbuf) + r->off,
		    r->len, r->charges, r->runs);
		room--;
		if (db->b.pool == NULL)
			return (0);
	}
	if (db->rjh == db->rjn && db->rjn != 0) {
		free(db->rj);
		db->rj = NULL;
		db->rjh = db->rjn = db->rjcap = 0;
		buf_free(&db->rjbuf);
		buf_init(&db->rjbuf);
	}
	if (db->rjh < db->rjn)
		pool_wait_room(p, &db->b);
	return (room);
}

static void
db_room(struct batch *b)
{
	struct dbatch	*db = (struct dbatch *)b;

	if (db_submit_recovered(db) == 0 && db->rjh < db->rjn)
		return;
	if (db->wants_room && db->sink != NULL) {
		db->wants_room = false;
		db->sink->room(db->sarg);
	}
}

/* The pool stops: what is queued waits in the journal instead. */
static void
db_closing(struct batch *b, const char *why)
{
	struct dbatch	*db = (struct dbatch *)b;

	db->closing = true;
	if (db->b.pool != NULL)
		pool_cancel(db->b.pool, &db->b, why);
	if (db->sink != NULL)
		db->sink->closing(db->sarg, why);
	db_maybe_detach(db);
	if (db->sink != NULL)
		db->sink->kick(db->sarg);
}

/* Complete once the END is in and every job it holds has its result. */
static void
db_check_complete(struct dbatch *db)
{
	struct dreader	*r, *next;

	if (db->state == JOURNAL_BATCH_COMPLETE || !db->ended_committed ||
	    db->done != db->jobs)
		return;
	db->state = JOURNAL_BATCH_COMPLETE;
	db->completed = (int64_t)time(NULL);
	(void)journal_batch_state(db->d->j, db->key, JOURNAL_BATCH_COMPLETE,
	    db->completed);
	db_maybe_detach(db);
	TAILQ_FOREACH_SAFE(r, &db->readers, entry, next)
		if (r->waiting) {
			r->waiting = false;
			reader_go(r);
		}
}

/*
 * Hand over what a commit made durable, batch by batch.  Each entry is
 * taken by value: the sink's result() may record a job (control.c reads
 * the client's next JOB when writing the result drains its output),
 * which pushes onto the FIFO and may reuse or move the entry's slot.
 */
static void
db_committed(struct dbatch *db, uint64_t seq)
{
	const struct durable_sink *sink;
	struct went	 e;
	bool		 acc = false;

	/*
	 * A copy of each entry: the sink may read more JOBs from within its
	 * call, and a new entry may move the FIFO.  The record it is handed
	 * is copied by the sink before it can write (and read) again.
	 */
	while (db->wh < db->wn && db->w[db->wh].seq <= seq) {
		e = db->w[db->wh++];
		switch (e.kind) {
		case W_ACC:
			db->have_acc = true;
			db->acc_id = e.id;
			acc = true;
			break;
		case W_END:
			db->ended_committed = true;
			acc = true;
			break;
		default:
			db->done++;
			if (e.status != JOB_OK)
				db->failed++;
			if (db->sink != NULL && e.rseq >= db->live_from &&
			    e.kept) {
				db->handed_hi = e.rseq + 1;
				db->sink->result(db->sarg, e.id,
				    (enum job_status)e.status,
				    buf_data(&db->wbuf), e.len);
			}
			if (e.kept)
				buf_consume(&db->wbuf, e.len);
			break;
		}
	}
	if (db->wh == db->wn) {
		db->wh = db->wn = 0;
		TAILQ_REMOVE(&db->d->dirty, db, dirty_entry);
		db->dirty = false;
	}
	sink = db->sink;
	if (acc && sink != NULL && (db->have_acc || db->ended_committed))
		sink->accepted(db->sarg, db->acc_id, db->ended_committed);
	db_check_complete(db);
	if (db->sink != NULL)
		db->sink->kick(db->sarg);
}

static void
on_committed(void *arg, uint64_t seq)
{
	struct durable	*d = arg;
	struct dbatch	*db, *next;

	TAILQ_FOREACH_SAFE(db, &d->dirty, dirty_entry, next)
		db_committed(db, seq);
	if (d->blocked && journal_pending(d->j) < PENDING_LOW) {
		d->blocked = false;
		TAILQ_FOREACH(db, &d->batches, entry)
			if (db->wants_room && db->sink != NULL) {
				db->wants_room = false;
				db->sink->room(db->sarg);
			}
	}
}

/*
 * The journal failed: nothing more is acknowledged or handed over.  The
 * sinks are told, the supervisor fails the durable pools, /healthz says
 * 503 (durable_failure()).
 */
static void
on_failed(void *arg, const char *why)
{
	struct durable	*d = arg;
	struct dbatch	*db;
	struct dreader	*r, *rnext;
	char		 msg[600];

	if (d->failure != NULL)
		return;
	snprintf(msg, sizeof(msg), "journal failed: %s", why);
	d->failure = xstrdup(msg);
	log_emit(LOG_ERR, "%s", d->failure);
	TAILQ_FOREACH(db, &d->batches, entry) {
		if (db->sink != NULL)
			db->sink->lost(db->sarg, d->failure);
		/* A reader waiting for completion: it will not come now. */
		TAILQ_FOREACH_SAFE(r, &db->readers, entry, rnext)
			if (r->waiting) {
				r->waiting = false;
				reader_go(r);
			}
	}
	if (d->hooks.failed != NULL)
		d->hooks.failed(d->failure);
}

static const struct journal_hooks jhooks = { on_committed, on_failed };

/* Recovery: the batches, then their unfinished jobs. */
static int
rec_batch(void *arg, const struct journal_batchrec *b)
{
	struct durable	*d = arg;
	struct dbatch	*db;

	db = db_new(d, b->key, b->id, b->pool, b->client, b->created);
	db->completed = b->completed;
	db->state = b->state < JOURNAL_BATCH_NSTATES ? b->state :
	    JOURNAL_BATCH_OPEN;
	db->jobs = b->jobs;
	db->done = b->done;
	db->failed = b->failed;
	db->next_id = b->next_id;
	db->rseq = b->next_rseq;
	db->delivered = b->delivered;
	db->ended = db->ended_committed = db->state != JOURNAL_BATCH_OPEN;
	if (b->jobs != 0) {
		db->have_acc = true;
		db->acc_id = b->next_id - 1;
	}
	return (0);
}

static int
rec_job(void *arg, const struct journal_jobrec *jr)
{
	struct durable	*d = arg;
	struct dbatch	*db = TAILQ_LAST(&d->batches, dbatchq);
	struct rjob	*r;

	/* Jobs come in batch order: the batch is the last, or a later one. */
	if (db == NULL || db->key != jr->batch)
		TAILQ_FOREACH(db, &d->batches, entry)
			if (db->key == jr->batch)
				break;
	if (db == NULL) {
		snprintf(d->err, sizeof(d->err), "a job of batch key %llu, "
		    "which the journal does not have",
		    (unsigned long long)jr->batch);
		return (-1);
	}
	if (jr->datalen > UINT32_MAX) {
		snprintf(d->err, sizeof(d->err), "batch %s job %llu: %zu "
		    "bytes", db->id, (unsigned long long)jr->id, jr->datalen);
		return (-1);
	}
	if (db->rjn == db->rjcap) {
		db->rjcap = db->rjcap ? db->rjcap * 2 : 64;
		db->rj = xreallocarray(db->rj, db->rjcap, sizeof(*db->rj));
	}
	r = &db->rj[db->rjn++];
	r->id = jr->id;
	r->off = buf_len(&db->rjbuf);
	r->len = (uint32_t)jr->datalen;
	r->runs = jr->runs > UINT16_MAX ? UINT16_MAX : (uint16_t)jr->runs;
	r->charges = jr->attempts > UINT8_MAX ? UINT8_MAX :
	    (uint8_t)jr->attempts;
	buf_add(&db->rjbuf, jr->data, jr->datalen);
	return (0);
}

static const struct journal_recover_ops rops = { rec_batch, rec_job, NULL };

/*
 * Open the journal and read every batch back into memory, before droverd
 * listens; nothing runs yet (durable_start).  NULL with err on failure.
 */
struct durable *
durable_open(const struct durable_conf *conf,
    const struct durable_hooks *hooks, char *err, size_t errlen)
{
	struct journal_conf	 jc;
	struct durable		*d;
	struct dbatch		*db;
	uint64_t		 njobs = 0, charged = 0;
	size_t			 i;

	d = xcalloc(1, sizeof(*d));
	d->hooks = *hooks;
	d->conf = *conf;
	d->path = xstrdup(conf->path);
	d->conf.path = d->path;
	TAILQ_INIT(&d->batches);
	TAILQ_INIT(&d->dirty);
	buf_init(&d->pack);
	memset(&jc, 0, sizeof(jc));
	jc.path = d->path;
	jc.retention_s = (uint64_t)conf->retention_s;
	jc.max_bytes = conf->max_mb << 20;
	if ((d->j = journal_open(&jc, err, errlen)) == NULL)
		goto fail;
	if (journal_recover(d->j, &rops, d, err, errlen) == -1) {
		if (d->err[0] != '\0')
			snprintf(err, errlen, "journal %s: %s", d->path,
			    d->err);
		goto fail;
	}
	TAILQ_FOREACH(db, &d->batches, entry) {
		njobs += db->rjn;
		for (i = 0; i < db->rjn; i++)
			charged += db->rj[i].charges != 0;
	}
	log_info("journal %s: %llu batches, %llu unfinished jobs (%llu "
	    "charged an attempt)", d->path, (unsigned long long)d->nbatches,
	    (unsigned long long)njobs, (unsigned long long)charged);
	return (d);
fail:
	durable_free(d);
	return (NULL);
}

/* How often to look: a minute, or half the retention if shorter. */
static uint64_t
sweep_us(const struct durable *d)
{
	double	 us = d->conf.retention_s * 1e6 / 2;

	if (us > (double)SWEEP_US)
		return (SWEEP_US);
	return (us < 100000 ? 100000 : (uint64_t)us);
}

/* Drop completed batches past their retention (the journal does too). */
static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct durable	*d = arg;
	struct dbatch	*db, *next;
	int64_t		 limit;

	(void)fd;
	(void)what;
	limit = (int64_t)time(NULL) - (int64_t)d->conf.retention_s;
	TAILQ_FOREACH_SAFE(db, &d->batches, entry, next) {
		/*
		 * An open batch whose client left without END and has not
		 * come back for a retention period ends: it completes once
		 * its jobs have run, and retention can take it then.
		 */
		if (db->state == JOURNAL_BATCH_OPEN && db->sink == NULL &&
		    db->unbound_at != 0 && db->unbound_at <= limit) {
			log_info("journal: batch %s: no client for %.0f s "
			    "and no END: ended", db->id, d->conf.retention_s);
			durable_end(db);
			continue;
		}
		if (db->state == JOURNAL_BATCH_COMPLETE &&
		    db->completed <= limit && db->sink == NULL &&
		    TAILQ_EMPTY(&db->readers) && db->b.pool == NULL)
			db_free(db);
	}
	timer_arm_us(d->ev_sweep, sweep_us(d));
}

/*
 * Start the writer, then queue every recovered job on its pool (the pools
 * exist now).  A batch whose pool is not configured keeps its jobs in
 * the journal until one is.
 */
int
durable_start(struct durable *d, struct event_base *base, char *err,
    size_t errlen)
{
	struct dbatch	*db, *next;
	struct pool	*p;

	d->base = base;
	if (journal_start(d->j, base, &jhooks, d, err, errlen) == -1)
		return (-1);
	if (d->conf.retention_s > 0) {
		d->ev_sweep = evtimer_new(base, sweep_cb, d);
		timer_arm_us(d->ev_sweep, sweep_us(d));
	}
	TAILQ_FOREACH_SAFE(db, &d->batches, entry, next) {
		if (db->state == JOURNAL_BATCH_COMPLETE)
			continue;
		if ((p = d->hooks.pool(db->pool_name)) == NULL) {
			log_warnx("journal: batch %s: pool %s is not "
			    "configured; its %zu unfinished jobs wait in the "
			    "journal", db->id, db->pool_name,
			    db->rjn - db->rjh);
			continue;
		}
		pool_attach(p, &db->b);
		db_submit_recovered(db);
		db_check_complete(db);
	}
	return (0);
}

/* Commit what is queued, stop the writer, drop every batch. */
void
durable_free(struct durable *d)
{
	struct dbatch	*db;

	if (d == NULL)
		return;
	journal_close(d->j);	/* answers and hooks are dropped */
	d->j = NULL;
	while ((db = TAILQ_FIRST(&d->batches)) != NULL) {
		db->sink = NULL;
		db_free(db);
	}
	if (d->ev_sweep != NULL)
		event_free(d->ev_sweep);
	buf_free(&d->pack);
	free(d->failure);
	free(d->path);
	free(d);
}

const char *
durable_failure(const struct durable *d)
{
	return (d->failure);
}

bool
durable_full(const struct durable *d)
{
	return (journal_over_limit(d->j));
}

struct dbatch *
durable_find(struct durable *d, const char *id)
{
	struct dbatch	*db;

	TAILQ_FOREACH(db, &d->batches, entry)
		if (strcmp(db->id, id) == 0)
			return (db);
	return (NULL);
}

/*
 * A batch for a submit to pool p: a new one (id NULL), or the one named,
 * to go on with after a reconnect.  NULL with the client's error in err.
 */
struct dbatch *
durable_batch(struct durable *d, struct pool *p, const char *id,
    const char *client, const char *pool, char *err, size_t errlen)
{
	struct dbatch	*db;
	char		 nid[JOURNAL_ID_LEN + 1];
	uint64_t	 key;
	int64_t		 now = (int64_t)time(NULL);

	if (d->failure != NULL) {
		snprintf(err, errlen, "%s", d->failure);
		return (NULL);
	}
	if (id != NULL) {
		if ((db = durable_find(d, id)) == NULL) {
			snprintf(err, errlen, "unknown batch '%s'", id);
			return (NULL);
		}
		if (strcmp(db->pool_name, pool) != 0) {
			snprintf(err, errlen, "batch %s is of pool '%s', not "
			    "'%s'", id, db->pool_name, pool);
			return (NULL);
		}
		/* Complete: what it has not had is replayed, then BYE. */
		if (db->state == JOURNAL_BATCH_COMPLETE)
			return (db);
		if (db->b.pool != p) {
			snprintf(err, errlen, "batch %s waits for droverd to "
			    "restart: its pool stopped while it ran", id);
			return (NULL);
		}
		return (db);
	}
	if (journal_over_limit(d->j)) {
		snprintf(err, errlen, "journal is full (journal_max_mb %llu): "
		    "no new batches until retention frees room",
		    (unsigned long long)d->conf.max_mb);
		return (NULL);
	}
	journal_new_id(nid);
	if (journal_batch(d->j, nid, pool, client, now, &key) == 0) {
		snprintf(err, errlen, "%s", d->failure != NULL ? d->failure :
		    "journal failed");
		return (NULL);
	}
	db = db_new(d, key, nid, pool, client, now);
	pool_attach(p, &db->b);
	return (db);
}

/* Replay: the results the last sink did not take, a page at a time. */
static void
replay_page(void *arg, const struct journal_result *r, size_t n, bool more)
{
	struct dbatch	*db = arg;
	size_t		 i;

	db->replay = NULL;
	if (r == NULL || db->sink == NULL) {
		db->replaying = false;
		return;			/* failed: the sink is told */
	}
	for (i = 0; i < n && db->sink != NULL; i++)
		db->sink->result(db->sarg, r[i].id, r[i].status, r[i].out,
		    r[i].outlen);
	if (db->sink == NULL)
		return;
	if (more && n != 0) {
		db->replay_after = (int64_t)r[n - 1].id;
		db->replay_paused = true;
	} else
		db->replaying = false;
	db->sink->kick(db->sarg);
}

static void
db_replay_next(struct dbatch *db)
{
	struct journal_query_args	 a;

	memset(&a, 0, sizeof(a));
	a.batch = db->key;
	a.after = db->replay_after;
	a.rseq_lo = db->delivered;
	a.rseq_hi = db->live_from;
	a.limit = PAGE_ROWS;
	db->replay_paused = false;
	if ((db->replay = journal_query(db->d->j, &a, replay_page, db)) ==
	    NULL)
		db->replaying = false;
}

/*
 * A connection takes the batch (a second one replaces the first).  The
 * results it has not had come first, from the journal; then the new ones
 * as they are committed.
 */
void
durable_bind(struct dbatch *db, const struct durable_sink *sink, void *arg)
{
	if (db->sink != NULL) {
		journal_query_cancel(db->replay);
		db->replay = NULL;
		db->sink->lost(db->sarg, DURABLE_TAKEN);
	}
	db->sink = sink;
	db->sarg = arg;
	db->unbound_at = 0;
	db->live_from = db->rseq;
	db->handed_hi = 0;
	db->wants_room = false;
	db->replaying = db->delivered < db->live_from;
	db->replay_after = -1;
	/* What is committed already: a detached client waits for it. */
	if (db->have_acc || db->ended_committed)
		sink->accepted(arg, db->acc_id, db->ended_committed);
	if (db->replaying && db->sink == sink && db->sarg == arg)
		db_replay_next(db);
}

void
durable_unbind(struct dbatch *db, void *arg)
{
	if (db->sarg != arg || db->sink == NULL)
		return;
	journal_query_cancel(db->replay);
	db->replay = NULL;
	db->replaying = db->replay_paused = false;
	db->sink = NULL;
	db->sarg = NULL;
	db->wants_room = false;
	db->unbound_at = (int64_t)time(NULL);
}

/*
 * Record a job of the batch: false for a resend of an id the batch has
 * (ids increase), or once the journal failed.
 */
static bool
db_accept(struct dbatch *db, uint64_t id, const char *data, size_t len)
{
	struct went	*e;
	uint64_t	 seq;

	if (id < db->next_id || db->ended)
		return (false);
	if ((seq = journal_accept(db->d->j, db->key, id, data, len)) == 0)
		return (false);
	db->next_id = id + 1;
	db->jobs++;
	/* One entry says it all for a run of accepts. */
	if (db->wn > db->wh && db->w[db->wn - 1].kind == W_ACC)
		e = &db->w[db->wn - 1];
	else
		e = went_push(db, W_ACC, seq);
	e->seq = seq;
	e->id = id;
	return (true);
}

/*
 * A JOB: recorded and queued, or false if ignored (a resend).  It may run
 * before its record is committed; its result is recorded after it, so a
 * committed result always has its job.
 */
bool
durable_job(struct dbatch *db, uint64_t id, const char *data, size_t len)
{
	if (!db_accept(db, id, data, len))
		return (false);
	if (db->b.pool != NULL)
		pool_submit(db->b.pool, &db->b, id, data, len);
	return (true);
}

/* A JOB over max_job_bytes: held (without its bytes), and rejected. */
void
durable_reject(struct dbatch *db, uint64_t id, const char *why)
{
	if (db->b.pool != NULL && db_accept(db, id, "", 0))
		pool_reject(db->b.pool, &db->b, id, why);
}

void
durable_end(struct dbatch *db)
{
	uint64_t	 seq;

	if (db->ended)
		return;
	db->ended = true;
	if (db->state == JOURNAL_BATCH_OPEN)
		db->state = JOURNAL_BATCH_ENDED;
	seq = journal_batch_state(db->d->j, db->key, JOURNAL_BATCH_ENDED, 0);
	if (seq != 0)
		(void)went_push(db, W_END, seq);
}

/* The client's CANCEL: its queued jobs end cancelled, for good. */
void
durable_cancel(struct dbatch *db, const char *why)
{
	struct jobresult	 r;
	struct job		 j;
	struct rjob		*rj;

	if (db->b.pool != NULL) {
		db->cancelling = true;
		pool_cancel(db->b.pool, &db->b, why);
		db->cancelling = false;
	}
	memset(&r, 0, sizeof(r));
	r.status = JOB_CANCELLED;
	r.out = why;
	r.outlen = strlen(why);
	while (db->rjh < db->rjn) {
		rj = &db->rj[db->rjh++];
		memset(&j, 0, sizeof(j));
		j.id = rj->id;
		j.data = buf_data(&db->rjbuf) + rj->off;
		j.len = rj->len;
		db->cancelling = true;
		db_done(&db->b, &j, &r);
		db->cancelling = false;
	}
	durable_end(db);
}

/* How many more jobs may come now; 0: the sink's room() comes later. */
size_t
durable_room(struct dbatch *db)
{
	size_t	 room;

	/* Ended (a resend after a reconnect): what comes is ignored. */
	if (db->ended)
		return (PENDING_HIGH);
	if (db->b.pool == NULL || db->d->failure != NULL)
		return (0);
	if (journal_pending(db->d->j) > PENDING_HIGH) {
		db->d->blocked = true;
		db->wants_room = true;
		return (0);
	}
	if (db->rjh < db->rjn && db_submit_recovered(db) == 0) {
		db->wants_room = true;
		return (0);
	}
	if ((room = pool_room(db->b.pool)) == 0) {
		db->wants_room = true;
		pool_wait_room(db->b.pool, &db->b);
	}
	return (room);
}

void
durable_hold(struct dbatch *db, bool on)
{
	if (db->b.pool != NULL)
		pool_hold(db->b.pool, &db->b, on);
}

/*
 * The sink wrote everything it was handed: the replay goes on, or the
 * delivered mark moves up to what was handed (results it has, for sure,
 * need not come again after a reconnect).
 */
void
durable_written(struct dbatch *db)
{
	uint64_t	 upto;

	if (db->sink == NULL)
		return;
	if (db->replaying) {
		if (db->replay_paused && db->replay == NULL)
			db_replay_next(db);
		return;
	}
	upto = db->handed_hi != 0 ? db->handed_hi : db->live_from;
	if (upto > db->delivered) {
		db->delivered = upto;
		(void)journal_delivered(db->d->j, db->key, upto);
	}
}

/*
 * Nothing more for the sink: every job has its result handed over and
 * the END is committed, or the pool stopped and what ran has ended.
 */
bool
durable_settled(const struct dbatch *db)
{
	if (db->replaying || db->wh != db->wn)
		return (false);
	if (db->closing)
		return (db->b.pool == NULL);
	return (db->ended_committed && db->done == db->jobs);
}

const char *
durable_id(const struct dbatch *db)
{
	return (db->id);
}

const char *
durable_pool_name(const struct dbatch *db)
{
	return (db->pool_name);
}

const char *
durable_state_name(const struct dbatch *db)
{
	return (journal_batch_state_name(db->state));
}

uint64_t
durable_next_id(const struct dbatch *db)
{
	return (db->next_id);
}

uint64_t
durable_jobs(const struct dbatch *db)
{
	return (db->jobs);
}

uint64_t
durable_done(const struct dbatch *db)
{
	return (db->done);
}

bool
durable_complete(const struct dbatch *db)
{
	return (db->state == JOURNAL_BATCH_COMPLETE);
}

/* Reading results back, for drover results. */
static void
reader_page(void *arg, const struct journal_result *r, size_t n, bool more)
{
	struct dreader		*rd = arg;
	const struct dreader_ops *ops;
	void			*carg;
	const char		*why;
	size_t			 i;

	rd->q = NULL;
	if (r == NULL) {
		ops = rd->ops;
		carg = rd->arg;
		why = rd->d->failure != NULL ? rd->d->failure :
		    "journal failed";
		durable_read_close(rd);
		ops->end(carg, why);
		return;
	}
	rd->busy = true;
	for (i = 0; i < n && !rd->closed; i++)
		rd->ops->result(rd->arg, r[i].id, r[i].status, r[i].out,
		    r[i].outlen);
	rd->busy = false;
	if (rd->closed) {		/* the caller went away meanwhile */
		free(rd);
		return;
	}
	if (more && n != 0) {
		rd->after = (int64_t)r[n - 1].id;
		rd->paused = true;
		rd->ops->page_end(rd->arg);
		return;
	}
	ops = rd->ops;
	carg = rd->arg;
	durable_read_close(rd);
	ops->end(carg, NULL);
}

/* Ask for the next page; -1 if the journal cannot be asked. */
static int
reader_start(struct dreader *rd)
{
	struct journal_query_args	 a;

	memset(&a, 0, sizeof(a));
	a.batch = rd->db->key;
	a.after = rd->after;
	a.rseq_hi = UINT64_MAX;
	a.limit = PAGE_ROWS;
	rd->paused = false;
	rd->q = journal_query(rd->d->j, &a, reader_page, rd);
	return (rd->q != NULL ? 0 : -1);
}

/* reader_start(), or the end of the reader if the journal is gone. */
static void
reader_go(struct dreader *rd)
{
	const struct dreader_ops *ops = rd->ops;
	void		*arg = rd->arg;
	const char	*why;

	if (reader_start(rd) == 0)
		return;
	why = rd->d->failure != NULL ? rd->d->failure : "journal failed";
	durable_read_close(rd);
	ops->end(arg, why);
}

/*
 * Read batch db's results back, in id order; with wait, once it is
 * complete.  After ops->end() the reader is gone; before it, the caller
 * may drop it with durable_read_close().
 */
struct dreader *
durable_read(struct durable *d, struct dbatch *db, bool wait,
    const struct dreader_ops *ops, void *arg)
{
	struct dreader	*rd;

	rd = xcalloc(1, sizeof(*rd));
	rd->d = d;
	rd->db = db;
	rd->ops = ops;
	rd->arg = arg;
	rd->after = -1;
	TAILQ_INSERT_TAIL(&db->readers, rd, entry);
	if (wait && db->state != JOURNAL_BATCH_COMPLETE)
		rd->waiting = true;
	else if (reader_start(rd) == -1) {
		durable_read_close(rd);
		return (NULL);
	}
	return (rd);
}

void
durable_read_more(struct dreader *rd)
{
	if (rd->paused && rd->q == NULL)
		reader_go(rd);
}

/* Unlink the reader; it is freed (its answer, if one is due, dropped). */
void
durable_read_close(struct dreader *rd)
{
	if (rd->closed)
		return;
	if (rd->db != NULL)
		TAILQ_REMOVE(&rd->db->readers, rd, entry);
	rd->db = NULL;
	journal_query_cancel(rd->q);
	rd->q = NULL;
	if (rd->busy)
		rd->closed = true;
	else
		free(rd);
}

/* drover batches: every batch, oldest first. */
json_t *
durable_batches_json(struct durable *d)
{
	struct dbatch		*db;
	struct xbatch_info	 i;
	json_t			*a = json_array();

	TAILQ_FOREACH(db, &d->batches, entry) {
		x_info(&db->xb, &i);
		json_array_append_new(a, xbatch_row_json(&i, false));
	}
	return (a);
}

/* The journal's part of the status object. */
json_t *
durable_status_json(struct durable *d)
{
	struct journal_stats	 st;
	json_t			*o;

	journal_get_stats(d->j, &st);
	o = json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:{s:I,s:I,s:I}}",
	    "path", d->path, "state", d->failure != NULL ? "failed" :
	    journal_over_limit(d->j) ? "full" : "ok",
	    "bytes", (json_int_t)st.bytes, "live_bytes",
	    (json_int_t)st.live_bytes, "commits", (json_int_t)st.commits,
	    "rows", (json_int_t)st.rows, "pending",
	    (json_int_t)(st.seq - st.durable), "deleted_batches",
	    (json_int_t)st.evicted_batches, "batches",
	    "open", (json_int_t)st.batches[JOURNAL_BATCH_OPEN],
	    "ended", (json_int_t)st.batches[JOURNAL_BATCH_ENDED],
	    "complete", (json_int_t)st.batches[JOURNAL_BATCH_COMPLETE]);
	if (d->failure != NULL)
		json_object_set_new(o, "failure", jsonw_text(d->failure));
	return (o);
}

/* A histogram in the exposition format, buckets at the given bounds. */
static void
metrics_hist(struct buf *b, const char *name, const struct hist *h,
    const double *le, size_t n, double scale)
{
	uint64_t	 c;
	size_t		 i;
	unsigned	 k;

	for (i = 0; i < n; i++) {
		c = 0;
		for (k = 0; k < HIST_NBUCKETS &&
		    hist_bucket_high(k) <= (uint64_t)(le[i] * scale); k++)
			c += h->b[k];
		buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, le[i],
		    (unsigned long long)c);
	}
	buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name,
	    (unsigned long long)h->count);
	buf_printf(b, "%s_sum %.6f\n", name, (double)h->sum / scale);
	buf_printf(b, "%s_count %llu\n", name, (unsigned long long)h->count);
}

/* The journal's metrics (docs/architecture.md lists them). */
void
durable_metrics(struct durable *d, struct buf *b)
{
	static const double	 lat[] = { 0.0001, 0.00025, 0.0005, 0.001,
	    0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1 };
	static const double	 rows[] = { 1, 10, 100, 1000, 10000 };
	struct journal_stats	 st;

	journal_get_stats(d->j, &st);
	buf_printf(b, "# HELP drover_journal_commits_total Transactions "
	    "committed to the journal.\n# TYPE drover_journal_commits_total "
	    "counter\ndrover_journal_commits_total %llu\n",
	    (unsigned long long)st.commits);
	buf_printf(b, "# HELP drover_journal_rows_total Rows committed.\n"
	    "# TYPE drover_journal_rows_total counter\n"
	    "drover_journal_rows_total %llu\n", (unsigned long long)st.rows);
	buf_printf(b, "# HELP drover_journal_commit_seconds BEGIN to COMMIT "
	    "of a journal transaction, fsync included.\n"
	    "# TYPE drover_journal_commit_seconds histogram\n");
	metrics_hist(b, "drover_journal_commit_seconds", &st.commit_us, lat,
	    sizeof(lat) / sizeof(lat[0]), 1e6);
	buf_printf(b, "# HELP drover_journal_rows_per_commit Rows in a "
	    "journal transaction.\n"
	    "# TYPE drover_journal_rows_per_commit histogram\n");
	metrics_hist(b, "drover_journal_rows_per_commit", &st.rows_hist, rows,
	    sizeof(rows) / sizeof(rows[0]), 1);
	buf_printf(b, "# HELP drover_journal_bytes Size of the journal file "
	    "(live: less its free pages).\n# TYPE drover_journal_bytes gauge\n"
	    "drover_journal_bytes{kind=\"file\"} %llu\n"
	    "drover_journal_bytes{kind=\"live\"} %llu\n",
	    (unsigned long long)st.bytes, (unsigned long long)st.live_bytes);
	buf_printf(b, "# HELP drover_journal_pending Records not yet "
	    "committed.\n# TYPE drover_journal_pending gauge\n"
	    "drover_journal_pending %llu\n",
	    (unsigned long long)(st.seq - st.durable));
	buf_printf(b, "# HELP drover_batches Durable batches by state.\n"
	    "# TYPE drover_batches gauge\n"
	    "drover_batches{state=\"open\"} %llu\n"
	    "drover_batches{state=\"ended\"} %llu\n"
	    "drover_batches{state=\"complete\"} %llu\n",
	    (unsigned long long)st.batches[JOURNAL_BATCH_OPEN],
	    (unsigned long long)st.batches[JOURNAL_BATCH_ENDED],
	    (unsigned long long)st.batches[JOURNAL_BATCH_COMPLETE]);
	buf_printf(b, "# HELP drover_journal_failed 1 once the journal "
	    "failed.\n# TYPE drover_journal_failed gauge\n"
	    "drover_journal_failed %d\n", d->failure != NULL);
}

/* The xbatch ops (daemon/xbatch.h): control.c's view of a durable batch. */
#define XDB(x)	((struct dbatch *)(void *)((char *)(x) - \
		    offsetof(struct dbatch, xb)))
#define CXDB(x)	((const struct dbatch *)(const void *)((const char *)(x) - \
		    offsetof(struct dbatch, xb)))

struct xbatch *
durable_xbatch(struct dbatch *db)
{
	return (&db->xb);
}

static bool
x_job(struct xbatch *x, uint64_t id, const char *p, size_t len)
{
	return (durable_job(XDB(x), id, p, len));
}

static void
x_reject(struct xbatch *x, uint64_t id, const char *why)
{
	durable_reject(XDB(x), id, why);
}

static void
x_end(struct xbatch *x)
{
	durable_end(XDB(x));
}

static void
x_cancel(struct xbatch *x, const char *why)
{
	durable_cancel(XDB(x), why);
}

static size_t
x_room(struct xbatch *x)
{
	return (durable_room(XDB(x)));
}

static void
x_hold(struct xbatch *x, bool on)
{
	durable_hold(XDB(x), on);
}

static void
x_written(struct xbatch *x)
{
	durable_written(XDB(x));
}

static bool
x_settled(const struct xbatch *x)
{
	return (durable_settled(CXDB(x)));
}

static void
x_bind(struct xbatch *x, const struct xbatch_sink *sink, void *arg)
{
	durable_bind(XDB(x), sink, arg);
}

static void
x_unbind(struct xbatch *x, void *arg)
{
	durable_unbind(XDB(x), arg);
}

static void
x_info(const struct xbatch *x, struct xbatch_info *i)
{
	const struct dbatch	*db = CXDB(x);

	i->id = db->id;
	i->pool = db->pool_name;
	i->state = journal_batch_state_name(db->state);
	/* What is committed: the client may drop its jobs below it. */
	i->next_id = db->have_acc ? db->acc_id + 1 : 0;
	i->jobs = db->jobs;
	i->done = db->done;
	i->failed = db->failed;
	i->created = db->created;
	i->completed = db->completed;
}

static const struct xbatch_ops db_xops = {
	.job = x_job,
	.reject = x_reject,
	.end = x_end,
	.cancel = x_cancel,
	.room = x_room,
	.hold = x_hold,
	.written = x_written,
	.settled = x_settled,
	.bind = x_bind,
	.unbind = x_unbind,
	.info = x_info,
};

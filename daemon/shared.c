/*
 * Shared pools on Redis Streams (shared.h has the design; the keys and
 * the recovery timeline are in docs/architecture.md, "Shared pools").
 *
 * Keys, for pool P and batch B:
 *	drover:{P}:q	the pool's stream of jobs: b (batch), i (job id),
 *			d (the job's bytes)
 *	drover:{P}:g	its consumer group, one consumer per node
 *			(HOST:PID:NONCE)
 *	drover:{B}:r	the batch's stream of results: i, s (status), r (the
 *			result's record, resultrec.h), n (the node)
 *	drover:{B}:m	the batch's hash: pool, node, created, next (above
 *			every job id ACCEPTED), jobs (how many), ended
 */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "batch.h"
#include "buf.h"
#include "clock.h"
#include "idset.h"
#include "job.h"
#include "journal.h"
#include "jsonw.h"
#include "log.h"
#include "pool.h"
#include "poolconf.h"
#include "redis.h"
#include "resultrec.h"
#include "shared.h"
#include "timer.h"
#include "xmalloc.h"

#define CMD_TIMEOUT_US	(5 * 1000000ULL)
#define BLOCK_MS	1000		/* XREADGROUP and XREAD BLOCK */
#define READ_MAX	500		/* entries a read, at most */
#define XADD_HIGH	20000		/* XADDs in flight: stop taking */
#define XADD_LOW	5000
#define FOLLOW_MAX	64		/* result streams an XREAD follows */
#define STATS_US	1000000ULL
#define PAGE		1000

/* An entry of a pool's stream, running here. */
struct sjob {
	char		 eid[48];
	char		 batch[JOURNAL_ID_LEN + 1];
	uint64_t	 jid;
	unsigned	 deliveries;	/* by Redis, this one included */
	uint32_t	 next_free;	/* +1; 0: end of the free list */
	bool		 used;
};

/* The consumer of one shared pool on this node. */
struct spool {
	struct batch		 b;		/* first: the pool sees this */
	struct shared		*sh;
	TAILQ_ENTRY(spool)	 entry;
	char			*name;
	char			*q;
	char			*g;
	struct pool		*pool;
	struct rconn		*blk;		/* XREADGROUP BLOCK */
	long long		 blk_client;	/* its CLIENT ID; -1 unknown */
	bool			 group_ok;
	bool			 reading;
	bool			 own;		/* reading own pending first */
	char			 own_cursor[48];
	bool			 claiming;
	char			 claim_cursor[48];
	bool			 closing;
	struct sjob		*slab;
	uint32_t		 ncap;
	uint32_t		 free_head;	/* +1 */
	uint32_t		 inflight;
	struct event		*ev_beat;	/* refresh our entries' idle */
	struct event		*ev_claim;	/* XAUTOCLAIM the dead's */
	struct event		*ev_stats;
	struct event		*ev_retry;	/* after an error reply */
	/* Cached from XLEN and XPENDING, for status and metrics. */
	long long		 length;
	long long		 pending;
	json_t			*consumers;
	uint64_t		 claimed;	/* from silent consumers */
	uint64_t		 acked;
	uint64_t		 crashed;	/* no attempts left, claimed */
	uint64_t		 deleted;	/* pending, bytes gone: acked */
	uint64_t		 returned;	/* given back unstarted */
};

/* A batch submitted through this node (an xbatch for control.c). */
struct sbatch {
	struct xbatch		 xb;
	struct shared		*sh;
	TAILQ_ENTRY(sbatch)	 entry;
	char			 id[JOURNAL_ID_LEN + 1];
	char			*pool;
	char			*q, *r, *m;
	uint64_t		 next_id;	/* above every id Redis has */
	uint64_t		 jobs;		/* distinct ids Redis has */
	uint64_t		 told_next;	/* next as the hash has it */
	uint64_t		 xadds;		/* XADDs in flight */
	uint64_t		 done;		/* distinct results */
	uint64_t		 failed;	/* of which not ok */
	int64_t			 created;	/* the hash's, in seconds */
	struct idset		 seen;
	char			 cursor[48];	/* the result stream, read to */
	bool			 ended;		/* END came */
	bool			 ended_told;	/* and the hash has it */
	bool			 end_sent;
	bool			 acc_busy;	/* an HSET of next in flight */
	bool			 acc_again;
	bool			 complete;
	bool			 held;
	bool			 wants_room;
	bool			 dead;		/* lost Redis; sink told */
	bool			 draining;	/* droverd goes: no more jobs */
	const struct xbatch_sink *sink;
	void			*sarg;
	unsigned		 refs;		/* replies still to come */
};

/* A lookup of a batch by id (a resume on another node). */
struct sfind {
	struct shared		*sh;
	TAILQ_ENTRY(sfind)	 entry;
	char			*id;
	char			*pool;
	shared_found_cb		 cb;
	void			*arg;
	bool			 cancelled;
};

/* drover results on a shared batch. */
struct sreader {
	struct shared		*sh;
	TAILQ_ENTRY(sreader)	 entry;
	char			 id[JOURNAL_ID_LEN + 1];
	char			*r, *m;
	const struct xreader_ops *ops;
	void			*arg;
	bool			 wait;
	bool			 begun;
	bool			 paused;
	bool			 busy;		/* a command in flight */
	bool			 closed;
	char			 cursor[48];
	uint64_t		 jobs;
	bool			 ended;
	struct idset		 seen;
	uint64_t		 seen_n;
	uint64_t		 next;
	struct event		*ev_poll;
	struct xbatch_info	 info;
	char			 state[16];
	char			 pool[80];
};

struct shared {
	struct event_base	*base;
	struct redis_addr	 addr;
	char			 addr_str[160];
	char			 node[200];
	struct shared_hooks	 hooks;
	double			 retention_s;
	struct rconn		*cmd;
	struct rconn		*follow;
	long long		 follow_client;	/* its CLIENT ID; -1 unknown */
	bool			 following;
	bool			 unblocking;
	TAILQ_HEAD(, spool)	 spools;
	TAILQ_HEAD(, sbatch)	 sbatches;
	TAILQ_HEAD(, sfind)	 finds;
	TAILQ_HEAD(, sreader)	 readers;
	struct buf		 pack;
	struct event		*ev_acc;	/* ACCEPTEDs, once a turn */
	struct event		*ev_follow;	/* again, after an error */
	bool			 freeing;
	bool			 draining;
};

static void	sp_read(struct spool *);
static void	sb_follow(struct shared *);
static void	sb_check(struct sbatch *);
static void	sb_release(struct sbatch *);
static void	sb_refused(struct sbatch *, const char *);
static void	sh_poke(struct shared *);
static void	rd_go(struct sreader *);
static void	sp_done(struct batch *, struct job *,
		    const struct jobresult *);
static void	sp_room(struct batch *);
static void	sp_closing(struct batch *, const char *);

static const struct batch_ops sp_ops = {
	.room = sp_room,
	.done = sp_done,
	.closing = sp_closing,
};

static const struct xbatch_ops sb_xops;

/* The reply helpers: a field of an entry, a string element. */
static const redisReply *
field(const redisReply *fields, const char *name)
{
	size_t	 i;

	if (fields == NULL || fields->type != REDIS_REPLY_ARRAY)
		return (NULL);
	for (i = 0; i + 1 < fields->elements; i += 2)
		if (fields->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(fields->element[i]->str, name) == 0)
			return (fields->element[i + 1]);
	return (NULL);
}

static bool
str_u64(const redisReply *r, uint64_t *v)
{
	char		*e;

	if (r == NULL || (r->type != REDIS_REPLY_STRING &&
	    r->type != REDIS_REPLY_STATUS) || r->len == 0 || r->len > 20)
		return (false);
	*v = strtoull(r->str, &e, 10);
	return (*e == '\0');
}

static bool
is_err(const redisReply *r)
{
	return (r == NULL || r->type == REDIS_REPLY_ERROR);
}

static char *
key(const char *kind, const char *name)
{
	char	*k;

	xasprintf(&k, "drover:{%s}:%s", name, kind);
	return (k);
}

/* The consumer side. */

static struct sjob *
sp_alloc(struct spool *sp, uint32_t *idx)
{
	struct sjob	*s;
	uint32_t	 i, old;

	if (sp->free_head == 0) {
		old = sp->ncap;
		sp->ncap = sp->ncap ? sp->ncap * 2 : 256;
		sp->slab = xreallocarray(sp->slab, sp->ncap,
		    sizeof(*sp->slab));
		for (i = old; i < sp->ncap; i++) {
			sp->slab[i].used = false;
			sp->slab[i].next_free = i + 1 < sp->ncap ? i + 2 :
			    sp->free_head;
		}
		sp->free_head = old + 1;
	}
	*idx = sp->free_head - 1;
	s = &sp->slab[*idx];
	sp->free_head = s->next_free;
	s->used = true;
	sp->inflight++;
	return (s);
}

static void
sp_free_job(struct spool *sp, uint32_t idx)
{
	sp->slab[idx].used = false;
	sp->slab[idx].next_free = sp->free_head;
	sp->free_head = idx + 1;
	sp->inflight--;
}

static bool
sp_has(const struct spool *sp, const char *eid)
{
	uint32_t	 i;

	for (i = 0; i < sp->ncap; i++)
		if (sp->slab[i].used && strcmp(sp->slab[i].eid, eid) == 0)
			return (true);
	return (false);
}

static void
sp_ack(struct spool *sp, const char *eid)
{
	(void)rconn_cmdf(sp->sh->cmd, NULL, NULL, "XACK %s %s %s", sp->q,
	    sp->g, eid);
}

/*
 * Pending entries whose bytes are gone: another client trimmed or deleted
 * them from the stream (drover never does before their result), so there
 * is nothing to run.  They are acked, or they would stay pending for ever
 * (redis#6199); their jobs cannot be run by any node, which is said.
 */
static void
sp_deleted(struct spool *sp, const char *eid, size_t n)
{
	sp->deleted += n;
	log_warnx("pool %s: %zu pending entr%s of %s (%s%s) deleted from the "
	    "stream by another client before a result: dropped; a job no live "
	    "node runs cannot run, and its batch stays open", sp->name, n,
	    n == 1 ? "y" : "ies", sp->q, eid, n > 1 ? ", ..." : "");
}

static void	sp_return(struct spool *, const char *, const char *,
		    uint64_t, const char *, size_t);

/*
 * Run an entry of the stream on the local pool; deliveries is how many
 * times Redis has handed it out, this one included (its attempts).
 */
static void
sp_take(struct spool *sp, const redisReply *e, unsigned deliveries)
{
	const redisReply	*fields, *b, *d;
	struct sjob		*s;
	uint64_t		 jid;
	uint32_t		 idx;

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    e->element[0]->type != REDIS_REPLY_STRING ||
	    e->element[0]->len >= sizeof(s->eid))
		return;
	fields = e->element[1];
	b = field(fields, "b");
	d = field(fields, "d");
	if (b == NULL || d == NULL || b->type != REDIS_REPLY_STRING ||
	    b->len > JOURNAL_ID_LEN || d->type != REDIS_REPLY_STRING ||
	    !str_u64(field(fields, "i"), &jid)) {
		if (fields == NULL || fields->type == REDIS_REPLY_NIL) {
			/* One of ours that runs here: its result comes. */
			if (!sp_has(sp, e->element[0]->str)) {
				sp_deleted(sp, e->element[0]->str, 1);
				sp_ack(sp, e->element[0]->str);
			}
		} else {
			log_warnx("pool %s: shared entry %s is not a job; "
			    "dropped", sp->name, e->element[0]->str);
			sp_ack(sp, e->element[0]->str);
		}
		return;
	}
	/*
	 * Read while this node goes (a read in flight as the pool closed):
	 * a new entry goes back to the stream at once, as a queued job does
	 * (sp_done()).  One delivered before stays pending, to be claimed;
	 * so does one of our own pending ones (a re-read after a reconnect),
	 * which may be running here or given back already.
	 */
	if (sp->closing) {
		if (deliveries == 1 && !sp->own)
			sp_return(sp, e->element[0]->str, b->str, jid, d->str,
			    d->len);
		return;
	}
	/*
	 * Only our own pending entries (re-read after a reconnect) and claimed
	 * ones can be running here already; a new entry cannot, and is not
	 * looked for (the scan is linear in the jobs in flight).
	 */
	if ((sp->own || deliveries > 1) && sp_has(sp, e->element[0]->str))
		return;
	s = sp_alloc(sp, &idx);
	memcpy(s->eid, e->element[0]->str, e->element[0]->len + 1);
	memcpy(s->batch, b->str, b->len + 1);
	s->jid = jid;
	s->deliveries = deliveries;
	if (deliveries > 1)
		pool_resubmit(sp->pool, &sp->b, idx, d->str, d->len,
		    deliveries - 1, deliveries - 1);
	else
		pool_submit(sp->pool, &sp->b, idx, d->str, d->len);
}

static void
sp_read_cb(struct rconn *rc, redisReply *r, void *arg)
{
	struct spool		*sp = arg;
	const redisReply	*entries;
	size_t			 i, n = 0;

	(void)rc;
	if (rc == NULL)
		return;		/* freed */
	sp->reading = false;
	if (r == NULL) {
		if (sp->closing)
			sh_poke(sp->sh);	/* a drain waits for it */
		return;		/* the connection went: up() reads again */
	}
	if (r->type == REDIS_REPLY_ERROR) {
		/* NOGROUP: the stream or group went (a Redis without AOF). */
		if (strncmp(r->str, "NOGROUP", 7) == 0)
			sp->group_ok = false;
		else if (strncmp(r->str, "LOADING", 7) != 0)
			log_warnx("pool %s: XREADGROUP: %s", sp->name, r->str);
		timer_arm_us(sp->ev_retry, 200000);	/* LOADING, ... */
		if (sp->closing)
			sh_poke(sp->sh);
		return;
	}
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
	    r->element[0]->type == REDIS_REPLY_ARRAY &&
	    r->element[0]->elements == 2) {
		entries = r->element[0]->element[1];
		for (i = 0; i < entries->elements; i++) {
			sp_take(sp, entries->element[i], 1);
			if (entries->element[i]->type == REDIS_REPLY_ARRAY &&
			    entries->element[i]->elements == 2 &&
			    entries->element[i]->element[0]->type ==
			    REDIS_REPLY_STRING && strlen(
			    entries->element[i]->element[0]->str) <
			    sizeof(sp->own_cursor))
				snprintf(sp->own_cursor, sizeof(sp->own_cursor),
				    "%s", entries->element[i]->element[0]->str);
		}
		n = entries->elements;
	}
	if (sp->own && n == 0)
		sp->own = false;	/* our pending entries are all back */
	sp_read(sp);
	if (sp->closing)	/* after what it gave back is sent */
		sh_poke(sp->sh);
}

static void
sp_group_cb(struct rconn *rc, redisReply *r, void *arg)
{
	struct spool	*sp = arg;

	if (rc == NULL || r == NULL || sp->pool == NULL)
		return;
	if (r->type == REDIS_REPLY_ERROR &&
	    strncmp(r->str, "BUSYGROUP", 9) != 0) {
		if (strncmp(r->str, "LOADING", 7) != 0)
			log_warnx("pool %s: XGROUP CREATE: %s", sp->name,
			    r->str);
		timer_arm_us(sp->ev_retry, 200000);
		return;
	}
	sp->group_ok = true;
	sp_read(sp);
}

static void
sp_group(struct spool *sp)
{
	if (!sp->group_ok && rconn_up(sp->sh->cmd))
		(void)rconn_cmdf(sp->sh->cmd, sp_group_cb, sp,
		    "XGROUP CREATE %s %s 0 MKSTREAM", sp->q, sp->g);
}

/*
 * Read as many entries as the pool has room for: first our own pending
 * ones (after a reconnect, what was handed to us before), then new ones.
 */
static void
sp_read(struct spool *sp)
{
	size_t	 room;
	char	 count[16];

	if (sp->closing || sp->reading || sp->pool == NULL)
		return;
	if (!sp->group_ok) {
		sp_group(sp);
		return;
	}
	if (!rconn_up(sp->blk))
		return;
	if ((room = pool_room(sp->pool)) == 0) {
		pool_wait_room(sp->pool, &sp->b);
		return;
	}
	snprintf(count, sizeof(count), "%zu", room < READ_MAX ? room :
	    (size_t)READ_MAX);
	if (sp->own) {
		if (rconn_cmdf(sp->blk, sp_read_cb, sp, "XREADGROUP GROUP %s "
		    "%s COUNT %s STREAMS %s %s", sp->g, sp->sh->node, count,
		    sp->q, sp->own_cursor) == 0)
			sp->reading = true;
		return;
	}
	if (rconn_cmdf(sp->blk, sp_read_cb, sp, "XREADGROUP GROUP %s %s "
	    "COUNT %s BLOCK %d STREAMS %s >", sp->g, sp->sh->node, count,
	    BLOCK_MS, sp->q) == 0)
		sp->reading = true;
}

static void
sp_room(struct batch *b)
{
	sp_read((struct spool *)b);
}

static void
sp_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sp_read(arg);
}

static void
sp_blk_id_cb(struct rconn *rc, redisReply *r, void *arg)
{
	struct spool	*sp = arg;

	if (rc == NULL || r == NULL)
		return;
	if (r->type == REDIS_REPLY_INTEGER)
		sp->blk_client = r->integer;
	else	/* then a drain waits for the read's BLOCK to end */
		log_warnx("pool %s: CLIENT ID: %s", sp->name,
		    r->type == REDIS_REPLY_ERROR ? r->str : "not an integer");
}

static void
sp_blk_up(struct rconn *rc, void *arg)
{
	struct spool	*sp = arg;

	sp->blk_client = -1;	/* known before the first read's reply */
	(void)rconn_cmdf(rc, sp_blk_id_cb, sp, "CLIENT ID");
	sp->reading = false;
	sp->own = true;
	snprintf(sp->own_cursor, sizeof(sp->own_cursor), "0");
	sp_read(sp);
}

static void
sp_blk_down(struct rconn *rc, void *arg, const char *why)
{
	struct spool	*sp = arg;

	(void)rc;
	(void)why;
	sp->reading = false;
	sp->blk_client = -1;
	if (sp->closing)
		sh_poke(sp->sh);
}

static const struct rconn_hooks sp_blk_hooks = { sp_blk_up, sp_blk_down,
    NULL };

/*
 * EXEC's answer: an array of the commands' answers, any of which may be an
 * error (then the transaction did not do all it was meant to: say so).
 */
static bool
exec_ok(const struct spool *sp, const redisReply *r, const char *what)
{
	size_t	 i;

	if (r->type == REDIS_REPLY_ERROR) {
		log_warnx("pool %s: %s: %s", sp->name, what, r->str);
		return (false);
	}
	if (r->type != REDIS_REPLY_ARRAY)
		return (false);
	for (i = 0; i < r->elements; i++)
		if (r->element[i]->type == REDIS_REPLY_ERROR) {
			log_warnx("pool %s: %s, command %zu: %s", sp->name,
			    what, i + 1, r->element[i]->str);
			return (false);
		}
	return (true);
}

static void
sp_return_cb(struct rconn *rc, redisReply *r, void *arg)
{
	struct spool	*sp = arg;

	if (rc != NULL && r != NULL && sp->pool != NULL &&
	    exec_ok(sp, r, "giving an entry back"))
		sp->returned++;
}

static void
sp_exec_cb(struct rconn *rc, redisReply *r, void *arg)
{
	struct spool	*sp = arg;

	if (rc != NULL && r != NULL && sp->pool != NULL &&
	    exec_ok(sp, r, "a result's MULTI"))
		sp->acked++;
}

/*
 * A job ended: its result onto the batch's stream, and its entry acked and
 * deleted, in one transaction.  If Redis is away, nothing: the entry stays
 * pending, ours; it runs again when we re-read our pending entries, or on
 * another node once idle past claim_idle, and the submitter drops the
 * second result.  Jobs cancelled because the pool stops are left pending
 * the same way, for another node to claim.
 */
static void
sp_done(struct batch *b, struct job *j, const struct jobresult *res)
{
	struct spool	*sp = (struct spool *)b;
	struct shared	*sh = sp->sh;
	struct sjob	*s = &sp->slab[j->id];
	char		 r[JOURNAL_ID_LEN + 16], jid[24], st[4];
	bool		 giveback;

	/*
	 * Cancelled because this node goes (a drain, the pool removed): not
	 * a result.  Queued and never started, on its first delivery, the
	 * entry goes back to the stream's end for the other nodes now rather
	 * than after claim_idle; killed while it ran, or delivered before,
	 * it stays pending, to be claimed with its deliveries as attempts.
	 */
	giveback = res->status == JOB_CANCELLED && sp->closing;
	if (!rconn_up(sh->cmd) || (giveback && (res->worker != 0 ||
	    s->deliveries > 1)))
		goto out;
	if (giveback) {
		sp_return(sp, s->eid, s->batch, s->jid, j->data, j->len);
		goto out;
	}
	snprintf(jid, sizeof(jid), "%llu", (unsigned long long)s->jid);
	resultrec_pack(&sh->pack, j, res);
	/* key()'s form, without an allocation per job. */
	snprintf(r, sizeof(r), "drover:{%s}:r", s->batch);
	snprintf(st, sizeof(st), "%d", (int)res->status);
	(void)rconn_cmdf(sh->cmd, NULL, NULL, "MULTI");
	(void)rconn_cmdf(sh->cmd, NULL, NULL, "XADD %s * i %s s %s n %s r %b",
	    r, jid, st, sh->node, buf_data(&sh->pack), buf_len(&sh->pack));
	/* In the same transaction: the entry is acked and deleted. */
	(void)rconn_cmdf(sh->cmd, NULL, NULL, "XACK %s %s %s", sp->q, sp->g,
	    s->eid);
	(void)rconn_cmdf(sh->cmd, NULL, NULL, "XDEL %s %s", sp->q, s->eid);
	(void)rconn_cmdf(sh->cmd, sp_exec_cb, sp, "EXEC");
out:
	sp_free_job(sp, (uint32_t)j->id);
	if (sp->closing && batch_idle(&sp->b) && sp->b.pool != NULL)
		pool_detach(sp->b.pool, &sp->b);
	else
		sp_read(sp);
}

/*
 * Give entry eid (first delivered to us, never started) back: the same
 * job onto the stream's end for the other nodes, the entry acked and
 * deleted, in one transaction.
 */
static void
sp_return(struct spool *sp, const char *eid, const char *batch,
    uint64_t jid, const char *data, size_t len)
{
	struct rconn	*cmd = sp->sh->cmd;
	char		 id[24];

	if (!rconn_up(cmd))
		return;		/* it stays pending, to be claimed */
	snprintf(id, sizeof(id), "%llu", (unsigned long long)jid);
	(void)rconn_cmdf(cmd, NULL, NULL, "MULTI");
	(void)rconn_cmdf(cmd, NULL, NULL, "XADD %s * b %s i %s d %b", sp->q,
	    batch, id, data, len);
	(void)rconn_cmdf(cmd, NULL, NULL, "XACK %s %s %s", sp->q, sp->g, eid);
	(void)rconn_cmdf(cmd, NULL, NULL, "XDEL %s %s", sp->q, eid);
	(void)rconn_cmdf(cmd, sp_return_cb, sp, "EXEC");
}

/*
 * The pool stops here: take no more; what is queued goes back to Redis.
 * A read blocked on the stream is unblocked first, on the command
 * connection ahead of the entries given back, so that Redis cannot hand
 * those to this consumer's read as it goes (they would stay pending here
 * until another node claimed them).  One that Redis has yet to see is
 * answered as the pool closed: sp_take() gives its entries back too.
 */
static void
sp_closing(struct batch *b, const char *why)
{
	struct spool	*sp = (struct spool *)b;

	sp->closing = true;
	if (sp->reading && sp->blk_client >= 0 && rconn_up(sp->sh->cmd))
		(void)rconn_cmdf(sp->sh->cmd, NULL, NULL, "CLIENT UNBLOCK %lld",
		    sp->blk_client);
	if (sp->b.pool != NULL)
		pool_cancel(sp->b.pool, &sp->b, why);
	if (batch_idle(&sp->b) && sp->b.pool != NULL)
		pool_detach(sp->b.pool, &sp->b);
}

/*
 * The heartbeat: XCLAIM with JUSTID of every entry running here resets its
 * idle time (and not its delivery count), so that claim_idle measures how
 * long a node has been silent, not how long a job runs.
 */
static void
sp_beat_cb(evutil_socket_t fd, short what, void *arg)
{
	struct spool	*sp = arg;
	const char	**argv;
	size_t		 argc = 0, i, cap;
	double		 ci = pool_conf(sp->pool)->claim_idle;

	(void)fd;
	(void)what;
	if (sp->inflight != 0 && rconn_up(sp->sh->cmd)) {
		cap = 7 + sp->inflight;
		argv = xcalloc(cap, sizeof(*argv));
		argv[argc++] = "XCLAIM";
		argv[argc++] = sp->q;
		argv[argc++] = sp->g;
		argv[argc++] = sp->sh->node;
		argv[argc++] = "0";
		for (i = 0; i < sp->ncap && argc < cap - 1; i++)
			if (sp->slab[i].used)
				argv[argc++] = sp->slab[i].eid;
		argv[argc++] = "JUSTID";
		(void)rconn_cmd(sp->sh->cmd, NULL, NULL, (int)argc, argv, NULL);
		free(argv);
	}
	timer_arm_us(sp->ev_beat, (uint64_t)(ci * 1e6 / 3));
}

/* XAUTOCLAIM's entries, kept until XPENDING says their deliveries. */
struct claim {
	struct spool	*sp;
	redisReply	*entries;	/* owned (the reply's, taken) */
};

static void
sp_pending_cb(struct rconn *rc, redisReply *r, void *arg)
{
	struct claim		*c = arg;
	struct spool		*sp = c->sp;
	const redisReply	*e, *p;
	size_t			 i, k;
	unsigned		 deliveries;

	if (rc == NULL || r == NULL || r->type != REDIS_REPLY_ARRAY ||
	    sp->pool == NULL) {
		sp->claiming = false;
		freeReplyObject(c->entries);
		free(c);
		return;
	}
	for (i = 0; i < c->entries->elements; i++) {
		e = c->entries->element[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
		    e->element[0]->type != REDIS_REPLY_STRING)
			continue;
		deliveries = 2;
		for (k = 0; k < r->elements; k++) {
			p = r->element[k];
			if (p->type == REDIS_REPLY_ARRAY && p->elements == 4 &&
			    p->element[0]->type == REDIS_REPLY_STRING &&
			    strcmp(p->element[0]->str, e->element[0]->str) ==
			    0 && p->element[3]->type == REDIS_REPLY_INTEGER)
				deliveries = (unsigned)p->element[3]->integer;
		}
		sp->claimed++;
		if (deliveries - 1 >= pool_conf(sp->pool)->max_attempts)
			sp->crashed++;
		sp_take(sp, e, deliveries);
	}
	sp->claiming = false;
	freeReplyObject(c->entries);
	free(c);
}

static void
sp_claim_cb(struct rconn *rc, redisReply *r, void *arg)
{
	struct spool	*sp = arg;
	struct claim	*c;
	redisReply	*entries;
	const redisReply *gone;
	const char	*first, *last;
	size_t		 i, n;

	if (rc == NULL || sp->pool == NULL)
		return;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_ARRAY) {
		if (r != NULL && r->type == REDIS_REPLY_ERROR &&
		    strncmp(r->str, "NOGROUP", 7) == 0)
			sp->group_ok = false;
		sp->claiming = false;
		return;
	}
	snprintf(sp->claim_cursor, sizeof(sp->claim_cursor), "%s",
	    r->element[0]->str);
	/*
	 * Redis 7 drops deleted entries from the PEL, whoever holds them and
	 * however idle, and names them here.  Ours that run here are not lost
	 * (their result comes); the others' may run on a live node too, but
	 * cannot be told apart from the dead's.
	 */
	if (r->elements >= 3 && r->element[2]->type == REDIS_REPLY_ARRAY) {
		gone = r->element[2];
		first = NULL;
		for (i = 0, n = 0; i < gone->elements; i++) {
			if (gone->element[i]->type != REDIS_REPLY_STRING ||
			    sp_has(sp, gone->element[i]->str))
				continue;
			if (n++ == 0)
				first = gone->element[i]->str;
		}
		if (n > 0)
			sp_deleted(sp, first, n);
	}
	entries = r->element[1];
	if (entries->elements == 0) {
		sp->claiming = false;
		return;
	}
	/* Take the entries out of the reply, which hiredis frees after us. */
	c = xcalloc(1, sizeof(*c));
	c->sp = sp;
	c->entries = entries;
	r->element[1] = NULL;	/* freeReplyObject() skips a NULL */
	first = entries->element[0]->type == REDIS_REPLY_ARRAY ?
	    entries->element[0]->element[0]->str : "-";
	last = entries->element[entries->elements - 1]->type ==
	    REDIS_REPLY_ARRAY ? entries->element[entries->elements -
	    1]->element[0]->str : "+";
	/* hiredis's format knows no %zu: sizes go as unsigned long long. */
	if (rconn_cmdf(sp->sh->cmd, sp_pending_cb, c, "XPENDING %s %s %s %s "
	    "%llu %s", sp->q, sp->g, first, last,
	    (unsigned long long)entries->elements, sp->sh->node) != 0) {
		sp->claiming = false;
		freeReplyObject(c->entries);
		free(c);
	}
}

/*
 * Every few seconds, and on every node (not only at start-up): claim the
 * entries idle past claim_idle (their node died, or lost Redis for that
 * long), as many as the pool has room for.
 */
static void
sp_claim_tick(evutil_socket_t fd, short what, void *arg)
{
	struct spool	*sp = arg;
	double		 ci = pool_conf(sp->pool)->claim_idle;
	size_t		 room;

	(void)fd;
	(void)what;
	if (!sp->claiming && !sp->closing && sp->group_ok &&
	    rconn_up(sp->sh->cmd) && (room = pool_room(sp->pool)) > 0) {
		if (rconn_cmdf(sp->sh->cmd, sp_claim_cb, sp, "XAUTOCLAIM %s "
		    "%s %s %llu %s COUNT %llu", sp->q, sp->g, sp->sh->node,
		    (unsigned long long)(ci * 1000), sp->claim_cursor,
		    (unsigned long long)(room < 100 ? room : 100)) == 0)
			sp->claiming = true;
	}
	timer_arm_us(sp->ev_claim, (uint64_t)(ci * 1e6 / 4 < 250000 ?
	    250000 : ci * 1e6 / 4));
}

static void
sp_len_cb(struct rconn *rc, redisReply *r, void *arg)
{
	struct spool	*sp = arg;

	if (rc != NULL && r != NULL && r->type == REDIS_REPLY_INTEGER &&
	    sp->pool != NULL)
		sp->length = r->integer;
}

static void
sp_xpending_cb(struct rconn *rc, redisReply *r, void *arg)
{
	struct spool		*sp = arg;
	const redisReply	*c, *e;
	size_t			 i;

	if (rc == NULL || r == NULL || r->type != REDIS_REPLY_ARRAY ||
	    r->elements != 4 || r->element[0]->type != REDIS_REPLY_INTEGER ||
	    sp->pool == NULL)
		return;
	sp->pending = r->element[0]->integer;
	json_decref(sp->consumers);
	sp->consumers = json_object();
	c = r->element[3];
	if (c->type != REDIS_REPLY_ARRAY)
		return;
	for (i = 0; i < c->elements; i++) {
		e = c->element[i];
		if (e->type == REDIS_REPLY_ARRAY && e->elements == 2 &&
		    e->element[0]->type == REDIS_REPLY_STRING &&
		    e->element[1]->type == REDIS_REPLY_STRING)
			json_object_set_new(sp->consumers, e->element[0]->str,
			    json_integer(atoll(e->element[1]->str)));
	}
}

static void
sp_stats_tick(evutil_socket_t fd, short what, void *arg)
{
	struct spool	*sp = arg;

	(void)fd;
	(void)what;
	if (rconn_up(sp->sh->cmd) && sp->group_ok) {
		(void)rconn_cmdf(sp->sh->cmd, sp_len_cb, sp, "XLEN %s", sp->q);
		(void)rconn_cmdf(sp->sh->cmd, sp_xpending_cb, sp,
		    "XPENDING %s %s", sp->q, sp->g);
	}
	timer_arm_us(sp->ev_stats, STATS_US);
}

static struct spool *
sp_new(struct shared *sh, struct pool *p)
{
	struct spool	*sp;
	char		 name[300];

	sp = xcalloc(1, sizeof(*sp));
	sp->b.ops = &sp_ops;
	sp->sh = sh;
	sp->name = xstrdup(pool_name(p));
	sp->q = key("q", sp->name);
	sp->g = key("g", sp->name);
	sp->pool = p;
	sp->consumers = json_object();
	snprintf(sp->claim_cursor, sizeof(sp->claim_cursor), "0-0");
	snprintf(name, sizeof(name), "%s (pool %s)", sh->addr_str, sp->name);
	pool_attach(p, &sp->b);
	TAILQ_INSERT_TAIL(&sh->spools, sp, entry);
	sp->ev_beat = evtimer_new(sh->base, sp_beat_cb, sp);
	sp->ev_claim = evtimer_new(sh->base, sp_claim_tick, sp);
	sp->ev_stats = evtimer_new(sh->base, sp_stats_tick, sp);
	sp->ev_retry = evtimer_new(sh->base, sp_retry_cb, sp);
	timer_arm_us(sp->ev_beat, 100000);
	timer_arm_us(sp->ev_claim, 250000);
	timer_arm_us(sp->ev_stats, 0);
	sp->blk_client = -1;
	sp->blk = rconn_new(sh->base, &sh->addr, name, CMD_TIMEOUT_US +
	    BLOCK_MS * 1000ULL, &sp_blk_hooks, sp);
	sp_group(sp);
	log_info("pool %s: shared on %s as %s", sp->name, sh->addr_str,
	    sh->node);
	return (sp);
}

/*
 * Retire a consumer whose pool is gone or no longer shared: its timers and
 * its blocking connection go; its memory stays until shared_free(), since
 * replies on the command connection may still name it (they find pool
 * NULL and do nothing).
 */
static void
sp_retire(struct spool *sp)
{
	if (sp->pool == NULL)
		return;
	rconn_free(sp->blk);
	sp->blk = NULL;
	if (sp->b.pool != NULL)
		pool_detach(sp->b.pool, &sp->b);
	event_del(sp->ev_beat);
	event_del(sp->ev_claim);
	event_del(sp->ev_stats);
	event_del(sp->ev_retry);
	sp->pool = NULL;
	log_info("pool %s: no longer shared here (%llu queued entries given "
	    "back to the stream, %llu acked)", sp->name,
	    (unsigned long long)sp->returned, (unsigned long long)sp->acked);
}

static void
sp_free(struct spool *sp)
{
	sp_retire(sp);
	TAILQ_REMOVE(&sp->sh->spools, sp, entry);
	event_free(sp->ev_beat);
	event_free(sp->ev_claim);
	event_free(sp->ev_stats);
	event_free(sp->ev_retry);
	json_decref(sp->consumers);
	free(sp->slab);
	free(sp->name);
	free(sp->q);
	free(sp->g);
	free(sp);
}

/*
 * Match the consumers to the configuration: a consumer for every shared
 * pool that has none (at start, after a reload), and none for a pool that
 * is gone or no longer shared (its own closing() saw to its jobs).
 */
void
shared_pools(struct shared *sh)
{
	struct spool	*sp, *next;
	struct pool	*p;

	TAILQ_FOREACH_SAFE(sp, &sh->spools, entry, next) {
		if (sp->pool == NULL)
			continue;
		p = sh->hooks.pool(sp->name);
		if (p == sp->pool && pool_conf(p)->shared && !sp->closing)
			continue;
		if (sp->b.pool != NULL && !sp->closing)
			sp_closing(&sp->b, "the pool is no longer shared");
		if (sp->b.pool == NULL)
			sp_retire(sp);
	}
}

/* A pool of the configuration, shared: start its consumer. */
static void
shared_pool_add(struct shared *sh, struct pool *p)
{
	struct spool	*sp;

	TAILQ_FOREACH(sp, &sh->spools, entry)
		if (sp->pool == p)
			return;
	(void)sp_new(sh, p);
}

/* The submitting side. */

static struct sbatch *
sb_new(struct shared *sh, const char *id, const char *pool)
{
	struct sbatch	*sb;

	sb = xcalloc(1, sizeof(*sb));
	sb->xb.ops = &sb_xops;
	sb->sh = sh;
	snprintf(sb->id, sizeof(sb->id), "%s", id);
	sb->pool = xstrdup(pool);
	sb->q = key("q", pool);
	sb->r = key("r", id);
	sb->m = key("m", id);
	idset_init(&sb->seen);
	snprintf(sb->cursor, sizeof(sb->cursor), "0");
	TAILQ_INSERT_TAIL(&sh->sbatches, sb, entry);
	return (sb);
}

static void
sb_free(struct sbatch *sb)
{
	TAILQ_REMOVE(&sb->sh->sbatches, sb, entry);
	idset_free(&sb->seen);
	free(sb->pool);
	free(sb->q);
	free(sb->r);
	free(sb->m);
	free(sb);
}

/*
 * Draining, and every job the client sent is in Redis and ACCEPTED: the
 * client may go (BYE), and come back on another node for the rest.
 */
static bool
sb_drained(const struct sbatch *sb)
{
	return (sb->draining && sb->xadds == 0 && !sb->acc_busy &&
	    sb->told_next == sb->next_id);
}

/* A reply for sb came (or will not): free it once unbound and idle. */
static void
sb_release(struct sbatch *sb)
{
	sb->refs--;
	if (sb->refs == 0 && sb->sink == NULL && (sb->complete || sb->dead ||
	    sb->sh->freeing))
		sb_free(sb);
}

/*
 * The hash says what Redis has of the batch: then, and only then,
 * ACCEPTED, so that another node resuming the batch knows every job the
 * client dropped from its memory.
 */
static void
sb_hset_cb(struct rconn *rc, redisReply *r, void *arg)
{
	struct sbatch	*sb = arg;
	uint64_t	 upto = sb->told_next;
	bool		 ended = sb->end_sent;

	sb->acc_busy = false;
	if (rc != NULL && r != NULL && r->type == REDIS_REPLY_ERROR)
		sb_refused(sb, r->str);
	if (rc != NULL && !is_err(r) && !sb->dead) {
		if (ended)
			sb->ended_told = true;
		if (sb->sink != NULL && (upto > 0 || ended))
			sb->sink->accepted(sb->sarg, upto > 0 ? upto - 1 : 0,
			    sb->ended_told);
		if (sb->acc_again)
			event_active(sb->sh->ev_acc, EV_TIMEOUT, 0);
		sb_check(sb);
		if (sb_drained(sb) && sb->sink != NULL)
			sb->sink->kick(sb->sarg);
	}
	sb_release(sb);
}

/* Tell the hash (then the client) how far Redis has the batch. */
static void
sb_accept(struct sbatch *sb)
{
	char	 next[24], jobs[24];

	if (sb->acc_busy) {
		sb->acc_again = true;
		return;
	}
	sb->acc_again = false;
	if (sb->told_next == sb->next_id && !(sb->ended && sb->xadds == 0 &&
	    !sb->end_sent))
		return;
	if (sb->ended && sb->xadds == 0)
		sb->end_sent = true;
	sb->told_next = sb->next_id;
	snprintf(next, sizeof(next), "%llu", (unsigned long long)sb->next_id);
	snprintf(jobs, sizeof(jobs), "%llu", (unsigned long long)sb->jobs);
	if (rconn_cmdf(sb->sh->cmd, sb_hset_cb, sb, "HSET %s next %s jobs %s "
	    "ended %d", sb->m, next, jobs, sb->end_sent ? 1 : 0) == 0) {
		sb->acc_busy = true;
		sb->refs++;
	}
}

static void
acc_cb(evutil_socket_t fd, short what, void *arg)
{
	struct shared	*sh = arg;
	struct sbatch	*sb, *next;

	(void)fd;
	(void)what;
	TAILQ_FOREACH_SAFE(sb, &sh->sbatches, entry, next)
		if (!sb->dead)
			sb_accept(sb);
}

struct xadd {
	struct sbatch	*sb;
	uint64_t	 id;
};

static void
sb_xadd_cb(struct rconn *rc, redisReply *r, void *arg)
{
	struct xadd	*x = arg;
	struct sbatch	*sb = x->sb;

	sb->xadds--;
	if (rc != NULL && r != NULL && r->type == REDIS_REPLY_ERROR)
		sb_refused(sb, r->str);
	if (rc != NULL && !is_err(r) && x->id >= sb->next_id) {
		sb->next_id = x->id + 1;
		sb->jobs++;
		if (idset_add(&sb->seen, x->id) != 0)
			log_warnx("batch %s: job %llu below the newest",
			    sb->id, (unsigned long long)x->id);
	}
	free(x);
	if (rc != NULL && !sb->dead) {
		event_active(sb->sh->ev_acc, EV_TIMEOUT, 0);
		if (sb->wants_room && sb->xadds < XADD_LOW &&
		    sb->sink != NULL) {
			sb->wants_room = false;
			sb->sink->room(sb->sarg);
		}
	}
	sb_release(sb);
}

/*
 * Redis refused a write of the batch (LOADING after a restart, OOM): the
 * client loses the connection, comes back and resends what has no
 * ACCEPTED.
 */
static void
sb_refused(struct sbatch *sb, const char *err)
{
	char	 msg[300];

	if (sb->dead)
		return;
	sb->dead = true;
	snprintf(msg, sizeof(msg), "Redis refused a write (%s)", err);
	if (sb->sink != NULL)
		sb->sink->lost(sb->sarg, msg);
}

/* A result of the batch, from its stream: the first for its id counts. */
static void
sb_result(struct sbatch *sb, const redisReply *e)
{
	const redisReply	*f, *rec;
	uint64_t		 jid, st;

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    e->element[0]->type != REDIS_REPLY_STRING)
		return;
	if (e->element[0]->len < sizeof(sb->cursor))
		memcpy(sb->cursor, e->element[0]->str, e->element[0]->len + 1);
	f = e->element[1];
	rec = field(f, "r");
	if (!str_u64(field(f, "i"), &jid) || !str_u64(field(f, "s"), &st) ||
	    st >= JOB_NSTATUS || rec == NULL ||
	    rec->type != REDIS_REPLY_STRING)
		return;
	if (!idset_finish(&sb->seen, jid))
		return;		/* a second run's, or unknown */
	sb->done++;
	if (st != JOB_OK)
		sb->failed++;
	if (sb->sink != NULL)
		sb->sink->result(sb->sarg, jid, (enum job_status)st, rec->str,
		    rec->len);
}

/* Complete: every job Redis has has a result, and the END is in. */
static void
sb_check(struct sbatch *sb)
{
	char	 ms[24];

	if (sb->complete || !sb->ended_told || sb->done != sb->jobs)
		return;
	sb->complete = true;
	if (sb->sh->retention_s > 0 && rconn_up(sb->sh->cmd)) {
		snprintf(ms, sizeof(ms), "%llu",
		    (unsigned long long)(sb->sh->retention_s * 1000));
		(void)rconn_cmdf(sb->sh->cmd, NULL, NULL, "PEXPIRE %s %s",
		    sb->r, ms);
		(void)rconn_cmdf(sb->sh->cmd, NULL, NULL, "PEXPIRE %s %s",
		    sb->m, ms);
	}
	if (sb->sink != NULL)
		sb->sink->kick(sb->sarg);
}

static void
follow_cb(struct rconn *rc, redisReply *r, void *arg)
{
	struct shared		*sh = arg;
	const redisReply	*s, *entries;
	struct sbatch		*sb;
	size_t			 i, k;

	if (rc == NULL)
		return;
	sh->following = false;
	if (r != NULL && r->type == REDIS_REPLY_ARRAY) {
		for (i = 0; i < r->elements; i++) {
			s = r->element[i];
			if (s->type != REDIS_REPLY_ARRAY || s->elements != 2 ||
			    s->element[0]->type != REDIS_REPLY_STRING)
				continue;
			TAILQ_FOREACH(sb, &sh->sbatches, entry)
				if (strcmp(sb->r, s->element[0]->str) == 0)
					break;
			if (sb == NULL || sb->dead)
				continue;
			entries = s->element[1];
			for (k = 0; k < entries->elements; k++)
				sb_result(sb, entries->element[k]);
			sb_check(sb);
			if (sb->sink != NULL)
				sb->sink->kick(sb->sarg);
			else if (sb->complete && sb->refs == 0)
				sb_free(sb);	/* followed to its end */
		}
	}
	if (r != NULL && r->type == REDIS_REPLY_ERROR)
		timer_arm_us(sh->ev_follow, 200000);	/* LOADING, ... */
	else if (r != NULL)
		sb_follow(sh);
}

static void
follow_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sb_follow(arg);
}

/*
 * Follow the result streams of the batches submitted or taken up here,
 * with a client or without (not held, not complete), with one blocking
 * XREAD; a batch that comes while it blocks unblocks it (CLIENT UNBLOCK),
 * so that it is in the next one.
 */
static void
sb_follow(struct shared *sh)
{
	struct sbatch	*sb, *which[FOLLOW_MAX];
	const char	*argv[6 + 2 * FOLLOW_MAX];
	int		 argc = 0, n = 0, i, pass;
	char		 block[16];

	if (!rconn_up(sh->follow))
		return;
	if (sh->following) {
		if (!sh->unblocking && sh->follow_client >= 0 &&
		    rconn_up(sh->cmd)) {
			sh->unblocking = true;
			(void)rconn_cmdf(sh->cmd, NULL, NULL, "CLIENT UNBLOCK "
			    "%lld", sh->follow_client);
		}
		return;
	}
	sh->unblocking = false;
	snprintf(block, sizeof(block), "%d", BLOCK_MS);
	argv[argc++] = "XREAD";
	argv[argc++] = "COUNT";
	argv[argc++] = "1000";
	argv[argc++] = "BLOCK";
	argv[argc++] = block;
	argv[argc++] = "STREAMS";
	/* Those with a client first: one without may never complete here. */
	for (pass = 0; pass < 2 && n < FOLLOW_MAX; pass++)
		TAILQ_FOREACH(sb, &sh->sbatches, entry) {
			if (sb->held || sb->complete || sb->dead ||
			    (sb->sink != NULL) != (pass == 0))
				continue;
			which[n] = sb;
			if (++n == FOLLOW_MAX)
				break;
		}
	if (n == 0)
		return;
	for (i = 0; i < n; i++)
		argv[argc++] = which[i]->r;
	for (i = 0; i < n; i++)
		argv[argc++] = which[i]->cursor;
	if (rconn_cmd(sh->follow, follow_cb, sh, argc, argv, NULL) == 0)
		sh->following = true;
}

static void
follow_id_cb(struct rconn *rc, redisReply *r, void *arg)
{
	struct shared	*sh = arg;

	if (rc != NULL && r != NULL && r->type == REDIS_REPLY_INTEGER)
		sh->follow_client = r->integer;
}

static void
follow_up(struct rconn *rc, void *arg)
{
	struct shared	*sh = arg;

	sh->following = false;
	sh->follow_client = -1;
	(void)rconn_cmdf(rc, follow_id_cb, sh, "CLIENT ID");
	sb_follow(sh);
}

static void
follow_down(struct rconn *rc, void *arg, const char *why)
{
	struct shared	*sh = arg;

	(void)rc;
	(void)why;
	sh->following = false;
	sh->follow_client = -1;
}

static const struct rconn_hooks follow_hooks = { follow_up, follow_down,
    NULL };

static void
cmd_up(struct rconn *rc, void *arg)
{
	struct shared	*sh = arg;
	struct spool	*sp;

	(void)rc;
	TAILQ_FOREACH(sp, &sh->spools, entry) {
		sp->group_ok = false;
		sp_group(sp);
	}
}

/*
 * Redis went: every batch bound here loses its connection, with BYE
 * saying durable, so that `drover submit --reconnect` comes back (to this
 * node once it has Redis again, or another) and resends what Redis may
 * not have.
 */
static void
cmd_down(struct rconn *rc, void *arg, const char *why)
{
	struct shared	*sh = arg;
	struct sbatch	*sb, *next;
	char		 msg[300];

	(void)rc;
	snprintf(msg, sizeof(msg), "lost Redis (%s)", why);
	TAILQ_FOREACH_SAFE(sb, &sh->sbatches, entry, next) {
		sb->dead = true;
		/* The sink unbinds from lost(), which may free sb. */
		if (sb->sink != NULL)
			sb->sink->lost(sb->sarg, msg);
		else if (sb->refs == 0)
			sb_free(sb);
	}
}

/* A drain waits for every reply (shared_settled()): tell when they are. */
static void
cmd_idle(struct rconn *rc, void *arg)
{
	struct shared	*sh = arg;

	(void)rc;
	sh_poke(sh);
}

static const struct rconn_hooks cmd_hooks = { cmd_up, cmd_down, cmd_idle };

/* The xbatch ops of a shared batch. */
#define XSB(x)	((struct sbatch *)(void *)(x))
#define CXSB(x)	((const struct sbatch *)(const void *)(x))

static bool
sbx_job(struct xbatch *x, uint64_t id, const char *p, size_t len)
{
	struct sbatch	*sb = XSB(x);
	struct xadd	*a;
	char		 jid[24];

	if (id < sb->next_id || sb->ended || sb->dead || sb->draining)
		return (false);
	a = xmalloc(sizeof(*a));
	a->sb = sb;
	a->id = id;
	snprintf(jid, sizeof(jid), "%llu", (unsigned long long)id);
	if (rconn_cmdf(sb->sh->cmd, sb_xadd_cb, a, "XADD %s * b %s i %s d %b",
	    sb->q, sb->id, jid, p, len) != 0) {
		free(a);
		return (false);
	}
	sb->xadds++;
	sb->refs++;
	return (true);
}

static void
sbx_reject(struct xbatch *x, uint64_t id, const char *why)
{
	(void)x;
	(void)id;
	(void)why;	/* drover submit rejects these itself */
}

static void
sbx_end(struct xbatch *x)
{
	struct sbatch	*sb = XSB(x);

	sb->ended = true;
	event_active(sb->sh->ev_acc, EV_TIMEOUT, 0);
}

static void
sbx_cancel(struct xbatch *x, const char *why)
{
	(void)why;
	sbx_end(x);	/* what is in Redis runs; no more comes */
}

static size_t
sbx_room(struct xbatch *x)
{
	struct sbatch	*sb = XSB(x);

	if (sb->dead)
		return (0);
	if (sb->ended)
		return (XADD_HIGH);
	if (sb->xadds >= XADD_HIGH) {
		sb->wants_room = true;
		return (0);
	}
	return (XADD_HIGH - sb->xadds);
}

static void
sbx_hold(struct xbatch *x, bool on)
{
	struct sbatch	*sb = XSB(x);

	sb->held = on;
	if (!on)
		sb_follow(sb->sh);
}

static void
sbx_written(struct xbatch *x)
{
	(void)x;
}

static bool
sbx_settled(const struct xbatch *x)
{
	const struct sbatch	*sb = CXSB(x);

	return (sb->complete || sb_drained(sb));
}

static void
sbx_bind(struct xbatch *x, const struct xbatch_sink *sink, void *arg)
{
	struct sbatch	*sb = XSB(x);

	if (sb->sink != NULL)
		sb->sink->lost(sb->sarg, XBATCH_TAKEN);
	sb->sink = sink;
	sb->sarg = arg;
	sb_follow(sb->sh);
	if (sb->complete)
		sink->kick(arg);
}

static void
sbx_unbind(struct xbatch *x, void *arg)
{
	struct sbatch	*sb = XSB(x);
	struct shared	*sh = sb->sh;

	if (sb->sarg != arg)
		return;
	sb->sink = NULL;
	sb->sarg = NULL;
	if (sb->refs == 0 && (sb->complete || sb->dead)) {
		sb_free(sb);
	} else if (sb->held) {
		/*
		 * Still followed, without a client, to its end: its counts stay
		 * true for batches and a return here, and its keys get their
		 * expiry when it completes.
		 */
		sb->held = false;
		sb_follow(sh);
	}
	sh_poke(sh);
}

static void
sbx_info(const struct xbatch *x, struct xbatch_info *i)
{
	const struct sbatch	*sb = CXSB(x);

	i->id = sb->id;
	i->pool = sb->pool;
	i->state = sb->complete ? "complete" : sb->ended ? "ended" : "open";
	i->next_id = sb->next_id;
	i->jobs = sb->jobs;
	i->done = sb->done;
	i->failed = sb->failed;
	i->created = sb->created;
	i->completed = 0;		/* not kept */
}

static const struct xbatch_ops sb_xops = {
	.job = sbx_job,
	.reject = sbx_reject,
	.end = sbx_end,
	.cancel = sbx_cancel,
	.room = sbx_room,
	.hold = sbx_hold,
	.written = sbx_written,
	.settled = sbx_settled,
	.bind = sbx_bind,
	.unbind = sbx_unbind,
	.info = sbx_info,
};

/* A new batch of shared pool p, submitted here.  NULL with err. */
struct xbatch *
shared_batch(struct shared *sh, struct pool *p, char *err, size_t errlen)
{
	struct sbatch	*sb;
	char		 id[JOURNAL_ID_LEN + 1], t[24];

	if (!rconn_up(sh->cmd)) {
		snprintf(err, errlen, "no connection to Redis %s yet",
		    sh->addr_str);
		return (NULL);
	}
	journal_new_id(id);
	sb = sb_new(sh, id, pool_name(p));
	sb->created = (int64_t)time(NULL);
	snprintf(t, sizeof(t), "%lld", (long long)sb->created);
	(void)rconn_cmdf(sh->cmd, NULL, NULL, "HSET %s pool %s node %s "
	    "created %s next 0 jobs 0 ended 0", sb->m, sb->pool, sh->node, t);
	return (&sb->xb);
}

/*
 * droverd drains (or stops): the clients of the batches submitted here
 * take no more jobs and get BYE (stopped, durable) once what they sent is
 * in Redis and ACCEPTED; the batches go on in Redis, on the other nodes,
 * and the clients come back with their ids on another.
 */
void
shared_drain(struct shared *sh, const char *why)
{
	struct sbatch	*sb, *next;

	sh->draining = true;
	TAILQ_FOREACH_SAFE(sb, &sh->sbatches, entry, next) {
		if (sb->draining || sb->dead)
			continue;
		sb->draining = true;
		if (sb->sink == NULL)
			continue;
		sb->sink->closing(sb->sarg, why);
		if (sb_drained(sb) && sb->sink != NULL)
			sb->sink->kick(sb->sarg);
	}
	event_active(sh->ev_acc, EV_TIMEOUT, 0);
}

/*
 * Draining, may droverd exit?  Once every client of a batch submitted here
 * may go (its BYE is due or sent), every command has its reply (the
 * entries given back and the last results are in Redis), and no closing
 * pool still waits for a read of its stream.
 */
bool
shared_settled(const struct shared *sh)
{
	const struct sbatch	*sb;
	const struct spool	*sp;

	TAILQ_FOREACH(sb, &sh->sbatches, entry)
		if (sb->sink != NULL && !sb->dead && !sb->complete &&
		    !sb_drained(sb))
			return (false);
	/* A closing pool's last read: what it brings goes back (sp_take). */
	TAILQ_FOREACH(sp, &sh->spools, entry)
		if (sp->closing && sp->reading && sp->pool != NULL &&
		    rconn_up(sp->blk))
			return (false);
	return (!rconn_up(sh->cmd) || rconn_outstanding(sh->cmd) == 0);
}

static void
sh_poke(struct shared *sh)
{
	if (sh->draining && sh->hooks.settled != NULL)
		sh->hooks.settled();
}

/* A batch of this node, by id, not lost with Redis. */
static struct sbatch *
sb_find(struct shared *sh, const char *id)
{
	struct sbatch	*sb;

	TAILQ_FOREACH(sb, &sh->sbatches, entry)
		if (strcmp(sb->id, id) == 0 && !sb->dead)
			return (sb);
	return (NULL);
}

static void
find_cb(struct rconn *rc, redisReply *r, void *arg)
{
	struct sfind	*f = arg;
	struct shared	*sh = f->sh;
	struct sbatch	*sb;
	uint64_t	 next = 0, jobs = 0, ended = 0, created = 0, i;
	const redisReply *pool;
	char		 err[300];

	TAILQ_REMOVE(&sh->finds, f, entry);
	if (f->cancelled || rc == NULL)
		goto out;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		snprintf(err, sizeof(err), "Redis %s did not answer",
		    sh->addr_str);
		f->cb(f->arg, NULL, err);
		goto out;
	}
	pool = field(r, "pool");
	if (r->elements == 0 || pool == NULL ||
	    pool->type != REDIS_REPLY_STRING) {
		snprintf(err, sizeof(err), "unknown batch '%s'", f->id);
		f->cb(f->arg, NULL, err);
		goto out;
	}
	if (f->pool != NULL && strcmp(pool->str, f->pool) != 0) {
		snprintf(err, sizeof(err), "batch %s is of pool '%s', not "
		    "'%s'", f->id, pool->str, f->pool);
		f->cb(f->arg, NULL, err);
		goto out;
	}
	if ((sb = sb_find(sh, f->id)) == NULL) {
		(void)str_u64(field(r, "next"), &next);
		(void)str_u64(field(r, "jobs"), &jobs);
		(void)str_u64(field(r, "ended"), &ended);
		(void)str_u64(field(r, "created"), &created);
		sb = sb_new(sh, f->id, pool->str);
		sb->created = (int64_t)created;
		sb->next_id = sb->told_next = next;
		sb->jobs = jobs;
		sb->ended = sb->ended_told = sb->end_sent = ended != 0;
		/* Every id the batch may have is open; results close them. */
		for (i = 0; i < next; i++)
			(void)idset_add(&sb->seen, i);
	}
	f->cb(f->arg, &sb->xb, NULL);
out:
	free(f->id);
	free(f->pool);
	free(f);
}

/*
 * Find batch id (of pool, if not NULL) to go on with it here: this node's
 * own, or one another node started (its hash read back; its result stream
 * replayed from the start).  The answer comes through cb.
 */
void
shared_find(struct shared *sh, const char *id, const char *pool,
    shared_found_cb cb, void *arg)
{
	struct sfind	*f;
	struct sbatch	*sb;
	char		*m, err[300];

	if ((sb = sb_find(sh, id)) != NULL && (pool == NULL ||
	    strcmp(sb->pool, pool) == 0)) {
		cb(arg, &sb->xb, NULL);
		return;
	}
	f = xcalloc(1, sizeof(*f));
	f->sh = sh;
	f->id = xstrdup(id);
	f->pool = pool != NULL ? xstrdup(pool) : NULL;
	f->cb = cb;
	f->arg = arg;
	m = key("m", id);
	if (rconn_cmdf(sh->cmd, find_cb, f, "HGETALL %s", m) != 0) {
		free(m);
		free(f->id);
		free(f->pool);
		free(f);
		snprintf(err, sizeof(err), "no connection to Redis %s",
		    sh->addr_str);
		cb(arg, NULL, err);
		return;
	}
	free(m);
	TAILQ_INSERT_TAIL(&sh->finds, f, entry);
}

/* The caller went: its lookup's answer is dropped. */
void
shared_find_cancel(struct shared *sh, void *arg)
{
	struct sfind	*f;

	TAILQ_FOREACH(f, &sh->finds, entry)
		if (f->arg == arg)
			f->cancelled = true;
}

/* Reading a shared batch's results back: its hash, then XRANGE pages. */
static void
rd_free(struct sreader *rd)
{
	idset_free(&rd->seen);
	free(rd->r);
	free(rd->m);
	free(rd);
}

static void
rd_end(struct sreader *rd, const char *why)
{
	const struct xreader_ops *ops = rd->ops;
	void		*arg = rd->arg;

	shared_read_close(rd);
	ops->end(arg, why);
}

static void
rd_range_cb(struct rconn *rc, redisReply *r, void *arg)
{
	struct sreader		*rd = arg;
	const redisReply	*e, *f, *rec;
	uint64_t		 jid, st;
	size_t			 i;

	rd->busy = false;
	if (rd->closed) {
		rd_free(rd);
		return;
	}
	if (rc == NULL || r == NULL || r->type != REDIS_REPLY_ARRAY) {
		rd_end(rd, "lost Redis while reading the results");
		return;
	}
	for (i = 0; i < r->elements; i++) {
		e = r->element[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
		    e->element[0]->type != REDIS_REPLY_STRING)
			continue;
		if (e->element[0]->len < sizeof(rd->cursor) - 1)
			snprintf(rd->cursor, sizeof(rd->cursor), "(%s",
			    e->element[0]->str);
		f = e->element[1];
		rec = field(f, "r");
		if (!str_u64(field(f, "i"), &jid) ||
		    !str_u64(field(f, "s"), &st) || st >= JOB_NSTATUS ||
		    rec == NULL || rec->type != REDIS_REPLY_STRING ||
		    !idset_finish(&rd->seen, jid))
			continue;
		rd->seen_n++;
		rd->ops->result(rd->arg, jid, (enum job_status)st, rec->str,
		    rec->len);
		if (rd->closed)
			break;
	}
	if (rd->closed) {
		rd_free(rd);
		return;
	}
	if (r->elements == PAGE) {
		rd->paused = true;
		rd->ops->page_end(rd->arg);
		return;
	}
	/* At the end of the stream: done, or wait for the rest. */
	if (!rd->wait || (rd->ended && rd->seen_n >= rd->jobs)) {
		rd_end(rd, NULL);
		return;
	}
	timer_arm_us(rd->ev_poll, 200000);
}

static void
rd_meta_cb(struct rconn *rc, redisReply *r, void *arg)
{
	struct sreader		*rd = arg;
	const redisReply	*pool;
	uint64_t		 next = 0, i, ended = 0;
	char			 err[300];

	rd->busy = false;
	if (rd->closed) {
		rd_free(rd);
		return;
	}
	if (rc == NULL || r == NULL || r->type != REDIS_REPLY_ARRAY) {
		rd_end(rd, "lost Redis while reading the batch");
		return;
	}
	pool = field(r, "pool");
	if (r->elements == 0 || pool == NULL ||
	    pool->type != REDIS_REPLY_STRING) {
		snprintf(err, sizeof(err), "unknown batch '%s'", rd->id);
		rd_end(rd, err);
		return;
	}
	(void)str_u64(field(r, "next"), &next);
	(void)str_u64(field(r, "jobs"), &rd->jobs);
	(void)str_u64(field(r, "ended"), &ended);
	rd->ended = ended != 0;
	if (rd->next < next) {
		for (i = rd->next; i < next; i++)
			(void)idset_add(&rd->seen, i);
		rd->next = next;
	}
	if (!rd->begun) {
		rd->begun = true;
		snprintf(rd->pool, sizeof(rd->pool), "%s", pool->str);
		snprintf(rd->state, sizeof(rd->state), "%s", rd->ended ?
		    "ended" : "open");
		rd->info.id = rd->id;
		rd->info.pool = rd->pool;
		rd->info.state = rd->state;
		rd->info.next_id = next;
		rd->info.jobs = rd->jobs;
		rd->info.done = 0;
		rd->ops->begin(rd->arg, &rd->info);
		if (rd->closed)
			return;
	}
	rd_go(rd);
}

/* The next page, from where the last ended. */
static void
rd_go(struct sreader *rd)
{
	char	 count[16];

	rd->paused = false;
	snprintf(count, sizeof(count), "%d", PAGE);
	if (rconn_cmdf(rd->sh->cmd, rd_range_cb, rd, "XRANGE %s %s + COUNT "
	    "%s", rd->r, rd->cursor, count) != 0) {
		rd_end(rd, "no connection to Redis");
		return;
	}
	rd->busy = true;
}

/* Waiting for the rest: read the hash again (jobs, ended), then on. */
static void
rd_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sreader	*rd = arg;

	(void)fd;
	(void)what;
	if (rconn_cmdf(rd->sh->cmd, rd_meta_cb, rd, "HGETALL %s", rd->m) !=
	    0)
		timer_arm_us(rd->ev_poll, 200000);
	else
		rd->busy = true;
}

/*
 * Read batch id's results back, from any node: ops->begin() once its hash
 * is read (or end() with "unknown batch"), the results in the order they
 * were added, each id once; with wait, until every job has one.
 */
struct sreader *
shared_read(struct shared *sh, const char *id, bool wait,
    const struct xreader_ops *ops, void *arg)
{
	struct sreader	*rd;

	rd = xcalloc(1, sizeof(*rd));
	rd->sh = sh;
	snprintf(rd->id, sizeof(rd->id), "%s", id);
	rd->r = key("r", id);
	rd->m = key("m", id);
	rd->ops = ops;
	rd->arg = arg;
	rd->wait = wait;
	idset_init(&rd->seen);
	snprintf(rd->cursor, sizeof(rd->cursor), "-");
	rd->ev_poll = evtimer_new(sh->base, rd_poll_cb, rd);
	TAILQ_INSERT_TAIL(&sh->readers, rd, entry);
	if (rconn_cmdf(sh->cmd, rd_meta_cb, rd, "HGETALL %s", rd->m) != 0) {
		shared_read_close(rd);
		return (NULL);
	}
	rd->busy = true;
	return (rd);
}

void
shared_read_more(struct sreader *rd)
{
	if (rd->paused && !rd->busy)
		rd_go(rd);
}

/* Unlink; freed now, or when its reply comes. */
void
shared_read_close(struct sreader *rd)
{
	if (rd->closed)
		return;
	rd->closed = true;
	TAILQ_REMOVE(&rd->sh->readers, rd, entry);
	event_free(rd->ev_poll);
	rd->ev_poll = NULL;
	if (!rd->busy)
		rd_free(rd);
}

/* The node's name in the consumer groups: HOST:PID:NONCE. */
static void
node_name(char *buf, size_t len)
{
	char		 host[128];
	unsigned char	 r[4];

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	arc4random_buf(r, sizeof(r));
	snprintf(buf, len, "%s:%d:%02x%02x%02x%02x", host, (int)getpid(),
	    r[0], r[1], r[2], r[3]);
}

/*
 * Connect to Redis (in the background: a node starts without it, and its
 * shared pools take jobs once it is there) and start a consumer for every
 * shared pool.  NULL with err for a bad address.
 */
struct shared *
shared_new(struct event_base *base, const struct shared_conf *c,
    const struct shared_hooks *hooks, char *err, size_t errlen)
{
	struct shared	*sh;
	char		 name[200];

	sh = xcalloc(1, sizeof(*sh));
	if (redis_addr_parse(c->redis, &sh->addr, err, errlen) != 0) {
		free(sh);
		return (NULL);
	}
	sh->base = base;
	sh->hooks = *hooks;
	sh->retention_s = c->retention_s;
	sh->follow_client = -1;
	redis_addr_string(&sh->addr, sh->addr_str, sizeof(sh->addr_str));
	node_name(sh->node, sizeof(sh->node));
	TAILQ_INIT(&sh->spools);
	TAILQ_INIT(&sh->sbatches);
	TAILQ_INIT(&sh->finds);
	TAILQ_INIT(&sh->readers);
	buf_init(&sh->pack);
	sh->ev_acc = event_new(base, -1, 0, acc_cb, sh);
	sh->ev_follow = evtimer_new(base, follow_retry_cb, sh);
	snprintf(name, sizeof(name), "%s", sh->addr_str);
	sh->cmd = rconn_new(base, &sh->addr, name, CMD_TIMEOUT_US, &cmd_hooks,
	    sh);
	snprintf(name, sizeof(name), "%s (results)", sh->addr_str);
	sh->follow = rconn_new(base, &sh->addr, name, CMD_TIMEOUT_US +
	    BLOCK_MS * 1000ULL, &follow_hooks, sh);
	return (sh);
}

void
shared_free(struct shared *sh)
{
	struct spool	*sp;
	struct sbatch	*sb;
	struct sfind	*f;
	struct sreader	*rd;

	if (sh == NULL)
		return;
	sh->freeing = true;
	TAILQ_FOREACH(sp, &sh->spools, entry)
		sp_retire(sp);
	TAILQ_FOREACH(f, &sh->finds, entry)
		f->cancelled = true;
	/*
	 * Pending replies come now, with rc NULL: lookups and closed readers
	 * free themselves, batches drop their references.
	 */
	rconn_free(sh->cmd);
	rconn_free(sh->follow);
	while ((rd = TAILQ_FIRST(&sh->readers)) != NULL) {
		rd->busy = false;
		shared_read_close(rd);
	}
	while ((sp = TAILQ_FIRST(&sh->spools)) != NULL)
		sp_free(sp);
	while ((sb = TAILQ_FIRST(&sh->sbatches)) != NULL)
		sb_free(sb);
	event_free(sh->ev_acc);
	event_free(sh->ev_follow);
	buf_free(&sh->pack);
	redis_addr_free(&sh->addr);
	free(sh);
}

/*
 * The shared batches this node holds, for {"op":"batches"}: those
 * submitted (or taken up) here, until they are complete and their client
 * has gone.  Other nodes' are theirs to list.
 */
json_t *
shared_batches_json(struct shared *sh)
{
	struct sbatch		*sb;
	struct xbatch_info	 i;
	json_t			*a = json_array();

	TAILQ_FOREACH(sb, &sh->sbatches, entry)
		if (!sb->dead) {
			sbx_info(&sb->xb, &i);
			json_array_append_new(a, xbatch_row_json(&i, true));
		}
	return (a);
}

json_t *
shared_status_json(struct shared *sh)
{
	struct spool	*sp;
	json_t		*pools = json_object();

	TAILQ_FOREACH(sp, &sh->spools, entry)
		json_object_set_new(pools, sp->name, json_pack("{s:I,s:I,s:O,"
		    "s:I,s:I,s:I,s:I,s:I,s:I}", "length",
		    (json_int_t)sp->length, "pending", (json_int_t)sp->pending,
		    "consumers", sp->consumers, "inflight",
		    (json_int_t)sp->inflight,
		    "claimed", (json_int_t)sp->claimed, "acked",
		    (json_int_t)sp->acked, "crashed_on_claim",
		    (json_int_t)sp->crashed, "deleted",
		    (json_int_t)sp->deleted, "returned",
		    (json_int_t)sp->returned));
	return (json_pack("{s:s,s:s,s:b,s:o}", "redis", sh->addr_str, "node",
	    sh->node, "connected", rconn_up(sh->cmd), "pools", pools));
}

void
shared_metrics(struct shared *sh, struct buf *b)
{
	struct spool	*sp;
	const char	*name;
	json_t		*v;

	buf_printf(b, "# HELP drover_shared_up 1 while this node is "
	    "connected to Redis.\n# TYPE drover_shared_up gauge\n"
	    "drover_shared_up %d\n", rconn_up(sh->cmd));
	buf_printf(b, "# HELP drover_shared_queue_length Entries in a shared "
	    "pool's stream.\n# TYPE drover_shared_queue_length gauge\n");
	TAILQ_FOREACH(sp, &sh->spools, entry)
		buf_printf(b, "drover_shared_queue_length{pool=\"%s\"} %lld\n",
		    sp->name, sp->length);
	buf_printf(b, "# HELP drover_shared_pending Entries handed out and "
	    "not acknowledged, by consumer.\n"
	    "# TYPE drover_shared_pending gauge\n");
	TAILQ_FOREACH(sp, &sh->spools, entry)
		json_object_foreach(sp->consumers, name, v)
			buf_printf(b, "drover_shared_pending{pool=\"%s\","
			    "consumer=\"%s\"} %lld\n", sp->name, name,
			    (long long)json_integer_value(v));
	buf_printf(b, "# HELP drover_shared_consumers Consumers of a shared "
	    "pool with entries pending.\n"
	    "# TYPE drover_shared_consumers gauge\n");
	TAILQ_FOREACH(sp, &sh->spools, entry)
		buf_printf(b, "drover_shared_consumers{pool=\"%s\"} %zu\n",
		    sp->name, json_object_size(sp->consumers));
	buf_printf(b, "# HELP drover_shared_claims_total Entries this node "
	    "claimed from silent consumers.\n"
	    "# TYPE drover_shared_claims_total counter\n");
	TAILQ_FOREACH(sp, &sh->spools, entry)
		buf_printf(b, "drover_shared_claims_total{pool=\"%s\"} %llu\n",
		    sp->name, (unsigned long long)sp->claimed);
	buf_printf(b, "# HELP drover_shared_deleted_total Pending entries "
	    "found deleted from the stream by another client (their jobs "
	    "cannot run).\n# TYPE drover_shared_deleted_total counter\n");
	TAILQ_FOREACH(sp, &sh->spools, entry)
		buf_printf(b, "drover_shared_deleted_total{pool=\"%s\"} "
		    "%llu\n", sp->name, (unsigned long long)sp->deleted);
}

/*
 * The pools named are the configuration's: a consumer for each shared one
 * that has none, none for one gone or no longer shared (start, reload).
 */
void
shared_sync(struct shared *sh, const char *const *names, size_t n)
{
	struct pool	*p;
	size_t		 i;

	shared_pools(sh);
	for (i = 0; i < n; i++)
		if ((p = sh->hooks.pool(names[i])) != NULL &&
		    pool_conf(p)->shared)
			shared_pool_add(sh, p);
}

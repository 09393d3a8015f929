/*
 * `drover run --journal FILE`: the journal for a one-shot batch
 * (runjournal.h has the design; drover(1), --journal, the contract).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "batch.h"
#include "buf.h"
#include "job.h"
#include "journal.h"
#include "runjournal.h"
#include "xmalloc.h"

#define RJ_CLIENT	"drover run"	/* every fingerprint starts so */
#define RJ_MAGIC	"DRJ1"		/* the record in the stderr column */
#define RJ_HDR		64		/* its fixed part, bytes */
#define RJ_PENDING_MAX	200000		/* writes queued: stop reading */
#define RJ_PENDING_LOW	50000		/* and go on under this */

/* The stored result of one index: its bytes are in the arena at off. */
struct rj_entry {
	uint64_t	 hash;		/* of the job's bytes */
	uint64_t	 inlen;
	size_t		 off;
	uint32_t	 outlen;
	uint32_t	 reclen;
	uint8_t		 status;
	bool		 valid;
};

struct runjournal {
	struct journal		*j;
	char			*path;
	const char		*client;	/* this run's fingerprint */
	uint64_t		 key;		/* this run's batch */
	uint64_t		 rseq;
	bool			 retry_failed;
	bool			 paused;	/* input waits for the writer */
	bool			 failed;
	struct rj_entry		*e;		/* indexed by job id */
	size_t			 ne, cape;
	uint64_t		 stored;	/* valid entries */
	struct buf		 arena;
	struct buf		 rec;		/* a record being packed */
	int			 status;	/* an error's exit status */
	char			 err[1024];	/* a recovery callback's */
	size_t			 errlen;
	struct runjournal_hooks	 hooks;
	void			*arg;
};

/* 64-bit FNV-1a of a job's bytes. */
static uint64_t
rj_hash(const char *p, size_t len)
{
	uint64_t	 h = 0xcbf29ce484222325ULL;
	size_t		 i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ULL;
	}
	return (h);
}

static void
rj_put64(char *p, uint64_t v)
{
	int	 i;

	for (i = 0; i < 8; i++)
		p[i] = (char)(v >> (8 * i));
}

static uint64_t
rj_get64(const char *p)
{
	uint64_t	 v = 0;
	int		 i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | (unsigned char)p[i];
	return (v);
}

/*
 * The record of a result, beside its output: RJ_HDR bytes, "DRJ1" and 4
 * zero bytes, then 64-bit little-endian numbers: the hash and length of
 * the job's bytes, the worker's pid (high half) and the attempts (low),
 * the latency (us), the lengths of its stderr (all ones: none), of a
 * failure's stdout and of its JSON fields (frame result-fields); then
 * those bytes, in that order.
 */
static void
rj_pack(struct buf *b, const struct job *j, const struct jobresult *r)
{
	char	 h[RJ_HDR];

	memset(h, 0, sizeof(h));
	memcpy(h, RJ_MAGIC, 4);
	rj_put64(h + 8, rj_hash(j->data, j->len));
	rj_put64(h + 16, j->len);
	rj_put64(h + 24, ((uint64_t)(uint32_t)r->worker << 32) | r->runs);
	rj_put64(h + 32, r->latency_us);
	rj_put64(h + 40, r->err != NULL ? r->errlen : UINT64_MAX);
	rj_put64(h + 48, r->soutlen);
	rj_put64(h + 56, r->fieldslen);
	buf_reset(b);
	buf_add(b, h, sizeof(h));
	if (r->err != NULL)
		buf_add(b, r->err, r->errlen);
	if (r->soutlen != 0)
		buf_add(b, r->sout, r->soutlen);
	if (r->fieldslen != 0)
		buf_add(b, r->fields, r->fieldslen);
}

/* Unpack a record into s (its bytes stay where they are); -1 if bad. */
static int
rj_unpack(const char *p, size_t len, struct runjournal_stored *s,
    uint64_t *hash, uint64_t *inlen)
{
	uint64_t	 w, errlen, soutlen, fieldslen, rest;

	if (len < RJ_HDR || memcmp(p, RJ_MAGIC, 4) != 0)
		return (-1);
	*hash = rj_get64(p + 8);
	*inlen = rj_get64(p + 16);
	w = rj_get64(p + 24);
	s->worker = (pid_t)(uint32_t)(w >> 32);
	s->runs = (unsigned)(uint32_t)w;
	s->latency_us = rj_get64(p + 32);
	errlen = rj_get64(p + 40);
	soutlen = rj_get64(p + 48);
	fieldslen = rj_get64(p + 56);
	rest = len - RJ_HDR;
	p += RJ_HDR;
	s->err = NULL;
	s->errlen = 0;
	if (errlen != UINT64_MAX) {
		if (errlen > rest)
			return (-1);
		s->err = p;
		s->errlen = (size_t)errlen;
		p += errlen;
		rest -= errlen;
	}
	if (soutlen > rest || fieldslen != rest - soutlen)
		return (-1);
	s->sout = p;
	s->soutlen = (size_t)soutlen;
	s->fields = p + soutlen;
	s->fieldslen = (size_t)fieldslen;
	return (0);
}

/* Recovery: every run's batch must be of this command. */
static int
rj_rec_batch(void *arg, const struct journal_batchrec *b)
{
	struct runjournal	*rj = arg;
	size_t			 n = strlen(RJ_CLIENT);

	if (strncmp(b->client, RJ_CLIENT, n) != 0 ||
	    (b->client[n] != '\0' && b->client[n] != ' ')) {
		snprintf(rj->err, rj->errlen, "journal %s is not drover "
		    "run's: it holds a batch of pool '%s' (client '%s')",
		    rj->path, b->pool, b->client);
		rj->status = 2;
		return (-1);
	}
	if (strcmp(b->client, rj->client) != 0) {
		snprintf(rj->err, rj->errlen, "journal %s holds the results of "
		    "another command (%s), not of this one (%s): give "
		    "another file, or remove it to start again", rj->path,
		    b->client, rj->client);
		rj->status = 2;
		return (-1);
	}
	return (0);
}

/* Recovery: a result; a later run's replaces an earlier one's. */
static int
rj_rec_result(void *arg, const struct journal_result *r)
{
	struct runjournal	*rj = arg;
	struct runjournal_stored s;
	struct rj_entry		*e;
	uint64_t		 hash, inlen;
	size_t			 cap;

	if (r->err == NULL || rj_unpack(r->err, r->errlen, &s, &hash,
	    &inlen) == -1 || r->status >= JOB_NSTATUS ||
	    r->outlen > UINT32_MAX || r->errlen > UINT32_MAX) {
		snprintf(rj->err, rj->errlen, "journal %s: the result of job "
		    "%llu is not a record of drover run", rj->path,
		    (unsigned long long)r->id);
		rj->status = 3;
		return (-1);
	}
	if (r->id >= SIZE_MAX / 2 / sizeof(*rj->e)) {
		snprintf(rj->err, rj->errlen, "journal %s: job id %llu is out "
		    "of range", rj->path, (unsigned long long)r->id);
		rj->status = 3;
		return (-1);
	}
	if (r->id >= rj->cape) {
		cap = rj->cape != 0 ? rj->cape : 1024;
		while (cap <= r->id)
			cap *= 2;
		rj->e = xreallocarray(rj->e, cap, sizeof(*rj->e));
		memset(rj->e + rj->cape, 0, (cap - rj->cape) * sizeof(*rj->e));
		rj->cape = cap;
	}
	if (r->id >= rj->ne)
		rj->ne = (size_t)r->id + 1;
	e = &rj->e[r->id];
	if (!e->valid)
		rj->stored++;
	e->valid = true;
	e->hash = hash;
	e->inlen = inlen;
	e->status = (uint8_t)r->status;
	e->off = buf_len(&rj->arena);
	e->outlen = (uint32_t)r->outlen;
	e->reclen = (uint32_t)r->errlen;
	buf_add(&rj->arena, r->out, r->outlen);
	buf_add(&rj->arena, r->err, r->errlen);
	return (0);
}

static const struct journal_recover_ops rj_recover_ops = {
	.batch = rj_rec_batch,
	.result = rj_rec_result,
};

/*
 * Open (or create) the journal at path for the command client (its
 * fingerprint, "drover run ..."), read what earlier runs stored, and
 * start this run's batch of pool.  On error: NULL, err says why (naming
 * the file) and *status is the exit status (2: another command's file).
 */
struct runjournal *
runjournal_open(const char *path, const char *client, const char *pool,
    bool retry_failed, int *status, char *err, size_t errlen)
{
	struct journal_conf	 conf;
	struct runjournal	*rj;
	char			 id[JOURNAL_ID_LEN + 1];

	rj = xcalloc(1, sizeof(*rj));
	rj->path = xstrdup(path);
	rj->client = client;
	rj->retry_failed = retry_failed;
	rj->errlen = sizeof(rj->err);
	rj->status = 3;
	buf_init(&rj->arena);
	buf_init(&rj->rec);
	memset(&conf, 0, sizeof(conf));
	conf.path = path;		/* retention 0: kept for ever */
	if ((rj->j = journal_open(&conf, err, errlen)) == NULL)
		goto fail;
	if (journal_recover(rj->j, &rj_recover_ops, rj, err, errlen) == -1) {
		if (rj->err[0] != '\0')	/* a callback's own message */
			snprintf(err, errlen, "%s", rj->err);
		goto fail;
	}
	journal_new_id(id);
	if (journal_batch(rj->j, id, pool, client, (int64_t)time(NULL),
	    &rj->key) == 0) {
		snprintf(err, errlen, "journal %s: cannot record the batch",
		    path);
		goto fail;
	}
	return (rj);
fail:
	*status = rj->status;
	runjournal_close(rj);
	return (NULL);
}

static void
rj_committed(void *arg, uint64_t seq)
{
	struct runjournal	*rj = arg;

	(void)seq;
	if (rj->paused && journal_pending(rj->j) < RJ_PENDING_LOW) {
		rj->paused = false;
		if (rj->hooks.resume != NULL)
			rj->hooks.resume(rj->arg);
	}
}

static void
rj_failed(void *arg, const char *why)
{
	struct runjournal	*rj = arg;

	rj->failed = true;
	if (rj->hooks.failed != NULL)
		rj->hooks.failed(rj->arg, why);
}

static const struct journal_hooks rj_journal_hooks = {
	.committed = rj_committed,
	.failed = rj_failed,
};

/* Start the writer thread; its reports come on base. */
int
runjournal_start(struct runjournal *rj, struct event_base *base,
    const struct runjournal_hooks *hooks, void *arg, char *err,
    size_t errlen)
{
	rj->hooks = *hooks;
	rj->arg = arg;
	return (journal_start(rj->j, base, &rj_journal_hooks, rj, err,
	    errlen));
}

/*
 * Is job id, with these bytes, finished in the journal?  Then s is its
 * stored result.  With --retry-failed only ok results count.
 */
bool
runjournal_find(struct runjournal *rj, uint64_t id, const char *data,
    size_t len, struct runjournal_stored *s)
{
	const struct rj_entry	*e;
	const char		*p;
	uint64_t		 hash, inlen;

	if (id >= rj->ne || !(e = &rj->e[id])->valid)
		return (false);
	if (e->inlen != len || e->hash != rj_hash(data, len))
		return (false);
	if (rj->retry_failed && e->status != JOB_OK)
		return (false);
	p = buf_data(&rj->arena) + e->off;
	if (rj_unpack(p + e->outlen, e->reclen, s, &hash, &inlen) == -1)
		return (false);	/* checked at recovery */
	s->status = (enum job_status)e->status;
	s->out = p;
	s->outlen = e->outlen;
	return (true);
}

/* Job id was read: record it. */
void
runjournal_accept(struct runjournal *rj, uint64_t id, const char *data,
    size_t len)
{
	(void)journal_accept(rj->j, rj->key, id, data, len);
}

/* A job's result: record it, unless it was cancelled (it runs again). */
void
runjournal_done(struct runjournal *rj, const struct job *j,
    const struct jobresult *r)
{
	struct journal_result	 jr;

	if (r->status == JOB_CANCELLED)
		return;		/* it runs again */
	/* (A job over --max-job-bytes has no row: its done changes none.) */
	rj_pack(&rj->rec, j, r);
	memset(&jr, 0, sizeof(jr));
	jr.batch = rj->key;
	jr.id = j->id;
	jr.rseq = rj->rseq++;
	jr.status = r->status;
	jr.out = r->out;
	jr.outlen = r->outlen;
	jr.err = buf_data(&rj->rec);
	jr.errlen = buf_len(&rj->rec);
	(void)journal_done(rj->j, &jr);
}

/* Too many writes queued: read no more until the resume hook. */
bool
runjournal_busy(struct runjournal *rj)
{
	if (rj->failed || journal_pending(rj->j) < RJ_PENDING_MAX)
		return (false);
	rj->paused = true;
	return (true);
}

/* Results held from earlier runs (for the log). */
uint64_t
runjournal_stored_count(const struct runjournal *rj)
{
	return (rj->stored);
}

/*
 * The run is over: mark the batch complete if it is, and wait on base
 * until every write is committed or the journal failed.  False if it
 * failed (the failed hook has said why).
 */
bool
runjournal_sync(struct runjournal *rj, struct event_base *base,
    bool complete)
{
	struct journal_stats	 st;

	if (complete && !rj->failed)
		(void)journal_batch_state(rj->j, rj->key,
		    JOURNAL_BATCH_COMPLETE, (int64_t)time(NULL));
	for (;;) {
		journal_get_stats(rj->j, &st);
		if (rj->failed || st.durable >= st.seq)
			break;
		if (event_base_loop(base, EVLOOP_ONCE) == -1)
			break;
	}
	return (!rj->failed);
}

void
runjournal_close(struct runjournal *rj)
{
	if (rj == NULL)
		return;
	journal_close(rj->j);
	free(rj->e);
	buf_free(&rj->arena);
	buf_free(&rj->rec);
	free(rj->path);
	free(rj);
}

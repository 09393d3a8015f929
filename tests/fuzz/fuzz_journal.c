/*
 * libFuzzer target: the journal's recovery (daemon/journal.c) on a
 * damaged file.  The input is the journal file's bytes, written to a
 * private directory and opened as droverd opens its journal at start-up:
 * journal_open() (pragmas, schema check), journal_recover() (every batch,
 * unfinished job and undelivered result through the callbacks, which
 * touch every byte they are given), then, when that worked, the writer
 * started on a private event_base and, for each recovered batch, a read
 * of its results back (journal_query(), as `drover results` and a
 * reconnect do) and one more record of each kind, then journal_close().
 * A failure must come with a message naming the file.  Nothing may crash,
 * hang or leak, whatever the bytes.
 */
#include <sys/stat.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "journal.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FZ_CHECK(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,	\
		    __LINE__, #c);					\
		abort();						\
	}								\
} while (0)

#define FZ_BATCHES	64	/* batches read back, at most */

static char	 fz_dir[64];
static char	 fz_path[96];
static char	 fz_wal[100];

struct fz_state {
	uint64_t	 keys[FZ_BATCHES];
	size_t		 nkeys;
	unsigned	 sum;		/* every byte seen, so ASan reads it */
	size_t		 asked;
	size_t		 answered;
	struct event_base *base;
};

static void
fz_cleanup(void)
{
	(void)unlink(fz_path);
	(void)unlink(fz_wal);
	(void)rmdir(fz_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*tmp = getenv("TMPDIR");

	(void)argc;
	(void)argv;
	snprintf(fz_dir, sizeof(fz_dir), "%s/fuzz_journal.XXXXXX",
	    tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
	if (mkdtemp(fz_dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	snprintf(fz_path, sizeof(fz_path), "%s/journal.db", fz_dir);
	snprintf(fz_wal, sizeof(fz_wal), "%s-wal", fz_path);
	atexit(fz_cleanup);
	return (0);
}

static void
fz_touch(struct fz_state *s, const void *p, size_t len)
{
	const unsigned char	*b = p;
	size_t			 i;

	for (i = 0; i < len; i++)
		s->sum += b[i];
}

static int
fz_batch(void *arg, const struct journal_batchrec *b)
{
	struct fz_state	*s = arg;

	fz_touch(s, b->id, strlen(b->id));
	fz_touch(s, b->pool, strlen(b->pool));
	fz_touch(s, b->client, strlen(b->client));
	FZ_CHECK(b->done <= b->jobs);
	if (s->nkeys < FZ_BATCHES)
		s->keys[s->nkeys++] = b->key;
	return (0);
}

static int
fz_job(void *arg, const struct journal_jobrec *j)
{
	struct fz_state	*s = arg;

	fz_touch(s, j->data, j->datalen);
	FZ_CHECK(!j->charged || j->attempts >= 1);
	return (0);
}

static int
fz_result(void *arg, const struct journal_result *r)
{
	struct fz_state	*s = arg;

	fz_touch(s, r->out, r->outlen);
	if (r->err != NULL)
		fz_touch(s, r->err, r->errlen);
	return (0);
}

static const struct journal_recover_ops fz_ops = {
	fz_batch, fz_job, fz_result,
};

static void
fz_committed(void *arg, uint64_t seq)
{
	(void)arg;
	(void)seq;
}

static void
fz_failed(void *arg, const char *why)
{
	(void)arg;
	FZ_CHECK(why != NULL && *why != '\0');
}

static const struct journal_hooks fz_hooks = { fz_committed, fz_failed };

static void
fz_page(void *arg, const struct journal_result *r, size_t n, bool more)
{
	struct fz_state	*s = arg;
	size_t		 i;

	(void)more;
	s->answered++;
	for (i = 0; r != NULL && i < n; i++)
		fz_result(s, &r[i]);
	if (s->answered == s->asked)
		event_base_loopbreak(s->base);
}

/* The writer on a private loop: read each batch back, write a little. */
static void
fz_run(struct journal *j, struct fz_state *s)
{
	struct journal_query_args	 a;
	struct journal_result		 res;
	struct timeval			 tv = { 5, 0 };
	char				 err[600];
	uint64_t			 key;
	size_t				 i;

	s->base = event_base_new();
	FZ_CHECK(s->base != NULL);
	if (journal_start(j, s->base, &fz_hooks, s, err, sizeof(err)) != 0) {
		FZ_CHECK(strstr(err, fz_path) != NULL);
		event_base_free(s->base);
		return;
	}
	for (i = 0; i < s->nkeys; i++) {
		memset(&a, 0, sizeof(a));
		a.batch = s->keys[i];
		a.after = -1;
		a.rseq_hi = UINT64_MAX;
		a.limit = 100;
		if (journal_query(j, &a, fz_page, s) != NULL)
			s->asked++;
		(void)journal_accept(j, s->keys[i], UINT64_MAX / 2, "x", 1);
		memset(&res, 0, sizeof(res));
		res.batch = s->keys[i];
		res.id = UINT64_MAX / 2;
		res.out = "y";
		res.outlen = 1;
		(void)journal_done(j, &res);
		(void)journal_delivered(j, s->keys[i], 1);
	}
	if (journal_batch(j, "fuzz-new", "p", NULL, 1, &key) != 0)
		(void)journal_batch_state(j, key, JOURNAL_BATCH_COMPLETE, 1);
	/* Every answer comes, or the writer failed and said why. */
	if (s->asked != 0) {
		event_base_loopexit(s->base, &tv);
		event_base_dispatch(s->base);
	}
	journal_close(j);
	event_base_free(s->base);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal_conf	 conf;
	struct fz_state		 s;
	struct journal		*j;
	char			 err[600];
	FILE			*f;

	fz_cleanup();
	FZ_CHECK(mkdir(fz_dir, 0700) == 0);
	if ((f = fopen(fz_path, "w")) == NULL) {
		perror(fz_path);
		abort();
	}
	FZ_CHECK(size == 0 || fwrite(data, 1, size, f) == size);
	FZ_CHECK(fclose(f) == 0);

	memset(&conf, 0, sizeof(conf));
	memset(&s, 0, sizeof(s));
	conf.path = fz_path;
	conf.retention_s = 1;
	if ((j = journal_open(&conf, err, sizeof(err))) == NULL) {
		FZ_CHECK(strstr(err, fz_path) != NULL);
		return (0);
	}
	if (journal_recover(j, &fz_ops, &s, err, sizeof(err)) != 0) {
		FZ_CHECK(strstr(err, fz_path) != NULL);
		journal_close(j);
		return (0);
	}
	fz_run(j, &s);
	return (0);
}

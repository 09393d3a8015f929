/*
 * bench/journal.c: the journal's throughput (daemon/journal.c) against
 * the plain SQLite program that does the same commits directly, in the
 * same run on the same file system (bench/README.md).
 *
 *   plain:   one connection, WAL, synchronous=FULL, exclusive locking,
 *            the journal's own schema and statements; per 1000 jobs one
 *            transaction of 1000 accepts and 1000 dones.
 *   journal: the journal fed the same rows through its queue from a
 *            libevent loop, 1000 accepts then their 1000 dones a loop
 *            turn, until committed() reports the last number; then again
 *            with txn_rows 2000, the plain program's transaction size.
 *
 * A trivial job is its number as text, its result the square as text.
 * Runs are interleaved (plain, journal, plain, ...); each line is one
 * run, then the medians, then the targets: the journal at least half the
 * plain program's jobs/s, and at least 50,000 jobs/s.
 *
 * Usage: bench-journal [-p] [-n jobs] [-r runs] [-d dir]
 * -p: the plain program only, one line a run ("plain: N jobs in S s:
 * R jobs/s"), for bench/suite.py's durable section, which times droverd
 * beside it.
 * Built with `meson compile -C build bench-journal`, never by default.
 */
#include <sys/utsname.h>

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "clock.h"
#include "journal.h"

#define CHUNK		1000	/* jobs a transaction (plain), a turn */
#define MAXPENDING	200000	/* the loop waits above this many rows */

struct result {
	double	 secs;
	uint64_t rows;
	uint64_t commits;
	uint64_t p50_us;
	uint64_t p99_us;
};

static char	 dir[1024];

static void
db_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s.db", dir, name);
}

static void
rm_db(const char *path)
{
	char	 p[1200];

	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
}

static void
sq(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		errx(1, "%s: %s", sql, sqlite3_errmsg(db));
}

/* (a) The same commits, done directly. */
static void
run_plain(uint64_t n, struct result *res)
{
	struct journal_conf	 conf = { 0 };
	struct journal		*j;
	sqlite3			*db;
	sqlite3_stmt		*acc, *done;
	char			 path[1100], num[32], out[48];
	char			 e[600];
	uint64_t		 i, k, t0, t1, c0;
	struct hist		 h;
	int			 nl, ol;

	db_path(path, sizeof(path), "plain");
	rm_db(path);
	conf.path = path;
	if ((j = journal_open(&conf, e, sizeof(e))) == NULL)	/* schema */
		errx(1, "%s", e);
	journal_close(j);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		errx(1, "%s: %s", path, sqlite3_errmsg(db));
	sq(db, "PRAGMA locking_mode = EXCLUSIVE");
	sq(db, "PRAGMA journal_mode = WAL");
	sq(db, "PRAGMA synchronous = FULL");
	sq(db, "PRAGMA cache_size = -16384");
	sq(db, "INSERT INTO batch (bkey, id, pool, client, created)"
	    " VALUES (1, 'plain', 'p', '', 0)");
	if (sqlite3_prepare_v2(db, "INSERT INTO job (bkey, id, data)"
	    " VALUES (1, ?1, ?2) ON CONFLICT DO NOTHING", -1, &acc,
	    NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "UPDATE job SET status = 0, rseq = ?1,"
	    " output = ?2, stderr = NULL, running = 0"
	    " WHERE bkey = 1 AND id = ?1 AND status IS NULL", -1, &done,
	    NULL) != SQLITE_OK)
		errx(1, "prepare: %s", sqlite3_errmsg(db));
	hist_init(&h);
	t0 = clock_us();
	for (i = 0; i < n; i += CHUNK) {
		c0 = clock_us();
		sq(db, "BEGIN IMMEDIATE");
		for (k = i; k < i + CHUNK && k < n; k++) {
			nl = snprintf(num, sizeof(num), "%llu",
			    (unsigned long long)k);
			sqlite3_bind_int64(acc, 1, (int64_t)k);
			sqlite3_bind_blob(acc, 2, num, nl, SQLITE_STATIC);
			if (sqlite3_step(acc) != SQLITE_DONE)
				errx(1, "accept: %s", sqlite3_errmsg(db));
			sqlite3_reset(acc);
		}
		for (k = i; k < i + CHUNK && k < n; k++) {
			ol = snprintf(out, sizeof(out), "%llu",
			    (unsigned long long)(k * k));
			sqlite3_bind_int64(done, 1, (int64_t)k);
			sqlite3_bind_blob(done, 2, out, ol, SQLITE_STATIC);
			if (sqlite3_step(done) != SQLITE_DONE)
				errx(1, "done: %s", sqlite3_errmsg(db));
			sqlite3_reset(done);
		}
		sq(db, "COMMIT");
		hist_add(&h, clock_us() - c0);
	}
	t1 = clock_us();
	sqlite3_finalize(acc);
	sqlite3_finalize(done);
	sqlite3_close(db);
	rm_db(path);
	res->secs = (double)(t1 - t0) / 1e6;
	res->rows = 2 * n;
	res->commits = h.count;
	res->p50_us = hist_percentile(&h, 0.5);
	res->p99_us = hist_percentile(&h, 0.99);
}

/* (b) The journal, fed from a libevent loop. */
struct feed {
	struct event_base	*base;
	struct journal		*j;
	struct event		*ev;
	uint64_t		 key;
	uint64_t		 n;
	uint64_t		 next;
	uint64_t		 last;	/* seq of the last record */
	uint64_t		 committed;
	char			 why[600];
};

static void
feed_committed(void *arg, uint64_t seq)
{
	struct feed	*f = arg;

	f->committed = seq;
	if (f->last != 0 && seq >= f->last)
		event_base_loopbreak(f->base);
}

static void
feed_failed(void *arg, const char *why)
{
	struct feed	*f = arg;

	strlcpy(f->why, why, sizeof(f->why));
	event_base_loopbreak(f->base);
}

static void
feed_turn(evutil_socket_t fd, short what, void *arg)
{
	struct feed		*f = arg;
	struct journal_result	 r = { .status = JOB_OK };
	struct timeval		 ms = { 0, 1000 };
	char			 num[32], out[48];
	uint64_t		 k, end, seq = 0;
	int			 nl;

	(void)fd;
	(void)what;
	if (journal_pending(f->j) > MAXPENDING) {
		event_add(f->ev, &ms);
		return;
	}
	end = f->next + CHUNK < f->n ? f->next + CHUNK : f->n;
	for (k = f->next; k < end; k++) {
		nl = snprintf(num, sizeof(num), "%llu", (unsigned long long)k);
		journal_accept(f->j, f->key, k, num, (size_t)nl);
	}
	r.batch = f->key;
	for (k = f->next; k < end; k++) {
		r.id = r.rseq = k;
		r.outlen = (size_t)snprintf(out, sizeof(out), "%llu",
		    (unsigned long long)(k * k));
		r.out = out;
		seq = journal_done(f->j, &r);
	}
	f->next = end;
	if (f->next < f->n)
		event_active(f->ev, EV_TIMEOUT, 0);
	else if ((f->last = seq) <= f->committed)
		event_base_loopbreak(f->base);
}

static void
run_journal(uint64_t n, size_t txn_rows, struct result *res)
{
	static const struct journal_hooks	 hooks = { feed_committed,
	    feed_failed };
	static const struct journal_recover_ops	 none;
	struct journal_conf			 conf = { 0 };
	struct journal_stats			*st;
	struct feed				 f = { .n = n };
	char					 path[1100], e[600];
	uint64_t				 t0, t1;

	db_path(path, sizeof(path), "journal");
	rm_db(path);
	conf.path = path;
	conf.txn_rows = txn_rows;
	if ((f.base = event_base_new()) == NULL)
		errx(1, "event_base_new");
	if ((f.j = journal_open(&conf, e, sizeof(e))) == NULL ||
	    journal_recover(f.j, &none, NULL, e, sizeof(e)) != 0 ||
	    journal_start(f.j, f.base, &hooks, &f, e, sizeof(e)) != 0)
		errx(1, "%s", e);
	f.ev = event_new(f.base, -1, 0, feed_turn, &f);
	t0 = clock_us();
	journal_batch(f.j, "bench", "p", NULL, 0, &f.key);
	event_active(f.ev, EV_TIMEOUT, 0);
	event_base_dispatch(f.base);
	t1 = clock_us();
	if (f.why[0] != '\0')
		errx(1, "%s", f.why);
	if ((st = malloc(sizeof(*st))) == NULL)
		err(1, "malloc");
	journal_get_stats(f.j, st);
	if (st->durable != f.last || st->rows != 2 * n + 1)
		errx(1, "journal: %llu rows committed, expected %llu",
		    (unsigned long long)st->rows,
		    (unsigned long long)(2 * n + 1));
	res->secs = (double)(t1 - t0) / 1e6;
	res->rows = st->rows;
	res->commits = st->commits;
	res->p50_us = hist_percentile(&st->commit_us, 0.5);
	res->p99_us = hist_percentile(&st->commit_us, 0.99);
	free(st);
	event_free(f.ev);
	journal_close(f.j);
	event_base_free(f.base);
	rm_db(path);
}

static void
print_run(const char *what, int run, uint64_t n, const struct result *r)
{
	printf("| %s | %d | %.3f | %.0f | %.0f | %llu | %.0f | %llu | %llu |\n",
	    what, run, r->secs, (double)r->rows / r->secs,
	    (double)n / r->secs, (unsigned long long)r->commits,
	    (double)r->rows / (double)r->commits,
	    (unsigned long long)r->p50_us, (unsigned long long)r->p99_us);
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return ((x > y) - (x < y));
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2);
}

static void
host(void)
{
	struct utsname	 u;
	char		 line[512], cmd[1100];
	FILE		*f;

	if ((f = popen("uname -a", "r")) != NULL) {
		if (fgets(line, sizeof(line), f) != NULL)
			printf("- uname -a: %s", line);
		pclose(f);
	} else if (uname(&u) == 0)
		printf("- uname: %s %s %s %s %s\n", u.sysname, u.nodename,
		    u.release, u.version, u.machine);
	if ((f = fopen("/proc/cpuinfo", "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (strncmp(line, "model name", 10) == 0) {
				printf("- cpu:%s", strchr(line, ':') + 1);
				break;
			}
		fclose(f);
	}
	printf("- cpus online: %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
	snprintf(cmd, sizeof(cmd), "df -T '%s' | tail -n 1", dir);
	if ((f = popen(cmd, "r")) != NULL) {
		if (fgets(line, sizeof(line), f) != NULL)
			printf("- df -T: %s", line);
		pclose(f);
	}
	printf("- sqlite %s, libevent %s\n", sqlite3_libversion(),
	    event_get_version());
}

int
main(int argc, char *argv[])
{
	struct result	 r;
	uint64_t	 n = 200000;
	double		 pj[64], jj[64], pr[64], jr[64], js[64], mp, mj;
	const char	*where = ".";
	int		 ch, runs = 3, i, plain_only = 0;

	while ((ch = getopt(argc, argv, "pn:r:d:")) != -1)
		switch (ch) {
		case 'p':
			plain_only = 1;
			break;
		case 'n':
			n = strtoull(optarg, NULL, 10);
			break;
		case 'r':
			runs = atoi(optarg);
			break;
		case 'd':
			where = optarg;
			break;
		default:
			fprintf(stderr, "usage: bench-journal [-p] [-n jobs] "
			    "[-r runs] [-d dir]\n");
			return (2);
		}
	if (n == 0 || runs < 1 || runs > 64)
		errx(2, "bad -n or -r");
	snprintf(dir, sizeof(dir), "%s/bench-journal-XXXXXX", where);
	if (mkdtemp(dir) == NULL)
		err(1, "mkdtemp %s", dir);

	if (plain_only) {
		for (i = 0; i < runs; i++) {
			run_plain(n, &r);
			printf("plain: %llu jobs in %.3f s: %.0f jobs/s\n",
			    (unsigned long long)n, r.secs, (double)n / r.secs);
		}
		rmdir(dir);
		return (0);
	}
	printf("# journal throughput, %llu trivial jobs (accept + done), "
	    "%d runs\n\n", (unsigned long long)n, runs);
	host();
	printf("\n| program | run | s | rows/s | jobs/s | commits "
	    "| rows/commit | commit p50 us | p99 us |\n"
	    "|---|---|---|---|---|---|---|---|---|\n");
	fflush(stdout);
	for (i = 0; i < runs; i++) {
		run_plain(n, &r);
		print_run("plain", i + 1, n, &r);
		pj[i] = (double)n / r.secs;
		pr[i] = (double)r.rows / r.secs;
		run_journal(n, 0, &r);
		print_run("journal", i + 1, n, &r);
		jj[i] = (double)n / r.secs;
		jr[i] = (double)r.rows / r.secs;
		run_journal(n, 2 * CHUNK, &r);
		print_run("journal, txn_rows 2000", i + 1, n, &r);
		js[i] = (double)n / r.secs;
		fflush(stdout);
	}
	mp = median(pj, runs);
	mj = median(jj, runs);
	printf("\nmedians: plain %.0f rows/s %.0f jobs/s; journal %.0f "
	    "rows/s %.0f jobs/s (%.2fx plain)\n", median(pr, runs), mp,
	    median(jr, runs), mj, mj / mp);
	printf("journal with plain's transaction size (2000 rows): %.0f "
	    "jobs/s (%.2fx plain)\n", median(js, runs),
	    median(js, runs) / mp);
	printf("target journal >= 0.5x plain: %s\n",
	    mj >= 0.5 * mp ? "met" : "MISSED");
	printf("target journal >= 50000 jobs/s: %s\n",
	    mj >= 50000 ? "met" : "MISSED");
	rmdir(dir);
	return (0);
}

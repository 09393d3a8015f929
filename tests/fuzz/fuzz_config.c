/*
 * libFuzzer target: droverd's config loader and the reload diff
 * (config/conf.c, config/settings.c).  The input is two configs split at
 * the first NUL byte, each written to a file of a private directory and
 * loaded with conf_load(), as droverd loads its file and, on reload, the
 * new one.  When both load: conf_global_diff() and poolconf_diff() for
 * every pool of the same name, as a reload does; a conf compared with
 * itself, or a pool with its poolconf_dup(), must show no change, and
 * after poolconf_apply_hot() (a reload's hot apply) no hot change is
 * left.  A failed load must say why.  Everything is freed (LeakSanitizer
 * checks).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "poolconf.h"
#include "settings.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FZ_CHECK(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,	\
		    __LINE__, #c);					\
		abort();						\
	}								\
} while (0)

static char	 fz_dir[64];
static char	 fz_path[2][96];

static void
fz_cleanup(void)
{
	(void)unlink(fz_path[0]);
	(void)unlink(fz_path[1]);
	(void)rmdir(fz_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*tmp = getenv("TMPDIR");

	(void)argc;
	(void)argv;
	log_init("fuzz_config", LOG_STYLE_CLI, LOG_CRIT);
	snprintf(fz_dir, sizeof(fz_dir), "%s/fuzz_config.XXXXXX",
	    tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
	if (mkdtemp(fz_dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	snprintf(fz_path[0], sizeof(fz_path[0]), "%s/a.conf", fz_dir);
	snprintf(fz_path[1], sizeof(fz_path[1]), "%s/b.conf", fz_dir);
	atexit(fz_cleanup);
	return (0);
}

static void
fz_write(const char *path, const uint8_t *p, size_t len)
{
	FILE	*f;

	if ((f = fopen(path, "w")) == NULL) {
		perror(path);
		abort();
	}
	if (len != 0 && fwrite(p, 1, len, f) != len) {
		perror(path);
		abort();
	}
	if (fclose(f) != 0) {
		perror(path);
		abort();
	}
}

/* Load path; a failure must come with at least one message. */
static struct conf *
fz_load(const char *path)
{
	struct conf_errors errs;
	struct conf	*c;
	size_t		 i;

	c = conf_load(path, &errs);
	FZ_CHECK(c != NULL || errs.n != 0);
	for (i = 0; i < errs.n; i++)
		FZ_CHECK(errs.msgs[i] != NULL);
	conf_errors_free(&errs);
	return (c);
}

/* A conf against itself: nothing changed. */
static void
fz_self(const struct conf *c)
{
	struct poolconf	*dup;
	struct buf	 out;
	size_t		 i;

	buf_init(&out);
	FZ_CHECK(conf_global_diff(c, c, &out) == 0);
	for (i = 0; i < c->npools; i++) {
		FZ_CHECK(conf_pool(c, c->pools[i]->name) != NULL);
		FZ_CHECK(poolconf_diff(c->pools[i], c->pools[i], &out) == 0);
		dup = poolconf_dup(c->pools[i]);
		FZ_CHECK(poolconf_diff(c->pools[i], dup, &out) == 0);
		poolconf_free(dup);
	}
	FZ_CHECK(buf_len(&out) == 0);
	buf_free(&out);
}

/* The hot apply of a reload: no hot setting differs afterwards. */
static void
fz_hot(const struct poolconf *a, const struct poolconf *b, struct buf *out)
{
	struct poolconf	*dup = poolconf_dup(a);
	unsigned	 before = poolconf_diff(a, b, out);

	(void)poolconf_apply_hot(dup, b);
	FZ_CHECK((poolconf_diff(dup, b, out) & APPLY_HOT) == 0);
	if ((before & APPLY_MASK & ~APPLY_HOT) == 0)
		FZ_CHECK(poolconf_diff(dup, b, out) == 0);
	poolconf_free(dup);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t	*nul = memchr(data, '\0', size);
	size_t		 alen = nul != NULL ? (size_t)(nul - data) : size;
	struct conf	*a, *b;
	const struct poolconf *pb;
	struct buf	 out;
	size_t		 i;

	fz_write(fz_path[0], data, alen);
	fz_write(fz_path[1], nul != NULL ? nul + 1 : data, nul != NULL ?
	    size - alen - 1 : 0);
	a = fz_load(fz_path[0]);
	b = nul != NULL ? fz_load(fz_path[1]) : NULL;
	if (a != NULL)
		fz_self(a);
	if (a != NULL && b != NULL) {
		buf_init(&out);
		(void)conf_global_diff(a, b, &out);
		(void)conf_global_diff(b, a, &out);
		for (i = 0; i < a->npools; i++)
			if ((pb = conf_pool(b, a->pools[i]->name)) != NULL) {
				fz_hot(a->pools[i], pb, &out);
				fz_hot(pb, a->pools[i], &out);
			}
		buf_free(&out);
	}
	conf_free(a);
	conf_free(b);
	return (0);
}

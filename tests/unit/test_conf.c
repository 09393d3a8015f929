/*
 * Unit suite for config/conf.c: loading droverd.conf into a struct conf,
 * every problem reported as file:line, defaults, the reload diff and the
 * hot-apply of pool settings.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "check_main.h"

#include "buf.h"
#include "conf.h"
#include "pool.h"
#include "poolconf.h"
#include "settings.h"

static char	 conf_path[64];

/* Write text to a fresh temp file; remember its path. */
static const char *
write_conf(const char *text)
{
	int	 fd;
	FILE	*f;

	snprintf(conf_path, sizeof(conf_path), "/tmp/test_conf.XXXXXX");
	fd = mkstemp(conf_path);
	ck_assert_int_ne(fd, -1);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	return (conf_path);
}

/* Load text; the conf, or NULL with errs filled. */
static struct conf *
load(const char *text, struct conf_errors *errs)
{
	struct conf	*c;

	c = conf_load(write_conf(text), errs);
	unlink(conf_path);
	return (c);
}

/* Assert that loading text fails with an error at line, containing needle. */
static void
assert_error(const char *text, unsigned line, const char *needle)
{
	struct conf_errors	 errs;
	struct conf		*c;
	char			 prefix[96];
	size_t			 i;
	int			 found = 0;

	c = load(text, &errs);
	ck_assert_ptr_null(c);
	ck_assert_uint_ge(errs.n, 1);
	snprintf(prefix, sizeof(prefix), "%s:%u: ", conf_path, line);
	for (i = 0; i < errs.n; i++)
		if (strncmp(errs.msgs[i], prefix, strlen(prefix)) == 0 &&
		    strstr(errs.msgs[i], needle) != NULL)
			found = 1;
	ck_assert_msg(found, "no '%s' with '%s' in: %s", prefix, needle,
	    errs.msgs[0]);
	conf_errors_free(&errs);
}

START_TEST(test_good)
{
	struct conf_errors	 errs;
	struct conf		*c;
	const struct poolconf	*a, *b;

	c = load("socket = \"/tmp/d.sock\";\nsocket_mode = \"0600\";\n"
	    "allow = [ \"alice\", \"@ops\" ];\nshutdown_timeout = 7;\n"
	    "log_level = \"debug\";\npools = (\n"
	    "  { name = \"a\"; workers = 3; handler = \"square\";\n"
	    "    rate = 250.0; },\n"
	    "  { name = \"b\"; command = \"/bin/cat --x 'a b'\"; "
	    "job_timeout = 1.5; max_rss_mb = 64; }\n);\n", &errs);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->socket, "/tmp/d.sock");
	ck_assert_uint_eq(c->socket_mode, 0600);
	ck_assert_str_eq(c->allow[0], "alice");
	ck_assert_str_eq(c->allow[1], "@ops");
	ck_assert_ptr_null(c->allow[2]);
	ck_assert(c->shutdown_timeout == 7.0);
	ck_assert_int_eq(c->log_level, 7);
	ck_assert_uint_eq(c->npools, 2);
	a = conf_pool(c, "a");
	b = conf_pool(c, "b");
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_null(conf_pool(c, "c"));
	ck_assert_uint_eq(a->workers, 3);
	ck_assert_str_eq(a->handler, "square");
	ck_assert_int_eq(a->protocol, PROTO_FRAME);
	ck_assert(a->burst == 3.0);	/* rate/100, rounded up */
	ck_assert_uint_eq(a->line, 7);
	ck_assert_int_eq(b->protocol, PROTO_LINE);
	ck_assert_str_eq(b->argv[0], "/bin/cat");
	ck_assert_str_eq(b->argv[1], "--x");
	ck_assert_str_eq(b->argv[2], "a b");
	ck_assert_ptr_null(b->argv[3]);
	ck_assert(b->job_timeout == 1.5);
	ck_assert_uint_eq(b->max_rss_mb, 64);
	ck_assert_uint_eq(b->max_attempts, 3);		/* a default */
	ck_assert_uint_eq(b->workers, 1);
	conf_free(c);
}
END_TEST

START_TEST(test_defaults)
{
	struct conf_errors	 errs;
	struct conf		*c;

	c = load("pools = ( { name = \"a\"; handler = \"square\"; } );\n",
	    &errs);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->socket, "/run/drover/droverd.sock");
	ck_assert_uint_eq(c->socket_mode, 0660);
	ck_assert_str_eq(c->metrics, "");
	ck_assert(c->shutdown_timeout == 30.0);
	ck_assert_uint_eq(c->npools, 1);
	conf_free(c);
}
END_TEST

/* Assert that loading text fails with exactly one error, want (%s: path). */
static void
assert_only_error(const char *text, const char *want)
{
	struct conf_errors	 errs;
	char			 line[160];

	ck_assert_ptr_null(load(text, &errs));
	snprintf(line, sizeof(line), want, conf_path);
	ck_assert_msg(errs.n == 1 && strcmp(errs.msgs[0], line) == 0,
	    "want '%s', got %zu errors: '%s'", line, errs.n,
	    errs.n ? errs.msgs[0] : "");
	conf_errors_free(&errs);
}

/*
 * No pools is an error, never a config that drains every pool: a file
 * truncated mid-rewrite is empty.
 */
START_TEST(test_no_pools)
{
	struct conf_errors	 errs;

	assert_only_error("", "%s: no pools defined");
	assert_only_error("# only a comment\n\n", "%s: no pools defined");
	assert_only_error("socket = \"/tmp/d.sock\";\n",
	    "%s: no pools defined");
	assert_only_error("socket = \"/tmp/d.sock\";\npools = ();\n",
	    "%s:2: no pools defined");
	assert_only_error("log_level = \"info\";\n\npools = [ ];\n",
	    "%s:3: no pools defined");
	/* Alongside the other problems, not instead of them. */
	ck_assert_ptr_null(load("sokcet = 1;\n", &errs));
	ck_assert_uint_eq(errs.n, 2);
	ck_assert_ptr_nonnull(strstr(errs.msgs[0], ":1: unknown key"));
	ck_assert_ptr_nonnull(strstr(errs.msgs[1], ": no pools defined"));
	conf_errors_free(&errs);
	/* Pools that are all wrong are their own errors, not "no pools". */
	ck_assert_ptr_null(load("pools = ( { name = \"a\"; } );\n", &errs));
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_ptr_null(strstr(errs.msgs[0], "no pools"));
	conf_errors_free(&errs);
}
END_TEST

START_TEST(test_errors_name_the_line)
{
	assert_error("pools = (\n{ name = \"a\"; workers = ; }\n);\n", 2,
	    "syntax");
	assert_error("socket = \"/x\";\nsokcet = \"/y\";\n", 2,
	    "unknown key 'sokcet'");
	assert_error("pools = (\n { name = \"a\";\n  handler = \"square\";\n"
	    "  wrkers = 2; }\n);\n", 4, "unknown key 'wrkers' in pool 'a'");
	assert_error("pools = ( { name = \"a\"; handler = \"square\";\n"
	    "workers = \"x\"; } );\n", 2, "expected an integer");
	assert_error("pools = ( { name = \"a\"; handler = \"square\";\n"
	    "workers = 2.5; } );\n", 2, "expected an integer");
	assert_error("pools = ( { name = \"a\"; handler = \"square\";\n"
	    "workers = 5000; } );\n", 2, "out of range");
	assert_error("pools = ( { name = \"a\"; handler = \"square\";\n"
	    "retry_timeouts = 1; } );\n", 2, "true or false");
	assert_error("socket_mode = \"0999\";\n", 1, "octal");
	assert_error("socket = \"relative.sock\";\n", 1, "absolute");
	assert_error("metrics = \"localhost\";\n", 1, "host:port");
	assert_error("metrics = \"127.0.0.1:99999\";\n", 1, "host:port");
	assert_error("log_level = \"loud\";\n", 1, "log_level");
	assert_error("pools = (\n { name = \"a\"; handler = \"square\"; },\n"
	    " { name = \"a\"; handler = \"sleep\"; }\n);\n", 3,
	    "duplicate pool 'a' (first defined at line 2)");
	assert_error("pools = (\n { name = \"a\"; workers = 2; }\n);\n", 2,
	    "neither handler nor command");
	assert_error("pools = (\n { name = \"a\"; handler = \"square\"; "
	    "command = \"cat\"; }\n);\n", 2, "both handler and command");
	assert_error("pools = (\n { name = \"a\"; handler = \"exec\"; }\n);\n",
	    2, "needs exec");
	assert_error("pools = (\n { name = \"a\"; handler = \"nope\"; }\n);\n",
	    2, "unknown handler 'nope'");
	assert_error("pools = (\n { name = \"a\"; handler = \"square\"; "
	    "burst = 5.0; }\n);\n", 2, "burst goes with rate");
	assert_error("pools = (\n { name = \"a\"; handler = \"square\"; "
	    "protocol = \"line\"; }\n);\n", 2, "frame protocol");
	assert_error("pools = (\n { handler = \"square\"; }\n);\n", 2,
	    "without a name");
	assert_error("pools = (\n { name = \"a b\"; handler = \"square\"; }\n"
	    ");\n", 2, "name");
	assert_error("pools = ( { name = \"a\"; command = [];\n} );\n", 1,
	    "must not be empty");
	assert_error("pools = ( { name = \"a\";\n"
	    "command = ( \"x\", 3 ); } );\n", 2, "not a string");
}
END_TEST

START_TEST(test_every_problem_reported)
{
	struct conf_errors	 errs;
	struct conf		*c;

	c = load("sokcet = 1;\npools = (\n { name = \"a\"; workers = 0; "
	    "handler = \"square\"; },\n { name = \"b\"; },\n { name = \"c\"; "
	    "handler = \"sleep\"; colour = 1; }\n);\n", &errs);
	ck_assert_ptr_null(c);
	ck_assert_uint_eq(errs.n, 4);
	conf_errors_free(&errs);
}
END_TEST

START_TEST(test_missing_file)
{
	struct conf_errors	 errs;

	ck_assert_ptr_null(conf_load("/nonexistent/d.conf", &errs));
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.msgs[0], "/nonexistent/d.conf:0: unable to "
	    "read: No such file or directory");
	conf_errors_free(&errs);
}
END_TEST

/* Two single-pool confs that differ as given. */
static void
diff_case(const char *pa, const char *pb, unsigned expect, const char *keys)
{
	struct conf_errors	 errs;
	struct conf		*a, *b;
	struct buf		 out;
	char			 ta[256], tb[256];

	snprintf(ta, sizeof(ta), "pools = ( { name = \"p\"; %s } );\n", pa);
	snprintf(tb, sizeof(tb), "pools = ( { name = \"p\"; %s } );\n", pb);
	a = load(ta, &errs);
	ck_assert_ptr_nonnull(a);
	b = load(tb, &errs);
	ck_assert_ptr_nonnull(b);
	buf_init(&out);
	ck_assert_uint_eq(poolconf_diff(a->pools[0], b->pools[0], &out),
	    expect);
	buf_addc(&out, '\0');
	ck_assert_str_eq(buf_data(&out), keys);
	buf_free(&out);
	conf_free(a);
	conf_free(b);
}

START_TEST(test_diff)
{
	diff_case("handler = \"square\";", "handler = \"square\";", 0, "");
	diff_case("handler = \"square\"; workers = 2;",
	    "handler = \"square\"; workers = 4; job_timeout = 3.0;",
	    APPLY_HOT, "workers, job_timeout");
	diff_case("command = \"/bin/cat\";", "command = [ \"/bin/sh\" ];",
	    APPLY_REPLACE, "command");
	diff_case("handler = \"square\";", "handler = \"sleep\"; workers = 2;",
	    APPLY_HOT | APPLY_REPLACE, "handler, workers");
	diff_case("handler = \"square\";",
	    "handler = \"square\"; rlimit_nofile = 100;", APPLY_REPLACE,
	    "rlimit_nofile");
}
END_TEST

START_TEST(test_global_diff)
{
	struct conf_errors	 errs;
	struct conf		*a, *b;
	struct buf		 out;

	a = load("socket = \"/tmp/a\";\nshutdown_timeout = 5;\n"
	    "pools = ( { name = \"p\"; handler = \"square\"; } );\n", &errs);
	b = load("socket = \"/tmp/b\";\nshutdown_timeout = 9;\n"
	    "pools = ( { name = \"p\"; handler = \"square\"; } );\n", &errs);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	buf_init(&out);
	ck_assert_uint_eq(conf_global_diff(a, b, &out),
	    APPLY_RESTART | APPLY_HOT);
	buf_addc(&out, '\0');
	ck_assert_str_eq(buf_data(&out), "socket, shutdown_timeout");
	buf_free(&out);
	conf_free(a);
	conf_free(b);
}
END_TEST

START_TEST(test_apply_hot)
{
	struct poolconf	 dst, src;

	poolconf_defaults(&dst);
	poolconf_defaults(&src);
	src.workers = 9;
	src.job_timeout = 4.5;
	src.retry_timeouts = true;
	src.max_jobs_per_worker = 77;
	src.max_result_bytes = 5;	/* replace: must not be copied */
	src.protocol = PROTO_LINE;	/* replace: must not be copied */
	ck_assert_uint_eq(poolconf_apply_hot(&dst, &src),
	    SET_WORKERS | SET_RECYCLE | SET_TIMEOUT);
	ck_assert_uint_eq(dst.workers, 9);
	ck_assert(dst.job_timeout == 4.5);
	ck_assert(dst.retry_timeouts);
	ck_assert_uint_eq(dst.max_jobs_per_worker, 77);
	ck_assert_uint_eq(dst.max_result_bytes, 16 * 1024 * 1024);
	ck_assert_int_eq(dst.protocol, PROTO_FRAME);
}
END_TEST

/* Applying again what is already applied changes nothing and asks no step. */
START_TEST(test_apply_hot_idempotent)
{
	struct poolconf	 dst, src;

	poolconf_defaults(&dst);
	poolconf_defaults(&src);
	src.rate = 50;
	src.window = 8;
	ck_assert_uint_eq(poolconf_apply_hot(&dst, &src),
	    SET_RATE | SET_WINDOW);
	ck_assert(dst.rate == 50);
	ck_assert_uint_eq(dst.window, 8);
	ck_assert_uint_eq(poolconf_apply_hot(&dst, &src), 0);
}
END_TEST

/*
 * Every row marked hot is one the code can apply: its value can be copied
 * into running workers' settings (a string cannot: it must replace them),
 * and each step it asks for is one the pool has.  A row that fails this
 * would be silently skipped on reload.
 */
START_TEST(test_hot_rows_applicable)
{
	const struct setting	*st;
	unsigned		 known = pool_hot_effects();

	for (st = pool_settings; st->key != NULL; st++) {
		if ((st->apply & APPLY_MASK) != APPLY_HOT) {
			ck_assert_msg((st->apply & ~APPLY_MASK) == 0,
			    "%s: a step on a row that is not hot", st->key);
			continue;
		}
		ck_assert_msg(setting_hot_copyable(st),
		    "%s: marked hot but its type cannot be applied hot",
		    st->key);
		ck_assert_msg((st->apply & ~APPLY_MASK & ~known) == 0,
		    "%s: asks for a step the pool does not have", st->key);
	}
	/* And each step the pool has is asked for by some row. */
	for (st = pool_settings; st->key != NULL; st++)
		known &= ~(st->apply & ~APPLY_MASK);
	ck_assert_uint_eq(known, 0);
}
END_TEST

START_TEST(test_settings_listing)
{
	char	*text = NULL;
	size_t	 len = 0;
	FILE	*f = open_memstream(&text, &len);

	conf_print_settings(f);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(text, "pool\tworkers\t1\thot\t"));
	ck_assert_ptr_nonnull(strstr(text, "pool\tcommand\tnone\treplace\t"));
	ck_assert_ptr_nonnull(strstr(text, "global\tsocket\t"
	    "/run/drover/droverd.sock\trestart\t"));
	ck_assert_ptr_nonnull(strstr(text,
	    "global\tshutdown_timeout\t30\thot"));
	free(text);
}
END_TEST

/* Integers past 32 bits mean what they say, and errors print them whole. */
START_TEST(test_wide_integers)
{
	struct conf_errors	 errs;
	struct conf		*c;

	c = load("pools = ( { name = \"a\"; handler = \"square\";\n"
	    "  max_jobs_per_worker = 1000000000000000; } );\n", &errs);
	ck_assert_msg(c != NULL, "%s", errs.n ? errs.msgs[0] : "");
	ck_assert_uint_eq(conf_pool(c, "a")->max_jobs_per_worker,
	    1000000000000000ULL);
	conf_free(c);
	/* libconfig alone would read 4294967298 as 2, and 5e9 as 705032704. */
	assert_error("pools = ( { name = \"a\"; handler = \"square\";\n"
	    "  workers = 4294967298; } );\n", 2,
	    "workers: 4294967298 is out of range (1 to 1024)");
	assert_error("pools = ( { name = \"a\"; handler = \"square\";\n"
	    "  max_job_bytes = 5000000000; } );\n", 2,
	    "max_job_bytes: 5000000000 is out of range (1 to 1073741824)");
	assert_error("pools = ( { name = \"a\"; handler = \"square\";\n"
	    "  max_job_bytes = 99999999999999999999; } );\n", 2,
	    "max_job_bytes: the number is out of range");
	/* The same key twice on a line: each setting gets its own literal. */
	assert_error("pools = ( { name = \"a\"; handler = \"square\"; "
	    "workers = 5; }, { name = \"b\"; handler = \"square\"; "
	    "workers = 4294967298; } );\n", 1,
	    "workers: 4294967298 is out of range");
	c = load("pools = ( { name = \"a\"; handler = \"square\"; "
	    "workers = 3; }, { name = \"b\"; handler = \"square\"; "
	    "workers = 2; } );\n", &errs);
	ck_assert_msg(c != NULL, "%s", errs.n ? errs.msgs[0] : "");
	ck_assert_uint_eq(conf_pool(c, "a")->workers, 3);
	ck_assert_uint_eq(conf_pool(c, "b")->workers, 2);
	conf_free(c);
}
END_TEST

/* Include paths are checked before libconfig reads them. */
START_TEST(test_includes)
{
	struct conf_errors	 errs;
	struct conf		*c;
	char			 dir[64], path[128], inc[128], cwd[512];
	char			 want[512];
	FILE			*f;

	snprintf(dir, sizeof(dir), "/tmp/test_conf_inc.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(inc, sizeof(inc), "%s/sub", dir);
	ck_assert_int_eq(mkdir(inc, 0700), 0);
	snprintf(inc, sizeof(inc), "%s/sub/pools.inc", dir);
	f = fopen(inc, "w");
	ck_assert_ptr_nonnull(f);
	fputs("pools = ( { name = \"a\"; handler = \"square\"; } );\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/d.conf", dir);

	/* Relative to the config's directory, whatever the cwd. */
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("socket = \"/tmp/x.sock\";\n@include \"sub/pools.inc\"\n", f);
	fclose(f);
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir("/"), 0);
	c = conf_load(path, &errs);
	ck_assert_msg(c != NULL, "%s", errs.n ? errs.msgs[0] : "");
	ck_assert_ptr_nonnull(conf_pool(c, "a"));
	conf_free(c);

	/* A directory would make libconfig's scanner exit the process. */
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("socket = \"/tmp/x.sock\";\n\n@include \"sub\"\n", f);
	fclose(f);
	ck_assert_ptr_null(conf_load(path, &errs));
	ck_assert_uint_eq(errs.n, 1);
	snprintf(want, sizeof(want), "%s:3: @include \"%s/sub\": Is a "
	    "directory", path, dir);
	ck_assert_str_eq(errs.msgs[0], want);
	conf_errors_free(&errs);

	/* The file itself a directory: said so, not "No such file". */
	ck_assert_ptr_null(conf_load(dir, &errs));
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_ptr_nonnull(strstr(errs.msgs[0], ":0: unable to read: Is a "
	    "directory"));
	conf_errors_free(&errs);

	ck_assert_int_eq(chdir(cwd), 0);
	unlink(path);
	snprintf(inc, sizeof(inc), "%s/sub/pools.inc", dir);
	unlink(inc);
	snprintf(inc, sizeof(inc), "%s/sub", dir);
	rmdir(inc);
	rmdir(dir);
}
END_TEST

/* Socket paths that cannot be bound, modes that are not octal. */
START_TEST(test_socket_checks)
{
	char	 text[256];

	snprintf(text, sizeof(text), "socket = \"/%0100d\";\n", 0);
	assert_error(text, 1, "socket: the path is over 98 bytes");
	snprintf(text, sizeof(text), "metrics = \"unix:/%0100d\";\n", 0);
	assert_error(text, 1, "metrics:");
	assert_error("socket_mode = \"+0660\";\n", 1, "is not an octal mode");
	assert_error("socket_mode = \" 0660\";\n", 1, "is not an octal mode");
	assert_error("socket_mode = \"-0\";\n", 1, "is not an octal mode");
}
END_TEST

/* A wrong key is one error, not also every combination it breaks. */
START_TEST(test_no_follow_on_errors)
{
	struct conf_errors	 errs;

	ck_assert_ptr_null(load("pools = ( { name = \"a\"; command = \"\"; },\n"
	    " { name = \"b\"; handler = \"square\"; rate = -1; burst = 5; "
	    "} );\n", &errs));
	ck_assert_uint_eq(errs.n, 2);
	ck_assert_ptr_nonnull(strstr(errs.msgs[0], ":1: command: "));
	ck_assert_ptr_nonnull(strstr(errs.msgs[1], ":2: rate: "));
	conf_errors_free(&errs);
}
END_TEST

/* A quoted value with a newline does not split the message. */
START_TEST(test_one_line_per_error)
{
	struct conf_errors	 errs;

	ck_assert_ptr_null(load("log_level = \"x\ny\";\n"
	    "pools = ( { name = \"a\"; handler = \"square\"; } );\n", &errs));
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_ptr_null(strchr(errs.msgs[0], '\n'));
	ck_assert_ptr_nonnull(strstr(errs.msgs[0], "'x?y'"));
	conf_errors_free(&errs);
}
END_TEST

static Suite *
conf_suite(void)
{
	Suite	*s = suite_create("conf");
	TCase	*tc = tcase_create("conf");

	tcase_add_test(tc, test_good);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_no_pools);
	tcase_add_test(tc, test_errors_name_the_line);
	tcase_add_test(tc, test_every_problem_reported);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_diff);
	tcase_add_test(tc, test_global_diff);
	tcase_add_test(tc, test_apply_hot);
	tcase_add_test(tc, test_settings_listing);
	tcase_add_test(tc, test_wide_integers);
	tcase_add_test(tc, test_includes);
	tcase_add_test(tc, test_socket_checks);
	tcase_add_test(tc, test_no_follow_on_errors);
	tcase_add_test(tc, test_one_line_per_error);
	tcase_add_test(tc, test_apply_hot_idempotent);
	tcase_add_test(tc, test_hot_rows_applicable);
	suite_add_tcase(s, tc);
	return (s);
}

CHECK_MAIN(conf_suite)

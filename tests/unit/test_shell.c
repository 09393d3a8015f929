/*
 * Unit tests for shell words (common/shell.c).  The contract of quoting and
 * splitting is "what /bin/sh would do", so the hostile cases are checked
 * against a real /bin/sh through popen(3), not only against fixed strings.
 */
#include <check.h>

#include "check_main.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "buf.h"
#include "shell.h"

/* Run cmd with /bin/sh -c; its whole stdout goes into out. */
static void
run_sh(const char *cmd, struct buf *out)
{
	FILE	*f;
	char	 tmp[4096];
	size_t	 n;
	int	 st;

	f = popen(cmd, "r");
	ck_assert_msg(f != NULL, "popen failed for %s", cmd);
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_add(out, tmp, n);
	st = pclose(f);
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "sh -c '%s' failed: status %d", cmd, st);
}

/* shell_quote(s) as a NUL-terminated string. */
static char *
quote(const char *s, size_t len)
{
	struct buf	 b;
	char		*q;

	buf_init(&b);
	shell_quote(&b, s, len);
	buf_addc(&b, '\0');
	q = strdup(buf_data(&b));
	ck_assert_ptr_nonnull(q);
	buf_free(&b);
	return (q);
}

/* Quote s, have sh print it back with printf %s, and compare the bytes. */
static void
check_quote_sh(const char *s, size_t len)
{
	struct buf	 cmd, out;
	char		*q;
	char		**argv, err[128] = "";

	buf_init(&cmd);
	buf_init(&out);
	q = quote(s, len);
	buf_printf(&cmd, "printf %%s %s", q);
	buf_addc(&cmd, '\0');
	run_sh(buf_data(&cmd), &out);
	ck_assert_msg(buf_len(&out) == len,
	    "quoted as %s, sh printed %zu bytes, not %zu", q, buf_len(&out),
	    len);
	if (len != 0)
		ck_assert_msg(memcmp(buf_data(&out), s, len) == 0,
		    "quoted as %s, sh printed other bytes", q);
	/* shell_split agrees that the quoted form is one word. */
	argv = shell_split(q, err, sizeof(err));
	ck_assert_msg(argv != NULL, "shell_split(%s): %s", q, err);
	ck_assert_ptr_nonnull(argv[0]);
	ck_assert_ptr_null(argv[1]);
	ck_assert_uint_eq(strlen(argv[0]), len);
	ck_assert_mem_eq(argv[0], s, len);
	shell_argv_free(argv);
	free(q);
	buf_free(&cmd);
	buf_free(&out);
}

/* shell_split(cmd) must give exactly the words in want (NULL-terminated). */
static void
check_split(const char *cmd, const char *const *want)
{
	char	**argv, err[128] = "";
	size_t	 i;

	argv = shell_split(cmd, err, sizeof(err));
	ck_assert_msg(argv != NULL, "shell_split(%s) failed: %s", cmd, err);
	for (i = 0; want[i] != NULL; i++) {
		ck_assert_msg(argv[i] != NULL, "%s: word %zu missing", cmd, i);
		ck_assert_msg(strcmp(argv[i], want[i]) == 0,
		    "%s: word %zu is \"%s\", want \"%s\"", cmd, i, argv[i],
		    want[i]);
	}
	ck_assert_msg(argv[i] == NULL, "%s: extra word \"%s\"", cmd, argv[i]);
	shell_argv_free(argv);
}

/* shell_split(cmd) and sh must agree on the words of cmd. */
static void
check_split_sh(const char *cmd)
{
	struct buf	 sh, ours;
	char		**argv, **p, err[128] = "";

	buf_init(&sh);
	buf_init(&ours);
	buf_printf(&sh, "printf '<%%s>' %s", cmd);
	buf_addc(&sh, '\0');
	argv = shell_split(cmd, err, sizeof(err));
	ck_assert_msg(argv != NULL, "shell_split(%s) failed: %s", cmd, err);
	for (p = argv; *p != NULL; p++)
		buf_printf(&ours, "<%s>", *p);
	buf_addc(&ours, '\0');
	shell_argv_free(argv);
	argv = NULL;
	{
		char	*c = strdup(buf_data(&sh));

		ck_assert_ptr_nonnull(c);
		buf_reset(&sh);
		run_sh(c, &sh);
		free(c);
	}
	buf_addc(&sh, '\0');
	ck_assert_msg(strcmp(buf_data(&sh), buf_data(&ours)) == 0,
	    "%s: sh says %s, shell_split says %s", cmd, buf_data(&sh),
	    buf_data(&ours));
	buf_free(&sh);
	buf_free(&ours);
}

/* shell_split(cmd) must fail with the error text want. */
static void
check_split_fails(const char *cmd, const char *want)
{
	char	**argv, err[128] = "";

	argv = shell_split(cmd, err, sizeof(err));
	ck_assert_msg(argv == NULL, "shell_split(%s) did not fail", cmd);
	ck_assert_str_eq(err, want);
}

/* Strings of safe bytes are left unquoted. */
START_TEST(test_quote_safe)
{
	static const char *const safe[] = {
		"abc", "ABC123", "/usr/bin/gzip", "-9", "a.b,c:d=e+f@g%h_i",
		"file-1.2.tar.gz", "0",
	};
	char	*q;
	size_t	 i;

	for (i = 0; i < sizeof(safe) / sizeof(safe[0]); i++) {
		q = quote(safe[i], strlen(safe[i]));
		ck_assert_str_eq(q, safe[i]);
		free(q);
	}
}
END_TEST

/* The exact quoted forms of a few strings. */
START_TEST(test_quote_exact)
{
	char	*q;

	q = quote("", 0);
	ck_assert_str_eq(q, "''");
	free(q);
	q = quote("a b", 3);
	ck_assert_str_eq(q, "'a b'");
	free(q);
	q = quote("it's", 4);
	ck_assert_str_eq(q, "'it'\\''s'");
	free(q);
	q = quote("$HOME", 5);
	ck_assert_str_eq(q, "'$HOME'");
	free(q);
	q = quote("'", 1);
	ck_assert_str_eq(q, "''\\'''");
	free(q);
	/* Only len bytes count. */
	q = quote("ab cd", 2);
	ck_assert_str_eq(q, "ab");
	free(q);
}
END_TEST

/* sh prints hostile strings back exactly as quoted. */
START_TEST(test_quote_sh)
{
	static const char *const hostile[] = {
		"", "a b", "it's", "$HOME", "${HOME}", "x;y", "`id`", "$(id)",
		"a\nb", "\n", "tab\there", "caf\xc3\xa9", "\xe2\x82\xac 5",
		"\xff\xfe\x80", "*", "?", "[a]", "~", "~root", "#comment",
		"a|b", "a&b", "a>b", "<x", "(x)", "{}", "!", "'", "''", "\"",
		"\\", "\\n", "a'b\"c", "%s%d", "-n", "--", "a  b", " lead",
		"trail ", "x=1", "'$HOME'\\",
	};
	size_t	 i;

	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
		check_quote_sh(hostile[i], strlen(hostile[i]));
}
END_TEST

/* sh prints every non-NUL byte back exactly as quoted. */
START_TEST(test_quote_sh_all_bytes)
{
	char	 s[255];
	int	 i;

	for (i = 0; i < 255; i++)
		s[i] = (char)(i + 1);
	check_quote_sh(s, sizeof(s));
}
END_TEST

/* Blanks separate words. */
START_TEST(test_split_words)
{
	static const char *const w1[] = { "gzip", "-9", "{}", NULL };
	static const char *const w2[] = { "a", "b", NULL };
	static const char *const w3[] = { "x", NULL };

	check_split("gzip -9 {}", w1);
	check_split("  gzip   -9\t{}  ", w1);
	check_split("a\tb", w2);
	check_split("\t a \t\t b\t", w2);
	check_split("x", w3);
	check_split("a\nb", w2);
}
END_TEST

/* Single quotes, double quotes and backslashes. */
START_TEST(test_split_quotes)
{
	static const char *const w1[] = { "a b", "c", NULL };
	static const char *const w2[] = { "it's", NULL };
	static const char *const w3[] = { "a\"b", "c\\d", "$x", "`y`", NULL };
	static const char *const w4[] = { "abc", NULL };
	static const char *const w5[] = { "", NULL };
	static const char *const w6[] = { "a", "", "b", NULL };
	static const char *const w7[] = { "a\\b", "\\n", NULL };
	static const char *const w8[] = { "$HOME", "a\\b", "\"", NULL };
	static const char *const w9[] = { "a b", "c'd", "e\\", NULL };

	check_split("'a b' c", w1);
	check_split("\"it's\"", w2);
	check_split("\"a\\\"b\" \"c\\\\d\" \"\\$x\" \"\\`y\\`\"", w3);
	check_split("'a'\"b\"c", w4);
	check_split("a'b'\"c\"", w4);
	check_split("''", w5);
	check_split("\"\"", w5);
	check_split("a '' b", w6);
	/* In double quotes a backslash before anything else stays. */
	check_split("\"a\\b\" \"\\n\"", w7);
	/* In single quotes nothing is special. */
	check_split("'$HOME' 'a\\b' '\"'", w8);
	/* Backslashes outside quotes escape the next byte. */
	check_split("a\\ b c\\'d e\\\\", w9);
}
END_TEST

/* A backslash-newline joins lines and is not a word of its own. */
START_TEST(test_split_continuation)
{
	static const char *const w1[] = { "ab", NULL };
	static const char *const w2[] = { "a", "b", NULL };
	static const char *const w3[] = { "ab c", NULL };

	check_split("a\\\nb", w1);
	check_split("a \\\n b", w2);
	check_split("a \\\nb", w2);
	check_split("\\\na b", w2);
	check_split("a b \\\n", w2);
	check_split("\"a\\\nb c\"", w3);
}
END_TEST

/* shell_split() and sh agree on the words of each command. */
START_TEST(test_split_like_sh)
{
	static const char *const cmds[] = {
		"gzip -9 {}", "  a   b  ", "a\tb", "'a b' c", "\"it's\"",
		"\"a\\\"b\" \"c\\\\d\" \"\\$x\"", "'a'\"b\"c", "''", "a '' b",
		"\"a\\b\" \"\\n\"", "'a\\b' '\"'", "a\\ b c\\'d e\\\\",
		"a\\\nb", "a \\\n b", "\\\na b", "a b \\\n", "\"a\\\nb c\"",
		"\\a\\b\\c", "x\"\"y", "\"\"''\"\"",
	};
	size_t	 i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		check_split_sh(cmds[i]);
}
END_TEST

/* Unterminated quotes, trailing backslashes and empty commands fail. */
START_TEST(test_split_errors)
{
	check_split_fails("'abc", "unterminated quote");
	check_split_fails("abc 'def", "unterminated quote");
	check_split_fails("\"abc", "unterminated quote");
	check_split_fails("\"abc\\\"", "unterminated quote");
	check_split_fails("a \"b\" \"c", "unterminated quote");
	check_split_fails("abc\\", "trailing backslash");
	check_split_fails("", "empty command");
	check_split_fails("   \t ", "empty command");
	check_split_fails("\\\n", "empty command");
}
END_TEST

/* The error text is truncated to the caller's buffer. */
START_TEST(test_split_err_truncated)
{
	char	**argv, err[8];

	memset(err, 'x', sizeof(err));
	argv = shell_split("'abc", err, sizeof(err));
	ck_assert_ptr_null(argv);
	ck_assert_str_eq(err, "untermi");
}
END_TEST

/* Plain words and quoted specials need no shell. */
START_TEST(test_needed_false)
{
	static const char *const plain[] = {
		"gzip -9 {}", "printf \"%s|\" {}", "'a|b'", "a\\|b", "a#b",
		"a~b", "\"it's\"", "'$HOME'", "'`id`'", "cat", "sort -n -k 2",
		"echo \"a;b&c>d\"", "x 'a\nb'", "a\\\nb", "a \\* b",
		"\"\\$HOME\"", "\"a\\\"b\"", "",
		"./a=b", "x a=b", "1A=b cmd", "cmd !",
	};
	size_t	 i;

	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		ck_assert_msg(!shell_needed(plain[i]),
		    "shell_needed(%s) is true", plain[i]);
}
END_TEST

/* Operators, expansions, globs, ~, # and bad quoting need a shell. */
START_TEST(test_needed_true)
{
	static const char *const special[] = {
		"a | b", "a|b", "a; b", "a && b", "a &", "a > f", "a >> f",
		"a < f", "(a)", "a)", "echo $HOME", "echo \"$HOME\"", "$x",
		"echo `id`", "echo \"`id`\"", "ls *.c", "ls a?", "ls [ab]",
		"cd ~", "cat ~/x", "a ~b", "#comment", "a #comment",
		"\t#x", "a\nb", "'abc", "\"abc", "a 'b", "abc\\",
		"FOO=1 cmd {}", "_x=y cmd", "! cmd", "if true", "cd /tmp",
		"exec cat", "export A", "{ a; }",
	};
	size_t	 i;

	for (i = 0; i < sizeof(special) / sizeof(special[0]); i++)
		ck_assert_msg(shell_needed(special[i]),
		    "shell_needed(%s) is false", special[i]);
}
END_TEST

/* shell_expand(tmpl) for job with quoting, as a static string. */
static const char *
expand(const char *tmpl, const char *job, size_t len, bool quote)
{
	static struct buf	 b;
	struct shell_job	 sj = { job, len, 7, 2 };

	buf_free(&b);
	buf_init(&b);
	shell_expand(&b, tmpl, &sj, quote);
	buf_addc(&b, '\0');
	return (buf_data(&b));
}

/* Every {} is replaced by the quoted job. */
START_TEST(test_expand)
{
	ck_assert_str_eq(expand("gzip -9 {}", "a b", 3, true),
	    "gzip -9 'a b'");
	ck_assert_str_eq(expand("cp {} {}.bak", "f.txt", 5, true),
	    "cp f.txt f.txt.bak");
	ck_assert_str_eq(expand("{}{}", "it's", 4, true),
	    "'it'\\''s''it'\\''s'");
	ck_assert_str_eq(expand("echo {} | wc", "", 0, true), "echo '' | wc");
	ck_assert_str_eq(expand("sort -u", "ignored", 7, true), "sort -u");
	ck_assert_str_eq(expand("{ {}} {", "x", 1, true), "{ x} {");
	ck_assert_str_eq(expand("{} {", "a b", 3, false), "a b {");
}
END_TEST

/*
 * Each replacement string gives what GNU parallel 20221122 gives for the
 * same input (its output is the table below, from `parallel echo ...`).
 */
START_TEST(test_expand_parallel)
{
	static const struct {
		const char	*in, *noext, *base, *dir, *basenoext;
	} t[] = {
		{ "foo.jpg", "foo", "foo.jpg", ".", "foo" },
		{ "subdir/foo.jpg", "subdir/foo", "foo.jpg", "subdir", "foo" },
		{ "sub.dir/foo.jpg", "sub.dir/foo", "foo.jpg", "sub.dir",
		    "foo" },
		{ "sub.dir/bar", "sub.dir/bar", "bar", "sub.dir", "bar" },
		{ "a.b.c", "a.b", "a.b.c", ".", "a.b" },
		{ ".bashrc", "", ".bashrc", ".", "" },
		{ "foo.", "foo", "foo.", ".", "foo" },
		{ "dir/", "dir/", "", ".", "" },
		{ "/", "/", "", "/", "" },
		{ "/b", "/b", "b", "/", "b" },
		{ "b", "b", "b", ".", "b" },
		{ "a b/c'd.e f", "a b/c'd", "c'd.e f", "a b", "c'd" },
		{ "dir//x.y", "dir//x", "x.y", "dir", "x" },
		{ "a//b//", "a//b//", "", "a", "" },
		{ "//b", "//b", "b", "/", "b" },
		{ "", "", "", ".", "" },
		{ "./x", "./x", "x", ".", "x" },
		{ "a/.b", "a/", ".b", "a", "" },
		{ "///", "///", "", "/", "" },
		{ "a/b.c/", "a/b.c/", "", "a", "" },
		{ "..", ".", "..", ".", "." },
		{ ".", "", ".", ".", "" },
		{ "x.tar.gz", "x.tar", "x.tar.gz", ".", "x.tar" },
	};
	size_t	 i, n;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		n = strlen(t[i].in);
		ck_assert_str_eq(expand("{}", t[i].in, n, false), t[i].in);
		ck_assert_str_eq(expand("{.}", t[i].in, n, false), t[i].noext);
		ck_assert_str_eq(expand("{/}", t[i].in, n, false), t[i].base);
		ck_assert_str_eq(expand("{//}", t[i].in, n, false), t[i].dir);
		ck_assert_str_eq(expand("{/.}", t[i].in, n, false),
		    t[i].basenoext);
	}
	ck_assert_str_eq(expand("{#}/{%}", "x", 1, false), "7/2");
	ck_assert_str_eq(expand("[{//}] [{/.}]", "a b/c'd.e f", 11, true),
	    "['a b'] ['c'\\''d']");
	/* Near misses stay as they are. */
	ck_assert_str_eq(expand("{/ {..} {#x} {%%} {", "a/b", 3, true),
	    "{/ {..} {#x} {%%} {");
}
END_TEST

/* An expanded command prints the hostile job back through sh. */
START_TEST(test_expand_sh)
{
	static const char job[] = "it's $HOME; `id` | \"x\"\n*/a b.c";
	struct buf	 out;

	buf_init(&out);
	run_sh(expand("printf '%s|%s|%s|%s|%s|%s' {} {} {.} {/} {//} {/.}",
	    job, sizeof(job) - 1, true), &out);
	buf_addc(&out, '\0');
	ck_assert_str_eq(buf_data(&out),
	    "it's $HOME; `id` | \"x\"\n*/a b.c|"
	    "it's $HOME; `id` | \"x\"\n*/a b.c|"
	    "it's $HOME; `id` | \"x\"\n*/a b|a b.c|it's $HOME; `id` | \"x\"\n*|"
	    "a b");
	buf_free(&out);
}
END_TEST

/* shell_has_placeholder() finds every replacement string, and only those. */
START_TEST(test_has_placeholder)
{
	static const char *const yes[] = {
		"gzip {}", "{}", "x{.}", "{/}", "{//}", "{/.}", "{#}", "a{%}b"
	};
	static const char *const no[] = {
		"gzip", "{ }", "}{", "", "{/", "{..}", "{%", "{##}", "{ {"
	};
	size_t	 i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		ck_assert_msg(shell_has_placeholder(yes[i]), "%s", yes[i]);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		ck_assert_msg(!shell_has_placeholder(no[i]), "%s", no[i]);
}
END_TEST

/* shell_cmd_line() of tmpl for job 3 in slot 1, as a static string. */
static const char *
cmdline(const char *tmpl, const char *job)
{
	static struct buf	 b;
	struct shell_cmd	 c;
	struct shell_job	 sj = { job, strlen(job), 3, 1 };
	char			 err[64];

	ck_assert_int_eq(shell_cmd_init(&c, tmpl, err, sizeof(err)), 0);
	buf_free(&b);
	buf_init(&b);
	shell_cmd_line(&b, &c, &sj);
	buf_addc(&b, '\0');
	shell_cmd_clear(&c);
	return (buf_data(&b));
}

/*
 * A command runs directly (words, replacements raw) or with sh -c (one
 * string, replacements quoted); --dry-run shows either as one shell line.
 */
START_TEST(test_cmd)
{
	struct shell_cmd	 c;
	struct shell_job	 sj = { "d/a b.txt", 9, 12, 4 };
	char			 err[64], **argv;

	ck_assert_int_eq(shell_cmd_init(&c, "cp \"{}\" '{/.}'.{#}", err,
	    sizeof(err)), 0);
	ck_assert(!c.shell && !c.on_stdin && c.seq);
	argv = shell_cmd_argv(&c, &sj);
	ck_assert_str_eq(argv[0], "cp");
	ck_assert_str_eq(argv[1], "d/a b.txt");
	ck_assert_str_eq(argv[2], "a b.12");
	ck_assert_ptr_null(argv[3]);
	shell_argv_free(argv);
	shell_cmd_clear(&c);

	ck_assert_int_eq(shell_cmd_init(&c, "echo {%} > {}.out", err,
	    sizeof(err)), 0);
	ck_assert(c.shell && !c.on_stdin && !c.seq);
	argv = shell_cmd_argv(&c, &sj);
	ck_assert_str_eq(argv[0], "/bin/sh");
	ck_assert_str_eq(argv[1], "-c");
	ck_assert_str_eq(argv[2], "echo 4 > 'd/a b.txt'.out");
	shell_argv_free(argv);
	shell_cmd_clear(&c);

	ck_assert_int_eq(shell_cmd_init(&c, "echo 'x", err, sizeof(err)), 0);
	ck_assert(c.shell);
	shell_cmd_clear(&c);
	ck_assert_int_eq(shell_cmd_init(&c, "  ", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "empty command");

	ck_assert_str_eq(cmdline("touch {}", "it's"), "touch 'it'\\''s'");
	ck_assert_str_eq(cmdline("echo {#} {%} {}", "a b"), "echo 3 1 'a b'");
	ck_assert_str_eq(cmdline("echo {} | wc -c", "a b"),
	    "echo 'a b' | wc -c");
	ck_assert_str_eq(cmdline("wc -c", "a b"),
	    "printf '%s\\n' 'a b' | wc -c");
	ck_assert_str_eq(cmdline("sort|uniq", "x"),
	    "printf '%s\\n' x | (sort|uniq)");
}
END_TEST

static Suite *
shell_suite(void)
{
	Suite	*s = suite_create("shell");
	TCase	*tc;

	tc = tcase_create("quote");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_quote_safe);
	tcase_add_test(tc, test_quote_exact);
	tcase_add_test(tc, test_quote_sh);
	tcase_add_test(tc, test_quote_sh_all_bytes);
	tcase_add_test(tc, test_expand);
	tcase_add_test(tc, test_expand_parallel);
	tcase_add_test(tc, test_expand_sh);
	tcase_add_test(tc, test_has_placeholder);
	tcase_add_test(tc, test_cmd);
	suite_add_tcase(s, tc);

	tc = tcase_create("split");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_split_words);
	tcase_add_test(tc, test_split_quotes);
	tcase_add_test(tc, test_split_continuation);
	tcase_add_test(tc, test_split_like_sh);
	tcase_add_test(tc, test_split_errors);
	tcase_add_test(tc, test_split_err_truncated);
	suite_add_tcase(s, tc);

	tc = tcase_create("needed");
	tcase_add_test(tc, test_needed_false);
	tcase_add_test(tc, test_needed_true);
	suite_add_tcase(s, tc);
	return (s);
}

CHECK_MAIN(shell_suite)

/*
 * Shell quoting and word splitting (POSIX sh, XCU 2.2 and 2.6.5): enough to
 * run `--exec 'gzip -9 {}'` directly, without /bin/sh, and to quote a job
 * safely when a shell is needed after all.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shell.h"
#include "xmalloc.h"

/* Characters that never need quoting. */
static bool
shell_safe(unsigned char c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr("@%_+=:,./-", c) != NULL);
}

/*
 * Append s quoted for sh: as is when every byte is safe, else in single
 * quotes with each ' written as '\''.  The empty string becomes ''.
 */
void
shell_quote(struct buf *out, const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (!shell_safe((unsigned char)s[i]))
			break;
	if (len != 0 && i == len) {
		buf_add(out, s, len);
		return;
	}
	buf_addc(out, '\'');
	for (i = 0; i < len; i++) {
		if (s[i] == '\'')
			buf_add(out, "'\\''", 4);
		else
			buf_addc(out, s[i]);
	}
	buf_addc(out, '\'');
}

/*
 * True when the first word of cmd is something only a shell can run: a
 * variable assignment (NAME=value), a reserved word, or a builtin that is
 * not also a program.
 */
static bool
shell_first_word(const char *cmd)
{
	static const char *const words[] = {
		"!", "{", "}", "[[", "]]", "case", "do", "done", "elif",
		"else", "esac", "fi", "for", "function", "if", "in", "select",
		"then", "until", "while", ".", ":", "alias", "break", "cd",
		"continue", "eval", "exec", "exit", "export", "readonly",
		"return", "set", "shift", "source", "trap", "ulimit", "umask",
		"unset", "wait", NULL
	};
	char		**argv, err[64];
	const char	*p;
	bool		 need = false;
	int		 i;

	if ((argv = shell_split(cmd, err, sizeof(err))) == NULL)
		return (false);
	for (i = 0; words[i] != NULL; i++)
		if (strcmp(argv[0], words[i]) == 0)
			need = true;
	p = argv[0];
	if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '_') {
		while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '_')
			p++;
		if (*p == '=')
			need = true;
	}
	shell_argv_free(argv);
	return (need);
}

/*
 * True when cmd uses anything beyond words, quotes and backslashes: operators
 * (| & ; < > ( )), expansions ($ `), globs (* ? [), a leading ~ or # in a
 * word, a newline, or a first word only a shell knows (shell_first_word).
 * Such a command goes to /bin/sh -c.
 */
bool
shell_needed(const char *cmd)
{
	const char	*p;
	bool		 wordstart = true, squote = false, dquote = false;

	for (p = cmd; *p != '\0'; p++) {
		if (squote) {
			if (*p == '\'')
				squote = false;
			continue;
		}
		if (*p == '\\') {
			if (p[1] == '\0')
				return (true);
			p++;
			wordstart = false;
			continue;
		}
		if (dquote) {
			if (*p == '"')
				dquote = false;
			else if (*p == '$' || *p == '`')
				return (true);
			continue;
		}
		switch (*p) {
		case '\'':
			squote = true;
			break;
		case '"':
			dquote = true;
			break;
		case ' ': case '\t':
			wordstart = true;
			continue;
		case '|': case '&': case ';': case '<': case '>': case '(':
		case ')': case '$': case '`': case '*': case '?': case '[':
		case '\n':
			return (true);
		case '~': case '#':
			if (wordstart)
				return (true);
			break;
		}
		wordstart = false;
	}
	return (squote || dquote || shell_first_word(cmd));
}

/*
 * Split cmd into a NULL-terminated, malloc'd argv: blanks separate words;
 * '...' is literal; "..." is literal but for \" \\ \$ \` and \newline;
 * a backslash outside quotes escapes the next byte.  On an unterminated
 * quote or an empty command, return NULL with the reason in err.
 */
char **
shell_split(const char *cmd, char *err, size_t errlen)
{
	char		**argv = NULL;
	size_t		 argc = 0;
	struct buf	 w;
	const char	*p = cmd;
	bool		 inword = false;

	buf_init(&w);
	for (;;) {
		if (*p == '\0' || *p == ' ' || *p == '\t' || *p == '\n') {
			if (inword) {
				argv = xreallocarray(argv, argc + 2,
				    sizeof(*argv));
				/* An empty first word has no buffer yet. */
				argv[argc++] = buf_len(&w) == 0 ? xstrdup("") :
				    xstrndup(buf_data(&w), buf_len(&w));
				buf_reset(&w);
				inword = false;
			}
			if (*p == '\0')
				break;
			p++;
			continue;
		}
		if (*p == '\\' && p[1] == '\n') {
			/* Line continuation: not part of any word. */
			p += 2;
			continue;
		}
		inword = true;
		if (*p == '\'') {
			const char *q = strchr(p + 1, '\'');
			if (q == NULL)
				goto unterminated;
			buf_add(&w, p + 1, (size_t)(q - p - 1));
			p = q + 1;
		} else if (*p == '"') {
			for (p++; *p != '"'; p++) {
				if (*p == '\0')
					goto unterminated;
				if (*p == '\\' && p[1] != '\0' &&
				    strchr("\"\\$`\n", p[1]) != NULL) {
					p++;
					if (*p == '\n')
						continue;
				}
				buf_addc(&w, *p);
			}
			p++;
		} else if (*p == '\\') {
			if (p[1] == '\0') {
				snprintf(err, errlen, "trailing backslash");
				goto fail;
			}
			buf_addc(&w, p[1]);
			p += 2;
		} else
			buf_addc(&w, *p++);
	}
	buf_free(&w);
	if (argc == 0) {
		snprintf(err, errlen, "empty command");
		free(argv);
		return (NULL);
	}
	argv[argc] = NULL;
	return (argv);

unterminated:
	snprintf(err, errlen, "unterminated quote");
fail:
	buf_free(&w);
	if (argv != NULL) {
		argv[argc] = NULL;
		shell_argv_free(argv);
	}
	return (NULL);
}

void
shell_argv_free(char **argv)
{
	char	**p;

	if (argv == NULL)
		return;
	for (p = argv; *p != NULL; p++)
		free(*p);
	free(argv);
}

/* The replacement strings (GNU parallel's), longest first. */
static const struct {
	const char	*s;
	size_t		 len;
	enum shell_repl	 kind;
} shell_repls[] = {
	{ "{//}", 4, SHELL_R_DIR },
	{ "{/.}", 4, SHELL_R_BASENOEXT },
	{ "{}", 2, SHELL_R_JOB },
	{ "{.}", 3, SHELL_R_NOEXT },
	{ "{/}", 3, SHELL_R_BASE },
	{ "{#}", 3, SHELL_R_SEQ },
	{ "{%}", 3, SHELL_R_SLOT },
};

/*
 * Is there a replacement string at p?  Its length, with its kind in *kind,
 * or 0.
 */
size_t
shell_repl_at(const char *p, enum shell_repl *kind)
{
	size_t	 i;

	if (*p != '{')
		return (0);
	for (i = 0; i < sizeof(shell_repls) / sizeof(shell_repls[0]); i++)
		if (strncmp(p, shell_repls[i].s, shell_repls[i].len) == 0) {
			*kind = shell_repls[i].kind;
			return (shell_repls[i].len);
		}
	return (0);
}

/* Does tmpl hold a replacement string of the given kind (or any: -1)? */
static bool
shell_has_repl(const char *tmpl, int want)
{
	enum shell_repl	 kind;
	const char	*p;

	for (p = tmpl; (p = strchr(p, '{')) != NULL; p++)
		if (shell_repl_at(p, &kind) != 0 &&
		    (want == -1 || (int)kind == want))
			return (true);
	return (false);
}

/* Does tmpl hold any replacement string? */
bool
shell_has_placeholder(const char *tmpl)
{
	return (shell_has_repl(tmpl, -1));
}

/* Remove the extension: the last '.' after the last '/', and what follows. */
static size_t
shell_noext(const char *s, size_t len)
{
	size_t	 i;

	for (i = len; i > 0; i--) {
		if (s[i - 1] == '/')
			break;
		if (s[i - 1] == '.')
			return (i - 1);
	}
	return (len);
}

/*
 * The value of one replacement string for job, as a slice (*p, returned
 * length) of the job, of a constant, or of num (at least 24 bytes).
 */
static size_t
shell_repl_value(enum shell_repl kind, const struct shell_job *job,
    char *num, const char **p)
{
	const char	*s = job->data;
	size_t		 len = job->len, i;

	switch (kind) {
	case SHELL_R_JOB:
		*p = s;
		return (len);
	case SHELL_R_NOEXT:
		*p = s;
		return (shell_noext(s, len));
	case SHELL_R_BASE:
	case SHELL_R_BASENOEXT:
		for (i = len; i > 0 && s[i - 1] != '/'; i--)
			;
		*p = s + i;
		return (kind == SHELL_R_BASE ? len - i :
		    shell_noext(s + i, len - i));
	case SHELL_R_DIR:
		/* dirname(1): POSIX XCU dirname, steps 1 to 8. */
		for (i = 0; i < len && s[i] == '/'; i++)
			;
		if (len != 0 && i == len) {
			*p = "/";
			return (1);
		}
		while (len > 0 && s[len - 1] == '/')
			len--;
		while (len > 0 && s[len - 1] != '/')
			len--;
		if (len == 0) {
			*p = ".";
			return (1);
		}
		while (len > 0 && s[len - 1] == '/')
			len--;
		if (len == 0) {
			*p = "/";
			return (1);
		}
		*p = s;
		return (len);
	case SHELL_R_SEQ:
	case SHELL_R_SLOT:
		*p = num;
		return ((size_t)snprintf(num, 24, "%llu",
		    (unsigned long long)(kind == SHELL_R_SEQ ? job->seq :
		    job->slot)));
	}
	*p = "";
	return (0);
}

/*
 * Append tmpl with every replacement string replaced by its value for job:
 * shell-quoted when quote (a command for sh -c), else as raw bytes (one
 * word of a command run directly).
 */
void
shell_expand(struct buf *out, const char *tmpl, const struct shell_job *job,
    bool quote)
{
	enum shell_repl	 kind;
	const char	*p = tmpl, *q, *v;
	char		 num[24];
	size_t		 n, vlen;

	while ((q = strchr(p, '{')) != NULL) {
		if ((n = shell_repl_at(q, &kind)) == 0) {
			buf_add(out, p, (size_t)(q - p) + 1);
			p = q + 1;
			continue;
		}
		buf_add(out, p, (size_t)(q - p));
		vlen = shell_repl_value(kind, job, num, &v);
		if (quote)
			shell_quote(out, v, vlen);
		else
			buf_add(out, v, vlen);
		p = q + n;
	}
	buf_adds(out, p);
}

/*
 * Parse an --exec command template: whether it needs /bin/sh, its words
 * when it does not, whether the job goes to its stdin (no replacement
 * string) and whether it uses {#}.  -1 with the reason in err when it
 * cannot be split.
 */
int
shell_cmd_init(struct shell_cmd *c, const char *tmpl, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->tmpl = tmpl;
	c->on_stdin = !shell_has_placeholder(tmpl);
	c->seq = shell_has_repl(tmpl, SHELL_R_SEQ);
	c->shell = shell_needed(tmpl);
	if (!c->shell && (c->words = shell_split(tmpl, err, errlen)) == NULL)
		return (-1);
	return (0);
}

void
shell_cmd_clear(struct shell_cmd *c)
{
	shell_argv_free(c->words);
	c->words = NULL;
}

/* The argv to run for job (freed with shell_argv_free()). */
char **
shell_cmd_argv(const struct shell_cmd *c, const struct shell_job *job)
{
	char		**argv;
	struct buf	  b;
	size_t		  n, i;

	buf_init(&b);
	if (c->shell) {
		if (c->on_stdin)
			buf_adds(&b, c->tmpl);
		else
			shell_expand(&b, c->tmpl, job, true);
		argv = xcalloc(4, sizeof(*argv));
		argv[0] = xstrdup("/bin/sh");
		argv[1] = xstrdup("-c");
		argv[2] = xstrndup(buf_len(&b) ? buf_data(&b) : "",
		    buf_len(&b));
		buf_free(&b);
		return (argv);
	}
	for (n = 0; c->words[n] != NULL; n++)
		;
	argv = xcalloc(n + 1, sizeof(*argv));
	for (i = 0; i < n; i++) {
		buf_reset(&b);
		shell_expand(&b, c->words[i], job, false);
		argv[i] = xstrndup(buf_len(&b) ? buf_data(&b) : "",
		    buf_len(&b));
	}
	buf_free(&b);
	return (argv);
}

/*
 * Append the command job runs as one shell command line: the string given
 * to /bin/sh -c, or the words shell-quoted; with the job on stdin, after
 * `printf '%s\n' JOB | `.
 */
void
shell_cmd_line(struct buf *out, const struct shell_cmd *c,
    const struct shell_job *job)
{
	char	**argv;
	size_t	  i;

	if (c->on_stdin) {
		buf_adds(out, "printf '%s\\n' ");
		shell_quote(out, job->data, job->len);
		buf_adds(out, c->shell ? " | (" : " | ");
	}
	if (c->shell)
		shell_expand(out, c->tmpl, job, true);
	else {
		argv = shell_cmd_argv(c, job);
		for (i = 0; argv[i] != NULL; i++) {
			if (i != 0)
				buf_addc(out, ' ');
			shell_quote(out, argv[i], strlen(argv[i]));
		}
		shell_argv_free(argv);
	}
	if (c->on_stdin && c->shell)
		buf_addc(out, ')');
}

/*
 * Why a worker could not exec prog (as execvp would look for it, in our
 * PATH when it has no '/'), in why; false if it looks runnable.  droverd's
 * loader checks a pool's command with it (so that -t, start and reload
 * catch a missing program instead of a pool that fails at its first
 * spawn), and `drover run` its --worker before it reads any input.
 */
bool
shell_program_problem(const char *prog, char *why, size_t size)
{
	struct stat	 st;
	const char	*path, *p, *colon;
	char		 cand[PATH_MAX];

	if (strchr(prog, '/') != NULL) {
		if (stat(prog, &st) == -1)
			snprintf(why, size, "%s", strerror(errno));
		else if (!S_ISREG(st.st_mode))
			snprintf(why, size, "not a regular file");
		else if (access(prog, X_OK) == -1)
			snprintf(why, size, "not executable");
		else
			return (false);
		return (true);
	}
	if ((path = getenv("PATH")) == NULL || *path == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; ; p = colon + 1) {
		colon = strchr(p, ':');
		snprintf(cand, sizeof(cand), "%.*s/%s", colon != NULL ?
		    (int)(colon - p) : (int)strlen(p), *p == ':' ? "." : p,
		    prog);
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(cand, X_OK) == 0)
			return (false);
		if (colon == NULL)
			break;
	}
	snprintf(why, size, "not found in PATH");
	return (true);
}

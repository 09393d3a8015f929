/*
 * Shell quoting and word splitting (POSIX sh, XCU 2.2 and 2.6.5): enough to
 * run `--exec 'gzip -9 {}'` directly, without /bin/sh, and to quote a job
 * safely when a shell is needed after all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

bool
shell_has_placeholder(const char *tmpl)
{
	return (strstr(tmpl, "{}") != NULL);
}

/* Append tmpl with every {} replaced by the job, shell-quoted. */
void
shell_expand(struct buf *out, const char *tmpl, const char *job, size_t len)
{
	const char	*p = tmpl, *q;

	while ((q = strstr(p, "{}")) != NULL) {
		buf_add(out, p, (size_t)(q - p));
		shell_quote(out, job, len);
		p = q + 2;
	}
	buf_adds(out, p);
}

/*
 * Shell words without a shell: quoting a job for `sh -c`, splitting a
 * command line into argv the way sh would (quotes and backslashes, no
 * expansion), telling whether a command needs a real shell at all, and
 * expanding an --exec template's replacement strings for one job (shared
 * by the exec handler and `drover run --dry-run`).
 */
#ifndef DROVER_SHELL_H
#define DROVER_SHELL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* GNU parallel's replacement strings (drover(1), --exec). */
enum shell_repl {
	SHELL_R_JOB,		/* {}	the job */
	SHELL_R_NOEXT,		/* {.}	without its extension */
	SHELL_R_BASE,		/* {/}	its basename */
	SHELL_R_DIR,		/* {//}	its dirname */
	SHELL_R_BASENOEXT,	/* {/.}	its basename without extension */
	SHELL_R_SEQ,		/* {#}	its sequence number, 1-based */
	SHELL_R_SLOT,		/* {%}	the worker slot, 1..workers */
};

/* One job, as the replacement strings see it. */
struct shell_job {
	const char	*data;
	size_t		 len;
	uint64_t	 seq;		/* {#} */
	unsigned	 slot;		/* {%} */
};

/* An --exec command template, parsed once. */
struct shell_cmd {
	const char	 *tmpl;
	char		**words;	/* run directly: the split template */
	bool		  shell;	/* run with /bin/sh -c */
	bool		  on_stdin;	/* no replacement: the job on stdin */
	bool		  seq;		/* uses {#} */
};

void	 shell_quote(struct buf *, const char *, size_t);
char	**shell_split(const char *, char *, size_t);
void	 shell_argv_free(char **);
bool	 shell_needed(const char *);
size_t	 shell_repl_at(const char *, enum shell_repl *);
void	 shell_expand(struct buf *, const char *, const struct shell_job *,
	    bool);
bool	 shell_has_placeholder(const char *);
int	 shell_cmd_init(struct shell_cmd *, const char *, char *, size_t);
void	 shell_cmd_clear(struct shell_cmd *);
char	**shell_cmd_argv(const struct shell_cmd *, const struct shell_job *);
void	 shell_cmd_line(struct buf *, const struct shell_cmd *,
	    const struct shell_job *);

bool		 shell_program_problem(const char *, char *, size_t);

#endif

/*
 * Shell words without a shell: quoting a job for `sh -c`, splitting a
 * command line into argv the way sh would (quotes and backslashes, no
 * expansion), and telling whether a command needs a real shell at all.
 */
#ifndef DROVER_SHELL_H
#define DROVER_SHELL_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

void	 shell_quote(struct buf *, const char *, size_t);
char	**shell_split(const char *, char *, size_t);
void	 shell_argv_free(char **);
bool	 shell_needed(const char *);
void	 shell_expand(struct buf *, const char *, const char *, size_t);
bool	 shell_has_placeholder(const char *);

#endif

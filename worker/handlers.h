/*
 * drover-worker's handlers.  A handler checks its arguments once (init) and
 * then answers each job with dw_reply() or dw_fail().  `flush` handlers are
 * slow enough that each reply is written at once instead of batched.
 */
#ifndef DROVER_HANDLERS_H
#define DROVER_HANDLERS_H

#include <stdbool.h>

#include "drover/worker.h"

struct handler {
	const char	*name;
	const char	*usage;
	int		(*init)(int, char **);
	void		(*run)(struct dw *, const struct dw_job *);
	bool		 flush;
};

extern const struct handler handler_square;
extern const struct handler handler_sha256;
extern const struct handler handler_exec;
extern const struct handler handler_sleep;

void	handler_quote(char *, size_t, const char *, size_t);

#endif

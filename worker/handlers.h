/*
 * drover-worker's handlers.  A handler checks its arguments once (init) and
 * then answers each job with dw_reply() or dw_fail().  `flush` handlers are
 * slow enough that each reply is written at once instead of batched.  A
 * handler with a `loop` runs its own event loop over the whole session
 * instead of `run` (http: many jobs in flight, answered as they finish).
 */
#ifndef DROVER_HANDLERS_H
#define DROVER_HANDLERS_H

#include <stdbool.h>

#include "drover/worker.h"
#include "handler_list.h"

struct handler {
	const char	*name;
	const char	*usage;
	int		(*init)(int, char **);
	void		(*run)(struct dw *, const struct dw_job *);
	bool		 flush;
	int		(*loop)(struct dw *);	/* its own loop, or NULL */
	uint32_t	 caps;	/* DW_CAP_* it asks for (dw_open_caps) */
};

#define HANDLER_DECLARE(n)	extern const struct handler handler_##n;
DROVER_HANDLER_LIST(HANDLER_DECLARE, )
#undef HANDLER_DECLARE

/* Quoting job bytes for error messages (quote.c). */
void	handler_quote(char *, size_t, const char *, size_t);

/* SHA-256 from libcrypto, loaded on first use (h_sha256.c). */
int	 sha256_load(void);
void	*sha256_begin(void);
void	 sha256_add(void *, const void *, size_t);
int	 sha256_end(void *, char *);
void	 sha256_discard(void *);

#endif

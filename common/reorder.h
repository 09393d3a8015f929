/*
 * A bounded reorder buffer for --ordered: results arrive in completion
 * order, are held by sequence number, and come out in input order.  The
 * caller admits sequence numbers only below reorder_limit() so that memory
 * stays bounded however slow the oldest job is.
 */
#ifndef DROVER_REORDER_H
#define DROVER_REORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct reorder;

struct reorder	*reorder_new(size_t);
void		 reorder_free(struct reorder *);
int		 reorder_put(struct reorder *, uint64_t, int, const void *,
		    size_t);
bool		 reorder_pop(struct reorder *, int *, const char **, size_t *);
uint64_t	 reorder_next(const struct reorder *);
uint64_t	 reorder_limit(const struct reorder *);
size_t		 reorder_held(const struct reorder *);
size_t		 reorder_bytes(const struct reorder *);

#endif

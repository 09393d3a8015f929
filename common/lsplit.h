/*
 * Splitting a byte stream into records (lines, or NUL-terminated items for
 * -0) with a length limit: a record longer than the limit is skipped as it
 * streams past, never buffered whole, and reported once with its length.
 */
#ifndef DROVER_LSPLIT_H
#define DROVER_LSPLIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "buf.h"

enum lsplit_result {
	LS_NEED,	/* no whole record buffered: read more */
	LS_RECORD,	/* *rec, *len: a record, without its delimiter */
	LS_TOOLONG,	/* a record over the limit was skipped (*len) */
	LS_END,		/* EOF and nothing left */
};

struct lsplit {
	int		delim;
	size_t		max;
	bool		skipping;
	uint64_t	skipped;
	size_t		scanned;	/* bytes already searched for delim */
};

void	lsplit_init(struct lsplit *, int, size_t);
enum lsplit_result lsplit_next(struct lsplit *, struct buf *, bool,
	    const char **, uint64_t *);
size_t	lsplit_bulk(const char *, size_t, int, size_t, struct iovec *, size_t);
size_t	lsplit_peek(const struct lsplit *, const struct buf *, struct iovec *,
	    size_t);

#endif

/*
 * Record splitting with bounded memory (see lsplit.h).  The returned record
 * points into the buffer and stays valid until the buffer is next written.
 */
#include <string.h>

#include "lsplit.h"

void
lsplit_init(struct lsplit *ls, int delim, size_t max)
{
	memset(ls, 0, sizeof(*ls));
	ls->delim = delim;
	ls->max = max;
}

/*
 * Return the next record of b.  At eof, a final record without a delimiter
 * still counts (like most Unix tools, and unlike `read`).  An over-long
 * record is consumed in pieces as it arrives and reported as LS_TOOLONG once
 * its end is seen.
 */
enum lsplit_result
lsplit_next(struct lsplit *ls, struct buf *b, bool eof, const char **rec,
    uint64_t *len)
{
	const char	*p, *nl;
	size_t		 avail;

	p = buf_data(b);
	avail = buf_len(b);
	nl = (ls->scanned < avail) ?
	    memchr(p + ls->scanned, ls->delim, avail - ls->scanned) : NULL;
	if (ls->skipping) {
		if (nl == NULL) {
			ls->skipped += avail;
			buf_consume(b, avail);
			ls->scanned = 0;
			if (!eof)
				return (LS_NEED);
			*len = ls->skipped;
			ls->skipping = false;
			return (LS_TOOLONG);
		}
		*len = ls->skipped + (uint64_t)(nl - p);
		buf_consume(b, (size_t)(nl - p) + 1);
		ls->skipping = false;
		ls->scanned = 0;
		return (LS_TOOLONG);
	}
	if (nl == NULL) {
		if (avail > ls->max) {
			/* Too long already: stop buffering it. */
			ls->skipping = true;
			ls->skipped = avail;
			buf_consume(b, avail);
			ls->scanned = 0;
			if (!eof)
				return (LS_NEED);
			*len = ls->skipped;
			ls->skipping = false;
			return (LS_TOOLONG);
		}
		if (!eof || avail == 0) {
			ls->scanned = avail;
			return (eof ? LS_END : LS_NEED);
		}
		*rec = p;
		*len = avail;
		buf_consume(b, avail);
		ls->scanned = 0;
		return (LS_RECORD);
	}
	ls->scanned = 0;
	*len = (uint64_t)(nl - p);
	buf_consume(b, (size_t)(nl - p) + 1);
	if (*len > ls->max)
		return (LS_TOOLONG);
	*rec = p;
	return (LS_RECORD);
}

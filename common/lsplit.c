/*
 * Record splitting with bounded memory (see lsplit.h).  The returned record
 * points into the buffer and stays valid until the buffer is next written.
 */
#include <endian.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "lsplit.h"

/*
 * The first delim in (p, n), or NULL.  Records are mostly short (a number,
 * a path): the first 32 bytes are searched in registers, which costs less
 * than a call to memchr(), and the rest by memchr().  With SSE2, 16 bytes
 * at a time (a compare and a mask of the bytes that matched); else 8, in
 * a word: it holds delim where x = word ^ pattern has a zero byte, and
 * the lowest bit that (x - ones) & ~x & highs sets is in the first one.
 */
static inline const char *
lsplit_find(const char *p, size_t n, int delim)
{
	size_t		 i;
#ifdef __SSE2__
	__m128i		 pat = _mm_set1_epi8((char)delim);
	unsigned	 m;

	for (i = 0; i + 16 <= n && i < 32; i += 16) {
		m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
		    _mm_loadu_si128((const __m128i *)(const void *)(p + i)),
		    pat));
		if (m != 0)
			return (p + i + __builtin_ctz(m));
	}
#else
	const uint64_t	 ones = 0x0101010101010101ULL;
	const uint64_t	 highs = 0x8080808080808080ULL;
	uint64_t	 pat = ones * (unsigned char)delim, w, x;

	for (i = 0; i + 8 <= n && i < 32; i += 8) {
		memcpy(&w, p + i, 8);
		w = le64toh(w);
		x = w ^ pat;
		x = (x - ones) & ~x & highs;
		if (x != 0)
			return (p + i + (__builtin_ctzll(x) >> 3));
	}
#endif
	return (i < n ? memchr(p + i, delim, n - i) : NULL);
}

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
	nl = (ls->scanned < avail) ? lsplit_find(p + ls->scanned,
	    avail - ls->scanned, ls->delim) : NULL;
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

/*
 * Up to max whole records of (p, len), each ended by delim and at most
 * maxlen bytes long, into recs (without their delimiters).  Stops at the
 * first record that is not whole or is too long.  With SSE2, 16 bytes are
 * compared at a time and every delimiter of the mask is taken from it, so
 * that short records cost a few instructions each, not a search each; a
 * record past 64 bytes is searched by memchr(), no further than maxlen.
 * Where no record can be too long and a block's records (16 at most)
 * cannot reach max, they are taken without either check.
 */
size_t
lsplit_bulk(const char *p, size_t len, int delim, size_t maxlen,
    struct iovec *recs, size_t max)
{
	const char	*end = p + len, *start = p, *nl;
	size_t		 n = 0;
#ifdef __SSE2__
	const char	*q = p, *lim;
	__m128i		 pat = _mm_set1_epi8((char)delim);
	unsigned	 m;
	bool		 fast = maxlen >= len;	/* none can be too long */

	if (max == 0)
		return (0);
	while (end - q >= 16 || (q < end && len >= 16)) {
		if (end - q >= 16) {
			m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
			    _mm_loadu_si128((const __m128i *)(const void *)q),
			    pat));
		} else {	/* the tail: the last 16 bytes, shifted */
			m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
			    _mm_loadu_si128((const __m128i *)(const void *)
			    (end - 16)), pat)) >> (16 - (end - q));
		}
		if (fast && max - n > 16) {	/* no bound to check */
			for (; m != 0; m &= m - 1) {
				nl = q + __builtin_ctz(m);
				recs[n].iov_base = (void *)(uintptr_t)start;
				recs[n++].iov_len = (size_t)(nl - start);
				start = nl + 1;
			}
		}
		for (; m != 0; m &= m - 1) {
			nl = q + __builtin_ctz(m);
			if ((size_t)(nl - start) > maxlen)
				return (n);
			recs[n].iov_base = (void *)(uintptr_t)start;
			recs[n++].iov_len = (size_t)(nl - start);
			start = nl + 1;
			if (n == max)
				return (n);
		}
		q = end - q >= 16 ? q + 16 : end;
		if (q - start < 64)
			continue;
		/* A long record: the rest of it by memchr(). */
		if ((size_t)(q - start) > maxlen)
			return (n);
		lim = (size_t)(end - start) > maxlen ? start + maxlen + 1 :
		    end;
		if ((nl = memchr(q, delim, (size_t)(lim - q))) == NULL)
			return (n);
		recs[n].iov_base = (void *)(uintptr_t)start;
		recs[n++].iov_len = (size_t)(nl - start);
		start = q = nl + 1;
		if (n == max)
			return (n);
	}
	for (; q < end && n < max; start = q = nl + 1) {	/* under 16 */
		if ((nl = memchr(q, delim, (size_t)(end - q))) == NULL ||
		    (size_t)(nl - start) > maxlen)
			break;
		recs[n].iov_base = (void *)(uintptr_t)start;
		recs[n++].iov_len = (size_t)(nl - start);
	}
#else
	while (n < max && start < end &&
	    (nl = lsplit_find(start, (size_t)(end - start), delim)) != NULL &&
	    (size_t)(nl - start) <= maxlen) {
		recs[n].iov_base = (void *)(uintptr_t)start;
		recs[n++].iov_len = (size_t)(nl - start);
		start = nl + 1;
	}
#endif
	return (n);
}

/*
 * Up to max whole records at the head of b, each delimited and at most
 * ls->max bytes long, into recs (without their delimiters): the common
 * case of lsplit_next() many times over, in one pass (lsplit_bulk()).
 * Nothing is consumed; the caller consumes the records it takes, through
 * the end of the last one's delimiter.  0 while a record is skipped or
 * partly scanned, or when the first is not whole or too long:
 * lsplit_next() sees to those.
 */
size_t
lsplit_peek(const struct lsplit *ls, const struct buf *b, struct iovec *recs,
    size_t max)
{
	if (ls->skipping || ls->scanned != 0)
		return (0);
	return (lsplit_bulk(buf_data(b), buf_len(b), ls->delim, ls->max, recs,
	    max));
}

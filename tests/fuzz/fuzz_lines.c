/*
 * libFuzzer target: the text protocols.  Three things on the same bytes:
 *
 * - common/lsplit.c, the record splitter of `drover run` and `drover
 *   submit` input, with a limit, '\n' or NUL as the delimiter and reads
 *   cut at arbitrary points: its records and their lengths must be
 *   exactly those of a plain split (a record over the limit reported as
 *   LS_TOOLONG with its length, a last record without a delimiter kept);
 * - the line protocol's results as daemon/worker.c reads them
 *   (worker_parse_lines(), static: the same loop here), one job at a time
 *   or with a window;
 * - the tagged protocol (common/tagged.c): tagged_parse() on every result
 *   line, and tagged_put_id() read back.
 *
 * Input: byte 0, the limit (one of 8) and the delimiter; byte 1, the seed
 * of the read sizes; the rest, the stream.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "lsplit.h"
#include "tagged.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FZ_CHECK(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,	\
		    __LINE__, #c);					\
		abort();						\
	}								\
} while (0)

/* The next read's size: 1 to 64 bytes, or everything left. */
static size_t
fz_chunk(uint32_t *seed, size_t left)
{
	size_t	 n;

	*seed = *seed * 1103515245U + 12345U;
	n = (*seed >> 16) % 8 == 0 ? left : 1 + (*seed >> 16) % 64;
	return (n > left ? left : n);
}

/* The expected next record of a plain split, from *pos: 0 at the end. */
static int
fz_ref_next(const uint8_t *d, size_t size, int delim, size_t *pos,
    size_t *start, size_t *len)
{
	const uint8_t	*nl;

	if (*pos >= size)
		return (0);
	*start = *pos;
	nl = memchr(d + *pos, delim, size - *pos);
	*len = (nl != NULL ? (size_t)(nl - d) : size) - *pos;
	*pos += *len + (nl != NULL);
	return (1);
}

/* lsplit_next() against a plain split of the whole input. */
static void
fz_lsplit(const uint8_t *d, size_t size, int delim, size_t max,
    uint32_t seed)
{
	struct lsplit	 ls;
	struct buf	 b;
	enum lsplit_result r;
	const char	*rec;
	uint64_t	 len;
	size_t		 off = 0, pos = 0, rstart, rlen;
	int		 eof;

	lsplit_init(&ls, delim, max);
	buf_init(&b);
	for (;;) {
		eof = off == size;
		if (!eof) {
			size_t	 n = fz_chunk(&seed, size - off);

			buf_add(&b, d + off, n);
			off += n;
		}
		while ((r = lsplit_next(&ls, &b, eof, &rec, &len)) !=
		    LS_NEED && r != LS_END) {
			FZ_CHECK(fz_ref_next(d, size, delim, &pos, &rstart,
			    &rlen));
			FZ_CHECK(len == rlen);
			if (r == LS_RECORD) {
				FZ_CHECK(rlen <= max);
				FZ_CHECK(rlen == 0 ||
				    memcmp(rec, d + rstart, rlen) == 0);
			} else {
				FZ_CHECK(r == LS_TOOLONG);
				FZ_CHECK(rlen > max);
			}
		}
		FZ_CHECK(r != LS_END || eof);
		if (eof) {
			FZ_CHECK(r == LS_END);
			break;
		}
	}
	FZ_CHECK(!fz_ref_next(d, size, delim, &pos, &rstart, &rlen));
	FZ_CHECK(buf_len(&b) == 0);
	buf_free(&b);
}

/* tagged_parse() of one result line, and tagged_put_id() read back. */
static int
fz_tagged(const char *p, size_t len, uint64_t *tag, size_t *off)
{
	char		 pre[TAGGED_PREFIX_MAX];
	const char	*why = NULL;
	uint64_t	 back;
	size_t		 n, boff;

	if (tagged_parse(p, len, tag, off, &why) == -1) {
		FZ_CHECK(why != NULL);
		return (-1);
	}
	FZ_CHECK(*off >= 2 && *off <= TAGGED_PREFIX_MAX && *off <= len);
	FZ_CHECK(p[*off - 1] == '\t');
	n = tagged_put_id(pre, *tag);
	FZ_CHECK(n <= *off && pre[n - 1] == '\t');
	FZ_CHECK(tagged_parse(pre, n, &back, &boff, &why) == 0);
	FZ_CHECK(back == *tag && boff == n);
	return (0);
}

/*
 * As worker_parse_lines(): results in order (line) or by tag (tagged),
 * '!' a failure, "!!" a literal '!'.  -1 when the worker would be lost.
 */
static int
fz_parse_lines(struct buf *rb, int tagged, size_t maxres, size_t *inflight)
{
	const char	*p, *nl;
	size_t		 len, off = 0;
	uint64_t	 tag;

	for (;;) {
		p = buf_data(rb);
		if ((nl = memchr(p, '\n', buf_len(rb))) == NULL)
			break;
		len = (size_t)(nl - p);
		if (!tagged) {
			if (*inflight == 0)
				return (-1);	/* extra result line */
			(*inflight)--;
		} else if (fz_tagged(p, len, &tag, &off) == -1)
			return (-1);
		if (len - off > maxres)
			return (-1);
		FZ_CHECK(off <= len);
		if (len > off && p[off] == '!')
			FZ_CHECK(len - off - 1 <= maxres);
		buf_consume(rb, len + 1);
	}
	if (buf_len(rb) > maxres + (tagged ? TAGGED_PREFIX_MAX : 0))
		return (-1);
	return (0);
}

/* The result stream of a line or tagged worker, read in pieces. */
static void
fz_results(const uint8_t *d, size_t size, int tagged, size_t maxres,
    size_t window, uint32_t seed)
{
	struct buf	 rb;
	size_t		 off = 0, n, inflight = window;

	buf_init(&rb);
	while (off < size) {
		n = fz_chunk(&seed, size - off);
		buf_add(&rb, d + off, n);
		off += n;
		if (fz_parse_lines(&rb, tagged, maxres, &inflight) == -1)
			break;
	}
	buf_free(&rb);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t maxes[8] = {
		0, 1, 2, 7, 16, 64, 1024, 1024 * 1024
	};
	size_t		 max;
	uint32_t	 seed;
	int		 delim, one;

	if (size < 2)
		return (0);
	max = maxes[data[0] & 7];
	delim = (data[0] & 8) ? '\0' : '\n';
	one = (data[0] & 16) != 0;	/* window 1, as by default */
	seed = data[1] | 1U;
	data += 2;
	size -= 2;
	fz_lsplit(data, size, delim, max, seed);
	fz_results(data, size, 0, max, one ? 1 : 1000, seed);
	fz_results(data, size, 1, max, 0, seed);
	return (0);
}

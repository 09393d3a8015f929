/*
 * Unit tests for record splitting (common/lsplit.c): lines and NUL-separated
 * items, the final record at EOF, records that arrive in pieces, and the
 * length limit, which must skip an over-long record as it streams past
 * without ever buffering much more than the limit.
 */
#include <check.h>

#include "check_main.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "lsplit.h"

/*
 * Drain every complete record from b into the transcript t: "[rec]" for a
 * record, "<toolong N>" for a skipped one, "<end>" at the end.  Stops at
 * LS_NEED or LS_END and returns which.
 */
static enum lsplit_result
drain(struct lsplit *ls, struct buf *b, int eof, struct buf *t)
{
	static unsigned	 peek_turn;
	enum lsplit_result r;
	struct iovec	 recs[4];
	const char	*rec, *end;
	uint64_t	 len;
	size_t		 n, i;
	int		 guard = 0;

	for (;;) {
		ck_assert_int_lt(guard++, 100000);
		/*
		 * Every other turn, the records lsplit_peek() sees, up to
		 * 0..4 of them, taken as input_pump() takes them: the
		 * transcript must be the same as by lsplit_next() alone.
		 */
		if (peek_turn++ % 2 == 0 &&
		    (n = lsplit_peek(ls, b, recs, peek_turn % 5)) != 0) {
			ck_assert_uint_le(n, peek_turn % 5);
			for (i = 0; i < n; i++) {
				ck_assert_uint_le(recs[i].iov_len, ls->max);
				buf_addc(t, '[');
				buf_add(t, recs[i].iov_base, recs[i].iov_len);
				buf_addc(t, ']');
			}
			end = (const char *)recs[n - 1].iov_base +
			    recs[n - 1].iov_len;
			ck_assert_int_eq((unsigned char)*end,
			    (unsigned char)ls->delim);
			buf_consume(b, (size_t)(end + 1 - buf_data(b)));
			continue;
		}
		rec = NULL;
		len = UINT64_MAX;
		r = lsplit_next(ls, b, eof, &rec, &len);
		switch (r) {
		case LS_RECORD:
			ck_assert_ptr_nonnull(rec);
			ck_assert_uint_ne(len, UINT64_MAX);
			buf_addc(t, '[');
			buf_add(t, rec, (size_t)len);
			buf_addc(t, ']');
			break;
		case LS_TOOLONG:
			buf_printf(t, "<toolong %llu>",
			    (unsigned long long)len);
			break;
		case LS_END:
			ck_assert_msg(eof, "LS_END before eof");
			buf_adds(t, "<end>");
			return (r);
		case LS_NEED:
			ck_assert_msg(!eof, "LS_NEED at eof");
			return (r);
		default:
			ck_abort_msg("lsplit_next returned %d", (int)r);
		}
	}
}

/*
 * Feed data to a fresh splitter in chunks of chunk bytes (0: all at once)
 * and return the transcript of everything that came out, NUL-terminated.
 */
static char *
split(const char *data, size_t len, int delim, size_t max, size_t chunk)
{
	struct lsplit	 ls;
	struct buf	 b, t;
	size_t		 off = 0, n;
	char		*s;

	lsplit_init(&ls, delim, max);
	buf_init(&b);
	buf_init(&t);
	if (chunk == 0)
		chunk = len;
	while (off < len) {
		n = len - off < chunk ? len - off : chunk;
		buf_add(&b, data + off, n);
		off += n;
		drain(&ls, &b, 0, &t);
	}
	drain(&ls, &b, 1, &t);
	ck_assert_uint_eq(buf_len(&b), 0);
	/* Once at the end, it stays there. */
	drain(&ls, &b, 1, &t);
	buf_addc(&t, '\0');
	s = strdup(buf_data(&t));
	ck_assert_ptr_nonnull(s);
	buf_free(&b);
	buf_free(&t);
	return (s);
}

/* Split data whole and in chunks of 1 to 7 bytes: all must give want. */
static void
check_split(const char *data, size_t len, int delim, size_t max,
    const char *want)
{
	char	*got;
	size_t	 chunk;

	for (chunk = 0; chunk <= 7; chunk++) {
		got = split(data, len, delim, max, chunk);
		ck_assert_msg(strcmp(got, want) == 0,
		    "chunk %zu: got \"%s\", want \"%s\"", chunk, got, want);
		free(got);
	}
}

/* Lines split on newlines. */
/*
 * Records of every length from 0 to 80, of any bytes but the delimiter
 * (with bytes next to it, 0x80 and 0xff, which the word-at-a-time search
 * must not take for it), whole and in chunks: each comes back as it went.
 */
START_TEST(test_every_length)
{
	static const int delims[] = { '\n', '\0', 0xff };
	struct buf	 in, want;
	uint64_t	 st = 7;
	size_t		 len, i, k;
	char		*got, c;

	for (k = 0; k < sizeof(delims) / sizeof(delims[0]); k++) {
		buf_init(&in);
		buf_init(&want);
		for (len = 0; len <= 80; len++) {
			buf_addc(&want, '[');
			for (i = 0; i < len; i++) {
				do
					c = (char)(i % 3 == 0 ? 0x80 :
					    i % 5 == 0 ? (delims[k] ^ 1) :
					    (int)(rnd(&st) & 0xff));
				while ((unsigned char)c ==
				    (unsigned char)delims[k] ||
				    c == '\0' || c == '[' || c == ']');
				buf_addc(&in, c);
				buf_addc(&want, c);
			}
			buf_addc(&in, (char)delims[k]);
			buf_addc(&want, ']');
		}
		buf_adds(&want, "<end><end>");	/* split() ends twice */
		buf_addc(&want, '\0');
		for (i = 0; i <= 9; i += 3) {
			got = split(buf_data(&in), buf_len(&in), delims[k],
			    1000, i);
			for (len = 0; got[len] != '\0' &&
			    got[len] == buf_data(&want)[len]; len++)
				;
			ck_assert_msg(got[len] == buf_data(&want)[len],
			    "delim %d, chunk %zu: differs at %zu", delims[k],
			    i, len);
			free(got);
		}
		buf_free(&in);
		buf_free(&want);
	}
}
END_TEST

START_TEST(test_lines)
{
	static const char in[] = "alpha\nbeta\ngamma delta\n";

	check_split(in, sizeof(in) - 1, '\n', 100,
	    "[alpha][beta][gamma delta]<end><end>");
}
END_TEST

/* NUL-separated items keep their newlines. */
START_TEST(test_nul)
{
	static const char in[] = "a b\0c\nd\0\0last";

	check_split(in, sizeof(in) - 1, '\0', 100,
	    "[a b][c\nd][][last]<end><end>");
}
END_TEST

/* A final record without a delimiter still counts at EOF. */
START_TEST(test_final_without_delim)
{
	check_split("one\ntwo", 7, '\n', 100, "[one][two]<end><end>");
	check_split("x", 1, '\n', 100, "[x]<end><end>");
}
END_TEST

/* Empty lines are empty records. */
START_TEST(test_empty_lines)
{
	check_split("\n\na\n\n", 5, '\n', 100, "[][][a][]<end><end>");
	check_split("\n", 1, '\n', 100, "[]<end><end>");
}
END_TEST

/* Empty input is just the end. */
START_TEST(test_empty_input)
{
	check_split("", 0, '\n', 100, "<end><end>");
	check_split("", 0, '\0', 0, "<end><end>");
}
END_TEST

/* Without a delimiter and before EOF the answer is LS_NEED. */
START_TEST(test_need_then_record)
{
	struct lsplit	 ls;
	struct buf	 b;
	const char	*rec = NULL;
	uint64_t	 len = 0;

	lsplit_init(&ls, '\n', 100);
	buf_init(&b);
	buf_adds(&b, "abc");
	ck_assert_int_eq(lsplit_next(&ls, &b, false, &rec, &len), LS_NEED);
	ck_assert_uint_eq(buf_len(&b), 3);
	ck_assert_int_eq(lsplit_next(&ls, &b, false, &rec, &len), LS_NEED);
	ck_assert_uint_eq(buf_len(&b), 3);
	buf_adds(&b, "def\nghi");
	ck_assert_int_eq(lsplit_next(&ls, &b, false, &rec, &len), LS_RECORD);
	ck_assert_uint_eq(len, 6);
	ck_assert_mem_eq(rec, "abcdef", 6);
	ck_assert_int_eq(lsplit_next(&ls, &b, false, &rec, &len), LS_NEED);
	ck_assert_uint_eq(buf_len(&b), 3);
	ck_assert_int_eq(lsplit_next(&ls, &b, true, &rec, &len), LS_RECORD);
	ck_assert_uint_eq(len, 3);
	ck_assert_mem_eq(rec, "ghi", 3);
	ck_assert_int_eq(lsplit_next(&ls, &b, true, &rec, &len), LS_END);
	ck_assert_int_eq(lsplit_next(&ls, &b, true, &rec, &len), LS_END);
	buf_free(&b);
}
END_TEST

/* An empty buffer at EOF is LS_END. */
START_TEST(test_end_empty)
{
	struct lsplit	 ls;
	struct buf	 b;
	const char	*rec = NULL;
	uint64_t	 len = 0;

	lsplit_init(&ls, '\n', 10);
	buf_init(&b);
	ck_assert_int_eq(lsplit_next(&ls, &b, false, &rec, &len), LS_NEED);
	ck_assert_int_eq(lsplit_next(&ls, &b, true, &rec, &len), LS_END);
	ck_assert_ptr_null(rec);
	buf_free(&b);
}
END_TEST

/* Records, empty and over-long ones come out the same in any chunks. */
START_TEST(test_chunks_mixed)
{
	static const char in[] =
	    "short\n"
	    "0123456789abcdefghij\n"		/* 20 bytes: over max 16 */
	    "\n"
	    "exactly-16-bytes\n"
	    "seventeen bytes!!\n"
	    "tail";
	check_split(in, sizeof(in) - 1, '\n', 16,
	    "[short]<toolong 20>[][exactly-16-bytes]<toolong 17>[tail]"
	    "<end><end>");
}
END_TEST

/* A record of exactly max bytes is accepted, max + 1 is not. */
START_TEST(test_exact_max)
{
	char	 in[64];

	memset(in, 'm', 10);
	in[10] = '\n';
	check_split(in, 11, '\n', 10, "[mmmmmmmmmm]<end><end>");
	check_split(in, 10, '\n', 10, "[mmmmmmmmmm]<end><end>");
	memset(in, 'm', 11);
	in[11] = '\n';
	check_split(in, 12, '\n', 10, "<toolong 11><end><end>");
	check_split(in, 11, '\n', 10, "<toolong 11><end><end>");
	memcpy(in + 12, "ok\n", 3);
	check_split(in, 15, '\n', 10, "<toolong 11>[ok]<end><end>");
}
END_TEST

/* An over-long record ending at EOF is reported with its length. */
START_TEST(test_toolong_at_eof)
{
	char	 in[300];

	memset(in, 'y', sizeof(in));
	memcpy(in, "a\n", 2);
	check_split(in, sizeof(in), '\n', 50, "[a]<toolong 298><end><end>");
	in[sizeof(in) - 1] = '\n';
	check_split(in, sizeof(in), '\n', 50, "[a]<toolong 297><end><end>");
}
END_TEST

/* With max 0 only empty records pass. */
START_TEST(test_max_zero)
{
	check_split("\n\nx\n", 4, '\n', 0, "[][]<toolong 1><end><end>");
}
END_TEST

/* A 1 MB line fed in 4 KB chunks is skipped in bounded memory. */
START_TEST(test_megabyte_line)
{
	const size_t	 total = 1024 * 1024, chunk = 4096, max = 100;
	struct lsplit	 ls;
	struct buf	 b, t;
	char		*blk;
	size_t		 off, most = 0;

	blk = malloc(chunk);
	ck_assert_ptr_nonnull(blk);
	memset(blk, 'z', chunk);
	lsplit_init(&ls, '\n', max);
	buf_init(&b);
	buf_init(&t);
	buf_adds(&b, "before\n");
	ck_assert_int_eq(drain(&ls, &b, 0, &t), LS_NEED);
	for (off = 0; off < total; off += chunk) {
		buf_add(&b, blk, chunk);
		ck_assert_uint_le(buf_len(&b), max + chunk);
		ck_assert_int_eq(drain(&ls, &b, 0, &t), LS_NEED);
		ck_assert_uint_le(buf_len(&b), max);
		if (buf_len(&b) > most)
			most = buf_len(&b);
	}
	ck_assert_uint_le(most, max);
	/* The line ends within the next write, followed by normal records. */
	buf_adds(&b, "zzz\nafter\nlast\n");
	ck_assert_int_eq(drain(&ls, &b, 0, &t), LS_NEED);
	ck_assert_int_eq(drain(&ls, &b, 1, &t), LS_END);
	buf_addc(&t, '\0');
	ck_assert_str_eq(buf_data(&t),
	    "[before]<toolong 1048579>[after][last]<end>");
	buf_free(&b);
	buf_free(&t);
	free(blk);
}
END_TEST

/* An over-long NUL-separated item is skipped, then items resume. */
START_TEST(test_long_nul_records)
{
	char	*in;
	size_t	 n = 5000;

	in = malloc(n + 8);
	ck_assert_ptr_nonnull(in);
	memset(in, '\n', n);		/* newlines are data with -0 */
	in[n] = '\0';
	memcpy(in + n + 1, "a\0b\0", 4);
	check_split(in, n + 5, '\0', 64, "<toolong 5000>[a][b]<end><end>");
	free(in);
}
END_TEST

/*
 * lsplit_bulk() against a model (memchr, one record at a time) on random
 * buffers: records of 0 to 200 bytes (past the 16-byte blocks and the
 * 64-byte switch to memchr), delimiters next to each other and at every
 * offset of a block, buffers of little but delimiters, a tail with or
 * without a last delimiter, any maxlen, and max about a multiple of 16.
 * The records, their count and where it stops must agree, and no record
 * is written past max (the arrays are exactly that long, for ASan).
 */
START_TEST(test_bulk_against_model)
{
	struct iovec	 want[80], *got;	/* max is at most 65 */
	char		 p[4096], *exact;
	const char	*start, *nl;
	size_t		 len, maxlen, max, n, m, i, r;
	unsigned	 seed = 12345, turn;
	int		 delim, bad = 0, empties;

	for (turn = 0; turn < 20000; turn++) {
		seed = seed * 1103515245 + 12345;
		delim = turn % 3 == 0 ? 0 : '\n';
		/* Every fourth turn, mostly or only delimiters in a row. */
		empties = turn % 4 == 0 ? (int)(turn % 8 == 0 ? 1 : 2) : 12;
		len = 0;
		while (len < sizeof(p) - 256 && (seed >> 8) % 23 != 0) {
			r = (seed >> 12) % 7 == 0 ? (seed >> 4) % 200 :
			    (seed >> 4) % (unsigned)empties;
			for (i = 0; i < r; i++)
				p[len++] = delim == 0 ? (char)(1 + i % 255) :
				    "0123456789\x80\xff\x0b\t"[i % 14];
			p[len++] = (char)delim;
			seed = seed * 1103515245 + 12345;
		}
		r = (seed >> 6) % 20;	/* a partial record at the end */
		for (i = 0; i < r; i++)
			p[len++] = 'x';
		maxlen = (seed >> 3) % 4 == 0 ? (seed >> 9) % 120 : SIZE_MAX;
		max = turn % 5 == 0 ? 16 * (1 + (seed >> 14) % 4) - 1 +
		    (seed >> 17) % 3 : 1 + (seed >> 14) % 64;
		ck_assert_uint_le(max, sizeof(want) / sizeof(want[0]));
		/* Exactly len and max: ASan sees a byte or a record past. */
		exact = malloc(len != 0 ? len : 1);
		got = malloc(max * sizeof(*got));
		ck_assert(exact != NULL && got != NULL);
		memcpy(exact, p, len);
		n = lsplit_bulk(exact, len, delim, maxlen, got, max);
		for (m = 0, start = exact; m < max; m++, start = nl + 1) {
			nl = memchr(start, delim,
			    (size_t)(exact + len - start));
			if (nl == NULL || (size_t)(nl - start) > maxlen)
				break;
			want[m].iov_base = (void *)(uintptr_t)start;
			want[m].iov_len = (size_t)(nl - start);
		}
		if (n != m)
			bad++;
		for (i = 0; i < n && i < m; i++)
			if (got[i].iov_base != want[i].iov_base ||
			    got[i].iov_len != want[i].iov_len)
				bad++;
		free(got);
		free(exact);
	}
	ck_assert_int_eq(bad, 0);
}
END_TEST

/*
 * Runs of empty records (a whole block of delimiters, 16 records at once
 * in the SSE2 path) up to max, at every alignment of a block: for every
 * max to 1100, lsplit_bulk() stops at max and writes nothing past
 * recs[max - 1] (it wrote on past it, one record per delimiter, when a
 * block's 16 reached max exactly).
 */
START_TEST(test_bulk_max_in_a_block)
{
	static struct iovec recs[1100 + 64];
	static char	 p[1100 + 64];
	size_t		 lead, max, n, i, len;
	int		 bad = 0;

	for (lead = 0; lead < 16; lead++)
		for (max = 1; max <= 1100; max++) {
			len = lead + max + 40;
			memset(p, 'x', lead);
			if (lead > 0)	/* a first record of lead - 1 */
				p[lead - 1] = '\n';
			memset(p + lead, '\n', len - lead);
			memset(recs, 0xa5, sizeof(recs));
			n = lsplit_bulk(p, len, '\n', SIZE_MAX, recs, max);
			bad += n != max;
			for (i = max; i < max + 64; i++)
				bad += recs[i].iov_base != (void *)(uintptr_t)
				    0xa5a5a5a5a5a5a5a5ULL;
		}
	ck_assert_int_eq(bad, 0);
}
END_TEST

static Suite *
lsplit_suite(void)
{
	Suite	*s = suite_create("lsplit");
	TCase	*tc;

	tc = tcase_create("split");
	tcase_add_test(tc, test_lines);
	tcase_add_test(tc, test_every_length);
	tcase_add_test(tc, test_nul);
	tcase_add_test(tc, test_final_without_delim);
	tcase_add_test(tc, test_empty_lines);
	tcase_add_test(tc, test_empty_input);
	tcase_add_test(tc, test_need_then_record);
	tcase_add_test(tc, test_end_empty);
	tcase_add_test(tc, test_chunks_mixed);
	tcase_add_test(tc, test_bulk_against_model);
	tcase_add_test(tc, test_bulk_max_in_a_block);
	suite_add_tcase(s, tc);

	tc = tcase_create("limit");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_exact_max);
	tcase_add_test(tc, test_toolong_at_eof);
	tcase_add_test(tc, test_max_zero);
	tcase_add_test(tc, test_megabyte_line);
	tcase_add_test(tc, test_long_nul_records);
	suite_add_tcase(s, tc);
	return (s);
}

CHECK_MAIN(lsplit_suite)

/*
 * Unit tests for the control protocol's parsing (common/ctl.c): a RESULT's
 * flags are accepted only on a RESULT and only for the sections ctl.h
 * defines, and ctl_result_split() takes each section a flag names, in
 * order, refusing one that is cut short or over its size; a SUMS comes
 * back whole and one no jobs could have is refused; input_passable()
 * takes what droverd may read of a client's without waiting.
 */
#include <check.h>

#include "check_main.h"
#include <sys/socket.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "ctl.h"
#include "frame.h"
#include "input.h"

/* Append a section: its u32 length, then its bytes. */
static void
section(struct buf *b, const char *s, size_t len)
{
	uint32_t	 n = htole32((uint32_t)len);

	buf_add(b, &n, 4);
	buf_add(b, s, len);
}

START_TEST(test_flags_only_on_a_result)
{
	char			 h[FRAME_HDRLEN];
	struct frame_hdr	 hdr;
	const char		*why = NULL;

	frame_put(h, CTL_RESULT, 1, CTL_META_LEN, 7);
	h[6] = CTL_F_STDERR | CTL_F_INPUT;
	ck_assert_int_eq(ctl_parse(h, sizeof(h), &hdr, &why), FRAME_GOOD);
	ck_assert_uint_eq(hdr.flags, CTL_F_STDERR | CTL_F_INPUT);
	h[6] = CTL_F_INT;		/* a typed output (asked "typed") */
	ck_assert_int_eq(ctl_parse(h, sizeof(h), &hdr, &why), FRAME_GOOD);
	h[6] = 0x40;			/* no such section */
	ck_assert_int_eq(ctl_parse(h, sizeof(h), &hdr, &why), FRAME_BAD);
	frame_put(h, CTL_JOB, 0, 3, 7);
	h[6] = CTL_F_STDERR;		/* flags are a RESULT's only */
	ck_assert_int_eq(ctl_parse(h, sizeof(h), &hdr, &why), FRAME_BAD);
	ck_assert_str_eq(why, "non-zero reserved header bytes");
}
END_TEST

/* "typed": an ok RESULT's number in binary, never with an input section. */
START_TEST(test_typed_result)
{
	struct frame_hdr	 h = { .type = CTL_RESULT, .status = 0 };
	struct frame_result	 r;
	struct num_value	 v = { .kind = NUM_INT, .i = I128_MIN };
	const char		*why, *in;
	char			 p[32];
	size_t			 n, inlen;
	uint8_t			 flag;

	ck_assert_uint_eq(ctl_sections_parse("typed"), CTL_F_TYPED);
	n = frame_num_put(p, &v, &flag);
	h.flags = flag;
	ck_assert_int_eq(ctl_result_split(p, n, &h, &r, &in, &inlen, &why),
	    0);
	ck_assert_int_eq(r.num.kind, NUM_INT);
	ck_assert(r.num.i == I128_MIN);
	ck_assert_uint_eq(r.outlen, 0);
	h.status = 1;
	ck_assert_int_eq(ctl_result_split(p, n, &h, &r, &in, &inlen, &why),
	    -1);
	h.status = 0;
	h.flags = flag | CTL_F_INPUT;
	ck_assert_int_eq(ctl_result_split(p, n, &h, &r, &in, &inlen, &why),
	    -1);
	h.flags = 0;
	ck_assert_int_eq(ctl_result_split("49", 2, &h, &r, &in, &inlen, &why),
	    0);
	ck_assert_int_eq(r.num.kind, NUM_NONE);
}
END_TEST

START_TEST(test_every_section_in_order)
{
	struct buf		 b;
	struct frame_hdr	 h = { 0, CTL_RESULT, 1, CTL_F_ALL, 3 };
	struct frame_result	 r;
	const char		*in, *why = NULL;
	char			 f[64];
	size_t			 inlen, flen;

	buf_init(&b);
	section(&b, "oops\n", 5);
	section(&b, "half", 4);
	flen = frame_field_put(f, "code", FRAME_FT_INT, 42, NULL, 0);
	section(&b, f, flen);
	section(&b, "the job", 7);
	buf_adds(&b, "exit status 3");
	ck_assert_int_eq(ctl_result_split(buf_data(&b), buf_len(&b), &h, &r,
	    &in, &inlen, &why), 0);
	ck_assert_uint_eq(r.errlen, 5);
	ck_assert(memcmp(r.err, "oops\n", 5) == 0);
	ck_assert_uint_eq(r.soutlen, 4);
	ck_assert(memcmp(r.sout, "half", 4) == 0);
	ck_assert_uint_eq(r.fieldslen, flen);
	ck_assert_uint_eq(inlen, 7);
	ck_assert(memcmp(in, "the job", 7) == 0);
	ck_assert_uint_eq(r.outlen, 13);
	ck_assert(memcmp(r.out, "exit status 3", 13) == 0);
	buf_free(&b);
}
END_TEST

START_TEST(test_no_flags_is_the_old_result)
{
	struct frame_hdr	 h = { 0, CTL_RESULT, 0, 0, 3 };
	struct frame_result	 r;
	const char		*in, *why = NULL;
	size_t			 inlen;

	ck_assert_int_eq(ctl_result_split("81", 2, &h, &r, &in, &inlen,
	    &why), 0);
	ck_assert_ptr_null(in);
	ck_assert_ptr_null(r.err);
	ck_assert_uint_eq(r.outlen, 2);
}
END_TEST

START_TEST(test_bad_input_sections)
{
	struct buf		 b;
	struct frame_hdr	 h = { 0, CTL_RESULT, 1, CTL_F_INPUT, 3 };
	struct frame_result	 r;
	const char		*in, *why = NULL;
	char			 big[CTL_INPUT_SHOWN + 1];
	size_t			 inlen;

	buf_init(&b);
	buf_add(&b, "\x05\x00", 2);	/* a length cut short */
	ck_assert_int_eq(ctl_result_split(buf_data(&b), buf_len(&b), &h, &r,
	    &in, &inlen, &why), -1);
	ck_assert_str_eq(why, "RESULT input section cut short");
	buf_reset(&b);
	section(&b, "ab", 2);
	memcpy(b.data, "\x03", 1);	/* says 3, holds 2 */
	ck_assert_int_eq(ctl_result_split(buf_data(&b), buf_len(&b), &h, &r,
	    &in, &inlen, &why), -1);
	buf_reset(&b);
	memset(big, 'x', sizeof(big));
	section(&b, big, sizeof(big));	/* over CTL_INPUT_SHOWN */
	ck_assert_int_eq(ctl_result_split(buf_data(&b), buf_len(&b), &h, &r,
	    &in, &inlen, &why), -1);
	ck_assert_str_eq(why, "RESULT input section over its size");
	buf_free(&b);
}
END_TEST

START_TEST(test_section_names)
{
	ck_assert_uint_eq(ctl_sections_parse("stderr"), CTL_F_STDERR);
	ck_assert_uint_eq(ctl_sections_parse("output"), CTL_F_OUTPUT);
	ck_assert_uint_eq(ctl_sections_parse("fields"), CTL_F_FIELDS);
	ck_assert_uint_eq(ctl_sections_parse("input"), CTL_F_INPUT);
	ck_assert_uint_eq(ctl_sections_parse("later"), 0);
}
END_TEST

/* A SUMS' header and payload into p; ctl_sums_get()'s verdict. */
static int
sums_round(char *p, uint64_t id, const struct ctl_sums *u,
    struct ctl_sums *got, const char **why)
{
	struct frame_hdr	 h;

	frame_put(p, CTL_SUMS, 0, CTL_SUMS_LEN, id);
	ctl_sums_put(p + FRAME_HDRLEN, u);
	ck_assert_int_eq(ctl_parse(p, FRAME_HDRLEN, &h, why), FRAME_GOOD);
	ck_assert_uint_eq(h.type, CTL_SUMS);
	ck_assert_uint_eq(h.id, id);
	return (ctl_sums_get(p + FRAME_HDRLEN, h.id, got, why));
}

/*
 * A SUMS ("sums") goes and comes back whole, the sum's high half and
 * negatives too; one that cannot be the sum of its jobs is refused.
 */
START_TEST(test_sums)
{
	static const struct { uint64_t id, jobs; i128 sum; int64_t min, max;
	    const char *why; } c[] = {
		{ 0, 1, -7, -7, -7, NULL },
		{ 5, 3, 14, 1, 9, NULL },	/* 1 4 9 */
		{ 1, 4, (i128)4 * INT64_MAX, INT64_MAX, INT64_MAX, NULL },
		{ 1, 2, (i128)2 * INT64_MIN, INT64_MIN, INT64_MIN, NULL },
		{ 9, CTL_SUMS_JOBS, (i128)CTL_SUMS_JOBS * INT64_MAX, INT64_MAX,
		    INT64_MAX, NULL },
		{ UINT64_MAX, 1, 3, 3, 3, NULL },
		{ 1, 0, 0, 0, 0, "SUMS of no jobs, or of too many" },
		{ 1, (uint64_t)CTL_SUMS_JOBS + 1, 0, 0, 0,
		    "SUMS of no jobs, or of too many" },
		{ UINT64_MAX, 2, 6, 3, 3, "SUMS past the last job id" },
		{ 1, 2, 5, 4, 1, "SUMS whose sum is not of its least and "
		    "greatest" },
		{ 1, 1, 5, 4, 6, "SUMS whose sum is not of its least and "
		    "greatest" },
		/* Over 1 + 4 + 4, under 1 + 1 + 4. */
		{ 1, 3, 10, 1, 4, "SUMS whose sum is not of its least and "
		    "greatest" },
		{ 1, 3, 5, 1, 4, "SUMS whose sum is not of its least and "
		    "greatest" },
	};
	char			 p[FRAME_HDRLEN + CTL_SUMS_LEN];
	struct ctl_sums		 u, got;
	const char		*why;
	size_t			 i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		memset(&u, 0, sizeof(u));
		u.meta.pid = 4242;
		u.meta.attempts = 2;
		u.meta.latency_us = 77;
		u.jobs = c[i].jobs;
		u.sum = c[i].sum;
		u.min = c[i].min;
		u.max = c[i].max;
		why = NULL;
		if (c[i].why != NULL) {
			ck_assert_int_eq(sums_round(p, c[i].id, &u, &got, &why),
			    -1);
			ck_assert_str_eq(why, c[i].why);
			continue;
		}
		ck_assert_msg(sums_round(p, c[i].id, &u, &got, &why) == 0,
		    "case %zu: %s", i, why);
		ck_assert_uint_eq(got.meta.pid, 4242);
		ck_assert_uint_eq(got.meta.attempts, 2);
		ck_assert_uint_eq(got.meta.latency_us, 77);
		ck_assert_uint_eq(got.jobs, u.jobs);
		ck_assert(got.sum == u.sum);
		ck_assert_int_eq(got.min, u.min);
		ck_assert_int_eq(got.max, u.max);
	}
	/* The bytes: little-endian, the sum's low half first. */
	u.jobs = 2;
	u.sum = -2;
	u.min = u.max = -1;
	ctl_sums_put(p, &u);
	ck_assert_int_eq(memcmp(p + 16, "\x02\0\0\0\0\0\0\0", 8), 0);
	ck_assert_int_eq(memcmp(p + 24, "\xfe\xff\xff\xff\xff\xff\xff\xff"
	    "\xff\xff\xff\xff\xff\xff\xff\xff", 16), 0);
	ck_assert_str_eq(ctl_type_name(CTL_SUMS), "SUMS");
	ck_assert_uint_eq(ctl_sections_parse("sums"), CTL_S_SUMS);
	/* Of another size, or with flags or a status: not a SUMS. */
	frame_put(p, CTL_SUMS, 0, CTL_SUMS_LEN - 8, 1);
	ck_assert_int_eq(ctl_parse(p, FRAME_HDRLEN, &(struct frame_hdr){ 0 },
	    &why), FRAME_BAD);
	ck_assert_str_eq(why, "SUMS of the wrong size");
	frame_put(p, CTL_SUMS, 1, CTL_SUMS_LEN, 1);
	ck_assert_int_eq(ctl_parse(p, FRAME_HDRLEN, &(struct frame_hdr){ 0 },
	    &why), FRAME_BAD);
	frame_put(p, CTL_SUMS, 0, CTL_SUMS_LEN, 1);
	p[6] = CTL_F_INT;
	ck_assert_int_eq(ctl_parse(p, FRAME_HDRLEN, &(struct frame_hdr){ 0 },
	    &why), FRAME_BAD);
}
END_TEST

/* input_passable() says yes to a pipe and a local file only. */
START_TEST(test_input_passable)
{
	char		 path[] = "/tmp/drover-test-ctl.XXXXXX";
	int		 p[2], fd;

	ck_assert_int_eq(pipe(p), 0);
	ck_assert(input_passable(p[0]));
	close(p[0]);
	close(p[1]);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0);
	ck_assert(!input_passable(p[0]));
	close(p[0]);
	close(p[1]);
	ck_assert_int_ne(fd = open("/dev/null", O_RDONLY), -1);
	ck_assert(!input_passable(fd));
	close(fd);
	ck_assert_int_ne(fd = mkstemp(path), -1);
	ck_assert(input_passable(fd));
	close(fd);
	unlink(path);
	ck_assert(!input_passable(fd));		/* closed */
}
END_TEST

static Suite *
ctl_suite(void)
{
	Suite	*s = suite_create("ctl");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_flags_only_on_a_result);
	tcase_add_test(tc, test_typed_result);
	tcase_add_test(tc, test_every_section_in_order);
	tcase_add_test(tc, test_no_flags_is_the_old_result);
	tcase_add_test(tc, test_bad_input_sections);
	tcase_add_test(tc, test_section_names);
	tcase_add_test(tc, test_sums);
	tcase_add_test(tc, test_input_passable);
	suite_add_tcase(s, tc);
	return (s);
}

CHECK_MAIN(ctl_suite)

/*
 * Unit tests for result aggregation (common/agg.c) and the two modules it is
 * built on: strict number parsing and formatting (num.c) and the latency
 * histogram (hist.c).  Sums must be exact: the sum of the squares of
 * 1..10^7 needs 69 bits and must print to the last digit.
 */
#include <check.h>
#include <endian.h>

#include "check_main.h"
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"
#include "buf.h"
#include "hist.h"
#include "num.h"

#define SUM_SQ_1E7	"333333383333335000000"

/* v in decimal, in one of a few rotating static buffers (for messages). */
static const char *
s128(i128 v)
{
	static char	 bufs[4][I128_STRLEN + 1];
	static int	 n;
	char		*p = bufs[n++ % 4];

	p[num_fmt_i128(p, v)] = '\0';
	return (p);
}

/* Parse s (all of it) as a 128-bit integer; it must give want. */
static void
parse_ok(const char *s, i128 want)
{
	i128	 v = 12345;

	ck_assert_msg(num_parse_i128(s, strlen(s), &v) == 0,
	    "num_parse_i128(\"%s\") failed", s);
	ck_assert_msg(v == want, "num_parse_i128(\"%s\") = %s, want %s", s,
	    s128(v), s128(want));
}

/* Parse s as a 128-bit integer; it must be rejected, *v untouched. */
static void
parse_bad(const char *s)
{
	i128	 v = 12345;

	ck_assert_msg(num_parse_i128(s, strlen(s), &v) == -1,
	    "num_parse_i128(\"%s\") accepted %s", s, s128(v));
	ck_assert_msg(v == 12345, "num_parse_i128(\"%s\") wrote *v", s);
}

/* num_fmt_i128(v) must be exactly want. */
static void
fmt_i128_is(i128 v, const char *want)
{
	char	 p[I128_STRLEN + 1];
	size_t	 n;

	n = num_fmt_i128(p, v);
	ck_assert_uint_le(n, I128_STRLEN);
	p[n] = '\0';
	ck_assert_str_eq(p, want);
}

/* num_fmt_double(v) as a string. */
static const char *
fmt_double(double v)
{
	static char	 p[64];
	size_t		 n;

	n = num_fmt_double(p, sizeof(p), v);
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_lt(n, sizeof(p));
	ck_assert_uint_eq(strlen(p), n);
	return (p);
}

/* Count an ok job with output s (runs once). */
static void
ok_job(struct agg *a, const char *s)
{
	agg_job(a, JOB_OK, 1, s, strlen(s));
}

/* Count an ok job whose output is v in decimal. */
static void
ok_int(struct agg *a, i128 v)
{
	char	 p[I128_STRLEN];

	agg_job(a, JOB_OK, 1, p, num_fmt_i128(p, v));
}

/* One of the agg_fmt_* formatters, as a string in a static buffer. */
static const char *
fmt(void (*f)(const struct agg *, struct buf *), const struct agg *a)
{
	static char	 s[256];
	struct buf	 b;

	buf_init(&b);
	f(a, &b);
	ck_assert_uint_lt(buf_len(&b), sizeof(s));
	memcpy(s, buf_data(&b), buf_len(&b));
	s[buf_len(&b)] = '\0';
	buf_free(&b);
	return (s);
}

/* The text summary as a malloc'd string. */
static char *
summary_text(const struct agg *a, double wall)
{
	struct buf	 b;
	char		*s;

	buf_init(&b);
	agg_summary_text(a, wall, &b);
	buf_addc(&b, '\0');
	s = strdup(buf_data(&b));
	ck_assert_ptr_nonnull(s);
	buf_free(&b);
	return (s);
}

/* The JSON summary parsed by jansson (flags as for json_loads). */
static json_t *
summary_json(const struct agg *a, double wall, size_t flags)
{
	struct buf	 b;
	json_error_t	 err;
	json_t		*j;

	buf_init(&b);
	agg_summary_json(a, wall, &b);
	buf_addc(&b, '\0');
	ck_assert_ptr_null(strchr(buf_data(&b), '\n'));
	j = json_loads(buf_data(&b), flags, &err);
	ck_assert_msg(j != NULL, "invalid JSON (%s): %s", err.text,
	    buf_data(&b));
	buf_free(&b);
	return (j);
}

/* The integer member key of o; it must exist and be an integer. */
static json_int_t
jint(const json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	ck_assert_msg(v != NULL, "no \"%s\"", key);
	ck_assert_msg(json_is_integer(v), "\"%s\" is not an integer", key);
	return (json_integer_value(v));
}

/* The numeric member key of o as a double. */
static double
jnum(const json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	ck_assert_msg(v != NULL, "no \"%s\"", key);
	ck_assert_msg(json_is_number(v), "\"%s\" is not a number", key);
	return (json_number_value(v));
}

/* An agg of the squares 1..100, all ok, run once. */
static void
agg_squares_100(struct agg *a)
{
	int	 i;

	agg_init(a);
	for (i = 1; i <= 100; i++)
		ok_int(a, (i128)i * i);
}

/* num: 128-bit integers. */

/* The exact 128-bit limits parse; one past either end does not. */
START_TEST(test_parse_i128_limits)
{
	parse_ok("170141183460469231731687303715884105727", I128_MAX);
	parse_ok("+170141183460469231731687303715884105727", I128_MAX);
	parse_ok("-170141183460469231731687303715884105728", I128_MIN);
	parse_ok("-170141183460469231731687303715884105727", -I128_MAX);
	parse_bad("170141183460469231731687303715884105728");
	parse_bad("-170141183460469231731687303715884105729");
	parse_bad("170141183460469231731687303715884105730");
	parse_bad("999999999999999999999999999999999999999");
	parse_bad("1701411834604692317316873037158841057270");
	parse_bad("340282366920938463463374607431768211456");
	/* Leading zeros do not count against the range. */
	parse_ok("000000000000000000000000000000000000000000001", 1);
	parse_ok("-00000000000000000000"
	    "170141183460469231731687303715884105728", I128_MIN);
}
END_TEST

/* Signs, leading zeros and the 64-bit boundary parse to exact values. */
START_TEST(test_parse_i128_values)
{
	parse_ok("0", 0);
	parse_ok("-0", 0);
	parse_ok("+0", 0);
	parse_ok("7", 7);
	parse_ok("+5", 5);
	parse_ok("-5", -5);
	parse_ok("007", 7);
	parse_ok("9223372036854775807", INT64_MAX);
	parse_ok("-9223372036854775808", (i128)INT64_MIN);
	parse_ok("9999999999999999999", (i128)9999999999999999999ULL);
	parse_ok("18446744073709551615", (i128)UINT64_MAX);
	parse_ok("18446744073709551616", (i128)UINT64_MAX + 1);
	parse_ok("99999999999999999999",
	    (i128)9999999999999999999ULL * 10 + 9);
	parse_ok(SUM_SQ_1E7, (i128)33333338333333ULL * 10000000 + 5000000);
}
END_TEST

/* Anything but an optionally signed run of decimal digits is refused. */
START_TEST(test_parse_i128_rejects)
{
	static const char *const bad[] = {
		"", "-", "+", " 1", "1 ", "0x10", "1e3", "1.0", "1.", ".1",
		"--1", "+-1", "-+1", "++1", "1-", "12a", "a12", "\t1", "1\n",
		"\xd9\xa1", "one", "1,000", "1_000",
	};
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_bad(bad[i]);
}
END_TEST

/* Only len bytes are parsed; num_parse_i64 keeps to the int64_t range. */
START_TEST(test_parse_i128_len)
{
	i128	 v = 0;
	int64_t	 w = 0;

	/* Only len bytes are looked at. */
	ck_assert_int_eq(num_parse_i128("123abc", 3, &v), 0);
	ck_assert(v == 123);
	ck_assert_int_eq(num_parse_i128("-42\n", 3, &v), 0);
	ck_assert(v == -42);
	ck_assert_int_eq(num_parse_i128("-42", 0, &v), -1);
	ck_assert_int_eq(num_parse_i128("-42", 1, &v), -1);

	ck_assert_int_eq(num_parse_i64("9223372036854775807", 19, &w), 0);
	ck_assert_int_eq(w, INT64_MAX);
	ck_assert_int_eq(num_parse_i64("-9223372036854775808", 20, &w), 0);
	ck_assert_int_eq(w, INT64_MIN);
	ck_assert_int_eq(num_parse_i64("9223372036854775808", 19, &w), -1);
	ck_assert_int_eq(num_parse_i64("-9223372036854775809", 20, &w), -1);
	ck_assert_int_eq(w, INT64_MIN);
}
END_TEST

/*
 * num_parse_i64() (64-bit fast path up to 18 digits) agrees with
 * num_parse_i128() and the int64_t range on strings of every length up to
 * 22: digits with a sign or none, leading zeros, and a bad byte anywhere.
 */
START_TEST(test_parse_i64_as_i128)
{
	static const char bytes[] = "0123456789-+ x/:";
	char		 s[24];
	uint64_t	 st = 99;
	size_t		 len, i, round;
	i128		 x;
	int64_t		 w;
	int		 r128, r64;

	for (round = 0; round < 200000; round++) {
		len = (size_t)(rnd(&st) % 23);
		for (i = 0; i < len; i++)
			s[i] = (char)('0' + rnd(&st) % 10);
		if (len != 0 && rnd(&st) % 3 == 0)
			s[0] = rnd(&st) % 2 ? '-' : '+';
		if (len != 0 && rnd(&st) % 4 == 0)
			s[rnd(&st) % len] =
			    bytes[rnd(&st) % (sizeof(bytes) - 1)];
		r128 = num_parse_i128(s, len, &x);
		if (r128 == 0 && (x > INT64_MAX || x < INT64_MIN))
			r128 = -1;
		w = 12345;
		r64 = num_parse_i64(s, len, &w);
		ck_assert_int_eq(r64, r128);
		if (r64 == 0)
			ck_assert(w == x);
	}
}
END_TEST

/*
 * num_parse_i64_pad() (a word at a time, 8 readable bytes after the
 * input) agrees with num_parse_i64() on the same strings, whatever the
 * bytes after them.
 */
START_TEST(test_parse_i64_pad)
{
	static const char bytes[] = "0123456789-+ x/:";
	char		 s[24 + 8];
	uint64_t	 st = 5;
	size_t		 len, i, round;
	int64_t		 a, b;
	int		 ra, rb, bad = 0;

	for (round = 0; round < 300000; round++) {
		len = (size_t)(rnd(&st) % 23);
		for (i = 0; i < len; i++)
			s[i] = (char)('0' + rnd(&st) % 10);
		for (; i < len + 8; i++)
			s[i] = (char)rnd(&st);
		if (len != 0 && rnd(&st) % 3 == 0)
			s[0] = rnd(&st) % 2 ? '-' : '+';
		if (len != 0 && rnd(&st) % 4 == 0)
			s[rnd(&st) % len] =
			    bytes[rnd(&st) % (sizeof(bytes) - 1)];
		a = b = 7;
		ra = num_parse_i64(s, len, &a);
		rb = num_parse_i64_pad(s, len, &b);
		bad += ra != rb || (ra == 0 && a != b);
	}
	ck_assert_int_eq(bad, 0);
}
END_TEST

/* Formatting of the limits and of values around 2^64. */
START_TEST(test_fmt_i128)
{
	fmt_i128_is(0, "0");
	fmt_i128_is(-1, "-1");
	fmt_i128_is(9, "9");
	fmt_i128_is(10, "10");
	fmt_i128_is(-10, "-10");
	fmt_i128_is(I128_MAX, "170141183460469231731687303715884105727");
	fmt_i128_is(I128_MIN, "-170141183460469231731687303715884105728");
	fmt_i128_is(-I128_MAX, "-170141183460469231731687303715884105727");
	fmt_i128_is((i128)UINT64_MAX, "18446744073709551615");
	fmt_i128_is((i128)UINT64_MAX + 1, "18446744073709551616");
	fmt_i128_is(-(i128)UINT64_MAX, "-18446744073709551615");
	fmt_i128_is(-(i128)UINT64_MAX - 1, "-18446744073709551616");
	fmt_i128_is((i128)INT64_MIN, "-9223372036854775808");
	fmt_i128_is((i128)33333338333333ULL * 10000000 + 5000000,
	    SUM_SQ_1E7);
}
END_TEST

/* Random values of every magnitude read back as themselves. */
START_TEST(test_fmt_i128_roundtrip)
{
	uint64_t	 st = 1;
	char		 p[I128_STRLEN + 1];
	i128		 v, back;
	size_t		 n;
	int		 i, shift;

	for (i = 0; i < 20000; i++) {
		v = (i128)(((u128)rnd(&st) << 64) | rnd(&st));
		/* Cover every magnitude, not just 38-39 digit numbers. */
		shift = (int)(rnd(&st) % 127);
		v >>= shift;
		if (i == 0)
			v = I128_MIN;
		else if (i == 1)
			v = I128_MAX;
		n = num_fmt_i128(p, v);
		ck_assert_uint_le(n, I128_STRLEN);
		ck_assert_int_eq(num_parse_i128(p, n, &back), 0);
		ck_assert_msg(back == v, "%s read back as %s", s128(v),
		    s128(back));
	}
}
END_TEST

/* num_fmt_u64 agrees with printf on edge and random values. */
START_TEST(test_fmt_u64)
{
	static const uint64_t vs[] = {
		0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 12345, 100000,
		4294967295ULL, 4294967296ULL, 9999999999999999999ULL,
		10000000000000000000ULL, UINT64_MAX - 1, UINT64_MAX,
	};
	uint64_t	 st = 7, v;
	char		 p[21], want[32];
	size_t		 n, i;
	int		 k;

	for (i = 0; i < sizeof(vs) / sizeof(vs[0]) + 20000; i++) {
		if (i < sizeof(vs) / sizeof(vs[0]))
			v = vs[i];
		else {
			k = (int)(rnd(&st) % 64);
			v = rnd(&st) >> k;
		}
		snprintf(want, sizeof(want), "%llu", (unsigned long long)v);
		n = num_fmt_u64(p, v);
		ck_assert_uint_eq(n, strlen(want));
		p[n] = '\0';
		ck_assert_str_eq(p, want);
	}
}
END_TEST

/* num: doubles and sizes. */

/* Finite decimal numbers parse; inf, nan, hex and junk do not. */
START_TEST(test_parse_double)
{
	static const struct {
		const char	*s;
		double		 v;
	} good[] = {
		{ "0", 0 }, { "3.5", 3.5 }, { "-3.5", -3.5 }, { "+2", 2 },
		{ ".5", 0.5 }, { "5.", 5 }, { "1e3", 1000 }, { "1E3", 1000 },
		{ "2.5e-3", 0.0025 }, { "-1e+2", -100 }, { "0.1", 0.1 },
		{ "1e308", 1e308 },
	};
	static const char *const bad[] = {
		"", "-", "+", ".", "e5", "1e", "inf", "-inf", "INF",
		"infinity", "nan", "NaN", "0x10", "0x1p3", "1e999", "-1e999",
		" 1", "1 ", "1,5", "--1", "1..2", "1e3e3", "1-2", "abc",
	};
	double	 v;
	size_t	 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = -999;
		ck_assert_msg(num_parse_double(good[i].s, strlen(good[i].s),
		    &v) == 0, "\"%s\" rejected", good[i].s);
		ck_assert_msg(v == good[i].v, "\"%s\" read as %.17g",
		    good[i].s, v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(num_parse_double(bad[i], strlen(bad[i]), &v) ==
		    -1, "\"%s\" accepted", bad[i]);
	/* Only len bytes count. */
	ck_assert_int_eq(num_parse_double("2.5xyz", 3, &v), 0);
	ck_assert(v == 2.5);
	ck_assert_int_eq(num_parse_double("2.5", 0, &v), -1);
}
END_TEST

/* The shortest %.Ng (N from 15) that reads back as the same double. */
START_TEST(test_fmt_double)
{
	uint64_t	 st = 99, bits;
	double		 v;
	int		 i;

	ck_assert_str_eq(fmt_double(0.1), "0.1");
	ck_assert_str_eq(fmt_double(1e300), "1e+300");
	ck_assert_str_eq(fmt_double(3383.5), "3383.5");
	ck_assert_str_eq(fmt_double(0), "0");
	ck_assert_str_eq(fmt_double(-2), "-2");
	ck_assert_str_eq(fmt_double(0.1 + 0.2), "0.30000000000000004");
	ck_assert_str_eq(fmt_double(1.0 / 3), "0.3333333333333333");
	ck_assert_str_eq(fmt_double(33333338333333.5), "33333338333333.5");
	ck_assert_str_eq(fmt_double(5e-324), "4.94065645841247e-324");
	for (i = 0; i < 20000; i++) {
		bits = rnd(&st);
		memcpy(&v, &bits, sizeof(v));
		if (!isfinite(v))
			continue;
		ck_assert_msg(strtod(fmt_double(v), NULL) == v,
		    "%a does not round-trip", v);
	}
}
END_TEST

/* A buffer too small for the round-trip form gives 0. */
START_TEST(test_fmt_double_small_buffer)
{
	char	 p[8];

	memset(p, 'x', sizeof(p));
	ck_assert_uint_eq(num_fmt_double(p, sizeof(p), 0.1 + 0.2), 0);
	ck_assert_uint_eq(num_fmt_double(p, sizeof(p), 0.5), 3);
	ck_assert_str_eq(p, "0.5");
}
END_TEST

/* Byte sizes with k, M and G suffixes, and overflow refused. */
START_TEST(test_parse_size)
{
	static const struct {
		const char	*s;
		uint64_t	 v;
	} good[] = {
		{ "0", 0 }, { "123", 123 }, { "4k", 4096 }, { "4K", 4096 },
		{ "2m", 2097152 }, { "2M", 2097152 },
		{ "3g", 3221225472ULL }, { "3G", 3221225472ULL },
		{ "0k", 0 }, { "18446744073709551615", UINT64_MAX },
		{ "17179869183G", 17179869183ULL << 30 },
	};
	static const char *const bad[] = {
		"", "k", "-1", "+1", " 1", "1 ", "1x", "1T", "1kk", "1 k",
		"18446744073709551616", "17179869184G", "1e3", "0x10",
		"1.5k",
	};
	uint64_t	 v;
	size_t		 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 1;
		ck_assert_msg(num_parse_size(good[i].s, &v) == 0,
		    "\"%s\" rejected", good[i].s);
		ck_assert_uint_eq(v, good[i].v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 1;
		ck_assert_msg(num_parse_size(bad[i], &v) == -1,
		    "\"%s\" accepted", bad[i]);
		ck_assert_uint_eq(v, 1);
	}
}
END_TEST

/* agg. */

/* The sum of the squares of 1..10^7 is exact in all 21 digits. */
START_TEST(test_sum_squares_1e7)
{
	struct agg	 a;
	char		 p[24];
	uint64_t	 i;

	agg_init(&a);
	for (i = 1; i <= 10000000; i++)
		agg_job(&a, JOB_OK, 1, p, num_fmt_u64(p, i * i));
	ck_assert_uint_eq(a.jobs, 10000000);
	ck_assert_uint_eq(a.nint, 10000000);
	ck_assert_uint_eq(a.ndbl, 0);
	ck_assert_str_eq(fmt(agg_fmt_sum, &a), SUM_SQ_1E7);
	ck_assert_str_eq(fmt(agg_fmt_min, &a), "1");
	ck_assert_str_eq(fmt(agg_fmt_max, &a), "100000000000000");
	ck_assert_str_eq(fmt(agg_fmt_mean, &a), "33333338333333.5");
}
END_TEST

/* The same total, merged from ten partial aggregates. */
START_TEST(test_sum_squares_1e7_merged)
{
	struct agg	*part, total;
	char		 p[24];
	uint64_t	 i;
	int		 k;

	/* Ten partial aggregates of 10^6 jobs each, merged. */
	part = malloc(sizeof(*part));
	ck_assert_ptr_nonnull(part);
	agg_init(&total);
	for (k = 0; k < 10; k++) {
		agg_init(part);
		for (i = (uint64_t)k * 1000000 + 1;
		    i <= (uint64_t)(k + 1) * 1000000; i++)
			agg_job(part, JOB_OK, 1, p, num_fmt_u64(p, i * i));
		agg_merge(&total, part);
	}
	free(part);
	ck_assert_uint_eq(total.jobs, 10000000);
	ck_assert_uint_eq(total.status[JOB_OK], 10000000);
	ck_assert_str_eq(fmt(agg_fmt_sum, &total), SUM_SQ_1E7);
	ck_assert_str_eq(fmt(agg_fmt_min, &total), "1");
	ck_assert_str_eq(fmt(agg_fmt_max, &total), "100000000000000");
	ck_assert_str_eq(fmt(agg_fmt_mean, &total), "33333338333333.5");
}
END_TEST

/* Sum, min, max and mean of the squares of 1..100. */
START_TEST(test_squares_100)
{
	struct agg	 a;

	agg_squares_100(&a);
	ck_assert(agg_has_numbers(&a));
	ck_assert_uint_eq(agg_failed(&a), 0);
	ck_assert_str_eq(fmt(agg_fmt_sum, &a), "338350");
	ck_assert_str_eq(fmt(agg_fmt_min, &a), "1");
	ck_assert_str_eq(fmt(agg_fmt_max, &a), "10000");
	ck_assert_str_eq(fmt(agg_fmt_mean, &a), "3383.5");
}
END_TEST

/* Negative integers sum and compare as integers. */
START_TEST(test_negative_ints)
{
	struct agg	 a;

	agg_init(&a);
	ok_job(&a, "-5");
	ok_job(&a, "3");
	ok_job(&a, "-7");
	ck_assert_str_eq(fmt(agg_fmt_sum, &a), "-9");
	ck_assert_str_eq(fmt(agg_fmt_min, &a), "-7");
	ck_assert_str_eq(fmt(agg_fmt_max, &a), "3");
	ck_assert_str_eq(fmt(agg_fmt_mean, &a), "-3");
}
END_TEST

/* Integers and doubles together report double totals, min and max. */
START_TEST(test_mixed_numbers)
{
	struct agg	 a;

	agg_init(&a);
	ok_job(&a, "1");
	ok_job(&a, "2.5");
	ok_job(&a, "3");
	ok_job(&a, "-0.5");
	ck_assert_uint_eq(a.nint, 2);
	ck_assert_uint_eq(a.ndbl, 2);
	ck_assert_str_eq(fmt(agg_fmt_sum, &a), "6");
	ck_assert_str_eq(fmt(agg_fmt_min, &a), "-0.5");
	ck_assert_str_eq(fmt(agg_fmt_max, &a), "3");
	ck_assert_str_eq(fmt(agg_fmt_mean, &a), "1.5");

	agg_init(&a);
	ok_job(&a, "10");
	ok_job(&a, "10.25");
	ok_job(&a, "-4");
	ck_assert_str_eq(fmt(agg_fmt_min, &a), "-4");
	ck_assert_str_eq(fmt(agg_fmt_max, &a), "10.25");
	ck_assert_str_eq(fmt(agg_fmt_sum, &a), "16.25");

	/* Doubles only. */
	agg_init(&a);
	ok_job(&a, "1.5");
	ok_job(&a, "1e3");
	ck_assert_str_eq(fmt(agg_fmt_sum, &a), "1001.5");
	ck_assert_str_eq(fmt(agg_fmt_min, &a), "1.5");
	ck_assert_str_eq(fmt(agg_fmt_max, &a), "1000");
	ck_assert_str_eq(fmt(agg_fmt_mean, &a), "500.75");
}
END_TEST

/* The double sum is Neumaier-compensated. */
START_TEST(test_compensated_sum)
{
	struct agg	 a;
	double		 naive = 0;
	int		 i;

	agg_init(&a);
	for (i = 0; i < 10; i++) {
		ok_job(&a, "0.1");
		naive += 0.1;
	}
	/* A plain sum is off by one ulp here; the compensated one is not. */
	ck_assert(naive != 1.0);
	ck_assert_str_eq(fmt(agg_fmt_sum, &a), "1");
	ck_assert_str_eq(fmt(agg_fmt_mean, &a), "0.1");
	ck_assert_str_eq(fmt(agg_fmt_min, &a), "0.1");

	/* Neumaier's own example: Kahan's algorithm gives 0 here. */
	agg_init(&a);
	ok_job(&a, "1.0");
	ok_job(&a, "1e100");
	ok_job(&a, "1.0");
	ok_job(&a, "-1e100");
	ck_assert_str_eq(fmt(agg_fmt_sum, &a), "2");
}
END_TEST

/* Non-numeric outputs are counted as jobs but never summed. */
START_TEST(test_non_numeric)
{
	static const char *const junk[] = {
		"abc", "", "12abc", "1 2", "0x10", "inf", "nan", " 5", "5\n",
		"1,5", "-",
	};
	struct agg	 a;
	size_t		 i;
	char		*s;

	agg_init(&a);
	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		ok_job(&a, junk[i]);
	ck_assert_uint_eq(a.jobs, 11);
	ck_assert_uint_eq(a.status[JOB_OK], 11);
	ck_assert(!agg_has_numbers(&a));
	s = summary_text(&a, 1);
	ck_assert_str_eq(s, "11 jobs, 11 ok, 0 failed, 0 retried in 1.000 s "
	    "(11 jobs/s)");
	free(s);

	ok_job(&a, "5");
	ck_assert(agg_has_numbers(&a));
	ck_assert_uint_eq(a.nint, 1);
	ck_assert_str_eq(fmt(agg_fmt_sum, &a), "5");
	ck_assert_str_eq(fmt(agg_fmt_mean, &a), "5");
}
END_TEST

/* Statuses, retries and restarts are counted and shown in the text. */
START_TEST(test_statuses)
{
	struct agg	 a;
	char		*s;

	agg_init(&a);
	agg_job(&a, JOB_OK, 1, "1", 1);
	agg_job(&a, JOB_OK, 2, "2", 1);
	agg_job(&a, JOB_FAILED, 1, "300", 3);		/* not summed */
	agg_job(&a, JOB_TIMEOUT, 1, "", 0);
	agg_job(&a, JOB_TIMEOUT, 1, "", 0);
	agg_job(&a, JOB_CRASHED, 3, "", 0);
	ck_assert_uint_eq(a.jobs, 6);
	ck_assert_uint_eq(a.status[JOB_OK], 2);
	ck_assert_uint_eq(a.status[JOB_FAILED], 1);
	ck_assert_uint_eq(a.status[JOB_TIMEOUT], 2);
	ck_assert_uint_eq(a.status[JOB_CRASHED], 1);
	ck_assert_uint_eq(a.status[JOB_CANCELLED], 0);
	ck_assert_uint_eq(a.retried, 2);
	ck_assert_uint_eq(agg_failed(&a), 4);
	ck_assert_uint_eq(a.nint, 2);
	s = summary_text(&a, 2);
	ck_assert_str_eq(s, "6 jobs, 2 ok, 4 failed (1 failed, 2 timeout, "
	    "1 crashed), 2 retried in 2.000 s (3.0 jobs/s); sum 3 min 1 max 2 "
	    "mean 1.5");
	free(s);

	a.restarts = 3;
	s = summary_text(&a, 0);
	ck_assert_str_eq(s, "6 jobs, 2 ok, 4 failed (1 failed, 2 timeout, "
	    "1 crashed), 2 retried, 3 restarts in 0.000 s (6000000 jobs/s); "
	    "sum 3 min 1 max 2 mean 1.5");
	free(s);

	/* When every failure is a plain "failed", no breakdown. */
	agg_init(&a);
	agg_job(&a, JOB_FAILED, 1, "", 0);
	agg_job(&a, JOB_FAILED, 1, "", 0);
	agg_job(&a, JOB_REJECTED, 1, "", 0);
	s = summary_text(&a, 0.5);
	ck_assert_str_eq(s, "3 jobs, 0 ok, 3 failed (2 failed, 1 rejected), "
	    "0 retried in 0.500 s (6.0 jobs/s)");
	free(s);
	agg_init(&a);
	agg_job(&a, JOB_FAILED, 1, "", 0);
	s = summary_text(&a, 0.5);
	ck_assert_str_eq(s, "1 job, 0 ok, 1 failed, 0 retried in 0.500 s "
	    "(2.0 jobs/s)");
	free(s);
	a.restarts = 1;
	s = summary_text(&a, 4);
	ck_assert_str_eq(s, "1 job, 0 ok, 1 failed, 0 retried, 1 restart in "
	    "4.000 s (0.2 jobs/s)");
	free(s);
}
END_TEST

/* The exact summary line for the squares of 1..100. */
START_TEST(test_summary_text_100)
{
	struct agg	 a;
	char		*s;

	agg_squares_100(&a);
	s = summary_text(&a, 0.004);
	ck_assert_str_eq(s, "100 jobs, 100 ok, 0 failed, 0 retried in 0.004 s "
	    "(25000 jobs/s); sum 338350 min 1 max 10000 mean 3383.5");
	free(s);
}
END_TEST

/* The JSON summary for 1..100 parses and holds the right fields. */
START_TEST(test_summary_json_100)
{
	struct agg	 a;
	json_t		*j, *o;
	uint64_t	 us;

	agg_squares_100(&a);
	j = summary_json(&a, 0.004, 0);
	ck_assert(json_is_object(j));
	ck_assert_uint_eq(json_object_size(j), 1);
	o = json_object_get(j, "summary");
	ck_assert(json_is_object(o));
	ck_assert_int_eq(jint(o, "jobs"), 100);
	ck_assert_int_eq(jint(o, "ok"), 100);
	ck_assert_int_eq(jint(o, "failed"), 0);
	ck_assert_int_eq(jint(o, "retried"), 0);
	ck_assert_int_eq(jint(o, "restarts"), 0);
	ck_assert_int_eq(jint(o, "sum"), 338350);
	ck_assert_int_eq(jint(o, "min"), 1);
	ck_assert_int_eq(jint(o, "max"), 10000);
	ck_assert(jnum(o, "mean") == 3383.5);
	ck_assert(jnum(o, "wall_s") == 0.004);
	ck_assert(jnum(o, "jobs_per_s") == 25000);
	ck_assert_ptr_null(json_object_get(o, "statuses"));
	ck_assert_ptr_null(json_object_get(o, "latency_us"));
	ck_assert_uint_eq(json_object_size(o), 11);
	json_decref(j);

	for (us = 1; us <= 1000; us++)
		agg_latency(&a, us);
	j = summary_json(&a, 0.004, 0);
	o = json_object_get(json_object_get(j, "summary"), "latency_us");
	ck_assert(json_is_object(o));
	ck_assert_int_eq(jint(o, "p50"), 511);
	ck_assert_int_eq(jint(o, "p90"), 927);
	ck_assert_int_eq(jint(o, "p99"), 991);
	ck_assert_int_eq(jint(o, "max"), 1000);
	json_decref(j);
}
END_TEST

/* Without numeric outputs the JSON has no sum, min, max or mean. */
START_TEST(test_summary_json_no_numbers)
{
	struct agg	 a;
	json_t		*j, *o, *st;

	agg_init(&a);
	ok_job(&a, "hello");
	agg_job(&a, JOB_FAILED, 1, "5", 1);
	agg_job(&a, JOB_TIMEOUT, 2, "", 0);
	agg_job(&a, JOB_CANCELLED, 1, "", 0);
	a.restarts = 1;
	j = summary_json(&a, 2, 0);
	o = json_object_get(j, "summary");
	ck_assert(json_is_object(o));
	ck_assert_int_eq(jint(o, "jobs"), 4);
	ck_assert_int_eq(jint(o, "ok"), 1);
	ck_assert_int_eq(jint(o, "failed"), 3);
	ck_assert_int_eq(jint(o, "retried"), 1);
	ck_assert_int_eq(jint(o, "restarts"), 1);
	ck_assert(jnum(o, "jobs_per_s") == 2);
	ck_assert_ptr_null(json_object_get(o, "sum"));
	ck_assert_ptr_null(json_object_get(o, "min"));
	ck_assert_ptr_null(json_object_get(o, "max"));
	ck_assert_ptr_null(json_object_get(o, "mean"));
	st = json_object_get(o, "statuses");
	ck_assert(json_is_object(st));
	ck_assert_uint_eq(json_object_size(st), 3);
	ck_assert_int_eq(jint(st, "failed"), 1);
	ck_assert_int_eq(jint(st, "timeout"), 1);
	ck_assert_int_eq(jint(st, "cancelled"), 1);
	json_decref(j);

	/* Nothing at all. */
	agg_init(&a);
	j = summary_json(&a, 0, 0);
	o = json_object_get(j, "summary");
	ck_assert_int_eq(jint(o, "jobs"), 0);
	ck_assert_ptr_null(json_object_get(o, "sum"));
	ck_assert(jnum(o, "jobs_per_s") == 0);
	json_decref(j);
}
END_TEST

/* A sum beyond 64 bits is written as an exact JSON integer. */
START_TEST(test_summary_json_big)
{
	struct agg	 a;
	struct buf	 b;
	json_t		*j, *o;

	agg_init(&a);
	ok_job(&a, SUM_SQ_1E7);
	ok_job(&a, "0");
	buf_init(&b);
	agg_summary_json(&a, 1, &b);
	buf_addc(&b, '\0');
	ck_assert_ptr_nonnull(strstr(buf_data(&b),
	    "\"sum\":" SUM_SQ_1E7 ","));
	buf_free(&b);
	/* Beyond json_int_t, so read back as a real. */
	j = summary_json(&a, 1, JSON_DECODE_INT_AS_REAL);
	o = json_object_get(j, "summary");
	ck_assert(jnum(o, "sum") == 333333383333335000000.0);
	ck_assert(jnum(o, "mean") == 166666691666667500000.0);
	json_decref(j);
}
END_TEST

/* A 128-bit overflow folds the sum into doubles without crashing. */
START_TEST(test_overflow_folds)
{
	struct agg	 a;
	json_t		*j;

	agg_init(&a);
	ok_int(&a, I128_MAX);
	ck_assert_str_eq(fmt(agg_fmt_sum, &a),
	    "170141183460469231731687303715884105727");
	ok_int(&a, I128_MAX);
	ck_assert_uint_eq(a.nint, 2);
	ck_assert_str_eq(fmt(agg_fmt_sum, &a), "3.402823669209385e+38");
	ck_assert_str_eq(fmt(agg_fmt_mean, &a), "1.7014118346046923e+38");
	ck_assert_str_eq(fmt(agg_fmt_min, &a),
	    "170141183460469231731687303715884105727");
	ck_assert_str_eq(fmt(agg_fmt_max, &a),
	    "170141183460469231731687303715884105727");
	/* Integers after the fold still count. */
	ok_job(&a, "1");
	ck_assert_str_eq(fmt(agg_fmt_sum, &a), "3.402823669209385e+38");
	ck_assert_str_eq(fmt(agg_fmt_min, &a), "1");
	/* max is a 39-digit integer: valid JSON, too big for json_int_t. */
	j = summary_json(&a, 1, JSON_DECODE_INT_AS_REAL);
	ck_assert(jnum(json_object_get(j, "summary"), "sum") ==
	    3.402823669209385e+38);
	ck_assert(jnum(json_object_get(j, "summary"), "max") ==
	    1.7014118346046923e+38);
	json_decref(j);

	agg_init(&a);
	ok_int(&a, I128_MIN);
	ck_assert_str_eq(fmt(agg_fmt_sum, &a),
	    "-170141183460469231731687303715884105728");
	ok_job(&a, "-1");
	ck_assert_str_eq(fmt(agg_fmt_sum, &a), "-1.7014118346046923e+38");
	ck_assert_str_eq(fmt(agg_fmt_min, &a),
	    "-170141183460469231731687303715884105728");
	ck_assert_str_eq(fmt(agg_fmt_max, &a), "-1");
}
END_TEST

/* Merging two aggregates gives what one aggregate of both gives. */
START_TEST(test_merge)
{
	struct agg	 all, lo, hi, empty;
	char		*s1, *s2;
	int		 i;

	agg_init(&all);
	agg_init(&lo);
	agg_init(&hi);
	agg_init(&empty);
	for (i = 1; i <= 100; i++) {
		ok_int(i <= 50 ? &lo : &hi, (i128)i * i);
		ok_int(&all, (i128)i * i);
		agg_latency(i <= 50 ? &lo : &hi, (uint64_t)i * 10);
		agg_latency(&all, (uint64_t)i * 10);
	}
	agg_job(&hi, JOB_TIMEOUT, 2, "", 0);
	agg_job(&all, JOB_TIMEOUT, 2, "", 0);
	ok_job(&lo, "0.25");
	ok_job(&all, "0.25");
	lo.restarts = 2;
	all.restarts = 2;
	agg_merge(&empty, &lo);
	agg_merge(&empty, &hi);
	ck_assert_uint_eq(empty.jobs, 102);
	ck_assert_uint_eq(empty.status[JOB_OK], 101);
	ck_assert_uint_eq(empty.status[JOB_TIMEOUT], 1);
	ck_assert_uint_eq(empty.retried, 1);
	ck_assert_uint_eq(empty.restarts, 2);
	ck_assert_uint_eq(empty.nint, 100);
	ck_assert_uint_eq(empty.ndbl, 1);
	ck_assert_uint_eq(empty.lat.count, 100);
	ck_assert_uint_eq(empty.lat.min, 10);
	ck_assert_uint_eq(empty.lat.max, 1000);
	ck_assert_str_eq(fmt(agg_fmt_sum, &empty), "338350.25");
	ck_assert_str_eq(fmt(agg_fmt_min, &empty), "0.25");
	ck_assert_str_eq(fmt(agg_fmt_max, &empty), "10000");
	s1 = summary_text(&empty, 1);
	s2 = summary_text(&all, 1);
	ck_assert_str_eq(s1, s2);
	ck_assert_str_eq(s1, "102 jobs, 101 ok, 1 failed (1 timeout), "
	    "1 retried, 2 restarts in 1.000 s (102 jobs/s); sum 338350.25 "
	    "min 0.25 max 10000 mean 3350.0024752475247");
	free(s1);
	free(s2);
}
END_TEST

/* A double sum past DBL_MAX prints inf, and the JSON stays valid. */
START_TEST(test_double_overflow_json)
{
	struct agg	 a;
	struct buf	 b;
	json_t		*j, *sm;

	agg_init(&a);
	agg_job(&a, JOB_OK, 1, "1e308", 5);
	agg_job(&a, JOB_OK, 1, "1e308", 5);
	ck_assert(!agg_sum_finite(&a));
	buf_init(&b);
	agg_summary_text(&a, 1.0, &b);
	buf_addc(&b, '\0');
	ck_assert_msg(strstr(buf_data(&b), "sum inf ") != NULL, "%s",
	    buf_data(&b));
	buf_free(&b);
	j = summary_json(&a, 1.0, 0);
	ck_assert_ptr_nonnull(j);
	sm = json_object_get(j, "summary");
	ck_assert_ptr_null(json_object_get(sm, "sum"));
	ck_assert_ptr_null(json_object_get(sm, "mean"));
	ck_assert(json_is_true(json_object_get(sm, "sum_overflow")));
	ck_assert(json_real_value(json_object_get(sm, "max")) == 1e308);
	json_decref(j);
}
END_TEST

/* A merge whose integer sum overflows folds into doubles too. */
/*
 * Aggregate vs both ways, typed (agg_job_value()) and as the text that
 * num_fmt_value() gives (agg_job()), and check that the summaries are the
 * same, so that a typed worker's totals are a text worker's.
 */
/* The two aggregates count alike: the same JSON summary, the same kinds. */
static void
same_summary(const struct agg *t, const struct agg *x)
{
	struct buf	 bt, bx;

	buf_init(&bt);
	buf_init(&bx);
	agg_summary_json(t, 1.0, &bt);
	agg_summary_json(x, 1.0, &bx);
	buf_addc(&bt, '\0');
	buf_addc(&bx, '\0');
	ck_assert_str_eq(buf_data(&bt), buf_data(&bx));
	ck_assert_uint_eq(t->nint, x->nint);
	ck_assert_uint_eq(t->ndbl, x->ndbl);
	buf_free(&bt);
	buf_free(&bx);
}

static void
typed_same(const struct num_value *v, size_t n)
{
	struct agg	 t, x;
	char		 tmp[NUM_VALUE_STRLEN];
	size_t		 i;

	agg_init(&t);
	agg_init(&x);
	for (i = 0; i < n; i++) {
		agg_job_value(&t, 1, &v[i]);
		agg_job(&x, JOB_OK, 1, tmp, num_fmt_value(tmp, &v[i]));
	}
	same_summary(&t, &x);
}

/* Typed numbers aggregate as their text does: integers, edge doubles. */
START_TEST(test_typed_as_text)
{
	static const double ds[] = { 0.5, -0.0, 0.0, 4.0, -4.0, 1e15,
	    -1e15, 123456789012345.0, 999999999999999.0,
	    1234567890123456.0, 9007199254740993.0, 12345678901234568.0,
	    -12345678901234568.0, 1e17, 1e300, -1e-5, 2.5e-300, 1.0 / 3,
	    HUGE_VAL, -HUGE_VAL, NAN, 5e-324, 1.7976931348623157e308 };
	static const int64_t is[] = { 0, 1, -1, INT64_MAX, INT64_MIN, 49,
	    -123456789 };
	struct num_value v[64], one;
	uint64_t	 st = 42;
	size_t		 i, n = 0;

	for (i = 0; i < sizeof(ds) / sizeof(ds[0]); i++) {
		v[n].kind = NUM_DOUBLE;
		v[n++].d = ds[i];
		one = v[n - 1];
		typed_same(&one, 1);
	}
	for (i = 0; i < sizeof(is) / sizeof(is[0]); i++) {
		v[n].kind = NUM_INT;
		v[n++].i = is[i];
		one = v[n - 1];
		typed_same(&one, 1);
	}
	one.kind = NUM_INT;
	one.i = I128_MAX;
	typed_same(&one, 1);
	one.i = I128_MIN;
	typed_same(&one, 1);
	v[n].kind = NUM_INT;
	v[n++].i = I128_MAX - 5;
	typed_same(v, n);
	/* Random integral doubles around 10^15..10^17, and any bits. */
	for (i = 0; i < 2000; i++) {
		uint64_t	 r = rnd(&st);

		one.kind = NUM_DOUBLE;
		if (i % 2)
			one.d = (double)(int64_t)(r % 200000000000000000ULL) -
			    1e17;
		else
			memcpy(&one.d, &r, 8);
		typed_same(&one, 1);
	}
}
END_TEST

/*
 * agg_run() counts a run of 8-byte values as agg_job_value() counts them
 * one by one: random int64s (every magnitude, both signs) and doubles in
 * runs of random length, some retried, the totals compared as JSON.
 */
START_TEST(test_run_as_values)
{
	struct agg	 t, x;
	struct num_value v;
	char		 vals[300 * 8];
	uint64_t	 st = 7, u;
	size_t		 i, n, r, retried, round;
	unsigned	 runs;

	agg_init(&t);
	agg_init(&x);
	for (round = 0; round < 400; round++) {
		n = (size_t)(rnd(&st) % 300);
		v.kind = round % 5 == 4 ? NUM_DOUBLE : NUM_INT;
		retried = 0;
		for (i = 0; i < n; i++) {
			u = rnd(&st) >> (rnd(&st) % 64);
			if (v.kind == NUM_INT) {
				if (rnd(&st) % 2)
					u = (uint64_t)-(int64_t)u;
				v.i = (int64_t)u;
			} else
				memcpy(&v.d, &u, 8);
			r = rnd(&st) % 4;
			runs = r == 0 ? 2 : 1;
			retried += runs > 1;
			agg_job_value(&x, runs, &v);
			u = htole64(u);
			memcpy(vals + i * 8, &u, 8);
		}
		agg_run(&t, vals, n, v.kind, retried);
	}
	ck_assert_uint_eq(t.jobs, x.jobs);
	ck_assert_uint_eq(t.retried, x.retried);
	ck_assert_uint_eq(t.status[JOB_OK], x.status[JOB_OK]);
	ck_assert(t.isum == x.isum && t.imin == x.imin && t.imax == x.imax);
	same_summary(&t, &x);
}
END_TEST

/*
 * agg_sums() counts a run from its sums alone as agg_run() counts its
 * values (a SUMS, ctl.h): random int64 runs, some retried, summed as
 * droverd sums them; then sums that overflow 128 bits fold alike.
 */
START_TEST(test_sums_as_run)
{
	struct agg	 t, x;
	char		 vals[300 * 8];
	uint64_t	 st = 11, u;
	int64_t		 v, lo = 0, hi = 0;
	i128		 sum;
	size_t		 i, n, retried, round;
	char		 folded[256];

	agg_init(&t);
	agg_init(&x);
	for (round = 0; round < 400; round++) {
		n = 1 + (size_t)(rnd(&st) % 300);
		retried = round % 3 == 0 ? n : 0;
		sum = 0;
		for (i = 0; i < n; i++) {
			u = rnd(&st) >> (rnd(&st) % 64);
			v = rnd(&st) % 2 ? -(int64_t)(u >> 1) : (int64_t)u;
			sum += v;
			lo = i == 0 || v < lo ? v : lo;
			hi = i == 0 || v > hi ? v : hi;
			u = htole64((uint64_t)v);
			memcpy(vals + i * 8, &u, 8);
		}
		agg_run(&x, vals, n, NUM_INT, retried);
		agg_sums(&t, n, sum, lo, hi, retried);
	}
	ck_assert_uint_eq(t.jobs, x.jobs);
	ck_assert_uint_eq(t.retried, x.retried);
	ck_assert_uint_eq(t.status[JOB_OK], x.status[JOB_OK]);
	ck_assert(t.isum == x.isum && t.imin == x.imin && t.imax == x.imax);
	same_summary(&t, &x);
	/* Past 128 bits: into the double sum, as agg_run()'s would go. */
	agg_init(&t);
	agg_init(&x);
	ok_int(&t, I128_MAX);
	ok_int(&x, I128_MAX);
	v = INT64_MAX;
	u = htole64((uint64_t)v);
	memcpy(vals, &u, 8);
	agg_run(&x, vals, 1, NUM_INT, 0);
	agg_sums(&t, 1, v, v, v, 0);
	same_summary(&t, &x);
	snprintf(folded, sizeof(folded), "%s", fmt(agg_fmt_sum, &t));
	ck_assert_str_eq(folded, fmt(agg_fmt_sum, &x));
	ck_assert_str_eq(folded, "1.7014118346046923e+38");
	/* None: nothing. */
	agg_sums(&t, 0, 5, 5, 5, 0);
	same_summary(&t, &x);
}
END_TEST

START_TEST(test_merge_overflow)
{
	struct agg	 a, b;

	agg_init(&a);
	agg_init(&b);
	ok_int(&a, I128_MAX);
	ok_int(&b, I128_MAX);
	ok_job(&b, "-5");
	agg_merge(&a, &b);
	ck_assert_uint_eq(a.nint, 3);
	ck_assert_str_eq(fmt(agg_fmt_sum, &a), "3.402823669209385e+38");
	ck_assert_str_eq(fmt(agg_fmt_min, &a), "-5");
	ck_assert_str_eq(fmt(agg_fmt_max, &a),
	    "170141183460469231731687303715884105727");
}
END_TEST

/* hist. */

/* Values below 16 have buckets of their own; the ends are right. */
START_TEST(test_hist_exact_small)
{
	uint64_t	 v;

	for (v = 0; v < HIST_SUB; v++) {
		ck_assert_uint_eq(hist_index(v), v);
		ck_assert_uint_eq(hist_bucket_high((unsigned)v), v);
	}
	ck_assert_uint_eq(hist_index(16), 16);
	ck_assert_uint_eq(hist_index(31), 31);
	ck_assert_uint_eq(hist_index(32), 32);
	ck_assert_uint_eq(hist_index(33), 32);
	ck_assert_uint_eq(hist_bucket_high(32), 33);
	ck_assert_uint_eq(hist_index(UINT64_MAX), HIST_NBUCKETS - 1);
	ck_assert_uint_eq(hist_bucket_high(HIST_NBUCKETS - 1), UINT64_MAX);
}
END_TEST

/* hist_index(v)'s bucket must hold v, tightly, and be the right one. */
static void
check_bucket(uint64_t v)
{
	unsigned	 i = hist_index(v);
	uint64_t	 hi;

	ck_assert_uint_lt(i, HIST_NBUCKETS);
	hi = hist_bucket_high(i);
	ck_assert_msg(hi >= v, "v %llu: bucket %u high %llu",
	    (unsigned long long)v, i, (unsigned long long)hi);
	ck_assert_msg((hi - v) * 16 <= v, "v %llu: high %llu too far",
	    (unsigned long long)v, (unsigned long long)hi);
	ck_assert_uint_eq(hist_index(hi), i);
	if (hi != UINT64_MAX)
		ck_assert_uint_eq(hist_index(hi + 1), i + 1);
	if (i > 0)
		ck_assert_uint_lt(hist_bucket_high(i - 1), v);
}

/* Bucket indexes are monotonic and each bucket is within 1/16. */
START_TEST(test_hist_buckets)
{
	uint64_t	 v, st = 5;
	unsigned	 prev = 0;
	int		 e, i;

	for (v = 0; v < (1 << 20); v++) {
		ck_assert_uint_ge(hist_index(v), prev);
		ck_assert_uint_le(hist_index(v), prev + 1);
		prev = hist_index(v);
		if (v < 5000 || v % 97 == 0)
			check_bucket(v);
	}
	for (e = 4; e < 64; e++) {
		v = (uint64_t)1 << e;
		check_bucket(v - 1);
		check_bucket(v);
		check_bucket(v + 1);
		ck_assert_uint_lt(hist_index(v - 1), hist_index(v));
	}
	check_bucket(UINT64_MAX);
	for (i = 0; i < 100000; i++) {
		v = rnd(&st) >> (rnd(&st) % 64);
		check_bucket(v);
	}
	/* Every bucket's high is above the one before it. */
	for (i = 1; i < HIST_NBUCKETS; i++)
		ck_assert_uint_gt(hist_bucket_high((unsigned)i),
		    hist_bucket_high((unsigned)i - 1));
}
END_TEST

/* Percentiles of 1..1000 are within 6.25% of the true values. */
START_TEST(test_hist_percentiles)
{
	static const struct {
		double		 q;
		uint64_t	 exact;
	} ps[] = {
		{ 0.50, 500 }, { 0.90, 900 }, { 0.99, 990 }, { 0.10, 100 },
		{ 0.999, 999 },
	};
	struct hist	 h;
	uint64_t	 v, got;
	size_t		 i;

	hist_init(&h);
	ck_assert_uint_eq(hist_percentile(&h, 0.5), 0);
	/* Insert out of order; order must not matter. */
	for (v = 1000; v >= 1; v--)
		hist_add(&h, v);
	ck_assert_uint_eq(h.count, 1000);
	ck_assert_uint_eq(h.min, 1);
	ck_assert_uint_eq(h.max, 1000);
	ck_assert_uint_eq(h.sum, 500500);
	for (i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		got = hist_percentile(&h, ps[i].q);
		ck_assert_msg(got >= ps[i].exact &&
		    (double)(got - ps[i].exact) <= ps[i].exact * 0.0625,
		    "p%g is %llu, true %llu", ps[i].q * 100,
		    (unsigned long long)got,
		    (unsigned long long)ps[i].exact);
	}
	ck_assert_uint_eq(hist_percentile(&h, 0.5), 511);
	ck_assert_uint_eq(hist_percentile(&h, 1), 1000);
	ck_assert_uint_eq(hist_percentile(&h, 0.9999), 1000);
	ck_assert_uint_eq(hist_percentile(&h, 0), 1);
	ck_assert_uint_eq(hist_percentile(&h, 0.0001), 1);
}
END_TEST

/* Small values are exact and results are clamped to [min, max]. */
START_TEST(test_hist_small_exact)
{
	struct hist	 h;
	uint64_t	 v;

	hist_init(&h);
	for (v = 1; v <= 10; v++)
		hist_add(&h, v);
	ck_assert_uint_eq(hist_percentile(&h, 0.5), 5);
	ck_assert_uint_eq(hist_percentile(&h, 0.9), 9);
	ck_assert_uint_eq(hist_percentile(&h, 0.95), 10);

	/* Clamped to the observed range. */
	hist_init(&h);
	hist_add(&h, 1000);
	hist_add(&h, 1001);
	ck_assert_uint_eq(hist_percentile(&h, 0.5), 1001);
	ck_assert_uint_eq(hist_percentile(&h, 0.01), 1001);
	ck_assert_uint_eq(hist_percentile(&h, 0), 1000);
	hist_init(&h);
	hist_add(&h, 0);
	hist_add(&h, UINT64_MAX);
	ck_assert_uint_eq(hist_percentile(&h, 0.5), 0);
	ck_assert_uint_eq(hist_percentile(&h, 0.99), UINT64_MAX);
}
END_TEST

/* Merged histograms equal one histogram of all the values. */
START_TEST(test_hist_merge)
{
	struct hist	 a, b, all, empty;
	uint64_t	 v;

	hist_init(&a);
	hist_init(&b);
	hist_init(&all);
	hist_init(&empty);
	for (v = 1; v <= 1000; v++) {
		hist_add(v % 3 == 0 ? &a : &b, v * 7);
		hist_add(&all, v * 7);
	}
	hist_merge(&a, &empty);
	ck_assert_uint_eq(a.count, 333);
	ck_assert_uint_eq(a.min, 21);
	hist_merge(&empty, &a);
	hist_merge(&empty, &b);
	ck_assert_uint_eq(empty.count, 1000);
	ck_assert_uint_eq(empty.min, 7);
	ck_assert_uint_eq(empty.max, 7000);
	ck_assert_uint_eq(empty.sum, 7 * 500500);
	ck_assert_mem_eq(empty.b, all.b, sizeof(all.b));
	ck_assert_uint_eq(hist_percentile(&empty, 0.5),
	    hist_percentile(&all, 0.5));
	ck_assert_uint_eq(hist_percentile(&empty, 0.99),
	    hist_percentile(&all, 0.99));
}
END_TEST

static Suite *
agg_suite(void)
{
	Suite	*s = suite_create("agg");
	TCase	*tc;

	tc = tcase_create("num");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_parse_i128_limits);
	tcase_add_test(tc, test_parse_i128_values);
	tcase_add_test(tc, test_parse_i128_rejects);
	tcase_add_test(tc, test_parse_i128_len);
	tcase_add_test(tc, test_parse_i64_as_i128);
	tcase_add_test(tc, test_parse_i64_pad);
	tcase_add_test(tc, test_fmt_i128);
	tcase_add_test(tc, test_fmt_i128_roundtrip);
	tcase_add_test(tc, test_fmt_u64);
	tcase_add_test(tc, test_parse_double);
	tcase_add_test(tc, test_fmt_double);
	tcase_add_test(tc, test_fmt_double_small_buffer);
	tcase_add_test(tc, test_parse_size);
	suite_add_tcase(s, tc);

	tc = tcase_create("agg");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_sum_squares_1e7);
	tcase_add_test(tc, test_sum_squares_1e7_merged);
	tcase_add_test(tc, test_squares_100);
	tcase_add_test(tc, test_negative_ints);
	tcase_add_test(tc, test_mixed_numbers);
	tcase_add_test(tc, test_compensated_sum);
	tcase_add_test(tc, test_non_numeric);
	tcase_add_test(tc, test_statuses);
	tcase_add_test(tc, test_summary_text_100);
	tcase_add_test(tc, test_summary_json_100);
	tcase_add_test(tc, test_summary_json_no_numbers);
	tcase_add_test(tc, test_summary_json_big);
	tcase_add_test(tc, test_overflow_folds);
	tcase_add_test(tc, test_merge);
	tcase_add_test(tc, test_merge_overflow);
	tcase_add_test(tc, test_double_overflow_json);
	tcase_add_test(tc, test_typed_as_text);
	tcase_add_test(tc, test_run_as_values);
	tcase_add_test(tc, test_sums_as_run);
	suite_add_tcase(s, tc);

	tc = tcase_create("hist");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_hist_exact_small);
	tcase_add_test(tc, test_hist_buckets);
	tcase_add_test(tc, test_hist_percentiles);
	tcase_add_test(tc, test_hist_small_exact);
	tcase_add_test(tc, test_hist_merge);
	suite_add_tcase(s, tc);
	return (s);
}

CHECK_MAIN(agg_suite)

/*
 * Unit tests for the tagged protocol's prefix (common/tagged.c): ids are
 * written in decimal with a tab, every id written parses back, and a line
 * without a tab, with an empty, non-decimal, over-long or over-64-bit id
 * is refused with a reason.
 */
#include <check.h>

#include "check_main.h"
#include <stdint.h>
#include <string.h>

#include "tagged.h"

/* Parse the string s; return tagged_parse()'s verdict. */
static int
parse(const char *s, uint64_t *id, size_t *off, const char **why)
{
	*why = NULL;
	return (tagged_parse(s, strlen(s), id, off, why));
}

START_TEST(test_put)
{
	char	 b[TAGGED_PREFIX_MAX];
	size_t	 n;

	n = tagged_put_id(b, 0);
	ck_assert_uint_eq(n, 2);
	ck_assert(memcmp(b, "0\t", 2) == 0);
	n = tagged_put_id(b, 77);
	ck_assert_uint_eq(n, 3);
	ck_assert(memcmp(b, "77\t", 3) == 0);
	n = tagged_put_id(b, UINT64_MAX);
	ck_assert_uint_eq(n, TAGGED_PREFIX_MAX);
	ck_assert(memcmp(b, "18446744073709551615\t", TAGGED_PREFIX_MAX) == 0);
}
END_TEST

START_TEST(test_parse)
{
	uint64_t	 id = 1;
	size_t		 off = 0;
	const char	*why;

	ck_assert_int_eq(parse("0\t49", &id, &off, &why), 0);
	ck_assert_uint_eq(id, 0);
	ck_assert_uint_eq(off, 2);
	ck_assert_int_eq(parse("12\t", &id, &off, &why), 0);
	ck_assert_uint_eq(id, 12);
	ck_assert_uint_eq(off, 3);
	/* Only the first tab ends the id; the result may hold tabs. */
	ck_assert_int_eq(parse("5\ta\tb", &id, &off, &why), 0);
	ck_assert_uint_eq(id, 5);
	ck_assert_uint_eq(off, 2);
	ck_assert_int_eq(parse("007\t!x", &id, &off, &why), 0);
	ck_assert_uint_eq(id, 7);
	ck_assert_int_eq(parse("18446744073709551615\tx", &id, &off, &why),
	    0);
	ck_assert_uint_eq(id, UINT64_MAX);
	ck_assert_uint_eq(off, TAGGED_PREFIX_MAX);
}
END_TEST

START_TEST(test_refused)
{
	static const char *const bad[] = {
		"\t49",			/* empty id */
		"x7\t49",
		"7x\t49",
		"-7\t49",
		"+7\t49",
		" 7\t49",
		"7 \t49",
		"18446744073709551616\tx",	/* 2^64 */
		"99999999999999999999\tx",
		"000000000000000000001\tx",	/* 21 digits */
	};
	uint64_t	 id = 42;
	size_t		 off = 42, i;
	const char	*why;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(parse(bad[i], &id, &off, &why) == -1, "%s",
		    bad[i]);
		ck_assert_str_eq(why, "the job id is not a decimal number");
	}
	ck_assert_int_eq(parse("49", &id, &off, &why), -1);
	ck_assert_str_eq(why, "no tab after the job id");
	ck_assert_int_eq(parse("", &id, &off, &why), -1);
	ck_assert_str_eq(why, "no tab after the job id");
	ck_assert_int_eq(tagged_parse("7\t", 1, &id, &off, &why), -1);
	ck_assert_str_eq(why, "no tab after the job id");
	ck_assert_uint_eq(id, 42);	/* untouched on failure */
	ck_assert_uint_eq(off, 42);
}
END_TEST

START_TEST(test_round_trip)
{
	char		 b[TAGGED_PREFIX_MAX + 8];
	uint64_t	 st = 1, v, id;
	size_t		 n, off;
	const char	*why;
	int		 i;

	for (i = 0; i < 100000; i++) {
		v = rnd(&st) >> (rnd(&st) % 64);
		n = tagged_put_id(b, v);
		memcpy(b + n, "ok", 2);
		ck_assert_int_eq(tagged_parse(b, n + 2, &id, &off, &why), 0);
		ck_assert_uint_eq(id, v);
		ck_assert_uint_eq(off, n);
	}
}
END_TEST

static Suite *
tagged_suite(void)
{
	Suite	*s = suite_create("tagged");
	TCase	*tc;

	tc = tcase_create("prefix");
	tcase_add_test(tc, test_put);
	tcase_add_test(tc, test_parse);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_round_trip);
	suite_add_tcase(s, tc);
	return (s);
}

CHECK_MAIN(tagged_suite)

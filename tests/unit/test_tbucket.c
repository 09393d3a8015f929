/*
 * Unit tests for the token bucket (common/tbucket.c).  Time is passed in, so
 * every test runs on an explicit clock; rates and steps are chosen so that
 * the token counts are exact in binary floating point.
 */
#include <check.h>

#include "check_main.h"
#include <stdint.h>
#include <stdlib.h>

#include "tbucket.h"

#define T0	1000000000ULL	/* an arbitrary start time, in us */

/* A new bucket holds burst tokens. */
START_TEST(test_starts_full)
{
	struct tbucket	 tb;

	tbucket_init(&tb, 4, 3, T0);
	ck_assert_uint_eq(tbucket_wait_us(&tb), 0);
	ck_assert_uint_eq(tbucket_take(&tb, 10, T0), 3);
	ck_assert_uint_eq(tbucket_take(&tb, 1, T0), 0);
	ck_assert_uint_eq(tbucket_take(&tb, 10, T0), 0);
}
END_TEST

/* take grants min(want, tokens). */
START_TEST(test_take_min)
{
	struct tbucket	 tb;

	tbucket_init(&tb, 4, 5, T0);
	ck_assert_uint_eq(tbucket_take(&tb, 0, T0), 0);
	ck_assert_uint_eq(tbucket_take(&tb, 2, T0), 2);
	ck_assert_uint_eq(tbucket_take(&tb, 2, T0), 2);
	ck_assert_uint_eq(tbucket_take(&tb, 2, T0), 1);
	ck_assert_uint_eq(tbucket_take(&tb, 2, T0), 0);
}
END_TEST

/* Only whole tokens are granted; fractions stay. */
START_TEST(test_take_floor)
{
	struct tbucket	 tb;

	/* 4 tokens a second: 0.25 per 62.5 ms. */
	tbucket_init(&tb, 4, 2, T0);
	ck_assert_uint_eq(tbucket_take(&tb, 2, T0), 2);
	ck_assert_uint_eq(tbucket_take(&tb, 5, T0 + 437500), 1);
	/* 1.75 was there; 0.75 is left, not enough for one. */
	ck_assert_uint_eq(tbucket_take(&tb, 5, T0 + 437500), 0);
	ck_assert_uint_eq(tbucket_take(&tb, 5, T0 + 500000), 1);
	ck_assert_uint_eq(tbucket_take(&tb, 5, T0 + 500000), 0);
}
END_TEST

/* Tokens refill at rate over time, fractions accumulating. */
START_TEST(test_refill)
{
	struct tbucket	 tb;
	uint64_t	 t = T0;

	tbucket_init(&tb, 4, 3, t);
	ck_assert_uint_eq(tbucket_take(&tb, 3, t), 3);
	t += 250000;
	ck_assert_uint_eq(tbucket_take(&tb, 5, t), 1);
	t += 500000;
	ck_assert_uint_eq(tbucket_take(&tb, 5, t), 2);
	/* Fractions add up across calls. */
	t += 125000;
	ck_assert_uint_eq(tbucket_take(&tb, 5, t), 0);
	t += 125000;
	ck_assert_uint_eq(tbucket_take(&tb, 5, t), 1);
	t += 62500;
	ck_assert_uint_eq(tbucket_take(&tb, 5, t), 0);
	t += 62500;
	ck_assert_uint_eq(tbucket_take(&tb, 5, t), 0);
	t += 62500;
	ck_assert_uint_eq(tbucket_take(&tb, 5, t), 0);
	t += 62500;
	ck_assert_uint_eq(tbucket_take(&tb, 5, t), 1);
}
END_TEST

/* Refill stops at burst however long the bucket idles. */
START_TEST(test_capped)
{
	struct tbucket	 tb;

	tbucket_init(&tb, 4, 3, T0);
	ck_assert_uint_eq(tbucket_take(&tb, 3, T0), 3);
	ck_assert_uint_eq(tbucket_take(&tb, 100, T0 + 10000000), 3);
	ck_assert_uint_eq(tbucket_take(&tb, 100, T0 + 10000000), 0);
	/* A long idle time saves up no more than burst. */
	ck_assert_uint_eq(tbucket_take(&tb, 0, T0 + 3600000000ULL), 0);
	ck_assert_uint_eq(tbucket_take(&tb, 100, T0 + 3600000000ULL), 3);
	ck_assert_uint_eq(tbucket_take(&tb, 100, T0 + 3600250000ULL), 1);
}
END_TEST

/* wait_us is the time to the next whole token, rounded up. */
START_TEST(test_wait_us)
{
	struct tbucket	 tb;

	tbucket_init(&tb, 4, 1, T0);
	ck_assert_uint_eq(tbucket_wait_us(&tb), 0);
	ck_assert_uint_eq(tbucket_take(&tb, 1, T0), 1);
	ck_assert_uint_eq(tbucket_wait_us(&tb), 250000);
	ck_assert_uint_eq(tbucket_take(&tb, 0, T0 + 62500), 0);
	ck_assert_uint_eq(tbucket_wait_us(&tb), 187500);
	ck_assert_uint_eq(tbucket_take(&tb, 1, T0 + 125000), 0);
	ck_assert_uint_eq(tbucket_wait_us(&tb), 125000);
	ck_assert_uint_eq(tbucket_take(&tb, 0, T0 + 250000), 0);
	ck_assert_uint_eq(tbucket_wait_us(&tb), 0);
	ck_assert_uint_eq(tbucket_take(&tb, 1, T0 + 250000), 1);
	ck_assert_uint_eq(tbucket_wait_us(&tb), 250000);

	/* Slow rates wait seconds; a partial microsecond rounds up. */
	tbucket_init(&tb, 0.5, 1, T0);
	ck_assert_uint_eq(tbucket_take(&tb, 1, T0), 1);
	ck_assert_uint_eq(tbucket_wait_us(&tb), 2000000);
	tbucket_init(&tb, 3, 1, T0);
	ck_assert_uint_eq(tbucket_take(&tb, 1, T0), 1);
	ck_assert_uint_eq(tbucket_wait_us(&tb), 333334);
}
END_TEST

/* Sleeping exactly wait_us always yields a token. */
START_TEST(test_wait_then_take)
{
	struct tbucket	 tb;
	uint64_t	 t = T0, w;
	int		 i;

	tbucket_init(&tb, 7, 1, t);
	ck_assert_uint_eq(tbucket_take(&tb, 1, t), 1);
	for (i = 0; i < 1000; i++) {
		w = tbucket_wait_us(&tb);
		ck_assert_uint_gt(w, 0);
		ck_assert_uint_le(w, 142858);
		t += w;
		ck_assert_uint_eq(tbucket_take(&tb, 1, t), 1);
	}
}
END_TEST

/* A rate of 0 (or below) grants everything. */
START_TEST(test_unlimited)
{
	struct tbucket	 tb;

	tbucket_init(&tb, 0, 1, T0);
	ck_assert_uint_eq(tbucket_take(&tb, 1000000, T0), 1000000);
	ck_assert_uint_eq(tbucket_take(&tb, 1000000, T0), 1000000);
	ck_assert_uint_eq(tbucket_take(&tb, UINT64_MAX, 0), UINT64_MAX);
	ck_assert_uint_eq(tbucket_take(&tb, 0, T0), 0);
	ck_assert_uint_eq(tbucket_wait_us(&tb), 0);
	tbucket_init(&tb, -1, 5, T0);
	ck_assert_uint_eq(tbucket_take(&tb, 77, T0), 77);
	ck_assert_uint_eq(tbucket_wait_us(&tb), 0);
}
END_TEST

/* A burst below 1 is raised to 1. */
START_TEST(test_burst_at_least_one)
{
	struct tbucket	 tb;

	tbucket_init(&tb, 4, 0, T0);
	ck_assert_uint_eq(tbucket_take(&tb, 5, T0), 1);
	ck_assert_uint_eq(tbucket_take(&tb, 5, T0), 0);
	tbucket_init(&tb, 4, 0.5, T0);
	ck_assert_uint_eq(tbucket_take(&tb, 5, T0), 1);
	ck_assert_uint_eq(tbucket_take(&tb, 5, T0 + 10000000), 1);
	tbucket_init(&tb, 4, 2.5, T0);
	ck_assert_uint_eq(tbucket_take(&tb, 5, T0), 2);
	ck_assert_uint_eq(tbucket_take(&tb, 5, T0 + 125000), 1);
}
END_TEST

/* Time going backwards adds no tokens. */
START_TEST(test_time_backwards)
{
	struct tbucket	 tb;

	tbucket_init(&tb, 4, 1, T0);
	ck_assert_uint_eq(tbucket_take(&tb, 1, T0), 1);
	ck_assert_uint_eq(tbucket_take(&tb, 1, T0 - 5000000), 0);
	ck_assert_uint_eq(tbucket_take(&tb, 1, T0 - 5000000), 0);
}
END_TEST

/* Over a long run the tokens granted match the rate exactly. */
START_TEST(test_long_run_rate)
{
	struct tbucket	 tb;
	uint64_t	 t = T0, got = 0;
	int		 i;

	/* 1000/s for one second in 1 ms steps: the burst plus 1000. */
	tbucket_init(&tb, 1000, tbucket_default_burst(1000), t);
	for (i = 0; i <= 1000; i++, t += 1000)
		got += tbucket_take(&tb, 1000000, t);
	ck_assert_uint_eq(got, 10 + 1000);

	/*
	 * 2/s polled every 10 ms for just under a minute (0.02 is inexact in
	 * binary, so stop clear of the 120th token at 60 s): the burst of 1
	 * plus 119.
	 */
	got = 0;
	t = T0;
	tbucket_init(&tb, 2, 1, t);
	for (i = 0; i < 6000; i++, t += 10000)
		got += tbucket_take(&tb, 100, t);
	ck_assert_uint_eq(got, 1 + 119);
}
END_TEST

/* The default burst is 10 ms of tokens, at least 1. */
START_TEST(test_default_burst)
{
	ck_assert(tbucket_default_burst(0) == 1);
	ck_assert(tbucket_default_burst(0.5) == 1);
	ck_assert(tbucket_default_burst(50) == 1);
	ck_assert(tbucket_default_burst(100) == 1);
	ck_assert(tbucket_default_burst(101) == 2);
	ck_assert(tbucket_default_burst(150) == 2);
	ck_assert(tbucket_default_burst(1000) == 10);
	ck_assert(tbucket_default_burst(12345) == 124);
	ck_assert(tbucket_default_burst(1e6) == 10000);
}
END_TEST

static Suite *
tbucket_suite(void)
{
	Suite	*s = suite_create("tbucket");
	TCase	*tc;

	tc = tcase_create("core");
	tcase_add_test(tc, test_starts_full);
	tcase_add_test(tc, test_take_min);
	tcase_add_test(tc, test_take_floor);
	tcase_add_test(tc, test_refill);
	tcase_add_test(tc, test_capped);
	tcase_add_test(tc, test_wait_us);
	tcase_add_test(tc, test_wait_then_take);
	tcase_add_test(tc, test_unlimited);
	tcase_add_test(tc, test_burst_at_least_one);
	tcase_add_test(tc, test_time_backwards);
	tcase_add_test(tc, test_long_run_rate);
	tcase_add_test(tc, test_default_burst);
	suite_add_tcase(s, tc);
	return (s);
}

CHECK_MAIN(tbucket_suite)

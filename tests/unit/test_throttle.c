/*
 * Unit tests for restart throttling (daemon/throttle.c): the backoff of
 * failed starts, start_retries, and restart_limit per restart_period, on
 * an explicit clock.  Backoffs are chosen to be exact in binary floating
 * point; a jitter draw of 0.5 is a factor of exactly 1.
 */
#include <check.h>

#include "check_main.h"
#include <stdint.h>
#include <stdlib.h>

#include "throttle.h"

#define T0	1000000000ULL	/* an arbitrary start time, in us */
#define S	1000000ULL	/* one second, in us */
#define NOJIT	0.5		/* the draw that makes the jitter 1 */

/* The backoff doubles from the second failed start on, up to the max. */
START_TEST(test_backoff_sequence)
{
	struct throttle	 t;

	throttle_init(&t, 0, 10 * S, 5, 0.125, 1.0);
	ck_assert_uint_eq(throttle_backoff_us(&t, 0, NOJIT), 0);
	ck_assert_uint_eq(throttle_backoff_us(&t, 1, NOJIT), 0);
	ck_assert_uint_eq(throttle_backoff_us(&t, 2, NOJIT), 125000);
	ck_assert_uint_eq(throttle_backoff_us(&t, 3, NOJIT), 250000);
	ck_assert_uint_eq(throttle_backoff_us(&t, 4, NOJIT), 500000);
	ck_assert_uint_eq(throttle_backoff_us(&t, 5, NOJIT), 1000000);
	ck_assert_uint_eq(throttle_backoff_us(&t, 6, NOJIT), 1000000);
	ck_assert_uint_eq(throttle_backoff_us(&t, 1000, NOJIT), 1000000);
	throttle_free(&t);
}
END_TEST

/* The jitter is 0.8 to 1.2 times the wait, also at the ceiling. */
START_TEST(test_backoff_jitter)
{
	struct throttle	 t;
	uint64_t	 d;

	throttle_init(&t, 0, 10 * S, 5, 0.25, 0.5);
	d = throttle_backoff_us(&t, 2, 0.0);
	ck_assert(d >= 199999 && d <= 200000);
	d = throttle_backoff_us(&t, 2, 1.0);
	ck_assert(d >= 299999 && d <= 300000);
	d = throttle_backoff_us(&t, 9, 0.0);
	ck_assert(d >= 399999 && d <= 400000);
	d = throttle_backoff_us(&t, 9, 1.0);
	ck_assert(d >= 599999 && d <= 600000);
	/* No jitter makes a wait out of none. */
	ck_assert_uint_eq(throttle_backoff_us(&t, 1, 1.0), 0);
	throttle_free(&t);
}
END_TEST

/* A backoff of 0 (restart_backoff = 0) never waits. */
START_TEST(test_backoff_zero)
{
	struct throttle	 t;

	throttle_init(&t, 0, 10 * S, 5, 0, 5.0);
	ck_assert_uint_eq(throttle_backoff_us(&t, 2, 1.0), 0);
	ck_assert_uint_eq(throttle_backoff_us(&t, 30, 1.0), 0);
	throttle_free(&t);
}
END_TEST

/*
 * start_retries failed starts in a row are retried, with the backoff of
 * their rank; the next one gives up.
 */
START_TEST(test_start_retries)
{
	struct throttle	 t;
	uint64_t	 delay;

	throttle_init(&t, 0, 10 * S, 3, 0.125, 1.0);
	ck_assert_uint_eq(throttle_failed_starts(&t), 0);
	delay = 42;
	ck_assert(!throttle_failed_start(&t, NOJIT, &delay));
	ck_assert_uint_eq(delay, 0);
	ck_assert(!throttle_failed_start(&t, NOJIT, &delay));
	ck_assert_uint_eq(delay, 125000);
	ck_assert(!throttle_failed_start(&t, NOJIT, &delay));
	ck_assert_uint_eq(delay, 250000);
	ck_assert_uint_eq(throttle_failed_starts(&t), 3);
	ck_assert(throttle_failed_start(&t, NOJIT, &delay));
	ck_assert_uint_eq(throttle_failed_starts(&t), 4);
	throttle_free(&t);
}
END_TEST

/* A start that works (a result) starts the count over. */
START_TEST(test_started_resets)
{
	struct throttle	 t;
	uint64_t	 delay;

	throttle_init(&t, 0, 10 * S, 2, 0.125, 1.0);
	ck_assert(!throttle_failed_start(&t, NOJIT, &delay));
	ck_assert(!throttle_failed_start(&t, NOJIT, &delay));
	ck_assert_uint_eq(delay, 125000);
	throttle_started(&t);
	ck_assert_uint_eq(throttle_failed_starts(&t), 0);
	ck_assert(!throttle_failed_start(&t, NOJIT, &delay));
	ck_assert_uint_eq(delay, 0);
	ck_assert(!throttle_failed_start(&t, NOJIT, &delay));
	ck_assert(throttle_failed_start(&t, NOJIT, &delay));
	throttle_free(&t);
}
END_TEST

/* start_retries 0: the first failed start gives up. */
START_TEST(test_start_retries_zero)
{
	struct throttle	 t;
	uint64_t	 delay;

	throttle_init(&t, 0, 10 * S, 0, 0.125, 1.0);
	ck_assert(throttle_failed_start(&t, NOJIT, &delay));
	throttle_free(&t);
}
END_TEST

/* restart_limit restarts within the period pass; the next is over. */
START_TEST(test_limit_exact)
{
	struct throttle	 t;

	throttle_init(&t, 3, 10 * S, 5, 0.01, 5.0);
	ck_assert(!throttle_restart(&t, T0));
	ck_assert(!throttle_restart(&t, T0 + 1 * S));
	ck_assert(!throttle_restart(&t, T0 + 2 * S));
	ck_assert(throttle_restart(&t, T0 + 3 * S));
	throttle_free(&t);
}
END_TEST

/* All at the same instant: still limit + 1. */
START_TEST(test_limit_burst)
{
	struct throttle	 t;
	unsigned	 i;

	throttle_init(&t, 1000, 60 * S, 5, 0.01, 5.0);
	for (i = 0; i < 1000; i++)
		ck_assert(!throttle_restart(&t, T0));
	ck_assert(throttle_restart(&t, T0));
	throttle_free(&t);
}
END_TEST

/*
 * Restarts spread out (limit within exactly one period, never less) are
 * never over the limit; one microsecond closer is.
 */
START_TEST(test_limit_spread)
{
	struct throttle	 t;
	uint64_t	 now = T0;
	unsigned	 i;

	throttle_init(&t, 4, 10 * S, 5, 0.01, 5.0);
	for (i = 0; i < 1000; i++, now += 2500000)
		ck_assert_msg(!throttle_restart(&t, now), "restart %u", i);
	/* The last four were at now - 10 s, -7.5, -5, -2.5. */
	ck_assert(throttle_restart(&t, now - 1));
	throttle_free(&t);
}
END_TEST

/* The period slides: the oldest restart leaves it after period_us. */
START_TEST(test_limit_sliding)
{
	struct throttle	 t;

	throttle_init(&t, 2, 10 * S, 5, 0.01, 5.0);
	ck_assert(!throttle_restart(&t, T0));
	ck_assert(!throttle_restart(&t, T0 + 9 * S));
	ck_assert(throttle_restart(&t, T0 + 10 * S - 1));
	/* T0 is out of the period now; T0 + 9 s is the oldest. */
	ck_assert(!throttle_restart(&t, T0 + 10 * S));
	ck_assert(throttle_restart(&t, T0 + 11 * S));
	ck_assert(!throttle_restart(&t, T0 + 19 * S));
	ck_assert(throttle_restart(&t, T0 + 20 * S - 1));
	ck_assert(!throttle_restart(&t, T0 + 20 * S));
	throttle_free(&t);
}
END_TEST

/* A restart over the limit is not counted: it does not extend the period. */
START_TEST(test_limit_over_not_counted)
{
	struct throttle	 t;

	throttle_init(&t, 1, 10 * S, 5, 0.01, 5.0);
	ck_assert(!throttle_restart(&t, T0));
	ck_assert(throttle_restart(&t, T0 + 5 * S));
	ck_assert(!throttle_restart(&t, T0 + 10 * S));
	throttle_free(&t);
}
END_TEST

/* restart_limit 0 is no limit. */
START_TEST(test_limit_zero)
{
	struct throttle	 t;
	unsigned	 i;

	throttle_init(&t, 0, 10 * S, 5, 0.01, 5.0);
	ck_assert_ptr_null(t.times);
	for (i = 0; i < 100000; i++)
		ck_assert(!throttle_restart(&t, T0 + i));
	throttle_free(&t);
}
END_TEST

/*
 * New settings keep the restarts counted unless the limit changes; a new
 * period applies to the restarts already counted.
 */
START_TEST(test_set)
{
	struct throttle	 t;
	uint64_t	 delay;

	throttle_init(&t, 2, 10 * S, 5, 0.01, 5.0);
	ck_assert(!throttle_restart(&t, T0));
	ck_assert(!throttle_restart(&t, T0 + 1 * S));
	throttle_set(&t, 2, 20 * S, 5, 0.01, 5.0);
	ck_assert(throttle_restart(&t, T0 + 15 * S));
	throttle_set(&t, 2, 10 * S, 5, 0.01, 5.0);
	ck_assert(!throttle_restart(&t, T0 + 15 * S));
	/* A new limit starts the count over. */
	throttle_set(&t, 3, 10 * S, 5, 0.01, 5.0);
	ck_assert(!throttle_restart(&t, T0 + 16 * S));
	ck_assert(!throttle_restart(&t, T0 + 16 * S));
	ck_assert(!throttle_restart(&t, T0 + 16 * S));
	ck_assert(throttle_restart(&t, T0 + 16 * S));
	throttle_set(&t, 0, 10 * S, 5, 0.01, 5.0);
	ck_assert(!throttle_restart(&t, T0 + 16 * S));
	/* Backoff settings and start_retries apply at once; the count stays. */
	ck_assert(!throttle_failed_start(&t, NOJIT, &delay));
	ck_assert(!throttle_failed_start(&t, NOJIT, &delay));
	throttle_set(&t, 0, 10 * S, 2, 0.5, 0.5);
	ck_assert(throttle_failed_start(&t, NOJIT, &delay));
	throttle_set(&t, 0, 10 * S, 5, 0.5, 0.5);
	ck_assert(!throttle_failed_start(&t, NOJIT, &delay));
	ck_assert_uint_eq(delay, 500000);
	throttle_free(&t);
}
END_TEST

static Suite *
throttle_suite(void)
{
	Suite	*s = suite_create("throttle");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_backoff_sequence);
	tcase_add_test(tc, test_backoff_jitter);
	tcase_add_test(tc, test_backoff_zero);
	tcase_add_test(tc, test_start_retries);
	tcase_add_test(tc, test_started_resets);
	tcase_add_test(tc, test_start_retries_zero);
	tcase_add_test(tc, test_limit_exact);
	tcase_add_test(tc, test_limit_burst);
	tcase_add_test(tc, test_limit_spread);
	tcase_add_test(tc, test_limit_sliding);
	tcase_add_test(tc, test_limit_over_not_counted);
	tcase_add_test(tc, test_limit_zero);
	tcase_add_test(tc, test_set);
	suite_add_tcase(s, tc);
	return (s);
}

CHECK_MAIN(throttle_suite)

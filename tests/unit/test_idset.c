/*
 * Unit tests for the open-id set (common/idset.c) that lets drover submit
 * report every job exactly once: ids finish in any order, duplicates and
 * unknown ids are refused, what is left open is walked in id order, and
 * the ring keeps its bits right as it slides and grows.
 */
#include <check.h>

#include "check_main.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "idset.h"

/* Every id still open, in order, must be exactly want[0..n). */
static void
open_are(const struct idset *s, const uint64_t *want, size_t n)
{
	uint64_t	 id = 0;
	size_t		 k = 0;

	while (idset_next_open(s, &id)) {
		ck_assert_msg(k < n, "extra open id %llu",
		    (unsigned long long)id);
		ck_assert_uint_eq(id, want[k]);
		k++;
		id++;
	}
	ck_assert_uint_eq(k, n);
	ck_assert_uint_eq(idset_open(s), n);
}

START_TEST(test_in_order)
{
	struct idset	 s;
	uint64_t	 i;

	idset_init(&s);
	for (i = 0; i < 1000; i++) {
		ck_assert_int_eq(idset_add(&s, i), 0);
		ck_assert(idset_finish(&s, i));
	}
	open_are(&s, NULL, 0);
	/* Stays a few words: the window never grew. */
	ck_assert_uint_le(s.cap, 4);
	idset_free(&s);
}
END_TEST

START_TEST(test_duplicates_and_unknown_are_refused)
{
	struct idset	 s;
	uint64_t	 want[] = { 0, 2 };

	idset_init(&s);
	ck_assert(!idset_finish(&s, 0));	/* nothing added */
	ck_assert_int_eq(idset_add(&s, 0), 0);
	ck_assert_int_eq(idset_add(&s, 1), 0);
	ck_assert_int_eq(idset_add(&s, 2), 0);
	ck_assert_int_eq(idset_add(&s, 2), -1);	/* not increasing */
	ck_assert(idset_finish(&s, 1));
	ck_assert(!idset_finish(&s, 1));	/* twice */
	ck_assert(!idset_finish(&s, 3));	/* never added */
	open_are(&s, want, 2);
	ck_assert(idset_finish(&s, 0));
	ck_assert(!idset_finish(&s, 0));	/* below lo now */
	idset_free(&s);
}
END_TEST

START_TEST(test_gap_is_finished)
{
	struct idset	 s;
	uint64_t	 want[] = { 0, 200 };

	idset_init(&s);
	ck_assert_int_eq(idset_add(&s, 0), 0);
	ck_assert_int_eq(idset_add(&s, 200), 0);
	open_are(&s, want, 2);
	ck_assert(!idset_finish(&s, 100));
	idset_free(&s);
}
END_TEST

/* One stuck id while many others finish: the span grows, bits stay right. */
START_TEST(test_stuck_oldest)
{
	struct idset	 s;
	uint64_t	 i, want[] = { 5, 99999 };

	idset_init(&s);
	for (i = 0; i < 100000; i++)
		ck_assert_int_eq(idset_add(&s, i), 0);
	for (i = 0; i < 100000; i++)
		if (i != 5 && i != 99999)
			ck_assert(idset_finish(&s, i));
	open_are(&s, want, 2);
	ck_assert(idset_finish(&s, 5));
	ck_assert_uint_eq(s.lo, 99999);
	ck_assert(idset_finish(&s, 99999));
	open_are(&s, NULL, 0);
	idset_free(&s);
}
END_TEST

/*
 * What s holds open is what the model (done[id] for the next ids added)
 * has not done: the count, and every id idset_next_open() walks.
 */
static void
open_as_model(const struct idset *s, unsigned char *done, uint64_t next)
{
	uint64_t	 id, k;

	for (id = 0, k = 0; id < next; id++)
		k += !done[id];
	ck_assert_uint_eq(idset_open(s), k);
	id = 0;
	while (idset_next_open(s, &id)) {
		ck_assert(!done[id]);
		done[id++] = 1;
	}
	for (id = 0; id < next; id++)
		ck_assert(done[id]);
}

/*
 * Random order within a sliding window, against a plain array: the ring
 * wraps many times and every answer matches.
 */
START_TEST(test_random_against_model)
{
	struct idset	 s;
	uint64_t	 st = 42, next = 0, id;
	unsigned char	*done;
	size_t		 n = 200000, k;

	done = calloc(n, 1);
	idset_init(&s);
	for (k = 0; k < n * 3; k++) {
		if (next < n && rnd(&st) % 2 == 0) {
			ck_assert_int_eq(idset_add(&s, next), 0);
			next++;
			continue;
		}
		if (next == 0)
			continue;
		/* Mostly recent ids, sometimes anything added so far. */
		id = rnd(&st) % 8 == 0 ? rnd(&st) % next :
		    next - 1 - rnd(&st) % (next < 300 ? next : 300);
		ck_assert_int_eq(idset_finish(&s, id), !done[id]);
		done[id] = 1;
	}
	open_as_model(&s, done, next);
	idset_free(&s);
	free(done);
}
END_TEST

/*
 * idset_add_run() and idset_finish_run() against a plain array: ids
 * added one by one or in runs; runs of 1 to 200 ids finished, mostly
 * recent, some reaching past what was added or over ids already done.  A
 * run all open is finished whole; any other changes nothing, and then
 * each id finishes alone, as a caller does.
 */
START_TEST(test_runs_against_model)
{
	struct idset	 s;
	uint64_t	 st = 7, next = 0, id, len, i, whole = 0, bad = 0;
	unsigned char	*done;
	size_t		 n = 100000, k;
	bool		 all;

	done = calloc(n + 256, 1);
	idset_init(&s);
	/* (Check's assertions cost a write each: counted, then checked.) */
	for (k = 0; k < n * 2; k++) {
		if (next < n && rnd(&st) % 2 == 0) {	/* one by one, a run */
			len = rnd(&st) % 300;
			len = next + len > n ? n - next : len;
			if (rnd(&st) % 2 == 0) {
				bad += idset_add_run(&s, next, len) != 0;
				next += len;
			} else
				for (i = 0; i < len; i++)
					bad += idset_add(&s, next++) != 0;
			continue;
		}
		if (next == 0)
			continue;
		len = 1 + rnd(&st) % 200;
		id = rnd(&st) % 4 == 0 ? rnd(&st) % next :
		    next - 1 - rnd(&st) % (next < 400 ? next : 400);
		for (all = id + len <= next, i = 0; all && i < len; i++)
			all = !done[id + i];
		bad += idset_finish_run(&s, id, len) != all;
		whole += all;
		for (i = 0; i < len; i++) {
			if (!all)
				bad += idset_finish(&s, id + i) !=
				    (id + i < next && !done[id + i]);
			if (id + i < next)
				done[id + i] = 1;
		}
	}
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_gt(whole, 300);	/* both ways taken */
	open_as_model(&s, done, next);
	idset_free(&s);
	free(done);
}
END_TEST

/*
 * The oldest id finishes last, after 300 others: the window slides over
 * whole words at once, and the ring's words it leaves are clear for the
 * ids that come next (they are open, not finished by stale bits).
 */
START_TEST(test_slide_over_whole_words)
{
	struct idset	 s;
	uint64_t	 i, want[64];

	idset_init(&s);
	for (i = 5; i < 305; i++) {
		ck_assert_int_eq(idset_add(&s, i), 0);
		if (i != 5)
			ck_assert(idset_finish(&s, i));
	}
	ck_assert(idset_finish(&s, 5));
	open_are(&s, NULL, 0);
	ck_assert_uint_eq(s.lo, 305);
	for (i = 0; i < 64; i++) {
		want[i] = 305 + i * 7;
		ck_assert_int_eq(idset_add(&s, want[i]), 0);
	}
	open_are(&s, want, 64);
	for (i = 0; i < 64; i++)
		ck_assert(idset_finish(&s, want[i]));
	open_are(&s, NULL, 0);
	ck_assert(!idset_finish(&s, want[63]));
	idset_free(&s);
}
END_TEST

/* Everything finished mid-word, then a restart far away. */
START_TEST(test_restart_after_empty)
{
	struct idset	 s;
	uint64_t	 i, want[] = { 1000 };

	idset_init(&s);
	for (i = 0; i < 70; i++)
		ck_assert_int_eq(idset_add(&s, i), 0);
	for (i = 70; i-- > 0;)
		ck_assert(idset_finish(&s, i));
	ck_assert_int_eq(idset_add(&s, 1000), 0);
	open_are(&s, want, 1);
	ck_assert_int_eq(idset_add(&s, 1001), 0);
	ck_assert(idset_finish(&s, 1001));
	open_are(&s, want, 1);
	idset_free(&s);
}
END_TEST

static Suite *
idset_suite(void)
{
	Suite	*s = suite_create("idset");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_in_order);
	tcase_add_test(tc, test_duplicates_and_unknown_are_refused);
	tcase_add_test(tc, test_gap_is_finished);
	tcase_add_test(tc, test_stuck_oldest);
	tcase_add_test(tc, test_random_against_model);
	tcase_add_test(tc, test_runs_against_model);
	tcase_add_test(tc, test_restart_after_empty);
	tcase_add_test(tc, test_slide_over_whole_words);
	suite_add_tcase(s, tc);
	return (s);
}

CHECK_MAIN(idset_suite)

/*
 * Unit tests for the --ordered reorder buffer (common/reorder.c): records put
 * in completion order come out in sequence order, the admission window is
 * enforced, and the held/bytes accounting that bounds memory stays right.
 */
#include <check.h>

#include "check_main.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reorder.h"

/* Put seq with payload s (and tag); it must be accepted. */
static void
put_ok(struct reorder *r, uint64_t seq, int tag, const char *s)
{
	ck_assert_msg(reorder_put(r, seq, tag, s, strlen(s)) == 0,
	    "put %llu refused", (unsigned long long)seq);
}

/* Pop the next record; it must be there, with this tag and payload. */
static void
pop_is(struct reorder *r, int want_tag, const char *want)
{
	const char	*data = NULL;
	size_t		 len = 0;
	int		 tag = -1;

	ck_assert_msg(reorder_pop(r, &tag, &data, &len),
	    "nothing to pop at %llu", (unsigned long long)reorder_next(r));
	ck_assert_int_eq(tag, want_tag);
	ck_assert_uint_eq(len, strlen(want));
	ck_assert_mem_eq(data, want, len);
}

/* Nothing may be popped now. */
static void
pop_none(struct reorder *r)
{
	const char	*data = NULL;
	size_t		 len = 99;
	int		 tag = -1;

	ck_assert(!reorder_pop(r, &tag, &data, &len));
	ck_assert_int_eq(tag, -1);
	ck_assert_ptr_null(data);
	ck_assert_uint_eq(len, 99);
}

/* A new buffer is empty, at sequence 0. */
START_TEST(test_empty)
{
	struct reorder	*r;

	r = reorder_new(4);
	ck_assert_uint_eq(reorder_next(r), 0);
	ck_assert_uint_eq(reorder_limit(r), 4);
	ck_assert_uint_eq(reorder_held(r), 0);
	ck_assert_uint_eq(reorder_bytes(r), 0);
	pop_none(r);
	reorder_free(r);
	reorder_free(NULL);
}
END_TEST

/* Out-of-order puts come out in order. */
START_TEST(test_in_order)
{
	struct reorder	*r;

	r = reorder_new(4);
	put_ok(r, 2, 1, "two");
	pop_none(r);
	put_ok(r, 1, 0, "one");
	pop_none(r);
	put_ok(r, 3, 1, "three");
	pop_none(r);
	ck_assert_uint_eq(reorder_held(r), 3);
	ck_assert_uint_eq(reorder_bytes(r), 11);
	put_ok(r, 0, 0, "zero");
	pop_is(r, 0, "zero");
	pop_is(r, 0, "one");
	pop_is(r, 1, "two");
	pop_is(r, 1, "three");
	pop_none(r);
	ck_assert_uint_eq(reorder_next(r), 4);
	ck_assert_uint_eq(reorder_limit(r), 8);
	ck_assert_uint_eq(reorder_held(r), 0);
	ck_assert_uint_eq(reorder_bytes(r), 0);
	reorder_free(r);
}
END_TEST

/* Pop returns false until the next sequence number arrives. */
START_TEST(test_pop_waits)
{
	struct reorder	*r;

	r = reorder_new(8);
	put_ok(r, 0, 0, "a");
	put_ok(r, 2, 0, "c");
	pop_is(r, 0, "a");
	pop_none(r);
	pop_none(r);
	ck_assert_uint_eq(reorder_next(r), 1);
	put_ok(r, 1, 0, "b");
	pop_is(r, 0, "b");
	pop_is(r, 0, "c");
	pop_none(r);
	reorder_free(r);
}
END_TEST

/* Duplicates, emitted and out-of-window sequence numbers are refused. */
START_TEST(test_rejects)
{
	struct reorder	*r;

	r = reorder_new(4);
	put_ok(r, 1, 0, "x");
	/* A duplicate, even with other data, is refused and changes nothing. */
	ck_assert_int_eq(reorder_put(r, 1, 5, "yy", 2), -1);
	ck_assert_uint_eq(reorder_held(r), 1);
	ck_assert_uint_eq(reorder_bytes(r), 1);
	/* Outside [next, next + cap). */
	ck_assert_int_eq(reorder_put(r, 4, 0, "z", 1), -1);
	ck_assert_int_eq(reorder_put(r, 5, 0, "z", 1), -1);
	ck_assert_int_eq(reorder_put(r, UINT64_MAX, 0, "z", 1), -1);
	put_ok(r, 3, 0, "w");
	put_ok(r, 0, 0, "v");
	pop_is(r, 0, "v");
	pop_is(r, 0, "x");
	/* Already emitted. */
	ck_assert_int_eq(reorder_put(r, 0, 0, "again", 5), -1);
	ck_assert_int_eq(reorder_put(r, 1, 0, "again", 5), -1);
	/* The window moved: 4 and 5 fit now, 6 does not. */
	ck_assert_uint_eq(reorder_limit(r), 6);
	put_ok(r, 4, 0, "u");
	put_ok(r, 5, 0, "t");
	ck_assert_int_eq(reorder_put(r, 6, 0, "s", 1), -1);
	ck_assert_int_eq(reorder_put(r, 3, 0, "dup", 3), -1);
	ck_assert_uint_eq(reorder_held(r), 3);
	ck_assert_uint_eq(reorder_bytes(r), 3);
	pop_none(r);
	put_ok(r, 2, 0, "r");
	pop_is(r, 0, "r");
	pop_is(r, 0, "w");
	pop_is(r, 0, "u");
	pop_is(r, 0, "t");
	pop_none(r);
	reorder_free(r);
}
END_TEST

/* reorder_limit() moves up as records are popped. */
START_TEST(test_limit_moves)
{
	struct reorder	*r;
	uint64_t	 i;
	char		 s[32];

	r = reorder_new(3);
	for (i = 0; i < 100; i++) {
		ck_assert_uint_eq(reorder_next(r), i);
		ck_assert_uint_eq(reorder_limit(r), i + 3);
		snprintf(s, sizeof(s), "%llu", (unsigned long long)i);
		put_ok(r, i, (int)i, s);
		ck_assert_uint_eq(reorder_limit(r), i + 3);
		pop_is(r, (int)i, s);
	}
	ck_assert_uint_eq(reorder_limit(r), 103);
	reorder_free(r);
}
END_TEST

/* held and bytes follow puts and pops. */
START_TEST(test_accounting)
{
	struct reorder	*r;

	r = reorder_new(10);
	put_ok(r, 3, 0, "12345");
	put_ok(r, 1, 0, "123");
	ck_assert_int_eq(reorder_put(r, 2, 0, NULL, 0), 0);
	ck_assert_uint_eq(reorder_held(r), 3);
	ck_assert_uint_eq(reorder_bytes(r), 8);
	put_ok(r, 0, 0, "1234567");
	ck_assert_uint_eq(reorder_held(r), 4);
	ck_assert_uint_eq(reorder_bytes(r), 15);
	pop_is(r, 0, "1234567");
	ck_assert_uint_eq(reorder_held(r), 3);
	ck_assert_uint_eq(reorder_bytes(r), 8);
	pop_is(r, 0, "123");
	ck_assert_uint_eq(reorder_bytes(r), 5);
	pop_is(r, 0, "");
	ck_assert_uint_eq(reorder_held(r), 1);
	ck_assert_uint_eq(reorder_bytes(r), 5);
	pop_is(r, 0, "12345");
	ck_assert_uint_eq(reorder_held(r), 0);
	ck_assert_uint_eq(reorder_bytes(r), 0);
	/* Records still held are freed with the buffer. */
	put_ok(r, 5, 0, "left behind");
	put_ok(r, 6, 0, "also");
	reorder_free(r);
}
END_TEST

/* Records are copied on put. */
START_TEST(test_copies_data)
{
	struct reorder	*r;
	char		 s[8];

	r = reorder_new(2);
	strcpy(s, "abc");
	put_ok(r, 0, 7, s);
	strcpy(s, "XYZ");
	put_ok(r, 1, 8, s);
	memset(s, 0, sizeof(s));
	pop_is(r, 7, "abc");
	pop_is(r, 8, "XYZ");
	reorder_free(r);
}
END_TEST

/* A capacity of 0 behaves as 1. */
START_TEST(test_cap_zero)
{
	struct reorder	*r;

	r = reorder_new(0);
	ck_assert_uint_eq(reorder_limit(r), 1);
	ck_assert_int_eq(reorder_put(r, 1, 0, "b", 1), -1);
	put_ok(r, 0, 0, "a");
	pop_is(r, 0, "a");
	put_ok(r, 1, 0, "b");
	pop_is(r, 0, "b");
	reorder_free(r);
}
END_TEST

/* A random permutation of 10000 records comes out sorted. */
START_TEST(test_permutation_10000)
{
	const uint64_t	 n = 10000;
	struct reorder	*r;
	uint64_t	*perm, i, j, t, st = 12345, expect = 0;
	const char	*data;
	size_t		 len, held_max = 0;
	char		 s[32];
	int		 tag;

	perm = calloc(n, sizeof(*perm));
	ck_assert_ptr_nonnull(perm);
	for (i = 0; i < n; i++)
		perm[i] = i;
	for (i = n - 1; i > 0; i--) {
		j = rnd(&st) % (i + 1);
		t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	r = reorder_new(n);
	for (i = 0; i < n; i++) {
		snprintf(s, sizeof(s), "record %llu",
		    (unsigned long long)perm[i]);
		put_ok(r, perm[i], (int)(perm[i] % 3), s);
		if (reorder_held(r) > held_max)
			held_max = reorder_held(r);
		while (reorder_pop(r, &tag, &data, &len)) {
			snprintf(s, sizeof(s), "record %llu",
			    (unsigned long long)expect);
			ck_assert_int_eq(tag, (int)(expect % 3));
			ck_assert_uint_eq(len, strlen(s));
			ck_assert_mem_eq(data, s, len);
			expect++;
		}
	}
	ck_assert_uint_eq(expect, n);
	ck_assert_uint_eq(reorder_next(r), n);
	ck_assert_uint_eq(reorder_held(r), 0);
	ck_assert_uint_eq(reorder_bytes(r), 0);
	ck_assert_uint_gt(held_max, 1);
	reorder_free(r);
	free(perm);
}
END_TEST

/* Jobs submitted below the limit finishing at random never stall. */
START_TEST(test_window_simulation)
{
	const uint64_t	 n = 20000, cap = 64;
	struct reorder	*r;
	uint64_t	 pending[64], st = 777, submitted = 0, expect = 0;
	size_t		 npend = 0, k;
	const char	*data;
	size_t		 len;
	char		 s[32];
	int		 tag;

	/*
	 * Jobs are submitted while below reorder_limit() and finish in a
	 * random order: the buffer never refuses one, never holds more than
	 * cap, and everything comes out in order.
	 */
	r = reorder_new(cap);
	while (expect < n) {
		while (submitted < n && submitted < reorder_limit(r) &&
		    npend < cap)
			pending[npend++] = submitted++;
		ck_assert_uint_gt(npend, 0);
		k = (size_t)(rnd(&st) % npend);
		snprintf(s, sizeof(s), "%llu",
		    (unsigned long long)pending[k] * 7);
		put_ok(r, pending[k], 1, s);
		pending[k] = pending[--npend];
		ck_assert_uint_le(reorder_held(r), cap);
		while (reorder_pop(r, &tag, &data, &len)) {
			snprintf(s, sizeof(s), "%llu",
			    (unsigned long long)expect * 7);
			ck_assert_uint_eq(len, strlen(s));
			ck_assert_mem_eq(data, s, len);
			expect++;
		}
	}
	ck_assert_uint_eq(reorder_next(r), n);
	ck_assert_uint_eq(reorder_held(r), 0);
	reorder_free(r);
}
END_TEST

static Suite *
reorder_suite(void)
{
	Suite	*s = suite_create("reorder");
	TCase	*tc;

	tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_in_order);
	tcase_add_test(tc, test_pop_waits);
	tcase_add_test(tc, test_rejects);
	tcase_add_test(tc, test_limit_moves);
	tcase_add_test(tc, test_accounting);
	tcase_add_test(tc, test_copies_data);
	tcase_add_test(tc, test_cap_zero);
	tcase_add_test(tc, test_permutation_10000);
	tcase_add_test(tc, test_window_simulation);
	suite_add_tcase(s, tc);
	return (s);
}

CHECK_MAIN(reorder_suite)

/*
 * Unit tests for the queue of unacknowledged jobs of a durable batch
 * (cli/unacked.c): what it holds is the JOB messages as sent, in id order,
 * trimmed by an ACCEPTED's id however the ids are spaced, and its memory
 * stays bounded by what it holds as it slides and grows.
 */
#include <check.h>

#include "check_main.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "frame.h"
#include "unacked.h"

/* The ids of the messages held, and that each is a JOB with its bytes. */
static size_t
held_ids(const struct unacked *q, uint64_t *ids, size_t max)
{
	const char	*p = unacked_data(q);
	size_t		 left = unacked_bytes(q), n = 0;
	struct frame_hdr h;
	char		 want[32];

	while (left != 0) {
		ck_assert_uint_ge(left, FRAME_HDRLEN);
		frame_decode(p, &h);
		ck_assert_uint_eq(h.type, CTL_JOB);
		ck_assert_uint_ge(left - FRAME_HDRLEN, h.len);
		snprintf(want, sizeof(want), "job %llu",
		    (unsigned long long)h.id);
		ck_assert_uint_eq(h.len, strlen(want));
		ck_assert(memcmp(p + FRAME_HDRLEN, want, h.len) == 0);
		ck_assert_uint_lt(n, max);
		ids[n++] = h.id;
		p += FRAME_HDRLEN + h.len;
		left -= FRAME_HDRLEN + h.len;
	}
	ck_assert_uint_eq(n, unacked_count(q));
	return (n);
}

static void
put(struct unacked *q, uint64_t id)
{
	char		 job[32];
	const char	*msg;
	size_t		 size;
	struct frame_hdr h;

	snprintf(job, sizeof(job), "job %llu", (unsigned long long)id);
	msg = unacked_put(q, id, job, strlen(job), &size);
	ck_assert_uint_eq(size, FRAME_HDRLEN + strlen(job));
	frame_decode(msg, &h);
	ck_assert_uint_eq(h.id, id);
}

START_TEST(test_trim_by_id)
{
	struct unacked	 q;
	uint64_t	 ids[16];
	uint64_t	 all[] = { 0, 1, 3, 4, 7, 9 };	/* 2, 5, 6, 8: never */
	size_t		 i;

	unacked_init(&q);
	ck_assert_uint_eq(unacked_bytes(&q), 0);
	for (i = 0; i < 6; i++)
		put(&q, all[i]);
	ck_assert_uint_eq(held_ids(&q, ids, 16), 6);
	unacked_trim(&q, 2);			/* an id not held */
	ck_assert_uint_eq(held_ids(&q, ids, 16), 4);
	ck_assert_uint_eq(ids[0], 3);
	unacked_trim(&q, 2);			/* again: nothing more */
	ck_assert_uint_eq(unacked_count(&q), 4);
	unacked_trim(&q, 7);
	ck_assert_uint_eq(held_ids(&q, ids, 16), 1);
	ck_assert_uint_eq(ids[0], 9);
	unacked_trim(&q, UINT64_MAX);
	ck_assert_uint_eq(unacked_count(&q), 0);
	ck_assert_uint_eq(unacked_bytes(&q), 0);
	put(&q, 10);				/* empty, then on */
	ck_assert_uint_eq(held_ids(&q, ids, 16), 1);
	unacked_free(&q);
}
END_TEST

/*
 * A sliding window, trimmed a few at a time as ACCEPTEDs come: what is
 * held is always exactly the window, and the region stays within a small
 * multiple of it (it slides instead of growing).
 */
START_TEST(test_slides_without_growing)
{
	struct unacked	 q;
	static uint64_t	 ids[2000];
	uint64_t	 id, lo = 0, k;
	size_t		 n, maxbytes = 0;

	unacked_init(&q);
	for (id = 0; id < 200000; id++) {
		put(&q, id);
		if (id - lo >= 1000) {
			lo += 7;
			unacked_trim(&q, lo - 1);
		}
		if (unacked_bytes(&q) > maxbytes)
			maxbytes = unacked_bytes(&q);
		if (id % 9973 == 0) {
			n = held_ids(&q, ids, 2000);
			for (k = 0; k < n; k++)
				ck_assert_uint_eq(ids[k], lo + k);
			ck_assert_uint_eq(ids[n - 1], id);
		}
	}
	ck_assert_uint_le(q.cap, 4 * maxbytes + 64 * 1024);
	unacked_free(&q);
}
END_TEST

/* Large jobs, an empty one, and memory given back once it is empty. */
START_TEST(test_large_and_empty_jobs)
{
	struct unacked	 q;
	static char	 big[3 * 1024 * 1024];
	size_t		 size, i;
	struct frame_hdr h;

	unacked_init(&q);
	memset(big, 'x', sizeof(big));
	for (i = 0; i < 4; i++)
		(void)unacked_put(&q, i, big, sizeof(big), &size);
	(void)unacked_put(&q, 4, "", 0, &size);
	ck_assert_uint_eq(size, FRAME_HDRLEN);
	ck_assert_uint_eq(unacked_count(&q), 5);
	ck_assert_uint_eq(unacked_bytes(&q), 4 * (FRAME_HDRLEN + sizeof(big)) +
	    FRAME_HDRLEN);
	unacked_trim(&q, 3);
	ck_assert_uint_eq(unacked_count(&q), 1);
	frame_decode(unacked_data(&q), &h);
	ck_assert_uint_eq(h.id, 4);
	ck_assert_uint_eq(h.len, 0);
	unacked_trim(&q, 4);
	ck_assert_ptr_null(q.data);		/* over 4 MiB: given back */
	unacked_free(&q);
}
END_TEST

static Suite *
unacked_suite(void)
{
	Suite	*s = suite_create("unacked");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_trim_by_id);
	tcase_add_test(tc, test_slides_without_growing);
	tcase_add_test(tc, test_large_and_empty_jobs);
	suite_add_tcase(s, tc);
	return (s);
}

CHECK_MAIN(unacked_suite)

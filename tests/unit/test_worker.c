/*
 * Unit tests for the worker state machine (daemon/worker.c): the table of
 * transitions is a pure function, so it is checked here whole, against the
 * arrows drawn in daemon/worker.h.  The integration tests drive the real
 * transitions (crashes, hangs, recycling, EOF before and after exit).
 */
#include <check.h>

#include "check_main.h"
#include <stdbool.h>
#include <string.h>

#include "worker.h"

#define NSTATES	(WS_DEAD + 1)

/* The arrows of worker.h, written out once more by hand. */
static const bool want[NSTATES][NSTATES] = {
	[WS_STARTING] = { [WS_READY] = true, [WS_RETIRING] = true,
	    [WS_STOPPING] = true, [WS_EXITED] = true },
	[WS_READY] = { [WS_RETIRING] = true, [WS_STOPPING] = true,
	    [WS_EXITED] = true },
	[WS_RETIRING] = { [WS_STOPPING] = true, [WS_EXITED] = true },
	[WS_STOPPING] = { [WS_EXITED] = true },
	[WS_EXITED] = { [WS_DEAD] = true },
};

/* Every pair of states: allowed exactly when worker.h draws the arrow. */
START_TEST(test_table_is_the_drawing)
{
	int	 from, to;

	for (from = 0; from < NSTATES; from++)
		for (to = 0; to < NSTATES; to++)
			ck_assert_msg(worker_transition_ok(from, to) ==
			    want[from][to], "%s -> %s",
			    worker_state_name(from), worker_state_name(to));
}
END_TEST

/* No state goes back to itself or to STARTING; DEAD goes nowhere. */
START_TEST(test_no_way_back)
{
	int	 st;

	for (st = 0; st < NSTATES; st++) {
		ck_assert(!worker_transition_ok(st, st));
		ck_assert(!worker_transition_ok(st, WS_STARTING));
		ck_assert(!worker_transition_ok(WS_DEAD, st));
	}
}
END_TEST

/*
 * DEAD is reached only through EXITED (the exit status is always in), and
 * every other state can reach DEAD: no worker is stuck alive by the table.
 */
START_TEST(test_every_state_ends)
{
	bool	 reach[NSTATES];
	int	 st, from, to, round;

	for (st = 0; st < NSTATES; st++)
		if (st != WS_EXITED)
			ck_assert(!worker_transition_ok(st, WS_DEAD));
	for (st = 0; st < WS_DEAD; st++) {
		memset(reach, 0, sizeof(reach));
		reach[st] = true;
		for (round = 0; round < NSTATES; round++)
			for (from = 0; from < NSTATES; from++)
				for (to = 0; to < NSTATES; to++)
					if (reach[from] &&
					    worker_transition_ok(from, to))
						reach[to] = true;
		ck_assert_msg(reach[WS_DEAD], "%s never ends",
		    worker_state_name(st));
	}
}
END_TEST

/* Values outside the enum are no state at all. */
START_TEST(test_out_of_range)
{
	ck_assert(!worker_transition_ok(NSTATES, WS_DEAD));
	ck_assert(!worker_transition_ok(WS_STARTING, NSTATES));
	ck_assert(!worker_transition_ok((enum worker_state)-1, WS_READY));
}
END_TEST

/* The names status and metrics show. */
START_TEST(test_names)
{
	ck_assert_str_eq(worker_state_name(WS_STARTING), "starting");
	ck_assert_str_eq(worker_state_name(WS_READY), "ready");
	ck_assert_str_eq(worker_state_name(WS_RETIRING), "retiring");
	ck_assert_str_eq(worker_state_name(WS_STOPPING), "stopping");
	ck_assert_str_eq(worker_state_name(WS_EXITED), "exited");
	ck_assert_str_eq(worker_state_name(WS_DEAD), "dead");
}
END_TEST

static Suite *
worker_suite(void)
{
	Suite	*s = suite_create("worker");
	TCase	*tc = tcase_create("states");

	tcase_add_test(tc, test_table_is_the_drawing);
	tcase_add_test(tc, test_no_way_back);
	tcase_add_test(tc, test_every_state_ends);
	tcase_add_test(tc, test_out_of_range);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);
	return (s);
}

CHECK_MAIN(worker_suite)

/*
 * What every Check suite shares: its main() (run one suite, forked per
 * test, CK_ENV verbosity; exit non-zero if any test failed) and a small
 * deterministic random generator for randomized cases.
 */
#ifndef DROVER_CHECK_MAIN_H
#define DROVER_CHECK_MAIN_H

#include <stdint.h>
#include <stdlib.h>

#include <check.h>

/* A tiny deterministic generator (splitmix64). */
static inline uint64_t
rnd(uint64_t *state)
{
	uint64_t	 z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31));
}

#define CHECK_MAIN(suite_fn)						\
int									\
main(void)								\
{									\
	SRunner	*sr;							\
	int	 failed;						\
									\
	sr = srunner_create(suite_fn());				\
	srunner_run_all(sr, CK_ENV);					\
	failed = srunner_ntests_failed(sr);				\
	srunner_free(sr);						\
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);		\
}

#endif

/*
 * The main() of every Check suite: run one suite (forked per test, CK_ENV
 * verbosity) and exit non-zero if any test failed.
 */
#ifndef DROVER_CHECK_MAIN_H
#define DROVER_CHECK_MAIN_H

#include <stdlib.h>

#include <check.h>

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

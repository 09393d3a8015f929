/*
 * sleep: sleep for the job's number of milliseconds, then answer it back
 * (so that the sum is the total time slept).  For demos and load tests.
 */
#include <errno.h>
#include <time.h>

#include "handlers.h"
#include "num.h"

#define SLEEP_MAX_MS	(24LL * 3600 * 1000)

static int
sleep_init(int argc, char **argv)
{
	(void)argv;
	return (argc == 0 ? 0 : -1);
}

static void
sleep_run(struct dw *dw, const struct dw_job *job)
{
	int64_t		 ms;
	struct timespec	 ts;
	char		 why[128];

	if (num_parse_i64(job->data, job->len, &ms) == -1 || ms < 0 ||
	    ms > SLEEP_MAX_MS) {
		handler_quote(why, sizeof(why), job->data, job->len);
		dw_failf(dw, job, "not a number of milliseconds (0 to %lld): "
		    "%s", SLEEP_MAX_MS, why);
		return;
	}
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	dw_reply(dw, job, job->data, job->len);
}

const struct handler handler_sleep = {
	.name = "sleep",
	.usage = "sleep",
	.init = sleep_init,
	.run = sleep_run,
	.flush = true,
};

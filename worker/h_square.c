/*
 * square: an integer in, its square out.  Inputs are 64-bit; the square is
 * computed in 128 bits, so it is always exact, and answered as a number
 * (dw_reply_int128()): in binary to a supervisor that takes typed results,
 * else in decimal.
 */
#include "handlers.h"
#include "num.h"

static int
square_init(int argc, char **argv)
{
	(void)argv;
	return (argc == 0 ? 0 : -1);
}

static void
square_run(struct dw *dw, const struct dw_job *job)
{
	int64_t	 v;
	i128	 sq;
	char	 why[128];

	if (num_parse_i64_pad(job->data, job->len, &v) == -1) {
		handler_quote(why, sizeof(why), job->data, job->len);
		dw_failf(dw, job, "%s: %s", num_parse_i128(job->data,
		    job->len, &sq) == 0 ? "integer out of 64-bit range" :
		    "not an integer", why);
		return;
	}
	sq = (i128)v * v;
	dw_reply_int128(dw, job, sq);
}

const struct handler handler_square = {
	.name = "square",
	.usage = "square",
	.init = square_init,
	.run = square_run,
	.flush = false,
	.caps = DW_CAP_RESULT_TYPED | DW_CAP_JOB_BATCH | DW_CAP_RESULT_BATCH,
};

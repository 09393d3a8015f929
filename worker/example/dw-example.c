/*
 * dw-example: a custom frame-protocol worker built on libdrover-worker.
 * For each job (any bytes) it answers with its number of words, so that the
 * summary's sum is the word count of the input; empty jobs fail.  Built
 * outside this tree against an installed libdrover-worker:
 *
 *	cc -o dw-example dw-example.c \
 *	    $(pkg-config --cflags --libs drover-worker)
 *	drover run -w 4 --protocol frame --worker ./dw-example < docs.txt
 */
#include <ctype.h>
#include <stdio.h>

#include <drover/worker.h>

int
main(void)
{
	struct dw	*dw;
	struct dw_job	 job;
	char		 out[64];
	size_t		 i, words;
	int		 rv, inword, n;

	if ((dw = dw_open("dw-example 1")) == NULL) {
		perror("dw-example: dw_open");
		return (DW_EXIT_NORESPAWN);
	}
	while ((rv = dw_next(dw, &job)) == 1) {
		if (job.len == 0) {
			dw_fail(dw, &job, "empty job");
			continue;
		}
		words = 0;
		inword = 0;
		for (i = 0; i < job.len; i++) {
			if (isspace((unsigned char)job.data[i]))
				inword = 0;
			else if (!inword) {
				inword = 1;
				words++;
			}
		}
		n = snprintf(out, sizeof(out), "%zu", words);
		dw_reply(dw, &job, out, (size_t)n);
	}
	if (rv == -1)
		fprintf(stderr, "dw-example: %s\n", dw_error(dw));
	dw_close(dw);
	return (rv == -1 ? 1 : 0);
}

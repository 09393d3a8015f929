/*
 * The aggregate of a batch: counts by status, jobs retried, an exact sum of
 * integer outputs (128 bits), a compensated sum of other numbers, min, max,
 * mean, and a latency histogram.  Formats the summary line and object.
 */
#ifndef DROVER_AGG_H
#define DROVER_AGG_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "hist.h"
#include "num.h"
#include "status.h"

struct agg {
	uint64_t	jobs;
	uint64_t	status[JOB_NSTATUS];
	uint64_t	retried;	/* jobs that ran more than once */
	uint64_t	restarts;	/* set by the owner before printing */
	uint64_t	nint;		/* outputs summed as integers */
	uint64_t	ndbl;		/* outputs summed as doubles */
	i128		isum;
	i128		imin;
	i128		imax;
	double		dsum;		/* Neumaier sum and its compensation */
	double		dcomp;
	double		dmin;
	double		dmax;
	struct hist	lat;
};

void	agg_init(struct agg *);
void	agg_job(struct agg *, enum job_status, unsigned, const char *,
	    size_t);
void	agg_latency(struct agg *, uint64_t);
void	agg_number(struct agg *, const char *, size_t);
void	agg_job_value(struct agg *, unsigned, const struct num_value *);
void	agg_value(struct agg *, const struct num_value *);
void	agg_run(struct agg *, const char *, size_t, enum num_kind, size_t);
void	agg_sums(struct agg *, uint64_t, i128, i128, i128, uint64_t);
void	agg_merge(struct agg *, const struct agg *);
uint64_t agg_failed(const struct agg *);
bool	agg_has_numbers(const struct agg *);
bool	agg_sum_finite(const struct agg *);
void	agg_fmt_sum(const struct agg *, struct buf *);
void	agg_fmt_min(const struct agg *, struct buf *);
void	agg_fmt_max(const struct agg *, struct buf *);
void	agg_fmt_mean(const struct agg *, struct buf *);
void	agg_summary_text(const struct agg *, double, struct buf *);
void	agg_summary_json(const struct agg *, double, struct buf *);

#endif

/*
 * Aggregation of job results (drover(1), OUTPUT): integer outputs are
 * summed exactly in 128 bits (the sum of squares of 1..10^7 needs 69 bits);
 * other decimal numbers go into a Neumaier-compensated double sum; anything
 * else is only counted.  Should the 128-bit sum ever overflow, it folds into
 * the double sum and the totals are reported as doubles from then on.
 */
#include <endian.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "agg.h"

void
agg_init(struct agg *a)
{
	memset(a, 0, sizeof(*a));
	hist_init(&a->lat);
}

/* Add x to the compensated double sum (plain once it is not finite). */
static void
agg_dadd(struct agg *a, double x)
{
	double	 t = a->dsum + x;

	if (!isfinite(t)) {
		a->dsum = t;
		return;
	}
	if (fabs(a->dsum) >= fabs(x))
		a->dcomp += (a->dsum - t) + x;
	else
		a->dcomp += (x - t) + a->dsum;
	a->dsum = t;
}

/*
 * Count n integer outputs that sum to s, lo and hi the least and the
 * greatest; fold into doubles on 128-bit overflow.
 */
static void
agg_ints(struct agg *a, i128 lo, i128 hi, uint64_t n, i128 s)
{
	i128	 t;

	if (a->nint == 0 || lo < a->imin)
		a->imin = lo;
	if (a->nint == 0 || hi > a->imax)
		a->imax = hi;
	a->nint += n;
	if (__builtin_add_overflow(a->isum, s, &t)) {
		agg_dadd(a, (double)a->isum);
		agg_dadd(a, (double)s);
		a->isum = 0;
		return;
	}
	a->isum = t;
}

/* Count an integer output. */
static void
agg_iadd(struct agg *a, i128 v)
{
	agg_ints(a, v, v, 1, v);
}

/* Count a non-integer numeric output. */
static void
agg_dbl(struct agg *a, double v)
{
	if (a->ndbl == 0 || v < a->dmin)
		a->dmin = v;
	if (a->ndbl == 0 || v > a->dmax)
		a->dmax = v;
	a->ndbl++;
	agg_dadd(a, v);
}

/* Fold an ok job's output into the numeric aggregate if it is a number. */
void
agg_number(struct agg *a, const char *out, size_t len)
{
	i128	 iv;
	double	 dv;

	if (num_parse_i128(out, len, &iv) == 0)
		agg_iadd(a, iv);
	else if (num_parse_double(out, len, &dv) == 0)
		agg_dbl(a, dv);
}

/*
 * Fold a typed result's number into the aggregate as its text
 * (num_fmt_value()) would be by agg_number(), without the text: an
 * integer as an integer; a double as a double, unless its text has no
 * point and no exponent, which reads as an integer.  That is an integral
 * value below 10^15 (printed with 15 digits at most), or below 10^17 when
 * 16 or 17 digits are needed to read back; the rare second kind goes
 * through the text, and so does a subnormal (strtod() calls its text out
 * of range).  inf and nan, which are not numbers as text, are not
 * counted.
 */
void
agg_value(struct agg *a, const struct num_value *v)
{
	char	 tmp[NUM_VALUE_STRLEN];
	double	 d = v->d;

	if (v->kind == NUM_INT) {
		agg_iadd(a, v->i);
		return;
	}
	if (v->kind != NUM_DOUBLE || !isfinite(d))
		return;
	if (d == trunc(d) && fabs(d) < 1e15)
		agg_iadd(a, (i128)(int64_t)d);
	else if (fabs(d) >= 1e17 || (d != trunc(d) && fabs(d) >= DBL_MIN))
		agg_dbl(a, d);
	else
		agg_number(a, tmp, num_fmt_value(tmp, v));
}

/* Count one ok job whose worker sent its output as a number (typed). */
void
agg_job_value(struct agg *a, unsigned runs, const struct num_value *v)
{
	a->jobs++;
	a->status[JOB_OK]++;
	if (runs > 1)
		a->retried++;
	agg_value(a, v);
}

/*
 * n ok jobs whose typed outputs are 8-byte little-endian values of one kind
 * (vals), retried of them dispatched more than once: what n
 * agg_job_value() calls count, with the integers summed in one pass.
 */
void
agg_run(struct agg *a, const char *vals, size_t n, enum num_kind kind,
    size_t retried)
{
	struct num_value v;
	uint64_t	 u;
	int64_t		 x, lo, hi;
	i128		 s = 0;
	size_t		 i;

	if (n == 0)
		return;
	a->jobs += n;
	a->status[JOB_OK] += n;
	a->retried += retried;
	if (kind != NUM_INT) {
		v.kind = kind;
		for (i = 0; i < n; i++) {
			memcpy(&u, vals + i * 8, 8);
			u = le64toh(u);
			memcpy(&v.d, &u, 8);
			agg_value(a, &v);
		}
		return;
	}
	memcpy(&u, vals, 8);
	lo = hi = (int64_t)le64toh(u);
	for (i = 0; i < n; i++) {	/* n < 2^64: s cannot overflow */
		memcpy(&u, vals + i * 8, 8);
		x = (int64_t)le64toh(u);
		s += x;
		lo = x < lo ? x : lo;
		hi = x > hi ? x : hi;
	}
	agg_ints(a, lo, hi, n, s);
}

/*
 * n ok jobs whose integer outputs sum to s, lo and hi the least and the
 * greatest, retried of them dispatched more than once: what agg_run()
 * counts for their outputs, from their sums alone (a SUMS, ctl.h).
 */
void
agg_sums(struct agg *a, uint64_t n, i128 s, i128 lo, i128 hi,
    uint64_t retried)
{
	if (n == 0)
		return;
	a->jobs += n;
	a->status[JOB_OK] += n;
	a->retried += retried;
	agg_ints(a, lo, hi, n, s);
}

/* Count one finished job; runs is how many times it was dispatched. */
void
agg_job(struct agg *a, enum job_status st, unsigned runs, const char *out,
    size_t len)
{
	a->jobs++;
	a->status[st]++;
	if (runs > 1)
		a->retried++;
	if (st == JOB_OK)
		agg_number(a, out, len);
}

void
agg_latency(struct agg *a, uint64_t us)
{
	hist_add(&a->lat, us);
}

/* Add everything src counted into dst. */
void
agg_merge(struct agg *dst, const struct agg *src)
{
	int	 i;
	i128	 s;

	dst->jobs += src->jobs;
	for (i = 0; i < JOB_NSTATUS; i++)
		dst->status[i] += src->status[i];
	dst->retried += src->retried;
	dst->restarts += src->restarts;
	if (src->nint != 0) {
		if (dst->nint == 0 || src->imin < dst->imin)
			dst->imin = src->imin;
		if (dst->nint == 0 || src->imax > dst->imax)
			dst->imax = src->imax;
		dst->nint += src->nint;
		if (__builtin_add_overflow(dst->isum, src->isum, &s)) {
			agg_dadd(dst, (double)dst->isum);
			agg_dadd(dst, (double)src->isum);
			dst->isum = 0;
		} else
			dst->isum = s;
	}
	if (src->ndbl != 0) {
		if (dst->ndbl == 0 || src->dmin < dst->dmin)
			dst->dmin = src->dmin;
		if (dst->ndbl == 0 || src->dmax > dst->dmax)
			dst->dmax = src->dmax;
		dst->ndbl += src->ndbl;
	}
	agg_dadd(dst, src->dsum);
	agg_dadd(dst, src->dcomp);
	hist_merge(&dst->lat, &src->lat);
}

/* Every job that did not end ok. */
uint64_t
agg_failed(const struct agg *a)
{
	return (a->jobs - a->status[JOB_OK]);
}

bool
agg_has_numbers(const struct agg *a)
{
	return (a->nint + a->ndbl != 0);
}

/* True when the totals must be shown as doubles. */
static bool
agg_inexact(const struct agg *a)
{
	return (a->ndbl != 0 || a->dsum != 0 || a->dcomp != 0);
}

/* The double total, when the totals are inexact. */
static double
agg_dtotal(const struct agg *a)
{
	if (!isfinite(a->dsum))
		return (a->dsum);
	return ((double)a->isum + (a->dsum + a->dcomp));
}

/* False when the sum overflowed even a double (it prints as inf or nan). */
bool
agg_sum_finite(const struct agg *a)
{
	return (!agg_inexact(a) || isfinite(agg_dtotal(a)));
}

static void
agg_put_double(struct buf *out, double v)
{
	char	 tmp[64];

	buf_add(out, tmp, num_fmt_double(tmp, sizeof(tmp), v));
}

static void
agg_put_i128(struct buf *out, i128 v)
{
	char	 tmp[I128_STRLEN];

	buf_add(out, tmp, num_fmt_i128(tmp, v));
}

void
agg_fmt_sum(const struct agg *a, struct buf *out)
{
	if (agg_inexact(a))
		agg_put_double(out, agg_dtotal(a));
	else
		agg_put_i128(out, a->isum);
}

void
agg_fmt_min(const struct agg *a, struct buf *out)
{
	if (a->ndbl == 0)
		agg_put_i128(out, a->imin);
	else if (a->nint == 0 || a->dmin < (double)a->imin)
		agg_put_double(out, a->dmin);
	else
		agg_put_i128(out, a->imin);
}

void
agg_fmt_max(const struct agg *a, struct buf *out)
{
	if (a->ndbl == 0)
		agg_put_i128(out, a->imax);
	else if (a->nint == 0 || a->dmax > (double)a->imax)
		agg_put_double(out, a->dmax);
	else
		agg_put_i128(out, a->imax);
}

/* The mean, exact to the last bit of a double when every output is an int. */
void
agg_fmt_mean(const struct agg *a, struct buf *out)
{
	uint64_t n = a->nint + a->ndbl;
	double	 mean;
	i128	 q, r;

	if (!agg_inexact(a)) {
		q = a->isum / (i128)n;
		r = a->isum % (i128)n;
		mean = (double)q + (double)r / (double)n;
	} else
		mean = agg_dtotal(a) / (double)n;
	agg_put_double(out, mean);
}

/* Jobs per second over wall seconds, guarding against a zero wall time. */
static double
agg_rate(const struct agg *a, double wall)
{
	return ((double)a->jobs / (wall > 1e-6 ? wall : 1e-6));
}

/*
 * The text summary, without the "drover: " prefix or a newline:
 * "100 jobs, 100 ok, 0 failed, 0 retried in 0.004 s (25000 jobs/s); sum ..."
 */
void
agg_summary_text(const struct agg *a, double wall, struct buf *out)
{
	int	 i, first = 1;

	buf_printf(out, "%llu job%s, %llu ok, %llu failed",
	    (unsigned long long)a->jobs, a->jobs == 1 ? "" : "s",
	    (unsigned long long)a->status[JOB_OK],
	    (unsigned long long)agg_failed(a));
	if (agg_failed(a) != 0 && a->status[JOB_FAILED] != agg_failed(a)) {
		for (i = JOB_FAILED; i < JOB_NSTATUS; i++) {
			if (a->status[i] == 0)
				continue;
			buf_printf(out, "%s%llu %s", first ? " (" : ", ",
			    (unsigned long long)a->status[i],
			    job_status_name(i));
			first = 0;
		}
		buf_addc(out, ')');
	}
	buf_printf(out, ", %llu retried", (unsigned long long)a->retried);
	if (a->restarts != 0)
		buf_printf(out, ", %llu restart%s",
		    (unsigned long long)a->restarts,
		    a->restarts == 1 ? "" : "s");
	/* Below 10 a second, a decimal: "(0.5 jobs/s)", not "(0 jobs/s)". */
	buf_printf(out, " in %.3f s (%.*f jobs/s)", wall,
	    agg_rate(a, wall) < 9.95 ? 1 : 0, agg_rate(a, wall));
	if (!agg_has_numbers(a))
		return;
	buf_adds(out, "; sum ");
	agg_fmt_sum(a, out);
	buf_adds(out, " min ");
	agg_fmt_min(a, out);
	buf_adds(out, " max ");
	agg_fmt_max(a, out);
	buf_adds(out, " mean ");
	agg_fmt_mean(a, out);
}

/* The JSON summary object, {"summary":{...}}, without a newline. */
void
agg_summary_json(const struct agg *a, double wall, struct buf *out)
{
	int	 i, first = 1;

	buf_printf(out, "{\"summary\":{\"jobs\":%llu,\"ok\":%llu,"
	    "\"failed\":%llu,\"retried\":%llu,\"restarts\":%llu",
	    (unsigned long long)a->jobs,
	    (unsigned long long)a->status[JOB_OK],
	    (unsigned long long)agg_failed(a),
	    (unsigned long long)a->retried,
	    (unsigned long long)a->restarts);
	if (agg_failed(a) != 0) {
		buf_adds(out, ",\"statuses\":{");
		for (i = JOB_FAILED; i < JOB_NSTATUS; i++) {
			if (a->status[i] == 0)
				continue;
			buf_printf(out, "%s\"%s\":%llu", first ? "" : ",",
			    job_status_name(i),
			    (unsigned long long)a->status[i]);
			first = 0;
		}
		buf_addc(out, '}');
	}
	if (agg_has_numbers(a)) {
		/* JSON has no inf or nan: an overflowed sum is left out. */
		if (agg_sum_finite(a)) {
			buf_adds(out, ",\"sum\":");
			agg_fmt_sum(a, out);
		} else
			buf_adds(out, ",\"sum_overflow\":true");
		buf_adds(out, ",\"min\":");
		agg_fmt_min(a, out);
		buf_adds(out, ",\"max\":");
		agg_fmt_max(a, out);
		if (agg_sum_finite(a)) {
			buf_adds(out, ",\"mean\":");
			agg_fmt_mean(a, out);
		}
	}
	buf_printf(out, ",\"wall_s\":%.6f,\"jobs_per_s\":%.0f", wall,
	    agg_rate(a, wall));
	if (a->lat.count != 0)
		buf_printf(out, ",\"latency_us\":{\"p50\":%llu,\"p90\":%llu,"
		    "\"p99\":%llu,\"max\":%llu}",
		    (unsigned long long)hist_percentile(&a->lat, 0.50),
		    (unsigned long long)hist_percentile(&a->lat, 0.90),
		    (unsigned long long)hist_percentile(&a->lat, 0.99),
		    (unsigned long long)a->lat.max);
	buf_adds(out, "}}");
}

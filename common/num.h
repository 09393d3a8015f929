/*
 * Numbers on the hot path: strict integer parsing into 128 bits, decimal
 * formatting of 128-bit integers, and shortest round-trip doubles.
 */
#ifndef DROVER_NUM_H
#define DROVER_NUM_H

#include <stddef.h>
#include <stdint.h>

__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

#define I128_MAX	((i128)(((u128)1 << 127) - 1))
#define I128_MIN	(-I128_MAX - 1)
#define I128_STRLEN	41	/* "-170141183460469231731687303715884105728" */
#define NUM_VALUE_STRLEN 64	/* num_fmt_value()'s longest text, and more */

/*
 * A result's number, when its worker sent it in binary (typed results,
 * frame protocol result-typed) rather than as text: an integer of up to
 * 128 bits, or a double.  Its text is num_fmt_value()'s.
 */
enum num_kind {
	NUM_NONE = 0,
	NUM_INT,		/* i */
	NUM_DOUBLE,		/* d */
};

struct num_value {
	enum num_kind	 kind;
	double		 d;
	i128		 i;
};

int	 num_parse_i128(const char *, size_t, i128 *);
int	 num_parse_i64(const char *, size_t, int64_t *);
int	 num_parse_i64_pad(const char *, size_t, int64_t *);
int	 num_parse_double(const char *, size_t, double *);
size_t	 num_fmt_i128(char *, i128);
size_t	 num_fmt_u64(char *, uint64_t);
size_t	 num_fmt_double(char *, size_t, double);
size_t	 num_fmt_value(char *, const struct num_value *);
int	 num_parse_size(const char *, uint64_t *);

#endif

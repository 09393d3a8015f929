/*
 * Integer and floating-point parsing and formatting for results.  Parsers are
 * strict: the whole input must be the number, no spaces, no hex, no "inf".
 */
#include <endian.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "num.h"

/* True when the 8 bytes of v (little-endian) are all ASCII digits. */
static inline bool
num_eight_digits(uint64_t v)
{
	return (((v & 0xf0f0f0f0f0f0f0f0ULL) |
	    (((v + 0x0606060606060606ULL) & 0xf0f0f0f0f0f0f0f0ULL) >> 4)) ==
	    0x3333333333333333ULL);
}

/*
 * The value of 8 ASCII digits loaded little-endian: pairs, then quads, then
 * the whole, with three multiplications instead of eight.
 */
static inline uint32_t
num_parse_eight(uint64_t v)
{
	v -= 0x3030303030303030ULL;
	v = (v * 10) + (v >> 8);
	v = (((v & 0x000000ff000000ffULL) * (100 + (1000000ULL << 32))) +
	    (((v >> 16) & 0x000000ff000000ffULL) * (1 + (10000ULL << 32)))) >>
	    32;
	return ((uint32_t)v);
}

/*
 * The value of the digits s[i..len), 19 at most, into *acc: 8 at a time,
 * then one by one.  -1 if a byte is not a digit.
 */
static inline int
num_parse_digits(const char *s, size_t i, size_t len, uint64_t *acc)
{
	uint64_t v = 0, w;

	for (; len - i >= 8; i += 8) {
		memcpy(&w, s + i, 8);
		if (!num_eight_digits(w))
			return (-1);
		v = v * 100000000 + num_parse_eight(w);
	}
	for (; i < len; i++) {
		unsigned d = (unsigned)(unsigned char)s[i] - '0';

		if (d > 9)
			return (-1);
		v = v * 10 + d;
	}
	*acc = v;
	return (0);
}

/*
 * Parse an optionally signed decimal integer that must fit in 128 bits.
 * Returns 0 and sets *v, or -1 (not an integer, or out of range).  Up to 19
 * digits take the fast path: 8 digits at a time, no 128-bit arithmetic.
 */
int
num_parse_i128(const char *s, size_t len, i128 *v)
{
	u128	 acc, limit;
	uint64_t fast = 0;
	size_t	 i = 0, start;
	int	 neg = 0;

	if (len == 0)
		return (-1);
	if (s[0] == '-' || s[0] == '+') {
		neg = (s[0] == '-');
		i = 1;
	}
	if (i == len)
		return (-1);
	start = i;
	if (len - start <= 19) {
		if (num_parse_digits(s, i, len, &fast) == -1)
			return (-1);
		*v = neg ? -(i128)fast : (i128)fast;
		return (0);
	}
	/* Up to 19 digits always fit in 64 bits: no overflow checks. */
	for (; i < len && i - start < 19; i++) {
		unsigned d = (unsigned)(unsigned char)s[i] - '0';
		if (d > 9)
			return (-1);
		fast = fast * 10 + d;
	}
	acc = fast;
	limit = neg ? (u128)1 << 127 : ((u128)1 << 127) - 1;
	for (; i < len; i++) {
		unsigned d = (unsigned)(unsigned char)s[i] - '0';
		if (d > 9)
			return (-1);
		if (acc > (limit - d) / 10)
			return (-1);
		acc = acc * 10 + d;
	}
	if (neg)
		*v = (acc == (u128)1 << 127) ? I128_MIN : -(i128)acc;
	else
		*v = (i128)acc;
	return (0);
}

/* num_parse_i64() of more than 18 digits, out of its common path. */
static int __attribute__((noinline))
num_parse_i64_long(const char *s, size_t len, int64_t *v)
{
	i128	 x;

	if (num_parse_i128(s, len, &x) == -1)
		return (-1);
	if (x > INT64_MAX || x < INT64_MIN)
		return (-1);
	*v = (int64_t)x;
	return (0);
}

/*
 * Parse a decimal integer that must fit in int64_t.  Up to 18 digits, the
 * common case, always fit: parsed in 64 bits, 8 digits at a time, no
 * range check; longer ones go through num_parse_i128().
 */
int
num_parse_i64(const char *s, size_t len, int64_t *v)
{
	uint64_t acc;
	size_t	 i = 0;
	bool	 neg = false;

	if (len != 0 && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		i = 1;
	}
	if (i < len && len - i <= 18) {
		if (num_parse_digits(s, i, len, &acc) == -1)
			return (-1);
		*v = neg ? -(int64_t)acc : (int64_t)acc;
		return (0);
	}
	return (num_parse_i64_long(s, len, v));
}

/*
 * num_parse_i64() of bytes followed by at least 8 readable ones (a job of
 * libdrover-worker, DW_JOB_PAD): up to 16 digits with no loop over them,
 * the first len % 8 loaded as a whole word, shifted into place and padded
 * with '0's, then parsed as 8 digits.
 */
int
num_parse_i64_pad(const char *s, size_t len, int64_t *v)
{
	uint64_t w, acc, t;
	size_t	 i = 0, n;
	bool	 neg = false;

	if (len != 0 && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		i = 1;
	}
	n = len - i;
	if (n == 0 || n > 16)
		return (num_parse_i64(s, len, v));
	memcpy(&w, s + i, 8);
	w = le64toh(w);
	if (n < 8) {
		w = (w << (8 * (8 - n))) | (0x3030303030303030ULL >> (8 * n));
		if (!num_eight_digits(htole64(w)))
			return (-1);
		acc = num_parse_eight(htole64(w));
	} else if (n == 8) {
		if (!num_eight_digits(htole64(w)))
			return (-1);
		acc = num_parse_eight(htole64(w));
	} else {
		/* The first n - 8 digits as above, then the last 8. */
		if (n < 16)
			w = (w << (8 * (16 - n))) |
			    (0x3030303030303030ULL >> (8 * (n - 8)));
		memcpy(&t, s + len - 8, 8);
		if (!num_eight_digits(htole64(w)) || !num_eight_digits(t))
			return (-1);
		acc = (uint64_t)num_parse_eight(htole64(w)) * 100000000 +
		    num_parse_eight(t);
	}
	*v = neg ? -(int64_t)acc : (int64_t)acc;
	return (0);
}

/*
 * Parse a finite decimal floating-point number (digits, one optional sign,
 * point, exponent); rejects hex floats, "inf" and "nan".
 */
int
num_parse_double(const char *s, size_t len, double *v)
{
	char	 tmp[64], *end;
	size_t	 i;
	int	 digits = 0;

	if (len == 0 || len >= sizeof(tmp))
		return (-1);
	for (i = 0; i < len; i++) {
		char c = s[i];
		if (c >= '0' && c <= '9')
			digits = 1;
		else if (c != '-' && c != '+' && c != '.' && c != 'e' &&
		    c != 'E')
			return (-1);
	}
	if (!digits)
		return (-1);
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	errno = 0;
	*v = strtod(tmp, &end);
	if (end != tmp + len || errno == ERANGE || !isfinite(*v))
		return (-1);
	return (0);
}

/* Write v in decimal at p (at least I128_STRLEN bytes); return the length. */
size_t
num_fmt_i128(char *p, i128 v)
{
	char	 tmp[I128_STRLEN];
	size_t	 n = 0, len = 0;
	u128	 u;

	if (v < 0) {
		p[len++] = '-';
		u = (u128)0 - (u128)v;
	} else
		u = (u128)v;
	if (u <= UINT64_MAX)
		return (len + num_fmt_u64(p + len, (uint64_t)u));
	while (u != 0) {
		tmp[n++] = (char)('0' + (unsigned)(u % 10));
		u /= 10;
	}
	while (n > 0)
		p[len++] = tmp[--n];
	return (len);
}

/* How many decimal digits v has (1 to 20). */
static inline size_t
num_digits(uint64_t v)
{
	size_t	 n = 1;

	for (;;) {
		if (v < 10)
			return (n);
		if (v < 100)
			return (n + 1);
		if (v < 1000)
			return (n + 2);
		if (v < 10000)
			return (n + 3);
		v /= 10000;
		n += 4;
	}
}

static const char num_digits2[] =
    "00010203040506070809101112131415161718192021222324"
    "25262728293031323334353637383940414243444546474849"
    "50515253545556575859606162636465666768697071727374"
    "75767778798081828384858687888990919293949596979899";

/* Write exactly 8 digits of v (< 10^8) ending at e, in 32-bit arithmetic. */
static inline void
num_fmt_eight(char *e, uint32_t v)
{
	int	 i;

	for (i = 0; i < 4; i++) {
		unsigned r = (v % 100) * 2;
		v /= 100;
		*--e = num_digits2[r + 1];
		*--e = num_digits2[r];
	}
}

/*
 * Write v in decimal at p (at least 20 bytes); return the length.  Digits
 * are written straight into place from the end, two per division, and in
 * 32-bit arithmetic for each group of eight below the top one.
 */
size_t
num_fmt_u64(char *p, uint64_t v)
{
	size_t	 len = num_digits(v);
	char	*e = p + len;
	uint32_t t;

	while (v >= 100000000) {
		num_fmt_eight(e, (uint32_t)(v % 100000000));
		v /= 100000000;
		e -= 8;
	}
	t = (uint32_t)v;
	while (t >= 100) {
		unsigned r = (t % 100) * 2;
		t /= 100;
		*--e = num_digits2[r + 1];
		*--e = num_digits2[r];
	}
	if (t >= 10) {
		*--e = num_digits2[t * 2 + 1];
		*--e = num_digits2[t * 2];
	} else
		*--e = (char)('0' + t);
	return (len);
}

/* The shortest "%.Ng" that reads back as the same double. */
size_t
num_fmt_double(char *p, size_t size, double v)
{
	int	 prec, n = 0;

	for (prec = 15; prec <= 17; prec++) {
		n = snprintf(p, size, "%.*g", prec, v);
		if (n < 0 || (size_t)n >= size)
			return (0);
		if (strtod(p, NULL) == v)
			break;
	}
	return ((size_t)n);
}

/*
 * Write a typed result's number as its text (at least NUM_VALUE_STRLEN
 * bytes at p): an integer in decimal, a double as num_fmt_double() writes
 * it.  This is the output a text worker would have sent for the same
 * value, so that a typed result prints and aggregates as its text does.
 */
size_t
num_fmt_value(char *p, const struct num_value *v)
{
	if (v->kind == NUM_INT)
		return (num_fmt_i128(p, v->i));
	if (v->kind == NUM_DOUBLE)
		return (num_fmt_double(p, NUM_VALUE_STRLEN, v->d));
	return (0);
}

/*
 * Parse a byte size: digits with an optional k, M or G suffix (powers of
 * 1024).  Returns 0 or -1.
 */
int
num_parse_size(const char *s, uint64_t *v)
{
	char		*end;
	unsigned long long n;
	uint64_t	 mult = 1;

	if (*s < '0' || *s > '9')
		return (-1);
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno != 0)
		return (-1);
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		mult = 1024;
		end++;
		break;
	case 'm': case 'M':
		mult = 1024 * 1024;
		end++;
		break;
	case 'g': case 'G':
		mult = 1024 * 1024 * 1024;
		end++;
		break;
	default:
		return (-1);
	}
	if (*end != '\0' && !(end[0] == 'B' && end[1] == '\0'))
		return (-1);
	if (n > UINT64_MAX / mult)
		return (-1);
	*v = n * mult;
	return (0);
}

/*
 * Integer and floating-point parsing and formatting for results.  Parsers are
 * strict: the whole input must be the number, no spaces, no hex, no "inf".
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "num.h"

/*
 * Parse an optionally signed decimal integer that must fit in 128 bits.
 * Returns 0 and sets *v, or -1 (not an integer, or out of range).
 */
int
num_parse_i128(const char *s, size_t len, i128 *v)
{
	u128	 acc = 0, limit;
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
	/* Up to 19 digits always fit in 64 bits: no overflow checks. */
	for (; i < len && i - start < 19; i++) {
		unsigned d = (unsigned char)s[i] - '0';
		if (d > 9)
			return (-1);
		fast = fast * 10 + d;
	}
	acc = fast;
	limit = neg ? (u128)1 << 127 : ((u128)1 << 127) - 1;
	for (; i < len; i++) {
		unsigned d = (unsigned char)s[i] - '0';
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

/* Parse a decimal integer that must fit in int64_t. */
int
num_parse_i64(const char *s, size_t len, int64_t *v)
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

/* Write v in decimal at p (at least 20 bytes); return the length. */
size_t
num_fmt_u64(char *p, uint64_t v)
{
	static const char digits2[] =
	    "00010203040506070809101112131415161718192021222324"
	    "25262728293031323334353637383940414243444546474849"
	    "50515253545556575859606162636465666768697071727374"
	    "75767778798081828384858687888990919293949596979899";
	char	 tmp[20];
	size_t	 n = sizeof(tmp), len;

	while (v >= 100) {
		unsigned r = (unsigned)(v % 100) * 2;
		v /= 100;
		tmp[--n] = digits2[r + 1];
		tmp[--n] = digits2[r];
	}
	if (v >= 10) {
		tmp[--n] = digits2[v * 2 + 1];
		tmp[--n] = digits2[v * 2];
	} else
		tmp[--n] = (char)('0' + v);
	len = sizeof(tmp) - n;
	memcpy(p, tmp + n, len);
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

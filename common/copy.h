/*
 * Copying a few bytes on the job path without a call: most jobs are short
 * (a number, a path), and a memcpy() of a length known only at run time is
 * a call into libc for each.
 */
#ifndef DROVER_COPY_H
#define DROVER_COPY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define COPY_SMALL_MAX	24

/*
 * Copy n <= COPY_SMALL_MAX bytes in a few loads and stores, overlapping
 * where n is not a multiple of their size.
 */
static inline void
copy_small(char *d, const char *s, size_t n)
{
	uint64_t	 a, b, c;
	uint32_t	 x, y;

	if (n >= 8) {
		memcpy(&a, s, 8);
		memcpy(&c, s + n - 8, 8);
		if (n > 16) {
			memcpy(&b, s + 8, 8);
			memcpy(d + 8, &b, 8);
		}
		memcpy(d, &a, 8);
		memcpy(d + n - 8, &c, 8);
	} else if (n >= 4) {
		memcpy(&x, s, 4);
		memcpy(&y, s + n - 4, 4);
		memcpy(d, &x, 4);
		memcpy(d + n - 4, &y, 4);
	} else if (n != 0) {
		d[0] = s[0];
		d[n / 2] = s[n / 2];
		d[n - 1] = s[n - 1];
	}
}

/* Copy n bytes: copy_small() for a few, else memcpy(). */
static inline void
copy_bytes(char *d, const char *s, size_t n)
{
	if (n <= COPY_SMALL_MAX)
		copy_small(d, s, n);
	else
		memcpy(d, s, n);
}

#endif

/*
 * The tagged protocol's "ID<TAB>" prefix (see tagged.h): writing it, and
 * the one place that decides whether a line from a peer starts with one.
 * Shared by the supervisor (daemon/worker.c) and libdw.
 */
#include <string.h>

#include "tagged.h"

/* Write "ID\t" for id at dst (TAGGED_PREFIX_MAX bytes); return its length. */
size_t
tagged_put_id(char *dst, uint64_t id)
{
	char	 tmp[TAGGED_ID_MAX];
	size_t	 n = 0, i;

	do {
		tmp[n++] = (char)('0' + id % 10);
		id /= 10;
	} while (id != 0);
	for (i = 0; i < n; i++)
		dst[i] = tmp[n - 1 - i];
	dst[n] = '\t';
	return (n + 1);
}

/*
 * Split the line p (len bytes, without its newline) into its id and the
 * rest, which starts *off bytes in.  The id is one to TAGGED_ID_MAX decimal
 * digits within 64 bits, followed by a tab.  Returns 0, or -1 with a
 * reason in *why.
 */
int
tagged_parse(const char *p, size_t len, uint64_t *id, size_t *off,
    const char **why)
{
	const char	*tab;
	uint64_t	 v = 0, d;
	size_t		 i, n;

	if ((tab = memchr(p, '\t', len)) == NULL) {
		*why = "no tab after the job id";
		return (-1);
	}
	n = (size_t)(tab - p);
	if (n == 0 || n > TAGGED_ID_MAX) {
		*why = "the job id is not a decimal number";
		return (-1);
	}
	for (i = 0; i < n; i++) {
		d = (uint64_t)(p[i] - '0');
		if (p[i] < '0' || p[i] > '9' || v > (UINT64_MAX - d) / 10) {
			*why = "the job id is not a decimal number";
			return (-1);
		}
		v = v * 10 + d;
	}
	*id = v;
	*off = n + 1;
	return (0);
}

/*
 * The tagged protocol: the line protocol with a job id in front of every
 * line, both ways (docs/protocol.md).  The supervisor writes "ID\tjob\n";
 * the worker answers each job with "ID\tresult\n", in any order, where ID is
 * the decimal job tag it was given (opaque, unique among the jobs the worker
 * holds).  A result that starts with '!' is a failure, "!!" a literal '!',
 * as in the line protocol.  This is the prefix's contract; splitting lines
 * and their limits are the line protocol's.
 */
#ifndef DROVER_TAGGED_H
#define DROVER_TAGGED_H

#include <stddef.h>
#include <stdint.h>

#define TAGGED_ID_MAX		20	/* digits of UINT64_MAX */
#define TAGGED_PREFIX_MAX	(TAGGED_ID_MAX + 1)	/* and the tab */

size_t	 tagged_put_id(char *, uint64_t);
int	 tagged_parse(const char *, size_t, uint64_t *, size_t *,
	    const char **);

#endif

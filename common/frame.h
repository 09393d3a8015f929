/*
 * The frame protocol: the contract between the supervisor and a frame-protocol
 * worker (drover-worker, or anything built on worker/dw.h).  docs/protocol.md
 * describes the same bytes for people writing workers in other languages.
 *
 * Every message, both ways, is a 16-byte header followed by `len` payload
 * bytes.  All integers are little-endian.
 *
 *	offset	size	field
 *	0	4	len	payload bytes that follow the header
 *	4	1	type	FRAME_HELLO, FRAME_JOB or FRAME_RESULT
 *	5	1	status	FRAME_OK or FRAME_FAIL (RESULT); 0 otherwise
 *	6	2	zero	must be 0
 *	8	8	id	HELLO: protocol version; JOB/RESULT: job tag
 *
 * A session opens with both sides sending HELLO (id = FRAME_VERSION; the
 * worker's payload is a short free-text description, at most
 * FRAME_HELLO_MAX bytes).  The supervisor then sends JOB frames whose id is an
 * opaque tag, unique among the jobs the worker holds; the worker answers each
 * with exactly one RESULT carrying the same tag, in any order.  A FAIL result's
 * payload is the reason.  EOF on the worker's stdin means "finish and exit".
 */
#ifndef DROVER_FRAME_H
#define DROVER_FRAME_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FRAME_VERSION		1
#define FRAME_HDRLEN		16
#define FRAME_HELLO_MAX		256
#define FRAME_MAXLEN		(1U << 30)	/* hard cap on any payload */

enum frame_type {
	FRAME_HELLO = 1,
	FRAME_JOB = 2,
	FRAME_RESULT = 3,
};

enum frame_status {
	FRAME_OK = 0,
	FRAME_FAIL = 1,
};

struct frame_hdr {
	uint32_t	len;
	uint8_t		type;
	uint8_t		status;
	uint64_t	id;
};

/* Outcome of frame_parse(). */
enum frame_parse {
	FRAME_NEED = 0,		/* not a whole frame yet */
	FRAME_GOOD = 1,		/* *hdr filled, payload follows the header */
	FRAME_BAD = -1,		/* the stream is broken; reason in the error */
};

/* Write a header into 16 bytes at p. */
static inline void
frame_put(char *p, uint8_t type, uint8_t status, uint32_t len, uint64_t id)
{
	uint32_t	l = htole32(len);
	uint64_t	i = htole64(id);

	memcpy(p, &l, 4);
	p[4] = (char)type;
	p[5] = (char)status;
	p[6] = p[7] = 0;
	memcpy(p + 8, &i, 8);
}

void		 frame_decode(const char *, struct frame_hdr *);
enum frame_parse frame_parse(const char *, size_t, uint32_t,
	    struct frame_hdr *, const char **);
const char	*frame_type_name(unsigned);

#endif

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
 *	6	1	flags	0, but for FRAME_F_* under a capability
 *	7	1	zero	must be 0
 *	8	8	id	HELLO: protocol version; JOB/RESULT: job tag
 *
 * A session opens with both sides sending HELLO (the worker's payload is a
 * short free-text description, at most FRAME_HELLO_MAX bytes).  The
 * supervisor then sends JOB frames whose id is an opaque tag, unique among
 * the jobs the worker holds; the worker answers each with exactly one RESULT
 * carrying the same tag, in any order.  A FAIL result's payload is the
 * reason.  EOF on the worker's stdin means "finish and exit".
 *
 * Version 2 adds capabilities (docs/protocol.md).  The supervisor's HELLO
 * keeps id 1, which every worker accepts, and offers version 2 with a second
 * payload line listing its capabilities ("DESC\nCAP CAP..."); a worker that
 * speaks version 2 waits for that HELLO and answers with id 2 and the
 * capabilities it wants.  A capability is in effect when both lists name it:
 *	job-meta	each JOB payload starts with FRAME_META_LEN bytes: the
 *			job's 0-based id in its batch (u64), its attempt (u32,
 *			1-based), 4 bytes reserved (0)
 *	result-stderr	a RESULT with FRAME_F_STDERR in flags carries a stderr
 *			section first: its length (u32), then its bytes
 *	result-output	a FAIL RESULT with FRAME_F_OUTPUT carries the
 *			command's stdout in a section of its own (u32, bytes)
 *	result-fields	a RESULT with FRAME_F_FIELDS carries a fields section
 *			(u32, bytes): typed members for the job's record
 *	job-cwd		a JOB with FRAME_F_CWD in flags carries, after the
 *			job-meta block, a cwd section (u32, bytes): the
 *			directory to run it in (the exec handler's
 *			exec_cwd = "client": the submitting client's)
 *	result-typed	an OK RESULT with FRAME_F_INT has for its output an
 *			integer in binary: 8 bytes (i64) or 16 (i128, low
 *			half first); with FRAME_F_DOUBLE, 8 bytes (an IEEE
 *			754 binary64); the supervisor prints it as
 *			num_fmt_value() does and aggregates it as that text
 *	job-batch	a JOB with FRAME_F_BATCH carries a run of jobs, each
 *			a varint length (frame_varint_get()) and what a
 *			flagless JOB's payload would be; the i-th has tag
 *			id + i
 *	result-batch	an OK RESULT with FRAME_F_BATCH | FRAME_F_INT (or
 *			_DOUBLE) carries the typed outputs of a run of jobs,
 *			8 bytes each (i64, or binary64), for tags id, id + 1,
 *			...; at most FRAME_BATCH_MAX bytes either way
 *	max-result=N	(supervisor) the longest output, or stderr, it takes
 * The sections come in the order of their flag bits (stderr, output,
 * fields), each a u32 length and that many bytes; the output, or the
 * reason, is the rest of the payload.  A fields section is a list of
 * fields, each: name length (u8, 1 to FRAME_FIELD_NAME_MAX), name
 * ([a-z0-9_], not one of the record's own members), type (u8), value:
 * FRAME_FT_INT an i64, FRAME_FT_STR a u32 length (at most
 * FRAME_FIELD_STR_MAX) and its bytes.  Unknown capabilities are ignored;
 * the other flag bits and byte 7 are kept for later capabilities.
 */
#ifndef DROVER_FRAME_H
#define DROVER_FRAME_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "num.h"

#define FRAME_VERSION		1	/* what the supervisor's HELLO says */
#define FRAME_VERSION_2		2	/* a worker's HELLO, with caps */
#define FRAME_META_LEN		16	/* job-meta block before a JOB */
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

/* Header flags (byte 6), each allowed only under its capability. */
#define FRAME_F_STDERR		0x01	/* RESULT: a stderr section first */
#define FRAME_F_OUTPUT		0x02	/* FAIL RESULT: a stdout section */
#define FRAME_F_FIELDS		0x04	/* RESULT: a fields section */
#define FRAME_F_CWD		0x08	/* JOB: a cwd section */
#define FRAME_F_INT		0x10	/* OK RESULT: the output, an integer */
#define FRAME_F_DOUBLE		0x20	/* OK RESULT: the output, a double */
#define FRAME_F_TYPED		(FRAME_F_INT | FRAME_F_DOUBLE)
#define FRAME_F_BATCH		0x40	/* JOB, OK typed RESULT: a run */

#define FRAME_BATCH_MAX		65536	/* payload of a batched frame */
#define FRAME_VARINT_MAX	5	/* bytes of a varint up to 2^32 */

/* Capabilities, as bits. */
#define FRAME_CAP_JOB_META	0x01
#define FRAME_CAP_RESULT_STDERR	0x02
#define FRAME_CAP_RESULT_OUTPUT	0x04
#define FRAME_CAP_RESULT_FIELDS	0x08
#define FRAME_CAP_JOB_CWD	0x10
#define FRAME_CAP_RESULT_TYPED	0x20
#define FRAME_CAP_JOB_BATCH	0x40
#define FRAME_CAP_RESULT_BATCH	0x80

/* Fields (result-fields): the limits of one section, and the types. */
#define FRAME_FIELD_NAME_MAX	32	/* bytes of a name */
#define FRAME_FIELD_STR_MAX	4096	/* bytes of a string value */
#define FRAME_FIELDS_MAX	32	/* fields in a section */
#define FRAME_FIELDS_LEN_MAX	65536	/* bytes of a section */

enum frame_field_type {
	FRAME_FT_INT = 1,		/* i64, little-endian */
	FRAME_FT_STR = 2,		/* u32 length, bytes (any) */
};

struct frame_hdr {
	uint32_t	len;
	uint8_t		type;
	uint8_t		status;
	uint8_t		flags;
	uint64_t	id;
};

/* A HELLO payload, as frame_hello_parse() reads it. */
struct frame_hello {
	const char	*desc;		/* the description (first line) */
	size_t		 desclen;
	int		 has_caps;	/* a capability line is there */
	uint32_t	 caps;		/* FRAME_CAP_* it names */
	uint64_t	 max_result;	/* max-result=N; 0 when absent */
};

/*
 * A RESULT payload split into its sections (frame_result_split()); a
 * section that is not there is NULL, 0.
 */
struct frame_result {
	const char	*out;		/* the output, or a FAIL's reason */
	size_t		 outlen;
	const char	*err;		/* FRAME_F_STDERR */
	size_t		 errlen;
	const char	*sout;		/* FRAME_F_OUTPUT: a FAIL's stdout */
	size_t		 soutlen;
	const char	*fields;	/* FRAME_F_FIELDS, checked */
	size_t		 fieldslen;
	struct num_value num;		/* FRAME_F_INT, _DOUBLE: the output */
};

/* One field of a checked fields section (frame_field_next()). */
struct frame_field {
	const char	*name;
	size_t		 namelen;
	enum frame_field_type type;
	int64_t		 i;		/* FRAME_FT_INT */
	const char	*s;		/* FRAME_FT_STR */
	size_t		 slen;
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

/* Write a job-meta block (FRAME_META_LEN bytes) at p. */
static inline void
frame_meta_put(char *p, uint64_t id, uint32_t attempt)
{
	uint64_t	i = htole64(id);
	uint32_t	a = htole32(attempt);

	memcpy(p, &i, 8);
	memcpy(p + 8, &a, 4);
	memset(p + 12, 0, 4);
}

/*
 * Write v as a varint at p (LEB128: 7 bits a byte, the low ones first, the
 * top bit set on every byte but the last); returns its length.
 */
static inline size_t
frame_varint_put(char *p, uint32_t v)
{
	size_t	 n = 0;

	while (v >= 0x80) {
		p[n++] = (char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (char)v;
	return (n);
}

/*
 * Read a varint of at most FRAME_VARINT_MAX bytes that fits in 32 bits
 * from the len bytes at p: its length, or 0 when it is cut short,
 * longer, or too large.
 */
static inline size_t
frame_varint_get(const char *p, size_t len, uint32_t *v)
{
	uint64_t	 x = 0;
	size_t		 i;

	if (len != 0 && ((unsigned char)p[0] & 0x80) == 0) {
		*v = (unsigned char)p[0];	/* one byte: most items */
		return (1);
	}
	for (i = 0; i < len && i < FRAME_VARINT_MAX; i++) {
		x |= (uint64_t)((unsigned char)p[i] & 0x7f) << (7 * i);
		if (((unsigned char)p[i] & 0x80) == 0) {
			if (x > UINT32_MAX)
				return (0);
			*v = (uint32_t)x;
			return (i + 1);
		}
	}
	return (0);
}

void		 frame_decode(const char *, struct frame_hdr *);
enum frame_parse frame_parse(const char *, size_t, uint32_t,
	    struct frame_hdr *, const char **);
enum frame_parse frame_parse_flags(const char *, size_t, uint32_t, uint8_t,
	    struct frame_hdr *, const char **);
const char	*frame_type_name(unsigned);
int		 frame_hello_parse(const char *, size_t, struct frame_hello *,
		    const char **);
size_t		 frame_hello_put(char *, size_t, const char *, uint32_t,
		    uint64_t);
int		 frame_meta_get(const char *, size_t, uint64_t *, uint32_t *,
		    const char **);
int		 frame_stderr_get(const char *, size_t, const char **,
		    size_t *, const char **);
uint64_t	 frame_result_max(uint32_t, uint32_t);
int		 frame_result_split(const char *, size_t,
		    const struct frame_hdr *, uint32_t, struct frame_result *,
		    const char **);
int		 frame_fields_check(const char *, size_t, const char **);
int		 frame_field_next(const char **, size_t *,
		    struct frame_field *);
size_t		 frame_field_put(char *, const char *, enum frame_field_type,
		    int64_t, const char *, size_t);
bool		 frame_field_name_ok(const char *, size_t);
int		 frame_num_get(const char *, size_t, uint8_t,
		    struct num_value *, const char **);
size_t		 frame_num_put(char *, const struct num_value *, uint8_t *);

#endif

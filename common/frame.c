/*
 * Frame header validation: the one place that decides whether bytes from a
 * peer form a well-formed frame.  Everything is size-checked before a copy.
 */
#include <stdio.h>

#include "frame.h"

/* The capabilities by name, as their bits. */
static const struct {
	const char	*name;
	uint32_t	 bit;
} frame_caps[] = {
	{ "job-meta",		FRAME_CAP_JOB_META },
	{ "result-stderr",	FRAME_CAP_RESULT_STDERR },
};

const char *
frame_type_name(unsigned type)
{
	switch (type) {
	case FRAME_HELLO:
		return ("HELLO");
	case FRAME_JOB:
		return ("JOB");
	case FRAME_RESULT:
		return ("RESULT");
	}
	return ("unknown");
}

/* Decode the 16 header bytes at p (no validation). */
void
frame_decode(const char *p, struct frame_hdr *hdr)
{
	uint32_t	l;
	uint64_t	i;

	memcpy(&l, p, 4);
	memcpy(&i, p + 8, 8);
	hdr->len = le32toh(l);
	hdr->type = (uint8_t)p[4];
	hdr->status = (uint8_t)p[5];
	hdr->flags = (uint8_t)p[6];
	hdr->id = le64toh(i);
}

/*
 * Look at the avail bytes at p: return FRAME_GOOD with *hdr set when a whole
 * frame (header and payload) is there, FRAME_NEED when more bytes are needed,
 * FRAME_BAD with *why set when the header cannot be valid: unknown type,
 * non-zero reserved bytes, a bad status, or a payload over maxlen.
 */
enum frame_parse
frame_parse(const char *p, size_t avail, uint32_t maxlen,
    struct frame_hdr *hdr, const char **why)
{
	return (frame_parse_flags(p, avail, maxlen, 0, hdr, why));
}

/*
 * frame_parse(), but a RESULT may have the header flags in flagmask set
 * (those of the capabilities in effect).
 */
enum frame_parse
frame_parse_flags(const char *p, size_t avail, uint32_t maxlen,
    uint8_t flagmask, struct frame_hdr *hdr, const char **why)
{
	if (avail < FRAME_HDRLEN)
		return (FRAME_NEED);
	frame_decode(p, hdr);
	if (hdr->type < FRAME_HELLO || hdr->type > FRAME_RESULT) {
		*why = "unknown frame type";
		return (FRAME_BAD);
	}
	if ((hdr->flags & ~(hdr->type == FRAME_RESULT ? flagmask : 0)) != 0 ||
	    p[7] != 0) {
		*why = "non-zero reserved header bytes";
		return (FRAME_BAD);
	}
	if (hdr->status > FRAME_FAIL ||
	    (hdr->type != FRAME_RESULT && hdr->status != 0)) {
		*why = "bad frame status";
		return (FRAME_BAD);
	}
	if (hdr->len > maxlen || hdr->len > FRAME_MAXLEN) {
		*why = "frame payload over the size limit";
		return (FRAME_BAD);
	}
	if (hdr->type == FRAME_HELLO && hdr->len > FRAME_HELLO_MAX) {
		*why = "HELLO payload too long";
		return (FRAME_BAD);
	}
	if (avail - FRAME_HDRLEN < hdr->len)
		return (FRAME_NEED);
	return (FRAME_GOOD);
}

/* Is c allowed in a capability's name or value? */
static int
frame_cap_char(char c)
{
	return ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
}

/*
 * Read one capability token (p, len): set its bit in *hello, or its value;
 * ignore an unknown name.  -1 when the token is malformed.
 */
static int
frame_cap_token(const char *p, size_t len, struct frame_hello *hello)
{
	size_t		 i, eq = len;
	uint64_t	 v = 0;

	for (i = 0; i < len; i++) {
		if (p[i] == '=' && eq == len && i > 0)
			eq = i;
		else if (!frame_cap_char(p[i]))
			return (-1);
	}
	if (eq == len - 1)
		return (-1);		/* "name=" */
	if (eq == 10 && memcmp(p, "max-result", 10) == 0) {
		for (i = eq + 1; i < len; i++) {
			if (p[i] < '0' || p[i] > '9' || v > UINT32_MAX)
				return (-1);
			v = v * 10 + (uint64_t)(p[i] - '0');
		}
		if (v == 0 || v > UINT32_MAX)
			return (-1);
		hello->max_result = v;
		return (0);
	}
	for (i = 0; i < sizeof(frame_caps) / sizeof(frame_caps[0]); i++)
		if (eq == strlen(frame_caps[i].name) &&
		    memcmp(p, frame_caps[i].name, eq) == 0 && eq == len)
			hello->caps |= frame_caps[i].bit;
	return (0);
}

/*
 * Parse a HELLO payload: a description, then optionally a newline and a
 * line of capabilities separated by spaces (`name` or `name=value`, names
 * and values of [a-z0-9-]); later lines are ignored.  0, or -1 with *why
 * set when a capability is malformed.
 */
int
frame_hello_parse(const char *p, size_t len, struct frame_hello *hello,
    const char **why)
{
	const char	*nl, *q, *end, *sp;

	memset(hello, 0, sizeof(*hello));
	hello->desc = p;
	if ((nl = len == 0 ? NULL : memchr(p, '\n', len)) == NULL) {
		hello->desclen = len;
		return (0);
	}
	hello->desclen = (size_t)(nl - p);
	hello->has_caps = 1;
	q = nl + 1;
	if ((end = memchr(q, '\n', len - (size_t)(q - p))) == NULL)
		end = p + len;
	while (q < end) {
		if ((sp = memchr(q, ' ', (size_t)(end - q))) == NULL)
			sp = end;
		if (sp > q && frame_cap_token(q, (size_t)(sp - q), hello) ==
		    -1) {
			*why = "malformed capability in HELLO";
			return (-1);
		}
		q = sp + 1;
	}
	return (0);
}

/*
 * Write a version 2 HELLO payload into p (room bytes): desc, cut so that the
 * whole fits in room and FRAME_HELLO_MAX, a newline, then the capabilities
 * in caps and max-result=N when max_result is not 0.  Returns its length.
 */
size_t
frame_hello_put(char *p, size_t room, const char *desc, uint32_t caps,
    uint64_t max_result)
{
	char	 line[FRAME_HELLO_MAX];
	size_t	 i, n = 0, d;
	int	 k;

	for (i = 0; i < sizeof(frame_caps) / sizeof(frame_caps[0]); i++)
		if (caps & frame_caps[i].bit) {
			k = snprintf(line + n, sizeof(line) - n, "%s%s",
			    n ? " " : "", frame_caps[i].name);
			n += (size_t)k;
		}
	if (max_result != 0) {
		k = snprintf(line + n, sizeof(line) - n, "%smax-result=%llu",
		    n ? " " : "", (unsigned long long)max_result);
		n += (size_t)k;
	}
	if (room > FRAME_HELLO_MAX)
		room = FRAME_HELLO_MAX;
	if (n + 1 > room)
		return (0);
	d = strlen(desc);
	if (d > room - n - 1)
		d = room - n - 1;
	for (i = 0; i < d; i++)
		p[i] = desc[i] == '\n' ? ' ' : desc[i];
	p[d] = '\n';
	memcpy(p + d + 1, line, n);
	return (d + 1 + n);
}

/*
 * Take the job-meta block off a JOB payload of len bytes at p: the job's id
 * in its batch and its attempt.  -1 with *why set when it is too short or
 * its reserved bytes are not 0.
 */
int
frame_meta_get(const char *p, size_t len, uint64_t *id, uint32_t *attempt,
    const char **why)
{
	uint64_t	 i;
	uint32_t	 a, z;

	if (len < FRAME_META_LEN) {
		*why = "JOB shorter than its job-meta block";
		return (-1);
	}
	memcpy(&i, p, 8);
	memcpy(&a, p + 8, 4);
	memcpy(&z, p + 12, 4);
	if (z != 0) {
		*why = "non-zero reserved job-meta bytes";
		return (-1);
	}
	*id = le64toh(i);
	*attempt = le32toh(a);
	return (0);
}

/*
 * Split a RESULT payload with FRAME_F_STDERR: *err and *errlen get the
 * stderr section; the output (or reason) is the rest, after
 * 4 + *errlen bytes.  -1 with *why set when the section does not fit.
 */
int
frame_stderr_get(const char *p, size_t len, const char **err, size_t *errlen,
    const char **why)
{
	uint32_t	 n;

	if (len < 4) {
		*why = "RESULT shorter than its stderr length";
		return (-1);
	}
	memcpy(&n, p, 4);
	n = le32toh(n);
	if (n > len - 4) {
		*why = "RESULT stderr section longer than the payload";
		return (-1);
	}
	*err = p + 4;
	*errlen = n;
	return (0);
}

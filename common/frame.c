/*
 * Frame header validation: the one place that decides whether bytes from a
 * peer form a well-formed frame.  Everything is size-checked before a copy.
 */
#include "frame.h"

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
	if (avail < FRAME_HDRLEN)
		return (FRAME_NEED);
	frame_decode(p, hdr);
	if (hdr->type < FRAME_HELLO || hdr->type > FRAME_RESULT) {
		*why = "unknown frame type";
		return (FRAME_BAD);
	}
	if (p[6] != 0 || p[7] != 0) {
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

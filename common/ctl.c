/*
 * Control protocol headers: validation and the RESULT metadata (ctl.h).
 * Only the header is checked here; a JOB's payload size is checked by the
 * daemon against its pool's max_job_bytes before it is buffered.
 */
#include <string.h>

#include "ctl.h"
#include "status.h"

const char *
ctl_type_name(unsigned type)
{
	static const char *const names[] = {
		"?", "REQUEST", "REPLY", "JOB", "END", "RESULT", "BYE", "CANCEL"
	};

	return (type <= CTL_CANCEL ? names[type] : "unknown");
}

/*
 * Validate a control header at p: FRAME_GOOD when the header is valid
 * (whether or not the payload is all there: the caller checks), FRAME_NEED
 * with fewer than 16 bytes, FRAME_BAD with *why otherwise.
 */
enum frame_parse
ctl_parse(const char *p, size_t avail, struct frame_hdr *h, const char **why)
{
	if (avail < FRAME_HDRLEN)
		return (FRAME_NEED);
	frame_decode(p, h);
	if (h->type < CTL_REQUEST || h->type > CTL_CANCEL) {
		*why = "unknown message type";
		return (FRAME_BAD);
	}
	if (p[6] != 0 || p[7] != 0) {
		*why = "non-zero reserved header bytes";
		return (FRAME_BAD);
	}
	if ((h->type == CTL_RESULT && h->status >= JOB_NSTATUS) ||
	    (h->type != CTL_RESULT && h->status != 0)) {
		*why = "bad status";
		return (FRAME_BAD);
	}
	if (h->len > FRAME_MAXLEN || ((h->type == CTL_REPLY ||
	    h->type == CTL_BYE) && h->len > CTL_JSON_MAX) ||
	    (h->type == CTL_REQUEST && h->len > CTL_REQUEST_MAX)) {
		*why = "message over the size limit";
		return (FRAME_BAD);
	}
	if ((h->type == CTL_END || h->type == CTL_CANCEL) && h->len != 0) {
		*why = "END or CANCEL with a payload";
		return (FRAME_BAD);
	}
	if (h->type == CTL_RESULT && h->len < CTL_META_LEN) {
		*why = "RESULT shorter than its metadata";
		return (FRAME_BAD);
	}
	return (FRAME_GOOD);
}

void
ctl_meta_put(char *p, const struct ctl_meta *m)
{
	uint32_t	pid = htole32(m->pid), att = htole32(m->attempts);
	uint64_t	lat = htole64(m->latency_us);

	memcpy(p, &pid, 4);
	memcpy(p + 4, &att, 4);
	memcpy(p + 8, &lat, 8);
}

void
ctl_meta_get(const char *p, struct ctl_meta *m)
{
	uint32_t	pid, att;
	uint64_t	lat;

	memcpy(&pid, p, 4);
	memcpy(&att, p + 4, 4);
	memcpy(&lat, p + 8, 8);
	m->pid = le32toh(pid);
	m->attempts = le32toh(att);
	m->latency_us = le64toh(lat);
}

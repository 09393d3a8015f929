/*
 * Control protocol headers: validation and the RESULT metadata (ctl.h).
 * Only the header is checked here; a JOB's payload size is checked by the
 * daemon against its pool's max_job_bytes before it is buffered.
 */
#include <endian.h>
#include <stdbool.h>
#include <string.h>

#include "ctl.h"
#include "status.h"

const char *
ctl_type_name(unsigned type)
{
	static const char *const names[] = {
		"?", "REQUEST", "REPLY", "JOB", "END", "RESULT", "BYE",
		"CANCEL", "ACCEPTED", "RECORDS", "SUMS", "INPUT", "READ"
	};

	return (type <= CTL_READ ? names[type] : "unknown");
}

/*
 * A batched RESULT's header: status ok, CTL_F_BATCH and one type, a whole
 * number of items after the head (ctl.h: CTL_RUN_* or, with CTL_F_RUNLAT,
 * CTL_RUNLAT_*), within FRAME_BATCH_MAX.
 */
static bool
ctl_run_ok(const struct frame_hdr *h, uint8_t flags)
{
	size_t	 head = CTL_RUN_HEAD, item = CTL_RUN_ITEM;

	if (flags & CTL_F_RUNLAT) {
		head = CTL_RUNLAT_HEAD;
		item = CTL_RUNLAT_ITEM;
	}
	flags &= (uint8_t)~CTL_F_RUNLAT;
	return (h->status == 0 && h->len >= head + item &&
	    h->len <= FRAME_BATCH_MAX && (h->len - head) % item == 0 &&
	    (flags == (CTL_F_BATCH | CTL_F_INT) ||
	    flags == (CTL_F_BATCH | CTL_F_DOUBLE)));
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
	if (h->type < CTL_REQUEST || h->type > CTL_READ) {
		*why = "unknown message type";
		return (FRAME_BAD);
	}
	if (p[7] != 0 || (p[6] != 0 && h->type != CTL_RESULT)) {
		*why = "non-zero reserved header bytes";
		return (FRAME_BAD);
	}
	if (((uint8_t)p[6] & (CTL_F_BATCH | CTL_F_RUNLAT)) &&
	    !ctl_run_ok(h, (uint8_t)p[6])) {
		*why = "bad batched RESULT";
		return (FRAME_BAD);
	}
	if ((h->type == CTL_RESULT && h->status >= JOB_NSTATUS) ||
	    (h->type == CTL_ACCEPTED && h->status > CTL_ACC_ENDED) ||
	    (h->type == CTL_READ && h->status > CTL_READ_DECLINED) ||
	    (h->type != CTL_RESULT &&
	    h->type != CTL_ACCEPTED && h->type != CTL_READ &&
	    h->status != 0)) {
		*why = "bad status";
		return (FRAME_BAD);
	}
	if (h->len > FRAME_MAXLEN || ((h->type == CTL_REPLY ||
	    h->type == CTL_BYE) && h->len > CTL_JSON_MAX) ||
	    (h->type == CTL_REQUEST && h->len > CTL_REQUEST_MAX) ||
	    (h->type == CTL_RECORDS && h->len > CTL_RECORDS_MAX)) {
		*why = "message over the size limit";
		return (FRAME_BAD);
	}
	if (h->type == CTL_RECORDS && h->len == 0) {
		*why = "RECORDS without a record";
		return (FRAME_BAD);
	}
	if (h->type == CTL_SUMS && h->len != CTL_SUMS_LEN) {
		*why = "SUMS of the wrong size";
		return (FRAME_BAD);
	}
	if ((h->type == CTL_END || h->type == CTL_CANCEL ||
	    h->type == CTL_ACCEPTED || h->type == CTL_INPUT ||
	    h->type == CTL_READ) && h->len != 0) {
		*why = "END, CANCEL, ACCEPTED, INPUT or READ with a payload";
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

/* A section name of a submit REQUEST's "sections", as a CTL_F_ bit. */
unsigned
ctl_sections_parse(const char *name)
{
	if (strcmp(name, "stderr") == 0)
		return (CTL_F_STDERR);
	if (strcmp(name, "output") == 0)
		return (CTL_F_OUTPUT);
	if (strcmp(name, "fields") == 0)
		return (CTL_F_FIELDS);
	if (strcmp(name, "input") == 0)
		return (CTL_F_INPUT);
	if (strcmp(name, "typed") == 0)
		return (CTL_F_TYPED);
	if (strcmp(name, "batch") == 0)
		return (CTL_F_BATCH);
	if (strcmp(name, "runlat") == 0)
		return (CTL_F_RUNLAT);
	if (strcmp(name, "sums") == 0)
		return (CTL_S_SUMS);
	return (0);		/* unknown: ignored, for later sections */
}

/* A SUMS' payload (CTL_SUMS_LEN bytes at p) from u. */
void
ctl_sums_put(char *p, const struct ctl_sums *u)
{
	uint64_t	 w[5];

	ctl_meta_put(p, &u->meta);
	w[0] = htole64(u->jobs);
	w[1] = htole64((uint64_t)u->sum);
	w[2] = htole64((uint64_t)((u128)u->sum >> 64));
	w[3] = htole64((uint64_t)u->min);
	w[4] = htole64((uint64_t)u->max);
	memcpy(p + CTL_META_LEN, w, sizeof(w));
}

/*
 * A SUMS' payload at p for jobs id on, into u: -1 with why if it cannot
 * be the sum of that many 64-bit integers whose least and greatest are
 * min and max, or if its jobs go past the last id.
 */
int
ctl_sums_get(const char *p, uint64_t id, struct ctl_sums *u,
    const char **why)
{
	uint64_t	 w[5];
	i128		 n;

	ctl_meta_get(p, &u->meta);
	memcpy(w, p + CTL_META_LEN, sizeof(w));
	u->jobs = le64toh(w[0]);
	u->sum = (i128)(((u128)le64toh(w[2]) << 64) |
	    le64toh(w[1]));
	u->min = (int64_t)le64toh(w[3]);
	u->max = (int64_t)le64toh(w[4]);
	n = (i128)u->jobs - 1;	/* |n * min| < 2^96: no overflow */
	if (u->jobs == 0 || u->jobs > CTL_SUMS_JOBS)
		*why = "SUMS of no jobs, or of too many";
	else if (id > UINT64_MAX - (u->jobs - 1))
		*why = "SUMS past the last job id";
	else if (u->min > u->max || u->sum < n * u->min + u->max ||
	    u->sum > u->min + n * u->max)
		*why = "SUMS whose sum is not of its least and greatest";
	else
		return (0);
	return (-1);
}

/*
 * Split a RESULT's payload after its meta (p, len) into the sections its
 * flags name and the output or reason, as frame_result_split() does for a
 * worker's (the first three sections are the same), then the input
 * section; a typed output (CTL_F_INT, CTL_F_DOUBLE) into r->num.  -1 with
 * why if the payload does not hold what it says.
 */
int
ctl_result_split(const char *p, size_t len, const struct frame_hdr *h,
    struct frame_result *r, const char **in, size_t *inlen, const char **why)
{
	struct frame_hdr	 fh = *h;
	uint32_t		 n;

	fh.status = h->status == 0 ? FRAME_OK : FRAME_FAIL;
	fh.flags = h->flags & (CTL_F_STDERR | CTL_F_OUTPUT | CTL_F_FIELDS |
	    CTL_F_TYPED);
	if ((h->flags & CTL_F_TYPED) && (h->flags & CTL_F_INPUT)) {
		*why = "RESULT typed, with an input section";
		return (-1);
	}
	if (frame_result_split(p, len, &fh, FRAME_MAXLEN, r, why) == -1)
		return (-1);
	*in = NULL;
	*inlen = 0;
	if (!(h->flags & CTL_F_INPUT))
		return (0);
	if (r->outlen < 4) {
		*why = "RESULT input section cut short";
		return (-1);
	}
	memcpy(&n, r->out, 4);
	n = le32toh(n);
	if (n > CTL_INPUT_SHOWN || n > r->outlen - 4) {
		*why = "RESULT input section over its size";
		return (-1);
	}
	*in = r->out + 4;
	*inlen = n;
	r->out += 4 + n;
	r->outlen -= 4 + n;
	return (0);
}

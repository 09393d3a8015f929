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
	{ "result-output",	FRAME_CAP_RESULT_OUTPUT },
	{ "result-fields",	FRAME_CAP_RESULT_FIELDS },
	{ "job-cwd",		FRAME_CAP_JOB_CWD },
	{ "result-typed",	FRAME_CAP_RESULT_TYPED },
	{ "job-batch",		FRAME_CAP_JOB_BATCH },
	{ "result-batch",	FRAME_CAP_RESULT_BATCH },
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
 * Is a header with FRAME_F_BATCH one of the two batched frames
 * (job-batch, result-batch)?  A JOB with no other flag and 1 to
 * FRAME_BATCH_MAX bytes of jobs; an OK RESULT with one type flag and 1 to
 * FRAME_BATCH_MAX / 8 outputs of 8 bytes.
 */
static bool
frame_batch_ok(const struct frame_hdr *h)
{
	if (h->len == 0 || h->len > FRAME_BATCH_MAX)
		return (false);
	if (h->type == FRAME_JOB)
		return (h->flags == FRAME_F_BATCH && h->status == 0);
	return (h->status == FRAME_OK && h->len % 8 == 0 &&
	    (h->flags == (FRAME_F_BATCH | FRAME_F_INT) ||
	    h->flags == (FRAME_F_BATCH | FRAME_F_DOUBLE)));
}

/*
 * frame_parse(), but a RESULT or a JOB may have those header flags in
 * flagmask set (those of the capabilities in effect) that are its own: a
 * RESULT's sections and type, a JOB's cwd, either's batch
 * (frame_batch_ok()).
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
	if ((hdr->flags & ~(flagmask & (hdr->type == FRAME_RESULT ?
	    (FRAME_F_STDERR | FRAME_F_OUTPUT | FRAME_F_FIELDS |
	    FRAME_F_TYPED | FRAME_F_BATCH) :
	    hdr->type == FRAME_JOB ? FRAME_F_CWD | FRAME_F_BATCH : 0))) !=
	    0 || p[7] != 0) {
		*why = "non-zero reserved header bytes";
		return (FRAME_BAD);
	}
	if ((hdr->flags & FRAME_F_BATCH) && !frame_batch_ok(hdr)) {
		*why = hdr->type == FRAME_JOB ? "bad batched JOB" :
		    "bad batched RESULT";
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

/*
 * The longest RESULT payload, with the sections of the capabilities in
 * caps, when an output (and a stderr, a stdout) may hold max bytes.
 */
uint64_t
frame_result_max(uint32_t max, uint32_t caps)
{
	uint64_t	 n = max;

	if (caps & FRAME_CAP_RESULT_STDERR)
		n += 4 + (uint64_t)max;
	if (caps & FRAME_CAP_RESULT_OUTPUT)
		n += 4 + (uint64_t)max;
	if (caps & FRAME_CAP_RESULT_FIELDS)
		n += 4 + FRAME_FIELDS_LEN_MAX;
	if (caps & FRAME_CAP_RESULT_TYPED)
		n += 16;	/* an i128, where a short output may be */
	if ((caps & FRAME_CAP_RESULT_BATCH) && n < FRAME_BATCH_MAX)
		n = FRAME_BATCH_MAX;	/* a run of typed outputs */
	return (n > FRAME_MAXLEN ? FRAME_MAXLEN : n);
}

/* The sections, for the reasons of their errors. */
static const struct {
	const char	*shorter;
	const char	*longer;
} frame_sect_why[] = {
	{ "RESULT shorter than its stderr length",
	    "RESULT stderr section longer than the payload" },
	{ "RESULT shorter than its output length",
	    "RESULT output section longer than the payload" },
	{ "RESULT shorter than its fields length",
	    "RESULT fields section longer than the payload" },
};

/*
 * Take section k (a u32 length, then its bytes) off the front of *p, *len:
 * -1 with *why set when it does not fit or is over max.
 */
static int
frame_section(const char **p, size_t *len, size_t max, const char **sp,
    size_t *slen, int k, const char **why)
{
	uint32_t	 n;

	if (*len < 4) {
		*why = frame_sect_why[k].shorter;
		return (-1);
	}
	memcpy(&n, *p, 4);
	n = le32toh(n);
	if (n > *len - 4) {
		*why = frame_sect_why[k].longer;
		return (-1);
	}
	if (n > max) {
		*why = "frame payload over the size limit";
		return (-1);
	}
	*sp = *p + 4;
	*slen = n;
	*p += 4 + (size_t)n;
	*len -= 4 + (size_t)n;
	return (0);
}

/*
 * Split a RESULT payload (p, len, of the frame h) into its sections, in
 * the order of their flags: stderr, output (FAIL only), fields, then the
 * output or reason.  Every length is checked before it is used; max holds
 * the output, the stderr and the stdout each.  -1 with *why set when the
 * payload is not valid (the fields are checked too).
 */
int
frame_result_split(const char *p, size_t len, const struct frame_hdr *h,
    uint32_t max, struct frame_result *r, const char **why)
{
	memset(r, 0, sizeof(*r));
	if ((h->flags & FRAME_F_STDERR) && frame_section(&p, &len, max,
	    &r->err, &r->errlen, 0, why) == -1)
		return (-1);
	if (h->flags & FRAME_F_OUTPUT) {
		if (h->status != FRAME_FAIL) {
			*why = "output section in an OK RESULT";
			return (-1);
		}
		if (frame_section(&p, &len, max, &r->sout, &r->soutlen,
		    1, why) == -1)
			return (-1);
	}
	if (h->flags & FRAME_F_FIELDS) {
		if (frame_section(&p, &len, FRAME_FIELDS_LEN_MAX, &r->fields,
		    &r->fieldslen, 2, why) == -1)
			return (-1);
		if (frame_fields_check(r->fields, r->fieldslen, why) == -1)
			return (-1);
	}
	if (h->flags & FRAME_F_TYPED) {
		if (h->status != FRAME_OK) {
			*why = "typed output in a FAIL RESULT";
			return (-1);
		}
		r->out = "";
		return (frame_num_get(p, len, h->flags, &r->num, why));
	}
	if (len > max) {
		*why = "frame payload over the size limit";
		return (-1);
	}
	r->out = p;
	r->outlen = len;
	return (0);
}

/*
 * A typed output (result-typed) of len bytes at p, as the RESULT flags
 * say: FRAME_F_INT, 8 bytes (an i64) or 16 (an i128, the low half
 * first), or FRAME_F_DOUBLE, 8 bytes; little-endian.  -1 with *why set
 * when the length is not one of those or both flags are set.
 */
int
frame_num_get(const char *p, size_t len, uint8_t flags, struct num_value *v,
    const char **why)
{
	uint64_t	 lo, hi;
	double		 d;

	flags &= FRAME_F_TYPED;
	if (flags == FRAME_F_INT && (len == 8 || len == 16)) {
		memcpy(&lo, p, 8);
		lo = le64toh(lo);
		if (len == 8)
			v->i = (i128)(int64_t)lo;
		else {
			memcpy(&hi, p + 8, 8);
			hi = le64toh(hi);
			v->i = (i128)(((u128)hi << 64) | lo);
		}
		v->kind = NUM_INT;
		return (0);
	}
	if (flags == FRAME_F_DOUBLE && len == 8) {
		memcpy(&lo, p, 8);
		lo = le64toh(lo);
		memcpy(&d, &lo, 8);
		v->d = d;
		v->kind = NUM_DOUBLE;
		return (0);
	}
	*why = flags == FRAME_F_TYPED ? "RESULT both integer and double" :
	    "typed output of a bad length";
	return (-1);
}

/*
 * Write v as a typed output at p (16 bytes of room): an integer in 8
 * bytes when it fits in 64 bits, else 16; a double in 8.  Sets *flag to
 * the RESULT flag it needs and returns the length; 0 for NUM_NONE.
 */
size_t
frame_num_put(char *p, const struct num_value *v, uint8_t *flag)
{
	uint64_t	 lo, hi;

	*flag = 0;
	if (v->kind == NUM_DOUBLE) {
		memcpy(&lo, &v->d, 8);
		lo = htole64(lo);
		memcpy(p, &lo, 8);
		*flag = FRAME_F_DOUBLE;
		return (8);
	}
	if (v->kind != NUM_INT)
		return (0);
	*flag = FRAME_F_INT;
	lo = htole64((uint64_t)(u128)v->i);
	memcpy(p, &lo, 8);
	if (v->i >= INT64_MIN && v->i <= INT64_MAX)
		return (8);
	hi = htole64((uint64_t)((u128)v->i >> 64));
	memcpy(p + 8, &hi, 8);
	return (16);
}

/* The members of a job's JSON record, which a field may not be. */
static const char *const frame_reserved[] = {
	"id", "status", "output", "error", "attempts", "worker",
	"latency_us", "stderr", "summary",
};

/* Is (p, len) a valid field name: [a-z0-9_]{1,32}, not reserved? */
bool
frame_field_name_ok(const char *p, size_t len)
{
	size_t	 i;

	if (len < 1 || len > FRAME_FIELD_NAME_MAX)
		return (false);
	for (i = 0; i < len; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') ||
		    (p[i] >= '0' && p[i] <= '9') || p[i] == '_'))
			return (false);
	for (i = 0; i < sizeof(frame_reserved) / sizeof(frame_reserved[0]);
	    i++)
		if (strlen(frame_reserved[i]) == len &&
		    memcmp(frame_reserved[i], p, len) == 0)
			return (false);
	return (true);
}

/*
 * Read one field off a fields section (*p, *len), without checks beyond
 * the lengths: 1 with *f set, 0 at the end, -1 with *why set when the
 * bytes cannot be a field.
 */
static int
frame_field_read(const char **p, size_t *len, struct frame_field *f,
    const char **why)
{
	const char	*q = *p;
	size_t		 n = *len, need;
	uint64_t	 v;
	uint32_t	 sl;

	if (n == 0)
		return (0);
	f->namelen = (uint8_t)q[0];
	if (f->namelen < 1 || f->namelen > FRAME_FIELD_NAME_MAX) {
		*why = "field name length out of range";
		return (-1);
	}
	if (n < 2 + f->namelen) {
		*why = "fields section cut in a field";
		return (-1);
	}
	f->name = q + 1;
	f->type = (enum frame_field_type)(uint8_t)q[1 + f->namelen];
	q += 2 + f->namelen;
	n -= 2 + f->namelen;
	switch (f->type) {
	case FRAME_FT_INT:
		if (n < 8) {
			*why = "fields section cut in a field";
			return (-1);
		}
		memcpy(&v, q, 8);
		f->i = (int64_t)le64toh(v);
		need = 8;
		break;
	case FRAME_FT_STR:
		if (n < 4) {
			*why = "fields section cut in a field";
			return (-1);
		}
		memcpy(&sl, q, 4);
		sl = le32toh(sl);
		if (sl > FRAME_FIELD_STR_MAX) {
			*why = "field string over the size limit";
			return (-1);
		}
		if (n - 4 < sl) {
			*why = "fields section cut in a field";
			return (-1);
		}
		f->s = q + 4;
		f->slen = sl;
		need = 4 + (size_t)sl;
		break;
	default:
		*why = "unknown field type";
		return (-1);
	}
	*p = q + need;
	*len = n - need;
	return (1);
}

/*
 * Check a fields section: every field whole, of a known type, within the
 * limits, its name valid, not reserved and not repeated; at most
 * FRAME_FIELDS_MAX of them.  -1 with *why set when not.
 */
int
frame_fields_check(const char *p, size_t len, const char **why)
{
	struct frame_field f, seen[FRAME_FIELDS_MAX];
	size_t		 n = 0, i;
	int		 rv;

	while ((rv = frame_field_read(&p, &len, &f, why)) == 1) {
		if (!frame_field_name_ok(f.name, f.namelen)) {
			*why = "bad field name";
			return (-1);
		}
		for (i = 0; i < n; i++)
			if (seen[i].namelen == f.namelen &&
			    memcmp(seen[i].name, f.name, f.namelen) == 0) {
				*why = "field named twice";
				return (-1);
			}
		if (n == FRAME_FIELDS_MAX) {
			*why = "too many fields";
			return (-1);
		}
		seen[n++] = f;
	}
	return (rv);
}

/*
 * The next field of a section that frame_fields_check() took: 1 with *f
 * set, 0 at the end.
 */
int
frame_field_next(const char **p, size_t *len, struct frame_field *f)
{
	const char	*why;

	return (frame_field_read(p, len, f, &why) == 1 ? 1 : 0);
}

/*
 * Write one field at p (NULL: only measure it): its name (valid, as
 * frame_field_name_ok() says), its type, and i or (s, slen), slen at most
 * FRAME_FIELD_STR_MAX.  Returns its length.
 */
size_t
frame_field_put(char *p, const char *name, enum frame_field_type type,
    int64_t i, const char *s, size_t slen)
{
	size_t		 nl = strlen(name);
	uint64_t	 v;
	uint32_t	 sl;

	if (p == NULL)
		return (2 + nl + (type == FRAME_FT_INT ? 8 : 4 + slen));
	p[0] = (char)nl;
	memcpy(p + 1, name, nl);
	p[1 + nl] = (char)type;
	p += 2 + nl;
	if (type == FRAME_FT_INT) {
		v = htole64((uint64_t)i);
		memcpy(p, &v, 8);
		return (2 + nl + 8);
	}
	sl = htole32((uint32_t)slen);
	memcpy(p, &sl, 4);
	if (slen != 0)
		memcpy(p + 4, s, slen);
	return (2 + nl + 4 + slen);
}

/*
 * Unit tests for the frame protocol header (common/frame.h, frame.c): the
 * byte layout frame_put() writes, and every answer frame_parse() can give,
 * since that function alone decides whether a peer's bytes are a frame.
 */
#include <check.h>

#include "check_main.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "frame.h"
#include "status.h"

#define BIGMAX	(1U << 20)	/* a maxlen that never gets in the way */

/* Header plus payload of len bytes (a, b, c, ...) into a fresh buffer. */
static char *
mkframe(uint8_t type, uint8_t status, uint32_t len, uint64_t id)
{
	char		*p;
	uint32_t	 i;

	p = malloc(FRAME_HDRLEN + (size_t)len);
	ck_assert_ptr_nonnull(p);
	frame_put(p, type, status, len, id);
	for (i = 0; i < len; i++)
		p[FRAME_HDRLEN + i] = (char)('a' + i % 26);
	return (p);
}

/* Parse a header that must be bad and return the reason given. */
static const char *
parse_bad(const char *p, size_t avail, uint32_t maxlen)
{
	struct frame_hdr h;
	const char	*why = NULL;

	ck_assert_int_eq(frame_parse(p, avail, maxlen, &h, &why), FRAME_BAD);
	ck_assert_ptr_nonnull(why);
	return (why);
}

/* Every type, status, length and id survives frame_put and frame_parse. */
START_TEST(test_roundtrip)
{
	static const uint64_t ids[] = {
		0, 1, FRAME_VERSION, 255, 256, 0xffffffffULL, 0x100000000ULL,
		0x0102030405060708ULL, 0x8000000000000000ULL,
		UINT64_MAX - 1, UINT64_MAX,
	};
	static const uint32_t lens[] = { 0, 1, 7, 255, 256, 4096 };
	static const struct { uint8_t type, status; } ts[] = {
		{ FRAME_HELLO, 0 }, { FRAME_JOB, 0 },
		{ FRAME_RESULT, FRAME_OK }, { FRAME_RESULT, FRAME_FAIL },
	};
	struct frame_hdr h;
	const char	*why, *payload;
	char		*p;
	size_t		 t, i, l;
	int		 n = 0;

	for (t = 0; t < sizeof(ts) / sizeof(ts[0]); t++)
	for (l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		if (ts[t].type == FRAME_HELLO && lens[l] > FRAME_HELLO_MAX)
			continue;
		p = mkframe(ts[t].type, ts[t].status, lens[l], ids[i]);
		memset(&h, 0xa5, sizeof(h));
		why = NULL;
		ck_assert_int_eq(frame_parse(p, FRAME_HDRLEN + lens[l],
		    BIGMAX, &h, &why), FRAME_GOOD);
		ck_assert_ptr_null(why);
		ck_assert_uint_eq(h.type, ts[t].type);
		ck_assert_uint_eq(h.status, ts[t].status);
		ck_assert_uint_eq(h.len, lens[l]);
		ck_assert_uint_eq(h.id, ids[i]);
		payload = p + FRAME_HDRLEN;
		if (lens[l] > 0)
			ck_assert_int_eq(payload[lens[l] - 1],
			    'a' + (int)((lens[l] - 1) % 26));
		free(p);
		n++;
	}
	ck_assert_int_eq(n, 4 * 6 * 11 - 11);
}
END_TEST

/* The header is little-endian, byte for byte, and 16 bytes long. */
START_TEST(test_layout)
{
	static const unsigned char want[FRAME_HDRLEN] = {
		0x01, 0x02, 0x03, 0x04,		/* len, little-endian */
		0x03,				/* type RESULT */
		0x01,				/* status FAIL */
		0x00, 0x00,			/* reserved */
		0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c,
	};
	unsigned char	 p[FRAME_HDRLEN + 2];
	int		 i;

	memset(p, 0xff, sizeof(p));
	frame_put((char *)p, FRAME_RESULT, FRAME_FAIL, 0x04030201U,
	    0x0c0b0a0908070605ULL);
	for (i = 0; i < FRAME_HDRLEN; i++)
		ck_assert_msg(p[i] == want[i], "byte %d is %02x, not %02x",
		    i, p[i], want[i]);
	/* Nothing past the header is touched. */
	ck_assert_uint_eq(p[FRAME_HDRLEN], 0xff);
	ck_assert_uint_eq(p[FRAME_HDRLEN + 1], 0xff);
}
END_TEST

/* The layout of a HELLO header. */
START_TEST(test_layout_hello)
{
	static const unsigned char want[FRAME_HDRLEN] = {
		0x0a, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
		0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	unsigned char	 p[FRAME_HDRLEN];
	int		 i;

	memset(p, 0xee, sizeof(p));
	frame_put((char *)p, FRAME_HELLO, 0, 10, FRAME_VERSION);
	for (i = 0; i < FRAME_HDRLEN; i++)
		ck_assert_msg(p[i] == want[i], "byte %d is %02x, not %02x",
		    i, p[i], want[i]);
}
END_TEST

/* All-ones len and id; such a len is over the hard cap. */
START_TEST(test_layout_max_id)
{
	unsigned char	 p[FRAME_HDRLEN];
	struct frame_hdr h;
	const char	*why = NULL;
	int		 i;

	frame_put((char *)p, FRAME_JOB, 0, 0xffffffffU, UINT64_MAX);
	for (i = 0; i < 4; i++)
		ck_assert_uint_eq(p[i], 0xff);
	ck_assert_uint_eq(p[4], FRAME_JOB);
	ck_assert_uint_eq(p[5], 0);
	ck_assert_uint_eq(p[6], 0);
	ck_assert_uint_eq(p[7], 0);
	for (i = 8; i < 16; i++)
		ck_assert_uint_eq(p[i], 0xff);
	/* A len of 2^32 - 1 is over FRAME_MAXLEN whatever maxlen says. */
	ck_assert_int_eq(frame_parse((char *)p, sizeof(p), UINT32_MAX, &h,
	    &why), FRAME_BAD);
	ck_assert_str_eq(why, "frame payload over the size limit");
}
END_TEST

/* Every proper prefix of a frame is FRAME_NEED. */
START_TEST(test_need_every_prefix)
{
	struct frame_hdr h;
	const char	*why;
	char		*p;
	size_t		 n, total = FRAME_HDRLEN + 20;

	p = mkframe(FRAME_RESULT, FRAME_OK, 20, 42);
	for (n = 0; n < total; n++) {
		why = NULL;
		ck_assert_msg(frame_parse(p, n, BIGMAX, &h, &why) ==
		    FRAME_NEED, "prefix of %zu bytes is not FRAME_NEED", n);
		ck_assert_ptr_null(why);
	}
	ck_assert_int_eq(frame_parse(p, total, BIGMAX, &h, &why), FRAME_GOOD);
	ck_assert_uint_eq(h.len, 20);
	ck_assert_uint_eq(h.id, 42);
	free(p);
}
END_TEST

/* A frame without payload is whole with its header alone. */
START_TEST(test_need_empty_payload)
{
	struct frame_hdr h;
	const char	*why = NULL;
	char		 p[FRAME_HDRLEN + 3];
	size_t		 n;

	frame_put(p, FRAME_JOB, 0, 0, 9);
	for (n = 0; n < FRAME_HDRLEN; n++)
		ck_assert_int_eq(frame_parse(p, n, BIGMAX, &h, &why),
		    FRAME_NEED);
	ck_assert_int_eq(frame_parse(p, FRAME_HDRLEN, BIGMAX, &h, &why),
	    FRAME_GOOD);
	ck_assert_uint_eq(h.len, 0);
	ck_assert_uint_eq(h.id, 9);
	/* Bytes after the frame belong to the next one and are ignored. */
	memset(p + FRAME_HDRLEN, 0x7f, 3);
	ck_assert_int_eq(frame_parse(p, sizeof(p), BIGMAX, &h, &why),
	    FRAME_GOOD);
	ck_assert_uint_eq(h.len, 0);
}
END_TEST

/* Unknown types are FRAME_BAD. */
START_TEST(test_bad_type)
{
	static const uint8_t bad[] = { 0, 4, 5, 0x80, 255 };
	char		 p[FRAME_HDRLEN];
	size_t		 i;

	for (i = 0; i < sizeof(bad); i++) {
		frame_put(p, bad[i], 0, 0, 1);
		ck_assert_str_eq(parse_bad(p, sizeof(p), BIGMAX),
		    "unknown frame type");
	}
}
END_TEST

/* Non-zero reserved bytes are FRAME_BAD. */
START_TEST(test_bad_reserved)
{
	char		 p[FRAME_HDRLEN];

	frame_put(p, FRAME_JOB, 0, 0, 1);
	p[6] = 1;
	ck_assert_str_eq(parse_bad(p, sizeof(p), BIGMAX),
	    "non-zero reserved header bytes");
	frame_put(p, FRAME_JOB, 0, 0, 1);
	p[7] = (char)0x80;
	ck_assert_str_eq(parse_bad(p, sizeof(p), BIGMAX),
	    "non-zero reserved header bytes");
	frame_put(p, FRAME_RESULT, FRAME_OK, 0, 1);
	p[6] = (char)0xff;
	p[7] = (char)0xff;
	ck_assert_str_eq(parse_bad(p, sizeof(p), BIGMAX),
	    "non-zero reserved header bytes");
}
END_TEST

/* A status over FAIL, or any status on a non-RESULT, is FRAME_BAD. */
START_TEST(test_bad_status)
{
	char		 p[FRAME_HDRLEN];

	frame_put(p, FRAME_RESULT, 2, 0, 1);
	ck_assert_str_eq(parse_bad(p, sizeof(p), BIGMAX), "bad frame status");
	frame_put(p, FRAME_RESULT, 255, 0, 1);
	ck_assert_str_eq(parse_bad(p, sizeof(p), BIGMAX), "bad frame status");
	frame_put(p, FRAME_JOB, FRAME_FAIL, 0, 1);
	ck_assert_str_eq(parse_bad(p, sizeof(p), BIGMAX), "bad frame status");
	frame_put(p, FRAME_HELLO, FRAME_FAIL, 0, FRAME_VERSION);
	ck_assert_str_eq(parse_bad(p, sizeof(p), BIGMAX), "bad frame status");
	frame_put(p, FRAME_HELLO, 2, 0, FRAME_VERSION);
	ck_assert_str_eq(parse_bad(p, sizeof(p), BIGMAX), "bad frame status");
}
END_TEST

/* A payload over maxlen or FRAME_MAXLEN is refused from the header. */
START_TEST(test_maxlen)
{
	struct frame_hdr h;
	const char	*why = NULL;
	char		*p;

	/* Exactly maxlen is fine; one more is refused from the header alone. */
	p = mkframe(FRAME_RESULT, FRAME_OK, 100, 5);
	ck_assert_int_eq(frame_parse(p, FRAME_HDRLEN + 100, 100, &h, &why),
	    FRAME_GOOD);
	ck_assert_uint_eq(h.len, 100);
	ck_assert_int_eq(frame_parse(p, FRAME_HDRLEN + 100, 99, &h, &why),
	    FRAME_BAD);
	ck_assert_str_eq(why, "frame payload over the size limit");
	free(p);

	p = mkframe(FRAME_JOB, 0, 0, 5);
	frame_put(p, FRAME_JOB, 0, 101, 5);
	ck_assert_str_eq(parse_bad(p, FRAME_HDRLEN, 100),
	    "frame payload over the size limit");
	frame_put(p, FRAME_JOB, 0, 1, 5);
	ck_assert_str_eq(parse_bad(p, FRAME_HDRLEN, 0),
	    "frame payload over the size limit");
	/* FRAME_MAXLEN is a hard cap even when the caller allows more. */
	frame_put(p, FRAME_JOB, 0, FRAME_MAXLEN + 1, 5);
	ck_assert_str_eq(parse_bad(p, FRAME_HDRLEN, UINT32_MAX),
	    "frame payload over the size limit");
	frame_put(p, FRAME_JOB, 0, FRAME_MAXLEN, 5);
	why = NULL;
	ck_assert_int_eq(frame_parse(p, FRAME_HDRLEN, UINT32_MAX, &h, &why),
	    FRAME_NEED);
	ck_assert_ptr_null(why);
	ck_assert_uint_eq(h.len, FRAME_MAXLEN);
	free(p);
}
END_TEST

/* A HELLO payload may not exceed FRAME_HELLO_MAX. */
START_TEST(test_hello_max)
{
	struct frame_hdr h;
	const char	*why = NULL;
	char		*p;

	p = mkframe(FRAME_HELLO, 0, FRAME_HELLO_MAX, FRAME_VERSION);
	ck_assert_int_eq(frame_parse(p, FRAME_HDRLEN + FRAME_HELLO_MAX,
	    BIGMAX, &h, &why), FRAME_GOOD);
	ck_assert_uint_eq(h.len, FRAME_HELLO_MAX);
	ck_assert_uint_eq(h.id, FRAME_VERSION);
	free(p);

	p = mkframe(FRAME_HELLO, 0, FRAME_HELLO_MAX + 1, FRAME_VERSION);
	ck_assert_str_eq(parse_bad(p, FRAME_HDRLEN + FRAME_HELLO_MAX + 1,
	    BIGMAX), "HELLO payload too long");
	ck_assert_str_eq(parse_bad(p, FRAME_HDRLEN, BIGMAX),
	    "HELLO payload too long");
	free(p);

	/* The HELLO limit is not applied to other types. */
	p = mkframe(FRAME_JOB, 0, FRAME_HELLO_MAX + 1, 3);
	ck_assert_int_eq(frame_parse(p, FRAME_HDRLEN + FRAME_HELLO_MAX + 1,
	    BIGMAX, &h, &why), FRAME_GOOD);
	free(p);
}
END_TEST

/* Frames back to back in one buffer parse one after another. */
START_TEST(test_back_to_back)
{
	static const struct {
		uint8_t		 type, status;
		uint64_t	 id;
		const char	*payload;
	} fs[] = {
		{ FRAME_HELLO, 0, FRAME_VERSION, "drover-worker 0.1" },
		{ FRAME_JOB, 0, 1, "first job" },
		{ FRAME_JOB, 0, 2, "" },
		{ FRAME_RESULT, FRAME_OK, 2, "ok\n" },
		{ FRAME_RESULT, FRAME_FAIL, 1, "exit status 3" },
		{ FRAME_JOB, 0, UINT64_MAX, "x" },
	};
	const size_t	 nf = sizeof(fs) / sizeof(fs[0]);
	struct frame_hdr h;
	const char	*why = NULL;
	char		 stream[512];
	size_t		 off = 0, len, i;

	for (i = 0; i < nf; i++) {
		len = strlen(fs[i].payload);
		frame_put(stream + off, fs[i].type, fs[i].status,
		    (uint32_t)len, fs[i].id);
		memcpy(stream + off + FRAME_HDRLEN, fs[i].payload, len);
		off += FRAME_HDRLEN + len;
	}
	/* A trailing partial header: the stream ends in FRAME_NEED. */
	frame_put(stream + off, FRAME_JOB, 0, 4, 77);
	len = off + 10;

	off = 0;
	for (i = 0; i < nf; i++) {
		ck_assert_int_eq(frame_parse(stream + off, len - off, BIGMAX,
		    &h, &why), FRAME_GOOD);
		ck_assert_uint_eq(h.type, fs[i].type);
		ck_assert_uint_eq(h.status, fs[i].status);
		ck_assert_uint_eq(h.id, fs[i].id);
		ck_assert_uint_eq(h.len, strlen(fs[i].payload));
		ck_assert_mem_eq(stream + off + FRAME_HDRLEN, fs[i].payload,
		    h.len);
		off += FRAME_HDRLEN + h.len;
	}
	ck_assert_uint_eq(len - off, 10);
	ck_assert_int_eq(frame_parse(stream + off, len - off, BIGMAX, &h,
	    &why), FRAME_NEED);
}
END_TEST

/* frame_type_name() for known and unknown types. */
START_TEST(test_type_name)
{
	ck_assert_str_eq(frame_type_name(FRAME_HELLO), "HELLO");
	ck_assert_str_eq(frame_type_name(FRAME_JOB), "JOB");
	ck_assert_str_eq(frame_type_name(FRAME_RESULT), "RESULT");
	ck_assert_str_eq(frame_type_name(0), "unknown");
	ck_assert_str_eq(frame_type_name(4), "unknown");
	ck_assert_str_eq(frame_type_name(256 + FRAME_JOB), "unknown");
}
END_TEST

/* ctl_parse(): the control protocol's header rules (docs/protocol.md). */
static enum frame_parse
ctl_hdr(uint8_t type, uint8_t status, uint32_t len, const char **why)
{
	char			 p[FRAME_HDRLEN];
	struct frame_hdr	 h;

	*why = NULL;
	frame_put(p, type, status, len, 1);
	return (ctl_parse(p, sizeof(p), &h, why));
}

START_TEST(test_ctl_sizes)
{
	const char	*why;

	ck_assert_int_eq(ctl_hdr(CTL_REQUEST, 0, CTL_REQUEST_MAX, &why),
	    FRAME_GOOD);
	/* A request is small: a header announcing more is refused at once. */
	ck_assert_int_eq(ctl_hdr(CTL_REQUEST, 0, CTL_REQUEST_MAX + 1, &why),
	    FRAME_BAD);
	ck_assert_str_eq(why, "message over the size limit");
	ck_assert_int_eq(ctl_hdr(CTL_REPLY, 0, CTL_JSON_MAX, &why),
	    FRAME_GOOD);
	ck_assert_int_eq(ctl_hdr(CTL_REPLY, 0, CTL_JSON_MAX + 1, &why),
	    FRAME_BAD);
	ck_assert_int_eq(ctl_hdr(CTL_JOB, 0, FRAME_MAXLEN, &why), FRAME_GOOD);
	ck_assert_int_eq(ctl_hdr(CTL_JOB, 0, FRAME_MAXLEN + 1, &why),
	    FRAME_BAD);
	ck_assert_int_eq(ctl_hdr(CTL_END, 0, 1, &why), FRAME_BAD);
	ck_assert_int_eq(ctl_hdr(CTL_CANCEL, 0, 1, &why), FRAME_BAD);
	ck_assert_int_eq(ctl_hdr(CTL_RESULT, 0, CTL_META_LEN - 1, &why),
	    FRAME_BAD);
	ck_assert_int_eq(ctl_hdr(CTL_RESULT, 0, CTL_META_LEN, &why),
	    FRAME_GOOD);
	/* RECORDS: at least one byte (a delimiter), at most 64 KiB. */
	ck_assert_int_eq(ctl_hdr(CTL_RECORDS, 0, 1, &why), FRAME_GOOD);
	ck_assert_int_eq(ctl_hdr(CTL_RECORDS, 0, CTL_RECORDS_MAX, &why),
	    FRAME_GOOD);
	ck_assert_int_eq(ctl_hdr(CTL_RECORDS, 0, CTL_RECORDS_MAX + 1, &why),
	    FRAME_BAD);
	ck_assert_str_eq(why, "message over the size limit");
	ck_assert_int_eq(ctl_hdr(CTL_RECORDS, 0, 0, &why), FRAME_BAD);
	ck_assert_str_eq(why, "RECORDS without a record");
	ck_assert_int_eq(ctl_hdr(CTL_RECORDS, 1, 1, &why), FRAME_BAD);
}
END_TEST

START_TEST(test_ctl_types_and_status)
{
	char			 p[FRAME_HDRLEN];
	struct frame_hdr	 h;
	const char		*why;

	ck_assert_int_eq(ctl_hdr(0, 0, 0, &why), FRAME_BAD);
	ck_assert_int_eq(ctl_hdr(CTL_READ + 1, 0, 0, &why), FRAME_BAD);
	ck_assert_str_eq(why, "unknown message type");
	/* INPUT and READ: no payload; READ's status 0, ENDED or DECLINED. */
	ck_assert_int_eq(ctl_hdr(CTL_INPUT, 0, 0, &why), FRAME_GOOD);
	ck_assert_int_eq(ctl_hdr(CTL_INPUT, 0, 1, &why), FRAME_BAD);
	ck_assert_str_eq(why, "END, CANCEL, ACCEPTED, INPUT or READ with a "
	    "payload");
	ck_assert_int_eq(ctl_hdr(CTL_INPUT, 1, 0, &why), FRAME_BAD);
	ck_assert_int_eq(ctl_hdr(CTL_READ, 0, 0, &why), FRAME_GOOD);
	ck_assert_int_eq(ctl_hdr(CTL_READ, CTL_READ_ENDED, 0, &why),
	    FRAME_GOOD);
	ck_assert_int_eq(ctl_hdr(CTL_READ, CTL_READ_DECLINED, 0, &why),
	    FRAME_GOOD);
	ck_assert_int_eq(ctl_hdr(CTL_READ, 3, 0, &why), FRAME_BAD);
	ck_assert_str_eq(why, "bad status");
	ck_assert_int_eq(ctl_hdr(CTL_READ, 0, 8, &why), FRAME_BAD);
	ck_assert_str_eq(ctl_type_name(CTL_INPUT), "INPUT");
	ck_assert_str_eq(ctl_type_name(CTL_READ), "READ");
	/* ACCEPTED: no payload, status 0 or CTL_ACC_ENDED. */
	ck_assert_int_eq(ctl_hdr(CTL_ACCEPTED, 0, 0, &why), FRAME_GOOD);
	ck_assert_int_eq(ctl_hdr(CTL_ACCEPTED, CTL_ACC_ENDED, 0, &why),
	    FRAME_GOOD);
	ck_assert_int_eq(ctl_hdr(CTL_ACCEPTED, 2, 0, &why), FRAME_BAD);
	ck_assert_str_eq(why, "bad status");
	ck_assert_int_eq(ctl_hdr(CTL_ACCEPTED, 0, 1, &why), FRAME_BAD);
	ck_assert_int_eq(ctl_hdr(CTL_JOB, 1, 0, &why), FRAME_BAD);
	ck_assert_int_eq(ctl_hdr(CTL_RESULT, JOB_NSTATUS - 1, CTL_META_LEN,
	    &why), FRAME_GOOD);
	ck_assert_int_eq(ctl_hdr(CTL_RESULT, JOB_NSTATUS, CTL_META_LEN,
	    &why), FRAME_BAD);
	frame_put(p, CTL_JOB, 0, 0, 1);
	p[7] = 1;
	ck_assert_int_eq(ctl_parse(p, sizeof(p), &h, &why), FRAME_BAD);
	ck_assert_str_eq(why, "non-zero reserved header bytes");
	ck_assert_int_eq(ctl_parse(p, FRAME_HDRLEN - 1, &h, &why), FRAME_NEED);
}
END_TEST

/* A control header with flags (ctl_parse()). */
static enum frame_parse
ctl_hdr_fl(uint8_t type, uint8_t status, uint8_t flags, uint32_t len,
    const char **why)
{
	char			 p[FRAME_HDRLEN];
	struct frame_hdr	 h;

	*why = NULL;
	frame_put(p, type, status, len, 1);
	p[6] = (char)flags;
	return (ctl_parse(p, sizeof(p), &h, why));
}

/*
 * The runs of one format (flags f, with CTL_F_INT; head and item bytes):
 * one item and two ok, the most that fit ok; a head alone, part of an
 * item, one item past the limit, a status, a section beside, not ok.
 */
static void
check_run_format(uint8_t f, uint32_t head, uint32_t item)
{
	const uint8_t	 bi = f | CTL_F_INT, bd = f | CTL_F_DOUBLE;
	const uint32_t	 one = head + item;
	const char	*why;

	ck_assert_int_eq(ctl_hdr_fl(CTL_RESULT, 0, bi, one, &why), FRAME_GOOD);
	ck_assert_int_eq(ctl_hdr_fl(CTL_RESULT, 0, bd, one + item, &why),
	    FRAME_GOOD);
	ck_assert_int_eq(ctl_hdr_fl(CTL_RESULT, 0, bi, head +
	    (FRAME_BATCH_MAX - head) / item * item, &why), FRAME_GOOD);
	ck_assert_int_eq(ctl_hdr_fl(CTL_RESULT, 0, bi, head, &why), FRAME_BAD);
	ck_assert_str_eq(why, "bad batched RESULT");
	ck_assert_int_eq(ctl_hdr_fl(CTL_RESULT, 0, bi, one + item / 2, &why),
	    FRAME_BAD);
	ck_assert_int_eq(ctl_hdr_fl(CTL_RESULT, 0, bi, head +
	    ((FRAME_BATCH_MAX - head) / item + 1) * item, &why), FRAME_BAD);
	ck_assert_int_eq(ctl_hdr_fl(CTL_RESULT, 1, bi, one, &why), FRAME_BAD);
	ck_assert_str_eq(why, "bad batched RESULT");
	ck_assert_int_eq(ctl_hdr_fl(CTL_RESULT, 0, f, one, &why), FRAME_BAD);
	ck_assert_int_eq(ctl_hdr_fl(CTL_RESULT, 0, bi | CTL_F_STDERR, one,
	    &why), FRAME_BAD);
	ck_assert_int_eq(ctl_hdr_fl(CTL_JOB, 0, bi, one, &why), FRAME_BAD);
	ck_assert_str_eq(why, "non-zero reserved header bytes");
}

/* A batched control RESULT ("batch"): a run head and whole items. */
START_TEST(test_ctl_batch)
{
	check_run_format(CTL_F_BATCH, CTL_RUN_HEAD, CTL_RUN_ITEM);
	ck_assert_uint_eq(ctl_sections_parse("batch"), CTL_F_BATCH);
}
END_TEST

/* A run of one latency ("runlat"): its head holds it, 8 bytes a job. */
START_TEST(test_ctl_runlat)
{
	const char	*why;

	check_run_format(CTL_F_BATCH | CTL_F_RUNLAT, CTL_RUNLAT_HEAD,
	    CTL_RUNLAT_ITEM);
	ck_assert_uint_eq(ctl_sections_parse("runlat"), CTL_F_RUNLAT);
	/* 24 bytes are a "batch" run of one, not a runlat run of two. */
	ck_assert_int_eq(ctl_hdr_fl(CTL_RESULT, 0, CTL_F_BATCH | CTL_F_INT,
	    CTL_RUN_HEAD + CTL_RUN_ITEM, &why), FRAME_GOOD);
	ck_assert_int_eq(ctl_hdr_fl(CTL_RESULT, 0, CTL_F_BATCH | CTL_F_INT |
	    CTL_F_RUNLAT, CTL_RUN_HEAD + CTL_RUN_ITEM + 4, &why), FRAME_BAD);
	/* Not without "batch". */
	ck_assert_int_eq(ctl_hdr_fl(CTL_RESULT, 0, CTL_F_RUNLAT | CTL_F_INT,
	    CTL_META_LEN + 8, &why), FRAME_BAD);
	ck_assert_str_eq(why, "bad batched RESULT");
	ck_assert_int_eq(ctl_hdr_fl(CTL_RESULT, 0, CTL_F_RUNLAT, CTL_META_LEN,
	    &why), FRAME_BAD);
}
END_TEST

/* Version 2: a RESULT's flags only as allowed, other frames' never. */
START_TEST(test_flags)
{
	struct frame_hdr h;
	const char	*why = NULL;
	char		*p;

	p = mkframe(FRAME_RESULT, FRAME_FAIL, 4, 9);
	p[6] = FRAME_F_STDERR;
	ck_assert_int_eq(frame_parse_flags(p, FRAME_HDRLEN + 4, BIGMAX,
	    FRAME_F_STDERR, &h, &why), FRAME_GOOD);
	ck_assert_uint_eq(h.flags, FRAME_F_STDERR);
	ck_assert_str_eq(parse_bad(p, FRAME_HDRLEN + 4, BIGMAX),
	    "non-zero reserved header bytes");
	p[6] = 0x02;			/* a bit no capability gives */
	ck_assert_int_eq(frame_parse_flags(p, FRAME_HDRLEN + 4, BIGMAX,
	    FRAME_F_STDERR, &h, &why), FRAME_BAD);
	p[6] = FRAME_F_STDERR;
	p[4] = FRAME_JOB;
	p[5] = 0;
	ck_assert_int_eq(frame_parse_flags(p, FRAME_HDRLEN + 4, BIGMAX,
	    FRAME_F_STDERR, &h, &why), FRAME_BAD);
	/* A JOB's own flag (job-cwd), only when in effect. */
	p[6] = FRAME_F_CWD;
	ck_assert_int_eq(frame_parse_flags(p, FRAME_HDRLEN + 4, BIGMAX,
	    FRAME_F_CWD, &h, &why), FRAME_GOOD);
	ck_assert_int_eq(frame_parse_flags(p, FRAME_HDRLEN + 4, BIGMAX, 0,
	    &h, &why), FRAME_BAD);
	p[4] = FRAME_RESULT;		/* and never a RESULT's */
	ck_assert_int_eq(frame_parse_flags(p, FRAME_HDRLEN + 4, BIGMAX,
	    FRAME_F_CWD, &h, &why), FRAME_BAD);
	free(p);
}
END_TEST

/* frame_hello_parse() on a HELLO's payload. */
static struct frame_hello
hello(const char *s, int ok)
{
	struct frame_hello h;
	const char	*why = NULL;

	ck_assert_msg(frame_hello_parse(s, strlen(s), &h, &why) ==
	    (ok ? 0 : -1), "%s", s);
	if (!ok)
		ck_assert_str_eq(why, "malformed capability in HELLO");
	return (h);
}

START_TEST(test_hello_parse)
{
	struct frame_hello h;

	h = hello("drover-worker 0.1.0 square", 1);
	ck_assert_int_eq(h.has_caps, 0);
	ck_assert_uint_eq(h.desclen, 26);
	ck_assert_uint_eq(h.caps, 0);
	h = hello("", 1);
	ck_assert_int_eq(h.has_caps, 0);
	h = hello("w\n", 1);
	ck_assert_int_eq(h.has_caps, 1);
	ck_assert_uint_eq(h.desclen, 1);
	ck_assert_uint_eq(h.caps, 0);
	h = hello("w 1\njob-meta result-stderr", 1);
	ck_assert_uint_eq(h.caps, FRAME_CAP_JOB_META |
	    FRAME_CAP_RESULT_STDERR);
	ck_assert_uint_eq(h.desclen, 3);
	/* Unknown names and values are ignored; so are extra spaces. */
	h = hello("w\n typed-results  job-meta x=1 max-result=16777216 ", 1);
	ck_assert_uint_eq(h.caps, FRAME_CAP_JOB_META);
	ck_assert_uint_eq(h.max_result, 16777216);
	/* A later line is for later versions. */
	h = hello("w\nresult-stderr\nanything at all: !", 1);
	ck_assert_uint_eq(h.caps, FRAME_CAP_RESULT_STDERR);
	/* Near misses name nothing. */
	h = hello("w\njob-met job-meta-x job-meta=1", 1);
	ck_assert_uint_eq(h.caps, 0);
	(void)hello("w\nJob-Meta", 0);
	(void)hello("w\njob_meta", 0);
	(void)hello("w\n=x", 0);
	(void)hello("w\nx=", 0);
	(void)hello("w\na=b=c", 0);
	(void)hello("w\nmax-result=0", 0);
	(void)hello("w\nmax-result=12a", 0);
	(void)hello("w\nmax-result=4294967296", 0);
	(void)hello("w\nmax-result=99999999999999999999999", 0);
	h = hello("w\nmax-result=4294967295", 1);
	ck_assert_uint_eq(h.max_result, 4294967295U);
}
END_TEST

/* frame_hello_put() writes what frame_hello_parse() reads, within 256. */
START_TEST(test_hello_put)
{
	struct frame_hello h;
	char		 p[FRAME_HELLO_MAX + 8], desc[400];
	const char	*why;
	size_t		 n;

	n = frame_hello_put(p, sizeof(p), "drover 0.1.0", FRAME_CAP_JOB_META |
	    FRAME_CAP_RESULT_STDERR, 1024);
	ck_assert_uint_eq(n, strlen("drover 0.1.0\njob-meta result-stderr "
	    "max-result=1024"));
	ck_assert_int_eq(memcmp(p, "drover 0.1.0\njob-meta result-stderr "
	    "max-result=1024", n), 0);
	n = frame_hello_put(p, sizeof(p), "a\nb", 0, 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(memcmp(p, "a b\n", 4), 0);
	/* A long description is cut; the capabilities stay whole. */
	memset(desc, 'd', sizeof(desc) - 1);
	desc[sizeof(desc) - 1] = '\0';
	n = frame_hello_put(p, sizeof(p), desc, FRAME_CAP_JOB_META, 0);
	ck_assert_uint_eq(n, FRAME_HELLO_MAX);
	ck_assert_int_eq(frame_hello_parse(p, n, &h, &why), 0);
	ck_assert_uint_eq(h.caps, FRAME_CAP_JOB_META);
	ck_assert_uint_eq(h.desclen, FRAME_HELLO_MAX - 9);
	ck_assert_uint_eq(frame_hello_put(p, 5, "x", FRAME_CAP_JOB_META, 0),
	    0);
}
END_TEST

/* The job-meta block: its layout, and short or dirty blocks refused. */
START_TEST(test_meta)
{
	static const unsigned char want[FRAME_META_LEN] = {
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
		0x03, 0x00, 0x00, 0x00, 0, 0, 0, 0
	};
	char		 p[FRAME_META_LEN + 2];
	uint64_t	 id;
	uint32_t	 att;
	const char	*why;

	frame_meta_put(p, 0x0102030405060708ULL, 3);
	ck_assert_int_eq(memcmp(p, want, sizeof(want)), 0);
	ck_assert_int_eq(frame_meta_get(p, sizeof(p), &id, &att, &why), 0);
	ck_assert_uint_eq(id, 0x0102030405060708ULL);
	ck_assert_uint_eq(att, 3);
	ck_assert_int_eq(frame_meta_get(p, FRAME_META_LEN, &id, &att, &why),
	    0);
	ck_assert_int_eq(frame_meta_get(p, FRAME_META_LEN - 1, &id, &att,
	    &why), -1);
	ck_assert_str_eq(why, "JOB shorter than its job-meta block");
	p[15] = 1;
	ck_assert_int_eq(frame_meta_get(p, sizeof(p), &id, &att, &why), -1);
	ck_assert_str_eq(why, "non-zero reserved job-meta bytes");
}
END_TEST

/* A RESULT's stderr section: every length checked against the payload. */
START_TEST(test_stderr_get)
{
	char		 p[32];
	const char	*err, *why;
	size_t		 n;
	uint32_t	 l;

	l = htole32(3);
	memcpy(p, &l, 4);
	memcpy(p + 4, "errout", 6);
	ck_assert_int_eq(frame_stderr_get(p, 10, &err, &n, &why), 0);
	ck_assert_ptr_eq(err, p + 4);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(frame_stderr_get(p, 7, &err, &n, &why), 0);
	ck_assert_int_eq(frame_stderr_get(p, 6, &err, &n, &why), -1);
	ck_assert_str_eq(why, "RESULT stderr section longer than the payload");
	ck_assert_int_eq(frame_stderr_get(p, 3, &err, &n, &why), -1);
	ck_assert_str_eq(why, "RESULT shorter than its stderr length");
	l = htole32(UINT32_MAX);
	memcpy(p, &l, 4);
	ck_assert_int_eq(frame_stderr_get(p, sizeof(p), &err, &n, &why), -1);
}
END_TEST

/* Append a u32 length and n bytes of s at p; returns the end. */
static char *
put_sect(char *p, const char *s, size_t n)
{
	uint32_t	 l = htole32((uint32_t)n);

	memcpy(p, &l, 4);
	memcpy(p + 4, s, n);
	return (p + 4 + n);
}

/* The sections of a RESULT, in the order of their flags. */
START_TEST(test_result_split)
{
	struct frame_hdr h = { .type = FRAME_RESULT, .status = FRAME_FAIL };
	struct frame_result r;
	char		 p[256], f[64], *q;
	const char	*why;
	size_t		 fl, len;
	uint32_t	 l;

	fl = frame_field_put(f, "n", FRAME_FT_INT, -2, NULL, 0);
	q = put_sect(p, "err", 3);
	q = put_sect(q, "out", 3);
	q = put_sect(q, f, fl);
	memcpy(q, "why", 3);
	len = (size_t)(q + 3 - p);
	h.flags = FRAME_F_STDERR | FRAME_F_OUTPUT | FRAME_F_FIELDS;
	ck_assert_int_eq(frame_result_split(p, len, &h, 100, &r, &why), 0);
	ck_assert_uint_eq(r.errlen, 3);
	ck_assert_int_eq(memcmp(r.err, "err", 3), 0);
	ck_assert_uint_eq(r.soutlen, 3);
	ck_assert_int_eq(memcmp(r.sout, "out", 3), 0);
	ck_assert_uint_eq(r.fieldslen, fl);
	ck_assert_uint_eq(r.outlen, 3);
	ck_assert_int_eq(memcmp(r.out, "why", 3), 0);

	/* Every cut inside the sections is caught, none reads past len. */
	for (size_t cut = 0; cut < len - 3; cut++)
		ck_assert_int_eq(frame_result_split(p, cut, &h, 100, &r,
		    &why), -1);

	/* Over max: a section, or the rest. */
	ck_assert_int_eq(frame_result_split(p, len, &h, 2, &r, &why), -1);
	ck_assert_str_eq(why, "frame payload over the size limit");

	/* An output section only in a FAIL. */
	h.status = FRAME_OK;
	ck_assert_int_eq(frame_result_split(p, len, &h, 100, &r, &why), -1);
	ck_assert_str_eq(why, "output section in an OK RESULT");

	/* Only the flagged sections are taken. */
	h.flags = FRAME_F_FIELDS;
	q = put_sect(p, f, fl);
	ck_assert_int_eq(frame_result_split(p, (size_t)(q - p), &h, 100, &r,
	    &why), 0);
	ck_assert_ptr_null(r.err);
	ck_assert_ptr_null(r.sout);
	ck_assert_uint_eq(r.outlen, 0);
	l = htole32(200);
	memcpy(p, &l, 4);
	ck_assert_int_eq(frame_result_split(p, (size_t)(q - p), &h, 100, &r,
	    &why), -1);
	ck_assert_str_eq(why, "RESULT fields section longer than the payload");
	ck_assert_int_eq(frame_result_split(p, 3, &h, 100, &r, &why), -1);
	ck_assert_str_eq(why, "RESULT shorter than its fields length");
}
END_TEST

/* Typed outputs (result-typed): the bytes, both ways, and their checks. */
START_TEST(test_result_typed)
{
	static const i128 ints[] = { 0, 1, -1, 49, INT64_MAX, INT64_MIN,
	    (i128)INT64_MAX + 1, (i128)INT64_MIN - 1, I128_MAX, I128_MIN,
	    -((i128)1 << 100) };
	struct frame_hdr h = { .type = FRAME_RESULT, .status = FRAME_OK };
	struct frame_result r;
	struct num_value v, back;
	char		 p[64], *q;
	const char	*why;
	size_t		 i, n;
	uint8_t		 flag;

	for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		v.kind = NUM_INT;
		v.i = ints[i];
		n = frame_num_put(p, &v, &flag);
		ck_assert_uint_eq(flag, FRAME_F_INT);
		ck_assert_uint_eq(n, ints[i] >= INT64_MIN &&
		    ints[i] <= INT64_MAX ? 8 : 16);
		ck_assert_int_eq(frame_num_get(p, n, flag, &back, &why), 0);
		ck_assert_int_eq(back.kind, NUM_INT);
		ck_assert(back.i == ints[i]);
	}
	/* The wire bytes: little-endian, the i128's low half first. */
	v.i = -2;
	ck_assert_uint_eq(frame_num_put(p, &v, &flag), 8);
	ck_assert_int_eq(memcmp(p, "\xfe\xff\xff\xff\xff\xff\xff\xff", 8),
	    0);
	v.i = (i128)1 << 64;
	ck_assert_uint_eq(frame_num_put(p, &v, &flag), 16);
	ck_assert_int_eq(memcmp(p, "\0\0\0\0\0\0\0\0\1\0\0\0\0\0\0\0",
	    16), 0);
	v.kind = NUM_DOUBLE;
	v.d = -2.5;
	ck_assert_uint_eq(frame_num_put(p, &v, &flag), 8);
	ck_assert_uint_eq(flag, FRAME_F_DOUBLE);
	ck_assert_int_eq(memcmp(p, "\0\0\0\0\0\0\x04\xc0", 8), 0);
	ck_assert_int_eq(frame_num_get(p, 8, flag, &back, &why), 0);
	ck_assert(back.kind == NUM_DOUBLE && back.d == -2.5);
	v.kind = NUM_NONE;
	ck_assert_uint_eq(frame_num_put(p, &v, &flag), 0);
	ck_assert_uint_eq(flag, 0);

	/* Bad lengths, both flags. */
	ck_assert_int_eq(frame_num_get(p, 4, FRAME_F_INT, &back, &why), -1);
	ck_assert_str_eq(why, "typed output of a bad length");
	ck_assert_int_eq(frame_num_get(p, 16, FRAME_F_DOUBLE, &back, &why),
	    -1);
	ck_assert_int_eq(frame_num_get(p, 8, FRAME_F_TYPED, &back, &why), -1);
	ck_assert_str_eq(why, "RESULT both integer and double");

	/* In a RESULT, after a stderr section; never in a FAIL. */
	q = put_sect(p, "err", 3);
	v.kind = NUM_INT;
	v.i = I128_MIN;
	n = frame_num_put(q, &v, &flag);
	h.flags = FRAME_F_STDERR | flag;
	ck_assert_int_eq(frame_result_split(p, (size_t)(q - p) + n, &h, 4, &r,
	    &why), 0);
	ck_assert_uint_eq(r.errlen, 3);
	ck_assert_uint_eq(r.outlen, 0);
	ck_assert_int_eq(r.num.kind, NUM_INT);
	ck_assert(r.num.i == I128_MIN);
	h.status = FRAME_FAIL;
	ck_assert_int_eq(frame_result_split(p, (size_t)(q - p) + n, &h, 4, &r,
	    &why), -1);
	ck_assert_str_eq(why, "typed output in a FAIL RESULT");
	h.status = FRAME_OK;
	ck_assert_int_eq(frame_result_split(p, (size_t)(q - p) + 3, &h, 4, &r,
	    &why), -1);

	/* A text RESULT has no number. */
	h.flags = 0;
	ck_assert_int_eq(frame_result_split("49", 2, &h, 4, &r, &why), 0);
	ck_assert_int_eq(r.num.kind, NUM_NONE);

	/* The header takes the flags only under the capability's mask. */
	frame_put(p, FRAME_RESULT, FRAME_OK, 8, 7);
	p[6] = FRAME_F_INT;
	memset(p + FRAME_HDRLEN, 0, 8);
	ck_assert_int_eq(frame_parse_flags(p, 24, 100, 0, &h, &why),
	    FRAME_BAD);
	ck_assert_int_eq(frame_parse_flags(p, 24, 100, FRAME_F_TYPED, &h,
	    &why), FRAME_GOOD);
	ck_assert_uint_eq(h.flags, FRAME_F_INT);
}
END_TEST

/* Capabilities caps named in a HELLO (as name) and read back. */
static void
hello_caps(uint32_t caps, const char *name)
{
	struct frame_hello hello;
	const char	*why;
	char		 p[FRAME_HELLO_MAX];
	size_t		 n;

	n = frame_hello_put(p, sizeof(p), "w", caps, 0);
	ck_assert_int_eq(frame_hello_parse(p, n, &hello, &why), 0);
	ck_assert_uint_eq(hello.caps, caps);
	ck_assert_ptr_nonnull(memmem(p, n, name, strlen(name)));
}

/* result-typed, job-batch, result-batch: capabilities by name. */
START_TEST(test_hello_typed)
{
	hello_caps(FRAME_CAP_RESULT_TYPED | FRAME_CAP_JOB_META,
	    "result-typed");
	ck_assert_uint_eq(frame_result_max(100, FRAME_CAP_RESULT_TYPED), 116);
	hello_caps(FRAME_CAP_JOB_BATCH | FRAME_CAP_RESULT_BATCH,
	    "job-batch result-batch");
}
END_TEST

/* Fields: every length, name and type checked; read back as written. */
START_TEST(test_fields)
{
	struct frame_field ff;
	static char	 big[FRAME_FIELD_STR_MAX];
	char		 p[8192], name[40];
	const char	*why, *q;
	size_t		 n = 0, len, i;
	uint32_t	 l;

	n += frame_field_put(p + n, "http_status", FRAME_FT_INT, 404, NULL, 0);
	n += frame_field_put(p + n, "s", FRAME_FT_STR, 0, "a\0b", 3);
	ck_assert_uint_eq(n, 2 + 11 + 8 + 2 + 1 + 4 + 3);
	ck_assert_uint_eq(frame_field_put(NULL, "s", FRAME_FT_STR, 0, "a\0b",
	    3), 10);
	ck_assert_int_eq(frame_fields_check(p, n, &why), 0);
	ck_assert_int_eq(frame_fields_check(p, 0, &why), 0);
	q = p;
	len = n;
	ck_assert_int_eq(frame_field_next(&q, &len, &ff), 1);
	ck_assert_uint_eq(ff.namelen, 11);
	ck_assert_int_eq(ff.type, FRAME_FT_INT);
	ck_assert_int_eq(ff.i, 404);
	ck_assert_int_eq(frame_field_next(&q, &len, &ff), 1);
	ck_assert_int_eq(ff.type, FRAME_FT_STR);
	ck_assert_uint_eq(ff.slen, 3);
	ck_assert_int_eq(memcmp(ff.s, "a\0b", 3), 0);
	ck_assert_int_eq(frame_field_next(&q, &len, &ff), 0);

	/* Truncated anywhere. */
	for (i = 1; i < n; i++)
		if (i != 21)	/* the end of the first field */
			ck_assert_int_eq(frame_fields_check(p, i, &why), -1);
	ck_assert_int_eq(frame_fields_check(p, 21, &why), 0);
	ck_assert_int_eq(frame_fields_check(p, 5, &why), -1);
	ck_assert_str_eq(why, "fields section cut in a field");

	/* Bad names: empty, too long, bad bytes, a member's, twice. */
	p[0] = 0;
	ck_assert_int_eq(frame_fields_check(p, n, &why), -1);
	ck_assert_str_eq(why, "field name length out of range");
	p[0] = 33;
	ck_assert_int_eq(frame_fields_check(p, sizeof(p), &why), -1);
	ck_assert_str_eq(why, "field name length out of range");
	memset(name, 'a', sizeof(name));
	name[32] = '\0';
	n = frame_field_put(p, name, FRAME_FT_INT, 1, NULL, 0);
	ck_assert_int_eq(frame_fields_check(p, n, &why), 0);
	ck_assert(!frame_field_name_ok(name, 33));
	ck_assert(frame_field_name_ok(name, 32));
	for (i = 0; i < 8; i++) {
		static const char *const bad[] = { "A", "a-b", "a b",
		    "\xc3\xa9", "id", "status", "latency_us", "summary" };

		n = frame_field_put(p, bad[i], FRAME_FT_INT, 1, NULL, 0);
		ck_assert_int_eq(frame_fields_check(p, n, &why), -1);
		ck_assert_str_eq(why, "bad field name");
	}
	n = frame_field_put(p, "x", FRAME_FT_INT, 1, NULL, 0);
	n += frame_field_put(p + n, "x", FRAME_FT_STR, 0, "", 0);
	ck_assert_int_eq(frame_fields_check(p, n, &why), -1);
	ck_assert_str_eq(why, "field named twice");

	/* Bad types. */
	n = frame_field_put(p, "x", FRAME_FT_INT, 1, NULL, 0);
	p[2] = 0;
	ck_assert_int_eq(frame_fields_check(p, n, &why), -1);
	ck_assert_str_eq(why, "unknown field type");
	p[2] = 3;
	ck_assert_int_eq(frame_fields_check(p, n, &why), -1);
	ck_assert_str_eq(why, "unknown field type");

	/* Overlong strings: the limit, one more, and a length of 2^32 - 1. */
	memset(big, 'x', sizeof(big));
	n = frame_field_put(p, "s", FRAME_FT_STR, 0, big, sizeof(big));
	ck_assert_int_eq(frame_fields_check(p, n, &why), 0);
	l = htole32(FRAME_FIELD_STR_MAX + 1);
	memcpy(p + 3, &l, 4);
	ck_assert_int_eq(frame_fields_check(p, sizeof(p), &why), -1);
	ck_assert_str_eq(why, "field string over the size limit");
	l = htole32(UINT32_MAX);
	memcpy(p + 3, &l, 4);
	ck_assert_int_eq(frame_fields_check(p, sizeof(p), &why), -1);

	/* At most FRAME_FIELDS_MAX fields. */
	n = 0;
	for (i = 0; i <= FRAME_FIELDS_MAX; i++) {
		snprintf(name, sizeof(name), "f%zu", i);
		if (i == FRAME_FIELDS_MAX)
			ck_assert_int_eq(frame_fields_check(p, n, &why), 0);
		n += frame_field_put(p + n, name, FRAME_FT_INT, 1, NULL, 0);
	}
	ck_assert_int_eq(frame_fields_check(p, n, &why), -1);
	ck_assert_str_eq(why, "too many fields");
}
END_TEST

/* The new capabilities by name, and the largest RESULT under them. */
START_TEST(test_caps_output_fields)
{
	struct frame_hello hello;
	const char	*why;
	char		 p[FRAME_HELLO_MAX];
	size_t		 n;

	n = frame_hello_put(p, sizeof(p), "d", FRAME_CAP_RESULT_OUTPUT |
	    FRAME_CAP_RESULT_FIELDS, 0);
	ck_assert_int_eq(frame_hello_parse(p, n, &hello, &why), 0);
	ck_assert_uint_eq(hello.caps, FRAME_CAP_RESULT_OUTPUT |
	    FRAME_CAP_RESULT_FIELDS);
	ck_assert_int_eq(memcmp(p, "d\nresult-output result-fields", n), 0);
	ck_assert_uint_eq(frame_result_max(100, 0), 100);
	ck_assert_uint_eq(frame_result_max(100, FRAME_CAP_RESULT_STDERR |
	    FRAME_CAP_RESULT_OUTPUT | FRAME_CAP_RESULT_FIELDS),
	    300 + 12 + FRAME_FIELDS_LEN_MAX);
	ck_assert_uint_eq(frame_result_max(FRAME_MAXLEN,
	    FRAME_CAP_RESULT_FIELDS), FRAME_MAXLEN);
}
END_TEST

/* Varints (job-batch): every length round-trips; bad ones are refused. */
START_TEST(test_varint)
{
	static const uint32_t vs[] = {
		0, 1, 127, 128, 255, 16383, 16384, 65535, 2097151, 2097152,
		268435455, 268435456, FRAME_MAXLEN, UINT32_MAX,
	};
	static const size_t lens[] = {
		1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 5, 5, 5,
	};
	char		 p[FRAME_VARINT_MAX + 1];
	uint32_t	 v;
	size_t		 i, n, k;

	for (i = 0; i < sizeof(vs) / sizeof(vs[0]); i++) {
		n = frame_varint_put(p, vs[i]);
		ck_assert_uint_eq(n, lens[i]);
		v = 0;
		ck_assert_uint_eq(frame_varint_get(p, n, &v), n);
		ck_assert_uint_eq(v, vs[i]);
		for (k = 0; k < n; k++)		/* cut short */
			ck_assert_uint_eq(frame_varint_get(p, k, &v), 0);
	}
	memcpy(p, "\x80\x01", 2);		/* 128, low bits first */
	ck_assert_uint_eq(frame_varint_get(p, 2, &v), 2);
	ck_assert_uint_eq(v, 128);
	memcpy(p, "\xff\xff\xff\xff\x10", 5);	/* 2^32: too large */
	ck_assert_uint_eq(frame_varint_get(p, 5, &v), 0);
	memcpy(p, "\x80\x80\x80\x80\x80\x00", 6);	/* six bytes */
	ck_assert_uint_eq(frame_varint_get(p, 6, &v), 0);
}
END_TEST

/* Parse a header with flags and mask; return the outcome. */
static enum frame_parse
parse_fl(uint8_t type, uint8_t status, uint8_t flags, uint32_t len,
    uint8_t mask, const char **why)
{
	struct frame_hdr h;
	enum frame_parse r;
	char		*p = mkframe(type, status, len, 5);

	p[6] = (char)flags;
	r = frame_parse_flags(p, FRAME_HDRLEN + len, BIGMAX, mask, &h, why);
	if (r == FRAME_GOOD) {
		ck_assert_uint_eq(h.flags, flags);
		ck_assert_uint_eq(h.len, len);
	}
	free(p);
	return (r);
}

/*
 * Batched frames (job-batch, result-batch): only under their capability,
 * only the two shapes frame_batch_ok() allows.
 */
START_TEST(test_batch_flags)
{
	const uint8_t	 bi = FRAME_F_BATCH | FRAME_F_INT;
	const uint8_t	 bd = FRAME_F_BATCH | FRAME_F_DOUBLE;
	const uint8_t	 all = FRAME_F_BATCH | FRAME_F_TYPED | FRAME_F_STDERR |
	    FRAME_F_CWD;
	const char	*why = NULL;

	ck_assert_int_eq(parse_fl(FRAME_JOB, 0, FRAME_F_BATCH, 9, all, &why),
	    FRAME_GOOD);
	ck_assert_int_eq(parse_fl(FRAME_JOB, 0, FRAME_F_BATCH,
	    FRAME_BATCH_MAX, all, &why), FRAME_GOOD);
	ck_assert_int_eq(parse_fl(FRAME_RESULT, FRAME_OK, bi, 8, all, &why),
	    FRAME_GOOD);
	ck_assert_int_eq(parse_fl(FRAME_RESULT, FRAME_OK, bd, 64, all, &why),
	    FRAME_GOOD);
	ck_assert_int_eq(parse_fl(FRAME_RESULT, FRAME_OK, bi,
	    FRAME_BATCH_MAX, all, &why), FRAME_GOOD);
	/* Not in effect: a reserved bit. */
	ck_assert_int_eq(parse_fl(FRAME_JOB, 0, FRAME_F_BATCH, 9, FRAME_F_CWD,
	    &why), FRAME_BAD);
	ck_assert_str_eq(why, "non-zero reserved header bytes");
	ck_assert_int_eq(parse_fl(FRAME_RESULT, FRAME_OK, bi, 8,
	    FRAME_F_TYPED, &why), FRAME_BAD);
	ck_assert_str_eq(why, "non-zero reserved header bytes");
	/* Empty, too long, with another flag. */
	ck_assert_int_eq(parse_fl(FRAME_JOB, 0, FRAME_F_BATCH, 0, all, &why),
	    FRAME_BAD);
	ck_assert_str_eq(why, "bad batched JOB");
	ck_assert_int_eq(parse_fl(FRAME_JOB, 0, FRAME_F_BATCH,
	    FRAME_BATCH_MAX + 1, all, &why), FRAME_BAD);
	ck_assert_str_eq(why, "bad batched JOB");
	ck_assert_int_eq(parse_fl(FRAME_JOB, 0, FRAME_F_BATCH | FRAME_F_CWD, 9,
	    all, &why), FRAME_BAD);
	ck_assert_str_eq(why, "bad batched JOB");
	/* A RESULT: typed, OK, whole outputs of 8 bytes, nothing else. */
	ck_assert_int_eq(parse_fl(FRAME_RESULT, FRAME_OK, bi, 12, all, &why),
	    FRAME_BAD);
	ck_assert_str_eq(why, "bad batched RESULT");
	ck_assert_int_eq(parse_fl(FRAME_RESULT, FRAME_OK, bi, 0, all, &why),
	    FRAME_BAD);
	ck_assert_int_eq(parse_fl(FRAME_RESULT, FRAME_OK, bi,
	    FRAME_BATCH_MAX + 8, all, &why), FRAME_BAD);
	ck_assert_int_eq(parse_fl(FRAME_RESULT, FRAME_FAIL, bi, 8, all, &why),
	    FRAME_BAD);
	ck_assert_str_eq(why, "bad batched RESULT");
	ck_assert_int_eq(parse_fl(FRAME_RESULT, FRAME_OK, FRAME_F_BATCH, 8,
	    all, &why), FRAME_BAD);
	ck_assert_int_eq(parse_fl(FRAME_RESULT, FRAME_OK,
	    FRAME_F_BATCH | FRAME_F_TYPED, 8, all, &why), FRAME_BAD);
	ck_assert_int_eq(parse_fl(FRAME_RESULT, FRAME_OK,
	    bi | FRAME_F_STDERR, 8, all, &why), FRAME_BAD);
	ck_assert_str_eq(why, "bad batched RESULT");
	/* And never a HELLO. */
	ck_assert_int_eq(parse_fl(FRAME_HELLO, 0, FRAME_F_BATCH, 8, all, &why),
	    FRAME_BAD);
	ck_assert_str_eq(why, "non-zero reserved header bytes");
	/* A batched RESULT fits the limit a HELLO sets for results. */
	ck_assert_uint_eq(frame_result_max(100, FRAME_CAP_RESULT_TYPED |
	    FRAME_CAP_RESULT_BATCH), FRAME_BATCH_MAX);
	ck_assert_uint_eq(frame_result_max(1U << 20, FRAME_CAP_RESULT_BATCH),
	    1U << 20);
}
END_TEST

static Suite *
frame_suite(void)
{
	Suite	*s = suite_create("frame");
	TCase	*tc;

	tc = tcase_create("layout");
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_layout);
	tcase_add_test(tc, test_layout_hello);
	tcase_add_test(tc, test_layout_max_id);
	tcase_add_test(tc, test_type_name);
	suite_add_tcase(s, tc);

	tc = tcase_create("version2");
	tcase_add_test(tc, test_flags);
	tcase_add_test(tc, test_varint);
	tcase_add_test(tc, test_batch_flags);
	tcase_add_test(tc, test_hello_parse);
	tcase_add_test(tc, test_hello_put);
	tcase_add_test(tc, test_meta);
	tcase_add_test(tc, test_stderr_get);
	tcase_add_test(tc, test_result_split);
	tcase_add_test(tc, test_fields);
	tcase_add_test(tc, test_caps_output_fields);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_test(tc, test_need_every_prefix);
	tcase_add_test(tc, test_need_empty_payload);
	tcase_add_test(tc, test_bad_type);
	tcase_add_test(tc, test_bad_reserved);
	tcase_add_test(tc, test_bad_status);
	tcase_add_test(tc, test_maxlen);
	tcase_add_test(tc, test_hello_max);
	tcase_add_test(tc, test_back_to_back);
	tcase_add_test(tc, test_result_typed);
	tcase_add_test(tc, test_hello_typed);
	tcase_add_test(tc, test_ctl_sizes);
	tcase_add_test(tc, test_ctl_types_and_status);
	tcase_add_test(tc, test_ctl_batch);
	tcase_add_test(tc, test_ctl_runlat);
	suite_add_tcase(s, tc);
	return (s);
}

CHECK_MAIN(frame_suite)

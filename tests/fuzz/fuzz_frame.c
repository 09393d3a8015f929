/*
 * libFuzzer target: the frame stream a worker sends to the supervisor,
 * HELLO (version 1 or 2 with its capability line), then RESULTs with or
 * without sections, cut at arbitrary points as reads would cut it.
 *
 * worker_parse_frames() and worker_hello() in daemon/worker.c are static
 * and need a spawned worker, which a fuzzer cannot have; this loop makes
 * the same calls on common/frame.c, in the same order and with the same
 * limits (frame_parse_flags, frame_hello_parse, frame_result_max,
 * frame_result_split, frame_field_next), so that what the decoders
 * accept here is what droverd accepts.  On top of that it checks what a
 * caller relies on: every length within the payload and its limit, every
 * field valid, and frame_hello_put() read back as written.
 *
 * Input: byte 0, the supervisor's max_result_bytes (one of 8); byte 1,
 * the seed of the read sizes; the rest, the stream.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "frame.h"

/* As daemon/worker.c: the capabilities droverd offers and takes. */
#define FZ_CAPS		(FRAME_CAP_JOB_META | FRAME_CAP_RESULT_STDERR | \
	FRAME_CAP_RESULT_OUTPUT | FRAME_CAP_RESULT_FIELDS | \
	FRAME_CAP_JOB_CWD | FRAME_CAP_RESULT_TYPED | FRAME_CAP_JOB_BATCH | \
	FRAME_CAP_RESULT_BATCH)
#define FZ_TAGS		64	/* tags 0-63 are outstanding at first */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct fz_worker {
	struct buf	 rbuf;
	int		 hello;
	int		 lost;
	uint32_t	 caps;
	uint64_t	 held;		/* bit t: tag t is outstanding */
};

#define FZ_CHECK(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,	\
		    __LINE__, #c);					\
		abort();						\
	}								\
} while (0)

/* Is [q, q + n) within [p, p + len)? */
static int
fz_within(const char *p, size_t len, const char *q, size_t n)
{
	if (n == 0)
		return (1);
	return (q >= p && q <= p + len && n <= (size_t)(p + len - q));
}

/* As worker_flagmask(). */
static uint8_t
fz_flagmask(uint32_t caps)
{
	return ((uint8_t)(((caps & FRAME_CAP_RESULT_STDERR) ? FRAME_F_STDERR :
	    0) | ((caps & FRAME_CAP_RESULT_OUTPUT) ? FRAME_F_OUTPUT : 0) |
	    ((caps & FRAME_CAP_RESULT_FIELDS) ? FRAME_F_FIELDS : 0) |
	    ((caps & FRAME_CAP_RESULT_TYPED) ? FRAME_F_TYPED : 0) |
	    ((caps & FRAME_CAP_RESULT_BATCH) ? FRAME_F_BATCH : 0)));
}

/* Write caps back with frame_hello_put() and read them again. */
static void
fz_hello_roundtrip(const struct frame_hello *hello)
{
	char		 p[FRAME_HELLO_MAX], desc[FRAME_HELLO_MAX + 1];
	struct frame_hello back;
	const char	*why;
	size_t		 n, d;

	d = hello->desclen < FRAME_HELLO_MAX ? hello->desclen :
	    FRAME_HELLO_MAX;
	memcpy(desc, hello->desc, d);
	desc[d] = '\0';
	n = frame_hello_put(p, sizeof(p), desc, hello->caps,
	    hello->max_result);
	if (n == 0)
		return;
	FZ_CHECK(n <= FRAME_HELLO_MAX);
	FZ_CHECK(frame_hello_parse(p, n, &back, &why) == 0);
	FZ_CHECK(back.has_caps);
	FZ_CHECK(back.caps == hello->caps);
	FZ_CHECK(back.max_result == hello->max_result);
	FZ_CHECK(memchr(back.desc, '\n', back.desclen) == NULL);
}

/* As worker_hello(). */
static int
fz_hello(struct fz_worker *w, const struct frame_hdr *h, const char *payload)
{
	struct frame_hello hello;
	const char	*why = NULL;

	if (w->hello)
		return (-1);		/* second HELLO */
	if (h->id != FRAME_VERSION && h->id != FRAME_VERSION_2)
		return (-1);
	if (h->id == FRAME_VERSION_2) {
		if (frame_hello_parse(payload, h->len, &hello, &why) == -1) {
			FZ_CHECK(why != NULL);
			return (-1);
		}
		FZ_CHECK(fz_within(payload, h->len, hello.desc,
		    hello.desclen));
		FZ_CHECK(memchr(hello.desc, '\n', hello.desclen) == NULL);
		FZ_CHECK(hello.max_result <= UINT32_MAX);
		FZ_CHECK((hello.caps & ~FZ_CAPS) == 0);
		fz_hello_roundtrip(&hello);
		w->caps = hello.caps & FZ_CAPS;
	}
	w->hello = 1;
	return (0);
}

/* What a caller of frame_result_split() relies on. */
static void
fz_check_result(const struct frame_hdr *h, const char *payload, uint32_t max,
    const struct frame_result *r)
{
	struct frame_field f;
	const char	*p;
	size_t		 len, n = 0;

	FZ_CHECK(fz_within(payload, h->len, r->out, r->outlen));
	FZ_CHECK(fz_within(payload, h->len, r->err, r->errlen));
	FZ_CHECK(fz_within(payload, h->len, r->sout, r->soutlen));
	FZ_CHECK(fz_within(payload, h->len, r->fields, r->fieldslen));
	FZ_CHECK(r->outlen <= max && r->errlen <= max && r->soutlen <= max);
	FZ_CHECK(r->fieldslen <= FRAME_FIELDS_LEN_MAX);
	FZ_CHECK(r->outlen + r->errlen + r->soutlen + r->fieldslen <=
	    h->len);
	FZ_CHECK((h->flags & FRAME_F_STDERR) || r->errlen == 0);
	FZ_CHECK((h->flags & FRAME_F_OUTPUT) || r->soutlen == 0);
	FZ_CHECK(h->status == FRAME_FAIL || r->soutlen == 0);
	if (h->flags & FRAME_F_TYPED) {
		/* A typed output is a number, not bytes. */
		FZ_CHECK(h->status == FRAME_OK && r->outlen == 0);
		FZ_CHECK(r->num.kind == ((h->flags & FRAME_F_INT) ?
		    NUM_INT : NUM_DOUBLE));
	} else {
		/* The output is what is left after the sections. */
		FZ_CHECK(r->out + r->outlen == payload + h->len);
	}
	p = r->fields;
	len = r->fieldslen;
	while (frame_field_next(&p, &len, &f) == 1) {
		FZ_CHECK(++n <= FRAME_FIELDS_MAX);
		FZ_CHECK(fz_within(r->fields, r->fieldslen, f.name,
		    f.namelen));
		FZ_CHECK(frame_field_name_ok(f.name, f.namelen));
		FZ_CHECK(f.type == FRAME_FT_INT || f.type == FRAME_FT_STR);
		if (f.type == FRAME_FT_STR) {
			FZ_CHECK(f.slen <= FRAME_FIELD_STR_MAX);
			FZ_CHECK(fz_within(r->fields, r->fieldslen, f.s,
			    f.slen));
		}
	}
	FZ_CHECK(len == 0);
}

/* A RESULT for tag: is it held?  Take it. */
static int
fz_take(struct fz_worker *w, uint64_t tag)
{
	if (tag >= FZ_TAGS || !(w->held & (1ULL << tag)))
		return (-1);
	w->held &= ~(1ULL << tag);
	return (0);
}

/* A batched RESULT's n tags from tag: all held, or none taken. */
static int
fz_take_run(struct fz_worker *w, uint64_t tag, uint64_t n)
{
	uint64_t	 i;

	for (i = 0; i < n; i++)
		if (tag + i < tag || tag + i >= FZ_TAGS ||
		    !(w->held & (1ULL << (tag + i))))
			return (-1);
	for (i = 0; i < n; i++)
		w->held &= ~(1ULL << (tag + i));
	return (0);
}

/* As worker_parse_frames(). */
static void
fz_parse_frames(struct fz_worker *w, uint32_t max)
{
	struct frame_hdr h;
	struct frame_result r;
	const char	*why = NULL, *p;
	enum frame_parse pr;
	uint32_t	 lim;

	while (!w->lost) {
		p = buf_data(&w->rbuf);
		if (!w->hello)
			lim = max >= FRAME_HELLO_MAX ? max : FRAME_HELLO_MAX;
		else if (w->caps != 0)
			lim = (uint32_t)frame_result_max(max, w->caps);
		else
			lim = max;
		pr = frame_parse_flags(p, buf_len(&w->rbuf), lim,
		    fz_flagmask(w->caps), &h, &why);
		if (pr == FRAME_NEED)
			break;
		if (pr == FRAME_BAD) {
			FZ_CHECK(why != NULL);
			w->lost = 1;
			return;
		}
		FZ_CHECK(pr == FRAME_GOOD);
		FZ_CHECK(h.len <= lim && h.len <= FRAME_MAXLEN);
		FZ_CHECK(buf_len(&w->rbuf) - FRAME_HDRLEN >= h.len);
		FZ_CHECK(h.type >= FRAME_HELLO && h.type <= FRAME_RESULT);
		FZ_CHECK((h.flags & ~fz_flagmask(w->caps)) == 0);
		if (h.type == FRAME_HELLO) {
			FZ_CHECK(h.len <= FRAME_HELLO_MAX);
			if (fz_hello(w, &h, p + FRAME_HDRLEN) == -1) {
				w->lost = 1;
				return;
			}
		} else if (w->hello && h.type == FRAME_RESULT &&
		    (h.flags & FRAME_F_BATCH)) {
			/* As worker_res_batch(): every tag held, or lost. */
			FZ_CHECK(h.status == FRAME_OK && h.len % 8 == 0 &&
			    h.len != 0 && h.len <= FRAME_BATCH_MAX);
			FZ_CHECK((h.flags & ~FRAME_F_BATCH) == FRAME_F_INT ||
			    (h.flags & ~FRAME_F_BATCH) == FRAME_F_DOUBLE);
			if (fz_take_run(w, h.id, h.len / 8) == -1) {
				w->lost = 1;
				return;
			}
		} else if (!w->hello || h.type != FRAME_RESULT ||
		    fz_take(w, h.id) == -1) {
			w->lost = 1;
			return;
		} else if (h.flags != 0) {
			why = NULL;
			if (frame_result_split(p + FRAME_HDRLEN, h.len, &h, max,
			    &r, &why) == -1) {
				FZ_CHECK(why != NULL);
				w->lost = 1;
				return;
			}
			fz_check_result(&h, p + FRAME_HDRLEN, max, &r);
		} else if (h.len > max) {
			w->lost = 1;
			return;
		}
		buf_consume(&w->rbuf, FRAME_HDRLEN + h.len);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t maxes[8] = {
		0, 1, 16, 255, 256, 4096, 65536, 16 * 1024 * 1024
	};
	struct fz_worker w;
	uint32_t	 max, seed;
	size_t		 off, n;

	if (size < 2)
		return (0);
	max = maxes[data[0] & 7];
	seed = data[1] | 1U;
	data += 2;
	size -= 2;
	memset(&w, 0, sizeof(w));
	buf_init(&w.rbuf);
	w.held = ~0ULL;
	for (off = 0; off < size && !w.lost; off += n) {
		/* Reads of 1 to 64 bytes, or all that is left. */
		seed = seed * 1103515245U + 12345U;
		n = (seed >> 16) % 8 == 0 ? size - off : 1 + (seed >> 16) % 64;
		if (n > size - off)
			n = size - off;
		buf_add(&w.rbuf, data + off, n);
		fz_parse_frames(&w, max);
	}
	buf_free(&w.rbuf);
	return (0);
}

/*
 * libdrover-worker: the worker side of the protocols (see drover/worker.h,
 * docs/protocol.md).
 * Blocking I/O on fds 0 and 1, large reads, replies batched into one write
 * per round so that a window of micro-jobs costs two syscalls, not 2N.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover/worker.h"
#include "frame.h"
#include "num.h"
#include "tagged.h"

#define DW_READ		(256 * 1024)
#define DW_FLUSH_AT	(256 * 1024)
#define DW_MAX_JOB	(1U << 30)

_Static_assert(DW_CAP_JOB_META == FRAME_CAP_JOB_META &&
    DW_CAP_RESULT_STDERR == FRAME_CAP_RESULT_STDERR &&
    DW_CAP_RESULT_OUTPUT == FRAME_CAP_RESULT_OUTPUT &&
    DW_CAP_RESULT_FIELDS == FRAME_CAP_RESULT_FIELDS &&
    DW_CAP_JOB_CWD == FRAME_CAP_JOB_CWD &&
    DW_CAP_RESULT_TYPED == FRAME_CAP_RESULT_TYPED &&
    DW_CAP_JOB_BATCH == FRAME_CAP_JOB_BATCH &&
    DW_CAP_RESULT_BATCH == FRAME_CAP_RESULT_BATCH, "capability bits");
_Static_assert((int)DW_FIELD_INT == (int)FRAME_FT_INT &&
    (int)DW_FIELD_STR == (int)FRAME_FT_STR, "field types");

enum dw_proto {
	DW_FRAME,
	DW_LINE,
	DW_TAGGED,
};

struct dw {
	enum dw_proto	 proto;
	bool		 hello;		/* got the supervisor's HELLO */
	bool		 eof;
	uint32_t	 want;		/* DW_CAP_* asked for at open */
	uint32_t	 caps;		/* DW_CAP_* in effect */
	char		 cwd[PATH_MAX];	/* the last job's (job-cwd) */
	uint64_t	 max_result;	/* the supervisor's max-result, or 0 */
	char		*in;
	size_t		 inoff, inlen, incap;
	char		*out;
	size_t		 outlen, outcap;
	uint64_t	 seq;		/* line protocol: jobs handed out */
	const char	*bat;		/* job-batch: the rest of a JOB */
	size_t		 batlen;
	uint64_t	 battag;	/* the tag of its next job */
	size_t		 rs_hdr;	/* result-batch: the open run's */
	uint64_t	 rs_next;	/* header offset in out, the tag */
	uint8_t		 rs_flag;	/* it takes next, its type flag */
	char		 err[256];
};

static int	dw_fill(struct dw *, bool);

/* Ensure the output buffer has room for n more bytes. */
static int
dw_out_room(struct dw *dw, size_t n)
{
	size_t	 cap;
	char	*p;

	if (dw->outcap - dw->outlen >= n)
		return (0);
	cap = dw->outcap ? dw->outcap : 65536;
	while (cap - dw->outlen < n)
		cap *= 2;
	if ((p = realloc(dw->out, cap)) == NULL)
		return (-1);
	dw->out = p;
	dw->outcap = cap;
	return (0);
}

/* Write every buffered reply. */
int
dw_flush(struct dw *dw)
{
	size_t	 off = 0;
	ssize_t	 n;

	while (off < dw->outlen) {
		n = write(STDOUT_FILENO, dw->out + off, dw->outlen - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(dw->err, sizeof(dw->err), "write: %s",
			    strerror(errno));
			return (-1);
		}
		off += (size_t)n;
	}
	dw->outlen = 0;
	dw->rs_hdr = SIZE_MAX;
	return (0);
}

/* Append one frame header and payload to the output. */
static int
dw_put_frame(struct dw *dw, uint8_t type, uint8_t status, uint64_t id,
    const void *p, size_t len)
{
	if (len > FRAME_MAXLEN) {
		snprintf(dw->err, sizeof(dw->err), "reply too large");
		errno = EMSGSIZE;
		return (-1);
	}
	if (dw_out_room(dw, FRAME_HDRLEN + len) == -1)
		return (-1);
	frame_put(dw->out + dw->outlen, type, status, (uint32_t)len, id);
	if (len != 0)
		memcpy(dw->out + dw->outlen + FRAME_HDRLEN, p, len);
	dw->outlen += FRAME_HDRLEN + len;
	if (dw->outlen >= DW_FLUSH_AT)
		return (dw_flush(dw));
	return (0);
}

/*
 * The supervisor's HELLO (payload p, len bytes): version 1, with a
 * capability line if it offers version 2.  -1 on a protocol error.
 */
static int
dw_hello_in(struct dw *dw, const struct frame_hdr *h, const char *p)
{
	struct frame_hello hello;
	const char	*why;

	if (h->id != FRAME_VERSION) {
		snprintf(dw->err, sizeof(dw->err), "protocol: supervisor "
		    "speaks version %llu", (unsigned long long)h->id);
		return (-1);
	}
	dw->hello = true;
	if (dw->want == 0)
		return (0);	/* version 1: the payload says nothing */
	if (frame_hello_parse(p, h->len, &hello, &why) == -1) {
		snprintf(dw->err, sizeof(dw->err), "protocol: %s", why);
		return (-1);
	}
	if (!hello.has_caps)
		return (0);		/* a version 1 supervisor */
	dw->caps = dw->want & hello.caps;
	dw->max_result = hello.max_result;
	return (1);
}

/*
 * Version 2: wait for the supervisor's HELLO (sent as soon as it starts us),
 * then answer with version 2 and the capabilities we want if it offers
 * them, else with version 1.
 */
static int
dw_hello_v2(struct dw *dw, const char *desc)
{
	struct frame_hdr h;
	const char	*why;
	enum frame_parse r;
	char		 pay[FRAME_HELLO_MAX];
	size_t		 n;
	int		 v2;

	for (;;) {
		r = frame_parse(dw->in != NULL ? dw->in + dw->inoff : "",
		    dw->inlen - dw->inoff, FRAME_HELLO_MAX, &h, &why);
		if (r == FRAME_BAD) {
			snprintf(dw->err, sizeof(dw->err), "protocol: %s", why);
			return (-1);
		}
		if (r == FRAME_GOOD)
			break;
		if (dw->eof) {
			snprintf(dw->err, sizeof(dw->err),
			    "protocol: EOF before the supervisor's HELLO");
			return (-1);
		}
		if (dw_fill(dw, false) == -1)
			return (-1);
	}
	if (h.type != FRAME_HELLO) {
		snprintf(dw->err, sizeof(dw->err), "protocol: %s before HELLO",
		    frame_type_name(h.type));
		return (-1);
	}
	if ((v2 = dw_hello_in(dw, &h, dw->in + dw->inoff + FRAME_HDRLEN)) ==
	    -1)
		return (-1);
	dw->inoff += FRAME_HDRLEN + h.len;
	if (v2)
		n = frame_hello_put(pay, sizeof(pay), desc, dw->want, 0);
	else if ((n = strlen(desc)) > FRAME_HELLO_MAX)
		n = FRAME_HELLO_MAX;
	if (dw_put_frame(dw, FRAME_HELLO, 0, v2 ? FRAME_VERSION_2 :
	    FRAME_VERSION, v2 ? pay : desc, n) == -1)
		return (-1);
	return (dw_flush(dw));
}

/* Open a worker session; desc is sent in HELLO (frame protocol). */
struct dw *
dw_open(const char *desc)
{
	return (dw_open_caps(desc, 0));
}

/*
 * Open a worker session asking for the capabilities in want (DW_CAP_*,
 * frame protocol version 2); dw_caps() says which are in effect.
 */
struct dw *
dw_open_caps(const char *desc, uint32_t want)
{
	struct dw	*dw;
	const char	*proto = getenv("DROVER_PROTOCOL");

	if ((dw = calloc(1, sizeof(*dw))) == NULL)
		return (NULL);
	dw->rs_hdr = SIZE_MAX;
	if (proto != NULL && strcmp(proto, "line") == 0)
		dw->proto = DW_LINE;
	else if (proto != NULL && strcmp(proto, "tagged") == 0)
		dw->proto = DW_TAGGED;
	else if (proto != NULL && *proto != '\0' && strcmp(proto, "frame")) {
		free(dw);
		errno = EINVAL;
		return (NULL);
	}
	dw->want = want & (DW_CAP_JOB_META | DW_CAP_RESULT_STDERR |
	    DW_CAP_RESULT_OUTPUT | DW_CAP_RESULT_FIELDS | DW_CAP_JOB_CWD |
	    DW_CAP_RESULT_TYPED | DW_CAP_JOB_BATCH | DW_CAP_RESULT_BATCH);
	if (dw->proto == DW_FRAME && dw->want != 0) {
		if (dw_hello_v2(dw, desc) == -1) {
			fprintf(stderr, "libdrover-worker: %s\n", dw->err);
			dw_close(dw);
			return (NULL);
		}
	} else if (dw->proto == DW_FRAME) {
		size_t	 n = strlen(desc);

		if (n > FRAME_HELLO_MAX)
			n = FRAME_HELLO_MAX;
		if (dw_put_frame(dw, FRAME_HELLO, 0, FRAME_VERSION, desc, n) ==
		    -1 || dw_flush(dw) == -1) {
			dw_close(dw);
			return (NULL);
		}
	}
	return (dw);
}

void
dw_close(struct dw *dw)
{
	if (dw == NULL)
		return;
	(void)dw_flush(dw);
	free(dw->in);
	free(dw->out);
	free(dw);
}

const char *
dw_error(const struct dw *dw)
{
	return (dw->err);
}

/*
 * Read more input; flush replies first, since we may block.  With nb, read
 * only if stdin is readable now, and return DW_AGAIN if it is not.
 */
static int
dw_fill(struct dw *dw, bool nb)
{
	struct pollfd	 pfd;
	ssize_t		 n;
	char		*p;
	int		 r;

	if (nb) {
		pfd.fd = STDIN_FILENO;
		pfd.events = POLLIN;
		while ((r = poll(&pfd, 1, 0)) == -1 && errno == EINTR)
			;
		if (r == 0)
			return (DW_AGAIN);
	}
	if (dw_flush(dw) == -1)
		return (-1);
	if (dw->inoff != 0) {
		memmove(dw->in, dw->in + dw->inoff, dw->inlen - dw->inoff);
		dw->inlen -= dw->inoff;
		dw->inoff = 0;
	}
	if (dw->incap - dw->inlen < DW_READ + DW_JOB_PAD) {
		size_t cap = dw->incap ? dw->incap * 2 : 2 * DW_READ;
		if ((p = realloc(dw->in, cap)) == NULL)
			return (-1);
		dw->in = p;
		dw->incap = cap;
	}
	do
		n = read(STDIN_FILENO, dw->in + dw->inlen,
		    dw->incap - dw->inlen - DW_JOB_PAD);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		snprintf(dw->err, sizeof(dw->err), "read: %s", strerror(errno));
		return (-1);
	}
	if (n == 0)
		dw->eof = true;
	dw->inlen += (size_t)n;
	/* Every job's bytes are followed by DW_JOB_PAD readable ones. */
	memset(dw->in + dw->inlen, 0, DW_JOB_PAD);
	return (0);
}

/* Tagged protocol: take the "ID\t" off the job's line as its tag. */
static int
dw_untag(struct dw *dw, struct dw_job *job)
{
	const char	*why;
	size_t		 off;

	if (tagged_parse(job->data, job->len, &job->tag, &off, &why) == -1) {
		snprintf(dw->err, sizeof(dw->err), "protocol: job line: %s",
		    why);
		return (-1);
	}
	job->data += off;
	job->len -= off;
	return (1);
}

/* Line and tagged protocols: the next line is the next job. */
static int
dw_next_line(struct dw *dw, struct dw_job *job, bool nb)
{
	char	*nl;
	int	 r;

	for (;;) {
		nl = dw->inlen == dw->inoff ? NULL :
		    memchr(dw->in + dw->inoff, '\n', dw->inlen - dw->inoff);
		if (nl != NULL) {
			job->data = dw->in + dw->inoff;
			job->len = (size_t)(nl - job->data);
			dw->inoff += job->len + 1;
			break;
		}
		if (dw->eof) {
			if (dw->inlen == dw->inoff)
				return (0);
			job->data = dw->in + dw->inoff;
			job->len = dw->inlen - dw->inoff;
			dw->inoff = dw->inlen;
			break;
		}
		if ((r = dw_fill(dw, nb)) != 0)
			return (r);
	}
	job->seq = 0;
	job->cwd = NULL;
	job->attempt = 0;
	if (dw->proto == DW_TAGGED)
		return (dw_untag(dw, job));
	job->tag = dw->seq++;
	return (1);
}

/* Frame protocol: HELLO first, then JOB frames. */
static int	dw_job_cwd(struct dw *, struct dw_job *);

/* Take the job-meta block off job's bytes (job-meta in effect). */
static int
dw_job_meta(struct dw *dw, struct dw_job *job)
{
	const char	*why;

	job->seq = 0;
	job->attempt = 0;
	job->cwd = NULL;
	if (!(dw->caps & DW_CAP_JOB_META))
		return (0);
	if (frame_meta_get(job->data, job->len, &job->seq, &job->attempt,
	    &why) == -1) {
		snprintf(dw->err, sizeof(dw->err), "protocol: %s", why);
		return (-1);
	}
	job->data += FRAME_META_LEN;
	job->len -= FRAME_META_LEN;
	return (0);
}

/*
 * The next job of a batched JOB (job-batch): a varint length, then what a
 * flagless JOB's payload would be; the tags follow on from the frame's.
 */
static int
dw_next_batched(struct dw *dw, struct dw_job *job)
{
	uint32_t	 len;
	size_t		 n;

	n = frame_varint_get(dw->bat, dw->batlen, &len);
	if (n == 0 || len > dw->batlen - n) {
		snprintf(dw->err, sizeof(dw->err), "protocol: a bad job in "
		    "a batched JOB");
		return (-1);
	}
	job->tag = dw->battag++;
	job->data = dw->bat + n;
	job->len = len;
	dw->bat += n + len;
	dw->batlen -= n + len;
	if (dw_job_meta(dw, job) == -1)
		return (-1);
	return (1);
}

static int
dw_next_frame(struct dw *dw, struct dw_job *job, bool nb)
{
	struct frame_hdr h;
	const char	*why;
	enum frame_parse r;
	int		 rv;

	if (dw->batlen != 0)
		return (dw_next_batched(dw, job));
	for (;;) {
		r = frame_parse_flags(dw->in != NULL ? dw->in + dw->inoff :
		    "", dw->inlen - dw->inoff, DW_MAX_JOB,
		    ((dw->caps & DW_CAP_JOB_CWD) ? FRAME_F_CWD : 0) |
		    ((dw->caps & DW_CAP_JOB_BATCH) ? FRAME_F_BATCH : 0), &h,
		    &why);
		if (r == FRAME_BAD) {
			snprintf(dw->err, sizeof(dw->err), "protocol: %s", why);
			return (-1);
		}
		if (r == FRAME_NEED) {
			if (dw->eof) {
				if (dw->inlen == dw->inoff)
					return (0);
				snprintf(dw->err, sizeof(dw->err),
				    "protocol: truncated frame");
				return (-1);
			}
			if ((rv = dw_fill(dw, nb)) != 0)
				return (rv);
			continue;
		}
		dw->inoff += FRAME_HDRLEN + h.len;
		if (h.type == FRAME_HELLO && !dw->hello) {
			if (dw_hello_in(dw, &h, dw->in + dw->inoff - h.len) ==
			    -1)
				return (-1);
			continue;
		}
		if (h.type != FRAME_JOB || !dw->hello) {
			snprintf(dw->err, sizeof(dw->err), "protocol: "
			    "unexpected %s frame", frame_type_name(h.type));
			return (-1);
		}
		if (h.flags & FRAME_F_BATCH) {
			dw->bat = dw->in + dw->inoff - h.len;
			dw->batlen = h.len;
			dw->battag = h.id;
			return (dw_next_batched(dw, job));
		}
		job->tag = h.id;
		job->data = dw->in + dw->inoff - h.len;
		job->len = h.len;
		if (dw_job_meta(dw, job) == -1)
			return (-1);
		if ((h.flags & FRAME_F_CWD) && dw_job_cwd(dw, job) == -1)
			return (-1);
		return (1);
	}
}

/*
 * Take a JOB's cwd section (job-cwd): a u32 length and that many bytes,
 * no NUL among them, shorter than PATH_MAX; job->cwd is a NUL-ended copy,
 * valid until the next job.
 */
static int
dw_job_cwd(struct dw *dw, struct dw_job *job)
{
	uint32_t	 n;

	if (job->len < 4)
		goto bad;
	memcpy(&n, job->data, 4);
	n = le32toh(n);
	if (n == 0 || n >= sizeof(dw->cwd) || n > job->len - 4 ||
	    memchr(job->data + 4, '\0', n) != NULL)
		goto bad;
	memcpy(dw->cwd, job->data + 4, n);
	dw->cwd[n] = '\0';
	job->cwd = dw->cwd;
	job->data += 4 + n;
	job->len -= 4 + n;
	return (0);
bad:
	snprintf(dw->err, sizeof(dw->err), "protocol: a bad cwd section");
	return (-1);
}

/*
 * The next job: 1 with *job set, 0 at EOF (time to exit), -1 on error
 * (dw_error() says what).  Buffered replies are flushed before blocking.
 */
int
dw_next(struct dw *dw, struct dw_job *job)
{
	if (dw->proto == DW_FRAME)
		return (dw_next_frame(dw, job, false));
	return (dw_next_line(dw, job, false));
}

/*
 * As dw_next(), but never waits: DW_AGAIN when no whole job is buffered and
 * stdin has nothing to read now (poll dw_fd() for POLLIN, then call again).
 * Replies are not flushed unless it reads; call dw_flush() before waiting.
 */
int
dw_poll_next(struct dw *dw, struct dw_job *job)
{
	if (dw->proto == DW_FRAME)
		return (dw_next_frame(dw, job, true));
	return (dw_next_line(dw, job, true));
}

/* The descriptor jobs come from, for poll(2) in a worker's own loop. */
int
dw_fd(const struct dw *dw)
{
	(void)dw;
	return (STDIN_FILENO);
}

/*
 * Must replies come in the order of the jobs?  True for the line protocol,
 * whose results carry no tag.
 */
bool
dw_in_order(const struct dw *dw)
{
	return (dw->proto == DW_LINE);
}

/*
 * Line and tagged protocols: write a result line (tagged: after the job's
 * "ID\t"), escaping a leading '!' and newlines.
 */
static int
dw_put_line(struct dw *dw, const struct dw_job *job, bool fail,
    const char *p, size_t len)
{
	size_t	 i, extra = (fail || (len > 0 && p[0] == '!')) ? 1 : 0;
	char	*o, *start;

	if (fail && len > 0 && p[0] == '!') {
		p++;			/* "!!" would read as an ok line */
		len--;
	}
	if (dw_out_room(dw, TAGGED_PREFIX_MAX + len + extra + 1) == -1)
		return (-1);
	o = start = dw->out + dw->outlen;
	if (dw->proto == DW_TAGGED)
		o += tagged_put_id(o, job->tag);
	if (extra)
		*o++ = '!';
	for (i = 0; i < len; i++)
		*o++ = (p[i] == '\n') ? ' ' : p[i];
	*o++ = '\n';
	dw->outlen += (size_t)(o - start);
	if (dw->outlen >= DW_FLUSH_AT)
		return (dw_flush(dw));
	return (0);
}

/* Reply to a job with its output. */
int
dw_reply(struct dw *dw, const struct dw_job *job, const void *out, size_t len)
{
	if (dw->proto != DW_FRAME)
		return (dw_put_line(dw, job, false, out, len));
	return (dw_put_frame(dw, FRAME_RESULT, FRAME_OK, job->tag, out, len));
}

/*
 * A typed output of 8 bytes at v (already written at the end of out, past
 * room for a header) under result-batch: it joins the run that ends the
 * output when it takes this tag next, has this type and room, else it
 * opens a run of its own.
 */
static int
dw_reply_batched(struct dw *dw, const struct dw_job *job, const char *v,
    uint8_t flag)
{
	uint32_t	 len, le;
	char		*h;

	if (dw->rs_hdr != SIZE_MAX && dw->rs_next == job->tag &&
	    dw->rs_flag == flag) {
		h = dw->out + dw->rs_hdr;
		memcpy(&le, h, 4);
		len = le32toh(le);
		if (dw->rs_hdr + FRAME_HDRLEN + len == dw->outlen &&
		    len + 8 <= FRAME_BATCH_MAX) {
			memmove(dw->out + dw->outlen, v, 8);
			le = htole32(len + 8);
			memcpy(h, &le, 4);
			dw->outlen += 8;
			goto out;
		}
	}
	h = dw->out + dw->outlen;
	frame_put(h, FRAME_RESULT, FRAME_OK, 8, job->tag);
	h[6] = (char)(flag | FRAME_F_BATCH);
	dw->rs_hdr = dw->outlen;
	dw->rs_flag = flag;
	dw->outlen += FRAME_HDRLEN + 8;
out:
	dw->rs_next = job->tag + 1;
	if (dw->outlen >= DW_FLUSH_AT)
		return (dw_flush(dw));
	return (0);
}

/*
 * Reply with a number: a typed RESULT (FRAME_F_INT, FRAME_F_DOUBLE) when
 * result-typed is in effect, else its text as num_fmt_value() writes it,
 * which is what the supervisor prints for the typed one.
 */
static int
dw_reply_num(struct dw *dw, const struct dw_job *job,
    const struct num_value *v)
{
	char	 tmp[NUM_VALUE_STRLEN], *p;
	size_t	 n;
	uint8_t	 flag;

	if (!(dw->caps & DW_CAP_RESULT_TYPED))
		return (dw_reply(dw, job, tmp, num_fmt_value(tmp, v)));
	if (dw_out_room(dw, FRAME_HDRLEN + 16) == -1)
		return (-1);
	p = dw->out + dw->outlen;
	n = frame_num_put(p + FRAME_HDRLEN, v, &flag);
	if (n == 8 && (dw->caps & DW_CAP_RESULT_BATCH))
		return (dw_reply_batched(dw, job, p + FRAME_HDRLEN, flag));
	frame_put(p, FRAME_RESULT, FRAME_OK, (uint32_t)n, job->tag);
	p[6] = (char)flag;
	dw->outlen += FRAME_HDRLEN + n;
	if (dw->outlen >= DW_FLUSH_AT)
		return (dw_flush(dw));
	return (0);
}

/* Reply to a job with an integer as its output (see dw_reply_num()). */
int
dw_reply_int(struct dw *dw, const struct dw_job *job, int64_t v)
{
	struct num_value n = { .kind = NUM_INT, .i = v };

	return (dw_reply_num(dw, job, &n));
}

/* Reply with a 128-bit integer: 16 bytes on the wire when it needs them. */
int
dw_reply_int128(struct dw *dw, const struct dw_job *job, dw_int128 v)
{
	struct num_value n = { .kind = NUM_INT, .i = v };

	return (dw_reply_num(dw, job, &n));
}

/*
 * Reply with a double.  inf and nan go as they are and print as "inf",
 * "-inf" and "nan", which are not numbers to the aggregate, as in text.
 */
int
dw_reply_double(struct dw *dw, const struct dw_job *job, double v)
{
	struct num_value n = { .kind = NUM_DOUBLE, .d = v };

	return (dw_reply_num(dw, job, &n));
}

/*
 * Fail a job with a reason and the stderr it wrote: under result-stderr, in
 * the RESULT's stderr section (at most dw_max_result() bytes of it);
 * otherwise the stderr is not sent.
 */
int
dw_fail_stderr(struct dw *dw, const struct dw_job *job, const char *reason,
    const void *err, size_t errlen)
{
	struct dw_result res = { .fail = true, .data = reason,
	    .len = strlen(reason), .err = err, .errlen = errlen };

	return (dw_result(dw, job, &res));
}

/* Append a section: its length (u32), then its bytes; returns its end. */
static char *
dw_put_section(char *p, const void *s, size_t len)
{
	uint32_t	 n = htole32((uint32_t)len);

	memcpy(p, &n, 4);
	if (len != 0)
		memcpy(p + 4, s, len);
	return (p + 4 + len);
}

/*
 * Answer a job with a result and the sections it carries whose capability
 * is in effect (the others are dropped, as are all of them outside frame
 * protocol version 2): a failure's stderr and stdout, each cut to
 * dw_max_result(); fields, strings cut to 4096 bytes.  -1 with errno
 * EINVAL for a bad field name or too many fields, EMSGSIZE when too large.
 */
int
dw_result(struct dw *dw, const struct dw_job *job, const struct dw_result *res)
{
	size_t		 errlen = 0, outlen = 0, flen = 0, total, i, sl;
	uint32_t	 n;
	uint8_t		 flags = 0;
	const struct dw_field *f;
	char		*p;

	if (dw->proto != DW_FRAME)
		return (dw_put_line(dw, job, res->fail, res->data,
		    res->len));
	if (res->fail && res->errlen != 0 &&
	    (dw->caps & DW_CAP_RESULT_STDERR)) {
		errlen = res->errlen;
		flags |= FRAME_F_STDERR;
	}
	if (res->fail && res->outlen != 0 &&
	    (dw->caps & DW_CAP_RESULT_OUTPUT)) {
		outlen = res->outlen;
		flags |= FRAME_F_OUTPUT;
	}
	if (dw->max_result != 0 && errlen > dw->max_result)
		errlen = dw->max_result;
	if (dw->max_result != 0 && outlen > dw->max_result)
		outlen = dw->max_result;
	if (res->nfields != 0 && (dw->caps & DW_CAP_RESULT_FIELDS)) {
		if (res->nfields > FRAME_FIELDS_MAX)
			goto badfield;
		for (i = 0; i < res->nfields; i++) {
			f = &res->fields[i];
			if (!frame_field_name_ok(f->name, strlen(f->name)) ||
			    (f->type != DW_FIELD_INT &&
			    f->type != DW_FIELD_STR))
				goto badfield;
			sl = f->slen > FRAME_FIELD_STR_MAX ?
			    FRAME_FIELD_STR_MAX : f->slen;
			flen += frame_field_put(NULL, f->name,
			    (enum frame_field_type)f->type, f->i, f->s, sl);
		}
		if (flen > FRAME_FIELDS_LEN_MAX)
			goto toolarge;
		flags |= FRAME_F_FIELDS;
	}
	if (flags == 0)
		return (dw_put_frame(dw, FRAME_RESULT, res->fail ? FRAME_FAIL :
		    FRAME_OK, job->tag, res->data, res->len));
	total = res->len + ((flags & FRAME_F_STDERR) ? 4 + errlen : 0) +
	    ((flags & FRAME_F_OUTPUT) ? 4 + outlen : 0) +
	    ((flags & FRAME_F_FIELDS) ? 4 + flen : 0);
	if (res->len > FRAME_MAXLEN || errlen > FRAME_MAXLEN ||
	    outlen > FRAME_MAXLEN || total > FRAME_MAXLEN)
		goto toolarge;
	if (dw_out_room(dw, FRAME_HDRLEN + total) == -1)
		return (-1);
	p = dw->out + dw->outlen;
	frame_put(p, FRAME_RESULT, res->fail ? FRAME_FAIL : FRAME_OK,
	    (uint32_t)total, job->tag);
	p[6] = (char)flags;
	p += FRAME_HDRLEN;
	if (flags & FRAME_F_STDERR)
		p = dw_put_section(p, res->err, errlen);
	if (flags & FRAME_F_OUTPUT)
		p = dw_put_section(p, res->out, outlen);
	if (flags & FRAME_F_FIELDS) {
		n = htole32((uint32_t)flen);
		memcpy(p, &n, 4);
		p += 4;
		for (i = 0; i < res->nfields; i++) {
			f = &res->fields[i];
			sl = f->slen > FRAME_FIELD_STR_MAX ?
			    FRAME_FIELD_STR_MAX : f->slen;
			p += frame_field_put(p, f->name,
			    (enum frame_field_type)f->type, f->i, f->s, sl);
		}
	}
	if (res->len != 0)
		memcpy(p, res->data, res->len);
	dw->outlen += FRAME_HDRLEN + total;
	if (dw->outlen >= DW_FLUSH_AT)
		return (dw_flush(dw));
	return (0);

badfield:
	snprintf(dw->err, sizeof(dw->err), "bad result field");
	errno = EINVAL;
	return (-1);
toolarge:
	snprintf(dw->err, sizeof(dw->err), "reply too large");
	errno = EMSGSIZE;
	return (-1);
}

/* The capabilities in effect (DW_CAP_*, asked for with dw_open_caps()). */
uint32_t
dw_caps(const struct dw *dw)
{
	return (dw->caps);
}

/*
 * The longest output (or stderr) the supervisor takes, when it said so in
 * its HELLO (version 2); 0 when unknown.
 */
uint64_t
dw_max_result(const struct dw *dw)
{
	return (dw->max_result);
}

/* Fail a job with a reason. */
int
dw_fail(struct dw *dw, const struct dw_job *job, const char *reason)
{
	size_t	 len = strlen(reason);

	if (dw->proto != DW_FRAME)
		return (dw_put_line(dw, job, true, reason, len));
	return (dw_put_frame(dw, FRAME_RESULT, FRAME_FAIL, job->tag, reason,
	    len));
}

int
dw_failf(struct dw *dw, const struct dw_job *job, const char *fmt, ...)
{
	char	 reason[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return (dw_fail(dw, job, reason));
}

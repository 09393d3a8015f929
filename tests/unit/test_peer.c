/*
 * Unit tests for the frame peer (common/peer.c) over a socketpair: frames
 * split across reads and many in one read come out whole, each header
 * judged once; a header over the limit is refused before its payload is
 * sent; EOF inside a frame and between frames are told apart; a skipped
 * payload is discarded; more() pauses and peer_resume() goes on; a hook may
 * free the peer; output is written once per loop turn, and to a slow
 * reader in full and in order; peer_drain() reads what is there, within
 * its limits, and no more once the stream is lost.
 */
#include <sys/socket.h>

#include <check.h>

#include "check_main.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "buf.h"
#include "frame.h"
#include "peer.h"

#define NFRAMES	100

struct seen {
	struct event_base	*base;
	struct peer		*peer;
	unsigned		 frames;
	unsigned		 headers;
	unsigned		 read_ends;
	unsigned		 skipped;
	unsigned		 written_all;
	unsigned		 written_part;
	int			 lost;		/* -1: not lost */
	char			 why[128];
	uint64_t		 ids[NFRAMES + 8];
	size_t			 lens[NFRAMES + 8];
	char			 last[4096];
	uint32_t		 skip_over;	/* header(): skip above this */
	unsigned		 take;		/* more(): frames, then pause */
	bool			 limit_take;
	bool			 free_in_frame;
	unsigned		 batched;	/* frames(): taken whole */
	unsigned		 batches;
};

static enum peer_verdict
t_header(void *arg, const char *p, struct frame_hdr *h, const char **why)
{
	struct seen	*s = arg;

	s->headers++;
	frame_decode(p, h);
	if (p[7] != 0) {
		*why = "non-zero reserved header bytes";
		return (PEER_REFUSE);
	}
	if (s->skip_over != 0 && h->len > s->skip_over)
		return (PEER_SKIP);
	return (PEER_TAKE);
}

static bool
t_more(void *arg)
{
	struct seen	*s = arg;

	return (!s->limit_take || peer_skipping(s->peer) ||
	    s->frames < s->take);
}

static void
t_frame(void *arg, const struct frame_hdr *h, const char *p, size_t len)
{
	struct seen	*s = arg;

	ck_assert_uint_eq(h->len, len);
	if (s->frames < NFRAMES + 8) {
		s->ids[s->frames] = h->id;
		s->lens[s->frames] = len;
	}
	memcpy(s->last, p, len < sizeof(s->last) ? len : sizeof(s->last));
	s->frames++;
	if (s->free_in_frame) {
		peer_free(s->peer);
		s->peer = NULL;
	}
}

static void
t_skipped(void *arg, const struct frame_hdr *h)
{
	struct seen	*s = arg;

	(void)h;
	s->skipped++;
}

static void
t_read_end(void *arg)
{
	((struct seen *)arg)->read_ends++;
}

static void
t_written(void *arg, bool all)
{
	struct seen	*s = arg;

	if (all)
		s->written_all++;
	else
		s->written_part++;
}

static void
t_lost(void *arg, enum peer_loss loss, const char *why)
{
	struct seen	*s = arg;

	ck_assert_int_eq(s->lost, -1);	/* once */
	s->lost = (int)loss;
	snprintf(s->why, sizeof(s->why), "%s", why);
}

static const struct peer_ops t_ops = {
	.header = t_header,
	.more = t_more,
	.frame = t_frame,
	.skipped = t_skipped,
	.read_end = t_read_end,
	.written = t_written,
	.lost = t_lost,
};

/*
 * frames(): take every whole frame from the head, as a worker's results
 * are taken, and stop at a bad header (for header() to refuse).
 */
static size_t
t_frames(void *arg, const char *p, size_t len)
{
	struct seen		*s = arg;
	struct frame_hdr	 h;
	size_t			 off = 0;

	s->batches++;
	while (len - off >= FRAME_HDRLEN) {
		frame_decode(p + off, &h);
		if (p[off + 7] != 0 || len - off - FRAME_HDRLEN < h.len)
			break;
		if (s->frames + s->batched < NFRAMES + 8)
			s->ids[s->frames + s->batched] = h.id;
		s->batched++;
		off += FRAME_HDRLEN + h.len;
	}
	return (off);
}

static const struct peer_ops t_batch_ops = {
	.header = t_header,
	.frame = t_frame,
	.frames = t_frames,
	.read_end = t_read_end,
	.lost = t_lost,
};

/* A peer on one end of a socketpair; *other is the test's end. */
static void
setup(struct seen *s, const struct peer_conf *conf, int *other)
{
	int	 sv[2];

	memset(s, 0, sizeof(*s));
	s->lost = -1;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_ne(fcntl(sv[0], F_SETFL, O_NONBLOCK), -1);
	s->base = event_base_new();
	ck_assert_ptr_nonnull(s->base);
	s->peer = peer_new(s->base, sv[0], conf, &t_ops, s);
	peer_set_reading(s->peer, true);
	*other = sv[1];
}

static void
teardown(struct seen *s, int other)
{
	peer_free(s->peer);
	event_base_free(s->base);
	close(other);
}

/* Run the loop once, without blocking. */
static void
turn(struct seen *s)
{
	ck_assert_int_ne(event_base_loop(s->base, EVLOOP_NONBLOCK), -1);
}

static void
put_frame(struct buf *b, uint64_t id, const char *p, size_t len)
{
	frame_put(buf_reserve(b, FRAME_HDRLEN), FRAME_JOB, 0, (uint32_t)len,
	    id);
	buf_commit(b, FRAME_HDRLEN);
	buf_add(b, p, len);
}

static void
write_all(int fd, const char *p, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		n = write(fd, p, len);
		ck_assert_int_gt(n, 0);
		p += n;
		len -= (size_t)n;
	}
}

START_TEST(test_split_across_reads)
{
	struct seen	 s;
	struct buf	 b;
	int		 fd;
	size_t		 i;

	setup(&s, NULL, &fd);
	buf_init(&b);
	put_frame(&b, 7, "hello, world", 12);
	put_frame(&b, 8, "", 0);
	/* One byte at a time: the header is judged once it is all there. */
	for (i = 0; i < buf_len(&b); i++) {
		write_all(fd, buf_data(&b) + i, 1);
		turn(&s);
		if (i < FRAME_HDRLEN + 12 - 1)
			ck_assert_uint_eq(s.frames, 0);
		ck_assert_uint_eq(s.headers, i < FRAME_HDRLEN - 1 ? 0 :
		    i < FRAME_HDRLEN + 12 + FRAME_HDRLEN - 1 ? 1 : 2);
	}
	ck_assert_uint_eq(s.frames, 2);
	ck_assert_uint_eq(s.ids[0], 7);
	ck_assert_uint_eq(s.lens[0], 12);
	ck_assert_uint_eq(s.ids[1], 8);
	ck_assert_uint_eq(s.lens[1], 0);
	ck_assert(!peer_mid_message(s.peer));
	ck_assert_int_eq(s.lost, -1);
	buf_free(&b);
	teardown(&s, fd);
}
END_TEST

START_TEST(test_many_in_one_read)
{
	struct seen	 s;
	struct buf	 b;
	char		 payload[32];
	int		 fd, n;
	unsigned	 i;

	setup(&s, NULL, &fd);
	buf_init(&b);
	for (i = 0; i < NFRAMES; i++) {
		n = snprintf(payload, sizeof(payload), "job %u", i);
		put_frame(&b, i, payload, (size_t)n);
	}
	write_all(fd, buf_data(&b), buf_len(&b));
	turn(&s);
	ck_assert_uint_eq(s.frames, NFRAMES);
	ck_assert_uint_eq(s.headers, NFRAMES);
	ck_assert_uint_eq(s.read_ends, 1);	/* one read, one end */
	for (i = 0; i < NFRAMES; i++)
		ck_assert_uint_eq(s.ids[i], i);
	ck_assert_str_eq(s.last, "job 99");
	buf_free(&b);
	teardown(&s, fd);
}
END_TEST

/*
 * With frames(): every whole frame goes to it in one call, not one hook
 * per frame; the frame not yet whole goes the usual way (header() before
 * its payload, frame() once it is in); a bad header is refused by
 * header(), after the good frames before it were taken.
 */
START_TEST(test_frames_in_one_call)
{
	struct seen	 s;
	struct buf	 b;
	char		 payload[32];
	int		 sv[2], fd, n;
	unsigned	 i;
	size_t		 cut;

	memset(&s, 0, sizeof(s));
	s.lost = -1;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_ne(fcntl(sv[0], F_SETFL, O_NONBLOCK), -1);
	s.base = event_base_new();
	s.peer = peer_new(s.base, sv[0], NULL, &t_batch_ops, &s);
	peer_set_reading(s.peer, true);
	fd = sv[1];
	buf_init(&b);
	for (i = 0; i < NFRAMES; i++) {
		n = snprintf(payload, sizeof(payload), "result %u", i);
		put_frame(&b, i, payload, (size_t)n);
	}
	put_frame(&b, NFRAMES, "the last, cut", 13);
	cut = buf_len(&b) - 5;
	write_all(fd, buf_data(&b), cut);
	turn(&s);
	ck_assert_uint_eq(s.batched, NFRAMES);
	ck_assert_uint_le(s.batches, 2);	/* then the rest: none whole */
	ck_assert_uint_eq(s.frames, 0);
	ck_assert_uint_eq(s.headers, 1);	/* the cut one, judged once */
	for (i = 0; i < NFRAMES; i++)
		ck_assert_uint_eq(s.ids[i], i);
	write_all(fd, buf_data(&b) + cut, 5);
	turn(&s);
	ck_assert_uint_eq(s.frames, 1);
	ck_assert_str_eq(s.last, "the last, cut");
	/* A good frame, then a bad header: refused, the good one taken. */
	buf_reset(&b);
	put_frame(&b, 7, "ok", 2);
	put_frame(&b, 8, "bad", 3);
	b.data[b.rpos + FRAME_HDRLEN + 2 + 7] = 1;	/* its byte 7 */
	write_all(fd, buf_data(&b), buf_len(&b));
	turn(&s);
	ck_assert_uint_eq(s.batched, NFRAMES + 1);
	ck_assert_int_eq(s.lost, PEER_BAD);
	ck_assert_str_eq(s.why, "non-zero reserved header bytes");
	buf_free(&b);
	teardown(&s, fd);
}
END_TEST

START_TEST(test_oversize_refused_before_payload)
{
	struct peer_conf conf = { .max_len = 100 };
	struct seen	 s;
	char		 hdr[FRAME_HDRLEN];
	int		 fd;

	setup(&s, &conf, &fd);
	/* Only the header: the payload it announces never comes. */
	frame_put(hdr, FRAME_JOB, 0, 1000, 1);
	write_all(fd, hdr, sizeof(hdr));
	turn(&s);
	ck_assert_int_eq(s.lost, PEER_BAD);
	ck_assert_str_eq(s.why, "frame over the size limit");
	ck_assert_uint_eq(s.frames, 0);
	ck_assert(!peer_reading(s.peer));
	teardown(&s, fd);
}
END_TEST

START_TEST(test_bad_header_refused)
{
	struct seen	 s;
	char		 hdr[FRAME_HDRLEN];
	int		 fd;

	setup(&s, NULL, &fd);
	frame_put(hdr, FRAME_JOB, 0, 0, 1);
	hdr[7] = 1;
	write_all(fd, hdr, sizeof(hdr));
	turn(&s);
	ck_assert_int_eq(s.lost, PEER_BAD);
	ck_assert_str_eq(s.why, "non-zero reserved header bytes");
	teardown(&s, fd);
}
END_TEST

START_TEST(test_eof_mid_frame)
{
	struct seen	 s;
	struct buf	 b;
	int		 fd;

	setup(&s, NULL, &fd);
	buf_init(&b);
	put_frame(&b, 1, "whole", 5);
	put_frame(&b, 2, "cut short", 9);
	write_all(fd, buf_data(&b), buf_len(&b) - 4);
	shutdown(fd, SHUT_WR);
	turn(&s);
	turn(&s);
	ck_assert_uint_eq(s.frames, 1);
	ck_assert_int_eq(s.lost, PEER_EOF_MID);
	ck_assert_str_eq(s.why, "end of stream inside a frame");
	ck_assert(!peer_reading(s.peer));
	buf_free(&b);
	teardown(&s, fd);
}
END_TEST

START_TEST(test_eof_at_boundary)
{
	struct seen	 s;
	struct buf	 b;
	int		 fd;

	setup(&s, NULL, &fd);
	buf_init(&b);
	put_frame(&b, 1, "one", 3);
	put_frame(&b, 2, "two", 3);
	write_all(fd, buf_data(&b), buf_len(&b));
	shutdown(fd, SHUT_WR);
	turn(&s);
	turn(&s);
	ck_assert_uint_eq(s.frames, 2);
	ck_assert_int_eq(s.lost, PEER_EOF);
	/* The writing half is still there after a half-close. */
	peer_send(s.peer, FRAME_RESULT, 0, 1, "ok", 2);
	peer_flush(s.peer);
	ck_assert_uint_eq(peer_pending(s.peer), 0);
	ck_assert_uint_eq(s.written_all, 1);
	buf_free(&b);
	teardown(&s, fd);
}
END_TEST

START_TEST(test_skip_payload)
{
	struct seen	 s;
	struct buf	 b;
	char		 big[3000];
	int		 fd;

	setup(&s, NULL, &fd);
	s.skip_over = 100;
	buf_init(&b);
	memset(big, 'x', sizeof(big));
	put_frame(&b, 1, big, sizeof(big));
	put_frame(&b, 2, "after", 5);
	write_all(fd, buf_data(&b), 1000);
	turn(&s);
	ck_assert(peer_skipping(s.peer));
	ck_assert(peer_mid_message(s.peer));
	ck_assert_uint_eq(s.skipped, 0);
	write_all(fd, buf_data(&b) + 1000, buf_len(&b) - 1000);
	turn(&s);
	ck_assert_uint_eq(s.skipped, 1);
	ck_assert_uint_eq(s.frames, 1);
	ck_assert_uint_eq(s.ids[0], 2);
	ck_assert(!peer_mid_message(s.peer));
	buf_free(&b);
	teardown(&s, fd);
}
END_TEST

START_TEST(test_more_pauses_resume_goes_on)
{
	struct seen	 s;
	struct buf	 b;
	int		 fd;
	unsigned	 i;

	setup(&s, NULL, &fd);
	s.limit_take = true;
	s.take = 3;
	buf_init(&b);
	for (i = 0; i < 10; i++)
		put_frame(&b, i, "j", 1);
	write_all(fd, buf_data(&b), buf_len(&b));
	turn(&s);
	ck_assert_uint_eq(s.frames, 3);
	ck_assert(peer_mid_message(s.peer));	/* the rest is buffered */
	s.take = 10;
	peer_resume(s.peer);
	ck_assert_uint_eq(s.frames, 10);
	ck_assert_uint_eq(s.ids[9], 9);
	ck_assert_uint_eq(s.read_ends, 2);
	buf_free(&b);
	teardown(&s, fd);
}
END_TEST

START_TEST(test_free_in_hook)
{
	struct seen	 s;
	struct buf	 b;
	int		 fd;

	setup(&s, NULL, &fd);
	s.free_in_frame = true;
	buf_init(&b);
	put_frame(&b, 1, "a", 1);
	put_frame(&b, 2, "b", 1);
	write_all(fd, buf_data(&b), buf_len(&b));
	turn(&s);
	ck_assert_uint_eq(s.frames, 1);		/* nothing after the free */
	ck_assert_uint_eq(s.read_ends, 0);
	ck_assert_ptr_null(s.peer);
	buf_free(&b);
	teardown(&s, fd);
}
END_TEST

START_TEST(test_flush_once_per_turn)
{
	struct seen	 s;
	char		 got[64 * FRAME_HDRLEN];
	int		 fd;
	unsigned	 i;

	setup(&s, NULL, &fd);
	for (i = 0; i < 64; i++) {
		peer_send(s.peer, FRAME_RESULT, 0, i, NULL, 0);
		peer_schedule(s.peer);
	}
	/* Deferred: nothing is written before the loop turns. */
	ck_assert_uint_eq(peer_pending(s.peer), sizeof(got));
	ck_assert_int_eq(recv(fd, got, sizeof(got), MSG_DONTWAIT), -1);
	turn(&s);
	ck_assert_uint_eq(s.written_all, 1);	/* one flush for 64 */
	ck_assert_uint_eq(peer_pending(s.peer), 0);
	ck_assert_int_eq(recv(fd, got, sizeof(got), MSG_WAITALL),
	    (int)sizeof(got));
	teardown(&s, fd);
}
END_TEST

struct slow {
	int		 fd;
	struct event	*ev;
	struct buf	 got;
};

/* The slow reader: 4 KiB a millisecond. */
static void
slow_cb(int fd, short what, void *arg)
{
	struct slow	*r = arg;
	struct timeval	 tv = { 0, 1000 };
	ssize_t		 n;

	(void)fd;
	(void)what;
	n = buf_read(&r->got, r->fd, 4096);
	ck_assert(n > 0 || (n == -1 && errno == EAGAIN));
	evtimer_add(r->ev, &tv);
}

START_TEST(test_deferred_flush_slow_reader)
{
	struct seen	 s;
	struct slow	 r;
	struct timeval	 tv = { 0, 1000 };
	char		 payload[1024];
	struct frame_hdr h;
	const char	*p;
	int		 fd, sz = 4096;
	unsigned	 i, k;

	setup(&s, NULL, &fd);
	ck_assert_int_eq(setsockopt(peer_fd(s.peer), SOL_SOCKET, SO_SNDBUF,
	    &sz, sizeof(sz)), 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz,
	    sizeof(sz)), 0);
	ck_assert_int_ne(fcntl(fd, F_SETFL, O_NONBLOCK), -1);
	for (i = 0; i < 256; i++) {
		memset(payload, 'a' + i % 26, sizeof(payload));
		peer_send(s.peer, FRAME_RESULT, 0, i, payload,
		    sizeof(payload));
		peer_schedule(s.peer);
	}
	turn(&s);
	/* The socket took part: the rest waits for EV_WRITE. */
	ck_assert_uint_eq(s.written_part, 1);
	ck_assert_uint_eq(s.written_all, 0);
	ck_assert(peer_writing(s.peer));
	ck_assert_uint_gt(peer_pending(s.peer), 0);
	memset(&r, 0, sizeof(r));
	r.fd = fd;
	buf_init(&r.got);
	r.ev = evtimer_new(s.base, slow_cb, &r);
	evtimer_add(r.ev, &tv);
	for (k = 0; k < 100000 && s.written_all == 0; k++)
		ck_assert_int_ne(event_base_loop(s.base, EVLOOP_ONCE), -1);
	ck_assert_uint_eq(s.written_all, 1);
	ck_assert(!peer_writing(s.peer));
	ck_assert_uint_eq(peer_pending(s.peer), 0);
	while (buf_len(&r.got) < 256 * (FRAME_HDRLEN + sizeof(payload)))
		ck_assert_int_gt(buf_read(&r.got, fd, 65536), 0);
	/* Every message whole and in order. */
	for (i = 0; i < 256; i++) {
		ck_assert_int_eq(frame_parse_flags(buf_data(&r.got),
		    buf_len(&r.got), 1 << 20, 0, &h, &p), FRAME_GOOD);
		ck_assert_uint_eq(h.id, i);
		ck_assert_uint_eq(h.len, sizeof(payload));
		ck_assert_int_eq(buf_data(&r.got)[FRAME_HDRLEN +
		    sizeof(payload) - 1], 'a' + (int)(i % 26));
		buf_consume(&r.got, FRAME_HDRLEN + sizeof(payload));
	}
	ck_assert_uint_eq(buf_len(&r.got), 0);
	ck_assert_int_eq(s.lost, -1);
	event_free(r.ev);
	buf_free(&r.got);
	teardown(&s, fd);
}
END_TEST

START_TEST(test_write_error_keeps_reading)
{
	struct seen	 s;
	int		 fd;

	signal(SIGPIPE, SIG_IGN);
	setup(&s, NULL, &fd);
	close(fd);
	fd = open("/dev/null", O_RDONLY);
	peer_send(s.peer, FRAME_RESULT, 0, 1, "x", 1);
	peer_flush(s.peer);
	ck_assert_int_eq(s.lost, PEER_WRITE_ERROR);
	ck_assert_int_eq(peer_errno(s.peer), EPIPE);
	ck_assert_uint_eq(peer_pending(s.peer), 0);
	/* Dropped from now on, and no second lost(). */
	peer_send(s.peer, FRAME_RESULT, 0, 2, "y", 1);
	ck_assert_uint_eq(peer_pending(s.peer), 0);
	peer_flush(s.peer);
	teardown(&s, fd);
}
END_TEST

/* Frames of 100 bytes each, ids from id0, 116 bytes with the header. */
static void
put_frames(struct buf *b, uint64_t id0, unsigned n)
{
	char		 payload[100];
	unsigned	 i;

	for (i = 0; i < n; i++) {
		memset(payload, 'a' + (int)(i % 26), sizeof(payload));
		put_frame(b, id0 + i, payload, sizeof(payload));
	}
}

START_TEST(test_drain_reads_what_is_there)
{
	struct peer_conf conf = { .read_max = 4096 };
	struct seen	 s;
	struct buf	 b;
	int		 fd;
	unsigned	 i, ends;

	setup(&s, &conf, &fd);
	peer_set_reading(s.peer, false);	/* the owner reads */
	buf_init(&b);
	put_frames(&b, 0, 100);			/* 11600 bytes */
	write_all(fd, buf_data(&b), buf_len(&b));
	/* More than one read (the buffer grows), each with its end. */
	ck_assert_uint_eq(peer_drain(s.peer, 0, 64), 100 * 116);
	ck_assert_uint_eq(s.frames, 100);
	ck_assert_uint_ge(s.read_ends, 2);
	ends = s.read_ends;
	for (i = 0; i < 100; i++)
		ck_assert_uint_eq(s.ids[i], i);
	ck_assert(!peer_mid_message(s.peer));
	ck_assert(!peer_reading(s.peer));
	/* Nothing there: no read_end, and nothing lost. */
	ck_assert_uint_eq(peer_drain(s.peer, 0, 64), 0);
	ck_assert_uint_eq(s.read_ends, ends);
	ck_assert_int_eq(s.lost, -1);
	/* The writer is gone: the rest, then lost(), once. */
	buf_reset(&b);
	put_frames(&b, 100, 3);
	write_all(fd, buf_data(&b), buf_len(&b));
	shutdown(fd, SHUT_WR);
	ck_assert_uint_eq(peer_drain(s.peer, 0, 64), 3 * 116);
	ck_assert_uint_eq(s.frames, 103);
	ck_assert_int_eq(s.lost, -1);		/* a short read ends a drain */
	ck_assert_uint_eq(peer_drain(s.peer, 0, 64), 0);
	ck_assert_int_eq(s.lost, PEER_EOF);
	ck_assert_uint_eq(peer_drain(s.peer, 0, 64), 0);	/* no more */
	buf_free(&b);
	teardown(&s, fd);
}
END_TEST

START_TEST(test_drain_limits)
{
	struct peer_conf conf = { .read_max = 4096, .reads_per_event = 1 };
	struct seen	 s;
	struct buf	 b;
	size_t		 got;
	int		 fd;

	setup(&s, &conf, &fd);
	peer_set_reading(s.peer, false);
	buf_init(&b);
	put_frames(&b, 0, 400);			/* 46400 bytes */
	write_all(fd, buf_data(&b), buf_len(&b));
	/* reads 0: reads_per_event, one read of read_max. */
	ck_assert_uint_eq(peer_drain(s.peer, 0, 0), 4096);
	ck_assert_uint_eq(s.read_ends, 1);
	ck_assert_uint_eq(s.frames, 4096 / 116);
	ck_assert(peer_mid_message(s.peer));
	/* max: no second read once that much is in. */
	got = peer_drain(s.peer, 1, 64);
	ck_assert_uint_ge(got, 4096);
	ck_assert_uint_eq(s.read_ends, 2);
	ck_assert_uint_eq(peer_drain(s.peer, 0, 64), 400 * 116 - 4096 - got);
	ck_assert_uint_eq(s.frames, 400);
	ck_assert_int_eq(s.lost, -1);
	buf_free(&b);
	teardown(&s, fd);
}
END_TEST

START_TEST(test_drain_eof_mid_frame)
{
	struct seen	 s;
	struct buf	 b;
	int		 fd;

	setup(&s, NULL, &fd);
	peer_set_reading(s.peer, false);
	buf_init(&b);
	put_frames(&b, 0, 2);
	write_all(fd, buf_data(&b), buf_len(&b) - 1);
	shutdown(fd, SHUT_WR);
	ck_assert_uint_eq(peer_drain(s.peer, 0, 64), 2 * 116 - 1);
	ck_assert_uint_eq(peer_drain(s.peer, 0, 64), 0);
	ck_assert_uint_eq(s.frames, 1);
	ck_assert_int_eq(s.lost, PEER_EOF_MID);
	buf_free(&b);
	teardown(&s, fd);
}
END_TEST

START_TEST(test_drain_stops_at_refused_header)
{
	struct peer_conf conf = { .read_max = 4096, .max_len = 50 };
	struct seen	 s;
	struct buf	 b;
	int		 fd;

	setup(&s, &conf, &fd);
	peer_set_reading(s.peer, false);
	buf_init(&b);
	put_frame(&b, 1, "ok", 2);
	put_frames(&b, 2, 100);		/* over max_len: refused */
	write_all(fd, buf_data(&b), buf_len(&b));
	/* The first read is parsed up to the refusal; no second read. */
	ck_assert_uint_eq(peer_drain(s.peer, 0, 64), 4096);
	ck_assert_uint_eq(s.frames, 1);
	ck_assert_int_eq(s.lost, PEER_BAD);
	ck_assert_str_eq(s.why, "frame over the size limit");
	ck_assert_uint_eq(peer_drain(s.peer, 0, 64), 0);
	buf_free(&b);
	teardown(&s, fd);
}
END_TEST

START_TEST(test_drain_free_in_hook)
{
	struct seen	 s;
	struct buf	 b;
	int		 fd;

	setup(&s, NULL, &fd);
	peer_set_reading(s.peer, false);
	s.free_in_frame = true;
	buf_init(&b);
	put_frames(&b, 0, 2);
	write_all(fd, buf_data(&b), buf_len(&b));
	(void)peer_drain(s.peer, 0, 64);
	ck_assert_uint_eq(s.frames, 1);
	ck_assert_uint_eq(s.read_ends, 0);
	ck_assert_ptr_null(s.peer);
	buf_free(&b);
	teardown(&s, fd);
}
END_TEST

/* Send one frame over fd with fds passed (SCM_RIGHTS) alongside. */
static void
send_with_fds(int fd, const int *fds, size_t nfds)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(8 * sizeof(int))];
	}		 cm;
	struct cmsghdr	*c;
	struct msghdr	 msg;
	struct iovec	 iov;
	char		 hdr[FRAME_HDRLEN];

	frame_put(hdr, FRAME_JOB, 0, 0, 1);
	iov.iov_base = hdr;
	iov.iov_len = sizeof(hdr);
	memset(&msg, 0, sizeof(msg));
	memset(&cm, 0, sizeof(cm));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	ck_assert_int_eq(sendmsg(fd, &msg, 0), FRAME_HDRLEN);
}

/* How many descriptors this process has open. */
static unsigned
open_fds(void)
{
	unsigned	 n = 0;
	int		 fd;

	for (fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) != -1;
	return (n);
}

/*
 * peer_take_fds(): one descriptor passed with the bytes is kept for
 * peer_passed_fd(), close-on-exec, the others (of the same message and of
 * later ones) closed; off, none is kept, and none stays open.  The bytes
 * come through either way.
 */
START_TEST(test_passed_fds)
{
	struct seen	 s;
	int		 fd, p[2], q[2], got, base;

	setup(&s, NULL, &fd);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(pipe(q), 0);
	base = (int)open_fds();
	send_with_fds(fd, (int[]){ p[0], q[0], q[1] }, 3);
	turn(&s);
	ck_assert_uint_eq(s.frames, 1);
	ck_assert_int_eq(peer_passed_fd(s.peer), -1);	/* not taken */
	ck_assert_int_eq((int)open_fds(), base);
	peer_take_fds(s.peer, true);
	send_with_fds(fd, (int[]){ p[0], q[0], q[1] }, 3);
	send_with_fds(fd, (int[]){ q[0] }, 1);
	turn(&s);
	turn(&s);
	ck_assert_uint_eq(s.frames, 3);
	ck_assert_int_eq((int)open_fds(), base + 1);
	got = peer_passed_fd(s.peer);
	ck_assert_int_ne(got, -1);
	ck_assert_int_eq(peer_passed_fd(s.peer), -1);	/* the caller's */
	ck_assert_int_ne(fcntl(got, F_GETFD) & FD_CLOEXEC, 0);
	ck_assert_int_eq(write(p[1], "x", 1), 1);	/* the pipe p */
	ck_assert_int_eq(read(got, &(char){ 0 }, 1), 1);
	close(got);
	/* One kept and not taken is closed with the peer. */
	send_with_fds(fd, (int[]){ p[0] }, 1);
	turn(&s);
	ck_assert_int_eq((int)open_fds(), base + 1);
	peer_free(s.peer);		/* its socket, and the one it kept */
	ck_assert_int_eq((int)open_fds(), base - 1);
	event_base_free(s.base);
	close(fd);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}
END_TEST

static Suite *
peer_suite(void)
{
	Suite	*s = suite_create("peer");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_split_across_reads);
	tcase_add_test(tc, test_passed_fds);
	tcase_add_test(tc, test_many_in_one_read);
	tcase_add_test(tc, test_frames_in_one_call);
	tcase_add_test(tc, test_oversize_refused_before_payload);
	tcase_add_test(tc, test_bad_header_refused);
	tcase_add_test(tc, test_eof_mid_frame);
	tcase_add_test(tc, test_eof_at_boundary);
	tcase_add_test(tc, test_skip_payload);
	tcase_add_test(tc, test_more_pauses_resume_goes_on);
	tcase_add_test(tc, test_free_in_hook);
	tcase_add_test(tc, test_flush_once_per_turn);
	tcase_add_test(tc, test_deferred_flush_slow_reader);
	tcase_add_test(tc, test_write_error_keeps_reading);
	tcase_add_test(tc, test_drain_reads_what_is_there);
	tcase_add_test(tc, test_drain_limits);
	tcase_add_test(tc, test_drain_eof_mid_frame);
	tcase_add_test(tc, test_drain_stops_at_refused_header);
	tcase_add_test(tc, test_drain_free_in_hook);
	suite_add_tcase(s, tc);
	return (s);
}

CHECK_MAIN(peer_suite)

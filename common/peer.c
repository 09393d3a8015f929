/*
 * One read loop for the frame streams (peer.h): both ends of the control
 * socket read and write 16-byte-header frames the same way, with the same
 * rules for EOF, errors and sizes, here.
 *
 * Raw events and flat buffers (buf.c), not bufferevents: a bufferevent
 * re-arms its write event with epoll_ctl twice per reply, spends a loop
 * turn before writing and asks FIONREAD before every read.  Here output is
 * written once at the end of the loop turn (a deferred event), and the
 * write event is armed only while the socket is full.
 *
 * Hooks may close or free the peer.  So every way in from the loop (or from
 * the owner, for peer_flush() and peer_resume()) counts itself in `busy`:
 * a close inside leaves the buffers (a frame's payload may still be in
 * use) and a free leaves the struct to the outermost way out, and nothing
 * more is done once the fd is closed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "buf.h"
#include "peer.h"
#include "xmalloc.h"

#define PEER_READ_MAX	(256 * 1024)
#define PEER_KEEP	(1024 * 1024)

struct peer {
	struct event_base	*base;
	const struct peer_ops	*ops;
	void			*arg;
	int			 fd;		/* -1 once closed */
	int			 err;		/* of the last error */
	struct event		*ev_read;
	struct event		*ev_write;	/* armed only when it is full */
	struct event		*ev_flush;	/* end of the loop turn */
	struct buf		 in;
	struct buf		 out;
	uint64_t		 out_total;	/* bytes ever queued */
	struct frame_hdr	 hdr;		/* judged, payload awaited */
	bool			 have_hdr;
	struct frame_hdr	 skip_hdr;	/* of the payload skipped */
	uint64_t		 skip;		/* bytes of it still to come */
	bool			 skipping;
	size_t			 read_max;
	unsigned		 reads;
	uint32_t		 max_len;
	size_t			 keep;
	bool			 reading;	/* ev_read is added */
	bool			 rlost;		/* EOF, read error, refused */
	bool			 writing;	/* ev_write is added */
	bool			 flush_due;	/* ev_flush is active */
	bool			 wfailed;	/* output is dropped */
	unsigned		 busy;		/* ways in running */
	bool			 dead;		/* freed while busy */
	bool			 take_fds;	/* recvmsg(2): keep one fd */
	int			 passed;	/* that fd, or -1 */
};

static void	peer_read_cb(int, short, void *);
static void	peer_write_cb(int, short, void *);
static void	peer_flush_cb(int, short, void *);

/* A peer on the non-blocking fd; it reads once peer_set_reading() says. */
struct peer *
peer_new(struct event_base *base, int fd, const struct peer_conf *conf,
    const struct peer_ops *ops, void *arg)
{
	struct peer	*p;

	p = xcalloc(1, sizeof(*p));
	p->base = base;
	p->ops = ops;
	p->arg = arg;
	p->fd = fd;
	p->passed = -1;
	buf_init(&p->in);
	buf_init(&p->out);
	p->read_max = PEER_READ_MAX;
	p->reads = 1;
	p->max_len = FRAME_MAXLEN;
	p->keep = PEER_KEEP;
	if (conf != NULL) {
		if (conf->read_max != 0)
			p->read_max = conf->read_max;
		if (conf->reads_per_event != 0)
			p->reads = conf->reads_per_event;
		if (conf->max_len != 0)
			p->max_len = conf->max_len;
		if (conf->keep != 0)
			p->keep = conf->keep;
	}
	p->ev_read = event_new(base, fd, EV_READ | EV_PERSIST, peer_read_cb,
	    p);
	p->ev_write = event_new(base, fd, EV_WRITE | EV_PERSIST,
	    peer_write_cb, p);
	p->ev_flush = event_new(base, -1, 0, peer_flush_cb, p);
	return (p);
}

static void
peer_destroy(struct peer *p)
{
	event_free(p->ev_read);
	event_free(p->ev_write);
	event_free(p->ev_flush);
	buf_free(&p->in);
	buf_free(&p->out);
	free(p);
}

static void
peer_enter(struct peer *p)
{
	p->busy++;
}

/* The way out: do what a close or a free inside left to it. */
static void
peer_leave(struct peer *p)
{
	if (--p->busy != 0)
		return;
	if (p->dead)
		peer_destroy(p);
	else if (p->fd == -1) {
		buf_free(&p->in);
		buf_free(&p->out);
	}
}

/* Close the fd; hooks are called no more.  The struct lives on. */
void
peer_close(struct peer *p)
{
	if (p->fd == -1)
		return;
	event_del(p->ev_read);
	event_del(p->ev_write);
	event_del(p->ev_flush);
	close(p->fd);
	p->fd = -1;
	if (p->passed != -1)
		(void)close(p->passed);
	p->passed = -1;
	p->reading = p->writing = p->flush_due = false;
	p->have_hdr = p->skipping = false;
	p->skip = 0;
	if (p->busy == 0) {
		buf_free(&p->in);
		buf_free(&p->out);
	}
}

/* Close and free (later, if a hook of this peer is running). */
void
peer_free(struct peer *p)
{
	if (p == NULL)
		return;
	peer_close(p);
	if (p->busy != 0)
		p->dead = true;
	else
		peer_destroy(p);
}

/*
 * Take descriptors passed with the bytes (SCM_RIGHTS): one is kept for
 * peer_passed_fd(), every other one closed.  Off (the default), read(2)
 * discards them, and the kernel closes them.
 */
void
peer_take_fds(struct peer *p, bool on)
{
	p->take_fds = on;
}

/* The descriptor passed and kept, now the caller's; -1 if none. */
int
peer_passed_fd(struct peer *p)
{
	int	 fd = p->passed;

	p->passed = -1;
	return (fd);
}

int
peer_fd(const struct peer *p)
{
	return (p->fd);
}

int
peer_errno(const struct peer *p)
{
	return (p->err);
}

/* Watch the fd for input, or stop (backpressure, the end of a request). */
void
peer_set_reading(struct peer *p, bool on)
{
	if (p->fd == -1 || p->reading == on)
		return;
	p->reading = on;
	if (on)
		event_add(p->ev_read, NULL);
	else
		event_del(p->ev_read);
}

bool
peer_reading(const struct peer *p)
{
	return (p->reading);
}

/* Part of a message is in: buffered bytes not handed over, or a skip. */
bool
peer_mid_message(const struct peer *p)
{
	return (buf_len(&p->in) != 0 || p->skipping);
}

bool
peer_skipping(const struct peer *p)
{
	return (p->skipping);
}

/* The header is refused: stop reading, say why. */
static void
peer_refuse(struct peer *p, const char *why)
{
	p->rlost = true;
	peer_set_reading(p, false);
	p->ops->lost(p->arg, PEER_BAD, why != NULL ? why : "bad header");
}

/*
 * Hand over every whole frame buffered, while more() says so.  The hot
 * path (a frame taken and whole in the buffer) keeps its header on the
 * stack, stored only for a payload still to come, and the hooks in
 * registers (the ops are not to change while the peer lives).
 */
static void
peer_parse(struct peer *p)
{
	bool			(*more)(void *) = p->ops->more;
	enum peer_verdict	(*header)(void *, const char *,
				    struct frame_hdr *, const char **) =
				    p->ops->header;
	void			(*frame)(void *, const struct frame_hdr *,
				    const char *, size_t) = p->ops->frame;
	void			*arg = p->arg;
	enum peer_verdict	 v;
	struct frame_hdr	 h;
	const char		*why;
	size_t			 n;

	if (p->fd == -1)
		return;
	for (;;) {
		if (more != NULL && (!more(arg) || p->fd == -1))
			return;
		if (p->skipping) {
			n = buf_len(&p->in);
			if (n > p->skip)
				n = (size_t)p->skip;
			buf_consume(&p->in, n);
			p->skip -= n;
			if (p->skip != 0)
				return;
			p->skipping = false;
			if (p->ops->skipped != NULL)
				p->ops->skipped(arg, &p->skip_hdr);
			if (p->fd == -1)
				return;
			continue;
		}
		if (p->ops->frames != NULL && !p->have_hdr &&
		    buf_len(&p->in) >= FRAME_HDRLEN) {
			n = p->ops->frames(arg, buf_data(&p->in),
			    buf_len(&p->in));
			if (p->fd == -1)
				return;
			buf_consume(&p->in, n);
			if (n != 0)
				continue;	/* more(), then the rest */
		}
		if (p->have_hdr) {
			h = p->hdr;
			if (buf_len(&p->in) - FRAME_HDRLEN < h.len)
				return;
			p->have_hdr = false;
		} else {
			if (buf_len(&p->in) < FRAME_HDRLEN)
				return;
			why = NULL;
			if (header == NULL) {
				frame_decode(buf_data(&p->in), &h);
				v = PEER_TAKE;
			} else {
				v = header(arg, buf_data(&p->in), &h, &why);
				if (p->fd == -1)
					return;
			}
			if (v != PEER_TAKE || h.len > p->max_len) {
				if (v == PEER_LEAVE)
					return;
				if (v == PEER_TAKE) {
					v = PEER_REFUSE;
					why = "frame over the size limit";
				}
				if (v == PEER_REFUSE) {
					peer_refuse(p, why);
					return;
				}
				/* PEER_SKIP */
				buf_consume(&p->in, FRAME_HDRLEN);
				p->skip_hdr = h;
				p->skip = h.len;
				p->skipping = true;
				continue;
			}
			if (buf_len(&p->in) - FRAME_HDRLEN < h.len) {
				p->hdr = h;
				p->have_hdr = true;
				return;
			}
		}
		frame(arg, &h, buf_data(&p->in) + FRAME_HDRLEN, h.len);
		if (p->fd == -1)
			return;
		buf_consume(&p->in, FRAME_HDRLEN + h.len);
	}
}

/*
 * Up to reads reads of read_max bytes, each parsed at once and followed by
 * read_end(), until one is short (the fd has no more for now), max bytes
 * are in, or the stream is lost or closed; on the readable event, also
 * until reading is turned off.  Returns the bytes read.
 */
static size_t
peer_read_some(struct peer *p, unsigned reads, size_t max, bool event)
{
	enum peer_loss	 loss;
	ssize_t		 n;
	size_t		 got = 0;
	unsigned	 i;

	for (i = 0; i < reads && got < max && p->fd != -1 &&
	    (event ? p->reading : !p->rlost); i++) {
		n = p->take_fds ? buf_read_fds(&p->in, p->fd, p->read_max,
		    &p->passed) : buf_read(&p->in, p->fd, p->read_max);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			p->err = n == 0 ? 0 : errno;
			loss = n != 0 ? PEER_READ_ERROR : peer_mid_message(p) ?
			    PEER_EOF_MID : PEER_EOF;
			p->rlost = true;
			peer_set_reading(p, false);
			p->ops->lost(p->arg, loss, n != 0 ? strerror(p->err) :
			    loss == PEER_EOF ? "end of stream" :
			    "end of stream inside a frame");
			break;
		}
		got += (size_t)n;
		if (p->ops->input != NULL)
			p->ops->input(p->arg, (size_t)n);
		if (p->fd == -1)
			break;
		peer_parse(p);
		if (p->fd == -1)
			break;
		if (p->ops->read_end != NULL)
			p->ops->read_end(p->arg);
		if ((event ? !p->reading : p->rlost) ||
		    (size_t)n < p->read_max)
			break;
	}
	return (got);
}

/* The fd is readable: a few large reads, each parsed at once. */
static void
peer_read_cb(int fd, short what, void *arg)
{
	struct peer	*p = arg;

	(void)fd;
	(void)what;
	peer_enter(p);
	(void)peer_read_some(p, p->reads, SIZE_MAX, true);
	peer_leave(p);
}

/*
 * Read what the fd holds now, driven by the owner rather than by the
 * readable event (which it need not turn on): its own event, or a stream
 * whose writer is gone and must be read to its end at once.  As on the
 * event, up to reads reads (0: reads_per_event) of read_max bytes, each
 * parsed and followed by read_end(), until a short read, max bytes (0: no
 * limit), or the read side is lost (EOF, a read error, a refused header:
 * lost(), once; peer_drain() reads no more after it).  Input memory past
 * keep is given back when it ends with nothing buffered.  Not from a hook
 * of the same peer: a payload handed over would move.  Returns the bytes
 * read.
 */
size_t
peer_drain(struct peer *p, size_t max, unsigned reads)
{
	size_t	 got;

	if (p->fd == -1)
		return (0);
	peer_enter(p);
	got = peer_read_some(p, reads != 0 ? reads : p->reads,
	    max != 0 ? max : SIZE_MAX, false);
	if (p->fd != -1)
		buf_shrink(&p->in, p->keep);
	peer_leave(p);
	return (got);
}

/* more() said no, and now yes: hand over what is buffered. */
void
peer_resume(struct peer *p)
{
	if (p->fd == -1)
		return;
	peer_enter(p);
	peer_parse(p);
	if (p->fd != -1 && p->ops->read_end != NULL)
		p->ops->read_end(p->arg);
	peer_leave(p);
}

/* Queue one message: header and payload. */
void
peer_send(struct peer *p, uint8_t type, uint8_t status, uint64_t id,
    const void *data, size_t len)
{
	if (p->fd == -1 || p->wfailed)
		return;
	frame_put(buf_reserve(&p->out, FRAME_HDRLEN + len), type, status,
	    (uint32_t)len, id);
	buf_commit(&p->out, FRAME_HDRLEN);
	buf_add(&p->out, data, len);
	p->out_total += FRAME_HDRLEN + len;
}

/* Room for n bytes of output, built in place, then peer_commit(). */
char *
peer_reserve(struct peer *p, size_t n)
{
	return (buf_reserve(&p->out, n));
}

void
peer_commit(struct peer *p, size_t n)
{
	if (p->fd == -1 || p->wfailed)
		return;
	buf_commit(&p->out, n);
	p->out_total += n;
}

/*
 * The bytes queued so far, ever: a message built in place can tell that
 * nothing was queued after it (a run that may grow, control.c).
 */
uint64_t
peer_queued_total(const struct peer *p)
{
	return (p->out_total);
}

/* The last n bytes queued, or NULL when some of them were written. */
char *
peer_tail(struct peer *p, size_t n)
{
	if (buf_len(&p->out) < n)
		return (NULL);
	return (buf_data(&p->out) + buf_len(&p->out) - n);
}

/* Bytes queued and not written yet. */
size_t
peer_pending(const struct peer *p)
{
	return (buf_len(&p->out));
}

bool
peer_writing(const struct peer *p)
{
	return (p->writing);
}

/*
 * Write what is queued at the end of this loop turn (once per turn).  A
 * flag says the flush is due, rather than an event_pending() per message
 * queued (docs/architecture.md, "droverd", Clients).
 */
void
peer_schedule(struct peer *p)
{
	if (p->fd == -1 || p->wfailed || p->writing || p->flush_due)
		return;
	p->flush_due = true;
	event_active(p->ev_flush, EV_TIMEOUT, 0);
}

/* Write as much as the fd takes now; arm the write event for the rest. */
void
peer_flush(struct peer *p)
{
	ssize_t	 n;

	if (p->fd == -1 || p->wfailed)
		return;
	peer_enter(p);
	while (buf_len(&p->out) != 0) {
		n = buf_write(&p->out, p->fd);
		if (n > 0)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!p->writing) {
				p->writing = true;
				event_add(p->ev_write, NULL);
			}
			if (p->ops->written != NULL)
				p->ops->written(p->arg, false);
			goto out;
		}
		/* The reading side may still have things to hear. */
		p->err = n == -1 ? errno : EIO;
		p->wfailed = true;
		buf_reset(&p->out);
		if (p->writing) {
			p->writing = false;
			event_del(p->ev_write);
		}
		event_del(p->ev_flush);
		p->flush_due = false;
		p->ops->lost(p->arg, PEER_WRITE_ERROR, strerror(p->err));
		goto out;
	}
	buf_shrink(&p->out, p->keep);
	if (p->writing) {
		p->writing = false;
		event_del(p->ev_write);
	}
	if (p->ops->written != NULL)
		p->ops->written(p->arg, true);
out:
	peer_leave(p);
}

/* Writable again. */
static void
peer_write_cb(int fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	peer_flush(arg);
}

/* The end of the loop turn that peer_schedule() asked for. */
static void
peer_flush_cb(int fd, short what, void *arg)
{
	struct peer	*p = arg;

	(void)fd;
	(void)what;
	p->flush_due = false;
	peer_flush(p);
}

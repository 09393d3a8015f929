/*
 * A peer: one non-blocking stream of 16-byte-header frames (frame.h), read
 * and written on a libevent loop (peer.c).  The control socket's both ends
 * (daemon/control.c, cli/client.c) use it, and so does a frame worker's
 * result stream (daemon/worker.c, read-only, with peer_drain()): many
 * frames per read, a hook at the end of each read.
 *
 * Reading: up to read_max bytes per read(2), reads_per_event reads per
 * readable event.  Each header is judged once, by header(), before its
 * payload is buffered: taken (the whole frame goes to frame(), header
 * parsed, payload in place), skipped (its payload is discarded as it
 * streams past, then skipped()), left for later, or refused (lost()).  A
 * payload over max_len is refused without a header() verdict's help.
 * more() is asked before each step, so that the owner can stop taking
 * frames (backpressure) and go on with peer_resume().  A hot stream may
 * take all the whole frames at the head of the buffer in one frames() call
 * instead, and parse them in its own loop (a worker's results: no call
 * through the peer per frame).  peer_drain() reads
 * the same way when the owner says, not the readable event: a stream read
 * from the owner's own event, or one to be read to its end at once.
 *
 * Writing: peer_send() and peer_reserve()/peer_commit() queue output;
 * peer_schedule() writes it once at the end of the loop turn, however many
 * messages were queued; what the socket does not take waits for EV_WRITE.
 * peer_flush() writes at once.  written() says how each flush went.
 *
 * lost() is the one way a peer ends: EOF (at a frame boundary or inside
 * one), a read or write error, a header refused or over max_len.  The side
 * that failed stops (EOF or a read error: no more reading; a write error:
 * output dropped, no more writing); the owner decides whether to close.
 * Hooks may close or free the peer: nothing of it runs after that.
 */
#ifndef DROVER_PEER_H
#define DROVER_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

struct event_base;
struct peer;

enum peer_verdict {
	PEER_TAKE,	/* buffer the payload; frame() once it is whole */
	PEER_SKIP,	/* discard the payload, then skipped() */
	PEER_LEAVE,	/* stop here, the frame unread, until peer_resume() */
	PEER_REFUSE,	/* broken: lost(PEER_BAD, why) */
};

enum peer_loss {
	PEER_EOF,	/* closed by the other side, between frames */
	PEER_EOF_MID,	/* closed by the other side inside a frame */
	PEER_READ_ERROR, /* errno in peer_errno() */
	PEER_WRITE_ERROR, /* errno in peer_errno() */
	PEER_BAD,	/* a header refused, or a payload over max_len */
};

struct peer_ops {
	/*
	 * Judge the raw header p (FRAME_HDRLEN bytes) and fill *h; *why for
	 * PEER_REFUSE.  NULL: frame_decode() and take every frame.
	 */
	enum peer_verdict (*header)(void *, const char *, struct frame_hdr *,
		    const char **);
	/* Go on parsing now?  Asked before each step.  NULL: always. */
	bool	(*more)(void *);
	/* A whole frame; the payload is valid during the call only. */
	void	(*frame)(void *, const struct frame_hdr *, const char *,
		    size_t);
	/*
	 * Optional, for a hot stream (a worker's results): the whole frames
	 * at the head of the buffer at once, (p, len) from a frame
	 * boundary; the owner parses them in its own loop and returns the
	 * bytes it took (whole frames only; fewer when it stops).  A frame
	 * not yet whole then goes the usual way: header() before its payload
	 * is buffered, frame() once it is in.
	 */
	size_t	(*frames)(void *, const char *, size_t);
	/* The payload of a skipped frame is all discarded.  May be NULL. */
	void	(*skipped)(void *, const struct frame_hdr *);
	/* n bytes were read, before they are parsed.  May be NULL. */
	void	(*input)(void *, size_t);
	/*
	 * The frames of one read (or of peer_resume()) are handed over.  May
	 * be NULL.
	 */
	void	(*read_end)(void *);
	/* A flush: true when every byte is written, false when it waits. */
	void	(*written)(void *, bool);
	/* The stream broke or ended (see above); why is for a log line. */
	void	(*lost)(void *, enum peer_loss, const char *);
};

/* Limits; 0 for each default. */
struct peer_conf {
	size_t		 read_max;	/* bytes per read(2); 256 KiB */
	unsigned	 reads_per_event; /* 1 */
	uint32_t	 max_len;	/* largest payload; FRAME_MAXLEN */
	size_t		 keep;		/* buffer kept when empty; 1 MiB */
};

struct peer	*peer_new(struct event_base *, int, const struct peer_conf *,
		    const struct peer_ops *, void *);
void		 peer_close(struct peer *);
void		 peer_free(struct peer *);
int		 peer_fd(const struct peer *);
int		 peer_errno(const struct peer *);
void		 peer_take_fds(struct peer *, bool);
int		 peer_passed_fd(struct peer *);

void		 peer_set_reading(struct peer *, bool);
bool		 peer_reading(const struct peer *);
void		 peer_resume(struct peer *);
size_t		 peer_drain(struct peer *, size_t, unsigned);
bool		 peer_mid_message(const struct peer *);
bool		 peer_skipping(const struct peer *);

void		 peer_send(struct peer *, uint8_t, uint8_t, uint64_t,
		    const void *, size_t);
char		*peer_reserve(struct peer *, size_t);
void		 peer_commit(struct peer *, size_t);
size_t		 peer_pending(const struct peer *);
uint64_t	 peer_queued_total(const struct peer *);
char		*peer_tail(struct peer *, size_t);
void		 peer_schedule(struct peer *);
void		 peer_flush(struct peer *);
bool		 peer_writing(const struct peer *);

#endif

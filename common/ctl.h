/*
 * The control protocol: what `drover submit`, `status` and `reload` (or any
 * client) say to droverd on its Unix stream socket.  docs/protocol.md
 * describes the same bytes.
 *
 * Messages use the frame header of frame.h (16 bytes, little-endian: len,
 * type, status, two zero bytes, id) with these types:
 *
 *	type	dir	id		payload
 *	REQUEST	c->d	CTL_VERSION	JSON: {"op":"submit","pool":P} |
 *					{"op":"status"} | {"op":"reload"}
 *	REPLY	d->c	0		JSON: {"ok":true,...} | {"ok":false,
 *					"error":"..."}
 *	JOB	c->d	job id		the job's bytes
 *	END	c->d	0		none: no more jobs
 *	RESULT	d->c	job id		16-byte meta (pid u32, attempts u32,
 *					latency_us u64), then output or reason;
 *					status = enum job_status
 *	BYE	d->c	0		JSON: {"restarts":N[,"stopped":why]}
 *	CANCEL	c->d	0		none: cancel my queued jobs, no more
 *					input
 *
 * One request per connection.  A submit streams JOBs and reads RESULTs at
 * the same time (each side applies backpressure by not reading); after END
 * and the last RESULT the daemon sends BYE and closes.
 */
#ifndef DROVER_CTL_H
#define DROVER_CTL_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

#define CTL_VERSION	1
#define CTL_META_LEN	16
#define CTL_JSON_MAX	(16U * 1024 * 1024)	/* REPLY, BYE */
#define CTL_REQUEST_MAX	(64U * 1024)		/* what a client asks */

enum ctl_type {
	CTL_REQUEST = 1,
	CTL_REPLY = 2,
	CTL_JOB = 3,
	CTL_END = 4,
	CTL_RESULT = 5,
	CTL_BYE = 6,
	CTL_CANCEL = 7,
};

struct ctl_meta {
	uint32_t	pid;
	uint32_t	attempts;
	uint64_t	latency_us;
};

enum frame_parse ctl_parse(const char *, size_t, struct frame_hdr *,
	    const char **);
void		 ctl_meta_put(char *, const struct ctl_meta *);
void		 ctl_meta_get(const char *, struct ctl_meta *);
const char	*ctl_type_name(unsigned);

#endif

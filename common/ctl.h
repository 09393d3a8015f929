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
 *					{"op":"status"} | {"op":"reload"} |
 *					{"op":"results","batch":ID} |
 *					{"op":"batches"} | pool ops
 *	REPLY	d->c	0		JSON: {"ok":true,...} | {"ok":false,
 *					"error":"..."}
 *	JOB	c->d	job id		the job's bytes
 *	END	c->d	0		none: no more jobs
 *	RESULT	d->c	job id		16-byte meta (pid u32, attempts u32,
 *					latency_us u64), the sections its
 *					flags name, then output or reason;
 *					status = enum job_status
 *	BYE	d->c	0		JSON: {"restarts":N[,"stopped":why]}
 *	CANCEL	c->d	0		none: cancel my queued jobs, no more
 *					input
 *	ACCEPTED d->c	job id		none: a durable batch's jobs up to id
 *					are committed; status CTL_ACC_ENDED
 *					once its END is too
 *	RECORDS	c->d	first job id	jobs id, id + 1, ..., each ended by
 *					the delimiter the REQUEST named
 *					("records"), if the REPLY took it
 *	SUMS	d->c	first job id	struct ctl_sums (CTL_SUMS_LEN bytes):
 *					jobs id, id + 1, ... ended ok with
 *					integer outputs, summed ("sums")
 *	INPUT	c->d	0		none, but the client's input fd in
 *					SCM_RIGHTS: read the jobs from it,
 *					if the REPLY offered ("input":"fd")
 *	READ	d->c	jobs read	none: the jobs below id are read from
 *					the INPUT; status CTL_READ_ENDED once
 *					it is over, CTL_READ_DECLINED if it
 *					is not taken (send the jobs, then)
 *
 * Sections (flags, byte 6 of a RESULT), only those the submit REQUEST
 * asked for ("sections":["stderr","output","fields","input"]), each a u32
 * length and its bytes, in this order after the meta: CTL_F_STDERR the
 * job's stderr, CTL_F_OUTPUT a failed command's stdout, CTL_F_FIELDS the
 * members of its record (frame.h's fields), CTL_F_INPUT the first
 * CTL_INPUT_SHOWN bytes of a job that did not end ok.  A client that asks
 * for "typed" may get an ok RESULT with CTL_F_INT or CTL_F_DOUBLE: its
 * output is then a number in binary, as a frame worker's result-typed
 * output (frame.h); one that does not gets the same number as text.  One
 * that asks for "typed" and "batch" may get a run of them in one RESULT,
 * flags CTL_F_BATCH | CTL_F_INT (or _DOUBLE), status ok, id the first
 * job's: CTL_RUN_HEAD bytes (the worker pid and attempts of every job in
 * it), then per job CTL_RUN_ITEM bytes (its 8-byte output, its latency),
 * for jobs id, id + 1, ...; at most FRAME_BATCH_MAX bytes.  One that also
 * asks for "runlat" gets runs whose jobs share one latency instead, flags
 * CTL_F_RUNLAT too: CTL_RUNLAT_HEAD bytes (pid, attempts, the latency),
 * then CTL_RUNLAT_ITEM bytes a job, its output.  One that asks for "sums"
 * (it prints no ok output, only the summary) may get, for such a run of
 * 8-byte integers, a SUMS instead: how many, their sum, least and
 * greatest, with the pid, attempts and latency they share.
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
#include "num.h"

#define CTL_VERSION	1
#define CTL_META_LEN	16
#define CTL_JSON_MAX	(16U * 1024 * 1024)	/* REPLY, BYE */
#define CTL_REQUEST_MAX	(64U * 1024)		/* what a client asks */
#define CTL_INPUT_SHOWN	64	/* a failed job's input sent back */
#define CTL_RECORDS_MAX	(64U * 1024)	/* a RECORDS message's bytes, */
#define CTL_RECORDS_JOBS 1024		/* and its jobs */

/* RESULT flags: the sections it carries (the same bits as frame.h's). */
#define CTL_F_STDERR	0x01
#define CTL_F_OUTPUT	0x02
#define CTL_F_FIELDS	0x04
#define CTL_F_INPUT	0x08
#define CTL_F_ALL	0x0f
/* An ok RESULT's output in binary, to a client that asked ("typed"). */
#define CTL_F_INT	FRAME_F_INT	/* 8 or 16 bytes: an i64, an i128 */
#define CTL_F_DOUBLE	FRAME_F_DOUBLE	/* 8 bytes: a binary64 */
#define CTL_F_TYPED	(CTL_F_INT | CTL_F_DOUBLE)
#define CTL_F_BATCH	FRAME_F_BATCH	/* a run of typed ok RESULTs */
#define CTL_RUN_HEAD	8	/* a run's worker pid u32, attempts u32 */
#define CTL_RUN_ITEM	16	/* each: output (8), latency µs (u64) */
/* A run whose jobs share one latency, in its head ("runlat"). */
#define CTL_F_RUNLAT	0x80
#define CTL_RUNLAT_HEAD	16	/* pid u32, attempts u32, latency µs u64 */
#define CTL_RUNLAT_ITEM	8	/* each: output (8) */
/*
 * A section a submit may ask for that is no RESULT flag: "sums", a SUMS
 * for a run of ok 8-byte integer outputs instead of the outputs.
 */
#define CTL_S_SUMS	0x100
/*
 * A SUMS payload, little-endian: pid u32, attempts u32, latency µs u64,
 * jobs u64 (1 to CTL_SUMS_JOBS), their sum i128 (low half first), least
 * i64, greatest i64.
 */
#define CTL_SUMS_LEN	56
#define CTL_SUMS_JOBS	UINT32_MAX	/* a SUMS' jobs at most */

enum ctl_type {
	CTL_REQUEST = 1,
	CTL_REPLY = 2,
	CTL_JOB = 3,
	CTL_END = 4,
	CTL_RESULT = 5,
	CTL_BYE = 6,
	CTL_CANCEL = 7,
	CTL_ACCEPTED = 8,
	CTL_RECORDS = 9,
	CTL_SUMS = 10,
	CTL_INPUT = 11,
	CTL_READ = 12,
};

#define CTL_ACC_ENDED	1	/* ACCEPTED status: the END is committed */
#define CTL_READ_ENDED	1	/* READ status: the INPUT is over, */
#define CTL_READ_DECLINED 2	/* or not taken: send its jobs */
#define CTL_READ_JOBS	65536	/* a READ's new jobs at most */

struct ctl_meta {
	uint32_t	pid;
	uint32_t	attempts;
	uint64_t	latency_us;
};

/* A SUMS' payload (ctl.h). */
struct ctl_sums {
	struct ctl_meta	meta;		/* shared by its jobs */
	uint64_t	jobs;
	i128		sum;
	int64_t		min;
	int64_t		max;
};

enum frame_parse ctl_parse(const char *, size_t, struct frame_hdr *,
	    const char **);
void		 ctl_meta_put(char *, const struct ctl_meta *);
void		 ctl_meta_get(const char *, struct ctl_meta *);
const char	*ctl_type_name(unsigned);
unsigned	 ctl_sections_parse(const char *);
void		 ctl_sums_put(char *, const struct ctl_sums *);
int		 ctl_sums_get(const char *, uint64_t, struct ctl_sums *,
		    const char **);
int		 ctl_result_split(const char *, size_t,
		    const struct frame_hdr *, struct frame_result *,
		    const char **, size_t *, const char **);

#endif

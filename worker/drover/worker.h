/*
 * libdrover-worker: write a drover worker in C.  Installed as
 * <drover/worker.h> with libdrover-worker.a and drover-worker.pc:
 *
 *	cc -o my-worker my-worker.c $(pkg-config --cflags --libs drover-worker)
 *
 *	struct dw	*dw;
 *	struct dw_job	 job;
 *
 *	if ((dw = dw_open("my-worker 1.0")) == NULL)
 *		err(125, "dw_open");
 *	while (dw_next(dw, &job) == 1) {
 *		if (ok)
 *			dw_reply(dw, &job, out, outlen);
 *		else
 *			dw_fail(dw, &job, "reason");
 *	}
 *	dw_close(dw);
 *
 * dw_open() reads DROVER_PROTOCOL ("frame", the default, "line" or
 * "tagged") and speaks that protocol on stdin/stdout (docs/protocol.md).
 * Replies are buffered and written in bulk: when dw_next() would block,
 * when the buffer is large, or on dw_flush().  Exit status 125 tells the
 * supervisor not to restart the worker (a permanent error such as bad
 * arguments).
 *
 * A worker with its own event loop (many jobs in flight) polls dw_fd() for
 * POLLIN and takes jobs with dw_poll_next(), which returns DW_AGAIN instead
 * of waiting; it may answer in any order, unless dw_in_order() says that
 * the protocol (line) needs replies in the order of the jobs.
 *
 * A handler whose output is a number answers with dw_reply_int(),
 * dw_reply_int128() or dw_reply_double(): in binary when the supervisor
 * takes typed results (DW_CAP_RESULT_TYPED, asked for at open), else as
 * the same text (decimal; the shortest text that reads back as the same
 * double), so the worker runs under any supervisor and protocol.
 *
 * Micro-jobs ask for DW_CAP_JOB_BATCH and DW_CAP_RESULT_BATCH as well:
 * jobs then come many to a frame and typed replies to consecutive jobs go
 * many to a frame, one header per run instead of one per job.  Neither
 * changes what a handler sees: dw_next() still hands out one job at a
 * time, and a reply that cannot join a run goes in a frame of its own.
 */
#ifndef DROVER_WORKER_H
#define DROVER_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DW_EXIT_NORESPAWN	125
#define DW_AGAIN		2	/* dw_poll_next(): nothing yet */

/* Capabilities (frame protocol version 2), for dw_open_caps(). */
#define DW_CAP_JOB_META		0x01	/* dw_job.seq and .attempt are set */
#define DW_CAP_RESULT_STDERR	0x02	/* dw_fail_stderr() sends stderr */
#define DW_CAP_RESULT_OUTPUT	0x04	/* dw_result(): a failure's stdout */
#define DW_CAP_RESULT_FIELDS	0x08	/* dw_result(): fields for --json */
#define DW_CAP_JOB_CWD		0x10	/* dw_job.cwd: where to run it */
#define DW_CAP_RESULT_TYPED	0x20	/* dw_reply_int() etc. in binary */
#define DW_CAP_JOB_BATCH	0x40	/* jobs may come many to a frame */
#define DW_CAP_RESULT_BATCH	0x80	/* typed replies go many to a frame */

/* A field of a result (result-fields): a member of the job's record. */
enum dw_field_type {
	DW_FIELD_INT = 1,
	DW_FIELD_STR = 2,
};

struct dw_field {
	const char	*name;	/* [a-z0-9_]{1,32}, not a record member */
	enum dw_field_type type;
	int64_t		 i;	/* DW_FIELD_INT */
	const char	*s;	/* DW_FIELD_STR: at most 4096 bytes sent */
	size_t		 slen;
};

/*
 * A result with everything it may carry; the sections whose capability is
 * not in effect are left out (dw_result()).
 */
struct dw_result {
	bool			 fail;		/* else ok */
	const void		*data;		/* the output, or the reason */
	size_t			 len;
	const void		*err;		/* fail: stderr */
	size_t			 errlen;
	const void		*out;		/* fail: stdout */
	size_t			 outlen;
	const struct dw_field	*fields;	/* (result-fields) */
	size_t			 nfields;
};

struct dw;

/*
 * A job's data is followed by at least DW_JOB_PAD readable bytes (of no
 * given value), so that a parser may load a whole word at its start.
 */
#define DW_JOB_PAD	8

struct dw_job {
	uint64_t	 tag;	/* opaque; echoed in the reply */
	const char	*data;	/* valid until the next dw_next() */
	size_t		 len;
	uint64_t	 seq;	/* job-meta: 0-based id in its batch, else 0 */
	uint32_t	 attempt; /* job-meta: 1 on its first run; else 0 */
	const char	*cwd;	/* job-cwd: its directory, NUL-ended; or NULL */
};

struct dw	*dw_open(const char *);
struct dw	*dw_open_caps(const char *, uint32_t);
uint32_t	 dw_caps(const struct dw *);
uint64_t	 dw_max_result(const struct dw *);
int		 dw_fail_stderr(struct dw *, const struct dw_job *,
		    const char *, const void *, size_t);
int		 dw_result(struct dw *, const struct dw_job *,
		    const struct dw_result *);
int		 dw_next(struct dw *, struct dw_job *);
int		 dw_poll_next(struct dw *, struct dw_job *);
int		 dw_fd(const struct dw *);
bool		 dw_in_order(const struct dw *);
int		 dw_reply(struct dw *, const struct dw_job *, const void *,
		    size_t);
int		 dw_reply_int(struct dw *, const struct dw_job *, int64_t);
#ifdef __SIZEOF_INT128__
__extension__ typedef __int128 dw_int128;
int		 dw_reply_int128(struct dw *, const struct dw_job *, dw_int128);
#endif
int		 dw_reply_double(struct dw *, const struct dw_job *, double);
int		 dw_fail(struct dw *, const struct dw_job *, const char *);
int		 dw_failf(struct dw *, const struct dw_job *, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
int		 dw_flush(struct dw *);
void		 dw_close(struct dw *);
const char	*dw_error(const struct dw *);

#ifdef __cplusplus
}
#endif

#endif

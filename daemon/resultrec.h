/*
 * A job's result as a record (daemon/resultrec.c): one byte of CTL_F_*
 * flags saying which sections it has, then a control RESULT's payload
 * (common/ctl.h): the metadata, those sections, the output or reason.  A
 * durable batch stores it in its journal, a shared pool on the batch's
 * result stream; control.c sends it cut down to the sections a client
 * asked for (client_send_rec()).
 */
#ifndef DROVER_RESULTREC_H
#define DROVER_RESULTREC_H

struct buf;
struct job;
struct jobresult;

#define RESULTREC_FLAGS(rec)	((unsigned)(unsigned char)(rec)[0])

void	resultrec_pack(struct buf *, const struct job *,
	    const struct jobresult *);

#endif

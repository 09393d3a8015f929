/*
 * The stored form of a job's result (resultrec.h): what a durable batch
 * keeps in its journal and a shared pool puts on a batch's result stream.
 */
#include <string.h>

#include "batch.h"
#include "buf.h"
#include "ctl.h"
#include "job.h"
#include "resultrec.h"

static void
pack_section(struct buf *b, const char *p, size_t len)
{
	uint32_t	 n = htole32((uint32_t)len);

	buf_add(b, &n, 4);
	if (len != 0)
		buf_add(b, p, len);
}

/*
 * The flags of the sections it has, then the RESULT payload with all of
 * them, as control.c would send it to a client that asked for every
 * section.
 */
void
resultrec_pack(struct buf *b, const struct job *j, const struct jobresult *r)
{
	struct ctl_meta	 m;
	unsigned	 f = 0;
	size_t		 inlen;

	if (r->errlen != 0)
		f |= CTL_F_STDERR;
	if (r->status != JOB_OK)
		f |= CTL_F_INPUT | (r->soutlen != 0 ? CTL_F_OUTPUT : 0);
	if (r->fieldslen != 0)
		f |= CTL_F_FIELDS;
	buf_reset(b);
	buf_addc(b, (char)f);
	m.pid = (uint32_t)r->worker;
	m.attempts = r->runs;
	m.latency_us = r->latency_us;
	ctl_meta_put(buf_reserve(b, CTL_META_LEN), &m);
	buf_commit(b, CTL_META_LEN);
	if (f & CTL_F_STDERR)
		pack_section(b, r->err, r->errlen);
	if (f & CTL_F_OUTPUT)
		pack_section(b, r->sout, r->soutlen);
	if (f & CTL_F_FIELDS)
		pack_section(b, r->fields, r->fieldslen);
	if (f & CTL_F_INPUT) {
		inlen = j->len < CTL_INPUT_SHOWN ? j->len : CTL_INPUT_SHOWN;
		pack_section(b, j->data, inlen);
	}
	if (r->outlen != 0)
		buf_add(b, r->out, r->outlen);
}

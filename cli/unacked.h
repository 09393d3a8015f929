/*
 * The jobs of a durable batch that droverd has not acknowledged yet
 * (cli/unacked.c).  `drover submit` keeps every JOB it sends until an
 * ACCEPTED covers it, so that it can send them again after a reconnect
 * (docs/protocol.md, "Durable batches").  Ids increase, so the queue is
 * one run of JOB messages, header and bytes as they went on the wire:
 * trimmed at the front as ACCEPTEDs come, and resent in one copy.
 */
#ifndef DROVER_UNACKED_H
#define DROVER_UNACKED_H

#include <stddef.h>
#include <stdint.h>

struct unacked {
	char		*data;
	size_t		 head;		/* the first byte held */
	size_t		 tail;		/* the first free byte */
	size_t		 cap;
	uint64_t	 n;		/* jobs held */
};

void	 unacked_init(struct unacked *);
void	 unacked_free(struct unacked *);
const char *unacked_put(struct unacked *, uint64_t, const char *, size_t,
	    size_t *);
void	 unacked_trim(struct unacked *, uint64_t);

/* Jobs held. */
static inline uint64_t
unacked_count(const struct unacked *q)
{
	return (q->n);
}

/* Bytes held, headers included. */
static inline size_t
unacked_bytes(const struct unacked *q)
{
	return (q->tail - q->head);
}

/* The messages held, unacked_bytes() of them, oldest first. */
static inline const char *
unacked_data(const struct unacked *q)
{
	return (q->data != NULL ? q->data + q->head : "");
}

#endif

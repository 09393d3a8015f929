/*
 * The set of job ids a client has handed over and not yet seen finished
 * (common/idset.c): ids are added in increasing order, finished in any
 * order, and whatever is still open can be walked in id order at the end,
 * so that every job is reported exactly once whatever the other side did.
 */
#ifndef DROVER_IDSET_H
#define DROVER_IDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct idset {
	uint64_t	 lo;	/* every id below is finished */
	uint64_t	 hi;	/* no id at or above was added */
	uint64_t	 open;	/* added, not finished */
	uint64_t	*w;	/* bit set = finished; a ring of words */
	size_t		 cap;	/* words, a power of two */
};

void	 idset_init(struct idset *);
void	 idset_free(struct idset *);
int	 idset_add_slow(struct idset *, uint64_t);
int	 idset_add_run(struct idset *, uint64_t, uint64_t);
bool	 idset_finish(struct idset *, uint64_t);
bool	 idset_finish_run(struct idset *, uint64_t, uint64_t);
bool	 idset_next_open(const struct idset *, uint64_t *);

/*
 * Add id, open (idset.c): the next id, with room for it in the ring, here;
 * anything else in idset_add_slow().
 */
static inline int
idset_add(struct idset *s, uint64_t id)
{
	if (id == s->hi && s->lo != s->hi &&
	    (id >> 6) - (s->lo >> 6) < s->cap) {
		s->w[(id >> 6) & (s->cap - 1)] &= ~(1ULL << (id & 63));
		s->hi = id + 1;
		s->open++;
		return (0);
	}
	return (idset_add_slow(s, id));
}

/* Ids added and not finished. */
static inline uint64_t
idset_open(const struct idset *s)
{
	return (s->open);
}

#endif

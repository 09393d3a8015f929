/*
 * A sliding bitmap of job ids (see idset.h).  Memory is one bit per id
 * between the oldest open id and the newest added one: a client whose
 * oldest job is stuck while ten million others finish holds 1.2 MiB, and
 * one whose jobs finish roughly in order holds a few words.
 */
#include <stdlib.h>
#include <string.h>

#include "idset.h"
#include "xmalloc.h"

#define WORD(id)	((id) >> 6)
#define BIT(id)		(1ULL << ((id) & 63))

static void	idset_slide(struct idset *);
static uint64_t	idset_span(uint64_t, uint64_t *);

void
idset_init(struct idset *s)
{
	memset(s, 0, sizeof(*s));
}

void
idset_free(struct idset *s)
{
	free(s->w);
	idset_init(s);
}

/* The word holding id, which must be in [lo, hi). */
static uint64_t *
idset_word(const struct idset *s, uint64_t id)
{
	return (&s->w[WORD(id) & (s->cap - 1)]);
}

/* Make room for the words of ids up to and including id. */
static void
idset_grow(struct idset *s, uint64_t id)
{
	uint64_t	*nw, k, first = WORD(s->lo);
	size_t		 ncap = s->cap != 0 ? s->cap : 4;

	if (s->cap != 0 && WORD(id) - first < s->cap)
		return;
	while (WORD(id) - first >= ncap)
		ncap *= 2;
	nw = xcalloc(ncap, sizeof(*nw));
	if (s->hi > s->lo)
		for (k = first; k <= WORD(s->hi - 1); k++)
			nw[k & (ncap - 1)] = s->w[k & (s->cap - 1)];
	free(s->w);
	s->w = nw;
	s->cap = ncap;
}

/*
 * Add id, open.  Ids must increase; one below the newest is refused (-1).
 * Ids skipped over are added finished (they were never handed over).
 * The next id, with room in the ring, is idset_add()'s inline fast path.
 */
int
idset_add_slow(struct idset *s, uint64_t id)
{
	if (id < s->hi)
		return (-1);
	if (s->lo == s->hi)
		s->lo = s->hi = id;	/* nothing open: start afresh here */
	idset_grow(s, id);
	while (s->hi < id) {		/* a gap: finished from the start */
		*idset_word(s, s->hi) |= BIT(s->hi);
		s->hi++;
	}
	*idset_word(s, id) &= ~BIT(id);
	s->hi = id + 1;
	s->open++;
	return (0);
}

/*
 * Add the n ids from id on, open, as n idset_add() calls would: the first
 * as one, the others a word at a time.
 */
int
idset_add_run(struct idset *s, uint64_t id, uint64_t n)
{
	uint64_t	 i, k;

	if (n == 0)
		return (0);
	if (idset_add(s, id) == -1 || id + n < id)
		return (-1);
	if (--n == 0)
		return (0);
	idset_grow(s, id + n);
	for (i = 1; i <= n; i += k) {
		k = n + 1 - i;
		*idset_word(s, id + i) &= ~idset_span(id + i, &k);
	}
	s->hi = id + n + 1;
	s->open += n;
	return (0);
}

/*
 * Finish id: true if it was open, false if it is unknown or finished
 * already (a duplicate, which the caller must not count again).
 */
bool
idset_finish(struct idset *s, uint64_t id)
{
	uint64_t	*w;

	if (id < s->lo || id >= s->hi)
		return (false);
	w = idset_word(s, id);
	if (*w & BIT(id))
		return (false);
	*w |= BIT(id);
	s->open--;
	if (id == s->lo)
		idset_slide(s);
	return (true);
}

/*
 * The bits of the ids in [id, id + n) within id's word: n is cut to the
 * word's end.
 */
static uint64_t
idset_span(uint64_t id, uint64_t *n)
{
	unsigned	 b = (unsigned)(id & 63);

	if (*n > 64 - b)
		*n = 64 - b;
	return ((*n == 64 ? ~0ULL : (1ULL << *n) - 1) << b);
}

/*
 * Finish the n ids from id on if every one of them is open (true), a word
 * at a time, as n idset_finish() calls would; else change nothing (false),
 * and the caller finishes them one by one to tell which were not.
 */
bool
idset_finish_run(struct idset *s, uint64_t id, uint64_t n)
{
	uint64_t	 i, k;

	if (n == 0)
		return (true);
	if (id < s->lo || id + n < id || id + n > s->hi)
		return (false);
	for (i = 0; i < n; i += k) {
		k = n - i;
		if (*idset_word(s, id + i) & idset_span(id + i, &k))
			return (false);
	}
	for (i = 0; i < n; i += k) {
		k = n - i;
		*idset_word(s, id + i) |= idset_span(id + i, &k);
	}
	s->open -= n;
	if (id == s->lo)
		idset_slide(s);
	return (true);
}

/*
 * Slide lo past what is finished, a word at a time (the bits at and above
 * hi are clear); a word left behind is cleared.
 */
static void
idset_slide(struct idset *s)
{
	uint64_t	*w, rest;
	unsigned	 b;

	for (;;) {
		w = idset_word(s, s->lo);
		b = (unsigned)(s->lo & 63);
		if ((rest = ~*w >> b) != 0) {
			s->lo += (uint64_t)__builtin_ctzll(rest);
			if (s->lo > s->hi)
				s->lo = s->hi;
			break;
		}
		s->lo += 64 - b;
		*w = 0;
		if (s->lo >= s->hi) {
			s->lo = s->hi;
			break;
		}
	}
	if (s->lo == s->hi && (s->lo & 63) != 0)
		*idset_word(s, s->lo) = 0;
}

/* The lowest open id at or above *id, in *id; false if there is none. */
bool
idset_next_open(const struct idset *s, uint64_t *id)
{
	uint64_t	 i = *id < s->lo ? s->lo : *id;

	for (; i < s->hi; i++)
		if (!(*idset_word(s, i) & BIT(i))) {
			*id = i;
			return (true);
		}
	return (false);
}

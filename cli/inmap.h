/*
 * The inputs of the jobs `drover submit` has sent and not yet seen a result
 * for (cli/inmap.c), kept only when --tag or --joblog needs them: a hash
 * map from job id to a copy of the job's bytes, freed when the result comes.
 */
#ifndef DROVER_INMAP_H
#define DROVER_INMAP_H

#include <stddef.h>
#include <stdint.h>

struct inmap_ent {
	uint64_t	 id;
	char		*data;		/* NULL: a free slot */
	size_t		 len;
};

struct inmap {
	struct inmap_ent *e;
	size_t		 cap;		/* slots, a power of two */
	size_t		 n;		/* slots in use */
	size_t		 bytes;		/* of input held */
};

void	 inmap_init(struct inmap *);
void	 inmap_free(struct inmap *);
void	 inmap_put(struct inmap *, uint64_t, const char *, size_t);
char	*inmap_take(struct inmap *, uint64_t, size_t *);

#endif

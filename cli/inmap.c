/*
 * Job inputs by id (see inmap.h): open addressing with linear probing,
 * kept at most half full, and deletion by shifting the following entries
 * back, so that no tombstones pile up however long the batch runs.
 */
#include <stdlib.h>
#include <string.h>

#include "inmap.h"
#include "xmalloc.h"

#define INMAP_MIN	64

/* The home slot of id in a table of cap slots. */
static size_t
inmap_slot(uint64_t id, size_t cap)
{
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdULL;
	id ^= id >> 33;
	return ((size_t)id & (cap - 1));
}

void
inmap_init(struct inmap *m)
{
	memset(m, 0, sizeof(*m));
}

void
inmap_free(struct inmap *m)
{
	size_t	 i;

	for (i = 0; i < m->cap; i++)
		free(m->e[i].data);
	free(m->e);
	inmap_init(m);
}

/* Put an entry that is known not to be there (no growth). */
static void
inmap_insert(struct inmap *m, uint64_t id, char *data, size_t len)
{
	size_t	 i = inmap_slot(id, m->cap);

	while (m->e[i].data != NULL)
		i = (i + 1) & (m->cap - 1);
	m->e[i].id = id;
	m->e[i].data = data;
	m->e[i].len = len;
	m->n++;
}

/* Double the table (or make the first one). */
static void
inmap_grow(struct inmap *m)
{
	struct inmap_ent *old = m->e;
	size_t		 i, ocap = m->cap;

	m->cap = ocap == 0 ? INMAP_MIN : ocap * 2;
	m->e = xcalloc(m->cap, sizeof(*m->e));
	m->n = 0;
	for (i = 0; i < ocap; i++)
		if (old[i].data != NULL)
			inmap_insert(m, old[i].id, old[i].data, old[i].len);
	free(old);
}

/* Keep a copy of job id's bytes. */
void
inmap_put(struct inmap *m, uint64_t id, const char *data, size_t len)
{
	char	*copy = xmalloc(len + 1);

	memcpy(copy, data, len);
	copy[len] = '\0';
	if ((m->n + 1) * 2 > m->cap)
		inmap_grow(m);
	inmap_insert(m, id, copy, len);
	m->bytes += len;
}

/*
 * Remove job id's copy and return it (the caller frees it), or NULL if
 * none is kept.
 */
char *
inmap_take(struct inmap *m, uint64_t id, size_t *len)
{
	char	*data;
	size_t	 i, j, k;

	if (m->cap == 0)
		return (NULL);
	i = inmap_slot(id, m->cap);
	while (m->e[i].data != NULL && m->e[i].id != id)
		i = (i + 1) & (m->cap - 1);
	if ((data = m->e[i].data) == NULL)
		return (NULL);
	*len = m->e[i].len;
	m->bytes -= m->e[i].len;
	m->n--;
	/* Shift back the entries whose probe passed through slot i. */
	for (j = i;;) {
		m->e[i].data = NULL;
		for (;;) {
			j = (j + 1) & (m->cap - 1);
			if (m->e[j].data == NULL)
				return (data);
			k = inmap_slot(m->e[j].id, m->cap);
			if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
				continue;
			break;
		}
		m->e[i] = m->e[j];
		i = j;
	}
}

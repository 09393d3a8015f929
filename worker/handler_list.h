/*
 * The names of drover-worker's built-in handlers, for `drover run` to check
 * a handler name before starting anything (a usage error, exit 2).
 */
#ifndef DROVER_HANDLER_LIST_H
#define DROVER_HANDLER_LIST_H

#include <stdbool.h>
#include <string.h>

#define DROVER_HANDLERS	"square, sha256, exec, sleep"

static inline bool
handler_known(const char *name)
{
	static const char *const names[] = {
		"square", "sha256", "exec", "sleep", NULL
	};
	int	 i;

	for (i = 0; names[i] != NULL; i++)
		if (strcmp(name, names[i]) == 0)
			return (true);
	return (false);
}

#endif

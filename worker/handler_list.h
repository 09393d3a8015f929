/*
 * The names of drover-worker's built-in handlers, for `drover run` to check
 * a handler name before starting anything (a usage error, exit 2).
 */
#ifndef DROVER_HANDLER_LIST_H
#define DROVER_HANDLER_LIST_H

#include <stdbool.h>
#include <string.h>

#define DROVER_HANDLERS	"square, sha256, exec, sleep, http"

/*
 * The window of an http pool when none is given: it holds many requests in
 * flight itself, which the adaptive window (about 1 ms of work) would not
 * give it (docs/drover-worker.7).
 */
#define HTTP_DEFAULT_WINDOW	32

static inline bool
handler_known(const char *name)
{
	static const char *const names[] = {
		"square", "sha256", "exec", "sleep", "http", NULL
	};
	int	 i;

	for (i = 0; names[i] != NULL; i++)
		if (strcmp(name, names[i]) == 0)
			return (true);
	return (false);
}

/* The default window of a handler's pool; 0: the protocol's. */
static inline unsigned
handler_default_window(const char *name)
{
	return (name != NULL && strcmp(name, "http") == 0 ?
	    HTTP_DEFAULT_WINDOW : 0);
}

#endif

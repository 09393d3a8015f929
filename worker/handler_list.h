/*
 * drover-worker's built-in handlers, listed once.  DROVER_HANDLER_LIST
 * expands X(name) for each, separated by sep: drover-worker's table of
 * handlers (drover-worker.c), the names `drover run` and droverd's loader
 * check before starting anything (a usage error, exit 2), and the text of
 * the docs and --help all come from it.  Adding a handler: worker/h_NAME.c
 * defining handler_NAME, its line here, worker/meson.build, and
 * docs/drover-worker.7.
 */
#ifndef DROVER_HANDLER_LIST_H
#define DROVER_HANDLER_LIST_H

#include <stdbool.h>
#include <string.h>

#define DROVER_HANDLER_LIST(X, sep)					\
	X(square) sep X(sha256) sep X(exec) sep X(sleep) sep X(http)

#define HANDLER_LIST_NAME(n)	#n
#define HANDLER_LIST_ELEM(n)	#n,

/* "square, sha256, ...", for messages and docs. */
#define DROVER_HANDLERS	DROVER_HANDLER_LIST(HANDLER_LIST_NAME, ", ")

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
		DROVER_HANDLER_LIST(HANDLER_LIST_ELEM, ) NULL
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

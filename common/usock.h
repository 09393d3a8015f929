/*
 * Listening Unix stream sockets whose path appears only once they accept.
 */
#ifndef DROVER_USOCK_H
#define DROVER_USOCK_H

#include <stddef.h>
#include <sys/types.h>

#define USOCK_KEEP_MODE	((mode_t)-1)
#define USOCK_KEEP_GID	((gid_t)-1)

int	usock_listen(const char *, mode_t, gid_t, int, char *, size_t);

#endif

/*
 * Unix stream sockets: listening ones whose path appears only once they
 * accept, and bytes sent with a descriptor.
 */
#ifndef DROVER_USOCK_H
#define DROVER_USOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define USOCK_KEEP_MODE	((mode_t)-1)
#define USOCK_KEEP_GID	((gid_t)-1)

/* sun_path holds 107 bytes; the temporary name adds "." and ".PID". */
#define USOCK_PATH_MAX	98

int	usock_listen(const char *, mode_t, gid_t, int, char *, size_t);
bool	usock_path_fits(const char *);
ssize_t	usock_send_fd(int, const void *, size_t, int);

#endif

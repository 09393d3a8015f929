/*
 * Make sure fds 0, 1 and 2 are open (on /dev/null if they were closed), so
 * that no socket or pipe of ours is ever given one of them and then written
 * to as if it were stdout.  Reports failure; the caller decides what to do.
 */
#include <fcntl.h>
#include <unistd.h>

#include "startup.h"

int
stdio_sanitize(void)
{
	int	 fd;

	for (fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) == -1 &&
		    open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) == -1)
			return (-1);
	return (0);
}

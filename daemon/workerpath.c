/*
 * Locating drover-worker (docs/architecture.md): everything runs uninstalled
 * from the build tree, and installed from prefix/libexec/drover.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "workerpath.h"

const char *
workerpath(void)
{
	static char	 self[PATH_MAX];
	const char	*env;
	char		*slash;
	ssize_t		 n;

	if ((env = getenv("DROVER_WORKER")) != NULL && *env != '\0')
		return (env);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			if (strcmp(self, DROVER_BUILD_DIR) == 0)
				return (DROVER_BUILD_DIR "/drover-worker");
		}
	}
	return (DROVER_LIBEXECDIR "/drover-worker");
}

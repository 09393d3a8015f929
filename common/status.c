/*
 * Names of job statuses, shared by every output format.
 */
#include <string.h>

#include "status.h"

static const char *const status_names[JOB_NSTATUS] = {
	"ok", "failed", "timeout", "crashed", "cancelled", "rejected"
};

const char *
job_status_name(enum job_status st)
{
	if ((unsigned)st >= JOB_NSTATUS)
		return ("unknown");
	return (status_names[st]);
}

/* Map a status name to its value, or -1. */
int
job_status_parse(const char *name)
{
	int	 i;

	for (i = 0; i < JOB_NSTATUS; i++)
		if (strcmp(name, status_names[i]) == 0)
			return (i);
	return (-1);
}

/*
 * The final status of a job, as reported to users (drover(1), OUTPUT).
 */
#ifndef DROVER_STATUS_H
#define DROVER_STATUS_H

enum job_status {
	JOB_OK,
	JOB_FAILED,	/* the handler said so */
	JOB_TIMEOUT,	/* over its timeout; its worker was killed */
	JOB_CRASHED,	/* the worker died on every attempt */
	JOB_CANCELLED,	/* drain deadline, signal, client gone */
	JOB_REJECTED,	/* invalid job: too large, unsendable */
	JOB_NSTATUS
};

const char	*job_status_name(enum job_status);
int		 job_status_parse(const char *);

#endif

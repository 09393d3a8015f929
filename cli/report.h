/*
 * The user-facing output of a batch, shared by `drover run` and `drover
 * submit` so that both print exactly the same (drover(1), OUTPUT): each job's
 * output line on stdout and failures on stderr, or one JSON object per job; in
 * completion order or, with --ordered, in input order; a live progress line;
 * the summary; the exit status.
 */
#ifndef DROVER_REPORT_H
#define DROVER_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "num.h"
#include "status.h"

struct event_base;
struct num_value;
struct report;

struct report_hooks {
	/* report_limit() moved up or report_room() is back: resume. */
	void	(*resume)(void *);
	/* stdout is gone (EPIPE): stop the batch. */
	void	(*broken)(void *);
	/* --halt's condition is met (once, in report_job()): stop. */
	void	(*halt)(void *, bool, const char *);
};

/* --halt now|soon,fail=N|P%|success=N|P% (drover(1)); when 0: never. */
enum report_halt_when {
	HALT_NEVER,
	HALT_SOON,
	HALT_NOW,
};

struct report_halt {
	enum report_halt_when when;
	bool		 success;	/* count ok jobs, not failed ones */
	bool		 percent;	/* value is a percentage */
	double		 value;
};

struct report_opts {
	bool		json;
	bool		quiet;
	bool		failed_only;	/* print the jobs not ok only */
	bool		ordered;
	bool		progress;
	size_t		reorder_cap;	/* jobs held at most for --ordered */
	double		stats_interval;	/* seconds between stats lines; 0 off */
	bool		tag;		/* --tag: input, tab, line */
	int		joblog_fd;	/* --joblog, or -1 */
	struct report_halt halt;	/* --halt */
};

/* What a job's report may show beyond its result (NULL: nothing more). */
struct report_extra {
	const char	*input;		/* the job's bytes */
	size_t		 inlen;
	const char	*err;		/* its stderr, sent with a failure */
	size_t		 errlen;
	const char	*sout;		/* a failure's stdout */
	size_t		 soutlen;
	const char	*fields;	/* members for its JSON record */
	size_t		 fieldslen;	/* (frame result-fields, checked) */
};

struct report	*report_new(struct event_base *, const struct report_opts *);
void		 report_free(struct report *);
void		 report_job(struct report *, uint64_t, enum job_status,
		    const char *, size_t, pid_t, uint64_t, unsigned,
		    const struct report_extra *);
void		 report_job_num(struct report *, uint64_t,
		    const struct num_value *, pid_t, uint64_t, unsigned,
		    const struct report_extra *);
bool		 report_takes_runs(const struct report *);
void		 report_latency_n(struct report *, pid_t, uint64_t, size_t);
void		 report_run(struct report *, const char *, size_t,
		    enum num_kind, size_t);
bool		 report_takes_sums(const struct report *);
void		 report_sums(struct report *, uint64_t, i128, int64_t, int64_t,
		    uint64_t);
uint64_t	 report_limit(const struct report *);
void		 report_set_hooks(struct report *, const struct report_hooks *,
		    void *);
void		 report_set_total(struct report *, uint64_t);
void		 report_flush(struct report *);
void		 report_summary(struct report *, uint64_t);
void		 report_finish(struct report *, uint64_t, void (*)(void *),
		    void *);
bool		 report_room(struct report *);
size_t		 report_pending(const struct report *);
uint64_t	 report_failed(const struct report *);
uint64_t	 report_jobs(const struct report *);
bool		 report_broken(const struct report *);
bool		 report_halted(const struct report *);
bool		 report_halt_ok(const struct report *);
int		 report_halt_parse(const char *, struct report_halt *);
int		 report_joblog_open(const char *);

#endif

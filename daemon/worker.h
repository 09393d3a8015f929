/*
 * One worker process as the supervisor sees it: its pid, its three fds, the
 * jobs it holds, and the protocol spoken on them.  Policy (what to do when it
 * dies, which job to charge, when to restart) is the pool's; the worker
 * module only reports events through struct worker_hooks.
 *
 * States.  Only worker_set_state() in worker.c changes one, and only along
 * the arrows below (worker_transition_ok(); anything else is fatal):
 *
 *	STARTING   forked; whether its exec worked is not known yet (the
 *		   exec-status pipe is an event), and a frame worker waits
 *		   for its HELLO.  A failed exec ends it (STOPPING, with the
 *		   reason as its death and worker_exec_errno() set).
 *	READY      takes jobs (worker_room() is 0 in every other state).
 *	RETIRING   takes no new jobs; its stdin is closed once it holds none
 *		   ("finish and exit"), then SIGTERM and SIGKILL after
 *		   stop_timeout if it does not exit.
 *	STOPPING   killed by us (timeout, protocol error, stop), or it
 *		   closed its stdout while alive (killed after a grace).
 *	EXITED     its exit status is in: it takes no signal any more, and
 *		   what is left in its stdout is read at once.
 *	DEAD       exit status and EOF both in; hooks->dead has run.
 *
 *	STARTING --HELLO (frame) or exec done (line, tagged)--> READY
 *	STARTING, READY --worker_retire/worker_terminate--> RETIRING
 *	STARTING, READY, RETIRING --kill, broken stream, EOF--> STOPPING
 *	STARTING, RETIRING --exec failed--> STOPPING
 *	    (EOF leaves a RETIRING worker that holds no job, or one we sent
 *	    SIGKILL, where it is: it is exiting as told)
 *	any but EXITED and DEAD --exit status--> EXITED --> DEAD
 *
 * EOF and the exit status come in either order.  EOF first: the state is
 * as above until the status comes.  The status first: EXITED, the pipe is
 * read to its end there and then (the process can write no more), and the
 * worker is DEAD before worker_reap() returns; so EXITED is seen only by
 * the hooks called during that read (results, read_end).
 */
#ifndef DROVER_WORKER_H
#define DROVER_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "num.h"

struct event_base;
struct frame_result;
struct job;
struct poolconf;
struct worker;

enum worker_state {
	WS_STARTING,
	WS_READY,
	WS_RETIRING,
	WS_STOPPING,
	WS_EXITED,
	WS_DEAD,
};

struct worker_hooks {
	/* HELLO arrived: the worker takes jobs. */
	void	(*ready)(struct worker *, void *);
	/*
	 * A job's result: ok, the output (or reason) and the sections it
	 * carries (stderr, stdout, fields; NULL, 0 if none), the time; the
	 * job is the pool's again.
	 */
	void	(*result)(struct worker *, struct job *, bool,
		    const struct frame_result *, uint64_t, void *);
	/*
	 * Optional, both or neither: a run of ok typed results (a batched
	 * RESULT) taken in bulk.  run_len says how many of n jobs still held,
	 * from the first, the pool takes so; result_run gets those, taken,
	 * with their 8-byte little-endian outputs of one kind, and finishes
	 * them all.  The rest go one by one through result.
	 */
	size_t	(*run_len)(struct worker *, struct job *const *, size_t,
		    void *);
	void	(*result_run)(struct worker *, struct job *const *,
		    const char *, size_t, enum num_kind, uint64_t, void *);
	/* End of one read of results (n results, at time now). */
	void	(*read_end)(struct worker *, unsigned, uint64_t, void *);
	/* The oldest job has run past the timeout. */
	void	(*timeout)(struct worker *, struct job *, void *);
	/* Exit status and EOF are both in; in-flight jobs are still held. */
	void	(*dead)(struct worker *, void *);
};

struct worker	*worker_spawn(struct event_base *, const struct poolconf *,
		    unsigned, const struct worker_hooks *, void *, char *,
		    size_t);
void		 worker_free(struct worker *);
void		 worker_send_run(struct worker *, struct job *const *, size_t,
		    uint64_t);
void		 worker_flush(struct worker *);
void		 worker_timeout_changed(struct worker *, uint64_t);
void		 worker_retire(struct worker *);
void		 worker_kill(struct worker *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 worker_terminate(struct worker *);
struct job	*worker_pop_inflight(struct worker *);
struct job	*worker_oldest(const struct worker *);
void		 worker_reap(void);

enum worker_state worker_state(const struct worker *);
const char	*worker_state_name(enum worker_state);
bool		 worker_transition_ok(enum worker_state, enum worker_state);
pid_t		 worker_pid(const struct worker *);
unsigned	 worker_id(const struct worker *);
size_t		 worker_inflight(const struct worker *);
size_t		 worker_room(const struct worker *, unsigned);
uint64_t	 worker_jobs_done(const struct worker *);
uint64_t	 worker_spawned_us(const struct worker *);
uint64_t	 worker_head_age_us(const struct worker *, uint64_t);
bool		 worker_retired_cleanly(const struct worker *);
bool		 worker_was_killed(const struct worker *);
bool		 worker_said_hello(const struct worker *);
int		 worker_wait_status(const struct worker *);
int		 worker_exec_errno(const struct worker *);
const char	*worker_death(const struct worker *);
const char	*worker_last_stderr(const struct worker *);
uint64_t	 worker_rss_kb(const struct worker *);

#endif

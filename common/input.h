/*
 * Jobs from a file descriptor with backpressure (input.c), shared by
 * `drover run` and `drover submit`, and open to droverd.
 */
#ifndef DROVER_INPUT_H
#define DROVER_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct input;
struct iovec;

struct input_hooks {
	/*
	 * How many more records the owner takes now, counted down before it
	 * is asked again (0: wait for input_resume()).
	 */
	uint64_t (*room)(void *);
	/* One record; data is valid during the call only. */
	void	(*record)(void *, uint64_t, const char *, size_t);
	/*
	 * Optional: n records in a row, the first with this index (n is
	 * within the room); returns how many it took, from the first.  The
	 * others are handed over again.  They lie one after the other in
	 * one buffer, each followed by its delimiter, and are valid during
	 * the call only.  0: it takes none in runs, and the input goes on
	 * one by one (record).
	 */
	size_t	(*records)(void *, uint64_t, const struct iovec *, size_t);
	/* A record over the limit was skipped; its length. */
	void	(*toolong)(void *, uint64_t, uint64_t);
	/*
	 * A read failed with this errno; the input then ends as at EOF (the
	 * records before it are still handed over).  May be NULL.
	 */
	void	(*error)(void *, int);
	/* End of input (not called after input_stop()). */
	void	(*end)(void *);
};

struct input	*input_new(struct event_base *, int, int, uint64_t,
		    const struct input_hooks *, void *);
void		 input_free(struct input *);
void		 input_resume(struct input *);
void		 input_stop(struct input *);
bool		 input_done(const struct input *);
uint64_t	 input_count(const struct input *);
uint64_t	 input_bytes(const struct input *);
uint64_t	 input_count_records(const struct input *);
uint64_t	 input_records(int, int);
bool		 input_passable(int);

#endif

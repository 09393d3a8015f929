/*
 * Monotonic time in microseconds: one clock read per I/O event on the job
 * path, never one per job.
 */
#ifndef DROVER_CLOCK_H
#define DROVER_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
clock_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

#endif

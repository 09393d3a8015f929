/*
 * One helper for every relative timer of droverd and `drover run`: arm ev
 * to fire us microseconds from now (libevent's evtimer_add takes a
 * struct timeval).  An armed timer is moved, not doubled.
 */
#ifndef DROVER_TIMER_H
#define DROVER_TIMER_H

#include <sys/time.h>

#include <stdint.h>

#include <event2/event.h>

static inline void
timer_arm_us(struct event *ev, uint64_t us)
{
	struct timeval	 tv;

	tv.tv_sec = (time_t)(us / 1000000);
	tv.tv_usec = (suseconds_t)(us % 1000000);
	evtimer_add(ev, &tv);
}

#endif

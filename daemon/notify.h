/*
 * Talking to the service manager (sd_notify): READY, RELOADING, STOPPING,
 * STATUS and the watchdog.  Without libsystemd, or outside systemd (no
 * NOTIFY_SOCKET), every call does nothing.
 */
#ifndef DROVER_NOTIFY_H
#define DROVER_NOTIFY_H

#include <stdint.h>

void		notify_ready(void);
void		notify_reloading(void);
void		notify_stopping(void);
void		notify_status(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
void		notify_watchdog(void);
uint64_t	notify_watchdog_usec(void);

#endif

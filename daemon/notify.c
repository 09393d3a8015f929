/*
 * sd_notify(3) for droverd (Type=notify): the one file that knows about
 * libsystemd, so that drover builds and runs without it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "config.h"
#include "notify.h"

#if HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>

static void
notify_send(const char *msg)
{
	(void)sd_notify(0, msg);
}

/* Half of WATCHDOG_USEC if the watchdog is on for us, else 0. */
uint64_t
notify_watchdog_usec(void)
{
	uint64_t	 usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return (0);
	return (usec / 2);
}
#else
static void
notify_send(const char *msg)
{
	(void)msg;
}

uint64_t
notify_watchdog_usec(void)
{
	return (0);
}
#endif

void
notify_ready(void)
{
	notify_send("READY=1");
}

/* RELOADING=1 with the monotonic time systemd 253+ asks for. */
void
notify_reloading(void)
{
	struct timespec	 ts;
	char		 msg[96];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000 +
	    (unsigned long long)ts.tv_nsec / 1000);
	notify_send(msg);
}

void
notify_stopping(void)
{
	notify_send("STOPPING=1");
}

void
notify_watchdog(void)
{
	notify_send("WATCHDOG=1");
}

void
notify_status(const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;
	int	 n;

	n = snprintf(msg, sizeof(msg), "STATUS=");
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	notify_send(msg);
}

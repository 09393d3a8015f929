/*
 * libevent writes its warnings ("Error from accept() call", epoll
 * trouble) straight to stderr with its own prefix; send them through
 * log.c instead, so that they get droverd's format, journal priorities
 * and log file like every other line.
 */
#include <event2/event.h>

#include "evlog.h"
#include "log.h"

static void
evlog_cb(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	default:
		log_warnx("libevent: %s", msg);
		break;
	}
}

void
evlog_init(void)
{
	event_set_log_callback(evlog_cb);
}

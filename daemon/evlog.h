/*
 * libevent's own messages, through our log.
 */
#ifndef DROVER_EVLOG_H
#define DROVER_EVLOG_H

void	evlog_init(void);

#endif

/*
 * Process start-up hygiene shared by drover and droverd.
 */
#ifndef DROVER_STARTUP_H
#define DROVER_STARTUP_H

int	stdio_sanitize(void);

#endif

/*
 * One log API for every program: printf-checked, levelled, with sd-daemon
 * "<N>" priority prefixes when stderr is the journal, timestamps when it is a
 * daemon's file or terminal, and a plain "prog: " prefix for command-line use.
 */
#ifndef DROVER_LOG_H
#define DROVER_LOG_H

#include <stdarg.h>
#include <syslog.h>

enum log_style {
	LOG_STYLE_CLI,		/* "drover: message" */
	LOG_STYLE_DAEMON,	/* timestamped, or "<N>" under systemd */
};

void	log_init(const char *, enum log_style, int);
void	log_setlevel(int);
int	log_getlevel(void);
void	log_setexit(int);
int	log_open_file(const char *);
int	log_reopen(void);
void	log_set_hook(void (*)(void));

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_emit(int, const char *, ...) __attribute__((format(printf, 2, 3)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

int	log_level_parse(const char *);
const char *log_level_name(int);

#endif

/*
 * Handler options: the KEY=VALUE settings of drover-worker's handlers, one
 * table for every side.  `drover run -o KEY=VALUE` and a pool's `options`
 * list are checked against it before anything starts; drover-worker gets
 * them as arguments after the handler's name and parses them with it too.
 * See drover-worker(7) for each handler's options.
 */
#ifndef DROVER_HOPT_H
#define DROVER_HOPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum hopt_type {
	HOPT_SECONDS,	/* a number of seconds in [min, max] */
	HOPT_COUNT,	/* a whole number in [min, max] */
	HOPT_BOOL,	/* yes/no, true/false, on/off, 1/0 */
	HOPT_SIZE,	/* bytes, with k, M, G suffixes, in [min, max] */
	HOPT_STRING,	/* any text (not empty unless min is 0) */
	HOPT_CHOICE,	/* one of choices, "a|b|c" */
	HOPT_HEADER,	/* "Name: value" */
};

struct hopt {
	const char	*handler;
	const char	*key;
	enum hopt_type	 type;
	double		 min;
	double		 max;
	const char	*choices;
	bool		 repeat;	/* may be given more than once */
	const char	*def;		/* the default, as text */
	const char	*doc;
};

/* A parsed value: which member is set depends on the type. */
struct hopt_val {
	double		 num;		/* SECONDS, COUNT */
	uint64_t	 size;		/* SIZE */
	bool		 b;		/* BOOL */
	const char	*str;		/* STRING, CHOICE, HEADER: in the arg */
};

extern const struct hopt hopts[];

bool		 hopt_takes(const char *);
const struct hopt *hopt_parse(const char *, const char *, struct hopt_val *,
		    char *, size_t);
void		 hopt_print(FILE *);

#endif

/*
 * Handler options (hopt.h): the table and its parser, shared by `drover
 * run -o`, droverd.conf's `options` and drover-worker, so that an option is
 * refused the same way wherever it is given, before a worker starts.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "hopt.h"
#include "num.h"

const struct hopt hopts[] = {
	{ "http", "timeout", HOPT_SECONDS, 0.001, 86400, NULL, false, "30",
	  "Seconds a request may take, from connecting to the last byte." },
	{ "http", "connect_timeout", HOPT_SECONDS, 0.001, 3600, NULL, false,
	  "10", "Seconds to resolve and connect (TLS handshake included)." },
	{ "http", "redirects", HOPT_COUNT, 0, 100, NULL, false, "5",
	  "Redirects to follow; 0 reports a 3xx as it is." },
	{ "http", "header", HOPT_HEADER, 0, 0, NULL, true, "none",
	  "A request header \"Name: value\"; may be repeated." },
	{ "http", "user_agent", HOPT_STRING, 0, 0, NULL, false,
	  "drover/VERSION", "The User-Agent header." },
	{ "http", "tls_verify", HOPT_BOOL, 0, 0, NULL, false, "yes",
	  "Verify the server's certificate and name." },
	{ "http", "cacert", HOPT_STRING, 1, 0, NULL, false, "the system's",
	  "A file of CA certificates (PEM) to verify servers with." },
	{ "http", "http_version", HOPT_CHOICE, 0, 0,
	  "auto|1.1|2|2-prior-knowledge", false, "auto",
	  "auto: HTTP/2 over TLS when the server offers it, else 1.1." },
	{ "http", "attempts", HOPT_COUNT, 1, 100, NULL, false, "3",
	  "Tries of a request answered 5xx or 429, the first included." },
	{ "http", "backoff", HOPT_SECONDS, 0, 3600, NULL, false, "0.5",
	  "Seconds before the first retry; doubles each retry (jitter -25%)." },
	{ "http", "max_wait", HOPT_SECONDS, 0, 86400, NULL, false, "60",
	  "Ceiling of a retry's wait; a longer Retry-After fails the job." },
	{ "http", "per_host", HOPT_COUNT, 1, 65536, NULL, false, "6",
	  "Requests in flight to one host (per worker)." },
	{ "http", "output", HOPT_CHOICE, 0, 0, "status|body|json", false,
	  "status", "status: \"CODE BYTES SHA256\"; body: the body; json: an "
	  "object with timings." },
	{ "http", "max_body", HOPT_SIZE, 0, 1073741824, NULL, false, "16M",
	  "output=body: a longer body fails the job." },
	{ NULL, NULL, 0, 0, 0, NULL, false, NULL, NULL }
};

/* Does handler take any option? */
bool
hopt_takes(const char *handler)
{
	const struct hopt	*o;

	for (o = hopts; o->handler != NULL; o++)
		if (strcmp(o->handler, handler) == 0)
			return (true);
	return (false);
}

/* The keys of handler, as "a, b, c", into dst. */
static void
hopt_keys(const char *handler, char *dst, size_t size)
{
	const struct hopt	*o;
	size_t			 n = 0;

	*dst = '\0';
	for (o = hopts; o->handler != NULL && n < size; o++)
		if (strcmp(o->handler, handler) == 0)
			n += (size_t)snprintf(dst + n, size - n, "%s%s",
			    n != 0 ? ", " : "", o->key);
}

/* Is value one of the '|'-separated choices? */
static bool
hopt_choice(const char *choices, const char *value)
{
	const char	*p = choices, *bar;
	size_t		 n, vlen = strlen(value);

	for (;;) {
		bar = strchr(p, '|');
		n = bar != NULL ? (size_t)(bar - p) : strlen(p);
		if (n == vlen && strncmp(p, value, n) == 0)
			return (true);
		if (bar == NULL)
			return (false);
		p = bar + 1;
	}
}

/* Parse a yes/no value; -1 if it is neither. */
static int
hopt_bool(const char *v)
{
	if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 ||
	    strcasecmp(v, "on") == 0 || strcmp(v, "1") == 0)
		return (1);
	if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 ||
	    strcasecmp(v, "off") == 0 || strcmp(v, "0") == 0)
		return (0);
	return (-1);
}

/* Check a value against its option's type, filling *v. */
static int
hopt_value(const struct hopt *o, const char *value, struct hopt_val *v,
    char *err, size_t errlen)
{
	const char	*colon;
	int		 b;

	memset(v, 0, sizeof(*v));
	v->str = value;
	switch (o->type) {
	case HOPT_SECONDS:
	case HOPT_COUNT:
		if (num_parse_double(value, strlen(value), &v->num) == -1 ||
		    v->num < o->min || v->num > o->max ||
		    (o->type == HOPT_COUNT && v->num != (double)(long)v->num)) {
			snprintf(err, errlen, "%s: '%s' is not %s from %g to "
			    "%g", o->key, value, o->type == HOPT_COUNT ?
			    "a whole number" : "a number of seconds", o->min,
			    o->max);
			return (-1);
		}
		break;
	case HOPT_SIZE:
		if (num_parse_size(value, &v->size) == -1 ||
		    (double)v->size < o->min || (double)v->size > o->max) {
			snprintf(err, errlen, "%s: '%s' is not a size from %g "
			    "to %g bytes", o->key, value, o->min, o->max);
			return (-1);
		}
		break;
	case HOPT_BOOL:
		if ((b = hopt_bool(value)) == -1) {
			snprintf(err, errlen, "%s: '%s' is not yes or no",
			    o->key, value);
			return (-1);
		}
		v->b = b == 1;
		break;
	case HOPT_STRING:
		if (o->min > 0 && *value == '\0') {
			snprintf(err, errlen, "%s: must not be empty", o->key);
			return (-1);
		}
		break;
	case HOPT_CHOICE:
		if (!hopt_choice(o->choices, value)) {
			snprintf(err, errlen, "%s: '%s' is not one of %s",
			    o->key, value, o->choices);
			return (-1);
		}
		break;
	case HOPT_HEADER:
		colon = strchr(value, ':');
		if (colon == NULL || colon == value ||
		    strpbrk(value, "\r\n") != NULL ||
		    strcspn(value, " \t") < (size_t)(colon - value)) {
			snprintf(err, errlen, "%s: '%s' is not \"Name: value\"",
			    o->key, value);
			return (-1);
		}
		break;
	}
	return (0);
}

/*
 * Parse "KEY=VALUE" for handler: the option, with its value in *v (v->str
 * points into arg), or NULL with the reason in err.
 */
const struct hopt *
hopt_parse(const char *handler, const char *arg, struct hopt_val *v,
    char *err, size_t errlen)
{
	const struct hopt	*o;
	const char		*eq = strchr(arg, '=');
	char			 keys[512];
	size_t			 klen;

	if (!hopt_takes(handler)) {
		snprintf(err, errlen, "the %s handler takes no options",
		    handler);
		return (NULL);
	}
	if (eq == NULL || eq == arg) {
		snprintf(err, errlen, "'%s' is not KEY=VALUE", arg);
		return (NULL);
	}
	klen = (size_t)(eq - arg);
	for (o = hopts; o->handler != NULL; o++)
		if (strcmp(o->handler, handler) == 0 &&
		    strlen(o->key) == klen && strncmp(o->key, arg, klen) == 0)
			break;
	if (o->handler == NULL) {
		hopt_keys(handler, keys, sizeof(keys));
		snprintf(err, errlen, "unknown %s option '%.*s' (options: %s)",
		    handler, (int)klen, arg, keys);
		return (NULL);
	}
	if (hopt_value(o, eq + 1, v, err, errlen) == -1)
		return (NULL);
	return (o);
}

/* `drover-worker --options`: handler, key, default and doc, one a line. */
void
hopt_print(FILE *f)
{
	const struct hopt	*o;

	for (o = hopts; o->handler != NULL; o++)
		fprintf(f, "%s\t%s\t%s\t%s\n", o->handler, o->key, o->def,
		    o->doc);
}

/*
 * http: one HTTP request per job, many in flight in one worker, on libcurl's
 * multi interface (connections reused, HTTP/2 multiplexed over TLS when the
 * server offers it).  A job is a URL, or a JSON object {"url": ..., "method":
 * ..., "headers": {...}, "body": ...}.  The output is "CODE BYTES SHA256"
 * (or the body, or a JSON object with timings: the `output` option).
 *
 * The handler runs its own loop (docs/architecture.md): it takes jobs from
 * stdin with dw_poll_next() while libcurl works, waits in curl_multi_poll()
 * on curl's sockets plus stdin, and answers each job as its transfer ends,
 * in any order (in job order for the line protocol).  5xx and 429 are
 * retried here, within the `attempts` option, after an exponential backoff
 * that honours Retry-After; other 4xx fail at once; curl's errors (DNS,
 * connect, TLS, timeout, reset) fail with curl's reason.  At most
 * `per_host` requests go to one host at a time.
 *
 * Under the frame protocol's result-fields (docs/protocol.md) every
 * result of a request that was made, ok or failed, carries http_status,
 * bytes, ttfb_us, total_us, tries and http_version (of its last try) as
 * fields, which `drover run --json` makes members of the job's record.
 *
 * libcurl is loaded with dlopen() when this handler starts, as libcrypto is
 * for sha256: linking it would cost every worker of every handler about
 * 6 ms at start (libcurl pulls in a dozen libraries).
 */
#include <sys/queue.h>

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <jansson.h>

#include "buf.h"
#include "config.h"
#include "handlers.h"
#include "hopt.h"
#include "xmalloc.h"

#define HTTP_MAX_LIVE	65536	/* requests held before stdin waits */
#define HTTP_CURL_MIN	0x075500	/* 7.85.0: CURLOPT_PROTOCOLS_STR */
#define HTTP_CURL_PK_BAD 0x075800	/* 7.88.x: h2c prior knowledge, */
#define HTTP_CURL_PK_OK	0x080000	/* broken on reuse until 8.0.0 */
#define HTTP_CURL_MUX_OK 0x080100	/* 8.1.0: concurrent h2 streams */

/* The libcurl functions we use, resolved at init. */
static struct {
	__typeof__(curl_global_init)		*global_init;
	__typeof__(curl_version_info)		*version_info;
	__typeof__(curl_multi_init)		*multi_init;
	__typeof__(curl_multi_setopt)		*multi_setopt;
	__typeof__(curl_multi_add_handle)	*multi_add;
	__typeof__(curl_multi_remove_handle)	*multi_remove;
	__typeof__(curl_multi_perform)		*multi_perform;
	__typeof__(curl_multi_poll)		*multi_poll;
	__typeof__(curl_multi_info_read)	*multi_info_read;
	__typeof__(curl_multi_strerror)		*multi_strerror;
	__typeof__(curl_easy_init)		*easy_init;
	__typeof__(curl_easy_setopt)		*easy_setopt;
	__typeof__(curl_easy_getinfo)		*easy_getinfo;
	__typeof__(curl_easy_reset)		*easy_reset;
	__typeof__(curl_easy_cleanup)		*easy_cleanup;
	__typeof__(curl_easy_strerror)		*easy_strerror;
	__typeof__(curl_slist_append)		*slist_append;
	__typeof__(curl_slist_free_all)		*slist_free_all;
} cu;

static const struct {
	const char	*name;
	size_t		 off;
} cu_syms[] = {
#define CU(f, n)	{ n, offsetof(__typeof__(cu), f) }
	CU(global_init, "curl_global_init"),
	CU(version_info, "curl_version_info"),
	CU(multi_init, "curl_multi_init"),
	CU(multi_setopt, "curl_multi_setopt"),
	CU(multi_add, "curl_multi_add_handle"),
	CU(multi_remove, "curl_multi_remove_handle"),
	CU(multi_perform, "curl_multi_perform"),
	CU(multi_poll, "curl_multi_poll"),
	CU(multi_info_read, "curl_multi_info_read"),
	CU(multi_strerror, "curl_multi_strerror"),
	CU(easy_init, "curl_easy_init"),
	CU(easy_setopt, "curl_easy_setopt"),
	CU(easy_getinfo, "curl_easy_getinfo"),
	CU(easy_reset, "curl_easy_reset"),
	CU(easy_cleanup, "curl_easy_cleanup"),
	CU(easy_strerror, "curl_easy_strerror"),
	CU(slist_append, "curl_slist_append"),
	CU(slist_free_all, "curl_slist_free_all"),
#undef CU
};

enum http_output {
	OUT_STATUS,
	OUT_BODY,
	OUT_JSON,
};

/* The handler's options (hopt.c has their defaults and bounds). */
static struct {
	long		 timeout_ms;
	long		 connect_timeout_ms;
	long		 redirects;
	char		**headers;	/* "Name: value", NULL-ended */
	size_t		 nheaders;
	const char	*user_agent;
	bool		 tls_verify;
	const char	*cacert;
	long		 http_version;
	unsigned	 attempts;
	double		 backoff;
	double		 max_wait;
	unsigned	 per_host;
	enum http_output output;
	uint64_t	 max_body;
} ho = {
	.timeout_ms = 30000,
	.connect_timeout_ms = 10000,
	.redirects = 5,
	.user_agent = "drover/" DROVER_VERSION,
	.tls_verify = true,
	.http_version = CURL_HTTP_VERSION_2TLS,
	.attempts = 3,
	.backoff = 0.5,
	.max_wait = 60,
	.per_host = 6,
	.output = OUT_STATUS,
	.max_body = 16 * 1024 * 1024,
};

enum req_state {
	R_QUEUED,	/* waiting for room at its host */
	R_RUNNING,	/* in the multi handle */
	R_WAITING,	/* waiting to be retried */
	R_DONE,		/* answered (line protocol: held until its turn) */
};

struct host {
	char		*name;
	unsigned	 running;
};

struct req {
	TAILQ_ENTRY(req) entry;		/* in arrival order */
	uint64_t	 tag;
	enum req_state	 state;
	CURL		*easy;
	struct curl_slist *headers;
	char		*url;
	char		*method;
	char		*body;
	size_t		 bodylen;
	struct host	*host;
	unsigned	 tries;
	double		 due;		/* R_WAITING: when to retry */
	void		*sha;
	uint64_t	 bytes;
	struct buf	 out;		/* output=body: the body */
	bool		 over;		/* the body passed max_body */
	char		 errbuf[CURL_ERROR_SIZE];
	bool		 failed;	/* R_DONE: the answer */
	char		*answer;
	size_t		 answerlen;
	long		 code;		/* of the last try: its status, */
	curl_off_t	 ttfb;		/* time to first byte (us), */
	curl_off_t	 total;		/* whole time (us), */
	long		 version;	/* CURL_HTTP_VERSION_* used (0: none) */
};

TAILQ_HEAD(reqq, req);

static struct reqq	 reqs = TAILQ_HEAD_INITIALIZER(reqs);
static size_t		 nlive;
static CURLM		*multi;
static struct host	**hosts;
static size_t		 nhosts;
static CURL		**easy_free;	/* handles kept for reuse */
static size_t		 neasy_free;
static bool		 pk_no_reuse;	/* libcurl 7.88: see http_setup() */
static bool		 mux;		/* concurrent h2 streams are safe */

/* A failure of libcurl itself (out of memory, a bug): exit 1. */
static void __attribute__((noreturn))
http_fatal(const char *what, const char *why)
{
	fprintf(stderr, "drover-worker: http: %s: %s\n", what, why);
	exit(1);
}

/* Now, in seconds of CLOCK_MONOTONIC. */
static double
http_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* Load libcurl and resolve every function we use. */
static int
http_load(void)
{
	const curl_version_info_data *vi;
	void	*h, *sym;
	size_t	 i;

	if ((h = dlopen(DROVER_LIBCURL, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		fprintf(stderr, "drover-worker: http: unable to load "
		    "libcurl: %s\n", dlerror());
		return (-1);
	}
	for (i = 0; i < sizeof(cu_syms) / sizeof(cu_syms[0]); i++) {
		if ((sym = dlsym(h, cu_syms[i].name)) == NULL) {
			fprintf(stderr, "drover-worker: http: %s: %s\n",
			    DROVER_LIBCURL, dlerror());
			return (-1);
		}
		memcpy((char *)&cu + cu_syms[i].off, &sym, sizeof(sym));
	}
	vi = cu.version_info(CURLVERSION_NOW);
	if (vi->version_num < HTTP_CURL_MIN) {
		fprintf(stderr, "drover-worker: http: libcurl %s is too old "
		    "(7.85.0 or later)\n", vi->version);
		return (-1);
	}
	pk_no_reuse = vi->version_num >= HTTP_CURL_PK_BAD &&
	    vi->version_num < HTTP_CURL_PK_OK;
	mux = vi->version_num >= HTTP_CURL_MUX_OK;
	if (cu.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "drover-worker: http: curl_global_init "
		    "failed\n");
		return (-1);
	}
	return (0);
}

/* Apply one KEY=VALUE option. */
static int
http_option(const char *arg)
{
	const struct hopt	*o;
	struct hopt_val		 v;
	char			 err[512];

	if ((o = hopt_parse("http", arg, &v, err, sizeof(err))) == NULL) {
		fprintf(stderr, "drover-worker: http: %s\n", err);
		return (-1);
	}
	if (strcmp(o->key, "timeout") == 0)
		ho.timeout_ms = lround(v.num * 1000);
	else if (strcmp(o->key, "connect_timeout") == 0)
		ho.connect_timeout_ms = lround(v.num * 1000);
	else if (strcmp(o->key, "redirects") == 0)
		ho.redirects = (long)v.num;
	else if (strcmp(o->key, "header") == 0) {
		ho.headers = xreallocarray(ho.headers, ho.nheaders + 2,
		    sizeof(*ho.headers));
		ho.headers[ho.nheaders++] = xstrdup(v.str);
		ho.headers[ho.nheaders] = NULL;
	} else if (strcmp(o->key, "user_agent") == 0)
		ho.user_agent = v.str;
	else if (strcmp(o->key, "tls_verify") == 0)
		ho.tls_verify = v.b;
	else if (strcmp(o->key, "cacert") == 0)
		ho.cacert = v.str;
	else if (strcmp(o->key, "http_version") == 0)
		ho.http_version = strcmp(v.str, "1.1") == 0 ?
		    CURL_HTTP_VERSION_1_1 : strcmp(v.str, "2") == 0 ?
		    CURL_HTTP_VERSION_2_0 : strcmp(v.str, "auto") == 0 ?
		    CURL_HTTP_VERSION_2TLS :
		    CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
	else if (strcmp(o->key, "attempts") == 0)
		ho.attempts = (unsigned)v.num;
	else if (strcmp(o->key, "backoff") == 0)
		ho.backoff = v.num;
	else if (strcmp(o->key, "max_wait") == 0)
		ho.max_wait = v.num;
	else if (strcmp(o->key, "per_host") == 0)
		ho.per_host = (unsigned)v.num;
	else if (strcmp(o->key, "output") == 0)
		ho.output = strcmp(v.str, "body") == 0 ? OUT_BODY :
		    strcmp(v.str, "json") == 0 ? OUT_JSON : OUT_STATUS;
	else if (strcmp(o->key, "max_body") == 0)
		ho.max_body = v.size;
	return (0);
}

static int
http_init(int argc, char **argv)
{
	int	 i;

	for (i = 0; i < argc; i++)
		if (http_option(argv[i]) == -1)
			return (-1);
	if (sha256_load() == -1 || http_load() == -1)
		return (-1);
	srandom((unsigned)getpid() ^ (unsigned)time(NULL));
	if ((multi = cu.multi_init()) == NULL) {
		fprintf(stderr, "drover-worker: http: curl_multi_init "
		    "failed\n");
		return (-1);
	}
	/*
	 * Before 8.1.0 (Debian 12 has 7.88.1), libcurl's HTTP/2 now and
	 * then loses the end of a stream that shares its connection with
	 * others: the transfer stalls until its timeout, though the server
	 * sent every DATA frame (seen against nghttpd, tests/integration/
	 * test_http2.py).  There HTTP/2 runs one stream per connection,
	 * connections reused one request after the other.
	 */
	cu.multi_setopt(multi, CURLMOPT_PIPELINING, (long)(mux ?
	    CURLPIPE_MULTIPLEX : CURLPIPE_NOTHING));
	cu.multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    (long)ho.per_host);
	return (0);
}

/* The host[:port] of a URL, lowercased, into dst. */
static void
http_host_of(const char *url, char *dst, size_t size)
{
	const char	*p = strstr(url, "://"), *end, *at;
	size_t		 n, i;

	p = p != NULL ? p + 3 : url;
	end = p + strcspn(p, "/?#");
	if ((at = memchr(p, '@', (size_t)(end - p))) != NULL)
		p = at + 1;
	n = (size_t)(end - p);
	if (n >= size)
		n = size - 1;
	for (i = 0; i < n; i++)
		dst[i] = (char)tolower((unsigned char)p[i]);
	dst[n] = '\0';
}

/* The host record for a URL, made on first use. */
static struct host *
http_host(const char *url)
{
	char	 name[256];
	size_t	 i;

	http_host_of(url, name, sizeof(name));
	for (i = 0; i < nhosts; i++)
		if (strcmp(hosts[i]->name, name) == 0)
			return (hosts[i]);
	hosts = xreallocarray(hosts, nhosts + 1, sizeof(*hosts));
	hosts[nhosts] = xcalloc(1, sizeof(**hosts));
	hosts[nhosts]->name = xstrdup(name);
	return (hosts[nhosts++]);
}

/* libcurl's write callback: hash, count and (output=body) keep the body. */
static size_t
http_write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct req	*r = arg;
	size_t		 len = size * n;

	r->bytes += len;
	if (ho.output == OUT_BODY) {
		if (buf_len(&r->out) + len > ho.max_body) {
			r->over = true;
			return (0);	/* CURLE_WRITE_ERROR */
		}
		buf_add(&r->out, p, len);
	} else
		sha256_add(r->sha, p, len);
	return (len);
}

/* Is name (up to its colon) the name of one of the headers in list? */
static bool
http_has_header(const struct curl_slist *list, const char *h)
{
	size_t	 n = strcspn(h, ":");

	for (; list != NULL; list = list->next)
		if (strncasecmp(list->data, h, n) == 0 && list->data[n] == ':')
			return (true);
	return (false);
}

/*
 * Parse a JSON job into r: url (required), method, headers, body.  NULL, or
 * the reason it is not a request, in why.
 */
static int
http_parse_json(struct req *r, const char *data, size_t len, char *why,
    size_t size)
{
	json_t		*o, *v;
	json_error_t	 jerr;
	const char	*key;
	char		*h;
	int		 rv = -1;

	if ((o = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		snprintf(why, size, "not a JSON request: %s", jerr.text);
		return (-1);
	}
	if (!json_is_object(o)) {
		snprintf(why, size, "not a JSON request: not an object");
		goto out;
	}
	json_object_foreach(o, key, v) {
		if (strcmp(key, "url") == 0 && json_is_string(v))
			r->url = xstrdup(json_string_value(v));
		else if (strcmp(key, "method") == 0 && json_is_string(v) &&
		    json_string_length(v) > 0 &&
		    strspn(json_string_value(v), "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz-_") == json_string_length(v))
			r->method = xstrdup(json_string_value(v));
		else if (strcmp(key, "body") == 0 && json_is_string(v)) {
			r->bodylen = json_string_length(v);
			r->body = xmalloc(r->bodylen + 1);
			memcpy(r->body, json_string_value(v), r->bodylen + 1);
		} else if (strcmp(key, "headers") == 0 && json_is_object(v)) {
			const char	*hk;
			json_t		*hv;

			json_object_foreach(v, hk, hv) {
				if (!json_is_string(hv) || *hk == '\0' ||
				    strpbrk(hk, ": \t\r\n") != NULL ||
				    strpbrk(json_string_value(hv), "\r\n") !=
				    NULL) {
					snprintf(why, size, "headers: '%s' is "
					    "not a header name with a string "
					    "value", hk);
					goto out;
				}
				xasprintf(&h, "%s: %s", hk,
				    json_string_value(hv));
				r->headers = cu.slist_append(r->headers, h);
				free(h);
			}
		} else {
			snprintf(why, size, "'%s' is not a request key with a "
			    "value of its type (url, method, headers: strings; "
			    "headers: an object of strings)", key);
			goto out;
		}
	}
	if (r->url == NULL) {
		snprintf(why, size, "no \"url\" in the request");
		goto out;
	}
	rv = 0;
out:
	json_decref(o);
	return (rv);
}

/* Set up r's easy handle for its next try. */
static void
http_setup(struct req *r)
{
	CURL		*e;
	size_t		 i;
	bool		 tls = strncasecmp(r->url, "https:", 6) == 0, fresh;

	if (r->easy == NULL) {
		if (neasy_free > 0) {
			r->easy = easy_free[--neasy_free];
			cu.easy_reset(r->easy);
		} else if ((r->easy = cu.easy_init()) == NULL)
			http_fatal("curl_easy_init", "failed");
		for (i = 0; i < ho.nheaders; i++)
			if (!http_has_header(r->headers, ho.headers[i]))
				r->headers = cu.slist_append(r->headers,
				    ho.headers[i]);
	}
	e = r->easy;
	cu.easy_setopt(e, CURLOPT_URL, r->url);
	cu.easy_setopt(e, CURLOPT_PRIVATE, r);
	cu.easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	cu.easy_setopt(e, CURLOPT_WRITEFUNCTION, http_write_cb);
	cu.easy_setopt(e, CURLOPT_WRITEDATA, r);
	cu.easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	cu.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	cu.easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	cu.easy_setopt(e, CURLOPT_FOLLOWLOCATION, ho.redirects > 0 ? 1L : 0L);
	cu.easy_setopt(e, CURLOPT_MAXREDIRS, ho.redirects);
	cu.easy_setopt(e, CURLOPT_TIMEOUT_MS, ho.timeout_ms);
	cu.easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ho.connect_timeout_ms);
	cu.easy_setopt(e, CURLOPT_USERAGENT, ho.user_agent);
	cu.easy_setopt(e, CURLOPT_SSL_VERIFYPEER, ho.tls_verify ? 1L : 0L);
	cu.easy_setopt(e, CURLOPT_SSL_VERIFYHOST, ho.tls_verify ? 2L : 0L);
	if (ho.cacert != NULL)
		cu.easy_setopt(e, CURLOPT_CAINFO, ho.cacert);
	cu.easy_setopt(e, CURLOPT_HTTP_VERSION, ho.http_version);
	/*
	 * libcurl 7.88 breaks a cleartext HTTP/2 connection made with prior
	 * knowledge when it reuses it, every request after the first
	 * failing with "Error in the HTTP2 framing layer" (curl issue 10634,
	 * fixed in 8.0.0): there, a connection of its own for each request.
	 */
	fresh = pk_no_reuse && !tls &&
	    ho.http_version == CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
	cu.easy_setopt(e, CURLOPT_FRESH_CONNECT, fresh ? 1L : 0L);
	cu.easy_setopt(e, CURLOPT_FORBID_REUSE, fresh ? 1L : 0L);
	/* Wait for a connection that may multiplex: only where h2 may be. */
	cu.easy_setopt(e, CURLOPT_PIPEWAIT, (mux && !fresh && (tls ||
	    ho.http_version == CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE)) ? 1L : 0L);
	if (r->headers != NULL)
		cu.easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	if (r->body != NULL) {
		cu.easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)r->bodylen);
		cu.easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
	}
	if (r->method != NULL && strcmp(r->method, "HEAD") == 0)
		cu.easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (r->method != NULL)
		cu.easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
	r->errbuf[0] = '\0';
	r->bytes = 0;
	r->over = false;
	buf_reset(&r->out);
	sha256_discard(r->sha);
	r->sha = NULL;
	if (ho.output != OUT_BODY && (r->sha = sha256_begin()) == NULL)
		http_fatal("SHA-256", "unable to set it up");
}

/* Start r now: into the multi handle. */
static void
http_start(struct req *r)
{
	CURLMcode	 mc;

	http_setup(r);
	r->tries++;
	r->state = R_RUNNING;
	r->host->running++;
	if ((mc = cu.multi_add(multi, r->easy)) != CURLM_OK)
		http_fatal("curl_multi_add_handle", cu.multi_strerror(mc));
}

/* Free a request (answered). */
static void
http_free(struct req *r)
{
	TAILQ_REMOVE(&reqs, r, entry);
	nlive--;
	if (r->easy != NULL) {
		easy_free = xreallocarray(easy_free, neasy_free + 1,
		    sizeof(*easy_free));
		easy_free[neasy_free++] = r->easy;
	}
	if (r->headers != NULL)
		cu.slist_free_all(r->headers);
	sha256_discard(r->sha);
	buf_free(&r->out);
	free(r->url);
	free(r->method);
	free(r->body);
	free(r->answer);
	free(r);
}

/* The name of the HTTP version a transfer used, "" when none answered. */
static const char *
http_version_name(long v)
{
	switch (v) {
	case CURL_HTTP_VERSION_1_0:
		return ("1.0");
	case CURL_HTTP_VERSION_1_1:
		return ("1.1");
	case CURL_HTTP_VERSION_2_0:
		return ("2");
	case CURL_HTTP_VERSION_3:
		return ("3");
	default:
		return ("");
	}
}

/*
 * Answer r, with its fields (result-fields; dropped by dw_result() when
 * not in effect) when a request was made.
 */
static void
http_answer(struct dw *dw, const struct dw_job *job, const struct req *r)
{
	struct dw_field	 f[6];
	struct dw_result res;

	memset(f, 0, sizeof(f));
	f[0].name = "http_status";
	f[0].i = r->code;
	f[1].name = "bytes";
	f[1].i = (int64_t)r->bytes;
	f[2].name = "ttfb_us";
	f[2].i = r->ttfb;
	f[3].name = "total_us";
	f[3].i = r->total;
	f[4].name = "tries";
	f[4].i = r->tries;
	f[0].type = f[1].type = f[2].type = f[3].type = f[4].type =
	    DW_FIELD_INT;
	f[5].name = "http_version";
	f[5].type = DW_FIELD_STR;
	f[5].s = http_version_name(r->version);
	f[5].slen = strlen(f[5].s);
	memset(&res, 0, sizeof(res));
	res.fail = r->failed;
	res.data = r->answer;
	res.len = r->answerlen;
	if (r->tries != 0) {
		res.fields = f;
		res.nfields = sizeof(f) / sizeof(f[0]);
	}
	dw_result(dw, job, &res);
}

/* Send the answers that may go: all of them, or in order (line). */
static void
http_answer_ready(struct dw *dw)
{
	struct req	*r, *next;
	struct dw_job	 job;

	for (r = TAILQ_FIRST(&reqs); r != NULL; r = next) {
		next = TAILQ_NEXT(r, entry);
		if (r->state != R_DONE) {
			if (dw_in_order(dw))
				break;
			continue;
		}
		memset(&job, 0, sizeof(job));
		job.tag = r->tag;
		http_answer(dw, &job, r);
		http_free(r);
	}
}

/* Finish r with an answer (copied), to be sent by http_answer_ready(). */
static void
http_finish(struct req *r, bool failed, const char *p, size_t len)
{
	r->state = R_DONE;
	r->failed = failed;
	r->answer = xmalloc(len + 1);
	memcpy(r->answer, p, len);
	r->answer[len] = '\0';
	r->answerlen = len;
}

/* Fail r with a formatted reason. */
static void
http_failf(struct req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
http_failf(struct req *r, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	xvasprintf(&s, fmt, ap);
	va_end(ap);
	http_finish(r, true, s, strlen(s));
	free(s);
}

/* A new job: a URL or a JSON request, queued for its host. */
static void
http_job(const struct dw_job *job)
{
	struct req	*r;
	const char	*p = job->data;
	size_t		 len = job->len;
	char		 why[512], q[128];

	r = xcalloc(1, sizeof(*r));
	r->tag = job->tag;
	buf_init(&r->out);
	TAILQ_INSERT_TAIL(&reqs, r, entry);
	nlive++;
	while (len > 0 && isspace((unsigned char)*p)) {
		p++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)p[len - 1]))
		len--;
	if (len == 0) {
		http_failf(r, "empty job: not a URL");
		return;
	}
	if (memchr(p, '\0', len) != NULL) {
		handler_quote(q, sizeof(q), p, len);
		http_failf(r, "job contains a NUL byte: %s", q);
		return;
	}
	if (*p == '{') {
		if (http_parse_json(r, p, len, why, sizeof(why)) == -1) {
			http_failf(r, "%s", why);
			return;
		}
	} else {
		r->url = xmalloc(len + 1);
		memcpy(r->url, p, len);
		r->url[len] = '\0';
	}
	r->host = http_host(r->url);
	r->state = R_QUEUED;
}

/*
 * Start what may start: retries whose time has come and queued requests
 * whose host has room, oldest first.  Returns the seconds until the next
 * retry is due (-1: none waits).
 */
static double
http_start_ready(void)
{
	struct req	*r;
	double		 now = http_now(), next = -1;

	TAILQ_FOREACH(r, &reqs, entry) {
		if (r->state == R_WAITING && r->due > now) {
			if (next < 0 || r->due - now < next)
				next = r->due - now;
			continue;
		}
		if ((r->state == R_QUEUED || r->state == R_WAITING) &&
		    r->host->running < ho.per_host)
			http_start(r);
	}
	return (next);
}

/* The wait before try n + 1 (n >= 1): backoff * 2^(n-1), jitter -25%. */
static double
http_backoff(unsigned n)
{
	double	 d = ho.backoff * ldexp(1.0, (int)(n > 60 ? 60 : n - 1));

	if (d > ho.max_wait)
		d = ho.max_wait;
	return (d * (0.75 + 0.25 * ((double)random() / RAND_MAX)));
}

/* Format the output of a successful transfer of r. */
static void
http_ok(struct req *r, long code)
{
	curl_off_t	 ttfb = 0, total = 0;
	struct buf	 b;
	char		 hex[65];

	if (ho.output == OUT_BODY) {
		http_finish(r, false, buf_data(&r->out), buf_len(&r->out));
		return;
	}
	if (sha256_end(r->sha, hex) == -1)
		strlcpy(hex, "-", sizeof(hex));
	r->sha = NULL;
	buf_init(&b);
	if (ho.output == OUT_STATUS)
		buf_printf(&b, "%ld %llu %s", code,
		    (unsigned long long)r->bytes, hex);
	else {
		cu.easy_getinfo(r->easy, CURLINFO_STARTTRANSFER_TIME_T, &ttfb);
		cu.easy_getinfo(r->easy, CURLINFO_TOTAL_TIME_T, &total);
		buf_printf(&b, "{\"http_status\":%ld,\"bytes\":%llu,"
		    "\"sha256\":\"%s\",\"ttfb_us\":%lld,\"total_us\":%lld,"
		    "\"tries\":%u}", code, (unsigned long long)r->bytes, hex,
		    (long long)ttfb, (long long)total, r->tries);
	}
	http_finish(r, false, buf_data(&b), buf_len(&b));
	buf_free(&b);
}

/* A transfer of r ended with rc: answer it, or wait to retry it. */
static void
http_done(struct req *r, CURLcode rc)
{
	curl_off_t	 ra = -1;
	long		 code = 0;
	double		 wait;

	cu.multi_remove(multi, r->easy);
	r->host->running--;
	r->code = 0;
	r->ttfb = r->total = 0;
	r->version = 0;
	cu.easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->code);
	cu.easy_getinfo(r->easy, CURLINFO_STARTTRANSFER_TIME_T, &r->ttfb);
	cu.easy_getinfo(r->easy, CURLINFO_TOTAL_TIME_T, &r->total);
	cu.easy_getinfo(r->easy, CURLINFO_HTTP_VERSION, &r->version);
	if (rc != CURLE_OK) {
		if (r->over)
			http_failf(r, "body over %llu bytes (max_body)",
			    (unsigned long long)ho.max_body);
		else if (r->errbuf[0] != '\0')
			http_failf(r, "%s: %s", cu.easy_strerror(rc),
			    r->errbuf);
		else
			http_failf(r, "%s", cu.easy_strerror(rc));
		return;
	}
	cu.easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
	if (code < 400) {
		http_ok(r, code);
		return;
	}
	if (code != 429 && code < 500) {
		http_failf(r, "HTTP %ld", code);
		return;
	}
	if (r->tries >= ho.attempts) {
		http_failf(r, "HTTP %ld after %u %s", code, r->tries,
		    r->tries == 1 ? "try" : "tries");
		return;
	}
	wait = http_backoff(r->tries);
	if (cu.easy_getinfo(r->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK &&
	    ra > 0) {
		if ((double)ra > ho.max_wait) {
			http_failf(r, "HTTP %ld after %u %s: Retry-After "
			    "%lld s is over max_wait %g s", code, r->tries,
			    r->tries == 1 ? "try" : "tries", (long long)ra,
			    ho.max_wait);
			return;
		}
		if ((double)ra > wait)
			wait = (double)ra;
	}
	r->state = R_WAITING;
	r->due = http_now() + wait;
}

/* Read the transfers libcurl has finished. */
static void
http_collect(void)
{
	CURLMsg		*m;
	struct req	*r;
	int		 left;

	while ((m = cu.multi_info_read(multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		cu.easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &r);
		http_done(r, m->data.result);
	}
}

/*
 * The session: take jobs whenever stdin has them, drive libcurl, answer
 * what finished, and wait on curl's sockets and stdin together.  At EOF,
 * finish what is in flight (retries included), then return.
 */
static int
http_loop(struct dw *dw)
{
	struct curl_waitfd	 wfd;
	struct dw_job		 job;
	CURLMcode		 mc;
	double			 next;
	bool			 eof = false, room;
	int			 running, rv, ms;

	for (;;) {
		while (!eof && nlive < HTTP_MAX_LIVE) {
			if ((rv = dw_poll_next(dw, &job)) == DW_AGAIN)
				break;
			if (rv == -1) {
				fprintf(stderr, "drover-worker: %s\n",
				    dw_error(dw));
				return (-1);
			}
			if (rv == 0)
				eof = true;
			else
				http_job(&job);
		}
		(void)http_start_ready();
		if ((mc = cu.multi_perform(multi, &running)) != CURLM_OK)
			http_fatal("curl_multi_perform",
			    cu.multi_strerror(mc));
		http_collect();
		next = http_start_ready();
		http_answer_ready(dw);
		if (dw_flush(dw) == -1) {
			fprintf(stderr, "drover-worker: %s\n", dw_error(dw));
			return (-1);
		}
		if (eof && nlive == 0)
			return (0);
		room = !eof && nlive < HTTP_MAX_LIVE;
		memset(&wfd, 0, sizeof(wfd));
		wfd.fd = dw_fd(dw);
		wfd.events = CURL_WAIT_POLLIN;
		ms = next < 0 ? 1000 : (int)ceil(next * 1000);
		if (ms > 1000)
			ms = 1000;
		if ((mc = cu.multi_poll(multi, room ? &wfd : NULL, room ? 1 : 0,
		    ms, NULL)) != CURLM_OK)
			http_fatal("curl_multi_poll", cu.multi_strerror(mc));
	}
}

const struct handler handler_http = {
	.name = "http",
	.usage = "http [KEY=VALUE ...]  (options: drover-worker(7))",
	.init = http_init,
	.run = NULL,
	.flush = false,
	.loop = http_loop,
	.caps = DW_CAP_RESULT_FIELDS,
};

/*
 * The observability endpoint (evhttp) at the configured `metrics` address,
 * TCP ("127.0.0.1:9464") or a Unix socket ("unix:/run/drover/metrics.sock"):
 *
 *	GET /metrics	Prometheus text exposition format 0.0.4
 *	GET /status	the JSON of `drover status --json`
 *	GET /healthz	200 "ok" while every pool is healthy, else 503 + why
 *
 * It runs in droverd's one loop; a scrape only reads counters, so it never
 * waits on the job path and the job path never waits on it.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <dirent.h>
#include <netdb.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "acceptguard.h"
#include "buf.h"
#include "config.h"
#include "hist.h"
#include "log.h"
#include "hooks.h"
#include "metrics.h"
#include "pool.h"
#include "usock.h"
#include "xmalloc.h"

struct metrics {
	struct evhttp	*http;
	struct accept_guard *guard;	/* EMFILE: pause, do not spin */
	char		*addr;
	char		*unix_path;	/* to unlink at the end */
	const struct daemon_hooks *hooks;
	double		 start_time;	/* process start, Unix seconds */
};

/* Bucket bounds of drover_job_duration_seconds, in seconds. */
static const double duration_le[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300
};

static const char *const worker_states[] = {
	"starting", "ready", "retiring", "stopping"
};

/* Start a metric family with its HELP and TYPE lines. */
static void
family(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The cumulative count of values <= us in h (bucket resolution). */
static uint64_t
hist_le(const struct hist *h, uint64_t us)
{
	uint64_t	 n = 0;
	unsigned	 i;

	for (i = 0; i < HIST_NBUCKETS && hist_bucket_high(i) <= us; i++)
		n += h->b[i];
	return (n);
}

/* Resident set size of this process in bytes. */
static uint64_t
self_rss(void)
{
	FILE			*f;
	unsigned long long	 size, rss = 0;

	if ((f = fopen("/proc/self/statm", "re")) == NULL)
		return (0);
	if (fscanf(f, "%llu %llu", &size, &rss) != 2)
		rss = 0;
	fclose(f);
	return (rss * (uint64_t)sysconf(_SC_PAGESIZE));
}

/* Open fds of this process. */
static unsigned
self_fds(void)
{
	DIR		*d;
	struct dirent	*de;
	unsigned	 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return (0);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return (n > 0 ? n - 1 : 0);	/* minus the one opendir holds */
}

/* User plus system CPU seconds of this process. */
static double
self_cpu(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == -1)
		return (0);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* True for a pool shown in status that is on its way out after a reload. */
static bool
pool_leaving(json_t *p)
{
	return (strcmp(json_string_value(json_object_get(p, "state")),
	    "removing") == 0);
}

/* One sample per live pool: the integer field of its status object. */
static void
per_pool_gauge(struct buf *b, json_t *pools, const char *metric,
    const char *field)
{
	json_t	*p;
	size_t	 i;

	json_array_foreach(pools, i, p) {
		if (pool_leaving(p))
			continue;
		buf_printf(b, "%s{pool=\"%s\"} %lld\n", metric,
		    json_string_value(json_object_get(p, "name")),
		    (long long)json_integer_value(json_object_get(p, field)));
	}
}

/* One sample per live pool and key of an object of counters. */
static void
per_pool_counters(struct buf *b, json_t *pools, const char *metric,
    const char *field, const char *label)
{
	json_t		*p, *v;
	const char	*key;
	size_t		 i;

	json_array_foreach(pools, i, p) {
		if (pool_leaving(p))
			continue;
		json_object_foreach(json_object_get(p, field), key, v)
			buf_printf(b, "%s{pool=\"%s\",%s=\"%s\"} %lld\n",
			    metric, json_string_value(json_object_get(p,
			    "name")), label, key,
			    (long long)json_integer_value(v));
	}
}

/*
 * Per-pool families, walking the status JSON so every view agrees.  A pool
 * being replaced after a reload is left out: its successor has its name.
 */
static void
metrics_pools(struct buf *b, json_t *status)
{
	json_t		*pools = json_object_get(status, "pools"), *p, *w;
	size_t		 i, k, n[4];
	unsigned	 s;

	family(b, "drover_jobs_total", "counter",
	    "Jobs finished, by pool and final status.");
	per_pool_counters(b, pools, "drover_jobs_total", "jobs", "status");
	family(b, "drover_queue_depth", "gauge", "Jobs waiting in the queue.");
	per_pool_gauge(b, pools, "drover_queue_depth", "queued");
	family(b, "drover_inflight", "gauge", "Jobs held by workers.");
	per_pool_gauge(b, pools, "drover_inflight", "inflight");
	family(b, "drover_workers_target", "gauge",
	    "Workers the pool wants now (a dynamic pool moves it).");
	per_pool_gauge(b, pools, "drover_workers_target", "workers_target");
	family(b, "drover_workers_min", "gauge",
	    "A pool's fewest workers (its size, unless dynamic).");
	per_pool_gauge(b, pools, "drover_workers_min", "workers_min");
	family(b, "drover_workers_max", "gauge",
	    "A pool's most workers (its size, unless dynamic).");
	per_pool_gauge(b, pools, "drover_workers_max", "workers_max");
	family(b, "drover_workers", "gauge", "Worker processes by state.");
	json_array_foreach(pools, i, p) {
		if (pool_leaving(p))
			continue;
		memset(n, 0, sizeof(n));
		json_array_foreach(json_object_get(p, "workers"), k, w) {
			for (s = 0; s < 4; s++)
				if (strcmp(json_string_value(json_object_get(w,
				    "state")), worker_states[s]) == 0)
					n[s]++;
		}
		for (s = 0; s < 4; s++)
			buf_printf(b, "drover_workers{pool=\"%s\",state=\"%s\"}"
			    " %zu\n", json_string_value(json_object_get(p,
			    "name")), worker_states[s], n[s]);
	}
	family(b, "drover_worker_restarts_total", "counter",
	    "Worker replacements, by pool and reason.");
	per_pool_counters(b, pools, "drover_worker_restarts_total",
	    "restarts", "reason");
	family(b, "drover_pool_up", "gauge",
	    "1 while the pool works, 0 once it has failed.");
	json_array_foreach(pools, i, p)
		if (!pool_leaving(p))
			buf_printf(b, "drover_pool_up{pool=\"%s\"} %d\n",
			    json_string_value(json_object_get(p, "name")),
			    json_object_get(p, "failure") == NULL);
}

/* Families that come from pool counters rather than status. */
static void
metrics_pool_counters(const struct metrics *m, struct buf *b, json_t *status)
{
	json_t			*pools = json_object_get(status, "pools"), *p;
	const struct pool	*pool;
	const struct hist	*h;
	const char		*name;
	size_t			 i, k;

	family(b, "drover_job_duration_seconds", "histogram",
	    "Dispatch to result of finished runs (buckets at 6% resolution).");
	json_array_foreach(pools, i, p) {
		name = json_string_value(json_object_get(p, "name"));
		if (pool_leaving(p) || (pool = m->hooks->pool(name)) == NULL)
			continue;
		h = &pool_stats(pool)->duration;
		for (k = 0; k < sizeof(duration_le) / sizeof(duration_le[0]);
		    k++)
			buf_printf(b, "drover_job_duration_seconds_bucket{pool="
			    "\"%s\",le=\"%g\"} %llu\n", name, duration_le[k],
			    (unsigned long long)hist_le(h,
			    (uint64_t)(duration_le[k] * 1e6)));
		buf_printf(b, "drover_job_duration_seconds_bucket{pool=\"%s\","
		    "le=\"+Inf\"} %llu\n", name, (unsigned long long)h->count);
		buf_printf(b, "drover_job_duration_seconds_sum{pool=\"%s\"} "
		    "%.6f\n", name, (double)h->sum / 1e6);
		buf_printf(b, "drover_job_duration_seconds_count{pool=\"%s\"} "
		    "%llu\n", name, (unsigned long long)h->count);
	}
	family(b, "drover_rate_limited_total", "counter",
	    "Dispatch rounds held back by the pool's rate limit.");
	json_array_foreach(pools, i, p) {
		name = json_string_value(json_object_get(p, "name"));
		if (pool_leaving(p) || (pool = m->hooks->pool(name)) == NULL)
			continue;
		buf_printf(b, "drover_rate_limited_total{pool=\"%s\"} %llu\n",
		    name, (unsigned long long)pool_stats(pool)->rate_limited);
	}
}

/* The whole exposition. */
static void
metrics_render(struct metrics *m, struct buf *b)
{
	json_t	*status = m->hooks->status();

	family(b, "drover_build_info", "gauge", "drover's version.");
	buf_printf(b, "drover_build_info{version=\"%s\"} 1\n", DROVER_VERSION);
	metrics_pools(b, status);
	metrics_pool_counters(m, b, status);
	if (m->hooks->metrics != NULL)
		m->hooks->metrics(b);
	family(b, "drover_config_reloads_total", "counter",
	    "Configuration reloads, by result.");
	buf_printf(b, "drover_config_reloads_total{result=\"success\"} %llu\n",
	    m->hooks->reloads(true));
	buf_printf(b, "drover_config_reloads_total{result=\"failure\"} %llu\n",
	    m->hooks->reloads(false));
	family(b, "process_start_time_seconds", "gauge",
	    "Start time of the process since the Unix epoch, seconds.");
	buf_printf(b, "process_start_time_seconds %.3f\n", m->start_time);
	family(b, "process_resident_memory_bytes", "gauge",
	    "Resident memory size in bytes.");
	buf_printf(b, "process_resident_memory_bytes %llu\n",
	    (unsigned long long)self_rss());
	family(b, "process_open_fds", "gauge", "Open file descriptors.");
	buf_printf(b, "process_open_fds %u\n", self_fds());
	family(b, "process_cpu_seconds_total", "counter",
	    "User and system CPU time, seconds.");
	buf_printf(b, "process_cpu_seconds_total %.3f\n", self_cpu());
	json_decref(status);
}

/* Send b with a status code and content type. */
static void
metrics_reply(struct evhttp_request *req, int code, const char *reason,
    const char *type, const char *body, size_t len)
{
	struct evbuffer	*out = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", type);
	evbuffer_add(out, body, len);
	evhttp_send_reply(req, code, reason, out);
	evbuffer_free(out);
}

/* Route one request. */
static void
metrics_request_cb(struct evhttp_request *req, void *arg)
{
	struct metrics	*m = arg;
	const char	*path = evhttp_request_get_uri(req);
	struct buf	 b;
	json_t		*status;
	char		*s;
	size_t		 plen;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		metrics_reply(req, 405, "Method Not Allowed", "text/plain",
		    "method not allowed\n", 19);
		return;
	}
	plen = strcspn(path, "?");
	buf_init(&b);
	if (plen == 8 && strncmp(path, "/metrics", plen) == 0) {
		metrics_render(m, &b);
		metrics_reply(req, 200, "OK",
		    "text/plain; version=0.0.4; charset=utf-8", buf_data(&b),
		    buf_len(&b));
	} else if (plen == 7 && strncmp(path, "/status", plen) == 0) {
		status = m->hooks->status();
		s = json_dumps(status, JSON_COMPACT);
		json_decref(status);
		metrics_reply(req, 200, "OK", "application/json", s,
		    strlen(s));
		free(s);
	} else if (plen == 8 && strncmp(path, "/healthz", plen) == 0) {
		if (m->hooks->healthy(&b))
			metrics_reply(req, 200, "OK", "text/plain", "ok\n", 3);
		else
			metrics_reply(req, 503, "Service Unavailable",
			    "text/plain", buf_data(&b), buf_len(&b));
	} else
		metrics_reply(req, 404, "Not Found", "text/plain",
		    "not found\n", 10);
	buf_free(&b);
}

/* Bind the HTTP endpoint at addr; NULL (err set) on failure or if off. */
struct metrics *
metrics_new(struct event_base *base, const char *addr,
    const struct daemon_hooks *hooks, char *err, size_t errlen)
{
	struct metrics	*m;
	struct evhttp_bound_socket *bound;
	struct addrinfo	 hints, *res;
	char		*host, *colon, *end;
	long		 port;
	int		 fd, gai;

	*err = '\0';
	if (addr == NULL || *addr == '\0')
		return (NULL);
	m = xcalloc(1, sizeof(*m));
	m->addr = xstrdup(addr);
	m->hooks = hooks;
	m->start_time = (double)time(NULL);
	if ((m->http = evhttp_new(base)) == NULL)
		fatalx("evhttp_new");
	evhttp_set_gencb(m->http, metrics_request_cb, m);
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	evhttp_set_timeout(m->http, 10);
	if (strncmp(addr, "unix:", 5) == 0) {
		char	 why[256];

		if ((fd = usock_listen(addr + 5, USOCK_KEEP_MODE,
		    USOCK_KEEP_GID, 64, why, sizeof(why))) == -1) {
			snprintf(err, errlen, "metrics: %s", why);
			goto fail;
		}
		if ((bound = evhttp_accept_socket_with_handle(m->http,
		    fd)) == NULL) {
			snprintf(err, errlen, "metrics: unable to accept on "
			    "%s", addr + 5);
			close(fd);
			(void)unlink(addr + 5);
			goto fail;
		}
		m->unix_path = xstrdup(addr + 5);
		m->guard = accept_guard_new(base,
		    evhttp_bound_socket_get_listener(bound), "metrics");
		return (m);
	}
	host = xstrdup(addr);
	if ((colon = strrchr(host, ':')) == NULL) {
		snprintf(err, errlen, "metrics: '%s' is not host:port or "
		    "unix:/path", addr);
		free(host);
		goto fail;
	}
	*colon = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 0 || port > 65535 || colon[1] == '\0') {
		snprintf(err, errlen, "metrics: bad port in '%s'", addr);
		free(host);
		goto fail;
	}
	/* evhttp resolves too, but loses the reason when it fails. */
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((gai = getaddrinfo(*host == '\0' ? NULL : host, colon + 1, &hints,
	    &res)) != 0) {
		snprintf(err, errlen, "metrics: unable to listen on %s: %s",
		    addr, gai_strerror(gai));
		free(host);
		goto fail;
	}
	freeaddrinfo(res);
	errno = 0;
	if ((bound = evhttp_bind_socket_with_handle(m->http, host,
	    (ev_uint16_t)port)) == NULL) {
		snprintf(err, errlen, "metrics: unable to listen on %s: %s",
		    addr, errno != 0 ? strerror(errno) : "bind failed");
		free(host);
		goto fail;
	}
	free(host);
	m->guard = accept_guard_new(base,
	    evhttp_bound_socket_get_listener(bound), "metrics");
	return (m);
fail:
	evhttp_free(m->http);
	free(m->addr);
	free(m);
	return (NULL);
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	accept_guard_free(m->guard);
	evhttp_free(m->http);
	if (m->unix_path != NULL) {
		(void)unlink(m->unix_path);
		free(m->unix_path);
	}
	free(m->addr);
	free(m);
}

/*
 * Move the endpoint to addr on reload.  The new address is bound first; if
 * it conflicts with the old one (same port), the old one is let go and the
 * new one tried again, and should that fail too, the old one comes back.
 */
void
metrics_reconfigure(struct metrics **mp, struct event_base *base,
    const char *addr, const struct daemon_hooks *hooks, struct buf *out)
{
	struct metrics	*m;
	char		 err[512], *old;

	if (*mp != NULL && strcmp((*mp)->addr, addr) == 0)
		return;
	old = *mp != NULL ? xstrdup((*mp)->addr) : NULL;
	if (*addr == '\0') {
		metrics_free(*mp);
		*mp = NULL;
		buf_printf(out, "metrics: off\n");
		free(old);
		return;
	}
	if ((m = metrics_new(base, addr, hooks, err, sizeof(err))) == NULL &&
	    *mp != NULL) {
		metrics_free(*mp);
		*mp = NULL;
		if ((m = metrics_new(base, addr, hooks, err, sizeof(err))) ==
		    NULL)
			*mp = metrics_new(base, old, hooks, err, sizeof(err));
	}
	if (m == NULL) {
		log_warnx("metrics: unable to move to %s; %s", addr,
		    *mp != NULL ? "kept the old address" : "now off");
		buf_printf(out, "metrics: unable to listen on %s\n", addr);
	} else {
		metrics_free(*mp);
		*mp = m;
		buf_printf(out, "metrics: listening on %s\n", addr);
	}
	free(old);
}

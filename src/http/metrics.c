/*
 * /metrics in the Prometheus text format (version 0.0.4): the HTTP server's counters summed
 * over reactors, and every reactor counter of the runtime labelled by reactor. Counters end in
 * _total, every family has its HELP and TYPE. Rendering allocates (one buffer per scrape); the
 * counting itself, in server.c, is a plain add on the reactor thread.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include <roost/stats.h>

#include "http/bytes.h"
#include "http/metrics.h"

#ifndef ROOST_VERSION
#define ROOST_VERSION "unknown"
#endif

static const uint64_t latency_bounds[] = {
#define ROOST_HTTP_BOUND_(ns) (uint64_t)(ns),
    ROOST_HTTP_LATENCY_BOUNDS(ROOST_HTTP_BOUND_)
#undef ROOST_HTTP_BOUND_
};

void http_count_latency_above_first(struct roost_http_counters *k, uint64_t ns)
{
    size_t i = 1;
    while (i < sizeof(latency_bounds) / sizeof(latency_bounds[0]) && ns > latency_bounds[i])
        i++;
    roost_http_count(&k->latency[i], 1);
    roost_http_count(&k->latency_sum_ns, ns);
}

static uint64_t load(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* The sums of every reactor's counters. */
static void sum_counters(const roost_http_server *s, unsigned n, struct roost_http_counters *t)
{
    *t = (struct roost_http_counters){0};
    for (unsigned i = 0; i < n; i++) {
        const struct roost_http_counters *k = http_server_counters(s, i);
        /* closed before accepted: a connection is counted accepted before it can close, so
         * the open gauge read this way never goes below zero */
        t->closed += load(&k->closed);
        t->accepted += load(&k->accepted);
        t->bytes_received += load(&k->bytes_received);
        t->bytes_sent += load(&k->bytes_sent);
        t->latency_sum_ns += load(&k->latency_sum_ns);
        for (size_t c = 0; c < 6; c++)
            t->responses[c] += load(&k->responses[c]);
        for (size_t b = 0; b < ROOST_HTTP_LATENCY_BUCKETS; b++)
            t->latency[b] += load(&k->latency[b]);
    }
}

struct out {
    struct roost_bytes b;
    int rc;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (o->rc == 0)
        o->rc = http_bytes_append(&o->b, line, (size_t)n < sizeof(line) ? (size_t)n : 0);
}

static void family(struct out *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void http_families(struct out *o, const struct roost_http_counters *t)
{
    family(o, "roost_http_requests_total", "counter",
           "HTTP responses sent, by status class (other: 600..999)");
    static const char *const cls[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (size_t c = 1; c <= 6; c++)
        put(o, "roost_http_requests_total{class=\"%s\"} %" PRIu64 "\n", cls[c % 6],
            t->responses[c % 6]);
    family(o, "roost_http_connections_open", "gauge", "HTTP connections open now");
    put(o, "roost_http_connections_open %" PRIu64 "\n",
        t->accepted > t->closed ? t->accepted - t->closed : 0);
    family(o, "roost_http_connections_accepted_total", "counter", "HTTP connections accepted");
    put(o, "roost_http_connections_accepted_total %" PRIu64 "\n", t->accepted);
    family(o, "roost_http_connections_closed_total", "counter", "HTTP connections closed");
    put(o, "roost_http_connections_closed_total %" PRIu64 "\n", t->closed);
    family(o, "roost_http_received_bytes_total", "counter", "bytes received on HTTP connections");
    put(o, "roost_http_received_bytes_total %" PRIu64 "\n", t->bytes_received);
    family(o, "roost_http_sent_bytes_total", "counter", "bytes sent on HTTP connections");
    put(o, "roost_http_sent_bytes_total %" PRIu64 "\n", t->bytes_sent);
    family(o, "roost_http_request_duration_seconds", "histogram",
           "time from a request's head to its response, handler and body included");
    uint64_t cum = 0;
    for (size_t b = 0; b < ROOST_HTTP_LATENCY_BUCKETS; b++) {
        cum += t->latency[b];
        if (b < ROOST_HTTP_LATENCY_BUCKETS - 1)
            put(o, "roost_http_request_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                (double)latency_bounds[b] / 1e9, cum);
        else
            put(o, "roost_http_request_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
    }
    put(o, "roost_http_request_duration_seconds_sum %.9f\n", (double)t->latency_sum_ns / 1e9);
    put(o, "roost_http_request_duration_seconds_count %" PRIu64 "\n", cum);
}

static void reactor_families(struct out *o, roost_runtime *rt)
{
    unsigned n = roost_runtime_reactor_count(rt);
    struct roost_stats s;
#define ROOST_METRIC_(name, help)                                                                  \
    family(o, "roost_" #name "_total", "counter", help);                                           \
    for (unsigned i = 0; i < n; i++) {                                                             \
        roost_reactor_stats(roost_runtime_reactor(rt, i), &s);                                     \
        put(o, "roost_" #name "_total{reactor=\"%u\"} %" PRIu64 "\n", i, (uint64_t)s.name);        \
    }
    ROOST_STATS_FIELDS(ROOST_METRIC_)
#undef ROOST_METRIC_
}

int roost_http_metrics(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)arg;
    const roost_http_server *s = http_req_server(req);
    roost_runtime *rt = http_server_runtime(s);
    struct out o = {0};
    family(&o, "roost_build_info", "gauge", "the roost library serving, by version");
    put(&o, "roost_build_info{version=\"%s\"} 1\n", ROOST_VERSION);
    struct roost_http_counters t;
    sum_counters(s, roost_runtime_reactor_count(rt), &t);
    http_families(&o, &t);
    reactor_families(&o, rt);
    int rc = o.rc;
    if (rc == 0)
        rc = roost_http_res_header(res, "Content-Type", "text/plain; version=0.0.4");
    if (rc == 0)
        rc = roost_http_res_body(res, o.b.p, o.b.len);
    http_bytes_free(&o.b);
    return rc;
}

/* Internal: the HTTP server's per-reactor counters and what /metrics reads from the server. */
#ifndef ROOST_HTTP_METRICS_H
#define ROOST_HTTP_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include <roost/http.h>

/* Upper bounds of the request latency histogram, in nanoseconds; a last bucket is +Inf. */
#define ROOST_HTTP_LATENCY_FIRST_BOUND 100000
#define ROOST_HTTP_LATENCY_BOUNDS(X)                                                               \
    X(ROOST_HTTP_LATENCY_FIRST_BOUND)                                                              \
    X(250000)                                                                                      \
    X(500000)                                                                                      \
    X(1000000)                                                                                     \
    X(2500000)                                                                                     \
    X(5000000) X(10000000) X(25000000) X(50000000) X(100000000) X(250000000) X(500000000)          \
        X(1000000000) X(2500000000) X(5000000000) X(10000000000)
#define ROOST_HTTP_COUNT_BOUND_(ns) +1
#define ROOST_HTTP_LATENCY_BUCKETS (0 ROOST_HTTP_LATENCY_BOUNDS(ROOST_HTTP_COUNT_BOUND_) + 1)

/*
 * One reactor's counters. Written only on that reactor's thread, with a relaxed load and
 * store (a plain add on x86, and TSan-clean); /metrics reads them from any thread.
 */
struct roost_http_counters {
    _Atomic uint64_t responses[6]; /* by status class: [1] 1xx .. [5] 5xx, [0] 600..999 */
    _Atomic uint64_t accepted, closed;
    _Atomic uint64_t bytes_received, bytes_sent;
    _Atomic uint64_t latency[ROOST_HTTP_LATENCY_BUCKETS]; /* per bucket, not cumulative */
    _Atomic uint64_t latency_sum_ns;
};

static inline void roost_http_count(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline void roost_http_count_status(struct roost_http_counters *k, int status)
{
    roost_http_count(&k->responses[status >= 100 && status < 600 ? status / 100 : 0], 1);
}

void http_count_latency_above_first(struct roost_http_counters *k, uint64_t ns);

/* Adds one request that took ns from its head to its response to the histogram: inline for
 * the first bucket, where a request answered within its reactor tick falls. */
static inline void http_count_latency(struct roost_http_counters *k, uint64_t ns)
{
    if (ns > ROOST_HTTP_LATENCY_FIRST_BOUND) {
        http_count_latency_above_first(k, ns);
        return;
    }
    roost_http_count(&k->latency[0], 1);
    roost_http_count(&k->latency_sum_ns, ns);
}

/* The server a request arrived at, and that server's counters of reactor i (i below
 * roost_runtime_reactor_count of its runtime). */
roost_http_server *http_req_server(const roost_http_req *req);
roost_runtime *http_server_runtime(const roost_http_server *s);
const struct roost_http_counters *http_server_counters(const roost_http_server *s, unsigned i);

/* Bytes the request's connection holds for its input: the input buffer's capacity plus the
 * receive buffer a streamed body has borrowed (tests bound it under backpressure). */
size_t http_req_buffered(const roost_http_req *req);

#endif

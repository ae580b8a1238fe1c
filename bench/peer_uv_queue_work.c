/*
 * peer_uv_queue_work: bench_task's libuv peer for the offload figures (issue 3). The same
 * flags and output lines, done as a libuv user offloads work:
 *
 *   peer_uv_queue_work [--offloads N] [--concurrency K] [--pool-threads N]
 *
 * libuv's threadpool gets --pool-threads workers (default 2, like bench_task's roost pool):
 * UV_THREADPOOL_SIZE is set to it before the first uv_queue_work, which is when libuv reads
 * it. The loop runs on the main thread.
 *
 * (a) sequential: one chain of --offloads uv_queue_work calls of a work_cb that does nothing;
 *     each after_work_cb records the round trip (submit to after_work_cb) and submits the
 *     next one.
 * (b) concurrent: --concurrency such chains share --offloads offloads; the clock runs from
 *     the first submission until uv_run returns with every chain done.
 *
 * Output: one "name value" line per figure, '#' lines are comments. CPU figures are the whole
 * process's (getrusage) divided by the operations.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "bench_util.h"

#define WARMUP_OFFLOADS 1000u
#define WARMUP_CONCURRENT_EACH 10u

struct opts {
    uint64_t offloads;
    unsigned concurrency;
    unsigned pool_threads;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: peer_uv_queue_work [--offloads N] [--concurrency K] [--pool-threads N]\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    o->offloads = 200000;
    o->concurrency = 64;
    o->pool_threads = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "peer_uv_queue_work: %s needs a value\n", a);
            return -EINVAL;
        }
        const char *v = argv[++i];
        uint64_t n = 0;
        int rc = 0;
        if (!strcmp(a, "--offloads")) {
            rc = parse_u64(v, 1, UINT64_C(1) << 28, &o->offloads);
        } else if (!strcmp(a, "--concurrency")) {
            rc = parse_u64(v, 1, 100000, &n);
            o->concurrency = (unsigned)n;
        } else if (!strcmp(a, "--pool-threads")) {
            /* libuv caps its pool at 1024 (MAX_THREADPOOL_SIZE). */
            rc = parse_u64(v, 1, 256, &n);
            o->pool_threads = (unsigned)n;
        } else {
            fprintf(stderr, "peer_uv_queue_work: unknown option %s\n", a);
            usage(stderr);
            return -EINVAL;
        }
        if (rc < 0) {
            fprintf(stderr, "peer_uv_queue_work: bad value for %s: %s\n", a, v);
            return rc;
        }
    }
    return 0;
}

/* ---- a chain of sequential offloads ----------------------------------------------------- */

struct chain {
    uv_work_t req; /* first member: after_work gets back to the chain from it */
    uv_loop_t *loop;
    uint64_t done;
    uint64_t n;
    uint64_t submitted_ns;
    uint64_t *lat; /* n round trips, or NULL: not recorded */
    int rc;
};

static void nop_work(uv_work_t *req)
{
    (void)req;
}

static void after_work(uv_work_t *req, int status);

static int submit(struct chain *c)
{
    if (c->lat)
        c->submitted_ns = now_ns();
    return uv_queue_work(c->loop, &c->req, nop_work, after_work);
}

/* On the loop thread: the round trip ends here, and the next offload of the chain starts. */
static void after_work(uv_work_t *req, int status)
{
    struct chain *c = (struct chain *)req;
    if (c->lat)
        c->lat[c->done] = now_ns() - c->submitted_ns;
    if (status != 0) {
        c->rc = status;
        return;
    }
    if (++c->done == c->n)
        return;
    int rc = submit(c);
    if (rc != 0)
        c->rc = rc;
}

/*
 * Starts k chains sharing total offloads (lat: record chain 0's round trips, k must be 1)
 * and runs the loop until all are done. Returns 0 or a libuv error.
 */
static int run_chains(uv_loop_t *loop, unsigned k, uint64_t total, struct chain *chains,
                      uint64_t *lat)
{
    int rc = 0;
    for (unsigned i = 0; i < k; i++) {
        struct chain *c = &chains[i];
        memset(c, 0, sizeof(*c));
        c->loop = loop;
        c->n = total / k + (i < total % k);
        c->lat = lat;
        if (c->n == 0)
            continue;
        rc = submit(c);
        if (rc != 0) {
            fprintf(stderr, "peer_uv_queue_work: uv_queue_work: %s\n", uv_strerror(rc));
            break;
        }
    }
    /* Even after a failed submit: the chains already started must finish. */
    int rrc = uv_run(loop, UV_RUN_DEFAULT);
    if (rrc != 0 && rc == 0) {
        fprintf(stderr, "peer_uv_queue_work: uv_run left %d active handles\n", rrc);
        rc = UV_EBUSY;
    }
    for (unsigned i = 0; i < k && rc == 0; i++) {
        if (chains[i].rc != 0) {
            fprintf(stderr, "peer_uv_queue_work: chain %u: %s\n", i, uv_strerror(chains[i].rc));
            rc = chains[i].rc;
        } else if (chains[i].done != chains[i].n) {
            fprintf(stderr, "peer_uv_queue_work: chain %u stopped early\n", i);
            rc = UV_EPROTO;
        }
    }
    return rc;
}

static int run_sequential(uv_loop_t *loop, uint64_t n)
{
    struct chain c;
    uint64_t *lat = calloc(n, sizeof(*lat));
    if (!lat)
        return UV_ENOMEM;
    memset(lat, 0, n * sizeof(*lat)); /* touch it before the clock runs */
    int rc = run_chains(loop, 1, WARMUP_OFFLOADS, &c, NULL);
    if (rc != 0)
        goto out;

    uint64_t cpu0 = process_cpu_ns();
    uint64_t t0 = now_ns();
    rc = run_chains(loop, 1, n, &c, lat);
    uint64_t t1 = now_ns();
    uint64_t cpu1 = process_cpu_ns();
    if (rc != 0)
        goto out;
    print_latency("offload_roundtrip", lat, n);
    print_rate("offload_seq", n, t1 - t0, cpu1 - cpu0);
out:
    free(lat);
    return rc;
}

static int run_concurrent(uv_loop_t *loop, unsigned k, uint64_t n)
{
    struct chain *chains = calloc(k, sizeof(*chains));
    if (!chains)
        return UV_ENOMEM;
    int rc = run_chains(loop, k, (uint64_t)k * WARMUP_CONCURRENT_EACH, chains, NULL);
    if (rc != 0)
        goto out;

    uint64_t cpu0 = process_cpu_ns();
    uint64_t t0 = now_ns();
    rc = run_chains(loop, k, n, chains, NULL);
    uint64_t t1 = now_ns();
    uint64_t cpu1 = process_cpu_ns();
    if (rc != 0)
        goto out;
    print_rate("offload_concurrent", n, t1 - t0, cpu1 - cpu0);
out:
    free(chains);
    return rc;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse_args(argc, argv, &o) < 0)
        return 2;

    /* Read by libuv once, when its threadpool starts (the first uv_queue_work). */
    char threads[16];
    snprintf(threads, sizeof(threads), "%u", o.pool_threads);
    if (setenv("UV_THREADPOOL_SIZE", threads, 1) != 0) {
        perror("peer_uv_queue_work: setenv");
        return 1;
    }
    printf("# peer_uv_queue_work offloads=%" PRIu64 " concurrency=%u pool_threads=%u libuv=%s\n",
           o.offloads, o.concurrency, o.pool_threads, uv_version_string());
    fflush(stdout);

    uv_loop_t loop;
    int rc = uv_loop_init(&loop);
    if (rc != 0) {
        fprintf(stderr, "peer_uv_queue_work: uv_loop_init: %s\n", uv_strerror(rc));
        return 1;
    }
    rc = run_sequential(&loop, o.offloads);
    fflush(stdout);
    if (rc == 0)
        rc = run_concurrent(&loop, o.concurrency, o.offloads);
    fflush(stdout);

    int crc = uv_loop_close(&loop);
    if (crc != 0) {
        fprintf(stderr, "peer_uv_queue_work: uv_loop_close: %s\n", uv_strerror(crc));
        if (rc == 0)
            rc = crc;
    }
    return rc != 0 ? 1 : 0;
}

/*
 * bench_post: cross-thread post throughput and round-trip latency from plain threads to one
 * reactor (issue 2). Its libuv peer is bench/peer_uv_post.c; bench/run_post.sh runs both.
 *
 *   bench_post [--wake coalesced|per-item] [--producers N] [--items N] [--roundtrips N]
 *              [--loop-cpu CPU] [--client-cpu CPU]
 *
 * (a) throughput: each producer posts --items items with roost_ctx_post (allocating, as a
 *     user would); each item increments a counter on the reactor. The clock stops when a
 *     roost_ctx_send barrier from the main thread, posted after every producer was joined and
 *     so linked behind all their items, has run. Then again with roost_ctx_post_work and a
 *     preallocated struct roost_work array.
 * (b) round trip: the main thread makes --roundtrips sequential roost_ctx_send calls of a
 *     function that only returns the CPU it runs on, timing each with clock_gettime.
 *
 * Output: one "name value" line per figure, '#' lines are comments. CPU figures: the whole
 * process (getrusage) and the reactor thread alone (CLOCK_THREAD_CPUTIME_ID, read on it).
 */
#define _GNU_SOURCE /* pthread_setaffinity_np */
#include <errno.h>
#include <sched.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <roost/config.h>
#include <roost/ctx.h>
#include <roost/reactor.h>
#include <roost/runtime.h>
#include <roost/stats.h>

#include "bench_util.h"

#define WARMUP_ROUNDTRIPS 1000u

struct opts {
    const char *wake;
    unsigned producers;
    uint64_t items;
    uint64_t roundtrips;
    int loop_cpu;   /* -1: not pinned */
    int client_cpu; /* producers and the round-trip caller; -1: not pinned */
};

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_post [--wake coalesced|per-item] [--producers N] [--items N] "
               "[--roundtrips N]\n"
               "       [--loop-cpu CPU] [--client-cpu CPU]\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    o->wake = "coalesced";
    o->producers = 1;
    o->items = 2000000;
    o->roundtrips = 200000;
    o->loop_cpu = -1;
    o->client_cpu = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "bench_post: %s needs a value\n", a);
            return -EINVAL;
        }
        const char *v = argv[++i];
        uint64_t n = 0;
        int rc = 0;
        if (!strcmp(a, "--wake")) {
            o->wake = v;
        } else if (!strcmp(a, "--producers")) {
            rc = parse_u64(v, 1, 64, &n);
            o->producers = (unsigned)n;
        } else if (!strcmp(a, "--items")) {
            rc = parse_u64(v, 1, UINT64_C(1) << 32, &o->items);
        } else if (!strcmp(a, "--roundtrips")) {
            rc = parse_u64(v, 1, UINT64_C(1) << 28, &o->roundtrips);
        } else if (!strcmp(a, "--loop-cpu")) {
            rc = parse_u64(v, 0, CPU_SETSIZE - 1, &n);
            o->loop_cpu = (int)n;
        } else if (!strcmp(a, "--client-cpu")) {
            rc = parse_u64(v, 0, CPU_SETSIZE - 1, &n);
            o->client_cpu = (int)n;
        } else {
            fprintf(stderr, "bench_post: unknown option %s\n", a);
            usage(stderr);
            return -EINVAL;
        }
        if (rc < 0) {
            fprintf(stderr, "bench_post: bad value for %s: %s\n", a, v);
            return rc;
        }
    }
    return 0;
}

/* The reactor's counters now; documented to return 0, so anything else is a broken build. */
static void snapshot(const roost_reactor *r, struct roost_stats *out)
{
    int rc = roost_reactor_stats(r, out);
    if (rc != 0) {
        fprintf(stderr, "bench_post: roost_reactor_stats: %s\n", strerror(-rc));
        exit(1);
    }
}

/* ---- work run on the reactor ------------------------------------------------------------ */

/* Reactor-thread state; main reads it only through roost_ctx_send. */
struct sink {
    uint64_t counter;
};

static int count_item(void *arg)
{
    struct sink *s = arg;
    s->counter++;
    return 0;
}

static int pin_run(void *arg)
{
    return pin_self(*(const int *)arg);
}

/* The round trip's function: returns the CPU the reactor ran it on. */
static int where(void *arg)
{
    (void)arg;
    int cpu = sched_getcpu();
    return cpu >= 0 ? cpu : -errno;
}

struct probe {
    struct sink *sink;
    uint64_t counter;
    uint64_t thread_cpu_ns;
};

/* The barrier: copies the counter and the reactor thread's CPU time out. */
static int probe_run(void *arg)
{
    struct probe *p = arg;
    int rc = clock_ns(CLOCK_THREAD_CPUTIME_ID, &p->thread_cpu_ns);
    if (rc < 0)
        return rc;
    p->counter = p->sink->counter;
    return 0;
}

static int probe(roost_ctx *ctx, struct sink *sink, struct probe *out)
{
    out->sink = sink;
    int rc = roost_ctx_send(ctx, probe_run, out);
    if (rc < 0)
        fprintf(stderr, "bench_post: roost_ctx_send: %s\n", strerror(-rc));
    return rc;
}

/* ---- producers ------------------------------------------------------------------------- */

struct producer {
    pthread_t thread;
    roost_ctx *ctx;
    pthread_barrier_t *start;
    struct sink *sink;
    uint64_t items;
    struct roost_work *works; /* NULL: roost_ctx_post */
    int rc;
};

static void *producer_main(void *arg)
{
    struct producer *p = arg;
    int brc = barrier_wait(p->start);
    if (brc < 0) {
        p->rc = brc;
        return NULL;
    }
    if (p->works) {
        for (uint64_t i = 0; i < p->items; i++) {
            int rc = roost_ctx_post_work(p->ctx, &p->works[i]);
            if (rc < 0) {
                p->rc = rc;
                return NULL;
            }
        }
    } else {
        for (uint64_t i = 0; i < p->items; i++) {
            int rc = roost_ctx_post(p->ctx, count_item, p->sink);
            if (rc < 0) {
                p->rc = rc;
                return NULL;
            }
        }
    }
    return NULL;
}

struct phase {
    uint64_t items;
    uint64_t elapsed_ns;
    uint64_t process_cpu_ns;
    uint64_t reactor_cpu_ns;
    struct roost_stats before, after;
};

/* One throughput run: every producer posts opts->items items; zero_alloc picks the API. */
static int run_throughput(roost_reactor *r, const struct opts *o, bool zero_alloc, struct phase *ph)
{
    roost_ctx *ctx = roost_reactor_ctx(r);
    struct sink sink = {0};
    struct producer *ps = calloc(o->producers, sizeof(*ps));
    struct roost_work *works = NULL;
    pthread_barrier_t start;
    unsigned created = 0;
    int rc = -ENOMEM;

    if (!ps)
        goto out;
    if (zero_alloc) {
        works = calloc(o->producers * o->items, sizeof(*works));
        if (!works)
            goto out_ps;
        for (uint64_t i = 0; i < o->producers * o->items; i++) {
            works[i].fn = count_item;
            works[i].arg = &sink;
        }
    }
    rc = -pthread_barrier_init(&start, NULL, o->producers + 1);
    if (rc < 0)
        goto out_works;

    struct probe p0, p1;
    rc = probe(ctx, &sink, &p0);
    if (rc < 0)
        goto out_barrier;
    snapshot(r, &ph->before);
    uint64_t cpu0 = process_cpu_ns();

    for (; created < o->producers; created++) {
        struct producer *p = &ps[created];
        p->ctx = ctx;
        p->start = &start;
        p->sink = &sink;
        p->items = o->items;
        p->works = works ? works + created * o->items : NULL;
        rc = -pthread_create(&p->thread, NULL, producer_main, p);
        if (rc < 0) {
            /* The barrier counts on every producer: without one, nobody could pass it. */
            fprintf(stderr, "bench_post: pthread_create: %s\n", strerror(-rc));
            exit(1);
        }
    }
    int brc = barrier_wait(&start);
    if (brc < 0) {
        fprintf(stderr, "bench_post: pthread_barrier_wait: %s\n", strerror(-brc));
        exit(1);
    }
    uint64_t t0 = now_ns();
    rc = 0;
    for (unsigned i = 0; i < created; i++) {
        int jrc = pthread_join(ps[i].thread, NULL);
        if (jrc != 0) {
            fprintf(stderr, "bench_post: pthread_join: %s\n", strerror(jrc));
            exit(1);
        }
        if (ps[i].rc < 0) {
            fprintf(stderr, "bench_post: producer %u: %s\n", i, strerror(-ps[i].rc));
            rc = ps[i].rc;
        }
    }
    /* Posted after every producer's last item, so FIFO puts it behind all of them. */
    int prc = probe(ctx, &sink, &p1);
    uint64_t t1 = now_ns();
    uint64_t cpu1 = process_cpu_ns();
    snapshot(r, &ph->after);
    if (rc == 0)
        rc = prc;
    if (rc < 0)
        goto out_barrier;

    ph->items = (uint64_t)o->producers * o->items;
    if (p1.counter != ph->items) {
        fprintf(stderr, "bench_post: reactor ran %" PRIu64 " items, expected %" PRIu64 "\n",
                p1.counter, ph->items);
        rc = -EPROTO;
        goto out_barrier;
    }
    ph->elapsed_ns = t1 - t0;
    ph->process_cpu_ns = cpu1 - cpu0;
    ph->reactor_cpu_ns = p1.thread_cpu_ns - p0.thread_cpu_ns;

out_barrier:
    if (pthread_barrier_destroy(&start) != 0 && rc == 0)
        rc = -EBUSY;
out_works:
    free(works);
out_ps:
    free(ps);
out:
    return rc;
}

static int run_roundtrips(roost_reactor *r, const struct opts *o)
{
    roost_ctx *ctx = roost_reactor_ctx(r);
    uint64_t *lat = malloc(o->roundtrips * sizeof(*lat));
    if (!lat)
        return -ENOMEM;
    int rc = 0;
    for (unsigned i = 0; i < WARMUP_ROUNDTRIPS && rc >= 0; i++)
        rc = roost_ctx_send(ctx, where, NULL);

    uint64_t same_cpu = 0;
    struct roost_stats before, after;
    snapshot(r, &before);
    uint64_t cpu0 = process_cpu_ns();
    for (uint64_t i = 0; i < o->roundtrips && rc >= 0; i++) {
        uint64_t t0 = now_ns();
        rc = roost_ctx_send(ctx, where, NULL);
        lat[i] = now_ns() - t0;
        same_cpu += rc >= 0 && rc == sched_getcpu();
    }
    uint64_t cpu1 = process_cpu_ns();
    snapshot(r, &after);
    if (rc > 0)
        rc = 0;
    if (rc < 0) {
        fprintf(stderr, "bench_post: roost_ctx_send: %s\n", strerror(-rc));
        free(lat);
        return rc;
    }
    print_latency("roundtrip", lat, o->roundtrips);
    printf("roundtrip_cpu_ns_per_call %.0f\n", (double)(cpu1 - cpu0) / (double)o->roundtrips);
    printf("roundtrip_wakes_per_call %.4f\n",
           (double)(after.wakes_written - before.wakes_written) / (double)o->roundtrips);
    printf("roundtrip_same_cpu_fraction %.4f\n", (double)same_cpu / (double)o->roundtrips);
    free(lat);
    return 0;
}

static void print_phase(const char *prefix, const struct phase *ph)
{
    print_throughput(prefix, ph->items, ph->elapsed_ns, ph->process_cpu_ns, ph->reactor_cpu_ns);
}

static void print_counts(const char *prefix, const struct phase *ph)
{
    double items = (double)ph->items;
    printf("%swakes_per_item %.6f\n", prefix,
           (double)(ph->after.wakes_written - ph->before.wakes_written) / items);
    printf("%senters_per_item %.6f\n", prefix,
           (double)(ph->after.enters - ph->before.enters) / items);
    printf("%sticks_per_item %.6f\n", prefix, (double)(ph->after.ticks - ph->before.ticks) / items);
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse_args(argc, argv, &o) < 0)
        return 2;

    struct roost_config cfg;
    roost_config_init(&cfg);
    const char *bad = NULL;
    int rc = roost_config_from_env(&cfg, &bad);
    if (rc < 0) {
        fprintf(stderr, "bench_post: %s: %s\n", bad ? bad : "environment", strerror(-rc));
        return 2;
    }
    rc = roost_config_set(&cfg, "wake", o.wake);
    if (rc < 0) {
        fprintf(stderr, "bench_post: --wake %s: %s\n", o.wake, strerror(-rc));
        return 2;
    }
    cfg.reactors = 1;

    roost_runtime *rt;
    rc = roost_runtime_start(&cfg, &rt);
    if (rc < 0) {
        fprintf(stderr, "bench_post: roost_runtime_start: %s\n", strerror(-rc));
        return 1;
    }
    roost_reactor *r = roost_runtime_reactor(rt, 0);
    /* The reactor first: it was created before main pins itself (and so its producers). */
    rc = roost_ctx_send(roost_reactor_ctx(r), pin_run, &o.loop_cpu);
    if (rc == 0)
        rc = pin_self(o.client_cpu);
    if (rc < 0) {
        fprintf(stderr, "bench_post: pinning: %s\n", strerror(-rc));
        roost_runtime_destroy(rt);
        return 1;
    }
    printf("# bench_post wake=%s producers=%u items=%" PRIu64 " roundtrips=%" PRIu64
           " loop_cpu=%d client_cpu=%d ring=%s\n",
           roost_wake_name(roost_runtime_config(rt)->wake), o.producers, o.items, o.roundtrips,
           o.loop_cpu, o.client_cpu, roost_reactor_ring_mode(r));

    struct phase post = {0}, work = {0};
    rc = run_throughput(r, &o, false, &post);
    if (rc == 0)
        rc = run_throughput(r, &o, true, &work);
    if (rc == 0) {
        print_phase("post", &post);
        print_phase("post_work", &work);
        print_counts("", &post);
        print_counts("post_work_", &work);
        rc = run_roundtrips(r, &o);
    }
    fflush(stdout);

    int src = roost_runtime_stop(rt);
    if (src < 0) {
        fprintf(stderr, "bench_post: roost_runtime_stop: %s\n", strerror(-src));
        if (rc == 0)
            rc = src;
    }
    roost_runtime_destroy(rt);
    return rc < 0 ? 1 : 0;
}

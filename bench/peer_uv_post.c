/*
 * peer_uv_post: bench_post's libuv peer (issue 2). The same two measurements, flags and
 * output, done as libuv users post to a loop thread:
 *
 *   a uv loop thread owns a uv_async_t; a producer locks a pthread mutex, appends a malloc'd
 *   item to an intrusive queue, unlocks and calls uv_async_send; the async callback swaps the
 *   whole queue out under the mutex and runs the items (each frees itself).
 *
 *   peer_uv_post [--producers N] [--items N] [--roundtrips N] [--loop-cpu CPU]
 *                [--client-cpu CPU]
 *
 * (a) throughput: each producer posts --items items; each increments a counter on the loop
 *     thread. The clock stops when a round-trip barrier from the main thread, queued after
 *     every producer was joined and so behind all their items, has run.
 * (b) round trip: the main thread makes --roundtrips sequential calls, each pushing an item
 *     on its stack and waiting on a per-call semaphore that the loop posts after running it.
 *
 * libuv has no zero-allocation variant here and no wake counter; uv_async_cbs_per_item (async
 * callbacks run per item) is the nearest figure: uv_async_send writes the eventfd only when
 * the handle was not already pending, so writes are about one per callback.
 */
#define _GNU_SOURCE /* pthread_setaffinity_np */
#include <errno.h>
#include <sched.h>
#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "bench_util.h"

#define WARMUP_ROUNDTRIPS 1000u

struct opts {
    unsigned producers;
    uint64_t items;
    uint64_t roundtrips;
    int loop_cpu;   /* -1: not pinned */
    int client_cpu; /* producers and the round-trip caller; -1: not pinned */
};

static void usage(FILE *f)
{
    fprintf(f, "usage: peer_uv_post [--producers N] [--items N] [--roundtrips N]\n"
               "       [--loop-cpu CPU] [--client-cpu CPU]\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
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
            fprintf(stderr, "peer_uv_post: %s needs a value\n", a);
            return -EINVAL;
        }
        const char *v = argv[++i];
        uint64_t n = 0;
        int rc = 0;
        if (!strcmp(a, "--producers")) {
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
            fprintf(stderr, "peer_uv_post: unknown option %s\n", a);
            usage(stderr);
            return -EINVAL;
        }
        if (rc < 0) {
            fprintf(stderr, "peer_uv_post: bad value for %s: %s\n", a, v);
            return rc;
        }
    }
    return 0;
}

/* ---- the poster: a loop thread, its async handle and the mutex-guarded queue ------------ */

struct item;
/* Runs on the loop thread and owns the item from then on (frees or signals it). */
typedef void (*item_fn)(struct item *it);

struct item {
    struct item *next;
    item_fn fn;
    void *arg;
};

struct poster {
    uv_loop_t loop;
    uv_async_t async;
    pthread_t thread;
    pthread_mutex_t lock;
    struct item *head; /* under lock */
    struct item **tailp;
    /* Loop-thread only. */
    uint64_t counter;
    uint64_t callbacks;
};

static void on_async(uv_async_t *h)
{
    struct poster *p = h->data;
    int rc = pthread_mutex_lock(&p->lock);
    if (rc != 0) {
        fprintf(stderr, "peer_uv_post: pthread_mutex_lock: %s\n", strerror(rc));
        abort();
    }
    struct item *batch = p->head;
    p->head = NULL;
    p->tailp = &p->head;
    rc = pthread_mutex_unlock(&p->lock);
    if (rc != 0) {
        fprintf(stderr, "peer_uv_post: pthread_mutex_unlock: %s\n", strerror(rc));
        abort();
    }
    p->callbacks++;
    while (batch) {
        struct item *next = batch->next; /* fn may free batch */
        batch->fn(batch);
        batch = next;
    }
}

static int post(struct poster *p, struct item *it)
{
    it->next = NULL;
    int rc = pthread_mutex_lock(&p->lock);
    if (rc != 0)
        return -rc;
    *p->tailp = it;
    p->tailp = &it->next;
    rc = pthread_mutex_unlock(&p->lock);
    if (rc != 0)
        return -rc;
    return uv_async_send(&p->async);
}

static void *loop_main(void *arg)
{
    struct poster *p = arg;
    int rc = uv_run(&p->loop, UV_RUN_DEFAULT);
    if (rc != 0)
        fprintf(stderr, "peer_uv_post: uv_run returned %d with handles still active\n", rc);
    return NULL;
}

static int poster_start(struct poster *p)
{
    memset(p, 0, sizeof(*p));
    p->tailp = &p->head;
    int rc = -pthread_mutex_init(&p->lock, NULL);
    if (rc < 0)
        return rc;
    rc = uv_loop_init(&p->loop);
    if (rc < 0)
        goto fail_mutex;
    rc = uv_async_init(&p->loop, &p->async, on_async);
    if (rc < 0)
        goto fail_loop;
    p->async.data = p;
    /* The loop is handed to its thread here: from now on only that thread touches it. */
    rc = -pthread_create(&p->thread, NULL, loop_main, p);
    if (rc < 0)
        goto fail_async;
    return 0;

fail_async:
    uv_close((uv_handle_t *)&p->async, NULL);
    (void)uv_run(&p->loop, UV_RUN_DEFAULT);
fail_loop:
    (void)uv_loop_close(&p->loop);
fail_mutex:
    (void)pthread_mutex_destroy(&p->lock);
    return rc;
}

/* ---- a synchronous call: the round trip and the barrier ------------------------------ */

struct call {
    struct item item;
    void (*fn)(struct poster *p, void *arg);
    void *arg;
    struct poster *poster;
    sem_t done;
};

static void call_run(struct item *it)
{
    struct call *c = (struct call *)((char *)it - offsetof(struct call, item));
    c->fn(c->poster, c->arg);
    /* The caller may return (its stack frame holding *c die) as soon as it wakes. */
    if (sem_post(&c->done) != 0) {
        perror("peer_uv_post: sem_post");
        abort();
    }
}

/* Runs fn(p, arg) on the loop thread and waits until it has run. */
static int call(struct poster *p, void (*fn)(struct poster *, void *), void *arg)
{
    struct call c = {.item = {.fn = call_run}, .fn = fn, .arg = arg, .poster = p};
    if (sem_init(&c.done, 0, 0) != 0)
        return -errno;
    int rc = post(p, &c.item);
    if (rc < 0) {
        /* Only uv_async_send can fail after the link, and it never does on Linux. */
        fprintf(stderr, "peer_uv_post: post: %s\n", uv_strerror(rc));
        abort();
    }
    while (sem_wait(&c.done) != 0) {
        if (errno != EINTR) {
            rc = -errno;
            break;
        }
    }
    if (sem_destroy(&c.done) != 0 && rc == 0)
        rc = -errno;
    return rc;
}

struct pin {
    int cpu;
    int rc;
};

static void pin_run(struct poster *p, void *arg)
{
    (void)p;
    struct pin *pin = arg;
    pin->rc = pin_self(pin->cpu);
}

static void stop_run(struct poster *p, void *arg)
{
    (void)arg;
    uv_close((uv_handle_t *)&p->async, NULL);
}

static int poster_stop(struct poster *p)
{
    int rc = call(p, stop_run, NULL);
    if (rc < 0)
        return rc;
    rc = -pthread_join(p->thread, NULL);
    if (rc < 0)
        return rc;
    rc = uv_loop_close(&p->loop);
    int mrc = -pthread_mutex_destroy(&p->lock);
    return rc < 0 ? rc : mrc;
}

struct probe {
    uint64_t counter;
    uint64_t callbacks;
    uint64_t thread_cpu_ns;
};

static void probe_run(struct poster *p, void *arg)
{
    struct probe *pr = arg;
    if (clock_ns(CLOCK_THREAD_CPUTIME_ID, &pr->thread_cpu_ns) < 0) {
        perror("peer_uv_post: clock_gettime");
        abort();
    }
    pr->counter = p->counter;
    pr->callbacks = p->callbacks;
}

/* ---- producers ------------------------------------------------------------------------- */

static void count_item(struct item *it)
{
    struct poster *p = it->arg;
    p->counter++;
    free(it);
}

struct producer {
    pthread_t thread;
    struct poster *poster;
    pthread_barrier_t *start;
    uint64_t items;
    int rc;
};

static void *producer_main(void *arg)
{
    struct producer *pr = arg;
    int brc = barrier_wait(pr->start);
    if (brc < 0) {
        pr->rc = brc;
        return NULL;
    }
    for (uint64_t i = 0; i < pr->items; i++) {
        struct item *it = malloc(sizeof(*it));
        if (!it) {
            pr->rc = -ENOMEM;
            return NULL;
        }
        it->fn = count_item;
        it->arg = pr->poster;
        int rc = post(pr->poster, it);
        if (rc < 0) {
            pr->rc = rc;
            return NULL;
        }
    }
    return NULL;
}

static int run_throughput(struct poster *p, const struct opts *o)
{
    struct producer *ps = calloc(o->producers, sizeof(*ps));
    if (!ps)
        return -ENOMEM;
    pthread_barrier_t start;
    int rc = -pthread_barrier_init(&start, NULL, o->producers + 1);
    if (rc < 0)
        goto out_ps;

    struct probe p0, p1;
    rc = call(p, probe_run, &p0);
    if (rc < 0)
        goto out_barrier;
    uint64_t cpu0 = process_cpu_ns();
    for (unsigned i = 0; i < o->producers; i++) {
        ps[i].poster = p;
        ps[i].start = &start;
        ps[i].items = o->items;
        rc = -pthread_create(&ps[i].thread, NULL, producer_main, &ps[i]);
        if (rc < 0) {
            /* The barrier counts on every producer: without one, nobody could pass it. */
            fprintf(stderr, "peer_uv_post: pthread_create: %s\n", strerror(-rc));
            exit(1);
        }
    }
    int brc = barrier_wait(&start);
    if (brc < 0) {
        fprintf(stderr, "peer_uv_post: pthread_barrier_wait: %s\n", strerror(-brc));
        exit(1);
    }
    uint64_t t0 = now_ns();
    for (unsigned i = 0; i < o->producers; i++) {
        int jrc = pthread_join(ps[i].thread, NULL);
        if (jrc != 0) {
            fprintf(stderr, "peer_uv_post: pthread_join: %s\n", strerror(jrc));
            exit(1);
        }
        if (ps[i].rc < 0) {
            fprintf(stderr, "peer_uv_post: producer %u: %s\n", i, strerror(-ps[i].rc));
            rc = ps[i].rc;
        }
    }
    /* Queued after every producer's last item, so it runs behind all of them. */
    int prc = call(p, probe_run, &p1);
    uint64_t t1 = now_ns();
    uint64_t cpu1 = process_cpu_ns();
    if (rc == 0)
        rc = prc;
    if (rc < 0)
        goto out_barrier;

    uint64_t items = (uint64_t)o->producers * o->items;
    if (p1.counter - p0.counter != items) {
        fprintf(stderr, "peer_uv_post: loop ran %" PRIu64 " items, expected %" PRIu64 "\n",
                p1.counter - p0.counter, items);
        rc = -EPROTO;
        goto out_barrier;
    }
    print_throughput("post", items, t1 - t0, cpu1 - cpu0, p1.thread_cpu_ns - p0.thread_cpu_ns);
    /* The two probes' own callbacks are not the producers'. */
    printf("uv_async_cbs_per_item %.6f\n",
           (double)(p1.callbacks - p0.callbacks - 1) / (double)items);

out_barrier:
    if (pthread_barrier_destroy(&start) != 0 && rc == 0)
        rc = -EBUSY;
out_ps:
    free(ps);
    return rc;
}

/* The round trip's function: stores the CPU the loop thread ran it on. */
static void where_run(struct poster *p, void *arg)
{
    (void)p;
    *(int *)arg = sched_getcpu();
}

static int run_roundtrips(struct poster *p, const struct opts *o)
{
    uint64_t *lat = malloc(o->roundtrips * sizeof(*lat));
    if (!lat)
        return -ENOMEM;
    int rc = 0;
    int cpu = -1;
    for (unsigned i = 0; i < WARMUP_ROUNDTRIPS && rc == 0; i++)
        rc = call(p, where_run, &cpu);

    uint64_t same_cpu = 0;
    uint64_t cpu0 = process_cpu_ns();
    for (uint64_t i = 0; i < o->roundtrips && rc == 0; i++) {
        uint64_t t0 = now_ns();
        rc = call(p, where_run, &cpu);
        lat[i] = now_ns() - t0;
        same_cpu += cpu >= 0 && cpu == sched_getcpu();
    }
    uint64_t cpu1 = process_cpu_ns();
    if (rc < 0) {
        fprintf(stderr, "peer_uv_post: call: %s\n", strerror(-rc));
        free(lat);
        return rc;
    }
    print_latency("roundtrip", lat, o->roundtrips);
    printf("roundtrip_cpu_ns_per_call %.0f\n", (double)(cpu1 - cpu0) / (double)o->roundtrips);
    printf("roundtrip_same_cpu_fraction %.4f\n", (double)same_cpu / (double)o->roundtrips);
    free(lat);
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse_args(argc, argv, &o) < 0)
        return 2;

    struct poster p;
    int rc = poster_start(&p);
    if (rc < 0) {
        fprintf(stderr, "peer_uv_post: start: %s\n", strerror(-rc));
        return 1;
    }
    printf("# peer_uv_post libuv=%s producers=%u items=%" PRIu64 " roundtrips=%" PRIu64
           " loop_cpu=%d client_cpu=%d\n",
           uv_version_string(), o.producers, o.items, o.roundtrips, o.loop_cpu, o.client_cpu);

    /* The loop thread first: it was created before main pins itself (and its producers). */
    struct pin pin = {.cpu = o.loop_cpu};
    rc = call(&p, pin_run, &pin);
    if (rc == 0)
        rc = pin.rc;
    if (rc == 0)
        rc = pin_self(o.client_cpu);
    if (rc < 0)
        fprintf(stderr, "peer_uv_post: pinning: %s\n", strerror(-rc));
    if (rc == 0)
        rc = run_throughput(&p, &o);
    if (rc == 0)
        rc = run_roundtrips(&p, &o);
    fflush(stdout);

    int src = poster_stop(&p);
    if (src < 0) {
        fprintf(stderr, "peer_uv_post: stop: %s\n", strerror(-src));
        if (rc == 0)
            rc = src;
    }
    return rc < 0 ? 1 : 0;
}

/*
 * bench_task: the cost of tasks (issue 3). Its libuv peer for the offload figures is
 * bench/peer_uv_queue_work.c; bench/run_task.sh runs both, alternating.
 *
 *   bench_task [--switches N] [--yields N] [--offloads N] [--concurrency K]
 *              [--idle-tasks N] [--pool-threads N]
 *
 * One runtime with one reactor and --pool-threads workers (default 2). In this order:
 *
 * (1) switch pair: on a plain thread, --switches round trips thread fiber -> fiber -> thread
 *     fiber with roost__fiber_switch (src/task/fiber.h), no scheduler involved.
 * (2) idle task RSS: a driver task on the reactor spawns --idle-tasks tasks that each
 *     roost_sleep for an hour, yields once (by FIFO every one of them has then run up to its
 *     sleep and suspended), and reads the resident set from /proc/self/statm before and
 *     after. Then it cancels and joins them all. It runs before anything else on the reactor
 *     so that no stack touched earlier sits in the reactor's stack cache to be reused.
 * (3) yield: a task on the reactor calls roost_yield() --yields times; each one is a local
 *     post of the resume plus a reactor tick (inbox, local queue, timers, one non-waiting
 *     io_uring_enter, reap).
 * (4) offload, sequential: a task on the reactor makes --offloads sequential roost_offload
 *     calls of a function that does nothing, timing each one.
 * (5) offload, concurrent: --concurrency tasks on the reactor share --offloads offloads, each
 *     making its share sequentially; the clock runs from the first spawn to the last join.
 *
 * Output: one "name value" line per figure, '#' lines are comments. CPU figures are the whole
 * process's (getrusage) divided by the operations.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <roost/config.h>
#include <roost/pool.h>
#include <roost/reactor.h>
#include <roost/run.h>
#include <roost/runtime.h>
#include <roost/stats.h>
#include <roost/task.h>

#include "task/fiber.h"
#include "task/task.h"

#include "bench_util.h"

#define WARMUP_YIELDS 1000u
#define WARMUP_OFFLOADS 1000u
#define WARMUP_CONCURRENT_EACH 10u
#define IDLE_SLEEP_MS (3600u * 1000u) /* never reached: the tasks are cancelled */

struct opts {
    uint64_t switches;
    uint64_t yields;
    uint64_t offloads;
    unsigned concurrency;
    unsigned idle_tasks;
    unsigned pool_threads;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_task [--switches N] [--yields N] [--offloads N] [--concurrency K]\n"
               "       [--idle-tasks N] [--pool-threads N]\n"
               "A count of 0 skips that figure.\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    o->switches = 10000000;
    o->yields = 1000000;
    o->offloads = 200000;
    o->concurrency = 64;
    o->idle_tasks = 10000;
    o->pool_threads = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "bench_task: %s needs a value\n", a);
            return -EINVAL;
        }
        const char *v = argv[++i];
        uint64_t n = 0;
        int rc = 0;
        if (!strcmp(a, "--switches")) {
            rc = parse_u64(v, 0, UINT64_C(1) << 40, &o->switches);
        } else if (!strcmp(a, "--yields")) {
            rc = parse_u64(v, 0, UINT64_C(1) << 36, &o->yields);
        } else if (!strcmp(a, "--offloads")) {
            rc = parse_u64(v, 0, UINT64_C(1) << 28, &o->offloads);
        } else if (!strcmp(a, "--concurrency")) {
            rc = parse_u64(v, 1, 100000, &n);
            o->concurrency = (unsigned)n;
        } else if (!strcmp(a, "--idle-tasks")) {
            rc = parse_u64(v, 0, 1000000, &n);
            o->idle_tasks = (unsigned)n;
        } else if (!strcmp(a, "--pool-threads")) {
            rc = parse_u64(v, 1, 256, &n);
            o->pool_threads = (unsigned)n;
        } else {
            fprintf(stderr, "bench_task: unknown option %s\n", a);
            usage(stderr);
            return -EINVAL;
        }
        if (rc < 0) {
            fprintf(stderr, "bench_task: bad value for %s: %s\n", a, v);
            return rc;
        }
    }
    return 0;
}

/* Resident bytes of the whole process (second field of /proc/self/statm, in pages). */
static int rss_bytes(uint64_t *out)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -errno;
    unsigned long long size, resident;
    int n = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    if (n != 2)
        return -EIO;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        return -EINVAL;
    *out = resident * (uint64_t)page;
    return 0;
}

/* ---- (1) the raw fiber switch ----------------------------------------------------------- */

struct switch_bench {
    struct roost_fiber thread;
    struct roost_fiber fiber;
    bool stop;
    uint64_t pairs;
    uint64_t elapsed_ns;
    int rc;
};

static void switch_entry(void *arg)
{
    struct switch_bench *b = arg;
    /* Each trip round this loop is the second half of a pair: fiber -> thread. */
    while (!b->stop)
        roost__fiber_switch(&b->fiber, &b->thread);
    roost__fiber_switch_final(&b->fiber, &b->thread);
}

/* On its own plain thread, so that the thread-fiber state it sets up dies with it. */
static void *switch_main(void *arg)
{
    struct switch_bench *b = arg;
    struct roost_stack_pool pool;
    struct roost_stack stack = {0};
    b->rc = roost__stack_pool_init(&pool, 0, 1);
    if (b->rc < 0)
        return NULL;
    b->rc = roost__stack_alloc(&pool, &stack);
    if (b->rc < 0)
        goto out_pool;
    b->rc = roost__fiber_init(&b->fiber, &stack, switch_entry, b, "switch");
    if (b->rc < 0)
        goto out_stack;
    roost__fiber_init_thread(&b->thread);

    for (unsigned i = 0; i < 1000; i++) /* warm-up: first touch of the stack, caches */
        roost__fiber_switch(&b->thread, &b->fiber);
    uint64_t t0 = now_ns();
    for (uint64_t i = 0; i < b->pairs; i++)
        roost__fiber_switch(&b->thread, &b->fiber);
    b->elapsed_ns = now_ns() - t0;
    b->stop = true;
    roost__fiber_switch(&b->thread, &b->fiber); /* returns through switch_final */

    roost__fiber_destroy(&b->fiber);
    roost__fiber_destroy(&b->thread);
out_stack:
    roost__stack_release(&pool, &stack);
out_pool:
    roost__stack_pool_destroy(&pool);
    return NULL;
}

static int run_switches(uint64_t pairs)
{
    struct switch_bench b = {.pairs = pairs};
    pthread_t th;
    int rc = pthread_create(&th, NULL, switch_main, &b);
    if (rc == 0)
        rc = pthread_join(th, NULL);
    if (rc != 0) {
        fprintf(stderr, "bench_task: switch thread: %s\n", strerror(rc));
        return -rc;
    }
    if (b.rc < 0) {
        fprintf(stderr, "bench_task: fiber setup: %s\n", strerror(-b.rc));
        return b.rc;
    }
    printf("switch_pair_ns %.2f\n", (double)b.elapsed_ns / (double)pairs);
    return 0;
}

/* ---- (2) idle tasks ------------------------------------------------------------------- */

static int idle_task(void *arg)
{
    (void)arg;
    int rc = roost_sleep(IDLE_SLEEP_MS);
    return rc == -ECANCELED ? 0 : rc < 0 ? rc : -ETIMEDOUT;
}

static int idle_driver(void *arg)
{
    const struct opts *o = arg;
    unsigned n = o->idle_tasks;
    roost_task **tasks = malloc(n * sizeof(*tasks));
    if (!tasks)
        return -ENOMEM;
    memset(tasks, 0, n * sizeof(*tasks)); /* touch it now: it is not the tasks' cost */

    uint64_t before, after;
    int rc = rss_bytes(&before);
    if (rc < 0) {
        fprintf(stderr, "bench_task: /proc/self/statm: %s\n", strerror(-rc));
        free(tasks);
        return rc;
    }
    unsigned spawned = 0;
    for (; spawned < n; spawned++) {
        rc = roost_spawn(idle_task, NULL, &tasks[spawned]);
        if (rc < 0) {
            fprintf(stderr, "bench_task: roost_spawn: %s\n", strerror(-rc));
            break;
        }
    }
    /* FIFO on this reactor: when the yield returns, every task has run into its sleep. */
    int yrc = roost_yield();
    if (rc == 0)
        rc = yrc;
    int src = rss_bytes(&after);
    if (rc == 0)
        rc = src;

    for (unsigned i = 0; i < spawned; i++) {
        int crc = roost_task_cancel(tasks[i]);
        if (crc < 0 && rc == 0)
            rc = crc;
    }
    unsigned failed = 0;
    for (unsigned i = 0; i < spawned; i++)
        failed += roost_join(tasks[i]) != 0;
    free(tasks);
    if (failed) {
        fprintf(stderr, "bench_task: %u idle tasks did not end cancelled\n", failed);
        if (rc == 0)
            rc = -EPROTO;
    }
    if (rc < 0)
        return rc;
    /* Signed: the kernel may have reclaimed something meanwhile. */
    printf("idle_task_rss_kib %.2f\n", ((double)after - (double)before) / 1024.0 / (double)n);
    return 0;
}

/* ---- (3) yield ------------------------------------------------------------------------- */

static int yield_driver(void *arg)
{
    const struct opts *o = arg;
    roost_reactor *r = roost_reactor_current();
    int rc = 0;
    for (unsigned i = 0; i < WARMUP_YIELDS && rc == 0; i++)
        rc = roost_yield();
    struct roost_stats s0, s1;
    roost_reactor_stats(r, &s0);
    uint64_t cpu0 = process_cpu_ns();
    uint64_t t0 = now_ns();
    for (uint64_t i = 0; i < o->yields && rc == 0; i++)
        rc = roost_yield();
    uint64_t t1 = now_ns();
    uint64_t cpu1 = process_cpu_ns();
    roost_reactor_stats(r, &s1);
    if (rc < 0) {
        fprintf(stderr, "bench_task: roost_yield: %s\n", strerror(-rc));
        return rc;
    }
    double n = (double)o->yields;
    printf("yield_ns %.2f\n", (double)(t1 - t0) / n);
    printf("yield_cpu_ns %.2f\n", (double)(cpu1 - cpu0) / n);
    printf("yield_enters_per_yield %.4f\n", (double)(s1.enters - s0.enters) / n);
    return 0;
}

/* ---- (4) and (5) offload --------------------------------------------------------------- */

static int nop_work(void *arg)
{
    (void)arg;
    return 0;
}

static int offload_n(uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        int rc = roost_offload(nop_work, NULL);
        if (rc != 0)
            return rc < 0 ? rc : -EPROTO;
    }
    return 0;
}

/* Counters of the reactor, per offload. */
static void print_offload_counts(const char *prefix, const struct roost_stats *s0,
                                 const struct roost_stats *s1, uint64_t ops)
{
    double n = (double)ops;
    printf("%s_wakes_per_op %.4f\n", prefix, (double)(s1->wakes_written - s0->wakes_written) / n);
    printf("%s_enters_per_op %.4f\n", prefix, (double)(s1->enters - s0->enters) / n);
}

static int seq_driver(void *arg)
{
    const struct opts *o = arg;
    uint64_t n = o->offloads;
    roost_reactor *r = roost_reactor_current();
    uint64_t *lat = malloc(n * sizeof(*lat));
    if (!lat)
        return -ENOMEM;
    memset(lat, 0, n * sizeof(*lat));
    int rc = offload_n(WARMUP_OFFLOADS);

    struct roost_stats s0, s1;
    roost_reactor_stats(r, &s0);
    uint64_t cpu0 = process_cpu_ns();
    uint64_t t0 = now_ns();
    for (uint64_t i = 0; i < n && rc == 0; i++) {
        uint64_t a = now_ns();
        rc = roost_offload(nop_work, NULL);
        lat[i] = now_ns() - a;
    }
    uint64_t t1 = now_ns();
    uint64_t cpu1 = process_cpu_ns();
    roost_reactor_stats(r, &s1);
    if (rc != 0) {
        fprintf(stderr, "bench_task: roost_offload: %s\n", strerror(rc < 0 ? -rc : EPROTO));
        free(lat);
        return rc < 0 ? rc : -EPROTO;
    }
    print_latency("offload_roundtrip", lat, n);
    print_rate("offload_seq", n, t1 - t0, cpu1 - cpu0);
    print_offload_counts("offload_seq", &s0, &s1, n);
    free(lat);
    return 0;
}

struct chain {
    uint64_t n;
};

static int chain_task(void *arg)
{
    const struct chain *c = arg;
    return offload_n(c->n);
}

/* Spawns k chains sharing total offloads on this reactor and joins them all. */
static int run_chains(unsigned k, uint64_t total, struct chain *chains, roost_task **tasks)
{
    int rc = 0;
    unsigned spawned = 0;
    for (; spawned < k; spawned++) {
        chains[spawned].n = total / k + (spawned < total % k);
        rc = roost_spawn(chain_task, &chains[spawned], &tasks[spawned]);
        if (rc < 0) {
            fprintf(stderr, "bench_task: roost_spawn: %s\n", strerror(-rc));
            break;
        }
    }
    for (unsigned i = 0; i < spawned; i++) {
        int jrc = roost_join(tasks[i]);
        if (jrc != 0 && rc == 0) {
            fprintf(stderr, "bench_task: offload chain: %s\n", strerror(jrc < 0 ? -jrc : EPROTO));
            rc = jrc < 0 ? jrc : -EPROTO;
        }
    }
    return rc;
}

static int concurrent_driver(void *arg)
{
    const struct opts *o = arg;
    unsigned k = o->concurrency;
    roost_reactor *r = roost_reactor_current();
    struct chain *chains = calloc(k, sizeof(*chains));
    roost_task **tasks = calloc(k, sizeof(*tasks));
    int rc = -ENOMEM;
    if (!chains || !tasks)
        goto out;
    /* Warm-up: the chains' stacks come from the reactor's cache afterwards. */
    rc = run_chains(k, (uint64_t)k * WARMUP_CONCURRENT_EACH, chains, tasks);
    if (rc < 0)
        goto out;

    struct roost_stats s0, s1;
    roost_reactor_stats(r, &s0);
    uint64_t cpu0 = process_cpu_ns();
    uint64_t t0 = now_ns();
    rc = run_chains(k, o->offloads, chains, tasks);
    uint64_t t1 = now_ns();
    uint64_t cpu1 = process_cpu_ns();
    roost_reactor_stats(r, &s1);
    if (rc < 0)
        goto out;
    print_rate("offload_concurrent", o->offloads, t1 - t0, cpu1 - cpu0);
    print_offload_counts("offload_concurrent", &s0, &s1, o->offloads);
out:
    free(tasks);
    free(chains);
    return rc;
}

/* ---- the root task (roost_run on main): each phase is a task on the reactor ------------ */

struct bench {
    const struct opts *o;
    roost_reactor *r;
};

static int on_reactor(roost_reactor *r, roost_task_fn fn, const struct opts *o)
{
    roost_task *t;
    int rc = roost_spawn_on(roost_reactor_ctx(r), fn, (void *)o, &t);
    if (rc < 0) {
        fprintf(stderr, "bench_task: roost_spawn_on: %s\n", strerror(-rc));
        return rc;
    }
    rc = roost_join(t);
    fflush(stdout);
    return rc;
}

static int bench_root(void *arg)
{
    const struct bench *b = arg;
    const struct opts *o = b->o;
    int rc = 0;
    if (o->idle_tasks)
        rc = on_reactor(b->r, idle_driver, o);
    if (rc == 0 && o->yields)
        rc = on_reactor(b->r, yield_driver, o);
    if (rc == 0 && o->offloads)
        rc = on_reactor(b->r, seq_driver, o);
    if (rc == 0 && o->offloads)
        rc = on_reactor(b->r, concurrent_driver, o);
    return rc;
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
        fprintf(stderr, "bench_task: %s: %s\n", bad ? bad : "environment", strerror(-rc));
        return 2;
    }
    cfg.reactors = 1;
    cfg.pool_threads = o.pool_threads;

    printf("# bench_task switches=%" PRIu64 " yields=%" PRIu64 " offloads=%" PRIu64
           " concurrency=%u idle_tasks=%u pool_threads=%u stack=%zu task_struct=%zu\n",
           o.switches, o.yields, o.offloads, o.concurrency, o.idle_tasks, o.pool_threads,
           cfg.stack_size ? cfg.stack_size : ROOST_STACK_DEFAULT, sizeof(struct roost_task));
    fflush(stdout);

    if (o.switches) {
        rc = run_switches(o.switches);
        fflush(stdout);
        if (rc < 0)
            return 1;
    }
    if (!o.idle_tasks && !o.yields && !o.offloads)
        return 0;

    roost_runtime *rt;
    rc = roost_runtime_start(&cfg, &rt);
    if (rc < 0) {
        fprintf(stderr, "bench_task: roost_runtime_start: %s\n", strerror(-rc));
        return 1;
    }
    struct bench b = {.o = &o, .r = roost_runtime_reactor(rt, 0)};
    rc = roost_run(bench_root, &b);
    if (rc < 0)
        fprintf(stderr, "bench_task: %s\n", strerror(-rc));
    fflush(stdout);

    int src = roost_runtime_stop(rt);
    if (src < 0) {
        fprintf(stderr, "bench_task: roost_runtime_stop: %s\n", strerror(-src));
        if (rc == 0)
            rc = src;
    }
    roost_runtime_destroy(rt);
    return rc < 0 ? 1 : 0;
}

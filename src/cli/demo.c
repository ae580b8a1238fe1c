/*
 * `roost demo`: starts the runtime and shows continuation affinity at work — a task on
 * each reactor sleeps, offloads to the pool and awaits a plain thread, and reports where
 * it ran after each await — then prints the reactors' counters.
 */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include <roost.h>

#include "cli/commands.h"

static int where_am_i(char *buf, size_t n)
{
    roost_reactor *r = roost_reactor_current();
    if (r)
        return snprintf(buf, n, "reactor %u", roost_reactor_id(r));
    return snprintf(buf, n, "%s", roost_ctx_current() ? "a pool worker" : "a plain thread");
}

static int on_pool(void *arg)
{
    char *buf = arg;
    where_am_i(buf, 32);
    return 0;
}

struct remote {
    struct roost_waiter w;
    pthread_t thread;
};

static void *complete_later(void *arg)
{
    struct remote *rm = arg;
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
    roost_complete(&rm->w, 0);
    return NULL;
}

static int show(void *arg)
{
    (void)arg;
    char here[32], pool[32];
    where_am_i(here, sizeof(here));
    printf("task started on %s\n", here);

    roost_sleep(5);
    where_am_i(here, sizeof(here));
    printf("  after roost_sleep(5):            on %s\n", here);

    roost_offload(on_pool, pool);
    where_am_i(here, sizeof(here));
    printf("  after roost_offload (ran on %s): on %s\n", pool, here);

    struct remote rm;
    roost_waiter_init(&rm.w);
    if (pthread_create(&rm.thread, NULL, complete_later, &rm) == 0) {
        roost_wait(&rm.w);
        pthread_join(rm.thread, NULL);
        where_am_i(here, sizeof(here));
        printf("  after a plain pthread completed: on %s\n", here);
    }
    return 0;
}

static int spawn_show(void *arg)
{
    roost_task **t = arg;
    return roost_spawn(show, NULL, t);
}

static int join(void *arg)
{
    return roost_join(arg);
}

int roost_cmd_demo(const struct roost_config *cfg, int argc, char **argv)
{
    if (argc > 1) {
        fprintf(stderr, "roost demo: unknown argument %s\n", argv[1]);
        return 2;
    }
    roost_runtime *rt;
    int rc = roost_runtime_start(cfg, &rt);
    if (rc < 0) {
        fprintf(stderr, "roost: cannot start the runtime: %d\n", rc);
        return 1;
    }
    unsigned n = roost_runtime_reactor_count(rt);
    printf("roost demo: %u reactors, ring mode %s\n", n,
           roost_reactor_ring_mode(roost_runtime_reactor(rt, 0)));
    for (unsigned i = 0; i < n; i++) {
        roost_task *t;
        rc = roost_ctx_send(roost_reactor_ctx(roost_runtime_reactor(rt, i)), spawn_show, &t);
        if (rc == 0)
            rc = roost_run(join, t);
        if (rc < 0)
            fprintf(stderr, "roost: demo task on reactor %u failed: %d\n", i, rc);
    }
    roost_runtime_stop(rt);
    printf("\n%-22s", "counter");
    for (unsigned i = 0; i < n; i++)
        printf(" %10s%u", "reactor", i);
    printf("\n");
    struct roost_stats s[64];
    for (unsigned i = 0; i < n && i < 64; i++)
        roost_reactor_stats(roost_runtime_reactor(rt, i), &s[i]);
#define ROOST_ROW_(name, help)                                                                     \
    printf("%-22s", #name);                                                                        \
    for (unsigned i = 0; i < n && i < 64; i++)                                                     \
        printf(" %11llu", (unsigned long long)s[i].name);                                          \
    printf("\n");
    ROOST_STATS_FIELDS(ROOST_ROW_)
#undef ROOST_ROW_
    roost_runtime_destroy(rt);
    return rc < 0 ? 1 : 0;
}

/*
 * The runtime, the composition layer: creates the reactors (core) and the worker pool, and
 * attaches the layers above the core to every reactor before its thread starts — the task
 * layer, the pool, the network layer — each with its part of the configuration. The
 * counters a user reads (roost_reactor_stats) are gathered here from each layer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include <roost/pool.h>
#include <roost/runtime.h>

#include "base/futex.h"
#include "core/reactor.h"
#include "core/thread.h"
#include "net/net.h"
#include "pool/pool.h"
#include "task/task.h"

struct roost_runtime {
    struct roost_config cfg;
    unsigned n;
    unsigned threads; /* reactor threads created (joined by wait) */
    bool joined;
    struct roost_reactor *reactors; /* n of them, each cache-line aligned */
    roost_pool *pool;               /* offload's workers */
};

roost_pool *roost_runtime_pool(roost_runtime *rt)
{
    return rt->pool;
}

/* Each layer's part of the configuration, attached to reactor r. */
static int attach_layers(roost_runtime *rt, struct roost_reactor *r)
{
    const struct roost_config *cfg = &rt->cfg;
    int rc = roost__task_attach(r, cfg->stack_size, cfg->resume == ROOST_RESUME_INLINE);
    if (rc < 0)
        return rc;
    rc = roost__pool_attach(r, rt->pool);
    if (rc < 0)
        return rc;
    struct net_config net = {
        .oneshot = cfg->recv == ROOST_RECV_ONESHOT,
        .speculative = cfg->speculative,
        .inline_budget = cfg->inline_budget,
        .buf_count = cfg->buf_count,
        .buf_size = cfg->buf_size,
        .max_conns = cfg->max_conns,
        .task_ctx = cfg->run_on == ROOST_RUN_ON_POOL ? roost_pool_ctx(rt->pool) : NULL,
    };
    return net_attach(r, &net);
}

int roost_reactor_stats(const roost_reactor *r, struct roost_stats *out)
{
    roost__reactor_core_stats(r, out);
    roost__task_stats(r, out);
    net_stats(r, out);
    return 0;
}

static void pin(pthread_t thread, unsigned i)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus <= 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(i % (unsigned)cpus, &set);
    pthread_setaffinity_np(thread, sizeof(set), &set);
}

static void wait_started(struct roost_reactor *r)
{
    while (!atomic_load_explicit(&r->started, memory_order_acquire))
        roost__futex_wait(&r->started, 0);
}

int roost_runtime_start(const struct roost_config *cfg, roost_runtime **out)
{
    roost_runtime *rt = calloc(1, sizeof(*rt));
    if (!rt)
        return -ENOMEM;
    if (cfg)
        rt->cfg = *cfg;
    else
        roost_config_init(&rt->cfg);
    if (rt->cfg.reactors == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        rt->cfg.reactors = cpus > 0 ? (unsigned)cpus : 1;
    }
    if (rt->cfg.sq_entries == 0)
        rt->cfg.sq_entries = 256;
    if (rt->cfg.inbox_budget == 0)
        rt->cfg.inbox_budget = 4096;
    rt->n = rt->cfg.reactors;

    int rc = roost_pool_create(rt->cfg.pool_threads, &rt->pool);
    if (rc < 0)
        goto fail_rt;
    rt->reactors = aligned_alloc(64, sizeof(struct roost_reactor) * rt->n);
    if (!rt->reactors) {
        rc = -ENOMEM;
        goto fail_pool;
    }
    struct roost__core_config core = {
        .sq_entries = rt->cfg.sq_entries,
        .inbox_budget = rt->cfg.inbox_budget,
        .wake = rt->cfg.wake,
        .park_poll_ns = rt->cfg.park_poll_us * 1000u,
        .park_poll_spins = rt->cfg.park_poll_spins,
        .affinity = rt->cfg.affinity,
        .error_hook = rt->cfg.error_hook,
        .error_hook_arg = rt->cfg.error_hook_arg,
    };
    for (unsigned i = 0; i < rt->n; i++)
        roost__reactor_init(&rt->reactors[i], rt, i, &core);
    for (unsigned i = 0; i < rt->n; i++) {
        rc = attach_layers(rt, &rt->reactors[i]);
        if (rc < 0)
            goto fail_reactors;
    }

    for (unsigned i = 0; i < rt->n; i++) {
        struct roost_reactor *r = &rt->reactors[i];
        rc = -pthread_create(&r->thread, NULL, roost__reactor_thread_main, r);
        if (rc < 0)
            goto fail_threads;
        rt->threads++;
        if (rt->cfg.pin_threads)
            pin(r->thread, i);
        wait_started(r);
        if (r->start_rc < 0) {
            rc = r->start_rc;
            goto fail_threads;
        }
    }
    *out = rt;
    return 0;

fail_threads:
    roost_runtime_destroy(rt);
    return rc;
fail_reactors:
    for (unsigned i = 0; i < rt->n; i++)
        roost__reactor_free(&rt->reactors[i]);
    free(rt->reactors);
fail_pool:
    roost_pool_destroy(rt->pool);
fail_rt:
    free(rt);
    return rc;
}

const struct roost_config *roost_runtime_config(const roost_runtime *rt)
{
    return &rt->cfg;
}

unsigned roost_runtime_reactor_count(const roost_runtime *rt)
{
    return rt->n;
}

roost_reactor *roost_runtime_reactor(roost_runtime *rt, unsigned i)
{
    return i < rt->n ? &rt->reactors[i] : NULL;
}

void roost_runtime_request_stop(roost_runtime *rt)
{
    for (unsigned i = 0; i < rt->threads; i++)
        roost__reactor_request_stop(&rt->reactors[i]);
}

static bool on_own_reactor(const roost_runtime *rt)
{
    struct roost_reactor *r = roost__thread_reactor();
    return r && roost__reactor_owner(r) == rt;
}

int roost_runtime_wait(roost_runtime *rt)
{
    if (on_own_reactor(rt))
        return -EDEADLK;
    if (rt->joined)
        return 0;
    roost__wakes_flush(); /* a pool worker waiting here must not hold the stop's wake */
    for (unsigned i = 0; i < rt->threads; i++)
        pthread_join(rt->reactors[i].thread, NULL);
    rt->joined = true;
    return 0;
}

int roost_runtime_stop(roost_runtime *rt)
{
    if (on_own_reactor(rt))
        return -EDEADLK;
    roost_runtime_request_stop(rt);
    return roost_runtime_wait(rt);
}

void roost_runtime_destroy(roost_runtime *rt)
{
    if (!rt)
        return;
    roost_runtime_stop(rt);
    /* Workers may still be finishing tasks that touch their reactors: join them first. */
    roost_pool_destroy(rt->pool);
    for (unsigned i = 0; i < rt->n; i++)
        roost__reactor_free(&rt->reactors[i]);
    free(rt->reactors);
    free(rt);
}

/*
 * roost_hop: an explicit move of a task to another context. Each case runs its task body
 * under roost_run on the test thread, so the body starts on roost_run's context and the
 * test gets its result back.
 */
#include <errno.h>

#include "support.h"

static roost_runtime *rt;

/* Where the body found itself, step by step. */
struct where {
    roost_reactor *reactor;
    roost_ctx *ctx;
};

static struct where here(void)
{
    return (struct where){.reactor = roost_reactor_current(), .ctx = roost_ctx_current()};
}

/* Hops to reactor i of which and records where the task then is. */
static int hop_to_reactor(roost_runtime *which, unsigned i, struct where *out)
{
    int rc = roost_hop(roost_reactor_ctx(roost_runtime_reactor(which, i)));
    *out = here();
    return rc;
}

/* ---- to another reactor, and it stays there across an await ---- */

static struct where after_hop, after_sleep;

static int hop_to_reactor_1(void *arg)
{
    (void)arg;
    int rc = hop_to_reactor(rt, 1, &after_hop);
    if (rc < 0)
        return rc;
    /* The hop moved the task's home: the timer's completion brings it back to reactor 1. */
    rc = roost_sleep(1);
    after_sleep = here();
    if (rc < 0)
        return rc;
    return 7;
}

static void hop_moves_the_task_to_the_target_reactor_and_it_stays_there(void **state)
{
    (void)state;
    rt = test_runtime(2, NULL);
    assert_int_equal(roost_run(hop_to_reactor_1, NULL), 7);
    roost_reactor *r1 = roost_runtime_reactor(rt, 1);
    assert_ptr_equal(after_hop.reactor, r1);
    assert_ptr_equal(after_hop.ctx, roost_reactor_ctx(r1));
    assert_ptr_equal(after_sleep.reactor, r1);
    assert_ptr_equal(after_sleep.ctx, roost_reactor_ctx(r1));
    roost_runtime_destroy(rt);
}

/* ---- to the pool and back ---- */

static struct where on_pool, back_home;
static roost_ctx *home_ctx;

static int hop_to_pool_and_back(void *arg)
{
    (void)arg;
    home_ctx = roost_ctx_current();
    int rc = roost_hop(roost_pool_ctx(roost_runtime_pool(rt)));
    if (rc < 0)
        return rc;
    on_pool = here();
    rc = roost_hop(home_ctx);
    back_home = here();
    return rc;
}

static void hop_to_the_pool_runs_on_a_worker_and_hops_back(void **state)
{
    (void)state;
    rt = test_runtime(1, NULL);
    assert_int_equal(roost_run(hop_to_pool_and_back, NULL), 0);
    assert_null(on_pool.reactor); /* a worker is no reactor */
    assert_ptr_equal(on_pool.ctx, roost_pool_ctx(roost_runtime_pool(rt)));
    assert_non_null(home_ctx);
    assert_ptr_equal(back_home.ctx, home_ctx);
    roost_runtime_destroy(rt);
}

/* ---- outside a task ---- */

static void hop_outside_a_task_returns_eperm(void **state)
{
    (void)state;
    rt = test_runtime(1, NULL);
    assert_int_equal(roost_hop(roost_reactor_ctx(roost_runtime_reactor(rt, 0))), -EPERM);
    roost_runtime_destroy(rt);
}

/* ---- to a stopped context ---- */

static roost_runtime *stopped;
static struct where before_refused, after_refused;

static int hop_to_stopped(void *arg)
{
    (void)arg;
    int rc = hop_to_reactor(rt, 0, &before_refused);
    if (rc < 0)
        return rc;
    return hop_to_reactor(stopped, 0, &after_refused);
}

static void hop_to_a_stopped_context_returns_eshutdown_and_the_task_stays(void **state)
{
    (void)state;
    rt = test_runtime(1, NULL);
    stopped = test_runtime(1, NULL);
    roost_runtime_stop(stopped); /* stopped, not yet freed: its context still exists */
    assert_int_equal(roost_run(hop_to_stopped, NULL), -ESHUTDOWN);
    roost_reactor *r0 = roost_runtime_reactor(rt, 0);
    assert_ptr_equal(before_refused.reactor, r0);
    assert_ptr_equal(after_refused.reactor, r0);
    assert_ptr_equal(after_refused.ctx, roost_reactor_ctx(r0));
    roost_runtime_destroy(stopped);
    roost_runtime_destroy(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hop_moves_the_task_to_the_target_reactor_and_it_stays_there),
        cmocka_unit_test(hop_to_the_pool_runs_on_a_worker_and_hops_back),
        cmocka_unit_test(hop_outside_a_task_returns_eperm),
        cmocka_unit_test(hop_to_a_stopped_context_returns_eshutdown_and_the_task_stays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

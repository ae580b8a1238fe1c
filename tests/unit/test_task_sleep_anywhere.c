/*
 * roost_sleep from a task that is not on a reactor thread: a task spawned from reactor R
 * onto the pool (what run-on=pool does for connection tasks) sleeps on R's timers, reached
 * through R's inbox, and wakes on the pool; a cancel of that sleep ends it early.
 */
#include <errno.h>
#include <stdlib.h>

#include "support.h"

static roost_runtime *rt;

/* ROOST_TEST_TIME_SCALE (a float, default 1) stretches every wait for slow machines. */
static unsigned scaled_ms(unsigned ms)
{
    const char *s = getenv("ROOST_TEST_TIME_SCALE");
    double f = s ? atof(s) : 1.0;
    return f > 0 ? (unsigned)(ms * f) : ms;
}

struct probe {
    uint64_t ms;
    int rc;
    uint64_t slept_ns;
    bool on_pool_after;
    roost_task *task;
    _Atomic long started;
};

static bool on_pool(void)
{
    return roost_reactor_current() == NULL &&
           roost_ctx_current() == roost_pool_ctx(roost_runtime_pool(rt));
}

static int sleeper(void *arg)
{
    struct probe *p = arg;
    atomic_store(&p->started, 1);
    uint64_t t0 = test_now_ns();
    p->rc = roost_sleep(p->ms);
    p->slept_ns = test_now_ns() - t0;
    p->on_pool_after = on_pool();
    return 0;
}

/* On reactor 0: spawn the sleeper on the pool, as a connection task with run-on=pool. */
static int spawn_on_pool(void *arg)
{
    struct probe *p = arg;
    return roost_spawn_on(roost_pool_ctx(roost_runtime_pool(rt)), sleeper, p, &p->task);
}

static int join_it(void *arg)
{
    return roost_join(arg);
}

static void pool_task_sleeps_on_its_reactor(void **state)
{
    (void)state;
    struct probe p = {.ms = 30};
    assert_int_equal(test_on_reactor(rt, 0, spawn_on_pool, &p), 0);
    assert_int_equal(roost_run(join_it, p.task), 0);
    assert_int_equal(p.rc, 0);
    assert_true(p.slept_ns >= 30u * 1000000u);
    assert_true(p.on_pool_after);
}

static void cancelled_pool_sleep_returns_ecanceled_early(void **state)
{
    (void)state;
    struct probe p = {.ms = 60000};
    assert_int_equal(test_on_reactor(rt, 0, spawn_on_pool, &p), 0);
    assert_true(test_wait_at_least(&p.started, 1, scaled_ms(10000)));
    test_sleep_ms(20); /* usually suspended by now; the cancel is quiet either way */
    uint64_t t0 = test_now_ns();
    assert_int_equal(roost_task_cancel(p.task), 0); /* posted to the pool, its home */
    assert_int_equal(roost_run(join_it, p.task), 0);
    assert_int_equal(p.rc, -ECANCELED);
    assert_true(test_now_ns() - t0 < scaled_ms(30000) * 1000000ull);
}

static int plain_sleeper(void *arg)
{
    (void)arg;
    return roost_sleep(1);
}

static int run_plain(void *arg)
{
    (void)arg;
    roost_task *t;
    int rc = roost_spawn_on(roost_pool_ctx(roost_runtime_pool(rt)), plain_sleeper, NULL, &t);
    return rc < 0 ? rc : roost_join(t);
}

static void task_that_never_met_a_reactor_gets_eperm(void **state)
{
    (void)state;
    /* Spawned from roost_run on a plain thread onto the pool: no reactor to sleep on. */
    assert_int_equal(roost_run(run_plain, NULL), -EPERM);
}

int main(void)
{
    rt = test_runtime(1, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pool_task_sleeps_on_its_reactor),
        cmocka_unit_test(cancelled_pool_sleep_returns_ecanceled_early),
        cmocka_unit_test(task_that_never_met_a_reactor_gets_eperm),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    roost_runtime_destroy(rt);
    return rc;
}

/*
 * The affinity smoke test, the acceptance test of the whole idea: a task on reactor R is
 * on R after every kind of await, unless it opts out or affinity is off.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include "support.h"
#include "task/task.h"

static roost_runtime *rt;
static roost_reactor *home; /* reactor 1 of 2, so "on R" is not the default */

static bool on_home(void)
{
    return roost_reactor_current() == home && roost_ctx_current() == roost_reactor_ctx(home);
}

static bool on_pool(void)
{
    return roost_reactor_current() == NULL &&
           roost_ctx_current() == roost_pool_ctx(roost_runtime_pool(rt));
}

/* Offloaded work: reports whether it ran on a pool thread. */
static int pool_probe(void *arg)
{
    (void)arg;
    return on_pool() ? 1 : 0;
}

/*
 * The same, completing late: an await completed before its task has suspended continues
 * synchronously where the task is, so "resumes where completed" needs a real suspension.
 */
static int slow_pool_probe(void *arg)
{
    test_sleep_ms(20);
    return pool_probe(arg);
}

/*
 * A plain pthread completes a waiter once its task has suspended on it: completing earlier
 * would let the await finish synchronously where the task is, which is not the interleaving
 * these tests are about.
 */
struct remote {
    struct roost_waiter *w;
    int result;
    pthread_t thread;
};

static void *remote_complete(void *arg)
{
    struct remote *rm = arg;
    uint64_t end = test_deadline_ns(10000);
    while (!roost__waiter_suspended(rm->w) && test_now_ns() < end)
        sched_yield();
    roost_complete(rm->w, rm->result);
    return NULL;
}

static int await_plain_thread(int result, unsigned flags, pthread_t *completer)
{
    struct roost_waiter w;
    roost_waiter_init(&w);
    struct remote rm = {.w = &w, .result = result};
    if (pthread_create(&rm.thread, NULL, remote_complete, &rm))
        return -EAGAIN;
    int rc = roost_wait_flags(&w, flags);
    if (completer)
        *completer = rm.thread;
    if (pthread_equal(pthread_self(), rm.thread))
        pthread_detach(rm.thread); /* resumed on the completer itself (affinity off) */
    else
        pthread_join(rm.thread, NULL);
    return rc;
}

/* Each step records where the task was after it; 1 = home. */
enum { STEPS = 8 };
static int where[STEPS];
static int results[STEPS];

static int smoke(void *arg)
{
    (void)arg;
    int i = 0;
    where[i++] = on_home();
    results[i] = roost_sleep(1);
    where[i++] = on_home();
    results[i] = roost_offload(pool_probe, NULL);
    where[i++] = on_home();
    results[i] = await_plain_thread(7, 0, NULL);
    where[i++] = on_home();
    /* The chain: sleep -> offload -> yield -> waiter. */
    results[i] = roost_sleep(1);
    where[i++] = on_home();
    results[i] = roost_offload(pool_probe, NULL);
    where[i++] = on_home();
    results[i] = roost_yield();
    where[i++] = on_home();
    results[i] = await_plain_thread(9, 0, NULL);
    where[i++] = on_home();
    return 0;
}

static roost_task *spawned;

static int spawn_smoke(void *arg)
{
    return roost_spawn((roost_task_fn)arg, NULL, &spawned);
}

static int join_task(void *arg)
{
    return roost_join(arg);
}

/* Spawns body on the home reactor from its own thread and joins it from a roost_run task. */
static int run_on_home(roost_task_fn body)
{
    assert_int_equal(roost_ctx_send(roost_reactor_ctx(home), spawn_smoke, (void *)body), 0);
    return roost_run(join_task, spawned);
}

static void task_stays_home_across_every_await(void **state)
{
    (void)state;
    rt = test_runtime(2, NULL);
    home = roost_runtime_reactor(rt, 1);
    assert_int_equal(run_on_home(smoke), 0);
    for (int i = 0; i < STEPS; i++)
        if (where[i] != 1)
            fail_msg("after step %d the task was not on its home reactor", i);
    assert_int_equal(results[1], 0);
    assert_int_equal(results[2], 1); /* the offloaded function ran on a pool thread */
    assert_int_equal(results[3], 7);
    assert_int_equal(results[4], 0);
    assert_int_equal(results[5], 1);
    assert_int_equal(results[6], 0);
    assert_int_equal(results[7], 9);
    struct roost_stats s = test_stats(rt, 1);
    assert_true(s.inline_resumes >= 2); /* the sleeps: timers complete on home, inline */
    assert_true(s.posted_resumes >= 4); /* offloads, waiters, yield: posted home */
    roost_runtime_destroy(rt);
}

/* ---- opt-out ---- */

static int opt_out_where[2];

static int opt_out(void *arg)
{
    (void)arg;
    int rc = roost_offload_on(roost_runtime_pool(rt), slow_pool_probe, NULL, ROOST_WAIT_ANYWHERE);
    opt_out_where[0] = rc == 1 && on_pool();
    /* The task now belongs to the pool: a plain default await resumes on the pool. */
    rc = await_plain_thread(3, 0, NULL);
    opt_out_where[1] = rc == 3 && on_pool();
    return 0;
}

static void opt_out_continues_where_completed(void **state)
{
    (void)state;
    rt = test_runtime(2, NULL);
    home = roost_runtime_reactor(rt, 1);
    assert_int_equal(run_on_home(opt_out), 0);
    assert_int_equal(opt_out_where[0], 1);
    assert_int_equal(opt_out_where[1], 1);
    roost_runtime_destroy(rt);
}

/* ---- affinity off ---- */

static int off_results[3];

static int affinity_off_offload(void *arg)
{
    (void)arg;
    off_results[0] = roost_ctx_current() == NULL && roost_reactor_current() == home;
    int rc = roost_offload(slow_pool_probe, NULL);
    off_results[1] = rc == 1 && on_pool(); /* resumed on the pool worker that completed it */
    return 0;
}

static int affinity_off_plain_thread(void *arg)
{
    (void)arg;
    pthread_t completer;
    int rc = await_plain_thread(5, 0, &completer);
    /* Resumed inline on the plain thread that completed the waiter. */
    off_results[2] =
        rc == 5 && pthread_equal(pthread_self(), completer) && roost_reactor_current() == NULL;
    return 0;
}

static void affinity_off_continues_where_completed(void **state)
{
    (void)state;
    struct roost_config cfg;
    roost_config_init(&cfg);
    cfg.affinity = false;
    rt = test_runtime(2, &cfg);
    home = roost_runtime_reactor(rt, 1);
    assert_int_equal(run_on_home(affinity_off_offload), 0);
    assert_int_equal(run_on_home(affinity_off_plain_thread), 0);
    assert_int_equal(off_results[0], 1);
    assert_int_equal(off_results[1], 1);
    assert_int_equal(off_results[2], 1);
    roost_runtime_destroy(rt);
}

/* ---- resume=posted: the same path through the home queue ---- */

static void resume_posted_stays_home_without_inline_resumes(void **state)
{
    (void)state;
    struct roost_config cfg;
    roost_config_init(&cfg);
    cfg.resume = ROOST_RESUME_POSTED;
    rt = test_runtime(2, &cfg);
    home = roost_runtime_reactor(rt, 1);
    assert_int_equal(run_on_home(smoke), 0);
    for (int i = 0; i < STEPS; i++)
        assert_int_equal(where[i], 1);
    assert_int_equal(test_stats(rt, 1).inline_resumes, 0);
    roost_runtime_destroy(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(task_stays_home_across_every_await),
        cmocka_unit_test(opt_out_continues_where_completed),
        cmocka_unit_test(affinity_off_continues_where_completed),
        cmocka_unit_test(resume_posted_stays_home_without_inline_resumes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * A reactor polls its inbox before parking while its tasks are away on other threads
 * (reactor.c, poll_before_park): an offload's completion posted during the poll finds the
 * reactor running and writes no eventfd; the poll is bounded (a long offload leaves the
 * reactor parked, not spinning); and offloads finishing just inside and just outside the
 * budget lose no wake; polls that keep missing back off. The away count returns to zero once every task is home or done.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include "support.h"

#include "core/reactor.h"

static roost_runtime *rt;
static roost_reactor *reactor;

static void start(unsigned pool_threads, unsigned poll_us, unsigned spins)
{
    struct roost_config cfg;
    roost_config_init(&cfg);
    cfg.pool_threads = pool_threads;
    cfg.wake = ROOST_WAKE_COALESCED;
    cfg.park_poll_us = poll_us;
    cfg.park_poll_spins = spins;
    rt = test_runtime(1, &cfg);
    reactor = roost_runtime_reactor(rt, 0);
}

static unsigned away_count(void)
{
    return atomic_load(&reactor->away);
}

static uint64_t cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000u +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
}

/* ---- one offload, its completion posted while the reactor polls or sleeps ---- */

static _Atomic long job_ms, job_started, job_done, task_home;

static int sleeping_job(void *arg)
{
    (void)arg;
    atomic_store(&job_started, 1);
    test_poll_sleep_ms((unsigned)atomic_load(&job_ms));
    atomic_store(&job_done, 1);
    return 0;
}

static int offload_sleeper(void *arg)
{
    (void)arg;
    int rc = roost_offload(sleeping_job, NULL);
    if (rc == 0 && roost_reactor_current() == reactor)
        atomic_store(&task_home, 1);
    return rc;
}

static int spawn_sleeper(void *arg)
{
    (void)arg;
    return test_spawn_detached(offload_sleeper, NULL);
}

/*
 * The interleaving forced: the reactor is parked and idle; a task on it offloads a job
 * that sleeps a few ms, so the reactor, having nothing else to do, reaches its park with
 * the task away and the job still running; the completion's post comes while it polls
 * (poll budget: 100 ms, far above the job) or while it sleeps in its enter (no poll).
 * Returns the eventfd writes the completion cost.
 */
static uint64_t one_offload(unsigned poll_us, uint64_t *hits)
{
    start(1, poll_us, 1u << 20);
    atomic_store(&job_ms, (long)test_scaled_ms(3));
    atomic_store(&job_done, 0);
    atomic_store(&task_home, 0);
    test_wait_parked(rt, 0);
    /* The send's own wake is written (and counted) before it returns. */
    assert_int_equal(test_on_reactor(rt, 0, spawn_sleeper, NULL), 0);
    struct roost_stats before = test_stats(rt, 0);
    assert_true(test_wait_at_least(&task_home, 1, 10000));
    struct roost_stats after = test_stats(rt, 0);
    assert_int_equal(away_count(), 0);
    roost_runtime_destroy(rt);
    *hits = after.park_poll_hits - before.park_poll_hits;
    return after.wakes_written - before.wakes_written;
}

static void poll_finds_the_completion_and_writes_no_eventfd(void **state)
{
    (void)state;
    uint64_t hits;
    uint64_t writes = one_offload(100000, &hits);
    assert_int_equal(writes, 0);
    assert_true(hits >= 1);
}

/* The control: the same completion against a reactor that parks at once costs a write. */
static void without_the_poll_the_completion_writes_the_eventfd(void **state)
{
    (void)state;
    uint64_t hits;
    uint64_t writes = one_offload(0, &hits);
    assert_int_equal(writes, 1);
    assert_int_equal(hits, 0);
}

/*
 * A job far longer than the budget (1 ms): the reactor polls once, then parks; over a
 * window of the job it makes no tick and the process uses a small fraction of one CPU (an
 * unbounded poll would spin a whole CPU). The completion then wakes it with one write.
 */
static void poll_is_bounded_and_a_long_offload_parks_the_reactor(void **state)
{
    (void)state;
    start(1, 1000, 1u << 20);
    atomic_store(&job_ms, (long)test_scaled_ms(600));
    atomic_store(&job_started, 0);
    atomic_store(&job_done, 0);
    atomic_store(&task_home, 0);
    test_wait_parked(rt, 0);
    assert_int_equal(test_on_reactor(rt, 0, spawn_sleeper, NULL), 0);
    assert_true(test_wait_at_least(&job_started, 1, 5000));
    test_sleep_ms(50); /* well past the 1 ms budget */
    struct roost_stats before = test_stats(rt, 0);
    uint64_t cpu0 = cpu_ns(), wall0 = test_now_ns();
    test_sleep_ms(200);
    uint64_t cpu = cpu_ns() - cpu0, wall = test_now_ns() - wall0;
    struct roost_stats mid = test_stats(rt, 0);
    assert_int_equal(atomic_load(&job_done), 0); /* the window lay inside the job */
    assert_int_equal(away_count(), 1);
    assert_int_equal(mid.ticks, before.ticks); /* parked all along */
    assert_true(mid.park_polls >= 1);
    printf("# %.1f%% of one CPU while the offload ran\n", 100.0 * (double)cpu / (double)wall);
    assert_true(cpu < wall / 4);
    assert_true(test_wait_at_least(&task_home, 1, 10000));
    struct roost_stats after = test_stats(rt, 0);
    assert_int_equal(after.wakes_written - mid.wakes_written, 1);
    assert_int_equal(after.park_poll_hits, mid.park_poll_hits);
    assert_int_equal(away_count(), 0);
    roost_runtime_destroy(rt);
}

/*
 * A reactor that ticks often (a task sleeping 2 ms at a time) beside an offload far longer
 * than the budget: its polls keep missing, so it backs off and polls on a small share of
 * its parks instead of spending the budget on every one.
 */
static _Atomic long ticker_stop, ticker_done;

static int ticker(void *arg)
{
    (void)arg;
    while (!atomic_load(&ticker_stop))
        roost_sleep(2);
    atomic_store(&ticker_done, 1);
    return 0;
}

static int spawn_ticker_and_sleeper(void *arg)
{
    int rc = test_spawn_detached(ticker, NULL);
    return rc == 0 ? spawn_sleeper(arg) : rc;
}

static void polls_that_keep_missing_back_off(void **state)
{
    (void)state;
    start(1, 1000, 1u << 20);
    atomic_store(&job_ms, (long)test_scaled_ms(1000));
    atomic_store(&job_started, 0);
    atomic_store(&task_home, 0);
    atomic_store(&ticker_stop, 0);
    atomic_store(&ticker_done, 0);
    assert_int_equal(test_on_reactor(rt, 0, spawn_ticker_and_sleeper, NULL), 0);
    assert_true(test_wait_at_least(&job_started, 1, 5000));
    test_sleep_ms(20);
    struct roost_stats before = test_stats(rt, 0);
    test_sleep_ms(300);
    struct roost_stats mid = test_stats(rt, 0);
    assert_int_equal(atomic_load(&task_home), 0); /* the window lay inside the job */
    uint64_t ticks = mid.ticks - before.ticks, polls = mid.park_polls - before.park_polls;
    printf("# %llu polls in %llu ticks beside a long offload\n", (unsigned long long)polls,
           (unsigned long long)ticks);
    assert_true(ticks >= 40); /* the ticker ran: about one tick per 2 ms */
    assert_true(polls * 4 < ticks);
    atomic_store(&ticker_stop, 1);
    assert_true(test_wait_at_least(&ticker_done, 1, 5000));
    assert_true(test_wait_at_least(&task_home, 1, 10000));
    assert_int_equal(away_count(), 0);
    roost_runtime_destroy(rt);
}

/* ---- many offloads around the budget: every completion resumes its task ---- */

#define TASKS 16
#define OFFLOADS 150

static _Atomic long resumed_home, tasks_done;

/* Busy for 0, 5, 20, 40 or 80 us: inside, at and beyond a 20 us budget. */
static int busy_job(void *arg)
{
    static const unsigned us[] = {0, 5, 20, 40, 80};
    uint64_t end = test_now_ns() + us[(uintptr_t)arg % 5] * 1000u;
    while (test_now_ns() < end)
        ;
    return 0;
}

static int offload_loop(void *arg)
{
    uintptr_t seed = (uintptr_t)arg;
    for (uintptr_t i = 0; i < OFFLOADS; i++) {
        int rc = roost_offload(busy_job, (void *)(seed + i));
        if (rc < 0)
            return rc;
        if (roost_reactor_current() == reactor)
            atomic_fetch_add(&resumed_home, 1);
        if (i % 7 == 0)
            roost_sleep(0); /* a timer now and then: the poll must not delay it either */
    }
    atomic_fetch_add(&tasks_done, 1);
    return 0;
}

static int spawn_loops(void *arg)
{
    (void)arg;
    for (uintptr_t i = 0; i < TASKS; i++) {
        int rc = test_spawn_detached(offload_loop, (void *)(i * 3));
        if (rc < 0)
            return rc;
    }
    return 0;
}

/*
 * No barrier rescues a lost wake: each task's next offload is posted only after its last
 * completion resumed it, so a completion left in the inbox of a parked reactor stops that
 * task, and the deadline fails.
 */
static void offloads_around_the_budget_lose_no_wake(void **state)
{
    (void)state;
    start(2, 20, 256);
    atomic_store(&resumed_home, 0);
    atomic_store(&tasks_done, 0);
    assert_int_equal(test_on_reactor(rt, 0, spawn_loops, NULL), 0);
    assert_true(test_wait_at_least(&tasks_done, TASKS, 60000));
    assert_int_equal(atomic_load(&resumed_home), TASKS * OFFLOADS);
    struct roost_stats s = test_stats(rt, 0);
    printf("# %llu polls, %llu found work, %llu eventfd writes for %d offloads\n",
           (unsigned long long)s.park_polls, (unsigned long long)s.park_poll_hits,
           (unsigned long long)s.wakes_written, TASKS * OFFLOADS);
    assert_true(s.park_polls > 0);
    assert_int_equal(away_count(), 0);
    roost_runtime_destroy(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(poll_finds_the_completion_and_writes_no_eventfd),
        cmocka_unit_test(without_the_poll_the_completion_writes_the_eventfd),
        cmocka_unit_test(poll_is_bounded_and_a_long_offload_parks_the_reactor),
        cmocka_unit_test(polls_that_keep_missing_back_off),
        cmocka_unit_test(offloads_around_the_budget_lose_no_wake),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

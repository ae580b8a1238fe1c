/*
 * Coalesced wakes with a pool worker's jobs: per-item mode writes once per completion; a
 * wake deferred by one job never waits behind the next; and no wake is ever lost — many
 * producers (pool tasks hopping to the reactor, offload completions, plain threads) against
 * a reactor that parks between their items, each of which must run by a deadline.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "support.h"

#include "core/reactor.h"

static roost_runtime *rt;
static roost_reactor *reactor;
static roost_ctx *pool_ctx;

static void start(unsigned pool_threads, enum roost_wake wake)
{
    struct roost_config cfg;
    roost_config_init(&cfg);
    cfg.pool_threads = pool_threads;
    cfg.wake = wake;
    rt = test_runtime(1, &cfg);
    reactor = roost_runtime_reactor(rt, 0);
    pool_ctx = roost_pool_ctx(roost_runtime_pool(rt));
}

/* ---- a burst of offload completions for a parked reactor: one write, not one per item ---- */

#define BURST 64

static _Atomic long burst_done, gate_open;

/* The pool's only worker waits here while the reactor queues the burst behind it. */
static int hold_pool(void *arg)
{
    (void)arg;
    while (!atomic_load(&gate_open))
        sched_yield();
    return 0;
}

static int noop(void *arg)
{
    (void)arg;
    return 0;
}

static int offload_once(void *arg)
{
    (void)arg;
    int rc = roost_offload(noop, NULL);
    if (rc == 0 && roost_reactor_current() == reactor)
        atomic_fetch_add(&burst_done, 1);
    return rc;
}

static int spawn_burst(void *arg)
{
    (void)arg;
    for (int i = 0; i < BURST; i++) {
        int rc = test_spawn_detached(offload_once, NULL);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/*
 * The interleaving forced: reactor and worker share one CPU (as `roost bench` runs them);
 * the worker is held while 64 tasks post their offloads to it and the reactor parks; then
 * the worker runs the 64 jobs back to back, each completion posting a resume to the
 * parked reactor.
 */
static unsigned run_burst(enum roost_wake wake)
{
    cpu_set_t one, saved;
    sched_getaffinity(0, sizeof(saved), &saved);
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu(), &one);
    sched_setaffinity(0, sizeof(one), &one); /* the runtime's threads inherit it */
    start(1, wake);
    atomic_store(&burst_done, 0);
    atomic_store(&gate_open, 0);
    assert_int_equal(roost_ctx_post(pool_ctx, hold_pool, NULL), 0);
    assert_int_equal(test_on_reactor(rt, 0, spawn_burst, NULL), 0);
    test_wait_parked(rt, 0);
    uint64_t before = test_stats(rt, 0).wakes_written;
    atomic_store(&gate_open, 1);
    assert_true(test_wait_at_least(&burst_done, BURST, 10000));
    uint64_t writes = test_stats(rt, 0).wakes_written - before;
    roost_runtime_destroy(rt);
    sched_setaffinity(0, sizeof(saved), &saved);
    return (unsigned)writes;
}

static void per_item_burst_writes_once_per_completion(void **state)
{
    (void)state;
    unsigned writes = run_burst(ROOST_WAKE_PER_ITEM);
    /* Each completion's resume, and nothing else, was posted to the reactor meanwhile. */
    assert_int_equal(writes, BURST);
}

/* ---- many producers, a reactor that parks between items: every item runs ---- */

#define HOP_TASKS 32
#define HOPS 300
#define PLAIN_PRODUCERS 4
#define PLAIN_ITEMS 2000

static _Atomic long hops_on_reactor, tasks_done, plain_ran;

static int hopper(void *arg)
{
    (void)arg;
    for (int i = 0; i < HOPS; i++) {
        int rc = roost_hop(roost_reactor_ctx(reactor));
        if (rc < 0)
            return rc;
        if (roost_reactor_current() == reactor)
            atomic_fetch_add(&hops_on_reactor, 1);
        rc = i % 3 ? roost_hop(pool_ctx) : roost_offload(noop, NULL);
        if (rc < 0)
            return rc;
        if (i % 3 == 0)
            roost_hop(pool_ctx); /* the offload brought it home; back to the pool */
    }
    atomic_fetch_add(&tasks_done, 1);
    return 0;
}

static int count_plain(void *arg)
{
    (void)arg;
    atomic_fetch_add(&plain_ran, 1);
    return 0;
}

static void *plain_producer(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < PLAIN_ITEMS; i++) {
        if (roost_ctx_post(roost_reactor_ctx(reactor), count_plain, NULL) < 0)
            abort();
        if (rand_r(&seed) % 4 == 0)
            usleep(rand_r(&seed) % 200); /* let the reactor park between items */
    }
    return NULL;
}

static void many_producers_and_parked_reactor_lose_no_wake(void **state)
{
    (void)state;
    start(3, ROOST_WAKE_COALESCED);
    atomic_store(&hops_on_reactor, 0);
    atomic_store(&tasks_done, 0);
    atomic_store(&plain_ran, 0);
    for (int i = 0; i < HOP_TASKS; i++) {
        roost_task *t;
        assert_int_equal(roost_spawn_on(pool_ctx, hopper, NULL, &t), 0);
        roost_detach(t);
    }
    pthread_t threads[PLAIN_PRODUCERS];
    for (uintptr_t p = 0; p < PLAIN_PRODUCERS; p++)
        assert_int_equal(pthread_create(&threads[p], NULL, plain_producer, (void *)(p + 1)), 0);
    for (int p = 0; p < PLAIN_PRODUCERS; p++)
        pthread_join(threads[p], NULL);
    /*
     * No barrier post rescues a lost wake here: the plain items must have run, and the
     * hopping tasks finished, by the deadline, while later items only ever come from those
     * same tasks. A lost wake leaves a task in the inbox of a parked reactor: timeout.
     */
    assert_true(test_wait_at_least(&plain_ran, PLAIN_PRODUCERS * PLAIN_ITEMS, 20000));
    assert_true(test_wait_at_least(&tasks_done, HOP_TASKS, 30000));
    assert_int_equal(atomic_load(&hops_on_reactor), HOP_TASKS * HOPS);
    struct roost_stats s = test_stats(rt, 0);
    printf("# %ld items through the inbox, %llu eventfd writes\n", (long)s.remote_posts,
           (unsigned long long)s.wakes_written);
    assert_true(s.wakes_written < s.remote_posts);
    /* Every task that left the reactor came back or ended: the park poll's count is 0. */
    uint64_t end = test_deadline_ns(5000);
    while (atomic_load(&reactor->away) != 0 && test_now_ns() < end)
        test_poll_sleep_ms(1);
    assert_int_equal(atomic_load(&reactor->away), 0);
    roost_runtime_destroy(rt);
}

/* ---- a pool task that posts, then blocks in a send: its deferred wake goes out first ---- */

static _Atomic long send_result = -1, posted_ran;

static int mark_posted(void *arg)
{
    (void)arg;
    atomic_fetch_add(&posted_ran, 1);
    return 0;
}

static int answer(void *arg)
{
    (void)arg;
    return atomic_load(&posted_ran) == 1 ? 7 : -EPROTO; /* FIFO: the post ran first */
}

static int post_then_send(void *arg)
{
    (void)arg;
    test_sleep_ms(20); /* the reactor parks meanwhile */
    roost_ctx *r = roost_reactor_ctx(reactor);
    int rc = roost_ctx_post(r, mark_posted, NULL); /* its wake is deferred to the batch end */
    if (rc < 0)
        return rc;
    atomic_store(&send_result, roost_ctx_send(r, answer, NULL)); /* blocks this worker */
    return 0;
}

static void pool_task_send_after_deferred_post_does_not_hang(void **state)
{
    (void)state;
    start(1, ROOST_WAKE_COALESCED);
    atomic_store(&send_result, -1);
    atomic_store(&posted_ran, 0);
    test_wait_parked(rt, 0);
    roost_task *t;
    assert_int_equal(roost_spawn_on(pool_ctx, post_then_send, NULL, &t), 0);
    roost_detach(t);
    uint64_t end = test_deadline_ns(5000);
    while (atomic_load(&send_result) == -1 && test_now_ns() < end)
        test_poll_sleep_ms(1);
    assert_int_equal(atomic_load(&send_result), 7);
    roost_runtime_destroy(rt);
}

/* ---- a held wake never waits behind another job ---------------------------------------- */

static _Atomic long a_resumed, b_saw_a;

static int offload_then_mark(void *arg)
{
    (void)arg;
    int rc = roost_offload(noop, NULL);
    atomic_store(&a_resumed, 1);
    return rc;
}

static int spawn_offload_then_mark(void *arg)
{
    (void)arg;
    return test_spawn_detached(offload_then_mark, NULL);
}

/* A pool job that waits (bounded) for task A to resume: user code may wait on another task. */
static int wait_for_a(void *arg)
{
    (void)arg;
    uint64_t end = test_deadline_ns(3000);
    while (!atomic_load(&a_resumed) && test_now_ns() < end)
        sched_yield();
    atomic_store(&b_saw_a, atomic_load(&a_resumed));
    return 0;
}

/*
 * The worker runs A's offload, then job B, which waits for A's task to resume. A's
 * completion must reach the parked reactor before B runs: a wake held for the batch across
 * B would leave A unresumed for as long as B takes (here: until B gives up), and a B that
 * waits without a bound would never finish.
 */
static void completion_wake_is_not_held_behind_the_next_job(void **state)
{
    (void)state;
    start(1, ROOST_WAKE_COALESCED);
    atomic_store(&a_resumed, 0);
    atomic_store(&b_saw_a, 0);
    atomic_store(&gate_open, 0);
    assert_int_equal(roost_ctx_post(pool_ctx, hold_pool, NULL), 0);
    assert_int_equal(test_on_reactor(rt, 0, spawn_offload_then_mark, NULL), 0);
    test_wait_parked(rt, 0); /* A's offload is queued behind hold_pool; the reactor is parked */
    assert_int_equal(roost_ctx_post(pool_ctx, wait_for_a, NULL), 0);
    atomic_store(&gate_open, 1);
    assert_true(test_wait_at_least(&a_resumed, 1, 10000));
    roost_runtime_destroy(rt);
    assert_int_equal(atomic_load(&b_saw_a), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(per_item_burst_writes_once_per_completion),
        cmocka_unit_test(many_producers_and_parked_reactor_lose_no_wake),
        cmocka_unit_test(pool_task_send_after_deferred_post_does_not_hang),
        cmocka_unit_test(completion_wake_is_not_held_behind_the_next_job),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

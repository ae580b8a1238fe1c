/* Scheduling-context post: never inline, exactly once, FIFO per producer, exclusive. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "support.h"

/* ---- post on the reactor's own thread does not run before the poster returns ---- */

static _Atomic long poster_returned, inner_ran, inner_saw_return;

static int inner(void *arg)
{
    (void)arg;
    atomic_store(&inner_saw_return, atomic_load(&poster_returned));
    atomic_fetch_add(&inner_ran, 1);
    return 0;
}

static int outer(void *arg)
{
    (void)arg;
    int rc = roost_ctx_post(roost_ctx_current(), inner, NULL);
    /* Had post run inner inline, inner would have seen poster_returned == 0. */
    atomic_store(&poster_returned, 1);
    return rc;
}

static void post_on_own_thread_is_never_inline(void **state)
{
    (void)state;
    roost_runtime *rt = test_runtime(1, NULL);
    assert_int_equal(test_on_reactor(rt, 0, outer, NULL), 0);
    assert_true(test_wait_at_least(&inner_ran, 1, 5000));
    assert_int_equal(atomic_load(&inner_saw_return), 1);
    assert_int_equal(atomic_load(&inner_ran), 1);
    roost_runtime_destroy(rt);
}

/* ---- 4 producers x 100,000 posts ---- */

#define PRODUCERS 4
#define ITEMS_PER_PRODUCER 100000

struct load {
    roost_reactor *reactor;
    _Atomic long in_flight;
    _Atomic long max_in_flight;
    long next_seq[PRODUCERS]; /* touched only on the reactor thread */
    long order_violations;    /* reactor thread only */
    long wrong_thread;        /* reactor thread only */
    unsigned char *seen[PRODUCERS];
    _Atomic long ran;
};

static struct load *the_load;

static int load_item(void *arg)
{
    struct load *l = the_load;
    uintptr_t v = (uintptr_t)arg;
    unsigned p = (unsigned)(v >> 32);
    long seq = (long)(uint32_t)v;
    long now = atomic_fetch_add(&l->in_flight, 1) + 1;
    long max = atomic_load(&l->max_in_flight);
    while (now > max && !atomic_compare_exchange_weak(&l->max_in_flight, &max, now))
        ;
    if (roost_reactor_current() != l->reactor ||
        roost_ctx_current() != roost_reactor_ctx(l->reactor))
        l->wrong_thread++;
    if (seq != l->next_seq[p])
        l->order_violations++;
    l->next_seq[p] = seq + 1;
    l->seen[p][seq]++;
    atomic_fetch_sub(&l->in_flight, 1);
    atomic_fetch_add(&l->ran, 1);
    return 0;
}

static void *producer(void *arg)
{
    uintptr_t p = (uintptr_t)arg;
    roost_ctx *ctx = roost_reactor_ctx(the_load->reactor);
    for (uintptr_t seq = 0; seq < ITEMS_PER_PRODUCER; seq++) {
        int rc = roost_ctx_post(ctx, load_item, (void *)((p << 32) | seq));
        if (rc != 0)
            abort();
    }
    return NULL;
}

static int noop(void *arg)
{
    (void)arg;
    return 0;
}

/* Runs the 4-producer load on a fresh runtime; returns the reactor's stats after it. */
static struct roost_stats run_load(enum roost_wake wake)
{
    struct roost_config cfg;
    roost_config_init(&cfg);
    cfg.wake = wake;
    roost_runtime *rt = test_runtime(1, &cfg);
    struct load *l = calloc(1, sizeof(*l));
    assert_non_null(l);
    l->reactor = roost_runtime_reactor(rt, 0);
    for (int p = 0; p < PRODUCERS; p++)
        assert_non_null(l->seen[p] = calloc(ITEMS_PER_PRODUCER, 1));
    the_load = l;

    pthread_t threads[PRODUCERS];
    for (uintptr_t p = 0; p < PRODUCERS; p++)
        assert_int_equal(pthread_create(&threads[p], NULL, producer, (void *)p), 0);
    for (int p = 0; p < PRODUCERS; p++)
        pthread_join(threads[p], NULL);
    /* Every producer item was linked before this send's item: it runs after all of them. */
    assert_int_equal(test_on_reactor(rt, 0, noop, NULL), 0);
    assert_int_equal(atomic_load(&l->ran), PRODUCERS * ITEMS_PER_PRODUCER);

    for (int p = 0; p < PRODUCERS; p++)
        for (long s = 0; s < ITEMS_PER_PRODUCER; s++)
            if (l->seen[p][s] != 1)
                fail_msg("producer %d item %ld ran %d times", p, s, l->seen[p][s]);
    assert_int_equal(l->order_violations, 0);
    assert_int_equal(l->wrong_thread, 0);
    assert_int_equal(atomic_load(&l->max_in_flight), 1);

    roost_runtime_stop(rt);
    struct roost_stats s = test_stats(rt, 0);
    for (int p = 0; p < PRODUCERS; p++)
        free(l->seen[p]);
    free(l);
    roost_runtime_destroy(rt);
    return s;
}

static void four_producers_exactly_once_fifo_exclusive(void **state)
{
    (void)state;
    struct roost_stats s = run_load(ROOST_WAKE_COALESCED);
    /* All posts + the send barrier + the stop request came through the inbox. */
    assert_int_equal(s.remote_posts, PRODUCERS * ITEMS_PER_PRODUCER + 2);
}

static void coalesced_wakes_write_far_fewer_than_items(void **state)
{
    (void)state;
    const long items = PRODUCERS * ITEMS_PER_PRODUCER;
    struct roost_stats s = run_load(ROOST_WAKE_COALESCED);
    printf("# coalesced: %ld items, %llu eventfd writes (1 per %.1f items)\n", items,
           (unsigned long long)s.wakes_written, (double)items / (double)(s.wakes_written + 1));
    /* At most one write per park: far fewer than one per item. */
    assert_true(s.wakes_written * 4 < (uint64_t)items);
}

static void per_item_wakes_write_once_per_item(void **state)
{
    (void)state;
    struct roost_stats s = run_load(ROOST_WAKE_PER_ITEM);
    /* Every remote post (items, barrier, stop request) wrote the eventfd exactly once. */
    assert_int_equal(s.wakes_written, PRODUCERS * ITEMS_PER_PRODUCER + 2);
    assert_int_equal(s.wakes_written, s.remote_posts);
}

/* ---- a failing posted callback is counted, hooked, and the reactor goes on ---- */

static _Atomic long hook_calls, hook_err, later_ran;
static const char *hook_what;
static roost_reactor *hook_reactor;

static void error_hook(roost_reactor *r, int err, const char *what, void *arg)
{
    (void)arg;
    hook_reactor = r;
    hook_what = what;
    atomic_store(&hook_err, err);
    atomic_fetch_add(&hook_calls, 1);
}

static int failing(void *arg)
{
    (void)arg;
    return -EIO;
}

static int later(void *arg)
{
    (void)arg;
    atomic_fetch_add(&later_ran, 1);
    return 0;
}

static void failing_post_is_counted_hooked_and_loop_goes_on(void **state)
{
    (void)state;
    struct roost_config cfg;
    roost_config_init(&cfg);
    cfg.error_hook = error_hook;
    roost_runtime *rt = test_runtime(1, &cfg);
    roost_ctx *ctx = roost_reactor_ctx(roost_runtime_reactor(rt, 0));
    assert_int_equal(roost_ctx_post(ctx, failing, NULL), 0);
    assert_int_equal(roost_ctx_post(ctx, later, NULL), 0);
    assert_true(test_wait_at_least(&later_ran, 1, 5000));
    assert_int_equal(atomic_load(&hook_calls), 1);
    assert_int_equal(atomic_load(&hook_err), -EIO);
    assert_string_equal(hook_what, "posted work");
    assert_ptr_equal(hook_reactor, roost_runtime_reactor(rt, 0));
    assert_int_equal(test_stats(rt, 0).task_failures, 1);
    roost_runtime_destroy(rt);
}

/* ---- post after stop ---- */

static _Atomic long after_stop_ran;

static int after_stop(void *arg)
{
    (void)arg;
    atomic_fetch_add(&after_stop_ran, 1);
    return 0;
}

static void post_after_stop_is_refused_and_never_runs(void **state)
{
    (void)state;
    roost_runtime *rt = test_runtime(1, NULL);
    roost_ctx *ctx = roost_reactor_ctx(roost_runtime_reactor(rt, 0));
    /* Accepted before the stop request: runs. */
    assert_int_equal(roost_ctx_post(ctx, after_stop, NULL), 0);
    assert_int_equal(roost_runtime_stop(rt), 0);
    assert_int_equal(atomic_load(&after_stop_ran), 1);
    struct roost_work w = {.fn = after_stop};
    assert_int_equal(roost_ctx_post(ctx, after_stop, NULL), -ESHUTDOWN);
    assert_int_equal(roost_ctx_post_work(ctx, &w), -ESHUTDOWN);
    assert_int_equal(atomic_load(&after_stop_ran), 1);
    roost_runtime_destroy(rt);
}

/* ---- contexts: current while work runs, not inherited by new threads ---- */

static roost_ctx *seen_in_new_thread = (roost_ctx *)1;
static roost_reactor *seen_reactor_in_new_thread = (roost_reactor *)1;

static void *new_thread(void *arg)
{
    (void)arg;
    seen_in_new_thread = roost_ctx_current();
    seen_reactor_in_new_thread = roost_reactor_current();
    return NULL;
}

static int spawn_thread_from_reactor(void *arg)
{
    roost_ctx **current = arg;
    *current = roost_ctx_current();
    pthread_t t;
    if (pthread_create(&t, NULL, new_thread, NULL))
        return -EAGAIN;
    pthread_join(t, NULL);
    return 0;
}

static void context_is_current_in_work_and_not_inherited(void **state)
{
    (void)state;
    assert_null(roost_ctx_current());
    roost_runtime *rt = test_runtime(1, NULL);
    roost_ctx *current = NULL;
    assert_int_equal(test_on_reactor(rt, 0, spawn_thread_from_reactor, &current), 0);
    assert_ptr_equal(current, roost_reactor_ctx(roost_runtime_reactor(rt, 0)));
    assert_null(seen_in_new_thread);
    assert_null(seen_reactor_in_new_thread);
    assert_null(roost_ctx_current());
    roost_runtime_destroy(rt);
}

static int read_current(void *arg)
{
    *(roost_ctx **)arg = roost_ctx_current();
    return 0;
}

static void affinity_off_reactor_threads_carry_no_context(void **state)
{
    (void)state;
    struct roost_config cfg;
    roost_config_init(&cfg);
    cfg.affinity = false;
    roost_runtime *rt = test_runtime(1, &cfg);
    roost_ctx *current = (roost_ctx *)1;
    assert_int_equal(test_on_reactor(rt, 0, read_current, &current), 0);
    assert_null(current);
    roost_runtime_destroy(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(post_on_own_thread_is_never_inline),
        cmocka_unit_test(four_producers_exactly_once_fifo_exclusive),
        cmocka_unit_test(coalesced_wakes_write_far_fewer_than_items),
        cmocka_unit_test(per_item_wakes_write_once_per_item),
        cmocka_unit_test(failing_post_is_counted_hooked_and_loop_goes_on),
        cmocka_unit_test(post_after_stop_is_refused_and_never_runs),
        cmocka_unit_test(context_is_current_in_work_and_not_inherited),
        cmocka_unit_test(affinity_off_reactor_threads_carry_no_context),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

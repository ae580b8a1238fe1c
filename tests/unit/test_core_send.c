/* Scheduling-context send: inline at home, blocking elsewhere, refused where it could hang. */
#include <errno.h>

#include "support.h"

static _Atomic long ran;
static roost_reactor *ran_on;

static int mark(void *arg)
{
    (void)arg;
    ran_on = roost_reactor_current();
    atomic_fetch_add(&ran, 1);
    return 42;
}

struct inline_probe {
    int result;
    long ran_before_return;
    uint64_t local_posts_delta;
};

static int send_to_self(void *arg)
{
    struct inline_probe *p = arg;
    roost_reactor *r = roost_reactor_current();
    struct roost_stats before, after;
    roost_reactor_stats(r, &before);
    long ran0 = atomic_load(&ran);
    p->result = roost_ctx_send(roost_reactor_ctx(r), mark, NULL);
    p->ran_before_return = atomic_load(&ran) - ran0;
    roost_reactor_stats(r, &after);
    p->local_posts_delta = after.local_posts - before.local_posts;
    return 0;
}

static void send_on_own_thread_runs_inline(void **state)
{
    (void)state;
    roost_runtime *rt = test_runtime(1, NULL);
    struct inline_probe p = {0};
    assert_int_equal(test_on_reactor(rt, 0, send_to_self, &p), 0);
    assert_int_equal(p.result, 42);
    assert_int_equal(p.ran_before_return, 1);
    assert_int_equal(p.local_posts_delta, 0); /* ran in place, nothing was queued */
    roost_runtime_destroy(rt);
}

static void send_to_own_reactor_is_inline_with_affinity_off(void **state)
{
    (void)state;
    struct roost_config cfg;
    roost_config_init(&cfg);
    cfg.affinity = false;
    roost_runtime *rt = test_runtime(1, &cfg);
    struct inline_probe p = {0};
    assert_int_equal(test_on_reactor(rt, 0, send_to_self, &p), 0);
    assert_int_equal(p.result, 42);
    assert_int_equal(p.ran_before_return, 1);
    roost_runtime_destroy(rt);
}

static void send_from_plain_thread_blocks_until_done(void **state)
{
    (void)state;
    roost_runtime *rt = test_runtime(1, NULL);
    long ran0 = atomic_load(&ran);
    assert_int_equal(test_on_reactor(rt, 0, mark, NULL), 42);
    assert_int_equal(atomic_load(&ran) - ran0, 1);
    assert_ptr_equal(ran_on, roost_runtime_reactor(rt, 0));
    roost_runtime_destroy(rt);
}

static roost_runtime *two;

static int send_to_other_reactor(void *arg)
{
    (void)arg;
    return roost_ctx_send(roost_reactor_ctx(roost_runtime_reactor(two, 1)), mark, NULL);
}

static void send_from_other_reactor_is_edeadlk(void **state)
{
    (void)state;
    two = test_runtime(2, NULL);
    long ran0 = atomic_load(&ran);
    assert_int_equal(test_on_reactor(two, 0, send_to_other_reactor, NULL), -EDEADLK);
    assert_int_equal(atomic_load(&ran) - ran0, 0);
    roost_runtime_destroy(two);
}

static int stop_from_reactor(void *arg)
{
    return roost_runtime_stop(arg);
}

static void blocking_waits_on_a_reactor_are_edeadlk(void **state)
{
    (void)state;
    roost_runtime *rt = test_runtime(1, NULL);
    assert_int_equal(test_on_reactor(rt, 0, stop_from_reactor, rt), -EDEADLK);
    roost_runtime_destroy(rt);
}

static void send_after_stop_is_eshutdown(void **state)
{
    (void)state;
    roost_runtime *rt = test_runtime(1, NULL);
    assert_int_equal(roost_runtime_stop(rt), 0);
    long ran0 = atomic_load(&ran);
    assert_int_equal(test_on_reactor(rt, 0, mark, NULL), -ESHUTDOWN);
    assert_int_equal(atomic_load(&ran) - ran0, 0);
    roost_runtime_destroy(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(send_on_own_thread_runs_inline),
        cmocka_unit_test(send_to_own_reactor_is_inline_with_affinity_off),
        cmocka_unit_test(send_from_plain_thread_blocks_until_done),
        cmocka_unit_test(send_from_other_reactor_is_edeadlk),
        cmocka_unit_test(blocking_waits_on_a_reactor_are_edeadlk),
        cmocka_unit_test(send_after_stop_is_eshutdown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

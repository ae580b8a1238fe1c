/*
 * Runtime life cycle: reactors start, serve posts, sends and timers, stop and free
 * everything. CTest also runs this program under valgrind (leaks and errors fail it).
 */
#include <errno.h>
#include <unistd.h>

#include "support.h"

static _Atomic long ran;

static int work(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
    return 0;
}

static void fired(struct roost_timer *t, int status)
{
    (void)t;
    (void)status;
    atomic_fetch_add(&ran, 1);
}

static int arm(void *arg)
{
    struct roost_timer *t = arg;
    roost_timer_init(t);
    return roost_timer_start(t, 1, fired, NULL);
}

static void start_serve_stop_free(void **state)
{
    (void)state;
    roost_runtime *rt = test_runtime(2, NULL);
    assert_int_equal(roost_runtime_reactor_count(rt), 2);
    struct roost_timer timers[2];
    for (unsigned i = 0; i < 2; i++) {
        roost_ctx *ctx = roost_reactor_ctx(roost_runtime_reactor(rt, i));
        assert_int_equal(roost_ctx_post(ctx, work, NULL), 0);
        assert_int_equal(roost_ctx_send(ctx, work, NULL), 0);
        assert_int_equal(roost_ctx_send(ctx, arm, &timers[i]), 0);
        assert_int_equal(roost_reactor_id(roost_runtime_reactor(rt, i)), i);
    }
    assert_true(test_wait_at_least(&ran, 6, 10000));
    assert_int_equal(roost_runtime_stop(rt), 0);
    assert_int_equal(roost_runtime_stop(rt), 0); /* idempotent */
    roost_runtime_destroy(rt);
}

static void default_reactor_count_is_online_cpus(void **state)
{
    (void)state;
    roost_runtime *rt = NULL;
    assert_int_equal(roost_runtime_start(NULL, &rt), 0);
    assert_int_equal(roost_runtime_reactor_count(rt), (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
    roost_runtime_destroy(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(start_serve_stop_free),
        cmocka_unit_test(default_reactor_count_is_online_cpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

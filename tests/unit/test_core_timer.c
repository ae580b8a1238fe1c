/* Per-reactor timers: once, never early, quiet cancel, many pending, told at stop. */
#include <errno.h>
#include <stdlib.h>

#include "support.h"

struct probe {
    struct roost_timer timer;
    uint64_t started_ns;
    uint64_t fired_ns;
    _Atomic long fired;
    int status;
    roost_reactor *on;
};

static void record(struct roost_timer *t, int status)
{
    struct probe *p = t->arg;
    p->fired_ns = test_now_ns();
    p->status = status;
    p->on = roost_reactor_current();
    atomic_fetch_add(&p->fired, 1);
}

static int start_20ms(void *arg)
{
    struct probe *p = arg;
    roost_timer_init(&p->timer);
    p->started_ns = test_now_ns();
    return roost_timer_start(&p->timer, 20, record, p);
}

static void timer_fires_once_not_before_deadline(void **state)
{
    (void)state;
    roost_runtime *rt = test_runtime(1, NULL);
    struct probe p = {0};
    assert_int_equal(test_on_reactor(rt, 0, start_20ms, &p), 0);
    assert_true(test_wait_at_least(&p.fired, 1, 5000));
    test_sleep_ms(50);
    assert_int_equal(atomic_load(&p.fired), 1);
    assert_int_equal(p.status, 0);
    assert_ptr_equal(p.on, roost_runtime_reactor(rt, 0));
    assert_true(p.fired_ns - p.started_ns >= 20u * 1000000u);
    roost_runtime_destroy(rt);
}

/* The victim is due at 30 ms; the canceller fires at 10 ms on the same reactor. */
static struct probe victim;
static struct roost_timer canceller;
static _Atomic long cancel_result = -1;

static void cancel_victim(struct roost_timer *t, int status)
{
    (void)t;
    (void)status;
    atomic_store(&cancel_result, roost_timer_cancel(&victim.timer));
}

static int start_pair(void *arg)
{
    (void)arg;
    roost_timer_init(&victim.timer);
    roost_timer_init(&canceller);
    int rc = roost_timer_start(&victim.timer, 30, record, &victim);
    if (rc == 0)
        rc = roost_timer_start(&canceller, 10, cancel_victim, NULL);
    return rc;
}

static void cancelled_timer_never_fires(void **state)
{
    (void)state;
    roost_runtime *rt = test_runtime(1, NULL);
    atomic_store(&cancel_result, -1);
    assert_int_equal(test_on_reactor(rt, 0, start_pair, NULL), 0);
    /* The canceller runs first (earlier deadline), however late the reactor gets to it. */
    assert_true(test_wait_at_least(&cancel_result, 0, 10000));
    assert_int_equal(atomic_load(&cancel_result), 1); /* it was pending when cancelled */
    test_sleep_ms(60); /* past the victim's deadline: had it stayed armed, it fired by now */
    assert_int_equal(atomic_load(&victim.fired), 0);
    assert_false(roost_timer_pending(&victim.timer));
    roost_runtime_destroy(rt);
}

/* 50,000 timers pending at once, deadlines spread over 1..200 ms. */
#define MANY 50000

struct many {
    struct roost_timer timers[MANY];
    uint64_t deadline_ns[MANY];
    unsigned char fired[MANY];
    long early;
    _Atomic long total;
};

static struct many *many;

static void many_fired(struct roost_timer *t, int status)
{
    size_t i = (size_t)(t - many->timers);
    if (status == 0 && test_now_ns() < many->deadline_ns[i])
        many->early++;
    many->fired[i]++;
    atomic_fetch_add(&many->total, 1);
}

static int start_many(void *arg)
{
    (void)arg;
    srand(7);
    for (size_t i = 0; i < MANY; i++) {
        uint64_t ms = 1 + (uint64_t)(rand() % 200);
        roost_timer_init(&many->timers[i]);
        many->deadline_ns[i] = test_now_ns() + ms * 1000000u;
        int rc = roost_timer_start(&many->timers[i], ms, many_fired, NULL);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void fifty_thousand_pending_timers_all_fire(void **state)
{
    (void)state;
    many = calloc(1, sizeof(*many));
    assert_non_null(many);
    roost_runtime *rt = test_runtime(1, NULL);
    uint64_t t0 = test_now_ns();
    assert_int_equal(test_on_reactor(rt, 0, start_many, NULL), 0);
    assert_true(test_wait_at_least(&many->total, MANY, 10000));
    printf("# %d timers fired in %.1f ms\n", MANY, (double)(test_now_ns() - t0) / 1e6);
    for (size_t i = 0; i < MANY; i++)
        assert_int_equal(many->fired[i], 1);
    assert_int_equal(many->early, 0);
    assert_int_equal(test_stats(rt, 0).timers_fired, MANY);
    roost_runtime_destroy(rt);
    free(many);
}

static void timer_start_off_reactor_is_eperm(void **state)
{
    (void)state;
    struct roost_timer t;
    roost_timer_init(&t);
    assert_int_equal(roost_timer_start(&t, 1, record, NULL), -EPERM);
    assert_false(roost_timer_pending(&t));
}

static int start_10s(void *arg)
{
    struct probe *p = arg;
    roost_timer_init(&p->timer);
    return roost_timer_start(&p->timer, 10000, record, p);
}

static void pending_timer_is_told_at_stop(void **state)
{
    (void)state;
    roost_runtime *rt = test_runtime(1, NULL);
    struct probe p = {0};
    assert_int_equal(test_on_reactor(rt, 0, start_10s, &p), 0);
    uint64_t t0 = test_now_ns();
    assert_int_equal(roost_runtime_stop(rt), 0);
    assert_true(test_now_ns() - t0 <
                test_scaled_ms(1000) * 1000000u); /* stop did not wait for the timer */
    assert_int_equal(atomic_load(&p.fired), 1);
    assert_int_equal(p.status, -ESHUTDOWN);
    roost_runtime_destroy(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timer_fires_once_not_before_deadline),
        cmocka_unit_test(cancelled_timer_never_fires),
        cmocka_unit_test(fifty_thousand_pending_timers_all_fire),
        cmocka_unit_test(timer_start_off_reactor_is_eperm),
        cmocka_unit_test(pending_timer_is_told_at_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The hook table: a layer attached on a running reactor gets its before-enter hook every
 * tick, is asked whether it still drains at stop (the loop waits for it), and gets
 * thread_exit on the reactor thread and destroy after; a completion for a freed op of a
 * registered kind reaches that kind's stale handler.
 */
#include <errno.h>

#include "core/reactor.h"
#include "support.h"

/* What the test layer saw. */
struct layer {
    _Atomic long before_enter, draining, thread_exit, destroy;
    _Atomic long exit_on_reactor; /* thread_exit ran on the reactor's own thread */
    long drain_ticks;             /* draining says true this many times */
    struct roost_reactor *r;
    struct roost_timer wake; /* what a draining layer waits for: it ends the tick's wait */
};

static void woken(struct roost_timer *t, int status)
{
    (void)t, (void)status;
}

static void layer_before_enter(struct roost_reactor *r, void *arg)
{
    (void)r;
    struct layer *l = arg;
    atomic_fetch_add(&l->before_enter, 1);
}

static bool layer_draining(struct roost_reactor *r, void *arg)
{
    (void)r;
    struct layer *l = arg;
    if (atomic_fetch_add(&l->draining, 1) >= l->drain_ticks)
        return false;
    /* Still winding down: something must be pending that ends the next enter's wait. */
    roost_timer_init(&l->wake);
    return roost_timer_start(&l->wake, 1, woken, NULL) == 0;
}

static void layer_thread_exit(struct roost_reactor *r, void *arg)
{
    struct layer *l = arg;
    if (roost_reactor_current() == (roost_reactor *)r)
        atomic_fetch_add(&l->exit_on_reactor, 1);
    atomic_fetch_add(&l->thread_exit, 1);
}

static void layer_destroy(struct roost_reactor *r, void *arg)
{
    (void)r;
    struct layer *l = arg;
    atomic_fetch_add(&l->destroy, 1);
}

static const struct roost__hooks layer_hooks = {
    .name = "test",
    .before_enter = layer_before_enter,
    .draining = layer_draining,
    .thread_exit = layer_thread_exit,
    .destroy = layer_destroy,
};

static struct layer layer;

static int attach(void *arg)
{
    (void)arg;
    layer.r = roost_reactor_current();
    return roost__reactor_hooks_add(layer.r, &layer_hooks, &layer);
}

static roost_runtime *attached_runtime(long drain_ticks)
{
    memset(&layer, 0, sizeof(layer));
    layer.drain_ticks = drain_ticks;
    roost_runtime *rt = test_runtime(1, NULL);
    assert_int_equal(test_on_reactor(rt, 0, attach, NULL), 0);
    return rt;
}

static void attached_layer_is_found_by_its_hooks_and_attaches_once(void **state)
{
    (void)state;
    roost_runtime *rt = attached_runtime(0);
    struct roost_reactor *r = roost_runtime_reactor(rt, 0);
    assert_ptr_equal(roost__reactor_hooks_arg(r, &layer_hooks), &layer);
    assert_int_equal(test_on_reactor(rt, 0, attach, NULL), -EEXIST);
    roost_runtime_destroy(rt);
}

static int nothing(void *arg)
{
    (void)arg;
    return 0;
}

static void before_enter_runs_once_per_tick(void **state)
{
    (void)state;
    roost_runtime *rt = attached_runtime(0);
    struct roost_reactor *r = roost_runtime_reactor(rt, 0);
    /* Each send after the reactor parked: a tick of its own (a busy reactor drains many). */
    for (int i = 0; i < 10; i++) {
        uint64_t end = test_deadline_ns(10000);
        while (!atomic_load(&r->parked) && test_now_ns() < end)
            test_poll_sleep_ms(1);
        assert_true(atomic_load(&r->parked));
        assert_int_equal(test_on_reactor(rt, 0, nothing, NULL), 0);
    }
    roost_runtime_stop(rt);
    struct roost_stats s = test_stats(rt, 0);
    /*
     * Every tick but the last reaches the before-enter step (the last leaves at the stop
     * step), and shutdown runs it once more: as many calls as ticks. The hook was attached
     * during a tick, which counts since the hook saw its before-enter step.
     */
    long calls = atomic_load(&layer.before_enter);
    printf("# ticks %llu, enters %llu, before-enter calls %ld\n", (unsigned long long)s.ticks,
           (unsigned long long)s.enters, calls);
    assert_true(calls >= 10);
    assert_true(calls <= (long)s.ticks);
    roost_runtime_destroy(rt);
}

static void stop_waits_while_the_layer_drains_then_exits_and_destroys_it(void **state)
{
    (void)state;
    roost_runtime *rt = attached_runtime(3);
    roost_runtime_stop(rt);
    /* Asked once per tick: three times "still draining", then the fourth lets it stop. */
    assert_int_equal(atomic_load(&layer.draining), 4);
    assert_int_equal(atomic_load(&layer.thread_exit), 1);
    assert_int_equal(atomic_load(&layer.exit_on_reactor), 1);
    assert_int_equal(atomic_load(&layer.destroy), 0); /* not before the runtime is freed */
    roost_runtime_destroy(rt);
    assert_int_equal(atomic_load(&layer.destroy), 1);
}

/* ---- stale completions by op kind ---- */

static _Atomic long stale_calls, stale_kind_ok;
static int test_kind = -1;

static void on_stale(struct roost_reactor *r, const struct io_uring_cqe *cqe)
{
    (void)r;
    if ((int)(cqe->user_data >> 56) == test_kind)
        atomic_fetch_add(&stale_kind_ok, 1);
    atomic_fetch_add(&stale_calls, 1);
}

static void must_not_run(struct roost_reactor *r, struct roost_op *op,
                         const struct io_uring_cqe *cqe)
{
    (void)r, (void)op, (void)cqe;
    fail_msg("a stale completion reached its freed op's handler");
}

static int stage_freed_nop(void *arg)
{
    (void)arg;
    struct roost_reactor *r = roost_reactor_current();
    struct roost_op *op = roost__op_alloc(r, (uint8_t)test_kind, must_not_run, NULL);
    struct io_uring_sqe *sqe = roost__reactor_sqe(r);
    if (!op || !sqe)
        return -ENOMEM;
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, roost__op_user_data(op));
    roost__op_free(r, op); /* its completion, still to come, is stale */
    return 0;
}

static void stale_completion_goes_to_its_kinds_handler(void **state)
{
    (void)state;
    test_kind = roost__op_kind_register("test", on_stale);
    assert_true(test_kind >= ROOST_OP_FIRST_REGISTERED);
    assert_ptr_equal(roost__op_kind_stale((uint8_t)test_kind), on_stale);
    roost_runtime *rt = test_runtime(1, NULL);
    assert_int_equal(test_on_reactor(rt, 0, stage_freed_nop, NULL), 0);
    assert_true(test_wait_at_least(&stale_calls, 1, 5000));
    roost_runtime_stop(rt);
    assert_int_equal(atomic_load(&stale_calls), 1);
    assert_int_equal(atomic_load(&stale_kind_ok), 1);
    assert_true(test_stats(rt, 0).stale_cqes >= 1);
    roost_runtime_destroy(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(attached_layer_is_found_by_its_hooks_and_attaches_once),
        cmocka_unit_test(before_enter_runs_once_per_tick),
        cmocka_unit_test(stop_waits_while_the_layer_drains_then_exits_and_destroys_it),
        cmocka_unit_test(stale_completion_goes_to_its_kinds_handler),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

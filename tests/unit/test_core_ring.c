/* The ring: setup flags, SQ full mid-batch, stale completions recognised by generation, the
 * reap warming completions ahead of their handlers. */
#include <errno.h>
#include <string.h>

#include "core/hooks.h"
#include "core/reactor.h"
#include "support.h"

static void ring_mode_is_reported(void **state)
{
    (void)state;
    roost_runtime *rt = test_runtime(1, NULL);
    const char *mode = roost_reactor_ring_mode(roost_runtime_reactor(rt, 0));
    assert_non_null(mode);
    printf("# ring mode: %s\n", mode);
    assert_true(!strcmp(mode, "single_issuer+defer_taskrun") || !strcmp(mode, "coop_taskrun") ||
                !strcmp(mode, "none"));
    roost_runtime_destroy(rt);
}

/* ---- SQ full mid-batch ---- */

#define NOPS 100

static _Atomic long nops_done;

static void on_nop(struct roost_reactor *r, struct roost_op *op, const struct io_uring_cqe *cqe)
{
    (void)cqe;
    roost__op_free(r, op);
    atomic_fetch_add(&nops_done, 1);
}

static int stage_nops(void *arg)
{
    long n = (long)(intptr_t)arg;
    struct roost_reactor *r = roost_reactor_current();
    for (long i = 0; i < n; i++) {
        struct roost_op *op = roost__op_alloc(r, ROOST_OP_GENERIC, on_nop, NULL);
        struct io_uring_sqe *sqe = roost__reactor_sqe(r);
        if (!op || !sqe)
            return -ENOMEM;
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data64(sqe, roost__op_user_data(op));
    }
    return 0;
}

static void sq_full_mid_batch_submits_and_drops_nothing(void **state)
{
    (void)state;
    struct roost_config cfg;
    roost_config_init(&cfg);
    cfg.sq_entries = 8;
    roost_runtime *rt = test_runtime(1, &cfg);
    atomic_store(&nops_done, 0);
    /* 100 SQEs staged in one go on an 8-entry SQ. */
    assert_int_equal(test_on_reactor(rt, 0, stage_nops, (void *)(intptr_t)NOPS), 0);
    assert_true(test_wait_at_least(&nops_done, NOPS, 5000));
    struct roost_stats s = test_stats(rt, 0);
    assert_true(s.sq_full_submits >= NOPS / 8 - 1);
    assert_true(s.sqes_submitted >= NOPS);
    assert_int_equal(s.stale_cqes, 0);
    roost_runtime_destroy(rt);
}

/* ---- stale completions ---- */

static _Atomic long old_handler_calls, new_handler_calls;

static void on_old(struct roost_reactor *r, struct roost_op *op, const struct io_uring_cqe *cqe)
{
    (void)r, (void)op, (void)cqe;
    atomic_fetch_add(&old_handler_calls, 1);
}

static void on_new(struct roost_reactor *r, struct roost_op *op, const struct io_uring_cqe *cqe)
{
    (void)cqe;
    roost__op_free(r, op);
    atomic_fetch_add(&new_handler_calls, 1);
}

struct recycle {
    uint32_t old_index, new_index;
};

static int stage_then_recycle(void *arg)
{
    struct recycle *rc = arg;
    struct roost_reactor *r = roost_reactor_current();
    /* A NOP is staged for the old op, then the slot is freed and reused before it completes. */
    struct roost_op *old = roost__op_alloc(r, ROOST_OP_GENERIC, on_old, NULL);
    struct io_uring_sqe *sqe = roost__reactor_sqe(r);
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, roost__op_user_data(old));
    rc->old_index = old->index;
    roost__op_free(r, old);

    struct roost_op *reused = roost__op_alloc(r, ROOST_OP_GENERIC, on_new, NULL);
    rc->new_index = reused->index;
    sqe = roost__reactor_sqe(r);
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, roost__op_user_data(reused));
    return 0;
}

static void completion_for_recycled_slot_is_stale(void **state)
{
    (void)state;
    roost_runtime *rt = test_runtime(1, NULL);
    struct recycle rc = {0};
    assert_int_equal(test_on_reactor(rt, 0, stage_then_recycle, &rc), 0);
    assert_true(test_wait_at_least(&new_handler_calls, 1, 5000));
    test_sleep_ms(20);
    assert_int_equal(rc.old_index, rc.new_index); /* the same slot, a new generation */
    assert_int_equal(atomic_load(&old_handler_calls), 0);
    assert_int_equal(atomic_load(&new_handler_calls), 1);
    assert_int_equal(test_stats(rt, 0).stale_cqes, 1);
    roost_runtime_destroy(rt);
}

/* ---- at most one enter per tick ---- */

static void at_most_one_enter_per_tick(void **state)
{
    (void)state;
    roost_runtime *rt = test_runtime(1, NULL);
    atomic_store(&nops_done, 0);
    for (int i = 0; i < 20; i++)
        assert_int_equal(test_on_reactor(rt, 0, stage_nops, (void *)(intptr_t)5), 0);
    assert_true(test_wait_at_least(&nops_done, 100, 5000));
    roost_runtime_stop(rt);
    struct roost_stats s = test_stats(rt, 0);
    printf("# ticks %llu enters %llu\n", (unsigned long long)s.ticks, (unsigned long long)s.enters);
    /*
     * Every tick, not just the total: each tick entered once, or skipped its enter when it
     * was busy with nothing to submit (see the next test). The runtime has stopped, so the
     * reactor's own record is read without a race.
     */
    struct roost_reactor *r = roost_runtime_reactor(rt, 0);
    printf("# most enters in one tick: %u\n", r->max_tick_enters);
    assert_int_equal(r->max_tick_enters, 1);
    assert_true(s.enters + 1 <= s.ticks); /* the final tick breaks out before its enter */
    assert_true(s.enters >= 1);
    roost_runtime_destroy(rt);
}

/* A chain of self-posts keeps the reactor busy with nothing to submit. */
static _Atomic long hops_left;

static int hop(void *arg)
{
    (void)arg;
    if (atomic_fetch_sub(&hops_left, 1) > 1)
        return roost_ctx_post(roost_ctx_current(), hop, NULL);
    return 0;
}

static void busy_ticks_with_nothing_to_submit_skip_the_enter(void **state)
{
    (void)state;
    roost_runtime *rt = test_runtime(1, NULL);
    if (!roost_runtime_reactor(rt, 0)->taskrun_flag) {
        roost_runtime_destroy(rt);
        test_skip(); /* the kernel cannot tell us when an enter has nothing to do */
    }
    /*
     * Start counting once the reactor has parked for the first time: start-up work (the
     * wake read, the ring's first enters) is behind it, and the ticks counted below are the
     * busy ones the hops make.
     */
    struct roost_reactor *r = roost_runtime_reactor(rt, 0);
    uint64_t end = test_deadline_ns(10000);
    while (!atomic_load(&r->parked) && test_now_ns() < end)
        test_poll_sleep_ms(1);
    assert_true(atomic_load(&r->parked));
    struct roost_stats before = test_stats(rt, 0);
    atomic_store(&hops_left, 1000);
    assert_int_equal(test_on_reactor(rt, 0, hop, NULL), 0);
    uint64_t hops_end = test_deadline_ns(30000);
    while (atomic_load(&hops_left) > 0 && test_now_ns() < hops_end)
        test_poll_sleep_ms(1);
    assert_int_equal(atomic_load(&hops_left), 0);
    struct roost_stats after = test_stats(rt, 0);
    uint64_t ticks = after.ticks - before.ticks, enters = after.enters - before.enters;
    printf("# 1000 self-posts: %llu ticks, %llu enters\n", (unsigned long long)ticks,
           (unsigned long long)enters);
    assert_true(ticks >= 999); /* never inline: one hop per tick after the first */
    assert_true(enters * 10 < ticks);
    roost_runtime_destroy(rt);
}

/* ---- the reap warms completions ahead of their handlers ---- */

#define WARM_OPS 16
#define WARM_FREED 9 /* this op's slot is freed before its completion: never warmed */

/* What happened, in order: a prefetch step (op tag, step) or a handler (tag, -1). */
static struct {
    int tag, step;
} warm_log[4 * WARM_OPS];
static int warm_n;
static _Atomic long warm_done;
static int warm_kind = -1;

static void warm_prefetch(const struct roost_op *op, int step)
{
    if (warm_n < 4 * WARM_OPS)
        warm_log[warm_n].tag = (int)(intptr_t)op->owner, warm_log[warm_n++].step = step;
}

static void on_warm(struct roost_reactor *r, struct roost_op *op, const struct io_uring_cqe *cqe)
{
    (void)cqe;
    if (warm_n < 4 * WARM_OPS)
        warm_log[warm_n].tag = (int)(intptr_t)op->owner, warm_log[warm_n++].step = -1;
    roost__op_free(r, op);
    atomic_fetch_add(&warm_done, 1);
}

static int stage_warm(void *arg)
{
    (void)arg;
    struct roost_reactor *r = roost_reactor_current();
    for (int k = 0; k < WARM_OPS; k++) {
        struct roost_op *op = roost__op_alloc(r, (uint8_t)warm_kind, on_warm, (void *)(intptr_t)k);
        struct io_uring_sqe *sqe = roost__reactor_sqe(r);
        if (!op || !sqe)
            return -ENOMEM;
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data64(sqe, roost__op_user_data(op));
        if (k == WARM_FREED)
            roost__op_free(r, op); /* its owner is gone: a prefetch must not look at it */
    }
    return 0;
}

/* Where in warm_log (tag, step) is, or -1. */
static int warm_at(int tag, int step)
{
    for (int i = 0; i < warm_n; i++)
        if (warm_log[i].tag == tag && warm_log[i].step == step)
            return i;
    return -1;
}

static void reap_warms_each_completion_before_its_handler(void **state)
{
    (void)state;
    if (warm_kind < 0) {
        warm_kind = roost__op_kind_register("test-warm", NULL);
        assert_true(warm_kind >= 0);
        roost__op_kind_set_prefetch((uint8_t)warm_kind, warm_prefetch);
    }
    roost_runtime *rt = test_runtime(1, NULL);
    warm_n = 0;
    atomic_store(&warm_done, 0);
    /* The NOPs complete at the enter that submits them: one reap sees most of them at once. */
    assert_int_equal(test_on_reactor(rt, 0, stage_warm, NULL), 0);
    assert_true(test_wait_at_least(&warm_done, WARM_OPS - 1, 5000));
    test_sleep_ms(20);
    roost_runtime_stop(rt); /* the log is the reactor's: read it once the thread is done */
    int warmed = 0;
    for (int k = 0; k < WARM_OPS; k++) {
        int run = warm_at(k, -1), step0 = warm_at(k, 0), step1 = warm_at(k, 1);
        if (k == WARM_FREED) {
            assert_true(run < 0 && step0 < 0 && step1 < 0);
            continue;
        }
        assert_true(run >= 0);
        assert_true(k == 0 || run > warm_at(k == WARM_FREED + 1 ? k - 2 : k - 1, -1)); /* order */
        /* Warmed first at step 0, then at step 1, then run; the first two of a reap are not. */
        if (step1 >= 0)
            assert_true(step1 < run && (step0 < 0 || step0 < step1));
        if (step0 >= 0)
            assert_true(step1 >= 0);
        warmed += step0 >= 0 && step1 >= 0;
    }
    printf("# %d of %d completions warmed at both steps\n", warmed, WARM_OPS - 1);
    assert_true(warmed >= WARM_OPS - 1 - 4); /* all but the first two of at most two reaps */
    assert_int_equal(test_stats(rt, 0).stale_cqes, 1);
    roost_runtime_destroy(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ring_mode_is_reported),
        cmocka_unit_test(sq_full_mid_batch_submits_and_drops_nothing),
        cmocka_unit_test(completion_for_recycled_slot_is_stale),
        cmocka_unit_test(at_most_one_enter_per_tick),
        cmocka_unit_test(busy_ticks_with_nothing_to_submit_skip_the_enter),
        cmocka_unit_test(reap_warms_each_completion_before_its_handler),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

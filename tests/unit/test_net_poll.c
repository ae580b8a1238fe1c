/*
 * roost_fd_poll: readiness through the ring, resuming at home; timeout; task cancel; a pool
 * task polling through a reactor and coming back to the pool; refusals; a reactor stop
 * failing a poll in flight.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support.h"

static roost_runtime *rt;
static int sv[2];

struct poll_case {
    roost_task_fn body;
    roost_reactor *home;
    roost_ctx *spawn_ctx;
    roost_task *task;
    _Atomic int started;
    int rc;
    bool home_after; /* where the task was after the await */
    uint64_t waited_ns;
};

static struct poll_case pc;

static int spawn_case(void *arg)
{
    (void)arg;
    return roost_spawn_on(pc.spawn_ctx, pc.body, &pc, &pc.task);
}

static int join_task(void *arg)
{
    return roost_join(arg);
}

static int cancel_case(void *arg)
{
    (void)arg;
    return roost_task_cancel(pc.task);
}

static void setup_case(roost_task_fn body, unsigned reactors, const struct roost_config *cfg)
{
    rt = test_runtime(reactors, cfg);
    memset(&pc, 0, sizeof(pc));
    pc.body = body;
    pc.home = roost_runtime_reactor(rt, reactors - 1);
    pc.spawn_ctx = roost_reactor_ctx(pc.home);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static void start_case(void)
{
    assert_int_equal(roost_ctx_send(roost_reactor_ctx(pc.home), spawn_case, NULL), 0);
}

static void teardown_case(void)
{
    roost_runtime_destroy(rt);
    close(sv[0]);
    close(sv[1]);
}

static void wait_started(void)
{
    uint64_t end = test_now_ns() + test_scaled_ms(10000) * 1000000u;
    while (!atomic_load(&pc.started) && test_now_ns() < end)
        test_sleep_ms(1);
    assert_true(atomic_load(&pc.started));
}

/* ---- readiness ---- */

static int poll_readable(void *arg)
{
    struct poll_case *c = arg;
    atomic_store(&c->started, 1);
    c->rc = roost_fd_poll(sv[0], POLLIN, 0);
    c->home_after = roost_reactor_current() == c->home;
    return 0;
}

static void poll_reports_readiness_and_resumes_at_home(void **state)
{
    (void)state;
    setup_case(poll_readable, 2, NULL);
    start_case();
    wait_started();
    test_sleep_ms(20); /* give the poll time to reach the ring; the result holds either way */
    assert_int_equal(write(sv[1], "x", 1), 1);
    assert_int_equal(roost_run(join_task, pc.task), 0);
    assert_true(pc.rc > 0 && (pc.rc & POLLIN));
    assert_true(pc.home_after);
    teardown_case();
}

/* ---- timeout ---- */

static int poll_times_out(void *arg)
{
    struct poll_case *c = arg;
    uint64_t t0 = test_now_ns();
    c->rc = roost_fd_poll(sv[0], POLLIN, 50);
    c->waited_ns = test_now_ns() - t0;
    c->home_after = roost_reactor_current() == c->home;
    return 0;
}

static void poll_with_nothing_to_read_returns_etimedout(void **state)
{
    (void)state;
    setup_case(poll_times_out, 1, NULL);
    start_case();
    assert_int_equal(roost_run(join_task, pc.task), 0);
    assert_int_equal(pc.rc, -ETIMEDOUT);
    assert_true(pc.waited_ns >= 50000000u);
    assert_true(pc.home_after);
    teardown_case();
}

/* ---- cancel ---- */

static void poll_cancelled_by_task_cancel_returns_ecanceled(void **state)
{
    (void)state;
    setup_case(poll_readable, 1, NULL);
    start_case();
    wait_started();
    test_sleep_ms(20);
    assert_int_equal(roost_ctx_send(roost_reactor_ctx(pc.home), cancel_case, NULL), 0);
    assert_int_equal(roost_run(join_task, pc.task), 0);
    assert_int_equal(pc.rc, -ECANCELED);
    assert_true(pc.home_after);
    teardown_case();
}

/* ---- a pool task (run-on=pool) ---- */

static int poll_from_pool(void *arg)
{
    struct poll_case *c = arg;
    atomic_store(&c->started, 1);
    /* Off a reactor the plain call is refused; the _on form goes through the named one. */
    if (roost_fd_poll(sv[0], POLLIN, 0) != -EPERM)
        return -EINVAL;
    c->rc = roost_fd_poll_on(c->home, sv[0], POLLIN, 0);
    c->home_after = roost_reactor_current() == NULL; /* back on a pool worker */
    return 0;
}

static void pool_task_polls_through_a_reactor_and_comes_back_to_the_pool(void **state)
{
    (void)state;
    struct roost_config cfg;
    roost_config_init(&cfg);
    cfg.run_on = ROOST_RUN_ON_POOL;
    cfg.pool_threads = 2;
    setup_case(poll_from_pool, 1, &cfg);
    pc.spawn_ctx = roost_pool_ctx(roost_runtime_pool(rt));
    start_case();
    wait_started();
    test_sleep_ms(20);
    assert_int_equal(write(sv[1], "x", 1), 1);
    assert_int_equal(roost_run(join_task, pc.task), 0);
    assert_true(pc.rc > 0 && (pc.rc & POLLIN));
    assert_true(pc.home_after);
    teardown_case();
}

/* ---- refusals ---- */

static void poll_outside_a_task_is_refused(void **state)
{
    (void)state;
    assert_int_equal(roost_fd_poll(0, POLLIN, 0), -EPERM);
}

/* ---- reactor stop ---- */

static void runtime_stop_fails_a_poll_in_flight_with_eshutdown(void **state)
{
    (void)state;
    setup_case(poll_readable, 1, NULL);
    start_case();
    wait_started();
    test_sleep_ms(20);
    roost_runtime_stop(rt);
    /* The stop's drain cancelled the poll and reaped its completion before the loop ended. */
    assert_int_equal(pc.rc, -ESHUTDOWN);
    roost_detach(pc.task);
    teardown_case();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(poll_reports_readiness_and_resumes_at_home),
        cmocka_unit_test(poll_with_nothing_to_read_returns_etimedout),
        cmocka_unit_test(poll_cancelled_by_task_cancel_returns_ecanceled),
        cmocka_unit_test(pool_task_polls_through_a_reactor_and_comes_back_to_the_pool),
        cmocka_unit_test(poll_outside_a_task_is_refused),
        cmocka_unit_test(runtime_stop_fails_a_poll_in_flight_with_eshutdown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

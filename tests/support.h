/* Shared helpers for roost's cmocka tests. */
#ifndef ROOST_TEST_SUPPORT_H
#define ROOST_TEST_SUPPORT_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <roost.h>

/*
 * One CTest entry per case (tests/CMakeLists.txt): the program runs only the case named by
 * ROOST_TEST_CASE (all of them when unset) and exits 77 if that case skipped, so CTest
 * shows it as skipped. ROOST_TEST_LIST=1 prints the case names instead. A test skips with
 * test_skip(), never with cmocka's skip() alone (which would pass).
 */
static bool test_skipped_;

#define test_skip()                                                                                \
    do {                                                                                           \
        test_skipped_ = true;                                                                      \
        skip();                                                                                    \
    } while (0)

static inline int test_run_group_(const char *group, const struct CMUnitTest *tests, size_t n,
                                  CMFixtureFunction setup, CMFixtureFunction teardown)
{
    if (getenv("ROOST_TEST_LIST")) {
        for (size_t i = 0; i < n; i++)
            printf("%s\n", tests[i].name);
        return 0;
    }
    const char *one = getenv("ROOST_TEST_CASE");
    if (one) {
        size_t i = 0;
        while (i < n && strcmp(tests[i].name, one) != 0)
            i++;
        if (i == n) {
            fprintf(stderr, "no test case named %s\n", one);
            return 1;
        }
        cmocka_set_test_filter(one);
    }
    int rc = _cmocka_run_group_tests(group, tests, n, setup, teardown);
    return one && rc == 0 && test_skipped_ ? 77 : rc;
}

#undef cmocka_run_group_tests
#define cmocka_run_group_tests(tests, setup, teardown)                                             \
    test_run_group_(#tests, tests, sizeof(tests) / sizeof((tests)[0]), setup, teardown)

/*
 * Checks in a task that runs on another thread (a reactor's, a pool worker's). cmocka's
 * assert_* may fail only on the test's own thread: from another one they jump into that
 * thread's frames and the program exits (status 255) without printing anything. In such a
 * task check with task_check / task_check_int / task_fail_msg: a failure is printed at once
 * (file, line, the expression and values), the first one is kept, and the task returns
 * TEST_TASK_FAILED. After joining, the test's thread calls assert_no_task_failure(), which
 * fails the test with that message.
 */
#define TEST_TASK_FAILED (-ENOTRECOVERABLE)

static char test_task_failure_[512];
static _Atomic bool test_task_failed_;

__attribute__((format(printf, 3, 4))) static inline void test_task_fail_(const char *file, int line,
                                                                         const char *fmt, ...)
{
    char what[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s:%d: failed in a task: %s\n", file, line, what);
    bool first = false;
    /* Read by the test's thread after it joined the task: the join orders the write. */
    if (atomic_compare_exchange_strong(&test_task_failed_, &first, true))
        snprintf(test_task_failure_, sizeof(test_task_failure_), "%s:%d: %s", file, line, what);
}

#define task_check(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            test_task_fail_(__FILE__, __LINE__, "%s", #cond);                                      \
            return TEST_TASK_FAILED;                                                               \
        }                                                                                          \
    } while (0)

#define task_check_int(a, b)                                                                       \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            test_task_fail_(__FILE__, __LINE__, "%s is %lld, expected %s (%lld)", #a, a_, #b, b_); \
            return TEST_TASK_FAILED;                                                               \
        }                                                                                          \
    } while (0)

#define task_fail_msg(...)                                                                         \
    do {                                                                                           \
        test_task_fail_(__FILE__, __LINE__, __VA_ARGS__);                                          \
        return TEST_TASK_FAILED;                                                                   \
    } while (0)

#define assert_no_task_failure()                                                                   \
    do {                                                                                           \
        if (atomic_exchange(&test_task_failed_, false))                                            \
            fail_msg("in a task: %s", test_task_failure_);                                         \
    } while (0)

static inline uint64_t test_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * ROOST_TEST_TIME_SCALE: one float multiplier (default 1) for every sleep and deadline in
 * the tests, for slow or crowded machines and valgrind (as libuv's test runner scales its
 * timeouts). Every test waits through test_scaled_ms / test_sleep_ms / test_wait_*.
 */
static inline double test_time_scale(void)
{
    const char *v = getenv("ROOST_TEST_TIME_SCALE");
    double f = v ? strtod(v, NULL) : 1.0;
    return f > 0 ? f : 1.0;
}

/* ms scaled by ROOST_TEST_TIME_SCALE. */
static inline uint64_t test_scaled_ms(uint64_t ms)
{
    return (uint64_t)((double)ms * test_time_scale() + 0.5);
}

/* A deadline timeout_ms (scaled) from now, in test_now_ns units. */
/* A timeout of a test in ms, stretched by ROOST_TEST_TIME_SCALE, for APIs that take unsigned. */
static inline unsigned test_ms(unsigned ms)
{
    return (unsigned)test_scaled_ms(ms);
}

static inline uint64_t test_deadline_ns(uint64_t timeout_ms)
{
    return test_now_ns() + test_scaled_ms(timeout_ms) * 1000000u;
}

/* Sleeps ms unscaled: for polling steps, whose count the scaled deadlines bound. */
static inline void test_poll_sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Sleeps ms scaled by ROOST_TEST_TIME_SCALE. */
static inline void test_sleep_ms(unsigned ms)
{
    uint64_t scaled = test_scaled_ms(ms);
    test_poll_sleep_ms(scaled > UINT32_MAX ? UINT32_MAX : (unsigned)scaled);
}

/* Starts a runtime with n reactors; cfg may be NULL for the defaults. */
static inline roost_runtime *test_runtime(unsigned n, const struct roost_config *base)
{
    struct roost_config cfg;
    if (base)
        cfg = *base;
    else
        roost_config_init(&cfg);
    cfg.reactors = n;
    roost_runtime *rt = NULL;
    int rc = roost_runtime_start(&cfg, &rt);
    assert_int_equal(rc, 0);
    assert_non_null(rt);
    return rt;
}

/* A blocking loopback connection to port whose receives time out after a scaled
 * recv_timeout_ms: a test waiting for an answer that never comes fails instead of hanging. */
static inline int test_connect_timed(uint16_t port, uint64_t recv_timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    uint64_t ms = test_scaled_ms(recv_timeout_ms);
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

/* Stops an HTTP test server and its runtime (grace: a scaled 2 s) and frees them. */
static inline void test_http_stop(roost_http_server *srv, roost_runtime *rt,
                                  roost_http_router *router)
{
    roost_http_server_shutdown(srv, test_scaled_ms(2000));
    roost_runtime_stop(rt);
    roost_http_server_free(srv);
    roost_runtime_destroy(rt);
    roost_http_router_free(router);
}

/* Runs fn on reactor i (blocking send from the test thread) and returns its result. */
static inline int test_on_reactor(roost_runtime *rt, unsigned i, roost_work_fn fn, void *arg)
{
    return roost_ctx_send(roost_reactor_ctx(roost_runtime_reactor(rt, i)), fn, arg);
}

/* Spawns fn(arg) where the caller runs (roost_spawn) and lets it run on its own. 0 or -errno. */
static inline int test_spawn_detached(roost_task_fn fn, void *arg)
{
    roost_task *t;
    int rc = roost_spawn(fn, arg, &t);
    if (rc == 0)
        roost_detach(t);
    return rc;
}

/* Waits until *v >= want or timeout_ms (scaled) passes; true if reached. */
static inline bool test_wait_at_least(_Atomic long *v, long want, unsigned timeout_ms)
{
    uint64_t end = test_deadline_ns(timeout_ms);
    while (atomic_load(v) < want) {
        if (test_now_ns() > end)
            return false;
        test_poll_sleep_ms(1);
    }
    return true;
}

static inline struct roost_stats test_stats(roost_runtime *rt, unsigned i)
{
    struct roost_stats s;
    roost_reactor_stats(roost_runtime_reactor(rt, i), &s);
    return s;
}

/* Waits until reactor i has made no tick for a while: it is parked in its enter. */
static inline void test_wait_parked(roost_runtime *rt, unsigned i)
{
    uint64_t end = test_deadline_ns(5000);
    uint64_t last = test_stats(rt, i).ticks;
    for (;;) {
        test_poll_sleep_ms(5);
        uint64_t now = test_stats(rt, i).ticks;
        if (now == last)
            return;
        last = now;
        assert_true(test_now_ns() < end);
    }
}

#endif

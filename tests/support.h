/* Shared helpers for roost's cmocka tests. */
#ifndef ROOST_TEST_SUPPORT_H
#define ROOST_TEST_SUPPORT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <roost.h>

static inline uint64_t test_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void test_sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/*
 * Test waits scale with ROOST_TEST_TIME_SCALE (a float multiplier, default 1) so that a slow
 * or crowded machine can stretch them: ms times the scale.
 */
static inline uint64_t test_scaled_ms(uint64_t ms)
{
    const char *s = getenv("ROOST_TEST_TIME_SCALE");
    double f = s ? strtod(s, NULL) : 1.0;
    return (uint64_t)((double)ms * (f > 0 ? f : 1.0));
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

/* Runs fn on reactor i (blocking send from the test thread) and returns its result. */
static inline int test_on_reactor(roost_runtime *rt, unsigned i, roost_work_fn fn, void *arg)
{
    return roost_ctx_send(roost_reactor_ctx(roost_runtime_reactor(rt, i)), fn, arg);
}

/* Waits until *v >= want or timeout_ms passes; true if reached. */
static inline bool test_wait_at_least(_Atomic long *v, long want, unsigned timeout_ms)
{
    uint64_t end = test_now_ns() + (uint64_t)timeout_ms * 1000000u;
    while (atomic_load(v) < want) {
        if (test_now_ns() > end)
            return false;
        test_sleep_ms(1);
    }
    return true;
}

static inline struct roost_stats test_stats(roost_runtime *rt, unsigned i)
{
    struct roost_stats s;
    roost_reactor_stats(roost_runtime_reactor(rt, i), &s);
    return s;
}

#endif

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <roost/reactor.h>

#include "http/date.h"

static _Thread_local struct {
    uint64_t valid_until_ns; /* CLOCK_MONOTONIC: when the wall-clock second changes */
    uint64_t gen;            /* texts built on this thread */
    char text[32];
} cache;

/*
 * Not inlined: a handler's task may migrate, so no TLS address is kept across calls.
 * On a reactor thread the check costs no clock read: the reactor's tick time is compared
 * with the monotonic instant the cached second ends, computed when the text was built.
 */
__attribute__((noinline)) const char *http_date_gen(uint64_t *gen)
{
    uint64_t mono = roost_reactor_now_ns();
    if (mono < cache.valid_until_ns && cache.text[0]) {
        *gen = cache.gen;
        return cache.text;
    }
    struct timespec real, fresh;
    clock_gettime(CLOCK_REALTIME, &real);
    clock_gettime(CLOCK_MONOTONIC, &fresh);
    struct tm tm;
    gmtime_r(&real.tv_sec, &tm);
    strftime(cache.text, sizeof(cache.text), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    /* The second shown ends 1e9 - tv_nsec from now, measured on the monotonic clock. */
    cache.valid_until_ns = (uint64_t)fresh.tv_sec * 1000000000u + (uint64_t)fresh.tv_nsec +
                           (1000000000u - (uint64_t)real.tv_nsec);
    *gen = ++cache.gen;
    return cache.text;
}

const char *http_date(void)
{
    uint64_t gen;
    return http_date_gen(&gen);
}

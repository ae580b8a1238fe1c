#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "http/date.h"

static _Thread_local struct {
    uint64_t valid_until_ns; /* CLOCK_MONOTONIC: when the wall-clock second changes */
    char text[32];
} cache;

/*
 * Not inlined: a handler's task may migrate, so no TLS address is kept across calls. The
 * caller passes its time (on a reactor, the tick time): checking the cache costs no clock
 * read, only a compare with the monotonic instant the cached second ends, computed when the
 * text was built.
 */
__attribute__((noinline)) const char *http_date_at(uint64_t now_ns, uint64_t *valid_until_ns)
{
    if (now_ns >= cache.valid_until_ns || !cache.text[0]) {
        struct timespec real, fresh;
        clock_gettime(CLOCK_REALTIME, &real);
        clock_gettime(CLOCK_MONOTONIC, &fresh);
        struct tm tm;
        gmtime_r(&real.tv_sec, &tm);
        strftime(cache.text, sizeof(cache.text), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        /* The second shown ends 1e9 - tv_nsec from now, measured on the monotonic clock. */
        cache.valid_until_ns = (uint64_t)fresh.tv_sec * 1000000000u + (uint64_t)fresh.tv_nsec +
                               (1000000000u - (uint64_t)real.tv_nsec);
    }
    *valid_until_ns = cache.valid_until_ns;
    return cache.text;
}

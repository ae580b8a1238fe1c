#include <stdio.h>
#include <time.h>

#include "http/date.h"

static _Thread_local struct {
    time_t second;
    char text[32];
} cache;

/* Not inlined: a handler's task may migrate, so no TLS address is kept across calls. */
__attribute__((noinline)) const char *http_date(void)
{
    time_t now = time(NULL);
    if (now != cache.second || !cache.text[0]) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(cache.text, sizeof(cache.text), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cache.second = now;
    }
    return cache.text;
}

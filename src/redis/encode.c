/*
 * Commands out: RESP arrays of bulk strings, appended to a growing buffer. Only the
 * encoder is ours; replies are parsed by hiredis's redisReader (link.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "redis/redis.h"

static size_t digits(size_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

static char *put_header(char *p, char kind, size_t v)
{
    *p++ = kind;
    size_t n = digits(v);
    for (size_t i = n; i > 0; i--) {
        p[i - 1] = (char)('0' + v % 10);
        v /= 10;
    }
    p += n;
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

int redis_encode(struct roost_redis_link *l, int argc, const char *const *argv,
                 const size_t *argvlen)
{
    if (argc <= 0)
        return -EINVAL;
    size_t need = 3 + digits((size_t)argc);
    for (int i = 0; i < argc; i++) {
        size_t len = argvlen ? argvlen[i] : strlen(argv[i]);
        need += 5 + digits(len) + len;
    }
    if (l->out_len + need > l->out_cap) {
        /* Grows geometrically and is kept across commands: steady state allocates nothing. */
        size_t cap = l->out_cap ? l->out_cap : 4096;
        while (cap < l->out_len + need)
            cap *= 2;
        char *p = realloc(l->out, cap);
        if (!p)
            return -ENOMEM;
        l->out = p;
        l->out_cap = cap;
    }
    char *p = put_header(l->out + l->out_len, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        size_t len = argvlen ? argvlen[i] : strlen(argv[i]);
        p = put_header(p, '$', len);
        memcpy(p, argv[i], len);
        p += len;
        *p++ = '\r';
        *p++ = '\n';
    }
    l->out_len = (size_t)(p - l->out);
    return 0;
}

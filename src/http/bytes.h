/* Internal: a growable byte buffer (a connection's input, output and body). */
#ifndef ROOST_HTTP_BYTES_H
#define ROOST_HTTP_BYTES_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct roost_bytes {
    char *p;
    size_t len, cap;
};

/* Makes room for n more bytes. 0 or -ENOMEM. */
static inline int http_bytes_reserve(struct roost_bytes *b, size_t n)
{
    if (b->len + n <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return -ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline int http_bytes_append(struct roost_bytes *b, const void *data, size_t n)
{
    if (n == 0) /* data and b->p may both be NULL: no pointer arithmetic on them */
        return 0;
    int rc = http_bytes_reserve(b, n);
    if (rc < 0)
        return rc;
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

static inline int http_bytes_append_str(struct roost_bytes *b, const char *s)
{
    return http_bytes_append(b, s, strlen(s));
}

/* Drops the first n bytes. */
static inline void http_bytes_consume(struct roost_bytes *b, size_t n)
{
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

static inline void http_bytes_free(struct roost_bytes *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

#endif

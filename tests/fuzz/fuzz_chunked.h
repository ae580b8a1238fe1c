/* Shared by the chunked and head-parser targets: decode a chunked body whole and in random
 * pieces (each an exact-size copy, the unconsumed rest fed again with more bytes, as the
 * server does) and check that both agree on the status, the decoded bytes and where the body
 * ends; decoded data never exceeds the input or max_body_bytes, a result is 0, -400, -413 or
 * -431, and errors are sticky. */
#ifndef ROOST_FUZZ_CHUNKED_H
#define ROOST_FUZZ_CHUNKED_H

#include <stdbool.h>

#include "fuzz.h"
#include "http/parser.h"

struct decoded {
    int r;
    bool done;
    size_t consumed, out_n;
};

static inline uint32_t next_rand(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 16;
}

static inline void decode(const uint8_t *body, size_t n, uint32_t seed, bool whole,
                          const struct roost_http_limits *lim, struct decoded *d, char *out)
{
    struct roost_http_chunked c;
    http_chunked_init(&c, lim);
    *d = (struct decoded){0};
    size_t off = 0, avail = whole ? n : (n ? 1 + next_rand(&seed) % n : 0);
    for (;;) {
        size_t wn = avail - off, used = 0;
        char *w = fuzz_copy(body + off, wn);
        struct roost_http_str data;
        bool done = false;
        int r = http_chunked_feed(&c, w, wn, &used, &data, &done);
        CHECK(used <= wn);
        if (r == 0 && data.n) {
            CHECK(data.p >= w && data.p + data.n <= w + used);
            CHECK(d->out_n + data.n <= n && d->out_n + data.n <= lim->max_body_bytes);
            memcpy(out + d->out_n, data.p, data.n);
            d->out_n += data.n;
        }
        free(w);
        if (r) {
            CHECK(r == -400 || r == -413 || r == -431);
            size_t again = 0;
            bool done2 = true;
            CHECK(http_chunked_feed(&c, "0", 1, &again, &data, &done2) == r);
            CHECK(again == 0 && !done2);
            d->r = r;
            break;
        }
        CHECK(used > 0 || done || wn == 0);
        off += used;
        if (done) {
            d->done = true;
            break;
        }
        if (off == avail) {
            if (avail == n)
                break;
            avail += 1 + next_rand(&seed) % (n - avail);
        }
    }
    d->consumed = off;
}

static inline void fuzz_check_chunked(const uint8_t *data, size_t size, uint32_t seed,
                                      const struct roost_http_limits *lim)
{
    char *a = malloc(size + 1), *b = malloc(size + 1);
    CHECK(a && b);
    struct decoded whole, pieces;
    decode(data, size, seed, true, lim, &whole, a);
    decode(data, size, seed, false, lim, &pieces, b);
    CHECK(whole.r == pieces.r && whole.done == pieces.done);
    if (whole.r == 0) {
        CHECK(whole.out_n == pieces.out_n && memcmp(a, b, whole.out_n) == 0);
        if (whole.done)
            CHECK(whole.consumed == pieces.consumed);
    }
    free(a);
    free(b);
}

#endif

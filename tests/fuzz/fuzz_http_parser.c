/* libFuzzer target for src/http/parser.c.
 *
 *   clang -std=gnu17 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
 *       src/http/parser.c tests/fuzz/fuzz_http_parser.c -o /tmp/fuzz_http_parser
 *   /tmp/fuzz_http_parser -max_len=2048 -max_total_time=60 CORPUS_DIR
 *
 * Byte 0 picks the limits (default or tiny, so the 413/414/431 paths are reached) and the
 * feeding step; the rest is the input. Beyond "no crash, no out-of-bounds read" (every parse
 * runs on an exact-size copy) it checks the properties the unit tests promise:
 *   - a result is one of the documented statuses, and an accepted head is self-consistent;
 *   - http_parse_head (whose fast path takes most heads) and http_parse_head_general (rule by
 *     rule) give the same verdict and the same spans;
 *   - every prefix of the input gets 0 or the same verdict (0 below head_len when accepted),
 *     from the stateless parser and from the incremental one fed in pieces;
 *   - an accepted head that follows itself is answered by http_parse_head_repeat as a parse
 *     answers it, and not at all once a byte of it differs;
 *   - a chunked body decodes to the same bytes, status and end however it is split
 *     (fuzz_chunked.h).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_chunked.h"
#include "http/parser.h"

static bool known_status(int r)
{
    return r == -400 || r == -413 || r == -414 || r == -417 || r == -431 || r == -501 || r == -505;
}

static bool span_in(struct roost_http_str s, const char *buf, size_t len)
{
    return !s.p || (s.p >= buf && s.p + s.n <= buf + len);
}

static void check_request(const struct roost_http_request *q, const char *buf, size_t len,
                          const struct roost_http_limits *lim)
{
    CHECK(q->head_len <= len);
    CHECK(q->version_minor == 0 || q->version_minor == 1);
    CHECK(span_in(q->method, buf, len) && q->method.n > 0);
    CHECK(span_in(q->target, buf, len) && q->target.n > 0);
    CHECK(span_in(q->query, buf, len) && span_in(q->host, buf, len));
    /* path may be the static "/" or "*" */
    CHECK(span_in(q->path, buf, len) ||
          (q->path.n == 1 && (*q->path.p == '/' || *q->path.p == '*')));
    CHECK(q->header_count <= ROOST_HTTP_MAX_HEADERS && q->header_count <= lim->max_headers);
    for (unsigned i = 0; i < q->header_count; i++) {
        CHECK(span_in(q->headers[i].name, buf, len) && q->headers[i].name.n > 0);
        CHECK(span_in(q->headers[i].value, buf, len));
    }
    CHECK(!(q->chunked && q->has_content_length));
    CHECK(!q->has_content_length || q->content_length <= lim->max_body_bytes);
    CHECK(q->version_minor == 0 || q->host.p);
    CHECK(q->head_len <= lim->max_head_bytes);
}

/* Two parses of the same head (whole, prefix, pieces) agree on what the server acts on. */
static bool same_verdict(const struct roost_http_request *a, const struct roost_http_request *b)
{
    return a->head_len == b->head_len && a->header_count == b->header_count &&
           a->chunked == b->chunked && a->content_length == b->content_length &&
           a->keep_alive == b->keep_alive;
}

static bool same_str(struct roost_http_str a, struct roost_http_str b)
{
    return a.p == b.p && a.n == b.n;
}

/* Two parses of the same buffer agree on every field and span. */
static bool same_request(const struct roost_http_request *a, const struct roost_http_request *b)
{
    if (!same_verdict(a, b) || !same_str(a->method, b->method) || !same_str(a->target, b->target) ||
        !same_str(a->query, b->query) || !same_str(a->host, b->host) || a->path.n != b->path.n ||
        (a->path.n && memcmp(a->path.p, b->path.p, a->path.n) != 0) ||
        a->target_form != b->target_form || a->version_minor != b->version_minor ||
        a->expect_continue != b->expect_continue || a->has_content_length != b->has_content_length)
        return false;
    for (unsigned i = 0; i < a->header_count; i++)
        if (!same_str(a->headers[i].name, b->headers[i].name) ||
            !same_str(a->headers[i].value, b->headers[i].value))
            return false;
    return true;
}

/* The verdict rk on the first k bytes (filling pq) against r on the whole input (filling q). */
static void check_prefix(int r, const struct roost_http_request *q, size_t k, int rk,
                         const struct roost_http_request *pq)
{
    if (r > 0)
        CHECK(k < (size_t)r ? rk == 0 : rk == r);
    else
        CHECK(rk == 0 || rk == r);
    if (rk > 0)
        CHECK(same_verdict(pq, q));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t cfg = data[0];
    data++;
    size--;
    struct roost_http_limits lim = ROOST_HTTP_LIMITS_DEFAULT;
    if (cfg & 1)
        lim = (struct roost_http_limits){
            .max_head_bytes = 96, .max_body_bytes = 64, .max_headers = 4};
    size_t step = (size_t)(cfg >> 4) + 1;

    if (cfg & 2) { /* the input is a chunked body */
        fuzz_check_chunked(data, size, (uint32_t)step, &lim);
        return 0;
    }

    struct roost_http_request *q = malloc(sizeof(*q));
    CHECK(q);
    char *buf = fuzz_copy(data, size);
    int r = http_parse_head(buf, size, &lim, q);
    CHECK(r >= 0 || known_status(r));
    if (r > 0) {
        CHECK((size_t)r == q->head_len);
        check_request(q, buf, size, &lim);
    }
    struct roost_http_request *g = malloc(sizeof(*g));
    CHECK(g);
    memset(g, 0x5a, sizeof(*g));
    CHECK(http_parse_head_general(buf, size, &lim, g) == r);
    if (r > 0)
        CHECK(same_request(q, g));
    free(g);

    /* Every prefix (sampled past 512 bytes to keep the run fast). */
    struct roost_http_request *pq = malloc(sizeof(*pq));
    CHECK(pq);
    size_t stride = size <= 512 ? 1 : size / 256;
    for (size_t k = 0; k < size; k += stride) {
        char *pb = fuzz_copy(data, k);
        int rk = http_parse_head(pb, k, &lim, pq);
        check_prefix(r, q, k, rk, pq);
        free(pb);
    }

    /* The incremental parser, fed `step` bytes at a time from moving copies: 0 or the same
     * verdict; an accepted head is accepted at the first call that holds all of it. */
    struct http_head_progress hp = {0};
    char *prev = NULL;
    for (size_t k = step < size ? step : size; k <= size; k += step) {
        char *pb = fuzz_copy(data, k);
        int rk = http_parse_head_more(pb, k, &lim, pq, &hp);
        free(prev);
        prev = pb;
        check_prefix(r, q, k, rk, pq);
        if (rk != 0 || k == size)
            break;
        if (k + step > size)
            k = size - step; /* the last call sees every byte */
    }
    free(prev);

    /* An accepted head, then the whole input again: the second head repeats the first, and
     * http_parse_head_repeat answers it as a parse does; with one byte of it changed, 0. */
    if (r > 0) {
        size_t h = (size_t)r, n2 = h + size;
        char *two = malloc(n2);
        CHECK(two);
        memcpy(two, data, h);
        memcpy(two + h, data, size);
        struct http_head_progress hp2 = {0};
        CHECK(http_parse_head_more(two, n2, &lim, pq, &hp2) == r);
        CHECK(http_parse_head_repeat(two + h, size, h, pq, &hp2) == r);
        struct roost_http_request *again = malloc(sizeof(*again));
        CHECK(again);
        CHECK(http_parse_head(two + h, size, &lim, again) == r);
        CHECK(same_request(pq, again));
        two[h + (size_t)cfg % h] ^= 0x20;
        CHECK(http_parse_head_repeat(two + h, size, h, pq, &hp2) == 0);
        free(again);
        free(two);
    }

    if (r > 0 && q->chunked)
        fuzz_check_chunked(data + r, size - (size_t)r, (uint32_t)step, &lim);
    free(pq);
    free(q);
    free(buf);
    return 0;
}

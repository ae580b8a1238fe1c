/* libFuzzer target: path decoding and normalisation, then routing (src/http/router.c).
 *
 * The input is a path. http_path_normalize must never grow it, must leave no "." or
 * ".." segment, must agree with http_path_is_normal about leaving it unchanged, and
 * must be idempotent on its own output (when that output holds no "%", which decoding would
 * read again). The normalised path is then matched against a fixed router: a match's params
 * lie inside the path, 404/405 as documented, and the Allow list always ends in OPTIONS.
 */
#include <errno.h>

#include "fuzz.h"
#include "http/router.h"

static int h(roost_http_req *q, roost_http_res *s, void *a)
{
    (void)q, (void)s, (void)a;
    return 0;
}

static roost_http_router *router(void)
{
    static roost_http_router *r;
    if (r)
        return r;
    CHECK(roost_http_router_create(&r) == 0);
    static const char *const routes[][2] = {
        {"GET", "/"},          {"GET", "/plaintext"},   {"GET", "/users/:id"},
        {"PUT", "/users/:id"}, {"GET", "/a/:b/c/:d"},   {NULL, "/any/:x"},
        {"POST", "/a/b"},      {"OPTIONS", "/options"}, {"GET", "/:p1/:p2/:p3/:p4/:p5/:p6"},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        CHECK(roost_http_route(r, routes[i][0], routes[i][1], h, NULL) == 0);
    return r;
}

static bool has_dot_segment(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '/')
            continue;
        size_t j = i + 1, k = j;
        while (k < n && p[k] != '/')
            k++;
        if ((k - j == 1 && p[j] == '.') || (k - j == 2 && p[j] == '.' && p[j + 1] == '.'))
            return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "HEAD", "PUT", "POST", "OPTIONS", "DELETE"};
    if (size < 1)
        return 0;
    const char *method = methods[data[0] % 6];
    data++;
    size--;
    char *raw = fuzz_copy(data, size);
    char *out = malloc(size ? size : 1), *again = malloc(size ? size : 1);
    CHECK(out && again);
    int n = http_path_normalize(raw, size, out);
    CHECK(n == -EINVAL || (n >= 1 && (size_t)n <= size));
    if (n > 0) {
        CHECK(out[0] == '/' && !has_dot_segment(out, (size_t)n));
        bool normal = http_path_is_normal(raw, size);
        CHECK(normal == ((size_t)n == size && memcmp(out, raw, size) == 0));
        if (!memchr(out, '%', (size_t)n)) {
            int m = http_path_normalize(out, (size_t)n, again);
            CHECK(m == n && memcmp(again, out, (size_t)n) == 0);
        }
        struct roost_http_match match;
        struct roost_str path = {out, (size_t)n};
        int r =
            http_router_match(router(), (struct roost_str){method, strlen(method)}, path, &match);
        CHECK(r == 0 || r == 404 || r == 405);
        if (r == 0) {
            CHECK(match.handler == h && match.nparams <= ROOST_HTTP_MAX_PARAMS);
            for (unsigned i = 0; i < match.nparams; i++)
                CHECK(match.params[i].value.p >= out && match.params[i].value.n > 0 &&
                      match.params[i].value.p + match.params[i].value.n <= out + n);
        }
        char allow[64];
        size_t an = http_router_allow(router(), path, allow, sizeof(allow));
        CHECK(an < sizeof(allow) && strlen(allow) == an);
        CHECK(an >= 7 && !strcmp(allow + an - 7, "OPTIONS"));
    }
    free(raw);
    free(out);
    free(again);
    return 0;
}

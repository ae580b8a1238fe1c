/* libFuzzer target: the query-string functions (roost_http_query_*).
 *
 * The input is a query. Iteration must cover it: the pairs it returns lie inside the query,
 * in order, without overlap, and never contain "&"; a name never contains "=". Decoding a
 * name or value never yields more bytes than it read, and fails only on a bad escape or a
 * short buffer. roost_http_query_get must find the first pair whose decoded name matches,
 * with the same decoded value as decoding that pair by hand.
 */
#include <errno.h>

#include <roost/http.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *q = fuzz_copy(data, size);
    struct roost_str query = {q, size};
    size_t pos = 0, last_end = 0;
    struct roost_str k, v;
    unsigned pairs = 0;
    char name[256], value[256], got[257];
    while (roost_http_query_next(query, &pos, &k, &v)) {
        CHECK(k.p >= q + last_end && v.p + v.n <= q + size && pos <= size);
        CHECK(!memchr(k.p, '&', k.n) && !memchr(k.p, '=', k.n) && !memchr(v.p, '&', v.n));
        last_end = (size_t)(v.p + v.n - q);
        int kn = roost_http_query_decode(k, name, sizeof(name) - 1);
        int vn = roost_http_query_decode(v, value, sizeof(value));
        CHECK(kn == -EINVAL || kn == -ENOSPC || (kn >= 0 && (size_t)kn <= k.n));
        CHECK(vn == -EINVAL || vn == -ENOSPC || (vn >= 0 && (size_t)vn <= v.n));
        if (kn >= 0 && !memchr(name, 0, (size_t)kn) && pairs++ < 16) {
            name[kn] = 0;
            /* the first pair with this decoded name: is it this one? */
            size_t p2 = 0;
            struct roost_str k2, v2;
            char n2[256];
            while (roost_http_query_next(query, &p2, &k2, &v2)) {
                int n2n = roost_http_query_decode(k2, n2, sizeof(n2));
                if (n2n == kn && !memcmp(n2, name, (size_t)kn))
                    break;
            }
            int r = roost_http_query_get(query, name, got, sizeof(got));
            if (k2.p == k.p) {
                CHECK(r == vn || (vn == -ENOSPC && r >= 0));
                if (vn >= 0)
                    CHECK(!memcmp(got, value, (size_t)vn) && got[vn] == 0);
            }
        }
    }
    CHECK(pos == size || !size);
    free(q);
    return 0;
}

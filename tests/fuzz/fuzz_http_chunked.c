/* libFuzzer target: the chunked decoder alone (RFC 9112 §7.1).
 *
 * Byte 0 picks the limits (default or tiny) and, with byte 1, seeds the split points; the
 * rest is a chunked body, checked by fuzz_check_chunked (fuzz_chunked.h): whole and in
 * random pieces it must decode the same.
 */
#include "fuzz_chunked.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    struct roost_http_limits lim = ROOST_HTTP_LIMITS_DEFAULT;
    if (data[0] & 1)
        lim = (struct roost_http_limits){
            .max_head_bytes = 32, .max_body_bytes = 64, .max_headers = 2};
    uint32_t seed = data[1] | (uint32_t)data[0] << 8;
    fuzz_check_chunked(data + 2, size - 2, seed, &lim);
    return 0;
}

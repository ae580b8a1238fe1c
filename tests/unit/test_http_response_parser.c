/*
 * http_parse_response_head: the status line and fields of a response, as strict as the
 * request parser, and a prefix of a response never gets a different verdict than the whole.
 */
#include <string.h>

#include "support.h"

#include "http/parser.h"

static int parse(const char *s, struct roost_http_response_head *h)
{
    return http_parse_response_head(s, strlen(s), NULL, h);
}

/* Every proper prefix needs more bytes or gets the whole's error. */
static void assert_prefixes_agree(const char *s)
{
    struct roost_http_response_head h;
    int whole = parse(s, &h);
    for (size_t n = 0; n < strlen(s); n++) {
        int r = http_parse_response_head(s, n, NULL, &h);
        if (r != 0 && r != whole)
            fail_msg("prefix %zu of %s: %d, whole %d", n, s, r, whole);
    }
}

static void a_valid_head_is_parsed(void **state)
{
    (void)state;
    static const char s[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 7\r\nX-A:  b \r\n\r\nbody";
    struct roost_http_response_head h;
    assert_int_equal(parse(s, &h), (int)strlen(s) - 4);
    assert_int_equal(h.status, 404);
    assert_int_equal(h.version_minor, 1);
    assert_int_equal(h.reason.n, 9);
    assert_true(h.has_content_length);
    assert_int_equal(h.content_length, 7);
    assert_int_equal(h.header_count, 2);
    assert_memory_equal(h.headers[1].value.p, "b", 1);
    assert_true(h.keep_alive);
    assert_false(h.chunked);
    assert_prefixes_agree(s);
}

static void connection_and_version_decide_keep_alive(void **state)
{
    (void)state;
    struct roost_http_response_head h;
    assert_true(parse("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", &h) > 0);
    assert_false(h.keep_alive);
    assert_true(parse("HTTP/1.0 200 OK\r\n\r\n", &h) > 0);
    assert_false(h.keep_alive);
    assert_true(parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", &h) > 0);
    assert_true(h.keep_alive);
    assert_true(parse("HTTP/1.1 200 \r\nTransfer-Encoding: chunked\r\n\r\n", &h) > 0);
    assert_true(h.chunked);
}

static void malformed_heads_are_rejected_at_every_prefix(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int want;
    } bad[] = {
        {"HTTP/1.1 2x0 OK\r\n\r\n", -400},
        {"HTTP/1.1 200\r\n\r\n", -400},
        {"HTTP/2.0 200 OK\r\n\r\n", -505},
        {"HTTP/1.1 099 Low\r\n\r\n", -400},
        {"HTTP/1.1 200 OK\rX\r\n\r\n", -400},
        {"HTTP/1.1 200 OK\r\n Folded: x\r\n\r\n", -400},
        {"HTTP/1.1 200 OK\r\nA : b\r\n\r\n", -400},
        {"HTTP/1.1 200 OK\r\nA: b\x01\r\n\r\n", -400},
        {"HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\n", -400},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", -400},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", -501},
        {"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", -400},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct roost_http_response_head h;
        int r = parse(bad[i].s, &h);
        if (r != bad[i].want)
            fail_msg("%s: %d, want %d", bad[i].s, r, bad[i].want);
        assert_prefixes_agree(bad[i].s);
    }
}

static void limits_give_431_and_413(void **state)
{
    (void)state;
    struct roost_http_limits lim = {.max_head_bytes = 32, .max_body_bytes = 10, .max_headers = 2};
    struct roost_http_response_head h;
    const char *s = "HTTP/1.1 200 OK\r\nX-Long: aaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    assert_int_equal(http_parse_response_head(s, strlen(s), &lim, &h), -431);
    lim.max_head_bytes = 1024;
    s = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n";
    assert_int_equal(http_parse_response_head(s, strlen(s), &lim, &h), -413);
    s = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    assert_int_equal(http_parse_response_head(s, strlen(s), &lim, &h), -431);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_valid_head_is_parsed),
        cmocka_unit_test(connection_and_version_decide_keep_alive),
        cmocka_unit_test(malformed_heads_are_rejected_at_every_prefix),
        cmocka_unit_test(limits_give_431_and_413),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

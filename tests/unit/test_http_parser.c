/* HTTP/1.1 request parser (src/http/parser.c): what RFC 9112 accepts, what it rejects with
 * which status, and that feeding the same bytes in pieces never changes the verdict.
 *
 * Every parse runs on an exact-size heap copy of the bytes, so a read past len is an ASan error
 * rather than a silent pass. Every request that goes through ok()/bad() is also parsed at every
 * prefix length: a valid request must give 0 until complete and then the same result; an
 * invalid one must give 0 or the same error at every prefix, and never be accepted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/parser.h"
#include "support.h"

/* Buffers whose spans a test still inspects; freed by the teardown. */
static char *kept[256];
static size_t n_kept;

static int release(void **state)
{
    (void)state;
    while (n_kept)
        free(kept[--n_kept]);
    return 0;
}

static char *copy_of(const char *s, size_t n)
{
    char *b = malloc(n ? n : 1);
    assert_non_null(b);
    if (n)
        memcpy(b, s, n);
    return b;
}

static char *keep(char *b)
{
    assert_true(n_kept < sizeof(kept) / sizeof(kept[0]));
    kept[n_kept++] = b;
    return b;
}

static bool str_is(struct roost_http_str s, const char *lit)
{
    return s.p && s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

/* Same span: same presence, same bytes, and the same offset when it points into its buffer. */
static void assert_same_str(struct roost_http_str a, const char *abuf, size_t alen,
                            struct roost_http_str b, const char *bbuf, size_t blen)
{
    assert_int_equal(a.p == NULL, b.p == NULL);
    assert_int_equal(a.n, b.n);
    if (!a.p)
        return;
    assert_memory_equal(a.p, b.p, a.n);
    bool a_in = a.p >= abuf && a.p <= abuf + alen, b_in = b.p >= bbuf && b.p <= bbuf + blen;
    assert_int_equal(a_in, b_in);
    if (a_in)
        assert_int_equal(a.p - abuf, b.p - bbuf);
}

static void assert_same_req(const struct roost_http_request *a, const char *abuf, size_t alen,
                            const struct roost_http_request *b, const char *bbuf, size_t blen)
{
#define SAME(f) assert_same_str(a->f, abuf, alen, b->f, bbuf, blen)
    SAME(method);
    SAME(target);
    SAME(path);
    SAME(query);
    SAME(host);
    assert_int_equal(a->target_form, b->target_form);
    assert_int_equal(a->version_minor, b->version_minor);
    assert_int_equal(a->header_count, b->header_count);
    for (unsigned i = 0; i < a->header_count; i++) {
        SAME(headers[i].name);
        SAME(headers[i].value);
    }
    assert_int_equal(a->keep_alive, b->keep_alive);
    assert_int_equal(a->expect_continue, b->expect_continue);
    assert_int_equal(a->chunked, b->chunked);
    assert_int_equal(a->has_content_length, b->has_content_length);
    assert_int_equal(a->content_length, b->content_length);
    assert_int_equal(a->head_len, b->head_len);
#undef SAME
}

/* Parse s[0..n) (which may carry bytes after the head), expect success, and check every prefix:
 * 0 below head_len, the identical result from head_len on. *req points into a kept copy. */
static int ok_lim(const char *s, size_t n, const struct roost_http_limits *lim,
                  struct roost_http_request *req)
{
    char *buf = keep(copy_of(s, n));
    int r = http_parse_head(buf, n, lim, req);
    if (r <= 0)
        print_error("request \"%.*s\": got %d, want success\n", (int)n, s, r);
    assert_true(r > 0);
    assert_int_equal((size_t)r, req->head_len);
    assert_true((size_t)r <= n);
    struct roost_http_request g;
    assert_int_equal(http_parse_head_general(buf, n, lim, &g), r);
    assert_same_req(req, buf, n, &g, buf, n);
    for (size_t k = 0; k <= n; k++) {
        struct roost_http_request q;
        char *pb = copy_of(s, k);
        int rk = http_parse_head(pb, k, lim, &q);
        if ((k < (size_t)r && rk != 0) || (k >= (size_t)r && rk != r))
            print_error("request \"%.*s\": prefix %zu gave %d\n", (int)n, s, k, rk);
        if (k < (size_t)r) {
            assert_int_equal(rk, 0);
        } else {
            assert_int_equal(rk, r);
            assert_same_req(req, buf, n, &q, pb, k);
        }
        free(pb);
    }
    /* Fed a byte at a time to the incremental parser, each time from a fresh copy (the bytes
     * move, as in a connection's growing buffer): 0 until head_len, then the same result. */
    struct http_head_progress hp = {0};
    struct roost_http_request iq;
    char *prev = NULL;
    for (size_t k = 1; k <= n; k++) {
        char *pb = copy_of(s, k);
        int rk = http_parse_head_more(pb, k, lim, &iq, &hp);
        free(prev);
        prev = pb;
        if (k < (size_t)r) {
            if (rk != 0)
                print_error("request \"%.*s\": incremental prefix %zu gave %d\n", (int)n, s, k, rk);
            assert_int_equal(rk, 0);
            continue;
        }
        assert_int_equal(rk, r);
        assert_same_req(req, buf, n, &iq, pb, k);
        break;
    }
    free(prev);
    return r;
}

/* Parse s[0..n), expect -status, and at every prefix either 0 or the same -status. */
static void bad_lim(const char *s, size_t n, const struct roost_http_limits *lim, int status)
{
    struct roost_http_request req;
    for (size_t k = 0; k <= n; k++) {
        char *pb = copy_of(s, k);
        int rk = http_parse_head(pb, k, lim, &req);
        free(pb);
        if (rk != -status && (k == n || rk != 0))
            print_error("request \"%.*s\": prefix %zu of %zu gave %d, want -%d\n", (int)n, s, k, n,
                        rk, status);
        assert_true(rk == -status || (k < n && rk == 0));
    }
    /* Incrementally, a byte at a time: 0 until the error shows, then the same error (it may
     * show later: at the end of the line holding it, see http_parse_head_more). */
    struct http_head_progress hp = {0};
    char *prev = NULL;
    for (size_t k = 1; k <= n; k++) {
        char *pb = copy_of(s, k);
        int rk = http_parse_head_more(pb, k, lim, &req, &hp);
        free(prev);
        prev = pb;
        if (rk != 0 && rk != -status)
            print_error("request \"%.*s\": incremental prefix %zu gave %d, want -%d\n", (int)n, s,
                        k, rk, status);
        assert_true(rk == 0 || rk == -status);
        if (rk)
            break;
    }
    free(prev);
}

#define OK(s, req) ok_lim((s), strlen(s), NULL, (req))
#define BAD(s, status) bad_lim((s), strlen(s), NULL, (status))
#define BAD_N(s, status) bad_lim((s), sizeof(s) - 1, NULL, (status))

#define H11 " HTTP/1.1\r\nHost: example.com\r\n"

/* ---- request line, RFC 9112 §3 ---- */

/* Methods, paths and field names are scanned 16 bytes at a time for their common bytes, then
 * byte by byte: every other byte, valid or not, must be judged the same at any offset, inside
 * the first block, at its edge or after it. */
static void test_bytes_around_16_byte_blocks(void **state)
{
    (void)state;
    static const struct {
        const char *tail;         /* after "/" + k x 'a' */
        const char *path, *query; /* what follows the a's in the path, the query (NULL: none) */
        int status;               /* 0: valid */
    } paths[] = {
        {"~b", "~b", NULL, 0},
        {"_b", "_b", NULL, 0},
        {".b", ".b", NULL, 0},
        {"%41b", "%41b", NULL, 0},
        {"!$&'()*+,;=:@b", "!$&'()*+,;=:@b", NULL, 0},
        {"?q=1", "", "q=1", 0},
        {"<b", NULL, NULL, 400},
        {"\"b", NULL, NULL, 400},
        {"%00b", NULL, NULL, 400},
        {"\x80"
         "b",
         NULL, NULL, 400},
        {"\tb", NULL, NULL, 400},
    };
    char req[256], want[128];
    for (int k = 0; k <= 40; k++) {
        char as[64];
        memset(as, 'a', (size_t)k);
        as[k] = 0;
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
            snprintf(req, sizeof(req), "GET /%s%s" H11 "\r\n", as, paths[i].tail);
            if (paths[i].status) {
                BAD(req, paths[i].status);
                continue;
            }
            struct roost_http_request r;
            OK(req, &r);
            snprintf(want, sizeof(want), "/%s%s", as, paths[i].path);
            assert_true(str_is(r.path, want));
            if (paths[i].query)
                assert_true(str_is(r.query, paths[i].query));
            else
                assert_null(r.query.p);
        }
        /* field names: tchars outside the common set pass, others are 400 */
        snprintf(req, sizeof(req), "GET /" H11 "X%s_z.y~: v\r\n\r\n", as);
        struct roost_http_request r;
        OK(req, &r);
        snprintf(want, sizeof(want), "X%s_z.y~", as);
        assert_true(str_is(r.headers[1].name, want));
        snprintf(req, sizeof(req), "GET /" H11 "X%s/z: v\r\n\r\n", as);
        BAD(req, 400);
        snprintf(req, sizeof(req), "GET /" H11 "X%s : v\r\n\r\n", as);
        BAD(req, 400);
        /* methods up to ROOST_HTTP_MAX_METHOD bytes are parsed, longer ones are 501 */
        if (k >= 1 && k <= ROOST_HTTP_MAX_METHOD + 1) {
            char m[ROOST_HTTP_MAX_METHOD + 2];
            memset(m, 'M', (size_t)k);
            m[k] = 0;
            snprintf(req, sizeof(req), "%s /" H11 "\r\n", m);
            if (k <= ROOST_HTTP_MAX_METHOD) {
                OK(req, &r);
                assert_true(str_is(r.method, m));
            } else {
                BAD(req, 501);
            }
        }
        release(NULL); /* the parsed copies of this k */
    }
}

static void test_request_line_fields(void **state)
{
    (void)state;
    struct roost_http_request r;
    const char *s = "GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
    assert_int_equal(OK(s, &r), strlen(s));
    assert_true(str_is(r.method, "GET"));
    assert_true(str_is(r.target, "/index.html"));
    assert_true(str_is(r.path, "/index.html"));
    assert_null(r.query.p);
    assert_int_equal(r.target_form, ROOST_HTTP_TARGET_ORIGIN);
    assert_int_equal(r.version_minor, 1);
    assert_int_equal(r.header_count, 2);
    assert_true(str_is(r.headers[0].name, "Host"));
    assert_true(str_is(r.headers[0].value, "example.com"));
    assert_true(str_is(r.headers[1].name, "Accept"));
    assert_true(str_is(r.headers[1].value, "*/*"));
    assert_true(str_is(r.host, "example.com"));
    assert_true(r.keep_alive);
    assert_false(r.expect_continue);
    assert_false(r.chunked);
    assert_false(r.has_content_length);
    /* methods are case-sensitive tokens (RFC 9110 §9.1): "get" is a different, valid method */
    OK("get /" H11 "\r\n", &r);
    assert_true(str_is(r.method, "get"));
    OK("M-SEARCH.x!~ /" H11 "\r\n", &r);
    assert_true(str_is(r.method, "M-SEARCH.x!~"));
}

static void test_origin_form_path_query_split(void **state)
{
    (void)state;
    struct roost_http_request r;
    OK("GET /a/b?x=1&y=/?z" H11 "\r\n", &r);
    assert_true(str_is(r.path, "/a/b"));
    assert_true(str_is(r.query, "x=1&y=/?z"));
    OK("GET /a?" H11 "\r\n", &r);
    assert_true(str_is(r.path, "/a"));
    assert_non_null(r.query.p); /* present but empty */
    assert_int_equal(r.query.n, 0);
    OK("GET /?q" H11 "\r\n", &r);
    assert_true(str_is(r.path, "/"));
    assert_true(str_is(r.query, "q"));
    OK("GET /%7Euser/a%20b?q=%2F;x=(1)!$&'*+,@: HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    assert_true(str_is(r.path, "/%7Euser/a%20b"));
    assert_true(str_is(r.query, "q=%2F;x=(1)!$&'*+,@:"));
}

static void test_leading_empty_lines_ignored(void **state)
{
    (void)state;
    struct roost_http_request r;
    const char *s = "\r\n\r\nGET /" H11 "\r\n";
    assert_int_equal(OK(s, &r), strlen(s)); /* head_len counts the skipped lines */
    assert_true(str_is(r.method, "GET"));
    BAD("\r\r\nGET /" H11 "\r\n", 400);
}

/* Choice: a bare LF is not a line terminator (RFC 9112 §2.2 makes accepting it a MAY). */
static void test_bare_lf_rejected(void **state)
{
    (void)state;
    BAD("GET / HTTP/1.1\nHost: a\n\n", 400);
    BAD("GET / HTTP/1.1\r\nHost: a\n\r\n", 400);
    BAD("GET / HTTP/1.1\r\nHost: a\r\n\n", 400);
    BAD("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("GET / HTTP/1.1\r\nHost: a\r\nX: a\nb\r\n\r\n", 400);
}

static void test_bare_cr_rejected(void **state)
{
    (void)state;
    BAD("GET / HTTP/1.1\rHost: a\r\n\r\n", 400);
    BAD("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("GET\r/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400);
    BAD("GET / HTTP/1.1\r\nHost: a\r\nX\r: b\r\n\r\n", 400);
    BAD("GET / HTTP/1.1\r\nHost: a\r\n\rX\r\n", 400);
    BAD("\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

static void test_method_must_be_token(void **state)
{
    (void)state;
    BAD("GE(T /" H11 "\r\n", 400);
    BAD("G\"ET /" H11 "\r\n", 400);
    BAD(" / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("GET\t/" H11 "\r\n", 400);
    BAD("GÉT /" H11 "\r\n", 400);
}

/* RFC 9110 §9.1: a method longer than any the server knows is 501, as soon as it is known (not
 * 431 once the head limit is reached). A method of exactly the maximum length still parses. */
static void test_long_method_501_rfc9110_9_1(void **state)
{
    (void)state;
    char m[ROOST_HTTP_MAX_METHOD + 2];
    memset(m, 'X', sizeof(m) - 1);
    m[sizeof(m) - 1] = 0; /* 33 token bytes */
    char req[256];
    snprintf(req, sizeof(req), "%s / HTTP/1.1\r\nHost: a\r\n\r\n", m);
    BAD(req, 501);
    char *huge = malloc(10000);
    assert_non_null(huge);
    memset(huge, 'G', 10000);
    bad_lim(huge, 10000, NULL, 501);
    free(huge);
    struct roost_http_request r;
    snprintf(req, sizeof(req), "%.*s / HTTP/1.1\r\nHost: a\r\n\r\n", ROOST_HTTP_MAX_METHOD, m);
    OK(req, &r);
    assert_int_equal(r.method.n, ROOST_HTTP_MAX_METHOD);
}

/* RFC 3986 §7.3: %00, %0D and %0A in a target would decode into a NUL or a line break: 400, in
 * the path, the query and an absolute-form target alike, in either case of hex digit. */
static void test_pct_encoded_nul_cr_lf_400_rfc3986_7_3(void **state)
{
    (void)state;
    static const char *const targets[] = {"/a%00b",      "/a%0db",       "/a%0Ab",
                                          "/a?x=%0D%0A", "http://h/%00", "http://h/?q=%0a"};
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        char req[128];
        snprintf(req, sizeof(req), "GET %s" H11 "\r\n", targets[i]);
        BAD(req, 400);
    }
    struct roost_http_request r;
    OK("GET /a%0b%20%09?x=%01" H11 "\r\n", &r); /* other encoded bytes are the router's call */
}

static void test_single_sp_separators(void **state)
{
    (void)state;
    BAD("GET  /" H11 "\r\n", 400);
    BAD("GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400);
    BAD("GET /\tHTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("GET /\r\n\r\n", 400); /* HTTP/0.9 simple request */
}

static void test_absolute_form(void **state)
{
    (void)state;
    struct roost_http_request r;
    /* RFC 9112 §3.2.2: the target's authority wins over Host */
    OK("GET http://www.example.org:8080/pub/x?a=b HTTP/1.1\r\nHost: other\r\n\r\n", &r);
    assert_int_equal(r.target_form, ROOST_HTTP_TARGET_ABSOLUTE);
    assert_true(str_is(r.target, "http://www.example.org:8080/pub/x?a=b"));
    assert_true(str_is(r.host, "www.example.org:8080"));
    assert_true(str_is(r.path, "/pub/x"));
    assert_true(str_is(r.query, "a=b"));
    OK("GET https://[::1]?q HTTP/1.1\r\nHost: other\r\n\r\n", &r);
    assert_true(str_is(r.host, "[::1]"));
    assert_true(str_is(r.path, "/")); /* empty path is "/" */
    assert_true(str_is(r.query, "q"));
    /* Host is still required in HTTP/1.1 (RFC 9112 §3.2) */
    BAD("GET http://a/ HTTP/1.1\r\n\r\n", 400);
    BAD("GET http://user@a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400); /* userinfo, RFC 9110 §4.2.4 */
    BAD("GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400);      /* empty host */
    BAD("GET http:/x HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("GET urn:isbn:1234 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("GET http://a/[x] HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("GET 1http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

static void test_asterisk_form_only_with_options(void **state)
{
    (void)state;
    struct roost_http_request r;
    OK("OPTIONS *" H11 "\r\n", &r);
    assert_int_equal(r.target_form, ROOST_HTTP_TARGET_ASTERISK);
    assert_true(str_is(r.path, "*"));
    BAD("GET *" H11 "\r\n", 400);
    BAD("OPTIONS *x" H11 "\r\n", 400);
    BAD("OPTIONS */" H11 "\r\n", 400);
}

static void test_authority_form_only_with_connect(void **state)
{
    (void)state;
    struct roost_http_request r;
    OK("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", &r);
    assert_int_equal(r.target_form, ROOST_HTTP_TARGET_AUTHORITY);
    assert_true(str_is(r.target, "example.com:443"));
    assert_null(r.path.p);
    OK("CONNECT [2001:db8::1]:8443 HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    BAD("CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n", 400); /* port is required */
    BAD("CONNECT example.com: HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("CONNECT example.com:99999 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("CONNECT http://a:1/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("CONNECT u@a:1 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("GET example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

static void test_target_invalid_characters(void **state)
{
    (void)state;
    BAD("GET /a#frag" H11 "\r\n", 400);
    BAD("GET /a%zz" H11 "\r\n", 400);
    BAD("GET /a%4" H11 "\r\n", 400);
    BAD("GET /a%" H11 "\r\n", 400);
    BAD("GET /caf\xc3\xa9" H11 "\r\n", 400);
    BAD("GET /a\"b" H11 "\r\n", 400);
    BAD("GET /a<b>" H11 "\r\n", 400);
    BAD("GET /a\\b" H11 "\r\n", 400);
    BAD("GET /a{b}" H11 "\r\n", 400);
    BAD("GET /a[b]" H11 "\r\n", 400);
    BAD("GET /a\x01" H11 "\r\n", 400);
    BAD("GET /a\x7f" H11 "\r\n", 400);
    BAD_N("GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

/* Choice: a malformed version is 400, a well-formed one with a major other than 1 is 505. */
static void test_version_exact(void **state)
{
    (void)state;
    struct roost_http_request r;
    OK("GET / HTTP/1.0\r\n\r\n", &r);
    assert_int_equal(r.version_minor, 0);
    assert_false(r.keep_alive);
    assert_null(r.host.p);
    /* RFC 9110 §2.5: a higher minor of a major we implement is processed as the highest */
    OK("GET / HTTP/1.2\r\nHost: a\r\n\r\n", &r);
    assert_int_equal(r.version_minor, 1);
    BAD("GET / HTTP/1\r\nHost: a\r\n\r\n", 400);
    BAD("GET / HTTP/1.1.1\r\nHost: a\r\n\r\n", 400);
    BAD("GET / http/1.1\r\nHost: a\r\n\r\n", 400);
    BAD("GET / HTTP/11.1\r\nHost: a\r\n\r\n", 400);
    BAD("GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400);
    BAD("GET / HTTP /1.1\r\nHost: a\r\n\r\n", 400);
    BAD("GET / HTTP/1,1\r\nHost: a\r\n\r\n", 400);
    BAD("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
    BAD("GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505);
    BAD("GET / HTTP/3.0\r\n\r\n", 505);
    BAD("GET / HTTP/2.0\rX", 400); /* not well-formed: bare CR wins */
}

/* ---- field lines, RFC 9112 §5 ---- */

static void test_field_value_ows_trimmed(void **state)
{
    (void)state;
    struct roost_http_request r;
    OK("GET /" H11 "X-A:  \t v a\tl \t \r\nX-B:\r\nX-C:   \r\nX-D:v\r\n\r\n", &r);
    assert_int_equal(r.header_count, 5);
    assert_true(str_is(r.headers[1].value, "v a\tl"));
    assert_int_equal(r.headers[2].value.n, 0);
    assert_int_equal(r.headers[3].value.n, 0);
    assert_true(str_is(r.headers[4].value, "v"));
    OK("GET / HTTP/1.1\r\nHost:\t  example.com  \r\n\r\n", &r);
    assert_true(str_is(r.host, "example.com"));
}

static void test_field_whitespace_before_colon_rejected(void **state)
{
    (void)state;
    BAD("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400);
    BAD("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400);
    BAD("GET /" H11 "Content-Length : 0\r\n\r\n", 400);
    BAD("GET /" H11 "Transfer-Encoding : chunked\r\n\r\n", 400);
}

static void test_obs_fold_rejected(void **state)
{
    (void)state;
    BAD("GET /" H11 "X: a\r\n b\r\n\r\n", 400);
    BAD("GET /" H11 "X: a\r\n\tb\r\n\r\n", 400);
    /* RFC 9112 §2.2: whitespace between the start-line and the first field */
    BAD("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400);
}

static void test_field_value_controls_rejected(void **state)
{
    (void)state;
    struct roost_http_request r;
    BAD_N("GET /" H11 "X: a\0b\r\n\r\n", 400);
    BAD("GET /" H11 "X: a\x01\r\n\r\n", 400);
    BAD("GET /" H11 "X: a\x1f\r\n\r\n", 400);
    BAD("GET /" H11 "X: a\x7f\r\n\r\n", 400);
    BAD("GET /" H11 "X: 0123456789abcdef0123456789\x0b\r\n\r\n", 400); /* past a SIMD block */
    OK("GET /" H11 "X: a\tb \xe9\xff 0123456789abcdef\t0123456789abcdef\r\n\r\n", &r);
    assert_true(str_is(r.headers[1].value, "a\tb \xe9\xff 0123456789abcdef\t0123456789abcdef"));
}

static void test_field_name_must_be_token(void **state)
{
    (void)state;
    BAD("GET /" H11 "X(y): a\r\n\r\n", 400);
    BAD("GET /" H11 ": a\r\n\r\n", 400);
    BAD("GET /" H11 "NoColon\r\n\r\n", 400);
    BAD("GET /" H11 "X\xe9: a\r\n\r\n", 400);
    BAD("GET /" H11 "X/Y: a\r\n\r\n", 400);
}

/* ---- Content-Length, RFC 9112 §6.2-6.3 ---- */

static void test_content_length_valid(void **state)
{
    (void)state;
    struct roost_http_request r;
    const char *s = "POST /" H11 "Content-Length: 5\r\n\r\nhello";
    assert_int_equal(OK(s, &r), strlen(s) - 5);
    assert_true(r.has_content_length);
    assert_int_equal(r.content_length, 5);
    OK("POST /" H11 "content-LENGTH:  007 \r\n\r\n", &r);
    assert_int_equal(r.content_length, 7);
    OK("POST /" H11 "Content-Length: 0\r\n\r\n", &r);
    assert_true(r.has_content_length);
    assert_int_equal(r.content_length, 0);
    struct roost_http_limits big = {8192, SIZE_MAX, 64};
    const char *max = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n";
    ok_lim(max, strlen(max), &big, &r);
    assert_int_equal(r.content_length, UINT64_MAX);
}

static void test_content_length_invalid(void **state)
{
    (void)state;
    struct roost_http_limits big = {8192, SIZE_MAX, 64};
    BAD("POST /" H11 "Content-Length: +5\r\n\r\n", 400);
    BAD("POST /" H11 "Content-Length: -5\r\n\r\n", 400);
    BAD("POST /" H11 "Content-Length: 5a\r\n\r\n", 400);
    BAD("POST /" H11 "Content-Length: 0x5\r\n\r\n", 400);
    BAD("POST /" H11 "Content-Length: 5 5\r\n\r\n", 400);
    BAD("POST /" H11 "Content-Length: 5,5\r\n\r\n", 400);
    BAD("POST /" H11 "Content-Length: 5, 6\r\n\r\n", 400);
    BAD("POST /" H11 "Content-Length:\r\n\r\n", 400);
    BAD("POST /" H11 "Content-Length: 5.0\r\n\r\n", 400);
    const char *over = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n";
    bad_lim(over, strlen(over), &big, 400);
    const char *way =
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n";
    bad_lim(way, strlen(way), &big, 400);
}

/* Choice: strict, even identical repeats are rejected. */
static void test_content_length_duplicate_rejected(void **state)
{
    (void)state;
    BAD("POST /" H11 "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400);
    BAD("POST /" H11 "Content-Length: 5\r\ncontent-length: 6\r\n\r\nhello", 400);
    BAD("POST /" H11 "Content-Length: 0\r\nX: y\r\nCONTENT-LENGTH: 0\r\n\r\n", 400);
}

static void test_content_length_over_limit_413(void **state)
{
    (void)state;
    struct roost_http_request r;
    BAD("POST /" H11 "Content-Length: 1048577\r\n\r\n", 413);
    OK("POST /" H11 "Content-Length: 1048576\r\n\r\n", &r);
    struct roost_http_limits lim = {8192, 10, 64};
    const char *s = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n";
    bad_lim(s, strlen(s), &lim, 413);
}

/* ---- Transfer-Encoding, RFC 9112 §6.1, §6.3 ---- */

static void test_transfer_encoding_chunked(void **state)
{
    (void)state;
    struct roost_http_request r;
    OK("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n", &r);
    assert_true(r.chunked);
    assert_false(r.has_content_length);
    OK("POST /" H11 "transfer-encoding: Chunked\r\n\r\n", &r);
    assert_true(r.chunked);
    OK("POST /" H11 "Transfer-Encoding: , chunked ,\r\n\r\n", &r); /* empty list elements */
    assert_true(r.chunked);
    OK("POST /" H11 "\r\n", &r);
    assert_false(r.chunked);
}

static void test_transfer_encoding_unknown_coding_501(void **state)
{
    (void)state;
    BAD("POST /" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n", 501);
    BAD("POST /" H11 "Transfer-Encoding: x-custom;q=\"a b\" , chunked\r\n\r\n", 501);
    BAD("POST /" H11 "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", 501);
}

/* RFC 9112 §6.3: chunked not the final coding means the length cannot be known: 400. */
static void test_transfer_encoding_not_final_chunked_400(void **state)
{
    (void)state;
    BAD("POST /" H11 "Transfer-Encoding: gzip\r\n\r\n", 400);
    BAD("POST /" H11 "Transfer-Encoding: identity\r\n\r\n", 400);
    BAD("POST /" H11 "Transfer-Encoding: chunked, gzip\r\n\r\n", 400);
    BAD("POST /" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 400);
    BAD("POST /" H11 "Transfer-Encoding:\r\n\r\n", 400);
    BAD("POST /" H11 "Transfer-Encoding: chunked;x=1\r\n\r\n", 400);
    BAD("POST /" H11 "Transfer-Encoding: chunked x\r\n\r\n", 400);
    BAD("POST /" H11 "Transfer-Encoding: \"chunked\"\r\n\r\n", 400);
    BAD("POST /" H11 "Transfer-Encoding: gzip;=1, chunked\r\n\r\n", 400);
}

static void test_transfer_encoding_chunked_twice_400(void **state)
{
    (void)state;
    BAD("POST /" H11 "Transfer-Encoding: chunked, chunked\r\n\r\n", 400);
    BAD("POST /" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
}

static void test_transfer_encoding_with_content_length_400(void **state)
{
    (void)state;
    BAD("POST /" H11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
    BAD("POST /" H11 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400);
}

static void test_transfer_encoding_in_http10_400(void **state)
{
    (void)state;
    BAD("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
}

/* ---- Host, RFC 9112 §3.2 ---- */

static void test_host_required_in_http11(void **state)
{
    (void)state;
    struct roost_http_request r;
    BAD("GET / HTTP/1.1\r\n\r\n", 400);
    BAD("GET / HTTP/1.1\r\nX-Host: a\r\n\r\n", 400);
    OK("GET / HTTP/1.0\r\nHost: a\r\n\r\n", &r);
    assert_true(str_is(r.host, "a"));
    OK("GET / HTTP/1.0\r\nHost:\r\n\r\n", &r); /* HTTP/1.0 needs no Host: empty is fine */
    assert_non_null(r.host.p);
    assert_int_equal(r.host.n, 0);
}

/* RFC 9112 §3.2: an http URI always has an authority, so an HTTP/1.1 Host must not be empty. */
static void test_empty_host_400_rfc9112_3_2(void **state)
{
    (void)state;
    BAD("GET / HTTP/1.1\r\nHost:\r\n\r\n", 400);
    BAD("GET / HTTP/1.1\r\nHost:   \r\n\r\n", 400);
    BAD("GET http://a/ HTTP/1.1\r\nHost:\r\n\r\n", 400);
    BAD("OPTIONS * HTTP/1.1\r\nHost: \r\n\r\n", 400);
}

static void test_host_duplicate_rejected(void **state)
{
    (void)state;
    BAD("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400);
    BAD("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400);
    BAD("GET / HTTP/1.0\r\nHost: a\r\nHOST: b\r\n\r\n", 400);
}

static void test_host_value_validated(void **state)
{
    (void)state;
    struct roost_http_request r;
    OK("GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", &r);
    OK("GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", &r);
    OK("GET / HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n", &r);
    OK("GET / HTTP/1.1\r\nHost: xn--caf-dma.example%2e:\r\n\r\n", &r);
    BAD("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400);
    BAD("GET / HTTP/1.1\r\nHost: a\"b\r\n\r\n", 400);
    BAD("GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n", 400);
    BAD("GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", 400);
    BAD("GET / HTTP/1.1\r\nHost: a:b\r\n\r\n", 400);
    BAD("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400);
    BAD("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400);
    BAD("GET / HTTP/1.1\r\nHost: a:123456\r\n\r\n", 400);
}

/* ---- Connection, RFC 9112 §9.3; Expect, RFC 9110 §10.1.1 ---- */

static void test_connection_keep_alive(void **state)
{
    (void)state;
    struct roost_http_request r;
    OK("GET /" H11 "\r\n", &r);
    assert_true(r.keep_alive);
    OK("GET /" H11 "Connection: close\r\n\r\n", &r);
    assert_false(r.keep_alive);
    OK("GET /" H11 "Connection: Upgrade, CLOSE\r\n\r\n", &r);
    assert_false(r.keep_alive);
    OK("GET /" H11 "Connection: keep-alive\r\nConnection: close\r\n\r\n", &r);
    assert_false(r.keep_alive);
    OK("GET /" H11 "Connection: keep-alive\r\n\r\n", &r);
    assert_true(r.keep_alive);
    OK("GET / HTTP/1.0\r\n\r\n", &r);
    assert_false(r.keep_alive);
    OK("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &r);
    assert_true(r.keep_alive);
    OK("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", &r);
    assert_false(r.keep_alive);
    OK("GET /" H11 "Connection: closed\r\n\r\n", &r); /* a different token */
    assert_true(r.keep_alive);
    BAD("GET /" H11 "Connection: close keep-alive\r\n\r\n", 400);
    BAD("GET /" H11 "Connection: close;x\r\n\r\n", 400);
}

static void test_expect_continue(void **state)
{
    (void)state;
    struct roost_http_request r;
    OK("POST /" H11 "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n", &r);
    assert_true(r.expect_continue);
    OK("POST /" H11 "Expect: 100-Continue\r\nContent-Length: 5\r\n\r\n", &r);
    assert_true(r.expect_continue);
    OK("POST /" H11 "Content-Length: 5\r\n\r\n", &r);
    assert_false(r.expect_continue);
    /* RFC 9110 §10.1.1: ignored in HTTP/1.0 */
    OK("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", &r);
    assert_false(r.expect_continue);
}

/* Choice: 417 for any expectation other than 100-continue (a MAY in RFC 9110 §10.1.1). */
static void test_expect_other_417(void **state)
{
    (void)state;
    BAD("POST /" H11 "Expect: foo\r\n\r\n", 417);
    BAD("POST /" H11 "Expect: 100-continue, foo\r\n\r\n", 417);
    BAD("POST /" H11 "Expect: 100-continue=1\r\n\r\n", 417);
    BAD("POST /" H11 "Expect: 200-ok\r\n\r\n", 417);
}

/* ---- limits ---- */

static char *big_request(size_t value_len, const char *tail)
{
    const char *head = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ";
    size_t hn = strlen(head), tn = strlen(tail);
    char *s = malloc(hn + value_len + 2 + tn + 1);
    assert_non_null(s);
    memcpy(s, head, hn);
    memset(s + hn, 'v', value_len);
    memcpy(s + hn + value_len, "\r\n", 2);
    memcpy(s + hn + value_len + 2, tail, tn + 1);
    return s;
}

static void test_head_limit_431_as_soon_as_known(void **state)
{
    (void)state;
    struct roost_http_request r;
    char *s = big_request(9000, "\r\n");
    bad_lim(s, strlen(s), NULL, 431);
    /* The 8192nd byte without the end of the head is enough; the 8191st is not. */
    assert_int_equal(http_parse_head(s, 8192, NULL, &r), -431);
    assert_int_equal(http_parse_head(s, 8191, NULL, &r), 0);
    free(s);
    /* An endless stream of leading CRLFs is a head too. */
    char crlf[8200];
    for (size_t i = 0; i < sizeof(crlf); i += 2)
        memcpy(crlf + i, "\r\n", 2);
    assert_int_equal(http_parse_head(crlf, sizeof(crlf), NULL, &r), -431);
}

static void test_head_limit_exact_fit_accepted(void **state)
{
    (void)state;
    struct roost_http_request r;
    struct roost_http_limits lim = {256, 1024, 64};
    char *s = big_request(256 - 32 - 4, "\r\n"); /* head is exactly 256 bytes */
    assert_int_equal(strlen(s), 256);
    assert_int_equal(ok_lim(s, 256, &lim, &r), 256);
    free(s);
    s = big_request(256 - 32 - 4 + 1, "\r\n");
    bad_lim(s, strlen(s), &lim, 431);
    free(s);
}

static void test_target_limit_414(void **state)
{
    (void)state;
    struct roost_http_limits lim = {64, 1024, 64};
    const char *s = "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa "
                    "HTTP/1.1\r\nHost: a\r\n\r\n";
    bad_lim(s, strlen(s), &lim, 414);
}

static void test_max_headers_431(void **state)
{
    (void)state;
    struct roost_http_request r;
    char s[4096];
    size_t n = (size_t)snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 1; i < 64; i++)
        n += (size_t)snprintf(s + n, sizeof(s) - n, "X-%d: %d\r\n", i, i);
    memcpy(s + n, "\r\n", 3);
    ok_lim(s, n + 2, NULL, &r);
    assert_int_equal(r.header_count, 64);
    n += (size_t)snprintf(s + n, sizeof(s) - n, "X-64: 64\r\n\r\n");
    bad_lim(s, n, NULL, 431);

    struct roost_http_limits lim = {8192, 1024, 2};
    const char *three = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";
    bad_lim(three, strlen(three), &lim, 431);
    const char *two = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\n\r\n";
    ok_lim(two, strlen(two), &lim, &r);
}

static void test_null_limits_are_defaults(void **state)
{
    (void)state;
    struct roost_http_limits def = ROOST_HTTP_LIMITS_DEFAULT;
    struct roost_http_request a, b;
    char *s = big_request(8000, "Content-Length: 1048576\r\n\r\n");
    assert_int_equal(http_parse_head(s, strlen(s), NULL, &a),
                     http_parse_head(s, strlen(s), &def, &b));
    assert_true(a.head_len > 8000);
    free(s);
    s = big_request(8200, "\r\n");
    assert_int_equal(http_parse_head(s, strlen(s), NULL, &a), -431);
    free(s);
}

/* ---- chunked bodies, RFC 9112 §7.1 ---- */

struct decoded {
    int r;
    bool done;
    size_t consumed;
    char *out;
    size_t out_n;
};

/* Decode body[0..n) fed step bytes at a time (each window an exact-size copy), as a server
 * would: the unconsumed rest is fed again with the next bytes appended. */
static void decode(const char *body, size_t n, size_t step, const struct roost_http_limits *lim,
                   struct decoded *d)
{
    struct roost_http_chunked c;
    http_chunked_init(&c, lim);
    size_t off = 0, avail = step < n ? step : n;
    *d = (struct decoded){.out = malloc(n + 1)};
    assert_non_null(d->out);
    for (;;) {
        size_t wn = avail - off, used = 0;
        char *w = copy_of(body + off, wn);
        struct roost_http_str data;
        bool done = false;
        int r = http_chunked_feed(&c, w, wn, &used, &data, &done);
        if (r == 0) {
            assert_true(used <= wn);
            if (data.n) {
                assert_true(data.p >= w && data.p + data.n <= w + used);
                memcpy(d->out + d->out_n, data.p, data.n);
                d->out_n += data.n;
            }
        }
        free(w);
        if (r) {
            d->r = r;
            off += used;
            break;
        }
        assert_true(used > 0 || done || wn == 0); /* progress, or waiting for bytes */
        off += used;
        if (done) {
            d->done = true;
            break;
        }
        if (off == avail) {
            if (avail == n)
                break; /* incomplete */
            avail = avail + step < n ? avail + step : n;
        }
    }
    d->consumed = off;
}

/* A valid body decodes to want, ends exactly at end_at, identically for every feeding step. */
static void chunked_ok_lim(const char *body, size_t n, const char *want, size_t want_n,
                           size_t end_at, const struct roost_http_limits *lim)
{
    static const size_t steps[] = {1, 2, 3, 5, 7, 16, SIZE_MAX};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        struct decoded d;
        decode(body, n, steps[i] < n ? steps[i] : n, lim, &d);
        if (d.r || !d.done)
            print_error("chunked \"%.*s\" step %zu: r=%d done=%d\n", (int)n, body, steps[i], d.r,
                        d.done);
        assert_int_equal(d.r, 0);
        assert_true(d.done);
        assert_int_equal(d.consumed, end_at);
        assert_int_equal(d.out_n, want_n);
        assert_memory_equal(d.out, want, d.out_n);
        free(d.out);
    }
}

/* An invalid body fails with -status for every feeding step and is never done. */
static void chunked_bad_lim(const char *body, size_t n, int status,
                            const struct roost_http_limits *lim)
{
    static const size_t steps[] = {1, 2, 3, 5, 7, 16, SIZE_MAX};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        struct decoded d;
        decode(body, n, steps[i] < n ? steps[i] : n, lim, &d);
        if (d.r != -status)
            print_error("chunked \"%.*s\" step %zu: r=%d want -%d\n", (int)n, body, steps[i], d.r,
                        status);
        assert_int_equal(d.r, -status);
        assert_false(d.done);
        free(d.out);
    }
}

#define CHUNKED_OK(body, want)                                                                     \
    chunked_ok_lim((body), strlen(body), (want), strlen(want), strlen(body), NULL)
#define CHUNKED_BAD(body, status) chunked_bad_lim((body), strlen(body), (status), NULL)

static void test_chunked_decodes_body(void **state)
{
    (void)state;
    CHUNKED_OK("4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n",
               "Wikipedia in\r\n\r\nchunks.");
    CHUNKED_OK("0\r\n\r\n", "");
    CHUNKED_OK("000\r\n\r\n", "");
    CHUNKED_OK("a\r\n0123456789\r\nA\r\nabcdefghij\r\n0\r\n\r\n", "0123456789abcdefghij");
    CHUNKED_OK("0001\r\nx\r\n0\r\n\r\n", "x");
    /* chunk-data is opaque: CR, LF, NUL and digits inside it are data */
    chunked_ok_lim("3\r\n\r\n\0\r\n0\r\n\r\n", 13, "\r\n\0", 3, 13, NULL);
}

static void test_chunked_extensions_ignored(void **state)
{
    (void)state;
    CHUNKED_OK("4;a\r\nWiki\r\n0\r\n\r\n", "Wiki");
    CHUNKED_OK("4;a=b;c=\"d e\\\"f\"\r\nWiki\r\n0;last\r\n\r\n", "Wiki");
    CHUNKED_OK("4 ; a = b ;c\r\nWiki\r\n0\r\n\r\n", "Wiki"); /* BWS */
    CHUNKED_OK("4;a=\"\"\t;b\r\nWiki\r\n0\r\n\r\n", "Wiki");
    CHUNKED_BAD("4;\r\nWiki\r\n0\r\n\r\n", 400);
    CHUNKED_BAD("4;=b\r\nWiki\r\n0\r\n\r\n", 400);
    CHUNKED_BAD("4;a=\r\nWiki\r\n0\r\n\r\n", 400);
    CHUNKED_BAD("4;a b\r\nWiki\r\n0\r\n\r\n", 400);
    CHUNKED_BAD("4;a=\"b\r\nWiki\r\n0\r\n\r\n", 400);
    CHUNKED_BAD("4;a=b c\r\nWiki\r\n0\r\n\r\n", 400);
    CHUNKED_BAD("4;a=\"b\"c\r\nWiki\r\n0\r\n\r\n", 400);
    CHUNKED_BAD("4;a=(b)\r\nWiki\r\n0\r\n\r\n", 400);
    CHUNKED_BAD("4;a \r\nWiki\r\n0\r\n\r\n", 400);
    CHUNKED_BAD("4;a=\"\x01\"\r\nWiki\r\n0\r\n\r\n", 400);
}

static void test_chunked_trailers_checked_and_discarded(void **state)
{
    (void)state;
    CHUNKED_OK("4\r\nWiki\r\n0\r\nX-Sum: abc\r\nX-B:\t\r\n\r\n", "Wiki");
    CHUNKED_BAD("4\r\nWiki\r\n0\r\nX-Sum : abc\r\n\r\n", 400);
    CHUNKED_BAD("4\r\nWiki\r\n0\r\nX-Sum: a\r\n b\r\n\r\n", 400);
    CHUNKED_BAD("4\r\nWiki\r\n0\r\n: abc\r\n\r\n", 400);
    CHUNKED_BAD("4\r\nWiki\r\n0\r\nX(y): a\r\n\r\n", 400);
    CHUNKED_BAD("4\r\nWiki\r\n0\r\nX: a\x01\r\n\r\n", 400);
    CHUNKED_BAD("4\r\nWiki\r\n0\r\nX: a\rb\r\n\r\n", 400);
    CHUNKED_BAD("4\r\nWiki\r\n0\r\nX: a\n\r\n", 400);
    CHUNKED_BAD("4\r\nWiki\r\n0\r\nNoColon\r\n\r\n", 400);
}

static void test_chunked_malformed_sizes_400(void **state)
{
    (void)state;
    CHUNKED_BAD("0x4\r\nWiki\r\n0\r\n\r\n", 400);
    CHUNKED_BAD("+4\r\nWiki\r\n0\r\n\r\n", 400);
    CHUNKED_BAD("-4\r\nWiki\r\n0\r\n\r\n", 400);
    CHUNKED_BAD("1_0\r\n0123456789abcdef\r\n0\r\n\r\n", 400);
    CHUNKED_BAD("1 0\r\n0123456789abcdef\r\n0\r\n\r\n", 400);
    CHUNKED_BAD(" 4\r\nWiki\r\n0\r\n\r\n", 400);
    CHUNKED_BAD("4 \r\nWiki\r\n0\r\n\r\n", 400);
    CHUNKED_BAD("\r\nWiki\r\n0\r\n\r\n", 400);
    CHUNKED_BAD("g\r\nWiki\r\n0\r\n\r\n", 400);
    CHUNKED_BAD("00000000000000004\r\nWiki\r\n0\r\n\r\n", 400); /* 17 digits */
    struct roost_http_limits huge = {8192, SIZE_MAX, 64};
    const char *ovf = "10000000000000000\r\n";
    chunked_bad_lim(ovf, strlen(ovf), 400, &huge); /* 2^64 */
}

static void test_chunked_over_limit_413(void **state)
{
    (void)state;
    struct roost_http_limits lim = {8192, 10, 64};
    const char *ok = "5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n";
    chunked_ok_lim(ok, strlen(ok), "0123456789", 10, strlen(ok), &lim);
    const char *one = "b\r\n0123456789a\r\n0\r\n\r\n";
    chunked_bad_lim(one, strlen(one), 413, &lim);
    const char *sum = "5\r\n01234\r\n6\r\n56789a\r\n0\r\n\r\n";
    chunked_bad_lim(sum, strlen(sum), 413, &lim);
    CHUNKED_BAD("FFFFFFFFFFFFFFFF\r\n", 413);
    CHUNKED_BAD("100001\r\n", 413); /* 1 MiB + 1 */
}

static void test_chunked_framing_errors_400(void **state)
{
    (void)state;
    CHUNKED_BAD("4\nWiki\r\n0\r\n\r\n", 400);    /* bare LF */
    CHUNKED_BAD("4\rWiki\r\n0\r\n\r\n", 400);    /* bare CR */
    CHUNKED_BAD("4\r\nWikiX\r\n0\r\n\r\n", 400); /* data longer than declared */
    CHUNKED_BAD("4\r\nWiki\n0\r\n\r\n", 400);    /* no CRLF after data */
    CHUNKED_BAD("4\r\nWiki\r\n0\r\n\n", 400);    /* bare LF final */
    CHUNKED_BAD("4\r\nWiki\r\n0\r\n\rX", 400);   /* bare CR final */
    CHUNKED_BAD("4\r\nWiki\r\n0\n\r\n", 400);
}

static void test_chunked_trailer_limits_431(void **state)
{
    (void)state;
    struct roost_http_limits lim = {32, 1024, 2};
    const char *two = "0\r\nA: 1\r\nB: 2\r\n\r\n";
    chunked_ok_lim(two, strlen(two), "", 0, strlen(two), &lim);
    const char *three = "0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    chunked_bad_lim(three, strlen(three), 431, &lim);
    const char *fits = "0\r\nX: 012345678901234567890123456\r\n\r\n"; /* 32-byte line */
    chunked_ok_lim(fits, strlen(fits), "", 0, strlen(fits), &lim);
    const char *big = "0\r\nX: 0123456789012345678901234567\r\n\r\n";
    chunked_bad_lim(big, strlen(big), 431, &lim);
}

/* RFC 9112 §7.1.1: extensions are framing, so running over their budget is 400, not 413. */
static void test_chunked_extension_budget_400_rfc9112_7_1_1(void **state)
{
    (void)state;
    struct roost_http_limits lim = {16, 1024, 64};
    const char *ok = "1;aaaaaaa\r\nx\r\n1;bbbbbbb\r\ny\r\n0\r\n\r\n"; /* 16 extension bytes */
    chunked_ok_lim(ok, strlen(ok), "xy", 2, strlen(ok), &lim);
    const char *over = "1;aaaaaaa\r\nx\r\n1;bbbbbbbb\r\ny\r\n0\r\n\r\n";
    chunked_bad_lim(over, strlen(over), 400, &lim);
    /* one endless extension at the default limits */
    char *endless = malloc(9000);
    assert_non_null(endless);
    memcpy(endless, "1;x=", 4);
    memset(endless + 4, 'a', 9000 - 4);
    chunked_bad_lim(endless, 9000, 400, NULL);
    free(endless);
}

/* RFC 9112 §7.1: a chunk-size that overflows 64 bits is malformed: 400 at the default limits,
 * where the body limit used to answer 413 from the sixth digit on. */
static void test_chunk_size_overflow_400_rfc9112_7_1(void **state)
{
    (void)state;
    CHUNKED_BAD("10000000000000000\r\n", 400);      /* 2^64 */
    CHUNKED_BAD("FFFFFFFFFFFFFFFFF\r\nx\r\n", 400); /* 17 digits */
    CHUNKED_BAD("123456789abcdef01;a=b\r\n", 400);  /* 17 digits before an extension */
    CHUNKED_BAD("FFFFFFFFFFFFFFFF\r\n", 413);       /* 16 digits: a size, just too large */
}

static void test_chunked_stops_at_end_of_body(void **state)
{
    (void)state;
    const char *s = "4\r\nWiki\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    chunked_ok_lim(s, strlen(s), "Wiki", 4, 14, NULL);
    struct roost_http_chunked c;
    http_chunked_init(&c, NULL);
    size_t used;
    struct roost_http_str data;
    bool done;
    assert_int_equal(http_chunked_feed(&c, s, strlen(s), &used, &data, &done), 0);
    assert_true(done); /* the last data and the end of the body in one call */
    assert_int_equal(used, 14);
    assert_true(str_is(data, "Wiki"));
    assert_int_equal(http_chunked_feed(&c, s + 14, strlen(s) - 14, &used, &data, &done), 0);
    assert_true(done);
    assert_int_equal(used, 0);
    assert_int_equal(data.n, 0);
}

static void test_chunked_one_span_per_call(void **state)
{
    (void)state;
    const char *s = "2\r\nab\r\n3;x\r\ncde\r\n0\r\n\r\n";
    struct roost_http_chunked c;
    http_chunked_init(&c, NULL);
    size_t used;
    struct roost_http_str data;
    bool done;
    assert_int_equal(http_chunked_feed(&c, s, strlen(s), &used, &data, &done), 0);
    assert_true(str_is(data, "ab"));
    assert_false(done);
    assert_int_equal(used, 12); /* through "3;x\r\n", stopping before the next data */
    assert_int_equal(http_chunked_feed(&c, s + 12, strlen(s) - 12, &used, &data, &done), 0);
    assert_true(str_is(data, "cde"));
    assert_true(done);
    assert_int_equal(12 + used, strlen(s));
}

static void test_chunked_error_is_sticky(void **state)
{
    (void)state;
    struct roost_http_chunked c;
    http_chunked_init(&c, NULL);
    size_t used;
    struct roost_http_str data;
    bool done;
    assert_int_equal(http_chunked_feed(&c, "x", 1, &used, &data, &done), -400);
    assert_int_equal(http_chunked_feed(&c, "0\r\n\r\n", 5, &used, &data, &done), -400);
    assert_int_equal(used, 0);
    assert_false(done);
}

/* ---- pipelining and incremental feeding ---- */

/* ---- the fast path against the general parser ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static unsigned rnd(unsigned n)
{
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

#define PICK(a) (a)[rnd(sizeof(a) / sizeof((a)[0]))]

/* http_parse_head (its fast path first) and http_parse_head_general (rule by rule) must give the
 * same verdict and the same spans for every input: generated heads, valid and not, with the
 * fields the parser acts on, whitespace and bytes the fast path declines, and random edits;
 * under the default limits and tiny ones. Each parse fills a request holding different
 * garbage, so a field the fast path forgot to set shows. */
/* A random request head into s (1024 bytes): half of them mostly well-formed, some with a
 * pipelined request after them, some with bytes edited or cut short. Returns its length. */
static size_t random_head(char *s)
{
    static const char *methods[] = {"GET",    "GET",     "POST",    "HEAD", "PUT",
                                    "DELETE", "OPTIONS", "CONNECT", "get",  "M-SEARCH",
                                    "A",      "",        "G T",     "GETT"};
    static const char *targets[] = {"/pipeline",
                                    "/static/app.js?v=3",
                                    "/a/b.c_d-e~f",
                                    "/p?q=1&r=%41",
                                    "/",
                                    "/%41%42",
                                    "/%00",
                                    "/%4",
                                    "/a b",
                                    "/a\tb",
                                    "*",
                                    "http://h:80/x?y",
                                    "h:80",
                                    "/0123456789abcdef/0123456789abcdef",
                                    "/x?",
                                    "/a#b",
                                    "/\x80",
                                    "/a//b?c?d",
                                    "/?",
                                    "/?=&=&",
                                    "/search?q=abc&lang=en&page=20&sort=date",
                                    "/a?b=%20c",
                                    ""};
    static const char *versions[] = {"HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/1.2",
                                     "HTTP/2.0", "http/1.1", "HTTP/1.",  "HTTP/1.1 "};
    static const char *names[] = {"User-Agent",
                                  "Accept",
                                  "Connection",
                                  "A",
                                  "Host",
                                  "host",
                                  "HOST",
                                  "Content-Length",
                                  "Transfer-Encoding",
                                  "Expect",
                                  "X_Y",
                                  "Upgrade-Insecure-Requests",
                                  "X.Y~!",
                                  "Bad Name",
                                  "",
                                  "Accept-Language-Very-Long-Name",
                                  "X-A-Field-Name-Of-Forty-Bytes-Or-So-0123"};
    static const char *values[] = {"example.com",
                                   "keep-alive",
                                   "text/html,*/*;q=0.8",
                                   "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101",
                                   "127.0.0.1:29111",
                                   "",
                                   "0",
                                   "12",
                                   "1x",
                                   "chunked",
                                   "gzip, chunked",
                                   "close",
                                   "100-continue",
                                   "nope",
                                   " x",
                                   "x ",
                                   "\tx",
                                   "x\t",
                                   "a\tb",
                                   "caf\xc3\xa9",
                                   "a\x7f",
                                   "a\x01",
                                   "[::1]:80",
                                   "h:99999",
                                   "  ",
                                   "a\rb",
                                   "a\nb"};
    static const char *seps[] = {": ", ": ", ":", ":  ", ":\t", " : "};
    static const char *ends[] = {"\r\n", "\r\n", "\r\n", "\r\n", "\n", "\r", ""};
    static const char edits[] = {' ',  '\t', '\r',       '\n', ':', '%', '?', '/',
                                 '\0', 0x7f, (char)0x80, 'A',  '_', ',', '"', '@'};
    size_t n = 0;
    /* half of the heads are mostly well-formed: a Host first, the usual spelling */
    unsigned clean = rnd(2) ? 4 : 1; /* pick among the first few choices only */
#define ADD(str) n += (size_t)snprintf(s + n, 1024 - n, "%s", (str))
#define PICK_C(a) (a)[rnd(clean > 1 && rnd(8) ? clean : sizeof(a) / sizeof((a)[0]))]
    if (rnd(16) == 0)
        ADD("\r\n");
    ADD(PICK_C(methods));
    ADD(rnd(16) ? " " : "  ");
    ADD(PICK_C(targets));
    ADD(" ");
    ADD(PICK_C(versions));
    ADD(PICK_C(ends));
    if (clean > 1)
        ADD("Host: example.com\r\n");
    for (unsigned f = rnd(7); f; f--) {
        ADD(PICK_C(names));
        ADD(PICK_C(seps));
        ADD(PICK_C(values));
        ADD(PICK_C(ends));
    }
#undef PICK_C
    if (rnd(8))
        ADD("\r\n");
    if (rnd(4) == 0)
        ADD("GET /next HTTP/1.1\r\n"); /* a pipelined next request */
#undef ADD
    for (unsigned e = rnd(4) == 0 ? 1 + rnd(3) : 0; e && n; e--)
        s[rnd((unsigned)n)] = PICK(edits);
    if (rnd(8) == 0)
        n = rnd((unsigned)n + 1); /* a prefix */
    return n;
}

static void test_fast_path_matches_general(void **state)
{
    (void)state;
    static const struct roost_http_limits tiny = {
        .max_head_bytes = 96, .max_body_bytes = 64, .max_headers = 4};
    char s[1024];
    unsigned accepted = 0;
    for (int i = 0; i < 40000; i++) {
        size_t n = random_head(s);
        const struct roost_http_limits *lim = rnd(4) ? NULL : &tiny;
        char *buf = copy_of(s, n);
        struct roost_http_request a, b;
        memset(&a, 0xa5, sizeof(a));
        memset(&b, 0x5a, sizeof(b));
        int ra = http_parse_head(buf, n, lim, &a);
        int rb = http_parse_head_general(buf, n, lim, &b);
        if (ra != rb)
            print_error("head \"%.*s\": %d, the general parser %d\n", (int)n, s, ra, rb);
        assert_int_equal(ra, rb);
        if (ra > 0) {
            assert_same_req(&a, buf, n, &b, buf, n);
            accepted++;
        }
        /* and as a connection parses it: the incremental entry, with a Host memo */
        struct http_head_progress hp = {0};
        memset(&a, 0xa5, sizeof(a));
        int rm = http_parse_head_more(buf, n, lim, &a, &hp);
        assert_int_equal(rm, rb);
        if (rm > 0)
            assert_same_req(&a, buf, n, &b, buf, n);
        free(buf);
    }
    /* the generator reaches valid heads, not only errors */
    print_message("%u of 40000 heads accepted\n", accepted);
    assert_true(accepted > 3000);
}

/* A head that follows itself is answered by http_parse_head_repeat exactly as a parse would
 * answer it; any other bytes get 0 and leave the request as it was. */
static void test_repeated_head_same_as_a_parse(void **state)
{
    (void)state;
    char s[1024];
    unsigned repeated = 0, declined = 0;
    for (int i = 0; i < 20000; i++) {
        size_t n = random_head(s);
        char *one = copy_of(s, n);
        struct roost_http_request a, b, before;
        int r = http_parse_head(one, n, NULL, &a);
        free(one);
        if (r <= 0)
            continue;
        /* the head, then it again (whole, with a byte changed, or cut short), then the rest */
        size_t h = (size_t)r, len = 2 * h + (n - h);
        char *buf = malloc(len);
        assert_non_null(buf);
        memcpy(buf, s, h);
        memcpy(buf + h, s, h);
        memcpy(buf + 2 * h, s + h, n - h);
        unsigned how = rnd(4);
        if (how == 2)
            buf[h + rnd((unsigned)h)] ^= (char)(1 + rnd(255));
        else if (how == 3)
            len = h + rnd((unsigned)h);
        struct http_head_progress hp = {0};
        memset(&a, 0xa5, sizeof(a));
        assert_int_equal(http_parse_head_more(buf, len, NULL, &a, &hp), r);
        memcpy(&before, &a, sizeof(a));
        int rr = http_parse_head_repeat(buf + h, len - h, h, &a, &hp);
        if (how < 2) {
            assert_int_equal(rr, r);
            assert_int_equal(http_parse_head(buf + h, len - h, NULL, &b), r);
            assert_same_req(&a, buf + h, len - h, &b, buf + h, len - h);
            repeated++;
        } else {
            assert_int_equal(rr, 0);
            assert_memory_equal(&a, &before, sizeof(a));
            declined++;
        }
        free(buf);
    }
    print_message("%u heads repeated, %u declined\n", repeated, declined);
    assert_true(repeated > 1000 && declined > 1000);

    /* Never in the middle of a head, nor for nothing. */
    static const char two[] =
        "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n";
    char *buf = keep(copy_of(two, sizeof(two) - 1));
    struct http_head_progress hp = {0};
    struct roost_http_request q;
    assert_int_equal(http_parse_head_more(buf, 28, NULL, &q, &hp), 28);
    hp.seen = 5;
    assert_int_equal(http_parse_head_repeat(buf + 28, 28, 28, &q, &hp), 0);
    hp.seen = 0;
    assert_int_equal(http_parse_head_repeat(buf + 28, 28, 0, &q, &hp), 0);
    assert_int_equal(http_parse_head_repeat(buf + 28, 28, 28, &q, &hp), 28);
    assert_true(q.path.p == buf + 32 && q.host.p == buf + 28 + 23);
}

static void test_pipelined_three_requests(void **state)
{
    (void)state;
    static const char s[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                            "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                            "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n"
                            "GET /d HTTP/1.1\r\nHo";
    const size_t n = sizeof(s) - 1;
    char *buf = keep(copy_of(s, n));
    struct roost_http_request r;
    size_t off = 0;

    int h = http_parse_head(buf + off, n - off, NULL, &r);
    assert_int_equal(h, 28);
    assert_true(str_is(r.method, "GET") && str_is(r.path, "/a"));
    assert_false(r.has_content_length || r.chunked);
    off += (size_t)h;

    h = http_parse_head(buf + off, n - off, NULL, &r);
    assert_true(h > 0);
    assert_true(str_is(r.method, "POST") && str_is(r.path, "/b"));
    assert_int_equal(r.content_length, 5);
    assert_memory_equal(buf + off + h, "hello", 5);
    off += (size_t)h + r.content_length;

    h = http_parse_head(buf + off, n - off, NULL, &r);
    assert_true(h > 0);
    assert_true(str_is(r.path, "/c") && r.chunked);
    off += (size_t)h;
    struct roost_http_chunked c;
    http_chunked_init(&c, NULL);
    char body[16];
    size_t body_n = 0;
    bool done = false;
    while (!done) {
        size_t used;
        struct roost_http_str data;
        assert_int_equal(http_chunked_feed(&c, buf + off, n - off, &used, &data, &done), 0);
        assert_true(used > 0 || done);
        assert_true(body_n + data.n <= sizeof(body));
        memcpy(body + body_n, data.p ? data.p : "", data.n);
        body_n += data.n;
        off += used;
    }
    assert_int_equal(body_n, 9);
    assert_memory_equal(body, "Wikipedia", 9);

    /* the fourth request is not complete yet */
    assert_memory_equal(buf + off, "GET /d", 6);
    assert_int_equal(http_parse_head(buf + off, n - off, NULL, &r), 0);
}

static const char *const valid_requests[] = {
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "\r\nGET /x?y=z HTTP/1.1\r\nHost: a:1\r\nAccept: */*\r\n\r\n",
    "GET / HTTP/1.0\r\n\r\n",
    "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    "POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
    "GET http://a.example/x%20y?q HTTP/1.1\r\nHost: b\r\n\r\n",
    "PUT /u HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
    "GET / HTTP/1.1\r\nHost: a\r\nX:\t \xe9t\xe9 \t\r\nConnection: keep-alive, Upgrade\r\n\r\n",
    ("GET /%41%42 HTTP/1.1\r\nHost: a\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) "
     "AppleWebKit/537.36 (KHTML, like Gecko)\r\n\r\n"),
};

static void test_valid_requests_byte_at_a_time(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(valid_requests) / sizeof(valid_requests[0]); i++) {
        struct roost_http_request r;
        OK(valid_requests[i], &r);
    }
}

static const struct {
    const char *s;
    int status;
} invalid_requests[] = {
    {"GET / HTTP/1.1\nHost: a\n\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400},
    {"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n  b\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
    {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
    {"GET / HTTP/1.1\r\nHost: a\r\nExpect: x\r\n\r\n", 417},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n", 413},
    {"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
};

static void test_invalid_requests_byte_at_a_time(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(invalid_requests) / sizeof(invalid_requests[0]); i++)
        BAD(invalid_requests[i].s, invalid_requests[i].status);
}

static void test_chunked_byte_at_a_time(void **state)
{
    (void)state;
    /* chunked_ok/bad feed 1, 2, 3, 5, 7, 16 bytes per call and all at once */
    CHUNKED_OK("1;a=\"b\"\r\nx\r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\n",
               "x0123456789abcdef");
    CHUNKED_BAD("1\r\nx\r\n0x1\r\ny\r\n0\r\n\r\n", 400);
    CHUNKED_BAD("1\r\nx\r\n0\r\nT : v\r\n\r\n", 400);
}

/* Feeds s a byte at a time to the incremental parser; returns the bytes it examined. */
static uint64_t trickle_scanned(const char *s, size_t n, int want)
{
    struct http_head_progress hp = {0};
    struct roost_http_request *q = malloc(sizeof(*q));
    assert_non_null(q);
    int rk = 0;
    for (size_t k = 1; k <= n && rk == 0; k++)
        rk = http_parse_head_more(s, k, NULL, q, &hp);
    assert_int_equal(rk, want);
    free(q);
    return hp.scanned;
}

static void test_trickled_head_costs_linear_time(void **state)
{
    (void)state;
    /* 60 short field lines, then one 6000-byte field: byte by byte, a parser that went back
     * to byte 0 (or to the line start) each time would examine millions of bytes. */
    char *s = malloc(8192);
    assert_non_null(s);
    size_t n = (size_t)snprintf(s, 8192, "GET /a/b?c=d HTTP/1.1\r\nHost: example.com\r\n");
    for (int i = 0; i < 60; i++)
        n += (size_t)snprintf(s + n, 8192 - n, "X-Field-%02d: value %d\r\n", i, i);
    int lines_only = (int)n + 2;
    memcpy(s + n, "\r\n", 2);
    uint64_t work = trickle_scanned(s, n + 2, lines_only);
    assert_true(work >= n && work <= 3 * (uint64_t)(n + 2));

    n += (size_t)snprintf(s + n, 8192 - n, "Cookie: ");
    memset(s + n, 'v', 6000);
    n += 6000;
    memcpy(s + n, "\r\n\r\n", 4);
    n += 4;
    work = trickle_scanned(s, n, (int)n);
    assert_true(work <= 3 * (uint64_t)n);
    /* the bound is tight enough to fail: the stateless parser costs n^2/2 this way */
    assert_true(3 * (uint64_t)n < (uint64_t)n * n / 2);
    free(s);
}

static void test_trickled_leading_empty_lines_linear(void **state)
{
    (void)state;
    char s[4096];
    size_t n = 0;
    while (n < 3000) {
        memcpy(s + n, "\r\n", 2);
        n += 2;
    }
    n += (size_t)snprintf(s + n, sizeof(s) - n, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_true(trickle_scanned(s, n, (int)n) <= 3 * (uint64_t)n);
}

#define T(f) cmocka_unit_test_teardown(f, release)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_request_line_fields),
        T(test_bytes_around_16_byte_blocks),
        T(test_trickled_head_costs_linear_time),
        T(test_trickled_leading_empty_lines_linear),
        T(test_origin_form_path_query_split),
        T(test_leading_empty_lines_ignored),
        T(test_bare_lf_rejected),
        T(test_bare_cr_rejected),
        T(test_method_must_be_token),
        T(test_single_sp_separators),
        T(test_absolute_form),
        T(test_asterisk_form_only_with_options),
        T(test_authority_form_only_with_connect),
        T(test_target_invalid_characters),
        T(test_version_exact),
        T(test_field_value_ows_trimmed),
        T(test_field_whitespace_before_colon_rejected),
        T(test_obs_fold_rejected),
        T(test_field_value_controls_rejected),
        T(test_field_name_must_be_token),
        T(test_content_length_valid),
        T(test_content_length_invalid),
        T(test_content_length_duplicate_rejected),
        T(test_content_length_over_limit_413),
        T(test_transfer_encoding_chunked),
        T(test_transfer_encoding_unknown_coding_501),
        T(test_transfer_encoding_not_final_chunked_400),
        T(test_transfer_encoding_chunked_twice_400),
        T(test_transfer_encoding_with_content_length_400),
        T(test_transfer_encoding_in_http10_400),
        T(test_host_required_in_http11),
        T(test_host_duplicate_rejected),
        T(test_host_value_validated),
        T(test_connection_keep_alive),
        T(test_expect_continue),
        T(test_expect_other_417),
        T(test_head_limit_431_as_soon_as_known),
        T(test_head_limit_exact_fit_accepted),
        T(test_target_limit_414),
        T(test_max_headers_431),
        T(test_null_limits_are_defaults),
        T(test_chunked_decodes_body),
        T(test_chunked_extensions_ignored),
        T(test_chunked_trailers_checked_and_discarded),
        T(test_chunked_malformed_sizes_400),
        T(test_chunked_over_limit_413),
        T(test_chunked_framing_errors_400),
        T(test_chunked_trailer_limits_431),
        T(test_chunked_extension_budget_400_rfc9112_7_1_1),
        T(test_chunk_size_overflow_400_rfc9112_7_1),
        T(test_empty_host_400_rfc9112_3_2),
        T(test_long_method_501_rfc9110_9_1),
        T(test_pct_encoded_nul_cr_lf_400_rfc3986_7_3),
        T(test_chunked_stops_at_end_of_body),
        T(test_chunked_one_span_per_call),
        T(test_chunked_error_is_sticky),
        T(test_repeated_head_same_as_a_parse),
        T(test_pipelined_three_requests),
        T(test_valid_requests_byte_at_a_time),
        T(test_invalid_requests_byte_at_a_time),
        T(test_fast_path_matches_general),
        T(test_chunked_byte_at_a_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

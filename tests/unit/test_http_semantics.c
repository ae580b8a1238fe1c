/*
 * HTTP semantics of the server, each case naming its RFC section: what the server answers on
 * its own (OPTIONS, CONNECT, 405 with Allow, undecodable paths), what handlers see (decoded
 * paths and parameters) and what the response setters refuse (header injection, server-owned
 * fields, statuses out of range), with bodiless statuses and reason phrases on the wire.
 *
 * One server on one reactor, on an ephemeral port, for the whole file; every exchange is one
 * connection that the test closes by sending `Connection: close` last and reading to EOF,
 * under a receive timeout scaled by ROOST_TEST_TIME_SCALE.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <roost/http.h>

#include "http/conn.h"

#include "support.h"

/* ROOST_TEST_TIME_SCALE: a float multiplier for every wait in a test (default 1). */
static double http_test_time_scale(void)
{
    const char *s = getenv("ROOST_TEST_TIME_SCALE");
    double v = s ? strtod(s, NULL) : 1.0;
    return v > 0 ? v : 1.0;
}

static roost_runtime *rt;
static roost_http_router *router;
static roost_http_server *srv;

/* ---- handlers ---- */

/* Echoes the decoded path and the :x parameter, so the test sees what the router matched. */
static int echo_path(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)arg;
    struct roost_str path = roost_http_req_path(req), x = {"-", 1};
    roost_http_req_param(req, "x", &x);
    char body[512];
    int n = snprintf(body, sizeof(body), "path=%.*s x=%.*s", (int)path.n, path.p, (int)x.n, x.p);
    return roost_http_res_body(res, body, (size_t)n);
}

/* Answers with the request body as it is, empty included (NULL data, length 0). */
static int echo_body(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)arg;
    struct roost_str b = roost_http_req_body(req);
    return roost_http_res_body(res, b.p, b.n);
}

static int plain(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    return roost_http_res_body(res, "ok", 2);
}

/* Every kind of header a handler must not be able to send. */
static const char *const bad_tries[][2] = {
        {"X-A", "1\r\nSet-Cookie: injected=1"},
        {"X-B", "1\nX-Injected: 1"},
        {"X-C", "1\rX-Injected: 1"},
        {"X-D", "a\x01z"},
        {"X E", "1"},
        {"X:F", "1"},
        {"", "1"},
        {"Content-Length", "5"},
        {"transfer-encoding", "chunked"},
        {"Connection", "close"},
        {"Date", "yesterday"},
        {"SERVER", "other"},
};
#define N_BAD_TRIES (sizeof(bad_tries) / sizeof(bad_tries[0]))

/* Tries every bad header; reports the return codes. */
static int bad_headers(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    char body[128];
    size_t n = 0;
    for (size_t i = 0; i < N_BAD_TRIES; i++)
        n += (size_t)snprintf(body + n, sizeof(body) - n, "%d ",
                              roost_http_res_header(res, bad_tries[i][0], bad_tries[i][1]));
    n += (size_t)snprintf(body + n, sizeof(body) - n, "| %d",
                          roost_http_res_header(res, "X-Fine", "tab\there, obs-text \xe9"));
    return roost_http_res_body(res, body, n);
}

/* A field checked once (roost_http_field_init) is sent as given; one never initialised is
 * refused. */
static roost_http_field checked_field;

static int field_handler(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    roost_http_field never = {0};
    char body[32];
    int n = snprintf(body, sizeof(body), "%d %d", roost_http_res_field(res, &checked_field),
                     roost_http_res_field(res, &never));
    return roost_http_res_body(res, body, (size_t)n);
}

/* The path parameter name as a number (0 if absent or not one). */
static int param_int(roost_http_req *req, const char *name)
{
    struct roost_str v;
    char digits[16] = "";
    if (roost_http_req_param(req, name, &v) && v.n < sizeof(digits))
        memcpy(digits, v.p, v.n);
    return atoi(digits);
}

/* Answers a body of :n bytes. */
static int sized(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)arg;
    static char body[100000];
    size_t n = (size_t)param_int(req, "n");
    memset(body, 'b', sizeof(body));
    return roost_http_res_body(res, body, n < sizeof(body) ? n : sizeof(body));
}

/* Fields longer than the response's header buffer holds at first (it grows while the field
 * is copied and checked): one valid, one with a CR far past the first 4 KiB. */
static int long_headers(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    static char v[6001], bad[6001];
    memset(v, 'v', 6000);
    memset(bad, 'b', 6000);
    bad[5000] = '\r';
    int a = roost_http_res_header(res, "X-Short", "1");
    int b = roost_http_res_header(res, "X-Long", v);
    int c = roost_http_res_header(res, "X-Bad", bad);
    char body[64];
    int n = snprintf(body, sizeof(body), "%d %d %d", a, b, c);
    return roost_http_res_body(res, body, (size_t)n);
}

/* Sets the status named in the path; the body is kept only where a status allows one. */
static int status(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)arg;
    int rc = roost_http_res_status(res, param_int(req, "code"));
    char body[32];
    int n = snprintf(body, sizeof(body), "rc=%d", rc);
    return roost_http_res_body(res, body, (size_t)n);
}

/* The same through the streaming API. */
static int status_streamed(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)arg;
    roost_http_res_status(res, param_int(req, "code"));
    return roost_http_res_write(res, "streamed", 8);
}

static int options_handler(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    roost_http_res_header(res, "X-Handled", "app");
    return roost_http_res_status(res, 204);
}

static int setup(void **state)
{
    (void)state;
    rt = test_runtime(1, NULL);
    assert_int_equal(roost_http_router_create(&router), 0);
    assert_int_equal(roost_http_field_init(&checked_field, "X-Checked", "once, \tthen copied"), 0);
    static const struct {
        const char *method, *pattern;
        roost_http_handler h;
    } routes[] = {
        {"GET", "/p/:x", echo_path},
        {"GET", "/a/b", echo_path},
        {"GET", "/res", plain},
        {"PUT", "/res", plain},
        {"DELETE", "/res", plain},
        {"POST", "/only-post", plain},
        {"POST", "/echo", echo_body},
        {"GET", "/own-options", plain},
        {"OPTIONS", "/own-options", options_handler},
        {"GET", "/bad-headers", bad_headers},
        {"GET", "/long-headers", long_headers},
        {"GET", "/field", field_handler},
        {"GET", "/sized/:n", sized},
        {"GET", "/status/:code", status},
        {"GET", "/streamed/:code", status_streamed},
        {"GET", "/metrics", roost_http_metrics},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        assert_int_equal(
            roost_http_route(router, routes[i].method, routes[i].pattern, routes[i].h, NULL), 0);
    struct roost_http_server_opts o;
    roost_http_server_opts_init(&o);
    o.port = 0;
    assert_int_equal(roost_http_server_start(rt, &o, router, &srv), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(roost_http_server_shutdown(srv, (uint64_t)(10000 * http_test_time_scale())), 0);
    roost_runtime_stop(rt);
    roost_http_server_free(srv);
    roost_runtime_destroy(rt);
    roost_http_router_free(router);
    return 0;
}

/* ---- the wire ---- */

/* Sends req on a new connection and reads until the server closes. Returns a malloc'd,
 * NUL-terminated copy of everything received. */
static char *exchange(const char *req, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(roost_http_server_port(srv))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    double secs = 10 * http_test_time_scale();
    struct timeval tv = {.tv_sec = (time_t)secs, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_int_equal(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            break;
        if (r < 0)
            fail_msg("no EOF from the server within %.0f s (errno %d); got \"%.*s\"", secs, errno,
                     (int)n, buf);
        n += (size_t)r;
        assert_true(n < cap - 1);
    }
    close(fd);
    buf[n] = 0;
    return buf;
}

#define EXCHANGE(lit) exchange((lit), sizeof(lit) - 1)
#define CLOSE " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"

struct response {
    int status;
    const char *head; /* status line and fields, up to the blank line (not terminated) */
    size_t head_len;
    const char *body;
    size_t body_len;
};

/* The field's value in r's head (case-insensitive name), copied into out; false if absent. */
static bool field(const struct response *r, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    for (const char *p = r->head; p && p < r->head + r->head_len;) {
        const char *eol = strstr(p, "\r\n");
        if (!eol)
            break;
        if ((size_t)(eol - p) > n && p[n] == ':' && !strncasecmp(p, name, n)) {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            snprintf(out, cap, "%.*s", (int)(eol - v), v);
            return true;
        }
        p = eol + 2;
    }
    return false;
}

/* Splits the next response off *pp (Content-Length framing, or none: bodiless / to EOF). */
static bool next_response(const char **pp, struct response *r)
{
    const char *p = *pp;
    if (!*p)
        return false;
    const char *blank = strstr(p, "\r\n\r\n");
    assert_non_null(blank);
    assert_int_equal(strncmp(p, "HTTP/1.1 ", 9), 0);
    *r = (struct response){.status = atoi(p + 9), .head = p, .head_len = (size_t)(blank - p) + 2};
    char cl[32];
    r->body = blank + 4;
    r->body_len = field(r, "Content-Length", cl, sizeof(cl)) ? (size_t)atol(cl) : 0;
    *pp = r->body + r->body_len;
    return true;
}

/* The one response to a request sent alone. */
static struct response only_response(const char *all)
{
    const char *p = all;
    struct response r;
    assert_true(next_response(&p, &r));
    if (*p)
        fail_msg("more than one response: \"%s\"", all);
    return r;
}

static void assert_body(const struct response *r, const char *want)
{
    if (r->body_len != strlen(want) || memcmp(r->body, want, r->body_len) != 0)
        fail_msg("body \"%.*s\", want \"%s\"", (int)r->body_len, r->body, want);
}

static void assert_field(const struct response *r, const char *name, const char *want)
{
    char v[256];
    if (!field(r, name, v, sizeof(v)))
        fail_msg("no %s in \"%.*s\"", name, (int)r->head_len, r->head);
    assert_string_equal(v, want);
}

/* What one response must be: its status, and its body unless body is NULL. */
struct want {
    int status;
    const char *body;
};

/* Sends req (pipelined requests, the last with Connection: close) and checks that exactly
 * the wanted responses come back, in order. */
static void expect_responses(const char *req, const struct want *w, size_t n)
{
    char *all = exchange(req, strlen(req));
    const char *p = all;
    struct response r;
    for (size_t i = 0; i < n; i++) {
        if (!next_response(&p, &r))
            fail_msg("response %zu of %zu missing: \"%s\"", i + 1, n, all);
        if (r.status != w[i].status)
            fail_msg("response %zu: status %d, want %d", i + 1, r.status, w[i].status);
        if (w[i].body)
            assert_body(&r, w[i].body);
    }
    if (*p)
        fail_msg("more responses than %zu: \"%s\"", n, p);
    free(all);
}

#define EXPECT(req, ...)                                                                           \
    do {                                                                                           \
        static const struct want w_[] = {__VA_ARGS__};                                             \
        expect_responses((req), w_, sizeof(w_) / sizeof(w_[0]));                                   \
    } while (0)

/* ---- requests ---- */

/* RFC 9112 §2.2: empty lines before a request-line are ignored, also between keep-alive
 * requests (a client's CRLF after a body). */
static void empty_lines_before_request_line_ignored_rfc9112_2_2(void **state)
{
    (void)state;
    EXPECT("\r\n\r\nGET /res HTTP/1.1\r\nHost: t\r\n\r\n"
           "\r\nGET /res" CLOSE,
           {200, "ok"}, {200, "ok"});
}

/* RFC 9112 §3.2: an empty Host in HTTP/1.1 is answered 400. */
static void empty_host_400_rfc9112_3_2(void **state)
{
    (void)state;
    EXPECT("GET /res HTTP/1.1\r\nHost:\r\n\r\n", {400, ""});
}

/* RFC 9110 §9.3.7: OPTIONS * asks about the server: 200, Allow with every routed method,
 * Content-Length 0. */
static void options_asterisk_200_with_allow_rfc9110_9_3_7(void **state)
{
    (void)state;
    char *all = EXCHANGE("OPTIONS *" CLOSE);
    struct response r = only_response(all);
    assert_int_equal(r.status, 200);
    assert_field(&r, "Allow", "GET, HEAD, PUT, DELETE, POST, OPTIONS");
    assert_field(&r, "Content-Length", "0");
    free(all);
}

/* RFC 9110 §9.3.7: OPTIONS on a routed path is answered by the server with the path's Allow,
 * unless the application routed OPTIONS there itself; an unknown path stays 404. */
static void options_on_routed_path_answered_with_allow_rfc9110_9_3_7(void **state)
{
    (void)state;
    char *all = EXCHANGE("OPTIONS /res HTTP/1.1\r\nHost: t\r\n\r\n"
                         "OPTIONS /own-options HTTP/1.1\r\nHost: t\r\n\r\n"
                         "OPTIONS /nowhere" CLOSE);
    const char *p = all;
    struct response r;
    assert_true(next_response(&p, &r));
    assert_int_equal(r.status, 200);
    assert_field(&r, "Allow", "GET, HEAD, PUT, DELETE, OPTIONS");
    assert_true(next_response(&p, &r));
    assert_int_equal(r.status, 204);
    assert_field(&r, "X-Handled", "app");
    char v[64];
    assert_false(field(&r, "Allow", v, sizeof(v)));
    assert_true(next_response(&p, &r));
    assert_int_equal(r.status, 404);
    free(all);
}

/* RFC 9110 §9.3.6: the server opens no tunnels: CONNECT is 501, and the connection closes
 * (the client may already be sending tunnel bytes). */
static void connect_501_and_close_rfc9110_9_3_6(void **state)
{
    (void)state;
    char *all = EXCHANGE("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
                         "GET /res HTTP/1.1\r\nHost: t\r\n\r\n");
    struct response r = only_response(all);
    assert_int_equal(r.status, 501);
    assert_field(&r, "Connection", "close");
    free(all);
}

/* RFC 9110 §15.5.6: a 405's Allow lists exactly the methods routed for the path. */
static void method_not_allowed_lists_routed_methods_rfc9110_15_5_6(void **state)
{
    (void)state;
    char *all = EXCHANGE("POST /res HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"
                         "GET /only-post" CLOSE);
    const char *p = all;
    struct response r;
    assert_true(next_response(&p, &r));
    assert_int_equal(r.status, 405);
    assert_field(&r, "Allow", "GET, HEAD, PUT, DELETE, OPTIONS");
    assert_true(next_response(&p, &r));
    assert_int_equal(r.status, 405);
    assert_field(&r, "Allow", "POST, OPTIONS");
    free(all);
}

/* RFC 9112 §7.1: a chunk-size that overflows is 400 (not 413), on the wire too. */
static void chunk_size_overflow_400_rfc9112_7_1(void **state)
{
    (void)state;
    EXPECT("PUT /res HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
           "10000000000000001\r\n",
           {400, ""});
}

/* RFC 3986 §2.1: the router matches the percent-decoded path and the parameters arrive
 * decoded. */
static void router_matches_decoded_path_rfc3986_2_1(void **state)
{
    (void)state;
    EXPECT("GET /%61/%62 HTTP/1.1\r\nHost: t\r\n\r\n"
           "GET /p/caf%C3%A9%20au%20lait?q=1" CLOSE,
           {200, "path=/a/b x=-"}, {200, "path=/p/caf\xc3\xa9 au lait x=caf\xc3\xa9 au lait"});
}

/* RFC 3986 §5.2.4: dot-segments are removed before matching, "//" is kept (and so matches no
 * route), and a path that cannot be decoded safely (%2F, ".." above the root) is 400. */
static void path_normalisation_rfc3986_5_2_4(void **state)
{
    (void)state;
    EXPECT("GET /a/./x/../b HTTP/1.1\r\nHost: t\r\n\r\n"
           "GET /a//b HTTP/1.1\r\nHost: t\r\n\r\n"
           "GET /p/a%2Fb HTTP/1.1\r\nHost: t\r\n\r\n"
           "GET /../a/b" CLOSE,
           {200, "path=/a/b x=-"}, {404, NULL}, {400, NULL}, {400, NULL});
}

/* A connection remembers its last route while method and path repeat: every change of
 * method, of path, of a parameter or of the path's form must still be routed afresh. */
static void repeated_requests_route_each_afresh(void **state)
{
    (void)state;
#define H11 " HTTP/1.1\r\nHost: t\r\n\r\n"
    EXPECT("GET /a/b" H11 "GET /a/b" H11 "OPTIONS /a/b" H11
           "POST /a/b HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"
           "GET /a/./b" H11 "GET /a/b" H11 "GET /p/1" H11 "GET /p/2" H11 "GET /p/2" H11
           "GET /res" H11 "DELETE /res" H11 "GET /a/b" CLOSE,
           {200, "path=/a/b x=-"}, {200, "path=/a/b x=-"}, {200, ""}, {405, NULL},
           {200, "path=/a/b x=-"}, {200, "path=/a/b x=-"}, {200, "path=/p/1 x=1"},
           {200, "path=/p/2 x=2"}, {200, "path=/p/2 x=2"}, {200, "ok"}, {200, "ok"},
           {200, "path=/a/b x=-"});
#undef H11
}

/* ---- responses ---- */

/* Regression (fuzz_http_server): an empty body set from an empty request body is a NULL span;
 * copying it did pointer arithmetic on NULL (UBSan: "applying zero offset to null pointer"). */
static void empty_body_from_null_span(void **state)
{
    (void)state;
    EXPECT("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"
           "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
           {200, ""}, {200, "hi"});
}

/* RFC 9110 §5.5, §5.6.2: a header with a non-token name or a value with CR, LF, NUL or another
 * control is refused (-EINVAL), so nothing is injected; HTAB and obs-text are fine. */
static void res_header_refuses_injection_rfc9110_5_5(void **state)
{
    (void)state;
    char *all = EXCHANGE("GET /bad-headers" CLOSE);
    struct response r = only_response(all);
    assert_int_equal(r.status, 200);
    assert_body(&r, "-22 -22 -22 -22 -22 -22 -22 -22 -22 -22 -22 -22 | 0");
    char v[64];
    assert_false(field(&r, "Set-Cookie", v, sizeof(v)));
    assert_false(field(&r, "X-Injected", v, sizeof(v)));
    assert_field(&r, "X-Fine", "tab\there, obs-text \xe9");
    /* the server's own fields, once each */
    assert_field(&r, "Server", "roost");
    assert_field(&r, "Content-Length", "51");
    assert_field(&r, "Connection", "close");
    assert_null(strstr(r.head, "yesterday"));
    free(all);
}

static void res_header_longer_than_its_buffer_rfc9110_5_5(void **state)
{
    (void)state;
    char *all = EXCHANGE("GET /long-headers" CLOSE);
    struct response r = only_response(all);
    assert_int_equal(r.status, 200);
    assert_body(&r, "0 0 -22");
    static char v[6100], want[6001];
    memset(want, 'v', 6000);
    assert_true(field(&r, "X-Long", v, sizeof(v)));
    assert_string_equal(v, want);
    assert_field(&r, "X-Short", "1");
    assert_false(field(&r, "X-Bad", v, sizeof(v)));
    free(all);
}

/* RFC 9110 §5.5: a refused field is refused before the response's header buffer grows for it
 * (a handler echoing a client's 1 MiB value with a CR in it allocates nothing). */
static void refused_field_takes_no_room_rfc9110_5_5(void **state)
{
    (void)state;
    static char big[1 << 20];
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) / 2] = '\r';
    roost_http_res res;
    memset(&res, 0, sizeof(res));
    assert_int_equal(roost_http_res_header(&res, "X-Echo", big), -EINVAL);
    assert_int_equal(res.headers.cap, 0);
    assert_int_equal(roost_http_res_header(&res, "Content-Length", "5"), -EINVAL);
    assert_int_equal(res.headers.cap, 0);
    assert_int_equal(roost_http_res_header(&res, "X-Fine", "1"), 0);
    assert_int_equal(res.headers.len, strlen("X-Fine: 1\r\n"));
    assert_memory_equal(res.headers.p, "X-Fine: 1\r\n", res.headers.len);
    free(res.headers.p);
}

/* RFC 9110 §5.5, §5.6.2: a field checked once refuses what roost_http_res_header refuses, and
 * one longer than ROOST_HTTP_FIELD_MAX; a good one reaches the wire as given. */
static void res_field_checked_once_rfc9110_5_5(void **state)
{
    (void)state;
    roost_http_field f;
    for (size_t i = 0; i < N_BAD_TRIES; i++) {
        assert_int_equal(roost_http_field_init(&f, bad_tries[i][0], bad_tries[i][1]), -EINVAL);
        assert_int_equal(f.len, 0);
    }
    char big[ROOST_HTTP_FIELD_MAX];
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    assert_int_equal(roost_http_field_init(&f, "X-Big", big), -ENAMETOOLONG);
    big[ROOST_HTTP_FIELD_MAX - 4 - 5] = 0; /* "X-Big" ": " value "\r\n" fills it exactly */
    assert_int_equal(roost_http_field_init(&f, "X-Big", big), 0);
    assert_int_equal(f.len, ROOST_HTTP_FIELD_MAX);
    char *all = EXCHANGE("GET /field" CLOSE);
    struct response r = only_response(all);
    assert_int_equal(r.status, 200);
    assert_field(&r, "X-Checked", "once, \tthen copied");
    assert_body(&r, "0 -22");
    free(all);
}

/* RFC 9110 §8.6: Content-Length is the body's length in decimal, at every number of digits. */
static void content_length_at_every_digit_count_rfc9110_8_6(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 12345, 54321};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char req[64], want[16];
        snprintf(req, sizeof(req), "GET /sized/%zu" CLOSE, sizes[i]);
        snprintf(want, sizeof(want), "%zu", sizes[i]);
        char *all = exchange(req, strlen(req));
        struct response r = only_response(all);
        assert_int_equal(r.status, 200);
        assert_field(&r, "Content-Length", want);
        assert_int_equal(r.body_len, sizes[i]);
        free(all);
    }
}

/* RFC 9110 §15: a status is three digits, 100..999; anything else is refused and the status
 * stays what it was. */
static void res_status_outside_100_999_refused_rfc9110_15(void **state)
{
    (void)state;
    EXPECT("GET /status/99 HTTP/1.1\r\nHost: t\r\n\r\n"
           "GET /status/1000 HTTP/1.1\r\nHost: t\r\n\r\n"
           "GET /status/0 HTTP/1.1\r\nHost: t\r\n\r\n"
           "GET /status/999" CLOSE,
           {200, "rc=-22"}, {200, "rc=-22"}, {200, "rc=-22"}, {999, "rc=0"});
}

/* RFC 9110 §6.4.1, §8.6: 1xx, 204 and 304 carry no Content-Length and no body, whether the
 * handler set a body or streamed one; HEAD keeps its Content-Length. */
static void bodiless_statuses_rfc9110_6_4_1(void **state)
{
    (void)state;
    static const char *const paths[] = {"/status/204", "/status/304", "/status/103",
                                        "/streamed/204", "/streamed/304"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        char req[128];
        int n = snprintf(req, sizeof(req), "GET %s" CLOSE, paths[i]);
        char *all = exchange(req, (size_t)n);
        const char *blank = strstr(all, "\r\n\r\n");
        assert_non_null(blank);
        if (blank[4] != 0)
            fail_msg("%s: bytes after the head: \"%s\"", paths[i], blank + 4);
        struct response r = only_response(all);
        assert_int_equal(r.status, atoi(strrchr(paths[i], '/') + 1));
        char v[64];
        if (field(&r, "Content-Length", v, sizeof(v)) ||
            field(&r, "Transfer-Encoding", v, sizeof(v)))
            fail_msg("%s: framing field in \"%s\"", paths[i], all);
        free(all);
    }
    /* HEAD: the Content-Length a GET would have, and no body (read raw: next_response would
     * take the Content-Length at its word) */
    char *all = EXCHANGE("HEAD /res" CLOSE);
    assert_int_equal(strncmp(all, "HTTP/1.1 200 OK\r\n", 17), 0);
    assert_non_null(strstr(all, "Content-Length: 2\r\n"));
    assert_int_equal(strlen(all), (size_t)(strstr(all, "\r\n\r\n") + 4 - all));
    free(all);
}

/* RFC 9110 §15: every status defined there goes out with its reason phrase; an unknown one
 * with an empty phrase (RFC 9112 §4). */
static void reason_phrases_rfc9110_15(void **state)
{
    (void)state;
    static const struct {
        int code;
        const char *reason;
    } want[] = {
        {100, "Continue"},
        {101, "Switching Protocols"},
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {203, "Non-Authoritative Information"},
        {204, "No Content"},
        {205, "Reset Content"},
        {206, "Partial Content"},
        {300, "Multiple Choices"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {303, "See Other"},
        {304, "Not Modified"},
        {305, "Use Proxy"},
        {306, "Unused"},
        {307, "Temporary Redirect"},
        {308, "Permanent Redirect"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {402, "Payment Required"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {406, "Not Acceptable"},
        {407, "Proxy Authentication Required"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {410, "Gone"},
        {411, "Length Required"},
        {412, "Precondition Failed"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {415, "Unsupported Media Type"},
        {416, "Range Not Satisfiable"},
        {417, "Expectation Failed"},
        {418, "Unused"},
        {421, "Misdirected Request"},
        {422, "Unprocessable Content"},
        {426, "Upgrade Required"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
        {505, "HTTP Version Not Supported"},
        {299, ""},
        {599, ""},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        char req[128], line[80];
        int n = snprintf(req, sizeof(req), "GET /status/%d" CLOSE, want[i].code);
        char *all = exchange(req, (size_t)n);
        snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", want[i].code, want[i].reason);
        if (strncmp(all, line, strlen(line)) != 0)
            fail_msg("status %d: got \"%.40s\"", want[i].code, all);
        free(all);
    }
}

/* ---- /metrics ---- */

/* The value of the sample named exactly `series` (name and labels) in a scrape. */
static double sample(const char *scrape, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = scrape; *p;) {
        const char *eol = strchr(p, '\n');
        assert_non_null(eol);
        if (!strncmp(p, series, n) && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p = eol + 1;
    }
    fail_msg("no sample %s", series);
    return -1;
}

static char *scrape(void)
{
    char *all = EXCHANGE("GET /metrics" CLOSE);
    struct response r = only_response(all);
    assert_int_equal(r.status, 200);
    assert_field(&r, "Content-Type", "text/plain; version=0.0.4");
    char *body = strndup(r.body, r.body_len);
    assert_non_null(body);
    free(all);
    return body;
}

/* Prometheus text format and naming: every family has HELP then TYPE, every sample belongs to
 * the family declared last, counters end in _total, histogram buckets are cumulative and end
 * at +Inf == _count. */
static void metrics_follow_prometheus_naming(void **state)
{
    (void)state;
    char *m = scrape();
    char family[128] = "", type[32] = "";
    int families = 0;
    double last_bucket = 0;
    bool inf_last = false;
    for (char *line = m, *eol; *line; line = eol + 1) {
        eol = strchr(line, '\n');
        assert_non_null(eol);
        *eol = 0;
        char name[128], help_name[128];
        if (sscanf(line, "# HELP %127s", help_name) == 1) {
            char *next = eol + 1;
            assert_int_equal(sscanf(next, "# TYPE %127s %31s", family, type), 2);
            assert_string_equal(family, help_name);
            families++;
            if (!strcmp(type, "counter") && strcmp(family + strlen(family) - 6, "_total"))
                fail_msg("counter %s does not end in _total", family);
            last_bucket = 0;
            continue;
        }
        if (line[0] == '#')
            continue;
        assert_int_equal(sscanf(line, "%127[a-z_]", name), 1);
        if (!strcmp(type, "histogram")) {
            size_t fl = strlen(family);
            assert_int_equal(strncmp(name, family, fl), 0);
            const char *suffix = name + fl;
            assert_true(!strcmp(suffix, "_bucket") || !strcmp(suffix, "_sum") ||
                        !strcmp(suffix, "_count"));
            double v = strtod(strrchr(line, ' ') + 1, NULL);
            if (!strcmp(suffix, "_bucket")) {
                assert_true(v >= last_bucket);
                last_bucket = v;
                inf_last = strstr(line, "le=\"+Inf\"") != NULL;
            } else if (!strcmp(suffix, "_count")) {
                assert_true(inf_last && v == last_bucket);
            }
        } else if (strcmp(name, family) != 0) {
            fail_msg("sample %s under family %s", name, family);
        }
    }
    assert_true(families >= 8 + 19); /* build info, the HTTP families, every reactor counter */
    free(m);
}

/* What the counters count, as deltas between two scrapes around a known exchange. */
static void metrics_count_requests_connections_and_bytes(void **state)
{
    (void)state;
    char *a = scrape();
    static const char req[] = "GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n"
                              "GET /res" CLOSE;
    free(exchange(req, sizeof(req) - 1));
    char *b = scrape();
#define DELTA(series) (sample(b, series) - sample(a, series))
    assert_true(DELTA("roost_http_requests_total{class=\"4xx\"}") == 1);
    /* /res, and the first scrape (counted once its response was written) */
    assert_true(DELTA("roost_http_requests_total{class=\"2xx\"}") == 2);
    /* the exchange's connection and the second scrape's */
    assert_true(DELTA("roost_http_connections_accepted_total") == 2);
    /* the first scrape's and the exchange's: each closed before its client saw EOF */
    assert_true(DELTA("roost_http_connections_closed_total") == 2);
    assert_true(sample(b, "roost_http_connections_open") == 1);
    assert_true(DELTA("roost_http_received_bytes_total") >= (double)(sizeof(req) - 1));
    assert_true(DELTA("roost_http_sent_bytes_total") > 0);
    assert_true(DELTA("roost_http_request_duration_seconds_count") == 3);
    assert_true(sample(b, "roost_build_info{version=\"" ROOST_TEST_VERSION "\"}") == 1);
    assert_true(sample(b, "roost_ticks_total{reactor=\"0\"}") > 0);
#undef DELTA
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_lines_before_request_line_ignored_rfc9112_2_2),
        cmocka_unit_test(empty_host_400_rfc9112_3_2),
        cmocka_unit_test(options_asterisk_200_with_allow_rfc9110_9_3_7),
        cmocka_unit_test(options_on_routed_path_answered_with_allow_rfc9110_9_3_7),
        cmocka_unit_test(connect_501_and_close_rfc9110_9_3_6),
        cmocka_unit_test(method_not_allowed_lists_routed_methods_rfc9110_15_5_6),
        cmocka_unit_test(chunk_size_overflow_400_rfc9112_7_1),
        cmocka_unit_test(router_matches_decoded_path_rfc3986_2_1),
        cmocka_unit_test(path_normalisation_rfc3986_5_2_4),
        cmocka_unit_test(repeated_requests_route_each_afresh),
        cmocka_unit_test(empty_body_from_null_span),
        cmocka_unit_test(res_header_refuses_injection_rfc9110_5_5),
        cmocka_unit_test(res_header_longer_than_its_buffer_rfc9110_5_5),
        cmocka_unit_test(res_field_checked_once_rfc9110_5_5),
        cmocka_unit_test(refused_field_takes_no_room_rfc9110_5_5),
        cmocka_unit_test(content_length_at_every_digit_count_rfc9110_8_6),
        cmocka_unit_test(res_status_outside_100_999_refused_rfc9110_15),
        cmocka_unit_test(bodiless_statuses_rfc9110_6_4_1),
        cmocka_unit_test(reason_phrases_rfc9110_15),
        cmocka_unit_test(metrics_follow_prometheus_naming),
        cmocka_unit_test(metrics_count_requests_connections_and_bytes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * What a handler sees and does: the request accessors (method, target, path, query,
 * version, headers, path parameters, body, reactor) and a streamed response
 * (roost_http_res_write). A real server on an ephemeral loopback port, one request per
 * connection (Connection: close), read to EOF with a scaled receive timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "support.h"

static roost_runtime *rt;
static roost_http_router *router;
static roost_http_server *srv;

/* ---- what the handler saw, copied out (the request is valid only during the handler) ---- */

struct seen {
    char method[16], target[128], path[64], query[64], header[64], missing_header[8];
    char param[32], body[64];
    bool have_header, have_missing_header, have_param, have_other_param;
    int version_minor;
    bool reactor_is_current;
    roost_reactor *reactor;
};

static struct seen seen;
/*
 * Handlers that finished filling `seen`: the test reads `seen` only after it saw the count
 * rise (an atomic handoff; the response arriving over TCP orders nothing for TSan).
 */
static _Atomic long seen_count;

/* Waits for the handler's record of the request just answered. */
static void wait_seen(void)
{
    assert_true(test_wait_at_least(&seen_count, 1, 10000));
}

static void copy(char *dst, size_t cap, struct roost_str s)
{
    size_t n = s.n < cap - 1 ? s.n : cap - 1;
    if (s.p)
        memcpy(dst, s.p, n);
    dst[s.p ? n : 0] = 0;
}

static int inspect(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)arg;
    struct roost_str s;
    copy(seen.method, sizeof(seen.method), roost_http_req_method(req));
    copy(seen.target, sizeof(seen.target), roost_http_req_target(req));
    copy(seen.path, sizeof(seen.path), roost_http_req_path(req));
    copy(seen.query, sizeof(seen.query), roost_http_req_query(req));
    seen.version_minor = roost_http_req_version_minor(req);
    seen.have_header = roost_http_req_header(req, "x-test-header", &s); /* any case */
    if (seen.have_header)
        copy(seen.header, sizeof(seen.header), s);
    seen.have_missing_header = roost_http_req_header(req, "X-Absent", &s);
    seen.have_param = roost_http_req_param(req, "id", &s);
    if (seen.have_param)
        copy(seen.param, sizeof(seen.param), s);
    seen.have_other_param = roost_http_req_param(req, "nope", &s);
    copy(seen.body, sizeof(seen.body), roost_http_req_body(req));
    seen.reactor = roost_http_req_reactor(req);
    seen.reactor_is_current = seen.reactor == roost_reactor_current();
    atomic_fetch_add(&seen_count, 1);
    return roost_http_res_body(res, "ok", 2);
}

/* Three chunks, an await between two of them. */
static int stream(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    int rc = roost_http_res_write(res, "alpha", 5);
    if (rc == 0)
        rc = roost_sleep(1);
    if (rc == 0)
        rc = roost_http_res_write(res, "beta", 4);
    if (rc == 0)
        rc = roost_http_res_write(res, "gamma!", 6);
    return rc;
}

static int setup(void **state)
{
    (void)state;
    memset(&seen, 0, sizeof(seen));
    atomic_store(&seen_count, 0);
    rt = test_runtime(1, NULL);
    assert_int_equal(roost_http_router_create(&router), 0);
    assert_int_equal(roost_http_route(router, NULL, "/users/:id", inspect, NULL), 0);
    assert_int_equal(roost_http_route(router, "GET", "/stream", stream, NULL), 0);
    struct roost_http_server_opts o;
    roost_http_server_opts_init(&o);
    o.port = 0;
    assert_int_equal(roost_http_server_start(rt, &o, router, &srv), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    test_http_stop(srv, rt, router);
    return 0;
}

/* Sends request on a new connection and reads the whole response (the server closes). */
static size_t exchange(const char *request, char *out, size_t cap)
{
    int fd = test_connect_timed(roost_http_server_port(srv), 10000);
    size_t len = strlen(request);
    assert_int_equal(send(fd, request, len, MSG_NOSIGNAL), (ssize_t)len);
    size_t got = 0;
    for (;;) {
        assert_true(got < cap - 1);
        ssize_t n = recv(fd, out + got, cap - 1 - got, 0);
        assert_true(n >= 0); /* a timeout fails the test instead of hanging it */
        if (n == 0)
            break;
        got += (size_t)n;
    }
    out[got] = 0;
    close(fd);
    return got;
}

static const char *body_of(const char *response)
{
    const char *b = strstr(response, "\r\n\r\n");
    assert_non_null(b);
    return b + 4;
}

/* ---- request accessors ---- */

static const char get_user[] = "GET /users/42?fields=name&x=1 HTTP/1.1\r\n"
                               "Host: localhost\r\n"
                               "X-Test-Header: hello there\r\n"
                               "Connection: close\r\n\r\n";

/* One GET with a query, a header and a path parameter; the handler records what it saw. */
static void exchange_get_user(void)
{
    char resp[4096];
    exchange(get_user, resp, sizeof(resp));
    assert_string_equal(body_of(resp), "ok");
    wait_seen();
}

static void request_line_accessors_return_its_parts(void **state)
{
    (void)state;
    exchange_get_user();
    assert_string_equal(seen.method, "GET");
    assert_string_equal(seen.target, "/users/42?fields=name&x=1");
    assert_string_equal(seen.path, "/users/42");
    assert_string_equal(seen.query, "fields=name&x=1");
    assert_int_equal(seen.version_minor, 1);
}

static void header_lookup_ignores_case_and_reports_absence(void **state)
{
    (void)state;
    exchange_get_user();
    assert_true(seen.have_header);
    assert_string_equal(seen.header, "hello there");
    assert_false(seen.have_missing_header);
}

static void path_parameter_is_the_matched_segment(void **state)
{
    (void)state;
    exchange_get_user();
    assert_true(seen.have_param);
    assert_string_equal(seen.param, "42");
    assert_false(seen.have_other_param);
}

static void body_accessor_returns_the_whole_body(void **state)
{
    (void)state;
    char resp[4096];
    exchange("POST /users/7 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 11\r\n"
             "Connection: close\r\n\r\nhello world",
             resp, sizeof(resp));
    wait_seen();
    assert_string_equal(seen.method, "POST");
    assert_string_equal(seen.body, "hello world");
    assert_string_equal(body_of(resp), "ok");
}

static void http10_request_reports_minor_version_0(void **state)
{
    (void)state;
    char resp[4096];
    exchange("GET /users/1 HTTP/1.0\r\n\r\n", resp, sizeof(resp));
    wait_seen();
    assert_int_equal(seen.version_minor, 0);
    assert_string_equal(seen.query, "");
}

static void request_reactor_is_the_handlers_reactor(void **state)
{
    (void)state;
    exchange_get_user();
    assert_ptr_equal(seen.reactor, roost_runtime_reactor(rt, 0));
    assert_true(seen.reactor_is_current);
}

/* ---- streamed responses ---- */

static void res_write_streams_chunks_in_order_and_ends_the_body(void **state)
{
    (void)state;
    char resp[4096];
    exchange("GET /stream HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", resp,
             sizeof(resp));
    assert_non_null(strstr(resp, "HTTP/1.1 200"));
    assert_non_null(strstr(resp, "Transfer-Encoding: chunked\r\n"));
    assert_null(strstr(resp, "Content-Length"));
    assert_string_equal(body_of(resp), "5\r\nalpha\r\n4\r\nbeta\r\n6\r\ngamma!\r\n0\r\n\r\n");
}

static void res_write_to_http10_client_closes_instead_of_chunking(void **state)
{
    (void)state;
    char resp[4096];
    exchange("GET /stream HTTP/1.0\r\n\r\n", resp, sizeof(resp));
    assert_null(strstr(resp, "Transfer-Encoding"));
    assert_string_equal(body_of(resp), "alphabetagamma!");
}

int main(void)
{
#define C(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        C(request_line_accessors_return_its_parts),
        C(header_lookup_ignores_case_and_reports_absence),
        C(path_parameter_is_the_matched_segment),
        C(body_accessor_returns_the_whole_body),
        C(http10_request_reports_minor_version_0),
        C(request_reactor_is_the_handlers_reactor),
        C(res_write_streams_chunks_in_order_and_ends_the_body),
        C(res_write_to_http10_client_closes_instead_of_chunking),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Response heads are remembered per thread and copied whole when the next response is made
 * of the same parts (response.c, struct head_memo). These tests answer pipelined requests
 * whose responses differ from the one before in exactly one part each (status, a field's
 * value, its length, the body length, Connection, HEAD, a bodiless status, the server, the
 * second of the Date) and check every head against what its own request asked for: a part
 * left out of the memo's key would show as a head copied from the response before.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/parser.h"
#include "support.h"

static roost_runtime *rt;
static roost_http_router *router;
static roost_http_server *srv, *srv2;

static long query_long(const roost_http_req *req, const char *name, long dflt)
{
    char v[32];
    int n = roost_http_query_get(roost_http_req_query(req), name, v, sizeof(v));
    return n > 0 ? strtol(v, NULL, 10) : dflt;
}

/* GET|HEAD /h?s=STATUS&f=VALUE&n=LENGTH: status s (200), field X-F: f when given, n bytes of
 * body ('x'). */
static int heads(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)arg;
    char f[32];
    int rc = roost_http_res_status(res, (int)query_long(req, "s", 200));
    if (rc == 0 && roost_http_query_get(roost_http_req_query(req), "f", f, sizeof(f)) > 0)
        rc = roost_http_res_header(res, "X-F", f);
    char body[64];
    long n = query_long(req, "n", 0);
    assert_true(n >= 0 && n <= (long)sizeof(body));
    memset(body, 'x', (size_t)n);
    return rc ? rc : roost_http_res_body(res, body, (size_t)n);
}

static roost_http_server *start_server(const char *name)
{
    struct roost_http_server_opts o;
    roost_http_server_opts_init(&o);
    o.port = 0;
    o.server_name = name;
    roost_http_server *s;
    assert_int_equal(roost_http_server_start(rt, &o, router, &s), 0);
    return s;
}

static int setup(void **state)
{
    (void)state;
    rt = test_runtime(1, NULL); /* one reactor: every response below shares its memo */
    assert_int_equal(roost_http_router_create(&router), 0);
    assert_int_equal(roost_http_route(router, NULL, "/h", heads, NULL), 0);
    srv = start_server("alpha");
    srv2 = start_server("beta");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    roost_http_server_shutdown(srv2, test_scaled_ms(2000));
    test_http_stop(srv, rt, router);
    roost_http_server_free(srv2); /* after its runtime stopped */
    return 0;
}

/* Sends requests (all at once) on a new connection to s and reads until the server closes. */
static size_t exchange(roost_http_server *s, const char *requests, char *out, size_t cap)
{
    int fd = test_connect_timed(roost_http_server_port(s), 10000);
    size_t len = strlen(requests);
    assert_int_equal(send(fd, requests, len, MSG_NOSIGNAL), (ssize_t)len);
    size_t got = 0;
    for (;;) {
        assert_true(got < cap);
        ssize_t n = recv(fd, out + got, cap - got, 0);
        assert_true(n >= 0); /* a timeout fails the test instead of hanging it */
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    return got;
}

/* The value of field name in head, or NULL (copied into v). */
static const char *field(const struct roost_http_response_head *h, const char *name, char *v,
                         size_t cap)
{
    for (unsigned i = 0; i < h->header_count; i++)
        if (h->headers[i].name.n == strlen(name) &&
            !strncasecmp(h->headers[i].name.p, name, h->headers[i].name.n)) {
            snprintf(v, cap, "%.*s", (int)h->headers[i].value.n, h->headers[i].value.p);
            return v;
        }
    return NULL;
}

struct expect {
    const char *request;
    int status;
    const char *f;        /* X-F, or NULL: absent */
    long length;          /* Content-Length, or -1: absent */
    long body;            /* body bytes that follow */
    const char *conn;     /* Connection, or NULL: absent */
};

/* Checks one response at *p (of n bytes) against e; returns the bytes it took. */
static size_t check_response(const char *p, size_t n, const struct expect *e, const char *server)
{
    struct roost_http_response_head h;
    int len = http_parse_response_head(p, n, NULL, &h);
    if (len <= 0)
        fail_msg("no complete head for %s (%d)", e->request, len);
    char v[64], want[32];
    assert_int_equal(h.status, e->status);
    const char *f = field(&h, "X-F", v, sizeof(v));
    if (e->f) {
        assert_non_null(f);
        assert_string_equal(f, e->f);
    } else {
        assert_null(f);
    }
    const char *cl = field(&h, "Content-Length", v, sizeof(v));
    if (e->length >= 0) {
        snprintf(want, sizeof(want), "%ld", e->length);
        assert_non_null(cl);
        assert_string_equal(cl, want);
    } else {
        assert_null(cl);
    }
    const char *conn = field(&h, "Connection", v, sizeof(v));
    if (e->conn) {
        assert_non_null(conn);
        assert_string_equal(conn, e->conn);
    } else {
        assert_null(conn);
    }
    assert_string_equal(field(&h, "Server", v, sizeof(v)), server);
    assert_non_null(field(&h, "Date", v, sizeof(v)));
    assert_true((size_t)len + (size_t)e->body <= n);
    for (long i = 0; i < e->body; i++)
        assert_int_equal(p[len + i], 'x');
    return (size_t)len + (size_t)e->body;
}

#define ASK(q) "GET /h?" q " HTTP/1.1\r\nHost: t\r\n\r\n"

static void heads_differing_in_one_part_are_each_built_from_their_own(void **state)
{
    (void)state;
    static const struct expect seq[] = {
        {ASK("s=200&f=a&n=2"), 200, "a", 2, 2, NULL},
        {ASK("s=200&f=b&n=2"), 200, "b", 2, 2, NULL},   /* a field's value, same length */
        {ASK("s=200&f=b&n=3"), 200, "b", 3, 3, NULL},   /* the body's length */
        {ASK("s=201&f=b&n=3"), 201, "b", 3, 3, NULL},   /* the status */
        {ASK("s=201&f=bb&n=3"), 201, "bb", 3, 3, NULL}, /* a field's length */
        {ASK("s=201&n=3"), 201, NULL, 3, 3, NULL},      /* no field */
        {"GET /h?s=201&n=3 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 201, NULL, 3, 3,
         "keep-alive"},                          /* HTTP/1.0 keep-alive */
        {ASK("s=201&n=3"), 201, NULL, 3, 3, NULL}, /* back to a head seen before */
        {"HEAD /h?s=201&n=3 HTTP/1.1\r\nHost: t\r\n\r\n", 201, NULL, 3, 0, NULL}, /* HEAD */
        {ASK("s=204&f=a"), 204, "a", -1, 0, NULL}, /* bodiless: no Content-Length */
        {ASK("s=200&f=a&n=10"), 200, "a", 10, 10, NULL},
        {ASK("s=200&f=a&n=10"), 200, "a", 10, 10, NULL}, /* the same head again */
        {"GET /h?s=200&f=a&n=10 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 200, "a",
         10, 10, "close"}, /* Connection: close, and the server closes */
    };
    char requests[2048] = "";
    for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
        strcat(requests, seq[i].request);
    static char out[16384];
    size_t n = exchange(srv, requests, out, sizeof(out));
    size_t at = 0;
    for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
        at += check_response(out + at, n - at, &seq[i], "alpha");
    assert_int_equal(at, n); /* nothing more */
}

/* Two servers on one reactor share its thread's memo: the same response from each names its
 * own server (the second one's parts differ from the first's in the server alone). */
static void heads_of_two_servers_on_one_thread_name_their_own(void **state)
{
    (void)state;
    static const struct expect e = {
        "GET /h?n=2 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 200, NULL, 2, 2, "close"};
    char out[4096];
    for (int round = 0; round < 4; round++) {
        roost_http_server *s = round % 2 ? srv2 : srv;
        size_t n = exchange(s, e.request, out, sizeof(out));
        assert_int_equal(check_response(out, n, &e, round % 2 ? "beta" : "alpha"), n);
    }
}

/* The Date of a head answered in a later second than the one before is that later second's. */
static void a_head_in_a_new_second_has_the_new_date(void **state)
{
    (void)state;
    static const char req[] = "GET /h?n=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    char out[4096], first[64], second[64], v[64];
    struct roost_http_response_head h;
    size_t n = exchange(srv, req, out, sizeof(out));
    assert_true(http_parse_response_head(out, n, NULL, &h) > 0);
    snprintf(first, sizeof(first), "%s", field(&h, "Date", v, sizeof(v)));
    /* sleep into the next wall-clock second, a little past its start (not scaled: this is
     * the clock's second, not a wait for the machine) */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct timespec nap = {0, 1000000000L - now.tv_nsec + 20000000L};
    if (nap.tv_nsec >= 1000000000L)
        nap.tv_sec = 1, nap.tv_nsec -= 1000000000L;
    while (nanosleep(&nap, &nap) < 0 && errno == EINTR)
        ;
    time_t t0 = time(NULL);
    n = exchange(srv, req, out, sizeof(out));
    time_t t1 = time(NULL);
    assert_true(http_parse_response_head(out, n, NULL, &h) > 0);
    snprintf(second, sizeof(second), "%s", field(&h, "Date", v, sizeof(v)));
    assert_string_not_equal(first, second);
    /* and it is a second the exchange took place in */
    for (time_t t = t0; t <= t1; t++) {
        char want[64];
        struct tm tm;
        strftime(want, sizeof(want), "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&t, &tm));
        if (strcmp(second, want) == 0)
            return;
    }
    fail_msg("Date %s is not a second from %lld to %lld", second, (long long)t0, (long long)t1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(heads_differing_in_one_part_are_each_built_from_their_own),
        T(heads_of_two_servers_on_one_thread_name_their_own),
        T(a_head_in_a_new_second_has_the_new_date),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

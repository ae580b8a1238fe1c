/*
 * roost_http_client against a roost HTTP server in the same process and against raw servers
 * whose bytes the test writes: bodies and headers intact, every framing, keep-alive reuse,
 * the retry of an idempotent request on a connection the server closed, and each error with
 * the task still on its reactor and the fds back to where they were.
 */
#include "test_client_support.h"

#include <roost/http_client.h>

static roost_runtime *rt; /* the client's */
static roost_runtime *srv_rt;
static roost_http_server *srv;
static roost_http_router *router;
static char base[64];

/* ---- the roost server's handlers ---- */

static int hello(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    roost_http_res_header(res, "X-Test", "yes");
    return roost_http_res_body(res, "hello", 5);
}

static int echo(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)arg;
    struct roost_str b = roost_http_req_body(req), h;
    if (roost_http_req_header(req, "X-Echo", &h)) {
        char v[64];
        snprintf(v, sizeof(v), "%.*s", (int)h.n, h.p);
        roost_http_res_header(res, "X-Echo", v);
    }
    return roost_http_res_body(res, b.p, b.n);
}

static int chunks(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    int rc = roost_http_res_write(res, "one,", 4);
    rc = rc ? rc : roost_http_res_write(res, "two,", 4);
    return rc ? rc : roost_http_res_write(res, "three", 5);
}

static int setup(void **state)
{
    (void)state;
    struct roost_config cfg;
    roost_config_init(&cfg);
    cfg.pool_threads = 2;
    rt = test_runtime(2, &cfg);
    srv_rt = test_runtime(1, &cfg);
    assert_int_equal(roost_http_router_create(&router), 0);
    assert_int_equal(roost_http_route(router, "GET", "/hello", hello, NULL), 0);
    assert_int_equal(roost_http_route(router, "POST", "/echo", echo, NULL), 0);
    assert_int_equal(roost_http_route(router, "GET", "/chunks", chunks, NULL), 0);
    struct roost_http_server_opts o;
    roost_http_server_opts_init(&o);
    assert_int_equal(roost_http_server_start(srv_rt, &o, router, &srv), 0);
    snprintf(base, sizeof(base), "http://127.0.0.1:%u", roost_http_server_port(srv));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    roost_http_server_shutdown(srv, 1000);
    roost_runtime_stop(srv_rt);
    roost_http_server_free(srv);
    roost_runtime_destroy(srv_rt);
    roost_http_router_free(router);
    roost_runtime_destroy(rt);
    return 0;
}

/* ---- a call in a task ---- */

struct call {
    roost_http_client *c;
    struct roost_http_client_req req;
    char url[128];
    unsigned repeat;   /* calls made in a row (default 1) */
    unsigned pause_ms; /* slept between them */
    int rc;
    bool same_reactor;
    unsigned reused;
    int status;
    char body[256];
    size_t body_len;
    char header[64]; /* the value of the header named in `want` */
    const char *want;
};

static int call_task(void *arg)
{
    struct call *k = arg;
    roost_reactor *home = roost_reactor_current();
    struct roost_http_client_res res;
    roost_http_client_res_init(&res);
    k->req.url = k->url;
    k->same_reactor = true;
    for (unsigned i = 0; i < (k->repeat ? k->repeat : 1); i++) {
        if (i && k->pause_ms)
            roost_sleep(k->pause_ms);
        k->rc = roost_http_client_request(k->c, &k->req, &res);
        k->same_reactor = k->same_reactor && roost_reactor_current() == home;
        if (k->rc < 0)
            break;
        k->reused += res.reused;
    }
    k->status = res.status;
    k->body_len = res.body.n < sizeof(k->body) ? res.body.n : sizeof(k->body) - 1;
    if (res.body.n)
        memcpy(k->body, res.body.p, k->body_len);
    k->body[k->body_len] = 0;
    struct roost_str h;
    if (k->want && roost_http_client_res_header(&res, k->want, &h))
        snprintf(k->header, sizeof(k->header), "%.*s", (int)h.n, h.p);
    roost_http_client_res_free(&res);
    return 0;
}

static roost_http_client *client_with(struct roost_http_client_opts *o)
{
    roost_http_client *c;
    assert_int_equal(roost_http_client_create(rt, o, &c), 0);
    return c;
}

static roost_http_client *client(uint64_t timeout_ms, size_t max_body)
{
    struct roost_http_client_opts o;
    roost_http_client_opts_init(&o);
    o.timeout_ms = timeout_ms;
    o.connect_timeout_ms = timeout_ms;
    if (max_body)
        o.max_body_bytes = max_body;
    roost_http_client *c;
    assert_int_equal(roost_http_client_create(rt, &o, &c), 0);
    return c;
}

/* Runs k on reactor 1, frees its client; the fd count must come back to before. */
static void run_call(struct call *k)
{
    int fds = test_fd_count();
    assert_int_equal(test_task_on(rt, 1, call_task, k), 0);
    roost_http_client_free(k->c);
    assert_true(k->same_reactor);
    assert_int_equal(test_wait_fds(fds, test_ms(3000)), fds);
}

/* ---- against roost serve ---- */

static void get_returns_status_headers_and_body(void **state)
{
    (void)state;
    struct call k = {.c = client(test_ms(5000), 0), .want = "x-test"};
    snprintf(k.url, sizeof(k.url), "%s/hello", base);
    run_call(&k);
    assert_int_equal(k.rc, 0);
    assert_int_equal(k.status, 200);
    assert_string_equal(k.body, "hello");
    assert_string_equal(k.header, "yes");
}

static void post_sends_body_and_headers_intact(void **state)
{
    (void)state;
    static const struct roost_http_client_header h[] = {{"X-Echo", "abc def"}};
    struct call k = {.c = client(test_ms(5000), 0), .want = "X-Echo"};
    k.req = (struct roost_http_client_req){
        .method = "POST", .headers = h, .nheaders = 1, .body = "payload\r\n\0x", .body_len = 11};
    snprintf(k.url, sizeof(k.url), "%s/echo", base);
    run_call(&k);
    assert_int_equal(k.rc, 0);
    assert_int_equal(k.status, 200);
    assert_int_equal(k.body_len, 11);
    assert_memory_equal(k.body, "payload\r\n\0x", 11);
    assert_string_equal(k.header, "abc def");
}

static long three_pieces(void *arg, const void **data)
{
    static const char *pieces[] = {"al", "pha", "bet"};
    unsigned *i = arg;
    if (*i == 3)
        return 0;
    *data = pieces[*i];
    return (long)strlen(pieces[(*i)++]);
}

static void a_streamed_request_body_is_sent_chunked(void **state)
{
    (void)state;
    unsigned i = 0;
    struct call k = {.c = client(test_ms(5000), 0)};
    k.req = (struct roost_http_client_req){
        .method = "POST", .body_reader = three_pieces, .body_arg = &i};
    snprintf(k.url, sizeof(k.url), "%s/echo", base);
    run_call(&k);
    assert_int_equal(k.rc, 0);
    assert_string_equal(k.body, "alphabet");
}

static void a_chunked_response_is_decoded(void **state)
{
    (void)state;
    struct call k = {.c = client(test_ms(5000), 0)};
    snprintf(k.url, sizeof(k.url), "%s/chunks", base);
    run_call(&k);
    assert_int_equal(k.rc, 0);
    assert_int_equal(k.status, 200);
    assert_string_equal(k.body, "one,two,three");
}

struct sink {
    unsigned calls;
    char got[64];
    size_t len;
};

static int collect(void *arg, const void *data, size_t len)
{
    struct sink *s = arg;
    s->calls++;
    if (s->len + len >= sizeof(s->got))
        return -ENOSPC;
    memcpy(s->got + s->len, data, len);
    s->len += len;
    return 0;
}

static void a_response_body_can_be_streamed_to_a_sink(void **state)
{
    (void)state;
    struct sink s = {0};
    struct call k = {.c = client(test_ms(5000), 0)};
    k.req = (struct roost_http_client_req){.on_body = collect, .sink_arg = &s};
    snprintf(k.url, sizeof(k.url), "%s/chunks", base);
    run_call(&k);
    assert_int_equal(k.rc, 0);
    assert_int_equal(k.body_len, 0); /* nothing stored */
    assert_true(s.calls >= 1);
    assert_memory_equal(s.got, "one,two,three", 13);
}

static void head_has_no_body(void **state)
{
    (void)state;
    struct call k = {.c = client(test_ms(5000), 0), .repeat = 2, .want = "content-length"};
    k.req.method = "HEAD";
    snprintf(k.url, sizeof(k.url), "%s/hello", base);
    run_call(&k);
    assert_int_equal(k.rc, 0);
    assert_int_equal(k.status, 200);
    assert_int_equal(k.body_len, 0);
    assert_string_equal(k.header, "5");
    assert_int_equal(k.reused, 1); /* and the connection stayed in step */
}

static void keep_alive_connections_are_reused(void **state)
{
    (void)state;
    struct call k = {.c = client(test_ms(5000), 0), .repeat = 10};
    snprintf(k.url, sizeof(k.url), "%s/hello", base);
    run_call(&k);
    assert_int_equal(k.rc, 0);
    assert_int_equal(k.reused, 9);
}

/* ---- raw servers: framing ---- */

static void raw_call(const char *reply, bool close_after, struct call *k, struct raw_server *s)
{
    raw_server_start(s, reply, strlen(reply), close_after, 2);
    if (!k->c)
        k->c = client(test_ms(5000), 0);
    snprintf(k->url, sizeof(k->url), "http://127.0.0.1:%u/x", s->port);
    run_call(k);
    raw_server_stop(s);
}

static void interim_1xx_responses_are_skipped(void **state)
{
    (void)state;
    struct raw_server s;
    struct call k = {0};
    raw_call("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
             "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
             true, &k, &s);
    assert_int_equal(k.rc, 0);
    assert_int_equal(k.status, 200);
    assert_string_equal(k.body, "ok");
}

static void responses_204_and_304_have_no_body(void **state)
{
    (void)state;
    static const char *replies[] = {"HTTP/1.1 204 No Content\r\n\r\n",
                                    "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n"};
    for (int i = 0; i < 2; i++) {
        struct raw_server s;
        struct call k = {.repeat = 3};
        raw_call(replies[i], false, &k, &s);
        assert_int_equal(k.rc, 0);
        assert_int_equal(k.status, i ? 304 : 204);
        assert_int_equal(k.body_len, 0);
        assert_int_equal(atomic_load(&s.accepts), 1); /* no body read: still in step */
        assert_int_equal(atomic_load(&s.requests), 3);
    }
}

static void a_close_delimited_body_ends_at_eof(void **state)
{
    (void)state;
    struct raw_server s;
    struct call k = {.repeat = 2};
    raw_call("HTTP/1.1 200 OK\r\n\r\nuntil close", true, &k, &s);
    assert_int_equal(k.rc, 0);
    assert_string_equal(k.body, "until close");
    assert_int_equal(k.reused, 0); /* never pooled */
    assert_int_equal(atomic_load(&s.accepts), 2);
}

static void one_connection_carries_every_request(void **state)
{
    (void)state;
    struct raw_server s;
    struct call k = {.repeat = 5};
    raw_call("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", false, &k, &s);
    assert_int_equal(k.rc, 0);
    assert_int_equal(atomic_load(&s.accepts), 1);
    assert_int_equal(atomic_load(&s.requests), 5);
}

static void an_idle_connection_past_its_expiry_is_not_reused(void **state)
{
    (void)state;
    struct roost_http_client_opts o;
    roost_http_client_opts_init(&o);
    o.idle_timeout_ms = 20;
    struct raw_server s;
    struct call k = {.c = client_with(&o), .repeat = 2, .pause_ms = 60};
    raw_call("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", false, &k, &s);
    assert_int_equal(k.rc, 0);
    assert_int_equal(k.reused, 0);
    assert_int_equal(atomic_load(&s.accepts), 2);
}

static void a_pool_of_size_zero_keeps_nothing(void **state)
{
    (void)state;
    struct roost_http_client_opts o;
    roost_http_client_opts_init(&o);
    o.max_idle_per_origin = 0;
    struct raw_server s;
    struct call k = {.c = client_with(&o), .repeat = 2};
    raw_call("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", false, &k, &s);
    assert_int_equal(k.rc, 0);
    assert_int_equal(k.reused, 0);
    assert_int_equal(atomic_load(&s.accepts), 2);
}

static void an_idempotent_request_is_retried_on_a_connection_the_server_closed(void **state)
{
    (void)state;
    struct raw_server s;
    struct call k = {.repeat = 2};
    /* The server closes after each response without saying so: the second GET meets a dead
     * pooled connection and is sent again on a new one. */
    raw_call("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", true, &k, &s);
    assert_int_equal(k.rc, 0);
    assert_string_equal(k.body, "abc");
    assert_int_equal(atomic_load(&s.accepts), 2);
}

static void a_post_is_not_retried(void **state)
{
    (void)state;
    struct raw_server s;
    struct call k = {.repeat = 2};
    k.req.method = "POST";
    raw_call("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", true, &k, &s);
    assert_int_equal(k.rc, -ECONNRESET);
    assert_int_equal(atomic_load(&s.accepts), 1);
}

/* ---- raw servers: errors ---- */

static void a_response_that_stops_mid_body_is_econnreset(void **state)
{
    (void)state;
    struct raw_server s;
    struct call k = {0};
    raw_call("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this", true, &k, &s);
    assert_int_equal(k.rc, -ECONNRESET);
}

static void a_chunked_body_cut_short_is_econnreset(void **state)
{
    (void)state;
    struct raw_server s;
    struct call k = {0};
    raw_call("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", true, &k, &s);
    assert_int_equal(k.rc, -ECONNRESET);
}

static void a_malformed_status_line_is_eproto(void **state)
{
    (void)state;
    static const char *bad[] = {
        "HTTP/1.1 2x0 OK\r\n\r\n",
        "HTTP/1.1 200\r\n\r\n",
        "HTTP/1.1  200 OK\r\n\r\n",
        "http/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct raw_server s;
        struct call k = {0};
        raw_call(bad[i], true, &k, &s);
        if (k.rc != -EPROTO)
            printf("# reply %zu: rc %d\n", i, k.rc);
        assert_int_equal(k.rc, -EPROTO);
    }
}

static void an_oversized_response_is_emsgsize(void **state)
{
    (void)state;
    struct raw_server s;
    struct call k = {.c = client(test_ms(5000), 1000)};
    raw_call("HTTP/1.1 200 OK\r\nContent-Length: 1001\r\n\r\n", true, &k, &s);
    assert_int_equal(k.rc, -EMSGSIZE);

    static char big[20000];
    size_t n = (size_t)snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nX-Pad: ");
    memset(big + n, 'a', 17000);
    memcpy(big + n + 17000, "\r\n\r\n", 5);
    struct call k2 = {0};
    raw_call(big, true, &k2, &s);
    assert_int_equal(k2.rc, -EMSGSIZE); /* head over max_head_bytes (16384) */

    static char chunked[4096];
    n = (size_t)snprintf(chunked, sizeof(chunked),
                         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; i++)
        n += (size_t)snprintf(chunked + n, sizeof(chunked) - n, "190\r\n%0400d\r\n", 0);
    snprintf(chunked + n, sizeof(chunked) - n, "0\r\n\r\n");
    struct call k3 = {.c = client(test_ms(5000), 1000)};
    raw_call(chunked, true, &k3, &s);
    assert_int_equal(k3.rc, -EMSGSIZE); /* decoded body over max_body_bytes */
}

static void connection_refused_is_econnrefused(void **state)
{
    (void)state;
    uint16_t p;
    close(test_listen_raw(1, &p));
    struct call k = {.c = client(test_ms(5000), 0)};
    snprintf(k.url, sizeof(k.url), "http://127.0.0.1:%u/", p);
    run_call(&k);
    assert_int_equal(k.rc, -ECONNREFUSED);
}

static void a_listener_that_never_accepts_is_a_connect_timeout(void **state)
{
    (void)state;
    struct full_listener f;
    test_full_listener(&f);
    struct call k = {.c = client(300, 0)};
    snprintf(k.url, sizeof(k.url), "http://127.0.0.1:%u/", f.port);
    run_call(&k);
    assert_int_equal(k.rc, -ETIMEDOUT);
    test_full_listener_close(&f);
}

static void a_server_that_never_answers_is_a_timeout(void **state)
{
    (void)state;
    struct raw_server s;
    raw_server_start(&s, NULL, 0, false, 1);
    struct call k = {.c = client(300, 0)};
    snprintf(k.url, sizeof(k.url), "http://127.0.0.1:%u/", s.port);
    uint64_t t0 = test_now_ns();
    run_call(&k);
    assert_int_equal(k.rc, -ETIMEDOUT);
    assert_true(test_now_ns() - t0 >= 300u * 1000000u);
    raw_server_stop(&s);
}

static void a_send_to_a_server_that_stopped_reading_times_out(void **state)
{
    (void)state;
    uint16_t p;
    int lfd = test_listen_raw(16, &p); /* the kernel completes the handshake; nobody reads */
    size_t big = 32u << 20;            /* more than loopback socket buffers hold */
    char *body = calloc(1, big);
    assert_non_null(body);
    struct call k = {.c = client(300, 0)};
    k.req = (struct roost_http_client_req){.method = "POST", .body = body, .body_len = big};
    snprintf(k.url, sizeof(k.url), "http://127.0.0.1:%u/", p);
    uint64_t t0 = test_now_ns();
    run_call(&k);
    assert_int_equal(k.rc, -ETIMEDOUT);
    assert_true(test_now_ns() - t0 >= 300u * 1000000u);
    free(body);
    close(lfd);
}

/* A task awaiting a call that never ends is cancelled: -ECANCELED, connection closed. */
struct cancel_case {
    struct call k;
    roost_task *t;
};

static int spawn_call(void *arg)
{
    struct cancel_case *cc = arg;
    return roost_spawn(call_task, &cc->k, &cc->t);
}

static int cancel_it(void *arg)
{
    return roost_task_cancel(arg);
}

static void a_cancelled_call_is_ecanceled_and_closes_its_connection(void **state)
{
    (void)state;
    struct raw_server s;
    raw_server_start(&s, NULL, 0, false, 1);
    struct cancel_case cc = {.k = {.c = client(0, 0)}};
    snprintf(cc.k.url, sizeof(cc.k.url), "http://127.0.0.1:%u/", s.port);
    int fds = test_fd_count();
    roost_ctx *ctx = roost_reactor_ctx(roost_runtime_reactor(rt, 1));
    assert_int_equal(roost_ctx_send(ctx, spawn_call, &cc), 0);
    /* Cancel once the server holds the request: the call is then waiting for the answer. */
    uint64_t end = test_now_ns() + test_ms(5000) * 1000000ull;
    while (atomic_load(&s.requests) == 0 && test_now_ns() < end)
        test_sleep_ms(1);
    assert_int_equal(atomic_load(&s.requests), 1);
    assert_int_equal(roost_ctx_send(ctx, cancel_it, cc.t), 0);
    assert_int_equal(roost_run(test_join_, cc.t), 0);
    assert_int_equal(cc.k.rc, -ECANCELED);
    assert_true(cc.k.same_reactor);
    roost_http_client_free(cc.k.c);
    assert_int_equal(test_wait_fds(fds, test_ms(3000)), fds);
    raw_server_stop(&s);
}

static void bad_urls_are_einval(void **state)
{
    (void)state;
    static const char *urls[] = {"",
                                 "127.0.0.1/",
                                 "http://",
                                 "http://h:0/",
                                 "http://h:99999/",
                                 "http://u@h/",
                                 "http://h/a b",
                                 "http://[::1/"};
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        struct call k = {.c = client(1000, 0)};
        snprintf(k.url, sizeof(k.url), "%s", urls[i]);
        run_call(&k);
        assert_int_equal(k.rc, -EINVAL);
    }
    struct call k = {.c = client(1000, 0)};
    snprintf(k.url, sizeof(k.url), "https://example.com/");
    run_call(&k);
    assert_int_equal(k.rc, -EPROTONOSUPPORT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(get_returns_status_headers_and_body),
        cmocka_unit_test(post_sends_body_and_headers_intact),
        cmocka_unit_test(a_streamed_request_body_is_sent_chunked),
        cmocka_unit_test(a_chunked_response_is_decoded),
        cmocka_unit_test(a_response_body_can_be_streamed_to_a_sink),
        cmocka_unit_test(head_has_no_body),
        cmocka_unit_test(keep_alive_connections_are_reused),
        cmocka_unit_test(interim_1xx_responses_are_skipped),
        cmocka_unit_test(responses_204_and_304_have_no_body),
        cmocka_unit_test(a_close_delimited_body_ends_at_eof),
        cmocka_unit_test(one_connection_carries_every_request),
        cmocka_unit_test(an_idle_connection_past_its_expiry_is_not_reused),
        cmocka_unit_test(a_pool_of_size_zero_keeps_nothing),
        cmocka_unit_test(an_idempotent_request_is_retried_on_a_connection_the_server_closed),
        cmocka_unit_test(a_post_is_not_retried),
        cmocka_unit_test(a_response_that_stops_mid_body_is_econnreset),
        cmocka_unit_test(a_chunked_body_cut_short_is_econnreset),
        cmocka_unit_test(a_malformed_status_line_is_eproto),
        cmocka_unit_test(an_oversized_response_is_emsgsize),
        cmocka_unit_test(connection_refused_is_econnrefused),
        cmocka_unit_test(a_listener_that_never_accepts_is_a_connect_timeout),
        cmocka_unit_test(a_server_that_never_answers_is_a_timeout),
        cmocka_unit_test(a_send_to_a_server_that_stopped_reading_times_out),
        cmocka_unit_test(a_cancelled_call_is_ecanceled_and_closes_its_connection),
        cmocka_unit_test(bad_urls_are_einval),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

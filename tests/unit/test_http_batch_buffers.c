/*
 * The buffers a batch of pipelined requests is served from: the input is answered out of the
 * received buffer itself while nothing else is pending (lent, not copied), and the responses
 * go into the reactor's one shared output buffer while no other connection holds it. The
 * cases: a head split across receives, a connection that awaits in the middle of a batch
 * while another is served, and handlers that await while holding received buffers on a
 * small buffer ring. A real server on an ephemeral loopback port; every receive has a scaled
 * timeout, so a failure ends the test instead of hanging it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "support.h"

#define RING 8 /* provided buffers of the small-ring case */

static roost_runtime *rt;
static roost_http_router *router;
static roost_http_server *srv;

static _Atomic long waiting; /* /wait and /hold handlers that have started */
static _Atomic long released;

static int plain(roost_http_res *res, const char *body)
{
    return roost_http_res_body(res, body, strlen(body));
}

static int route_a(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    return plain(res, "A1");
}

/* Awaits until /b (or /release) ran, or gives up with 503 after a scaled 10 s. */
static int await_release(roost_http_res *res, const char *body)
{
    atomic_fetch_add(&waiting, 1);
    uint64_t end = test_deadline_ns(10000);
    while (!atomic_load(&released)) {
        if (test_now_ns() > end)
            return roost_http_res_status(res, 503);
        int rc = roost_sleep(1);
        if (rc < 0)
            return rc;
    }
    return plain(res, body);
}

static int route_wait(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    return await_release(res, "A2");
}

static int route_b(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    atomic_store(&released, 1);
    return plain(res, "B");
}

/* The path and the X-Who field of the request, as its body ("/who a-side"). */
static int route_who(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)arg;
    struct roost_str path = roost_http_req_path(req), who = {"-", 1};
    roost_http_req_header(req, "X-Who", &who);
    char body[128];
    snprintf(body, sizeof(body), "%.*s %.*s", (int)path.n, path.p, (int)who.n, who.p);
    return plain(res, body);
}

/* The address of the request the handler was given: the reactor's shared one, or not. */
static int route_req(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)arg;
    char body[32];
    snprintf(body, sizeof(body), "%p", (void *)req);
    return plain(res, body);
}

static int nothing(void *arg)
{
    (void)arg;
    return 0;
}

static _Atomic int off_ended_away; /* /off's handler finished on a thread not its reactor's */

/* An offload: with affinity off, the handler goes on (and its connection ends) on the pool. */
static int route_off(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    roost_ctx *home = roost_ctx_current();
    int rc = roost_offload(nothing, NULL);
    if (rc < 0)
        return rc;
    atomic_store(&off_ended_away, roost_ctx_current() != home);
    return plain(res, "off");
}

static void start(const struct roost_config *cfg)
{
    atomic_store(&waiting, 0);
    atomic_store(&released, 0);
    rt = test_runtime(1, cfg);
    assert_int_equal(roost_http_router_create(&router), 0);
    assert_int_equal(roost_http_route(router, "GET", "/a", route_a, NULL), 0);
    assert_int_equal(roost_http_route(router, "GET", "/wait", route_wait, NULL), 0);
    assert_int_equal(roost_http_route(router, "GET", "/b", route_b, NULL), 0);
    assert_int_equal(roost_http_route(router, "GET", "/who", route_who, NULL), 0);
    assert_int_equal(roost_http_route(router, "GET", "/req", route_req, NULL), 0);
    assert_int_equal(roost_http_route(router, "GET", "/off", route_off, NULL), 0);
    struct roost_http_server_opts o;
    roost_http_server_opts_init(&o);
    o.port = 0;
    assert_int_equal(roost_http_server_start(rt, &o, router, &srv), 0);
}

static int teardown(void **state)
{
    (void)state;
    test_http_stop(srv, rt, router);
    return 0;
}

static int connect_server(void)
{
    return test_connect_timed(roost_http_server_port(srv), 15000);
}

static void send_all(int fd, const char *s)
{
    size_t len = strlen(s);
    assert_int_equal(send(fd, s, len, MSG_NOSIGNAL), (ssize_t)len);
}

/*
 * Reads until `count` whole responses (each with a Content-Length body) arrived and writes
 * their bodies, in order and separated by "|", into bodies. The status of each must be 200.
 */
static void read_bodies(int fd, int count, char *bodies, size_t cap)
{
    char buf[8192];
    size_t got = 0;
    bodies[0] = 0;
    for (int i = 0; i < count; i++) {
        const char *end;
        for (;;) {
            buf[got] = 0;
            end = strstr(buf, "\r\n\r\n");
            const char *cl = strstr(buf, "Content-Length: ");
            if (end && cl && cl < end) {
                size_t body = strtoul(cl + 16, NULL, 10);
                if (got >= (size_t)(end + 4 - buf) + body)
                    break;
            }
            assert_true(got < sizeof(buf) - 1);
            ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
            assert_true(n > 0); /* a timeout or EOF fails the test */
            got += (size_t)n;
        }
        assert_memory_equal(buf, "HTTP/1.1 200 ", 13);
        size_t body = strtoul(strstr(buf, "Content-Length: ") + 16, NULL, 10);
        const char *b = end + 4;
        if (i)
            strncat(bodies, "|", cap - strlen(bodies) - 1);
        strncat(bodies, b, body < cap - strlen(bodies) - 1 ? body : cap - strlen(bodies) - 1);
        size_t used = (size_t)(b + body - buf);
        memmove(buf, buf + used, got - used);
        got -= used;
    }
}

/* A batch whose second head ends in the next receive: the rest of the first read (a part of
 * a head) must outlive the buffer it came in, and the head's spans must follow it. */
static void a_head_split_across_receives_is_answered(void **state)
{
    (void)state;
    start(NULL);
    int fd = connect_server();
    send_all(fd, "GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHo");
    char bodies[64];
    read_bodies(fd, 1, bodies, sizeof(bodies));
    assert_string_equal(bodies, "A1");
    test_sleep_ms(20); /* the first part is received and answered alone */
    send_all(fd,
             "st: t\r\nX-Long-Field: 0123456789abcdef\r\n\r\nGET /a HTTP/1.1\r\nHost: t\r\n\r\n");
    read_bodies(fd, 2, bodies, sizeof(bodies));
    assert_string_equal(bodies, "B|A1");
    close(fd);
}

/*
 * A's head arrives in two parts, and B's batch runs between them: the part A's first batch
 * parsed (its request line and first field) is carried in A's own request meanwhile and back
 * into the reactor's shared one for the rest (B's head, parsed into that shared request, would
 * otherwise stand in for it).
 */
static void a_head_split_across_batches_outlives_another_connections_batch(void **state)
{
    (void)state;
    start(NULL);
    int a = connect_server(), b = connect_server();
    send_all(a, "GET /who HTTP/1.1\r\nX-Who: a-side\r\nHo");
    test_sleep_ms(20); /* A's first part is received and parsed alone */
    send_all(b, "GET /who HTTP/1.1\r\nHost: t\r\nX-Who: b-side-longer\r\n\r\n");
    char bodies[128];
    read_bodies(b, 1, bodies, sizeof(bodies));
    assert_string_equal(bodies, "/who b-side-longer");
    send_all(a, "st: t\r\n\r\n");
    read_bodies(a, 1, bodies, sizeof(bodies));
    assert_string_equal(bodies, "/who a-side");
    close(a);
    close(b);
}

/*
 * A pipelined head that repeats the one before it is answered without a parse (the request's
 * spans move onto its bytes): every head here, repeated, changed by one byte, after a body,
 * cut across receives or from another connection of the same length, gets its own answer.
 */
static void repeated_heads_are_answered_as_parsed(void **state)
{
    (void)state;
    start(NULL);
    int a = connect_server(), b = connect_server();
#define WHO(x) "GET /who HTTP/1.1\r\nHost: t\r\nX-Who: " x "\r\n\r\n"
#define WHO_BODY(x) "GET /who HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nX-Who: " x "\r\n\r\nzz"
    /* as long as WHO("aa"), to another route: a repeat taken for it would route "/a H" */
#define A_ROUTE "GET /a HTTP/1.1\r\nHost: t\r\nX-Who: aaaa\r\n\r\n"
    assert_int_equal(strlen(A_ROUTE), strlen(WHO("aa")));
    send_all(a, WHO("aa") WHO("aa") WHO("aa") WHO("ab") A_ROUTE WHO("aa") WHO("aa") WHO_BODY("cc")
                    WHO_BODY("cc") WHO("cc") WHO("cc"));
    send_all(b, WHO("bb") WHO("bb") WHO("bb"));
    char bodies[256];
    read_bodies(a, 11, bodies, sizeof(bodies));
    assert_string_equal(bodies, "/who aa|/who aa|/who aa|/who ab|A1|/who aa|/who aa|/who cc|"
                                "/who cc|/who cc|/who cc");
    read_bodies(b, 3, bodies, sizeof(bodies));
    assert_string_equal(bodies, "/who bb|/who bb|/who bb");
    /* a repeat cut across receives: its first part is the input's alone for a while */
    send_all(a, WHO("dd") "GET /who HTTP/1.1\r\nHo");
    test_sleep_ms(20);
    send_all(b, WHO("ee") WHO("ee"));
    read_bodies(b, 2, bodies, sizeof(bodies));
    assert_string_equal(bodies, "/who ee|/who ee");
    send_all(a, "st: t\r\nX-Who: dd\r\n\r\n" WHO("dd"));
    read_bodies(a, 3, bodies, sizeof(bodies));
    assert_string_equal(bodies, "/who dd|/who dd|/who dd");
#undef WHO
#undef WHO_BODY
#undef A_ROUTE
    close(a);
    close(b);
}

/*
 * Connection A pipelines /a and /wait: A1 is written into the shared output buffer, then
 * /wait awaits with it unsent. B's request is answered meanwhile, and must get only its own
 * response (a shared buffer B took over would carry A1 to B, and lose it for A).
 */
static void a_connection_awaiting_mid_batch_keeps_its_output(void **state)
{
    (void)state;
    start(NULL);
    int a = connect_server(), b = connect_server();
    send_all(a, "GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /wait HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(test_wait_at_least(&waiting, 1, 10000));
    send_all(b, "GET /b HTTP/1.1\r\nHost: t\r\n\r\n");
    char bodies[64];
    read_bodies(b, 1, bodies, sizeof(bodies));
    assert_string_equal(bodies, "B");
    read_bodies(a, 2, bodies, sizeof(bodies));
    assert_string_equal(bodies, "A1|A2");
    /* and a later batch of B's (the buffer given back) is still B's alone */
    send_all(b, "GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\n\r\n");
    read_bodies(b, 2, bodies, sizeof(bodies));
    assert_string_equal(bodies, "A1|B");
    close(a);
    close(b);
}

/*
 * RING connections each send a request whose handler awaits /b, keeping the buffer its
 * request came in if it was lent. A lent buffer is only taken while half of the ring is
 * free: otherwise those RING buffers would all be held, the request to /b could never be
 * received, and every /wait would give up with 503.
 */
static void awaiting_handlers_never_hold_the_whole_ring(void **state)
{
    (void)state;
    struct roost_config cfg;
    roost_config_init(&cfg);
    cfg.buf_count = RING;
    start(&cfg);
    int fds[RING];
    for (int i = 0; i < RING; i++) {
        fds[i] = connect_server();
        send_all(fds[i], "GET /wait HTTP/1.1\r\nHost: t\r\n\r\n");
    }
    assert_true(test_wait_at_least(&waiting, RING, 10000));
    int b = connect_server();
    send_all(b, "GET /b HTTP/1.1\r\nHost: t\r\n\r\n");
    char bodies[64];
    read_bodies(b, 1, bodies, sizeof(bodies));
    assert_string_equal(bodies, "B");
    for (int i = 0; i < RING; i++) {
        read_bodies(fds[i], 1, bodies, sizeof(bodies));
        assert_string_equal(bodies, "A2");
        close(fds[i]);
    }
    close(b);
}

/* One request on a new connection, closed after it; its response body into body. */
static void one_request(const char *path, char *body, size_t cap)
{
    int fd = connect_server();
    char req[128];
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path);
    send_all(fd, req);
    read_bodies(fd, 1, body, cap);
    close(fd);
}

/*
 * With affinity off, a connection whose handler offloaded ends on a pool thread, holding the
 * reactor's batch. It goes home to give it back: later connections are answered with the
 * reactor's request again, not with their own (the batch would stay taken for good).
 */
static void a_connection_ending_off_its_reactor_gives_the_batch_back(void **state)
{
    (void)state;
    struct roost_config cfg;
    roost_config_init(&cfg);
    cfg.affinity = false;
    cfg.pool_threads = 1;
    start(&cfg);
    char first[64], off[64], after[64];
    one_request("/req", first, sizeof(first));
    one_request("/off", off, sizeof(off));
    assert_string_equal(off, "off");
    if (!atomic_load(&off_ended_away))
        fail_msg("/off's handler came back to its reactor: the case did not happen");
    /* The batch goes back once the connection's task is home, which may be after its
     * response reached us: ask until the reactor's request answers again (a scaled 10 s). */
    uint64_t end = test_deadline_ns(10000);
    int asked = 0;
    do {
        if (asked++)
            test_sleep_ms(1);
        one_request("/req", after, sizeof(after));
    } while (strcmp(after, first) != 0 && test_now_ns() < end);
    printf("# the reactor's request %s, after a connection ended away: %s (request %d)\n", first,
           after, asked);
    assert_string_equal(after, first);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(a_head_split_across_receives_is_answered, teardown),
        cmocka_unit_test_teardown(a_head_split_across_batches_outlives_another_connections_batch,
                                  teardown),
        cmocka_unit_test_teardown(repeated_heads_are_answered_as_parsed, teardown),
        cmocka_unit_test_teardown(a_connection_awaiting_mid_batch_keeps_its_output, teardown),
        cmocka_unit_test_teardown(a_connection_ending_off_its_reactor_gives_the_batch_back,
                                  teardown),
        cmocka_unit_test_teardown(awaiting_handlers_never_hold_the_whole_ring, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

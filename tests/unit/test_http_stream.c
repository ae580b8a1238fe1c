/*
 * Streamed request bodies: routes added with roost_http_route_stream, whose handlers read the
 * body with roost_http_req_read as it arrives. A real server on an ephemeral loopback port;
 * the clients are blocking sockets with a scaled receive timeout, so a missing response fails
 * the test instead of hanging it.
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <roost/http.h>

#include "http/metrics.h"
#include "support.h"

#define BUF_SIZE 4096u /* the runtime's receive buffers in these tests */

static roost_runtime *rt;
static roost_http_router *router;
static roost_http_server *srv;

/* ---- what the handlers saw, published through `done` (an atomic handoff) ---- */

struct seen {
    long bytes;            /* body bytes read */
    bool in_order;         /* every byte was pattern(i) */
    int err;               /* the read's error, 0 */
    int reads;             /* calls that returned > 0 */
    int off_reactor;       /* reads after which the task was not on the request's reactor */
    size_t peak_buffered;  /* most http_req_buffered() seen after a read */
    bool continue_gate_ok; /* the gate was open when the first read ran */
};

/* The handler writes shared under the lock; wait_done copies it into seen for the test to read
 * (TSan sees the lock; a response arriving over TCP orders nothing for it). */
static struct seen seen, shared;
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic long done;
static _Atomic bool gate; /* the /gated handler waits for it before its first read */

static uint8_t pattern(size_t i)
{
    return (uint8_t)(i * 131u + (i >> 8) * 7u + 1u);
}

/* Reads the whole body, checking order and affinity after every read; slow: sleeps 1 ms
 * every 16 reads. Answers the byte count. */
static int read_all(roost_http_req *req, roost_http_res *res, bool slow)
{
    struct seen s = {.in_order = true};
    roost_reactor *home = roost_http_req_reactor(req);
    for (;;) {
        struct roost_str chunk;
        int n = roost_http_req_read(req, &chunk);
        if (roost_reactor_current() != home)
            s.off_reactor++;
        if (n < 0) {
            s.err = n;
            break;
        }
        if (n == 0)
            break;
        assert_int_equal((size_t)n, chunk.n);
        for (size_t i = 0; i < chunk.n; i++)
            if ((uint8_t)chunk.p[i] != pattern((size_t)s.bytes + i))
                s.in_order = false;
        s.bytes += n;
        s.reads++;
        size_t b = http_req_buffered(req);
        if (b > s.peak_buffered)
            s.peak_buffered = b;
        if (slow && s.reads % 16 == 0 && roost_sleep(1) < 0)
            break;
    }
    pthread_mutex_lock(&seen_lock);
    shared = s;
    pthread_mutex_unlock(&seen_lock);
    atomic_fetch_add(&done, 1);
    if (s.err)
        return s.err;
    char out[32];
    int len = snprintf(out, sizeof(out), "%ld", s.bytes);
    return roost_http_res_body(res, out, (size_t)len);
}

static int stream(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)arg;
    return read_all(req, res, false);
}

static int slow(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)arg;
    return read_all(req, res, true);
}

static int gated(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)arg;
    while (!atomic_load(&gate))
        if (roost_sleep(1) < 0)
            return -ECANCELED;
    return read_all(req, res, false);
}

/* Begins its (chunked) response, then reads the body: a 100 Continue may not follow. */
static int head_first(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)arg;
    int rc = roost_http_res_write(res, "x", 1);
    long bytes = 0;
    struct roost_str chunk;
    int n;
    while (rc == 0 && (n = roost_http_req_read(req, &chunk)) > 0)
        bytes += n;
    char out[32];
    int len = snprintf(out, sizeof(out), "%ld", bytes);
    return rc ? rc : roost_http_res_write(res, out, (size_t)len);
}

/* Answers without reading the body. */
static int ignore(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    return roost_http_res_body(res, "ignored", 7);
}

static int plain(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    return roost_http_res_body(res, "plain", 5);
}

/* ---- server ---- */

static enum roost_recv recv_mode = ROOST_RECV_MULTISHOT;

static int setup(void **state)
{
    (void)state;
    memset(&seen, 0, sizeof(seen));
    memset(&shared, 0, sizeof(shared));
    atomic_store(&done, 0);
    atomic_store(&gate, false);
    struct roost_config cfg;
    roost_config_init(&cfg);
    cfg.buf_size = BUF_SIZE;
    cfg.recv = recv_mode;
    recv_mode = ROOST_RECV_MULTISHOT; /* the next case's default */
    rt = test_runtime(1, &cfg);
    assert_int_equal(roost_http_router_create(&router), 0);
    assert_int_equal(roost_http_route_stream(router, NULL, "/stream", stream, NULL), 0);
    assert_int_equal(roost_http_route_stream(router, "POST", "/slow", slow, NULL), 0);
    assert_int_equal(roost_http_route_stream(router, "POST", "/gated", gated, NULL), 0);
    assert_int_equal(roost_http_route_stream(router, "POST", "/ignore", ignore, NULL), 0);
    assert_int_equal(roost_http_route_stream(router, "POST", "/head-first", head_first, NULL), 0);
    assert_int_equal(roost_http_route(router, NULL, "/whole", stream, NULL), 0);
    assert_int_equal(roost_http_route(router, "GET", "/plain", plain, NULL), 0);
    struct roost_http_server_opts o;
    roost_http_server_opts_init(&o);
    o.port = 0;
    o.max_body_bytes = 64 * 1024;
    o.max_stream_body_bytes = 32u << 20;
    o.body_timeout_ms = test_scaled_ms(300);
    assert_int_equal(roost_http_server_start(rt, &o, router, &srv), 0);
    return 0;
}

static int setup_oneshot(void **state)
{
    recv_mode = ROOST_RECV_ONESHOT;
    return setup(state);
}

static int teardown(void **state)
{
    (void)state;
    atomic_store(&gate, true);
    test_http_stop(srv, rt, router);
    return 0;
}

/* ---- a blocking client ---- */

struct client {
    int fd;
    char buf[1 << 16];
    size_t len; /* bytes received, not yet parsed */
};

static void client_open(struct client *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    c->len = 0;
    uint64_t ms = test_scaled_ms(10000);
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(roost_http_server_port(srv))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof(a)), 0);
}

static void client_send(struct client *c, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

static void client_send_str(struct client *c, const char *s)
{
    client_send(c, s, strlen(s));
}

/* Receives more bytes; false at EOF (or a reset). A timeout fails the test. */
static bool client_fill(struct client *c)
{
    assert_true(c->len < sizeof(c->buf));
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    if (n < 0 && errno == ECONNRESET)
        return false;
    assert_true(n >= 0);
    c->len += (size_t)n;
    return n > 0;
}

struct response {
    int status;
    char body[128];
    bool close; /* Connection: close */
};

/* Reads the next response (Content-Length framed, as every response here). False at EOF. */
static bool client_response(struct client *c, struct response *r)
{
    char *end;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
        if (!client_fill(c))
            return false;
    size_t head = (size_t)(end - c->buf) + 4;
    memset(r, 0, sizeof(*r));
    assert_int_equal(sscanf(c->buf, "HTTP/1.1 %d", &r->status), 1);
    size_t clen = 0;
    const char *cl = memmem(c->buf, head, "Content-Length: ", 16);
    if (cl && r->status >= 200)
        clen = strtoul(cl + 16, NULL, 10);
    r->close = memmem(c->buf, head, "Connection: close", 17) != NULL;
    while (c->len < head + clen)
        assert_true(client_fill(c));
    assert_true(clen < sizeof(r->body));
    memcpy(r->body, c->buf + head, clen);
    memmove(c->buf, c->buf + head + clen, c->len - head - clen);
    c->len -= head + clen;
    return true;
}

/* True when the server closed the connection (EOF or reset) within the receive timeout. */
static bool client_sees_close(struct client *c)
{
    char b[256];
    for (;;) {
        ssize_t n = recv(c->fd, b, sizeof(b), 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return true;
        if (n < 0)
            return false;
    }
}

static void client_close(struct client *c)
{
    close(c->fd);
}

/* The pattern's bytes [from, from + n) into out. */
static void fill_pattern(char *out, size_t from, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (char)pattern(from + i);
}

static void wait_done(long want)
{
    assert_true(test_wait_at_least(&done, want, 10000));
    pthread_mutex_lock(&seen_lock);
    seen = shared;
    pthread_mutex_unlock(&seen_lock);
}

/* Sends len pattern bytes as chunks of the sizes in sizes[] (cycled), then the last chunk. */
static void send_chunked(struct client *c, size_t len, const size_t *sizes, size_t nsizes)
{
    static char data[70000];
    size_t off = 0;
    for (size_t k = 0; off < len; k++) {
        size_t n = sizes[k % nsizes];
        if (n > len - off)
            n = len - off;
        char line[64];
        /* an extension now and then: framing the handler must never see */
        int l = snprintf(line, sizeof(line), k % 3 ? "%zx\r\n" : "%zx;ext=\"v\"\r\n", n);
        client_send(c, line, (size_t)l);
        fill_pattern(data, off, n);
        client_send(c, data, n);
        client_send(c, "\r\n", 2);
        off += n;
    }
    client_send_str(c, "0\r\nX-Trailer: t\r\n\r\n");
}

/* ---- cases ---- */

static void content_length_body_arrives_byte_exact_in_order(void **state)
{
    (void)state;
    enum { LEN = 1000000 };
    static char body[LEN];
    fill_pattern(body, 0, LEN);
    struct client c;
    client_open(&c);
    char head[128];
    snprintf(head, sizeof(head), "POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n",
             LEN);
    client_send_str(&c, head);
    client_send(&c, body, LEN);
    struct response r;
    assert_true(client_response(&c, &r));
    wait_done(1);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "1000000");
    assert_int_equal(seen.bytes, LEN);
    assert_true(seen.in_order);
    assert_true(seen.reads > 1); /* it came in pieces, not as one buffered body */
    assert_false(r.close);
    client_close(&c);
}

static void chunked_body_arrives_byte_exact_in_order(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 7, 4096, 10000, 3, 65536, 4095};
    struct client c;
    client_open(&c);
    client_send_str(&c, "POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    send_chunked(&c, 500000, sizes, sizeof(sizes) / sizeof(sizes[0]));
    struct response r;
    assert_true(client_response(&c, &r));
    wait_done(1);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "500000");
    assert_true(seen.in_order);
    assert_int_equal(seen.err, 0);
    assert_false(r.close);
    client_close(&c);
}

/* The client sends 8 MiB as fast as the socket takes it; the handler sleeps every 16 reads. */
static void send_to_slow_reader(void)
{
    enum { LEN = 8 << 20 };
    struct client c;
    client_open(&c);
    char head[128];
    snprintf(head, sizeof(head), "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n",
             LEN);
    client_send_str(&c, head);
    static char piece[1 << 16];
    for (size_t off = 0; off < LEN; off += sizeof(piece)) {
        fill_pattern(piece, off, sizeof(piece));
        client_send(&c, piece, sizeof(piece));
    }
    struct response r;
    assert_true(client_response(&c, &r));
    wait_done(1);
    assert_int_equal(r.status, 200);
    assert_int_equal(seen.bytes, LEN);
    assert_true(seen.in_order);
    client_close(&c);
}

/*
 * Backpressure, with one-shot receives (the net layer holds nothing of its own): the server
 * holds the connection's input buffer (the head and what came with it) and the one receive
 * buffer the handler is reading, whatever the body's size.
 */
static void slow_reader_holds_one_receive_buffer(void **state)
{
    (void)state;
    send_to_slow_reader();
    assert_true(seen.peak_buffered <= 4 * BUF_SIZE);
}

/*
 * With multishot receives the net layer queues up to a sixteenth of the ring for a task that
 * does not read, then hands over what the kernel delivered before it stopped the receive as
 * one buffer (docs/net.md): still bounded, far below the body.
 */
static void slow_reader_memory_stays_bounded_with_multishot(void **state)
{
    (void)state;
    send_to_slow_reader();
    assert_true(seen.peak_buffered <= (1u << 20));
}

/* The 100 response is owed when the handler first reads, not when the head arrives. */
static void continue_is_sent_at_the_first_read(void **state)
{
    (void)state;
    struct client c;
    client_open(&c);
    client_send_str(&c, "POST /gated HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                        "Content-Length: 5000\r\n\r\n");
    /* the handler is running and has not read: nothing may arrive */
    struct pollfd p = {.fd = c.fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, (int)test_scaled_ms(200)), 0);
    atomic_store(&gate, true);
    while (!memmem(c.buf, c.len, "\r\n\r\n", 4))
        assert_true(client_fill(&c));
    assert_true(c.len >= 25);
    assert_memory_equal(c.buf, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    memmove(c.buf, c.buf + 25, c.len - 25);
    c.len -= 25;
    static char body[5000];
    fill_pattern(body, 0, sizeof(body));
    client_send(&c, body, sizeof(body));
    struct response r;
    assert_true(client_response(&c, &r));
    wait_done(1);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "5000");
    assert_true(seen.in_order);
    client_close(&c);
}

/*
 * A handler that began its response before its first read: the 100 Continue it would owe
 * can no longer come first (RFC 9110 §15.2), and in the middle of the chunked body it would
 * corrupt it. None is sent; the body the client sends anyway is read.
 */
static void no_continue_after_the_response_began(void **state)
{
    (void)state;
    struct client c;
    client_open(&c);
    client_send_str(&c, "POST /head-first HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                        "Content-Length: 5\r\n\r\n");
    while (!memmem(c.buf, c.len, "1\r\nx\r\n", 6)) /* the head and the first chunk */
        assert_true(client_fill(&c));
    assert_memory_equal(c.buf, "HTTP/1.1 200 ", 13);
    /* the handler is reading now: whatever it sent before waiting is here (TCP_NODELAY) */
    struct pollfd p = {.fd = c.fd, .events = POLLIN};
    if (poll(&p, 1, (int)test_scaled_ms(100)) > 0)
        assert_true(client_fill(&c));
    client_send_str(&c, "hello");
    while (!memmem(c.buf, c.len, "0\r\n\r\n", 5))
        assert_true(client_fill(&c));
    c.buf[c.len] = 0;
    assert_null(memmem(c.buf, c.len, "100 Continue", 12));
    char *body = memmem(c.buf, c.len, "\r\n\r\n", 4) + 4;
    assert_string_equal(body, "1\r\nx\r\n1\r\n5\r\n0\r\n\r\n");
    client_close(&c);
}

/* A handler that does not read: the server discards the body, the next request is parsed. */
static void unread_body_is_discarded_before_the_next_request(void **state)
{
    (void)state;
    struct client c;
    client_open(&c);
    static char body[30000];
    fill_pattern(body, 0, sizeof(body));
    client_send_str(&c, "POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 30000\r\n\r\n");
    client_send(&c, body, sizeof(body));
    client_send_str(&c, "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n"
                        "POST /ignore HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    static const size_t sizes[] = {1000, 5};
    send_chunked(&c, 20000, sizes, 2);
    client_send_str(&c, "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n");
    static const char *const want[] = {"ignored", "plain", "ignored", "plain"};
    for (int i = 0; i < 4; i++) {
        struct response r;
        assert_true(client_response(&c, &r));
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, want[i]);
        assert_false(r.close);
    }
    client_close(&c);
}

/* Connection: close and an unread body: still discarded first, so closing resets nothing and
 * the response arrives whole, followed by the end of the stream. */
static void unread_body_of_a_last_request_is_discarded_before_closing(void **state)
{
    (void)state;
    struct client c;
    client_open(&c);
    static char body[30000];
    fill_pattern(body, 0, sizeof(body));
    client_send_str(&c, "POST /ignore HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                        "Content-Length: 30000\r\n\r\n");
    client_send(&c, body, sizeof(body));
    struct response r;
    assert_true(client_response(&c, &r));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ignored");
    assert_true(r.close);
    char b[16];
    assert_int_equal(recv(c.fd, b, sizeof(b), 0), 0); /* EOF, not a reset */
    client_close(&c);
}

/* More unread body than an ordinary route would take (max_body_bytes): closed, not read. */
static void large_unread_body_closes_after_the_response(void **state)
{
    (void)state;
    struct client c;
    client_open(&c);
    client_send_str(&c, "POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n");
    struct response r;
    assert_true(client_response(&c, &r));
    assert_int_equal(r.status, 200);
    assert_true(r.close);
    assert_true(client_sees_close(&c));
    client_close(&c);
}

/* Streamed bodies of both framings, pipelined with other requests in one send. */
static void pipelined_requests_after_streamed_bodies_are_answered(void **state)
{
    (void)state;
    enum { LEN = 100000 };
    static char all[LEN + 1024];
    size_t n = (size_t)snprintf(
        all, sizeof(all), "POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", LEN);
    fill_pattern(all + n, 0, LEN);
    n += LEN;
    n += (size_t)snprintf(all + n, sizeof(all) - n,
                          "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n"
                          "POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "3\r\n%c%c%c\r\n0\r\n\r\n"
                          "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n",
                          pattern(0), pattern(1), pattern(2));
    struct client c;
    client_open(&c);
    client_send(&c, all, n);
    static const char *const want[] = {"100000", "plain", "3", "0"};
    for (int i = 0; i < 4; i++) {
        struct response r;
        assert_true(client_response(&c, &r));
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, want[i]);
    }
    wait_done(3);
    assert_true(seen.in_order);
    client_close(&c);
}

/* GET and HEAD have no body: the first read returns 0. */
static void bodiless_requests_read_zero_at_once(void **state)
{
    (void)state;
    struct client c;
    client_open(&c);
    client_send_str(&c, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    struct response r;
    assert_true(client_response(&c, &r));
    wait_done(1);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "0");
    assert_int_equal(seen.reads, 0);
    assert_int_equal(seen.err, 0);
    client_send_str(&c, "HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    wait_done(2);
    assert_int_equal(seen.reads, 0);
    assert_int_equal(seen.err, 0);
    client_close(&c);
}

/* An ordinary route: the same read call gives the whole (already read) body, then 0. */
static void ordinary_route_read_gives_the_whole_body_once(void **state)
{
    (void)state;
    struct client c;
    client_open(&c);
    static char body[20000];
    fill_pattern(body, 0, sizeof(body));
    client_send_str(&c, "POST /whole HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n");
    client_send(&c, body, sizeof(body));
    struct response r;
    assert_true(client_response(&c, &r));
    wait_done(1);
    assert_string_equal(r.body, "20000");
    assert_int_equal(seen.reads, 1);
    assert_true(seen.in_order);
    client_close(&c);
}

/* A bad chunk size after good data: the read fails, the server answers 400 and closes. */
static void malformed_chunk_mid_stream_is_400_and_closes(void **state)
{
    (void)state;
    struct client c;
    client_open(&c);
    char good[7];
    fill_pattern(good, 0, sizeof(good));
    client_send_str(&c,
                    "POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n");
    client_send(&c, good, sizeof(good));
    client_send_str(&c, "\r\nzz\r\nmore\r\n0\r\n\r\nGET /plain HTTP/1.1\r\nHost: x\r\n\r\n");
    struct response r;
    assert_true(client_response(&c, &r));
    wait_done(1);
    assert_int_equal(seen.err, -EPROTO);
    assert_int_equal(seen.bytes, 7);
    assert_int_equal(r.status, 400);
    assert_true(r.close);
    assert_true(client_sees_close(&c)); /* the pipelined GET is not answered */
    client_close(&c);
}

/* The peer stops half-way: the read fails with -ETIMEDOUT after body_timeout_ms, 408. */
static void body_timeout_mid_stream_is_408(void **state)
{
    (void)state;
    struct client c;
    client_open(&c);
    static char half[3000];
    fill_pattern(half, 0, sizeof(half));
    client_send_str(&c, "POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 6000\r\n\r\n");
    client_send(&c, half, sizeof(half));
    uint64_t t0 = test_now_ns();
    struct response r;
    assert_true(client_response(&c, &r));
    wait_done(1);
    assert_int_equal(seen.err, -ETIMEDOUT);
    assert_int_equal(seen.bytes, 3000);
    assert_int_equal(r.status, 408);
    assert_true(r.close);
    assert_true(test_now_ns() - t0 >= 250u * 1000000u); /* not before the timeout (300 ms) */
    client_close(&c);
}

/* Chunks sent with pauses: the handler suspends in many reads and is home after each. */
static void every_read_resumes_on_the_handlers_reactor(void **state)
{
    (void)state;
    struct client c;
    client_open(&c);
    client_send_str(&c, "POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    char data[100];
    for (int k = 0; k < 20; k++) {
        char line[16];
        fill_pattern(data, (size_t)k * sizeof(data), sizeof(data));
        int l = snprintf(line, sizeof(line), "%zx\r\n", sizeof(data));
        client_send(&c, line, (size_t)l);
        client_send(&c, data, sizeof(data));
        client_send_str(&c, "\r\n");
        test_poll_sleep_ms(2);
    }
    client_send_str(&c, "0\r\n\r\n");
    struct response r;
    assert_true(client_response(&c, &r));
    wait_done(1);
    assert_string_equal(r.body, "2000");
    assert_true(seen.in_order);
    assert_true(seen.reads >= 2);
    assert_int_equal(seen.off_reactor, 0);
    client_close(&c);
}

/* Limits: a streaming route's Content-Length above max_stream_body_bytes gets 413 before the
 * handler runs; an ordinary route keeps max_body_bytes although heads are parsed under the
 * larger limit. */
static void stream_and_ordinary_limits_are_separate(void **state)
{
    (void)state;
    struct client c;
    client_open(&c);
    client_send_str(&c, "POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 40000000\r\n\r\n");
    struct response r;
    assert_true(client_response(&c, &r));
    assert_int_equal(r.status, 413);
    client_close(&c);
    client_open(&c);
    client_send_str(&c, "POST /whole HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n");
    assert_true(client_response(&c, &r));
    assert_int_equal(r.status, 413);
    client_close(&c);
    assert_int_equal(atomic_load(&done), 0); /* no handler ran */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(content_length_body_arrives_byte_exact_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(chunked_body_arrives_byte_exact_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(slow_reader_holds_one_receive_buffer, setup_oneshot,
                                        teardown),
        cmocka_unit_test_setup_teardown(slow_reader_memory_stays_bounded_with_multishot, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(continue_is_sent_at_the_first_read, setup, teardown),
        cmocka_unit_test_setup_teardown(no_continue_after_the_response_began, setup, teardown),
        cmocka_unit_test_setup_teardown(unread_body_is_discarded_before_the_next_request, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(unread_body_of_a_last_request_is_discarded_before_closing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(large_unread_body_closes_after_the_response, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(pipelined_requests_after_streamed_bodies_are_answered,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(bodiless_requests_read_zero_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(ordinary_route_read_gives_the_whole_body_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(malformed_chunk_mid_stream_is_400_and_closes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(body_timeout_mid_stream_is_408, setup, teardown),
        cmocka_unit_test_setup_teardown(every_read_resumes_on_the_handlers_reactor, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(stream_and_ordinary_limits_are_separate, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

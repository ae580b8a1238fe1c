/* libFuzzer target: the server's connection loop (src/http/server.c) fed pipelined input.
 *
 * One runtime with one reactor serves a small router for the whole run. Each input is sent
 * on a fresh loopback connection in pieces whose sizes come from the input itself (byte 0
 * seeds them), with TCP_NODELAY, then the write side is shut and everything the server sends
 * is read until it closes. Properties: the server always closes (EOF within the timeout,
 * scaled by ROOST_TEST_TIME_SCALE), and what it sent is a sequence of well-formed HTTP/1.1
 * responses: a status line with a three-digit status, header lines, a blank line, and a body
 * of exactly Content-Length bytes, correctly chunked, or (HTTP/1.0 streaming) up to the
 * close; never both framings at once.
 * Leak detection is off for this target: a connection's buffers are freed on the reactor
 * thread after its input has returned, which libFuzzer would count as a leak.
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <roost.h>

#include "fuzz.h"

static uint16_t port;

static int echo(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)arg;
    struct roost_str b = roost_http_req_body(req);
    return roost_http_res_body(res, b.p, b.n);
}

static int stream(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)arg;
    struct roost_str p = roost_http_req_path(req);
    int rc = roost_http_res_write(res, p.p, p.n);
    return rc ? rc : roost_http_res_write(res, "!", 1);
}

static int status(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)arg;
    struct roost_str v;
    char digits[8] = "";
    if (roost_http_req_param(req, "code", &v) && v.n < sizeof(digits))
        memcpy(digits, v.p, v.n);
    roost_http_res_status(res, atoi(digits));
    char q[64];
    int n = roost_http_query_get(roost_http_req_query(req), "h", q, sizeof(q));
    if (n >= 0)
        roost_http_res_header(res, "X-Echo", q);
    return 0;
}

static int fail(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)res, (void)arg;
    return -EIO;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    signal(SIGPIPE, SIG_IGN);
    struct roost_config cfg;
    roost_config_init(&cfg);
    cfg.reactors = 1;
    cfg.pool_threads = 1;
    roost_runtime *rt;
    roost_http_router *r;
    roost_http_server *srv;
    CHECK(roost_runtime_start(&cfg, &rt) == 0);
    CHECK(roost_http_router_create(&r) == 0);
    /* GET routes answer without a body: a HEAD gets them too, with a Content-Length and no
     * body, which this target could not tell from a GET's response without parsing the
     * requests itself. */
    CHECK(roost_http_route(r, "POST", "/", echo, NULL) == 0);
    CHECK(roost_http_route(r, "PUT", "/echo/:x", echo, NULL) == 0);
    CHECK(roost_http_route(r, "POST", "/stream/:x", stream, NULL) == 0);
    CHECK(roost_http_route(r, "GET", "/status/:code", status, NULL) == 0);
    CHECK(roost_http_route(r, "GET", "/fail", fail, NULL) == 0);
    struct roost_http_server_opts o;
    roost_http_server_opts_init(&o);
    o.port = 0;
    o.max_head_bytes = 1024;
    o.max_body_bytes = 4096;
    o.header_timeout_ms = 60000;
    CHECK(roost_http_server_start(rt, &o, r, &srv) == 0);
    port = roost_http_server_port(srv);
    return 0; /* the server runs until the process exits */
}

/* Checks out[0..n) is a sequence of complete, well-formed responses. */
static void check_responses(const char *out, size_t n)
{
    const char *p = out, *end = out + n;
    while (p < end) {
        CHECK(end - p >= 13 && !memcmp(p, "HTTP/1.1 ", 9));
        int code = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
        CHECK(code >= 100 && code <= 999 && p[12] == ' ');
        const char *blank = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        CHECK(blank);
        long cl = -1;
        bool chunked = false;
        for (const char *l = memchr(p, '\n', (size_t)(blank - p)) + 1; l < blank;) {
            const char *eol = memmem(l, (size_t)(blank + 2 - l), "\r\n", 2);
            CHECK(eol && memchr(l, ':', (size_t)(eol - l)));
            if (!strncasecmp(l, "Content-Length:", 15)) {
                CHECK(cl < 0);
                cl = strtol(l + 15, NULL, 10);
            } else if (!strncasecmp(l, "Transfer-Encoding: chunked", 26)) {
                chunked = true;
            }
            l = eol + 2;
        }
        CHECK(!(chunked && cl >= 0));
        p = blank + 4;
        if (code == 100 && cl < 0 && !chunked)
            continue; /* an interim 100 Continue */
        if (chunked) {
            for (;;) {
                char *e;
                long sz = strtol(p, &e, 16);
                CHECK(e > p && sz >= 0 && end - e >= 2 && !memcmp(e, "\r\n", 2));
                p = e + 2;
                CHECK(end - p >= sz + 2 && !memcmp(p + sz, "\r\n", 2));
                p += sz + 2;
                if (sz == 0)
                    break;
            }
        } else if (cl >= 0) {
            CHECK(end - p >= cl);
            p += cl;
        } else if (code >= 200 && code != 204 && code != 304) {
            p = end; /* HTTP/1.0 streaming: the body runs to the close */
        }
    }
}

/*
 * libFuzzer's -timeout alarm (SIGALRM every timeout/2 + 1 s) is installed without SA_RESTART,
 * after LLVMFuzzerInitialize: once it is there, it is made to restart the connect and sends
 * it interrupts. A receive with SO_RCVTIMEO is never restarted (signal(7)): that loop retries
 * EINTR itself.
 */
static void restart_after_alarms(void)
{
    static bool done;
    struct sigaction sa;
    if (done || sigaction(SIGALRM, NULL, &sa) != 0 || sa.sa_handler == SIG_DFL)
        return;
    sa.sa_flags |= SA_RESTART;
    done = sigaction(SIGALRM, &sa, NULL) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    restart_after_alarms();
    uint32_t seed = data[0];
    data++;
    size--;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    const char *scale = getenv("ROOST_TEST_TIME_SCALE");
    double secs = 30 * (scale && strtod(scale, NULL) > 0 ? strtod(scale, NULL) : 1.0);
    struct timeval tv = {.tv_sec = (time_t)secs};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    /* Random splits: the server must give the same answers however the bytes arrive. */
    for (size_t off = 0; off < size;) {
        seed = seed * 1103515245u + 12345u;
        size_t piece = 1 + (seed >> 16) % 64;
        if (piece > size - off)
            piece = size - off;
        ssize_t w = send(fd, data + off, piece, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            break; /* the server closed after an error: fine, read what it said */
        off += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    CHECK(out);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            out = realloc(out, cap);
            CHECK(out);
        }
        ssize_t r = recv(fd, out + n, cap - n, 0);
        if (r < 0 && errno == EINTR) /* the alarm above */
            continue;
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            break;
        CHECK(r > 0); /* a timeout here means the server never closed */
        n += (size_t)r;
    }
    close(fd);
    check_responses(out, n);
    free(out);
    return 0;
}

/*
 * The HTTP/1.1 server: one task per connection runs this loop —
 *
 *   parse every complete request in the input buffer, run its handler, append its response
 *   to the output buffer; when no complete request is left, send the output in ONE write
 *   (pipelined requests are answered in order, together), then receive more.
 *
 * Bad input is answered with the parser's status and the connection is closed. A request
 * head must arrive within header_timeout_ms of its first byte (slowloris); a keep-alive
 * connection waits idle_timeout_ms for the next request. A peer that half-closes after a
 * full request still gets its response: EOF is only looked at when more bytes are needed.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <roost/http.h>
#include <roost/net.h>

#include "http/bytes.h"
#include "http/date.h"
#include "http/parser.h"
#include "http/router.h"

struct http_conn;

/* Per reactor: its live connections (touched only on that reactor's thread). */
struct reactor_conns {
    struct http_conn *head;
};

struct roost_http_server {
    roost_runtime *rt;
    roost_http_router *router;
    roost_listener *listener;
    struct roost_http_server_opts opts;
    struct roost_http_limits limits;
    char server_name[64];
    unsigned nreactors;
    struct reactor_conns *per_reactor;
    _Atomic bool draining;
    _Atomic long live;
};

struct http_conn {
    roost_http_server *srv;
    roost_conn *c;
    struct roost_bytes in, out, body;
    bool idle; /* waiting for the first byte of a request: shutdown may close it */
    struct http_conn *prev, *next;
};

struct roost_http_req {
    struct roost_http_request head;
    struct http_conn *hc;
    struct roost_http_match match;
    struct roost_str body;
};

struct roost_http_res {
    struct http_conn *hc;
    int status;
    struct roost_bytes headers; /* extra header lines, CRLF-terminated */
    struct roost_bytes body;
    bool has_body;
    bool head_only; /* answering HEAD: no body bytes */
    bool close;     /* Connection: close after this response */
    bool http10;
    bool streaming; /* roost_http_res_write was used */
    bool failed;
};

void roost_http_server_opts_init(struct roost_http_server_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->max_head_bytes = ROOST_HTTP_DEFAULT_MAX_HEAD_BYTES;
    o->max_body_bytes = ROOST_HTTP_DEFAULT_MAX_BODY_BYTES;
    o->header_timeout_ms = 10000;
    o->idle_timeout_ms = 60000;
    o->server_name = "roost";
}

static const char *reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 417:
        return "Expectation Failed";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- responses ------------------------------------------------------------------------- */

/*
 * "HTTP/1.1 200 OK\r\nServer: ...\r\nDate: ...\r\n" is the same for every 200 response a
 * reactor sends within one second: it is built once per second per reactor thread (with
 * the Date cache) and copied. Formatting it per response was a fifth of the server's CPU at
 * pipelining depth 16.
 */
struct head_cache {
    const roost_http_server *srv;
    const char *date; /* the Date text it was built from: changes when the second does */
    char date_copy[32];
    size_t len;
    char text[160];
};

__attribute__((noinline)) static struct head_cache *head_cache(void)
{
    static _Thread_local struct head_cache cache;
    return &cache;
}

static int append_status_line(struct http_conn *hc, int status)
{
    const char *date = roost_http_date();
    if (status == 200) {
        struct head_cache *c = head_cache();
        if (c->srv != hc->srv || strcmp(c->date_copy, date) != 0) {
            int n =
                snprintf(c->text, sizeof(c->text), "HTTP/1.1 200 OK\r\nServer: %s\r\nDate: %s\r\n",
                         hc->srv->server_name, date);
            c->len = (size_t)n < sizeof(c->text) ? (size_t)n : sizeof(c->text) - 1;
            c->srv = hc->srv;
            snprintf(c->date_copy, sizeof(c->date_copy), "%s", date);
        }
        return roost_bytes_append(&hc->out, c->text, c->len);
    }
    char line[256];
    int n = snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\nServer: %s\r\nDate: %s\r\n", status,
                     reason(status), hc->srv->server_name, date);
    return roost_bytes_append(&hc->out, line,
                              (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* Status line, the server's headers and the handler's: everything up to the blank line. */
static int append_head(struct http_conn *hc, roost_http_res *res, const char *framing,
                       size_t framing_len)
{
    /*
     * Whether the connection stays open is decided here, as the head is written: a stop
     * that began while the handler ran still reaches this response's Connection header.
     */
    if (atomic_load_explicit(&hc->srv->draining, memory_order_relaxed))
        res->close = true;
    int rc = append_status_line(hc, res->status);
    if (rc == 0 && res->headers.len)
        rc = roost_bytes_append(&hc->out, res->headers.p, res->headers.len);
    if (rc == 0)
        rc = roost_bytes_append(&hc->out, framing, framing_len);
    if (rc == 0 && res->close)
        rc = roost_bytes_append_str(&hc->out, "Connection: close\r\n");
    else if (rc == 0 && res->http10)
        rc = roost_bytes_append_str(&hc->out, "Connection: keep-alive\r\n");
    if (rc == 0)
        rc = roost_bytes_append(&hc->out, "\r\n", 2);
    return rc;
}

/* "Content-Length: N\r\n" into buf (>= 40 bytes), without printf. Returns its length. */
static size_t content_length_line(char *buf, size_t n)
{
    static const char name[] = "Content-Length: ";
    char digits[24];
    size_t d = 0;
    do {
        digits[d++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    memcpy(buf, name, sizeof(name) - 1);
    size_t len = sizeof(name) - 1;
    while (d)
        buf[len++] = digits[--d];
    buf[len++] = '\r';
    buf[len++] = '\n';
    return len;
}

static int append_response(struct http_conn *hc, roost_http_res *res)
{
    char framing[48];
    size_t flen = content_length_line(framing, res->body.len);
    int rc = append_head(hc, res, framing, flen);
    if (rc == 0 && !res->head_only && res->body.len)
        rc = roost_bytes_append(&hc->out, res->body.p, res->body.len);
    return rc;
}

/* A response of the server's own (errors): empty body, connection closes after it. */
static int append_status(struct http_conn *hc, int status)
{
    roost_http_res res = {.hc = hc, .status = status, .close = true};
    return append_response(hc, &res);
}

static int flush(struct http_conn *hc)
{
    if (!hc->out.len)
        return 0;
    int rc = roost_conn_send(hc->c, hc->out.p, hc->out.len);
    hc->out.len = 0;
    return rc;
}

void roost_http_res_status(roost_http_res *res, int status)
{
    res->status = status;
}

int roost_http_res_header(roost_http_res *res, const char *name, const char *value)
{
    int rc = roost_bytes_append_str(&res->headers, name);
    if (rc == 0)
        rc = roost_bytes_append(&res->headers, ": ", 2);
    if (rc == 0)
        rc = roost_bytes_append_str(&res->headers, value);
    if (rc == 0)
        rc = roost_bytes_append(&res->headers, "\r\n", 2);
    return rc;
}

int roost_http_res_body(roost_http_res *res, const void *data, size_t len)
{
    res->body.len = 0;
    res->has_body = true;
    return roost_bytes_append(&res->body, data, len);
}

int roost_http_res_write(roost_http_res *res, const void *data, size_t len)
{
    struct http_conn *hc = res->hc;
    int rc = 0;
    if (!res->streaming) {
        res->streaming = true;
        /* HTTP/1.0 has no chunked coding: the body is delimited by closing. */
        if (res->http10)
            res->close = true;
        const char *framing = res->http10 ? "" : "Transfer-Encoding: chunked\r\n";
        rc = append_head(hc, res, framing, strlen(framing));
    }
    if (rc == 0 && len && !res->head_only) {
        if (!res->http10) {
            char size[32];
            int n = snprintf(size, sizeof(size), "%zx\r\n", len);
            rc = roost_bytes_append(&hc->out, size, (size_t)n);
        }
        if (rc == 0)
            rc = roost_bytes_append(&hc->out, data, len);
        if (rc == 0 && !res->http10)
            rc = roost_bytes_append(&hc->out, "\r\n", 2);
    }
    if (rc == 0)
        rc = flush(hc);
    if (rc < 0)
        res->failed = true;
    return rc;
}

/* ---- requests -------------------------------------------------------------------------- */

static struct roost_str str_of(struct roost_http_str s)
{
    return (struct roost_str){s.p, s.n};
}

struct roost_str roost_http_req_method(const roost_http_req *req)
{
    return str_of(req->head.method);
}

struct roost_str roost_http_req_target(const roost_http_req *req)
{
    return str_of(req->head.target);
}

struct roost_str roost_http_req_path(const roost_http_req *req)
{
    return str_of(req->head.path);
}

struct roost_str roost_http_req_query(const roost_http_req *req)
{
    return str_of(req->head.query);
}

int roost_http_req_version_minor(const roost_http_req *req)
{
    return req->head.version_minor;
}

bool roost_http_req_header(const roost_http_req *req, const char *name, struct roost_str *out)
{
    size_t n = strlen(name);
    for (unsigned i = 0; i < req->head.header_count; i++) {
        const struct roost_http_header *h = &req->head.headers[i];
        if (h->name.n == n && !strncasecmp(h->name.p, name, n)) {
            *out = str_of(h->value);
            return true;
        }
    }
    return false;
}

bool roost_http_req_param(const roost_http_req *req, const char *name, struct roost_str *out)
{
    size_t n = strlen(name);
    for (unsigned i = 0; i < req->match.nparams; i++) {
        if (req->match.params[i].name.n == n && !memcmp(req->match.params[i].name.p, name, n)) {
            *out = req->match.params[i].value;
            return true;
        }
    }
    return false;
}

struct roost_str roost_http_req_body(const roost_http_req *req)
{
    return req->body;
}

roost_reactor *roost_http_req_reactor(const roost_http_req *req)
{
    return roost_conn_reactor(req->hc->c);
}

/* ---- the connection loop --------------------------------------------------------------- */

/*
 * Receives more input. deadline_ms 0: no deadline. Returns bytes (> 0), 0 at EOF,
 * -ETIMEDOUT, or -errno.
 */
static int receive(struct http_conn *hc, uint64_t deadline_ms)
{
    if (deadline_ms) {
        uint64_t now = now_ms();
        if (now >= deadline_ms)
            return -ETIMEDOUT;
        roost_conn_set_recv_timeout(hc->c, deadline_ms - now);
    } else {
        roost_conn_set_recv_timeout(hc->c, 0);
    }
    struct roost_buf buf;
    int n = roost_conn_recv(hc->c, &buf);
    if (n <= 0)
        return n;
    int rc = roost_bytes_append(&hc->in, buf.data, buf.len);
    roost_conn_release(hc->c, &buf);
    return rc < 0 ? rc : n;
}

/*
 * Makes the whole body of the request at the front of hc->in available in req->body.
 * Returns bytes of hc->in the request occupies (head + body), or -STATUS / -errno.
 */
static long read_body(struct http_conn *hc, roost_http_req *req, uint64_t deadline_ms)
{
    size_t head_len = req->head.head_len;
    const struct roost_http_limits *lim = &hc->srv->limits;
    bool need_body = req->head.chunked || req->head.content_length > 0;
    if (need_body && req->head.expect_continue) {
        bool have_all = !req->head.chunked && hc->in.len - head_len >= req->head.content_length;
        if (!have_all) {
            /* Answer what is queued first, then invite the body (RFC 9110 §10.1.1). */
            int rc = roost_bytes_append_str(&hc->out, "HTTP/1.1 100 Continue\r\n\r\n");
            if (rc == 0)
                rc = flush(hc);
            if (rc < 0)
                return rc;
        }
    }
    if (!req->head.chunked) {
        size_t need = head_len + (size_t)req->head.content_length;
        while (hc->in.len < need) {
            int n = receive(hc, deadline_ms);
            if (n <= 0)
                return n == 0 ? -ECONNRESET : n;
        }
        req->body = (struct roost_str){hc->in.p + head_len, (size_t)req->head.content_length};
        return (long)need;
    }
    struct roost_http_chunked ch;
    roost_http_chunked_init(&ch, lim);
    hc->body.len = 0;
    size_t off = head_len;
    bool done = false;
    while (!done) {
        size_t consumed = 0;
        struct roost_http_str data = {0};
        int rc =
            roost_http_chunked_feed(&ch, hc->in.p + off, hc->in.len - off, &consumed, &data, &done);
        if (rc < 0)
            return rc;
        if (data.n && roost_bytes_append(&hc->body, data.p, data.n) < 0)
            return -ENOMEM;
        off += consumed;
        if (!done && consumed == 0) {
            int n = receive(hc, deadline_ms);
            if (n <= 0)
                return n == 0 ? -ECONNRESET : n;
        }
    }
    req->body = (struct roost_str){hc->body.p, hc->body.len};
    return (long)off;
}

static bool str_eq(struct roost_http_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && !memcmp(s.p, lit, n);
}

/* Runs one parsed request. Returns bytes consumed, or < 0 to close (after flushing). */
static long serve_one(struct http_conn *hc, roost_http_req *req, uint64_t deadline_ms)
{
    roost_http_server *srv = hc->srv;
    const char *base = hc->in.p;
    long used = read_body(hc, req, deadline_ms);
    if (used < 0) {
        if (used <= -400 && used > -600)
            append_status(hc, (int)-used);
        return -1;
    }
    if (hc->in.p != base) {
        /* Reading the body moved the input buffer: re-point the head's spans (stateless). */
        roost_http_parse_head(hc->in.p, hc->in.len, &srv->limits, &req->head);
        if (!req->head.chunked)
            req->body.p = hc->in.p + req->head.head_len;
    }
    roost_http_res res = {
        .hc = hc,
        .status = 200,
        .head_only = str_eq(req->head.method, "HEAD"),
        .close = !req->head.keep_alive, /* or a stop begun before the head (append_head) */
        .http10 = req->head.version_minor == 0,
    };
    int route = roost_http_router_match(srv->router, str_of(req->head.method),
                                        str_of(req->head.path), &req->match);
    int rc = 0;
    if (route != 0) {
        res.status = route;
        if (route == 405)
            rc = roost_http_res_header(&res, "Allow", "GET, HEAD, POST, PUT, DELETE, OPTIONS");
    } else {
        rc = req->match.handler(req, &res, req->match.arg);
        if (rc < 0 && !res.streaming) {
            /* A failing handler: answer 500 and close; the reactor goes on. */
            res.status = 500;
            res.body.len = 0;
            res.headers.len = 0;
            res.close = true;
            rc = 0;
        }
    }
    if (rc == 0 && !res.streaming)
        rc = append_response(hc, &res);
    else if (rc == 0 && !res.failed && !res.http10 && !res.head_only)
        rc = roost_bytes_append(&hc->out, "0\r\n\r\n", 5);
    bool close = res.close || res.failed || rc < 0;
    roost_bytes_free(&res.headers);
    roost_bytes_free(&res.body);
    return close ? -1 : used;
}

static void conn_link(struct http_conn *hc)
{
    struct reactor_conns *rc = &hc->srv->per_reactor[roost_reactor_id(roost_conn_reactor(hc->c))];
    hc->next = rc->head;
    if (rc->head)
        rc->head->prev = hc;
    rc->head = hc;
}

static void conn_unlink(struct http_conn *hc)
{
    struct reactor_conns *rc = &hc->srv->per_reactor[roost_reactor_id(roost_conn_reactor(hc->c))];
    if (hc->prev)
        hc->prev->next = hc->next;
    else
        rc->head = hc->next;
    if (hc->next)
        hc->next->prev = hc->prev;
}

static void serve_conn(struct http_conn *hc)
{
    roost_http_server *srv = hc->srv;
    roost_http_req req;
    uint64_t deadline = 0; /* header deadline of the request being read, 0 while idle */
    for (;;) {
        /* Answer every complete request already buffered. */
        while (hc->in.len) {
            if (!deadline)
                deadline = now_ms() + srv->opts.header_timeout_ms;
            int rc = roost_http_parse_head(hc->in.p, hc->in.len, &srv->limits, &req.head);
            if (rc == 0)
                break;
            if (rc < 0) {
                append_status(hc, -rc);
                flush(hc);
                return;
            }
            req.hc = hc;
            req.body = (struct roost_str){NULL, 0};
            long used = serve_one(hc, &req, deadline);
            if (used < 0) {
                flush(hc);
                return;
            }
            roost_bytes_consume(&hc->in, (size_t)used);
            deadline = 0;
        }
        /* One write for everything answered from this read. */
        if (flush(hc) < 0)
            return;
        hc->idle = !hc->in.len;
        /*
         * Shutting down and between requests: stop reading. Bytes the peer already sent
         * are still delivered (a request in flight is answered); then recv sees EOF.
         */
        if (hc->idle && atomic_load(&srv->draining))
            roost_conn_shutdown(hc->c, SHUT_RD);
        int n = receive(hc, hc->in.len ? deadline : now_ms() + srv->opts.idle_timeout_ms);
        hc->idle = false;
        if (n == -ETIMEDOUT && hc->in.len) {
            append_status(hc, 408); /* a head that did not arrive in time: slowloris */
            flush(hc);
            return;
        }
        if (n <= 0)
            return; /* EOF, idle timeout, cancelled by shutdown, or an error */
    }
}

static int on_conn(roost_conn *c, void *arg)
{
    roost_http_server *srv = arg;
    struct http_conn hc = {.srv = srv, .c = c};
    atomic_fetch_add(&srv->live, 1);
    conn_link(&hc);
    serve_conn(&hc);
    conn_unlink(&hc);
    roost_bytes_free(&hc.in);
    roost_bytes_free(&hc.out);
    roost_bytes_free(&hc.body);
    atomic_fetch_sub(&srv->live, 1);
    return 0;
}

/* ---- server life ----------------------------------------------------------------------- */

int roost_http_server_start(roost_runtime *rt, const struct roost_http_server_opts *o,
                            roost_http_router *router, roost_http_server **out)
{
    roost_http_server *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return -ENOMEM;
    if (o)
        srv->opts = *o;
    else
        roost_http_server_opts_init(&srv->opts);
    srv->rt = rt;
    srv->router = router;
    srv->limits.max_head_bytes =
        srv->opts.max_head_bytes ? srv->opts.max_head_bytes : ROOST_HTTP_DEFAULT_MAX_HEAD_BYTES;
    srv->limits.max_body_bytes = srv->opts.max_body_bytes;
    srv->limits.max_headers = ROOST_HTTP_DEFAULT_MAX_HEADERS;
    if (!srv->opts.header_timeout_ms)
        srv->opts.header_timeout_ms = 10000;
    if (!srv->opts.idle_timeout_ms)
        srv->opts.idle_timeout_ms = 60000;
    snprintf(srv->server_name, sizeof(srv->server_name), "%s",
             srv->opts.server_name ? srv->opts.server_name : "roost");
    srv->nreactors = roost_runtime_reactor_count(rt);
    srv->per_reactor = calloc(srv->nreactors, sizeof(*srv->per_reactor));
    if (!srv->per_reactor) {
        free(srv);
        return -ENOMEM;
    }
    struct roost_listen_opts lo = {
        .host = srv->opts.host,
        .port = srv->opts.port,
        .max_conns = srv->opts.max_conns,
        .reuse_port = srv->opts.reuse_port,
    };
    int rc = roost_listen(rt, &lo, on_conn, srv, &srv->listener);
    if (rc < 0) {
        free(srv->per_reactor);
        free(srv);
        return rc;
    }
    *out = srv;
    return 0;
}

uint16_t roost_http_server_port(const roost_http_server *s)
{
    return roost_listener_port(s->listener);
}

/*
 * On each reactor: end the reads of connections idle between requests. A shut-down read
 * side still yields what the peer already sent, so a request racing the shutdown is
 * answered; a connection with nothing pending sees EOF and closes.
 */
static int close_idle(void *arg)
{
    roost_http_server *srv = arg;
    roost_reactor *r = roost_reactor_current();
    for (struct http_conn *hc = srv->per_reactor[roost_reactor_id(r)].head; hc; hc = hc->next)
        if (hc->idle)
            roost_conn_shutdown(hc->c, SHUT_RD);
    return 0;
}

int roost_http_server_shutdown(roost_http_server *s, uint64_t grace_ms)
{
    roost_listener_stop(s->listener);
    atomic_store(&s->draining, true);
    for (unsigned i = 0; i < s->nreactors; i++)
        roost_ctx_send(roost_reactor_ctx(roost_runtime_reactor(s->rt, i)), close_idle, s);
    uint64_t end = now_ms() + grace_ms;
    while (atomic_load(&s->live) > 0) {
        if (now_ms() >= end)
            return -ETIMEDOUT;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

void roost_http_server_free(roost_http_server *s)
{
    if (!s)
        return;
    roost_listener_free(s->listener);
    free(s->per_reactor);
    free(s);
}

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
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <roost/http.h>
#include <roost/net.h>

#include "http/access_log.h"
#include "http/bytes.h"
#include "http/conn.h"
#include "http/date.h"
#include "http/metrics.h"
#include "http/parser.h"
#include "http/router.h"
#include "net/net.h"

/* Responses buffered per connection before they are sent (see max_output_bytes). */
#define ROOST_HTTP_DEFAULT_MAX_OUTPUT_BYTES (64u * 1024u)
/* Files up to this size are copied into the output, larger ones sent apart (file_copy_max). */
#define ROOST_HTTP_DEFAULT_FILE_COPY_MAX (32u * 1024u)

/* A closed connection's buffers, kept for the next one (see conn_bufs_take). */
struct conn_bufs {
    struct roost_bytes in, out, res_headers, res_body;
};

#define SPARE_BUFS 16                /* buffer sets a reactor keeps */
#define SPARE_BUF_MAX (16u * 1024u)  /* larger buffers (a big upload's) are freed */
#define OUT_FREE_MAX 512             /* output buffers a reactor keeps for sends behind */
#define OUT_BEHIND_MAX (32u * 1024u) /* output bytes a reactor has sent behind at most */

/*
 * Per reactor: its live connections and its counters. Connection tasks link and unlink
 * themselves, and with run-on=pool (or after an opt-out await with affinity off) they do so
 * from pool workers while shutdown walks the list on the reactor: the lock orders them. It
 * is taken twice per connection and once per reactor at shutdown, never per request. The
 * counters are written only on the reactor's thread and read by /metrics.
 */
struct reactor_conns {
    pthread_mutex_t lock;
    struct http_conn *head;
    struct roost_http_counters counters;
    /* Reactor thread only: short-lived connections (HttpArena closes after 10 requests)
     * then cost no malloc and free of their buffers each. */
    struct conn_bufs spare[SPARE_BUFS];
    unsigned nspare;
    /* Reactor thread only: what one connection at a time answers a batch of requests with
     * (batch_take). */
    struct http_batch batch;
    bool batch_taken;
    /* Reactor thread only: output buffers back from sends behind (flush_behind), the last
     * one back on top, for the next batch's output. */
    struct roost_bytes out_free[OUT_FREE_MAX];
    unsigned nout_free;
    size_t behind_bytes; /* output bytes sent behind and not back yet */
    char pad[64];        /* no cache line shared with the next reactor's counters */
};

void roost_http_server_opts_init(struct roost_http_server_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->max_head_bytes = ROOST_HTTP_DEFAULT_MAX_HEAD_BYTES;
    o->max_body_bytes = ROOST_HTTP_DEFAULT_MAX_BODY_BYTES;
    o->header_timeout_ms = 10000;
    o->idle_timeout_ms = 60000;
    o->body_timeout_ms = 10000;
    o->send_timeout_ms = 30000;
    o->max_output_bytes = ROOST_HTTP_DEFAULT_MAX_OUTPUT_BYTES;
    o->file_copy_max = ROOST_HTTP_DEFAULT_FILE_COPY_MAX;
    o->send_behind = true;
    o->server_name = "roost";
}

static bool str_eq(struct roost_http_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && !memcmp(s.p, lit, n);
}

/* Sets req->path to the decoded, normalised path; 0, or -400 when it cannot be decoded. */
int http_decode_path(struct http_conn *hc, roost_http_req *req)
{
    struct roost_str raw = str_of(req->head.path);
    if (http_path_is_normal(raw.p, raw.n)) { /* the common case: no copy */
        req->path = raw;
        return 0;
    }
    hc->path.len = 0;
    if (http_bytes_reserve(&hc->path, raw.n) < 0)
        return -ENOMEM;
    int n = http_path_normalize(raw.p, raw.n, hc->path.p);
    if (n < 0)
        return -400;
    req->path = (struct roost_str){hc->path.p, (size_t)n};
    return 0;
}

/* Adds the Allow field for path (NULL: the whole server) to res. */
static int add_allow(struct http_conn *hc, roost_http_res *res, struct roost_str path)
{
    char allow[256];
    http_router_allow(hc->srv->router, path, allow, sizeof(allow));
    return roost_http_res_header(res, "Allow", allow);
}

/* The remembered route, if req repeats its method and raw path (struct http_route_memo). */
static bool route_memo_hit(const struct http_route_memo *m, roost_http_req *req)
{
    struct roost_http_str meth = req->head.method, path = req->head.path;
    if (!m->path_n || path.n != m->path_n || meth.n != m->method_n ||
        req->head.target_form != ROOST_HTTP_TARGET_ORIGIN || !http_same(path.p, m->path, path.n) ||
        !http_same(meth.p, m->method, meth.n))
        return false;
    req->path = str_of(path);
    req->match.handler = m->handler;
    req->match.arg = m->arg;
    req->match.stream = m->stream;
    req->match.nparams = 0;
    return true;
}

static void route_memo_keep(struct http_route_memo *m, const roost_http_req *req)
{
    struct roost_http_str meth = req->head.method, path = req->head.path;
    m->path_n = 0;
    if (req->match.nparams || req->head.target_form != ROOST_HTTP_TARGET_ORIGIN ||
        req->path.p != path.p || req->path.n != path.n || path.n > sizeof(m->path) ||
        meth.n > sizeof(m->method))
        return; /* parameters, a path that needed decoding, or too long to keep */
    memcpy(m->path, path.p, path.n);
    memcpy(m->method, meth.p, meth.n);
    m->method_n = (unsigned char)meth.n;
    m->handler = req->match.handler;
    m->arg = req->match.arg;
    m->stream = req->match.stream;
    m->path_n = (unsigned char)path.n;
}

/*
 * Decides who answers the request: 0 when the router found a handler (req->match), a status
 * the server answers itself (> 0, headers already added to res), or -errno.
 */
static int route_request(struct http_conn *hc, roost_http_req *req, roost_http_res *res)
{
    if (req->head.target_form == ROOST_HTTP_TARGET_AUTHORITY) {
        /* CONNECT asks for a tunnel, which this server never opens (RFC 9110 §9.3.6). The
         * client may already be sending tunnel bytes: close after answering. */
        res->close = true;
        req->path = (struct roost_str){NULL, 0};
        return 501;
    }
    if (req->head.target_form == ROOST_HTTP_TARGET_ASTERISK) {
        /* RFC 9110 §9.3.7: OPTIONS * asks about the server as a whole. */
        req->path = (struct roost_str){"*", 1};
        int rc = add_allow(hc, res, (struct roost_str){NULL, 0});
        return rc < 0 ? rc : 200;
    }
    if (route_memo_hit(&hc->route, req))
        return 0;
    int rc = http_decode_path(hc, req);
    if (rc < 0)
        return rc == -400 ? 400 : rc;
    rc = http_router_match(hc->srv->router, str_of(req->head.method), req->path, &req->match);
    if (rc == 0)
        route_memo_keep(&hc->route, req);
    if (rc == 405) {
        /* RFC 9110 §15.5.6: a 405 lists the methods the path has. An OPTIONS the application
         * did not route itself is answered the same way, with 200 (§9.3.7). */
        int arc = add_allow(hc, res, req->path);
        if (arc < 0)
            return arc;
        return str_eq(req->head.method, "OPTIONS") ? 200 : 405;
    }
    return rc;
}

/* One access log line; req NULL for a request rejected before its head parsed. */
static void access_log(struct http_conn *hc, const roost_http_req *req, int status, uint64_t bytes,
                       uint64_t ns)
{
    struct roost_access_entry e = {
        .peer = hc->peer, .status = status, .bytes = bytes, .duration_us = ns / 1000};
    if (req) {
        e.method = str_of(req->head.method);
        e.target = str_of(req->head.target);
        e.version_minor = req->head.version_minor;
    }
    http_access_log_add(hc->srv->access_log, roost_reactor_id(roost_conn_reactor(hc->c)), &e);
}

/* Empty, keeping its memory. */
static struct roost_bytes emptied(struct roost_bytes b)
{
    return (struct roost_bytes){b.p, 0, b.cap};
}

/*
 * A fresh response to req. Every field is set one by one rather than by an initializer,
 * which compilers turn into a block zeroing (rep stos) that cost more per request than all
 * of these stores: a field added to struct roost_http_res must be set here too.
 */
static void res_start(roost_http_res *res, struct http_conn *hc, const roost_http_req *req)
{
    res->hc = hc;
    hc->res_begun = false;
    res->status = 200;
    res->headers = emptied(hc->b->res_headers);
    res->body = emptied(hc->b->res_body);
    res->has_body = false;
    res->head_only = str_eq(req->head.method, "HEAD");
    res->close = !req->head.keep_alive; /* or a stop begun before the head (append_head) */
    res->http10 = req->head.version_minor == 0;
    res->streaming = false;
    res->streamed = 0;
    res->failed = false;
    res->has_file = false;
    res->file_fd = -1;
    res->file_off = 0;
    res->file_len = 0;
}

/*
 * Runs one parsed request. *now is the time it started (ns) and becomes the time it ended,
 * which is when the next request of a pipelined batch starts: the reactor's tick time (no
 * clock read) feeds both the header deadline and the latency histogram. Returns bytes
 * consumed, or < 0 to close (after flushing).
 */
static long serve_one(struct http_conn *hc, roost_http_req *req, uint64_t *now)
{
    roost_http_server *srv = hc->srv;
    const char *base = in_p(hc);
    uint64_t t0 = *now;
    long used = http_body_start(hc, req);
    if (used < 0) {
        if (used <= -400 && used > -600) {
            http_append_status(hc, (int)-used);
            if (srv->access_log) {
                /* the head's spans still point into the buffer reading the body replaced */
                if (in_p(hc) != base)
                    http_parse_head(in_p(hc), in_n(hc), &srv->limits, &req->head);
                access_log(hc, req, (int)-used, 0, now_ns() - t0);
            }
        }
        return -1;
    }
    if (in_p(hc) != base) {
        /* Reading the body moved the input: re-point the head's spans (stateless). */
        http_parse_head(in_p(hc), in_n(hc), &srv->limits, &req->head);
        if (!req->head.chunked)
            req->body.p = in_p(hc) + req->head.head_len;
    }
    struct http_batch *b = hc->b;
    roost_http_res *res = &b->res;
    res_start(res, hc, req);
    int route = route_request(hc, req, res);
    int rc = route < 0 ? route : 0;
    if (route > 0) {
        res->status = route;
    } else if (route == 0) {
        rc = req->match.handler(req, res, req->match.arg);
        if (rc < 0 && !res->streaming) {
            /* A failing handler: answer 500 and close; the reactor goes on. */
            http_res_file_drop(res);
            res->status = 500;
            res->body.len = 0;
            res->headers.len = 0;
            res->close = true;
            rc = 0;
        }
    }
    if (req->stream.on)
        rc = http_stream_end(hc, req, res, rc, &used);
    /* The request ends as its response is written (or, for a file sent apart, once sent). */
    *now = now_ns();
    if (rc == 0 && !res->streaming)
        rc = http_append_response(hc, res, *now);
    else if (rc == 0 && !res->failed && !res->http10 && !res->head_only &&
             !http_status_bodiless(res->status))
        rc = http_bytes_append(&b->out, "0\r\n\r\n", 5);
    if (res->has_file) {
        if (rc == 0 && !res->head_only && !http_status_bodiless(res->status))
            rc = http_send_file_body(hc, res);
        http_res_file_drop(res);
        *now = now_ns();
    }
    bool close = res->close || res->failed || rc < 0;
    uint64_t ns = *now - t0;
    http_count_latency(hc->counters, ns);
    if (srv->access_log) {
        bool no_body = res->head_only || http_status_bodiless(res->status);
        access_log(hc, req, res->status,
                   res->streaming  ? res->streamed
                   : no_body       ? 0
                   : res->has_file ? res->file_len
                                   : res->body.len,
                   ns);
    }
    /* keep the buffers (not their bytes) for the next response on this connection */
    b->res_headers = res->headers;
    b->res_body = res->body;
    return close ? -1 : used;
}

static void conn_link(struct http_conn *hc)
{
    struct reactor_conns *rc = &hc->srv->per_reactor[roost_reactor_id(roost_conn_reactor(hc->c))];
    pthread_mutex_lock(&rc->lock);
    hc->next = rc->head;
    if (rc->head)
        rc->head->prev = hc;
    rc->head = hc;
    pthread_mutex_unlock(&rc->lock);
}

static void conn_unlink(struct http_conn *hc)
{
    struct reactor_conns *rc = &hc->srv->per_reactor[roost_reactor_id(roost_conn_reactor(hc->c))];
    pthread_mutex_lock(&rc->lock);
    if (hc->prev)
        hc->prev->next = hc->next;
    else
        rc->head = hc->next;
    if (hc->next)
        hc->next->prev = hc->prev;
    pthread_mutex_unlock(&rc->lock);
}

/* The spare buffer sets of hc's reactor, or NULL when not running on it (run-on=pool). */
static struct reactor_conns *spares_here(const struct http_conn *hc)
{
    return net_on_reactor(hc->r) ? hc->rc : NULL;
}

/*
 * The reactor's batch (struct http_batch), for the batch of requests about to be answered:
 * taken when no other connection holds it (one whose handler or send is awaiting keeps it
 * meanwhile; the others then use their own). Responses written into one warm buffer and heads
 * parsed into one warm request cost no cache misses, where a connection's own are cold again
 * by its next turn once a reactor serves hundreds of connections. A head that arrived in part
 * is carried over to the request it is finished in (a copy, only then).
 */
static void batch_take(struct http_conn *hc)
{
    struct reactor_conns *rc = hc->rc;
    /* (its own output is empty here: each batch ends sending it, or the connection) */
    if (hc->b != &hc->own || rc->batch_taken || !net_on_reactor(hc->r))
        return;
    rc->batch_taken = true;
    if (hc->head.seen)
        rc->batch.req.head = hc->own.req.head;
    hc->b = &rc->batch;
}

/* A buffer of the reactor's batch grown past SPARE_BUF_MAX (a large response) is freed
 * rather than kept. */
static void batch_trim(struct roost_bytes *b)
{
    if (b->cap > SPARE_BUF_MAX)
        http_bytes_free(b);
}

static void batch_free(struct http_batch *b)
{
    http_bytes_free(&b->out);
    http_bytes_free(&b->res_headers);
    http_bytes_free(&b->res_body);
}

/*
 * Gives the reactor's batch back once its output is sent, on its reactor (a task that moved
 * off it keeps the batch until it is back: the reactor's fields are its thread's).
 */
static void batch_give(struct http_conn *hc)
{
    struct http_batch *b = hc->b;
    if (b == &hc->own || b->out.len || !net_on_reactor(hc->r))
        return;
    batch_trim(&b->out);
    batch_trim(&b->res_headers);
    batch_trim(&b->res_body);
    if (hc->head.seen)
        hc->own.req.head = b->req.head;
    hc->rc->batch_taken = false;
    hc->b = &hc->own;
}

/* A send behind is over (on the reactor): its buffer is kept for a next batch's output,
 * unless it grew large. */
static void out_sent(void *arg, void *data, size_t len, size_t cap, int res)
{
    struct reactor_conns *rc = arg;
    (void)res; /* the connection's task hears of a failure at its next send or receive */
    rc->behind_bytes -= len;
    if (cap <= SPARE_BUF_MAX && rc->nout_free < OUT_FREE_MAX)
        rc->out_free[rc->nout_free++] = (struct roost_bytes){data, 0, cap};
    else
        free(data);
}

/*
 * The batch's one write, sent behind: the output buffer goes to the ring with the tick's enter
 * (no send(2) of its own) and the batch takes a free one for what it answers next, so the task
 * goes on to its next receive at once.
 */
static int flush_behind(struct http_conn *hc)
{
    struct roost_bytes *out = &hc->b->out;
    struct reactor_conns *rc = hc->rc;
    if (!out->len)
        return 0;
    if (!hc->srv->opts.send_behind || !net_on_reactor(hc->r) ||
        rc->behind_bytes + out->len > OUT_BEHIND_MAX)
        return http_flush(hc);
    int err = net_send_behind(hc->c, out->p, out->len, out_sent, rc, out->cap);
    if (err == -ENOMEM) /* no op or SQE to stage it with: send it now */
        return http_flush(hc);
    if (err < 0) {
        out->len = 0; /* the send before failed: the connection is over */
        return err;
    }
    roost_http_count(&hc->counters->bytes_sent, out->len);
    rc->behind_bytes += out->len;
    *out = rc->nout_free ? rc->out_free[--rc->nout_free] : (struct roost_bytes){0};
    return 0;
}

static void serve_conn(struct http_conn *hc)
{
    roost_http_server *srv = hc->srv;
    uint64_t head_ns = 0; /* when the head being read began (its deadline's start), 0: idle */
    for (;;) {
        uint64_t now = 0; /* ns; within a batch, the end of the request before */
        /* Answer every complete request already buffered. */
        if (in_n(hc))
            batch_take(hc);
        roost_http_req *req = &hc->b->req;
        size_t last_len = 0; /* the head just answered, when the input goes on right after it */
        while (in_n(hc)) {
            if (!now)
                now = now_ns();
            if (!head_ns)
                head_ns = now;
            int rc = http_parse_head_repeat(in_p(hc), in_n(hc), last_len, &req->head, &hc->head);
            if (rc == 0)
                rc = http_parse_head_more(in_p(hc), in_n(hc), &srv->limits, &req->head, &hc->head);
            if (rc == 0)
                break;
            if (rc < 0) {
                http_append_status(hc, -rc);
                if (srv->access_log)
                    access_log(hc, NULL, -rc, 0, 0);
                http_flush(hc);
                return;
            }
            req->hc = hc;
            req->body = (struct roost_str){NULL, 0};
            const char *head = in_p(hc);
            long used = serve_one(hc, req, &now);
            if (used < 0) {
                http_flush(hc);
                return;
            }
            /* A pipelining client repeats its head: the next may be these bytes again. */
            last_len = used == rc && in_p(hc) == head ? (size_t)rc : 0;
            in_consume(hc, (size_t)used);
            head_ns = 0;
            /*
             * Output over the cap: send it before answering more. A peer that pipelines
             * and never reads then holds at most the cap here (its requests wait in the
             * socket), and the send timeout ends it.
             */
            if (hc->b->out.len >= srv->opts.max_output_bytes && http_flush(hc) < 0)
                return;
        }
        /* One write for everything answered from this read. */
        if (flush_behind(hc) < 0)
            return;
        batch_give(hc);
        atomic_store_explicit(&hc->idle, !in_n(hc), memory_order_relaxed);
        /*
         * Shutting down and between requests: stop reading. Bytes the peer already sent
         * are still delivered (a request in flight is answered); then recv sees EOF.
         */
        if (!in_n(hc) && atomic_load(&srv->draining))
            roost_conn_shutdown(hc->c, SHUT_RD);
        uint64_t timeout = srv->opts.idle_timeout_ms;
        if (in_n(hc)) { /* the rest of the head's time */
            uint64_t end = head_ns / 1000000u + srv->opts.header_timeout_ms, ms = now_ms();
            timeout = end > ms ? end - ms : 0;
        }
        int n = timeout ? http_receive(hc, timeout) : -ETIMEDOUT;
        atomic_store_explicit(&hc->idle, false, memory_order_relaxed);
        if (n == -ETIMEDOUT && in_n(hc)) {
            http_append_status(hc, 408); /* a head that did not arrive in time: slowloris */
            http_flush(hc);
            return;
        }
        if (n <= 0)
            return; /* EOF, idle timeout, cancelled by shutdown, or an error */
    }
}

/* The client's address as text ("-" if unknown): once per connection, access log only. */
static void peer_name(roost_conn *c, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    const void *addr = NULL;
    snprintf(out, cap, "-");
    if (getpeername(c->fd, (struct sockaddr *)&ss, &len) < 0)
        return;
    if (ss.ss_family == AF_INET)
        addr = &((struct sockaddr_in *)&ss)->sin_addr;
    else if (ss.ss_family == AF_INET6)
        addr = &((struct sockaddr_in6 *)&ss)->sin6_addr;
    if (addr && !inet_ntop(ss.ss_family, addr, out, (socklen_t)cap))
        snprintf(out, cap, "-");
}

static void conn_bufs_free(struct conn_bufs *b)
{
    http_bytes_free(&b->in);
    http_bytes_free(&b->out);
    http_bytes_free(&b->res_headers);
    http_bytes_free(&b->res_body);
}

static void conn_bufs_take(struct http_conn *hc)
{
    struct reactor_conns *rc = spares_here(hc);
    if (!rc || !rc->nspare)
        return;
    struct conn_bufs *b = &rc->spare[--rc->nspare];
    hc->in = b->in;
    hc->own.out = b->out;
    hc->own.res_headers = b->res_headers;
    hc->own.res_body = b->res_body;
}

static bool spare_size(const struct roost_bytes *b)
{
    return b->cap <= SPARE_BUF_MAX;
}

static void conn_bufs_give(struct http_conn *hc)
{
    struct reactor_conns *rc = spares_here(hc);
    struct http_batch *own = &hc->own;
    if (rc && rc->nspare < SPARE_BUFS && spare_size(&hc->in) && spare_size(&own->out) &&
        spare_size(&own->res_headers) && spare_size(&own->res_body)) {
        struct conn_bufs *b = &rc->spare[rc->nspare++];
        b->in = emptied(hc->in);
        b->out = emptied(own->out);
        b->res_headers = emptied(own->res_headers);
        b->res_body = emptied(own->res_body);
        return;
    }
    struct conn_bufs b = {hc->in, own->out, own->res_headers, own->res_body};
    conn_bufs_free(&b);
}

static int on_conn(roost_conn *c, void *arg)
{
    roost_http_server *srv = arg;
    /* Zeroed but for its own batch's response and request (2.7 KB), which are set before
     * each use (res_start, the parser). */
    struct http_conn hc;
    memset(&hc, 0, offsetof(struct http_conn, own.res));
    hc.srv = srv;
    hc.c = c;
    hc.r = roost_conn_reactor(c);
    hc.b = &hc.own;
    hc.rc = &srv->per_reactor[roost_reactor_id(hc.r)];
    roost_conn_set_send_timeout(c, srv->opts.send_timeout_ms);
    hc.counters = &hc.rc->counters;
    if (srv->access_log)
        peer_name(c, hc.peer, sizeof(hc.peer));
    roost_http_count(&hc.counters->accepted, 1);
    atomic_fetch_add(&srv->live, 1);
    conn_link(&hc);
    conn_bufs_take(&hc);
    serve_conn(&hc);
    if (hc.in_lent.len)
        in_return(&hc);
    hc.b->out.len = 0; /* what a failed connection did not send is dropped */
    hc.head.seen = 0;  /* and a head it did not finish */
    batch_give(&hc);
    if (hc.b != &hc.own && roost_hop(roost_reactor_ctx(hc.r)) == 0)
        batch_give(&hc); /* ended off its reactor (affinity off): the batch is given back home */
    if (hc.b != &hc.own) {
        /* The reactor stopped under it: its batch buffers are freed here, and it stays taken
         * (nothing of that reactor runs any more). */
        batch_free(hc.b);
        hc.b = &hc.own;
    }
    conn_unlink(&hc);
    conn_bufs_give(&hc);
    http_bytes_free(&hc.body);
    http_bytes_free(&hc.path);
    roost_http_count(&hc.counters->closed, 1);
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
    srv->stream_routes = http_router_has_stream(router);
    if (srv->stream_routes) {
        /* Heads are parsed before routing: under the larger limit; read_body checks its own. */
        uint64_t smax = srv->opts.max_stream_body_bytes;
        if (!smax || smax > SIZE_MAX)
            srv->limits.max_body_bytes = SIZE_MAX;
        else if (smax > srv->limits.max_body_bytes)
            srv->limits.max_body_bytes = (size_t)smax;
    }
    srv->limits.max_headers = ROOST_HTTP_DEFAULT_MAX_HEADERS;
    if (!srv->opts.header_timeout_ms)
        srv->opts.header_timeout_ms = 10000;
    if (!srv->opts.idle_timeout_ms)
        srv->opts.idle_timeout_ms = 60000;
    if (!srv->opts.body_timeout_ms)
        srv->opts.body_timeout_ms = 10000;
    if (!srv->opts.send_timeout_ms)
        srv->opts.send_timeout_ms = 30000;
    if (!srv->opts.max_output_bytes)
        srv->opts.max_output_bytes = ROOST_HTTP_DEFAULT_MAX_OUTPUT_BYTES;
    if (!srv->opts.file_copy_max)
        srv->opts.file_copy_max = ROOST_HTTP_DEFAULT_FILE_COPY_MAX;
    snprintf(srv->server_name, sizeof(srv->server_name), "%s",
             srv->opts.server_name ? srv->opts.server_name : "roost");
    srv->nreactors = roost_runtime_reactor_count(rt);
    srv->per_reactor = calloc(srv->nreactors, sizeof(*srv->per_reactor));
    if (!srv->per_reactor) {
        free(srv);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < srv->nreactors; i++)
        pthread_mutex_init(&srv->per_reactor[i].lock, NULL);
    if (srv->opts.access_log) {
        int arc = http_access_log_open(srv->opts.access_log, srv->opts.access_log_format,
                                       srv->nreactors, &srv->access_log);
        if (arc < 0) {
            free(srv->per_reactor);
            free(srv);
            return arc;
        }
    }
    struct roost_listen_opts lo = {
        .host = srv->opts.host,
        .port = srv->opts.port,
        .max_conns = srv->opts.max_conns,
        .reuse_port = srv->opts.reuse_port,
    };
    int rc = roost_listen(rt, &lo, on_conn, srv, &srv->listener);
    if (rc < 0) {
        for (unsigned i = 0; i < srv->nreactors; i++)
            pthread_mutex_destroy(&srv->per_reactor[i].lock);
        http_access_log_close(srv->access_log);
        free(srv->per_reactor);
        free(srv);
        return rc;
    }
    *out = srv;
    return 0;
}

roost_http_server *http_req_server(const roost_http_req *req)
{
    return req->hc->srv;
}

roost_runtime *http_server_runtime(const roost_http_server *s)
{
    return s->rt;
}

const struct roost_http_counters *http_server_counters(const roost_http_server *s, unsigned i)
{
    return &s->per_reactor[i].counters;
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
    struct reactor_conns *rc = &srv->per_reactor[roost_reactor_id(r)];
    pthread_mutex_lock(&rc->lock);
    for (struct http_conn *hc = rc->head; hc; hc = hc->next)
        if (atomic_load_explicit(&hc->idle, memory_order_relaxed))
            roost_conn_shutdown(hc->c, SHUT_RD);
    pthread_mutex_unlock(&rc->lock);
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
    for (unsigned i = 0; i < s->nreactors; i++) {
        struct reactor_conns *rc = &s->per_reactor[i];
        pthread_mutex_destroy(&rc->lock);
        while (rc->nspare)
            conn_bufs_free(&rc->spare[--rc->nspare]);
        batch_free(&rc->batch);
        while (rc->nout_free)
            http_bytes_free(&rc->out_free[--rc->nout_free]);
    }
    http_access_log_close(s->access_log); /* writes what the reactors left buffered */
    free(s->per_reactor);
    free(s);
}

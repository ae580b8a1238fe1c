/*
 * The HTTP server's connection and request state, shared by its three files: server.c (the
 * connection loop, routing and the server's life), request.c (request accessors, input and
 * bodies, whole or streamed) and response.c (response heads and bodies, files, sending).
 */
#ifndef ROOST_HTTP_CONN_H
#define ROOST_HTTP_CONN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <roost/http.h>
#include <roost/net.h>
#include <roost/reactor.h>

#include "http/bytes.h"
#include "http/metrics.h"
#include "http/parser.h"
#include "http/router.h"

struct reactor_conns;

struct roost_http_server {
    roost_runtime *rt;
    roost_http_router *router;
    roost_listener *listener;
    struct roost_http_server_opts opts;
    struct roost_http_limits limits;
    char server_name[64];
    unsigned nreactors;
    struct reactor_conns *per_reactor;
    struct roost_access_log *access_log; /* NULL: off */
    bool stream_routes;                  /* the router has roost_http_route_stream routes */
    _Atomic bool draining;
    _Atomic long live;
};

/*
 * The route of the connection's last request, kept while its method and raw path repeat (a
 * keep-alive client's mostly do): one compare then replaces the path check and the router.
 * Only routes without parameters, for paths already in normal form, are kept; the router is
 * read-only while serving, so the answer cannot change.
 */
struct http_route_memo {
    unsigned char method_n, path_n; /* path_n 0: nothing kept */
    bool stream;
    char method[13];
    roost_http_handler handler;
    void *arg;
    char path[32]; /* a longer one goes through the router each time: the memo is one line */
};

/*
 * The body of a request on a streaming route, read by the handler (roost_http_req_read). Its
 * bytes come first from the connection's input after the head (what arrived with it), then
 * from one borrowed receive buffer at a time: the input buffer is not touched while the
 * handler runs, so the head's spans stay valid, and nothing is received before the handler
 * asks. Bytes of the last buffer past the body's end (the next pipelined request) join the
 * input when the handler returns (stream_end).
 */
struct http_body_stream {
    bool on;        /* this request's body is streamed */
    bool continued; /* no 100 Continue owed (sent, or not asked for) */
    bool uninvited; /* it was owed once the final response had begun: never sent, since a
                       1xx comes before the final response (RFC 9110 §15.2) */
    bool done;      /* the body's end was read */
    bool chunked;
    int err;              /* sticky -errno of a failed read, 0 */
    int status;           /* what the server answers for err (400, 408, 413, 431), or 0 */
    uint64_t left;        /* Content-Length: bytes still to come */
    uint64_t read;        /* decoded body bytes handed out */
    size_t in_used;       /* bytes of the input (from in_p) that are head or body */
    struct roost_buf buf; /* borrowed receive buffer, len 0 when none */
    size_t buf_used;      /* bytes of buf that are body (or framing) already taken */
    struct roost_http_chunked ch;
};

struct roost_http_req {
    struct roost_http_request head;
    struct http_conn *hc;
    struct roost_http_match match;
    struct roost_str path; /* decoded and normalised: what the router matched */
    struct roost_str body;
    size_t body_off; /* bytes of body roost_http_req_read gave (not a streaming route) */
    struct http_body_stream stream;
};

/* Every field is set by res_start (server.c), one by one: a new field goes there too. */
struct roost_http_res {
    struct http_conn *hc;
    int status;
    struct roost_bytes headers; /* extra header lines, CRLF-terminated */
    struct roost_bytes body;
    bool has_body;
    bool head_only; /* answering HEAD: no body bytes */
    bool close;     /* Connection: close after this response */
    bool http10;
    bool streaming;    /* roost_http_res_write was used */
    uint64_t streamed; /* body bytes written by roost_http_res_write */
    bool failed;
    bool has_file; /* roost_http_res_file: the body is file_len bytes of file_fd */
    int file_fd;
    uint64_t file_off;
    size_t file_len;
};

/*
 * What a batch of requests is answered with: the output buffer their responses are written
 * into, the request being parsed and the response being built, with that response's buffers
 * (reused by every response: no malloc each). Each connection has its own; each reactor has
 * one more, which the connection answering a batch on it takes while no other holds it
 * (server.c, batch_take): one warm copy instead of a cold one per connection.
 */
struct http_batch {
    struct roost_bytes out;
    struct roost_bytes res_headers, res_body;
    struct roost_http_res res;
    struct roost_http_req req; /* last: its header array is mostly untouched */
};

/*
 * Fields in the order a batch uses them: those it touches share as few cache lines as can be
 * (a connection's are cold when its next batch comes, once a reactor serves hundreds), and
 * the struct starts a line. A request answered out of its receive buffer, with the same route
 * and Host as the one before, touches the first four.
 */
struct http_conn {
    roost_http_server *srv;
    roost_conn *c;
    roost_reactor *r;                     /* c's, for good */
    struct reactor_conns *rc;             /* r's spare and shared buffers (server.c) */
    struct roost_http_counters *counters; /* its reactor's */
    struct http_batch *b; /* &own, or while it answers a batch the reactor's (batch_take) */
    size_t in_off;        /* hc->in before this is consumed: compacted at most once per receive */
    _Atomic bool idle;    /* waiting for the first byte of a request: shutdown may close it */
    bool res_begun;       /* this request's final response head is written (roost_http_res_write) */
    struct roost_bytes in;
    /*
     * While in_lent.len: hc->in views this received buffer, borrowed from the connection
     * instead of copied (a whole batch of requests is answered out of it), and in_own keeps
     * the connection's own input buffer meanwhile. See in_settle.
     */
    struct roost_buf in_lent;
    struct roost_bytes in_own;
    struct http_route_memo route;
    struct http_head_progress head; /* how far an incomplete head was parsed: no re-scan */
    struct roost_bytes body;        /* a whole body read for the handler (request.c) */
    struct roost_bytes path; /* the decoded path of the request being served, when it differs */
    char peer[48];           /* the client's address, for the access log only */
    struct http_conn *prev, *next;
    struct http_batch own; /* last: large, and mostly untouched while the reactor's is used */
} __attribute__((aligned(64)));

static inline struct roost_str str_of(struct roost_http_str s)
{
    return (struct roost_str){s.p, s.n};
}

/* The reactor's tick time (one clock read per tick, not per request); a clock read off the
 * reactor (run-on=pool workers, shutdown). Latencies are therefore tick-granular. */
static inline uint64_t now_ns(void)
{
    return roost_reactor_now_ns();
}

static inline uint64_t now_ms(void)
{
    return now_ns() / 1000000u;
}

/*
 * The input buffer is consumed by moving in_off forward, so a read carrying many pipelined
 * requests costs no memmove per request; what is left is moved to the front once, before
 * the next receive appends to it.
 *
 * A read that finds the input empty is not copied at all: hc->in views the received buffer
 * (in_lent) while its requests are answered, and the buffer goes back when they are all
 * consumed (in_consume), or when the input must become the connection's own again before
 * it grows (in_settle: only what is left, usually a part of a head, is copied). Spans into
 * the input then move, as they do on a compaction: http_parse_head_more and serve_one
 * re-point them.
 */
static inline const char *in_p(const struct http_conn *hc)
{
    return hc->in.p + hc->in_off;
}

static inline size_t in_n(const struct http_conn *hc)
{
    return hc->in.len - hc->in_off;
}

/* The lent buffer goes back; hc->in is the connection's own again, empty. */
static inline void in_return(struct http_conn *hc)
{
    roost_conn_release(hc->c, &hc->in_lent);
    hc->in = hc->in_own;
    hc->in.len = 0;
    hc->in_off = 0;
}

static inline void in_consume(struct http_conn *hc, size_t n)
{
    hc->in_off += n;
    if (hc->in_off == hc->in.len) {
        if (hc->in_lent.len)
            in_return(hc);
        hc->in_off = hc->in.len = 0;
    }
}

/* Makes the unconsumed input the connection's own and moves it to the front. 0 or -ENOMEM
 * (the input is then empty and the lent buffer returned: the connection cannot go on). */
static inline int in_settle(struct http_conn *hc)
{
    if (hc->in_lent.len) {
        const char *p = in_p(hc);
        size_t n = in_n(hc);
        struct roost_bytes own = hc->in_own;
        own.len = 0;
        int rc = http_bytes_append(&own, p, n);
        hc->in_own = own;
        in_return(hc);
        if (rc < 0)
            return rc;
        hc->in.len = n;
        return 0;
    }
    if (!hc->in_off)
        return 0;
    memmove(hc->in.p, hc->in.p + hc->in_off, in_n(hc));
    hc->in.len -= hc->in_off;
    hc->in_off = 0;
    return 0;
}

/* ---- between the server's files ---- */

/* response.c */
bool http_status_bodiless(int status);
/* Appends res's head and body to the output; now: the time it is written (now_ns). */
int http_append_response(struct http_conn *hc, roost_http_res *res, uint64_t now);
int http_append_status(struct http_conn *hc, int status);
int http_flush(struct http_conn *hc);
int http_send_file_body(struct http_conn *hc, roost_http_res *res);
void http_res_file_drop(roost_http_res *res);

/* request.c */
int http_receive(struct http_conn *hc, uint64_t timeout_ms);
long http_body_begin(struct http_conn *hc, roost_http_req *req);

/* http_body_begin, with the common case (no body: nothing to read or stream) inline. */
static inline long http_body_start(struct http_conn *hc, roost_http_req *req)
{
    if (req->head.chunked || req->head.content_length)
        return http_body_begin(hc, req);
    req->body_off = 0;
    req->stream.on = false;
    req->body = (struct roost_str){in_p(hc) + req->head.head_len, 0};
    return (long)req->head.head_len;
}
int http_stream_end(struct http_conn *hc, roost_http_req *req, roost_http_res *res, int rc,
                    long *used);

/* server.c */
int http_decode_path(struct http_conn *hc, roost_http_req *req);

#endif

/*
 * HTTP requests: the accessors a handler reads a request with, the connection's input, and
 * request bodies, read whole before the handler runs or streamed to it as they arrive
 * (roost_http_route_stream, roost_http_req_read).
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/conn.h"
#include "net/net.h"

/* ---- requests -------------------------------------------------------------------------- */

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
    return req->path;
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

/* Receives more input, waiting up to timeout_ms (0: no limit). Returns bytes (> 0), 0 at
 * EOF, -ETIMEDOUT, or -errno. */
int http_receive(struct http_conn *hc, uint64_t timeout_ms)
{
    int rc = in_settle(hc);
    if (rc < 0)
        return rc;
    roost_conn_set_recv_timeout(hc->c, timeout_ms);
    struct roost_buf buf;
    int n = roost_conn_recv(hc->c, &buf);
    if (n <= 0)
        return n;
    roost_http_count(&hc->counters->bytes_received, buf.len);
    if (!hc->in.len && net_buf_may_keep(hc->c, &buf)) {
        /* Nothing pending: answer out of the received buffer itself (see in_settle). */
        hc->in_own = hc->in;
        hc->in = (struct roost_bytes){(char *)buf.data, buf.len, buf.len};
        hc->in_lent = buf;
        return n;
    }
    rc = http_bytes_append(&hc->in, buf.data, buf.len);
    roost_conn_release(hc->c, &buf);
    return rc < 0 ? rc : n;
}

/*
 * Receives body bytes: the body deadline is about progress (a slow upload that keeps
 * sending is not cut), so every receive gets body_timeout_ms from its start.
 * Returns > 0, or -408 when the peer stopped sending, or -ECONNRESET / -errno.
 */
static int receive_body(struct http_conn *hc)
{
    int n = http_receive(hc, hc->srv->opts.body_timeout_ms);
    if (n == -ETIMEDOUT)
        return -408;
    return n == 0 ? -ECONNRESET : n;
}

/* Answers what is queued first, then invites the body (RFC 9110 §10.1.1). 0 or -errno. */
static int send_continue(struct http_conn *hc)
{
    int rc = http_bytes_append_str(&hc->b->out, "HTTP/1.1 100 Continue\r\n\r\n");
    return rc < 0 ? rc : http_flush(hc);
}

/*
 * Makes the whole body of the request at the front of the input available in req->body.
 * Returns bytes of the input the request occupies (head + body), or -STATUS / -errno.
 * A chunked body is decoded as it arrives: its framing is dropped from the input before
 * each receive, so a connection holds the decoded body plus one read, whatever the chunks.
 */
static long read_body(struct http_conn *hc, roost_http_req *req)
{
    size_t head_len = req->head.head_len;
    /* With streaming routes the head was parsed under their (larger) limit: check ours. */
    struct roost_http_limits body_lim = hc->srv->limits;
    body_lim.max_body_bytes = hc->srv->opts.max_body_bytes;
    const struct roost_http_limits *lim = &body_lim;
    if (!req->head.chunked && req->head.content_length > lim->max_body_bytes)
        return -413;
    bool need_body = req->head.chunked || req->head.content_length > 0;
    if (need_body && req->head.expect_continue) {
        bool have_all = !req->head.chunked && in_n(hc) - head_len >= req->head.content_length;
        int rc = have_all ? 0 : send_continue(hc);
        if (rc < 0)
            return rc;
    }
    if (!req->head.chunked) {
        size_t need = head_len + (size_t)req->head.content_length;
        while (in_n(hc) < need) {
            int n = receive_body(hc);
            if (n < 0)
                return n;
        }
        req->body = (struct roost_str){in_p(hc) + head_len, (size_t)req->head.content_length};
        return (long)need;
    }
    struct roost_http_chunked ch;
    http_chunked_init(&ch, lim);
    hc->body.len = 0;
    size_t off = head_len;
    bool done = false;
    while (!done) {
        size_t consumed = 0;
        struct roost_http_str data = {0};
        int rc = http_chunked_feed(&ch, in_p(hc) + off, in_n(hc) - off, &consumed, &data, &done);
        if (rc < 0)
            return rc;
        if (data.n && http_bytes_append(&hc->body, data.p, data.n) < 0)
            return -ENOMEM;
        off += consumed;
        if (!done && consumed == 0) {
            /* Everything between the head and off is decoded: drop it before reading on. */
            if (in_settle(hc) < 0)
                return -ENOMEM;
            memmove(hc->in.p + head_len, hc->in.p + off, hc->in.len - off);
            hc->in.len -= off - head_len;
            off = head_len;
            int n = receive_body(hc);
            if (n < 0)
                return n;
        }
    }
    req->body = (struct roost_str){hc->body.p, hc->body.len};
    return (long)off;
}

/* ---- streamed request bodies (roost_http_route_stream) ---------------------------------- */

/*
 * Is the request at the front of the input for a streaming route? That must be known before
 * its body is read, so it is routed early; only requests with a body, on a server that has
 * such routes, pay for it.
 */
static bool wants_stream(struct http_conn *hc, roost_http_req *req)
{
    if (!hc->srv->stream_routes || !(req->head.chunked || req->head.content_length > 0))
        return false;
    if (req->head.target_form != ROOST_HTTP_TARGET_ORIGIN &&
        req->head.target_form != ROOST_HTTP_TARGET_ABSOLUTE)
        return false;
    if (http_decode_path(hc, req) < 0)
        return false; /* answered 400 after the body, as on any route */
    return http_router_match(hc->srv->router, str_of(req->head.method), req->path, &req->match) ==
               0 &&
           req->match.stream;
}

/*
 * Starts the body of the request at the front of the input: left for the handler on a
 * streaming route, else read whole (read_body). Returns the bytes of the input the request
 * occupies so far (stream_end counts a streamed body's), or -STATUS / -errno.
 */
long http_body_begin(struct http_conn *hc, roost_http_req *req)
{
    req->body_off = 0;
    req->stream.on = false;
    if (!wants_stream(hc, req))
        return read_body(hc, req);
    uint64_t max = hc->srv->opts.max_stream_body_bytes;
    if (!req->head.chunked && max && req->head.content_length > max)
        return -413;
    /* The handler's reads borrow receive buffers of their own: the input must not hold one
     * (serve_one re-points the head's spans when this moves it). */
    if (in_settle(hc) < 0)
        return -ENOMEM;
    struct http_body_stream *s = &req->stream;
    *s = (struct http_body_stream){
        .on = true,
        .continued = !req->head.expect_continue,
        .chunked = req->head.chunked,
        .left = req->head.content_length,
        .in_used = req->head.head_len,
    };
    if (s->chunked) {
        struct roost_http_limits lim = hc->srv->limits;
        lim.max_body_bytes = max && max < SIZE_MAX ? (size_t)max : SIZE_MAX;
        http_chunked_init(&s->ch, &lim);
    }
    return (long)req->head.head_len;
}

/* Records a failed read: every later read returns err; status is what the server answers. */
static int stream_fail(struct http_body_stream *s, int err)
{
    switch (err) {
    case -400:
        s->status = 400;
        err = -EPROTO;
        break;
    case -413:
    case -431:
        s->status = -err;
        err = -EMSGSIZE;
        break;
    case -408:
        s->status = 408;
        err = -ETIMEDOUT;
        break;
    default:
        s->status = 0; /* the peer is gone or the connection failed: nothing to answer */
    }
    s->err = err;
    return err;
}

/*
 * Receives the next buffer of a streamed body into s->buf, after giving the last one back.
 * Each receive has body_timeout_ms (progress, as in receive_body). > 0, or -408 / -errno.
 */
static int stream_receive(struct http_conn *hc, struct http_body_stream *s)
{
    roost_conn_release(hc->c, &s->buf);
    s->buf = (struct roost_buf){0};
    s->buf_used = 0;
    roost_conn_set_recv_timeout(hc->c, hc->srv->opts.body_timeout_ms);
    int n = roost_conn_recv(hc->c, &s->buf);
    if (n > 0) {
        roost_http_count(&hc->counters->bytes_received, s->buf.len);
        return n;
    }
    s->buf = (struct roost_buf){0};
    if (n == -ETIMEDOUT)
        return -408;
    return n == 0 ? -ECONNRESET : n;
}

/* True when the rest of a Content-Length body is already in the input (no 100 needed). */
static bool stream_have_all(struct http_conn *hc, const struct http_body_stream *s)
{
    return !s->chunked && in_n(hc) - s->in_used >= s->left;
}

/* The next span of a streamed body: its length (> 0) and *chunk, 0 at the end, or -errno. */
static int stream_next(struct http_conn *hc, struct http_body_stream *s, struct roost_str *chunk)
{
    *chunk = (struct roost_str){NULL, 0};
    while (!s->err && !s->done) {
        /* what arrived with the head first, then the borrowed buffer, then a receive */
        const char *p;
        size_t n, *used;
        if (s->in_used < in_n(hc)) {
            p = in_p(hc) + s->in_used;
            n = in_n(hc) - s->in_used;
            used = &s->in_used;
        } else if (s->buf_used < s->buf.len) {
            p = s->buf.data + s->buf_used;
            n = s->buf.len - s->buf_used;
            used = &s->buf_used;
        } else {
            int rc = stream_receive(hc, s);
            if (rc < 0)
                stream_fail(s, rc);
            continue;
        }
        if (n > INT_MAX)
            n = INT_MAX;
        struct roost_http_str data = {p, n < s->left ? n : (size_t)s->left};
        size_t consumed = data.n;
        if (s->chunked) {
            bool done = false;
            int rc = http_chunked_feed(&s->ch, p, n, &consumed, &data, &done);
            *used += consumed;
            if (rc < 0 && !data.n) { /* data before the error first: the error is sticky */
                stream_fail(s, rc);
                continue;
            }
            s->done = done;
        } else {
            *used += consumed;
            s->left -= consumed;
            s->done = s->left == 0;
        }
        if (data.n) {
            *chunk = (struct roost_str){data.p, data.n};
            s->read += data.n;
            return (int)data.n;
        }
    }
    return s->err;
}

int roost_http_req_read(roost_http_req *req, struct roost_str *chunk)
{
    struct http_body_stream *s = &req->stream;
    if (!s->on) {
        /* An ordinary route: the body was read before the handler; hand it out once. */
        size_t n = req->body.n - req->body_off;
        if (n > INT_MAX)
            n = INT_MAX;
        *chunk = (struct roost_str){n ? req->body.p + req->body_off : NULL, n};
        req->body_off += n;
        return (int)n;
    }
    struct http_conn *hc = req->hc;
    if (!s->continued) {
        s->continued = true;
        /* A 100 after the final response's head would land in its body: the client gets no
         * invitation then, and the read waits for what it sends anyway (body_timeout_ms). */
        s->uninvited = hc->res_begun;
        int rc = s->done || stream_have_all(hc, s) || s->uninvited ? 0 : send_continue(hc);
        if (rc < 0) {
            *chunk = (struct roost_str){NULL, 0};
            return stream_fail(s, rc);
        }
    }
    return stream_next(hc, s, chunk);
}

/*
 * After a streaming route's handler (rc its result, or the 500 decided for it): answers a
 * failed read with its status, discards the body the handler left unread (up to
 * max_body_bytes of it, else the connection closes after the response), gives the input the
 * bytes received past the body (the next pipelined request) and the buffer back to the ring.
 * Returns the result to go on with; *used becomes the bytes of the input the request took.
 */
int http_stream_end(struct http_conn *hc, roost_http_req *req, roost_http_res *res, int rc,
                      long *used)
{
    struct http_body_stream *s = &req->stream;
    if (s->err) {
        res->close = true;
        if (s->status && !res->streaming) {
            res->status = s->status;
            res->body.len = 0;
            res->headers.len = 0;
            rc = 0;
        }
    } else if (!s->done) {
        /* Discarded even when the connection closes anyway (Connection: close): closing on
         * unread bytes resets the connection, which can destroy the response in flight. */
        uint64_t limit = s->read + hc->srv->opts.max_body_bytes;
        bool stop = ((!s->continued || s->uninvited) &&
                     !stream_have_all(hc, s)) || /* never invited: the client may hold the body
                                                    back */
                    (!s->chunked && s->left > hc->srv->opts.max_body_bytes); /* too much */
        struct roost_str chunk;
        while (!stop && stream_next(hc, s, &chunk) > 0)
            stop = s->read > limit;
        if (!s->done)
            res->close = true;
    }
    size_t extra = s->buf.len - s->buf_used;
    if (extra && !res->close) {
        const char *base = in_p(hc);
        if (http_bytes_append(&hc->in, s->buf.data + s->buf_used, extra) < 0)
            res->close = true;
        else if (in_p(hc) != base) /* re-point the head's spans (the access log reads them) */
            http_parse_head(in_p(hc), in_n(hc), &hc->srv->limits, &req->head);
    }
    roost_conn_release(hc->c, &s->buf);
    s->buf = (struct roost_buf){0};
    *used = (long)s->in_used;
    return rc;
}

size_t http_req_buffered(const roost_http_req *req)
{
    const struct http_conn *hc = req->hc;
    size_t own = hc->in_lent.len ? hc->in_own.cap : 0; /* hc->in views a received buffer */
    return hc->in.cap + own + (req->stream.on ? req->stream.buf.len : 0);
}

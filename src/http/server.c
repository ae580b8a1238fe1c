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
#include "http/date.h"
#include "http/metrics.h"
#include "http/parser.h"
#include "http/router.h"
#include "net/net.h"

/* Responses buffered per connection before they are sent (see max_output_bytes). */
#define ROOST_HTTP_DEFAULT_MAX_OUTPUT_BYTES (64u * 1024u)
/* Files up to this size are copied into the output, larger ones sent apart (file_copy_max). */
#define ROOST_HTTP_DEFAULT_FILE_COPY_MAX (32u * 1024u)

struct http_conn;

/*
 * Per reactor: its live connections and its counters. Connection tasks link and unlink
 * themselves, and with run-on=pool (or after an opt-out await with affinity off) they do so
 * from pool workers while shutdown walks the list on the reactor: the lock orders them. It
 * is taken twice per connection and once per reactor at shutdown, never per request. The
 * counters are written only on the reactor's thread and read by /metrics.
 */
/* A closed connection's buffers, kept for the next one (see conn_bufs_take). */
struct conn_bufs {
    struct roost_bytes in, out, res_headers, res_body;
};

#define SPARE_BUFS 16                 /* buffer sets a reactor keeps */
#define SPARE_BUF_MAX (16u * 1024u) /* larger buffers (a big upload's) are freed */

struct reactor_conns {
    pthread_mutex_t lock;
    struct http_conn *head;
    struct roost_http_counters counters;
    /* Reactor thread only: short-lived connections (HttpArena closes after 10 requests)
     * then cost no malloc and free of their buffers each. */
    struct conn_bufs spare[SPARE_BUFS];
    unsigned nspare;
    char pad[64]; /* no cache line shared with the next reactor's counters */
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
    struct roost_access_log *access_log; /* NULL: off */
    bool stream_routes;                  /* the router has roost_http_route_stream routes */
    _Atomic bool draining;
    _Atomic long live;
};

struct http_conn {
    roost_http_server *srv;
    roost_conn *c;
    struct roost_http_counters *counters; /* its reactor's */
    struct roost_bytes in, out, body;
    size_t in_off;     /* hc->in before this is consumed: compacted at most once per receive */
    struct http_head_progress head; /* how far an incomplete head was parsed: no re-scan */
    _Atomic bool idle; /* waiting for the first byte of a request: shutdown may close it */
    struct roost_bytes path; /* the decoded path of the request being served, when it differs */
    struct roost_bytes res_headers, res_body; /* reused by every response: no malloc each */
    char peer[48];                            /* the client's address, for the access log only */
    struct http_conn *prev, *next;
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
    o->server_name = "roost";
}

/* Reason phrases: every status of RFC 9110 §15, and 429/431 of RFC 6585. Others get an empty
 * phrase, which RFC 9112 §4 allows (clients must ignore the phrase anyway). */
static const char *reason(int status)
{
    static const char *const r1[] = {"Continue", "Switching Protocols"};
    static const char *const r2[] = {
        "OK",         "Created",       "Accepted",       "Non-Authoritative Information",
        "No Content", "Reset Content", "Partial Content"};
    static const char *const r3[] = {
        "Multiple Choices", "Moved Permanently",  "Found",
        "See Other",        "Not Modified",       "Use Proxy",
        "Unused",           "Temporary Redirect", "Permanent Redirect"};
    static const char *const r4[] = {"Bad Request",
                                     "Unauthorized",
                                     "Payment Required",
                                     "Forbidden",
                                     "Not Found",
                                     "Method Not Allowed",
                                     "Not Acceptable",
                                     "Proxy Authentication Required",
                                     "Request Timeout",
                                     "Conflict",
                                     "Gone",
                                     "Length Required",
                                     "Precondition Failed",
                                     "Content Too Large",
                                     "URI Too Long",
                                     "Unsupported Media Type",
                                     "Range Not Satisfiable",
                                     "Expectation Failed",
                                     "Unused"};
    static const char *const r5[] = {"Internal Server Error", "Not Implemented",
                                     "Bad Gateway",           "Service Unavailable",
                                     "Gateway Timeout",       "HTTP Version Not Supported"};
#define REASON_IN_(tab, base)                                                                      \
    if (status >= (base) && status < (base) + (int)(sizeof(tab) / sizeof(tab[0])))                 \
        return tab[status - (base)];
    REASON_IN_(r1, 100)
    REASON_IN_(r2, 200)
    REASON_IN_(r3, 300)
    REASON_IN_(r4, 400)
    REASON_IN_(r5, 500)
#undef REASON_IN_
    switch (status) {
    case 421:
        return "Misdirected Request";
    case 422:
        return "Unprocessable Content";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    default:
        return "";
    }
}

/* RFC 9110 §6.4.1, §8.6: 1xx, 204 and 304 responses have no content and no Content-Length. */
static bool status_bodiless(int status)
{
    return status < 200 || status == 204 || status == 304;
}

/* The reactor's tick time (one clock read per tick, not per request); a clock read off the
 * reactor (run-on=pool workers, shutdown). Latencies are therefore tick-granular. */
static uint64_t now_ns(void)
{
    return roost_reactor_now_ns();
}

static uint64_t now_ms(void)
{
    return now_ns() / 1000000u;
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
    uint64_t date_gen; /* of the Date text it was built from (http_date_gen) */
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
    uint64_t gen;
    const char *date = http_date_gen(&gen);
    if (status == 200) {
        struct head_cache *c = head_cache();
        if (c->srv != hc->srv || c->date_gen != gen) {
            int n =
                snprintf(c->text, sizeof(c->text), "HTTP/1.1 200 OK\r\nServer: %s\r\nDate: %s\r\n",
                         hc->srv->server_name, date);
            c->len = (size_t)n < sizeof(c->text) ? (size_t)n : sizeof(c->text) - 1;
            c->srv = hc->srv;
            c->date_gen = gen;
        }
        return http_bytes_append(&hc->out, c->text, c->len);
    }
    char line[256];
    int n = snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\nServer: %s\r\nDate: %s\r\n", status,
                     reason(status), hc->srv->server_name, date);
    return http_bytes_append(&hc->out, line,
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
    roost_http_count_status(hc->counters, res->status);
    int rc = append_status_line(hc, res->status);
    if (rc == 0 && res->headers.len)
        rc = http_bytes_append(&hc->out, res->headers.p, res->headers.len);
    if (rc == 0)
        rc = http_bytes_append(&hc->out, framing, framing_len);
    if (rc == 0 && res->close)
        rc = http_bytes_append_str(&hc->out, "Connection: close\r\n");
    else if (rc == 0 && res->http10)
        rc = http_bytes_append_str(&hc->out, "Connection: keep-alive\r\n");
    if (rc == 0)
        rc = http_bytes_append(&hc->out, "\r\n", 2);
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
    char framing[48] = "";
    bool bodiless = status_bodiless(res->status);
    size_t flen =
        bodiless ? 0 : content_length_line(framing, res->has_file ? res->file_len : res->body.len);
    int rc = append_head(hc, res, framing, flen);
    if (rc == 0 && !res->head_only && !bodiless && res->body.len)
        rc = http_bytes_append(&hc->out, res->body.p, res->body.len);
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
    if (rc >= 0)
        roost_http_count(&hc->counters->bytes_sent, hc->out.len);
    hc->out.len = 0;
    return rc;
}

int roost_http_res_status(roost_http_res *res, int status)
{
    if (status < 100 || status > 999) /* RFC 9110 §15: a three-digit integer */
        return -EINVAL;
    res->status = status;
    return 0;
}

/* The fields the server writes itself: a second copy from a handler would contradict the
 * framing (Content-Length, Transfer-Encoding, Connection) or just repeat (Date, Server). */
static bool server_owned(const char *name, size_t n)
{
#define OWNED_(lit)                                                                                \
    {                                                                                              \
        lit, sizeof(lit) - 1                                                                       \
    }
    static const struct {
        const char *name;
        size_t n;
    } owned[] = {OWNED_("Content-Length"), OWNED_("Transfer-Encoding"), OWNED_("Connection"),
                 OWNED_("Date"), OWNED_("Server")};
#undef OWNED_
    /* by length first: most names a handler sets have none of these lengths */
    for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
        if (n == owned[i].n && !strncasecmp(name, owned[i].name, n))
            return true;
    return false;
}

int roost_http_res_header(roost_http_res *res, const char *name, const char *value)
{
    if (!name || !value)
        return -EINVAL;
    /*
     * A CR or LF in a value would end the field early and let the rest inject a header (or a
     * whole response): RFC 9110 §5.5 values and §5.6.2 token names only. Checked while
     * copying (one pass over each string, no strlen), into the room the buffer has; a field
     * longer than that room grows the buffer and is copied again.
     */
    struct roost_bytes *h = &res->headers;
    for (;;) {
        size_t room = h->cap - h->len;
        if (room > 4) {
            char *d = h->p + h->len;
            size_t nroom = room - 4, nn = http_token_copy(d, nroom, name);
            if (name[nn] && nn < nroom)
                return -EINVAL; /* a byte that is not a tchar */
            if (!name[nn]) {
                if (nn == 0 || server_owned(name, nn))
                    return -EINVAL;
                size_t vroom = nroom - nn, vn = http_field_value_copy(d + nn + 2, vroom, value);
                if (value[vn] && vn < vroom)
                    return -EINVAL; /* a control byte */
                if (!value[vn]) {
                    d[nn] = ':';
                    d[nn + 1] = ' ';
                    d[nn + 2 + vn] = '\r';
                    d[nn + 3 + vn] = '\n';
                    h->len += nn + vn + 4;
                    return 0;
                }
            }
        }
        int rc = http_bytes_reserve(h, room + 256); /* out of room: grow, copy again */
        if (rc < 0)
            return rc;
    }
}

/* Closes the file of a response that will not send it. */
static void res_file_drop(roost_http_res *res)
{
    if (res->has_file)
        close(res->file_fd);
    res->has_file = false;
}

int roost_http_res_file(roost_http_res *res, int fd, off_t off, size_t len)
{
    if (fd < 0 || off < 0 || res->streaming) {
        if (fd >= 0)
            close(fd);
        return -EINVAL;
    }
    res_file_drop(res);
    res->body.len = 0;
    res->has_body = true;
    res->has_file = true;
    res->file_fd = fd;
    res->file_off = (uint64_t)off;
    res->file_len = len;
    return 0;
}

/*
 * The body of a file response, after its head in the output. Up to file_copy_max bytes are
 * read into the output and go out with the head and the other pipelined responses in one
 * write; a larger file goes out with roost_conn_send_file after the output is flushed (the
 * figures behind the default are in docs/static.md). Neither blocks the reactor on a cold
 * disk (net_file_read, roost_conn_send_file).
 */
static int send_file_body(struct http_conn *hc, roost_http_res *res)
{
    uint64_t off = res->file_off;
    size_t left = res->file_len;
    if (left > hc->srv->opts.file_copy_max) {
        int rc = flush(hc);
        if (rc == 0)
            rc = roost_conn_send_file(hc->c, res->file_fd, (off_t)off, left);
        if (rc == 0)
            roost_http_count(&hc->counters->bytes_sent, left);
        return rc;
    }
    int rc = http_bytes_reserve(&hc->out, left);
    while (rc == 0 && left) {
        int n = net_file_read(roost_conn_reactor(hc->c), res->file_fd, hc->out.p + hc->out.len,
                              left, off);
        if (n <= 0)
            return n < 0 ? n : -ENODATA; /* truncated meanwhile: the length is promised */
        hc->out.len += (size_t)n;
        off += (uint64_t)n;
        left -= (size_t)n;
    }
    return rc;
}

int roost_http_res_body(roost_http_res *res, const void *data, size_t len)
{
    res_file_drop(res);
    res->body.len = 0;
    res->has_body = true;
    return http_bytes_append(&res->body, data, len);
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
        const char *framing =
            res->http10 || status_bodiless(res->status) ? "" : "Transfer-Encoding: chunked\r\n";
        rc = append_head(hc, res, framing, strlen(framing));
    }
    if (rc == 0 && len && !res->head_only && !status_bodiless(res->status)) {
        if (!res->http10) {
            char size[32];
            int n = snprintf(size, sizeof(size), "%zx\r\n", len);
            rc = http_bytes_append(&hc->out, size, (size_t)n);
        }
        if (rc == 0)
            rc = http_bytes_append(&hc->out, data, len);
        if (rc == 0)
            res->streamed += len;
        if (rc == 0 && !res->http10)
            rc = http_bytes_append(&hc->out, "\r\n", 2);
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

/* ---- the connection loop --------------------------------------------------------------- */

/*
 * The input buffer is consumed by moving in_off forward, so a read carrying many pipelined
 * requests costs no memmove per request; what is left is moved to the front once, before
 * the next receive appends to it.
 */
static const char *in_p(const struct http_conn *hc)
{
    return hc->in.p + hc->in_off;
}

static size_t in_n(const struct http_conn *hc)
{
    return hc->in.len - hc->in_off;
}

static void in_consume(struct http_conn *hc, size_t n)
{
    hc->in_off += n;
    if (hc->in_off == hc->in.len)
        hc->in_off = hc->in.len = 0;
}

static void in_compact(struct http_conn *hc)
{
    if (!hc->in_off)
        return;
    memmove(hc->in.p, hc->in.p + hc->in_off, in_n(hc));
    hc->in.len -= hc->in_off;
    hc->in_off = 0;
}

/*
 * Receives more input. deadline_ms 0: no deadline. Returns bytes (> 0), 0 at EOF,
 * -ETIMEDOUT, or -errno.
 */
static int receive(struct http_conn *hc, uint64_t deadline_ms)
{
    in_compact(hc);
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
    roost_http_count(&hc->counters->bytes_received, buf.len);
    int rc = http_bytes_append(&hc->in, buf.data, buf.len);
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
    int n = receive(hc, now_ms() + hc->srv->opts.body_timeout_ms);
    if (n == -ETIMEDOUT)
        return -408;
    return n == 0 ? -ECONNRESET : n;
}

/* Answers what is queued first, then invites the body (RFC 9110 §10.1.1). 0 or -errno. */
static int send_continue(struct http_conn *hc)
{
    int rc = http_bytes_append_str(&hc->out, "HTTP/1.1 100 Continue\r\n\r\n");
    return rc < 0 ? rc : flush(hc);
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
            in_compact(hc);
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

static bool str_eq(struct roost_http_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && !memcmp(s.p, lit, n);
}

/* Sets req->path to the decoded, normalised path; 0, or -400 when it cannot be decoded. */
static int decode_path(struct http_conn *hc, roost_http_req *req)
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

/*
 * Decides who answers the request: 0 when the router found a handler (req->match), a status
 * the server answers itself (> 0, headers already added to res), or -errno.
 */
static int route_request(struct http_conn *hc, roost_http_req *req, roost_http_res *res)
{
    bool options = str_eq(req->head.method, "OPTIONS");
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
    int rc = decode_path(hc, req);
    if (rc < 0)
        return rc == -400 ? 400 : rc;
    rc = http_router_match(hc->srv->router, str_of(req->head.method), req->path, &req->match);
    if (rc == 405) {
        /* RFC 9110 §15.5.6: a 405 lists the methods the path has. An OPTIONS the application
         * did not route itself is answered the same way, with 200 (§9.3.7). */
        int arc = add_allow(hc, res, req->path);
        if (arc < 0)
            return arc;
        return options ? 200 : 405;
    }
    return rc;
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
    if (decode_path(hc, req) < 0)
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
static long body_begin(struct http_conn *hc, roost_http_req *req)
{
    req->body_off = 0;
    req->stream.on = false;
    if (!wants_stream(hc, req))
        return read_body(hc, req);
    uint64_t max = hc->srv->opts.max_stream_body_bytes;
    if (!req->head.chunked && max && req->head.content_length > max)
        return -413;
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
        int rc = s->done || stream_have_all(hc, s) ? 0 : send_continue(hc);
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
static int stream_end(struct http_conn *hc, roost_http_req *req, roost_http_res *res, int rc,
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
        bool stop = (!s->continued && !stream_have_all(hc, s)) || /* never invited: the client
                                                                    may hold the body back */
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
    return req->hc->in.cap + (req->stream.on ? req->stream.buf.len : 0);
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
    long used = body_begin(hc, req);
    if (used < 0) {
        if (used <= -400 && used > -600) {
            append_status(hc, (int)-used);
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
    roost_http_res res = {
        .hc = hc,
        .status = 200,
        .head_only = str_eq(req->head.method, "HEAD"),
        .close = !req->head.keep_alive, /* or a stop begun before the head (append_head) */
        .http10 = req->head.version_minor == 0,
        .headers = {hc->res_headers.p, 0, hc->res_headers.cap},
        .body = {hc->res_body.p, 0, hc->res_body.cap},
    };
    int route = route_request(hc, req, &res);
    int rc = route < 0 ? route : 0;
    if (route > 0) {
        res.status = route;
    } else if (route == 0) {
        rc = req->match.handler(req, &res, req->match.arg);
        if (rc < 0 && !res.streaming) {
            /* A failing handler: answer 500 and close; the reactor goes on. */
            res_file_drop(&res);
            res.status = 500;
            res.body.len = 0;
            res.headers.len = 0;
            res.close = true;
            rc = 0;
        }
    }
    if (req->stream.on)
        rc = stream_end(hc, req, &res, rc, &used);
    if (rc == 0 && !res.streaming)
        rc = append_response(hc, &res);
    else if (rc == 0 && !res.failed && !res.http10 && !res.head_only &&
             !status_bodiless(res.status))
        rc = http_bytes_append(&hc->out, "0\r\n\r\n", 5);
    if (res.has_file) {
        if (rc == 0 && !res.head_only && !status_bodiless(res.status))
            rc = send_file_body(hc, &res);
        res_file_drop(&res);
    }
    bool close = res.close || res.failed || rc < 0;
    *now = now_ns();
    uint64_t ns = *now - t0;
    http_count_latency(hc->counters, ns);
    if (srv->access_log) {
        bool no_body = res.head_only || status_bodiless(res.status);
        access_log(hc, req, res.status,
                   res.streaming  ? res.streamed
                   : no_body      ? 0
                   : res.has_file ? res.file_len
                                  : res.body.len,
                   ns);
    }
    /* keep the buffers (not their bytes) for the next response on this connection */
    hc->res_headers = res.headers;
    hc->res_body = res.body;
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

static void serve_conn(struct http_conn *hc)
{
    roost_http_server *srv = hc->srv;
    roost_http_req req;
    uint64_t deadline = 0; /* header deadline of the request being read, 0 while idle */
    for (;;) {
        uint64_t now = 0; /* ns; within a batch, the end of the request before */
        /* Answer every complete request already buffered. */
        while (in_n(hc)) {
            if (!now)
                now = now_ns();
            if (!deadline)
                deadline = now / 1000000u + srv->opts.header_timeout_ms;
            int rc = http_parse_head_more(in_p(hc), in_n(hc), &srv->limits, &req.head, &hc->head);
            if (rc == 0)
                break;
            if (rc < 0) {
                append_status(hc, -rc);
                if (srv->access_log)
                    access_log(hc, NULL, -rc, 0, 0);
                flush(hc);
                return;
            }
            req.hc = hc;
            req.body = (struct roost_str){NULL, 0};
            long used = serve_one(hc, &req, &now);
            if (used < 0) {
                flush(hc);
                return;
            }
            in_consume(hc, (size_t)used);
            deadline = 0;
            /*
             * Output over the cap: send it before answering more. A peer that pipelines
             * and never reads then holds at most the cap here (its requests wait in the
             * socket), and the send timeout ends it.
             */
            if (hc->out.len >= srv->opts.max_output_bytes && flush(hc) < 0)
                return;
        }
        /* One write for everything answered from this read. */
        if (flush(hc) < 0)
            return;
        atomic_store_explicit(&hc->idle, !in_n(hc), memory_order_relaxed);
        /*
         * Shutting down and between requests: stop reading. Bytes the peer already sent
         * are still delivered (a request in flight is answered); then recv sees EOF.
         */
        if (!in_n(hc) && atomic_load(&srv->draining))
            roost_conn_shutdown(hc->c, SHUT_RD);
        int n = receive(hc, in_n(hc) ? deadline : now_ms() + srv->opts.idle_timeout_ms);
        atomic_store_explicit(&hc->idle, false, memory_order_relaxed);
        if (n == -ETIMEDOUT && in_n(hc)) {
            append_status(hc, 408); /* a head that did not arrive in time: slowloris */
            flush(hc);
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

/* The spare buffer sets of c's reactor, or NULL when not running on it (run-on=pool). */
static struct reactor_conns *spares_here(roost_http_server *srv, roost_conn *c)
{
    roost_reactor *r = roost_conn_reactor(c);
    return roost_reactor_current() == r ? &srv->per_reactor[roost_reactor_id(r)] : NULL;
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
    struct reactor_conns *rc = spares_here(hc->srv, hc->c);
    if (!rc || !rc->nspare)
        return;
    struct conn_bufs *b = &rc->spare[--rc->nspare];
    hc->in = b->in;
    hc->out = b->out;
    hc->res_headers = b->res_headers;
    hc->res_body = b->res_body;
}

static bool spare_size(const struct roost_bytes *b)
{
    return b->cap <= SPARE_BUF_MAX;
}

static void conn_bufs_give(struct http_conn *hc)
{
    struct reactor_conns *rc = spares_here(hc->srv, hc->c);
    if (rc && rc->nspare < SPARE_BUFS && spare_size(&hc->in) && spare_size(&hc->out) &&
        spare_size(&hc->res_headers) && spare_size(&hc->res_body)) {
        struct conn_bufs *b = &rc->spare[rc->nspare++];
        b->in = (struct roost_bytes){hc->in.p, 0, hc->in.cap};
        b->out = (struct roost_bytes){hc->out.p, 0, hc->out.cap};
        b->res_headers = (struct roost_bytes){hc->res_headers.p, 0, hc->res_headers.cap};
        b->res_body = (struct roost_bytes){hc->res_body.p, 0, hc->res_body.cap};
        return;
    }
    struct conn_bufs b = {hc->in, hc->out, hc->res_headers, hc->res_body};
    conn_bufs_free(&b);
}

static int on_conn(roost_conn *c, void *arg)
{
    roost_http_server *srv = arg;
    struct http_conn hc = {.srv = srv, .c = c};
    roost_conn_set_send_timeout(c, srv->opts.send_timeout_ms);
    hc.counters = &srv->per_reactor[roost_reactor_id(roost_conn_reactor(c))].counters;
    if (srv->access_log)
        peer_name(c, hc.peer, sizeof(hc.peer));
    roost_http_count(&hc.counters->accepted, 1);
    atomic_fetch_add(&srv->live, 1);
    conn_link(&hc);
    conn_bufs_take(&hc);
    serve_conn(&hc);
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
    }
    http_access_log_close(s->access_log); /* writes what the reactors left buffered */
    free(s->per_reactor);
    free(s);
}

/*
 * HTTP responses: the status line and head (cached per reactor per second), bodies whole,
 * streamed in chunks or from a file, and sending what a connection has buffered.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http/conn.h"
#include "http/date.h"
#include "net/net.h"

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
bool http_status_bodiless(int status)
{
    return status < 200 || status == 204 || status == 304;
}

/* ---- response heads ------------------------------------------------------------------- */

/* How a head delimits its body (RFC 9112 §6): not at all (bodiless, or HTTP/1.0 streaming,
 * which closes), by Content-Length, or by the chunked coding. */
enum head_framing { FRAMING_NONE, FRAMING_LENGTH, FRAMING_CHUNKED };
/* Its Connection field. */
enum head_conn { CONN_DEFAULT, CONN_CLOSE, CONN_KEEP_ALIVE };

#define HEAD_MEMO_FIELDS 256 /* handler fields a remembered head may have */
#define HEAD_MEMO_TEXT 512   /* and its whole text */

/*
 * Per thread: the status line with Server and Date of a 200 response, and the last response
 * head written, whole ("HTTP/1.1 ..." to the blank line) with what it was made of.
 *
 * A keep-alive server mostly answers with heads that repeat within a second: the same status,
 * the handler's same fields, the same length. Such a head is then one copy, where building it
 * (the status line, Date, the fields, framing and Connection, each formatted and copied) was
 * a quarter of the server's instructions per request at pipelining depth 16. The memo is keyed
 * on everything the head is made of, compared byte for byte: a head that differs anywhere is
 * built afresh. The 200 status line is kept apart, for heads that differ only in their length
 * (formatting the status line per response was a fifth of the server's CPU at depth 16).
 */
struct head_memo {
    const roost_http_server *line_srv;
    uint64_t line_valid_until_ns; /* when the Date text in line goes stale (http_date_at) */
    size_t line_len;
    char line[160];

    const roost_http_server *srv; /* NULL: nothing remembered */
    uint64_t valid_until_ns;      /* its Date text's second ends */
    int status;
    unsigned char framing, conn;
    uint64_t length; /* Content-Length */
    size_t fields_len, len;
    char fields[HEAD_MEMO_FIELDS];
    char text[HEAD_MEMO_TEXT];
};

/* Not inlined: a handler's task may migrate, so no TLS address is kept across calls. */
__attribute__((noinline)) static struct head_memo *head_memo(void)
{
    static _Thread_local struct head_memo memo;
    return &memo;
}

/* What a head is made of, in the order it is written. */
struct head_parts {
    const char *line;
    size_t line_len;
    const char *fields;
    size_t fields_len;
    char framing[48];
    size_t framing_len;
    const char *conn;
    size_t conn_len;
};

/* "Content-Length: N\r\n" into buf (>= 40 bytes), without printf. Returns its length. */
static size_t content_length_line(char *buf, uint64_t n)
{
    static const char name[] = "Content-Length: ";
    memcpy(buf, name, sizeof(name) - 1);
    char *d = buf + sizeof(name) - 1;
    char digits[24];
    size_t k = 0;
    do {
        digits[k++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    while (k)
        *d++ = digits[--k];
    *d++ = '\r';
    *d++ = '\n';
    return (size_t)(d - buf);
}

/*
 * The parts of a head for res with the given framing, at monotonic time now; *valid_until is
 * when its Date text goes stale. line is room for a status line other than 200's.
 */
static void head_parts(struct head_memo *m, const roost_http_server *srv, const roost_http_res *res,
                       enum head_framing framing, uint64_t length, enum head_conn conn,
                       uint64_t now, char line[256], struct head_parts *p, uint64_t *valid_until)
{
    static const char conn_close[] = "Connection: close\r\n";
    static const char conn_keep[] = "Connection: keep-alive\r\n";
    static const char chunked[] = "Transfer-Encoding: chunked\r\n";
    const char *date = http_date_at(now, valid_until);
    if (res->status == 200) {
        if (m->line_srv != srv || m->line_valid_until_ns != *valid_until) {
            int n =
                snprintf(m->line, sizeof(m->line), "HTTP/1.1 200 OK\r\nServer: %s\r\nDate: %s\r\n",
                         srv->server_name, date);
            m->line_len = (size_t)n < sizeof(m->line) ? (size_t)n : sizeof(m->line) - 1;
            m->line_srv = srv;
            m->line_valid_until_ns = *valid_until;
        }
        p->line = m->line;
        p->line_len = m->line_len;
    } else {
        int n = snprintf(line, 256, "HTTP/1.1 %d %s\r\nServer: %s\r\nDate: %s\r\n", res->status,
                         reason(res->status), srv->server_name, date);
        p->line = line;
        p->line_len = (size_t)n < 256 ? (size_t)n : 255;
    }
    p->fields = res->headers.p;
    p->fields_len = res->headers.len;
    p->framing_len = 0;
    if (framing == FRAMING_LENGTH)
        p->framing_len = content_length_line(p->framing, length);
    else if (framing == FRAMING_CHUNKED)
        p->framing_len = (size_t)(http_put(p->framing, chunked, sizeof(chunked) - 1) - p->framing);
    p->conn = conn == CONN_CLOSE ? conn_close : conn == CONN_KEEP_ALIVE ? conn_keep : "";
    p->conn_len = conn == CONN_CLOSE        ? sizeof(conn_close) - 1
                  : conn == CONN_KEEP_ALIVE ? sizeof(conn_keep) - 1
                                            : 0;
}

static size_t head_parts_len(const struct head_parts *p)
{
    return p->line_len + p->fields_len + p->framing_len + p->conn_len + 2;
}

/* Writes the head at d; returns its end. */
static char *head_parts_put(char *d, const struct head_parts *p)
{
    d = http_put(d, p->line, p->line_len);
    d = http_put(d, p->fields, p->fields_len);
    d = http_put(d, p->framing, p->framing_len);
    d = http_put(d, p->conn, p->conn_len);
    return http_put(d, "\r\n", 2);
}

static bool head_memo_hit(const struct head_memo *m, const roost_http_server *srv,
                          const roost_http_res *res, enum head_framing framing, uint64_t length,
                          enum head_conn conn, uint64_t now)
{
    return m->srv == srv && now < m->valid_until_ns && m->status == res->status &&
           m->framing == framing && m->conn == conn && m->length == length &&
           m->fields_len == res->headers.len && http_same(m->fields, res->headers.p, m->fields_len);
}

/*
 * The memo missed (another status or length, a new second for Date): fills it with res's head,
 * or writes a head too large to remember straight into out, with the body. Returns 0 when the
 * memo holds the head now, 1 when out has head and body, or -errno. Not inlined: its buffers
 * would make the frame of every response's append_head deeper by half a kilobyte, which a
 * reactor serving hundreds of connections pays in stack cache lines on every request.
 */
__attribute__((noinline)) static int head_miss(struct head_memo *m, struct http_conn *hc,
                                               const roost_http_res *res, enum head_framing framing,
                                               uint64_t length, enum head_conn conn, uint64_t now,
                                               const char *body, size_t body_len)
{
    struct roost_bytes *out = &hc->b->out;
    char line[256];
    struct head_parts p;
    uint64_t valid_until;
    head_parts(m, hc->srv, res, framing, length, conn, now, line, &p, &valid_until);
    size_t len = head_parts_len(&p);
    if (len > sizeof(m->text) || p.fields_len > sizeof(m->fields)) {
        /* too large to remember: straight into the output (the memo stays as it was) */
        int rc = http_bytes_reserve(out, len + body_len);
        if (rc < 0)
            return rc;
        char *d = head_parts_put(out->p + out->len, &p);
        out->len = (size_t)(http_put(d, body, body_len) - out->p);
        return 1;
    }
    m->srv = hc->srv;
    m->valid_until_ns = valid_until;
    m->status = res->status;
    m->framing = (unsigned char)framing;
    m->conn = (unsigned char)conn;
    m->length = length;
    m->fields_len = p.fields_len;
    http_put(m->fields, p.fields, p.fields_len);
    m->len = (size_t)(head_parts_put(m->text, &p) - m->text);
    return 0;
}

/*
 * The head of res (the status line, the server's fields, the handler's, framing and the blank
 * line), then body_len bytes of body (0 for none), into the output; now is the time the
 * response is written (monotonic ns: the reactor's tick time on a reactor).
 */
static int append_head(struct http_conn *hc, roost_http_res *res, enum head_framing framing,
                       uint64_t length, uint64_t now, const char *body, size_t body_len)
{
    /*
     * Whether the connection stays open is decided here, as the head is written: a stop
     * that began while the handler ran still reaches this response's Connection header.
     */
    if (atomic_load_explicit(&hc->srv->draining, memory_order_relaxed))
        res->close = true;
    roost_http_count_status(hc->counters, res->status);
    enum head_conn conn = res->close ? CONN_CLOSE : res->http10 ? CONN_KEEP_ALIVE : CONN_DEFAULT;
    struct roost_bytes *out = &hc->b->out;
    struct head_memo *m = head_memo();
    if (!head_memo_hit(m, hc->srv, res, framing, length, conn, now)) {
        int rc = head_miss(m, hc, res, framing, length, conn, now, body, body_len);
        if (rc != 0)
            return rc < 0 ? rc : 0;
    }
    int rc = http_bytes_reserve(out, m->len + body_len);
    if (rc < 0)
        return rc;
    char *d = http_put(out->p + out->len, m->text, m->len);
    out->len = (size_t)(http_put(d, body, body_len) - out->p);
    return 0;
}

int http_append_response(struct http_conn *hc, roost_http_res *res, uint64_t now)
{
    bool bodiless = http_status_bodiless(res->status);
    bool body = !res->head_only && !bodiless;
    uint64_t length = bodiless ? 0 : res->has_file ? res->file_len : res->body.len;
    return append_head(hc, res, bodiless ? FRAMING_NONE : FRAMING_LENGTH, length, now,
                       body ? res->body.p : NULL, body ? res->body.len : 0);
}

/* A response of the server's own (errors): empty body, connection closes after it. */
int http_append_status(struct http_conn *hc, int status)
{
    roost_http_res res = {.hc = hc, .status = status, .close = true};
    return http_append_response(hc, &res, now_ns());
}

int http_flush(struct http_conn *hc)
{
    struct roost_bytes *out = &hc->b->out;
    if (!out->len)
        return 0;
    int rc = roost_conn_send(hc->c, out->p, out->len);
    if (rc >= 0)
        roost_http_count(&hc->counters->bytes_sent, out->len);
    out->len = 0;
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

/*
 * Whether "name: value" may be sent: a CR or LF in a value would end the field early and let
 * the rest inject a header (or a whole response), so RFC 9110 §5.5 values and §5.6.2 token
 * names only, and none of the fields the server writes itself.
 */
static bool field_ok(const char *name, size_t nn, const char *value, size_t vn)
{
    return http_token_valid(name, nn) && !server_owned(name, nn) &&
           http_field_value_valid(value, vn);
}

/* Writes "name: value\r\n" at d (room for nn + vn + 4 bytes); returns the end of the line. */
static char *field_line(char *d, const char *name, size_t nn, const char *value, size_t vn)
{
    d = http_put(d, name, nn);
    d = http_put(d, ": ", 2);
    d = http_put(d, value, vn);
    return http_put(d, "\r\n", 2);
}

int roost_http_res_header(roost_http_res *res, const char *name, const char *value)
{
    if (!name || !value)
        return -EINVAL;
    size_t nn = strlen(name), vn = strlen(value);
    if (!field_ok(name, nn, value, vn)) /* checked first: a refused field takes no room */
        return -EINVAL;
    struct roost_bytes *h = &res->headers;
    int rc = http_bytes_reserve(h, nn + vn + 4);
    if (rc < 0)
        return rc;
    h->len = (size_t)(field_line(h->p + h->len, name, nn, value, vn) - h->p);
    return 0;
}

int roost_http_field_init(roost_http_field *f, const char *name, const char *value)
{
    f->len = 0;
    if (!name || !value)
        return -EINVAL;
    size_t nn = strlen(name), vn = strlen(value);
    if (nn + vn + 4 > sizeof(f->line))
        return -ENAMETOOLONG;
    if (!field_ok(name, nn, value, vn))
        return -EINVAL;
    f->len = (size_t)(field_line(f->line, name, nn, value, vn) - f->line);
    return 0;
}

int roost_http_res_field(roost_http_res *res, const roost_http_field *f)
{
    if (!f->len || f->len > sizeof(f->line))
        return -EINVAL; /* not initialised, or its roost_http_field_init failed */
    return http_bytes_append(&res->headers, f->line, f->len);
}

/* Closes the file of a response that will not send it. */
void http_res_file_drop(roost_http_res *res)
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
    http_res_file_drop(res);
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
int http_send_file_body(struct http_conn *hc, roost_http_res *res)
{
    uint64_t off = res->file_off;
    size_t left = res->file_len;
    if (left > hc->srv->opts.file_copy_max) {
        int rc = http_flush(hc);
        if (rc == 0)
            rc = roost_conn_send_file(hc->c, res->file_fd, (off_t)off, left);
        if (rc == 0)
            roost_http_count(&hc->counters->bytes_sent, left);
        return rc;
    }
    struct roost_bytes *out = &hc->b->out;
    int rc = http_bytes_reserve(out, left);
    while (rc == 0 && left) {
        int n =
            net_file_read(roost_conn_reactor(hc->c), res->file_fd, out->p + out->len, left, off);
        if (n <= 0)
            return n < 0 ? n : -ENODATA; /* truncated meanwhile: the length is promised */
        out->len += (size_t)n;
        off += (uint64_t)n;
        left -= (size_t)n;
    }
    return rc;
}

int roost_http_res_body(roost_http_res *res, const void *data, size_t len)
{
    http_res_file_drop(res);
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
        hc->res_begun = true;
        /* HTTP/1.0 has no chunked coding: the body is delimited by closing. */
        if (res->http10)
            res->close = true;
        enum head_framing framing =
            res->http10 || http_status_bodiless(res->status) ? FRAMING_NONE : FRAMING_CHUNKED;
        rc = append_head(hc, res, framing, 0, now_ns(), NULL, 0);
    }
    if (rc == 0 && len && !res->head_only && !http_status_bodiless(res->status)) {
        if (!res->http10) {
            char size[32];
            int n = snprintf(size, sizeof(size), "%zx\r\n", len);
            rc = http_bytes_append(&hc->b->out, size, (size_t)n);
        }
        if (rc == 0)
            rc = http_bytes_append(&hc->b->out, data, len);
        if (rc == 0)
            res->streamed += len;
        if (rc == 0 && !res->http10)
            rc = http_bytes_append(&hc->b->out, "\r\n", 2);
    }
    if (rc == 0)
        rc = http_flush(hc);
    if (rc < 0)
        res->failed = true;
    return rc;
}

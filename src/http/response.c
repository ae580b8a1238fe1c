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

/* The status line with Server and Date: the returned text, *len bytes (line is room for a
 * status other than 200). */
static const char *status_line(struct http_conn *hc, int status, char line[256], size_t *len)
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
        *len = c->len;
        return c->text;
    }
    int n = snprintf(line, 256, "HTTP/1.1 %d %s\r\nServer: %s\r\nDate: %s\r\n", status,
                     reason(status), hc->srv->server_name, date);
    *len = (size_t)n < 256 ? (size_t)n : 255;
    return line;
}

/*
 * Status line, the server's headers, the handler's, framing, the blank line and then body
 * (body_len bytes, 0 for none) into the output: sized once, copied piece by piece.
 */
static int append_head(struct http_conn *hc, roost_http_res *res, const char *framing,
                       size_t framing_len, const char *body, size_t body_len)
{
    static const char conn_close[] = "Connection: close\r\n";
    static const char conn_keep[] = "Connection: keep-alive\r\n";
    /*
     * Whether the connection stays open is decided here, as the head is written: a stop
     * that began while the handler ran still reaches this response's Connection header.
     */
    if (atomic_load_explicit(&hc->srv->draining, memory_order_relaxed))
        res->close = true;
    roost_http_count_status(hc->counters, res->status);
    char line[256];
    size_t line_len;
    const char *status = status_line(hc, res->status, line, &line_len);
    const char *conn = res->close ? conn_close : res->http10 ? conn_keep : "";
    size_t conn_len = res->close    ? sizeof(conn_close) - 1
                      : res->http10 ? sizeof(conn_keep) - 1
                                    : 0;
    int rc = http_bytes_reserve(hc->out, line_len + res->headers.len + framing_len + conn_len +
                                              2 + body_len);
    if (rc < 0)
        return rc;
    char *d = hc->out->p + hc->out->len;
    d = http_put(d, status, line_len);
    d = http_put(d, res->headers.p, res->headers.len);
    d = http_put(d, framing, framing_len);
    d = http_put(d, conn, conn_len);
    d = http_put(d, "\r\n", 2);
    d = http_put(d, body, body_len);
    hc->out->len = (size_t)(d - hc->out->p);
    return 0;
}

/* "Content-Length: N\r\n" into buf (>= 40 bytes), without printf. Returns its length. */
static size_t content_length_line(char *buf, size_t n)
{
    static const char name[] = "Content-Length: ";
    memcpy(buf, name, sizeof(name) - 1);
    char *d = buf + sizeof(name) - 1;
    if (n < 10) { /* small bodies are the common case: no digit loop */
        *d++ = (char)('0' + n);
    } else if (n < 100) {
        *d++ = (char)('0' + n / 10);
        *d++ = (char)('0' + n % 10);
    } else {
        char digits[24];
        size_t k = 0;
        do {
            digits[k++] = (char)('0' + n % 10);
            n /= 10;
        } while (n);
        while (k)
            *d++ = digits[--k];
    }
    *d++ = '\r';
    *d++ = '\n';
    return (size_t)(d - buf);
}

int http_append_response(struct http_conn *hc, roost_http_res *res)
{
    char framing[48];
    bool bodiless = http_status_bodiless(res->status);
    size_t flen =
        bodiless ? 0 : content_length_line(framing, res->has_file ? res->file_len : res->body.len);
    bool body = !res->head_only && !bodiless;
    return append_head(hc, res, framing, flen, body ? res->body.p : NULL,
                       body ? res->body.len : 0);
}

/* A response of the server's own (errors): empty body, connection closes after it. */
int http_append_status(struct http_conn *hc, int status)
{
    roost_http_res res = {.hc = hc, .status = status, .close = true};
    return http_append_response(hc, &res);
}

int http_flush(struct http_conn *hc)
{
    if (!hc->out->len)
        return 0;
    int rc = roost_conn_send(hc->c, hc->out->p, hc->out->len);
    if (rc >= 0)
        roost_http_count(&hc->counters->bytes_sent, hc->out->len);
    hc->out->len = 0;
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
    int rc = http_bytes_reserve(hc->out, left);
    while (rc == 0 && left) {
        int n = net_file_read(roost_conn_reactor(hc->c), res->file_fd, hc->out->p + hc->out->len,
                              left, off);
        if (n <= 0)
            return n < 0 ? n : -ENODATA; /* truncated meanwhile: the length is promised */
        hc->out->len += (size_t)n;
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
        const char *framing =
            res->http10 || http_status_bodiless(res->status) ? "" : "Transfer-Encoding: chunked\r\n";
        rc = append_head(hc, res, framing, strlen(framing), NULL, 0);
    }
    if (rc == 0 && len && !res->head_only && !http_status_bodiless(res->status)) {
        if (!res->http10) {
            char size[32];
            int n = snprintf(size, sizeof(size), "%zx\r\n", len);
            rc = http_bytes_append(hc->out, size, (size_t)n);
        }
        if (rc == 0)
            rc = http_bytes_append(hc->out, data, len);
        if (rc == 0)
            res->streamed += len;
        if (rc == 0 && !res->http10)
            rc = http_bytes_append(hc->out, "\r\n", 2);
    }
    if (rc == 0)
        rc = http_flush(hc);
    if (rc < 0)
        res->failed = true;
    return rc;
}

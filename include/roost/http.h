/* roost — the HTTP/1.1 server: router, requests, responses. */
#ifndef ROOST_HTTP_H
#define ROOST_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <roost/runtime.h>
#include <roost/common.h>

ROOST_BEGIN_DECLS

/* A span of bytes, not NUL-terminated; p is NULL when the item is absent. */
struct roost_str {
    const char *p;
    size_t n;
};

typedef struct roost_http_router roost_http_router; /* long-lived, read-only once serving */
typedef struct roost_http_server roost_http_server; /* long-lived */
typedef struct roost_http_req roost_http_req;       /* short-lived: valid during the handler */
typedef struct roost_http_res roost_http_res;       /* short-lived: valid during the handler */

/*
 * A handler runs in its connection's task on the reactor that accepted it: it may sleep,
 * offload and await waiters, and after each await it is still on that reactor. It returns
 * 0, or -errno to have the server answer 500 (if nothing was sent yet) and close.
 */
typedef int (*roost_http_handler)(roost_http_req *req, roost_http_res *res, void *arg);

int roost_http_router_create(roost_http_router **out);
void roost_http_router_free(roost_http_router *r);

/*
 * Adds a route: method ("GET", ...; NULL for any) and a path pattern whose segments are
 * literal or `:name` parameters ("/users/:id"); the last may be `*name`, a parameter
 * holding the rest of the path, slashes included, at least one byte: "/static" + "/" +
 * "*file" matches "/static/a/b.css" with file "a/b.css". Patterns are matched against the
 * percent-decoded, dot-segment-free path (see roost_http_req_path). First match in insertion order
 * wins. A path that matches only other methods' routes is answered 405 with an Allow field listing
 * them; OPTIONS on such a path (and OPTIONS *) is answered 200 with Allow, unless a route
 * takes OPTIONS there; CONNECT is answered 501. Returns 0, -EINVAL for a bad pattern, or
 * -ENOMEM.
 */
int roost_http_route(roost_http_router *r, const char *method, const char *pattern,
                     roost_http_handler h, void *arg);

/*
 * Adds a streaming route: as roost_http_route, except that the server does not read the
 * request body before h runs. h reads it with roost_http_req_read as it arrives (Content-Length
 * or chunked), with backpressure: nothing more is received from the socket until h asks, so a
 * connection holds about one receive buffer whatever the body's size. Such a body is limited by
 * max_stream_body_bytes, not max_body_bytes; Expect: 100-continue is answered at h's first read.
 * A body h leaves unread is read and discarded after it returns if at most max_body_bytes remain,
 * else the connection closes after the response. Returns as roost_http_route.
 */
int roost_http_route_stream(roost_http_router *r, const char *method, const char *pattern,
                            roost_http_handler h, void *arg);

/* Access log line formats. */
enum roost_http_access_log_format {
    ROOST_HTTP_ACCESS_LOG_COMMON, /* Common Log Format: host - - [date] "request" status bytes */
    ROOST_HTTP_ACCESS_LOG_JSON,   /* one JSON object per line */
};

struct roost_http_server_opts {
    const char *host;           /* default "127.0.0.1" */
    uint16_t port;              /* 0: ephemeral (see roost_http_server_port) */
    unsigned max_conns;         /* per reactor; 0: the runtime's max-conns switch */
    size_t max_head_bytes;      /* request line + fields; above -> 431 (default 8192) */
    size_t max_body_bytes;      /* above -> 413 (default 1 MiB) */
    uint64_t header_timeout_ms; /* a request head must arrive within this (default 10000) */
    uint64_t idle_timeout_ms;   /* keep-alive wait for the next request (default 60000) */
    uint64_t body_timeout_ms;   /* a request body must make progress within this, else 408
                                   (default 10000; each receive that brings bytes restarts it) */
    uint64_t send_timeout_ms;   /* a response send that makes no progress this long closes
                                   the connection (default 30000) */
    size_t max_output_bytes;    /* responses buffered before they are sent and before more
                                   pipelined requests are read (default 64 KiB) */
    size_t file_copy_max;       /* roost_http_res_file bodies up to this are read into the
                                   output and sent with the head; larger ones go out with
                                   roost_conn_send_file (default 32 KiB) */
    /* The write that ends a batch of answers goes to the ring with the reactor's next enter,
     * and the task goes on to its next receive without waiting for it (default true); false:
     * send(2) at once (the ring only for what the socket does not take). See docs/net.md. */
    bool send_behind;
    const char *server_name; /* the Server header (default "roost") */
    bool reuse_port;         /* share the port with other processes (roost_listen_opts) */
    /* Access log, one line per request: NULL (default) for none, "-" for standard output,
     * else a file opened for appending. Lines are written by a background thread, never by a
     * reactor; if it falls behind by more than 4 MiB per reactor, lines are dropped. */
    const char *access_log;
    enum roost_http_access_log_format access_log_format;
    /* Bodies of streaming routes (roost_http_route_stream): a larger Content-Length is answered
     * 413 before the handler runs, a chunked body that grows past it fails the handler's read
     * with -EMSGSIZE. 0 (the default): no limit. */
    uint64_t max_stream_body_bytes;
};

void roost_http_server_opts_init(struct roost_http_server_opts *o);

/* Starts serving router on every reactor of rt. Returns 0 and *out, or -errno. */
int roost_http_server_start(roost_runtime *rt, const struct roost_http_server_opts *o,
                            roost_http_router *router, roost_http_server **out);

uint16_t roost_http_server_port(const roost_http_server *s);

/*
 * Graceful shutdown, from a plain thread: stops accepting, lets requests in flight finish
 * (answered with Connection: close), closes idle keep-alive connections, and waits up to
 * grace_ms for every connection to close. Returns 0, or -ETIMEDOUT if some remained.
 */
int roost_http_server_shutdown(roost_http_server *s, uint64_t grace_ms);

/* Frees the server after shutdown and after the runtime stopped. */
void roost_http_server_free(roost_http_server *s);

/* ---- requests ---- */

struct roost_str roost_http_req_method(const roost_http_req *req);
/* The request-target as sent. */
struct roost_str roost_http_req_target(const roost_http_req *req);
/*
 * The path the router matched: percent-decoded and with dot-segments removed ("/a/%62/../c"
 * is "/a/c"; "//" is kept). A target whose path cannot be decoded safely ("%2F", a ".." above
 * the root) is answered 400 before any handler runs. "*" for OPTIONS *.
 */
struct roost_str roost_http_req_path(const roost_http_req *req);
/* The query after "?", still percent-encoded; p NULL without "?". See roost_http_query_*. */
struct roost_str roost_http_req_query(const roost_http_req *req);
/* ---- query strings (RFC 3986 §3.4, pairs as in application/x-www-form-urlencoded) ---- */

/*
 * Iterates the pairs of query (roost_http_req_query): start with *pos = 0; each call returns
 * true with the next pair's name and value, still percent-encoded ("a" alone has an empty
 * value), or false at the end. Pairs split on "&", name and value on the first "="; empty
 * pairs are skipped.
 */
bool roost_http_query_next(struct roost_str query, size_t *pos, struct roost_str *name,
                           struct roost_str *value);

/* Decodes one name or value ("+" is a space, %XX a byte) into out (cap bytes, not
 * NUL-terminated). Returns the decoded length, -EINVAL for a bad escape, -ENOSPC if it does
 * not fit. */
int roost_http_query_decode(struct roost_str in, char *out, size_t cap);

/*
 * Finds the first pair whose decoded name is name and decodes its value into out (cap bytes,
 * NUL-terminated). Returns the value's length, -ENOENT if no pair has that name, -ENOSPC if
 * it does not fit, -EINVAL for a bad escape in the value.
 */
int roost_http_query_get(struct roost_str query, const char *name, char *out, size_t cap);

/* ---- requests (continued) ---- */

/* 0 for HTTP/1.0, 1 for HTTP/1.1. */
int roost_http_req_version_minor(const roost_http_req *req);
/* The first header named name (case-insensitive); false if absent. */
bool roost_http_req_header(const roost_http_req *req, const char *name, struct roost_str *out);
/* A `:name` (or `*name`) path parameter of the matched route, decoded (a part of
 * roost_http_req_path);
 * false if the route has none of that name. */
bool roost_http_req_param(const roost_http_req *req, const char *name, struct roost_str *out);
/* The whole request body (empty if none); read before the handler runs, within limits.
 * Empty on a streaming route (roost_http_route_stream): read that body with roost_http_req_read. */
struct roost_str roost_http_req_body(const roost_http_req *req);

/*
 * Reads the next piece of the request body, from the handler's task: on a streaming route it
 * waits until body bytes arrive (on the connection's reactor: the handler is still there after
 * the call) and sets *chunk to them, chunked framing removed; *chunk is borrowed until the next
 * call or until the handler returns. On any other route the first call gives the whole body
 * (roost_http_req_body). The first call on a request with Expect: 100-continue sends the
 * interim 100 response, so read before writing the response.
 * Returns the chunk's length (> 0), 0 at the end of the body (at once for a request without
 * one, such as GET or HEAD), or -errno: -EPROTO for malformed chunked framing (the server then
 * answers 400), -EMSGSIZE over max_stream_body_bytes (413) or trailers over the head limits
 * (431), -ETIMEDOUT when no byte came within body_timeout_ms (408), -ECONNRESET when the peer
 * closed before the body's end. After an error every later call returns the same error; the
 * server answers the status given (if the handler has not started a roost_http_res_write
 * response, whatever else it set) and closes the connection.
 */
int roost_http_req_read(roost_http_req *req, struct roost_str *chunk);

/* ---- responses ---- */

/*
 * Sets the status (default 200). Returns 0, or -EINVAL (status unchanged) outside 100..999.
 * A 1xx, 204 or 304 response is sent without Content-Length and without body, whatever the
 * handler gave as body (RFC 9110 §6.4.1).
 */
int roost_http_res_status(roost_http_res *res, int status);
/*
 * Adds a header (both strings copied). Returns 0, -ENOMEM, or -EINVAL when name is not a
 * token, value holds CR, LF, NUL or another control byte but HTAB (RFC 9110 §5.5), or name is
 * one the server writes itself: Content-Length, Transfer-Encoding, Connection, Date, Server.
 */
int roost_http_res_header(roost_http_res *res, const char *name, const char *value);
/*
 * A header field checked once, for a handler that adds it to every response: the check of
 * roost_http_res_header is made by roost_http_field_init, and roost_http_res_field then only
 * copies the line (at pipelining depth 16 the checks of one Content-Type per response were 5%
 * of the server's CPU). Initialise before serving; read-only afterwards, so one field may be
 * shared by every reactor.
 */
#define ROOST_HTTP_FIELD_MAX 256
typedef struct roost_http_field {
    size_t len;                      /* of line; 0 until roost_http_field_init succeeds */
    char line[ROOST_HTTP_FIELD_MAX]; /* "name: value\r\n" */
} roost_http_field;

/* Returns 0, -EINVAL for what roost_http_res_header refuses, or -ENAMETOOLONG when the line
 * "name: value\r\n" is longer than ROOST_HTTP_FIELD_MAX bytes. */
int roost_http_field_init(roost_http_field *f, const char *name, const char *value);
/* Adds f to the response. 0, -ENOMEM, or -EINVAL when f was not initialised. */
int roost_http_res_field(roost_http_res *res, const roost_http_field *f);
/* Sets the whole body (copied) and its Content-Length. 0 or -ENOMEM. */
int roost_http_res_body(roost_http_res *res, const void *data, size_t len);
/*
 * Sets the body to len bytes of the file fd from offset off, with Content-Length len. fd
 * becomes the server's (also on error): after the handler returns, the server writes the
 * head, then sends the file without blocking the reactor (a small file read into the output
 * with the other pipelined responses, a larger one after them with roost_conn_send_file:
 * see file_copy_max) and closes fd. The file must not shrink meanwhile, else the connection
 * is closed short. HEAD and 304 send no body. A later
 * roost_http_res_body replaces it. Returns 0, or -EINVAL (fd < 0, off < 0, or after
 * roost_http_res_write).
 */
int roost_http_res_file(roost_http_res *res, int fd, off_t off, size_t len);

/*
 * Streams: the first call sends the head with Transfer-Encoding: chunked, every call sends
 * one chunk now (awaiting the send). The response ends when the handler returns.
 * Returns 0 or -errno (the connection is then closed).
 */
int roost_http_res_write(roost_http_res *res, const void *data, size_t len);

/* ---- metrics ---- */

/*
 * A handler that answers with the server's metrics in the Prometheus text format: requests by
 * status class, open, accepted and closed connections, bytes received and sent, a request
 * latency histogram, build info, and every reactor counter (roost_stats) per reactor. Route it
 * where operators expect it: roost_http_route(router, "GET", "/metrics", roost_http_metrics,
 * NULL). arg is unused. The counters behind it cost a plain add on the reactor thread.
 */
int roost_http_metrics(roost_http_req *req, roost_http_res *res, void *arg);

/* The reactor the connection (and so the handler) runs on. */
roost_reactor *roost_http_req_reactor(const roost_http_req *req);

ROOST_END_DECLS

#endif

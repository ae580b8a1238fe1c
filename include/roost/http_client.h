/* roost — the HTTP/1.1 client: upstream calls from tasks, keep-alive pools per reactor. */
#ifndef ROOST_HTTP_CLIENT_H
#define ROOST_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <roost/http.h>
#include <roost/runtime.h>
#include <roost/common.h>

ROOST_BEGIN_DECLS

/*
 * A client: long-lived, shared by every task of one runtime. Each reactor keeps its own
 * keep-alive connections per origin (scheme, host, port), touched only on that reactor's
 * thread, so a call takes no lock. A call is an await like any other: the task is back on
 * its reactor when it returns.
 */
typedef struct roost_http_client roost_http_client;

struct roost_http_client_opts {
    unsigned max_idle_per_origin; /* idle keep-alive connections kept per origin per reactor
                                     (default 32; 0 after init: no reuse) */
    uint64_t idle_timeout_ms;     /* an idle connection older than this is closed, not reused
                                     (default 30000) */
    uint64_t connect_timeout_ms;  /* per connect, over all addresses of the name (default 5000) */
    uint64_t timeout_ms;          /* the whole exchange: connect, send, response (default 30000;
                                     0: none) */
    size_t max_head_bytes;        /* status line + fields; above -> -EMSGSIZE (default 16384) */
    size_t max_body_bytes;        /* a stored body; above -> -EMSGSIZE (default 16 MiB) */
};

void roost_http_client_opts_init(struct roost_http_client_opts *o);

/* Creates a client for tasks of rt (o NULL: defaults). 0 and *out, or -ENOMEM/-EINVAL. */
int roost_http_client_create(roost_runtime *rt, const struct roost_http_client_opts *o,
                             roost_http_client **out);

/*
 * From a plain thread, while rt still runs: closes every idle connection (a task on each
 * reactor) and frees the client. No call may be in flight. After rt has stopped it only
 * frees memory (the runtime closed the sockets).
 */
void roost_http_client_free(roost_http_client *c);

/* A request header, copied into the request as "name: value". */
struct roost_http_client_header {
    const char *name;
    const char *value;
};

/*
 * A streamed request body: returns the next piece's length (> 0) with *data valid until the
 * next call, 0 at the end, or -errno to abort the call (the connection is closed).
 */
typedef long (*roost_http_body_reader)(void *arg, const void **data);

/* A streamed response body: gets each decoded piece in order; 0, or -errno to abort. */
typedef int (*roost_http_body_sink)(void *arg, const void *data, size_t len);

struct roost_http_client_req {
    const char *method; /* NULL: "GET" */
    const char *url;    /* "http://host[:port]/path?query"; host a name or literal, "[v6]" */
    const struct roost_http_client_header *headers; /* Host and the framing are the client's */
    size_t nheaders;
    const void *body; /* sent whole with Content-Length */
    size_t body_len;
    roost_http_body_reader body_reader; /* or streamed, with Transfer-Encoding: chunked */
    void *body_arg;
    roost_http_body_sink on_body; /* NULL: the body is stored in the response */
    void *sink_arg;
};

/*
 * A response: caller-owned, reusable (a call reuses its buffers, so steady-state calls do
 * not allocate). Initialise once with roost_http_client_res_init, free with _res_free.
 */
struct roost_http_client_res {
    int status;
    int version_minor;
    struct roost_str reason;
    unsigned header_count;
    struct {
        struct roost_str name, value;
    } headers[64];
    struct roost_str body; /* the stored body (empty when streamed to on_body) */
    bool reused;           /* the call ran on a pooled keep-alive connection */
    struct {
        char *p;
        size_t len, cap;
    } _head, _body;
};

void roost_http_client_res_init(struct roost_http_client_res *res);
void roost_http_client_res_free(struct roost_http_client_res *res);

/* The first response header named name (case-insensitive); false if absent. */
bool roost_http_client_res_header(const struct roost_http_client_res *res, const char *name,
                                  struct roost_str *out);

/*
 * From a task: sends req and reads the whole response into *res. Interim 1xx responses are
 * skipped; HEAD, 204 and 304 responses have no body; bodies framed by Content-Length, chunked
 * coding or the connection's close are read (the last one is never reused). A request that
 * finds its pooled connection closed by the server is retried once on a new connection when
 * its method is idempotent and its body is not streamed.
 * Returns 0 (any status: a 500 is a response, not an error) or -errno, and then the
 * connection is closed, never reused: -EINVAL bad URL or request, -EPROTONOSUPPORT a scheme
 * other than http, -ENOENT a name that does not resolve, -ECONNREFUSED, -ETIMEDOUT (connect
 * or whole-exchange timeout), -ECONNRESET (the server closed or reset before the response
 * was complete), -EPROTO (a malformed response), -EMSGSIZE (head or stored body over the
 * limit), -ECANCELED (the task was cancelled), or the sink's or reader's error.
 */
int roost_http_client_request(roost_http_client *c, const struct roost_http_client_req *req,
                              struct roost_http_client_res *res);

/* roost_http_client_request with a GET of url and nothing else. */
int roost_http_client_get(roost_http_client *c, const char *url, struct roost_http_client_res *res);

ROOST_END_DECLS

#endif

/* roost — the HTTP/1.1 server: router, requests, responses. */
#ifndef ROOST_HTTP_H
#define ROOST_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <roost/runtime.h>

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
 * literal or `:name` parameters ("/users/:id"). First match in insertion order wins. A path
 * that matches only other methods' routes is answered 405. Returns 0, -EINVAL for a bad
 * pattern, or -ENOMEM.
 */
int roost_http_route(roost_http_router *r, const char *method, const char *pattern,
                     roost_http_handler h, void *arg);

struct roost_http_server_opts {
    const char *host;           /* default "127.0.0.1" */
    uint16_t port;              /* 0: ephemeral (see roost_http_server_port) */
    unsigned max_conns;         /* per reactor; 0: the runtime's max-conns switch */
    size_t max_head_bytes;      /* request line + fields; above -> 431 (default 8192) */
    size_t max_body_bytes;      /* above -> 413 (default 1 MiB) */
    uint64_t header_timeout_ms; /* a request head must arrive within this (default 10000) */
    uint64_t idle_timeout_ms;   /* keep-alive wait for the next request (default 60000) */
    const char *server_name;    /* the Server header (default "roost") */
    bool reuse_port;            /* share the port with other processes (roost_listen_opts) */
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
struct roost_str roost_http_req_target(const roost_http_req *req);
struct roost_str roost_http_req_path(const roost_http_req *req);
struct roost_str roost_http_req_query(const roost_http_req *req);
/* 0 for HTTP/1.0, 1 for HTTP/1.1. */
int roost_http_req_version_minor(const roost_http_req *req);
/* The first header named name (case-insensitive); false if absent. */
bool roost_http_req_header(const roost_http_req *req, const char *name, struct roost_str *out);
/* A `:name` path parameter of the matched route; false if the route has none of that name. */
bool roost_http_req_param(const roost_http_req *req, const char *name, struct roost_str *out);
/* The whole request body (empty if none); read before the handler runs, within limits. */
struct roost_str roost_http_req_body(const roost_http_req *req);

/* ---- responses ---- */

/* Sets the status (default 200). */
void roost_http_res_status(roost_http_res *res, int status);
/* Adds a header (copied). Server, Date, Content-Length and Connection are the server's. */
int roost_http_res_header(roost_http_res *res, const char *name, const char *value);
/* Sets the whole body (copied) and its Content-Length. 0 or -ENOMEM. */
int roost_http_res_body(roost_http_res *res, const void *data, size_t len);
/*
 * Streams: the first call sends the head with Transfer-Encoding: chunked, every call sends
 * one chunk now (awaiting the send). The response ends when the handler returns.
 * Returns 0 or -errno (the connection is then closed).
 */
int roost_http_res_write(roost_http_res *res, const void *data, size_t len);

/* The reactor the connection (and so the handler) runs on. */
roost_reactor *roost_http_req_reactor(const roost_http_req *req);

#endif

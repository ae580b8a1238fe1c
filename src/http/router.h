/* Internal: route matching for the HTTP server. */
#ifndef ROOST_HTTP_ROUTER_H
#define ROOST_HTTP_ROUTER_H

#include <roost/http.h>

#define ROOST_HTTP_MAX_PARAMS 8

struct roost_http_match {
    roost_http_handler handler;
    void *arg;
    bool stream; /* a roost_http_route_stream route: its body is not read before the handler */
    unsigned nparams;
    struct {
        struct roost_str name, value; /* value points into the (decoded) path matched */
    } params[ROOST_HTTP_MAX_PARAMS];
};

/*
 * Percent-decodes and normalises an origin-form path (RFC 3986 §2.1, §5.2.4, §6.2.2) into
 * out, which has room for n bytes (the result is never longer). Dot-segments "." and ".."
 * are removed, also when percent-encoded; empty segments ("//") are kept, so "/a//b" is not
 * "/a/b". Returns the length, or -EINVAL for a path that does not start with "/", a ".." that
 * climbs above the root, a bad escape, or an escape that decodes to "/" (%2F would split a
 * segment after routing decided where segments are), NUL, CR or LF.
 */
int http_path_normalize(const char *raw, size_t n, char *out);

/* True when http_path_normalize would return raw unchanged (no "%", no dot-segment):
 * the common case, which then needs no copy. */
bool http_path_is_normal(const char *raw, size_t n);

/*
 * Writes the Allow field value for path into buf (cap bytes, NUL-terminated): the methods of
 * the routes matching path, in route order, HEAD after GET when GET is routed, and OPTIONS
 * (the server answers it). path.p NULL: every method routed anywhere (for "OPTIONS *").
 * Returns the length; a list that does not fit is cut after its last whole method.
 */
size_t http_router_allow(const roost_http_router *r, struct roost_str path, char *buf, size_t cap);

/*
 * Finds the route for method and path. Returns 0 and fills *m, 404 when no route has this
 * path, 405 when only other methods' routes do. HEAD falls back to GET routes.
 */
int http_router_match(const roost_http_router *r, struct roost_str method, struct roost_str path,
                      struct roost_http_match *m);

/* True when some route of r was added with roost_http_route_stream. */
bool http_router_has_stream(const roost_http_router *r);

#endif

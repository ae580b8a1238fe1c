/* Internal: route matching for the HTTP server. */
#ifndef ROOST_HTTP_ROUTER_H
#define ROOST_HTTP_ROUTER_H

#include <roost/http.h>

#define ROOST_HTTP_MAX_PARAMS 8

struct roost_http_match {
    roost_http_handler handler;
    void *arg;
    unsigned nparams;
    struct {
        struct roost_str name, value; /* value points into the request's path */
    } params[ROOST_HTTP_MAX_PARAMS];
};

/*
 * Finds the route for method and path. Returns 0 and fills *m, 404 when no route has this
 * path, 405 when only other methods' routes do. HEAD falls back to GET routes.
 */
int roost_http_router_match(const roost_http_router *r, struct roost_str method,
                            struct roost_str path, struct roost_http_match *m);

#endif

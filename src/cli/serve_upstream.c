/*
 * `roost serve --upstream URL`: GET /upstream fetches that one configured URL with the HTTP
 * client and answers with its status and body, from the handler's own reactor (the response
 * names it in X-Roost-Reactor). Only the configured origin and path are ever requested:
 * nothing of the incoming request reaches the upstream, so this is no open proxy.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <roost.h>

#include "cli/commands.h"
#include "http/client.h"

static const char *upstream_url;
static roost_http_client *upstream_client;

int roost_serve_upstream_flag(const char *url)
{
    struct http_url u;
    int rc = http_url_parse(url, &u);
    if (rc == 0)
        upstream_url = url;
    return rc;
}

static int upstream(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    struct roost_http_client_res up;
    roost_http_client_res_init(&up);
    int rc = roost_http_client_get(upstream_client, upstream_url, &up);
    char id[16];
    snprintf(id, sizeof(id), "%u", roost_reactor_id(roost_reactor_current()));
    roost_http_res_header(res, "X-Roost-Reactor", id);
    if (rc < 0) {
        char msg[128];
        int n = snprintf(msg, sizeof(msg), "upstream %s: %s\n", upstream_url, strerror(-rc));
        roost_http_res_status(res, rc == -ETIMEDOUT ? 504 : 502);
        rc = roost_http_res_body(res, msg, (size_t)n);
    } else {
        struct roost_str type;
        char value[128];
        if (roost_http_client_res_header(&up, "Content-Type", &type) && type.n < sizeof(value)) {
            snprintf(value, sizeof(value), "%.*s", (int)type.n, type.p);
            roost_http_res_header(res, "Content-Type", value);
        }
        roost_http_res_status(res, up.status);
        rc = roost_http_res_body(res, up.body.p, up.body.n);
    }
    roost_http_client_res_free(&up);
    return rc;
}

int roost_serve_upstream_start(roost_runtime *rt, roost_http_router *router)
{
    if (!upstream_url)
        return 0;
    int rc = roost_http_client_create(rt, NULL, &upstream_client);
    if (rc == 0)
        rc = roost_http_route(router, "GET", "/upstream", upstream, NULL);
    return rc;
}

void roost_serve_upstream_stop(void)
{
    roost_http_client_free(upstream_client);
    upstream_client = NULL;
}

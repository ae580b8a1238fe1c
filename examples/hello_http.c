/*
 * A small HTTP service: GET /hello/:name answers after awaiting a pool job, and is still on
 * its reactor when it answers. Serves on 127.0.0.1:8081 until SIGINT or SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <roost.h>

static int shout(void *arg)
{
    char *s = arg; /* runs on a pool thread */
    for (; *s; s++)
        if (*s >= 'a' && *s <= 'z')
            *s = (char)(*s - 'a' + 'A');
    return 0;
}

static int hello(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)arg;
    struct roost_str name;
    char upper[64];
    if (!roost_http_req_param(req, "name", &name) || name.n >= sizeof(upper)) {
        roost_http_res_status(res, 400);
        return 0;
    }
    memcpy(upper, name.p, name.n);
    upper[name.n] = 0;
    int rc = roost_offload(shout, upper); /* await the pool; we resume on our reactor */
    if (rc < 0)
        return rc; /* the server answers 500 */
    char body[128];
    int n = snprintf(body, sizeof(body), "hello, %s (from reactor %u)\n", upper,
                     roost_reactor_id(roost_http_req_reactor(req)));
    roost_http_res_header(res, "Content-Type", "text/plain");
    return roost_http_res_body(res, body, (size_t)n);
}

int main(void)
{
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL); /* every roost thread inherits this */

    roost_http_router *router;
    roost_runtime *rt;
    roost_http_server *srv;
    if (roost_http_router_create(&router) < 0 ||
        roost_http_route(router, "GET", "/hello/:name", hello, NULL) < 0 ||
        roost_runtime_start(NULL, &rt) < 0)
        return 1;
    struct roost_http_server_opts opts;
    roost_http_server_opts_init(&opts);
    opts.port = 8081;
    if (roost_http_server_start(rt, &opts, router, &srv) < 0)
        return 1;
    printf("try: curl http://127.0.0.1:8081/hello/world\n");

    int sig;
    sigwait(&stop, &sig);
    roost_http_server_shutdown(srv, 5000); /* finish in-flight requests */
    roost_runtime_stop(rt);
    roost_http_server_free(srv);
    roost_runtime_destroy(rt);
    roost_http_router_free(router);
    return 0;
}

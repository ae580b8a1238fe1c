/*
 * The mission's smoke test: a handler records its reactor, calls another service through the
 * HTTP client, sleeps, offloads, calls again, and answers with the reactor it found itself
 * on after each await. Under resume=inline and resume=posted every one is its own reactor.
 * With affinity off the task continues where each completion happened: ring completions
 * and timers on the reactor, the offload on a pool worker; from then on the task belongs to
 * the pool's context, so the second call comes back to the pool too.
 */
#include "test_client_support.h"

#include <roost/http_client.h>

/* What the handlers use, published with a release store once the server runs: the
 * requests reach the handlers through sockets, which carry no ordering the sanitizers see. */
struct smoke {
    roost_http_client *client;
    char upstream_url[64];
};
static struct smoke smoke;
static _Atomic(struct smoke *) published;

static struct smoke *handlers_view(void)
{
    return atomic_load_explicit(&published, memory_order_acquire);
}

static int where(void)
{
    roost_reactor *r = roost_reactor_current();
    return r ? (int)roost_reactor_id(r) : -1;
}

static int upstream(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    return roost_http_res_body(res, "up", 2);
}

static int pool_work(void *arg)
{
    (void)arg;
    return 7;
}

/* Calls the upstream and checks its answer; -EPROTO if it was not "up". */
static int call_upstream(void)
{
    struct roost_http_client_res res;
    roost_http_client_res_init(&res);
    struct smoke *sm = handlers_view();
    int rc = roost_http_client_get(sm->client, sm->upstream_url, &res);
    if (rc == 0 && (res.status != 200 || res.body.n != 2 || memcmp(res.body.p, "up", 2) != 0))
        rc = -EPROTO;
    roost_http_client_res_free(&res);
    return rc;
}

static int front(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    int seen[5];
    roost_reactor *home = roost_reactor_current();
    seen[0] = where();
    int rc = call_upstream();
    seen[1] = where();
    if (rc == 0)
        rc = roost_sleep(5);
    seen[2] = where();
    if (rc == 0)
        rc = roost_offload(pool_work, NULL) == 7 ? 0 : -EIO;
    seen[3] = where();
    if (rc == 0)
        rc = call_upstream();
    seen[4] = where();
    /* With affinity off the task may end up off its reactor; the server's per-reactor
     * connection bookkeeping is the reactor's own, so go back there explicitly. */
    if (home && roost_reactor_current() != home)
        (void)roost_hop(roost_reactor_ctx(home));
    if (rc < 0)
        return rc;
    char body[64];
    int n =
        snprintf(body, sizeof(body), "%d %d %d %d %d", seen[0], seen[1], seen[2], seen[3], seen[4]);
    return roost_http_res_body(res, body, (size_t)n);
}

struct front_call {
    char url[64];
    int rc, status;
    int seen[5];
};

static int call_front(void *arg)
{
    struct front_call *k = arg;
    struct roost_http_client_res res;
    roost_http_client_res_init(&res);
    /* A new connection per call: with affinity off a connection's task continues wherever
     * its last request left it, so only a fresh one is known to start on its reactor. */
    static const struct roost_http_client_header close[] = {{"Connection", "close"}};
    struct roost_http_client_req req = {.url = k->url, .headers = close, .nheaders = 1};
    k->rc = roost_http_client_request(handlers_view()->client, &req, &res);
    k->status = res.status;
    char body[64] = "";
    snprintf(body, sizeof(body), "%.*s", (int)res.body.n, res.body.p ? res.body.p : "");
    if (sscanf(body, "%d %d %d %d %d", &k->seen[0], &k->seen[1], &k->seen[2], &k->seen[3],
               &k->seen[4]) != 5)
        k->rc = k->rc ? k->rc : -EPROTO;
    if (k->rc)
        printf("# status %d body \"%s\"\n", k->status, body);
    roost_http_client_res_free(&res);
    return 0;
}

/* Starts a server with /front and /upstream under cfg, asks /front n times. */
static void run_smoke(struct roost_config *cfg, void (*check)(const struct front_call *))
{
    cfg->pool_threads = 2;
    roost_runtime *rt = test_runtime(2, cfg);
    roost_http_router *router;
    assert_int_equal(roost_http_router_create(&router), 0);
    assert_int_equal(roost_http_route(router, "GET", "/front", front, NULL), 0);
    assert_int_equal(roost_http_route(router, "GET", "/upstream", upstream, NULL), 0);
    struct roost_http_server_opts o;
    roost_http_server_opts_init(&o);
    roost_http_server *srv;
    assert_int_equal(roost_http_server_start(rt, &o, router, &srv), 0);
    assert_int_equal(roost_http_client_create(rt, NULL, &smoke.client), 0);
    unsigned port = roost_http_server_port(srv);
    snprintf(smoke.upstream_url, sizeof(smoke.upstream_url), "http://127.0.0.1:%u/upstream", port);
    atomic_store_explicit(&published, &smoke, memory_order_release);
    for (unsigned i = 0; i < 8; i++) { /* connections land on both reactors */
        struct front_call k = {0};
        snprintf(k.url, sizeof(k.url), "http://127.0.0.1:%u/front", port);
        assert_int_equal(test_task_on(rt, i % 2, call_front, &k), 0);
        assert_int_equal(k.rc, 0);
        assert_int_equal(k.status, 200);
        check(&k);
    }
    atomic_store_explicit(&published, NULL, memory_order_relaxed);
    roost_http_client_free(smoke.client);
    roost_http_server_shutdown(srv, 1000);
    roost_runtime_stop(rt);
    roost_http_server_free(srv);
    roost_runtime_destroy(rt);
    roost_http_router_free(router);
}

static void all_on_home(const struct front_call *k)
{
    assert_true(k->seen[0] >= 0);
    for (int i = 1; i < 5; i++)
        assert_int_equal(k->seen[i], k->seen[0]);
}

static void the_handler_stays_on_its_reactor_under_resume_inline(void **state)
{
    (void)state;
    struct roost_config cfg;
    roost_config_init(&cfg);
    cfg.resume = ROOST_RESUME_INLINE;
    run_smoke(&cfg, all_on_home);
}

static void the_handler_stays_on_its_reactor_under_resume_posted(void **state)
{
    (void)state;
    struct roost_config cfg;
    roost_config_init(&cfg);
    cfg.resume = ROOST_RESUME_POSTED;
    run_smoke(&cfg, all_on_home);
}

static void off_where_completed(const struct front_call *k)
{
    assert_true(k->seen[0] >= 0);
    assert_int_equal(k->seen[1], k->seen[0]); /* ring completions: on the reactor */
    assert_int_equal(k->seen[2], k->seen[0]); /* the timer: on the reactor */
    assert_int_equal(k->seen[3], -1);         /* the offload: on the pool worker */
    assert_int_equal(k->seen[4], -1);         /* the task now belongs to the pool's context */
}

static void with_affinity_off_the_handler_continues_where_completed(void **state)
{
    (void)state;
    struct roost_config cfg;
    roost_config_init(&cfg);
    cfg.affinity = false;
    run_smoke(&cfg, off_where_completed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_handler_stays_on_its_reactor_under_resume_inline),
        cmocka_unit_test(the_handler_stays_on_its_reactor_under_resume_posted),
        cmocka_unit_test(with_affinity_off_the_handler_continues_where_completed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

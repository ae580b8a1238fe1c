/*
 * `roost serve`: the demo HTTP server `make run` starts. Endpoints follow TechEmpower's
 * rules for /plaintext and /json; /delay/:ms and /offload show continuation affinity (their
 * responses name the reactor that answered); /metrics is the library's exporter
 * (roost_http_metrics).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <roost.h>
#include <roost/http.h>

#include "cli/commands.h"
#include "cli/serve_db.h"

static roost_runtime *runtime;

static int reply(roost_http_res *res, const char *type, const char *body, size_t len)
{
    int rc = roost_http_res_header(res, "Content-Type", type);
    return rc ? rc : roost_http_res_body(res, body, len);
}

/* The connection's reactor: the handler may run on a pool worker (run-on=pool, affinity=off). */
static int name_reactor(roost_http_req *req, roost_http_res *res)
{
    char id[16];
    snprintf(id, sizeof(id), "%u", roost_reactor_id(roost_http_req_reactor(req)));
    return roost_http_res_header(res, "X-Roost-Reactor", id);
}

static int plaintext(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    static const char hello[] = "Hello, World!";
    return reply(res, "text/plain", hello, sizeof(hello) - 1);
}

static int json(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    /* Serialised per request, as the benchmark's rules ask. */
    char body[64];
    int n = snprintf(body, sizeof(body), "{\"message\":\"%s\"}", "Hello, World!");
    return reply(res, "application/json", body, (size_t)n);
}

static int delay(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)arg;
    struct roost_str v;
    char digits[16];
    if (!roost_http_req_param(req, "ms", &v) || v.n == 0 || v.n >= sizeof(digits)) {
        roost_http_res_status(res, 400);
        return 0;
    }
    memcpy(digits, v.p, v.n);
    digits[v.n] = 0;
    char *end;
    unsigned long ms = strtoul(digits, &end, 10);
    if (*end || ms > 60000) {
        roost_http_res_status(res, 400);
        return reply(res, "text/plain", "delay must be 0..60000 ms\n", 26);
    }
    int rc = roost_sleep(ms);
    if (rc < 0)
        return rc;
    char body[64];
    int n = snprintf(body, sizeof(body), "slept %lu ms\n", ms);
    rc = name_reactor(req, res);
    return rc ? rc : reply(res, "text/plain", body, (size_t)n);
}

/* Work worth moving off the reactor: a few thousand rounds of an integer hash. */
static int pool_work(void *arg)
{
    uint64_t *h = arg;
    for (int i = 0; i < 20000; i++)
        *h = (*h ^ (uint64_t)i) * 0x100000001b3ull;
    return 0;
}

static int offload(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    uint64_t h = 0xcbf29ce484222325ull;
    int rc = roost_offload(pool_work, &h);
    if (rc < 0)
        return rc;
    char body[64];
    int n = snprintf(body, sizeof(body), "%016" PRIx64 "\n", h);
    rc = name_reactor(req, res);
    return rc ? rc : reply(res, "text/plain", body, (size_t)n);
}

/* The cheapest offload: a round trip through the pool with no work, so that `roost bench`
 * measures the hop itself rather than the hashing. */
static int nothing(void *arg)
{
    (void)arg;
    return 0;
}

static int offload0(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    static const char ok[] = "offloaded\n";
    int rc = roost_offload(nothing, NULL);
    return rc < 0 ? rc : reply(res, "text/plain", ok, sizeof(ok) - 1);
}

/* One yield per request: the task goes through its context's queue once before answering. */
static int yield(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    static const char ok[] = "yielded\n";
    int rc = roost_yield();
    return rc < 0 ? rc : reply(res, "text/plain", ok, sizeof(ok) - 1);
}

static int index_page(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    static const char page[] =
        "roost serve\n\n"
        "GET /plaintext   Hello, World! (text/plain)\n"
        "GET /json        {\"message\":\"Hello, World!\"}\n"
        "GET /delay/:ms   sleeps ms milliseconds on the reactor, then answers\n"
        "GET /offload     hashes on the worker pool, answers from the home reactor\n"
        "GET /offload0    an empty job on the worker pool (the hop alone)\n"
        "GET /yield       yields once to the task's context, then answers\n"
        "GET /metrics     server and reactor counters, Prometheus text format\n\n"
        "/delay and /offload name the answering reactor in X-Roost-Reactor.\n";
    return reply(res, "text/plain", page, sizeof(page) - 1);
}

void roost_cmd_serve_help(void)
{
    printf("  --host ADDR               listen address (default 127.0.0.1)\n"
           "  --port N                  listen port (default 8080; 0 picks one)\n"
           "  --max-head-bytes N        request head limit, above -> 431 (default 8192)\n"
           "  --max-body-bytes N        request body limit, above -> 413 (default 1048576)\n"
           "  --header-timeout-ms N     a head must arrive within N ms (default 10000)\n"
           "  --idle-timeout-ms N       keep-alive idle limit (default 60000)\n"
           "  --body-timeout-ms N       body progress limit, else 408 (default 10000)\n"
           "  --send-timeout-ms N       send progress limit, else close (default 30000)\n"
           "  --grace-ms N              shutdown grace for in-flight requests (default 30000)\n"
           "  --access-log PATH|-       one line per request to PATH or stdout (default off)\n"
           "  --access-log-format F     common (Common Log Format, default) or json\n"
           "  --log-level L             error, warn (default), info or debug\n"
           "  --upstream URL            add GET /upstream: fetches URL (http://) with the client\n"
           "  --pg URL                  PostgreSQL for /db, /queries, /fortunes, /updates, /async-db\n"
           "                            (default: DATABASE_URL; none: no database endpoints)\n"
           "  --pg-pool N               database connections in all (default DATABASE_MAX_CONN,\n"
           "                            else 2 per reactor)\n"
           "  --pg-client ring|offload  libpq on the reactors (default) or blocking on the pool\n\n");
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || v > max || s[0] == '-')
        return false;
    *out = v;
    return true;
}

int roost_cmd_serve(const struct roost_config *cfg, int argc, char **argv)
{
    struct roost_http_server_opts o;
    roost_http_server_opts_init(&o);
    o.port = 8080;
    uint64_t grace_ms = 30000;
    enum roost_log_level level;
    struct serve_db_opts db = {.url = getenv("DATABASE_URL")};
    for (int i = 1; i < argc; i++) {
        char flag[32];
        const char *eq = strchr(argv[i], '=');
        const char *v;
        if (eq) {
            snprintf(flag, sizeof(flag), "%.*s", (int)(eq - argv[i]), argv[i]);
            v = eq + 1;
        } else if (i + 1 < argc) {
            snprintf(flag, sizeof(flag), "%s", argv[i]);
            v = argv[++i];
        } else {
            fprintf(stderr, "roost serve: %s needs a value (see --help)\n", argv[i]);
            return 2;
        }
        uint64_t n = 0;
        bool ok = true;
        if (!strcmp(flag, "--host"))
            o.host = v;
        else if (!strcmp(flag, "--port") && (ok = parse_u64(v, 65535, &n)))
            o.port = (uint16_t)n;
        else if (!strcmp(flag, "--max-head-bytes") && (ok = parse_u64(v, 1 << 20, &n)))
            o.max_head_bytes = n;
        else if (!strcmp(flag, "--max-body-bytes") && (ok = parse_u64(v, 1ull << 34, &n)))
            o.max_body_bytes = n;
        else if (!strcmp(flag, "--header-timeout-ms") && (ok = parse_u64(v, 86400000, &n)))
            o.header_timeout_ms = n;
        else if (!strcmp(flag, "--idle-timeout-ms") && (ok = parse_u64(v, 86400000, &n)))
            o.idle_timeout_ms = n;
        else if (!strcmp(flag, "--body-timeout-ms") && (ok = parse_u64(v, 86400000, &n) && n))
            o.body_timeout_ms = n;
        else if (!strcmp(flag, "--send-timeout-ms") && (ok = parse_u64(v, 86400000, &n) && n))
            o.send_timeout_ms = n;
        else if (!strcmp(flag, "--grace-ms") && (ok = parse_u64(v, 86400000, &n)))
            grace_ms = n;
        else if (!strcmp(flag, "--access-log"))
            o.access_log = v;
        else if (!strcmp(flag, "--access-log-format") &&
                 (ok = !strcmp(v, "common") || !strcmp(v, "json")))
            o.access_log_format =
                !strcmp(v, "json") ? ROOST_HTTP_ACCESS_LOG_JSON : ROOST_HTTP_ACCESS_LOG_COMMON;
        else if (!strcmp(flag, "--log-level") && (ok = roost_log_level_parse(v, &level) == 0))
            roost_log_set_level(level);
        else if (!strcmp(flag, "--upstream"))
            ok = roost_serve_upstream_flag(v) == 0;
        else if (!strcmp(flag, "--pg"))
            db.url = v;
        else if (!strcmp(flag, "--pg-pool") && (ok = parse_u64(v, 65535, &n) && n > 0))
            db.pool_size = (unsigned)n;
        else if (!strcmp(flag, "--pg-client") && (ok = !strcmp(v, "ring") || !strcmp(v, "offload")))
            db.offload = !strcmp(v, "offload");
        else if (ok) {
            fprintf(stderr, "roost serve: unknown flag %s (see --help)\n", flag);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "roost serve: bad value for %s: %s\n", flag, v);
            return 2;
        }
    }

    /* Every thread inherits this mask; the main thread takes the signals with sigwait. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    roost_http_router *router;
    int rc = roost_http_router_create(&router);
    if (rc == 0)
        rc = roost_http_route(router, "GET", "/plaintext", plaintext, NULL);
    if (rc == 0)
        rc = roost_http_route(router, "GET", "/json", json, NULL);
    if (rc == 0)
        rc = roost_http_route(router, "GET", "/delay/:ms", delay, NULL);
    if (rc == 0)
        rc = roost_http_route(router, "GET", "/offload", offload, NULL);
    if (rc == 0)
        rc = roost_http_route(router, "GET", "/offload0", offload0, NULL);
    if (rc == 0)
        rc = roost_http_route(router, "GET", "/yield", yield, NULL);
    if (rc == 0)
        rc = roost_http_route(router, "GET", "/metrics", roost_http_metrics, NULL);
    if (rc == 0)
        rc = roost_http_route(router, "GET", "/", index_page, NULL);
    if (rc == 0)
        rc = serve_db_routes(router, &db);
    if (rc < 0) {
        fprintf(stderr, "roost serve: cannot build the router: %s\n", strerror(-rc));
        return 1;
    }
    rc = roost_runtime_start(cfg, &runtime);
    if (rc < 0) {
        fprintf(stderr, "roost serve: cannot start the runtime: %s\n", strerror(-rc));
        roost_http_router_free(router);
        return 1;
    }
    rc = serve_db_start(runtime);
    if (rc < 0) {
        fprintf(stderr, "roost serve: cannot set up the database client: %s\n", strerror(-rc));
        roost_runtime_destroy(runtime);
        roost_http_router_free(router);
        return 1;
    }
    roost_http_server *srv;
    rc = roost_serve_upstream_start(runtime, router);
    if (rc == 0)
        rc = roost_http_server_start(runtime, &o, router, &srv);
    if (rc < 0) {
        fprintf(stderr, "roost serve: cannot listen on %s:%u: %s\n", o.host, o.port, strerror(-rc));
        serve_db_stop();
        roost_runtime_destroy(runtime);
        roost_http_router_free(router);
        return 1;
    }
    printf("roost serve: listening on http://%s:%u/ (%u reactors, ring %s)\n", o.host,
           roost_http_server_port(srv), roost_runtime_reactor_count(runtime),
           roost_reactor_ring_mode(roost_runtime_reactor(runtime, 0)));
    fflush(stdout);

    int sig = 0;
    sigwait(&stop, &sig);
    printf("roost serve: %s, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    fflush(stdout);
    rc = roost_http_server_shutdown(srv, grace_ms);
    if (rc < 0)
        fprintf(stderr, "roost serve: some connections outlived the %llu ms grace\n",
                (unsigned long long)grace_ms);
    roost_serve_upstream_stop();
    serve_db_stop();
    roost_runtime_stop(runtime);
    roost_http_server_free(srv);
    roost_runtime_destroy(runtime);
    roost_http_router_free(router);
    return 0;
}

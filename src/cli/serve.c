/*
 * `roost serve`: the demo HTTP server `make run` starts. Endpoints follow TechEmpower's
 * rules for /plaintext and /json; /delay/:ms and /offload show continuation affinity (their
 * responses name the reactor that answered); /metrics is the library's exporter
 * (roost_http_metrics).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <roost.h>
#include <roost/http.h>
#include <roost/http_static.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/serve_arena.h"
#include "cli/serve_db.h"

static roost_runtime *runtime;

/* The Content-Type fields of the answers, checked once (serve_fields_init). */
static roost_http_field text_plain, app_json;

static int serve_fields_init(void)
{
    int rc = roost_http_field_init(&text_plain, "Content-Type", "text/plain");
    return rc ? rc : roost_http_field_init(&app_json, "Content-Type", "application/json");
}

static int reply(roost_http_res *res, const roost_http_field *type, const char *body, size_t len)
{
    int rc = roost_http_res_field(res, type);
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
    return reply(res, &text_plain, hello, sizeof(hello) - 1);
}

static int json(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    /* Serialised per request, as the benchmark's rules ask. */
    char body[64];
    int n = snprintf(body, sizeof(body), "{\"message\":\"%s\"}", "Hello, World!");
    return reply(res, &app_json, body, (size_t)n);
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
        return reply(res, &text_plain, "delay must be 0..60000 ms\n", 26);
    }
    int rc = roost_sleep(ms);
    if (rc < 0)
        return rc;
    char body[64];
    int n = snprintf(body, sizeof(body), "slept %lu ms\n", ms);
    rc = name_reactor(req, res);
    return rc ? rc : reply(res, &text_plain, body, (size_t)n);
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
    return rc ? rc : reply(res, &text_plain, body, (size_t)n);
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
    return rc < 0 ? rc : reply(res, &text_plain, ok, sizeof(ok) - 1);
}

/* One yield per request: the task goes through its context's queue once before answering. */
static int yield(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    static const char ok[] = "yielded\n";
    int rc = roost_yield();
    return rc < 0 ? rc : reply(res, &text_plain, ok, sizeof(ok) - 1);
}

/* arg: the --static-dir handle, NULL without the flag. */
static int index_page(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req;
    static const char static_line[] =
        "GET /static/{file}  the files under --static-dir (ETag, Range, .br/.gz siblings)\n";
    static const char page[] =
        "roost serve\n\n"
        "GET /plaintext   Hello, World! (text/plain)\n"
        "GET /json        {\"message\":\"Hello, World!\"}\n"
        "GET /delay/:ms   sleeps ms milliseconds on the reactor, then answers\n"
        "GET /offload     hashes on the worker pool, answers from the home reactor\n"
        "GET /offload0    an empty job on the worker pool (the hop alone)\n"
        "GET /yield       yields once to the task's context, then answers\n"
        "GET /metrics     server and reactor counters, Prometheus text format\n"
        "GET /pipeline    ok (HttpArena)\n"
        "GET|POST /baseline11?a=&b=  the sum of a, b (and the body's integer for POST)\n"
        "GET /json/:count?m=  the first count (1..50) dataset items, total = price*quantity*m\n"
        "POST /upload     the number of body bytes read (streamed, never held whole)\n\n"
        "/delay and /offload name the answering reactor in X-Roost-Reactor.\n";
    char text[sizeof(page) + sizeof(static_line)];
    size_t head = strstr(page, "\n\n/delay") + 1 - page; /* the routes, without the note */
    size_t n = head;
    memcpy(text, page, head);
    if (arg) {
        memcpy(text + n, static_line, sizeof(static_line) - 1);
        n += sizeof(static_line) - 1;
    }
    memcpy(text + n, page + head, sizeof(page) - 1 - head);
    n += sizeof(page) - 1 - head;
    return reply(res, &text_plain, text, n);
}

/* `roost serve`'s own flags: the HTTP server's options, then the process's. */
struct serve_flags {
    struct roost_http_server_opts http;
    uint64_t grace_ms;
    enum roost_log_level log_level;
    const char *upstream;
    const char *dataset;
    const char *static_dir;
    struct serve_db_opts db;
};

/*
 * X(name, field, kind, default, min, max, values, help), as ROOST_CONFIG_SWITCHES; adding a
 * flag is one line here (see src/cli/options.h). Timeouts start at 1 ms: 0 would mean "the
 * library's default" to the server, which is not what a user writing 0 asks for.
 */
#define ROOST_SERVE_FLAGS(X)                                                                       \
    X("host", http.host, ROOST_OPT_TEXT, "127.0.0.1", 0, 0, "ADDR",                                \
      "listen address, an IPv4 or IPv6 literal")                                                   \
    X("port", http.port, ROOST_OPT_COUNT, "8080", 0, 65535, "N",                                   \
      "listen port; 0 picks a free one (printed at start)")                                        \
    X("reuse-port", http.reuse_port, ROOST_OPT_BOOL, "off", 0, 1, "on|off",                        \
      "share the port with other processes started with it (else: address in use)")                \
    X("max-head-bytes", http.max_head_bytes, ROOST_OPT_BYTES, "8k", 64, 1u << 20, "BYTES",         \
      "request line + header fields; larger heads get 431")                                        \
    X("max-body-bytes", http.max_body_bytes, ROOST_OPT_BYTES, "1m", 0, 1ull << 34, "BYTES",        \
      "request bodies; larger ones get 413")                                                       \
    X("max-stream-body-bytes", http.max_stream_body_bytes, ROOST_OPT_BYTES, "0", 0, 1ull << 40,    \
      "BYTES", "bodies of streaming routes (POST /upload), larger get 413; 0: no limit")           \
    X("header-timeout-ms", http.header_timeout_ms, ROOST_OPT_COUNT, "10000", 1, 86400000, "MS",    \
      "a request head must arrive within this of its first byte, else 408")                        \
    X("idle-timeout-ms", http.idle_timeout_ms, ROOST_OPT_COUNT, "60000", 1, 86400000, "MS",        \
      "how long a keep-alive connection may wait for its next request")                            \
    X("body-timeout-ms", http.body_timeout_ms, ROOST_OPT_COUNT, "10000", 1, 86400000, "MS",        \
      "a request body must make progress within this, else 408")                                   \
    X("send-timeout-ms", http.send_timeout_ms, ROOST_OPT_COUNT, "30000", 1, 86400000, "MS",        \
      "a send that makes no progress this long closes the connection")                             \
    X("grace-ms", grace_ms, ROOST_OPT_COUNT, "30000", 0, 86400000, "MS",                           \
      "on SIGTERM/SIGINT/SIGHUP: how long in-flight requests may take")                            \
    X("access-log", http.access_log, ROOST_OPT_TEXT, NULL, 0, 0, "PATH|-",                         \
      "one line per request, to PATH or standard output (-)")                                      \
    X("access-log-format", http.access_log_format, ROOST_OPT_ENUM, "common", 0, 1, "common|json",  \
      "Common Log Format or one JSON object per line")                                             \
    X("log-level", log_level, ROOST_OPT_ENUM, "warn", 0, 3, "error|warn|info|debug",               \
      "messages less severe than this are dropped")                                                \
    X("upstream", upstream, ROOST_OPT_TEXT, NULL, 0, 0, "URL",                                     \
      "add GET /upstream: fetches URL (http://) with the client")                                  \
    X("dataset", dataset, ROOST_OPT_TEXT, NULL, 0, 0, "PATH",                                      \
      "/json/:count's items (else ROOST_SERVE_DATASET, else data/arena-items.json)")               \
    X("static-dir", static_dir, ROOST_OPT_TEXT, NULL, 0, 0, "DIR",                                 \
      "add GET /static/{file}: the files under DIR (nothing outside it)")                          \
    X("send-behind", http.send_behind, ROOST_OPT_BOOL, "on", 0, 1, "on|off",                       \
      "a batch's answers go out with the reactor's next ring enter, not a send(2) of their own")   \
    X("file-copy-max", http.file_copy_max, ROOST_OPT_BYTES, "32k", 1, 1ull << 30, "BYTES",         \
      "files up to this size go out in their head's write, larger ones by sendfile or splice")     \
    X("pg", db.url, ROOST_OPT_TEXT, NULL, 0, 0, "URL",                                             \
      "PostgreSQL for /db, /queries, /fortunes, /updates, /async-db (default DATABASE_URL)")       \
    X("pg-pool", db.pool_size, ROOST_OPT_COUNT, NULL, 1, 65535, "N",                               \
      "database connections in all (default DATABASE_MAX_CONN, else 2 per reactor)")               \
    X("pg-client", db.offload, ROOST_OPT_ENUM, "ring", 0, 1, "ring|offload",                       \
      "libpq on the reactors, or blocking on the worker pool")

#define SERVE_OPTION_(...) ROOST_OPTION(struct serve_flags, __VA_ARGS__),
static const struct roost_option serve_options[] = {ROOST_SERVE_FLAGS(SERVE_OPTION_)};
#undef SERVE_OPTION_
#define SERVE_OPTION_COUNT (sizeof(serve_options) / sizeof(serve_options[0]))

void roost_cmd_serve_help(void)
{
    printf("serve flags (also as environment variables ROOST_<NAME>, e.g. ROOST_PORT):\n");
    roost_cli_options_help(serve_options, SERVE_OPTION_COUNT);
    printf("\nSIGTERM, SIGINT and SIGHUP stop gracefully (exit 0, also when the grace\n"
           "runs out); a second one exits at once (exit 1).\n\n");
    printf("GET / lists the endpoints. POST /upload answers the number of body bytes it read,\n"
           "streaming (a body of any size, never held whole). /json/:count's dataset comes from\n"
           "--dataset (or ROOST_DATASET), else ROOST_SERVE_DATASET, else data/arena-items.json;\n"
           "a given file that is missing or malformed stops the start (exit 1).\n\n");
}

/*
 * The stop signals are blocked in every thread (threads inherit the mask) and taken with
 * sigwait: the first one starts the graceful stop on the main thread; this thread takes
 * the next one and ends the process at once, whatever the stop is waiting for.
 */
static void *exit_on_second_signal(void *arg)
{
    const sigset_t *set = arg;
    int sig = 0;
    if (sigwait(set, &sig) == 0) {
        static const char msg[] = "roost serve: second stop signal, exiting now\n";
        (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
        _exit(1);
    }
    return NULL;
}

int roost_cmd_serve(const struct roost_config *cfg, int argc, char **argv)
{
    struct serve_flags f;
    memset(&f, 0, sizeof(f));
    roost_http_server_opts_init(&f.http);
    f.db.url = getenv("DATABASE_URL"); /* --pg (or ROOST_PG) overrides it */
    size_t bad = 0;
    if (roost_options_defaults(serve_options, SERVE_OPTION_COUNT, &f, &bad) < 0) {
        /* A line of ROOST_SERVE_FLAGS whose default is outside its own range. */
        fprintf(stderr, "roost serve: the default '%s' of --%s is not accepted by its flag\n",
                serve_options[bad].def, serve_options[bad].name);
        return 2;
    }
    argc = roost_cli_options("roost serve", serve_options, SERVE_OPTION_COUNT, &f, argc, argv);
    if (argc < 0)
        return 2;
    if (argc > 1) {
        fprintf(stderr, "roost serve: unknown flag or argument %s (see roost serve --help)\n",
                argv[1]);
        return 2;
    }
    struct roost_http_server_opts o = f.http;
    struct serve_db_opts db = f.db;
    roost_log_set_level(f.log_level);
    if (f.upstream && roost_serve_upstream_flag(f.upstream) < 0) {
        fprintf(stderr, "roost serve: --upstream '%s': not an http:// URL\n", f.upstream);
        return 2;
    }

    /* Every thread inherits this mask; the main thread takes the signals with sigwait. */
    static sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (serve_arena_dataset(f.dataset) < 0)
        return 1;

    roost_http_static *files = NULL;
    if (f.static_dir) {
        int src = roost_http_static_open(f.static_dir, NULL, &files);
        if (src < 0) {
            fprintf(stderr, "roost serve: --static-dir '%s': %s\n", f.static_dir, strerror(-src));
            return 2;
        }
    }
    roost_http_router *router;
    int rc = serve_fields_init();
    if (rc == 0)
        rc = roost_http_router_create(&router);
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
        rc = roost_http_route(router, "GET", "/", index_page, files);
    if (rc == 0 && files)
        rc = roost_http_route(router, "GET", "/static/*file", roost_http_static_handler, files);
    if (rc == 0)
        rc = serve_db_routes(router, &db);
    if (rc == 0)
        rc = serve_arena_routes(router);
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
    printf("roost serve: %s, shutting down (grace %llu ms)\n",
           sig == SIGINT   ? "SIGINT"
           : sig == SIGHUP ? "SIGHUP"
                           : "SIGTERM",
           (unsigned long long)f.grace_ms);
    fflush(stdout);
    pthread_t second;
    if (pthread_create(&second, NULL, exit_on_second_signal, &stop) == 0)
        pthread_detach(second);
    rc = roost_http_server_shutdown(srv, f.grace_ms);
    if (rc < 0) {
        /*
         * The grace is the whole wait: stopping the runtime now would give the handlers
         * still running another drain period. Their clients see the connection close.
         */
        fprintf(stderr, "roost serve: requests still running after the %llu ms grace, exiting\n",
                (unsigned long long)f.grace_ms);
        fflush(stdout);
        _exit(0); /* the stop went as configured: the grace is the operator's limit */
    }
    roost_serve_upstream_stop();
    serve_db_stop();
    roost_runtime_stop(runtime);
    roost_http_server_free(srv);
    roost_runtime_destroy(runtime);
    roost_http_router_free(router);
    roost_http_static_close(files);
    return 0;
}

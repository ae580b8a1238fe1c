/*
 * Heap allocations per request: the server's hot path must not allocate once a keep-alive
 * connection is warm. The test binary defines malloc and friends itself, counting calls and
 * forwarding to glibc's __libc_* entry points, so no LD_PRELOAD is needed. Sanitizers
 * replace malloc themselves, so under them the case skips.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <roost/http.h>

#include "support.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ALLOCS_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define ALLOCS_SANITIZED 1
#endif
#endif

#ifdef ALLOCS_SANITIZED
static const bool allocs_sanitized = true;
#else
static const bool allocs_sanitized = false;
#endif

static atomic_ulong allocs;

/*
 * Only the threads that serve and send requests count: the reactor (marked by the handler)
 * and the test's own. The runtime's pool workers, idle here, initialise their schedulers
 * when they first get a CPU, which on a loaded machine can fall inside a measured window.
 */
static _Thread_local bool counts;

#ifndef ALLOCS_SANITIZED
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t k, size_t n);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

void *malloc(size_t n)
{
    if (counts)
        atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
    return __libc_malloc(n);
}

void *calloc(size_t k, size_t n)
{
    if (counts)
        atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
    return __libc_calloc(k, n);
}

void *realloc(void *p, size_t n)
{
    if (counts)
        atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
    return __libc_realloc(p, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    if (counts)
        atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
    return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (counts)
        atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
    void *p = __libc_memalign(align, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

void free(void *p)
{
    __libc_free(p);
}
#endif

#define WARMUP 1000
#define MEASURED 10000

static double time_scale(void)
{
    const char *s = getenv("ROOST_TEST_TIME_SCALE");
    double v = s ? strtod(s, NULL) : 1.0;
    return v > 0 ? v : 1.0;
}

static int plaintext(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    counts = true; /* the reactor thread */
    int rc = roost_http_res_header(res, "Content-Type", "text/plain");
    return rc ? rc : roost_http_res_body(res, "Hello, World!", 13);
}

static size_t response_len; /* every response is the same size: learnt from the first */

/* `depth` requests on fd in one write and their whole responses (head and 13-byte body);
 * false on any surprise. No cmocka call here: it would allocate inside the counted window. */
static bool round_trip_n(int fd, int depth)
{
    static const char req[] = "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n";
    const size_t rn = sizeof(req) - 1;
    char out[16 * sizeof(req)];
    if (depth < 1 || depth > 16 || (depth > 1 && !response_len))
        return false;
    for (int i = 0; i < depth; i++)
        memcpy(out + (size_t)i * rn, req, rn);
    if (send(fd, out, rn * (size_t)depth, MSG_NOSIGNAL) != (ssize_t)(rn * (size_t)depth))
        return false;
    static char buf[16 * 1024];
    size_t n = 0, want = response_len * (size_t)depth;
    for (;;) {
        ssize_t r = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);
        if (r <= 0)
            return false;
        n += (size_t)r;
        buf[n] = 0;
        if (!response_len) { /* the first response: learn its size */
            char *end = strstr(buf, "\r\n\r\n");
            if (end && n - (size_t)(end + 4 - buf) >= 13) {
                response_len = n;
                want = n;
            }
        }
        if (want && n >= want)
            break;
        if (n == sizeof(buf) - 1)
            return false;
    }
    if (n != want)
        return false;
    for (int i = 0; i < depth; i++) {
        const char *p = buf + (size_t)i * response_len;
        if (strncmp(p, "HTTP/1.1 200 ", 13) || memcmp(p + response_len - 13, "Hello, World!", 13))
            return false;
    }
    return true;
}

static bool round_trip(int fd)
{
    return round_trip_n(fd, 1);
}

struct alloc_server {
    roost_runtime *rt;
    roost_http_router *router;
    roost_http_server *srv;
};

static struct alloc_server alloc_server_start(void)
{
    struct alloc_server a;
    a.rt = test_runtime(1, NULL);
    assert_int_equal(roost_http_router_create(&a.router), 0);
    assert_int_equal(roost_http_route(a.router, "GET", "/plaintext", plaintext, NULL), 0);
    struct roost_http_server_opts o;
    roost_http_server_opts_init(&o);
    o.port = 0;
    assert_int_equal(roost_http_server_start(a.rt, &o, a.router, &a.srv), 0);
    return a;
}

static void alloc_server_stop(struct alloc_server *a)
{
    assert_int_equal(roost_http_server_shutdown(a->srv, (uint64_t)(10000 * time_scale())), 0);
    roost_runtime_stop(a->rt);
    roost_http_server_free(a->srv);
    roost_runtime_destroy(a->rt);
    roost_http_router_free(a->router);
}

static int connect_to(const struct alloc_server *a)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons(roost_http_server_port(a->srv))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = (time_t)(30 * time_scale())};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The hook must see the program's calls, or a 0 below would prove nothing. */
static void assert_hook_counts(void)
{
    void *(*volatile m)(size_t) = malloc;
    unsigned long seen = atomic_load(&allocs);
    free(m(16));
    assert_int_equal(atomic_load(&allocs) - seen, 1);
}

/* Allocations over MEASURED requests sent `depth` at a time on one warm connection. */
static unsigned long keep_alive_allocs(int depth)
{
    struct alloc_server a = alloc_server_start();
    int fd = connect_to(&a);
    assert_true(fd >= 0);
    assert_true(round_trip(fd)); /* learns the response size */
    for (int i = 0; i < WARMUP / depth; i++)
        assert_true(round_trip_n(fd, depth));
    assert_hook_counts();
    unsigned long before = atomic_load(&allocs);
    int ok = 0;
    for (int i = 0; i < MEASURED / depth; i++)
        ok += round_trip_n(fd, depth);
    unsigned long counted = atomic_load(&allocs) - before;
    assert_int_equal(ok, MEASURED / depth);
    printf("allocations over %d keep-alive /plaintext requests at depth %d: %lu (%.4f per "
           "request)\n",
           MEASURED, depth, counted, (double)counted / MEASURED);
    close(fd);
    alloc_server_stop(&a);
    return counted;
}

static void plaintext_keep_alive_allocates_nothing_per_request(void **state)
{
    (void)state;
    if (allocs_sanitized) {
        test_skip();
        return;
    }
    /* The bound is 0: any allocation on the warm path is a regression. */
    assert_int_equal(keep_alive_allocs(1), 0);
}

static void pipelined_depth_16_allocates_nothing_per_request(void **state)
{
    (void)state;
    if (allocs_sanitized) {
        test_skip();
        return;
    }
    assert_int_equal(keep_alive_allocs(16), 0);
}

/* HttpArena's short-lived profile: 10 requests per connection, then close. Once a few
 * connections have come and gone, a new one reuses a closed one's buffers, connection slot
 * and task stack: what is left is the connection task's own small struct (one calloc, which
 * glibc serves from its per-thread cache). Reading four buffers again would be 5. */
static void short_lived_connections_allocate_one_block_each(void **state)
{
    (void)state;
    if (allocs_sanitized) {
        test_skip();
        return;
    }
    struct alloc_server a = alloc_server_start();
    unsigned long before = 0;
    int ok = 0;
    for (int i = 0; i < 300; i++) {
        if (i == 100) {
            assert_hook_counts();
            before = atomic_load(&allocs);
        }
        int fd = connect_to(&a);
        if (fd < 0)
            break;
        for (int k = 0; k < 10; k++)
            ok += round_trip(fd);
        close(fd);
    }
    unsigned long counted = atomic_load(&allocs) - before;
    assert_int_equal(ok, 3000);
    printf("allocations over 200 short-lived connections of 10 requests: %lu\n", counted);
    alloc_server_stop(&a);
    assert_true(counted <= 200);
}

int main(void)
{
    counts = true;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plaintext_keep_alive_allocates_nothing_per_request),
        cmocka_unit_test(pipelined_depth_16_allocates_nothing_per_request),
        cmocka_unit_test(short_lived_connections_allocate_one_block_each),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

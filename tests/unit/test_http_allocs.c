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

#ifndef ALLOCS_SANITIZED
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t k, size_t n);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

void *malloc(size_t n)
{
    atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
    return __libc_malloc(n);
}

void *calloc(size_t k, size_t n)
{
    atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
    return __libc_calloc(k, n);
}

void *realloc(void *p, size_t n)
{
    atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
    return __libc_realloc(p, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
    return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
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
    int rc = roost_http_res_header(res, "Content-Type", "text/plain");
    return rc ? rc : roost_http_res_body(res, "Hello, World!", 13);
}

/* One request on fd and its whole response (head and 13-byte body); false on any surprise.
 * No cmocka call here: it would allocate inside the counted window. */
static bool round_trip(int fd)
{
    static const char req[] = "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n";
    if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(req) - 1))
        return false;
    char buf[1024];
    size_t n = 0;
    for (;;) {
        ssize_t r = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);
        if (r <= 0)
            return false;
        n += (size_t)r;
        buf[n] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        if (end && n - (size_t)(end + 4 - buf) >= 13)
            return !strncmp(buf, "HTTP/1.1 200 ", 13) && !strcmp(end + 4, "Hello, World!");
        if (n == sizeof(buf) - 1)
            return false;
    }
}

static void plaintext_keep_alive_allocates_nothing_per_request(void **state)
{
    (void)state;
    if (allocs_sanitized) {
        test_skip();
        return;
    }
    roost_runtime *rt = test_runtime(1, NULL);
    roost_http_router *router;
    roost_http_server *srv;
    assert_int_equal(roost_http_router_create(&router), 0);
    assert_int_equal(roost_http_route(router, "GET", "/plaintext", plaintext, NULL), 0);
    struct roost_http_server_opts o;
    roost_http_server_opts_init(&o);
    o.port = 0;
    assert_int_equal(roost_http_server_start(rt, &o, router, &srv), 0);

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(roost_http_server_port(srv))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    struct timeval tv = {.tv_sec = (time_t)(30 * time_scale())};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

    for (int i = 0; i < WARMUP; i++)
        assert_true(round_trip(fd));
    /* The hook must see the program's calls, or a 0 below would prove nothing. */
    void *(*volatile m)(size_t) = malloc;
    unsigned long seen = atomic_load(&allocs);
    free(m(16));
    assert_int_equal(atomic_load(&allocs) - seen, 1);
    unsigned long before = atomic_load(&allocs);
    int ok = 0;
    for (int i = 0; i < MEASURED; i++)
        ok += round_trip(fd);
    unsigned long counted = atomic_load(&allocs) - before;
    assert_int_equal(ok, MEASURED);
    printf("allocations over %d keep-alive /plaintext requests: %lu (%.4f per request)\n", MEASURED,
           counted, (double)counted / MEASURED);
    close(fd);
    assert_int_equal(roost_http_server_shutdown(srv, (uint64_t)(10000 * time_scale())), 0);
    roost_runtime_stop(rt);
    roost_http_server_free(srv);
    roost_runtime_destroy(rt);
    roost_http_router_free(router);
    /* The bound is 0: any allocation on the warm path is a regression. */
    assert_int_equal(counted, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plaintext_keep_alive_allocates_nothing_per_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The access log: off by default, one line per request in Common Log Format or JSON lines,
 * requests rejected before their head parsed included, and written by a background thread:
 * a log nobody reads (a full pipe) never stalls the reactor that serves.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <roost/http.h>

#include "support.h"

/* ROOST_TEST_TIME_SCALE: a float multiplier for every wait in a test (default 1). */
static double http_test_time_scale(void)
{
    const char *s = getenv("ROOST_TEST_TIME_SCALE");
    double v = s ? strtod(s, NULL) : 1.0;
    return v > 0 ? v : 1.0;
}

static int hello(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    return roost_http_res_body(res, "hello", 5);
}

struct served {
    roost_runtime *rt;
    roost_http_router *router;
    roost_http_server *srv;
};

static struct served serve(const char *log_path, enum roost_http_access_log_format format)
{
    struct served s;
    s.rt = test_runtime(1, NULL);
    assert_int_equal(roost_http_router_create(&s.router), 0);
    assert_int_equal(roost_http_route(s.router, "GET", "/hello", hello, NULL), 0);
    struct roost_http_server_opts o;
    roost_http_server_opts_init(&o);
    o.port = 0;
    o.access_log = log_path;
    o.access_log_format = format;
    assert_int_equal(roost_http_server_start(s.rt, &o, s.router, &s.srv), 0);
    return s;
}

/* Shutdown and free: roost_http_server_free writes what is still buffered. */
static void unserve(struct served *s)
{
    assert_int_equal(roost_http_server_shutdown(s->srv, (uint64_t)(10000 * http_test_time_scale())), 0);
    roost_runtime_stop(s->rt);
    roost_http_server_free(s->srv);
    roost_runtime_destroy(s->rt);
    roost_http_router_free(s->router);
}

/* Sends req on a new connection and reads to EOF; returns the bytes received. */
static size_t exchange(uint16_t port, const char *req, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    struct timeval tv = {.tv_sec = (time_t)(20 * http_test_time_scale())};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    for (size_t off = 0; off < len;) {
        ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
        assert_true(w > 0);
        off += (size_t)w;
    }
    size_t total = 0;
    char buf[65536];
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof(buf), 0);
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            break;
        if (r < 0)
            fail_msg("no EOF from the server (errno %d) after %zu bytes", errno, total);
        total += (size_t)r;
    }
    close(fd);
    return total;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static void assert_matches(const char *line, const char *pattern)
{
    regex_t re;
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    int rc = regexec(&re, line, 0, NULL, 0);
    regfree(&re);
    if (rc != 0)
        fail_msg("\"%s\" does not match %s", line, pattern);
}

/* text has exactly n lines, line i matching want[i]. */
static void assert_lines(char *text, const char *const *want, size_t n)
{
    char *save = NULL, *line = strtok_r(text, "\n", &save);
    for (size_t i = 0; i < n; i++, line = strtok_r(NULL, "\n", &save)) {
        assert_non_null(line);
        assert_matches(line, want[i]);
    }
    assert_null(line);
}

static const char requests[] = "GET /hello?x=1 HTTP/1.1\r\nHost: t\r\n\r\n"
                               "POST /hello HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"
                               "HEAD /hello HTTP/1.0\r\n\r\n";
static const char rejected[] = "GET /hello HTTP/1.1\r\nHost:\r\n\r\n";
/* rejected after its head: a chunked body with a malformed size */
static const char bad_body[] = "POST /hello HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                               "\r\nzz\r\n";

/* Logs requests and the rejected one in format; returns the log's lines (static buffer). */
static char *log_of(enum roost_http_access_log_format format)
{
    char path[] = "/tmp/roost-access-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    struct served s = serve(path, format);
    uint16_t port = roost_http_server_port(s.srv);
    exchange(port, requests, sizeof(requests) - 1);
    exchange(port, rejected, sizeof(rejected) - 1);
    exchange(port, bad_body, sizeof(bad_body) - 1);
    unserve(&s);
    char *text = read_file(path);
    unlink(path);
    return text;
}

static void common_log_format_one_line_per_request(void **state)
{
    (void)state;
    char *text = log_of(ROOST_HTTP_ACCESS_LOG_COMMON);
    static const char *const want[] = {
        ("^127\\.0\\.0\\.1 - - \\[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9:]{8} \\+0000\\] "
         "\"GET /hello\\?x=1 HTTP/1\\.1\" 200 5$"),
        "^127\\.0\\.0\\.1 - - \\[[^]]+\\] \"POST /hello HTTP/1\\.1\" 405 0$",
        "^127\\.0\\.0\\.1 - - \\[[^]]+\\] \"HEAD /hello HTTP/1\\.0\" 200 0$",
        "^127\\.0\\.0\\.1 - - \\[[^]]+\\] \"-\" 400 0$",
        "^127\\.0\\.0\\.1 - - \\[[^]]+\\] \"POST /hello HTTP/1\\.1\" 400 0$",
    };
    assert_lines(text, want, sizeof(want) / sizeof(want[0]));
}

static void json_lines(void **state)
{
    (void)state;
    char *text = log_of(ROOST_HTTP_ACCESS_LOG_JSON);
    static const char *const want[] = {
        ("^\\{\"time\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z\",\"remote\":\"127\\.0\\.0\\.1\","
         "\"method\":\"GET\",\"target\":\"/hello\\?x=1\",\"version\":\"HTTP/1\\.1\",\"status\":200,"
         "\"bytes\":5,\"duration_us\":[0-9]+\\}$"),
        "\"method\":\"POST\",.*\"status\":405,\"bytes\":0,",
        "\"method\":\"HEAD\",.*\"version\":\"HTTP/1\\.0\",\"status\":200,\"bytes\":0,",
        "\"method\":null,\"target\":null,\"version\":null,\"status\":400,",
        "\"method\":\"POST\",.*\"status\":400,\"bytes\":0,",
    };
    assert_lines(text, want, sizeof(want) / sizeof(want[0]));
}

static void *drain_fifo(void *arg)
{
    int fd = *(int *)arg;
    char buf[65536];
    long total = 0;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r == 0)
            break;
        if (r < 0 && errno == EAGAIN) {
            test_sleep_ms(1);
            continue;
        }
        if (r < 0)
            break;
        total += r;
    }
    return (void *)total;
}

/* The log is a FIFO nobody reads until the end: once its 64 KiB fill up, the writer thread
 * blocks in write(2), and the reactor must go on answering every request regardless. */
static void full_log_never_stalls_the_reactor(void **state)
{
    (void)state;
    char path[] = "/tmp/roost-access-fifo-XXXXXX";
    assert_non_null(mkdtemp(path));
    char fifo[64];
    snprintf(fifo, sizeof(fifo), "%s/log", path);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    int rd = open(fifo, O_RDONLY | O_NONBLOCK); /* so the server's open does not wait */
    assert_true(rd >= 0);
    struct served s = serve(fifo, ROOST_HTTP_ACCESS_LOG_COMMON);
    uint16_t port = roost_http_server_port(s.srv);
    /* 4000 requests: about 280 KB of log lines, four times what the pipe holds */
    static const char one[] = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";
    enum { N = 4000 };
    size_t len = (sizeof(one) - 1) * N;
    char *req = malloc(len + 64);
    assert_non_null(req);
    for (size_t i = 0; i < N; i++)
        memcpy(req + i * (sizeof(one) - 1), one, sizeof(one) - 1);
    memcpy(req + len - 4, "\r\nConnection: close\r\n\r\n", 23);
    len += 19;
    size_t got = exchange(port, req, len);
    free(req);
    /* every response arrived ("HTTP/1.1 200 OK" ... "hello"), none waited for the log */
    assert_true(got > (size_t)N * 80);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, drain_fifo, &rd), 0);
    unserve(&s); /* the writer finishes into the now drained pipe */
    void *total;
    pthread_join(t, &total);
    close(rd);
    assert_true((long)total > 64 * 1024);
    unlink(fifo);
    rmdir(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(common_log_format_one_line_per_request),
        cmocka_unit_test(json_lines),
        cmocka_unit_test(full_log_never_stalls_the_reactor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

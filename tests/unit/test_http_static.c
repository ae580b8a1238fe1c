/*
 * Static files: the static handler's decisions as pure functions (content types, ETag,
 * conditional requests, Range, If-Range, Accept-Encoding), and roost_http_res_file through a
 * real connection: files of 0, 1, 16 KiB, 40000 bytes and 1 MiB + 3 bytes, pipelined
 * between plain responses, come back in order and byte-exact by each way a file goes out:
 * copied with the head (up to file_copy_max), sendfile(2) from the page cache (speculation
 * on; file_copy_max 1 sends every size so), spliced through the ring (speculation off), and
 * read or spliced through the ring when the pages are not cached.
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "http/static.h"
#include "support.h"

static struct roost_str S(const char *s) {
    return (struct roost_str){s, s ? strlen(s) : 0};
}

static const struct roost_str NONE = {NULL, 0};

/* ---- pure decisions ---------------------------------------------------------------------- */

static void content_type_follows_the_extension(void **state)
{
    (void)state;
    struct {
        const char *name, *type;
    } cases[] = {
        {"index.html", "text/html; charset=utf-8"},
        {"a/b/site.CSS", "text/css; charset=utf-8"},
        {"app.js", "text/javascript; charset=utf-8"},
        {"data.json", "application/json"},
        {"notes.txt", "text/plain; charset=utf-8"},
        {"logo.svg", "image/svg+xml"},
        {"p.png", "image/png"},
        {"p.jpg", "image/jpeg"},
        {"p.gif", "image/gif"},
        {"p.webp", "image/webp"},
        {"favicon.ico", "image/x-icon"},
        {"m.wasm", "application/wasm"},
        {"f.woff2", "font/woff2"},
        {"d.pdf", "application/pdf"},
        {"feed.xml", "application/xml"},
        {"archive.tar.zst", "application/octet-stream"},
        {"README", "application/octet-stream"},
        {"dir.html/file", "application/octet-stream"}, /* the dot is in a directory */
        {"x.htmlx", "application/octet-stream"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_string_equal(http_static_content_type(cases[i].name, strlen(cases[i].name)),
                            cases[i].type);
}

static void etag_is_strong_and_changes_with_size_mtime_and_inode(void **state)
{
    (void)state;
    char a[64], b[64], c[64], d[64];
    http_static_etag(a, 100, 1700000000123456789, 42);
    http_static_etag(b, 101, 1700000000123456789, 42);
    http_static_etag(c, 100, 1700000000123456790, 42); /* one nanosecond later */
    http_static_etag(d, 100, 1700000000123456789, 43);
    assert_true(a[0] == '"' && a[strlen(a) - 1] == '"'); /* strong: no W/ */
    assert_string_not_equal(a, b);
    assert_string_not_equal(a, c);
    assert_string_not_equal(a, d);
    char again[64];
    http_static_etag(again, 100, 1700000000123456789, 42);
    assert_string_equal(a, again);
}

static void dates_parse_in_all_three_formats_and_format_as_imf_fixdate(void **state)
{
    (void)state;
    time_t t;
    assert_true(http_static_parse_date(S("Sun, 06 Nov 1994 08:49:37 GMT"), &t));
    assert_int_equal(t, 784111777);
    assert_true(http_static_parse_date(S("Sunday, 06-Nov-94 08:49:37 GMT"), &t));
    assert_int_equal(t, 784111777);
    assert_true(http_static_parse_date(S("Sun Nov  6 08:49:37 1994"), &t));
    assert_int_equal(t, 784111777);
    assert_false(http_static_parse_date(S("yesterday"), &t));
    assert_false(http_static_parse_date(S("Sun, 06 Nov 1994 08:49:37 GMT junk"), &t));
    char buf[32];
    http_static_format_date(buf, 784111777);
    assert_string_equal(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
}

static void if_none_match_wins_over_if_modified_since(void **state)
{
    (void)state;
    const char *etag = "\"64-abc-2a\"";
    time_t mtime = 784111777;
    struct roost_str later = S("Mon, 07 Nov 1994 08:49:37 GMT");
    struct roost_str earlier = S("Sat, 05 Nov 1994 08:49:37 GMT");
    assert_true(http_static_not_modified(S("\"64-abc-2a\""), NONE, etag, mtime));
    assert_true(http_static_not_modified(S("\"x\", W/\"64-abc-2a\""), NONE, etag, mtime));
    assert_true(http_static_not_modified(S("*"), NONE, etag, mtime));
    assert_false(http_static_not_modified(S("\"other\""), NONE, etag, mtime));
    /* a non-matching If-None-Match decides: the date that would say 304 is not looked at */
    assert_false(http_static_not_modified(S("\"other\""), later, etag, mtime));
    assert_true(http_static_not_modified(NONE, later, etag, mtime));
    assert_true(http_static_not_modified(NONE, S("Sun, 06 Nov 1994 08:49:37 GMT"), etag, mtime));
    assert_false(http_static_not_modified(NONE, earlier, etag, mtime));
    assert_false(http_static_not_modified(NONE, S("not a date"), etag, mtime)); /* ignored */
    assert_false(http_static_not_modified(NONE, NONE, etag, mtime));
}

static void if_range_needs_a_strong_etag_or_the_exact_date(void **state)
{
    (void)state;
    const char *etag = "\"64-abc-2a\"";
    time_t mtime = 784111777;
    assert_true(http_static_if_range(NONE, etag, mtime));
    assert_true(http_static_if_range(S("\"64-abc-2a\""), etag, mtime));
    assert_false(http_static_if_range(S("W/\"64-abc-2a\""), etag, mtime)); /* weak: no */
    assert_false(http_static_if_range(S("\"old\""), etag, mtime));
    assert_true(http_static_if_range(S("Sun, 06 Nov 1994 08:49:37 GMT"), etag, mtime));
    assert_false(http_static_if_range(S("Sun, 06 Nov 1994 08:49:38 GMT"), etag, mtime));
    /* a Wednesday's date starts with a W, as a weak entity tag does: still a date */
    assert_true(http_static_if_range(S("Wed, 09 Nov 1994 08:49:37 GMT"), etag, mtime + 3 * 86400));
    assert_false(http_static_if_range(S("Wed, 09 Nov 1994 08:49:37 GMT"), etag, mtime));
}

static void range(const char *v, uint64_t size, enum http_range_result want, uint64_t off,
                  uint64_t len)
{
    uint64_t o = 77, l = 77;
    enum http_range_result got = http_static_range(S(v), size, &o, &l);
    if (got != want)
        fail_msg("Range '%s' on %llu bytes: %d, want %d", v, (unsigned long long)size, got, want);
    if (want == HTTP_RANGE_PARTIAL && (o != off || l != len))
        fail_msg("Range '%s': %llu+%llu, want %llu+%llu", v, (unsigned long long)o,
                 (unsigned long long)l, (unsigned long long)off, (unsigned long long)len);
}

static void range_forms_rfc9110_14_1_2(void **state)
{
    (void)state;
    range("bytes=0-3", 10, HTTP_RANGE_PARTIAL, 0, 4);
    range("bytes=2-", 10, HTTP_RANGE_PARTIAL, 2, 8);
    range("bytes=-3", 10, HTTP_RANGE_PARTIAL, 7, 3);
    range("bytes=-30", 10, HTTP_RANGE_PARTIAL, 0, 10);  /* longer than the file: all of it */
    range("bytes=5-100", 10, HTTP_RANGE_PARTIAL, 5, 5); /* last clipped */
    range("Bytes=9-9", 10, HTTP_RANGE_PARTIAL, 9, 1);   /* the unit is case-insensitive */
    range("bytes=10-", 10, HTTP_RANGE_UNSATISFIABLE, 0, 0);
    range("bytes=10-20", 10, HTTP_RANGE_UNSATISFIABLE, 0, 0);
    range("bytes=-0", 10, HTTP_RANGE_UNSATISFIABLE, 0, 0);
    range("bytes=0-", 0, HTTP_RANGE_UNSATISFIABLE, 0, 0);
    range("bytes=-5", 0, HTTP_RANGE_UNSATISFIABLE, 0, 0);
    range("bytes=0-1,4-5", 10, HTTP_RANGE_WHOLE, 0, 0); /* several: the whole file */
    range("bytes=5-2", 10, HTTP_RANGE_WHOLE, 0, 0);     /* invalid: ignored */
    range("bytes=a-b", 10, HTTP_RANGE_WHOLE, 0, 0);
    range("bytes=", 10, HTTP_RANGE_WHOLE, 0, 0);
    range("items=0-3", 10, HTTP_RANGE_WHOLE, 0, 0);
    range("bytes=99999999999999999999-", 10, HTTP_RANGE_WHOLE, 0, 0); /* overflow: ignored */
}

static void accept_encoding_by_q_values(void **state)
{
    (void)state;
    unsigned both = HTTP_ENC_HAVE(HTTP_ENC_BR) | HTTP_ENC_HAVE(HTTP_ENC_GZIP);
    unsigned gz = HTTP_ENC_HAVE(HTTP_ENC_GZIP);
    assert_int_equal(http_static_pick_encoding(NONE, both), HTTP_ENC_IDENTITY);
    assert_int_equal(http_static_pick_encoding(S("gzip, deflate, br"), both), HTTP_ENC_BR);
    assert_int_equal(http_static_pick_encoding(S("gzip, deflate, br"), gz), HTTP_ENC_GZIP);
    assert_int_equal(http_static_pick_encoding(S("gzip;q=1.0, br;q=0.5"), both), HTTP_ENC_GZIP);
    assert_int_equal(http_static_pick_encoding(S("br;q=0, gzip"), both), HTTP_ENC_GZIP);
    assert_int_equal(http_static_pick_encoding(S("br;q=0, gzip;q=0"), both), HTTP_ENC_IDENTITY);
    assert_int_equal(http_static_pick_encoding(S("*"), both), HTTP_ENC_BR);
    assert_int_equal(http_static_pick_encoding(S("*;q=0.1, br;q=0"), both), HTTP_ENC_GZIP);
    assert_int_equal(http_static_pick_encoding(S("x-gzip"), both), HTTP_ENC_GZIP);
    assert_int_equal(http_static_pick_encoding(S("deflate, identity"), both), HTTP_ENC_IDENTITY);
    assert_int_equal(http_static_pick_encoding(S("GZIP ; Q=0.8"), gz), HTTP_ENC_GZIP);
    assert_int_equal(http_static_pick_encoding(S("gzip;q=2"), gz), HTTP_ENC_IDENTITY); /* bad q */
    assert_int_equal(http_static_pick_encoding(S("br"), 0), HTTP_ENC_IDENTITY);
}

/* ---- roost_http_res_file through a connection ------------------------------------------- */

static roost_runtime *rt;
static roost_http_router *router;
static roost_http_server *srv;
static char dir[64];

static const size_t sizes[] = {0, 1, 16384, 40000, 1048579};

static unsigned char pattern(size_t size, size_t i)
{
    return (unsigned char)((i * 31 + size * 7 + i / 251) & 0xff);
}

/* The test file the request names (/f/SIZE, /cold/SIZE), opened; -1 if none. */
static int open_named(roost_http_req *req)
{
    struct roost_str v;
    char name[128];
    if (!roost_http_req_param(req, "size", &v) || v.n > 16)
        return -1;
    snprintf(name, sizeof(name), "%s/%.*s", dir, (int)v.n, v.p);
    return open(name, O_RDONLY | O_CLOEXEC);
}

static int file_handler(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)arg;
    int fd = open_named(req);
    if (fd < 0)
        return roost_http_res_status(res, 404);
    off_t size = lseek(fd, 0, SEEK_END);
    return roost_http_res_file(res, fd, 0, (size_t)size);
}

/* As file_handler, with the file's pages dropped from the page cache first: the read that
 * never blocks (RWF_NOWAIT) misses and the ring reads from the disk. */
static int cold_file_handler(roost_http_req *req, roost_http_res *res, void *arg)
{
    int fd = open_named(req);
    if (fd >= 0) {
        fdatasync(fd);
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
    return file_handler(req, res, arg);
}

static int hello(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    return roost_http_res_body(res, "hello", 5);
}

static void start_server(size_t copy_max, bool speculative)
{
    snprintf(dir, sizeof(dir), "/tmp/roost-static-XXXXXX");
    assert_non_null(mkdtemp(dir));
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        char name[128];
        snprintf(name, sizeof(name), "%s/%zu", dir, sizes[k]);
        FILE *f = fopen(name, "w");
        assert_non_null(f);
        for (size_t i = 0; i < sizes[k]; i++)
            fputc(pattern(sizes[k], i), f);
        fclose(f);
    }
    struct roost_config cfg;
    roost_config_init(&cfg);
    cfg.speculative = speculative; /* off: no sendfile(2), every file spliced on the ring */
    rt = test_runtime(1, &cfg);
    assert_int_equal(roost_http_router_create(&router), 0);
    assert_int_equal(roost_http_route(router, "GET", "/f/:size", file_handler, NULL), 0);
    assert_int_equal(roost_http_route(router, "GET", "/hello", hello, NULL), 0);
    assert_int_equal(roost_http_route(router, "GET", "/cold/:size", cold_file_handler, NULL), 0);
    struct roost_http_server_opts o;
    roost_http_server_opts_init(&o);
    o.file_copy_max = copy_max;
    assert_int_equal(roost_http_server_start(rt, &o, router, &srv), 0);
}

static int setup_default(void **state)
{
    (void)state;
    start_server(0, true); /* the defaults */
    return 0;
}

static int setup_sendfile_all(void **state)
{
    (void)state;
    start_server(1, true);
    return 0;
}

static int setup_splice_all(void **state)
{
    (void)state;
    start_server(1, false);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    roost_http_server_shutdown(srv, test_scaled_ms(2000));
    roost_runtime_stop(rt);
    roost_http_server_free(srv);
    roost_runtime_destroy(rt);
    roost_http_router_free(router);
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        char name[128];
        snprintf(name, sizeof(name), "%s/%zu", dir, sizes[k]);
        unlink(name);
    }
    rmdir(dir);
    return 0;
}

static int connect_server(void)
{
    return test_connect_timed(roost_http_server_port(srv), 10000);
}

/* Reads one response: its head into head (NUL-terminated), its body (Content-Length) into
 * *body (malloc'd); buffered bytes of the next responses stay in in/in_n. */
struct reader {
    int fd;
    char *in;
    size_t n, cap;
};

static void fill(struct reader *r)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 65536;
        r->in = realloc(r->in, r->cap);
        assert_non_null(r->in);
    }
    ssize_t got = recv(r->fd, r->in + r->n, r->cap - r->n, 0);
    assert_true(got > 0); /* a timeout or a close fails the test instead of hanging it */
    r->n += (size_t)got;
}

static size_t read_response(struct reader *r, char *head, size_t cap, char **body, bool head_only)
{
    char *end;
    while (!r->n || !(end = memmem(r->in, r->n, "\r\n\r\n", 4)))
        fill(r);
    size_t hlen = (size_t)(end - r->in) + 4;
    assert_true(hlen < cap);
    memcpy(head, r->in, hlen);
    head[hlen] = 0;
    const char *cl = strstr(head, "Content-Length: ");
    assert_non_null(cl);
    size_t len = head_only ? 0 : strtoul(cl + 16, NULL, 10);
    while (r->n < hlen + len)
        fill(r);
    *body = malloc(len + 1);
    memcpy(*body, r->in + hlen, len);
    memmove(r->in, r->in + hlen + len, r->n - hlen - len);
    r->n -= hlen + len;
    return head_only ? strtoul(cl + 16, NULL, 10) : len;
}

static void check_file_body(size_t size, const char *body, size_t len)
{
    assert_int_equal(len, size);
    for (size_t i = 0; i < size; i++)
        if ((unsigned char)body[i] != pattern(size, i))
            fail_msg("file of %zu bytes differs at byte %zu", size, i);
}

static void pipelined_files_and_responses_come_back_in_order(void)
{
    int fd = connect_server();
    char req[4096] = "";
    size_t n = 0;
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++)
        n += (size_t)snprintf(req + n, sizeof(req) - n,
                              "GET /f/%zu HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
                              sizes[k]);
    n += (size_t)snprintf(req + n, sizeof(req) - n, "HEAD /f/40000 HTTP/1.1\r\nHost: x\r\n\r\n");
    n += (size_t)snprintf(req + n, sizeof(req) - n, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(send(fd, req, n, MSG_NOSIGNAL), (ssize_t)n);
    struct reader r = {.fd = fd};
    char head[2048];
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        char *body;
        size_t len = read_response(&r, head, sizeof(head), &body, false);
        assert_non_null(strstr(head, "HTTP/1.1 200 OK\r\n"));
        check_file_body(sizes[k], body, len);
        free(body);
        len = read_response(&r, head, sizeof(head), &body, false);
        assert_int_equal(len, 5);
        assert_memory_equal(body, "hello", 5);
        free(body);
    }
    char *body;
    assert_int_equal(read_response(&r, head, sizeof(head), &body, true), 40000); /* HEAD */
    free(body);
    assert_int_equal(read_response(&r, head, sizeof(head), &body, false), 5);
    assert_memory_equal(body, "hello", 5);
    free(body);
    assert_int_equal(r.n, 0); /* nothing more: HEAD sent no body */
    free(r.in);
    close(fd);
}

static void files_copied_or_sent_by_size_arrive_byte_exact(void **state)
{
    (void)state;
    pipelined_files_and_responses_come_back_in_order();
}

static void files_all_sent_with_sendfile_arrive_byte_exact(void **state)
{
    (void)state;
    pipelined_files_and_responses_come_back_in_order();
}

static void files_all_spliced_arrive_byte_exact(void **state)
{
    (void)state;
    pipelined_files_and_responses_come_back_in_order();
    pipelined_files_and_responses_come_back_in_order(); /* a new connection, a new pipe */
}

static void evicted_files_are_read_through_the_ring(void **state)
{
    (void)state;
    uint64_t misses = test_stats(rt, 0).speculative_misses;
    int fd = connect_server();
    static const char req[] = "GET /cold/16384 HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /cold/1048579 HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(req) - 1);
    struct reader r = {.fd = fd};
    char head[2048];
    char *body;
    size_t len = read_response(&r, head, sizeof(head), &body, false);
    check_file_body(16384, body, len); /* copied: RWF_NOWAIT missed, IORING_OP_READ read it */
    free(body);
    len = read_response(&r, head, sizeof(head), &body, false);
    check_file_body(1048579, body, len); /* not in the page cache: spliced */
    free(body);
    free(r.in);
    close(fd);
    if (test_stats(rt, 0).speculative_misses == misses)
        skip(); /* the file system kept the pages (DONTNEED is advice): nothing was tested */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(content_type_follows_the_extension),
        cmocka_unit_test(etag_is_strong_and_changes_with_size_mtime_and_inode),
        cmocka_unit_test(dates_parse_in_all_three_formats_and_format_as_imf_fixdate),
        cmocka_unit_test(if_none_match_wins_over_if_modified_since),
        cmocka_unit_test(if_range_needs_a_strong_etag_or_the_exact_date),
        cmocka_unit_test(range_forms_rfc9110_14_1_2),
        cmocka_unit_test(accept_encoding_by_q_values),
        cmocka_unit_test_setup_teardown(files_copied_or_sent_by_size_arrive_byte_exact,
                                        setup_default, teardown),
        cmocka_unit_test_setup_teardown(files_all_sent_with_sendfile_arrive_byte_exact,
                                        setup_sendfile_all, teardown),
        cmocka_unit_test_setup_teardown(files_all_spliced_arrive_byte_exact, setup_splice_all,
                                        teardown),
        cmocka_unit_test_setup_teardown(evicted_files_are_read_through_the_ring, setup_default,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The router: literal and :param segments, methods, 404 vs 405, HEAD falls back to GET; path
 * decoding and normalisation, Allow lists and the query-string functions. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "http/router.h"
#include "support.h"

static int h1(roost_http_req *q, roost_http_res *s, void *a)
{
    (void)q, (void)s, (void)a;
    return 1;
}

static int h2(roost_http_req *q, roost_http_res *s, void *a)
{
    (void)q, (void)s, (void)a;
    return 2;
}

static struct roost_str S(const char *s) {
    return (struct roost_str){s, strlen(s)};
}

static void
literal_and_param_routes_match(void **state)
{
    (void)state;
    roost_http_router *r;
    assert_int_equal(roost_http_router_create(&r), 0);
    assert_int_equal(roost_http_route(r, "GET", "/plaintext", h1, NULL), 0);
    assert_int_equal(roost_http_route(r, "GET", "/users/:id/posts/:post", h2, (void *)7), 0);
    assert_int_equal(roost_http_route(r, "GET", "/", h1, NULL), 0);

    struct roost_http_match m;
    assert_int_equal(http_router_match(r, S("GET"), S("/plaintext"), &m), 0);
    assert_ptr_equal(m.handler, h1);
    assert_int_equal(m.nparams, 0);

    assert_int_equal(http_router_match(r, S("GET"), S("/users/42/posts/abc"), &m), 0);
    assert_ptr_equal(m.handler, h2);
    assert_ptr_equal(m.arg, (void *)7);
    assert_int_equal(m.nparams, 2);
    assert_int_equal(m.params[0].value.n, 2);
    assert_memory_equal(m.params[0].value.p, "42", 2);
    assert_memory_equal(m.params[1].name.p, "post", 4);
    assert_memory_equal(m.params[1].value.p, "abc", 3);

    assert_int_equal(http_router_match(r, S("GET"), S("/"), &m), 0);
    assert_ptr_equal(m.handler, h1);
    roost_http_router_free(r);
}

static int h3(roost_http_req *q, roost_http_res *s, void *a)
{
    (void)q, (void)s, (void)a;
    return 3;
}

/* Many literal routes (the exact-path index), a parameter route among them: the first route
 * that matches still wins, whatever the index finds. */
static void first_match_wins_with_the_literal_index(void **state)
{
    (void)state;
    roost_http_router *r;
    char paths[40][16];
    assert_int_equal(roost_http_router_create(&r), 0);
    for (int i = 0; i < 40; i++) {
        snprintf(paths[i], sizeof(paths[i]), "/p%d", i);
        assert_int_equal(roost_http_route(r, "GET", paths[i], h1, (void *)(intptr_t)i), 0);
    }
    assert_int_equal(roost_http_route(r, "POST", "/p3", h2, NULL), 0);
    assert_int_equal(roost_http_route(r, "PUT", "/:any", h3, NULL), 0);
    assert_int_equal(roost_http_route(r, "PUT", "/p5", h1, NULL), 0);   /* shadowed by /:any */
    assert_int_equal(roost_http_route(r, NULL, "/late/", h2, NULL), 0); /* "/late", any method */
    assert_int_equal(roost_http_route(r, "GET", "/x/:y", h3, NULL), 0);
    assert_int_equal(roost_http_route(r, "GET", "/x/lit", h1, NULL), 0); /* shadowed by /x/:y */
    assert_int_equal(roost_http_route(r, "GET", "/after", h2, NULL), 0); /* /:any is PUT */
    struct roost_http_match m;
    for (int i = 0; i < 40; i++) {
        assert_int_equal(http_router_match(r, S("GET"), S(paths[i]), &m), 0);
        assert_ptr_equal(m.handler, h1);
        assert_ptr_equal(m.arg, (void *)(intptr_t)i);
    }
    assert_int_equal(http_router_match(r, S("POST"), S("/p3"), &m), 0);
    assert_ptr_equal(m.handler, h2);
    assert_int_equal(http_router_match(r, S("PUT"), S("/p5"), &m), 0);
    assert_ptr_equal(m.handler, h3);
    assert_int_equal(m.nparams, 1);
    assert_int_equal(http_router_match(r, S("HEAD"), S("/p7"), &m), 0);
    assert_ptr_equal(m.handler, h1);
    assert_int_equal(http_router_match(r, S("DELETE"), S("/late"), &m), 0);
    assert_ptr_equal(m.handler, h2);
    assert_int_equal(http_router_match(r, S("GET"), S("/x/lit"), &m), 0);
    assert_ptr_equal(m.handler, h3);
    assert_int_equal(m.nparams, 1);
    assert_int_equal(http_router_match(r, S("GET"), S("/after"), &m), 0);
    assert_ptr_equal(m.handler, h2);
    assert_int_equal(m.nparams, 0);
    assert_int_equal(http_router_match(r, S("DELETE"), S("/p7"), &m), 405);
    assert_int_equal(http_router_match(r, S("GET"), S("/p7/x"), &m), 404);
    assert_int_equal(http_router_match(r, S("GET"), S("/p"), &m), 405); /* PUT /:any has it */
    assert_int_equal(http_router_match(r, S("GET"), S("/p7/"), &m), 404);
    roost_http_router_free(r);
}

/* The streaming flag comes with the match, whichever way the route was found: through the
 * literal index, a parameter route shadowing a literal one, or the scan. */
static void stream_flag_survives_every_lookup(void **state)
{
    (void)state;
    roost_http_router *r;
    assert_int_equal(roost_http_router_create(&r), 0);
    assert_int_equal(roost_http_route(r, "GET", "/plain", h1, NULL), 0);
    assert_int_equal(roost_http_route_stream(r, "POST", "/up", h2, NULL), 0);
    assert_int_equal(roost_http_route_stream(r, "PUT", "/s/:name", h3, NULL), 0);
    assert_int_equal(roost_http_route(r, "PUT", "/s/lit", h1, NULL), 0); /* shadowed */
    assert_int_equal(roost_http_route(r, "POST", "/q/:x", h1, NULL), 0);
    struct roost_http_match m;
    memset(&m, 0, sizeof(m)); /* the opposite of what the match must set */
    assert_int_equal(http_router_match(r, S("POST"), S("/up"), &m), 0);
    assert_ptr_equal(m.handler, h2);
    assert_true(m.stream == true);
    memset(&m, 0xff, sizeof(m)); /* the opposite of what the match must set */
    assert_int_equal(http_router_match(r, S("GET"), S("/plain"), &m), 0);
    assert_true(m.stream == false);
    memset(&m, 0, sizeof(m)); /* the opposite of what the match must set */
    assert_int_equal(http_router_match(r, S("PUT"), S("/s/lit"), &m), 0);
    assert_ptr_equal(m.handler, h3);
    assert_true(m.stream == true);
    memset(&m, 0, sizeof(m)); /* the opposite of what the match must set */
    assert_int_equal(http_router_match(r, S("PUT"), S("/s/other"), &m), 0);
    assert_true(m.stream == true);
    memset(&m, 0xff, sizeof(m)); /* the opposite of what the match must set */
    assert_int_equal(http_router_match(r, S("POST"), S("/q/1"), &m), 0);
    assert_true(m.stream == false);
    assert_true(http_router_has_stream(r));
    roost_http_router_free(r);
}

static void near_misses_are_404(void **state)
{
    (void)state;
    roost_http_router *r;
    assert_int_equal(roost_http_router_create(&r), 0);
    assert_int_equal(roost_http_route(r, "GET", "/users/:id", h1, NULL), 0);
    struct roost_http_match m;
    assert_int_equal(http_router_match(r, S("GET"), S("/users"), &m), 404);
    assert_int_equal(http_router_match(r, S("GET"), S("/users/"), &m), 404);
    assert_int_equal(http_router_match(r, S("GET"), S("/users/1/x"), &m), 404);
    assert_int_equal(http_router_match(r, S("GET"), S("/usersx/1"), &m), 404);
    assert_int_equal(http_router_match(r, S("GET"), S("*"), &m), 404);
    roost_http_router_free(r);
}

static void other_method_is_405_and_head_uses_get(void **state)
{
    (void)state;
    roost_http_router *r;
    assert_int_equal(roost_http_router_create(&r), 0);
    assert_int_equal(roost_http_route(r, "GET", "/a", h1, NULL), 0);
    assert_int_equal(roost_http_route(r, NULL, "/any", h2, NULL), 0);
    struct roost_http_match m;
    assert_int_equal(http_router_match(r, S("POST"), S("/a"), &m), 405);
    assert_int_equal(http_router_match(r, S("HEAD"), S("/a"), &m), 0);
    assert_ptr_equal(m.handler, h1);
    assert_int_equal(http_router_match(r, S("DELETE"), S("/any"), &m), 0);
    assert_ptr_equal(m.handler, h2);
    roost_http_router_free(r);
}

static void bad_patterns_are_refused(void **state)
{
    (void)state;
    roost_http_router *r;
    assert_int_equal(roost_http_router_create(&r), 0);
    assert_int_equal(roost_http_route(r, "GET", "nope", h1, NULL), -EINVAL);
    assert_int_equal(roost_http_route(r, "GET", "/a//b", h1, NULL), -EINVAL);
    assert_int_equal(roost_http_route(r, "GET", "/a/:", h1, NULL), -EINVAL);
    assert_int_equal(roost_http_route(r, "GET", "/a", NULL, NULL), -EINVAL);
    roost_http_router_free(r);
}

/* "*name" as the last segment holds the rest of the path, slashes included, never nothing. */
static void rest_parameter_takes_the_remaining_path(void **state)
{
    (void)state;
    roost_http_router *r;
    assert_int_equal(roost_http_router_create(&r), 0);
    assert_int_equal(roost_http_route(r, "GET", "/static/*file", h1, NULL), 0);
    assert_int_equal(roost_http_route(r, "GET", "/a/*x/b", h2, NULL), -EINVAL); /* not last */
    assert_int_equal(roost_http_route(r, "GET", "/a/*", h2, NULL), -EINVAL);    /* no name */
    struct roost_http_match m;
    assert_int_equal(http_router_match(r, S("GET"), S("/static/css/site.css"), &m), 0);
    assert_int_equal(m.nparams, 1);
    assert_int_equal(m.params[0].name.n, 4);
    assert_memory_equal(m.params[0].name.p, "file", 4);
    assert_int_equal(m.params[0].value.n, strlen("css/site.css"));
    assert_memory_equal(m.params[0].value.p, "css/site.css", m.params[0].value.n);
    assert_int_equal(http_router_match(r, S("GET"), S("/static/a"), &m), 0);
    assert_int_equal(m.params[0].value.n, 1);
    assert_int_equal(http_router_match(r, S("GET"), S("/static/"), &m), 404);
    assert_int_equal(http_router_match(r, S("GET"), S("/static"), &m), 404);
    assert_int_equal(http_router_match(r, S("POST"), S("/static/a/b"), &m), 405);
    roost_http_router_free(r);
}

/* Normalises raw and compares with want (NULL: refused with -EINVAL). */
static void norm_is(const char *raw, const char *want)
{
    char out[256];
    int n = http_path_normalize(raw, strlen(raw), out);
    if (!want) {
        if (n != -EINVAL)
            print_error("\"%s\" gave \"%.*s\", want refusal\n", raw, n > 0 ? n : 0, out);
        assert_int_equal(n, -EINVAL);
        return;
    }
    if (n < 0 || (size_t)n != strlen(want) || memcmp(out, want, (size_t)n) != 0)
        print_error("\"%s\" gave %d \"%.*s\", want \"%s\"\n", raw, n, n > 0 ? n : 0, out, want);
    assert_int_equal(n, (int)strlen(want));
    assert_memory_equal(out, want, (size_t)n);
    /* is_normal promises exactly "normalize would change nothing" */
    assert_int_equal(http_path_is_normal(raw, strlen(raw)), strcmp(raw, want) == 0);
}

/* RFC 3986 §2.1, §6.2.2.2: percent-encoding is decoded before matching, any hex case. */
static void path_is_percent_decoded_rfc3986_2_1(void **state)
{
    (void)state;
    norm_is("/plaintext", "/plaintext");
    norm_is("/pl%61intext", "/plaintext");
    norm_is("/a%20b/%C3%A9", "/a b/\xc3\xa9");
    norm_is("/a+b", "/a+b"); /* "+" is a space only in a query */
    norm_is("/a%2", NULL);
    norm_is("/a%zz", NULL);
    norm_is("/a%2Fb", NULL); /* would split a segment after matching decided the segments */
    norm_is("/a%2fb", NULL);
    norm_is("/a%00", NULL);
    norm_is("/a%0a", NULL);
    norm_is("", NULL);
    norm_is("a/b", NULL);
}

/* RFC 3986 §5.2.4: "." and ".." segments removed (also encoded); ".." above the root refused;
 * "//" kept, so an empty segment never matches a route. */
static void dot_segments_removed_double_slash_kept_rfc3986_5_2_4(void **state)
{
    (void)state;
    norm_is("/", "/");
    norm_is("/a/./b", "/a/b");
    norm_is("/a/b/../c", "/a/c");
    norm_is("/a/b/..", "/a/");
    norm_is("/a/b/.", "/a/b/");
    norm_is("/./a", "/a");
    norm_is("/a/%2e%2E/b", "/b");
    norm_is("/a/%2e/b", "/a/b");
    norm_is("/a/.b/..c/...", "/a/.b/..c/...");
    norm_is("/a//b", "/a//b");
    norm_is("//..", "/");
    norm_is("/..", NULL);
    norm_is("/a/../..", NULL);
    norm_is("/%2e%2e/etc", NULL);
}

/* RFC 9110 §15.5.6: Allow lists the methods routed for the path (HEAD with GET, and OPTIONS,
 * which the server answers); for "*" every method routed anywhere. */
static void allow_lists_the_routed_methods_rfc9110_15_5_6(void **state)
{
    (void)state;
    roost_http_router *r;
    assert_int_equal(roost_http_router_create(&r), 0);
    assert_int_equal(roost_http_route(r, "GET", "/a", h1, NULL), 0);
    assert_int_equal(roost_http_route(r, "PUT", "/a", h1, NULL), 0);
    assert_int_equal(roost_http_route(r, "GET", "/a", h2, NULL), 0);
    assert_int_equal(roost_http_route(r, "POST", "/b/:id", h1, NULL), 0);
    assert_int_equal(roost_http_route(r, "PATCH", "/c", h1, NULL), 0);
    char buf[128];
    http_router_allow(r, S("/a"), buf, sizeof(buf));
    assert_string_equal(buf, "GET, HEAD, PUT, OPTIONS");
    http_router_allow(r, S("/b/7"), buf, sizeof(buf));
    assert_string_equal(buf, "POST, OPTIONS");
    http_router_allow(r, (struct roost_str){NULL, 0}, buf, sizeof(buf));
    assert_string_equal(buf, "GET, HEAD, PUT, POST, PATCH, OPTIONS");
    /* a list that does not fit ends after its last whole method */
    size_t n = http_router_allow(r, S("/a"), buf, 12);
    assert_string_equal(buf, "GET, HEAD");
    assert_int_equal(n, 9);
    roost_http_router_free(r);
}

/* RFC 3986 §3.4: pairs on "&" and "=", "+" a space, %XX a byte; lookup by decoded name. */
static void query_lookup_and_iteration_rfc3986_3_4(void **state)
{
    (void)state;
    struct roost_str q = S("a=1&&b=x+y%21&c&a%5Fb=%3D&=e&a=2");
    const char *names[] = {"a", "b", "c", "a%5Fb", "", "a"};
    const char *values[] = {"1", "x+y%21", "", "%3D", "e", "2"};
    size_t pos = 0, i = 0;
    struct roost_str k, v;
    while (roost_http_query_next(q, &pos, &k, &v)) {
        assert_true(i < 6);
        assert_int_equal(k.n, strlen(names[i]));
        assert_memory_equal(k.p, names[i], k.n);
        assert_int_equal(v.n, strlen(values[i]));
        assert_memory_equal(v.p, values[i], v.n);
        i++;
    }
    assert_int_equal(i, 6);
    char out[16];
    assert_int_equal(roost_http_query_get(q, "a", out, sizeof(out)), 1);
    assert_string_equal(out, "1"); /* the first of two */
    assert_int_equal(roost_http_query_get(q, "b", out, sizeof(out)), 4);
    assert_string_equal(out, "x y!");
    assert_int_equal(roost_http_query_get(q, "a_b", out, sizeof(out)), 1);
    assert_string_equal(out, "=");
    assert_int_equal(roost_http_query_get(q, "c", out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(roost_http_query_get(q, "zz", out, sizeof(out)), -ENOENT);
    assert_int_equal(roost_http_query_get(q, "b", out, 4), -ENOSPC); /* 4 bytes + NUL */
    assert_int_equal(roost_http_query_get(S("x=%4"), "x", out, sizeof(out)), -EINVAL);
    assert_int_equal(roost_http_query_get((struct roost_str){NULL, 0}, "x", out, 4), -ENOENT);
    assert_int_equal(roost_http_query_decode(S("%41%62+c"), out, 4), 4);
    assert_memory_equal(out, "Ab c", 4);
    assert_int_equal(roost_http_query_decode(S("%41%62+c"), out, 3), -ENOSPC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(literal_and_param_routes_match),
        cmocka_unit_test(near_misses_are_404),
        cmocka_unit_test(stream_flag_survives_every_lookup),
        cmocka_unit_test(first_match_wins_with_the_literal_index),
        cmocka_unit_test(other_method_is_405_and_head_uses_get),
        cmocka_unit_test(bad_patterns_are_refused),
        cmocka_unit_test(rest_parameter_takes_the_remaining_path),
        cmocka_unit_test(path_is_percent_decoded_rfc3986_2_1),
        cmocka_unit_test(dot_segments_removed_double_slash_kept_rfc3986_5_2_4),
        cmocka_unit_test(allow_lists_the_routed_methods_rfc9110_15_5_6),
        cmocka_unit_test(query_lookup_and_iteration_rfc3986_3_4),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The router: literal and :param segments, methods, 404 vs 405, HEAD falls back to GET. */
#include <errno.h>
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
    assert_int_equal(roost_http_router_match(r, S("GET"), S("/plaintext"), &m), 0);
    assert_ptr_equal(m.handler, h1);
    assert_int_equal(m.nparams, 0);

    assert_int_equal(roost_http_router_match(r, S("GET"), S("/users/42/posts/abc"), &m), 0);
    assert_ptr_equal(m.handler, h2);
    assert_ptr_equal(m.arg, (void *)7);
    assert_int_equal(m.nparams, 2);
    assert_int_equal(m.params[0].value.n, 2);
    assert_memory_equal(m.params[0].value.p, "42", 2);
    assert_memory_equal(m.params[1].name.p, "post", 4);
    assert_memory_equal(m.params[1].value.p, "abc", 3);

    assert_int_equal(roost_http_router_match(r, S("GET"), S("/"), &m), 0);
    assert_ptr_equal(m.handler, h1);
    roost_http_router_free(r);
}

static void near_misses_are_404(void **state)
{
    (void)state;
    roost_http_router *r;
    assert_int_equal(roost_http_router_create(&r), 0);
    assert_int_equal(roost_http_route(r, "GET", "/users/:id", h1, NULL), 0);
    struct roost_http_match m;
    assert_int_equal(roost_http_router_match(r, S("GET"), S("/users"), &m), 404);
    assert_int_equal(roost_http_router_match(r, S("GET"), S("/users/"), &m), 404);
    assert_int_equal(roost_http_router_match(r, S("GET"), S("/users/1/x"), &m), 404);
    assert_int_equal(roost_http_router_match(r, S("GET"), S("/usersx/1"), &m), 404);
    assert_int_equal(roost_http_router_match(r, S("GET"), S("*"), &m), 404);
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
    assert_int_equal(roost_http_router_match(r, S("POST"), S("/a"), &m), 405);
    assert_int_equal(roost_http_router_match(r, S("HEAD"), S("/a"), &m), 0);
    assert_ptr_equal(m.handler, h1);
    assert_int_equal(roost_http_router_match(r, S("DELETE"), S("/any"), &m), 0);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(literal_and_param_routes_match),
        cmocka_unit_test(near_misses_are_404),
        cmocka_unit_test(other_method_is_405_and_head_uses_get),
        cmocka_unit_test(bad_patterns_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

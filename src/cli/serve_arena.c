/*
 * HttpArena's HTTP/1.1 profiles for `roost serve`: GET /pipeline, GET|POST /baseline11 and
 * GET /json/:count. The /json dataset is read once, before the reactors start; each request
 * serialises its items afresh with the JSON writer (the profile forbids cached bodies).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/json.h"
#include "cli/serve_arena.h"

#define ARENA_ITEMS_MAX 50

struct arena_item {
    struct jw_item it;
    char name[64], category[32];
    char tags[128]; /* the tags array's JSON text, without the brackets */
};

static struct arena_item items[ARENA_ITEMS_MAX];
static size_t n_items;

static int text(roost_http_res *res, int status, const char *body, size_t len)
{
    int rc = roost_http_res_status(res, status);
    rc = rc ? rc : roost_http_res_header(res, "Content-Type", "text/plain");
    return rc ? rc : roost_http_res_body(res, body, len);
}

static int bad(roost_http_res *res, const char *msg)
{
    return text(res, 400, msg, strlen(msg));
}

/* A decimal integer filling s[0..n) (an optional sign, digits; surrounding blanks allowed). */
static bool parse_int(const char *s, size_t n, long long *out)
{
    char b[24];
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\r' || s[n - 1] == '\n' || s[n - 1] == '\t'))
        n--;
    while (n && (*s == ' ' || *s == '\r' || *s == '\n' || *s == '\t'))
        s++, n--;
    if (n == 0 || n >= sizeof(b))
        return false;
    memcpy(b, s, n);
    b[n] = 0;
    char *end;
    errno = 0;
    long long v = strtoll(b, &end, 10);
    if (*end || errno || !(b[0] == '-' || b[0] == '+' || (b[0] >= '0' && b[0] <= '9')))
        return false;
    *out = v;
    return true;
}

/* Query parameter name as an integer: false when absent or not one. */
static bool query_int(const roost_http_req *req, const char *name, long long *out)
{
    char v[24];
    int n = roost_http_query_get(roost_http_req_query(req), name, v, sizeof(v));
    return n > 0 && parse_int(v, (size_t)n, out);
}

static int pipeline(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    return text(res, 200, "ok", 2);
}

static int baseline11(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)arg;
    long long a, b, c = 0;
    if (!query_int(req, "a", &a) || !query_int(req, "b", &b))
        return bad(res, "a and b must be integers\n");
    struct roost_str m = roost_http_req_method(req);
    if (m.n == 4 && !memcmp(m.p, "POST", 4)) {
        struct roost_str body = roost_http_req_body(req);
        if (!parse_int(body.p, body.n, &c))
            return bad(res, "the body must be an integer\n");
    }
    long long sum;
    if (__builtin_add_overflow(a, b, &sum) || __builtin_add_overflow(sum, c, &sum))
        return bad(res, "the sum overflows\n");
    char out[24];
    int n = snprintf(out, sizeof(out), "%lld", sum);
    return text(res, 200, out, (size_t)n);
}

static int json_items(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)arg;
    struct roost_str v;
    long long count, m = 1;
    if (!roost_http_req_param(req, "count", &v) || !parse_int(v.p, v.n, &count) || count < 1 ||
        count > (long long)n_items)
        return bad(res, "count must be 1..50\n");
    char mv[24];
    int mn = roost_http_query_get(roost_http_req_query(req), "m", mv, sizeof(mv));
    if (mn != -ENOENT && (mn <= 0 || !parse_int(mv, (size_t)mn, &m) || m < 0 || m > 1000000))
        return bad(res, "m must be an integer 0..1000000\n");
    struct jw *w = jw_thread();
    if (!w)
        return -ENOMEM;
    jw_obj_open(w);
    jw_key(w, "items");
    jw_arr_open(w);
    for (long long i = 0; i < count; i++) {
        const struct arena_item *x = &items[i];
        jw_item(w, &x->it);
        /* jw_item closed the object: reopen it by dropping the '}' to add tags and total. */
        w->len--;
        jw_key(w, "tags");
        jw_raw(w, "[", 1);
        jw_raw(w, x->tags, strlen(x->tags));
        jw_raw(w, "]", 1);
        w->comma = true; /* jw_raw wrote a whole value */
        jw_key(w, "total");
        jw_int(w, x->it.price * x->it.quantity * m);
        jw_obj_close(w);
    }
    jw_arr_close(w);
    jw_key(w, "count");
    jw_int(w, count);
    jw_obj_close(w);
    if (w->failed)
        return -ENOMEM;
    int rc = roost_http_res_header(res, "Content-Type", "application/json");
    return rc ? rc : roost_http_res_body(res, w->buf, w->len);
}

/* Reads the dataset: the shape data/gen-arena-items.py writes, one object per line. */
static int load_items(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    char line[512];
    n_items = 0;
    while (fgets(line, sizeof(line), f) && n_items < ARENA_ITEMS_MAX) {
        if (line[0] != '{')
            continue;
        struct arena_item *x = &items[n_items];
        long long id, price, qty, score, cnt;
        char active[6];
        int got = sscanf(line,
                         "{\"id\":%lld,\"name\":\"%63[^\"]\",\"category\":\"%31[^\"]\","
                         "\"price\":%lld,\"quantity\":%lld,\"active\":%5[a-z],"
                         "\"tags\":[%127[^]]],\"rating\":{\"score\":%lld,\"count\":%lld}}",
                         &id, x->name, x->category, &price, &qty, active, x->tags, &score, &cnt);
        if (got != 9) {
            fclose(f);
            return -EINVAL;
        }
        x->it = (struct jw_item){.id = id,
                                 .price = price,
                                 .quantity = qty,
                                 .rating_score = score,
                                 .rating_count = cnt,
                                 .name = x->name,
                                 .name_len = strlen(x->name),
                                 .category = x->category,
                                 .category_len = strlen(x->category),
                                 .active = !strcmp(active, "true")};
        n_items++;
    }
    fclose(f);
    return n_items == ARENA_ITEMS_MAX ? 0 : -EINVAL;
}

int serve_arena_routes(roost_http_router *router)
{
    int rc = roost_http_route(router, "GET", "/pipeline", pipeline, NULL);
    if (!rc)
        rc = roost_http_route(router, "GET", "/baseline11", baseline11, NULL);
    if (!rc)
        rc = roost_http_route(router, "POST", "/baseline11", baseline11, NULL);
    if (rc)
        return rc;
    const char *path = getenv("ROOST_SERVE_DATASET");
    if (!path || !*path)
        path = "data/arena-items.json";
    int lrc = load_items(path);
    if (lrc) {
        fprintf(stderr, "roost serve: no /json/:count: cannot read %s: %s\n", path, strerror(-lrc));
        return 0;
    }
    return roost_http_route(router, "GET", "/json/:count", json_items, NULL);
}

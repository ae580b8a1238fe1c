/*
 * HttpArena's HTTP/1.1 profiles for `roost serve`: GET /pipeline, GET|POST /baseline11,
 * GET /json/:count and POST /upload. The /json dataset is read once, before the reactors
 * start; each request serialises its items afresh with the JSON writer (the profile forbids
 * cached bodies). /upload is a streaming route: it counts the body as it arrives and never
 * holds it whole.
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
static bool have_items; /* the dataset loaded: /json/:count is routed */

/* Checked once, in serve_arena_routes. */
static roost_http_field text_plain, app_json;

static int text(roost_http_res *res, int status, const char *body, size_t len)
{
    int rc = roost_http_res_status(res, status);
    rc = rc ? rc : roost_http_res_field(res, &text_plain);
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
    int rc = roost_http_res_field(res, &app_json);
    return rc ? rc : roost_http_res_body(res, w->buf, w->len);
}

/* Reads the body as it arrives and answers how many bytes it had. */
static int upload(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)arg;
    unsigned long long total = 0;
    struct roost_str chunk;
    int n;
    while ((n = roost_http_req_read(req, &chunk)) > 0)
        total += (unsigned)n;
    if (n < 0)
        return n; /* the server answers the failed read's status (400, 408, 413) and closes */
    char out[24];
    int len = snprintf(out, sizeof(out), "%llu", total);
    return text(res, 200, out, (size_t)len);
}

/*
 * Reads the dataset: the shape data/gen-arena-items.py writes, one object per line. Returns 0,
 * -errno when the file cannot be read, or -EINVAL with *bad_line the line that is not an item
 * (0: fewer than 50 items).
 */
static int load_items(const char *path, unsigned *bad_line)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    char line[512];
    n_items = 0;
    *bad_line = 0;
    for (unsigned lineno = 1; fgets(line, sizeof(line), f) && n_items < ARENA_ITEMS_MAX; lineno++) {
        if (line[0] == '[' || line[0] == ']' || line[0] == '\n')
            continue; /* the array's brackets */
        struct arena_item *x = &items[n_items];
        long long id, price, qty, score, cnt;
        char active[6];
        int got = sscanf(line,
                         "{\"id\":%lld,\"name\":\"%63[^\"]\",\"category\":\"%31[^\"]\","
                         "\"price\":%lld,\"quantity\":%lld,\"active\":%5[a-z],"
                         "\"tags\":[%127[^]]],\"rating\":{\"score\":%lld,\"count\":%lld}}",
                         &id, x->name, x->category, &price, &qty, active, x->tags, &score, &cnt);
        if (got != 9) {
            *bad_line = lineno;
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

int serve_arena_dataset(const char *flag)
{
    const char *path = flag && *flag ? flag : getenv("ROOST_SERVE_DATASET");
    bool chosen = path && *path;
    if (!chosen)
        path = "data/arena-items.json";
    unsigned bad_line = 0;
    int rc = load_items(path, &bad_line);
    have_items = rc == 0;
    if (rc == 0)
        return 0;
    char why[96];
    if (rc != -EINVAL)
        snprintf(why, sizeof(why), "%s", strerror(-rc));
    else if (bad_line)
        snprintf(why, sizeof(why), "line %u is not a dataset item", bad_line);
    else
        snprintf(why, sizeof(why), "fewer than %d items", ARENA_ITEMS_MAX);
    if (chosen) {
        fprintf(stderr, "roost serve: dataset %s: %s\n", path, why);
        return -1;
    }
    fprintf(stderr, "roost serve: no /json/:count: cannot read %s: %s\n", path, why);
    return 0;
}

int serve_arena_routes(roost_http_router *router)
{
    int rc = roost_http_field_init(&text_plain, "Content-Type", "text/plain");
    if (!rc)
        rc = roost_http_field_init(&app_json, "Content-Type", "application/json");
    if (!rc)
        rc = roost_http_route(router, "GET", "/pipeline", pipeline, NULL);
    if (!rc)
        rc = roost_http_route(router, "GET", "/baseline11", baseline11, NULL);
    if (!rc)
        rc = roost_http_route(router, "POST", "/baseline11", baseline11, NULL);
    if (!rc)
        rc = roost_http_route_stream(router, "POST", "/upload", upload, NULL);
    if (!rc && have_items)
        rc = roost_http_route(router, "GET", "/json/:count", json_items, NULL);
    return rc;
}

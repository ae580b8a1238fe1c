/* The router: method + path patterns with `:name` segments, first match wins; the path
 * decoding and normalisation that happen before matching; the Allow list of a path. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/router.h"

struct segment {
    char *text; /* literal text, or the parameter's name */
    size_t len;
    bool param;
    bool rest; /* "*name": the last segment, a parameter holding the rest of the path */
};

struct route {
    char *method; /* NULL: any */
    size_t method_len;
    struct segment *segs;
    unsigned nsegs;
    roost_http_handler handler;
    void *arg;
    bool stream; /* roost_http_route_stream: the handler reads the body itself */
    char *literal; /* a route without parameters: the one path it matches; else NULL */
    size_t literal_len;
    unsigned next_same; /* the next route with the same literal path; UINT_MAX: none */
    bool shadowed;      /* a parameter route before this one matches its literal path too */
};

/*
 * The literal-path index: a route without parameters matches exactly one path, so a hash
 * lookup finds the first such route of a path whose method fits; only the parameter routes
 * before it still need the segment-by-segment match (first match wins). Open addressing,
 * rebuilt as routes are added (routes are added before serving and never while).
 */
struct literal_slot {
    uint32_t hash;
    unsigned route; /* the first route with this literal path; UINT_MAX: empty slot */
};

struct roost_http_router {
    struct route *routes;
    unsigned n, cap;
    unsigned nstream; /* streaming routes among them */
    struct literal_slot *slots;
    unsigned nslots;      /* a power of two, or 0 */
    unsigned *param_idx;  /* the routes with parameters, in route order */
    unsigned nparam;
};

int roost_http_router_create(roost_http_router **out)
{
    roost_http_router *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    *out = r;
    return 0;
}

static void route_free(struct route *rt)
{
    for (unsigned i = 0; i < rt->nsegs; i++)
        free(rt->segs[i].text);
    free(rt->segs);
    free(rt->method);
    free(rt->literal);
}

void roost_http_router_free(roost_http_router *r)
{
    if (!r)
        return;
    for (unsigned i = 0; i < r->n; i++)
        route_free(&r->routes[i]);
    free(r->routes);
    free(r->slots);
    free(r->param_idx);
    free(r);
}

/* Splits "/a/:b/c" into segments; "/" has none. */
static int parse_pattern(const char *pattern, struct route *rt)
{
    if (pattern[0] != '/')
        return -EINVAL;
    unsigned params = 0;
    const char *p = pattern + 1;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0 && end)
            return -EINVAL; /* "//" */
        if (len == 0)
            break; /* trailing slash: "/a/" is "/a" plus an empty last segment, refused */
        struct segment *segs = realloc(rt->segs, (rt->nsegs + 1) * sizeof(*segs));
        if (!segs)
            return -ENOMEM;
        rt->segs = segs;
        struct segment *s = &rt->segs[rt->nsegs];
        s->rest = p[0] == '*';
        s->param = p[0] == ':' || s->rest;
        if (s->param && (len == 1 || ++params > ROOST_HTTP_MAX_PARAMS))
            return -EINVAL;
        if (s->rest && end && end[1])
            return -EINVAL; /* "*name" only at the end */
        s->text = strndup(s->param ? p + 1 : p, s->param ? len - 1 : len);
        if (!s->text)
            return -ENOMEM;
        s->len = s->param ? len - 1 : len;
        rt->nsegs++;
        p += len;
        if (*p == '/')
            p++;
    }
    return 0;
}

/* Paths are short and mostly differ early: the length and the first and last 8 bytes,
 * mixed by a multiplication, spread a few dozen of them. No loop over the bytes. */
static uint32_t path_hash(const char *p, size_t n)
{
    uint64_t a = 0, b = 0;
    if (n >= 8) {
        memcpy(&a, p, 8);
        memcpy(&b, p + n - 8, 8);
    } else {
        for (size_t i = 0; i < n; i++)
            a = a << 8 | (unsigned char)p[i];
    }
    uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15u) ^ n) * 0xff51afd7ed558ccdu;
    return (uint32_t)(h >> 32);
}

/* Equal byte strings of the same length n (a compare the compiler can inline for short n). */
static bool same_bytes(const char *a, const char *b, size_t n)
{
    while (n >= 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y)
            return false;
        a += 8, b += 8, n -= 8;
    }
    while (n--)
        if (*a++ != *b++)
            return false;
    return true;
}

/* The path a parameterless route matches: "/" and its segments joined by "/". */
static int route_literal(struct route *rt, const char *pattern)
{
    for (unsigned i = 0; i < rt->nsegs; i++)
        if (rt->segs[i].param)
            return 0;
    /* a segment kind this file may grow (a wildcard) is spelled with "*": not literal */
    if (strchr(pattern, '*'))
        return 0;
    size_t n = 1;
    for (unsigned i = 0; i < rt->nsegs; i++)
        n += rt->segs[i].len + (i ? 1 : 0);
    if (!(rt->literal = malloc(n + 1)))
        return -ENOMEM;
    size_t o = 0;
    rt->literal[o++] = '/';
    for (unsigned i = 0; i < rt->nsegs; i++) {
        if (i)
            rt->literal[o++] = '/';
        memcpy(rt->literal + o, rt->segs[i].text, rt->segs[i].len);
        o += rt->segs[i].len;
    }
    rt->literal[o] = 0;
    rt->literal_len = o;
    return 0;
}

/* The slot for literal path p: the one holding it, or the empty one where it would go. */
static struct literal_slot *slot_find(const roost_http_router *r, const char *p, size_t n,
                                      uint32_t h)
{
    for (unsigned i = h & (r->nslots - 1);; i = (i + 1) & (r->nslots - 1)) {
        struct literal_slot *s = &r->slots[i];
        if (s->route == UINT_MAX)
            return s;
        const struct route *rt = &r->routes[s->route];
        if (s->hash == h && rt->literal_len == n && same_bytes(rt->literal, p, n))
            return s;
    }
}

static bool path_matches(const struct route *rt, struct roost_str path, struct roost_http_match *m);

/* Rebuilds the index over every route; at most half full. */
static int index_rebuild(roost_http_router *r)
{
    unsigned nslots = 8;
    while (nslots < 2 * r->n)
        nslots *= 2;
    struct literal_slot *slots = malloc(nslots * sizeof(*slots));
    unsigned *param_idx = malloc(r->n * sizeof(*param_idx));
    if (!slots || !param_idx) {
        free(slots);
        free(param_idx);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < nslots; i++)
        slots[i] = (struct literal_slot){0, UINT_MAX};
    free(r->slots);
    free(r->param_idx);
    r->slots = slots;
    r->nslots = nslots;
    r->param_idx = param_idx;
    r->nparam = 0;
    for (unsigned i = 0; i < r->n; i++) {
        struct route *rt = &r->routes[i];
        rt->next_same = UINT_MAX;
        if (!rt->literal) {
            r->param_idx[r->nparam++] = i;
            continue;
        }
        /* Whether a parameter route before it matches its path depends on nothing but the
         * path: decided here once, not per request. */
        struct roost_http_match scratch;
        struct roost_str lit = {rt->literal, rt->literal_len};
        rt->shadowed = false;
        for (unsigned k = 0; k < r->nparam && !rt->shadowed; k++)
            rt->shadowed = path_matches(&r->routes[r->param_idx[k]], lit, &scratch);
        uint32_t h = path_hash(rt->literal, rt->literal_len);
        struct literal_slot *s = slot_find(r, rt->literal, rt->literal_len, h);
        if (s->route == UINT_MAX) {
            *s = (struct literal_slot){h, i};
            continue;
        }
        unsigned j = s->route;
        while (r->routes[j].next_same != UINT_MAX)
            j = r->routes[j].next_same;
        r->routes[j].next_same = i;
    }
    return 0;
}

int roost_http_route(roost_http_router *r, const char *method, const char *pattern,
                     roost_http_handler h, void *arg)
{
    if (!pattern || !h)
        return -EINVAL;
    if (r->n == r->cap) {
        unsigned cap = r->cap ? r->cap * 2 : 8;
        struct route *routes = realloc(r->routes, cap * sizeof(*routes));
        if (!routes)
            return -ENOMEM;
        r->routes = routes;
        r->cap = cap;
    }
    struct route *rt = &r->routes[r->n];
    memset(rt, 0, sizeof(*rt));
    rt->handler = h;
    rt->arg = arg;
    int rc = 0;
    if (method && !(rt->method = strdup(method)))
        rc = -ENOMEM;
    rt->method_len = method ? strlen(method) : 0;
    if (rc == 0)
        rc = parse_pattern(pattern, rt);
    if (rc == 0)
        rc = route_literal(rt, pattern);
    if (rc < 0) {
        route_free(rt);
        return rc;
    }
    r->n++;
    if ((rc = index_rebuild(r)) < 0) {
        r->n--;
        route_free(rt);
        return rc;
    }
    return 0;
}

int roost_http_route_stream(roost_http_router *r, const char *method, const char *pattern,
                            roost_http_handler h, void *arg)
{
    int rc = roost_http_route(r, method, pattern, h, arg);
    if (rc == 0) {
        r->routes[r->n - 1].stream = true;
        r->nstream++;
    }
    return rc;
}

bool http_router_has_stream(const roost_http_router *r)
{
    return r->nstream > 0;
}

static bool str_is(struct roost_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

/* Does path match rt's segments? Fills m's params on success. */
static bool path_matches(const struct route *rt, struct roost_str path, struct roost_http_match *m)
{
    const char *p = path.p, *end = path.p + path.n;
    if (p == end || *p != '/')
        return false;
    p++;
    m->nparams = 0;
    for (unsigned i = 0; i < rt->nsegs; i++) {
        const struct segment *s = &rt->segs[i];
        const char *slash = s->rest ? NULL : memchr(p, '/', (size_t)(end - p));
        const char *seg_end = slash ? slash : end;
        size_t len = (size_t)(seg_end - p);
        if (len == 0)
            return false;
        if (s->param) {
            m->params[m->nparams].name = (struct roost_str){s->text, s->len};
            m->params[m->nparams].value = (struct roost_str){p, len};
            m->nparams++;
        } else if (len != s->len || memcmp(p, s->text, len) != 0) {
            return false;
        }
        p = seg_end;
        if (i + 1 < rt->nsegs) {
            if (p == end)
                return false;
            p++; /* the slash */
        }
    }
    return p == end;
}

static bool method_is(const struct route *rt, struct roost_str method)
{
    return !rt->method ||
           (method.n == rt->method_len && same_bytes(method.p, rt->method, rt->method_len));
}

int http_router_match(const roost_http_router *r, struct roost_str method, struct roost_str path,
                      struct roost_http_match *m)
{
    if (r->nslots) {
        /* The first literal route of this path whose method fits, unless a parameter route
         * before it matches too: what the scan below would find, without the scan. */
        const struct literal_slot *s = slot_find(r, path.p, path.n, path_hash(path.p, path.n));
        unsigned i = s->route;
        while (i != UINT_MAX && !method_is(&r->routes[i], method))
            i = r->routes[i].next_same;
        if (i != UINT_MAX) {
            for (unsigned k = 0; r->routes[i].shadowed && k < r->nparam && r->param_idx[k] < i;
                 k++) {
                const struct route *pr = &r->routes[r->param_idx[k]];
                if (method_is(pr, method) && path_matches(pr, path, m)) {
                    m->handler = pr->handler;
                    m->arg = pr->arg;
                    m->stream = pr->stream;
                    return 0;
                }
            }
            m->handler = r->routes[i].handler;
            m->arg = r->routes[i].arg;
            m->stream = r->routes[i].stream;
            m->nparams = 0;
            return 0;
        }
        /* No literal route for this path and method: 404, 405, HEAD answered by GET, or a
         * parameter route. */
    }
    bool path_seen = false;
    const struct route *get_route = NULL;
    struct roost_http_match get_match;
    for (unsigned i = 0; i < r->n; i++) {
        const struct route *rt = &r->routes[i];
        struct roost_http_match cand;
        if (!path_matches(rt, path, &cand))
            continue;
        path_seen = true;
        if (method_is(rt, method)) {
            *m = cand;
            m->handler = rt->handler;
            m->arg = rt->arg;
            m->stream = rt->stream;
            return 0;
        }
        if (!get_route && str_is(method, "HEAD") && !strcmp(rt->method, "GET")) {
            get_route = rt;
            get_match = cand;
        }
    }
    if (get_route) {
        *m = get_match;
        m->handler = get_route->handler;
        m->arg = get_route->arg;
        m->stream = get_route->stream;
        return 0;
    }
    return path_seen ? 405 : 404;
}

static int hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

bool http_path_is_normal(const char *raw, size_t n)
{
    /* one pass: a "%", or a segment that is exactly "." or ".." */
    for (size_t i = 0; i < n; i++) {
        if (raw[i] == '%')
            return false;
        if (raw[i] == '/' && i + 1 < n && raw[i + 1] == '.') {
            size_t k = i + 2 < n && raw[i + 2] == '.' ? i + 3 : i + 2;
            if (k == n || raw[k] == '/')
                return false;
        }
    }
    return true;
}

int http_path_normalize(const char *raw, size_t n, char *out)
{
    if (n == 0 || raw[0] != '/')
        return -EINVAL;
    /* out holds "/" and the kept segments, each followed by "/" unless it is the last */
    size_t o = 1, i = 1;
    out[0] = '/';
    for (;;) {
        size_t seg = o;
        while (i < n && raw[i] != '/') {
            unsigned char c = (unsigned char)raw[i];
            if (c == '%') {
                int hi = i + 2 < n ? hex_digit((unsigned char)raw[i + 1]) : -1;
                int lo = hi >= 0 ? hex_digit((unsigned char)raw[i + 2]) : -1;
                if (lo < 0)
                    return -EINVAL;
                c = (unsigned char)(hi << 4 | lo);
                if (c == '/' || c == 0 || c == '\r' || c == '\n')
                    return -EINVAL;
                i += 2;
            }
            out[o++] = (char)c;
            i++;
        }
        size_t len = o - seg;
        bool dot = len == 1 && out[seg] == '.';
        bool dotdot = len == 2 && out[seg] == '.' && out[seg + 1] == '.';
        if (dot) {
            o = seg; /* "/a/." is "/a/": the slash before it stays */
        } else if (dotdot) {
            if (seg == 1)
                return -EINVAL; /* above the root: refused rather than clamped */
            o = seg - 1;
            while (out[o - 1] != '/')
                o--;
        }
        if (i == n)
            break;
        i++; /* the "/" */
        if (!dot && !dotdot)
            out[o++] = '/';
    }
    return (int)o;
}

/* Appends method to the comma-separated list in buf unless it is there already. */
static void allow_add(char *buf, size_t cap, size_t *len, const char *method)
{
    size_t m = strlen(method);
    for (const char *p = buf; p < buf + *len;) {
        const char *comma = memchr(p, ',', (size_t)(buf + *len - p));
        size_t n = comma ? (size_t)(comma - p) : (size_t)(buf + *len - p);
        if (n == m && memcmp(p, method, m) == 0)
            return;
        p += n + (comma ? 2 : 0);
    }
    size_t need = (*len ? 2 : 0) + m;
    if (*len + need + 1 > cap)
        return;
    if (*len) {
        memcpy(buf + *len, ", ", 2);
        *len += 2;
    }
    memcpy(buf + *len, method, m);
    *len += m;
    buf[*len] = 0;
}

size_t http_router_allow(const roost_http_router *r, struct roost_str path, char *buf, size_t cap)
{
    size_t len = 0;
    if (cap)
        buf[0] = 0;
    for (unsigned i = 0; i < r->n; i++) {
        const struct route *rt = &r->routes[i];
        struct roost_http_match m;
        if (!rt->method || (path.p && !path_matches(rt, path, &m)))
            continue;
        allow_add(buf, cap, &len, rt->method);
        if (!strcmp(rt->method, "GET"))
            allow_add(buf, cap, &len, "HEAD");
    }
    allow_add(buf, cap, &len, "OPTIONS");
    return len;
}

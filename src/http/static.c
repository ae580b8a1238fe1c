/*
 * Static files: roost_http_static_handler serves a directory's files.
 *
 * Escapes. The path the router hands over is already percent-decoded with dot-segments
 * removed, and a "%2F" or "%00" in it was answered 400 before routing (router.c). What is
 * left is refused here when it could still mean something else than a name under the
 * directory (an empty or dot segment, a leading "/", NUL), and the kernel has the last
 * word: openat2 with RESOLVE_BENEATH fails any resolution that leaves the directory ("..",
 * an absolute path, a symlink pointing out, at any depth) and RESOLVE_NO_MAGICLINKS refuses
 * /proc-style links. Opening a FIFO could block, so files are opened O_NONBLOCK and checked
 * to be regular before anything is read (the net layer clears the flag before a ring op
 * reads the file).
 *
 * Blocking. The open is tried with RESOLVE_CACHED and goes through the ring only when the
 * lookup would touch the disk (net_file_openat2); the stat is fstat on the open file, whose
 * inode the open brought into memory (IORING_OP_STATX would be an io-wq round trip per
 * request for the same answer); the body goes out with roost_http_res_file. What a tick
 * opened is shared by the requests of that tick only (cache_of), so a file changed on disk is
 * seen, with its new ETag, by every request read after the change.
 */
#define _GNU_SOURCE /* strptime, timegm, memmem */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <roost/http_static.h>

#include "http/static.h"
#include "net/net.h"

#define STATIC_MAX_PATH 1024

/* The per-tick cache (below): names per reactor, name length, reactors with one. */
#define STATIC_CACHE_ENTRIES 16
#define STATIC_CACHE_NAME 256
#define STATIC_CACHE_REACTORS 256

/* A file's representations: [HTTP_ENC_IDENTITY] always open, the siblings -1 when absent. */
struct reps {
    int fd[3];
    struct stat st[3];
    unsigned have; /* HTTP_ENC_HAVE bits of the siblings present */
};

struct cache_entry {
    size_t n;
    char name[STATIC_CACHE_NAME];
    struct reps reps;
};

/* One reactor's files opened during its current tick; swept by a work item the reactor runs
 * at the start of its next tick. Touched only on that reactor's thread. */
struct static_cache {
    struct roost_work sweep;
    bool posted;
    unsigned n;
    struct cache_entry e[STATIC_CACHE_ENTRIES];
};

struct roost_http_static {
    int dirfd;
    struct roost_http_static_opts opts;
    char *cache_control;
    struct static_cache *caches[STATIC_CACHE_REACTORS]; /* by reactor id, made on first use */
};

static void close_reps(struct reps *o, int keep)
{
    for (int i = 0; i < 3; i++)
        if (i != keep && o->fd[i] >= 0)
            close(o->fd[i]);
}

static int cache_sweep(void *arg)
{
    struct static_cache *c = arg;
    for (unsigned i = 0; i < c->n; i++)
        close_reps(&c->e[i].reps, -1);
    c->n = 0;
    c->posted = false;
    return 0;
}

void roost_http_static_opts_init(struct roost_http_static_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->precompressed = true;
}

int roost_http_static_open(const char *dir, const struct roost_http_static_opts *o,
                           roost_http_static **out)
{
    struct roost_http_static_opts def;
    if (!o) {
        roost_http_static_opts_init(&def);
        o = &def;
    }
    if (o->cache_control && strpbrk(o->cache_control, "\r\n"))
        return -EINVAL;
    roost_http_static *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->opts = *o;
    if (o->cache_control && !(s->cache_control = strdup(o->cache_control))) {
        free(s);
        return -ENOMEM;
    }
    s->opts.cache_control = s->cache_control;
    s->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0) {
        int rc = -errno;
        free(s->cache_control);
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void roost_http_static_close(roost_http_static *s)
{
    if (!s)
        return;
    for (unsigned i = 0; i < STATIC_CACHE_REACTORS; i++) {
        if (s->caches[i]) {
            cache_sweep(s->caches[i]);
            free(s->caches[i]);
        }
    }
    close(s->dirfd);
    free(s->cache_control);
    free(s);
}

/* ---- the pure decisions ------------------------------------------------------------------ */

const char *http_static_content_type(const char *name, size_t n)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {"html", "text/html; charset=utf-8"},
        {"htm", "text/html; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"},
        {"mjs", "text/javascript; charset=utf-8"},
        {"json", "application/json"},
        {"txt", "text/plain; charset=utf-8"},
        {"svg", "image/svg+xml"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},
        {"webp", "image/webp"},
        {"ico", "image/x-icon"},
        {"wasm", "application/wasm"},
        {"woff2", "font/woff2"},
        {"pdf", "application/pdf"},
        {"xml", "application/xml"},
    };
    const char *dot = NULL;
    for (size_t i = n; i-- > 0 && name[i] != '/';)
        if (name[i] == '.') {
            dot = name + i;
            break;
        }
    if (dot) {
        size_t en = (size_t)(name + n - dot - 1);
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (strlen(types[i].ext) == en && !strncasecmp(dot + 1, types[i].ext, en))
                return types[i].type;
    }
    return "application/octet-stream";
}

size_t http_static_etag(char *buf, uint64_t size, int64_t mtime_ns, uint64_t ino)
{
    int n = snprintf(buf, 64, "\"%llx-%llx-%llx\"", (unsigned long long)size,
                     (unsigned long long)mtime_ns, (unsigned long long)ino);
    return (size_t)n;
}

bool http_static_parse_date(struct roost_str s, time_t *out)
{
    static const char *const formats[] = {
        "%a, %d %b %Y %H:%M:%S GMT", /* IMF-fixdate */
        "%A, %d-%b-%y %H:%M:%S GMT", /* RFC 850 */
        "%a %b %e %H:%M:%S %Y",      /* asctime */
    };
    char text[64];
    if (!s.p || s.n == 0 || s.n >= sizeof(text))
        return false;
    memcpy(text, s.p, s.n);
    text[s.n] = 0;
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        struct tm tm;
        memset(&tm, 0, sizeof(tm));
        const char *end = strptime(text, formats[i], &tm);
        if (end && *end == 0) {
            *out = timegm(&tm);
            return true;
        }
    }
    return false;
}

size_t http_static_format_date(char *buf, time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    return strftime(buf, 32, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static struct roost_str trim(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    return (struct roost_str){p, (size_t)(end - p)};
}

/* Calls each comma-separated element of list (trimmed, empty ones skipped) until fn says
 * stop; returns true if it did. */
static bool each_element(struct roost_str list, bool (*fn)(struct roost_str el, void *arg),
                         void *arg)
{
    const char *p = list.p, *end = list.p + list.n;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *el_end = comma ? comma : end;
        struct roost_str el = trim(p, el_end);
        if (el.n && fn(el, arg))
            return true;
        p = el_end + (comma ? 1 : 0);
    }
    return false;
}

/* Weak comparison (RFC 9110 §8.8.3.2): the opaque tags, W/ ignored. */
static bool etag_matches_weak(struct roost_str el, void *arg)
{
    const char *etag = arg;
    if (el.n == 1 && el.p[0] == '*')
        return true;
    if (el.n > 2 && el.p[0] == 'W' && el.p[1] == '/')
        el.p += 2, el.n -= 2;
    return el.n == strlen(etag) && !memcmp(el.p, etag, el.n);
}

bool http_static_not_modified(struct roost_str inm, struct roost_str ims, const char *etag,
                              time_t mtime)
{
    if (inm.p)
        return each_element(inm, etag_matches_weak, (void *)etag);
    time_t since;
    if (ims.p && http_static_parse_date(trim(ims.p, ims.p + ims.n), &since))
        return mtime <= since;
    return false;
}

bool http_static_if_range(struct roost_str if_range, const char *etag, time_t mtime)
{
    if (!if_range.p)
        return true;
    struct roost_str v = trim(if_range.p, if_range.p + if_range.n);
    /* An entity tag ("..." or W/"..."), else a date: "Wed, ..." starts with a W too. */
    if (v.n && (v.p[0] == '"' || (v.n > 1 && v.p[0] == 'W' && v.p[1] == '/')))
        return v.p[0] == '"' && v.n == strlen(etag) && !memcmp(v.p, etag, v.n); /* strong */
    time_t t;
    return http_static_parse_date(v, &t) && t == mtime;
}

/* Digits of [p, end) as a number; false if empty, not all digits, or too large. */
static bool parse_u64(const char *p, const char *end, uint64_t *out)
{
    if (p == end || end - p > 18)
        return false;
    uint64_t v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return true;
}

enum http_range_result http_static_range(struct roost_str range, uint64_t size, uint64_t *off,
                                         uint64_t *len)
{
    struct roost_str v = trim(range.p, range.p + range.n);
    if (v.n < 6 || strncasecmp(v.p, "bytes=", 6) != 0)
        return HTTP_RANGE_WHOLE;
    struct roost_str spec = trim(v.p + 6, v.p + v.n);
    if (memchr(spec.p, ',', spec.n))
        return HTTP_RANGE_WHOLE; /* several ranges: the whole file (§14.2) */
    const char *end = spec.p + spec.n;
    const char *dash = memchr(spec.p, '-', spec.n);
    if (!dash)
        return HTTP_RANGE_WHOLE;
    uint64_t first, last;
    if (dash == spec.p) { /* -n: the last n bytes */
        if (!parse_u64(dash + 1, end, &last))
            return HTTP_RANGE_WHOLE;
        if (last == 0 || size == 0)
            return HTTP_RANGE_UNSATISFIABLE;
        *len = last < size ? last : size;
        *off = size - *len;
        return HTTP_RANGE_PARTIAL;
    }
    if (!parse_u64(spec.p, dash, &first))
        return HTTP_RANGE_WHOLE;
    if (dash + 1 == end) {
        last = UINT64_MAX;
    } else if (!parse_u64(dash + 1, end, &last) || last < first) {
        return HTTP_RANGE_WHOLE; /* invalid: ignored */
    }
    if (first >= size)
        return HTTP_RANGE_UNSATISFIABLE;
    if (last >= size)
        last = size - 1;
    *off = first;
    *len = last - first + 1;
    return HTTP_RANGE_PARTIAL;
}

/* "0", "0.5", "1.000": thousandths, or -1 if it is no qvalue (RFC 9110 §12.4.2). */
static int parse_q(struct roost_str q)
{
    if (q.n == 0 || q.n > 5 || (q.p[0] != '0' && q.p[0] != '1'))
        return -1;
    int v = (q.p[0] - '0') * 1000;
    if (q.n == 1)
        return v;
    if (q.p[1] != '.')
        return -1;
    int scale = 100;
    for (size_t i = 2; i < q.n; i++, scale /= 10) {
        if (q.p[i] < '0' || q.p[i] > '9')
            return -1;
        v += (q.p[i] - '0') * scale;
    }
    return v > 1000 ? -1 : v;
}

struct ae_scan {
    int q[3];   /* per encoding: -1 not listed */
    int star_q; /* -1: no "*" */
};

static bool ae_element(struct roost_str el, void *arg)
{
    struct ae_scan *sc = arg;
    const char *semi = memchr(el.p, ';', el.n);
    struct roost_str coding = trim(el.p, semi ? semi : el.p + el.n);
    int q = 1000;
    if (semi) {
        struct roost_str param = trim(semi + 1, el.p + el.n);
        if (param.n < 2 || (param.p[0] | 0x20) != 'q' || param.p[1] != '=')
            return false; /* an unknown parameter: skip the element */
        q = parse_q(trim(param.p + 2, param.p + param.n));
        if (q < 0)
            return false;
    }
    int *slot = NULL;
    if (coding.n == 2 && !strncasecmp(coding.p, "br", 2))
        slot = &sc->q[HTTP_ENC_BR];
    else if ((coding.n == 4 && !strncasecmp(coding.p, "gzip", 4)) ||
             (coding.n == 6 && !strncasecmp(coding.p, "x-gzip", 6)))
        slot = &sc->q[HTTP_ENC_GZIP];
    else if (coding.n == 1 && coding.p[0] == '*')
        slot = &sc->star_q;
    if (slot && q > *slot)
        *slot = q;
    return false;
}

enum http_encoding http_static_pick_encoding(struct roost_str ae, unsigned have)
{
    if (!ae.p || !(have & (HTTP_ENC_HAVE(HTTP_ENC_BR) | HTTP_ENC_HAVE(HTTP_ENC_GZIP))))
        return HTTP_ENC_IDENTITY;
    struct ae_scan sc = {.q = {-1, -1, -1}, .star_q = -1};
    each_element(ae, ae_element, &sc);
    enum http_encoding best = HTTP_ENC_IDENTITY;
    int best_q = 0;
    static const enum http_encoding order[] = {HTTP_ENC_BR, HTTP_ENC_GZIP};
    for (size_t i = 0; i < 2; i++) {
        enum http_encoding e = order[i];
        if (!(have & HTTP_ENC_HAVE(e)))
            continue;
        int q = sc.q[e] >= 0 ? sc.q[e] : sc.star_q;
        if (q > best_q) {
            best = e;
            best_q = q;
        }
    }
    return best;
}

/* ---- the handler ------------------------------------------------------------------------- */

/* A name under the directory, or false: no leading "/", no empty, "." or ".." segment, no
 * NUL (the router's decoding already refused %2F and %00; this holds for any caller). */
static bool name_ok(struct roost_str f)
{
    if (f.n == 0 || f.n >= STATIC_MAX_PATH - 4 || memchr(f.p, 0, f.n))
        return false;
    const char *p = f.p, *end = f.p + f.n;
    while (p <= end) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *seg_end = slash ? slash : end;
        size_t n = (size_t)(seg_end - p);
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        p = seg_end + 1;
    }
    return true;
}

/* A regular file under the directory, opened for reading: fd (>= 0), -ENOENT (answer 404),
 * or another -errno. */
static int open_regular(roost_http_static *s, roost_reactor *r, const char *path, struct stat *st)
{
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    int fd = net_file_openat2(r, s->dirfd, path, &how);
    if (fd < 0) {
        switch (fd) {
        case -EMFILE:
        case -ENFILE:
        case -ENOMEM:
        case -ECANCELED:
        case -ESHUTDOWN:
            return fd;
        default: /* ENOENT, ENOTDIR, EXDEV (leaves the directory), ELOOP, EACCES, ... */
            return -ENOENT;
        }
    }
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return -ENOENT;
    }
    return fd; /* still O_NONBLOCK: the ring paths clear it (net_file_read, send_file) */
}

/* The file (name in path, NUL-terminated, with room for a suffix) and, with precompressed
 * on, its .br and .gz siblings. 0, -ENOENT or -errno. */
static int open_reps(roost_http_static *s, roost_reactor *r, char *path, size_t n, struct reps *o)
{
    static const char *const ext[] = {[HTTP_ENC_BR] = ".br", [HTTP_ENC_GZIP] = ".gz"};
    o->fd[HTTP_ENC_BR] = o->fd[HTTP_ENC_GZIP] = -1;
    o->have = 0;
    o->fd[HTTP_ENC_IDENTITY] = open_regular(s, r, path, &o->st[HTTP_ENC_IDENTITY]);
    if (o->fd[HTTP_ENC_IDENTITY] < 0)
        return o->fd[HTTP_ENC_IDENTITY];
    for (int e = HTTP_ENC_BR; s->opts.precompressed && e <= HTTP_ENC_GZIP; e++) {
        memcpy(path + n, ext[e], 4);
        o->fd[e] = open_regular(s, r, path, &o->st[e]);
        if (o->fd[e] >= 0)
            o->have |= HTTP_ENC_HAVE(e);
    }
    path[n] = 0;
    return 0;
}

/*
 * The per-tick cache. Under load a reactor answers many requests for the same few files in
 * one tick; they share one open (and two sibling probes, and one fstat) instead of five
 * syscalls each. An entry lives until the next tick starts (a work item posted to the
 * reactor's own context, which runs first thing in its next tick), so a file changed on
 * disk is seen by every request the reactor reads after the change, as without a cache.
 * Each response gets its own descriptor (a dup): the entry may be swept while the file is
 * still being sent. Only on the reactor's own thread: a handler on the pool (run-on=pool)
 * opens as if there were no cache.
 */
static struct static_cache *cache_of(roost_http_static *s, roost_reactor *r)
{
    unsigned id = roost_reactor_id(r);
    if (roost_reactor_current() != r || id >= STATIC_CACHE_REACTORS)
        return NULL;
    if (!s->caches[id]) {
        struct static_cache *c = calloc(1, sizeof(*c)); /* once per reactor */
        if (!c)
            return NULL;
        c->sweep.fn = cache_sweep;
        c->sweep.arg = c;
        s->caches[id] = c;
    }
    return s->caches[id];
}

static struct reps *cache_find(struct static_cache *c, struct roost_str name)
{
    for (unsigned i = 0; i < c->n; i++)
        if (c->e[i].n == name.n && !memcmp(c->e[i].name, name.p, name.n))
            return &c->e[i].reps;
    return NULL;
}

/* Keeps o (its descriptors become the cache's); NULL when full or the sweep cannot run. */
static struct reps *cache_add(struct static_cache *c, roost_reactor *r, struct roost_str name,
                              const struct reps *o)
{
    if (c->n == STATIC_CACHE_ENTRIES || name.n > STATIC_CACHE_NAME)
        return NULL;
    if (!c->posted && roost_ctx_post_work(roost_reactor_ctx(r), &c->sweep) < 0)
        return NULL;
    c->posted = true;
    struct cache_entry *e = &c->e[c->n++];
    e->n = name.n;
    memcpy(e->name, name.p, name.n);
    e->reps = *o;
    return &e->reps;
}

static bool header(const roost_http_req *req, const char *name, struct roost_str *v)
{
    if (roost_http_req_header(req, name, v))
        return true;
    *v = (struct roost_str){NULL, 0};
    return false;
}

static int answer_error(roost_http_res *res, int rc)
{
    if (rc == -ENOENT)
        return roost_http_res_status(res, 404);
    if (rc == -EMFILE || rc == -ENFILE || rc == -ENOMEM)
        return roost_http_res_status(res, 503);
    return rc;
}

int roost_http_static_handler(roost_http_req *req, roost_http_res *res, void *arg)
{
    roost_http_static *s = arg;
    struct roost_str method = roost_http_req_method(req);
    bool get = method.n == 3 && !memcmp(method.p, "GET", 3);
    bool head = method.n == 4 && !memcmp(method.p, "HEAD", 4);
    if (!get && !head) {
        roost_http_res_status(res, 405);
        return roost_http_res_header(res, "Allow", "GET, HEAD");
    }
    struct roost_str name;
    if (!roost_http_req_param(req, "file", &name) || !name_ok(name))
        return roost_http_res_status(res, 404);
    char path[STATIC_MAX_PATH];
    memcpy(path, name.p, name.n);
    path[name.n] = 0;
    roost_reactor *r = roost_http_req_reactor(req);

    struct static_cache *cache = cache_of(s, r);
    struct reps own, *reps = cache ? cache_find(cache, name) : NULL;
    if (!reps) {
        int rc = open_reps(s, r, path, name.n, &own);
        if (rc < 0)
            return answer_error(res, rc);
        reps = cache ? cache_add(cache, r, name, &own) : NULL;
    }

    /* Precompressed siblings: which exist (Vary), and the one the client takes. */
    static const char *const codings[] = {[HTTP_ENC_BR] = "br", [HTTP_ENC_GZIP] = "gzip"};
    struct roost_str ae;
    header(req, "Accept-Encoding", &ae);
    const struct reps *from = reps ? reps : &own;
    enum http_encoding pick = http_static_pick_encoding(ae, from->have);
    const char *coding = codings[pick]; /* NULL for identity */
    bool vary = from->have != 0;
    struct stat st = from->st[pick];
    int fd;
    if (reps) {
        fd = fcntl(reps->fd[pick], F_DUPFD_CLOEXEC, 0); /* the response's own: see cache_of */
        if (fd < 0)
            return answer_error(res, -errno);
    } else {
        fd = own.fd[pick];
        close_reps(&own, pick);
    }

    char etag[64], last_modified[32];
    http_static_etag(etag, (uint64_t)st.st_size,
                     (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
                     (uint64_t)st.st_ino);
    http_static_format_date(last_modified, st.st_mtim.tv_sec);
    int rc = roost_http_res_header(res, "ETag", etag);
    if (rc == 0 && vary)
        rc = roost_http_res_header(res, "Vary", "Accept-Encoding");
    if (rc == 0 && s->opts.cache_control)
        rc = roost_http_res_header(res, "Cache-Control", s->opts.cache_control);
    if (rc == 0)
        rc = roost_http_res_header(res, "Last-Modified", last_modified);
    if (rc < 0) {
        close(fd);
        return rc;
    }

    struct roost_str inm, ims;
    header(req, "If-None-Match", &inm);
    header(req, "If-Modified-Since", &ims);
    if (http_static_not_modified(inm, ims, etag, st.st_mtim.tv_sec)) {
        close(fd);
        return roost_http_res_status(res, 304);
    }

    rc = roost_http_res_header(res, "Content-Type", http_static_content_type(name.p, name.n));
    if (rc == 0 && coding)
        rc = roost_http_res_header(res, "Content-Encoding", coding);
    if (rc == 0)
        rc = roost_http_res_header(res, "Accept-Ranges", "bytes");
    if (rc < 0) {
        close(fd);
        return rc;
    }
    uint64_t size = (uint64_t)st.st_size, off = 0, len = size;
    struct roost_str range, if_range;
    header(req, "If-Range", &if_range);
    if (header(req, "Range", &range) && http_static_if_range(if_range, etag, st.st_mtim.tv_sec)) {
        char cr[80];
        switch (http_static_range(range, size, &off, &len)) {
        case HTTP_RANGE_UNSATISFIABLE:
            close(fd);
            snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)size);
            roost_http_res_status(res, 416);
            return roost_http_res_header(res, "Content-Range", cr);
        case HTTP_RANGE_PARTIAL:
            snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)off,
                     (unsigned long long)(off + len - 1), (unsigned long long)size);
            roost_http_res_status(res, 206);
            rc = roost_http_res_header(res, "Content-Range", cr);
            if (rc < 0) {
                close(fd);
                return rc;
            }
            break;
        case HTTP_RANGE_WHOLE:
            break;
        }
    }
    return roost_http_res_file(res, fd, (off_t)off, (size_t)len);
}

/*
 * `roost load URL...`: an HTTP/1.1 load generator on the client engine. Each connection is
 * a task on one of -t reactors: it keeps up to -p requests in flight (pipelined, topped up
 * in one gathered write once half have been answered), frames every response with the client's
 * reader (the server parser's code), and records each latency in a fixed-memory histogram of its
 * own. Nothing is allocated per request: request bytes are prebuilt templates sent by reference,
 * in-flight bookkeeping is a ring of depth -p per connection, and received bytes are framed in the
 * receive buffer itself (only a response's unfinished tail is copied aside).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <roost.h>

#include "cli/commands.h"
#include "http/bytes.h"
#include "http/client.h"

/* ---- the latency histogram: log-linear, 32 sub-buckets per power of two (3% precision) ---- */

#define HIST_SUB 32u
#define HIST_BUCKETS (40u * HIST_SUB) /* nanoseconds up to 2^40 (18 minutes) */

static unsigned hist_index(uint64_t ns)
{
    if (ns < 2 * HIST_SUB)
        return (unsigned)ns;
    unsigned e = 63u - (unsigned)__builtin_clzll(ns) - 5u; /* ns >> e is in [32, 64) */
    unsigned i = e * HIST_SUB + (unsigned)(ns >> e);
    return i < HIST_BUCKETS ? i : HIST_BUCKETS - 1;
}

/* The middle of bucket i's range, in nanoseconds. */
static double hist_value(unsigned i)
{
    if (i < 2 * HIST_SUB)
        return i;
    unsigned e = i / HIST_SUB - 1;
    uint64_t lo = (uint64_t)(i - e * HIST_SUB) << e;
    return (double)lo + (double)((1ull << e) - 1) / 2;
}

/* ---- what a run is told ----------------------------------------------------------------- */

enum { ERR_CONNECT, ERR_RESET, ERR_TIMEOUT, ERR_PARSE, ERR_OTHER, ERR_KINDS };
static const char *const err_names[ERR_KINDS] = {"connect", "reset", "timeout", "parse", "other"};

struct tmpl {
    char *p;
    size_t len;
    bool head; /* a HEAD request: its response has no body */
};

struct load {
    struct http_url origin;
    unsigned conns, threads, depth, per_conn;
    uint64_t duration_ms, total; /* total: -n, 0 for a duration */
    uint64_t timeout_ms;
    bool json;
    struct tmpl *tmpls;
    unsigned ntmpls;
    struct roost_http_limits limits;
    _Atomic int64_t budget; /* -n: requests not claimed yet */
    _Atomic bool stop;
    _Atomic unsigned done; /* connection tasks finished */
};

/* Per connection: counters written by its task only (relaxed stores, read by the progress
 * line), and its in-flight ring. */
struct lconn {
    struct load *L;
    roost_task *t;
    unsigned id;
    _Atomic uint64_t responses;
    uint64_t bytes;
    uint64_t status[6]; /* [1] 1xx ... [5] 5xx, [0] other */
    _Atomic uint64_t errors[ERR_KINDS];
    uint64_t max_ns;
    uint32_t hist[HIST_BUCKETS];

    roost_conn *c;
    struct iovec *iov;
    uint64_t *sent_ns;
    unsigned *which; /* template of each request in flight */
    unsigned ring_head, inflight;
    unsigned next; /* next template */
    struct http_reader rd;
    struct roost_bytes tail; /* an unfinished response's bytes, across receives */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void count_error(struct lconn *lc, int rc)
{
    if (atomic_load_explicit(&lc->L->stop, memory_order_relaxed))
        return; /* the run is over: what the stop broke off is no error */
    unsigned k = rc == -ETIMEDOUT                               ? ERR_TIMEOUT
                 : rc == -EPROTO || rc == -EMSGSIZE             ? ERR_PARSE
                 : rc == -ECONNRESET || rc == -EPIPE || rc == 0 ? ERR_RESET
                                                                : ERR_OTHER;
    atomic_fetch_add_explicit(&lc->errors[k], 1, memory_order_relaxed);
}

/* Claims one request of the -n budget (or checks the clock's stop flag). */
static bool claim(struct load *L)
{
    if (atomic_load_explicit(&L->stop, memory_order_relaxed))
        return false;
    if (!L->total)
        return true;
    if (atomic_fetch_sub_explicit(&L->budget, 1, memory_order_relaxed) > 0)
        return true;
    atomic_fetch_add_explicit(&L->budget, 1, memory_order_relaxed);
    return false;
}

static void start_reader(struct lconn *lc)
{
    unsigned slot = lc->ring_head;
    http_reader_start(&lc->rd, &lc->L->limits, lc->L->tmpls[lc->which[slot]].head);
}

/*
 * Frames what arrived: every completed response is counted and timed. Returns 0 (keep the
 * connection), 1 (a response closed it: stop here), or -errno. *used: bytes consumed.
 */
static int frame(struct lconn *lc, const char *p, size_t len, size_t *used, uint64_t now)
{
    size_t off = 0;
    while (lc->inflight) {
        size_t n = 0;
        struct roost_http_str span;
        int ev = http_reader_feed(&lc->rd, p + off, len - off, &n, &span);
        if (ev < 0) {
            *used = off;
            return ev;
        }
        if (ev == HTTP_RD_GOT_HEAD) {
            int s = lc->rd.head.status / 100;
            lc->status[s >= 1 && s <= 5 ? s : 0]++;
        }
        off += n;
        if (ev == HTTP_RD_GOT_END) {
            uint64_t ns = now - lc->sent_ns[lc->ring_head];
            lc->hist[hist_index(ns)]++;
            if (ns > lc->max_ns)
                lc->max_ns = ns;
            atomic_store_explicit(&lc->responses,
                                  atomic_load_explicit(&lc->responses, memory_order_relaxed) + 1,
                                  memory_order_relaxed);
            bool reusable = http_reader_reusable(&lc->rd);
            lc->ring_head = (lc->ring_head + 1) % lc->L->depth;
            lc->inflight--;
            if (!reusable) {
                *used = off;
                return 1;
            }
            if (lc->inflight)
                start_reader(lc);
            continue;
        }
        if (ev == HTTP_RD_MORE && n == 0)
            break;
    }
    *used = off;
    if (!lc->inflight && off < len)
        return -EPROTO; /* bytes nobody asked for */
    return 0;
}

/* Receives once and frames; 0 to go on, 1 the connection ends cleanly, or -errno. */
static int receive(struct lconn *lc)
{
    struct roost_buf b;
    int n = roost_conn_recv(lc->c, &b);
    if (n <= 0) {
        if (n == 0 && http_reader_eof(&lc->rd) == 0 && lc->inflight == 1) {
            lc->rd.state = HTTP_RD_DONE; /* a close-delimited body ended */
            size_t used;
            frame(lc, "", 0, &used, now_ns());
            return 1;
        }
        return n;
    }
    lc->bytes += (uint64_t)n;
    uint64_t now = now_ns();
    size_t used = 0;
    int rc;
    if (lc->tail.len == 0) { /* the common case: frame the receive buffer in place */
        rc = frame(lc, b.data, b.len, &used, now);
        if (rc == 0 && used < b.len)
            rc = http_bytes_append(&lc->tail, b.data + used, b.len - used);
    } else if ((rc = http_bytes_append(&lc->tail, b.data, b.len)) == 0) {
        rc = frame(lc, lc->tail.p, lc->tail.len, &used, now);
        if (rc == 0)
            http_bytes_consume(&lc->tail, used);
    }
    roost_conn_release(lc->c, &b);
    return rc;
}

/* Fills the pipeline up to the depth: one gathered send for every request added. */
static int fill(struct lconn *lc, unsigned *sent_here)
{
    struct load *L = lc->L;
    unsigned k = 0;
    /* Top up only once half the pipeline has drained: a send per few responses costs the
     * generator a syscall (and the kernel a segment) each, a send per half-depth does not. */
    if (lc->inflight > L->depth / 2)
        return 0;
    unsigned slot = (lc->ring_head + lc->inflight) % L->depth;
    while (lc->inflight + k < L->depth && (!L->per_conn || *sent_here < L->per_conn) && claim(L)) {
        unsigned s = (slot + k) % L->depth;
        unsigned t = lc->next++ % L->ntmpls;
        lc->which[s] = t;
        lc->iov[k] = (struct iovec){L->tmpls[t].p, L->tmpls[t].len};
        k++;
        (*sent_here)++;
    }
    if (!k)
        return 0;
    uint64_t now = now_ns();
    for (unsigned i = 0; i < k; i++)
        lc->sent_ns[(slot + i) % L->depth] = now;
    bool was_idle = lc->inflight == 0;
    lc->inflight += k;
    if (was_idle)
        start_reader(lc);
    return roost_conn_sendv(lc->c, lc->iov, (int)k);
}

static int conn_task(void *arg)
{
    struct lconn *lc = arg;
    struct load *L = lc->L;
    while (!atomic_load_explicit(&L->stop, memory_order_relaxed)) {
        if (L->total && atomic_load_explicit(&L->budget, memory_order_relaxed) <= 0)
            break;
        int rc = roost_connect_timeout(L->origin.host, L->origin.port, L->timeout_ms, &lc->c);
        if (rc < 0) {
            if (rc == -ECANCELED)
                break;
            /* With -n a failed connect uses up a request, so a dead server ends the run. */
            if (L->total && !claim(L))
                break;
            if (!atomic_load_explicit(&L->stop, memory_order_relaxed))
                atomic_fetch_add_explicit(&lc->errors[ERR_CONNECT], 1, memory_order_relaxed);
            roost_sleep(10); /* a refusing server is not hammered in a tight loop */
            continue;
        }
        roost_conn_set_recv_timeout(lc->c, L->timeout_ms);
        lc->ring_head = 0;
        lc->inflight = 0;
        lc->tail.len = 0;
        unsigned sent_here = 0;
        for (;;) {
            rc = fill(lc, &sent_here);
            if (rc < 0 || lc->inflight == 0)
                break;
            rc = receive(lc);
            if (rc != 0)
                break;
        }
        if (rc < 0 || (rc == 0 && lc->inflight))
            count_error(lc, rc);
        else if (L->total) /* a server's clean close: what it left unanswered is sent again */
            atomic_fetch_add_explicit(&L->budget, lc->inflight, memory_order_relaxed);
        roost_conn_close(lc->c);
        lc->c = NULL;
        if (rc == -ECANCELED)
            break;
    }
    atomic_fetch_add(&L->done, 1);
    return 0;
}

/* ---- set-up ------------------------------------------------------------------------------ */

static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    char *p = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            char *q = realloc(p, cap);
            if (!q) {
                free(p);
                fclose(f);
                return -ENOMEM;
            }
            p = q;
        }
        size_t r = fread(p + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    *out = p;
    *len = n;
    return 0;
}

struct opts {
    const char *urls[64];
    unsigned nurls;
    const char *headers[64];
    unsigned nheaders;
    const char *method;
    const char *body;
    size_t body_len;
    char *body_buf;
    const char *raw;
};

static int build_templates(struct load *L, struct opts *o)
{
    if (o->raw) {
        char *list = strdup(o->raw);
        for (char *save = NULL, *f = strtok_r(list, ",", &save); f;
             f = strtok_r(NULL, ",", &save)) {
            struct tmpl *t = &L->tmpls[L->ntmpls];
            int rc = read_file(f, &t->p, &t->len);
            if (rc < 0 || t->len == 0) {
                fprintf(stderr, "roost load: cannot read %s: %s\n", f,
                        rc ? strerror(-rc) : "empty");
                free(list);
                return -1;
            }
            t->head = t->len > 5 && memcmp(t->p, "HEAD ", 5) == 0;
            if (++L->ntmpls == 64)
                break;
        }
        free(list);
        return 0;
    }
    for (unsigned i = 0; i < o->nurls; i++) {
        struct http_url u;
        http_url_parse(o->urls[i], &u);
        char *p = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&p, &len);
        if (!f)
            return -1;
        fprintf(f, "%s %s HTTP/1.1\r\nHost: %s\r\n", o->method, u.target, u.authority);
        for (unsigned h = 0; h < o->nheaders; h++)
            fprintf(f, "%s\r\n", o->headers[h]);
        if (o->body)
            fprintf(f, "Content-Length: %zu\r\n", o->body_len);
        fputs("\r\n", f);
        if (o->body)
            fwrite(o->body, 1, o->body_len, f);
        fclose(f);
        L->tmpls[L->ntmpls++] = (struct tmpl){p, len, strcmp(o->method, "HEAD") == 0};
    }
    return 0;
}

static bool parse_duration(const char *s, uint64_t *ms)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0)
        return false;
    double mult = !strcmp(end, "ms")             ? 1
                  : (!strcmp(end, "s") || !*end) ? 1000
                  : !strcmp(end, "m")            ? 60000
                                                 : -1;
    if (mult < 0)
        return false;
    *ms = (uint64_t)(v * mult);
    return true;
}

static bool parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || v > max || s[0] == '-')
        return false;
    *out = v;
    return true;
}

void roost_cmd_load_help(void)
{
    printf(
        "  -c N                connections (default 10)\n"
        "  -t N                threads, one reactor each (default 2)\n"
        "  -d DURATION         run time: 10s, 500ms, 1m (default 10s)\n"
        "  -n N                requests in all, instead of a duration\n"
        "  -p N                pipelining depth per connection (default 1)\n"
        "  -r, --conn-requests N  requests per connection before it reconnects (default 0: no\n"
        "                      limit; 10 is HttpArena's short-lived profile)\n"
        "  -H 'Name: value'    a request header (repeatable)\n"
        "  -m METHOD           request method (default GET)\n"
        "  -b BODY             request body; --body-file FILE reads it from FILE\n"
        "  --raw FILE,...      send these raw request files in rotation instead (same origin)\n"
        "  --timeout MS        connect and response timeout (default 10000)\n"
        "  --json              the report as one JSON object on stdout\n"
        "URLs (http://host[:port]/path) are requested in rotation; all share one origin.\n\n");
}

static int parse_args(int argc, char **argv, struct load *L, struct opts *o)
{
    L->conns = 10;
    L->threads = 2;
    L->depth = 1;
    L->duration_ms = 10000;
    L->timeout_ms = 10000;
    o->method = "GET";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') {
            if (o->nurls == 64)
                return -1;
            o->urls[o->nurls++] = a;
            continue;
        }
        if (!strcmp(a, "--json")) {
            L->json = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "roost load: %s needs a value\n", a);
            return -1;
        }
        const char *v = argv[++i];
        uint64_t n = 0;
        bool ok = true;
        if (!strcmp(a, "-c") && (ok = parse_uint(v, 1000000, &n) && n > 0))
            L->conns = (unsigned)n;
        else if (!strcmp(a, "-t") && (ok = parse_uint(v, 1024, &n) && n > 0))
            L->threads = (unsigned)n;
        else if (!strcmp(a, "-p") && (ok = parse_uint(v, 1024, &n) && n > 0))
            L->depth = (unsigned)n;
        else if ((!strcmp(a, "-r") || !strcmp(a, "--conn-requests")) && (ok = parse_uint(v, UINT32_MAX, &n)))
            L->per_conn = (unsigned)n;
        else if (!strcmp(a, "-n") && (ok = parse_uint(v, INT64_MAX, &n) && n > 0))
            L->total = n;
        else if (!strcmp(a, "-d") && (ok = parse_duration(v, &n) && n > 0))
            L->duration_ms = n;
        else if (!strcmp(a, "--timeout") && (ok = parse_uint(v, 86400000, &n)))
            L->timeout_ms = n;
        else if (!strcmp(a, "-H") && (ok = strchr(v, ':') && o->nheaders < 64))
            o->headers[o->nheaders++] = v;
        else if (!strcmp(a, "-m"))
            o->method = v;
        else if (!strcmp(a, "-b")) {
            o->body = v;
            o->body_len = strlen(v);
        } else if (!strcmp(a, "--body-file")) {
            int rc = read_file(v, &o->body_buf, &o->body_len);
            if (rc < 0) {
                fprintf(stderr, "roost load: cannot read %s: %s\n", v, strerror(-rc));
                return -1;
            }
            o->body = o->body_buf ? o->body_buf : "";
        } else if (!strcmp(a, "--raw"))
            o->raw = v;
        else if (ok) {
            fprintf(stderr, "roost load: unknown flag %s (see --help)\n", a);
            return -1;
        }
        if (!ok) {
            fprintf(stderr, "roost load: bad value for %s: %s\n", a, v);
            return -1;
        }
    }
    if (o->nurls == 0) {
        fprintf(stderr, "roost load: no URL (see --help)\n");
        return -1;
    }
    for (unsigned i = 0; i < o->nurls; i++) {
        struct http_url u;
        int rc = http_url_parse(o->urls[i], &u);
        if (rc < 0) {
            fprintf(stderr, "roost load: %s: %s\n", o->urls[i],
                    rc == -EPROTONOSUPPORT ? "only http:// is supported" : "not a URL");
            return -1;
        }
        if (i == 0)
            L->origin = u;
        else if (strcmp(u.host, L->origin.host) != 0 || u.port != L->origin.port) {
            fprintf(stderr, "roost load: every URL must have the same origin as the first\n");
            return -1;
        }
    }
    return 0;
}

/* ---- the run ------------------------------------------------------------------------------ */

static int spawn_conn(void *arg)
{
    struct lconn *lc = arg;
    return roost_spawn(conn_task, lc, &lc->t);
}

static struct lconn *conns_g;
static unsigned nconns_g;

static int join_all(void *arg)
{
    (void)arg;
    for (unsigned i = 0; i < nconns_g; i++)
        if (conns_g[i].t)
            roost_join(conns_g[i].t);
    return 0;
}

static int cancel_conn(void *arg)
{
    return roost_task_cancel(arg);
}

static uint64_t sum_responses(void)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < nconns_g; i++)
        n += atomic_load_explicit(&conns_g[i].responses, memory_order_relaxed);
    return n;
}

static uint64_t sum_errors(void)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < nconns_g; i++)
        for (unsigned k = 0; k < ERR_KINDS; k++)
            n += atomic_load_explicit(&conns_g[i].errors[k], memory_order_relaxed);
    return n;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void fmt_ns(char *buf, size_t n, double ns)
{
    if (ns < 1e3)
        snprintf(buf, n, "%.0fns", ns);
    else if (ns < 1e6)
        snprintf(buf, n, "%.1fus", ns / 1e3);
    else if (ns < 1e9)
        snprintf(buf, n, "%.2fms", ns / 1e6);
    else
        snprintf(buf, n, "%.2fs", ns / 1e9);
}

static void report(struct load *L, double secs, double cpu)
{
    static uint64_t hist[HIST_BUCKETS];
    uint64_t responses = 0, bytes = 0, status[6] = {0}, errors[ERR_KINDS] = {0}, max_ns = 0;
    for (unsigned i = 0; i < nconns_g; i++) {
        struct lconn *lc = &conns_g[i];
        responses += atomic_load(&lc->responses);
        bytes += lc->bytes;
        for (unsigned s = 0; s < 6; s++)
            status[s] += lc->status[s];
        for (unsigned k = 0; k < ERR_KINDS; k++)
            errors[k] += atomic_load(&lc->errors[k]);
        for (unsigned b = 0; b < HIST_BUCKETS; b++)
            hist[b] += lc->hist[b];
        if (lc->max_ns > max_ns)
            max_ns = lc->max_ns;
    }
    static const double qs[] = {0.5, 0.9, 0.99, 0.999};
    double q[4] = {0};
    uint64_t seen = 0;
    unsigned qi = 0;
    for (unsigned b = 0; b < HIST_BUCKETS && qi < 4 && responses; b++) {
        seen += hist[b];
        while (qi < 4 && (double)seen >= qs[qi] * (double)responses)
            q[qi++] = hist_value(b);
    }
    double rps = secs > 0 ? (double)responses / secs : 0;
    double cpu_us = responses ? cpu * 1e6 / (double)responses : 0;
    if (L->json) {
        printf(
            "{\"seconds\":%.3f,\"connections\":%u,\"threads\":%u,\"depth\":%u,"
            "\"requests\":%" PRIu64 ",\"requests_per_s\":%.1f,\"bytes\":%" PRIu64
            ",\"bytes_per_s\":%.1f,\"cpu_s\":%.3f,\"cpu_us_per_request\":%.3f,"
            "\"latency_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p99.9\":%.1f,\"max\":%.1f},"
            "\"status\":{\"1xx\":%" PRIu64 ",\"2xx\":%" PRIu64 ",\"3xx\":%" PRIu64
            ",\"4xx\":%" PRIu64 ",\"5xx\":%" PRIu64 ",\"other\":%" PRIu64 "},\"errors\":{",
            secs, L->conns, L->threads, L->depth, responses, rps, bytes,
            secs > 0 ? (double)bytes / secs : 0, cpu, cpu_us, q[0] / 1e3, q[1] / 1e3, q[2] / 1e3,
            q[3] / 1e3, (double)max_ns / 1e3, status[1], status[2], status[3], status[4], status[5],
            status[0]);
        for (unsigned k = 0; k < ERR_KINDS; k++)
            printf("%s\"%s\":%" PRIu64, k ? "," : "", err_names[k], errors[k]);
        printf("}}\n");
        return;
    }
    char l[5][16];
    for (int i = 0; i < 4; i++)
        fmt_ns(l[i], sizeof(l[i]), q[i]);
    fmt_ns(l[4], sizeof(l[4]), (double)max_ns);
    printf("roost load: %.2f s, %u connections on %u reactors, depth %u\n", secs, L->conns,
           L->threads, L->depth);
    printf("  requests  %" PRIu64 " (%.1f/s), %" PRIu64 " bytes (%.2f MB/s)\n", responses, rps,
           bytes, secs > 0 ? (double)bytes / secs / 1e6 : 0);
    printf("  latency   p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n", l[0], l[1], l[2], l[3], l[4]);
    printf("  status    1xx %" PRIu64 "  2xx %" PRIu64 "  3xx %" PRIu64 "  4xx %" PRIu64
           "  5xx %" PRIu64 "  other %" PRIu64 "\n",
           status[1], status[2], status[3], status[4], status[5], status[0]);
    printf("  errors   ");
    for (unsigned k = 0; k < ERR_KINDS; k++)
        printf(" %s %" PRIu64, err_names[k], errors[k]);
    printf("\n  cpu       %.2f s (%.2f us per request)\n", cpu, cpu_us);
}

int roost_cmd_load(const struct roost_config *cfg_in, int argc, char **argv)
{
    static struct load L;
    struct opts o = {0};
    if (parse_args(argc, argv, &L, &o) < 0)
        return 2;
    struct tmpl tmpls[64];
    L.tmpls = tmpls;
    if (build_templates(&L, &o) < 0)
        return 2;
    L.limits =
        (struct roost_http_limits){.max_head_bytes = 65536,
                                   .max_body_bytes = UINT64_MAX > SIZE_MAX ? SIZE_MAX : UINT64_MAX,
                                   .max_headers = ROOST_HTTP_MAX_HEADERS};
    atomic_init(&L.budget, (int64_t)L.total);
    signal(SIGPIPE, SIG_IGN);

    struct roost_config cfg = *cfg_in;
    cfg.reactors = L.threads;
    if (!cfg.pool_threads)
        cfg.pool_threads = 1; /* name lookups only */
    roost_runtime *rt;
    int rc = roost_runtime_start(&cfg, &rt);
    if (rc < 0) {
        fprintf(stderr, "roost load: cannot start the runtime: %s\n", strerror(-rc));
        return 1;
    }
    nconns_g = L.conns;
    conns_g = calloc(L.conns, sizeof(*conns_g));
    if (!conns_g) {
        roost_runtime_destroy(rt);
        return 1;
    }
    for (unsigned i = 0; i < L.conns; i++) {
        struct lconn *lc = &conns_g[i];
        lc->L = &L;
        lc->id = i;
        lc->next = i; /* connections start at different URLs of the rotation */
        lc->iov = calloc(L.depth, sizeof(*lc->iov));
        lc->sent_ns = calloc(L.depth, sizeof(*lc->sent_ns));
        lc->which = calloc(L.depth, sizeof(*lc->which));
        if (!lc->iov || !lc->sent_ns || !lc->which) {
            fprintf(stderr, "roost load: out of memory\n");
            return 1;
        }
    }
    double cpu0 = cpu_seconds();
    uint64_t t0 = now_ns();
    for (unsigned i = 0; i < L.conns; i++) {
        roost_reactor *r = roost_runtime_reactor(rt, i % L.threads);
        rc = roost_ctx_send(roost_reactor_ctx(r), spawn_conn, &conns_g[i]);
        if (rc < 0) {
            fprintf(stderr, "roost load: cannot start connection %u: %s\n", i, strerror(-rc));
            atomic_store(&L.stop, true);
            break;
        }
    }
    bool tty = isatty(STDERR_FILENO) && !L.json;
    uint64_t last_ns = t0, last_n = 0, next_print = t0 + 1000000000u;
    for (;;) {
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
        uint64_t now = now_ns();
        if (atomic_load(&L.done) == L.conns)
            break;
        if (!L.total && now - t0 >= L.duration_ms * 1000000u)
            break;
        if (tty && now >= next_print) {
            uint64_t n = sum_responses();
            fprintf(stderr, "\r  %5.1fs  %10.0f req/s  %" PRIu64 " responses  %" PRIu64 " errors ",
                    (double)(now - t0) / 1e9, (double)(n - last_n) * 1e9 / (double)(now - last_ns),
                    n, sum_errors());
            last_ns = now;
            last_n = n;
            next_print = now + 1000000000u;
        }
    }
    atomic_store(&L.stop, true); /* nothing counted from here on */
    double secs = (double)(now_ns() - t0) / 1e9;
    double cpu = cpu_seconds() - cpu0;
    if (tty)
        fprintf(stderr, "\r%*s\r", 72, "");
    for (unsigned i = 0; i < L.conns; i++)
        if (conns_g[i].t)
            roost_ctx_send(roost_reactor_ctx(roost_runtime_reactor(rt, i % L.threads)), cancel_conn,
                           conns_g[i].t);
    roost_run(join_all, NULL);
    report(&L, secs, cpu);
    int exit_code = sum_errors() && !sum_responses() ? 1 : 0;
    roost_runtime_destroy(rt);
    for (unsigned i = 0; i < L.conns; i++) {
        free(conns_g[i].iov);
        free(conns_g[i].sent_ns);
        free(conns_g[i].which);
        http_bytes_free(&conns_g[i].tail);
    }
    free(conns_g);
    for (unsigned i = 0; i < L.ntmpls; i++)
        free(tmpls[i].p);
    free(o.body_buf);
    return exit_code;
}

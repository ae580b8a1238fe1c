/*
 * The HTTP/1.1 client. A call runs entirely in the calling task: take a pooled connection
 * of this reactor for the origin (or connect one), send the request, read the response with
 * the shared reader (client_reader.c), and give the connection back to the pool when the
 * response left it reusable. Every await is a roost await, so the task resumes on its
 * reactor each time.
 *
 * Pools are per reactor and touched only by tasks on that reactor's thread: a connection's
 * ring operations belong to its reactor, and a task there can use it without locks. A task
 * that runs on the worker pool (run-on=pool) gets a fresh connection per call, closed after.
 *
 * A connection that failed in any way (timeout, cancel, malformed response, unread bytes
 * after the response) is closed, never pooled: its stream position is unknown.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <roost/http_client.h>
#include <roost/net.h>
#include <roost/run.h>
#include <roost/task.h>
#include <roost/timer.h>

#include "http/bytes.h"
#include "http/client.h"

struct client_conn {
    roost_conn *c;
    struct roost_bytes in, out;
    uint64_t idle_since_ms;
    struct client_conn *next;
};

struct client_origin {
    char host[256];
    uint16_t port;
    unsigned nidle;
    struct client_conn *idle; /* most recently used first */
    struct client_origin *next;
};

struct client_reactor {
    struct client_origin *origins;
};

struct roost_http_client {
    roost_runtime *rt;
    struct roost_http_client_opts opts;
    struct roost_http_limits limits;
    unsigned nreactors;
    _Atomic unsigned next_reactor; /* pool tasks spread their connections */
    struct client_reactor per[];
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ms(void)
{
    return now_ns() / 1000000u;
}

/* Whole milliseconds left until deadline_ns, rounded up so that a timeout never ends before
 * the deadline; 0 once it has passed. */
static uint64_t ms_left(uint64_t deadline_ns)
{
    uint64_t now = now_ns();
    return now >= deadline_ns ? 0 : (deadline_ns - now + 999999u) / 1000000u;
}

void roost_http_client_opts_init(struct roost_http_client_opts *o)
{
    *o = (struct roost_http_client_opts){
        .max_idle_per_origin = 32,
        .idle_timeout_ms = 30000,
        .connect_timeout_ms = 5000,
        .timeout_ms = 30000,
        .max_head_bytes = 16384,
        .max_body_bytes = 16u << 20,
    };
}

int roost_http_client_create(roost_runtime *rt, const struct roost_http_client_opts *o,
                             roost_http_client **out)
{
    if (!rt || !out)
        return -EINVAL;
    unsigned n = roost_runtime_reactor_count(rt);
    roost_http_client *c = calloc(1, sizeof(*c) + n * sizeof(c->per[0]));
    if (!c)
        return -ENOMEM;
    c->rt = rt;
    if (o)
        c->opts = *o;
    else
        roost_http_client_opts_init(&c->opts);
    c->nreactors = n;
    c->limits = (struct roost_http_limits){
        .max_head_bytes = c->opts.max_head_bytes ? c->opts.max_head_bytes : 16384,
        .max_body_bytes = c->opts.max_body_bytes ? c->opts.max_body_bytes : SIZE_MAX,
        .max_headers = ROOST_HTTP_MAX_HEADERS,
    };
    *out = c;
    return 0;
}

/* ---- connections and pools ------------------------------------------------------------- */

static void conn_close(struct client_conn *cc)
{
    roost_conn_close(cc->c);
    http_bytes_free(&cc->in);
    http_bytes_free(&cc->out);
    free(cc);
}

/* The calling reactor's pools, or NULL when the task is not on one of c's reactors. */
static struct client_reactor *pools_here(roost_http_client *c)
{
    roost_reactor *r = roost_reactor_current();
    if (!r)
        return NULL;
    unsigned id = roost_reactor_id(r);
    if (id >= c->nreactors || roost_runtime_reactor(c->rt, id) != r)
        return NULL;
    return &c->per[id];
}

static struct client_origin *origin_of(struct client_reactor *pr, const struct http_url *u,
                                       bool create)
{
    for (struct client_origin *o = pr->origins; o; o = o->next)
        if (o->port == u->port && strcmp(o->host, u->host) == 0)
            return o;
    if (!create)
        return NULL;
    struct client_origin *o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    snprintf(o->host, sizeof(o->host), "%s", u->host);
    o->port = u->port;
    o->next = pr->origins;
    pr->origins = o;
    return o;
}

/* A pooled connection of the origin idle for less than the idle timeout, or NULL. */
static struct client_conn *checkout(roost_http_client *c, struct client_reactor *pr,
                                    const struct http_url *u)
{
    struct client_origin *o = pr ? origin_of(pr, u, false) : NULL;
    while (o && o->idle) {
        struct client_conn *cc = o->idle;
        o->idle = cc->next;
        o->nidle--;
        if (now_ms() - cc->idle_since_ms < c->opts.idle_timeout_ms)
            return cc;
        conn_close(cc); /* expired: the server may be closing it right now */
    }
    return NULL;
}

static void checkin(roost_http_client *c, struct client_reactor *pr, const struct http_url *u,
                    struct client_conn *cc)
{
    struct client_origin *o = pr ? origin_of(pr, u, true) : NULL;
    if (!o || o->nidle >= c->opts.max_idle_per_origin) {
        conn_close(cc);
        return;
    }
    cc->idle_since_ms = now_ms();
    cc->next = o->idle;
    o->idle = cc;
    o->nidle++;
}

static int conn_open(roost_http_client *c, const struct http_url *u, uint64_t deadline,
                     struct client_conn **out)
{
    uint64_t t = c->opts.connect_timeout_ms;
    if (deadline) {
        uint64_t left = ms_left(deadline);
        if (!left)
            return -ETIMEDOUT;
        if (!t || left < t)
            t = left;
    }
    roost_reactor *r = roost_reactor_current();
    if (!r) /* a pool task: spread over the reactors */
        r = roost_runtime_reactor(c->rt, atomic_fetch_add(&c->next_reactor, 1) % c->nreactors);
    struct client_conn *cc = calloc(1, sizeof(*cc));
    if (!cc || http_bytes_reserve(&cc->in, 4096) < 0) {
        free(cc);
        return -ENOMEM;
    }
    int rc = roost_connect_on_timeout(r, u->host, u->port, t, &cc->c);
    if (rc < 0) {
        http_bytes_free(&cc->in);
        free(cc);
        return rc;
    }
    *out = cc;
    return 0;
}

/* ---- one exchange ---------------------------------------------------------------------- */

static bool is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!strchr("!#$%&'*+-.^_`|~", *s) &&
            !((*s >= '0' && *s <= '9') || ((*s | 0x20) >= 'a' && (*s | 0x20) <= 'z')))
            return false;
    return true;
}

static bool is_field_value(const char *s)
{
    for (; *s; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
            return false;
    return true;
}

static bool method_is(const char *m, const char *lit)
{
    return strcmp(m, lit) == 0;
}

/* RFC 9110 §9.2.2 */
static bool idempotent(const char *m)
{
    return method_is(m, "GET") || method_is(m, "HEAD") || method_is(m, "PUT") ||
           method_is(m, "DELETE") || method_is(m, "OPTIONS") || method_is(m, "TRACE");
}

static int append_head(struct roost_bytes *b, const char *method, const struct http_url *u,
                       const struct roost_http_client_req *req)
{
    b->len = 0;
    int rc = http_bytes_append_str(b, method);
    rc = rc ? rc : http_bytes_append(b, " ", 1);
    rc = rc ? rc : http_bytes_append_str(b, u->target);
    rc = rc ? rc : http_bytes_append_str(b, " HTTP/1.1\r\nHost: ");
    rc = rc ? rc : http_bytes_append_str(b, u->authority);
    rc = rc ? rc : http_bytes_append(b, "\r\n", 2);
    for (size_t i = 0; rc == 0 && i < req->nheaders; i++) {
        rc = http_bytes_append_str(b, req->headers[i].name);
        rc = rc ? rc : http_bytes_append(b, ": ", 2);
        rc = rc ? rc : http_bytes_append_str(b, req->headers[i].value);
        rc = rc ? rc : http_bytes_append(b, "\r\n", 2);
    }
    char framing[64];
    int n = 0;
    if (req->body_reader)
        n = snprintf(framing, sizeof(framing), "Transfer-Encoding: chunked\r\n\r\n");
    else if (req->body || req->body_len || method_is(method, "POST") || method_is(method, "PUT") ||
             method_is(method, "PATCH"))
        n = snprintf(framing, sizeof(framing), "Content-Length: %zu\r\n\r\n", req->body_len);
    else
        n = snprintf(framing, sizeof(framing), "\r\n");
    return rc ? rc : http_bytes_append(b, framing, (size_t)n);
}

static int send_request(struct client_conn *cc, const struct roost_http_client_req *req)
{
    if (!req->body_reader) {
        struct iovec v[2] = {{cc->out.p, cc->out.len}, {(void *)req->body, req->body_len}};
        return roost_conn_sendv(cc->c, v, req->body_len ? 2 : 1);
    }
    int rc = roost_conn_send(cc->c, cc->out.p, cc->out.len);
    while (rc == 0) {
        const void *data = NULL;
        long n = req->body_reader(req->body_arg, &data);
        if (n < 0)
            return (int)n;
        if (n == 0) /* last-chunk, no trailers */
            return roost_conn_send(cc->c, "0\r\n\r\n", 5);
        char size[24];
        int sn = snprintf(size, sizeof(size), "%lx\r\n", n);
        struct iovec v[3] = {{size, (size_t)sn}, {(void *)data, (size_t)n}, {"\r\n", 2}};
        rc = roost_conn_sendv(cc->c, v, 3);
    }
    return rc;
}

static int grow(char **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 1024;
    while (n < need)
        n *= 2;
    char *q = realloc(*p, n);
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

/* Copies the final head out of the connection's buffer into the response. */
static int keep_head(struct roost_http_client_res *res, const char *buf,
                     const struct http_reader *rd)
{
    const struct roost_http_response_head *h = &rd->head;
    int rc = grow(&res->_head.p, &res->_head.cap, h->head_len);
    if (rc < 0)
        return rc;
    memcpy(res->_head.p, buf, h->head_len);
    res->_head.len = h->head_len;
#define REBASE(s) ((struct roost_str){res->_head.p + ((s).p - buf), (s).n})
    res->status = h->status;
    res->version_minor = h->version_minor;
    res->reason = REBASE(h->reason);
    res->header_count = h->header_count;
    for (unsigned i = 0; i < h->header_count; i++) {
        res->headers[i].name = REBASE(h->headers[i].name);
        res->headers[i].value = REBASE(h->headers[i].value);
    }
#undef REBASE
    return 0;
}

static int keep_body(roost_http_client *c, const struct roost_http_client_req *req,
                     struct roost_http_client_res *res, struct roost_http_str span)
{
    if (req->on_body)
        return req->on_body(req->sink_arg, span.p, span.n);
    if (res->_body.len + span.n > c->limits.max_body_bytes)
        return -EMSGSIZE;
    int rc = grow(&res->_body.p, &res->_body.cap, res->_body.len + span.n);
    if (rc < 0)
        return rc;
    memcpy(res->_body.p + res->_body.len, span.p, span.n);
    res->_body.len += span.n;
    return 0;
}

/*
 * Sends the request and reads the response on cc. *got is set once any response byte came
 * (a retry is safe only before that); *reusable when cc may go back to the pool.
 */
static int exchange(roost_http_client *c, struct client_conn *cc, const char *method,
                    const struct http_url *u, const struct roost_http_client_req *req,
                    struct roost_http_client_res *res, uint64_t deadline, bool *got, bool *reusable)
{
    int rc = append_head(&cc->out, method, u, req);
    if (rc == 0)
        rc = send_request(cc, req);
    if (rc < 0)
        return rc == -EPIPE ? -ECONNRESET : rc;
    struct http_reader rd;
    http_reader_start(&rd, &c->limits, method_is(method, "HEAD"));
    size_t off = 0;
    for (;;) {
        for (;;) {
            size_t used = 0;
            struct roost_http_str span = {NULL, 0};
            const char *p = cc->in.p + off;
            int ev = http_reader_feed(&rd, p, cc->in.len - off, &used, &span);
            if (ev < 0)
                return ev;
            if (ev == HTTP_RD_GOT_HEAD && (rc = keep_head(res, p, &rd)) < 0)
                return rc;
            if (ev == HTTP_RD_GOT_BODY && (rc = keep_body(c, req, res, span)) < 0)
                return rc;
            off += used;
            if (ev == HTTP_RD_GOT_END)
                goto done;
            if (ev == HTTP_RD_MORE && used == 0)
                break;
        }
        if (off)
            http_bytes_consume(&cc->in, off);
        off = 0;
        uint64_t wait = 0;
        if (deadline && !(wait = ms_left(deadline)))
            return -ETIMEDOUT;
        roost_conn_set_recv_timeout(cc->c, wait);
        struct roost_buf b;
        int n = roost_conn_recv(cc->c, &b);
        if (n == 0) {
            if ((rc = http_reader_eof(&rd)) < 0)
                return rc;
            goto done;
        }
        if (n < 0)
            return n == -EPIPE ? -ECONNRESET : n;
        *got = true;
        rc = http_bytes_append(&cc->in, b.data, b.len);
        roost_conn_release(cc->c, &b);
        if (rc < 0)
            return rc;
    }
done:
    /* Bytes after a complete response that nobody asked for: the stream is not ours. */
    *reusable = http_reader_reusable(&rd) && off == cc->in.len;
    cc->in.len = 0;
    res->body = (struct roost_str){res->_body.p, res->_body.len};
    return 0;
}

/*
 * The whole-exchange deadline for what receive timeouts cannot bound: a send that waits for
 * a server that stopped reading. A timer on the connection's reactor shuts the socket down
 * when the deadline passes, which fails the send (and any receive) at once; the call then
 * reports -ETIMEDOUT. Only armed when the task runs on that reactor, whose thread alone
 * starts, fires and cancels the timer, so cancelling it afterwards is final.
 */
struct deadline_guard {
    struct roost_timer timer;
    roost_conn *c;
    bool armed, fired;
};

static void guard_fired(struct roost_timer *t, int status)
{
    struct deadline_guard *g = t->arg;
    if (status < 0)
        return;
    g->fired = true;
    (void)roost_conn_shutdown(g->c, SHUT_RDWR);
}

static void guard_arm(struct deadline_guard *g, struct client_conn *cc, uint64_t deadline)
{
    g->c = cc->c;
    g->armed = g->fired = false;
    roost_timer_init(&g->timer);
    if (!deadline || roost_reactor_current() != roost_conn_reactor(cc->c))
        return;
    uint64_t now = now_ns();
    g->armed =
        roost_timer_start_ns(&g->timer, deadline > now ? deadline - now : 0, guard_fired, g) == 0;
}

/* True when the deadline passed and the connection was shut down. */
static bool guard_disarm(struct deadline_guard *g)
{
    if (g->armed)
        roost_timer_cancel(&g->timer);
    return g->fired;
}

/* ---- public ---------------------------------------------------------------------------- */

void roost_http_client_res_init(struct roost_http_client_res *res)
{
    memset(res, 0, sizeof(*res));
}

void roost_http_client_res_free(struct roost_http_client_res *res)
{
    free(res->_head.p);
    free(res->_body.p);
    memset(res, 0, sizeof(*res));
}

bool roost_http_client_res_header(const struct roost_http_client_res *res, const char *name,
                                  struct roost_str *out)
{
    size_t n = strlen(name);
    for (unsigned i = 0; i < res->header_count; i++) {
        if (res->headers[i].name.n == n && strncasecmp(res->headers[i].name.p, name, n) == 0) {
            *out = res->headers[i].value;
            return true;
        }
    }
    return false;
}

int roost_http_client_request(roost_http_client *c, const struct roost_http_client_req *req,
                              struct roost_http_client_res *res)
{
    if (!roost_task_current())
        return -EPERM;
    if (!c || !req || !res)
        return -EINVAL;
    struct http_url u;
    int rc = http_url_parse(req->url, &u);
    if (rc < 0)
        return rc;
    const char *method = req->method ? req->method : "GET";
    if (!is_token(method) || (req->body_reader && req->body))
        return -EINVAL;
    for (size_t i = 0; i < req->nheaders; i++)
        if (!is_token(req->headers[i].name) || !is_field_value(req->headers[i].value))
            return -EINVAL;
    /* In nanoseconds: the deadline of the whole exchange (retry included), 0 for none. */
    uint64_t deadline = c->opts.timeout_ms ? now_ns() + c->opts.timeout_ms * 1000000u : 0;
    bool may_retry = idempotent(method) && !req->body_reader;
    for (int attempt = 0;; attempt++) {
        res->status = 0;
        res->header_count = 0;
        res->_body.len = 0;
        res->body = (struct roost_str){NULL, 0};
        struct client_reactor *pr = pools_here(c);
        struct client_conn *cc = checkout(c, pr, &u);
        bool reused = cc != NULL;
        if (!cc && (rc = conn_open(c, &u, deadline, &cc)) < 0)
            return rc;
        bool got = false, reusable = false;
        struct deadline_guard g;
        guard_arm(&g, cc, deadline);
        rc = exchange(c, cc, method, &u, req, res, deadline, &got, &reusable);
        if (guard_disarm(&g)) {
            reusable = false; /* shut down under the exchange */
            if (rc < 0)
                rc = -ETIMEDOUT;
        }
        if (rc == 0 && reusable && pr && pools_here(c) == pr)
            checkin(c, pr, &u, cc);
        else
            conn_close(cc);
        res->reused = reused;
        /* The server closed a pooled connection before it saw our request (or while it
         * did): safe to send again only when sending twice means the same as once. */
        if (rc == -ECONNRESET && reused && !got && may_retry && attempt == 0)
            continue;
        return rc;
    }
}

int roost_http_client_get(roost_http_client *c, const char *url, struct roost_http_client_res *res)
{
    struct roost_http_client_req req = {.url = url};
    return roost_http_client_request(c, &req, res);
}

/* ---- teardown ---------------------------------------------------------------------------- */

struct closer {
    roost_http_client *c;
    unsigned i;
    roost_task *t;
};

/* Frees reactor i's pools; closes their connections when it runs as a task there. */
static int close_pools(void *arg)
{
    struct closer *k = arg;
    struct client_reactor *pr = &k->c->per[k->i];
    bool in_task = roost_task_current() != NULL;
    while (pr->origins) {
        struct client_origin *o = pr->origins;
        pr->origins = o->next;
        while (o->idle) {
            struct client_conn *cc = o->idle;
            o->idle = cc->next;
            if (in_task) {
                conn_close(cc);
            } else { /* the runtime is gone and closed the sockets */
                http_bytes_free(&cc->in);
                http_bytes_free(&cc->out);
                free(cc);
            }
        }
        free(o);
    }
    return 0;
}

static int spawn_closer(void *arg)
{
    struct closer *k = arg;
    return roost_spawn(close_pools, k, &k->t);
}

static int join_closer(void *arg)
{
    return roost_join(arg);
}

void roost_http_client_free(roost_http_client *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < c->nreactors; i++) {
        struct closer k = {.c = c, .i = i};
        roost_reactor *r = roost_runtime_reactor(c->rt, i);
        if (c->per[i].origins && roost_ctx_send(roost_reactor_ctx(r), spawn_closer, &k) == 0)
            (void)roost_run(join_closer, k.t);
        close_pools(&k); /* whatever is left: nothing, or the memory of a stopped runtime */
    }
    free(c);
}

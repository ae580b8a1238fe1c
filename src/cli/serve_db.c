/*
 * `roost serve --pg URL`: the database endpoints. TechEmpower's /db, /queries, /fortunes and
 * /updates on its world and fortune tables, and HttpArena's /async-db range query on items
 * (scripts/pg-schema.sql creates and seeds all three).
 *
 * Two clients behind one switch (--pg-client), for the benchmark (bench/run_pg.sh):
 * ring (default): roost_pg, libpq non-blocking on the reactors, driven by ring polls;
 * offload: each query is a blocking PQexecPrepared on a pool worker (roost_offload), every
 * worker holding a connection of its own. Both resume the handler on its reactor.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <roost.h>
#include <roost/http.h>
#include <roost/pg.h>

#include "cli/json.h"
#include "cli/serve_db.h"

enum { STMT_WORLD, STMT_FORTUNES, STMT_UPDATE, STMT_ITEMS, NSTMTS };

static const struct {
    const char *name, *sql;
    int nparams;
} stmts[NSTMTS] = {
    [STMT_WORLD] = {"world", "SELECT id, randomnumber FROM world WHERE id = $1", 1},
    [STMT_FORTUNES] = {"fortunes", "SELECT id, message FROM fortune", 0},
    [STMT_UPDATE] = {"update", "UPDATE world SET randomnumber = $2 WHERE id = $1", 2},
    [STMT_ITEMS] = {"items",
                    "SELECT id, name, category, price, quantity, active, rating_score, "
                    "rating_count FROM items WHERE price BETWEEN $1 AND $2 LIMIT $3",
                    3},
};

static struct serve_db_opts opts;
static roost_pg *pg;
static int stmt_ids[NSTMTS];

/* ---- the offload client: one blocking connection per pool worker -------------------------- */

/*
 * Per-thread state lives under pthread keys, whose destructors free it when the thread
 * exits (a thread-local alone would leak it): the offload worker's connection. (Each
 * thread's response writer is json.c's jw_thread, kept the same way.)
 */
static pthread_key_t conn_key;
static pthread_once_t keys_once = PTHREAD_ONCE_INIT;

static void conn_key_free(void *p)
{
    PQfinish(p);
}

static void keys_init(void)
{
    (void)pthread_key_create(&conn_key, conn_key_free);
}

struct offload_query {
    int stmt;
    unsigned count;
    int nparams;
    const char *const *params; /* count * nparams */
    roost_pg_result **out;     /* count */
};

/* On a pool worker: blocking libpq, which is what this client is here to measure. */
static int offload_run(void *arg)
{
    struct offload_query *q = arg;
    PGconn *worker_conn = pthread_getspecific(conn_key);
    if (worker_conn && PQstatus(worker_conn) != CONNECTION_OK) {
        PQfinish(worker_conn);
        worker_conn = NULL;
        pthread_setspecific(conn_key, NULL);
    }
    if (!worker_conn) {
        worker_conn = PQconnectdb(opts.url);
        if (PQstatus(worker_conn) != CONNECTION_OK) {
            PQfinish(worker_conn);
            return -ECONNREFUSED;
        }
        pthread_setspecific(conn_key, worker_conn);
        for (int i = 0; i < NSTMTS; i++)
            PQclear(PQprepare(worker_conn, stmts[i].name, stmts[i].sql, stmts[i].nparams, NULL));
    }
    for (unsigned i = 0; i < q->count; i++) {
        PGresult *r = PQexecPrepared(worker_conn, stmts[q->stmt].name, q->nparams,
                                     q->params + (size_t)i * q->nparams, NULL, NULL, 0);
        q->out[i] = (roost_pg_result *)r; /* the same PGresult underneath */
        ExecStatusType st = PQresultStatus(r);
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
            return -EIO;
    }
    return 0;
}

/*
 * count executions of stmt through the chosen client; the handler is on its reactor
 * afterwards. ring: all of them pipelined on one connection; offload: one pool job running
 * them one after the other. The caller frees every non-NULL out[i].
 */
static int query_many(int stmt, unsigned count, int nparams, const char *const *params,
                      roost_pg_result **out)
{
    if (!opts.offload)
        return roost_pg_exec_prepared_many(pg, stmt_ids[stmt], count, nparams, params, 0, out);
    memset(out, 0, count * sizeof(*out));
    struct offload_query q = {stmt, count, nparams, params, out};
    return roost_offload(offload_run, &q);
}

static int query(int stmt, int nparams, const char *const *params, roost_pg_result **out)
{
    return query_many(stmt, 1, nparams, params, out);
}

/* ---- helpers ------------------------------------------------------------------------------- */

static _Thread_local uint64_t rng_state;

/*
 * The calling thread's writer, emptied. Used between the last await and the copy into the
 * response, so a task never holds it across an await (it may move threads: run-on=pool).
 * NULL on ENOMEM.
 */
static struct jw *writer(void)
{
    return jw_thread();
}

/* 1..10000, xorshift per thread. */
__attribute__((noinline)) static unsigned random_id(void)
{
    uint64_t x = rng_state;
    if (!x)
        x = (uint64_t)(uintptr_t)&rng_state ^ 0x9e3779b97f4a7c15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng_state = x;
    return 1 + (unsigned)(x % 10000);
}

static int send_json(roost_http_res *res, struct jw *w)
{
    if (!w || w->failed)
        return -ENOMEM;
    int rc = roost_http_res_header(res, "Content-Type", "application/json");
    return rc ? rc : roost_http_res_body(res, w->buf, w->len);
}

/* The decimal value of query parameter name, or def when absent or not a number. */
static long query_param(const roost_http_req *req, const char *name, long def)
{
    struct roost_str q = roost_http_req_query(req);
    size_t nl = strlen(name);
    const char *p = q.p, *end = q.p + q.n;
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) > nl && !memcmp(p, name, nl) && p[nl] == '=') {
            char digits[24];
            size_t n = (size_t)(stop - p) - nl - 1;
            if (n == 0 || n >= sizeof(digits))
                return def;
            memcpy(digits, p + nl + 1, n);
            digits[n] = 0;
            char *e;
            long v = strtol(digits, &e, 10);
            return *e ? def : v;
        }
        p = amp ? amp + 1 : NULL;
    }
    return def;
}

/* TechEmpower's rule: missing or bad is 1, then clamped to 1..500. */
static int query_count(const roost_http_req *req)
{
    long n = query_param(req, "queries", 1);
    return n < 1 ? 1 : n > 500 ? 500 : (int)n;
}

struct world {
    int32_t id, number;
};

/*
 * Queries per query_many call of the handlers: what the client pipelines on a connection at
 * once anyway, and small enough to keep the handlers' arrays well inside a task's stack.
 */
#define DB_CHUNK 32

/* n random world rows, their queries pipelined DB_CHUNK at a time. */
static int fetch_worlds(struct world *xs, int n)
{
    for (int at = 0; at < n; at += DB_CHUNK) {
        int k = n - at < DB_CHUNK ? n - at : DB_CHUNK;
        char digits[DB_CHUNK][8];
        const char *params[DB_CHUNK];
        roost_pg_result *rs[DB_CHUNK];
        for (int i = 0; i < k; i++) {
            snprintf(digits[i], sizeof(digits[i]), "%u", random_id());
            params[i] = digits[i];
        }
        int rc = query_many(STMT_WORLD, (unsigned)k, 1, params, rs);
        for (int i = 0; i < k; i++) {
            int64_t id = 0, number = 0;
            if (rc == 0 && roost_pg_result_rows(rs[i]) != 1)
                rc = -ENOENT;
            if (rc == 0)
                rc = roost_pg_get_int(rs[i], 0, 0, &id);
            if (rc == 0)
                rc = roost_pg_get_int(rs[i], 0, 1, &number);
            xs[at + i] = (struct world){(int32_t)id, (int32_t)number};
            roost_pg_result_free(rs[i]);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void world_json(struct jw *w, const struct world *x)
{
    jw_obj_open(w);
    jw_key(w, "id");
    jw_int(w, x->id);
    jw_key(w, "randomNumber");
    jw_int(w, x->number);
    jw_obj_close(w);
}

/* ---- endpoints ----------------------------------------------------------------------------- */

static int db(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    struct world x;
    int rc = fetch_worlds(&x, 1);
    if (rc < 0)
        return rc;
    struct jw *w = writer();
    if (!w)
        return -ENOMEM;
    world_json(w, &x);
    return send_json(res, w);
}

/* Answers with the n worlds as a JSON array (/queries, /updates). */
static int send_worlds(roost_http_res *res, const struct world *xs, int n)
{
    struct jw *w = writer();
    if (!w)
        return -ENOMEM;
    jw_arr_open(w);
    for (int i = 0; i < n; i++)
        world_json(w, &xs[i]);
    jw_arr_close(w);
    return send_json(res, w);
}

static int queries(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)arg;
    int n = query_count(req);
    struct world xs[500];
    int rc = fetch_worlds(xs, n);
    if (rc < 0)
        return rc;
    return send_worlds(res, xs, n);
}

static int by_id(const void *a, const void *b)
{
    const struct world *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

static int updates(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)arg;
    int n = query_count(req);
    struct world xs[500];
    int rc = fetch_worlds(xs, n);
    if (rc < 0)
        return rc;
    for (int i = 0; i < n; i++)
        xs[i].number = (int32_t)random_id();
    /* In id order, so concurrent requests lock rows in one order. */
    qsort(xs, (size_t)n, sizeof(xs[0]), by_id);
    for (int at = 0; at < n; at += DB_CHUNK) {
        int k = n - at < DB_CHUNK ? n - at : DB_CHUNK;
        char digits[DB_CHUNK][2][8];
        const char *params[2 * DB_CHUNK];
        roost_pg_result *rs[DB_CHUNK];
        for (int i = 0; i < k; i++) {
            snprintf(digits[i][0], sizeof(digits[i][0]), "%d", (int)xs[at + i].id);
            snprintf(digits[i][1], sizeof(digits[i][1]), "%d", (int)xs[at + i].number);
            params[2 * i] = digits[i][0];
            params[2 * i + 1] = digits[i][1];
        }
        rc = query_many(STMT_UPDATE, (unsigned)k, 2, params, rs);
        for (int i = 0; i < k; i++)
            roost_pg_result_free(rs[i]);
        if (rc < 0)
            return rc;
    }
    return send_worlds(res, xs, n);
}

struct fortune {
    int64_t id;
    const char *msg;
    size_t len;
};

static int by_message(const void *a, const void *b)
{
    const struct fortune *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->msg, y->msg, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int fortunes(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)req, (void)arg;
    roost_pg_result *r;
    int rc = query(STMT_FORTUNES, 0, NULL, &r);
    if (rc < 0) {
        roost_pg_result_free(r);
        return rc;
    }
    int rows = roost_pg_result_rows(r);
    if (rows > 256) {
        roost_pg_result_free(r);
        return -E2BIG;
    }
    struct fortune fs[257];
    int n = 0;
    for (int i = 0; i < rows && rc == 0; i++, n++) {
        rc = roost_pg_get_int(r, i, 0, &fs[n].id);
        if (rc == 0)
            rc = roost_pg_get_text(r, i, 1, &fs[n].msg, &fs[n].len);
    }
    static const char extra[] = "Additional fortune added at request time.";
    fs[n++] = (struct fortune){0, extra, sizeof(extra) - 1};
    if (rc == 0) {
        qsort(fs, (size_t)n, sizeof(fs[0]), by_message);
        struct jw *w = writer();
        if (!w) {
            roost_pg_result_free(r);
            return -ENOMEM;
        }
        static const char head[] = "<!DOCTYPE html><html><head><title>Fortunes</title></head>"
                                   "<body><table><tr><th>id</th><th>message</th></tr>";
        static const char tail[] = "</table></body></html>";
        jw_raw(w, head, sizeof(head) - 1);
        for (int i = 0; i < n; i++) {
            char id[32];
            int len = snprintf(id, sizeof(id), "<tr><td>%lld</td><td>", (long long)fs[i].id);
            jw_raw(w, id, (size_t)len);
            jw_html(w, fs[i].msg, fs[i].len);
            jw_raw(w, "</td></tr>", 10);
        }
        jw_raw(w, tail, sizeof(tail) - 1);
        rc = w->failed ? -ENOMEM
                       : roost_http_res_header(res, "Content-Type", "text/html; charset=utf-8");
        if (rc == 0)
            rc = roost_http_res_body(res, w->buf, w->len);
    }
    roost_pg_result_free(r); /* the messages pointed into it until the body was copied */
    return rc;
}

static int async_db(roost_http_req *req, roost_http_res *res, void *arg)
{
    (void)arg;
    long min = query_param(req, "min", 10), max = query_param(req, "max", 50);
    long limit = query_param(req, "limit", 50);
    if (limit < 1)
        limit = 1;
    if (limit > 1000)
        limit = 1000;
    char a[24], b[24], c[24];
    snprintf(a, sizeof(a), "%ld", min);
    snprintf(b, sizeof(b), "%ld", max);
    snprintf(c, sizeof(c), "%ld", limit);
    const char *params[] = {a, b, c};
    roost_pg_result *r;
    int rc = query(STMT_ITEMS, 3, params, &r);
    if (rc < 0) {
        roost_pg_result_free(r);
        return rc;
    }
    struct jw *w = writer();
    if (!w) {
        roost_pg_result_free(r);
        return -ENOMEM;
    }
    int rows = roost_pg_result_rows(r);
    jw_obj_open(w);
    jw_key(w, "items");
    jw_arr_open(w);
    for (int i = 0; i < rows && rc == 0; i++) {
        struct jw_item it;
        rc = roost_pg_get_int(r, i, 0, &it.id);
        rc = rc ? rc : roost_pg_get_text(r, i, 1, &it.name, &it.name_len);
        rc = rc ? rc : roost_pg_get_text(r, i, 2, &it.category, &it.category_len);
        rc = rc ? rc : roost_pg_get_int(r, i, 3, &it.price);
        rc = rc ? rc : roost_pg_get_int(r, i, 4, &it.quantity);
        rc = rc ? rc : roost_pg_get_bool(r, i, 5, &it.active);
        rc = rc ? rc : roost_pg_get_int(r, i, 6, &it.rating_score);
        rc = rc ? rc : roost_pg_get_int(r, i, 7, &it.rating_count);
        if (rc == 0)
            jw_item(w, &it);
    }
    jw_arr_close(w);
    jw_key(w, "count");
    jw_int(w, rows);
    jw_obj_close(w);
    roost_pg_result_free(r);
    return rc ? rc : send_json(res, w);
}

/* ---- the hooks serve.c calls ----------------------------------------------------------------- */

int serve_db_routes(roost_http_router *router, const struct serve_db_opts *o)
{
    if (!o->url)
        return 0;
    opts = *o;
    pthread_once(&keys_once, keys_init);
    int rc = roost_http_route(router, "GET", "/db", db, NULL);
    if (rc == 0)
        rc = roost_http_route(router, "GET", "/queries", queries, NULL);
    if (rc == 0)
        rc = roost_http_route(router, "GET", "/updates", updates, NULL);
    if (rc == 0)
        rc = roost_http_route(router, "GET", "/fortunes", fortunes, NULL);
    if (rc == 0)
        rc = roost_http_route(router, "GET", "/async-db", async_db, NULL);
    return rc;
}

int serve_db_start(roost_runtime *rt)
{
    if (!opts.url || opts.offload)
        return 0;
    struct roost_pg_opts o;
    roost_pg_opts_init(&o);
    o.url = opts.url;
    if (opts.pool_size)
        o.pool_size = opts.pool_size;
    int rc = roost_pg_create(rt, &o, &pg);
    for (int i = 0; rc == 0 && i < NSTMTS; i++) {
        rc = roost_pg_prepare(pg, stmts[i].name, stmts[i].sql, stmts[i].nparams);
        stmt_ids[i] = rc;
        rc = rc < 0 ? rc : 0;
    }
    return rc;
}

void serve_db_stop(void)
{
    roost_pg_destroy(pg);
    pg = NULL;
}

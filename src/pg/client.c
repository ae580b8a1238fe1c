/*
 * The client side of the PostgreSQL pool: creating and destroying a database, prepared
 * statements, and a task's query.
 *
 * A query runs on its task's reactor. It takes the ready connection of that reactor with
 * the fewest queries in flight (waiting, with a timeout, when none has room), appends its
 * statement and a sync to the connection's pipeline (PQsendQueryPrepared + PQpipelineSync),
 * flushes without blocking, and waits; the connection's driver (conn.c) completes it. A sync
 * per query keeps one query's error from aborting its neighbours'. Queries that tasks append
 * while the driver waits for earlier results go out at once, so many tasks' queries share a
 * connection's round trips. A statement the connection has not prepared yet is prepared in
 * the same pipeline, just before the query.
 *
 * Cancel. A query still waiting for a connection just leaves the queue. A queued query is
 * abandoned: its task resumes at once with -ECANCELED and the driver throws its result
 * away. If it is the query the server is running now (the first one in its connection's
 * pipeline), a cancel request is also sent, from the worker pool, because PQcancel opens a
 * connection of its own and waits for it. The server may have moved on to the next query of
 * the pipeline by the time the request arrives; that query then fails with SQLSTATE 57014
 * (-ECANCELED): the protocol names a connection, not a query, for a cancel. Even a request
 * that does reach the running query can cancel a later one too: PostgreSQL 15's postmaster
 * signals the backend twice (SIGINT to its pid, then to its process group), and when the
 * backend runs between the two kills it ends the query on the first signal and whatever it
 * runs next on the second. So a connection that sent a request is fenced: it takes no new
 * query until the request is done (the postmaster closes the request's socket only after
 * both kills) and its pipeline is empty (the backend idles in its read, where a late signal
 * is ignored). Queries already queued behind the cancelled one may still be cancelled.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <roost/pool.h>
#include <roost/run.h>

#include "pg/pg.h"

/* ---- options and creation ------------------------------------------------------------------ */

void roost_pg_opts_init(struct roost_pg_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->url = getenv("DATABASE_URL");
    const char *n = getenv("DATABASE_MAX_CONN");
    if (n) {
        char *end;
        unsigned long v = strtoul(n, &end, 10);
        if (!*end && v > 0 && v < 65536)
            o->pool_size = (unsigned)v;
    }
    o->pipeline_depth = 128;
    o->acquire_timeout_ms = 5000;
    o->connect_timeout_ms = 5000;
}

static bool is_ip_literal(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* Splits the URL into libpq's keyword/value arrays, adding hostaddr when host is a name. */
static int parse_url(struct roost_pg *pg, const char *url)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &err);
    if (!opts) {
        if (err)
            fprintf(stderr, "roost: pg: bad database url: %s", err);
        PQfreemem(err);
        return -EINVAL;
    }
    size_t n = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        n += o->val && *o->val;
    if (n + 1 > PG_MAX_OPTIONS) {
        PQconninfoFree(opts);
        return -EINVAL;
    }
    pg->keys = calloc(n + 2, sizeof(char *));
    pg->vals = calloc(n + 2, sizeof(char *));
    if (!pg->keys || !pg->vals) {
        PQconninfoFree(opts);
        return -ENOMEM;
    }
    size_t k = 0;
    pg->host_at = pg->hostaddr_at = -1;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val || !*o->val)
            continue;
        pg->keys[k] = strdup(o->keyword);
        pg->vals[k] = strdup(o->val);
        if (!pg->keys[k] || !pg->vals[k]) {
            PQconninfoFree(opts);
            return -ENOMEM;
        }
        if (!strcmp(o->keyword, "host"))
            pg->host_at = (int)k;
        if (!strcmp(o->keyword, "hostaddr"))
            pg->hostaddr_at = (int)k;
        k++;
    }
    PQconninfoFree(opts);
    if (pg->host_at >= 0 && pg->hostaddr_at < 0) {
        const char *h = pg->vals[pg->host_at];
        /* A socket directory, a list (passed as is) or a literal needs no resolving. */
        if (h[0] != '/' && h[0] != '@' && !strchr(h, ',') && !is_ip_literal(h)) {
            pg->resolve = true;
            pg->keys[k] = strdup("hostaddr");
            if (!pg->keys[k])
                return -ENOMEM;
            pg->hostaddr_at = (int)k++; /* its value is set at each connect */
        }
    }
    pg->nkeys = k;
    return 0;
}

static void free_pg(struct roost_pg *pg)
{
    if (pg->keys) {
        for (size_t i = 0; pg->keys[i]; i++) {
            free(pg->keys[i]);
            free(pg->vals[i]);
        }
    }
    free(pg->keys);
    free(pg->vals);
    for (int i = 0; i < atomic_load(&pg->nstmts); i++) {
        free(pg->stmts[i].name);
        free(pg->stmts[i].sql);
    }
    if (pg->reactors) {
        for (unsigned i = 0; i < pg->nreactors; i++) {
            struct pg_reactor *pr = &pg->reactors[i];
            for (unsigned j = 0; pr->conns && j < pr->nconns; j++)
                free(pr->conns[j].items);
            free(pr->conns);
        }
    }
    free(pg->reactors);
    pthread_mutex_destroy(&pg->stmt_lock);
    pthread_mutex_destroy(&pg->jobs_lock);
    pthread_cond_destroy(&pg->jobs_cond);
    free(pg);
}

int roost_pg_create(roost_runtime *rt, const struct roost_pg_opts *o, roost_pg **out)
{
    struct roost_pg_opts d;
    if (!o) {
        roost_pg_opts_init(&d);
        o = &d;
    }
    if (!rt || !o->url || !*o->url)
        return -EINVAL;
    struct roost_pg *pg = calloc(1, sizeof(*pg));
    if (!pg)
        return -ENOMEM;
    pthread_mutex_init(&pg->stmt_lock, NULL);
    pthread_mutex_init(&pg->jobs_lock, NULL);
    pthread_cond_init(&pg->jobs_cond, NULL);
    pg->rt = rt;
    pg->pipeline_depth = o->pipeline_depth ? o->pipeline_depth : 128;
    pg->acquire_timeout_ms = o->acquire_timeout_ms ? o->acquire_timeout_ms : 5000;
    pg->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : 5000;
    int rc = parse_url(pg, o->url);
    if (rc < 0)
        goto fail;
    pg->nreactors = roost_runtime_reactor_count(rt);
    unsigned per = o->pool_size ? o->pool_size / pg->nreactors : 2;
    if (per == 0)
        per = 1;
    rc = -ENOMEM;
    pg->reactors = calloc(pg->nreactors, sizeof(*pg->reactors));
    if (!pg->reactors)
        goto fail;
    /* Room for every query's item and sync, and for a prepare of each statement. */
    unsigned cap = pg->pipeline_depth * 2 + PG_MAX_STMTS + 2;
    for (unsigned i = 0; i < pg->nreactors; i++) {
        struct pg_reactor *pr = &pg->reactors[i];
        pr->pg = pg;
        pr->r = roost_runtime_reactor(rt, i);
        pr->nconns = per;
        pr->conns = calloc(per, sizeof(*pr->conns));
        if (!pr->conns)
            goto fail;
        for (unsigned j = 0; j < per; j++) {
            struct pg_conn *pc = &pr->conns[j];
            pc->pr = pr;
            pc->index = j;
            pc->fd = -1;
            pc->cap = cap;
            pc->items = calloc(cap, sizeof(*pc->items));
            if (!pc->items)
                goto fail;
        }
    }
    *out = pg;
    return 0;
fail:
    free_pg(pg);
    return rc;
}

/* ---- destroy -------------------------------------------------------------------------------- */

/* On the reactor: no new queries; waiting ones fail; drivers wind down. */
static int stop_reactor(void *arg)
{
    struct pg_reactor *pr = arg;
    pr->stopping = true;
    while (pr->wait_head) {
        struct pg_call *call = pr->wait_head;
        pr->wait_head = call->next;
        call->queued = false;
        roost_timer_cancel(&call->timer);
        roost_complete(&call->w, -ESHUTDOWN);
    }
    pr->wait_tail = NULL;
    for (unsigned i = 0; i < pr->nconns; i++)
        if (pr->conns[i].driver)
            roost_task_cancel(pr->conns[i].driver);
    return 0;
}

static int join_drivers(void *arg)
{
    struct roost_pg *pg = arg;
    for (unsigned i = 0; i < pg->nreactors; i++) {
        struct pg_reactor *pr = &pg->reactors[i];
        for (unsigned j = 0; j < pr->nconns; j++) {
            if (pr->conns[j].driver)
                (void)roost_join(pr->conns[j].driver);
            pr->conns[j].driver = NULL;
        }
    }
    return 0;
}

void roost_pg_destroy(roost_pg *pg)
{
    if (!pg)
        return;
    for (unsigned i = 0; i < pg->nreactors; i++)
        (void)roost_ctx_send(roost_reactor_ctx(pg->reactors[i].r), stop_reactor, &pg->reactors[i]);
    (void)roost_run(join_drivers, pg);
    /* A cancel request still out comes back to its connection (cancel_done). */
    pthread_mutex_lock(&pg->jobs_lock);
    while (pg->jobs > 0)
        pthread_cond_wait(&pg->jobs_cond, &pg->jobs_lock);
    pthread_mutex_unlock(&pg->jobs_lock);
    free_pg(pg);
}

/* ---- statements ----------------------------------------------------------------------------- */

int roost_pg_prepare(roost_pg *pg, const char *name, const char *sql, int nparams)
{
    if (!pg || !name || !*name || !sql || nparams < 0)
        return -EINVAL;
    pthread_mutex_lock(&pg->stmt_lock);
    int n = atomic_load(&pg->nstmts), rc;
    for (int i = 0; i < n; i++) {
        if (!strcmp(pg->stmts[i].name, name)) {
            rc = -EEXIST;
            goto out;
        }
    }
    rc = -ENOSPC;
    if (n >= PG_MAX_STMTS)
        goto out;
    rc = -ENOMEM;
    struct pg_stmt *s = &pg->stmts[n];
    s->name = strdup(name);
    s->sql = strdup(sql);
    if (!s->name || !s->sql) {
        free(s->name);
        free(s->sql);
        s->name = s->sql = NULL;
        goto out;
    }
    s->nparams = nparams;
    atomic_store(&pg->nstmts, n + 1); /* publishes the entry to reactors */
    rc = n;
out:
    pthread_mutex_unlock(&pg->stmt_lock);
    return rc;
}

/* ---- errors --------------------------------------------------------------------------------- */

int pg_result_errno(const PGresult *res)
{
    const char *s = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (!s || strlen(s) != 5)
        return -EIO;
    if (!strcmp(s, "57014"))
        return -ECANCELED;
    if (!strcmp(s, "23505"))
        return -EEXIST;
    if (!strcmp(s, "40001") || !strcmp(s, "40P01"))
        return -EAGAIN;
    if (!strncmp(s, "08", 2))
        return -ECONNRESET;
    if (!strncmp(s, "22", 2) || !strncmp(s, "23", 2) || !strncmp(s, "42", 2))
        return -EINVAL;
    return -EIO;
}

/* ---- a query -------------------------------------------------------------------------------- */

struct cancel_job {
    PGcancel *cancel;
    struct pg_conn *pc;
    unsigned gen;           /* the session the request names */
    struct roost_work done; /* cancel_done, posted back to pc's reactor */
};

static void jobs_add(struct roost_pg *pg, int n)
{
    pthread_mutex_lock(&pg->jobs_lock);
    pg->jobs += (unsigned)n;
    if (pg->jobs == 0)
        pthread_cond_broadcast(&pg->jobs_cond);
    pthread_mutex_unlock(&pg->jobs_lock);
}

/* On pc's reactor: the request is done, both of its signals sent (see the top comment). */
static int cancel_done(void *arg)
{
    struct cancel_job *j = arg;
    struct pg_conn *pc = j->pc;
    struct roost_pg *pg = pc->pr->pg;
    if (j->gen == pc->gen) {
        pc->cancels--;
        pg_conn_unfence(pc);
    }
    free(j);
    jobs_add(pg, -1);
    return 0;
}

/*
 * On the worker pool: PQcancel connects to the server and waits until the postmaster has
 * handled the request and closed the connection.
 */
static int cancel_job_run(void *arg)
{
    struct cancel_job *j = arg;
    char err[256];
    (void)PQcancel(j->cancel, err, sizeof(err));
    PQfreeCancel(j->cancel);
    j->done.fn = cancel_done;
    j->done.arg = j;
    if (roost_ctx_post_work(roost_reactor_ctx(j->pc->pr->r), &j->done) < 0) {
        struct roost_pg *pg = j->pc->pr->pg; /* the reactor stopped, its connections closed */
        free(j);
        jobs_add(pg, -1);
    }
    return 0;
}

static void send_cancel(struct pg_conn *pc)
{
    struct roost_pg *pg = pc->pr->pg;
    roost_pool *pool = roost_runtime_pool(pg->rt);
    struct cancel_job *j = pool ? calloc(1, sizeof(*j)) : NULL;
    if (!j)
        return;
    j->cancel = PQgetCancel(pc->conn); /* a copy of the connection's key: no I/O */
    j->pc = pc;
    j->gen = pc->gen;
    jobs_add(pg, 1);
    if (!j->cancel || roost_ctx_post(roost_pool_ctx(pool), cancel_job_run, j) < 0) {
        PQfreeCancel(j->cancel);
        free(j);
        jobs_add(pg, -1);
        return;
    }
    pc->cancels++;
    pc->fenced = true;
}

/* Takes call off its reactor's queue of calls waiting for a connection. */
static void wait_unlink(struct pg_reactor *pr, struct pg_call *call)
{
    struct pg_call *prev = NULL;
    for (struct pg_call *c = pr->wait_head; c; prev = c, c = c->next) {
        if (c != call)
            continue;
        if (prev)
            prev->next = c->next;
        else
            pr->wait_head = c->next;
        if (pr->wait_tail == c)
            pr->wait_tail = prev;
        break;
    }
    call->queued = false;
}

static bool call_cancel(struct roost_waiter *w)
{
    struct pg_call *call = w->source;
    struct pg_reactor *pr = call->pr;
    if (call->queued) {
        wait_unlink(pr, call);
        roost_timer_cancel(&call->timer);
        return true;
    }
    struct pg_conn *pc = call->pc;
    if (!pc || call->item - pc->head >= pc->count)
        return false; /* already answered: the resume is on its way */
    struct pg_item *it = &pc->items[call->item % pc->cap];
    if (it->call != call)
        return false;
    bool running = true; /* no query ahead of it in the pipeline */
    for (unsigned i = pc->head; i != call->item; i++)
        if (pc->items[i % pc->cap].kind == PG_ITEM_QUERY)
            running = false;
    it->call = NULL;
    if (running)
        send_cancel(pc);
    return true;
}

static void acquire_timeout_fired(struct roost_timer *t, int status)
{
    struct pg_call *call = t->arg;
    (void)status;
    if (!call->queued)
        return;
    wait_unlink(call->pr, call);
    roost_complete(&call->w, -ETIMEDOUT);
}

/* The ready connection with room for n queries and the fewest queries in flight, or NULL. */
static struct pg_conn *pick(struct pg_reactor *pr, unsigned n)
{
    struct roost_pg *pg = pr->pg;
    struct pg_conn *best = NULL;
    for (unsigned i = 0; i < pr->nconns; i++) {
        struct pg_conn *pc = &pr->conns[(pr->rr + i) % pr->nconns];
        if (pc->state != PG_READY || pc->broken || pc->fenced ||
            pc->queries + n > pg->pipeline_depth || pc->count + 3 * n > pc->cap)
            continue;
        if (!best || pc->queries < best->queries)
            best = pc;
        if (best->queries == 0)
            break;
    }
    pr->rr++;
    return best;
}

static int start_reactor(struct pg_reactor *pr)
{
    pr->started = true;
    for (unsigned i = 0; i < pr->nconns; i++) {
        int rc = roost_spawn_on(roost_reactor_ctx(pr->r), pg_conn_driver, &pr->conns[i],
                                &pr->conns[i].driver);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The connection broke while a query was being appended: let its driver reset it. */
static void mark_broken(struct pg_conn *pc)
{
    pc->broken = true;
    if (pc->in_poll)
        roost_task_cancel(pc->driver);
}

static void push(struct pg_conn *pc, uint8_t kind, struct pg_call *call, int stmt)
{
    struct pg_item *it = &pc->items[(pc->head + pc->count) % pc->cap];
    it->kind = kind;
    it->call = call;
    it->stmt = stmt;
    it->res = NULL;
    pc->count++;
}

static int enqueue(struct pg_conn *pc, struct pg_call *call, int stmt, const char *sql, int n,
                   const char *const *params, unsigned flags)
{
    struct roost_pg *pg = pc->pr->pg;
    PGconn *c = pc->conn;
    int fmt = flags & ROOST_PG_BINARY ? 1 : 0;
    if (stmt >= 0 && !(pc->prepared & (1ull << stmt))) {
        struct pg_stmt *s = &pg->stmts[stmt];
        if (!PQsendPrepare(c, s->name, s->sql, s->nparams, NULL)) {
            mark_broken(pc);
            return -ECONNRESET;
        }
        push(pc, PG_ITEM_PREPARE, NULL, stmt);
        pc->prepared |= 1ull << stmt;
    }
    int ok = stmt >= 0 ? PQsendQueryPrepared(c, pg->stmts[stmt].name, n, params, NULL, NULL, fmt)
                       : PQsendQueryParams(c, sql, n, NULL, params, NULL, NULL, fmt);
    if (!ok) {
        mark_broken(pc);
        return -ECONNRESET;
    }
    call->pc = pc;
    call->item = pc->head + pc->count;
    push(pc, PG_ITEM_QUERY, call, -1);
    pc->queries++;
    /* libpq 15 flushes here (without blocking); later versions could batch the syncs. */
    if (!PQpipelineSync(c)) {
        mark_broken(pc); /* the driver fails the query with the connection */
        return 0;
    }
    push(pc, PG_ITEM_SYNC, NULL, -1);
    int f = PQflush(c);
    if (f < 0)
        mark_broken(pc);
    else if (f == 1 && pc->in_poll && !pc->polling_out)
        roost_task_cancel(pc->driver); /* the driver must poll for writing too */
    return 0;
}

/* What a call asks for: count statements, each with nparams of params (row after row). */
struct batch {
    int stmt; /* -1: sql, unnamed */
    const char *sql;
    int nparams;
    const char *const *params;
    unsigned flags;
    unsigned count;
    roost_pg_result **out;
};

/* Queries a batch may put on one connection at once (their calls live on the task's stack). */
#define PG_BATCH 32u

/* Waits (with the acquire timeout) for a ready connection with room for n queries. */
static int acquire(struct pg_reactor *pr, struct pg_call *call, unsigned n, struct pg_conn **out)
{
    uint64_t deadline = 0;
    while (!(*out = pick(pr, n))) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        if (!deadline)
            deadline = now + pr->pg->acquire_timeout_ms * 1000000u;
        if (now >= deadline)
            return -ETIMEDOUT;
        roost_waiter_init(&call->w);
        roost_waiter_set_cancel(&call->w, call_cancel, call);
        call->next = NULL;
        if (pr->wait_tail)
            pr->wait_tail->next = call;
        else
            pr->wait_head = call;
        pr->wait_tail = call;
        call->queued = true;
        int rc = roost_timer_start_ns(&call->timer, deadline - now, acquire_timeout_fired, call);
        if (rc < 0) {
            call_cancel(&call->w);
            return rc;
        }
        rc = roost_wait(&call->w);
        if (rc < 0)
            return rc;
        if (pr->stopping)
            return -ESHUTDOWN;
    }
    return 0;
}

/* After a cancel: a call not answered yet is abandoned, an answered one's result dropped. */
static void abandon(struct pg_call *call)
{
    struct pg_conn *pc = call->pc;
    if (pc && call->item - pc->head < pc->count && pc->items[call->item % pc->cap].call == call)
        pc->items[call->item % pc->cap].call = NULL;
    PQclear(call->res);
    call->res = NULL;
}

/* Runs up to PG_BATCH queries of b from index first on one connection of pr. */
static int run_chunk(struct pg_reactor *pr, const struct batch *b, unsigned first, unsigned n)
{
    struct pg_call calls[PG_BATCH];
    for (unsigned i = 0; i < n; i++) {
        calls[i] = (struct pg_call){.pr = pr};
        roost_timer_init(&calls[i].timer);
    }
    struct pg_conn *pc;
    int rc = acquire(pr, &calls[0], n, &pc);
    if (rc < 0)
        return rc;
    unsigned queued = 0;
    for (; queued < n; queued++) {
        struct pg_call *call = &calls[queued];
        roost_waiter_init(&call->w);
        roost_waiter_set_cancel(&call->w, call_cancel, call);
        const char *const *params =
            b->params ? b->params + (size_t)(first + queued) * b->nparams : NULL;
        rc = enqueue(pc, call, b->stmt, b->sql, b->nparams, params, b->flags);
        if (rc < 0)
            break;
    }
    /* Results come in pipeline order: the later waits mostly find theirs done already. */
    int first_err = rc;
    for (unsigned i = 0; i < queued; i++) {
        int r = roost_wait(&calls[i].w);
        if (r == -ECANCELED) {
            if (calls[i].res && PQresultStatus(calls[i].res) != PGRES_FATAL_ERROR) {
                /* Answered as the cancel came: a cancelled await never delivers a success. */
                PQclear(calls[i].res);
                calls[i].res = NULL;
            }
            for (unsigned j = i + 1; j < queued; j++)
                abandon(&calls[j]);
            queued = i + 1;
        }
        b->out[first + i] = (roost_pg_result *)calls[i].res;
        if (r < 0 && first_err >= 0)
            first_err = r;
    }
    return first_err < 0 ? first_err : 0;
}

static int run_here(struct pg_reactor *pr, const struct batch *b)
{
    if (pr->stopping)
        return -ESHUTDOWN;
    if (!pr->started) {
        int rc = start_reactor(pr);
        if (rc < 0)
            return rc;
    }
    unsigned chunk = pr->pg->pipeline_depth < PG_BATCH ? pr->pg->pipeline_depth : PG_BATCH;
    int rc = 0;
    for (unsigned i = 0; i < b->count && rc == 0; i += chunk) {
        unsigned n = b->count - i < chunk ? b->count - i : chunk;
        rc = run_chunk(pr, b, i, n);
    }
    return rc;
}

static int run(struct roost_pg *pg, const struct batch *b)
{
    if (!b->out)
        return -EINVAL;
    for (unsigned i = 0; i < b->count; i++)
        b->out[i] = NULL;
    if (!pg || b->nparams < 0 || (b->nparams > 0 && !b->params) || (b->stmt < 0 && !b->sql) ||
        (b->stmt >= 0 && b->stmt >= atomic_load(&pg->nstmts)))
        return -EINVAL;
    if (!roost_task_current())
        return -EPERM;
    roost_reactor *r = roost_reactor_current();
    unsigned id = r ? roost_reactor_id(r) : 0;
    roost_ctx *back = NULL;
    if (!r || id >= pg->nreactors || pg->reactors[id].r != r) {
        /* Not on one of pg's reactors (a pool task): carry the task there and back. */
        back = roost_ctx_current();
        id = atomic_fetch_add_explicit(&pg->rr, 1, memory_order_relaxed) % pg->nreactors;
        int rc = roost_hop(roost_reactor_ctx(pg->reactors[id].r));
        if (rc < 0)
            return rc;
    }
    int rc = run_here(&pg->reactors[id], b);
    if (back) {
        int hr = roost_hop(back);
        if (hr < 0 && rc >= 0)
            rc = hr;
    }
    return rc;
}

int roost_pg_exec_prepared(roost_pg *pg, int stmt, int nparams, const char *const *params,
                           unsigned flags, roost_pg_result **out)
{
    struct batch b = {stmt, NULL, nparams, params, flags, 1, out};
    return run(pg, &b);
}

int roost_pg_exec_prepared_many(roost_pg *pg, int stmt, unsigned count, int nparams,
                                const char *const *params, unsigned flags, roost_pg_result **out)
{
    struct batch b = {stmt, NULL, nparams, params, flags, count, out};
    return run(pg, &b);
}

int roost_pg_exec(roost_pg *pg, const char *sql, int nparams, const char *const *params,
                  unsigned flags, roost_pg_result **out)
{
    struct batch b = {-1, sql, nparams, params, flags, 1, out};
    return run(pg, &b);
}

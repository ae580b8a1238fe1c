/*
 * The PostgreSQL client against a real server started here (scripts/pg-test-server.sh:
 * initdb in a temporary directory, a free loopback port; skipped with 77 when PostgreSQL is
 * not installed): typed results, prepared statements prepared once per connection, server
 * errors with SQLSTATE, affinity after every await (reactor and pool tasks), 1,000
 * concurrent queries over 8 connections, cancel (and a cancel request that must not reach
 * the queries sent after it), a server stopped mid-query and back, an acquire timeout, host
 * names resolved off the reactor. Tasks on the reactors check with task_check (support.h):
 * cmocka's asserts fail silently off the test's thread.
 */
#define _GNU_SOURCE /* sched_setaffinity, cpu_set_t */
#include <errno.h>
#include <libpq-fe.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <roost/pg.h>

#include "support.h"

static char pg_dir[256];
static char pg_url[256];
static unsigned pg_port;

static int server(const char *cmd, char *out, size_t outlen)
{
    char line[600];
    snprintf(line, sizeof(line), "%s/scripts/pg-test-server.sh %s %s", ROOST_SOURCE_DIR, cmd,
             pg_dir);
    FILE *p = popen(line, "r");
    if (!p)
        return -1;
    char buf[256] = "";
    if (!fgets(buf, sizeof(buf), p))
        buf[0] = 0;
    int st = pclose(p);
    buf[strcspn(buf, "\n")] = 0;
    if (out)
        snprintf(out, outlen, "%s", buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A plain blocking libpq query from the test thread (not the code under test). */
static long side_query_long(const char *sql)
{
    PGconn *c = PQconnectdb(pg_url);
    long v = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
    }
    PQfinish(c);
    return v;
}

/*
 * Waits (bounded) until a session is inside pg_sleep for a query like `like`: not merely
 * active, because the server ignores a cancel request that arrives between the protocol
 * messages of a query (Parse, Bind, Execute), and the statement would then run on.
 */
static bool wait_active(const char *like)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND "
             "wait_event = 'PgSleep' AND query LIKE '%s'",
             like);
    uint64_t end = test_now_ns() + test_scaled_ms(20000) * 1000000u;
    while (test_now_ns() < end) {
        if (side_query_long(sql) > 0)
            return true;
        test_sleep_ms(20);
    }
    return false;
}

/* ---- a runtime, a database, tasks ---- */

static roost_runtime *rt;
static roost_pg *pg;

static void open_db(unsigned reactors, const struct roost_config *cfg, const char *url,
                    unsigned pool_size, unsigned depth, uint64_t acquire_ms)
{
    rt = test_runtime(reactors, cfg);
    struct roost_pg_opts o;
    roost_pg_opts_init(&o);
    o.url = url;
    o.pool_size = pool_size;
    o.pipeline_depth = depth;
    o.acquire_timeout_ms = acquire_ms;
    assert_int_equal(roost_pg_create(rt, &o, &pg), 0);
}

static void close_db(void)
{
    roost_pg_destroy(pg);
    pg = NULL;
    roost_runtime_destroy(rt);
    rt = NULL;
}

struct spawn_req {
    roost_ctx *ctx;
    roost_task_fn fn;
    void *arg;
    unsigned n;
    roost_task **tasks;
};

static int spawn_join_all(void *arg)
{
    struct spawn_req *s = arg;
    int rc = 0;
    for (unsigned i = 0; i < s->n; i++)
        assert_int_equal(roost_spawn_on(s->ctx, s->fn, s->arg, &s->tasks[i]), 0);
    for (unsigned i = 0; i < s->n; i++) {
        int r = roost_join(s->tasks[i]);
        if (r < 0 && rc == 0)
            rc = r;
    }
    return rc;
}

/* Runs n tasks of fn(arg) on ctx and joins them; the first failure or 0. */
static int run_tasks(roost_ctx *ctx, roost_task_fn fn, void *arg, unsigned n)
{
    struct spawn_req s = {.ctx = ctx, .fn = fn, .arg = arg, .n = n};
    s.tasks = calloc(n, sizeof(*s.tasks));
    assert_non_null(s.tasks);
    int rc = roost_run(spawn_join_all, &s);
    free(s.tasks);
    assert_no_task_failure();
    return rc;
}

static roost_ctx *reactor_ctx(unsigned i)
{
    return roost_reactor_ctx(roost_runtime_reactor(rt, i));
}

/* ---- typed values ---- */

static int typed_body(void *arg)
{
    (void)arg;
    roost_reactor *home = roost_reactor_current();
    roost_pg_result *r;
    int rc = roost_pg_exec(pg, "SELECT 42::int4, true, 'héllo'::text, NULL::int, 9000000000::int8",
                           0, NULL, 0, &r);
    task_check_int(rc, 0);
    task_check(roost_reactor_current() == home);
    task_check_int(roost_pg_result_rows(r), 1);
    task_check_int(roost_pg_result_cols(r), 5);
    int64_t v;
    bool b;
    const char *s;
    size_t len;
    task_check_int(roost_pg_get_int(r, 0, 0, &v), 0);
    task_check_int(v, 42);
    task_check_int(roost_pg_get_bool(r, 0, 1, &b), 0);
    task_check(b);
    task_check_int(roost_pg_get_text(r, 0, 2, &s, &len), 0);
    task_check(strcmp(s, "héllo") == 0);
    task_check_int(len, strlen("héllo"));
    task_check_int(roost_pg_get_int(r, 0, 3, &v), -ENODATA);
    task_check(roost_pg_is_null(r, 0, 3));
    task_check_int(roost_pg_get_int(r, 0, 4, &v), 0);
    task_check_int(v, 9000000000ll);
    task_check_int(roost_pg_get_int(r, 0, 2, &v), -EINVAL);
    task_check_int(roost_pg_get_int(r, 1, 0, &v), -ENOENT);
    roost_pg_result_free(r);

    /* Binary results: raw bytes in network order, decoded by the same accessors. */
    const char *params[] = {"7"};
    rc = roost_pg_exec(pg, "SELECT $1::int4 * 6, false", 1, params, ROOST_PG_BINARY, &r);
    task_check_int(rc, 0);
    const void *p;
    task_check_int(roost_pg_get_raw(r, 0, 0, &p, &len), 0);
    task_check_int(len, 4);
    task_check(memcmp(p, "\0\0\0\x2a", 4) == 0);
    task_check_int(roost_pg_get_int(r, 0, 0, &v), 0);
    task_check_int(v, 42);
    task_check_int(roost_pg_get_bool(r, 0, 1, &b), 0);
    task_check(!b);
    roost_pg_result_free(r);
    return 0;
}

static void query_returns_typed_values_text_and_binary(void **state)
{
    (void)state;
    open_db(1, NULL, pg_url, 1, 0, 0);
    assert_int_equal(run_tasks(reactor_ctx(0), typed_body, NULL, 1), 0);
    close_db();
}

/* ---- prepared statements ---- */

static int world_stmt, count_stmt;

static int prepared_body(void *arg)
{
    (void)arg;
    for (int i = 1; i <= 3; i++) {
        char id[16];
        snprintf(id, sizeof(id), "%d", i * 100);
        const char *params[] = {id};
        roost_pg_result *r;
        task_check_int(roost_pg_exec_prepared(pg, world_stmt, 1, params, 0, &r), 0);
        int64_t v;
        task_check_int(roost_pg_get_int(r, 0, 0, &v), 0);
        task_check_int(v, i * 100);
        roost_pg_result_free(r);
    }
    roost_pg_result *r;
    task_check_int(roost_pg_exec_prepared(pg, count_stmt, 0, NULL, 0, &r), 0);
    int64_t n;
    task_check_int(roost_pg_get_int(r, 0, 0, &n), 0);
    roost_pg_result_free(r);
    return n == 2 ? 0 : -EBADMSG;
}

static void a_statement_is_prepared_once_per_connection(void **state)
{
    (void)state;
    open_db(1, NULL, pg_url, 1, 0, 0);
    world_stmt =
        roost_pg_prepare(pg, "world", "SELECT id, randomnumber FROM world WHERE id = $1", 1);
    assert_true(world_stmt >= 0);
    count_stmt = roost_pg_prepare(
        pg, "count_prepared",
        "SELECT count(*) FROM pg_prepared_statements WHERE name IN ('world', 'count_prepared')", 0);
    assert_true(count_stmt >= 0);
    assert_int_equal(roost_pg_prepare(pg, "world", "SELECT 1", 0), -EEXIST);
    /* One connection: three uses of "world" and one of the count, each prepared once. */
    assert_int_equal(run_tasks(reactor_ctx(0), prepared_body, NULL, 1), 0);
    close_db();
}

/* ---- a batch ---- */

static int sleep_stmt;

static int many_body(void *arg)
{
    (void)arg;
    roost_reactor *home = roost_reactor_current();
    enum { N = 100 };
    char ids[N][8];
    const char *params[N];
    roost_pg_result *rs[N];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof(ids[i]), "%d", 1 + i * 37);
        params[i] = ids[i];
    }
    int rc = roost_pg_exec_prepared_many(pg, world_stmt, N, 1, params, 0, rs);
    task_check_int(rc, 0);
    task_check(roost_reactor_current() == home);
    for (int i = 0; i < N; i++) {
        int64_t v;
        task_check_int(roost_pg_get_int(rs[i], 0, 0, &v), 0);
        task_check_int(v, 1 + i * 37);
        roost_pg_result_free(rs[i]);
    }
    return 0;
}

static void a_batch_returns_every_result_in_order(void **state)
{
    (void)state;
    open_db(1, NULL, pg_url, 1, 0, 0);
    world_stmt =
        roost_pg_prepare(pg, "world", "SELECT id, randomnumber FROM world WHERE id = $1", 1);
    assert_int_equal(run_tasks(reactor_ctx(0), many_body, NULL, 1), 0);
    close_db();
}

static roost_task *batcher;
static _Atomic int batch_rc = 1;
static roost_pg_result *batch_out[3];

static int batch_sleeper_body(void *arg)
{
    (void)arg;
    const char *params[] = {"120", "0", "0"};
    atomic_store(&batch_rc,
                 roost_pg_exec_prepared_many(pg, sleep_stmt, 3, 1, params, 0, batch_out));
    return 0;
}

static int spawn_batcher(void *arg)
{
    (void)arg;
    return roost_spawn(batch_sleeper_body, NULL, &batcher);
}

static int cancel_batcher(void *arg)
{
    (void)arg;
    return roost_task_cancel(batcher);
}

static int join_one(void *arg);

/*
 * The cancel lands while the batch's first query sleeps on the server (wait_active), so the
 * batch returns -ECANCELED with no result: only this cancel could end that query, and its
 * answer is thrown away. The next query on the one connection must then succeed: the cancel
 * request must not reach it (see a_cancel_request_spares_the_queries_sent_after_it).
 */
static void cancelling_a_batch_abandons_the_rest_and_the_connection_goes_on(void **state)
{
    (void)state;
    open_db(1, NULL, pg_url, 1, 0, test_scaled_ms(60000));
    sleep_stmt = roost_pg_prepare(pg, "sleep", "SELECT pg_sleep($1::float8)", 1);
    assert_int_equal(roost_ctx_send(reactor_ctx(0), spawn_batcher, NULL), 0);
    assert_true(wait_active("SELECT pg_sleep($1::float8)"));
    assert_int_equal(roost_ctx_send(reactor_ctx(0), cancel_batcher, NULL), 0);
    assert_int_equal(roost_run(join_one, batcher), 0);
    assert_int_equal(atomic_load(&batch_rc), -ECANCELED);
    for (int i = 0; i < 3; i++)
        assert_null(batch_out[i]);
    /* The one connection answers again long before pg_sleep(120) could have ended. */
    uint64_t t0 = test_now_ns();
    assert_int_equal(run_tasks(reactor_ctx(0), typed_body, NULL, 1), 0);
    assert_true(test_now_ns() - t0 < 60000000000ull);
    close_db();
}

/* ---- server errors ---- */

static int error_body(void *arg)
{
    (void)arg;
    roost_pg_result *r;
    int rc = roost_pg_exec(pg, "SELECT 1 / 0", 0, NULL, 0, &r);
    task_check_int(rc, -EINVAL);
    task_check(r != NULL);
    task_check(strcmp(roost_pg_result_sqlstate(r), "22012") == 0);
    task_check(strstr(roost_pg_result_message(r), "division by zero") != NULL);
    roost_pg_result_free(r);
    rc = roost_pg_exec(pg, "SELECT * FROM no_such_table", 0, NULL, 0, &r);
    task_check_int(rc, -EINVAL);
    task_check(strcmp(roost_pg_result_sqlstate(r), "42P01") == 0);
    roost_pg_result_free(r);
    /* A failed prepare reports its own error, not "pipeline aborted". */
    int bad = roost_pg_prepare(pg, "bad", "SELEKT 1", 0);
    rc = roost_pg_exec_prepared(pg, bad, 0, NULL, 0, &r);
    task_check_int(rc, -EINVAL);
    task_check(strcmp(roost_pg_result_sqlstate(r), "42601") == 0);
    roost_pg_result_free(r);
    /* The connection goes on. */
    rc = roost_pg_exec(pg, "SELECT 1", 0, NULL, 0, &r);
    task_check_int(rc, 0);
    roost_pg_result_free(r);
    return 0;
}

static void server_error_returns_errno_with_sqlstate_and_message(void **state)
{
    (void)state;
    open_db(1, NULL, pg_url, 1, 0, 0);
    assert_int_equal(run_tasks(reactor_ctx(0), error_body, NULL, 1), 0);
    close_db();
}

/* ---- affinity ---- */

static int affinity_body(void *arg)
{
    (void)arg;
    roost_reactor *home = roost_reactor_current();
    for (int i = 0; i < 20; i++) {
        roost_pg_result *r;
        const char *params[] = {"3"};
        int rc =
            roost_pg_exec(pg, "SELECT randomnumber FROM world WHERE id = $1", 1, params, 0, &r);
        roost_pg_result_free(r);
        if (rc < 0)
            return rc;
        if (roost_reactor_current() != home)
            return -EXDEV;
    }
    return 0;
}

static void after_every_query_the_task_is_on_its_reactor(void **state)
{
    (void)state;
    open_db(2, NULL, pg_url, 4, 0, 0);
    for (unsigned i = 0; i < 2; i++)
        assert_int_equal(run_tasks(reactor_ctx(i), affinity_body, NULL, 50), 0);
    close_db();
}

static int pool_body(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10; i++) {
        roost_pg_result *r;
        int rc = roost_pg_exec(pg, "SELECT 1", 0, NULL, 0, &r);
        roost_pg_result_free(r);
        if (rc < 0)
            return rc;
        if (roost_reactor_current() != NULL) /* carried to a reactor, and back to the pool */
            return -EXDEV;
    }
    return 0;
}

static void a_pool_task_comes_back_to_the_pool_after_a_query(void **state)
{
    (void)state;
    struct roost_config cfg;
    roost_config_init(&cfg);
    cfg.pool_threads = 2;
    open_db(2, &cfg, pg_url, 2, 0, 0);
    assert_int_equal(run_tasks(roost_pool_ctx(roost_runtime_pool(rt)), pool_body, NULL, 20), 0);
    close_db();
}

/* ---- 1,000 concurrent queries over 8 connections ---- */

static _Atomic int answered;

static int world_body(void *arg)
{
    (void)arg;
    static _Atomic unsigned next_id;
    char id[16];
    unsigned want = 1 + atomic_fetch_add(&next_id, 1) % 10000;
    snprintf(id, sizeof(id), "%u", want);
    const char *params[] = {id};
    roost_pg_result *r;
    int rc = roost_pg_exec_prepared(pg, world_stmt, 1, params, 0, &r);
    int64_t got = -1;
    if (rc == 0)
        rc = roost_pg_get_int(r, 0, 0, &got);
    roost_pg_result_free(r);
    if (rc < 0)
        return rc;
    if (got != want)
        return -EBADMSG;
    atomic_fetch_add(&answered, 1);
    return 0;
}

static void thousand_concurrent_queries_over_a_pool_of_8_are_all_answered(void **state)
{
    (void)state;
    /* Depth 32: 8 x 32 < 1,000, so queries also wait for a connection with room. */
    char url[300];
    snprintf(url, sizeof(url), "%s?application_name=roost_thousand", pg_url);
    open_db(1, NULL, url, 8, 32, test_scaled_ms(60000));
    world_stmt =
        roost_pg_prepare(pg, "world", "SELECT id, randomnumber FROM world WHERE id = $1", 1);
    atomic_store(&answered, 0);
    assert_int_equal(run_tasks(reactor_ctx(0), world_body, NULL, 1000), 0);
    assert_int_equal(atomic_load(&answered), 1000);
    /*
     * The pool opens its 8 connections and no more. The queries may all have been answered
     * before the last of them finished connecting, so wait (bounded) for the 8th.
     */
    static const char sessions[] =
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'roost_thousand'";
    uint64_t end = test_now_ns() + test_scaled_ms(20000) * 1000000u;
    while (side_query_long(sessions) < 8 && test_now_ns() < end)
        test_sleep_ms(20);
    assert_int_equal(side_query_long(sessions), 8);
    close_db();
}

/* ---- cancel ---- */

static roost_task *sleeper;
static _Atomic int sleeper_rc = 1;

static int sleeper_body(void *arg)
{
    (void)arg;
    roost_reactor *home = roost_reactor_current();
    roost_pg_result *r;
    int rc = roost_pg_exec(pg, "SELECT pg_sleep(120)", 0, NULL, 0, &r);
    roost_pg_result_free(r);
    atomic_store(&sleeper_rc, rc);
    return roost_reactor_current() == home ? 0 : -EXDEV;
}

static int spawn_sleeper(void *arg)
{
    (void)arg;
    return roost_spawn(sleeper_body, NULL, &sleeper);
}

static int cancel_sleeper(void *arg)
{
    (void)arg;
    return roost_task_cancel(sleeper);
}

static int join_one(void *arg)
{
    return roost_join(arg);
}

static void task_cancel_cancels_its_query_on_the_server(void **state)
{
    (void)state;
    open_db(1, NULL, pg_url, 1, 0, test_scaled_ms(60000));
    atomic_store(&sleeper_rc, 1);
    assert_int_equal(roost_ctx_send(reactor_ctx(0), spawn_sleeper, NULL), 0);
    assert_true(wait_active("SELECT pg_sleep(120)%"));
    assert_int_equal(roost_ctx_send(reactor_ctx(0), cancel_sleeper, NULL), 0);
    assert_int_equal(roost_run(join_one, sleeper), 0);
    assert_int_equal(atomic_load(&sleeper_rc), -ECANCELED);
    /* The one connection is free again well before pg_sleep(120) could have ended. */
    uint64_t t0 = test_now_ns();
    assert_int_equal(run_tasks(reactor_ctx(0), typed_body, NULL, 1), 0);
    assert_true(test_now_ns() - t0 < 60000000000ull);
    assert_int_equal(side_query_long("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                                     "AND query LIKE 'SELECT pg_sleep(120)%'"),
                     0);
    close_db();
}

/* ---- a cancel request reaches no query sent after it ---- */

/*
 * PostgreSQL 15's postmaster hands a cancel request to the backend as two SIGINTs, to its
 * pid and then to its process group. When the backend runs between the two kills, the first
 * ends the cancelled query and the second cancels whatever the backend runs next. The
 * client must not have appended anything to that connection by then. Between the kills
 * the backend runs only if it preempts the postmaster's child that sends them, which is
 * likely when both share a CPU (and rare otherwise, outside a loaded machine): so the
 * postmaster (the child inherits its affinity) and the backend are pinned to one CPU for
 * the test, when the test may (root, or the server's own user). The queries sent after the
 * cancel sleep a little, so that a late signal finds one of them running.
 */

static _Atomic int backend_pid;

static int backend_pid_body(void *arg)
{
    (void)arg;
    roost_pg_result *r;
    task_check_int(roost_pg_exec(pg, "SELECT pg_backend_pid()", 0, NULL, 0, &r), 0);
    int64_t v;
    task_check_int(roost_pg_get_int(r, 0, 0, &v), 0);
    roost_pg_result_free(r);
    atomic_store(&backend_pid, (int)v);
    return 0;
}

static int short_sleep_body(void *arg)
{
    (void)arg;
    roost_pg_result *r;
    int rc = roost_pg_exec(pg, "SELECT pg_sleep(0.01)", 0, NULL, 0, &r);
    if (rc < 0)
        task_fail_msg("a query sent after the cancel failed: %d (%s, %s)", rc,
                      roost_pg_result_sqlstate(r), roost_pg_result_message(r));
    roost_pg_result_free(r);
    return 0;
}

static pid_t postmaster_pid(void)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/data/postmaster.pid", pg_dir);
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (f) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return (pid_t)pid;
}

static void a_cancel_request_spares_the_queries_sent_after_it(void **state)
{
    (void)state;
    open_db(1, NULL, pg_url, 1, 0, test_scaled_ms(60000));
    assert_int_equal(run_tasks(reactor_ctx(0), backend_pid_body, NULL, 1), 0);
    pid_t pm = postmaster_pid();
    cpu_set_t pm_mask, one;
    CPU_ZERO(&one);
    bool pinned = pm > 0 && sched_getaffinity(pm, sizeof(pm_mask), &pm_mask) == 0;
    for (int cpu = 0; pinned && cpu < CPU_SETSIZE; cpu++) {
        if (CPU_ISSET(cpu, &pm_mask)) {
            CPU_SET(cpu, &one);
            break;
        }
    }
    pinned = pinned && sched_setaffinity(pm, sizeof(one), &one) == 0;
    if (pinned && sched_setaffinity(atomic_load(&backend_pid), sizeof(one), &one) != 0) {
        sched_setaffinity(pm, sizeof(pm_mask), &pm_mask);
        pinned = false;
    }
    if (!pinned)
        fprintf(stderr, "could not pin the server to one CPU: a late signal is then rare\n");
    for (int i = 0; i < 10; i++) {
        atomic_store(&sleeper_rc, 1);
        assert_int_equal(roost_ctx_send(reactor_ctx(0), spawn_sleeper, NULL), 0);
        assert_true(wait_active("SELECT pg_sleep(120)%"));
        assert_int_equal(roost_ctx_send(reactor_ctx(0), cancel_sleeper, NULL), 0);
        /* Right away: without a fence they would be in the pipeline before the request. */
        assert_int_equal(run_tasks(reactor_ctx(0), short_sleep_body, NULL, 3), 0);
        assert_int_equal(roost_run(join_one, sleeper), 0);
        assert_int_equal(atomic_load(&sleeper_rc), -ECANCELED);
    }
    if (pinned)
        sched_setaffinity(pm, sizeof(pm_mask), &pm_mask);
    close_db();
}

/* ---- server stopped mid-query ---- */

static int until_ok_body(void *arg)
{
    (void)arg;
    uint64_t end = test_now_ns() + test_scaled_ms(60000) * 1000000u;
    while (test_now_ns() < end) {
        roost_pg_result *r;
        int rc = roost_pg_exec(pg, "SELECT 1", 0, NULL, 0, &r);
        roost_pg_result_free(r);
        if (rc == 0)
            return 0;
        roost_sleep(50);
    }
    return -ETIMEDOUT;
}

static void server_stopped_mid_query_fails_it_and_the_pool_recovers(void **state)
{
    (void)state;
    open_db(1, NULL, pg_url, 1, 0, 500);
    atomic_store(&sleeper_rc, 1);
    assert_int_equal(roost_ctx_send(reactor_ctx(0), spawn_sleeper, NULL), 0);
    assert_true(wait_active("SELECT pg_sleep(120)%"));
    assert_int_equal(server("stop", NULL, 0), 0);
    assert_int_equal(roost_run(join_one, sleeper), 0);
    int rc = atomic_load(&sleeper_rc);
    if (rc >= 0 || rc == 1)
        fail_msg("the query went on after the server stopped: %d", rc);
    /* While it is down, queries time out waiting for a connection. */
    assert_int_equal(run_tasks(reactor_ctx(0), affinity_body, NULL, 1), -ETIMEDOUT);
    char url[256];
    assert_int_equal(server("start", url, sizeof(url)), 0);
    assert_int_equal(run_tasks(reactor_ctx(0), until_ok_body, NULL, 1), 0);
    close_db();
}

/* ---- the reactor never blocks ---- */

static _Atomic int ticks;

static int ticker_body(void *arg)
{
    (void)arg;
    /* Runs on the same reactor as the sleeper: if its query blocked the thread, no tick. */
    for (int i = 0; i < 5; i++) {
        if (roost_sleep(10) < 0)
            return -EINTR;
        atomic_fetch_add(&ticks, 1);
    }
    return roost_task_cancel(sleeper);
}

static void the_reactor_runs_other_tasks_while_a_query_waits(void **state)
{
    (void)state;
    open_db(1, NULL, pg_url, 1, 0, test_scaled_ms(60000));
    atomic_store(&sleeper_rc, 1);
    atomic_store(&ticks, 0);
    assert_int_equal(roost_ctx_send(reactor_ctx(0), spawn_sleeper, NULL), 0);
    assert_true(wait_active("SELECT pg_sleep(120)%"));
    /* The ticker ends the sleeper's 120 s query: only a free reactor gets there. */
    assert_int_equal(run_tasks(reactor_ctx(0), ticker_body, NULL, 1), 0);
    assert_int_equal(roost_run(join_one, sleeper), 0);
    assert_int_equal(atomic_load(&ticks), 5);
    assert_int_equal(atomic_load(&sleeper_rc), -ECANCELED);
    close_db();
}

/* ---- host names, unix sockets, refusals ---- */

static void a_unix_socket_directory_url_works(void **state)
{
    (void)state;
    char url[512];
    snprintf(url, sizeof(url), "host=%s port=%u user=postgres dbname=postgres", pg_dir, pg_port);
    open_db(1, NULL, url, 1, 0, test_scaled_ms(30000));
    assert_int_equal(run_tasks(reactor_ctx(0), typed_body, NULL, 1), 0);
    close_db();
}

static void a_host_name_is_resolved_off_the_reactor(void **state)
{
    (void)state;
    char url[256];
    snprintf(url, sizeof(url), "postgresql://postgres@localhost:%u/postgres", pg_port);
    /* Two reactors' drivers resolve and connect at the same time. */
    open_db(2, NULL, url, 4, 0, test_scaled_ms(30000));
    assert_int_equal(run_tasks(reactor_ctx(0), typed_body, NULL, 1), 0);
    assert_int_equal(run_tasks(reactor_ctx(1), typed_body, NULL, 1), 0);
    close_db();
}

static void calls_outside_a_task_are_refused(void **state)
{
    (void)state;
    open_db(1, NULL, pg_url, 1, 0, 0);
    roost_pg_result *r = (roost_pg_result *)1;
    assert_int_equal(roost_pg_exec(pg, "SELECT 1", 0, NULL, 0, &r), -EPERM);
    assert_null(r);
    assert_int_equal(roost_pg_exec_prepared(pg, 5, 0, NULL, 0, &r), -EINVAL);
    close_db();
}

static int start_server(void **state)
{
    (void)state;
    snprintf(pg_dir, sizeof(pg_dir), "/tmp/roost-pg-test.%d", (int)getpid());
    int rc = server("start", pg_url, sizeof(pg_url));
    if (rc != 0)
        return -1;
    const char *colon = strrchr(pg_url, ':');
    pg_port = colon ? (unsigned)strtoul(colon + 1, NULL, 10) : 0;
    return 0;
}

static int kill_server(void **state)
{
    (void)state;
    server("kill", NULL, 0);
    return 0;
}

int main(void)
{
    if (access("/usr/lib/postgresql", X_OK) != 0) {
        fprintf(stderr, "PostgreSQL is not installed: skipped\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(query_returns_typed_values_text_and_binary),
        cmocka_unit_test(a_statement_is_prepared_once_per_connection),
        cmocka_unit_test(a_batch_returns_every_result_in_order),
        cmocka_unit_test(cancelling_a_batch_abandons_the_rest_and_the_connection_goes_on),
        cmocka_unit_test(server_error_returns_errno_with_sqlstate_and_message),
        cmocka_unit_test(after_every_query_the_task_is_on_its_reactor),
        cmocka_unit_test(a_pool_task_comes_back_to_the_pool_after_a_query),
        cmocka_unit_test(thousand_concurrent_queries_over_a_pool_of_8_are_all_answered),
        cmocka_unit_test(task_cancel_cancels_its_query_on_the_server),
        cmocka_unit_test(a_cancel_request_spares_the_queries_sent_after_it),
        cmocka_unit_test(server_stopped_mid_query_fails_it_and_the_pool_recovers),
        cmocka_unit_test(the_reactor_runs_other_tasks_while_a_query_waits),
        cmocka_unit_test(a_host_name_is_resolved_off_the_reactor),
        cmocka_unit_test(a_unix_socket_directory_url_works),
        cmocka_unit_test(calls_outside_a_task_are_refused),
    };
    return cmocka_run_group_tests(tests, start_server, kill_server);
}

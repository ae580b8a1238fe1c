/* The Redis client against a real redis-server: pipelining, errors, AUTH/SELECT, reconnects. */
#include <pthread.h>
#include <string.h>

#include "redis_support.h"

static struct test_redis srv;
static roost_runtime *rt;
static roost_redis *cli;

static void start(const char *password)
{
    srv = (struct test_redis){.password = password};
    test_redis_start(&srv);
    rt = test_runtime(2, NULL);
    struct roost_redis_opts o = test_redis_opts(&srv);
    assert_int_equal(roost_redis_open(rt, &o, &cli), 0);
}

static void stop(void)
{
    assert_int_equal(roost_redis_close(cli), 0);
    roost_runtime_destroy(rt);
    test_redis_stop(&srv);
}

/* Runs fn as a task on reactor i and returns its result. */
struct on_task {
    roost_task_fn fn;
    void *arg;
    roost_task *t;
};
static int spawn_here(void *arg)
{
    struct on_task *o = arg;
    return roost_spawn(o->fn, o->arg, &o->t);
}
static int join_it(void *arg)
{
    return roost_join(arg);
}
static int run_on(unsigned i, roost_task_fn fn, void *arg)
{
    struct on_task o = {.fn = fn, .arg = arg};
    assert_int_equal(test_on_reactor(rt, i, spawn_here, &o), 0);
    return roost_run(join_it, o.t);
}

static int set_get(void *arg)
{
    (void)arg;
    roost_reactor *home = roost_reactor_current();
    redisReply *rep;
    int rc = roost_redis_cmd(cli, &rep, "SET", "k", "hello", NULL);
    if (rc < 0)
        return rc;
    roost_redis_reply_free(rep);
    if (roost_reactor_current() != home)
        return -EXDEV;
    rc = roost_redis_cmd(cli, &rep, "GET", "k", NULL);
    if (rc < 0)
        return rc;
    rc = rep->type == REDIS_REPLY_STRING && !strcmp(rep->str, "hello") ? 0 : -EBADMSG;
    roost_redis_reply_free(rep);
    return roost_reactor_current() == home ? rc : -EXDEV;
}

static void test_set_get_on_a_reactor_comes_back_home(void **state)
{
    (void)state;
    start(NULL);
    assert_int_equal(run_on(1, set_get, NULL), 0);
    stop();
}

/* 50 tasks on one reactor x 200 INCRs each, all pipelined on the reactor's one connection. */
#define PIPE_TASKS 50
#define PIPE_INCRS 200
static int incr_many(void *arg)
{
    (void)arg;
    for (int i = 0; i < PIPE_INCRS; i++) {
        redisReply *rep;
        int rc = roost_redis_cmd(cli, &rep, "INCR", "counter", NULL);
        if (rc < 0)
            return rc;
        roost_redis_reply_free(rep);
    }
    return 0;
}
static int many_tasks(void *arg)
{
    (void)arg;
    roost_task *t[PIPE_TASKS];
    for (int i = 0; i < PIPE_TASKS; i++)
        if (roost_spawn(incr_many, NULL, &t[i]) < 0)
            return -ENOMEM;
    int bad = 0;
    for (int i = 0; i < PIPE_TASKS; i++)
        bad |= roost_join(t[i]) < 0;
    return bad ? -EIO : 0;
}

static void test_many_tasks_share_one_pipelined_connection(void **state)
{
    (void)state;
    start(NULL);
    assert_int_equal(run_on(0, many_tasks, NULL), 0);
    redisContext *c = test_redis_connect(&srv);
    redisReply *rep = redisCommand(c, "GET counter");
    assert_string_equal(rep->str, "10000");
    freeReplyObject(rep);
    /* One connection for the reactor, plus this one. */
    rep = redisCommand(c, "CLIENT LIST");
    int lines = 0;
    for (const char *p = rep->str; (p = strchr(p, '\n')); p++)
        lines++;
    assert_int_equal(lines, 2);
    freeReplyObject(rep);
    redisFree(c);
    stop();
}

static int bad_command(void *arg)
{
    (void)arg;
    redisReply *rep = NULL;
    int rc = roost_redis_cmd(cli, &rep, "NOSUCHCOMMAND", "x", NULL);
    if (rc != -EREMOTEIO || !rep || rep->type != REDIS_REPLY_ERROR)
        return -EBADMSG;
    rc = strstr(rep->str, "unknown command") ? 0 : -EBADMSG;
    roost_redis_reply_free(rep);
    return rc;
}

static void test_server_error_is_eremoteio_with_its_text(void **state)
{
    (void)state;
    start(NULL);
    assert_int_equal(run_on(0, bad_command, NULL), 0);
    stop();
}

static int set_in_db(void *arg)
{
    roost_redis *c = arg;
    redisReply *rep = NULL;
    int rc = roost_redis_cmd(c, &rep, "SET", "where", "db3", NULL);
    roost_redis_reply_free(rep);
    return rc;
}

static void test_auth_and_select_before_the_first_command(void **state)
{
    (void)state;
    start("s3cret");
    struct roost_redis_opts o = test_redis_opts(&srv);
    o.db = 3;
    roost_redis *c3;
    assert_int_equal(roost_redis_open(rt, &o, &c3), 0);
    assert_int_equal(run_on(0, set_in_db, c3), 0);
    assert_int_equal(roost_redis_close(c3), 0);
    redisContext *c = test_redis_connect(&srv);
    redisReply *rep = redisCommand(c, "SELECT 3");
    freeReplyObject(rep);
    rep = redisCommand(c, "GET where");
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    assert_string_equal(rep->str, "db3");
    freeReplyObject(rep);
    redisFree(c);
    /* A wrong password: the command fails with -EACCES. */
    o.password = "wrong";
    assert_int_equal(roost_redis_open(rt, &o, &c3), 0);
    assert_int_equal(run_on(0, set_in_db, c3), -EACCES);
    assert_int_equal(roost_redis_close(c3), 0);
    stop();
}

/* From roost_run's context on a plain thread: the reply brings the task back there. */
static int from_plain(void *arg)
{
    (void)arg;
    roost_ctx *home = roost_ctx_current();
    pthread_t self = pthread_self();
    for (int i = 0; i < 20; i++) {
        redisReply *rep;
        int rc = roost_redis_cmd(cli, &rep, "INCR", "plain", NULL);
        if (rc < 0)
            return rc;
        roost_redis_reply_free(rep);
        if (roost_ctx_current() != home || !pthread_equal(self, pthread_self()) ||
            roost_reactor_current())
            return -EXDEV;
    }
    return 0;
}

static void test_command_from_a_plain_thread_resumes_there(void **state)
{
    (void)state;
    start(NULL);
    assert_int_equal(roost_run(from_plain, NULL), 0);
    stop();
}

static int ping(void *arg)
{
    (void)arg;
    redisReply *rep = NULL;
    int rc = roost_redis_cmd(cli, &rep, "PING", NULL);
    roost_redis_reply_free(rep);
    return rc;
}

/* Pings until the client got through again (bounded): the last result. */
static int ping_until_up(void)
{
    int rc = -1;
    uint64_t end = test_now_ns() + (uint64_t)test_ms(10000) * 1000000u;
    while ((rc = run_on(0, ping, NULL)) < 0 && test_now_ns() < end)
        test_sleep_ms(20);
    return rc;
}

static void test_reconnects_after_the_server_restarts(void **state)
{
    (void)state;
    start(NULL);
    assert_int_equal(run_on(0, ping, NULL), 0);
    test_redis_restart(&srv);
    /* The first command may see the dropped connection; a later one must get through. */
    assert_int_equal(ping_until_up(), 0);
    stop();
}

static void test_refused_then_backoff_fails_fast(void **state)
{
    (void)state;
    start(NULL);
    test_redis_kill(&srv, SIGTERM); /* nobody listens on the port now */
    int first = run_on(0, ping, NULL);
    assert_true(first == -ECONNREFUSED || first == -ENOTCONN);
    /* Comes back once the server is there again, after the backoff. */
    assert_true(test_redis_spawn(&srv));
    assert_int_equal(ping_until_up(), 0);
    stop();
}

static void test_parse_url(void **state)
{
    (void)state;
    struct roost_redis_opts o;
    char buf[128];
    assert_int_equal(roost_redis_parse_url("redis://u:p@10.0.0.1:7000/2", &o, buf, sizeof(buf)), 0);
    assert_string_equal(o.host, "10.0.0.1");
    assert_int_equal(o.port, 7000);
    assert_string_equal(o.username, "u");
    assert_string_equal(o.password, "p");
    assert_int_equal(o.db, 2);
    assert_int_equal(roost_redis_parse_url("redis://:pw@[::1]:6380", &o, buf, sizeof(buf)), 0);
    assert_string_equal(o.host, "::1");
    assert_null(o.username);
    assert_string_equal(o.password, "pw");
    assert_int_equal(o.port, 6380);
    assert_int_equal(roost_redis_parse_url("redis://localhost", &o, buf, sizeof(buf)), 0);
    assert_string_equal(o.host, "localhost");
    assert_int_equal(o.port, 0);
    assert_int_equal(roost_redis_parse_url("http://x", &o, buf, sizeof(buf)), -EINVAL);
    assert_int_equal(roost_redis_parse_url("redis://h:99999", &o, buf, sizeof(buf)), -EINVAL);
    assert_int_equal(roost_redis_parse_url("redis://h/x", &o, buf, sizeof(buf)), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_url),
        cmocka_unit_test(test_set_get_on_a_reactor_comes_back_home),
        cmocka_unit_test(test_many_tasks_share_one_pipelined_connection),
        cmocka_unit_test(test_server_error_is_eremoteio_with_its_text),
        cmocka_unit_test(test_auth_and_select_before_the_first_command),
        cmocka_unit_test(test_command_from_a_plain_thread_resumes_there),
        cmocka_unit_test(test_reconnects_after_the_server_restarts),
        cmocka_unit_test(test_refused_then_backoff_fails_fast),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

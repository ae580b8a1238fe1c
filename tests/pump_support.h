/* Shared by the pump tests: a runtime, a client and a redis-server, and stream helpers. */
#ifndef ROOST_TEST_PUMP_SUPPORT_H
#define ROOST_TEST_PUMP_SUPPORT_H

#include "redis_support.h"

static struct test_redis srv;
static roost_runtime *rt;
static roost_redis *cli;

static inline void pump_env_start(unsigned reactors)
{
    srv = (struct test_redis){0};
    test_redis_start(&srv);
    rt = test_runtime(reactors, NULL);
    struct roost_redis_opts o = test_redis_opts(&srv);
    assert_int_equal(roost_redis_open(rt, &o, &cli), 0);
}

static inline void pump_env_stop(void)
{
    assert_int_equal(roost_redis_close(cli), 0);
    roost_runtime_destroy(rt);
    test_redis_stop(&srv);
}

/* XADDs n messages "i" (keyed "k<i mod keys>" when keys > 0) with a blocking pipeline. */
static inline void pump_fill(const char *stream, unsigned partitions, unsigned n, unsigned keys)
{
    redisContext *c = test_redis_connect(&srv);
    assert_non_null(c);
    char name[128], key[32], body[32];
    for (unsigned i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "k%u", keys ? i % keys : 0);
        snprintf(body, sizeof(body), "%u", i);
        roost_pump_partition(name, sizeof(name), stream, partitions, keys ? key : NULL);
        if (keys)
            redisAppendCommand(c, "XADD %s * k %s b %s", name, key, body);
        else
            redisAppendCommand(c, "XADD %s * b %s", name, body);
    }
    for (unsigned i = 0; i < n; i++) {
        redisReply *rep;
        assert_int_equal(redisGetReply(c, (void **)&rep), REDIS_OK);
        assert_int_equal(rep->type, REDIS_REPLY_STRING);
        freeReplyObject(rep);
    }
    redisFree(c);
}

/* An integer reply of a command on the test's own connection. */
static inline long long pump_int(const char *fmt, const char *a, const char *b)
{
    redisContext *c = test_redis_connect(&srv);
    redisReply *rep = redisCommand(c, fmt, a, b);
    assert_non_null(rep);
    long long v = rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 &&
        rep->element[0]->type == REDIS_REPLY_INTEGER)
        v = rep->element[0]->integer; /* XPENDING's summary: the count first */
    freeReplyObject(rep);
    redisFree(c);
    return v;
}

/* Channel factory: performer i reads partition i (or the one stream), consumer "c<i>". */
struct chan_cfg {
    const char *stream;
    unsigned partitions;
    unsigned claim_idle_ms;
    unsigned max_deliveries;
};

static inline int make_channel(unsigned i, void *arg, roost_channel **out)
{
    struct chan_cfg *cfg = arg;
    char stream[128], consumer[32];
    roost_pump_partition_stream(stream, sizeof(stream), cfg->stream, cfg->partitions, i);
    snprintf(consumer, sizeof(consumer), "c%u", i);
    struct roost_redis_channel_opts o = {.stream = stream,
                                         .group = "g",
                                         .consumer = consumer,
                                         .claim_idle_ms = cfg->claim_idle_ms,
                                         .max_deliveries = cfg->max_deliveries};
    return roost_redis_channel_open(cli, &o, out);
}

/* Runs a pump until *done reaches want (bounded), stops it and returns its counters. */
static inline struct roost_pump_stats pump_run_until(const struct roost_pump_opts *o,
                                                     _Atomic long *done, long want)
{
    roost_pump *p;
    assert_int_equal(roost_pump_start(rt, o, &p), 0);
    bool reached = test_wait_at_least(done, want, test_ms(30000));
    roost_pump_stop(p);
    assert_int_equal(roost_pump_wait(p), 0);
    struct roost_pump_stats s;
    roost_pump_stats(p, &s);
    roost_pump_free(p);
    assert_true(reached);
    return s;
}

#endif

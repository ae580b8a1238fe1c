/*
 * The client: a shared link per reactor, dedicated links on request, and the calls that
 * carry a task's command to its link's reactor. A task on that reactor submits directly;
 * any other task posts its request (the work item is inside it: no allocation) and awaits
 * it, so its reply still brings it back to its own context.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <roost/run.h>

#include "redis/redis.h"

#define REDIS_MAX_VARARGS 64

static char *dup_into(char **p, const char *s)
{
    if (!s)
        return NULL;
    char *d = *p;
    size_t n = strlen(s) + 1;
    memcpy(d, s, n);
    *p += n;
    return d;
}

int roost_redis_open(roost_runtime *rt, const struct roost_redis_opts *o, roost_redis **out)
{
    struct roost_redis_opts d = {0};
    if (o)
        d = *o;
    if (!d.host)
        d.host = "127.0.0.1";
    if (!d.port)
        d.port = 6379;
    if (!d.backoff_min_ms)
        d.backoff_min_ms = 10;
    if (!d.backoff_max_ms)
        d.backoff_max_ms = 1000;
    if (d.backoff_max_ms < d.backoff_min_ms)
        d.backoff_max_ms = d.backoff_min_ms;
    size_t n = strlen(d.host) + 3 + (d.username ? strlen(d.username) : 0) +
               (d.password ? strlen(d.password) : 0);
    struct roost_redis *c = calloc(1, sizeof(*c));
    unsigned nr = roost_runtime_reactor_count(rt);
    if (!c || !(c->strings = malloc(n)) || !(c->links = calloc(nr, sizeof(*c->links)))) {
        if (c)
            free(c->strings);
        free(c);
        return -ENOMEM;
    }
    char *p = c->strings;
    d.host = dup_into(&p, d.host);
    d.username = dup_into(&p, d.username);
    d.password = dup_into(&p, d.password);
    c->o = d;
    c->rt = rt;
    c->nlinks = nr;
    *out = c;
    return 0;
}

/* The reactor of c's runtime the calling thread is, or one in turn. */
static roost_reactor *pick_reactor(struct roost_redis *c)
{
    roost_reactor *r = roost_reactor_current();
    if (r && roost_runtime_reactor(c->rt, roost_reactor_id(r)) == r)
        return r;
    unsigned i = atomic_fetch_add_explicit(&c->next, 1, memory_order_relaxed) % c->nlinks;
    return roost_runtime_reactor(c->rt, i);
}

static bool on_reactor(roost_reactor *r)
{
    return roost_reactor_current() == r && roost_ctx_current() == roost_reactor_ctx(r);
}

/* Runs arrive(q) on r (directly when already there) and awaits q's reply. */
static int req_run(struct redis_req *q, roost_reactor *r, roost_work_fn arrive, redisReply **reply)
{
    roost_waiter_init(&q->w);
    q->reply = NULL;
    if (on_reactor(r)) {
        arrive(q);
    } else {
        q->work.fn = arrive;
        q->work.arg = q;
        int rc = roost_ctx_post_work(roost_reactor_ctx(r), &q->work);
        if (rc < 0)
            return rc;
    }
    int rc = roost_wait(&q->w);
    /* A cancelled wait still waited for the completion: a reply that came is ours to drop. */
    if (rc < 0 && rc != -EREMOTEIO) {
        freeReplyObject(q->reply);
        return rc;
    }
    if (reply)
        *reply = q->reply;
    else
        freeReplyObject(q->reply);
    return rc;
}

static int shared_arrive(void *arg)
{
    struct redis_req *q = arg;
    struct roost_redis *c = q->client;
    roost_reactor *r = roost_reactor_current();
    struct roost_redis_link **slot = &c->links[roost_reactor_id(r)];
    if (*slot == REDIS_LINK_CLOSED) {
        roost_complete(&q->w, -ESHUTDOWN);
        return 0;
    }
    if (!*slot) {
        int rc = redis_link_create(c, r, false, slot);
        if (rc < 0) {
            *slot = NULL;
            roost_complete(&q->w, rc);
            return 0;
        }
    }
    redis_link_submit(*slot, q);
    return 0;
}

int roost_redis_command(roost_redis *c, redisReply **reply, int argc, const char *const *argv,
                        const size_t *argvlen)
{
    if (!roost_task_current())
        return -EPERM;
    struct redis_req q = {.client = c, .argc = argc, .argv = argv, .argvlen = argvlen};
    return req_run(&q, pick_reactor(c), shared_arrive, reply);
}

int roost_redis_cmd(roost_redis *c, redisReply **reply, const char *arg0, ...)
{
    const char *argv[REDIS_MAX_VARARGS];
    int argc = 0;
    va_list ap;
    va_start(ap, arg0);
    for (const char *a = arg0; a; a = va_arg(ap, const char *)) {
        if (argc == REDIS_MAX_VARARGS) {
            va_end(ap);
            return -E2BIG;
        }
        argv[argc++] = a;
    }
    va_end(ap);
    return roost_redis_command(c, reply, argc, argv, NULL);
}

static int link_arrive(void *arg)
{
    struct redis_req *q = arg;
    redis_link_submit(q->link, q);
    return 0;
}

int roost_redis_link_command(roost_redis_link *l, redisReply **reply, int argc,
                             const char *const *argv, const size_t *argvlen)
{
    if (!roost_task_current())
        return -EPERM;
    struct redis_req q = {.link = l, .argc = argc, .argv = argv, .argvlen = argvlen};
    return req_run(&q, l->r, link_arrive, reply);
}

int roost_redis_link_open(roost_redis *c, roost_reactor *r, roost_redis_link **out)
{
    int rc = redis_link_create(c, r ? r : pick_reactor(c), true, out);
    if (rc == 0)
        atomic_fetch_add_explicit(&c->dedicated, 1, memory_order_relaxed);
    return rc;
}

/* Closing: a work item posted to a link's reactor, and the waiter its driver completes. */
struct close_req {
    struct roost_work work;
    struct roost_waiter w;
    struct roost_redis *c;
    struct roost_redis_link *l;
};

static int link_close_arrive(void *arg)
{
    struct close_req *q = arg;
    redis_link_begin_close(q->l, &q->w);
    return 0;
}

static int shared_close_arrive(void *arg)
{
    struct close_req *q = arg;
    struct roost_redis_link **slot = &q->c->links[roost_reactor_id(roost_reactor_current())];
    struct roost_redis_link *l = *slot;
    *slot = REDIS_LINK_CLOSED;
    if (l && l != REDIS_LINK_CLOSED)
        redis_link_begin_close(l, &q->w);
    else
        roost_complete(&q->w, 0);
    return 0;
}

static int close_on(roost_reactor *r, struct close_req *q, roost_work_fn arrive)
{
    roost_waiter_init(&q->w);
    q->work.fn = arrive;
    q->work.arg = q;
    int rc = roost_ctx_post_work(roost_reactor_ctx(r), &q->work);
    if (rc < 0)
        return rc; /* the reactor has stopped: its tasks are gone with it */
    /* No cancel hook: even a cancelled task resumes only once the driver is done with q. */
    roost_wait(&q->w);
    return 0;
}

static int link_close_body(void *arg)
{
    struct roost_redis_link *l = arg;
    struct roost_redis *c = l->client;
    struct close_req q = {.l = l};
    close_on(l->r, &q, link_close_arrive);
    atomic_fetch_sub_explicit(&c->dedicated, 1, memory_order_relaxed);
    return 0;
}

int roost_redis_link_close(roost_redis_link *l)
{
    return roost_task_current() ? link_close_body(l) : roost_run(link_close_body, l);
}

static int close_body(void *arg)
{
    struct roost_redis *c = arg;
    for (unsigned i = 0; i < c->nlinks; i++) {
        struct close_req q = {.c = c};
        close_on(roost_runtime_reactor(c->rt, i), &q, shared_close_arrive);
    }
    free(c->links);
    free(c->strings);
    free(c);
    return 0;
}

int roost_redis_close(roost_redis *c)
{
    if (!c)
        return 0;
    return roost_task_current() ? close_body(c) : roost_run(close_body, c);
}

void roost_redis_reply_free(redisReply *r)
{
    if (r)
        freeReplyObject(r);
}

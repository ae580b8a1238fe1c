/*
 * The network layer's per-reactor state and the hooks it attaches to each reactor (net_attach,
 * called by the runtime): draining at stop, freeing what is left after the thread exited,
 * and, through its registered op kinds, the buffers of stale receives.
 *
 * Stop. When a stop is requested the loop keeps ticking while draining() says so: the
 * listening sockets are closed, every connection is aborted (what its task waits for fails
 * with -ESHUTDOWN, its ops are cancelled), and the tasks then return and close their
 * connections as usual, which needs the ring to reap the cancelled ops. After
 * NET_DRAIN_MS the reactor stops anyway; connections still open then (a handler that
 * ignores errors) are freed only after the thread has exited, when the kernel can no
 * longer touch their memory.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <roost/log.h>

#include "net/net.h"

uint8_t net_op_kinds[NET_OP_COUNT];

/* A stale receive's provided buffer goes back to its ring, or the ring is one short for good. */
static void net_stale_recv(struct roost_reactor *r, const struct io_uring_cqe *cqe)
{
    struct roost_net *net = net_of(r);
    if (!(cqe->flags & IORING_CQE_F_BUFFER))
        return;
    unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
    if (net && net->have_ring && bid < net->ring.count) {
        net_bufring_taken(net); /* consumed by the kernel, as every F_BUFFER completion */
        net_bufring_put(net, bid);
    }
}

static void drain_timer_fired(struct roost_timer *t, int status)
{
    /* Only here to bound the loop's wait: draining() checks the deadline. */
    (void)t, (void)status;
}

static bool net_draining(struct roost_reactor *r, void *arg)
{
    struct roost_net *net = arg;
    if (!net->ready)
        return false; /* never used on this reactor: nothing to wind down */
    if (!net->draining) {
        net->draining = true;
        net->drain_deadline_ns = roost__now_ns() + (uint64_t)NET_DRAIN_MS * 1000000u;
        roost_timer_start(&net->drain_timer, NET_DRAIN_MS, drain_timer_fired, net);
        net_listeners_stop_all(net);
        for (uint32_t i = 0; i < net->nchunks; i++)
            for (uint32_t j = 0; j < NET_CONN_CHUNK; j++)
                if (net->chunks[i][j].in_use)
                    net_conn_abort(&net->chunks[i][j]);
        net_polls_abort(net);
    }
    bool busy = net->nconns > 0 || net->lsocks || net->npolls;
    if (busy && roost__now_ns() < net->drain_deadline_ns)
        return true;
    if (busy)
        roost_log(ROOST_LOG_WARN, "reactor %u stopped with %u connection(s) still open after %u ms",
                  r->id, net->nconns, NET_DRAIN_MS);
    roost_timer_cancel(&net->drain_timer);
    /*
     * Let go of listening sockets whose accept never completed: the listener may be freed
     * once the runtime has stopped, and nothing here may point into it then.
     */
    while (net->lsocks) {
        struct net_lsock *ls = net->lsocks;
        net->lsocks = ls->next;
        ls->linked = false;
        ls->op = NULL;
        if (ls->fd >= 0)
            close(ls->fd);
        ls->fd = -1;
    }
    return false;
}

static void net_destroy(struct roost_reactor *r, void *arg)
{
    (void)r;
    struct roost_net *net = arg;
    /* The thread has exited: no completion can come any more, the kernel is done. */
    for (uint32_t i = 0; i < net->nchunks; i++) {
        for (uint32_t j = 0; j < NET_CONN_CHUNK; j++) {
            struct roost_conn *c = &net->chunks[i][j];
            if (c->in_use && c->fd >= 0)
                close(c->fd);
            free(c->rbuf);
        }
        free(net->chunks[i]);
    }
    free(net->chunks);
    if (net->have_ring)
        net_bufring_destroy(net);
    free(net);
}

static void net_before_enter(struct roost_reactor *r, void *arg)
{
    (void)r;
    struct roost_net *net = arg;
    if (net->have_ring)
        net_bufring_tick(net);
}

/*
 * A receive's or a send's completion is two or one ahead in the reap (hooks.h): warm the
 * connection's hot fields, then, for a receive, the stack of the task waiting in it, which
 * the completion resumes. The window around the request on that stack covers the frames a
 * resumed task returns through and those of the code that called it (the HTTP server's
 * connection state sits about 900 bytes above it); a line not touched costs one prefetch.
 */
static void net_prefetch_conn(const struct roost_op *op, int step)
{
    if (step != 0)
        return;
    const char *c = op->owner;
#pragma GCC unroll 16 /* a prefetch per line, not a loop's compare and add besides */
    for (size_t off = 0; off < offsetof(struct roost_conn, index); off += 64)
        __builtin_prefetch(c + off);
}

static void net_prefetch_recv(const struct roost_op *op, int step)
{
    if (step == 0) {
        net_prefetch_conn(op, step);
        return;
    }
    const struct roost_conn *c = op->owner;
    const char *q = (const char *)c->recv_q;
    if (!q)
        return;
#pragma GCC unroll 16
    for (int line = -4; line < 12; line++)
        __builtin_prefetch(q + line * 64);
}

static const struct roost__hooks net_hooks = {
    .name = "net",
    .before_enter = net_before_enter,
    .draining = net_draining,
    .destroy = net_destroy,
};

static pthread_once_t kinds_once = PTHREAD_ONCE_INIT;
static int kinds_rc;

static void kinds_register(void)
{
    static const char *const names[NET_OP_COUNT] = {"accept", "recv", "send", "connect"};
    for (int i = 0; i < NET_OP_COUNT; i++) {
        int kind = roost__op_kind_register(names[i], i == NET_OP_RECV ? net_stale_recv : NULL);
        if (kind < 0) {
            kinds_rc = kind;
            return;
        }
        net_op_kinds[i] = (uint8_t)kind;
        if (i == NET_OP_RECV || i == NET_OP_SEND)
            roost__op_kind_set_prefetch((uint8_t)kind,
                                        i == NET_OP_RECV ? net_prefetch_recv : net_prefetch_conn);
    }
}

int net_attach(struct roost_reactor *r, const struct net_config *cfg)
{
    pthread_once(&kinds_once, kinds_register);
    if (kinds_rc < 0)
        return kinds_rc;
    struct roost_net *net = calloc(1, sizeof(*net));
    if (!net)
        return -ENOMEM;
    net->r = r;
    net->oneshot = cfg->oneshot;
    net->speculative = cfg->speculative;
    net->inline_budget = cfg->inline_budget;
    net->buf_size = cfg->buf_size ? cfg->buf_size : 4096;
    net->buf_count = cfg->buf_count ? cfg->buf_count : 1024;
    net->max_conns = cfg->max_conns ? cfg->max_conns : 10000;
    net->free_head = UINT32_MAX;
    net->task_ctx = cfg->task_ctx ? cfg->task_ctx : roost_reactor_ctx(r);
    roost_timer_init(&net->drain_timer);
    int rc = roost__reactor_hooks_add(r, &net_hooks, net);
    if (rc < 0)
        free(net);
    return rc;
}

struct roost_net *net_of(const struct roost_reactor *r)
{
    return roost__reactor_hooks_arg(r, &net_hooks);
}

void net_stats(const struct roost_reactor *r, struct roost_stats *out)
{
    struct roost_net *net = net_of(r);
#define NET_COPY_(name, help)                                                                      \
    out->name = net ? atomic_load_explicit(&net->stats.name, memory_order_relaxed) : 0;
    ROOST_STATS_NET_FIELDS(NET_COPY_)
#undef NET_COPY_
}

int net_setup(struct roost_reactor *r)
{
    struct roost_net *net = net_of(r);
    if (!net)
        return -ENOMEM;
    if (net->ready)
        return 0;
    /* First use, on the reactor thread: the buffer ring is registered with its ring. */
    if (!net->oneshot) {
        int rc = net_bufring_init(net, net->buf_count, net->buf_size);
        if (rc == -EINVAL || rc == -EOPNOTSUPP) {
            /* The kernel refused the registration: no provided buffer rings before 5.19. */
            roost_log(ROOST_LOG_WARN,
                      "reactor %u: the kernel refused a provided buffer ring (%s); "
                      "receiving one-shot (--recv oneshot)",
                      r->id, strerror(-rc));
            net->oneshot = true;
        } else if (rc < 0) {
            /* Anything else (ENOMEM mapping buf-count x buf-size) is the caller's to see. */
            roost_log(ROOST_LOG_ERROR,
                      "reactor %u: cannot set up its provided buffer ring of %u x %u bytes "
                      "(--buf-count x --buf-size): %s",
                      r->id, net->buf_count, net->buf_size, strerror(-rc));
            return rc;
        } else {
            net->have_ring = true;
        }
    }
    net->ready = true;
    return 0;
}

struct roost_net *net_get(struct roost_reactor *r)
{
    return net_setup(r) == 0 ? net_of(r) : NULL;
}

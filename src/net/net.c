/*
 * The network module's per-reactor state and its hooks into the reactor loop: stale
 * buffers, draining at stop, and freeing what is left after the thread exited.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <roost/pool.h>
#include <roost/runtime.h>

#include "net/net.h"

static void net_stale_buffer(struct roost_reactor *r, const struct io_uring_cqe *cqe)
{
    struct roost_net *net = r->net;
    unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
    if (net && net->have_ring && bid < net->ring.count) {
        net->ring.avail--; /* consumed by the kernel, as every F_BUFFER completion */
        net_bufring_put(net, bid);
    }
}

static void drain_timer_fired(struct roost_timer *t, int status)
{
    /* Only here to bound the loop's wait: draining() checks the deadline. */
    (void)t, (void)status;
}

static bool net_draining(struct roost_reactor *r)
{
    struct roost_net *net = r->net;
    if (!net->draining) {
        net->draining = true;
        net->drain_deadline_ns = roost_now_ns() + (uint64_t)NET_DRAIN_MS * 1000000u;
        roost_timer_start(&net->drain_timer, NET_DRAIN_MS, drain_timer_fired, net);
        net_listeners_stop_all(net);
        for (uint32_t i = 0; i < net->nchunks; i++)
            for (uint32_t j = 0; j < NET_CONN_CHUNK; j++)
                if (net->chunks[i][j].in_use)
                    net_conn_abort(&net->chunks[i][j]);
    }
    bool busy = net->nconns > 0 || net->lsocks;
    if (busy && roost_now_ns() < net->drain_deadline_ns)
        return true;
    if (busy)
        fprintf(stderr, "roost: reactor %u stopped with %u connection(s) still open after %u ms\n",
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

static void net_destroy(struct roost_reactor *r)
{
    struct roost_net *net = r->net;
    if (!net)
        return;
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
    r->net = NULL;
}

static const struct roost_reactor_net_ops net_ops = {
    .stale_buffer = net_stale_buffer,
    .draining = net_draining,
    .destroy = net_destroy,
};

int net_setup(struct roost_reactor *r)
{
    if (r->net)
        return 0;
    struct roost_net *net = calloc(1, sizeof(*net));
    if (!net)
        return -ENOMEM;
    const struct roost_config *cfg = roost_runtime_config(r->rt);
    net->r = r;
    net->oneshot = cfg->recv == ROOST_RECV_ONESHOT;
    net->speculative = cfg->speculative;
    net->inline_budget = cfg->inline_budget;
    net->buf_size = cfg->buf_size ? cfg->buf_size : 4096;
    net->max_conns = cfg->max_conns ? cfg->max_conns : 10000;
    net->free_head = UINT32_MAX;
    net->task_ctx = &r->ctx;
    if (cfg->run_on == ROOST_RUN_ON_POOL && roost_reactor_runtime_pool(r))
        net->task_ctx = roost_pool_ctx(roost_reactor_runtime_pool(r));
    roost_timer_init(&net->drain_timer);
    if (!net->oneshot) {
        unsigned count = cfg->buf_count ? cfg->buf_count : 1024;
        int rc = net_bufring_init(net, count, net->buf_size);
        if (rc == -EINVAL || rc == -EOPNOTSUPP) {
            /* The kernel refused the registration: no provided buffer rings before 5.19. */
            fprintf(stderr,
                    "roost: reactor %u: the kernel refused a provided buffer ring (%s); "
                    "receiving one-shot (--recv oneshot)\n",
                    r->id, strerror(-rc));
            net->oneshot = true;
        } else if (rc < 0) {
            /* Anything else (ENOMEM mapping buffer_count x buf_size) is the caller's to see. */
            fprintf(stderr,
                    "roost: reactor %u: cannot set up its provided buffer ring of %u x %u "
                    "bytes (--buf-count x --buf-size): %s\n",
                    r->id, count, net->buf_size, strerror(-rc));
            free(net);
            return rc;
        } else {
            net->have_ring = true;
        }
    }
    r->net = net;
    r->net_ops = &net_ops;
    return 0;
}

struct roost_net *net_get(struct roost_reactor *r)
{
    return net_setup(r) == 0 ? r->net : NULL;
}

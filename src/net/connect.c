/*
 * Outgoing connections (for the HTTP client): the host is resolved (net/resolve.c: literals
 * in place, names on the pool), then each address is tried in order until one connects: a
 * socket made on the caller's thread, the connect through the ring of the reactor that
 * will own the connection, bounded by a timer on that reactor that cancels the connect.
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <roost/task.h>

#include "net/net.h"
#include "net/resolve.h"

/* A connect request and its timeout: the timer lives on the reactor, with the request. */
struct connect_req {
    struct net_req q;
    struct roost_timer timer;
    uint64_t timeout_ms; /* 0: none */
    bool timer_fired;
};

#define CONNECT_REQ_OF(qp) ((struct connect_req *)((char *)(qp)-offsetof(struct connect_req, q)))

static void on_connect(struct roost_reactor *r, struct roost_op *op, const struct io_uring_cqe *cqe)
{
    struct roost_conn *c = op->owner;
    struct net_req *q = c->send_q;
    struct connect_req *cr = CONNECT_REQ_OF(q);
    c->send_q = NULL;
    c->send_op = NULL;
    roost__op_free(r, op);
    roost_timer_cancel(&cr->timer);
    int res = cqe->res;
    if (res < 0 && (c->aborted || q->cancelled))
        res = c->aborted ? -ESHUTDOWN : -ECANCELED;
    else if (res < 0 && cr->timer_fired)
        res = -ETIMEDOUT; /* our own cancel, from the timer */
    net_conn_op_end(c);
    if (res < 0) {
        q->c = NULL;
        net_conn_free(c); /* closes the socket */
    }
    net_req_complete(q, res);
}

static void connect_timer_fired(struct roost_timer *t, int status)
{
    struct connect_req *cr = t->arg;
    struct roost_conn *c = cr->q.c;
    if (status < 0 || !c || c->send_q != &cr->q || !c->send_op)
        return;
    cr->timer_fired = true;
    net_cancel_op(c->r, c->send_op);
}

static void connect_start(struct net_req *q)
{
    struct roost_reactor *r = q->r;
    struct roost_net *net = net_get(r);
    int fd = q->conn.fd;
    q->conn.taken = true;
    int rc = -ENOMEM;
    if (!net)
        goto close_fd;
    rc = -ESHUTDOWN;
    if (net->draining)
        goto close_fd;
    rc = -ENOMEM;
    struct roost_conn *c = net_conn_alloc(net, fd, NULL);
    if (!c)
        goto close_fd;
    struct roost_op *op = roost__op_alloc(r, net_op_kinds[NET_OP_CONNECT], on_connect, c);
    struct io_uring_sqe *sqe = op ? roost__reactor_sqe(r) : NULL;
    if (!sqe) {
        if (op)
            roost__op_free(r, op);
        net_conn_free(c);
        net_req_complete(q, -ENOMEM);
        return;
    }
    io_uring_prep_connect(sqe, fd, q->conn.addr, q->conn.addrlen);
    io_uring_sqe_set_data64(sqe, roost__op_user_data(op));
    q->c = c;
    c->send_op = op;
    c->send_q = q;
    net_conn_op_begin(c);
    struct connect_req *cr = CONNECT_REQ_OF(q);
    roost_timer_init(&cr->timer);
    if (cr->timeout_ms)
        (void)roost_timer_start(&cr->timer, cr->timeout_ms, connect_timer_fired, cr);
    return;

close_fd:
    close(fd);
    net_req_complete(q, rc);
}

static void connect_cancel(struct net_req *q)
{
    struct roost_conn *c = q->c;
    if (!c || c->send_q != q || !c->send_op)
        return;
    q->cancelled = true;
    net_cancel_op(c->r, c->send_op);
}

/* One address: socket, then the connect on r's ring. */
static int connect_addr(roost_reactor *r, const union net_sockaddr *a, socklen_t len,
                        uint64_t timeout_ms, roost_conn **out)
{
    struct connect_req cr = {
        .q = {.r = r, .start = connect_start, .cancel = connect_cancel},
        .timeout_ms = timeout_ms,
    };
    struct net_req *q = &cr.q;
    q->conn.addr = &a->sa;
    q->conn.addrlen = len;
    int fd = socket(a->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    q->conn.fd = fd;
    int rc = net_call(q);
    if (!q->conn.taken) {
        close(fd); /* the reactor never saw it */
        return rc;
    }
    if (rc < 0) {
        /* Connected as the cancel came: the caller will never see it, so close it. */
        if (q->c)
            roost_conn_close(q->c);
        return rc;
    }
    *out = q->c;
    return 0;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Errors after which another address of the same name may still work. */
static bool try_next(int rc)
{
    return rc == -ECONNREFUSED || rc == -ENETUNREACH || rc == -EHOSTUNREACH ||
           rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT || rc == -ECONNRESET || rc == -ETIMEDOUT;
}

int roost_connect_on_timeout(roost_reactor *r, const char *host, uint16_t port, uint64_t timeout_ms,
                             roost_conn **out)
{
    if (!roost_task_current() || !r)
        return -EPERM;
    struct net_addrs addrs;
    int rc = net_resolve(host, port, &addrs);
    if (rc < 0)
        return rc;
    uint64_t deadline = timeout_ms ? now_ns() + timeout_ms * 1000000u : 0;
    for (unsigned i = 0; i < addrs.n; i++) {
        uint64_t left = 0;
        if (deadline) {
            uint64_t now = now_ns();
            if (now >= deadline)
                return -ETIMEDOUT;
            left = (deadline - now + 999999u) / 1000000u; /* rounded up: never early */
        }
        rc = connect_addr(r, &addrs.a[i], addrs.len[i], left, out);
        if (rc == 0 || !try_next(rc))
            return rc;
    }
    return rc;
}

int roost_connect_on(roost_reactor *r, const char *host, uint16_t port, roost_conn **out)
{
    return roost_connect_on_timeout(r, host, port, 0, out);
}

int roost_connect_timeout(const char *host, uint16_t port, uint64_t timeout_ms, roost_conn **out)
{
    roost_reactor *r = roost_reactor_current();
    if (!r)
        return -EPERM;
    return roost_connect_on_timeout(r, host, port, timeout_ms, out);
}

int roost_connect(const char *host, uint16_t port, roost_conn **out)
{
    return roost_connect_timeout(host, port, 0, out);
}

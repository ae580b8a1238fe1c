/*
 * Outgoing connections (for the HTTP client): a socket made on the caller's thread, the
 * connect through the ring of the reactor that will own the connection. IPv4/IPv6 literals
 * only; name resolution comes later, offloaded to the pool.
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <roost/task.h>

#include "net/net.h"

static void on_connect(struct roost_reactor *r, struct roost_op *op, const struct io_uring_cqe *cqe)
{
    struct roost_conn *c = op->owner;
    struct net_req *q = c->send_q;
    c->send_q = NULL;
    c->send_op = NULL;
    roost__op_free(r, op);
    int res = cqe->res;
    if (res < 0 && (c->aborted || q->cancelled))
        res = c->aborted ? -ESHUTDOWN : -ECANCELED;
    net_conn_op_end(c);
    if (res < 0) {
        q->c = NULL;
        net_conn_free(c); /* closes the socket */
    }
    net_req_complete(q, res);
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
    io_uring_prep_connect(sqe, fd, (struct sockaddr *)&q->conn.addr, q->conn.addrlen);
    io_uring_sqe_set_data64(sqe, roost__op_user_data(op));
    q->c = c;
    c->send_op = op;
    c->send_q = q;
    net_conn_op_begin(c);
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

int roost_connect_on(roost_reactor *r, const char *host, uint16_t port, roost_conn **out)
{
    if (!roost_task_current() || !r)
        return -EPERM;
    struct net_req q = {.r = r, .start = connect_start, .cancel = connect_cancel};
    int rc = net_parse_addr(host, port, &q.conn.addr, &q.conn.addrlen);
    if (rc < 0)
        return rc;
    int fd = socket(q.conn.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    q.conn.fd = fd;
    rc = net_call(&q);
    if (!q.conn.taken) {
        close(fd); /* the reactor never saw it */
        return rc;
    }
    if (rc < 0) {
        /* Connected as the cancel came: the caller will never see it, so close it. */
        if (q.c)
            roost_conn_close(q.c);
        return rc;
    }
    *out = q.c;
    return 0;
}

int roost_connect(const char *host, uint16_t port, roost_conn **out)
{
    roost_reactor *r = roost_reactor_current();
    if (!r)
        return -EPERM;
    return roost_connect_on(r, host, port, out);
}

/*
 * Listeners: one SO_REUSEPORT socket per reactor, each served by a multishot accept on
 * its reactor, so the kernel spreads connections over the reactors and no reactor hands
 * a connection to another.
 *
 * Connection cap (max_conns per reactor). At the cap the accept is not paused: the new
 * socket is accepted and closed at once and counted in shed_accepts. Pausing would leave
 * clients hanging in the backlog with no answer; shedding tells them at once, and the
 * reactor goes on serving the connections it has (ioxide #92).
 *
 * EMFILE/ENFILE. The multishot accept ends with the error; accepting pauses and a timer
 * re-arms it NET_ACCEPT_RETRY_MS later (accept_pauses counts each pause). Nothing spins
 * while the process is out of descriptors, pending clients wait in the backlog, and the
 * log says so at most once per second for the whole process (ioxide #222).
 */
#include <arpa/inet.h>
#include <roost/log.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/net.h"

static void accept_arm(struct net_lsock *ls);

static void lsock_unlink(struct net_lsock *ls)
{
    struct roost_net *net = net_of(ls->r);
    for (struct net_lsock **p = &net->lsocks; *p; p = &(*p)->next) {
        if (*p == ls) {
            *p = ls->next;
            break;
        }
    }
    ls->linked = false;
    ls->next = NULL;
}

/* Stopped and nothing in flight: close the socket and forget it. */
static void lsock_finish(struct net_lsock *ls)
{
    roost_timer_cancel(&ls->retry);
    ls->paused = false;
    if (ls->fd >= 0)
        close(ls->fd);
    ls->fd = -1;
    if (ls->linked)
        lsock_unlink(ls);
}

static void log_emfile(struct roost_reactor *r, int err)
{
    static _Atomic uint64_t last_ns;
    uint64_t now = roost__now_ns();
    uint64_t last = atomic_load_explicit(&last_ns, memory_order_relaxed);
    if (last && now - last < 1000000000u)
        return;
    if (!atomic_compare_exchange_strong_explicit(&last_ns, &last, now, memory_order_relaxed,
                                                 memory_order_relaxed))
        return;
    roost_log(ROOST_LOG_WARN, "reactor %u: accept: %s; pausing accepts, retrying every %u ms",
              r->id, strerror(-err), NET_ACCEPT_RETRY_MS);
}

static void retry_fired(struct roost_timer *t, int status)
{
    struct net_lsock *ls = t->arg;
    ls->paused = false;
    if (status < 0 || ls->stopping) {
        lsock_finish(ls);
        return;
    }
    accept_arm(ls);
}

static void accepted(struct net_lsock *ls, int fd)
{
    struct roost_net *net = net_of(ls->r);
    if (ls->stopping || net->draining) {
        close(fd);
        return;
    }
    if (ls->live >= ls->l->max_conns) {
        ROOST_STAT_INC(net, shed_accepts); /* counted before the client can see the close */
        close(fd);
        return;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct roost_conn *c = net_conn_alloc(net, fd, ls);
    if (!c) {
        close(fd);
        return;
    }
    if (net_conn_start(c) < 0)
        net_conn_free(c);
}

static void on_accept(struct roost_reactor *r, struct roost_op *op, const struct io_uring_cqe *cqe)
{
    struct net_lsock *ls = op->owner;
    int res = cqe->res;
    bool more = cqe->flags & IORING_CQE_F_MORE;
    if (res >= 0) {
        accepted(ls, res);
    } else if (res == -EMFILE || res == -ENFILE) {
        ls->out_of_fds = true;
        if (more)
            net_cancel_op(r, op); /* end it: retrying at once would only fail again */
    }
    if (more)
        return;
    /* The multishot accept has ended. */
    roost__op_free(r, op);
    ls->op = NULL;
    if (ls->stopping || net_of(r)->draining) {
        lsock_finish(ls);
        return;
    }
    if (ls->out_of_fds) {
        ls->out_of_fds = false;
        ROOST_STAT_INC(net_of(r), accept_pauses);
        log_emfile(r, res == -ENFILE ? -ENFILE : -EMFILE);
        ls->paused = true;
        if (roost_timer_start(&ls->retry, NET_ACCEPT_RETRY_MS, retry_fired, ls) < 0)
            lsock_finish(ls);
        return;
    }
    accept_arm(ls); /* ended for another reason (an aborted handshake, CQ overflow): go on */
}

static void accept_arm(struct net_lsock *ls)
{
    struct roost_reactor *r = ls->r;
    struct roost_op *op = roost__op_alloc(r, net_op_kinds[NET_OP_ACCEPT], on_accept, ls);
    struct io_uring_sqe *sqe = op ? roost__reactor_sqe(r) : NULL;
    if (!sqe) {
        if (op)
            roost__op_free(r, op);
        /* Out of memory: try again later rather than stop serving for good. */
        ls->paused = true;
        if (roost_timer_start(&ls->retry, NET_ACCEPT_RETRY_MS, retry_fired, ls) < 0)
            lsock_finish(ls);
        return;
    }
    io_uring_prep_multishot_accept(sqe, ls->fd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, roost__op_user_data(op));
    ls->op = op;
}

static int arm_work_run(void *arg)
{
    struct net_lsock *ls = arg;
    struct roost_net *net = net_get(ls->r);
    if (!net || net->draining || ls->stopping) {
        lsock_finish(ls);
        return net ? 0 : -ENOMEM;
    }
    ls->linked = true;
    ls->next = net->lsocks;
    net->lsocks = ls;
    accept_arm(ls);
    return 0;
}

static void lsock_stop(struct net_lsock *ls)
{
    if (ls->stopping)
        return;
    ls->stopping = true;
    if (ls->op)
        net_cancel_op(ls->r, ls->op); /* its last completion finishes the stop */
    else
        lsock_finish(ls);
}

static int stop_work_run(void *arg)
{
    struct net_lsock *ls = arg;
    if (ls->linked)
        lsock_stop(ls);
    else
        ls->stopping = true; /* not armed yet: the arm item will see it */
    return 0;
}

void net_listeners_stop_all(struct roost_net *net)
{
    struct net_lsock *ls = net->lsocks;
    while (ls) {
        struct net_lsock *next = ls->next; /* lsock_stop may unlink ls */
        lsock_stop(ls);
        ls = next;
    }
}

static int setup_run(void *arg)
{
    return net_setup(arg);
}

/*
 * Sets up every reactor's net state before anything listens, so that a reactor that
 * cannot (its buffer ring did not fit in memory) fails roost_listen instead of leaving
 * that reactor silently not accepting. From a reactor thread the other reactors cannot be
 * waited for (-EDEADLK): their arm step then sets up, and reports, on their own.
 */
static int setup_reactors(roost_runtime *rt, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        roost_reactor *r = roost_runtime_reactor(rt, i);
        int rc = roost_ctx_send(roost_reactor_ctx(r), setup_run, r);
        if (rc < 0 && rc != -EDEADLK)
            return rc;
    }
    return 0;
}

/* ---- public ------------------------------------------------------------------------------ */

static int parse_addr(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        *len = sizeof(*in4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        *len = sizeof(*in6);
        return 0;
    }
    return -EINVAL;
}

int net_parse_addr(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    return parse_addr(host, port, ss, len);
}

/*
 * One listening socket. Sharing a port needs SO_REUSEPORT on every socket that binds it,
 * so the reactors' sockets carry it; but the first socket of a listener binds WITHOUT it
 * unless the caller opted in (exclusive): the kernel then refuses the bind with EADDRINUSE
 * if any other socket holds the address, roost's or not. Once bound, the option is set
 * before listen(), so the other reactors' sockets (and processes that opted in) can join.
 * A socket that only bound the address without listening (SO_REUSEADDR lets two such
 * sockets coexist) is caught by listen() failing with EADDRINUSE. Nothing is probed and
 * released, so there is no window where another process can slip in.
 */
static int open_listen_socket(const struct sockaddr_storage *ss, socklen_t len, int backlog,
                              bool exclusive, uint16_t *port)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    int rc;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        (!exclusive && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) ||
        bind(fd, (const struct sockaddr *)ss, len) < 0 ||
        (exclusive && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) ||
        listen(fd, backlog) < 0) {
        rc = -errno;
        goto close_fd;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) < 0) {
        rc = -errno;
        goto close_fd;
    }
    *port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                             : ((struct sockaddr_in6 *)&bound)->sin6_port);
    return fd;

close_fd:
    close(fd);
    return rc;
}

int roost_listen(roost_runtime *rt, const struct roost_listen_opts *o, roost_conn_handler h,
                 void *arg, roost_listener **out)
{
    const char *host = o && o->host ? o->host : "127.0.0.1";
    struct sockaddr_storage ss;
    socklen_t sslen;
    int rc = parse_addr(host, o ? o->port : 0, &ss, &sslen);
    if (rc < 0)
        return rc;
    if (!h)
        return -EINVAL;
    unsigned n = roost_runtime_reactor_count(rt);
    rc = setup_reactors(rt, n);
    if (rc < 0)
        return rc;
    roost_listener *l = calloc(1, sizeof(*l) + n * sizeof(l->ls[0]));
    if (!l)
        return -ENOMEM;
    l->rt = rt;
    l->handler = h;
    l->arg = arg;
    l->n = n;
    l->max_conns = o && o->max_conns ? o->max_conns : roost_runtime_config(rt)->max_conns;
    if (!l->max_conns)
        l->max_conns = 10000;
    int backlog = o && o->backlog > 0 ? o->backlog : 1024;
    for (unsigned i = 0; i < n; i++)
        l->ls[i].fd = -1;

    /*
     * The first socket picks the port (when 0) and, unless the caller opted in to sharing,
     * claims it exclusively; the others share it through SO_REUSEPORT.
     */
    bool share = o && o->reuse_port;
    for (unsigned i = 0; i < n; i++) {
        uint16_t port;
        rc = open_listen_socket(&ss, sslen, backlog, i == 0 && !share, &port);
        if (rc < 0)
            goto close_socks;
        struct net_lsock *ls = &l->ls[i];
        ls->fd = rc;
        ls->l = l;
        ls->r = roost_runtime_reactor(rt, i);
        roost_timer_init(&ls->retry);
        ls->arm_work = (struct roost_work){.fn = arm_work_run, .arg = ls};
        ls->stop_work = (struct roost_work){.fn = stop_work_run, .arg = ls};
        if (i == 0) {
            l->port = port;
            if (ss.ss_family == AF_INET)
                ((struct sockaddr_in *)&ss)->sin_port = htons(port);
            else
                ((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
        }
    }

    unsigned armed = 0;
    for (unsigned i = 0; i < n; i++) {
        struct net_lsock *ls = &l->ls[i];
        if (roost_ctx_post_work(roost_reactor_ctx(ls->r), &ls->arm_work) == 0) {
            armed++;
        } else {
            close(ls->fd); /* never reached its reactor */
            ls->fd = -1;
        }
    }
    if (!armed) {
        rc = -ESHUTDOWN;
        goto free_l;
    }
    *out = l;
    return 0;

close_socks:
    for (unsigned i = 0; i < n; i++)
        if (l->ls[i].fd >= 0)
            close(l->ls[i].fd);
free_l:
    free(l);
    return rc;
}

uint16_t roost_listener_port(const roost_listener *l)
{
    return l->port;
}

unsigned roost_listener_conn_count(const roost_listener *l)
{
    return atomic_load_explicit(&((roost_listener *)l)->conns, memory_order_relaxed);
}

void roost_listener_stop(roost_listener *l)
{
    if (atomic_exchange_explicit(&l->stop_requested, 1, memory_order_acq_rel))
        return;
    for (unsigned i = 0; i < l->n; i++)
        (void)roost_ctx_post_work(roost_reactor_ctx(l->ls[i].r), &l->ls[i].stop_work);
}

void roost_listener_free(roost_listener *l)
{
    if (!l)
        return;
    /* The reactors have stopped: their draining closed every socket they had armed. */
    for (unsigned i = 0; i < l->n; i++)
        if (l->ls[i].fd >= 0)
            close(l->ls[i].fd);
    free(l);
}

/*
 * Files: a file range sent to a connection without copying it through user memory, and the
 * file reads and opens a handler needs, none of which may block the reactor on a cold disk.
 *
 * roost_conn_send_file speculates first, as roost_conn_send does: when cachestat(2) says
 * every page of the range is in the page cache, sendfile(2) on the socket (made O_NONBLOCK
 * once per connection: the ring ignores the flag, and roost's own socket syscalls pass
 * MSG_DONTWAIT anyway) moves what the socket takes at once, and a full socket is waited for
 * with a POLLOUT poll on the ring, bounded by the send timeout. That is what nginx does with
 * sendfile on, minus the blocking read of an uncached page, and it costs no thread hop.
 *
 * Otherwise (a page must come from disk, speculation is off, or the kernel predates
 * cachestat) it splices file -> pipe -> socket with IORING_OP_SPLICE, through a pipe
 * of the connection's own, created on first use and kept (empty) for the next file. The two
 * halves alternate, each staged from the other's completion on the reactor, so a transfer
 * wakes its task once, at the end. They are not linked SQEs: a short splice breaks a link,
 * and an SQ-full submit in the middle of a batch could split one. The kernel runs every
 * splice on its io-wq workers (a splice is never tried inline), which is what keeps a page
 * that must come from disk, or a socket whose peer stopped reading, off the reactor; it is
 * also why a small file is cheaper read into the response and sent with its head (the HTTP
 * server decides that per size: see docs/static.md for the figures).
 *
 * The send path's rules hold: c->send_op / c->send_q carry the op in flight, so the send
 * timeout (about progress: every byte the socket takes restarts it), a task cancel, a
 * stopping reactor and close all cancel it and wait for its completion.
 */
#define _GNU_SOURCE /* splice, F_SETPIPE_SZ, preadv2, RWF_NOWAIT */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "net/net.h"

#ifndef RESOLVE_CACHED
#define RESOLVE_CACHED 0x20 /* Linux 5.12: fail with EAGAIN rather than touch the disk */
#endif
#ifndef SYS_cachestat
#define SYS_cachestat 451 /* Linux 6.5; the same number on every architecture */
#endif
#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif

/*
 * The pipe's capacity: each splice into it moves up to this much, so a 1 MiB file is one
 * splice in and (usually) one out, each an io-wq round trip; with 256 KiB a 1 MiB file cost
 * about 10% more server CPU. A pipe holds references to page-cache pages, not copies. Past
 * the per-user pipe allowance (fs.pipe-user-pages-soft) the resize fails and the pipe keeps
 * its default 64 KiB, which only costs more round trips.
 */
#define NET_PIPE_BYTES (1024u * 1024u)

void net_conn_drop_pipe(struct roost_conn *c)
{
    if (!c->has_pipe)
        return;
    close(c->pipe_fd[0]);
    close(c->pipe_fd[1]);
    c->has_pipe = false;
}

static int pipe_get(struct roost_conn *c)
{
    if (c->has_pipe)
        return 0;
    if (pipe2(c->pipe_fd, O_CLOEXEC) < 0)
        return -errno;
    (void)fcntl(c->pipe_fd[1], F_SETPIPE_SZ, NET_PIPE_BYTES); /* else the default 64 KiB */
    c->has_pipe = true;
    return 0;
}

static void on_splice(struct roost_reactor *r, struct roost_op *op, const struct io_uring_cqe *cqe);

static int splice_stage(struct roost_conn *c, struct net_req *q)
{
    struct io_uring_sqe *sqe = net_send_sqe(c, q, on_splice);
    if (!sqe)
        return -ENOMEM;
    if (q->splice.in_pipe) {
        /* SPLICE_F_MORE: the socket may hold a partial segment back for what follows */
        unsigned more = q->splice.left ? SPLICE_F_MORE : 0;
        io_uring_prep_splice(sqe, c->pipe_fd[0], -1, c->fd, -1, (unsigned)q->splice.in_pipe,
                             SPLICE_F_MOVE | more);
        q->splice.to_socket = true;
    } else {
        size_t n = q->splice.left < NET_PIPE_BYTES ? (size_t)q->splice.left : NET_PIPE_BYTES;
        io_uring_prep_splice(sqe, q->splice.fd, (int64_t)q->splice.off, c->pipe_fd[1], -1,
                             (unsigned)n, SPLICE_F_MOVE);
        q->splice.to_socket = false;
    }
    return 0;
}

static void on_splice(struct roost_reactor *r, struct roost_op *op, const struct io_uring_cqe *cqe)
{
    struct roost_conn *c = op->owner;
    struct net_req *q = net_send_done(r, op);
    int res = cqe->res;
    int out = 0;
    if (res > 0 && q->splice.to_socket) {
        q->splice.in_pipe -= (size_t)res;
        net_send_timer_restart(c); /* progress */
    } else if (res > 0) {
        q->splice.in_pipe += (size_t)res;
        q->splice.off += (uint64_t)res;
        q->splice.left -= (uint64_t)res;
    } else if (res == 0) {
        /* the file ended early (truncated meanwhile), or the socket took nothing */
        out = q->splice.to_socket ? -EPIPE : -ENODATA;
    } else {
        out = res;
    }
    if (out == 0 && (q->cancelled || c->aborted || q->timed_out))
        out = -ECANCELED;
    if (out == 0 && (q->splice.in_pipe || q->splice.left)) {
        out = splice_stage(c, q);
        if (out == 0) {
            net_conn_op_end(c); /* the new op keeps the count above 0 */
            return;
        }
    }
    out = net_send_outcome(c, q, out);
    if (out < 0 && q->splice.in_pipe)
        net_conn_drop_pipe(c); /* bytes of this file left in it: never for the next one */
    net_conn_op_end(c);
    net_req_complete(q, out);
}

static void splice_start(struct net_req *q)
{
    struct roost_conn *c = q->c;
    int rc = c->aborted ? -ESHUTDOWN : pipe_get(c);
    if (rc == 0)
        rc = splice_stage(c, q);
    if (rc < 0) {
        net_req_complete(q, rc);
        return;
    }
    net_send_timer_restart(c);
}

/*
 * Ring ops on a file opened O_NONBLOCK (the static handler opens so, a FIFO would block the
 * open otherwise) fail with EAGAIN where they should wait for the disk: the flag goes before
 * the ring sees the file. Only on the paths that use the ring, so a small file read from the
 * page cache costs no fcntl.
 */
static void file_blocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK))
        (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
}

/* Is every page of [off, off + len) of fd in the page cache? (struct cachestat_range and
 * struct cachestat of <linux/mman.h>, which 6.5's headers only have.) */
static bool range_cached(int fd, uint64_t off, uint64_t len)
{
    struct {
        uint64_t off, len;
    } range = {off, len};
    struct {
        uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
    } cs;
    if (syscall(SYS_cachestat, fd, &range, &cs, 0) < 0)
        return false; /* ENOSYS, or a file system that cannot say: the ring decides */
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    return cs.nr_cache >= (off + len + page - 1) / page - off / page;
}

/*
 * The speculative transfer: sendfile(2) until done, a POLLOUT wait on the ring whenever the
 * socket is full. Returns 0, or -errno (-ETIMEDOUT: no progress for the send timeout).
 */
static int send_file_now(roost_conn *c, int fd, uint64_t off, size_t left)
{
    if (!c->nonblock) {
        int fl = fcntl(c->fd, F_GETFL);
        if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0)
            return -errno;
        c->nonblock = true;
    }
    while (left) {
        off_t o = (off_t)off;
        ssize_t n = sendfile(c->fd, fd, &o, left < 0x7ffff000u ? left : 0x7ffff000u);
        if (n > 0) {
            off += (uint64_t)n;
            left -= (size_t)n;
            continue;
        }
        if (n == 0)
            return -ENODATA; /* the file ended early: truncated meanwhile */
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return -errno;
        int ev = roost_fd_poll_on(c->r, c->fd, POLLOUT, c->send_timeout_ms);
        if (ev == -ETIMEDOUT)
            NET_STAT_INC(c->net, send_timeouts);
        if (ev < 0)
            return ev;
        /* POLLERR / POLLHUP: the next sendfile says which error */
    }
    return 0;
}

int roost_conn_send_file(roost_conn *c, int fd, off_t off, size_t len)
{
    if (!roost_task_current())
        return -EPERM;
    if (fd < 0 || off < 0)
        return -EINVAL;
    int rc = net_send_settle(c);
    if (rc < 0)
        return rc;
    if (len == 0)
        return 0;
    if (c->net->speculative && range_cached(fd, (uint64_t)off, len)) {
        NET_STAT_INC(c->net, speculative_hits);
        return send_file_now(c, fd, (uint64_t)off, len);
    }
    if (c->net->speculative)
        NET_STAT_INC(c->net, speculative_misses);
    file_blocking(fd);
    struct net_req q = {.r = c->r, .c = c, .start = splice_start, .cancel = net_send_cancel};
    q.splice.fd = fd;
    q.splice.off = (uint64_t)off;
    q.splice.left = len;
    rc = net_call(&q);
    c->budget = c->net->inline_budget;
    return rc;
}

/* ---- file reads and opens ---------------------------------------------------------------- */

static void on_file(struct roost_reactor *r, struct roost_op *op, const struct io_uring_cqe *cqe)
{
    struct net_req *q = op->owner;
    roost__op_free(r, op);
    int res = cqe->res;
    if (q->cancelled && res >= 0 && q->file.op == IORING_OP_OPENAT2)
        close(res); /* opened after all: nobody will take it */
    net_req_complete(q, q->cancelled ? -ECANCELED : res);
}

static void file_start(struct net_req *q)
{
    struct roost_op *op;
    struct io_uring_sqe *sqe = net_op_sqe(q->r, ROOST_OP_GENERIC, on_file, q, &op);
    if (!sqe) {
        net_req_complete(q, -ENOMEM);
        return;
    }
    if (q->file.op == IORING_OP_READ)
        io_uring_prep_read(sqe, q->file.fd, q->file.buf, (unsigned)q->file.len, q->file.off);
    else
        io_uring_prep_openat2(sqe, q->file.fd, q->file.path, (struct open_how *)q->file.how);
}

/*
 * A file op is not cancelled in the ring: it ends on its own (a disk read, a lookup), and
 * a task cancel only drops its result when it comes.
 */
static void file_cancel(struct net_req *q)
{
    q->cancelled = true;
}

static int file_call(struct roost_reactor *r, struct net_req *q)
{
    if (!roost_task_current() || !r)
        return -EPERM;
    q->r = r;
    q->start = file_start;
    q->cancel = file_cancel;
    return net_call(q);
}

static bool speculating(struct roost_reactor *r)
{
    struct roost_net *net = net_of(r);
    return net && net->speculative;
}

/* A speculative syscall's result (n, -1 with errno) as a count or -errno, counted as a hit
 * unless it would have blocked (-EAGAIN, -EOPNOTSUPP: the ring takes it). */
static int speculated(struct roost_reactor *r, long n)
{
    int rc = n >= 0 ? (int)n : -errno;
    if (rc == -EAGAIN || rc == -EOPNOTSUPP)
        NET_STAT_INC(net_of(r), speculative_misses);
    else
        NET_STAT_INC(net_of(r), speculative_hits);
    return rc;
}

int net_file_read(struct roost_reactor *r, int fd, void *buf, size_t len, uint64_t off)
{
    if (len > 0x7ffff000u)
        len = 0x7ffff000u; /* what one read(2) moves at most */
    if (speculating(r)) {
        struct iovec v = {buf, len};
        int n = speculated(r, preadv2(fd, &v, 1, (off_t)off, RWF_NOWAIT));
        if (n != -EAGAIN && n != -EOPNOTSUPP)
            return n;
    }
    file_blocking(fd);
    struct net_req q = {0};
    q.file.op = IORING_OP_READ;
    q.file.fd = fd;
    q.file.buf = buf;
    q.file.len = len;
    q.file.off = off;
    return file_call(r, &q);
}

int net_file_openat2(struct roost_reactor *r, int dirfd, const char *path, const void *how)
{
    if (speculating(r)) {
        struct open_how cached = *(const struct open_how *)how;
        cached.resolve |= RESOLVE_CACHED;
        /* ENOENT, EXDEV (an escape), ... are answers: only EAGAIN needs the ring */
        int fd = speculated(r, syscall(SYS_openat2, dirfd, path, &cached, sizeof(cached)));
        if (fd != -EAGAIN)
            return fd;
    }
    struct net_req q = {0};
    q.file.op = IORING_OP_OPENAT2;
    q.file.fd = dirfd;
    q.file.path = path;
    q.file.how = how;
    return file_call(r, &q);
}

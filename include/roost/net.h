/* roost — network I/O: listeners, connections, receive, send, connect. */
#ifndef ROOST_NET_H
#define ROOST_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <roost/reactor.h>
#include <roost/runtime.h>
#include <roost/common.h>

ROOST_BEGIN_DECLS

/*
 * A connection: long-lived, one per accepted or connected TCP socket. It belongs to the
 * reactor that accepted (or connected) it, whose ring runs all of its I/O. One task uses a
 * connection at a time, except that one task may receive while another sends.
 */
typedef struct roost_conn roost_conn;

/* A listener: long-lived, one listening socket per reactor (SO_REUSEPORT). */
typedef struct roost_listener roost_listener;

/*
 * A connection handler. Runs in a task of its own per accepted connection: on the reactor
 * that accepted it (or, with run-on=pool, on the runtime's pool, its ring operations still
 * going through that reactor). When it returns, the runtime closes the connection: it
 * cancels operations still in flight and waits for their completions before it frees
 * anything the kernel may still use. A negative result is counted and reported as a task
 * failure (roost_error_hook); return 0 for connections that simply ended.
 */
typedef int (*roost_conn_handler)(roost_conn *c, void *arg);

struct roost_listen_opts {
    const char *host;   /* IPv4 or IPv6 literal; NULL: "127.0.0.1" */
    uint16_t port;      /* 0: an ephemeral port, the same on every reactor */
    int backlog;        /* 0: 1024 */
    unsigned max_conns; /* open connections per reactor; 0: the max-conns switch (10000) */
    bool reuse_port;    /* share host:port with other processes that opted in too; without
                           it, a port another socket listens on fails with -EADDRINUSE */
};

/*
 * Listens on host:port with one SO_REUSEPORT socket per reactor of rt, each served by a
 * multishot accept on its reactor; accepted sockets get TCP_NODELAY and a task running
 * h(conn, arg). Any thread may call it; accepting starts on each reactor's next tick.
 * At max_conns open connections on a reactor, further accepts there are closed at once
 * and counted (shed_accepts); EMFILE/ENFILE pause accepting on a timer (accept_pauses).
 * Returns 0 and *out, -EINVAL for a bad host, -errno from socket/bind/listen, or
 * -ESHUTDOWN if the runtime has stopped. Free with roost_listener_free.
 */
int roost_listen(roost_runtime *rt, const struct roost_listen_opts *o, roost_conn_handler h,
                 void *arg, roost_listener **out);

/* The bound port (the ephemeral one when opts.port was 0). */
uint16_t roost_listener_port(const roost_listener *l);

/* Connections accepted through l that are still open, over all reactors. Any thread. */
unsigned roost_listener_conn_count(const roost_listener *l);

/*
 * Stops accepting on every reactor (graceful shutdown, step 1): each reactor cancels its
 * accept and closes its listening socket on its next tick. Connections already accepted
 * go on. Any thread; returns at once; calling it again does nothing.
 */
void roost_listener_stop(roost_listener *l);

/* Frees l. Only after its runtime has stopped (roost_runtime_stop or _destroy). */
void roost_listener_free(roost_listener *l);

/*
 * A received buffer, borrowed from the runtime until roost_conn_release: with the
 * multishot strategy a buffer of the reactor's provided-buffer ring (zero copy), with the
 * one-shot strategy the connection's own receive buffer. _id is the runtime's.
 */
struct roost_buf {
    const char *data;
    size_t len;
    uint32_t _id;
};

/*
 * From a task: receives the next bytes. Returns their count (> 0) with *out borrowed until
 * roost_conn_release, 0 at EOF (the peer shut down its write side: sending still works),
 * -ETIMEDOUT when the receive timeout passed first (the connection stays usable),
 * -EBUSY while a buffer from an earlier call is still borrowed, -ECANCELED when the task
 * was cancelled (bytes that raced with the cancel are kept for the next call), -ESHUTDOWN
 * when the reactor is stopping, -EPERM outside a task, or another -errno (-ECONNRESET, ...).
 */
int roost_conn_recv(roost_conn *c, struct roost_buf *out);

/*
 * Gives a received buffer back. With the multishot strategy this returns it to the ring,
 * which is what lets connections parked on ENOBUFS receive again: hold buffers briefly.
 * Releasing an empty or already released buffer does nothing.
 */
void roost_conn_release(roost_conn *c, struct roost_buf *b);

/*
 * Sets the receive timeout for later roost_conn_recv calls: a call that has waited ms
 * milliseconds without data returns -ETIMEDOUT. 0 (the default) waits forever.
 */
void roost_conn_set_recv_timeout(roost_conn *c, uint64_t ms);

/*
 * Sets the send timeout for later roost_conn_send/sendv calls: a send that makes no
 * progress (the kernel takes no byte of it) for ms milliseconds fails with -ETIMEDOUT;
 * bytes may then have been sent in part, so the connection is only good for closing.
 * 0 (the default) waits forever.
 */
void roost_conn_set_send_timeout(roost_conn *c, uint64_t ms);

/*
 * From a task: sends all len bytes. Tries send(2) (MSG_DONTWAIT|MSG_NOSIGNAL) first when
 * speculation is on; what is left goes through the ring, resubmitted until all is sent.
 * data must stay valid until the call returns; the call returns only once the kernel is
 * done with it, even when the peer resets or the task is cancelled meanwhile.
 * Returns 0, or -errno (-EPIPE, -ECONNRESET, -ETIMEDOUT, -ECANCELED, -ESHUTDOWN, -EPERM
 * outside a task, ...): bytes may then have been sent in part.
 */
int roost_conn_send(roost_conn *c, const void *data, size_t len);

/* As roost_conn_send, gathering iovcnt buffers (at most IOV_MAX) in one stream. */
int roost_conn_sendv(roost_conn *c, const struct iovec *iov, int iovcnt);

/*
 * From a task: sends len bytes of the file fd from offset off, without copying them through
 * user memory and without blocking the reactor. When every page of the range is in the page
 * cache and speculation is on, sendfile(2) sends it (the socket becomes O_NONBLOCK for good;
 * the ring ignores the flag), waiting on the ring for room whenever the socket is full;
 * otherwise IORING_OP_SPLICE moves it file -> pipe -> socket on the ring's workers (a pipe of
 * the connection's, created on first use and kept), so neither a cold disk nor a slow peer
 * blocks the reactor. fd stays the caller's and must stay open until the call returns; its
 * O_NONBLOCK flag is cleared before the ring reads it (on a file the flag makes the ring fail
 * with EAGAIN where it should wait for the disk). The send timeout applies as to
 * roost_conn_send (progress: each byte the socket takes restarts it). Returns 0, -ENODATA if
 * the file ended before off + len (truncated meanwhile), or -errno as roost_conn_send: bytes
 * may then have been sent in part, so the connection is only good for closing.
 */
int roost_conn_send_file(roost_conn *c, int fd, off_t off, size_t len);

/*
 * shutdown(2) on the connection's socket (SHUT_RD, SHUT_WR, SHUT_RDWR). SHUT_RD may come from
 * anywhere; the others from the connection's task, and a send still in flight goes out
 * before them. 0 or -errno.
 */
int roost_conn_shutdown(roost_conn *c, int how);

/*
 * From a task on a reactor: connects to host, an IPv4 or IPv6 literal ("[::1]" too) or a
 * name, with TCP_NODELAY. A name is resolved with getaddrinfo on the worker pool (the task
 * comes home afterwards) and cached on this reactor for the resolve TTL; its addresses,
 * IPv4 and IPv6, are tried in the resolver's order until one connects. The connection
 * belongs to that reactor and to the caller, who closes it with roost_conn_close.
 * Returns 0 and *out, -EINVAL for an empty or over-long host, -ENOENT for a name that does
 * not resolve, -EPERM when not called from a task on a reactor (see roost_connect_on),
 * -ECANCELED, or -errno from the last address tried (-ECONNREFUSED, ...).
 */
int roost_connect(const char *host, uint16_t port, roost_conn **out);

/*
 * As roost_connect, bounded: -ETIMEDOUT once timeout_ms (0: no bound) have passed over all
 * addresses tried. The name lookup itself is not bounded by it.
 */
int roost_connect_timeout(const char *host, uint16_t port, uint64_t timeout_ms, roost_conn **out);

/* As roost_connect, on reactor r, from any task (a pool task in run-on=pool mode). */
int roost_connect_on(roost_reactor *r, const char *host, uint16_t port, roost_conn **out);

/* As roost_connect_timeout, on reactor r, from any task. */
int roost_connect_on_timeout(roost_reactor *r, const char *host, uint16_t port, uint64_t timeout_ms,
                             roost_conn **out);

/*
 * How long a name resolved by roost_connect stays cached per reactor (default 30000 ms; 0
 * turns the cache off). Process-wide, any thread; it applies to entries already cached too.
 */
void roost_resolve_set_ttl(uint64_t ms);

/*
 * From a task: closes a connection from roost_connect (cancelling what is in flight and
 * waiting for it) and frees it. Not for connections passed to a handler: the runtime
 * closes those when the handler returns.
 */
void roost_conn_close(roost_conn *c);

/*
 * From a task on a reactor: waits until fd is ready for events (POLLIN, POLLOUT, ... from
 * <poll.h>), through the reactor's ring (a one-shot IORING_OP_POLL_ADD), and resumes the
 * task there. fd stays the caller's. Returns the ready events (> 0; POLLERR and POLLHUP are
 * always reported), -ETIMEDOUT when timeout_ms (0: no limit) passed first, -ECANCELED when
 * the task was cancelled, -ESHUTDOWN when the reactor is stopping, -EPERM when not called
 * from a task on a reactor (see roost_fd_poll_on), -EBADF or another -errno.
 */
int roost_fd_poll(int fd, unsigned events, uint64_t timeout_ms);

/* As roost_fd_poll, through reactor r's ring, from any task (a pool task in run-on=pool). */
int roost_fd_poll_on(roost_reactor *r, int fd, unsigned events, uint64_t timeout_ms);

/* The reactor whose ring serves c. */
roost_reactor *roost_conn_reactor(const roost_conn *c);

/*
 * c's id: reactor (16 bits), generation (24 bits), table slot (24 bits). A slot reused by
 * a later connection has a new generation, so ids are not reused while a slot's
 * generation has not wrapped.
 */
uint64_t roost_conn_id(const roost_conn *c);

ROOST_END_DECLS

#endif

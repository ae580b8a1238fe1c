/*
 * Internal: the network module. Per-reactor state (struct roost_net), the provided buffer
 * ring, listeners, connections and the requests that carry a task's operation to its
 * connection's reactor.
 *
 * Ownership rule: everything a ring completion touches is owned by the connection's
 * reactor thread and touched only there. A task that runs elsewhere (run-on=pool) reaches
 * it by posting a request to the reactor's inbox; the request lives on the task's stack
 * until the reactor completes it. The fields marked "task" are touched only by the task
 * using the connection, in program order (one task at a time, across threads when it
 * migrates, ordered by the posts that move it).
 */
#ifndef ROOST_NET_NET_H
#define ROOST_NET_NET_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <roost/net.h>
#include <roost/stats.h>
#include <roost/task.h>
#include <roost/timer.h>
#include <roost/waiter.h>

#include "core/reactor.h"
#include "core/thread.h"

/* roost_buf._id: 0 = nothing borrowed; ring buffer b is b + 1; the one-shot buffer: */
#define NET_BUF_INTERNAL 0x80000000u
/* ... and bytes copied out of ring buffers past a connection's cap (the spill): */
#define NET_BUF_SPILL 0x80000001u

/* Consecutive EAGAINs of speculative recv(2) after which a socket stops speculating. */
#define NET_EAGAIN_LIMIT 3

/* How long a stopping reactor waits for its connections to wind down. */
#define NET_DRAIN_MS 2000u

/* EMFILE/ENFILE: how long accepting pauses before it retries. */
#define NET_ACCEPT_RETRY_MS 100u

/* ---- the provided buffer ring (bufring.c) ------------------------------------------------ */

/* Per-buffer bookkeeping, indexed by buffer id. */
struct net_buf {
    uint32_t len;          /* bytes received into it */
    int32_t next;          /* next buffer of a connection's receive queue, -1 at the end */
    struct roost_work ret; /* posts its return to the reactor from another thread */
    struct roost_net *net;
};

struct net_bufring {
    struct io_uring_buf_ring *br; /* shared with the kernel */
    size_t br_bytes;
    char *mem; /* count * size bytes */
    size_t mem_bytes;
    unsigned count, size, mask;
    unsigned avail;    /* buffers in the ring as far as completions tell */
    unsigned window;   /* buffers kept in the ring at most: the rest wait in spare */
    unsigned conn_cap; /* buffers one connection may have queued (net_rq_cap) */
    struct net_buf *bufs;
    uint16_t *spare; /* free buffers outside the ring, a stack: the last one given back on top */
    unsigned nspare;
    /*
     * The window's sizing: buffers taken this tick, receives that found the ring empty
     * while spares waited this tick, the most a tick of this epoch took.
     */
    unsigned tick_taken, tick_dry, epoch_peak, epoch_ticks;
};

int net_bufring_init(struct roost_net *net, unsigned count, unsigned size);
void net_bufring_destroy(struct roost_net *net);
/* Gives buffer bid back to the ring and lets a parked connection receive again. */
void net_bufring_put(struct roost_net *net, unsigned bid);
/* A completion says the kernel took a buffer from the ring: tops the ring up from spare. */
void net_bufring_taken(struct roost_net *net);
/* A receive found the ring empty: if spare buffers were held back, the window widens. */
void net_bufring_ran_dry(struct roost_net *net);
/* Before each enter: widens the window for this tick's dry receives, or narrows it when an
 * epoch of ticks used far less of it. */
void net_bufring_tick(struct roost_net *net);
static inline char *net_buf_data(const struct roost_net *net, unsigned bid);

/* ---- listeners (listener.c) ---------------------------------------------------------------- */

struct net_lsock {
    struct roost_listener *l;
    struct roost_reactor *r;
    int fd;
    struct roost_op *op; /* the armed multishot accept, NULL when none */
    bool linked;         /* on the reactor's list (armed at least once) */
    bool stopping;
    bool paused;     /* EMFILE/ENFILE: retry timer pending */
    bool out_of_fds; /* the accept failed with EMFILE/ENFILE: pause when it has ended */
    unsigned live;   /* open connections accepted here */
    struct roost_timer retry;
    struct roost_work arm_work, stop_work;
    struct net_lsock *next;
};

struct roost_listener {
    roost_runtime *rt;
    roost_conn_handler handler;
    void *arg;
    uint16_t port;
    unsigned max_conns;
    _Atomic unsigned stop_requested;
    _Atomic unsigned conns;
    unsigned n;
    struct net_lsock ls[];
};

/* Stops every listening socket of net's reactor (draining). */
void net_listeners_stop_all(struct roost_net *net);

/* An IPv4 or IPv6 literal and a port as a socket address. 0 or -EINVAL. */
int net_parse_addr(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len);

/* ---- requests (request.c) ------------------------------------------------------------------ */

struct net_req;
typedef void (*net_req_fn)(struct net_req *q);

/* Cancel protocol state of a request whose task runs off the reactor (request.c). */
enum { NET_CANCEL_NONE, NET_CANCEL_POSTED, NET_CANCEL_RAN, NET_CANCEL_DONE };

/* One operation of a task, on the task's stack until the reactor completes it. What its
 * start and completion touch comes first (a send behind, struct net_behind, touches only
 * that), the waiter and the posts of a task off the reactor last. */
struct net_req {
    struct roost_reactor *r;
    struct roost_conn *c;
    net_req_fn start;  /* on the reactor: stage the op or complete at once */
    net_req_fn cancel; /* on the reactor: abandon or cancel the op in flight (may be NULL) */
    _Atomic unsigned cstate;
    bool pending;   /* reactor: started and not completed */
    bool deferred;  /* reactor: completed while a posted cancel had not run yet */
    bool cancelled; /* reactor: a cancel reached the op */
    bool timed_out;
    int res; /* the raw outcome, for the task (e.g. bytes that raced with a cancel) */
    union {
        struct {
            uint64_t timeout_ms;
            uint32_t id;  /* the buffer delivered (roost_buf._id) */
            uint32_t len; /* its length */
            char *spill;  /* NET_BUF_SPILL: the memory handed to the task */
            unsigned cqe_flags;
            bool poll_first;
        } recv;
        struct {
            const char *buf;
            size_t len, done;
            struct msghdr msg; /* msg_iov NULL: buf */
        } send;
        struct {
            const struct sockaddr *addr; /* the caller's, alive while it waits */
            socklen_t addrlen;
            int fd;
            bool taken; /* the reactor owns fd (and closes it on failure) */
        } conn;
        struct {
            int fd;
            unsigned events;
            uint64_t timeout_ms;
            struct roost_op *op; /* the poll in flight */
            struct roost_timer timer;
            struct net_req *prev, *next; /* the reactor's list of polls in flight */
        } poll;
        struct {
            int fd;         /* the file */
            uint64_t off;   /* next file byte to move into the pipe */
            uint64_t left;  /* file bytes not yet moved into the pipe */
            size_t in_pipe; /* bytes in the pipe, not yet sent */
            bool to_socket; /* the op in flight moves pipe -> socket */
        } splice;
        struct {
            int op;           /* IORING_OP_READ or IORING_OP_OPENAT2 */
            int fd;           /* the file, or the directory for OPENAT2 */
            void *buf;        /* READ */
            size_t len;       /* READ */
            uint64_t off;     /* READ */
            const char *path; /* OPENAT2 */
            const void *how;  /* OPENAT2: struct open_how */
        } file;
    };
    struct roost_waiter w;
    /* Set only when posted (off the reactor): */
    struct roost_work work;        /* posts start to the reactor */
    struct roost_work cancel_work; /* posts cancel to the reactor */
};

/*
 * From a task: runs q->start on q->r (directly on its thread, else through its inbox) and
 * waits for the completion. Returns the result, -ECANCELED, -ESHUTDOWN if the reactor
 * refused the post, or -EPERM outside a task (nothing started).
 */
int net_call(struct net_req *q);

/* On the reactor: completes q with res (honours a posted cancel not yet run). */
void net_req_complete(struct net_req *q, int res);

/* An op of kind (ROOST_OP_GENERIC, net_op_kinds[...]) whose completion runs fn, and an SQE
 * carrying it for the caller to prepare (on the reactor). NULL (nothing taken) when either
 * runs out. */
struct io_uring_sqe *net_op_sqe(struct roost_reactor *r, uint8_t kind, roost_op_fn fn, void *owner,
                                struct roost_op **out);

/* Stages an async cancel of op (on the reactor); the cancel's own completion is ignored. */
void net_cancel_op(struct roost_reactor *r, struct roost_op *op);

/*
 * A send behind (send.c, net_send_behind): staged on the ring and not waited for. q carries
 * the send in the connection's send slot but is never completed: done runs on the reactor
 * when the kernel is through with data (res: 0 or -errno), and completes settle_q, a task's
 * request waiting for it meanwhile (net_send_settle).
 */
typedef void (*net_sent_fn)(void *arg, void *data, size_t len, size_t tag, int res);

struct net_behind {
    struct net_req *settle_q; /* reactor */
    net_sent_fn done;
    void *arg;
    size_t tag;
    int res; /* reactor: the outcome, once over */
    struct net_req q;
};

/* ---- connections (conn.c) ------------------------------------------------------------------ */

#define NET_CONN_CHUNK 256u

/*
 * Fields in two groups: what every receive and send touches first, in as few cache lines as
 * can be (a connection's are cold when its turn comes again once a reactor serves hundreds),
 * then the rest. A slot starts a cache line (conn_table_grow).
 */
struct roost_conn {
    /* every receive and send: reactor side, then task side */
    struct roost_net *net;
    struct roost_reactor *r;
    int fd;
    bool oneshot;   /* receive strategy */
    bool throttled; /* past the cap: the multishot is being cancelled */
    bool bounded;   /* went past the cap once: receives take one buffer each */
    bool rx_eof;    /* EOF after the queued data */
    int rx_err;     /* error after the queued data */
    bool parked;    /* ENOBUFS: waiting for buffers to come back */
    bool closing, aborted;
    bool nonblock;            /* the socket is O_NONBLOCK (sendfile.c; the ring ignores the flag) */
    bool behind_in_flight;    /* a send behind is staged and not over (send.c) */
    bool behind_active;       /* a send behind is staged and not settled (task) */
    struct roost_op *ms_op;   /* the armed multishot recv */
    unsigned ops;             /* ring ops in flight (close waits for 0) */
    int32_t rq_head, rq_tail; /* received ring buffers not handed out yet */
    unsigned rq_count;        /* how many */
    char *spill;              /* bytes past the cap, copied out (their buffers went back) */
    struct net_req *recv_q;   /* the receive waiting */
    struct net_req *send_q;   /* the send or connect in flight */
    uint64_t recv_deadline_ns;     /* of the receive waiting, CLOCK_MONOTONIC; 0: none */
    struct roost_timer recv_timer; /* kept armed lazily (recv.c, recv_deadline_start) */
    uint32_t borrowed;             /* roost_buf._id handed out and not released (task) */
    uint32_t stash_id; /* a delivery that raced with a cancel, for the next recv (task) */
    unsigned budget;   /* speculative recv(2)s left before the next ring wait (task) */
    unsigned eagain;   /* consecutive EAGAINs of speculative recv(2) (task) */
    uint64_t recv_timeout_ms;
    uint64_t send_timeout_ms;      /* 0: none */
    struct roost_op *send_op;      /* send, sendmsg or connect in flight */
    uint64_t send_deadline_ns;     /* of the op in send_op (send.c, net_send_timer_restart) */
    struct roost_timer send_timer; /* send timeout: armed lazily (net_deadline_move) */

    /* a send behind (send.c): its own fields share the send timer's second line, and what a
     * send touches of q takes two more */
    struct net_behind behind;

    /* the rest */
    uint32_t index, gen;
    bool in_use;
    bool has_pipe;        /* pipe_fd holds the connection's splice pipe (sendfile.c), empty */
    struct net_lsock *ls; /* the listener socket that accepted it; NULL for roost_connect */
    uint32_t next_free;
    uint32_t stash_len;
    struct roost_op *os_op; /* the one-shot recv in flight */
    size_t spill_len, spill_cap;
    int pipe_fd[2]; /* read end, write end */
    struct roost_conn *park_next;
    struct net_req *close_q; /* the close waiting for ops to drain */
    char *spill_task;        /* a NET_BUF_SPILL delivery, owned by the task until released */
    char *rbuf;              /* the one-shot receive buffer (buf_size bytes) */
} __attribute__((aligned(64)));

/* Takes a free slot for fd (on the reactor). NULL on ENOMEM. */
struct roost_conn *net_conn_alloc(struct roost_net *net, int fd, struct net_lsock *ls);
/* Closes the socket and frees the slot; every op must have completed (on the reactor). */
void net_conn_free(struct roost_conn *c);
/* Runs h in a task for an accepted connection (on the reactor). 0 or -errno. */
int net_conn_start(struct roost_conn *c);
/* Fails what c's task waits for and cancels its ops (reactor stopping). */
void net_conn_abort(struct roost_conn *c);
/*
 * A connection's deadline kept armed lazily (the receive's, the send's), on c's reactor:
 * net_deadline_move sets *deadline_ns timeout_ms after the tick's time and starts t (cb, c)
 * only when it is not armed as early; in cb, net_deadline_early re-arms t for what is left
 * and returns true when it fired before deadline_ns.
 */
void net_deadline_move(struct roost_conn *c, struct roost_timer *t, uint64_t *deadline_ns,
                       uint64_t timeout_ms, roost_timer_cb cb);
bool net_deadline_early(struct roost_conn *c, struct roost_timer *t, uint64_t deadline_ns,
                        roost_timer_cb cb);
/* Counts an op staged for c / its completion (which may finish a close). */
void net_conn_op_begin(struct roost_conn *c);
void net_conn_op_end(struct roost_conn *c);

/* ---- receive (recv.c) ----------------------------------------------------------------------- */

/* Parked connection list: ENOBUFS. */
void net_park(struct roost_conn *c);
void net_unpark(struct roost_conn *c);
/* Re-arms up to n parked connections (buffers came back); skipped ones do not count. */
void net_unpark_some(struct roost_net *net, unsigned n);
/* Returns c's queued ring buffers to the ring (close). */
void net_recv_drop_queue(struct roost_conn *c);

/* ---- send (send.c) -------------------------------------------------------------------------- */

/* Moves c's send deadline for the op in c->send_op / c->send_q, send_timeout_ms from now
 * (the timer, armed lazily, cancels that op once the deadline passes). */
void net_send_timer_restart(struct roost_conn *c);

/*
 * The send slot of c (one send, sendmsg, splice or connect in flight): takes an op whose
 * completion runs fn and an SQE carrying it, makes them c->send_op / c->send_q (q) and
 * counts the op; the caller prepares the SQE. NULL (nothing taken) when either runs out.
 */
struct io_uring_sqe *net_send_sqe(struct roost_conn *c, struct net_req *q, roost_op_fn fn);
/* In fn: frees op and empties the slot; returns the request it carried. */
struct net_req *net_send_done(struct roost_reactor *r, struct roost_op *op);
/* The cancel of a request in the send slot (net_req.cancel). */
void net_send_cancel(struct net_req *q);
/* The send slot's op is over with out (0 or -errno): says why a failed op failed (-ESHUTDOWN,
 * -ECANCELED, -ETIMEDOUT). Returns the result to complete q with. */
int net_send_outcome(struct roost_conn *c, struct net_req *q, int out);

/*
 * From c's task, on c's reactor: stages a send of all len bytes of data on the ring and
 * returns without waiting; the send goes out with the tick's enter. data stays the kernel's
 * until done(arg, data, len, tag, res) runs on the reactor (the task may be anywhere by then).
 * Every later send, shutdown or close of c first waits for it (net_send_settle). A failed
 * send also shuts the socket down, so a receive waiting meanwhile ends. 0, or -errno with
 * nothing staged and data still the caller's (-EPERM off c's reactor or outside a task).
 */
int net_send_behind(struct roost_conn *c, void *data, size_t len, net_sent_fn done, void *arg,
                    size_t tag);
/* From c's task: waits for c's send behind, if any; its result (0 or -errno). */
int net_send_settle(struct roost_conn *c);

/* ---- files (sendfile.c) -------------------------------------------------------------------- */

/* Closes c's splice pipe, if it has one (connection freed, or a transfer that failed). */
void net_conn_drop_pipe(struct roost_conn *c);

/*
 * From a task: file operations that never block reactor r on a cold disk. With speculation
 * on, the syscall is tried first in its never-blocking form (preadv2 RWF_NOWAIT, openat2
 * RESOLVE_CACHED); what would block goes through r's ring (IORING_OP_READ, _OPENAT2).
 * net_file_read returns bytes read (0 at end of file) or -errno; net_file_openat2 returns
 * the new descriptor (the caller's) or -errno. how is a struct open_how.
 */
int net_file_read(struct roost_reactor *r, int fd, void *buf, size_t len, uint64_t off);
int net_file_openat2(struct roost_reactor *r, int dirfd, const char *path, const void *how);

/* ---- poll (poll.c) ------------------------------------------------------------------------- */

/* Reactor stopping: cancels every poll in flight (they complete with -ESHUTDOWN). */
void net_polls_abort(struct roost_net *net);

/* ---- per-reactor state (net.c) ----------------------------------------------------------------
 */

struct roost_net {
    struct roost_reactor *r;
    bool oneshot; /* the receive strategy in effect on this reactor */
    bool speculative;
    unsigned inline_budget;
    unsigned buf_size;
    unsigned max_conns;
    roost_ctx *task_ctx; /* where connection tasks run: the reactor's, or the pool's */

    bool have_ring;
    struct net_bufring ring;

    struct roost_conn **chunks;
    uint32_t nchunks;
    uint32_t free_head; /* UINT32_MAX: none */
    unsigned nconns;

    struct roost_conn *parked_head, *parked_tail;
    unsigned nparked;
    struct roost_work unpark_work; /* a re-arm pass on the next tick */
    bool unpark_scheduled;

    struct net_lsock *lsocks;

    struct net_req *polls; /* roost_fd_poll requests in flight */
    unsigned npolls;

    bool draining;
    uint64_t drain_deadline_ns;
    struct roost_timer drain_timer;

    bool ready; /* set up on the reactor thread (net_get) */
    unsigned buf_count;

    struct {
#define NET_COUNTER_(name, help) _Atomic uint64_t name;
        ROOST_STATS_NET_FIELDS(NET_COUNTER_)
#undef NET_COUNTER_
    } stats;
};

/* What the network layer takes from the configuration (the rt layer fills it in). */
struct net_config {
    bool oneshot;
    bool speculative;
    unsigned inline_budget;
    unsigned buf_count;
    unsigned buf_size;
    unsigned max_conns;
    roost_ctx *task_ctx; /* where connection tasks run (NULL: the reactor's context) */
};

/*
 * Attaches the network layer to r before r's thread starts (its hooks: draining at stop,
 * stale receive buffers, freeing what is left). The buffer ring is set up on first use.
 * 0 or -errno.
 */
int net_attach(struct roost_reactor *r, const struct net_config *cfg);

/*
 * Creates r's net state (on r's thread) if it has none: its provided buffer ring unless
 * receiving one-shot. Returns 0 or -errno (-ENOMEM: the buffers could not be mapped),
 * after saying on stderr what failed.
 */
int net_setup(struct roost_reactor *r);

/* r's net state, its buffer ring set up on first use. NULL if not attached or on ENOMEM. */
struct roost_net *net_get(struct roost_reactor *r);

/* r's net state as it is (no setup): NULL if the layer is not attached. */
struct roost_net *net_of(const struct roost_reactor *r);

/* Copies the network layer's counters of r into *out (zero if not attached). */
void net_stats(const struct roost_reactor *r, struct roost_stats *out);

/* The op kinds of the network layer (user_data tags), registered once per process. */
enum net_op { NET_OP_ACCEPT, NET_OP_RECV, NET_OP_SEND, NET_OP_CONNECT, NET_OP_COUNT };
extern uint8_t net_op_kinds[NET_OP_COUNT];

/* Counters a task may bump from any thread (pool mode): atomic increments. */
#define NET_STAT_INC(net, field)                                                                   \
    atomic_fetch_add_explicit(&(net)->stats.field, 1, memory_order_relaxed)

static inline char *net_buf_data(const struct roost_net *net, unsigned bid)
{
    return net->ring.mem + (size_t)bid * net->ring.size;
}

static inline bool net_on_reactor(const struct roost_reactor *r)
{
    return roost__thread_reactor() == r;
}

/*
 * Whether a task may keep b, just received on c, borrowed for a while (the HTTP server
 * answers a batch of requests out of it instead of copying it). A connection's own buffer
 * (one-shot receives) or a spill costs the ring nothing; a provided buffer may be kept only
 * on the reactor while at least half of the ring is free, so that tasks that keep theirs
 * across a long await can never starve the reactor's other connections of buffers.
 */
static inline bool net_buf_may_keep(const struct roost_conn *c, const struct roost_buf *b)
{
    if (b->_id == NET_BUF_INTERNAL || b->_id == NET_BUF_SPILL)
        return true;
    const struct net_bufring *ring = &c->net->ring;
    return net_on_reactor(c->r) && ring->avail + ring->nspare >= ring->count / 2;
}

#endif

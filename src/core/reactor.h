/* Internal: the reactor object, its ring-op slots and its counters. */
#ifndef ROOST_CORE_REACTOR_H
#define ROOST_CORE_REACTOR_H

#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <roost/config.h>
#include <roost/reactor.h>

#include "core/ctx.h"
#include "base/fifo.h"
#include "core/inbox.h"
#include "core/timer_heap.h"

/*
 * user_data layout: kind (8 bits) | generation (24 bits) | slot index (32 bits).
 * A completion whose generation no longer matches its slot is stale (the op was freed and
 * the slot reused) and is dropped. user_data 0 marks SQEs whose CQE nobody wants.
 */
enum roost_op_kind {
    ROOST_OP_FREE = 0,
    ROOST_OP_WAKE, /* the reactor's eventfd read */
    ROOST_OP_GENERIC,
    ROOST_OP_ACCEPT,  /* a listener's multishot accept (src/net) */
    ROOST_OP_RECV,    /* a connection's receive, multishot or one-shot */
    ROOST_OP_SEND,    /* a connection's send or sendmsg */
    ROOST_OP_CONNECT, /* roost_connect */
};

struct roost_op;
typedef void (*roost_op_fn)(struct roost_reactor *r, struct roost_op *op,
                            const struct io_uring_cqe *cqe);

/* A short-lived ring request's slot, owned by the reactor, borrowed by the submitter. */
struct roost_op {
    roost_op_fn on_cqe;
    void *owner;
    uint32_t index;
    uint32_t gen;
    uint8_t kind;
    uint32_t next_free;
};

#define ROOST_OP_CHUNK 1024u

/*
 * What the network module (src/net), layered on the core, needs from the reactor loop.
 * Installed on the reactor thread when the module first sets up its per-reactor state.
 */
struct roost_reactor_net_ops {
    /* A completion for a stale op carried a provided buffer (IORING_CQE_F_BUFFER). */
    void (*stale_buffer)(struct roost_reactor *r, const struct io_uring_cqe *cqe);
    /*
     * Called every tick once a stop was requested: winds connections and listeners down
     * and returns true while the loop must go on ticking to reap their completions.
     */
    bool (*draining)(struct roost_reactor *r);
    /* From roost__reactor_free, once the thread has exited: frees what is left. */
    void (*destroy)(struct roost_reactor *r);
};

struct roost_op_table {
    struct roost_op **chunks;
    uint32_t nchunks;
    uint32_t free_head; /* UINT32_MAX: none */
};

/* The counters: single writer (the reactor thread) except wakes_written. */
struct roost_counters {
#define ROOST_COUNTER_MEMBER_(name, help) _Atomic uint64_t name;
    ROOST_STATS_FIELDS(ROOST_COUNTER_MEMBER_)
#undef ROOST_COUNTER_MEMBER_
};

/* A relaxed load and store compiles to a plain add on x86: cheap, and TSan-clean. */
#define ROOST_STAT_ADD(r, field, n)                                                                \
    atomic_store_explicit(&(r)->stats.field,                                                       \
                          atomic_load_explicit(&(r)->stats.field, memory_order_relaxed) + (n),     \
                          memory_order_relaxed)
#define ROOST_STAT_INC(r, field) ROOST_STAT_ADD(r, field, 1)

struct roost_reactor {
    struct roost_ctx ctx; /* first member: a reactor's ctx converts back to the reactor */
    struct roost_inbox inbox;
    /* 1 while the reactor is (about to be) blocked in io_uring_enter; see reactor.c. */
    _Alignas(64) _Atomic unsigned parked;
    _Atomic unsigned stop_requested;

    _Alignas(64) struct roost_runtime *rt;
    unsigned id;
    enum roost_wake wake_mode;
    enum roost_resume resume_mode;
    size_t stack_size;
    unsigned inbox_budget;
    bool affinity;
    roost_error_hook error_hook;
    void *error_hook_arg;

    pthread_t thread;
    _Atomic unsigned started; /* futex word: 1 once start_rc is set */
    int start_rc;

    struct io_uring ring;
    unsigned sq_entries;
    const char *ring_mode;
    bool taskrun_flag; /* the kernel flags pending completion work in the SQ ring */
    int wake_fd;
    uint64_t wake_buf;

    struct roost_op_table ops;
    struct roost_timer_heap timers;

    /* Work posted by the reactor thread to itself: plain FIFO, no atomics. */
    struct roost_fifo local;

    struct roost_work stop_work;
    bool stopping;      /* stop work has run: shut down after this tick */
    bool timers_closed; /* shutdown is telling pending timers; no new ones */
    bool closed;        /* final drain done: even own-thread posts are refused */

    struct roost_net *net; /* src/net's per-reactor state, NULL until first used */
    const struct roost_reactor_net_ops *net_ops;

    struct roost_counters stats;
};

static inline struct roost_reactor *roost__reactor_of(roost_ctx *ctx)
{
    return (struct roost_reactor *)ctx;
}

/* Setup and teardown, used by the runtime. */
void roost__reactor_init(struct roost_reactor *r, struct roost_runtime *rt, unsigned id,
                         const struct roost_config *cfg);
void *roost__reactor_thread_main(void *arg);
void roost__reactor_request_stop(struct roost_reactor *r);
void roost__reactor_free(struct roost_reactor *r);

/* Ring ops: allocate a slot (kind != ROOST_OP_FREE), its user_data, free it (stale after). */
struct roost_op *roost__op_alloc(struct roost_reactor *r, uint8_t kind, roost_op_fn fn,
                                 void *owner);
uint64_t roost__op_user_data(const struct roost_op *op);
void roost__op_free(struct roost_reactor *r, struct roost_op *op);

/*
 * The next SQE of r's ring; when the SQ is full, submits what is staged without waiting
 * and goes on, so no SQE is ever dropped. NULL only if the kernel refuses the submit.
 */
struct io_uring_sqe *roost__reactor_sqe(struct roost_reactor *r);

/* Counts a failure of posted work or a detached task and calls the error hook. */
void roost__reactor_report_failure(struct roost_reactor *r, int err, const char *what);

/* The worker pool of r's runtime. */
struct roost_pool *roost__reactor_runtime_pool(struct roost_reactor *r);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t roost__now_ns(void);

#endif

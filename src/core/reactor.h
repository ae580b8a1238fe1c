/* Internal: the reactor object, its ring-op slots and its counters. */
#ifndef ROOST_CORE_REACTOR_H
#define ROOST_CORE_REACTOR_H

#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <roost/config.h>
#include <roost/reactor.h>

#include "base/clock.h"
#include "base/fifo.h"
#include "core/ctx.h"
#include "core/hooks.h"
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
    ROOST_OP_FIRST_REGISTERED, /* higher layers' kinds: roost__op_kind_register (hooks.h) */
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

struct roost_op_table {
    struct roost_op **chunks;
    uint32_t nchunks;
    uint32_t free_head; /* UINT32_MAX: none */
};

/* The core's counters: single writer (the reactor thread) except wakes_written. */
struct roost_counters {
#define ROOST_COUNTER_MEMBER_(name, help) _Atomic uint64_t name;
    ROOST_STATS_CORE_FIELDS(ROOST_COUNTER_MEMBER_)
#undef ROOST_COUNTER_MEMBER_
};

/* What the core takes from the configuration (the rt layer fills it in). */
struct roost__core_config {
    unsigned sq_entries;
    unsigned inbox_budget;
    enum roost_wake wake;
    unsigned park_poll_ns; /* 0: never poll before parking */
    unsigned park_poll_spins;
    bool affinity;
    roost_error_hook error_hook;
    void *error_hook_arg;
};

/* One registered layer (hooks.h). */
struct roost__hook_entry {
    const struct roost__hooks *hooks;
    void *arg;
};

/*
 * A relaxed load and store compiles to a plain add on x86: cheap, and TSan-clean. Any
 * layer's counters struct with a `stats` member of _Atomic uint64_t fields works.
 */
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
    /*
     * Tasks of this reactor away on other threads that will post back to it (an offload in
     * flight, a run-on=pool task between its resume and its next request): while there are
     * any, the reactor polls its inbox briefly before it parks (reactor.c). A hint only:
     * no wake depends on it.
     */
    _Atomic unsigned away;

    _Alignas(64) void *owner; /* whoever created the reactor (the runtime); opaque here */
    unsigned id;
    enum roost_wake wake_mode;
    unsigned park_poll_ns;
    unsigned park_poll_spins;
    unsigned park_poll_backoff; /* parks to skip after the next miss (0: none missed) */
    unsigned park_poll_skip;    /* parks left to skip before the next poll */
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
    /*
     * Busy ticks left that ignore IORING_SQ_TASKRUN: the kernel can leave the flag set with
     * nothing queued, so an enter made on its word alone that reaps nothing spends it for a
     * while (see enter_needed in reactor.c).
     */
    unsigned taskrun_distrust;
    unsigned tick_enters;     /* enters made by the current tick */
    unsigned max_tick_enters; /* the most any tick made: tests hold it to 1 */
    int wake_fd;
    uint64_t wake_buf;
    bool wake_read_staged; /* the eventfd read is among the SQEs not yet submitted */

    struct roost_op_table ops;
    struct roost_timer_heap timers;

    /* Work posted by the reactor thread to itself: plain FIFO, no atomics. */
    struct roost_fifo local;

    struct roost_work stop_work;
    bool stopping;      /* stop work has run: shut down after this tick */
    bool timers_closed; /* shutdown is telling pending timers; no new ones */
    bool closed;        /* final drain done: even own-thread posts are refused */

    /* The layers attached above the core, in registration order (hooks.h). */
    struct roost__hook_entry hooks[ROOST__HOOKS_MAX];
    _Atomic unsigned nhooks;

    /*
     * CLOCK_MONOTONIC read once per tick, when the enter returns: what the tick's timers,
     * deadlines and latencies are measured with (roost_reactor_now_ns). Reactor thread only.
     */
    uint64_t now_ns;

    struct roost_counters stats;
};

static inline struct roost_reactor *roost__reactor_of(roost_ctx *ctx)
{
    return (struct roost_reactor *)ctx;
}

/* Setup and teardown, used by the runtime (owner: opaque, see roost__reactor_owner). */
void roost__reactor_init(struct roost_reactor *r, void *owner, unsigned id,
                         const struct roost__core_config *cfg);
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

/*
 * Deferred wakes, for a thread that runs jobs of continuations (a runtime pool's worker). On
 * a batch-owner thread, a cross-thread post made between roost__wakes_defer_begin and _end
 * links its item at once but leaves the eventfd write (coalesced mode only) to
 * roost__wakes_flush, which the owner calls when the job ends, before it runs the next one:
 * a job that posts several items to a parked reactor wakes it once. On any other thread
 * begin/end do nothing and posts wake as before. roost_ctx_send, roost_run and
 * roost_runtime_wait flush before they block. The owner must flush before it runs another
 * job, sleeps, blocks or exits: no wake may wait behind code of unknown length.
 */
void roost__wakes_batch_owner(bool on);
void roost__wakes_defer_begin(void);
void roost__wakes_defer_end(void);
void roost__wakes_flush(void);

/*
 * The away count (see `away` above). Add on r's thread when a task of r leaves for another
 * thread from which a post back to r will follow; sub on any thread once that post is
 * linked (or the task ended, or came back). Exact counts are not needed for safety: a
 * count left too high costs at most one bounded poll per park, one too low a wake.
 */
static inline void roost__reactor_away_add(struct roost_reactor *r)
{
    atomic_fetch_add_explicit(&r->away, 1, memory_order_relaxed);
}

static inline void roost__reactor_away_sub(struct roost_reactor *r)
{
    /* Release: a reactor that reads the drop with acquire then sees the item linked. */
    atomic_fetch_sub_explicit(&r->away, 1, memory_order_release);
}

/* Counts a failure of posted work or a detached task and calls the error hook. */
void roost__reactor_report_failure(struct roost_reactor *r, int err, const char *what);

/* The owner given to roost__reactor_init. */
static inline void *roost__reactor_owner(const struct roost_reactor *r)
{
    return r->owner;
}

/* Copies the core's counters into the matching fields of *out (the rt layer gathers). */
void roost__reactor_core_stats(const struct roost_reactor *r, struct roost_stats *out);

#endif

/* A reactor's io_uring: setup with fallbacks, op slots with generations, SQE staging. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/reactor.h"
#include "core/ring.h"

/* Newer kernel flags, defined here when liburing 2.3's header lacks them. */
#ifndef IORING_SETUP_SUBMIT_ALL
#define IORING_SETUP_SUBMIT_ALL (1U << 7)
#endif
#ifndef IORING_SETUP_COOP_TASKRUN
#define IORING_SETUP_COOP_TASKRUN (1U << 8)
#endif
#ifndef IORING_SETUP_TASKRUN_FLAG
#define IORING_SETUP_TASKRUN_FLAG (1U << 9)
#endif
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif

/* The kernel's IORING_MAX_CQ_ENTRIES (not exported by its headers). */
#define RING_MAX_CQ_ENTRIES 65536u

int roost__ring_setup(struct roost_reactor *r)
{
    /*
     * Best first; an older kernel rejects flags it does not know with EINVAL. TASKRUN_FLAG
     * makes the kernel raise IORING_SQ_TASKRUN when completions wait for an enter, which
     * lets a busy tick skip an enter that would have nothing to do (reactor.c).
     * SUBMIT_ALL: one failing SQE must not stop the rest of the batch.
     */
    static const struct {
        unsigned flags;
        const char *name;
    } tiers[] = {
        {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
             IORING_SETUP_SUBMIT_ALL,
         "single_issuer+defer_taskrun"},
        {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
         "single_issuer+defer_taskrun"},
        {IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL,
         "coop_taskrun"},
        {IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG, "coop_taskrun"},
        {IORING_SETUP_SUBMIT_ALL, "none"},
        {0, "none"},
    };
    int rc = -EINVAL;
    for (size_t i = 0; i < sizeof(tiers) / sizeof(tiers[0]); i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof(p));
        /*
         * A CQ 4x the SQ: multishot ops post many CQEs per SQE. The kernel refuses a CQ
         * above 65536 entries (twice its largest SQ), so the largest SQs get that.
         */
        p.flags = tiers[i].flags | IORING_SETUP_CQSIZE;
        p.cq_entries =
            r->sq_entries <= RING_MAX_CQ_ENTRIES / 4 ? r->sq_entries * 4 : RING_MAX_CQ_ENTRIES;
        rc = io_uring_queue_init_params(r->sq_entries, &r->ring, &p);
        if (rc == 0) {
            r->ring_mode = tiers[i].name;
            r->taskrun_flag = (tiers[i].flags & IORING_SETUP_TASKRUN_FLAG) != 0;
            return 0;
        }
        if (rc != -EINVAL)
            return rc;
    }
    return rc;
}

static struct roost_op *op_slot(struct roost_op_table *t, uint32_t index)
{
    return &t->chunks[index / ROOST_OP_CHUNK][index % ROOST_OP_CHUNK];
}

static int op_table_grow(struct roost_op_table *t)
{
    struct roost_op **chunks = realloc(t->chunks, (t->nchunks + 1) * sizeof(*chunks));
    if (!chunks)
        return -ENOMEM;
    t->chunks = chunks;
    struct roost_op *chunk = calloc(ROOST_OP_CHUNK, sizeof(*chunk));
    if (!chunk)
        return -ENOMEM;
    uint32_t base = t->nchunks * ROOST_OP_CHUNK;
    t->chunks[t->nchunks++] = chunk;
    /* Thread the new slots onto the free list, lowest index first. */
    for (uint32_t i = ROOST_OP_CHUNK; i-- > 0;) {
        chunk[i].index = base + i;
        chunk[i].next_free = t->free_head;
        t->free_head = base + i;
    }
    return 0;
}

struct roost_op *roost__op_alloc(struct roost_reactor *r, uint8_t kind, roost_op_fn fn, void *owner)
{
    struct roost_op_table *t = &r->ops;
    if (t->free_head == UINT32_MAX && op_table_grow(t) < 0)
        return NULL;
    struct roost_op *op = op_slot(t, t->free_head);
    t->free_head = op->next_free;
    op->kind = kind;
    op->on_cqe = fn;
    op->owner = owner;
    return op;
}

uint64_t roost__op_user_data(const struct roost_op *op)
{
    return ((uint64_t)op->kind << 56) | ((uint64_t)(op->gen & 0xffffffu) << 32) | op->index;
}

void roost__op_free(struct roost_reactor *r, struct roost_op *op)
{
    /* A new generation makes every completion still in flight for this slot stale. */
    op->gen = (op->gen + 1) & 0xffffffu;
    op->kind = ROOST_OP_FREE;
    op->on_cqe = NULL;
    op->owner = NULL;
    op->next_free = r->ops.free_head;
    r->ops.free_head = op->index;
}

void roost__op_table_destroy(struct roost_op_table *t)
{
    for (uint32_t i = 0; i < t->nchunks; i++)
        free(t->chunks[i]);
    free(t->chunks);
    t->chunks = NULL;
    t->nchunks = 0;
    t->free_head = UINT32_MAX;
}

struct io_uring_sqe *roost__reactor_sqe(struct roost_reactor *r)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    while (!sqe) {
        /* SQ full mid-batch: hand the kernel what is staged, without waiting, and go on. */
        ROOST_STAT_INC(r, sq_full_submits);
        int rc = io_uring_submit(&r->ring);
        if (rc < 0 && rc != -EINTR)
            return NULL;
        if (rc > 0)
            ROOST_STAT_ADD(r, sqes_submitted, (uint64_t)rc);
        if (io_uring_sq_ready(&r->ring) == 0)
            r->wake_read_staged = false; /* it went with the rest */
        sqe = io_uring_get_sqe(&r->ring);
    }
    return sqe;
}

/* The op slot user_data names (NULL: 0, an internal completion, or no such slot). */
static struct roost_op *slot_of(struct roost_reactor *r, uint64_t ud)
{
    uint32_t index = (uint32_t)ud;
    return ud && index < r->ops.nchunks * ROOST_OP_CHUNK ? op_slot(&r->ops, index) : NULL;
}

/* The live op cqe completes, or NULL (internal, or for a freed or recycled slot). Inlined:
 * it runs three times per completion (two warming steps and the dispatch). */
__attribute__((always_inline)) static inline struct roost_op *
live_op(struct roost_reactor *r, const struct io_uring_cqe *cqe)
{
    uint64_t ud = cqe->user_data;
    struct roost_op *op = slot_of(r, ud);
    if (!op || op->kind != (uint8_t)(ud >> 56) || op->gen != ((uint32_t)(ud >> 32) & 0xffffffu))
        return NULL;
    return op;
}

static void dispatch(struct roost_reactor *r, const struct io_uring_cqe *cqe)
{
    if (cqe->user_data == 0)
        return;
    struct roost_op *op = live_op(r, cqe);
    if (op && op->on_cqe) {
        op->on_cqe(r, op, cqe);
        return;
    }
    /*
     * A completion for a freed or recycled slot: drop it. A provided buffer it carries goes
     * back to its ring, or the ring would be one buffer short for good.
     */
    ROOST_STAT_INC(r, stale_cqes);
    roost__stale_fn stale = roost__op_kind_stale((uint8_t)(cqe->user_data >> 56));
    if (stale)
        stale(r, cqe);
}

/*
 * Op kinds are process-wide: a kind names a layer's kind of op in every reactor. Written
 * once per kind (under the lock), read by every reactor's dispatch of stale completions.
 */
static pthread_mutex_t kinds_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned kinds_next = ROOST_OP_FIRST_REGISTERED;
static _Atomic(roost__stale_fn) kinds_stale[256];

int roost__op_kind_register(const char *name, roost__stale_fn stale)
{
    (void)name; /* kept for whoever debugs user_data by hand */
    pthread_mutex_lock(&kinds_lock);
    int kind = kinds_next < 256 ? (int)kinds_next++ : -ENOSPC;
    if (kind >= 0)
        atomic_store_explicit(&kinds_stale[kind], stale, memory_order_release);
    pthread_mutex_unlock(&kinds_lock);
    return kind;
}

roost__stale_fn roost__op_kind_stale(uint8_t kind)
{
    return atomic_load_explicit(&kinds_stale[kind], memory_order_acquire);
}

static _Atomic(roost__prefetch_fn) kinds_prefetch[256];

void roost__op_kind_set_prefetch(uint8_t kind, roost__prefetch_fn fn)
{
    atomic_store_explicit(&kinds_prefetch[kind], fn, memory_order_release);
}

/* Where a reap finds its completions: the CQ ring's geometry, read once per reap (it does
 * not change; read through r, every handler's call would make the compiler read it again). */
struct cq_view {
    const struct io_uring_cqe *cqes;
    unsigned head, mask, shift;
};

/* The CQE head + i of the view's completion queue. */
static const struct io_uring_cqe *cqe_at(const struct cq_view *v, unsigned i)
{
    return &v->cqes[((v->head + i) & v->mask) << v->shift];
}

/* Step `step` of warming cqe's state (hooks.h, roost__prefetch_fn), for a live op only. */
static void warm(struct roost_reactor *r, const struct io_uring_cqe *cqe, int step)
{
    struct roost_op *op = live_op(r, cqe);
    roost__prefetch_fn fn =
        op ? atomic_load_explicit(&kinds_prefetch[op->kind], memory_order_relaxed) : NULL;
    if (fn)
        fn(op, step);
}

void roost__ring_dispatch_batch(struct roost_reactor *r, unsigned head, unsigned n)
{
    const struct cq_view v = {r->ring.cq.cqes, head, r->ring.cq.ring_mask,
                              io_uring_cqe_shift(&r->ring)};
    for (unsigned i = 0; i < n; i++) {
        if (i + 3 < n)
            __builtin_prefetch(slot_of(r, cqe_at(&v, i + 3)->user_data));
        if (i + 2 < n)
            warm(r, cqe_at(&v, i + 2), 0);
        if (i + 1 < n)
            warm(r, cqe_at(&v, i + 1), 1);
        dispatch(r, cqe_at(&v, i));
    }
}

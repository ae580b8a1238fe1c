/* roost — reactors: one thread, one io_uring, one scheduling context. */
#ifndef ROOST_REACTOR_H
#define ROOST_REACTOR_H

#include <roost/ctx.h>
#include <roost/stats.h>
#include <roost/common.h>

ROOST_BEGIN_DECLS

/* A reactor is long-lived: created and freed by its roost_runtime. */
typedef struct roost_reactor roost_reactor;

/* The reactor whose thread is calling, or NULL (also NULL on pool workers). */
roost_reactor *roost_reactor_current(void);

/*
 * CLOCK_MONOTONIC in nanoseconds without a clock read: on a reactor thread, the time the
 * reactor read once when its tick's io_uring_enter returned (so it is tick-granular: every
 * completion of one batch sees the same value, and work done within the tick does not
 * advance it); on any other thread, a fresh clock read. Never goes backwards on one thread.
 */
uint64_t roost_reactor_now_ns(void);

/* The reactor's scheduling context (valid while the runtime exists). */
roost_ctx *roost_reactor_ctx(roost_reactor *r);

/* The reactor's index in its runtime, 0..n-1. */
unsigned roost_reactor_id(const roost_reactor *r);

/*
 * Copies the reactor's counters into *out. Safe from any thread: counters are written
 * only by the reactor thread, with relaxed atomics, so a snapshot taken elsewhere is
 * per-counter consistent but not a single instant. Returns 0.
 */
int roost_reactor_stats(const roost_reactor *r, struct roost_stats *out);

/*
 * The io_uring setup flags in effect: "single_issuer+defer_taskrun", "coop_taskrun" or
 * "none", after falling back on older kernels.
 */
const char *roost_reactor_ring_mode(const roost_reactor *r);

ROOST_END_DECLS

#endif

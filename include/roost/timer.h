/* roost — one-shot timers on the calling reactor. */
#ifndef ROOST_TIMER_H
#define ROOST_TIMER_H

#include <stdbool.h>
#include <stdint.h>
#include <roost/common.h>

ROOST_BEGIN_DECLS

struct roost_timer;

/*
 * Runs on the timer's reactor thread: status 0 when the deadline passed, -ESHUTDOWN when
 * the reactor stopped with the timer still pending. The timer is no longer pending when
 * the callback runs, so the callback may start it again or free it.
 */
typedef void (*roost_timer_cb)(struct roost_timer *t, int status);

/* A caller-owned timer. Initialise with roost_timer_init; fields are the runtime's. */
struct roost_timer {
    uint64_t deadline_ns; /* CLOCK_MONOTONIC */
    uint32_t heap_index;  /* position in the reactor's heap; UINT32_MAX when idle */
    struct roost_reactor *reactor;
    roost_timer_cb cb;
    void *arg;
};

/* Makes t idle. */
void roost_timer_init(struct roost_timer *t);

/*
 * Arms t on the calling thread's reactor to fire once, no earlier than timeout_ms from
 * now. Restarts it if already pending. Returns 0, -EPERM when not called on a reactor
 * thread, or -ENOMEM.
 */
int roost_timer_start(struct roost_timer *t, uint64_t timeout_ms, roost_timer_cb cb, void *arg);

/* As roost_timer_start with a nanosecond timeout. */
int roost_timer_start_ns(struct roost_timer *t, uint64_t timeout_ns, roost_timer_cb cb, void *arg);

/*
 * Disarms t; call it on t's reactor thread. Once it returns, the callback will not run.
 * Returns true if t was pending.
 */
bool roost_timer_cancel(struct roost_timer *t);

/* True while t is armed. */
bool roost_timer_pending(const struct roost_timer *t);

ROOST_END_DECLS

#endif

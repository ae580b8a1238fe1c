/*
 * The waiter: a one-shot await any thread may complete.
 *
 * state = phase (IDLE, ARMING, SUSPENDED) | CLAIMED | DONE.
 * - A completer claims (CAS, no CLAIMED yet), writes the result, then sets DONE. If the
 *   phase it replaced with DONE was SUSPENDED, the task is off its stack and the completer
 *   resumes it; otherwise the waiting side will see DONE and carry on by itself.
 * - roost_wait moves IDLE -> ARMING and switches out; the scheduler, once the task is off
 *   its stack, moves ARMING -> SUSPENDED unless DONE is already set, in which case it
 *   resumes the task itself.
 * The DONE fetch_or and the SUSPENDED CAS are read-modify-writes of one variable, so
 * exactly one side sees the other and resumes the task exactly once.
 *
 * An await that resumes where it is completed (ROOST_WAIT_ANYWHERE, or no home context)
 * must be resumed by the completer, on its thread: a completer that claims it while it is
 * still ARMING waits (briefly: the task is only finishing its switch) for SUSPENDED before
 * setting DONE, so the suspending side never resumes it in the wrong place.
 */
#include <errno.h>
#include <sched.h>

#include "core/reactor.h"
#include "core/thread.h"
#include "task/task.h"

enum {
    PHASE_IDLE = 0,
    PHASE_ARMING = 1,
    PHASE_SUSPENDED = 2,
    PHASE_MASK = 3,
    CLAIMED = 1u << 2,
    DONE = 1u << 3,
};

void roost_waiter_init(struct roost_waiter *w)
{
    atomic_init(roost__waiter_state(w), PHASE_IDLE);
    w->result = 0;
    w->flags = 0;
    atomic_init(roost__waiter_cancel_requested(w), false);
    w->task = NULL;
    w->home = NULL;
    w->cancel = NULL;
    w->source = NULL;
}

bool roost__waiter_suspended(struct roost_waiter *w)
{
    unsigned s = atomic_load_explicit(roost__waiter_state(w), memory_order_acquire);
    return (s & PHASE_MASK) == PHASE_SUSPENDED;
}

void roost_waiter_set_cancel(struct roost_waiter *w, roost_waiter_cancel_fn fn, void *source)
{
    w->cancel = fn;
    w->source = source;
}

static bool resumes_where_completed(const struct roost_waiter *w)
{
    return (w->flags & ROOST_WAIT_ANYWHERE) || !w->home;
}

/* Where a completed waiter's task goes: home, or the completer's place for opt-outs. */
static void resume_waiter(struct roost_waiter *w, bool local)
{
    /* Read everything first: once the task is posted it may run and end w's life. */
    struct roost_task *t = w->task;
    roost_ctx *target = resumes_where_completed(w) ? NULL : w->home;
    roost__task_resume(t, target, local);
}

static bool complete(struct roost_waiter *w, int result, bool local)
{
    unsigned s = atomic_load_explicit(roost__waiter_state(w), memory_order_acquire);
    do {
        if (s & CLAIMED)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(roost__waiter_state(w), &s, s | CLAIMED,
                                                    memory_order_acquire, memory_order_acquire));
    w->result = result;
    /* The claim saw ARMING or SUSPENDED: flags and home are written and visible. */
    if ((s & PHASE_MASK) != PHASE_IDLE && resumes_where_completed(w)) {
        while ((atomic_load_explicit(roost__waiter_state(w), memory_order_acquire) & PHASE_MASK) ==
               PHASE_ARMING)
            sched_yield();
    }
    unsigned old = atomic_fetch_or_explicit(roost__waiter_state(w), DONE, memory_order_acq_rel);
    if ((old & PHASE_MASK) == PHASE_SUSPENDED)
        resume_waiter(w, local);
    return true;
}

bool roost_complete(struct roost_waiter *w, int result)
{
    return complete(w, result, false);
}

bool roost__complete_local(struct roost_waiter *w, int result)
{
    return complete(w, result, true);
}

/* After-switch action of roost_wait: publish the suspension, or resume if already done. */
static void publish_suspension(struct roost_task *t)
{
    struct roost_waiter *w = t->waiting;
    unsigned s = atomic_load_explicit(roost__waiter_state(w), memory_order_acquire);
    for (;;) {
        if (s & DONE) {
            /* Completed while we were switching out: nobody else will resume us. */
            resume_waiter(w, false);
            return;
        }
        unsigned next = (s & ~PHASE_MASK) | PHASE_SUSPENDED;
        if (atomic_compare_exchange_weak_explicit(roost__waiter_state(w), &s, next,
                                                  memory_order_acq_rel, memory_order_acquire))
            return;
    }
}

static int wait_armed(struct roost_task *t, struct roost_waiter *w, unsigned flags)
{
    w->task = t;
    w->home = roost__thread_ctx();
    w->flags = flags;
    unsigned s = atomic_load_explicit(roost__waiter_state(w), memory_order_acquire);
    do {
        if (s & DONE)
            return w->result; /* completed before we got here */
    } while (!atomic_compare_exchange_weak_explicit(roost__waiter_state(w), &s,
                                                    (s & ~PHASE_MASK) | PHASE_ARMING,
                                                    memory_order_acq_rel, memory_order_acquire));
    t->waiting = w;
    roost__task_suspend(publish_suspension);
    t->waiting = NULL;
    /* Pairs with the completer's DONE: the result is visible. */
    atomic_load_explicit(roost__waiter_state(w), memory_order_acquire);
    if (atomic_load(roost__waiter_cancel_requested(w)))
        return -ECANCELED;
    return w->result;
}

int roost_wait_flags(struct roost_waiter *w, unsigned flags)
{
    struct roost_task *t = roost_task_current();
    if (!t)
        return -EPERM;
    /*
     * A cancel that arrived while the task was not awaiting. w's operation may already be
     * running and may use memory of this frame (an offload's job, a sleep's timer, a ring
     * op's buffer): returning now would free that memory under it. So the cancel goes to
     * w's source like any other: an abandonable one resumes us at once, any other when it
     * completes; either way the result is -ECANCELED.
     */
    /* A load first: the exchange is a locked write of the task's line on every await. */
    if (atomic_load(&t->cancel_pending) && atomic_exchange(&t->cancel_pending, false)) {
        atomic_store(roost__waiter_cancel_requested(w), true);
        if (w->cancel && w->cancel(w))
            roost_complete(w, -ECANCELED);
    }
    int rc = wait_armed(t, w, flags);
    /* Also when the completion came before the task suspended: quiet cancel. */
    return atomic_load(roost__waiter_cancel_requested(w)) ? -ECANCELED : rc;
}

int roost_wait(struct roost_waiter *w)
{
    return roost_wait_flags(w, 0);
}

/* ---- sleep: a waiter completed by a timer on the task's reactor --------------------------- */

/*
 * A task on its reactor's thread arms the timer directly and is resumed inline when it
 * fires. A task running elsewhere (a pool worker with run-on=pool, or a task that followed
 * an opt-out await there) has its timer armed on its own reactor through that reactor's
 * inbox; the timer's completion then posts the resume to wherever the task waits.
 *
 * Off-reactor cancellation cannot touch the timer (it belongs to the reactor thread), so a
 * cancel is posted there too. The sleep's frame must outlive every item it posted: `state`
 * decides who completes the waiter, the fired timer or the posted cancel, never both, and
 * the cancel, once posted, is always the one that completes it (after it ran).
 */
enum { SLEEP_ARMED, SLEEP_DONE, SLEEP_CANCEL_POSTED };

struct sleep_wait {
    struct roost_waiter w;
    struct roost_timer timer;
    uint64_t ms;
    struct roost_reactor *r; /* the reactor the timer lives on */
    bool remote;             /* the task does not run on r's thread */
    _Atomic unsigned state;  /* remote only */
    struct roost_work start, cancel;
};

static void sleep_fired(struct roost_timer *timer, int status)
{
    struct sleep_wait *sw = timer->arg;
    if (!sw->remote) {
        roost__complete_local(&sw->w, status);
        return;
    }
    unsigned expect = SLEEP_ARMED;
    if (atomic_compare_exchange_strong(&sw->state, &expect, SLEEP_DONE))
        roost_complete(&sw->w, status);
    /* else a cancel is on its way to this reactor and completes the waiter */
}

static int sleep_remote_start(void *arg)
{
    struct sleep_wait *sw = arg;
    int rc = roost_timer_start(&sw->timer, sw->ms, sleep_fired, sw);
    if (rc < 0) {
        unsigned expect = SLEEP_ARMED;
        if (atomic_compare_exchange_strong(&sw->state, &expect, SLEEP_DONE))
            roost_complete(&sw->w, rc);
    }
    return 0;
}

static int sleep_remote_cancel(void *arg)
{
    struct sleep_wait *sw = arg;
    roost_timer_cancel(&sw->timer);
    roost_complete(&sw->w, -ECANCELED);
    return 0;
}

static bool sleep_cancel(struct roost_waiter *w)
{
    struct sleep_wait *sw = w->source;
    if (!sw->remote)
        return roost_timer_cancel(&sw->timer);
    unsigned expect = SLEEP_ARMED;
    if (!atomic_compare_exchange_strong(&sw->state, &expect, SLEEP_CANCEL_POSTED))
        return false; /* fired: its completion is on the way */
    sw->cancel.fn = sleep_remote_cancel;
    sw->cancel.arg = sw;
    if (roost_ctx_post_work(&sw->r->ctx, &sw->cancel) < 0)
        return true; /* the reactor stopped: its timers are gone with it */
    return false;
}

int roost_sleep(uint64_t ms)
{
    struct roost_task *t = roost_task_current();
    if (!t)
        return -EPERM;
    struct sleep_wait sw = {.ms = ms, .r = roost__thread_reactor()};
    roost_waiter_init(&sw.w);
    roost_waiter_set_cancel(&sw.w, sleep_cancel, &sw);
    roost_timer_init(&sw.timer);
    atomic_init(&sw.state, SLEEP_ARMED);
    if (sw.r) {
        int rc = roost_timer_start(&sw.timer, ms, sleep_fired, &sw);
        if (rc < 0)
            return rc;
        return roost_wait(&sw.w);
    }
    sw.r = t->reactor;
    if (!sw.r)
        return -EPERM; /* a task that never met a reactor has no timer to sleep on */
    sw.remote = true;
    sw.start.fn = sleep_remote_start;
    sw.start.arg = &sw;
    int rc = roost_ctx_post_work(&sw.r->ctx, &sw.start);
    if (rc < 0)
        return rc;
    return roost_wait(&sw.w);
}

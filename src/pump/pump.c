/*
 * Performers: one single-threaded pump each — receive a batch, hand each message to the
 * handler, ack or nack it — until stopped; then finish the batch in hand, ack it, close
 * the channel and exit. Proactor performers are tasks spread over the reactors; Reactor
 * performers own a thread each, made an exclusive context by roost_run, so a handler that
 * blocks stops only its own performer, and its awaits resume on its own thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <roost/run.h>
#include <roost/task.h>

#include "pump/pump.h"

/* After a broker error, wait this long before receiving again (the link reconnects). */
#define PUMP_ERROR_BACKOFF_MS 50

struct performer {
    struct roost_pump *p;
    unsigned i;
    roost_channel *ch;
    struct roost_pump_msg *msgs;
    pthread_t thread;
    bool thread_started;
    _Atomic uint64_t received, acked, nacked, dead, errors;
};

struct roost_pump {
    struct roost_pump_opts o;
    _Atomic bool stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned alive;
    struct performer *perf;
};

static void count(_Atomic uint64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* Token bucket of one: messages start no closer than 1/rate apart. */
static void pace(const struct roost_pump *p, uint64_t *next_ns)
{
    if (p->o.rate <= 0)
        return;
    uint64_t now = pump_now_ns();
    if (*next_ns > now)
        pump_sleep_ms((unsigned)((*next_ns - now + 999999) / 1000000));
    uint64_t gap = (uint64_t)(1e9 / p->o.rate);
    *next_ns = (*next_ns > now ? *next_ns : now) + gap;
}

static void dispatch(struct performer *f, struct roost_pump_msg *m)
{
    const struct roost_pump_opts *o = &f->p->o;
    int rc = o->handler(m, o->handler_arg);
    if (rc >= 0) {
        count(roost_channel_ack(f->ch, m) < 0 ? &f->errors : &f->acked);
        return;
    }
    rc = roost_channel_nack(f->ch, m, o->nack_delay_ms);
    count(rc < 0 ? &f->errors : rc == 1 ? &f->dead : &f->nacked);
}

static int performer_body(void *arg)
{
    struct performer *f = arg;
    struct roost_pump *p = f->p;
    struct roost_pump_batch b = {.msgs = f->msgs, .cap = p->o.in_flight};
    uint64_t next_ns = 0;
    while (!atomic_load_explicit(&p->stop, memory_order_acquire)) {
        int n = roost_channel_receive(f->ch, &b, p->o.poll_ms);
        if (n < 0) {
            count(&f->errors);
            if (n == -ESHUTDOWN || n == -ECANCELED || n == -EPERM)
                break;
            pump_sleep_ms(PUMP_ERROR_BACKOFF_MS);
            continue;
        }
        atomic_fetch_add_explicit(&f->received, (uint64_t)n, memory_order_relaxed);
        /* A stop that comes now still lets the batch in hand finish and be acked. */
        for (int j = 0; j < n; j++) {
            pace(p, &next_ns);
            dispatch(f, &b.msgs[j]);
        }
        roost_channel_release(f->ch, &b);
    }
    if (p->o.channel_done)
        p->o.channel_done(f->i, f->ch, p->o.channel_arg);
    else
        roost_channel_close(f->ch);
    f->ch = NULL;
    pthread_mutex_lock(&p->mu);
    p->alive--;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

static void *reactor_thread(void *arg)
{
    roost_run(performer_body, arg);
    return NULL;
}

static int start_one(roost_runtime *rt, struct roost_pump *p, struct performer *f)
{
    if (p->o.type == ROOST_PUMP_REACTOR) {
        int rc = pthread_create(&f->thread, NULL, reactor_thread, f);
        f->thread_started = rc == 0;
        return -rc;
    }
    unsigned n = roost_runtime_reactor_count(rt);
    roost_task *t;
    int rc = roost_spawn_on(roost_reactor_ctx(roost_runtime_reactor(rt, f->i % n)), performer_body,
                            f, &t);
    if (rc == 0)
        roost_detach(t);
    return rc;
}

int roost_pump_start(roost_runtime *rt, const struct roost_pump_opts *o, roost_pump **out)
{
    if (!o->handler || !o->channel)
        return -EINVAL;
    struct roost_pump *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->o = *o;
    if (!p->o.performers)
        p->o.performers = 1;
    if (!p->o.in_flight)
        p->o.in_flight = 16;
    if (!p->o.poll_ms)
        p->o.poll_ms = 500;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->perf = calloc(p->o.performers, sizeof(*p->perf));
    int rc = p->perf ? 0 : -ENOMEM;
    for (unsigned i = 0; rc == 0 && i < p->o.performers; i++) {
        struct performer *f = &p->perf[i];
        f->p = p;
        f->i = i;
        f->msgs = calloc(p->o.in_flight, sizeof(*f->msgs));
        rc = f->msgs ? o->channel(i, o->channel_arg, &f->ch) : -ENOMEM;
    }
    for (unsigned i = 0; rc == 0 && i < p->o.performers; i++) {
        pthread_mutex_lock(&p->mu);
        p->alive++;
        pthread_mutex_unlock(&p->mu);
        rc = start_one(rt, p, &p->perf[i]);
        if (rc < 0) {
            pthread_mutex_lock(&p->mu);
            p->alive--;
            pthread_mutex_unlock(&p->mu);
        }
    }
    if (rc < 0) {
        /* Those started stop; those not started still hold their channels. */
        roost_pump_stop(p);
        roost_pump_wait(p);
        for (unsigned i = 0; p->perf && i < p->o.performers; i++)
            if (p->perf[i].ch && !p->o.channel_done)
                roost_channel_close(p->perf[i].ch);
        roost_pump_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void roost_pump_stop(roost_pump *p)
{
    atomic_store_explicit(&p->stop, true, memory_order_release);
}

int roost_pump_wait(roost_pump *p)
{
    if (roost_reactor_current())
        return -EDEADLK;
    pthread_mutex_lock(&p->mu);
    while (p->alive > 0)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; p->perf && i < p->o.performers; i++) {
        if (p->perf[i].thread_started) {
            pthread_join(p->perf[i].thread, NULL);
            p->perf[i].thread_started = false;
        }
    }
    return 0;
}

void roost_pump_stats(const roost_pump *p, struct roost_pump_stats *out)
{
    *out = (struct roost_pump_stats){0};
    for (unsigned i = 0; i < p->o.performers; i++) {
        struct performer *f = &p->perf[i];
        out->received += atomic_load_explicit(&f->received, memory_order_relaxed);
        out->acked += atomic_load_explicit(&f->acked, memory_order_relaxed);
        out->nacked += atomic_load_explicit(&f->nacked, memory_order_relaxed);
        out->dead += atomic_load_explicit(&f->dead, memory_order_relaxed);
        out->errors += atomic_load_explicit(&f->errors, memory_order_relaxed);
    }
}

void roost_pump_free(roost_pump *p)
{
    if (!p)
        return;
    for (unsigned i = 0; p->perf && i < p->o.performers; i++)
        free(p->perf[i].msgs);
    free(p->perf);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

/*
 * The in-memory bounded channel: capacity slots under one mutex, shared by producers and
 * performers on any threads. A slot holds its message from send until ack (or dead
 * letter), so the bound covers what is in flight too. Receive hands out ready slots in
 * send order (by sequence number; a nacked one keeps its place and waits out its delay).
 * An empty channel is polled every millisecond until the receive's timeout (the waiting
 * task sleeps, so on a reactor the other tasks run).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pump/pump.h"

enum slot_state { SLOT_FREE, SLOT_READY, SLOT_TAKEN };

struct slot {
    enum slot_state state;
    uint64_t seq;
    uint64_t ready_ns;
    unsigned deliveries;
    char id[24];
    char *key;
    char *body;
    size_t len;
};

struct mem_channel {
    struct roost_channel base;
    pthread_mutex_t mu;
    struct slot *slots;
    unsigned capacity, used, max_deliveries;
    uint64_t next_seq;
    _Atomic unsigned dead;
};

static void slot_free(struct mem_channel *m, struct slot *s)
{
    free(s->key);
    free(s->body);
    s->key = s->body = NULL;
    s->state = SLOT_FREE;
    m->used--;
}

int roost_mem_channel_send(roost_channel *ch, const char *key, const void *body, size_t len)
{
    struct mem_channel *m = (struct mem_channel *)ch;
    char *k = key ? strdup(key) : NULL;
    char *b = malloc(len + 1);
    if (!b || (key && !k)) {
        free(k);
        free(b);
        return -ENOMEM;
    }
    memcpy(b, body, len);
    b[len] = '\0';
    pthread_mutex_lock(&m->mu);
    struct slot *s = NULL;
    for (unsigned i = 0; m->used < m->capacity && i < m->capacity && !s; i++)
        if (m->slots[i].state == SLOT_FREE)
            s = &m->slots[i];
    if (!s) {
        pthread_mutex_unlock(&m->mu);
        free(k);
        free(b);
        return -EAGAIN;
    }
    *s = (struct slot){.state = SLOT_READY, .seq = m->next_seq++, .key = k, .body = b, .len = len};
    snprintf(s->id, sizeof(s->id), "%llu", (unsigned long long)s->seq);
    m->used++;
    pthread_mutex_unlock(&m->mu);
    return 0;
}

/* Takes up to b->cap ready slots, oldest first. Under the lock. */
static unsigned take_ready(struct mem_channel *m, struct roost_pump_batch *b, uint64_t now)
{
    while (b->count < b->cap) {
        struct slot *best = NULL;
        for (unsigned i = 0; i < m->capacity; i++) {
            struct slot *s = &m->slots[i];
            if (s->state == SLOT_READY && s->ready_ns <= now && (!best || s->seq < best->seq))
                best = s;
        }
        if (!best)
            break;
        best->state = SLOT_TAKEN;
        best->deliveries++;
        b->msgs[b->count++] = (struct roost_pump_msg){
            .id = best->id,
            .body = best->body,
            .body_len = best->len,
            .key = best->key,
            .key_len = best->key ? strlen(best->key) : 0,
            .deliveries = best->deliveries,
            ._ch = (uintptr_t)(best - m->slots),
        };
    }
    return b->count;
}

static int mem_receive(roost_channel *ch, struct roost_pump_batch *b, unsigned timeout_ms)
{
    struct mem_channel *m = (struct mem_channel *)ch;
    uint64_t end = pump_now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        uint64_t now = pump_now_ns();
        pthread_mutex_lock(&m->mu);
        unsigned n = take_ready(m, b, now);
        pthread_mutex_unlock(&m->mu);
        if (n > 0 || now >= end)
            return (int)n;
        pump_sleep_ms(1);
    }
}

static int mem_ack(roost_channel *ch, struct roost_pump_msg *msg)
{
    struct mem_channel *m = (struct mem_channel *)ch;
    pthread_mutex_lock(&m->mu);
    slot_free(m, &m->slots[msg->_ch]);
    pthread_mutex_unlock(&m->mu);
    return 0;
}

static int mem_nack(roost_channel *ch, struct roost_pump_msg *msg, unsigned delay_ms)
{
    struct mem_channel *m = (struct mem_channel *)ch;
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    struct slot *s = &m->slots[msg->_ch];
    if (s->deliveries >= m->max_deliveries) {
        slot_free(m, s);
        atomic_fetch_add(&m->dead, 1);
        rc = 1;
    } else {
        s->state = SLOT_READY;
        s->ready_ns = pump_now_ns() + (uint64_t)delay_ms * 1000000u;
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static void mem_release(roost_channel *ch, struct roost_pump_batch *b)
{
    (void)ch;
    (void)b;
}

static void mem_close(roost_channel *ch)
{
    struct mem_channel *m = (struct mem_channel *)ch;
    for (unsigned i = 0; i < m->capacity; i++)
        if (m->slots[i].state != SLOT_FREE)
            slot_free(m, &m->slots[i]);
    pthread_mutex_destroy(&m->mu);
    free(m->slots);
    free(m);
}

static const struct channel_ops mem_ops = {
    .receive = mem_receive,
    .ack = mem_ack,
    .nack = mem_nack,
    .release = mem_release,
    .close = mem_close,
};

int roost_mem_channel_open(const struct roost_mem_channel_opts *o, roost_channel **out)
{
    struct mem_channel *m = calloc(1, sizeof(*m));
    unsigned cap = o && o->capacity ? o->capacity : 1024;
    if (!m || !(m->slots = calloc(cap, sizeof(*m->slots)))) {
        free(m);
        return -ENOMEM;
    }
    m->base.ops = &mem_ops;
    m->capacity = cap;
    m->max_deliveries = o && o->max_deliveries ? o->max_deliveries : 5;
    pthread_mutex_init(&m->mu, NULL);
    *out = &m->base;
    return 0;
}

unsigned roost_mem_channel_dead(roost_channel *ch)
{
    return atomic_load(&((struct mem_channel *)ch)->dead);
}

/*
 * The Redis Streams channel: one consumer of a consumer group.
 *
 * Receive looks in three places, in this order, so that nothing pending is starved by new
 * entries: (1) this consumer's own nacked entries whose delay has passed (XCLAIM back to
 * itself, which counts a delivery), (2) now and then, entries any consumer has left
 * pending for claim_idle_ms — a killed consumer's (XAUTOCLAIM; their delivery counts come
 * from XPENDING), and (3) new entries (XREADGROUP ... BLOCK on a dedicated link: a
 * blocking read would stall every command pipelined behind it on a shared connection).
 * A nacked entry stays in the group's pending list, so a consumer that dies before
 * claiming it back loses nothing: someone else claims it after the idle time.
 * Messages are XADD fields k (partition key, optional) and b (body).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pump/pump.h"

#define RETRY_MAX 64
#define ID_MAX 48

struct retry {
    char id[ID_MAX];
    unsigned deliveries;
    uint64_t ready_ns;
};

struct stream_channel {
    struct roost_channel base;
    roost_redis *c;
    roost_redis_link *link; /* opened on the first receive, on the receiver's reactor */
    char *stream, *group, *consumer, *dead;
    unsigned claim_idle_ms, max_deliveries;
    bool group_ready;
    char cursor[ID_MAX]; /* XAUTOCLAIM's scan position */
    uint64_t next_claim_ns;
    struct retry retry[RETRY_MAX];
    unsigned nretry;
};

static bool is_str(const redisReply *r)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

/* Fills m from a stream entry [id, [field, value, ...]]; false for a deleted entry. */
static bool parse_entry(const redisReply *e, struct roost_pump_msg *m)
{
    if (!e || e->type != REDIS_REPLY_ARRAY || e->elements != 2 || !is_str(e->element[0]))
        return false;
    const redisReply *f = e->element[1];
    if (!f || f->type != REDIS_REPLY_ARRAY)
        return false;
    *m = (struct roost_pump_msg){.id = e->element[0]->str, .body = "", .deliveries = 1};
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (!is_str(k) || !is_str(v) || k->len != 1)
            continue;
        if (k->str[0] == 'b') {
            m->body = v->str;
            m->body_len = v->len;
        } else if (k->str[0] == 'k') {
            m->key = v->str;
            m->key_len = v->len;
        }
    }
    return true;
}

/* Appends the entries of an array reply to b (up to its cap). */
static void take_entries(struct roost_pump_batch *b, const redisReply *entries)
{
    if (!entries || entries->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i < entries->elements && b->count < b->cap; i++)
        if (parse_entry(entries->element[i], &b->msgs[b->count]))
            b->count++;
}

static int ensure_group(struct stream_channel *s)
{
    if (s->group_ready)
        return 0;
    redisReply *rep = NULL;
    int rc =
        roost_redis_cmd(s->c, &rep, "XGROUP", "CREATE", s->stream, s->group, "0", "MKSTREAM", NULL);
    if (rc == -EREMOTEIO && rep && !strncmp(rep->str, "BUSYGROUP", 9))
        rc = 0; /* another consumer made it first */
    roost_redis_reply_free(rep);
    if (rc == 0)
        s->group_ready = true;
    return rc;
}

/* (1) This consumer's nacked entries whose delay has passed. */
static int claim_retries(struct stream_channel *s, struct roost_pump_batch *b)
{
    uint64_t now = pump_now_ns();
    struct retry due[RETRY_MAX];
    const char *argv[5 + RETRY_MAX] = {"XCLAIM", s->stream, s->group, s->consumer, "0"};
    unsigned n = 0, keep = 0;
    /* Due ids leave the list now: if the claim fails they stay pending, and the idle-time
     * claim brings them back. */
    for (unsigned i = 0; i < s->nretry; i++) {
        if (s->retry[i].ready_ns <= now && n < b->cap)
            due[n++] = s->retry[i];
        else
            s->retry[keep++] = s->retry[i];
    }
    s->nretry = keep;
    if (n == 0)
        return 0;
    for (unsigned i = 0; i < n; i++)
        argv[5 + i] = due[i].id;
    redisReply *rep = NULL;
    int rc = roost_redis_command(s->c, &rep, 5 + (int)n, argv, NULL);
    if (rc < 0) {
        roost_redis_reply_free(rep);
        return rc;
    }
    take_entries(b, rep);
    for (unsigned i = 0; i < b->count; i++)
        for (unsigned j = 0; j < n; j++)
            if (!strcmp(b->msgs[i].id, due[j].id))
                b->msgs[i].deliveries = due[j].deliveries + 1;
    b->_ch = rep;
    return (int)b->count;
}

static int dead_letter(struct stream_channel *s, struct roost_pump_msg *m)
{
    char n[16];
    snprintf(n, sizeof(n), "%u", m->deliveries);
    const char *argv[] = {"XADD",       s->dead, "*", "id",    m->id, "stream", s->stream,
                          "deliveries", n,       "b", m->body, "k",   m->key};
    size_t len[] = {
        4, strlen(s->dead), 1, 2,         strlen(m->id), 6, strlen(s->stream), 10, strlen(n),
        1, m->body_len,     1, m->key_len};
    int rc = roost_redis_command(s->c, NULL, m->key ? 13 : 11, argv, len);
    if (rc < 0)
        return rc;
    rc = roost_redis_cmd(s->c, NULL, "XACK", s->stream, s->group, m->id, NULL);
    return rc < 0 ? rc : 1;
}

/* Delivery counts of claimed entries, from the pending list. */
static int pending_counts(struct stream_channel *s, struct roost_pump_batch *b)
{
    char count[16];
    snprintf(count, sizeof(count), "%u", b->count);
    redisReply *rep = NULL;
    int rc = roost_redis_cmd(s->c, &rep, "XPENDING", s->stream, s->group, b->msgs[0].id,
                             b->msgs[b->count - 1].id, count, s->consumer, NULL);
    if (rc < 0) {
        roost_redis_reply_free(rep);
        return rc;
    }
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
        const redisReply *e = rep->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 4 || !is_str(e->element[0]))
            continue;
        for (unsigned j = 0; j < b->count; j++)
            if (!strcmp(b->msgs[j].id, e->element[0]->str))
                b->msgs[j].deliveries = (unsigned)e->element[3]->integer;
    }
    roost_redis_reply_free(rep);
    return 0;
}

/* (2) Entries left pending for claim_idle_ms by any consumer. */
static int claim_idle(struct stream_channel *s, struct roost_pump_batch *b)
{
    uint64_t now = pump_now_ns();
    if (now < s->next_claim_ns)
        return 0;
    char idle[16], count[16];
    snprintf(idle, sizeof(idle), "%u", s->claim_idle_ms);
    snprintf(count, sizeof(count), "%u", b->cap);
    redisReply *rep = NULL;
    int rc = roost_redis_cmd(s->c, &rep, "XAUTOCLAIM", s->stream, s->group, s->consumer, idle,
                             s->cursor, "COUNT", count, NULL);
    if (rc < 0) {
        roost_redis_reply_free(rep);
        return rc;
    }
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 2 || !is_str(rep->element[0])) {
        roost_redis_reply_free(rep);
        return -EPROTO;
    }
    snprintf(s->cursor, sizeof(s->cursor), "%s", rep->element[0]->str);
    /* A full scan ends at 0-0: look again after a fraction of the idle time. */
    if (!strcmp(s->cursor, "0-0"))
        s->next_claim_ns = now + (uint64_t)s->claim_idle_ms * 1000000u / 4;
    take_entries(b, rep->element[1]);
    b->_ch = rep;
    if (b->count == 0)
        return 0;
    rc = pending_counts(s, b);
    if (rc < 0)
        return rc; /* they stay pending, claimed by this consumer: claimed again later */
    /* Entries that already went round max_deliveries times go to the dead letters. */
    unsigned keep = 0;
    for (unsigned i = 0; i < b->count; i++) {
        if (b->msgs[i].deliveries > s->max_deliveries) {
            (void)dead_letter(s, &b->msgs[i]); /* on failure still pending: claimed again */
            continue;
        }
        b->msgs[keep++] = b->msgs[i];
    }
    b->count = keep;
    return (int)keep;
}

/* (3) New entries. */
static int read_new(struct stream_channel *s, struct roost_pump_batch *b, unsigned timeout_ms)
{
    if (!s->link) {
        int rc = roost_redis_link_open(s->c, NULL, &s->link);
        if (rc < 0)
            return rc;
    }
    char count[16], block[16];
    snprintf(count, sizeof(count), "%u", b->cap);
    snprintf(block, sizeof(block), "%u", timeout_ms);
    const char *argv[] = {"XREADGROUP", "GROUP", s->group,  s->consumer, "COUNT", count,
                          "BLOCK",      block,   "STREAMS", s->stream,   ">"};
    /* BLOCK 0 would wait forever: no timeout means do not block at all. */
    const char *noblock[] = {"XREADGROUP", "GROUP",   s->group,  s->consumer, "COUNT",
                             count,        "STREAMS", s->stream, ">"};
    redisReply *rep = NULL;
    int rc = timeout_ms ? roost_redis_link_command(s->link, &rep, 11, argv, NULL)
                        : roost_redis_link_command(s->link, &rep, 9, noblock, NULL);
    if (rc < 0) {
        if (rc == -EREMOTEIO && rep && !strncmp(rep->str, "NOGROUP", 7))
            s->group_ready = false; /* the stream was deleted (or the server restarted empty) */
        roost_redis_reply_free(rep);
        return rc;
    }
    /* [[stream, [entries]]] or nil when the block timed out. */
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 &&
        rep->element[0]->type == REDIS_REPLY_ARRAY && rep->element[0]->elements == 2)
        take_entries(b, rep->element[0]->element[1]);
    b->_ch = rep;
    return (int)b->count;
}

static int stream_receive(roost_channel *ch, struct roost_pump_batch *b, unsigned timeout_ms)
{
    struct stream_channel *s = (struct stream_channel *)ch;
    int rc = ensure_group(s);
    if (rc < 0)
        return rc;
    rc = claim_retries(s, b);
    if (rc != 0)
        return rc;
    rc = claim_idle(s, b);
    if (rc != 0)
        return rc;
    roost_redis_reply_free(b->_ch); /* an empty claim's reply */
    b->_ch = NULL;
    /* With nacks waiting, wake up in time for the first of them. */
    uint64_t now = pump_now_ns();
    for (unsigned i = 0; i < s->nretry; i++) {
        uint64_t wait = s->retry[i].ready_ns > now ? (s->retry[i].ready_ns - now) / 1000000u : 0;
        if (wait + 1 < timeout_ms)
            timeout_ms = (unsigned)wait + 1;
    }
    return read_new(s, b, timeout_ms);
}

static int stream_ack(roost_channel *ch, struct roost_pump_msg *m)
{
    struct stream_channel *s = (struct stream_channel *)ch;
    return roost_redis_cmd(s->c, NULL, "XACK", s->stream, s->group, m->id, NULL);
}

static int stream_nack(roost_channel *ch, struct roost_pump_msg *m, unsigned delay_ms)
{
    struct stream_channel *s = (struct stream_channel *)ch;
    if (m->deliveries >= s->max_deliveries)
        return dead_letter(s, m);
    /* A full list, or an id too long to keep: left pending, claimed after the idle time. */
    if (s->nretry == RETRY_MAX || strlen(m->id) >= ID_MAX)
        return 0;
    struct retry *r = &s->retry[s->nretry++];
    snprintf(r->id, sizeof(r->id), "%s", m->id);
    r->deliveries = m->deliveries;
    r->ready_ns = pump_now_ns() + (uint64_t)delay_ms * 1000000u;
    return 0;
}

static void stream_release(roost_channel *ch, struct roost_pump_batch *b)
{
    (void)ch;
    roost_redis_reply_free(b->_ch);
}

static void stream_close(roost_channel *ch)
{
    struct stream_channel *s = (struct stream_channel *)ch;
    if (s->link)
        roost_redis_link_close(s->link);
    free(s->stream);
    free(s);
}

static const struct channel_ops stream_ops = {
    .receive = stream_receive,
    .ack = stream_ack,
    .nack = stream_nack,
    .release = stream_release,
    .close = stream_close,
};

int roost_redis_channel_open(roost_redis *c, const struct roost_redis_channel_opts *o,
                             roost_channel **out)
{
    if (!o->stream || !o->group || !o->consumer)
        return -EINVAL;
    char dead[256];
    if (!o->dead_letter)
        snprintf(dead, sizeof(dead), "%s:dead", o->stream);
    const char *dl = o->dead_letter ? o->dead_letter : dead;
    size_t n1 = strlen(o->stream) + 1, n2 = strlen(o->group) + 1, n3 = strlen(o->consumer) + 1,
           n4 = strlen(dl) + 1;
    struct stream_channel *s = calloc(1, sizeof(*s));
    char *p = malloc(n1 + n2 + n3 + n4);
    if (!s || !p) {
        free(s);
        free(p);
        return -ENOMEM;
    }
    s->base.ops = &stream_ops;
    s->c = c;
    s->stream = memcpy(p, o->stream, n1);
    s->group = memcpy(p + n1, o->group, n2);
    s->consumer = memcpy(p + n1 + n2, o->consumer, n3);
    s->dead = memcpy(p + n1 + n2 + n3, dl, n4);
    s->claim_idle_ms = o->claim_idle_ms ? o->claim_idle_ms : 30000;
    s->max_deliveries = o->max_deliveries ? o->max_deliveries : 5;
    snprintf(s->cursor, sizeof(s->cursor), "0-0");
    *out = &s->base;
    return 0;
}

int roost_redis_publish(roost_redis *c, const char *stream, unsigned partitions, const char *key,
                        const void *body, size_t len, unsigned maxlen, char *id, size_t idlen)
{
    char name[256], max[16];
    roost_pump_partition(name, sizeof(name), stream, partitions, key);
    snprintf(max, sizeof(max), "%u", maxlen);
    const char *argv[10] = {"XADD", name};
    size_t lens[10] = {4, strlen(name)};
    int argc = 2;
    if (maxlen > 0) {
        argv[argc] = "MAXLEN", lens[argc++] = 6;
        argv[argc] = "~", lens[argc++] = 1;
        argv[argc] = max, lens[argc++] = strlen(max);
    }
    argv[argc] = "*", lens[argc++] = 1;
    if (key) {
        argv[argc] = "k", lens[argc++] = 1;
        argv[argc] = key, lens[argc++] = strlen(key);
    }
    argv[argc] = "b", lens[argc++] = 1;
    argv[argc] = body, lens[argc++] = len;
    redisReply *rep = NULL;
    int rc = roost_redis_command(c, &rep, argc, argv, lens);
    if (rc == 0 && id && idlen)
        snprintf(id, idlen, "%s", is_str(rep) ? rep->str : "");
    roost_redis_reply_free(rep);
    return rc;
}

/*
 * The access log: one line per request, Common Log Format or JSON lines.
 *
 * Each reactor formats into its own shard under the shard's mutex, which only the writer
 * thread ever contends for, for the time of a pointer swap: the reactor never waits for I/O.
 * The writer wakes every ACCESS_LOG_PERIOD_MS, swaps each shard's buffer with its own empty
 * one and writes it with plain write(2). A shard that reaches ACCESS_LOG_SHARD_CAP (the disk
 * or pipe is not keeping up) drops further lines and counts them instead of growing.
 *
 * Nothing in a line needs escaping: the parser admits no quote, backslash, space or control
 * byte in a method (a token) or a target (RFC 3986 characters), and the peer is an address.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http/access_log.h"
#include "http/bytes.h"

#define ACCESS_LOG_PERIOD_MS 50
#define ACCESS_LOG_SHARD_CAP (4u << 20)

struct shard {
    pthread_mutex_t mu;
    struct roost_bytes buf;
    time_t stamp_sec; /* the second stamp was formatted for (reactor-only) */
    char stamp[40];
    _Atomic uint64_t dropped;
    char pad[64];
};

struct roost_access_log {
    int fd;
    bool own_fd;
    enum roost_http_access_log_format format;
    unsigned nshards;
    struct shard *shards;
    pthread_t writer;
    pthread_mutex_t mu; /* guards stop, for the writer's timed wait */
    pthread_cond_t cond;
    bool stop;
};

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere to report it: the log is the report */
        p += w;
        n -= (size_t)w;
    }
}

/* Takes every shard's lines and writes them. */
static void drain(struct roost_access_log *l, struct roost_bytes *spare)
{
    for (unsigned i = 0; i < l->nshards; i++) {
        struct shard *s = &l->shards[i];
        pthread_mutex_lock(&s->mu);
        struct roost_bytes full = s->buf;
        s->buf = *spare;
        pthread_mutex_unlock(&s->mu);
        write_all(l->fd, full.p, full.len);
        full.len = 0;
        *spare = full;
    }
}

static void *writer(void *arg)
{
    struct roost_access_log *l = arg;
    struct roost_bytes spare = {0};
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += ACCESS_LOG_PERIOD_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&l->cond, &l->mu, &until);
        pthread_mutex_unlock(&l->mu);
        drain(l, &spare);
        pthread_mutex_lock(&l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    drain(l, &spare);
    http_bytes_free(&spare);
    return NULL;
}

int http_access_log_open(const char *path, enum roost_http_access_log_format format,
                         unsigned nshards, struct roost_access_log **out)
{
    struct roost_access_log *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->format = format;
    l->nshards = nshards;
    l->shards = calloc(nshards, sizeof(*l->shards));
    if (!l->shards) {
        free(l);
        return -ENOMEM;
    }
    if (!strcmp(path, "-")) {
        l->fd = STDOUT_FILENO;
    } else {
        l->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (l->fd < 0) {
            int err = -errno;
            free(l->shards);
            free(l);
            return err;
        }
        l->own_fd = true;
    }
    for (unsigned i = 0; i < nshards; i++)
        pthread_mutex_init(&l->shards[i].mu, NULL);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cond, NULL);
    int rc = pthread_create(&l->writer, NULL, writer, l);
    if (rc != 0) {
        l->writer = 0;
        http_access_log_close(l);
        return -rc;
    }
    *out = l;
    return 0;
}

/* The time stamp of the current second, formatted once per second per shard. */
static const char *stamp(struct shard *s, enum roost_http_access_log_format format)
{
    time_t now = time(NULL);
    if (now != s->stamp_sec || !s->stamp[0]) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(s->stamp, sizeof(s->stamp),
                 format == ROOST_HTTP_ACCESS_LOG_JSON ? "%Y-%m-%dT%H:%M:%SZ"
                                                      : "%d/%b/%Y:%H:%M:%S +0000",
                 &tm);
        s->stamp_sec = now;
    }
    return s->stamp;
}

void http_access_log_add(struct roost_access_log *l, unsigned shard,
                         const struct roost_access_entry *e)
{
    struct shard *s = &l->shards[shard];
    char line[512];
    const char *ts = stamp(s, l->format);
    /* a target longer than fits is cut; the line stays well-formed */
    int tn = e->target.n > 256 ? 256 : (int)e->target.n;
    int n;
    if (l->format == ROOST_HTTP_ACCESS_LOG_JSON) {
        if (e->method.p)
            n = snprintf(
                line, sizeof(line),
                "{\"time\":\"%s\",\"remote\":\"%s\",\"method\":\"%.*s\",\"target\":\"%.*s\","
                "\"version\":\"HTTP/1.%d\",\"status\":%d,\"bytes\":%" PRIu64
                ",\"duration_us\":%" PRIu64 "}\n",
                ts, e->peer, (int)e->method.n, e->method.p, tn, e->target.p, e->version_minor,
                e->status, e->bytes, e->duration_us);
        else
            n = snprintf(line, sizeof(line),
                         "{\"time\":\"%s\",\"remote\":\"%s\",\"method\":null,\"target\":null,"
                         "\"version\":null,\"status\":%d,\"bytes\":0,\"duration_us\":0}\n",
                         ts, e->peer, e->status);
    } else {
        /* host ident authuser [date] "request-line" status bytes */
        if (e->method.p)
            n = snprintf(line, sizeof(line), "%s - - [%s] \"%.*s %.*s HTTP/1.%d\" %d %" PRIu64 "\n",
                         e->peer, ts, (int)e->method.n, e->method.p, tn, e->target.p,
                         e->version_minor, e->status, e->bytes);
        else
            n = snprintf(line, sizeof(line), "%s - - [%s] \"-\" %d 0\n", e->peer, ts, e->status);
    }
    size_t len = n < (int)sizeof(line) ? (size_t)n : sizeof(line) - 1;
    pthread_mutex_lock(&s->mu);
    int rc =
        s->buf.len + len > ACCESS_LOG_SHARD_CAP ? -ENOSPC : http_bytes_append(&s->buf, line, len);
    pthread_mutex_unlock(&s->mu);
    if (rc < 0)
        atomic_store_explicit(&s->dropped,
                              atomic_load_explicit(&s->dropped, memory_order_relaxed) + 1,
                              memory_order_relaxed);
}

uint64_t http_access_log_dropped(const struct roost_access_log *l)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < l->nshards; i++)
        n += atomic_load_explicit(&l->shards[i].dropped, memory_order_relaxed);
    return n;
}

void http_access_log_close(struct roost_access_log *l)
{
    if (!l)
        return;
    if (l->writer) {
        pthread_mutex_lock(&l->mu);
        l->stop = true;
        pthread_cond_signal(&l->cond);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->writer, NULL);
    }
    for (unsigned i = 0; i < l->nshards; i++) {
        http_bytes_free(&l->shards[i].buf);
        pthread_mutex_destroy(&l->shards[i].mu);
    }
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cond);
    if (l->own_fd)
        close(l->fd);
    free(l->shards);
    free(l);
}

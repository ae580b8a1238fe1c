/*
 * Host name resolution: getaddrinfo offloaded to the worker pool, because it blocks (files,
 * DNS over the network) and a reactor thread must never block. The task that asked comes
 * home to its reactor when the lookup is done, like any other offload.
 *
 * The cache is thread-local: a reactor is exactly one thread, so this is the per-reactor
 * cache without a field in the reactor (the core knows nothing of names), and no lock is
 * needed. Entries are fixed-size, so a cache hit allocates nothing and a thread's exit
 * leaves nothing to free. getaddrinfo reports no TTL; entries live for the resolve TTL
 * (roost_resolve_set_ttl, read at each use), and a failed lookup is not cached.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <roost/net.h>
#include <roost/pool.h>
#include <roost/task.h>

#include "net/net.h"
#include "net/resolve.h"
#include "pool/pool.h"

_Atomic unsigned long net_resolve_lookups;
_Atomic bool net_resolve_last_on_pool;

static _Atomic uint64_t resolve_ttl_ms = NET_RESOLVE_DEFAULT_TTL_MS;

void roost_resolve_set_ttl(uint64_t ms)
{
    atomic_store_explicit(&resolve_ttl_ms, ms, memory_order_relaxed);
}

struct cache_entry {
    uint64_t stored_ns; /* 0: empty */
    char host[NET_RESOLVE_MAX_NAME + 1];
    struct net_addrs addrs; /* ports 0 */
};

struct resolve_cache {
    struct cache_entry e[NET_RESOLVE_CACHE_ENTRIES];
};

/* Not inlined: a task in run-on=pool mode may move between threads across an await, and
 * must fetch the cache of the thread it is on now, never a stale address. */
__attribute__((noinline)) static struct resolve_cache *cache_of_thread(void)
{
    static _Thread_local struct resolve_cache cache;
    return &cache;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void set_port(struct net_addrs *a, uint16_t port)
{
    for (unsigned i = 0; i < a->n; i++) {
        if (a->a[i].sa.sa_family == AF_INET)
            a->a[i].in.sin_port = htons(port);
        else
            a->a[i].in6.sin6_port = htons(port);
    }
}

static bool cache_get(const char *host, struct net_addrs *out)
{
    struct resolve_cache *c = cache_of_thread();
    uint64_t ttl_ns = atomic_load_explicit(&resolve_ttl_ms, memory_order_relaxed) * 1000000u;
    uint64_t now = now_ns();
    for (unsigned i = 0; i < NET_RESOLVE_CACHE_ENTRIES; i++) {
        struct cache_entry *e = &c->e[i];
        if (e->stored_ns && now - e->stored_ns < ttl_ns && strcmp(e->host, host) == 0) {
            *out = e->addrs;
            return true;
        }
    }
    return false;
}

static void cache_put(const char *host, const struct net_addrs *a)
{
    if (atomic_load_explicit(&resolve_ttl_ms, memory_order_relaxed) == 0)
        return;
    struct resolve_cache *c = cache_of_thread();
    struct cache_entry *victim = &c->e[0];
    for (unsigned i = 0; i < NET_RESOLVE_CACHE_ENTRIES; i++) {
        struct cache_entry *e = &c->e[i];
        if (strcmp(e->host, host) == 0) {
            victim = e;
            break;
        }
        if (e->stored_ns < victim->stored_ns) /* the oldest goes */
            victim = e;
    }
    snprintf(victim->host, sizeof(victim->host), "%s", host);
    victim->addrs = *a;
    victim->stored_ns = now_ns();
}

/* One getaddrinfo call, run on a pool worker; the task waits at home. */
struct lookup {
    const char *host;
    struct net_addrs addrs;
};

static int lookup_run(void *arg)
{
    struct lookup *l = arg;
    atomic_fetch_add_explicit(&net_resolve_lookups, 1, memory_order_relaxed);
    atomic_store_explicit(&net_resolve_last_on_pool, roost__pool_of_thread() != NULL,
                          memory_order_relaxed);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_protocol = IPPROTO_TCP};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(l->host, NULL, &hints, &res);
    switch (rc) {
    case 0:
        break;
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
    case EAI_FAMILY:
    case EAI_SERVICE:
        return -ENOENT;
    case EAI_AGAIN:
        return -EAGAIN;
    case EAI_MEMORY:
        return -ENOMEM;
    case EAI_SYSTEM:
        return errno ? -errno : -EIO;
    default:
        return -EINVAL;
    }
    l->addrs.n = 0;
    for (struct addrinfo *ai = res; ai && l->addrs.n < NET_RESOLVE_MAX_ADDRS; ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            ai->ai_addrlen > sizeof(union net_sockaddr))
            continue;
        memcpy(&l->addrs.a[l->addrs.n], ai->ai_addr, ai->ai_addrlen);
        l->addrs.len[l->addrs.n++] = ai->ai_addrlen;
    }
    freeaddrinfo(res);
    return l->addrs.n ? 0 : -ENOENT;
}

/* "[v6]" as accepted in URLs: the literal inside the brackets. */
static const char *unbracket(const char *host, char *buf, size_t cap)
{
    size_t n = strlen(host);
    if (n < 2 || host[0] != '[' || host[n - 1] != ']' || n - 2 >= cap)
        return host;
    memcpy(buf, host + 1, n - 2);
    buf[n - 2] = 0;
    return buf;
}

int net_resolve(const char *host, uint16_t port, struct net_addrs *out)
{
    if (!roost_task_current())
        return -EPERM;
    if (!host || !*host || strlen(host) > NET_RESOLVE_MAX_NAME)
        return -EINVAL;
    char bare[64];
    const char *h = unbracket(host, bare, sizeof(bare));
    struct sockaddr_storage ss;
    socklen_t len;
    if (net_parse_addr(h, port, &ss, &len) == 0) {
        out->n = 1;
        out->len[0] = len;
        memcpy(&out->a[0], &ss, len);
        return 0;
    }
    if (!cache_get(h, out)) {
        struct lookup l = {.host = h};
        int rc = roost_offload(lookup_run, &l);
        if (rc < 0)
            return rc;
        cache_put(h, &l.addrs); /* the cache of the thread we came home to */
        *out = l.addrs;
    }
    set_port(out, port);
    return 0;
}

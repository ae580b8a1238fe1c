/*
 * Internal: host name resolution for roost_connect. Literals are parsed in place; names go
 * through getaddrinfo on the worker pool (the calling task comes home afterwards) and are
 * cached per thread (so per reactor: a reactor is one thread) for the resolve TTL.
 */
#ifndef ROOST_NET_RESOLVE_H
#define ROOST_NET_RESOLVE_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* Addresses kept per name: enough for a dual-stack host with a few of each family. */
#define NET_RESOLVE_MAX_ADDRS 4

/* Names cached per thread; the oldest entry is replaced when all are taken. */
#define NET_RESOLVE_CACHE_ENTRIES 8

/* Longest name cached or looked up (a DNS name is at most 253 characters). */
#define NET_RESOLVE_MAX_NAME 255

/* The default TTL of a cached lookup (getaddrinfo reports none). */
#define NET_RESOLVE_DEFAULT_TTL_MS 30000u

union net_sockaddr {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
};

/* A resolved name: addresses in getaddrinfo's order (RFC 6724 preference), port filled. */
struct net_addrs {
    unsigned n;
    socklen_t len[NET_RESOLVE_MAX_ADDRS];
    union net_sockaddr a[NET_RESOLVE_MAX_ADDRS];
};

/*
 * From a task: host (an IPv4/IPv6 literal or a name; "[::1]" brackets allowed) and port as
 * addresses to try in order. A literal never leaves the calling thread; a cached name
 * neither; any other name is looked up on the pool. Returns 0, -EINVAL for an empty or
 * over-long host, -ENOENT when the name does not exist or has no TCP address, -EAGAIN for a
 * temporary resolver failure, -ECANCELED, -EPERM outside a task, or another -errno.
 */
int net_resolve(const char *host, uint16_t port, struct net_addrs *out);

/* Lookups that went to getaddrinfo, and whether the last one ran on a pool worker (tests). */
extern _Atomic unsigned long net_resolve_lookups;
extern _Atomic bool net_resolve_last_on_pool;

#endif

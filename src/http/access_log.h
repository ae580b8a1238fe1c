/* Internal: the HTTP access log. Reactors append lines to their own shard; a background
 * thread takes each shard's lines every ACCESS_LOG_PERIOD_MS and writes them, so a slow disk
 * never stalls a reactor (past ACCESS_LOG_SHARD_CAP a shard drops lines and counts them). */
#ifndef ROOST_HTTP_ACCESS_LOG_H
#define ROOST_HTTP_ACCESS_LOG_H

#include <stdint.h>

#include <roost/http.h>

struct roost_access_log;

/* One request as the log sees it; method NULL for a request rejected before its head
 * parsed. */
struct roost_access_entry {
    const char *peer; /* the client's address, "-" if unknown */
    struct roost_str method, target;
    int version_minor;
    int status;
    uint64_t bytes;       /* body bytes sent */
    uint64_t duration_us; /* head parsed to response queued */
};

/* Opens path ("-": standard output) for appending and starts the writer thread; nshards is
 * the number of reactors. 0 and *out, or -errno. */
int http_access_log_open(const char *path, enum roost_http_access_log_format format,
                         unsigned nshards, struct roost_access_log **out);

/* Appends one line to shard (the calling reactor's id). Never blocks on I/O. */
void http_access_log_add(struct roost_access_log *l, unsigned shard,
                         const struct roost_access_entry *e);

/* Lines dropped because a shard was full (the writer could not keep up). */
uint64_t http_access_log_dropped(const struct roost_access_log *l);

/* Writes what is buffered, stops the writer and closes the file. After every reactor has
 * stopped adding. */
void http_access_log_close(struct roost_access_log *l);

#endif

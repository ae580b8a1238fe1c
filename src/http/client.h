/*
 * Internal: the client engine's pieces that `roost load` shares with roost_http_client —
 * URL parsing and the response reader, which frames responses on a byte stream with the
 * server's parser (status line and fields, chunked decoder).
 */
#ifndef ROOST_HTTP_CLIENT_INTERNAL_H
#define ROOST_HTTP_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/parser.h"

/* An http URL, split. host is NUL-terminated without brackets; authority is as written. */
struct http_url {
    char host[256];
    char authority[264]; /* host[:port] as in the URL: the Host header */
    uint16_t port;
    const char *target; /* path and query, into the URL string ("/" when it has none) */
};

/* Splits "http://host[:port][/path][?query]". 0, -EINVAL, or -EPROTONOSUPPORT (https...). */
int http_url_parse(const char *url, struct http_url *u);

enum http_rd_state { HTTP_RD_HEAD, HTTP_RD_LENGTH, HTTP_RD_CHUNKED, HTTP_RD_CLOSE, HTTP_RD_DONE };

/* What http_reader_feed found. */
enum http_rd_event {
    HTTP_RD_MORE,     /* everything given was used (or kept): feed more bytes */
    HTTP_RD_GOT_HEAD, /* rd->head holds the final head; its spans point into the buffer fed */
    HTTP_RD_GOT_BODY, /* *span is the next piece of body */
    HTTP_RD_GOT_END,  /* the response is complete */
};

/* One response being read: no pointers kept across feeds, no allocation. */
struct http_reader {
    const struct roost_http_limits *lim;
    bool head_request; /* the request was HEAD: no body whatever the head says */
    enum http_rd_state state;
    struct roost_http_response_head head;
    uint64_t left; /* HTTP_RD_LENGTH: body bytes to come */
    uint64_t body_bytes;
    bool until_close; /* the body ends with the connection */
    struct roost_http_chunked ch;
    unsigned interim; /* 1xx responses skipped */
};

void http_reader_start(struct http_reader *rd, const struct roost_http_limits *lim,
                       bool head_request);

/*
 * Feeds buf[0..len): sets *used to the bytes consumed (drop them before the next feed) and
 * returns an event (>= 0) or -EPROTO (malformed), -EMSGSIZE (head over its limit or a
 * Content-Length over max_body_bytes). On HTTP_RD_GOT_HEAD nothing of the head is consumed
 * yet: *used is its length, to be dropped once the caller has read the head.
 */
int http_reader_feed(struct http_reader *rd, const char *buf, size_t len, size_t *used,
                     struct roost_http_str *span);

/* The peer closed: 0 if that ends the response (close-delimited), else -ECONNRESET. */
int http_reader_eof(struct http_reader *rd);

/* Whether the connection may carry another request after this complete response. */
bool http_reader_reusable(const struct http_reader *rd);

#endif

/* Strict, incremental, zero-copy HTTP/1.1 request parser (RFC 9112).
 *
 * Internal to roost: the HTTP server calls it on the bytes a connection has read. Nothing here
 * allocates or keeps pointers across calls: every roost_http_str points into the caller's buffer
 * and is valid only as long as those bytes stay where they are. What is accepted and what is
 * rejected with which status is listed, by RFC section, in docs/http-parser.md.
 */
#ifndef ROOST_HTTP_PARSER_H
#define ROOST_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Capacity of roost_http_request.headers; limits.max_headers is clamped to it. */
#define ROOST_HTTP_MAX_HEADERS 64

/* A method longer than this is answered 501 as soon as that many token bytes arrived. */
#define ROOST_HTTP_MAX_METHOD 32

#define ROOST_HTTP_DEFAULT_MAX_HEAD_BYTES 8192
#define ROOST_HTTP_DEFAULT_MAX_BODY_BYTES (1024 * 1024)
#define ROOST_HTTP_DEFAULT_MAX_HEADERS 64

/* Per-server limits, shared read-only by every connection. */
struct roost_http_limits {
    size_t max_head_bytes; /* request line + fields + CRLF CRLF; above -> 431 (414 in target) */
    size_t max_body_bytes; /* Content-Length or decoded chunked body; above -> 413 */
    unsigned max_headers;  /* field lines in the head (and in a chunked trailer); above -> 431 */
};

/* Initializer for the defaults above; passing a NULL limits pointer means the same. */
#define ROOST_HTTP_LIMITS_DEFAULT                                                                  \
    {                                                                                              \
        ROOST_HTTP_DEFAULT_MAX_HEAD_BYTES, ROOST_HTTP_DEFAULT_MAX_BODY_BYTES,                      \
            ROOST_HTTP_DEFAULT_MAX_HEADERS                                                         \
    }

/* A span of the caller's buffer (not NUL-terminated). p is NULL when the item is absent. */
struct roost_http_str {
    const char *p;
    size_t n;
};

struct roost_http_header {
    struct roost_http_str name, value; /* value has surrounding OWS trimmed */
};

/* Request-target forms, RFC 9112 §3.2. */
enum roost_http_target_form {
    ROOST_HTTP_TARGET_ORIGIN,    /* "/path?query" */
    ROOST_HTTP_TARGET_ABSOLUTE,  /* "scheme://authority/path?query" */
    ROOST_HTTP_TARGET_AUTHORITY, /* "host:port", CONNECT only */
    ROOST_HTTP_TARGET_ASTERISK,  /* "*", OPTIONS only */
};

/* A parsed request head. Short-lived: filled by http_parse_head, its spans point into the
 * buffer that was parsed. Fields are meaningful only after a positive return. */
struct roost_http_request {
    struct roost_http_str method; /* a token, case-sensitive (RFC 9110 §9.1) */
    struct roost_http_str target; /* the request-target as sent */
    /* Origin- and absolute-form: path without the query ("/" as a static string when an
     * absolute-form target has an empty path); query after the '?', p == NULL when there is no
     * '?'. Asterisk-form: path is "*". Authority-form: both absent. */
    struct roost_http_str path, query;
    enum roost_http_target_form target_form;
    int version_minor; /* 0 or 1: HTTP/1.0 or HTTP/1.1 (HTTP/1.x, x > 1, is read as 1.1) */
    struct roost_http_header headers[ROOST_HTTP_MAX_HEADERS]; /* in arrival order */
    unsigned header_count;
    /* The Host field value, or the authority of an absolute-form target (RFC 9112 §3.2.2);
     * p == NULL when an HTTP/1.0 request has neither. */
    struct roost_http_str host;
    bool keep_alive;      /* RFC 9112 §9.3: 1.1 unless "close"; 1.0 only with "keep-alive" */
    bool expect_continue; /* Expect: 100-continue on an HTTP/1.1 request */
    bool chunked;         /* Transfer-Encoding: chunked; decode with roost_http_chunked_* */
    bool has_content_length;
    uint64_t content_length; /* 0 unless has_content_length */
    size_t head_len;         /* bytes from buf[0] to the end of the blank line, leading CRLFs
                                included: the body (or the next request) starts at buf+head_len */
};

/* Parse a request head from buf[0..len). Stateless: after a 0 return the caller appends bytes
 * and calls again with the whole buffer. Returns head_len (> 0) when the head is complete and
 * valid, filling *req (whose spans point into buf, which the caller keeps owning); 0 when more
 * bytes are needed; or -STATUS, the status to answer before closing: -400, -413, -414, -417,
 * -431, -501 or -505. An error is reported as soon as the bytes seen prove it, and a prefix of
 * a request never gets a different verdict than the whole. lim may be NULL for the defaults. */
int http_parse_head(const char *buf, size_t len, const struct roost_http_limits *lim,
                    struct roost_http_request *req);

/* http_parse_head without its fast path: every head parsed rule by rule, each rule checked at
 * the first byte that can decide it. The same results; the reference the fast path is tested
 * against (tests and fuzz targets), not for the server. */
int http_parse_head_general(const char *buf, size_t len, const struct roost_http_limits *lim,
                            struct roost_http_request *req);

/* What the field lines of a head said so far (parser-internal; kept across calls in
 * struct http_head_progress). */
struct http_fields_seen {
    bool host_seen, te_seen, te_chunked, te_unknown, conn_close, conn_keep_alive, expect;
};

/* Where the parse of an incomplete head stopped, kept by the caller between calls of
 * http_parse_head_more on the same head (picohttpparser's last_len idea, per line). Zero it
 * before the first call; the parser resets it (all but scanned and host) once it returns non-0. */
struct http_head_progress {
    /* First what every head touches (the server keeps this struct on a hot cache line): */
    const char *base; /* the buf of the last call: the spans in the request point into it */
    size_t seen;      /* bytes of the head looked at so far */
    uint64_t scanned; /* bytes examined, over every call and head: what tests bound */
    /* The last Host value found valid on this connection (kept across heads): a client
     * sends the same one every time, and a byte compare is cheaper than the URI grammar. */
    unsigned char host_len; /* 0: none */
    char host[63];
    /* then what a head arriving in pieces needs: */
    size_t lead; /* empty lines skipped before the request-line */
    size_t line; /* the first field line not parsed yet; 0 while in the request-line */
    struct http_fields_seen fields;
    struct roost_http_str authority;
};

/* http_parse_head for a head that arrives in pieces, without re-scanning what it has seen:
 * buf[0..len) must start with the bytes given before (they may have moved: the spans already
 * filled in *req are moved along), and req must be the same object each call. A complete
 * line is parsed once, and new bytes are looked at once until one of them is a control byte
 * (a line end, or an error), so a head trickling in costs O(its length). Returns as
 * http_parse_head, with one difference: an error inside a line is reported once that line
 * ends (or any control byte arrives, or the head reaches max_head_bytes), never differently. */
int http_parse_head_more(const char *buf, size_t len, const struct roost_http_limits *lim,
                         struct roost_http_request *req, struct http_head_progress *hp);

/*
 * A pipelined head that repeats the one before it, answered without parsing it again. The
 * last_len bytes just before buf must be the head last parsed into req, still in place, with
 * req untouched since (and hp at rest: that parse returned). When buf[0..len) begins with
 * those same bytes, req's spans move onto them and last_len is returned: what a parse would
 * return, since a head's verdict depends on its bytes and the limits alone. Otherwise 0, and
 * nothing changed: parse with http_parse_head_more. Costs one compare of last_len bytes.
 */
int http_parse_head_repeat(const char *buf, size_t len, size_t last_len,
                           struct roost_http_request *req, struct http_head_progress *hp);

/* Chunked body decoder state (RFC 9112 §7.1): one per request body, owned by the connection,
 * no pointers into any buffer. Initialize with http_chunked_init before each body. */
struct roost_http_chunked {
    uint64_t remaining; /* chunk-data bytes still to come in the current chunk */
    uint64_t size;      /* chunk-size being read */
    uint64_t total;     /* decoded body bytes so far */
    uint64_t max_body;
    size_t max_meta;  /* budget for extension bytes and for trailer bytes (max_head_bytes) */
    size_t ext_bytes; /* chunk-extension bytes so far, whole body */
    size_t trailer_bytes;
    unsigned trailer_count, max_trailers;
    unsigned char state, digits;
    int error; /* sticky -STATUS once failed */
};

/* Prepare c to decode one chunked body under lim (NULL for the defaults). Cannot fail. */
void http_chunked_init(struct roost_http_chunked *c, const struct roost_http_limits *lim);

/* Feed buf[0..len) to the decoder. Returns 0, or -STATUS on a framing error (-400 malformed,
 * including a chunk size over 16 hex digits and chunk extensions over max_head_bytes in total;
 * -413 body over its limit; -431 trailer section over max_head_bytes or max_headers); errors are
 * sticky. On 0, *consumed bytes of buf were used (the caller drops them and feeds the rest later),
 * *data is the next span of decoded body data (points into buf, may be empty; at most one span per
 * call, so loop while *consumed > 0), and *done is true once the final CRLF has been consumed:
 * bytes after it belong to the next request and are not consumed. Chunk extensions are
 * syntax-checked and ignored; trailer fields are checked like header fields and discarded. */
int http_chunked_feed(struct roost_http_chunked *c, const char *buf, size_t len, size_t *consumed,
                      struct roost_http_str *data, bool *done);

/* Is s[0..n) a token (RFC 9110 §5.6.2), as a field name or a method must be? (n > 0) */
bool http_token_valid(const char *s, size_t n);

/* Is s[0..n) a field value (RFC 9110 §5.5: VCHAR, obs-text, SP, HTAB; no CR, LF, NUL or other
 * control)? */
bool http_field_value_valid(const char *s, size_t n);

/* ---- responses (for the HTTP client) ---- */

/* A parsed response head: spans point into the parsed buffer, as for requests. */
struct roost_http_response_head {
    int status;                   /* 100..999 */
    int version_minor;            /* 0 or 1 (HTTP/1.x, x > 1, is read as 1.1) */
    struct roost_http_str reason; /* may be empty */
    struct roost_http_header headers[ROOST_HTTP_MAX_HEADERS];
    unsigned header_count;
    bool keep_alive; /* RFC 9112 §9.3, as for requests */
    bool chunked;    /* Transfer-Encoding: chunked; decode with roost_http_chunked_* */
    bool has_content_length;
    uint64_t content_length;
    size_t head_len; /* bytes from buf[0] to the end of the blank line */
};

/* Parse a response head (RFC 9112 §4 status-line, then field lines as for requests, just as
 * strictly) from buf[0..len). Returns head_len (> 0) when complete and valid, 0 when more bytes
 * are needed, or -STATUS: -400 malformed (status line, fields, CL with TE, duplicate CL,
 * Transfer-Encoding whose last coding is not chunked or in an HTTP/1.0 response), -413 a
 * Content-Length over lim->max_body_bytes, -431 a head over max_head_bytes or max_headers, -501
 * a transfer coding other than chunked, -505 an HTTP major version other than 1. Which
 * responses have a body (HEAD, 1xx, 204, 304) is the caller's to decide. */
int http_parse_response_head(const char *buf, size_t len, const struct roost_http_limits *lim,
                             struct roost_http_response_head *res);

#endif /* ROOST_HTTP_PARSER_H */

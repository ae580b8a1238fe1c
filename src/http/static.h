/* Internal: the pure decisions of the static file handler (static.c), tested on their own. */
#ifndef ROOST_HTTP_STATIC_INTERNAL_H
#define ROOST_HTTP_STATIC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <roost/http.h>

/* The Content-Type of a file name, by its extension (case-insensitive); NUL-terminated,
 * static. Unknown: application/octet-stream. */
const char *http_static_content_type(const char *name, size_t n);

/* The strong ETag of a file, quotes included, into buf (>= 64 bytes). Returns its length. */
size_t http_static_etag(char *buf, uint64_t size, int64_t mtime_ns, uint64_t ino);

/* An HTTP-date (IMF-fixdate, RFC 850 or asctime) as seconds since the epoch; false if it is
 * none of them. */
bool http_static_parse_date(struct roost_str s, time_t *out);

/* IMF-fixdate of t into buf (>= 32 bytes). Returns its length. */
size_t http_static_format_date(char *buf, time_t t);

/*
 * RFC 9110 §13.2.2 steps 3 and 4 for GET/HEAD: true when the client's copy is current and
 * the answer is 304. inm / ims: the If-None-Match / If-Modified-Since values (p NULL when
 * absent). If-None-Match, when present, decides alone (weak comparison, "*" matches);
 * If-Modified-Since is looked at only without it, and an invalid date is ignored.
 */
bool http_static_not_modified(struct roost_str inm, struct roost_str ims, const char *etag,
                              time_t mtime);

/* If-Range (RFC 9110 §13.1.5): true when the Range may be honoured — no If-Range, an
 * entity-tag strongly equal to etag, or a date equal to mtime. */
bool http_static_if_range(struct roost_str if_range, const char *etag, time_t mtime);

enum http_range_result {
    HTTP_RANGE_WHOLE = 200,         /* no usable Range: the whole file */
    HTTP_RANGE_PARTIAL = 206,       /* one satisfiable range: *off, *len */
    HTTP_RANGE_UNSATISFIABLE = 416, /* a single range outside the file */
};

/*
 * A Range value against a file of size bytes (RFC 9110 §14.1.2): "bytes=a-b", "a-", "-n".
 * A value that is not one bytes range (another unit, bad syntax, several ranges: §14.2
 * lets a server ignore Range) is WHOLE.
 */
enum http_range_result http_static_range(struct roost_str range, uint64_t size, uint64_t *off,
                                         uint64_t *len);

enum http_encoding { HTTP_ENC_IDENTITY, HTTP_ENC_BR, HTTP_ENC_GZIP };
#define HTTP_ENC_HAVE(e) (1u << (e))

/*
 * The content coding to send among have (HTTP_ENC_HAVE bits of the siblings present) by
 * Accept-Encoding ae (p NULL: absent, identity): the highest q > 0, br before gzip on a tie;
 * a coding not listed takes the q of "*", or is refused; "x-gzip" is gzip. Identity when
 * nothing else is acceptable.
 */
enum http_encoding http_static_pick_encoding(struct roost_str ae, unsigned have);

#endif

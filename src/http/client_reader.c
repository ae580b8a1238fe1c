/*
 * Response framing (RFC 9112 §6.3), on the server's parser: a final response's head, then a
 * body delimited by Content-Length, chunked coding or the connection's close. No body for a
 * HEAD request, 1xx, 204 or 304. Interim 1xx responses are skipped; 101 is an error because
 * the client never asks to switch protocols.
 */
#include <errno.h>
#include <string.h>

#include "http/client.h"

void http_reader_start(struct http_reader *rd, const struct roost_http_limits *lim,
                       bool head_request)
{
    rd->lim = lim;
    rd->head_request = head_request;
    rd->state = HTTP_RD_HEAD;
    rd->left = 0;
    rd->body_bytes = 0;
    rd->interim = 0;
    rd->until_close = false;
}

static int parse_error(int status)
{
    return status == -413 || status == -431 ? -EMSGSIZE : -EPROTO;
}

int http_reader_feed(struct http_reader *rd, const char *buf, size_t len, size_t *used,
                     struct roost_http_str *span)
{
    *used = 0;
    switch (rd->state) {
    case HTTP_RD_HEAD: {
        int n = http_parse_response_head(buf, len, rd->lim, &rd->head);
        if (n < 0)
            return parse_error(n);
        if (n == 0)
            return HTTP_RD_MORE;
        int s = rd->head.status;
        if (s == 101)
            return -EPROTO;
        *used = (size_t)n;
        if (s < 200) {
            rd->interim++;
            return HTTP_RD_MORE; /* consumed; the final response follows */
        }
        if (rd->head_request || s == 204 || s == 304) {
            rd->state = HTTP_RD_DONE;
        } else if (rd->head.chunked) {
            http_chunked_init(&rd->ch, rd->lim);
            rd->state = HTTP_RD_CHUNKED;
        } else if (rd->head.has_content_length) {
            rd->left = rd->head.content_length;
            rd->state = rd->left ? HTTP_RD_LENGTH : HTTP_RD_DONE;
        } else {
            rd->state = HTTP_RD_CLOSE;
            rd->until_close = true;
        }
        return HTTP_RD_GOT_HEAD;
    }
    case HTTP_RD_LENGTH: {
        size_t take = len < rd->left ? len : (size_t)rd->left;
        *span = (struct roost_http_str){buf, take};
        *used = take;
        rd->left -= take;
        rd->body_bytes += take;
        if (rd->left == 0)
            rd->state = HTTP_RD_DONE;
        return take ? HTTP_RD_GOT_BODY : HTTP_RD_MORE;
    }
    case HTTP_RD_CHUNKED: {
        bool done = false;
        int rc = http_chunked_feed(&rd->ch, buf, len, used, span, &done);
        if (rc < 0)
            return parse_error(rc);
        if (done)
            rd->state = HTTP_RD_DONE;
        if (span->n) {
            rd->body_bytes += span->n;
            return HTTP_RD_GOT_BODY;
        }
        return done ? HTTP_RD_GOT_END : HTTP_RD_MORE;
    }
    case HTTP_RD_CLOSE:
        *span = (struct roost_http_str){buf, len};
        *used = len;
        rd->body_bytes += len;
        if (rd->body_bytes > rd->lim->max_body_bytes)
            return -EMSGSIZE;
        return len ? HTTP_RD_GOT_BODY : HTTP_RD_MORE;
    case HTTP_RD_DONE:
        return HTTP_RD_GOT_END;
    }
    return -EPROTO;
}

int http_reader_eof(struct http_reader *rd)
{
    if (rd->state == HTTP_RD_CLOSE) {
        rd->state = HTTP_RD_DONE;
        return 0;
    }
    return rd->state == HTTP_RD_DONE ? 0 : -ECONNRESET;
}

bool http_reader_reusable(const struct http_reader *rd)
{
    return rd->state == HTTP_RD_DONE && rd->head.keep_alive && !rd->until_close;
}

int http_url_parse(const char *url, struct http_url *u)
{
    static const char http[] = "http://";
    if (!url)
        return -EINVAL;
    if (strncmp(url, http, sizeof(http) - 1) != 0)
        return strstr(url, "://") ? -EPROTONOSUPPORT : -EINVAL;
    const char *a = url + sizeof(http) - 1;
    const char *e = a + strcspn(a, "/?#");
    if (*e == '#')
        return -EINVAL;
    size_t an = (size_t)(e - a);
    if (an == 0 || an >= sizeof(u->authority) || memchr(a, '@', an))
        return -EINVAL; /* no userinfo (RFC 9110 §4.2.4) */
    memcpy(u->authority, a, an);
    u->authority[an] = 0;
    const char *h = a, *he, *colon;
    if (*a == '[') {
        const char *rb = memchr(a, ']', an);
        if (!rb)
            return -EINVAL;
        h = a + 1;
        he = rb;
        colon = rb + 1 < e ? rb + 1 : NULL;
        if (colon && *colon != ':')
            return -EINVAL;
    } else {
        colon = memchr(a, ':', an);
        he = colon ? colon : e;
    }
    if (he == h || (size_t)(he - h) >= sizeof(u->host))
        return -EINVAL;
    memcpy(u->host, h, (size_t)(he - h));
    u->host[he - h] = 0;
    u->port = 80;
    if (colon) {
        unsigned long port = 0;
        const char *p = colon + 1;
        if (p == e || e - p > 5)
            return -EINVAL;
        for (; p < e; p++) {
            if (*p < '0' || *p > '9')
                return -EINVAL;
            port = port * 10 + (unsigned long)(*p - '0');
        }
        if (port == 0 || port > 65535)
            return -EINVAL;
        u->port = (uint16_t)port;
    }
    u->target = *e ? e : "/";
    if (*e == '?') /* "http://h?q": the path is empty, which means "/" — keep it simple */
        return -EINVAL;
    for (const char *p = u->target; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '#')
            return -EINVAL; /* no spaces, controls or fragments in a request-target */
    return 0;
}
